// SPDX-License-Identifier: MIT
/*
 * The leaf leader (see tita/fabric.h): capacity of a leaf's uplinks and
 * downlinks, allocated among the leaf's members, and traffic steered off
 * links that are offered more than they carry.
 *
 * Each run water-fills every link over the lines reported on it, jobs by
 * weight first, as a receiver allocates its downlink (tita_alloc.h), and
 * then looks at what is offered against what each link carries:
 *
 *  - An uplink offered too much is the leader's own to fix: it orders lines
 *    on it moved to uplinks with room, preferring spines on which the far
 *    leaf has downlink room.
 *  - A downlink offered too much is fixed where the traffic comes from: the
 *    leader designates lines on it, their members flag the pairs in their
 *    grants with the spines that have room here, and the senders' leaders
 *    move them (a request that reaches this leader as a report line with
 *    move_bps set).
 *  - A move that finds no uplink with room swaps: a large line on a spine
 *    the far leaf has room on trades places with it, when its own far leaf
 *    has room on the spine it would move to.
 *
 * Orders are given once and held for move_hold_ns, counted as done, so the
 * leader does not repeat them while members drain their queue pairs. The
 * table is bounded (max_entries); every input is range-checked.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tita/alloc.h"
#include "tita/ctl.h"
#include "tita/fabric.h"

/* Below this fraction of a link's capacity an overload is noise (rates are
 * measured and estimated, not exact). */
#define OVERLOAD_FRAC 0.02

int tita_place_check(const struct tita_place *p)
{
	if (!p)
		return -EINVAL;
	if (!tita_place_known(p))
		return p->spine_bps ? -EINVAL : 0;
	if (p->leaf == TITA_LEAF_NONE || p->leaf == TITA_LEAF_ANY ||
	    p->n_spines > TITA_SPINES_MAX || !p->spine_bps || p->spine_bps > TITA_RATE_MAX_BPS)
		return -EINVAL;
	return 0;
}

void tita_leader_params_default(struct tita_leader_params *p)
{
	*p = (struct tita_leader_params){
		.eta = 0.95,
		.entry_ttl_ns = 10 * TITA_NSEC_PER_MSEC,
		.room_frac = 0.05,
		.move_hold_ns = 200 * TITA_NSEC_PER_USEC,
		.max_entries = 16384,
	};
}

struct line {
	bool used;
	struct tita_leaf_entry e; /* as reported */
	uint64_t expires_ns;
	uint64_t cap_bps;
	/* The leader's answer: traffic to move, and where (UP), or to have
	 * moved by its senders (DOWN, move_to NONE). */
	uint64_t order_bps;
	uint16_t order_to;
	uint64_t order_until_ns;
};

struct link {
	uint64_t capacity_bps; /* eta x spine_bps; 0 when down */
	uint64_t demand_bps, allocated_bps;
	/* What is offered once the orders in force are done. */
	int64_t planned_bps;
	uint32_t entries;
};

struct tita_leader {
	struct tita_leader_params p;
	struct tita_place leaf;
	uint64_t down_mask;

	struct line *lines;
	uint32_t n_lines, hwm;
	uint32_t *index; /* slot + 1, open addressing */
	uint32_t index_mask;

	struct link up[TITA_SPINES_MAX], down[TITA_SPINES_MAX];
	uint64_t up_room, down_room;

	uint32_t *free_slots;
	uint32_t n_free;

	/* Work space, sized to max_entries. */
	uint32_t *order, *sorted;
	struct tita_alloc_entry *alloc;
	struct tita_alloc_scratch *scratch;

	struct tita_leader_stats stats;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t key_hash(const struct tita_leaf_entry *e)
{
	uint64_t a, b;

