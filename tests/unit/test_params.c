// SPDX-License-Identifier: MIT
/*
 * The controller's parameter table (lib/ctl_params.c): it covers every
 * field of struct tita_ctl_params, its defaults are the ones the simulator
 * chose, its ranges hold, and the check names the field it rejects.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tita/ctl.h"

static size_t kind_size(enum tita_param_kind k)
{
	switch (k) {
	case TITA_PARAM_DURATION:
		return sizeof(uint64_t);
	case TITA_PARAM_COUNT:
		return sizeof(uint32_t);
	default:
		return sizeof(double);
	}
}

static int by_offset(const void *a, const void *b)
{
	const struct tita_param *pa = a, *pb = b;

	return pa->offset < pb->offset ? -1 : pa->offset > pb->offset;
}

/* Sorted by offset, the fields leave no gap wider than alignment padding
 * and end where the struct ends (to its alignment): every field has an
 * entry, so none keeps an unchecked value or misses its default. */
static void test_covers_every_field(void **state)
{
	size_t n, end = 0;
	const struct tita_param *t = tita_ctl_param_table(&n);
	struct tita_param *sorted = malloc(n * sizeof(*sorted));

	(void)state;
	assert_non_null(sorted);
	memcpy(sorted, t, n * sizeof(*t));
	qsort(sorted, n, sizeof(*sorted), by_offset);
	for (size_t i = 0; i < n; i++) {
		size_t size = kind_size(sorted[i].kind);

		if (sorted[i].offset < end || sorted[i].offset - end >= size)
			fail_msg("%s at %zu: the previous field ends at %zu", sorted[i].name,
				 sorted[i].offset, end);
		end = sorted[i].offset + size;
	}
	assert_true(sizeof(struct tita_ctl_params) - end < _Alignof(struct tita_ctl_params));
	free(sorted);
}

/* The defaults: the simulator's published figures depend on every one of
 * them (eta and fabric_eta became 0.98 with the fabric work, from the
 * incast and permutation sweeps in docs/results.md; the unscheduled first
 * bytes, warm grants, the backlog horizon and the demand's decay came with
 * the first round trip, from the sweeps in docs/results.md). */
static void test_defaults_unchanged(void **state)
{
	const struct tita_ctl_params want = {
		.control_interval_ns = 100 * TITA_NSEC_PER_USEC,
		.grant_ttl_ns = 10 * TITA_NSEC_PER_MSEC,
		.refresh_ns = 3 * TITA_NSEC_PER_MSEC,
		.eta = 0.98,
		.eta_min = 0.70,
		.eta_ce_threshold = 0.01,
		.eta_decrease = 0.02,
		.eta_increase = 0.01,
		.start_rate_frac = 0.02,
		.unsched_ns = 3 * TITA_NSEC_PER_USEC,
		.unsched_short_ns = 12 * TITA_NSEC_PER_USEC,
		.unsched_bound_ns = 32 * TITA_NSEC_PER_USEC,
		.unmanaged_room_frac = 1,
		.warm_ttls = 1,
		.churn_frac = 0.02,
		.demand_change_frac = 0.05,
		.alloc_batch_frac = 0.125,
		.lone_gap_ns = 100 * TITA_NSEC_PER_USEC,
		.lone_batch_frac = 0.02,
		.srpt_ns = 800 * TITA_NSEC_PER_USEC,
		.srpt_max_weight = 4,
		.short_start_ns = 40 * TITA_NSEC_PER_USEC,
		.srpt_tx = 1,
		.probe_threshold = 0.90,
		.probe_gain = 1.5,
		.backlog_horizon_ns = 20 * TITA_NSEC_PER_USEC,
		.demand_decay = 0,
		.demand_hold_rounds = 0,
		.rc_g = 1.0 / 16,
		.rc_ai_frac = 0.02,
		.rc_hai_frac = 0.10,
		.rc_fast_recovery_steps = 5,
		.rc_min_frac = 0.01,
		.rc_ce_threshold = 0.01,
		.rc_algo = 0,
		.rc_floor_frac = 0.125,
		.rc_hold_rounds = 4,
		.rc_recovery_frac = 0.5,
		.fabric_eta = 0.98,
		.leaf_leaders = 2,
		.steer = 1,
		.big_frac = 0.125,
		.probe_batch = 32,
		.probe_timeout_ns = 200 * TITA_NSEC_PER_USEC,
		.probe_rate = 20000,
		.probe_burst = 1024,
		.leaf_batch_frac = 0.02,
		.max_ports = 64,
		.max_pairs = 65536,
		.max_jobs = 4096,
	};
	struct tita_ctl_params p;
	size_t n;
	const struct tita_param *t = tita_ctl_param_table(&n);

	(void)state;
	memset(&p, 0xa5, sizeof(p));
	tita_ctl_params_default(&p);
	for (size_t i = 0; i < n; i++)
		if (tita_ctl_param_get(&p, &t[i]) != tita_ctl_param_get(&want, &t[i]))
			fail_msg("%s: default %.17g, was %.17g", t[i].name,
				 tita_ctl_param_get(&p, &t[i]), tita_ctl_param_get(&want, &t[i]));
	assert_int_equal(tita_ctl_params_check(&p), 0);
}

