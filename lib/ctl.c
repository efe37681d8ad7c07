// SPDX-License-Identifier: MIT
/*
 * The tita controller (see ctl.h and ARCHITECTURE.md "The controller").
 *
 * Every host runs both halves. As a sender it estimates each TX pair's demand
 * from what it measured, reports it to the receiver, and composes the rate to
 * program from the receiver's grant, its own uplink share, the job's cap and
 * a reactive ceiling. As a receiver it water-fills eta x its downlink, minus
 * the traffic of sources that report nothing, over the demands it hears, and
 * answers with grants that expire.
 *
 * Pairs live in one table: a slot array that grows on demand up to
 * max_pairs, indexed by an open-addressing hash with backward-shift deletion,
 * so memory is bounded whatever peers send and nothing is allocated per
 * message once the table has grown.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tita/alloc.h"
#include "tita/ctl.h"

/* RX measurements per remote address carry no job; they sit in the table as
 * this role with this job id. */
#define ROLE_SOURCE 3
#define JOB_ANY UINT32_MAX

/* A source unheard for this many grant lifetimes is forgotten. */
#define SOURCE_IDLE_TTLS 4
/* A downlink receiving this fraction of eta x line rate counts as busy: CE
 * marks then come from its own queue. */
#define BUSY_FRAC 0.9
#define BUSY_HOLD_ROUNDS 4
/* CE on a downlink that is not busy must last this many rounds to count as
 * congestion inside the fabric. */
#define FABRIC_CE_ROUNDS 3
/* A pair that brings at least this much of its grant uses it (a pair paced
 * at its grant, counted over one round, shows 85-110 % of it at a few
 * packets a round; one that misses is looked at again next round). */
#define GRANT_USED_FRAC 0.9
/* How much harder eta is cut when every packet is marked than when just
 * over the threshold are (a standing queue must drain in a few rounds). */
#define ETA_CE_GAIN 9.0

/* A TX pair idle (no demand, no traffic) for this many lifetimes is removed. */
#define TX_IDLE_TTLS 4

struct port {
	struct tita_addr local;
	uint64_t line_rate_bps;
	double eta;
	/* Receiver side, summed over its sources at each round. */
	uint64_t rx_packets, ce_packets;
	/* Results of the last round. */
	uint64_t rx_bps, unmanaged_bps, capacity_bps, granted_bps, tx_bps;
	uint32_t ce_ppm;
	uint64_t busy_until_ns;
	bool downlink_busy;
	/* The NIC's own port counters (tita_ctl_port_sample): valid until
	 * nic_until_ns; nic_fresh until a round has acted on them. */
	uint64_t nic_rx_bps, nic_until_ns;
	double nic_ce_frac;
	bool nic_fresh;
	/* The last allocation's inputs (pair slots, entries, capacity) and
	 * results: most allocations see the same inputs again (a refresh, a
	 * steady round), and max-min is a pure function of them. */
	struct tita_alloc_entry *memo;
	uint32_t *memo_order;
	uint32_t memo_n, memo_cap;
	uint64_t memo_capacity_bps;
	bool memo_valid;
};

struct pair {
	bool used;
	uint8_t role; /* TITA_PAIR_TX, TITA_PAIR_RX or ROLE_SOURCE */
	uint8_t state; /* enum tita_pair_state */
	uint16_t port;
	uint32_t job_id;
	struct tita_addr local, remote;
	uint64_t last_active_ns;

	/* Measurements accumulated during the current round. */
	uint64_t round_bytes, round_packets, round_ce, round_cnp, round_interval_ns;
	uint64_t measured_bps;
	uint32_t ce_ppm;
	uint32_t fabric_ce_ppm; /* RX: the part of ce_ppm not from our own downlink */
	uint32_t fabric_ce_rounds, fabric_clean_rounds; /* RX: consecutive rounds with, without */
	uint32_t fabric_ce_reported_ppm;
	uint32_t src_slot; /* RX: slot + 1 of its source's measurements, 0 for none */
	bool managed; /* SOURCE: some live RX pair shares its address */

	/* TX */
	uint64_t backlog_bytes;
	/* TX: the last sample covered interval_ns; until this much later a
	 * round without a new one is not idle, just between samples. */
	uint64_t sample_until_ns;
	uint32_t idle_rounds;
	uint64_t demand_bps, demand_reported_bps, demand_sent_ns;
	uint64_t grant_bps, expires_ns;
	uint64_t rate_bps, programmed_bps;
	uint64_t held_since_ns; /* a small increase has waited since then */
	uint64_t cnp_per_sec;
	bool rc_engaged;
	uint32_t rc_stage;
	double rc_alpha, rc_frac, rc_target_frac; /* ceiling as a fraction of the grant */

	/* RX */
	uint32_t weight_milli;
	uint64_t min_bps, max_bps;
	uint64_t granted_bps, grant_reported_bps, grant_sent_ns;
	uint64_t grant_demand_bps; /* the demand when the grant went out */
	bool grant_deferred; /* RX: a smaller grant this allocation held back */
};

/* Pairs that owe their peer a message this round, sorted by peer so that
 * one message per peer carries them all. */
struct outgoing {
	struct tita_addr remote;
	uint32_t slot;
};

/* One pair's entry waiting to go out; tita_ctl_pop_msg() batches runs of
 * entries for the same peer into a message. Queuing entries rather than whole
 * messages keeps the queue at ~100 bytes a pair. */
struct out_entry {
	enum tita_msg_kind kind;
	struct tita_addr peer;
	union {
		struct tita_demand_entry demand;
		struct tita_grant_entry grant;
	};
};

struct ctl_job {
	uint32_t id;
	struct tita_job job;
};

struct tita_ctl {
	struct tita_ctl_params p;

	struct port *ports;
	bool *port_dirty;
	uint32_t n_ports;

	struct ctl_job *jobs; /* sorted by id */
	uint32_t n_jobs;

	struct pair *pairs;
	uint32_t pairs_cap, pairs_hwm, n_pairs;
	uint32_t *free_slots;
	uint32_t n_free;
	uint32_t *index; /* slot + 1, 0 when empty */
	uint32_t index_mask;
	bool nothing_evictable; /* until the next round: skip the eviction scan */

	uint64_t next_round_ns;
	uint64_t last_round_ns;
	uint64_t alloc_due_ns; /* an early allocation for new demands */
	bool *port_needs_alloc;
	bool started;

	/* Work space for a round, sized to the pair table. */
	struct tita_alloc_scratch *scratch;
	struct tita_alloc_entry *entries;
	struct tita_alloc_entry *entries2; /* compose_port's second pass */
	uint32_t *order;
	struct outgoing *outgoing;
	uint32_t work_cap;

	/* Outputs waiting to be pulled (rings that grow up to a bound). */
	struct out_entry *outbox; /* sorted by peer within a round */
	uint32_t outbox_cap, outbox_head, outbox_len;
	struct tita_rate_update *rates;
	uint32_t rates_cap, rates_head, rates_len;

	struct tita_ctl_stats stats;
};

void tita_ctl_params_default(struct tita_ctl_params *p)
{
	*p = (struct tita_ctl_params){
		.control_interval_ns = 100 * TITA_NSEC_PER_USEC,
		.grant_ttl_ns = 10 * TITA_NSEC_PER_MSEC,
		.refresh_ns = 3 * TITA_NSEC_PER_MSEC,
		.eta = 0.95,
		.eta_min = 0.70,
		.eta_ce_threshold = 0.01,
		.eta_decrease = 0.02,
		.eta_increase = 0.01,
		.start_rate_frac = 0.02,
		.churn_frac = 0.02,
		.demand_change_frac = 0.05,
		.alloc_batch_frac = 0.125,
		.probe_threshold = 0.90,
		.probe_gain = 1.5,
		.backlog_horizon_ns = 200 * TITA_NSEC_PER_USEC,
		.demand_decay = 0.25,
		.demand_hold_rounds = 1,
		.rc_g = 1.0 / 16,
		.rc_ai_frac = 0.02,
		.rc_hai_frac = 0.10,
		.rc_fast_recovery_steps = 5,
		.rc_min_frac = 0.01,
		.rc_ce_threshold = 0.01,
		.max_ports = 64,
		.max_pairs = 65536,
		.max_jobs = 4096,
	};
}

