// SPDX-License-Identifier: MIT
/*
 * The QP agent across fork(), against titad's real qp back end. This
 * program is the application (it runs with LD_PRELOAD=libtita-agent.so
 * and loads the stand-in libibverbs as NCCL does, dlopen + dlvsym) and
 * titad (it runs tita_pacer_qp_ops on a fake sysfs GID table).
 *
 * The parent registers two QPs, sends traffic and is paced; then it forks.
 * The child opens its own device and connects a QP. Checked: titad sees
 * the child on a connection of its own, with the child's PID (SO_PEERCRED,
 * hence the child's job), and paces the child's QP there; the child never
 * writes on the parent's connection nor touches the parent's QPs; the
 * parent's connection survives the child, and its QPs stay registered,
 * paced and revertable. Each process's bytes arrive as its own job's
 * tx samples (tita_pacer_qp_tx_samples()).
 */
#include <errno.h>
#include <infiniband/verbs.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentproto.h"
#include "pacer_nic.h"

#include "check.h"
#include "fake_sysfs.h"
#include "verbs_dl.h"

#define PARENT_JOB 7
#define CHILD_JOB 8

static struct verbs_dl verbs;

/* titad's side. */
static struct tita_pacer *pacer;
static struct tita_addr local, remote;
static pid_t parent_pid, peer_child_pid;
static int parent_connections;
static uint64_t tx_bytes_of_job[CHILD_JOB + 1];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Who connected, by SO_PEERCRED: the parent is one job, any other PID
 * (the child) another. */
static uint32_t job_of_pid(pid_t pid, void *ctx)
{
	(void)ctx;
	if (pid == parent_pid) {
		parent_connections++;
		return PARENT_JOB;
	}
	peer_child_pid = pid;
	return CHILD_JOB;
}

static void on_sample(const struct tita_tx_sample *s, void *ctx)
{
	(void)ctx;
	if (s->job_id <= CHILD_JOB)
		tx_bytes_of_job[s->job_id] += s->tx_bytes;
}

/* One titad pass: agents' messages, then the samples. */
static void titad_pass(void)
{
	uint64_t t = now_ns();

	tita_pacer_qp_process(pacer, t);
	tita_pacer_qp_tx_samples(pacer, t, on_sample, NULL);
}

/* Run titad passes until the agents and QPs titad knows are as given. */
static bool titad_until(uint32_t agents, uint32_t qps)
{
	uint64_t end = now_ns() + 5000000000ull;
	struct tita_pacer_agent_stats st;

	do {
		titad_pass();
		tita_pacer_qp_stats(pacer, &st);
		if (st.agents == agents && st.qps == qps)
			return true;
		usleep(2000);
	} while (now_ns() < end);
	fprintf(stderr, "titad has %u agents and %u QPs, not %u and %u\n", st.agents, st.qps,
		agents, qps);
	return false;
}

/* Run titad passes until the job's tx samples add up to bytes. */
static bool titad_until_tx(uint32_t job, uint64_t bytes)
{
	uint64_t end = now_ns() + 5000000000ull;

	do {
		titad_pass();
		if (tx_bytes_of_job[job] == bytes)
			return true;
		usleep(2000);
	} while (now_ns() < end);
	fprintf(stderr, "job %u: %llu bytes sampled, not %llu\n", job,
		(unsigned long long)tx_bytes_of_job[job], (unsigned long long)bytes);
	return false;
}

/* Wait up to 5 s for this process's stand-in log to contain s, running
 * titad passes (in the parent) meanwhile. */
static bool log_wait(const char *s, bool titad)
{
	uint64_t end = now_ns() + 5000000000ull;

	do {
		if (strstr(verbs.slog(), s))
			return true;
		if (titad)
			titad_pass();
		usleep(2000);
	} while (now_ns() < end);
	fprintf(stderr, "[%d] log has no \"%s\":\n%s", (int)getpid(), s, verbs.slog());
	return false;
}

static bool log_rate(const struct ibv_qp *qp, uint64_t kbps, bool titad)
{
	char expect[128];

	snprintf(expect, sizeof(expect), "rate_limit dev=bnxt_re0 qpn=%u kbps=%llu -> 0",
		 qp->qp_num, (unsigned long long)kbps);
	return log_wait(expect, titad);
}

