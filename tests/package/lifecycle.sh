#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package's life on a host, as dpkg runs it: install, configure
# (cluster key, an edited titad.conf), upgrade to a rebuilt version with
# titad running and with titad stopped, remove, purge.
#
#   tests/package/lifecycle.sh OLD.deb NEW.deb     (root; NEW's version > OLD's)
#
# How it is tested. CI has no systemd as PID 1, and the maintainer scripts
# only act on services where /run/systemd/system exists. The test runs
# dpkg in a private mount namespace where that directory exists (a tmpfs
# over /run/systemd, seen by nothing else), where a policy-rc.d that forbids
# every action (container images ship one) is replaced by one that allows
# them, and with tests/package/stubs first on PATH:
#   - deb-systemd-helper and deb-systemd-invoke record their call and run
#     the real Debian helpers;
#   - systemctl records its call, runs the real systemctl for unit-file
#     operations (preset, enable, is-enabled: the symlinks under
#     /etc/systemd/system are real), and simulates what needs a manager for
#     titad.service: whether titad runs, and which package version each
#     (re)start ran.
# It asserts on the recorded calls, the simulated state and the files.
#
# What a real systemd does besides: `try-restart` sends titad SIGTERM (it
# removes its pacing rules and datapath) and starts the new binary, which
# finds its pinned counters again; `stop` does the same without the start
# and removes /run/tita; `daemon-reload` rereads the unit. A titad that
# fails to start leaves the unit failed; here nothing runs titad, so only
# `titad --check-config` checks the configured files with the installed
# binary.
set -euo pipefail

old_deb=$1
new_deb=$2
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "lifecycle.sh: not root: cannot install a package, skipped" >&2
	exit 77
fi

# Re-enter in a private mount namespace (see above).
if [ -z "${TITA_LIFECYCLE_NS:-}" ]; then
	created_run_systemd=
	if [ ! -d /run/systemd ]; then
		mkdir /run/systemd
		created_run_systemd=1
	fi
	rc=0
	TITA_LIFECYCLE_NS=1 unshare --mount --propagation private "$0" "$@" || rc=$?
	[ -z "$created_run_systemd" ] || rmdir /run/systemd 2>/dev/null || true
	exit "$rc"
fi
if [ ! -d /run/systemd/system ]; then
	mount -t tmpfs -o mode=0755 tita-lifecycle /run/systemd
	mkdir /run/systemd/system
fi
if [ -e /usr/sbin/policy-rc.d ]; then
	mount --bind "$here/stubs/policy-rc.d" /usr/sbin/policy-rc.d
fi

stub_dir=$(mktemp -d)
export TITA_STUB_DIR=$stub_dir
export PATH=$here/stubs:$PATH
old_version=$(dpkg-deb -f "$old_deb" Version)
new_version=$(dpkg-deb -f "$new_deb" Version)
key=/etc/tita/cluster.key
conf=/etc/tita/titad.conf
wants=/etc/systemd/system/multi-user.target.wants/titad.service
dsh_state=/var/lib/systemd/deb-systemd-helper-enabled/titad.service.dsh-also
fail=0

phase_failed=0
bad() {
	echo "lifecycle.sh: $*" >&2
	fail=1
	phase_failed=1
}

cleanup() {
	[ -z "${check_ns:-}" ] || ip netns del "$check_ns" 2>/dev/null || true
	dpkg -P tita >/dev/null 2>&1 || true
	# Only what this test made: its key, and /etc/tita if then empty.
	if [ -n "${key_hex:-}" ] && [ "$(cat "$key" 2>/dev/null)" = "$key_hex" ]; then
		rm -f "$key"
	fi
	rmdir /etc/tita 2>/dev/null || true
	# Not there before the test (checked below): its own.
	[ -z "${made_state:-}" ] || rm -rf /var/lib/tita
	rm -rf "$stub_dir"
}

# A host that has tita (or its configuration) is not this test's to touch.
if dpkg-query -W -f='${db:Status-Status}' tita 2>/dev/null | grep -qv '^not-installed$' ||
	[ -e /etc/tita ] || [ -e /var/lib/tita ]; then
	echo "lifecycle.sh: tita is installed or /etc/tita or /var/lib/tita exists on this host: not touching it" >&2
	exit 1
fi
trap cleanup EXIT

