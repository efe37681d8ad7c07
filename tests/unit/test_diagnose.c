// SPDX-License-Identifier: MIT
/*
 * The diagnoser (lib/diagnose.c) on synthetic snapshots: a 32-host,
 * 4-leaf, 4-spine cluster whose gauges carry deterministic noise around
 * busy but healthy figures (CE, blocked and app-limited shares well above
 * zero everywhere), with one fault's signature laid over it. Healthy must
 * stay healthy; each fault must rank first with the right kind, culprit
 * and state, and its evidence must name the gauges that gave it away.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tita/diagnose.h"

#define HOSTS 32
#define PER_LEAF 8
#define SPINES 4

enum fault {
	NONE,
	SLOW_HOST,
	SLOW_NIC,
	SLOW_HOST_LINK,
	PFC,
	LOSSY_SPINE,
	LOSSY_HOST,
	DEAD,
	DEAD_QUIET,
	/* Healthy: most pairs through leaf 1's uplinks get all they were
	 * granted, one pair of each of its hosts falls far short (background
	 * traffic's incast somewhere): no slow uplink. */
	SCATTERED_SHORT,
	/* A slow host link in a ring without other traffic: lock-step, no
	 * CE, nobody blocked; its receivers fall short on its pairs alone
	 * and it waits somewhat more than the others. */
	SLOW_LINK_RING,
	/* The same past its onset: every rank sends at the slowest member's
	 * rate, nothing queues, every receiver falls short alike; only the
	 * culprit waits (application-limited) more than the others. */
	LOCKSTEP_SLOW_LINK,
	/* A collective in lock-step held back everywhere alike: no one
	 * stands out, no suspect. */
	LOCKSTEP_HEALTHY,
	/* A slow leaf-spine link (culprit: the leaf): its spine backs up
	 * and pauses its other leaves' links to it, whose pairs fall short
	 * too, though less. */
	SLOW_UPLINK,
	/* A mildly slow leaf-spine link: its queue marks CE on every host
	 * that receives through it, and their pairs through it fall a
	 * little short (too little for the shortfall vote alone). */
	SLOW_UPLINK_CE,
	/* A slow NIC whose CE has faded (tita matched the rates that reach
	 * it) and that sends no pauses: it stays blocked, alone, toward
	 * peers through every spine. */
	SLOW_NIC_QUIET,
	/* A host blocked as much, but only on its pair through one spine
	 * (that uplink is slow, or the peer): not its own link. */
	BLOCKED_ONE_PATH,
	/* A ring alone whose pair from leaf 1 to leaf 2 loses packets on
	 * spine 1, the only pair through either leaf's link to it. */
	RING_LOSS_ONE_PAIR,
	/* The same, with a clean pair from leaf 2 to leaf 3 on spine 1 too:
	 * leaf 2's link to spine 1 is cleared. */
	RING_LOSS_CLEARED,
	/* The same as RING_LOSS_ONE_PAIR, and a pair from leaf 1 to leaf 3
	 * whose spine is not known loses too: evidence for leaf 1's link. */
	RING_LOSS_UNPLACED,
	/* A PFC storm whose pauses back up the fabric: the pairs through
	 * leaf 1's link to the spine fall short as behind a slow uplink. */
	PFC_SPREAD,
	/* A slow NIC whose CE has faded to a few per thousand (below the CE
	 * margin) but is still the only host marked at all, as in the
	 * simulator, where CE is 0 elsewhere; it sends somewhat blocked,
	 * above the others' top but not two margins above. */
	FAINT_CE,
	/* Healthy: one host marked as faintly, alone, and nothing else
	 * about it standing out (a healthy all-to-all did so). */
	FAINT_CE_ALONE,
	/* A slow leaf-spine link under an all-to-all: every host held back
	 * alike, no pair line knows its spine; only the per-spine gauges
	 * say it: every leaf's pairs through the spine fall short more
	 * than through the others (receivers most), its own leaf's most. */
	SLOW_SPINE_A2A,
	/* Healthy for this rule: a ring whose few pairs between leaves
	 * fill a few (leaf, role, spine) lines, one of them far short. */
	SPINE_SPARSE,
	/* Healthy: a ring with background traffic whose receivers on two
	 * leaves fall short through one spine (a hot spot), the others'
	 * a little less through it than through their other spines: not
	 * every leaf, as behind a slow link. */
	SPINE_HOTSPOT,
};

struct gen {
	enum fault fault;
	int culprit; /* host, or leaf for LOSSY_SPINE */
	int spine;
	uint64_t rng;
	uint64_t rng_spine; /* the per-spine gauges' own noise */
	FILE *f;
	char *text;
	size_t len;
};

/* The NICs count no pause frames: titad exports no pause gauge. */
static bool no_pause;

