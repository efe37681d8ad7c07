#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# titad's figures: resident memory and CPU at PEERS senders with a 1 ms
# control interval, and the time from a new pair's demand arriving to its
# first grant leaving (p50/p99, from titad's own histogram), on loopback in
# a private network namespace (XDP generic on its lo, dry-run pacer).
#
# Usage: tests/daemon/bench.sh BUILD_DIR [PEERS] [SECONDS]     (root)
set -euo pipefail

build=$1
peers=${2:-256}
seconds=${3:-30}
# Refreshes between a sender's idle rounds (a new pair each time); 0: never idle.
cycle=${CYCLE:-50}
# Refreshes (20 ms) each idle stretch lasts: more than titad's warm grant
# (grant TTL 100 ms at a 1 ms interval, times warm 1), so that the pair
# that comes back is new to titad and its first grant is measured.
idle_refreshes=${IDLE:-7}
# titad's [peers] coalesce (default: half the interval); 0 wakes per datagram.
coalesce=${COALESCE:-}
titad=$build/daemon/titad
gen=$build/tests/daemon/bench-titad
floor=$build/tests/daemon/bench-floor
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: needs root" >&2; exit 77; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf

ns=tbench$$
tmp=$(mktemp -d /tmp/tita-bench.XXXXXX)
pins=/sys/fs/bpf/tita-bench-$$
pid=
cleanup() {
	set +e
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp" "$pins"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

ip netns add "$ns"
nsenter --net="/run/netns/$ns" ip link set lo up
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/key"
chmod 600 "$tmp/key"
cat >"$tmp/titad.conf" <<CONF
[daemon]
log-level = notice
pacer = dry-run
control-socket = $tmp/control.sock
metrics-listen = 127.0.0.1:9977
pin-root = $pins
state-directory = $tmp/state
xdp-mode = generic
[controller]
interval = 1ms
[peers]
bind = 127.0.0.1
key-file = $tmp/key
max-peers = 4096
${coalesce:+coalesce = $coalesce}
[port lo]
address = 127.0.0.1
line-rate = 400G
CONF

nsenter --net="/run/netns/$ns" "$titad" -c "$tmp/titad.conf" 2>"$tmp/titad.log" &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/control.sock" ] && break; sleep 0.1; done
[ -S "$tmp/control.sock" ] || { cat "$tmp/titad.log" >&2; exit 1; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
user_ticks() { awk '{ print $14 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

# Idle: no peer, the control loop and the BPF reads alone.
sleep 2
t0=$(cpu_ticks)
sleep 5
idle=$(awk -v a="$t0" -v b="$(cpu_ticks)" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz / 5 * 100 }')

# Loaded: PEERS senders refreshing every 20 ms (more often than titad's own
# 30 ms refresh at a 1 ms interval: a heavier load), each one new pair per
# second.
nsenter --net="/run/netns/$ns" "$gen" "$tmp/key" 127.0.0.1 4792 "$peers" $((seconds + 10)) 20 "$cycle" "$idle_refreshes" >"$tmp/gen.out" &
genpid=$!
sleep 5
# The histograms count from titad's start; the figures are the difference
# over the measured window, without the first seconds (256 peers that are
# all new at once, see the cold-start line).
nsenter --net="/run/netns/$ns" curl -sf http://127.0.0.1:9977/metrics >"$tmp/metrics0"
t0=$(cpu_ticks)
u0=$(user_ticks)
sleep "$seconds"
t1=$(cpu_ticks)
u1=$(user_ticks)
rss_kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
hwm_kib=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
nsenter --net="/run/netns/$ns" curl -sf http://127.0.0.1:9977/metrics >"$tmp/metrics"
[ -n "${KEEP_METRICS:-}" ] && cp "$tmp/metrics" "$KEEP_METRICS"
wait "$genpid" || true
n_peers=$(awk '$1 == "tita_peers" { print $2 }' "$tmp/metrics")
n_pairs=$(awk '$1 == "tita_pairs" { print $2 }' "$tmp/metrics")

quantiles=$(python3 - "$tmp/metrics0" "$tmp/metrics" <<'PY'
import re, sys
def read(path, name):
    b = []
    for line in open(path):
        m = re.match(name + r'_bucket\{le="([^"]+)"\} (\d+)', line)
        if m:
            b.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), int(m.group(2))))
    return b
def hist(name):
    before = dict(read(sys.argv[1], name))
    return [(le, c - before.get(le, 0)) for le, c in read(sys.argv[2], name)]
def cold(name):
    return read(sys.argv[1], name)
def q(b, p):
    total = b[-1][1]
    if not total:
        return float("nan")
    rank, lo, prev = p * total, 0.0, 0
    for le, c in b:
        if c >= rank:
            if le == float("inf"):
                return lo
            return lo + (le - lo) * (rank - prev) / max(c - prev, 1)
        lo, prev = le, c
    return lo
g = hist("tita_demand_to_grant_seconds")
l = hist("tita_control_loop_duration_seconds")
over = g[-1][1] - [c for le, c in g if le == 1e-3][0]
w = cold("tita_demand_to_grant_seconds")
print("%.0f %.0f %d %.0f %.0f %d %.0f %.0f %d" % (q(g, .5) * 1e6, q(g, .99) * 1e6, g[-1][1], q(l, .5) * 1e6, q(l, .99) * 1e6, over,
      q(w, .5) * 1e6, q(w, .99) * 1e6, w[-1][1]))
PY
)
read -r g50 g99 gn l50 l99 gover w50 w99 wn <<<"$quantiles"
cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$seconds" 'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }')
# The part in user space: what titad does beyond the baseline's sockets and
# wake-ups (the kernel's share is sampled at each tick, so a rough split).
user=$(awk -v a="$u0" -v b="$u1" -v hz="$hz" -v s="$seconds" 'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }')

