/* SPDX-License-Identifier: MIT */
/*
 * The simulator's event queue: a 4-ary min-heap of fixed-size entries in one
 * growable array, so scheduling an event never allocates (the array doubles
 * rarely and is then reused). Entries are ordered by time and then by the
 * order in which they were scheduled, which makes every run with the same
 * inputs pop the same events in the same order: ties never depend on heap
 * layout.
 */
#ifndef SIM_EVENTQ_H
#define SIM_EVENTQ_H

#include <stdbool.h>
#include <stdint.h>

struct sim_event {
	uint64_t t_ps; /* virtual time, picoseconds */
	uint64_t seq; /* scheduling order, the tie-breaker */
	uint32_t type;
	uint32_t a;
	uint64_t b;
};

struct sim_eventq {
	struct sim_event *heap;
	uint32_t n, cap;
	uint64_t next_seq;
};

int sim_eventq_init(struct sim_eventq *q, uint32_t initial_cap);
void sim_eventq_fini(struct sim_eventq *q);
/* 0, or -ENOMEM when the heap cannot grow. */
int sim_eventq_push(struct sim_eventq *q, uint64_t t_ps, uint32_t type, uint32_t a, uint64_t b);
/* false when empty. */
bool sim_eventq_pop(struct sim_eventq *q, struct sim_event *ret_ev);

static inline bool sim_eventq_empty(const struct sim_eventq *q)
{
	return q->n == 0;
}

static inline uint64_t sim_eventq_peek_t(const struct sim_eventq *q)
{
	return q->n ? q->heap[0].t_ps : UINT64_MAX;
}

#endif /* SIM_EVENTQ_H */
