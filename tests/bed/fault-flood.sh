#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A titad under a flood of bad datagrams keeps serving its real peers.
# h7 receives from h1 and h2 (paced by its grants) while h1 floods it with
# garbage, forged (bad MAC) and replayed (captured, authentic, already
# seen) datagrams: 10000 per second for 24 s (tests/bed/tita-flood.c),
# long enough for every join below on a busy machine (8-11 s seen).
# The real senders run at 20 Mbit/s each, well under h7's link: this test
# is about the flood, and an incast at line rate saturates the bed's two
# CPUs on its own, so that the flood rate and both latencies measured the
# scheduler rather than titad (seen: 2-4 ms, quiet or not).
#
#   - h1's and h2's pairs stay granted through the flood;
#   - grant latency stays within 2x of the quiet case: h7's own demand-to-
#     grant time (its histogram, read around each join) for pairs that join
#     before the flood (h3, h4, h5, h6) and during it (the same four again,
#     as new pairs once their first ones are gone, then h8 and h9), and,
#     with 50 ms of slack for two shared CPUs, those senders' time from
#     first packet to first grant. Medians are judged, of four joins quiet
#     and six under the flood: one join that waited for a CPU taken by the
#     flood's own generator is the machine, not titad (seen: one of two at
#     3 ms), and a median of two quiet joins was once 0.146 ms where it
#     usually is 0.2-0.4, which made the bound 1.29 ms under a flood
#     median of 1.47 on a busy CI machine;
#   - h7's titad's memory stays bounded (resident set grows < 2 MiB);
#   - the drops show in h7's metrics by reason (bad MAC, replayed or too
#     old, and the framing checks that garbage trips).
#
# Usage: fault-flood.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad
flood=$build/tests/bed/tita-flood
[ -x "$flood" ] || skip "tests/bed/tita-flood is not built"

pps=10000
seconds=24
bed up --hosts 9 --titad >/dev/null

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(cat "$state/h7.pid")/status"; }
metric() { # host, regex of the series → sum of its values
	bed metrics "$1" | awk -v re="$2" '$0 ~ re { s += $NF } END { printf "%.9g\n", s }'
}
# A new sender towards h7: ms from its first packet to its first grant.
join_ms() { # host
	poll "$1" "pairs role tx" "$(paced 10.77.0.7)" 3000 \
		"nsenter --net=$(netns "$1") $gen send 10.77.0.7,rate=20M --duration 2s >/dev/null 2>&1 &"
}
# The same join, and h7's own demand-to-grant time for it (ms, from its
# histogram's sum and count around the join; -1 when it counted none):
# "sender's ms h7's ms".
join_sample() { # host
	local s0 n0 s1 n1 t
	s0=$(metric h7 '^tita_demand_to_grant_seconds_sum')
	n0=$(metric h7 '^tita_demand_to_grant_seconds_count')
	t=$(join_ms "$1")
	s1=$(metric h7 '^tita_demand_to_grant_seconds_sum')
	n1=$(metric h7 '^tita_demand_to_grant_seconds_count')
	awk -v t="$t" -v s="$s1" -v s0="$s0" -v n="$n1" -v n0="$n0" \
		'BEGIN { if (n > n0) printf "%s %.6f\n", t, 1000 * (s - s0) / (n - n0); else print t, -1 }'
}
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bg h7 "$gen" sink --duration 40s --idle 5s >/dev/null 2>&1
sleep 0.3
bg h1 "$gen" send 10.77.0.7,rate=20M --duration 25s >/dev/null
bg h2 "$gen" send 10.77.0.7,rate=20M --duration 25s >/dev/null
t=$(poll h2 "pairs role tx" "$(paced 10.77.0.7)" 5000)
check "h1 and h2 are paced by h7 ($t ms)" [ "$t" != timeout ]
sleep 1

# h7's ms of the joins that it counted (a join it counted none for, -1,
# is left out: too few left is a failure of its own).
counted() { for v in "$@"; do awk_true 'v >= 0' v="$v" && echo "$v"; done; }

# ---- quiet ----------------------------------------------------------------------------
quiet_hosts="h3 h4 h5 h6"
q=() hq=()
for h in $quiet_hosts; do
	read -r t ht < <(join_sample "$h")
	q+=("$t") hq+=("$ht")
done
check "quiet: $quiet_hosts get their first grant (${q[*]} ms)" \
	[ "$(printf '%s\n' "${q[@]}" | grep -c timeout)" -eq 0 ]
