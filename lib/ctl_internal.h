/* SPDX-License-Identifier: MIT */
/*
 * The controller's private state, shared by the files that make it up (the
 * public interface is tita/ctl.h; nothing outside lib/ includes this):
 *
 *   ctl.c           construction, reloads, ports and jobs, the output rings,
 *                   messages in, expiry and the round driver
 *   ctl_params.c    the parameter table, defaults and checks
 *   ctl_pairs.c     the pair table: slots, hash index, growth, eviction
 *   ctl_sender.c    TX pairs: demand estimate, reports, composing and
 *                   programming the rate, grants in
 *   ctl_receiver.c  RX side: measuring the downlink, the eta loop, max-min
 *                   allocation and its memo, the grant policy, demands in
 *   ctl_unsched.c   a message's unscheduled first bytes: the sender's
 *                   allowance, its hold after the first grant, and the
 *                   receiver's count of the bytes and bound on them
 *   ctl_snapshot.c  pairs, ports and counters for titactl and metrics
 *   ceiling.c       the reactive ceiling (tita/ceiling.h), per TX pair
 *   ctl_fabric.c    the fabric between the hosts (tita/fabric.h): places,
 *                   path probes and steering, a member's reports to its
 *                   leaf's leader and its answers, and the leader's side
 *   leader.c        the leaf leader's allocation and moves (tita/fabric.h)
 */
#ifndef TITA_CTL_INTERNAL_H
#define TITA_CTL_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tita/alloc.h"
#include "tita/ceiling.h"
#include "tita/ctl.h"
#include "tita/fabric.h"

/* RX measurements per remote address carry no job; they sit in the table as
 * this role with this job id. */
#define ROLE_SOURCE 3
#define JOB_ANY UINT32_MAX

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
	/* Some pair's unchanged demand is to be answered with its grant
	 * (pair.answer_due), which needs no allocation. */
	bool answers_due;
	/* Unscheduled bytes its senders announced, as a queue that the
	 * downlink drains at line rate: its size at unsched_q_ns, and when it
	 * will have drained (ctl_receiver.c). */
	uint64_t unsched_q_bytes, unsched_q_ns, unsched_until_ns;
	/* The largest such queue lately, and when it was seen. */
	double unsched_peak_bytes;
	uint64_t unsched_peak_ns;
	/* The fabric: NULL while the port has no place (ctl_fabric.c). */
	struct fab_port *fab;
};

/* A TX pair's path (ctl_fabric.c). */
enum fab_path {
	PATH_OFF = 0, /* no fabric, or a remote under the same leaf */
	PATH_PROBING, /* its source port is being probed */
	PATH_KNOWN, /* the spine of its source port is known */
	PATH_MOVING, /* told to take another source port, not applied yet */
	/* A source port of tita's whose spine nobody probed: in a leaf that
	 * is not oversubscribed, a pair whose message went whole or that had
	 * a small share of its NIC when it began (decided at its first
	 * demand, ctl_fabric_tx_started), counted as spread over the spines
	 * (many such pairs are, by the hash), until it grows large. */
	PATH_SPREAD,
};

/* What probing found for a TX pair: source ports and their spines, and the
 * probes still out. */
#define FAB_PROBES_MAX 64
struct fab_probes {
	uint8_t n, n_out;
	uint16_t sport[FAB_PROBES_MAX];
	uint8_t spine[FAB_PROBES_MAX];
	uint16_t out[FAB_PROBES_MAX];
	uint64_t sent_ns;
	/* A path refresh of the pair's own port: out apart from the rest, so
	 * that it holds nothing back that waits for probes (try_move(),
	 * marks, a held-back pair's next batch). */
	bool refresh_out;
	uint16_t refresh_sport;
	uint64_t refresh_ns;
	/* It forgot the ports it had learnt, told of a rehash. */
	bool forgot;
};

struct pair {
	bool used;
	uint8_t role; /* TITA_PAIR_TX, TITA_PAIR_RX or ROLE_SOURCE */
	uint8_t state; /* enum tita_pair_state */
	uint16_t port;
	uint32_t job_id;
	struct tita_addr local, remote;
	uint64_t last_active_ns;

	/* Measurements of the last round. */
	uint64_t measured_bps;
	uint32_t ce_ppm;
	uint32_t fabric_ce_ppm; /* RX: the part of ce_ppm not from our own downlink */
	uint32_t fabric_ce_rounds, fabric_clean_rounds; /* RX: consecutive rounds with, without */
	uint32_t fabric_ce_reported_ppm;
	uint32_t src_slot; /* RX: slot + 1 of its source's measurements, 0 for none */
	uint64_t src_gen; /* RX: the sources_gen src_slot was looked up in */
	bool managed; /* SOURCE: some live RX pair shares its address */

