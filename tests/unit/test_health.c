// SPDX-License-Identifier: MIT
/*
 * lib/health against hand-computed figures: one port at 100 Gb/s (1.25 MB
 * per 100 us round), an interval of 10 rounds, every gauge of the schema,
 * the bounds and what lies beyond them, and the Prometheus text.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tita/ctl.h"
#include "tita/health.h"

#define US 1000ull
#define MS 1000000ull
#define ROUND (100 * US)

static struct tita_addr addr(uint32_t n)
{
	return tita_addr_from_host_id(n);
}

static void near(double got, double want)
{
	if (fabs(got - want) > 1e-9 * fmax(1, fabs(want)))
		fail_msg("got %.12g, want %.12g", got, want);
}

static struct tita_health *one_port(struct tita_health_params *p)
{
	struct tita_health *h = tita_health_new(p, 0);
	struct tita_addr me = addr(1);

	assert_non_null(h);
	assert_int_equal(tita_health_port_set(h, &me, 100 * TITA_GBPS), 0);
	return h;
}

static struct tita_health_tx tx(uint32_t remote, uint32_t job, uint64_t sent, uint64_t backlog,
				uint64_t rate_bps, bool open)
{
	return (struct tita_health_tx){
		.local = addr(1),
		.remote = addr(remote),
		.job_id = job,
		.interval_ns = ROUND,
		.tx_bytes = sent,
		.backlog_bytes = backlog,
		.rate_bps = rate_bps,
		.open = open,
		.spine = TITA_HEALTH_SPINE_NONE,
	};
}

static struct tita_health_rx rx(uint32_t remote, uint64_t bytes, uint64_t pkts, uint64_t ce,
				uint64_t lost, uint64_t granted_bps, bool backlogged)
{
	return (struct tita_health_rx){
		.local = addr(1),
		.remote = addr(remote),
		.job_id = TITA_JOB_DEFAULT,
		.interval_ns = ROUND,
		.rx_bytes = bytes,
		.rx_packets = pkts,
		.ce_packets = ce,
		.lost_packets = lost,
		.granted_bps = granted_bps,
		.sender_backlogged = backlogged,
		.spine = TITA_HEALTH_SPINE_NONE,
	};
}

/* Rounds 1-4: blocked (1 MB of the 1.25 allowed sent, backlog waiting;
 * round 1 counts for nothing, as nothing waited before it); rounds 5-6:
 * app-limited (0.5 MB sent of 0.625 allowed at 50 Gb/s, no backlog);
 * rounds 7-10: idle. */
static void test_tx_gauges(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;

	(void)state;
	tita_health_params_default(&p);
	h = one_port(&p);
	for (int r = 1; r <= 4; r++) {
		struct tita_health_tx t = tx(2, 7, 1000000, 5000000, TITA_RATE_UNPACED, true);

		t.tx_packets = 1000;
		t.retx_packets = 10;
		t.spine = 3;
		assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
	}
	for (int r = 5; r <= 6; r++) {
		struct tita_health_tx t = tx(2, 7, 500000, 0, 50 * TITA_GBPS, true);

		t.tx_packets = 500;
		assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
	}
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	assert_int_equal(s.start_ns, 0);
	assert_int_equal(s.end_ns, 1 * MS);
	assert_int_equal(s.n_ports, 1);
	near(s.ports[0].tx_bytes_per_second, 5e6 / 1e-3);
	near(s.ports[0].rx_bytes_per_second, 0);
	near(s.ports[0].tx_active_ratio, 0.6);
	near(s.ports[0].tx_blocked_ratio, 1e6 / 5e6);
	near(s.ports[0].tx_app_limited_ratio, 0.2);
	near(s.ports[0].loss_ratio, 40.0 / 5000);
	near(s.ports[0].ce_ratio, 0);
	near(s.ports[0].rx_shortfall_ratio, 0);
	assert_false(s.ports[0].pause_known);
	assert_int_equal(s.n_pairs, 1);
	assert_int_equal(s.pairs[0].role, TITA_HEALTH_TX);
	assert_int_equal(s.pairs[0].spine, 3);
	near(s.pairs[0].shortfall_ratio, 0.2);
	near(s.pairs[0].loss_ratio, 40.0 / 5000);
	assert_int_equal(s.n_jobs, 1);
	assert_int_equal(s.jobs[0].job_id, 7);
	near(s.jobs[0].tx_bytes_per_second, 5e9);
	near(s.jobs[0].rx_bytes_per_second, 0);

	/* The next interval starts clean. */
	assert_int_equal(tita_health_close(h, 20 * ROUND, &s), 0);
	assert_int_equal(s.start_ns, 1 * MS);
	near(s.ports[0].tx_bytes_per_second, 0);
	near(s.ports[0].tx_blocked_ratio, 0);
	near(s.ports[0].tx_active_ratio, 0);
	assert_int_equal(s.n_pairs, 0);
	assert_int_equal(s.n_jobs, 0);
	tita_health_free(h);
}

