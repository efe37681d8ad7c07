#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the simulator's scenario suite (sim/scenarios/*.conf) under every
# congestion control, side by side, with the same seed, and write
#   OUT/results.md          the table (one row per scenario x control)
#   OUT/sweep.md            tita's control interval and start-rate sweeps
#   OUT/<scenario>/*.png    queue over time, per-flow rate over time, FCT CDF
#   OUT/<scenario>/<cc>/    summary.txt, fct.dat, queue.dat, rate.dat
# Same seed, same figures: summary.txt and the .dat files are bit-identical
# from run to run.
#
# usage: scripts/sim-suite.sh [-b BUILD_DIR] [-o OUT_DIR] [-s SEED] [-j JOBS] [SCENARIO...]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
out=$root/results/sim
seed=1
jobs=$(nproc 2>/dev/null || echo 2)
while getopts "b:o:s:j:h" opt; do
	case $opt in
	b) build=$OPTARG ;;
	o) out=$OPTARG ;;
	s) seed=$OPTARG ;;
	j) jobs=$OPTARG ;;
	*) sed -n '3,14p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

ccs=(none dcqcn dcqcn-paper hpcc tita tita-nodcqcn)
if [ $# -gt 0 ]; then
	scenarios=("$@")
else
	scenarios=(converge incast16 incast64 staircase victim alltoall64 ringar ringar-weighted websearch)
fi
# tita's settings for the suite: lib/'s defaults (chosen from the sweeps in
# sweep.md: a 100 us control interval, new pairs at 2 % of line rate, backlog
# turned into demand over 200 us, grant TTL 10 ms, refresh 3 ms, eta 0.98:
# the incasts keep 0 PFC and a small queue at it, and the fabric's
# permutations lose 3 % to 0.95). Nothing is overridden.
tita_set=()

if [ ! -x "$build/sim/tita-sim" ]; then
	[ -d "$build" ] || meson setup "$build" "$root" >/dev/null
	ninja -C "$build" sim/tita-sim >/dev/null
fi
sim=$build/sim/tita-sim
command -v gnuplot >/dev/null || { echo "sim-suite: gnuplot is needed for the plots" >&2; exit 1; }
mkdir -p "$out"

# One job per line: DIR CC SCENARIO EXTRA-ARGS...
joblist=$(mktemp)
trap 'rm -f "$joblist"' EXIT
for s in "${scenarios[@]}"; do
	for cc in "${ccs[@]}"; do
		extra=""
		case $cc in tita*) extra="${tita_set[*]}" ;; esac
		echo "$out/$s/$cc $cc $root/sim/scenarios/$s.conf${extra:+ $extra}" >>"$joblist"
	done
done
sweep_scen=(incast16 incast64)
for s in "${sweep_scen[@]}"; do
	for iv in 20 50 100 200 500 1000; do
		# The backlog horizon follows the interval (two of them, as the
		# default); TTL and refresh stay at their defaults.
		echo "$out/sweep/$s/interval-$iv tita $root/sim/scenarios/$s.conf ${tita_set[*]}" \
			"--set tita.control_interval_us=$iv --set tita.backlog_horizon_us=$((iv * 2))" \
			>>"$joblist"
	done
	for sr in 0.02 0.05 0.1 0.25 0.5 1.0; do
		echo "$out/sweep/$s/start-$sr tita $root/sim/scenarios/$s.conf ${tita_set[*]}" \
			"--set tita.start_rate_frac=$sr" >>"$joblist"
	done
done
# The refresh period against control traffic where it is largest: every host
# exchanges demands and grants with 63 others.
refresh_scen=alltoall64
refreshes=(1000 2000 3000 4000 5000)
for rf in "${refreshes[@]}"; do
	echo "$out/sweep/$refresh_scen/refresh-$rf tita $root/sim/scenarios/$refresh_scen.conf" \
		"${tita_set[*]} --set tita.refresh_us=$rf" >>"$joblist"
done

run_one() {
	local dir=$1 cc=$2 conf=$3
	shift 3
	mkdir -p "$dir"
	"$sim" -q -c "$cc" -s "$seed" -o "$dir" "$@" "$conf" 2>"$dir/log.txt" || true
}
export -f run_one
export sim seed
echo "sim-suite: $(wc -l <"$joblist") runs on $jobs cores -> $out"
# Each line is one job; its words are split here (paths must not hold spaces).
xargs -P "$jobs" -d '\n' -n 1 bash -c 'run_one $1' _ <"$joblist"

val() { awk -v k="$2" '$1 == k { print $2 }' "$1/summary.txt" 2>/dev/null; }
evs() { sed -n 's/.*: \([0-9.]*\) M events\/s.*/\1/p' "$1/log.txt" | head -1; }

row() {
	local d=$1 label=$2
	if [ ! -f "$d/summary.txt" ]; then
		echo "| $label | (failed: $(head -c 80 "$d/log.txt" | tr '\n' ' ')) |"
		return
	fi
	awk -v label="$label" -v evs="$(evs "$d")" '
		{ v[$1] = $2 }
		END {
			split(v["flows_done"], fd, "/")
			done = (fd[1] == fd[2]) ? "" : " (" v["flows_done"] " done)"
			printf "| %s | %.0f / %.0f / %.0f | %d | %.0f | %d | %d | %.3f | %.4f | %.3f%s | %.2f / %.2f | %.4f | %s |\n",
				label, v["q_p50_kb"], v["q_p99_kb"], v["q_max_kb"], v["pause_frames"],
				v["paused_us"], v["ecn_marks"], v["cnps"], v["util"], v["jain"],
				v["completion_ratio"], done, v["slowdown_p50"], v["slowdown_p99"],
				100 * v["ctrl_frac"], evs
		}' "$d/summary.txt"
}

