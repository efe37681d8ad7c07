#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Weights end to end: two senders into one receiver, both wanting the whole
# link. `titactl job set train --weight 2` on h1 (whose traffic is job
# "train") gives h1 about twice h2's share: within 10 %, in the goodput
# that h4's sink receives and in the grants that h4's titad hands out
# (the median of 20 samples).
#
# Usage: weights.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad

bed up --hosts 4 --titad >/dev/null
# h1's traffic to the bed is job "train"; its weight comes from titactl.
printf '\n[job train]\ndst = 10.77.0.0/24\n' >>"$state/h1.conf"
bed titad restart h1
check "titactl job set train --weight 2 on h1" bed ctl h1 job set train --weight 2
check "h1 shows the weight" bash -c "BED_NAME=$bed_name '$bedsh' ctl h1 -j job show train | grep -q '\"weight\":2'"

seconds=8
bg h4 "$gen" sink --duration "$((seconds + 3))s" --idle 1s --interval 50ms -s "$work/sink.csv" >"$work/sink.json" 2>/dev/null
sink=$bg_pid
sleep 0.3
bg h1 "$gen" send 10.77.0.4,qp=0x101 --duration "${seconds}s" >"$work/h1.json"
bg h2 "$gen" send 10.77.0.4,qp=0x102 --duration "${seconds}s" >"$work/h2.json"

# Grants at the receiver, sampled in the second half of the run.
sleep 3
for _ in $(seq 20); do
	bed ctl h4 -j pairs role rx
	echo
	sleep 0.1
done >"$work/grants.jsonl"
wait "$sink" || true

# Each sample's ratio of h4's grants to h1 and h2; the median says what
# h4 grants, the lowest how far a moment's dip went (a sender whose
# generator was not scheduled for a while asks for less, and gets it).
read -r gm glo gn <<<"$(python3 - "$work/grants.jsonl" <<'EOF'
import json, sys
ratios = []
for line in open(sys.argv[1]):
    if line.strip():
        g = {"10.77.0.1": 0, "10.77.0.2": 0}
        for p in json.loads(line):
            if p["remote"] in g and p["state"] == "active":
                g[p["remote"]] += p["grant_bps"]
        if g["10.77.0.2"] > 0:
            ratios.append(g["10.77.0.1"] / g["10.77.0.2"])
ratios.sort()
if ratios:
    print("%.3f %.3f %d" % (ratios[len(ratios) // 2], ratios[0], len(ratios)))
else:
    print("0 0 0")
EOF
)"
check "h4 grants h1 twice h2's share (median ratio of $gn samples $gm, lowest $glo)" \
	awk_true 'm >= 1.8 && m <= 2.2' m="$gm"

# Goodput per flow while both ran, leaving out the first 2 s (start-up):
# the mean over the window for the message, and the ratio checked is the
# median of the five 1 s ratios, as the grants' is a median. A generator
# that the 2-vCPU machine does not schedule for a moment asks for and
# sends less for a while: in one clean-clone CI run the window's mean ratio
# came to 1.79 while h4's grants held a median ratio of 2.000 (lowest
# sample 0.357). On a quiet machine both statistics read 1.96-2.00.
read -r r1 r2 rm <<<"$(python3 - "$work/sink.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
t0 = min(float(r["t_s"]) for r in rows)
s, n, per_s = {}, {}, {}
for r in rows:
    t = float(r["t_s"]) - t0
    if 2.0 <= t < 7.0:
        a, rate = r["addr"], float(r["rate_bps"])
        s[a] = s.get(a, 0.0) + rate
        n[a] = n.get(a, 0) + 1
        per_s.setdefault(int(t), {}).setdefault(a, []).append(rate)
m = {k: s[k] / n[k] for k in s}
ratios = sorted(
    (sum(v["10.77.0.1"]) / len(v["10.77.0.1"])) / (sum(v["10.77.0.2"]) / len(v["10.77.0.2"]))
    for v in per_s.values()
    if v.get("10.77.0.1") and v.get("10.77.0.2") and sum(v["10.77.0.2"]) > 0)
print(int(m.get("10.77.0.1", 0)), int(m.get("10.77.0.2", 0)),
      "%.3f" % ratios[len(ratios) // 2] if ratios else "0")
EOF
)"
check "h1 receives twice h2's goodput (mean h1 $r1, h2 $r2 bit/s; median of 1 s ratios $rm)" \
	awk_true 'm >= 1.8 && m <= 2.2' m="$rm"
check "no drops at the bottleneck ($(port_drops 4))" [ "$(port_drops 4)" -eq 0 ]

finish
