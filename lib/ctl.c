// SPDX-License-Identifier: MIT
/*
 * The tita controller (see ctl.h and ARCHITECTURE.md "The controller").
 *
 * Every host runs both halves. As a sender it estimates each TX pair's demand
 * from what it measured, reports it to the receiver, and composes the rate to
 * program from the receiver's grant, its own uplink share, the job's cap and
 * a reactive ceiling (ctl_sender.c, ceiling.c). As a receiver it water-fills
 * eta x its downlink, minus the traffic of sources that report nothing, over
 * the demands it hears, and answers with grants that expire (ctl_receiver.c).
 * Pairs live in one bounded table (ctl_pairs.c).
 *
 * This file holds what ties them together: construction and reloads, ports
 * and jobs, the output rings that the caller pulls from, messages in,
 * expiry, and the round driver (tita_ctl_advance).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"

/* A source unheard for this many grant lifetimes is forgotten. */
#define SOURCE_IDLE_TTLS 4
/* A TX pair idle (no demand, no traffic) for this many lifetimes is removed. */
#define TX_IDLE_TTLS 4

/* ---- construction ------------------------------------------------------ */

/* c->p changed: so does what the reactive ceiling runs on. */
static void params_apply(struct tita_ctl *c)
{
	c->ceiling = c->p.rc_algo == 1 ? &tita_ceiling_reactive : &tita_ceiling_episode;
	c->ceiling_p = (struct tita_ceiling_params){
		.floor_frac = c->p.rc_floor_frac,
		.hold_steps = c->p.rc_hold_rounds,
		.recovery_frac = c->p.rc_recovery_frac,
		.g = c->p.rc_g,
		.ai_frac = c->p.rc_ai_frac,
		.hai_frac = c->p.rc_hai_frac,
		.fast_recovery_steps = c->p.rc_fast_recovery_steps,
		.min_frac = c->p.rc_min_frac,
		.ce_threshold = c->p.rc_ce_threshold,
	};
}

struct tita_ctl *tita_ctl_new(const struct tita_ctl_params *p)
{
	struct tita_ctl *c;

