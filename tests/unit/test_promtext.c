// SPDX-License-Identifier: MIT
/*
 * The Prometheus text parser (lib/promtext.c): samples, labels and their
 * escapes, the special values, HELP and TYPE; each malformed line reported
 * with its number and reason while the good lines around it are kept; the
 * limits reported, not applied silently.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tita/promtext.h"

static struct tita_prom_limits lim;

static int parse(const char *text, struct tita_prom_doc *d)
{
	return tita_prom_parse(text, strlen(text), &lim, d);
}

static int setup(void **state)
{
	(void)state;
	tita_prom_limits_default(&lim);
	return 0;
}

static void test_samples(void **state)
{
	struct tita_prom_doc d;
	const char *text = "# HELP up Whether the target answered.\n"
			   "# TYPE up gauge\n"
			   "up{instance=\"h1\",job=\"tita\"} 1 1765100000000\n"
			   "\n"
			   "tita_health_tx_bytes_per_second{instance=\"h1\",port=\"h1\"} 1.25e+10\n"
			   "plain 42\n"
			   "  spaced { a = \"b\" , } -3.5\t\n";

	(void)state;
	assert_int_equal(parse(text, &d), 0);
	assert_int_equal(d.n_lines, 7);
	assert_int_equal(d.n_samples, 4);
	assert_int_equal(d.n_comment_lines, 2);
	assert_int_equal(d.n_blank_lines, 1);
	assert_string_equal(d.samples[0].name, "up");
	assert_int_equal(d.samples[0].n_labels, 2);
	assert_string_equal(tita_prom_label(&d.samples[0], "instance"), "h1");
	assert_string_equal(tita_prom_label(&d.samples[0], "job"), "tita");
	assert_null(tita_prom_label(&d.samples[0], "port"));
	assert_true(d.samples[0].has_timestamp);
	assert_true(d.samples[0].timestamp_ms == 1765100000000LL);
	assert_true(d.samples[1].value == 1.25e10);
	assert_int_equal(d.samples[1].line, 5);
	assert_false(d.samples[1].has_timestamp);
	assert_int_equal(d.samples[2].n_labels, 0);
	assert_true(d.samples[2].value == 42);
	assert_string_equal(tita_prom_label(&d.samples[3], "a"), "b");
	assert_true(d.samples[3].value == -3.5);
	assert_int_equal(d.n_families, 1);
	assert_string_equal(d.families[0].name, "up");
	assert_int_equal(d.families[0].type, TITA_PROM_GAUGE);
	assert_string_equal(d.families[0].help, "Whether the target answered.");
	tita_prom_doc_free(&d);
}

static void test_escapes_and_values(void **state)
{
	struct tita_prom_doc d;
	const char *text = "m{a=\"x\\\\y\\\"z\\nw\"} NaN\n"
			   "m +Inf\n"
			   "m -Inf\n"
			   "m 0.1\n"
			   "m 1e-3\n"
			   "m 123456789012345678901234\n"
			   "# HELP m line one\\nline two \\\\ and \\q\n";

	(void)state;
	assert_int_equal(parse(text, &d), 0);
	assert_string_equal(tita_prom_label(&d.samples[0], "a"), "x\\y\"z\nw");
	assert_true(isnan(d.samples[0].value));
	assert_true(isinf(d.samples[1].value) && d.samples[1].value > 0);
	assert_true(isinf(d.samples[2].value) && d.samples[2].value < 0);
	assert_true(d.samples[3].value == 0.1);
	assert_true(d.samples[4].value == 0.001);
	assert_true(fabs(d.samples[5].value - 1.23456789012345678901234e23) < 1e9);
	assert_string_equal(d.families[0].help, "line one\nline two \\ and \\q");
	tita_prom_doc_free(&d);
}

/* Each bad line: its number, a reason; the good ones around it kept. */
static void test_errors(void **state)
{
	static const struct {
		const char *line, *reason;
	} bad[] = {
		{ "m{a=\"\\t\"} 1", "invalid escape" },
		{ "m{a=\"x\" 1", "expected ',' or '}'" },
		{ "m{a=x} 1", "to open a label value" },
		{ "m{1a=\"x\"} 1", "label name" },
		{ "m 1 2 3", "after the timestamp" },
		{ "m abc", "not a number" },
		{ "m", "without a value" },
		{ "m 1e400", "out of range" },
		{ "m 1 1.5", "timestamp" },
		{ "m 1 99999999999999999999", "timestamp" },
		{ "m{a=\"1\",a=\"2\"} 1", "twice" },
		{ "m{a=\"\xff\"} 1", "UTF-8" },
		{ "m 1\r", "carriage return" },
		{ "1m 1", "metric name" },
		{ "m-x 1", "invalid character" },
		{ "# TYPE q bogus", "unknown TYPE" },
		{ "m{a=\"unterminated} 1", "closing quote" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		struct tita_prom_doc d;

		snprintf(text, sizeof(text), "good 1\n%s\ngood 2\n", bad[i].line);
		assert_int_equal(parse(text, &d), 1);
		assert_int_equal(d.n_errors, 1);
		assert_int_equal(d.errors[0].line, 2);
		if (!strstr(d.errors[0].reason, bad[i].reason))
			fail_msg("'%s': reason '%s' does not say '%s'", bad[i].line,
				 d.errors[0].reason, bad[i].reason);
		assert_int_equal(d.n_samples, 2);
		assert_true(d.samples[1].value == 2);
		assert_int_equal(d.samples[1].line, 3);
		tita_prom_doc_free(&d);
	}
}

static void test_type_twice(void **state)
{
	struct tita_prom_doc d;

	(void)state;
	assert_int_equal(parse("# TYPE m untyped\n# TYPE m gauge\n# HELP m a\n# HELP m b\n", &d),
			 2);
	assert_int_equal(d.errors[0].line, 2);
	assert_non_null(strstr(d.errors[0].reason, "second TYPE"));
	assert_int_equal(d.errors[1].line, 4);
	assert_non_null(strstr(d.errors[1].reason, "second HELP"));
	tita_prom_doc_free(&d);
}

/* Past a limit: errors, counted, and only max_errors of them kept. */
static void test_limits(void **state)
{
	struct tita_prom_limits small = { .max_samples = 3,
					  .max_labels = 2,
					  .max_name_len = 8,
					  .max_value_len = 4,
					  .max_line_len = 40,
					  .max_errors = 2 };
	const char *text = "a 1\nb{x=\"1\",y=\"2\",z=\"3\"} 1\nc{x=\"12345\"} 1\n"
			   "longer_name 1\nd 1\ne 1\nf 1\n"
			   "g{x=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"} 1\n";
	struct tita_prom_doc d;

	(void)state;
	assert_int_equal(tita_prom_parse(text, strlen(text), &small, &d), 5);
	assert_int_equal(d.n_samples, 3);
	assert_int_equal(d.n_errors, 5);
	assert_int_equal(d.n_errors_kept, 2);
	assert_int_equal(d.errors[0].line, 2);
	assert_non_null(strstr(d.errors[0].reason, "too many labels (limit 2)"));
	assert_non_null(strstr(d.errors[1].reason, "label value too long (limit 4)"));
	assert_int_equal(d.n_lines, 8);
	tita_prom_doc_free(&d);

	/* The sample limit is an error on each line past it. */
	assert_int_equal(tita_prom_parse("a 1\nb 1\nc 1\nd 1\n", 16, &small, &d), 1);
	assert_int_equal(d.errors[0].line, 4);
	assert_non_null(strstr(d.errors[0].reason, "sample limit reached (limit 3)"));
	tita_prom_doc_free(&d);
}

