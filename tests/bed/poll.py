#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Poll `titactl -j ARGS` until a condition holds; print the milliseconds it
took, or "timeout". One process for the whole wait, so that the polling
step is titactl's round trip (a few ms), not an interpreter's start-up.

  poll.py TITACTL SOCKET 'ARGS' 'CONDITION' TIMEOUT_MS ['TRIGGER']

With a TRIGGER (a shell command: a kill, an nft rule), it is run once the
poller is up and has seen titad answer, and the time counts from when the
trigger returned: what is measured is the system's reaction, not this
interpreter's start-up.

CONDITION is a Python expression over j (the parsed JSON) and the helpers
pair(j, remote) (the first pair with that remote address, or None) and
grant(j, remote) (the sum of its active grants).
"""
import json
import subprocess
import sys
import time


def pair(j, remote):
    for p in j:
        if p.get("remote") == remote:
            return p
    return None


def grant(j, remote):
    return sum(p["grant_bps"] for p in j if p.get("remote") == remote and p["state"] == "active")


def main():
    titactl, sock, args, cond, timeout_ms = sys.argv[1:6]
    trigger = sys.argv[6] if len(sys.argv) > 6 else None
    code = compile(cond, "condition", "eval")
    if trigger:
        subprocess.run([titactl, "-s", sock, "-j"] + args.split(), capture_output=True,
                       timeout=2, check=False)
        subprocess.run(trigger, shell=True, check=True)
    t0 = time.monotonic()
    deadline = t0 + int(timeout_ms) / 1000.0
    # Bounded in count as well as in time.
    for _ in range(100000):
        try:
            out = subprocess.run([titactl, "-s", sock, "-j"] + args.split(),
                                 capture_output=True, timeout=2, check=False).stdout
            j = json.loads(out) if out.strip() else []
        except (subprocess.TimeoutExpired, ValueError):
            j = None
        if j is not None:
            try:
                if eval(code, {"pair": pair, "grant": grant, "j": j}):
                    print(int((time.monotonic() - t0) * 1000))
                    return
            except (KeyError, TypeError, IndexError):
                pass
        if time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    print("timeout")


if __name__ == "__main__":
    main()