static double noise(struct gen *g, double amp)
{
	g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
	return amp * ((double)(g->rng >> 11) / (double)(1ull << 53) - 0.5) * 2;
}

static void gauge(struct gen *g, const char *name, int h, double v)
{
	fprintf(g->f, "%s{instance=\"h%d\",job=\"tita\",port=\"h%d\"} %.6g\n", name, h, h, v);
}

static void pair(struct gen *g, const char *name, int h, int peer, const char *role, int spine,
		 double v)
{
	fprintf(g->f,
		"%s{instance=\"h%d\",job=\"tita\",port=\"h%d\",peer=\"h%d\",role=\"%s\",spine=\"%d\"} "
		"%.6g\n",
		name, h, h, peer, role, spine, v);
}

static int leaf_of(int h)
{
	return h / PER_LEAF;
}

/* The per-spine gauges: every host's, through every spine, both roles;
 * noise of their own (the other gauges' stays as it was). */
static void spine_gauges(struct gen *g, int h)
{
	for (int sp = 0; sp < SPINES; sp++)
		for (int rx = 0; rx < 2; rx++) {
			double v, n;
			bool own = leaf_of(h) == g->culprit;

			g->rng_spine =
				g->rng_spine * 6364136223846793005ull + 1442695040888963407ull;
			n = 0.05 * ((double)(g->rng_spine >> 11) / (double)(1ull << 53) - 0.5) * 2;
			v = 0.2 + n;
			if (g->fault == SLOW_SPINE_A2A && sp == g->spine)
				v += rx ? (own ? 0.5 : 0.35) : (own ? 0.1 : 0.05);
			/* Behind a slow uplink every leaf's receivers fall
			 * short through its spine, here leaf 3's most. */
			if (g->fault == SLOW_UPLINK && sp == g->spine && rx)
				v += leaf_of(h) == 3 ? 0.7 : 0.5;
			if (g->fault == SPINE_HOTSPOT && sp == 1 && rx)
				v += leaf_of(h) >= 2 ? 0.3 : -0.05;
			if (g->fault == SPINE_SPARSE) {
				/* Leaves 0 and 1 only, one spine each way. */
				if (leaf_of(h) > 1 || sp != (rx ? 1 : 2))
					continue;
				v += sp == 1 ? 0.6 : 0;
			}
			fprintf(g->f,
				"tita_health_spine_shortfall_ratio{instance=\"h%d\",job=\"tita\","
				"port=\"h%d\",role=\"%s\",spine=\"%d\"} %.6g\n",
				h, h, rx ? "rx" : "tx", sp, v);
		}
}

static bool dead(const struct gen *g, int h)
{
	return (g->fault == DEAD || g->fault == DEAD_QUIET) && h == g->culprit;
}

/* The host's own link is slow (its NIC, or its cable and switch port). */
static bool slow_link(const struct gen *g, int h)
{
	return (g->fault == SLOW_NIC || g->fault == SLOW_HOST_LINK || g->fault == SLOW_NIC_QUIET) &&
	       h == g->culprit;
}

/* Does the pair src->dst over spine cross the faulty link? */
static bool lossy(const struct gen *g, int src, int dst, int spine)
{
	if (g->fault == LOSSY_HOST)
		return src == g->culprit || dst == g->culprit;
	if (g->fault == LOSSY_SPINE)
		return spine == g->spine && leaf_of(src) != leaf_of(dst) &&
		       (leaf_of(src) == g->culprit || leaf_of(dst) == g->culprit);
	return false;
}

static bool ring_loss_fault(const struct gen *g)
{
	return g->fault == RING_LOSS_ONE_PAIR || g->fault == RING_LOSS_CLEARED ||
	       g->fault == RING_LOSS_UNPLACED;
}

static bool lockstep(const struct gen *g)
{
	return g->fault == LOCKSTEP_SLOW_LINK || g->fault == LOCKSTEP_HEALTHY || ring_loss_fault(g);
}

/* The spine of the ring's pair h -> h + 1 (a pair within a leaf: -1).
 * The ring's four pairs across leaves each take their own spine, except
 * that RING_LOSS_CLEARED sends leaf 2's to leaf 3 on spine 1 as well. */
static int ring_spine(const struct gen *g, int h)
{
	int to = (h + 1) % HOSTS;

	if (leaf_of(h) == leaf_of(to))
		return -1;
	if (g->fault == RING_LOSS_CLEARED && leaf_of(h) == 2)
		return 1;
	return leaf_of(h);
}

static double ring_loss(const struct gen *g, int h)
{
	return ring_loss_fault(g) && leaf_of(h) == 1 && ring_spine(g, h) == 1 ? 0.05 : 0;
}

