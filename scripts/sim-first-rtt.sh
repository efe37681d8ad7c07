#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The first round trip in the simulator: the scenarios of short messages and
# incasts under every control, side by side, seeds 1-5, lib/'s defaults for
# tita (nothing set), and write OUT/first-rtt.md:
#   - WebSearch at 50 % and 80 %: median and p99 slowdown per flow size,
#     the five seeds' flows pooled, and PFC pauses;
#   - inference beside training: the messages' slowdowns, the ring's
#     completion over its line-rate bound;
#   - incast 16:1 and 64:1 (every sender's first message unscheduled under
#     tita's defaults): the worst seed's queue, pauses, utilization, Jain and
#     completion;
#   - the reference star incast, N = 8 and 32: completion over the wire
#     ideal, p99 queue, pauses and the lowest Jain over 100 us windows.
# Same build, same seeds, same figures.
#
# usage: scripts/sim-first-rtt.sh [-b BUILD_DIR] [-o OUT_DIR] [-j JOBS] [-n SEEDS] [-c CCS]
#                                 [-- TITA_SET...]
#   CCS: the controls, comma-separated (default none,dcqcn,hpcc,tita)
#   TITA_SET: extra words for tita's runs, e.g. -- --set tita.unsched_us=0
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
out=$root/results/first-rtt
jobs=$(nproc 2>/dev/null || echo 2)
nseeds=5
ccs=(none dcqcn hpcc tita)
while getopts "b:o:j:n:c:h" opt; do
	case $opt in
	b) build=$OPTARG ;;
	o) out=$OPTARG ;;
	j) jobs=$OPTARG ;;
	n) nseeds=$OPTARG ;;
	c) IFS=, read -r -a ccs <<<"$OPTARG" ;;
	*) sed -n '3,20p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
tita_set=("$@")

scenarios=(websearch websearch80 inference incast16 incast64 star8 star32)
seeds=$(seq 1 "$nseeds")

if [ ! -x "$build/sim/tita-sim" ]; then
	[ -d "$build" ] || meson setup "$build" "$root" >/dev/null
	ninja -C "$build" sim/tita-sim >/dev/null
fi
sim=$build/sim/tita-sim
report=$root/scripts/sim-report.py
mkdir -p "$out"

joblist=$(mktemp)
trap 'rm -f "$joblist"' EXIT
for s in "${scenarios[@]}"; do
	for cc in "${ccs[@]}"; do
		for seed in $seeds; do
			extra=""
			[ "$cc" = tita ] && extra="${tita_set[*]}"
			echo "$out/$s/$cc/$seed $cc $seed $root/sim/scenarios/$s.conf${extra:+ $extra}" >>"$joblist"
		done
	done
done

run_one() {
	local dir=$1 cc=$2 seed=$3 conf=$4
	shift 4
	mkdir -p "$dir"
	rm -f "$dir/summary.txt"
	"$sim" -q -c "$cc" -s "$seed" -o "$dir" "$@" "$conf" 2>"$dir/log.txt" || true
}
export -f run_one
export sim
echo "sim-first-rtt: $(wc -l <"$joblist") runs on $jobs cores -> $out"
# shellcheck disable=SC2016 # $1 is bash -c's, not ours
xargs -P "$jobs" -d '\n' -n 1 bash -c 'run_one $1' _ <"$joblist"

fail=0
for s in "${scenarios[@]}"; do
	for cc in "${ccs[@]}"; do
		for seed in $seeds; do
			d=$out/$s/$cc/$seed
			if [ ! -f "$d/summary.txt" ]; then
				echo "sim-first-rtt: $d failed: $(head -c 200 "$d/log.txt")" >&2
				fail=1
			fi
		done
	done
done
[ $fail = 0 ] || exit 1

# KEY over the seeds of one scenario and control: AGG is min, max or sum.
agg() {
	local s=$1 cc=$2 key=$3 how=$4
	for seed in $seeds; do
		awk -v k="$key" '$1 == k { print $2 }' "$out/$s/$cc/$seed/summary.txt"
	done | awk -v how="$how" '
		NR == 1 { m = $1 }
		{ t += $1; if ($1 < m && how == "min") m = $1; if ($1 > m && how == "max") m = $1 }
		END { v = how == "sum" ? t : m; printf(v >= 1000 || how == "sum" ? "%.0f" : "%.4g", v) }'
}

