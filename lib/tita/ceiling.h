/* SPDX-License-Identifier: MIT */
/*
 * The reactive ceiling: a sender's reaction, per TX pair, to congestion
 * inside the fabric that no receiver's grant accounts for. Once a round, the
 * controller hands it the fraction of the pair's packets that the receiver
 * saw CE-marked while its own downlink was not busy, and the ceiling answers
 * with the fraction of the pair's grant that the pair may use. Keeping the
 * ceiling as a fraction of the grant means that a grant that moves carries
 * the ceiling with it, and the ceiling never lifts a pair above its grant.
 *
 * The algorithm sits behind an ops table (the shape of the kernel's
 * tcp_congestion_ops and picoquic's congestion-control modules), so another
 * one can take its place: it keeps its state in struct tita_ceiling and
 * maintains `engaged` and `frac`, which are all the controller reads. The
 * default, tita_ceiling_reactive, is DCQCN's reaction point run one step per
 * control round.
 */
#ifndef TITA_CEILING_H
#define TITA_CEILING_H

#include <stdbool.h>
#include <stdint.h>

struct tita_ceiling_params {
	/* tita_ceiling_episode */
	double floor_frac; /* never below this fraction of the episode's start */
	uint32_t hold_steps; /* steps after a cut before the next one */
	double recovery_frac; /* of the gap back to the episode's start, per clean step */
	/* tita_ceiling_reactive (DCQCN) */
	double g; /* alpha's gain per step */
	double ai_frac; /* additive increase of the target per clean step */
	double hai_frac; /* hyper increase of the target per clean step */
	uint32_t fast_recovery_steps; /* clean steps before additive increase */
	double min_frac; /* the ceiling never goes below this fraction of the grant */
	double ce_threshold; /* a CE fraction above this counts as congestion */
};

struct tita_ceiling {
	/* What the controller reads: whether the ceiling limits the pair, and
	 * to what fraction of its grant. */
	bool engaged;
	double frac;
	/* The algorithm's own state (tita_ceiling_reactive: DCQCN's alpha, its
	 * target rate and the increase stage, all as fractions of the grant). */
	double alpha;
	double target_frac;
	uint32_t stage;
	/* tita_ceiling_episode: where the episode began, and the steps left
	 * before another cut. */
	double episode_frac;
	uint32_t hold;
};

struct tita_ceiling_ops {
	const char *name;
	/* A new pair: nothing limits it yet. */
	void (*init)(struct tita_ceiling *c);
	/* One control round of a pair under a live grant. ce_ppm: the pair's
	 * packets, per million, that the receiver attributes to congestion in
	 * the fabric (0..1000000). Returns the fraction of the grant the pair
	 * may use: 1 when not engaged. */
	double (*step)(struct tita_ceiling *c, const struct tita_ceiling_params *p,
		       uint32_t ce_ppm);
	/* The pair has no live grant (it waits for its first one, or failed
	 * open): the ceiling lets go. Marks seen before a grant come from the
	 * burst before pacing began, which the grant fixes. */
	void (*release)(struct tita_ceiling *c);
};

/* DCQCN's reaction point per round: a congested round cuts the ceiling by
 * alpha / 2 (alpha starting from one, as at a NIC's first CNP, then an
 * EWMA of congested rounds with gain g), never below min_frac; clean rounds
 * move it half-way to a target that stays put for fast_recovery_steps,
 * then grows by ai_frac, and after five more by hai_frac; at 0.99 of the
 * grant the ceiling disengages. */
extern const struct tita_ceiling_ops tita_ceiling_reactive;

/*
 * The default: one cut per episode step, in proportion to the marks, and a
 * quick way back. A congested step (after hold_steps since the last cut, the
 * time the receiver's CE signal takes to follow a change) cuts the ceiling
 * by half the marked fraction, never below floor_frac of where the episode
 * began nor below min_frac; a clean step regains recovery_frac of the gap
 * back to the episode's start; near the grant the ceiling lets go. Unlike
 * DCQCN's reaction point run once a round, a collision that lasts a few
 * rounds does not walk the pair down to the floor and leave it to crawl
 * back: the signal is late by several rounds, and each round of it would
 * count as a new cut.
 */
extern const struct tita_ceiling_ops tita_ceiling_episode;

void tita_ceiling_episode_init(struct tita_ceiling *c);
double tita_ceiling_episode_step(struct tita_ceiling *c, const struct tita_ceiling_params *p,
				 uint32_t ce_ppm);

/* The reactive algorithm's operations, callable directly. */
void tita_ceiling_init(struct tita_ceiling *c);
double tita_ceiling_step(struct tita_ceiling *c, const struct tita_ceiling_params *p,
			 uint32_t ce_ppm);
void tita_ceiling_release(struct tita_ceiling *c);

/* Whichever the algorithm: whether the ceiling limits its pair, and the
 * fraction of the grant it allows (1 when it does not). */
static inline bool tita_ceiling_engaged(const struct tita_ceiling *c)
{
	return c->engaged;
}

static inline double tita_ceiling_frac(const struct tita_ceiling *c)
{
	return c->engaged ? c->frac : 1;
}

#endif /* TITA_CEILING_H */
