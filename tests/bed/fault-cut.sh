#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The control path between a sender and its receiver is cut (nftables in
# the sender's namespace drops the peer protocol's UDP port both ways)
# while data still flows: the sender fails open (unpaced, its HTB class
# gone, once what it held has left: nothing dropped) within the grant's
# time to live, the receiver stops counting it among its grants, and both
# recover once the path returns.
#
# Usage: fault-cut.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad
command -v nft >/dev/null || skip "needs nft (nftables)"

ttl_ms=100
bed up --hosts 4 --titad --ttl "${ttl_ms}ms" >/dev/null

now_ms() { echo $(($(date +%s%N) / 1000000)); }
rx_grant() { # remote address → h4's live grant to it
	"$titactl" -s "$state/h4.sock" -j pairs role rx remote "$1" 2>/dev/null | python3 -c '
import json, sys
print(sum(p["grant_bps"] for p in json.load(sys.stdin) if p["state"] == "active"))'
}
classes() {
	nsenter --net="$(netns "$1")" tc class show dev eth0 | grep -c -v ' 7174:1 ' || true
}
nft_h1() { nsenter --net="$(netns h1)" nft "$@"; }

bg h4 "$gen" sink --duration 40s --idle 5s >/dev/null 2>&1
sleep 0.3
bg h1 "$gen" send 10.77.0.4 --duration 30s >/dev/null
bg h2 "$gen" send 10.77.0.4 --duration 30s >/dev/null
t=$(poll h1 "pairs role tx" "$(paced 10.77.0.4)" 5000)
check "h1 is paced by h4's grants (after $t ms)" [ "$t" != timeout ]
sleep 1

# ---- cut ----------------------------------------------------------------------------------
cat >"$work/cut.nft" <<'EOF'
table inet titacut {
	chain out {
		type filter hook output priority 0;
		udp dport 4792 counter drop
	}
	chain in {
		type filter hook input priority 0;
		udp sport 4792 counter drop
	}
}
EOF
t=$(poll h1 "pairs role tx" "$(unpaced 10.77.0.4)" 3000 "nsenter --net=$(netns h1) nft -f $work/cut.nft")
check "h1 fails open within the grant TTL of $ttl_ms ms ($t ms after the cut; titactl polled)" \
	awk_true 't != "timeout" && t <= ttl + 50 * k' t="$t" ttl=$ttl_ms k="$slow_factor"
sleep 0.3
check "h1's class towards h4 is gone ($(classes h1) left)" [ "$(classes h1)" -eq 0 ]
# It was full when the grant expired (the sender writes as fast as it may):
# failing open lets that queue out at line rate rather than dropping it.
check "h1's pacer dropped nothing on failing open ($(pacer_drops h1))" [ "$(pacer_drops h1)" -eq 0 ]
check "h2 stays paced" [ "$(poll h2 "pairs role tx" "$(paced 10.77.0.4)" 0)" != timeout ]
check "h4 no longer grants h1 ($(rx_grant 10.77.0.1) bit/s)" [ "$(rx_grant 10.77.0.1)" = 0 ]
dropped=$(nft_h1 list table inet titacut | grep -o 'packets [0-9]*' | awk '{ s += $2 } END { print s + 0 }')
check "the cut dropped peer datagrams ($dropped)" [ "$dropped" -gt 0 ]

# ---- the path returns -----------------------------------------------------------------------
t=$(poll h1 "pairs role tx" "$(paced 10.77.0.4)" 3000 "nsenter --net=$(netns h1) nft delete table inet titacut")
check "h1 is paced again after the path returns ($t ms)" awk_true 't != "timeout" && t <= 1000 * k' t="$t" k="$slow_factor"
check "h4 grants h1 again ($(rx_grant 10.77.0.1) bit/s)" [ "$(rx_grant 10.77.0.1)" -gt 0 ]

finish
