// SPDX-License-Identifier: MIT
/*
 * The Prometheus endpoint: a small HTTP server of titad's own (http.c) on
 * the event loop, so a scrape renders straight from the modules'
 * snapshots with no locking, and slow or idle clients cannot keep a
 * scraper out.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/): base units
 * (bytes per second, seconds), counters end in _total, one HELP and TYPE
 * per family. The tests run `promtool check metrics` on a real scrape.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "control.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "tita-config.h"
#include "units.h"

struct titad_metrics {
	struct titad_sources src_;
	struct titad_http *http;
};

/* A growing text buffer. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 16384;

		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *np = realloc(b->p, cap);

		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	static const char rate[] = "_bytes_per_second";
	size_t n = strlen(name);
	/* Rates are bytes here, bits in titactl and titad.conf: said where
	 * an operator reads either. */
	bool bytes = n > sizeof(rate) - 1 && !strcmp(name + n - (sizeof(rate) - 1), rate);

	sb_printf(b, "# HELP %s %s%s\n# TYPE %s %s\n", name, help,
		  bytes ? " In bytes per second (titactl shows bits per second)." : "", name, type);
}

static double bytes_per_sec(uint64_t bps)
{
	return (double)bps / 8.0;
}

static void hist(struct sbuf *b, const char *name, const char *help, const struct titad_hist *h)
{
	uint64_t cum = 0;

	family(b, name, "histogram", help);
	for (int i = 0; i < TITAD_HIST_BUCKETS; i++) {
		cum += h->counts[i];
		sb_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds_s[i],
			  (unsigned long long)cum);
	}
	cum += h->counts[TITAD_HIST_BUCKETS];
	sb_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	sb_printf(b, "%s_sum %.9f\n%s_count %llu\n", name, h->sum_s, name,
		  (unsigned long long)h->count);
}

static const char *role_name(enum tita_pair_role r)
{
	return r == TITA_PAIR_TX ? "tx" : "rx";
}

/* What the pair families and their sums show, tx or rx. */
static const struct {
	const char *pair, *sum, *help;
} pair_fams[] = {
	{ "tita_pair_demand_bytes_per_second", "tita_job_demand_bytes_per_second",
	  "Demand (tx: estimated; rx: reported by the sender)" },
	{ "tita_pair_granted_bytes_per_second", "tita_job_granted_bytes_per_second",
	  "Rate granted (tx: received; rx: handed out)" },
	{ "tita_pair_programmed_bytes_per_second", "tita_job_programmed_bytes_per_second",
	  "Rate programmed into the pacer, tx only (absent when unpaced)" },
	{ "tita_pair_measured_bytes_per_second", "tita_job_measured_bytes_per_second",
	  "Rate carried over the last control interval" },
};

/* A pair's value in family f; false where it has none. */
static bool pair_value(const struct tita_pair_info *p, size_t f, uint64_t *ret_bps)
{
	switch (f) {
	case 0:
		*ret_bps = p->demand_bps;
		return true;
	case 1:
		*ret_bps = p->grant_bps;
		return true;
	case 2:
		if (p->role != TITA_PAIR_TX || p->rate_bps == TITA_RATE_UNPACED)
			return false;
		*ret_bps = p->rate_bps;
		return true;
	default:
		*ret_bps = p->measured_bps;
		return true;
	}
}

struct pair_row {
	const struct tita_pair_info *p;
	int port; /* titad_ports index, -1: none */
};

/* Sums: by port, job, role. */
static int cmp_group(const void *a, const void *b)
{
	const struct pair_row *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->p->job_id != y->p->job_id)
		return x->p->job_id < y->p->job_id ? -1 : 1;
	return (int)x->p->role - (int)y->p->role;
}

/* The largest first: what a pair carries, else what it was granted. */
static int cmp_rate(const void *a, const void *b)
{
	const struct tita_pair_info *x = ((const struct pair_row *)a)->p,
				    *y = ((const struct pair_row *)b)->p;
	uint64_t rx = x->measured_bps > x->grant_bps ? x->measured_bps : x->grant_bps;
	uint64_t ry = y->measured_bps > y->grant_bps ? y->measured_bps : y->grant_bps;

	return rx > ry ? -1 : rx < ry;
}

/*
 * Pairs grow with peers (two per peer and job, tx and rx): 4,096 peers
 * would be ~32,000 series a host. By default the sums per port, job and
 * role carry the whole picture, and only the metrics-pairs largest pairs
 * are listed one by one; metrics-pairs = all lists every pair.
 */
