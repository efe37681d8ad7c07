/* SPDX-License-Identifier: MIT */
/*
 * The tita controller: one instance per host, pure and sans-I/O.
 *
 * The caller (titad, the simulator, a unit test) feeds it measurements and
 * peer messages, each stamped with `now`, calls tita_ctl_advance() when
 * tita_ctl_next_deadline_ns() comes due, and pulls what it decided: peer
 * messages to send (tita_ctl_pop_msg) and pacing rates to program
 * (tita_ctl_pop_rate). The controller never reads a clock, touches a socket
 * or prints, so every caller runs exactly the same decisions.
 *
 * The unit of allocation is a pair: (local NIC address, remote NIC address,
 * job). On the sending host a pair is a TX pair; the receiving host keeps the
 * matching RX pair. Messages are addressed to the remote NIC address of the
 * pairs they carry.
 */
#ifndef TITA_CTL_H
#define TITA_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/fabric.h"
#include "tita/types.h"

/* At most this many pair entries travel in one controller message; the wire
 * codec splits a message further if its datagram would exceed 1400 bytes. */
#define TITA_MSG_MAX_ENTRIES 64

/* Weights travel as thousandths: 1000 is the default weight 1.0. */
#define TITA_WEIGHT_ONE 1000u
#define TITA_WEIGHT_MAX (1000u * TITA_WEIGHT_ONE)

/* The job that traffic belongs to when nothing classifies it. */
#define TITA_JOB_DEFAULT 0u

struct tita_ctl_params {
	/* How often the controller estimates demand, allocates and reports. */
	uint64_t control_interval_ns;
	/* How long a grant (and a reported demand) stays valid unrefreshed; at
	 * most 60 s, the longest TTL the wire carries. */
	uint64_t grant_ttl_ns;
	/* Grants and demands are re-sent unchanged at least this often; must be
	 * well inside grant_ttl_ns so that one lost message does not expire it. */
	uint64_t refresh_ns;

	/* Target utilization of a receiver's downlink, and the floor below which
	 * the closed loop on CE marks never pushes it. */
	double eta;
	double eta_min;
	/* CE fraction on a receiver's downlink above which its eta is cut by
	 * eta_decrease (multiplicative); clean intervals add eta_increase back. */
	double eta_ce_threshold;
	double eta_decrease;
	double eta_increase;

