#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The least completion a ring (the primary group) could have beside other
traffic, over its line-rate bound, from a run's fct.dat.

Each host link (uplink: what the host sends; downlink: what it receives)
carries the ring's bytes R_L and the other groups' bytes that start before
the ring ends. If every such byte is through the link by then, the ring
ends no sooner than the least T with R_L + M_L(T) <= C x T on every link;
the bound is max R_L / C. Both count payload bytes at the host's line rate
(headers scale both alike). A control may do better only by holding the
other traffic past the ring's end.

usage: scripts/sim-ring-floor.py [--gbps G] RUN_DIR...
"""
import argparse
import collections


def floor_ratio(run_dir, gbps):
    cap = gbps * 1e9 / 8  # bytes per second
    ring = collections.Counter()
    other = collections.defaultdict(list)
    primary = None
    with open(run_dir + "/fct.dat") as f:
        for line in f:
            if line.startswith("#"):
                continue
            _, group, src, dst, size, start = line.split()[:6]
            primary = primary or group  # the primary group's flows come first
            if group == primary:
                ring["up", src] += int(size)
                ring["down", dst] += int(size)
            else:
                t = float(start) * 1e-6
                other["up", src].append((t, int(size)))
                other["down", dst].append((t, int(size)))
    bound = max(ring.values()) / cap
    worst = bound
    for link, r in ring.items():
        events = sorted(other[link])
        t, m, i = r / cap, 0, 0
        while True:
            while i < len(events) and events[i][0] < t:
                m += events[i][1]
                i += 1
            nt = (r + m) / cap
            if nt <= t:
                break
            t = nt
        worst = max(worst, t)
    return worst / bound


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gbps", type=float, default=100.0, help="host line rate (default 100)")
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    for d in a.runs:
        print(f"{d} ring floor / bound {floor_ratio(d, a.gbps):.3f}")


if __name__ == "__main__":
    main()
