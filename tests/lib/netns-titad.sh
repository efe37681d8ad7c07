# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Start a real titad in one of a test's network namespaces and wait until
# its control socket answers. The sourcing script provides: ns HOST (the
# namespace's name), $titad, $titactl, $tmp holding HOST.conf (whose
# control socket is $tmp/HOST.sock), and an associative array pid.

start_titad() { # host
	local h=$1
	# nsenter execs titad: $! is titad itself, which signal tests need.
	nsenter --net="/run/netns/$(ns "$h")" "$titad" -c "$tmp/$h.conf" >>"$tmp/$h.log" 2>&1 &
	pid[$h]=$!
	for _ in $(seq 150); do
		[ -S "$tmp/$h.sock" ] && "$titactl" -s "$tmp/$h.sock" status >/dev/null 2>&1 && return 0
		kill -0 "${pid[$h]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "titad on $h did not start:" >&2
	cat "$tmp/$h.log" >&2
	exit 1
}