/* Wait for qp to be paced at any nonzero rate: a pair's split follows its
 * QPs' demand. */
static bool log_paced(const struct ibv_qp *qp)
{
	uint64_t end = now_ns() + 5000000000ull;
	char prefix[96];

	snprintf(prefix, sizeof(prefix), "rate_limit dev=bnxt_re0 qpn=%u kbps=", qp->qp_num);
	do {
		for (const char *l = strstr(verbs.slog(), prefix); l; l = strstr(l + 1, prefix)) {
			char *rest;
			unsigned long long kbps = strtoull(l + strlen(prefix), &rest, 10);

			if (kbps > 0 && !strncmp(rest, " -> 0\n", 6))
				return true;
		}
		titad_pass();
		usleep(2000);
	} while (now_ns() < end);
	fprintf(stderr, "log has no nonzero rate for QP %u:\n%s", qp->qp_num, verbs.slog());
	return false;
}

/* bnxt_re0: paced with ibv_modify_qp_rate_limit, which the log shows. */
static void open_bnxt(struct verbs_dl_dev *d)
{
	CHECK(!verbs_dl_dev_open(&verbs, 1, d), "device bnxt_re0");
}

/* An RC QP in RTS towards ::ffff:10.0.0.2 from GID index 3 of port 1. */
static struct ibv_qp *make_qp(struct verbs_dl_dev *d)
{
	const char *err = NULL;
	struct ibv_qp *qp = verbs_dl_rc_qp(&verbs, d, IBV_QPS_RTS, &err);

	CHECK(qp != NULL, "%s", err);
	return qp;
}

/* Post one signalled RDMA write of bytes and complete it. */
static void send_bytes(struct verbs_dl_dev *d, struct ibv_qp *qp, uint32_t bytes, uint64_t wr_id)
{
	const char *err = verbs_dl_write(&verbs, d->cq, qp, bytes, wr_id);

	CHECK(!err, "%s", err);
}

/* The child: a process of its own, which happens to hold copies of the
 * parent's agent state, verbs objects and titad. It touches only its own
 * device, and reports through its exit status. */
static int child_main(int go_fd, struct ibv_qp *const parent_qps[2])
{
	struct verbs_dl_dev d;
	struct ibv_qp *qp;
	struct pollfd pfd = { go_fd, POLLIN, 0 };
	char expect[64];
	char c;

	failures = 0;
	verbs.slog_clear();
	open_bnxt(&d);
	qp = make_qp(&d);
	/* titad found the child's QP and paced it at the child job's rate. */
	CHECK(log_rate(qp, 3000000, false), "the child's QP is not paced");
	send_bytes(&d, qp, 4000, 1);
	/* Until titad has seen the child's bytes. */
	CHECK(poll(&pfd, 1, 10000) == 1 && read(go_fd, &c, 1) == 1, "no word from the parent");
	for (int i = 0; i < 2; i++) {
		snprintf(expect, sizeof(expect), "qpn=%u ", parent_qps[i]->qp_num);
		CHECK(!strstr(verbs.slog(), expect), "the child touched the parent's QP %u:\n%s",
		      parent_qps[i]->qp_num, verbs.slog());
	}
	return failures ? 1 : 0;
}

