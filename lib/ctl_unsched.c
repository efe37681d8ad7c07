// SPDX-License-Identifier: MIT
/*
 * The first round trip: a message's first bytes go unscheduled.
 *
 * A pair that starts a message with no grant to use may send its first
 * bytes (an allowance: what its line rate carries in unsched_ns, about one
 * bandwidth-delay product) at line rate, before any grant could come; the
 * pacer lets them go unpaced, then the rate it was given (the start rate).
 * A message that fits whole in unsched_short_ns goes whole and asks for no
 * grant at all: it is over before one could come (its receiver sees it as
 * unmanaged traffic, which its capacity already leaves room for). A longer
 * one asks for a grant at once and announces its unscheduled bytes with the
 * demand.
 *
 * The receiver counts the announced bytes as a queue in front of its
 * downlink, drained at line rate at best. With a pair's first grant it says
 * how long that queue still needs (hold_ns): the pair waits that long, at a
 * phase of its own within one packet at its share, then takes the grant.
 * An incast's senders thus burst once, wait while the burst drains, and
 * start under grants that fit the downlink, interleaved rather than in step;
 * CE marks while the burst drains do not cut the receiver's eta.
 *
 * A receiver whose announced bursts lately came to more than it bounds
 * (unsched_bound_ns at its line rate) shrinks the next allowances of the
 * pairs it grants in proportion, so that the same burst again stays within
 * the bound; the sender keeps the bound with the pair. A job of weight below 1 gets
 * that share of an allowance: bytes that bypass the receiver's allocation
 * keep to the operator's priorities.
 */
#include "ctl_internal.h"

/* A pair resumes at a random phase within this many bytes at its share. */
#define RESUME_PHASE_BYTES 4096.0

static uint64_t line_bytes(const struct port *pt, uint64_t ns)
{
	return (uint64_t)((double)pt->line_rate_bps * (double)ns / 8e9);
}

/* ---- the sender ---------------------------------------------------------- */

uint64_t ctl_unsched_allowance(const struct tita_ctl *c, const struct pair *pr,
			       uint64_t backlog_bytes)
{
	const struct port *pt = &c->ports[pr->port];
	uint64_t bytes = line_bytes(pt, c->p.unsched_ns);
	uint32_t weight = ctl_job_policy(c, pr->job_id)->weight_milli;

	/* The pacer counts frames, a backlog what the application posted: an
	 * eighth more covers the headers at any MTU from 512 bytes. */
	if (backlog_bytes <= line_bytes(pt, c->p.unsched_short_ns))
		bytes = tita_max_u64(bytes, backlog_bytes + backlog_bytes / 8);
	if (weight < TITA_WEIGHT_ONE)
		bytes = bytes * weight / TITA_WEIGHT_ONE;
	if (pr->has_unsched_limit)
		bytes = tita_min_u64(bytes, pr->unsched_limit_bytes);
	if (backlog_bytes > line_bytes(pt, c->p.unsched_short_ns)) {
		/* The first bytes of longer messages, all of a NIC's pairs
		 * together, keep to what a receiver bounds its announced
		 * bursts to (four short messages' worth without a bound): a
		 * job whose every pair starts at once (an all-to-all) would
		 * otherwise send one allowance per pair unscheduled, a burst
		 * of its 60 pairs' worth, and wait while it drains. A short
		 * message still goes whole: it is over before a grant. */
		uint64_t budget = line_bytes(
			pt, c->p.unsched_bound_ns ?
				    tita_max_u64(c->p.unsched_bound_ns, c->p.unsched_ns) :
				    4 * tita_max_u64(c->p.unsched_short_ns, c->p.unsched_ns));
		uint64_t open = 0;

		for (uint32_t k = 0; k < c->pairs_hwm && open < budget; k++) {
			const struct pair *o = &c->pairs[k];

			if (o != pr && o->used && o->role == TITA_PAIR_TX && o->port == pr->port)
				open += o->unsched_bytes;
		}
		bytes = open >= budget ? 0 : tita_min_u64(bytes, budget - open);
	}
	return tita_min_u64(bytes, TITA_UNSCHED_MAX_BYTES);
}

void ctl_unsched_arm(struct tita_ctl *c, struct pair *pr, uint64_t backlog_bytes, uint64_t now_ns)
{
	uint64_t bytes = ctl_unsched_allowance(c, pr, backlog_bytes);

	pr->resume_ns = 0;
	if (!bytes) {
		pr->unsched_bytes = pr->unsched_given_bytes = 0;
		pr->unsched_defer = false;
		return;
	}
	pr->unsched_bytes = pr->unsched_given_bytes = pr->unsched_announce_bytes = bytes;
	pr->unsched_sent_bytes = 0;
	pr->unsched_armed_ns = now_ns;
	pr->unsched_push = true;
	pr->unsched_defer = backlog_bytes <= bytes;
	c->port_dirty[pr->port] = true;
	c->stats.unsched_armed++;
}

