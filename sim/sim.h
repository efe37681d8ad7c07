/* SPDX-License-Identifier: MIT */
/*
 * tita-sim: a deterministic packet-level discrete-event simulator of a RoCEv2
 * fabric. Hosts with NICs (per-QP rate limiters, the DCQCN notification point,
 * the reaction point of the selected congestion control, go-back-N on loss),
 * output-queued switches with a shared buffer, ECN marking, PFC and ECMP on
 * the 5-tuple (a QP's UDP source port is its entropy), and links with
 * propagation delay that can fail. Congestion controls plug in as struct
 * sim_cc_ops; `tita` runs the real lib/ controller on every host and carries
 * its messages as packets through the fabric.
 *
 * Time is virtual, in picoseconds (so 1000-byte packets at 400 Gb/s
 * serialize exactly); a seed fixes every random choice (ECN marking, ECMP
 * hashing, workload generation), so a run is a pure function of its scenario
 * and seed.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dcqcn.h"
#include "eventq.h"
#include "hpcc.h"
#include "pairmap.h"
#include "tita/ctl.h"

#define SIM_PS_PER_NS 1000ull
#define SIM_PS_PER_US 1000000ull
#define SIM_PS_PER_MS 1000000000ull
#define SIM_PS_PER_S 1000000000000ull

#define SIM_NONE UINT32_MAX
#define SIM_MAX_JOBS 4
#define SIM_NAME_MAX 48

/* Wire overheads (bytes), RoCEv2 over IPv4: Ethernet 14 + FCS 4, IPv4 20,
 * UDP 8, BTH 12, ICRC 4. Preamble and inter-frame gap are not modelled, as
 * in the HPCC artifact. */
#define SIM_HDR_BYTES 62u
#define SIM_CNP_BYTES 78u /* headers + 16 reserved bytes */
#define SIM_ACK_BYTES 66u /* headers + AETH */
#define SIM_INT_BYTES 42u /* the artifact's INT header: 5 hops x 8 B + nhop */
#define SIM_PFC_BYTES 64u
/* A path probe: a RoCEv2 packet without payload (62 bytes) padded to the
 * minimum frame; its answer an ICMP time-exceeded quoting the probe's IPv4
 * and UDP headers: Ethernet 18 + IPv4 20 + ICMP 8 + 28. */
#define SIM_PROBE_BYTES 64u
#define SIM_PROBE_REPLY_BYTES 74u

/* UDP ports: RoCEv2's destination port, titad's peer port (its datagrams go
 * from and to it), and the range from which NICs draw a QP's source port. */
#define SIM_ROCE_DPORT 4791u
#define SIM_TITA_UDP_PORT 4792u
#define SIM_SPORT_MIN 0xc000u
#define SIM_SPORT_MAX 0xffffu

enum sim_prio {
	SIM_PRIO_DATA = 0, /* lossless, PFC */
	SIM_PRIO_CTRL = 1, /* CNPs, ACKs, tita messages: strict priority, no PFC */
	/* short messages ([nic] short_prio_kb): lossless, PFC, served before
	 * SIM_PRIO_DATA and after SIM_PRIO_CTRL */
	SIM_PRIO_SHORT = 2,
	SIM_N_PRIO = 3,
};

/* The lossless classes, which PFC pauses one by one (a priority each). */
enum sim_lossless {
	SIM_LL_DATA = 0,
	SIM_LL_SHORT = 1,
	SIM_N_LOSSLESS = 2,
};

static inline unsigned sim_lossless_of(unsigned prio)
{
	return prio == SIM_PRIO_SHORT ? SIM_LL_SHORT : SIM_LL_DATA;
}

enum sim_pkt_kind {
	SIM_PKT_DATA,
	SIM_PKT_CNP,
	SIM_PKT_ACK,
	SIM_PKT_TITA,
	SIM_PKT_PROBE, /* UDP to 4791 with TTL 2: traceroute's first spine */
	SIM_PKT_PROBE_REPLY, /* its ICMP answer */
	SIM_PKT_NAK, /* go-back-N: resend from seq */
};

struct sim_pkt {
	uint32_t next; /* FIFO link, or free-list link */
	/* data/CNP/ACK: flow; tita: message slot; probe reply: the spine that
	 * answered, or SIM_NONE when the path crosses none */
	uint32_t flow;
	uint32_t src, dst; /* hosts */
	uint32_t wire_bytes;
	uint32_t payload_bytes;
	uint32_t in_port; /* ingress port at the switch holding it */
	uint16_t sport, dport; /* UDP: with src and dst, what ECMP hashes */
	uint8_t kind;
	uint8_t prio;
	uint8_t ce;
	uint8_t nhop;
	/* data: byte offset of the payload end; ACK: bytes acked; NAK: the
	 * offset to resend from; probe reply: the host probed */
	uint64_t seq;
};

