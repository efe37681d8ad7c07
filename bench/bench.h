/* SPDX-License-Identifier: MIT */
#ifndef TITA_BENCH_H
#define TITA_BENCH_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Each returns 0, or 1 when a figure misses its goal. */
int bench_alloc(void);
int bench_wire(void);

#endif