static void test_table_is_consistent(void **state)
{
	size_t n;
	const struct tita_param *t = tita_ctl_param_table(&n);

	(void)state;
	assert_true(n >= 26);
	for (size_t i = 0; i < n; i++) {
		assert_true(t[i].min <= t[i].def && t[i].def <= t[i].max);
		assert_non_null(t[i].unit);
		assert_true(t[i].help && strlen(t[i].help) > 10);
		assert_ptr_equal(tita_ctl_param_find(t[i].name), &t[i]);
		if (t[i].kind == TITA_PARAM_DURATION)
			assert_true(strlen(t[i].name) > 3 &&
				    !strcmp(t[i].name + strlen(t[i].name) - 3, "_ns"));
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(t[i].name, t[j].name);
			if (t[i].conf_key && t[j].conf_key)
				assert_string_not_equal(t[i].conf_key, t[j].conf_key);
		}
	}
	assert_null(tita_ctl_param_find("grant_ttl_us"));
}

/* Each field at both ends of its range passes (with the others at their
 * defaults, where the relations allow), and just outside fails. */
static void test_ranges(void **state)
{
	size_t n;
	const struct tita_param *t = tita_ctl_param_table(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		bool whole = t[i].kind == TITA_PARAM_DURATION || t[i].kind == TITA_PARAM_COUNT;
		double below = whole ? t[i].min - 1 : t[i].min - 1e-9;
		double above = whole ? t[i].max + 1 : t[i].max + 1e-9;
		struct tita_ctl_params p, before;
		const struct tita_param *bad = NULL;
		const char *why = NULL;

		tita_ctl_params_default(&p);
		before = p;
		assert_int_equal(tita_ctl_param_set(&p, &t[i], above), -ERANGE);
		assert_memory_equal(&p, &before, sizeof(p));
		if (below >= 0 || !whole) {
			assert_int_equal(tita_ctl_param_set(&p, &t[i], below), -ERANGE);
			assert_memory_equal(&p, &before, sizeof(p));
		}
		assert_int_equal(tita_ctl_param_set(&p, &t[i], NAN), -EINVAL);
		assert_int_equal(tita_ctl_param_set(&p, &t[i], t[i].max), 0);
		assert_true(tita_ctl_param_get(&p, &t[i]) == t[i].max);
		if (tita_ctl_params_check_field(&p, &bad, &why))
			/* Only a relation may refuse a value within the range. */
			assert_string_not_equal(why, "out of range");
		assert_int_equal(tita_ctl_param_set(&p, &t[i], t[i].min), 0);
		if (tita_ctl_params_check_field(&p, &bad, &why))
			assert_string_not_equal(why, "out of range");
		if (whole)
			assert_int_equal(tita_ctl_param_set(&p, &t[i], t[i].min + 0.5), -EINVAL);
	}
}

static void expect_rejected(const struct tita_ctl_params *p, const char *field, const char *why)
{
	const struct tita_param *bad = NULL;
	const char *got_why = NULL;

	assert_int_equal(tita_ctl_params_check_field(p, &bad, &got_why), -EINVAL);
	assert_non_null(bad);
	assert_string_equal(bad->name, field);
	assert_string_equal(got_why, why);
	assert_int_equal(tita_ctl_params_check(p), -EINVAL);
}

static void test_check_names_the_field(void **state)
{
	struct tita_ctl_params p;
	const struct tita_param *bad = (const void *)&p;
	const char *why = "untouched";

	(void)state;
	tita_ctl_params_default(&p);
	assert_int_equal(tita_ctl_params_check_field(&p, &bad, &why), 0);
	assert_ptr_equal(bad, (const void *)&p);
	assert_string_equal(why, "untouched");

	p.eta = 1.5;
	expect_rejected(&p, "eta", "out of range");
	p.eta = NAN;
	expect_rejected(&p, "eta", "out of range");
	tita_ctl_params_default(&p);
	p.max_pairs = 0;
	expect_rejected(&p, "max_pairs", "out of range");

	tita_ctl_params_default(&p);
	p.grant_ttl_ns = 2 * p.control_interval_ns - 1;
	expect_rejected(&p, "grant_ttl_ns", "must be at least twice the control interval");
	tita_ctl_params_default(&p);
	p.refresh_ns = p.grant_ttl_ns;
	expect_rejected(&p, "refresh_ns",
			"must be at least the control interval and below the grant TTL");
	p.refresh_ns = p.control_interval_ns - 1;
	expect_rejected(&p, "refresh_ns",
			"must be at least the control interval and below the grant TTL");
	tita_ctl_params_default(&p);
	p.eta_min = p.eta + 0.01;
	expect_rejected(&p, "eta_min", "must not be above eta");
	assert_int_equal(tita_ctl_params_check_field(NULL, NULL, NULL), -EINVAL);
}

/* A grant carries its TTL, and the wire refuses one above 60 s: so does
 * the controller (it accepted up to 600 s before the table). */
static void test_ttl_fits_the_wire(void **state)
{
	struct tita_ctl_params p;

	(void)state;
	tita_ctl_params_default(&p);
	p.grant_ttl_ns = 60 * TITA_NSEC_PER_SEC;
	assert_int_equal(tita_ctl_params_check(&p), 0);
	p.grant_ttl_ns++;
	expect_rejected(&p, "grant_ttl_ns", "out of range");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_covers_every_field),
		cmocka_unit_test(test_defaults_unchanged),
		cmocka_unit_test(test_table_is_consistent),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_check_names_the_field),
		cmocka_unit_test(test_ttl_fits_the_wire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