/* 48 bytes: a packet is touched at every hop, its INT records (HPCC only)
 * live beside the pool, in struct sim's hops. */
_Static_assert(sizeof(struct sim_pkt) == 48, "sim_pkt grew");

struct sim_fifo {
	uint32_t head, tail;
};

struct sim_port {
	uint32_t node;
	uint32_t peer; /* the port at the other end of the link */
	uint64_t rate_bps;
	uint64_t delay_ps;
	struct sim_fifo q[SIM_N_PRIO];
	uint64_t q_bytes[SIM_N_PRIO];
	bool busy;
	/* each lossless class held by the peer's PFC, since when, and the
	 * total time */
	bool paused[SIM_N_LOSSLESS];
	uint64_t paused_since_ps[SIM_N_LOSSLESS];
	uint64_t paused_ps[SIM_N_LOSSLESS];
	uint64_t tx_bytes; /* cumulative, all classes (INT txBytes) */
	uint64_t tx_data_bytes;
	uint64_t max_q_bytes;
	/* ingress side (switch ports): data bytes buffered that came in here,
	 * by lossless class, and whether that class is paused upstream */
	uint64_t in_bytes[SIM_N_LOSSLESS], in_hdrm_bytes[SIM_N_LOSSLESS];
	bool pause_sent[SIM_N_LOSSLESS];
	uint64_t pause_frames; /* XOFF frames this port sent upstream (any class) */
	uint64_t ecn_marks;
	uint64_t drops;
	bool down; /* its link failed: it sends and receives nothing */
	/* [faults] lossy: the share of packets arriving here that are lost */
	double drop_p;
	uint64_t pause_rx_frames; /* XOFF frames that arrived here (host ports) */
	/* switch egress: the data queue's histogram bin and since when */
	uint32_t q_bin;
	uint64_t q_bin_since_ps;
};

/* Time-weighted queue histogram of every switch egress: 4 KB bins to 1 MB,
 * then four per octave (2.4 KB per port). */
#define SIM_PORTQ_LIN_BINS 256u
#define SIM_PORTQ_LIN_SHIFT 12u
#define SIM_PORTQ_PER_OCTAVE 4u
#define SIM_PORTQ_BINS (SIM_PORTQ_LIN_BINS + 12u * SIM_PORTQ_PER_OCTAVE)

static inline uint32_t sim_portq_bin(uint64_t bytes)
{
	uint64_t mb = bytes >> (SIM_PORTQ_LIN_SHIFT + 8);
	uint32_t octave, frac;

	if (!mb)
		return (uint32_t)(bytes >> SIM_PORTQ_LIN_SHIFT);
	octave = 63u - (uint32_t)__builtin_clzll(mb);
	/* the two bits under the leading one */
	frac = (uint32_t)((bytes >> (SIM_PORTQ_LIN_SHIFT + 8 + octave - 2)) & 3);
	if (octave >= 12)
		return SIM_PORTQ_BINS - 1;
	return SIM_PORTQ_LIN_BINS + octave * SIM_PORTQ_PER_OCTAVE + frac;
}

/* The smallest queue a bin holds. */
static inline uint64_t sim_portq_bin_bytes(uint32_t bin)
{
	uint32_t octave, frac;

	if (bin < SIM_PORTQ_LIN_BINS)
		return (uint64_t)bin << SIM_PORTQ_LIN_SHIFT;
	octave = (bin - SIM_PORTQ_LIN_BINS) / SIM_PORTQ_PER_OCTAVE;
	frac = (bin - SIM_PORTQ_LIN_BINS) % SIM_PORTQ_PER_OCTAVE;
	return ((uint64_t)(4 + frac) << (SIM_PORTQ_LIN_SHIFT + 8 + octave)) >> 2;
}

struct sim_node {
	bool is_host;
	uint32_t idx; /* host or switch number */
	uint32_t first_port, n_ports;
};

struct sim_switch {
	uint32_t node;
	uint64_t buffer_bytes, used_bytes;
	uint64_t headroom_bytes_per_port, headroom_total;
	uint64_t rng;
	uint64_t ecmp_salt; /* from the seed and the switch number */
	uint32_t tier; /* 0 leaf (or the single switch), 1 spine */
};

