/* SPDX-License-Identifier: MIT */
/*
 * The fabric between the hosts: where a NIC sits (its leaf and the leaf's
 * uplinks), and the leaf leader that allocates the capacity of those uplinks
 * among the leaf's NICs and steers their traffic across them.
 *
 * A two-tier leaf-spine fabric: every leaf has n_spines uplinks of equal
 * capacity, one to each spine (or plane), and a packet from leaf L to leaf M
 * takes the uplink (L, s) and the downlink (s, M) of the spine s that the
 * leaf's ECMP hash picks for its 5-tuple. On RoCEv2 the only field a host
 * chooses is the UDP source port: choosing it chooses s (path steering).
 *
 * Nobody owns (L, s) but the NICs under L together; the leaf elects one of
 * them, deterministically, to allocate its uplinks, and another its
 * downlinks: the leaders (nothing a leader decides for one direction reads
 * the other's lines, so each is a tita_leader of its own). Its members report
 * what they send up and receive down, per spine; the leader water-fills each
 * link (by job weight, then pair) and answers with caps, and with orders to
 * move traffic off a spine that is offered more than it carries. Caps expire:
 * a leader that dies leaves its members to the reactive ceiling within a
 * TTL, never stuck.
 *
 * Pure, like the rest of lib/: time comes in as an argument.
 */
#ifndef TITA_FABRIC_H
#define TITA_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/types.h"

/* Room masks are 64 bits: a leaf's first 64 uplinks are steered, more are
 * left to the hash. */
#define TITA_SPINES_MAX 64u
#define TITA_SPINE_NONE 0xffffu
/* A leaf id nobody has: the NIC's place is unknown. */
#define TITA_LEAF_NONE UINT32_MAX
/* In a leaf entry: traffic to or from any leaf (small pairs, aggregated). */
#define TITA_LEAF_ANY (UINT32_MAX - 1)
/* The most small pairs a line of any leaf tells it holds (a NIC with more
 * says this many). */
#define TITA_LEAF_PAIRS_MAX (1u << 20)

/* Where a NIC sits. All zero (n_spines 0): not in a known fabric. */
struct tita_place {
	uint32_t leaf; /* the leaf's id, not TITA_LEAF_NONE or TITA_LEAF_ANY */
	uint32_t n_spines; /* 1..TITA_SPINES_MAX uplinks of the leaf */
	uint64_t spine_bps; /* capacity of each uplink (and downlink) */
};

static inline bool tita_place_known(const struct tita_place *p)
{
	return p->n_spines != 0;
}

/* 0, or -EINVAL (a known place with a bad field). */
int tita_place_check(const struct tita_place *p);

enum tita_leaf_dir {
	TITA_LEAF_UP = 1, /* members' traffic out of the leaf, over (L, spine) */
	TITA_LEAF_DOWN = 2, /* traffic into the leaf, over (spine, L) */
};

/*
 * One line of a member's report to its leader, or of the leader's answer.
 * The key is (member, dir, spine, remote_leaf, job): traffic of one member
 * over one link, towards (or from) one leaf, of one job. A member reports a
 * large pair under its remote leaf, so the leader can steer it knowing
 * where it goes, and sums small pairs under TITA_LEAF_ANY.
 */
struct tita_leaf_entry {
	struct tita_addr member;
	uint8_t dir; /* enum tita_leaf_dir */
	uint16_t spine; /* 0..n_spines-1 */
	uint32_t remote_leaf; /* a leaf id, or TITA_LEAF_ANY */
	uint32_t job_id;
	uint32_t weight_milli; /* the job's weight, 1..TITA_WEIGHT_MAX */
	/* Report, a line of any leaf: the small pairs summed into it, 0..
	 * TITA_LEAF_PAIRS_MAX (0 and 1 both mean one). The leader weighs a
	 * line by them among its job's lines; the job keeps weight_milli. */
	uint32_t n_pairs;
	uint64_t demand_bps; /* report: what the traffic could use; 0 withdraws */
	/*
	 * Who decides where a pair goes is its receiver's leader, who owns the
	 * downlinks; the sender's leader owns the uplinks and takes or refuses.
	 *
	 * Report, UP: traffic its receiving leaf asks to move to a spine in
	 * room_mask; with swap, making room on that uplink is allowed.
	 * Report, DOWN: traffic whose senders seek a new spine (their uplink
	 * is overloaded); room_mask the spines they could go to; move_to the
	 * spine it came from lately where no room was kept for it (a swap).
	 * Answer, UP: traffic to move to move_to; or, with move_to NONE, to
	 * have placed anew by its receiving leaf (the uplink is overloaded).
	 * Answer, DOWN: traffic whose senders are asked to move to move_to,
	 * kept free for them, or (with swap) to any spine in room_mask.
	 */
	uint64_t move_bps;
	uint16_t move_to;
	uint64_t room_mask;
	bool swap;
	uint64_t cap_bps; /* answer: what the entry may use until it expires */
	/* Answer, DOWN with move_to: what the entry may use on that spine once
	 * it is there (the room kept for it), which its receiver grants at
	 * once rather than the cap it had where it was. 0: none kept. */
	uint64_t move_cap_bps;
};

