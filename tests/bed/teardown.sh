#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Stopping the bed with everything running leaves nothing behind: no
# namespace, veth, pin, process or state, both after an orderly `down` and
# after a crash (titads killed with SIGKILL, which leaves their pins and
# rules by design, and the bed's state file lost); a two-tier fabric's
# leaves and spines too.
#
# Usage: teardown.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"

with_titad=0
if [ -x "$titad" ] && [ -x "$titactl" ]; then
	with_titad=1
else
	echo "# titad is not built: the bed runs without it" >&2
fi

leftovers() { # prints what of the bed still exists
	ip netns list | awk '{ print $1 }' | grep -E "^$bed_name-" | sed 's/^/namespace /'
	[ ! -e "/sys/fs/bpf/tita-bed/$bed_name" ] || echo "pins /sys/fs/bpf/tita-bed/$bed_name"
	[ ! -e "$state" ] || echo "state $state"
	for p in "$@"; do
		# A zombie has exited; only its parent can reap it.
		grep -qsE '^State:[[:space:]]+[A-WY]' "/proc/$p/status" &&
			echo "process $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null))"
	done
	# Every veth of the bed lives in its namespaces; none may have moved
	# to the root namespace when they went away.
	ip -o link show type veth 2>/dev/null | grep -E ': (p[0-9]+|[ud][0-9]+|eth0)@' | sed 's/^/veth /'
	return 0
}

running_bed() { # starts a bed with traffic, prints the pids it started
	local pids=()
	if [ "$with_titad" = 1 ]; then
		bed up --hosts 4 --titad >/dev/null
		for i in 1 2 3 4; do pids+=("$(cat "$state/h$i.pid")"); done
	else
		bed up --hosts 4 >/dev/null
	fi
	nsenter --net="/run/netns/$bed_name-h4" "$gen" sink --duration 60s >/dev/null 2>&1 &
	pids+=($!)
	sleep 0.3
	for i in 1 2 3; do
		nsenter --net="/run/netns/$bed_name-h$i" "$gen" send 10.77.0.4 --duration 60s >/dev/null 2>&1 &
		pids+=($!)
	done
	nsenter --net="/run/netns/$bed_name-sw" "$marker" sample --duration 60 p4 >/dev/null 2>&1 &
	pids+=($!)
	echo "${pids[@]}"
}

# ---- an orderly down, with everything running ----------------------------------------
read -r -a pids <<<"$(running_bed)"
sleep 1.5
if [ "$with_titad" = 1 ]; then
	check "titad holds pins while it runs" [ -d "/sys/fs/bpf/tita-bed/$bed_name/h1" ]
	check "titad paces: h1 has tita's HTB" bash -c "nsenter --net=/run/netns/$bed_name-h1 tc qdisc show dev eth0 | grep -q 'htb 7174:'"
fi
check "traffic flows ($(port_drops 4) drops at p4 so far)" bash -c "[ \$(nsenter --net=/run/netns/$bed_name-sw tc -s -j qdisc show dev p4 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"packets\"])') -gt 1000 ]"
t0=$(date +%s%N)
bed down
t1=$(date +%s%N)
left=$(leftovers "${pids[@]}")
check "down leaves nothing behind (in $(((t1 - t0) / 1000000)) ms)${left:+: $left}" [ -z "$left" ]
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done

# ---- after a crash ----------------------------------------------------------------------------
read -r -a pids <<<"$(running_bed)"
sleep 1
if [ "$with_titad" = 1 ]; then
	for i in 1 2 3 4; do kill -KILL "$(cat "$state/h$i.pid")"; done
	sleep 0.2
	check "killed titads left their pins (as designed)" [ -d "/sys/fs/bpf/tita-bed/$bed_name/h1" ]
fi
# The crash also lost the bed's state: down must work from the names alone.
rm -f "$state/env" "$state"/h*.pid
bed down
left=$(leftovers "${pids[@]}")
check "down after a crash leaves nothing behind${left:+: $left}" [ -z "$left" ]
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done

# ---- a fabric, after a crash ----------------------------------------------------------------
if [ "$with_titad" = 1 ]; then
	bed up --leaves 2 --hosts-per-leaf 2 --spines 2 --titad >/dev/null
else
	bed up --leaves 2 --hosts-per-leaf 2 --spines 2 >/dev/null
fi
pids=()
[ "$with_titad" = 0 ] || for i in 1 2 3 4; do pids+=("$(cat "$state/h$i.pid")"); done
nsenter --net="/run/netns/$bed_name-h4" "$gen" sink --duration 60s >/dev/null 2>&1 &
pids+=($!)
sleep 0.3
nsenter --net="/run/netns/$bed_name-h1" "$gen" send 10.77.2.4 --duration 60s >/dev/null 2>&1 &
pids+=($!)
nsenter --net="/run/netns/$bed_name-l1" "$marker" sample --duration 60 u1 u2 >/dev/null 2>&1 &
pids+=($!)
sleep 1
check "cross-leaf traffic flows through the spines" bash -c "[ \$(BED_NAME=$bed_name '$bedsh' qdisc s1 s2 | python3 -c 'import json,sys; print(sum(json.loads(l)[\"qdisc\"][0][\"packets\"] for l in sys.stdin if \"d2\" in l))') -gt 1000 ]"
if [ "$with_titad" = 1 ]; then
	for i in 1 2 3 4; do kill -KILL "$(cat "$state/h$i.pid")"; done
	sleep 0.2
fi
rm -f "$state/env" "$state"/h*.pid
bed down
left=$(leftovers "${pids[@]}")
check "a fabric's down after a crash leaves nothing behind${left:+: $left}" [ -z "$left" ]
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done

# ---- down is idempotent ------------------------------------------------------------------------
check "down on nothing succeeds" bed down

finish
