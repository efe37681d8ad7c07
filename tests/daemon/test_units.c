// SPDX-License-Identifier: MIT
/*
 * Rates, durations, addresses and job names as operators type them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tita/ctl.h"
#include "units.h"

static void test_rates(void **state)
{
	static const struct {
		const char *text;
		int ret;
		uint64_t bps;
	} cases[] = {
		{ "25G", 0, 25000000000ull },
		{ "400Mbit", 0, 400000000ull },
		{ "3.2T", 0, 3200000000000ull },
		{ "1500000", 0, 1500000ull },
		{ "0", 0, 0 },
		{ "100g", 0, 100000000000ull },
		{ "10kbit", 0, 10000ull },
		{ "2.5Gbps", 0, 2500000000ull },
		{ "1e9", 0, 1000000000ull },
		{ "0.5M", 0, 500000ull },
		{ "3.2Tbit", 0, 3200000000000ull },
		{ "3.3T", -ERANGE, 0 },
		{ "1P", -EINVAL, 0 },
		{ "25GB", -EINVAL, 0 },
		{ "25GBps", -EINVAL, 0 },
		{ "-1G", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ " 1G", -EINVAL, 0 },
		{ "1G ", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },
		{ "inf", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "1..2G", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t bps = 12345;
		int r = tita_parse_rate(cases[i].text, &bps);

		if (r != cases[i].ret)
			fail_msg("'%s': returned %d, want %d", cases[i].text, r, cases[i].ret);
		if (!r && bps != cases[i].bps)
			fail_msg("'%s': %llu, want %llu", cases[i].text, (unsigned long long)bps,
				 (unsigned long long)cases[i].bps);
		if (r && bps != 12345)
			fail_msg("'%s': output touched on error", cases[i].text);
	}
}

static void test_format_rate(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(tita_format_rate(25000000000ull, buf, sizeof(buf)), "25Gbit");
	assert_string_equal(tita_format_rate(9500000000ull, buf, sizeof(buf)), "9.5Gbit");
	assert_string_equal(tita_format_rate(400000000ull, buf, sizeof(buf)), "400Mbit");
	assert_string_equal(tita_format_rate(999, buf, sizeof(buf)), "999bit");
	assert_string_equal(tita_format_rate(TITA_RATE_UNPACED, buf, sizeof(buf)), "unpaced");
}

static void test_durations(void **state)
{
	uint64_t ns;

	(void)state;
	assert_int_equal(tita_parse_duration("1ms", &ns), 0);
	assert_true(ns == 1000000);
	assert_int_equal(tita_parse_duration("500us", &ns), 0);
	assert_true(ns == 500000);
	assert_int_equal(tita_parse_duration("0.5s", &ns), 0);
	assert_true(ns == 500000000);
	assert_int_equal(tita_parse_duration("7ns", &ns), 0);
	assert_true(ns == 7);
	assert_int_equal(tita_parse_duration("1", &ns), -EINVAL);
	assert_int_equal(tita_parse_duration("1 ms", &ns), -EINVAL);
	assert_int_equal(tita_parse_duration("1h", &ns), -EINVAL);
	assert_int_equal(tita_parse_duration("-1ms", &ns), -EINVAL);
	assert_int_equal(tita_parse_duration("3601s", &ns), -ERANGE);
}

static void test_addresses(void **state)
{
	struct tita_addr a, b;
	struct tita_prefix p;
	char buf[TITA_ADDR_STRLEN];

	(void)state;
	assert_int_equal(tita_parse_addr("10.0.0.1", &a), 0);
	assert_true(tita_addr_is_ipv4(&a));
	assert_string_equal(tita_format_addr(&a, buf, sizeof(buf)), "10.0.0.1");
	assert_int_equal(tita_parse_addr("fd00::1", &a), 0);
	assert_string_equal(tita_format_addr(&a, buf, sizeof(buf)), "fd00::1");
	assert_int_equal(tita_parse_addr("10.0.0.256", &a), -EINVAL);
	assert_int_equal(tita_parse_addr("", &a), -EINVAL);

	assert_int_equal(tita_parse_prefix("10.1.0.0/16", &p), 0);
	assert_int_equal(p.len, 112);
	tita_parse_addr("10.1.200.3", &b);
	assert_true(tita_prefix_match(&p, &b));
	tita_parse_addr("10.2.0.1", &b);
	assert_false(tita_prefix_match(&p, &b));
	assert_int_equal(tita_parse_prefix("10.0.0.7", &p), 0);
	assert_int_equal(p.len, 128);
	assert_int_equal(tita_parse_prefix("10.0.0.1/24", &p), 0); /* host bits cleared */
	tita_parse_addr("10.0.0.200", &b);
	assert_true(tita_prefix_match(&p, &b));
	assert_int_equal(tita_parse_prefix("fd00::/8", &p), 0);
	tita_parse_addr("fdff::1", &b);
	assert_true(tita_prefix_match(&p, &b));
	assert_int_equal(tita_parse_prefix("0.0.0.0/0", &p), 0);
	assert_true(tita_prefix_match(&p, &b) == false); /* an IPv6 address is not in 0/0 v4 */
	assert_int_equal(tita_parse_prefix("10.0.0.0/33", &p), -EINVAL);
	assert_int_equal(tita_parse_prefix("fd00::/129", &p), -EINVAL);
	assert_int_equal(tita_parse_prefix("/8", &p), -EINVAL);
}

static void test_jobs(void **state)
{
	(void)state;
	assert_true(tita_job_name_valid("job_1234"));
	assert_true(tita_job_name_valid("pod-uid.1"));
	assert_false(tita_job_name_valid(""));
	assert_false(tita_job_name_valid("a b"));
	assert_false(tita_job_name_valid("a/b"));
	assert_false(tita_job_name_valid(
		"0123456789012345678901234567890123456789012345678901234567890123"));
	assert_int_equal(tita_job_id("default"), TITA_JOB_DEFAULT);
	assert_int_not_equal(tita_job_id("train"), 0);
	assert_int_equal(tita_job_id("train"), tita_job_id("train"));
	assert_int_not_equal(tita_job_id("train"), tita_job_id("infer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),	  cmocka_unit_test(test_format_rate),
		cmocka_unit_test(test_durations), cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_jobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
