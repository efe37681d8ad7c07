// SPDX-License-Identifier: MIT
/*
 * Health evidence (tita/health.h): per-round observations summed over one
 * health interval into per-port ratios, the worst pairs, silent peers and
 * per-job rates, and the Prometheus text of them.
 *
 * A port's gauges are summed per control round first (the samples fed with
 * one now_ns), so that what a round's pairs were allowed together is capped
 * at the port's line rate: several unpaced pairs each "allowed" line rate
 * still share one link, and counting each at line rate would call a port
 * that sends at line rate blocked.
 *
 * A sample says what waits at a round's end, not since when: a transfer
 * posted late in a round (a collective's next step, waiting for the last)
 * would count the whole round's allowance as unsent. So what a TX pair was
 * allowed in a round is what waited at the end of the round before, up to
 * its rate times the round; and an RX pair's grant is owed only when its
 * sender reported a backlog at the end of the round before too. Each
 * pair's last round is remembered for this (struct hflow), within the same
 * bound as the pairs.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tita/ctl.h"
#include "tita/health.h"

_Static_assert(TITA_HEALTH_SPINES_MAX == TITA_SPINES_MAX, "one bound on spines");

struct hport {
	struct tita_addr local;
	uint64_t line_rate_bps;
	bool pause_known, pause_based;
	uint64_t pause_tx_last, pause_rx_last; /* the counters last read */
	uint64_t pause_tx_frames, pause_rx_frames; /* in this interval */

	/* The interval's sums. */
	uint64_t tx_bytes, rx_bytes;
	uint64_t rounds, active_rounds, app_rounds;
	double blocked_allowed, blocked_missing; /* bytes */
	double short_expected, short_missing; /* bytes */
	uint64_t rx_packets, ce_packets, lost_packets, tx_packets, retx_packets;
	/* Per role (tx 0, rx 1) and spine: owed and missing bytes. */
	double sp_owed[2][TITA_HEALTH_SPINES_MAX], sp_missing[2][TITA_HEALTH_SPINES_MAX];
	uint64_t sp_untracked;

	/* The TX round being fed (tx_now: its now_ns). */
	bool tx_round;
	uint64_t tx_now, tx_round_ns;
	bool r_active, r_open;
	double r_bl_allowed, r_bl_sent, r_open_allowed, r_open_sent, r_open_backlog;
	/* The RX round being fed. */
	bool rx_round;
	uint64_t rx_now, rx_round_ns;
	double r_expected, r_got;

	uint32_t peers_silent;
};

struct hpair {
	uint32_t port;
	struct tita_addr remote;
	enum tita_health_role role;
	uint16_t spine;
	double allowed, missing; /* tx: allowed while backlogged; rx: expected */
	uint64_t packets, lost; /* tx: sent, retransmitted; rx: received, lost */
};

struct hpeer {
	bool used;
	uint32_t port;
	struct tita_addr remote;
	uint64_t last_pair_interval;
	uint64_t last_heard_ns;
};

/* A pair's last round: (port, remote, job, role) -> what waited at the end
 * of its round at cur_now, and of the round before (tx: bytes; rx: 1 when
 * its sender reported a backlog). */
struct hflow {
	bool used;
	uint8_t role;
	uint32_t port, job_id;
	struct tita_addr remote;
	uint64_t cur_backlog, before_backlog;
	uint64_t cur_now, interval_seen;
};

struct hjob {
	uint32_t job_id;
	uint64_t tx_bytes, rx_bytes;
};

struct tita_health {
	struct tita_health_params p;
	uint64_t start_ns;
	uint64_t interval; /* how many closed so far */
	uint32_t n_ports;
	struct hport ports[TITA_HEALTH_PORTS_MAX];
	struct hpair *pairs;
	uint32_t n_pairs;
	/* Open-addressing tables, never more than half full: each starts
	 * small and doubles as it fills, up to what the bounds need, so a
	 * host with a few hundred pairs looks up and sweeps a few hundred
	 * slots (cache-resident), not the bound's hundreds of thousands. */
	uint32_t *pair_slots; /* index + 1, 0 empty; pair_mask + 1 of them */
	uint32_t pair_mask, pair_mask_max;
	struct hpeer *peers, *peers_spare;
	uint32_t n_peers, peer_mask, peer_mask_max;
	struct hflow *flows, *flows_spare;
	uint32_t n_flows, flow_mask, flow_mask_max;
	uint32_t n_jobs;
	struct hjob jobs[TITA_HEALTH_JOBS_MAX];
	struct tita_health_untracked untracked;
};

void tita_health_params_default(struct tita_health_params *p)
{
	*p = (struct tita_health_params){
		.round_ns = 100 * TITA_NSEC_PER_USEC,
		.silent_after_ns = 30 * TITA_NSEC_PER_MSEC,
		.silent_window_intervals = 10,
		.worst_pairs = 16,
		.app_slack_ratio = 0.1,
		.max_ports = 4,
		.max_pairs = 4096,
		.max_peers = 1024,
		.max_jobs = 16,
	};
}

int tita_health_params_check(const struct tita_health_params *p)
{
	if (!p || p->round_ns == 0 || p->silent_after_ns == 0 || p->silent_window_intervals == 0 ||
	    p->worst_pairs == 0 || p->worst_pairs > TITA_HEALTH_WORST_MAX ||
	    !(p->app_slack_ratio >= 0 && p->app_slack_ratio < 1) || p->max_ports == 0 ||
	    p->max_ports > TITA_HEALTH_PORTS_MAX || p->max_pairs == 0 ||
	    p->max_pairs > (1u << 24) || p->max_peers == 0 || p->max_peers > (1u << 24) ||
	    p->max_jobs == 0 || p->max_jobs > TITA_HEALTH_JOBS_MAX)
		return -EINVAL;
	return 0;
}

/* A table's first size, less one. */
#define MASK_START 255u

/* The smallest power of two at least twice n, less one: a table that is
 * never more than half full. */
static uint32_t mask_for(uint32_t n)
{
	uint32_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	return cap - 1;
}

struct tita_health *tita_health_new(const struct tita_health_params *p, uint64_t now_ns)
{
	struct tita_health *h;

