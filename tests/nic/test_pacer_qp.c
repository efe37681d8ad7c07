// SPDX-License-Identifier: MIT
/*
 * The qp back end against a fake agent speaking the agent protocol: QPs
 * are mapped onto pairs (local port from the GID table in a fake sysfs,
 * remote from the GID, job from the peer's PID), a pair's rate is split
 * by demand, clears unpace, results and malformed messages are counted,
 * and an agent of another protocol version is dropped.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentproto.h"
#include "pacer_nic.h"

#include "check.h"

#define SEC 1000000000ull

static uint32_t job_of_pid(pid_t pid, void *ctx)
{
	(void)ctx;
	return pid == getpid() ? 7 : 0;
}

static void send_qp_caps(int fd, uint64_t id, uint8_t last_octet, uint8_t state, uint32_t caps)
{
	struct tita_agent_qp m;

	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_ADD, sizeof(m));
	m.qp_id = id;
	m.qpn = 0x100 + (uint32_t)id;
	m.qp_type = 2;
	m.state = state;
	m.port_num = 1;
	m.sgid_index = 3;
	m.provider = TITA_AGENT_PROV_MLX5;
	m.flags = TITA_AGENT_QP_HAS_REMOTE_GID;
	snprintf(m.dev_name, sizeof(m.dev_name), "mlx5_0");
	m.remote_gid[10] = m.remote_gid[11] = 0xff;
	m.remote_gid[12] = 10;
	m.remote_gid[15] = last_octet;
	m.caps = caps;
	CHECK(send(fd, &m, sizeof(m), 0) == sizeof(m), "send QP_ADD");
}

static void send_qp(int fd, uint64_t id, uint8_t last_octet, uint8_t state)
{
	send_qp_caps(fd, id, last_octet, state, 0);
}

/* The unscheduled bytes of the last SET_RATE to each qp_id. */
static uint64_t unsched_by_id[8];

/* Collect SET_RATE commands: rate per qp_id (index), count returned. */
static int drain(int fd, uint64_t *rate_by_id, size_t max_id)
{
	char buf[TITA_AGENT_MSG_MAX];
	int n = 0;
	struct pollfd pfd = { fd, POLLIN, 0 };

	while (poll(&pfd, 1, 100) == 1) {
		ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct tita_agent_set_rate m;

		if (len <= 0)
			break;
		if (tita_agent_msg_check(buf, (size_t)len) != TITA_AGENT_SET_RATE)
			continue;
		memcpy(&m, buf, sizeof(m));
		if (m.qp_id < max_id) {
			rate_by_id[m.qp_id] = m.rate_kbps;
			if (m.qp_id < sizeof(unsched_by_id) / sizeof(unsched_by_id[0]))
				unsched_by_id[m.qp_id] = m.unsched_bytes;
		}
		n++;
	}
	return n;
}

