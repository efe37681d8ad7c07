#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Set up a Debian 12 machine and run every test of tita: a clang build with
# address and undefined-behaviour sanitizers and warnings as errors (unit,
# fuzz-corpus, BPF, simulator and integration suites), a gcc build of the
# same tree, and a bounded libFuzzer run of each fuzzer. Privileged suites
# need root; under CI=true they fail rather than skip.
set -euo pipefail

cd "$(dirname "$0")/.."
src=$(pwd)

if [ "$(id -u)" -eq 0 ]; then
	bash scripts/setup.sh
else
	echo "test.sh: not root: skipping package set-up; privileged tests will skip (exit 77)" >&2
fi

fuzz_seconds=${TITA_FUZZ_SECONDS:-60}
build=${TITA_BUILD_DIR:-build-test}
build_gcc=${TITA_GCC_BUILD_DIR:-build-test-gcc}

# gcc sees other things than clang: build the tree once with it, warnings as
# errors, and run the fast suites there too.
if [ ! -d "$build_gcc" ]; then
	CC=gcc meson setup "$build_gcc" -Dwerror=true --buildtype=debugoptimized
fi
meson compile -C "$build_gcc"
meson test -C "$build_gcc" --suite unit --print-errorlogs --num-processes 2
# The test bed's end-to-end tests measure time and throughput of real
# daemons: they run on this unsanitized build (a sanitized titad is several
# times slower) and not again below.
meson test -C "$build_gcc" --suite bed --print-errorlogs

if [ ! -d "$build" ]; then
	CC=clang meson setup "$build" -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dfuzzing=true --buildtype=debugoptimized
fi
meson compile -C "$build"

# Fuzz each target for a bounded time on a scratch copy of its corpus; a
# crash fails the run and leaves the input in $build/fuzz-artifacts.
for fuzzer in "$build"/tests/fuzz/fuzz-*; do
	# Only the binaries, not meson's object directories (fuzz-NAME.p).
	[ -f "$fuzzer" ] && [ -x "$fuzzer" ] || continue
	name=${fuzzer##*/fuzz-}
	work="$build/fuzz-work/$name"
	rm -rf "$work"
	mkdir -p "$work" "$build/fuzz-artifacts"
	cp -r "$src/tests/fuzz/corpus/$name/." "$work/"
	echo "fuzzing $name for ${fuzz_seconds}s"
	"$fuzzer" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-artifacts/$name-" "$work" 2>"$build/fuzz-$name.log" || {
		tail -n 40 "$build/fuzz-$name.log"
		echo "fuzzer $name found a crash: see $build/fuzz-artifacts/" >&2
		exit 1
	}
	grep -E 'stat::number_of_executed_units|stat::new_units_added' "$build/fuzz-$name.log" || true
done

# The Debian package builds, installs and removes cleanly (root only).
if [ "$(id -u)" -eq 0 ]; then
	bash scripts/package-test.sh
fi

# Last, so that the run ends with meson's summary. The slow suite (a few
# simulated runs of the diagnosis benchmark) is for by hand.
meson test -C "$build" --no-suite bed --no-suite bed-failing --no-suite slow --print-errorlogs \
	--num-processes 2
