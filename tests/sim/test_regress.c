// SPDX-License-Identifier: MIT
/*
 * Small scenarios with bounds on their outcomes (virtual time, so the
 * bounds are exact functions of the code and the seed, not timing noise):
 *  - a single flow reaches line rate with an empty queue;
 *  - two DCQCN (and HPCC) flows converge to fair shares;
 *  - an 8:1 incast: no drops anywhere; tita has no PFC pause, a p99 queue
 *    well under DCQCN's and no higher than HPCC's, high utilization and a
 *    completion near the line-rate bound;
 *  - a leaf-spine all-to-all completes without drops under every control;
 *  - a ring all-reduce keeps within 5 % of its line-rate bound beside an
 *    incast whose job has a low weight (a job's pairs share its weight);
 *  - a 32:1 incast into a small buffer completes (a drained ingress port
 *    is resumed);
 *  - the baselines' figures on these scenarios, pinned both ways;
 *  - tita's reactive ceiling spares a congested leaf uplink PFC pauses;
 *  - the flows of one tita pair share its pacer (none starves);
 *  - the reference star incast (32:1) with lib/'s defaults: completion
 *    within 3 % of the wire ideal, a p99 queue under 10 KB, no pause;
 *  - short messages between 8 hosts: tita's median near 1, its p99 close
 *    to HPCC's (a message waiting for a grant at the start rate is not);
 *  - a permutation across leaves is placed (median within 10 % of the
 *    bound);
 *  - an all-to-all on 2:1 over many leaves keeps the spines' downlinks
 *    under 1 MB with the pacers' buckets (small pairs levelled);
 *  - after a spine link fails, tita's goodput settles at 96.5 % or more of
 *    what the surviving fabric can carry, recovered within 400 us;
 *  - the same seed gives the same results bit for bit.
 * argv[1] is the directory of the scenario files; argv[2], if given, a
 * pattern of the tests to run.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static const char *dir = "tests/sim/scenarios";

/* One run of a scenario, with a seed (or the file's) and assignments on
 * top (as tita-sim --set; NULL for none). */
static void run_seed_set(const char *name, const char *cc, uint64_t seed, const char *const *set,
			 struct sim_results *r)
{
	char path[512];
	struct sim_config cfg;
	struct sim s;

	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	assert_int_equal(sim_config_load(&cfg, path, seed, stderr), 0);
	for (; set && *set; set++)
		assert_int_equal(sim_config_set(&cfg, *set, stderr), 0);
	assert_int_equal(sim_init(&s, &cfg, sim_cc_find(cc), NULL), 0);
	assert_int_equal(sim_run(&s, r), 0);
	printf("# %-10s %-13s q_p99 %6.1f KB  port p99 %6.1f KB  pauses %4llu  cnps %4llu  "
	       "marks %4llu  util %.4f  jain %.4f  completion/bound %.4f  ctrl %.5f  "
	       "%.2f M events/s\n",
	       name, cc, (double)r->q_p99_bytes / 1024, (double)r->port_q_p99_max_bytes / 1024,
	       (unsigned long long)r->pause_frames, (unsigned long long)r->cnps,
	       (unsigned long long)r->ecn_marks, r->util, r->jain,
	       r->bound_ps > 0 ? r->completion_ps / r->bound_ps : 0, r->ctrl_frac,
	       r->wall_s > 0 ? (double)r->events / r->wall_s / 1e6 : 0);
	assert_int_equal(r->flows_done, r->flows_total);
	assert_int_equal(r->drops, 0);
	sim_fini(&s);
	sim_config_fini(&cfg);
}

static void run_seed(const char *name, const char *cc, uint64_t seed, struct sim_results *r)
{
	run_seed_set(name, cc, seed, NULL, r);
}

static void run(const char *name, const char *cc, struct sim_results *r)
{
	run_seed(name, cc, SIM_SEED_FROM_FILE, r);
}

static void run_set(const char *name, const char *cc, const char *const *set,
		    struct sim_results *r);

static double ratio(const struct sim_results *r)
{
	return r->completion_ps / r->bound_ps;
}

static void single_flow_line_rate(void **state)
{
	static const char *const ccs[] = { "none", "dcqcn", "dcqcn-paper" };
	struct sim_results r;

	for (size_t k = 0; k < sizeof(ccs) / sizeof(ccs[0]); k++) {
		run("single", ccs[k], &r);
		assert_true(r.util >= 0.98);
		assert_true(ratio(&r) <= 1.01);
		assert_true(r.q_max_bytes <= 8192);
		assert_int_equal(r.pause_frames, 0);
		assert_int_equal(r.cnps, 0);
	}
	/* HPCC paces at eta: 95 % of the line, and no queue. */
	run("single", "hpcc", &r);
	assert_true(r.util >= 0.93);
	assert_true(r.q_max_bytes <= 8192);
}

static void two_flows_converge_fair(void **state)
{
	struct sim_results r;

	run("twoflow", "dcqcn", &r);
	assert_true(r.jain >= 0.99);
	run("twoflow", "dcqcn-paper", &r);
	assert_true(r.jain >= 0.99);
	run("twoflow", "hpcc", &r);
	assert_true(r.jain >= 0.99);
	assert_true(r.q_p99_bytes <= 64 * 1024);
	run("twoflow", "tita", &r);
	assert_true(r.jain >= 0.99);
	assert_int_equal(r.pause_frames, 0);
}