rss0=$(rss_kb)
# Their pairs must be gone, at both ends, before they join again as new
# ones under the flood (each one's traffic lasts 2 s).
for h in $quiet_hosts; do
	n=${h#h}
	poll "$h" "pairs role tx" "pair(j, '10.77.0.7') is None" 8000 >/dev/null
	poll h7 "pairs role rx" "pair(j, '10.77.0.$n') is None" 8000 >/dev/null
done

# ---- flood ------------------------------------------------------------------------------
bg h1 "$flood" --to 10.77.0.7 --pps "$pps" --seconds "$seconds" --dev eth0 --capture-ms 1000 >"$work/flood.json"
flood_pid=$bg_pid
sleep 1.5 # the capture, then the flood under way
flood_t0=$SECONDS
flood_hosts="h5 h3 h4 h6 h8 h9"
f=() hf=()
granted=0
for h in $flood_hosts; do
	read -r t ht < <(join_sample "$h")
	f+=("$t") hf+=("$ht")
	# Between the first two joins, h1 and h2 are looked at.
	[ "$h" = h5 ] || continue
	for _ in $(seq 10); do
		[ "$(poll h1 "pairs role tx" "$(paced 10.77.0.7)" 0)" != timeout ] &&
			[ "$(poll h2 "pairs role tx" "$(paced 10.77.0.7)" 0)" != timeout ] &&
			granted=$((granted + 1))
		sleep 0.1
	done
done
# Every join was under the flood: it sends for $seconds s.
echo "# the joins under the flood took $((SECONDS - flood_t0)) s"
flood_lasted=0
kill -0 "$flood_pid" 2>/dev/null && flood_lasted=1
rss1=$(rss_kb)
wait "$flood_pid" || true
echo "# flood: $(cat "$work/flood.json")"

check "flood: the flood lasted through the joins" [ "$flood_lasted" = 1 ]
check "flood: h1 and h2 stayed granted ($granted of 10 looks)" [ "$granted" -ge 9 ]
check "flood: $flood_hosts get their first grant (${f[*]} ms)" \
	[ "$(printf '%s\n' "${f[@]}" | grep -c timeout)" -eq 0 ]
# The daemon's own grant latency (its demand-to-grant histogram around
# each join): the median of the joins it counted, at least three of
# each.
mapfile -t hq_n < <(counted "${hq[@]}")
mapfile -t hf_n < <(counted "${hf[@]}")
check "h7 counted the joins' first grants (${#hq_n[@]} of ${#hq[@]} quiet, ${#hf_n[@]} of ${#hf[@]} under flood)" \
	[ "${#hq_n[@]}" -ge 3 ] && [ "${#hf_n[@]}" -ge 3 ]
hq_med=$(echo "${hq_n[*]}" | median)
hf_med=$(echo "${hf_n[*]}" | median)
check "h7's grant latency under flood within 2x of quiet + one 1 ms interval (demand to grant, median: $hf_med ms of ${hf[*]} vs $hq_med ms of ${hq[*]})" \
	awk_true 'q > 0 && f > 0 && f <= 2 * q + 1' f="$hf_med" q="$hq_med"
# End to end, from a new sender's first packet to its pacer's first grant:
# this includes the sender's own detection and two CPUs shared with the
# flood and the traffic, so it gets 50 ms of slack on top of 2x.
quiet=$(echo "${q[*]}" | median)
loud=$(echo "${f[*]}" | median)
check "a new sender's time to its first grant under flood within 2x of quiet + 50 ms (median $loud ms vs $quiet ms)" \
	awk_true 'l <= 2 * q + 50 * k' l="$loud" q="$quiet" k="$slow_factor"
if [ "$asan" = 0 ]; then
	check "h7's memory stays bounded (RSS $rss0 kB before, $rss1 kB during the flood)" \
		awk_true 'b - a < 2048' a="$rss0" b="$rss1"
else
	echo "# h7's RSS $rss0 kB before, $rss1 kB during the flood (AddressSanitizer's quarantine: not a bound)"
fi
check "h7's titad survived" kill -0 "$(cat "$state/h7.pid")"

bed metrics h7 | grep '^tita_peer_datagrams_dropped_total' | awk '$2 > 0' >"$work/drops.txt" || true
echo "# h7's drops by reason: $(tr '\n' ' ' <"$work/drops.txt")"
bad_mac=$(metric h7 '^tita_peer_datagrams_dropped_total\{reason="bad_mac"\}')
replay=$(metric h7 '^tita_peer_datagrams_dropped_total\{reason="(replayed_seq|seq_too_old|stale_boot_id)"\}')
framing=$(metric h7 '^tita_peer_datagrams_dropped_total\{reason="(oversized|bad_magic|unknown_version|bad_flags|truncated_[a-z_]*|unknown_key_id)"\}')
check "forged datagrams counted as bad_mac ($bad_mac)" awk_true 'n > 0' n="$bad_mac"
check "replays counted as replayed or too old ($replay)" awk_true 'n > 0' n="$replay"
check "garbage counted by its framing faults ($framing)" awk_true 'n > 0' n="$framing"
total=$(metric h7 '^tita_peer_datagrams_dropped_total')
untracked=$(metric h7 '^tita_peer_untracked_drops_total')
sent=$(jget "$work/flood.json" 'd["garbage"] + d["forged"] + d["replayed"]')
check "every flood datagram is accounted a drop ($total by reason + $untracked untracked of $sent sent)" \
	awk_true 'd + u >= s * 0.99' d="$total" u="$untracked" s="$sent"

finish
