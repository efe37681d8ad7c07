/* SPDX-License-Identifier: MIT */
/*
 * Health evidence: one host's raw per-round observations turned into the
 * gauges a diagnoser compares across hosts ("which host is slow, which is
 * dead, which link drops"). titad and the simulator both feed it, and both
 * print its snapshot with the same formatter, so that simulated and live
 * telemetry share one schema (docs/design.md, "Diagnosis").
 *
 * Pure and bounded: time comes in as now_ns, memory is fixed at
 * tita_health_new() by the bounds in the params, and whatever lies beyond a
 * bound is counted (tita_health_snapshot.untracked), never dropped silently.
 *
 * Use: every control round, for each TX and RX pair, one feed call; per
 * port, its line rate and PFC counters when they change or are read; for
 * every message (or hello) from a peer, tita_health_peer_heard(). Once per
 * health interval, tita_health_close() gives the snapshot of the interval
 * that ends at now_ns and starts the next.
 *
 * Rounds: samples fed with the same now_ns belong to one control round of
 * their port. The gauges that count rounds divide by the rounds the
 * interval held (its length over round_ns), at least by those that were fed.
 * What a TX pair was allowed in a round (for the blocked ratio) is what
 * waited at the end of its round before (fed at most 1.5 of its intervals
 * earlier), up to its rate times the round, when that was more than
 * app_slack_ratio of it; an RX pair's grant is owed (for the shortfall)
 * when its sender reported a backlog at the ends of both rounds. A pair
 * (its job's, of its role) is remembered into the interval after the one
 * it was last fed in.
 */
#ifndef TITA_HEALTH_H
#define TITA_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/types.h"

/* The snapshot's arrays are fixed; the params may only lower these. */
#define TITA_HEALTH_PORTS_MAX 16u
#define TITA_HEALTH_JOBS_MAX 64u
#define TITA_HEALTH_WORST_MAX 64u /* K: worst pairs, and silent peers listed */
#define TITA_HEALTH_SPINE_NONE UINT16_MAX
/* Spines a port's per-spine gauges keep (TITA_SPINES_MAX), and the
 * (port, role, spine) lines a snapshot holds at most. */
#define TITA_HEALTH_SPINES_MAX 64u
#define TITA_HEALTH_SPINE_LINES_MAX 256u

struct tita_health_params {
	uint64_t round_ns; /* the control interval */
	/* A peer is silent when nothing came from it (a message, a hello,
	 * data) for longer than this: 3 grant TTLs. */
	uint64_t silent_after_ns;
	/* ...and it counts only while this port had a pair with it in the
	 * last this many intervals. */
	uint32_t silent_window_intervals;
	/* K: the worst pairs the snapshot lists, and the silent peers. */
	uint32_t worst_pairs;
	/* A TX round is application-limited when its open pairs held at most
	 * app_slack_ratio of what they were allowed in it, and sent less than
	 * (1 - app_slack_ratio) of it: the application did not keep up with
	 * the network. */
	double app_slack_ratio;
	/* Memory bounds. */
	uint32_t max_ports; /* <= TITA_HEALTH_PORTS_MAX */
	/* (port, peer, role) fed within one interval, and (port, peer, job,
	 * role) remembered from one round to the next */
	uint32_t max_pairs;
	uint32_t max_peers; /* (port, peer) pairs remembered for silence */
	uint32_t max_jobs; /* <= TITA_HEALTH_JOBS_MAX */
};

/* round 100 us, silent after 30 ms (3 x the default 10 ms grant TTL),
 * window 10, K 16, slack 0.1; 4 ports, 4096 pairs, 1024 peers, 16 jobs. */
void tita_health_params_default(struct tita_health_params *p);
/* 0 or -EINVAL (a zero round or K, a bound of 0 or above its maximum, a
 * slack outside [0, 1)). */
int tita_health_params_check(const struct tita_health_params *p);

struct tita_health;

/* The first interval starts at now_ns. NULL with errno (EINVAL, ENOMEM). */
struct tita_health *tita_health_new(const struct tita_health_params *p, uint64_t now_ns);
/* Accepts NULL; returns NULL. */
struct tita_health *tita_health_free(struct tita_health *h);

/* A local port and its line rate (added, or its rate changed). 0, -EINVAL
 * (rate 0 or above TITA_RATE_MAX_BPS), -ENOSPC (max_ports; counted). */
int tita_health_port_set(struct tita_health *h, const struct tita_addr *local,
			 uint64_t line_rate_bps);
/* The port's PFC pause frames sent and received, as the NIC's cumulative
 * counters (the first reading is the base; a counter that went backwards
 * starts a new base). known false: the NIC does not tell (the pause
 * gauges are then absent). 0, -ENOENT (no such port). */
int tita_health_port_pause(struct tita_health *h, const struct tita_addr *local, bool known,
			   uint64_t pause_tx_frames, uint64_t pause_rx_frames, uint64_t now_ns);

