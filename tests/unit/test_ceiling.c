// SPDX-License-Identifier: MIT
/*
 * The reactive ceiling alone (lib/ceiling.c), step by step against the
 * arithmetic of DCQCN's reaction point: the cut on a congested round, alpha
 * from one when it engages, the floor, fast recovery then additive then
 * hyper increase, and the release at 0.99 of the grant.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tita/ceiling.h"

/* lib's defaults (tita_ctl_params_default) */
static const struct tita_ceiling_params def = { .g = 1.0 / 16,
						.ai_frac = 0.02,
						.hai_frac = 0.10,
						.fast_recovery_steps = 5,
						.min_frac = 0.01,
						.ce_threshold = 0.01 };

#define CE_HIGH 50000u /* 5 % of packets: above the 1 % threshold */

static void assert_near(double a, double b)
{
	if (fabs(a - b) > 1e-12)
		fail_msg("%.15f is not %.15f", a, b);
}

static void test_init_is_unlimited(void **state)
{
	struct tita_ceiling c;

	(void)state;
	tita_ceiling_init(&c);
	assert_false(tita_ceiling_engaged(&c));
	assert_near(tita_ceiling_frac(&c), 1);
	/* Clean rounds leave an unengaged ceiling alone. */
	for (int i = 0; i < 10; i++)
		assert_near(tita_ceiling_step(&c, &def, 0), 1);
	assert_false(tita_ceiling_engaged(&c));
}

/* CE at or below the threshold is not congestion; just above it is. */
static void test_threshold(void **state)
{
	struct tita_ceiling c;

	(void)state;
	tita_ceiling_init(&c);
	assert_near(tita_ceiling_step(&c, &def, 10000), 1);
	assert_false(tita_ceiling_engaged(&c));
	assert_true(tita_ceiling_step(&c, &def, 10001) < 1);
	assert_true(tita_ceiling_engaged(&c));
}

/* The first congested round engages with alpha = 1 (whatever alpha's EWMA
 * held before) and halves the ceiling; the next ones cut by alpha / 2 with
 * alpha following its EWMA. */
static void test_cut_and_alpha(void **state)
{
	struct tita_ceiling c;
	double alpha, frac;

	(void)state;
	tita_ceiling_init(&c);
	/* Clean rounds decay alpha while the ceiling is not engaged. */
	for (int i = 0; i < 20; i++)
		tita_ceiling_step(&c, &def, 0);
	assert_true(c.alpha < 0.5);
	assert_near(tita_ceiling_step(&c, &def, CE_HIGH), 0.5);
	assert_near(c.alpha, 1);
	assert_near(c.target_frac, 1);
	assert_int_equal(c.stage, 0);

	alpha = (1 - def.g) * 1 + def.g;
	frac = 0.5 * (1 - alpha / 2);
	assert_near(tita_ceiling_step(&c, &def, CE_HIGH), frac);
	assert_near(c.alpha, alpha);
	/* The target is where the ceiling stood before the cut. */
	assert_near(c.target_frac, 0.5);
}

/* However long the congestion lasts, the ceiling stops at min_frac. */
static void test_floor(void **state)
{
	struct tita_ceiling c;
	struct tita_ceiling_params p = def;

	(void)state;
	p.min_frac = 0.2;
	tita_ceiling_init(&c);
	for (int i = 0; i < 50; i++)
		assert_true(tita_ceiling_step(&c, &p, 1000000) >= 0.2);
	assert_near(c.frac, 0.2);
	assert_true(tita_ceiling_engaged(&c));
}

/*
 * After a cut, clean rounds move the ceiling half-way to the target: for
 * fast_recovery_steps rounds the target stays, then it grows by ai_frac a
 * round for five rounds, then by hai_frac; at 0.99 the ceiling releases.
 */
