/* SPDX-License-Identifier: MIT */
/*
 * DCQCN's reaction point (RP), per flow, as a ConnectX NIC runs it, for the
 * generator's baseline mode. The rules follow the Mellanox variant that the
 * HPCC artifact models (rdma-hw.cc, CC_MODE 1): a CNP arms a rate cut that
 * a periodic check applies (rate_reduce_monitor_period), alpha is an EWMA
 * updated every alpha period, and the rate climbs back on a timer and a
 * byte counter through fast recovery, additive and hyper increase.
 *
 * Parameters are NVIDIA's firmware defaults (research/cc-anchors.md §1.2)
 * mapped onto the bed, whose links run at s = line rate / 100 Gbit/s of a
 * ConnectX port's:
 *
 *   rates    × s            rpg_ai_rate 5 Mb/s, rpg_hai_rate 50 Mb/s and
 *                           rpg_min_rate 1 Mb/s: each step keeps its size as
 *                           a fraction of the line rate
 *   periods  × time_scale   dce_tcp_rtt 1 us, rate_reduce_monitor_period
 *                           4 us, rpg_time_reset 300 us (and the sink's
 *                           min_time_between_cnps 4 us)
 *   bytes    × mtu / 4096   rpg_byte_reset 32767 B: the same number of
 *                           packets per byte-counter event
 *
 * with every dimensionless knob as it is (g = 5/1024, the cut alpha/2 at
 * most 50 %, F = 1, initial alpha 1023/1024, clamp after time increase).
 * time_scale = 12.5 turns the 4 us CNP interval and decrease period into
 * the DCQCN paper's 50 us, which a software sender and sink honour; at
 * 200 Mbit/s and a 2048-byte MTU that is a 12.5 us alpha period, a 3.75 ms
 * increase timer, a 16 KB byte counter, R_AI 10 kbit/s, R_HAI 100 kbit/s
 * and a 2 kbit/s floor.
 *
 * Why bytes follow packets rather than time: at 200 Mbit/s one packet
 * lasts 84 us, longer than the scaled CNP interval, so a flow's CNPs come
 * once per marked packet, not once per interval. Scaling the byte counter
 * with time (819 bytes) would raise the rate two or three times per packet
 * between such CNPs and DCQCN would never hold a rate down; counting the
 * same packets per event as a ConnectX does keeps the balance of cuts and
 * increases per packet that the real NIC has.
 *
 * Pure: time comes in as an argument.
 */
#ifndef TITA_GEN_DCQCN_H
#define TITA_GEN_DCQCN_H

#include <stdbool.h>
#include <stdint.h>

struct dcqcn_params {
	double g; /* alpha gain: dce_tcp_g 1019 → (1024 - 1019) / 1024 */
	double max_cut; /* rpg_min_dec_fac 50 %: most one cut takes */
	uint64_t alpha_period_ns; /* dce_tcp_rtt */
	uint64_t dec_period_ns; /* rate_reduce_monitor_period */
	uint64_t timer_ns; /* rpg_time_reset: increase timer T */
	uint64_t byte_counter; /* rpg_byte_reset: increase byte counter B */
	uint32_t f; /* rpg_threshold: fast-recovery steps F */
	double ai_bps; /* rpg_ai_rate */
	double hai_bps; /* rpg_hai_rate */
	double min_bps; /* rpg_min_rate */
	double max_bps; /* rpg_max_rate 0 = line rate */
	/* clamp_tgt_rate 0 and clamp_tgt_rate_after_time_inc 1: a cut sets the
	 * target to the current rate only if the timer raised the rate since
	 * the previous cut. */
	bool clamp_target;
};

struct dcqcn_rp {
	bool active; /* a CNP has arrived; until then the flow runs at max */
	double rc_bps; /* current rate */
	double rt_bps; /* target rate */
	double alpha;
	bool cnp_pending; /* a CNP since the last decrease check */
	bool cnp_in_alpha; /* a CNP since the last alpha update */
	uint32_t t_stage, b_stage; /* increase events since the last cut */
	uint64_t bytes; /* sent since the last byte-counter event */
	uint64_t next_alpha_ns, next_dec_ns, next_timer_ns;
	/* Statistics. */
	uint64_t cnps, cuts;
	double min_rc_bps;
};

/* NVIDIA's defaults mapped onto a link of line_bps, packets of mtu payload
 * bytes and time_scale (see above). */
void dcqcn_params_default(struct dcqcn_params *p, double line_bps, uint32_t mtu, double time_scale);

void dcqcn_init(struct dcqcn_rp *r, const struct dcqcn_params *p);
/* A CNP for this flow arrived at now_ns. */
void dcqcn_on_cnp(struct dcqcn_rp *r, const struct dcqcn_params *p, uint64_t now_ns);
/* bytes left at now_ns (the byte counter). */
void dcqcn_on_sent(struct dcqcn_rp *r, const struct dcqcn_params *p, uint64_t bytes);
/* Run every timer due by now_ns. */
void dcqcn_advance(struct dcqcn_rp *r, const struct dcqcn_params *p, uint64_t now_ns);
/* The rate the flow may send at. */
double dcqcn_rate_bps(const struct dcqcn_rp *r, const struct dcqcn_params *p);
/* When the rate next changes on its own (UINT64_MAX: not before the next
 * CNP), so the caller can sleep until then. */
uint64_t dcqcn_next_ns(const struct dcqcn_rp *r);

#endif /* TITA_GEN_DCQCN_H */
