// SPDX-License-Identifier: MIT
/*
 * The application of qp-titad.sh: one RC QP on a stand-in RDMA device
 * (agent/standin), posting signalled RDMA writes at a steady pace, as a
 * training job's collective would. It runs with
 *
 *   LD_PRELOAD=libtita-agent.so  LD_LIBRARY_PATH=<stand-in dir>
 *
 * and loads libibverbs as NCCL does (dlopen, then dlvsym at IBVERBS_1.1),
 * so the agent in it registers the QP with a real titad and applies the
 * rates titad sends. The stand-in owns no hardware: each WR is completed
 * as soon as it is posted (standin_complete), and polled through the
 * inline ibv_poll_cq, whose context op the agent wraps.
 *
 * The stand-in keeps its record (every verb call that matters, the rate
 * limits the agent programs among them) in memory; this program appends
 * it to RECORD as it grows, whole lines only, for the test to read.
 *
 * Usage: test-nic-qp-app NETNS DEVICE SGID_INDEX REMOTE_IPV4 RATE_BPS MAX_SECONDS
 *                        RECORD GATE STOP
 *
 * It joins the network namespace NETNS (a /run/netns path; "-" stays),
 * itself, so that no helper (ip netns exec, nsenter) runs with the agent
 * preloaded. It waits for the file GATE to exist before it opens the
 * device (the test first writes what titad must know of this process),
 * posts RATE_BPS bit/s of writes until the file STOP exists or
 * MAX_SECONDS have passed since it started, destroys what it made and
 * exits 0. Exit 1 on any failure, 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "verbs_dl.h"

/* A post every tick, smooth at the control interval's scale; the record
 * gets a line per post and is copied out every DUMP_NS. */
#define TICK_NS (2 * 1000000ull)
#define DUMP_NS (100 * 1000000ull)
#define MAX_WR_BYTES (1u << 30)

