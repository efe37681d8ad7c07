// SPDX-License-Identifier: MIT
/*
 * Paths through the fabric: the ECMP hash of the 5-tuple (RoCEv2's UDP source
 * port is the entropy), the path probe against the spine the data really
 * crosses, re-pathing a flow after draining it, the bins of the switch
 * ports' queue histograms, a failed link (nothing crosses it after,
 * go-back-N recovers what it held, a lost tail is resent after the timeout)
 * and the max-min bound of what a fabric can carry.
 * argv[1] is the directory of the scenario files.
 */
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static const char *dir = "tests/sim/scenarios";

struct fixture {
	struct sim_config cfg;
	struct sim_cc_ops ops;
	struct sim s;
};

static void setup(struct fixture *x, const char *name, const char *const *sets, uint64_t seed)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	assert_int_equal(sim_config_load(&x->cfg, path, seed, stderr), 0);
	for (; sets && *sets; sets++)
		assert_int_equal(sim_config_set(&x->cfg, *sets, stderr), 0);
	x->ops = *sim_cc_find("none");
}

static void teardown(struct fixture *x)
{
	sim_fini(&x->s);
	sim_config_fini(&x->cfg);
}

/* Data bytes that left each spine. */
static void spine_bytes(const struct sim *s, uint64_t *ret)
{
	for (uint32_t sp = 0; sp < s->cfg->spines; sp++) {
		const struct sim_node *nd = &s->nodes[s->switches[s->cfg->leaves + sp].node];

		ret[sp] = 0;
		for (uint32_t k = 0; k < nd->n_ports; k++)
			ret[sp] += s->ports[nd->first_port + k].tx_data_bytes;
	}
}

static void sport_spreads_over_spines(void **state)
{
	static const char *const sets[] = { "topology.spines=16", NULL };
	struct fixture x;
	uint32_t count[16] = { 0 };
	const uint32_t n = SIM_SPORT_MAX - SIM_SPORT_MIN + 1;

	setup(&x, "fabric-small", sets, SIM_SEED_FROM_FILE);
	assert_int_equal(sim_init(&x.s, &x.cfg, &x.ops, NULL), 0);
	for (uint32_t sp = SIM_SPORT_MIN; sp <= SIM_SPORT_MAX; sp++) {
		uint32_t spine = sim_path_spine(&x.s, 0, 2, (uint16_t)sp);

		assert_true(spine < 16);
		/* The same 5-tuple always takes the same path. */
		assert_int_equal(sim_path_spine(&x.s, 0, 2, (uint16_t)sp), spine);
		count[spine]++;
	}
	/* 16,384 ports over 16 spines: 1,024 each; a uniform hash stays
	 * within a few standard deviations (32). */
	for (uint32_t k = 0; k < 16; k++)
		assert_true(count[k] > n / 16 - 160 && count[k] < n / 16 + 160);
	/* Hosts under one leaf never cross a spine. */
	assert_int_equal(sim_path_spine(&x.s, 0, 1, SIM_SPORT_MIN), SIM_NONE);
	teardown(&x);
}

static void seed_salts_the_hash(void **state)
{
	static const char *const sets[] = { "topology.spines=16", NULL };
	struct fixture a, b;
	uint32_t same = 0;

	setup(&a, "fabric-small", sets, 1);
	setup(&b, "fabric-small", sets, 2);
	assert_int_equal(sim_init(&a.s, &a.cfg, &a.ops, NULL), 0);
	assert_int_equal(sim_init(&b.s, &b.cfg, &b.ops, NULL), 0);
	for (uint32_t sp = SIM_SPORT_MIN; sp < SIM_SPORT_MIN + 1024; sp++)
		same += sim_path_spine(&a.s, 0, 2, (uint16_t)sp) ==
			sim_path_spine(&b.s, 0, 2, (uint16_t)sp);
	/* Another seed, another hash: a 1/16 chance of the same spine. */
	assert_true(same < 1024 / 16 + 40);
	teardown(&a);
	teardown(&b);
}

