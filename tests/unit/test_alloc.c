// SPDX-License-Identifier: MIT
/*
 * The allocator against its definition: thousands of random instances are
 * checked for feasibility, floors, caps, work conservation and max-min
 * optimality, and compared with an independent bisection on the water level.
 * Set TITA_TEST_SEED to replay a run; the seed is printed on any failure.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tita/alloc.h"
#include "tita/types.h"

static uint64_t seed;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			print_error("seed %llu: ", (unsigned long long)seed); \
			print_error(__VA_ARGS__);                             \
			fail_msg("%s", #cond);                                \
		}                                                             \
	} while (0)

static double ceil_of(const struct tita_alloc_entry *e)
{
	double hi = (double)e->demand_bps;

	if (e->max_bps && (double)e->max_bps < hi)
		hi = (double)e->max_bps;
	return hi;
}

static double floor_of(const struct tita_alloc_entry *e)
{
	return fmin((double)e->min_bps, ceil_of(e));
}

/* The reference: bisect the level of sum clamp(level*w, lo, hi) = capacity. */
static void reference(const struct tita_alloc_entry *e, size_t n, uint64_t capacity_bps, double *x)
{
	double sum_lo = 0, sum_hi = 0, lo_level = 0, hi_level = 1;

	for (size_t i = 0; i < n; i++) {
		sum_lo += floor_of(&e[i]);
		sum_hi += ceil_of(&e[i]);
	}
	if (sum_hi <= (double)capacity_bps) {
		for (size_t i = 0; i < n; i++)
			x[i] = ceil_of(&e[i]);
		return;
	}
	if (sum_lo >= (double)capacity_bps) {
		for (size_t i = 0; i < n; i++)
			x[i] = sum_lo > 0 ? floor_of(&e[i]) * (double)capacity_bps / sum_lo : 0;
		return;
	}
	for (;;) {
		double total = 0;

		for (size_t i = 0; i < n; i++)
			total +=
				fmin(fmax(hi_level * e[i].weight, floor_of(&e[i])), ceil_of(&e[i]));
		if (total >= (double)capacity_bps)
			break;
		hi_level *= 2;
	}
	for (int it = 0; it < 200; it++) {
		double mid = (lo_level + hi_level) / 2, total = 0;

		for (size_t i = 0; i < n; i++)
			total += fmin(fmax(mid * e[i].weight, floor_of(&e[i])), ceil_of(&e[i]));
		if (total >= (double)capacity_bps)
			hi_level = mid;
		else
			lo_level = mid;
	}
	for (size_t i = 0; i < n; i++)
		x[i] = fmin(fmax(lo_level * e[i].weight, floor_of(&e[i])), ceil_of(&e[i]));
}

static void check_instance(struct tita_alloc_entry *e, size_t n, uint64_t capacity_bps,
			   struct tita_alloc_scratch *s, int instance)
{
	double *x = malloc((n ? n : 1) * sizeof(*x)), sum_floor = 0;
	uint64_t total = 0;
	bool someone_wants_more = false;
	double level = tita_alloc_maxmin(e, n, capacity_bps, s);

	CHECK(level >= 0, "instance %d: error %f\n", instance, level);
	reference(e, n, capacity_bps, x);
	for (size_t i = 0; i < n; i++) {
		double hi = ceil_of(&e[i]), lo = floor_of(&e[i]);
		/* Tolerance: whole-bps rounding plus the reference's own precision. */
		double tol = 2.0 + 1e-9 * fmax(hi, (double)capacity_bps);

		total += e[i].alloc_bps;
		sum_floor += lo;
		CHECK((double)e[i].alloc_bps <= hi + 0.5, "instance %d entry %zu above ceiling\n",
		      instance, i);
		CHECK(fabs((double)e[i].alloc_bps - x[i]) <= tol + (double)n,
		      "instance %d entry %zu: %llu vs reference %.3f\n", instance, i,
		      (unsigned long long)e[i].alloc_bps, x[i]);
		if ((double)e[i].alloc_bps < hi - tol)
			someone_wants_more = true;
	}
	CHECK(total <= capacity_bps, "instance %d: sum %llu over capacity %llu\n", instance,
	      (unsigned long long)total, (unsigned long long)capacity_bps);
	/* Floors are honoured whenever they fit together. */
	if (sum_floor <= (double)capacity_bps)
		for (size_t i = 0; i < n; i++)
			CHECK((double)e[i].alloc_bps >= floor_of(&e[i]) - 1.0,
			      "instance %d entry %zu below its floor\n", instance, i);
	/* Work conservation: capacity is left over only if nobody can use it. */
	if (someone_wants_more)
		CHECK(total + n + 1 >= capacity_bps, "instance %d: %llu of %llu used\n", instance,
		      (unsigned long long)total, (unsigned long long)capacity_bps);
	/*
	 * Max-min optimality: an entry i that could grow may only be held back
	 * by entries j that cannot shrink (at their floor) or whose weighted
	 * share is no larger than i's. An entry a few bps under its ceiling is
	 * at it: rounding every rate down can leave the total a bps or so per
	 * entry over the capacity, which the allocator takes back from the
	 * first entries.
	 */
	if (sum_floor <= (double)capacity_bps) {
		for (size_t i = 0; i < n; i++) {
			double share_i = (double)e[i].alloc_bps / e[i].weight;

			if ((double)e[i].alloc_bps >= ceil_of(&e[i]) - 2.0 - (double)n)
				continue;
			for (size_t j = 0; j < n; j++) {
				double share_j = (double)e[j].alloc_bps / e[j].weight;

				if ((double)e[j].alloc_bps <= floor_of(&e[j]) + 2.0)
					continue;
				CHECK(share_j <= share_i * (1 + 1e-9) + 2.0 / e[i].weight +
							 2.0 / e[j].weight,
				      "instance %d: entry %zu (share %.3f) could grow at the "
				      "expense of %zu (share %.3f)\n",
				      instance, i, share_i, j, share_j);
			}
		}
	}
	free(x);
}

