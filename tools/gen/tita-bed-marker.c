// SPDX-License-Identifier: MIT
/*
 * tita-bed-marker: attach the test bed's ECN marker (ecn_marker.bpf.c) to a
 * switch port's tc egress, read its counters, and sample the port's queue.
 *
 *   tita-bed-marker attach DEV --rate RATE [--gamma G] [--kmin BYTES]
 *                               [--kmax BYTES] [--pmax P] [--cap BYTES]
 *   tita-bed-marker stats DEV...
 *   tita-bed-marker sample [--interval DUR] [--duration DUR] DEV...
 *   tita-bed-marker detach DEV
 *
 * Run it inside the switch's network namespace. attach leaves nothing on
 * bpffs: the tc filter holds the program, the program holds its maps, and
 * all of it goes with the port (or the namespace). stats and sample find
 * the maps again through the filter. sample prints, every interval, the
 * statistics that `tc -s qdisc` shows for the port's root qdisc (backlog,
 * packets queued, drops: the same netlink attributes) next to the phantom
 * queue and the mark count, as CSV.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/gen_stats.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <math.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ecn_marker.h"
#include "ecn_marker.skel.h"
#include "si.h"

#define TC_HANDLE 0x7b /* "{": the marker's filter handle and priority */
#define TC_PRIO 1
#define MAX_DEVS 16
#define NSEC_PER_SEC 1000000000ull

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* libbpf's warnings go to stderr, its info and debug nowhere. */
__attribute__((format(printf, 2, 0))) static int libbpf_quiet(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tita-bed-marker attach DEV --rate RATE [--gamma G] [--kmin BYTES]\n"
		"                              [--kmax BYTES] [--pmax P] [--cap BYTES]\n"
		"       tita-bed-marker stats DEV...\n"
		"       tita-bed-marker sample [--interval DUR] [--duration DUR] DEV...\n"
		"       tita-bed-marker detach DEV\n"
		"\n"
		"The test bed switch's RED-like ECN marking from a phantom queue that\n"
		"drains at RATE x G (default G 1), on DEV's tc egress.\n"
		"  --kmin/--kmax  marking starts at kmin (default 10000) and reaches pmax\n"
		"                 (default 0.2) at kmax (default 40000); above, every\n"
		"                 ECT packet is marked\n"
		"  --cap          the phantom queue's limit: the real queue's (default 128000)\n"
		"  --interval     sampling step in ms (default 5), --duration in s (default 10)\n"
		"Rates take k, M, G (powers of 1000) and an optional 'bit'.\n");
}

static int dev_index(const char *dev)
{
	int i = (int)if_nametoindex(dev);

	if (!i)
		fprintf(stderr, "tita-bed-marker: no device %s: %s\n", dev, strerror(errno));
	return i;
}

/* ---- attach / detach -------------------------------------------------------- */

static int cmd_attach(const char *dev, double rate_bps, double gamma, double kmin, double kmax,
		      double pmax, double cap)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO,
			    .flags = BPF_TC_F_REPLACE);
	struct ecn_marker_bpf *skel;
	int err;

	hook.ifindex = dev_index(dev);
	if (!hook.ifindex)
		return 1;
	skel = ecn_marker_bpf__open();
	if (!skel) {
		fprintf(stderr, "tita-bed-marker: open: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->drain_rate_Bps = (uint64_t)(rate_bps * gamma / 8);
	skel->rodata->kmin_bytes = (uint64_t)kmin;
	skel->rodata->kmax_bytes = (uint64_t)kmax;
	skel->rodata->pmax_u32 = pmax >= 1.0 ? UINT32_MAX : (uint32_t)(pmax * 4294967296.0);
	skel->rodata->cap_bytes = (uint64_t)cap;
	err = ecn_marker_bpf__load(skel);
	if (err) {
		fprintf(stderr, "tita-bed-marker: load: %s\n", strerror(-err));
		goto out;
	}
	/* EEXIST: clsact is already there (a second attach replaces ours). */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		fprintf(stderr, "tita-bed-marker: %s: clsact: %s\n", dev, strerror(-err));
		goto out;
	}
	opts.prog_fd = bpf_program__fd(skel->progs.ecn_marker);
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		fprintf(stderr, "tita-bed-marker: %s: attach: %s\n", dev, strerror(-err));
out:
	ecn_marker_bpf__destroy(skel);
	return err ? 1 : 0;
}

static int cmd_detach(const char *dev)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	int err;

	hook.ifindex = dev_index(dev);
	if (!hook.ifindex)
		return 1;
	err = bpf_tc_detach(&hook, &opts);
	if (err && err != -ENOENT) {
		fprintf(stderr, "tita-bed-marker: %s: detach: %s\n", dev, strerror(-err));
		return 1;
	}
	return 0;
}

/* ---- finding the maps through the filter ---------------------------------- */

struct marker_maps {
	int queue_fd, count_fd;
};

