// SPDX-License-Identifier: MIT
/*
 * The QP agent end to end, with no RDMA device: this program is the
 * "application" and plays titad. It runs with
 *
 *   LD_PRELOAD=libtita-agent.so  LD_LIBRARY_PATH=<stand-in dir>
 *
 * and loads libibverbs exactly as NCCL does, dlopen("libibverbs.so") then
 * dlvsym(h, "ibv_create_qp", "IBVERBS_1.1"), so it gets the test stand-in
 * (agent/standin), which records the calls the agent makes on its behalf.
 * Checked: the dlvsym path is interposed; QPs register with their route;
 * rates reach each provider's knob (bnxt_re: ibv_modify_qp_rate_limit;
 * mlx5 RC: a scheduling leaf; irdma: EOPNOTSUPP); EINVAL and "not yet
 * RTR" paths; malformed commands are ignored; demand bytes through the
 * inline ibv_post_send/ibv_poll_cq; UDP source ports (mlx5 RC in RTS, only
 * with nothing in flight: held until the QP falls idle or reaches RTS,
 * replaced, timed out, cancelled by destruction, refused by other
 * providers); a rate after a message's unscheduled bytes (unpaced until they
 * are posted); every QP unpaced when titad goes away,
 * and registration again, with the QP's counters, when it comes back; QP
 * destruction, its last bytes reported before its QP_DEL.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agentproto.h"

#include "check.h"
#include "verbs_dl.h"

static struct verbs_dl verbs;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait up to 5 s for the stand-in's log to contain s. */
static bool log_wait(const char *s)
{
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (strstr(verbs.slog(), s))
			return true;
		usleep(2000);
	}
	fprintf(stderr, "log has no \"%s\":\n%s", s, verbs.slog());
	return false;
}

static int listen_fd, conn_fd = -1;

/* The next message of type want (-1: any valid one) within 5 s (others
 * are skipped); its length, or -1. */
static int recv_type(int want, void *buf)
{
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		struct pollfd pfd = { conn_fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(conn_fd, buf, TITA_AGENT_MSG_MAX, 0);
		if (n <= 0)
			return -1;
		if (want < 0 ? tita_agent_msg_check(buf, (size_t)n) > 0 :
			       tita_agent_msg_check(buf, (size_t)n) == want)
			return (int)n;
	}
	return -1;
}

static void accept_agent(void)
{
	struct pollfd pfd = { listen_fd, POLLIN, 0 };
	char buf[TITA_AGENT_MSG_MAX];
	struct tita_agent_hello *h = (void *)buf;

	CHECK(poll(&pfd, 1, 5000) == 1, "the agent did not connect");
	conn_fd = accept(listen_fd, NULL, NULL);
	CHECK(conn_fd >= 0, "accept: %m");
	CHECK(recv_type(TITA_AGENT_HELLO, buf) > 0, "no HELLO");
	CHECK(h->pid == (uint32_t)getpid(), "HELLO pid %u", h->pid);
}

/* Wait for QP_ADD of qpn in state; copy it out. */
static bool wait_qp(uint32_t qpn, uint8_t state, struct tita_agent_qp *ret)
{
	char buf[TITA_AGENT_MSG_MAX];
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (recv_type(TITA_AGENT_QP_ADD, buf) < 0)
			return false;
		memcpy(ret, buf, sizeof(*ret));
		if (ret->qpn == qpn && ret->state == state)
			return true;
	}
	return false;
}

/* SET_RATE of len bytes (a 1.2 command is shorter), after unsched bytes. */
static struct tita_agent_rate_result set_rate_after(uint64_t qp_id, uint64_t kbps, uint64_t unsched,
						    size_t len)
{
	static uint32_t seq;
	struct tita_agent_set_rate m = { 0 };
	struct tita_agent_rate_result res = { .err = 12345 };
	char buf[TITA_AGENT_MSG_MAX];

	tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_RATE, (uint32_t)len);
	m.qp_id = qp_id;
	m.rate_kbps = kbps;
	m.unsched_bytes = unsched;
	m.seq = ++seq;
	CHECK(send(conn_fd, &m, len, 0) == (ssize_t)len, "send SET_RATE");
	while (recv_type(TITA_AGENT_RATE_RESULT, buf) > 0) {
		memcpy(&res, buf, sizeof(res));
		if (res.seq == m.seq)
			break;
	}
	CHECK(res.seq == m.seq, "no RATE_RESULT for seq %u", m.seq);
	return res;
}

