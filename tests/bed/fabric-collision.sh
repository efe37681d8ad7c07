#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Two flows collide on a spine of a real two-tier fabric; spread over both
# spines they do not. The bed: 2 leaves of 2 hosts, 2 spines, every link
# 100 Mbit/s. h1 → h3 and h2 → h4 both cross from l1 to l2, and each flow's
# UDP source port picks its spine (the leaves hash the 5-tuple). Checked:
#
#   - the fabric as built: leaves hash L4 for ECMP, and leaf uplinks,
#     spine downlinks and host ports are switch ports (HTB, FIFO, ECN
#     marker); probes with TTL 1, 2, 3 are answered by l1, by the spine
#     `bed.sh route` predicts for their source port, and by l2;
#   - collided (one spine for both), unpaced: the pair gets at most 55 % of
#     what the two spines carry (one link's worth: they share l1's uplink
#     to that spine), which drops; the other spine carries none of it;
#   - collided, generator DCQCN: likewise at most 55 %;
#   - spread (a spine each), unpaced: at least 90 % of the two spines, and
#     not one drop at any port of the fabric;
#   - moved at run time: collided, then h2's flow gets another source port
#     by SET_SPORT over its agent socket (tita-agent-peer plays titad): the
#     move waits for a message's end and its ACK (-EINPROGRESS, then 0),
#     the sink sees no packet out of order, the flow crosses the other
#     spine, and the pair reaches 90 % after the move.
#
# Goodput is the payload the sinks receive (at most 97 % of the wire rate
# with 2048-byte packets), as the median of 100 ms steps over the steady
# part of a run (from 0.5 s after both flows arrive to 0.3 s before the
# first ends). A lower bound needs the generators to offer their line
# rate: a window in which one did not even offer 90 % of it (the machine
# did not schedule it) says nothing about the fabric, and is measured
# again, at most three times; if none was valid, what still holds is that
# the pair delivers 90 % of what it offered, as long as that was more than
# one link could carry. An upper bound (collided) holds whatever they
# offer, so it is measured once.
#
# Usage: fabric-collision.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
peer=$build/tests/bed/tita-agent-peer
[ -x "$peer" ] || skip "tests/bed/tita-agent-peer is not built in $build"
command -v ethtool >/dev/null || skip "needs ethtool"

# 100 Mbit/s links: four generators and every hop's forwarding share two
# cores, and at 200 Mbit/s a busy machine cannot always offer the line
# rate. The collision is the same at any rate.
rate=100000000
seconds=3
bed up --leaves 2 --hosts-per-leaf 2 --spines 2 --rate "$rate" >/dev/null
ok "bed up: 2 leaves x 2 hosts, 2 spines, 100 Mbit/s links"

# ---- the fabric, as built ----------------------------------------------------------------
check "l1 hashes ECMP on the 5-tuple (fib_multipath_hash_policy 3, fields 0x37)" \
	[ "$(bed exec l1 cat /proc/sys/net/ipv4/fib_multipath_hash_policy)/$(bed exec l1 cat /proc/sys/net/ipv4/fib_multipath_hash_fields)" = 3/55 ]
check "l1 routes to l2's hosts through both spines" \
	bash -c "BED_NAME=$bed_name '$bedsh' exec l1 ip route show 10.77.2.0/24 | grep -c nexthop | grep -qx 2"
