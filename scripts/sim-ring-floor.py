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

The second figure ("served first") keeps the ring's steps: each rank sends
its chunk of step s once it has sent its own of step s - 1 and received its
predecessor's; the chunk takes, on its uplink and on its successor's
downlink each, its size at line rate in time the link does not carry other
traffic (the switch may hold what one link passed while the other is busy);
the other traffic goes first, each link's in order of arrival at line rate
(it never waits for the ring). That is the ring's least completion when
the other traffic's slowdown is that of links of its own; between the two
figures a control trades the one's slowdown for the other's completion.

usage: scripts/sim-ring-floor.py [--gbps G] RUN_DIR...
"""
import argparse
import bisect
import collections


def read_flows(run_dir):
    """The ring's flows as (src, dst, bytes, start in us), and the other
    traffic's (start in s, bytes) on each host link."""
    flows, other = [], collections.defaultdict(list)
    primary = None
    with open(run_dir + "/fct.dat") as f:
        for line in f:
            if line.startswith("#"):
                continue
            _, group, src, dst, size, start = line.split()[:6]
            primary = primary or group  # the primary group's flows come first
            src, dst, size = int(src), int(dst), int(size)
            if group == primary:
                flows.append((src, dst, size, float(start)))
            else:
                t = float(start) * 1e-6
                other["up", src].append((t, size))
                other["down", dst].append((t, size))
    return flows, other


def floor_ratio(run_dir, gbps):
    cap = gbps * 1e9 / 8  # bytes per second
    ring = collections.Counter()
    flows, other = read_flows(run_dir)
    for src, dst, size, _ in flows:
        ring["up", src] += size
        ring["down", dst] += size
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


def busy_intervals(arrivals, cap):
    """A link's busy time serving arrivals (time, bytes) in order at cap."""
    out, end = [], 0.0
    for t, b in sorted(arrivals):
        start = max(t, end)
        end = start + b / cap
        if out and start <= out[-1][1]:
            out[-1][1] = end
        else:
            out.append([start, end])
    return out


def finish_after(busy, starts, start, need):
    """When need seconds of time outside busy have passed from start."""
    t = start
    k = bisect.bisect_right(starts, t) - 1
    if k >= 0 and busy[k][1] > t:
        t = busy[k][1]
    k += 1
    while k < len(busy) and busy[k][0] - t < need:
        need -= max(0.0, busy[k][0] - t)
        t = max(t, busy[k][1])
        k += 1
    return t + need


def served_first_ratio(run_dir, gbps):
    cap = gbps * 1e9 / 8
    ring = collections.defaultdict(list)  # rank -> [(start, dst, bytes)]
    flows, other = read_flows(run_dir)
    for src, dst, size, start in flows:
        ring[src].append((start, dst, size))
    ranks = sorted(ring)
    steps = min(len(v) for v in ring.values())
    succ = {r: sorted(ring[r])[0][1] for r in ranks}
    pred = {succ[r]: r for r in ranks}
    chunk = {r: [b for _, _, b in sorted(ring[r])] for r in ranks}
    links = {}
    for r in ranks:
        up = busy_intervals(other["up", r], cap)
        down = busy_intervals(other["down", succ[r]], cap)
        links[r] = [(b, [x[0] for x in b]) for b in (up, down)]
    done = {r: 0.0 for r in ranks}
    for s in range(steps):
        prev = dict(done)
        for r in ranks:
            start = max(prev[r], prev[pred[r]]) if s else 0.0
            # Each link on its own (the switch may hold what the uplink
            # sent while the downlink is busy): a floor for any schedule.
            done[r] = max(finish_after(b, st, start, chunk[r][s] / cap) for b, st in links[r])
    bound = max(sum(chunk[r][:steps]) for r in ranks) / cap
    return max(done.values()) / bound


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gbps", type=float, default=100.0, help="host line rate (default 100)")
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    for d in a.runs:
        print(f"{d} ring floor / bound {floor_ratio(d, a.gbps):.3f},"
              f" served first {served_first_ratio(d, a.gbps):.3f}")


if __name__ == "__main__":
    main()
