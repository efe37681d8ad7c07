// SPDX-License-Identifier: MIT
/*
 * The leaf leader (tita/fabric.h) on hand-made reports: how it water-fills
 * each link; on the sender's side, which lines seek a place and which
 * proposals it takes, refuses or swaps for; on the receiver's side, where it
 * proposes and what it keeps for the lines on their way; links that are
 * down, room, expiry, and bad input.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tita/ctl.h"
#include "tita/fabric.h"

#define G TITA_GBPS
#define US TITA_NSEC_PER_USEC

static const struct tita_place leaf4 = { .leaf = 7, .n_spines = 4, .spine_bps = 100 * G };

static struct tita_leader *leader(void)
{
	struct tita_leader_params p;
	struct tita_leader *l;

	tita_leader_params_default(&p);
	p.eta = 0.95;
	p.max_entries = 64;
	l = tita_leader_new(&p, &leaf4);
	assert_non_null(l);
	return l;
}

static struct tita_leaf_entry line(uint32_t member, uint8_t dir, uint16_t spine, uint32_t remote,
				   uint32_t job, uint64_t demand_bps)
{
	return (struct tita_leaf_entry){
		.member = tita_addr_from_host_id(member),
		.dir = dir,
		.spine = spine,
		.remote_leaf = remote,
		.job_id = job,
		.weight_milli = TITA_WEIGHT_ONE,
		.demand_bps = demand_bps,
		.move_to = TITA_SPINE_NONE,
	};
}

/* The answer's line for (member, dir, spine, remote, job). */
static struct tita_leaf_entry answer(struct tita_leader *l, uint32_t member, uint8_t dir,
				     uint16_t spine, uint32_t remote, uint32_t job)
{
	struct tita_addr a = tita_addr_from_host_id(member);
	struct tita_leaf_entry out[64];
	size_t n = tita_leader_answer(l, &a, out, 64, NULL, NULL, 0);

	/* An answer does not echo what the member asked or its weight. */
	for (size_t k = 0; k < n && k < 64; k++) {
		assert_int_equal(out[k].demand_bps, 0);
		assert_int_equal(out[k].weight_milli, TITA_WEIGHT_ONE);
		assert_int_equal(out[k].n_pairs, 0);
	}
	for (size_t k = 0; k < n; k++)
		if (out[k].dir == dir && out[k].spine == spine && out[k].remote_leaf == remote &&
		    out[k].job_id == job)
			return out[k];
	fail_msg("no answer line for member %u spine %u", member, spine);
	return out[0];
}

static void assert_near(uint64_t got, uint64_t want)
{
	uint64_t d = got > want ? got - want : want - got;

	if (d > 1000)
		fail_msg("%llu, want %llu", (unsigned long long)got, (unsigned long long)want);
}

static void test_shares_a_link_by_job_weight(void **state)
{
	/* One spine: nowhere to move to, so the link is shared. */
	static const struct tita_place leaf1 = { .leaf = 7, .n_spines = 1, .spine_bps = 100 * G };
	struct tita_leader_params p;
	struct tita_leader *l;
	struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 0, 3, 1, 80 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_UP, 0, 3, 2, 80 * G);
	struct tita_leaf_entry c = line(3, TITA_LEAF_DOWN, 0, 3, 1, 10 * G);

	(void)state;
	tita_leader_params_default(&p);
	p.eta = 0.95;
	l = tita_leader_new(&p, &leaf1);
	assert_non_null(l);
	a.weight_milli = 3 * TITA_WEIGHT_ONE;
	assert_int_equal(tita_leader_report(l, &a, 0), 0);
	assert_int_equal(tita_leader_report(l, &b, 0), 0);
	assert_int_equal(tita_leader_report(l, &c, 0), 0);
	tita_leader_run(l, 1);
	/* 95 G up shared 3:1; the downlink gives what is asked, and the
	 * rest of the link on top (a cap is a bound, not a reservation). */
	assert_near(answer(l, 1, TITA_LEAF_UP, 0, 3, 1).cap_bps, 71250000000ull);
	assert_near(answer(l, 2, TITA_LEAF_UP, 0, 3, 2).cap_bps, 23750000000ull);
	assert_near(answer(l, 3, TITA_LEAF_DOWN, 0, 3, 1).cap_bps, 95 * G);
	tita_leader_free(l);
}

/*
 * Lines of small pairs tell how many they hold: within a job a line weighs
 * its pairs, but the job weighs its weight whatever its lines hold. Jobs 1
 * and 2 weigh alike; job 1's lines hold 4 and 1 pairs, job 2's 1 (the
 * same with 4 pairs, and with 2 lines of 2 pairs each). Lines of no job
 * weigh all their pairs.
 */