/* A tita pair (remote host, job) on the sending host. */
struct sim_txpair {
	uint32_t remote, job;
	uint64_t tx_bytes; /* since the last sample */
	uint64_t cnps;
	uint64_t backlog_bytes; /* the application's remaining bytes */
	uint64_t rate_bps; /* tita's pacing rate, or TITA_RATE_UNPACED */
	uint64_t next_tx_ps; /* the pair's pacer */
	uint64_t paused_seen_ps; /* its port's data class paused_ps when it last sent */
	uint64_t unsched_left; /* bytes it lets go unpaced before rate_bps */
	bool done_said; /* its backlog ran out, and the controller was told */
	uint64_t last_active_ps;
	bool live;
	/* Health telemetry (sim/telemetry.c): what it sent since the last
	 * round's health sample, and the spine its controller says it crosses. */
	uint64_t h_tx_bytes, h_tx_pkts, h_retx_pkts;
	uint16_t h_spine;
	uint16_t h_path_spine; /* tita_pair_info.path_spine, for the per-spine gauges */
	/* tita's path: the source port its flows take (0: their own), and a
	 * change that waits for flows to drain. */
	uint16_t sport, moving_sport;
	uint32_t draining;
};

struct sim_rxpeer {
	uint32_t remote;
	uint64_t rx_bytes, rx_pkts, ce_pkts, lost_pkts;
	uint64_t last_active_ps;
	bool live;
	/* Health telemetry, per job since the last round: wire bytes, packets,
	 * CE-marked packets, packets out of sequence (a loss before them). */
	uint64_t h_bytes[SIM_MAX_JOBS], h_pkts[SIM_MAX_JOBS], h_ce[SIM_MAX_JOBS];
	uint64_t h_lost[SIM_MAX_JOBS];
	/* ...and what its controller holds of the pairs from it, by job:
	 * grant, the demand reported, the spine (read each round). */
	uint64_t h_grant_bps[SIM_MAX_JOBS], h_demand_bps[SIM_MAX_JOBS];
	uint16_t h_spine[SIM_MAX_JOBS];
	uint16_t h_path_spine[SIM_MAX_JOBS];
	uint8_t h_managed; /* bit j: the controller has the pair of job j */
};

struct sim_host {
	uint32_t node, port;
	uint32_t *active; /* flows with bytes left to send */
	uint32_t n_active, cap_active, rr;
	uint64_t wake_ps; /* a NIC wake-up pending at this time (0: none) */
	/* tita: only the pairs that exist, so that memory grows with them and
	 * not with the square of the hosts. */
	struct tita_ctl *ctl;
	struct sim_txpair *txp; /* [n_txp]; txp_map: remote * SIM_MAX_JOBS + job */
	struct sim_rxpeer *rxp; /* [n_rxp]; rxp_map: remote host */
	struct sim_pairmap txp_map, rxp_map;
	uint32_t n_txp, cap_txp, n_rxp, cap_rxp;
	uint32_t *live_tx, n_live_tx; /* [cap_txp] */
	uint32_t *live_rx, n_live_rx; /* [cap_rxp] */
	uint64_t next_sample_ps, last_sample_ps;
	uint64_t tita_wake_ps;
	uint64_t ctrl_tx_bytes, ctrl_rx_bytes;
	uint64_t cnps_sent;
	/* [faults] dead: it stopped (NIC, controller, link). slowhost: its
	 * application makes bytes ready at app_rate_bps (0: as fast as the NIC
	 * takes them), app_ready_bytes of them made and not yet sent, up to
	 * SIM_APP_READY_MAX_BYTES (the application's buffer). */
	bool dead;
	uint64_t app_rate_bps;
	double app_ready_bytes;
	uint64_t app_since_ps;
	uint32_t app_open_pairs; /* its pairs with bytes posted, last round */
};

#define SIM_APP_READY_MAX_BYTES (64u * 1024u)

struct sim_flow {
	/* What the NIC's round robin reads of every flow it passes over comes
	 * first, in one cache line. */
	uint32_t id;
	uint32_t src, dst, job, group;
	uint32_t txp; /* tita: the pair's index in the sender's txp */
	uint32_t rxp; /* tita: the sender's index in the receiver's rxp */
	uint16_t sport; /* RoCEv2 UDP source port: the QP's ECMP entropy */
	bool held; /* sim_flow_hold: the NIC sends nothing of it */
	bool await_drain; /* call cc->on_drained when nothing is in flight */
	bool in_active; /* on its host's list of flows with bytes to send */
	bool started, timed;
	uint64_t next_tx_ps;
	uint64_t size_bytes; /* UINT64_MAX for a flow that runs until stop_ps */
	uint64_t sent_bytes, rcvd_bytes, acked_bytes;
	uint64_t high_sent_bytes; /* the furthest it sent: below it, a resend */
	uint64_t latest_start_ps; /* it never starts after this (0: any time) */
	uint64_t start_ps, stop_ps, finish_ps;
	double rate_bps;
	uint64_t line_bps;
	uint64_t last_pkt_bytes;
	uint64_t last_tx_ps; /* when its last packet left the NIC */
	uint64_t last_cnp_ps; /* notification point */
	bool cnp_sent_once;
	uint32_t deps_pending;
	uint32_t first_dependent, n_dependents;
	uint64_t trace_rcvd;
	uint64_t ecn_rcvd;
	uint64_t dec_sched_ps, inc_sched_ps; /* DCQCN timers queued */
	/* Go-back-N: the receiver takes only the next byte in order (that is
	 * rcvd_bytes) and NAKs a gap once; the sender goes back on the NAK, or
	 * when its timer (armed at a loss) finds nothing received in order for
	 * a timeout. */
	bool rto_armed;
	uint8_t rto_shift; /* the timeout's backoff since the last progress */
	uint64_t nak_for; /* the offset last NAKed; UINT64_MAX none */
	uint64_t rewound_to; /* the offset last gone back to; UINT64_MAX none */
	uint64_t retx_bytes;
	uint64_t last_rx_ps; /* the last byte received in order */
	uint64_t max_gap_ps; /* the longest time without one, after a failure */
	union {
		struct dcqcn_rp dcqcn;
		struct hpcc_qp hpcc;
	} cc;
};

