// SPDX-License-Identifier: MIT
/*
 * Health telemetry of simulated runs (sim/telemetry.c): the faults of issue
 * 14 show where they are, and only there. A ring all-reduce over 8 hosts
 * on 2 leaves, repeated for 6 ms with a 1 ms telemetry interval; host 5's
 * NIC runs at half its rate from 2.5 ms, host 6 dies at 4.5 ms. Each run
 * takes a fraction of a second.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim.h"

#define N_HOSTS 8

static const char scenario[] = "[topology]\nkind = leafspine\nleaves = 2\nhosts_per_leaf = 4\n"
			       "spines = 2\nhost_gbps = 100\nfabric_gbps = 200\n"
			       "[run]\nmax_time_ms = 6\ntelemetry_interval_us = 1000\n"
			       "[traffic]\nring hosts=0,4,1,5,2,6,3,7 size=16MB until=6ms\n"
			       "[faults]\n%s";

static char dir[64];

/* Run the scenario with these faults, telemetry into dir. */
static void run(const char *faults)
{
	char text[1024];
	struct sim_config c;
	struct sim s;
	struct sim_results r;

	snprintf(dir, sizeof(dir), "/tmp/tita-sim-telemetry.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text), scenario, faults);
	assert_int_equal(
		sim_config_parse(&c, text, strlen(text), "t.conf", SIM_SEED_FROM_FILE, stderr), 0);
	assert_int_equal(sim_init(&s, &c, sim_cc_find("tita"), NULL), 0);
	assert_int_equal(sim_telemetry_start(&s, dir), 0);
	assert_int_equal(sim_run(&s, &r), 0);
	assert_int_equal(sim_telemetry_intervals(&s), 6);
	assert_int_equal(sim_telemetry_finish(&s), 0);
	sim_fini(&s);
	sim_config_fini(&c);
}

static char *slurp(const char *name)
{
	char path[128];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), n);
	fclose(f);
	return buf;
}

static char *interval(int k)
{
	char name[32];

	snprintf(name, sizeof(name), "%06d.prom", k);
	return slurp(name);
}

/* The value of the first sample whose text starts with prefix; -1 if none. */
static double value(const char *text, const char *prefix)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, strlen(prefix))) {
			const char *v = strchr(p, '}');

			assert_non_null(v);
			return strtod(v + 1, NULL);
		}
	return -1;
}

static double port_gauge(const char *text, const char *name, int host)
{
	char prefix[160];

	snprintf(prefix, sizeof(prefix), "tita_health_%s{instance=\"h%d\",port=\"h%d\"}", name,
		 host, host);
	return value(text, prefix);
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/*
 * The slow NIC's host is blocked and short of what it granted; a host that
 * sends to it is blocked too, but on its pair with host 5; no other host
 * is blocked. Before the fault nobody is.
 */
static void slow_nic(void **state)
{
	(void)state;
	run("slownic host=5 frac=0.5 at=2.5ms\n");
	for (int k = 2; k <= 6; k++) {
		char *t = interval(k);

		for (int h = 0; h < N_HOSTS; h++) {
			double blocked = port_gauge(t, "tx_blocked_ratio", h);
			char prefix[160];

			assert_true(blocked >= 0);
			if (k == 2) {
				assert_true(blocked < 0.2);
				continue;
			}
			if (h == 5) {
				if (k >= 4) {
					assert_true(blocked > 0.25);
					assert_true(port_gauge(t, "rx_shortfall_ratio", h) > 0.3);
				}
				continue;
			}
			if (blocked < 0.2)
				continue;
			/* Blocked elsewhere: towards host 5, its worst pair. */
			snprintf(prefix, sizeof(prefix),
				 "tita_health_pair_shortfall_ratio{instance=\"h%d\",port=\"h%d\","
				 "peer=\"h5\",role=\"tx\"",
				 h, h);
			if (value(t, prefix) < blocked - 1e-6)
				fail_msg("interval %d: h%d blocked %.3f, not towards h5", k, h,
					 blocked);
		}
		free(t);
	}
	cleanup();
}

/* A dead host: up 0 and no gauges of its own from the interval it died in;
 * the hosts it exchanged with find it silent. truth.json says so. */
static void dead_host(void **state)
{
	char *t, *truth;

	(void)state;
	run("dead host=6 at=4.5ms\n");
	t = interval(4);
	assert_non_null(strstr(t, "up{instance=\"h6\"} 1\n"));
	assert_true(port_gauge(t, "tx_bytes_per_second", 6) > 0);
	free(t);
	for (int k = 5; k <= 6; k++) {
		t = interval(k);
		assert_non_null(strstr(t, "up{instance=\"h6\"} 0\n"));
		assert_non_null(strstr(t, "up{instance=\"h5\"} 1\n"));
		assert_null(strstr(t, "{instance=\"h6\",port"));
		assert_true(port_gauge(t, "tx_bytes_per_second", 5) >= 0);
		free(t);
	}
	/* Its ring neighbours: 2 sends to it, it sent to 3. */
	t = interval(6);
	assert_int_equal(port_gauge(t, "peers_silent", 2), 1);
	assert_int_equal(port_gauge(t, "peers_silent", 3), 1);
	assert_int_equal(port_gauge(t, "peers_silent", 0), 0);
	assert_true(value(t, "tita_health_peer_silent_seconds{instance=\"h3\",port=\"h3\","
			     "peer=\"h6\"}") > 0);
	free(t);
	truth = slurp("truth.json");
	assert_non_null(strstr(truth, "{\"kind\": \"dead\", \"host\": \"h6\", \"at_us\": 4500, "
				      "\"at_interval\": 5}"));
	assert_non_null(strstr(truth, "\"intervals\": 6,"));
	free(truth);
	cleanup();
}

/* The files are what Prometheus reads: promtool's linter has nothing to
 * say (skipped without promtool); every host's place is there. */
static void exposition(void **state)
{
	char cmd[256];
	char *t;

	(void)state;
	run("");
	t = interval(3);
	assert_non_null(strstr(t, "tita_fabric_place{instance=\"h5\",port=\"h5\",leaf=\"leaf1\","
				  "spines=\"2\",spine_bytes_per_second=\"25000000000\"} 1\n"));
	for (int h = 0; h < N_HOSTS; h++) {
		char up[64];

		snprintf(up, sizeof(up), "up{instance=\"h%d\"} 1\n", h);
		assert_non_null(strstr(t, up));
		assert_true(port_gauge(t, "tx_active_ratio", h) > 0.5);
	}
	free(t);
	if (access("/usr/bin/promtool", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s/000003.prom'", dir);
		assert_int_equal(system(cmd), 0);
	}
	cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slow_nic),
		cmocka_unit_test(dead_host),
		cmocka_unit_test(exposition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
