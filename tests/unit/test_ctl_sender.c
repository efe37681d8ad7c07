// SPDX-License-Identifier: MIT
/*
 * The sending side's mechanisms, one controller driven by hand: a TX pair
 * from host 1 to host 2, its samples, the grants host 2 would send, and the
 * rates the controller asks to program. Each test pins one mechanism
 * exactly, so that deleting or loosening it fails here: the start rate
 * before the first grant, probing for more, churn suppression, the cap on
 * a grant's lifetime, and fail-open when a grant lapses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tita/ctl.h"

#define LINE_BPS (100 * TITA_GBPS)
#define T0 (1000 * TITA_NSEC_PER_MSEC)

struct rig {
	struct tita_ctl *ctl;
	struct tita_ctl_params p;
	struct tita_addr me, peer;
	uint64_t now;
	/* The rates popped so far: how many, and the last. */
	uint32_t n_rates;
	uint64_t rate_bps;
};

static void rig_open(struct rig *r, const struct tita_ctl_params *p)
{
	*r = (struct rig){
		.me = tita_addr_from_host_id(1),
		.peer = tita_addr_from_host_id(2),
		.now = T0,
		.rate_bps = TITA_RATE_UNPACED,
	};
	if (p)
		r->p = *p;
	else
		tita_ctl_params_default(&r->p);
	r->ctl = tita_ctl_new(&r->p);
	assert_non_null(r->ctl);
	assert_int_equal(tita_ctl_port_add(r->ctl, &r->me, LINE_BPS), 0);
}

static void rig_close(struct rig *r)
{
	tita_ctl_free(r->ctl);
}

/* Pull what the controller produced; remember the pair's last rate. */
static void drain(struct rig *r)
{
	struct tita_rate_update u;
	struct tita_msg m;

	while (tita_ctl_pop_rate(r->ctl, &u)) {
		assert_true(tita_addr_eq(&u.local, &r->me) && tita_addr_eq(&u.remote, &r->peer));
		r->n_rates++;
		r->rate_bps = u.rate_bps;
	}
	while (tita_ctl_pop_msg(r->ctl, &m))
		;
}

/* One control interval of traffic: sent at sent_bps, backlog left over. */
static void sample(struct rig *r, uint64_t sent_bps, uint64_t backlog_bytes)
{
	struct tita_tx_sample s = {
		.local = r->me,
		.remote = r->peer,
		.interval_ns = r->p.control_interval_ns,
		.tx_bytes = tita_rate_to_bytes(sent_bps, r->p.control_interval_ns),
		.backlog_bytes = backlog_bytes,
	};

	assert_int_equal(tita_ctl_tx_sample(r->ctl, &s, r->now), 0);
	drain(r);
}

static void grant(struct rig *r, uint64_t rate_bps, uint64_t ttl_ns)
{
	struct tita_msg m = { .kind = TITA_MSG_GRANT, .peer = r->peer, .n_entries = 1 };

	m.grant[0] = (struct tita_grant_entry){
		.sender = r->me, .receiver = r->peer, .rate_bps = rate_bps, .ttl_ns = ttl_ns
	};
	assert_int_equal(tita_ctl_on_msg(r->ctl, &m, r->now), 1);
	drain(r);
}

/* The controller's time moves to `at`, running whatever is due. */
static void advance_to(struct rig *r, uint64_t at)
{
	r->now = at;
	tita_ctl_advance(r->ctl, r->now);
	drain(r);
}

static void next_round(struct rig *r)
{
	advance_to(r, r->now + r->p.control_interval_ns);
}

static struct tita_pair_info tx_pair(struct rig *r)
{
	struct tita_pair_info info;

	assert_int_equal(tita_ctl_pairs(r->ctl, &info, 1), 1);
	assert_int_equal(info.role, TITA_PAIR_TX);
	return info;
}

static uint64_t suppressed(struct rig *r)
{
	struct tita_ctl_stats st;

	tita_ctl_stats(r->ctl, &st);
	return st.rate_updates_suppressed;
}

