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
#include <string.h>
#include <stdlib.h>

#include "tita/alloc.h"
#include "tita/ctl.h"
#include "tita/fabric.h"

/* Below this fraction of a link's capacity an overload is noise (rates are
 * measured and estimated, not exact); a larger cap by less is not worth
 * telling. */
#define OVERLOAD_FRAC 0.02
#define LINK_NOISE_FRAC 0.03
#define RISE_NOISE_FRAC 0.01

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
	uint64_t born_ns; /* when the line first came: the youngest moves first */
	uint64_t expires_ns;
	uint64_t cap_bps;
	uint64_t move_cap_bps; /* its share where an order in force moves it */
	/* The leader's answer: traffic to move, and where (UP), or to have
	 * moved by its senders (DOWN, move_to NONE). */
	uint64_t order_bps;
	uint16_t order_to;
	bool order_swap;
	uint64_t order_mask; /* DOWN with swap: every spine offered */
	uint64_t order_until_ns;
	bool refused; /* the proposal it carries was refused (counted once) */
	uint32_t jl; /* its job's load (JL_NONE: none) */
	uint64_t gone_bps; /* uplink_seeks' work space */
	/* What the member was last told. */
	bool answered;
	uint64_t answered_cap_bps, answered_order_bps, answered_room;
	uint64_t answered_order_until_ns;
	uint16_t answered_order_to;
};

/* A line's traffic on one link: the line's own spine, or the spine an order
 * in force moves it to. */
struct item {
	uint32_t slot;
	uint8_t dir;
	uint16_t spine;
	bool reserve; /* a downlink kept for the line on its way: no cap of its */
	uint64_t demand_bps;
};

struct young {
	uint64_t born_ns;
	uint32_t slot;
};

struct link {
	uint64_t capacity_bps; /* eta x spine_bps; 0 when down */
	uint64_t demand_bps, allocated_bps;
	/* What is offered once the orders in force are done. */
	int64_t planned_bps;
	uint32_t entries;
	/* How much more than their caps its members were told, summed over
	 * its lines: what they may send over the link beyond its share. */
	uint64_t told_over_bps;
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
	/* Since when each downlink has been offered more than it carries
	 * (0: it is not). */
	uint64_t down_over_since_ns[TITA_SPINES_MAX];
	uint64_t up_room, down_room;

	uint32_t *free_slots;
	uint32_t n_free;

	/* Work space, sized to max_entries (items and allocations to twice
	 * that: a moving line is on two links). */
	uint32_t *order;
	struct item *items, *sorted_items;
	struct young *young;
	struct tita_alloc_entry *alloc;
	struct tita_alloc_scratch *scratch;

	/* Each job's load per link, per direction (jobs of no job count as
	 * one): where a link is offered more than it carries everywhere (an
	 * oversubscribed leaf), a line moves to where its job has less, so
	 * that every link carries each job's share of it and the weights
	 * hold on the fabric as on the hosts. */
	struct jobload *jl;
	uint32_t n_jl, jl_cap;
	uint32_t *jl_index; /* slot + 1, open addressing */
	uint32_t jl_mask;

	uint64_t rng; /* for drawing among equal swaps */
	/* Per downlink, the last line asked off it to a swap, and where to
	 * (downlink_proposals): what tells a chain's lap round a cycle. */
	struct down_ask {
		struct tita_addr member;
		uint32_t remote_leaf, job_id;
		uint16_t to;
		uint64_t at_ns; /* 0: none */
	} down_ask[TITA_SPINES_MAX];
	struct tita_leader_stats stats;
};

struct jobload {
	uint8_t dir;
	uint32_t job;
	uint64_t load_bps[TITA_SPINES_MAX];
};

/* Lines of more distinct (direction, job) than this are balanced by
 * capacity alone. */