	memcpy(&a, e->member.bytes, 8);
	memcpy(&b, e->member.bytes + 8, 8);
	return (uint32_t)mix64(mix64(a ^ mix64(b)) ^
			       ((uint64_t)e->dir << 56 ^ (uint64_t)e->spine << 40 ^
				(uint64_t)e->remote_leaf << 8 ^ mix64(e->job_id)));
}

static bool key_eq(const struct tita_leaf_entry *a, const struct tita_leaf_entry *b)
{
	return a->dir == b->dir && a->spine == b->spine && a->remote_leaf == b->remote_leaf &&
	       a->job_id == b->job_id && tita_addr_eq(&a->member, &b->member);
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t v = 1;

	while (v < n)
		v <<= 1;
	return v;
}

struct tita_leader *tita_leader_new(const struct tita_leader_params *p,
				    const struct tita_place *leaf)
{
	struct tita_leader *l;

	if (!p || !leaf || tita_place_check(leaf) < 0 || !tita_place_known(leaf) ||
	    !isfinite(p->eta) || p->eta <= 0 || p->eta > 1 || !p->entry_ttl_ns ||
	    !isfinite(p->room_frac) || p->room_frac < 0 || p->room_frac > 1 || !p->max_entries ||
	    p->max_entries > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->p = *p;
	l->leaf = *leaf;
	l->index_mask = pow2_at_least(2 * p->max_entries) - 1;
	l->lines = calloc(p->max_entries, sizeof(*l->lines));
	l->index = calloc((size_t)l->index_mask + 1, sizeof(*l->index));
	l->order = malloc(p->max_entries * sizeof(*l->order));
	l->sorted = malloc(p->max_entries * sizeof(*l->sorted));
	l->free_slots = malloc(p->max_entries * sizeof(*l->free_slots));
	l->alloc = malloc(p->max_entries * sizeof(*l->alloc));
	l->scratch = tita_alloc_scratch_new(p->max_entries);
	if (!l->lines || !l->index || !l->order || !l->sorted || !l->free_slots || !l->alloc ||
	    !l->scratch) {
		tita_leader_free(l);
		errno = ENOMEM;
		return NULL;
	}
	return l;
}

struct tita_leader *tita_leader_free(struct tita_leader *l)
{
	if (!l)
		return NULL;
	free(l->lines);
	free(l->index);
	free(l->order);
	free(l->sorted);
	free(l->free_slots);
	free(l->alloc);
	tita_alloc_scratch_free(l->scratch);
	free(l);
	return NULL;
}

void tita_leader_set_links_down(struct tita_leader *l, uint64_t down_mask)
{
	l->down_mask = down_mask;
}

static struct line *line_find(const struct tita_leader *l, const struct tita_leaf_entry *e)
{
	for (uint32_t i = key_hash(e) & l->index_mask;; i = (i + 1) & l->index_mask) {
		uint32_t ref = l->index[i];

		if (!ref)
			return NULL;
		if (key_eq(&l->lines[ref - 1].e, e))
			return &l->lines[ref - 1];
	}
}

static void index_insert(struct tita_leader *l, uint32_t slot)
{
	uint32_t i = key_hash(&l->lines[slot].e) & l->index_mask;

	while (l->index[i])
		i = (i + 1) & l->index_mask;
	l->index[i] = slot + 1;
}

/* Backward-shift deletion, as the controller's pair index. */
static void line_remove(struct tita_leader *l, struct line *ln)
{
	uint32_t slot = (uint32_t)(ln - l->lines);
	uint32_t i = key_hash(&ln->e) & l->index_mask;

	while (l->index[i] != slot + 1)
		i = (i + 1) & l->index_mask;
	for (uint32_t j = (i + 1) & l->index_mask;; j = (j + 1) & l->index_mask) {
		uint32_t ref = l->index[j], home;

		if (!ref)
			break;
		home = key_hash(&l->lines[ref - 1].e) & l->index_mask;
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			l->index[i] = ref;
			i = j;
		}
	}
	l->index[i] = 0;
	ln->used = false;
	l->n_lines--;
	l->free_slots[l->n_free++] = slot;
}

int tita_leader_report(struct tita_leader *l, const struct tita_leaf_entry *e, uint64_t now_ns)
{
	struct line *ln;

	l->stats.reports++;
	if ((e->dir != TITA_LEAF_UP && e->dir != TITA_LEAF_DOWN) || e->spine >= l->leaf.n_spines ||
	    e->weight_milli < 1 || e->weight_milli > TITA_WEIGHT_MAX ||
	    e->demand_bps > TITA_RATE_MAX_BPS || e->move_bps > TITA_RATE_MAX_BPS ||
	    e->remote_leaf == TITA_LEAF_NONE || e->remote_leaf == l->leaf.leaf) {
		l->stats.reports_rejected++;
		return -EINVAL;
	}
	ln = line_find(l, e);
	if (!e->demand_bps && !e->move_bps) {
		if (ln)
			line_remove(l, ln);
		return 0;
	}
	if (!ln) {
		uint32_t slot;

		if (l->n_lines == l->p.max_entries) {
			l->stats.reports_no_space++;
			return -ENOSPC;
		}
		slot = l->n_free ? l->free_slots[--l->n_free] : l->hwm++;
		ln = &l->lines[slot];
		*ln = (struct line){ .used = true, .e = *e, .order_to = TITA_SPINE_NONE };
		index_insert(l, slot);
		l->n_lines++;
	}
	ln->e = *e;
	ln->expires_ns = now_ns + l->p.entry_ttl_ns;
	return 0;
}

/* Which group shares a weight on a link: a job's lines share its weight;
 * lines of no job each have their own, as the controller groups pairs. */
static uint64_t line_group(const struct line *ln, uint32_t slot)
{
	return ln->e.job_id == TITA_JOB_DEFAULT ? (uint64_t)1 << 32 | slot : ln->e.job_id;
}

static struct link *link_of(struct tita_leader *l, uint8_t dir, uint16_t spine)
{
	return dir == TITA_LEAF_UP ? &l->up[spine] : &l->down[spine];
}

static bool order_live(const struct line *ln, uint64_t now_ns)
{
	return ln->order_bps && now_ns < ln->order_until_ns;
}

/* Water-fill every link over its lines. */
static void allocate(struct tita_leader *l, uint64_t now_ns)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		uint64_t cap = l->down_mask >> s & 1 ?
				       0 :
				       (uint64_t)(l->p.eta * (double)l->leaf.spine_bps);