/* A new pair with a long backlog, granted grant_bps: paced at its grant. */
static void start_granted(struct rig *r, uint64_t grant_bps)
{
	sample(r, 0, 64 << 20);
	next_round(r);
	grant(r, grant_bps, r->p.grant_ttl_ns);
	assert_int_equal(tx_pair(r).state, TITA_PAIR_GRANTED);
	assert_int_equal(r->rate_bps, grant_bps);
}

/* ---- short messages first ---------------------------------------------------- */

/* One interval's sample; the size the demands it sent said (the last),
 * 0 for a demand that said none, UINT64_MAX when none went. */
static uint64_t sample_said(struct rig *r, uint64_t tx_bytes, uint64_t backlog_bytes)
{
	struct tita_tx_sample s = {
		.local = r->me,
		.remote = r->peer,
		.interval_ns = r->p.control_interval_ns,
		.tx_bytes = tx_bytes,
		.backlog_bytes = backlog_bytes,
	};
	struct tita_msg m;
	uint64_t said = UINT64_MAX;

	assert_int_equal(tita_ctl_tx_sample(r->ctl, &s, r->now), 0);
	while (tita_ctl_pop_msg(r->ctl, &m))
		if (m.kind == TITA_MSG_DEMAND)
			said = m.demand[m.n_entries - 1].left_bytes;
	drain(r);
	return said;
}

/*
 * With srpt_ns a pair's demand says the size of the message it started
 * (not what is left of it later); a shorter message posted behind it on
 * the busy pair is said at once, and once the pair has sent as much, its
 * backlog is. Without srpt_ns (0) no demand says a size.
 */
static void test_message_size_said(void **state)
{
	struct tita_ctl_params p;
	struct rig r;

	(void)state;
	tita_ctl_params_default(&p);
	p.srpt_ns = 800 * TITA_NSEC_PER_USEC;
	rig_open(&r, &p);
	assert_int_equal(sample_said(&r, 0, 8 << 20), 8 << 20);
	next_round(&r);
	grant(&r, LINE_BPS, r.p.grant_ttl_ns);
	r.now += 10 * TITA_NSEC_PER_USEC;
	/* 1 MB sent; the backlog shrank by it: no new message, nothing said. */
	assert_true(sample_said(&r, 1 << 20, (8 << 20) - (1 << 20)) == UINT64_MAX);
	r.now += 10 * TITA_NSEC_PER_USEC;
	/* 1 MB sent, and a 200 KB message posted behind. */
	assert_int_equal(sample_said(&r, 1 << 20, (7 << 20) - (1 << 20) + 200000), 200000);
	r.now += 10 * TITA_NSEC_PER_USEC;
	/* The pair has sent as much: its backlog again. */
	assert_int_equal(sample_said(&r, 1 << 20, (5 << 20) + 200000), (5 << 20) + 200000);
	rig_close(&r);

	p.srpt_ns = 0;
	rig_open(&r, &p);
	assert_int_equal(sample_said(&r, 0, 8 << 20), 0);
	rig_close(&r);
}

/*
 * A stream is no message posted behind (design.md "Short messages first"):
 * a pair whose backlog stays at 1 MB, refilled by what it sends, says no
 * sample's bytes as its size (it said 400 KB, a sample's, before), and
 * what it says grows with its age (what it sent since its backlog was last
 * empty). A pair posted behind more than its busy period began with is
 * a stream too: it ranks by its age and backlog, not by the last message;
 * less than that, it is a message.
 */
