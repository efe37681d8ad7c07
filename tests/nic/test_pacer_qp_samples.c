// SPDX-License-Identifier: MIT
/*
 * The qp back end's sender-side samples (tita_pacer_qp_tx_samples()) from
 * fake agents speaking the agent protocol over the real socket, on a fake
 * clock: two QPs on one pair, a QP destroyed between two samples, an
 * agent that disconnects, counters that go back, completions ahead of
 * posts, a QP registered again after a reconnect (its counters in QP_ADD
 * are its baseline), a protocol 1.0 QP_ADD without counters, a QP that
 * changes route, and QPs whose local port cannot be resolved.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentproto.h"
#include "pacer_nic.h"

#include "check.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define JOB 7

static uint32_t job_of_pid(pid_t pid, void *ctx)
{
	(void)ctx;
	return pid == getpid() ? JOB : 0;
}

/* What the last tita_pacer_qp_tx_samples() call delivered. */
static struct tita_tx_sample got[16];
static size_t n_got;

static void on_sample(const struct tita_tx_sample *s, void *ctx)
{
	(void)ctx;
	if (n_got < sizeof(got) / sizeof(got[0]))
		got[n_got++] = *s;
}

static size_t samples(struct tita_pacer *p, uint64_t now_ns)
{
	size_t n;

	n_got = 0;
	n = tita_pacer_qp_tx_samples(p, now_ns, on_sample, NULL);
	CHECK(n == n_got, "returned %zu, delivered %zu", n, n_got);
	return n;
}

/* The sample of the pair towards 10.0.0.<last_octet>, or NULL. */
static const struct tita_tx_sample *sample_to(uint8_t last_octet)
{
	for (size_t i = 0; i < n_got; i++)
		if (got[i].remote.bytes[15] == last_octet)
			return &got[i];
	return NULL;
}

static void check_sample(int line, uint8_t last_octet, uint64_t interval_ns, uint64_t tx_bytes,
			 uint64_t backlog_bytes)
{
	const struct tita_tx_sample *s = sample_to(last_octet);
	uint8_t v4l[4] = { 10, 0, 0, 1 }, v4r[4] = { 10, 0, 0, last_octet };
	struct tita_addr local = tita_addr_from_ipv4(v4l), remote = tita_addr_from_ipv4(v4r);

	if (!s) {
		fprintf(stderr, "FAIL %s:%d: no sample towards 10.0.0.%u\n", __FILE__, line,
			last_octet);
		failures++;
		return;
	}
	if (!tita_addr_eq(&s->local, &local) || !tita_addr_eq(&s->remote, &remote) ||
	    s->job_id != JOB || s->interval_ns != interval_ns || s->tx_bytes != tx_bytes ||
	    s->backlog_bytes != backlog_bytes || s->cnp_packets != 0) {
		fprintf(stderr,
			"FAIL %s:%d: towards 10.0.0.%u: job %u interval %llu ns, tx %llu, "
			"backlog %llu, cnp %llu; want interval %llu, tx %llu, backlog %llu\n",
			__FILE__, line, last_octet, s->job_id, (unsigned long long)s->interval_ns,
			(unsigned long long)s->tx_bytes, (unsigned long long)s->backlog_bytes,
			(unsigned long long)s->cnp_packets, (unsigned long long)interval_ns,
			(unsigned long long)tx_bytes, (unsigned long long)backlog_bytes);
		failures++;
	}
}

#define SAMPLE(octet, interval, tx, backlog) check_sample(__LINE__, octet, interval, tx, backlog)

static int agent_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tita_agent_hello h = { 0 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %m");
	tita_agent_hdr_init(&h.hdr, TITA_AGENT_HELLO, sizeof(h));
	CHECK(send(fd, &h, sizeof(h), 0) == sizeof(h), "send HELLO");
	return fd;
}

struct qp_add {
	uint64_t id;
	uint8_t last_octet; /* 0: no remote GID yet */
	uint8_t state;
	uint8_t sgid_index;
	uint64_t posted, completed;
	size_t len; /* 0: the whole 1.1 message */
};

static void send_qp(int fd, const struct qp_add *a)
{
	struct tita_agent_qp m;
	size_t len = a->len ? a->len : sizeof(m);

	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_ADD, len);
	m.qp_id = a->id;
	m.qpn = 0x100 + (uint32_t)a->id;
	m.qp_type = 2;
	m.state = a->state ? a->state : 3;
	m.port_num = 1;
	m.sgid_index = a->sgid_index ? a->sgid_index : 3;
	m.provider = TITA_AGENT_PROV_MLX5;
	snprintf(m.dev_name, sizeof(m.dev_name), "mlx5_0");
	if (a->last_octet) {
		m.flags = TITA_AGENT_QP_HAS_REMOTE_GID;
		m.remote_gid[10] = m.remote_gid[11] = 0xff;
		m.remote_gid[12] = 10;
		m.remote_gid[15] = a->last_octet;
	}
	m.bytes_posted = a->posted;
	m.bytes_completed = a->completed;
	CHECK(send(fd, &m, len, 0) == (ssize_t)len, "send QP_ADD");
}

