// SPDX-License-Identifier: MIT
/*
 * The reader's delta rule (no privileges needed): deltas never go negative,
 * and an LRU entry evicted and created again between two reads counts from
 * zero, even when its new counts already exceed the old ones.
 */
#include <stdint.h>
#include <stdio.h>

#include "tita_bpf.h"

static int failures;

static void check(const char *what, const uint64_t *now, const uint64_t *prev, size_t n,
		  uint64_t created_now, uint64_t created_prev, const uint64_t *want)
{
	uint64_t got[4];

	tita_bpf_counter_delta(now, prev, n, created_now, created_prev, got);
	for (size_t i = 0; i < n; i++) {
		if (got[i] != want[i]) {
			printf("not ok - %s: field %zu: %llu, want %llu\n", what, i,
			       (unsigned long long)got[i], (unsigned long long)want[i]);
			failures++;
			return;
		}
	}
	printf("ok - %s\n", what);
}

int main(void)
{
	check("growing counters", (uint64_t[]){ 10, 1000, 3 }, (uint64_t[]){ 4, 400, 3 }, 3, 7, 7,
	      (uint64_t[]){ 6, 600, 0 });
	check("unchanged entry", (uint64_t[]){ 5, 500 }, (uint64_t[]){ 5, 500 }, 2, 7, 7,
	      (uint64_t[]){ 0, 0 });
	check("evicted and recreated, smaller", (uint64_t[]){ 2, 200 }, (uint64_t[]){ 50, 5000 }, 2,
	      9, 7, (uint64_t[]){ 2, 200 });
	check("evicted and recreated, already larger", (uint64_t[]){ 80, 8000 },
	      (uint64_t[]){ 50, 5000 }, 2, 9, 7, (uint64_t[]){ 80, 8000 });
	check("a counter went down (map recreated with equal stamps)", (uint64_t[]){ 60, 100 },
	      (uint64_t[]){ 50, 5000 }, 2, 0, 0, (uint64_t[]){ 60, 100 });
	check("near wrap of 64 bits", (uint64_t[]){ UINT64_MAX }, (uint64_t[]){ UINT64_MAX - 3 }, 1,
	      1, 1, (uint64_t[]){ 3 });
	return failures ? 1 : 0;
}
