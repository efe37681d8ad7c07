// SPDX-License-Identifier: MIT
/*
 * Allocation time per round at 1k, 10k and 100k pairs: the allocator alone,
 * against a baseline measured in the same run (bisection on the water level,
 * the obvious way to do it, to 1 bit/s of precision), and a whole receiver
 * round of the controller (demands in, water-filling, grants batched out),
 * for information: a host never holds 100k pairs on one port.
 * Goal: 100k pairs in under 10 ms.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "tita/alloc.h"
#include "tita/ctl.h"

static void fill(struct tita_alloc_entry *e, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		e[i] = (struct tita_alloc_entry){
			.demand_bps = 1 + tita_rng_next(rng) % (100 * TITA_GBPS),
			.min_bps = tita_rng_next(rng) % 8 ? 0 : tita_rng_next(rng) % TITA_GBPS,
			.max_bps = tita_rng_next(rng) % 4 ? 0 :
							    tita_rng_next(rng) % (50 * TITA_GBPS),
			.weight = 1 + (double)(tita_rng_next(rng) % 4),
		};
}

static double total_at(const struct tita_alloc_entry *e, size_t n, double level)
{
	double total = 0;

	for (size_t i = 0; i < n; i++) {
		double hi = (double)e[i].demand_bps, lo;

		if (e[i].max_bps && (double)e[i].max_bps < hi)
			hi = (double)e[i].max_bps;
		lo = fmin((double)e[i].min_bps, hi);
		total += fmin(fmax(level * e[i].weight, lo), hi);
	}
	return total;
}

/* The baseline: bisect the level until it is exact to a bit per second. */
static void bisection(struct tita_alloc_entry *e, size_t n, uint64_t capacity_bps)
{
	double lo = 0, hi = 4e12;

	while (hi - lo > 1e-3) {
		double mid = (lo + hi) / 2;

		if (total_at(e, n, mid) >= (double)capacity_bps)
			hi = mid;
		else
			lo = mid;
	}
	for (size_t i = 0; i < n; i++) {
		double cap = (double)e[i].demand_bps, floor_bps;

		if (e[i].max_bps && (double)e[i].max_bps < cap)
			cap = (double)e[i].max_bps;
		floor_bps = fmin((double)e[i].min_bps, cap);
		e[i].alloc_bps = (uint64_t)fmin(fmax(lo * e[i].weight, floor_bps), cap);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of runs, each on fresh random entries. */
static uint64_t time_alloc(size_t n, int runs, bool baseline, uint64_t *rng)
{
	struct tita_alloc_scratch *s = tita_alloc_scratch_new(n);
	struct tita_alloc_entry *e = malloc(n * sizeof(*e));
	uint64_t *ns = malloc((size_t)runs * sizeof(*ns)), median;

	for (int r = 0; r < runs; r++) {
		uint64_t t0;
		uint64_t capacity_bps = (uint64_t)n * 20 * TITA_GBPS;

		fill(e, n, rng);
		t0 = bench_now_ns();
		if (baseline)
			bisection(e, n, capacity_bps);
		else
			tita_alloc_maxmin(e, n, capacity_bps, s);
		ns[r] = bench_now_ns() - t0;
	}
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u64);
	median = ns[runs / 2];
	free(ns);
	free(e);
	tita_alloc_scratch_free(s);
	return median;
}

/* A receiver with n senders' demands: the time of one control round. */
static uint64_t time_round(size_t n, uint64_t *rng)
{
	struct tita_ctl_params p;
	struct tita_ctl *c;
	struct tita_addr me = tita_addr_from_host_id(0);
	struct tita_msg *m = calloc(1, sizeof(*m));
	uint64_t now = 0, t0, best = UINT64_MAX;

	tita_ctl_params_default(&p);
	p.max_pairs = (uint32_t)(2 * n);
	c = tita_ctl_new(&p);
	tita_ctl_port_add(c, &me, 400 * TITA_GBPS);
	for (size_t i = 0; i < n; i++) {
		m->kind = TITA_MSG_DEMAND;
		m->peer = tita_addr_from_host_id((uint32_t)i + 1);
		m->n_entries = 1;
		m->demand[0] = (struct tita_demand_entry){
			.sender = m->peer,
			.receiver = me,
			.weight_milli = TITA_WEIGHT_ONE,
			.demand_bps = 1 + tita_rng_next(rng) % (100 * TITA_GBPS),
		};
		tita_ctl_on_msg(c, m, now);
	}
	for (int r = 0; r < 5; r++) {
		now += p.control_interval_ns;
		t0 = bench_now_ns();
		tita_ctl_advance(c, now);
		while (tita_ctl_pop_msg(c, m))
			;
		if (bench_now_ns() - t0 < best)
			best = bench_now_ns() - t0;
	}
	free(m);
	tita_ctl_free(c);
	return best;
}

int bench_alloc(void)
{
	static const size_t sizes[] = { 1000, 10000, 100000 };
	uint64_t rng = 42;
	int missed = 0;

	printf("\nallocation per round (median; baseline = bisection on the level)\n");
	printf("%10s %14s %14s %8s %18s\n", "pairs", "tita_alloc ms", "bisection ms", "speedup",
	       "ctl round ms");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		int runs = n >= 100000 ? 11 : 31;
		uint64_t ours = time_alloc(n, runs, false, &rng);
		uint64_t base = time_alloc(n, n >= 100000 ? 3 : 7, true, &rng);
		uint64_t round = time_round(n, &rng);

		printf("%10zu %14.3f %14.3f %7.1fx %18.3f\n", n, ours / 1e6, base / 1e6,
		       (double)base / (double)ours, round / 1e6);
		if (n == 100000 && ours > 10 * TITA_NSEC_PER_MSEC) {
			printf("  goal missed: 100k pairs must allocate in under 10 ms\n");
			missed = 1;
		}
	}
	printf("goal: 100k pairs allocated in under 10 ms per round: %s\n",
	       missed ? "MISSED" : "met");
	return missed;
}