static bool in_range(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

int tita_ctl_params_check(const struct tita_ctl_params *p)
{
	if (!p)
		return -EINVAL;
	if (p->control_interval_ns < TITA_NSEC_PER_USEC ||
	    p->control_interval_ns > 10 * TITA_NSEC_PER_SEC)
		return -EINVAL;
	if (p->grant_ttl_ns < 2 * p->control_interval_ns ||
	    p->grant_ttl_ns > 600 * TITA_NSEC_PER_SEC)
		return -EINVAL;
	if (p->refresh_ns < p->control_interval_ns || p->refresh_ns >= p->grant_ttl_ns)
		return -EINVAL;
	if (!in_range(p->eta, 0.05, 1.0) || !in_range(p->eta_min, 0.05, p->eta))
		return -EINVAL;
	if (!in_range(p->eta_ce_threshold, 0, 1) || !in_range(p->eta_decrease, 0, 0.5) ||
	    !in_range(p->eta_increase, 0, 0.5))
		return -EINVAL;
	if (!in_range(p->start_rate_frac, 0, 1) || !in_range(p->churn_frac, 0, 0.5) ||
	    !in_range(p->demand_change_frac, 0, 1) || !in_range(p->alloc_batch_frac, 0, 1))
		return -EINVAL;
	if (!in_range(p->probe_threshold, 0, 1) || !in_range(p->probe_gain, 1, 16))
		return -EINVAL;
	if (p->backlog_horizon_ns < TITA_NSEC_PER_USEC ||
	    p->backlog_horizon_ns > 60 * TITA_NSEC_PER_SEC)
		return -EINVAL;
	if (!in_range(p->demand_decay, 0, 1) || p->demand_hold_rounds > 1000)
		return -EINVAL;
	if (!in_range(p->rc_g, 0, 1) || !in_range(p->rc_ai_frac, 0, 1) ||
	    !in_range(p->rc_hai_frac, 0, 1) || !in_range(p->rc_min_frac, 0, 1) ||
	    !in_range(p->rc_ce_threshold, 0, 1) || p->rc_fast_recovery_steps > 1000)
		return -EINVAL;
	if (p->max_ports < 1 || p->max_ports > 4096 || p->max_pairs < 1 ||
	    p->max_pairs > (1u << 24) || p->max_jobs < 1 || p->max_jobs > (1u << 20))
		return -EINVAL;
	return 0;
}

/* ---- the pair table ---------------------------------------------------- */

static uint64_t load_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t hash_key(uint8_t role, const struct tita_addr *local,
			 const struct tita_addr *remote, uint32_t job_id)
{
	/* Addresses differ mostly in their last bytes; mix every word fully so
	 * that neighbouring hosts do not cluster in the linear-probing index. */
	uint64_t h = mix64(load_u64(remote->bytes + 8) ^ ((uint64_t)job_id << 8 | role));

	h = mix64(h ^ load_u64(remote->bytes));
	h = mix64(h ^ load_u64(local->bytes + 8));
	h = mix64(h ^ load_u64(local->bytes));
	return (uint32_t)(h ^ (h >> 32));
}

static bool pair_matches(const struct pair *pr, uint8_t role, const struct tita_addr *local,
			 const struct tita_addr *remote, uint32_t job_id)
{
	return pr->role == role && pr->job_id == job_id && tita_addr_eq(&pr->local, local) &&
	       tita_addr_eq(&pr->remote, remote);
}

static struct pair *pair_find(const struct tita_ctl *c, uint8_t role, const struct tita_addr *local,
			      const struct tita_addr *remote, uint32_t job_id)
{
	uint32_t i = hash_key(role, local, remote, job_id) & c->index_mask;

	for (;; i = (i + 1) & c->index_mask) {
		uint32_t ref = c->index[i];

		if (!ref)
			return NULL;
		if (pair_matches(&c->pairs[ref - 1], role, local, remote, job_id))
			return &c->pairs[ref - 1];
	}
}

static void index_insert(struct tita_ctl *c, uint32_t slot)
{
	const struct pair *pr = &c->pairs[slot];
	uint32_t i = hash_key(pr->role, &pr->local, &pr->remote, pr->job_id) & c->index_mask;

	while (c->index[i])
		i = (i + 1) & c->index_mask;
	c->index[i] = slot + 1;
}

/* Backward-shift deletion keeps linear probing free of tombstones. */
static void index_remove(struct tita_ctl *c, uint32_t slot)
{
	const struct pair *pr = &c->pairs[slot];
	uint32_t i = hash_key(pr->role, &pr->local, &pr->remote, pr->job_id) & c->index_mask;

	while (c->index[i] != slot + 1)
		i = (i + 1) & c->index_mask;
	for (uint32_t j = (i + 1) & c->index_mask;; j = (j + 1) & c->index_mask) {
		uint32_t ref = c->index[j], home;

		if (!ref)
			break;
		pr = &c->pairs[ref - 1];
		home = hash_key(pr->role, &pr->local, &pr->remote, pr->job_id) & c->index_mask;
		/* Move ref back into the hole unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			c->index[i] = ref;
			i = j;
		}
	}
	c->index[i] = 0;
}

static int work_reserve(struct tita_ctl *c, uint32_t n)
{
	struct tita_alloc_entry *entries;
	struct outgoing *outgoing;
	uint32_t *order;
	uint32_t cap = c->work_cap ? c->work_cap : 64;

	if (n <= c->work_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	entries = realloc(c->entries, cap * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	c->entries = entries;
	entries = realloc(c->entries2, cap * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	c->entries2 = entries;
	order = realloc(c->order, cap * sizeof(*order));
	if (!order)
		return -ENOMEM;
	c->order = order;
	outgoing = realloc(c->outgoing, cap * sizeof(*outgoing));
	if (!outgoing)
		return -ENOMEM;
	c->outgoing = outgoing;
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

static void index_insert(struct tita_ctl *c, uint32_t slot);

/* The index stays at most half full of the pairs' capacity. It grows with
 * them rather than being sized for max_pairs up front: a host with a few
 * hundred pairs then looks them up in a few KiB that stay in cache, not in
 * a 512 KiB table where every lookup misses (the simulator runs 64+ hosts
 * in one process; titad's lookups per interval scale the same way). */
static int index_grow(struct tita_ctl *c, uint32_t pairs_cap)
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
	if (index_grow(c, cap) < 0)
		return -ENOMEM;
	c->pairs_cap = cap;
	return work_reserve(c, cap);
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

static void pair_release(struct tita_ctl *c, struct pair *pr);

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
	pair_release(c, victim);
	c->stats.pairs_evicted++;
	return true;
}

static struct pair *pair_get(struct tita_ctl *c, uint8_t role, uint16_t port,
			     const struct tita_addr *remote, uint32_t job_id, uint64_t now_ns)
{
	const struct tita_addr *local = &c->ports[port].local;
	struct pair *pr = pair_find(c, role, local, remote, job_id);
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
	};
	index_insert(c, slot);
	c->n_pairs++;
	return pr;
}

static void rate_push(struct tita_ctl *c, const struct pair *pr, uint64_t rate_bps);

static void pair_release(struct tita_ctl *c, struct pair *pr)
{
	uint32_t slot = (uint32_t)(pr - c->pairs);

	/* A TX pair that goes away must not leave a pacing rule behind. */
	if (pr->role == TITA_PAIR_TX && pr->programmed_bps != TITA_RATE_UNPACED)
		rate_push(c, pr, TITA_RATE_UNPACED);
	index_remove(c, slot);
	pr->used = false;
	c->free_slots[c->n_free++] = slot;
	c->n_pairs--;
}

/* ---- construction ------------------------------------------------------ */

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
	c->ports = calloc(p->max_ports, sizeof(*c->ports));
	c->port_dirty = calloc(p->max_ports, sizeof(*c->port_dirty));
	c->port_needs_alloc = calloc(p->max_ports, sizeof(*c->port_needs_alloc));
	c->alloc_due_ns = TITA_TIME_NEVER;
	c->free_slots = malloc(p->max_pairs * sizeof(*c->free_slots));
	if (!c->ports || !c->port_dirty || !c->port_needs_alloc || index_grow(c, 64) < 0 ||
	    !c->free_slots || work_reserve(c, 64) < 0) {
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
	return 0;
}

const struct tita_ctl_params *tita_ctl_params(const struct tita_ctl *c)
{
	return &c->p;
}

/* What a port hands out: eta x line rate, less what unmanaged sources use. */
static void port_update_capacity(struct port *pt)
{
	uint64_t cap = (uint64_t)(pt->eta * (double)pt->line_rate_bps);

	pt->capacity_bps = cap > pt->unmanaged_bps ? cap - pt->unmanaged_bps : 0;
}

/* ---- ports and jobs ------------------------------------------------------ */

static int port_find(const struct tita_ctl *c, const struct tita_addr *local)
{
	for (uint32_t i = 0; i < c->n_ports; i++)
		if (tita_addr_eq(&c->ports[i].local, local))
			return (int)i;
	return -ENOENT;
}

int tita_ctl_port_add(struct tita_ctl *c, const struct tita_addr *local, uint64_t line_rate_bps)
{
	struct port *pt;

	if (!line_rate_bps || line_rate_bps > TITA_RATE_MAX_BPS)
		return -EINVAL;
	if (port_find(c, local) >= 0)
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
	int i = port_find(c, local);

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

static const struct tita_job *job_policy(const struct tita_ctl *c, uint32_t job_id)
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

static struct out_entry *outbox_push(struct tita_ctl *c)
{
	if (c->outbox_len == c->outbox_cap) {
		uint32_t cap = c->outbox_cap ? c->outbox_cap * 2 : 64;
		struct out_entry *box;

		if (cap > OUTBOX_MAX) {
			/* Drop the oldest; the refresh will resend what it carried. */
			c->outbox_head = (c->outbox_head + 1) % c->outbox_cap;
			c->outbox_len--;
		} else {
			box = malloc(cap * sizeof(*box));
			if (!box)
				return NULL;
			for (uint32_t i = 0; i < c->outbox_len; i++)
				box[i] = c->outbox[(c->outbox_head + i) % c->outbox_cap];
			free(c->outbox);
			c->outbox = box;
			c->outbox_cap = cap;
			c->outbox_head = 0;
		}
	}
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
	while (c->outbox_len && ret_msg->n_entries < TITA_MSG_MAX_ENTRIES) {
		const struct out_entry *e = &c->outbox[c->outbox_head];

		if (e->kind != ret_msg->kind || !tita_addr_eq(&e->peer, &ret_msg->peer))
			break;
		if (e->kind == TITA_MSG_DEMAND)
			ret_msg->demand[ret_msg->n_entries++] = e->demand;
		else
			ret_msg->grant[ret_msg->n_entries++] = e->grant;
		c->outbox_head = (c->outbox_head + 1) % c->outbox_cap;
		c->outbox_len--;
	}
	c->stats.msgs_out++;
	return true;
}

static void rate_push(struct tita_ctl *c, const struct pair *pr, uint64_t rate_bps)
{
	struct tita_rate_update *u;

	if (c->rates_len == c->rates_cap) {
		uint32_t cap = c->rates_cap ? c->rates_cap * 2 : 64;
		struct tita_rate_update *r;

		if (cap > RATES_MAX) {
			c->rates_head = (c->rates_head + 1) % c->rates_cap;
			c->rates_len--;
		} else {
			r = malloc(cap * sizeof(*r));
			if (!r)
				return;
			for (uint32_t i = 0; i < c->rates_len; i++)
				r[i] = c->rates[(c->rates_head + i) % c->rates_cap];
			free(c->rates);
			c->rates = r;
			c->rates_cap = cap;
			c->rates_head = 0;
		}
	}
	u = &c->rates[(c->rates_head + c->rates_len++) % c->rates_cap];
	*u = (struct tita_rate_update){
		.local = pr->local, .remote = pr->remote, .job_id = pr->job_id, .rate_bps = rate_bps
	};
	c->stats.rate_updates++;
}

bool tita_ctl_pop_rate(struct tita_ctl *c, struct tita_rate_update *ret_update)
{
	if (!c->rates_len)
		return false;
	*ret_update = c->rates[c->rates_head];
	c->rates_head = (c->rates_head + 1) % c->rates_cap;
	c->rates_len--;
	return true;
}

/* ---- measurements ------------------------------------------------------ */

static void estimate_demand(struct tita_ctl *c, struct pair *pr, uint64_t round_ns);
static bool changed(uint64_t now, uint64_t reported, double frac);
static void compose_port(struct tita_ctl *c, uint16_t port, uint64_t now_ns);
static void fill_entry(struct tita_ctl *c, struct out_entry *e, struct pair *pr, uint64_t now_ns);

int tita_ctl_tx_sample(struct tita_ctl *c, const struct tita_tx_sample *s, uint64_t now_ns)
{
	int port = port_find(c, &s->local);
	bool is_new = false;
	struct pair *pr;

	c->stats.samples_in++;
	if (!s->interval_ns)
		return -EINVAL;
	if (port < 0) {
		c->stats.samples_skipped_not_local++;
		return -ENOENT;
	}
	pr = pair_find(c, TITA_PAIR_TX, &s->local, &s->remote, s->job_id);
	if (!pr) {
		/* Nothing to pace until the pair carries traffic. */
		if (!s->tx_bytes && !s->backlog_bytes)
			return 0;
		pr = pair_get(c, TITA_PAIR_TX, (uint16_t)port, &s->remote, s->job_id, now_ns);
		if (!pr) {
			c->stats.samples_skipped_no_space++;
			return -ENOSPC;
		}
		pr->state = TITA_PAIR_STARTING;
		pr->expires_ns = now_ns + c->p.grant_ttl_ns;
		pr->rc_alpha = 1.0;
		pr->rc_frac = 1.0;
		is_new = true;
	}
	pr->round_bytes += s->tx_bytes;
	pr->round_cnp += s->cnp_packets;
	pr->round_interval_ns += s->interval_ns;
	pr->backlog_bytes = s->backlog_bytes;
	/* A quarter more for a report that comes a little late. */
	pr->sample_until_ns = now_ns + s->interval_ns + s->interval_ns / 4;
	if (s->tx_bytes || s->backlog_bytes)
		pr->last_active_ns = now_ns;
	if (is_new) {
		/* Pace at the start rate and ask for a grant now, not a round
		 * later: the burst of an incast is N x start rate x that delay. */
		struct out_entry *e;

		estimate_demand(c, pr, s->interval_ns);
		compose_port(c, (uint16_t)port, now_ns);
		e = outbox_push(c);
		if (e) {
			e->kind = TITA_MSG_DEMAND;
			fill_entry(c, e, pr, now_ns);
		}
	}
	return 0;
}

int tita_ctl_rx_sample(struct tita_ctl *c, const struct tita_rx_sample *s, uint64_t now_ns)
{
	int port = port_find(c, &s->local);
	struct pair *src;

	c->stats.samples_in++;
	if (!s->interval_ns)
		return -EINVAL;
	if (port < 0) {
		c->stats.samples_skipped_not_local++;
		return -ENOENT;
	}
	if (!s->rx_bytes && !s->rx_packets)
		return 0;
	src = pair_get(c, ROLE_SOURCE, (uint16_t)port, &s->remote, JOB_ANY, now_ns);
	if (!src) {
		c->stats.samples_skipped_no_space++;
		return -ENOSPC;
	}
	src->round_bytes += s->rx_bytes;
	src->round_packets += s->rx_packets;
	src->round_ce += s->ce_packets;
	src->round_interval_ns += s->interval_ns;
	src->last_active_ns = now_ns;
	return 0;
}

int tita_ctl_port_sample(struct tita_ctl *c, const struct tita_port_sample *s, uint64_t now_ns)
{
	int port = port_find(c, &s->local);
	struct port *pt;

	c->stats.samples_in++;
	if (!s->interval_ns || s->ce_packets > s->rx_packets)
		return -EINVAL;
	if (port < 0) {
		c->stats.samples_skipped_not_local++;
		return -ENOENT;
	}
	pt = &c->ports[port];
	pt->nic_rx_bps = (uint64_t)fmin((double)s->rx_bytes * 8e9 / (double)s->interval_ns,
					(double)TITA_RATE_MAX_BPS);
	pt->nic_ce_frac = s->rx_packets ? (double)s->ce_packets / (double)s->rx_packets : 0;
	/* Counters are read at their own pace (mlx5 caches them for 10 ms):
	 * one sample speaks for the time until the next is late. */
	pt->nic_until_ns = now_ns + 2 * tita_max_u64(s->interval_ns, c->p.control_interval_ns);
	pt->nic_fresh = true;
	return 0;
}

/* ---- the sender's rate ----------------------------------------------------- */

static uint64_t min_rate_bps(const struct tita_ctl *c, const struct port *pt)
{
	uint64_t r = (uint64_t)(c->p.rc_min_frac * (double)pt->line_rate_bps);

	return r ? r : 1;
}

/* What the receiver lets this pair send: the start rate, the grant, or
 * nothing (unpaced) once the grant has lapsed. */
static uint64_t grant_component(const struct tita_ctl *c, const struct pair *pr,
				const struct port *pt)
{
	switch (pr->state) {
	case TITA_PAIR_STARTING:
		return (uint64_t)(c->p.start_rate_frac * (double)pt->line_rate_bps);
	case TITA_PAIR_GRANTED:
		return pr->grant_bps;
	default:
		return TITA_RATE_UNPACED;
	}
}

static void program(struct tita_ctl *c, struct pair *pr, uint64_t rate_bps, uint64_t now_ns)
{
	uint64_t old = pr->programmed_bps;

	pr->rate_bps = rate_bps;
	if (rate_bps == old) {
		pr->held_since_ns = 0;
		return;
	}
	/*
	 * Pace/unpace transitions and decreases go through at once: a decrease
	 * that waited could overrun the grant. Small increases wait, but not for
	 * longer than a refresh period, or a rate creeping up in small steps
	 * would stay below its grant for good.
	 */
	if (old != TITA_RATE_UNPACED && rate_bps != TITA_RATE_UNPACED && rate_bps > old &&
	    (double)(rate_bps - old) <= c->p.churn_frac * (double)old) {
		if (!pr->held_since_ns)
			pr->held_since_ns = now_ns ? now_ns : 1;
		if (now_ns - pr->held_since_ns < c->p.refresh_ns) {
			c->stats.rate_updates_suppressed++;
			return;
		}
	}
	pr->held_since_ns = 0;
	pr->programmed_bps = rate_bps;
	rate_push(c, pr, rate_bps);
}

/*
 * Who shares a weight in the water-filling: a job's pairs share its one
 * weight (a job with eight senders gets the share of one), while traffic of
 * no job (the default) is pairs of their own, each with its own weight.
 * Job ids are 32 bits, so the default's keys, from 2^32 up, meet none.
 */
static uint64_t job_group(const struct pair *pr, uint32_t slot)
{
	return pr->job_id == TITA_JOB_DEFAULT ? (uint64_t)1 << 32 | slot : pr->job_id;
}

/*
 * The least a paced pair is given: the floor keeps the reactive ceiling (or
 * a zero grant) from stopping it, but never lifts it over a grant, or many
 * small grants (a large incast, a low-weight job) would add up to more than
 * the receiver gave.
 */
static uint64_t pair_floor_bps(uint64_t floor_bps, uint64_t allowed_bps)
{
	return allowed_bps ? tita_min_u64(floor_bps, allowed_bps) : floor_bps;
}

/*
 * Compose the rate of every TX pair on a port: the uplink share is the same
 * water-filling over the port's own pairs (each bounded by what its grant
 * allows), so the sum of paced rates never exceeds eta x the uplink.
 */
static void compose_port(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	uint32_t n = 0;
	uint64_t floor_bps = min_rate_bps(c, pt), tx_bps = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];
		uint64_t allowed;
		const struct tita_job *job;

		if (!pr->used || pr->role != TITA_PAIR_TX || pr->port != port)
			continue;
		tx_bps += pr->measured_bps;
		allowed = grant_component(c, pr, pt);
		if (allowed == TITA_RATE_UNPACED)
			continue;
		job = job_policy(c, pr->job_id);
		c->order[n] = s;
		/* First what each pair wants, as far as its grant allows... */
		c->entries[n] = (struct tita_alloc_entry){
			.demand_bps = tita_max_u64(tita_min_u64(allowed, pr->demand_bps),
						   pair_floor_bps(floor_bps, allowed)),
			.min_bps = job->min_bps,
			.weight = (double)job->weight_milli / TITA_WEIGHT_ONE,
			.group = job_group(pr, s),
		};
		/* ...then what is left of the uplink, up to the grants: a pair
		 * that pauses restarts at its grant when the uplink has room for
		 * it, never at the cost of one that is sending. */
		c->entries2[n] = c->entries[n];
		c->entries2[n].demand_bps = allowed;
		c->entries2[n].min_bps = 0;
		n++;
	}
	pt->tx_bps = tx_bps;
	if (n) {
		uint64_t cap = (uint64_t)(pt->eta * (double)pt->line_rate_bps), used = 0;

		tita_alloc_maxmin_by_group(c->entries, n, cap, c->scratch);
		for (uint32_t k = 0; k < n; k++) {
			used += c->entries[k].alloc_bps;
			c->entries2[k].demand_bps =
				c->entries2[k].demand_bps > c->entries[k].alloc_bps ?
					c->entries2[k].demand_bps - c->entries[k].alloc_bps :
					0;
		}
		if (used < cap) {
			tita_alloc_maxmin_by_group(c->entries2, n, cap - used, c->scratch);
			for (uint32_t k = 0; k < n; k++)
				c->entries[k].alloc_bps += c->entries2[k].alloc_bps;
		}
	}

	for (uint32_t k = 0, s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];
		const struct tita_job *job;
		uint64_t rate, allowed;

		if (!pr->used || pr->role != TITA_PAIR_TX || pr->port != port)
			continue;
		job = job_policy(c, pr->job_id);
		allowed = grant_component(c, pr, pt);
		if (k < n && c->order[k] == s) {
			rate = tita_min_u64(allowed, c->entries[k].alloc_bps);
			if (pr->rc_engaged)
				rate = tita_min_u64(
					rate, (uint64_t)(pr->rc_frac * (double)pr->grant_bps));
			k++;
		} else {
			/* Fail-open: only the operator's cap still applies. */
			rate = TITA_RATE_UNPACED;
		}
		if (rate != TITA_RATE_UNPACED)
			rate = tita_max_u64(rate, pair_floor_bps(floor_bps, allowed));
		/* The operator's cap holds over everything, the floor too. */
		if (job->max_bps)
			rate = tita_min_u64(rate, job->max_bps);
		if (rate != TITA_RATE_UNPACED)
			rate = tita_min_u64(rate, pt->line_rate_bps);
		program(c, pr, rate, now_ns);
	}
}

