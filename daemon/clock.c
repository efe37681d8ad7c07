// SPDX-License-Identifier: MIT
/*
 * The one file that reads clocks (STYLE.md, "One file owns the event loop;
 * one file reads the clock"): tests and the benchmark can then reason about
 * time through this narrow door.
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

uint64_t tita_clock_cpu_ns(void)
{
	return read_ns(CLOCK_PROCESS_CPUTIME_ID);
}