/* Two unpaced pairs with backlog share the line: 0.625 MB each per round
 * is the whole line, not a blocked half; each pair on its own was allowed
 * line rate, so its line says 0.5. Slack: a round whose open pairs had
 * 0.9 of their allowance is not app-limited, one with 0.89 is. */
static void test_tx_line_cap_and_slack(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;

	(void)state;
	tita_health_params_default(&p);
	h = one_port(&p);
	for (int r = 1; r <= 10; r++) {
		struct tita_health_tx a = tx(2, 1, 625000, 2000000, TITA_RATE_UNPACED, true);
		struct tita_health_tx b = tx(3, 1, 625000, 2000000, TITA_RATE_UNPACED, true);

		assert_int_equal(tita_health_tx_round(h, &a, r * ROUND), 0);
		assert_int_equal(tita_health_tx_round(h, &b, r * ROUND), 0);
	}
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	near(s.ports[0].tx_blocked_ratio, 0);
	near(s.ports[0].tx_active_ratio, 1);
	near(s.ports[0].tx_app_limited_ratio, 0);
	assert_int_equal(s.n_pairs, 2);
	near(s.pairs[0].shortfall_ratio, 0.5);
	near(s.pairs[1].shortfall_ratio, 0.5);

	/* 10 Gb/s allows 125 000 bytes a round; 0.9 of it is 112 500. */
	struct tita_health_tx at = tx(2, 1, 112500, 0, 10 * TITA_GBPS, true);
	struct tita_health_tx below = tx(2, 1, 111250, 0, 10 * TITA_GBPS, true);
	struct tita_health_tx shut = tx(2, 1, 0, 0, 10 * TITA_GBPS, false);

	assert_int_equal(tita_health_tx_round(h, &at, 11 * ROUND), 0);
	assert_int_equal(tita_health_tx_round(h, &below, 12 * ROUND), 0);
	assert_int_equal(tita_health_tx_round(h, &shut, 13 * ROUND), 0);
	assert_int_equal(tita_health_close(h, 20 * ROUND, &s), 0);
	near(s.ports[0].tx_app_limited_ratio, 0.1);
	near(s.ports[0].tx_active_ratio, 0.2);
	tita_health_free(h);
}

/* Remote 2: granted 40 Gb/s (0.5 MB a round), backlogged, 0.4 MB arrive;
 * remote 3: not backlogged, 0.1 MB. Five rounds of a 1 ms interval. */
static void test_rx_gauges(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;
	struct tita_addr me = addr(1);

	(void)state;
	tita_health_params_default(&p);
	h = one_port(&p);
	assert_int_equal(tita_health_port_pause(h, &me, true, 100, 7, 0), 0);
	for (int r = 1; r <= 5; r++) {
		struct tita_health_rx a = rx(2, 400000, 400, 100, 4, 40 * TITA_GBPS, true);
		struct tita_health_rx b = rx(3, 100000, 100, 0, 0, 10 * TITA_GBPS, false);

		assert_int_equal(tita_health_rx_round(h, &a, r * ROUND), 0);
		assert_int_equal(tita_health_rx_round(h, &b, r * ROUND), 0);
	}
	assert_int_equal(tita_health_port_pause(h, &me, true, 600, 17, 10 * ROUND), 0);
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	near(s.ports[0].rx_bytes_per_second, 2.5e9);
	near(s.ports[0].rx_shortfall_ratio, 0.2);
	near(s.ports[0].ce_ratio, 0.2);
	near(s.ports[0].loss_ratio, 20.0 / 2520);
	near(s.ports[0].tx_active_ratio, 0);
	assert_true(s.ports[0].pause_known);
	near(s.ports[0].pause_tx_per_second, 500 / 1e-3);
	near(s.ports[0].pause_rx_per_second, 10 / 1e-3);
	assert_int_equal(s.n_pairs, 2);
	struct tita_addr two = addr(2);

	assert_true(tita_addr_eq(&s.pairs[0].remote, &two));
	assert_int_equal(s.pairs[0].role, TITA_HEALTH_RX);
	near(s.pairs[0].shortfall_ratio, 0.2);
	near(s.pairs[0].loss_ratio, 20.0 / 2020);
	near(s.pairs[1].shortfall_ratio, 0);
	assert_int_equal(s.n_jobs, 1);
	near(s.jobs[0].rx_bytes_per_second, 2.5e9);

	/* A counter that went backwards is a new base; unknown hides them. */
	assert_int_equal(tita_health_port_pause(h, &me, true, 5, 5, 11 * ROUND), 0);
	assert_int_equal(tita_health_port_pause(h, &me, true, 9, 5, 12 * ROUND), 0);
	assert_int_equal(tita_health_close(h, 20 * ROUND, &s), 0);
	near(s.ports[0].pause_tx_per_second, 4 / 1e-3);
	assert_int_equal(tita_health_port_pause(h, &me, false, 0, 0, 21 * ROUND), 0);
	assert_int_equal(tita_health_close(h, 30 * ROUND, &s), 0);
	assert_false(s.ports[0].pause_known);
	tita_health_free(h);
}

