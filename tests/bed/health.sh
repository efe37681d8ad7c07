#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Health evidence end to end: h1 and h2 send to h3; after a few seconds
# h1's link is made slow under its pacer (a tbf of 40 Mbit/s as the leaf
# qdisc of h1's HTB class towards h3: the class is paced at its grant, but
# its bytes leave at the tbf's rate, as behind a slow NIC). h1's
# tita_health_tx_blocked_ratio on /metrics rises while h2's stays low, and
# h3's view (what it granted that arrived) says the same. Then h3 dies,
# and h1 reports it silent.
#
# Each health interval (1 s) is one sample of /metrics; the verdict is on
# medians of several samples. A window is measured again (up to three
# times) when its samples are not of a running flow (a sender that sent
# nothing, a generator not yet scheduled on a busy machine); the
# thresholds never change.
#
# Usage: health.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad

bed up --hosts 3 --titad >/dev/null

seconds=24
bg h3 "$gen" sink --duration "$((seconds + 3))s" --idle 1s >/dev/null 2>&1
sink=$bg_pid
sleep 0.3
bg h1 "$gen" send 10.77.0.3,qp=0x101 --duration "${seconds}s" >"$work/h1.json"
bg h2 "$gen" send 10.77.0.3,qp=0x102 --duration "${seconds}s" >"$work/h2.json"

# One sample a health interval: host, blocked ratio, bytes sent per second.
sample() { # host
	bed metrics "$1" | awk -v h="$1" '
		/^tita_health_tx_blocked_ratio\{port="eth0"\}/ { b = $2 }
		/^tita_health_tx_bytes_per_second\{port="eth0"\}/ { t = $2 }
		END { print h, (b == "" ? "nan" : b), (t == "" ? 0 : t) }'
}
# h3's shortfall of what it granted each sender, as h1/h2's: "h3-h1" and
# "h3-h2" lines with the pair's ratio and h3's received bytes per second.
sample_rx() {
	bed metrics h3 | awk '
		/^tita_health_pair_shortfall_ratio\{port="eth0",peer="10.77.0.1",role="rx"/ { a = $2 }
		/^tita_health_pair_shortfall_ratio\{port="eth0",peer="10.77.0.2",role="rx"/ { b = $2 }
		/^tita_health_rx_bytes_per_second\{port="eth0"\}/ { t = $2 }
		END { print "h3-h1", (a == "" ? "nan" : a), t; print "h3-h2", (b == "" ? "nan" : b), t }'
}
# N samples of h1, h2 and h3, a health interval apart, into FILE.
window() { # file, n
	: >"$1"
	for _ in $(seq "$2"); do
		{
			sample h1
			sample h2
			sample_rx
		} >>"$1"
		sleep 1
	done
}
# The median blocked ratio of HOST over samples that sent (a window whose
# sender sent in fewer than 3 samples is "short").
median() { # file, host
	python3 - "$1" "$2" <<'EOF'
import sys
v = sorted(float(b) for h, b, t in (l.split() for l in open(sys.argv[1]))
           if h == sys.argv[2] and b != "nan" and float(t) > 1e5)
print("%.3f" % v[len(v) // 2] if len(v) >= 3 else "short")
EOF
}
measure() { # file, n: measured again while a host's window is short
	for _ in 1 2 3; do
		window "$1" "$2"
		[ "$(median "$1" h1)" != short ] && [ "$(median "$1" h2)" != short ] && return
	done
}

# Before: both senders paced, neither blocked.
sleep 3
measure "$work/before" 5
b1=$(median "$work/before" h1)
b2=$(median "$work/before" h2)
check "before: h1 is not blocked (median $b1 of 5 intervals)" awk_true 'v != "short" && v < 0.15' v="$b1"
check "before: h2 is not blocked (median $b2)" awk_true 'v != "short" && v < 0.15' v="$b2"

# h1's class towards h3 (the only paced class on its eth0) gets the slow
# leaf qdisc.
# (tc prints no JSON for classes.)
class=$(bed exec h1 tc class show dev eth0 | awk '$2 == "htb" && $3 != "7174:1" { print $3; exit }')
check "h1 paces h3 in an HTB class of its own ($class)" [ -n "$class" ]
check "h1's link slowed to 40 Mbit/s under the class" \
	bed exec h1 tc qdisc add dev eth0 parent "$class" handle 10: tbf rate 40mbit burst 16k latency 200ms

sleep 2
measure "$work/after" 7
a1=$(median "$work/after" h1)
a2=$(median "$work/after" h2)
check "after: h1's tx_blocked_ratio rises (median $a1 of 7 intervals; before $b1)" \
	awk_true 'v != "short" && v >= 0.3' v="$a1"
check "after: h2's stays low (median $a2)" awk_true 'v != "short" && v < 0.15' v="$a2"
r1=$(median "$work/after" h3-h1)
r2=$(median "$work/after" h3-h2)
check "after: h3 misses much of what it grants h1 (pair shortfall median $r1)" \
	awk_true 'v != "short" && v >= 0.3' v="$r1"
check "after: h3 gets what it grants h2 (median $r2)" awk_true 'v != "short" && v < 0.15' v="$r2"
echo "# h1 before/after $b1/$a1, h2 $b2/$a2" >&2
sed 's/^/# after: /' "$work/after" >&2

# h3 dies (its titad and its application): h1 and h2, which had pairs
# with it, report a silent peer once it has sent nothing for 3 s (the
# floor under 3 grant TTLs: hellos come once a second).
kill "$sink" 2>/dev/null || true
bed titad kill h3
silent=""
for _ in $(seq 12); do
	sleep 1
	silent=$(bed metrics h1 | awk '/^tita_health_peers_silent\{port="eth0"\}/ { print $2 }')
	[ "${silent:-0}" -ge 1 ] && break
done
check "h1 reports h3 silent after its death (peers_silent ${silent:-none})" \
	awk_true 'v >= 1' v="${silent:-0}"
check "h1 names it: tita_health_peer_silent_seconds{peer=\"10.77.0.3\"}" \
	bash -c "BED_NAME=$bed_name BED_BUILD=$build '$bedsh' metrics h1 | grep -q '^tita_health_peer_silent_seconds{port=\"eth0\",peer=\"10.77.0.3\"}'"

finish
