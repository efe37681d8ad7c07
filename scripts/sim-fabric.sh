#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the fabric scenarios (issue 12: permutations and all-to-alls on
# leaf-spines, two weighted jobs on shared spines, a spine link failure, a
# ring across leaves) under none, dcqcn, hpcc and tita for several seeds, and
# write OUT/fabric.md: per scenario and control the min-max over seeds of
# completion / line-rate bound, PFC pauses, the largest p99 queue of any
# switch port, tita's control traffic, and where they apply the recovery
# after the failure and the two jobs' goodput ratio. Per run:
# OUT/fabric/<scenario>/<cc>/seed<N>/ (summary.txt, fct.dat, goodput.dat).
# Same seed, same figures.
#
# usage: scripts/sim-fabric.sh [-b BUILD_DIR] [-o OUT_DIR] [-s "SEEDS"] [-j JOBS]
#                              [-t "TITA ARGS"] [-k] [SCENARIO[:SIZE]...]
#   SCENARIO:SIZE runs SCENARIO with --set traffic.size=SIZE (e.g. perm256:200MB)
#   -k keeps the runs that have a summary.txt (to finish an interrupted table)
#   CCS="tita" in the environment runs only the controls it names
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-release
out=$root/results/sim
seeds="1 2 3 4 5"
jobs=2
tita_args=""
keep=false
while getopts "b:o:s:j:t:kh" opt; do
	case $opt in
	b) build=$OPTARG ;;
	o) out=$OPTARG ;;
	s) seeds=$OPTARG ;;
	j) jobs=$OPTARG ;;
	t) tita_args=$OPTARG ;;
	k) keep=true ;;
	*) sed -n '3,17p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