#define JOBLOADS_MAX 1024u
#define JL_NONE UINT32_MAX

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
	l->rng = 0x6c656164ull ^ (uint64_t)leaf->leaf << 20;
	l->index_mask = pow2_at_least(2 * p->max_entries) - 1;
	l->lines = calloc(p->max_entries, sizeof(*l->lines));
	l->index = calloc((size_t)l->index_mask + 1, sizeof(*l->index));
	l->order = malloc(p->max_entries * sizeof(*l->order));
	l->items = malloc(2 * (size_t)p->max_entries * sizeof(*l->items));
	l->sorted_items = malloc(2 * (size_t)p->max_entries * sizeof(*l->sorted_items));
	l->free_slots = malloc(p->max_entries * sizeof(*l->free_slots));
	l->young = malloc(p->max_entries * sizeof(*l->young));
	l->alloc = malloc(2 * (size_t)p->max_entries * sizeof(*l->alloc));
	l->scratch = tita_alloc_scratch_new(2 * (size_t)p->max_entries);
	l->jl_cap = tita_min_u64(p->max_entries, JOBLOADS_MAX);
	l->jl_mask = pow2_at_least(2 * l->jl_cap) - 1;
	l->jl = malloc(l->jl_cap * sizeof(*l->jl));
	l->jl_index = calloc((size_t)l->jl_mask + 1, sizeof(*l->jl_index));
	if (!l->lines || !l->index || !l->order || !l->items || !l->sorted_items ||
	    !l->free_slots || !l->young || !l->alloc || !l->scratch || !l->jl || !l->jl_index) {
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
	free(l->items);
	free(l->sorted_items);
	free(l->free_slots);
	free(l->young);
	free(l->alloc);
	tita_alloc_scratch_free(l->scratch);
	free(l->jl);
	free(l->jl_index);
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
	    e->n_pairs > TITA_LEAF_PAIRS_MAX || e->demand_bps > TITA_RATE_MAX_BPS ||
	    e->move_bps > TITA_RATE_MAX_BPS || e->remote_leaf == TITA_LEAF_NONE ||
	    e->remote_leaf == l->leaf.leaf) {
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
		*ln = (struct line){ .used = true,
				     .e = *e,
				     .order_to = TITA_SPINE_NONE,
				     .born_ns = now_ns,
				     .jl = JL_NONE };
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

/*
 * A line's weight on its link. Its job weighs its weight among the jobs
 * whatever its lines hold; within the job a line weighs as many small pairs
 * as it sums. A line of no job is a group of its own, whose pairs are as
 * many peers of the jobs: it weighs them all.
 */
static struct tita_alloc_entry line_alloc_entry(const struct line *ln, uint32_t slot)
{
	double weight = (double)ln->e.weight_milli / TITA_WEIGHT_ONE;
	double pairs = ln->e.n_pairs > 1 ? (double)ln->e.n_pairs : 1.0;
	bool no_job = ln->e.job_id == TITA_JOB_DEFAULT;

	return (struct tita_alloc_entry){
		.weight = no_job ? weight * pairs : weight,
		.member_weight = no_job ? 0 : pairs,
		.group = line_group(ln, slot),
	};
}

static struct link *link_of(struct tita_leader *l, uint8_t dir, uint16_t spine)
{
	return dir == TITA_LEAF_UP ? &l->up[spine] : &l->down[spine];
}

static const struct link *link_of_c(const struct tita_leader *l, uint8_t dir, uint16_t spine)
{
	return dir == TITA_LEAF_UP ? &l->up[spine] : &l->down[spine];
}

/* What a line's member may send over its link beyond its cap: what it was
 * told, as far as it asked for it (a member reports a line that grows). */
static uint64_t told_over(const struct line *ln)
{
	uint64_t told = tita_min_u64(ln->answered_cap_bps, ln->e.demand_bps);

	return told > ln->cap_bps ? told - ln->cap_bps : 0;
}

static bool order_live(const struct line *ln, uint64_t now_ns)
{
	return ln->order_bps && now_ns < ln->order_until_ns;
}

/* The live lines into l->order (expired ones go); orders past their hold
 * are forgotten. Returns how many. */
static uint32_t collect(struct tita_leader *l, uint64_t now_ns)
{
	uint32_t n = 0;

	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		struct line *ln = &l->lines[slot];

		if (!ln->used)
			continue;
		if (ln->expires_ns <= now_ns) {
			l->stats.entries_expired++;
			line_remove(l, ln);
			continue;
		}
		/* A proposal its sender's leaf cannot take (where the sender
		 * can go no longer has it) is void: propose anew now rather
		 * than wait out its hold. */
		if (ln->order_bps && ln->e.dir == TITA_LEAF_DOWN && !ln->order_swap &&
		    ln->order_to != TITA_SPINE_NONE && !(ln->e.room_mask >> ln->order_to & 1))
			ln->order_bps = 0;
		if (!order_live(ln, now_ns))
			ln->order_bps = 0;
		l->order[n++] = slot;
	}
	return n;
}

/*
 * Water-fill every link over the traffic it will carry: a line whose order
 * to move is in force counts on its new spine already, so that the lines it
 * leaves get their share back at once, not when it has moved and reported.
 */
/* A share kept for a line on its way goes to its move cap, not to the cap
 * it holds where it is now. */
static void credit_lines(struct tita_leader *l, uint32_t first, uint32_t last)
{
	for (uint32_t k = first; k < last; k++) {
		struct line *ln = &l->lines[l->sorted_items[k].slot];

		if (l->sorted_items[k].reserve)
			ln->move_cap_bps += l->alloc[k - first].alloc_bps;
		else
			ln->cap_bps += l->alloc[k - first].alloc_bps;
	}
}

