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

static int heap_init(struct sim_heap *h, uint32_t cap)
{
	h->n = 0;
	h->cap = cap ? cap : 1024;
	h->ev = malloc((size_t)h->cap * sizeof(*h->ev));
	return h->ev ? 0 : -ENOMEM;
}

int sim_eventq_init(struct sim_eventq *q, uint32_t initial_cap)
{
	q->n = 0;
	q->next_seq = 0;
	q->slow_types = 0;
	if (heap_init(&q->fast, initial_cap) < 0)
		return -ENOMEM;
	if (heap_init(&q->slow, initial_cap) < 0) {
		free(q->fast.ev);
		q->fast.ev = NULL;
		return -ENOMEM;
	}
	return 0;
}

void sim_eventq_set_slow(struct sim_eventq *q, uint32_t type_mask)
{
	q->slow_types = type_mask;
}

void sim_eventq_fini(struct sim_eventq *q)
{
	free(q->fast.ev);
	free(q->slow.ev);
	q->fast.ev = q->slow.ev = NULL;
	q->fast.n = q->fast.cap = q->slow.n = q->slow.cap = q->n = 0;
}

static int heap_push(struct sim_heap *h, const struct sim_event *ev)
{
	uint32_t i;

	if (h->n == h->cap) {
		struct sim_event *x = realloc(h->ev, (size_t)h->cap * 2 * sizeof(*x));

		if (!x)
			return -ENOMEM;
		h->ev = x;
		h->cap *= 2;
	}
	i = h->n++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 4;

		if (!ev_less(ev, &h->ev[parent]))
			break;
		h->ev[i] = h->ev[parent];
		i = parent;
	}
	h->ev[i] = *ev;
	return 0;
}

int sim_eventq_push(struct sim_eventq *q, uint64_t t_ps, uint32_t type, uint32_t a, uint32_t b)
{
	struct sim_event ev = {
		.t_ps = t_ps, .seq_type = q->next_seq++ << 8 | (type & 0xff), .a = a, .b = b
	};
	bool slow = type < 32 && (q->slow_types >> type & 1);

	if (heap_push(slow ? &q->slow : &q->fast, &ev) < 0)
		return -ENOMEM;
	q->n++;
	return 0;
}

static void heap_pop(struct sim_heap *h, struct sim_event *ret_ev)
{
	struct sim_event last;
	uint32_t i = 0;

	*ret_ev = h->ev[0];
	last = h->ev[--h->n];
	for (;;) {
		uint32_t c = 4 * i + 1, best, end;
		unsigned __int128 best_key;

		if (c >= h->n)
			break;
		best = c;
		best_key = ev_key(&h->ev[c]);
		end = c + 4 < h->n ? c + 4 : h->n;
		for (c = c + 1; c < end; c++) {
			unsigned __int128 k = ev_key(&h->ev[c]);
			bool less = k < best_key;

			/* Selects, not branches. */
			best = less ? c : best;
			best_key = less ? k : best_key;
		}
		if (best_key >= ev_key(&last))
			break;
		h->ev[i] = h->ev[best];
		i = best;
	}
	h->ev[i] = last;
}

bool sim_eventq_pop(struct sim_eventq *q, struct sim_event *ret_ev)
{
	struct sim_heap *h;

	if (!q->n)
		return false;
	if (!q->slow.n)
		h = &q->fast;
	else if (!q->fast.n)
		h = &q->slow;
	else
		h = ev_less(&q->slow.ev[0], &q->fast.ev[0]) ? &q->slow : &q->fast;
	heap_pop(h, ret_ev);
	q->n--;
	return true;
}