/* One TX pair over one control round ending at now_ns. */
struct tita_health_tx {
	struct tita_addr local, remote;
	uint32_t job_id;
	uint64_t interval_ns; /* the round's length */
	uint64_t tx_bytes; /* sent in the round */
	uint64_t backlog_bytes; /* waiting to be sent at its end */
	uint64_t rate_bps; /* paced rate; TITA_RATE_UNPACED: line rate */
	bool open; /* a transfer is open (the application has a message) */
	uint64_t tx_packets, retx_packets; /* 0, 0 when not known */
	uint16_t spine; /* TITA_HEALTH_SPINE_NONE when not known */
	/* The spine its packets take, where the pair line's spine (the one
	 * the leaders count it on) says none: a spread pair's port, probed.
	 * Only the per-spine gauges use it; path_known false: spine. */
	bool path_known;
	uint16_t path_spine;
};

/* One RX pair (a remote sender) over one control round ending at now_ns. */
struct tita_health_rx {
	struct tita_addr local, remote;
	uint32_t job_id; /* TITA_JOB_DEFAULT when not known */
	uint64_t interval_ns;
	uint64_t rx_bytes, rx_packets, ce_packets;
	uint64_t lost_packets; /* lost or out of sequence; 0 when not known */
	uint64_t granted_bps; /* the rate this receiver granted the pair (0: none) */
	/* The sender reported backlog, or a demand above the grant: it had
	 * more to send than it was granted, so the grant should have arrived. */
	bool sender_backlogged;
	uint16_t spine;
	bool path_known; /* as for TX */
	uint16_t path_spine;
};

/* 0, -ENOENT (local is not a port: counted), -EINVAL (zero interval, more
 * CE or lost packets than make sense). A pair beyond max_pairs still counts
 * in its port's and job's gauges; only its own line is lost (counted). */
int tita_health_tx_round(struct tita_health *h, const struct tita_health_tx *s, uint64_t now_ns);
int tita_health_rx_round(struct tita_health *h, const struct tita_health_rx *s, uint64_t now_ns);
/* Something came from peer (a message, a hello): it is not silent. */
void tita_health_peer_heard(struct tita_health *h, const struct tita_addr *peer, uint64_t now_ns);

enum tita_health_role {
	TITA_HEALTH_TX = 1,
	TITA_HEALTH_RX = 2,
};

/* Starts bringing the entries that a sample of (local, remote, job_id,
 * role) will look up into the cache, and changes nothing: a caller feeding
 * many samples calls it a few samples ahead of each, so that the tables'
 * cache misses overlap instead of coming one after another (a health
 * round's pairs, fed once per round, are seldom still in the cache). */
void tita_health_prefetch(const struct tita_health *h, const struct tita_addr *local,
			  const struct tita_addr *remote, uint32_t job_id,
			  enum tita_health_role role);

struct tita_health_port_gauges {
	struct tita_addr local;
	uint64_t line_rate_bps;
	double tx_bytes_per_second, rx_bytes_per_second;
	double tx_active_ratio, tx_blocked_ratio, tx_app_limited_ratio;
	double rx_shortfall_ratio, ce_ratio, loss_ratio;
	bool pause_known;
	double pause_tx_per_second, pause_rx_per_second;
	uint32_t peers_silent;
};

/* A pair here is (port, peer, role): a peer's jobs are summed, so that a
 * peer has one line per role (its spine: the last one fed). */
struct tita_health_pair_gauges {
	struct tita_addr local, remote;
	enum tita_health_role role;
	uint16_t spine; /* TITA_HEALTH_SPINE_NONE when not known */
	double shortfall_ratio; /* tx: blocked ratio; rx: shortfall */
	double loss_ratio;
};

/* A port's pairs of one role through one spine, together: the share of
 * what they were owed (tx: allowed while backlogged; rx: granted while the
 * sender had more) that did not go (tx) or arrive (rx), bytes-weighted.
 * Bounded: ports x 2 x spines. */
struct tita_health_spine_gauges {
	struct tita_addr local;
	enum tita_health_role role;
	uint16_t spine;
	double shortfall_ratio;
};

struct tita_health_silent_peer {
	struct tita_addr local, remote;
	double silent_seconds;
};

struct tita_health_job_gauges {
	uint32_t job_id;
	double tx_bytes_per_second, rx_bytes_per_second;
};

/* What did not fit, over the interval: samples of unknown ports, pairs
 * beyond max_pairs (their lines), peers beyond max_peers, jobs beyond
 * max_jobs (their bytes), ports beyond max_ports, and samples of (port,
 * peer, job, role) beyond max_pairs whose last round is not remembered
 * (their rounds count as backlogged throughout). */
