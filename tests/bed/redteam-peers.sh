#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A key holder and a flood against a receiver's titad (h7), while h1 and h2
# send to it, paced by its grants (tests/bed/tita-spoof.c sends from
# spoofed sources):
#
#   - a live peer is never dropped: h7's entry for h1 keeps its counters
#     (finding 1: it was recreated every few seconds, its replay window
#     with it);
#   - one authentic hello with boot id 2^64-1 from h1's address does not
#     lock h1 out: refused as boot_id_ahead, h1 stays paced (finding 3);
#   - authentic hellos from 8,000 spoofed sources cannot take h7's peer
#     table: h1 and h2 stay paced and a new sender (h6) gets its first
#     grant within a second (finding 3);
#   - 20,000 forged datagrams a second from as many sources write at most
#     the log's budget, and say how much they suppressed (finding 4).
#
# Usage: redteam-peers.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad
spoof=$build/tests/bed/tita-spoof
[ -x "$spoof" ] || skip "tests/bed/tita-spoof is not built"

bed up --hosts 7 --titad >/dev/null
key=$state/cluster.key
metric() { # host, regex of the series → sum of its values
	bed metrics "$1" | awk -v re="$2" '$0 ~ re { s += $NF } END { printf "%d\n", s }'
}
watch_senders() { # seconds, output: h1's and h2's pairs towards h7, looked at every ~20 ms
	python3 "$src/tests/bed/watch.py" "$titactl" "$1" "$2" \
		"$state/h1.sock:10.77.0.7" "$state/h2.sock:10.77.0.7" &
	bg_pids+=($!)
	watcher=$!
}
unpaced_looks() { # watch.py's output → "unpaced samples" summed
	jget "$1" 'sum(v["unpaced"] for v in d.values()), sum(v["samples"] for v in d.values())' |
		tr -d '(),'
}

bg h7 "$gen" sink --duration 40s --idle 5s >/dev/null 2>&1
sleep 0.3
bg h1 "$gen" send 10.77.0.7,rate=20M --duration 30s >/dev/null
bg h2 "$gen" send 10.77.0.7,rate=20M --duration 30s >/dev/null
t1=$(poll h1 "pairs role tx" "$(paced 10.77.0.7)" 5000)
t2=$(poll h2 "pairs role tx" "$(paced 10.77.0.7)" 5000)
check "h1 and h2 are paced by h7 ($t1 ms, $t2 ms)" test "$t1" != timeout -a "$t2" != timeout

# ---- a live peer keeps its entry -----------------------------------------------------------
drops=$(python3 - "$titactl" "$state/h7.sock" <<'PY'
import json, subprocess, sys, time
prev, drops, looks = 0, 0, 0
for _ in range(40):
    j = json.loads(subprocess.run([sys.argv[1], "-s", sys.argv[2], "-j", "peers"],
                                  capture_output=True, timeout=2).stdout or "[]")
    p = next((x for x in j if x.get("addr") == "10.77.0.1"), None)
    n = p["datagrams_in"] if p else 0
    looks += 1
    if n < prev:
        drops += 1
    prev = n
    time.sleep(0.1)
print(drops, looks, prev)
PY
)
read -r resets looks last <<<"$drops"
check "h7's entry for h1 is never recreated ($resets resets in $looks looks over 4 s, $last datagrams)" \
	test "$resets" = 0 -a "$last" -gt 0

# ---- a forged boot id ------------------------------------------------------------------------
watch_senders 3 "$work/boot.json"
sleep 0.5
nsenter --net="$(netns h5)" "$spoof" --to 10.77.0.7 --key "$key" boot --from 10.77.0.1 \
	--boot-id 18446744073709551615 >"$work/boot-spoof.json"
wait "$watcher" || true
read -r u n <<<"$(unpaced_looks "$work/boot.json")"
ahead=$(metric h7 '^tita_peer_datagrams_dropped_total\{reason="boot_id_ahead"\}')
check "a hello with boot id 2^64-1 from h1's address is refused ($ahead boot_id_ahead)" test "$ahead" -ge 1
check "and h1 and h2 stay paced ($u of $n looks unpaced)" test "$u" = 0 -a "$n" -gt 50

# ---- the peer table, flooded with authentic hellos -------------------------------------------
watch_senders 5 "$work/table.json"
bg h5 "$spoof" --to 10.77.0.7 --key "$key" hellos --sources 8000 --pps 20000 --seconds 5
sleep 1.5
t6=$(poll h6 "pairs role tx" "$(paced 10.77.0.7)" 3000 \
	"nsenter --net=$(netns h6) $gen send 10.77.0.7,rate=20M --duration 3s >/dev/null 2>&1 &")
wait "$watcher" || true
read -r u n <<<"$(unpaced_looks "$work/table.json")"
peers=$(metric h7 '^tita_peers ')
check "a new sender gets its first grant while the table is flooded ($t6 ms)" \
	awk_true 't != "timeout" && t <= 1000 * k' t="$t6" k="$slow_factor"
check "h1 and h2 stay paced under the flood ($u of $n looks unpaced)" test "$u" = 0 -a "$n" -gt 50
check "the table stays within max-peers ($peers)" test "$peers" -le 4096

# ---- a log flood -----------------------------------------------------------------------------
lines0=$(wc -l <"$state/h7.log")
nsenter --net="$(netns h5)" "$spoof" --to 10.77.0.7 forged --pps 20000 --seconds 3 >"$work/forged.json"
sleep 1.2 # the housekeeping says what it held back
lines1=$(wc -l <"$state/h7.log")
sent=$(jget "$work/forged.json" 'd["sent"]')
suppressed=$(metric h7 '^tita_log_lines_suppressed_total')
check "$sent forged datagrams from as many sources write $((lines1 - lines0)) log lines (at most 100 + 10 a second)" \
	test $((lines1 - lines0)) -le 150
check "the log says what it held back ($suppressed lines)" \
	bash -c "test '$suppressed' -gt 0 && grep -q 'log lines suppressed' '$state/h7.log'"
check "h7's titad survived" kill -0 "$(cat "$state/h7.pid")"

finish
