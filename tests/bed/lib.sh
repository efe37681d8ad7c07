# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Sourced by the test bed's tests (tests/bed/*.sh), which meson runs as
#
#   TEST.sh SOURCE_ROOT BUILD_ROOT
#
# Gives them: skip rules (exit 77 with a reason; FAIL instead under
# CI=true), a bed of their own name that is torn down on every exit, the
# tools' paths, and TAP-like ok/fail/check reporting.

set -euo pipefail

# A distribution's python3 starts in tens of milliseconds; a version
# manager's shim earlier in PATH may take a second, too slow to poll with.
if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
fi

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
bedsh=$src/scripts/bed.sh
gen=$build/tools/gen/tita-roce
marker=$build/tools/gen/tita-bed-marker
titad=$build/daemon/titad
titactl=$build/daemon/titactl
test_name=$(basename "$0" .sh)

# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, tc, BPF)"
for t in ip tc nsenter python3 curl; do
	command -v "$t" >/dev/null || skip "needs $t"
done
[ -x "$gen" ] && [ -x "$marker" ] || skip "tools/gen is not built in $build"
mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf || skip "no bpffs"

need_titad() {
	[ -x "$titad" ] && [ -x "$titactl" ] || skip "titad is not built ($titad)"
}

# A titad built with AddressSanitizer (the CI's clang build) runs several
# times slower and holds freed memory in quarantine: bounds on reaction
# times stretch by slow_factor, and resident memory says little there.
slow_factor=1
asan=0
if [ -x "$titad" ] && grep -qa __asan_init "$titad"; then
	slow_factor=4
	asan=1
	echo "# titad is built with AddressSanitizer: time bounds x$slow_factor" >&2
fi

# awk as a predicate: check "what" awk_true 'a > b' a=1 b=2
awk_true() {
	local expr=$1
	shift
	local args=()
	for kv in "$@"; do args+=(-v "$kv"); done
	awk "${args[@]}" "BEGIN { exit !($expr) }"
}
finish() {
	echo "$passes passed, $failures failed"
	[ "$failures" -eq 0 ]
}

# Every test has its own bed; a leftover of a crashed run is removed by up.
bed_name=${BED_TEST_NAME:-t$(echo "$test_name" | tr -cd 'a-z0-9' | cut -c1-6)}
bed() { BED_NAME=$bed_name BED_BUILD=$build "$bedsh" "$@"; }
state=/run/tita-bed/$bed_name
work=$(mktemp -d "/tmp/tita-bed-$test_name.XXXXXX")
bg_pids=()

cleanup() {
	local rc=$?
	set +e
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
	if [ "$failures" -ne 0 ] || [ "$rc" -ne 0 ]; then
		for log in "$state"/h*.log; do
			[ -e "$log" ] || continue
			echo "--- $(basename "$log")" >&2
			tail -n 15 "$log" >&2
		done
	fi
	bed down
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

# The network namespace of a host (h1.., sw).
netns() { echo "/run/netns/$bed_name-$1"; }

# Run in the background in a host's namespace; the pid (in $bg_pid, and
# remembered for cleanup) is the command's own: nsenter execs it.
bg() { # host, command...
	local h=$1
	shift
	nsenter --net="$(netns "$h")" "$@" &
	bg_pid=$!
	bg_pids+=("$bg_pid")
}

# Poll a titad's titactl until a condition holds (tests/bed/poll.py):
# prints the milliseconds it took, or "timeout".
poll() { # host, 'titactl args', 'condition on j', timeout_ms [, 'trigger']
	python3 "$src/tests/bed/poll.py" "$titactl" "$state/$1.sock" "$2" "$3" "$4" ${5:+"$5"}
}
# Conditions on a sender's pair towards ADDR.
paced() { echo "pair(j, '$1') is not None and pair(j, '$1')['state'] == 'granted' and not pair(j, '$1')['unpaced']"; }
unpaced() { echo "pair(j, '$1') is None or pair(j, '$1')['unpaced']"; }

# A field of the JSON in a file: jget FILE 'expr on d'
jget() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# The bottleneck port's drop counter (the root qdisc's).
root_drops() { # host, dev: what the root qdisc of dev on host dropped
	bed exec "$1" tc -s -j qdisc show dev "$2" |
		python3 -c 'import json,sys; print(sum(q.get("drops", 0) for q in json.load(sys.stdin) if q.get("root")))'
}
port_drops() { root_drops sw "p$1"; } # host index: its switch port
pacer_drops() { root_drops "$1" eth0; } # host: its tc pacer (root HTB)