static void test_parse_double(void **state)
{
	double v;

	(void)state;
	assert_int_equal(tita_prom_parse_double("2.5E2", 5, &v), 0);
	assert_true(v == 250);
	assert_int_equal(tita_prom_parse_double("-0.000125", 9, &v), 0);
	assert_true(v == -0.000125);
	assert_int_equal(tita_prom_parse_double("inf", 3, &v), 0);
	assert_true(isinf(v));
	assert_int_equal(tita_prom_parse_double(".5", 2, &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(tita_prom_parse_double("5.", 2, &v), 0);
	assert_true(v == 5);
	assert_int_equal(tita_prom_parse_double("1e-400", 6, &v), 0);
	assert_true(v == 0);
	assert_int_equal(tita_prom_parse_double(".", 1, &v), -1);
	assert_int_equal(tita_prom_parse_double("1e", 2, &v), -1);
	assert_int_equal(tita_prom_parse_double("0x10", 4, &v), -1);
	assert_int_equal(tita_prom_parse_double("", 0, &v), -1);
	assert_int_equal(tita_prom_parse_double("1e309", 5, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples), cmocka_unit_test(test_escapes_and_values),
		cmocka_unit_test(test_errors),	cmocka_unit_test(test_type_twice),
		cmocka_unit_test(test_limits),	cmocka_unit_test(test_parse_double),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
