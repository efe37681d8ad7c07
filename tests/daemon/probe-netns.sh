#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# titad's path probes through a real two-tier routed fabric: two leaf and
# two spine network namespaces, kernel ECMP on the 5-tuple from leaf to
# leaf over both spines, hosts on a leaf's bridge; addressed as
# scripts/bed.sh's fabric mode addresses its own (hosts 10.77.L.I, the
# spine end of link (L, S) 10.78.S.2L, the leaf end 10.78.S.2L+1), in IPv6
# too.
#
# The leaves hash with fib_multipath_hash_policy 3 and the fields of the
# 5-tuple (0x37), not policy 1: under policy 1 a forwarded packet that
# already carries an L4 hash is hashed by that, and a packet sent by a
# socket on the same kernel carries the socket's random hash across the
# veth. A fresh socket with the same 5-tuple then takes a random spine
# (8 probes from one source port crossed both spines), where a switch, or
# `ip route get`, hashes the 5-tuple. Policy 3 hashes the fields named.
#
# Checked, with probe-tool (titad's prober and spine mapping):
#
#   - IPv4 and IPv6 probes with TTL 2 from h1 to h3 (the other leaf) are
#     all answered time exceeded by a spine, both spines among them, each
#     IPv4 one by the spine that the leaf's own route lookup for that
#     5-tuple picks (ip route get ... sport S dport 4791), and each port's
#     probes, sent again from fresh sockets, by the same spine: the probe
#     goes where the pair's RoCE packets go;
#   - the spine's number from the topology's addresses, and learned from
#     the answers alone, agree, and two members of the leaf (h1, h2) that
#     hear the spines in different orders number them alike;
#   - a remote under the same leaf answers port unreachable itself; with
#     TTL 1 the leaf answers, which the topology says is no spine.
#
# Usage: probe-netns.sh PROBE_TOOL   (root; exit 77 = skipped, unless CI=true)
set -euo pipefail

tool=$1

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
for t in ip python3; do
	command -v "$t" >/dev/null || skip "needs $t"
done

id=$$
ns() { echo "ttpr$id-$1"; }
tmp=$(mktemp -d /tmp/tita-probe.XXXXXX)

