// SPDX-License-Identifier: MIT
/*
 * titad's health evidence (see health.h): the join of one round's samples
 * with the controller's pairs, into lib/health.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "tita/fabric.h"

_Static_assert(TITA_SPINE_NONE == TITA_HEALTH_SPINE_NONE, "one 'no spine' value");

/*
 * lib/health is fed per health round, not per control round: a control
 * round of titad is 1 ms, in which a 200 Mbit/s pair moves a dozen packets
 * and the datapath's reads land a packet or two either side; a round that
 * got two rounds' bytes and one that got none would read as 50 % shortfall
 * when nothing was missing. A health round sums TITAD_HEALTH_ROUND_NS of
 * control rounds per pair first.
 */
#define HEALTH_ROUND_MIN_NS (10ull * 1000 * 1000)
/* How many accumulators ahead flush_window asks lib/health for the next
 * one's table entries: each misses the cache (they are touched once a
 * health round), and misses started this far apart overlap. */
#define PREFETCH_AHEAD 8
/* Packets the NIC must have received in an interval before the datapath's
 * share of them says anything. */
#define NIC_RX_MIN_PACKETS 1000

/* One pair's sums over a health round. TX pairs are (local, remote, job);
 * RX pairs (local, remote): the datapath measures a remote, not a job. */
struct acc {
	struct tita_addr local, remote;
	uint32_t job_id;
	bool rx;
	uint16_t spine;
	uint16_t path_spine; /* tita_pair_info.path_spine: the per-spine gauges */
	uint64_t interval_ns;
	/* TX */
	uint64_t tx_bytes, backlog_max_bytes;
	/* Datapath samples count bytes as they enter the pacer's queue: what
	 * left is what entered less what the queue grew by, from the last
	 * backlog seen (kept across health rounds while the pair sends). */
	bool has_prev_backlog, touched;
	uint64_t prev_backlog_bytes;
	double allowed_bits; /* sum of min(rate, line) x round */
	bool open;
	/* RX */
	uint32_t rx_job_id; /* the job of its first granted pair */
	uint64_t rx_bytes, rx_packets, ce_packets, lost_packets;
	double expected_bits; /* sum of grant x round, over the rounds the sender had more */
	bool backlogged;
	uint64_t r_grant_bps; /* granted at the window's end, its jobs summed */
};

struct titad_health {
	struct tita_health *lib;
	uint64_t interval_ns, health_round_ns;
	uint32_t n_ports;
	struct tita_addr ports[TITAD_MAX_PORTS];
	uint64_t line_rates[TITAD_MAX_PORTS];
	/* RX packets the datapath and the NIC counted over the interval: on
	 * hardware RoCE the datapath sees none of them, and grants that
	 * "did not arrive" would be the datapath's blindness, not a sender's
	 * fault. rx_blind: the last interval said so; its RX pairs claim no
	 * shortfall then. */
	uint64_t dp_rx_packets[TITAD_MAX_PORTS], nic_rx_packets[TITAD_MAX_PORTS];
	bool rx_blind[TITAD_MAX_PORTS];
	struct tita_health_snapshot snap;
	bool has_snap;
	uint64_t rounds, window_start_ns;

	/* Pairs of this control round by (local, remote, job): slots hold
	 * index + 1 (0: empty). */
	uint32_t *pair_slots;
	size_t pair_cap;
	/* The health round's accumulators, and their index. */
	struct acc *accs;
	size_t n_accs, cap_accs, max_accs;
	uint32_t *acc_slots;
	size_t acc_slot_cap;
	uint64_t accs_dropped;
};

static uint64_t hash_key(const struct tita_addr *local, const struct tita_addr *remote,
			 uint32_t job, bool rx)
{
	return tita_addr_hash(remote, tita_addr_hash(local, ((uint64_t)job << 1) | rx));
}