static void incast_bounds(void **state)
{
	struct sim_results none, dcqcn, hpcc, tita, tita_only;

	run("incast8", "none", &none);
	assert_true(none.pause_frames > 0); /* line rate into one port: PFC */
	/* A pause lasts until what was on the wire after XOFF (a round trip
	 * of the 100G, 1 us link plus a frame each way, ~33 KB) and the resume
	 * offset have left, at the ingress's 1/8 share of the egress: ~23 us.
	 * Departures come out of the headroom first; charging it to the very
	 * packets that came after XOFF held every pause for a queue drain
	 * (121 us on average, 18 pauses). */
	assert_true(none.paused_ps / none.pause_frames <= 35 * SIM_PS_PER_US);
	assert_true(none.pause_frames >= 40);
	/* One switch: the worst port is the monitored bottleneck, measured
	 * there in 1 KB bins and here in the ports' coarser ones. */
	assert_int_equal(none.port_q_p99_max_port, none.monitor_port);
	assert_true(none.port_q_p99_max_bytes <= none.q_p99_bytes + 1024);
	assert_true(sim_portq_bin(none.q_p99_bytes) <=
		    sim_portq_bin(none.port_q_p99_max_bytes) + 1);
	run("incast8", "dcqcn", &dcqcn);
	run("incast8", "hpcc", &hpcc);
	assert_int_equal(hpcc.pause_frames, 0);
	run("incast8", "tita", &tita);
	assert_int_equal(tita.pause_frames, 0);
	assert_true(tita.q_p99_bytes * 5 <= dcqcn.q_p99_bytes);
	assert_true(tita.q_p99_bytes <= hpcc.q_p99_bytes);
	assert_true(tita.util >= 0.95);
	assert_true(ratio(&tita) <= 1.05);
	assert_true(tita.jain >= 0.9);
	run("incast8", "tita-nodcqcn", &tita_only);
	assert_int_equal(tita_only.pause_frames, 0);
	assert_true(ratio(&tita_only) <= 1.05);
}

