// SPDX-License-Identifier: MIT
/*
 * Path probes on the loopback (no privileges: what needs routers is
 * probe-netns.sh): an answer from the remote itself (port unreachable), a
 * lost probe, a source port held by another socket (refused) or shared
 * with one that opted in (the answer still comes to the probe), a probe
 * sent twice answered once; and spine numbers learned from the addresses
 * that answer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe.h"
#include "units.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TITA_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static struct tita_addr addr(const char *s)
{
	struct tita_addr a;

	assert_int_equal(tita_parse_addr(s, &a), 0);
	return a;
}

/* A UDP socket on 127.0.0.1:port, sharing it (SO_REUSEADDR) or not. */
static int udp_on(uint16_t port, bool share)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (share)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Answers until want came (or 2 s passed), and any that follow within
 * 50 ms more: how many came, up to max. */
static size_t wait_answers(struct tita_prober *p, struct tita_probe_answer *out, size_t want,
			   size_t max)
{
	uint64_t end = now_ns() + 2 * TITA_NSEC_PER_SEC, extra = 0;
	size_t got = 0;

	while (got < max && now_ns() < end) {
		struct pollfd pfd = { tita_prober_fd(p), POLLIN, 0 };

		poll(&pfd, 1, 10);
		got += tita_prober_poll(p, now_ns(), out + got, max - got);
		if (got >= want && !extra) {
			extra = 1;
			end = now_ns() + 50 * TITA_NSEC_PER_MSEC;
		}
	}
	return got;
}

static void test_loopback(void **state)
{
	struct tita_prober_conf conf;
	struct tita_prober_stats st;
	struct tita_probe_answer a[4];
	struct tita_probe pr = {
		.local = addr("127.0.0.1"), .remote = addr("127.0.0.1"), .job_id = 3, .sport = 0
	};
	struct tita_prober *p;
	int held, shared, sink, r;
	uint16_t port = 0;

	(void)state;
	tita_prober_conf_defaults(&conf);
	conf.timeout_ns = 300 * TITA_NSEC_PER_MSEC;
	conf.max_out = 2;
	p = tita_prober_new(&conf);
	assert_non_null(p);
	assert_int_equal(tita_prober_next_deadline_ns(p), TITA_TIME_NEVER);

	/* Nothing listens on 4791 here: the remote answers port
	 * unreachable, and that is the probe's answer. (Skipped where the
	 * machine runs soft RoCE on its loopback's 4791.) */
	sink = udp_on(TITA_ROCE_UDP_PORT, true);
	if (sink < 0)
		skip();
	close(sink);
	for (port = 50000; port < 50100; port++) {
		int fd = udp_on(port, false);

		if (fd >= 0) {
			close(fd);
			break;
		}
	}
	pr.sport = port;
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), 0);
	/* The same probe again: one socket, one answer. */
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), 0);
	assert_int_equal(wait_answers(p, a, 1, 4), 1);
	assert_int_equal(a[0].outcome, TITA_PROBE_UNREACHABLE);
	assert_int_equal(a[0].icmp_type, 3);
	assert_int_equal(a[0].icmp_code, 3);
	assert_memory_equal(&a[0].offender, &pr.local, sizeof(pr.local));
	assert_int_equal(a[0].probe.sport, port);
	assert_int_equal(a[0].probe.job_id, 3);

	/* Another socket holds the port, not sharing it: refused. */
	held = udp_on(port, false);
	assert_true(held >= 0);
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), -EADDRINUSE);
	close(held);
	/* One that shares it (the bed's generator does): the probe goes,
	 * and its answer comes to the probe's connected socket. */
	shared = udp_on(port, true);
	assert_true(shared >= 0);
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), 0);
	assert_int_equal(wait_answers(p, a, 1, 4), 1);
	assert_int_equal(a[0].outcome, TITA_PROBE_UNREACHABLE);
	{
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(shared, SOL_SOCKET, SO_ERROR, &err, &len);
		assert_int_equal(err, 0);
	}
	close(shared);

	/* Something on 4791 takes the datagram and says nothing: lost. */
	sink = udp_on(TITA_ROCE_UDP_PORT, false);
	assert_true(sink >= 0);
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), 0);
	pr.sport = (uint16_t)(port + 1);
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), 0);
	pr.sport = (uint16_t)(port + 2);
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), -EBUSY);
	assert_true(tita_prober_next_deadline_ns(p) != TITA_TIME_NEVER);
	assert_int_equal(wait_answers(p, a, 2, 4), 2);
	assert_int_equal(a[0].outcome, TITA_PROBE_LOST);
	assert_int_equal(a[1].outcome, TITA_PROBE_LOST);
	assert_true(a[0].rtt_ns >= conf.timeout_ns);
	{
		char buf[64];

		r = (int)recv(sink, buf, sizeof(buf), MSG_DONTWAIT);
		assert_int_equal(r, 16); /* the probe's BTH-shaped payload */
		assert_int_equal((uint8_t)buf[0], 0xff);
	}
	close(sink);
	pr.sport = 0;
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), -EINVAL);
	/* Not an address of this host. */
	pr.sport = port;
	pr.local = addr("192.0.2.1");
	assert_int_equal(tita_prober_send(p, &pr, 0, now_ns()), -EADDRNOTAVAIL);

	tita_prober_stats(p, &st);
	assert_int_equal(st.out, 0);
	assert_int_equal(st.sent, 4);
	assert_int_equal(st.resent, 1);
	assert_int_equal(st.unreachable, 2);
	assert_int_equal(st.lost, 2);
	assert_int_equal(st.port_busy, 1);
	assert_int_equal(st.send_errors, 3);
	assert_int_equal(tita_prober_next_deadline_ns(p), TITA_TIME_NEVER);
	tita_prober_free(p);
}

