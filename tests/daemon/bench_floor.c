// SPDX-License-Identifier: MIT
/*
 * The baseline of titad's benchmark: what answering the benchmark's load
 * costs with nothing else done. It binds ADDR:PORT, and for every datagram
 * that arrives sends one of the same size back to its source, with
 * titad's I/O pattern: a tick every control interval, recvmmsg/sendmmsg in
 * batches, and, while datagrams keep coming, the socket polled every
 * COALESCE_US instead of waking for each one (EPOLLONESHOT, a periodic
 * timerfd). No decoding, authentication, controller or BPF read: titad's
 * CPU over this one's, measured in the same run, is what tita itself adds.
 * Prints its CPU use (user + system) over the last SECONDS - SKIP seconds,
 * as a percentage of one core, and how many datagrams it answered in all.
 *
 * Usage: bench-floor ADDR PORT SECONDS SKIP INTERVAL_US COALESCE_US
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define BUF_BYTES 2048

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void set_period(int tfd, uint64_t period_ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = 0, .tv_nsec = (long)period_ns },
		.it_interval = { .tv_sec = 0, .tv_nsec = (long)period_ns },
	};

	timerfd_settime(tfd, 0, &its, NULL);
}

/* Echo what the socket holds; how many datagrams. */
static uint64_t echoed;

static int echo(int fd)
{
	static uint8_t bufs[BATCH][BUF_BYTES];
	struct sockaddr_in from[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int total = 0;

	for (int round = 0; round < 8; round++) {
		int n;

		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = BUF_BYTES };
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		if (sendmmsg(fd, msgs, (unsigned int)n, MSG_DONTWAIT) > 0)
			echoed += (uint64_t)n;
		total += n;
		if (n < BATCH)
			break;
	}
	return total;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event e = { .events = EPOLLIN | EPOLLONESHOT };
	uint64_t end, measure_from, interval_ns, coalesce_ns;
	double cpu0 = 0;
	bool armed = true, measuring = false;
	int fd, ep, tfd;

	if (argc != 7) {
		fprintf(stderr,
			"usage: bench-floor ADDR PORT SECONDS SKIP INTERVAL_US COALESCE_US\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		return 2;
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	end = now_ns() + (uint64_t)atoi(argv[3]) * 1000000000ull;
	measure_from = now_ns() + (uint64_t)atoi(argv[4]) * 1000000000ull;
	interval_ns = (uint64_t)atoi(argv[5]) * 1000ull;
	coalesce_ns = (uint64_t)atoi(argv[6]) * 1000ull;
	if (!interval_ns || interval_ns >= 1000000000ull || coalesce_ns > interval_ns)
		return 2;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	/* As titad: the load generator binds the same port on every address. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	if (fd < 0 || ep < 0 || tfd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("bench-floor");
		return 1;
	}
	e.data.fd = fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	e = (struct epoll_event){ .events = EPOLLIN, .data.fd = tfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &e);
	set_period(tfd, interval_ns);

	while (now_ns() < end) {
		struct epoll_event ev[4];
		int n = epoll_wait(ep, ev, 4, 100);

		if (!measuring && now_ns() >= measure_from) {
			measuring = true;
			cpu0 = cpu_s();
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == tfd) {
				uint64_t x;

				if (read(tfd, &x, sizeof(x)) < 0)
					continue;
				if (armed)
					continue; /* the control tick: nothing to do here */
				/* A poll: datagrams still coming keep the socket polled. */
				if (echo(fd) > 0 && coalesce_ns)
					continue;
				e = (struct epoll_event){ .events = EPOLLIN | EPOLLONESHOT,
							  .data.fd = fd };
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
				armed = true;
				set_period(tfd, interval_ns);
			} else {
				echo(fd);
				if (!coalesce_ns) {
					e = (struct epoll_event){ .events = EPOLLIN | EPOLLONESHOT,
								  .data.fd = fd };
					epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
					continue;
				}
				armed = false;
				set_period(tfd, coalesce_ns);
			}
		}
	}
	if (measuring)
		printf("%.1f %llu\n", (cpu_s() - cpu0) / ((double)(end - measure_from) / 1e9) * 100,
		       (unsigned long long)echoed);
	return 0;
}