struct probe_answer {
	uint32_t n, host, dst, spine;
	uint16_t sport;
} answer;

static void record_answer(struct sim *s, uint32_t host, uint32_t dst, uint16_t sport,
			  uint32_t spine)
{
	answer.n++;
	answer.host = host;
	answer.dst = dst;
	answer.sport = sport;
	answer.spine = spine;
}

static void probe_names_the_spine_data_crosses(void **state)
{
	for (uint32_t k = 0; k < 8; k++) {
		struct fixture x;
		uint16_t sport = (uint16_t)(SIM_SPORT_MIN + 977 * k);
		uint64_t bytes[4];
		uint32_t crossed = SIM_NONE;

		setup(&x, "fabric-small", NULL, SIM_SEED_FROM_FILE);
		x.ops.on_probe_reply = record_answer;
		assert_int_equal(sim_init(&x.s, &x.cfg, &x.ops, NULL), 0);
		sim_flow_set_sport(&x.s, &x.s.flows[0], sport);
		memset(&answer, 0, sizeof(answer));
		sim_probe_send(&x.s, 0, 2, sport);
		{
			struct sim_results r;

			assert_int_equal(sim_run(&x.s, &r), 0);
			assert_int_equal(r.flows_done, 1);
		}
		spine_bytes(&x.s, bytes);
		for (uint32_t sp = 0; sp < 4; sp++)
			if (bytes[sp]) {
				assert_int_equal(crossed, SIM_NONE); /* one path */
				crossed = sp;
			}
		assert_int_equal(answer.n, 1);
		assert_int_equal(answer.host, 0);
		assert_int_equal(answer.dst, 2);
		assert_int_equal(answer.sport, sport);
		assert_int_equal(answer.spine, crossed);
		/* Probe and answer are the hosts' control traffic. */
		assert_int_equal(x.s.hosts[0].ctrl_rx_bytes, SIM_PROBE_REPLY_BYTES);
		assert_int_equal(x.s.hosts[0].ctrl_tx_bytes, SIM_PROBE_BYTES);
		teardown(&x);
	}
}

static void probe_under_one_leaf_names_no_spine(void **state)
{
	struct fixture x;
	struct sim_results r;

	setup(&x, "fabric-small", NULL, SIM_SEED_FROM_FILE);
	x.ops.on_probe_reply = record_answer;
	assert_int_equal(sim_init(&x.s, &x.cfg, &x.ops, NULL), 0);
	memset(&answer, 0, sizeof(answer));
	sim_probe_send(&x.s, 0, 1, SIM_SPORT_MIN + 5);
	assert_int_equal(sim_run(&x.s, &r), 0);
	assert_int_equal(answer.n, 1);
	assert_int_equal(answer.dst, 1);
	assert_int_equal(answer.spine, SIM_NONE);
	/* The destination answered: its control traffic too. */
	assert_int_equal(x.s.hosts[1].ctrl_rx_bytes, SIM_PROBE_BYTES);
	assert_int_equal(x.s.hosts[1].ctrl_tx_bytes, SIM_PROBE_REPLY_BYTES);
	teardown(&x);
}

/* Re-path a flow half way: hold it, wait for its bytes in flight to reach
 * zero, move it to a port on another spine, release it. */
static struct {
	uint16_t new_sport;
	uint32_t drained_calls;
	uint64_t held_at_bytes;
	bool asked;
} repath;

static void repath_on_event(struct sim *s, struct sim_flow *f, enum sim_cc_event ev,
			    const struct sim_pkt *pkt, uint64_t arg)
{
	if (ev != SIM_CC_TX || repath.asked || f->sent_bytes < f->size_bytes / 2)
		return;
	repath.asked = true;
	repath.held_at_bytes = f->sent_bytes;
	sim_flow_hold(s, f, true);
	assert_false(sim_flow_await_drain(s, f));
	assert_true(sim_flow_inflight_bytes(f) > 0);
}