static void test_pairs_weigh_within_their_job(void **state)
{
	static const struct tita_place leaf1 = { .leaf = 7, .n_spines = 1, .spine_bps = 100 * G };
	static const uint32_t job2_pairs[] = { 0, 1, 4 };
	struct tita_leader_params p;
	struct tita_leader *l;

	(void)state;
	tita_leader_params_default(&p);
	p.eta = 0.95;
	for (size_t i = 0; i < sizeof(job2_pairs) / sizeof(job2_pairs[0]); i++) {
		struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 1, 80 * G);
		struct tita_leaf_entry b = line(2, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 1, 80 * G);
		struct tita_leaf_entry c = line(3, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 2, 80 * G);

		l = tita_leader_new(&p, &leaf1);
		assert_non_null(l);
		a.n_pairs = 4;
		c.n_pairs = job2_pairs[i];
		assert_int_equal(tita_leader_report(l, &a, 0), 0);
		assert_int_equal(tita_leader_report(l, &b, 0), 0);
		assert_int_equal(tita_leader_report(l, &c, 0), 0);
		tita_leader_run(l, 1);
		/* 95 G: 47.5 a job; job 1's 4:1 within. */
		assert_near(answer(l, 3, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 2).cap_bps,
			    47500000000ull);
		assert_near(answer(l, 1, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 1).cap_bps, 38 * G);
		assert_near(answer(l, 2, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 1).cap_bps, 9500000000ull);
		tita_leader_free(l);
	}
	/* Of no job: every line its own, weighing its pairs, 4:1. */
	{
		struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, 80 * G);
		struct tita_leaf_entry b = line(2, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, 80 * G);

		l = tita_leader_new(&p, &leaf1);
		assert_non_null(l);
		a.n_pairs = 4;
		assert_int_equal(tita_leader_report(l, &a, 0), 0);
		assert_int_equal(tita_leader_report(l, &b, 0), 0);
		tita_leader_run(l, 1);
		assert_near(answer(l, 1, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0).cap_bps, 76 * G);
		assert_near(answer(l, 2, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0).cap_bps, 19 * G);
		tita_leader_free(l);
	}
}

/* Two large lines on one uplink: the younger seeks a new place (its
 * receiving leaf decides where), once; the link is shared meanwhile. */
static void test_overloaded_uplink_seeks(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 0, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_UP, 0, 5, 0, 95 * G);
	struct tita_leaf_entry x, y;
	struct tita_leader_stats st;

	(void)state;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 5 * US);
	tita_leader_run(l, 10 * US);
	x = answer(l, 1, TITA_LEAF_UP, 0, 3, 0);
	y = answer(l, 2, TITA_LEAF_UP, 0, 5, 0);
	assert_int_equal(x.move_bps, 0);
	assert_int_equal(y.move_bps, 95 * G);
	assert_int_equal(y.move_to, TITA_SPINE_NONE);
	assert_near(x.cap_bps, 47500000000ull);
	assert_near(y.cap_bps, 47500000000ull);
	tita_leader_run(l, 20 * US);
	tita_leader_stats(l, &st);
	assert_int_equal(st.seeks, 1);
	tita_leader_free(l);
}

/* A downlink offered 2 x 95 G: the line whose sender can go to a free
 * downlink is asked there, and that downlink is kept for it. */
static void test_downlink_proposes_where_the_sender_can_go(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	struct tita_leaf_entry x, y;
	struct tita_leader_link up[4], down[4];
	struct tita_leader_stats st;

	(void)state;
	b.room_mask = 1u << 3; /* b's sender could take spine 3 */
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_run(l, 1);
	x = answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0);
	y = answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0);
	assert_int_equal(x.move_bps, 0);
	assert_int_equal(y.move_bps, 95 * G);
	assert_int_equal(y.move_to, 3);
	assert_false(y.swap);
	/* Spine 3's downlink is kept for b: the others, there, get what is
	 * left of it. */
	tita_leader_links(l, up, down);
	assert_int_equal(down[3].allocated_bps, 95 * G);
	tita_leader_stats(l, &st);
	assert_int_equal(st.proposals, 1);
	assert_int_equal(st.proposals_swap, 0);
	tita_leader_free(l);
}

/* A proposal carries the share kept for the line where it is asked to, so
 * that its receiver grants that at once when it arrives: the whole of a free
 * downlink, what it asks of one that a small line uses; none for a line
 * that stays. */
