// SPDX-License-Identifier: MIT
/*
 * The leaf leader (tita/fabric.h) on hand-made reports: how it water-fills
 * each link, which moves it orders for overloaded uplinks, which lines it
 * designates on overloaded downlinks, moves the far end asked for (with a
 * swap when no uplink has room), links that are down, expiry, and bad input.
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
	size_t n = tita_leader_answer(l, &a, out, 64, NULL, NULL);

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

/* Two large pairs on one uplink: one is moved to a spine with room where
 * the far leaf has room too, once; the order holds, and is not repeated. */
static void test_moves_off_an_overloaded_uplink(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 0, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_UP, 0, 5, 0, 95 * G);
	struct tita_leaf_entry busy = line(3, TITA_LEAF_UP, 1, 3, 0, 95 * G);
	struct tita_leaf_entry x, y;
	struct tita_leader_stats st;

	(void)state;
	a.room_mask = 1u << 3; /* leaf 3 has room on spine 3 only */
	b.room_mask = 0xf;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_report(l, &busy, 0);
	tita_leader_run(l, 10 * US);
	x = answer(l, 1, TITA_LEAF_UP, 0, 3, 0);
	y = answer(l, 2, TITA_LEAF_UP, 0, 5, 0);
	/* Exactly one of them moves, whole, to a spine with room (not 1). */
	assert_true((x.move_bps != 0) != (y.move_bps != 0));
	if (x.move_bps) {
		assert_int_equal(x.move_to, 3);
		assert_int_equal(x.move_bps, 95 * G);
	} else {
		assert_true(y.move_to == 2 || y.move_to == 3);
		assert_int_equal(y.move_bps, 95 * G);
	}
	/* The caps count the move as done: the one that stays has spine 0
	 * to itself, the one that moves what its new spine has. */
	assert_near(x.cap_bps, 95 * G);
	assert_near(y.cap_bps, 95 * G);
	tita_leader_run(l, 20 * US);
	tita_leader_stats(l, &st);
	assert_int_equal(st.moves_uplink, 1);
	tita_leader_free(l);
}

/* A downlink offered 2 x 95 G designates one line (its senders move). */
static void test_designates_on_an_overloaded_downlink(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_DOWN, 2, 3, 0, 95 * G);
	struct tita_leaf_entry b = line(2, TITA_LEAF_DOWN, 2, 4, 0, 95 * G);
	uint64_t up_room, down_room;
	struct tita_addr m = tita_addr_from_host_id(1);
	struct tita_leaf_entry out[8];
	uint64_t moved;

	(void)state;
	tita_leader_report(l, &a, 0);
	tita_leader_report(l, &b, 0);
	tita_leader_run(l, 1);
	moved = answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_bps +
		answer(l, 2, TITA_LEAF_DOWN, 2, 4, 0).move_bps;
	assert_int_equal(moved, 95 * G);
	assert_int_equal(answer(l, 1, TITA_LEAF_DOWN, 2, 3, 0).move_to, TITA_SPINE_NONE);
	tita_leader_answer(l, &m, out, 8, &up_room, &down_room);
	/* Spine 2's downlink has no room; the others all have. */
	assert_int_equal(down_room, 0xb);
	assert_int_equal(up_room, 0xf);
	tita_leader_free(l);
}

/* The far leaf asks a pair on spine 0 to move to spine 1 or 2; both our
 * uplinks are full, so it swaps with a pair on spine 1 whose far leaf has
 * room on spine 0. */
static void test_requested_move_swaps_when_uplinks_are_full(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry f = line(1, TITA_LEAF_UP, 0, 3, 0, 95 * G);
	struct tita_leaf_entry g1 = line(2, TITA_LEAF_UP, 1, 4, 0, 95 * G);
	struct tita_leaf_entry g2 = line(3, TITA_LEAF_UP, 2, 5, 0, 95 * G);
	struct tita_leaf_entry g3 = line(4, TITA_LEAF_UP, 3, 6, 0, 95 * G);
	struct tita_leaf_entry a, b;

	(void)state;
	f.move_bps = 95 * G;
	f.room_mask = 0x6; /* leaf 3 has room on spines 1, 2 */
	g1.room_mask = 0x1; /* leaf 4 has room on spine 0 */
	g2.room_mask = 0x8; /* leaf 5 only on spine 3: no swap */
	tita_leader_report(l, &f, 0);
	tita_leader_report(l, &g1, 0);
	tita_leader_report(l, &g2, 0);
	tita_leader_report(l, &g3, 0);
	tita_leader_run(l, 1);
	a = answer(l, 1, TITA_LEAF_UP, 0, 3, 0);
	b = answer(l, 2, TITA_LEAF_UP, 1, 4, 0);
	assert_int_equal(a.move_to, 1);
	assert_int_equal(a.move_bps, 95 * G);
	assert_int_equal(b.move_to, 0);
	assert_int_equal(answer(l, 3, TITA_LEAF_UP, 2, 5, 0).move_bps, 0);
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

static void test_link_down_gives_nothing_and_moves_off(void **state)
{
	struct tita_leader *l = leader();
	struct tita_leaf_entry a = line(1, TITA_LEAF_UP, 1, 3, 0, 40 * G);
	struct tita_leaf_entry x;

	(void)state;
	tita_leader_set_links_down(l, 1u << 1);
	tita_leader_report(l, &a, 0);
	tita_leader_run(l, 1);
	x = answer(l, 1, TITA_LEAF_UP, 1, 3, 0);
	assert_int_equal(x.move_bps, 40 * G);
	assert_int_not_equal(x.move_to, 1);
	assert_int_not_equal(x.move_to, TITA_SPINE_NONE);
	/* Its cap is what the spine it moves to gives (all of it: it is alone
	 * there); the link that is down gives nothing. */
	assert_near(x.cap_bps, 95 * G);
	{
		struct tita_leader_link up[4], down[4];

		tita_leader_links(l, up, down);
		assert_int_equal(up[1].capacity_bps, 0);
		assert_int_equal(up[1].allocated_bps, 0);
		assert_true(up[1].down);
	}
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
	tita_leader_stats(l, &st);
	assert_int_equal(st.reports_rejected, 5);
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
		cmocka_unit_test(test_moves_off_an_overloaded_uplink),
		cmocka_unit_test(test_designates_on_an_overloaded_downlink),
		cmocka_unit_test(test_requested_move_swaps_when_uplinks_are_full),
		cmocka_unit_test(test_aggregates_share_and_stay),
		cmocka_unit_test(test_link_down_gives_nothing_and_moves_off),
		cmocka_unit_test(test_lines_expire_and_withdraw),
		cmocka_unit_test(test_bad_input_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