/* Per (port, role, spine): the share of what its pairs were owed that did
 * not go or arrive, bytes-weighted, keyed on the spine the packets take
 * (path_spine) where the caller knows it, else on the line's; pairs of no
 * known spine in none; a spine beyond the bound counted, not kept. */
static void test_spine_gauges(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;
	static char buf[1 << 16];
	int rx1 = -1, rx2 = -1, tx0 = -1;

	(void)state;
	tita_health_params_default(&p);
	h = one_port(&p);
	for (int r = 1; r <= 5; r++) {
		/* Spread (no line spine), its packets through spine 1: 0.4 of
		 * 0.5 MB owed arrive; placed on spine 2: all of it; no spine
		 * known at all; a spine beyond the bound. */
		struct tita_health_rx a = rx(2, 400000, 400, 0, 0, 40 * TITA_GBPS, true);
		struct tita_health_rx b = rx(3, 125000, 125, 0, 0, 10 * TITA_GBPS, true);
		struct tita_health_rx c = rx(4, 0, 0, 0, 0, 10 * TITA_GBPS, true);
		struct tita_health_rx d = rx(5, 0, 0, 0, 0, 10 * TITA_GBPS, true);
		/* Blocked, through spine 0 (as in test_tx_gauges). */
		struct tita_health_tx t = tx(6, 7, 1000000, 5000000, TITA_RATE_UNPACED, true);

		a.path_known = true;
		a.path_spine = 1;
		b.spine = 2;
		d.path_known = true;
		d.path_spine = TITA_HEALTH_SPINES_MAX;
		t.path_known = true;
		t.path_spine = 0;
		t.spine = 3; /* the line's, overridden by the path's */
		assert_int_equal(tita_health_rx_round(h, &a, r * ROUND), 0);
		assert_int_equal(tita_health_rx_round(h, &b, r * ROUND), 0);
		assert_int_equal(tita_health_rx_round(h, &c, r * ROUND), 0);
		assert_int_equal(tita_health_rx_round(h, &d, r * ROUND), 0);
		assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
	}
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	assert_int_equal(s.n_spine_lines, 3);
	for (uint32_t i = 0; i < s.n_spine_lines; i++) {
		const struct tita_health_spine_gauges *g = &s.spine_lines[i];

		if (g->role == TITA_HEALTH_RX && g->spine == 1)
			rx1 = (int)i;
		else if (g->role == TITA_HEALTH_RX && g->spine == 2)
			rx2 = (int)i;
		else if (g->role == TITA_HEALTH_TX && g->spine == 0)
			tx0 = (int)i;
	}
	assert_true(rx1 >= 0 && rx2 >= 0 && tx0 >= 0);
	/* The first round owes nothing (nothing waited before it). */
	near(s.spine_lines[rx1].shortfall_ratio, 0.2);
	near(s.spine_lines[rx2].shortfall_ratio, 0);
	near(s.spine_lines[tx0].shortfall_ratio, 0.2);
	assert_int_equal(s.untracked.spine_lines, 4);

	struct tita_health_label l3[] = { { "instance", "h3" } };
	struct tita_health_source src = { &s, l3, 1, NULL };

	assert_true(tita_health_format(&src, 1, buf, sizeof(buf)) < sizeof(buf));
	assert_non_null(strstr(buf, "tita_health_spine_shortfall_ratio{instance=\"h3\",port="
				    "\"10.0.0.1\",role=\"rx\",spine=\"1\"} 0.200000\n"));
	assert_non_null(strstr(buf, "tita_health_spine_shortfall_ratio{instance=\"h3\",port="
				    "\"10.0.0.1\",role=\"tx\",spine=\"0\"} 0.200000\n"));
	assert_non_null(
		strstr(buf, "tita_health_untracked{instance=\"h3\",what=\"spine_lines\"} 4\n"));

	/* The next interval starts clean. */
	assert_int_equal(tita_health_close(h, 20 * ROUND, &s), 0);
	assert_int_equal(s.n_spine_lines, 0);
	assert_int_equal(s.untracked.spine_lines, 0);
	tita_health_free(h);
}

