#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A real Prometheus server (Debian's `prometheus`) scrapes every titad of
# the bed: it runs in the switch's namespace, listens on that namespace's
# loopback, and scrapes each host's metrics endpoint across the bed. The
# test asks Prometheus's HTTP API, not the daemons: every target is up, and
# the granted rates that h4 hands out are there, labelled by pair.
#
# Usage: prometheus.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"
need_titad
prom=$(command -v prometheus || true)
[ -n "$prom" ] || skip "needs prometheus (apt-get install prometheus)"

bed up --hosts 4 --titad >/dev/null

port=19090
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: titad
    static_configs:
      - targets: ['10.77.0.1:9977', '10.77.0.2:9977', '10.77.0.3:9977', '10.77.0.4:9977']
EOF
mkdir -p "$work/tsdb"
bg sw "$prom" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
	--web.listen-address="127.0.0.1:$port" --log.level=warn 2>"$work/prometheus.log"
prom_pid=$bg_pid

api() { # path with query string → JSON
	nsenter --net="$(netns sw)" curl -sf --max-time 2 "http://127.0.0.1:$port/api/v1/$1"
}
ready=0
for _ in $(seq 100); do
	nsenter --net="$(netns sw)" curl -sf --max-time 1 "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && { ready=1; break; }
	kill -0 "$prom_pid" 2>/dev/null || break
	sleep 0.1
done
check "prometheus is ready on 127.0.0.1:$port in the switch namespace" [ "$ready" = 1 ]
[ "$ready" = 1 ] || { cat "$work/prometheus.log" >&2; finish; }

bg h4 "$gen" sink --duration 20s --idle 2s >/dev/null 2>&1
sleep 0.3
bg h1 "$gen" send 10.77.0.4 --duration 12s >/dev/null
bg h2 "$gen" send 10.77.0.4 --duration 12s >/dev/null

# Query until the grants show up: bounded at 15 s (scrapes every 1 s).
query='tita_pair_granted_bytes_per_second{role="rx"}'
found=""
for _ in $(seq 30); do
	api "query?query=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$query")" >"$work/q.json" 2>/dev/null || true
	found=$(python3 - "$work/q.json" <<'EOF' 2>/dev/null || true
import json, sys
d = json.load(open(sys.argv[1]))
r = [x for x in d["data"]["result"] if float(x["value"][1]) > 0 and x["metric"].get("instance") == "10.77.0.4:9977"]
print(" ".join(sorted("%s=%.0f" % (x["metric"].get("peer", "?"), float(x["value"][1]) * 8) for x in r)))
EOF
)
	[ "$(wc -w <<<"$found")" -ge 2 ] && break
	sleep 0.5
done
check "Prometheus has h4's granted rates for both senders ($found bit/s)" [ "$(wc -w <<<"$found")" -ge 2 ]

# Every query of the Grafana dashboard while h1 and h2 send
# (tests/bed/dashboard-queries.py): asked until all answer, for up to 10 s
# (a rate needs two scrapes).
dash_ok=0
for _ in $(seq 20); do
	python3 "$src/tests/bed/dashboard-queries.py" "$src/deploy/grafana/tita-dashboard.json" \
		"$port" "$(netns sw)" >"$work/dash.txt" 2>&1 && { dash_ok=1; break; }
	sleep 0.5
done
sed 's/^/  /' "$work/dash.txt"
check "every dashboard query is valid, every panel of the bed's parts has data" [ "$dash_ok" = 1 ]

# Every target up: asked until it holds, for up to 10 s (a scrape that
# missed its 900 ms timeout on two busy CPUs marks a target down until the
# next one a second later).
up=0
for _ in $(seq 20); do
	api "query?query=up" >"$work/up.json" 2>/dev/null || true
	up=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for x in d["data"]["result"] if x["value"][1] == "1"))' "$work/up.json" 2>/dev/null || echo 0)
	[ "$up" = 4 ] && break
	sleep 0.5
done
check "all four titad targets are up ($up)" [ "$up" = 4 ]

# A range query: the sum of h4's grants stays within eta x its link over
# time. Only h4's: the sink's CNPs back to h1 and h2 are RoCE too, so h1
# and h2 grant h4 a trickle for them, which is not h4's link.
# Asked until it answers with points, for up to 10 s, as above: a query
# that Prometheus on two busy CPUs answers late, or before the samples of
# the window are in, says nothing about the grants.
max=0
for _ in $(seq 20); do
	end=$(date +%s)
	api "query_range?query=sum(tita_job_granted_bytes_per_second%7Brole%3D%22rx%22,instance%3D%2210.77.0.4:9977%22%7D)&start=$((end - 8))&end=$end&step=1" >"$work/range.json" 2>/dev/null || true
	max=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=[float(p[1]) * 8 for r in d["data"]["result"] for p in r["values"]]; print(int(max(v)) if v else 0)' "$work/range.json" 2>/dev/null || echo 0)
	[ "$max" -gt 0 ] && break
	sleep 0.5
done
check "over time the summed grants stay within eta x link (max $max bit/s)" \
	awk_true 'm > 0 && m <= 0.95 * 200e6 * 1.001' m="$max"

kill "$prom_pid" 2>/dev/null || true
wait "$prom_pid" 2>/dev/null || true
finish