static void render_pairs(const struct titad_sources *src, struct sbuf *b)
{
	size_t n = titad_engine_n_pairs(src->engine), n_listed;
	struct tita_pair_info *info = calloc(n ? n : 1, sizeof(*info));
	struct pair_row *rows = calloc(n ? n : 1, sizeof(*rows));
	struct titad_port_info pi;

	if (!info || !rows) {
		free(info);
		free(rows);
		b->failed = true;
		return;
	}
	n = titad_engine_pairs(src->engine, info, n);
	for (size_t i = 0; i < n; i++)
		rows[i] =
			(struct pair_row){ &info[i], titad_ports_find(src->ports, &info[i].local) };

	qsort(rows, n, sizeof(*rows), cmp_group);
	family(b, "tita_job_pairs", "gauge", "Pairs of a job on a port, by role.");
	for (size_t f = 0; f < sizeof(pair_fams) / sizeof(pair_fams[0]) + 1; f++) {
		if (f > 0) {
			char help[160];

			snprintf(help, sizeof(help), "%s, summed over a job's pairs on a port.",
				 pair_fams[f - 1].help);
			family(b, pair_fams[f - 1].sum, "gauge", help);
		}
		for (size_t i = 0, k; i < n; i = k) {
			char job[TITA_JOB_NAME_MAX + 1];
			uint64_t sum = 0, v;
			size_t with = 0;

			for (k = i; k < n && !cmp_group(&rows[i], &rows[k]); k++)
				if (f == 0 || pair_value(rows[k].p, f - 1, &v))
					sum += f == 0 ? 1 : v, with++;
			if (!with)
				continue;
			pi.ifname[0] = '\0';
			if (rows[i].port >= 0)
				titad_ports_info(src->ports, (uint32_t)rows[i].port, &pi);
			titad_engine_job_name(src->engine, rows[i].p->job_id, job, sizeof(job));
			if (f == 0)
				sb_printf(b,
					  "tita_job_pairs{port=\"%s\",tita_job=\"%s\",role=\"%s\"} "
					  "%llu\n",
					  pi.ifname, job, role_name(rows[i].p->role),
					  (unsigned long long)sum);
			else
				sb_printf(b, "%s{port=\"%s\",tita_job=\"%s\",role=\"%s\"} %.0f\n",
					  pair_fams[f - 1].sum, pi.ifname, job,
					  role_name(rows[i].p->role), bytes_per_sec(sum));
		}
	}

	/* Pairs unpaced because their grants lapsed (an idle pair whose grant
	 * lapses is let go instead; tita_controller_expired_total counts both). */
	family(b, "tita_fail_open_pairs", "gauge",
	       "TX pairs with demand whose grant lapsed: unpaced (fail-open), by port.");
	for (size_t i = 0, k; i < n; i = k) {
		uint64_t open = 0;

		for (k = i; k < n && rows[k].port == rows[i].port; k++)
			open += rows[k].p->role == TITA_PAIR_TX &&
				rows[k].p->state == TITA_PAIR_FAIL_OPEN;
		pi.ifname[0] = '\0';
		if (rows[i].port >= 0)
			titad_ports_info(src->ports, (uint32_t)rows[i].port, &pi);
		sb_printf(b, "tita_fail_open_pairs{port=\"%s\"} %llu\n", pi.ifname,
			  (unsigned long long)open);
	}

	n_listed = n;
	if (src->metrics_pairs != TITAD_METRICS_PAIRS_ALL && n > src->metrics_pairs) {
		qsort(rows, n, sizeof(*rows), cmp_rate);
		n_listed = src->metrics_pairs;
	}
	for (size_t f = 0; f < sizeof(pair_fams) / sizeof(pair_fams[0]); f++) {
		char help[200];

		snprintf(help, sizeof(help),
			 "%s, of a pair (by default only the largest; see metrics-pairs).",
			 pair_fams[f].help);
		family(b, pair_fams[f].pair, "gauge", help);
		for (size_t i = 0; i < n_listed; i++) {
			const struct tita_pair_info *p = rows[i].p;
			char r[TITA_ADDR_STRLEN], job[TITA_JOB_NAME_MAX + 1];
			uint64_t v;

			if (!pair_value(p, f, &v))
				continue;
			pi.ifname[0] = '\0';
			if (rows[i].port >= 0)
				titad_ports_info(src->ports, (uint32_t)rows[i].port, &pi);
			sb_printf(b,
				  "%s{port=\"%s\",peer=\"%s\",tita_job=\"%s\",role=\"%s\"} %.0f\n",
				  pair_fams[f].pair, pi.ifname,
				  tita_format_addr(&p->remote, r, sizeof(r)),
				  titad_engine_job_name(src->engine, p->job_id, job, sizeof(job)),
				  role_name(p->role), bytes_per_sec(v));
		}
	}
	free(rows);
	free(info);
}

/* Per-port sums of the XDP program's per-peer counters. */
struct rx_port_counter {
	const char *name, *help;
	size_t offset; /* of a uint64_t in struct tita_bpf_rx_counts */
};

static const struct rx_port_counter rx_port_counters[] = {
	{ "tita_port_received_bytes_total", "RoCEv2 bytes received on a port (XDP).",
	  offsetof(struct tita_bpf_rx_counts, bytes) },
	{ "tita_port_received_packets_total", "RoCEv2 packets received on a port (XDP).",
	  offsetof(struct tita_bpf_rx_counts, packets) },
	{ "tita_port_ce_marked_packets_total", "RoCEv2 packets received CE-marked on a port.",
	  offsetof(struct tita_bpf_rx_counts, ce_packets) },
	{ "tita_port_cnp_packets_total",
	  "RoCEv2 congestion notification packets received on a port.",
	  offsetof(struct tita_bpf_rx_counts, cnp_packets) },
	{ "tita_port_out_of_sequence_packets_total",
	  "RoCEv2 packets found missing on a port by a later request's PSN (XDP).",
	  offsetof(struct tita_bpf_rx_counts, oos_packets) },
};

static void render_ports(const struct titad_sources *src, const struct titad_engine_status *es,
			 struct sbuf *b)
{
	struct tita_port_info info[TITAD_MAX_PORTS];
	struct titad_port_info pi[TITAD_MAX_PORTS];
	size_t n = titad_engine_ports(src->engine, info, TITAD_MAX_PORTS);
	uint32_t n_ports = titad_ports_count(src->ports);
	static const char *const reason_names[TITA_REASON_MAX] = {
		"roce",		  "not_ip",	 "not_udp",    "not_roce_port",	 "trunc_eth",
		"trunc_vlan",	  "trunc_ipv4",	 "trunc_ipv6", "trunc_ipv6_ext", "trunc_udp",
		"trunc_bth",	  "ip_fragment", "bad_opcode", "bad_ip",	 "vlan_depth",
		"ipv6_ext_depth", "table_full",	 "nonlinear",
	};

