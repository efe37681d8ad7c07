#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# titactl diagnose on snapshot files (no titad, no Prometheus): the exit
# status says whether a suspect stands out (0 none, 3 one, 1 no answer),
# the table and the JSON name it with its evidence, a malformed snapshot
# is refused with its line number, and a target that does not answer is
# up 0 (or, when none answers, no answer at all).
#
# Usage: titactl-diagnose.sh TITACTL
set -u
titactl=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# A snapshot of n hosts; dead: the one host that is down (or none).
snapshot() { # file dead
	local h
	for h in 0 1 2 3 4 5 6 7; do
		if [ "$h" = "$2" ]; then
			echo "up{instance=\"h$h\",job=\"tita\"} 0"
			continue
		fi
		echo "up{instance=\"h$h\",job=\"tita\"} 1"
		echo "tita_health_tx_bytes_per_second{instance=\"h$h\",port=\"h$h\"} 1.2e10"
		echo "tita_health_tx_blocked_ratio{instance=\"h$h\",port=\"h$h\"} 0.1$h"
		echo "tita_health_tx_app_limited_ratio{instance=\"h$h\",port=\"h$h\"} 0.0$h"
		echo "tita_health_ce_ratio{instance=\"h$h\",port=\"h$h\"} 0"
		[ "$2" != none ] && [ "$h" = 0 ] &&
			echo "tita_health_peer_silent_seconds{instance=\"h$h\",port=\"h$h\",peer=\"h$2\"} 0.04"
	done >"$1"
}

snapshot "$dir/healthy.prom" none
out=$("$titactl" diagnose --file "$dir/healthy.prom")
rc=$?
[ "$rc" = 0 ] && grep -q '^no suspect' <<<"$out" || fail "healthy: exit $rc, '$out'"

snapshot "$dir/dead.prom" 5
out=$("$titactl" diagnose --file "$dir/healthy.prom" --file "$dir/dead.prom")
rc=$?
[ "$rc" = 3 ] && grep -Eq '^1 +h5 +dead-host +failed +0\.99 ' <<<"$out" &&
	grep -q 'peers naming it silent' <<<"$out" || fail "dead: exit $rc, '$out'"

out=$("$titactl" -j diagnose --file "$dir/dead.prom")
rc=$?
if [ "$rc" != 3 ] || ! python3 -c '
import json, sys
r = json.load(sys.stdin)
s = r["suspects"][0]
assert not r["healthy"] and r["up"] == 7 and r["instances"] == 8, r
assert (s["rank"], s["culprit"], s["kind"], s["state"], s["place"]) == (1, "h5", "dead-host", "failed", "host"), s
assert 0 < s["confidence"] <= 1 and s["evidence"], s
' <<<"$out"; then
	fail "dead, JSON: exit $rc, '$out'"
fi

# A directory: its *.prom in name order, the last --window of them.
mkdir "$dir/run"
cp "$dir/healthy.prom" "$dir/run/000001.prom"
cp "$dir/dead.prom" "$dir/run/000002.prom"
"$titactl" diagnose --file "$dir/run" >/dev/null
[ $? = 3 ] || fail "directory: the dead host is not found"

printf 'up{instance="h1"} 1\nup{instance="h2" 1\n' >"$dir/bad.prom"
err=$("$titactl" diagnose --file "$dir/bad.prom" 2>&1 >/dev/null)
rc=$?
[ "$rc" = 1 ] && grep -q "bad.prom: line 2: expected ',' or '}' after a label value" <<<"$err" ||
	fail "malformed: exit $rc, '$err'"

err=$("$titactl" diagnose --targets 127.0.0.1:1 --timeout 2 2>&1 >/dev/null)
rc=$?
[ "$rc" = 1 ] && grep -q "no target answered" <<<"$err" || fail "no target: exit $rc, '$err'"

err=$("$titactl" diagnose --prometheus http://127.0.0.1:1 --timeout 2 2>&1 >/dev/null)
rc=$?
[ "$rc" = 1 ] && grep -q "cannot connect to 127.0.0.1:1" <<<"$err" || fail "no Prometheus: exit $rc, '$err'"

[ "$fails" = 0 ] || { echo "$fails case(s) failed"; exit 1; }
echo "ok: titactl diagnose"
