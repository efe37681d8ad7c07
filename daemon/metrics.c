// SPDX-License-Identifier: MIT
/*
 * The Prometheus endpoint: libmicrohttpd driven from titad's own event loop
 * (MHD_USE_EPOLL without an internal thread: its epoll descriptor sits in
 * ours, and a timer serves its connection timeouts), so a scrape renders
 * straight from the controller's snapshots with no locking.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/): base units
 * (bytes per second, seconds), counters end in _total, one HELP and TYPE
 * per family. The tests run `promtool check metrics` on a real scrape.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "tita-config.h"
#include "pacer_nic.h"
#include "tita_bpf.h"
#include "titad.h"
#include "units.h"

struct titad_metrics {
	struct titad *d;
	struct MHD_Daemon *mhd;
	struct tita_event_source *src;
	uint64_t scrapes;
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
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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

static void render_pairs(struct titad *d, struct sbuf *b)
{
	size_t n = tita_ctl_n_pairs(d->ctl);
	struct tita_pair_info *info = calloc(n ? n : 1, sizeof(*info));
	static const struct {
		const char *name, *help;
		int field;
	} fams[] = {
		{ "tita_pair_demand_bytes_per_second",
		  "Demand of a pair (tx: estimated; rx: reported by the sender).", 0 },
		{ "tita_pair_granted_bytes_per_second",
		  "Rate granted to a pair (tx: received; rx: handed out).", 1 },
		{ "tita_pair_programmed_bytes_per_second",
		  "Rate programmed into the pacer for a tx pair (absent when unpaced).", 2 },
		{ "tita_pair_measured_bytes_per_second",
		  "Rate a pair carried over the last control interval.", 3 },
	};

	if (!info) {
		b->failed = true;
		return;
	}
	n = tita_ctl_pairs(d->ctl, info, n);
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		family(b, fams[f].name, "gauge", fams[f].help);
		for (size_t i = 0; i < n; i++) {
			const struct tita_pair_info *p = &info[i];
			char l[TITA_ADDR_STRLEN], r[TITA_ADDR_STRLEN], job[TITA_JOB_NAME_MAX + 1];
			uint64_t v;

			switch (fams[f].field) {
			case 0:
				v = p->demand_bps;
				break;
			case 1:
				v = p->grant_bps;
				break;
			case 2:
				if (p->role != TITA_PAIR_TX || p->rate_bps == TITA_RATE_UNPACED)
					continue;
				v = p->rate_bps;
				break;
			default:
				v = p->measured_bps;
			}
			sb_printf(b, "%s{local=\"%s\",remote=\"%s\",job=\"%s\",role=\"%s\"} %.0f\n",
				  fams[f].name, tita_format_addr(&p->local, l, sizeof(l)),
				  tita_format_addr(&p->remote, r, sizeof(r)),
				  titad_job_name(d, p->job_id, job, sizeof(job)),
				  role_name(p->role), bytes_per_sec(v));
		}
	}
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
};

static void render_ports(struct titad *d, struct sbuf *b)
{
	struct tita_port_info info[TITAD_MAX_PORTS];
	size_t n = tita_ctl_ports(d->ctl, info, TITAD_MAX_PORTS);
	static const char *const reason_names[TITA_REASON_MAX] = {
		"roce",		  "not_ip",	 "not_udp",    "not_roce_port",	 "trunc_eth",
		"trunc_vlan",	  "trunc_ipv4",	 "trunc_ipv6", "trunc_ipv6_ext", "trunc_udp",
		"trunc_bth",	  "ip_fragment", "bad_opcode", "bad_ip",	 "vlan_depth",
		"ipv6_ext_depth", "table_full",	 "nonlinear",
	};

	if (n > TITAD_MAX_PORTS)
		n = TITAD_MAX_PORTS;
	family(b, "tita_port_line_rate_bytes_per_second", "gauge", "Line rate of a port.");
	for (size_t i = 0; i < n; i++) {
		char a[TITA_ADDR_STRLEN];

		sb_printf(b, "tita_port_line_rate_bytes_per_second{port=\"%s\"} %.0f\n",
			  tita_format_addr(&info[i].local, a, sizeof(a)),
			  bytes_per_sec(info[i].line_rate_bps));
	}
	family(b, "tita_port_capacity_bytes_per_second", "gauge",
	       "What a port's receiver hands out: eta times line rate minus unmanaged traffic.");
	for (size_t i = 0; i < n; i++) {
		char a[TITA_ADDR_STRLEN];

		sb_printf(b, "tita_port_capacity_bytes_per_second{port=\"%s\"} %.0f\n",
			  tita_format_addr(&info[i].local, a, sizeof(a)),
			  bytes_per_sec(info[i].capacity_bps));
	}
	family(b, "tita_port_granted_bytes_per_second", "gauge", "Sum of a port's live grants.");
	for (size_t i = 0; i < n; i++) {
		char a[TITA_ADDR_STRLEN];

		sb_printf(b, "tita_port_granted_bytes_per_second{port=\"%s\"} %.0f\n",
			  tita_format_addr(&info[i].local, a, sizeof(a)),
			  bytes_per_sec(info[i].granted_bps));
	}
	family(b, "tita_port_eta_ratio", "gauge", "Effective target utilization of a port.");
	for (size_t i = 0; i < n; i++) {
		char a[TITA_ADDR_STRLEN];

		sb_printf(b, "tita_port_eta_ratio{port=\"%s\"} %g\n",
			  tita_format_addr(&info[i].local, a, sizeof(a)), info[i].eta);
	}

	/* Datapath counters, from the BPF maps (totals survive restarts). */
	for (size_t k = 0; k < sizeof(rx_port_counters) / sizeof(rx_port_counters[0]); k++) {
		const struct rx_port_counter *c = &rx_port_counters[k];

		family(b, c->name, "counter", c->help);
		for (uint32_t i = 0; i < d->n_ports; i++) {
			const struct tita_bpf_snapshot *s = d->ports[i].snap;
			uint64_t v = 0;

			for (size_t j = 0; s && j < s->n_rx_peers; j++)
				v += *(const uint64_t *)((const char *)&s->rx_peers[j].total +
							 c->offset);
			sb_printf(b, "%s{port=\"%s\"} %llu\n", c->name, d->ports[i].ifname,
				  (unsigned long long)v);
		}
	}
	family(b, "tita_port_transmitted_bytes_total", "counter",
	       "Bytes sent from a port (tc egress, all IP traffic).");
	for (uint32_t i = 0; i < d->n_ports; i++) {
		const struct tita_bpf_snapshot *s = d->ports[i].snap;
		uint64_t v = 0;

		for (size_t j = 0; s && j < s->n_tx_peers; j++)
			v += s->tx_peers[j].total.bytes;
		sb_printf(b, "tita_port_transmitted_bytes_total{port=\"%s\"} %llu\n",
			  d->ports[i].ifname, (unsigned long long)v);
	}
	family(b, "tita_datapath_packets_total", "counter",
	       "Frames the datapath parsed, by direction and outcome (roce is accounted).");
	for (uint32_t i = 0; i < d->n_ports; i++) {
		const struct tita_bpf_snapshot *s = d->ports[i].snap;

		if (!s)
			continue;
		for (int r = 0; r < TITA_REASON_MAX; r++) {
			sb_printf(
				b,
				"tita_datapath_packets_total{port=\"%s\",direction=\"rx\",reason=\"%s\"} %llu\n",
				d->ports[i].ifname, reason_names[r],
				(unsigned long long)s->rx_reasons_total.packets[r]);
			sb_printf(
				b,
				"tita_datapath_packets_total{port=\"%s\",direction=\"tx\",reason=\"%s\"} %llu\n",
				d->ports[i].ifname, reason_names[r],
				(unsigned long long)s->tx_reasons_total.packets[r]);
		}
	}
	family(b, "tita_telemetry_read_errors_total", "counter",
	       "Failed reads of a port's BPF maps.");
	for (uint32_t i = 0; i < d->n_ports; i++)
		sb_printf(b, "tita_telemetry_read_errors_total{port=\"%s\"} %llu\n",
			  d->ports[i].ifname, (unsigned long long)d->ports[i].read_errors);

	/* The RDMA device's own counters: what hardware RoCE, which the
	 * datapath never sees, tells about congestion. Counted from titad's
	 * start; a counter the NIC lacks has no series. */
	family(b, "tita_nic_rdma_device_info", "gauge",
	       "The RDMA device and port behind a port (absent: none found).");
	for (uint32_t i = 0; i < d->n_ports; i++)
		if (d->ports[i].nic && d->ports[i].nic_ok)
			sb_printf(
				b,
				"tita_nic_rdma_device_info{port=\"%s\",device=\"%s\",device_port=\"%u\"} 1\n",
				d->ports[i].ifname, tita_nic_reader_ibdev(d->ports[i].nic),
				tita_nic_reader_port(d->ports[i].nic));
	family(b, "tita_nic_hw_counter_total", "counter",
	       "NIC hw_counters (np_ecn_marked_roce_packets, np_cnp_sent, rp_cnp_handled, "
	       "out_of_sequence, packet_seq_err, roce_adp_retrans, ...), since titad started.");
	for (uint32_t i = 0; i < d->n_ports; i++) {
		const struct titad_port *p = &d->ports[i];

		if (!p->nic || !p->nic_ok)
			continue;
		for (int c = 0; c < TITA_NIC_COUNTER_COUNT; c++)
			if (p->nic_sample.present & (1u << c))
				sb_printf(
					b,
					"tita_nic_hw_counter_total{port=\"%s\",counter=\"%s\"} %llu\n",
					p->ifname, tita_nic_counter_name(c),
					(unsigned long long)p->nic_sample.total[c]);
	}
	if (d->cfg.pacer == TITAD_PACER_QP && d->pacer) {
		struct tita_pacer_qp_stats qs;

		tita_pacer_qp_stats(d->pacer, &qs);
		family(b, "tita_agents", "gauge", "QP agents connected.");
		sb_printf(b, "tita_agents %u\n", qs.agents);
		family(b, "tita_agent_qps", "gauge", "QPs the agents registered, and those paced.");
		sb_printf(b, "tita_agent_qps{state=\"registered\"} %u\n", qs.qps);
		sb_printf(b, "tita_agent_qps{state=\"paced\"} %u\n", qs.qps_paced);
		family(b, "tita_agent_commands_total", "counter",
		       "Rate commands sent to agents, and those that failed.");
		sb_printf(b, "tita_agent_commands_total{result=\"sent\"} %llu\n",
			  (unsigned long long)qs.commands_sent);
		sb_printf(b, "tita_agent_commands_total{result=\"error\"} %llu\n",
			  (unsigned long long)qs.command_errors);
		family(b, "tita_agent_protocol_errors_total", "counter",
		       "Malformed or out-of-order agent messages.");
		sb_printf(b, "tita_agent_protocol_errors_total %llu\n",
			  (unsigned long long)qs.protocol_errors);
	}
}

