// SPDX-License-Identifier: MIT
/*
 * 4-ary heap: half the depth of a binary heap, and the four children of a
 * node share one or two cache lines, which is what makes push/pop cheap at
 * the tens of thousands of pending events a large fabric keeps.
 */
#include <errno.h>
#include <stdlib.h>

#include "eventq.h"

/* Time, then scheduling order, as one 128-bit key: one compare without a
 * branch, where two fields compared in turn mispredict half the time in a
 * heap (which child is smaller is a coin toss). */
static inline unsigned __int128 ev_key(const struct sim_event *x)
{
	return (unsigned __int128)x->t_ps << 64 | x->seq_type;
}

static inline bool ev_less(const struct sim_event *x, const struct sim_event *y)
{
	return ev_key(x) < ev_key(y);
}

int sim_eventq_init(struct sim_eventq *q, uint32_t initial_cap)
{
	q->n = 0;
	q->next_seq = 0;
	q->cap = initial_cap ? initial_cap : 1024;
	q->heap = malloc((size_t)q->cap * sizeof(*q->heap));
	return q->heap ? 0 : -ENOMEM;
}

void sim_eventq_fini(struct sim_eventq *q)
{
	free(q->heap);
	q->heap = NULL;
	q->n = q->cap = 0;
}

int sim_eventq_push(struct sim_eventq *q, uint64_t t_ps, uint32_t type, uint32_t a, uint32_t b)
{
	struct sim_event ev = {
		.t_ps = t_ps, .seq_type = q->next_seq++ << 8 | (type & 0xff), .a = a, .b = b
	};
	uint32_t i;

	if (q->n == q->cap) {
		struct sim_event *h = realloc(q->heap, (size_t)q->cap * 2 * sizeof(*h));

		if (!h)
			return -ENOMEM;
		q->heap = h;
		q->cap *= 2;
	}
	i = q->n++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 4;

		if (!ev_less(&ev, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = ev;
	return 0;
}

bool sim_eventq_pop(struct sim_eventq *q, struct sim_event *ret_ev)
{
	struct sim_event last;
	uint32_t i = 0;

	if (!q->n)
		return false;
	*ret_ev = q->heap[0];
	last = q->heap[--q->n];
	for (;;) {
		uint32_t c = 4 * i + 1, best, end;
		unsigned __int128 best_key;

		if (c >= q->n)
			break;
		best = c;
		best_key = ev_key(&q->heap[c]);
		end = c + 4 < q->n ? c + 4 : q->n;
		for (c = c + 1; c < end; c++) {
			unsigned __int128 k = ev_key(&q->heap[c]);
			bool less = k < best_key;

			/* Selects, not branches. */
			best = less ? c : best;
			best_key = less ? k : best_key;
		}
		if (best_key >= ev_key(&last))
			break;
		q->heap[i] = q->heap[best];
		i = best;
	}
	q->heap[i] = last;
	return true;
}
