// SPDX-License-Identifier: MIT
/*
 * The event queue pops in time order and, at equal times, in the order the
 * events were scheduled: what makes a run deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "eventq.h"
#include "tita/types.h"

static void ordered_with_fifo_ties(void **state)
{
	struct sim_eventq q;
	struct sim_event ev;
	uint64_t rng = 42, last_t = 0, last_b = 0;
	const uint32_t n = 100000;

	assert_int_equal(sim_eventq_init(&q, 4), 0);
	for (uint32_t k = 0; k < n; k++)
		assert_int_equal(sim_eventq_push(&q, tita_rng_next(&rng) % 1000, 1, k, k), 0);
	for (uint32_t k = 0; k < n; k++) {
		assert_true(sim_eventq_pop(&q, &ev));
		assert_true(ev.t_ps >= last_t);
		if (k && ev.t_ps == last_t)
			assert_true(ev.b > last_b); /* scheduling order among ties */
		last_t = ev.t_ps;
		last_b = ev.b;
	}
	assert_false(sim_eventq_pop(&q, &ev));
	assert_true(sim_eventq_empty(&q));
	sim_eventq_fini(&q);
}

static void interleaved(void **state)
{
	struct sim_eventq q;
	struct sim_event ev;
	uint64_t now = 0;

	assert_int_equal(sim_eventq_init(&q, 0), 0);
	assert_int_equal(sim_eventq_push(&q, 10, 1, 0, 0), 0);
	for (int k = 0; k < 1000; k++) {
		assert_true(sim_eventq_pop(&q, &ev));
		assert_true(ev.t_ps >= now);
		now = ev.t_ps;
		sim_eventq_push(&q, now + 7, 1, 0, 0);
		if (k % 3 == 0)
			sim_eventq_push(&q, now + 3, 2, 0, 0);
	}
	assert_int_equal(sim_eventq_peek_t(&q) >= now, 1);
	sim_eventq_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ordered_with_fifo_ties),
		cmocka_unit_test(interleaved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
