#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tita's test bed: a virtual RoCE cluster of network namespaces on one
# machine. N hosts (NAME-h1 .. NAME-hN) hang off one switch (NAME-sw, a
# bridge) by veth pairs; addresses live only inside these namespaces.
#
#   host hI: eth0 10.77.0.I/24 ── veth ── pI: switch br0 (10.77.0.254/24)
#
# Each switch port's egress (towards its host) behaves as a switch's: HTB
# shapes it to the link rate (default 200 Mbit/s, what two CPU cores
# carry), a byte FIFO below it is the port's buffer (default 128000 bytes,
# tail drop), and a test-only tc program on it (tools/gen/ecn_marker.bpf.c)
# marks ECT packets CE from a phantom queue with RED's Kmin/Kmax/Pmax, as a
# DCQCN switch would. Hosts send at most the link rate themselves
# (tita-roce paces at its --line-rate, as a NIC's port does). The Ethernet
# MTU is 3000 for tita-roce's 2048-byte RoCE MTU: fewer packets for two
# cores than 1024, and still below what native XDP on a veth accepts.
#
# With --leaves L, a two-tier fabric replaces the switch: L leaf namespaces
# (NAME-l1 ..) with --hosts-per-leaf H hosts each and --spines S spine
# namespaces (NAME-s1 ..), every leaf joined to every spine by a veth pair.
# Leaves and spines route, they do not bridge: from leaf to leaf the kernel
# spreads packets over the spines by ECMP on the 5-tuple
# (fib_multipath_hash_policy 3 with fib_multipath_hash_fields 0x37: the
# source and destination address, protocol and ports; policy 1 would reuse
# the hash a local socket stamped on the packet, which travels with it over
# a veth, so the same 5-tuple could take either spine), so a RoCE packet's
# UDP source port picks its spine, as in a RoCE fabric. Hosts are numbered across the fabric (l1 has
# h1..hH, l2 hH+1..h2H); two leaves, two spines, two hosts a leaf:
#
#   h1 ── p1 ┐             ┌ d1 ─ s1 ─ d2 ┐             ┌ p3 ── h3
#            ├ l1 ─ u1 ────┘              └──── u1 ─ l2 ┤
#   h2 ── p2 ┘    ─ u2 ────┐              ┌──── u2 ─    └ p4 ── h4
#                          └ d1 ─ s2 ─ d2 ┘
#
#   host hI on leaf lL  eth0 10.77.L.I/24, default via 10.77.L.254 (the
#                       leaf; the other hosts of lL are reached through it)
#   leaf lL             pI towards hI (10.77.L.254/32 on lo, a /32 route per
#                       host), uS towards spine sS: 10.78.S.(2L+1)/31; to
#                       another leaf's /24 one nexthop through every spine
#   spine sS            dL towards leaf lL: 10.78.S.(2L)/31, a route per leaf
#
# Every port whose egress can congest is a switch port as above (HTB at the
# link rate, FIFO, ECN marker): leaf→host pI, leaf→spine uS, spine→leaf dL.
# A switch never reorders a flow, but a veth hands each packet to the
# backlog of the CPU that sends it, and a busy port's queue is drained by
# both CPUs: so every veth of the fabric runs in NAPI mode (GRO on where it
# receives, TSO off where it sends), which keeps a ring in order between
# the two ends; the hosts' eth0 receive so too (GRO on; titad's native XDP
# does the same to them).
# Leaves and spines answer an expiring TTL with ICMP time exceeded, without
# the kernel's rate limit: TTL 1 names the sender's leaf (10.77.L.254), TTL 2
# the spine (10.78.S.even), TTL 3 the far leaf (10.78.S.odd).
#
# With --titad, every host runs a real titad (BUILD/daemon/titad) with the
# real XDP/tc programs and the tc pacer, entered with `nsenter --net` (not
# `ip netns exec`, which remounts /sys and would hide bpffs), with its own
# pin root, control socket and config under /run/tita-bed/NAME/. With
# --pacer qp its pacer is the qp back end instead, whose agent socket is
# /run/tita-bed/NAME/hI.agent.sock: tita-roce's --agent there makes the
# generator a NIC that titad paces and moves (SET_RATE, SET_SPORT). In a
# fabric, titad knows where it sits: the bed writes a topology file in
# tita's format (/run/tita-bed/NAME/topology: each leaf with its hosts'
# addresses, each spine with the /24 its links answer probes from) and a
# [fabric] section naming it.
#
# Usage: bed.sh [OPTIONS] COMMAND [ARGS]
#
#   up                     build the bed (after removing any leftover of NAME)
#   down                   remove everything of NAME: processes, namespaces,
#                          pins, state; works after a crash too; idempotent
#   status                 what exists, as JSON
#   list                   the beds on this machine
#   exec NODE CMD...       run CMD in NODE's network namespace: hI, sw (the
#                          switch), lL and sS (leaves and spines of a fabric)
#   titad start|stop|kill|restart HOST...|all
#                          stop is SIGTERM (titad cleans up), kill is SIGKILL
#   ctl HOST ARGS...       titactl for HOST's titad
#   metrics HOST           HOST's titad's Prometheus page
#   qdisc [HOST]           `tc -s -j qdisc` of the switch port towards HOST (all)
#   marker [HOST]          the ECN marker's counters of that port (all)
#                          In a fabric, qdisc and marker take ports as HOST
#                          (the leaf's port towards it), NODE (all of a leaf's
#                          or spine's ports) or NODE:DEV (l1:u2, s1:d2), all
#                          by default; qdisc prints {"node","dev","qdisc"} a
#                          line, marker one array with "node" in each entry
#   route HOST DEST SPORT...
#                          the nodes a RoCE packet from HOST to DEST with UDP
#                          source port SPORT crosses, by the leaves' ECMP
#                          (`ip route get` in the leaf), e.g. "l1 s2 l2"; a
#                          line for each SPORT
#   probe HOST DEST SPORT [TTL]
#                          send HOST's RoCE-shaped probe with TTL (default
#                          2) and name the node that answered (time
#                          exceeded; the destination host: port unreachable)
#   incast [--from H,H..] [--to H] [--bytes SIZE] [--cc none|dcqcn]
#          [--duration S] [--out DIR] [--step MS]
#                          one incast: a sink on --to (default the last host),
#                          one flow of SIZE (default 25M) from each of --from
#                          (default h1,h2,h3) through tita-roce, the
#                          bottleneck's queue sampled every 5 ms; writes the
#                          raw results and summary.json to DIR and prints
#                          the summary (tools/gen/bed-summary.py)
#   messages [--from H] [--to H] [--bytes SIZE] [--count N] [--gap DUR]
#          [--duration S] [--out DIR]
#                          request/response-like messages: a sink on --to
#                          (default h2), and from --from (default h1) N
#                          (default 100) messages of SIZE (default 16K), one
#                          at a time, each --gap (default 2ms) after the ACK
#                          of the last; writes send.json (each message's
#                          completion, first packet sent to ACK back, and
#                          their p50/p90/p99/max: tita-roce send --messages)
#                          and sink.json to DIR, prints the sender's figures
#
# Options (each also as an environment variable, e.g. BED_RATE=100M):
#   -n, --name NAME        bed name, default tb                      (BED_NAME)
#   -N, --hosts N          2..16 hosts, default 4                    (BED_HOSTS)
#   -L, --leaves L         a fabric of 2..8 leaves instead of the switch;
#                          default 0: the switch                    (BED_LEAVES)
#   -H, --hosts-per-leaf H 1..8 hosts a leaf, at most 16 in all; default 2
#                                                           (BED_HOSTS_PER_LEAF)
#   -S, --spines S         1..8 spines, default 2                   (BED_SPINES)
#   -r, --rate RATE        link rate in bit/s, k/M/G, default 200M   (BED_RATE)
#   -q, --queue BYTES      switch port buffer, default 128000        (BED_QUEUE)
#       --kmin/--kmax BYTES, --pmax P, --gamma G
#                          marking: default 10000 / 40000 / 0.2 / 1.0
#       --mtu BYTES        Ethernet MTU, default 3000                (BED_MTU)
#   -b, --build DIR        meson build directory, default build      (BED_BUILD)
#       --titad            start titad on every host at `up`
#                          (BED_TITAD_BIN: that titad instead of the build's,
#                          here and at `titad start|restart`)
#       --pacer tc|qp      titad's pacer, default tc                 (BED_PACER)
#       --interval DUR, --ttl DUR, --refresh DUR, --eta X
#                          titad's controller: default 1ms, 100ms, 30ms, 0.95
#       --unscheduled DUR  titad's [controller] unscheduled (a message's
#                          first bytes before any grant), default: titad's
#
# The defaults are a 100 Gbit/s fabric slowed down 12.5x in time and scaled
# to 200 Mbit/s in rate (tools/gen/dcqcn.h): Kmin/Kmax 400/1600 KB at 100G
# (HPCC's production values) become 10/40 KB, Pmax stays 0.2, a 5 MB port
# buffer becomes 128 KB, and titad's 100 us interval / 10 ms grant TTL /
# 3 ms refresh become 1 ms / 100 ms / 30 ms (10x, the round number below).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)

