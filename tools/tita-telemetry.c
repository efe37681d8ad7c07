// SPDX-License-Identifier: MIT
/*
 * tita-telemetry: put tita's datapath on a network device and watch what it
 * sees, without titad. Uses libtita_bpf exactly as the daemon does, so the
 * pins it leaves are the daemon's pins (and the daemon's are its).
 *
 *   tita-telemetry [-j] watch IFNAME [-i SECONDS] [-n COUNT]   (default verb)
 *   tita-telemetry attach IFNAME
 *   tita-telemetry detach IFNAME
 *
 * Common options: --pin-root DIR, --xdp-mode auto|native|generic|off,
 * --queue auto|on|off, --per-source.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tita/roce.h"
#include "tita_bpf.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *addr_str(const struct tita_addr *a, char *buf, size_t size)
{
	if (tita_addr_is_ipv4(a))
		return inet_ntop(AF_INET, &a->bytes[12], buf, (socklen_t)size);
	return inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)size);
}

static double per_sec(uint64_t v, uint64_t interval_ns)
{
	return interval_ns ? (double)v * 1e9 / (double)interval_ns : 0.0;
}

static void print_text(const struct tita_bpf_snapshot *s, const struct tita_bpf_info *info)
{
	char a[INET6_ADDRSTRLEN];

	printf("\n%s (ifindex %d): interval %.3f s\n", info->ifname, info->ifindex,
	       (double)s->interval_ns / 1e9);
	printf("%-40s %5s %10s %10s %7s %8s %10s\n", "RX from", "QPs", "pkt/s", "Mbit/s", "CE %",
	       "CNP/s", "total pkts");
	for (size_t i = 0; i < s->n_rx_peers; i++) {
		const struct tita_bpf_rx_peer *p = &s->rx_peers[i];

		printf("%-40s %5u %10.0f %10.2f %7.2f %8.0f %10llu\n",
		       addr_str(&p->remote, a, sizeof(a)), p->qps,
		       per_sec(p->delta.packets, s->interval_ns),
		       per_sec(p->delta.bytes * 8, s->interval_ns) / 1e6,
		       p->delta.packets ?
			       100.0 * (double)p->delta.ce_packets / (double)p->delta.packets :
			       0.0,
		       per_sec(p->delta.cnp_packets, s->interval_ns),
		       (unsigned long long)p->total.packets);
	}
	printf("%-40s %10s %10s %10s %7s %10s\n", "TX to", "pkt/s", "Mbit/s", "RoCE pkt/s", "CE %",
	       "classified");
	for (size_t i = 0; i < s->n_tx_peers; i++) {
		const struct tita_bpf_tx_peer *p = &s->tx_peers[i];

		printf("%-40s %10.0f %10.2f %10.0f %7.2f %10llu\n",
		       addr_str(&p->remote, a, sizeof(a)),
		       per_sec(p->delta.packets, s->interval_ns),
		       per_sec(p->delta.bytes * 8, s->interval_ns) / 1e6,
		       per_sec(p->delta.roce_packets, s->interval_ns),
		       p->delta.packets ?
			       100.0 * (double)p->delta.ce_packets / (double)p->delta.packets :
			       0.0,
		       (unsigned long long)p->total.classified_packets);
	}
	if (!s->queue_attached)
		printf("queue sampler off: %s\n", info->queue_off_reason);
	else if (s->queue_percpu_qdisc && s->n_queues == 0)
		printf("queue sampler: lockless qdisc (pfifo_fast), not sampled\n");
	for (size_t i = 0; i < s->n_queues; i++) {
		const struct tita_bpf_queue *q = &s->queues[i];

		printf("txq %-3u backlog %llu B/%llu pkts, high-water %llu B/%llu pkts, "
		       "delay avg %.1f us max %.1f us (%llu samples)\n",
		       q->txq, (unsigned long long)q->backlog_bytes,
		       (unsigned long long)q->backlog_packets, (unsigned long long)q->hwm_bytes,
		       (unsigned long long)q->hwm_packets, (double)q->delay_avg_ns / 1e3,
		       (double)q->delay_max_ns / 1e3, (unsigned long long)q->delay_samples);
	}
	for (int dir = 0; dir < 2; dir++) {
		const struct tita_bpf_reasons *d = dir ? &s->tx_reasons_delta :
							 &s->rx_reasons_delta;
		bool any = false;

		for (int i = 0; i < TITA_REASON_MAX; i++) {
			if (!d->packets[i])
				continue;
			printf("%s%s %s=%llu", any ? "," : "", any ? "" : (dir ? "tx" : "rx"),
			       tita_roce_reason_name((uint32_t)i),
			       (unsigned long long)d->packets[i]);
			any = true;
		}
		if (any)
			printf("\n");
	}
	fflush(stdout);
}

static void json_rx(const struct tita_bpf_rx_counts *c)
{
	printf("{\"packets\":%llu,\"bytes\":%llu,\"ce_packets\":%llu,\"ect0_packets\":%llu,"
	       "\"ect1_packets\":%llu,\"not_ect_packets\":%llu,\"cnp_packets\":%llu}",
	       (unsigned long long)c->packets, (unsigned long long)c->bytes,
	       (unsigned long long)c->ce_packets, (unsigned long long)c->ect0_packets,
	       (unsigned long long)c->ect1_packets, (unsigned long long)c->not_ect_packets,
	       (unsigned long long)c->cnp_packets);
}

static void json_tx(const struct tita_bpf_tx_counts *c)
{
	printf("{\"packets\":%llu,\"bytes\":%llu,\"roce_packets\":%llu,\"roce_bytes\":%llu,"
	       "\"ce_packets\":%llu,\"ect0_packets\":%llu,\"ect1_packets\":%llu,"
	       "\"not_ect_packets\":%llu,\"classified_packets\":%llu}",
	       (unsigned long long)c->packets, (unsigned long long)c->bytes,
	       (unsigned long long)c->roce_packets, (unsigned long long)c->roce_bytes,
	       (unsigned long long)c->ce_packets, (unsigned long long)c->ect0_packets,
	       (unsigned long long)c->ect1_packets, (unsigned long long)c->not_ect_packets,
	       (unsigned long long)c->classified_packets);
}

/* One JSON object per line and interval (addresses and names need no
 * escaping: inet_ntop output and fixed reason names). */