# Baseline, same run, same load: a responder that answers each datagram
# with one of the same size, with titad's wake-ups (1 ms tick, socket
# polled every 500 us while busy) and nothing else, on the next port while
# titad (and its datapath on lo) stays up.
nsenter --net="/run/netns/$ns" "$floor" 127.0.0.1 4793 $((seconds + 5)) 5 1000 500 >"$tmp/floor.out" &
floorpid=$!
sleep 0.2
nsenter --net="/run/netns/$ns" "$gen" "$tmp/key" 127.0.0.1 4793 "$peers" $((seconds + 6)) 20 "$cycle" "$idle_refreshes" >/dev/null &
genpid=$!
wait "$floorpid" || true
wait "$genpid" || true
read -r floor_cpu floor_n <"$tmp/floor.out"

echo "titad benchmark: $peers senders, 1 ms control interval, ${seconds}s measured, $(nproc) CPUs"
echo "  peers in table $n_peers, pairs $n_pairs"
echo "  resident memory: $((rss_kib / 1024)).$(((rss_kib % 1024) * 10 / 1024)) MiB (peak $((hwm_kib / 1024)).$(((hwm_kib % 1024) * 10 / 1024)) MiB)"
echo "  CPU: ${cpu}% of one core loaded (${user}% in user space); ${idle}% idle (no peers)"
echo "  baseline, the same load answered with no work (bench-floor, $floor_n datagrams): ${floor_cpu}% -> titad is $(awk -v a="$cpu" -v b="$floor_cpu" 'BEGIN { printf "%.2f", a / b }')x"
echo "  control pass: p50 ${l50} us, p99 ${l99} us"
echo "  new pair's demand in -> first grant out: p50 ${g50} us, p99 ${g99} us ($gn samples, $gover over 1 ms)"
echo "  cold start, the first 5 s (every sender a new peer): p50 ${w50} us, p99 ${w99} us ($wn samples)"
sed 's/^/  load generator: /' "$tmp/gen.out"
