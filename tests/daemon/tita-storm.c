// SPDX-License-Identifier: MIT
/*
 * tita-storm: an unprivileged user's agent storm against titad's agent
 * socket (tests/daemon/redteam-local.sh runs it as nobody), bounded in
 * count and time:
 *
 *   tita-storm SOCKET AGENTS QPS STATS_AGENTS SECONDS
 *
 * opens AGENTS connections (each says hello), registers QPS QPs on each
 * (QP_ADD, RTS, a remote GID), then for SECONDS has STATS_AGENTS of them
 * send full STATS messages as fast as the sockets take them. Prints what
 * it managed as JSON.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agentproto.h"

#define MAX_AGENTS 1024
#define MAX_QPS 65536
#define MAX_SECONDS 60

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Send one message, waiting up to 100 ms for room; false when it did not go. */
static bool send_msg(int fd, const void *m, size_t len)
{
	for (int i = 0; i < 100; i++) {
		struct pollfd pfd = { fd, POLLOUT, 0 };

		if (send(fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
			return true;
		if (errno != EAGAIN)
			return false;
		poll(&pfd, 1, 1);
	}
	return false;
}

int main(int argc, char **argv)
{
	static int fds[MAX_AGENTS];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned long agents, qps, stats_agents, seconds;
	unsigned long connected = 0, registered = 0, stats_sent = 0, send_fail = 0;
	char buf[TITA_AGENT_MSG_MAX];
	uint64_t end;

	if (argc != 6) {
		fprintf(stderr, "usage: tita-storm SOCKET AGENTS QPS STATS_AGENTS SECONDS\n");
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	agents = strtoul(argv[2], NULL, 10);
	qps = strtoul(argv[3], NULL, 10);
	stats_agents = strtoul(argv[4], NULL, 10);
	seconds = strtoul(argv[5], NULL, 10);
	if (agents > MAX_AGENTS || qps > MAX_QPS || stats_agents > agents ||
	    seconds > MAX_SECONDS) {
		fprintf(stderr, "tita-storm: at most %d agents, %d QPs each, %d s\n", MAX_AGENTS,
			MAX_QPS, MAX_SECONDS);
		return 2;
	}
	for (unsigned long i = 0; i < agents; i++) {
		struct tita_agent_hello h = { .pid = (uint32_t)getpid() };

		fds[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa))) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
			continue;
		}
		tita_agent_hdr_init(&h.hdr, TITA_AGENT_HELLO, sizeof(h));
		if (send_msg(fds[i], &h, sizeof(h)))
			connected++;
	}
	for (unsigned long i = 0; i < agents; i++) {
		for (unsigned long k = 0; fds[i] >= 0 && k < qps; k++) {
			struct tita_agent_qp m;

			memset(&m, 0, sizeof(m));
			tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_ADD, sizeof(m));
			m.qp_id = k + 1;
			m.qpn = (uint32_t)(k + 1);
			m.qp_type = 2;
			m.state = 3;
			m.port_num = 1;
			m.flags = TITA_AGENT_QP_HAS_REMOTE_GID;
			snprintf(m.dev_name, sizeof(m.dev_name), "mlx5_0");
			m.remote_gid[10] = m.remote_gid[11] = 0xff;
			m.remote_gid[12] = 10;
			m.remote_gid[15] = (uint8_t)(k % 250 + 2);
			if (!send_msg(fds[i], &m, sizeof(m))) {
				send_fail++;
				break;
			}
			registered++;
		}
	}
	end = mono_ns() + seconds * 1000000000ull;
	while (mono_ns() < end) {
		struct tita_agent_stats *m = (struct tita_agent_stats *)buf;
		size_t n = TITA_AGENT_STATS_MAX;
		size_t len = sizeof(*m) + n * sizeof(struct tita_agent_qp_stat);

		memset(buf, 0, sizeof(buf));
		m->n = (uint32_t)n;
		for (size_t k = 0; k < n; k++) {
			struct tita_agent_qp_stat st = { .qp_id = k % (qps ? qps : 1) + 1,
							 .bytes_posted = stats_sent * 1000,
							 .bytes_completed = stats_sent * 1000 };

			memcpy(buf + sizeof(*m) + k * sizeof(st), &st, sizeof(st));
		}
		tita_agent_hdr_init(&m->hdr, TITA_AGENT_STATS, len);
		for (unsigned long i = 0; i < stats_agents; i++)
			if (fds[i] >= 0 &&
			    send(fds[i], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
				stats_sent++;
		usleep(200);
	}
	printf("{\"connected\": %lu, \"registered\": %lu, \"send_fail\": %lu, \"stats_sent\": %lu}\n",
	       connected, registered, send_fail, stats_sent);
	for (unsigned long i = 0; i < agents; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}