	/* A pair without a grant yet sends at this fraction of its line rate; if
	 * no grant arrives within grant_ttl_ns the pair fails open (unpaced). */
	double start_rate_frac;
	/* ...after a message's first bytes, as many as its line rate carries in
	 * this long (a round trip of the path: one bandwidth-delay product),
	 * which go unscheduled, at line rate, before any grant could come (0:
	 * none); or all of a message that fits in unsched_short_ns at line
	 * rate: it is over before a grant could come, and asks for none. A
	 * receiver whose senders' announced bursts came to more than
	 * unsched_bound_ns at its line rate shrinks their next allowances in
	 * proportion (0: no bound). */
	uint64_t unsched_ns;
	uint64_t unsched_short_ns;
	uint64_t unsched_bound_ns;
	/* The share of its senders' unmanaged traffic (whole messages, hosts
	 * without tita) a receiver leaves room for in its grants: 1 (the
	 * default) when that traffic shares the granted bytes' class; less
	 * when whole messages travel in a class the switches and NICs serve
	 * before it (a short-message traffic class): they pass the granted
	 * bytes' queue, and room left for them is a link left idle. */
	double unmanaged_room_frac;
	/* A receiver keeps the grant of a pair that went idle warm for this
	 * many grant TTLs: refreshed, out of what the active pairs leave, so
	 * that the pair's next transfer starts at it; 0: freed at once. */
	double warm_ttls;
	/* A programmed rate is rewritten only when it moves by more than this
	 * fraction (decreases and pace/unpace transitions always go through). */
	double churn_frac;
	/* A demand report is sent early when it moves by more than this fraction. */
	double demand_change_frac;
	/* A receiver grants new and moved demands before the next round, once
	 * this fraction of an interval has passed since the first of them came
	 * (so that an incast's demands share one allocation); 0: at the next
	 * tita_ctl_advance(), for a caller that reads its sockets in batches. */
	double alloc_batch_frac;
	/* A short new pair's first demand (short_start_ns) that comes
	 * lone_gap_ns or more after the last new pair's (no incast under way)
	 * is granted lone_batch_frac of an interval after it came, not
	 * alloc_batch_frac: its message's first round trip is that much
	 * shorter. The short batch still gathers the demands of senders that
	 * start together (the star incast); an incast's later demands wait the
	 * whole batch; nor does a pair between leaves that the receiver holds at
	 * the start rate until placed (short_start_ns). 100 us by default; 0:
	 * every new demand waits the batch. */
	uint64_t lone_gap_ns;
	double lone_batch_frac;
	/* Among the pairs of one job at a receiver, a pair ranked by a message
	 * 2^k times smaller than both srpt_ns at the downlink's line rate and
	 * the largest the port's active pairs carry weighs 2^k times as much,
	 * up to srpt_max_weight: short messages first, and the longest keep
	 * 1 / srpt_max_weight of a short one's share. A stream (a backlog
	 * refilled as it is sent) ranks by what it sent since its backlog was
	 * last empty. 800 us by default; 0: plain max-min, and senders do not
	 * say their messages' sizes. */
	uint64_t srpt_ns;
	double srpt_max_weight;
	/* A new pair whose first message fits in short_start_ns at line rate
	 * starts short (its sender says the message's size in its first
	 * demand): between leaves, when no other pair of its NIC (in either
	 * role: a collective's step and the one it receives) waits for its
	 * leaf's leader, it goes at its grant on whatever spine it hashed to
	 * instead of the start rate until placed (its whole message is less
	 * than the queue it could leave); and with lone_gap_ns its first grant
	 * does not wait the batch. 40 us by default; 0: off. */
	uint64_t short_start_ns;
	/* With srpt_ns, a sender divides its uplink among its pairs by the
	 * same weights (its pairs' message sizes), where their grants add up
	 * to more than it has: a message beside a large flow of the same NIC
	 * ends sooner. 1 by default; 0: plain max-min. */
	uint32_t srpt_tx;
	/* A pair using more than probe_threshold of its rate (or with a backlog)
	 * asks for probe_gain times its rate, up to line rate. */
	double probe_threshold;
	double probe_gain;
	/* Backlog is turned into demand as if it had to drain in this long. */
	uint64_t backlog_horizon_ns;
	/* An idle pair's demand decays by this factor per interval towards what
	 * it measures, so it holds no bandwidth it does not use. */
	double demand_decay;
	/* ...but only after it has been idle for this many rounds in a row. */
	uint32_t demand_hold_rounds;

	/* Reactive ceiling (DCQCN-like, per TX pair, as a fraction of its grant),
	 * driven by the CE fraction that the receiver attributes to the fabric. */
	double rc_g; /* alpha gain per round */
	double rc_ai_frac; /* additive increase of the target per clean round */
	double rc_hai_frac; /* hyper increase of the target */
	uint32_t rc_fast_recovery_steps;
	/* The ceiling never goes below this fraction of the grant, and no pair
	 * is ever paced below this fraction of its line rate. */
	double rc_min_frac;
	double rc_ce_threshold; /* a CE fraction above this counts as congestion */
	/* Which ceiling: 0 the episode ceiling (tita_ceiling_episode), 1
	 * DCQCN's reaction point (tita_ceiling_reactive); and the episode
	 * ceiling's floor (of the episode's start), rounds between cuts, and
	 * what a clean round regains. */
	uint32_t rc_algo;
	double rc_floor_frac;
	uint32_t rc_hold_rounds;
	double rc_recovery_frac;