static uint64_t rand_rate(uint64_t *rng)
{
	/* Log-uniform from 1 kbit/s to 800 Gbit/s, with exact ties now and then. */
	if (tita_rng_next(rng) % 8 == 0)
		return 25 * TITA_GBPS;
	return (uint64_t)exp(log(1e3) + tita_rng_unit(rng) * (log(8e11) - log(1e3)));
}

static void test_random_instances(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(256);
	struct tita_alloc_entry e[256];
	uint64_t rng = seed;

	for (int instance = 0; instance < 5000; instance++) {
		size_t n = tita_rng_next(&rng) % (instance < 100 ? 5 : 200);
		uint64_t sum_demand = 0, capacity_bps;

		for (size_t i = 0; i < n; i++) {
			e[i] = (struct tita_alloc_entry){
				.demand_bps = tita_rng_next(&rng) % 10 ? rand_rate(&rng) : 0,
				.min_bps = tita_rng_next(&rng) % 4 ? 0 : rand_rate(&rng) / 50,
				.max_bps = tita_rng_next(&rng) % 3 ? 0 : rand_rate(&rng),
				.weight = tita_rng_next(&rng) % 3 ?
						  1.0 :
						  0.001 + tita_rng_unit(&rng) * 100,
			};
			sum_demand += e[i].demand_bps;
		}
		/* Capacities below, near and above the total demand. */
		capacity_bps = (uint64_t)((double)sum_demand * tita_rng_unit(&rng) * 1.5);
		if (tita_rng_next(&rng) % 10 == 0)
			capacity_bps = tita_rng_next(&rng) % 3;
		check_instance(e, n, capacity_bps, s, instance);
	}
	tita_alloc_scratch_free(s);
}

/* Many entries of a few rates each (a collective's pairs asking for the same
 * line, idle ones for nothing, floors equal to ceilings): breakpoints that
 * take a handful of values, sorted by counting rather than by radix, and
 * some that take just more than that handful. */
static void test_few_distinct_rates(void **state)
{
	static const uint64_t rates[] = { 0,
					  25 * TITA_GBPS,
					  10 * TITA_GBPS,
					  400 * TITA_GBPS,
					  1 * TITA_GBPS,
					  3 * TITA_GBPS,
					  7 * TITA_GBPS };
	static const double weights[] = { 1.0, 2.0, 0.5 };
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(256);
	struct tita_alloc_entry e[256];
	uint64_t rng = seed ^ 0x5eed;

	for (int instance = 0; instance < 3000; instance++) {
		size_t n = 65 + tita_rng_next(&rng) % 192;
		size_t n_rates = 1 + tita_rng_next(&rng) % 7;
		size_t n_weights = 1 + tita_rng_next(&rng) % 3;
		uint64_t sum_demand = 0, capacity_bps;

		for (size_t i = 0; i < n; i++) {
			uint64_t d = rates[tita_rng_next(&rng) % n_rates];

			e[i] = (struct tita_alloc_entry){
				.demand_bps = d,
				/* Floors of zero, and now and then one equal to the demand. */
				.min_bps = tita_rng_next(&rng) % 8 ? 0 : d,
				.weight = weights[tita_rng_next(&rng) % n_weights],
			};
			sum_demand += d;
		}
		capacity_bps = (uint64_t)((double)sum_demand * tita_rng_unit(&rng) * 1.2);
		check_instance(e, n, capacity_bps, s, instance);
	}
	tita_alloc_scratch_free(s);
}