/* ---- messages in ------------------------------------------------------- */

static uint64_t clamp_rate(uint64_t v, uint64_t max)
{
	return v > max ? max : v;
}

static int on_demand(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	int applied = 0;

	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct tita_demand_entry *e = &m->demand[i];
		int port = port_find(c, &e->receiver);
		struct pair *pr;

		c->stats.entries_in++;
		if (port < 0) {
			c->stats.entries_skipped_not_local++;
			continue;
		}
		if (!tita_addr_eq(&e->sender, &m->peer) || e->weight_milli < 1 ||
		    e->weight_milli > TITA_WEIGHT_MAX) {
			c->stats.entries_skipped_mismatch++;
			continue;
		}
		pr = pair_find(c, TITA_PAIR_RX, &e->receiver, &e->sender, e->job_id);
		if (!e->demand_bps) {
			/* The sender went idle: free its share now. */
			if (pr)
				pair_release(c, pr);
			applied++;
			continue;
		}
		if (!pr) {
			struct pair *src;

			pr = pair_get(c, TITA_PAIR_RX, (uint16_t)port, &e->sender, e->job_id,
				      now_ns);
			if (!pr) {
				c->stats.entries_skipped_no_space++;
				continue;
			}
			/* Its traffic is managed from now on: stop counting it as
			 * unmanaged, and grant it early. */
			src = pair_find(c, ROLE_SOURCE, &e->receiver, &e->sender, JOB_ANY);
			if (src && !src->managed) {
				struct port *pt = &c->ports[port];

				src->managed = true;
				pt->unmanaged_bps -=
					tita_min_u64(pt->unmanaged_bps, src->measured_bps);
				port_update_capacity(pt);
			}
			pr->src_slot = src ? (uint32_t)(src - c->pairs) + 1 : 0;
		}
		/*
		 * A demand that moved is allocated early (batched like new ones);
		 * one that comes when our grant is half-way to its refresh is
		 * answered with the grant, so that a sender whose grant lapsed (we
		 * were cut off) is paced again within half a refresh.
		 */
		if (changed(clamp_rate(e->demand_bps, c->ports[port].line_rate_bps), pr->demand_bps,
			    c->p.demand_change_frac) ||
		    now_ns - pr->grant_sent_ns >= c->p.refresh_ns / 2) {
			if (now_ns - pr->grant_sent_ns >= c->p.refresh_ns / 2)
				pr->grant_sent_ns = 0;
			c->port_needs_alloc[port] = true;
			c->alloc_due_ns =
				tita_min_u64(c->alloc_due_ns,
					     now_ns + (uint64_t)((double)c->p.control_interval_ns *
								 c->p.alloc_batch_frac));
		}
		pr->state = TITA_PAIR_ACTIVE;
		pr->demand_bps = clamp_rate(e->demand_bps, c->ports[port].line_rate_bps);
		pr->weight_milli = e->weight_milli;
		pr->min_bps = clamp_rate(e->min_bps, c->ports[port].line_rate_bps);
		pr->max_bps = clamp_rate(e->max_bps, c->ports[port].line_rate_bps);
		pr->expires_ns = now_ns + c->p.grant_ttl_ns;
		pr->last_active_ns = now_ns;
		applied++;
	}
	return applied;
}