/* One series of tita_qps: a (device, job, type, state) and its QP count. */
struct qp_series {
	uint32_t dev;
	uint8_t type, state;
	const char *job;
	uint32_t count;
};

static int series_cmp(const void *va, const void *vb)
{
	const struct qp_series *a = va, *b = vb;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	return strcmp(a->job, b->job);
}

/* Series of tita_qps beyond which jobs are summed into job="(other)" (no
 * job name has parentheses): the device, type and state label sets are
 * small by nature, jobs are not. */
#define QP_SERIES_MAX 512

static void render_qps(struct titad *d, struct sbuf *b)
{
	const struct tita_qpscan_qp *qps = NULL;
	const struct tita_rdma_dev *devs = NULL;
	struct tita_qpscan_stats st = { 0 };
	struct qp_series *ser;
	size_t n = 0, n_devs = 0, n_ser = 0, emitted = 0;

	if (d->qpscan) {
		qps = tita_qpscan_qps(d->qpscan, &n);
		devs = tita_qpscan_devices(d->qpscan, &n_devs);
		tita_qpscan_stats(d->qpscan, &st);
	}
	ser = calloc(n ? n : 1, sizeof(*ser));
	if (!ser) {
		b->failed = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		ser[i] = (struct qp_series){ qps[i].dev, qps[i].type, qps[i].state, qps[i].job, 1 };
	qsort(ser, n, sizeof(*ser), series_cmp);
	for (size_t i = 0; i < n; i++) {
		if (n_ser && !series_cmp(&ser[n_ser - 1], &ser[i]))
			ser[n_ser - 1].count++;
		else
			ser[n_ser++] = ser[i];
	}

	family(b, "tita_qp_discovery_info", "gauge",
	       "QP discovery's state (off, ok, no_rdma_netlink, no_devices, failed).");
	sb_printf(b, "tita_qp_discovery_info{state=\"%s\"} 1\n", titad_qpscan_state(d));
	family(b, "tita_qps", "gauge",
	       "QPs the last discovery scan found, by RDMA device, job of the owner (empty: "
	       "kernel QP or no job), type and state.");
	for (size_t i = 0; i < n_ser;) {
		const struct qp_series *s = &ser[i];
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
				"tita_qps{device=\"%s\",job=\"%s\",type=\"%s\",state=\"%s\"} %u\n",
				dev, ser[k].job, tita_rdma_qp_type_name(ser[k].type),
				tita_rdma_qp_state_name(ser[k].state), ser[k].count);
			emitted++;
		}
		if (other)
			sb_printf(
				b,
				"tita_qps{device=\"%s\",job=\"(other)\",type=\"%s\",state=\"%s\"} "
				"%u\n",
				dev, tita_rdma_qp_type_name(s->type),
				tita_rdma_qp_state_name(s->state), other);
		i = k;
	}
	free(ser);
	family(b, "tita_qp_scan_cut_qps", "gauge",
	       "QPs the last discovery scan found beyond titad's bound, not listed.");
	sb_printf(b, "tita_qp_scan_cut_qps %u\n", st.qps_cut);
	family(b, "tita_qp_scans_total", "counter", "QP discovery scans run.");
	sb_printf(b, "tita_qp_scans_total %llu\n", (unsigned long long)d->qpscan_scans);
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
		  (unsigned long long)d->qpscan_jobs_full);
	sb_printf(b, "tita_qp_scan_errors_total{reason=\"job_id_collision\"} %llu\n",
		  (unsigned long long)d->qpscan_jobs_collided);
}