static void water_fill(struct tita_leader *l, uint32_t n)
{
	uint32_t count[2 * TITA_SPINES_MAX + 1] = { 0 };
	uint32_t n_items = 0;

	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		uint64_t cap = l->down_mask >> s & 1 ?
				       0 :
				       (uint64_t)(l->p.eta * (double)l->leaf.spine_bps);

		l->up[s] = (struct link){ .capacity_bps = cap };
		l->down[s] = (struct link){ .capacity_bps = cap };
	}
	/* No line takes more than a whole link: one that asks more is not an
	 * overload that a move could fix. */
	uint64_t link_bps = (uint64_t)(l->p.eta * (double)l->leaf.spine_bps);

	for (uint32_t k = 0; k < n; k++) {
		struct line *ln = &l->lines[l->order[k]];
		uint64_t demand = tita_min_u64(ln->e.demand_bps, link_bps);

		ln->cap_bps = 0;
		ln->move_cap_bps = 0;
		l->items[n_items++] =
			(struct item){ l->order[k], ln->e.dir, ln->e.spine, false, demand };
		/* A line on its way elsewhere keeps sending where it is until
		 * its queue pairs have drained and moved (its cap is there);
		 * where it goes it takes its share already, so that those there
		 * now are not given the room kept for it. */
		if (ln->order_bps && ln->order_to != TITA_SPINE_NONE)
			l->items[n_items++] = (struct item){ l->order[k], ln->e.dir, ln->order_to,
							     true,
							     tita_min_u64(ln->order_bps, demand) };
	}
	/* Group the items by link (dir, spine): a counting sort. */
	for (uint32_t k = 0; k < n_items; k++)
		count[(l->items[k].dir - 1) * TITA_SPINES_MAX + l->items[k].spine + 1]++;
	for (uint32_t k = 1; k <= 2 * TITA_SPINES_MAX; k++)
		count[k] += count[k - 1];
	for (uint32_t k = 0; k < n_items; k++)
		l->sorted_items[count[(l->items[k].dir - 1) * TITA_SPINES_MAX + l->items[k].spine]++] =
			l->items[k];
	for (uint32_t first = 0; first < n_items;) {
		const struct item *head = &l->sorted_items[first];
		struct link *lk = link_of(l, head->dir, head->spine);
		uint32_t last = first;
		uint64_t avail;

		while (last < n_items && l->sorted_items[last].dir == head->dir &&
		       l->sorted_items[last].spine == head->spine)
			last++;
		for (uint32_t k = first; k < last; k++) {
			const struct item *it = &l->sorted_items[k];
			const struct line *ln = &l->lines[it->slot];

			l->alloc[k - first] = line_alloc_entry(ln, it->slot);
			l->alloc[k - first].demand_bps = it->demand_bps;
			/* Offered: what is here (a line on its way is in
			 * planned_bps, below). */
			if (!it->reserve)
				lk->demand_bps += it->demand_bps;
		}
		avail = lk->capacity_bps;
		tita_alloc_maxmin_by_group(l->alloc, last - first, avail, l->scratch);
		credit_lines(l, first, last);
		for (uint32_t k = first; k < last; k++) {
			lk->allocated_bps += l->alloc[k - first].alloc_bps;
			lk->entries++;
		}
		/*
		 * What no line asked for is shared out too, by the same weights:
		 * a cap is a bound, not a reservation, and a cap no larger than
		 * what a line asked would hold back every pair that grows until
		 * the next report and answer. The caps still add up to the
		 * link's capacity.
		 */
		if (lk->allocated_bps < avail) {
			for (uint32_t k = first; k < last; k++)
				l->alloc[k - first].demand_bps =
					link_bps -
					tita_min_u64(link_bps, l->alloc[k - first].alloc_bps);
			tita_alloc_maxmin_by_group(l->alloc, last - first,
						   avail - lk->allocated_bps, l->scratch);
			credit_lines(l, first, last);
		}
		first = last;
	}
	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		l->up[s].planned_bps = (int64_t)l->up[s].demand_bps;
		l->down[s].planned_bps = (int64_t)l->down[s].demand_bps;
	}
	for (uint32_t k = 0; k < n; k++) {
		const struct line *ln = &l->lines[l->order[k]];

		if (ln->order_bps && ln->order_to != TITA_SPINE_NONE) {
			uint64_t moving = tita_min_u64(ln->order_bps,
						       tita_min_u64(ln->e.demand_bps, link_bps));

			link_of(l, ln->e.dir, ln->order_to)->planned_bps += (int64_t)moving;
			link_of(l, ln->e.dir, ln->e.spine)->planned_bps -= (int64_t)moving;
		}
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

static uint32_t jl_find(struct tita_leader *l, uint8_t dir, uint32_t job)
{
	uint32_t i = (uint32_t)mix64((uint64_t)dir << 32 | job) & l->jl_mask;

	for (;; i = (i + 1) & l->jl_mask) {
		uint32_t ref = l->jl_index[i];

		if (!ref) {
			if (l->n_jl == l->jl_cap)
				return JL_NONE;
			l->jl[l->n_jl] = (struct jobload){ .dir = dir, .job = job };
			l->jl_index[i] = ++l->n_jl;
			return l->n_jl - 1;
		}
		if (l->jl[ref - 1].dir == dir && l->jl[ref - 1].job == job)
			return ref - 1;
	}
}

static uint64_t move_size(const struct tita_leader *l, const struct line *ln);

/* Every large line's job's load on the links, where it sends now (or moves
 * to: a line asked elsewhere counts there). */
static void jobloads(struct tita_leader *l, uint32_t n)
{
	memset(l->jl_index, 0, ((size_t)l->jl_mask + 1) * sizeof(*l->jl_index));
	l->n_jl = 0;
	for (uint32_t k = 0; k < n; k++) {
		struct line *ln = &l->lines[l->order[k]];
		uint16_t at = ln->order_bps && ln->order_to != TITA_SPINE_NONE ? ln->order_to :
										 ln->e.spine;

		ln->jl = JL_NONE;
		if (ln->e.remote_leaf == TITA_LEAF_ANY)
			continue;
		ln->jl = jl_find(l, ln->e.dir, ln->e.job_id);
		if (ln->jl != JL_NONE)
			l->jl[ln->jl].load_bps[at] += move_size(l, ln);
	}
}

/* A line that names its far leaf is one or a few large pairs: it moves
 * whole, as much of it as a link can carry. */
static uint64_t move_size(const struct tita_leader *l, const struct line *ln)
{
	return tita_min_u64(ln->e.demand_bps, (uint64_t)(l->p.eta * (double)l->leaf.spine_bps));
}

/* A large line with no move in force (a seek is no move: it is how the
 * line gets one). */
static bool steerable(const struct line *ln, uint8_t dir, uint64_t now_ns)
{
	return ln->e.dir == dir && ln->e.remote_leaf != TITA_LEAF_ANY &&
	       (!order_live(ln, now_ns) || ln->order_to == TITA_SPINE_NONE);
}

static void order(struct tita_leader *l, struct line *ln, uint64_t bps, uint16_t to, bool swap,
		  uint64_t now_ns)
{
	ln->order_bps = tita_max_u64(bps, 1);
	ln->order_to = to;
	ln->order_swap = swap;
	ln->order_until_ns = now_ns + l->p.move_hold_ns;
	if (to != TITA_SPINE_NONE) {
		link_of(l, ln->e.dir, ln->e.spine)->planned_bps -= (int64_t)bps;
		link_of(l, ln->e.dir, to)->planned_bps += (int64_t)bps;
		if (ln->jl != JL_NONE) {
			struct jobload *j = &l->jl[ln->jl];

			j->load_bps[ln->e.spine] -= tita_min_u64(j->load_bps[ln->e.spine], bps);
			j->load_bps[to] += bps;
		}
	}
}

/* One spine drawn at random among those in mask, or NONE: leaders that
 * read the same room at once should not all pick the same spine. */
static uint16_t draw(struct tita_leader *l, uint64_t mask)
{
	uint16_t pick = TITA_SPINE_NONE;
	uint32_t seen = 0;

	for (uint16_t s = 0; s < l->leaf.n_spines; s++)
		if (mask >> s & 1 && tita_rng_next(&l->rng) % ++seen == 0)
			pick = s;
	return pick;
}

/* The links in one direction, other than `from`, with room for bps. */
static uint64_t roomy(const struct tita_leader *l, uint8_t dir, uint16_t from, uint64_t bps)
{
	const struct link *links = dir == TITA_LEAF_UP ? l->up : l->down;
	uint64_t mask = 0;

	for (uint16_t s = 0; s < l->leaf.n_spines; s++)
		if (s != from && links[s].capacity_bps &&
		    room_of(&links[s]) >= (int64_t)tita_min_u64(bps, links[s].capacity_bps))
			mask |= 1ull << s;
	return mask;
}

/*
 * Where a large line could go, in its direction: a link with room for it,
 * or (where every link is full) one where its job has less. To go there
 * for this side's sake (strict) its job must have at least one and a half
 * lines' worth less there than where it is, so that the move evens the job
 * out rather than trading places; for the other side's sake (loose) half a
 * line less will do: the move makes this side no worse.
 */
static uint64_t targets_by(const struct tita_leader *l, const struct line *ln, bool strict)
{
	uint64_t bps = move_size(l, ln), mask = roomy(l, ln->e.dir, ln->e.spine, bps);
	const struct link *links = ln->e.dir == TITA_LEAF_UP ? l->up : l->down;
	const struct jobload *j;

	if (ln->jl == JL_NONE || ln->e.remote_leaf == TITA_LEAF_ANY)
		return mask;
	j = &l->jl[ln->jl];
	for (uint16_t t = 0; t < l->leaf.n_spines; t++)
		if (t != ln->e.spine && links[t].capacity_bps &&
		    j->load_bps[t] + (strict ? bps + bps / 2 : bps / 2) <= j->load_bps[ln->e.spine])
			mask |= 1ull << t;
	return mask;
}

static bool seeking(const struct line *ln, uint64_t now_ns)
{
	return order_live(ln, now_ns) && ln->order_to == TITA_SPINE_NONE;
}

/* What a line's member tells the other side it can take: where the line
 * would be no worse, or better when it seeks a place for our sake. */
static uint64_t targets(const struct tita_leader *l, const struct line *ln, uint64_t now_ns)
{
	return targets_by(l, ln, seeking(ln, now_ns));
}

/*
 * The sender's side of a leaf owns its uplinks. An uplink offered more than
 * it carries has its youngest large lines seek a new place: the answer
 * tells their members, whose demands ask the receiving leaves, who decide
 * where they go (downlink_proposals) as they do for their own overloads.
 */
static void uplink_seeks(struct tita_leader *l, uint32_t n, uint64_t now_ns)
{
	/* What the seeks counted as gone, given back at the end: until they
	 * have moved they are where they are. */
	for (uint32_t k = 0; k < n; k++)
		l->lines[l->order[k]].gone_bps = 0;
	for (uint16_t s = 0; s < l->leaf.n_spines; s++) {
		int64_t x = excess_of(l, &l->up[s]);

		for (uint32_t k = 0; k < n && x > 0; k++) {
			struct line *ln = &l->lines[l->order[k]];
			uint64_t bps = move_size(l, ln);

			if (ln->e.dir != TITA_LEAF_UP || ln->e.spine != s ||
			    ln->e.remote_leaf == TITA_LEAF_ANY)
				continue;
			if (!order_live(ln, now_ns)) {
				if (!targets_by(l, ln, true))
					continue;
				order(l, ln, bps, TITA_SPINE_NONE, false, now_ns);
				l->stats.seeks++;
			}
			/* Counted as gone: the next line seeks only if its
			 * job is still ahead here without this one. */
			if (ln->jl != JL_NONE) {
				ln->gone_bps = tita_min_u64(l->jl[ln->jl].load_bps[s], bps);
				l->jl[ln->jl].load_bps[s] -= ln->gone_bps;
			}
			x -= (int64_t)bps;
		}
	}
	for (uint32_t k = 0; k < n; k++) {
		struct line *ln = &l->lines[l->order[k]];

		if (ln->gone_bps)
			l->jl[ln->jl].load_bps[ln->e.spine] += ln->gone_bps;
	}
}

/*
 * A receiving leaf's proposal for one of our lines: move to a spine in its
 * room mask. Taken when our uplink there has room. Otherwise, when the
 * proposal allows a swap, our large line on that uplink trades places with
 * it: both uplinks carry what they did, and where the other line lands its
 * own receiving leaf repairs in turn (one step of the alternating chain
 * that repairs an edge colouring when no colour is free at both ends).
 */
static void take_proposals(struct tita_leader *l, uint32_t n, uint64_t now_ns)
{
	for (uint32_t k = 0; k < n; k++) {
		struct line *ln = &l->lines[l->order[k]];
		uint64_t bps, fits;
		uint16_t to, from;
		struct line *g = NULL;

		if (!ln->e.move_bps)
			ln->refused = false;
		if (!steerable(ln, TITA_LEAF_UP, now_ns) || !ln->e.move_bps || !ln->e.room_mask)
			continue;
		bps = move_size(l, ln);
		from = ln->e.spine;
		fits = targets(l, ln, now_ns) & ln->e.room_mask;
		if (fits) {
			order(l, ln, bps, draw(l, fits), false, now_ns);
			l->stats.accepted++;
			continue;
		}
		/* With leave to, a swap: our large line on one of the spines
		 * offered trades places with ln (both uplinks carry what they
		 * did), and where it lands its own receiving leaf repairs in
		 * turn. */
		for (uint32_t j = 0; j < n && !g && ln->e.swap; j++) {
			struct line *c = &l->lines[l->order[j]];
			int64_t grow_to = (int64_t)bps - (int64_t)move_size(l, c);

			if (c != ln && steerable(c, TITA_LEAF_UP, now_ns) && c->e.spine != from &&
			    ln->e.room_mask >> c->e.spine & 1 &&
			    grow_to <= room_of(&l->up[c->e.spine]) &&
			    -grow_to <= room_of(&l->up[from]))
				g = c;
		}
		if (!g) {
			l->stats.refused += !ln->refused;
			ln->refused = true;
			continue;
		}
		to = g->e.spine;
		/* g goes where nobody kept room for it: its member holds it
		 * back until its receiver has counted it there. */
		order(l, g, move_size(l, g), from, true, now_ns);
		order(l, ln, bps, to, false, now_ns);
		l->stats.swaps++;
	}
}

/*
 * The receiver's side owns its downlinks and decides where its large lines
 * come in. A downlink offered more than it carries has lines asked to move,
 * each to a downlink kept free for it: first lines whose senders said they
 * can go there, the oldest first (the newest may have just come in a swap
 * that another leaf made to free its own link; asking it back would undo
 * that, and the resident moving on carries the repair on). When no line
 * can go anywhere at once, the oldest is asked to a free downlink anyway,
 * with a swap at its sender's leaf allowed.
 */
/*
 * Where a swap proposal off downlink s asks to: where a line that came onto
 * s in a swap came from, if that has room (it does, unless taken since):
 * the chain of swaps then stays on one pair of spines, as an alternating
 * (Kempe) chain does, and ends; anywhere with room otherwise.
 */
static uint64_t chain_target(const struct tita_leader *l, uint32_t n, uint16_t s,
			     uint64_t free_down)
{
	for (uint32_t k = 0; k < n; k++) {
		const struct line *ln = &l->lines[l->order[k]];

		if (ln->e.dir == TITA_LEAF_DOWN && ln->e.spine == s &&
		    ln->e.move_to < TITA_SPINES_MAX && free_down >> ln->e.move_to & 1)
			return 1ull << ln->e.move_to;
	}
	return 0;
}

/* How long a downlink is offered too much before one of its lines is asked
 * to a swap: a quarter of a hold (the lines that came in last have a while
 * to say where they can go, and go there); a 64th (3 us) for a chain's
 * next step: the line that came in a swap has said where it came from,
 * and the wait is the chain's pace (the last collisions of a 256-host
 * permutation walk 10-14 steps; an eighth, 25 us, was most of a step).
 * Not none: asked in the very run that saw the overload, a pair whose
 * moves never happened was left at the start rate (test_ctl,
 * test_fabric_moves_that_fail). */
static uint64_t swap_wait_ns(const struct tita_leader *l, bool chain)
{
	return chain ? l->p.move_hold_ns / 64 : l->p.move_hold_ns / 4;
}

/* A downlink's line that came from another spine lately (its receiver
 * says where from). */
static bool came_in_swap(const struct line *ln)
{
	return ln->e.move_to < TITA_SPINES_MAX;
}

/* How long a leader remembers the swaps it asked off its downlinks: a lap
 * round 16 leaves at ~40 us a step is well within it. */
static uint64_t lap_memory_ns(const struct tita_leader *l)
{
	return 8 * l->p.move_hold_ns;
}

static bool down_ask_is(const struct down_ask *a, const struct line *ln)
{
	return a->remote_leaf == ln->e.remote_leaf && a->job_id == ln->e.job_id &&
	       tita_addr_eq(&a->member, &ln->e.member);
}

/*
 * Two collisions on one pair of spines s > t can walk round an even cycle
 * of flows between leaves, each step a Kempe swap that moves it on to the
 * next receiving leaf, both the same way at the same pace, for ever (seen
 * in the 256-host permutation for 1 ms). Each leaf of the cycle then sees
 * them pass in turn: a collision on s resolved by asking a line to t, then
 * one on t resolved by asking a line to s, then one on s again, a line
 * that came in from t being one of it. At that third passage the
 * collision on the higher spine turns: its line that came in is asked back
 * (the chain walks the other way, towards the other collision, and they
 * meet). The other collision's spine is the lower one, so it walks on: one
 * turns, never both. A line coming back that we asked away ourselves is a
 * chain already turned, walking back: not turned again (the two leaves
 * would hand the collision back and forth). Returns the line to turn, or
 * NULL.
 */
static struct line *lap_turn(struct tita_leader *l, uint32_t n, uint16_t s, uint64_t now_ns)
{
	const struct down_ask *as = &l->down_ask[s], *at;

	for (uint32_t k = 0; k < n; k++) {
		struct line *ln = &l->lines[l->order[k]];
		uint16_t t = ln->e.move_to;

		if (!steerable(ln, TITA_LEAF_DOWN, now_ns) || ln->e.spine != s ||
		    !came_in_swap(ln) || t >= s)
			continue;
		at = &l->down_ask[t];
		if (as->at_ns && at->at_ns && as->to == t && at->to == s && as->at_ns < at->at_ns &&
		    now_ns - as->at_ns <= lap_memory_ns(l) && !down_ask_is(as, ln) &&
		    roomy(l, TITA_LEAF_DOWN, s, move_size(l, ln)) >> t & 1)
			return ln;
	}
	return NULL;
}

static void downlink_proposals(struct tita_leader *l, uint32_t n, uint64_t now_ns)
{
	for (uint16_t s = 0; s < l->leaf.n_spines; s++) {
		for (int pass = 0; pass < 2; pass++) {
			int64_t x = excess_of(l, &l->down[s]);
			uint32_t skip = 0, residents = 0;
			struct line *turn = pass == 1 && x > 0 ? lap_turn(l, n, s, now_ns) : NULL;

			/* Two chains on the same pair of spines can chase each
			 * other round a cycle of leaves for ever, the oldest
			 * line of each leaf asked every time: now and then
			 * another line is asked, which starts another chain. */
			if (pass == 1 && x > 0) {
				uint32_t lines_here = 0;

				for (uint32_t k = 0; k < n; k++)
					lines_here += steerable(&l->lines[l->order[k]],
								TITA_LEAF_DOWN, now_ns) &&
						      l->lines[l->order[k]].e.spine == s &&
						      !came_in_swap(&l->lines[l->order[k]]);
				residents = lines_here;
				if (lines_here > 1 && tita_rng_next(&l->rng) % 4 == 0)
					skip = 1 + (uint32_t)(tita_rng_next(&l->rng) %
							      (lines_here - 1));
			}
			for (uint32_t k = n; k-- > 0 && x > 0;) {
				struct line *ln = &l->lines[l->order[k]];
				uint64_t bps, free_down, chain;
				uint16_t to;

				if (!steerable(ln, TITA_LEAF_DOWN, now_ns) || ln->e.spine != s)
					continue;
				bps = move_size(l, ln);
				free_down = roomy(l, TITA_LEAF_DOWN, s, bps);
				chain = pass ? chain_target(l, n, s, free_down) : 0;
				/* A swap moves traffic elsewhere too: it waits
				 * (swap_wait_ns), less for the next step of a chain
				 * that another leaf began. */
				if (pass == 1 &&
				    (!l->down_over_since_ns[s] ||
				     now_ns - l->down_over_since_ns[s] < swap_wait_ns(l, chain)))
					continue;
				/* A line that just came in a swap is the chain's
				 * last step: asked back, its sender's leaf swaps
				 * it back and the chain undoes itself (seen in a
				 * 256-host permutation: one collision going round
				 * the same leaves for 700 us). The line it landed
				 * on carries the chain on. */
				if (turn && ln != turn)
					continue;
				if (pass == 1 && !turn && residents && came_in_swap(ln))
					continue;
				if (pass == 1 && !turn && skip) {
					skip--;
					continue;
				}
				to = draw(l, turn ? 1ull << turn->e.move_to :
					     pass ? (chain ? chain : free_down) :
						    targets_by(l, ln, true) & ln->e.room_mask);
				if (to == TITA_SPINE_NONE)
					continue;
				order(l, ln, bps, to, pass == 1, now_ns);
				/* With a swap, one spine only: the chain of swaps
				 * it may start stays on this pair of spines. */
				ln->order_mask = pass ? 1ull << to : free_down;
				if (pass == 1)
					l->down_ask[s] = (struct down_ask){
						.member = ln->e.member,
						.remote_leaf = ln->e.remote_leaf,
						.job_id = ln->e.job_id,
						.to = to,
						.at_ns = now_ns,
					};
				l->stats.proposals++;
				l->stats.proposals_swap += pass == 1;
				l->stats.lap_turns += turn != NULL;
				x = excess_of(l, &l->down[s]);
			}
		}
	}
}

/*
 * Lines whose senders seek a new spine (their uplink is overloaded): to a
 * downlink with room where the sender can go; failing that, to one where
 * the sender can go but our own large line sits, that line trading places
 * with it here.
 */
static void seeker_proposals(struct tita_leader *l, uint32_t n, uint64_t now_ns)
{
	for (uint32_t k = n; k-- > 0;) {
		struct line *ln = &l->lines[l->order[k]];
		uint64_t bps, fits;
		uint16_t from;
		struct line *h = NULL;

		if (!steerable(ln, TITA_LEAF_DOWN, now_ns) || !ln->e.move_bps || !ln->e.room_mask)
			continue;
		bps = move_size(l, ln);
		from = ln->e.spine;
		fits = targets_by(l, ln, false) & ln->e.room_mask;
		if (fits) {
			order(l, ln, bps, draw(l, fits), false, now_ns);
			l->stats.proposals++;
			continue;
		}
		for (uint32_t j = n; j-- > 0 && !h;) {
			struct line *c = &l->lines[l->order[j]];
			int64_t grow_from = (int64_t)move_size(l, c) - (int64_t)bps;

			if (c != ln && steerable(c, TITA_LEAF_DOWN, now_ns) && c->e.spine != from &&
			    ln->e.room_mask >> c->e.spine & 1 &&
			    grow_from <= room_of(&l->down[from]) &&
			    -grow_from <= room_of(&l->down[c->e.spine]))
				h = c;
		}
		if (!h)
			continue;
		order(l, h, move_size(l, h), from, !(h->e.room_mask >> from & 1), now_ns);
		order(l, ln, bps, h->e.spine, false, now_ns);
		l->stats.proposals += 2;
	}
}

/* The youngest line first: the one that arrived last on a link is the one
 * that moves (an older one has already been placed, and moving it would
 * start over what was settled). Ties by slot, for a stable order. */
static int cmp_young(const void *a, const void *b)
{
	const struct young *x = a, *y = b;

	if (x->born_ns != y->born_ns)
		return x->born_ns > y->born_ns ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

void tita_leader_run(struct tita_leader *l, uint64_t now_ns)
{
	uint32_t n;

	l->stats.runs++;
	n = collect(l, now_ns);
	water_fill(l, n);
	for (uint32_t k = 0; k < n; k++)
		l->young[k] = (struct young){ l->lines[l->order[k]].born_ns, l->order[k] };
	qsort(l->young, n, sizeof(*l->young), cmp_young);
	for (uint32_t k = 0; k < n; k++)
		l->order[k] = l->young[k].slot;
	/* Since when each downlink has been offered too much by what is on it
	 * now, whatever proposals are in force: a proposal refused or void is
	 * no reason to wait again before a swap. */
	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		int64_t now_x = (int64_t)l->down[s].demand_bps - (int64_t)l->down[s].capacity_bps;

		if (now_x <= (int64_t)(OVERLOAD_FRAC * (double)l->leaf.spine_bps))
			l->down_over_since_ns[s] = 0;
		else if (!l->down_over_since_ns[s])
			l->down_over_since_ns[s] = now_ns;
	}
	/* Moves change the planned loads as they are decided; then every link
	 * is water-filled again over the traffic it will carry. */
	jobloads(l, n);
	take_proposals(l, n, now_ns);
	uplink_seeks(l, n, now_ns);
	downlink_proposals(l, n, now_ns);
	seeker_proposals(l, n, now_ns);
	water_fill(l, n);
	for (uint32_t k = 0; k < n; k++) {
		const struct line *ln = &l->lines[l->order[k]];

		if (ln->answered && told_over(ln))
			link_of(l, ln->e.dir, ln->e.spine)->told_over_bps += told_over(ln);
	}
	l->up_room = l->down_room = 0;
	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		int64_t min_room = (int64_t)(l->p.room_frac * (double)l->leaf.spine_bps);

		if (room_of(&l->up[s]) > min_room && l->up[s].capacity_bps)
			l->up_room |= 1ull << s;
		if (room_of(&l->down[s]) > min_room && l->down[s].capacity_bps)
			l->down_room |= 1ull << s;
	}
}