	/* What a receiver's allocation reads and writes for every pair, every
	 * round and early allocation: kept together, in the struct's first
	 * cache lines (allocate_port walks every pair). */
	uint64_t demand_bps; /* RX: the sender's; TX: ours */
	uint64_t expires_ns; /* RX: the demand's; TX: the grant's */
	uint64_t leaf_cap_bps, leaf_cap_until_ns; /* the leader's cap, the pair's share */
	/* RX */
	uint32_t weight_milli;
	uint64_t min_bps, max_bps;
	uint64_t granted_bps, grant_reported_bps, grant_sent_ns;
	uint64_t rx_alloc_bps; /* the downlink's share, before the leaf's cap */
	uint64_t grant_demand_bps; /* the demand when the grant went out */
	uint64_t first_demand_ns; /* RX: when its first demand came */
	bool grant_deferred; /* RX: a smaller grant this allocation held back */
	bool answer_due; /* RX: an unchanged demand, answered with the grant in force */
	bool grant_leaf_capped; /* RX: the leaf's cap bounded the grant sent last */
	/* RX: the pair went idle (demand 0) and stays warm until expires_ns,
	 * granted out of what active pairs leave, up to its last demand. */
	uint64_t warm_demand_bps;
	/* RX: the bytes its sender still had to send when it last said
	 * (less what came since); 0 unknown. */
	uint64_t left_bytes;
	uint16_t hold_spine;

	/* Measurements accumulated during the current round. */
	uint64_t round_bytes, round_packets, round_ce, round_cnp, round_interval_ns;

	/* TX */
	uint64_t backlog_bytes;
	/* TX: the last sample covered interval_ns; until this much later a
	 * round without a new one is not idle, just between samples. */
	uint64_t sample_until_ns;
	uint32_t idle_rounds;
	/* What it sent (TX), or what came of its sender (RX), averaged over
	 * about eight rounds. */
	uint64_t sent_avg_bps;
	/* The backlog its last round read (backlog_bytes is then zeroed):
	 * what the fabric's passes after the round judge it by. */
	uint64_t round_backlog_bytes;
	/* TX: the backlog of the last sample (kept over rounds); the size of
	 * the message the pair is ranked by at its receiver (srpt_ns), what is
	 * left of it when it came behind others (counted down by all the pair
	 * sends; 0: none), and the size its last demand said. */
	uint64_t sample_backlog_bytes, rank_bytes, msg_left_bytes, left_reported_bytes;
	/* TX: since its backlog was last seen empty (its busy period): what
	 * it sent (the period's age), what it had when the period began, and
	 * what was posted behind since; whether it is a stream (refilled as
	 * it sent, or posted behind more than it began with): then it ranks
	 * by its age and backlog, not by what a sample posted
	 * (note_message()). */
	uint64_t busy_sent_bytes, busy_first_bytes, busy_posted_bytes;
	bool stream;
	uint64_t demand_reported_bps, demand_sent_ns;
	uint64_t grant_bps;
	uint64_t rate_bps, programmed_bps;
	uint64_t held_since_ns; /* a small increase has waited since then */
	uint64_t cnp_per_sec;
	struct tita_ceiling ceiling; /* a fraction of the grant */
	/* TX: the unscheduled first bytes (ctl_unsched.c). The allowance of
	 * the message under way (0: none), what of it is open at the pacer (0
	 * once spent or ended), what the samples saw sent since it was
	 * armed, and when; what the next demand announces; whether the next rate update
	 * must carry it (unsched_push); whether the message goes whole and
	 * asks for no grant (unsched_defer). After the first grant the pair is
	 * held until resume_ns. The receiver's bound on the next allowance. */
	uint64_t unsched_given_bytes, unsched_bytes, unsched_sent_bytes, unsched_armed_ns;
	uint64_t unsched_announce_bytes;
	/* Messages that went whole back to back: the bytes the allowances
	 * before the one under way let go. Together they must fit in
	 * unsched_short_ns, or the pair asks. */
	uint64_t unsched_run_bytes;
	bool unsched_push, unsched_defer;
	uint64_t resume_ns;
	bool has_unsched_limit;
	uint64_t unsched_limit_bytes;
	bool done; /* TX: a sample said it has nothing left (tita_tx_sample.done) */
	uint64_t done_ns; /* TX: when it said so */
	/* RX: its demand announced unscheduled bytes; the next grant says how
	 * long they still need to drain. */
	bool unsched_hold;