	/* The fabric (tita/fabric.h), for ports with a place. */
	/* Target utilization of a leaf's uplinks and downlinks. */
	double fabric_eta;
	/* 2: a leaf's uplinks are led by its lowest member address that
	 * answers, its downlinks by the highest, once every member says in
	 * its hello that it follows two (tita_ctl_peer_leaders()); until then,
	 * and always with 1, the lowest leads both (as titad did before
	 * 2026-12-08). Hellos say it, so 1 on one member makes its leaf one. */
	uint32_t leaf_leaders;
	/* 1: steer pairs over the leaf's uplinks by their UDP source port, for
	 * a fabric that hashes on it (ECMP); 0: leave paths alone (a fabric
	 * that sprays packets or routes adaptively), and share the uplinks
	 * by aggregate only. */
	uint32_t steer;
	/* A pair granted at least this fraction of an uplink is steered on
	 * its own (its leader knows where it goes); smaller ones move as a
	 * sum. */
	double big_frac;
	/* How many source ports one probe batch tries, and how long a probe
	 * may take (a switch answers an expired TTL from its CPU, slowly). */
	uint32_t probe_batch;
	uint64_t probe_timeout_ns;
	/* Every probe a port sends comes out of a budget: probe_burst at
	 * once, refilled at probe_rate a second (a spine answers probes from
	 * its CPU, behind a policer shared by every host that probes it).
	 * A probe over the budget waits: its caller asks again later. */
	uint32_t probe_rate, probe_burst;
	/* Reports to the leader, and its runs, wait this fraction of an
	 * interval after what prompted them, to gather what comes together. */
	double leaf_batch_frac;

	/* Memory bounds: the controller never holds more than this. */
	uint32_t max_ports;
	uint32_t max_pairs;
	uint32_t max_jobs;
};

/*
 * The parameters, one table: each field's names, kind, range and default.
 * tita_ctl_params_default() and tita_ctl_params_check() are built on it,
 * and titad's config and the simulator parse, range-check and describe
 * their keys from it, so that a value means the same in all three.
 */
enum tita_param_kind {
	TITA_PARAM_DURATION = 1, /* uint64_t nanoseconds */
	TITA_PARAM_FRACTION, /* double: a share (of a rate, of packets, per round) */
	TITA_PARAM_FACTOR, /* double: a multiplier */
	TITA_PARAM_COUNT, /* uint32_t */
};

struct tita_param {
	/* The field's name in struct tita_ctl_params. tita-sim takes it as is
	 * ([tita] NAME, --set tita.NAME), except that it takes durations in
	 * microseconds, with the name's "_ns" read as "_us". */
	const char *name;
	/* titad.conf's [controller] key; NULL where titad keeps the default. */
	const char *conf_key;
	enum tita_param_kind kind;
	const char *unit; /* "ns", "fraction", "x", or what a count counts */
	size_t offset; /* into struct tita_ctl_params */
	/* In the field's unit. The range is the field's own; the relations
	 * between fields are checked apart (tita_ctl_params_check_field). */
	double min, max, def;
	const char *help; /* one line */
};

/* The table's size: one entry per field of struct tita_ctl_params. */
#define TITA_CTL_N_PARAMS 50

/* The table, in the order of struct tita_ctl_params; *ret_n entries
 * (TITA_CTL_N_PARAMS). */
const struct tita_param *tita_ctl_param_table(size_t *ret_n);
/* By name (struct tita_ctl_params' field name); NULL if there is none. */
const struct tita_param *tita_ctl_param_find(const char *name);
/* The field's value in its unit (exact for any value within the field's
 * range: every range lies below 2^53). */
double tita_ctl_param_get(const struct tita_ctl_params *p, const struct tita_param *d);
/* Set the field to v, in its unit. 0; -EINVAL when v is not a number or,
 * for a duration or a count, not a whole one; -ERANGE when it lies outside
 * the field's range. p is untouched on failure. */
int tita_ctl_param_set(struct tita_ctl_params *p, const struct tita_param *d, double v);

/* Fill p with the defaults (chosen in the simulator; see README). */
void tita_ctl_params_default(struct tita_ctl_params *p);
/* 0, or -EINVAL when a value is out of its range or the values disagree. */
int tita_ctl_params_check(const struct tita_ctl_params *p);
/*
 * The same check, naming what it rejects: 0, or -EINVAL with *bad set to
 * the first field found wrong and *why to what is wrong with it ("out of
 * range", "must be at least twice the control interval"). Each field is
 * checked against its range first, then the relations between them:
 *   grant_ttl_ns >= 2 x control_interval_ns,
 *   control_interval_ns <= refresh_ns < grant_ttl_ns,
 *   eta_min <= eta.
 * bad and why are set only on failure (bad to NULL when p is NULL), and
 * may be NULL.
 */
