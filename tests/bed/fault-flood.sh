#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A titad under a flood of bad datagrams keeps serving its real peers.
# h7 receives from h1 and h2 (paced by its grants) while h1 floods it with
# garbage, forged (bad MAC) and replayed (captured, authentic, already
# seen) datagrams: 10000 per second for 6 s (tests/bed/tita-flood.c).
# The real senders run at 20 Mbit/s each, well under h7's link: this test
# is about the flood, and an incast at line rate saturates the bed's two
# CPUs on its own, so that the flood rate and both latencies measured the
# scheduler rather than titad (seen: 2-4 ms, quiet or not).
#
#   - h1's and h2's pairs stay granted through the flood;
#   - grant latency stays within 2x of the quiet case: h7's own demand-to-
#     grant time (its histogram, read around each join) for pairs that join
#     before the flood (h3, h4) and during it (h5, h6, h8, h9), and, with
#     50 ms of slack for two shared CPUs, those senders' time from first
#     packet to first grant. Under the flood the median of the four joins
#     is judged: one join that waited for a CPU taken by the flood's own
#     generator is the machine, not titad (seen: one of two at 3 ms);
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
seconds=8
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

# ---- quiet ----------------------------------------------------------------------------
read -r q3 hq3 < <(join_sample h3)
read -r q4 hq4 < <(join_sample h4)
check "quiet: h3 and h4 get their first grant ($q3 ms, $q4 ms)" [ "$q3" != timeout ] && [ "$q4" != timeout ]
rss0=$(rss_kb)

# ---- flood ------------------------------------------------------------------------------
bg h1 "$flood" --to 10.77.0.7 --pps "$pps" --seconds "$seconds" --dev eth0 --capture-ms 1000 >"$work/flood.json"
flood_pid=$bg_pid
sleep 1.5 # the capture, then the flood under way
read -r f5 hf5 < <(join_sample h5)
granted=0
for _ in $(seq 10); do
	[ "$(poll h1 "pairs role tx" "$(paced 10.77.0.7)" 0)" != timeout ] &&
		[ "$(poll h2 "pairs role tx" "$(paced 10.77.0.7)" 0)" != timeout ] &&
		granted=$((granted + 1))
	sleep 0.1
done
read -r f6 hf6 < <(join_sample h6)
read -r f8 hf8 < <(join_sample h8)
read -r f9 hf9 < <(join_sample h9)
rss1=$(rss_kb)
wait "$flood_pid" || true
echo "# flood: $(cat "$work/flood.json")"

check "flood: h1 and h2 stayed granted ($granted of 10 looks)" [ "$granted" -ge 9 ]
check "flood: h5, h6, h8 and h9 get their first grant ($f5, $f6, $f8, $f9 ms)" \
	[ "$f5" != timeout ] && [ "$f6" != timeout ] && [ "$f8" != timeout ] && [ "$f9" != timeout ]
# The daemon's own grant latency (its demand-to-grant histogram around
# each join): quiet are h3's and h4's, flood the median of four.
hq=$(echo "$hq3 $hq4" | median)
hf=$(echo "$hf5 $hf6 $hf8 $hf9" | median)
check "h7's grant latency under flood within 2x of quiet + one 1 ms interval (demand to grant, median: $hf ms of $hf5 $hf6 $hf8 $hf9 vs $hq ms of $hq3 $hq4)" \
	awk_true 'q > 0 && f > 0 && f <= 2 * q + 1' f="$hf" q="$hq"
# End to end, from a new sender's first packet to its pacer's first grant:
# this includes the sender's own detection and two CPUs shared with the
# flood and the traffic, so it gets 50 ms of slack on top of 2x.
quiet=$(echo "$q3 $q4" | median)
loud=$(echo "$f5 $f6 $f8 $f9" | median)
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