/* Slots for n entries (a power of two, at least 2n), all empty. */
static int slots_reset(uint32_t **slots, size_t *cap, size_t n)
{
	size_t want = 16;

	while (want < 2 * n)
		want *= 2;
	if (want > *cap) {
		uint32_t *p = realloc(*slots, want * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*slots = p;
		*cap = want;
	}
	memset(*slots, 0, *cap * sizeof(**slots));
	return 0;
}

static int port_of(const struct titad_health *h, const struct tita_addr *local)
{
	for (uint32_t i = 0; i < h->n_ports; i++)
		if (tita_addr_eq(&h->ports[i], local))
			return (int)i;
	return -1;
}

static uint64_t effective_rate(const struct titad_health *h, const struct tita_addr *local,
			       uint64_t rate_bps)
{
	int i = port_of(h, local);
	uint64_t line = i >= 0 ? h->line_rates[i] : 0;

	if (rate_bps == TITA_RATE_UNPACED || (line && rate_bps > line))
		return line ? line : rate_bps;
	return rate_bps;
}

/* The accumulator of a key, created; NULL when the health round holds
 * max_accs already (counted). */
static struct acc *acc_get(struct titad_health *h, const struct tita_addr *local,
			   const struct tita_addr *remote, uint32_t job, bool rx)
{
	size_t mask = h->acc_slot_cap - 1;
	size_t s = (size_t)hash_key(local, remote, job, rx) & mask;
	struct acc *a;

	for (;; s = (s + 1) & mask) {
		uint32_t v = h->acc_slots[s];

		if (!v)
			break;
		a = &h->accs[v - 1];
		if (a->job_id == job && a->rx == rx && tita_addr_eq(&a->local, local) &&
		    tita_addr_eq(&a->remote, remote))
			return a;
	}
	if (h->n_accs >= h->max_accs) {
		h->accs_dropped++;
		return NULL;
	}
	if (h->n_accs >= h->cap_accs) {
		size_t cap = h->cap_accs ? 2 * h->cap_accs : 256;
		struct acc *p;

		if (cap > h->max_accs)
			cap = h->max_accs;
		p = realloc(h->accs, cap * sizeof(*p));
		if (!p) {
			h->accs_dropped++;
			return NULL;
		}
		h->accs = p;
		h->cap_accs = cap;
	}
	a = &h->accs[h->n_accs++];
	memset(a, 0, sizeof(*a));
	a->local = *local;
	a->remote = *remote;
	a->job_id = job;
	a->rx = rx;
	a->spine = TITA_SPINE_NONE;
	a->path_spine = TITA_SPINE_NONE;
	a->rx_job_id = TITA_JOB_DEFAULT;
	h->acc_slots[s] = (uint32_t)h->n_accs;
	return a;
}

/* The health round's sums into lib/health, as one round at now_ns. */
static void flush_window(struct titad_health *h, uint64_t now_ns)
{
	for (size_t k = 0; k < h->n_accs; k++) {
		const struct acc *a = &h->accs[k];
		double secs = (double)a->interval_ns / 1e9;

		if (k + PREFETCH_AHEAD < h->n_accs) {
			const struct acc *next = &h->accs[k + PREFETCH_AHEAD];

			tita_health_prefetch(h->lib, &next->local, &next->remote,
					     next->rx ? next->rx_job_id : next->job_id,
					     next->rx ? TITA_HEALTH_RX : TITA_HEALTH_TX);
		}
		if (!a->interval_ns)
			continue;
		if (!a->rx) {
			struct tita_health_tx t = {
				.local = a->local,
				.remote = a->remote,
				.job_id = a->job_id,
				.interval_ns = a->interval_ns,
				.tx_bytes = a->tx_bytes,
				.backlog_bytes = a->backlog_max_bytes,
				.rate_bps = (uint64_t)(a->allowed_bits / secs),
				.open = a->open,
				.spine = a->spine,
				.path_known = true,
				.path_spine = a->path_spine,
			};

			tita_health_tx_round(h->lib, &t, now_ns);
		} else {
			struct tita_health_rx r = {
				.local = a->local,
				.remote = a->remote,
				.job_id = a->rx_job_id,
				.interval_ns = a->interval_ns,
				.rx_bytes = a->rx_bytes,
				.rx_packets = a->rx_packets,
				.ce_packets = a->ce_packets,
				.lost_packets = a->lost_packets,
				.granted_bps = (uint64_t)(a->expected_bits / secs),
				.sender_backlogged = a->backlogged,
				.spine = a->spine,
				.path_known = true,
				.path_spine = a->path_spine,
			};

			if (r.granted_bps > TITA_RATE_MAX_BPS)
				r.granted_bps = TITA_RATE_MAX_BPS;
			tita_health_rx_round(h->lib, &r, now_ns);
		}
	}
	/* The TX pairs that sent in this round stay, their sums cleared, for
	 * their last backlog; the rest go. */
	{
		size_t kept = 0, mask = h->acc_slot_cap - 1;

		memset(h->acc_slots, 0, h->acc_slot_cap * sizeof(*h->acc_slots));
		for (size_t k = 0; k < h->n_accs; k++) {
			struct acc a = h->accs[k];
			size_t slot;

			if (a.rx || !a.touched || !a.has_prev_backlog)
				continue;
			memset(&h->accs[kept], 0, sizeof(h->accs[kept]));
			h->accs[kept].local = a.local;
			h->accs[kept].remote = a.remote;
			h->accs[kept].job_id = a.job_id;
			h->accs[kept].spine = TITA_SPINE_NONE;
			h->accs[kept].path_spine = TITA_SPINE_NONE;
			h->accs[kept].rx_job_id = TITA_JOB_DEFAULT;
			h->accs[kept].has_prev_backlog = true;
			h->accs[kept].prev_backlog_bytes = a.prev_backlog_bytes;
			slot = (size_t)hash_key(&a.local, &a.remote, a.job_id, false) & mask;
			while (h->acc_slots[slot])
				slot = (slot + 1) & mask;
			h->acc_slots[slot] = (uint32_t)++kept;
		}
		h->n_accs = kept;
	}
	h->window_start_ns = now_ns;
}

int titad_health_open(struct titad_health **ret, const struct titad_config *cfg,
		      const struct tita_addr *ports, const uint64_t *line_rates, uint32_t n,
		      uint64_t now_ns, char *err, size_t err_size)
{
	struct titad_health *h = calloc(1, sizeof(*h));
	struct tita_health_params p;
	uint64_t ttl3 = 3 * cfg->params.grant_ttl_ns, hello3 = 3 * TITAD_HEALTH_HELLO_NS;

	*ret = h;
	if (!h)
		return -ENOMEM;
	tita_health_params_default(&p);
	h->health_round_ns = cfg->params.control_interval_ns > HEALTH_ROUND_MIN_NS ?
				     cfg->params.control_interval_ns :
				     HEALTH_ROUND_MIN_NS;
	p.round_ns = h->health_round_ns;
	/* The schema's "3 grant TTLs", but never less than three hellos: a
	 * peer whose pairs just ended is heard only once a second. */
	p.silent_after_ns = ttl3 > hello3 ? ttl3 : hello3;
	p.worst_pairs = cfg->health_pairs;
	p.max_ports = n ? n : 1;
	p.max_pairs = cfg->params.max_pairs ? cfg->params.max_pairs : p.max_pairs;
	p.max_peers = cfg->max_peers ? cfg->max_peers : p.max_peers;
	if (p.max_jobs < TITA_HEALTH_JOBS_MAX)
		p.max_jobs = TITA_HEALTH_JOBS_MAX;
	if (tita_health_params_check(&p)) {
		snprintf(err, err_size, "health: parameters refused (interval %llu ns, pairs %u)",
			 (unsigned long long)cfg->health_interval_ns, cfg->health_pairs);
		return -EINVAL;
	}
	h->lib = tita_health_new(&p, now_ns);
	if (!h->lib) {
		int r = -errno;

		snprintf(err, err_size, "health: %s", strerror(-r));
		return r;
	}
	h->interval_ns = cfg->health_interval_ns;
	h->window_start_ns = now_ns;
	h->n_ports = n;
	for (uint32_t i = 0; i < n; i++) {
		h->ports[i] = ports[i];
		h->line_rates[i] = line_rates[i];
		tita_health_port_set(h->lib, &ports[i], line_rates[i]);
	}
	/* Every pair the controller may hold, and as many remotes only the
	 * datapath saw. */
	h->max_accs = 2 * (size_t)p.max_pairs;
	if (slots_reset(&h->acc_slots, &h->acc_slot_cap, 1024)) {
		snprintf(err, err_size, "health: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

struct titad_health *titad_health_close_all(struct titad_health *h)
{
	if (!h)
		return NULL;
	tita_health_free(h->lib);
	free(h->pair_slots);
	free(h->accs);
	free(h->acc_slots);
	free(h);
	return NULL;
}

void titad_health_port_rate(struct titad_health *h, const struct tita_addr *local,
			    uint64_t line_rate_bps)
{
	int i = port_of(h, local);

	if (i >= 0)
		h->line_rates[i] = line_rate_bps;
	tita_health_port_set(h->lib, local, line_rate_bps);
}

/* The pair of (local, remote, job) among the window's pairs, or NULL. */
static const struct tita_pair_info *pair_find(const struct titad_health *h,
					      const struct tita_pair_info *pairs,
					      const struct tita_addr *local,
					      const struct tita_addr *remote, uint32_t job)
{
	size_t mask = h->pair_cap - 1;

	for (size_t s = (size_t)hash_key(local, remote, job, false) & mask;; s = (s + 1) & mask) {
		uint32_t v = h->pair_slots[s];
		const struct tita_pair_info *p;

		if (!v)
			return NULL;
		p = &pairs[v - 1];
		if (p->job_id == job && tita_addr_eq(&p->local, local) &&
		    tita_addr_eq(&p->remote, remote))
			return p;
	}
}

static void pair_index(struct titad_health *h, const struct tita_pair_info *pairs, size_t n)
{
	size_t mask = h->pair_cap - 1;

	for (size_t k = 0; k < n; k++) {
		const struct tita_pair_info *p = &pairs[k];
		size_t s;

		if (p->role != TITA_PAIR_TX)
			continue;
		s = (size_t)hash_key(&p->local, &p->remote, p->job_id, false) & mask;
		while (h->pair_slots[s])
			s = (s + 1) & mask;
		h->pair_slots[s] = (uint32_t)(k + 1);
	}
}

/* Room in the accumulators' index for n more keys (rebuilt larger over
 * the live ones when needed). -ENOMEM. */
static int acc_room(struct titad_health *h, size_t n)
{
	size_t live = h->n_accs;

	if (h->acc_slot_cap >= 2 * (live + n))
		return 0;
	if (slots_reset(&h->acc_slots, &h->acc_slot_cap, live + n))
		return -ENOMEM;
	h->n_accs = 0;
	for (size_t k = 0; k < live; k++) {
		struct acc copy = h->accs[k];
		struct acc *a = acc_get(h, &copy.local, &copy.remote, copy.job_id, copy.rx);

		if (a)
			*a = copy;
	}
	return 0;
}

static void tx_sample(struct titad_health *h, const struct tita_tx_sample *t, bool queued)
{
	struct acc *a;
	uint64_t sent = t->tx_bytes;

	if (!t->interval_ns)
		return;
	a = acc_get(h, &t->local, &t->remote, t->job_id, false);
	if (!a)
		return;
	if (queued) {
		/* A pair seen first (or again, after a health round without a
		 * sample: nothing entered, nothing waited) starts from an empty
		 * queue. */
		uint64_t in = t->tx_bytes + a->prev_backlog_bytes;

		sent = in > t->backlog_bytes ? in - t->backlog_bytes : 0;
		a->has_prev_backlog = true;
		a->prev_backlog_bytes = t->backlog_bytes;
	}
	a->touched = true;
	a->interval_ns += t->interval_ns;
	a->tx_bytes += sent;
	if (t->backlog_bytes > a->backlog_max_bytes)
		a->backlog_max_bytes = t->backlog_bytes;
	/* What the host shows of a transfer: bytes that left or wait,
	 * until a source that knows says it is done. */
	if ((t->tx_bytes || t->backlog_bytes) && !t->done)
		a->open = true;
}

void titad_health_samples(struct titad_health *h, const struct tita_tx_sample *tx_queued,
			  size_t n_queued, const struct tita_tx_sample *tx_sent, size_t n_sent,
			  const struct tita_rx_sample *rx, size_t n_rx, uint64_t now_ns)
{
	(void)now_ns;
	h->rounds++;
	if (acc_room(h, n_queued + n_sent + n_rx))
		return; /* out of memory: the pass is not fed */
	for (size_t k = 0; k < n_queued; k++)
		tx_sample(h, &tx_queued[k], true);
	for (size_t k = 0; k < n_sent; k++)
		tx_sample(h, &tx_sent[k], false);
	for (size_t k = 0; k < n_rx; k++) {
		struct acc *a = acc_get(h, &rx[k].local, &rx[k].remote, 0, true);
		int i = port_of(h, &rx[k].local);

		if (i >= 0)
			h->dp_rx_packets[i] += rx[k].rx_packets;
		if (!a)
			continue;
		a->rx_bytes += rx[k].rx_bytes;
		a->rx_packets += rx[k].rx_packets;
		a->ce_packets += rx[k].ce_packets;
		a->lost_packets += rx[k].lost_packets;
	}
}

bool titad_health_window_due(const struct titad_health *h, uint64_t now_ns)
{
	return now_ns - h->window_start_ns >= h->health_round_ns;
}

void titad_health_window(struct titad_health *h, const struct tita_pair_info *pairs, size_t n_pairs,
			 uint64_t now_ns)
{
	uint64_t window_ns = now_ns > h->window_start_ns ? now_ns - h->window_start_ns : 0;
	size_t n_rx_pairs = 0;

	for (size_t k = 0; k < n_pairs; k++)
		n_rx_pairs += pairs[k].role == TITA_PAIR_RX;
	if (slots_reset(&h->pair_slots, &h->pair_cap, n_pairs) || acc_room(h, n_rx_pairs)) {
		flush_window(h, now_ns); /* out of memory: what was summed, without rates */
		return;
	}
	pair_index(h, pairs, n_pairs);

	/* TX: each pair's programmed rate (the controller's, at the window's
	 * end: it changes at most once a refresh) over the time it was
	 * sampled; a pair the controller does not hold (its table full) runs
	 * unpaced, at line rate. */
	for (size_t k = 0; k < h->n_accs; k++) {
		struct acc *a = &h->accs[k];
		const struct tita_pair_info *p;

		if (a->rx)
			continue;
		p = pair_find(h, pairs, &a->local, &a->remote, a->job_id);
		a->allowed_bits =
			(double)effective_rate(h, &a->local, p ? p->rate_bps : TITA_RATE_UNPACED) *
			(double)a->interval_ns / 1e9;
		if (p && p->spine != TITA_SPINE_NONE)
			a->spine = p->spine;
		if (p)
			a->path_spine = p->path_spine;
	}

	/* RX: every RX pair over the whole window, whether or not anything
	 * arrived from it (a grant that brought nothing is the evidence),
	 * a remote's jobs summed; remotes that sent without a pair count
	 * what arrived. */
	for (size_t k = 0; k < n_pairs; k++) {
		const struct tita_pair_info *p = &pairs[k];
		struct acc *a;

		if (p->role != TITA_PAIR_RX)
			continue;
		a = acc_get(h, &p->local, &p->remote, 0, true);
		if (!a)
			continue;
		if (p->state == TITA_PAIR_ACTIVE && p->grant_bps) {
			if (!a->r_grant_bps)
				a->rx_job_id = p->job_id;
			a->r_grant_bps += p->grant_bps;
			/* It asked for at least what it got: it had the bytes. */
			if (p->demand_bps >= p->grant_bps)
				a->backlogged = true;
		}
		if (p->spine != TITA_SPINE_NONE)
			a->spine = p->spine;
		if (p->path_spine != TITA_SPINE_NONE)
			a->path_spine = p->path_spine;
	}
	for (size_t k = 0; k < h->n_accs; k++) {
		struct acc *a = &h->accs[k];
		int i;

		if (!a->rx)
			continue;
		i = port_of(h, &a->local);
		if (i >= 0 && h->rx_blind[i])
			a->backlogged = false;
		a->interval_ns = window_ns;
		if (a->backlogged)
			a->expected_bits = (double)a->r_grant_bps * (double)window_ns / 1e9;
	}
	flush_window(h, now_ns);
}

void titad_health_nic_rx(struct titad_health *h, const struct tita_addr *local, uint64_t rx_packets)
{
	int i = port_of(h, local);

	if (i >= 0)
		h->nic_rx_packets[i] += rx_packets;
}

bool titad_health_rx_blind(const struct titad_health *h, uint32_t i)
{
	return i < h->n_ports && h->rx_blind[i];
}

void titad_health_heard(struct titad_health *h, const struct tita_addr *peer, uint64_t heard_ns)
{
	tita_health_peer_heard(h->lib, peer, heard_ns);
}

int titad_health_end_interval(struct titad_health *h, const struct titad_health_pause *pause,
			      uint64_t now_ns)
{
	for (uint32_t i = 0; i < h->n_ports; i++) {
		const struct titad_health_pause *p = pause ? &pause[i] : NULL;

		tita_health_port_pause(h->lib, &h->ports[i], p && p->known, p ? p->tx_frames : 0,
				       p ? p->rx_frames : 0, now_ns);
	}
	if (tita_health_close(h->lib, now_ns, &h->snap))
		return -EINVAL;
	for (uint32_t i = 0; i < h->n_ports; i++) {
		/* Most of what the NIC received never crossed the datapath. A
		 * port without NIC counters (veth, virtio) is never blind. */
		h->rx_blind[i] = h->nic_rx_packets[i] >= NIC_RX_MIN_PACKETS &&
				 2 * h->dp_rx_packets[i] < h->nic_rx_packets[i];
		h->dp_rx_packets[i] = h->nic_rx_packets[i] = 0;
	}
	h->has_snap = true;
	return 0;
}

const struct tita_health_snapshot *titad_health_snapshot(const struct titad_health *h)
{
	return h && h->has_snap ? &h->snap : NULL;
}

uint64_t titad_health_interval_ns(const struct titad_health *h)
{
	return h->interval_ns;
}

uint64_t titad_health_rounds(const struct titad_health *h)
{
	return h->rounds;
}