struct tita_health_untracked {
	uint64_t samples_no_port, pairs, peers, jobs, ports, flows;
	/* (port, role, spine) lines beyond TITA_HEALTH_SPINE_LINES_MAX, and
	 * samples whose spine is beyond TITA_HEALTH_SPINES_MAX */
	uint64_t spine_lines;
};

struct tita_health_snapshot {
	uint64_t start_ns, end_ns;
	uint32_t n_ports;
	struct tita_health_port_gauges ports[TITA_HEALTH_PORTS_MAX];
	/* The K worst pairs of the interval, worst first (by shortfall, then
	 * loss); pairs fed in the interval only. */
	uint32_t n_pairs;
	struct tita_health_pair_gauges pairs[TITA_HEALTH_WORST_MAX];
	/* At most K silent peers, the longest silent first. */
	uint32_t n_silent;
	struct tita_health_silent_peer silent[TITA_HEALTH_WORST_MAX];
	uint32_t n_jobs;
	struct tita_health_job_gauges jobs[TITA_HEALTH_JOBS_MAX];
	/* Per (port, role, spine) with anything owed, by port, role, spine. */
	uint32_t n_spine_lines;
	struct tita_health_spine_gauges spine_lines[TITA_HEALTH_SPINE_LINES_MAX];
	struct tita_health_untracked untracked;
};

/* The interval [start, now_ns] as a snapshot, and the next interval starts
 * at now_ns. 0, or -EINVAL when now_ns is not after the interval's start
 * (*ret is then untouched and the interval goes on). */
int tita_health_close(struct tita_health *h, uint64_t now_ns, struct tita_health_snapshot *ret);

/* ---- Prometheus text exposition (0.0.4) ---- */

enum tita_health_metric {
	TITA_HEALTH_M_TX_BYTES = 0,
	TITA_HEALTH_M_RX_BYTES,
	TITA_HEALTH_M_TX_ACTIVE,
	TITA_HEALTH_M_TX_BLOCKED,
	TITA_HEALTH_M_TX_APP_LIMITED,
	TITA_HEALTH_M_RX_SHORTFALL,
	TITA_HEALTH_M_CE,
	TITA_HEALTH_M_LOSS,
	TITA_HEALTH_M_PAUSE_TX,
	TITA_HEALTH_M_PAUSE_RX,
	TITA_HEALTH_M_PEERS_SILENT,
	TITA_HEALTH_M_PAIR_SHORTFALL,
	TITA_HEALTH_M_PAIR_LOSS,
	TITA_HEALTH_M_PEER_SILENT_SECONDS,
	TITA_HEALTH_M_JOB_TX_BYTES,
	TITA_HEALTH_M_JOB_RX_BYTES,
	TITA_HEALTH_M_UNTRACKED,
	TITA_HEALTH_M_SPINE_SHORTFALL,
	TITA_HEALTH_N_METRICS,
};

/* The one table of the families' names, types and help. */
struct tita_health_metric_desc {
	const char *name, *type, *help;
};
const struct tita_health_metric_desc *tita_health_metric_desc(enum tita_health_metric m);

/*
 * How the formatter names things in labels. port: a local address's port
 * name (titad: the interface; the simulator: "h<N>"); peer: a remote
 * address; job: a job id's name. Each writes a NUL-terminated name of at
 * most size - 1 bytes into buf and returns buf. NULL (the whole struct or
 * a member): the address in text (dotted IPv4, or 32 hex digits in groups
 * of 4), the job's number.
 */
struct tita_health_namer {
	void *ctx;
	const char *(*port)(void *ctx, const struct tita_addr *local, char *buf, size_t size);
	const char *(*peer)(void *ctx, const struct tita_addr *remote, char *buf, size_t size);
	const char *(*job)(void *ctx, uint32_t job_id, char *buf, size_t size);
};

/* A label the caller adds to every sample (instance="h3"). Values are kept
 * plain as in titad's metrics: a byte outside printable ASCII, '"' or '\\'
 * becomes '_'. A name must be [a-zA-Z_][a-zA-Z0-9_]*. */
struct tita_health_label {
	const char *name, *value;
};

/* One host's snapshot and its labels, for the formatter. */
struct tita_health_source {
	const struct tita_health_snapshot *snap;
	const struct tita_health_label *labels;
	size_t n_labels;
	const struct tita_health_namer *namer; /* may be NULL */
};

/*
 * The snapshots of n sources as Prometheus text: each family once (HELP,
 * TYPE), then its samples from every source in order. Writes at most size
 * bytes, NUL-terminated when size > 0, and returns the length the whole
 * text needs (without the NUL), like snprintf: a return >= size means it
 * was cut short. A label name that is not valid: (size_t)-1 and nothing
 * written beyond buf[0] = '\0'.
 */
size_t tita_health_format(const struct tita_health_source *src, size_t n, char *buf, size_t size);

#endif /* TITA_HEALTH_H */