static void repath_on_drained(struct sim *s, struct sim_flow *f)
{
	repath.drained_calls++;
	assert_int_equal(sim_flow_inflight_bytes(f), 0);
	assert_int_equal(f->sent_bytes, repath.held_at_bytes);
	sim_flow_set_sport(s, f, repath.new_sport);
	sim_flow_hold(s, f, false);
}

static void drained_flow_moves_to_another_spine(void **state)
{
	struct fixture x;
	struct sim_results r;
	uint64_t bytes[4];
	uint32_t old_spine, new_spine = SIM_NONE;

	setup(&x, "fabric-small", NULL, SIM_SEED_FROM_FILE);
	x.ops.on_event = repath_on_event;
	x.ops.on_drained = repath_on_drained;
	assert_int_equal(sim_init(&x.s, &x.cfg, &x.ops, NULL), 0);
	memset(&repath, 0, sizeof(repath));
	old_spine = sim_path_spine(&x.s, 0, 2, x.s.flows[0].sport);
	for (uint32_t sp = SIM_SPORT_MIN; new_spine == SIM_NONE || new_spine == old_spine; sp++) {
		repath.new_sport = (uint16_t)sp;
		new_spine = sim_path_spine(&x.s, 0, 2, repath.new_sport);
	}
	assert_int_equal(sim_run(&x.s, &r), 0);
	assert_int_equal(r.flows_done, 1);
	assert_int_equal(repath.drained_calls, 1);
	spine_bytes(&x.s, bytes);
	/* Everything sent before the hold crossed the old spine, the rest the
	 * new one; nothing was lost or sent twice. */
	for (uint32_t sp = 0; sp < 4; sp++) {
		if (sp == old_spine)
			assert_int_equal(bytes[sp], sim_wire_bytes(repath.held_at_bytes,
								   x.cfg.mtu_bytes, SIM_HDR_BYTES));
		else if (sp == new_spine)
			assert_int_equal(bytes[sp],
					 sim_wire_bytes(x.s.flows[0].size_bytes, x.cfg.mtu_bytes,
							SIM_HDR_BYTES) -
						 sim_wire_bytes(repath.held_at_bytes,
								x.cfg.mtu_bytes, SIM_HDR_BYTES));
		else
			assert_int_equal(bytes[sp], 0);
	}
	teardown(&x);
}

static void portq_bins(void **state)
{
	uint32_t last = 0;

	/* 4 KB bins to 1 MB, then four per octave; every queue falls in the
	 * bin whose lower edge is the largest not above it. */
	assert_int_equal(sim_portq_bin(0), 0);
	assert_int_equal(sim_portq_bin(4095), 0);
	assert_int_equal(sim_portq_bin(4096), 1);
	assert_int_equal(sim_portq_bin((1 << 20) - 1), SIM_PORTQ_LIN_BINS - 1);
	assert_int_equal(sim_portq_bin(1 << 20), SIM_PORTQ_LIN_BINS);
	assert_int_equal(sim_portq_bin_bytes(SIM_PORTQ_LIN_BINS + 1), (1 << 20) + (1 << 18));
	assert_int_equal(sim_portq_bin_bytes(SIM_PORTQ_LIN_BINS + 4), 2 << 20);
	for (uint64_t q = 0; q < (64ull << 30); q = q * 9 / 8 + 1000) {
		uint32_t b = sim_portq_bin(q);

		assert_true(b >= last && b < SIM_PORTQ_BINS);
		assert_true(sim_portq_bin_bytes(b) <= q);
		if (b + 1 < SIM_PORTQ_BINS)
			assert_true(sim_portq_bin_bytes(b + 1) > q);
		last = b;
	}
}

static void add_fault(struct sim_config *c, uint32_t leaf, uint32_t spine, uint64_t at_ps)
{
	c->faults = realloc(c->faults, (c->n_faults + 1) * sizeof(*c->faults));
	assert_non_null(c->faults);
	c->faults[c->n_faults++] =
		(struct sim_fault){ .leaf = leaf, .spine = spine, .at_ps = at_ps };
}