static void test_proposal_carries_the_share_kept(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	struct tita_leaf_entry c = line(3, TITA_LEAF_DOWN, 3, 5, 0, 95 * G);
	struct tita_leaf_entry x, y;

	(void)state;
	b.room_mask = 1u << 3;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_run(l, 1);
	x = answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0);
	y = answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0);
	assert_int_equal(y.move_to, 3);
	assert_near(y.move_cap_bps, 95 * G);
	assert_int_equal(x.move_cap_bps, 0);
	/* Until it has moved, it keeps its cap where it is. */
	assert_near(y.cap_bps, 47500000000ull);
	tita_leader_free(l);

	/* Spine 3 carries a small line: the one asked there is kept what it
	 * asks, and the two caps there add up to the link. */
	l = leader();
	a.room_mask = 0;
	b.demand_bps = 80 * G;
	c.demand_bps = 10 * G;
	tita_leader_report(l, &c, 0);
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_run(l, 1);
	y = answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0);
	x = answer(l, 3, TITA_LEAF_DOWN, 3, 5, 0);
	assert_int_equal(y.move_to, 3);
	assert_true(y.move_cap_bps >= 80 * G && y.move_cap_bps < 85 * G);
	assert_true(x.cap_bps >= 10 * G);
	assert_near(y.move_cap_bps + x.cap_bps, 95 * G);
	tita_leader_free(l);
}

/* No sender can go anywhere that has room: after a while the oldest line
 * is asked anyway, to a free downlink, with a swap allowed at its
 * sender's leaf. */
static void test_downlink_asks_for_a_swap_after_a_while(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	struct tita_leaf_entry c = line(3, TITA_LEAF_DOWN, 0, 5, 0, 95 * G);
	struct tita_leaf_entry x;
	struct tita_leader_params p;

	(void)state;
	tita_leader_params_default(&p);
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 10 * US);
	tita_leader_report(l, &c, 0);
	tita_leader_run(l, 10 * US);
	assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_bps, 0);
	assert_int_equal(answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0).move_bps, 0);
	tita_leader_run(l, 10 * US + p.move_hold_ns);
	x = answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0);
	assert_int_equal(x.move_bps, 95 * G);
	assert_true(x.swap);
	/* A downlink with room, 1 or 3, not 0 (c) or 2; that one only, so
	 * that a chain of swaps it starts stays on one pair of spines. */
	assert_true(x.move_to == 1 || x.move_to == 3);
	assert_int_equal(x.room_mask, 1u << x.move_to);
	assert_int_equal(answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0).move_bps, 0);
	tita_leader_free(l);
}

/* A downlink kept for a line on its way is not shared out to the line
 * already there: it would come in over the caps. */
static void test_kept_downlink_is_not_shared_out(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 50 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 50 * G);
	struct tita_leaf_entry r = line(3, TITA_LEAF_DOWN, 3, 5, 0, 40 * G);

	(void)state;
	a.room_mask = 1u << 3;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_report(l, &r, 0);
	tita_leader_run(l, 1);
	assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_to, 3);
	/* Spine 3 carries 95 G: 50 are kept for a, and r gets its 40 and half
	 * of the 5 left over (without a's move it would have been given all
	 * 95). */
	assert_near(answer(l, 3, TITA_LEAF_DOWN, 3, 5, 0).cap_bps, 42500000000ull);
	/* a keeps its share of spine 2 until it has moved. */
	assert_near(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).cap_bps, 47500000000ull);
	tita_leader_free(l);
}

/* A proposal is void once its sender's leaf no longer has room there: the
 * next run asks the line elsewhere, not a move hold later. */
static void test_refused_proposal_is_made_anew(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);

	(void)state;
	a.room_mask = 1u << 3;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_run(l, 1);
	assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_to, 3);
	a.room_mask = 1u << 1;
	tita_leader_report(l, &a, 2 * US);
	tita_leader_run(l, 2 * US);
	assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_to, 1);
	tita_leader_free(l);
}

/* A proposal given again when it lapsed, the same as before, is news to
 * its member: the member's copy lapsed too, and its sender would stop
 * hearing it. The leader is due to run when the swap wait ends, before
 * the order lapses. */
static void test_proposal_given_again_is_told(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	struct tita_addr m = tita_addr_from_host_id(2);
	struct tita_leader_params p;

	(void)state;
	tita_leader_params_default(&p);
	b.room_mask = 1u << 3;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_run(l, 1);
	assert_int_equal(answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0).move_to, 3);
	tita_leader_mark_answered(l, &m, 1);
	assert_false(tita_leader_changed(l, &m, 0.05, 2));
	assert_true(tita_leader_next_due_ns(l, 1) > 1);
	assert_true(tita_leader_next_due_ns(l, 1) <= 1 + p.move_hold_ns / 4);
	tita_leader_report(l, &a, p.move_hold_ns);
	tita_leader_report(l, &b, p.move_hold_ns);
	tita_leader_run(l, 1 + p.move_hold_ns);
	assert_int_equal(answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0).move_to, 3);
	assert_true(tita_leader_changed(l, &m, 0.05, 2 + p.move_hold_ns));
	tita_leader_free(l);
}