/* STATS for (id, posted, completed) triples. */
static void send_stats(int fd, size_t n, const uint64_t (*e)[3])
{
	char buf[sizeof(struct tita_agent_stats) + 8 * sizeof(struct tita_agent_qp_stat)];
	struct tita_agent_stats *s = (void *)buf;
	size_t len = sizeof(*s) + n * sizeof(s->qps[0]);

	memset(buf, 0, sizeof(buf));
	tita_agent_hdr_init(&s->hdr, TITA_AGENT_STATS, len);
	s->n = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		s->qps[i] = (struct tita_agent_qp_stat){ .qp_id = e[i][0],
							 .bytes_posted = e[i][1],
							 .bytes_completed = e[i][2] };
	CHECK(send(fd, buf, len, 0) == (ssize_t)len, "send STATS");
}

#define STATS(fd, ...)                                          \
	do {                                                    \
		const uint64_t e_[][3] = { __VA_ARGS__ };       \
		send_stats(fd, sizeof(e_) / sizeof(e_[0]), e_); \
	} while (0)

static void send_del(int fd, uint64_t id)
{
	struct tita_agent_qp_del m = { 0 };

	tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_DEL, sizeof(m));
	m.qp_id = id;
	CHECK(send(fd, &m, sizeof(m), 0) == sizeof(m), "send QP_DEL");
}

static void write_gid(const char *root, int index, const char *netdev)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/class/infiniband/mlx5_0/ports/1/gid_attrs/ndevs/%d", root,
		 index);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "%s\n", netdev);
	fclose(f);
}

