#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# titad against what a local user, a slow client or a careless operator
# can do to it on one host (a real titad with the qp pacer on a veth in a
# private network namespace; the attacker is `nobody` where it matters):
#
#   - --check-config says every problem, a missing interface included;
#   - 64 control connections that never send, opened by nobody, cannot
#     lock root's titactl out, and are closed after control-idle-timeout;
#   - 20 slowloris clients on /metrics (a byte now and then) cannot make a
#     scrape fail;
#   - with no descriptor left (RLIMIT_NOFILE) and clients piling up, the
#     accept loops do not spin;
#   - a second titad started with the same config exits at once and leaves
#     the first one's XDP and tc programs, pins and sockets in place;
#   - an agent storm by nobody (256 agents x 4,096 QP_ADD, then 64 of them
#     sending STATS as fast as they can) is held to agents-per-uid and
#     agent-qps-per-uid, titad's memory stays bounded, root's titactl
#     answers within 200 ms and control passes stay within 5 ms (p99).
#
# Usage: redteam-local.sh TITAD TITACTL TITA_STORM   (root; exit 77 = skipped, unless CI=true)
set -euo pipefail

titad=$1
titactl=$2
storm=$3

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (a network namespace, BPF, the user nobody)"
for t in ip python3 setpriv prlimit; do
	command -v "$t" >/dev/null || skip "needs $t"
done
id nobody >/dev/null 2>&1 || skip "needs a user nobody"
mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf || skip "no bpffs"
# A distribution's python3: setpriv runs it by path, and a version
# manager's shim in PATH may not let nobody in.
py=python3
[ ! -x /usr/bin/python3 ] || py=/usr/bin/python3
python3() { "$py" "$@"; }

id=$$
netns=ttrl$id
tmp=$(mktemp -d /tmp/tita-redteam.XXXXXX)
chmod 755 "$tmp"
pins=/sys/fs/bpf/tita-redteam-$id
pid=
bg=()