/* Silence after 300 us; a peer stays counted for 10 intervals after its
 * last pair. */
static void test_silence(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;
	struct tita_addr one = addr(2), two = addr(3), three = addr(4);

	(void)state;
	tita_health_params_default(&p);
	p.silent_after_ns = 300 * US;
	h = one_port(&p);
	for (int r = 1; r <= 5; r++) {
		struct tita_health_tx t = tx(2, 1, 1000, 0, TITA_RATE_UNPACED, true);
		struct tita_health_rx a = rx(3, 0, 0, 0, 0, 0, false);
		struct tita_health_rx b = rx(4, 1000, 1, 0, 0, 0, false);

		assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
		assert_int_equal(tita_health_rx_round(h, &a, r * ROUND), 0);
		assert_int_equal(tita_health_rx_round(h, &b, r * ROUND), 0);
	}
	tita_health_peer_heard(h, &one, 2 * ROUND);
	tita_health_peer_heard(h, &two, 9 * ROUND);
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	/* one: heard at 0.2 ms (0.8 ms ago); three: its data at 0.5 ms. */
	assert_int_equal(s.ports[0].peers_silent, 2);
	assert_int_equal(s.n_silent, 2);
	assert_true(tita_addr_eq(&s.silent[0].remote, &one));
	near(s.silent[0].silent_seconds, 800e-6);
	assert_true(tita_addr_eq(&s.silent[1].remote, &three));
	near(s.silent[1].silent_seconds, 500e-6);

	/* Intervals 1..9 without pairs: still counted; two falls silent too. */
	for (int i = 1; i <= 9; i++) {
		assert_int_equal(tita_health_close(h, (uint64_t)(i + 1) * MS, &s), 0);
		assert_int_equal(s.ports[0].peers_silent, 3);
	}
	assert_int_equal(tita_health_close(h, 11 * MS, &s), 0);
	assert_int_equal(s.ports[0].peers_silent, 0);
	assert_int_equal(s.n_silent, 0);
	tita_health_free(h);
}

/* Bounds: what does not fit is counted, and still counts where it can. */
static void test_bounds(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;
	struct tita_addr other = addr(99);

	(void)state;
	tita_health_params_default(&p);
	p.max_ports = 1;
	p.max_pairs = 2;
	p.max_peers = 2;
	p.max_jobs = 1;
	p.worst_pairs = 2;
	h = one_port(&p);
	assert_int_equal(tita_health_port_set(h, &other, TITA_GBPS), -ENOSPC);
	for (int r = 1; r <= 2; r++)
		for (uint32_t k = 0; k < 5; k++) {
			/* Remote 2+k sends (1+k) x 0.1 of its allowance: pair 2 is
			 * worst (round 2 counts, with a backlog before it). */
			struct tita_health_tx t = tx(2 + k, k % 2, 125000 * (1 + k), 1250000,
						     TITA_RATE_UNPACED, true);

			assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
		}
	struct tita_health_tx lost = tx(2, 0, 1, 0, 1, true);

	lost.local = other;
	assert_int_equal(tita_health_tx_round(h, &lost, ROUND), -ENOENT);
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	/* All five pairs' bytes, twice: 0.125 MB x (1+2+3+4+5). */
	near(s.ports[0].tx_bytes_per_second, 2 * 125000.0 * 15 / 1e-3);
	assert_int_equal(s.untracked.ports, 1);
	assert_int_equal(s.untracked.samples_no_port, 1);
	assert_int_equal(s.untracked.pairs, 6);
	assert_int_equal(s.untracked.peers, 6);
	assert_int_equal(s.untracked.jobs, 4);
	/* Remembered: the first two; the other three count as throughout. */
	assert_int_equal(s.untracked.flows, 6);
	assert_int_equal(s.n_pairs, 2);
	near(s.pairs[0].shortfall_ratio, 0.9);
	near(s.pairs[1].shortfall_ratio, 0.8);
	assert_int_equal(s.n_jobs, 1);
	near(s.jobs[0].tx_bytes_per_second, 2 * 125000.0 * (1 + 3 + 5) / 1e-3);
	/* Counted per interval. */
	assert_int_equal(tita_health_close(h, 20 * ROUND, &s), 0);
	assert_int_equal(s.untracked.pairs, 0);
	assert_int_equal(s.untracked.ports, 0);

	/* K bounds the list, not the count. */
	tita_health_free(h);
	tita_health_params_default(&p);
	p.worst_pairs = 3;
	h = one_port(&p);
	for (int r = 1; r <= 2; r++)
		for (uint32_t k = 0; k < 8; k++) {
			struct tita_health_tx t =
				tx(2 + k, 0, 125000 * k, 1250000, 10 * TITA_GBPS * 100, true);

			assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
		}
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	assert_int_equal(s.n_pairs, 3);
	near(s.pairs[0].shortfall_ratio, 1);
	near(s.pairs[2].shortfall_ratio, 0.8);
	tita_health_free(h);
}

