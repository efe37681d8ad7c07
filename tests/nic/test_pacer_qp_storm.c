// SPDX-License-Identifier: MIT
/*
 * Finding 2: any local user may connect to the agent socket. One opened
 * 256 connections x 4,096 QP_ADD (1,048,576 QPs) and grew titad from 8 to
 * 255 MB, and 64 agents sending STATS made one pass take over a second
 * (QPs were found by a linear scan). Here an agent storm of this test's
 * uid against the qp back end with small bounds:
 *
 *   - agents and QPs beyond the per-uid and total bounds are refused and
 *     counted, whatever is sent;
 *   - one call reads a bounded number of messages, the rest waits;
 *   - QPs are found by id (a hash): every QP of a large table gets its
 *     counters from STATS, and deletions keep the table consistent.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
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

static struct sockaddr_un sa = { .sun_family = AF_UNIX };

static int agent(void)
{
	struct tita_agent_hello h = { 0 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	tita_agent_hdr_init(&h.hdr, TITA_AGENT_HELLO, sizeof(h));
	send(fd, &h, sizeof(h), 0);
	return fd;
}

/* QP_ADDs, connected to 10.0.0.<1 + id % 200>; false when the socket is
 * full (the rest is not sent). */
static bool add_qps(int fd, uint64_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct tita_agent_qp m;

		memset(&m, 0, sizeof(m));
		tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_ADD, sizeof(m));
		m.qp_id = first + i;
		m.qpn = (uint32_t)(first + i);
		m.qp_type = 2;
		m.state = 3;
		m.port_num = 1;
		m.sgid_index = 3;
		m.flags = TITA_AGENT_QP_HAS_REMOTE_GID;
		snprintf(m.dev_name, sizeof(m.dev_name), "mlx5_0");
		m.remote_gid[10] = m.remote_gid[11] = 0xff;
		m.remote_gid[12] = 10;
		m.remote_gid[15] = (uint8_t)(2 + (first + i) % 200);
		if (send(fd, &m, sizeof(m), 0) != sizeof(m))
			return false;
	}
	return true;
}

static void stats_msg(int fd, uint64_t first, uint32_t n, uint64_t bytes)
{
	char buf[TITA_AGENT_MSG_MAX];
	struct tita_agent_stats *m = (struct tita_agent_stats *)buf;

	memset(buf, 0, sizeof(buf));
	m->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tita_agent_qp_stat st = { .qp_id = first + i,
						 .bytes_posted = bytes,
						 .bytes_completed = bytes };

		memcpy(buf + sizeof(*m) + i * sizeof(st), &st, sizeof(st));
	}
	tita_agent_hdr_init(&m->hdr, TITA_AGENT_STATS,
			    sizeof(*m) + n * sizeof(struct tita_agent_qp_stat));
	send(fd, buf, sizeof(*m) + n * sizeof(struct tita_agent_qp_stat), 0);
}

static bool readable(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 0) == 1;
}

