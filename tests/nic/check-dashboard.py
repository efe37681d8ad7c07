#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every metric the Grafana dashboard queries is one titad exports: the
names in its PromQL expressions (minus _bucket) must appear in
daemon/metrics.c, and the file must be valid dashboard JSON."""
import json
import re
import sys

dash_path, metrics_c = sys.argv[1], sys.argv[2]
dash = json.load(open(dash_path))
source = open(metrics_c).read()
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
