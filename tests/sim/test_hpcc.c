// SPDX-License-Identifier: MIT
/*
 * HPCC's rate update against hand-computed cases (single rate, fast react,
 * eta 0.95, maxStage 0 and 5).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hpcc.h"

#define US 1000000ull
#define G100 100000000000ull

static void assert_close(double got, double want)
{
	if (fabs(got - want) > 1e-9 * fabs(want) + 1e-9)
		fail_msg("got %.17g, want %.17g", got, want);
}

static struct hpcc_hop hop(uint64_t ts_ps, uint64_t tx_bytes, uint64_t qlen)
{
	return (struct hpcc_hop){
		.rate_bps = G100, .ts_ps = ts_ps, .tx_bytes = tx_bytes, .qlen_bytes = qlen
	};
}

static void defaults(void **state)
{
	struct hpcc_params p;

	hpcc_params_default(&p, G100);
	assert_close(p.eta, 0.95);
	assert_int_equal(p.max_stage, 0);
	assert_int_equal(p.rai_bps, 40000000); /* 10 Mb/s x 100/25 */
}

static void full_link_cuts_to_eta(void **state)
{
	struct hpcc_params p;
	struct hpcc_qp q;
	struct hpcc_hop h;
	double r;

	hpcc_params_default(&p, G100);
	hpcc_qp_init(&q, G100, 10 * US);
	h = hop(0, 0, 0);
	/* First ACK: remembers the hop, no change. */
	r = hpcc_on_ack(&q, &p, 1000, 5000, &h, 1);
	assert_close(r, 100e9);
	assert_int_equal(q.last_update_seq, 5000);
	/* 10 us later the port sent 125 000 B (100 Gb/s), no queue: u = 1.
	 * tau = T, so U = u = 1; W = Wc / (1 / 0.95) + W_AI. */
	h = hop(10 * US, 125000, 0);
	r = hpcc_on_ack(&q, &p, 6000, 9000, &h, 1);
	assert_close(q.u, 1.0);
	assert_close(r, 100e9 * 0.95 + 40e6);
	assert_close(q.rc_bps, r);
	assert_int_equal(q.last_update_seq, 9000);
	assert_int_equal(hpcc_window_bytes(&q), (uint64_t)(r * 10e-6 / 8));
}

static void queue_term_and_ewma(void **state)
{
	struct hpcc_params p;
	struct hpcc_qp q;
	struct hpcc_hop h;
	double r;

	hpcc_params_default(&p, G100);
	hpcc_qp_init(&q, G100, 10 * US);
	h = hop(0, 0, 125000);
	hpcc_on_ack(&q, &p, 1, 100, &h, 1);
	/* 5 us, 62 500 B sent (u_tx = 1), queue min(125000, 250000) = 125000 B
	 * = B x T: u_q = 1; u = 2. tau = T/2: U = (0 x T/2 + 2 x T/2) / T = 1. */
	h = hop(5 * US, 62500, 250000);
	r = hpcc_on_ack(&q, &p, 200, 300, &h, 1);
	assert_close(q.u, 1.0);
	assert_close(r, 100e9 / (1.0 / 0.95) + 40e6);
}

static void fast_react_keeps_reference(void **state)
{
	struct hpcc_params p;
	struct hpcc_qp q;
	struct hpcc_hop h;
	double r1, r2;

	hpcc_params_default(&p, G100);
	hpcc_qp_init(&q, G100, 10 * US);
	h = hop(0, 0, 0);
	hpcc_on_ack(&q, &p, 1, 100000, &h, 1);
	/* ACK below last_update_seq: react (rate moves) from Rc, Rc stays. */
	h = hop(10 * US, 62500, 0); /* u = 0.5 */
	r1 = hpcc_on_ack(&q, &p, 50000, 150000, &h, 1);
	assert_close(q.u, 0.5);
	assert_close(r1, 100e9); /* Rc / (0.5 / 0.95) + AI, capped at line */
	assert_close(q.rc_bps, 100e9);
	assert_int_equal(q.last_update_seq, 100000);
	/* Overload: u = 2 -> U = 2 (tau = T); from Rc = 100G: 47.5G + AI. */
	h = hop(20 * US, 62500 + 250000, 0);
	r2 = hpcc_on_ack(&q, &p, 60000, 150000, &h, 1);
	assert_close(q.u, 2.0);
	assert_close(r2, 100e9 * 0.95 / 2 + 40e6);
	assert_close(q.rc_bps, 100e9); /* still the reference */
}

static void additive_below_eta_with_stages(void **state)
{
	struct hpcc_params p;
	struct hpcc_qp q;
	struct hpcc_hop h;
	double r;

	hpcc_params_default(&p, G100);
	p.max_stage = 5;
	hpcc_qp_init(&q, G100, 10 * US);
	q.rc_bps = q.rate_bps = 50e9;
	h = hop(0, 0, 0);
	hpcc_on_ack(&q, &p, 1, 10, &h, 1);
	/* u = 0.5 < eta and stage 0 < 5: additive, stage 1. */
	h = hop(10 * US, 62500, 0);
	r = hpcc_on_ack(&q, &p, 20, 30, &h, 1);
	assert_close(r, 50e9 + 40e6);
	assert_int_equal(q.inc_stage, 1);
	/* The largest u over the hops wins. */
	{
		struct hpcc_hop two[2] = { hop(20 * US, 62500 + 62500, 0), hop(0, 0, 0) };

		q.nhop = 2;
		q.hop[1] = hop(0, 0, 0);
		two[1] = hop(10 * US, 125000, 0); /* u = 1 on hop 1 */
		r = hpcc_on_ack(&q, &p, 40, 50, two, 2);
		assert_close(q.u, 1.0);
		assert_close(r, (50e9 + 40e6) * 0.95 + 40e6);
		assert_int_equal(q.inc_stage, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(full_link_cuts_to_eta),
		cmocka_unit_test(queue_term_and_ewma),
		cmocka_unit_test(fast_react_keeps_reference),
		cmocka_unit_test(additive_below_eta_with_stages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