/* Thousands of pairs and peers: the tables grow under them (they start at
 * 256 slots) and lose nothing; the one pair that sent a tenth of what it
 * could is found among them, in both intervals (the second remembers the
 * first's pairs across the growth). */
static void test_tables_grow(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;
	const uint32_t n = 3000, slow = 1234;

	(void)state;
	tita_health_params_default(&p);
	p.max_pairs = 4096;
	p.max_peers = 4096;
	h = one_port(&p);
	for (int interval = 0; interval < 2; interval++) {
		for (int r = 1; r <= 2; r++)
			for (uint32_t k = 0; k < n; k++) {
				struct tita_health_tx t = tx(2 + k, 0, k == slow ? 125000 : 1250000,
							     1250000, TITA_RATE_UNPACED, true);

				assert_int_equal(
					tita_health_tx_round(h, &t,
							     (uint64_t)(10 * interval + r) * ROUND),
					0);
			}
		assert_int_equal(tita_health_close(h, (uint64_t)(10 * interval + 10) * ROUND, &s),
				 0);
		assert_int_equal(s.untracked.pairs, 0);
		assert_int_equal(s.untracked.peers, 0);
		assert_int_equal(s.untracked.flows, 0);
		assert_true(s.n_pairs >= 1);
		{
			struct tita_addr want = addr(2 + slow);

			assert_true(tita_addr_eq(&s.pairs[0].remote, &want));
		}
		near(s.pairs[0].shortfall_ratio, 0.9);
		if (s.n_pairs > 1)
			near(s.pairs[1].shortfall_ratio, 0);
	}
	tita_health_free(h);
}

/* What a TX pair was allowed is what waited when the round began, up to
 * its rate: its first round owes nothing, nor one after a gap of more than
 * 1.5 rounds, nor one that began with no more than the slack waiting. An
 * RX pair's grant is owed when its sender was backlogged at both ends. An
 * open transfer with more than the slack waiting is not app-limited. */