static void test_stream_ranks_by_age(void **state)
{
	struct tita_ctl_params p;
	struct rig r;
	uint64_t said, last = 1 << 20;

	(void)state;
	tita_ctl_params_default(&p);
	p.srpt_ns = 800 * TITA_NSEC_PER_USEC;
	rig_open(&r, &p);
	assert_int_equal(sample_said(&r, 0, 1 << 20), 1 << 20);
	next_round(&r);
	grant(&r, LINE_BPS, r.p.grant_ttl_ns);
	for (int i = 0; i < 20; i++) {
		r.now += 10 * TITA_NSEC_PER_USEC;
		said = sample_said(&r, 400000, 1 << 20);
		if (said != UINT64_MAX) {
			assert_true(said >= last);
			last = said;
		}
	}
	/* 1 MB + 20 x 400 KB carried: said when it doubled, twice. */
	assert_true(last >= 4 << 20);
	rig_close(&r);

	rig_open(&r, &p);
	assert_int_equal(sample_said(&r, 0, 1 << 20), 1 << 20);
	next_round(&r);
	grant(&r, LINE_BPS, r.p.grant_ttl_ns);
	r.now += 10 * TITA_NSEC_PER_USEC;
	/* 300 KB sent, a 200 KB message posted behind: said at once. */
	assert_int_equal(sample_said(&r, 300000, (1 << 20) - 300000 + 200000), 200000);
	r.now += 10 * TITA_NSEC_PER_USEC;
	/* 300 KB sent and 900 KB more posted: 1.1 MB posted behind a busy
	 * period that began with 1 MB, a stream: 600 KB sent, 1.5 MB left. */
	said = sample_said(&r, 300000, (1 << 20) - 600000 + 1100000);
	assert_int_equal(said, 600000 + (1 << 20) - 600000 + 1100000);
	rig_close(&r);

	/* A busy period that begins between two samples (the backlog seen
	 * empty, then 1 MB more, the pair not idle) begins with what it had:
	 * a 200 KB message behind it is a message, not a stream. */
	rig_open(&r, &p);
	assert_int_equal(sample_said(&r, 0, 1 << 20), 1 << 20);
	next_round(&r);
	grant(&r, LINE_BPS, r.p.grant_ttl_ns);
	r.now += 10 * TITA_NSEC_PER_USEC;
	sample_said(&r, 1 << 20, 0);
	r.now += 10 * TITA_NSEC_PER_USEC;
	sample_said(&r, 100000, (1 << 20) - 100000);
	r.now += 10 * TITA_NSEC_PER_USEC;
	assert_int_equal(sample_said(&r, 300000, (1 << 20) - 400000 + 200000), 200000);
	rig_close(&r);
}

/* The rate host 1's pair towards host `to` is paced at. */
static uint64_t rate_to(struct tita_ctl *c, uint32_t to)
{
	struct tita_pair_info info[8];
	struct tita_addr a = tita_addr_from_host_id(to);
	size_t n = tita_ctl_pairs(c, info, 8);

	for (size_t i = 0; i < n && i < 8; i++)
		if (info[i].role == TITA_PAIR_TX && tita_addr_eq(&info[i].remote, &a))
			return info[i].rate_bps;
	fail_msg("no TX pair towards host %u", to);
	return 0;
}

/*
 * A sender with a 16 MB message to host 2 and a 300 KB one to host 3, each
 * granted the line: its uplink is the bottleneck. Max-min halves it; with
 * srpt_tx the short message's pair weighs srpt_max_weight (4) times as
 * much, and the long one keeps a fifth.
 */