name=${BED_NAME:-tb}
hosts=${BED_HOSTS:-}
leaves=${BED_LEAVES:-0}
hosts_per_leaf=${BED_HOSTS_PER_LEAF:-2}
spines=${BED_SPINES:-2}
rate=${BED_RATE:-200M}
queue=${BED_QUEUE:-128000}
kmin=${BED_KMIN:-10000}
kmax=${BED_KMAX:-40000}
pmax=${BED_PMAX:-0.2}
gamma=${BED_GAMMA:-1.0}
mtu=${BED_MTU:-3000}
build=${BED_BUILD:-build}
with_titad=${BED_TITAD:-0}
pacer=${BED_PACER:-tc}
interval=${BED_INTERVAL:-1ms}
ttl=${BED_TTL:-100ms}
refresh=${BED_REFRESH:-30ms}
eta=${BED_ETA:-0.95}
unscheduled=${BED_UNSCHEDULED:-}

die() {
	echo "bed.sh: $*" >&2
	exit 1
}

# A distribution's python3, not a version manager's slow shim.
py=python3
[ ! -x /usr/bin/python3 ] || py=/usr/bin/python3

usage() {
	sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

parse_options() { # sets the globals; leaves the first non-option in $rest
	rest=()
	while [ $# -gt 0 ]; do
		case $1 in
		-n | --name) name=$2; shift 2 ;;
		-N | --hosts) hosts=$2; shift 2 ;;
		-L | --leaves) leaves=$2; shift 2 ;;
		-H | --hosts-per-leaf) hosts_per_leaf=$2; shift 2 ;;
		-S | --spines) spines=$2; shift 2 ;;
		-r | --rate) rate=$2; shift 2 ;;
		-q | --queue) queue=$2; shift 2 ;;
		--kmin) kmin=$2; shift 2 ;;
		--kmax) kmax=$2; shift 2 ;;
		--pmax) pmax=$2; shift 2 ;;
		--gamma) gamma=$2; shift 2 ;;
		--mtu) mtu=$2; shift 2 ;;
		-b | --build) build=$2; shift 2 ;;
		--titad) with_titad=1; shift ;;
		--pacer) pacer=$2; shift 2 ;;
		--interval) interval=$2; shift 2 ;;
		--ttl) ttl=$2; shift 2 ;;
		--refresh) refresh=$2; shift 2 ;;
		--eta) eta=$2; shift 2 ;;
		--unscheduled) unscheduled=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; rest=("$@"); return ;;
		-*) die "unknown option $1 (bed.sh --help)" ;;
		*) rest=("$@"); return ;;
		esac
	done
}