static int find_maps(const char *dev, struct marker_maps *ret)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	struct bpf_prog_info pinfo = {};
	uint32_t ids[8], len = sizeof(pinfo);
	struct marker_maps m = { -1, -1 };
	int err, pfd;

	hook.ifindex = dev_index(dev);
	if (!hook.ifindex)
		return -ENODEV;
	err = bpf_tc_query(&hook, &opts);
	if (err) {
		fprintf(stderr, "tita-bed-marker: %s: no marker attached\n", dev);
		return err;
	}
	pfd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (pfd < 0)
		return -errno;
	pinfo.nr_map_ids = 8;
	pinfo.map_ids = (uint64_t)(unsigned long)ids;
	err = bpf_obj_get_info_by_fd(pfd, &pinfo, &len);
	close(pfd);
	if (err)
		return -errno;
	for (uint32_t i = 0; i < pinfo.nr_map_ids && i < 8; i++) {
		struct bpf_map_info minfo = {};
		uint32_t mlen = sizeof(minfo);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &minfo, &mlen)) {
			close(fd);
			continue;
		}
		if (!strcmp(minfo.name, "marker_queue") && m.queue_fd < 0)
			m.queue_fd = fd;
		else if (!strcmp(minfo.name, "marker_count") && m.count_fd < 0)
			m.count_fd = fd;
		else
			close(fd);
	}
	if (m.queue_fd < 0 || m.count_fd < 0) {
		fprintf(stderr, "tita-bed-marker: %s: the filter's program is not the marker\n",
			dev);
		if (m.queue_fd >= 0)
			close(m.queue_fd);
		if (m.count_fd >= 0)
			close(m.count_fd);
		return -ENOENT;
	}
	*ret = m;
	return 0;
}

static int read_counts(const struct marker_maps *m, uint64_t counts[MARKER_C_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t c = 0; c < MARKER_C_MAX; c++) {
		counts[c] = 0;
		if (bpf_map_lookup_elem(m->count_fd, &c, v))
			continue;
		for (int i = 0; i < ncpu; i++)
			counts[c] += v[i];
	}
	free(v);
	return 0;
}

static int read_queue(const struct marker_maps *m, struct marker_queue *q)
{
	struct {
		struct bpf_spin_lock lock;
		struct marker_queue q;
	} v;
	uint32_t key = 0;

	if (bpf_map_lookup_elem(m->queue_fd, &key, &v))
		return -errno;
	*q = v.q;
	return 0;
}

static int cmd_stats(char **devs, int n)
{
	printf("[");
	for (int i = 0; i < n; i++) {
		struct marker_maps m;
		struct marker_queue q = {};
		uint64_t c[MARKER_C_MAX];

		if (find_maps(devs[i], &m) || read_counts(&m, c) || read_queue(&m, &q))
			return 1;
		printf("%s{\"dev\":\"%s\",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"ect\":%" PRIu64 ",\"marked\":%" PRIu64 ",\"ce_in\":%" PRIu64
		       ",\"not_ect\":%" PRIu64 ",\"phantom_bytes\":%" PRIu64
		       ",\"phantom_peak_bytes\":%" PRIu64 "}",
		       i ? "," : "", devs[i], c[MARKER_C_PACKETS], c[MARKER_C_BYTES],
		       c[MARKER_C_ECT], c[MARKER_C_MARKED], c[MARKER_C_CE_IN], c[MARKER_C_NOT_ECT],
		       (uint64_t)q.bytes, (uint64_t)q.peak_bytes);
		close(m.queue_fd);
		close(m.count_fd);
	}
	printf("]\n");
	return 0;
}

/* ---- sampling the root qdisc over rtnetlink -------------------------------- */

struct qstats {
	uint64_t bytes, packets;
	uint32_t qlen, backlog, drops, overlimits;
};

/* The root qdisc's statistics of ifindex (what `tc -s qdisc` prints). */
static int root_qstats(int nl, int ifindex, struct qstats *ret)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETQDISC,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.tc = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex },
	};
	static char buf[65536];
	bool found = false, done = false;

	if (send(nl, &req, sizeof(req), 0) < 0)
		return -errno;
	/* A dump ends with NLMSG_DONE; bounded by the receive size anyway. */
	for (int rounds = 0; !done && rounds < 64; rounds++) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (n < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			struct tcmsg *tc = NLMSG_DATA(nh);
			struct rtattr *a;
			int alen;

			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			if (nh->nlmsg_type != RTM_NEWQDISC || tc->tcm_ifindex != ifindex ||
			    tc->tcm_parent != TC_H_ROOT || found)
				continue;
			alen = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*tc)));
			for (a = (struct rtattr *)((char *)tc + NLMSG_ALIGN(sizeof(*tc)));
			     RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				struct rtattr *s;
				int slen;

				if (a->rta_type != TCA_STATS2)
					continue;
				slen = (int)RTA_PAYLOAD(a);
				for (s = RTA_DATA(a); RTA_OK(s, slen); s = RTA_NEXT(s, slen)) {
					if (s->rta_type == TCA_STATS_QUEUE &&
					    RTA_PAYLOAD(s) >= sizeof(struct gnet_stats_queue)) {
						struct gnet_stats_queue q;

						memcpy(&q, RTA_DATA(s), sizeof(q));
						ret->qlen = q.qlen;
						ret->backlog = q.backlog;
						ret->drops = q.drops;
						ret->overlimits = q.overlimits;
						found = true;
					} else if (s->rta_type == TCA_STATS_BASIC &&
						   RTA_PAYLOAD(s) >=
							   sizeof(struct gnet_stats_basic)) {
						struct gnet_stats_basic b;

						memcpy(&b, RTA_DATA(s), sizeof(b));
						ret->bytes = b.bytes;
						ret->packets = b.packets;
					}
				}
			}
		}
	}
	return found ? 0 : -ENOENT;
}

