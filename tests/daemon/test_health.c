// SPDX-License-Identifier: MIT
/*
 * titad's health feed (daemon/health.c): each pass's samples summed per
 * pair, joined with the controller's pairs once a 10 ms health round, into
 * lib/health. A TX pair is allowed its programmed rate (line rate when
 * unpaced or unknown to the controller); an RX pair granted with nothing
 * arriving counts as shortfall over the whole health round; a remote's
 * jobs are one RX pair; bursty arrivals within a health round are not
 * shortfall; pause counters reach the port gauges, absent when unknown;
 * a peer with a pair that was not heard for the 3 s floor is silent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "health.h"

#define MS 1000000ull
#define LINE_BPS 100000000ull /* 100 Mbit/s: 12,500 bytes a millisecond */

static struct tita_addr addr(uint8_t last)
{
	uint8_t ip[4] = { 10, 0, 0, last };

	return tita_addr_from_ipv4(ip);
}

static struct titad_health *open_health(uint64_t now_ns)
{
	struct titad_config cfg;
	struct titad_health *h;
	struct tita_addr local = addr(1);
	uint64_t rate = LINE_BPS;
	char err[128];

	titad_config_defaults(&cfg);
	assert_int_equal(titad_health_open(&h, &cfg, &local, &rate, 1, now_ns, err, sizeof(err)),
			 0);
	return h;
}

/* One control pass as the engine feeds it: the samples, and the pairs
 * when a health round is due. */
static void feed(struct titad_health *h, const struct tita_tx_sample *tx, size_t n_tx,
		 const struct tita_rx_sample *rx, size_t n_rx, const struct tita_pair_info *pairs,
		 size_t n_pairs, uint64_t now_ns)
{
	titad_health_samples(h, NULL, 0, tx, n_tx, rx, n_rx, now_ns);
	if (titad_health_window_due(h, now_ns))
		titad_health_window(h, pairs, n_pairs, now_ns);
}

static struct tita_pair_info tx_pair(uint8_t remote, uint32_t job, uint64_t rate_bps)
{
	struct tita_pair_info p = { .local = addr(1),
				    .remote = addr(remote),
				    .job_id = job,
				    .role = TITA_PAIR_TX,
				    .state = TITA_PAIR_GRANTED,
				    .rate_bps = rate_bps,
				    .spine = TITA_SPINE_NONE };

	return p;
}

static struct tita_pair_info rx_pair(uint8_t remote, uint32_t job, uint64_t grant_bps,
				     uint64_t demand_bps)
{
	struct tita_pair_info p = { .local = addr(1),
				    .remote = addr(remote),
				    .job_id = job,
				    .role = TITA_PAIR_RX,
				    .state = TITA_PAIR_ACTIVE,
				    .grant_bps = grant_bps,
				    .demand_bps = demand_bps,
				    .spine = TITA_SPINE_NONE };

	return p;
}

static const struct tita_health_port_gauges *port0(struct titad_health *h, uint64_t now_ns)
{
	assert_int_equal(titad_health_end_interval(h, NULL, now_ns), 0);
	assert_non_null(titad_health_snapshot(h));
	assert_int_equal(titad_health_snapshot(h)->n_ports, 1);
	return &titad_health_snapshot(h)->ports[0];
}

/* A pair paced at 40 Mbit/s with a backlog that sends 20 Mbit/s is half
 * blocked; one paced at its rate is not; an unpaced pair is allowed the
 * line rate. */
