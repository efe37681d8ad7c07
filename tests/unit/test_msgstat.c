// SPDX-License-Identifier: MIT
/*
 * tita-roce's message-mode figures (tools/gen/msgstat.c): nearest-rank
 * quantiles on samples whose answer is known by counting, the input left
 * as it was, the empty and single-sample cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "msgstat.h"

static void test_quantile_nearest_rank(void **state)
{
	uint64_t v[100];

	(void)state;
	for (int i = 0; i < 100; i++)
		v[i] = (uint64_t)(i + 1) * 10; /* 10, 20, .. 1000 */
	/* The 50th of 100 values for p50 (not the mean of the 50th and
	 * 51st), the 99th for p99: 0.99 x 100 must not round up to 100. */
	assert_int_equal(msgstat_quantile(v, 100, 0.50), 500);
	assert_int_equal(msgstat_quantile(v, 100, 0.99), 990);
	assert_int_equal(msgstat_quantile(v, 100, 1.0), 1000);
	assert_int_equal(msgstat_quantile(v, 100, 0.001), 10);
	assert_int_equal(msgstat_quantile(v, 100, 0), 10);
	/* Of 3: p50 is the 2nd, p99 the 3rd (the maximum). */
	assert_int_equal(msgstat_quantile(v, 3, 0.50), 20);
	assert_int_equal(msgstat_quantile(v, 3, 0.99), 30);
	/* Of 10, p90 is the 9th. */
	assert_int_equal(msgstat_quantile(v, 10, 0.90), 90);
	assert_int_equal(msgstat_quantile(v, 0, 0.5), 0);
}

static void test_summarize(void **state)
{
	/* Out of order, with a repeat and one outlier. */
	const uint64_t in[] = { 700, 650, 5000, 660, 650, 710, 690, 680, 670, 640 };
	uint64_t copy[10], scratch[10];
	struct msgstat st;

	(void)state;
	memcpy(copy, in, sizeof(in));
	msgstat_summarize(copy, 10, scratch, &st);
	assert_memory_equal(copy, in, sizeof(in)); /* the order of the messages stays */
	assert_int_equal(st.n, 10);
	assert_int_equal(st.min_ns, 640);
	assert_int_equal(st.p50_ns, 670); /* 640 650 650 660 [670] 680 ... */
	assert_int_equal(st.p90_ns, 710);
	assert_int_equal(st.p99_ns, 5000);
	assert_int_equal(st.max_ns, 5000);
	assert_true(st.mean_ns > 1104.9 && st.mean_ns < 1105.1);
	for (int i = 1; i < 10; i++)
		assert_true(scratch[i - 1] <= scratch[i]);

	msgstat_summarize(copy, 1, scratch, &st);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.p50_ns, 700);
	assert_int_equal(st.p99_ns, 700);

	msgstat_summarize(copy, 0, scratch, &st);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.max_ns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantile_nearest_rank),
		cmocka_unit_test(test_summarize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