static int cmd_sample(char **devs, int n, uint64_t interval_ns, uint64_t duration_ns)
{
	struct marker_maps maps[MAX_DEVS];
	int idx[MAX_DEVS], nl, rc = 0;
	uint64_t t0 = mono_ns(), next = t0;

	if (n > MAX_DEVS) {
		fprintf(stderr, "tita-bed-marker: at most %d devices\n", MAX_DEVS);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		idx[i] = dev_index(devs[i]);
		if (!idx[i])
			return 1;
		/* A port without the marker still has its qdisc sampled. */
		if (find_maps(devs[i], &maps[i]))
			maps[i].queue_fd = maps[i].count_fd = -1;
	}
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0) {
		perror("tita-bed-marker: netlink");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("t_s,dev,backlog_bytes,qlen_packets,drops,sent_bytes,phantom_bytes,marked\n");
	while (!stop && mono_ns() - t0 < duration_ns) {
		uint64_t now = mono_ns();
		struct timespec ts;

		for (int i = 0; i < n; i++) {
			struct qstats q = {};
			struct marker_queue pq = {};
			uint64_t c[MARKER_C_MAX] = { 0 };

			if (root_qstats(nl, idx[i], &q)) {
				rc = 1;
				continue;
			}
			if (maps[i].queue_fd >= 0) {
				read_queue(&maps[i], &pq);
				read_counts(&maps[i], c);
			}
			printf("%.6f,%s,%u,%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
			       (double)now / 1e9, devs[i], q.backlog, q.qlen, q.drops, q.bytes,
			       (uint64_t)pq.bytes, c[MARKER_C_MARKED]);
		}
		next += interval_ns;
		if (next < now)
			next = now + interval_ns;
		ts = (struct timespec){ next / NSEC_PER_SEC, next % NSEC_PER_SEC };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	close(nl);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "gamma", required_argument, NULL, 'g' },
		{ "kmin", required_argument, NULL, 'k' },
		{ "kmax", required_argument, NULL, 'K' },
		{ "pmax", required_argument, NULL, 'p' },
		{ "cap", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	double rate = 0, gamma = 1.0, kmin = 10000, kmax = 40000, pmax = 0.2, cap = 128000;
	double interval_ms = 5, duration_s = 10;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *cmd;
	int c;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		double *dst;

		switch (c) {
		case 'r':
			dst = &rate;
			break;
		case 'g':
			dst = &gamma;
			break;
		case 'k':
			dst = &kmin;
			break;
		case 'K':
			dst = &kmax;
			break;
		case 'p':
			dst = &pmax;
			break;
		case 'c':
			dst = &cap;
			break;
		case 'i':
			dst = &interval_ms;
			break;
		case 'd':
			dst = &duration_s;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
		if (parse_si(optarg, dst)) {
			fprintf(stderr, "tita-bed-marker: '%s' is not a number\n", optarg);
			return 2;
		}
	}
	libbpf_set_print(libbpf_quiet);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (optind >= argc) {
		fprintf(stderr, "tita-bed-marker: %s: no device given\n", cmd);
		return 2;
	}
	if (!strcmp(cmd, "attach")) {
		/* The drain arithmetic stays in 64 bits up to 10 Gbit/s. */
		if (rate < 1e5 || rate > 1e10 || gamma <= 0 || gamma > 2 || kmax <= kmin ||
		    pmax > 1 || cap < kmax || optind + 1 != argc) {
			fprintf(stderr, "tita-bed-marker: attach needs one DEV, --rate 100k..10G, "
					"0 < gamma <= 2, kmin < kmax <= cap, pmax <= 1\n");
			return 2;
		}
		return cmd_attach(argv[optind], rate, gamma, kmin, kmax, pmax, cap);
	}
	if (!strcmp(cmd, "detach"))
		return cmd_detach(argv[optind]);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argv + optind, argc - optind);
	if (!strcmp(cmd, "sample")) {
		if (interval_ms < 1 || interval_ms > 10000 || duration_s <= 0 ||
		    duration_s > 3600) {
			fprintf(stderr, "tita-bed-marker: sample needs --interval 1..10000 (ms) "
					"and --duration up to 3600 (s)\n");
			return 2;
		}
		return cmd_sample(argv + optind, argc - optind, (uint64_t)(interval_ms * 1e6),
				  (uint64_t)(duration_s * 1e9));
	}
	fprintf(stderr, "tita-bed-marker: unknown command '%s'\n", cmd);
	return 2;
}