static void ring_pair(struct gen *g, const char *name, int h, int peer, const char *role, int spine,
		      double v)
{
	if (spine < 0)
		fprintf(g->f,
			"%s{instance=\"h%d\",job=\"tita\",port=\"h%d\",peer=\"h%d\",role=\"%s\"} %.6g\n",
			name, h, h, peer, role, v);
	else
		pair(g, name, h, peer, role, spine, v);
}

/* A pair's shortfall beyond the base, for the faults on its path. */
static bool through_uplink(const struct gen *g, int src, int dst, int spine)
{
	return leaf_of(src) != leaf_of(dst) && spine == g->spine &&
	       (leaf_of(src) == g->culprit || leaf_of(dst) == g->culprit);
}

static double path_short(const struct gen *g, int src, int dst, int spine)
{
	if (g->fault == PFC_SPREAD) {
		/* Leaf 1's link to g->spine, as SLOW_UPLINK's. */
		struct gen leaf1 = { .fault = SLOW_UPLINK, .culprit = 1, .spine = g->spine };

		return path_short(&leaf1, src, dst, spine);
	}
	if (g->fault == SLOW_UPLINK_CE)
		return through_uplink(g, src, dst, spine) ? 0.15 : 0;
	if (g->fault != SLOW_UPLINK || leaf_of(src) == leaf_of(dst) || spine != g->spine)
		return 0;
	return through_uplink(g, src, dst, spine) ? 0.6 : 0.3;
}

/* Does host h receive a pair through the slow uplink (the generator's
 * rx pairs below)? */
static bool marked_by_uplink(const struct gen *g, int h)
{
	if (g->fault != SLOW_UPLINK_CE)
		return false;
	for (int k = 1; k <= 4; k++) {
		int rx_peer = (h + HOSTS - k * 7) % HOSTS;

		if (through_uplink(g, rx_peer, h, (rx_peer + k) % SPINES))
			return true;
	}
	return false;
}

static void lockstep_snapshot(struct gen *g)
{
	for (int h = 0; h < HOSTS; h++) {
		fprintf(g->f, "up{instance=\"h%d\",job=\"tita\"} 1\n", h);
		fprintf(g->f,
			"tita_fabric_place{instance=\"h%d\",job=\"tita\",port=\"h%d\",leaf=\"l%d\","
			"spines=\"4\"} 1\n",
			h, h, leaf_of(h));
		gauge(g, "tita_health_tx_bytes_per_second", h, 5e9 + noise(g, 1e8));
		gauge(g, "tita_health_rx_bytes_per_second", h, 5e9 + noise(g, 1e8));
		gauge(g, "tita_health_tx_active_ratio", h, 1);
		gauge(g, "tita_health_tx_blocked_ratio", h, 0);
		gauge(g, "tita_health_tx_app_limited_ratio", h,
		      (g->fault == LOCKSTEP_SLOW_LINK && h == g->culprit ? 0.45 : 0.2) +
			      noise(g, 0.08));
		gauge(g, "tita_health_rx_shortfall_ratio", h, 0.6 + noise(g, 0.03));
		gauge(g, "tita_health_ce_ratio", h, 0);
		gauge(g, "tita_health_loss_ratio", h, 0);
		gauge(g, "tita_health_pause_tx_per_second", h, 0);
		gauge(g, "tita_health_pause_rx_per_second", h, 0);
		gauge(g, "tita_health_peers_silent", h, 0);
		/* A ring: one pair each way. */
		if (ring_loss_fault(g)) {
			int up = (h + HOSTS - 1) % HOSTS;

			if (g->fault == RING_LOSS_UNPLACED && h == 9) {
				ring_pair(g, "tita_health_pair_loss_ratio", 9, 27, "tx", -1, 0.05);
				ring_pair(g, "tita_health_pair_loss_ratio", 27, 9, "rx", -1, 0.05);
			}

			ring_pair(g, "tita_health_pair_loss_ratio", h, (h + 1) % HOSTS, "tx",
				  ring_spine(g, h), ring_loss(g, h));
			ring_pair(g, "tita_health_pair_loss_ratio", h, up, "rx", ring_spine(g, up),
				  ring_loss(g, up));
			continue;
		}
		pair(g, "tita_health_pair_shortfall_ratio", h, (h + 1) % HOSTS, "tx", h % SPINES,
		     0);
		pair(g, "tita_health_pair_shortfall_ratio", h, (h + HOSTS - 1) % HOSTS, "rx",
		     (h + HOSTS - 1) % SPINES, 0.6 + noise(g, 0.03));
	}
}