static void test_tx_blocked(void **state)
{
	uint64_t t = 1000 * MS;
	struct titad_health *h = open_health(t);
	struct tita_pair_info pairs[] = { tx_pair(2, 7, 40000000), tx_pair(3, 7, 40000000) };

	(void)state;
	for (int r = 1; r <= 1000; r++) {
		struct tita_tx_sample s[2] = {
			{ .local = addr(1),
			  .remote = addr(2),
			  .job_id = 7,
			  .interval_ns = MS,
			  .tx_bytes = 2500,
			  .backlog_bytes = 50000 },
			{ .local = addr(1),
			  .remote = addr(3),
			  .job_id = 7,
			  .interval_ns = MS,
			  .tx_bytes = 5000,
			  .backlog_bytes = 50000 },
		};

		feed(h, s, 2, NULL, 0, pairs, 2, t + r * MS);
	}
	{
		const struct tita_health_port_gauges *g = port0(h, t + 1000 * MS);
		const struct tita_health_snapshot *snap = titad_health_snapshot(h);

		/* 2,500 + 5,000 of 10,000 allowed a round. */
		assert_float_equal(g->tx_blocked_ratio, 0.25, 0.01);
		assert_float_equal(g->tx_bytes_per_second, 7.5e6, 1e5);
		assert_float_equal(g->tx_active_ratio, 1.0, 0.02);
		assert_float_equal(g->tx_app_limited_ratio, 0.0, 1e-9);
		assert_true(snap->n_pairs >= 2);
		/* The worst first: the pair to .2, half blocked. */
		assert_true(tita_addr_eq(&snap->pairs[0].remote, &pairs[0].remote));
		assert_float_equal(snap->pairs[0].shortfall_ratio, 0.5, 0.01);
		assert_false(g->pause_known);
	}
	titad_health_close_all(h);
}

/* The datapath counts bytes as they enter the pacer's queue: a pair whose
 * application stalled while its queue drains at the paced rate entered
 * nothing, but sent its rate from the queue: not blocked. One whose queue
 * grows while bytes enter at the rate sent less than entered: blocked. */
static void test_tx_queued(void **state)
{
	uint64_t t = 3000 * MS;
	struct titad_health *h = open_health(t);
	struct tita_pair_info pairs[] = { tx_pair(2, 7, 40000000), tx_pair(3, 7, 40000000) };

	(void)state;
	for (int r = 1; r <= 100; r++) {
		/* .2: 100,000 queued bytes drain 5,000 a round, none enter.
		 * .3: 5,000 enter a round, and its queue (100,000 bytes from
		 * the start: a whole allowance always waits) grows by 2,500. */
		struct tita_tx_sample s[2] = {
			{ .local = addr(1),
			  .remote = addr(2),
			  .job_id = 7,
			  .interval_ns = MS,
			  .tx_bytes = r == 1 ? 100000 : 0,
			  .backlog_bytes = 100000 - (uint64_t)r * 5000 + 5000 },
			{ .local = addr(1),
			  .remote = addr(3),
			  .job_id = 7,
			  .interval_ns = MS,
			  .tx_bytes = r == 1 ? 105000 : 5000,
			  .backlog_bytes = 100000 + (uint64_t)r * 2500 },
		};

		titad_health_samples(h, s, 2, NULL, 0, NULL, 0, t + r * MS);
		if (titad_health_window_due(h, t + r * MS))
			titad_health_window(h, pairs, 2, t + r * MS);
	}
	{
		const struct tita_health_snapshot *snap;

		port0(h, t + 100 * MS);
		snap = titad_health_snapshot(h);
		for (uint32_t i = 0; i < snap->n_pairs; i++) {
			if (tita_addr_eq(&snap->pairs[i].remote, &pairs[0].remote))
				assert_float_equal(snap->pairs[i].shortfall_ratio, 0.0, 0.02);
			else
				assert_float_equal(snap->pairs[i].shortfall_ratio, 0.5, 0.02);
		}
		assert_int_equal(snap->n_pairs, 2);
	}
	titad_health_close_all(h);
}

/* A sample whose pair the controller does not hold runs unpaced: allowed
 * the line rate, so sending at line rate with a queue is not blocked. */
static void test_tx_unknown_pair_is_line_rate(void **state)
{
	uint64_t t = 5000 * MS;
	struct titad_health *h = open_health(t);

	(void)state;
	for (int r = 1; r <= 200; r++) {
		struct tita_tx_sample s = { .local = addr(1),
					    .remote = addr(9),
					    .interval_ns = MS,
					    .tx_bytes = 12500,
					    .backlog_bytes = 1000 };

		feed(h, &s, 1, NULL, 0, NULL, 0, t + r * MS);
	}
	assert_float_equal(port0(h, t + 200 * MS)->tx_blocked_ratio, 0.0, 0.01);
	titad_health_close_all(h);
}