char *titad_metrics_render(struct titad *d, size_t *ret_len)
{
	struct sbuf b = { 0 };
	struct tita_ctl_stats st;
	struct titad_peer_totals pt;
	const struct tita_pacer_stats *ps = &d->pacer->stats;

	tita_ctl_stats(d->ctl, &st);
	titad_peers_totals(d, &pt);

	family(&b, "tita_build_info", "gauge", "Version and pacing back end of this titad.");
	sb_printf(&b, "tita_build_info{version=\"%s\",pacer=\"%s\"} 1\n", TITA_VERSION,
		  d->pacer->ops->name);
	family(&b, "tita_uptime_seconds", "gauge", "Seconds since the daemon started.");
	sb_printf(&b, "tita_uptime_seconds %.3f\n",
		  (double)(tita_clock_mono_ns() - d->start_ns) / 1e9);
	family(&b, "tita_peers", "gauge", "Peers in the peer table.");
	sb_printf(&b, "tita_peers %zu\n", titad_peers_count(d));
	family(&b, "tita_pairs", "gauge", "Pairs the controller holds.");
	sb_printf(&b, "tita_pairs %zu\n", tita_ctl_n_pairs(d->ctl));

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

	family(&b, "tita_controller_rounds_total", "counter", "Control rounds run.");
	sb_printf(&b, "tita_controller_rounds_total %llu\n", (unsigned long long)st.rounds);
	family(&b, "tita_controller_messages_total", "counter",
	       "Controller messages, by direction.");
	sb_printf(&b, "tita_controller_messages_total{direction=\"in\"} %llu\n",
		  (unsigned long long)st.msgs_in);
	sb_printf(&b, "tita_controller_messages_total{direction=\"out\"} %llu\n",
		  (unsigned long long)st.msgs_out);
	family(&b, "tita_controller_entries_skipped_total", "counter",
	       "Message entries the controller skipped, by reason.");
	sb_printf(&b, "tita_controller_entries_skipped_total{reason=\"not_local\"} %llu\n",
		  (unsigned long long)st.entries_skipped_not_local);
	sb_printf(&b, "tita_controller_entries_skipped_total{reason=\"mismatch\"} %llu\n",
		  (unsigned long long)st.entries_skipped_mismatch);
	sb_printf(&b, "tita_controller_entries_skipped_total{reason=\"no_space\"} %llu\n",
		  (unsigned long long)st.entries_skipped_no_space);
	family(&b, "tita_controller_expired_total", "counter", "Grants and demands that lapsed.");
	sb_printf(&b, "tita_controller_expired_total{kind=\"grant\"} %llu\n",
		  (unsigned long long)st.grants_expired);
	sb_printf(&b, "tita_controller_expired_total{kind=\"demand\"} %llu\n",
		  (unsigned long long)st.demands_expired);
	family(&b, "tita_controller_rate_updates_total", "counter",
	       "Rate changes the controller emitted, and those it held back as churn.");
	sb_printf(&b, "tita_controller_rate_updates_total{result=\"emitted\"} %llu\n",
		  (unsigned long long)st.rate_updates);
	sb_printf(&b, "tita_controller_rate_updates_total{result=\"suppressed\"} %llu\n",
		  (unsigned long long)st.rate_updates_suppressed);
	family(&b, "tita_controller_pairs_evicted_total", "counter",
	       "Pairs evicted from the full pair table.");
	sb_printf(&b, "tita_controller_pairs_evicted_total %llu\n",
		  (unsigned long long)st.pairs_evicted);

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
		  (unsigned long long)d->reloads_ok);
	sb_printf(&b, "tita_config_reloads_total{result=\"rejected\"} %llu\n",
		  (unsigned long long)d->reloads_failed);

	hist(&b, "tita_control_loop_duration_seconds",
	     "Time one control-loop pass takes: telemetry, controller, pacer and peer I/O.",
	     &d->loop_hist);
	hist(&b, "tita_demand_to_grant_seconds",
	     "From a new pair's demand arriving to its first grant leaving.", &d->grant_hist);

	render_ports(d, &b);
	render_pairs(d, &b);
	render_qps(d, &b);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*ret_len = b.len;
	return b.p;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct titad_metrics *m = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status = MHD_HTTP_OK;
	char *body;
	size_t len = 0;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		static const char msg[] = "only GET\n";

		resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
						       MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics")) {
		static const char msg[] = "titad serves /metrics\n";

		resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
						       MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_FOUND;
	} else {
		body = titad_metrics_render(m->d, &len);
		if (!body)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(body);
		m->scrapes++;
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
				status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8" :
							"text/plain");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void rearm(struct titad_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG timeout_ms;

	if (MHD_get_timeout(m->mhd, &timeout_ms) == MHD_YES)
		tita_event_timer_set(m->d->ev, m->d->t_metrics,
				     tita_clock_mono_ns() + timeout_ms * TITA_NSEC_PER_MSEC);
	else
		tita_event_timer_set(m->d->ev, m->d->t_metrics, TITA_TIME_NEVER);
}

