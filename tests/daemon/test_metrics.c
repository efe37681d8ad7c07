// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint on a fake clock: what a scrape holds (the real
 * engine, no NIC, the dry-run pacer), and its HTTP server against clients
 * that misbehave: slowloris heads, idle connections, many of them from one
 * address, while a scraper still gets its page.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon_test.h"
#include "health.h"
#include "metrics.h"

struct fixture {
	struct titad_config cfg;
	struct tita_event *ev;
	struct titad_ports *ports;
	struct titad_engine *engine;
	struct titad_peers *peers;
	struct titad_metrics *metrics;
	struct titad_sources src;
	uint64_t reloads;
	uint16_t port;
};

static int peer_msg(void *ctx, const struct tita_msg *m, uint64_t now_ns)
{
	return titad_engine_on_msg(ctx, m, now_ns);
}

static void peer_kick(void *ctx, uint64_t now_ns)
{
	titad_engine_kick(ctx, now_ns);
}

static uint64_t peer_round(void *ctx)
{
	return titad_engine_next_round_ns(ctx);
}

static const struct titad_peers_hooks hooks = { peer_msg, peer_kick, peer_round, NULL };

/* A free TCP port on loopback. */
static uint16_t free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct titad_peers_ports hp = { 0 };
	struct tita_wire_keyring kr;
	char err[256] = "", listen_at[64];

	assert_non_null(f);
	test_config(&f->cfg);
	f->cfg.pacer = TITAD_PACER_DRY_RUN;
	f->cfg.n_ports = 0;
	test_keyring(&kr, 1, 0x42);
	f->ev = tita_event_new();
	assert_non_null(f->ev);
	assert_int_equal(titad_ports_open(&f->ports, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(titad_engine_open(&f->engine, f->ev, &f->cfg, f->ports, err, sizeof(err)),
			 0);
	assert_int_equal(titad_peers_open(&f->peers, f->ev, &f->cfg, &hp, &kr, REAL0, &hooks,
					  f->engine, T0, err, sizeof(err)),
			 0);
	f->src = (struct titad_sources){ .engine = f->engine,
					 .peers = f->peers,
					 .ports = f->ports,
					 .start_ns = T0,
					 .reloads_ok = &f->reloads,
					 .reloads_failed = &f->reloads };
	f->port = free_port();
	snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%u", f->port);
	assert_int_equal(
		titad_metrics_open(&f->metrics, f->ev, listen_at, &f->src, err, sizeof(err)), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	titad_metrics_close(f->metrics);
	titad_peers_close(f->peers);
	titad_engine_close(f->engine);
	titad_ports_close(f->ports);
	tita_event_free(f->ev);
	free(f);
}

static void step(struct fixture *f, uint64_t now_ns)
{
	assert_true(tita_event_dispatch(f->ev, now_ns, REAL0 + now_ns - T0, 10) >= 0);
}

/* A connection from 127.0.0.1 or another loopback address, non-blocking. */
static int conn_from(struct fixture *f, uint8_t host)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(f->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in from = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(0x7f000000u | host) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) && errno != EINPROGRESS)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

/* Send a request on fd and run the loop until the whole answer is in:
 * its status code, or -1. body gets up to size bytes. */
static int get(struct fixture *f, int fd, const char *request, uint64_t now_ns, char *body,
	       size_t size)
{
	static char buf[1 << 20];
	size_t len = 0;
	int status = -1;

	for (int i = 0; i < 20 && send(fd, request, strlen(request), MSG_NOSIGNAL) < 0; i++)
		step(f, now_ns);
	for (int i = 0; i < 200; i++) {
		ssize_t n;

		step(f, now_ns);
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
	}
	buf[len] = '\0';
	sscanf(buf, "HTTP/1.1 %d", &status);
	if (body) {
		const char *b = strstr(buf, "\r\n\r\n");

		snprintf(body, size, "%s", b ? b + 4 : "");
	}
	return status;
}

static void test_scrape(void **state)
{
	struct fixture *f = fixture_new();
	static char body[1 << 20];
	int fd;

	(void)state;
	fd = conn_from(f, 1);
	assert_int_equal(get(f, fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", T0 + 3 * SEC, body,
			     sizeof(body)),
			 200);
	close(fd);
	assert_non_null(
		strstr(body, "# TYPE tita_uptime_seconds gauge\ntita_uptime_seconds 3.000\n"));
	assert_non_null(strstr(body, "tita_peer_datagrams_no_slot_total 0\n"));
	assert_non_null(strstr(body, "tita_metrics_clients 1\n"));
	{
		/* The process families, as client libraries export them, and
		 * about this process: it started before now, today, holds its
		 * listener and the scrape's connection, and has memory. */
		double cpu = -1, start = 0, rss = 0, fds = 0, max_fds = 0;
		const char *p;

		assert_non_null(p = strstr(body, "\nprocess_cpu_seconds_total "));
		cpu = atof(p + strlen("\nprocess_cpu_seconds_total "));
		assert_non_null(p = strstr(body, "\nprocess_start_time_seconds "));
		start = atof(p + strlen("\nprocess_start_time_seconds "));
		assert_non_null(p = strstr(body, "\nprocess_resident_memory_bytes "));
		rss = atof(p + strlen("\nprocess_resident_memory_bytes "));
		assert_non_null(p = strstr(body, "\nprocess_open_fds "));
		fds = atof(p + strlen("\nprocess_open_fds "));
		assert_non_null(p = strstr(body, "\nprocess_max_fds "));
		max_fds = atof(p + strlen("\nprocess_max_fds "));
		assert_true(cpu >= 0 && cpu < 3600);
		assert_true(start <= (double)time(NULL) + 1 && start > (double)time(NULL) - 86400);
		assert_true(rss > 1e5);
		assert_true(fds >= 4 && fds <= max_fds);
		assert_non_null(strstr(body, "# TYPE process_cpu_seconds_total counter\n"));
		/* Rates say their unit against titactl's. */
		assert_non_null(strstr(body, "# HELP tita_port_line_rate_bytes_per_second") ||
				strstr(body, "# HELP tita_job_demand_bytes_per_second"));
		for (p = strstr(body, "_bytes_per_second "); p;
		     p = strstr(p + 1, "_bytes_per_second ")) {
			const char *line = p;

			while (line > body && line[-1] != '\n')
				line--;
			if (!strncmp(line, "# HELP ", 7))
				assert_non_null(strstr(line,
						       "In bytes per second (titactl shows bits "
						       "per second).\n"));
		}
	}
	fd = conn_from(f, 1);
	assert_int_equal(get(f, fd, "POST /metrics HTTP/1.1\r\n\r\n", T0, NULL, 0), 405);
	close(fd);
	fd = conn_from(f, 1);
	assert_int_equal(get(f, fd, "GET / HTTP/1.1\r\n\r\n", T0, NULL, 0), 404);
	close(fd);
	fd = conn_from(f, 1);
	assert_int_equal(get(f, fd, "nonsense\r\n\r\n", T0, NULL, 0), 400);
	close(fd);
	fixture_free(f);
}

/* The health evidence of the last interval, as lib/health formats it: the
 * families once, a port by its address when no netdev has it, no pause
 * gauges for a NIC that counts none, and none of it before an interval
 * has ended. */
static void test_health(void **state)
{
	struct fixture *f = fixture_new();
	static char body[1 << 20];
	uint8_t ip[4] = { 10, 0, 0, 1 };
	struct tita_addr local = tita_addr_from_ipv4(ip);
	uint64_t rate = 100000000;
	struct titad_health *h;
	char err[128];
	int fd;

	(void)state;
	assert_int_equal(titad_health_open(&h, &f->cfg, &local, &rate, 1, T0, err, sizeof(err)), 0);
	/* The endpoint keeps a copy of its sources: open it anew with h. */
	f->metrics = titad_metrics_close(f->metrics);
	f->src.health = h;
	{
		char listen_at[64];

		f->port = free_port();
		snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%u", f->port);
		assert_int_equal(titad_metrics_open(&f->metrics, f->ev, listen_at, &f->src, err,
						    sizeof(err)),
				 0);
	}
	fd = conn_from(f, 1);
	assert_int_equal(
		get(f, fd, "GET /metrics HTTP/1.1\r\n\r\n", T0 + SEC / 2, body, sizeof(body)), 200);
	close(fd);
	assert_null(strstr(body, "tita_health_"));
	assert_int_equal(titad_health_end_interval(h, NULL, T0 + SEC), 0);
	fd = conn_from(f, 1);
	assert_int_equal(get(f, fd, "GET /metrics HTTP/1.1\r\n\r\n", T0 + SEC, body, sizeof(body)),
			 200);
	close(fd);
	assert_non_null(strstr(body, "# TYPE tita_health_tx_blocked_ratio gauge\n"));
	assert_non_null(strstr(body, "tita_health_tx_blocked_ratio{port=\"10.0.0.1\"} 0.000000\n"));
	assert_non_null(strstr(body, "tita_health_peers_silent{port=\"10.0.0.1\"} 0\n"));
	assert_null(strstr(body, "tita_health_pause_tx_per_second{"));
	assert_non_null(strstr(body, "# HELP tita_health_tx_bytes_per_second"));
	/* The text ends where the next family starts: no NUL or gap. */
	assert_null(strstr(body, "\n\n"));
	fixture_free(f);
	titad_health_close_all(h);
}

/*
 * Finding 6: 20 slowloris clients made every scrape fail for 30 s. They
 * cannot keep a scraper out now (a new connection takes the place of the
 * oldest one that has not sent its request, of its address first), and
 * they are closed when their request has not arrived within 2 s.
 */
static void test_slowloris(void **state)
{
	struct fixture *f = fixture_new();
	int slow[40], fd;

	(void)state;
	/* 20 from one address, 20 from as many others: a byte each. */
	for (int i = 0; i < 40; i++) {
		slow[i] = conn_from(f, i < 20 ? 2 : (uint8_t)(10 + i));
		step(f, T0);
		send(slow[i], "G", 1, MSG_NOSIGNAL);
	}
	for (int i = 0; i < 5; i++)
		step(f, T0 + 100 * MS);
	/* A scrape from the slow clients' own address, and from another. */
	fd = conn_from(f, 2);
	assert_int_equal(get(f, fd, "GET /metrics HTTP/1.1\r\n\r\n", T0 + SEC, NULL, 0), 200);
	close(fd);
	fd = conn_from(f, 99);
	assert_int_equal(get(f, fd, "GET /metrics HTTP/1.1\r\n\r\n", T0 + SEC, NULL, 0), 200);
	close(fd);
	/* Trickling bytes does not keep a connection: 2 s for the head. */
	for (uint64_t t = 0; t <= 3 * SEC; t += 500 * MS) {
		for (int i = 0; i < 40; i++)
			send(slow[i], "E", 1, MSG_NOSIGNAL);
		step(f, T0 + SEC + t);
	}
	{
		struct titad_http_stats hs;

		titad_metrics_http_stats(f->metrics, &hs);
		print_message("evicted %llu, timed out %llu, clients %u\n",
			      (unsigned long long)hs.evicted, (unsigned long long)hs.timed_out,
			      hs.clients);
		assert_int_equal(hs.clients, 0);
		assert_true(hs.evicted >= 40 - TITAD_HTTP_CLIENTS);
		assert_true(hs.timed_out > 0);
		assert_int_equal(hs.served, 2);
	}
	for (int i = 0; i < 40; i++)
		close(slow[i]);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrape),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_slowloris),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