static struct verbs_dl verbs;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("test-nic-qp-app: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(t_ns / 1000000000ull),
			       .tv_nsec = (long)(t_ns % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Append the record's whole lines past *done to fd. The record fills up
 * at 64 KiB: past half of it, it is cleared once copied (a line the agent
 * thread records in between is lost, which the test tolerates: it looks
 * for the latest rate, which the agent records again on any change). */
static void dump_record(int fd, size_t *done)
{
	const char *log = verbs.slog();
	size_t len = strlen(log), end = len;

	if (len < *done)
		*done = 0;
	while (end > *done && log[end - 1] != '\n')
		end--;
	if (end > *done && write(fd, log + *done, end - *done) != (ssize_t)(end - *done))
		die("writing the record: %m");
	*done = end;
	if (end > 32768) {
		verbs.slog_clear();
		*done = 0;
	}
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static unsigned long long number(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !*s || *end) {
		fprintf(stderr, "test-nic-qp-app: %s: '%s' is not a number\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct ibv_qp_init_attr ia = { .qp_type = IBV_QPT_RC };
	struct ibv_device **devs;
	struct ibv_context *ctx = NULL;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_qp_attr a;
	struct in_addr remote;
	unsigned long long rate_bps, sgid, max_s, posted = 0, completed = 0, wrs = 0;
	uint64_t start, deadline, t, next_dump;
	size_t done = 0;
	int n = 0, fd;
	const char *err;

	if (argc != 10) {
		fprintf(stderr,
			"usage: test-nic-qp-app NETNS DEVICE SGID_INDEX REMOTE_IPV4 RATE_BPS "
			"MAX_SECONDS RECORD GATE STOP\n");
		return 2;
	}
	sgid = number(argv[3], "SGID_INDEX");
	rate_bps = number(argv[5], "RATE_BPS");
	max_s = number(argv[6], "MAX_SECONDS");
	if (inet_pton(AF_INET, argv[4], &remote) != 1 || sgid > 255 || !rate_bps || !max_s ||
	    max_s > 600) {
		fprintf(stderr, "test-nic-qp-app: bad arguments\n");
		return 2;
	}
	if (strcmp(argv[1], "-")) {
		int ns = open(argv[1], O_RDONLY | O_CLOEXEC);

		if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
			die("joining %s: %m", argv[1]);
		close(ns);
	}
	/* From here on, the arguments after NETNS. */
	argv++;
	start = now_ns();
	deadline = start + max_s * 1000000000ull;
	fd = open(argv[6], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %m", argv[6]);

	while (!exists(argv[7])) {
		if (now_ns() >= deadline)
			die("%s did not appear within %llu s", argv[7], max_s);
		usleep(10000);
	}

	err = verbs_dl_open(&verbs);
	if (err)
		die("%s", err);
	if ((void *)verbs.create_qp == dlsym(verbs.h, "ibv_create_qp"))
		die("ibv_create_qp was not interposed: is the agent preloaded?");

	devs = verbs.get_device_list(&n);
	for (int i = 0; devs && i < n && !ctx; i++)
		if (!strcmp(devs[i]->name, argv[1]))
			ctx = verbs.open_device(devs[i]);
	if (!ctx)
		die("no device %s", argv[1]);
	pd = verbs.alloc_pd(ctx);
	cq = verbs.create_cq(ctx, 256, NULL, NULL, 0);
	if (!pd || !cq)
		die("alloc_pd or create_cq failed");
	ia.send_cq = ia.recv_cq = cq;
	ia.cap.max_send_wr = ia.cap.max_recv_wr = 64;
	ia.cap.max_send_sge = ia.cap.max_recv_sge = 1;
	qp = verbs.create_qp(pd, &ia);
	if (!qp)
		die("create_qp: %m");

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
	if (verbs.modify_qp(qp, &a,
			    IBV_QP_STATE | IBV_QP_PORT | IBV_QP_PKEY_INDEX | IBV_QP_ACCESS_FLAGS))
		die("to INIT failed");
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_4096;
	a.dest_qp_num = 0x4d2;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.port_num = 1;
	a.ah_attr.grh.sgid_index = (uint8_t)sgid;
	a.ah_attr.grh.hop_limit = 64;
	/* RoCEv2 over IPv4: ::ffff:a.b.c.d */
	a.ah_attr.grh.dgid.raw[10] = 0xff;
	a.ah_attr.grh.dgid.raw[11] = 0xff;
	memcpy(&a.ah_attr.grh.dgid.raw[12], &remote, 4);
	if (verbs.modify_qp(qp, &a,
			    IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
				    IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
				    IBV_QP_MIN_RNR_TIMER))
		die("to RTR failed");
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 1;
	if (verbs.modify_qp(qp, &a,
			    IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				    IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
		die("to RTS failed");
	printf("qpn %u in RTS on %s, remote ::ffff:%s\n", qp->qp_num, argv[1], argv[3]);
	fflush(stdout);

	/* The pace counts from RTS: the bytes due at t are rate x (t - t0). */
	start = now_ns();
	next_dump = start;
	for (t = start; t < deadline && !exists(argv[8]); t += TICK_NS) {
		unsigned long long due =
			(unsigned long long)((double)rate_bps / 8e9 * (double)(now_ns() - start));
		struct ibv_wc wc[16];
		int got;

		while (due > posted) {
			uint32_t len = due - posted > MAX_WR_BYTES ? MAX_WR_BYTES :
								     (uint32_t)(due - posted);
			/* No data moves: the stand-in reads no memory. */
			struct ibv_sge sge = { .addr = 0x10000, .length = len, .lkey = 1 };
			struct ibv_send_wr wr = { .wr_id = ++wrs,
						  .sg_list = &sge,
						  .num_sge = 1,
						  .opcode = IBV_WR_RDMA_WRITE,
						  .send_flags = IBV_SEND_SIGNALED };
			struct ibv_send_wr *bad = NULL;

			wr.wr.rdma.remote_addr = 0x20000;
			wr.wr.rdma.rkey = 2;
			if (ibv_post_send(qp, &wr, &bad))
				die("post_send failed");
			posted += len;
			verbs.scomplete(cq, qp->qp_num, wr.wr_id);
		}
		while ((got = ibv_poll_cq(cq, 16, wc)) > 0)
			for (int i = 0; i < got; i++) {
				if (wc[i].status != IBV_WC_SUCCESS)
					die("completion %llu: status %d",
					    (unsigned long long)wc[i].wr_id, wc[i].status);
				completed++;
			}
		if (got < 0)
			die("poll_cq failed");
		if (now_ns() >= next_dump) {
			dump_record(fd, &done);
			next_dump += DUMP_NS;
		}
		sleep_until(t + TICK_NS);
	}
	if (verbs.destroy_qp(qp) || verbs.destroy_cq(cq) || verbs.dealloc_pd(pd) ||
	    verbs.close_device(ctx))
		die("destroying the QP, CQ, PD or context failed");
	dump_record(fd, &done);
	close(fd);
	printf("posted %llu bytes in %llu WRs, %llu completed, in %.1f s\n", posted, wrs, completed,
	       (double)(now_ns() - start) / 1e9);
	return 0;
}