static void snapshot(struct gen *g)
{
	g->f = open_memstream(&g->text, &g->len);
	if (lockstep(g)) {
		lockstep_snapshot(g);
		fclose(g->f);
		return;
	}
	for (int h = 0; h < HOSTS; h++) {
		fprintf(g->f, "up{instance=\"h%d\",job=\"tita\"} %d\n", h, !dead(g, h));
		if (dead(g, h))
			continue;
		fprintf(g->f,
			"tita_fabric_place{instance=\"h%d\",job=\"tita\",port=\"h%d\",leaf=\"l%d\","
			"spines=\"4\"} 1\n",
			h, h, leaf_of(h));
		/* A ring alone runs in lock-step: one rate, nothing queues. */
		bool ring = g->fault == SLOW_LINK_RING;

		gauge(g, "tita_health_tx_bytes_per_second", h,
		      (g->fault == SLOW_HOST && h == g->culprit ? 4e9 : 1e10) +
			      noise(g, ring ? 1e8 : 1e9));
		gauge(g, "tita_health_rx_bytes_per_second", h,
		      ((g->fault == PFC || g->fault == PFC_SPREAD) && h == g->culprit ? 1e8 :
		       slow_link(g, h)						      ? 3e9 :
											1e10) +
			      noise(g, 1e9));
		gauge(g, "tita_health_tx_active_ratio", h, 0.9 + noise(g, 0.05));
		bool faint = g->fault == FAINT_CE || g->fault == FAINT_CE_ALONE;

		gauge(g, "tita_health_tx_blocked_ratio", h,
		      ring ? 0 :
		      g->fault == FAINT_CE && h == g->culprit ?
			     0.25 + noise(g, 0.01) :
			     (slow_link(g, h) || (g->fault == BLOCKED_ONE_PATH && h == g->culprit) ?
				      0.7 :
				      0.1) +
				      noise(g, 0.05));
		gauge(g, "tita_health_tx_app_limited_ratio", h,
		      (g->fault == SLOW_HOST && h == g->culprit	     ? 0.8 :
		       g->fault == SLOW_LINK_RING && h == g->culprit ? 0.4 :
								       0.1) +
			      noise(g, 0.05));
		gauge(g, "tita_health_rx_shortfall_ratio", h,
		      (slow_link(g, h) ? 0.6 : 0.05) + noise(g, 0.03));
		gauge(g, "tita_health_ce_ratio", h,
		      faint ? (h == g->culprit ? 0.004 + noise(g, 0.002) : 0) :
		      ring  ? 0 :
			      (g->fault == SLOW_HOST_LINK && h == g->culprit ? 0.3 :
			       marked_by_uplink(g, h)			     ? 0.25 :
									       0.05) +
				      noise(g, 0.03));
		gauge(g, "tita_health_loss_ratio", h,
		      g->fault == LOSSY_HOST && h == g->culprit ? 0.05 : 0);
		if (!no_pause) {
			gauge(g, "tita_health_pause_tx_per_second", h,
			      g->fault == PFC && h == g->culprit ?
				      200000 :
				      /* 20 times the floor: a storm short of extreme. */
				      g->fault == PFC_SPREAD && h == g->culprit ? 20000 :
			      g->fault == SLOW_NIC && h == g->culprit		? 800 :
										  20 + noise(g, 10));
			gauge(g, "tita_health_pause_rx_per_second", h, 20 + noise(g, 10));
		}
		gauge(g, "tita_health_peers_silent", h, g->fault == DEAD && h != g->culprit);
		fprintf(g->f,
			"tita_health_job_tx_bytes_per_second{instance=\"h%d\",job=\"tita\",port=\"h%d\","
			"tita_job=\"train\"} %.6g\n",
			h, h,
			(g->fault == SLOW_HOST && h == g->culprit ? 4e9 : 1e10) + noise(g, 1e9));
		/* Each host's 4 worst pairs: all-to-all, so peers spread over all. */
		for (int k = 1; k <= 4; k++) {
			int tx_peer = (h + k * 7) % HOSTS, rx_peer = (h + HOSTS - k * 7) % HOSTS;
			int sp_tx = (h + k) % SPINES, sp_rx = (rx_peer + k) % SPINES;
			double base = 0.05 + noise(g, 0.03);
			double tx_base = base, rx_base = base;

			if (g->fault == SCATTERED_SHORT) {
				if (leaf_of(h) == 1 || leaf_of(tx_peer) == 1)
					tx_base = leaf_of(h) == 1 && leaf_of(tx_peer) != 1 &&
								  k == 1 ?
							  0.8 :
							  0;
				if (leaf_of(h) == 1 || leaf_of(rx_peer) == 1)
					rx_base = 0;
			}

			/* The culprit's own pairs blocked: through every spine
			 * for its own slow link, through one for another's. */
			bool own = (g->fault == SLOW_NIC || g->fault == SLOW_NIC_QUIET) &&
				   h == g->culprit;
			bool one_path = g->fault == BLOCKED_ONE_PATH && h == g->culprit &&
					sp_tx == g->spine;
			double tx_blocked = own || one_path ? 0.6 : 0;

			if (!dead(g, tx_peer)) {
				pair(g, "tita_health_pair_shortfall_ratio", h, tx_peer, "tx", sp_tx,
				     tx_base + tx_blocked + path_short(g, h, tx_peer, sp_tx));
				pair(g, "tita_health_pair_loss_ratio", h, tx_peer, "tx", sp_tx,
				     lossy(g, h, tx_peer, sp_tx) ? 0.05 : 0);
			}
			if (!dead(g, rx_peer)) {
				pair(g, "tita_health_pair_shortfall_ratio", h, rx_peer, "rx", sp_rx,
				     rx_base +
					     ((g->fault == SLOW_NIC || g->fault == SLOW_NIC_QUIET ||
					       g->fault == SLOW_LINK_RING) &&
							      rx_peer == g->culprit ?
						      0.6 :
						      0) +
					     path_short(g, rx_peer, h, sp_rx));
				pair(g, "tita_health_pair_loss_ratio", h, rx_peer, "rx", sp_rx,
				     lossy(g, rx_peer, h, sp_rx) ? 0.05 : 0);
			}
		}
		spine_gauges(g, h);
		if (g->fault == DEAD && h != g->culprit && (h % 3) == 0)
			fprintf(g->f,
				"tita_health_peer_silent_seconds{instance=\"h%d\",job=\"tita\",port=\"h%d\","
				"peer=\"h%d\"} 0.05\n",
				h, h, g->culprit);
	}
	fclose(g->f);
}