static int on_grant(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	int applied = 0;

	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct tita_grant_entry *e = &m->grant[i];
		int port = port_find(c, &e->sender);
		struct pair *pr;

		c->stats.entries_in++;
		if (port < 0) {
			c->stats.entries_skipped_not_local++;
			continue;
		}
		if (!tita_addr_eq(&e->receiver, &m->peer) || !e->ttl_ns ||
		    e->rate_bps > TITA_RATE_MAX_BPS || e->ce_ppm > 1000000) {
			c->stats.entries_skipped_mismatch++;
			continue;
		}
		pr = pair_find(c, TITA_PAIR_TX, &e->sender, &e->receiver, e->job_id);
		if (!pr) {
			/* A grant for a pair we no longer have: nothing to pace. */
			c->stats.entries_skipped_mismatch++;
			continue;
		}
		pr->state = TITA_PAIR_GRANTED;
		pr->grant_bps = clamp_rate(e->rate_bps, c->ports[port].line_rate_bps);
		/* Never trust a lifetime longer than our own: a receiver that dies
		 * must not hold this pair paced longer than we promised. */
		pr->expires_ns = now_ns + tita_min_u64(e->ttl_ns, c->p.grant_ttl_ns);
		pr->ce_ppm = e->ce_ppm;
		c->port_dirty[port] = true;
		applied++;
	}
	/* Apply a new grant at once rather than at the next round. */
	for (uint32_t port = 0; port < c->n_ports; port++) {
		if (c->port_dirty[port])
			compose_port(c, (uint16_t)port, now_ns);
		c->port_dirty[port] = false;
	}
	return applied;
}