	/* The fabric (ctl_fabric.c), for pairs between leaves. */
	uint32_t remote_leaf; /* TITA_LEAF_NONE: not known */
	uint16_t spine; /* the spine the pair crosses; TITA_SPINE_NONE: not known */
	uint16_t sport; /* TX: the source port tita gave it, 0 for none */
	uint16_t want_spine; /* TX: the leader ordered it there */
	uint16_t move_to; /* RX: the spine the leader reserved for its move */
	uint16_t moving_sport, moving_spine; /* TX: a path update not yet applied */
	/* TX: on its way, a grant that knows the spine it goes to came before
	 * the move was applied. */
	bool moving_granted;
	uint8_t path; /* TX: enum fab_path */
	uint64_t want_until_ns; /* TX: the order lapses */
	uint64_t path_until_ns; /* TX: a probe batch or a move times out */
	/* A proposal to move, until when. TX: the receiver's leaf asks the
	 * pair to a spine in move_mask (swap: our leaf may make room there).
	 * RX: our leaf asks the sender to move_to (with move_swap likewise). */
	bool move_asked, move_swap;
	uint64_t move_mask;
	uint64_t move_until_ns;
	/* TX: our leader has the pair seek a new place (its uplink is
	 * overloaded), until when; the room mask its last demand carried.
	 * RX: what the sender's last demand said of both. */
	bool seek;
	uint64_t seek_until_ns;
	uint64_t room_sent_mask;
	bool src_seek;
	uint64_t src_room_mask;
	/* RX: its share of the downlink our leader keeps for it where it is
	 * asked to move, which it is granted on arriving there (0: none
	 * kept, or the proposal lapsed). */
	uint64_t move_cap_bps;
	/* RX: the spine it left when it last came in where no room was kept
	 * for it, and when. */
	uint16_t came_from;
	uint64_t came_ns;
	/* TX: the receiver's downlink share when its leaf holds the grant
	 * below it (0: the grant is that share). */
	uint64_t far_share_bps;
	/* The pair's share of its own NIC, and whether that makes it large
	 * (steered as a line of its own). */
	uint64_t nic_share_bps;
	bool big;
	/* TX: after a move the pair keeps to hold_cap_bps until a grant
	 * counts it on hold_spine. */
	uint64_t hold_cap_bps;
	bool leaf_capped; /* a leader's cap came once (not just the start's) */
	bool fab_free; /* short and alone: not held at the start rate until placed */
	uint8_t want_probed; /* TX: probe batches that went out for want_spine */
	uint64_t moved_ns; /* TX: when it last took a new path (0: never) */
	bool placed; /* TX: its first spine was chosen (place()) */
	struct fab_probes *probes; /* TX */
	/* The spine the pair's packets take, for the health evidence only
	 * (ctl_fabric_path_spine()): the leaders never see it, and count a
	 * spread pair evenly over the spines. TX: learned by one probe of
	 * its own source port (path_sport: the port it holds for; learn_out:
	 * a probe of learn_sport is out since learn_ns). RX: what its
	 * sender's last demand said. TITA_SPINE_NONE: not known. */
	uint16_t path_spine, path_sport, learn_sport;
	bool learn_out;
	uint64_t learn_ns;
};

/* Pairs that owe their peer a message this round, sorted by peer so that
 * one message per peer carries them all. */
struct outgoing {
	struct tita_addr remote;
	uint32_t slot;
};

/* A leaf line waiting to go out, with its message's fields. */
struct out_leaf {
	struct tita_leaf_entry line;
	uint32_t leaf_id;
	uint64_t up_room_mask, down_room_mask, ttl_ns;
	bool recheck;
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
		struct out_leaf leaf;
	};
};

struct ctl_job {
	uint32_t id;
	struct tita_job job;
};

struct tita_ctl {
	struct tita_ctl_params p;
	/* The reactive ceiling's algorithm, and its parameters (from p). */
	const struct tita_ceiling_ops *ceiling;
	struct tita_ceiling_params ceiling_p;

	struct port *ports;
	bool *port_dirty;
	uint32_t n_ports;

	struct ctl_job *jobs; /* sorted by id */
	uint32_t n_jobs;