/* The wait before a swap counts from when the downlink was first offered
 * too much, not from when the last proposal for it went void: a proposal
 * in force that its sender then cannot take costs no second wait. */
static void test_swap_wait_counts_from_the_overload(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	struct tita_leaf_entry c = line(3, TITA_LEAF_DOWN, 0, 5, 0, 95 * G);
	struct tita_leaf_entry x, y;
	struct tita_leader_params p;

	(void)state;
	tita_leader_params_default(&p);
	a.room_mask = 1u << 3;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 10 * US);
	tita_leader_report(l, &c, 0);
	tita_leader_run(l, 10 * US);
	assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_to, 3);
	tita_leader_run(l, 20 * US);
	/* a's sender has no room on 3 after all. */
	a.room_mask = 0;
	tita_leader_report(l, &a, 25 * US);
	tita_leader_run(l, 25 * US);
	assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_bps, 0);
	assert_true(tita_leader_next_due_ns(l, 25 * US) > 25 * US);
	assert_true(tita_leader_next_due_ns(l, 25 * US) <= 10 * US + p.move_hold_ns / 4);
	tita_leader_run(l, 10 * US + p.move_hold_ns / 4);
	/* The oldest, a, as a rule; now and then the other (a chain that
	 * goes round a cycle of leaves is broken so). */
	x = answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0);
	y = answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0);
	assert_true(x.move_bps + y.move_bps == 95 * G);
	assert_true(x.move_bps ? x.swap : y.swap);
	tita_leader_free(l);
}

/* A line that came onto a downlink in a swap is not asked to swap again
 * while a line that was there before it shares the link: asked back, its
 * sender's leaf would swap it back, and the chain would undo itself. The
 * resident goes, to the spine the newcomer came from. With no resident,
 * a newcomer is asked all the same. */
static void test_swap_never_asks_the_line_a_swap_brought(void **state)
{
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	struct tita_leaf_entry c = line(3, TITA_LEAF_DOWN, 0, 5, 0, 95 * G);
	struct tita_leader_params p;

	(void)state;
	tita_leader_params_default(&p);
	b.move_to = 1; /* its receiver says it came from spine 1 */
	for (int resident = 1; resident >= 0; resident--) {
		struct tita_leader *l = leader();

		a.move_to = resident ? TITA_SPINE_NONE : 3;
		tita_leader_report(l, &a, 0);
		tita_leader_report(l, &c, 0);
		tita_leader_report(l, &b, 10 * US);
		tita_leader_run(l, 10 * US); /* the overload starts */
		/* Proposals lapse after a hold and are made anew: every time,
		 * whatever the leader draws. */
		for (uint64_t k = 0; k < 16; k++) {
			uint64_t t = 10 * US + p.move_hold_ns / 4 + k * (p.move_hold_ns + US);
			struct tita_leaf_entry x, y;

			tita_leader_report(l, &a, t);
			tita_leader_report(l, &b, t);
			tita_leader_report(l, &c, t);
			tita_leader_run(l, t);
			x = answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0);
			y = answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0);
			if (resident) {
				assert_int_equal(y.move_bps, 0);
				assert_int_equal(x.move_bps, 95 * G);
				assert_true(x.swap);
				assert_int_equal(x.move_to, 1);
			} else {
				assert_int_equal(x.move_bps + y.move_bps, 95 * G);
			}
		}
		tita_leader_free(l);
	}
}

/* A chain's next step: a line came onto a downlink in a swap (its
 * receiver says from where), and the line it landed on is asked there
 * after a 64th of a hold, not an eighth (most of a step's time: the last
 * collisions of a 256-host permutation walk 10-14 steps); the leader is
 * due then. A first swap still waits a quarter. */
