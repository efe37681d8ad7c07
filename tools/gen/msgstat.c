// SPDX-License-Identifier: MIT
/* Quantiles of message completion times for tita-roce's message mode. */
#include "msgstat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t msgstat_quantile(const uint64_t *sorted, size_t n, double q)
{
	double rank;
	size_t k;

	if (!n)
		return 0;
	if (!(q > 0))
		return sorted[0];
	/* ceil(q n), with a tolerance so that 0.99 x 100 is rank 99, not the
	 * 100 a binary fraction's rounding would make of it. */
	rank = ceil(q * (double)n - 1e-9);
	k = rank < 1 ? 1 : rank > (double)n ? n : (size_t)rank;
	return sorted[k - 1];
}

void msgstat_summarize(const uint64_t *values, size_t n, uint64_t *scratch, struct msgstat *ret)
{
	double sum = 0;

	memset(ret, 0, sizeof(*ret));
	if (!n)
		return;
	memcpy(scratch, values, n * sizeof(*values));
	qsort(scratch, n, sizeof(*scratch), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)scratch[i];
	ret->n = n;
	ret->min_ns = scratch[0];
	ret->p50_ns = msgstat_quantile(scratch, n, 0.50);
	ret->p90_ns = msgstat_quantile(scratch, n, 0.90);
	ret->p99_ns = msgstat_quantile(scratch, n, 0.99);
	ret->max_ns = scratch[n - 1];
	ret->mean_ns = sum / (double)n;
}