	struct pair *pairs;
	/* Each slot's role, 0 when free (max_pairs of them): the rounds' scans
	 * for one role read these bytes, not a cache line of every pair. */
	uint8_t *slot_role;
	uint32_t pairs_cap, pairs_hwm, n_pairs;
	uint32_t *free_slots;
	uint32_t n_free;
	uint32_t *index; /* slot + 1, 0 when empty */
	uint32_t index_mask;
	bool nothing_evictable; /* until the next round: skip the eviction scan */
	/* Source pairs, and a count of their comings and goings: while it
	 * stands, an RX pair's source lookup would find what it found. */
	uint32_t n_sources;
	uint64_t sources_gen;

	uint64_t next_round_ns;
	uint64_t last_round_ns;
	uint64_t alloc_due_ns; /* an early allocation for new demands */
	uint64_t last_new_rx_ns; /* when a new pair's first demand last came */
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

	/* The fabric (ctl_fabric.c): the leaves of remote NICs, the
	 * controller's random numbers, the probes and path updates waiting to
	 * be pulled, and when the fabric wants a turn before the next round. */
	struct fab_places *places;
	/* Bumped when what a remote says of its leaders changes
	 * (tita_ctl_peer_leaders()): each port's leaf checks its members again. */
	uint64_t leaders_gen;
	uint64_t rng;
	struct tita_probe *probes;
	uint32_t probes_cap, probes_head, probes_len;
	/* The probe budget (probe_budget_take()): probes it holds, and when. */
	double probe_tokens;
	uint64_t probe_tokens_ns;
	bool probe_tokens_set;
	struct tita_path_update *paths;
	uint32_t paths_cap, paths_head, paths_len;
	uint64_t fabric_due_ns;
	/* The earliest resume_ns of a TX pair held after its unscheduled bytes. */
	uint64_t resume_due_ns;

	struct tita_ctl_stats stats;
};

/* ---- ctl_pairs.c: the pair table ---- */

static inline uint64_t ctl_load_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t ctl_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint32_t ctl_hash_key(uint8_t role, const struct tita_addr *local,
				    const struct tita_addr *remote, uint32_t job_id)
{
	/* Addresses differ mostly in their last bytes; mix every word fully so
	 * that neighbouring hosts do not cluster in the linear-probing index. */
	uint64_t h = ctl_mix64(ctl_load_u64(remote->bytes + 8) ^ ((uint64_t)job_id << 8 | role));

	h = ctl_mix64(h ^ ctl_load_u64(remote->bytes));
	h = ctl_mix64(h ^ ctl_load_u64(local->bytes + 8));
	h = ctl_mix64(h ^ ctl_load_u64(local->bytes));
	return (uint32_t)(h ^ (h >> 32));
}

/* Every sample and message entry looks its pair up: inline. */
static inline struct pair *ctl_pair_find(const struct tita_ctl *c, uint8_t role,
					 const struct tita_addr *local,
					 const struct tita_addr *remote, uint32_t job_id)
{
	uint32_t i = ctl_hash_key(role, local, remote, job_id) & c->index_mask;

	for (;; i = (i + 1) & c->index_mask) {
		uint32_t ref = c->index[i];
		struct pair *pr;

		if (!ref)
			return NULL;
		pr = &c->pairs[ref - 1];
		if (pr->role == role && pr->job_id == job_id && tita_addr_eq(&pr->local, local) &&
		    tita_addr_eq(&pr->remote, remote))
			return pr;
	}
}

/* The pair, created if it does not exist (evicting one that holds nothing
 * live when the table is full); NULL when there is no room. */
struct pair *ctl_pair_get(struct tita_ctl *c, uint8_t role, uint16_t port,
			  const struct tita_addr *remote, uint32_t job_id, uint64_t now_ns);
/* Forget a pair; a TX pair's pacing rule goes with it. */
void ctl_pair_release(struct tita_ctl *c, struct pair *pr);
int ctl_index_grow(struct tita_ctl *c, uint32_t pairs_cap);
/* Work space of a round for n pairs. */
int ctl_work_reserve(struct tita_ctl *c, uint32_t n);

/* ---- ctl.c: ports, jobs, outputs ---- */

int ctl_port_find(const struct tita_ctl *c, const struct tita_addr *local);
/* The port a sample is for, counting the sample: its index, -EINVAL (not
 * well formed) or -ENOENT (not a port of ours, counted as such). */
int ctl_sample_port(struct tita_ctl *c, const struct tita_addr *local, bool well_formed);
/* The port a message entry is for, counting the entry: its index, or
 * negative when the entry is skipped (not a port of ours, or not consistent
 * with its message), counted by why. */