int tita_ctl_params_check_field(const struct tita_ctl_params *p, const struct tita_param **bad,
				const char **why);

struct tita_job {
	uint32_t weight_milli; /* 1..TITA_WEIGHT_MAX; TITA_WEIGHT_ONE is 1.0 */
	uint64_t min_bps; /* per destination; 0 for none */
	uint64_t max_bps; /* per destination; 0 for no cap */
};

struct tita_ctl;

/* NULL with errno set (EINVAL for bad params, ENOMEM). */
struct tita_ctl *tita_ctl_new(const struct tita_ctl_params *p);
/* Accepts NULL; returns NULL. */
struct tita_ctl *tita_ctl_free(struct tita_ctl *c);

/* Replace the parameters (a config reload) keeping every pair, grant and
 * counter. -EINVAL leaves the old parameters in place; the memory bounds
 * cannot shrink below what is in use (-EBUSY). */
int tita_ctl_set_params(struct tita_ctl *c, const struct tita_ctl_params *p);
const struct tita_ctl_params *tita_ctl_params(const struct tita_ctl *c);

/* A local NIC. -EEXIST, -ENOSPC, -EINVAL (zero or absurd line rate). */
int tita_ctl_port_add(struct tita_ctl *c, const struct tita_addr *local, uint64_t line_rate_bps);
int tita_ctl_port_set_rate(struct tita_ctl *c, const struct tita_addr *local,
			   uint64_t line_rate_bps);

/* Per-job pacing policy of this host's senders. -EINVAL, -ENOSPC. */
int tita_ctl_job_set(struct tita_ctl *c, uint32_t job_id, const struct tita_job *job);
/* Back to the defaults; -ENOENT if the job had no settings. */
int tita_ctl_job_clear(struct tita_ctl *c, uint32_t job_id);
/* 0 and *ret_job, or -ENOENT (then *ret_job is untouched). */
int tita_ctl_job_get(const struct tita_ctl *c, uint32_t job_id, struct tita_job *ret_job);

/* What the sender side measured for one pair over interval_ns. */
struct tita_tx_sample {
	struct tita_addr local, remote;
	uint32_t job_id;
	uint64_t interval_ns;
	uint64_t tx_bytes; /* sent during the interval */
	uint64_t backlog_bytes; /* waiting to be sent at the end of it */
	uint64_t cnp_packets; /* CNPs that came back from the remote */
	/* Everything the pair had to send is sent: a source that knows (an
	 * agent that saw its last posted bytes complete) says so at once, and
	 * the pair's demand falls to zero now rather than a round later. The
	 * next sample with a backlog starts a new message. */
	bool done;
};

/* What the receiver side measured from one remote address over interval_ns. */
struct tita_rx_sample {
	struct tita_addr local, remote;
	uint64_t interval_ns;
	uint64_t rx_bytes;
	uint64_t rx_packets;
	uint64_t ce_packets;
	/* Missing by the PSNs that arrived (out of sequence); 0 when not
	 * known. From a remote under another leaf the controller takes it as
	 * a sign that the fabric rehashed (its placed pairs check their
	 * paths); lib/health counts it. */
	uint64_t lost_packets;
};

/*
 * What the NIC itself counted on a port's receive side over interval_ns
 * (port_rcv_packets, port_rcv_data and np_ecn_marked_roce_packets on
 * RDMA NICs). Hardware RoCE bypasses the host's datapath, so per-source
 * samples miss it; these port totals still tell whether the downlink is
 * busy and how much of it arrives CE-marked, which is what the receiver's
 * eta loop needs. They cannot say which source sent what: they never count
 * as unmanaged traffic and never reach a sender's reactive ceiling. A
 * sample stands for up to two of its intervals; the eta loop acts on each
 * one once, however many rounds it spans.
 */
struct tita_port_sample {
	struct tita_addr local;
	uint64_t interval_ns;
	uint64_t rx_bytes;
	uint64_t rx_packets;
	uint64_t ce_packets;
	/* Missing by the PSNs that arrived (out of sequence); 0 when not
	 * known. From a remote under another leaf the controller takes it as
	 * a sign that the fabric rehashed (its placed pairs check their
	 * paths); lib/health counts it. */
	uint64_t lost_packets;
};