for port in l1:u1 s2:d2 l2:p4; do
	qd=$(bed exec "${port%%:*}" tc -j qdisc show dev "${port#*:}")
	check "$port: HTB, a 128000-byte FIFO and the ECN marker" bash -c \
		"grep -q '\"kind\":\"htb\",\"handle\":\"1:\",\"root\":true' <<<'$qd' &&
		 grep -q '\"kind\":\"bfifo\".*\"limit\":128000' <<<'$qd' &&
		 nsenter --net=$(netns "${port%%:*}") tc filter show dev ${port#*:} egress | grep -q ecn_marker"
done

# Source ports: the spine of each, as the leaf's FIB hashes them.
mapfile -t ports < <(seq 49152 49215)
mapfile -t via1 < <(bed route h1 h3 "${ports[@]}" | awk '{ print $2 }')
mapfile -t via2 < <(bed route h2 h4 "${ports[@]}" | awk '{ print $2 }')
a1='' a2='' b2=''
for k in "${!ports[@]}"; do
	[ -n "$a1" ] || [ "${via1[k]}" != s1 ] || a1=${ports[k]}
	[ -n "$a2" ] || [ "${via2[k]}" != s1 ] || a2=${ports[k]}
	[ -n "$b2" ] || [ "${via2[k]}" != s2 ] || b2=${ports[k]}
done
check "64 source ports spread over both spines (h1 → h3: $(printf '%s\n' "${via1[@]}" | sort | uniq -c | xargs))" \
	test -n "$a1" -a -n "$a2" -a -n "$b2"
[ -n "$a1" ] && [ -n "$a2" ] && [ -n "$b2" ] || { finish; exit 1; }
echo "# h1 → h3 from port $a1 (s1); h2 → h4 from $a2 (s1) or $b2 (s2)"

# The data plane agrees with the FIB: who answers an expiring TTL.
check "TTL 1 from h1 expires at l1" [ "$(bed probe h1 h3 "$a1" 1 | cut -d' ' -f1)" = l1 ]
check "TTL 2 from h1, port $a1, expires at s1" [ "$(bed probe h1 h3 "$a1" 2 | cut -d' ' -f1)" = s1 ]
check "TTL 2 from h2, port $b2, expires at s2" [ "$(bed probe h2 h4 "$b2" 2 | cut -d' ' -f1)" = s2 ]
check "TTL 3 from h2 expires at l2" [ "$(bed probe h2 h4 "$b2" 3 | cut -d' ' -f1)" = l2 ]

# ---- runs ----------------------------------------------------------------------------------

# One run: sinks on h3 and h4, h1 → h3 from port $3, h2 → h4 from port $4.
# With a 5th argument, h2's generator is its own QP agent on a socket
# where tita-agent-peer sends it the commands of that argument.
run() { # dir, cc, port 1, port 2 [, peer commands]
	local d=$1 cc=$2 p1=$3 p2=$4 cmds=${5:-} h pids=() agent=()
	rm -rf "$d"
	mkdir -p "$d"
	bed qdisc >"$d/qdisc-before.jsonl"
	bed marker >"$d/marker-before.json"
	for h in 3 4; do
		bg "h$h" "$gen" sink --duration "$((seconds + 8))s" --idle 500ms --interval 100ms \
			-s "$d/sink$h.csv" >"$d/sink$h.json" 2>"$d/sink$h.err"
		pids+=("$bg_pid")
	done
	for _ in $(seq 50); do
		grep -qs "sink ready" "$d/sink3.err" && grep -qs "sink ready" "$d/sink4.err" && break
		sleep 0.1
	done
	if [ -n "$cmds" ]; then
		"$peer" "$d/agent.sock" --duration $((seconds + 10)) <<<"$cmds" >"$d/peer.jsonl" 2>"$d/peer.err" &
		bg_pids+=($!)
		pids+=($!)
		for _ in $(seq 50); do
			grep -qs listening "$d/peer.err" && break
			sleep 0.1
		done
		agent=(--agent "$d/agent.sock")
	fi
	bg h1 "$gen" send "10.77.2.3,sport=$p1" --cc "$cc" --line-rate "$rate" \
		--duration "${seconds}s" --interval 100ms -s "$d/send1.csv" >"$d/send1.json"
	pids+=("$bg_pid")
	bg h2 "$gen" send "10.77.2.4,sport=$p2" --cc "$cc" --line-rate "$rate" "${agent[@]}" \
		--duration "${seconds}s" --interval 100ms -s "$d/send2.csv" >"$d/send2.json"
	pids+=("$bg_pid")
	for h in "${pids[@]}"; do wait "$h" || true; done
	bed qdisc >"$d/qdisc-after.jsonl"
	bed marker >"$d/marker-after.json"
}

# The figures of a run (JSON): goodput of the pair (median of 100 ms
# steps of the two sinks' sum, from FROM to TO, CLOCK_MONOTONIC seconds;
# default the steady part), each generator's offered rate over the same
# steps, and per port of the fabric the bytes, drops and CE marks.
figures() { # dir [, from, to]
	python3 - "$1" "$rate" "${2:-}" "${3:-}" <<'EOF'
import bisect, json, statistics, sys

d, rate = sys.argv[1], float(sys.argv[2])

def series(fn):
    rows = [l.split(",") for l in open(fn).read().split("\n")[1:] if l]
    return [float(r[0]) for r in rows], [float(r[4]) for r in rows]

def at(s, t):  # the rate of the step that covers t
    ts, rs = s
    i = bisect.bisect_left(ts, t)
    return rs[i] if i < len(rs) else 0.0

def ports(fn):
    out = {}
    for line in open(fn):
        if line.strip():
            o = json.loads(line)
            out[o["node"] + ":" + o["dev"]] = [q for q in o["qdisc"] if q.get("root")][0]
    return out

sinks = [json.load(open("%s/sink%d.json" % (d, h))) for h in (3, 4)]
lo = float(sys.argv[3]) if sys.argv[3] else max(s["first_s"] for s in sinks) + 0.5
hi = float(sys.argv[4]) if sys.argv[4] else min(s["last_s"] for s in sinks) - 0.3
rx = [series("%s/sink%d.csv" % (d, h)) for h in (3, 4)]
tx = [series("%s/send%d.csv" % (d, h)) for h in (1, 2)]
grid = [lo + 0.1 * k for k in range(int((hi - lo) / 0.1) + 1)]
med = lambda xs: statistics.median(xs) if xs else 0.0
qb, qa = ports(d + "/qdisc-before.jsonl"), ports(d + "/qdisc-after.jsonl")
mb = {m["node"] + ":" + m["dev"]: m for m in json.load(open(d + "/marker-before.json"))}
ma = {m["node"] + ":" + m["dev"]: m for m in json.load(open(d + "/marker-after.json"))}
out = {
    "window_s": [lo, hi],
    "steps": len(grid),
    "goodput_bps": med([at(rx[0], t) + at(rx[1], t) for t in grid]),
    "flow_bps": [med([at(s, t) for t in grid]) for s in rx],
    "offered_bps": [med([at(s, t) for t in grid]) for s in tx],
    "late_packets": sum(s["late_packets"] for s in sinks),
    "lost_packets": sum(s["lost_packets"] for s in sinks),
    "bytes": {k: qa[k]["bytes"] - qb[k]["bytes"] for k in qa},
    "drops": {k: qa[k]["drops"] - qb[k]["drops"] for k in qa},
    "marks": {k: ma[k]["marked"] - mb[k]["marked"] for k in ma},
}
out["share"] = out["goodput_bps"] / (2 * rate)
out["valid"] = len(grid) >= 10 and min(out["offered_bps"]) >= 0.9 * rate
print(json.dumps(out))
EOF
}

# A run, its figures in $d/fig.json; with "full", again until its window is
# valid (both generators offered their line rate), at most three times.
measure() { # dir, cc, port 1, port 2, full|once
	local d=$1 try
	for try in 1 2 3; do
		run "$1" "$2" "$3" "$4"
		figures "$d" >"$d/fig.json"
		if [ "$5" = once ] || [ "$(jget "$d/fig.json" 'd["valid"]')" = True ]; then
			return
		fi
		echo "# $(basename "$d"): window $try not valid (offered $(jget "$d/fig.json" 'd["offered_bps"]') bit/s, $(jget "$d/fig.json" 'd["steps"]') steps): again" >&2
	done
}

# The pair got at least 90 % of the two spines: in a valid window, of
# 2 x R; else of what the generators offered, if that was more than a link.
lower_bound() { # what, figures file
	local f=$2 o g
	if [ "$(jget "$f" 'd["valid"]')" = True ]; then
		check "$1: at least 90 % of the two spines ($(jget "$f" 'round(d["share"] * 100, 1)') %)" \
			awk_true 's >= 0.90' s="$(jget "$f" 'd["share"]')"
		return
	fi
	o=$(jget "$f" 'sum(d["offered_bps"])')
	g=$(jget "$f" 'd["goodput_bps"]')
	check "$1: at least 90 % of the $(awk -v o="$o" 'BEGIN { printf "%.1f", o / 1e6 }') Mbit/s offered, more than a link ($(awk -v g="$g" 'BEGIN { printf "%.1f", g / 1e6 }') Mbit/s; the machine never let the generators offer their line rate)" \
		awk_true 'g >= 0.9 * o && o > 1.2 * r' g="$g" o="$o" r="$rate"
}

row() { # label, spines, figures file
	printf '# %-24s %-6s %7.1f %6.1f %% %7d %8d %5d\n' "$1" "$2" \
		"$(jget "$3" 'd["goodput_bps"] / 1e6')" "$(jget "$3" 'd["share"] * 100')" \
		"$(jget "$3" 'sum(d["drops"].values())')" "$(jget "$3" 'sum(d["marks"].values())')" \
		"$(jget "$3" 'd["late_packets"]')"
}

# ---- collided ------------------------------------------------------------------------------
measure "$work/none" none "$a1" "$a2" once
f=$work/none/fig.json
check "collided, unpaced: at most 55 % of the two spines ($(jget "$f" 'round(d["share"] * 100, 1)') %)" \
	awk_true 's <= 0.55' s="$(jget "$f" 'd["share"]')"
check "collided, unpaced: drops at l1's uplink to s1 ($(jget "$f" 'd["drops"]["l1:u1"]'); offered $(jget "$f" 'round(sum(d["offered_bps"]) / 1e6, 1)') Mbit/s into one link)" \
	[ "$(jget "$f" 'd["drops"]["l1:u1"]')" -gt 0 ]
check "collided: s2 carried none of it ($(jget "$f" 'd["bytes"]["s2:d2"]') bytes to l2)" \
	awk_true 'b < 0.01 * t' b="$(jget "$f" 'd["bytes"]["s2:d2"]')" t="$(jget "$f" 'd["bytes"]["s1:d2"]')"

measure "$work/dcqcn" dcqcn "$a1" "$a2" once
f=$work/dcqcn/fig.json
check "collided, DCQCN: at most 55 % of the two spines ($(jget "$f" 'round(d["share"] * 100, 1)') %)" \
	awk_true 's <= 0.55' s="$(jget "$f" 'd["share"]')"
cuts1=$(jget "$work/dcqcn/send1.json" 'd["flows"][0]["cuts"]')
cuts2=$(jget "$work/dcqcn/send2.json" 'd["flows"][0]["cuts"]')
check "collided, DCQCN: both generators cut on CNPs ($cuts1 and $cuts2 cuts)" \
	awk_true 'a > 0 && b > 0' a="$cuts1" b="$cuts2"

# ---- spread --------------------------------------------------------------------------------
measure "$work/spread" none "$a1" "$b2" full
f=$work/spread/fig.json
lower_bound "spread, unpaced" "$f"
check "spread: not one drop in the fabric ($(jget "$f" '{k: v for k, v in d["drops"].items() if v}'))" \
	[ "$(jget "$f" 'sum(d["drops"].values())')" -eq 0 ]
check "spread: each spine carried one flow (s1 $(jget "$f" 'd["bytes"]["s1:d2"]'), s2 $(jget "$f" 'd["bytes"]["s2:d2"]') bytes)" \
	awk_true 'a > 0.4 * (a + b) && b > 0.4 * (a + b)' a="$(jget "$f" 'd["bytes"]["s1:d2"]')" b="$(jget "$f" 'd["bytes"]["s2:d2"]')"

# ---- moved at run time ---------------------------------------------------------------------
# Collided for 1.5 s, then titad's SET_SPORT moves h2's flow (its QP 1)
# to the port of the other spine; it may wait up to a second.
seconds=5
moved=$work/moved
for try in 1 2 3; do
	run "$moved" none "$a1" "$a2" "@1.5 sport 1 $b2 1000"
	grep '"sport_result"' "$moved/peer.jsonl" >"$moved/results.jsonl" || true
	t_move=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(r[-1]["t"] if r else 0)' "$moved/results.jsonl")
	t_cmd=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if "\"sent\"" in l]; print(r[0]["t"] if r else 0)' "$moved/peer.jsonl")
	figures "$moved" "" "$t_cmd" >"$moved/before.json"
	figures "$moved" "$(awk -v t="$t_move" 'BEGIN { print t + 0.5 }')" >"$moved/fig.json"
	[ "$(jget "$moved/fig.json" 'd["valid"]')" = True ] && break
	echo "# moved: window $try not valid (offered $(jget "$moved/fig.json" 'd["offered_bps"]') bit/s): again" >&2