static void run(enum fault fault, int culprit, int spine, uint64_t seed, struct tita_diag_result *r)
{
	struct tita_prom_limits lim;
	struct tita_prom_doc docs[3];
	const struct tita_prom_doc *v[3];
	struct tita_diag_params p;
	struct gen g = {
		.fault = fault, .culprit = culprit, .spine = spine, .rng = seed, .rng_spine = seed
	};

	tita_prom_limits_default(&lim);
	tita_diag_params_default(&p);
	for (int i = 0; i < 3; i++) {
		snapshot(&g);
		assert_int_equal(tita_prom_parse(g.text, g.len, &lim, &docs[i]), 0);
		free(g.text);
		v[i] = &docs[i];
	}
	assert_int_equal(tita_diag_run(v, 3, &p, r), 0);
	for (int i = 0; i < 3; i++)
		tita_prom_doc_free(&docs[i]);
}

static bool evidence_has(const struct tita_diag_suspect *s, const char *what)
{
	for (uint32_t i = 0; i < s->n_evidence; i++)
		if (strstr(s->evidence[i], what))
			return true;
	return false;
}

static void expect_top(const struct tita_diag_result *r, enum tita_diag_kind kind,
		       const char *culprit, enum tita_diag_state state, const char *evidence)
{
	const struct tita_diag_suspect *s = &r->suspects[0];

	if (!r->n_suspects)
		fail_msg("no suspect; expected %s %s (%s)", tita_diag_kind_name(kind), culprit,
			 r->note);
	if (s->kind != kind || strcmp(s->culprit, culprit))
		fail_msg("top suspect %s %s (score %.2f); expected %s %s",
			 tita_diag_kind_name(s->kind), s->culprit, s->score,
			 tita_diag_kind_name(kind), culprit);
	assert_int_equal(s->state, state);
	assert_true(s->confidence > 0 && s->confidence <= 1);
	if (!evidence_has(s, evidence))
		fail_msg("%s: no evidence line names %s (first: %s)", s->culprit, evidence,
			 s->n_evidence ? s->evidence[0] : "none");
}