cleanup() {
	set +e
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	ip netns del "$netns" 2>/dev/null
	rm -rf "$pins" 2>/dev/null
	if [ "$failures" -ne 0 ]; then
		echo "--- titad log" >&2
		tail -n 30 "$tmp/titad.log" >&2 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

ip netns add "$netns"
ip -n "$netns" link set lo up
ip -n "$netns" link add eth0 type veth peer name eth1
ip -n "$netns" addr add 10.79.0.1/24 dev eth0
ip -n "$netns" link set eth0 up
ip -n "$netns" link set eth1 up
in_ns() { nsenter --net="/run/netns/$netns" "$@"; }

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/cluster.key"
chmod 600 "$tmp/cluster.key"

# Keys an older titad does not know are left out (for running this test
# against it, to see what it fails).
idle_key="control-idle-timeout = 2s"
state_key="state-directory = $tmp/state"
write_conf() { # extra [daemon] lines, extra sections
	cat >"$tmp/titad.conf" <<CONF
[daemon]
log-level = info
pacer = qp
agent-socket = $tmp/agent.sock
control-socket = $tmp/control.sock
control-group = root
control-mode = 0666
metrics-listen = 127.0.0.1:9981
pin-root = $pins
$state_key
qp-scan-interval = off
${1:-}

[peers]
key-file = $tmp/cluster.key

[port eth0]
address = 10.79.0.1
line-rate = 10G
${2:-}
CONF
}
write_conf "$idle_key"
if ! in_ns "$titad" --check-config -c "$tmp/titad.conf" >/dev/null 2>&1; then
	echo "# this titad does not take '$idle_key' (or state-directory): left out" >&2
	idle_key=
	state_key=
	write_conf
fi
cp "$tmp/titad.conf" "$tmp/good.conf"

# ---- --check-config: every problem, the system's included --------------------------------
write_conf "pacer = verbs" "[port tita-none0]
address = 10.79.0.2
line-rate = 1G
[port eth1]"
sed -i '0,/^pacer = qp$/{/^pacer = qp$/d}' "$tmp/titad.conf"
set +e
out=$(in_ns "$titad" --check-config -c "$tmp/titad.conf" 2>&1)
rc=$?
set -e
echo "$out" | sed 's/^/# /'
check "--check-config fails (exit $rc)" [ "$rc" -ne 0 ]
check "it names the bad value with file:line" grep -q "titad.conf:[0-9]*: pacer: 'verbs'" <<<"$out"
check "it names the interface that does not exist" grep -q "titad.conf:[0-9]*: \[port tita-none0\]: no such network device" <<<"$out"
check "it names the port with no address" grep -q "titad.conf:[0-9]*: \[port eth1\]: no address given" <<<"$out"
cp "$tmp/good.conf" "$tmp/titad.conf"
check "--check-config passes the good config" in_ns "$titad" --check-config -c "$tmp/titad.conf"

# ---- titad ------------------------------------------------------------------------------
# nsenter execs titad: $! is titad itself (through a shell function it
# would be the function's subshell).
nsenter --net="/run/netns/$netns" "$titad" -c "$tmp/titad.conf" >>"$tmp/titad.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ -S "$tmp/control.sock" ] && "$titactl" -s "$tmp/control.sock" status >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
check "titad runs" "$titactl" -s "$tmp/control.sock" status >/dev/null
scrape() { # the metrics page, or nothing within 3 s
	in_ns python3 -c '
import sys, urllib.request
try:
    print(urllib.request.urlopen("http://127.0.0.1:9981/metrics", timeout=3).read().decode(), end="")
except Exception as e:
    print("scrape failed:", e, file=sys.stderr)' 2>/dev/null || true
}
metric() { scrape | awk -v re="$1" '$0 ~ re { s += $NF } END { printf "%d\n", s }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# ---- idle control clients ---------------------------------------------------------------
# nobody opens 64 connections, never sends, and holds them 4 s.
setpriv --reuid=nobody --regid=nogroup --clear-groups "$py" - "$tmp/control.sock" <<'PY' &
import socket, sys, time
held = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sys.argv[1])
        held.append(s)
    except OSError:
        pass
time.sleep(4)
PY
bg+=($!)
sleep 0.5
t0=$(ms_now)
ok_root=0
"$titactl" -s "$tmp/control.sock" status >/dev/null 2>&1 && ok_root=1
t1=$(ms_now)
check "root's titactl answers while nobody holds 64 connections ($((t1 - t0)) ms)" \
	[ "$ok_root" = 1 ]
n=$(metric '^tita_control_clients ')
check "nobody holds at most control-clients-per-uid of them ($n)" [ "$n" -le 8 ]
if [ -n "$idle_key" ]; then
	sleep 2.5
	n=$(metric '^tita_control_clients ')
	idle=$(metric '^tita_control_clients_closed_total\{reason="idle"\}')
	check "the silent ones are closed after control-idle-timeout (2 s: $n left, $idle closed)" \
		awk "BEGIN { exit !($n <= 1 && $idle >= 8) }"
else
	fail "the silent ones are closed after control-idle-timeout (this titad has none)"
fi
wait "${bg[-1]}" 2>/dev/null || true

# ---- slowloris on /metrics --------------------------------------------------------------
# 20 connections from one address, a byte of a request every 0.5 s, for 6 s.
in_ns python3 - <<'PY' &
import socket, time
conns = []
for _ in range(20):
    try:
        s = socket.create_connection(("127.0.0.1", 9981), timeout=1)
        s.setblocking(False)
        conns.append(s)
    except OSError:
        pass
end = time.monotonic() + 6
while time.monotonic() < end:
    for s in conns:
        try:
            s.send(b"G")
        except OSError:
            pass
    time.sleep(0.5)
PY
bg+=($!)
sleep 0.5
scrapes=0
good=0
for _ in $(seq 8); do
	scrapes=$((scrapes + 1))
	scrape | grep -q '^tita_uptime_seconds' && good=$((good + 1))
	sleep 0.5
done
check "every scrape succeeds under 20 slowloris clients ($good of $scrapes)" [ "$good" = "$scrapes" ]
wait "${bg[-1]}" 2>/dev/null || true

# ---- no descriptors left -------------------------------------------------------------------
open_fds=$(find "/proc/$pid/fd" -mindepth 1 | wc -l)
soft=$(prlimit --pid "$pid" --nofile --noheadings --output SOFT)
prlimit --pid "$pid" --nofile=$((open_fds + 4)):
python3 - "$tmp/control.sock" <<'PY' &
import socket, sys, time
held = []
for _ in range(40):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
    except OSError:
        pass
    held.append(s)
time.sleep(3.5)
PY
bg+=($!)
sleep 0.5
c0=$(cpu_ticks)
sleep 2
c1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz / 2 * 100 }')
check "with no descriptor left and clients queued, titad does not spin ($cpu% of a core)" \
	awk "BEGIN { exit !($cpu < 15) }"
wait "${bg[-1]}" 2>/dev/null || true
prlimit --pid "$pid" --nofile="$soft":
ok_ctl=0
for _ in $(seq 30); do
	"$titactl" -s "$tmp/control.sock" status >/dev/null 2>&1 && { ok_ctl=1; break; }
	sleep 0.1
done
check "titactl gets in again once descriptors are back" [ "$ok_ctl" = 1 ]

# ---- an agent storm by nobody ---------------------------------------------------------------
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
hist_le() { # count of the control-loop histogram at or below LE seconds, and the total
	scrape | awk -v le="$1" '
		$0 ~ "^tita_control_loop_duration_seconds_bucket\\{le=\"" le "\"\\}" { b = $2 }
		/^tita_control_loop_duration_seconds_count/ { n = $2 }
		END { print b + 0, n + 0 }'
}
rss0=$(rss_kib)
read -r b0 n0 <<<"$(hist_le 0.005)"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$storm" "$tmp/agent.sock" 256 4096 64 6 \
	>"$tmp/storm.json" 2>"$tmp/storm.err" &
