// SPDX-License-Identifier: MIT
/*
 * The controller's sending side. Each TX pair's demand is estimated from
 * what it sent and what waits (asking for more when it fills its rate) and
 * reported to the receiver on a change that matters or as a refresh. The
 * rate to program is composed from the receiver's grant (or the start rate
 * before the first one, or nothing once it lapsed: fail-open), this host's
 * uplink share, the job's cap and the reactive ceiling; small increases are
 * held back to spare the pacer churn.
 */
#include <errno.h>

#include "ctl_internal.h"

/* A pair held after its unscheduled bytes (resume_ns) is paced at this. */
#define HOLD_BPS 1

/* The least rate any paced pair gets, by its port's line rate. */
static uint64_t min_rate_bps(const struct tita_ctl *c, const struct port *pt)
{
	uint64_t r = (uint64_t)(c->p.rc_min_frac * (double)pt->line_rate_bps);

	return r ? r : 1;
}

/* What the receiver lets this pair send: the start rate, the grant, or
 * nothing (unpaced) once the grant has lapsed; within the cap of its leaf's
 * leader while the pair is paced at all. */
static uint64_t grant_component(const struct tita_ctl *c, const struct pair *pr,
				const struct port *pt, uint64_t now_ns)
{
	switch (pr->state) {
	case TITA_PAIR_STARTING:
		return tita_min_u64((uint64_t)(c->p.start_rate_frac * (double)pt->line_rate_bps),
				    ctl_fabric_cap(pr, now_ns));
	case TITA_PAIR_GRANTED:
		if (pr->resume_ns > now_ns)
			return HOLD_BPS;
		return tita_min_u64(pr->grant_bps, ctl_fabric_cap(pr, now_ns));
	default:
		return TITA_RATE_UNPACED;
	}
}