/* An open transfer without a backlog, sending a tenth of its rate: the
 * application limits it. */
static void test_app_limited(void **state)
{
	uint64_t t = 7000 * MS;
	struct titad_health *h = open_health(t);
	struct tita_pair_info p = tx_pair(2, 7, 80000000);

	(void)state;
	for (int r = 1; r <= 500; r++) {
		struct tita_tx_sample s = { .local = addr(1),
					    .remote = addr(2),
					    .job_id = 7,
					    .interval_ns = MS,
					    .tx_bytes = 1000 };

		feed(h, &s, 1, NULL, 0, &p, 1, t + r * MS);
	}
	{
		const struct tita_health_port_gauges *g = port0(h, t + 500 * MS);

		assert_float_equal(g->tx_app_limited_ratio, 1.0, 0.05);
		assert_float_equal(g->tx_blocked_ratio, 0.0, 1e-9);
	}
	titad_health_close_all(h);
}

/* h grants .2 (two jobs, 30 + 10 Mbit/s, both asking for more) and .3
 * (20 Mbit/s). .2 delivers all of it, in bursts: 10 ms of traffic every
 * 10th round and nothing in between. .3 delivers nothing, and the datapath
 * has no sample of it at all. The shortfall is .3's share, not the bursts'. */
static void test_rx_shortfall(void **state)
{
	uint64_t t = 9000 * MS;
	struct titad_health *h = open_health(t);
	struct tita_pair_info pairs[] = { rx_pair(2, 1, 30000000, 50000000),
					  rx_pair(2, 2, 10000000, 10000000),
					  rx_pair(3, 1, 20000000, 20000000) };

	(void)state;
	for (int r = 1; r <= 1000; r++) {
		/* 40 Mbit/s for 10 ms: 50,000 bytes. */
		struct tita_rx_sample s = { .local = addr(1),
					    .remote = addr(2),
					    .interval_ns = MS,
					    .rx_bytes = 50000,
					    .rx_packets = 25,
					    .ce_packets = 5 };
		bool burst = r % 10 == 0;

		feed(h, NULL, 0, burst ? &s : NULL, burst, pairs, 3, t + r * MS);
	}
	{
		const struct tita_health_port_gauges *g = port0(h, t + 1000 * MS);
		const struct tita_health_snapshot *snap = titad_health_snapshot(h);
		bool seen3 = false;

		/* 20 of the 60 Mbit/s granted did not arrive. */
		assert_float_equal(g->rx_shortfall_ratio, 1.0 / 3, 0.02);
		assert_float_equal(g->ce_ratio, 0.2, 1e-6);
		for (uint32_t i = 0; i < snap->n_pairs; i++) {
			if (snap->pairs[i].role != TITA_HEALTH_RX)
				continue;
			if (tita_addr_eq(&snap->pairs[i].remote, &pairs[2].remote)) {
				assert_float_equal(snap->pairs[i].shortfall_ratio, 1.0, 0.01);
				seen3 = true;
			} else {
				assert_float_equal(snap->pairs[i].shortfall_ratio, 0.0, 0.01);
			}
		}
		assert_true(seen3);
	}
	titad_health_close_all(h);
}

/* A sender that asks for less than it is granted has no bytes waiting:
 * what it does not send is not shortfall. */
static void test_rx_sender_not_backlogged(void **state)
{
	uint64_t t = 20000 * MS;
	struct titad_health *h = open_health(t);
	struct tita_pair_info p = rx_pair(2, 1, 50000000, 10000000);

	(void)state;
	for (int r = 1; r <= 300; r++)
		feed(h, NULL, 0, NULL, 0, &p, 1, t + r * MS);
	assert_float_equal(port0(h, t + 300 * MS)->rx_shortfall_ratio, 0.0, 1e-9);
	titad_health_close_all(h);
}

/* On hardware RoCE the datapath sees none of what the NIC receives: after
 * an interval that shows it, grants that "did not arrive" are not
 * shortfall; once the datapath sees the traffic again, they are. */