		l->up[s] = (struct link){ .capacity_bps = cap };
		l->down[s] = (struct link){ .capacity_bps = cap };
	}
	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		struct line *ln = &l->lines[slot];

		if (!ln->used)
			continue;
		if (ln->expires_ns <= now_ns) {
			l->stats.entries_expired++;
			line_remove(l, ln);
			continue;
		}
		l->order[n++] = slot;
	}
	/* Group the lines by link (dir, spine): a counting sort. */
	{
		uint32_t count[2 * TITA_SPINES_MAX + 1] = { 0 };
		uint32_t k;

		for (k = 0; k < n; k++) {
			const struct line *ln = &l->lines[l->order[k]];

			count[(ln->e.dir - 1) * TITA_SPINES_MAX + ln->e.spine + 1]++;
		}
		for (k = 1; k <= 2 * TITA_SPINES_MAX; k++)
			count[k] += count[k - 1];
		for (k = 0; k < n; k++) {
			const struct line *ln = &l->lines[l->order[k]];

			l->sorted[count[(ln->e.dir - 1) * TITA_SPINES_MAX + ln->e.spine]++] =
				l->order[k];
		}
		memcpy(l->order, l->sorted, n * sizeof(*l->order));
	}
	for (uint32_t first = 0; first < n;) {
		const struct line *head = &l->lines[l->order[first]];
		struct link *lk = link_of(l, head->e.dir, head->e.spine);
		uint32_t last = first;

		while (last < n && l->lines[l->order[last]].e.dir == head->e.dir &&
		       l->lines[l->order[last]].e.spine == head->e.spine)
			last++;
		for (uint32_t k = first; k < last; k++) {
			const struct line *ln = &l->lines[l->order[k]];

			l->alloc[k - first] = (struct tita_alloc_entry){
				.demand_bps = ln->e.demand_bps,
				.weight = (double)ln->e.weight_milli / TITA_WEIGHT_ONE,
				.group = line_group(ln, l->order[k]),
			};
			lk->demand_bps += ln->e.demand_bps;
		}
		tita_alloc_maxmin_by_group(l->alloc, last - first, lk->capacity_bps, l->scratch);
		for (uint32_t k = first; k < last; k++) {
			struct line *ln = &l->lines[l->order[k]];

			ln->cap_bps = l->alloc[k - first].alloc_bps;
			lk->allocated_bps += ln->cap_bps;
			lk->entries++;
			if (!order_live(ln, now_ns))
				ln->order_bps = 0;
		}
		first = last;
	}
	/* Offered load once the orders in force are done. */
	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		l->up[s].planned_bps = (int64_t)l->up[s].demand_bps;
		l->down[s].planned_bps = (int64_t)l->down[s].demand_bps;
	}
	for (uint32_t k = 0; k < n; k++) {
		const struct line *ln = &l->lines[l->order[k]];

		if (!ln->order_bps || ln->order_to == TITA_SPINE_NONE)
			continue;
		link_of(l, ln->e.dir, ln->e.spine)->planned_bps -= (int64_t)ln->order_bps;
		link_of(l, ln->e.dir, ln->order_to)->planned_bps += (int64_t)ln->order_bps;
	}
}

static int64_t room_of(const struct link *lk)
{
	return (int64_t)lk->capacity_bps - lk->planned_bps;
}

static int64_t excess_of(const struct tita_leader *l, const struct link *lk)
{
	int64_t x = lk->planned_bps - (int64_t)lk->capacity_bps;

	return x > (int64_t)(OVERLOAD_FRAC * (double)l->leaf.spine_bps) ? x : 0;
}

