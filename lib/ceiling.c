// SPDX-License-Identifier: MIT
/*
 * The reactive ceilings (see tita/ceiling.h), one step per control round on
 * the CE fraction that the receiver attributes to the fabric: the episode
 * ceiling (the default) and DCQCN's reaction point. CNPs are the same marks
 * seen a second time, so the controller reports them but does not feed
 * them here.
 */
#include <math.h>

#include "tita/ceiling.h"

/* Close enough to the grant to stop limiting the pair. */
#define RELEASE_FRAC 0.99
/* Clean steps of additive increase before hyper increase. */
#define AI_STEPS 5

void tita_ceiling_init(struct tita_ceiling *c)
{
	*c = (struct tita_ceiling){ .alpha = 1.0, .frac = 1.0 };
}

void tita_ceiling_release(struct tita_ceiling *c)
{
	c->engaged = false;
}

double tita_ceiling_step(struct tita_ceiling *c, const struct tita_ceiling_params *p,
			 uint32_t ce_ppm)
{
	double g = p->g;
	bool congested = ce_ppm > p->ce_threshold * 1e6;

	c->alpha = (1 - g) * c->alpha + (congested ? g : 0);
	if (congested) {
		if (!c->engaged) {
			/* As a NIC's first CNP: alpha starts from one. */
			c->engaged = true;
			c->frac = 1;
			c->alpha = 1;
		}
		c->target_frac = c->frac;
		c->frac = fmax(p->min_frac, c->frac * (1 - c->alpha / 2));
		c->stage = 0;
		return c->frac;
	}
	if (!c->engaged)
		return 1;
	c->stage++;
	if (c->stage > p->fast_recovery_steps + AI_STEPS)
		c->target_frac += p->hai_frac;
	else if (c->stage > p->fast_recovery_steps)
		c->target_frac += p->ai_frac;
	c->target_frac = fmin(c->target_frac, 1);
	c->frac = (c->frac + c->target_frac) / 2;
	if (c->frac >= RELEASE_FRAC)
		c->engaged = false;
	return tita_ceiling_frac(c);
}

void tita_ceiling_episode_init(struct tita_ceiling *c)
{
	*c = (struct tita_ceiling){ .frac = 1.0, .episode_frac = 1.0 };
}

double tita_ceiling_episode_step(struct tita_ceiling *c, const struct tita_ceiling_params *p,
				 uint32_t ce_ppm)
{
	double marked = fmin((double)ce_ppm / 1e6, 1);

	if (c->hold)
		c->hold--;
	if (marked > p->ce_threshold) {
		if (!c->engaged) {
			c->engaged = true;
			c->frac = 1;
			c->episode_frac = 1;
			c->hold = 0;
		}
		if (!c->hold) {
			c->frac = fmax(fmax(p->min_frac, p->floor_frac * c->episode_frac),
				       c->frac * (1 - marked / 2));
			c->hold = p->hold_steps;
		}
		return c->frac;
	}
	if (!c->engaged)
		return 1;
	c->frac += (c->episode_frac - c->frac) * p->recovery_frac;
	if (c->frac >= RELEASE_FRAC * c->episode_frac)
		c->engaged = false;
	return tita_ceiling_frac(c);
}

const struct tita_ceiling_ops tita_ceiling_episode = {
	.name = "episode",
	.init = tita_ceiling_episode_init,
	.step = tita_ceiling_episode_step,
	.release = tita_ceiling_release,
};

const struct tita_ceiling_ops tita_ceiling_reactive = {
	.name = "reactive",
	.init = tita_ceiling_init,
	.step = tita_ceiling_step,
	.release = tita_ceiling_release,
};