static struct tita_agent_rate_result set_rate(uint64_t qp_id, uint64_t kbps)
{
	return set_rate_after(qp_id, kbps, 0, sizeof(struct tita_agent_set_rate));
}

/* Send SET_SPORT; its seq. */
static uint32_t sport_send(uint64_t qp_id, uint16_t sport, uint32_t max_wait_ms)
{
	static uint32_t seq = 1000;
	struct tita_agent_set_sport m = { 0 };

	tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_SPORT, sizeof(m));
	m.qp_id = qp_id;
	m.udp_sport = sport;
	m.max_wait_ms = max_wait_ms;
	m.seq = ++seq;
	CHECK(send(conn_fd, &m, sizeof(m), 0) == sizeof(m), "send SET_SPORT");
	return m.seq;
}

/* The next SPORT_RESULT, whatever its seq; err 12345 when none came. */
static struct tita_agent_sport_result sport_next(void)
{
	struct tita_agent_sport_result res = { .err = 12345 };
	char buf[TITA_AGENT_MSG_MAX];

	if (recv_type(TITA_AGENT_SPORT_RESULT, buf) > 0)
		memcpy(&res, buf, sizeof(res));
	return res;
}

/* The stand-in moved qp to sport, and the agent told titad (QP_ADD). */
static void sport_applied(struct ibv_qp *qp, struct tita_agent_qp *m, uint16_t sport)
{
	char expect[80];

	snprintf(expect, sizeof(expect), "udp_sport qpn=%u sport=%u -> 0", qp->qp_num, sport);
	CHECK(log_wait(expect), "port %u set through mlx5dv", sport);
	CHECK(wait_qp(qp->qp_num, IBV_QPS_RTS, m) && m->udp_sport == sport,
	      "QP_ADD with port %u: %u", sport, m->udp_sport);
}

/* The next SPORT_RESULT must be (seq, err). */
static void sport_expect(uint32_t seq, int err, const char *what)
{
	struct tita_agent_sport_result res = sport_next();

	CHECK(res.seq == seq && res.err == err, "%s: seq %u err %d (want seq %u err %d)", what,
	      res.seq, res.err, seq, err);
}

/* SET_SPORT, and its first answer must be err; its seq. */
static uint32_t sport_try(uint64_t qp_id, uint16_t sport, uint32_t max_wait_ms, int err,
			  const char *what)
{
	uint32_t seq = sport_send(qp_id, sport, max_wait_ms);

	sport_expect(seq, err, what);
	return seq;
}

static struct ibv_qp *make_qp(struct verbs_dl_dev *d, enum ibv_qp_state upto)
{
	const char *err = NULL;
	struct ibv_qp *qp = verbs_dl_rc_qp(&verbs, d, upto, &err);

	CHECK(qp != NULL, "%s", err);
	return qp;
}