static void test_throughout(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;

	(void)state;
	tita_health_params_default(&p);
	h = one_port(&p);
	/* Rounds 1, 2, 3, 5, 6: sends nothing of 1 MB waiting. Owed: 1 MB
	 * (less than the 1.25 allowed) in rounds 2, 3 and 6; not 5 (round 4
	 * missing). */
	for (int r = 1; r <= 6; r++) {
		struct tita_health_tx t = tx(2, 0, 0, 1000000, TITA_RATE_UNPACED, true);

		if (r != 4)
			assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
	}
	/* Rounds 7-8: another pair sends 1 MB with 2 MB waiting: round 8
	 * owes 1.25. Round 9: the slack (125 KB) waited, nothing is owed. */
	for (int r = 7; r <= 10; r++) {
		struct tita_health_tx t = tx(3, 0, 1000000, 2000000, TITA_RATE_UNPACED, true);

		if (r == 8)
			t.backlog_bytes = 125000;
		if (r == 9) {
			t.tx_bytes = 0;
			t.backlog_bytes = 200000;
		}
		if (r == 10) {
			/* 200 KB waited, 300 KB went (the rest of a new message
			 * posted late in the round): nothing held back. */
			t.tx_bytes = 300000;
		}
		assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
	}
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);
	/* Owed 3 x 1 + 1.25 (round 8) + 0.2 (round 10) MB; sent 1 of it. */
	near(s.ports[0].tx_blocked_ratio, (3 * 1.0 + 0.25) / (3 * 1.0 + 1.25 + 0.2));
	/* Round 8 ended with only the slack waiting and sent 0.8 of what it
	 * was allowed: app-limited; the other rounds held more. */
	near(s.ports[0].tx_app_limited_ratio, 0.1);

	/* Remembered across the close: round 11 follows round 10. */
	struct tita_health_rx a = rx(2, 0, 0, 0, 0, 40 * TITA_GBPS, true);

	assert_int_equal(tita_health_rx_round(h, &a, 10 * ROUND), 0);
	assert_int_equal(tita_health_close(h, 10 * ROUND + 1, &s), 0);
	near(s.ports[0].rx_shortfall_ratio, 0);
	assert_int_equal(tita_health_rx_round(h, &a, 11 * ROUND), 0);
	a.sender_backlogged = false;
	assert_int_equal(tita_health_rx_round(h, &a, 12 * ROUND), 0);
	a.sender_backlogged = true;
	assert_int_equal(tita_health_rx_round(h, &a, 13 * ROUND), 0);
	assert_int_equal(tita_health_close(h, 20 * ROUND, &s), 0);
	near(s.ports[0].rx_shortfall_ratio, 1);
	assert_int_equal(s.n_pairs, 1);
	near(s.pairs[0].shortfall_ratio, 1);
	/* Forgotten after an interval without it: round 31 is a first. */
	assert_int_equal(tita_health_close(h, 30 * ROUND, &s), 0);
	assert_int_equal(tita_health_rx_round(h, &a, 31 * ROUND), 0);
	assert_int_equal(tita_health_close(h, 40 * ROUND, &s), 0);
	near(s.ports[0].rx_shortfall_ratio, 0);
	tita_health_free(h);
}

static void test_bad_input(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;

	(void)state;
	tita_health_params_default(&p);
	assert_int_equal(tita_health_params_check(&p), 0);
	p.worst_pairs = TITA_HEALTH_WORST_MAX + 1;
	assert_int_equal(tita_health_params_check(&p), -EINVAL);
	assert_null(tita_health_new(&p, 0));
	tita_health_params_default(&p);
	p.app_slack_ratio = 1;
	assert_int_equal(tita_health_params_check(&p), -EINVAL);
	tita_health_params_default(&p);
	p.max_ports = TITA_HEALTH_PORTS_MAX + 1;
	assert_int_equal(tita_health_params_check(&p), -EINVAL);
	tita_health_params_default(&p);
	h = tita_health_new(&p, 5 * MS);
	assert_non_null(h);
	struct tita_addr me = addr(1);

	assert_int_equal(tita_health_port_set(h, &me, 0), -EINVAL);
	assert_int_equal(tita_health_port_set(h, &me, TITA_RATE_MAX_BPS + 1), -EINVAL);
	assert_int_equal(tita_health_port_set(h, &me, 25 * TITA_GBPS), 0);
	struct tita_health_tx t = tx(2, 0, 0, 0, 1, false);

	t.interval_ns = 0;
	assert_int_equal(tita_health_tx_round(h, &t, 5 * MS + ROUND), -EINVAL);
	t = tx(2, 0, 0, 0, 1, false);
	t.tx_packets = 1;
	t.retx_packets = 2;
	assert_int_equal(tita_health_tx_round(h, &t, 5 * MS + ROUND), -EINVAL);
	struct tita_health_rx r = rx(2, 0, 1, 2, 0, 0, false);

	assert_int_equal(tita_health_rx_round(h, &r, 5 * MS + ROUND), -EINVAL);
	assert_int_equal(tita_health_close(h, 5 * MS, &s), -EINVAL);
	assert_int_equal(tita_health_close(h, 4 * MS, &s), -EINVAL);
	assert_int_equal(tita_health_close(h, 6 * MS, &s), 0);
	assert_int_equal(s.start_ns, 5 * MS);
	assert_null(tita_health_free(h));
	assert_null(tita_health_free(NULL));
}

