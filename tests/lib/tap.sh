# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# What every shell test of tita shares: TAP-style lines and counters, and
# the skip rule for privileged tests (exit 77, meson's "skipped", with the
# reason; under CI=true a skip is a failure, since CI runs as root and a
# privileged test that does not run proves nothing).
#
# Source it; then `check DESCRIPTION COMMAND...`, `ok`/`fail` directly, and
# end with the script's own summary over $passes and $failures.

passes=0
failures=0

skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $* (CI=true: privileged tests must run)" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}

ok() {
	echo "ok - $*"
	passes=$((passes + 1))
}

fail() {
	echo "not ok - $*" >&2
	failures=$((failures + 1))
}

check() { # description, command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
