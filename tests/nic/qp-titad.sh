#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The "real NIC" paths of titad end to end, without a NIC: two hosts in
# network namespaces joined by a veth, A (pacer = qp) sending and B
# (pacer = dry-run) receiving, each titad with a fake sysfs tree in which
# an RDMA device's GID table names the host's veth. Asserts through
# `titactl --json`, the Prometheus scrape and the stand-in verbs' record:
#
#   - both titads find the RDMA device behind their port (sysfs-root);
#   - an application on A (LD_PRELOAD of the agent, the stand-in verbs)
#     makes an RC QP to ::ffff:B and posts signalled RDMA writes: the agent
#     registers it, titad resolves its local port from the GID table and
#     its job from its cgroup (proc-root: a Slurm step);
#   - A's TX pair to B has demand > 0, which only the agent's counters can
#     give (the veth carries no RoCE), B is heard of as a peer through it
#     and grants it, and the agent programs the QP at the granted rate
#     (ibv_modify_qp_rate_limit in the stand-in's record);
#   - when the application exits, its QP leaves the pacer and the pair's
#     demand decays to nothing;
#   - B's NIC port counters (port_rcv_packets, port_rcv_data in 4-octet
#     words, np_ecn_marked_roce_packets), advanced by this script, become
#     B's port rx rate and CE fraction; 50% CE on a busy downlink cuts B's
#     eta below its configured value, and eta climbs back once the marks
#     stop;
#   - the pair's rate stays at or above what the application sends
#     (samples arrive per agent report, not per control interval);
#   - both titads exit 0 on SIGTERM.
#
# Usage: qp-titad.sh TITAD TITACTL QP_APP LIBTITA_AGENT STANDIN_DIR
#        (root; exit 77 = skipped, unless CI=true)
set -euo pipefail

titad=$1
titactl=$2
qp_app=$3
agent=$4
standin=$5

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=tests/lib/netns-titad.sh
. "$(dirname "$0")/../lib/netns-titad.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, BPF)"
for t in ip nsenter curl python3; do
	command -v "$t" >/dev/null || skip "needs $t"
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf || skip "no bpffs"

id=$$
tmp=$(mktemp -d /tmp/tita-qp.XXXXXX)
pins=/sys/fs/bpf/tita-qp-$id
hosts=(a b)
declare -A pid
export ADDR_A=10.79.0.1 ADDR_B=10.79.0.2
app_pid=
writer_pid=

ns() { echo "ttqp${id}$1"; }

