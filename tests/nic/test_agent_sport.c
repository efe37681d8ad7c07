// SPDX-License-Identifier: MIT
/*
 * A pair's path end to end: titad's qp back end (tita_pacer_qp_set_path)
 * and the real QP agent, preloaded into this program, which plays the
 * application with the stand-in verbs (mlx5dv_modify_qp_udp_sport records
 * each port it sets). Checked: both mlx5 RC QPs of the pair move and the
 * move is done; a QP with a write in flight holds the move until the write
 * completes, and only then moves; a QP that connects later takes the
 * pair's port; a QP on a provider that cannot move fails the move, the
 * others still move; a QP that never drains fails it after the wait.
 */
#include <errno.h>
#include <infiniband/verbs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentproto.h"
#include "pacer_nic.h"

#include "check.h"
#include "fake_sysfs.h"
#include "verbs_dl.h"

#define JOB 7

static struct verbs_dl verbs;
static struct tita_pacer *pacer;
static struct tita_addr local, remote;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t job_of_pid(pid_t pid, void *ctx)
{
	(void)pid;
	(void)ctx;
	return JOB;
}

static void titad_pass(void)
{
	tita_pacer_qp_process(pacer, now_ns());
}

static bool titad_until_qps(uint32_t qps)
{
	uint64_t end = now_ns() + 5000000000ull;
	struct tita_pacer_agent_stats st;

	do {
		titad_pass();
		tita_pacer_qp_stats(pacer, &st);
		if (st.qps == qps)
			return true;
		usleep(2000);
	} while (now_ns() < end);
	fprintf(stderr, "titad has %u QPs, not %u\n", st.qps, qps);
	return false;
}

/* Run titad for up to ms until a move is done: true with its port and
 * error. */
static bool titad_until_done(uint64_t ms, uint16_t *ret_sport, int *ret_err)
{
	uint64_t end = now_ns() + ms * 1000000ull;
	struct tita_path_update u;

	do {
		titad_pass();
		if (tita_pacer_qp_pop_path(pacer, &u, ret_err)) {
			*ret_sport = u.sport;
			return true;
		}
		usleep(2000);
	} while (now_ns() < end);
	return false;
}

static bool log_wait(const char *s)
{
	uint64_t end = now_ns() + 5000000000ull;

	do {
		if (strstr(verbs.slog(), s))
			return true;
		titad_pass();
		usleep(2000);
	} while (now_ns() < end);
	fprintf(stderr, "log has no \"%s\":\n%s", s, verbs.slog());
	return false;
}

static bool log_sport(const struct ibv_qp *qp, uint16_t sport)
{
	char expect[96];

	snprintf(expect, sizeof(expect), "udp_sport qpn=%u sport=%u -> 0", qp->qp_num, sport);
	return log_wait(expect);
}

static void open_dev(struct verbs_dl_dev *d, int index)
{
	CHECK(!verbs_dl_dev_open(&verbs, index, d), "device %d", index);
}

/* An RC QP towards ::ffff:10.0.0.2 from GID index 3 of port 1, up to upto. */
static struct ibv_qp *make_qp(struct verbs_dl_dev *d, enum ibv_qp_state upto)
{
	const char *err = NULL;
	struct ibv_qp *qp = verbs_dl_rc_qp(&verbs, d, upto, &err);

	CHECK(qp != NULL, "%s", err);
	return qp;
}

static void to_rts(struct ibv_qp *qp)
{
	const char *err = verbs_dl_rc_connect(&verbs, qp, IBV_QPS_INIT, IBV_QPS_RTS, 0x778);

	CHECK(!err, "%s", err);
}

