// SPDX-License-Identifier: MIT
/*
 * Weighted max-min allocation by water-filling.
 *
 * The total F(level) = sum_i clamp(level * w_i, lo_i, hi_i) is continuous,
 * non-decreasing and piecewise linear in the water level, with breakpoints
 * where an entry leaves its floor (lo_i / w_i) and where it reaches its
 * ceiling (hi_i / w_i). Sorting the 2n breakpoints and sweeping them finds the
 * level where F meets the capacity exactly. The sort is an LSD radix sort on
 * the bit patterns of the (non-negative) breakpoints, which order like the
 * numbers themselves, so a round over 100k entries stays well under 10 ms.
 */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tita/alloc.h"
#include "tita/types.h"

struct tita_alloc_scratch {
	size_t max_entries;
	uint64_t *keys, *keys_tmp;
	uint32_t *refs, *refs_tmp; /* entry index << 1 | (1 if ceiling event) */
	double *lo, *hi;
	/* tita_alloc_maxmin_by_group(): the entries' indices sorted by group,
	 * the groups, and one group's members at a time. */
	uint32_t *by_group;
	struct tita_alloc_entry *groups, *members;
};

struct tita_alloc_scratch *tita_alloc_scratch_new(size_t max_entries)
{
	struct tita_alloc_scratch *s;
	size_t n_events = 2 * (max_entries ? max_entries : 1);

	if (max_entries > UINT32_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->max_entries = max_entries;
	s->keys = malloc(n_events * sizeof(*s->keys));
	s->keys_tmp = malloc(n_events * sizeof(*s->keys_tmp));
	s->refs = malloc(n_events * sizeof(*s->refs));
	s->refs_tmp = malloc(n_events * sizeof(*s->refs_tmp));
	s->lo = malloc(n_events / 2 * sizeof(*s->lo));
	s->hi = malloc(n_events / 2 * sizeof(*s->hi));
	s->by_group = malloc(n_events / 2 * sizeof(*s->by_group));
	s->groups = malloc(n_events / 2 * sizeof(*s->groups));
	s->members = malloc(n_events / 2 * sizeof(*s->members));
	if (!s->keys || !s->keys_tmp || !s->refs || !s->refs_tmp || !s->lo || !s->hi ||
	    !s->by_group || !s->groups || !s->members) {
		tita_alloc_scratch_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

struct tita_alloc_scratch *tita_alloc_scratch_free(struct tita_alloc_scratch *s)
{
	if (!s)
		return NULL;
	free(s->keys);
	free(s->keys_tmp);
	free(s->refs);
	free(s->refs_tmp);
	free(s->lo);
	free(s->hi);
	free(s->by_group);
	free(s->groups);
	free(s->members);
	free(s);
	return NULL;
}

static uint64_t double_key(double v)
{
	union {
		double d;
		uint64_t u;
	} pun = { .d = v };

	/* Only non-negative finite values reach here; +0.0 and -0.0 both sort first. */
	return v > 0 ? pun.u : 0;
}

/*
 * Stable LSD radix sort, a byte per pass. Passes whose byte is equal in every
 * key are skipped, which removes most of them for rates of similar magnitude.
 * Stability keeps floor events (stored first) ahead of ceiling events at equal
 * levels, so an entry whose floor equals its ceiling never leaves a gap.
 */
#define SMALL_SORT_KEYS 128
/* Keys that take at most this many values are placed by one counting
 * pass instead of a radix pass per byte that differs. */
#define FEW_KEYS 8

/* When keys[0..n) take at most FEW_KEYS values, sorts them (stably, as the
 * radix sort would) and returns true. Pairs that ask for the same rate are
 * the common case (a collective's pairs all ask for their line, idle ones
 * for nothing): their breakpoints are a handful of values, and a byte of
 * such a double differs in most of its eight positions. */
static bool few_keys_sort(struct tita_alloc_scratch *s, size_t n)
{
	uint64_t *keys = s->keys, *keys_out = s->keys_tmp;
	uint32_t *refs = s->refs, *refs_out = s->refs_tmp;
	uint64_t v[FEW_KEYS];
	size_t count[FEW_KEYS] = { 0 }, pos = 0, n_v = 0;
	uint32_t last = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t j = last;

		if (n_v && keys[i] == v[j]) {
			count[j]++;
			continue;
		}
		for (j = 0; j < n_v && v[j] != keys[i]; j++)
			;
		if (j == n_v) {
			if (n_v == FEW_KEYS)
				return false;
			v[n_v++] = keys[i];
		}
		count[j]++;
		last = j;
	}
	/* The values in order, their counts with them; then each value's
	 * first position, by the rank of the value. */
	for (size_t i = 1; i < n_v; i++) {
		uint64_t k = v[i];
		size_t c = count[i], j = i;

		for (; j > 0 && v[j - 1] > k; j--) {
			v[j] = v[j - 1];
			count[j] = count[j - 1];
		}
		v[j] = k;
		count[j] = c;
	}
	for (size_t j = 0; j < n_v; j++) {
		size_t c = count[j];

		count[j] = pos;
		pos += c;
	}
	for (size_t i = 0; i < n; i++) {
		size_t j = 0, dst;

		while (v[j] != keys[i])
			j++;
		dst = count[j]++;
		keys_out[dst] = keys[i];
		refs_out[dst] = refs[i];
	}
	s->keys = keys_out;
	s->keys_tmp = keys;
	s->refs = refs_out;
	s->refs_tmp = refs;
	return true;
}

static void radix_sort(struct tita_alloc_scratch *s, size_t n)
{
	uint64_t *keys = s->keys, *keys_out = s->keys_tmp;
	uint32_t *refs = s->refs, *refs_out = s->refs_tmp;
	uint64_t all_or = 0, all_and = UINT64_MAX;

	/* A few dozen keys: eight passes over 256 buckets cost more than
	 * insertion (stable too, and a host's own pairs are that many). */
	if (n <= SMALL_SORT_KEYS) {
		for (size_t i = 1; i < n; i++) {
			uint64_t k = keys[i];
			uint32_t r = refs[i];
			size_t j = i;

			for (; j > 0 && keys[j - 1] > k; j--) {
				keys[j] = keys[j - 1];
				refs[j] = refs[j - 1];
			}
			keys[j] = k;
			refs[j] = r;
		}
		return;
	}
	if (few_keys_sort(s, n))
		return;
	for (size_t i = 0; i < n; i++) {
		all_or |= keys[i];
		all_and &= keys[i];
	}
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[256] = { 0 }, pos = 0;

		if (((all_or ^ all_and) >> shift & 0xff) == 0)
			continue;
		for (size_t i = 0; i < n; i++)
			count[keys[i] >> shift & 0xff]++;
		for (size_t b = 0; b < 256; b++) {
			size_t c = count[b];

			count[b] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++) {
			size_t dst = count[keys[i] >> shift & 0xff]++;

			keys_out[dst] = keys[i];
			refs_out[dst] = refs[i];
		}
		uint64_t *kt = keys;
		uint32_t *rt = refs;

		keys = keys_out;
		keys_out = kt;
		refs = refs_out;
		refs_out = rt;
	}
	s->keys = keys;
	s->keys_tmp = keys_out;
	s->refs = refs;
	s->refs_tmp = refs_out;
}

/* Round each allocation down, then take back any excess that floating point
 * rounding left over the capacity, from the entries above their floor. */
static void finish(struct tita_alloc_entry *e, size_t n, uint64_t capacity_bps, const double *x)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		e[i].alloc_bps = x[i] > 0 ? (uint64_t)floor(x[i]) : 0;
		total += e[i].alloc_bps;
	}
	for (size_t i = 0; i < n && total > capacity_bps; i++) {
		uint64_t take = tita_min_u64(total - capacity_bps, e[i].alloc_bps);

		e[i].alloc_bps -= take;
		total -= take;
	}
}

