#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# QP discovery in a real titad: one titad (dry-run pacer) on a veth in a
# private network namespace, with the default qp-scan-interval. Asserts
# through `titactl --json`, the log and the Prometheus scrape:
#
#   - on a host without RDMA netlink or devices, titad starts, says so
#     once at notice level, backs off, and `titactl qps` is an empty list;
#     on a host with them, `titactl qps` lists QPs whose jobs titad knows;
#   - qp-scan-interval is range-checked with file:line, and a reload turns
#     discovery off and on again;
#   - bad `titactl qps` arguments fail with one line;
#   - the scrape passes promtool (when installed).
#
# Usage: qpscan-titad.sh TITAD TITACTL   (root; exit 77 = skipped, unless CI=true)
set -euo pipefail

titad=$1
titactl=$2

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (a network namespace, BPF)"
for t in ip python3; do
	command -v "$t" >/dev/null || skip "needs $t"
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf || skip "no bpffs"

id=$$
netns=ttqp$id
tmp=$(mktemp -d /tmp/tita-qpscan.XXXXXX)
pins=/sys/fs/bpf/tita-qpscan-$id
pid=

cleanup() {
	set +e
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	ip netns del "$netns" 2>/dev/null
	rm -rf "$pins" 2>/dev/null
	if [ "$failures" -ne 0 ]; then
		echo "--- titad log" >&2
		cat "$tmp/titad.log" >&2 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP


ip netns add "$netns"
ip -n "$netns" link set lo up
ip -n "$netns" link add eth0 type veth peer name eth1
ip -n "$netns" addr add 10.78.0.1/24 dev eth0
ip -n "$netns" link set eth0 up
ip -n "$netns" link set eth1 up

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/cluster.key"
chmod 600 "$tmp/cluster.key"

write_conf() { # extra [daemon] lines
	cat >"$tmp/titad.conf" <<CONF
[daemon]
log-level = info
pacer = dry-run
control-socket = $tmp/control.sock
control-group = root
metrics-listen = 127.0.0.1:9979
pin-root = $pins
state-directory = $tmp/state
${1:-}

[peers]
key-file = $tmp/cluster.key

[port eth0]
line-rate = 10G
CONF
}

# ---- the key is range-checked ---------------------------------------------------------------
write_conf "qp-scan-interval = 5ms"
set +e
out=$("$titad" --check-config -c "$tmp/titad.conf" 2>&1)
rc=$?
set -e
check "qp-scan-interval = 5ms is refused with file:line (exit $rc: $out)" \
	grep -q "titad.conf:[0-9]*: qp-scan-interval: '5ms' is out of range" <<<"$out"
write_conf "qp-scan-interval = off"
check "qp-scan-interval = off is accepted" "$titad" --check-config -c "$tmp/titad.conf"

# ---- a titad with the default interval --------------------------------------------------------
write_conf
ip netns exec "$netns" "$titad" -c "$tmp/titad.conf" >>"$tmp/titad.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ -S "$tmp/control.sock" ] && "$titactl" -s "$tmp/control.sock" status >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
check "titad runs with the default config" "$titactl" -s "$tmp/control.sock" status >/dev/null

ctl() { "$titactl" -s "$tmp/control.sock" "$@"; }
discovery() { ctl -j status | python3 -c 'import json, sys; print(json.load(sys.stdin)["qp_discovery"])'; }
scrape() { ip netns exec "$netns" python3 -c '
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9979/metrics", timeout=5).read().decode(), end="")'; }

# The first scan runs as the loop starts.
for _ in $(seq 50); do
	[ "$(discovery)" != not_scanned ] && break
	sleep 0.1
done
state=$(discovery)
check "discovery has run (state $state)" [ "$state" != not_scanned ]
ctl -j qps >"$tmp/qps.json"
check "titactl -j qps is a JSON list" python3 -c '
import json, sys
q = json.load(open(sys.argv[1]))
assert isinstance(q, list)' "$tmp/qps.json"

case $state in
no_rdma_netlink | no_devices)
	check "titactl qps lists no QP" [ "$(cat "$tmp/qps.json")" = "[]" ]
	sleep 2.5 # two and a half default intervals
	n=$(grep -c "notice: QP discovery:" "$tmp/titad.log" || true)
	check "the absence is logged once, at notice level ($n lines)" [ "$n" = 1 ]
	check "the log names the cause" grep -q "notice: QP discovery: \(the kernel has no RDMA netlink\|no RDMA device\)" "$tmp/titad.log"
	check "no warning or error about it" bash -c "! grep -E '(err|warning): QP discovery' '$tmp/titad.log'"
	scrape >"$tmp/metrics.txt"
	check "absent: titad backs off (one scan in 2.5s)" grep -qx "tita_qp_scans_total 1" "$tmp/metrics.txt"
	check "the scrape says why" grep -q "^tita_qp_discovery_info{state=\"$state\"} 1" "$tmp/metrics.txt"
	check "titactl qps says why in the table" bash -c "'$titactl' -s '$tmp/control.sock' qps | grep -q '^# qp discovery: $state'"
	;;
ok)
	# A host with RDMA: every job on a QP is one titad knows.
	ctl -j job show >"$tmp/jobs.json"
	check "every job on a QP is in job show" python3 -c '
