// SPDX-License-Identifier: MIT
/*
 * The controller's parameters: their defaults (chosen in the simulator; see
 * README) and the ranges tita_ctl_new() and tita_ctl_set_params() accept.
 */
#include <errno.h>
#include <math.h>

#include "tita/ctl.h"

void tita_ctl_params_default(struct tita_ctl_params *p)
{
	*p = (struct tita_ctl_params){
		.control_interval_ns = 100 * TITA_NSEC_PER_USEC,
		.grant_ttl_ns = 10 * TITA_NSEC_PER_MSEC,
		.refresh_ns = 3 * TITA_NSEC_PER_MSEC,
		.eta = 0.95,
		.eta_min = 0.70,
		.eta_ce_threshold = 0.01,
		.eta_decrease = 0.02,
		.eta_increase = 0.01,
		.start_rate_frac = 0.02,
		.churn_frac = 0.02,
		.demand_change_frac = 0.05,
		.alloc_batch_frac = 0.125,
		.probe_threshold = 0.90,
		.probe_gain = 1.5,
		.backlog_horizon_ns = 200 * TITA_NSEC_PER_USEC,
		.demand_decay = 0.25,
		.demand_hold_rounds = 1,
		.rc_g = 1.0 / 16,
		.rc_ai_frac = 0.02,
		.rc_hai_frac = 0.10,
		.rc_fast_recovery_steps = 5,
		.rc_min_frac = 0.01,
		.rc_ce_threshold = 0.01,
		.max_ports = 64,
		.max_pairs = 65536,
		.max_jobs = 4096,
	};
}

static bool in_range(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

int tita_ctl_params_check(const struct tita_ctl_params *p)
{
	if (!p)
		return -EINVAL;
	if (p->control_interval_ns < TITA_NSEC_PER_USEC ||
	    p->control_interval_ns > 10 * TITA_NSEC_PER_SEC)
		return -EINVAL;
	if (p->grant_ttl_ns < 2 * p->control_interval_ns ||
	    p->grant_ttl_ns > 600 * TITA_NSEC_PER_SEC)
		return -EINVAL;
	if (p->refresh_ns < p->control_interval_ns || p->refresh_ns >= p->grant_ttl_ns)
		return -EINVAL;
	if (!in_range(p->eta, 0.05, 1.0) || !in_range(p->eta_min, 0.05, p->eta))
		return -EINVAL;
	if (!in_range(p->eta_ce_threshold, 0, 1) || !in_range(p->eta_decrease, 0, 0.5) ||
	    !in_range(p->eta_increase, 0, 0.5))
		return -EINVAL;
	if (!in_range(p->start_rate_frac, 0, 1) || !in_range(p->churn_frac, 0, 0.5) ||
	    !in_range(p->demand_change_frac, 0, 1) || !in_range(p->alloc_batch_frac, 0, 1))
		return -EINVAL;
	if (!in_range(p->probe_threshold, 0, 1) || !in_range(p->probe_gain, 1, 16))
		return -EINVAL;
	if (p->backlog_horizon_ns < TITA_NSEC_PER_USEC ||
	    p->backlog_horizon_ns > 60 * TITA_NSEC_PER_SEC)
		return -EINVAL;
	if (!in_range(p->demand_decay, 0, 1) || p->demand_hold_rounds > 1000)
		return -EINVAL;
	if (!in_range(p->rc_g, 0, 1) || !in_range(p->rc_ai_frac, 0, 1) ||
	    !in_range(p->rc_hai_frac, 0, 1) || !in_range(p->rc_min_frac, 0, 1) ||
	    !in_range(p->rc_ce_threshold, 0, 1) || p->rc_fast_recovery_steps > 1000)
		return -EINVAL;
	if (p->max_ports < 1 || p->max_ports > 4096 || p->max_pairs < 1 ||
	    p->max_pairs > (1u << 24) || p->max_jobs < 1 || p->max_jobs > (1u << 20))
		return -EINVAL;
	return 0;
}