static void test_rx_blind(void **state)
{
	uint64_t t = 25000 * MS;
	struct titad_health *h = open_health(t);
	struct tita_pair_info p = rx_pair(2, 1, 50000000, 50000000);
	struct tita_addr local = addr(1);

	(void)state;
	for (int r = 1; r <= 100; r++)
		feed(h, NULL, 0, NULL, 0, &p, 1, t + r * MS);
	titad_health_nic_rx(h, &local, 5000);
	assert_float_equal(port0(h, t + 100 * MS)->rx_shortfall_ratio, 1.0, 0.01);
	assert_true(titad_health_rx_blind(h, 0));
	for (int r = 101; r <= 200; r++)
		feed(h, NULL, 0, NULL, 0, &p, 1, t + r * MS);
	assert_float_equal(port0(h, t + 200 * MS)->rx_shortfall_ratio, 0.0, 1e-9);
	/* No NIC counters in that interval: not blind any more. */
	assert_false(titad_health_rx_blind(h, 0));
	for (int r = 201; r <= 300; r++)
		feed(h, NULL, 0, NULL, 0, &p, 1, t + r * MS);
	assert_float_equal(port0(h, t + 300 * MS)->rx_shortfall_ratio, 1.0, 0.01);
	titad_health_close_all(h);
}

/* Pause counters: a rate over the interval when the NIC tells, absent
 * when it does not. */
static void test_pause(void **state)
{
	uint64_t t = 30000 * MS;
	struct titad_health *h = open_health(t);
	struct titad_health_pause p = { .known = true, .tx_frames = 1000, .rx_frames = 5 };

	(void)state;
	assert_int_equal(titad_health_end_interval(h, &p, t + 1000 * MS), 0);
	p.tx_frames = 3000;
	p.rx_frames = 5;
	assert_int_equal(titad_health_end_interval(h, &p, t + 2000 * MS), 0);
	assert_true(titad_health_snapshot(h)->ports[0].pause_known);
	assert_float_equal(titad_health_snapshot(h)->ports[0].pause_tx_per_second, 2000, 1);
	assert_float_equal(titad_health_snapshot(h)->ports[0].pause_rx_per_second, 0, 1e-9);
	p.known = false;
	assert_int_equal(titad_health_end_interval(h, &p, t + 3000 * MS), 0);
	assert_false(titad_health_snapshot(h)->ports[0].pause_known);
	/* An interval that has not started yet is refused. */
	assert_int_equal(titad_health_end_interval(h, &p, t + 3000 * MS), -EINVAL);
	titad_health_close_all(h);
}

/* A peer with a pair, heard last 5 s ago, is silent after the 3 s floor;
 * one heard a moment ago is not. */
static void test_silent(void **state)
{
	uint64_t t = 40000 * MS;
	struct titad_health *h = open_health(t);
	struct tita_pair_info pairs[] = { rx_pair(2, 1, 1000000, 1000000),
					  rx_pair(3, 1, 1000000, 1000000) };
	const struct tita_health_snapshot *snap;

	(void)state;
	for (int r = 1; r <= 20; r++)
		feed(h, NULL, 0, NULL, 0, pairs, 2, t + r * MS);
	titad_health_heard(h, &pairs[1].remote, t + 5990 * MS);
	assert_int_equal(titad_health_end_interval(h, NULL, t + 6000 * MS), 0);
	snap = titad_health_snapshot(h);
	assert_int_equal(snap->ports[0].peers_silent, 1);
	assert_int_equal(snap->n_silent, 1);
	assert_true(tita_addr_eq(&snap->silent[0].remote, &pairs[0].remote));
	assert_float_equal(snap->silent[0].silent_seconds, 5.98, 0.02);
	titad_health_close_all(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_blocked),
		cmocka_unit_test(test_tx_queued),
		cmocka_unit_test(test_tx_unknown_pair_is_line_rate),
		cmocka_unit_test(test_app_limited),
		cmocka_unit_test(test_rx_shortfall),
		cmocka_unit_test(test_rx_sender_not_backlogged),
		cmocka_unit_test(test_rx_blind),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_silent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
