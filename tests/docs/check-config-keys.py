#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every key titad's config parser accepts is documented, in its section,
in titad.conf(5) and in the annotated example config; and neither documents
a key the parser does not accept.

  check-config-keys.py daemon/config.c man/titad.conf.5.scd systemd/titad.conf.example \
      lib/ctl_params.c

The keys come from config.c itself: each section's handler, key_SECTION(),
compares the key name with strcmp(k, "NAME"); the [controller] section also
takes every key of lib's parameter table that has a config key (the second
argument of its DUR/FRAC/FACTOR/COUNT entries). If that shape changes, this
test fails rather than pass on an empty list."""
import re
import sys

config_c, man_page, example, params_c = sys.argv[1:5]

# section name in config.c -> section as written in the files
SECTIONS = {"daemon": "daemon", "controller": "controller", "peers": "peers",
            "port": "port", "job": "job", "fabric": "fabric", "health": "health"}


def keys_by_section(path, section_re, end_re, keys_of_line):
    """{section: keys}: a line matching section_re starts a section (its
    first group names it), one matching end_re ends it, and keys_of_line
    finds the keys of each line in between."""
    keys = {}
    current = None
    for line in open(path):
        m = re.match(section_re, line)
        if m:
            current = m.group(1)
            keys.setdefault(current, set())
        elif end_re and re.match(end_re, line):
            current = None
        elif current:
            keys[current].update(keys_of_line(line))
    return keys


def parser_keys(path):
    """Each key_SECTION() function's strcmp(k, "NAME") calls, up to the
    next top-level definition."""
    keys = keys_by_section(path, r"static int key_([a-z]+)\(", r"(static|int|void|bool)\b",
                           lambda l: re.findall(r'strcmp\(k, "([a-z0-9-]+)"\)', l))
    return {s: k for s, k in keys.items() if s in SECTIONS}


def man_keys(path):
    """Keys of the '# [section ...]' chapters: unindented lines that start
    with *key*, e.g. '*grant-ttl*, *refresh* = _DURATION_'."""
    return keys_by_section(path, r"# \[([a-z]+)", r"# ",
                           lambda l: re.findall(r"\*([a-z][a-z0-9-]*)\*\s*(?:,|=)", l)
                           if l.startswith("*") else [])


def example_keys(path):
    """'key = value' and commented '#key = value' lines under '[section]'
    or commented '#[section]' headers."""
    return keys_by_section(path, r"#?\[([a-z]+)", None,
                           lambda l: re.findall(r"^#?([a-z][a-z0-9-]*) = ", l))


def table_keys(path):
    """lib's parameter table: entries like DUR(field, "key", ...) or
    FRAC(field, NULL, ...); the keys that are not NULL."""
    text = open(path).read()
    return set(re.findall(r'\b(?:DUR|FRAC|FACTOR|COUNT)\(\s*[a-z_]+,\s*"([a-z0-9-]+)"', text))


parsed = parser_keys(config_c)
table = table_keys(params_c)
fail = []
if not table:
    fail.append(f"{params_c}: no config keys found in the parameter table (did it change shape?)")
parsed.setdefault("controller", set()).update(table)
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