	if (n > TITAD_MAX_PORTS)
		n = TITAD_MAX_PORTS;
	for (uint32_t i = 0; i < n_ports; i++)
		titad_ports_info(src->ports, i, &pi[i]);
	/* The controller's view of each port, by the port's interface name
	 * like every other family (port is never an address: one label, one
	 * meaning, so that families join on it); tita_port_info maps the
	 * name to the address. */
	{
		static const struct {
			const char *name, *help;
			int field;
		} fams[] = {
			{ "tita_port_line_rate_bytes_per_second", "Line rate of a port.", 0 },
			{ "tita_port_capacity_bytes_per_second",
			  "What a port's receiver hands out: eta times line rate minus unmanaged "
			  "traffic.",
			  1 },
			{ "tita_port_granted_bytes_per_second", "Sum of a port's live grants.", 2 },
		};
		int port_of[TITAD_MAX_PORTS];

		for (size_t i = 0; i < n; i++)
			port_of[i] = titad_ports_find(src->ports, &info[i].local);
		family(b, "tita_port_info", "gauge",
		       "A port: its interface, its address and the pacer that paces it.");
		for (size_t i = 0; i < n; i++) {
			char a[TITA_ADDR_STRLEN];

			if (port_of[i] >= 0 && (uint32_t)port_of[i] < n_ports)
				sb_printf(
					b,
					"tita_port_info{port=\"%s\",address=\"%s\",pacer=\"%s\"} 1\n",
					pi[port_of[i]].ifname,
					tita_format_addr(&info[i].local, a, sizeof(a)), es->pacer);
		}
		for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
			family(b, fams[f].name, "gauge", fams[f].help);
			for (size_t i = 0; i < n; i++) {
				uint64_t v = fams[f].field == 0 ? info[i].line_rate_bps :
					     fams[f].field == 1 ? info[i].capacity_bps :
								  info[i].granted_bps;

				if (port_of[i] >= 0 && (uint32_t)port_of[i] < n_ports)
					sb_printf(b, "%s{port=\"%s\"} %.0f\n", fams[f].name,
						  pi[port_of[i]].ifname, bytes_per_sec(v));
			}
		}
		family(b, "tita_port_eta_ratio", "gauge",
		       "Effective target utilization of a port.");
		for (size_t i = 0; i < n; i++)
			if (port_of[i] >= 0 && (uint32_t)port_of[i] < n_ports)
				sb_printf(b, "tita_port_eta_ratio{port=\"%s\"} %g\n",
					  pi[port_of[i]].ifname, info[i].eta);
	}

	/* Datapath counters, from the BPF maps (totals survive restarts). */
	for (size_t k = 0; k < sizeof(rx_port_counters) / sizeof(rx_port_counters[0]); k++) {
		const struct rx_port_counter *c = &rx_port_counters[k];

		family(b, c->name, "counter", c->help);
		for (uint32_t i = 0; i < n_ports; i++)
			sb_printf(b, "%s{port=\"%s\"} %llu\n", c->name, pi[i].ifname,
				  (unsigned long long)*(
					  const uint64_t *)((const char *)&pi[i].rx_total +
							    c->offset));
	}
	family(b, "tita_port_transmitted_bytes_total", "counter",
	       "Bytes sent from a port (tc egress, all IP traffic).");
	for (uint32_t i = 0; i < n_ports; i++) {
		uint64_t v = 0;

		/* Every frame has a reason; those with an IP header are IP. */
		for (int r = 0; r < TITA_REASON_MAX; r++)
			if (r != TITA_REASON_NOT_IP && r != TITA_REASON_TRUNC_ETH &&
			    r != TITA_REASON_TRUNC_VLAN && r != TITA_REASON_VLAN_DEPTH)
				v += pi[i].tx_reasons.bytes[r];
		sb_printf(b, "tita_port_transmitted_bytes_total{port=\"%s\"} %llu\n", pi[i].ifname,
			  (unsigned long long)v);
	}
	family(b, "tita_datapath_packets_total", "counter",
	       "Frames the datapath parsed, by direction and outcome (roce is accounted).");
	for (uint32_t i = 0; i < n_ports; i++) {
		if (!pi[i].has_snapshot)
			continue;
		for (int r = 0; r < TITA_REASON_MAX; r++) {
			sb_printf(
				b,
				"tita_datapath_packets_total{port=\"%s\",direction=\"rx\",reason=\"%s\"} %llu\n",
				pi[i].ifname, reason_names[r],
				(unsigned long long)pi[i].rx_reasons.packets[r]);
			sb_printf(
				b,
				"tita_datapath_packets_total{port=\"%s\",direction=\"tx\",reason=\"%s\"} %llu\n",
				pi[i].ifname, reason_names[r],
				(unsigned long long)pi[i].tx_reasons.packets[r]);
		}
	}
	family(b, "tita_port_up", "gauge",
	       "1 while a port's device is there and up with the datapath on it; 0 while it is "
	       "deleted or down (its pairs unpaced).");
	for (uint32_t i = 0; i < n_ports; i++)
		sb_printf(b, "tita_port_up{port=\"%s\"} %d\n", pi[i].ifname, pi[i].up);
	family(b, "tita_datapath_repins_total", "counter",
	       "Times a port's BPF pins were found deleted under titad and pinned again.");
	for (uint32_t i = 0; i < n_ports; i++)
		sb_printf(b, "tita_datapath_repins_total{port=\"%s\"} %llu\n", pi[i].ifname,
			  (unsigned long long)pi[i].repins);
	family(b, "tita_telemetry_read_errors_total", "counter",
	       "Failed reads of a port's BPF maps.");
	for (uint32_t i = 0; i < n_ports; i++)
		sb_printf(b, "tita_telemetry_read_errors_total{port=\"%s\"} %llu\n", pi[i].ifname,
			  (unsigned long long)pi[i].read_errors);

	/* The RDMA device's own counters: what hardware RoCE, which the
	 * datapath never sees, tells about congestion. Counted from titad's
	 * start; a counter the NIC lacks has no series. */
	family(b, "tita_nic_rdma_device_info", "gauge",
	       "The RDMA device and port behind a port (absent: none found).");
	for (uint32_t i = 0; i < n_ports; i++)
		if (pi[i].nic_ok)
			sb_printf(
				b,
				"tita_nic_rdma_device_info{port=\"%s\",device=\"%s\",device_port=\"%u\"} 1\n",
				pi[i].ifname, pi[i].ibdev, pi[i].ibport);
	family(b, "tita_nic_hw_counter_total", "counter",
	       "NIC hw_counters (np_ecn_marked_roce_packets, np_cnp_sent, rp_cnp_handled, "
	       "out_of_sequence, packet_seq_err, roce_adp_retrans, ...), since titad started.");
	for (uint32_t i = 0; i < n_ports; i++) {
		if (!pi[i].nic_ok)
			continue;
		for (int c = 0; c < TITA_NIC_COUNTER_COUNT; c++)
			if (pi[i].nic.present & (1u << c))
				sb_printf(
					b,
					"tita_nic_hw_counter_total{port=\"%s\",counter=\"%s\"} %llu\n",
					pi[i].ifname, tita_nic_counter_name(c),
					(unsigned long long)pi[i].nic.total[c]);
	}
	if (es->has_agents) {
		const struct tita_pacer_agent_stats *qs = &es->agents;

		family(b, "tita_agents", "gauge", "QP agents connected.");
		sb_printf(b, "tita_agents %u\n", qs->agents);
		family(b, "tita_agent_qps", "gauge", "QPs the agents registered, and those paced.");
		sb_printf(b, "tita_agent_qps{state=\"registered\"} %u\n", qs->qps);
		sb_printf(b, "tita_agent_qps{state=\"paced\"} %u\n", qs->qps_paced);
		family(b, "tita_agent_commands_total", "counter",
		       "Rate commands sent to agents, and those that failed.");
		sb_printf(b, "tita_agent_commands_total{result=\"sent\"} %llu\n",
			  (unsigned long long)qs->commands_sent);
		sb_printf(b, "tita_agent_commands_total{result=\"error\"} %llu\n",
			  (unsigned long long)qs->command_errors);
		family(b, "tita_agent_unscheduled_commands_total", "counter",
		       "Rate commands that let a message's first bytes go unpaced before the rate.");
		sb_printf(b, "tita_agent_unscheduled_commands_total %llu\n",
			  (unsigned long long)qs->unsched_commands);
		family(b, "tita_agent_protocol_errors_total", "counter",
		       "Malformed or out-of-order agent messages.");
		sb_printf(b, "tita_agent_protocol_errors_total %llu\n",
			  (unsigned long long)qs->protocol_errors);
		family(b, "tita_agent_refused_total", "counter",
		       "Agents and QPs refused past agents-per-uid, agent-qps-per-uid or "
		       "agent-qps.");
		sb_printf(b, "tita_agent_refused_total{what=\"agent\"} %llu\n",
			  (unsigned long long)qs->agents_refused);
		sb_printf(b, "tita_agent_refused_total{what=\"qp\"} %llu\n",
			  (unsigned long long)qs->qps_refused);
	}
}