int ctl_entry_port(struct tita_ctl *c, const struct tita_addr *local, bool consistent);
const struct tita_job *ctl_job_policy(const struct tita_ctl *c, uint32_t job_id);
/* A free slot at the end of the outbox (the oldest entry is dropped when
 * it is full); NULL without memory. */
struct out_entry *ctl_outbox_push(struct tita_ctl *c);
/* Fill e (its kind set) with pr's demand or grant, and note it as sent. */
void ctl_fill_entry(struct tita_ctl *c, struct out_entry *e, struct pair *pr, uint64_t now_ns);
/* Queue one entry of `kind` for each of out[0..n), grouped by peer. */
void ctl_emit(struct tita_ctl *c, enum tita_msg_kind kind, struct outgoing *out, uint32_t n,
	      uint64_t now_ns);
/* unsched_bytes: see struct tita_rate_update. */
void ctl_rate_push(struct tita_ctl *c, const struct pair *pr, uint64_t rate_bps,
		   uint64_t unsched_bytes);

/* ---- ctl_sender.c ---- */

void ctl_sender_round(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns);
int ctl_on_grant(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns);
/* Compose the rates of the ports marked in port_dirty, now. */
void ctl_compose_dirty(struct tita_ctl *c, uint64_t now_ns);
/* Queue the pair's demand now, not at the round (a new pair, a new path). */
void ctl_send_demand_now(struct tita_ctl *c, struct pair *pr, uint64_t now_ns);

/* ---- ctl_unsched.c: the unscheduled first bytes ---- */

/* The allowance of a message of backlog_bytes on pr. */
uint64_t ctl_unsched_allowance(const struct tita_ctl *c, const struct pair *pr,
			       uint64_t backlog_bytes);
/* Arm it for a message of backlog_bytes (a new pair's first). */
void ctl_unsched_arm(struct tita_ctl *c, struct pair *pr, uint64_t backlog_bytes, uint64_t now_ns);
/* A new message on a pair that was idle or done; whether its demand goes now. */
bool ctl_unsched_message(struct tita_ctl *c, struct pair *pr, uint64_t bytes, uint64_t now_ns);
/* A sample of a pair (before pr->backlog_bytes takes the sample's); whether
 * its demand goes now. */
bool ctl_unsched_sample(struct tita_ctl *c, struct pair *pr, const struct tita_tx_sample *s,
			uint64_t now_ns);
/* A grant came for pr (after its grant and share were taken). */
void ctl_unsched_on_grant(struct tita_ctl *c, struct pair *pr, const struct tita_grant_entry *e,
			  uint64_t now_ns);
/* The pairs whose resume_ns came: compose their ports again. */
void ctl_sender_resume(struct tita_ctl *c, uint64_t now_ns);
/* RX pair pr's demand announced bytes sent unscheduled. */
void ctl_unsched_announced(struct tita_ctl *c, struct pair *pr, uint64_t bytes, uint64_t now_ns);
/* Whether the port's announced unscheduled bytes are still draining. */
bool ctl_unsched_draining(const struct tita_ctl *c, const struct port *pt, uint64_t now_ns);
/* A grant's hold and bound for RX pair pr. */
void ctl_unsched_fill_grant(struct tita_ctl *c, struct pair *pr, struct tita_grant_entry *e,
			    uint64_t now_ns);

/* ---- ctl_receiver.c ---- */

void ctl_receiver_round(struct tita_ctl *c, uint64_t now_ns, uint64_t round_ns);
/* Grant the demands that arrived since the round (tita_ctl_advance()
 * between rounds, once alloc_due_ns has come). */
void ctl_early_allocation(struct tita_ctl *c, uint64_t now_ns);
int ctl_on_demand(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns);

/* Output queues are rings that grow by doubling up to max entries, then
 * drop their oldest. Returns the buffer (moved if it grew) with room for
 * one more at (head + len) % cap, or NULL without memory (the ring as it
 * was). */
void *ctl_ring_make_room(void *buf, size_t size, uint32_t *cap, uint32_t *head, uint32_t *len,
			 uint32_t max);
/* The oldest entry into ret; false when the ring is empty. */
bool ctl_ring_pop(const void *buf, size_t size, uint32_t cap, uint32_t *head, uint32_t *len,
		  void *ret);

/* ---- ctl_fabric.c ---- */

/* The fabric's part of a round, after both sides': probes, moves, the
 * report to the leader, and the leader's run and answers. */