static void test_weights_give_proportional_shares(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(8);
	struct tita_alloc_entry e[4];
	double weights[4] = { 1, 2, 3, 4 };

	for (int i = 0; i < 4; i++)
		e[i] = (struct tita_alloc_entry){ .demand_bps = 100 * TITA_GBPS,
						  .weight = weights[i] };
	tita_alloc_maxmin(e, 4, 100 * TITA_GBPS, s);
	for (int i = 0; i < 4; i++)
		assert_true(llabs((long long)e[i].alloc_bps -
				  (long long)(10 * TITA_GBPS * weights[i])) <= 1);
	tita_alloc_scratch_free(s);
}

static void test_equal_split_and_small_demands(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(8);
	struct tita_alloc_entry e[3] = {
		{ .demand_bps = 10 * TITA_GBPS, .weight = 1 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1 },
	};

	/* The small demand is met; the rest splits the remainder equally. */
	tita_alloc_maxmin(e, 3, 100 * TITA_GBPS, s);
	assert_int_equal(e[0].alloc_bps, 10 * TITA_GBPS);
	assert_int_equal(e[1].alloc_bps, 45 * TITA_GBPS);
	assert_int_equal(e[2].alloc_bps, 45 * TITA_GBPS);
	tita_alloc_scratch_free(s);
}

static void test_floors_and_caps(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(8);
	struct tita_alloc_entry e[3] = {
		{ .demand_bps = 100 * TITA_GBPS, .min_bps = 60 * TITA_GBPS, .weight = 1 },
		{ .demand_bps = 100 * TITA_GBPS, .max_bps = 5 * TITA_GBPS, .weight = 1 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1 },
	};

	tita_alloc_maxmin(e, 3, 100 * TITA_GBPS, s);
	assert_int_equal(e[0].alloc_bps, 60 * TITA_GBPS);
	assert_int_equal(e[1].alloc_bps, 5 * TITA_GBPS);
	assert_int_equal(e[2].alloc_bps, 35 * TITA_GBPS);

	/* Floors that cannot all fit shrink in proportion. */
	e[0] = (struct tita_alloc_entry){ .demand_bps = 80, .min_bps = 60, .weight = 1 };
	e[1] = (struct tita_alloc_entry){ .demand_bps = 80, .min_bps = 20, .weight = 1 };
	tita_alloc_maxmin(e, 2, 40, s);
	assert_int_equal(e[0].alloc_bps, 30);
	assert_int_equal(e[1].alloc_bps, 10);
	tita_alloc_scratch_free(s);
}

static void test_bad_input(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(2);
	struct tita_alloc_entry e[3] = { { .demand_bps = 1, .weight = 1 },
					 { .demand_bps = 1, .weight = 0 },
					 { .demand_bps = 1, .weight = 1 } };

	assert_true(tita_alloc_maxmin(e, 2, 10, s) == -EINVAL);
	e[1].weight = NAN;
	assert_true(tita_alloc_maxmin(e, 2, 10, s) == -EINVAL);
	e[1].weight = INFINITY;
	assert_true(tita_alloc_maxmin(e, 2, 10, s) == -EINVAL);
	assert_true(tita_alloc_maxmin(e, 3, 10, s) == -E2BIG);
	assert_true(tita_alloc_maxmin(e, 0, 10, s) >= 0);
	assert_null(tita_alloc_scratch_free(s));
	assert_null(tita_alloc_scratch_free(NULL));
}

/* A job's entries share its weight: eight senders of a job get the share of
 * one, and what a demand-limited member leaves goes to its own job first. */
static void test_groups_share_one_weight(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(8);
	struct tita_alloc_entry e[5] = {
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 7 },
		{ .demand_bps = 5 * TITA_GBPS, .weight = 1, .group = 3 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 3 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 3 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 3 },
	};

	assert_true(tita_alloc_maxmin_by_group(e, 5, 100 * TITA_GBPS, s) >= 0);
	assert_int_equal(e[0].alloc_bps, 50 * TITA_GBPS);
	assert_int_equal(e[1].alloc_bps, 5 * TITA_GBPS);
	for (int i = 2; i < 5; i++)
		assert_int_equal(e[i].alloc_bps, 15 * TITA_GBPS);

	/* A job at weight 0.25 gets a fifth, split among its own. */
	for (int i = 1; i < 5; i++)
		e[i].weight = 0.25;
	assert_true(tita_alloc_maxmin_by_group(e, 5, 100 * TITA_GBPS, s) >= 0);
	assert_int_equal(e[0].alloc_bps, 80 * TITA_GBPS);
	for (int i = 1; i < 5; i++)
		assert_int_equal(e[i].alloc_bps, 5 * TITA_GBPS);
	tita_alloc_scratch_free(s);
}

