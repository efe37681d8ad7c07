/* SPDX-License-Identifier: MIT */
/*
 * The DCQCN reaction point (sender NIC, per QP), pure: no events, no
 * simulator. The caller tells it about CNPs, transmitted bytes and its two
 * timers, and reads back the rate to pace at and when each timer is due.
 *
 * It follows the Mellanox-version state machine of the HPCC ns-3 artifact
 * (rdma-hw.cc, CC_MODE 1), which is how ConnectX firmware behaves:
 *  - the first CNP sets alpha to its initial value, starts the alpha period
 *    and schedules a decrease check one decrease period (plus 1 ns) later;
 *  - every alpha period: alpha = (1 - g) alpha + g if a CNP arrived in the
 *    period, else (1 - g) alpha;
 *  - every decrease period, if a CNP arrived since the last check:
 *    RT = RC (when clamping applies), RC = max(min, RC (1 - alpha / 2)),
 *    reset the increase stages and restart the increase timer;
 *  - increase events (timer, and the byte counter when enabled): fast
 *    recovery RC = (RC + RT) / 2 for the first F events, then additive
 *    (RT += R_AI), then hyper (RT += R_HAI), the stage being chosen from the
 *    timer and byte-counter stages as in the paper (max < F: fast recovery;
 *    min > F: hyper; otherwise additive).
 * The periodic alpha and decrease timers are evaluated lazily (a boundary is
 * applied when the state is next touched, exactly as if it had fired), which
 * keeps the event count per QP at one per real decision.
 */
#ifndef SIM_DCQCN_H
#define SIM_DCQCN_H

#include <stdbool.h>
#include <stdint.h>

struct dcqcn_params {
	uint64_t min_rate_bps; /* rpg_min_rate */
	double g; /* alpha gain (dce_tcp_g) */
	double initial_alpha; /* initial_alpha_value / 1024 */
	uint64_t alpha_period_ps; /* dce_tcp_rtt */
	uint64_t dec_period_ps; /* rate_reduce_monitor_period */
	uint64_t inc_timer_ps; /* rpg_time_reset */
	uint64_t byte_reset_bytes; /* rpg_byte_reset; 0 disables the byte counter */
	uint32_t fast_recovery_steps; /* rpg_threshold (F) */
	uint64_t ai_bps; /* rpg_ai_rate */
	uint64_t hai_bps; /* rpg_hai_rate */
	double min_dec_factor; /* rpg_min_dec_fac / 100: a cut keeps at least this */
	double first_cnp_factor; /* rate on first CNP, as a factor of RC (1: none) */
	bool clamp_tgt_rate; /* every cut sets RT = RC */
	bool clamp_after_time_inc; /* else only if the timer raised RC since the cut */
	uint64_t min_time_between_cnps_ps; /* notification point (receiver NIC) */
};

/* NVIDIA ConnectX-4+ firmware defaults (see cc-anchors.md §1.2). */
void dcqcn_params_nvidia(struct dcqcn_params *p);
/* The SIGCOMM'15 paper's parameters (40G), increase steps scaled to the line
 * rate as the HPCC artifact does. */
void dcqcn_params_paper(struct dcqcn_params *p, uint64_t line_rate_bps);

struct dcqcn_rp {
	double rc_bps; /* current rate */
	double rt_bps; /* target rate */
	double max_bps; /* line rate */
	double alpha;
	bool active; /* a CNP has been seen: the timers run */
	bool cnp_alpha; /* a CNP arrived in the current alpha period */
	bool cnp_dec; /* a CNP arrived since the last decrease check */
	uint64_t alpha_next_ps; /* next alpha boundary not yet applied */
	uint64_t dec_phase_ps; /* decrease checks fall on dec_phase + k period */
	uint64_t dec_next_ps; /* a decrease check is due then; 0 if none */
	uint64_t inc_next_ps; /* the increase timer fires then; 0 if stopped */
	uint32_t t_stage, b_stage;
	uint64_t bytes_since_inc;
	/* counters */
	uint64_t cnps, cuts, incs;
};

void dcqcn_rp_init(struct dcqcn_rp *rp, uint64_t line_rate_bps);
void dcqcn_rp_on_cnp(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps);
/* The decrease check due at rp->dec_next_ps. */
void dcqcn_rp_on_dec_timer(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps);
/* The increase timer due at rp->inc_next_ps. */
void dcqcn_rp_on_inc_timer(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps);
/* bytes left the QP (drives the byte counter). */
void dcqcn_rp_on_tx(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t bytes);
/* Apply alpha boundaries up to now (exposed for tests). */
void dcqcn_rp_alpha_catch_up(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps);

#endif /* SIM_DCQCN_H */