parse_options "$@"
set -- "${rest[@]}"
[ $# -ge 1 ] || { usage >&2; exit 2; }
cmd=$1
shift
# up and down also take their options after the command.
if [ "$cmd" = up ] || [ "$cmd" = down ]; then
	parse_options "$@"
	[ ${#rest[@]} -eq 0 ] || die "$cmd: unexpected '${rest[0]}'"
	set --
fi

[[ $name =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "name '$name': 1-8 lower-case letters and digits, starting with a letter"
[[ $leaves =~ ^[0-9]+$ ]] || die "--leaves $leaves: 2..8 (0: the switch)"
case $build in /*) ;; *) build=$src/$build ;; esac

state=/run/tita-bed/$name
pins=/sys/fs/bpf/tita-bed/$name
ns_sw=$name-sw
ns_host() { echo "$name-h$1"; }
ns_leaf() { echo "$name-l$1"; }
ns_spine() { echo "$name-s$1"; }
leaf_of() { echo $((($1 - 1) / hosts_per_leaf + 1)); } # host index → its leaf
# A host's address: on the switch 10.77.0.I, in a fabric 10.77.L.I.
addr() {
	if [ "$leaves" -gt 0 ]; then
		echo "10.77.$(leaf_of "$1").$1"
	else
		echo "10.77.0.$1"
	fi
}
leaf_gw() { echo "10.77.$1.254"; } # leaf → its address towards its hosts
spine_addr() { echo "10.78.$2.$((2 * $1))"; } # leaf, spine → the spine's end of their link
uplink_addr() { echo "10.78.$2.$((2 * $1 + 1))"; } # leaf, spine → the leaf's end
host_mac() { printf '02:77:00:00:00:%02x' "$1"; }
port_mac() { printf '02:77:00:00:01:%02x' "$1"; } # the switch's or leaf's port pI
uplink_mac() { printf '02:77:02:%02x:%02x:00' "$1" "$2"; } # leaf, spine
downlink_mac() { printf '02:77:03:%02x:%02x:00' "$2" "$1"; } # leaf, spine
peer_port=4792
metrics_port=9977

# A rate with k/M/G (powers of 1000) and an optional "bit" → bit/s.
rate_bps() {
	local v=${1%bit}
	awk -v v="$v" 'BEGIN {
		m = 1; s = v
		if (s ~ /[kK]$/) { m = 1e3; s = substr(s, 1, length(s) - 1) }
		else if (s ~ /M$/) { m = 1e6; s = substr(s, 1, length(s) - 1) }
		else if (s ~ /G$/) { m = 1e9; s = substr(s, 1, length(s) - 1) }
		if (s !~ /^[0-9]+(\.[0-9]+)?$/) exit 1
		printf "%.0f\n", s * m }'
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$cmd needs root (network namespaces, tc, BPF)"
}

in_ns() { # namespace, command...
	local n=$1
	shift
	nsenter --net="/run/netns/$n" "$@"
}

host_index() { # h3 | 3 → 3
	local h=${1#h}
	[[ $h =~ ^[0-9]+$ ]] && [ "$h" -ge 1 ] && [ "$h" -le 16 ] || die "no host '$1' (h1..h16)"
	echo "$h"
}

load_state() {
	[ -r "$state/env" ] || die "no bed '$name' (bed.sh -n $name up)"
	# shellcheck source=/dev/null
	. "$state/env"
}

# ---- teardown ---------------------------------------------------------------------

# The bed's namespaces, whatever state the bed is in (a crash leaves no env).
bed_namespaces() {
	ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E "^$name-(sw|[hls][0-9]+)\$" || true
}

# Whether pid runs: a zombie (exited, not yet reaped by a parent that is
# not ours to fix) holds no namespace and counts as gone.
alive() {
	local st
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

stop_pid() { # pid, signal: signal it, then wait up to 5 s, then SIGKILL
	local pid=$1 sig=${2:-TERM}
	alive "$pid" || return 0
	kill -"$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		alive "$pid" || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 40); do
		alive "$pid" || return 0
		sleep 0.05
	done
}

cmd_down() {
	need_root
	local n pid f
	# titad first, with SIGTERM: it removes its own rules and pins.
	for f in "$state"/h*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		stop_pid "$pid" TERM
		rm -f "$f"
	done
	# Then whatever else still runs in the bed's namespaces (generators,
	# sinks, samplers, a Prometheus): a process keeps its namespace alive
	# after `ip netns del`, so none may survive.
	for n in $(bed_namespaces); do
		for pid in $(ip netns pids "$n" 2>/dev/null); do
			stop_pid "$pid" TERM
		done
	done
	for n in $(bed_namespaces); do
		ip netns del "$n" 2>/dev/null || true
	done
	# Pins of a titad that was killed (they outlive it by design).
	if [ -d "$pins" ]; then
		rm -rf "$pins"
	fi
	rmdir /sys/fs/bpf/tita-bed 2>/dev/null || true
	rm -rf "$state"
	rmdir /run/tita-bed 2>/dev/null || true
}

# ---- build -------------------------------------------------------------------------

write_titad_conf() { # host index
	local i=$1
	cat >"$state/h$i.conf" <<CONF
# titad of bed $name, host h$i (written by scripts/bed.sh).
[daemon]
log-level = info
pacer = $pacer
agent-socket = $state/h$i.agent.sock
control-socket = $state/h$i.sock
control-group = root
control-mode = 0666
metrics-listen = $(addr "$i"):$metrics_port
pin-root = $pins/h$i
state-directory = $state/h$i.state

[controller]
interval = $interval
grant-ttl = $ttl
refresh = $refresh
eta = $eta
$([ -z "$unscheduled" ] || echo "unscheduled = $unscheduled")

[peers]
port = $peer_port
key-file = $state/cluster.key

[port eth0]
address = $(addr "$i")
line-rate = $rate_bps
CONF
	if [ "$leaves" != 0 ]; then
		cat >>"$state/h$i.conf" <<CONF

[fabric]
topology = $state/topology
lldp = off
CONF
	fi
}

# A fabric's topology, as titad reads it (tita-topology(5)).
write_topology() {
	local l s first
	{
		echo "# bed $name (written by scripts/bed.sh)"
		for s in $(seq "$spines"); do echo "spine s$s 10.78.$s.0/24"; done
		for l in $(seq "$leaves"); do
			first=$(((l - 1) * hosts_per_leaf + 1))
			echo "leaf l$l spine-rate=$rate_bps 10.77.$l.[$first-$((first + hosts_per_leaf - 1))]"
		done
	} >"$state/topology"
}

# A switch port's egress, as every port of the bed has it: HTB shapes it to
# the link rate (a burst of two frames keeps the shaper smooth at link
# speed), a byte FIFO below is the port's buffer, and the ECN marker marks.
switch_port() { # namespace, device
	local n=$1 dev=$2 burst=$((2 * mtu + 200))
	in_ns "$n" tc qdisc add dev "$dev" root handle 1: htb default 1
	in_ns "$n" tc class add dev "$dev" parent 1: classid 1:1 htb \
		rate "${rate_bps}bit" ceil "${rate_bps}bit" burst "$burst" cburst "$burst" \
		quantum "$((mtu + 200))"
	in_ns "$n" tc qdisc add dev "$dev" parent 1:1 handle 10: bfifo limit "$queue"
	in_ns "$n" "$build/tools/gen/tita-bed-marker" attach "$dev" --rate "$rate_bps" \
		--gamma "$gamma" --kmin "$kmin" --kmax "$kmax" --pmax "$pmax" --cap "$queue"
}

# Host hI: its namespace and its eth0, the peer of port pI in namespace n
# (the switch's or its leaf's).
host_add() { # index, namespace
	local i=$1 n=$2 h
	h=$(ns_host "$i")
	ip netns add "$h"
	in_ns "$h" ip link set lo up
	in_ns "$n" ip link add "p$i" mtu "$mtu" type veth peer name eth0 mtu "$mtu" \
		netns "/run/netns/$h"
	# Fixed MACs, so that the neighbour tables below need no lookup
	# (/sys under nsenter shows the root namespace's devices).
	in_ns "$h" ip link set eth0 address "$(host_mac "$i")"
	in_ns "$n" ip link set "p$i" address "$(port_mac "$i")"
	in_ns "$h" ip addr add "$(addr "$i")/24" dev eth0
	in_ns "$h" ip link set eth0 up
}

switch_up() {
	local i neigh
	ip netns add "$ns_sw"
	in_ns "$ns_sw" ip link set lo up
	in_ns "$ns_sw" ip link add br0 type bridge stp_state 0 forward_delay 0
	in_ns "$ns_sw" ip link set br0 mtu "$mtu"
	in_ns "$ns_sw" ip addr add 10.77.0.254/24 dev br0
	in_ns "$ns_sw" ip link set br0 up
	for i in $(seq "$hosts"); do
		host_add "$i" "$ns_sw"
		in_ns "$ns_sw" ip link set "p$i" master br0
		in_ns "$ns_sw" ip link set "p$i" up
		switch_port "$ns_sw" "p$i"
	done
	# Static forwarding entries: a bridge floods frames to a MAC it has
	# not learnt, and a sink that never sends would stay unlearnt, so an
	# incast would reach every port.
	for i in $(seq "$hosts"); do
		in_ns "$ns_sw" bridge fdb replace "$(host_mac "$i")" dev "p$i" master static
	done
	# Static neighbours, as a fabric's hosts have after their first
	# exchange: no ARP delay or loss skews the first measured packets.
	for i in $(seq "$hosts") sw; do
		neigh=$(for j in $(seq "$hosts"); do
			[ "$j" = "$i" ] || echo "neigh replace $(addr "$j") lladdr $(host_mac "$j") dev $([ "$i" = sw ] && echo br0 || echo eth0) nud permanent"
		done)
		if [ "$i" = sw ]; then
			in_ns "$ns_sw" ip -batch - <<<"$neigh"
		else
			in_ns "$(ns_host "$i")" ip -batch - <<<"$neigh"
		fi
	done
}

# A leaf's or a spine's namespace: it forwards, hashes ECMP on the 5-tuple,
# and answers every expiring TTL (the kernel would rate-limit those ICMPs
# per destination otherwise, and a probe would go unanswered).
router_add() { # namespace
	ip netns add "$1"
	in_ns "$1" ip link set lo up
	in_ns "$1" sh -c 'cd /proc/sys/net/ipv4 && echo 1 >ip_forward &&
		echo 3 >fib_multipath_hash_policy &&
		echo 0x37 >fib_multipath_hash_fields && echo 0 >icmp_ratelimit &&
		echo 0 >icmp_ratemask && echo 0 >conf/all/rp_filter &&
		echo 0 >conf/default/rp_filter'
}

fabric_up() {
	local i j l m s n cmds
	for l in $(seq "$leaves"); do
		router_add "$(ns_leaf "$l")"
		in_ns "$(ns_leaf "$l")" ip addr add "$(leaf_gw "$l")/32" dev lo
	done
	for s in $(seq "$spines"); do router_add "$(ns_spine "$s")"; done
	for i in $(seq "$hosts"); do
		l=$(leaf_of "$i")
		n=$(ns_leaf "$l")
		host_add "$i" "$n"
		in_ns "$n" ip link set "p$i" up
		in_ns "$n" ethtool -K "p$i" tso off gro on >/dev/null
		in_ns "$(ns_host "$i")" ethtool -K eth0 gro on >/dev/null
		switch_port "$n" "p$i"
		in_ns "$n" ip -batch - <<-CMDS
			route add $(addr "$i")/32 dev p$i src $(leaf_gw "$l")
			neigh replace $(addr "$i") lladdr $(host_mac "$i") dev p$i nud permanent
		CMDS
		# The host reaches everything through its leaf, its own leaf's
		# other hosts too (the leaf routes): static neighbours, as on
		# the switch, all with the leaf port's MAC.
		cmds="route add default via $(leaf_gw "$l") dev eth0"
		cmds+=$'\n'"neigh replace $(leaf_gw "$l") lladdr $(port_mac "$i") dev eth0 nud permanent"
		for j in $(seq "$hosts"); do
			[ "$j" != "$i" ] && [ "$(leaf_of "$j")" = "$l" ] || continue
			cmds+=$'\n'"neigh replace $(addr "$j") lladdr $(port_mac "$i") dev eth0 nud permanent"
		done
		in_ns "$(ns_host "$i")" ip -batch - <<<"$cmds"
	done
	for l in $(seq "$leaves"); do
		for s in $(seq "$spines"); do
			in_ns "$(ns_leaf "$l")" ip link add "u$s" mtu "$mtu" type veth \
				peer name "d$l" mtu "$mtu" netns "/run/netns/$(ns_spine "$s")"
			in_ns "$(ns_leaf "$l")" ip -batch - <<-CMDS
				link set u$s address $(uplink_mac "$l" "$s")
				addr add $(uplink_addr "$l" "$s")/31 dev u$s
				link set u$s up
				neigh replace $(spine_addr "$l" "$s") lladdr $(downlink_mac "$l" "$s") dev u$s nud permanent
			CMDS
			in_ns "$(ns_spine "$s")" ip -batch - <<-CMDS
				link set d$l address $(downlink_mac "$l" "$s")
				addr add $(spine_addr "$l" "$s")/31 dev d$l
				link set d$l up
				neigh replace $(uplink_addr "$l" "$s") lladdr $(uplink_mac "$l" "$s") dev d$l nud permanent
				route add 10.77.$l.0/24 via $(uplink_addr "$l" "$s") dev d$l
			CMDS
			in_ns "$(ns_leaf "$l")" ethtool -K "u$s" tso off gro on >/dev/null
			in_ns "$(ns_spine "$s")" ethtool -K "d$l" tso off gro on >/dev/null
			switch_port "$(ns_leaf "$l")" "u$s"
			switch_port "$(ns_spine "$s")" "d$l"
		done
	done
	# From leaf to leaf, one nexthop through every spine.
	for l in $(seq "$leaves"); do
		cmds=$(for m in $(seq "$leaves"); do
			[ "$m" != "$l" ] || continue
			echo -n "route add 10.77.$m.0/24"
			for s in $(seq "$spines"); do
				echo -n " nexthop via $(spine_addr "$l" "$s") dev u$s"
			done
			echo
		done)
		in_ns "$(ns_leaf "$l")" ip -batch - <<<"$cmds"
	done
}

cmd_up() {
	need_root
	local marker=$build/tools/gen/tita-bed-marker i
	if [ "$leaves" != 0 ]; then
		[ "$leaves" -ge 2 ] && [ "$leaves" -le 8 ] || die "--leaves $leaves: 2..8 (0: the switch)"
		[[ $hosts_per_leaf =~ ^[0-9]+$ ]] && [ "$hosts_per_leaf" -ge 1 ] && [ "$hosts_per_leaf" -le 8 ] ||
			die "--hosts-per-leaf $hosts_per_leaf: 1..8"
		[[ $spines =~ ^[0-9]+$ ]] && [ "$spines" -ge 1 ] && [ "$spines" -le 8 ] || die "--spines $spines: 1..8"
		[ -z "$hosts" ] || [ "$hosts" = $((leaves * hosts_per_leaf)) ] ||
			die "--hosts $hosts: a fabric has --leaves x --hosts-per-leaf = $((leaves * hosts_per_leaf)) hosts"
		hosts=$((leaves * hosts_per_leaf))
		[ "$hosts" -le 16 ] || die "--leaves $leaves x --hosts-per-leaf $hosts_per_leaf: at most 16 hosts"
	fi
	hosts=${hosts:-4}
	[[ $hosts =~ ^[0-9]+$ ]] && [ "$hosts" -ge 2 ] && [ "$hosts" -le 16 ] || die "--hosts $hosts: 2..16"
	rate_bps=$(rate_bps "$rate") || die "--rate $rate is not a rate (e.g. 200M)"
	[ "$rate_bps" -ge 1000000 ] && [ "$rate_bps" -le 10000000000 ] || die "--rate $rate: 1M..10G"
	[[ $queue =~ ^[0-9]+$ ]] && [ "$queue" -ge 3000 ] || die "--queue $queue: bytes, at least 3000"
	[[ $mtu =~ ^[0-9]+$ ]] && [ "$mtu" -ge 1280 ] && [ "$mtu" -le 9000 ] || die "--mtu $mtu: 1280..9000"
	[ -x "$marker" ] || die "$marker is not built (meson compile -C $build)"
	for t in ip tc nsenter; do command -v "$t" >/dev/null || die "needs $t"; done
	[ "$leaves" = 0 ] || command -v ethtool >/dev/null || die "a fabric needs ethtool"
	if [ "$with_titad" = 1 ]; then
		[ -x "$build/daemon/titad" ] || die "--titad: $build/daemon/titad is not built"
	fi
	[ "$pacer" = tc ] || [ "$pacer" = qp ] || die "--pacer $pacer: tc or qp"
	mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf

	cmd_down
	mkdir -p "$state"
	chmod 755 "$state"
	# Undo a half-built bed if anything below fails.
	trap 'echo "bed.sh: up failed; tearing down" >&2; cmd_down' ERR

	if [ "$leaves" = 0 ]; then
		switch_up
	else
		fabric_up
	fi
	cat >"$state/env" <<ENV
hosts=$hosts
leaves=$leaves
hosts_per_leaf=$hosts_per_leaf
spines=$spines
rate_bps=$rate_bps
queue=$queue
kmin=$kmin
kmax=$kmax
pmax=$pmax
gamma=$gamma
mtu=$mtu
build=$build
interval=$interval
ttl=$ttl
refresh=$refresh
eta=$eta
pacer=$pacer
ENV
	# The cluster key: root-owned, mode 600, as titad insists.
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/cluster.key")
	[ "$leaves" = 0 ] || write_topology
	for i in $(seq "$hosts"); do write_titad_conf "$i"; done
	trap - ERR

	if [ "$with_titad" = 1 ]; then
		for i in $(seq "$hosts"); do titad_start "$i"; done
	fi
	if [ "$leaves" = 0 ]; then
		echo -n "bed $name: $hosts hosts at $rate_bps bit/s"
	else
		echo -n "bed $name: $leaves leaves of $hosts_per_leaf hosts, $spines spines, links at $rate_bps bit/s"
	fi
	echo ", switch buffer $queue bytes, ECN $kmin/$kmax/$pmax$([ "$with_titad" = 1 ] && echo ", titad on every host")"
}

# ---- titad -----------------------------------------------------------------------------

titad_pid() { # index → pid or nothing
	local f=$state/h$1.pid
	[ -r "$f" ] && alive "$(cat "$f")" && cat "$f"
	return 0
}

titad_start() {
	# BED_TITAD_BIN: another titad (an older one, for a rolling upgrade).
	local i=$1 pid titad=${BED_TITAD_BIN:-$build/daemon/titad}
	[ -x "$titad" ] || die "$titad is not built"
	[ -z "$(titad_pid "$i")" ] || die "titad already runs on h$i"
	rm -f "$state/h$i.sock"
	# nsenter execs titad, so $! is titad's own pid.
	nsenter --net="/run/netns/$(ns_host "$i")" "$titad" -c "$state/h$i.conf" \
		</dev/null >>"$state/h$i.log" 2>&1 &
	pid=$!
	echo "$pid" >"$state/h$i.pid"
	for _ in $(seq 100); do
		if [ -S "$state/h$i.sock" ] &&
			"$build/daemon/titactl" -s "$state/h$i.sock" status >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$state/h$i.log" >&2
	die "titad on h$i did not start (log: $state/h$i.log)"
}

titad_stop() { # index, signal
	local i=$1 sig=$2 pid
	pid=$(titad_pid "$i")
	[ -n "$pid" ] || return 0
	if [ "$sig" = KILL ]; then
		kill -KILL "$pid"
		for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
	else
		stop_pid "$pid" TERM
	fi
	rm -f "$state/h$i.pid"
}

cmd_titad() {
	need_root
	load_state
	local verb=${1:-} i list=()
	shift || true
	[ $# -ge 1 ] || die "titad $verb: which hosts? (h1 .. h$hosts, or all)"
	if [ "$1" = all ]; then
		mapfile -t list < <(seq "$hosts")
	else
		for h in "$@"; do list+=("$(host_index "$h")"); done
	fi
	for i in "${list[@]}"; do
		[ "$i" -le "$hosts" ] || die "no host h$i in bed $name ($hosts hosts)"
		case $verb in
		start) titad_start "$i" ;;
		stop) titad_stop "$i" TERM ;;
		kill) titad_stop "$i" KILL ;;
		restart) titad_stop "$i" TERM; titad_start "$i" ;;
		*) die "titad $verb: start, stop, kill or restart" ;;
		esac
	done
}

# ---- inspection -------------------------------------------------------------------------

cmd_status() {
	local n first=1 i
	printf '{"name":"%s","namespaces":[' "$name"
	for n in $(bed_namespaces); do
		[ $first = 1 ] || printf ','
		printf '"%s"' "$n"
		first=0
	done
	printf '],"titad":{'
	first=1
	if [ -r "$state/env" ]; then
		load_state
		for i in $(seq "$hosts"); do
			[ $first = 1 ] || printf ','
			printf '"h%s":%s' "$i" "$(titad_pid "$i" | grep . || echo null)"
			first=0
		done
	fi
	printf '}'
	if [ "$leaves" != 0 ]; then
		printf ',"fabric":{"leaves":%s,"hosts_per_leaf":%s,"spines":%s}' \
			"$leaves" "$hosts_per_leaf" "$spines"
	fi
	printf ',"pins":%s,"state":%s}\n' \
		"$([ -d "$pins" ] && echo true || echo false)" \
		"$([ -d "$state" ] && echo true || echo false)"
}

cmd_list() {
	ip netns list 2>/dev/null | awk '{ print $1 }' | sed -n 's/^\([a-z][a-z0-9]*\)-\(sw\|l1\)$/\1/p'
}

# The network namespace of a node: hI, sw, lL, sS.
node_ns() {
	local n
	case $1 in
	sw) n=$ns_sw ;;
	h*) n=$(ns_host "$(host_index "$1")") ;;
	l[0-9]*) n=$name-$1 ;;
	s[0-9]*) n=$name-$1 ;;
	*) die "no node '$1' (hI, sw, lL, sS)" ;;
	esac
	[ -e "/run/netns/$n" ] || die "no node $1 in bed $name"
	echo "$n"
}

ports_of() { # [host] → switch port names
	if [ $# -ge 1 ]; then
		echo "p$(host_index "$1")"
	else
		for i in $(seq "$hosts"); do echo "p$i"; done
	fi
}

# A fabric's switch ports, "NODE DEV" a line: HOST (its leaf's port), NODE
# (every port of a leaf or spine), NODE:DEV; every port without arguments.
fabric_ports() {
	local a i l s
	if [ $# -eq 0 ]; then
		for l in $(seq "$leaves"); do set -- "$@" "l$l"; done
		for s in $(seq "$spines"); do set -- "$@" "s$s"; done
	fi
	for a in "$@"; do
		case $a in
		*:*)
			node_ns "${a%%:*}" >/dev/null
			[[ ${a#*:} =~ ^[pud][0-9]+$ ]] || die "no port '$a' (NODE:pI, NODE:uS, NODE:dL)"
			echo "${a%%:*} ${a#*:}"
			;;
		h*)
			i=$(host_index "$a")
			[ "$i" -le "$hosts" ] || die "no host $a in bed $name"
			echo "l$(leaf_of "$i") p$i"
			;;
		l[0-9]*)
			l=${a#l}
			[ "$l" -ge 1 ] && [ "$l" -le "$leaves" ] || die "no leaf $a in bed $name"
			for i in $(seq "$hosts"); do
				[ "$(leaf_of "$i")" != "$l" ] || echo "$a p$i"
			done
			for s in $(seq "$spines"); do echo "$a u$s"; done
			;;
		s[0-9]*)
			s=${a#s}
			[ "$s" -ge 1 ] && [ "$s" -le "$spines" ] || die "no spine $a in bed $name"
			for l in $(seq "$leaves"); do echo "$a d$l"; done
			;;
		*) die "no port '$a' (HOST, NODE or NODE:DEV)" ;;
		esac
	done
}

cmd_qdisc() {
	local node dev p
	load_state
	if [ "$leaves" = 0 ]; then
		for p in $(ports_of "$@"); do in_ns "$ns_sw" tc -s -j qdisc show dev "$p"; done
		return
	fi
	fabric_ports "$@" | while read -r node dev; do
		printf '{"node":"%s","dev":"%s","qdisc":%s}\n' "$node" "$dev" \
			"$(in_ns "$(node_ns "$node")" tc -s -j qdisc show dev "$dev")"
	done
}

cmd_marker() {
	local marker=$build/tools/gen/tita-bed-marker node out=() devs
	load_state
	if [ "$leaves" = 0 ]; then
		# shellcheck disable=SC2046
		in_ns "$ns_sw" "$marker" stats $(ports_of "$@")
		return
	fi
	# One array, each entry with the node it belongs to.
	while read -r node devs; do
		# shellcheck disable=SC2086
		out+=("$(in_ns "$(node_ns "$node")" "$marker" stats $devs |
			sed -e 's/^\[//' -e 's/\]$//' -e "s/{\"dev\"/{\"node\":\"$node\",\"dev\"/g")")
	done < <(fabric_ports "$@" | awk '$1 != n { if (n) print n, d; n = $1; d = "" } { d = d " " $2 } END { if (n) print n, d }')
	(IFS=,; echo "[${out[*]}]")
}

# ---- paths through a fabric ---------------------------------------------------------------

# The node an address of the fabric belongs to (see the header).
node_of_addr() {
	local o3 o4
	IFS=. read -r _ _ o3 o4 <<<"$1"
	case $1 in
	10.77.*.254) echo "l$o3" ;;
	10.77.*) echo "h$o4" ;;
	10.78.*) if [ $((o4 % 2)) = 0 ]; then echo "s$o3"; else echo "l$(((o4 - 1) / 2))"; fi ;;
	*) echo "?" ;;
	esac
}

valid_port() {
	[[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || die "$cmd: source port $1: 1..65535"
}

path_args() { # HOST DEST ... → sets src_i dst_i
	load_state
	[ "$leaves" != 0 ] || die "$cmd: a fabric's command (bed.sh up --leaves N)"
	[ $# -ge 3 ] || die "$cmd HOST DEST SPORT..."
	src_i=$(host_index "$1")
	dst_i=$(host_index "$2")
	[ "$src_i" -le "$hosts" ] && [ "$dst_i" -le "$hosts" ] || die "$cmd: bed $name has h1..h$hosts"
}

# The leaf's own forwarding decision for the packet, as it would take it
# arriving from the host: `ip route get` with iif hashes the same 5-tuple.
cmd_route() {
	local src_i dst_i l m p line
	path_args "$@"
	shift 2
	for p in "$@"; do valid_port "$p"; done
	l=$(leaf_of "$src_i")
	m=$(leaf_of "$dst_i")
	if [ "$l" = "$m" ]; then
		for p in "$@"; do echo "l$l"; done
		return
	fi
	for p in "$@"; do
		echo "route get $(addr "$dst_i") from $(addr "$src_i") iif p$src_i ipproto udp sport $p dport 4791"
	done | in_ns "$(ns_leaf "$l")" ip -o -batch - | while read -r line; do
		[[ $line =~ \ dev\ u([0-9]+) ]] || die "route: no uplink in '$line'"
		echo "l$l s${BASH_REMATCH[1]} l$m"
	done
}

cmd_probe() {
	# Not "ttl": load_state sets titad's grant TTL under that name.
	local src_i dst_i sport=$3 hops=${4:-2} out from
	path_args "$@"
	valid_port "$sport"
	[[ $hops =~ ^[0-9]+$ ]] && [ "$hops" -ge 1 ] && [ "$hops" -le 255 ] || die "probe: TTL $hops: 1..255"
	out=$(in_ns "$(ns_host "$src_i")" "$build/tools/gen/tita-roce" probe "$(addr "$dst_i")" \
		--sport "$sport" --ttl "$hops") || true
	from=$(sed -n 's/.*"from":"\([0-9.]*\)".*/\1/p' <<<"$out")
	[ -n "$from" ] || die "probe: no answer ($out)"
	echo "$(node_of_addr "$from") $from"
}


# ---- one incast -----------------------------------------------------------------------

cmd_incast() {
	need_root
	load_state
	local from="h1,h2,h3" to="h$hosts" bytes=25M cc=none duration=30 out="" step=10
	while [ $# -gt 0 ]; do
		case $1 in
		--from) from=$2; shift 2 ;;
		--to) to=$2; shift 2 ;;
		--bytes) bytes=$2; shift 2 ;;
		--cc) cc=$2; shift 2 ;;
		--duration) duration=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		--step) step=$2; shift 2 ;;
		*) die "incast: unknown argument '$1'" ;;
		esac
	done
	[[ $duration =~ ^[0-9]+$ ]] && [ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || die "incast --duration $duration: 1..600 s"
	local gen=$build/tools/gen/tita-roce marker=$build/tools/gen/tita-bed-marker
	local r s i pids=() sink_pid sampler_pid senders=()
	r=$(host_index "$to")
	IFS=, read -r -a senders <<<"$from"
	[ -n "$out" ] || out=$state/incast-$(date +%s%N)
	mkdir -p "$out"
	rm -f "$out"/*.json "$out"/*.csv "$out"/*.err

	# The receiver's port: the switch's, or its leaf's.
	local port_ns=$ns_sw
	[ "$leaves" = 0 ] || port_ns=$(ns_leaf "$(leaf_of "$r")")
	in_ns "$port_ns" tc -s -j qdisc show dev "p$r" >"$out/qdisc-before.json"
	# nsenter straight from here (not through in_ns): $! must be the
	# process itself, for kill and wait.
	nsenter --net="/run/netns/$(ns_host "$r")" "$gen" sink --flows "${#senders[@]}" --idle 1s \
		--duration "$((duration + 5))s" --interval "${step}ms" -s "$out/sink.csv" \
		>"$out/sink.json" 2>"$out/sink.err" &
	sink_pid=$!
	for _ in $(seq 50); do
		grep -q "sink ready" "$out/sink.err" 2>/dev/null && break
		kill -0 "$sink_pid" 2>/dev/null || die "incast: the sink did not start: $(cat "$out/sink.err")"
		sleep 0.1
	done
	nsenter --net="/run/netns/$port_ns" "$marker" sample --interval 5 --duration "$((duration + 6))" "p$r" \
		>"$out/queue.csv" 2>"$out/sampler.err" &
	sampler_pid=$!
	for h in "${senders[@]}"; do
		i=$(host_index "$h")
		[ "$i" != "$r" ] || die "incast: h$i both sends and receives"
		nsenter --net="/run/netns/$(ns_host "$i")" "$gen" send "$(addr "$r"),bytes=$bytes" --cc "$cc" \
			--line-rate "$rate_bps" --duration "${duration}s" --interval "${step}ms" \
			-s "$out/send-h$i.csv" >"$out/send-h$i.json" 2>"$out/send-h$i.err" &
		pids+=($!)
	done
	for s in "${pids[@]}"; do wait "$s" || true; done
	wait "$sink_pid" || true
	kill "$sampler_pid" 2>/dev/null || true
	wait "$sampler_pid" 2>/dev/null || true
	in_ns "$port_ns" tc -s -j qdisc show dev "p$r" >"$out/qdisc-after.json"
	in_ns "$port_ns" "$marker" stats "p$r" >"$out/marker.json" || true
	"$py" "$src/tools/gen/bed-summary.py" "$out" | tee "$out/summary.json"
}

# ---- request/response messages ---------------------------------------------------------

cmd_messages() {
	need_root
	load_state
	local from=h1 to=h2 bytes=16K count=100 gap=2ms duration=30 out=""
	while [ $# -gt 0 ]; do
		case $1 in
		--from) from=$2; shift 2 ;;
		--to) to=$2; shift 2 ;;
		--bytes) bytes=$2; shift 2 ;;
		--count) count=$2; shift 2 ;;
		--gap) gap=$2; shift 2 ;;
		--duration) duration=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		*) die "messages: unknown argument '$1'" ;;
		esac
	done
	[[ $duration =~ ^[0-9]+$ ]] && [ "$duration" -ge 1 ] && [ "$duration" -le 600 ] ||
		die "messages --duration $duration: 1..600 s"
	local gen=$build/tools/gen/tita-roce s r sink_pid
	s=$(host_index "$from")
	r=$(host_index "$to")
	[ "$s" -le "$hosts" ] && [ "$r" -le "$hosts" ] || die "messages: bed $name has h1..h$hosts"
	[ "$s" != "$r" ] || die "messages: h$s both sends and receives"
	[ -n "$out" ] || out=$state/messages-$(date +%s%N)
	mkdir -p "$out"
	rm -f "$out"/send.json "$out"/sink.json "$out"/*.err
	nsenter --net="/run/netns/$(ns_host "$r")" "$gen" sink --flows 1 --idle 2s \
		--duration "$((duration + 5))s" >"$out/sink.json" 2>"$out/sink.err" &
	sink_pid=$!
	for _ in $(seq 50); do
		grep -q "sink ready" "$out/sink.err" 2>/dev/null && break
		kill -0 "$sink_pid" 2>/dev/null || die "messages: the sink did not start: $(cat "$out/sink.err")"
		sleep 0.1
	done
	nsenter --net="/run/netns/$(ns_host "$s")" "$gen" send "$(addr "$r"),bytes=$bytes" \
		--messages "$count" --gap "$gap" --line-rate "$rate_bps" --duration "${duration}s" \
		>"$out/send.json" 2>"$out/send.err" || true
	wait "$sink_pid" || true
	"$py" -c 'import json, sys
d = json.load(open(sys.argv[1]))
f = d["flows"][0]
print(json.dumps({k: f.get(k) for k in ("dst", "message_bytes", "messages", "messages_lost", "completion_us")}))' "$out/send.json"
}

case $cmd in
up) cmd_up ;;
incast) cmd_incast "$@" ;;
messages) cmd_messages "$@" ;;
down) cmd_down ;;
status) cmd_status ;;
list) cmd_list ;;
exec)
	[ $# -ge 2 ] || die "exec NODE CMD..."
	n=$(node_ns "$1")
	shift
	exec nsenter --net="/run/netns/$n" "$@"
	;;
titad) cmd_titad "$@" ;;
ctl)
	[ $# -ge 1 ] || die "ctl HOST ARGS..."
	load_state
	i=$(host_index "$1")
	shift
	exec "$build/daemon/titactl" -s "$state/h$i.sock" "$@"
	;;
metrics)
	[ $# -eq 1 ] || die "metrics HOST"
	load_state
	i=$(host_index "$1")
	exec nsenter --net="/run/netns/$(ns_host "$i")" curl -sf "http://$(addr "$i"):$metrics_port/metrics"
	;;
qdisc) cmd_qdisc "$@" ;;
marker) cmd_marker "$@" ;;
route) cmd_route "$@" ;;
probe) cmd_probe "$@" ;;
*) die "unknown command '$cmd' (bed.sh --help)" ;;
esac
