#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# An upgrade of the peer protocol's framing (wire version 1 to 2), node by
# node, with traffic flowing: h1 and h2 send to h3, paced by its grants.
# Every host starts as a titad that knows only version 1 (TITA_V1_TITAD: a
# titad built before version 2, e.g. from the commit before it; the test
# is skipped without one), then
#
#   1. h3 restarts as this titad: h1 and h2, still version 1, stay paced
#      by it, and drop none of its datagrams, as unknown_version or for
#      any other reason (h3 writes them version 1: titactl peers, WIRE;
#      its hellos' wire_version is a field version 1 skips);
#   2. h1 restarts as this titad: h3 writes it version 2 (h1's hellos say
#      it reads it), h2 still version 1; both stay paced;
#   3. h1 goes back to the version-1 titad (a downgrade): h3 writes it
#      version 1 again, h1 is paced, nothing is dropped.
#
# After each step the senders are watched for 3 s (every ~20 ms): no look
# may find them unpaced. Before titad chose the framing per peer, step 1
# left h1 and h2 unpaced (every datagram of h3 dropped as
# unknown_version) until the whole bed was upgraded.
#
# Usage: TITA_V1_TITAD=PATH rolling-upgrade.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad
old_titad=${TITA_V1_TITAD:-}
[ -n "$old_titad" ] && [ -x "$old_titad" ] ||
	skip "TITA_V1_TITAD is not a titad of wire version 1 (build one from the commit before wire version 2)"

as_old() { BED_TITAD_BIN=$old_titad bed "$@"; }
BED_TITAD_BIN=$old_titad bed up --hosts 3 --titad >/dev/null
drops() { # host → its peer datagrams dropped, for any reason
	bed metrics "$1" | awk '/^tita_peer_datagrams_dropped_total\{/ { n += $2 } END { print n + 0 }'
}
wire_of() { # host, peer address → the version host writes it (titactl peers)
	"$titactl" -s "$state/$1.sock" -j peers |
		python3 -c 'import json,sys; print(next((p.get("wire_version") for p in json.load(sys.stdin) if p["addr"] == sys.argv[1]), None))' "$2"
}
watch_paced() { # label: 3 s of looks at h1 and h2's pairs to h3
	python3 "$src/tests/bed/watch.py" "$titactl" 3 "$work/watch.json" \
		"$state/h1.sock:10.77.0.3" "$state/h2.sock:10.77.0.3"
	read -r s1 u1 s2 u2 <<<"$(jget "$work/watch.json" '" ".join(str(v[k]) for v in d.values() for k in ("samples", "unpaced"))')"
	check "$1: h1 and h2 stay paced (h1: $u1 of $s1 looks unpaced, h2: $u2 of $s2)" \
		awk_true 'a == 0 && b == 0 && s > 20 && t > 20' a="$u1" b="$u2" s="$s1" t="$s2"
}
paced_both() { # label
	local t1 t2
	t1=$(poll h1 "pairs role tx" "$(paced 10.77.0.3)" 5000)
	t2=$(poll h2 "pairs role tx" "$(paced 10.77.0.3)" 5000)
	check "$1: h1 and h2 are paced by h3 ($t1 ms, $t2 ms)" test "$t1" != timeout -a "$t2" != timeout
}

bg h3 "$gen" sink --duration 60s --idle 5s >/dev/null 2>&1
sleep 0.3
bg h1 "$gen" send 10.77.0.3,rate=20M --duration 50s >/dev/null
bg h2 "$gen" send 10.77.0.3,rate=20M --duration 50s >/dev/null
paced_both "version 1 everywhere"

# ---- 1. h3 upgraded ----------------------------------------------------------------------
bed titad restart h3
paced_both "h3 upgraded"
watch_paced "h3 upgraded"
check "h3 writes h1 and h2 version 1 ($(wire_of h3 10.77.0.1), $(wire_of h3 10.77.0.2))" \
	[ "$(wire_of h3 10.77.0.1) $(wire_of h3 10.77.0.2)" = "1 1" ]
check "h1 and h2 drop nothing, unknown_version or other ($(drops h1), $(drops h2))" \
	[ "$(drops h1) $(drops h2)" = "0 0" ]

# ---- 2. h1 upgraded ----------------------------------------------------------------------
bed titad restart h1
paced_both "h1 upgraded"
sleep 1.5 # a hello each way
watch_paced "h1 upgraded"
check "h3 writes h1 version 2 and h2 version 1 ($(wire_of h3 10.77.0.1), $(wire_of h3 10.77.0.2))" \
	[ "$(wire_of h3 10.77.0.1) $(wire_of h3 10.77.0.2)" = "2 1" ]
check "h1 writes h3 version 2 ($(wire_of h1 10.77.0.3))" [ "$(wire_of h1 10.77.0.3)" = 2 ]

# ---- 3. h1 downgraded --------------------------------------------------------------------
as_old titad restart h1
paced_both "h1 downgraded"
watch_paced "h1 downgraded"
check "h3 writes h1 version 1 again ($(wire_of h3 10.77.0.1))" [ "$(wire_of h3 10.77.0.1)" = 1 ]
check "h1 and h2 drop nothing, unknown_version or other ($(drops h1), $(drops h2))" \
	[ "$(drops h1) $(drops h2)" = "0 0" ]

finish