cleanup() {
	set +e
	for n in h1 h2 h3 l1 l2 s1 s2; do ip netns del "$(ns $n)" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

# A namespace whose addresses are usable at once: no duplicate address
# detection to wait for (the link-local ones included, which neighbour
# discovery sends from).
netns_add() {
	ip netns add "$(ns "$1")"
	in_ns "$1" ip link set lo up
	in_ns "$1" sh -c 'cd /proc/sys/net/ipv6/conf && echo 0 >all/accept_dad &&
		echo 0 >default/accept_dad'
}

# A leaf or spine: it forwards, hashes ECMP on the 5-tuple (see above),
# answers every expiring TTL (the kernel rate-limits those ICMPs per
# destination otherwise), as scripts/bed.sh's router_add.
router() {
	netns_add "$1"
	in_ns "$1" sh -c 'cd /proc/sys/net && echo 1 >ipv4/ip_forward &&
		echo 3 >ipv4/fib_multipath_hash_policy && echo 0x37 >ipv4/fib_multipath_hash_fields &&
		echo 0 >ipv4/icmp_ratelimit &&
		echo 0 >ipv4/conf/all/rp_filter && echo 0 >ipv4/conf/default/rp_filter &&
		echo 1 >ipv6/conf/all/forwarding && echo 3 >ipv6/fib_multipath_hash_policy &&
		echo 0x37 >ipv6/fib_multipath_hash_fields && echo 0 >ipv6/icmp/ratelimit'
}

for n in l1 l2 s1 s2; do router $n; done
# Hosts: h1, h2 on leaf 1, h3 on leaf 2, on the leaf's bridge.
for l in 1 2; do
	in_ns l$l ip link add br0 type bridge
	in_ns l$l ip addr add 10.77.$l.254/24 dev br0
	in_ns l$l ip addr add fd77:$l::fe/64 dev br0 nodad
	in_ns l$l ip link set br0 up
done
host() { # index, leaf
	local h=h$1 l=$2
	netns_add $h
	in_ns l$l ip link add p$1 type veth peer name eth0 netns "$(ns $h)"
	in_ns l$l ip link set p$1 master br0 up
	in_ns $h ip addr add 10.77.$l.$1/24 dev eth0
	in_ns $h ip addr add fd77:$l::$1/64 dev eth0 nodad
	in_ns $h ip link set eth0 up
	in_ns $h ip route add default via 10.77.$l.254
	in_ns $h ip -6 route add default via fd77:$l::fe
}
host 1 1
host 2 1
host 3 2
for l in 1 2; do
	for s in 1 2; do
		in_ns l$l ip link add u$s type veth peer name d$l netns "$(ns s$s)"
		in_ns l$l ip addr add 10.78.$s.$((2 * l + 1))/31 dev u$s
		in_ns l$l ip addr add fd78:$s:$l::2/64 dev u$s nodad
		in_ns l$l ip link set u$s up
		in_ns s$s ip addr add 10.78.$s.$((2 * l))/31 dev d$l
		in_ns s$s ip addr add fd78:$s:$l::1/64 dev d$l nodad
		in_ns s$s ip link set d$l up
		in_ns s$s ip route add 10.77.$l.0/24 via 10.78.$s.$((2 * l + 1)) dev d$l
		in_ns s$s ip -6 route add fd77:$l::/64 via fd78:$s:$l::2 dev d$l
	done
done
# From leaf to leaf, one nexthop through every spine.
for l in 1 2; do
	m=$((3 - l))
	in_ns l$l ip route add 10.77.$m.0/24 \
		nexthop via 10.78.1.$((2 * l)) dev u1 nexthop via 10.78.2.$((2 * l)) dev u2
	in_ns l$l ip -6 route add fd77:$m::/64 \
		nexthop via fd78:1:$l::1 dev u1 nexthop via fd78:2:$l::1 dev u2
done
# Each member reaches h3 across the fabric (a probe with a TTL to spare is
# answered port unreachable by h3 itself), which also resolves neighbours
# on the way before the probes that are checked.
for a in "h1 10.77.1.1 10.77.2.3" "h1 fd77:1::1 fd77:2::3" "h2 10.77.1.2 10.77.2.3"; do
	set -- $a
	in_ns "$1" "$tool" --ttl 64 "$2" "$3" 50000 50001 50002 50003 >"$tmp/reach" &&
		[ "$(grep -c "\"outcome\":\"unreachable\",\"offender\":\"$3\"" "$tmp/reach")" = 4 ] ||
		fail "$1 ($2) reaches h3 ($3): $(cat "$tmp/reach")"
done
[ "$failures" -eq 0 ] || exit 1
ok "every member reaches the far leaf's host (port unreachable from $3)"

cat >"$tmp/topology" <<EOF
spine s1 10.78.1.0/24 fd78:1::/32
spine s2 10.78.2.0/24 fd78:2::/32
leaf l1 spine-rate=10G 10.77.1.[1-2] fd77:1::1 fd77:1::2
leaf l2 spine-rate=10G 10.77.2.3 fd77:2::3
EOF

ports=$(seq 49152 997 65535 | head -16 | tr '\n' ' ')

# probe HOST FAMILY OUT ARGS...: the tool's lines, with the leaf's own
# choice of spine for each port added (the nexthop of its route lookup).
probe() {
	local h=$1 out=$2
	shift 2
	in_ns "$h" "$tool" "$@" >"$out" || { fail "probe-tool $h $*"; return 1; }
}

check_spines() { # file, local, remote, spine address prefix per spine (v4: 10.78.S.)
	local file=$1 src=$2 dst=$3 fam=$4
	local lookups=$tmp/lookups.$RANDOM
	: >"$lookups"
	for p in $ports; do
		# The leaf's forwarding decision for the pair's 5-tuple.
		in_ns l1 ip $fam route get "$dst" from "$src" iif br0 ipproto udp sport "$p" dport 4791 |
			sed -n 's/.* via \([^ ]*\) .*/'"$p"' \1/p' >>"$lookups"
	done
	python3 - "$file" "$lookups" "$fam" <<'PY'
import ipaddress, json, sys
answers = [json.loads(l) for l in open(sys.argv[1])]
via = dict(l.split() for l in open(sys.argv[2]))
v6 = sys.argv[3] == "-6"
bad = []
for a in answers:
    if a["outcome"] != "expired" or a["type"] != (3 if v6 else 11):
        bad.append(f"{a['sport']}: {a['outcome']} type {a['type']}")
        continue
    off = ipaddress.ip_address(a["offender"])
    nh = ipaddress.ip_address(via[str(a["sport"])])
    # The spine whose link the leaf chose: 10.78.S.x / fd78:S:..
    spine_of = lambda x: (x.packed[2] if x.version == 4 else x.packed[3]) - 1
    if spine_of(off) != spine_of(nh) or a["spine"] != spine_of(nh):
        bad.append(f"{a['sport']}: answered by {off} (spine {a['spine']}), leaf routes via {nh}")
spines = {a["spine"] for a in answers}
if len(answers) != len(via) or spines != {0, 1}:
    bad.append(f"{len(answers)} answers for {len(via)} ports, spines {sorted(spines)}")
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# shellcheck disable=SC2086
probe h1 "$tmp/v4" --topology "$tmp/topology" --leaf l1 10.77.1.1 10.77.2.3 $ports &&
	check "IPv4: every probe answered by the spine the leaf routes its 5-tuple to, both spines" \
		check_spines "$tmp/v4" 10.77.1.1 10.77.2.3 ""
# IPv6: `ip -6 route get` does not hash the ports it is given the way the
# forwarding path does (it disagreed on 10 of 16 ports, while each port's
# probes always took one spine), so the check is that a port's path is
# its own: probed again from fresh sockets, every port crosses the same
# spine, and both spines are used.
same_spines() { # file, file
	python3 - "$1" "$2" <<'PY'
import json, sys
a, b = ({json.loads(l)["sport"]: json.loads(l) for l in open(f)} for f in sys.argv[1:3])
bad = [p for p in a if a[p]["outcome"] != "expired" or p not in b or a[p]["spine"] != b[p]["spine"]
       or a[p]["offender"] != b[p]["offender"]]
spines = {x["spine"] for x in a.values()}
if bad or spines != {0, 1} or len(a) != 16:
    print(f"  ports {bad} differ, spines {sorted(spines)}, {len(a)} answers", file=sys.stderr)
    sys.exit(1)
PY
}
# shellcheck disable=SC2086
probe h1 "$tmp/v6" --topology "$tmp/topology" --leaf l1 fd77:1::1 fd77:2::3 $ports &&
	probe h1 "$tmp/v6b" --topology "$tmp/topology" --leaf l1 fd77:1::1 fd77:2::3 $ports &&
	check "IPv6: every probe answered by a spine, both spines, each port's path its own" \
		same_spines "$tmp/v6" "$tmp/v6b"
# shellcheck disable=SC2086
probe h1 "$tmp/v4b" --topology "$tmp/topology" --leaf l1 10.77.1.1 10.77.2.3 $ports &&
	check "IPv4: each port's path its own (probed again from fresh sockets)" \
		same_spines "$tmp/v4" "$tmp/v4b"

# Learned numbers: the same as the topology's, and alike on two members
# that probe with their ports in opposite orders.
rev=$(echo $ports | tr ' ' '\n' | tac | tr '\n' ' ')
# shellcheck disable=SC2086
probe h1 "$tmp/learn1" --spines 2 10.77.1.1 10.77.2.3 $ports &&
	probe h2 "$tmp/learn2" --spines 2 10.77.1.2 10.77.2.3 $rev &&
	check "spines learned from the answers: the topology's numbers, alike on both members" \
		python3 - "$tmp/v4" "$tmp/learn1" "$tmp/learn2" <<'PY'
import json, sys
maps = []
for f in sys.argv[1:]:
    m = {}
    for l in open(f):
        a = json.loads(l)
        m.setdefault(a["offender"], set()).add(a["spine"])
    maps.append(m)
ok = all(all(len(v) == 1 and -1 not in v for v in m.values()) for m in maps)
ok = ok and maps[0] == maps[1] == maps[2] and len(maps[0]) == 2
print(maps, file=sys.stderr) if not ok else None
sys.exit(0 if ok else 1)
PY

# Under the same leaf: TTL 2 reaches the remote, which answers itself.
probe h1 "$tmp/same" --topology "$tmp/topology" --leaf l1 10.77.1.1 10.77.1.2 50000 &&
	check "same leaf: port unreachable from the remote, no spine" \
		grep -q '"outcome":"unreachable","offender":"10.77.1.2","type":3,"code":3,"spine":-1' "$tmp/same"
# TTL 1: the leaf answers, and the topology says it is no spine.
probe h1 "$tmp/ttl1" --ttl 1 --topology "$tmp/topology" --leaf l1 10.77.1.1 10.77.2.3 50000 &&
	check "TTL 1: the leaf answers, mapped to no spine (-ENOENT)" \
		grep -q '"outcome":"expired","offender":"10.77.1.254","type":11,"code":0,"spine":-1,"map":-2' "$tmp/ttl1"

if [ "$failures" -ne 0 ]; then
	for f in "$tmp"/v4 "$tmp"/v6 "$tmp"/learn1 "$tmp"/same "$tmp"/ttl1; do
		echo "--- $f" >&2
		cat "$f" >&2 2>/dev/null
	done
fi
echo "probe-netns: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