static double median3(double a, double b, double c)
{
	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

/* The flows of one pair share its pacer: a short one started beside a long
 * one takes its turns (about half the pair's rate), not none of them. */
static void pair_flows_share_its_pacer(void **state)
{
	char path[512];
	struct sim_config cfg;
	struct sim_results r;
	struct sim s;
	const struct sim_flow *lng, *shrt;

	(void)state;
	snprintf(path, sizeof(path), "%s/pairshare.conf", dir);
	assert_int_equal(sim_config_load(&cfg, path, SIM_SEED_FROM_FILE, stderr), 0);
	assert_int_equal(sim_init(&s, &cfg, sim_cc_find("tita"), NULL), 0);
	assert_int_equal(sim_run(&s, &r), 0);
	assert_int_equal(r.flows_done, r.flows_total);
	lng = &s.flows[1];
	shrt = &s.flows[2];
	assert_true(shrt->finish_ps < lng->finish_ps);
	/* 200 KB at a quarter of the line at least, and the latency. */
	assert_true(shrt->finish_ps - shrt->start_ps < 80 * SIM_PS_PER_US);
	sim_fini(&s);
	sim_config_fini(&cfg);
}

/* Issue 13's star incast: every sender's first bytes unscheduled, then
 * held until they drain, then interleaved under grants that fit. Without
 * the hold and phase the p99 queue was 39 KB. */
static void star_incast_goals(void **state)
{
	struct sim_results r;

	run("star32", "tita", &r);
	assert_int_equal(r.pause_frames, 0);
	assert_true(r.q_p99_bytes <= 10 * 1024);
	assert_true(ratio(&r) <= 1.03);
}

/* 4-64 KB messages go whole before a grant could come, one behind another
 * included. Without unscheduled bytes the median was 5.7 and the p99 24.7;
 * with a message behind one going whole left at the start rate, the p99
 * was 9.7 (HPCC 2.7). */
static void short_messages_go_whole(void **state)
{
	struct sim_results hpcc, tita;

	run("shortmsg", "hpcc", &hpcc);
	run("shortmsg", "tita", &tita);
	assert_int_equal(tita.pause_frames, 0);
	assert_true(tita.slowdown_p50 <= 1.2);
	assert_true(tita.slowdown_p99 <= 1.5 * hpcc.slowdown_p99);
}

/*
 * Short messages beside a ring, in a network with a short-message class
 * (nic.short_prio_kb: a message that goes whole, strict priority over the
 * granted bytes at NICs and switches) and receivers that leave it no room
 * (tita.unmanaged_room_frac=0). Without the class the messages queue
 * behind the ring's paced bytes (p99 5.5); with it they pass them (2.8),
 * and the ring, granted the line, ends sooner, not later (seed 1: 1,564
 * against 1,690 us; the class with room left for the messages: 1,743).
 */
static void short_class_passes_the_ring(void **state)
{
	static const char *const cls[] = { "nic.short_prio_kb=150", NULL };
	static const char *const cls_no_room[] = { "nic.short_prio_kb=150",
						   "tita.unmanaged_room_frac=0", NULL };
	struct sim_results plain, room, no_room;

	(void)state;
	run("shortring", "tita", &plain);
	run_set("shortring", "tita", cls, &room);
	run_set("shortring", "tita", cls_no_room, &no_room);
	assert_int_equal(no_room.pause_frames, 0);
	assert_true(no_room.slowdown_p99 <= 0.6 * plain.slowdown_p99);
	assert_true(room.slowdown_p99 <= 0.6 * plain.slowdown_p99);
	assert_true(no_room.end_ps < plain.end_ps);
	assert_true((double)no_room.end_ps < 0.95 * (double)room.end_ps);
}

/*
 * PFC pauses each lossless class on its own: an uncontrolled incast
 * through a small buffer pauses its senders' data class (257 pauses),
 * while the short class's messages from the same hosts go on (p99 2.5).
 * One pause for both classes gave a p99 of 22.7; no short class, 41.9.
 */
static void short_class_paused_on_its_own(void **state)
{
	static const char *const no_class[] = { "nic.short_prio_kb=0", NULL };
	struct sim_results cls, plain;

	(void)state;
	run("shortpfc", "none", &cls);
	run_set("shortpfc", "none", no_class, &plain);
	assert_true(cls.pause_frames > 50);
	assert_true(cls.slowdown_p99 <= 4);
	assert_true(plain.slowdown_p99 > 10);
}

static void leafspine_no_drops(void **state)
{
	struct sim_results r;

	/* The median of three seeds: which flows collide is the hash's, and
	 * one seed's draw moves a control's figure by 0.1 either way. */
	for (int k = 0; sim_cc_all[k]; k++) {
		double x[3];

		for (uint64_t seed = 1; seed <= 3; seed++) {
			run_seed("leafspine", sim_cc_all[k]->name, seed, &r);
			x[seed - 1] = ratio(&r);
		}
		assert_true(median3(x[0], x[1], x[2]) < 1.55);
	}
}

static void ring_beside_light_incast(void **state)
{
	struct sim_results none, tita;

	run("ringar-small", "none", &none);
	run("ringar-small", "tita", &tita);
	assert_int_equal(tita.pause_frames, 0);
	assert_true(ratio(&tita) <= 1.05);
	/* Line rate without a policy shares rank 1's downlink with the incast. */
	assert_true(ratio(&none) > ratio(&tita));
}

static void drained_port_resumes(void **state)
{
	struct sim_results r;

	/* run() fails unless every flow completes: an ingress that drained
	 * while the shared buffer was nearly full must be resumed. */
	run("incast32-smallbuf", "none", &r);
	assert_true(r.pause_frames > 0);
	assert_true(ratio(&r) <= 1.01);
}

/* The baselines' figures at the files' seeds, pinned both ways: a change to
 * the fabric or to a baseline moves them (switch ECN off, for one, leaves
 * DCQCN unpaced and its CNP counts at zero). Runs are deterministic and
 * identical under gcc and clang; the margins only let a harmless change of
 * floating-point rounding through. After a deliberate change to the model,
 * take the new values from the "#" lines this test prints. */
struct pin {
	const char *scenario, *cc;
	double ratio; /* completion / bound */
	uint64_t pauses, cnps, ecn_marks;
	double q_p99_kb, port_q_p99_kb; /* bottleneck; worst switch port */
	double util, jain;
};

static const struct pin pins[] = {
	{ "single", "none", 0.9990, 0, 0, 0, 0, 0, 0.9929, 1.0000 },
	{ "single", "dcqcn", 0.9990, 0, 0, 0, 0, 0, 0.9929, 1.0000 },
	{ "single", "dcqcn-paper", 0.9990, 0, 0, 0, 0, 0, 0.9929, 1.0000 },
	{ "single", "hpcc", 1.0478, 0, 0, 0, 0, 0, 0.9467, 1.0000 },
	{ "twoflow", "none", 1.9985, 1392, 0, 12894, 6525, 6144, 0.9995, 1.0000 },
	{ "twoflow", "dcqcn", 2.1126, 126, 1175, 7544, 6492, 6144, 0.8867, 1.0000 },
	{ "twoflow", "dcqcn-paper", 5.5417, 0, 8, 62, 1262, 1024, 0.3573, 1.0000 },
	{ "twoflow", "hpcc", 2.1739, 0, 0, 0, 4, 4, 0.9495, 1.0000 },
	{ "incast8", "none", 0.9990, 62, 0, 558, 1802, 1792, 0.9930, 0.9993 },
	{ "incast8", "dcqcn", 1.4535, 9, 70, 99, 1741, 1536, 0.6825, 0.9464 },
	{ "incast8", "dcqcn-paper", 0.9990, 90, 41, 402, 1802, 1792, 0.9930, 0.9998 },
	{ "incast8", "hpcc", 1.0868, 0, 0, 0, 426, 424, 0.9129, 0.9510 },
	{ "leafspine", "none", 1.3459, 0, 0, 1, 8, 504, 0.6110, 0.9715 },
	{ "leafspine", "dcqcn", 1.3459, 0, 1, 1, 8, 504, 0.6110, 0.9715 },
	{ "leafspine", "dcqcn-paper", 1.3459, 0, 1, 1, 8, 504, 0.6110, 0.9715 },
	{ "leafspine", "hpcc", 1.4849, 0, 0, 0, 13, 256, 0.5541, 0.9564 },
	{ "ringar-small", "none", 1.0836, 10, 0, 311, 2030, 1792, 0.9934, 0.9954 },
	{ "ringar-small", "dcqcn", 1.2072, 0, 62, 133, 1681, 1536, 0.8918, 0.9872 },
	{ "ringar-small", "dcqcn-paper", 1.1598, 6, 20, 297, 2030, 1792, 0.9282, 0.9901 },
	{ "ringar-small", "hpcc", 1.1704, 0, 0, 0, 53, 52, 0.9199, 0.9950 },
	{ "incast32-smallbuf", "none", 0.9999, 960, 0, 766, 1299, 1280, 0.9991, 1.0000 },
	{ "incast32-smallbuf", "dcqcn", 0.9999, 1107, 470, 577, 1299, 1280, 0.9991, 0.9983 },
	{ "incast32-smallbuf", "dcqcn-paper", 1.1126, 1401, 303, 361, 1262, 1024, 0.8979, 0.9751 },
	{ "incast32-smallbuf", "hpcc", 1.1246, 32, 0, 24, 1144, 1024, 0.8883, 0.7570 },
	{ "uplink-ce", "none", 1.0000, 5372, 0, 10870, 0, 1024, 0.2499, 1.0000 },
	{ "uplink-ce", "dcqcn", 1.0012, 4868, 5129, 10467, 0, 1024, 0.2496, 0.9994 },
	{ "uplink-ce", "dcqcn-paper", 1.3887, 94, 76, 246, 0, 1024, 0.1800, 0.9519 },
	{ "uplink-ce", "hpcc", 1.0839, 0, 0, 0, 0, 12, 0.2305, 0.8786 },
	{ "linkfail", "none", 1.1114, 0, 0, 0, 10, 276, 0.8779, 0.9916 },
	{ "linkfail", "dcqcn", 1.1114, 0, 0, 0, 10, 276, 0.8779, 0.9916 },
	{ "linkfail", "dcqcn-paper", 1.1114, 0, 0, 0, 10, 276, 0.8779, 0.9916 },
	{ "linkfail", "hpcc", 1.5204, 0, 0, 0, 61, 156, 0.6434, 0.9591 },
};

static void near_rel(const char *what, const struct pin *p, double got, double want, double rel,
		     double abs)
{
	double tol = fabs(want) * rel > abs ? fabs(want) * rel : abs;

	if (fabs(got - want) > tol)
		fail_msg("%s %s: %s %.4f, pinned at %.4f +- %.4f", p->scenario, p->cc, what, got,
			 want, tol);
}

static void baselines_pinned(void **state)
{
	for (size_t k = 0; k < sizeof(pins) / sizeof(pins[0]); k++) {
		const struct pin *p = &pins[k];
		struct sim_results r;

		run(p->scenario, p->cc, &r);
		near_rel("completion/bound", p, ratio(&r), p->ratio, 0.01, 0);
		near_rel("pauses", p, (double)r.pause_frames, (double)p->pauses, 0.03, 2);
		near_rel("cnps", p, (double)r.cnps, (double)p->cnps, 0.03, 2);
		near_rel("ecn marks", p, (double)r.ecn_marks, (double)p->ecn_marks, 0.03, 2);
		near_rel("q p99 (KB)", p, (double)r.q_p99_bytes / 1024, p->q_p99_kb, 0.05, 4);
		near_rel("port q p99 (KB)", p, (double)r.port_q_p99_max_bytes / 1024,
			 p->port_q_p99_kb, 0.05, 4);
		near_rel("util", p, r.util, p->util, 0.01, 0.001);
		near_rel("jain", p, r.jain, p->jain, 0.01, 0.001);
	}
}

static void run_set(const char *name, const char *cc, const char *const *set, struct sim_results *r)
{
	run_seed_set(name, cc, SIM_SEED_FROM_FILE, set, r);
}

/*
 * tita's pacer as a token bucket (nic.pacer_burst_kb, 0 by default): a
 * pair whose packet left late, its NIC busy with its other pairs, catches
 * up. Spaced from when each packet left, an all-to-all's pairs run below
 * the rates they were given (16 hosts: 1.087 x the bound against 1.079
 * with a 4 KB bucket).
 */
static void pacer_bucket_catches_up(void **state)
{
	static const char *const bucket_4k[] = { "nic.pacer_burst_kb=4", NULL };
	struct sim_results bucket, spaced;

	(void)state;
	run_set("a2a16", "tita", bucket_4k, &bucket);
	run("a2a16", "tita", &spaced);
	assert_int_equal(bucket.flows_done, bucket.flows_total);
	assert_int_equal(bucket.pause_frames, 0);
	assert_true(ratio(&bucket) + 0.005 < ratio(&spaced));
	assert_true(bucket.q_p99_bytes <= spaced.q_p99_bytes + 4096);
}

/*
 * An all-to-all on 2:1 with many leaves, its pacers token buckets: every
 * sender shares its uplink caps among its small pairs up to a level, not in
 * proportion to their grants (which the receiving leaves' caps never cut by
 * as much as a percent of a line, and which differ by a few percent). In
 * proportion, the pairs into some leaves went a few percent faster from
 * every sender, and the spines' downlinks into those leaves held 1-2 MB
 * (seeds 1-3: the largest queue 1.2/2.3/1.6 MB, completion 1.119/1.131/
 * 1.120 x the bound; levelled 0.74/0.78/0.75 MB, 1.115/1.084/1.086).
 */
static void alltoall_small_pairs_levelled(void **state)
{
	static const char *const bucket_4k[] = { "nic.pacer_burst_kb=4", NULL };
	double sum = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct sim_results r;

		run_seed_set("a2a64x8", "tita", seed, bucket_4k, &r);
		assert_int_equal(r.pause_frames, 0);
		assert_true(r.fabric_q_max_bytes < 1024 * 1024);
		sum += ratio(&r);
	}
	assert_true(sum / 3 < 1.105);
}

