#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Watch senders' pairs through titactl for a while: how often each was
looked at and how often it was not paced by a grant.

  watch.py TITACTL SECONDS OUT.json SOCKET:REMOTE...

Every ~20 ms (titactl's round trip on top), for SECONDS, each SOCKET's
`titactl -j pairs role tx` is read and its pair towards REMOTE counted as
paced (state granted, not unpaced) or not. Writes
{"SOCKET:REMOTE": {"samples": n, "unpaced": k, "first_unpaced_s": t}, ...}.
Bounded in count as well as in time.
"""
import json
import subprocess
import sys
import time


def main():
    titactl, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    targets = sys.argv[4:]
    res = {t: {"samples": 0, "unpaced": 0, "first_unpaced_s": None} for t in targets}
    t0 = time.monotonic()
    for _ in range(100000):
        now = time.monotonic() - t0
        if now >= seconds:
            break
        for t in targets:
            sock, remote = t.rsplit(":", 1)
            try:
                j = json.loads(subprocess.run([titactl, "-s", sock, "-j", "pairs", "role", "tx"],
                                              capture_output=True, timeout=2,
                                              check=False).stdout or "[]")
            except (subprocess.TimeoutExpired, ValueError):
                continue
            p = next((x for x in j if x.get("remote") == remote), None)
            r = res[t]
            r["samples"] += 1
            if p is None or p["unpaced"] or p["state"] != "granted":
                r["unpaced"] += 1
                if r["first_unpaced_s"] is None:
                    r["first_unpaced_s"] = round(now, 3)
        time.sleep(0.02)
    json.dump(res, open(out, "w"))


if __name__ == "__main__":
    main()
