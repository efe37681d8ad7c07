/* SPDX-License-Identifier: MIT */
/*
 * A histogram with fixed upper bounds in seconds, Prometheus style: the
 * control-pass duration and the demand-to-grant time, each owned by the
 * module that measures it and rendered by metrics.c.
 */
#ifndef TITAD_HIST_H
#define TITAD_HIST_H

#include <stdint.h>

#define TITAD_HIST_BUCKETS 20

struct titad_hist {
	const double *bounds_s; /* TITAD_HIST_BUCKETS ascending; +Inf implied */
	uint64_t counts[TITAD_HIST_BUCKETS + 1]; /* not cumulative */
	uint64_t count;
	double sum_s;
};

/* 10 us .. 1 s: control passes take tens of microseconds, a grant answers
 * within a control interval (1 ms by default). */
void titad_hist_init(struct titad_hist *h);
void titad_hist_observe(struct titad_hist *h, uint64_t ns);

#endif /* TITAD_HIST_H */
