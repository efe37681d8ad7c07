// SPDX-License-Identifier: MIT
/*
 * tita-agent-peer: titad's end of the QP agent protocol (agent/agentproto.h)
 * for the bed's tests, where titad is not what is tested: it listens on an
 * agent socket, prints every message an agent sends as a JSON line, and
 * sends the commands it reads on stdin.
 *
 *   tita-agent-peer SOCKET [--duration DUR]
 *
 *   stdin:  [@SECONDS] sport QP_ID PORT MAX_WAIT_MS     SET_SPORT
 *           [@SECONDS] rate QP_ID KBPS                  SET_RATE
 *           each sent SECONDS (default 0) after the agent's HELLO
 *   stdout: {"t":MONO_S,"type":"hello"|"qp_add"|"qp_del"|"stats"|
 *            "rate_result"|"sport_result"|"sent"|"error", ...}
 *
 * One agent at a time. It exits when the agent that connected goes away,
 * or after --duration (default 60 s).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
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

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An IPv4 address from a ::ffff:a.b.c.d GID ("" when it is not one). */
static const char *gid_v4(const uint8_t gid[16], char *buf)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	if (memcmp(gid, prefix, sizeof(prefix)))
		return "";
	return inet_ntop(AF_INET, gid + 12, buf, INET_ADDRSTRLEN);
}

static void print_msg(const void *buf, size_t len)
{
	int type = tita_agent_msg_check(buf, len);
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	printf("{\"t\":%.6f,", mono_s());
	switch (type) {
	case TITA_AGENT_HELLO: {
		const struct tita_agent_hello *h = buf;

		printf("\"type\":\"hello\",\"pid\":%u,\"comm\":\"%.16s\"}\n", h->pid, h->comm);
		break;
	}
	case TITA_AGENT_QP_ADD: {
		struct tita_agent_qp q;

		/* A shorter (older) QP_ADD reads as zeros beyond its end. */
		memset(&q, 0, sizeof(q));
		memcpy(&q, buf, len < sizeof(q) ? len : sizeof(q));
		printf("\"type\":\"qp_add\",\"len\":%zu,\"qp_id\":%llu,\"qpn\":%u,\"dest_qpn\":%u,"
		       "\"qp_type\":%u,\"state\":%u,\"flags\":%u,\"caps\":%u,\"dev\":\"%.63s\","
		       "\"local\":\"%s\",\"remote\":\"%s\",\"udp_sport\":%u,\"posted\":%llu,"
		       "\"completed\":%llu}\n",
		       len, (unsigned long long)q.qp_id, q.qpn, q.dest_qpn, q.qp_type, q.state,
		       q.flags, q.caps, q.dev_name, gid_v4(q.local_gid, a), gid_v4(q.remote_gid, b),
		       q.udp_sport, (unsigned long long)q.bytes_posted,
		       (unsigned long long)q.bytes_completed);
		break;
	}
	case TITA_AGENT_QP_DEL: {
		const struct tita_agent_qp_del *d = buf;

		printf("\"type\":\"qp_del\",\"qp_id\":%llu}\n", (unsigned long long)d->qp_id);
		break;
	}
	case TITA_AGENT_STATS: {
		const struct tita_agent_stats *st = buf;

		printf("\"type\":\"stats\",\"qps\":[");
		for (uint32_t i = 0; i < st->n; i++) {
			struct tita_agent_qp_stat q;

			memcpy(&q, (const char *)buf + sizeof(*st) + i * sizeof(q), sizeof(q));
			printf("%s{\"qp_id\":%llu,\"posted\":%llu,\"completed\":%llu}",
			       i ? "," : "", (unsigned long long)q.qp_id,
			       (unsigned long long)q.bytes_posted,
			       (unsigned long long)q.bytes_completed);
		}
		printf("]}\n");
		break;
	}
	case TITA_AGENT_RATE_RESULT:
	case TITA_AGENT_SPORT_RESULT: {
		union {
			struct tita_agent_rate_result rate;
			struct tita_agent_sport_result sport;
		} r;
		bool rate = type == TITA_AGENT_RATE_RESULT;

		memcpy(&r, buf, rate ? sizeof(r.rate) : sizeof(r.sport));
		printf("\"type\":\"%s_result\",\"qp_id\":%llu,\"seq\":%u,\"err\":%d,\"%s\":%llu}\n",
		       rate ? "rate" : "sport",
		       (unsigned long long)(rate ? r.rate.qp_id : r.sport.qp_id),
		       rate ? r.rate.seq : r.sport.seq, rate ? r.rate.err : r.sport.err,
		       rate ? "rate_kbps" : "udp_sport",
		       rate ? (unsigned long long)r.rate.rate_kbps : r.sport.udp_sport);
		break;
	}
	default:
		printf("\"type\":\"error\",\"len\":%zu,\"check\":%d}\n", len, type);
		break;
	}
	fflush(stdout);
}