/* 0, or -ENOENT (local is not a port), -EINVAL (zero interval, or more CE
 * packets than packets). */
int tita_ctl_port_sample(struct tita_ctl *c, const struct tita_port_sample *s, uint64_t now_ns);

/* 0, or -ENOENT (local is not a port), -ENOSPC (pair table full and nothing
 * evictable), -EINVAL (zero interval). */
int tita_ctl_tx_sample(struct tita_ctl *c, const struct tita_tx_sample *s, uint64_t now_ns);
int tita_ctl_rx_sample(struct tita_ctl *c, const struct tita_rx_sample *s, uint64_t now_ns);

enum tita_msg_kind {
	TITA_MSG_DEMAND = 1,
	TITA_MSG_GRANT = 2,
	TITA_MSG_LEAF_REPORT = 3, /* a leaf's member -> its leader */
	TITA_MSG_LEAF_ANSWER = 4, /* the leader -> a member */
};

/* A pair's unscheduled bytes (unsched_ns) are at most this many. */
#define TITA_UNSCHED_MAX_BYTES (1ull << 32)

/* Sender → receiver: what a pair wants, and its job's policy. */
struct tita_demand_entry {
	struct tita_addr sender, receiver;
	uint32_t job_id;
	uint32_t weight_milli;
	uint64_t demand_bps;
	uint64_t min_bps;
	uint64_t max_bps; /* 0 for no cap */
	/* The spine the pair's traffic crosses, when the sender knows it
	 * (a pair between leaves of a known fabric, its path probed). */
	bool has_spine;
	uint16_t spine;
	/* A pair the sender does not place (spread over the spines by its
	 * source port's hash): the spine that port takes, when a probe has
	 * told, for the receiver's health evidence only; its leaf counts the
	 * pair spread still. */
	bool has_path_spine;
	uint16_t path_spine;
	/* Bit s for each spine the sender could move the pair to (a source
	 * port of its reaches it, and its leaf's uplink there has room); and
	 * whether it asks the receiver's leaf for a new spine (its uplink is
	 * offered more than it carries). */
	uint64_t room_mask;
	bool seek;
	/* The bytes the pair sent unscheduled, before this demand could be
	 * granted (with the first demand after they went; 0 otherwise), at
	 * most TITA_UNSCHED_MAX_BYTES. */
	uint64_t unsched_bytes;
	/* The size of the message the pair is ranked by (srpt_ns): the one it
	 * started with, or a shorter one posted behind it; 0: not said (or
	 * unchanged since the pair's last demand). */
	uint64_t left_bytes;
};

/* Receiver → sender: the rate a pair may use until ttl_ns from receipt, and
 * the fraction of the pair's packets that arrived CE-marked while the
 * receiver's own downlink was not busy (congestion inside the fabric). */
struct tita_grant_entry {
	struct tita_addr sender, receiver;
	uint32_t job_id;
	uint32_t ce_ppm;
	uint64_t rate_bps;
	uint64_t ttl_ns;
	/* For a pair between leaves: the receiver's leaf asks the pair to
	 * move to a spine in room_mask, whose downlink it keeps for it; with
	 * swap, the sender's leaf may make room on its uplink there by moving
	 * its own traffic from there to the spine the pair leaves. */
	uint64_t room_mask;
	bool move;
	bool swap;
	/* The spine the receiver counts the pair on, when it knows it. */
	bool has_spine;
	uint16_t spine;
	/* When the receiver's leaf holds the grant below the receiver's
	 * downlink share: that share (0: the grant is it). */
	uint64_t share_bps;
	/* When the receiver bounds them: the most the pair may send
	 * unscheduled the next time it starts without a grant (0 ..
	 * TITA_UNSCHED_MAX_BYTES; 0: none). */
	bool has_unsched_limit;
	uint64_t unsched_limit_bytes;
	/* With a pair's first grant after it announced unscheduled bytes: how
	 * long they still need to drain in front of the receiver's downlink
	 * (at most 60 s). The pair waits this long before it uses the grant. */
	uint64_t hold_ns;
	/* The receiver's leaf saw the fabric rehash a moment ago: the sender
	 * checks where its pairs' source ports go now. */
	bool recheck;
};

