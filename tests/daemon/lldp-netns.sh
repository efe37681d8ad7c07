#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# titad's LLDP check against real lldpd daemons in network namespaces: a
# host with three NICs, one cabled to the leaf the topology names, one to
# another switch, one to a switch that runs no LLDP. lldpd runs on the
# switches (announcing leaf7 and leaf9) and, receive-only, on the host;
# lldp-tool asks the host's lldpd through liblldpctl, as titad does.
# Checked: match with the switch's name and port, mismatch naming what LLDP
# sees, no neighbour; and with the host's lldpd stopped, a clear "does not
# run" and no check, not a failure.
#
# Usage: lldp-netns.sh LLDP_TOOL   (root; exit 77 = skipped, unless CI=true)
set -euo pipefail

tool=$1

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, lldpd)"
for t in ip lldpd; do
	command -v "$t" >/dev/null || skip "needs $t (Debian: lldpd; scripts/setup.sh installs it)"
done

id=$$
ns() { echo "ttll$id-$1"; }
# lldpd drops to its own user: its files must be reachable by it.
tmp=$(mktemp -d /tmp/tita-lldp.XXXXXX)
chmod 755 "$tmp"
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for n in host sw7 sw9 dumb; do ip netns del "$(ns $n)" 2>/dev/null; done
	if [ "$failures" -ne 0 ]; then
		for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

for n in host sw7 sw9 dumb; do
	ip netns add "$(ns $n)"
	ip -n "$(ns $n)" link set lo up
done
link() { # host NIC, switch namespace, switch port
	ip -n "$(ns host)" link add "$1" type veth peer name "$3" netns "$(ns "$2")"
	ip -n "$(ns host)" link set "$1" up
	ip -n "$(ns "$2")" link set "$3" up
}
link eth0 sw7 swp1
link eth1 sw9 Ethernet3
link eth2 dumb swp5

# A switch's lldpd: its system name from the configuration it starts with,
# announcing every second.
switch_lldpd() { # namespace, system name, port
	printf 'configure system hostname %s\nconfigure lldp tx-interval 1\n' "$2" >"$tmp/$1.conf"
	chmod 644 "$tmp/$1.conf"
	ip netns exec "$(ns "$1")" lldpd -d -u "$tmp/$1.sock" -O "$tmp/$1.conf" -I "$3" \
		>"$tmp/$1.log" 2>&1 &
	pids+=($!)
}
switch_lldpd sw7 leaf7 swp1
switch_lldpd sw9 leaf9 Ethernet3
ip netns exec "$(ns host)" lldpd -d -r -u "$tmp/host.sock" -O /dev/null -I eth0,eth1,eth2 \
	>"$tmp/host.log" 2>&1 &
host_pid=$!
pids+=("$host_pid")

# Until both switches are heard (they announce at start and every second).
out=
for _ in $(seq 100); do
	out=$("$tool" "$tmp/host.sock" eth0=leaf7 eth1=leaf8 eth2=leaf8 2>&1) || true
	grep -q '^match eth0' <<<"$out" && grep -q '^mismatch eth1' <<<"$out" && break
	sleep 0.1
done
echo "$out"
check "eth0: matches its leaf, by name and port" \
	grep -qx 'match eth0: LLDP sees leaf7 port swp1, as the topology says' <<<"$out"
check "eth1: cabled to another switch, and says which" \
	grep -qx 'mismatch eth1: LLDP sees leaf9 port Ethernet3, the topology says leaf8' <<<"$out"
check "eth2: no neighbour" \
	grep -qx 'no_neighbor eth2: LLDP sees no neighbour; the topology says leaf8' <<<"$out"

# The host's lldpd stops: not a failure, and said plainly.
kill "$host_pid"
wait "$host_pid" 2>/dev/null || true
rc=0
out=$("$tool" "$tmp/host.sock" eth0=leaf7) || rc=$?
echo "$out"
check "no lldpd: exit 3 and 'does not run'" \
	test "$rc" = 3 -a -n "$(grep -E '^error -(2|111): lldpd does not run' <<<"$out")"
check "no lldpd: the NIC is not checked" \
	grep -qx 'no_lldpd eth0: not checked by LLDP (lldpd cannot be asked)' <<<"$out"

echo "lldp-netns: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