static void test_healthy(void **state)
{
	struct tita_diag_result r;

	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		run(NONE, 0, 0, seed, &r);
		if (r.n_suspects)
			fail_msg("seed %llu: healthy, yet %s %s (score %.2f)",
				 (unsigned long long)seed, tita_diag_kind_name(r.suspects[0].kind),
				 r.suspects[0].culprit, r.suspects[0].score);
		assert_int_equal(r.n_instances, HOSTS);
		assert_int_equal(r.n_up, HOSTS);
		assert_non_null(strstr(r.note, "no suspect"));
		/* A link's shortfall is its pairs' mean, the pairs without
		 * any too: a few pairs falling short are no slow uplink. */
		run(SCATTERED_SHORT, 0, 0, seed, &r);
		if (r.n_suspects)
			fail_msg("seed %llu: a few pairs short, yet %s %s (score %.2f)",
				 (unsigned long long)seed, tita_diag_kind_name(r.suspects[0].kind),
				 r.suspects[0].culprit, r.suspects[0].score);
		/* One host marked faintly, alone, and standing out on
		 * nothing else: no suspect. */
		run(FAINT_CE_ALONE, 11, 0, seed, &r);
		if (r.n_suspects)
			fail_msg("seed %llu: one host marked faintly, yet %s %s (score %.2f)",
				 (unsigned long long)seed, tita_diag_kind_name(r.suspects[0].kind),
				 r.suspects[0].culprit, r.suspects[0].score);
		/* Held back alike everywhere, nobody waits more: no one to
		 * name. */
		run(LOCKSTEP_HEALTHY, 0, 0, seed, &r);
		if (r.n_suspects)
			fail_msg(
				"seed %llu: lock-step, nobody standing out, yet %s %s (score %.2f)",
				(unsigned long long)seed, tita_diag_kind_name(r.suspects[0].kind),
				r.suspects[0].culprit, r.suspects[0].score);
		/* A ring's few lines between leaves, one far short: too few
		 * (leaf, role, spine) lines to compare spines by. */
		run(SPINE_SPARSE, 0, 0, seed, &r);
		if (r.n_suspects)
			fail_msg("seed %llu: a ring's few spine lines, yet %s %s (score %.2f)",
				 (unsigned long long)seed, tita_diag_kind_name(r.suspects[0].kind),
				 r.suspects[0].culprit, r.suspects[0].score);
		/* Short through one spine on two leaves only: a hot spot. */
		run(SPINE_HOTSPOT, 0, 0, seed, &r);
		if (r.n_suspects)
			fail_msg("seed %llu: a hot spot behind two leaves, yet %s %s (score %.2f)",
				 (unsigned long long)seed, tita_diag_kind_name(r.suspects[0].kind),
				 r.suspects[0].culprit, r.suspects[0].score);
	}
}