int tita_ctl_on_msg(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	if (!m || m->n_entries > TITA_MSG_MAX_ENTRIES)
		return -EINVAL;
	c->stats.msgs_in++;
	switch (m->kind) {
	case TITA_MSG_DEMAND:
		return on_demand(c, m, now_ns);
	case TITA_MSG_GRANT:
		return on_grant(c, m, now_ns);
	default:
		return -EINVAL;
	}
}

/* ---- the round --------------------------------------------------------- */

/* The rate over the time the round's samples covered (the round itself
 * when none came: nothing was sent). */
static uint64_t round_rate(const struct pair *pr, uint64_t round_ns)
{
	return tita_bytes_to_rate(pr->round_bytes,
				  pr->round_interval_ns ? pr->round_interval_ns : round_ns);
}

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
				 * traffic that resumes starts conservatively again. */
				if (!pr->demand_bps) {
					pair_release(c, pr);
					break;
				}
				pr->state = TITA_PAIR_FAIL_OPEN;
				pr->grant_bps = 0;
			}
			if (pr->state == TITA_PAIR_FAIL_OPEN && !pr->demand_bps &&
			    idle_ns >= TX_IDLE_TTLS * c->p.grant_ttl_ns)
				pair_release(c, pr);
			break;
		case TITA_PAIR_RX:
			if (pr->expires_ns <= now_ns) {
				c->stats.demands_expired++;
				pair_release(c, pr);
			}
			break;
		default:
			if (idle_ns >= SOURCE_IDLE_TTLS * c->p.grant_ttl_ns)
				pair_release(c, pr);
		}
	}
}