static void test_chain_step_waits_little(void **state)
{
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	struct tita_leaf_entry c = line(3, TITA_LEAF_DOWN, 0, 5, 0, 95 * G);
	struct tita_leaf_entry d = line(4, TITA_LEAF_DOWN, 3, 6, 0, 95 * G);
	struct tita_leader_params p;

	(void)state;
	tita_leader_params_default(&p);
	for (int chain = 1; chain >= 0; chain--) {
		struct tita_leader *l = leader();
		uint64_t wait = chain ? p.move_hold_ns / 64 : p.move_hold_ns / 4;
		struct tita_leaf_entry x, y;

		tita_leader_report(l, &a, 0);
		tita_leader_report(l, &c, 0);
		tita_leader_report(l, &d, 0);
		tita_leader_run(l, 0);
		b.move_to = chain ? 1 : TITA_SPINE_NONE;
		tita_leader_report(l, &b, 10 * US);
		tita_leader_run(l, 10 * US);
		assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_bps, 0);
		assert_true(tita_leader_next_due_ns(l, 10 * US) > 10 * US);
		assert_true(tita_leader_next_due_ns(l, 10 * US) <= 10 * US + wait);
		tita_leader_run(l, 10 * US + wait - 1);
		assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_bps, 0);
		tita_leader_run(l, 10 * US + wait);
		/* The resident, to where the newcomer came from; with no
		 * chain, either line (now and then the younger). */
		x = answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0);
		y = answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0);
		assert_int_equal(x.move_bps + y.move_bps, 95 * G);
		assert_true(x.move_bps ? x.swap : y.swap);
		if (chain) {
			assert_int_equal(x.move_bps, 95 * G);
			assert_int_equal(x.move_to, 1);
		}
		tita_leader_free(l);
	}
}

/* One passage of a collision on downlink s of leaf 7 (spines 0..3, the
 * two spines not s or t full): member 1's line (from leaf 3) there first,
 * member 2's (from leaf 4) come in a swap from t, or the other way round
 * (two_came_back: member 1's line comes in, member 2's is resident). Lines
 * on the other spines are withdrawn. Returns the member asked to t. */
static uint32_t passage(struct tita_leader *l, uint16_t s, uint16_t t, bool two_came_back,
			uint64_t at_ns)
{
	struct tita_leader_params p;
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, s, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, s, 4, 0, 95 * G);
	struct tita_leaf_entry x, y;

	tita_leader_params_default(&p);
	for (uint16_t o = 0; o < 4; o++) {
		struct tita_leaf_entry f = line(3 + o, TITA_LEAF_DOWN, o, 5 + o, 0, 95 * G);
		struct tita_leaf_entry gone_a = line(1, TITA_LEAF_DOWN, o, 3, 0, 0);
		struct tita_leaf_entry gone_b = line(2, TITA_LEAF_DOWN, o, 4, 0, 0);

		if (o == s || o == t)
			f.demand_bps = 0;
		tita_leader_report(l, &f, at_ns);
		if (o == s)
			continue;
		tita_leader_report(l, &gone_a, at_ns);
		tita_leader_report(l, &gone_b, at_ns);
	}
	(two_came_back ? &a : &b)->move_to = t;
	tita_leader_report(l, &a, at_ns);
	tita_leader_report(l, &b, at_ns + 10 * US);
	tita_leader_run(l, at_ns + 10 * US); /* the overload starts */
	tita_leader_run(l, at_ns + 10 * US + p.move_hold_ns / 4);
	x = answer(l, 1, TITA_LEAF_DOWN, s, 3, 0);
	y = answer(l, 2, TITA_LEAF_DOWN, s, 4, 0);
	assert_int_equal(!!x.move_bps + !!y.move_bps, 1);
	assert_true(x.move_bps ? x.swap : y.swap);
	assert_int_equal(x.move_bps ? x.move_to : y.move_to, t);
	return x.move_bps ? 1 : 2;
}

/* Two collisions that walk round an even cycle of leaves on one pair of
 * spines, each a Kempe swap a step, both the same way: every leaf sees one
 * on s, then one on t, then one on s again. At that third passage the one
 * on the higher spine turns (the line that came in is asked back, not the
 * resident), so that they meet; the one on the lower spine walks on, as a
 * chain whose returning line the leader asked away itself does (a chain
 * already turned, walking back). */
static void test_chain_round_a_cycle_turns_once(void **state)
{
	const uint64_t step = 300 * US;

	(void)state;
	for (int c = 0; c < 3; c++) {
		struct tita_leader *l = leader();
		uint16_t s = c == 1 ? 1 : 2, t = c == 1 ? 2 : 1;
		struct tita_leader_stats st;

		/* Member 1 is resident and asked away, then asked back. */
		assert_int_equal(passage(l, s, t, false, 0), 1);
		assert_int_equal(passage(l, t, s, false, step), 1);
		if (c == 0) {
			/* The third passage on the higher spine: member 2,
			 * which came in, is asked back. */
			assert_int_equal(passage(l, s, t, false, 2 * step), 2);
		} else if (c == 1) {
			/* On the lower spine: the resident, as before. */
			assert_int_equal(passage(l, s, t, false, 2 * step), 1);
		} else {
			/* Member 1, asked away at the last passage on s,
			 * comes back: a turned chain; member 2 is asked. */
			assert_int_equal(passage(l, s, t, true, 2 * step), 2);
		}
		tita_leader_stats(l, &st);
		assert_int_equal(st.lap_turns, c == 0);
		tita_leader_free(l);
	}
}