/* ---- scenario (parsed from a .conf file) ---- */

enum sim_topo {
	SIM_TOPO_SINGLE,
	SIM_TOPO_LEAFSPINE,
};

enum sim_group_kind {
	SIM_GROUP_FLOWS,
	SIM_GROUP_INCAST,
	SIM_GROUP_ALLTOALL,
	SIM_GROUP_PERMUTATION,
	SIM_GROUP_SHIFT,
	SIM_GROUP_RING,
	SIM_GROUP_WEBSEARCH,
	SIM_GROUP_MESSAGES,
};

struct sim_group {
	char name[SIM_NAME_MAX];
	enum sim_group_kind kind;
	uint32_t first_flow, n_flows;
	uint32_t ring_hosts, ring_steps;
	uint64_t ring_chunk_bytes;
	bool primary;
};

struct sim_flow_spec {
	uint32_t src, dst, job, group;
	uint64_t size_bytes; /* 0 with stop_ps: runs until stop_ps */
	uint64_t start_ps, stop_ps;
	uint32_t dep[2], n_dep; /* flows that must complete before this starts */
	uint64_t latest_start_ps; /* repeated collectives: none starts after (0: any) */
};

/* [faults]: each from at_ps on. A fault is on host's link (on_host) or on
 * the link between leaf and spine. */
enum sim_fault_kind {
	SIM_FAULT_LINK_DOWN = 0, /* link: both directions down */
	SIM_FAULT_SLOWHOST, /* the application makes bytes at frac x line rate */
	SIM_FAULT_SLOWNIC, /* the host's link runs at frac x its rate */
	SIM_FAULT_SLOWLINK, /* a link runs at frac x its rate */
	SIM_FAULT_LOSSY, /* a link loses drop of the packets crossing it */
	SIM_FAULT_DEAD, /* the host stops: NIC, controller, link */
	SIM_FAULT_PFCSTORM, /* the host's NIC sends PFC pauses without end */
	SIM_FAULT_N_KINDS,
};

/* The fault's name in scenarios and truth.json ("slownic"). */
const char *sim_fault_kind_name(enum sim_fault_kind k);
struct sim;
/* What crossed fault k's link since it began: data bytes, and the busier
 * direction's share of its rate. False when it has no link (a slow or
 * dead host, a PFC storm) or did not begin. */
bool sim_fault_traffic(const struct sim *s, uint32_t k, uint64_t *ret_bytes,
		       double *ret_busy_ratio);

struct sim_fault {
	enum sim_fault_kind kind;
	bool on_host;
	uint32_t host;
	uint32_t leaf, spine;
	double frac, drop;
	uint64_t at_ps;
	unsigned line; /* in the scenario, for errors (0: not from a file) */
};

/* A NIC in a PFC storm sends an XOFF this often (as one refreshing its
 * pause before the quanta run out). */
#define SIM_PFC_STORM_PERIOD_PS (20 * SIM_PS_PER_US)

struct sim_kv {
	char key[SIM_NAME_MAX];
	double value;
	char where[96]; /* file:line, for errors */
};

