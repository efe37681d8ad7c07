#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# titad end to end, in network namespaces: three hosts and a switch (a
# bridge), real titad processes with the real XDP/tc programs and the tc
# pacer, RoCEv2 traffic from h1 and h2 into h3. Asserts through
# `titactl --json`, `tc class show` and `promtool check metrics`:
#
#   - h3's grants add up to at most eta x its line rate;
#   - h1's job has weight 3, h2's the default 1: h1 gets the larger share;
#   - h1's HTB class towards h3 carries the rate titactl says is programmed;
#   - with h3's titad stopped past the grant TTL, h1 (fail-open = remove)
#     drops its class to h3 and h2 (fail-open = line-rate) keeps it at line
#     rate; once h3 runs again both are paced below line rate again;
#   - the Prometheus scrape passes promtool;
#   - SIGHUP with a good config applies it (sched-priority too: the event
#     loop's thread alone runs SCHED_FIFO), with a bad one keeps the old;
#   - every bad titactl argument fails with one line and changes nothing;
#   - `nobody` may read but not change;
#   - a titad killed with SIGKILL leaves rules that the next start removes;
#   - SIGTERM leaves no qdisc, class, filter, XDP program or pin behind.
#
# Usage: netns.sh TITAD TITACTL   (root; exit 77 = skipped, unless CI=true)
set -euo pipefail

titad=$1
titactl=$2
here=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=tests/lib/netns-titad.sh
. "$(dirname "$0")/../lib/netns-titad.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, BPF, tc)"
for t in ip tc nsenter setpriv promtool curl python3; do
	command -v "$t" >/dev/null || skip "needs $t"
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf || skip "no bpffs"

id=$$
tmp=$(mktemp -d /tmp/tita-netns.XXXXXX)
chmod 755 "$tmp"
pins=/sys/fs/bpf/tita-test-$id
hosts=(h1 h2 h3)
declare -A pid
gens=()

ns() { echo "tt${id}$1"; }