struct tita_msg {
	enum tita_msg_kind kind;
	/* Out: the remote NIC to send to. In: the remote NIC it came from. */
	struct tita_addr peer;
	uint32_t n_entries;
	/*
	 * Leaf messages. A report's lines are all its sender's (member is
	 * the NIC it comes from); an answer's are all its addressee's. The
	 * leaf is the sender's; an answer also says which of the leaf's
	 * uplinks and downlinks have room, and how long its caps live.
	 * recheck: a report's member saw the fabric rehash a moment ago; an
	 * answer's addressee is to check where its placed pairs go now.
	 */
	uint32_t leaf_id;
	uint64_t up_room_mask, down_room_mask;
	uint64_t ttl_ns;
	bool recheck;
	union {
		struct tita_demand_entry demand[TITA_MSG_MAX_ENTRIES];
		struct tita_grant_entry grant[TITA_MSG_MAX_ENTRIES];
		struct tita_leaf_entry leaf[TITA_MSG_MAX_ENTRIES];
	};
};

/*
 * A message that a peer sent (already authenticated and range-checked by the
 * wire codec). Entries that do not concern this host (unknown port, sender
 * not matching the peer) are skipped and counted; returns how many entries
 * were applied, or -EINVAL for a malformed message.
 */
int tita_ctl_on_msg(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns);

/* Run everything that is due at now_ns: expiries, then the control round. */
void tita_ctl_advance(struct tita_ctl *c, uint64_t now_ns);
/* When tita_ctl_advance() must next be called; TITA_TIME_NEVER if idle. */
uint64_t tita_ctl_next_deadline_ns(const struct tita_ctl *c);
/* When the next control round is due (0 before the first): rounds keep a
 * fixed cadence, one interval apart, unless one runs more than an interval
 * late. next_deadline is earlier when a new demand is allocated early. */
uint64_t tita_ctl_next_round_ns(const struct tita_ctl *c);

/* Pull the next message to send; false when there is none. */
bool tita_ctl_pop_msg(struct tita_ctl *c, struct tita_msg *ret_msg);

/*
 * A TX pair's rate changed: program rate_bps, or remove pacing when it is
 * TITA_RATE_UNPACED (a new pair, an expired grant, a pair that went away).
 *
 * unsched_bytes: the pair's next unsched_bytes bytes, counted by the pacer
 * from this update on, go unpaced, and rate_bps applies after them: the
 * first bytes of a pair that has no grant yet (unsched_ns). 0: rate_bps
 * applies now, which also ends what is left of an earlier allowance (the
 * first grant came).
 */
struct tita_rate_update {
	struct tita_addr local, remote;
	uint32_t job_id;
	uint64_t rate_bps;
	uint64_t unsched_bytes;
};

bool tita_ctl_pop_rate(struct tita_ctl *c, struct tita_rate_update *ret_update);

/*
 * The fabric between the hosts (tita/fabric.h). A port whose place is known
 * steers its pairs to other leaves over the leaf's uplinks by their UDP
 * source port, and shares the leaf's uplinks and downlinks with the other
 * members through the leaf's two leaders: the member with the lowest
 * address that answers leads the uplinks, the highest the downlinks.
 * Without a place, nothing here happens.
 */

/* Where a local NIC sits, and the NICs under the same leaf (itself among
 * them; up to TITA_LEAF_MEMBERS_MAX). A place with n_spines 0 forgets it.
 * 0, -ENOENT (not a port), -EINVAL (a bad place or member list). */
#define TITA_LEAF_MEMBERS_MAX 1024u
int tita_ctl_port_set_place(struct tita_ctl *c, const struct tita_addr *local,
			    const struct tita_place *place, const struct tita_addr *members,
			    uint32_t n_members);

/* The leaf of a remote NIC (from its hello), or TITA_LEAF_NONE to forget
 * it. 0, -EINVAL (TITA_LEAF_ANY), -ENOSPC (the table of remote places is
 * full). */