/*
 * An all-to-all on 2:1 over 4 leaves of 16 (alltoall64): ECMP puts 8 of a
 * receiver's 48 pairs on one spine and 23 on another, and the leader shares
 * each downlink max-min over the receivers' lines. Each line weighs as many
 * pairs as it holds, so that a crowded line's pairs are not held to half
 * the rate of a sparse one's and left to finish last (seeds 1-3: completion
 * 1.135/1.105/1.123 x the bound before, 1.108/1.079/1.077 after).
 */
static void alltoall_lines_weigh_their_pairs(void **state)
{
	double sum = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct sim_results r;

		run_seed("a2a64x4", "tita", seed, &r);
		assert_int_equal(r.flows_done, r.flows_total);
		assert_int_equal(r.pause_frames, 0);
		sum += ratio(&r);
	}
	assert_true(sum / 3 < 1.10);
}

/*
 * Two all-to-all jobs of equal weight, whose lines hold about 9 and 3
 * small pairs, share the spines as jobs: the pairs weigh a line only
 * within its job. With the pairs folded into the lines' weights, job 1
 * took 3/4 of every spine link (job_ratio seeds 1-5
 * 4.17/4.93/5.09/4.78/4.09; since 2.11/2.67/2.00/2.78/2.73; ~1.6 ideal).
 */
