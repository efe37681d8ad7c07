# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Real titads in a test's network namespaces: start one and wait until its
# control socket answers, run a command in a namespace, stop them all on the
# way out. The sourcing script provides: ns HOST (the namespace's name),
# $titad, $titactl, $tmp holding HOST.conf (whose control socket is
# $tmp/HOST.sock), an associative array pid and the array hosts.

in_ns() { # host, command...
	local n=$1
	shift
	nsenter --net="/run/netns/$(ns "$n")" "$@"
}

start_titad() { # host
	local h=$1
	# nsenter execs titad: $! is titad itself, which signal tests need.
	nsenter --net="/run/netns/$(ns "$h")" "$titad" -c "$tmp/$h.conf" >>"$tmp/$h.log" 2>&1 &
	pid[$h]=$!
	wait_titad "$h"
}

# Until titad of host answers on its control socket (15 s at most), or
# exit 1 with its log.
wait_titad() { # host
	local h=$1
	for _ in $(seq 150); do
		[ -S "$tmp/$h.sock" ] && "$titactl" -s "$tmp/$h.sock" status >/dev/null 2>&1 && return 0
		kill -0 "${pid[$h]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "titad on $h did not start:" >&2
	cat "$tmp/$h.log" >&2
	exit 1
}

# For a cleanup trap: SIGTERM to every titad still running, SIGKILL to one
# that has not gone 5 s later.
stop_titads() {
	local h
	for h in "${hosts[@]}"; do
		if [ -n "${pid[$h]:-}" ] && kill -0 "${pid[$h]}" 2>/dev/null; then
			kill -TERM "${pid[$h]}"
			for _ in $(seq 50); do kill -0 "${pid[$h]}" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "${pid[$h]}" 2>/dev/null
		fi
	done
}

# SIGTERM to the titad on host and wait for it: its exit status.
term_titad() { # host
	local rc=0
	kill -TERM "${pid[$1]}"
	wait "${pid[$1]}" || rc=$?
	pid[$1]=
	return "$rc"
}

# For a cleanup trap after a failure: the last lines of every titad's log.
dump_titad_logs() { # lines
	local h
	for h in "${hosts[@]}"; do
		echo "--- titad log of $h" >&2
		tail -n "$1" "$tmp/$h.log" >&2 2>/dev/null
	done
}
