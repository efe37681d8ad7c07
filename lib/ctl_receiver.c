// SPDX-License-Identifier: MIT
/*
 * The controller's receiving side. Each round it measures what arrived on
 * every downlink, per source (and from the NIC's own counters), runs the eta
 * loop on CE marks, water-fills eta x the downlink, less what sources that
 * report no demand use, over the demands it holds, and decides which grants
 * go out: moved ones, refreshes, and the fabric's CE attributed to each
 * pair for its sender's reactive ceiling. New and moved demands are granted
 * early, batched, rather than a round later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"

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

/* What a port hands out: eta x line rate, less the room left for what
 * unmanaged sources use (unmanaged_room_frac of it). */
static void port_update_capacity(const struct tita_ctl *c, struct port *pt)
{
	uint64_t cap = (uint64_t)(pt->eta * (double)pt->line_rate_bps);
	uint64_t room = (uint64_t)(c->p.unmanaged_room_frac * (double)pt->unmanaged_bps);

	pt->capacity_bps = cap > room ? cap - room : 0;
}

int tita_ctl_rx_sample(struct tita_ctl *c, const struct tita_rx_sample *s, uint64_t now_ns)
{
	int port = ctl_sample_port(c, &s->local, s->interval_ns);
	struct pair *src;

	if (port < 0)
		return port;
	if (s->lost_packets)
		ctl_fabric_lost(c, (uint16_t)port, &s->remote, now_ns);
	if (!s->rx_bytes && !s->rx_packets)
		return 0;
	src = ctl_pair_get(c, ROLE_SOURCE, (uint16_t)port, &s->remote, JOB_ANY, now_ns);
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
	int port = ctl_sample_port(c, &s->local, s->interval_ns && s->ce_packets <= s->rx_packets);
	struct port *pt;

	if (port < 0)
		return port;
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

int ctl_on_demand(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	int applied = 0;

	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct tita_demand_entry *e = &m->demand[i];
		int port =
			ctl_entry_port(c, &e->receiver,
				       tita_addr_eq(&e->sender, &m->peer) && e->weight_milli >= 1 &&
					       e->weight_milli <= TITA_WEIGHT_MAX);
		struct pair *pr;
		uint64_t demand_bps;
		bool moved, halfway, lone = false;

		if (port < 0)
			continue;
		pr = ctl_pair_find(c, TITA_PAIR_RX, &e->receiver, &e->sender, e->job_id);
		if (!e->demand_bps) {
			/* The sender went idle: free its share now, and keep what
			 * active pairs leave for it while it is warm. */
			if (pr)
				pr->left_bytes = 0;
			if (pr && c->p.warm_ttls > 0 && pr->demand_bps) {
				pr->demand_bps = 0;
				pr->expires_ns = now_ns + (uint64_t)(c->p.warm_ttls *
								     (double)c->p.grant_ttl_ns);
				c->port_needs_alloc[port] = true;
				c->alloc_due_ns = tita_min_u64(
					c->alloc_due_ns,
					now_ns + (uint64_t)((double)c->p.control_interval_ns *
							    c->p.alloc_batch_frac));
			} else if (pr && !pr->demand_bps) {
				/* Warm already: the repeated zero changes nothing. */
			} else if (pr) {
				ctl_pair_release(c, pr);
			}
			applied++;
			continue;
		}
		if (!pr) {
			struct pair *src;

			pr = ctl_pair_get(c, TITA_PAIR_RX, (uint16_t)port, &e->sender, e->job_id,
					  now_ns);
			if (!pr) {
				c->stats.entries_skipped_no_space++;
				continue;
			}
			/* Its traffic is managed from now on: stop counting it as
			 * unmanaged, and grant it early. */
			src = ctl_pair_find(c, ROLE_SOURCE, &e->receiver, &e->sender, JOB_ANY);
			if (src && !src->managed) {
				struct port *pt = &c->ports[port];

				src->managed = true;
				pt->unmanaged_bps -=
					tita_min_u64(pt->unmanaged_bps, src->measured_bps);
				port_update_capacity(c, pt);
			}
			pr->src_slot = src ? (uint32_t)(src - c->pairs) + 1 : 0;
			pr->first_demand_ns = now_ns;
			pr->src_gen = c->sources_gen;
			lone = c->p.lone_gap_ns &&
			       ctl_short_start(c, &c->ports[port], e->left_bytes) &&
			       (!c->last_new_rx_ns ||
				now_ns - c->last_new_rx_ns >= c->p.lone_gap_ns);
			c->last_new_rx_ns = now_ns ? now_ns : 1;
		}
		/*
		 * A demand that moved is allocated early (batched like new ones);
		 * one that comes when our grant is half-way to its refresh is
		 * answered with the grant, so that a sender whose grant lapsed (we
		 * were cut off) is paced again within half a refresh. An answer
		 * to a demand that did not move needs no allocation: nothing that
		 * goes into it changed, and the round (at most an interval away)
		 * takes in what moved by less than demand_change_frac.
		 */
		moved = ctl_changed(ctl_clamp_rate(e->demand_bps, c->ports[port].line_rate_bps),
				    pr->demand_bps, c->p.demand_change_frac);
		halfway = now_ns - pr->grant_sent_ns >= c->p.refresh_ns / 2;
		if (halfway && !moved && pr->grant_sent_ns) {
			pr->answer_due = true;
			c->ports[port].answers_due = true;
		} else if (halfway) {
			pr->grant_sent_ns = 0;
		}
		if ((moved || halfway) && !pr->answer_due)
			c->port_needs_alloc[port] = true;
		pr->state = TITA_PAIR_ACTIVE;
		if (e->unsched_bytes)
			ctl_unsched_announced(c, pr, e->unsched_bytes, now_ns);
		ctl_fabric_on_demand(c, pr, e, now_ns);
		/* A pair between leaves that its start cap holds until placed
		 * (another of this NIC waits for its leader: a collective's
		 * step) gains nothing by an early grant; granted at once, a
		 * ring's steps went at their grants before the leaders placed
		 * them (ringx64-16x100 seed 6: 1.060 -> 1.151 x its bound). */
		if (lone && pr->leaf_cap_until_ns && !pr->leaf_capped && !pr->fab_free)
			lone = false;
		if (moved || halfway)
			c->alloc_due_ns =
				tita_min_u64(c->alloc_due_ns,
					     now_ns + (uint64_t)((double)c->p.control_interval_ns *
								 (lone ? c->p.lone_batch_frac :
									 c->p.alloc_batch_frac)));
		/* What a warm grant goes up to: the most the pair asked for
		 * since it last went idle, not the tail of its transfer (a
		 * message's last round, a decaying demand), at which its next
		 * message would crawl. */
		demand_bps = ctl_clamp_rate(e->demand_bps, c->ports[port].line_rate_bps);
		pr->warm_demand_bps =
			pr->demand_bps ? tita_max_u64(pr->warm_demand_bps, demand_bps) : demand_bps;
		pr->demand_bps = demand_bps;
		pr->weight_milli = e->weight_milli;
		if (e->left_bytes)
			pr->left_bytes = e->left_bytes;
		pr->min_bps = ctl_clamp_rate(e->min_bps, c->ports[port].line_rate_bps);
		pr->max_bps = ctl_clamp_rate(e->max_bps, c->ports[port].line_rate_bps);
		pr->expires_ns = now_ns + c->p.grant_ttl_ns;
		pr->last_active_ns = now_ns;
		applied++;
	}
	return applied;
}