static void jobs_of_small_pairs_keep_their_weights(void **state)
{
	struct sim_results r;

	(void)state;
	run_seed("twoa2a64", "tita", 1, &r);
	assert_int_equal(r.flows_done, r.flows_total);
	assert_int_equal(r.pause_frames, 0);
	assert_int_equal(r.n_jobs, 2);
	assert_true(r.job_bps[1] > 0);
	assert_true(r.job_bps[0] / r.job_bps[1] < 3.3);
}

/*
 * A leaf's one uplink carries four senders whose receivers each grant the
 * whole line (4:1). Hosts that know their place are capped by their leaf's
 * leader: nothing is marked, nothing paused. Hosts that do not (a titad
 * without a topology file) have only the reaction to CE: the reactive
 * ceiling must spare a good part of the pauses that the same run with the
 * ceiling off (rc_ce_threshold 1) takes.
 */
static void tita_reacts_to_ce_on_the_uplink(void **state)
{
	static const char *const placed[] = { "topology.hosts_know_place=1", NULL };
	static const char *const ceiling_off[] = { "tita.rc_ce_threshold=1", NULL };
	struct sim_results none, tita, tita_only, tita_blind;

	run("uplink-ce", "none", &none);
	assert_true(none.pause_frames > 100);
	run_set("uplink-ce", "tita", placed, &tita);
	assert_int_equal(tita.pause_frames, 0);
	assert_int_equal(tita.ecn_marks, 0);
	assert_true(ratio(&tita) < 1.05);
	run("uplink-ce", "tita-nodcqcn", &tita_only);
	assert_true(tita_only.ecn_marks > 0);
	run_set("uplink-ce", "tita-nodcqcn", ceiling_off, &tita_blind);
	assert_true(tita_only.pause_frames * 100 <= tita_blind.pause_frames * 85);
	assert_true(tita_only.pause_frames < none.pause_frames);
}

/*
 * A ring all-reduce laid across leaves: each step's chunk is shorter than a
 * control round, but every pair carries one after the other. Placed over
 * the spines as the large pairs they are, the ring finishes well before
 * ECMP's collisions let it (median of three seeds; tita once took longer
 * than no control at all: 2.7 against 1.9).
 */
static void ring_across_leaves_placed(void **state)
{
	double none[3], tita[3];
	struct sim_results r;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		run_seed("ringx16", "none", seed, &r);
		none[seed - 1] = ratio(&r);
		run_seed("ringx16", "tita", seed, &r);
		tita[seed - 1] = ratio(&r);
		assert_int_equal(r.pause_frames, 0);
		assert_true(r.ctrl_frac <= 0.002);
	}
	assert_true(median3(tita[0], tita[1], tita[2]) <= 0.8 * median3(none[0], none[1], none[2]));
}

/*
 * A ring across leaves on four 400G spines: no pair may wait for its
 * leader. A receiver's pair that paused between two steps got a cap of 0
 * (its share of its line while it used nothing) and dropped to the leaf's
 * sum, a line its member had said with nothing on it and so did not report
 * again for a small rise: the pair kept the 0 until the refresh (3 ms), and
 * the whole ring with it (4.4 to 8.4x the bound, against 1.8 to 2.2).
 */