static bool weight_ok(double weight)
{
	return weight > 0 && isfinite(weight);
}

static bool entry_ok(const struct tita_alloc_entry *e)
{
	return weight_ok(e->weight) && (e->member_weight == 0 || weight_ok(e->member_weight));
}

/* An entry's weight among the entries of its group. */
static double share_weight(const struct tita_alloc_entry *e, bool members)
{
	return members && e->member_weight > 0 ? e->weight * e->member_weight : e->weight;
}

/* What an entry could use: its demand, or its cap when that is lower. */
static uint64_t entry_ceil_bps(const struct tita_alloc_entry *e)
{
	return e->max_bps && e->max_bps < e->demand_bps ? e->max_bps : e->demand_bps;
}

/* Water-filling by weight, or (members) by weight x member weight. */
static double maxmin(struct tita_alloc_entry *e, size_t n, uint64_t capacity_bps,
		     struct tita_alloc_scratch *s, bool members)
{
	double *lo = s->lo, *hi = s->hi;
	double sum_lo = 0, sum_hi = 0, cap = (double)capacity_bps;
	double level, s_const, w_linear;

	if (n > s->max_entries)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		uint64_t ceil_bps = entry_ceil_bps(&e[i]);

		if (!entry_ok(&e[i]))
			return -EINVAL;
		hi[i] = (double)ceil_bps;
		lo[i] = (double)tita_min_u64(e[i].min_bps, ceil_bps);
		sum_lo += lo[i];
		sum_hi += hi[i];
	}

	if (sum_hi <= cap) {
		/* Everyone gets what they can use; the level is unbounded. */
		finish(e, n, capacity_bps, hi);
		return INFINITY;
	}
	if (sum_lo >= cap) {
		/* Not even the floors fit: scale them down in proportion. */
		double scale = sum_lo > 0 ? cap / sum_lo : 0;

		for (size_t i = 0; i < n; i++)
			lo[i] *= scale;
		finish(e, n, capacity_bps, lo);
		return 0;
	}

	for (size_t i = 0; i < n; i++) {
		double w = share_weight(&e[i], members);

		s->keys[i] = double_key(lo[i] / w);
		s->refs[i] = (uint32_t)i << 1;
		s->keys[n + i] = double_key(hi[i] / w);
		s->refs[n + i] = (uint32_t)i << 1 | 1;
	}
	radix_sort(s, 2 * n);

	/* Below every breakpoint each entry sits at its floor. */
	s_const = sum_lo;
	w_linear = 0;
	level = 0;
	for (size_t k = 0; k < 2 * n; k++) {
		uint32_t i = s->refs[k] >> 1;
		union {
			uint64_t u;
			double d;
		} pun = { .u = s->keys[k] };
		double at = pun.d;

		if (w_linear > 0 && s_const + w_linear * at >= cap)
			break;
		if (s->refs[k] & 1) {
			w_linear -= share_weight(&e[i], members);
			s_const += hi[i];
		} else {
			w_linear += share_weight(&e[i], members);
			s_const -= lo[i];
		}
		level = at;
	}
	if (w_linear > 0)
		level = (cap - s_const) / w_linear;

	/* Reuse lo as the output vector. */
	for (size_t i = 0; i < n; i++) {
		double x = level * share_weight(&e[i], members);

		lo[i] = x < lo[i] ? lo[i] : x > hi[i] ? hi[i] : x;
	}
	finish(e, n, capacity_bps, lo);
	return level;
}

