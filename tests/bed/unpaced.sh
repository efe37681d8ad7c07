#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The bed really congests, and its switch and traffic behave as a DCQCN
# fabric's: an unpaced 3:1 incast at the link rate overflows the bottleneck
# (drops at the switch port, PSN gaps at the sink, matching), the marker
# sets CE on ECT packets from its phantom queue, the sink answers with CNPs
# at most once per QP per interval, and senders in DCQCN mode receive them
# and cut their rates. No titad runs here.
#
# Usage: unpaced.sh SOURCE_ROOT BUILD_ROOT
# shellcheck source=tests/bed/lib.sh
. "$(dirname "$0")/lib.sh"

bed up --hosts 4 >/dev/null
ok "bed up: 4 hosts, no titad"

# ---- the switch port, as configured -------------------------------------------------------
qd=$(bed exec sw tc -j qdisc show dev p4)
check "p4: root HTB shaper" grep -q '"kind":"htb","handle":"1:","root":true' <<<"$qd"
check "p4: 128000-byte FIFO buffer" grep -q '"kind":"bfifo".*"limit":128000' <<<"$qd"
check "p4: the ECN marker on tc egress" bash -c "nsenter --net=/run/netns/$bed_name-sw tc filter show dev p4 egress | grep -q 'ecn_marker'"

# ---- unpaced: drops ----------------------------------------------------------------------
bed incast --from h1,h2,h3 --to h4 --bytes 12M --cc none --duration 20 --out "$work/none" >/dev/null
s=$work/none/summary.json
drops=$(jget "$s" 'd["drops"]')
lost=$(jget "$s" 'd["lost_packets"]')
ce=$(jget "$s" 'd["ce_fraction"]')
check "unpaced 3:1 drops at the bottleneck ($drops packets)" [ "$drops" -gt 0 ]
check "the sink sees the drops as PSN gaps ($lost lost, $drops dropped)" \
	awk_true 'l >= d * 0.95 && l <= d' l="$lost" d="$drops"
check "the bottleneck's queue reached its limit (peak $(jget "$s" 'd["queue_peak_bytes"]') bytes)" \
	awk_true 'p >= 100000' p="$(jget "$s" 'd["queue_peak_bytes"]')"
check "the marker marked CE (fraction $ce at the sink)" awk_true 'c > 0.2' c="$ce"
marked=$(jget "$work/none/marker.json" 'd[0]["marked"]')
ce_pk=$(jget "$work/none/sink.json" 'd["ce_packets"]')
check "every CE packet at the sink was marked by the switch ($ce_pk <= $marked)" [ "$ce_pk" -le "$marked" ]
goodput=$(jget "$s" 'd["wire_bps"]')
check "the bottleneck runs at its rate ($goodput bit/s on the wire)" \
	awk_true 'g >= 0.85 * 200e6 && g <= 1.02 * 200e6' g="$goodput"

# The notification point: at most one CNP per QP per 50 us.
python3 - "$work/none/sink.json" <<'EOF' && ok "CNPs at most one per QP per 50 us" || fail "CNP rate above one per QP per interval"
import json, sys
d = json.load(open(sys.argv[1]))
for f in d["flows"]:
    span = f["last_s"] - f["first_s"]
    assert f["cnps_sent"] <= span / 50e-6 + 1, f
    assert f["cnps_sent"] > 0 and f["cnps_sent"] <= f["ce_packets"], f
EOF
cnps_rx=$(jget "$s" 'd["sender_cnps"]')
cnps_tx=$(jget "$s" 'd["cnps"]')
# The last CNPs may arrive after their sender has finished and gone.
check "the senders received the CNPs ($cnps_rx of $cnps_tx)" \
	awk_true 'r >= t * 0.95 && r <= t' r="$cnps_rx" t="$cnps_tx"

# ---- generator DCQCN: the reaction point acts ----------------------------------------------
bed incast --from h1,h2,h3 --to h4 --bytes 12M --cc dcqcn --duration 20 --out "$work/dcqcn" >/dev/null
s=$work/dcqcn/summary.json
cuts=$(jget "$s" 'd["sender_cuts"]')
check "DCQCN senders cut their rates on CNPs ($cuts cuts)" [ "$cuts" -gt 0 ]
min_rate=$(jget "$work/dcqcn/send-h1.json" 'd["flows"][0]["min_rate_bps"]')
check "a DCQCN sender went below its line rate (h1 down to $min_rate bit/s)" \
	awk_true 'm < 0.6 * 200e6' m="$min_rate"
check "DCQCN drops fewer packets than unpaced ($(jget "$s" 'd["drops"]') < $drops)" \
	awk_true 'a < b' a="$(jget "$s" 'd["drops"]')" b="$drops"

finish