static void ring_on_fat_spines_never_stalls(void **state)
{
	struct sim_results r;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		run_seed("ringx64-4x400", "tita", seed, &r);
		assert_int_equal(r.pause_frames, 0);
		assert_true(ratio(&r) <= 3.0);
	}
	/* A pair that arrived where nobody kept room, held at the start rate
	 * until a grant counted it there, then moved again: its hold stayed
	 * on the old spine and the pair at the start rate for good (18x the
	 * bound, a third of the flows unfinished; 1.19 now). */
	{
		static const char *const set[] = { "traffic.size=64MB", NULL };

		run_seed_set("ringx64-4x400", "tita", 4, set, &r);
		assert_true(ratio(&r) <= 1.5);
	}
}

/*
 * The same ring on sixteen 100G spines: no step may wait a round at a part
 * of its line. Two ways it did, each costing a step a round (100 us) at 13
 * to 54 % of the line, and the ring with it (1.15 to 1.16x the bound on
 * seeds 1-3; each fix alone left a seed at 1.14 to 1.16, both 1.03 to
 * 1.06): the round's sample after a done, with the last bytes the message
 * sent, was taken for a new message, whose demand was the tail's rate,
 * granted so; and a leader's answer that came while a pair paused between
 * two steps shared its line's cap by the pair's use then over the line's
 * sum from the round before, when it sent.
 */
static void ring_steps_never_wait_a_round(void **state)
{
	struct sim_results r;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		run_seed("ringx64-16x100", "tita", seed, &r);
		assert_int_equal(r.pause_frames, 0);
		assert_true(ratio(&r) <= 1.11);
	}
}

/*
 * The same ring with a short start (issue 13: tita.short_start_us 40,
 * lone_gap_us 100): its 250 KB steps are short, and every NIC has one new
 * pair in each role, so "no other pair of its NIC waits" must count the
 * other role: its own step waits for its leader as the previous rank's
 * arrives, and the receiver holds that one at the start rate until placed
 * and grants it after the batch, not early. Counting its own role only,
 * seeds 1-10 took 1.037-1.117 x the bound; with the receiver's early grant
 * kept, 1.028-1.151; held, 1.028-1.060, as with no short start.
 */
static void ring_steps_not_started_short(void **state)
{
	static const char *const set[] = { "tita.short_start_us=40", "tita.lone_gap_us=100", NULL };
	struct sim_results r;

	(void)state;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		run_seed_set("ringx64-16x100", "tita", seed, set, &r);
		assert_int_equal(r.pause_frames, 0);
		assert_true(ratio(&r) <= 1.09);
	}
}

/*
 * The same ring with 1 MB steps (64 MB a rank): no leader may hand a
 * spine that a pair pauses on to another. A pair not yet large, placed on
 * a spine, counted at nothing between two steps: its line reported no
 * demand, the leader gave the spine to a large pair with the whole cap,
 * and at its next step the small pair sent at the cap its member still
 * held too, both at the line's rate until the next round (port p99 40 to
 * 136 KB on seeds 1-5, the fabric's largest queue 180 to 430 KB; 4 to 12
 * and 93 to 183 KB since).
 */
static void ring_pause_keeps_its_spine(void **state)
{
	static const char *const set[] = { "traffic.size=64MB", NULL };
	struct sim_results r;

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		run_seed_set("ringx64-16x100", "tita", seed, set, &r);
		assert_int_equal(r.flows_done, r.flows_total);
		assert_int_equal(r.pause_frames, 0);
		assert_true(r.port_q_p99_max_bytes <= 16 * 1024);
		assert_true(r.fabric_q_max_bytes <= 256 * 1024);
	}
}

/*
 * A permutation across leaves: every pair is large (ten rounds of its share
 * queued at the round that judges it) and placed, two to an uplink; ECMP
 * alone takes 2.4x the bound. Median of three seeds. When the fabric's
 * pass after a round judged by the backlog that the round had just
 * cleared, no pair was large after its first sample and the run took
 * 1.23x (1.12 to 1.34).
 */
static void permutation_across_leaves_placed(void **state)
{
	double tita[3];
	struct sim_results r;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		run_seed("permx32", "tita", seed, &r);
		tita[seed - 1] = ratio(&r);
		assert_int_equal(r.pause_frames, 0);
	}
	assert_true(median3(tita[0], tita[1], tita[2]) <= 1.1);
}

/*
 * A 256-host permutation at 20 MB on 16 leaves and 16 spines: the last
 * collisions are repaired by Kempe chains across the leaves, one move a
 * step. A pair on its way to another spine tells its receiver at once
 * (its demand names where it goes) rather than once what it posted has
 * drained. Any change in a datagram's timing moves a seed by about
 * +-0.02, so the mean of three seeds is pinned: 1.153 (1.156/1.157/1.147)
 * with the whole code of 2026-12-08, 1.169 (1.176/1.173/1.159) with only
 * this change reverted (the receiver's leader counted each move a drain
 * later, and the chain's next step started that much later). A chain's
 * next step taken a 64th of an interval after the overload, not an
 * eighth: 1.123 (1.127/1.117/1.126), 1.146 (1.154/1.138/1.148) before.
 */
