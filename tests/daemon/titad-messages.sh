#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What titad says before it runs, where an operator first meets it:
#   - as a user other than root, the key file's "Permission denied" says
#     that titad runs as root and how to start it;
#   - under journald (JOURNAL_STREAM set, as systemd sets it) every
#     configuration problem is its own line with the error priority <3>,
#     all of them, not only the first; on a terminal, "titad: " instead.
# No privileges needed: as root the user case runs as nobody (setpriv).
#
# Usage: titad-messages.sh TITAD
set -u
titad=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

mkdir "$tmp/keys"
chmod 700 "$tmp/keys"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/keys/cluster.key"
chmod 600 "$tmp/keys/cluster.key"
cat >"$tmp/t.conf" <<CONF
[peers]
key-file = $tmp/keys/cluster.key
[port lo]
address = 127.0.0.1
CONF
chmod 644 "$tmp/t.conf"
if [ "$(id -u)" = 0 ]; then
	run_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
else
	run_user() { "$@"; }
fi
run_user "$titad" -c "$tmp/t.conf" 2>"$tmp/err" >/dev/null
rc=$?
if [ "$rc" = 1 ] && grep -q "key file $tmp/keys/cluster.key: Permission denied; titad runs as root" "$tmp/err" &&
	grep -q "systemctl start titad" "$tmp/err"; then
	ok "as a user: $(cat "$tmp/err")"
else
	bad "as a user: exit $rc, '$(cat "$tmp/err")'"
fi

cat >"$tmp/bad.conf" <<CONF
[daemon]
pacer = bogus
log-level = loud
[controller]
interval = 0
CONF
JOURNAL_STREAM=8:1234 "$titad" -c "$tmp/bad.conf" 2>"$tmp/err" >/dev/null
rc=$?
n=$(wc -l <"$tmp/err")
if [ "$rc" = 1 ] && [ "$n" -ge 3 ] && ! grep -qv '^<3>' "$tmp/err" &&
	grep -q "^<3>$tmp/bad.conf:2: pacer" "$tmp/err" && grep -q "^<3>$tmp/bad.conf:5: interval" "$tmp/err"; then
	ok "under journald: $n lines, each <3>"
else
	bad "under journald: exit $rc, '$(cat "$tmp/err")'"
fi
env -u JOURNAL_STREAM "$titad" -c "$tmp/bad.conf" 2>"$tmp/err" >/dev/null
if ! grep -qv '^titad: ' "$tmp/err" && [ "$(wc -l <"$tmp/err")" -ge 3 ]; then
	ok "on a terminal: each line 'titad: '"
else
	bad "on a terminal: '$(cat "$tmp/err")'"
fi
# bpffs not mounted (a mount namespace of this test's own, with a network
# namespace for its lo): titad mounts it for its pins and says so. Root.
if [ "$(id -u)" = 0 ]; then
	cat >"$tmp/bpffs.conf" <<CONF
[daemon]
pacer = dry-run
metrics-listen = off
control-socket = $tmp/bpffs.sock
agent-socket = $tmp/bpffs-agent.sock
pin-root = /sys/fs/bpf/tita-messages-$$
state-directory = off
qp-scan-interval = off
[peers]
key-file = $tmp/keys/cluster.key
[port lo]
address = 127.0.0.1
line-rate = 10G
CONF
	timeout 10 unshare -m -n --propagation private sh -c '
		ip link set lo up
		while grep -q " /sys/fs/bpf bpf " /proc/self/mounts; do umount -l /sys/fs/bpf || exit 1; done
		timeout -s TERM 3 "$1" -c "$2"' sh "$titad" "$tmp/bpffs.conf" >"$tmp/bpffs.log" 2>&1
	if grep -q '^titad: notice: lo: bpffs was not mounted; titad mounted it on /sys/fs/bpf for its pins$' "$tmp/bpffs.log" &&
		grep -q '^titad: notice: lo: no RDMA device; pacer dry-run$' "$tmp/bpffs.log"; then
		ok "bpffs mounted by titad: said, with the port's pacer"
	else
		bad "bpffs mounted by titad: '$(cat "$tmp/bpffs.log")'"
	fi
else
	echo "skip: bpffs mounted by titad (needs root)"
fi
[ "$fails" = 0 ]