static void estimate_demand(struct tita_ctl *c, struct pair *pr, uint64_t round_ns)
{
	const struct port *pt = &c->ports[pr->port];
	const struct tita_job *job = job_policy(c, pr->job_id);
	uint64_t line = pt->line_rate_bps, cur, target;

	pr->measured_bps = tita_min_u64(round_rate(pr, round_ns), line);
	pr->cnp_per_sec = pr->round_cnp * TITA_NSEC_PER_SEC /
			  tita_max_u64(tita_max_u64(pr->round_interval_ns, round_ns), 1);
	cur = pr->rate_bps == TITA_RATE_UNPACED ? line : pr->rate_bps;
	target = pr->measured_bps + tita_bytes_to_rate(pr->backlog_bytes, c->p.backlog_horizon_ns);
	/* A pair that fills its rate, or queues behind it, asks for more. */
	if (pr->backlog_bytes || (double)pr->measured_bps >= c->p.probe_threshold * (double)cur)
		target = tita_max_u64(target, (uint64_t)(c->p.probe_gain * (double)cur));
	target = tita_min_u64(target, line);
	if (job->max_bps)
		target = tita_min_u64(target, job->max_bps);
	/* A pause between steps of a collective is not the end of the
	 * transfer: hold the demand for a few rounds before letting it decay. */
	if (!pr->measured_bps && !pr->backlog_bytes)
		pr->idle_rounds++;
	else
		pr->idle_rounds = 0;
	if (target >= pr->demand_bps)
		pr->demand_bps = target;
	else if (pr->idle_rounds == 0 || pr->idle_rounds > c->p.demand_hold_rounds)
		pr->demand_bps = tita_max_u64(
			target, (uint64_t)(c->p.demand_decay * (double)pr->demand_bps));
	/* Decay must reach zero, or an idle pair would hold a crumb forever. */
	if (!pr->measured_bps && !pr->backlog_bytes && pr->demand_bps < line / 1000)
		pr->demand_bps = 0;
}

/*
 * The reactive ceiling: DCQCN's reaction point, one step per control round,
 * for congestion inside the fabric that no receiver's grant accounts for. It
 * is kept as a fraction of the pair's grant, so a grant that moves carries
 * the ceiling with it and the ceiling can never exceed the grant. The signal
 * is the CE fraction that the receiver attributes to the fabric (it keeps CE
 * on its own saturated downlink to itself: its grants already resolve that),
 * and it holds until a grant says the marks stopped. CNPs are the same marks
 * seen a second time, so they are reported, not counted twice. A pair still waiting for its first grant does not react:
 * marks then come from the burst before pacing began, which the grant fixes.
 */
static void update_ceiling(struct tita_ctl *c, struct pair *pr)
{
	double g = c->p.rc_g;
	bool congested = pr->ce_ppm > c->p.rc_ce_threshold * 1e6;
	if (pr->state != TITA_PAIR_GRANTED) {
		pr->rc_engaged = false;
		return;
	}
	pr->rc_alpha = (1 - g) * pr->rc_alpha + (congested ? g : 0);
	if (congested) {
		if (!pr->rc_engaged) {
			/* As a NIC's first CNP: alpha starts from one. */
			pr->rc_engaged = true;
			pr->rc_frac = 1;
			pr->rc_alpha = 1;
		}
		pr->rc_target_frac = pr->rc_frac;
		pr->rc_frac = fmax(c->p.rc_min_frac, pr->rc_frac * (1 - pr->rc_alpha / 2));
		pr->rc_stage = 0;
		return;
	}
	if (!pr->rc_engaged)
		return;
	pr->rc_stage++;
	if (pr->rc_stage > c->p.rc_fast_recovery_steps + 5)
		pr->rc_target_frac += c->p.rc_hai_frac;
	else if (pr->rc_stage > c->p.rc_fast_recovery_steps)
		pr->rc_target_frac += c->p.rc_ai_frac;
	pr->rc_target_frac = fmin(pr->rc_target_frac, 1);
	pr->rc_frac = (pr->rc_frac + pr->rc_target_frac) / 2;
	if (pr->rc_frac >= 0.99)
		pr->rc_engaged = false;
}

static int cmp_outgoing(const void *a, const void *b)
{
	const struct outgoing *oa = a, *ob = b;
	int r = memcmp(oa->remote.bytes, ob->remote.bytes, sizeof(oa->remote.bytes));

	if (r)
		return r;
	return oa->slot < ob->slot ? -1 : oa->slot > ob->slot;
}

static void fill_entry(struct tita_ctl *c, struct out_entry *e, struct pair *pr, uint64_t now_ns)
{
	e->peer = pr->remote;
	if (e->kind == TITA_MSG_DEMAND) {
		const struct tita_job *job = job_policy(c, pr->job_id);

		e->demand = (struct tita_demand_entry){
			.sender = pr->local,
			.receiver = pr->remote,
			.job_id = pr->job_id,
			.weight_milli = job->weight_milli,
			.demand_bps = pr->demand_bps,
			.min_bps = job->min_bps,
			.max_bps = job->max_bps,
		};
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
		pr->grant_reported_bps = pr->granted_bps;
		pr->grant_demand_bps = pr->demand_bps;
		pr->fabric_ce_reported_ppm = pr->fabric_ce_ppm;
		pr->grant_sent_ns = now_ns;
	}
}

static void emit(struct tita_ctl *c, enum tita_msg_kind kind, struct outgoing *out, uint32_t n,
		 uint64_t now_ns)
{
	qsort(out, n, sizeof(*out), cmp_outgoing);
	for (uint32_t i = 0; i < n; i++) {
		struct out_entry *e = outbox_push(c);

		if (!e)
			return;
		e->kind = kind;
		fill_entry(c, e, &c->pairs[out[i].slot], now_ns);
	}
}

static bool changed(uint64_t now, uint64_t reported, double frac)
{
	if (now == reported)
		return false;
	if (!reported || !now)
		return true;
	return fabs((double)now - (double)reported) > frac * (double)reported;
}

/* Whether the receiver would grant differently if it knew the new demand:
 * only when the old or the new demand is near or below the grant. */
static bool demand_binding(const struct tita_ctl *c, const struct pair *pr)
{
	double bar = (1 + c->p.demand_change_frac) * (double)pr->grant_bps;

	return pr->state != TITA_PAIR_GRANTED || (double)pr->demand_bps < bar ||
	       (double)pr->demand_reported_bps < bar;
}

static void sender_round(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns)
{
	uint32_t n_out = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (!pr->used || pr->role != TITA_PAIR_TX)
			continue;
		/* Samples come at their source's pace: the agents report every
		 * 100 ms, the datapath every interval. A round that falls
		 * between two of them keeps the estimate the last one gave;
		 * reading it as idle would let demand decay between reports
		 * and jump back at each one. */
		if (pr->round_interval_ns || now_ns >= pr->sample_until_ns) {
			estimate_demand(c, pr, round_ns);
			pr->round_bytes = pr->round_cnp = pr->round_interval_ns = 0;
			/* A backlog is what the last sample saw; a round without
			 * one (no traffic, so no sample) has none, or a pair that
			 * stopped would hold its demand for good. */
			pr->backlog_bytes = 0;
		}
		update_ceiling(c, pr);
		/*
		 * Report on a significant change, and refresh well inside the TTL
		 * (a zero demand is said once: the receiver frees the share). A
		 * change that stays above the grant changes nothing at the
		 * receiver, so it waits for the refresh: a draining backlog would
		 * otherwise be reported every round.
		 */
		if ((changed(pr->demand_bps, pr->demand_reported_bps, c->p.demand_change_frac) &&
		     demand_binding(c, pr)) ||
		    (pr->demand_bps && now_ns - pr->demand_sent_ns >= c->p.refresh_ns)) {
			c->outgoing[n_out++] = (struct outgoing){ .remote = pr->remote, .slot = s };
		}
	}
	for (uint32_t port = 0; port < c->n_ports; port++)
		compose_port(c, (uint16_t)port, now_ns);
	emit(c, TITA_MSG_DEMAND, c->outgoing, n_out, now_ns);
}