static void test_sender_srpt(void **state)
{
	for (int on = 0; on < 2; on++) {
		struct tita_ctl_params p;
		struct tita_ctl *c;
		struct tita_addr me = tita_addr_from_host_id(1);
		uint64_t now = T0, r2, r3;

		(void)state;
		tita_ctl_params_default(&p);
		p.srpt_ns = 800 * TITA_NSEC_PER_USEC;
		p.srpt_tx = (uint32_t)on;
		c = tita_ctl_new(&p);
		assert_non_null(c);
		assert_int_equal(tita_ctl_port_add(c, &me, LINE_BPS), 0);
		tita_ctl_advance(c, now);
		for (uint32_t to = 2; to <= 3; to++) {
			struct tita_tx_sample s = { .local = me,
						    .remote = tita_addr_from_host_id(to),
						    .interval_ns = 1,
						    .backlog_bytes = to == 2 ? 16 << 20 : 300000 };

			assert_int_equal(tita_ctl_tx_sample(c, &s, now), 0);
		}
		now += 10 * TITA_NSEC_PER_USEC;
		for (uint32_t to = 2; to <= 3; to++) {
			struct tita_msg m = { .kind = TITA_MSG_GRANT,
					      .peer = tita_addr_from_host_id(to),
					      .n_entries = 1 };

			m.grant[0] = (struct tita_grant_entry){ .sender = me,
								.receiver = m.peer,
								.rate_bps = LINE_BPS,
								.ttl_ns = p.grant_ttl_ns };
			assert_int_equal(tita_ctl_on_msg(c, &m, now), 1);
		}
		tita_ctl_advance(c, now);
		r2 = rate_to(c, 2);
		r3 = rate_to(c, 3);
		if (on)
			assert_true(r3 >= 3 * r2 && r3 + r2 <= LINE_BPS);
		else
			assert_true(r3 <= r2 + r2 / 100 && r2 <= r3 + r3 / 100);
		tita_ctl_free(c);
	}
}

/* ---- the start rate ----------------------------------------------------------- */

/* A new pair is paced at start_rate_frac of its line rate at once, in the
 * sample that found it, and stays there until its first grant. */
static void test_start_rate(void **state)
{
	struct tita_ctl_params p;
	struct rig r;

	(void)state;
	for (int k = 0; k < 2; k++) {
		tita_ctl_params_default(&p);
		if (k)
			p.start_rate_frac = 0.1;
		rig_open(&r, &p);
		sample(&r, 0, 64 << 20);
		assert_int_equal(r.n_rates, 1);
		assert_int_equal(r.rate_bps, (uint64_t)(p.start_rate_frac * LINE_BPS));
		assert_int_equal(tx_pair(&r).state, TITA_PAIR_STARTING);
		/* Rounds without a grant (well inside its TTL) keep it there. */
		for (int i = 0; i < 20; i++) {
			sample(&r, r.rate_bps, 64 << 20);
			next_round(&r);
		}
		assert_int_equal(tx_pair(&r).rate_bps, (uint64_t)(p.start_rate_frac * LINE_BPS));
		assert_int_equal(r.n_rates, 1);
		/* The grant replaces it. */
		grant(&r, 40 * TITA_GBPS, p.grant_ttl_ns);
		assert_int_equal(r.rate_bps, 40 * TITA_GBPS);
		rig_close(&r);
	}
}

/* ---- probing --------------------------------------------------------------------- */

/* A granted pair sending sent_bps (no backlog) for a few rounds: its demand. */
static uint64_t demand_when_sending(uint64_t grant_bps, uint64_t sent_bps)
{
	struct rig r;
	uint64_t demand;

	rig_open(&r, NULL);
	start_granted(&r, grant_bps);
	/* Enough rounds for the backlog's demand to decay to the estimate. */
	for (int i = 0; i < 6; i++) {
		sample(&r, sent_bps, 0);
		next_round(&r);
	}
	demand = tx_pair(&r).demand_bps;
	rig_close(&r);
	return demand;
}

/* A pair that uses more than probe_threshold of its rate asks for
 * probe_gain times it (up to line rate); one that uses less asks for what
 * it uses. */
static void test_probing(void **state)
{
	struct tita_ctl_params p;

	(void)state;
	tita_ctl_params_default(&p);
	assert_true(p.probe_threshold == 0.9 && p.probe_gain == 1.5);
	/* 95 % of a 10G grant: asks for 15G. */
	assert_int_equal(demand_when_sending(10 * TITA_GBPS, 9500 * TITA_MBPS), 15 * TITA_GBPS);
	/* 85 %: asks for what it sends. */
	assert_int_equal(demand_when_sending(10 * TITA_GBPS, 8500 * TITA_MBPS), 8500 * TITA_MBPS);
	/* 95 % of 80G: 120G would be over the line; it asks for the line. */
	assert_int_equal(demand_when_sending(80 * TITA_GBPS, 76 * TITA_GBPS), LINE_BPS);
}

