// SPDX-License-Identifier: MIT
/*
 * DCQCN reaction point; see dcqcn.h for the state machine and its source.
 */
#include <math.h>

#include "dcqcn.h"

#define PS_PER_US 1000000ull

void dcqcn_params_nvidia(struct dcqcn_params *p)
{
	*p = (struct dcqcn_params){
		.min_rate_bps = 1000000, /* rpg_min_rate 1 Mb/s */
		.g = 5.0 / 1024, /* dce_tcp_g 1019: (1024 - 1019) / 1024 */
		.initial_alpha = 1023.0 / 1024, /* initial_alpha_value 1023 */
		.alpha_period_ps = 1 * PS_PER_US, /* dce_tcp_rtt 1 us */
		.dec_period_ps = 4 * PS_PER_US, /* rate_reduce_monitor_period 4 us */
		.inc_timer_ps = 300 * PS_PER_US, /* rpg_time_reset 300 us */
		.byte_reset_bytes = 32767, /* rpg_byte_reset */
		.fast_recovery_steps = 1, /* rpg_threshold */
		.ai_bps = 5000000, /* rpg_ai_rate 5 Mb/s */
		.hai_bps = 50000000, /* rpg_hai_rate 50 Mb/s */
		.min_dec_factor = 0.5, /* rpg_min_dec_fac 50 % */
		.first_cnp_factor = 1.0, /* rate_to_set_on_first_cnp 0: no special cut */
		.clamp_tgt_rate = false,
		.clamp_after_time_inc = true,
		.min_time_between_cnps_ps = 4 * PS_PER_US,
	};
}

void dcqcn_params_paper(struct dcqcn_params *p, uint64_t line_rate_bps)
{
	double scale = (double)line_rate_bps / 40e9; /* the paper ran 40G */

	*p = (struct dcqcn_params){
		.min_rate_bps = 1000000,
		.g = 1.0 / 256,
		.initial_alpha = 1.0,
		.alpha_period_ps = 55 * PS_PER_US,
		.dec_period_ps = 50 * PS_PER_US,
		.inc_timer_ps = 55 * PS_PER_US,
		.byte_reset_bytes = 10 * 1000 * 1000,
		.fast_recovery_steps = 5,
		.ai_bps = (uint64_t)(40e6 * scale),
		.hai_bps = (uint64_t)(200e6 * scale),
		.min_dec_factor = 0.0,
		.first_cnp_factor = 1.0,
		.clamp_tgt_rate = true, /* the paper sets RT = RC on every cut */
		.clamp_after_time_inc = false,
		.min_time_between_cnps_ps = 50 * PS_PER_US,
	};
}

void dcqcn_rp_init(struct dcqcn_rp *rp, uint64_t line_rate_bps)
{
	*rp = (struct dcqcn_rp){
		.rc_bps = (double)line_rate_bps,
		.rt_bps = (double)line_rate_bps,
		.max_bps = (double)line_rate_bps,
		.alpha = 1.0,
	};
}

void dcqcn_rp_alpha_catch_up(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps)
{
	uint64_t n;

	if (!rp->active || rp->alpha_next_ps > now_ps)
		return;
	/* The first boundary carries the CNP flag of its period; every later
	 * one saw no CNP (a CNP would have caught the state up), so they
	 * collapse into one power. */
	rp->alpha = (1 - p->g) * rp->alpha + (rp->cnp_alpha ? p->g : 0);
	rp->cnp_alpha = false;
	n = (now_ps - rp->alpha_next_ps) / p->alpha_period_ps;
	if (n == 1)
		rp->alpha *= 1 - p->g;
	else if (n > 1)
		rp->alpha *= pow(1 - p->g, (double)n);
	rp->alpha_next_ps += (n + 1) * p->alpha_period_ps;
}