int main(void)
{
	char root[] = "/tmp/tita-pqs-XXXXXX", cmd[PATH_MAX + 32], err[256] = "";
	uint8_t v4[4] = { 10, 0, 0, 1 };
	struct tita_pacer_port port = { .ifname = "eth0" };
	struct tita_pacer_env conf = { .agent_socket_mode = 0666, .job_of_pid = job_of_pid };
	struct tita_pacer_agent_stats st;
	struct tita_pacer *p;
	int a, b, r;

	if (!mkdtemp(root))
		return 1;
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/class/infiniband/mlx5_0/ports/1/gid_attrs/ndevs'",
		 root);
	if (system(cmd))
		return 1;
	write_gid(root, 3, "eth0");
	write_gid(root, 4, "eth9"); /* not a port of this pacer */

	port.addr = tita_addr_from_ipv4(v4);
	snprintf(conf.agent_socket, sizeof(conf.agent_socket), "%s/agent.sock", root);
	snprintf(conf.sysfs_root, sizeof(conf.sysfs_root), "%s", root);
	p = tita_pacer_new(&tita_pacer_qp_ops, &port, 1, &conf);
	CHECK(p != NULL, "tita_pacer_new");
	r = p->ops->init(p, err, sizeof(err));
	CHECK(r == 0, "init: %d %s", r, err);

	/* Nothing registered: nothing to sample. */
	CHECK(samples(p, 1 * SEC) == 0, "no agent, no sample");

	/* QPs 1 and 2 towards .2, 3 towards .3; 4 on a GID whose netdev is
	 * not ours, 5 not connected yet (no remote GID). */
	a = agent_connect(conf.agent_socket);
	send_qp(a, &(struct qp_add){ .id = 1, .last_octet = 2 });
	send_qp(a, &(struct qp_add){ .id = 2, .last_octet = 2 });
	send_qp(a, &(struct qp_add){ .id = 3, .last_octet = 3 });
	send_qp(a, &(struct qp_add){ .id = 4, .last_octet = 2, .sgid_index = 4 });
	send_qp(a, &(struct qp_add){ .id = 5, .state = 1 });
	tita_pacer_qp_process(p, 1 * SEC);
	tita_pacer_qp_stats(p, &st);
	CHECK(st.agents == 1 && st.qps == 5, "agents %u qps %u", st.agents, st.qps);
	/* A pair is measured from its first QP's registration: nothing yet. */
	CHECK(samples(p, 1 * SEC) == 0, "no time has passed");

	/* Two QPs on one pair add up; backlog is posted minus completed. */
	STATS(a, { 1, 3000, 1000 }, { 2, 500, 500 }, { 3, 100, 0 }, { 4, 999, 999 }, { 5, 50, 50 });
	tita_pacer_qp_process(p, 1500 * MS);
	CHECK(samples(p, 2 * SEC) == 2, "two pairs: %zu", n_got);
	SAMPLE(2, 1 * SEC, 1500, 2000);
	SAMPLE(3, 1 * SEC, 0, 100);

	/* QP 1 is destroyed between two samples: its last report and the
	 * bytes it completed since the previous sample still count. */
	STATS(a, { 1, 4000, 3000 }, { 2, 1500, 1000 });
	send_del(a, 1);
	tita_pacer_qp_process(p, 2500 * MS);
	CHECK(samples(p, 3 * SEC) == 1, "after a delete: %zu", n_got);
	SAMPLE(2, 1 * SEC, 2000 + 500, 500);
	/* No report for .3 since its last sample: no sample either (the
	 * controller holds the last one until it is late). */
	CHECK(!sample_to(3), "a sample towards .3 without a report");

	/* QP 2's counters go back (a reset): rebaselined at the new value,
	 * no wrapped delta. QP 3 reports completions ahead of its posts:
	 * no negative backlog. */
	STATS(a, { 2, 200, 100 }, { 3, 100, 150 });
	tita_pacer_qp_process(p, 3500 * MS);
	STATS(a, { 2, 900, 600 });
	tita_pacer_qp_process(p, 3600 * MS);
	CHECK(samples(p, 4 * SEC) == 2, "after a regression: %zu", n_got);
	SAMPLE(2, 1 * SEC, 500, 300);
	SAMPLE(3, 2 * SEC, 150, 0);

	/* The agent goes away between two samples: what its QPs completed
	 * comes in the next one, then the pairs are forgotten. */
	STATS(a, { 2, 2000, 1600 }, { 3, 300, 300 });
	close(a);
	tita_pacer_qp_process(p, 4500 * MS);
	tita_pacer_qp_stats(p, &st);
	CHECK(st.agents == 0 && st.qps == 0, "agent dropped: %u %u", st.agents, st.qps);
	CHECK(samples(p, 5 * SEC) == 2, "after a disconnect: %zu", n_got);
	SAMPLE(2, 1 * SEC, 1000, 0);
	SAMPLE(3, 1 * SEC, 150, 0);
	CHECK(samples(p, 6 * SEC) == 0, "gone pairs are forgotten: %zu", n_got);

	/* The agent comes back and registers QP 2 again with its counters:
	 * they are its baseline, not traffic. */
	b = agent_connect(conf.agent_socket);
	send_qp(b, &(struct qp_add){ .id = 2, .last_octet = 2, .posted = 2000, .completed = 1600 });
	tita_pacer_qp_process(p, 6500 * MS);
	STATS(b, { 2, 2000, 1600 });
	tita_pacer_qp_process(p, 6600 * MS);
	STATS(b, { 2, 2600, 2100 });
	tita_pacer_qp_process(p, 6800 * MS);
	CHECK(samples(p, 7 * SEC) == 1, "after a reconnect: %zu", n_got);
	SAMPLE(2, 500 * MS, 500, 500);
	CHECK(samples(p, 7 * SEC) == 0, "a second call at the same instant: %zu", n_got);

	/* A protocol 1.0 QP_ADD (no counters) is accepted and counts from 0. */
	send_qp(b, &(struct qp_add){ .id = 9, .last_octet = 3, .len = TITA_AGENT_QP_LEN_1_0 });
	tita_pacer_qp_process(p, 7200 * MS);
	STATS(b, { 9, 700, 700 });
	tita_pacer_qp_process(p, 7300 * MS);
	tita_pacer_qp_stats(p, &st);
	CHECK(st.qps == 2 && st.protocol_errors == 0, "1.0 QP_ADD: qps %u errors %llu", st.qps,
	      (unsigned long long)st.protocol_errors);
	CHECK(samples(p, 8 * SEC) == 1, "with a 1.0 QP: %zu", n_got);
	SAMPLE(3, 800 * MS, 700, 0);

	/* QP 9 moves to .2: what it completed towards .3 stays there, the
	 * rest counts for .2; .3, left without QPs, is sampled once more. */
	STATS(b, { 9, 900, 900 });
	tita_pacer_qp_process(p, 8200 * MS);
	send_qp(b, &(struct qp_add){ .id = 9, .last_octet = 2, .posted = 900, .completed = 900 });
	tita_pacer_qp_process(p, 8300 * MS);
	STATS(b, { 9, 1000, 1000 });
	tita_pacer_qp_process(p, 8400 * MS);
	CHECK(samples(p, 9 * SEC) == 2, "after a route change: %zu", n_got);
	SAMPLE(2, 2 * SEC, 100, 500);
	SAMPLE(3, 1 * SEC, 200, 0);
	STATS(b, { 9, 1100, 1100 });
	tita_pacer_qp_process(p, 9500 * MS);
	CHECK(samples(p, 10 * SEC) == 1 && sample_to(2), "only .2 is left: %zu", n_got);

	close(b);
	tita_pacer_qp_process(p, 11 * SEC);
	p->ops->cleanup(p);
	tita_pacer_free(p);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0, "rm");
	return failures ? 1 : 0;
}
