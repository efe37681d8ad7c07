/* SPDX-License-Identifier: MIT */
#ifndef TITA_GEN_MSGSTAT_H
#define TITA_GEN_MSGSTAT_H

#include <stddef.h>
#include <stdint.h>

/* A summary of message completion times (or any durations), in ns. */
struct msgstat {
	size_t n;
	uint64_t min_ns, p50_ns, p90_ns, p99_ns, max_ns;
	double mean_ns;
};

/* The nearest-rank q-quantile (0 < q <= 1) of n sorted values: the
 * smallest value with at least q x n of them at or below it; an observed
 * value, never an interpolation. 0 when n is 0. */
uint64_t msgstat_quantile(const uint64_t *sorted, size_t n, double q);

/* Summarize n values; scratch (n values) receives them sorted, values
 * stays as it was. All zero when n is 0. */
void msgstat_summarize(const uint64_t *values, size_t n, uint64_t *scratch, struct msgstat *ret);

#endif