static void print_json(const struct tita_bpf_snapshot *s, const struct tita_bpf_info *info)
{
	char a[INET6_ADDRSTRLEN];

	printf("{\"ifname\":\"%s\",\"ifindex\":%d,\"interval_ns\":%llu,\"rx_peers\":[",
	       info->ifname, info->ifindex, (unsigned long long)s->interval_ns);
	for (size_t i = 0; i < s->n_rx_peers; i++) {
		const struct tita_bpf_rx_peer *p = &s->rx_peers[i];

		printf("%s{\"remote\":\"%s\",\"qps\":%u,\"total\":", i ? "," : "",
		       addr_str(&p->remote, a, sizeof(a)), p->qps);
		json_rx(&p->total);
		printf(",\"delta\":");
		json_rx(&p->delta);
		printf("}");
	}
	printf("],\"rx_qps\":[");
	for (size_t i = 0; i < s->n_rx_qps; i++) {
		const struct tita_bpf_rx_qp *q = &s->rx_qps[i];

		printf("%s{\"remote\":\"%s\",\"dst_qp\":%u,\"last_psn\":%u,\"last_opcode\":%u,"
		       "\"total\":",
		       i ? "," : "", addr_str(&q->remote, a, sizeof(a)), q->dst_qp, q->last_psn,
		       q->last_opcode);
		json_rx(&q->total);
		printf(",\"delta\":");
		json_rx(&q->delta);
		printf("}");
	}
	printf("],\"tx_peers\":[");
	for (size_t i = 0; i < s->n_tx_peers; i++) {
		const struct tita_bpf_tx_peer *p = &s->tx_peers[i];

		printf("%s{\"remote\":\"%s\",\"total\":", i ? "," : "",
		       addr_str(&p->remote, a, sizeof(a)));
		json_tx(&p->total);
		printf(",\"delta\":");
		json_tx(&p->delta);
		printf("}");
	}
	printf("],\"queues\":[");
	for (size_t i = 0; i < s->n_queues; i++) {
		const struct tita_bpf_queue *q = &s->queues[i];

		printf("%s{\"txq\":%u,\"backlog_bytes\":%llu,\"backlog_packets\":%llu,"
		       "\"hwm_bytes\":%llu,\"hwm_packets\":%llu,\"delay_avg_ns\":%llu,"
		       "\"delay_max_ns\":%llu,\"delay_samples\":%llu}",
		       i ? "," : "", q->txq, (unsigned long long)q->backlog_bytes,
		       (unsigned long long)q->backlog_packets, (unsigned long long)q->hwm_bytes,
		       (unsigned long long)q->hwm_packets, (unsigned long long)q->delay_avg_ns,
		       (unsigned long long)q->delay_max_ns, (unsigned long long)q->delay_samples);
	}
	printf("],\"queue_sampler\":%s", s->queue_attached ? "true" : "false");
	for (int dir = 0; dir < 2; dir++) {
		const struct tita_bpf_reasons *t = dir ? &s->tx_reasons_total :
							 &s->rx_reasons_total;

		printf(",\"%s_reasons\":{", dir ? "tx" : "rx");
		for (int i = 0; i < TITA_REASON_MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", tita_roce_reason_name((uint32_t)i),
			       (unsigned long long)t->packets[i]);
		printf("}");
	}
	printf("}\n");
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tita-telemetry [-j] [watch] IFNAME [-i SECONDS] [-n COUNT]\n"
		   "       tita-telemetry attach IFNAME\n"
		   "       tita-telemetry detach IFNAME\n"
		   "       tita-telemetry help\n"
		   "options:\n"
		   "  -j, --json           one JSON object per interval\n"
		   "  -i, --interval SEC   seconds between reads (default 1)\n"
		   "  -n, --count N        stop after N intervals (default: until interrupted)\n"
		   "      --pin-root DIR   default " TITA_BPF_PIN_ROOT_DEFAULT "\n"
		   "      --xdp-mode MODE  auto (native, else generic), native, generic, off\n"
		   "      --queue MODE     qdisc sampler: auto, on, off\n"
		   "      --per-source     RX tables keyed by source only, not (source, QP)\n"
		   "      --detach         watch: detach everything when done\n"
		   "watch attaches when needed (reusing the pinned counters) and leaves the\n"
		   "programs attached on exit unless --detach is given.\n");
}

