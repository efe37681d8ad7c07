// SPDX-License-Identifier: MIT
/*
 * The event queue pops in time order and, at equal times, in the order the
 * events were scheduled, across its two heaps: what makes a run
 * deterministic.
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

/* With some types in the timers' heap, events still pop in one order: by
 * time, then by when they were scheduled, whichever heap holds them. */
static void two_heaps_one_order(void **state)
{
	struct sim_eventq q;
	struct sim_event ev;
	uint64_t rng = 7, now = 0, last_seq = 0;
	uint32_t popped = 0, pushed = 0;

	assert_int_equal(sim_eventq_init(&q, 4), 0);
	sim_eventq_set_slow(&q, 1u << 3 | 1u << 5);
	for (uint32_t round = 0; round < 20000; round++) {
		uint32_t n = (uint32_t)(tita_rng_next(&rng) % 3);

		for (uint32_t k = 0; k < n; k++) {
			uint32_t type = 1 + (uint32_t)(tita_rng_next(&rng) % 6);
			/* timers far ahead, packets near, many ties */
			uint64_t dt = type == 3 || type == 5 ? tita_rng_next(&rng) % 300 :
							       tita_rng_next(&rng) % 4;

			assert_int_equal(sim_eventq_push(&q, now + dt, type, pushed, 0), 0);
			pushed++;
		}
		if (sim_eventq_pop(&q, &ev)) {
			assert_true(ev.t_ps >= now);
			if (ev.t_ps == now && popped)
				assert_true(ev.seq_type >> 8 > last_seq);
			now = ev.t_ps;
			last_seq = ev.seq_type >> 8;
			assert_int_equal(ev.a, ev.seq_type >> 8);
			popped++;
		}
	}
	while (sim_eventq_pop(&q, &ev)) {
		assert_true(ev.t_ps > now || (ev.t_ps == now && ev.seq_type >> 8 > last_seq));
		now = ev.t_ps;
		last_seq = ev.seq_type >> 8;
		popped++;
	}
	assert_int_equal(popped, pushed);
	assert_true(sim_eventq_empty(&q));
	sim_eventq_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ordered_with_fifo_ties),
		cmocka_unit_test(interleaved),
		cmocka_unit_test(two_heaps_one_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