/* Per port: measure the downlink, run the eta loop, water-fill, grant. */
/* Per port: what arrived from each source this round, and the eta loop. */
static void measure_ports(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns)
{
	/* Which sources are managed (some live demand shares their address)? */
	for (uint32_t s = 0; s < c->pairs_hwm; s++)
		if (c->pairs[s].used && c->pairs[s].role == ROLE_SOURCE)
			c->pairs[s].managed = false;
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s], *src;

		if (!pr->used || pr->role != TITA_PAIR_RX)
			continue;
		src = pair_find(c, ROLE_SOURCE, &pr->local, &pr->remote, JOB_ANY);
		pr->src_slot = src ? (uint32_t)(src - c->pairs) + 1 : 0;
		if (src)
			src->managed = true;
	}
	for (uint32_t port = 0; port < c->n_ports; port++) {
		struct port *pt = &c->ports[port];

		pt->rx_packets = pt->ce_packets = pt->rx_bps = pt->unmanaged_bps = 0;
	}
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *src = &c->pairs[s];
		struct port *pt;

		if (!src->used || src->role != ROLE_SOURCE)
			continue;
		pt = &c->ports[src->port];
		src->measured_bps = round_rate(src, round_ns);
		src->ce_ppm = src->round_packets ?
				      (uint32_t)(src->round_ce * 1000000 / src->round_packets) :
				      0;
		pt->rx_bps += src->measured_bps;
		pt->rx_packets += src->round_packets;
		pt->ce_packets += src->round_ce;
		if (!src->managed)
			pt->unmanaged_bps += src->measured_bps;
		src->round_bytes = src->round_packets = src->round_ce = src->round_interval_ns = 0;
	}

	for (uint32_t port = 0; port < c->n_ports; port++) {
		struct port *pt = &c->ports[port];
		double line = (double)pt->line_rate_bps, ce_frac;
		bool nic = now_ns < pt->nic_until_ns, nic_ce = nic && pt->nic_ce_frac > 0;

		pt->unmanaged_bps = tita_min_u64(pt->unmanaged_bps, pt->line_rate_bps);
		ce_frac = pt->rx_packets ? (double)pt->ce_packets / (double)pt->rx_packets : 0;
		/* The NIC sees what the datapath sees and what hardware RoCE
		 * hides from it: take whichever says more. */
		if (nic)
			pt->rx_bps = tita_max_u64(pt->rx_bps, pt->nic_rx_bps);
		pt->ce_ppm = (uint32_t)(fmax(ce_frac, nic ? pt->nic_ce_frac : 0) * 1e6);
		/* A NIC sample covers many rounds: its CE cuts eta once, in
		 * the first round after it arrived, and holds eta where it is
		 * (no increase) for as long as it stands. */
		if (pt->nic_fresh && pt->nic_ce_frac > ce_frac)
			ce_frac = pt->nic_ce_frac;
		pt->nic_fresh = false;
		/*
		 * CE while our own downlink is busy means eta is too high for this
		 * fabric: cut it, harder the more packets are marked, so that a
		 * standing queue drains within a few rounds; clean rounds let it
		 * climb back. CE on a downlink that is not busy comes from inside
		 * the fabric: that goes back to the senders' ceilings instead.
		 */
		if ((double)pt->rx_bps >= BUSY_FRAC * pt->eta * line)
			pt->busy_until_ns = now_ns + BUSY_HOLD_ROUNDS * c->p.control_interval_ns;
		/* A queue built while busy still marks while it drains. */
		pt->downlink_busy = now_ns < pt->busy_until_ns;
		if (ce_frac > c->p.eta_ce_threshold && pt->downlink_busy)
			pt->eta = fmax(
				c->p.eta_min,
				pt->eta * (1 - c->p.eta_decrease * (1 + ETA_CE_GAIN * ce_frac)));
		else if (!pt->ce_packets && !nic_ce)
			pt->eta = fmin(c->p.eta, pt->eta + c->p.eta_increase);
		port_update_capacity(pt);
	}
}

static bool same_inputs(const struct tita_alloc_entry *a, const struct tita_alloc_entry *b)
{
	return a->demand_bps == b->demand_bps && a->min_bps == b->min_bps &&
	       a->max_bps == b->max_bps && a->weight == b->weight && a->group == b->group;
}

/* Max-min over a port's entries, or its last results when nothing that
 * goes into it changed. */
static void allocate_memo(struct port *pt, struct tita_alloc_entry *entries, const uint32_t *order,
			  uint32_t n, struct tita_alloc_scratch *scratch)
{
	bool same = pt->memo_valid && n == pt->memo_n &&
		    pt->capacity_bps == pt->memo_capacity_bps &&
		    !memcmp(order, pt->memo_order, n * sizeof(*order));

	for (uint32_t k = 0; same && k < n; k++)
		same = same_inputs(&entries[k], &pt->memo[k]);
	if (same) {
		for (uint32_t k = 0; k < n; k++)
			entries[k].alloc_bps = pt->memo[k].alloc_bps;
		return;
	}
	tita_alloc_maxmin_by_group(entries, n, pt->capacity_bps, scratch);
	pt->memo_valid = false;
	if (n > pt->memo_cap) {
		struct tita_alloc_entry *m = realloc(pt->memo, n * sizeof(*m));
		uint32_t *o;

		if (!m)
			return; /* no memo: the next allocation runs in full */
		pt->memo = m;
		o = realloc(pt->memo_order, n * sizeof(*o));
		if (!o)
			return;
		pt->memo_order = o;
		pt->memo_cap = n;
	}
	memcpy(pt->memo, entries, n * sizeof(*entries));
	memcpy(pt->memo_order, order, n * sizeof(*order));
	pt->memo_n = n;
	pt->memo_capacity_bps = pt->capacity_bps;
	pt->memo_valid = true;
}

/* Water-fill one port's downlink over the demands it holds, and queue the
 * grants that changed (or are due for a refresh). */
