#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Kubernetes ConfigMap's titad.conf is one titad accepts: titad
# --check-config on it, with a cluster key where its key-file says (moved
# to a scratch directory). Root: titad accepts only a key owned by root.
#   check-configmap.sh SOURCE_ROOT TITAD
set -euo pipefail

src=$1
titad=$2
if [ "$(id -u)" -ne 0 ]; then
	echo "check-configmap.sh: not root: titad accepts only a key file owned by root" >&2
	[ "${CI:-}" = true ] && exit 1
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$src/tests/deploy/check-manifests.py" "$src" --print-config >"$work/titad.conf"
grep -q '^key-file = /etc/tita/cluster.key$' "$work/titad.conf" || {
	echo "check-configmap.sh: the ConfigMap's key-file is not /etc/tita/cluster.key" >&2
	exit 1
}
sed -i "s|^key-file = .*|key-file = $work/cluster.key|" "$work/titad.conf"
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.key")
# --check-config also checks that each [port]'s netdev exists and reports
# a speed (the ConfigMap leaves line-rate to the link): check it on a node
# of its own, a network namespace whose netdevs are the ConfigMap's, as
# veths (which report 10G) with a documentation address each.
ns=tita-cm$$
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
ip netns add "$ns"
i=0
for dev in $(sed -n 's/^\[port \(.*\)\]$/\1/p' "$work/titad.conf"); do
	ip -n "$ns" link add "$dev" type veth peer name "cmpeer$i"
	ip -n "$ns" addr add "192.0.2.$((i + 1))/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
	i=$((i + 1))
done
ip netns exec "$ns" "$titad" --check-config -c "$work/titad.conf"