struct sim_config {
	char name[SIM_NAME_MAX];
	char title[128];
	/* topology */
	enum sim_topo topo;
	uint32_t hosts; /* single switch */
	uint32_t leaves, spines, hosts_per_leaf;
	uint64_t host_rate_bps, fabric_rate_bps;
	uint64_t link_delay_ps;
	bool hosts_unplaced; /* tita's hosts are not told their place */
	/* switch */
	uint64_t buffer_bytes;
	double kmin_kb_per_25g, kmax_kb_per_25g, pmax;
	bool ecn;
	bool pfc;
	uint32_t pfc_alpha_shift; /* dynamic threshold: free shared >> shift */
	uint64_t pfc_resume_offset_bytes;
	double headroom_bdp; /* per port, in link BDPs (round trip + 2 MTU) */
	/* nic */
	uint32_t mtu_bytes;
	/* The rate limiters' bucket: how many bytes a limiter that fell behind
	 * its rate may send at once to catch up (0: none, each packet spaced
	 * from when the last one left). */
	uint64_t pacer_burst_bytes;
	/* A message of at most this many bytes goes in the short class
	 * (SIM_PRIO_SHORT), at its NIC and at every switch (0: none). */
	uint64_t short_prio_bytes;
	uint64_t rto_ps; /* go-back-N timeout after a loss */
	/* run */
	uint64_t seed;
	uint64_t max_time_ps;
	uint64_t trace_interval_ps;
	uint32_t monitor_host; /* the switch egress towards it is "the bottleneck" */
	uint32_t trace_flows;
	uint64_t goodput_bin_ps; /* goodput.dat, recovery, per-job throughput */
	/* Health telemetry (--telemetry DIR): how often every host's interval
	 * closes (0: 1 ms when asked for on the command line). */
	uint64_t telemetry_interval_ps;
	/* parameter overrides, applied on top of each algorithm's defaults */
	struct sim_kv *kv;
	uint32_t n_kv, cap_kv;
	/* traffic */
	/* tita's weight of each job, in thousandths (0: the default weight):
	 * the operator's `titactl job set J --weight W` on every host. */
	uint32_t job_weight_milli[SIM_MAX_JOBS];
	struct sim_group *groups;
	uint32_t n_groups, cap_groups;
	struct sim_flow_spec *flows;
	uint32_t n_flows, cap_flows;
	/* [faults] */
	struct sim_fault *faults;
	uint32_t n_faults, cap_faults;
};

/* Parse a scenario from a buffer; errors name path:line. 0 or -EINVAL.
 * seed replaces the file's [run] seed unless it is SIM_SEED_FROM_FILE. */
#define SIM_SEED_FROM_FILE UINT64_MAX
int sim_config_parse(struct sim_config *cfg, const char *buf, size_t len, const char *path,
		     uint64_t seed, FILE *err);
int sim_config_load(struct sim_config *cfg, const char *path, uint64_t seed, FILE *err);
/* "section.key=value" from the command line. */
int sim_config_set(struct sim_config *cfg, const char *assignment, FILE *err);
void sim_config_fini(struct sim_config *cfg);
/* Look up an override: true and *ret_value when present. */
bool sim_config_get(const struct sim_config *cfg, const char *key, double *ret_value);

/* ---- congestion control ---- */

struct sim;

enum sim_cc_event {
	SIM_CC_START, /* the flow starts */
	SIM_CC_TX, /* a data packet left the NIC; arg = wire bytes */
	SIM_CC_CNP, /* a CNP arrived */
	SIM_CC_ACK, /* an ACK arrived; pkt carries the INT echo */
	SIM_CC_TIMER_DEC, /* DCQCN decrease check */
	SIM_CC_TIMER_INC, /* DCQCN increase timer */
};

struct sim_cc_ops {
	const char *name;
	const char *desc;
	bool np_cnp; /* receivers send CNPs on CE (the NIC notification point) */
	bool acks; /* receivers ACK every data packet, echoing INT */
	bool int_stamp; /* switches stamp INT records into data packets */
	bool tita; /* the lib/ controller runs on every host */
	void (*init)(struct sim *s);
	void (*on_event)(struct sim *s, struct sim_flow *f, enum sim_cc_event ev,
			 const struct sim_pkt *pkt, uint64_t arg);
	/* false while the flow may not send (HPCC window) */
	bool (*can_send)(const struct sim *s, const struct sim_flow *f);
	/* Optional: the answer to sim_probe_send(s, host, dst, sport): the
	 * spine (0 .. spines - 1) the data packets of that 5-tuple cross, or
	 * SIM_NONE when their path crosses no spine (same leaf). */
	void (*on_probe_reply)(struct sim *s, uint32_t host, uint32_t dst, uint16_t sport,
			       uint32_t spine);
	/* Optional: the flow's bytes in flight reached zero after
	 * sim_flow_await_drain asked for it. */
	void (*on_drained)(struct sim *s, struct sim_flow *f);
};

const struct sim_cc_ops *sim_cc_find(const char *name);
extern const struct sim_cc_ops *const sim_cc_all[];

/* "dcqcn.ai_mbps", "tita.eta" and friends set to v: 0, -ENOENT (unknown
 * key), -ERANGE (outside the parameter's range) or -EINVAL. Any of the
 * targets may be NULL (then only the key and the value are checked). */
int sim_params_set(const char *key, double v, struct dcqcn_params *d, struct hpcc_params *h,
		   struct tita_ctl_params *t);
/* A "tita." key's range in the key's unit ("1..1e+07"); -ENOENT for keys
 * without one. */