uint64_t tita_leader_next_due_ns(const struct tita_leader *l, uint64_t now_ns)
{
	uint64_t due = TITA_TIME_NEVER;

	/* A lapsing order frees its line for a new proposal; a downlink's
	 * wait before a swap ends. Either is a step of a repair that should
	 * not wait for the next round. */
	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		const struct line *ln = &l->lines[slot];

		if (ln->used && ln->order_bps && ln->order_until_ns > now_ns)
			due = tita_min_u64(due, ln->order_until_ns);
	}
	for (uint32_t s = 0; s < l->leaf.n_spines; s++) {
		uint64_t t = l->down_over_since_ns[s] + swap_wait_ns(l, true);

		if (t <= now_ns)
			t = l->down_over_since_ns[s] + swap_wait_ns(l, false);
		if (l->down_over_since_ns[s] && t > now_ns)
			due = tita_min_u64(due, t);
	}
	return due;
}

size_t tita_leader_answer(const struct tita_leader *l, const struct tita_addr *member,
			  struct tita_leaf_entry *out, size_t max, uint64_t *ret_up_room,
			  uint64_t *ret_down_room, uint64_t now_ns)
{
	size_t n = 0;

	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		const struct line *ln = &l->lines[slot];

		if (!ln->used || !tita_addr_eq(&ln->e.member, member))
			continue;
		if (n < max) {
			out[n] = ln->e;
			/* The member knows what it asked and its job's
			 * weight: echoed, they were a double per line. */
			out[n].demand_bps = 0;
			out[n].weight_milli = TITA_WEIGHT_ONE;
			out[n].n_pairs = 0;
			out[n].cap_bps = ln->cap_bps;
			out[n].move_bps = ln->order_bps;
			out[n].move_to = ln->order_bps ? ln->order_to : TITA_SPINE_NONE;
			out[n].swap = ln->order_bps && ln->order_swap;
			/* DOWN: the share kept where it is asked to, which its
			 * receiver grants as soon as it is there. */
			out[n].move_cap_bps = ln->e.dir == TITA_LEAF_DOWN &&
							      out[n].move_to != TITA_SPINE_NONE ?
						      ln->move_cap_bps :
						      0;
			/* UP: where it would be better off (what its pairs
			 * tell their receivers' leaves they can take). */
			if (ln->e.dir == TITA_LEAF_UP)
				out[n].room_mask = targets(l, ln, now_ns);
			else
				out[n].room_mask =
					ln->order_bps && ln->order_swap ? ln->order_mask : 0;
		}
		n++;
	}
	if (ret_up_room)
		*ret_up_room = l->up_room;
	if (ret_down_room)
		*ret_down_room = l->down_room;
	return n;
}