/* A line that names its far leaf is one or a few large pairs: it moves
 * whole. Small pairs summed under TITA_LEAF_ANY move in part. */
static uint64_t move_size(const struct line *ln, uint64_t want_bps)
{
	if (ln->e.remote_leaf != TITA_LEAF_ANY)
		return ln->e.demand_bps;
	return tita_min_u64(want_bps, ln->e.demand_bps);
}

/* The uplink to move bps to: among the spines in mask (the far leaf's
 * room), the one with the most room that takes it all; else 0xffff. */
static uint16_t best_uplink(const struct tita_leader *l, uint64_t mask, uint16_t from, uint64_t bps)
{
	uint16_t best = TITA_SPINE_NONE;
	int64_t best_room = 0;

	for (uint16_t s = 0; s < l->leaf.n_spines; s++) {
		int64_t r = room_of(&l->up[s]);

		if (s == from || !(mask >> s & 1) || r < (int64_t)bps)
			continue;
		if (best == TITA_SPINE_NONE || r > best_room) {
			best = s;
			best_room = r;
		}
	}
	return best;
}

static void order(struct tita_leader *l, struct line *ln, uint64_t bps, uint16_t to,
		  uint64_t now_ns)
{
	ln->order_bps = bps;
	ln->order_to = to;
	ln->order_until_ns = now_ns + l->p.move_hold_ns;
	if (to != TITA_SPINE_NONE) {
		link_of(l, ln->e.dir, ln->e.spine)->planned_bps -= (int64_t)bps;
		link_of(l, ln->e.dir, to)->planned_bps += (int64_t)bps;
	}
}

/*
 * A swap for ln (to leave spine `from` for one in mask): a large line on
 * some spine b in mask, going to a leaf with room on `from`, trades places.
 * Both uplinks stay as loaded as before, less any difference in size.
 */
static bool swap(struct tita_leader *l, struct line *ln, uint64_t mask, uint64_t now_ns)
{
	uint16_t from = ln->e.spine;

	for (uint32_t k = 0; k < l->n_lines; k++) {
		struct line *g = &l->lines[l->order[k]];
		int64_t grow_b, grow_from;

		if (g == ln || g->e.dir != TITA_LEAF_UP || g->e.remote_leaf == TITA_LEAF_ANY ||
		    order_live(g, now_ns) || g->e.spine == from || !(mask >> g->e.spine & 1) ||
		    !(g->e.room_mask >> from & 1) || g->e.remote_leaf == ln->e.remote_leaf)
			continue;
		/* After the swap, neither uplink may be offered more than
		 * before by more than the room it has. */
		grow_b = (int64_t)ln->e.demand_bps - (int64_t)g->e.demand_bps;
		grow_from = -grow_b;
		if (grow_b > room_of(&l->up[g->e.spine]) || grow_from > room_of(&l->up[from]))
			continue;
		order(l, ln, ln->e.demand_bps, g->e.spine, now_ns);
		order(l, g, g->e.demand_bps, from, now_ns);
		l->stats.swaps_ordered++;
		return true;
	}
	return false;
}

/* Moves that the far end asked for: lines reported with move_bps. */
static void requested_moves(struct tita_leader *l, uint32_t n, uint64_t now_ns)
{
	for (uint32_t k = 0; k < n; k++) {
		struct line *ln = &l->lines[l->order[k]];
		uint64_t bps;
		uint16_t to;

		if (ln->e.dir != TITA_LEAF_UP || !ln->e.move_bps || order_live(ln, now_ns))
			continue;
		bps = move_size(ln, ln->e.move_bps);
		to = best_uplink(l, ln->e.room_mask, ln->e.spine, bps);
		if (to != TITA_SPINE_NONE) {
			order(l, ln, bps, to, now_ns);
			l->stats.moves_ordered++;
		} else if (ln->e.remote_leaf != TITA_LEAF_ANY) {
			swap(l, ln, ln->e.room_mask, now_ns);
		}
	}
}