static uint32_t allocate_port(struct tita_ctl *c, uint16_t port, uint64_t now_ns, bool measured,
			      uint32_t n_out)
{
	struct port *pt = &c->ports[port];
	double thr = c->p.rc_ce_threshold * 1e6;
	uint64_t granted = 0, in_force = 0;
	uint32_t n = 0, n_deferred = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (!pr->used || pr->role != TITA_PAIR_RX || pr->port != port)
			continue;
		c->order[n] = s;
		c->entries[n++] = (struct tita_alloc_entry){
			.demand_bps = pr->demand_bps,
			.min_bps = pr->min_bps,
			.max_bps = pr->max_bps,
			.weight = (double)pr->weight_milli / TITA_WEIGHT_ONE,
			.group = job_group(pr, s),
		};
	}
	if (n)
		allocate_memo(pt, c->entries, c->order, n, c->scratch);
	for (uint32_t k = 0; k < n; k++) {
		struct pair *pr = &c->pairs[c->order[k]];
		bool moved;

		pr->granted_bps = c->entries[k].alloc_bps;
		granted += pr->granted_bps;
		if (measured) {
			const struct pair *src = pr->src_slot ? &c->pairs[pr->src_slot - 1] : NULL;

			pr->measured_bps = src ? src->measured_bps : 0;
			pr->ce_ppm = src ? src->ce_ppm : 0;
			/* Only marks that persist on an idle-enough downlink are the
			 * fabric's: a start-up burst drains within a round or two. */
			/* ... and it ends only after as many clean rounds, so that
			 * sporadic marks do not flip the senders' state each round. */
			if (!pt->downlink_busy && pr->ce_ppm > thr) {
				pr->fabric_ce_rounds++;
				pr->fabric_clean_rounds = 0;
			} else {
				pr->fabric_ce_rounds = 0;
				pr->fabric_clean_rounds++;
			}
			if (pr->fabric_ce_rounds >= FABRIC_CE_ROUNDS)
				pr->fabric_ce_ppm = pr->ce_ppm;
			else if (pr->fabric_clean_rounds >= FABRIC_CE_ROUNDS)
				pr->fabric_ce_ppm = 0;
		}
		/*
		 * A grant goes out when it moved, when fabric congestion starts or
		 * ends (the sender's ceiling acts on it every round until told
		 * otherwise), and as a refresh before it expires. A grant that
		 * only shrank waits (below), and so does one that grew for a
		 * pair that neither asked for more nor uses what it has: its
		 * sender is held back by something else. Behind its own uplink,
		 * a larger grant changes nothing; behind congestion in the
		 * fabric, it would lift the reactive ceiling (a fraction of the
		 * grant) while the marks still say it should stay. It goes out
		 * in the round the pair comes up to its grant, or with the
		 * refresh. Without per-source counts (hardware RoCE that the
		 * datapath does not see; a source counted at all counts as
		 * seen) the receiver cannot tell, and sends it.
		 */
		moved = changed(pr->granted_bps, pr->grant_reported_bps, c->p.demand_change_frac);
		pr->grant_deferred = false;
		if (!pr->grant_sent_ns ||
		    (pr->fabric_ce_ppm > thr) != (pr->fabric_ce_reported_ppm > thr) ||
		    now_ns - pr->grant_sent_ns >= c->p.refresh_ns ||
		    (moved && pr->granted_bps > pr->grant_reported_bps &&
		     (pr->demand_bps > pr->grant_demand_bps || !pr->src_slot ||
		      (double)pr->measured_bps >=
			      GRANT_USED_FRAC * (double)pr->grant_reported_bps))) {
			c->outgoing[n_out++] =
				(struct outgoing){ .remote = pr->remote, .slot = c->order[k] };
			in_force += pr->granted_bps;
			continue;
		}
		if (moved && pr->granted_bps < pr->grant_reported_bps) {
			pr->grant_deferred = true;
			n_deferred++;
		}
		in_force += pr->grant_reported_bps;
	}
	/*
	 * A smaller grant matters only when the capacity it frees is given to
	 * someone else: while the grants in force (sent, or still held by the
	 * sender) fit the capacity, the old one overloads nothing, and the
	 * sender (whose demand fell, or the grant would not have) is not
	 * using it anyway; a pair that pauses keeps its grant for when it
	 * resumes, and shares its sender's uplink only with what is spare
	 * (compose_port). Past the capacity every one goes out.
	 */
	if (n_deferred && in_force > pt->capacity_bps)
		for (uint32_t k = 0; k < n; k++)
			if (c->pairs[c->order[k]].grant_deferred)
				c->outgoing[n_out++] =
					(struct outgoing){ .remote = c->pairs[c->order[k]].remote,
							   .slot = c->order[k] };
	pt->granted_bps = granted;
	return n_out;
}

static void receiver_round(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns)
{
	uint32_t n_out = 0;

	measure_ports(c, now_ns, round_ns);
	for (uint32_t port = 0; port < c->n_ports; port++)
		n_out = allocate_port(c, (uint16_t)port, now_ns, true, n_out);
	emit(c, TITA_MSG_GRANT, c->outgoing, n_out, now_ns);
}

/* New demands arrived since the round: grant them now rather than a whole
 * interval later (batched over alloc_batch_ns, so that an incast's demands
 * share one allocation). */
static void early_allocation(struct tita_ctl *c, uint64_t now_ns)
{
	uint32_t n_out = 0;

	for (uint32_t port = 0; port < c->n_ports; port++) {
		if (c->port_needs_alloc[port])
			n_out = allocate_port(c, (uint16_t)port, now_ns, false, n_out);
		c->port_needs_alloc[port] = false;
	}
	emit(c, TITA_MSG_GRANT, c->outgoing, n_out, now_ns);
}

void tita_ctl_advance(struct tita_ctl *c, uint64_t now_ns)
{
	uint64_t round_ns;

	if (c->started && now_ns < c->next_round_ns) {
		if (now_ns >= c->alloc_due_ns) {
			c->alloc_due_ns = TITA_TIME_NEVER;
			early_allocation(c, now_ns);
		}
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
	c->alloc_due_ns = TITA_TIME_NEVER;
	memset(c->port_needs_alloc, 0, c->p.max_ports * sizeof(*c->port_needs_alloc));
	c->nothing_evictable = false;
	c->stats.rounds++;

	expire(c, now_ns);
	receiver_round(c, now_ns, round_ns);
	sender_round(c, now_ns, round_ns);
}

uint64_t tita_ctl_next_round_ns(const struct tita_ctl *c)
{
	return c->started ? c->next_round_ns : 0;
}

uint64_t tita_ctl_next_deadline_ns(const struct tita_ctl *c)
{
	if (!c->started)
		return 0;
	return tita_min_u64(c->next_round_ns, c->alloc_due_ns);
}

/* ---- snapshots ------------------------------------------------------------ */

size_t tita_ctl_n_pairs(const struct tita_ctl *c)
{
	return c->n_pairs;
}

size_t tita_ctl_n_ports(const struct tita_ctl *c)
{
	return c->n_ports;
}

size_t tita_ctl_pairs(const struct tita_ctl *c, struct tita_pair_info *out, size_t max)
{
	size_t n = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		const struct pair *pr = &c->pairs[s];
		struct tita_pair_info info;

		if (!pr->used || (pr->role == ROLE_SOURCE && pr->managed))
			continue;
		info = (struct tita_pair_info){
			.local = pr->local,
			.remote = pr->remote,
			.job_id = pr->role == ROLE_SOURCE ? TITA_JOB_DEFAULT : pr->job_id,
			.role = pr->role == TITA_PAIR_TX ? TITA_PAIR_TX : TITA_PAIR_RX,
			.measured_bps = pr->measured_bps,
			.ce_ppm = pr->ce_ppm,
		};
		switch (pr->role) {
		case TITA_PAIR_TX:
			info.state = pr->state;
			info.demand_bps = pr->demand_bps;
			info.grant_bps = pr->state == TITA_PAIR_GRANTED ? pr->grant_bps : 0;
			info.ceiling_bps = pr->rc_engaged ?
						   (uint64_t)(pr->rc_frac * (double)pr->grant_bps) :
						   c->ports[pr->port].line_rate_bps;
			info.rate_bps = pr->programmed_bps;
			info.cnp_per_sec = pr->cnp_per_sec;
			info.expires_ns = pr->state == TITA_PAIR_FAIL_OPEN ? 0 : pr->expires_ns;
			break;
		case TITA_PAIR_RX:
			info.state = TITA_PAIR_ACTIVE;
			info.demand_bps = pr->demand_bps;
			info.grant_bps = pr->granted_bps;
			info.expires_ns = pr->expires_ns;
			break;
		default:
			info.state = TITA_PAIR_UNMANAGED;
		}
		if (n < max)
			out[n] = info;
		n++;
	}
	return n;
}

size_t tita_ctl_ports(const struct tita_ctl *c, struct tita_port_info *out, size_t max)
{
	for (uint32_t i = 0; i < c->n_ports && i < max; i++) {
		const struct port *pt = &c->ports[i];

		out[i] = (struct tita_port_info){
			.local = pt->local,
			.line_rate_bps = pt->line_rate_bps,
			.eta = pt->eta,
			.capacity_bps = pt->capacity_bps,
			.unmanaged_bps = pt->unmanaged_bps,
			.granted_bps = pt->granted_bps,
			.rx_bps = pt->rx_bps,
			.ce_ppm = pt->ce_ppm,
			.tx_bps = pt->tx_bps,
		};
	}
	return c->n_ports;
}

void tita_ctl_stats(const struct tita_ctl *c, struct tita_ctl_stats *ret_stats)
{
	*ret_stats = c->stats;
}