/* Per port: what arrived from each source this round, and the eta loop. */
static void measure_ports(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns)
{
	/* Which sources are managed (some live demand shares their address)?
	 * An RX pair looks its source up again only when sources came or went
	 * since it last did (sources_gen): the round touches the index once
	 * per pair per change, not per round. */
	for (uint32_t s = 0; c->n_sources && s < c->pairs_hwm; s++)
		if (c->slot_role[s] == ROLE_SOURCE)
			c->pairs[s].managed = false;
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (c->slot_role[s] != TITA_PAIR_RX)
			continue;
		if (pr->src_gen != c->sources_gen) {
			const struct pair *src = c->n_sources ?
							 ctl_pair_find(c, ROLE_SOURCE, &pr->local,
								       &pr->remote, JOB_ANY) :
							 NULL;

			pr->src_slot = src ? (uint32_t)(src - c->pairs) + 1 : 0;
			pr->src_gen = c->sources_gen;
		}
		if (pr->src_slot)
			c->pairs[pr->src_slot - 1].managed = true;
	}
	for (uint32_t port = 0; port < c->n_ports; port++) {
		struct port *pt = &c->ports[port];

		pt->rx_packets = pt->ce_packets = pt->rx_bps = pt->unmanaged_bps = 0;
	}
	for (uint32_t s = 0; c->n_sources && s < c->pairs_hwm; s++) {
		struct pair *src = &c->pairs[s];
		struct port *pt;

		if (c->slot_role[s] != ROLE_SOURCE)
			continue;
		pt = &c->ports[src->port];
		src->measured_bps = ctl_round_rate(src, round_ns);
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
		/* Marks of announced unscheduled bytes still draining say
		 * nothing of eta: the senders hold until they have. */
		if (ctl_unsched_draining(c, pt, now_ns))
			;
		else if (ce_frac > c->p.eta_ce_threshold && pt->downlink_busy)
			pt->eta = fmax(
				c->p.eta_min,
				pt->eta * (1 - c->p.eta_decrease * (1 + ETA_CE_GAIN * ce_frac)));
		else if (!pt->ce_packets && !nic_ce)
			pt->eta = fmin(c->p.eta, pt->eta + c->p.eta_increase);
		port_update_capacity(c, pt);
	}
}