int main(void)
{
	char root[] = "/tmp/tita-afork-XXXXXX", err[256] = "";
	uint8_t v4[4] = { 10, 0, 0, 1 }, v4r[4] = { 10, 0, 0, 2 };
	struct tita_pacer_port port = { .ifname = "eth0" };
	struct tita_pacer_env conf = { .agent_socket_mode = 0666, .job_of_pid = job_of_pid };
	struct tita_pacer_agent_stats st;
	const char *pre = getenv("LD_PRELOAD");
	struct ibv_qp *qps[2];
	struct verbs_dl_dev d;
	int go[2], status = -1;
	pid_t child;
	const char *e;

	if (!pre || !strstr(pre, "tita-agent")) {
		fprintf(stderr, "test-agent-fork: run with LD_PRELOAD=libtita-agent.so "
				"(meson test does)\n");
		return 1;
	}
	if (!mkdtemp(root))
		return 1;
	if (!fake_sysfs_gid(root, "bnxt_re0", "eth0"))
		return 1;

	/* titad. */
	parent_pid = getpid();
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

	/* The application. */
	e = verbs_dl_open(&verbs);
	if (e) {
		fprintf(stderr, "%s\n", e);
		return 1;
	}

	open_bnxt(&d);
	qps[0] = make_qp(&d);
	qps[1] = make_qp(&d);
	CHECK(titad_until(1, 2), "the parent's QPs are not registered");
	send_bytes(&d, qps[0], 1500, 1);
	CHECK(titad_until_tx(PARENT_JOB, 1500), "the parent's bytes are not sampled");
	CHECK(tita_pacer_apply(pacer, &local, &remote, PARENT_JOB, 10000000000ull) == 0,
	      "pace the parent");
	CHECK(log_paced(qps[0]) && log_paced(qps[1]), "the parent's QPs are not paced");

	CHECK(pipe(go) == 0, "pipe");
	verbs.slog_clear();
	child = fork();
	if (child == 0) {
		close(go[1]);
		_exit(child_main(go[0], qps));
	}
	close(go[0]);
	CHECK(child > 0, "fork: %m");

	/* The child connects on its own, as itself. */
	CHECK(titad_until(2, 3), "the child did not register on a connection of its own");
	CHECK(peer_child_pid == child, "peer PID %d, the child is %d", (int)peer_child_pid,
	      (int)child);
	CHECK(tita_pacer_apply(pacer, &local, &remote, CHILD_JOB, 3000000000ull) == 0,
	      "pace the child");
	/* The child checks its QP got that rate, then sends. */
	CHECK(titad_until_tx(CHILD_JOB, 4000), "the child's bytes are not sampled as its job");
	CHECK(tx_bytes_of_job[PARENT_JOB] == 1500, "the parent's job has %llu bytes",
	      (unsigned long long)tx_bytes_of_job[PARENT_JOB]);
	CHECK(write(go[1], "x", 1) == 1, "write");
	close(go[1]);
	{
		uint64_t end = now_ns() + 10000000000ull;
		pid_t w = 0;

		while (w == 0 && now_ns() < end) {
			titad_pass();
			w = waitpid(child, &status, WNOHANG);
			usleep(2000);
		}
		if (w == 0) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
		}
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %#x)",
	      status);

	/* The child is gone; the parent's connection and QPs are as they
	 * were: never dropped (the agent did not reconnect), never unpaced. */
	CHECK(titad_until(1, 2), "the parent's QPs after the child");
	CHECK(parent_connections == 1, "the parent connected %d times", parent_connections);
	CHECK(!strstr(verbs.slog(), "kbps=0"), "a parent's QP was unpaced:\n%s", verbs.slog());
	tita_pacer_qp_stats(pacer, &st);
	CHECK(st.protocol_errors == 0, "protocol errors %llu",
	      (unsigned long long)st.protocol_errors);
	/* Still paced, and revertable. */
	verbs.slog_clear();
	CHECK(tita_pacer_apply(pacer, &local, &remote, PARENT_JOB, 2000000000ull) == 0,
	      "re-pace the parent");
	CHECK(log_paced(qps[0]) && log_paced(qps[1]),
	      "the parent's QPs are not paced after the fork");
	CHECK(tita_pacer_apply(pacer, &local, &remote, PARENT_JOB, TITA_RATE_UNPACED) == 0,
	      "unpace the parent");
	CHECK(log_rate(qps[0], 0, true) && log_rate(qps[1], 0, true),
	      "the parent's QPs are not unpaced");
	/* And its traffic is still its job's. */
	send_bytes(&d, qps[1], 700, 2);
	CHECK(titad_until_tx(PARENT_JOB, 1500 + 700), "the parent's bytes after the fork");

	pacer->ops->cleanup(pacer);
	tita_pacer_free(pacer);
	CHECK(fake_sysfs_remove(root), "rm %s", root);
	if (failures)
		fprintf(stderr, "%d failures; stand-in log:\n%s", failures, verbs.slog());
	return failures ? 1 : 0;
}
