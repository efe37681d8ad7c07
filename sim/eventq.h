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

/* 24 bytes, so that a node's four children share fewer cache lines: the
 * heap is a third of a tita run's time. A timer's due time is t_ps itself,
 * so b never needs more than a 32-bit index or flag. */
struct sim_event {
	uint64_t t_ps; /* virtual time, picoseconds */
	/* Scheduling order (the tie-breaker) above, the type in the low byte:
	 * 2^56 events before it wraps. */
	uint64_t seq_type;
	uint32_t a;
	uint32_t b;
};

_Static_assert(sizeof(struct sim_event) == 24, "sim_event grew");

static inline uint32_t sim_event_type(const struct sim_event *ev)
{
	return (uint32_t)(ev->seq_type & 0xff);
}

struct sim_eventq {
	struct sim_event *heap;
	uint32_t n, cap;
	uint64_t next_seq;
};

int sim_eventq_init(struct sim_eventq *q, uint32_t initial_cap);
void sim_eventq_fini(struct sim_eventq *q);
/* 0, or -ENOMEM when the heap cannot grow. */
int sim_eventq_push(struct sim_eventq *q, uint64_t t_ps, uint32_t type, uint32_t a, uint32_t b);
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