/* ---- churn suppression ----------------------------------------------------------- */

/*
 * A rate that rises by no more than churn_frac is not rewritten at once:
 * it waits, and goes out once it has waited a refresh period. A larger rise
 * goes out at once, and so does any decrease, however small.
 */
static void test_churn_small_rise_waits(void **state)
{
	struct rig r;
	uint64_t held_at, grant_bps = 10 * TITA_GBPS, small = grant_bps + grant_bps / 100;
	uint32_t n;

	(void)state;
	rig_open(&r, NULL);
	assert_true(r.p.churn_frac == 0.02);
	start_granted(&r, grant_bps);
	n = r.n_rates;

	/* +1 %: held back, and counted. */
	held_at = r.now;
	grant(&r, small, r.p.grant_ttl_ns);
	assert_int_equal(r.n_rates, n);
	assert_int_equal(tx_pair(&r).rate_bps, grant_bps);
	assert_int_equal(suppressed(&r), 1);
	/* Still held a round before the refresh period is up... */
	while (r.now + r.p.control_interval_ns < held_at + r.p.refresh_ns) {
		sample(&r, grant_bps, 64 << 20);
		next_round(&r);
		grant(&r, small, r.p.grant_ttl_ns);
	}
	assert_int_equal(r.n_rates, n);
	assert_int_equal(tx_pair(&r).rate_bps, grant_bps);
	/* ...and written once it is. */
	advance_to(&r, held_at + r.p.refresh_ns);
	assert_int_equal(r.n_rates, n + 1);
	assert_int_equal(r.rate_bps, small);
	assert_int_equal(tx_pair(&r).rate_bps, small);
	rig_close(&r);
}

static void test_churn_large_rise_and_any_cut_go_at_once(void **state)
{
	struct rig r;
	uint64_t grant_bps = 10 * TITA_GBPS;
	uint32_t n;

	(void)state;
	rig_open(&r, NULL);
	start_granted(&r, grant_bps);
	n = r.n_rates;
	/* -1 %: a decrease that waited could overrun the grant. */
	grant(&r, grant_bps - grant_bps / 100, r.p.grant_ttl_ns);
	assert_int_equal(r.n_rates, n + 1);
	assert_int_equal(r.rate_bps, grant_bps - grant_bps / 100);
	/* +3 %, over churn_frac: at once. */
	grant(&r, grant_bps + 3 * grant_bps / 100, r.p.grant_ttl_ns);
	assert_int_equal(r.n_rates, n + 2);
	assert_int_equal(r.rate_bps, grant_bps + 3 * grant_bps / 100);
	assert_int_equal(suppressed(&r), 0);
	rig_close(&r);
}

/* ---- a grant's lifetime ------------------------------------------------------------- */

/* A grant that claims to live longer than our grant_ttl_ns lives our
 * grant_ttl_ns: a receiver that dies must not hold the pair paced longer
 * than we promised. A shorter one keeps its own. */
static void test_grant_ttl_capped(void **state)
{
	struct rig r;

	(void)state;
	rig_open(&r, NULL);
	start_granted(&r, 10 * TITA_GBPS);
	grant(&r, 10 * TITA_GBPS, 60 * TITA_NSEC_PER_SEC);
	assert_int_equal(tx_pair(&r).expires_ns, r.now + r.p.grant_ttl_ns);
	/* Unrefreshed, it lapses at our TTL, not the receiver's. */
	sample(&r, 10 * TITA_GBPS, 64 << 20);
	advance_to(&r, r.now + r.p.grant_ttl_ns);
	assert_int_equal(tx_pair(&r).state, TITA_PAIR_FAIL_OPEN);

	grant(&r, 10 * TITA_GBPS, r.p.grant_ttl_ns / 2);
	assert_int_equal(tx_pair(&r).expires_ns, r.now + r.p.grant_ttl_ns / 2);
	rig_close(&r);
}

