#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The alert rules (deploy/prometheus/tita-alerts.yml): valid for
# Prometheus (promtool check rules), each firing when it should and not
# otherwise (promtool test rules on tests/deploy/tita-alerts.test.yml),
# and on metrics titad exports (names found in daemon/metrics.c, or in
# lib/health.c's table for the tita_health_* families titad exports
# through it).
#
# Usage: check-alerts.sh SOURCE_ROOT
set -eu
src=$1
rules=$src/deploy/prometheus/tita-alerts.yml
if ! command -v promtool >/dev/null; then
	[ "${CI:-}" = true ] && { echo "FAIL: promtool is missing (scripts/setup.sh installs prometheus)"; exit 1; }
	echo "SKIP: needs promtool (apt-get install prometheus)"
	exit 77
fi
promtool check rules "$rules"
promtool test rules "$src/tests/deploy/tita-alerts.test.yml"
missing=""
while read -r m; do
	grep -q "\"$m" "$src/daemon/metrics.c" "$src/lib/health.c" || missing="$missing $m"
done < <(grep -o '\btita_[a-z0-9_]*' "$rules" | sort -u)
if [ -n "$missing" ]; then
	echo "FAIL: the rules use metrics titad does not export:$missing"
	exit 1
fi
echo "ok: every metric the rules use is exported"