/* The spine ports of the link between leaf 0 and spine sp. */
static void failed_ports(const struct sim *s, uint32_t sp, uint32_t *ret_a, uint32_t *ret_b)
{
	const struct sim_node *leaf = &s->nodes[s->switches[0].node];

	/* fail_msg() does not return, but gcc cannot see it. */
	*ret_a = *ret_b = 0;
	for (uint32_t k = 0; k < leaf->n_ports; k++) {
		uint32_t a = leaf->first_port + k, b = s->ports[a].peer;

		if (s->ports[b].node == s->switches[s->cfg->leaves + sp].node) {
			*ret_a = a;
			*ret_b = b;
			return;
		}
	}
	fail_msg("no link leaf 0 - spine %u", sp);
}

static void failed_link_carries_nothing_after(void **state)
{
	static const char *const cut[] = { "run.max_time_ms=0.08", NULL };
	static const char *const ccs[] = { "none", "dcqcn", "tita" };

	for (size_t c = 0; c < sizeof(ccs) / sizeof(ccs[0]); c++) {
		struct fixture x;
		struct sim_results r;
		uint64_t before_a, before_b;
		uint32_t a, b;

		/* Up to the failure (80 us), then the whole run. */
		setup(&x, "linkfail", cut, SIM_SEED_FROM_FILE);
		assert_int_equal(sim_init(&x.s, &x.cfg, sim_cc_find(ccs[c]), NULL), 0);
		assert_int_equal(sim_run(&x.s, &r), 0);
		failed_ports(&x.s, 1, &a, &b);
		assert_true(x.s.ports[a].down && x.s.ports[b].down);
		before_a = x.s.ports[a].tx_bytes;
		before_b = x.s.ports[b].tx_bytes;
		assert_true(before_a > 0 && before_b > 0);
		teardown(&x);

		setup(&x, "linkfail", NULL, SIM_SEED_FROM_FILE);
		assert_int_equal(sim_init(&x.s, &x.cfg, sim_cc_find(ccs[c]), NULL), 0);
		assert_int_equal(sim_run(&x.s, &r), 0);
		assert_int_equal(r.flows_done, r.flows_total);
		assert_int_equal(r.drops, 0);
		assert_int_equal(x.s.ports[a].tx_bytes, before_a);
		assert_int_equal(x.s.ports[b].tx_bytes, before_b);
		/* It held packets; go-back-N sent them again. */
		assert_true(r.lost_pkts > 0);
		assert_true(r.retx_bytes > 0);
		assert_true(r.naks > 0);
		assert_true(r.failure);
		assert_int_equal(r.stuck_flows, 0);
		assert_true(r.recovery_ps >= 0 && r.recovery_ps <= 200 * SIM_PS_PER_US);
		assert_true(r.fail_capacity_bps > 0);
		/* 256 KB each: no control is far off the bound (tita once
		 * held every pair its sender did not place at the start rate:
		 * 6.9x, and nothing in flight on the link that failed). */
		assert_true(r.completion_ps < 1.6 * r.bound_ps);
		teardown(&x);
	}
}