# Runs dpkg with the call log and the start log emptied first.
run_dpkg() {
	: >"$stub_dir/calls"
	: >"$stub_dir/starts"
	dpkg "$@" >"$stub_dir/dpkg.log" 2>&1 || {
		cat "$stub_dir/dpkg.log" >&2
		bad "dpkg $* failed"
		exit 1
	}
}
called() {
	grep -qxE "$1" "$stub_dir/calls"
}
not_called() {
	if grep -xE "$1" "$stub_dir/calls" >&2; then
		bad "$2"
	fi
}
running() {
	[ -e "$stub_dir/active" ]
}
show_calls() {
	sed 's/^/    /' "$stub_dir/calls" >&2
}
# What the maintainer scripts asked for, for the log.
phase_done() {
	if [ "$phase_failed" -eq 0 ]; then
		echo "lifecycle.sh: $1"
	else
		echo "lifecycle.sh: FAILED, see above: $1"
	fi
	phase_failed=0
	grep -E '^(deb-systemd-invoke|systemctl)' "$stub_dir/calls" | grep -v ' is-' |
		sed 's/^/    called: /' || true
}

# ---- install: enabled, not started --------------------------------------------
run_dpkg -i "$old_deb"
for f in /usr/sbin/titad /usr/bin/titactl /usr/bin/tita-telemetry /lib/systemd/system/titad.service \
	"$conf" /usr/share/man/man8/titad.8.gz /usr/share/man/man5/titad.conf.5.gz \
	/usr/share/man/man8/titactl.8.gz /usr/share/man/man8/tita-telemetry.8.gz \
	/usr/share/bash-completion/completions/titactl /usr/lib/sysusers.d/tita.conf \
	/usr/lib/tmpfiles.d/tita.conf; do
	[ -e "$f" ] || bad "install: the package did not install $f"