static void permutation_moves_told_at_once(void **state)
{
	struct sim_results r;
	double sum = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		run_seed("perm256", "tita", seed, &r);
		assert_int_equal(r.pause_frames, 0);
		assert_true(r.port_q_p99_max_bytes <= 100 * 1024);
		assert_true(ratio(&r) <= 1.18);
		sum += ratio(&r);
	}
	assert_true(sum / 3 <= 1.155);
}

/*
 * The same permutation's busiest host, by control bytes (the larger of its
 * two directions over the run, `ctrl_frac`): with one leader per leaf it
 * was the leader, 0.322 % and 0.330 % of its link on seeds 1 and 2 (its
 * answers to 15 members most of it). The leaf's uplinks and downlinks each
 * have their own leader, two hosts: 0.167 % and 0.152 %.
 */
static void permutation_leaders_share_the_control(void **state)
{
	struct sim_results r;

	(void)state;
	for (uint64_t seed = 1; seed <= 2; seed++) {
		run_seed("perm256", "tita", seed, &r);
		assert_true(r.ctrl_frac <= 0.0020);
	}
}

/*
 * The ring with 1 MB steps (64 MB a rank, `ringx64`): a pair's receiver
 * hears of its move when it starts, and its grant for the new spine may
 * come back before the pair has drained and moved. Held at the start rate
 * after the move until another grant named the spine (which may be a
 * while, between two steps), the ring took 1.24-1.56 x its bound on seeds
 * 1-3 (1.04-1.07 when a grant that came while it drained counts).
 */
static void ring_move_granted_while_draining(void **state)
{
	static const char *const set[] = { "traffic.size=64MB", NULL };
	struct sim_results r;

	(void)state;
	for (uint64_t seed = 1; seed <= 2; seed++) {
		run_seed_set("ringx64-16x100", "tita", seed, set, &r);
		assert_int_equal(r.pause_frames, 0);
		assert_true(ratio(&r) <= 1.08);
	}
}

/*
 * In steady state (nothing changes in the fabric) a placed large pair checks
 * where its source port goes only in its member's turn, one refresh period
 * (100 us) in 16: the ring's hosts send 0.6 refresh probes per ms each
 * (seeds 1-2), where a refresh every period sent 9.7 (each an ICMP a spine
 * must generate). The safety net stays: some are sent.
 */
static void steady_refresh_is_gated(void **state)
{
	static const char *const set[] = { "traffic.size=64MB", NULL };
	struct sim_results r;
	double per_host_ms;

	(void)state;
	run_seed_set("ringx64-16x100", "tita", 1, set, &r);
	per_host_ms = (double)r.probes_refresh * SIM_PS_PER_MS / ((double)r.end_ps * 64);
	printf("# ringx64 seed 1: %.3f refresh probes per host per ms, %.3f probes in all, "
	       "%llu deferred\n",
	       per_host_ms, (double)r.probes * SIM_PS_PER_MS / ((double)r.end_ps * 64),
	       (unsigned long long)r.probes_deferred);
	assert_true(per_host_ms <= 2.0);
	assert_true(per_host_ms >= 0.1);
	assert_int_equal(r.probes_deferred, 0);
}

/*
 * A spine link fails (`linkfail64`: leaf 0 - spine 1 at 500 us). Leaf 0 and
 * the far leaves rehash, and most of leaf 0's pairs change spine, not only
 * those that crossed the link; one moved onto a link with room is never
 * marked. Until placed large pairs probed their own source port now and
 * then, some went on being counted where they no longer were (10 of 45
 * pairs between leaves, two on the dead spine), the leaders balanced that
 * map, and the goodput settled at 0.94-0.95 of the surviving fabric's ideal
 * on seeds 1-2 (recovery 690 and 300 us; the 95 % line crossed by chance).
 * A refresh every period settled at 0.976-0.981 within 200 us; gated on
 * evidence (a member's own port on a new spine, told to its leaf by its
 * leader and to the far leaves by grants; packets lost at a receiver), it
 * settles at 0.970 within 200-260 us. Without the telling it settled at
 * 0.935 (740 us), without the losses at 0.962 (300 us), seed 1.
 */
static void linkfail_settles_with_margin(void **state)
{
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/linkfail64.conf", dir);
	for (uint64_t seed = 1; seed <= 2; seed++) {
		struct sim_config cfg;
		struct sim_results r;
		struct sim s;
		uint64_t bin, from, to, bytes = 0;

		assert_int_equal(sim_config_load(&cfg, path, seed, stderr), 0);
		assert_int_equal(sim_init(&s, &cfg, sim_cc_find("tita"), NULL), 0);
		assert_int_equal(sim_run(&s, &r), 0);
		assert_int_equal(r.flows_done, r.flows_total);
		assert_int_equal(r.pause_frames, 0);
		assert_true(r.failure && r.fail_capacity_bps > 0);
		assert_int_equal(r.stuck_flows, 0);
		/* Settled: from 300 us after the failure for 700 us (no pair
		 * finishes before 1.6 ms), against the ideal when it failed. */
		bin = cfg.goodput_bin_ps;
		from = (s.fail_ps + 300 * SIM_PS_PER_US) / bin;
		to = (s.fail_ps + 1000 * SIM_PS_PER_US) / bin;
		assert_true(to <= s.n_gp);
		for (uint64_t b = from; b < to; b++)
			for (uint32_t j = 0; j < SIM_MAX_JOBS; j++)
				bytes += s.gp_bytes[b * SIM_MAX_JOBS + j];
		printf("# linkfail64 seed %llu recovery %.0f us settled %.4f of the ideal\n",
		       (unsigned long long)seed, r.recovery_ps / SIM_PS_PER_US,
		       (double)bytes * 8e12 / (double)((to - from) * bin) / r.fail_capacity_bps);
		assert_true((double)bytes * 8e12 / (double)((to - from) * bin) >=
			    0.965 * r.fail_capacity_bps);
		assert_true(r.recovery_ps >= 0 && r.recovery_ps <= 400 * SIM_PS_PER_US);
		sim_fini(&s);
		sim_config_fini(&cfg);
	}
}

