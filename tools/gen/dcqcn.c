// SPDX-License-Identifier: MIT
/*
 * DCQCN's reaction point for tita-roce's baseline mode; dcqcn.h has the
 * rules and where every parameter comes from.
 */
#include <math.h>

#include "dcqcn.h"

/* Timers that fell this far behind (a descheduled sender) catch up in
 * closed form instead of one step at a time. */
#define CATCH_UP_STEPS 64

void dcqcn_params_default(struct dcqcn_params *p, double line_bps, uint32_t mtu, double time_scale)
{
	double s = line_bps / 100e9;

	p->g = 5.0 / 1024.0;
	p->max_cut = 0.5;
	p->alpha_period_ns = (uint64_t)(1000.0 * time_scale);
	p->dec_period_ns = (uint64_t)(4000.0 * time_scale);
	p->timer_ns = (uint64_t)(300000.0 * time_scale);
	p->byte_counter = (uint64_t)(32767.0 * mtu / 4096.0);
	if (p->byte_counter < 1)
		p->byte_counter = 1;
	p->f = 1;
	p->ai_bps = 5e6 * s;
	p->hai_bps = 50e6 * s;
	p->min_bps = 1e6 * s;
	p->max_bps = line_bps;
	p->clamp_target = true;
}

void dcqcn_init(struct dcqcn_rp *r, const struct dcqcn_params *p)
{
	*r = (struct dcqcn_rp){
		.rc_bps = p->max_bps,
		.rt_bps = p->max_bps,
		.alpha = 1.0,
		.min_rc_bps = p->max_bps,
	};
}

void dcqcn_on_cnp(struct dcqcn_rp *r, const struct dcqcn_params *p, uint64_t now_ns)
{
	r->cnps++;
	if (!r->active) {
		/* initial_alpha_value 1023 and rate_to_set_on_first_cnp 0: the
		 * first cut is a normal one, applied at the next check. */
		r->active = true;
		r->alpha = 1023.0 / 1024.0;
		r->rc_bps = r->rt_bps = p->max_bps;
		r->next_alpha_ns = now_ns + p->alpha_period_ns;
		r->next_dec_ns = now_ns;
		r->next_timer_ns = now_ns + p->timer_ns;
		r->t_stage = r->b_stage = 0;
		r->bytes = 0;
	}
	r->cnp_pending = true;
	r->cnp_in_alpha = true;
}

static void increase(struct dcqcn_rp *r, const struct dcqcn_params *p)
{
	uint32_t hi = r->t_stage > r->b_stage ? r->t_stage : r->b_stage;
	uint32_t lo = r->t_stage < r->b_stage ? r->t_stage : r->b_stage;

	/* Fast recovery while both counters are below F; hyper increase once
	 * both are past it; additive increase in between (the paper's rule). */
	if (hi >= p->f) {
		r->rt_bps += lo > p->f ? p->hai_bps : p->ai_bps;
		if (r->rt_bps > p->max_bps)
			r->rt_bps = p->max_bps;
	}
	r->rc_bps = (r->rt_bps + r->rc_bps) / 2;
}

static void cut(struct dcqcn_rp *r, const struct dcqcn_params *p, uint64_t now_ns)
{
	double c = r->alpha / 2;

	if (c > p->max_cut)
		c = p->max_cut;
	if (!p->clamp_target || r->t_stage != 0)
		r->rt_bps = r->rc_bps;
	r->rc_bps *= 1.0 - c;
	if (r->rc_bps < p->min_bps)
		r->rc_bps = p->min_bps;
	if (r->rc_bps < r->min_rc_bps)
		r->min_rc_bps = r->rc_bps;
	r->t_stage = r->b_stage = 0;
	r->bytes = 0;
	r->next_timer_ns = now_ns + p->timer_ns;
	r->cuts++;
}

void dcqcn_on_sent(struct dcqcn_rp *r, const struct dcqcn_params *p, uint64_t bytes)
{
	if (!r->active)
		return;
	r->bytes += bytes;
	while (r->bytes >= p->byte_counter) {
		r->bytes -= p->byte_counter;
		r->b_stage++;
		increase(r, p);
	}
}

void dcqcn_advance(struct dcqcn_rp *r, const struct dcqcn_params *p, uint64_t now_ns)
{
	uint64_t n;

	if (!r->active)
		return;
	if (r->next_alpha_ns <= now_ns) {
		n = (now_ns - r->next_alpha_ns) / p->alpha_period_ns + 1;
		r->alpha = (1 - p->g) * r->alpha + (r->cnp_in_alpha ? p->g : 0);
		if (n > 1)
			r->alpha *= pow(1 - p->g, (double)(n - 1));
		r->cnp_in_alpha = false;
		r->next_alpha_ns += n * p->alpha_period_ns;
	}
	if (r->next_dec_ns <= now_ns) {
		if (r->cnp_pending)
			cut(r, p, now_ns);
		r->cnp_pending = false;
		n = (now_ns - r->next_dec_ns) / p->dec_period_ns + 1;
		r->next_dec_ns += n * p->dec_period_ns;
	}
	for (int i = 0; r->next_timer_ns <= now_ns; i++) {
		if (i == CATCH_UP_STEPS) {
			n = (now_ns - r->next_timer_ns) / p->timer_ns + 1;
			r->next_timer_ns += n * p->timer_ns;
			break;
		}
		r->t_stage++;
		increase(r, p);
		r->next_timer_ns += p->timer_ns;
	}
}

double dcqcn_rate_bps(const struct dcqcn_rp *r, const struct dcqcn_params *p)
{
	return r->active ? r->rc_bps : p->max_bps;
}

uint64_t dcqcn_next_ns(const struct dcqcn_rp *r)
{
	uint64_t t;

	/* Alpha decays in closed form whenever it is next looked at; only a
	 * pending cut and the increase timer change the rate on their own. */
	if (!r->active)
		return UINT64_MAX;
	t = r->next_timer_ns;
	if (r->cnp_pending && r->next_dec_ns < t)
		t = r->next_dec_ns;
	return t;
}