done
ls /usr/lib/*/tita/libtita-agent.so >/dev/null 2>&1 || bad "install: no libtita-agent.so"
getent group tita >/dev/null || bad "install: no tita group (dh_installsysusers)"
[ "$(stat -c '%U:%G %a' /etc/tita)" = "root:tita 750" ] ||
	bad "install: /etc/tita is $(stat -c '%U:%G %a' /etc/tita), not root:tita 750 (tmpfiles.d)"
[ "$(stat -c '%U:%G %a' "$conf")" = "root:root 640" ] ||
	bad "install: $conf is $(stat -c '%U:%G %a' "$conf"), not root:root 640"
called "deb-systemd-helper enable titad.service" || bad "install: titad.service not enabled"
[ -L "$wants" ] || bad "install: no $wants"
called "systemctl --system daemon-reload" || bad "install: no daemon-reload"
not_called "(deb-systemd-invoke|systemctl).* (start|restart|try-restart) .*" \
	"install: a fresh install must not start titad (no cluster key yet)"
! running || bad "install: titad runs after a fresh install"
/usr/sbin/titad --version >/dev/null || bad "install: titad --version failed"
systemd-analyze verify /lib/systemd/system/titad.service || bad "install: systemd-analyze verify"
phase_done "install: enabled, not started"

# ---- configure: what the administrator does -------------------------------------
key_hex=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s\n' "$key_hex" >"$key")
sed -i 's/^log-level = info$/log-level = notice/' "$conf"
grep -qx 'log-level = notice' "$conf" || bad "configure: could not edit $conf"
# The shipped file has no [port]: titad takes the netdevs with an RDMA
# device. This node has none (veths), so its administrator names the port,
# as titad's one line about it says.
printf '\n[port eth0]\n' >>"$conf"
# --check-config also checks the host: each [port]'s netdev must exist,
# with an address and a speed where the file gives none. The GPU node the
# administrator configured for is a network namespace with those
# netdevs, as veths (which report 10G) with a documentation address each.
check_ns=tita-lc$$
ip netns add "$check_ns"
i=0
for dev in $(sed -n 's/^\[port \(.*\)\]$/\1/p' "$conf"); do
	ip -n "$check_ns" link add "$dev" type veth peer name "lcpeer$i"
	ip -n "$check_ns" addr add "192.0.2.$((i + 1))/24" dev "$dev"
	ip -n "$check_ns" link set "$dev" up
	i=$((i + 1))
done
ip netns exec "$check_ns" /usr/sbin/titad --check-config -c "$conf" >"$stub_dir/check.log" 2>&1 || {
	cat "$stub_dir/check.log" >&2
	bad "configure: titad --check-config rejects the configured host"
}
ip netns del "$check_ns"
systemctl start titad.service # the administrator's; titad now "runs"
# What a running titad writes in its StateDirectory= (the stub runs none).
made_state=1
mkdir -p /var/lib/tita
echo 1700000000000000000 >/var/lib/tita/boot-id
echo "lifecycle.sh: configure: key and config accepted by titad --check-config, titad started"

# ---- upgrade with titad running: restarted after the new files are in place --------
run_dpkg -i "$new_deb"
[ "$(dpkg-query -W -f='${Version}' tita)" = "$new_version" ] || bad "upgrade: not at $new_version"
not_called "(deb-systemd-invoke|systemctl).* stop .*" \
	"upgrade: titad stopped during the upgrade (preinst/prerm), leaving the host unpaced"
called "deb-systemd-invoke try-restart titad.service" || {
	show_calls
	bad "upgrade: the postinst did not restart titad"
}
running || bad "upgrade: titad not running after the upgrade"
[ "$(cat "$stub_dir/starts")" = "restart $new_version" ] ||
	bad "upgrade: expected one restart with $new_version unpacked, got: $(cat "$stub_dir/starts")"
grep -qx 'log-level = notice' "$conf" || bad "upgrade: the administrator's edit of $conf was lost"
[ "$(cat "$key")" = "$key_hex" ] || bad "upgrade: the cluster key changed"
phase_done "upgrade $old_version -> $new_version with titad running: restarted once, after unpacking"

# ---- upgrade with titad stopped: stays stopped ------------------------------------
systemctl stop titad.service
run_dpkg -i "$new_deb"
called "deb-systemd-invoke try-restart titad.service" || bad "reinstall: no try-restart"
! running || bad "reinstall: an upgrade started a titad the administrator had stopped"
[ ! -s "$stub_dir/starts" ] || bad "reinstall: started: $(cat "$stub_dir/starts")"
phase_done "upgrade with titad stopped: left stopped"

# ---- remove: stopped; configuration and key kept -----------------------------------
systemctl start titad.service
run_dpkg -r tita
called "deb-systemd-invoke stop titad.service" || {
	show_calls
	bad "remove: the prerm did not stop titad"
}
! running || bad "remove: titad still runs after removal"
called "systemctl --system daemon-reload" || bad "remove: no daemon-reload"
for f in /usr/sbin/titad /usr/bin/titactl /lib/systemd/system/titad.service; do
	[ ! -e "$f" ] || bad "remove: $f left"
done
[ -e "$conf" ] || bad "remove: $conf removed (configuration is kept until purge)"
[ "$(cat "$key")" = "$key_hex" ] || bad "remove: the cluster key changed"
# Debian keeps the enablement until purge, so a reinstall stays enabled.
[ -L "$wants" ] || bad "remove: the enablement went before purge"
phase_done "remove: titad stopped, configuration kept"

# ---- purge: only what the administrator made is left, and said --------------------
run_dpkg -P tita
called "deb-systemd-helper purge titad.service" || bad "purge: deb-systemd-helper purge not run"
[ ! -e "$wants" ] && [ ! -L "$wants" ] || bad "purge: $wants left"
[ ! -e "$dsh_state" ] || bad "purge: $dsh_state left"
[ ! -e "$conf" ] || bad "purge: $conf left"
[ "$(find /etc/tita -mindepth 1)" = "$key" ] || bad "purge: /etc/tita holds $(find /etc/tita -mindepth 1 | tr '\n' ' ')"
[ "$(cat "$key")" = "$key_hex" ] || bad "purge: the cluster key was changed or removed"
[ ! -e /var/lib/tita ] || bad "purge: titad's state /var/lib/tita left"
grep -q "^tita: purged. Kept in /etc/tita" "$stub_dir/dpkg.log" &&
	grep -qx "tita:   $key" "$stub_dir/dpkg.log" || {
	cat "$stub_dir/dpkg.log" >&2
	bad "purge: the postrm did not say what it kept"
}
[ "$(dpkg-query -W -f='${db:Status-Status}' tita 2>/dev/null || echo not-installed)" = not-installed ] ||
	bad "purge: dpkg still knows tita"
# Every file either package shipped is gone (directories may be shared).
for deb in "$old_deb" "$new_deb"; do
	dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }'
done | sort -u | while read -r f; do
	[ ! -e "$f" ] || echo "$f"
done >"$stub_dir/left"
[ ! -s "$stub_dir/left" ] || bad "purge: files of the package left: $(tr '\n' ' ' <"$stub_dir/left")"
phase_done "purge: only $key left, and the postrm said so:"
grep '^tita:' "$stub_dir/dpkg.log" | sed 's/^/    /'

exit "$fail"
