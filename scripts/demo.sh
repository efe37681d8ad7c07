#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tita on a real kernel, in one command: set up, build, start the test bed
# (scripts/bed.sh: 4 hosts and a switch in network namespaces, 200 Mbit/s
# switch ports with a 128 KB buffer and DCQCN-style ECN marking), and run the
# same 3 -> 1 incast three times:
#
#   unpaced   the generator sends at its line rate, nothing reacts
#   DCQCN     the generator reacts to the sink's CNPs like a ConnectX's
#             DCQCN reaction point (NVIDIA's defaults, scaled to the bed)
#   tita      every host runs titad (XDP/tc datapath, tc pacer), the
#             generator sends at its line rate and titad paces it
#
# Prints the three side by side (bottleneck goodput, drops, CE-marked
# fraction, peak and mean switch queue, Jain fairness, completion time),
# writes a plot of per-flow rate and switch queue over time, and tears the
# bed down at the end, also on Ctrl-C. While the tita run goes, titactl and
# every titad's metrics are reachable (the commands are printed).
#
# Then the cross-leaf case, on a two-tier fabric (2 leaves of 2 hosts, 2
# spines, 100 Mbit/s links, ECMP on the 5-tuple): h1 -> h3 and h2 -> h4
# start from source ports that hash onto the same spine, and run three
# times: unpaced and DCQCN collide there (one uplink for both), tita
# (titad with the qp pacer and the bed's topology; the generators are its
# NICs) spreads them over both spines and paces them.
#
# Usage: demo.sh [--bytes SIZE] [--hold SECONDS] [--no-fabric]
#   --bytes      per flow (default 25M: about 3 s of incast)
#   --hold       keep the bed with titad running this long after the runs
#                (default 0; at most 600), to look around with titactl
#   --no-fabric  skip the cross-leaf case
#
# Environment: TITA_BUILD_DIR (default build), TITA_DEMO_OUT (default
# results/demo-bed).
set -euo pipefail

cd "$(dirname "$0")/.."

bytes=25M
hold=0
fabric=1
while [ $# -gt 0 ]; do
	case $1 in
	--bytes) bytes=$2; shift 2 ;;
	--hold) hold=$2; shift 2 ;;
	--no-fabric) fabric=0; shift ;;
	-h | --help) sed -n '3,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
	esac
