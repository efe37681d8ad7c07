#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Every query of the Grafana dashboard (deploy/grafana/tita-dashboard.json),
# as Grafana sends it with every instance, port and job selected, against
# a running Prometheus: each must be valid and return data, except panels
# of parts a test bed lacks, which must still be valid; each template
# variable must find values. tests/bed/prometheus.sh runs it.
#
# Usage: dashboard-queries.py DASHBOARD PROMETHEUS_PORT NETNS_PATH
import json, re, subprocess, sys, urllib.parse
dash, port, ns = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
# Parts the bed lacks: no RDMA device behind its veths, no QP agent, no
# pause counters on a veth.
no_data_here = {"ECN and CNP at the NIC", "Loss and retransmission at the NIC",
                "Agents and QPs", "Agent commands and errors",
                "Suspects: pause frames at the NIC (top 5)"}
def query(expr):
    url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (port, urllib.parse.quote(expr))
    out = subprocess.run(["nsenter", "--net=" + ns, "curl", "-s", "--max-time", "2", url],
                         capture_output=True, text=True).stdout
    try:
        return json.loads(out)
    except ValueError:
        return {"status": "error", "error": "no answer"}
# Each variable as Grafana's "All" sends it: its values found in
# Prometheus, joined into a regex. So a panel whose label holds other
# values than its variable's (an address where the variable lists
# interfaces) comes out empty here as on the dashboard.
values = {"__rate_interval": "10s"}
def expand(expr):
    for k in sorted(values, key=len, reverse=True):
        expr = expr.replace("$" + k, values[k])
    return expr
bad = []
for v in dash["templating"]["list"]:
    q = v.get("query")
    m = re.fullmatch(r"label_values\((.*), (\w+)\)", q.get("query", "") if isinstance(q, dict) else "")
    if not m:
        continue
    d = query(expand(m.group(1)))
    vals = {x["metric"].get(m.group(2)) for x in d.get("data", {}).get("result", [])} - {None, ""}
    print("variable %s: %s" % (v["name"], sorted(vals)))
    if not vals:
        bad.append("variable " + v["name"])
    values[v["name"]] = "(" + "|".join(re.escape(x).replace("\\", "\\\\") for x in sorted(vals)) + ")"
for p in dash["panels"]:
    for t in p.get("targets", []):
        d = query(expand(t["expr"]))
        n = len(d.get("data", {}).get("result", [])) if d.get("status") == "success" else -1
        print("%-40s %3d series  %s" % (p["title"][:40], n, t["expr"][:90]))
        if n < 0 or (n == 0 and p["title"] not in no_data_here):
            bad.append("%s: %s (%s)" % (p["title"], t["expr"], d.get("error", "no data")))
print("\n".join("EMPTY OR INVALID: " + b for b in bad))
sys.exit(1 if bad else 0)