/* One counter's series by one label: name{label="by[i]"} n[i]. */
static void series(struct sbuf *b, const char *name, const char *label, const char *const *by,
		   const uint64_t *n, size_t count)
{
	for (size_t i = 0; i < count; i++)
		sb_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, by[i], (unsigned long long)n[i]);
}

/* The fabric: each port's place and leader, the leaf's links where this
 * host leads, paths, probes. Nothing when no topology is read. */
static void render_fabric(const struct titad_sources *src, const struct titad_engine_status *es,
			  struct sbuf *b)
{
	const struct tita_ctl_stats *st = &es->ctl;
	struct titad_engine_leader *ld;
	struct titad_engine_paths paths;
	struct titad_fabric_stats fs;
	uint32_t n = titad_ports_count(src->ports);

	if (!src->fabric || !titad_fabric_known(src->fabric))
		return;
	ld = malloc(sizeof(*ld));
	if (!ld) {
		b->failed = true;
		return;
	}
	titad_fabric_stats(src->fabric, &fs);
	titad_engine_paths(src->engine, &paths);
	family(b, "tita_fabric_place", "gauge",
	       "A port's place: 1 with its leaf, uplinks and their capacity; 0 when it has none.");
	for (uint32_t i = 0; i < n; i++) {
		struct titad_fabric_port fp;
		struct titad_port_info pi;

		titad_ports_info(src->ports, i, &pi);
		titad_fabric_port(src->fabric, i, &fp);
		sb_printf(b,
			  "tita_fabric_place{port=\"%s\",leaf=\"%s\",spines=\"%u\","
			  "spine_bytes_per_second=\"%llu\"} %d\n",
			  pi.ifname, fp.leaf, fp.place.n_spines,
			  (unsigned long long)(fp.place.spine_bps / 8), fp.placed);
	}
	family(b, "tita_fabric_leader", "gauge",
	       "1 where the port leads its leaf's uplinks (role up) or downlinks (role down); "
	       "a leaf with one leader has both on its lowest member.");
	{
		struct tita_port_info info[TITAD_MAX_PORTS];
		size_t n_info = titad_engine_ports(src->engine, info, TITAD_MAX_PORTS);

		if (n_info > TITAD_MAX_PORTS)
			n_info = TITAD_MAX_PORTS;
		for (uint32_t i = 0; i < n; i++) {
			struct titad_port_info pi;
			bool up = false, down = false;

			titad_ports_info(src->ports, i, &pi);
			for (size_t k = 0; k < n_info; k++)
				if (tita_addr_eq(&info[k].local, &pi.addr)) {
					up = info[k].is_leader;
					down = info[k].is_leader_down;
				}
			sb_printf(b, "tita_fabric_leader{port=\"%s\",role=\"up\"} %d\n", pi.ifname,
				  up);
			sb_printf(b, "tita_fabric_leader{port=\"%s\",role=\"down\"} %d\n",
				  pi.ifname, down);
		}
	}
	family(b, "tita_fabric_link_bytes_per_second", "gauge",
	       "Where this host leads its leaf: each uplink (up) and downlink (down), its "
	       "capacity, the demand on it and what the leader allocated, in bytes per second "
	       "(titactl fabric shows bits).");
	for (uint32_t i = 0; i < n; i++) {
		struct titad_port_info pi;

		titad_ports_info(src->ports, i, &pi);
		titad_engine_leader(src->engine, &pi.addr, ld);
		for (uint32_t k = 0; k < ld->n_spines; k++)
			for (int d = 0; d < 2; d++) {
				const struct tita_leader_link *l = d ? &ld->down[k] : &ld->up[k];
				const char *dir = d ? "down" : "up";

				const uint64_t v[] = { l->capacity_bps, l->demand_bps,
						       l->allocated_bps };
				static const char *const what[] = { "capacity", "demand",
								    "allocated" };

				for (int w = 0; w < 3; w++)
					sb_printf(b,
						  "tita_fabric_link_bytes_per_second{port=\"%s\","
						  "dir=\"%s\",spine=\"%u\",what=\"%s\"} %llu\n",
						  pi.ifname, dir, k, what[w],
						  (unsigned long long)(v[w] / 8));
			}
	}
	free(ld);
	{
		static const char *const paths_by[] = { "started", "applied", "failed",
							"unsupported" };
		static const char *const moves_by[] = { "ok", "failed" };
		static const char *const probes_by[] = { "sent", "spine", "none", "not_sent" };
		static const char *const leaf_by[] = { "report", "answer" };
		const uint64_t paths_n[] = { paths.started, paths.applied, paths.failed,
					     paths.unsupported };
		const uint64_t moves_n[] = { st->moves, st->moves_failed };
		const uint64_t probes_n[] = { fs.prober.sent, fs.answers_spine,
					      fs.answers_none + fs.answers_unknown +
						      fs.answers_learning,
					      fs.probes_refused };
		const uint64_t leaf_n[] = { st->leaf_reports, st->leaf_answers };

		family(b, "tita_fabric_paths_total", "counter",
		       "Paths (moves to another UDP source port) by result: started in the "
		       "pacer, applied, failed, or refused because the pacer cannot move "
		       "traffic.");
		series(b, "tita_fabric_paths_total", "result", paths_by, paths_n, 4);
		family(b, "tita_fabric_moves_total", "counter",
		       "Pairs the leaders moved to another spine, and moves that failed.");
		series(b, "tita_fabric_moves_total", "result", moves_by, moves_n, 2);
		family(b, "tita_fabric_probes_total", "counter",
		       "Path probes: sent, answered with a spine, answered or lost without one, "
		       "not sent.");
		series(b, "tita_fabric_probes_total", "result", probes_by, probes_n, 4);
		family(b, "tita_fabric_leaf_messages_total", "counter",
		       "Leaf reports (members to their leader) and answers (leader to members).");
		series(b, "tita_fabric_leaf_messages_total", "kind", leaf_by, leaf_n, 2);
	}
	family(b, "tita_fabric_leaders_lost_total", "counter",
	       "Times a leaf's leader stopped answering and the next member took over.");
	sb_printf(b, "tita_fabric_leaders_lost_total %llu\n", (unsigned long long)st->leaders_lost);
	family(b, "tita_fabric_lldp_mismatches_total", "counter",
	       "LLDP checks that found a NIC cabled to another switch than its leaf.");
	sb_printf(b, "tita_fabric_lldp_mismatches_total %llu\n",
		  (unsigned long long)fs.lldp_mismatches);
}