int sim_params_range(const char *key, char *buf, size_t size);
/* The tita controller's parameters are lib's table (tita_ctl_param_table):
 * [tita] NAME and --set tita.NAME take a field's name, with durations in
 * microseconds (the name's "_ns" read as "_us"). The key of an entry: */
const char *sim_tita_key(const struct tita_param *d, char *buf, size_t size);
/* Every tita.* key with its range, default and help, for --help. */
void sim_tita_params_help(FILE *f);

/* ---- results ---- */

struct sim_results {
	uint64_t events;
	double wall_s;
	uint64_t end_ps;
	uint64_t flows_done, flows_total;
	/* bottleneck (switch egress towards monitor_host) */
	uint32_t monitor_port;
	uint64_t q_max_bytes, q_p50_bytes, q_p99_bytes;
	uint64_t fabric_q_max_bytes; /* any switch egress */
	/* The largest time-weighted p99 of any switch egress while the primary
	 * group ran, and that port. */
	uint64_t port_q_p99_max_bytes;
	uint32_t port_q_p99_max_port;
	/* XOFF frames sent by leaves to hosts, leaves to spines, spines to
	 * leaves (by the single switch: to hosts) */
	uint64_t pauses_leaf_host, pauses_leaf_spine, pauses_spine_leaf;
	double util;
	/* fabric-wide */
	uint64_t pause_frames;
	uint64_t paused_ps;
	uint64_t ecn_marks, cnps, drops;
	/* primary group */
	double jain;
	double completion_ps, bound_ps;
	double slowdown_p50, slowdown_p99;
	uint32_t n_fct;
	/* tita */
	uint64_t ctrl_bytes;
	double ctrl_frac; /* worst host link, of its capacity over the run */
	/* path probes the controllers queued, of them the path refresh's, and
	 * those their budget deferred, summed over the hosts */
	uint64_t probes, probes_refresh, probes_deferred;
	/* losses (failed links, full buffers) and go-back-N */
	uint64_t lost_pkts, retx_bytes, naks, rtos;
	/* after the first link failure: the payload rate the surviving fabric
	 * can carry for the flows running then (fluid max-min over host links
	 * and each leaf's surviving uplinks and downlinks: an upper bound, as
	 * if every leaf split its traffic ideally), the goodput before it, the
	 * time until goodput is back to 95 % of what the fabric can carry (-1:
	 * never), the longest time a running flow received nothing, and the
	 * flows that received nothing for over 1 ms */
	bool failure;
	double fail_capacity_bps, pre_fail_goodput_bps;
	double recovery_ps;
	uint64_t max_stall_ps;
	uint32_t stuck_flows;
	/* jobs: each one's goodput over the interval in which all of them run */
	uint32_t n_jobs;
	double shared_ps;
	double job_bps[SIM_MAX_JOBS];
	uint32_t job_of[SIM_MAX_JOBS]; /* job ids, in order */
};

/* ---- the simulator ---- */

struct sim {
	const struct sim_config *cfg;
	const struct sim_cc_ops *cc;
	struct sim_eventq evq;
	uint64_t now_ps;
	uint64_t events;
	uint64_t rng;
	bool stop;

	struct sim_node *nodes;
	uint32_t n_nodes;
	struct sim_port *ports;
	uint32_t n_ports;
	struct sim_host *hosts;
	uint32_t n_hosts;
	struct sim_switch *switches;
	uint32_t n_switches;
	/* ECMP candidates: route_off/route_n[switch * n_hosts + dst] into route_ports */
	uint32_t *route_off, *route_n, *route_ports;
	uint32_t n_route_ports;

	struct sim_flow *flows;
	uint32_t n_flows, flows_done;
	uint32_t *dependents;

	struct sim_pkt *pkts;
	uint32_t n_pkts, cap_pkts, free_pkt;
	struct hpcc_hop (*hops)[HPCC_MAX_HOPS]; /* [cap_pkts] when switches stamp INT */
	struct tita_msg *msgs;
	uint32_t cap_msgs, free_msg;
	uint32_t *msg_next;

	/* parameters in force */
	struct dcqcn_params dcqcn;
	struct hpcc_params hpcc;
	struct tita_ctl_params tita;
	bool tita_dcqcn; /* DCQCN stays on under tita */
	uint64_t base_rtt_ps; /* longest host-to-host round trip, unloaded */