ccs=(${CCS:-none dcqcn hpcc tita})
if [ $# -gt 0 ]; then
	runs=("$@")
else
	runs=(perm64-16x100 perm64-16x100:200MB perm64-4x400 perm64-4x400:200MB
		perm256 perm256:200MB perm1024 perm1024:200MB
		a2a64-1to1 alltoall64 a2a256-1to1 a2a256-2to1
		twojobs linkfail64 ringx64)
fi

if [ ! -x "$build/sim/tita-sim" ]; then
	[ -d "$build" ] || meson setup --buildtype=release "$build" "$root" >/dev/null
	ninja -C "$build" sim/tita-sim >/dev/null
fi
sim=$build/sim/tita-sim
mkdir -p "$out/fabric"

name_of() { local r=$1; [ "${r#*:}" != "$r" ] && echo "${r%%:*}-${r#*:}" || echo "$r"; }

joblist=$(mktemp)
trap 'rm -f "$joblist"' EXIT
for r in "${runs[@]}"; do
	conf=$root/sim/scenarios/${r%%:*}.conf
	[ -f "$conf" ] || { echo "sim-fabric: no scenario $conf" >&2; exit 2; }
	size=""
	[ "${r#*:}" != "$r" ] && size="--set traffic.size=${r#*:}"
	for cc in "${ccs[@]}"; do
		extra=$size
		[ "$cc" = tita ] && extra="$extra $tita_args"
		for sd in $seeds; do
			dir=$out/fabric/$(name_of "$r")/$cc/seed$sd
			$keep && [ -f "$dir/summary.txt" ] && continue
			echo "$dir $cc $sd $conf $extra" >>"$joblist"
		done
	done
done

run_one() {
	local dir=$1 cc=$2 sd=$3 conf=$4
	shift 4
	mkdir -p "$dir"
	# The biggest runs first would balance better; the list is short.
	"$sim" -q -c "$cc" -s "$sd" -o "$dir" "$@" "$conf" 2>"$dir/log.txt" || true
}
export -f run_one
export sim
t0=$(date +%s)
echo "sim-fabric: $(wc -l <"$joblist") runs on $jobs cores -> $out/fabric"
xargs -P "$jobs" -d '\n' -n 1 bash -c 'run_one $1' _ <"$joblist"
t1=$(date +%s)

# min-max of one key (times MUL) over the seeds of a run: "a" or "a–b"
span() {
	local d=$1 key=$2 fmt=$3 mul=${4:-1}
	for sd in $seeds; do
		awk -v k="$key" '$1 == k { print $2 }' "$d/seed$sd/summary.txt" 2>/dev/null
	done | awk -v f="$fmt" -v m="$mul" 'NF { v = $1 * m; if (n == 0 || v < lo) lo = v; if (n == 0 || v > hi) hi = v; n++ }
		END { if (!n) { print "-"; exit }
			a = sprintf(f, lo); b = sprintf(f, hi); print (a == b) ? a : a "–" b }'
}

# flows not done in any seed
unfinished() {
	local d=$1 bad=""
	for sd in $seeds; do
		local fd
		fd=$(awk '$1 == "flows_done" { print $2 }' "$d/seed$sd/summary.txt" 2>/dev/null)
		if [ -z "$fd" ]; then
			bad+=" seed $sd failed;"
		elif [ "${fd%/*}" != "${fd#*/}" ]; then
			bad+=" seed $sd: $fd flows;"
		fi
	done
	echo "$bad"
}

{
	echo "# tita-sim: the fabric"
	echo
	echo "Produced by \`scripts/sim-fabric.sh${tita_args:+ -t \"$tita_args\"}\` (seeds $seeds) with $($sim --version)"
	echo "in $(((t1 - t0) / 60)) min $(((t1 - t0) % 60)) s on $jobs cores$($keep && echo " (the runs left to do)"). Every figure is the min–max over the seeds."
	echo "tita runs lib/'s defaults${tita_args:+ with $tita_args}."
	echo
	echo "- completion / bound: the primary group's completion over its line-rate bound"
	echo "  (its busiest host link or leaf's pooled uplinks/downlinks at full rate)."
	echo "- port p99: the largest time-weighted p99 queue of any switch egress while the"
	echo "  primary group ran (4 KB bins to 1 MB, quarter octaves above), and where."
	echo "- recovery: from the link failure until a 10 µs bin's goodput is back to 95 % of"
	echo "  what the surviving fabric can carry (fluid max-min, ideal splitting: an upper"
	echo "  bound); -1 never. stalled: flows with no progress for over 1 ms after it."
	echo "- job ratio: job 1's goodput over job 2's while both run (weights 3:1)."
	echo
	echo "| scenario | cc | completion / bound | PFC pauses | port p99 (KB) | worst port (seed ${seeds%% *}) | tita control (% link) | recovery (µs) | stalled | job ratio |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for r in "${runs[@]}"; do
		n=$(name_of "$r")
		for cc in "${ccs[@]}"; do
			d=$out/fabric/$n/$cc
			first=${seeds%% *}
			at=$(awk '$1 == "port_q_p99_max_at" { print $2 }' "$d/seed$first/summary.txt" 2>/dev/null)
			ctrl="" rec="" stuck="" ratio=""
			[ "$cc" = tita ] && ctrl=$(span "$d" ctrl_frac "%.3f" 100)
			grep -qs '^recovery_us' "$d/seed$first/summary.txt" && {
				rec=$(span "$d" recovery_us "%.0f")
				stuck=$(span "$d" stuck_flows "%d")
			}
			grep -qs '^job_ratio' "$d/seed$first/summary.txt" && ratio=$(span "$d" job_ratio "%.2f")
			echo "| $n | $cc | $(span "$d" completion_ratio "%.2f")$(unfinished "$d") | $(span "$d" pause_frames "%d") | $(span "$d" port_q_p99_max_kb "%.0f") | ${at:--} | $ctrl | $rec | $stuck | $ratio |"
		done
	done
} >"$out/fabric.md"
echo "sim-fabric: wrote $out/fabric.md in $((t1 - t0)) s"