/* The sender's side of a proposal: taken when the uplink there has room;
 * refused (and counted once) when not; with leave to swap, our line there
 * trades places and is marked as going where nobody kept room. */
static void test_takes_refuses_and_swaps_proposals(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry f = line(1, TITA_LEAF_UP, 0, 3, 0, 95 * G);
	struct tita_leaf_entry g = line(2, TITA_LEAF_UP, 1, 4, 0, 95 * G);
	struct tita_leaf_entry h = line(3, TITA_LEAF_UP, 2, 5, 0, 95 * G);
	struct tita_leaf_entry x, y;
	struct tita_leader_stats st;

	(void)state;
	f.move_bps = 95 * G;
	f.room_mask = 1u << 3; /* spine 3: free here */
	tita_leader_report(l, &f, 0);
	tita_leader_report(l, &g, 0);
	tita_leader_report(l, &h, 0);
	tita_leader_run(l, 1);
	x = answer(l, 1, TITA_LEAF_UP, 0, 3, 0);
	assert_int_equal(x.move_to, 3);
	assert_false(x.swap);
	tita_leader_free(l);

	l = leader();
	f.room_mask = 1u << 1; /* spine 1: g is there */
	tita_leader_report(l, &f, 0);
	tita_leader_report(l, &g, 0);
	tita_leader_report(l, &h, 0);
	tita_leader_run(l, 1);
	tita_leader_run(l, 2);
	assert_int_equal(answer(l, 1, TITA_LEAF_UP, 0, 3, 0).move_bps, 0);
	tita_leader_stats(l, &st);
	assert_int_equal(st.refused, 1);
	f.swap = true;
	tita_leader_report(l, &f, 3);
	tita_leader_run(l, 3);
	x = answer(l, 1, TITA_LEAF_UP, 0, 3, 0);
	y = answer(l, 2, TITA_LEAF_UP, 1, 4, 0);
	assert_int_equal(x.move_to, 1);
	assert_false(x.swap);
	assert_int_equal(y.move_to, 0);
	assert_true(y.swap);
	assert_int_equal(answer(l, 3, TITA_LEAF_UP, 2, 5, 0).move_bps, 0);
	tita_leader_stats(l, &st);
	assert_int_equal(st.swaps, 1);
	tita_leader_free(l);
}

/* Small pairs summed under TITA_LEAF_ANY are not moved (the hash spreads
 * them; moving them costs more than it gains): the caps share the link. */
static void test_aggregates_share_and_stay(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, 60 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, 60 * G);
	struct tita_leaf_entry x, y;

	(void)state;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_run(l, 1);
	x = answer(l, 1, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0);
	y = answer(l, 2, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0);
	assert_int_equal(x.move_bps + y.move_bps, 0);
	/* 120 G offered, 95 G carried, shared evenly. */
	assert_near(x.cap_bps, 47500000000ull);
	assert_near(y.cap_bps, 47500000000ull);
	tita_leader_free(l);
}

/*
 * A smaller cap is told when the link needs it: not when a line's cap fell
 * with its own demand (its member will not send more than it asks), but
 * when the members were told more than their caps and ask for it, beyond
 * half the headroom eta leaves (2.5 G of 100 G here).
 */
static void test_smaller_cap_told_when_the_link_needs_it(void **state)
{
	struct tita_leader *l = leader();
	struct tita_addr m;

	(void)state;
	/* 19 lines asking 10 G each on a 95 G link: 5 G each. */
	for (uint32_t k = 0; k < 19; k++) {
		struct tita_leaf_entry e = line(k, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, 10 * G);

		assert_int_equal(tita_leader_report(l, &e, 0), 0);
	}
	tita_leader_run(l, 1);
	for (uint32_t k = 0; k < 19; k++) {
		m = tita_addr_from_host_id(k);
		assert_true(tita_leader_changed(l, &m, 0.05, 1));
		tita_leader_mark_answered(l, &m, 1);
		assert_false(tita_leader_changed(l, &m, 0.05, 1));
	}
	assert_near(answer(l, 0, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0).cap_bps, 5 * G);
	/* Member 0 asks 4 G: its cap falls by 20 %, with its demand. */
	{
		struct tita_leaf_entry e = line(0, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, 4 * G);

		tita_leader_report(l, &e, 2);
	}
	tita_leader_run(l, 3);
	assert_near(answer(l, 0, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0).cap_bps, 4 * G);
	m = tita_addr_from_host_id(0);
	assert_false(tita_leader_changed(l, &m, 0.05, 3));
	/* Two more lines: every cap falls by 10 % (to 95 / 21 G), below what
	 * 18 members were told and ask for: 8.6 G over the link's share. */
	for (uint32_t k = 19; k < 21; k++) {
		struct tita_leaf_entry e = line(k, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, 10 * G);

		tita_leader_report(l, &e, 4);
	}
	tita_leader_run(l, 5);
	m = tita_addr_from_host_id(1);
	assert_true(tita_leader_changed(l, &m, 0.05, 5));
	tita_leader_free(l);
}