/*
 * After a spine link fails, a sender whose leaf was told (by its receiver's
 * grant or its leader's answer) that the fabric rehashed forgets the source
 * ports it had learnt for other spines: its leaf's ECMP towards the failed
 * link's leaf changed even when its own port stayed on its spine. Kept,
 * those ports put pairs the failed leaf's downlinks' leader asked onto the
 * spine with room (the dead one, which nobody crosses any more) on the old
 * port, which now led over a surviving downlink: the pair and its leaders
 * counted it on the dead spine, and the survivors were shared as if four
 * carried it (`linkfail64` seed 5: 4 MB port p99 at spine0-down-leaf0, 863
 * ECN marks; seed 1: 1.5 MB). Forgotten, a move there needs a new batch of
 * probes, none of which reaches the dead downlink, and the move fails.
 */
static void linkfail_far_senders_forget_stale_ports(void **state)
{
	static const uint64_t seeds[] = { 1, 5 };
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/linkfail64.conf", dir);
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct sim_config cfg;
		struct sim_results r;
		struct sim s;

		assert_int_equal(sim_config_load(&cfg, path, seeds[i], stderr), 0);
		assert_int_equal(sim_init(&s, &cfg, sim_cc_find("tita"), NULL), 0);
		assert_int_equal(sim_run(&s, &r), 0);
		printf("# linkfail64 seed %llu port p99 %.0f KB marks %llu recovery %.0f us\n",
		       (unsigned long long)seeds[i], (double)r.port_q_p99_max_bytes / 1024,
		       (unsigned long long)r.ecn_marks, r.recovery_ps / SIM_PS_PER_US);
		assert_int_equal(r.flows_done, r.flows_total);
		assert_int_equal(r.pause_frames, 0);
		assert_true(r.port_q_p99_max_bytes <= 1024 * 1024);
		assert_true(r.ecn_marks <= 50);
		sim_fini(&s);
		sim_config_fini(&cfg);
	}
}

static void same_seed_same_figures(void **state)
{
	struct sim_results a, b;

	run("incast8", "tita", &a);
	run("incast8", "tita", &b);
	a.wall_s = b.wall_s = 0;
	assert_memory_equal(&a, &b, sizeof(a));
	run("leafspine", "dcqcn", &a);
	run("leafspine", "dcqcn", &b);
	a.wall_s = b.wall_s = 0;
	assert_memory_equal(&a, &b, sizeof(a));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_flow_line_rate),
		cmocka_unit_test(two_flows_converge_fair),
		cmocka_unit_test(incast_bounds),
		cmocka_unit_test(pair_flows_share_its_pacer),
		cmocka_unit_test(star_incast_goals),
		cmocka_unit_test(short_messages_go_whole),
		cmocka_unit_test(short_class_passes_the_ring),
		cmocka_unit_test(short_class_paused_on_its_own),
		cmocka_unit_test(leafspine_no_drops),
		cmocka_unit_test(ring_beside_light_incast),
		cmocka_unit_test(drained_port_resumes),
		cmocka_unit_test(baselines_pinned),
		cmocka_unit_test(tita_reacts_to_ce_on_the_uplink),
		cmocka_unit_test(pacer_bucket_catches_up),
		cmocka_unit_test(ring_across_leaves_placed),
		cmocka_unit_test(ring_on_fat_spines_never_stalls),
		cmocka_unit_test(ring_steps_never_wait_a_round),
		cmocka_unit_test(ring_steps_not_started_short),
		cmocka_unit_test(ring_pause_keeps_its_spine),
		cmocka_unit_test(permutation_across_leaves_placed),
		cmocka_unit_test(permutation_moves_told_at_once),
		cmocka_unit_test(permutation_leaders_share_the_control),
		cmocka_unit_test(ring_move_granted_while_draining),
		cmocka_unit_test(alltoall_small_pairs_levelled),
		cmocka_unit_test(steady_refresh_is_gated),
		cmocka_unit_test(linkfail_settles_with_margin),
		cmocka_unit_test(linkfail_far_senders_forget_stale_ports),
		cmocka_unit_test(alltoall_lines_weigh_their_pairs),
		cmocka_unit_test(jobs_of_small_pairs_keep_their_weights),
		cmocka_unit_test(same_seed_same_figures),
	};

	if (argc > 1)
		dir = argv[1];
	/* argv[2]: run only the tests whose names match (cmocka's pattern). */
	if (argc > 2)
		cmocka_set_test_filter(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
