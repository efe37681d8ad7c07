// SPDX-License-Identifier: MIT
/*
 * The peer map of sim/pairmap.h: growth by doubling.
 */
#include <errno.h>
#include <stdlib.h>

#include "pairmap.h"

void sim_pairmap_fini(struct sim_pairmap *m)
{
	free(m->slot);
	sim_pairmap_init(m);
}

static void place(struct sim_pairmap_slot *slot, uint32_t mask, uint32_t key, uint32_t val)
{
	uint32_t i = sim_pairmap_hash(key) & mask;

	while (slot[i].key != SIM_PAIRMAP_NONE)
		i = (i + 1) & mask;
	slot[i].key = key;
	slot[i].val = val;
}

int sim_pairmap_add(struct sim_pairmap *m, uint32_t key, uint32_t val)
{
	uint32_t cap = m->slot ? m->mask + 1 : 0;

	if (key == SIM_PAIRMAP_NONE)
		return -EINVAL;
	if (2 * (m->n + 1) > cap) {
		uint32_t ncap = cap ? 2 * cap : 8;
		struct sim_pairmap_slot *ns;

		if (ncap < cap)
			return -ENOMEM;
		ns = malloc((size_t)ncap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		for (uint32_t i = 0; i < ncap; i++)
			ns[i].key = SIM_PAIRMAP_NONE;
		for (uint32_t i = 0; i < cap; i++)
			if (m->slot[i].key != SIM_PAIRMAP_NONE)
				place(ns, ncap - 1, m->slot[i].key, m->slot[i].val);
		free(m->slot);
		m->slot = ns;
		m->mask = ncap - 1;
	}
	place(m->slot, m->mask, key, val);
	m->n++;
	return 0;
}
