#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# State taken from under running titads (finding 9), h1, h2 and h3 sending
# to h4, paced by its grants:
#
#   - kill -9 of a sender's titad (h1): its HTB class stays, but within the
#     grant TTL its traffic leaves the class for the unpaced default one
#     (the class map's entry expired, its titad no longer renewing it);
#   - h2's pins deleted: titad pins them again within a couple of seconds,
#     and SIGTERM then leaves nothing attached;
#   - h3's eth0 set down, then deleted: `titactl ports` says so and its
#     pairs run unpaced; set up again, and created again (a new ifindex, as
#     a NIC unplugged and plugged back): the datapath is attached again and
#     h3 is paced again.
#
# Usage: redteam-state.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad

ttl_ms=100
bed up --hosts 4 --titad --ttl "${ttl_ms}ms" >/dev/null
in_h() { local h=$1; shift; nsenter --net="$(netns "$h")" "$@"; }
class_bytes() { # host → "default paced" bytes sent by its HTB classes on eth0
	# (iproute2 6.1 has no JSON for classes)
	in_h "$1" tc -s class show dev eth0 | awk '
		/^class htb/ { def = $3 == "7174:1" }
		/^ Sent / { if (def) d += $2; else p += $2 }
		END { print d + 0, p + 0 }'
}
port_state() { # host → its eth0's state as titactl ports says it
	"$titactl" -s "$state/$1.sock" -j ports | python3 -c '
import json, sys
print(next((p.get("state", "?") for p in json.load(sys.stdin) if p["ifname"] == "eth0"), "none"))'
}
wait_state() { # host, state, timeout in 0.1 s → 0 when it was seen
	for _ in $(seq "$3"); do
		[ "$(port_state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

bg h4 "$gen" sink --duration 60s --idle 10s >/dev/null 2>&1
sleep 0.3
for h in h1 h2 h3; do bg "$h" "$gen" send 10.77.0.4 --duration 50s >/dev/null; done
for h in h1 h2 h3; do
	t=$(poll "$h" "pairs role tx" "$(paced 10.77.0.4)" 5000)
	check "$h is paced by h4 ($t ms)" test "$t" != timeout
done
sleep 1

# ---- kill -9 of a sender ----------------------------------------------------------------
read -r d0 p0 <<<"$(class_bytes h1)"
sleep 0.5
read -r d1 p1 <<<"$(class_bytes h1)"
check "before: h1's traffic goes through its paced class ($((p1 - p0)) bytes in 0.5 s, default $((d1 - d0)))" \
	awk_true 'p > 10 * (d + 1)' p=$((p1 - p0)) d=$((d1 - d0))
kill -KILL "$(cat "$state/h1.pid")"
sleep "$(awk -v t=$ttl_ms -v k="$slow_factor" 'BEGIN { print (t + 100) * k / 1000 }')"
read -r d2 p2 <<<"$(class_bytes h1)"
sleep 0.5
read -r d3 p3 <<<"$(class_bytes h1)"
check "after kill -9 and the TTL: h1's traffic leaves its paced class for the unpaced default one (paced $((p3 - p2)), default $((d3 - d2)) bytes in 0.5 s)" \
	awk_true 'd > 10 * (p + 1) && d > 1000000' p=$((p3 - p2)) d=$((d3 - d2))
check "the dead titad's HTB class is still there (fail-open does not need it gone)" \
	bash -c "nsenter --net=$(netns h1) tc class show dev eth0 | grep -v ' 7174:1 ' | grep -q 'class htb 7174:'"

# ---- pins deleted ----------------------------------------------------------------------------
pins=/sys/fs/bpf/tita-bed/$bed_name
rm -rf "$pins/h2"
repinned=0
for _ in $(seq 30); do
	[ -e "$pins/h2/eth0/xdp_prog" ] && [ -e "$pins/h2/eth0/tc_prog" ] && { repinned=1; break; }
	sleep 0.1
done
check "h2's titad pins its datapath again after the pins were deleted" [ "$repinned" = 1 ]
check "and says so" grep -q "pins were deleted under titad; pinned again" "$state/h2.log"
bed titad stop h2
check "SIGTERM leaves no XDP program on h2's eth0" \
	bash -c "! nsenter --net=$(netns h2) ip link show dev eth0 | grep -q xdp"
check "nor a tc filter or clsact" \
	bash -c "! nsenter --net=$(netns h2) tc qdisc show dev eth0 | grep -q clsact"
check "nor pins" [ ! -e "$pins/h2" ]

# ---- h3's device down, deleted, back ------------------------------------------------------------
in_h h3 ip link set eth0 down
check "eth0 down: titactl ports says so" wait_state h3 "down: down" 30
t=$(poll h3 "pairs role tx" "$(unpaced 10.77.0.4)" 2000)
check "and h3's pair runs unpaced ($t ms)" test "$t" != timeout
in_h h3 ip link set eth0 up
check "eth0 up again: the port is up" wait_state h3 up 30
in_h h3 ip link del eth0 # the switch's end (p3) goes with it
check "eth0 deleted: titactl ports says so" wait_state h3 "down: deleted" 30
# The NIC plugged back: the same link as scripts/bed.sh makes it, but for
# the switch port's shaper, which this does not need.
nsenter --net="$(netns sw)" ip link add p3 mtu 3000 type veth peer name eth0 mtu 3000 \
	netns "$(netns h3)"
in_h h3 ip link set eth0 address 02:77:00:00:00:03
nsenter --net="$(netns sw)" ip link set p3 address 02:77:00:00:01:03
in_h h3 ip addr add 10.77.0.3/24 dev eth0
in_h h3 ip link set eth0 up
nsenter --net="$(netns sw)" ip link set p3 master br0
nsenter --net="$(netns sw)" ip link set p3 up
nsenter --net="$(netns sw)" bridge fdb replace 02:77:00:00:00:03 dev p3 master static
for j in 1 2 4; do
	in_h h3 ip neigh replace "10.77.0.$j" lladdr "02:77:00:00:00:0$j" dev eth0 nud permanent
done
check "eth0 created again: the datapath is attached again and the port is up" wait_state h3 up 50
check "the metrics say it is up, and was taken again" \
	bash -c "bed() { BED_NAME=$bed_name BED_BUILD=$build $bedsh \"\$@\"; }; bed metrics h3 | grep -q '^tita_port_up{port=\"eth0\"} 1'"
check "with one XDP program and one tc filter on the new eth0" \
	bash -c "nsenter --net=$(netns h3) ip -d link show dev eth0 | grep -q 'prog/xdp' &&
		[ \$(nsenter --net=$(netns h3) tc filter show dev eth0 egress | grep -c direct-action) = 1 ]"
bg h3 "$gen" send 10.77.0.4 --duration 10s >/dev/null
t=$(poll h3 "pairs role tx" "$(paced 10.77.0.4)" 5000)
check "and h3 is paced by h4 again ($t ms)" test "$t" != timeout
check "h3's and h4's titads survived" kill -0 "$(cat "$state/h3.pid")" "$(cat "$state/h4.pid")"

finish