int main(void)
{
	char root[] = "/tmp/tita-storm-XXXXXX", path[PATH_MAX], cmd[PATH_MAX + 16], err[256] = "";
	uint8_t v4[4] = { 10, 0, 0, 1 };
	struct tita_pacer_port port = { .ifname = "eth0" };
	struct tita_pacer_env env = {
		.agent_socket_mode = 0600,
		.agents_per_uid = 8,
		.agent_qps_per_uid = 3000,
		.agent_qps = 100000,
	};
	struct tita_pacer_agent_stats st;
	struct tita_pacer *p;
	int fds[32], n_fds = 0;
	uint64_t sum = 0;
	FILE *f;

	if (!mkdtemp(root))
		return 1;
	snprintf(path, sizeof(path), "%s/class/infiniband/mlx5_0/ports/1/gid_attrs/ndevs", root);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	if (system(cmd))
		return 1;
	strcat(path, "/3");
	f = fopen(path, "w");
	fputs("eth0\n", f);
	fclose(f);
	port.addr = tita_addr_from_ipv4(v4);
	snprintf(env.agent_socket, sizeof(env.agent_socket), "%s/agent.sock", root);
	snprintf(env.sysfs_root, sizeof(env.sysfs_root), "%s", root);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", env.agent_socket);
	p = tita_pacer_new(&tita_pacer_qp_ops, &port, 1, &env);
	CHECK(p && p->ops->init(p, err, sizeof(err)) == 0, "init: %s", err);

	/* 32 agents of one uid: 8 are taken. */
	for (int i = 0; i < 32; i++) {
		int fd = agent();

		if (fd >= 0)
			fds[n_fds++] = fd;
		tita_pacer_qp_process(p, SEC);
	}
	tita_pacer_qp_stats(p, &st);
	CHECK(st.agents == 8 && st.agents_refused == 24, "agents %u, refused %llu", st.agents,
	      (unsigned long long)st.agents_refused);

	/* Each agent 4,096 QP_ADDs (as the socket takes them): 3,000 are
	 * taken in all, the rest refused. */
	for (int round = 0; round < 200; round++) {
		bool more = false;

		for (int i = 0; i < n_fds; i++)
			more |= !add_qps(fds[i], (uint64_t)i << 20 | (uint64_t)round * 64, 64);
		tita_pacer_qp_process(p, SEC + (uint64_t)round);
		(void)more;
		if ((round + 1) * 64 >= 4096)
			break;
	}
	for (int i = 0; i < 100; i++)
		tita_pacer_qp_process(p, 2 * SEC + (uint64_t)i);
	tita_pacer_qp_stats(p, &st);
	CHECK(st.qps == 3000, "QPs held: %u, want the per-uid bound 3000", st.qps);
	CHECK(st.qps_refused >= 8 * 4096 - 3000 - 8 * 200, "QPs refused: %llu",
	      (unsigned long long)st.qps_refused);

	/* STATS for every QP of agent 0, in full messages: each QP found. */
	{
		uint32_t per = (uint32_t)TITA_AGENT_STATS_MAX;

		for (uint64_t first = 0; first < 4096; first += per)
			stats_msg(fds[0], first, per, 1000);
		for (int i = 0; i < 20; i++)
			tita_pacer_qp_process(p, 3 * SEC + (uint64_t)i);
		for (uint32_t d = 2; d < 202; d++) {
			uint8_t r4[4] = { 10, 0, 0, (uint8_t)d };
			struct tita_addr remote = tita_addr_from_ipv4(r4);

			sum += tita_pacer_qp_pair_bytes(p, &port.addr, &remote, 0);
		}
		tita_pacer_qp_stats(p, &st);
		/* Agent 0 holds some of the 3000; each reported 1000 posted. */
		CHECK(sum > 0 && sum % 1000 == 0, "posted bytes over the pairs: %llu",
		      (unsigned long long)sum);
	}

	/* A storm of STATS: one call reads a bounded number of messages,
	 * the rest stays queued for the next calls. */
	for (int k = 0; k < 100; k++)
		for (int i = 0; i < n_fds; i++)
			stats_msg(fds[i], (uint64_t)i << 20, 16, 2000 + (uint64_t)k);
	tita_pacer_qp_process(p, 4 * SEC);
	CHECK(readable(tita_pacer_qp_fd(p)),
	      "one call read all 800 messages of 16 entries: not bounded");
	for (int i = 0; i < 10; i++)
		tita_pacer_qp_process(p, 4 * SEC + 1 + (uint64_t)i);
	CHECK(!readable(tita_pacer_qp_fd(p)), "the next calls read the rest");

	/* Agents leave: their QPs and uid counts go; new ones are taken. */
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	for (int i = 0; i < 5; i++)
		tita_pacer_qp_process(p, 5 * SEC + (uint64_t)i);
	tita_pacer_qp_stats(p, &st);
	CHECK(st.agents == 0 && st.qps == 0, "after leaving: agents %u qps %u", st.agents, st.qps);
	fds[0] = agent();
	tita_pacer_qp_process(p, 6 * SEC);
	add_qps(fds[0], 1, 10);
	tita_pacer_qp_process(p, 6 * SEC + 1);
	tita_pacer_qp_stats(p, &st);
	CHECK(st.agents == 1 && st.qps == 10, "a new agent: agents %u qps %u", st.agents, st.qps);
	close(fds[0]);

	p->ops->cleanup(p);
	tita_pacer_free(p);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		return 1;
	return failures ? 1 : 0;
}