static void test_conf(void **state)
{
	struct tita_prober_conf conf;

	(void)state;
	tita_prober_conf_defaults(&conf);
	conf.ttl = 0;
	assert_null(tita_prober_new(&conf));
	assert_int_equal(errno, EINVAL);
	tita_prober_conf_defaults(&conf);
	conf.max_out = 0;
	assert_null(tita_prober_new(&conf));
	tita_prober_conf_defaults(&conf);
	conf.timeout_ns = 0;
	assert_null(tita_prober_new(&conf));
}

static void test_learner(void **state)
{
	struct tita_spine_learner *l = tita_spine_learner_new(3);
	struct tita_addr a = addr("10.78.2.2"), b = addr("10.78.1.2"), c = addr("10.78.3.2"),
			 d = addr("10.78.4.2"), heard[4];
	uint16_t s = 99;

	(void)state;
	assert_non_null(l);
	assert_null(tita_spine_learner_new(0));
	assert_null(tita_spine_learner_new(TITA_SPINES_MAX + 1));
	/* Until every spine answered, nothing is numbered. */
	assert_int_equal(tita_spine_learner_lookup(l, &a, &s), -EAGAIN);
	assert_int_equal(tita_spine_learner_lookup(l, &a, &s), -EAGAIN);
	assert_int_equal(tita_spine_learner_lookup(l, &b, &s), -EAGAIN);
	assert_int_equal(s, 99);
	assert_int_equal(tita_spine_learner_lookup(l, &c, &s), 0);
	assert_int_equal(s, 2);
	/* In address order, whoever was heard first. */
	assert_int_equal(tita_spine_learner_lookup(l, &b, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(tita_spine_learner_lookup(l, &a, &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(tita_spine_learner_addrs(l, heard, 4), 3);
	assert_memory_equal(&heard[0], &b, sizeof(b));
	/* A fourth address for three spines: the numbers cannot be trusted. */
	assert_int_equal(tita_spine_learner_lookup(l, &d, &s), -ENOSPC);
	assert_int_equal(tita_spine_learner_lookup(l, &a, &s), -ENOSPC);
	tita_spine_learner_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_learner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