/* A signalled write posted and left in flight. */
static void post_write(struct ibv_qp *qp, uint64_t wr_id)
{
	struct ibv_sge sg = { .length = 4096 };
	struct ibv_send_wr w = { .wr_id = wr_id,
				 .sg_list = &sg,
				 .num_sge = 1,
				 .opcode = IBV_WR_RDMA_WRITE,
				 .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad = NULL;

	CHECK(ibv_post_send(qp, &w, &bad) == 0, "post_send");
}

static void complete(struct verbs_dl_dev *d, struct ibv_qp *qp, uint64_t wr_id)
{
	struct ibv_wc wc[4];

	verbs.scomplete(d->cq, qp->qp_num, wr_id);
	CHECK(ibv_poll_cq(d->cq, 4, wc) == 1 && wc[0].wr_id == wr_id, "poll_cq");
}

static struct tita_path_update path(uint16_t sport)
{
	return (struct tita_path_update){
		.local = local, .remote = remote, .job_id = JOB, .sport = sport
	};
}

int main(void)
{
	char root[] = "/tmp/tita-asport-XXXXXX", err[256] = "";
	uint8_t v4[4] = { 10, 0, 0, 1 }, v4r[4] = { 10, 0, 0, 2 };
	struct tita_pacer_port port = { .ifname = "eth0" };
	struct tita_pacer_env conf = { .agent_socket_mode = 0666,
				       .job_of_pid = job_of_pid,
				       .sport_max_wait_ms = 200 };
	const char *pre = getenv("LD_PRELOAD");
	struct tita_pacer_agent_stats st;
	struct tita_path_update u;
	struct ibv_qp *q1, *q2, *q3, *qb;
	struct verbs_dl_dev mlx, bnxt;
	uint16_t sport = 0;
	int e = 1;
	const char *oe;

	if (!pre || !strstr(pre, "tita-agent")) {
		fprintf(stderr, "test-agent-sport: run with LD_PRELOAD=libtita-agent.so "
				"(meson test does)\n");
		return 1;
	}
	if (!mkdtemp(root) || !fake_sysfs_gid(root, "mlx5_0", "eth0") ||
	    !fake_sysfs_gid(root, "bnxt_re0", "eth0"))
		return 1;

	local = tita_addr_from_ipv4(v4);
	remote = tita_addr_from_ipv4(v4r);
	port.addr = local;
	snprintf(conf.agent_socket, sizeof(conf.agent_socket), "%s/agent.sock", root);
	snprintf(conf.sysfs_root, sizeof(conf.sysfs_root), "%s", root);
	pacer = tita_pacer_new(&tita_pacer_qp_ops, &port, 1, &conf);
	CHECK(pacer != NULL, "tita_pacer_new");
	CHECK(pacer->ops->init(pacer, err, sizeof(err)) == 0, "init: %s", err);
	setenv("TITA_AGENT_SOCKET", conf.agent_socket, 1);
	setenv("TITA_AGENT_STATS_MS", "10", 1);
	setenv("TITA_AGENT_RECONNECT_MS", "20", 1);
	oe = verbs_dl_open(&verbs);
	if (oe) {
		fprintf(stderr, "%s\n", oe);
		return 1;
	}

	open_dev(&mlx, 0);
	open_dev(&bnxt, 1);
	q1 = make_qp(&mlx, IBV_QPS_RTS);
	q2 = make_qp(&mlx, IBV_QPS_RTS);
	q3 = make_qp(&mlx, IBV_QPS_INIT);
	CHECK(titad_until_qps(3), "QPs not registered");

	/* Both connected QPs move; the one in INIT is not asked yet. */
	u = path(50001);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now_ns()) == 0, "set path");
	CHECK(titad_until_done(5000, &sport, &e) && sport == 50001 && e == 0, "move: %u %d", sport,
	      e);
	CHECK(log_sport(q1, 50001) && log_sport(q2, 50001), "both QPs set through mlx5dv");
	{
		char q3s[64];

		snprintf(q3s, sizeof(q3s), "udp_sport qpn=%u ", q3->qp_num);
		CHECK(!strstr(verbs.slog(), q3s), "the QP in INIT was moved");
	}

	/* The third QP connects: it takes the pair's port. */
	verbs.slog_clear();
	to_rts(q3);
	CHECK(log_sport(q3, 50001), "a QP that connects later takes the pair's port");

	/* A write in flight on q1: the move waits for it, then goes. */
	verbs.slog_clear();
	post_write(q1, 11);
	u = path(52000);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now_ns()) == 0, "set path");
	CHECK(!titad_until_done(100, &sport, &e), "done with a write in flight");
	CHECK(log_sport(q2, 52000) && log_sport(q3, 52000), "the idle QPs moved");
	{
		char q1s[64];

		snprintf(q1s, sizeof(q1s), "udp_sport qpn=%u ", q1->qp_num);
		CHECK(!strstr(verbs.slog(), q1s), "q1 moved with a write in flight");
	}
	complete(&mlx, q1, 11);
	CHECK(titad_until_done(5000, &sport, &e) && sport == 52000 && e == 0,
	      "move after the write completed: %u %d", sport, e);
	CHECK(log_sport(q1, 52000), "q1 moved once idle");

	/* A QP that never drains within the wait: the move fails. */
	post_write(q1, 12);
	u = path(53000);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now_ns()) == 0, "set path");
	CHECK(titad_until_done(5000, &sport, &e) && sport == 53000 && e == -ETIMEDOUT,
	      "never idle: %u %d", sport, e);
	complete(&mlx, q1, 12);

	/* A QP on bnxt_re in the pair: it cannot move, the move fails; the
	 * mlx5 QPs still move. */
	qb = make_qp(&bnxt, IBV_QPS_RTS);
	CHECK(titad_until_qps(4), "bnxt QP not registered");
	verbs.slog_clear();
	u = path(54000);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now_ns()) == 0, "set path");
	CHECK(titad_until_done(5000, &sport, &e) && sport == 54000 && e == -EOPNOTSUPP,
	      "a QP that cannot move: %u %d", sport, e);
	CHECK(log_sport(q1, 54000) && log_sport(q2, 54000) && log_sport(q3, 54000),
	      "the mlx5 QPs moved");
	(void)qb;

	tita_pacer_qp_stats(pacer, &st);
	CHECK(st.paths_applied == 2 && st.paths_failed == 2 && st.protocol_errors == 0,
	      "applied %llu failed %llu protocol errors %llu", (unsigned long long)st.paths_applied,
	      (unsigned long long)st.paths_failed, (unsigned long long)st.protocol_errors);

	pacer->ops->cleanup(pacer);
	tita_pacer_free(pacer);
	CHECK(fake_sysfs_remove(root), "rm %s", root);
	if (failures)
		fprintf(stderr, "%d failures; stand-in log:\n%s", failures, verbs.slog());
	return failures ? 1 : 0;
}
