/* SPDX-License-Identifier: MIT */
/*
 * A map from a 32-bit key to a 32-bit value (an index into the owner's own
 * array), open addressing with linear probing, for the per-host tables whose
 * keys are peers: its memory follows the pairs that exist, not the square of
 * the hosts. Entries are never removed (a pair, once seen, keeps its slot
 * for the run), so lookups stop at the first empty slot and no tombstones
 * are needed. The table doubles at half full: it allocates when a new pair
 * appears, never per packet.
 */
#ifndef SIM_PAIRMAP_H
#define SIM_PAIRMAP_H

#include <stdint.h>

#define SIM_PAIRMAP_NONE UINT32_MAX

struct sim_pairmap_slot {
	uint32_t key; /* SIM_PAIRMAP_NONE: empty */
	uint32_t val;
};

struct sim_pairmap {
	struct sim_pairmap_slot *slot;
	uint32_t mask; /* capacity - 1; 0 with no table yet */
	uint32_t n;
};

/* An empty map allocates nothing until its first put. */
static inline void sim_pairmap_init(struct sim_pairmap *m)
{
	m->slot = NULL;
	m->mask = 0;
	m->n = 0;
}

void sim_pairmap_fini(struct sim_pairmap *m);

static inline uint32_t sim_pairmap_hash(uint32_t key)
{
	/* Fibonacci hashing spreads consecutive host numbers. */
	return (uint32_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 32);
}

/* The value stored for key, or SIM_PAIRMAP_NONE. */
static inline uint32_t sim_pairmap_get(const struct sim_pairmap *m, uint32_t key)
{
	if (!m->slot)
		return SIM_PAIRMAP_NONE;
	for (uint32_t i = sim_pairmap_hash(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->slot[i].key == key)
			return m->slot[i].val;
		if (m->slot[i].key == SIM_PAIRMAP_NONE)
			return SIM_PAIRMAP_NONE;
	}
}

/* Store val for a key not yet present (key != SIM_PAIRMAP_NONE): 0, or
 * -ENOMEM with the map unchanged. */
int sim_pairmap_add(struct sim_pairmap *m, uint32_t key, uint32_t val);

#endif /* SIM_PAIRMAP_H */