int tita_ctl_peer_place(struct tita_ctl *c, const struct tita_addr *remote, uint32_t leaf);

/*
 * The leaders per leaf a remote NIC's titad follows, from its hello: 2, one
 * for the uplinks (the lowest member) and one for the downlinks (the
 * highest); 1, one for both (a titad from before, or one set to
 * leaf-leaders 1); 0, not known (forget it: the titad restarted, and has
 * not said hello since). A port's leaf has two leaders only when every other
 * member said 2 (and leaf_leaders is 2 here); a member not known counts as
 * 1. More than 2 is taken as 2. 0, -ENOSPC (the table of remotes is full).
 */
int tita_ctl_peer_leaders(struct tita_ctl *c, const struct tita_addr *remote, uint32_t leaders);

/* Seed the controller's own random numbers (the source ports it picks). */
void tita_ctl_seed(struct tita_ctl *c, uint64_t seed);

/*
 * A path probe: a datagram from local to remote with the RoCEv2 5-tuple of
 * the pair's traffic but this UDP source port, whose TTL expires at the
 * spine (traceroute's way). The caller answers it with
 * tita_ctl_probe_result(): the spine that answered, or TITA_SPINE_NONE when
 * none did (the remote is under the same leaf; or the probe was lost).
 */
struct tita_probe {
	struct tita_addr local, remote;
	uint32_t job_id; /* the pair it is for; echoed back */
	uint16_t sport;
};

bool tita_ctl_pop_probe(struct tita_ctl *c, struct tita_probe *ret_probe);
/* 0, or -ENOENT (no such pair or probe outstanding), -EINVAL (a spine out
 * of the leaf's range). */
int tita_ctl_probe_result(struct tita_ctl *c, const struct tita_probe *probe, uint16_t spine,
			  uint64_t now_ns);

/*
 * A TX pair's path: its queue pairs take this UDP source port. A queue pair
 * with packets in flight must drain first (an RC queue pair must not
 * reorder), so the caller holds its next message until the last one is
 * acknowledged, then moves it, and says so with tita_ctl_path_applied().
 */
struct tita_path_update {
	struct tita_addr local, remote;
	uint32_t job_id;
	uint16_t sport;
};

bool tita_ctl_pop_path(struct tita_ctl *c, struct tita_path_update *ret_update);

/* The counters of the leader on this port (all zero when it does not lead). */
void tita_ctl_leader_stats(const struct tita_ctl *c, const struct tita_addr *local,
			   struct tita_leader_stats *ret_stats);

/* What the leader on this port sees of its leaf's links, per spine (arrays
 * of TITA_SPINES_MAX): the number of spines, or 0 when the port does not
 * lead. */
uint32_t tita_ctl_leaf_links(const struct tita_ctl *c, const struct tita_addr *local,
			     struct tita_leader_link *up, struct tita_leader_link *down);
/* 0, or -ENOENT (no such pair, or not the sport it was told). */
int tita_ctl_path_applied(struct tita_ctl *c, const struct tita_path_update *u, uint64_t now_ns);
/* The caller could not move the pair (its queue pairs would not drain, or
 * the NIC cannot set a source port): it stays on its old port. A move
 * neither applied nor failed within a grant TTL counts as failed. 0, or
 * -ENOENT (no such pair, or no move to that sport under way). */
int tita_ctl_path_failed(struct tita_ctl *c, const struct tita_path_update *u, uint64_t now_ns);

/* Snapshots for titactl and metrics. */
enum tita_pair_role {
	TITA_PAIR_TX = 1,
	TITA_PAIR_RX = 2,
};

enum tita_pair_state {
	TITA_PAIR_STARTING = 1, /* TX: waiting for a first grant, at the start rate */
	TITA_PAIR_GRANTED, /* TX: paced under a live grant */
	TITA_PAIR_FAIL_OPEN, /* TX: no live grant, unpaced */
	TITA_PAIR_ACTIVE, /* RX: a live demand, granted */
	TITA_PAIR_UNMANAGED, /* RX: traffic from a source that sends no demand */
};

