/* SPDX-License-Identifier: MIT */
/*
 * The simulator's event queue: 4-ary min-heaps of fixed-size entries in
 * growable arrays, so scheduling an event never allocates (the arrays double
 * rarely and are then reused). Entries are ordered by time and then by the
 * order in which they were scheduled, which makes every run with the same
 * inputs pop the same events in the same order: ties never depend on heap
 * layout.
 *
 * Two heaps, one order: the types in `slow_types` (timers, due tens to
 * hundreds of microseconds ahead: one or two per flow) go to one heap, the
 * rest (a packet's hops, a few per busy port) to the other, and pop takes
 * the earlier of their tops. The packet heap stays small enough for the
 * cache, and the timers' heap is touched only when a timer is due; the
 * order is that of a single heap, since the tie-breaker is shared.
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

struct sim_heap {
	struct sim_event *ev;
	uint32_t n, cap;
};

struct sim_eventq {
	struct sim_heap fast, slow;
	uint32_t slow_types; /* bit t: events of type t go to the slow heap */
	uint32_t n;
	uint64_t next_seq;
};

/* All types in one heap until sim_eventq_set_slow(). */
int sim_eventq_init(struct sim_eventq *q, uint32_t initial_cap);
/* Types (bits, < 32) whose events go to the timers' heap; the queue must be
 * empty. */
void sim_eventq_set_slow(struct sim_eventq *q, uint32_t type_mask);
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
	uint64_t a = q->fast.n ? q->fast.ev[0].t_ps : UINT64_MAX;
	uint64_t b = q->slow.n ? q->slow.ev[0].t_ps : UINT64_MAX;

	return a < b ? a : b;
}

#endif /* SIM_EVENTQ_H */