cleanup() {
	set +e
	for p in "$app_pid" "$writer_pid"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	stop_titads
	for h in "${hosts[@]}"; do ip netns del "$(ns "$h")" 2>/dev/null; done
	rm -rf "$pins" 2>/dev/null
	if [ "$failures" -ne 0 ]; then
		dump_titad_logs 40
		echo "--- application output" >&2
		cat "$tmp/app.out" >&2 2>/dev/null
		echo "--- stand-in record: its last 20 lines" >&2
		tail -n 20 "$tmp/record" >&2 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

# Poll: run the command every 0.1 s until it succeeds or SECONDS pass.
wait_for() { # seconds, command...
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# A Python poller: starting Python costs more than a poll interval on a
# loaded machine, so one process runs a check's whole loop. CODE runs every
# 0.1 s until it sets ok (or SECONDS pass), with helpers for titactl -j and
# the record; it sets why, printed at the end; `state` survives between runs.
cat >"$tmp/poll.py" <<'PY'
import json, os, re, subprocess, sys, time

titactl, tmp, secs, code = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
E = os.environ


def ctl(host, *args):
    r = subprocess.run([titactl, "-j", "-s", f"{tmp}/{host}.sock", *args],
                       capture_output=True, text=True, timeout=10)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def pair(host, role, remote):
    p = ctl(host, "pairs", "role", role, "remote", remote)
    return p[0] if p else None


def port(host):
    p = ctl(host, "ports")
    return p[0] if p else None


def agent_kbps(qpn, every=False):
    """The rate the agent last programmed on QP qpn (kbit/s; None when
    none), or every rate it programmed, oldest first."""
    try:
        with open(f"{tmp}/record", errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    m = [int(k) for k in re.findall(rf"^rate_limit dev=bnxt_re0 qpn={qpn} kbps=(\d+) -> 0$",
                                    text, re.M)]
    return m if every else (m[-1] if m else None)


env = dict(E=E, ctl=ctl, pair=pair, port=port, agent_kbps=agent_kbps, state={}, time=time)
end = time.monotonic() + secs
while True:
    env.update(ok=False, why="")
    exec(code, env)
    if env["ok"] or time.monotonic() >= end:
        break
    time.sleep(0.1)
print(env["why"])
sys.exit(0 if env["ok"] else 1)
PY
poll() { python3 "$tmp/poll.py" "$titactl" "$tmp" "$@"; }
pcheck() { # description, seconds, code
	local why
	if why=$(poll "$2" "$3"); then ok "$1 ($why)"; else fail "$1 ($why)"; fi
}

# ---- the hosts ------------------------------------------------------------------------
for h in "${hosts[@]}"; do
	ip netns add "$(ns "$h")"
	in_ns "$h" ip link set lo up
done
in_ns a ip link add eth0 type veth peer name eth0 netns "/run/netns/$(ns b)"
in_ns a ip addr add "$ADDR_A/24" dev eth0
in_ns b ip addr add "$ADDR_B/24" dev eth0
for h in "${hosts[@]}"; do in_ns "$h" ip link set eth0 up; done

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/cluster.key"
chmod 600 "$tmp/cluster.key"

# A sysfs tree with one RDMA device whose port 1 GID table names eth0, as a
# RoCE NIC's does: indexes 0/1 link-local (RoCE v1, v2), 2/3 the port's
# IPv4 address (v1, v2). No class/net/eth0/device link: titad finds the
# device by scanning GID tables, as for Soft-RoCE and bonds. The device has
# a bus device (a PCI function's, as a real NIC's): hardware RoCE, which
# pacer = auto paces with qp.
fake_sysfs() { # root, device, IPv4 address
	local port=$1/class/infiniband/$2/ports/1 v4 i
	v4=$(printf '%02x%02x:%02x%02x' ${3//./ })
	mkdir -p "$port/gid_attrs/ndevs" "$port/gid_attrs/types" "$port/gids" \
		"$port/counters" "$port/hw_counters"
	for i in 0 1 2 3; do echo eth0 >"$port/gid_attrs/ndevs/$i"; done
	for i in 0 2; do echo "IB/RoCE v1" >"$port/gid_attrs/types/$i"; done
	for i in 1 3; do echo "RoCE v2" >"$port/gid_attrs/types/$i"; done
	for i in 0 1; do echo "fe80:0000:0000:0000:0000:00ff:fe00:0001" >"$port/gids/$i"; done
	for i in 2 3; do echo "0000:0000:0000:0000:0000:ffff:$v4" >"$port/gids/$i"; done
	echo "4: ACTIVE" >"$port/state"
	echo Ethernet >"$port/link_layer"
	mkdir -p "$1/class/infiniband/$2/device"
}
fake_sysfs "$tmp/sys-a" bnxt_re0 "$ADDR_A"
fake_sysfs "$tmp/sys-b" mlx5_1 "$ADDR_B"
ctr=$tmp/sys-b/class/infiniband/mlx5_1/ports/1
for f in counters/port_rcv_packets counters/port_rcv_data hw_counters/np_ecn_marked_roce_packets; do
	echo 0 >"$ctr/$f"
done
mkdir -p "$tmp/proc-a"

export ETA=0.9 ETA_MIN=0.6 LINE_RATE=10000000000
write_conf() { # host, pacer, address, extra [daemon] lines
	cat >"$tmp/$1.conf" <<CONF
[daemon]
log-level = info
pacer = $2
control-socket = $tmp/$1.sock
control-group = root
metrics-listen = 127.0.0.1:9978
pin-root = $pins/$1
state-directory = $tmp/$1.state
sysfs-root = $tmp/sys-$1
qp-scan-interval = off
$4

[controller]
interval = 5ms
eta = $ETA
eta-min = $ETA_MIN

[peers]
key-file = $tmp/cluster.key

[port eth0]
address = $3
line-rate = 10G
CONF
}
write_conf a auto "$ADDR_A" "agent-socket = $tmp/agent.sock
proc-root = $tmp/proc-a"
write_conf b dry-run "$ADDR_B" ""

for h in "${hosts[@]}"; do start_titad "$h"; done
ok "titad running on A (pacer = auto) and B (dry-run pacer)"
check "A's pacer = auto took qp for bnxt_re0's hardware RoCE, and said so" bash -c "
	grep -q '^titad: notice: eth0: RDMA device bnxt_re0 (hardware RoCE: only the qp pacer reaches it); pacer qp$' '$tmp/a.log' &&
	'$titactl' -j -s '$tmp/a.sock' ports | grep -q '\"ifname\":\"eth0\",\"addr\":\"[0-9.]*\",\"pacer\":\"qp\"' &&
	'$titactl' -s '$tmp/a.sock' ports | awk 'NR == 2 && \$1 == \"eth0\" && \$3 == \"qp\" { f = 1 } END { exit !f }'"

metric() { # host, series (labels included): its value, or "absent"
	in_ns "$1" curl -sf --max-time 5 http://127.0.0.1:9978/metrics |
		awk -v s="$2" '$1 == s { v = $2 } END { print v == "" ? "absent" : v }'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

check "A's titad found the RDMA device behind eth0 (bnxt_re0 port 1)" wait_for 10 \
	metric_is a 'tita_nic_rdma_device_info{port="eth0",device="bnxt_re0",device_port="1"}' 1
check "B's titad found the RDMA device behind eth0 (mlx5_1 port 1)" wait_for 10 \
	metric_is b 'tita_nic_rdma_device_info{port="eth0",device="mlx5_1",device_port="1"}' 1
check "the agent socket is there, mode 0666" \
	[ "$(stat -c %a "$tmp/agent.sock" 2>/dev/null)" = 666 ]

# ---- the application ------------------------------------------------------------------
# 2 Gbit/s of RDMA writes into 10G: the receiver has room for all of it.
export APP_RATE=2000000000
# The application joins A's namespace itself: no helper binary runs with
# the agent preloaded (on a sanitized build it would not even load), and
# $! is the application, whose cgroup titad reads when its agent connects.
LD_PRELOAD=$agent LD_LIBRARY_PATH=$standin TITA_AGENT_SOCKET=$tmp/agent.sock \
	"$qp_app" "/run/netns/$(ns a)" bnxt_re0 3 "$ADDR_B" "$APP_RATE" 60 \
	"$tmp/record" "$tmp/go" "$tmp/stop" >"$tmp/app.out" 2>&1 &
app_pid=$!
# A Slurm step's cgroup (v2), under the fake proc-root; then the
# application may open the device.
mkdir -p "$tmp/proc-a/$app_pid"
echo "0::/system.slice/slurmstepd.scope/job_4242/step_0/user/task_0" \
	>"$tmp/proc-a/$app_pid/cgroup"
touch "$tmp/go"

check "the agent registered the application's QP with A's titad" wait_for 20 \
	metric_is a 'tita_agent_qps{state="registered"}' 1
app_qpn() { awk '/^qpn /{ print $2 }' "$tmp/app.out"; }
wait_for 10 grep -q '^qpn ' "$tmp/app.out" || true
export QPN
QPN=$(app_qpn)
check "the application's QP is in RTS (qpn ${QPN:-none})" [ -n "$QPN" ]
check "the application runs in A's network namespace" \
	[ "$(readlink "/proc/$app_pid/ns/net")" = "net:[$(stat -L -c %i "/run/netns/$(ns a)")]" ]

# Nothing crosses the veth but the peer protocol: a TX pair with demand
# can only come from the agent's counters.
pcheck "A's TX pair to B has demand > 0" 20 '
p = pair("a", "tx", E["ADDR_B"])
ok = p is not None and p["demand_bps"] > 0
why = p and "%s, demand %d bit/s, job %s" % (p["state"], p["demand_bps"], p["job"])'
pcheck "the pair's job is the application's cgroup's" 5 '
p = pair("a", "tx", E["ADDR_B"])
ok = p is not None and p["job"] == "slurm-4242"
why = p and p["job"]'
pcheck "A greets B as a peer (no static peers)" 10 '
peers = ctl("a", "peers") or []
ok = any(x["addr"] == E["ADDR_B"] and x["heard"] for x in peers)
why = ", ".join("%s heard %s" % (x["addr"], x["heard"]) for x in peers)'
pcheck "B grants it: A's TX pair is granted" 20 '
p = pair("a", "tx", E["ADDR_B"])
ok = p is not None and p["state"] == "granted" and p["grant_bps"] > 0
why = p and "%s, grant %s bit/s" % (p["state"], p["grant_bps"])'
pcheck "B's RX pair from A has the demand and the grant" 10 '
p = pair("b", "rx", E["ADDR_A"])
ok = p is not None and (p["demand_bps"] or 0) > 0 and (p["grant_bps"] or 0) > 0
why = p and "%s, demand %s, grant %s bit/s" % (p["state"], p["demand_bps"], p["grant_bps"])'
# One QP on the pair: it gets all of the pair's rate, re-commanded when
# that moves by more than 5%. The record reaches the file up to 100 ms
# after the call and grants move: a granted rate that titad showed must
# turn up among the rates the agent programmed.
pcheck "the agent programs the QP at the granted rate" 20 '
p = pair("a", "tx", E["ADDR_B"])
seen = state.setdefault("seen", [])
if (p is not None and p["state"] == "granted" and not p["unpaced"] and p["grant_bps"] > 0 and
        abs(p["rate_bps"] - p["grant_bps"]) <= 0.01 * p["grant_bps"]):
    seen.append(p["rate_bps"])
ks = agent_kbps(E["QPN"], every=True)
hits = [(r, k) for r in seen for k in ks if abs(k * 1000 - r) <= 0.055 * r]
ok = bool(hits)
why = ("titad granted %d bit/s, the agent programmed %d kbit/s" % hits[-1] if hits else
       "titad granted %s bit/s; the agent programmed %s kbit/s" % (seen[-3:], ks[-3:]))'
check "the QP is counted paced" wait_for 10 metric_is a 'tita_agent_qps{state="paced"}' 1
check "every rate went through ibv_modify_qp_rate_limit without error" \
	bash -c "grep -aq '^rate_limit dev=bnxt_re0 qpn=$QPN kbps=[0-9]* -> 0$' '$tmp/record' &&
		! grep -a '^rate_limit' '$tmp/record' | grep -qv -- ' -> 0$'"
in_ns a curl -sf --max-time 5 http://127.0.0.1:9978/metrics >"$tmp/a-metrics.txt"
check "one agent; rate commands sent, none failed; no protocol error" awk '
	$1 == "tita_agents" { agents = $2 }
	$1 == "tita_agent_commands_total{result=\"sent\"}" { sent = $2 }
	$1 == "tita_agent_commands_total{result=\"error\"}" { err = $2 }
	$1 == "tita_agent_protocol_errors_total" { proto = $2 }
	END { exit !(agents == 1 && sent > 0 && err == "0" && proto == "0") }' "$tmp/a-metrics.txt"

# The agent reports its counters every TITA_AGENT_STATS_MS; the pair gets
# a sample per report and the controller holds it until the next, so the
# QP of an application sending a steady rate into an idle receiver is
# paced at or above that rate the whole time (before this was fixed it sat
# at the 1 % floor most of the time, its demand decaying between reports).
pcheck "the pair's rate stays at or above the application's need" 2.5 '
p = pair("a", "tx", E["ADDR_B"])
if p is not None and not p["unpaced"]:
    state.setdefault("rates", []).append(p["rate_bps"])
r = state.get("rates", [])
low = sum(1 for x in r if x < int(E["APP_RATE"]) / 2)
ok = time.monotonic() > state.setdefault("t0", time.monotonic()) + 2 and r and low == 0
why = "%d of %d rates seen in 2 s below half the %s bit/s sent, lowest %s" % (
    low, len(r), E["APP_RATE"], min(r) if r else None)'

# ---- the application leaves -----------------------------------------------------------
touch "$tmp/stop"
app_exited() { ! kill -0 "$app_pid" 2>/dev/null; }
wait_for 20 app_exited || true
set +e
wait "$app_pid"
app_rc=$?
set -e
app_pid=
check "the application exits 0 ($(tail -n 1 "$tmp/app.out"))" [ "$app_rc" = 0 ]
check "it destroyed its QP (record)" grep -aq "^destroy_qp qpn=$QPN$" "$tmp/record"
check "the QP is gone from the pacer" wait_for 10 \
	metric_is a 'tita_agent_qps{state="registered"}' 0
check "and its agent too" metric_is a 'tita_agents' 0
pcheck "the pair's demand decays once the application is gone" 20 '
p = pair("a", "tx", E["ADDR_B"])
ok = p is None or p["demand_bps"] == 0
why = "no pair left" if p is None else "%s, demand %d bit/s" % (p["state"], p["demand_bps"])'

# ---- NIC port counters at the receiver --------------------------------------------------
# B's NIC receives 9.5 Gbit/s of 4 KiB RoCE packets (port_rcv_data counts
# 4-octet words); in mode "ce" half of them carry CE. The counters follow
# the clock, so a late write still gives the right rate; each file is
# replaced whole (titad must never read a half-written number), packets
# and data before the CE count, which never gets ahead of them.
export NIC_RATE=9500000000
echo clean >"$tmp/nic-mode"
cat >"$tmp/writer.py" <<'PY'
import os, sys, time

ctr, mode_file, rate_bps, max_s = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
PKT = 4096 + 62  # RoCEv2 payload and headers on the wire


def put(rel, value):
    path = os.path.join(ctr, rel)
    with open(path + ".new", "w") as f:
        f.write("%d\n" % value)
    os.replace(path + ".new", path)


t0 = last = time.monotonic()
packets = words = ce = 0.0
while time.monotonic() - t0 < max_s and os.getppid() != 1:
    try:
        with open(mode_file) as f:
            mode = f.read().strip()
    except OSError:
        mode = "clean"
    if mode == "stop":
        break
    now = time.monotonic()
    n = rate_bps / 8 * (now - last) / PKT
    last = now
    packets += n
    words += n * PKT / 4
    if mode == "ce":
        ce += n / 2
    put("counters/port_rcv_packets", packets)
    put("counters/port_rcv_data", words)
    put("hw_counters/np_ecn_marked_roce_packets", ce)
    time.sleep(0.05)
PY
python3 "$tmp/writer.py" "$ctr" "$tmp/nic-mode" "$NIC_RATE" 120 &
writer_pid=$!

pcheck "B's port rx rate is the NIC's, with no CE and eta at its configured value" 20 '
p = port("b")
ok = (p is not None and abs(p["rx_bps"] - int(E["NIC_RATE"])) <= 0.15 * int(E["NIC_RATE"]) and
      p["ce_ppm"] == 0 and abs(p["eta"] - float(E["ETA"])) < 1e-9 and
      p["line_rate_bps"] == int(E["LINE_RATE"]))
why = p and "rx %d bit/s, ce %d ppm, eta %g" % (p["rx_bps"], p["ce_ppm"], p["eta"])'
nic_data_counted() {
	local v
	v=$(metric b 'tita_nic_hw_counter_total{port="eth0",counter="port_rcv_data"}')
	[ "$v" != absent ] && [ "$v" -gt 0 ]
}
check "B exports the NIC's counters (port_rcv_data)" wait_for 5 nic_data_counted

echo ce >"$tmp/nic-mode"
pcheck "50% CE on the busy downlink: B's ce_ppm shows it and eta drops below $ETA" 20 '
p = port("b")
if p is not None:
    state["ce"] = state.get("ce") or abs(p["ce_ppm"] - 500000) <= 50000
    state["eta"] = min(state.get("eta", 1.0), p["eta"])
    state["floor"] = state.get("floor", True) and p["eta"] >= float(E["ETA_MIN"]) - 1e-9
ok = state.get("ce") and state.get("eta", 1) < float(E["ETA"]) - 0.01 and state.get("floor")
why = p and "ce %d ppm, eta %g (lowest %g), rx %d bit/s" % (
    p["ce_ppm"], p["eta"], state["eta"], p["rx_bps"])'

echo clean >"$tmp/nic-mode"
pcheck "the marks stop: eta climbs back to $ETA" 20 '
p = port("b")
ok = p is not None and p["ce_ppm"] == 0 and abs(p["eta"] - float(E["ETA"])) < 1e-9
why = p and "ce %d ppm, eta %g, rx %d bit/s" % (p["ce_ppm"], p["eta"], p["rx_bps"])'

echo stop >"$tmp/nic-mode"
wait_for 10 bash -c "! kill -0 $writer_pid 2>/dev/null" || true
writer_pid=
pcheck "the counters stop: B's rx rate falls to nothing" 10 '
p = port("b")
ok = p is not None and p["rx_bps"] == 0
why = p and "rx %d bit/s" % p["rx_bps"]'

# ---- shutdown ---------------------------------------------------------------------------
for h in "${hosts[@]}"; do
	rc=0
	term_titad "$h" || rc=$?
	check "titad on $h exits 0 on SIGTERM" [ "$rc" = 0 ]
done
check "A removed its agent socket" [ ! -e "$tmp/agent.sock" ]

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
