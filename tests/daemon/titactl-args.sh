#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# titactl's words, iproute2's way, with no titad needed: every case here
# is refused before anything is sent (the socket does not exist, so a
# case that got as far as connecting would say "cannot reach" instead).
# Each must exit 2 with one line on stderr that names titactl once and
# says what was meant; a unique prefix must get as far as connecting.
#
# Usage: titactl-args.sh TITACTL
set -u
titactl=$1
sock=/nonexistent/titactl-args.sock
fails=0

expect() { # exit code, stderr pattern, args...
	local want_rc=$1 pattern=$2 err rc
	shift 2
	err=$("$titactl" -s "$sock" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$(wc -l <<<"$err")" = 1 ] &&
		grep -Eq -- "$pattern" <<<"$err" && ! grep -q 'titactl: titactl:' <<<"$err"; then
		echo "ok: titactl $*: $err"
	else
		echo "FAIL: titactl $*: exit $rc (want $want_rc), stderr '$err' (want /$pattern/)"
		fails=$((fails + 1))
	fi
}

# Unknown words: the nearest one when it reads as a typo, else the list.
expect 2 "^titactl: unknown object 'stauts'; did you mean 'status'\\?" stauts
expect 2 "^titactl: unknown object 'pears'; did you mean 'peers'\\?" pears
expect 2 "^titactl: unknown object 'frobnicate' \\(status, ports, fabric, peers, pairs, qps, health, job, monitor, diagnose\\)" frobnicate
expect 2 "^titactl: monitor: unknown object 'peerz'; did you mean 'peers'\\?" monitor peerz
expect 2 "^titactl: monitor: unexpected argument 'x'" monitor pairs x
expect 2 "^titactl: job: unknown verb 'sett'; did you mean 'set'\\?" job sett
expect 2 "^titactl: pairs: unknown filter 'rol'.*|^titactl: pairs: 'role' needs a value" pairs rol
expect 2 "^titactl: pairs: unknown filter 'devv'; did you mean 'dev'\\?" pairs devv eth0
expect 2 "^titactl: qps: unknown filter 'jb'.*" qps jb x
# Prefixes that name more than one word list them.
expect 2 "^titactl: ambiguous object 'p': ports, peers, pairs" p
expect 2 "^titactl: job: ambiguous verb 's': show, set" job s x
expect 2 "^titactl: pairs: ambiguous filter 'r': remote, role" pairs r tx
# Values are still checked before anything is sent.
expect 2 "^titactl: pairs: role 'both' is not tx or rx" pa ro both
expect 2 "^titactl: pairs: dev and local both name the local end" pairs dev eth0 local 10.0.0.1
expect 2 "^titactl: pairs: dev '' is not an interface name" pairs dev ''
expect 2 "^titactl: -p \\(--pretty\\) indents JSON: give it with -j" -p status
# A unique prefix is the word: these reach for the socket.
for args in "pa" "pe" "po" "st" "q" "hea" "pairs ro tx" "pairs pe 10.0.0.2" "job sh" "job cl train" "pa sh" "mon" "m pa"; do
	# shellcheck disable=SC2086
	expect 1 "^titactl: cannot reach titad at $sock" $args
done
# diagnose talks to no titad; its arguments are checked first, then its
# sources (exit 1 when none can be read).
expect 2 "^titactl: diagnose: give one source: --prometheus, --targets or --file" diagnose --file x --targets a:1
expect 2 "^titactl: diagnose: unknown option '--bogus'" diagnose --bogus 1
expect 2 "^titactl: diagnose: --window 'x' is not a count of snapshots" diagnose --window x
expect 2 "^titactl: diagnose: --timeout '0' is not 0.1..600 seconds" diagnose --timeout 0
expect 2 "^titactl: diagnose: --prometheus 'ftp://x' is not an http:// URL" diagnose --prometheus ftp://x
expect 2 "^titactl: diagnose: --file needs a value" diagnose --file
expect 1 "^titactl: diagnose: https://x: https is not supported" diagnose --prometheus https://x
expect 1 "^titactl: diagnose: /nonexistent/x: No such file or directory" diagnose --file /nonexistent/x
# help needs no titad.
for args in "hel" "job he" "pairs he" "monitor he" "diagnose help"; do
	# shellcheck disable=SC2086
	if out=$("$titactl" -s "$sock" $args 2>&1) && grep -q '^Usage: titactl' <<<"$out"; then
		echo "ok: titactl $args prints its usage"
	else
		echo "FAIL: titactl $args: '$out'"
		fails=$((fails + 1))
	fi
done
[ "$fails" = 0 ] || { echo "$fails case(s) failed"; exit 1; }
