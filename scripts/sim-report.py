#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Figures that tita-sim's summary does not hold, from the files it writes.

  sim-report.py buckets [--group NAME] RUN_DIR...
      median and p99 slowdown (FCT over the unloaded line-rate FCT) per flow
      size: < 10 KB, 10-100 KB, 100 KB-1 MB, >= 1 MB (KB = 1000 bytes), over
      the flows of every RUN_DIR together (one run per seed: the seeds'
      flows are pooled). Percentiles as tita-sim's: linear between ranks.
  sim-report.py windows RUN_DIR...
      Jain's fairness of the traced flows' goodput in every trace interval
      (rate.dat) that lies wholly between the last flow's start and the
      first flow's finish: the lowest, and how many intervals. Run with
      trace_interval_us = the window and trace_flows >= the flows.

  sim-report.py beside RUN_DIR...
      the 100 KB-1 MB flows (KB = 1000 bytes) by what they shared with a
      flow of 1 MB or more that ran at some time during theirs: its pair
      (same sender and receiver), its sender, its receiver, both (with
      different such flows), or none; the median and p99 slowdown of each,
      over the flows of every RUN_DIR together. Where a medium flow's time
      goes: the first grant's wait (none), or its share beside a large flow.

RUN_DIR is a directory that tita-sim -o wrote (fct.dat, rate.dat).
"""
import argparse
import math
import os
import sys

BUCKETS = [
    ("< 10 KB", 0, 10e3),
    ("10-100 KB", 10e3, 100e3),
    ("100 KB-1 MB", 100e3, 1e6),
    (">= 1 MB", 1e6, math.inf),
]


def percentile(v, q):
    """v sorted; as sim/net.c's percentile()."""
    if not v:
        return float("nan")
    idx = q * (len(v) - 1)
    lo = int(idx)
    if lo + 1 >= len(v):
        return v[-1]
    return v[lo] + (v[lo + 1] - v[lo]) * (idx - lo)


def fct_words(run_dir):
    """The words of every finished flow's line in fct.dat."""
    with open(os.path.join(run_dir, "fct.dat")) as f:
        for line in f:
            if not line.startswith("#") and line.strip():
                yield line.split()


def read_fct(run_dir):
    """(group, size_bytes, start_us, fct_us, slowdown) of every finished flow."""
    return [(w[1], int(w[4]), float(w[5]), float(w[6]), float(w[7])) for w in fct_words(run_dir)]


def read_flows(run_dir):
    """(src, dst, size_bytes, start_us, end_us, slowdown) of every finished flow."""
    return [(int(w[2]), int(w[3]), int(w[4]), float(w[5]), float(w[5]) + float(w[6]), float(w[7]))
            for w in fct_words(run_dir)]


BESIDE = ["none", "sender", "receiver", "sender+receiver", "pair"]


def cmd_beside(args):
    per = {k: [] for k in BESIDE}
    for d in args.runs:
        rows = read_flows(d)
        large = [r for r in rows if r[2] >= 1e6]
        for src, dst, size, start, end, sd in rows:
            if not 100e3 <= size < 1e6:
                continue
            over = [r for r in large if r[3] < end and r[4] > start]
            if any(r[0] == src and r[1] == dst for r in over):
                k = "pair"
            else:
                s = any(r[0] == src for r in over)
                t = any(r[1] == dst for r in over)
                k = BESIDE[(1 if s else 0) + (2 if t else 0)]
            per[k].append(sd)
    print("| beside a flow >= 1 MB at | flows | slowdown p50 | slowdown p99 |")
    print("|---|---|---|---|")
    for k in BESIDE:
        v = sorted(per[k])
        print("| %s | %d | %.2f | %.2f |" % (k, len(v), percentile(v, 0.5), percentile(v, 0.99)))
    return 0


def cmd_buckets(args):
    per = {b[0]: [] for b in BUCKETS}
    n_all = 0
    for d in args.runs:
        for group, size, _, _, sd in read_fct(d):
            if args.group and group != args.group:
                continue
            n_all += 1
            for name, lo, hi in BUCKETS:
                if lo <= size < hi:
                    per[name].append(sd)
    print("| size | flows | slowdown p50 | slowdown p99 |")
    print("|---|---|---|---|")
    for name, _, _ in BUCKETS:
        v = sorted(per[name])
        print("| %s | %d | %.2f | %.2f |" % (name, len(v), percentile(v, 0.5), percentile(v, 0.99)))
    v = sorted(x for b in per.values() for x in b)
    print("| all | %d | %.2f | %.2f |" % (n_all, percentile(v, 0.5), percentile(v, 0.99)))
    return 0


def cmd_windows(args):
    worst = 0
    for d in args.runs:
        rows = read_fct(d)
        if not rows:
            print("%s: no finished flows" % d, file=sys.stderr)
            return 1
        last_start = max(r[2] for r in rows)
        first_end = min(r[2] + r[3] for r in rows)
        lowest, at, n, prev_t = math.inf, None, 0, None
        with open(os.path.join(d, "rate.dat")) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                w = [float(x) for x in line.split()]
                t, rates = w[0], w[1:]
                # A row holds the interval (prev_t, t].
                if prev_t is not None and prev_t >= last_start and t <= first_end:
                    s, s2 = sum(rates), sum(r * r for r in rates)
                    j = s * s / (len(rates) * s2) if s2 > 0 else 0.0
                    n += 1
                    if j < lowest:
                        lowest, at = j, t
                prev_t = t
        if len(rows) > len(rates):
            print("%s: %d flows but %d traced" % (d, len(rows), len(rates)), file=sys.stderr)
            return 1
        print("%s: lowest Jain %.4f (interval ending %.0f us) over %d intervals"
              % (d, lowest, at or 0, n))
        worst = max(worst, 1 if n == 0 else 0)
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("buckets")
    b.add_argument("--group")
    b.add_argument("runs", nargs="+")
    w = sub.add_parser("windows")
    w.add_argument("runs", nargs="+")
    s = sub.add_parser("beside")
    s.add_argument("runs", nargs="+")
    args = ap.parse_args()
    return {"buckets": cmd_buckets, "windows": cmd_windows, "beside": cmd_beside}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