	/* metrics */
	uint32_t monitor_port;
	uint64_t *portq_hist_ps; /* [switch port - first_switch_port][SIM_PORTQ_BINS] */
	uint32_t first_switch_port;
	bool portq_on; /* the primary group runs: histograms accumulate */
	uint64_t *q_hist_ps; /* time at each KB of bottleneck queue */
	uint32_t q_hist_n;
	uint64_t q_last_change_ps, q_last_bytes;
	uint64_t metrics_start_ps;
	uint64_t mon_tx_start, mon_tx_end;
	uint32_t prim_started, prim_finished;
	uint64_t prim_win_start_ps, prim_win_end_ps;
	double *prim_win_bytes;
	uint64_t cnps, ecn_marks, drops, ctrl_bytes;
	uint64_t lost_pkts, retx_bytes, naks, rtos;
	uint64_t fail_ps; /* the first link failure; UINT64_MAX none */
	/* payload received in order, per goodput bin and job */
	uint64_t *gp_bytes; /* [bin * SIM_MAX_JOBS + job] */
	uint32_t n_gp, cap_gp;
	uint64_t gp_bin_end_ps;
	FILE *trace_q, *trace_rate;
	uint32_t *trace_ids;
	uint32_t n_trace;
	/* [faults]: the losses of lossy links draw from their own stream */
	uint64_t fault_rng;
	/* [faults]: each fault's link's data bytes sent each way when it
	 * began ([2k], [2k + 1]; UINT64_MAX: not begun), so that truth.json
	 * says whether any traffic met the fault (sim_fault_traffic) */
	uint64_t *fault_base_bytes;
	uint64_t *fault_begin_ps;
	/* health telemetry (telemetry.c); NULL when off */
	struct sim_telemetry *tel;
};

/* Build the fabric and the flows; 0 or negative errno. */
int sim_init(struct sim *s, const struct sim_config *cfg, const struct sim_cc_ops *cc,
	     const char *out_dir);
int sim_run(struct sim *s, struct sim_results *ret);
void sim_fini(struct sim *s);
/* "leaf3-up-spine5", "spine2-down-leaf7", "leaf0-down-host4"... */
void sim_port_name(const struct sim *s, uint32_t port, char *buf, size_t len);
/* Write fct.dat etc. and print the summary; 0 or negative errno. */
int sim_write_results(const struct sim *s, const struct sim_results *r, const char *out_dir,
		      FILE *out);

/* Used by the congestion-control modules. */
enum sim_ev_type {
	SIM_EV_ARRIVE = 1, /* a = port the packet arrives at, b = pkt */
	SIM_EV_TXDONE, /* a = port */
	SIM_EV_PFC, /* a = port to pause or resume, b = 1 pause / 0 resume */
	SIM_EV_NIC_WAKE, /* a = host */
	SIM_EV_FLOW_START, /* a = flow */
	SIM_EV_FLOW_STOP, /* a = flow */
	SIM_EV_CC_DEC, /* a = flow; stale unless t_ps is its due time */
	SIM_EV_CC_INC, /* a = flow; stale unless t_ps is its due time */
	SIM_EV_TITA, /* a = host */
	SIM_EV_TRACE,
	SIM_EV_LINK_DOWN, /* a = fault */
	SIM_EV_RTO, /* a = flow */
	SIM_EV_FAULT, /* a = fault: it begins (a PFC storm: its next XOFF) */
	SIM_EV_TELEMETRY, /* every host's health interval closes */
};

void sim_schedule(struct sim *s, uint64_t t_ps, enum sim_ev_type type, uint32_t a, uint32_t b);
/* A congestion control changed the flow's rate. */
void sim_flow_set_rate(struct sim *s, struct sim_flow *f, double rate_bps);
void sim_nic_kick(struct sim *s, uint32_t host);
/* calloc, or exit with a message: the simulator cannot go on without it. */
void *sim_xcalloc(size_t n, size_t sz);
/* A control-class packet, filled but not sent (sim_host_send_ctrl). */
uint32_t sim_pkt_ctrl(struct sim *s, enum sim_pkt_kind kind, uint32_t flow, uint32_t dst,
		      uint16_t sport, uint16_t dport, uint32_t wire_bytes);
/* The INT records a packet carries (only when cc->int_stamp). */
static inline struct hpcc_hop *sim_pkt_hops(const struct sim *s, const struct sim_pkt *p)
{
	return s->hops[p - s->pkts];
}
/* Send a control-class packet from a host. */
uint32_t sim_pkt_alloc(struct sim *s);
void sim_host_send_ctrl(struct sim *s, uint32_t host, uint32_t pkt);

/* ---- paths: RoCEv2 source ports, ECMP, probes ---- */

/* The source port a flow starts with: drawn from the seed and the flow
 * number in 0xc000..0xffff, as a NIC derives it from the QP number. */
uint16_t sim_flow_default_sport(uint64_t seed, uint32_t flow);
/* Packets of f sent after this call carry sport, and so take its path. An
 * RC QP must not reorder: the caller drains the flow first (sim_flow_hold,
 * then sim_flow_await_drain); packets still in flight on the old path that
 * arrive after the new path's first ones are, to the receiver's go-back-N,
 * a gap. */