static const char *sim_port(void *ctx, const struct tita_addr *a, char *buf, size_t size)
{
	(void)ctx;
	snprintf(buf, size, "h%u", a->bytes[15]);
	return buf;
}

static const char *sim_job(void *ctx, uint32_t job, char *buf, size_t size)
{
	(void)ctx;
	snprintf(buf, size, "job-%u", job);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_format(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s;
	struct tita_health *h;
	struct tita_addr me = addr(1);
	static char buf[1 << 16];
	size_t n;

	(void)state;
	tita_health_params_default(&p);
	h = one_port(&p);
	for (int r = 1; r <= 4; r++) {
		struct tita_health_tx t = tx(2, 7, 1000000, 5000000, TITA_RATE_UNPACED, true);

		t.spine = 3;
		assert_int_equal(tita_health_tx_round(h, &t, r * ROUND), 0);
	}
	assert_int_equal(tita_health_port_pause(h, &me, true, 0, 0, 0), 0);
	assert_int_equal(tita_health_port_pause(h, &me, true, 5, 0, ROUND), 0);
	assert_int_equal(tita_health_close(h, 10 * ROUND, &s), 0);

	struct tita_health_label l3[] = { { "instance", "h3" } };
	struct tita_health_label l4[] = { { "instance", "h\"4\\\n" } };
	struct tita_health_namer nm = { NULL, sim_port, sim_port, sim_job };
	struct tita_health_source src[] = {
		{ &s, l3, 1, NULL },
		{ &s, l4, 1, &nm },
	};

	n = tita_health_format(src, 2, buf, sizeof(buf));
	assert_true(n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
	/* Every family once, its samples from both sources under it. */
	for (int m = 0; m < TITA_HEALTH_N_METRICS; m++) {
		const struct tita_health_metric_desc *d = tita_health_metric_desc(m);
		char line[160];

		snprintf(line, sizeof(line), "# TYPE %s gauge\n", d->name);
		assert_int_equal(count(buf, line), 1);
		snprintf(line, sizeof(line), "# HELP %s ", d->name);
		assert_int_equal(count(buf, line), 1);
	}
	assert_null(tita_health_metric_desc(TITA_HEALTH_N_METRICS));
	assert_non_null(strstr(buf, "# HELP tita_health_tx_bytes_per_second Bytes a port sent over "
				    "the last health interval. In bytes per second (titactl shows "
				    "bits per second).\n"));
	assert_non_null(strstr(buf,
			       "tita_health_tx_blocked_ratio{instance=\"h3\",port=\"10.0.0.1\"} "
			       "0.200000\n"
			       "tita_health_tx_blocked_ratio{instance=\"h_4__\",port=\"h1\"} "
			       "0.200000\n"));
	assert_non_null(strstr(buf, "tita_health_tx_bytes_per_second{instance=\"h3\",port="
				    "\"10.0.0.1\"} 4000000000\n"));
	assert_non_null(strstr(buf, "tita_health_tx_active_ratio{instance=\"h3\",port="
				    "\"10.0.0.1\"} 0.400000\n"));
	assert_non_null(strstr(buf, "tita_health_pause_tx_per_second{instance=\"h3\",port="
				    "\"10.0.0.1\"} 5000.000000\n"));
	assert_non_null(strstr(buf,
			       "tita_health_pair_shortfall_ratio{instance=\"h_4__\",port=\"h1\","
			       "peer=\"h2\",role=\"tx\",spine=\"3\"} 0.200000\n"));
	assert_non_null(strstr(buf, "tita_health_job_tx_bytes_per_second{instance=\"h3\","
				    "tita_job=\"7\"} 4000000000\n"));
	assert_non_null(strstr(buf, "tita_health_job_tx_bytes_per_second{instance=\"h_4__\","
				    "tita_job=\"job-7\"} 4000000000\n"));
	assert_int_equal(count(buf, "tita_health_untracked{"), 0);
	assert_int_equal(count(buf, "\ntita_health_peers_silent{"), 2);

	/* Cut short: the length it needs, a NUL-terminated prefix. */
	assert_int_equal(tita_health_format(src, 2, buf, 10), n);
	assert_int_equal(strlen(buf), 9);
	assert_int_equal(tita_health_format(src, 2, NULL, 0), n);
	/* A bad label name. */
	struct tita_health_label bad[] = { { "1nstance", "x" } };
	struct tita_health_source bsrc = { &s, bad, 1, NULL };

	assert_int_equal(tita_health_format(&bsrc, 1, buf, sizeof(buf)), (size_t)-1);
	assert_string_equal(buf, "");
	tita_health_free(h);
}

/* Feeds two trackers the same samples, one asked ahead for every sample
 * (and for ports and pairs it does not hold): their snapshots match. */
static void test_prefetch_changes_nothing(void **state)
{
	struct tita_health_params p;
	struct tita_health_snapshot s[2];
	struct tita_health *h[2];
	struct tita_addr stranger = addr(99999);
	const uint32_t n = 1500;

	(void)state;
	tita_health_params_default(&p);
	p.max_pairs = 4096;
	p.max_peers = 4096;
	for (int i = 0; i < 2; i++)
		h[i] = one_port(&p);
	for (int r = 1; r <= 3; r++)
		for (uint32_t k = 0; k < n; k++) {
			struct tita_health_tx t = tx(2 + k, k % 3, k % 7 ? 1250000 : 125000,
						     1250000, 40 * TITA_GBPS, true);
			struct tita_health_rx x =
				rx(2 + k, 100000 * (k % 5), 100, k % 2, 0, 10 * TITA_GBPS, true);
			struct tita_health_tx ahead = tx(2 + k + 8, (k + 8) % 3, 0, 0, 0, true);

			tita_health_prefetch(h[1], &ahead.local, &ahead.remote, ahead.job_id,
					     TITA_HEALTH_TX);
			tita_health_prefetch(h[1], &x.local, &x.remote, x.job_id, TITA_HEALTH_RX);
			tita_health_prefetch(h[1], &stranger, &x.remote, 0, TITA_HEALTH_RX);
			for (int i = 0; i < 2; i++) {
				assert_int_equal(
					tita_health_tx_round(h[i], &t, (uint64_t)r * ROUND), 0);
				assert_int_equal(
					tita_health_rx_round(h[i], &x, (uint64_t)r * ROUND), 0);
			}
		}
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 2; i++)
		assert_int_equal(tita_health_close(h[i], 10 * ROUND, &s[i]), 0);
	assert_true(s[0].n_pairs > 0);
	assert_int_equal(s[0].n_pairs, s[1].n_pairs);
	assert_int_equal(s[0].n_silent, s[1].n_silent);
	assert_memory_equal(&s[0].untracked, &s[1].untracked, sizeof(s[0].untracked));
	assert_memory_equal(&s[0].ports[0], &s[1].ports[0], sizeof(s[0].ports[0]));
	for (uint32_t k = 0; k < s[0].n_pairs; k++)
		assert_memory_equal(&s[0].pairs[k], &s[1].pairs[k], sizeof(s[0].pairs[k]));
	for (int i = 0; i < 2; i++)
		tita_health_free(h[i]);
}

/* The address hash spreads addresses that differ only in their last bytes
 * (IPv4-mapped, as the test bed's 127.1.x.y) or only in their first
 * eight (IPv6 prefixes) over a table's low bits: linear probing in a
 * half-full table stays short. */
static void test_addr_hash_spreads(void **state)
{
	enum { N = 2048, SLOTS = 2 * N };
	static bool used[SLOTS];

	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		uint64_t probes = 0;

		memset(used, 0, sizeof(used));
		for (uint32_t k = 0; k < N; k++) {
			struct tita_addr a = { .bytes = { 0 } };
			uint32_t i;

			if (kind == 0) {
				a = addr(k);
			} else {
				a.bytes[0] = 0xfd;
				a.bytes[6] = (uint8_t)(k >> 8);
				a.bytes[7] = (uint8_t)k;
				a.bytes[15] = 1;
			}
			i = (uint32_t)tita_addr_hash(&a, 0x1234) & (SLOTS - 1);
			for (probes++; used[i]; i = (i + 1) & (SLOTS - 1))
				probes++;
			used[i] = true;
		}
		if ((double)probes / N > 2.0)
			fail_msg("kind %d: %.2f probes a lookup", kind, (double)probes / N);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_gauges),
		cmocka_unit_test(test_tx_line_cap_and_slack),
		cmocka_unit_test(test_rx_gauges),
		cmocka_unit_test(test_spine_gauges),
		cmocka_unit_test(test_silence),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_tables_grow),
		cmocka_unit_test(test_throughout),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_prefetch_changes_nothing),
		cmocka_unit_test(test_addr_hash_spreads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