struct tita_leader_params {
	/* Target utilization of a fabric link: the caps add up to eta x its
	 * capacity. */
	double eta;
	/* A reported entry lives this long unrefreshed; the leader's caps
	 * live as long at the member. */
	uint64_t entry_ttl_ns;
	/* A link has room when this fraction of its capacity is unallocated. */
	double room_frac;
	/* An order to move traffic is given once and counted as done for
	 * this long, so that it is not repeated while the member drains its
	 * queue pairs and reports the new spine. */
	uint64_t move_hold_ns;
	uint32_t max_entries;
};

void tita_leader_params_default(struct tita_leader_params *p);

struct tita_leader;

/* NULL with errno (EINVAL, ENOMEM). */
struct tita_leader *tita_leader_new(const struct tita_leader_params *p,
				    const struct tita_place *leaf);
struct tita_leader *tita_leader_free(struct tita_leader *l);

/* Links that are down carry nothing: their caps are 0 and traffic on them
 * is moved. Bit s of the mask for spine s. */
void tita_leader_set_links_down(struct tita_leader *l, uint64_t down_mask);

/*
 * A member's report line. Replaces the line with the same key; a zero
 * demand (and no move) withdraws it. 0, -EINVAL (bad dir, spine, weight),
 * -ENOSPC (table full).
 */
int tita_leader_report(struct tita_leader *l, const struct tita_leaf_entry *e, uint64_t now_ns);

/*
 * Water-fill every link and decide the moves. Call each control round, and
 * early after reports changed. Then read the answers with
 * tita_leader_answer().
 */
void tita_leader_run(struct tita_leader *l, uint64_t now_ns);

/*
 * When the leader should run again, whatever it hears: an order lapses or a
 * downlink's wait before a swap ends (TITA_TIME_NEVER: nothing is due).
 */
uint64_t tita_leader_next_due_ns(const struct tita_leader *l, uint64_t now_ns);

/*
 * The answer for one member: its lines with cap_bps and any move set (no
 * demand, weight one: the member has its own), up to max of them (returns
 * how many exist, like snprintf), and the leaf's uplinks and downlinks with
 * room.
 */
size_t tita_leader_answer(const struct tita_leader *l, const struct tita_addr *member,
			  struct tita_leaf_entry *out, size_t max, uint64_t *ret_up_room,
			  uint64_t *ret_down_room, uint64_t now_ns);

/*
 * Whether a member's answer would differ from the one it last got (marked
 * with tita_leader_mark_answered()) in a way that matters: a new line, an
 * order not yet told, a cap that moved by more than frac and by a few
 * percent of its link, or a smaller cap on a link whose members were told
 * more than their caps (and ask for it) by over half the headroom eta
 * leaves.
 */
bool tita_leader_changed(const struct tita_leader *l, const struct tita_addr *member, double frac,
			 uint64_t now_ns);
void tita_leader_mark_answered(struct tita_leader *l, const struct tita_addr *member,
			       uint64_t now_ns);

/* The members that reported (for sending answers): up to max, returns how many. */
size_t tita_leader_members(const struct tita_leader *l, struct tita_addr *out, size_t max);

struct tita_leader_link {
	uint64_t capacity_bps;
	uint64_t demand_bps; /* offered */
	uint64_t allocated_bps;
	uint32_t entries;
	bool down;
};

/* Per spine, for snapshots: up[s] and down[s]. */
void tita_leader_links(const struct tita_leader *l, struct tita_leader_link *up,
		       struct tita_leader_link *down);

struct tita_leader_stats {
	uint64_t runs;
	uint64_t reports, reports_rejected, reports_no_space;
	uint64_t entries_expired;
	/* Receiving side: proposals to senders (those allowing a swap
	 * among them). Sending side: lines told to seek a new place, proposals
	 * accepted, swaps made for one, proposals refused. */
	uint64_t proposals, proposals_swap;
	/* Of those, swap proposals that turned a chain going round a cycle
	 * of leaves (a line that came in asked back). */
	uint64_t lap_turns;
	uint64_t seeks, accepted, swaps, refused;
};

void tita_leader_stats(const struct tita_leader *l, struct tita_leader_stats *ret);

#endif /* TITA_FABRIC_H */