void dcqcn_rp_on_cnp(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps)
{
	rp->cnps++;
	if (!rp->active) {
		rp->active = true;
		rp->alpha = p->initial_alpha;
		/* As the artifact (ScheduleDecreaseRateMlx(q, 1)): the first CNP
		 * does not count for alpha, only for the decrease check one
		 * decrease period later, plus 1 ns so that the alpha update due
		 * at the same instant runs first. */
		rp->cnp_alpha = false;
		rp->cnp_dec = true;
		rp->alpha_next_ps = now_ps + p->alpha_period_ps;
		rp->dec_phase_ps = now_ps + p->dec_period_ps + 1000;
		rp->dec_next_ps = rp->dec_phase_ps;
		rp->rc_bps *= p->first_cnp_factor;
		rp->rt_bps = rp->rc_bps;
		return;
	}
	dcqcn_rp_alpha_catch_up(rp, p, now_ps);
	rp->cnp_alpha = true;
	rp->cnp_dec = true;
	if (!rp->dec_next_ps || rp->dec_next_ps <= now_ps) {
		/* The next periodic check strictly after now: a check at the same
		 * instant was scheduled long before and runs first. */
		uint64_t k = (now_ps - rp->dec_phase_ps) / p->dec_period_ps + 1;

		rp->dec_next_ps = rp->dec_phase_ps + k * p->dec_period_ps;
	}
}

void dcqcn_rp_on_dec_timer(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps)
{
	double floor_bps;

	rp->dec_next_ps = 0;
	if (!rp->cnp_dec)
		return;
	dcqcn_rp_alpha_catch_up(rp, p, now_ps);
	if (p->clamp_tgt_rate || !p->clamp_after_time_inc || rp->t_stage != 0)
		rp->rt_bps = rp->rc_bps;
	floor_bps = rp->rc_bps * p->min_dec_factor;
	rp->rc_bps *= 1 - rp->alpha / 2;
	if (rp->rc_bps < floor_bps)
		rp->rc_bps = floor_bps;
	if (rp->rc_bps < (double)p->min_rate_bps)
		rp->rc_bps = (double)p->min_rate_bps;
	rp->t_stage = 0;
	rp->b_stage = 0;
	rp->bytes_since_inc = 0;
	rp->cnp_dec = false;
	rp->inc_next_ps = now_ps + p->inc_timer_ps;
	rp->cuts++;
}

static void rate_increase(struct dcqcn_rp *rp, const struct dcqcn_params *p)
{
	uint32_t t = rp->t_stage;
	uint32_t b = p->byte_reset_bytes ? rp->b_stage : t;
	uint32_t hi = t > b ? t : b, lo = t < b ? t : b;
	uint32_t f = p->fast_recovery_steps;

	if (hi < f) {
		/* fast recovery: towards the rate before the cut */
	} else if (lo > f) {
		rp->rt_bps += (double)p->hai_bps;
	} else {
		rp->rt_bps += (double)p->ai_bps;
	}
	if (rp->rt_bps > rp->max_bps)
		rp->rt_bps = rp->max_bps;
	rp->rc_bps = rp->rc_bps / 2 + rp->rt_bps / 2;
	rp->incs++;
}

void dcqcn_rp_on_inc_timer(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t now_ps)
{
	rate_increase(rp, p);
	rp->t_stage++;
	/* The firmware timer keeps running; once at line rate with nothing to
	 * recover it can no longer change anything, so stop it (a cut restarts
	 * it). */
	if (rp->rc_bps >= rp->max_bps && rp->rt_bps >= rp->max_bps) {
		rp->rc_bps = rp->max_bps;
		rp->inc_next_ps = 0;
	} else {
		rp->inc_next_ps = now_ps + p->inc_timer_ps;
	}
}

void dcqcn_rp_on_tx(struct dcqcn_rp *rp, const struct dcqcn_params *p, uint64_t bytes)
{
	if (!p->byte_reset_bytes || !rp->active || rp->rc_bps >= rp->max_bps)
		return;
	rp->bytes_since_inc += bytes;
	while (rp->bytes_since_inc >= p->byte_reset_bytes) {
		rp->bytes_since_inc -= p->byte_reset_bytes;
		rate_increase(rp, p);
		rp->b_stage++;
	}
}