/*
 * A new message on a pair that was idle for a round, or that said it had
 * sent all it had (the bytes of the last one have gone), gets a new
 * allowance, with or without a grant: a grant kept warm from earlier
 * traffic may be small (what the receiver's active pairs left it), and the
 * first bytes go at line rate either way. Whether its demand goes now.
 */
bool ctl_unsched_message(struct tita_ctl *c, struct pair *pr, uint64_t bytes, uint64_t now_ns)
{
	pr->idle_rounds = 0;
	pr->done = false;
	pr->unsched_run_bytes = 0;
	if (pr->state == TITA_PAIR_FAIL_OPEN)
		return false; /* unpaced anyway */
	if (pr->state == TITA_PAIR_STARTING)
		pr->expires_ns = now_ns + c->p.grant_ttl_ns;
	ctl_unsched_arm(c, pr, bytes, now_ns);
	return !pr->unsched_defer;
}

bool ctl_unsched_sample(struct tita_ctl *c, struct pair *pr, const struct tita_tx_sample *s,
			uint64_t now_ns)
{
	const struct port *pt = &c->ports[pr->port];
	uint64_t tx = s->tx_bytes, sent;

	/* A sample that began before the allowance was armed counts bytes of
	 * the last message too: only its share after the arm is this one's. */
	if (s->interval_ns && now_ns - s->interval_ns < pr->unsched_armed_ns)
		tx = (uint64_t)((double)s->tx_bytes * (double)(now_ns - pr->unsched_armed_ns) /
				(double)s->interval_ns);
	sent = pr->unsched_sent_bytes + tx;
	/* Another message while the last one still goes whole: the backlog
	 * grew, or what waits is more than the allowance has left (it came
	 * while the last one went). Together with those that went before
	 * them, they are one message that still fits (a new allowance covers
	 * what waits), or the pair asks. */
	if (pr->unsched_defer && pr->state != TITA_PAIR_FAIL_OPEN &&
	    (s->backlog_bytes > pr->backlog_bytes ||
	     sent + s->backlog_bytes > pr->unsched_given_bytes)) {
		if (pr->unsched_run_bytes + sent + s->backlog_bytes <=
			    line_bytes(pt, c->p.unsched_short_ns) &&
		    ctl_unsched_allowance(c, pr, s->backlog_bytes) >= s->backlog_bytes) {
			pr->unsched_run_bytes += sent;
			ctl_unsched_arm(c, pr, s->backlog_bytes, now_ns);
			return false;
		}
		pr->unsched_defer = false;
		return true;
	}
	if (!pr->unsched_bytes)
		return false;
	pr->unsched_sent_bytes = sent;
	if (pr->unsched_sent_bytes >= pr->unsched_bytes) {
		/* Spent: a rate held back meanwhile may go out now. */
		pr->unsched_bytes = 0;
		c->port_dirty[pr->port] = true;
	}
	return false;
}

/*
 * A grant for a pair. The first after an allowance that asked for it ends
 * the allowance (if the pacer has not spent it yet) and holds the pair for
 * the receiver's hold_ns, then a phase of its own within a packet at its
 * share: pacers that start in step stay in step, and an incast's senders,
 * released together when their bursts have drained, would otherwise clump
 * their packets at the receiver's switch for good. A pair whose message
 * goes whole asked for nothing: a grant of earlier traffic does not cut
 * its allowance short. Every grant may bound the pair's next allowance.
 */
void ctl_unsched_on_grant(struct tita_ctl *c, struct pair *pr, const struct tita_grant_entry *e,
			  uint64_t now_ns)
{
	uint64_t share, phase_ns, given;

	pr->has_unsched_limit = e->has_unsched_limit;
	pr->unsched_limit_bytes = e->unsched_limit_bytes;
	if (pr->unsched_defer || !pr->unsched_given_bytes)
		return;
	if (pr->unsched_bytes) {
		pr->unsched_bytes = 0;
		pr->unsched_push = true;
	}
	given = pr->unsched_given_bytes;
	pr->unsched_given_bytes = 0;
	/* A queue that is only this pair's own burst is no reason to wait:
	 * its own link already sends the burst before the grant's bytes, and
	 * there is no crowd to be released with. Held, it would stop (a pacer
	 * holds at its least rate: tc's HTB then owes a frame's time at that
	 * rate, 10 ms, long after the hold) in the middle of a message that
	 * its warm grant was carrying. */
	if (!e->hold_ns || line_bytes(&c->ports[pr->port], e->hold_ns) <= given)
		return;
	/* The receiver's downlink share, before any leaf's cap: a new pair's
	 * leaf cap (the start rate until its leader answers) is no packet time. */
	share = tita_max_u64(pr->grant_bps, pr->far_share_bps);
	phase_ns = share ? (uint64_t)(RESUME_PHASE_BYTES * 8e9 / (double)share *
				      (double)(tita_rng_next(&c->rng) >> 11) / 0x1p53) :
			   0;
	pr->resume_ns = now_ns + tita_min_u64(e->hold_ns, c->p.grant_ttl_ns) + phase_ns;
	if (pr->resume_ns > now_ns) {
		c->resume_due_ns = tita_min_u64(c->resume_due_ns, pr->resume_ns);
		c->stats.unsched_holds++;
	} else {
		pr->resume_ns = 0;
	}
}