static void test_faults(void **state)
{
	struct tita_diag_result r;

	(void)state;
	run(SLOW_HOST, 5, 0, 7, &r);
	expect_top(&r, TITA_DIAG_SLOW_HOST, "h5", TITA_DIAG_SLOW, "tx_app_limited_ratio");
	/* Both ways slow: a NIC that pauses its switch, a link whose switch
	 * side queues and marks. */
	run(SLOW_NIC, 17, 0, 8, &r);
	expect_top(&r, TITA_DIAG_SLOW_NIC, "h17", TITA_DIAG_SLOW, "tx_blocked_ratio");
	assert_true(evidence_has(&r.suspects[0], "pause_tx_per_second 800"));
	run(SLOW_HOST_LINK, 22, 0, 8, &r);
	expect_top(&r, TITA_DIAG_SLOW_LINK, "host link of h22", TITA_DIAG_SLOW, "ce_ratio");
	run(SLOW_LINK_RING, 13, 0, 8, &r);
	expect_top(&r, TITA_DIAG_SLOW_LINK, "host link of h13", TITA_DIAG_SLOW,
		   "receivers' tita_health_pair_shortfall_ratio");
	for (uint64_t seed = 1; seed <= 10; seed++) {
		run(LOCKSTEP_SLOW_LINK, 13, 0, seed, &r);
		expect_top(&r, TITA_DIAG_SLOW_LINK, "host link of h13", TITA_DIAG_SLOW,
			   "tx_app_limited_ratio");
	}
	/* Its spine's other links fall short too; most of the excess
	 * passes through the slow one. */
	run(SLOW_UPLINK, 1, 2, 10, &r);
	expect_top(&r, TITA_DIAG_SLOW_LINK, "leaf l1 - spine 2", TITA_DIAG_SLOW,
		   "pair_shortfall_ratio of the pairs through it");
	/* The per-spine gauges name its spine too, and leaf 3's receivers
	 * most: the leaf that the pair lines name stays, with that
	 * evidence beside its own. */
	assert_true(evidence_has(&r.suspects[0], "tita_health_spine_shortfall_ratio"));
	/* Under an all-to-all, held back alike everywhere: the spine whose
	 * pairs fall short more on every leaf, and its leaf most. */
	for (uint64_t seed = 1; seed <= 10; seed++) {
		run(SLOW_SPINE_A2A, 2, 1, seed, &r);
		expect_top(&r, TITA_DIAG_SLOW_LINK, "leaf l2 - spine 1", TITA_DIAG_SLOW,
			   "tita_health_spine_shortfall_ratio");
		assert_string_equal(r.suspects[0].leaf, "l2");
		assert_string_equal(r.suspects[0].spine, "1");
	}
	/* CE on many hosts alike: their shared uplink, no host's link. */
	for (uint64_t seed = 1; seed <= 5; seed++) {
		run(SLOW_UPLINK_CE, 1, 2, seed, &r);
		expect_top(&r, TITA_DIAG_SLOW_LINK, "leaf l1 - spine 2", TITA_DIAG_SLOW,
			   "hosts marked alike");
		for (uint32_t k = 0; k < r.n_suspects; k++)
			assert_int_not_equal(r.suspects[k].place, TITA_DIAG_AT_HOST_LINK);
	}
	/* Blocked alone toward every spine, no CE, no pauses: its NIC. */
	for (uint64_t seed = 1; seed <= 5; seed++) {
		run(SLOW_NIC_QUIET, 17, 0, seed, &r);
		expect_top(&r, TITA_DIAG_SLOW_NIC, "h17", TITA_DIAG_SLOW, "tx_blocked_ratio");
	}
	/* The only host marked, faintly, and blocked above the others'
	 * top: its link. */
	for (uint64_t seed = 1; seed <= 5; seed++) {
		run(FAINT_CE, 17, 0, seed, &r);
		expect_top(&r, TITA_DIAG_SLOW_LINK, "host link of h17", TITA_DIAG_SLOW,
			   "the only host marked");
	}
	/* Blocked as much, but toward one spine only: not its link. */
	for (uint64_t seed = 1; seed <= 5; seed++) {
		run(BLOCKED_ONE_PATH, 17, 2, seed, &r);
		for (uint32_t k = 0; k < r.n_suspects; k++)
			if (!strcmp(r.suspects[k].instance, "h17"))
				fail_msg("seed %llu: blocked toward one spine, yet %s %s",
					 (unsigned long long)seed,
					 tita_diag_kind_name(r.suspects[k].kind),
					 r.suspects[k].culprit);
	}
	/* One pair crosses the lossy link and nothing else crosses either
	 * leaf's link to its spine: both are named, as one suspect. */
	run(RING_LOSS_ONE_PAIR, 0, 0, 3, &r);
	expect_top(&r, TITA_DIAG_LOSSY_LINK, "leaf l1 - spine 1 or leaf l2 - spine 1",
		   TITA_DIAG_SLOW, "no telemetry tells which");
	assert_string_equal(r.suspects[0].leaf, "l1");
	assert_string_equal(r.suspects[0].leaf_other, "l2");
	for (uint32_t k = 1; k < r.n_suspects; k++)
		assert_null(strstr(r.suspects[k].culprit, "spine 1"));
	/* A lossy pair from leaf 1 whose spine is not known may cross
	 * either link: not a pair no line tells apart any more. */
	run(RING_LOSS_UNPLACED, 0, 0, 3, &r);
	expect_top(&r, TITA_DIAG_LOSSY_LINK, "leaf l1 - spine 1", TITA_DIAG_SLOW, "loss votes");
	assert_string_equal(r.suspects[0].leaf_other, "");
	/* A clean pair through leaf 2's link clears it. */
	run(RING_LOSS_CLEARED, 0, 0, 3, &r);
	expect_top(&r, TITA_DIAG_LOSSY_LINK, "leaf l1 - spine 1", TITA_DIAG_SLOW, "loss votes");
	assert_string_equal(r.suspects[0].leaf_other, "");
	run(PFC, 30, 0, 9, &r);
	expect_top(&r, TITA_DIAG_PFC_STORM, "h30", TITA_DIAG_SLOW, "pause_tx_per_second");
	/* Its pauses slow a link far from it: the storm still ranks first. */
	run(PFC_SPREAD, 30, 2, 9, &r);
	expect_top(&r, TITA_DIAG_PFC_STORM, "h30", TITA_DIAG_SLOW, "pause_tx_per_second");
	run(LOSSY_SPINE, 2, 3, 10, &r);
	expect_top(&r, TITA_DIAG_LOSSY_LINK, "leaf l2 - spine 3", TITA_DIAG_SLOW, "loss votes");
	assert_string_equal(r.suspects[0].leaf, "l2");
	assert_string_equal(r.suspects[0].spine, "3");
	run(LOSSY_HOST, 12, 0, 11, &r);
	expect_top(&r, TITA_DIAG_LOSSY_LINK, "host link of h12", TITA_DIAG_SLOW, "loss");
	run(DEAD, 9, 0, 12, &r);
	expect_top(&r, TITA_DIAG_DEAD_HOST, "h9", TITA_DIAG_FAILED, "silent");
	assert_int_equal(r.n_up, HOSTS - 1);
	assert_true(r.suspects[0].confidence > 0.9);
	/* Down, but no peer misses it: still the suspect, with less confidence. */
	run(DEAD_QUIET, 9, 0, 12, &r);
	expect_top(&r, TITA_DIAG_DEAD_HOST, "h9", TITA_DIAG_FAILED, "up");
	assert_true(r.suspects[0].confidence < 0.9);
}