static void test_recovery_stages(void **state)
{
	struct tita_ceiling c;
	struct tita_ceiling_params p = def;
	double frac, target;
	uint32_t step = 0;

	(void)state;
	p.fast_recovery_steps = 3;
	tita_ceiling_init(&c);
	tita_ceiling_step(&c, &p, CE_HIGH);
	tita_ceiling_step(&c, &p, CE_HIGH);
	tita_ceiling_step(&c, &p, CE_HIGH);
	frac = c.frac;
	target = c.target_frac;
	assert_true(frac < 0.2);
	while (tita_ceiling_engaged(&c)) {
		double got = tita_ceiling_step(&c, &p, 0);

		step++;
		if (step > p.fast_recovery_steps + 5)
			target += p.hai_frac;
		else if (step > p.fast_recovery_steps)
			target += p.ai_frac;
		target = fmin(target, 1);
		frac = (frac + target) / 2;
		assert_int_equal(c.stage, step);
		assert_near(c.target_frac, target);
		assert_near(c.frac, frac);
		if (frac >= 0.99) {
			assert_false(tita_ceiling_engaged(&c));
			assert_near(got, 1);
		} else {
			assert_true(tita_ceiling_engaged(&c));
			assert_near(got, frac);
		}
		assert_true(step < 100);
	}
	/* It took every stage: hyper increase was reached. */
	assert_true(step > p.fast_recovery_steps + 5);
}

/* A round with CE during recovery cuts again from where the ceiling is,
 * and recovery starts over from its first stage. */
static void test_congestion_during_recovery(void **state)
{
	struct tita_ceiling c;
	double before;

	(void)state;
	tita_ceiling_init(&c);
	for (int i = 0; i < 3; i++)
		tita_ceiling_step(&c, &def, CE_HIGH);
	for (int i = 0; i < 7; i++)
		tita_ceiling_step(&c, &def, 0);
	assert_int_equal(c.stage, 7);
	assert_true(tita_ceiling_engaged(&c));
	before = c.frac;
	tita_ceiling_step(&c, &def, CE_HIGH);
	assert_int_equal(c.stage, 0);
	assert_near(c.target_frac, before);
	assert_true(c.frac < before);
}

/* One cut to half the grant with the target at the whole of it: clean rounds
 * halve the distance, 0.75 ... 0.984375 still engaged, 0.9921875 released. */
static void test_disengage_at_099(void **state)
{
	struct tita_ceiling c;
	double want = 0.5;

	(void)state;
	tita_ceiling_init(&c);
	assert_near(tita_ceiling_step(&c, &def, CE_HIGH), 0.5);
	for (int i = 0; i < 5; i++) {
		want = (want + 1) / 2;
		assert_near(tita_ceiling_step(&c, &def, 0), want);
		assert_true(tita_ceiling_engaged(&c));
	}
	assert_near(c.frac, 0.984375);
	assert_near(tita_ceiling_step(&c, &def, 0), 1);
	assert_near(c.frac, 0.9921875);
	assert_false(tita_ceiling_engaged(&c));
}

/* Without a grant the ceiling lets go, and engaging again starts afresh
 * (alpha from one, from the whole grant). */
static void test_release(void **state)
{
	struct tita_ceiling c;

	(void)state;
	tita_ceiling_init(&c);
	for (int i = 0; i < 5; i++)
		tita_ceiling_step(&c, &def, CE_HIGH);
	assert_true(tita_ceiling_engaged(&c));
	tita_ceiling_release(&c);
	assert_false(tita_ceiling_engaged(&c));
	assert_near(tita_ceiling_frac(&c), 1);
	assert_near(tita_ceiling_step(&c, &def, CE_HIGH), 0.5);
	assert_near(c.alpha, 1);
}

/* The ops table is the same algorithm. */
static void test_ops(void **state)
{
	struct tita_ceiling a, b;

	(void)state;
	assert_string_equal(tita_ceiling_reactive.name, "reactive");
	tita_ceiling_init(&a);
	tita_ceiling_reactive.init(&b);
	for (uint32_t i = 0; i < 40; i++) {
		uint32_t ce = i % 7 < 3 ? CE_HIGH : 0;

		assert_true(tita_ceiling_step(&a, &def, ce) ==
			    tita_ceiling_reactive.step(&b, &def, ce));
	}
	tita_ceiling_reactive.release(&b);
	assert_false(tita_ceiling_engaged(&b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_unlimited),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_cut_and_alpha),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_recovery_stages),
		cmocka_unit_test(test_congestion_during_recovery),
		cmocka_unit_test(test_disengage_at_099),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
