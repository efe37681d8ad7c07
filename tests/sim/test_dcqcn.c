// SPDX-License-Identifier: MIT
/*
 * The DCQCN reaction point against hand-computed cases: the cut, alpha's
 * update and decay, fast recovery, additive and hyper increase, the byte
 * counter, clamping and the timers.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dcqcn.h"

#define US 1000000ull
#define LINE 100e9

static void assert_close(double got, double want)
{
	if (fabs(got - want) > 1e-9 * fabs(want) + 1e-12)
		fail_msg("got %.17g, want %.17g", got, want);
}

static void first_cnp_cuts_one_period_later(void **state)
{
	struct dcqcn_params p;
	struct dcqcn_rp rp;
	double g = 5.0 / 1024, a = 1023.0 / 1024;

	dcqcn_params_nvidia(&p);
	dcqcn_rp_init(&rp, 100000000000ull);
	dcqcn_rp_on_cnp(&rp, &p, 10 * US);
	/* No cut yet: rate_to_set_on_first_cnp is 0 (no special cut). The
	 * check comes one rate_reduce_monitor_period (4 us) later, plus the
	 * artifact's 1 ns, not 1 ns after the CNP. */
	assert_close(rp.rc_bps, LINE);
	assert_int_equal(rp.dec_next_ps, 14 * US + 1000);
	assert_close(rp.alpha, a);

	dcqcn_rp_on_dec_timer(&rp, &p, 14 * US + 1000);
	/* By then alpha has decayed at the 11, 12, 13 and 14 us boundaries
	 * (the first CNP does not count for alpha). RC (1 - alpha/2); RT stays
	 * at line rate since the timer has not raised the rate
	 * (clamp_tgt_rate_after_time_inc). */
	a *= pow(1 - g, 4);
	assert_close(rp.alpha, a);
	assert_close(rp.rc_bps, LINE * (1 - a / 2));
	assert_close(rp.rt_bps, LINE);
	assert_int_equal(rp.inc_next_ps, 14 * US + 1000 + 300 * US);
	assert_int_equal(rp.dec_next_ps, 0);
	assert_int_equal(rp.cuts, 1);
}

static void alpha_updates_per_period(void **state)
{
	struct dcqcn_params p;
	struct dcqcn_rp rp;
	double g = 5.0 / 1024, a = 1023.0 / 1024;

	dcqcn_params_nvidia(&p);
	dcqcn_rp_init(&rp, 100000000000ull);
	dcqcn_rp_on_cnp(&rp, &p, 0);
	/* Boundary at 1 us: the first CNP does not count (as the artifact). */
	dcqcn_rp_alpha_catch_up(&rp, &p, 1 * US);
	a = (1 - g) * a;
	assert_close(rp.alpha, a);
	/* A CNP at 2.5 us: the 2 us boundary decays, the 3 us one adds g. */
	dcqcn_rp_on_cnp(&rp, &p, 2 * US + US / 2);
	a = (1 - g) * a;
	assert_close(rp.alpha, a);
	dcqcn_rp_alpha_catch_up(&rp, &p, 3 * US);
	a = (1 - g) * a + g;
	assert_close(rp.alpha, a);
	/* Ten quiet periods collapse into one power. */
	dcqcn_rp_alpha_catch_up(&rp, &p, 13 * US);
	a *= pow(1 - g, 10);
	assert_close(rp.alpha, a);
}

static void decrease_checks_are_periodic(void **state)
{
	struct dcqcn_params p;
	struct dcqcn_rp rp;

	dcqcn_params_nvidia(&p);
	dcqcn_rp_init(&rp, 100000000000ull);
	dcqcn_rp_on_cnp(&rp, &p, 0);
	assert_int_equal(rp.dec_next_ps, 4 * US + 1000);
	dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
	/* Checks fall on 1 ns + k x 4 us: a CNP at 5 us is acted on at 8 us. */
	dcqcn_rp_on_cnp(&rp, &p, 5 * US);
	assert_int_equal(rp.dec_next_ps, 8 * US + 1000);
	/* A CNP exactly on a check instant waits for the next one. */
	dcqcn_rp_on_dec_timer(&rp, &p, 8 * US + 1000);
	dcqcn_rp_on_cnp(&rp, &p, 12 * US + 1000);
	assert_int_equal(rp.dec_next_ps, 16 * US + 1000);
	/* A check with no CNP since the last one changes nothing. */
	{
		double rc = rp.rc_bps;

		dcqcn_rp_on_dec_timer(&rp, &p, 16 * US + 1000);
		assert_int_equal(rp.cuts, 3);
		rp.cnp_dec = false;
		dcqcn_rp_on_dec_timer(&rp, &p, 20 * US + 1000);
		assert_int_equal(rp.cuts, 3);
		assert_true(rp.rc_bps < rc);
	}
}