static void test_link_down_gives_nothing_and_seeks(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 1, 3, 0, 40 * G);
	struct tita_leaf_entry x;

	(void)state;
	tita_leader_set_links_down(l, 1u << 1);
	tita_leader_report(l, &a, 0);
	tita_leader_run(l, 1);
	x = answer(l, 1, TITA_LEAF_UP, 1, 3, 0);
	/* It seeks another spine, and has nothing on the dead one. */
	assert_int_equal(x.move_bps, 40 * G);
	assert_int_equal(x.move_to, TITA_SPINE_NONE);
	assert_int_equal(x.cap_bps, 0);
	{
		struct tita_leader_link up[4], down[4];

		tita_leader_links(l, up, down);
		assert_int_equal(up[1].capacity_bps, 0);
		assert_int_equal(up[1].allocated_bps, 0);
		assert_true(up[1].down);
	}
	tita_leader_free(l);
}

/* What a member tells the other side its line could take: a link with room
 * for the whole line; on full links, one where its job has half a line less
 * (no worse here), or a line and a half less when it seeks for our sake. */
static void test_room_for_a_line(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry big = line(1, TITA_LEAF_UP, 0, 3, 0, 60 * G);
	struct tita_leaf_entry small = line(2, TITA_LEAF_UP, 0, 4, 0, 20 * G);
	struct tita_leaf_entry other = line(3, TITA_LEAF_UP, 1, 4, 0, 50 * G);

	(void)state;
	tita_leader_report(l, &big, 0);
	tita_leader_report(l, &small, 0);
	tita_leader_report(l, &other, 0);
	tita_leader_run(l, 1);
	/* Spine 1 has 45 G left: room for the 20 G line, not the 60 G one,
	 * but job 0 has 80 G on spine 0 and 50 G on 1: 50 + 30 <= 80, no
	 * worse for the 60 G line either. */
	assert_int_equal(answer(l, 1, TITA_LEAF_UP, 0, 3, 0).room_mask, 0xe);
	assert_int_equal(answer(l, 2, TITA_LEAF_UP, 0, 4, 0).room_mask, 0xe);
	tita_leader_free(l);

	/* Two jobs on four full links: job 1 has 3 lines on spine 0, 1 on
	 * spine 1; job 2 one on each spine. Job 1's lines on spine 0 (120 G)
	 * are ahead by more than a line and a half of 40 G everywhere: two
	 * seek (one line a spine evens job 1 out), each saying it would be
	 * better off on 1, 2 or 3. */
	l = leader();
	for (uint32_t m = 0; m < 3; m++) {
		struct tita_leaf_entry e = line(10 + m, TITA_LEAF_UP, 0, 3, 1, 40 * G);

		tita_leader_report(l, &e, 0);
	}
	{
		struct tita_leaf_entry e = line(20, TITA_LEAF_UP, 1, 3, 1, 40 * G);

		tita_leader_report(l, &e, 0);
	}
	for (uint32_t s = 0; s < 4; s++) {
		struct tita_leaf_entry e = line(30 + s, TITA_LEAF_UP, s, 3, 2, 95 * G);

		tita_leader_report(l, &e, 0);
	}
	tita_leader_run(l, 1);
	{
		uint32_t seekers = 0;

		for (uint32_t m = 0; m < 3; m++) {
			struct tita_leaf_entry a = answer(l, 10 + m, TITA_LEAF_UP, 0, 3, 1);

			if (a.move_bps) {
				seekers++;
				assert_int_equal(a.move_to, TITA_SPINE_NONE);
				assert_int_equal(a.room_mask, 0xe);
			}
		}
		/* With two gone, job 1 has as much on spine 0 as on 1: the
		 * third stays. */
		assert_int_equal(seekers, 2);
	}
	/* Job 2's lines are even: nothing is better for them. */
	assert_int_equal(answer(l, 30, TITA_LEAF_UP, 0, 3, 2).move_bps, 0);
	tita_leader_free(l);
}