cleanup() {
	set +e
	for g in "${gens[@]}"; do kill "$g" 2>/dev/null; done
	stop_titads
	for n in sw "${hosts[@]}"; do ip netns del "$(ns "$n")" 2>/dev/null; done
	rm -rf "$pins" 2>/dev/null
	if [ "$failures" -ne 0 ]; then
		dump_titad_logs 30
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP


# ---- the bed -----------------------------------------------------------------------
ip netns add "$(ns sw)"
in_ns sw ip link add br0 type bridge
in_ns sw ip link set br0 up
i=0
for h in "${hosts[@]}"; do
	i=$((i + 1))
	ip netns add "$(ns "$h")"
	in_ns "$h" ip link set lo up
	in_ns "$h" ip link add eth0 type veth peer name "p$i" netns "/run/netns/$(ns sw)"
	in_ns "$h" ip addr add "10.77.0.$i/24" dev eth0
	in_ns "$h" ip link set eth0 up
	in_ns sw ip link set "p$i" master br0
	in_ns sw ip link set "p$i" up
done

# The cluster key: root-owned, mode 600, as titad insists.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/cluster.key"
chmod 600 "$tmp/cluster.key"

line_rate=20000000
eta=0.9
write_conf() { # host index, eta, extra, extra [daemon] lines
	local h=$1 i=$2 e=$3 extra=${4:-} daemon_extra=${5:-}
	cat >"$tmp/$h.conf" <<CONF
[daemon]
$daemon_extra
log-level = info
pacer = tc
control-socket = $tmp/$h.sock
control-group = root
control-mode = 0666
metrics-listen = 127.0.0.1:9977
pin-root = $pins/$h
state-directory = $tmp/$h.state

[controller]
interval = 5ms
eta = $e

[peers]
port = 4792
key-file = $tmp/cluster.key

[port eth0]
address = 10.77.0.$i
line-rate = 20Mbit
$extra
CONF
}
write_conf h1 1 $eta "
[job train]
dst = 10.77.0.3/32"
write_conf h2 2 $eta "
[controller]
fail-open = line-rate"
write_conf h3 3 $eta

# h2 runs as under systemd: JOURNAL_STREAM set and a journal socket, which
# here is a listener of this test's in a mount namespace of h2's own (a
# tmpfs on /run), recording each native journal datagram: what titad
# sends journald with libsystemd, fields and all.
start_titad_journal() { # host
	local h=$1
	nsenter --net="/run/netns/$(ns "$h")" unshare -m --propagation private sh -c '
		mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal || exit 1
		timeout 300 python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/run/systemd/journal/socket\")
open(sys.argv[1] + \".ready\", \"w\").close()
with open(sys.argv[1], \"ab\", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b\"\\n--\\n\")
" "$1" &
		for _ in $(seq 50); do [ -e "$1.ready" ] && break; sleep 0.1; done
		JOURNAL_STREAM=0:0 exec "$2" -c "$3"' sh "$tmp/$h.journal" "$titad" "$tmp/$h.conf" >>"$tmp/$h.log" 2>&1 &
	pid[$h]=$!
	wait_titad "$h"
}
start_titad h1
start_titad_journal h2
start_titad h3
ok "three titad processes running (h2 under a journal)"

ctl() { # host, args...
	local h=$1
	shift
	"$titactl" -s "$tmp/$h.sock" "$@"
}

check "job set train --weight 3 on h1" ctl h1 job set train --weight 3 >/dev/null

# Both senders offer more than their share: 18 Mbit/s each into 20 Mbit/s.
gen_seconds=60
nsenter --net="/run/netns/$(ns h1)" python3 "$here/roce-gen.py" 10.77.0.3 --rate 18e6 --seconds $gen_seconds &
gens+=($!)
nsenter --net="/run/netns/$(ns h2)" python3 "$here/roce-gen.py" 10.77.0.3 --rate 18e6 --seconds $gen_seconds &
gens+=($!)

# ---- grants at the receiver -------------------------------------------------------------
grants() { # prints "h1_grant h2_grant sum" from h3's RX pairs
	ctl h3 -j pairs role rx 2>/dev/null | python3 -c '
import json, sys
g = {p["remote"]: p["grant_bps"] for p in json.load(sys.stdin) if p["state"] == "active"}
print(g.get("10.77.0.1", 0), g.get("10.77.0.2", 0), sum(g.values()))'
}
converged=0
for _ in $(seq 150); do
	read -r g1 g2 sum < <(grants)
	if [ "$g1" -gt 0 ] && [ "$g2" -gt 0 ]; then
		converged=1
		break
	fi
	sleep 0.1
done
check "h3 grants both senders (h1 $g1, h2 $g2 bit/s)" [ "$converged" = 1 ]
sleep 3 # let demands probe up and the allocation settle
bad_sum=0
sum1=0
sum2=0
for _ in $(seq 20); do
	read -r g1 g2 sum < <(grants)
	awk -v s="$sum" -v c="$line_rate" -v e="$eta" 'BEGIN { exit !(s <= e * c * 1.001) }' || bad_sum=$((bad_sum + 1))
	sum1=$((sum1 + g1))
	sum2=$((sum2 + g2))
	sleep 0.1
done
check "grants add up to <= eta x capacity at h3 (last: $sum <= $eta x $line_rate)" [ "$bad_sum" = 0 ]
# Weighted max-min: with both senders demanding more than their share, h1
# (weight 3) gets three times h2's grant; demands move, so compare means.
check "weight 3 gives h1 the larger share (mean grants: h1 $((sum1 / 20)), h2 $((sum2 / 20)))" \
	awk -v a="$sum1" -v b="$sum2" 'BEGIN { exit !(a >= 1.5 * b && a > 0) }'

# ---- the HTB class carries the programmed rate ---------------------------------------------
tx_rate() {
	"$titactl" -j -s "$tmp/h1.sock" pairs role tx remote 10.77.0.3 | python3 -c '
import json, sys
p = [x for x in json.load(sys.stdin) if not x["unpaced"]]
print(p[0]["rate_bps"] if p else 0)'
}
class_rates() { # [host]: every HTB class rate on its eth0 (h1's by default) in bit/s (iproute2 6.1 has no JSON for classes)
	in_ns "${1:-h1}" tc class show dev eth0 | python3 -c '
import re, sys
mult = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
for line in sys.stdin:
    m = re.search(r"class htb (\S+) .* rate ([0-9.]+)([KMGT]?)bit", line)
    if m:
        print(m.group(1), int(float(m.group(2)) * mult[m.group(3)]))'
}
matched=0
for _ in $(seq 20); do
	want=$(tx_rate)
	if [ "$want" -gt 0 ] && class_rates | awk -v w="$want" '$1 != "7174:1" && $2 >= w * 0.99 && $2 <= w * 1.01 { f = 1 } END { exit !f }'; then
		matched=1
		break
	fi
	sleep 0.1
done
check "h1's HTB class to h3 carries the programmed rate ($want bit/s)" [ "$matched" = 1 ]
check "h1's root qdisc is tita's HTB 7174:" bash -c "nsenter --net=/run/netns/$(ns h1) tc qdisc show dev eth0 | grep -q 'qdisc htb 7174: root'"

# ---- fail-open: the receiver's titad stops answering --------------------------------------------
# Past the grant TTL (100 intervals: 500 ms) both senders fail open: h1
# (fail-open = remove) removes its class to h3, h2 (fail-open = line-rate)
# keeps it at the port's line rate. Each sends only to h3, so its classes
# other than the default 7174:1 are its rule to h3.
rules() { class_rates "$1" | awk '$1 != "7174:1"'; }
kill -STOP "${pid[h3]}"
for _ in $(seq 50); do
	h1_rules=$(rules h1 | wc -l)
	h2_seen=$(rules h2)
	h2_at_line=$(awk -v l="$line_rate" '$2 >= l * 0.99 && $2 <= l * 1.01' <<<"$h2_seen" | wc -l)
	[ "$h1_rules" = 0 ] && [ "$h2_at_line" = 1 ] && break
	sleep 0.1
done
kill -CONT "${pid[h3]}"
check "h3 quiet: h1 (fail-open = remove) has no class to h3 ($h1_rules)" [ "$h1_rules" = 0 ]
check "h3 quiet: h2 (fail-open = line-rate) holds its class at line rate ($(tr '\n' ' ' <<<"$h2_seen"))" [ "$h2_at_line" = 1 ]
resumed=0
for _ in $(seq 100); do
	read -r g1 g2 sum < <(grants)
	if [ "$g1" -gt 0 ] && [ "$g2" -gt 0 ] && [ "$(rules h1 | wc -l)" = 1 ] &&
		rules h2 | awk -v l="$line_rate" '$2 < l * 0.99 { f = 1 } END { exit !f }'; then
		resumed=1
		break
	fi
	sleep 0.1
done
check "h3 back: h1 and h2 paced below line rate again ($(rules h1 | tr '\n' ' ')/ $(rules h2 | tr '\n' ' '))" [ "$resumed" = 1 ]

# ---- the log: a receiver lost and back ------------------------------------------------------
# h3 stopped for 4.5 s (past the 3 s without a hello that is lost): h1's
# log says its pair to h3 fails open and h3 is lost, then that h3 is heard
# again and nothing fails open any more; h2's journal has the same as
# fields (TITA_EVENT, TITA_PEER, TITA_PORT, TITA_JOB, PRIORITY).
# titactl monitor on h1 meanwhile sees the same: the pair's state, h3.
timeout 12 "$titactl" -j -s "$tmp/h1.sock" monitor >"$tmp/monitor.json" 2>"$tmp/monitor.err" &
monitor_pid=$!
sleep 0.5
kill -STOP "${pid[h3]}"
sleep 4.5
kill -CONT "${pid[h3]}"
for _ in $(seq 50); do
	grep -q 'peer 10.77.0.3: no pair fails open' "$tmp/h1.log" && grep -q 'peer 10.77.0.3: heard again' "$tmp/h1.log" &&
		[ "$(grep -c '^TITA_EVENT=\(peer-back\|fail-open-end\)$' "$tmp/h2.journal")" -ge 2 ] && break
	sleep 0.1
done
check "h1's log: its pairs to h3 fail open, named by peer, port and job" \
	grep -q '^titad: warning: peer 10.77.0.3: grants lapsed, 1 pair(s) fail open on eth0 (job train): unpaced until it grants again$' "$tmp/h1.log"
check "h1's log: h3 lost" grep -q '^titad: warning: peer 10.77.0.3: lost: not heard for [3-9]\.[0-9]s' "$tmp/h1.log"
check "h1's log: h3 heard again, nothing fails open any more" bash -c "
	grep -q '^titad: notice: peer 10.77.0.3: heard again$' '$tmp/h1.log' &&
	grep -q '^titad: notice: peer 10.77.0.3: no pair fails open any more' '$tmp/h1.log'"
check "h3's log: both senders heard when they came" bash -c "
	grep -q '^titad: notice: peer 10.77.0.1: heard (boot id [0-9]*)$' '$tmp/h3.log' &&
	grep -q '^titad: notice: peer 10.77.0.2: heard (boot id [0-9]*)$' '$tmp/h3.log'"
check "h2's journal: fail-open with its fields and priority 4" python3 - "$tmp/h2.journal" <<'EOF'
import sys
entries = [dict(l.split("=", 1) for l in e.strip().split("\n") if "=" in l)
           for e in open(sys.argv[1]).read().split("\n--\n")]
def has(**kv):
    return any(all(e.get(k) == v for k, v in kv.items()) for e in entries)
assert has(TITA_EVENT="fail-open", TITA_PEER="10.77.0.3", TITA_PORT="eth0", TITA_JOB="default",
           PRIORITY="4", SYSLOG_IDENTIFIER="titad"), entries
assert has(TITA_EVENT="peer-lost", TITA_PEER="10.77.0.3", PRIORITY="4"), entries
assert has(TITA_EVENT="peer-back", TITA_PEER="10.77.0.3", PRIORITY="5"), entries
assert has(TITA_EVENT="fail-open-end", TITA_PEER="10.77.0.3", PRIORITY="5"), entries
print(len(entries), "journal entries")
EOF
sleep 1
kill "$monitor_pid" 2>/dev/null || true
wait "$monitor_pid" 2>/dev/null || true
check "titactl monitor on h1: the pair to h3 fails open and comes back, h3 lost and back" python3 - "$tmp/monitor.json" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def seen(obj, name, event, detail=None):
    return any(e["object"] == obj and e["name"] == name and e["event"] == event and
               (detail is None or e["detail"].startswith(detail)) for e in ev)
pair = "tx 10.77.0.1 -> 10.77.0.3 job train"
assert seen("pair", pair, "state", "granted -> fail-open"), ev
assert any(e["name"] == pair and e["event"] == "state" and e["detail"].startswith("fail-open -> ") for e in ev), ev
assert seen("pair", pair, "grant", "") , ev
assert seen("peer", "10.77.0.3", "lost") and seen("peer", "10.77.0.3", "back"), ev
print(len(ev), "events")
EOF
check "h2's stderr under the journal: lines with priority prefixes, not 'titad: '" bash -c "
	grep -q '^<5>titad 0' '$tmp/h2.log' && ! grep -q '^titad: ' '$tmp/h2.log'"

# ---- metrics ------------------------------------------------------------------------------------
in_ns h3 curl -sf http://127.0.0.1:9977/metrics >"$tmp/metrics.txt"
check "promtool check metrics passes on h3's scrape" promtool check metrics <"$tmp/metrics.txt"
check "the scrape has granted rates and the loop histogram" \
	grep -q '^tita_pair_granted_bytes_per_second{.*role="rx"}' "$tmp/metrics.txt"
# Labels that join: no bare job (Prometheus's own label: a scrape would
# rename it exported_job); port is an interface name in every family, the
# names tita_port_info maps to addresses; pairs carry peer and tita_job.
check "no series has a label named job" bash -c "! grep -E '[{,]job=' '$tmp/metrics.txt'"
check "tita_port_info maps port eth0 to h3's address" \
	grep -q '^tita_port_info{port="eth0",address="10.77.0.3",pacer="tc"} 1$' "$tmp/metrics.txt"
check "every port label, in every family, is eth0 (an interface, never an address)" bash -c "
	grep -oE '[{,]port=\"[^\"]*\"' '$tmp/metrics.txt' | sort | uniq -c | tee '$tmp/ports.txt' | grep -qv 'port=\"eth0\"' && exit 1
	[ -s '$tmp/ports.txt' ]"
check "pair series: port, peer, tita_job, role" \
	grep -q '^tita_pair_granted_bytes_per_second{port="eth0",peer="10.77.0.1",tita_job="[^"]*",role="rx"}' "$tmp/metrics.txt"
check "per-job sums: h3's rx pairs from both senders are counted" \
	awk '/^tita_job_pairs\{port="eth0",.*role="rx"\}/ { n += $2 } END { exit !(n >= 2) }' "$tmp/metrics.txt"
check "the process families are there" bash -c "
	for m in process_cpu_seconds_total process_resident_memory_bytes process_open_fds process_start_time_seconds; do
		grep -q \"^\$m \" '$tmp/metrics.txt' || exit 1
	done"
# h1's pair to h3 began with unscheduled first bytes: titad handed them to
# the tc back end (a class whose buffer lets them go at line rate).
in_ns h1 curl -sf http://127.0.0.1:9977/metrics >"$tmp/metrics-h1.txt"
check "h1's tc pacer took a new pair's unscheduled bytes" \
	awk '$1 == "tita_pacer_unscheduled_total{result=\"ok\"}" && $2 > 0 { f = 1 } END { exit !f }' \
	"$tmp/metrics-h1.txt"

# ---- titactl: bad arguments ---------------------------------------------------------------------
before=$(ctl h1 -j job show train)
bad_args=(
	""
	"frobnicate"
	"job frobnicate"
	"job set"
	"job set 'bad name'"
	"job set a/b"
	"job set train --weight"
	"job set train --weight abc"
	"job set train --weight 0"
	"job set train --weight 1001"
	"job set train --weight nan"
	"job set train --min 12X"
	"job set train --min -5G"
	"job set train --max 4T"
	"job set train --min 10G --max 1G"
	"job set train --weight 2 --weight 3"
	"job set train --frob 1"
	"job set train extra"
	"job clear"
	"job clear train extra"
	"job show train extra"
	"status extra"
	"ports extra"
	"peers extra"
	"pairs role both"
	"pairs local 10.0.0.300"
	"pairs remote"
	"pairs frob 1"
	"--frob status"
	"-s"
)
for args in "${bad_args[@]}"; do
	eval "set -- $args"
	set +e
	out=$("$titactl" -s "$tmp/h1.sock" "$@" 2>"$tmp/err")
	rc=$?
	set -e
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne 0 ] && [ "$lines" -eq 1 ] && [ -z "$out" ] && ! grep -q 'titactl: titactl:' "$tmp/err"; then
		ok "titactl $args: exit $rc, $(cat "$tmp/err")"
	else
		fail "titactl $args: exit $rc, $lines stderr lines, stdout '$out'"
	fi
done
check "bad arguments changed nothing" [ "$(ctl h1 -j job show train)" = "$before" ]

# ---- titactl: JSON for jq, n/a, prefixes and filters --------------------------------------------
# Boot ids are 64-bit: strings, which jq keeps whole. What does not apply
# to a row is null (an rx pair's ceiling, rate and CNPs), and "-" in the
# table, not a 0bit that reads like a measurement.
check "status -j -p: indented JSON, boot_id a string of digits" bash -c "
	'$titactl' -j -p -s '$tmp/h1.sock' status | tee '$tmp/pretty.json' | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert isinstance(d[\"boot_id\"], str) and d[\"boot_id\"].isdigit() and int(d[\"boot_id\"]) > 0, d[\"boot_id\"]'
	[ \$(wc -l <'$tmp/pretty.json') -gt 10 ] && grep -q '^  \"boot_id\": \"[0-9]*\",\$' '$tmp/pretty.json'"
check "peers -j: every heard peer's boot_id is a string" bash -c "
	ctl() { '$titactl' -s '$tmp/h3.sock' \"\$@\"; }
	ctl -j peers | python3 -c '
import json, sys
p = [x for x in json.load(sys.stdin) if x[\"heard\"]]
assert p and all(isinstance(x[\"boot_id\"], str) for x in p), p'"
check "pairs -j: an rx pair's ceiling, rate and CNPs are null" bash -c "
	'$titactl' -j -s '$tmp/h3.sock' pairs role rx | python3 -c '
import json, sys
p = json.load(sys.stdin)
assert p and all(x[\"ceiling_bps\"] is None and x[\"rate_bps\"] is None and x[\"cnp_per_sec\"] is None for x in p), p'"
check "pairs (table): an rx row's CEILING and CNP/S are -, never 0bit" bash -c "
	'$titactl' -s '$tmp/h3.sock' pairs role rx | awk 'NR > 1 { n++; if (\$8 != \"-\" || \$12 != \"-\") bad = 1 } END { exit !(n > 0 && !bad) }'"
check "pa ro tx (prefixes) lists h1's tx pairs, as pairs role tx does" bash -c "
	[ \"\$('$titactl' -j -s '$tmp/h1.sock' pa ro tx | python3 -c 'import json,sys; print(sorted((p[\"role\"], p[\"remote\"]) for p in json.load(sys.stdin)))')\" = \
	  \"\$('$titactl' -j -s '$tmp/h1.sock' pairs role tx | python3 -c 'import json,sys; print(sorted((p[\"role\"], p[\"remote\"]) for p in json.load(sys.stdin)))')\" ]"
check "pairs dev eth0 peer 10.77.0.3 job train: h1's pair to h3, on eth0's address" bash -c "
	'$titactl' -j -s '$tmp/h1.sock' pairs dev eth0 peer 10.77.0.3 job train role tx | python3 -c '
import json, sys
p = json.load(sys.stdin)
assert len(p) == 1 and p[0][\"local\"] == \"10.77.0.1\" and p[0][\"remote\"] == \"10.77.0.3\", p'"
set +e
"$titactl" -s "$tmp/h1.sock" pairs dev eth9 >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
check "pairs dev eth9 (no such port): exit 1, one line ($(cat "$tmp/err"))" \
	bash -c "[ $rc = 1 ] && [ \$(wc -l <'$tmp/err') = 1 ] && [ ! -s '$tmp/out' ]"

# ---- an unprivileged user ---------------------------------------------------------------
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$titactl" -s "$tmp/h1.sock" "$@"; }
check "nobody may read (status)" as_nobody status
set +e
as_nobody job set train --weight 1 >/dev/null 2>"$tmp/err"
rc=$?
set -e
check "nobody may not change a job (exit $rc: $(cat "$tmp/err"))" [ "$rc" -ne 0 ]
check "the refusal says why" grep -q "only root" "$tmp/err"
check "nobody changed nothing" [ "$(ctl h1 -j job show train)" = "$before" ]

# ---- SIGHUP -------------------------------------------------------------------------------------
peers_before=$(ctl h3 -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["n_peers"])')
write_conf h3 3 0.8 "" "sched-priority = 1"
kill -HUP "${pid[h3]}"
sleep 0.5
eta_now() { ctl h3 -j ports | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["eta"])'; }
check "SIGHUP with a good config applies it (eta $(eta_now))" \
	awk -v e="$(eta_now)" 'BEGIN { exit !(e <= 0.8 + 1e-9) }'
# sched-priority: the event loop's thread alone runs real-time; QP
# discovery's thread (qp-scan-interval's default is on) stays normal.
check "SIGHUP with sched-priority = 1: the event loop runs SCHED_FIFO at 1 ($(chrt -p "${pid[h3]}" | tr '\n' ' '))" \
	bash -c "chrt -p ${pid[h3]} | grep -q 'policy: SCHED_FIFO' && chrt -p ${pid[h3]} | grep -q 'priority: 1'"
check "and titad's other threads stay under the normal scheduler ($(ps -L -o cls= -p "${pid[h3]}" | tr '\n' ' '))" \
	bash -c "[ \$(ps -L -o cls= -p ${pid[h3]} | wc -l) -ge 2 ] && [ \$(ps -L -o cls= -p ${pid[h3]} | grep -c FF) = 1 ]"
# A real-time loop that stops sleeping must not hold its core: its busy CPU
# is bounded, and SIGXCPU (the kernel's, at the soft bound) puts it back
# under the normal scheduler.
check "the real-time loop's CPU without sleeping is bounded ($(grep 'realtime timeout' /proc/${pid[h3]}/limits | tr -s ' '))" \
	awk '/Max realtime timeout/ { f = ($4 == 1000000 && $5 == 3000000) } END { exit !f }' "/proc/${pid[h3]}/limits"
kill -XCPU "${pid[h3]}"
sleep 0.3
check "SIGXCPU puts the event loop back under the normal scheduler ($(chrt -p "${pid[h3]}" | head -1))" \
	bash -c "chrt -p ${pid[h3]} | grep -q 'policy: SCHED_OTHER'"
check "and says so" grep -q "back under the normal scheduler until the next reload" "$tmp/h3.log"
check "the reload kept the peers" [ "$(ctl h3 -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["n_peers"])')" -ge "$peers_before" ]
check "the reload kept the pairs" [ "$(ctl h3 -j pairs role rx | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge 2 ]
printf '[controller]\ninterval = 0ms\n' >>"$tmp/h3.conf"
kill -HUP "${pid[h3]}"
sleep 0.5
check "SIGHUP with a bad config keeps titad running" kill -0 "${pid[h3]}"
check "the bad config was rejected with file:line" grep -q "reload rejected.*h3.conf:[0-9]*: interval" "$tmp/h3.log"
check "the old config stays in force" awk -v e="$(eta_now)" 'BEGIN { exit !(e <= 0.8 + 1e-9 && e > 0.5) }'
in_ns h3 curl -sf http://127.0.0.1:9977/metrics >"$tmp/metrics2.txt"
check "reloads counted (1 ok, 1 rejected)" bash -c "grep -q 'tita_config_reloads_total{result=\"ok\"} 1' $tmp/metrics2.txt && grep -q 'tita_config_reloads_total{result=\"rejected\"} 1' $tmp/metrics2.txt"

# ---- a crash, then a start that cleans up after it -------------------------------------------------
kill -KILL "${pid[h1]}"
wait "${pid[h1]}" 2>/dev/null || true
check "SIGKILL leaves h1's HTB behind" bash -c "nsenter --net=/run/netns/$(ns h1) tc qdisc show dev eth0 | grep -q 'htb 7174:'"
rm -f "$tmp/h1.sock"
start_titad h1
check "the restarted titad took over its own stale rules" bash -c "nsenter --net=/run/netns/$(ns h1) tc qdisc show dev eth0 | grep -q 'htb 7174:'"
check "and runs" ctl h1 status >/dev/null

# ---- SIGTERM: nothing of titad's is left ------------------------------------------------------------
for g in "${gens[@]}"; do kill "$g" 2>/dev/null || true; done
gens=()
for h in "${hosts[@]}"; do
	rc=0
	term_titad "$h" || rc=$?
	check "$h: titad exits 0 on SIGTERM" [ "$rc" = 0 ]
	check "$h: no HTB left" bash -c "! nsenter --net=/run/netns/$(ns "$h") tc qdisc show dev eth0 | grep -q htb"
	check "$h: no clsact or tc filter left" bash -c "! nsenter --net=/run/netns/$(ns "$h") tc qdisc show dev eth0 | grep -q clsact && [ -z \"\$(nsenter --net=/run/netns/$(ns "$h") tc filter show dev eth0 egress 2>/dev/null)\" ]"
	check "$h: no XDP program left" bash -c "! nsenter --net=/run/netns/$(ns "$h") ip link show dev eth0 | grep -q xdp"
	check "$h: no pins left" [ ! -e "$pins/$h" ]
	check "$h: control socket removed" [ ! -e "$tmp/$h.sock" ]
done

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