/* ---- fail-open ---------------------------------------------------------------------- */

/*
 * A grant that lapses (no refresh within its TTL) leaves the pair unpaced:
 * state TITA_PAIR_FAIL_OPEN, rate TITA_RATE_UNPACED (titad's "fail-open =
 * remove" removes the rule; "line-rate" programs the port's line rate in
 * its place), no expiry, counted. Not a round earlier. A job's cap still
 * holds. A grant brings pacing back.
 */
static void test_fail_open(void **state)
{
	struct rig r;
	struct tita_pair_info info;
	struct tita_ctl_stats st;
	uint64_t expires;
	uint32_t n;

	(void)state;
	rig_open(&r, NULL);
	start_granted(&r, 10 * TITA_GBPS);
	expires = tx_pair(&r).expires_ns;
	n = r.n_rates;
	while (r.now + r.p.control_interval_ns < expires) {
		sample(&r, 10 * TITA_GBPS, 64 << 20);
		next_round(&r);
	}
	advance_to(&r, expires - 1);
	assert_int_equal(tx_pair(&r).state, TITA_PAIR_GRANTED);
	assert_int_equal(r.n_rates, n);

	sample(&r, 10 * TITA_GBPS, 64 << 20);
	advance_to(&r, expires);
	info = tx_pair(&r);
	assert_int_equal(info.state, TITA_PAIR_FAIL_OPEN);
	assert_true(info.rate_bps == TITA_RATE_UNPACED);
	assert_int_equal(info.grant_bps, 0);
	assert_int_equal(info.expires_ns, 0);
	assert_int_equal(r.n_rates, n + 1);
	assert_true(r.rate_bps == TITA_RATE_UNPACED);
	tita_ctl_stats(r.ctl, &st);
	assert_int_equal(st.grants_expired, 1);

	/* It stays unpaced round after round while it sends. */
	for (int i = 0; i < 10; i++) {
		sample(&r, LINE_BPS, 64 << 20);
		next_round(&r);
	}
	assert_true(tx_pair(&r).rate_bps == TITA_RATE_UNPACED);
	assert_int_equal(r.n_rates, n + 1);

	grant(&r, 20 * TITA_GBPS, r.p.grant_ttl_ns);
	assert_int_equal(tx_pair(&r).state, TITA_PAIR_GRANTED);
	assert_int_equal(r.rate_bps, 20 * TITA_GBPS);
	rig_close(&r);
}

static void test_fail_open_keeps_job_cap(void **state)
{
	struct rig r;
	struct tita_job capped = { .weight_milli = TITA_WEIGHT_ONE, .max_bps = 30 * TITA_GBPS };

	(void)state;
	rig_open(&r, NULL);
	assert_int_equal(tita_ctl_job_set(r.ctl, TITA_JOB_DEFAULT, &capped), 0);
	start_granted(&r, 10 * TITA_GBPS);
	sample(&r, 10 * TITA_GBPS, 64 << 20);
	advance_to(&r, tx_pair(&r).expires_ns);
	assert_int_equal(tx_pair(&r).state, TITA_PAIR_FAIL_OPEN);
	assert_int_equal(r.rate_bps, 30 * TITA_GBPS);
	assert_int_equal(tx_pair(&r).rate_bps, 30 * TITA_GBPS);
	rig_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_rate),
		cmocka_unit_test(test_message_size_said),
		cmocka_unit_test(test_probing),
		cmocka_unit_test(test_churn_small_rise_waits),
		cmocka_unit_test(test_churn_large_rise_and_any_cut_go_at_once),
		cmocka_unit_test(test_grant_ttl_capped),
		cmocka_unit_test(test_fail_open),
		cmocka_unit_test(test_fail_open_keeps_job_cap),
		cmocka_unit_test(test_sender_srpt),
		cmocka_unit_test(test_stream_ranks_by_age),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