done
results=$(python3 -c 'import json,sys; print(" then ".join(str(json.loads(l)["err"]) for l in open(sys.argv[1])))' "$moved/results.jsonl")
check "the move was held, then done (results: ${results:-none})" \
	python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(not ([x["err"] for x in r] == [-115, 0] and r[1]["udp_sport"] == int(sys.argv[2])))' \
	"$moved/results.jsonl" "$b2"
moves=$(jget "$moved/send2.json" 'd["flows"][0]["sport"], d["flows"][0]["repaths"], d["flows"][0]["ack_timeouts"]')
check "h2's generator moved once, to port $b2 (port, moves, ACKs overdue: $moves)" \
	[ "${moves% *}" = "$b2 1" ]
check "titad heard the new port: a QP_ADD with udp_sport $b2" \
	grep -q "\"udp_sport\":$b2,\"posted\"" "$moved/peer.jsonl"
check "not one packet out of order at the sinks ($(jget "$moved/fig.json" 'd["late_packets"]') late)" \
	[ "$(jget "$moved/fig.json" 'd["late_packets"]')" -eq 0 ]
check "before the move, collided: at most 55 % ($(jget "$moved/before.json" 'round(d["share"] * 100, 1)') %)" \
	awk_true 's <= 0.55' s="$(jget "$moved/before.json" 'd["share"]')"
lower_bound "after the move" "$moved/fig.json"
check "after the move, s2 carried h2's flow ($(jget "$moved/fig.json" 'd["bytes"]["s2:d2"]') bytes to l2)" \
	awk_true 'b > 0.3 * t' b="$(jget "$moved/fig.json" 'd["bytes"]["s2:d2"]')" t="$(jget "$moved/fig.json" 'd["bytes"]["s1:d2"]')"

# ---- the figures -------------------------------------------------------------------------------
printf '# %-24s %-6s %7s %8s %7s %8s %5s\n' "two flows l1 → l2" spines "Mbit/s" "of 2 x R" drops "CE marks" late
row "collided, unpaced" "s1 s1" "$work/none/fig.json"
row "collided, DCQCN" "s1 s1" "$work/dcqcn/fig.json"
row "spread, unpaced" "s1 s2" "$work/spread/fig.json"
row "moved, before (unpaced)" "s1 s1" "$moved/before.json"
row "moved, after" "s1 s2" "$moved/fig.json"
echo "# (drops and CE marks: every port of the fabric, the whole run; a moved run's"
echo "# two rows share them)"

finish
