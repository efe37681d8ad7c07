// SPDX-License-Identifier: MIT
/*
 * The simulator's peer map: what was added is found through every growth,
 * what was not is not, and the table stays within twice what it holds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pairmap.h"

static void empty_map_finds_nothing(void **state)
{
	struct sim_pairmap m;

	sim_pairmap_init(&m);
	assert_int_equal(sim_pairmap_get(&m, 0), SIM_PAIRMAP_NONE);
	assert_int_equal(sim_pairmap_get(&m, 12345), SIM_PAIRMAP_NONE);
	assert_null(m.slot);
	sim_pairmap_fini(&m);
}

static void keys_survive_growth(void **state)
{
	struct sim_pairmap m;
	const uint32_t n = 5000;

	sim_pairmap_init(&m);
	/* Keys as the simulator makes them: remote host x 4 + job, sparse. */
	for (uint32_t k = 0; k < n; k++) {
		assert_int_equal(sim_pairmap_add(&m, k * 4 * 7 + 3, k), 0);
		/* Load at most a half: the probe sequences stay short. */
		assert_true(2 * m.n <= m.mask + 1);
	}
	assert_int_equal(m.n, n);
	assert_true(m.mask + 1 <= 4 * n);
	for (uint32_t k = 0; k < n; k++) {
		assert_int_equal(sim_pairmap_get(&m, k * 4 * 7 + 3), k);
		assert_int_equal(sim_pairmap_get(&m, k * 4 * 7 + 4), SIM_PAIRMAP_NONE);
	}
	sim_pairmap_fini(&m);
	assert_int_equal(m.n, 0);
}

static void colliding_keys(void **state)
{
	struct sim_pairmap m;
	uint32_t keys[6], n = 0;

	/* Six keys whose home is the last slot of a 16-slot table: probing
	 * must step over the occupied slots and wrap around the end. */
	for (uint32_t k = 0; n < 6; k++)
		if ((sim_pairmap_hash(k) & 15) == 15)
			keys[n++] = k;
	sim_pairmap_init(&m);
	for (uint32_t k = 0; k < 6; k++)
		assert_int_equal(sim_pairmap_add(&m, keys[k], 100 + k), 0);
	assert_int_equal(m.mask, 15);
	for (uint32_t k = 0; k < 6; k++)
		assert_int_equal(sim_pairmap_get(&m, keys[k]), 100 + k);
	assert_int_equal(sim_pairmap_get(&m, keys[5] + 1), SIM_PAIRMAP_NONE);
	sim_pairmap_fini(&m);
}

static void reserved_key_refused(void **state)
{
	struct sim_pairmap m;

	sim_pairmap_init(&m);
	assert_int_equal(sim_pairmap_add(&m, SIM_PAIRMAP_NONE, 1), -EINVAL);
	assert_int_equal(m.n, 0);
	sim_pairmap_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_map_finds_nothing),
		cmocka_unit_test(keys_survive_growth),
		cmocka_unit_test(colliding_keys),
		cmocka_unit_test(reserved_key_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