/* NICs that count no pauses (the bed's veths, drivers without pause
 * statistics): a sender that stands out blocked is its NIC's; a healthy
 * cluster stays healthy; CE toward a host still names its link. */
static void test_no_pause_counters(void **state)
{
	struct tita_diag_result r;

	(void)state;
	no_pause = true;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		run(NONE, 0, 0, seed, &r);
		if (r.n_suspects)
			fail_msg("seed %llu: healthy without pause counters, yet %s %s",
				 (unsigned long long)seed, tita_diag_kind_name(r.suspects[0].kind),
				 r.suspects[0].culprit);
	}
	run(SLOW_NIC, 17, 0, 8, &r);
	expect_top(&r, TITA_DIAG_SLOW_NIC, "h17", TITA_DIAG_SLOW, "tx_blocked_ratio");
	run(SLOW_HOST_LINK, 22, 0, 8, &r);
	expect_top(&r, TITA_DIAG_SLOW_LINK, "host link of h22", TITA_DIAG_SLOW, "ce_ratio");
	run(SLOW_HOST, 5, 0, 7, &r);
	expect_top(&r, TITA_DIAG_SLOW_HOST, "h5", TITA_DIAG_SLOW, "tx_app_limited_ratio");
	no_pause = false;
}

/* Six hosts, as on the test bed, their NICs counting no pauses: the top
 * of the others' spread is not the culprit's own value. */
static void small_cluster(int slow, double blocked, struct tita_diag_result *r)
{
	struct tita_prom_limits lim;
	struct tita_prom_doc d;
	const struct tita_prom_doc *v[1] = { &d };
	struct tita_diag_params p;
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	static const double spread[6] = { 0, 0.02, 0.006, 0.017, 0.005, 0.078 };

	for (int h = 1; h <= 6; h++) {
		fprintf(f, "up{instance=\"h%d\",job=\"tita\"} 1\n", h);
#define G(name, v) fprintf(f, name "{instance=\"h%d\",job=\"tita\",port=\"eth0\"} %g\n", h, v)
		G("tita_health_tx_bytes_per_second", 8e6 + 1e5 * h);
		G("tita_health_rx_bytes_per_second", 8e6 - 1e5 * h);
		G("tita_health_tx_active_ratio", 0.9);
		G("tita_health_tx_blocked_ratio", h == slow ? blocked : spread[h - 1]);
		G("tita_health_tx_app_limited_ratio", h == slow ? 0 : 0.5 + 0.02 * h);
		G("tita_health_rx_shortfall_ratio", 0.1 + 0.05 * h);
		G("tita_health_ce_ratio", 0.0);
		G("tita_health_loss_ratio", 0.0);
		G("tita_health_peers_silent", 0.0);
#undef G
	}
	fclose(f);
	tita_prom_limits_default(&lim);
	tita_diag_params_default(&p);
	assert_int_equal(tita_prom_parse(text, len, &lim, &d), 0);
	free(text);
	assert_int_equal(tita_diag_run(v, 1, &p, r), 0);
	tita_prom_doc_free(&d);
}

static void test_small_cluster(void **state)
{
	struct tita_diag_result r;

	(void)state;
	small_cluster(3, 0.36, &r);
	expect_top(&r, TITA_DIAG_SLOW_NIC, "h3", TITA_DIAG_SLOW, "tx_blocked_ratio");
	small_cluster(0, 0, &r);
	assert_int_equal(r.n_suspects, 0);
}

/* Garbage in: no instance label, NULL, nothing. */
static void test_inputs(void **state)
{
	struct tita_prom_limits lim;
	struct tita_prom_doc d;
	const struct tita_prom_doc *v[1] = { &d };
	struct tita_diag_params p;
	struct tita_diag_result r;
	const char *text = "tita_health_tx_bytes_per_second{port=\"eth0\"} 1\n";

	(void)state;
	tita_prom_limits_default(&lim);
	tita_diag_params_default(&p);
	assert_int_equal(tita_prom_parse(text, strlen(text), &lim, &d), 0);
	assert_int_equal(tita_diag_run(v, 1, &p, &r), 0);
	assert_int_equal(r.n_suspects, 0);
	assert_non_null(strstr(r.note, "no instances"));
	assert_non_null(strstr(r.note, "1 samples without an instance label"));
	assert_int_equal(tita_diag_run(v, 0, &p, &r), -22);
	assert_int_equal(tita_diag_run(NULL, 1, &p, &r), -22);
	tita_prom_doc_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_no_pause_counters),
		cmocka_unit_test(test_small_cluster),
		cmocka_unit_test(test_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
