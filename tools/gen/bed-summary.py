#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarise one test-bed incast run (the directory `bed.sh incast` wrote).

Reads sink.json (tita-roce sink), send-*.json (tita-roce send), sink.csv
(per-flow received rate every step), queue.csv (tita-bed-marker sample of
the bottleneck port) and qdisc-before/after.json (`tc -s -j qdisc`), and
prints one JSON object:

  goodput_bps        RoCE payload delivered / (last arrival - first arrival)
  wire_bps           the same in frame bytes, as the shaper counts them
  drops              the bottleneck qdisc's drop counter, after - before
  lost_packets       PSN gaps at the sink (equals drops: nothing else drops)
  ce_fraction        CE-marked packets / packets at the sink
  cnps               CNPs the sink sent
  queue_peak_bytes   the bottleneck's backlog, peak and mean over the
  queue_mean_bytes   samples taken while traffic arrived
  steady_goodput_bps the same from 0.5 s after the first arrival to the last
                     (the first round trips of a new pair are start-up,
                     which the completion times account for); the whole
                     run when it is shorter than 1.5 s
  jain               Jain's index of per-flow rates while every flow was
                     active (1 = fair)
  fct_max_s          flow completion: first packet sent to last arrived
  fct_mean_s         (nothing retransmits: lost data shortens it)
  delivered_fraction payload received / payload the senders sent
  flows              per flow: src, goodput_bps, lost, ce, completion_s
"""
import csv
import glob
import json
import os
import sys


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def root_drops(path):
    q = load(path, [])
    for d in q:
        if d.get("root"):
            return d.get("drops", 0)
    return 0


def main():
    out = sys.argv[1]
    sink = load(os.path.join(out, "sink.json"), {})
    flows = sink.get("flows", [])
    first, last = sink.get("first_s", 0.0), sink.get("last_s", 0.0)

    # Queue while traffic arrived; the sampler runs longer on both sides.
    q = []
    try:
        with open(os.path.join(out, "queue.csv")) as f:
            for r in csv.DictReader(f):
                t = float(r["t_s"])
                if first <= t <= last:
                    q.append(int(r["backlog_bytes"]))
    except OSError:
        pass

    # Fairness over the window in which every flow was active; steady
    # goodput over the run less its first 0.5 s. Each series line is one
    # flow's rate over the step that ends at t_s.
    jain = None
    steady = sink.get("goodput_bps", 0)
    if flows:
        lo = max(fl["first_s"] for fl in flows)
        hi = min(fl["last_s"] for fl in flows)
        steady_lo = first + 0.5 if last - first >= 1.5 else None
        sums = {}
        steady_bits = 0.0
        prev = {}
        try:
            with open(os.path.join(out, "sink.csv")) as f:
                for r in csv.DictReader(f):
                    t = float(r["t_s"])
                    k = (r["addr"], r["qp"])
                    # The rate is over the step since this flow's last line
                    # (steps stretch when the sink is busy).
                    dt = t - prev.get(k, t)
                    prev[k] = t
                    if lo < t <= hi:
                        sums[k] = sums.get(k, 0.0) + float(r["rate_bps"]) * dt
                    if steady_lo is not None and steady_lo < t <= last + dt:
                        steady_bits += float(r["rate_bps"]) * dt
        except OSError:
            pass
        if steady_lo is not None:
            steady = steady_bits / (last - steady_lo)
        x = list(sums.values())
        if len(x) == len(flows) and sum(x) > 0:
            jain = sum(x) ** 2 / (len(x) * sum(v * v for v in x))
        elif len(flows) == 1:
            jain = 1.0

    senders = [load(p, {}) for p in sorted(glob.glob(os.path.join(out, "send-*.json")))]
    fct = [fl["completion_s"] for fl in flows if fl.get("complete")]
    sent = sum(fl.get("bytes", 0) for d in senders for fl in d.get("flows", []))
    s = {
        "goodput_bps": sink.get("goodput_bps", 0),
        "wire_bps": sink.get("wire_bps", 0),
        "steady_goodput_bps": steady,
        "drops": root_drops(os.path.join(out, "qdisc-after.json"))
        - root_drops(os.path.join(out, "qdisc-before.json")),
        "lost_packets": sink.get("lost_packets", 0),
        "packets": sink.get("packets", 0),
        "ce_fraction": sink.get("ce_fraction", 0.0),
        "cnps": sink.get("cnps_sent", 0),
        "queue_peak_bytes": max(q) if q else 0,
        "queue_mean_bytes": sum(q) / len(q) if q else 0,
        "queue_samples": len(q),
        "jain": jain,
        "flows_complete": sink.get("flows_complete", 0),
        "flows_expected": len(senders),
        "delivered_fraction": sink.get("bytes", 0) / sent if sent else 0.0,
        "fct_max_s": max(fct) if fct else None,
        "fct_mean_s": sum(fct) / len(fct) if fct else None,
        "sender_cuts": sum(fl.get("cuts", 0) for d in senders for fl in d.get("flows", [])),
        "sender_cnps": sum(fl.get("cnps", 0) for d in senders for fl in d.get("flows", [])),
        "flows": [
            {
                "src": fl["src"],
                "goodput_bps": fl["goodput_bps"],
                "lost": fl["lost_packets"],
                "ce": fl["ce_packets"],
                "completion_s": fl["completion_s"],
                "complete": fl["complete"],
            }
            for fl in sorted(flows, key=lambda fl: fl["src"])
        ],
    }
    json.dump(s, sys.stdout)
    print()


if __name__ == "__main__":
    main()