/* Uplinks offered more than they carry: move lines off them. */
static void uplink_moves(struct tita_leader *l, uint32_t n, uint64_t now_ns)
{
	for (uint16_t s = 0; s < l->leaf.n_spines; s++) {
		struct link *lk = &l->up[s];

		for (uint32_t k = 0; k < n && excess_of(l, lk) > 0; k++) {
			struct line *ln = &l->lines[l->order[k]];
			uint64_t bps;
			uint16_t to;

			if (ln->e.dir != TITA_LEAF_UP || ln->e.spine != s || order_live(ln, now_ns))
				continue;
			bps = move_size(ln, (uint64_t)excess_of(l, lk));
			/* Spines where the far leaf has room first; any with
			 * room on our side after that. */
			to = best_uplink(l, ln->e.room_mask ? ln->e.room_mask : UINT64_MAX, s, bps);
			if (to == TITA_SPINE_NONE && ln->e.room_mask)
				to = best_uplink(l, UINT64_MAX, s, bps);
			if (to == TITA_SPINE_NONE)
				continue;
			order(l, ln, bps, to, now_ns);
			l->stats.moves_ordered++;
		}
	}
}

/* Downlinks offered more than they carry: have the senders move lines. */
static void downlink_designations(struct tita_leader *l, uint32_t n, uint64_t now_ns)
{
	for (uint16_t s = 0; s < l->leaf.n_spines; s++) {
		struct link *lk = &l->down[s];
		int64_t x = excess_of(l, lk);

		for (uint32_t k = 0; k < n && x > 0; k++) {
			struct line *ln = &l->lines[l->order[k]];
			uint64_t bps;

			if (ln->e.dir != TITA_LEAF_DOWN || ln->e.spine != s)
				continue;
			if (order_live(ln, now_ns)) {
				x -= (int64_t)ln->order_bps;
				continue;
			}
			bps = move_size(ln, (uint64_t)x);
			order(l, ln, bps, TITA_SPINE_NONE, now_ns);
			l->stats.moves_designated++;
			x -= (int64_t)bps;
		}
	}
}

void tita_leader_run(struct tita_leader *l, uint64_t now_ns)
{
	uint32_t n;

	l->stats.runs++;
	allocate(l, now_ns);
	n = l->n_lines;
	/* The order array holds the live lines grouped by link; a move
	 * changes only planned loads, so it stays valid through the run. */
	requested_moves(l, n, now_ns);
	uplink_moves(l, n, now_ns);
	downlink_designations(l, n, now_ns);
	l->up_room = l->down_room = 0;
	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		int64_t min_room = (int64_t)(l->p.room_frac * (double)l->leaf.spine_bps);

		if (room_of(&l->up[s]) > min_room && l->up[s].capacity_bps)
			l->up_room |= 1ull << s;
		if (room_of(&l->down[s]) > min_room && l->down[s].capacity_bps)
			l->down_room |= 1ull << s;
	}
}

size_t tita_leader_answer(const struct tita_leader *l, const struct tita_addr *member,
			  struct tita_leaf_entry *out, size_t max, uint64_t *ret_up_room,
			  uint64_t *ret_down_room)
{
	size_t n = 0;

	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		const struct line *ln = &l->lines[slot];

		if (!ln->used || !tita_addr_eq(&ln->e.member, member))
			continue;
		if (n < max) {
			out[n] = ln->e;
			out[n].cap_bps = ln->cap_bps;
			out[n].move_bps = ln->order_bps;
			out[n].move_to = ln->order_bps ? ln->order_to : TITA_SPINE_NONE;
			out[n].room_mask = 0;
		}
		n++;
	}
	if (ret_up_room)
		*ret_up_room = l->up_room;
	if (ret_down_room)
		*ret_down_room = l->down_room;
	return n;
}

size_t tita_leader_members(const struct tita_leader *l, struct tita_addr *out, size_t max)
{
	size_t n = 0;

	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		const struct line *ln = &l->lines[slot];
		bool seen = false;

		if (!ln->used)
			continue;
		for (size_t k = 0; k < n && k < max && !seen; k++)
			seen = tita_addr_eq(&out[k], &ln->e.member);
		if (seen)
			continue;
		if (n < max)
			out[n] = ln->e.member;
		n++;
	}
	return n;
}

void tita_leader_links(const struct tita_leader *l, struct tita_leader_link *up,
		       struct tita_leader_link *down)
{
	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		up[s] = (struct tita_leader_link){
			.capacity_bps = l->up[s].capacity_bps,
			.demand_bps = l->up[s].demand_bps,
			.allocated_bps = l->up[s].allocated_bps,
			.entries = l->up[s].entries,
			.down = l->down_mask >> s & 1,
		};
		down[s] = (struct tita_leader_link){
			.capacity_bps = l->down[s].capacity_bps,
			.demand_bps = l->down[s].demand_bps,
			.allocated_bps = l->down[s].allocated_bps,
			.entries = l->down[s].entries,
			.down = l->down_mask >> s & 1,
		};
	}
}

void tita_leader_stats(const struct tita_leader *l, struct tita_leader_stats *ret)
{
	*ret = l->stats;
}
