#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The receiver's titad dies (kill -9) while two senders are paced by it:
#
#   - the senders fall back to unpaced within the grant's time to live
#     (their pairs say unpaced, their HTB class towards h4 is gone);
#   - restarted, it hands out grants again within a few intervals;
#   - its BPF counters survived the crash (pinned): the received-bytes
#     counter after the restart is not below the one before the kill;
#   - no stale rule is left: the restarted titad replaced the dead one's
#     classes, and h4's eth0 has one XDP program, one tc egress filter and
#     one root qdisc.
#
# Usage: fault-kill.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad

ttl_ms=100
bed up --hosts 4 --titad --ttl "${ttl_ms}ms" >/dev/null

now_ms() { echo $(($(date +%s%N) / 1000000)); }
classes() { # host: HTB classes on eth0 other than tita's default 7174:1
	nsenter --net="$(netns "$1")" tc class show dev eth0 | grep -c -v ' 7174:1 ' || true
}
root_bytes() { # host: bytes its root qdisc on eth0 sent
	nsenter --net="$(netns "$1")" tc -s -j qdisc show dev eth0 |
		python3 -c 'import json,sys; print(sum(q["bytes"] for q in json.load(sys.stdin) if q.get("root")))'
}
rx_bytes() {
	bed metrics h4 | awk '/^tita_port_received_bytes_total/ { print $2 }'
}

bg h4 "$gen" sink --duration 40s --idle 5s >/dev/null 2>&1
sleep 0.3
bg h1 "$gen" send 10.77.0.4 --duration 30s >/dev/null
bg h2 "$gen" send 10.77.0.4 --duration 30s >/dev/null

t=$(poll h1 "pairs role tx" "$(paced 10.77.0.4)" 5000)
check "h1 is paced by h4's grants (after $t ms)" [ "$t" != timeout ]
check "h1 has an HTB class towards h4 ($(classes h1))" [ "$(classes h1)" -ge 1 ]
sleep 1
before=$(rx_bytes)

# ---- kill -9 ------------------------------------------------------------------------------
# h1 watches while h4's titad is killed; h2 is looked at afterwards.
t1=$(poll h1 "pairs role tx" "$(unpaced 10.77.0.4)" 3000 "kill -KILL $(cat "$state/h4.pid")")
t2=$(poll h2 "pairs role tx" "$(unpaced 10.77.0.4)" 3000)
# The lapse itself is exact (lib/'s unit tests); what this adds is seeing it
# through titactl, a process started per poll on two vCPUs that the senders
# keep busy: 89-157 ms after the kill in 14 runs here, before and after the
# event loop's rework, hence 80 ms over the TTL.
check "h1 unpaced within the grant TTL of $ttl_ms ms ($t1 ms after the kill; titactl polled)" \
	awk_true 't != "timeout" && t <= ttl + 80 * k' t="$t1" ttl=$ttl_ms k="$slow_factor"
check "h2 unpaced as well" [ "$t2" != timeout ]
sleep 0.2
check "h1's class towards h4 is gone (fail-open removes it: $(classes h1) left)" [ "$(classes h1)" -eq 0 ]
check "the dead titad's pins are still there" [ -d "/sys/fs/bpf/tita-bed/$bed_name/h4" ]
check "the dead titad's root HTB is still on h4's eth0" \
	bash -c "nsenter --net=$(netns h4) tc qdisc show dev eth0 | grep -q 'htb 7174: root'"
stale_classes=$(classes h4)
stale_bytes=$(root_bytes h4)

# ---- restart ------------------------------------------------------------------------------
t0=$(now_ms)
bed titad start h4
# The restarted titad replaced the dead one's root HTB, with its classes:
# the root's counters start again from zero.
check "the restarted titad replaced the dead one's HTB and its $stale_classes classes (root sent $stale_bytes bytes before, $(root_bytes h4) now)" \
	awk_true 'n < o' n="$(root_bytes h4)" o="$stale_bytes"
t=$(poll h1 "pairs role tx" "$(paced 10.77.0.4)" 5000)
check "grants resume after the restart ($t ms after the start returned, $(($(now_ms) - t0)) ms in all)" \
	awk_true 't != "timeout" && t <= 1000 * k' t="$t" k="$slow_factor"
after=$(rx_bytes)
check "BPF counters survived the crash (received bytes $before before, $after after)" \
	awk_true 'a >= b && b > 0' a="${after:-0}" b="${before:-0}"

# No stale rule: exactly one of each of titad's pieces on h4's eth0.
xdp=$(nsenter --net="$(netns h4)" ip -d link show dev eth0 | grep -c 'prog/xdp' || true)
filters=$(nsenter --net="$(netns h4)" tc filter show dev eth0 egress | grep -c 'direct-action' || true)
roots=$(nsenter --net="$(netns h4)" tc qdisc show dev eth0 | grep -c 'root' || true)
check "h4: one XDP program ($xdp)" [ "$xdp" -eq 1 ]
check "h4: one tc egress filter ($filters)" [ "$filters" -eq 1 ]
check "h4: one root qdisc ($roots)" [ "$roots" -eq 1 ]

finish
