# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Sourced by the fabric's bed tests (fabric-collision.sh, fabric-tita.sh)
# after lib.sh: two flows from l1 to l2 (h1 → h3, h2 → h4) on a bed of 2
# leaves of 2 hosts and 2 spines at $rate bit/s for $seconds, and their
# figures. send_args1 and send_args2 (arrays) are added to h1's and h2's
# generator (e.g. --agent SOCKET, --msg BYTES); see mid_run below.
#
# Goodput is the payload the sinks receive (at most 97 % of the wire rate
# with 2048-byte packets), as the median of 100 ms steps over the steady
# part of a run (from $settle_s after both flows arrive to 0.3 s before
# the first ends). A lower bound needs the generators to offer their line
# rate: a window in which one did not even offer 90 % of it (the machine
# did not schedule it) says nothing about the fabric, and is measured
# again, at most three times; if none was valid, what still holds is that
# the pair delivers 90 % of what it offered, as long as that was more than
# one link could carry. An upper bound (collided) holds whatever they
# offer, so it is measured once.

send_args1=()
send_args2=()
settle_s=0.5
# A command run with the run's directory mid_run_s seconds after the
# generators start (e.g. to ask titad what it does meanwhile).
mid_run=''
mid_run_s=2

# Source ports, the spine of each as the leaf's FIB hashes them: a1 (h1 →
# h3 over s1), a2 and b2 (h2 → h4 over s1 and over s2). A check; false
# when 64 ports did not give all three.
pick_ports() {
	local ports via1 via2 k
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
	[ -n "$a1" ] && [ -n "$a2" ] && [ -n "$b2" ] || return 1
	echo "# h1 → h3 from port $a1 (s1); h2 → h4 from $a2 (s1) or $b2 (s2)"
}

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
	bg h1 "$gen" send "10.77.2.3,sport=$p1" --cc "$cc" --line-rate "$rate" "${send_args1[@]}" \
		--duration "${seconds}s" --interval 100ms -s "$d/send1.csv" >"$d/send1.json"
	pids+=("$bg_pid")
	bg h2 "$gen" send "10.77.2.4,sport=$p2" --cc "$cc" --line-rate "$rate" "${agent[@]}" "${send_args2[@]}" \
		--duration "${seconds}s" --interval 100ms -s "$d/send2.csv" >"$d/send2.json"
	pids+=("$bg_pid")
	if [ -n "$mid_run" ]; then
		(sleep "$mid_run_s" && "$mid_run" "$d") &
		pids+=($!)
	fi
	# The ports' counters once the flows have settled (their place taken):
	# figures() gives the drops from there on apart from the whole run's.
	(sleep "$(awk -v s="$settle_s" 'BEGIN { print s + 0.5 }')" && bed qdisc >"$d/qdisc-settled.jsonl") &
	pids+=($!)
	for h in "${pids[@]}"; do wait "$h" || true; done
	bed qdisc >"$d/qdisc-after.jsonl"
	bed marker >"$d/marker-after.json"
}

# The figures of a run (JSON): goodput of the pair (median of 100 ms
# steps of the two sinks' sum, from FROM to TO, CLOCK_MONOTONIC seconds;
# default the steady part), each generator's offered rate over the same
# steps, and per port of the fabric the bytes, drops and CE marks.
figures() { # dir [, from, to]
	python3 - "$1" "$rate" "${2:-}" "${3:-}" "$settle_s" <<'EOF'
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
lo = float(sys.argv[3]) if sys.argv[3] else max(s["first_s"] for s in sinks) + float(sys.argv[5])
hi = float(sys.argv[4]) if sys.argv[4] else min(s["last_s"] for s in sinks) - 0.3
rx = [series("%s/sink%d.csv" % (d, h)) for h in (3, 4)]
tx = [series("%s/send%d.csv" % (d, h)) for h in (1, 2)]
grid = [lo + 0.1 * k for k in range(int((hi - lo) / 0.1) + 1)]
med = lambda xs: statistics.median(xs) if xs else 0.0
qb, qa = ports(d + "/qdisc-before.jsonl"), ports(d + "/qdisc-after.jsonl")
try:
    qs = ports(d + "/qdisc-settled.jsonl")
except (OSError, ValueError, IndexError):
    qs = {}
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
    "drops_settled": {k: qa[k]["drops"] - qs[k]["drops"] for k in qa if k in qs},
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