double tita_alloc_maxmin(struct tita_alloc_entry *e, size_t n, uint64_t capacity_bps,
			 struct tita_alloc_scratch *s)
{
	return maxmin(e, n, capacity_bps, s, true);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

double tita_alloc_maxmin_by_group(struct tita_alloc_entry *e, size_t n, uint64_t capacity_bps,
				  struct tita_alloc_scratch *s)
{
	uint32_t *idx = s->by_group;
	struct tita_alloc_entry *g = s->groups, *m = s->members;
	size_t n_groups = 0;
	bool mixed = false;
	double level;

	if (n > s->max_entries)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		if (!entry_ok(&e[i]))
			return -EINVAL;
		mixed |= e[i].group != e[0].group;
	}
	if (!mixed)
		return maxmin(e, n, capacity_bps, s, true);
	/* The same stable radix sort as the breakpoints, on the group keys:
	 * traffic of no job makes every pair a group, and a receiver may
	 * hold tens of thousands of them. The sorted indices are kept apart,
	 * since the allocations below reuse the sort's arrays. */
	for (size_t i = 0; i < n; i++) {
		s->keys[i] = e[i].group;
		s->refs[i] = (uint32_t)i;
	}
	radix_sort(s, n);
	memcpy(idx, s->refs, n * sizeof(*idx));
	for (size_t k = 0; k < n; n_groups++) {
		uint64_t group = e[idx[k]].group;
		size_t count = 0;

		g[n_groups] = (struct tita_alloc_entry){ .group = group };
		for (; k < n && e[idx[k]].group == group; k++) {
			const struct tita_alloc_entry *x = &e[idx[k]];
			uint64_t ceil_bps = entry_ceil_bps(x);

			g[n_groups].demand_bps = sat_add(g[n_groups].demand_bps, ceil_bps);
			g[n_groups].min_bps =
				sat_add(g[n_groups].min_bps, tita_min_u64(x->min_bps, ceil_bps));
			/* A running mean: a sum of large weights could overflow. */
			g[n_groups].weight += (x->weight - g[n_groups].weight) / (double)++count;
		}
	}
	if (n_groups == n)
		return maxmin(e, n, capacity_bps, s, false);
	level = maxmin(g, n_groups, capacity_bps, s, false);
	if (level < 0)
		return level;
	for (size_t j = 0, k = 0; j < n_groups; j++) {
		size_t len = 0, start = k;

		for (; k < n && e[idx[k]].group == g[j].group; k++)
			m[len++] = e[idx[k]];
		maxmin(m, len, g[j].alloc_bps, s, true);
		for (size_t i = 0; i < len; i++)
			e[idx[start + i]].alloc_bps = m[i].alloc_bps;
	}
	return level;
}