static int parse_mode(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	static const char *const xdp_modes[] = { "auto", "native", "generic", "off" };
	static const char *const queue_modes[] = { "auto", "on", "off" };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "pin-root", required_argument, NULL, 'P' },
		{ "xdp-mode", required_argument, NULL, 'X' },
		{ "queue", required_argument, NULL, 'Q' },
		{ "per-source", no_argument, NULL, 'S' },
		{ "detach", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tita_bpf_opts o = { 0 };
	struct tita_bpf_reader *reader = NULL;
	struct tita_bpf *b = NULL;
	struct tita_bpf_info info;
	const char *verb = "watch", *ifname;
	double interval_s = 1.0;
	long count = -1;
	bool json = false, detach_at_end = false;
	char err[256] = "";
	int opt, rc = 1;

	/* GNU getopt moves the options first, so they may go anywhere. */
	while ((opt = getopt_long(argc, argv, "ji:n:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'i':
			interval_s = atof(optarg);
			break;
		case 'n':
			count = atol(optarg);
			break;
		case 'P':
			o.pin_root = optarg;
			break;
		case 'X':
			if ((opt = parse_mode(optarg, xdp_modes, 4)) < 0) {
				usage(stderr);
				return 2;
			}
			o.xdp_mode = (enum tita_bpf_xdp_mode)opt;
			break;
		case 'Q':
			if ((opt = parse_mode(optarg, queue_modes, 3)) < 0) {
				usage(stderr);
				return 2;
			}
			o.queue_mode = (enum tita_bpf_queue_mode)opt;
			break;
		case 'S':
			o.rx_per_source = true;
			break;
		case 'D':
			detach_at_end = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && (!strcmp(argv[optind], "watch") || !strcmp(argv[optind], "attach") ||
			      !strcmp(argv[optind], "detach") || !strcmp(argv[optind], "help")))
		verb = argv[optind++];
	if (!strcmp(verb, "help")) {
		usage(stdout);
		return 0;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	ifname = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (interval_s <= 0 || interval_s > 3600) {
		fprintf(stderr, "tita-telemetry: interval must be in (0, 3600] seconds\n");
		return 2;
	}

	if (!strcmp(verb, "detach")) {
		int e = tita_bpf_detach_pinned(ifname, o.pin_root, err, sizeof(err));

		if (e) {
			fprintf(stderr, "tita-telemetry: detach %s: %s\n", ifname,
				err[0] ? err : strerror(-e));
			return 1;
		}
		return 0;
	}

	o.ifname = ifname;
	o.err_buf = err;
	o.err_len = sizeof(err);
	b = tita_bpf_attach(&o);
	if (!b) {
		fprintf(stderr, "tita-telemetry: attach %s: %s\n", ifname,
			err[0] ? err : strerror(errno));
		return 1;
	}
	tita_bpf_get_info(b, &info);
	if (!json)
		fprintf(stderr,
			"tita-telemetry: %s: XDP %s, tc egress %s, queue sampler %s%s%s; "
			"pins in %s%s\n",
			info.ifname,
			info.xdp_mode == TITA_BPF_XDP_NATIVE  ? "native" :
			info.xdp_mode == TITA_BPF_XDP_GENERIC ? "generic" :
								"off",
			info.tc_attached ? "on" : "off", info.queue_attached ? "on" : "off",
			info.queue_attached ? "" : ": ",
			info.queue_attached ? "" : info.queue_off_reason, info.pin_dir,
			info.maps_reused ? " (counters carried over)" : "");
	if (!strcmp(verb, "attach")) {
		tita_bpf_free(b);
		return 0;
	}

	reader = tita_bpf_reader_new(b);
	if (!reader) {
		fprintf(stderr, "tita-telemetry: reader: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	{
		const struct tita_bpf_snapshot *s;
		struct timespec ts = { (time_t)interval_s,
				       (long)((interval_s - (double)(time_t)interval_s) * 1e9) };
		int e = tita_bpf_read(reader, monotonic_ns(), &s);

		if (e) {
			fprintf(stderr, "tita-telemetry: read: %s\n", strerror(-e));
			goto out;
		}
		for (long n = 0; !stop && (count < 0 || n < count); n++) {
			nanosleep(&ts, NULL);
			e = tita_bpf_read(reader, monotonic_ns(), &s);
			if (e) {
				fprintf(stderr, "tita-telemetry: read: %s\n", strerror(-e));
				goto out;
			}
			if (json)
				print_json(s, &info);
			else
				print_text(s, &info);
		}
	}
	rc = 0;
out:
	tita_bpf_reader_free(reader);
	if (detach_at_end) {
		int e = tita_bpf_detach(b);

		if (e) {
			fprintf(stderr, "tita-telemetry: detach: %s\n", strerror(-e));
			rc = 1;
		}
	}
	tita_bpf_free(b);
	return rc;
}
