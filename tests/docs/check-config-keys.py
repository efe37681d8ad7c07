#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every key titad's config parser accepts is documented, in its section,
in titad.conf(5) and in the annotated example config; and neither documents
a key the parser does not accept.

  check-config-keys.py daemon/config.c man/titad.conf.5.scd systemd/titad.conf.example

The keys come from config.c itself: each section's handler, key_SECTION(),
compares the key name with strcmp(k, "NAME"). If that shape changes, this
test fails rather than pass on an empty list."""
import re
import sys

config_c, man_page, example = sys.argv[1:4]

# section name in config.c -> section as written in the files
SECTIONS = {"daemon": "daemon", "controller": "controller", "peers": "peers",
            "port": "port", "job": "job"}


def parser_keys(path):
    keys = {}
    current = None
    for line in open(path):
        m = re.match(r"static int key_([a-z]+)\(", line)
        if m:
            current = m.group(1) if m.group(1) in SECTIONS else None
            if current:
                keys.setdefault(current, set())
            continue
        if re.match(r"(static|int|void|bool)\b", line):
            current = None
        if current:
            for k in re.findall(r'strcmp\(k, "([a-z0-9-]+)"\)', line):
                keys[current].add(k)
    return keys


def man_keys(path):
    """Keys of the '# [section ...]' chapters: unindented lines that start
    with *key*, e.g. '*grant-ttl*, *refresh* = _DURATION_'."""
    keys = {}
    current = None
    for line in open(path):
        m = re.match(r"# \[([a-z]+)", line)
        if m:
            current = m.group(1)
            keys.setdefault(current, set())
            continue
        if line.startswith("# "):
            current = None
            continue
        if current and line.startswith("*"):
            for k in re.findall(r"\*([a-z][a-z0-9-]*)\*\s*(?:,|=)", line):
                keys[current].add(k)
    return keys


def example_keys(path):
    """'key = value' and commented '#key = value' lines under '[section]'
    or commented '#[section]' headers."""
    keys = {}
    current = None
    for line in open(path):
        m = re.match(r"#?\[([a-z]+)", line)
        if m:
            current = m.group(1)
            keys.setdefault(current, set())
            continue
        m = re.match(r"#?([a-z][a-z0-9-]*) = ", line)
        if current and m:
            keys[current].add(m.group(1))
    return keys


parsed = parser_keys(config_c)
fail = []
if set(parsed) != set(SECTIONS) or any(not v for v in parsed.values()):
    fail.append(f"{config_c}: found key handlers {sorted(parsed)} with "
                f"{ {s: len(v) for s, v in parsed.items()} } keys; expected every one of "
                f"{sorted(SECTIONS)} with keys (did the parser change shape?)")
for label, doc in (("titad.conf(5)", man_keys(man_page)),
                   ("the example config", example_keys(example))):
    for sec, ks in sorted(parsed.items()):
        missing = ks - doc.get(sec, set())
        extra = doc.get(sec, set()) - ks
        if missing:
            fail.append(f"{label} does not document [{sec}] {', '.join(sorted(missing))}")
        if extra:
            fail.append(f"{label} documents [{sec}] {', '.join(sorted(extra))}, "
                        "which the parser does not accept")
    for sec in sorted(set(doc) - set(parsed)):
        fail.append(f"{label} has a section [{sec}] the parser does not know")
if fail:
    print("\n".join(fail))
    sys.exit(1)
n = sum(len(v) for v in parsed.values())
print(f"{n} keys in {len(parsed)} sections: each documented in titad.conf(5) and the example")