void sim_flow_set_sport(struct sim *s, struct sim_flow *f, uint16_t sport);
/* Bytes of f sent and not yet received in order (none when a go-back-N
 * rewound the sender to before what the receiver has). */
static inline uint64_t sim_flow_inflight_bytes(const struct sim_flow *f)
{
	return f->sent_bytes > f->rcvd_bytes ? f->sent_bytes - f->rcvd_bytes : 0;
}
/* While held, the NIC sends nothing of f (an application between messages);
 * releasing it wakes the NIC. */
void sim_flow_hold(struct sim *s, struct sim_flow *f, bool hold);
/* true when nothing of f is in flight; otherwise false, and
 * cc->on_drained(s, f) is called once when its bytes in flight reach zero. */
bool sim_flow_await_drain(struct sim *s, struct sim_flow *f);
/* The switch's ECMP choice among n candidates for a 5-tuple (UDP unless the
 * packet is an ICMP answer): a hash salted per switch and seed. */
uint32_t sim_ecmp_pick(const struct sim *s, uint32_t sw, uint32_t src, uint32_t dst, uint16_t sport,
		       uint16_t dport, bool icmp, uint32_t n);
/* The spine the data packets of (src, dst, sport) cross now, or SIM_NONE:
 * what the fabric does, for tests (a host learns it by probing). */
uint32_t sim_path_spine(const struct sim *s, uint32_t src, uint32_t dst, uint16_t sport);
/* Send a path probe from src towards dst with source port sport, as
 * traceroute with TTL 2 would: routed as that 5-tuple's data, answered by
 * the first spine on its path (by dst when there is none); the answer comes
 * to cc->on_probe_reply. Probe and answer count as the hosts' control
 * traffic. */
void sim_probe_send(struct sim *s, uint32_t src, uint32_t dst, uint16_t sport);

/* metrics.c: goodput after a failure and per job, from the goodput bins */
void sim_collect_goodput(const struct sim *s, struct sim_results *r);
int sim_write_goodput(const struct sim *s, const char *path);
/* The payload rate max-min fairness gives flows ids[0..n) on the surviving
 * fabric (host links; each leaf's uplinks and downlinks that are up, pooled
 * as if split ideally). */
double sim_maxmin_capacity_bps(const struct sim *s, const uint32_t *ids, uint32_t n);

/* Health telemetry (telemetry.c): every host's lib/health gauges in
 * Prometheus text, DIR/NNNNNN.prom each cfg->telemetry_interval_ps, and
 * DIR/truth.json (the faults and the run's parameters) at the end. Needs
 * the tita controller (its samples feed the gauges). 0 or negative errno. */
int sim_telemetry_start(struct sim *s, const char *dir);
/* Called by the event loop. */
void sim_telemetry_tick(struct sim *s);
/* truth.json; 0 or negative errno. Frees what start took. */
int sim_telemetry_finish(struct sim *s);
/* The host's health accumulator, or NULL (telemetry off, or the host dead). */
struct tita_health *sim_telemetry_health(struct sim *s, uint32_t host);
/* How many intervals were written. */
uint32_t sim_telemetry_intervals(const struct sim *s);

/* tita glue (cc_tita.c) */
int sim_tita_init(struct sim *s);
void sim_tita_fini(struct sim *s);
/* The controllers' probe counters into r. */
void sim_tita_results(const struct sim *s, struct sim_results *r);
void sim_tita_on_event(struct sim *s, uint32_t host);
void sim_tita_flow_start(struct sim *s, struct sim_flow *f);
void sim_tita_on_msg(struct sim *s, uint32_t host, struct sim_pkt *p);
void sim_tita_count_rx(struct sim *s, uint32_t host, const struct sim_pkt *p);
/* A tita datagram was lost on the way: its slot is free again. */
void sim_tita_lost(struct sim *s, const struct sim_pkt *p);
void sim_tita_probe_reply(struct sim *s, uint32_t host, uint32_t dst, uint16_t sport,
			  uint32_t spine);
void sim_tita_drained(struct sim *s, struct sim_flow *f);
/* A data packet of f left the NIC (SIM_CC_TX). */
void sim_tita_tx(struct sim *s, struct sim_flow *f);

/* The tita pair a started flow belongs to, at its sender. */
static inline struct sim_txpair *sim_flow_txpair(struct sim *s, const struct sim_flow *f)
{
	return &s->hosts[f->src].txp[f->txp];
}

static inline uint64_t sim_ser_ps(uint64_t bytes, uint64_t rate_bps)
{
	return bytes * 8 * SIM_PS_PER_S / rate_bps;
}

static inline uint64_t sim_wire_bytes(uint64_t payload, uint32_t mtu, uint32_t hdr)
{
	return payload + (payload + mtu - 1) / mtu * hdr;
}

#endif /* SIM_SIM_H */
