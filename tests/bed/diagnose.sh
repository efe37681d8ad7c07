#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# "Find the slow node" on the bed, end to end: six hosts with titad, a real
# Prometheus (Debian's `prometheus`, in the switch's namespace, as in
# prometheus.sh) scraping every titad, and `titactl diagnose --prometheus`
# asked, as an operator would, while faults come and go one at a time:
#
#   healthy  before any fault, several diagnoses in a row: no suspect;
#   slow NIC h3: a tbf of 15 Mbit/s as the leaf qdisc of every HTB class
#            on h3's eth0 (under titad's pacer): h3's flows are paced at
#            their grants but leave at the tbf's rate, as behind a NIC
#            that cannot transmit at its link's rate. Its backlog waits
#            while it is allowed to send: tita_health_tx_blocked_ratio,
#            kind slow-nic (slow-host is an application that feeds its
#            QPs slower than allowed, with nothing waiting: no shaping of
#            a link can make that). Shaping the switch port towards h3
#            instead would be a slow link into h3 (CE, a receiver's
#            matter), not a slow host;
#   lossy link h5: nftables in the switch's bridge drops 2 % of the RoCEv2
#            packets that h5's port forwards, both ways (numgen random mod
#            100 < 2, udp dport 4791): the receivers' XDP program sees the
#            PSN gaps (tita_health_pair_loss_ratio), kind lossy-link,
#            place host-link, state slow;
#   dead h2: kill -9 of its titad and its eth0 down: Prometheus's scrape
#            fails (up 0) and its peers report it silent, kind dead-host,
#            state failed.
#
# After each injection the diagnoser is asked about once a second until
# its top suspect names the right host with the right kind and state, for
# at most 30 s; the time to localization is printed. Faults are restored
# (and the bed must look healthy again) before the next one.
#
# Time scale: the bed runs titad's controller 10x slower than a real
# fabric (scripts/bed.sh). The health interval stays titad's default,
# 1 s, and Prometheus scrapes every 1 s: each gauge Prometheus holds is
# one whole interval at most a scrape old. On a real fabric the same
# settings localize as fast in wall time; the 30 s budget here is not
# scaled (a scaled one would be 300 s).
#
# Traffic: every host sends to the next two around the ring (12 flows, two
# into each host, 100 Mbit/s links), so every host link carries four pairs
# and a lossy one collects more of the pairs' loss than its neighbours
# (007's vote). Generators run for a bounded time.
#
# Usage: diagnose.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad
prom=$(command -v prometheus || true)
[ -n "$prom" ] || skip "needs prometheus (apt-get install prometheus)"
command -v nft >/dev/null || skip "needs nft (nftables)"

hosts=6
bed up --hosts "$hosts" --titad --rate 100M >/dev/null

port=19091
{
	cat <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: tita
    static_configs:
      - targets: [
EOF
	for i in $(seq "$hosts"); do echo "          '10.77.0.$i:9977',"; done
	echo "        ]"
} >"$work/prometheus.yml"
mkdir -p "$work/tsdb"
bg sw "$prom" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
	--web.listen-address="127.0.0.1:$port" --log.level=warn 2>"$work/prometheus.log"
prom_pid=$bg_pid
ready=0
for _ in $(seq 100); do
	nsenter --net="$(netns sw)" curl -sf --max-time 1 "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && { ready=1; break; }
	kill -0 "$prom_pid" 2>/dev/null || break
	sleep 0.1
done
check "prometheus is ready in the switch namespace" [ "$ready" = 1 ]
[ "$ready" = 1 ] || { cat "$work/prometheus.log" >&2; finish; }

# The ring: a sink on every host, and from hI a flow to each of the next
# two hosts.
seconds=150
for i in $(seq "$hosts"); do
	bg "h$i" "$gen" sink --duration "$((seconds + 3))s" --idle 3s >/dev/null 2>&1
done
sleep 0.3
for i in $(seq "$hosts"); do
	a=$((i % hosts + 1))
	b=$(((i + 1) % hosts + 1))
	bg "h$i" "$gen" send --line-rate 100M --duration "${seconds}s" \
		"10.77.0.$a,qp=$((0x100 + 2 * i))" "10.77.0.$b,qp=$((0x101 + 2 * i))" >/dev/null 2>&1
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# One diagnosis from Prometheus, summed up as "TOP_INSTANCE KIND STATE
# PLACE N_SUSPECTS" (TOP_INSTANCE "-" when there is no suspect; "error"
# when no answer came), the JSON kept in $work/last.json.
diagnose() {
	nsenter --net="$(netns sw)" "$titactl" -j diagnose --prometheus "http://127.0.0.1:$port" \
		--job tita --timeout 5 >"$work/last.json" 2>"$work/last.err" || true
	python3 - "$work/last.json" <<'EOF' 2>/dev/null || echo "error - - - 0 0"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["suspects"]
if not s:
    print("- - - - 0 %d" % d["up"])
else:
    t = s[0]
    print(t["instance"] or "-", t["kind"], t["state"], t["place"], len(s), d["up"])
EOF
}
diag_log() { # label: the last diagnosis, for the log
	python3 - "$work/last.json" "$1" <<'EOF' >&2 2>/dev/null || true
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["suspects"][:3]:
    print("# %s: #%d %s %s %s %.2f: %s" % (sys.argv[2], s["rank"], s["culprit"], s["kind"], s["state"],
          s["confidence"], "; ".join(s["evidence"][:3])))
EOF
}

# Every target up, every host sending: the health gauges of a running ring
# are in Prometheus (bounded at 30 s: generators and titads start on a busy
# machine).
sending=0
for _ in $(seq 60); do
	sending=$(nsenter --net="$(netns sw)" curl -sf --max-time 2 \
		"http://127.0.0.1:$port/api/v1/query?query=tita_health_tx_bytes_per_second%3E1e6" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))' 2>/dev/null || echo 0)
	[ "$sending" = "$hosts" ] && break
	sleep 0.5