static void timer_stages(void **state)
{
	struct dcqcn_params p;
	struct dcqcn_rp rp;
	double rc, rt;

	dcqcn_params_nvidia(&p);
	p.byte_reset_bytes = 0; /* timer only, as the HPCC artifact */
	dcqcn_rp_init(&rp, 100000000000ull);
	dcqcn_rp_on_cnp(&rp, &p, 0);
	dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
	rc = rp.rc_bps;
	rt = rp.rt_bps;
	/* stage 0 < F = 1: fast recovery */
	dcqcn_rp_on_inc_timer(&rp, &p, rp.inc_next_ps);
	rc = rc / 2 + rt / 2;
	assert_close(rp.rc_bps, rc);
	assert_close(rp.rt_bps, rt);
	/* Now cut again with a timer increase behind us: RT = RC (clamp). */
	dcqcn_rp_on_cnp(&rp, &p, 400 * US);
	dcqcn_rp_alpha_catch_up(&rp, &p, rp.dec_next_ps);
	{
		double a = rp.alpha;

		dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
		rt = rc;
		rc = rc * (1 - a / 2);
	}
	assert_close(rp.rt_bps, rt);
	assert_close(rp.rc_bps, rc);
	/* FR, then additive at stage F, then hyper beyond. */
	dcqcn_rp_on_inc_timer(&rp, &p, rp.inc_next_ps);
	rc = (rc + rt) / 2;
	assert_close(rp.rc_bps, rc);
	dcqcn_rp_on_inc_timer(&rp, &p, rp.inc_next_ps);
	rt += 5e6;
	rc = (rc + rt) / 2;
	assert_close(rp.rt_bps, rt);
	assert_close(rp.rc_bps, rc);
	dcqcn_rp_on_inc_timer(&rp, &p, rp.inc_next_ps);
	rt += 50e6;
	rc = (rc + rt) / 2;
	assert_close(rp.rt_bps, rt);
	assert_close(rp.rc_bps, rc);
}

static void byte_counter_drives_increase(void **state)
{
	struct dcqcn_params p;
	struct dcqcn_rp rp;
	double rc, rt;

	dcqcn_params_nvidia(&p);
	dcqcn_rp_init(&rp, 100000000000ull);
	dcqcn_rp_on_cnp(&rp, &p, 0);
	dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
	rc = rp.rc_bps;
	rt = rp.rt_bps;
	dcqcn_rp_on_tx(&rp, &p, 32766);
	assert_close(rp.rc_bps, rc);
	dcqcn_rp_on_tx(&rp, &p, 1);
	/* max(T=0, BC=0) < F: fast recovery */
	rc = (rc + rt) / 2;
	assert_close(rp.rc_bps, rc);
	/* BC = 1 = F, T = 0: additive (but RT is at line rate: capped) */
	dcqcn_rp_on_tx(&rp, &p, 32767);
	rc = (rc + rt) / 2;
	assert_close(rp.rt_bps, LINE);
	assert_close(rp.rc_bps, rc);
	assert_int_equal(rp.b_stage, 2);
	/* a cut resets the byte stage */
	dcqcn_rp_on_cnp(&rp, &p, 2 * US);
	dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
	assert_int_equal(rp.b_stage, 0);
	assert_int_equal(rp.bytes_since_inc, 0);
}

static void paper_clamps_and_floors(void **state)
{
	struct dcqcn_params p;
	struct dcqcn_rp rp;

	dcqcn_params_paper(&p, 40000000000ull);
	assert_int_equal(p.ai_bps, 40000000);
	assert_int_equal(p.fast_recovery_steps, 5);
	dcqcn_rp_init(&rp, 40000000000ull);
	dcqcn_rp_on_cnp(&rp, &p, 0);
	dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
	/* The paper sets RT = RC on every cut; alpha 1 halves the rate. */
	assert_close(rp.rt_bps, 40e9);
	assert_close(rp.rc_bps, 20e9);
	/* Many cuts never go below the minimum rate. */
	for (int k = 1; k < 200; k++) {
		dcqcn_rp_on_cnp(&rp, &p, (uint64_t)k * 50 * US);
		dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
	}
	assert_close(rp.rc_bps, 1e6);
	/* Recovery: 5 fast-recovery steps halve the gap to RT each time. */
	{
		double rc = rp.rc_bps, rt = rp.rt_bps;

		for (int k = 0; k < 5; k++) {
			dcqcn_rp_on_inc_timer(&rp, &p, rp.inc_next_ps);
			rc = (rc + rt) / 2;
		}
		assert_close(rp.rc_bps, rc);
		assert_close(rp.rt_bps, rt);
	}
}

static void timer_stops_at_line_rate(void **state)
{
	struct dcqcn_params p;
	struct dcqcn_rp rp;
	int k;

	dcqcn_params_nvidia(&p);
	p.byte_reset_bytes = 0;
	dcqcn_rp_init(&rp, 100000000000ull);
	dcqcn_rp_on_cnp(&rp, &p, 0);
	dcqcn_rp_on_dec_timer(&rp, &p, rp.dec_next_ps);
	for (k = 0; k < 200 && rp.inc_next_ps; k++)
		dcqcn_rp_on_inc_timer(&rp, &p, rp.inc_next_ps);
	assert_true(k < 200);
	assert_close(rp.rc_bps, LINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_cnp_cuts_one_period_later),
		cmocka_unit_test(alpha_updates_per_period),
		cmocka_unit_test(decrease_checks_are_periodic),
		cmocka_unit_test(timer_stages),
		cmocka_unit_test(byte_counter_drives_increase),
		cmocka_unit_test(paper_clamps_and_floors),
		cmocka_unit_test(timer_stops_at_line_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