static void program(struct tita_ctl *c, struct pair *pr, uint64_t rate_bps, uint64_t now_ns)
{
	uint64_t old = pr->programmed_bps;

	pr->rate_bps = rate_bps;
	/* An allowance armed, or ended by the first grant, goes out now, with
	 * the rate that follows it. */
	if (pr->unsched_push) {
		pr->unsched_push = false;
		pr->held_since_ns = 0;
		pr->programmed_bps = rate_bps;
		ctl_rate_push(c, pr, rate_bps, pr->unsched_bytes);
		return;
	}
	/* While the pacer spends an allowance, a new rate would restart it
	 * (unsched_bytes count from the update): the rate after it waits until
	 * the samples show it spent, or the grant ends it. */
	if (pr->unsched_bytes && rate_bps != TITA_RATE_UNPACED)
		return;
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
	ctl_rate_push(c, pr, rate_bps, 0);
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
	uint64_t floor_bps = min_rate_bps(c, pt), tx_bps = 0, most_left = 0;
	bool srpt = c->p.srpt_ns && c->p.srpt_tx, any_job = false;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];
		uint64_t allowed;
		const struct tita_job *job;

		if (c->slot_role[s] != TITA_PAIR_TX || pr->port != port)
			continue;
		tx_bps += pr->measured_bps;
		allowed = grant_component(c, pr, pt, now_ns);
		if (allowed == TITA_RATE_UNPACED)
			continue;
		job = ctl_job_policy(c, pr->job_id);
		c->order[n] = s;
		/* First what each pair wants, as far as its grant allows (an
		 * idle one nothing: the floor it is paced at costs nothing
		 * while it sends nothing, and many idle pairs, each message's
		 * destination a pair of its own, would hold their floors of
		 * the uplink from the pairs that send)... */
		c->entries[n] = (struct tita_alloc_entry){
			.demand_bps = pr->demand_bps ?
					      tita_max_u64(tita_min_u64(allowed, pr->demand_bps),
							   pair_floor_bps(floor_bps, allowed)) :
					      0,
			.min_bps = job->min_bps,
			.weight = (double)job->weight_milli / TITA_WEIGHT_ONE,
			.group = ctl_job_group(pr, s),
		};
		/* ...then what is left of the uplink, up to the grants: a pair
		 * that pauses restarts at its grant when the uplink has room for
		 * it, never at the cost of one that is sending. */
		c->entries2[n] = c->entries[n];
		c->entries2[n].demand_bps = allowed;
		c->entries2[n].min_bps = 0;
		any_job |= pr->job_id != TITA_JOB_DEFAULT;
		if (pr->demand_bps)
			most_left = tita_max_u64(most_left, pr->rank_bytes);
		n++;
	}
	pt->tx_bps = tx_bps;
	/* Shorter messages first (srpt_tx): the receiver's weights among a
	 * job's pairs, from the sizes the sender knows; pairs of no job are
	 * then one group, as at the receiver. */
	for (uint32_t k = 0; srpt && k < n; k++) {
		c->entries[k].member_weight =
			ctl_srpt_weight(c, c->pairs[c->order[k]].rank_bytes, pt, most_left);
		c->entries2[k].member_weight = c->entries[k].member_weight;
		if (!any_job)
			c->entries[k].group = c->entries2[k].group = 0;
	}
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

		if (c->slot_role[s] != TITA_PAIR_TX || pr->port != port)
			continue;
		job = ctl_job_policy(c, pr->job_id);
		allowed = grant_component(c, pr, pt, now_ns);
		if (k < n && c->order[k] == s) {
			rate = tita_min_u64(allowed, c->entries[k].alloc_bps);
			if (tita_ceiling_engaged(&pr->ceiling))
				rate = tita_min_u64(
					rate, (uint64_t)(pr->ceiling.frac * (double)pr->grant_bps));
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

static void estimate_demand(struct tita_ctl *c, struct pair *pr, uint64_t round_ns)
{
	const struct port *pt = &c->ports[pr->port];
	const struct tita_job *job = ctl_job_policy(c, pr->job_id);
	uint64_t line = pt->line_rate_bps, cur, target;

	pr->measured_bps = tita_min_u64(ctl_round_rate(pr, round_ns), line);
	pr->sent_avg_bps = pr->sent_avg_bps - pr->sent_avg_bps / 8 + pr->measured_bps / 8;
	pr->cnp_per_sec = pr->round_cnp * TITA_NSEC_PER_SEC /
			  tita_max_u64(tita_max_u64(pr->round_interval_ns, round_ns), 1);
	cur = pr->rate_bps == TITA_RATE_UNPACED ? line : pr->rate_bps;
	if (pr->done) {
		/* What it sent this round was the end of what it had. */
		pr->demand_bps = 0;
		pr->idle_rounds++;
		return;
	}
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
 * A message that asks for a grant wants its line rate: a NIC sends a
 * message as fast as it may. What one round measured of it says little (a
 * message that began late in the round, a pacer that sees no queue behind
 * it), and the grant it gets is also what its receiver keeps warm for the
 * next message.
 */
static void message_demand(struct tita_ctl *c, struct pair *pr)
{
	const struct tita_job *job = ctl_job_policy(c, pr->job_id);
	uint64_t want = c->ports[pr->port].line_rate_bps;

	if (job->max_bps)
		want = tita_min_u64(want, job->max_bps);
	pr->demand_bps = tita_max_u64(pr->demand_bps, want);
}

/* The pair has sent all it had: its demand is zero now, and its receiver
 * hears so at once (a pair with a grant turns warm there, and what it
 * held goes to the others a round sooner). */
static void pair_done(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	pr->done = true;
	pr->done_ns = now_ns;
	pr->demand_bps = 0;
	pr->backlog_bytes = 0;
	if (!pr->idle_rounds)
		pr->idle_rounds = 1;
	c->port_dirty[pr->port] = true;
	if (pr->demand_reported_bps)
		ctl_send_demand_now(c, pr, now_ns);
}

/*
 * The size of the message a pair is ranked by at its receiver (srpt_ns):
 * a message's whole size, not what is left of it as it goes, so that the
 * equal messages of a collective rank alike to the end. A message posted
 * on a pair that is already sending (its backlog shrank by less than the
 * pair sent, less an eighth: what it sent is counted in frames, headers
 * and all, the backlog in bytes posted) shares the pair's bytes with
 * the others and ends with the pair's shortest: a shorter one ranks the
 * pair, and its receiver hears of it now. Once the pair has sent as much
 * as that message, it ranks by its backlog again.
 *
 * A stream is not a message posted behind: a pair whose backlog never
 * drains, more posted as it sends, would otherwise rank by what one
 * sample posted (its rate x the sample's interval), and equal streams at
 * different rates would weigh up to srpt_max_weight apart. A pair whose
 * posting refilled its backlog to within an eighth of what it sent, or
 * that was posted behind more than it had when its backlog was last seen
 * empty, is a stream until its backlog is seen empty: it ranks by its busy
 * period's age (what it sent since) and its backlog, said when that
 * doubled. (A message or two behind a long flow is not: WebSearch's.)
 * Like least attained service, a young stream ranks short and an old one
 * long; two of the same age rank alike whatever their rates.
 */
static void note_message(struct tita_ctl *c, struct pair *pr, const struct tita_tx_sample *s,
			 bool starts, uint64_t now_ns)
{
	uint64_t before = pr->sample_backlog_bytes, had = pr->msg_left_bytes, age;
	bool sent_it = false, was_stream = pr->stream;

	pr->sample_backlog_bytes = s->backlog_bytes;
	if (starts) {
		pr->rank_bytes = s->tx_bytes + s->backlog_bytes;
		pr->msg_left_bytes = 0;
		pr->busy_sent_bytes = s->tx_bytes;
		pr->busy_first_bytes = pr->rank_bytes;
		pr->busy_posted_bytes = 0;
		pr->stream = false;
		return;
	}
	pr->busy_sent_bytes += s->tx_bytes;
	/* A busy period that began between two samples, on a pair not idle. */
	if (!before && s->backlog_bytes)
		pr->busy_first_bytes = s->tx_bytes + s->backlog_bytes;
	pr->msg_left_bytes = had > s->tx_bytes ? had - s->tx_bytes : 0;
	if (before && s->backlog_bytes + s->tx_bytes - s->tx_bytes / 8 > before) {
		uint64_t posted = s->backlog_bytes + s->tx_bytes - before;
		bool refill = s->backlog_bytes + s->tx_bytes / 8 >= before &&
			      s->backlog_bytes <= before + s->tx_bytes / 8;

		pr->busy_posted_bytes += posted;
		if (pr->stream || refill || pr->busy_posted_bytes > pr->busy_first_bytes) {
			pr->stream = true;
			pr->msg_left_bytes = 0;
		} else {
			if (!pr->rank_bytes || posted < pr->rank_bytes) {
				pr->rank_bytes = pr->msg_left_bytes = posted;
				sent_it = pr->left_reported_bytes > 2 * posted;
			}
		}
	} else if (had && !pr->msg_left_bytes) {
		pr->rank_bytes = s->backlog_bytes;
		sent_it = pr->rank_bytes > 2 * pr->left_reported_bytes;
	}
	age = pr->busy_sent_bytes + s->backlog_bytes;
	if (pr->stream && (!was_stream || age >= 2 * pr->rank_bytes)) {
		pr->rank_bytes = age;
		sent_it = age > 2 * pr->left_reported_bytes || 2 * age < pr->left_reported_bytes;
	}
	if (!s->backlog_bytes) {
		pr->busy_sent_bytes = pr->busy_first_bytes = pr->busy_posted_bytes = 0;
		pr->stream = false;
	}
	if (sent_it && c->p.srpt_ns && pr->demand_reported_bps && !pr->unsched_defer)
		ctl_send_demand_now(c, pr, now_ns);
}

/*
 * The bytes of a sample whose interval began before the pair said it was
 * done are the end of the message that is over, not a new one: a sample
 * at the round's pace comes after the done one of a message that ended
 * in its interval. Read as a new message, they would set the pair's
 * demand to the tail's rate (its receiver then grants that, not the warm
 * line rate), and the next message, posted on a pair no longer idle,
 * would go at it until a round measured it: a ring step at an eighth of
 * the line for a round.
 */
static bool done_tail(const struct pair *pr, const struct tita_tx_sample *s, uint64_t now_ns)
{
	return pr->done && now_ns - pr->done_ns <= s->interval_ns;
}

int tita_ctl_tx_sample(struct tita_ctl *c, const struct tita_tx_sample *s, uint64_t now_ns)
{
	int port = ctl_sample_port(c, &s->local, s->interval_ns);
	bool is_new = false, ask_now = false, restarts = false;
	struct pair *pr;

	if (port < 0)
		return port;
	pr = ctl_pair_find(c, TITA_PAIR_TX, &s->local, &s->remote, s->job_id);
	if (!pr) {
		/* Nothing to pace until the pair carries traffic. */
		if (!s->tx_bytes && !s->backlog_bytes)
			return 0;
		pr = ctl_pair_get(c, TITA_PAIR_TX, (uint16_t)port, &s->remote, s->job_id, now_ns);
		if (!pr) {
			c->stats.samples_skipped_no_space++;
			return -ENOSPC;
		}
		pr->state = TITA_PAIR_STARTING;
		pr->expires_ns = now_ns + c->p.grant_ttl_ns;
		c->ceiling->init(&pr->ceiling);
		ctl_fabric_tx_new(c, pr, s->tx_bytes + s->backlog_bytes, now_ns);
		ctl_unsched_arm(c, pr, s->tx_bytes + s->backlog_bytes, now_ns);
		is_new = true;
	} else if ((pr->idle_rounds &&
		    (s->backlog_bytes || (s->tx_bytes && !done_tail(pr, s, now_ns)))) ||
		   (pr->done && s->backlog_bytes)) {
		ask_now = ctl_unsched_message(c, pr, s->tx_bytes + s->backlog_bytes, now_ns);
		restarts = true;
	} else {
		if (s->backlog_bytes)
			pr->done = false;
		ask_now = ctl_unsched_sample(c, pr, s, now_ns);
	}
	if (s->done && !is_new && !pr->done)
		pair_done(c, pr, now_ns);
	pr->round_bytes += s->tx_bytes;
	pr->round_cnp += s->cnp_packets;
	pr->round_interval_ns += s->interval_ns;
	if (s->cnp_packets)
		ctl_fabric_marked(c, pr, now_ns);
	pr->backlog_bytes = s->backlog_bytes;
	note_message(c, pr, s, is_new || restarts, now_ns);
	/* A quarter more for a report that comes a little late. */
	pr->sample_until_ns = now_ns + s->interval_ns + s->interval_ns / 4;
	if (s->tx_bytes || s->backlog_bytes)
		pr->last_active_ns = now_ns;
	if (is_new) {
		/* Pace at the start rate and ask for a grant now, not a round
		 * later: the burst of an incast is N x start rate x that delay. */
		estimate_demand(c, pr, s->interval_ns);
		if (!pr->unsched_defer)
			message_demand(c, pr);
		ctl_fabric_tx_started(c, pr, now_ns);
		compose_port(c, (uint16_t)port, now_ns);
		if (!pr->unsched_defer)
			ctl_send_demand_now(c, pr, now_ns);
	} else if (restarts) {
		ctl_fabric_tx_restarted(c, pr, now_ns);
	}
	if (!is_new && ask_now) {
		/* A message that needs a grant asks now, not a round later. */
		estimate_demand(c, pr, s->interval_ns);
		message_demand(c, pr);
		c->port_dirty[port] = true;
		ctl_send_demand_now(c, pr, now_ns);
	}
	ctl_compose_dirty(c, now_ns);
	return 0;
}

void ctl_send_demand_now(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	struct out_entry *e = ctl_outbox_push(c);

	if (e) {
		e->kind = TITA_MSG_DEMAND;
		ctl_fill_entry(c, e, pr, now_ns);
	}
}

/*
 * The reactive ceiling (tita/ceiling.h) acts on the CE fraction that the
 * receiver attributes to the fabric (it keeps CE on its own saturated
 * downlink to itself: its grants already resolve that), and that holds
 * until a grant says the marks stopped. A pair still waiting for its first
 * grant does not react: marks then come from the burst before pacing
 * began, which the grant fixes.
 */
static void update_ceiling(struct tita_ctl *c, struct pair *pr)
{
	if (pr->state != TITA_PAIR_GRANTED)
		c->ceiling->release(&pr->ceiling);
	else
		c->ceiling->step(&pr->ceiling, &c->ceiling_p, pr->ce_ppm);
}

/* Whether the receiver would grant differently if it knew the new demand:
 * only when the old or the new demand is near or below the grant. */
static bool demand_binding(const struct tita_ctl *c, const struct pair *pr)
{
	double bar = (1 + c->p.demand_change_frac) * (double)pr->grant_bps;

	return pr->state != TITA_PAIR_GRANTED || (double)pr->demand_bps < bar ||
	       (double)pr->demand_reported_bps < bar;
}

/*
 * What a pair asks its receiver for is what its own uplink could carry of
 * it: the more of its max-min share of eta x the uplink (every pair at its
 * demand), and of what it holds with every pair of the port at what its
 * receiver already grants it, plus what that leaves over. A pair that its
 * uplink holds below its receiver's share would otherwise keep the share,
 * and the receiver's downlink would run below eta while its other senders
 * wait; and a pair held low by its own small grant still asks for its
 * share, or it would never get more than the grant it has.
 */
static void claim_uplink(struct tita_ctl *c, uint16_t port)
{
	struct port *pt = &c->ports[port];
	uint64_t cap = (uint64_t)(pt->eta * (double)pt->line_rate_bps), used = 0;
	uint32_t n = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		const struct pair *pr = &c->pairs[s];
		const struct tita_job *job;

		if (c->slot_role[s] != TITA_PAIR_TX || pr->port != port || !pr->demand_bps)
			continue;
		job = ctl_job_policy(c, pr->job_id);
		c->order[n] = s;
		c->entries[n] = (struct tita_alloc_entry){
			.demand_bps = pr->demand_bps,
			.min_bps = job->min_bps,
			.weight = (double)job->weight_milli / TITA_WEIGHT_ONE,
			.group = ctl_job_group(pr, s),
		};
		c->entries2[n] = c->entries[n];
		if (pr->state == TITA_PAIR_GRANTED)
			c->entries2[n].demand_bps = tita_min_u64(pr->demand_bps, pr->grant_bps);
		n++;
	}
	if (n < 2)
		return;
	tita_alloc_maxmin_by_group(c->entries, n, cap, c->scratch);
	tita_alloc_maxmin_by_group(c->entries2, n, cap, c->scratch);
	for (uint32_t k = 0; k < n; k++)
		used += c->entries2[k].alloc_bps;
	for (uint32_t k = 0; k < n; k++) {
		struct pair *pr = &c->pairs[c->order[k]];
		uint64_t granted = c->entries2[k].alloc_bps + (cap > used ? cap - used : 0);

		pr->demand_bps = tita_min_u64(pr->demand_bps,
					      tita_max_u64(c->entries[k].alloc_bps, granted));
	}
}

void ctl_sender_round(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns)
{
	uint32_t n_out = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (c->slot_role[s] != TITA_PAIR_TX)
			continue;
		/* Samples come at their source's pace: the agents report every
		 * 100 ms, the datapath every interval. A round that falls
		 * between two of them keeps the estimate the last one gave;
		 * reading it as idle would let demand decay between reports
		 * and jump back at each one. */
		if (pr->round_interval_ns || now_ns >= pr->sample_until_ns) {
			estimate_demand(c, pr, round_ns);
			pr->round_bytes = pr->round_cnp = pr->round_interval_ns = 0;
			pr->round_backlog_bytes = pr->backlog_bytes;
			/* A backlog is what the last sample saw; a round without
			 * one (no traffic, so no sample) has none, or a pair that
			 * stopped would hold its demand for good. */
			pr->backlog_bytes = 0;
		}
		update_ceiling(c, pr);
	}
	for (uint32_t port = 0; port < c->n_ports; port++)
		claim_uplink(c, (uint16_t)port);
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (c->slot_role[s] != TITA_PAIR_TX)
			continue;
		/* A message that goes whole asks for nothing: its receiver
		 * hears of the pair again when it has more to send, or (if the
		 * pair had asked before) the zero when it has sent all. */
		if (pr->unsched_defer)
			continue;
		/*
		 * Report on a significant change, and refresh well inside the TTL
		 * (a zero demand is said once: the receiver frees the share). A
		 * change that stays above the grant changes nothing at the
		 * receiver, so it waits for the refresh: a draining backlog would
		 * otherwise be reported every round.
		 */
		if ((ctl_changed(pr->demand_bps, pr->demand_reported_bps,
				 c->p.demand_change_frac) &&
		     demand_binding(c, pr)) ||
		    (pr->demand_bps && now_ns - pr->demand_sent_ns >= c->p.refresh_ns)) {
			c->outgoing[n_out++] = (struct outgoing){ .remote = pr->remote, .slot = s };
		}
	}
	for (uint32_t port = 0; port < c->n_ports; port++)
		compose_port(c, (uint16_t)port, now_ns);
	ctl_emit(c, TITA_MSG_DEMAND, c->outgoing, n_out, now_ns);
}

