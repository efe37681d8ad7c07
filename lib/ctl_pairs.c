// SPDX-License-Identifier: MIT
/*
 * The controller's pair table. Pairs live in a slot array that grows on
 * demand up to max_pairs, indexed by an open-addressing hash (linear
 * probing, backward-shift deletion), so memory is bounded whatever peers
 * send and nothing is allocated per message once the table has grown. When
 * it is full, a new pair takes the place of the least recently active one
 * that holds nothing live. The round's work space grows with the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"

static void index_insert(struct tita_ctl *c, uint32_t slot)
{
	const struct pair *pr = &c->pairs[slot];
	uint32_t i = ctl_hash_key(pr->role, &pr->local, &pr->remote, pr->job_id) & c->index_mask;

	while (c->index[i])
		i = (i + 1) & c->index_mask;
	c->index[i] = slot + 1;
}

/* Backward-shift deletion keeps linear probing free of tombstones. */
static void index_remove(struct tita_ctl *c, uint32_t slot)
{
	const struct pair *pr = &c->pairs[slot];
	uint32_t i = ctl_hash_key(pr->role, &pr->local, &pr->remote, pr->job_id) & c->index_mask;

	while (c->index[i] != slot + 1)
		i = (i + 1) & c->index_mask;
	for (uint32_t j = (i + 1) & c->index_mask;; j = (j + 1) & c->index_mask) {
		uint32_t ref = c->index[j], home;

		if (!ref)
			break;
		pr = &c->pairs[ref - 1];
		home = ctl_hash_key(pr->role, &pr->local, &pr->remote, pr->job_id) & c->index_mask;
		/* Move ref back into the hole unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			c->index[i] = ref;
			i = j;
		}
	}
	c->index[i] = 0;
}

/* realloc() that keeps the old block when it fails, and says so in *ok. */
static void *resize(void *old, size_t n, size_t size, bool *ok)
{
	void *p = realloc(old, n * size);

	if (!p) {
		*ok = false;
		return old;
	}
	return p;
}

int ctl_work_reserve(struct tita_ctl *c, uint32_t n)
{
	uint32_t cap = c->work_cap ? c->work_cap : 64;
	bool ok = true;

	if (n <= c->work_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	c->entries = resize(c->entries, cap, sizeof(*c->entries), &ok);
	c->entries2 = resize(c->entries2, cap, sizeof(*c->entries2), &ok);
	c->order = resize(c->order, cap, sizeof(*c->order), &ok);
	c->outgoing = resize(c->outgoing, cap, sizeof(*c->outgoing), &ok);
	if (!ok)
		return -ENOMEM;
	c->scratch = tita_alloc_scratch_free(c->scratch);
	c->scratch = tita_alloc_scratch_new(cap);
	if (!c->scratch) {
		c->work_cap = 0;
		return -ENOMEM;
	}
	c->work_cap = cap;
	return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t v = 1;

	while (v < n)
		v <<= 1;
	return v;
}

/* The index stays at most half full of the pairs' capacity. It grows with
 * them rather than being sized for max_pairs up front: a host with a few
 * hundred pairs then looks them up in a few KiB that stay in cache, not in
 * a 512 KiB table where every lookup misses (the simulator runs 64+ hosts
 * in one process; titad's lookups per interval scale the same way). */
int ctl_index_grow(struct tita_ctl *c, uint32_t pairs_cap)
{
	uint32_t mask = pow2_at_least(2 * pairs_cap) - 1;
	uint32_t *index;

	if (c->index && mask <= c->index_mask)
		return 0;
	index = calloc((size_t)mask + 1, sizeof(*index));
	if (!index)
		return -ENOMEM;
	free(c->index);
	c->index = index;
	c->index_mask = mask;
	for (uint32_t s = 0; s < c->pairs_hwm; s++)
		if (c->pairs[s].used)
			index_insert(c, s);
	return 0;
}

static int pairs_grow(struct tita_ctl *c)
{
	uint32_t cap = c->pairs_cap ? c->pairs_cap * 2 : 64;
	struct pair *pairs;

	if (cap > c->p.max_pairs)
		cap = c->p.max_pairs;
	if (cap <= c->pairs_cap)
		return -ENOSPC;
	pairs = realloc(c->pairs, cap * sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	memset(pairs + c->pairs_cap, 0, (cap - c->pairs_cap) * sizeof(*pairs));
	c->pairs = pairs;
	if (ctl_index_grow(c, cap) < 0)
		return -ENOMEM;
	c->pairs_cap = cap;
	return ctl_work_reserve(c, cap);
}

static bool evictable(const struct tita_ctl *c, const struct pair *pr, uint64_t now_ns)
{
	uint64_t idle_ns = now_ns > pr->last_active_ns ? now_ns - pr->last_active_ns : 0;

	switch (pr->role) {
	case TITA_PAIR_RX:
		return pr->expires_ns <= now_ns;
	case ROLE_SOURCE:
		return idle_ns >= c->p.grant_ttl_ns;
	default:
		return pr->state == TITA_PAIR_FAIL_OPEN && pr->demand_bps == 0 &&
		       idle_ns >= c->p.grant_ttl_ns;
	}
}

/* Make room by evicting the least recently active pair that holds nothing live. */
static bool evict_one(struct tita_ctl *c, uint64_t now_ns)
{
	struct pair *victim = NULL;

	if (c->nothing_evictable)
		return false;
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (pr->used && evictable(c, pr, now_ns) &&
		    (!victim || pr->last_active_ns < victim->last_active_ns))
			victim = pr;
	}
	if (!victim) {
		c->nothing_evictable = true;
		return false;
	}
	ctl_pair_release(c, victim);
	c->stats.pairs_evicted++;
	return true;
}

struct pair *ctl_pair_get(struct tita_ctl *c, uint8_t role, uint16_t port,
			  const struct tita_addr *remote, uint32_t job_id, uint64_t now_ns)
{
	const struct tita_addr *local = &c->ports[port].local;
	struct pair *pr = ctl_pair_find(c, role, local, remote, job_id);
	uint32_t slot;

	if (pr)
		return pr;
	if (c->n_pairs >= c->p.max_pairs && !evict_one(c, now_ns))
		return NULL;
	if (c->n_free) {
		slot = c->free_slots[--c->n_free];
	} else {
		if (c->pairs_hwm == c->pairs_cap && pairs_grow(c) < 0)
			return NULL;
		slot = c->pairs_hwm++;
	}
	pr = &c->pairs[slot];
	*pr = (struct pair){
		.used = true,
		.role = role,
		.port = port,
		.job_id = job_id,
		.local = *local,
		.remote = *remote,
		.last_active_ns = now_ns,
		.rate_bps = TITA_RATE_UNPACED,
		.programmed_bps = TITA_RATE_UNPACED,
		.weight_milli = TITA_WEIGHT_ONE,
		.remote_leaf = TITA_LEAF_NONE,
		.spine = TITA_SPINE_NONE,
		.want_spine = TITA_SPINE_NONE,
		.move_to = TITA_SPINE_NONE,
		.hold_spine = TITA_SPINE_NONE,
		.came_from = TITA_SPINE_NONE,
		.path_spine = TITA_SPINE_NONE,
	};
	index_insert(c, slot);
	c->slot_role[slot] = role;
	c->n_pairs++;
	if (role == ROLE_SOURCE) {
		c->n_sources++;
		c->sources_gen++;
	}
	return pr;
}

void ctl_pair_release(struct tita_ctl *c, struct pair *pr)
{
	uint32_t slot = (uint32_t)(pr - c->pairs);

	/* A TX pair that goes away must not leave a pacing rule behind. */
	if (pr->role == TITA_PAIR_TX && pr->programmed_bps != TITA_RATE_UNPACED)
		ctl_rate_push(c, pr, TITA_RATE_UNPACED, 0);
	ctl_fabric_pair_release(c, pr);
	index_remove(c, slot);
	if (pr->role == ROLE_SOURCE) {
		c->n_sources--;
		c->sources_gen++;
	}
	pr->used = false;
	c->slot_role[slot] = 0;
	c->free_slots[c->n_free++] = slot;
	c->n_pairs--;
}