int main(void)
{
	char dir[] = "/tmp/tita-agent-XXXXXX", path[128], buf[TITA_AGENT_MSG_MAX], expect[160];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct verbs_dl_dev d[3];
	struct ibv_qp *q_mlx5, *q_bnxt, *q_irdma, *q_init;
	struct tita_agent_qp m_mlx5, m_bnxt, m_irdma, m_init;
	struct tita_agent_rate_result res;
	const char *pre = getenv("LD_PRELOAD"), *err;
	int n = 0;

	if (!pre || !strstr(pre, "tita-agent")) {
		fprintf(stderr,
			"test-agent: run with LD_PRELOAD=libtita-agent.so (meson test does)\n");
		return 1;
	}
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	setenv("TITA_AGENT_SOCKET", path, 1);
	setenv("TITA_AGENT_STATS_MS", "20", 1);
	setenv("TITA_AGENT_RECONNECT_MS", "50", 1);
	/* Long enough that a rate waiting for its bytes is seen waiting. */
	setenv("TITA_AGENT_UNSCHED_MAX_MS", "1000", 1);
	CHECK(strlen(path) < sizeof(sa.sun_path), "socket path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(listen_fd, 4) == 0,
	      "listen: %m");

	/* NCCL: libibverbs.so, else libibverbs.so.1; every verb by version. */
	err = verbs_dl_open(&verbs);
	if (err) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* The agent answered dlvsym with its wrapper; plain dlsym (not
	 * interposed) still sees the library's own function. */
	CHECK((void *)verbs.create_qp != dlsym(verbs.h, "ibv_create_qp"),
	      "dlvsym was not interposed");
	CHECK((void *)verbs.get_device_list == dlsym(verbs.h, "ibv_get_device_list"),
	      "a verb the agent does not wrap must pass through");

	verbs.get_device_list(&n);
	CHECK(n == 3, "devices: %d", n);
	for (int i = 0; i < 3; i++)
		CHECK(!verbs_dl_dev_open(&verbs, i, &d[i]), "device %d", i);
	q_mlx5 = make_qp(&d[0], IBV_QPS_RTS);
	q_bnxt = make_qp(&d[1], IBV_QPS_RTS);
	q_irdma = make_qp(&d[2], IBV_QPS_RTS);
	q_init = make_qp(&d[1], IBV_QPS_INIT);

	/* Registration, with the route titad needs to find the pair. */
	accept_agent();
	CHECK(wait_qp(q_mlx5->qp_num, IBV_QPS_RTS, &m_mlx5), "mlx5 QP not registered in RTS");
	CHECK(wait_qp(q_bnxt->qp_num, IBV_QPS_RTS, &m_bnxt), "bnxt QP not registered in RTS");
	CHECK(wait_qp(q_irdma->qp_num, IBV_QPS_RTS, &m_irdma), "irdma QP not registered");
	CHECK(wait_qp(q_init->qp_num, IBV_QPS_INIT, &m_init), "INIT QP not registered");
	CHECK(!strcmp(m_mlx5.dev_name, "mlx5_0") && m_mlx5.provider == TITA_AGENT_PROV_MLX5,
	      "mlx5 QP: %s/%u", m_mlx5.dev_name, m_mlx5.provider);
	CHECK(m_mlx5.caps == (TITA_AGENT_CAP_RATE_LIMIT | TITA_AGENT_CAP_MLX5_SCHED |
			      TITA_AGENT_CAP_UDP_SPORT | TITA_AGENT_CAP_UNSCHED),
	      "mlx5 caps %#x", m_mlx5.caps);
	CHECK(m_mlx5.udp_sport == 0, "mlx5 QP's port before any SET_SPORT: %u", m_mlx5.udp_sport);
	CHECK(m_bnxt.provider == TITA_AGENT_PROV_BNXT_RE &&
		      m_bnxt.caps == (TITA_AGENT_CAP_RATE_LIMIT | TITA_AGENT_CAP_UNSCHED),
	      "bnxt_re caps %#x", m_bnxt.caps);
	CHECK(m_irdma.provider == TITA_AGENT_PROV_IRDMA && m_irdma.caps == TITA_AGENT_CAP_UNSCHED,
	      "irdma caps %#x", m_irdma.caps);
	CHECK(m_bnxt.dest_qpn == 0x777 && m_bnxt.sgid_index == 3 && m_bnxt.port_num == 1 &&
		      (m_bnxt.flags & TITA_AGENT_QP_HAS_REMOTE_GID) &&
		      m_bnxt.remote_gid[12] == 10 && m_bnxt.remote_gid[15] == 2 &&
		      m_bnxt.qp_type == IBV_QPT_RC,
	      "bnxt route: dqpn %#x gid idx %u port %u", m_bnxt.dest_qpn, m_bnxt.sgid_index,
	      m_bnxt.port_num);

	/* bnxt_re paces RC QPs with ibv_modify_qp_rate_limit. */
	res = set_rate(m_bnxt.qp_id, 10000);
	CHECK(res.err == 0 && res.mechanism == TITA_AGENT_MECH_RATE_LIMIT, "bnxt: %d mech %u",
	      res.err, res.mechanism);
	snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=10000 -> 0",
		 q_bnxt->qp_num);
	CHECK(log_wait(expect), "bnxt rate limit");

	/* mlx5 RC: never the rate limit (EOPNOTSUPP for RC), a leaf. */
	verbs.slog_clear();
	res = set_rate(m_mlx5.qp_id, 10000);
	CHECK(res.err == 0 && res.mechanism == TITA_AGENT_MECH_MLX5_SCHED, "mlx5: %d mech %u",
	      res.err, res.mechanism);
	CHECK(log_wait("node_create dev=mlx5_0"), "root node");
	CHECK(log_wait("leaf_create dev=mlx5_0 id=2 parent=1 mbps=10"), "leaf at 10 Mbit/s");
	snprintf(expect, sizeof(expect), "qp_sched_elem qpn=%u req=2 resp=0 -> 0", q_mlx5->qp_num);
	CHECK(log_wait(expect), "QP attached to its leaf");
	CHECK(!strstr(verbs.slog(), "rate_limit dev=mlx5_0"),
	      "mlx5 RC must not try the rate limit");
	res = set_rate(m_mlx5.qp_id, 20500);
	CHECK(res.err == 0, "mlx5 change: %d", res.err);
	CHECK(log_wait("leaf_modify id=2 mbps=21 -> 0"), "leaf modified (rounded up)");

	/* A failing leaf modification is reported, not hidden. */
	verbs.sfail("leaf_modify", EINVAL);
	res = set_rate(m_mlx5.qp_id, 30000);
	CHECK(res.err == -EINVAL, "mlx5 leaf EINVAL: %d", res.err);

	/* irdma has no rate-limit op and is not mlx5: EOPNOTSUPP. */
	res = set_rate(m_irdma.qp_id, 10000);
	CHECK(res.err == -EOPNOTSUPP, "irdma: %d", res.err);

	/* EINVAL from the provider comes back as is. */
	verbs.sfail("rate_limit", EINVAL);
	res = set_rate(m_bnxt.qp_id, 20000);
	CHECK(res.err == -EINVAL, "bnxt EINVAL: %d", res.err);

	/* Under the device's least per-QP rate (qp_rate_limit_min, 1000
	 * kbit/s here), which it would refuse: raised to it. */
	verbs.slog_clear();
	res = set_rate(m_bnxt.qp_id, 200);
	CHECK(res.err == 0, "bnxt at 200 kbit/s: %d", res.err);
	snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=1000 -> 0",
		 q_bnxt->qp_num);
	CHECK(log_wait(expect), "rate raised to the device minimum");

	/* A QP before RTR: held, then programmed when it gets there. */
	verbs.slog_clear();
	res = set_rate(m_init.qp_id, 5000);
	CHECK(res.err == -EAGAIN, "INIT QP: %d", res.err);
	CHECK(!strstr(verbs.slog(), "rate_limit"), "nothing programmed before RTR");
	{
		struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTR };

		CHECK(verbs.modify_qp(q_init, &a, IBV_QP_STATE) == 0, "INIT QP to RTR");
	}
	snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=5000 -> 0",
		 q_init->qp_num);
	CHECK(log_wait(expect), "held rate applied at RTR");

	/* No such QP. */
	res = set_rate(999999, 1000);
	CHECK(res.err == -ENOENT, "unknown QP: %d", res.err);

	/* Malformed commands are dropped; the link stays up. */
	{
		struct tita_agent_set_rate m = { 0 };

		tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_RATE, sizeof(m));
		m.hdr.magic = 0xdeadbeef;
		send(conn_fd, &m, sizeof(m), 0);
		tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_RATE, sizeof(m) + 8);
		send(conn_fd, &m, sizeof(m), 0);
		send(conn_fd, &m, 7, 0);
		tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_RATE, sizeof(m));
		m.hdr.version = 2;
		send(conn_fd, &m, sizeof(m), 0);
		res = set_rate(m_bnxt.qp_id, 10000);
		CHECK(res.err == 0, "after garbage: %d", res.err);
	}

	/* UDP source ports: only mlx5 RC/UC QPs in RTS, and only while
	 * nothing they posted is in flight. */
	{
		struct ibv_sge sg = { .length = 4096 };
		struct ibv_send_wr w = { .sg_list = &sg,
					 .num_sge = 1,
					 .opcode = IBV_WR_RDMA_WRITE,
					 .send_flags = IBV_SEND_SIGNALED };
		struct ibv_send_wr *bad = NULL;
		struct ibv_wc wc[4];
		struct ibv_qp *qs = make_qp(&d[0], IBV_QPS_RTS), *qr, *qd;
		struct tita_agent_qp ms, mr, md;
		uint32_t seq, seq2;

		CHECK(wait_qp(qs->qp_num, IBV_QPS_RTS, &ms), "sport QP not registered");
		verbs.slog_clear();
		sport_try(ms.qp_id, 0, 0, -EINVAL, "port 0");
		sport_try(999999, 50000, 0, -ENOENT, "no such QP");
		sport_try(m_bnxt.qp_id, 50000, 1000, -EOPNOTSUPP,
			  "bnxt_re cannot move a QP in RTS");
		CHECK(!strstr(verbs.slog(), "udp_sport"), "nothing called for refused changes");

		/* Idle in RTS: at once, and titad hears the new port. */
		sport_try(ms.qp_id, 50001, 0, 0, "idle QP");
		sport_applied(qs, &ms, 50001);

		/* A write in flight: not now (max_wait 0), else held until it
		 * completes, and only then. */
		w.wr_id = 21;
		CHECK(ibv_post_send(qs, &w, &bad) == 0, "post");
		sport_try(ms.qp_id, 52000, 0, -EBUSY, "in flight, no wait");
		seq = sport_try(ms.qp_id, 52000, 5000, -EINPROGRESS, "in flight: held");
		usleep(100000);
		CHECK(!strstr(verbs.slog(), "sport=52000"), "moved with a write in flight");
		verbs.scomplete(d[0].cq, qs->qp_num, 21);
		CHECK(ibv_poll_cq(d[0].cq, 4, wc) == 1, "poll");
		sport_expect(seq, 0, "held change after the completion");
		sport_applied(qs, &ms, 52000);

		/* A newer change replaces a held one; a held one times out. */
		w.wr_id = 22;
		CHECK(ibv_post_send(qs, &w, &bad) == 0, "post");
		seq = sport_try(ms.qp_id, 53000, 5000, -EINPROGRESS, "held");
		seq2 = sport_send(ms.qp_id, 54000, 100);
		sport_expect(seq, -ECANCELED, "replaced");
		sport_expect(seq2, -EINPROGRESS, "the newer held");
		sport_expect(seq2, -ETIMEDOUT, "never idle within 100 ms");
		CHECK(!strstr(verbs.slog(), "sport=53000") && !strstr(verbs.slog(), "sport=54000"),
		      "a replaced or timed-out change was applied");

		/* The provider's refusal comes back as is. */
		verbs.scomplete(d[0].cq, qs->qp_num, 22);
		CHECK(ibv_poll_cq(d[0].cq, 4, wc) == 1, "poll");
		verbs.sfail("udp_sport", EINVAL);
		sport_try(ms.qp_id, 55000, 0, -EINVAL, "provider refused");

		/* Before RTS: held, and set on the way to RTS. */
		qr = make_qp(&d[0], IBV_QPS_RTR);
		CHECK(wait_qp(qr->qp_num, IBV_QPS_RTR, &mr), "RTR QP not registered");
		CHECK(mr.caps & TITA_AGENT_CAP_UDP_SPORT, "RTR mlx5 QP caps %#x", mr.caps);
		sport_try(mr.qp_id, 56000, 0, -EBUSY, "RTR, no wait");
		seq = sport_try(mr.qp_id, 56000, 5000, -EINPROGRESS, "RTR: held");
		{
			struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTS };

			CHECK(verbs.modify_qp(qr, &a, IBV_QP_STATE) == 0, "RTR QP to RTS");
		}
		sport_expect(seq, 0, "held change at RTS");
		sport_applied(qr, &mr, 56000);

		/* Destroyed while held: cancelled, before its QP_DEL. */
		qd = make_qp(&d[0], IBV_QPS_RTS);
		CHECK(wait_qp(qd->qp_num, IBV_QPS_RTS, &md), "QP not registered");
		w.wr_id = 23;
		CHECK(ibv_post_send(qd, &w, &bad) == 0, "post");
		seq = sport_try(md.qp_id, 57000, 5000, -EINPROGRESS, "held");
		CHECK(verbs.destroy_qp(qd) == 0, "destroy");
		/* The result first: a QP_DEL before it is skipped here and
		 * missed below. */
		sport_expect(seq, -ECANCELED, "destroyed while held");
		{
			struct tita_agent_qp_del *del = (void *)buf;

			CHECK(recv_type(TITA_AGENT_QP_DEL, buf) > 0 && del->qp_id == md.qp_id,
			      "QP_DEL after the cancelled change");
		}
		verbs.destroy_qp(qs);
		verbs.destroy_qp(qr);
	}

	/* Demand: bytes through the inline post/poll, which jump through the
	 * context's ops table the agent chained. */
	{
		struct ibv_sge sg[2] = { { .length = 1000 }, { .length = 500 } };
		struct ibv_send_wr w2 = { .wr_id = 7,
					  .sg_list = &sg[1],
					  .num_sge = 1,
					  .opcode = IBV_WR_RDMA_WRITE,
					  .send_flags = IBV_SEND_SIGNALED };
		struct ibv_send_wr w1 = { .wr_id = 6,
					  .next = &w2,
					  .sg_list = &sg[0],
					  .num_sge = 1,
					  .opcode = IBV_WR_SEND };
		struct ibv_send_wr *bad = NULL;
		struct ibv_wc wc[4];
		struct tita_agent_stats *st = (void *)buf;
		uint64_t end = now_ms() + 5000;
		bool seen = false;

		CHECK(ibv_post_send(q_bnxt, &w1, &bad) == 0, "post_send");
		verbs.scomplete(d[1].cq, q_bnxt->qp_num, 7);
		CHECK(ibv_poll_cq(d[1].cq, 4, wc) == 1 && wc[0].wr_id == 7, "poll_cq");
		/* The provider fails the second WR: only the first counts. */
		verbs.sfail("post_send", ENOMEM);
		CHECK(ibv_post_send(q_bnxt, &w1, &bad) == ENOMEM && bad == &w2, "failed post");
		while (!seen && now_ms() < end && recv_type(TITA_AGENT_STATS, buf) > 0)
			for (uint32_t i = 0; i < st->n; i++)
				if (st->qps[i].qp_id == m_bnxt.qp_id &&
				    st->qps[i].bytes_posted == 2500 &&
				    st->qps[i].bytes_completed == 1500)
					seen = true;
		CHECK(seen, "STATS with 2500 bytes posted, 1500 completed");
	}

	/* Unscheduled first bytes (1.3): the QP goes unpaced at once, and its
	 * rate applies once that many more bytes are posted, answered with
	 * a second RATE_RESULT; a command as 1.2 sent it applies at once. */
	{
		struct ibv_sge sg = { .length = 2000 };
		struct ibv_send_wr w = {
			.wr_id = 9, .sg_list = &sg, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE
		};
		struct ibv_send_wr *bad = NULL;
		struct tita_agent_rate_result *r2 = (void *)buf;
		uint32_t seq;
		bool second = false;

		CHECK(m_bnxt.caps & TITA_AGENT_CAP_UNSCHED, "caps %#x", m_bnxt.caps);
		verbs.slog_clear();
		res = set_rate_after(m_bnxt.qp_id, 8000, 3000, sizeof(struct tita_agent_set_rate));
		seq = res.seq;
		CHECK(res.err == 0, "unscheduled: %d", res.err);
		snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=0 -> 0",
			 q_bnxt->qp_num);
		CHECK(log_wait(expect), "unpaced for the first bytes");
		CHECK(ibv_post_send(q_bnxt, &w, &bad) == 0, "post 2000");
		usleep(100000);
		CHECK(!strstr(verbs.slog(), "kbps=8000"), "rate before its bytes:\n%s",
		      verbs.slog());
		CHECK(ibv_post_send(q_bnxt, &w, &bad) == 0, "post 2000 more");
		snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=8000 -> 0",
			 q_bnxt->qp_num);
		CHECK(log_wait(expect), "the rate after the unscheduled bytes");
		while (!second && recv_type(TITA_AGENT_RATE_RESULT, buf) > 0)
			second = r2->seq == seq && r2->rate_kbps == 8000 && r2->err == 0;
		CHECK(second, "no second RATE_RESULT for seq %u", seq);

		/* A later command ends what is left: armed for 1 MB, then
		 * a plain rate, then the bytes: nothing more happens. */
		verbs.slog_clear();
		res = set_rate_after(m_bnxt.qp_id, 6000, 1000000,
				     sizeof(struct tita_agent_set_rate));
		CHECK(res.err == 0, "armed again: %d", res.err);
		res = set_rate_after(m_bnxt.qp_id, 7000, 5000, TITA_AGENT_SET_RATE_LEN_1_2);
		CHECK(res.err == 0, "1.2 command: %d", res.err);
		snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=7000 -> 0",
			 q_bnxt->qp_num);
		CHECK(log_wait(expect), "a 1.2 command's rate at once");
		for (int i = 0; i < 600; i++)
			CHECK(ibv_post_send(q_bnxt, &w, &bad) == 0, "post");
		usleep(100000);
		CHECK(!strstr(verbs.slog(), "kbps=6000"), "a disarmed rate applied:\n%s",
		      verbs.slog());

		/* Bytes the agent never sees (the extended post API) do not
		 * leave the QP unpaced: the rate applies by its deadline. */
		verbs.slog_clear();
		res = set_rate_after(m_bnxt.qp_id, 9000, 1000000,
				     sizeof(struct tita_agent_set_rate));
		CHECK(res.err == 0, "armed, nothing posted: %d", res.err);
		snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=9000 -> 0",
			 q_bnxt->qp_num);
		CHECK(log_wait(expect), "the rate by its deadline with nothing posted");
	}

	/* titad goes away: every paced QP returns to unpaced. */
	verbs.slog_clear();
	close(conn_fd);
	conn_fd = -1;
	snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=0 -> 0",
		 q_bnxt->qp_num);
	CHECK(log_wait(expect), "bnxt QP unpaced");
	CHECK(log_wait("leaf_modify id=2 mbps=0 -> 0"), "mlx5 leaf unlimited");
	snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=0 -> 0",
		 q_init->qp_num);
	CHECK(log_wait(expect), "held-then-applied QP unpaced");

	/* titad comes back: the agent reconnects and registers again, with
	 * the counters titad counts the QP from on this connection. */
	accept_agent();
	CHECK(wait_qp(q_bnxt->qp_num, IBV_QPS_RTS, &m_bnxt), "re-registration");
	/* 2500, and the unscheduled bytes' 602 posts of 2000. */
	CHECK(m_bnxt.bytes_posted == 2500 + 602 * 2000 && m_bnxt.bytes_completed == 1500,
	      "re-registration counters: %llu posted, %llu completed",
	      (unsigned long long)m_bnxt.bytes_posted, (unsigned long long)m_bnxt.bytes_completed);

	/* Destruction: the leaf goes with the QP, titad hears of it, and
	 * of the bytes it completed last before that. */
	verbs.slog_clear();
	err = verbs_dl_write(&verbs, d[0].cq, q_mlx5, 300, 9);
	CHECK(!err, "%s", err);
	CHECK(verbs.destroy_qp(q_mlx5) == 0, "destroy");
	CHECK(log_wait("leaf_destroy id=2"), "leaf destroyed");
	{
		struct tita_agent_qp_del *del = (void *)buf;
		struct tita_agent_stats *st = (void *)buf;
		bool got = false, final = false;
		int len;

		/* Any message: the STATS must come before the QP_DEL. */
		while (!got && (len = recv_type(-1, buf)) > 0) {
			int type = tita_agent_msg_check(buf, (size_t)len);

			if (type == TITA_AGENT_STATS)
				for (uint32_t i = 0; i < st->n; i++)
					if (st->qps[i].qp_id == m_mlx5.qp_id &&
					    st->qps[i].bytes_posted == 300 &&
					    st->qps[i].bytes_completed == 300)
						final = true;
			if (type == TITA_AGENT_QP_DEL)
				got = del->qp_id == m_mlx5.qp_id;
		}
		CHECK(got, "QP_DEL");
		CHECK(final, "the QP's last bytes before its QP_DEL");
	}
	verbs.destroy_qp(q_bnxt);
	verbs.destroy_qp(q_irdma);
	verbs.destroy_qp(q_init);
	close(conn_fd);
	close(listen_fd);
	unlink(path);
	rmdir(dir);
	if (failures)
		fprintf(stderr, "%d failures; stand-in log:\n%s", failures, verbs.slog());
	return failures ? 1 : 0;
}