/* Series of tita_qps beyond which jobs are summed into tita_job="(other)" (no
 * job name has parentheses): the device, type and state label sets are
 * small by nature, jobs are not. */
#define QP_SERIES_MAX 512

static void render_qps(const struct titad_sources *src, const struct titad_engine_status *es,
		       struct sbuf *b)
{
	const struct titad_qp_series *ser;
	const struct tita_rdma_dev *devs;
	struct tita_qpscan_stats st;
	size_t n_devs = 0, n_ser = 0, emitted = 0;

	/* Counted by the discovery's worker, not on the loop. */
	ser = titad_discovery_series(src->discovery, &n_ser);
	devs = titad_discovery_devices(src->discovery, &n_devs);
	titad_discovery_stats(src->discovery, &st);

	family(b, "tita_qp_discovery_info", "gauge",
	       "QP discovery's state (off, ok, no_rdma_netlink, no_devices, failed).");
	sb_printf(b, "tita_qp_discovery_info{state=\"%s\"} 1\n",
		  titad_discovery_state(src->discovery));
	family(b, "tita_qps", "gauge",
	       "QPs the last discovery scan found, by RDMA device, job of the owner (empty: "
	       "kernel QP or no job), type and state.");
	for (size_t i = 0; i < n_ser;) {
		const struct titad_qp_series *s = &ser[i];
		char dev[sizeof(devs[0].name)] = "";
		uint32_t other = 0;
		size_t k = i;

		/* Device names can be renamed to anything: keep the label
		 * value plain. */
		if (s->dev < n_devs)
			snprintf(dev, sizeof(dev), "%s", devs[s->dev].name);
		for (char *p = dev; *p; p++)
			if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\')
				*p = '_';

		/* One (device, type, state) at a time: past the bound, its
		 * remaining jobs become one series. */
		for (; k < n_ser && ser[k].dev == s->dev && ser[k].type == s->type &&
		       ser[k].state == s->state;
		     k++) {
			if (emitted >= QP_SERIES_MAX) {
				other += ser[k].count;
				continue;
			}
			sb_printf(
				b,
				"tita_qps{device=\"%s\",tita_job=\"%s\",type=\"%s\",state=\"%s\"} %u\n",
				dev, ser[k].job, tita_rdma_qp_type_name(ser[k].type),
				tita_rdma_qp_state_name(ser[k].state), ser[k].count);
			emitted++;
		}
		if (other)
			sb_printf(
				b,
				"tita_qps{device=\"%s\",tita_job=\"(other)\",type=\"%s\",state=\"%s\"} "
				"%u\n",
				dev, tita_rdma_qp_type_name(s->type),
				tita_rdma_qp_state_name(s->state), other);
		i = k;
	}
	family(b, "tita_qp_scan_cut_qps", "gauge",
	       "QPs the last discovery scan found beyond titad's bound, not listed.");
	sb_printf(b, "tita_qp_scan_cut_qps %u\n", st.qps_cut);
	family(b, "tita_qp_scans_total", "counter", "QP discovery scans run.");
	sb_printf(b, "tita_qp_scans_total %llu\n",
		  (unsigned long long)titad_discovery_scans(src->discovery));
	family(b, "tita_qp_scan_errors_total", "counter",
	       "QP discovery errors by reason: devices and qps (a netlink dump failed), "
	       "malformed (QP entries skipped), proc (a process's stat or cgroup unreadable), "
	       "job_table_full and job_id_collision (a job found on QPs could not be added; "
	       "counted at every scan).");
	for (int e = 0; e < TITA_QPSCAN_E_COUNT; e++)
		sb_printf(b, "tita_qp_scan_errors_total{reason=\"%s\"} %llu\n",
			  tita_qpscan_error_name((enum tita_qpscan_error)e),
			  (unsigned long long)st.errors[e]);
	sb_printf(b, "tita_qp_scan_errors_total{reason=\"job_table_full\"} %llu\n",
		  (unsigned long long)es->jobs_full);
	sb_printf(b, "tita_qp_scan_errors_total{reason=\"job_id_collision\"} %llu\n",
		  (unsigned long long)es->jobs_collided);
}

