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
# Goodput and valid windows: see fabric-lib.sh.
#
# Usage: fabric-collision.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bed/fabric-lib.sh
. "$(dirname "$0")/fabric-lib.sh"
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

pick_ports || { finish; exit 1; }

# The data plane agrees with the FIB: who answers an expiring TTL.
check "TTL 1 from h1 expires at l1" [ "$(bed probe h1 h3 "$a1" 1 | cut -d' ' -f1)" = l1 ]
check "TTL 2 from h1, port $a1, expires at s1" [ "$(bed probe h1 h3 "$a1" 2 | cut -d' ' -f1)" = s1 ]
check "TTL 2 from h2, port $b2, expires at s2" [ "$(bed probe h2 h4 "$b2" 2 | cut -d' ' -f1)" = s2 ]
check "TTL 3 from h2 expires at l2" [ "$(bed probe h2 h4 "$b2" 3 | cut -d' ' -f1)" = l2 ]

# ---- runs ----------------------------------------------------------------------------------

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