/* One command line from stdin → a message to the agent. */
static void command(int fd, const char *line)
{
	static uint32_t seq;
	unsigned long long qp_id, a, b;
	char verb[16];
	int n = sscanf(line, "%15s %llu %llu %llu", verb, &qp_id, &a, &b);

	if (n == 4 && !strcmp(verb, "sport") && a <= 65535 && b <= UINT32_MAX) {
		struct tita_agent_set_sport m;

		memset(&m, 0, sizeof(m));
		tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_SPORT, sizeof(m));
		m.qp_id = qp_id;
		m.udp_sport = (uint16_t)a;
		m.max_wait_ms = (uint32_t)b;
		m.seq = ++seq;
		n = fd >= 0 && send(fd, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m);
		printf("{\"t\":%.6f,\"type\":\"sent\",\"what\":\"sport\",\"qp_id\":%llu,"
		       "\"udp_sport\":%llu,\"seq\":%u,\"ok\":%s}\n",
		       mono_s(), qp_id, a, m.seq, n ? "true" : "false");
	} else if (n == 3 && !strcmp(verb, "rate")) {
		struct tita_agent_set_rate m;

		memset(&m, 0, sizeof(m));
		tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_RATE, sizeof(m));
		m.qp_id = qp_id;
		m.rate_kbps = a;
		m.seq = ++seq;
		n = fd >= 0 && send(fd, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m);
		printf("{\"t\":%.6f,\"type\":\"sent\",\"what\":\"rate\",\"qp_id\":%llu,"
		       "\"rate_kbps\":%llu,\"seq\":%u,\"ok\":%s}\n",
		       mono_s(), qp_id, a, m.seq, n ? "true" : "false");
	} else {
		fprintf(stderr, "tita-agent-peer: not a command: %s\n", line);
	}
	fflush(stdout);
}

#define MAX_CMDS 32

struct cmd {
	double at_s; /* after the HELLO */
	char text[96];
};

int main(int argc, char **argv)
{
	struct cmd cmds[MAX_CMDS];
	int n_cmds = 0, next_cmd = 0;
	double hello_s = 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double duration_s = 60, end;
	char line[256];
	size_t line_len = 0;
	int lfd, cfd = -1;
	bool stdin_open = true;

	if (argc == 4 && !strcmp(argv[2], "--duration"))
		duration_s = atof(argv[3]);
	else if (argc != 2) {
		fprintf(stderr, "usage: tita-agent-peer SOCKET [--duration SECONDS]\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path) || duration_s <= 0 || duration_s > 3600) {
		fprintf(stderr, "tita-agent-peer: bad socket path or duration\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4)) {
		perror("tita-agent-peer: listen");
		return 1;
	}
	fprintf(stderr, "tita-agent-peer: listening\n");
	end = mono_s() + duration_s;
	while (mono_s() < end) {
		struct pollfd pfd[3] = { { lfd, POLLIN, 0 },
					 { cfd, POLLIN, 0 },
					 { stdin_open ? 0 : -1, POLLIN, 0 } };

		/* Commands fall due once the agent has said hello. */
		while (hello_s > 0 && next_cmd < n_cmds &&
		       mono_s() >= hello_s + cmds[next_cmd].at_s)
			command(cfd, cmds[next_cmd++].text);
		if (poll(pfd, 3, 5) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			/* One agent at a time: a second is turned away. */
			if (fd >= 0 && cfd >= 0)
				close(fd);
			else if (fd >= 0)
				cfd = fd;
		}
		if (cfd >= 0 && pfd[1].revents) {
			char buf[TITA_AGENT_MSG_MAX];
			ssize_t n = recv(cfd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				printf("{\"t\":%.6f,\"type\":\"closed\"}\n", mono_s());
				break;
			}
			if (n > 0) {
				print_msg(buf, (size_t)n);
				if (!hello_s &&
				    tita_agent_msg_check(buf, (size_t)n) == TITA_AGENT_HELLO)
					hello_s = mono_s();
			}
		}
		if (pfd[2].revents) {
			ssize_t n = read(0, line + line_len, sizeof(line) - 1 - line_len);
			char *nl;

			if (n <= 0) {
				stdin_open = false;
				continue;
			}
			line_len += (size_t)n;
			line[line_len] = '\0';
			while ((nl = strchr(line, '\n'))) {
				const char *text = line;
				double at = 0;

				*nl = '\0';
				if (line[0] == '@') {
					at = strtod(line + 1, (char **)&text);
					text += strspn(text, " ");
				}
				if (n_cmds < MAX_CMDS && at >= 0 &&
				    strlen(text) < sizeof(cmds[0].text)) {
					cmds[n_cmds].at_s = at;
					snprintf(cmds[n_cmds].text, sizeof(cmds[0].text), "%s",
						 text);
					n_cmds++;
				} else {
					fprintf(stderr, "tita-agent-peer: command dropped: %s\n",
						line);
				}
				line_len -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, line_len + 1);
			}
			if (line_len == sizeof(line) - 1)
				line_len = 0; /* a line that long is no command */
		}
	}
	fflush(stdout);
	unlink(sa.sun_path);
	return 0;
}