struct tita_pair_info {
	struct tita_addr local, remote;
	uint32_t job_id;
	enum tita_pair_role role;
	enum tita_pair_state state;
	uint64_t demand_bps; /* TX: estimated; RX: reported */
	uint64_t grant_bps; /* TX: received; RX: granted (0 for none) */
	uint64_t ceiling_bps; /* TX: reactive ceiling */
	uint64_t rate_bps; /* TX: programmed, TITA_RATE_UNPACED when unpaced */
	uint64_t measured_bps; /* last interval */
	uint32_t ce_ppm; /* CE fraction (RX: measured; TX: reported by the receiver) */
	uint64_t cnp_per_sec; /* TX: CNPs received */
	uint64_t expires_ns; /* TX: grant expiry; RX: demand expiry */
	/* The fabric: the spine the pair crosses (TITA_SPINE_NONE unknown,
	 * or no fabric), its UDP source port (TX, 0 when tita picked none),
	 * and the cap of its leaf's leader (0 for none). */
	uint16_t spine;
	uint16_t sport;
	uint64_t leaf_cap_bps;
	/* The spine its packets take, where known, whether the leaders place
	 * it (spine) or not (a spread pair's port, probed once: TX; its
	 * sender's word: RX); for the health evidence. */
	uint16_t path_spine;
	/* TX: its leader ordered it to another spine, and it has not got
	 * there yet (it waits meanwhile). */
	bool moving;
};

struct tita_port_info {
	struct tita_addr local;
	uint64_t line_rate_bps;
	double eta; /* effective, after the CE loop */
	uint64_t capacity_bps; /* eta x line rate minus unmanaged traffic */
	uint64_t unmanaged_bps;
	uint64_t granted_bps; /* sum of live grants */
	uint64_t rx_bps;
	uint32_t ce_ppm;
	uint64_t tx_bps;
	/* The fabric: its place (n_spines 0: none), its leaf's leaders, and
	 * whether that is this port: one leads the leaf's uplinks (the lowest
	 * address that answers), another its downlinks (the highest). */
	struct tita_place place;
	struct tita_addr leader, leader_down;
	bool is_leader, is_leader_down;
};

/* Counters; every rejected input has its own. */
struct tita_ctl_stats {
	uint64_t rounds;
	/* A port's allocation run (water-filling and grant decisions), in a
	 * round or early for new or moved demands. */
	uint64_t allocations;
	uint64_t msgs_in, msgs_out;
	uint64_t entries_in, entries_skipped_not_local, entries_skipped_mismatch;
	uint64_t entries_skipped_no_space;
	uint64_t samples_in, samples_skipped_not_local, samples_skipped_no_space;
	uint64_t pairs_evicted;
	uint64_t grants_expired, demands_expired;
	uint64_t rate_updates;
	uint64_t rate_updates_suppressed;
	/* The fabric. */
	uint64_t probes_out, probe_batches, probe_results, probes_unanswered, probes_lost;
	uint64_t path_updates, moves, moves_failed, rehashes;
	uint64_t probes_on_marks; /* a pair's own port probed again on CE */
	/* A placed pair's own port probed again with no probe of its own
	 * waiting (the path refresh), and probes the budget deferred (their
	 * caller tries again later). */
	uint64_t probes_refresh, probes_deferred;
	/* Losses from a remote leaf taken as a rehash (ctl_fabric_lost). */
	uint64_t losses_seen;
	uint64_t leaf_reports, leaf_answers, leaf_msgs_refused, leaf_lines_refused;
	uint64_t leaders_lost;
	/* The unscheduled first bytes: allowances armed, pairs held after
	 * their first grant, and bytes that demands announced. */
	uint64_t unsched_armed, unsched_holds, unsched_announced_bytes;
};

size_t tita_ctl_n_pairs(const struct tita_ctl *c);
size_t tita_ctl_n_ports(const struct tita_ctl *c);
/* Copies up to max entries; returns how many exist (like snprintf). */
size_t tita_ctl_pairs(const struct tita_ctl *c, struct tita_pair_info *out, size_t max);
size_t tita_ctl_ports(const struct tita_ctl *c, struct tita_port_info *out, size_t max);
void tita_ctl_stats(const struct tita_ctl *c, struct tita_ctl_stats *ret_stats);

#endif /* TITA_CTL_H */