	if (tita_health_params_check(p)) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->p = *p;
	h->start_ns = now_ns;
	h->pair_mask_max = mask_for(p->max_pairs);
	h->peer_mask_max = mask_for(p->max_peers);
	h->flow_mask_max = h->pair_mask_max;
	h->pair_mask = h->pair_mask_max < MASK_START ? h->pair_mask_max : MASK_START;
	h->peer_mask = h->peer_mask_max < MASK_START ? h->peer_mask_max : MASK_START;
	h->flow_mask = h->pair_mask;
	/* Untouched until used: calloc'd pages cost no memory before. */
	h->pairs = calloc(p->max_pairs, sizeof(*h->pairs));
	h->pair_slots = calloc((size_t)h->pair_mask + 1, sizeof(*h->pair_slots));
	h->peers = calloc((size_t)h->peer_mask + 1, sizeof(*h->peers));
	h->peers_spare = calloc((size_t)h->peer_mask + 1, sizeof(*h->peers_spare));
	h->flows = calloc((size_t)h->flow_mask + 1, sizeof(*h->flows));
	h->flows_spare = calloc((size_t)h->flow_mask + 1, sizeof(*h->flows_spare));
	if (!h->pairs || !h->pair_slots || !h->peers || !h->peers_spare || !h->flows ||
	    !h->flows_spare) {
		tita_health_free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

struct tita_health *tita_health_free(struct tita_health *h)
{
	if (h) {
		free(h->pairs);
		free(h->pair_slots);
		free(h->peers);
		free(h->peers_spare);
		free(h->flows);
		free(h->flows_spare);
		free(h);
	}
	return NULL;
}

static int port_find(const struct tita_health *h, const struct tita_addr *local)
{
	for (uint32_t i = 0; i < h->n_ports; i++)
		if (tita_addr_eq(&h->ports[i].local, local))
			return (int)i;
	return -1;
}

int tita_health_port_set(struct tita_health *h, const struct tita_addr *local,
			 uint64_t line_rate_bps)
{
	int i;

	if (line_rate_bps == 0 || line_rate_bps > TITA_RATE_MAX_BPS)
		return -EINVAL;
	i = port_find(h, local);
	if (i < 0) {
		if (h->n_ports >= h->p.max_ports) {
			h->untracked.ports++;
			return -ENOSPC;
		}
		i = (int)h->n_ports++;
		memset(&h->ports[i], 0, sizeof(h->ports[i]));
		h->ports[i].local = *local;
	}
	h->ports[i].line_rate_bps = line_rate_bps;
	return 0;
}

int tita_health_port_pause(struct tita_health *h, const struct tita_addr *local, bool known,
			   uint64_t pause_tx_frames, uint64_t pause_rx_frames, uint64_t now_ns)
{
	int i = port_find(h, local);
	struct hport *pt;

	(void)now_ns; /* counters are read whenever; the interval is their span */
	if (i < 0)
		return -ENOENT;
	pt = &h->ports[i];
	if (!known) {
		pt->pause_known = false;
		pt->pause_based = false;
		return 0;
	}
	pt->pause_known = true;
	if (pt->pause_based && pause_tx_frames >= pt->pause_tx_last &&
	    pause_rx_frames >= pt->pause_rx_last) {
		pt->pause_tx_frames += pause_tx_frames - pt->pause_tx_last;
		pt->pause_rx_frames += pause_rx_frames - pt->pause_rx_last;
	}
	/* A counter that went backwards (a NIC reset) is a new base. */
	pt->pause_based = true;
	pt->pause_tx_last = pause_tx_frames;
	pt->pause_rx_last = pause_rx_frames;
	return 0;
}

static uint64_t hash_addr(const struct tita_addr *a, uint64_t x)
{
	return tita_addr_hash(a, x);
}

static uint64_t pair_hash(uint32_t port, const struct tita_addr *remote, enum tita_health_role role)
{
	return hash_addr(remote, 0xcbf29ce484222325ull ^ ((uint64_t)port << 8 | role));
}

/* One more entry keeps a table of mask + 1 slots at most half full. */
static bool room_for(uint32_t n, uint32_t mask)
{
	return (uint64_t)2 * (n + 1) <= (uint64_t)mask + 1;
}

/* Doubles the pair slots (0) or says why not (-ENOSPC at the bound,
 * -ENOMEM): the caller then counts the pair untracked. */
static int grow_pairs(struct tita_health *h)
{
	uint32_t mask = 2 * h->pair_mask + 1;
	uint32_t *slots;

	if (h->pair_mask >= h->pair_mask_max)
		return -ENOSPC;
	slots = calloc((size_t)mask + 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (uint32_t k = 0; k < h->n_pairs; k++) {
		const struct hpair *pr = &h->pairs[k];
		uint32_t i = (uint32_t)pair_hash(pr->port, &pr->remote, pr->role) & mask;

		while (slots[i])
			i = (i + 1) & mask;
		slots[i] = k + 1;
	}
	free(h->pair_slots);
	h->pair_slots = slots;
	h->pair_mask = mask;
	return 0;
}

static struct hpair *pair_get(struct tita_health *h, uint32_t port, const struct tita_addr *remote,
			      enum tita_health_role role)
{
	uint64_t x = pair_hash(port, remote, role);

	for (uint32_t i = (uint32_t)x & h->pair_mask;; i = (i + 1) & h->pair_mask) {
		uint32_t s = h->pair_slots[i];
		struct hpair *pr;

		if (s == 0) {
			if (h->n_pairs >= h->p.max_pairs || !room_for(h->n_pairs, h->pair_mask)) {
				if (h->n_pairs < h->p.max_pairs && !grow_pairs(h))
					return pair_get(h, port, remote, role);
				h->untracked.pairs++;
				return NULL;
			}
			h->pair_slots[i] = ++h->n_pairs;
			pr = &h->pairs[h->n_pairs - 1];
			*pr = (struct hpair){ .port = port,
					      .remote = *remote,
					      .role = role,
					      .spine = TITA_HEALTH_SPINE_NONE };
			return pr;
		}
		pr = &h->pairs[s - 1];
		if (pr->port == port && pr->role == role && tita_addr_eq(&pr->remote, remote))
			return pr;
	}
}

static uint64_t peer_hash(uint32_t port, const struct tita_addr *remote)
{
	return hash_addr(remote, 0x84222325cbf29ce4ull ^ port);
}

static struct hpeer *peer_slot(struct hpeer *tab, uint32_t mask, uint32_t port,
			       const struct tita_addr *remote)
{
	uint64_t x = peer_hash(port, remote);

	for (uint32_t i = (uint32_t)x & mask;; i = (i + 1) & mask) {
		struct hpeer *e = &tab[i];

		if (!e->used || (e->port == port && tita_addr_eq(&e->remote, remote)))
			return e;
	}
}

/*
 * Doubles a table of live entries and its spare (0), or says why not
 * (-ENOSPC at the bound, -ENOMEM); reinsert puts a used entry into the
 * new live table.
 */
static int grow_table(void **live, void **spare, uint32_t *mask, uint32_t mask_max, size_t size,
		      void (*reinsert)(void *table, uint32_t mask, const void *entry))
{
	uint32_t new_mask = 2 * *mask + 1;
	void *t = NULL, *sp = NULL;

	if (*mask >= mask_max)
		return -ENOSPC;
	t = calloc((size_t)new_mask + 1, size);
	sp = calloc((size_t)new_mask + 1, size);
	if (!t || !sp) {
		free(t);
		free(sp);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i <= *mask; i++)
		reinsert(t, new_mask, (const char *)*live + (size_t)i * size);
	free(*live);
	free(*spare);
	*live = t;
	*spare = sp;
	*mask = new_mask;
	return 0;
}

static void peer_reinsert(void *table, uint32_t mask, const void *entry)
{
	const struct hpeer *e = entry;

	if (e->used)
		*peer_slot(table, mask, e->port, &e->remote) = *e;
}

static int grow_peers(struct tita_health *h)
{
	return grow_table((void **)&h->peers, (void **)&h->peers_spare, &h->peer_mask,
			  h->peer_mask_max, sizeof(*h->peers), peer_reinsert);
}

/* A pair with the peer was fed: the peer counts for silence from now on,
 * heard first now (a new peer is not silent before it could answer). */
static void peer_touch(struct tita_health *h, uint32_t port, const struct tita_addr *remote,
		       bool heard, uint64_t now_ns)
{
	struct hpeer *e = peer_slot(h->peers, h->peer_mask, port, remote);

	if (!e->used) {
		if (h->n_peers >= h->p.max_peers || !room_for(h->n_peers, h->peer_mask)) {
			if (h->n_peers < h->p.max_peers && !grow_peers(h)) {
				peer_touch(h, port, remote, heard, now_ns);
				return;
			}
			h->untracked.peers++;
			return;
		}
		*e = (struct hpeer){
			.used = true, .port = port, .remote = *remote, .last_heard_ns = now_ns
		};
		h->n_peers++;
	}
	e->last_pair_interval = h->interval;
	if (heard && now_ns > e->last_heard_ns)
		e->last_heard_ns = now_ns;
}

void tita_health_peer_heard(struct tita_health *h, const struct tita_addr *peer, uint64_t now_ns)
{
	for (uint32_t i = 0; i < h->n_ports; i++) {
		struct hpeer *e = peer_slot(h->peers, h->peer_mask, i, peer);

		if (e->used && now_ns > e->last_heard_ns)
			e->last_heard_ns = now_ns;
	}
}

static uint64_t flow_hash(uint32_t port, const struct tita_addr *remote, uint32_t job_id,
			  uint8_t role)
{
	return hash_addr(remote, 0x9e3779b97f4a7c15ull ^ ((uint64_t)job_id << 24) ^
					 ((uint64_t)port << 8 | role));
}

static struct hflow *flow_slot(struct hflow *tab, uint32_t mask, uint32_t port,
			       const struct tita_addr *remote, uint32_t job_id, uint8_t role)
{
	uint64_t x = flow_hash(port, remote, job_id, role);

	for (uint32_t i = (uint32_t)x & mask;; i = (i + 1) & mask) {
		struct hflow *e = &tab[i];

		if (!e->used || (e->port == port && e->job_id == job_id && e->role == role &&
				 tita_addr_eq(&e->remote, remote)))
			return e;
	}
}

static void flow_reinsert(void *table, uint32_t mask, const void *entry)
{
	const struct hflow *e = entry;

	if (e->used)
		*flow_slot(table, mask, e->port, &e->remote, e->job_id, e->role) = *e;
}

static int grow_flows(struct tita_health *h)
{
	return grow_table((void **)&h->flows, (void **)&h->flows_spare, &h->flow_mask,
			  h->flow_mask_max, sizeof(*h->flows), flow_reinsert);
}

/*
 * The pair's round at now_ns ends with backlog waiting; returns what waited
 * when it began: at the end of the pair's round before, if that ended at
 * most 1.5 rounds earlier, else 0. A pair beyond the bound is not
 * remembered: its backlog is taken to have waited since the round began
 * (counted in untracked.flows).
 */
static uint64_t flow_round(struct tita_health *h, uint32_t port, const struct tita_addr *remote,
			   uint32_t job_id, uint8_t role, uint64_t backlog, uint64_t interval_ns,
			   uint64_t now_ns)
{
	struct hflow *e = flow_slot(h->flows, h->flow_mask, port, remote, job_id, role);

	if (!e->used) {
		if (h->n_flows >= h->p.max_pairs || !room_for(h->n_flows, h->flow_mask)) {
			if (h->n_flows < h->p.max_pairs && !grow_flows(h))
				return flow_round(h, port, remote, job_id, role, backlog,
						  interval_ns, now_ns);
			h->untracked.flows++;
			return backlog;
		}
		*e = (struct hflow){ .used = true,
				     .role = role,
				     .port = port,
				     .job_id = job_id,
				     .remote = *remote,
				     .cur_now = now_ns };
		h->n_flows++;
	} else if (e->cur_now != now_ns) {
		bool follows = now_ns > e->cur_now &&
			       now_ns - e->cur_now <= interval_ns + interval_ns / 2;

		e->before_backlog = follows ? e->cur_backlog : 0;
		e->cur_now = now_ns;
	}
	e->cur_backlog = backlog;
	e->interval_seen = h->interval;
	return e->before_backlog;
}

static struct hjob *job_get(struct tita_health *h, uint32_t job_id)
{
	for (uint32_t i = 0; i < h->n_jobs; i++)
		if (h->jobs[i].job_id == job_id)
			return &h->jobs[i];
	if (h->n_jobs >= h->p.max_jobs) {
		h->untracked.jobs++;
		return NULL;
	}
	h->jobs[h->n_jobs] = (struct hjob){ .job_id = job_id };
	return &h->jobs[h->n_jobs++];
}

/* A pair's owed and missing bytes on its spine's line (path_known: the
 * spine its packets take; else the line's). */
static void spine_add(struct hport *pt, int role, bool path_known, uint16_t path_spine,
		      uint16_t spine, double owed, double missing)
{
	uint16_t sp = path_known ? path_spine : spine;

	if (sp == TITA_HEALTH_SPINE_NONE || owed <= 0)
		return;
	if (sp >= TITA_HEALTH_SPINES_MAX) {
		pt->sp_untracked++;
		return;
	}
	pt->sp_owed[role][sp] += owed;
	pt->sp_missing[role][sp] += missing;
}

static double line_bytes(const struct hport *pt, uint64_t interval_ns)
{
	return (double)pt->line_rate_bps * (double)interval_ns / 8e9;
}

static void tx_round_flush(struct tita_health *h, struct hport *pt)
{
	double cap = line_bytes(pt, pt->tx_round_ns);

	if (!pt->tx_round)
		return;
	pt->tx_round = false;
	pt->rounds++;
	pt->active_rounds += pt->r_active;
	if (pt->r_bl_allowed > 0) {
		double a = fmin(pt->r_bl_allowed, cap);

		pt->blocked_allowed += a;
		pt->blocked_missing += fmax(0, a - pt->r_bl_sent);
	}
	/* Open transfers with next to nothing waiting, that sent less than
	 * they were allowed: the application did not keep up. */
	if (pt->r_open) {
		double a = fmin(pt->r_open_allowed, cap);

		if (pt->r_open_backlog <= h->p.app_slack_ratio * a &&
		    pt->r_open_sent < (1 - h->p.app_slack_ratio) * a)
			pt->app_rounds++;
	}
}

static void rx_round_flush(struct hport *pt)
{
	double cap = line_bytes(pt, pt->rx_round_ns);

	if (!pt->rx_round)
		return;
	pt->rx_round = false;
	if (pt->r_expected > 0) {
		double e = fmin(pt->r_expected, cap);

		pt->short_expected += e;
		pt->short_missing += fmax(0, e - pt->r_got);
	}
}

/* An entry's cache lines (it may straddle two). */
static void prefetch_entry(const void *p, size_t size)
{
	__builtin_prefetch(p, 1);
	__builtin_prefetch((const char *)p + size - 1, 1);
}

void tita_health_prefetch(const struct tita_health *h, const struct tita_addr *local,
			  const struct tita_addr *remote, uint32_t job_id,
			  enum tita_health_role role)
{
	int i = port_find(h, local);
	uint32_t port, slot;

	if (i < 0)
		return;
	port = (uint32_t)i;
	prefetch_entry(&h->peers[peer_hash(port, remote) & h->peer_mask], sizeof(*h->peers));
	prefetch_entry(&h->flows[flow_hash(port, remote, job_id, (uint8_t)role) & h->flow_mask],
		       sizeof(*h->flows));
	/* The pair's index slot, and the pair it names when that is in the
	 * cache already (from a prefetch of this sample's slot before). */
	slot = h->pair_slots[pair_hash(port, remote, role) & h->pair_mask];
	if (slot)
		prefetch_entry(&h->pairs[slot - 1], sizeof(*h->pairs));
}

int tita_health_tx_round(struct tita_health *h, const struct tita_health_tx *s, uint64_t now_ns)
{
	int i = port_find(h, &s->local);
	struct hport *pt;
	struct hpair *pr;
	struct hjob *jb;
	double allowed, waited, owed;

	if (i < 0) {
		h->untracked.samples_no_port++;
		return -ENOENT;
	}
	if (s->interval_ns == 0 || s->retx_packets > s->tx_packets)
		return -EINVAL;
	pt = &h->ports[i];
	if (!pt->tx_round || pt->tx_now != now_ns) {
		tx_round_flush(h, pt);
		pt->tx_round = true;
		pt->tx_now = now_ns;
		pt->tx_round_ns = 0;
		pt->r_active = pt->r_open = false;
		pt->r_bl_allowed = pt->r_bl_sent = pt->r_open_allowed = 0;
		pt->r_open_sent = pt->r_open_backlog = 0;
	}
	if (s->interval_ns > pt->tx_round_ns)
		pt->tx_round_ns = s->interval_ns;
	allowed =
		(double)tita_min_u64(s->rate_bps, pt->line_rate_bps) * (double)s->interval_ns / 8e9;
	pt->tx_bytes += s->tx_bytes;
	pt->tx_packets += s->tx_packets;
	pt->retx_packets += s->retx_packets;
	if (s->tx_bytes || s->backlog_bytes)
		pt->r_active = true;
	/* What the pair could have sent of what waited when the round began;
	 * no more than the slack of its allowance (the last bytes of a
	 * message, or what a slow application has just made ready) is not a
	 * sender held back. */
	waited = (double)flow_round(h, (uint32_t)i, &s->remote, s->job_id, TITA_HEALTH_TX,
				    s->backlog_bytes, s->interval_ns, now_ns);
	owed = waited > h->p.app_slack_ratio * allowed ? fmin(waited, allowed) : 0;
	if (owed > 0) {
		pt->r_bl_allowed += owed;
		pt->r_bl_sent += fmin((double)s->tx_bytes, owed);
		spine_add(pt, 0, s->path_known, s->path_spine, s->spine, owed,
			  fmax(0, owed - (double)s->tx_bytes));
	}
	if (s->open) {
		pt->r_open = true;
		pt->r_open_allowed += allowed;
		pt->r_open_sent += (double)s->tx_bytes;
		pt->r_open_backlog += (double)s->backlog_bytes;
	}
	jb = job_get(h, s->job_id);
	if (jb)
		jb->tx_bytes += s->tx_bytes;
	peer_touch(h, (uint32_t)i, &s->remote, false, now_ns);
	pr = pair_get(h, (uint32_t)i, &s->remote, TITA_HEALTH_TX);
	if (pr) {
		if (s->spine != TITA_HEALTH_SPINE_NONE)
			pr->spine = s->spine;
		if (owed > 0) {
			pr->allowed += owed;
			pr->missing += fmax(0, owed - (double)s->tx_bytes);
		}
		pr->packets += s->tx_packets;
		pr->lost += s->retx_packets;
	}
	return 0;
}

int tita_health_rx_round(struct tita_health *h, const struct tita_health_rx *s, uint64_t now_ns)
{
	int i = port_find(h, &s->local);
	struct hport *pt;
	struct hpair *pr;
	struct hjob *jb;

	if (i < 0) {
		h->untracked.samples_no_port++;
		return -ENOENT;
	}
	if (s->interval_ns == 0 || s->ce_packets > s->rx_packets ||
	    s->granted_bps > TITA_RATE_MAX_BPS)
		return -EINVAL;
	pt = &h->ports[i];
	if (!pt->rx_round || pt->rx_now != now_ns) {
		rx_round_flush(pt);
		pt->rx_round = true;
		pt->rx_now = now_ns;
		pt->rx_round_ns = 0;
		pt->r_expected = pt->r_got = 0;
	}
	if (s->interval_ns > pt->rx_round_ns)
		pt->rx_round_ns = s->interval_ns;
	pt->rx_bytes += s->rx_bytes;
	pt->rx_packets += s->rx_packets;
	pt->ce_packets += s->ce_packets;
	pt->lost_packets += s->lost_packets;
	jb = job_get(h, s->job_id);
	if (jb)
		jb->rx_bytes += s->rx_bytes;
	peer_touch(h, (uint32_t)i, &s->remote, s->rx_bytes > 0, now_ns);
	pr = pair_get(h, (uint32_t)i, &s->remote, TITA_HEALTH_RX);
	if (pr) {
		if (s->spine != TITA_HEALTH_SPINE_NONE)
			pr->spine = s->spine;
		pr->packets += s->rx_packets;
		pr->lost += s->lost_packets;
	}
	if (flow_round(h, (uint32_t)i, &s->remote, s->job_id, TITA_HEALTH_RX,
		       s->sender_backlogged && s->granted_bps, s->interval_ns, now_ns) &&
	    s->sender_backlogged && s->granted_bps) {
		double e = (double)s->granted_bps * (double)s->interval_ns / 8e9;

		pt->r_expected += e;
		pt->r_got += (double)s->rx_bytes;
		spine_add(pt, 1, s->path_known, s->path_spine, s->spine, e,
			  fmax(0, e - (double)s->rx_bytes));
		if (pr) {
			pr->allowed += e;
			pr->missing += fmax(0, e - (double)s->rx_bytes);
		}
	}
	return 0;
}

static double ratio(double part, double whole)
{
	return whole > 0 ? fmin(1, fmax(0, part / whole)) : 0;
}

static double pair_loss(const struct hpair *pr)
{
	if (pr->role == TITA_HEALTH_TX)
		return ratio((double)pr->lost, (double)pr->packets);
	return ratio((double)pr->lost, (double)(pr->packets + pr->lost));
}

static int cmp_pair(const void *a, const void *b)
{
	const struct tita_health_pair_gauges *x = a, *y = b;
	int c;

	if (x->shortfall_ratio != y->shortfall_ratio)
		return x->shortfall_ratio > y->shortfall_ratio ? -1 : 1;
	if (x->loss_ratio != y->loss_ratio)
		return x->loss_ratio > y->loss_ratio ? -1 : 1;
	c = memcmp(&x->local, &y->local, sizeof(x->local));
	if (c)
		return c;
	c = memcmp(&x->remote, &y->remote, sizeof(x->remote));
	if (c)
		return c;
	return (int)x->role - (int)y->role;
}

static int cmp_silent(const void *a, const void *b)
{
	const struct tita_health_silent_peer *x = a, *y = b;
	int c;

	if (x->silent_seconds != y->silent_seconds)
		return x->silent_seconds > y->silent_seconds ? -1 : 1;
	c = memcmp(&x->local, &y->local, sizeof(x->local));
	return c ? c : memcmp(&x->remote, &y->remote, sizeof(x->remote));
}

static int cmp_job(const void *a, const void *b)
{
	const struct tita_health_job_gauges *x = a, *y = b;

	return x->job_id < y->job_id ? -1 : x->job_id > y->job_id;
}

/* Keeps the k best of an array sorted by cmp: sorts all; n is small next
 * to a close's other work (max_pairs), and qsort keeps it simple. */
static uint32_t keep_worst(void *base, uint32_t n, size_t size, uint32_t k,
			   int (*cmp)(const void *, const void *))
{
	qsort(base, n, size, cmp);
	return n < k ? n : k;
}

/* Silence: each remembered peer of a port with a pair in the window;
 * those not heard for silent_after_ns are silent. The table is rebuilt
 * without the peers whose window passed. */
static void close_peers(struct tita_health *h, uint64_t now_ns, struct tita_health_silent_peer *all,
			uint32_t *n_all)
{
	uint32_t cap = h->peer_mask + 1, n = 0;

	memset(h->peers_spare, 0, (size_t)cap * sizeof(*h->peers_spare));
	for (uint32_t i = 0; i < cap; i++) {
		struct hpeer *e = &h->peers[i];

		if (!e->used || h->interval - e->last_pair_interval >= h->p.silent_window_intervals)
			continue;
		*peer_slot(h->peers_spare, h->peer_mask, e->port, &e->remote) = *e;
		n++;
		if (now_ns > e->last_heard_ns && now_ns - e->last_heard_ns > h->p.silent_after_ns) {
			h->ports[e->port].peers_silent++;
			all[(*n_all)++] = (struct tita_health_silent_peer){
				.local = h->ports[e->port].local,
				.remote = e->remote,
				.silent_seconds = (double)(now_ns - e->last_heard_ns) / 1e9,
			};
		}
	}
	struct hpeer *t = h->peers;

	h->peers = h->peers_spare;
	h->peers_spare = t;
	h->n_peers = n;
}

int tita_health_close(struct tita_health *h, uint64_t now_ns, struct tita_health_snapshot *ret)
{
	struct tita_health_pair_gauges *pg;
	struct tita_health_silent_peer *sp;
	uint32_t n_sp = 0;
	double secs, rounds_held;

	if (now_ns <= h->start_ns)
		return -EINVAL;
	pg = malloc(((size_t)h->n_pairs + 1) * sizeof(*pg));
	sp = malloc(((size_t)h->n_peers + 1) * sizeof(*sp));
	if (!pg || !sp) {
		free(pg);
		free(sp);
		return -ENOMEM;
	}
	memset(ret, 0, sizeof(*ret));
	ret->start_ns = h->start_ns;
	ret->end_ns = now_ns;
	secs = (double)(now_ns - h->start_ns) / 1e9;
	rounds_held = floor((double)(now_ns - h->start_ns) / (double)h->p.round_ns + 0.5);

	for (uint32_t i = 0; i < h->n_ports; i++) {
		tx_round_flush(h, &h->ports[i]);
		rx_round_flush(&h->ports[i]);
		h->ports[i].peers_silent = 0;
	}
	close_peers(h, now_ns, sp, &n_sp);

	ret->n_ports = h->n_ports;
	for (uint32_t i = 0; i < h->n_ports; i++) {
		struct hport *pt = &h->ports[i];

		for (int r = 0; r < 2; r++)
			for (uint32_t b = 0; b < TITA_HEALTH_SPINES_MAX; b++) {
				if (!(pt->sp_owed[r][b] > 0))
					continue;
				if (ret->n_spine_lines >= TITA_HEALTH_SPINE_LINES_MAX) {
					h->untracked.spine_lines++;
					continue;
				}
				{
					struct tita_health_spine_gauges *g =
						&ret->spine_lines[ret->n_spine_lines++];

					/* ret was zeroed: its padding stays so. */
					g->local = pt->local;
					g->role = r ? TITA_HEALTH_RX : TITA_HEALTH_TX;
					g->spine = (uint16_t)b;
					g->shortfall_ratio =
						ratio(pt->sp_missing[r][b], pt->sp_owed[r][b]);
				}
			}
		h->untracked.spine_lines += pt->sp_untracked;
		pt->sp_untracked = 0;
		memset(pt->sp_owed, 0, sizeof(pt->sp_owed));
		memset(pt->sp_missing, 0, sizeof(pt->sp_missing));
	}
	for (uint32_t i = 0; i < h->n_ports; i++) {
		struct hport *pt = &h->ports[i];
		struct tita_health_port_gauges *g = &ret->ports[i];
		double rounds = fmax(rounds_held, (double)pt->rounds);
		double rx_loss = ratio((double)pt->lost_packets,
				       (double)(pt->rx_packets + pt->lost_packets));
		double tx_loss = ratio((double)pt->retx_packets, (double)pt->tx_packets);

		*g = (struct tita_health_port_gauges){
			.local = pt->local,
			.line_rate_bps = pt->line_rate_bps,
			.tx_bytes_per_second = (double)pt->tx_bytes / secs,
			.rx_bytes_per_second = (double)pt->rx_bytes / secs,
			.tx_active_ratio = ratio((double)pt->active_rounds, rounds),
			.tx_blocked_ratio = ratio(pt->blocked_missing, pt->blocked_allowed),
			.tx_app_limited_ratio = ratio((double)pt->app_rounds, rounds),
			.rx_shortfall_ratio = ratio(pt->short_missing, pt->short_expected),
			.ce_ratio = ratio((double)pt->ce_packets, (double)pt->rx_packets),
			.loss_ratio = fmax(rx_loss, tx_loss),
			.pause_known = pt->pause_known,
			.pause_tx_per_second = (double)pt->pause_tx_frames / secs,
			.pause_rx_per_second = (double)pt->pause_rx_frames / secs,
			.peers_silent = pt->peers_silent,
		};
		/* The next interval: sums cleared, counters' bases and the
		 * port itself kept. */
		pt->tx_bytes = pt->rx_bytes = 0;
		pt->rounds = pt->active_rounds = pt->app_rounds = 0;
		pt->blocked_allowed = pt->blocked_missing = 0;
		pt->short_expected = pt->short_missing = 0;
		pt->rx_packets = pt->ce_packets = pt->lost_packets = 0;
		pt->tx_packets = pt->retx_packets = 0;
		pt->pause_tx_frames = pt->pause_rx_frames = 0;
	}

	for (uint32_t i = 0; i < h->n_pairs; i++) {
		const struct hpair *pr = &h->pairs[i];

		/* Field by field on zeroed bytes: the padding too is the same
		 * whatever the heap held (snapshots compare as bytes). */
		memset(&pg[i], 0, sizeof(pg[i]));
		pg[i].local = h->ports[pr->port].local;
		pg[i].remote = pr->remote;
		pg[i].role = pr->role;
		pg[i].spine = pr->spine;
		pg[i].shortfall_ratio = ratio(pr->missing, pr->allowed);
		pg[i].loss_ratio = pair_loss(pr);
	}
	ret->n_pairs = keep_worst(pg, h->n_pairs, sizeof(*pg), h->p.worst_pairs, cmp_pair);
	memcpy(ret->pairs, pg, ret->n_pairs * sizeof(*pg));
	ret->n_silent = keep_worst(sp, n_sp, sizeof(*sp), h->p.worst_pairs, cmp_silent);
	memcpy(ret->silent, sp, ret->n_silent * sizeof(*sp));
	free(pg);
	free(sp);

	ret->n_jobs = h->n_jobs;
	for (uint32_t i = 0; i < h->n_jobs; i++)
		ret->jobs[i] = (struct tita_health_job_gauges){
			.job_id = h->jobs[i].job_id,
			.tx_bytes_per_second = (double)h->jobs[i].tx_bytes / secs,
			.rx_bytes_per_second = (double)h->jobs[i].rx_bytes / secs,
		};
	qsort(ret->jobs, ret->n_jobs, sizeof(ret->jobs[0]), cmp_job);
	ret->untracked = h->untracked;

	/* Pairs fed in this interval are remembered into the next. */
	{
		uint32_t cap = h->flow_mask + 1, n = 0;
		struct hflow *t;

		memset(h->flows_spare, 0, (size_t)cap * sizeof(*h->flows_spare));
		for (uint32_t i = 0; i < cap; i++) {
			const struct hflow *e = &h->flows[i];

			if (!e->used || e->interval_seen != h->interval)
				continue;
			*flow_slot(h->flows_spare, h->flow_mask, e->port, &e->remote, e->job_id,
				   e->role) = *e;
			n++;
		}
		t = h->flows;
		h->flows = h->flows_spare;
		h->flows_spare = t;
		h->n_flows = n;
	}
	memset(h->pair_slots, 0, ((size_t)h->pair_mask + 1) * sizeof(*h->pair_slots));
	h->n_pairs = 0;
	h->n_jobs = 0;
	memset(&h->untracked, 0, sizeof(h->untracked));
	h->start_ns = now_ns;
	h->interval++;
	return 0;
}

/* ---- Prometheus text ---- */

#define BPS_HELP " In bytes per second (titactl shows bits per second)."

static const struct tita_health_metric_desc metric_table[TITA_HEALTH_N_METRICS] = {
	[TITA_HEALTH_M_TX_BYTES] = { "tita_health_tx_bytes_per_second", "gauge",
				     "Bytes a port sent over the last health interval." BPS_HELP },
	[TITA_HEALTH_M_RX_BYTES] = { "tita_health_rx_bytes_per_second", "gauge",
				     "Bytes a port received over the last health interval." BPS_HELP },
	[TITA_HEALTH_M_TX_ACTIVE] = { "tita_health_tx_active_ratio", "gauge",
				      "Share of the interval's control rounds in which the port "
				      "had something to send." },
	[TITA_HEALTH_M_TX_BLOCKED] = { "tita_health_tx_blocked_ratio", "gauge",
				       "Of the bytes the port's TX pairs were allowed while they had "
				       "backlog, the share not sent: a sender that cannot send." },
	[TITA_HEALTH_M_TX_APP_LIMITED] = { "tita_health_tx_app_limited_ratio", "gauge",
					   "Share of the interval's control rounds in which open "
					   "transfers sent below their paced rate with no backlog: "
					   "the application feeds slower than the network allows." },
	[TITA_HEALTH_M_RX_SHORTFALL] = { "tita_health_rx_shortfall_ratio", "gauge",
					 "Of the bytes the port granted to senders with backlog, the "
					 "share that did not arrive." },
	[TITA_HEALTH_M_CE] = { "tita_health_ce_ratio", "gauge",
			       "CE-marked share of the packets a port received." },
	[TITA_HEALTH_M_LOSS] = { "tita_health_loss_ratio", "gauge",
				 "Share of packets lost or out of sequence (receive side) or "
				 "retransmitted (send side), the larger." },
	[TITA_HEALTH_M_PAUSE_TX] = { "tita_health_pause_tx_per_second", "gauge",
				     "PFC pause frames the NIC emitted, per second." },
	[TITA_HEALTH_M_PAUSE_RX] = { "tita_health_pause_rx_per_second", "gauge",
				     "PFC pause frames the NIC received, per second." },
	[TITA_HEALTH_M_PEERS_SILENT] = { "tita_health_peers_silent", "gauge",
					 "Peers with pairs on the port in the last intervals that "
					 "sent nothing for over 3 grant TTLs." },
	[TITA_HEALTH_M_PAIR_SHORTFALL] = { "tita_health_pair_shortfall_ratio", "gauge",
					   "A worst pair's shortfall (tx: blocked ratio; rx: share "
					   "of its grant that did not arrive)." },
	[TITA_HEALTH_M_PAIR_LOSS] = { "tita_health_pair_loss_ratio", "gauge",
				      "A worst pair's share of packets lost (rx) or retransmitted "
				      "(tx)." },
	[TITA_HEALTH_M_PEER_SILENT_SECONDS] = { "tita_health_peer_silent_seconds", "gauge",
						"How long a silent peer has sent nothing." },
	[TITA_HEALTH_M_JOB_TX_BYTES] = { "tita_health_job_tx_bytes_per_second", "gauge",
					 "Bytes a job's pairs on this host sent over the last "
					 "health interval." BPS_HELP },
	[TITA_HEALTH_M_JOB_RX_BYTES] = { "tita_health_job_rx_bytes_per_second", "gauge",
					 "Bytes a job's pairs on this host received over the last "
					 "health interval." BPS_HELP },
	[TITA_HEALTH_M_UNTRACKED] = { "tita_health_untracked", "gauge",
				      "Inputs of the last health interval beyond the health "
				      "bounds, by what (counted, not in the other gauges' lines)." },
	[TITA_HEALTH_M_SPINE_SHORTFALL] = { "tita_health_spine_shortfall_ratio", "gauge",
					    "Of the bytes the port's pairs through one spine were "
					    "owed (tx: allowed while backlogged; rx: granted while "
					    "the sender had more), the share that did not go or "
					    "arrive." },
};

const struct tita_health_metric_desc *tita_health_metric_desc(enum tita_health_metric m)
{
	if ((unsigned)m >= TITA_HEALTH_N_METRICS)
		return NULL;
	return &metric_table[m];
}

/* Like snprintf into buf: len counts everything, what fits is written. */
struct out {
	char *buf;
	size_t size, len;
};

static void put_n(struct out *o, const char *s, size_t n)
{
	if (o->len < o->size) {
		size_t room = o->size - o->len;

		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void put(struct out *o, const char *s)
{
	put_n(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char d[24];
	int n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_n(o, d + sizeof(d) - n, (size_t)n);
}

/* A gauge value: whole for rates, with 6 decimals for ratios and seconds. */
static void put_value(struct out *o, double v, int decimals)
{
	uint64_t scale = decimals ? 1000000 : 1, x;

	if (!(v >= 0))
		v = 0; /* no gauge here is negative; NaN would be a bug shown as 0 */
	if (v > 1e18 / (double)scale) {
		put(o, "1e+18");
		return;
	}
	x = (uint64_t)llround(v * (double)scale);
	put_u64(o, x / scale);
	if (decimals) {
		char f[8];
		uint64_t r = x % scale;

		for (int i = 5; i >= 0; i--, r /= 10)
			f[i] = (char)('0' + r % 10);
		f[6] = '\0';
		put(o, ".");
		put(o, f);
	}
}

static void put_plain(struct out *o, const char *s)
{
	for (; *s; s++) {
		char c = *s;

		if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e || c == '"' || c == '\\')
			c = '_';
		put_n(o, &c, 1);
	}
}

static const char *addr_text(const struct tita_addr *a, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	struct out o = { buf, size - 1, 0 };

	if (tita_addr_is_ipv4(a)) {
		for (int i = 12; i < 16; i++) {
			if (i > 12)
				put(&o, ".");
			put_u64(&o, a->bytes[i]);
		}
	} else {
		for (int i = 0; i < 16; i++) {
			if (i && i % 2 == 0)
				put(&o, ":");
			put_n(&o, &hex[a->bytes[i] >> 4], 1);
			put_n(&o, &hex[a->bytes[i] & 15], 1);
		}
	}
	buf[o.len < size - 1 ? o.len : size - 1] = '\0';
	return buf;
}

static const char *name_port(const struct tita_health_namer *nm, const struct tita_addr *a,
			     char *buf, size_t size)
{
	if (nm && nm->port)
		return nm->port(nm->ctx, a, buf, size);
	return addr_text(a, buf, size);
}

static const char *name_peer(const struct tita_health_namer *nm, const struct tita_addr *a,
			     char *buf, size_t size)
{
	if (nm && nm->peer)
		return nm->peer(nm->ctx, a, buf, size);
	return addr_text(a, buf, size);
}

static const char *name_job(const struct tita_health_namer *nm, uint32_t job, char *buf,
			    size_t size)
{
	struct out o = { buf, size - 1, 0 };

	if (nm && nm->job)
		return nm->job(nm->ctx, job, buf, size);
	put_u64(&o, job);
	buf[o.len < size - 1 ? o.len : size - 1] = '\0';
	return buf;
}

static bool label_name_ok(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* name{caller's labels,k1="v1",...} value */
static void sample(struct out *o, enum tita_health_metric m, const struct tita_health_source *src,
		   const char *const *kv, size_t n_kv, double v, int decimals)
{
	bool first = true;

	put(o, metric_table[m].name);
	put(o, "{");
	for (size_t i = 0; i < src->n_labels; i++) {
		put(o, first ? "" : ",");
		first = false;
		put(o, src->labels[i].name);
		put(o, "=\"");
		put_plain(o, src->labels[i].value ? src->labels[i].value : "");
		put(o, "\"");
	}
	for (size_t i = 0; i + 1 < n_kv; i += 2) {
		put(o, first ? "" : ",");
		first = false;
		put(o, kv[i]);
		put(o, "=\"");
		put_plain(o, kv[i + 1]);
		put(o, "\"");
	}
	put(o, "} ");
	put_value(o, v, decimals);
	put(o, "\n");
}

static double port_value(const struct tita_health_port_gauges *g, enum tita_health_metric m)
{
	switch (m) {
	case TITA_HEALTH_M_TX_BYTES:
		return g->tx_bytes_per_second;
	case TITA_HEALTH_M_RX_BYTES:
		return g->rx_bytes_per_second;
	case TITA_HEALTH_M_TX_ACTIVE:
		return g->tx_active_ratio;
	case TITA_HEALTH_M_TX_BLOCKED:
		return g->tx_blocked_ratio;
	case TITA_HEALTH_M_TX_APP_LIMITED:
		return g->tx_app_limited_ratio;
	case TITA_HEALTH_M_RX_SHORTFALL:
		return g->rx_shortfall_ratio;
	case TITA_HEALTH_M_CE:
		return g->ce_ratio;
	case TITA_HEALTH_M_LOSS:
		return g->loss_ratio;
	case TITA_HEALTH_M_PAUSE_TX:
		return g->pause_tx_per_second;
	case TITA_HEALTH_M_PAUSE_RX:
		return g->pause_rx_per_second;
	case TITA_HEALTH_M_PEERS_SILENT:
		return g->peers_silent;
	default:
		return 0;
	}
}

#define NAME_MAX_LEN 128

static void family_samples(struct out *o, enum tita_health_metric m,
			   const struct tita_health_source *src)
{
	const struct tita_health_snapshot *s = src->snap;
	const struct tita_health_namer *nm = src->namer;
	char port[NAME_MAX_LEN], peer[NAME_MAX_LEN], job[NAME_MAX_LEN], spine[8];

	switch (m) {
	case TITA_HEALTH_M_PAIR_SHORTFALL:
	case TITA_HEALTH_M_PAIR_LOSS:
		for (uint32_t i = 0; i < s->n_pairs; i++) {
			const struct tita_health_pair_gauges *g = &s->pairs[i];
			struct out so = { spine, sizeof(spine) - 1, 0 };
			const char *kv[8] = {
				"port",	 name_port(nm, &g->local, port, sizeof(port)),
				"peer",	 name_peer(nm, &g->remote, peer, sizeof(peer)),
				"role",	 g->role == TITA_HEALTH_TX ? "tx" : "rx",
				"spine", spine,
			};

			put_u64(&so, g->spine);
			spine[so.len] = '\0';
			sample(o, m, src, kv, g->spine == TITA_HEALTH_SPINE_NONE ? 6 : 8,
			       m == TITA_HEALTH_M_PAIR_LOSS ? g->loss_ratio : g->shortfall_ratio,
			       6);
		}
		return;
	case TITA_HEALTH_M_SPINE_SHORTFALL:
		for (uint32_t i = 0; i < s->n_spine_lines; i++) {
			const struct tita_health_spine_gauges *g = &s->spine_lines[i];
			struct out so = { spine, sizeof(spine) - 1, 0 };
			const char *kv[6] = {
				"port",	 name_port(nm, &g->local, port, sizeof(port)),
				"role",	 g->role == TITA_HEALTH_TX ? "tx" : "rx",
				"spine", spine,
			};

			put_u64(&so, g->spine);
			spine[so.len] = '\0';
			sample(o, m, src, kv, 6, g->shortfall_ratio, 6);
		}
		return;
	case TITA_HEALTH_M_PEER_SILENT_SECONDS:
		for (uint32_t i = 0; i < s->n_silent; i++) {
			const char *kv[4] = {
				"port",
				name_port(nm, &s->silent[i].local, port, sizeof(port)),
				"peer",
				name_peer(nm, &s->silent[i].remote, peer, sizeof(peer)),
			};

			sample(o, m, src, kv, 4, s->silent[i].silent_seconds, 6);
		}
		return;
	case TITA_HEALTH_M_JOB_TX_BYTES:
	case TITA_HEALTH_M_JOB_RX_BYTES:
		for (uint32_t i = 0; i < s->n_jobs; i++) {
			const char *kv[2] = { "tita_job",
					      name_job(nm, s->jobs[i].job_id, job, sizeof(job)) };

			sample(o, m, src, kv, 2,
			       m == TITA_HEALTH_M_JOB_TX_BYTES ? s->jobs[i].tx_bytes_per_second :
								 s->jobs[i].rx_bytes_per_second,
			       0);
		}
		return;
	case TITA_HEALTH_M_UNTRACKED: {
		const struct {
			const char *what;
			uint64_t n;
		} u[] = {
			{ "samples_no_port", s->untracked.samples_no_port },
			{ "pairs", s->untracked.pairs },
			{ "peers", s->untracked.peers },
			{ "jobs", s->untracked.jobs },
			{ "ports", s->untracked.ports },
			{ "flows", s->untracked.flows },
			{ "spine_lines", s->untracked.spine_lines },
		};

		for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
			const char *kv[2] = { "what", u[i].what };

			if (u[i].n)
				sample(o, m, src, kv, 2, (double)u[i].n, 0);
		}
		return;
	}
	default:
		break;
	}
	for (uint32_t i = 0; i < s->n_ports; i++) {
		const struct tita_health_port_gauges *g = &s->ports[i];
		const char *kv[2] = { "port", name_port(nm, &g->local, port, sizeof(port)) };
		bool rate = m == TITA_HEALTH_M_TX_BYTES || m == TITA_HEALTH_M_RX_BYTES ||
			    m == TITA_HEALTH_M_PEERS_SILENT;

		if ((m == TITA_HEALTH_M_PAUSE_TX || m == TITA_HEALTH_M_PAUSE_RX) && !g->pause_known)
			continue;
		sample(o, m, src, kv, 2, port_value(g, m), rate ? 0 : 6);
	}
}

size_t tita_health_format(const struct tita_health_source *src, size_t n, char *buf, size_t size)
{
	struct out o = { buf, size ? size - 1 : 0, 0 };

	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < src[k].n_labels; i++)
			if (!label_name_ok(src[k].labels[i].name)) {
				if (size)
					buf[0] = '\0';
				return (size_t)-1;
			}
	for (int m = 0; m < TITA_HEALTH_N_METRICS; m++) {
		put(&o, "# HELP ");
		put(&o, metric_table[m].name);
		put(&o, " ");
		put(&o, metric_table[m].help);
		put(&o, "\n# TYPE ");
		put(&o, metric_table[m].name);
		put(&o, " ");
		put(&o, metric_table[m].type);
		put(&o, "\n");
		for (size_t k = 0; k < n; k++)
			family_samples(&o, (enum tita_health_metric)m, &src[k]);
	}
	if (size)
		buf[o.len < size - 1 ? o.len : size - 1] = '\0';
	return o.len;
}