static void lost_tail_resent_after_timeout(void **state)
{
	struct fixture x;
	struct sim_results r;
	uint32_t spine;

	/* The last packets of the only flow are on its spine's link when the
	 * link fails: no later packet shows the gap, the timer must. */
	setup(&x, "fabric-small", NULL, SIM_SEED_FROM_FILE);
	assert_int_equal(sim_init(&x.s, &x.cfg, &x.ops, NULL), 0);
	spine = sim_path_spine(&x.s, 0, 2, x.s.flows[0].sport);
	sim_fini(&x.s);
	/* 245 packets of 4,158 bytes at 100G: the last leaves the host at
	 * 81.3 us and the leaf for the spine at 82.3 us; at 82.5 us it and the
	 * one before it are on the wire. */
	add_fault(&x.cfg, 0, spine, 82500 * SIM_PS_PER_NS);
	assert_int_equal(sim_init(&x.s, &x.cfg, &x.ops, NULL), 0);
	assert_int_equal(sim_run(&x.s, &r), 0);
	assert_int_equal(r.flows_done, 1);
	assert_true(r.lost_pkts > 0);
	assert_true(r.rtos >= 1);
	assert_true(x.s.flows[0].retx_bytes > 0);
	/* Done one timeout after the loss, give or take a round trip. */
	assert_true(x.s.flows[0].finish_ps > 82500 * SIM_PS_PER_NS + x.cfg.rto_ps);
	assert_true(x.s.flows[0].finish_ps <
		    82500 * SIM_PS_PER_NS + x.cfg.rto_ps + 20 * SIM_PS_PER_US);
	/* The flow's packets after the failure took another spine. */
	assert_int_equal(sim_path_spine(&x.s, 0, 2, x.s.flows[0].sport) == spine, false);
	teardown(&x);
}

/* fabric-small with `spines` spines and the flows 0->2, 1->3 and 0->1. */
static void three_flows(struct fixture *x, uint32_t spines)
{
	setup(x, "fabric-small", NULL, SIM_SEED_FROM_FILE);
	x->cfg.spines = spines;
	x->cfg.flows = realloc(x->cfg.flows, 3 * sizeof(*x->cfg.flows));
	assert_non_null(x->cfg.flows);
	x->cfg.n_flows = 3;
	x->cfg.flows[1] = x->cfg.flows[0];
	x->cfg.flows[1].src = 1;
	x->cfg.flows[1].dst = 3;
	x->cfg.flows[2] = x->cfg.flows[0];
	x->cfg.flows[2].dst = 1;
	assert_int_equal(sim_init(&x->s, &x->cfg, &x->ops, NULL), 0);
}

static void maxmin_by_hand(void **state)
{
	struct fixture x;
	uint32_t ids[3] = { 0, 1, 2 }, a, b;
	double eff = 4096.0 / (4096 + SIM_HDR_BYTES);

	/* One spine at 100G: 0->2 and 1->3 share leaf 0's one uplink (50G
	 * each); 0->1 stays under the leaf and shares host 0's uplink with
	 * 0->2 (50G). */
	three_flows(&x, 1);
	assert_true(fabs(sim_maxmin_capacity_bps(&x.s, ids, 3) - 150e9 * eff) < 1);
	/* Alone, a flow gets its host link. */
	assert_true(fabs(sim_maxmin_capacity_bps(&x.s, ids, 1) - 100e9 * eff) < 1);
	teardown(&x);

	/* Two spines: host 0's uplink is the bottleneck of 0->2 and 0->1 (50G
	 * each), 1->3 runs at 100G. With one link down leaf 0 keeps 100G up,
	 * which 0->2 and 1->3 share: 50G each, and 0->1 50G. */
	three_flows(&x, 2);
	assert_true(fabs(sim_maxmin_capacity_bps(&x.s, ids, 3) - 200e9 * eff) < 1);
	failed_ports(&x.s, 1, &a, &b);
	x.s.ports[a].down = x.s.ports[b].down = true;
	assert_true(fabs(sim_maxmin_capacity_bps(&x.s, ids, 3) - 150e9 * eff) < 1);
	teardown(&x);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sport_spreads_over_spines),
		cmocka_unit_test(seed_salts_the_hash),
		cmocka_unit_test(probe_names_the_spine_data_crosses),
		cmocka_unit_test(probe_under_one_leaf_names_no_spine),
		cmocka_unit_test(drained_flow_moves_to_another_spine),
		cmocka_unit_test(portq_bins),
		cmocka_unit_test(failed_link_carries_nothing_after),
		cmocka_unit_test(lost_tail_resent_after_timeout),
		cmocka_unit_test(maxmin_by_hand),
	};

	if (argc > 1)
		dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