int ctl_on_grant(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	int applied = 0;

	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct tita_grant_entry *e = &m->grant[i];
		uint64_t old_grant_bps;
		int port = ctl_entry_port(c, &e->sender,
					  tita_addr_eq(&e->receiver, &m->peer) && e->ttl_ns &&
						  e->rate_bps <= TITA_RATE_MAX_BPS &&
						  e->ce_ppm <= 1000000);
		struct pair *pr;

		if (port < 0)
			continue;
		pr = ctl_pair_find(c, TITA_PAIR_TX, &e->sender, &e->receiver, e->job_id);
		if (!pr) {
			/* A grant for a pair we no longer have: nothing to pace. */
			c->stats.entries_skipped_mismatch++;
			continue;
		}
		old_grant_bps = pr->state == TITA_PAIR_GRANTED ? pr->grant_bps : 0;
		pr->state = TITA_PAIR_GRANTED;
		pr->grant_bps = ctl_clamp_rate(e->rate_bps, c->ports[port].line_rate_bps);
		/* Never trust a lifetime longer than our own: a receiver that dies
		 * must not hold this pair paced longer than we promised. */
		pr->expires_ns = now_ns + tita_min_u64(e->ttl_ns, c->p.grant_ttl_ns);
		pr->ce_ppm = e->ce_ppm;
		ctl_fabric_on_grant(c, pr, e, old_grant_bps, now_ns);
		ctl_unsched_on_grant(c, pr, e, now_ns);
		c->port_dirty[port] = true;
		applied++;
	}
	/* Apply a new grant at once rather than at the next round. */
	ctl_compose_dirty(c, now_ns);
	return applied;
}

void ctl_compose_dirty(struct tita_ctl *c, uint64_t now_ns)
{
	for (uint32_t port = 0; port < c->n_ports; port++) {
		if (c->port_dirty[port])
			compose_port(c, (uint16_t)port, now_ns);
		c->port_dirty[port] = false;
	}
}
