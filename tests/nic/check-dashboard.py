#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every metric the Grafana dashboard queries is one titad exports: the
names in its PromQL expressions (minus _bucket) must appear in
daemon/metrics.c or another source titad renders metrics from (lib/health.c's
tita_health_* table), and the file must be valid dashboard JSON.

  check-dashboard.py DASHBOARD SOURCE..."""
import json
import re
import sys

dash_path = sys.argv[1]
dash = json.load(open(dash_path))
source = "".join(open(path).read() for path in sys.argv[2:])
missing = set()
n = 0
for panel in dash["panels"]:
    for t in panel.get("targets", []):
        for name in re.findall(r"\b(tita_[a-z0-9_]+)", t["expr"]):
            n += 1
            base = re.sub(r"_bucket$", "", name)
            if f'"{base}' not in source:
                missing.add(name)
if missing:
    print("dashboard queries metrics titad does not export:", ", ".join(sorted(missing)))
    sys.exit(1)
print(f"{n} metric references, all exported")