runs() { for seed in $seeds; do echo "$out/$1/$2/$seed"; done; }

# One row of p50 / p99 per bucket (sim-report.py's table, turned on its side).
bucket_row() {
	local s=$1 cc=$2 group=${3:-}
	# shellcheck disable=SC2046
	python3 "$report" buckets ${group:+--group "$group"} $(runs "$s" "$cc") |
		awk -F'|' -v cc="$cc" 'NR > 2 { gsub(/ /, "", $4); gsub(/ /, "", $5)
			c = c " " ($4 == "nan" ? "-" : $4 " / " $5) " |" }
			END { printf "| %s |%s", cc, c }'
}

# A scenario's heading, what its table holds (NOTE), and the table's head:
# its columns after "cc" (COLS, "|"-separated).
section() {
	local s=$1 note=$2 cols=$3
	echo
	echo "## $s: $(sed -n 's/^title = //p' "$root/sim/scenarios/$s.conf")"
	echo
	echo "$note"
	echo
	echo "| cc | $cols |"
	# shellcheck disable=SC2001 # every column, whatever its text
	echo "|---|$(sed 's/[^|]*/---/g' <<<"$cols")|"
}

{
	echo "# The first round trip in tita-sim"
	echo
	echo "Produced by \`scripts/sim-first-rtt.sh\` (seeds $(seq -s, 1 "$nseeds"))" \
		"with $($sim --version)."
	echo "tita: lib/'s defaults${tita_set[*]:+, and ${tita_set[*]//--set /}}."
	buckets="< 10 KB | 10-100 KB | 100 KB-1 MB | >= 1 MB"
	for s in websearch websearch80; do
		section "$s" "Slowdown p50 / p99, the seeds' flows pooled; PFC pauses summed over the seeds." \
			"$buckets | all | PFC pauses"
		for cc in "${ccs[@]}"; do
			echo "$(bucket_row "$s" "$cc") $(agg "$s" "$cc" pause_frames sum) |"
		done
	done
	s=inference
	section "$s" "The messages' slowdown p50 / p99 (pooled); the ring's completion over its
line-rate bound (worst and best seed); PFC pauses summed." \
		"$buckets | all messages | ring completion / bound | PFC pauses"
	for cc in "${ccs[@]}"; do
		echo "$(bucket_row "$s" "$cc" messages) $(agg "$s" "$cc" completion_ratio max)" \
			"(best $(agg "$s" "$cc" completion_ratio min)) | $(agg "$s" "$cc" pause_frames sum) |"
	done
	for s in incast16 incast64; do
		section "$s" "The worst seed for each column; pauses summed." \
			"queue p99 (KB) | queue max (KB) | PFC pauses | util | Jain | completion / bound"
		for cc in "${ccs[@]}"; do
			echo "| $cc | $(agg "$s" "$cc" q_p99_kb max) | $(agg "$s" "$cc" q_max_kb max)" \
				"| $(agg "$s" "$cc" pause_frames sum) | $(agg "$s" "$cc" util min)" \
				"| $(agg "$s" "$cc" jain min) | $(agg "$s" "$cc" completion_ratio max) |"
		done
	done
	for s in star8 star32; do
		section "$s" "The worst seed for each column; pauses summed; Jain over 100 us windows:
the lowest window of any seed." \
			"completion / wire ideal | queue p99 (KB) | PFC pauses | lowest window Jain"
		for cc in "${ccs[@]}"; do
			# shellcheck disable=SC2046
			jw=$(python3 "$report" windows $(runs "$s" "$cc") |
				awk '{ for (i = 1; i <= NF; i++) if ($i == "Jain") print $(i + 1) }' | sort -g | head -1)
			echo "| $cc | $(agg "$s" "$cc" completion_ratio max) | $(agg "$s" "$cc" q_p99_kb max)" \
				"| $(agg "$s" "$cc" pause_frames sum) | $jw |"
		done
	done
} >"$out/first-rtt.md"
echo "sim-first-rtt: $out/first-rtt.md"
