#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tita's main job on one machine: set up, build, and show tita beside DCQCN,
# HPCC and no congestion control on the same incasts, side by side, in the
# packet-level simulator that runs tita's real controller and wire codec on
# every simulated host. Writes the tables and plots to results/demo/.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
	bash scripts/setup.sh
else
	echo "demo-sim.sh: not root: skipping package set-up" >&2
fi

build=${TITA_DEMO_BUILD_DIR:-build-demo}
if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release >/dev/null
fi
meson compile -C "$build" >/dev/null

out=results/demo
scripts/sim-suite.sh -b "$build" -o "$out" incast16 incast64 victim

# The side-by-side tables, without the plot links.
echo
sed -n '/^## /,$p' "$out/results.md" | grep -v '^!\[' | grep -v '^$'
echo
echo "Tables, sweeps and plots: $out/results.md"