bg+=($!)
sleep 3 # the registrations, then STATS
lat_max=0
lats=()
answered=0
held_agents=0
held_qps=0
for _ in $(seq 10); do
	t0=$(ms_now)
	"$titactl" -s "$tmp/control.sock" status >/dev/null 2>&1 && answered=$((answered + 1))
	t1=$(ms_now)
	lats+=($((t1 - t0)))
	[ $((t1 - t0)) -gt "$lat_max" ] && lat_max=$((t1 - t0))
	scrape >"$tmp/during.txt"
	a=$(awk '$1 == "tita_agents" { print $2 }' "$tmp/during.txt")
	q=$(awk '$1 == "tita_agent_qps{state=\"registered\"}" { print $2 }' "$tmp/during.txt")
	[ "${a:-0}" -gt "$held_agents" ] && held_agents=$a
	[ "${q:-0}" -gt "$held_qps" ] && held_qps=$q
	sleep 0.2
done
wait "${bg[-1]}" 2>/dev/null || true
echo "# storm: $(cat "$tmp/storm.json")"
rss1=$(rss_kib)
read -r b1 n1 <<<"$(hist_le 0.005)"
agents=$(metric '^tita_agent_refused_total\{what="agent"\}')
qps=$(metric '^tita_agent_refused_total\{what="qp"\}')
# Before the fix one status took 20 s. The median is judged against 200 ms
# and the slowest against 2 s: one answer that waited for a CPU on a busy
# machine (seen: 346 ms under ASan at load 9) is not a stall.
lat_med=$(printf '%s\n' "${lats[@]}" | sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }')
check "root's titactl answers during the storm ($answered of 10, median $lat_med ms, slowest $lat_max ms)" \
	test "$answered" = 10 -a "$lat_med" -le 200 -a "$lat_max" -le 2000
check "control passes during the storm: 99 % within 5 ms ($((b1 - b0)) of $((n1 - n0)))" \
	awk "BEGIN { n = $n1 - $n0; exit !(n > 100 && ($b1 - $b0) >= 0.99 * n) }"
check "nobody's agents and QPs were held to their bounds (at most $held_agents agents and $held_qps QPs held; refused $agents agents, $qps QPs)" \
	awk "BEGIN { exit !($held_agents <= 64 && $held_qps <= 16384 && $held_qps > 0 && $agents >= 256 - 64 && $qps > 0) }"
check "titad's memory stays bounded (RSS $rss0 kB before, $rss1 kB after)" \
	awk "BEGIN { exit !($rss1 - $rss0 < 64 * 1024) }"

# ---- a reload never says "reloaded" while keeping the old limits -------------------------
# The agent limits are the qp back end's, set when it opens: a reload
# that changes them is refused, loudly.
write_conf "$idle_key
agents-per-uid = 128"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "reload rejected" "$tmp/titad.log" && break; sleep 0.1; done
check "a reload that changes agents-per-uid is rejected by name" \
	grep -q "reload rejected.*agents-per-uid, agent-qps-per-uid or agent-qps cannot change" "$tmp/titad.log"
check "and titad does not say it reloaded" bash -c "! grep -q 'reloaded $tmp/titad.conf' '$tmp/titad.log'"
cp "$tmp/good.conf" "$tmp/titad.conf"

# Last: on a titad without the instance lock it takes the first one's
# state down, and nothing after it would mean anything.
# ---- a second titad with the same config -----------------------------------------------------
xdp_of() { in_ns ip -d link show dev eth0 | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; }
tc_of() { in_ns tc filter show dev eth0 egress | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -1; }
xdp0=$(xdp_of)
tc0=$(tc_of)
set +e
timeout 20 nsenter --net="/run/netns/$netns" "$titad" -c "$tmp/titad.conf" >"$tmp/second.log" 2>&1
rc=$?
set -e
sed 's/^/# second: /' "$tmp/second.log" | tail -3
check "a second titad with the same config exits non-zero (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "it says another titad runs" grep -q "another titad (pid $pid) runs" "$tmp/second.log"
check "the first one's XDP program is still attached (id ${xdp0:-none} -> $(xdp_of))" \
	test -n "$xdp0" -a "$(xdp_of)" = "$xdp0"
check "the first one's tc program is still attached (id ${tc0:-none} -> $(tc_of))" \
	test -n "$tc0" -a "$(tc_of)" = "$tc0"
check "the first one's pins are still there" [ -e "$pins/eth0/xdp_prog" ]
check "the first one's agent socket is still there" [ -S "$tmp/agent.sock" ]
check "the first one still answers titactl" "$titactl" -s "$tmp/control.sock" status >/dev/null

check "titad survived all of it" kill -0 "$pid"
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