/* Random instances against the definition: the reference over the groups,
 * then the reference over each group's members with what it got. */
static void test_groups_random_instances(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(64);
	struct tita_alloc_entry e[64], flat[64], g[4], m[64];
	double xg[4], xm[64];
	uint64_t rng = seed ^ 0x9e3779b97f4a7c15ull;

	for (int instance = 0; instance < 2000; instance++) {
		size_t n = 1 + tita_rng_next(&rng) % 64;
		uint32_t n_groups = 1 + (uint32_t)(tita_rng_next(&rng) % 4);
		uint64_t sum_demand = 0, capacity_bps, total = 0;

		for (size_t i = 0; i < n; i++) {
			e[i] = (struct tita_alloc_entry){
				.demand_bps = tita_rng_next(&rng) % 10 ? rand_rate(&rng) : 0,
				.min_bps = tita_rng_next(&rng) % 4 ? 0 : rand_rate(&rng) / 50,
				.max_bps = tita_rng_next(&rng) % 3 ? 0 : rand_rate(&rng),
				.group = (tita_rng_next(&rng) % n_groups) * 1000,
			};
			sum_demand += e[i].demand_bps;
		}
		/* One weight per group, as every sender of a job says the same;
		 * now and then its senders disagree, and the group has their
		 * mean. */
		for (uint32_t j = 0; j < n_groups; j++) {
			double w = tita_rng_next(&rng) % 2 ? 1.0 : 0.001 + tita_rng_unit(&rng) * 10;
			bool disagree = tita_rng_next(&rng) % 4 == 0;
			size_t count = 0;

			g[j] = (struct tita_alloc_entry){ 0 };
			for (size_t i = 0; i < n; i++) {
				if (e[i].group != j * 1000)
					continue;
				e[i].weight = disagree ? w * (0.5 + 1.5 * tita_rng_unit(&rng)) : w;
				g[j].weight += e[i].weight;
				g[j].demand_bps += (uint64_t)ceil_of(&e[i]);
				g[j].min_bps += (uint64_t)floor_of(&e[i]);
				count++;
			}
			g[j].weight = count ? g[j].weight / (double)count : 1;
		}
		capacity_bps = (uint64_t)((double)sum_demand * tita_rng_unit(&rng) * 1.5);
		memcpy(flat, e, n * sizeof(*e));
		CHECK(tita_alloc_maxmin_by_group(e, n, capacity_bps, s) >= 0, "instance %d\n",
		      instance);
		reference(g, n_groups, capacity_bps, xg);
		for (uint32_t j = 0; j < n_groups; j++) {
			size_t len = 0;
			uint64_t got = 0;

			for (size_t i = 0; i < n; i++)
				if (e[i].group == j * 1000) {
					m[len] = e[i];
					got += e[i].alloc_bps;
					len++;
				}
			if (!len)
				continue;
			CHECK(fabs((double)got - xg[j]) <= 4.0 + (double)n + 1e-9 * xg[j],
			      "instance %d group %u: %llu vs reference %.3f\n", instance, j,
			      (unsigned long long)got, xg[j]);
			reference(m, len, (uint64_t)floor(xg[j]), xm);
			for (size_t k = 0; k < len; k++)
				CHECK(fabs((double)m[k].alloc_bps - xm[k]) <=
					      4.0 + 2.0 * (double)n + 1e-9 * xg[j],
				      "instance %d group %u member %zu: %llu vs %.3f\n", instance,
				      j, k, (unsigned long long)m[k].alloc_bps, xm[k]);
			total += got;
		}
		CHECK(total <= capacity_bps, "instance %d: over capacity\n", instance);
		/* One group, or one entry per group: exactly the flat allocation. */
		if (n_groups == 1) {
			tita_alloc_maxmin(flat, n, capacity_bps, s);
			for (size_t i = 0; i < n; i++)
				CHECK(flat[i].alloc_bps == e[i].alloc_bps, "instance %d\n",
				      instance);
		}
		for (size_t i = 0; i < n; i++)
			flat[i].group = i;
		memcpy(m, flat, n * sizeof(*m));
		tita_alloc_maxmin_by_group(flat, n, capacity_bps, s);
		tita_alloc_maxmin(m, n, capacity_bps, s);
		for (size_t i = 0; i < n; i++)
			CHECK(flat[i].alloc_bps == m[i].alloc_bps, "instance %d: one per group\n",
			      instance);
	}
	tita_alloc_scratch_free(s);
}