int main(void)
{
	char root[] = "/tmp/tita-pqp-XXXXXX", path[PATH_MAX], cmd[PATH_MAX + 16], err[256] = "";
	uint8_t v4[4] = { 10, 0, 0, 1 }, v4r[4] = { 10, 0, 0, 2 };
	struct tita_pacer_port port = { .ifname = "eth0" };
	struct tita_pacer_env conf = { .agent_socket_mode = 0666, .job_of_pid = job_of_pid };
	struct tita_addr local, remote;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tita_pacer_agent_stats st;
	struct tita_pacer *p;
	uint64_t rate[8] = { 0 };
	FILE *f;
	int fd, r;

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

	local = tita_addr_from_ipv4(v4);
	remote = tita_addr_from_ipv4(v4r);
	port.addr = local;
	snprintf(conf.agent_socket, sizeof(conf.agent_socket), "%s/agent.sock", root);
	snprintf(conf.sysfs_root, sizeof(conf.sysfs_root), "%s", root);
	p = tita_pacer_new(&tita_pacer_qp_ops, &port, 1, &conf);
	CHECK(p != NULL, "tita_pacer_new");
	r = p->ops->init(p, err, sizeof(err));
	CHECK(r == 0, "init: %d %s", r, err);
	CHECK(tita_pacer_qp_fd(p) >= 0, "fd");

	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", conf.agent_socket);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %m");
	{
		struct tita_agent_hello h = { 0 };

		tita_agent_hdr_init(&h.hdr, TITA_AGENT_HELLO, sizeof(h));
		h.pid = 1; /* ignored: SO_PEERCRED says who it is */
		send(fd, &h, sizeof(h), 0);
	}
	send_qp(fd, 1, 2, 3);
	send_qp(fd, 2, 2, 3);
	send_qp(fd, 3, 3, 3); /* another destination */
	send_qp(fd, 4, 2, 1); /* INIT: not connected yet */
	tita_pacer_qp_process(p, 1 * SEC);
	tita_pacer_qp_stats(p, &st);
	CHECK(st.agents == 1 && st.qps == 4, "agents %u qps %u", st.agents, st.qps);

	/* No demand yet: an even split. */
	CHECK(tita_pacer_apply(p, &local, &remote, 7, 10 * 1000000000ull) == 0, "set");
	CHECK(drain(fd, rate, 8) == 2, "two commands");
	CHECK(rate[1] == 5000000 && rate[2] == 5000000, "even split: %llu %llu",
	      (unsigned long long)rate[1], (unsigned long long)rate[2]);
	CHECK(rate[3] == 0 && rate[4] == 0, "other pair and INIT QP untouched");

	/* QP 1 sends 1 Gbit/s for a second, QP 2 nothing: re-split. */
	{
		char buf[sizeof(struct tita_agent_stats) + 2 * sizeof(struct tita_agent_qp_stat)];
		struct tita_agent_stats *s = (void *)buf;

		memset(buf, 0, sizeof(buf));
		tita_agent_hdr_init(&s->hdr, TITA_AGENT_STATS, sizeof(buf));
		s->n = 2;
		s->qps[0] = (struct tita_agent_qp_stat){ .qp_id = 1, .bytes_posted = 125000000 };
		s->qps[1] = (struct tita_agent_qp_stat){ .qp_id = 2, .bytes_posted = 0 };
		send(fd, buf, sizeof(buf), 0);
	}
	tita_pacer_qp_process(p, 2 * SEC);
	CHECK(drain(fd, rate, 8) == 2, "re-split commands");
	/* 25 % evenly, 75 % by demand: 8.75 and 1.25 Gbit/s. */
	CHECK(rate[1] == 8750000 && rate[2] == 1250000, "demand split: %llu %llu",
	      (unsigned long long)rate[1], (unsigned long long)rate[2]);
	CHECK(tita_pacer_qp_pair_bytes(p, &local, &remote, 7) == 125000000, "pair bytes");
	CHECK(tita_pacer_qp_pair_bytes(p, &local, &remote, 8) == 0, "other job: no bytes");

	/* A small change is not worth a command. */
	CHECK(tita_pacer_apply(p, &local, &remote, 7, 10100000000ull) == 0, "set +1 %%");
	CHECK(drain(fd, rate, 8) == 0, "no churn for 1 %%");

	/* The INIT QP connects: it joins the pair's split at once. */
	send_qp(fd, 4, 2, 3);
	tita_pacer_qp_process(p, 2 * SEC + 1);
	CHECK(drain(fd, rate, 8) >= 1 && rate[4] > 0, "QP 4 paced after RTS");

	/* A message's unscheduled first bytes: split among the QPs whose
	 * agents carry them (1 and 2), each commanded though its rate did
	 * not move; QP 4's agent cannot, and its rate did not move: no
	 * command. A plain rate after it carries none. */
	send_qp_caps(fd, 1, 2, 3, TITA_AGENT_CAP_UNSCHED);
	send_qp_caps(fd, 2, 2, 3, TITA_AGENT_CAP_UNSCHED);
	tita_pacer_qp_process(p, 2 * SEC + 1);
	drain(fd, rate, 8);
	{
		struct tita_rate_update u = {
			.local = local, .remote = remote, .job_id = 7, .unsched_bytes = 30001
		};
		uint64_t r4 = rate[4];

		memset(unsched_by_id, 0, sizeof(unsched_by_id));
		CHECK(tita_pacer_apply_update(p, &u, 10100000000ull) == 0, "set after");
		CHECK(drain(fd, rate, 8) == 2, "two commands with unscheduled bytes");
		CHECK(unsched_by_id[1] == 15001 && unsched_by_id[2] == 15001 &&
			      unsched_by_id[4] == 0,
		      "unscheduled split: %llu %llu %llu", (unsigned long long)unsched_by_id[1],
		      (unsigned long long)unsched_by_id[2], (unsigned long long)unsched_by_id[4]);
		CHECK(rate[4] == r4, "QP 4 left as it was");
		tita_pacer_qp_stats(p, &st);
		CHECK(st.unsched_commands == 2, "unscheduled commands %llu",
		      (unsigned long long)st.unsched_commands);
		CHECK(tita_pacer_apply(p, &local, &remote, 7, 20 * 1000000000ull) == 0, "set");
		memset(unsched_by_id, 0xff, sizeof(unsched_by_id));
		CHECK(drain(fd, rate, 8) == 3, "three plain commands");
		CHECK(unsched_by_id[1] == 0 && unsched_by_id[2] == 0 && unsched_by_id[4] == 0,
		      "a plain rate carries no unscheduled bytes");
	}

	/* A rate result with an error is counted. */
	{
		struct tita_agent_rate_result res = { 0 };

		tita_agent_hdr_init(&res.hdr, TITA_AGENT_RATE_RESULT, sizeof(res));
		res.qp_id = 1;
		res.err = -EOPNOTSUPP;
		send(fd, &res, sizeof(res), 0);
		tita_pacer_qp_process(p, 2 * SEC + 2);
		tita_pacer_qp_stats(p, &st);
		CHECK(st.command_errors == 1, "command errors %llu",
		      (unsigned long long)st.command_errors);
	}

	/* Clear: every QP of the pair unpaced (rate 0). */
	CHECK(tita_pacer_apply(p, &local, &remote, 7, TITA_RATE_UNPACED) == 0, "clear");
	memset(rate, 0xff, sizeof(rate));
	CHECK(drain(fd, rate, 8) == 3, "three unpace commands");
	CHECK(rate[1] == 0 && rate[2] == 0 && rate[4] == 0, "unpaced");
	CHECK(p->ops->describe(p, NULL, 0) == 0, "no rules left");

	/* Garbage is counted and the agent kept; another version drops it. */
	{
		char junk[8] = { 1, 2, 3 };
		struct tita_agent_qp_del del = { 0 };

		send(fd, junk, sizeof(junk), 0);
		tita_pacer_qp_process(p, 3 * SEC);
		tita_pacer_qp_stats(p, &st);
		CHECK(st.protocol_errors == 1 && st.agents == 1, "junk: errors %llu agents %u",
		      (unsigned long long)st.protocol_errors, st.agents);
		tita_agent_hdr_init(&del.hdr, TITA_AGENT_QP_DEL, sizeof(del));
		del.hdr.version = TITA_AGENT_VERSION + 1;
		send(fd, &del, sizeof(del), 0);
		tita_pacer_qp_process(p, 3 * SEC + 1);
		tita_pacer_qp_stats(p, &st);
		CHECK(st.agents == 0, "an agent of another version is dropped");
	}

	p->ops->cleanup(p);
	tita_pacer_free(p);
	close(fd);
	CHECK(access(conf.agent_socket, F_OK) != 0, "socket removed");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0, "rm");
	return failures ? 1 : 0;
}