	if (tita_ctl_params_check(p) < 0) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->p = *p;
	params_apply(c);
	c->ports = calloc(p->max_ports, sizeof(*c->ports));
	c->port_dirty = calloc(p->max_ports, sizeof(*c->port_dirty));
	c->port_needs_alloc = calloc(p->max_ports, sizeof(*c->port_needs_alloc));
	c->alloc_due_ns = TITA_TIME_NEVER;
	c->fabric_due_ns = TITA_TIME_NEVER;
	c->resume_due_ns = TITA_TIME_NEVER;
	c->rng = 0x7469746120666162ull; /* until tita_ctl_seed() */
	c->free_slots = malloc(p->max_pairs * sizeof(*c->free_slots));
	c->slot_role = calloc(p->max_pairs, sizeof(*c->slot_role));
	if (!c->ports || !c->port_dirty || !c->port_needs_alloc || ctl_index_grow(c, 64) < 0 ||
	    !c->free_slots || !c->slot_role || ctl_work_reserve(c, 64) < 0) {
		tita_ctl_free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

struct tita_ctl *tita_ctl_free(struct tita_ctl *c)
{
	if (!c)
		return NULL;
	ctl_fabric_free(c);
	for (uint32_t i = 0; c->ports && i < c->n_ports; i++) {
		free(c->ports[i].memo);
		free(c->ports[i].memo_order);
	}
	free(c->ports);
	free(c->port_dirty);
	free(c->port_needs_alloc);
	free(c->jobs);
	free(c->pairs);
	free(c->free_slots);
	free(c->slot_role);
	free(c->index);
	tita_alloc_scratch_free(c->scratch);
	free(c->entries);
	free(c->entries2);
	free(c->order);
	free(c->outgoing);
	free(c->outbox);
	free(c->rates);
	free(c);
	return NULL;
}

int tita_ctl_set_params(struct tita_ctl *c, const struct tita_ctl_params *p)
{
	if (tita_ctl_params_check(p) < 0)
		return -EINVAL;
	/* The free-slot list and the port array are sized at creation; a reload can tune
	 * everything else but not grow or shrink them. */
	if (p->max_pairs != c->p.max_pairs || p->max_ports != c->p.max_ports)
		return -EBUSY;
	if (p->max_jobs < c->n_jobs)
		return -EBUSY;
	for (uint32_t i = 0; i < c->n_ports; i++) {
		/* eta can be lowered by a reload; the CE loop works below it. */
		if (c->ports[i].eta > p->eta)
			c->ports[i].eta = p->eta;
		if (c->ports[i].eta < p->eta_min)
			c->ports[i].eta = p->eta_min;
	}
	c->p = *p;
	params_apply(c);
	return 0;
}

const struct tita_ctl_params *tita_ctl_params(const struct tita_ctl *c)
{
	return &c->p;
}

/* ---- ports and jobs ------------------------------------------------------ */

int ctl_port_find(const struct tita_ctl *c, const struct tita_addr *local)
{
	for (uint32_t i = 0; i < c->n_ports; i++)
		if (tita_addr_eq(&c->ports[i].local, local))
			return (int)i;
	return -ENOENT;
}

int ctl_sample_port(struct tita_ctl *c, const struct tita_addr *local, bool well_formed)
{
	int port = ctl_port_find(c, local);

	c->stats.samples_in++;
	if (!well_formed)
		return -EINVAL;
	if (port < 0)
		c->stats.samples_skipped_not_local++;
	return port;
}

int ctl_entry_port(struct tita_ctl *c, const struct tita_addr *local, bool consistent)
{
	int port = ctl_port_find(c, local);

	c->stats.entries_in++;
	if (port < 0) {
		c->stats.entries_skipped_not_local++;
		return port;
	}
	if (!consistent) {
		c->stats.entries_skipped_mismatch++;
		return -EINVAL;
	}
	return port;
}

int tita_ctl_port_add(struct tita_ctl *c, const struct tita_addr *local, uint64_t line_rate_bps)
{
	struct port *pt;

	if (!line_rate_bps || line_rate_bps > TITA_RATE_MAX_BPS)
		return -EINVAL;
	if (ctl_port_find(c, local) >= 0)
		return -EEXIST;
	if (c->n_ports >= c->p.max_ports)
		return -ENOSPC;
	pt = &c->ports[c->n_ports++];
	*pt = (struct port){ .local = *local, .line_rate_bps = line_rate_bps, .eta = c->p.eta };
	return 0;
}

int tita_ctl_port_set_rate(struct tita_ctl *c, const struct tita_addr *local,
			   uint64_t line_rate_bps)
{
	int i = ctl_port_find(c, local);

	if (i < 0)
		return i;
	if (!line_rate_bps || line_rate_bps > TITA_RATE_MAX_BPS)
		return -EINVAL;
	c->ports[i].line_rate_bps = line_rate_bps;
	return 0;
}

static const struct tita_job default_job = { .weight_milli = TITA_WEIGHT_ONE };

static struct ctl_job *job_lookup(const struct tita_ctl *c, uint32_t job_id)
{
	uint32_t lo = 0, hi = c->n_jobs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (c->jobs[mid].id == job_id)
			return &c->jobs[mid];
		if (c->jobs[mid].id < job_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct tita_job *ctl_job_policy(const struct tita_ctl *c, uint32_t job_id)
{
	const struct ctl_job *j = job_lookup(c, job_id);

	return j ? &j->job : &default_job;
}

int tita_ctl_job_set(struct tita_ctl *c, uint32_t job_id, const struct tita_job *job)
{
	struct ctl_job *j;
	uint32_t at = 0;

	if (!job || job->weight_milli < 1 || job->weight_milli > TITA_WEIGHT_MAX ||
	    job->min_bps > TITA_RATE_MAX_BPS || job->max_bps > TITA_RATE_MAX_BPS ||
	    (job->max_bps && job->min_bps > job->max_bps))
		return -EINVAL;
	j = job_lookup(c, job_id);
	if (j) {
		j->job = *job;
		return 0;
	}
	if (c->n_jobs >= c->p.max_jobs)
		return -ENOSPC;
	j = realloc(c->jobs, (c->n_jobs + 1) * sizeof(*j));
	if (!j)
		return -ENOMEM;
	c->jobs = j;
	while (at < c->n_jobs && c->jobs[at].id < job_id)
		at++;
	memmove(&c->jobs[at + 1], &c->jobs[at], (c->n_jobs - at) * sizeof(*j));
	c->jobs[at] = (struct ctl_job){ .id = job_id, .job = *job };
	c->n_jobs++;
	return 0;
}

int tita_ctl_job_clear(struct tita_ctl *c, uint32_t job_id)
{
	struct ctl_job *j = job_lookup(c, job_id);
	uint32_t at;

	if (!j)
		return -ENOENT;
	at = (uint32_t)(j - c->jobs);
	memmove(j, j + 1, (c->n_jobs - at - 1) * sizeof(*j));
	c->n_jobs--;
	return 0;
}

int tita_ctl_job_get(const struct tita_ctl *c, uint32_t job_id, struct tita_job *ret_job)
{
	const struct ctl_job *j = job_lookup(c, job_id);

	if (!j)
		return -ENOENT;
	*ret_job = j->job;
	return 0;
}

/* ---- outputs ------------------------------------------------------------- */

/* Bounds on the output rings: a caller that never pulls cannot make the
 * controller grow without limit; the oldest output is dropped instead. */
#define OUTBOX_MAX (1u << 18)
#define RATES_MAX (1u << 20)

/*
 * Room for one more element at the tail of a ring of `size`-byte elements
 * (buf, *cap, *head, *len): it doubles up to max, then drops its oldest.
 * Returns the ring's buffer, moved if it grew; NULL without memory (the
 * ring is then as it was).
 */
void *ctl_ring_make_room(void *buf, size_t size, uint32_t *cap, uint32_t *head, uint32_t *len,
			 uint32_t max)
{
	uint32_t new_cap = *cap ? *cap * 2 : 64;
	char *grown;

	if (*len < *cap)
		return buf;
	if (new_cap > max) {
		*head = (*head + 1) % *cap;
		(*len)--;
		return buf;
	}
	grown = malloc(new_cap * size);
	if (!grown)
		return NULL;
	for (uint32_t i = 0; i < *len; i++)
		memcpy(grown + i * size, (const char *)buf + (size_t)((*head + i) % *cap) * size,
		       size);
	free(buf);
	*cap = new_cap;
	*head = 0;
	return grown;
}

struct out_entry *ctl_outbox_push(struct tita_ctl *c)
{
	/* A full outbox drops its oldest: the refresh resends what it carried. */
	struct out_entry *box = ctl_ring_make_room(c->outbox, sizeof(*box), &c->outbox_cap,
						   &c->outbox_head, &c->outbox_len, OUTBOX_MAX);

	if (!box)
		return NULL;
	c->outbox = box;
	c->outbox_len++;
	return &c->outbox[(c->outbox_head + c->outbox_len - 1) % c->outbox_cap];
}

bool tita_ctl_pop_msg(struct tita_ctl *c, struct tita_msg *ret_msg)
{
	const struct out_entry *first;

	if (!c->outbox_len)
		return false;
	first = &c->outbox[c->outbox_head];
	ret_msg->kind = first->kind;
	ret_msg->peer = first->peer;
	ret_msg->n_entries = 0;
	ret_msg->recheck = false;
	while (c->outbox_len && ret_msg->n_entries < TITA_MSG_MAX_ENTRIES) {
		const struct out_entry *e = &c->outbox[c->outbox_head];

		if (e->kind != ret_msg->kind || !tita_addr_eq(&e->peer, &ret_msg->peer))
			break;
		if (e->kind == TITA_MSG_LEAF_REPORT || e->kind == TITA_MSG_LEAF_ANSWER) {
			/* One message carries one answer (or report) whole. */
			if (!ret_msg->n_entries) {
				ret_msg->leaf_id = e->leaf.leaf_id;
				ret_msg->up_room_mask = e->leaf.up_room_mask;
				ret_msg->down_room_mask = e->leaf.down_room_mask;
				ret_msg->ttl_ns = e->leaf.ttl_ns;
				ret_msg->recheck = e->leaf.recheck;
			} else if (e->leaf.leaf_id != ret_msg->leaf_id ||
				   e->leaf.recheck != ret_msg->recheck ||
				   e->leaf.up_room_mask != ret_msg->up_room_mask ||
				   e->leaf.down_room_mask != ret_msg->down_room_mask) {
				break;
			}
			ret_msg->leaf[ret_msg->n_entries++] = e->leaf.line;
		} else if (e->kind == TITA_MSG_DEMAND) {
			ret_msg->demand[ret_msg->n_entries++] = e->demand;
		} else {
			ret_msg->grant[ret_msg->n_entries++] = e->grant;
		}
		c->outbox_head = (c->outbox_head + 1) % c->outbox_cap;
		c->outbox_len--;
	}
	c->stats.msgs_out++;
	return true;
}

void ctl_rate_push(struct tita_ctl *c, const struct pair *pr, uint64_t rate_bps,
		   uint64_t unsched_bytes)
{
	struct tita_rate_update *r = ctl_ring_make_room(c->rates, sizeof(*r), &c->rates_cap,
							&c->rates_head, &c->rates_len, RATES_MAX);

	if (!r)
		return;
	c->rates = r;
	c->rates[(c->rates_head + c->rates_len++) % c->rates_cap] = (struct tita_rate_update){
		.local = pr->local,
		.remote = pr->remote,
		.job_id = pr->job_id,
		.rate_bps = rate_bps,
		.unsched_bytes = unsched_bytes,
	};
	c->stats.rate_updates++;
}

bool ctl_ring_pop(const void *buf, size_t size, uint32_t cap, uint32_t *head, uint32_t *len,
		  void *ret)
{
	if (!*len)
		return false;
	memcpy(ret, (const char *)buf + (size_t)*head * size, size);
	*head = (*head + 1) % cap;
	(*len)--;
	return true;
}

bool tita_ctl_pop_rate(struct tita_ctl *c, struct tita_rate_update *ret_update)
{
	return ctl_ring_pop(c->rates, sizeof(*ret_update), c->rates_cap, &c->rates_head,
			    &c->rates_len, ret_update);
}

static int cmp_outgoing(const void *a, const void *b)
{
	const struct outgoing *oa = a, *ob = b;
	int r = memcmp(oa->remote.bytes, ob->remote.bytes, sizeof(oa->remote.bytes));

	if (r)
		return r;
	return oa->slot < ob->slot ? -1 : oa->slot > ob->slot;
}

void ctl_fill_entry(struct tita_ctl *c, struct out_entry *e, struct pair *pr, uint64_t now_ns)
{
	e->peer = pr->remote;
	if (e->kind == TITA_MSG_DEMAND) {
		const struct tita_job *job = ctl_job_policy(c, pr->job_id);

		e->demand = (struct tita_demand_entry){
			.sender = pr->local,
			.receiver = pr->remote,
			.job_id = pr->job_id,
			.weight_milli = job->weight_milli,
			.demand_bps = pr->demand_bps,
			.min_bps = job->min_bps,
			.max_bps = job->max_bps,
			.unsched_bytes = pr->unsched_announce_bytes,
		};
		/* Said when it changed (a receiver keeps what it was told
		 * until the pair goes idle): every byte of a demand costs
		 * the ring's steps (ringx64 1.069-1.080 x its bound with
		 * the size in none, 1.080-1.100 with it in all). */
		if (!pr->demand_bps)
			pr->left_reported_bytes = 0;
		else if ((c->p.srpt_ns ||
			  (!pr->demand_reported_bps &&
			   ctl_short_start(c, &c->ports[pr->port], pr->rank_bytes))) &&
			 pr->rank_bytes != pr->left_reported_bytes)
			e->demand.left_bytes = pr->left_reported_bytes = pr->rank_bytes;
		pr->unsched_announce_bytes = 0;
		ctl_fabric_fill_demand(c, pr, &e->demand, now_ns);
		pr->demand_reported_bps = pr->demand_bps;
		pr->demand_sent_ns = now_ns;
	} else {
		e->grant = (struct tita_grant_entry){
			.sender = pr->remote,
			.receiver = pr->local,
			.job_id = pr->job_id,
			.ce_ppm = pr->fabric_ce_ppm,
			.rate_bps = pr->granted_bps,
			.ttl_ns = c->p.grant_ttl_ns,
		};
		ctl_fabric_fill_grant(c, pr, &e->grant, now_ns);
		ctl_unsched_fill_grant(c, pr, &e->grant, now_ns);
		pr->grant_reported_bps = pr->granted_bps;
		pr->grant_leaf_capped = pr->granted_bps < pr->rx_alloc_bps;
		pr->grant_demand_bps = pr->demand_bps;
		pr->fabric_ce_reported_ppm = pr->fabric_ce_ppm;
		pr->grant_sent_ns = now_ns;
	}
}

void ctl_emit(struct tita_ctl *c, enum tita_msg_kind kind, struct outgoing *out, uint32_t n,
	      uint64_t now_ns)
{
	qsort(out, n, sizeof(*out), cmp_outgoing);
	for (uint32_t i = 0; i < n; i++) {
		struct out_entry *e = ctl_outbox_push(c);

		if (!e)
			return;
		e->kind = kind;
		ctl_fill_entry(c, e, &c->pairs[out[i].slot], now_ns);
	}
}

/* ---- messages in ------------------------------------------------------- */

int tita_ctl_on_msg(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	if (!m || m->n_entries > TITA_MSG_MAX_ENTRIES)
		return -EINVAL;
	c->stats.msgs_in++;
	switch (m->kind) {
	case TITA_MSG_DEMAND:
		return ctl_on_demand(c, m, now_ns);
	case TITA_MSG_GRANT:
		return ctl_on_grant(c, m, now_ns);
	case TITA_MSG_LEAF_REPORT:
		return ctl_on_leaf_report(c, m, now_ns);
	case TITA_MSG_LEAF_ANSWER:
		return ctl_on_leaf_answer(c, m, now_ns);
	default:
		return -EINVAL;
	}
}

/* ---- the round --------------------------------------------------------- */

static void expire(struct tita_ctl *c, uint64_t now_ns)
{
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];
		uint64_t idle_ns;

		if (!pr->used)
			continue;
		idle_ns = now_ns > pr->last_active_ns ? now_ns - pr->last_active_ns : 0;
		switch (pr->role) {
		case TITA_PAIR_TX:
			if ((pr->state == TITA_PAIR_GRANTED || pr->state == TITA_PAIR_STARTING) &&
			    pr->expires_ns <= now_ns) {
				if (pr->state == TITA_PAIR_GRANTED)
					c->stats.grants_expired++;
				/* An idle pair whose grant lapsed is forgotten, so that
				 * traffic that resumes starts conservatively again;
				 * unless its receiver bounded its unscheduled bytes:
				 * it starts again without a grant and keeps the bound
				 * while it stays idle (four lifetimes). */
				if (!pr->demand_bps && pr->has_unsched_limit &&
				    pr->state == TITA_PAIR_GRANTED) {
					pr->state = TITA_PAIR_STARTING;
					pr->grant_bps = 0;
					pr->expires_ns = now_ns + TX_IDLE_TTLS * c->p.grant_ttl_ns;
					c->port_dirty[pr->port] = true;
					break;
				}
				if (!pr->demand_bps) {
					ctl_pair_release(c, pr);
					break;
				}
				pr->state = TITA_PAIR_FAIL_OPEN;
				pr->grant_bps = 0;
			}
			if (pr->state == TITA_PAIR_FAIL_OPEN && !pr->demand_bps &&
			    idle_ns >= TX_IDLE_TTLS * c->p.grant_ttl_ns)
				ctl_pair_release(c, pr);
			break;
		case TITA_PAIR_RX:
			if (pr->expires_ns <= now_ns) {
				c->stats.demands_expired++;
				ctl_pair_release(c, pr);
			}
			break;
		default:
			if (idle_ns >= SOURCE_IDLE_TTLS * c->p.grant_ttl_ns)
				ctl_pair_release(c, pr);
		}
	}
}

void tita_ctl_advance(struct tita_ctl *c, uint64_t now_ns)
{
	uint64_t round_ns;

	if (c->started && now_ns < c->next_round_ns) {
		if (now_ns >= c->alloc_due_ns) {
			c->alloc_due_ns = TITA_TIME_NEVER;
			ctl_early_allocation(c, now_ns);
		}
		if (now_ns >= c->fabric_due_ns)
			ctl_fabric_early(c, now_ns);
		if (now_ns >= c->resume_due_ns)
			ctl_sender_resume(c, now_ns);
		return;
	}
	round_ns = c->started ? now_ns - c->last_round_ns : c->p.control_interval_ns;
	if (!round_ns)
		round_ns = 1;
	/* Rounds keep their cadence: one that runs late (a busy event loop)
	 * does not push every later round back, so a daemon's periodic timer
	 * stays armed for the next one. A round more than an interval late
	 * starts a new cadence. */
	if (c->started && now_ns - c->next_round_ns < c->p.control_interval_ns)
		c->next_round_ns += c->p.control_interval_ns;
	else
		c->next_round_ns = now_ns + c->p.control_interval_ns;
	c->started = true;
	c->last_round_ns = now_ns;
	/* An early allocation still gathering an incast's demands stays due:
	 * the round leaves their first grants to it (ctl_receiver.c). */
	if (c->alloc_due_ns <= now_ns) {
		c->alloc_due_ns = TITA_TIME_NEVER;
		memset(c->port_needs_alloc, 0, c->p.max_ports * sizeof(*c->port_needs_alloc));
	}
	c->nothing_evictable = false;
	c->stats.rounds++;

	expire(c, now_ns);
	ctl_receiver_round(c, now_ns, round_ns);
	ctl_sender_round(c, now_ns, round_ns);
	ctl_fabric_round(c, now_ns);
}

uint64_t tita_ctl_next_round_ns(const struct tita_ctl *c)
{
	return c->started ? c->next_round_ns : 0;
}

uint64_t tita_ctl_next_deadline_ns(const struct tita_ctl *c)
{
	if (!c->started)
		return 0;
	return tita_min_u64(tita_min_u64(c->next_round_ns, c->alloc_due_ns),
			    tita_min_u64(c->fabric_due_ns, c->resume_due_ns));
}