static void test_lines_expire_and_withdraw(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 1, 3, 0, 40 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_UP, 1, 3, 0, 40 * G);
	struct tita_leader_link up[4], down[4];
	struct tita_leader_stats st;

	(void)state;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 5 * TITA_NSEC_PER_MSEC);
	tita_leader_run(l, 11 * TITA_NSEC_PER_MSEC);
	tita_leader_links(l, up, down);
	assert_int_equal(up[1].entries, 1);
	assert_int_equal(up[1].demand_bps, 40 * G);
	b.demand_bps = 0;
	tita_leader_report(l, &b, 12 * TITA_NSEC_PER_MSEC);
	tita_leader_run(l, 12 * TITA_NSEC_PER_MSEC);
	tita_leader_links(l, up, down);
	assert_int_equal(up[1].entries, 0);
	tita_leader_stats(l, &st);
	assert_int_equal(st.entries_expired, 1);
	tita_leader_free(l);
}

static void test_bad_input_is_refused(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry e = line(1, TITA_LEAF_UP, 4, 3, 0, G); /* spine 4 of 4 */
	struct tita_leader_params p;
	struct tita_place bad = leaf4;
	struct tita_leader_stats st;

	(void)state;
	assert_int_equal(tita_leader_report(l, &e, 0), -EINVAL);
	e = line(1, 3, 0, 3, 0, G);
	assert_int_equal(tita_leader_report(l, &e, 0), -EINVAL);
	e = line(1, TITA_LEAF_UP, 0, 7, 0, G); /* its own leaf */
	assert_int_equal(tita_leader_report(l, &e, 0), -EINVAL);
	e = line(1, TITA_LEAF_UP, 0, 3, 0, TITA_RATE_MAX_BPS + 1);
	assert_int_equal(tita_leader_report(l, &e, 0), -EINVAL);
	e = line(1, TITA_LEAF_UP, 0, 3, 0, G);
	e.weight_milli = 0;
	assert_int_equal(tita_leader_report(l, &e, 0), -EINVAL);
	e = line(1, TITA_LEAF_UP, 0, TITA_LEAF_ANY, 0, G);
	e.n_pairs = TITA_LEAF_PAIRS_MAX + 1;
	assert_int_equal(tita_leader_report(l, &e, 0), -EINVAL);
	tita_leader_stats(l, &st);
	assert_int_equal(st.reports_rejected, 6);
	/* The table is bounded. */
	for (uint32_t m = 0; m < 64; m++) {
		e = line(100 + m, TITA_LEAF_UP, 0, 3, 0, G);
		assert_int_equal(tita_leader_report(l, &e, 0), 0);
	}
	e = line(999, TITA_LEAF_UP, 0, 3, 0, G);
	assert_int_equal(tita_leader_report(l, &e, 0), -ENOSPC);
	tita_leader_free(l);

	tita_leader_params_default(&p);
	bad.n_spines = TITA_SPINES_MAX + 1;
	assert_null(tita_leader_new(&p, &bad));
	assert_int_equal(errno, EINVAL);
	p.eta = 0;
	assert_null(tita_leader_new(&p, &leaf4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares_a_link_by_job_weight),
		cmocka_unit_test(test_pairs_weigh_within_their_job),
		cmocka_unit_test(test_overloaded_uplink_seeks),
		cmocka_unit_test(test_downlink_proposes_where_the_sender_can_go),
		cmocka_unit_test(test_proposal_carries_the_share_kept),
		cmocka_unit_test(test_downlink_asks_for_a_swap_after_a_while),
		cmocka_unit_test(test_kept_downlink_is_not_shared_out),
		cmocka_unit_test(test_refused_proposal_is_made_anew),
		cmocka_unit_test(test_proposal_given_again_is_told),
		cmocka_unit_test(test_swap_wait_counts_from_the_overload),
		cmocka_unit_test(test_swap_never_asks_the_line_a_swap_brought),
		cmocka_unit_test(test_chain_step_waits_little),
		cmocka_unit_test(test_chain_round_a_cycle_turns_once),
		cmocka_unit_test(test_takes_refuses_and_swaps_proposals),
		cmocka_unit_test(test_aggregates_share_and_stay),
		cmocka_unit_test(test_link_down_gives_nothing_and_seeks),
		cmocka_unit_test(test_smaller_cap_told_when_the_link_needs_it),
		cmocka_unit_test(test_room_for_a_line),
		cmocka_unit_test(test_lines_expire_and_withdraw),
		cmocka_unit_test(test_bad_input_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