header='| cc | queue p50 / p99 / max (KB) | PFC pauses | paused (us) | ECN marks | CNPs | util | Jain | completion / bound | slowdown p50 / p99 | tita ctrl (% link) | M events/s |
|---|---|---|---|---|---|---|---|---|---|---|---|'
{
	echo "# tita-sim results"
	echo
	echo "Produced by \`scripts/sim-suite.sh\` (seed $seed) with $($sim --version)."
		echo "tita rows use: ${tita_set[*]:-lib's defaults}."
	echo "Queue: the switch egress towards the scenario's monitor host (the bottleneck),"
	echo "time-weighted. Utilization and completion / line-rate bound are for the"
	echo "scenario's primary group; slowdown is FCT over the unloaded line-rate FCT."
	for s in "${scenarios[@]}"; do
		echo
		echo "## $s: $(sed -n 's/^title = //p' "$root/sim/scenarios/$s.conf")"
		echo
		echo "$header"
		for cc in "${ccs[@]}"; do
			row "$out/$s/$cc" "$cc"
		done
		echo
		echo "![queue]($s/queue.png) ![rates]($s/rate-tita.png) ![fct]($s/fct-cdf.png)"
	done
} >"$out/results.md"

{
	echo "# tita sweeps"
	echo
	echo "Base: ${tita_set[*]:-lib's defaults}; the interval rows scale the backlog horizon (2x) with it."
	for s in "${sweep_scen[@]}"; do
		echo
		echo "## $s: control interval (us)"
		echo
		echo "${header/| cc |/| interval |}"
		for iv in 20 50 100 200 500 1000; do
			row "$out/sweep/$s/interval-$iv" "$iv"
		done
		echo
		echo "## $s: start rate of new pairs (fraction of line rate)"
		echo
		echo "${header/| cc |/| start rate |}"
		for sr in 0.02 0.05 0.1 0.25 0.5 1.0; do
			row "$out/sweep/$s/start-$sr" "$sr"
		done
	done
	echo
	echo "## $refresh_scen: refresh period of unchanged demands and grants (us; grant TTL 10 ms)"
	echo
	echo "${header/| cc |/| refresh |}"
	for rf in "${refreshes[@]}"; do
		row "$out/sweep/$refresh_scen/refresh-$rf" "$rf"
	done
} >"$out/sweep.md"

# Plots: every control side by side.
for s in "${scenarios[@]}"; do
	d=$out/$s
	qplots="" fplots=""
	for cc in "${ccs[@]}"; do
		[ -s "$d/$cc/queue.dat" ] && qplots+="'$d/$cc/queue.dat' using 1:2 with lines title '$cc', "
		grep -qv '^#' "$d/$cc/fct.dat" 2>/dev/null &&
			fplots+="'< sort -g -k8 $d/$cc/fct.dat | awk \"!/^#/ {n++; s[n]=\\\$8} END {for (i=1;i<=n;i++) print s[i], i/n}\"' using 1:2 with steps title '$cc', "
	done
	gnuplot <<-GP || echo "sim-suite: plot of $s failed" >&2
		set terminal pngcairo size 900,500 noenhanced
		set output '$d/queue.png'
		set title '$s: bottleneck queue'
		set xlabel 'time (us)'
		set ylabel 'queue (KB)'
		set key outside right
		plot ${qplots%, }
	GP
	# Scenarios of flows that run until a stop time have no FCTs to plot.
	if [ -n "$fplots" ]; then
		gnuplot <<-GP || echo "sim-suite: FCT plot of $s failed" >&2
			set terminal pngcairo size 900,500 noenhanced
			set output '$d/fct-cdf.png'
			set title '$s: FCT slowdown CDF'
			set xlabel 'slowdown (FCT / line-rate FCT)'
			set ylabel 'fraction of flows'
			set key outside right
			set logscale x
			plot ${fplots%, }
		GP
	fi
	for cc in "${ccs[@]}"; do
		[ -s "$d/$cc/rate.dat" ] || continue
		# A trace sample holds a packet or none: average 20 samples so
		# that the plot shows rates, not packet arrivals.
		awk '/^#/ {next} {for (i = 1; i <= NF; i++) sum[i] += $i; n++}
			n == 20 {for (i = 1; i <= NF; i++) {printf "%s%.3f", (i > 1 ? " " : ""), sum[i] / n; sum[i] = 0} print ""; n = 0}' \
			"$d/$cc/rate.dat" >"$d/$cc/rate-avg.dat"
		gnuplot <<-GP || echo "sim-suite: rate plot of $s/$cc failed" >&2
			set terminal pngcairo size 900,500 noenhanced
			set output '$d/rate-$cc.png'
			set title '$s: per-flow rate, $cc (20-sample average)'
			set xlabel 'time (us)'
			set ylabel 'rate (Gb/s)'
			set key outside right
			plot for [i=2:*] '$d/$cc/rate-avg.dat' using 1:i with lines title sprintf('flow %d', i - 2)
		GP
	done
done
echo "sim-suite: wrote $out/results.md, $out/sweep.md and the plots"