bool tita_leader_changed(const struct tita_leader *l, const struct tita_addr *member, double frac,
			 uint64_t now_ns)
{
	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		const struct line *ln = &l->lines[slot];
		double moved;

		if (!ln->used || !tita_addr_eq(&ln->e.member, member))
			continue;
		/* An order given again, the same as the one that lapsed, is
		 * news: the member's copy lapsed with it. */
		if (!ln->answered || ln->order_bps != ln->answered_order_bps ||
		    (ln->order_bps && (ln->order_to != ln->answered_order_to ||
				       ln->order_until_ns != ln->answered_order_until_ns)))
			return true;
		/* Where a held-back line could go is news to its receiver;
		 * so it is for a line its receiver asks to move (it reads
		 * the room to propose). */
		if (ln->e.dir == TITA_LEAF_UP && targets(l, ln, now_ns) != ln->answered_room &&
		    (order_live(ln, now_ns) || ln->e.move_bps ||
		     (double)ln->cap_bps + LINK_NOISE_FRAC * (double)l->leaf.spine_bps <
			     (double)move_size(l, ln)))
			return true;
		moved = (double)ln->cap_bps - (double)ln->answered_cap_bps;
		/* A smaller cap is told at once when the link depends on it:
		 * when what the members were told beyond their caps adds up to
		 * more than half the headroom eta leaves on it, or the cut is
		 * worth a message to the link by itself. (In an all-to-all the
		 * caps of a full link shift among its many small lines at
		 * every report; told each time, they cost the leader an answer
		 * to most members every round.) A larger one is told when it
		 * is worth a message to the link too. */
		if (-moved > frac * (double)ln->answered_cap_bps &&
		    ((double)link_of_c(l, ln->e.dir, ln->e.spine)->told_over_bps >
			     (1 - l->p.eta) / 2 * (double)l->leaf.spine_bps ||
		     -moved > LINK_NOISE_FRAC * (double)l->leaf.spine_bps))
			return true;
		if (moved > frac * (double)ln->answered_cap_bps &&
		    (moved > LINK_NOISE_FRAC * (double)l->leaf.spine_bps ||
		     (ln->e.demand_bps > ln->answered_cap_bps &&
		      moved > RISE_NOISE_FRAC * (double)l->leaf.spine_bps)))
			return true;
	}
	return false;
}

void tita_leader_mark_answered(struct tita_leader *l, const struct tita_addr *member,
			       uint64_t now_ns)
{
	for (uint32_t slot = 0; slot < l->hwm; slot++) {
		struct line *ln = &l->lines[slot];

		if (!ln->used || !tita_addr_eq(&ln->e.member, member))
			continue;
		if (ln->answered) {
			struct link *lk = link_of(l, ln->e.dir, ln->e.spine);

			lk->told_over_bps -= tita_min_u64(lk->told_over_bps, told_over(ln));
		}
		ln->answered = true;
		ln->answered_cap_bps = ln->cap_bps;
		ln->answered_order_bps = ln->order_bps;
		ln->answered_order_to = ln->order_to;
		ln->answered_order_until_ns = ln->order_until_ns;
		ln->answered_room = ln->e.dir == TITA_LEAF_UP ? targets(l, ln, now_ns) : 0;
	}
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
