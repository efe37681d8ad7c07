/* SPDX-License-Identifier: MIT */
/*
 * Weighted max-min allocation (water-filling) with per-entry minimums and caps.
 *
 * Every entry i gets x_i = clamp(level * weight_i, floor_i, ceil_i), where
 * ceil_i = min(demand_i, cap_i), floor_i = min(min_i, ceil_i), and level is the
 * single water level at which the allocations add up to the capacity (or every
 * entry is at its ceiling). When the floors alone exceed the capacity they are
 * scaled down in proportion. Exact up to the rounding of each rate down to a
 * whole bit per second, so the sum never exceeds the capacity.
 */
#ifndef TITA_ALLOC_H
#define TITA_ALLOC_H

#include <stddef.h>
#include <stdint.h>

struct tita_alloc_entry {
	uint64_t demand_bps; /* what the entry could use */
	uint64_t min_bps; /* guaranteed when the capacity allows */
	uint64_t max_bps; /* never more than this (0 means no cap) */
	double weight; /* > 0; the share grows in proportion */
	uint64_t group; /* tita_alloc_maxmin_by_group() only: who shares a weight */
	/* Multiplies weight between the entries of one group only (0 means 1):
	 * a group's weight among the groups is its entries' mean weight
	 * whatever their member weights, so a job keeps its share. In
	 * tita_alloc_maxmin() every entry is of one group. */
	double member_weight;
	uint64_t alloc_bps; /* out */
};

struct tita_alloc_scratch;

/* Scratch space for up to max_entries entries, so a round allocates nothing. */
struct tita_alloc_scratch *tita_alloc_scratch_new(size_t max_entries);
struct tita_alloc_scratch *tita_alloc_scratch_free(struct tita_alloc_scratch *s);

/*
 * Allocate capacity_bps over n entries in O(n log n). Returns the water level
 * (the allocation per unit of weight of an entry that is neither at its
 * floor nor at its ceiling), or a negative errno: -EINVAL for a weight that
 * is not a positive finite number, -E2BIG for more entries than the scratch
 * holds.
 */
double tita_alloc_maxmin(struct tita_alloc_entry *entries, size_t n, uint64_t capacity_bps,
			 struct tita_alloc_scratch *scratch);

/*
 * The same, one level up: entries of one group (a job) share their group's
 * weight rather than each bringing its own. The groups are water-filled by
 * weight (a group's weight is its entries' mean, its demand their summed
 * ceilings, its floor their summed floors), then each group's allocation is
 * water-filled over its own entries. A job with eight senders gets the share
 * of one, not eight. When every entry is its own group, or all share one,
 * this is exactly tita_alloc_maxmin() (member weights count only when all
 * share one group). Same returns; the level is the groups'.
 */
double tita_alloc_maxmin_by_group(struct tita_alloc_entry *entries, size_t n, uint64_t capacity_bps,
				  struct tita_alloc_scratch *scratch);

#endif /* TITA_ALLOC_H */