static char *render_all(const struct titad_sources *src, const struct titad_http *http,
			uint64_t now_ns, size_t *ret_len);

/*
 * The process families every Prometheus client library exports (the Go
 * and Python clients' names and units), from procfs: what titad itself
 * costs, and when it restarted. A value procfs does not give is left out.
 */
static void render_process(struct sbuf *b)
{
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long long utime, stime, start_ticks, vsize_pages, rss_pages, btime = 0;
	struct rlimit rl;
	char buf[1024], *p;
	size_t fds = 0;
	FILE *f;
	DIR *d;
	int ok;

	f = fopen("/proc/self/stat", "re");
	/* The command name may hold spaces and parentheses: skip past its last ')'. */
	ok = f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
	     sscanf(p + 2,
		    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
		    "%*d %llu",
		    &utime, &stime, &start_ticks) == 3;
	if (f)
		fclose(f);
	if (ok && ticks > 0) {
		family(b, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		sb_printf(b, "process_cpu_seconds_total %.2f\n",
			  (double)(utime + stime) / (double)ticks);
		f = fopen("/proc/stat", "re");
		while (f && fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "btime %llu", &btime) == 1)
				break;
		if (f)
			fclose(f);
		if (btime) {
			family(b, "process_start_time_seconds", "gauge",
			       "Start time of the process since unix epoch in seconds.");
			sb_printf(b, "process_start_time_seconds %.2f\n",
				  (double)btime + (double)start_ticks / (double)ticks);
		}
	}
	f = fopen("/proc/self/statm", "re");
	ok = f && fscanf(f, "%llu %llu", &vsize_pages, &rss_pages) == 2;
	if (f)
		fclose(f);
	if (ok && page > 0) {
		family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		sb_printf(b, "process_virtual_memory_bytes %llu\n",
			  vsize_pages * (unsigned long long)page);
		family(b, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes.");
		sb_printf(b, "process_resident_memory_bytes %llu\n",
			  rss_pages * (unsigned long long)page);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;

		while ((e = readdir(d)))
			fds += e->d_name[0] != '.';
		closedir(d);
		family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		/* Less the one opendir itself held. */
		sb_printf(b, "process_open_fds %zu\n", fds ? fds - 1 : 0);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
		family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		sb_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}

char *titad_metrics_render(const struct titad_sources *src, uint64_t now_ns, size_t *ret_len)
{
	return render_all(src, NULL, now_ns, ret_len);
}

/* The endpoint's own clients, for the scrape that sees them. */
static void render_http(const struct titad_http *http, struct sbuf *b)
{
	struct titad_http_stats hs;

	titad_http_stats(http, &hs);
	family(b, "tita_metrics_clients", "gauge", "Connections to the metrics endpoint.");
	sb_printf(b, "tita_metrics_clients %u\n", hs.clients);
	family(b, "tita_metrics_connections_closed_total", "counter",
	       "Metrics connections closed early: evicted (a new client took the place of one "
	       "whose request had not arrived), timeout (request or response too slow), "
	       "refused (every connection was busy answering).");
	sb_printf(b, "tita_metrics_connections_closed_total{reason=\"evicted\"} %llu\n",
		  (unsigned long long)hs.evicted);
	sb_printf(b, "tita_metrics_connections_closed_total{reason=\"timeout\"} %llu\n",
		  (unsigned long long)hs.timed_out);
	sb_printf(b, "tita_metrics_connections_closed_total{reason=\"refused\"} %llu\n",
		  (unsigned long long)hs.refused);
}

/* lib/health's labels: a port by its interface, a peer by its address, a
 * job by its name. */
static const char *health_port_name(void *ctx, const struct tita_addr *local, char *buf,
				    size_t size)
{
	const struct titad_sources *src = ctx;
	int i = titad_ports_find(src->ports, local);

	if (i >= 0)
		snprintf(buf, size, "%s", titad_ports_get(src->ports, (uint32_t)i)->ifname);
	else
		tita_format_addr(local, buf, size);
	return buf;
}

static const char *health_peer_name(void *ctx, const struct tita_addr *remote, char *buf,
				    size_t size)
{
	(void)ctx;
	return tita_format_addr(remote, buf, size);
}

static const char *health_job_name(void *ctx, uint32_t job_id, char *buf, size_t size)
{
	const struct titad_sources *src = ctx;

	return titad_engine_job_name(src->engine, job_id, buf, size);
}

/* The health evidence of the last interval (none before the first ends):
 * the schema of issue 14, as the simulator writes it, without instance
 * (Prometheus adds it). */
static void render_health(const struct titad_sources *src, struct sbuf *b)
{
	const struct tita_health_snapshot *snap = src->health ? titad_health_snapshot(src->health) :
								NULL;
	struct tita_health_namer namer = { (void *)src, health_port_name, health_peer_name,
					   health_job_name };
	struct tita_health_source hs = { .snap = snap, .namer = &namer };
	size_t need;

	if (!snap || b->failed)
		return;
	need = tita_health_format(&hs, 1, NULL, 0);
	if (need == (size_t)-1)
		return;
	/* Room for the text and its NUL, then the length is the text's. */
	sb_printf(b, "%*s", (int)need, "");
	if (b->failed)
		return;
	tita_health_format(&hs, 1, b->p + b->len - need, need + 1);
}

static char *render_all(const struct titad_sources *src, const struct titad_http *http,
			uint64_t now_ns, size_t *ret_len)
{
	struct sbuf b = { 0 };
	struct titad_engine_status es;
	struct titad_peer_totals pt;
	struct titad_hist grant_hist;
	const struct tita_ctl_stats *st = &es.ctl;
	const struct tita_pacer_stats *ps = &es.pacer_stats;

	titad_engine_status(src->engine, &es);
	titad_peers_totals(src->peers, &pt);
	titad_peers_grant_hist(src->peers, &grant_hist);

	family(&b, "tita_build_info", "gauge", "Version and pacing back end of this titad.");
	sb_printf(&b, "tita_build_info{version=\"%s\",pacer=\"%s\"} 1\n", TITA_VERSION, es.pacer);
	family(&b, "tita_uptime_seconds", "gauge", "Seconds since the daemon started.");
	sb_printf(&b, "tita_uptime_seconds %.3f\n", (double)(now_ns - src->start_ns) / 1e9);
	family(&b, "tita_peers", "gauge", "Peers in the peer table.");
	sb_printf(&b, "tita_peers %zu\n", titad_peers_count(src->peers));
	family(&b, "tita_pairs", "gauge", "Pairs the controller holds.");
	sb_printf(&b, "tita_pairs %zu\n", es.n_pairs);

	family(&b, "tita_peer_datagrams_received_total", "counter",
	       "Peer datagrams accepted (authenticated and valid).");
	sb_printf(&b, "tita_peer_datagrams_received_total %llu\n",
		  (unsigned long long)pt.dgrams_in);
	family(&b, "tita_peer_datagrams_sent_total", "counter", "Peer datagrams sent.");
	sb_printf(&b, "tita_peer_datagrams_sent_total %llu\n", (unsigned long long)pt.dgrams_out);
	family(&b, "tita_peer_send_errors_total", "counter",
	       "Peer datagrams the kernel refused to send.");
	sb_printf(&b, "tita_peer_send_errors_total %llu\n", (unsigned long long)pt.send_errors);
	family(&b, "tita_peer_datagrams_dropped_total", "counter",
	       "Peer datagrams dropped, by reason.");
	for (int e = 1; e < TITA_WIRE_E_COUNT; e++)
		sb_printf(&b, "tita_peer_datagrams_dropped_total{reason=\"%s\"} %llu\n",
			  tita_wire_error_name((enum tita_wire_error)e),
			  (unsigned long long)pt.drops_by_reason[e]);
	family(&b, "tita_peer_untracked_drops_total", "counter",
	       "Dropped datagrams from sources the bounded peer table had no room for.");
	sb_printf(&b, "tita_peer_untracked_drops_total %llu\n",
		  (unsigned long long)pt.untracked_drops);
	family(&b, "tita_peer_datagrams_no_slot_total", "counter",
	       "Authenticated datagrams not acted on: the peer table was full of peers their "
	       "traffic confirmed.");
	sb_printf(&b, "tita_peer_datagrams_no_slot_total %llu\n", (unsigned long long)pt.no_slot);
	{
		struct titad_control_stats cs;

		titad_control_stats(src->control, &cs);
		family(&b, "tita_control_clients", "gauge", "titactl clients connected.");
		sb_printf(&b, "tita_control_clients %u\n", cs.clients);
		family(&b, "tita_control_clients_closed_total", "counter",
		       "titactl connections refused (over control-clients or "
		       "control-clients-per-uid) or closed after control-idle-timeout.");
		sb_printf(&b, "tita_control_clients_closed_total{reason=\"refused\"} %llu\n",
			  (unsigned long long)cs.refused);
		sb_printf(&b, "tita_control_clients_closed_total{reason=\"idle\"} %llu\n",
			  (unsigned long long)cs.idle_closed);
	}
	family(&b, "tita_log_lines_suppressed_total", "counter",
	       "Log lines the global log rate limit held back.");
	sb_printf(&b, "tita_log_lines_suppressed_total %llu\n",
		  (unsigned long long)tita_log_suppressed_total());

	family(&b, "tita_controller_rounds_total", "counter", "Control rounds run.");
	sb_printf(&b, "tita_controller_rounds_total %llu\n", (unsigned long long)st->rounds);
	family(&b, "tita_controller_messages_total", "counter",
	       "Controller messages, by direction.");
	sb_printf(&b, "tita_controller_messages_total{direction=\"in\"} %llu\n",
		  (unsigned long long)st->msgs_in);
	sb_printf(&b, "tita_controller_messages_total{direction=\"out\"} %llu\n",
		  (unsigned long long)st->msgs_out);
	family(&b, "tita_controller_entries_skipped_total", "counter",
	       "Message entries the controller skipped, by reason.");
	sb_printf(&b, "tita_controller_entries_skipped_total{reason=\"not_local\"} %llu\n",
		  (unsigned long long)st->entries_skipped_not_local);
	sb_printf(&b, "tita_controller_entries_skipped_total{reason=\"mismatch\"} %llu\n",
		  (unsigned long long)st->entries_skipped_mismatch);
	sb_printf(&b, "tita_controller_entries_skipped_total{reason=\"no_space\"} %llu\n",
		  (unsigned long long)st->entries_skipped_no_space);
	family(&b, "tita_controller_expired_total", "counter", "Grants and demands that lapsed.");
	sb_printf(&b, "tita_controller_expired_total{kind=\"grant\"} %llu\n",
		  (unsigned long long)st->grants_expired);
	sb_printf(&b, "tita_controller_expired_total{kind=\"demand\"} %llu\n",
		  (unsigned long long)st->demands_expired);
	family(&b, "tita_controller_rate_updates_total", "counter",
	       "Rate changes the controller emitted, and those it held back as churn.");
	sb_printf(&b, "tita_controller_rate_updates_total{result=\"emitted\"} %llu\n",
		  (unsigned long long)st->rate_updates);
	sb_printf(&b, "tita_controller_rate_updates_total{result=\"suppressed\"} %llu\n",
		  (unsigned long long)st->rate_updates_suppressed);
	family(&b, "tita_controller_pairs_evicted_total", "counter",
	       "Pairs evicted from the full pair table.");
	sb_printf(&b, "tita_controller_pairs_evicted_total %llu\n",
		  (unsigned long long)st->pairs_evicted);

	family(&b, "tita_pacer_operations_total", "counter",
	       "Pacer operations, by operation and result.");
	sb_printf(&b, "tita_pacer_operations_total{op=\"set\",result=\"ok\"} %llu\n",
		  (unsigned long long)ps->set_ok);
	sb_printf(&b, "tita_pacer_operations_total{op=\"set\",result=\"error\"} %llu\n",
		  (unsigned long long)ps->set_failed);
	sb_printf(&b, "tita_pacer_operations_total{op=\"clear\",result=\"ok\"} %llu\n",
		  (unsigned long long)ps->clear_ok);
	sb_printf(&b, "tita_pacer_operations_total{op=\"clear\",result=\"error\"} %llu\n",
		  (unsigned long long)ps->clear_failed);
	family(&b, "tita_pacer_unscheduled_total", "counter",
	       "Rate updates that carried a message's unscheduled first bytes: given to the "
	       "back end, or programmed as the rate alone (the back end cannot let bytes go "
	       "unpaced first).");
	sb_printf(&b, "tita_pacer_unscheduled_total{result=\"ok\"} %llu\n",
		  (unsigned long long)ps->unsched_ok);
	sb_printf(&b, "tita_pacer_unscheduled_total{result=\"unsupported\"} %llu\n",
		  (unsigned long long)ps->unsched_unsupported);
	family(&b, "tita_config_reloads_total", "counter", "Configuration reloads, by result.");
	sb_printf(&b, "tita_config_reloads_total{result=\"ok\"} %llu\n",
		  (unsigned long long)*src->reloads_ok);
	sb_printf(&b, "tita_config_reloads_total{result=\"rejected\"} %llu\n",
		  (unsigned long long)*src->reloads_failed);

	hist(&b, "tita_control_loop_duration_seconds",
	     "Time one control-loop pass takes: telemetry, controller, pacer and peer I/O.",
	     &es.loop_hist);
	hist(&b, "tita_demand_to_grant_seconds",
	     "From a new pair's demand arriving to its first grant leaving.", &grant_hist);

	render_process(&b);
	render_ports(src, &es, &b);
	render_pairs(src, &b);
	render_qps(src, &es, &b);
	render_fabric(src, &es, &b);
	render_health(src, &b);
	render_http(http, &b);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*ret_len = b.len;
	return b.p;
}

static char *render(void *ctx, uint64_t now_ns, size_t *ret_len)
{
	const struct titad_metrics *m = ctx;

	return render_all(&m->src_, m->http, now_ns, ret_len);
}

int titad_metrics_open(struct titad_metrics **ret, struct tita_event *ev, const char *listen,
		       const struct titad_sources *src, char *err, size_t err_size)
{
	struct titad_metrics *m;

	*ret = NULL;
	if (!listen[0])
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*ret = m;
	m->src_ = *src;
	return titad_http_open(&m->http, ev, listen, "/metrics",
			       "text/plain; version=0.0.4; charset=utf-8", render, m, err,
			       err_size);
}

struct titad_metrics *titad_metrics_close(struct titad_metrics *m)
{
	if (!m)
		return NULL;
	titad_http_close(m->http);
	free(m);
	return NULL;
}

void titad_metrics_http_stats(const struct titad_metrics *m, struct titad_http_stats *ret)
{
	titad_http_stats(m ? m->http : NULL, ret);
}
