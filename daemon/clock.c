// SPDX-License-Identifier: MIT
/*
 * The clock reads (STYLE.md, "One file owns the event loop; one file reads
 * the clock"): only event.c calls these, so tests and the benchmark reason
 * about time through one narrow door.
 */
#include <time.h>

#include "clock.h"

static uint64_t read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tita_clock_mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

uint64_t tita_clock_real_ns(void)
{
	return read_ns(CLOCK_REALTIME);
}