done
check "Prometheus has every host's health gauges with traffic ($sending of $hosts sending)" \
	[ "$sending" = "$hosts" ]
sleep 3

# Healthy: several diagnoses in a row, a scrape apart, name nobody.
healthy_runs=8
false_alarms=0
for _ in $(seq "$healthy_runs"); do
	read -r top _ <<<"$(diagnose)"
	if [ "$top" != - ]; then
		false_alarms=$((false_alarms + 1))
		diag_log "healthy bed"
	fi
	sleep 1
done
check "the healthy bed: no suspect in $healthy_runs diagnoses ($false_alarms false alarms)" \
	[ "$false_alarms" = 0 ]

# Poll until the top suspect is INSTANCE with KIND and STATE: prints the
# milliseconds since T0, or "timeout" (30 s).
localize() { # t0_ms, instance, kind, state
	local t0=$1 top kind st
	while [ $(($(now_ms) - t0)) -lt 30000 ]; do
		read -r top kind st _ <<<"$(diagnose)"
		if [ "$top" = "$2" ] && [ "$kind" = "$3" ] && [ "$st" = "$4" ]; then
			echo $(($(now_ms) - t0))
			return
		fi
		sleep 0.5
	done
	echo timeout
}
# Poll until no suspect is named (after a fault is restored): 30 s.
settle() {
	local t0 top up
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt 30000 ]; do
		read -r top _ _ _ _ up <<<"$(diagnose)"
		[ "$top" = - ] && [ "$up" = "$hosts" ] && { echo $(($(now_ms) - t0)); return; }
		sleep 1
	done
	echo timeout
}
report() { # label, ms
	if [ "$2" = timeout ]; then
		diag_log "$1"
		echo "# $1: not localized in 30 s" >&2
	else
		echo "# $1: localized in $2 ms" >&2
	fi
}

# ---- (a) a slow NIC on h3 ----------------------------------------------------------------
# (tc prints no JSON for classes.)
classes=$(bed exec h3 tc class show dev eth0 | awk '$2 == "htb" && $3 != "7174:1" { print $3 }')
check "h3 paces its flows in HTB classes ($(tr '\n' ' ' <<<"$classes"))" [ -n "$classes" ]
t0=$(now_ms)
h=10
for c in $classes; do
	bed exec h3 tc qdisc replace dev eth0 parent "$c" handle "$h": tbf rate 15mbit burst 16k latency 200ms
	h=$((h + 1))
done
ta=$(localize "$t0" 10.77.0.3:9977 slow-nic slow)
report "slow NIC h3" "$ta"
check "slow NIC h3: named (slow-nic, slow) within 30 s ($ta ms)" [ "$ta" != timeout ]
for c in $classes; do
	bed exec h3 tc qdisc del dev eth0 parent "$c" 2>/dev/null || true
done
sa=$(settle)
check "restored: the bed is healthy again ($sa ms)" [ "$sa" != timeout ]

# ---- (b) a lossy link: h5's ----------------------------------------------------------------
t0=$(now_ms)
nsenter --net="$(netns sw)" nft -f - <<'EOF'
table bridge tita_loss {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "p5" udp dport 4791 numgen random mod 100 < 2 counter drop
		oifname "p5" udp dport 4791 numgen random mod 100 < 2 counter drop
	}
}
EOF
tb=$(localize "$t0" 10.77.0.5:9977 lossy-link slow)
report "lossy link h5" "$tb"
nsenter --net="$(netns sw)" nft list table bridge tita_loss | sed -n 's/^\s*\(.*counter.*\)/# nft: \1/p' >&2
check "lossy link of h5: named (lossy-link, slow) within 30 s ($tb ms)" [ "$tb" != timeout ]
# The loss is the XDP program's: PSN gaps on what h5 received.
oos=$(bed metrics h5 | awk '/^tita_port_out_of_sequence_packets_total/ { s += $2 } END { print s + 0 }')
check "h5's datapath counted the gaps (tita_port_out_of_sequence_packets_total $oos)" \
	awk_true 'v > 0' v="$oos"
nsenter --net="$(netns sw)" nft delete table bridge tita_loss
sb=$(settle)
check "restored: the bed is healthy again ($sb ms)" [ "$sb" != timeout ]

# ---- (c) a dead host: h2 -------------------------------------------------------------------
t0=$(now_ms)
kill -KILL "$(cat "$state/h2.pid")"
bed exec h2 ip link set eth0 down
tc_=$(localize "$t0" 10.77.0.2:9977 dead-host failed)
report "dead h2" "$tc_"
check "dead h2: named (dead-host, failed) within 30 s ($tc_ ms)" [ "$tc_" != timeout ]

echo "# time to localization: slow NIC ${ta} ms, lossy link ${tb} ms, dead host ${tc_} ms; false alarms $false_alarms of $healthy_runs" >&2

kill "$prom_pid" 2>/dev/null || true
wait "$prom_pid" 2>/dev/null || true
finish