import json, sys
qps = json.load(open(sys.argv[1]))
jobs = {j["name"]: j for j in json.load(open(sys.argv[2]))}
for q in qps:
    assert q["pid"] is not None or q["job"] == "", q
    if q["job"]:
        assert q["job"] in jobs, q
        assert jobs[q["job"]]["qps"] > 0, jobs[q["job"]]' "$tmp/qps.json" "$tmp/jobs.json"
	scrape >"$tmp/metrics.txt"
	;;
*)
	fail "unexpected discovery state $state"
	scrape >"$tmp/metrics.txt"
	;;
esac
check "the scrape has the scan error counters" grep -q '^tita_qp_scan_errors_total{reason="qps"}' "$tmp/metrics.txt"
if command -v promtool >/dev/null; then
	check "promtool check metrics passes" promtool check metrics <"$tmp/metrics.txt"
fi

# ---- titactl qps: bad arguments -----------------------------------------------------------------
for args in "qps frob 1" "qps job" "qps job 'a b'" "qps device" "qps device a/b" "qps show extra"; do
	eval "set -- $args"
	set +e
	out=$("$titactl" -s "$tmp/control.sock" "$@" 2>"$tmp/err")
	rc=$?
	set -e
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ -z "$out" ]; then
		ok "titactl $args: exit 2, $(cat "$tmp/err")"
	else
		fail "titactl $args: exit $rc, stderr '$(cat "$tmp/err")', stdout '$out'"
	fi
done
check "titactl qps job NAME filters (no such job: empty)" [ "$(ctl -j qps job slurm-1)" = "[]" ]

# ---- reload: off, then on again ---------------------------------------------------------------
write_conf "qp-scan-interval = 0"
kill -HUP "$pid"
for _ in $(seq 30); do [ "$(discovery)" = off ] && break; sleep 0.1; done
check "a reload with qp-scan-interval = 0 turns discovery off" [ "$(discovery)" = off ]
check "titactl qps is empty while off" [ "$(ctl -j qps)" = "[]" ]
write_conf "qp-scan-interval = 2s"
kill -HUP "$pid"
for _ in $(seq 30); do [ "$(discovery)" != off ] && [ "$(discovery)" != not_scanned ] && break; sleep 0.1; done
check "a reload with qp-scan-interval = 2s turns it on again ($(discovery))" [ "$(discovery)" = "$state" ]
write_conf "qp-scan-interval = 601s"
kill -HUP "$pid"
sleep 0.5
check "a reload with qp-scan-interval = 601s is rejected with file:line" \
	grep -q "reload rejected.*titad.conf:[0-9]*: qp-scan-interval: '601s' is out of range" "$tmp/titad.log"
check "and titad keeps running" kill -0 "$pid"

kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=
check "titad exits 0 on SIGTERM" [ "$rc" = 0 ]

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
