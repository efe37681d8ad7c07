// SPDX-License-Identifier: MIT
/*
 * Fixed-bucket histograms (see hist.h).
 */
#include <string.h>

#include "hist.h"

static const double bounds_s[TITAD_HIST_BUCKETS] = {
	10e-6, 25e-6,  50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 750e-6,
	1e-3,  1.5e-3, 2e-3,  3e-3,  5e-3,   10e-3,  25e-3,  100e-3, 250e-3, 1.0,
};

void titad_hist_init(struct titad_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->bounds_s = bounds_s;
}

void titad_hist_observe(struct titad_hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;

	while (i < TITAD_HIST_BUCKETS && s > h->bounds_s[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum_s += s;
}