static bool same_inputs(const struct tita_alloc_entry *a, const struct tita_alloc_entry *b)
{
	return a->demand_bps == b->demand_bps && a->min_bps == b->min_bps &&
	       a->max_bps == b->max_bps && a->weight == b->weight && a->group == b->group &&
	       a->member_weight == b->member_weight;
}

/*
 * A pair's weight among its job's pairs by the size of the message it is
 * ranked by (DemandEntry.left_bytes, design.md "Short messages first"):
 * 2^k for one 2^k times smaller than both srpt_ns at line rate and the
 * largest that the port's active pairs carry, from 1 (as large, or not
 * known) up to srpt_max_weight. Beside a large flow a new message takes
 * most of the downlink rather than its max-min half, so it ends sooner and
 * the large flow loses little (SRPT); pairs of equal messages (a
 * collective, an incast) weigh alike whatever the size.
 */
double ctl_srpt_weight(const struct tita_ctl *c, uint64_t left_bytes, const struct port *pt,
		       uint64_t most_left_bytes)
{
	double ref_bytes =
		fmin((double)c->p.srpt_ns * (double)pt->line_rate_bps / (8.0 * TITA_NSEC_PER_SEC),
		     (double)most_left_bytes);
	double w = 1;

	if (!left_bytes || !c->p.srpt_ns)
		return 1;
	while (w * 2 <= c->p.srpt_max_weight && (double)left_bytes * w * 2 <= ref_bytes)
		w *= 2;
	return w;
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

/* How much more than its allocation a pair may have of what is left: up
 * to the most it asked since it last went idle, within its job's cap. */
static uint64_t warm_room(const struct tita_ctl *c, const struct tita_alloc_entry *e,
			  const struct pair *pr)
{
	uint64_t most = pr->warm_demand_bps;

	/* Between leaves the spines' room is planned by the leaders from what
	 * each pair asks (its lines carry min(demand, share)): a grant above
	 * the demand let a ring's steps burst onto spines planned for others
	 * (ringx64 seeds 1-3: 1.069-1.080 x its bound without it, 1.075-1.097
	 * with it). */
	if (pr->demand_bps && ctl_fabric_between_leaves(c, pr))
		return 0;

	if (e->max_bps)
		most = tita_min_u64(most, e->max_bps);
	return most > e->alloc_bps ? most - e->alloc_bps : 0;
}

/*
 * Warm pairs (idle, demand 0) share what the active ones leave of the
 * capacity, each up to the demand it had: the next step of a collective
 * resumes at once at a grant that nothing active needs, and a warm grant
 * shrinks (and goes out) as soon as an active pair wants the capacity.
 *
 * An active pair whose demand fell below the most it asked since it last
 * went idle shares the rest the same way, up to that most. A sender
 * measures its demand a round at a time, and a message shorter than a round
 * is no rate: a round sees a part of it, the next its tail, and the zero
 * that would make the pair warm comes only when a whole round saw nothing.
 * Granted what those rounds measured, the next message crawls at it until
 * a sample sees it queue (the test bed's 16 KB messages, 2 ms apart: one in
 * five started under a grant of 15-35 Mbit/s of 200 and took 1.4-2.5 ms
 * against 0.5).
 */
static void allocate_warm(struct tita_ctl *c, const struct port *pt, uint32_t n, uint64_t noise_bps)
{
	uint64_t used = 0;
	uint32_t n_warm = 0;

	/* What rounding left is not worth a water-filling (and grants), nor
	 * a walk over the pairs to find those with room: a downlink its
	 * active pairs fill (more demand than capacity) ends here, at every
	 * round and batch of demands. */
	for (uint32_t k = 0; k < n; k++)
		used += c->entries[k].alloc_bps;
	if (used + noise_bps >= pt->capacity_bps)
		return;
	/* Only the pairs with room go into the water-filling: the others
	 * would enter it with no demand and take nothing. */
	for (uint32_t k = 0; k < n; k++) {
		uint64_t room = warm_room(c, &c->entries[k], &c->pairs[c->order[k]]);

		if (!room)
			continue;
		c->entries2[n_warm] = c->entries[k];
		c->entries2[n_warm].demand_bps = room;
		c->entries2[n_warm].min_bps = 0;
		c->entries2[n_warm].max_bps = 0;
		c->entries2[n_warm].alloc_bps = 0;
		n_warm++;
	}
	if (!n_warm)
		return;
	tita_alloc_maxmin_by_group(c->entries2, n_warm, pt->capacity_bps - used, c->scratch);
	for (uint32_t k = 0, m = 0; k < n && m < n_warm; k++) {
		const struct pair *pr = &c->pairs[c->order[k]];

		if (warm_room(c, &c->entries[k], pr))
			c->entries[k].alloc_bps += c->entries2[m++].alloc_bps;
	}
}

/* Whether a pair's grant moved from the one it was last sent: by more than
 * demand_change_frac of it, and by more than rounding noise. */
static bool grant_moved(const struct tita_ctl *c, const struct pair *pr, uint64_t noise_bps)
{
	uint64_t now = pr->granted_bps, sent = pr->grant_reported_bps;

	return ctl_changed(now, sent, c->p.demand_change_frac) &&
	       (now > sent ? now - sent : sent - now) > noise_bps;
}

/* Water-fill one port's downlink over the demands it holds, and queue the
 * grants that changed (or are due for a refresh). */
static uint32_t allocate_port(struct tita_ctl *c, uint16_t port, uint64_t now_ns, bool measured,
			      uint32_t n_out)
{
	struct port *pt = &c->ports[port];
	double thr = c->p.rc_ce_threshold * 1e6;
	uint64_t granted = 0, in_force = 0, noise_bps;
	uint32_t n = 0, n_deferred = 0;
	uint64_t most_left = 0;
	bool any_job = false;

	c->stats.allocations++;
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (c->slot_role[s] != TITA_PAIR_RX || pr->port != port)
			continue;
		c->order[n] = s;
		c->entries[n++] = (struct tita_alloc_entry){
			.demand_bps = pr->demand_bps,
			.min_bps = pr->min_bps,
			.max_bps = pr->max_bps,
			.weight = (double)pr->weight_milli / TITA_WEIGHT_ONE,
			.group = ctl_job_group(pr, s),
		};
		any_job |= pr->job_id != TITA_JOB_DEFAULT;
		if (pr->demand_bps)
			most_left = tita_max_u64(most_left, pr->left_bytes);
	}
	/* Off (srpt_ns 0), every member weighs alike: member_weight stays 0. */
	if (c->p.srpt_ns)
		for (uint32_t k = 0; k < n; k++)
			c->entries[k].member_weight =
				ctl_srpt_weight(c, c->pairs[c->order[k]].left_bytes, pt, most_left);
	/* Pairs of no job are each a group of their own, which is plain
	 * max-min over the pairs: one group says so without sorting them
	 * into groups at every allocation. */
	for (uint32_t k = 0; !any_job && k < n; k++)
		c->entries[k].group = 0;
	/*
	 * What rounding alone moves a share by: the water-filling rounds each
	 * share down to a whole bit per second, in two levels (groups, then
	 * pairs), so up to 2 bit/s a pair of the capacity is left over, and
	 * warm pairs share that residue. A grant that moved by no more than
	 * this (a warm pair's few bit/s coming and going with every batch of
	 * demands) has not moved; nor has one by less than a hundred-
	 * thousandth of the line, which no pacer resolves.
	 */
	noise_bps = tita_max_u64(2 * (uint64_t)n, pt->line_rate_bps / 100000);
	if (n) {
		allocate_memo(pt, c->entries, c->order, n, c->scratch);
		allocate_warm(c, pt, n, noise_bps);
	}
	for (uint32_t k = 0; k < n; k++) {
		struct pair *pr = &c->pairs[c->order[k]];
		bool moved, answer;

		/* The leaf's cap on the spine the pair comes in on bounds the
		 * grant after the water-filling, not in it: what the pair could
		 * take here is what its line at the leader asks for, and a line
		 * that asked only for its cap would never grow again. */
		pr->rx_alloc_bps = c->entries[k].alloc_bps;
		pr->granted_bps = tita_min_u64(pr->rx_alloc_bps, ctl_fabric_cap(pr, now_ns));
		granted += pr->granted_bps;
		if (measured) {
			const struct pair *src = pr->src_slot ? &c->pairs[pr->src_slot - 1] : NULL;

			pr->measured_bps = src ? src->measured_bps : 0;
			pr->sent_avg_bps =
				pr->sent_avg_bps - pr->sent_avg_bps / 8 + pr->measured_bps / 8;
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
		 * seen) the receiver cannot tell, and sends it. Nor does it
		 * wait when what held the pair back was its leaf's cap on our
		 * side (grant_leaf_capped): that is what just moved.
		 */
		moved = grant_moved(c, pr, noise_bps);
		pr->grant_deferred = false;
		answer = pr->answer_due;
		pr->answer_due = false;
		/* The first grant of a pair whose unscheduled bytes are on
		 * their way waits for the early allocation gathering it: a
		 * round that falls among an incast's demands would give the
		 * first ones the downlink, and they would take it at once. */
		if (measured && !pr->grant_sent_ns && pr->unsched_hold &&
		    c->port_needs_alloc[port] && now_ns < c->alloc_due_ns)
			continue;
		if (!pr->grant_sent_ns || answer ||
		    (pr->fabric_ce_ppm > thr) != (pr->fabric_ce_reported_ppm > thr) ||
		    /* A cut by our leaf's cap protects a link the downlink's
		     * sum knows nothing of: it goes now, when it matters to
		     * a link (a percent of ours). */
		    (moved && pr->granted_bps < pr->rx_alloc_bps &&
		     pr->granted_bps + pt->line_rate_bps / 100 < pr->grant_reported_bps) ||
		    now_ns - pr->grant_sent_ns >= c->p.refresh_ns ||
		    (moved && pr->granted_bps > pr->grant_reported_bps &&
		     (pr->demand_bps > pr->grant_demand_bps || !pr->src_slot ||
		      pr->grant_leaf_capped ||
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
	pt->answers_due = false;
	return n_out;
}

/* Answer the port's unchanged demands with the grants in force, without
 * an allocation. */
static uint32_t answer_port(struct tita_ctl *c, uint16_t port, uint64_t now_ns, uint32_t n_out)
{
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (c->slot_role[s] != TITA_PAIR_RX || pr->port != port || !pr->answer_due)
			continue;
		pr->answer_due = false;
		/* The leaf's cap may have lapsed since the allocation. */
		pr->granted_bps = tita_min_u64(pr->rx_alloc_bps, ctl_fabric_cap(pr, now_ns));
		c->outgoing[n_out++] = (struct outgoing){ .remote = pr->remote, .slot = s };
	}
	c->ports[port].answers_due = false;
	return n_out;
}

void ctl_receiver_round(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns)
{
	uint32_t n_out = 0;

	measure_ports(c, now_ns, round_ns);
	for (uint32_t port = 0; port < c->n_ports; port++)
		n_out = allocate_port(c, (uint16_t)port, now_ns, true, n_out);
	ctl_emit(c, TITA_MSG_GRANT, c->outgoing, n_out, now_ns);
}

/* New demands arrived since the round: grant them now rather than a whole
 * interval later (batched over alloc_batch_frac of an interval, so that an
 * incast's demands share one allocation). */
void ctl_early_allocation(struct tita_ctl *c, uint64_t now_ns)
{
	uint32_t n_out = 0;

	for (uint32_t port = 0; port < c->n_ports; port++) {
		if (c->port_needs_alloc[port])
			n_out = allocate_port(c, (uint16_t)port, now_ns, false, n_out);
		else if (c->ports[port].answers_due)
			n_out = answer_port(c, (uint16_t)port, now_ns, n_out);
		c->port_needs_alloc[port] = false;
	}
	ctl_emit(c, TITA_MSG_GRANT, c->outgoing, n_out, now_ns);
}
