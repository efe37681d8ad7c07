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
 *  - the flows of one tita pair share its pacer (none starves);
 *  - the reference star incast (32:1) with lib/'s defaults: completion
 *    within 3 % of the wire ideal, a p99 queue under 10 KB, no pause;
 *  - short messages between 8 hosts: tita's median near 1, its p99 close
 *    to HPCC's (a message waiting for a grant at the start rate is not);
 *  - the same seed gives the same results bit for bit.
 * argv[1] is the directory of the scenario files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static const char *dir = "tests/sim/scenarios";

static void run(const char *name, const char *cc, struct sim_results *r)
{
	char path[512];
	struct sim_config cfg;
	struct sim s;

	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	assert_int_equal(sim_config_load(&cfg, path, SIM_SEED_FROM_FILE, stderr), 0);
	assert_int_equal(sim_init(&s, &cfg, sim_cc_find(cc), NULL), 0);
	assert_int_equal(sim_run(&s, r), 0);
	printf("# %-10s %-13s q_p99 %6.1f KB  pauses %4llu  util %.3f  jain %.4f  "
	       "completion/bound %.4f  ctrl %.5f  %.2f M events/s\n",
	       name, cc, (double)r->q_p99_bytes / 1024, (unsigned long long)r->pause_frames,
	       r->util, r->jain, r->bound_ps > 0 ? r->completion_ps / r->bound_ps : 0, r->ctrl_frac,
	       r->wall_s > 0 ? (double)r->events / r->wall_s / 1e6 : 0);
	assert_int_equal(r->flows_done, r->flows_total);
	assert_int_equal(r->drops, 0);
	sim_fini(&s);
	sim_config_fini(&cfg);
}

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

static void leafspine_no_drops(void **state)
{
	struct sim_results r;

	for (int k = 0; sim_cc_all[k]; k++) {
		run("leafspine", sim_cc_all[k]->name, &r);
		assert_true(ratio(&r) < 1.6);
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
		cmocka_unit_test(leafspine_no_drops),
		cmocka_unit_test(ring_beside_light_incast),
		cmocka_unit_test(drained_port_resumes),
		cmocka_unit_test(same_seed_same_figures),
	};

	if (argc > 1)
		dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