static void on_mhd(void *data, int fd, uint32_t events)
{
	struct titad_metrics *m = data;

	(void)fd;
	(void)events;
	MHD_run(m->mhd);
	rearm(m);
}

static void on_mhd_timer(void *data, uint64_t now_ns)
{
	struct titad *d = data;

	(void)now_ns;
	if (d->metrics) {
		MHD_run(d->metrics->mhd);
		rearm(d->metrics);
	}
}

static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (tita_parse_u64(colon + 1, &port) || port < 1 || port > 65535)
		return -EINVAL;
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sin->sin_addr) != 1)
			return -EINVAL;
	}
	return 0;
}

int titad_metrics_open(struct titad *d, char *err, size_t err_size)
{
	struct titad_metrics *m;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_EPOLL;
	uint16_t port;

	if (!d->cfg.metrics_listen[0])
		return 0;
	if (parse_listen(d->cfg.metrics_listen, &ss)) {
		snprintf(err, err_size, "metrics-listen %s: not host:port or [v6]:port",
			 d->cfg.metrics_listen);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->d = d;
	if (ss.ss_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	m->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!m->mhd) {
		int e = errno ? errno : EADDRINUSE;

		snprintf(err, err_size, "metrics endpoint %s: cannot listen: %s",
			 d->cfg.metrics_listen, strerror(e));
		free(m);
		return -e;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		snprintf(err, err_size, "metrics endpoint: no epoll descriptor");
		MHD_stop_daemon(m->mhd);
		free(m);
		return -EINVAL;
	}
	m->src = tita_event_fd_add(d->ev, info->epoll_fd, EPOLLIN, on_mhd, m);
	if (!m->src) {
		int e = errno;

		MHD_stop_daemon(m->mhd);
		free(m);
		snprintf(err, err_size, "metrics endpoint: %s", strerror(e));
		return -e;
	}
	d->t_metrics = tita_event_timer_new(d->ev, on_mhd_timer, d);
	d->metrics = m;
	return 0;
}

void titad_metrics_close(struct titad *d)
{
	struct titad_metrics *m = d->metrics;

	if (!m)
		return;
	tita_event_fd_del(d->ev, m->src);
	MHD_stop_daemon(m->mhd);
	free(m);
	d->metrics = NULL;
}