static void test_groups_of_one_are_flat(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(8);
	struct tita_alloc_entry e[3] = {
		{ .demand_bps = 10 * TITA_GBPS, .weight = 1, .group = 1 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 2, .group = 2 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 3 },
	}, f[3];

	memcpy(f, e, sizeof(e));
	tita_alloc_maxmin(f, 3, 100 * TITA_GBPS, s);
	tita_alloc_maxmin_by_group(e, 3, 100 * TITA_GBPS, s);
	for (int i = 0; i < 3; i++)
		assert_int_equal(e[i].alloc_bps, f[i].alloc_bps);
	assert_int_equal(e[1].alloc_bps, 60 * TITA_GBPS);

	e[2].weight = 0;
	e[2].group = 1;
	assert_true(tita_alloc_maxmin_by_group(e, 3, 10, s) == -EINVAL);
	e[2].weight = 1;
	{
		struct tita_alloc_entry many[9] = { { .demand_bps = 1, .weight = 1 } };

		for (int i = 0; i < 9; i++)
			many[i] = (struct tita_alloc_entry){ .demand_bps = 1,
							     .weight = 1,
							     .group = 0 };
		many[8].group = 1;
		assert_true(tita_alloc_maxmin_by_group(many, 9, 10, s) == -E2BIG);
	}
	tita_alloc_scratch_free(s);
}

/* Member weights split a group's share among its entries and leave the
 * groups' shares alone; across groups of one entry they count for nothing. */
static void test_member_weights_stay_in_their_group(void **state)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(8);
	struct tita_alloc_entry e[3] = {
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 1, .member_weight = 4 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 1, .member_weight = 1 },
		{ .demand_bps = 100 * TITA_GBPS, .weight = 1, .group = 2, .member_weight = 1 },
	};

	assert_true(tita_alloc_maxmin_by_group(e, 3, 100 * TITA_GBPS, s) >= 0);
	assert_int_equal(e[2].alloc_bps, 50 * TITA_GBPS);
	assert_true(llabs((long long)e[0].alloc_bps - (long long)(40 * TITA_GBPS)) <= 1);
	assert_true(llabs((long long)e[1].alloc_bps - (long long)(10 * TITA_GBPS)) <= 1);

	/* One group: plain max-min by weight x member weight. */
	e[2].group = 1;
	e[2].member_weight = 0; /* 0 means 1 */
	assert_true(tita_alloc_maxmin_by_group(e, 3, 60 * TITA_GBPS, s) >= 0);
	assert_true(llabs((long long)e[0].alloc_bps - (long long)(40 * TITA_GBPS)) <= 1);
	assert_true(llabs((long long)e[2].alloc_bps - (long long)(10 * TITA_GBPS)) <= 1);

	/* Every entry its own group: member weights do not count. */
	e[1].group = 3;
	e[2].group = 2;
	assert_true(tita_alloc_maxmin_by_group(e, 3, 90 * TITA_GBPS, s) >= 0);
	for (int i = 0; i < 3; i++)
		assert_true(llabs((long long)e[i].alloc_bps - (long long)(30 * TITA_GBPS)) <= 1);

	e[1].member_weight = -1;
	assert_true(tita_alloc_maxmin_by_group(e, 3, 10, s) == -EINVAL);
	assert_true(tita_alloc_maxmin(e, 3, 10, s) == -EINVAL);
	tita_alloc_scratch_free(s);
}

int main(void)
{
	const char *env = getenv("TITA_TEST_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_instances),
		cmocka_unit_test(test_weights_give_proportional_shares),
		cmocka_unit_test(test_equal_split_and_small_demands),
		cmocka_unit_test(test_floors_and_caps),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_groups_share_one_weight),
		cmocka_unit_test(test_groups_random_instances),
		cmocka_unit_test(test_groups_of_one_are_flat),
		cmocka_unit_test(test_few_distinct_rates),
		cmocka_unit_test(test_member_weights_stay_in_their_group),
	};

	seed = env ? strtoull(env, NULL, 0) : 20261127;
	printf("# seed %llu (set TITA_TEST_SEED to replay)\n", (unsigned long long)seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