void ctl_fabric_round(struct tita_ctl *c, uint64_t now_ns);
/* Between rounds, when fabric_due_ns has come: reports and answers that
 * should not wait for the round. */
void ctl_fabric_early(struct tita_ctl *c, uint64_t now_ns);
int ctl_on_leaf_report(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns);
int ctl_on_leaf_answer(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns);
/* A new TX pair: give it a path (a source port, probed) when it goes to
 * another leaf. */
double ctl_srpt_weight(const struct tita_ctl *c, uint64_t left_bytes, const struct port *pt,
		       uint64_t most_left_bytes);
bool ctl_short_start(const struct tita_ctl *c, const struct port *pt, uint64_t msg_bytes);
void ctl_fabric_tx_new(struct tita_ctl *c, struct pair *pr, uint64_t msg_bytes, uint64_t now_ns);
/* ...and once its first demand is known: a large one probes its paths. */
void ctl_fabric_tx_started(struct tita_ctl *c, struct pair *pr, uint64_t now_ns);
void ctl_fabric_tx_restarted(struct tita_ctl *c, struct pair *pr, uint64_t now_ns);
/* A TX pair was marked (CNPs, or CE its receiver reports): check its path. */
void ctl_fabric_lost(struct tita_ctl *c, uint16_t port, const struct tita_addr *remote,
		     uint64_t now_ns);
void ctl_fabric_marked(struct tita_ctl *c, struct pair *pr, uint64_t now_ns);
/* What the leader lets the pair use (TITA_RATE_UNPACED: no cap). */
uint64_t ctl_fabric_cap(const struct pair *pr, uint64_t now_ns);
/* Whether a pair crosses the fabric: its remote is under another leaf. */
bool ctl_fabric_between_leaves(const struct tita_ctl *c, const struct pair *pr);
/* The spine the pair's packets take now, placed or spread (TITA_SPINE_NONE:
 * not known): for the health evidence, never for the leaders. */
uint16_t ctl_fabric_path_spine(const struct pair *pr);
/* A grant's move request for a TX pair; a demand's spine for an RX pair. */
void ctl_fabric_on_grant(struct tita_ctl *c, struct pair *pr, const struct tita_grant_entry *e,
			 uint64_t old_grant_bps, uint64_t now_ns);
void ctl_fabric_on_demand(struct tita_ctl *c, struct pair *pr, const struct tita_demand_entry *e,
			  uint64_t now_ns);
/* What a demand says of the fabric (the spine, where the pair could go,
 * whether it seeks a place), and a grant (a proposal to move). */
void ctl_fabric_fill_demand(const struct tita_ctl *c, struct pair *pr, struct tita_demand_entry *e,
			    uint64_t now_ns);
void ctl_fabric_fill_grant(const struct tita_ctl *c, const struct pair *pr,
			   struct tita_grant_entry *e, uint64_t now_ns);
/* A pair leaves the table: its probes go with it. */
void ctl_fabric_pair_release(struct tita_ctl *c, struct pair *pr);
void ctl_fabric_free(struct tita_ctl *c);
void ctl_fabric_port_info(const struct tita_ctl *c, const struct port *pt,
			  struct tita_port_info *info);

/* ---- shared by both sides ---- */

/* Whether a value moved far enough from what was last reported to say so. */
static inline bool ctl_changed(uint64_t now, uint64_t reported, double frac)
{
	if (now == reported)
		return false;
	if (!reported || !now)
		return true;
	return fabs((double)now - (double)reported) > frac * (double)reported;
}

/*
 * Who shares a weight in the water-filling: a job's pairs share its one
 * weight (a job with eight senders gets the share of one), while traffic of
 * no job (the default) is pairs of their own, each with its own weight.
 * Job ids are 32 bits, so the default's keys, from 2^32 up, meet none.
 */
static inline uint64_t ctl_job_group(const struct pair *pr, uint32_t slot)
{
	return pr->job_id == TITA_JOB_DEFAULT ? (uint64_t)1 << 32 | slot : pr->job_id;
}

/* The rate over the time the round's samples covered (the round itself
 * when none came: nothing was sent). */
static inline uint64_t ctl_round_rate(const struct pair *pr, uint64_t round_ns)
{
	return tita_bytes_to_rate(pr->round_bytes,
				  pr->round_interval_ns ? pr->round_interval_ns : round_ns);
}

static inline uint64_t ctl_clamp_rate(uint64_t v, uint64_t max)
{
	return v > max ? max : v;
}

#endif /* TITA_CTL_INTERNAL_H */
