#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the RoCEv2 parser fuzzer (tests/fuzz/fuzz_roce.c):
one file per frame of the BPF fixture table (tests/bpf/fixtures.py), named
after it. Needs python3-scapy (run with /usr/bin/python3).

Usage: gen-corpus-roce.py OUTDIR
"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "bpf"))
import fixtures  # noqa: E402  (builds the table on import)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, frame, _ in fixtures.rows:
        with open(os.path.join(out, name), "wb") as f:
            f.write(frame)


if __name__ == "__main__":
    main()