void ctl_sender_resume(struct tita_ctl *c, uint64_t now_ns)
{
	c->resume_due_ns = TITA_TIME_NEVER;
	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];

		if (c->slot_role[s] != TITA_PAIR_TX || !pr->resume_ns)
			continue;
		if (pr->resume_ns <= now_ns) {
			pr->resume_ns = 0;
			c->port_dirty[pr->port] = true;
		} else {
			c->resume_due_ns = tita_min_u64(c->resume_due_ns, pr->resume_ns);
		}
	}
	ctl_compose_dirty(c, now_ns);
}

/* ---- the receiver -------------------------------------------------------- */

/* What is left at now_ns of the unscheduled bytes announced to the port. */
static uint64_t queue_bytes(const struct port *pt, uint64_t now_ns)
{
	double drained = (double)(now_ns - pt->unsched_q_ns) * (double)pt->line_rate_bps / 8e9;

	if (now_ns >= pt->unsched_until_ns)
		return 0;
	return (uint64_t)fmax(0, (double)pt->unsched_q_bytes - drained);
}

/* The largest queue of announced bytes lately: it halves every grant TTL. */
static double peak_bytes(const struct tita_ctl *c, const struct port *pt, uint64_t now_ns)
{
	return pt->unsched_peak_bytes *
	       exp2(-(double)(now_ns - pt->unsched_peak_ns) / (double)c->p.grant_ttl_ns);
}

void ctl_unsched_announced(struct tita_ctl *c, struct pair *pr, uint64_t bytes, uint64_t now_ns)
{
	struct port *pt = &c->ports[pr->port];
	uint64_t q = queue_bytes(pt, now_ns) + tita_min_u64(bytes, TITA_UNSCHED_MAX_BYTES);

	pt->unsched_q_bytes = q;
	pt->unsched_q_ns = now_ns;
	pt->unsched_until_ns = now_ns + (uint64_t)ceil((double)q * 8e9 / (double)pt->line_rate_bps);
	pt->unsched_peak_bytes = fmax(peak_bytes(c, pt, now_ns), (double)q);
	pt->unsched_peak_ns = now_ns;
	pr->unsched_hold = true;
	c->stats.unsched_announced_bytes += bytes;
}

bool ctl_unsched_draining(const struct tita_ctl *c, const struct port *pt, uint64_t now_ns)
{
	/* ...and a round for the marks of its last bytes to be counted. */
	return now_ns < pt->unsched_until_ns + c->p.control_interval_ns;
}

void ctl_unsched_fill_grant(struct tita_ctl *c, struct pair *pr, struct tita_grant_entry *e,
			    uint64_t now_ns)
{
	const struct port *pt = &c->ports[pr->port];
	double bound = (double)line_bytes(pt, c->p.unsched_bound_ns), peak;

	if (pr->unsched_hold) {
		e->hold_ns = now_ns < pt->unsched_until_ns ? pt->unsched_until_ns - now_ns : 0;
		pr->unsched_hold = false;
	}
	/* Too many at once lately: the next allowances shrink in proportion,
	 * so that the same burst again stays within the bound. */
	peak = peak_bytes(c, pt, now_ns);
	if (c->p.unsched_bound_ns && peak > bound) {
		e->has_unsched_limit = true;
		e->unsched_limit_bytes =
			(uint64_t)((double)line_bytes(pt, c->p.unsched_ns) * bound / peak);
	}
}

/* A new pair's first message is short (short_start_ns): it need not wait
 * for a batch or its leaf's leader (ctl_receiver.c, ctl_fabric.c), as it
 * can leave no more queue than its size wherever it lands. */
bool ctl_short_start(const struct tita_ctl *c, const struct port *pt, uint64_t msg_bytes)
{
	return c->p.short_start_ns && msg_bytes &&
	       (double)msg_bytes * 8e9 <= (double)c->p.short_start_ns * (double)pt->line_rate_bps;
}