done
[[ $hold =~ ^[0-9]+$ ]] && [ "$hold" -le 600 ] || { echo "demo.sh: --hold 0..600" >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root: the bed needs network namespaces, tc and BPF" >&2
	exit 1
fi

build=${TITA_BUILD_DIR:-build}
out=${TITA_DEMO_OUT:-results/demo-bed}
name=demo
bed() { BED_NAME=$name BED_BUILD=$build scripts/bed.sh "$@"; }

step() { printf '\n== %s\n' "$*"; }

step "installing what is missing (scripts/setup.sh)"
bash scripts/setup.sh

step "building in $build"
if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release >/dev/null
fi
# Only what the demo runs: a part of the tree in progress elsewhere must
# not stop it.
meson compile -C "$build" tita-roce tita-bed-marker >/dev/null
with_tita=1
if ! meson compile -C "$build" titad titactl >"$build/demo-bed-compile.log" 2>&1; then
	echo "titad did not build (see $build/demo-bed-compile.log): the tita run is skipped" >&2
	with_tita=0
fi

hold_pid=
cleanup() {
	set +e
	trap - EXIT INT TERM
	[ -z "$hold_pid" ] || kill "$hold_pid" 2>/dev/null
	step "tearing the bed down"
	bed down
}
trap cleanup EXIT
trap 'echo; echo "demo.sh: interrupted"; exit 130' INT TERM

step "starting the bed"
bed up --hosts 4
rm -rf "$out"
mkdir -p "$out"

run() { # label, cc
	local label=$1 cc=$2
	printf '%-8s incast h1,h2,h3 -> h4, %s per flow ... ' "$label" "$bytes"
	bed incast --from h1,h2,h3 --to h4 --bytes "$bytes" --cc "$cc" --out "$out/$label" >/dev/null
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.1f Mbit/s, %d drops" % (d["goodput_bps"] / 1e6, d["drops"]))' "$out/$label/summary.json"
}

step "three runs of the same incast"
run unpaced none
run dcqcn dcqcn
if [ "$with_tita" = 1 ]; then
	bed titad start all
	cat <<EOF
         titad runs on every host; while it does:
           scripts/bed.sh -n $name ctl h4 pairs        (titactl on the receiver)
           scripts/bed.sh -n $name metrics h4          (its Prometheus page)
EOF
	# A look at the receiver's grants in the middle of the run.
	(sleep 1.5 && bed ctl h4 pairs role rx >"$out/titactl-h4.txt" 2>&1) &
	snap=$!
	run tita none
	wait "$snap" || true
else
	echo "tita     skipped: $build/daemon/titad is not built"
fi

step "results (bottleneck: switch port towards h4, 200 Mbit/s, 128 KB buffer)"
python3 - "$out" <<'EOF'
import json, os, sys

out = sys.argv[1]
runs = [r for r in ("unpaced", "dcqcn", "tita") if os.path.exists(os.path.join(out, r, "summary.json"))]
names = {"unpaced": "unpaced", "dcqcn": "DCQCN (gen)", "tita": "tita"}
s = {r: json.load(open(os.path.join(out, r, "summary.json"))) for r in runs}


def f(v, fmt):
    return "-" if v is None else fmt % v


rows = [
    ("bottleneck goodput (Mbit/s)", lambda d: f(d["goodput_bps"] / 1e6, "%.1f")),
    ("  after the first 0.5 s", lambda d: f(d["steady_goodput_bps"] and d["steady_goodput_bps"] / 1e6, "%.1f")),
    ("drops at the switch port", lambda d: "%d" % d["drops"]),
    ("CE-marked fraction", lambda d: "%.2f %%" % (100 * d["ce_fraction"])),
    ("switch queue peak (KB)", lambda d: "%.1f" % (d["queue_peak_bytes"] / 1e3)),
    ("switch queue mean (KB)", lambda d: "%.1f" % (d["queue_mean_bytes"] / 1e3)),
    ("fairness (Jain)", lambda d: f(d["jain"], "%.3f")),
    ("completion max (s)", lambda d: f(d["fct_max_s"], "%.2f")),
    ("completion mean (s)", lambda d: f(d["fct_mean_s"], "%.2f")),
    ("flows complete", lambda d: "%d/%d" % (d["flows_complete"], d["flows_expected"])),
    ("data delivered", lambda d: "%.1f %%" % (100 * d["delivered_fraction"])),
]
w = 30
print("%-*s" % (w, "") + "".join("%14s" % names[r] for r in runs))
for label, fn in rows:
    print("%-*s" % (w, label) + "".join("%14s" % fn(s[r]) for r in runs))
print()
print("goodput: RoCE payload delivered. completion: first packet sent to last")
print("received; nothing retransmits in the bed, so a lossy run completes early")
print("with data missing (see data delivered). queue: the port's qdisc backlog,")
print("sampled every 5 ms while traffic arrived.")
EOF
if [ -s "$out/titactl-h4.txt" ]; then
	echo
	echo "h4's grants during the tita run (titactl pairs role rx):"
	sed 's/^/  /' "$out/titactl-h4.txt"
fi

step "plot"
python3 - "$out" <<'EOF'
# Per-flow received rate in 50 ms steps and the switch queue, per run, as
# whitespace-separated columns for gnuplot; time from the run's first packet.
import csv, json, os, sys

out = sys.argv[1]
for r in ("unpaced", "dcqcn", "tita"):
    d = os.path.join(out, r)
    if not os.path.exists(os.path.join(d, "sink.json")):
        continue
    sink = json.load(open(os.path.join(d, "sink.json")))
    t0, t1 = sink["first_s"], sink["last_s"] - sink["first_s"] + 0.1
    step = 0.05
    flows, bins = [], {}
    with open(os.path.join(d, "sink.csv")) as f:
        for row in csv.DictReader(f):
            t = float(row["t_s"]) - t0
            if t < 0 or t > t1:
                continue
            k = row["addr"]
            if k not in flows:
                flows.append(k)
            b = int(t / step)
            bins.setdefault(b, {}).setdefault(k, []).append(float(row["rate_bps"]) / 1e6)
    flows.sort()
    with open(os.path.join(d, "rate.dat"), "w") as f:
        f.write("# t_s " + " ".join(flows) + "\n")
        for b in sorted(bins):
            v = [sum(bins[b].get(k, [0])) / max(len(bins[b].get(k, [0])), 1) for k in flows]
            f.write("%.3f %s\n" % ((b + 0.5) * step, " ".join("%.2f" % x for x in v)))
    with open(os.path.join(d, "queue.csv")) as fi, open(os.path.join(d, "queue.dat"), "w") as fo:
        for row in csv.DictReader(fi):
            t = float(row["t_s"]) - t0
            if -0.1 <= t <= t1:
                fo.write("%.4f %.2f %.2f\n" % (t, int(row["backlog_bytes"]) / 1e3, int(row["phantom_bytes"]) / 1e3))
EOF
runs=()
for r in unpaced dcqcn tita; do [ -s "$out/$r/rate.dat" ] && runs+=("$r"); done
{
	echo "set terminal pngcairo size $((520 * ${#runs[@]})),720 font 'sans,10'"
	echo "set output '$out/incast.png'"
	echo "set multiplot layout 2,${#runs[@]} title 'tita test bed: 3 -> 1 incast into a 200 Mbit/s switch port'"
	echo "set grid; set key top right opaque; set xlabel 'time (s)'; set xrange [0:*]"
	for r in "${runs[@]}"; do
		title=$r
		[ "$r" = dcqcn ] && title="DCQCN (generator)"
		echo "set title '$title: per-flow rate'; set ylabel 'Mbit/s'; set yrange [0:220]"
		echo "plot for [i=2:4] '$out/$r/rate.dat' using 1:i with lines lw 2 title sprintf('h%d', i-1)"
	done
	for r in "${runs[@]}"; do
		echo "set title '$r: switch queue'; set ylabel 'KB'; set yrange [0:140]"
		echo "plot '$out/$r/queue.dat' using 1:2 with lines lw 1.5 title 'qdisc backlog', 128 with lines dt 2 lc 'black' title 'buffer'"
	done
	echo "unset multiplot"
} >"$out/incast.gp"
if gnuplot "$out/incast.gp" 2>"$out/gnuplot.err"; then
	echo "wrote $out/incast.png"
else
	echo "gnuplot failed: $(head -n 3 "$out/gnuplot.err")" >&2
fi

# ---- the cross-leaf case ---------------------------------------------------------------------

ns() { echo "/run/netns/$name-$1"; } # a host's network namespace

# One run of the two flows: drops over every port of the fabric, goodput of
# both sinks from 1.5 s after the later flow's first packet to the end,
# and the spine each flow crossed at the end.
fabric_run() { # label, cc, generator arguments...
	local label=$1 cc=$2 d=$out/fabric/$1
	shift 2
	mkdir -p "$d"
	printf '%-8s h1 -> h3 and h2 -> h4 from ports %s and %s (both over s1) ... ' "$label" "$a1" "$a2"
	bed qdisc >"$d/qdisc-before.jsonl"
	nsenter --net="$(ns h3)" "$build/tools/gen/tita-roce" sink --duration 9s --idle 500ms \
		--interval 100ms -s "$d/sink3.csv" >"$d/sink3.json" 2>"$d/sink3.err" &
	nsenter --net="$(ns h4)" "$build/tools/gen/tita-roce" sink --duration 9s --idle 500ms \
		--interval 100ms -s "$d/sink4.csv" >"$d/sink4.json" 2>"$d/sink4.err" &
	for _ in $(seq 50); do
		grep -qs "sink ready" "$d/sink3.err" && grep -qs "sink ready" "$d/sink4.err" && break
		sleep 0.1
	done
	nsenter --net="$(ns h1)" "$build/tools/gen/tita-roce" send "10.77.2.3,sport=$a1" --cc "$cc" \
		--line-rate 100M --duration 4s "${@/AGENT/$state/h1.agent.sock}" >"$d/send1.json" &
	nsenter --net="$(ns h2)" "$build/tools/gen/tita-roce" send "10.77.2.4,sport=$a2" --cc "$cc" \
		--line-rate 100M --duration 4s "${@/AGENT/$state/h2.agent.sock}" >"$d/send2.json" &
	wait
	bed qdisc >"$d/qdisc-after.jsonl"
	python3 - "$d" <<'PY'
import csv, json, sys

d = sys.argv[1]

def drops(fn):
    return sum(q.get("drops", 0) for l in open(fn) if l.strip()
               for q in json.loads(l)["qdisc"] if q.get("root"))

sinks = [json.load(open("%s/sink%d.json" % (d, h))) for h in (3, 4)]
since = max(s["first_s"] for s in sinks) + 1.5
steps = {}
for h in (3, 4):
    for row in csv.DictReader(open("%s/sink%d.csv" % (d, h))):
        t = float(row["t_s"])
        if t >= since:
            steps.setdefault(round(t, 1), []).append(float(row["rate_bps"]))
both = sorted(sum(v) for v in steps.values() if len(v) == 2)
fig = {"goodput_bps": both[len(both) // 2] if both else 0.0,
       "drops": drops(d + "/qdisc-after.jsonl") - drops(d + "/qdisc-before.jsonl"),
       "sports": [json.load(open("%s/send%d.json" % (d, h)))["flows"][0]["sport"] for h in (1, 2)]}
json.dump(fig, open(d + "/fig.json", "w"))
print("%.1f Mbit/s, %d drops" % (fig["goodput_bps"] / 1e6, fig["drops"]))
PY
}

if [ "$fabric" = 1 ]; then
	step "the cross-leaf case: two flows collide on a spine"
	bed down
	bed up --leaves 2 --hosts-per-leaf 2 --spines 2 --rate 100M --pacer qp --eta 0.98
	state=/run/tita-bed/$name
	mapfile -t via1 < <(bed route h1 h3 $(seq 49152 49215) | awk '{ print $2 }')
	mapfile -t via2 < <(bed route h2 h4 $(seq 49152 49215) | awk '{ print $2 }')
	a1='' a2=''
	for k in $(seq 0 63); do
		[ -n "$a1" ] || [ "${via1[k]}" != s1 ] || a1=$((49152 + k))
		[ -n "$a2" ] || [ "${via2[k]}" != s1 ] || a2=$((49152 + k))
	done
	fabric_run unpaced none
	fabric_run dcqcn dcqcn
	if [ "$with_tita" = 1 ]; then
		bed titad start all
		# h1's view 3 s in (fabric_run's wait collects it).
		(sleep 3 && bed ctl h1 fabric >"$out/fabric/titactl-fabric-h1.txt" 2>&1) &
		fabric_run tita none --agent AGENT --msg 262144
	fi
	step "results (two flows from leaf 1 to leaf 2; the two spines carry 2 x 100 Mbit/s)"
	python3 - "$out/fabric" "$name" "$build" <<'PY'
import json, os, subprocess, sys

out, name, build = sys.argv[1:4]
names = {"unpaced": "unpaced", "dcqcn": "DCQCN (gen)", "tita": "tita"}
runs = [r for r in names if os.path.exists(os.path.join(out, r, "fig.json"))]
fig = {r: json.load(open(os.path.join(out, r, "fig.json"))) for r in runs}

def spine(src, dst, port):
    r = subprocess.run(["scripts/bed.sh", "-n", name, "-b", build, "route", src, dst, str(port)],
                       capture_output=True, text=True)
    return r.stdout.split()[1] if r.returncode == 0 and r.stdout.split() else "?"

rows = [
    ("goodput, both flows (Mbit/s)", lambda d: "%.1f" % (d["goodput_bps"] / 1e6)),
    ("  of the two spines", lambda d: "%.1f %%" % (d["goodput_bps"] / 2e6)),
    ("drops in the fabric", lambda d: "%d" % d["drops"]),
    ("spines at the end", lambda d: "%s %s" % (spine("h1", "h3", d["sports"][0]),
                                                spine("h2", "h4", d["sports"][1]))),
]
print("%-30s" % "" + "".join("%14s" % names[r] for r in runs))
for label, fn in rows:
    print("%-30s" % label + "".join("%14s" % fn(fig[r]) for r in runs))
print()
print("goodput: the median of 100 ms steps of both sinks' payload, from 1.5 s")
print("after both flows arrive. A collided pair shares one uplink; spread, each")
print("flow has a spine.")
PY
	if [ -s "$out/fabric/titactl-fabric-h1.txt" ]; then
		echo
		echo "h1's titactl fabric during the tita run:"
		sed 's/^/  /' "$out/fabric/titactl-fabric-h1.txt"
	fi
fi

if [ "$with_tita" = 1 ] && [ "$hold" -gt 0 ]; then
	step "the bed stays up for $hold s with titad running (Ctrl-C ends it)"
	echo "  scripts/bed.sh -n $name ctl h4 status"
	echo "  scripts/bed.sh -n $name metrics h4"
	# In the background: a trap runs only once the foreground command
	# returns, and `wait` returns at once on a signal.
	sleep "$hold" &
	hold_pid=$!
	wait "$hold_pid"
fi
