// SPDX-License-Identifier: MIT
/*
 * The scenario parser: generators make the flows they should, values are
 * range-checked, errors name the line, and every shipped scenario (argv[1])
 * sets up.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static int parse(struct sim_config *c, const char *text, char *err, size_t err_len)
{
	FILE *f = fmemopen(err, err_len, "w");
	int rc;

	memset(err, 0, err_len);
	rc = sim_config_parse(c, text, strlen(text), "t.conf", SIM_SEED_FROM_FILE, f);
	fclose(f);
	return rc;
}

static void generators(void **state)
{
	struct sim_config c;
	char err[256];
	const char *text = "[topology]\nkind = single\nhosts = 8\n"
			   "[run]\nseed = 7\n"
			   "[tita]\ncontrol_interval_us = 50\n"
			   "[traffic]\n"
			   "incast dst=0 src=1-4 size=1MB at=5us\n"
			   "alltoall hosts=0-3 size=64KiB\n"
			   "ring name=ar hosts=4-7 size=4MB primary\n"
			   "flow src=1 dst=2 until=1ms\n";

	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_groups, 4);
	assert_int_equal(c.groups[0].n_flows, 4);
	assert_int_equal(c.flows[0].size_bytes, 1000000);
	assert_int_equal(c.flows[0].start_ps, 5 * SIM_PS_PER_US);
	assert_int_equal(c.groups[1].n_flows, 12);
	assert_int_equal(c.flows[4].size_bytes, 65536);
	/* ring: 2(N-1) = 6 steps of N = 4 chunks of 1 MB */
	assert_int_equal(c.groups[2].n_flows, 24);
	assert_true(c.groups[2].primary);
	assert_false(c.groups[0].primary);
	assert_int_equal(c.groups[2].ring_chunk_bytes, 1000000);
	{
		const struct sim_flow_spec *f = &c.flows[c.groups[2].first_flow + 4 + 1];

		/* step 1, rank 1 waits for its own step 0 and rank 0's */
		assert_int_equal(f->n_dep, 2);
		assert_int_equal(f->dep[0], c.groups[2].first_flow + 1);
		assert_int_equal(f->dep[1], c.groups[2].first_flow + 0);
	}
	assert_int_equal(c.flows[c.n_flows - 1].size_bytes, 0);
	assert_int_equal(c.flows[c.n_flows - 1].stop_ps, SIM_PS_PER_MS);
	{
		double v;

		assert_true(sim_config_get(&c, "tita.control_interval_us", &v));
		assert_true(v == 50);
	}
	sim_config_fini(&c);
}

static void errors_name_the_line(void **state)
{
	struct sim_config c;
	char err[256];

	assert_int_equal(parse(&c, "[topology]\nhosts = 1\n[traffic]\n", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.conf:2:"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c, "[run]\nbogus = 1\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.conf:2: unknown key 'bogus'"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c, "[tita]\nnot_a_param = 1\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tita.not_a_param"));
	sim_config_fini(&c);
	/* tita's keys and ranges are lib's parameter table's. */
	assert_int_equal(parse(&c, "[tita]\neta = 1.5\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.conf:2: tita.eta: 1.5 out of range (0.05..1)"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c, "[tita]\ngrant_ttl_us = 60000001\n", err, sizeof(err)), -EINVAL);
	assert_non_null(
		strstr(err, "t.conf:2: tita.grant_ttl_us: 6e+07 out of range (2..60000000)"));
	sim_config_fini(&c);
	/* Durations are microseconds: the field's "_ns" name is not a key. */
	assert_int_equal(parse(&c, "[tita]\ngrant_ttl_ns = 1\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown parameter 'tita.grant_ttl_ns'"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c,
			       "[topology]\nhosts = 4\n[traffic]\n"
			       "incast dst=0 src=1-9 size=1MB\n",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.conf:4:"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c, "[traffic]\nflow src=0 dst=1 size=10XB\n", err, sizeof(err)),
			 -EINVAL);
	sim_config_fini(&c);
	assert_int_equal(parse(&c, "[run]\nseed = 1\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no [traffic]"));
	sim_config_fini(&c);
}

/* Every parameter of lib's table is a tita key, durations in microseconds. */
static void tita_keys_are_lib_params(void **state)
{
	size_t n;
	const struct tita_param *t = tita_ctl_param_table(&n);
	struct tita_ctl_params p;

	for (size_t i = 0; i < n; i++) {
		char key[80], name[64];
		double scale = t[i].kind == TITA_PARAM_DURATION ? 1e3 : 1;

		snprintf(key, sizeof(key), "tita.%s", sim_tita_key(&t[i], name, sizeof(name)));
		tita_ctl_params_default(&p);
		assert_int_equal(sim_params_set(key, t[i].max / scale, NULL, NULL, &p), 0);
		assert_true(tita_ctl_param_get(&p, &t[i]) == t[i].max);
		assert_int_equal(sim_params_set(key, t[i].min / scale, NULL, NULL, &p), 0);
		assert_true(tita_ctl_param_get(&p, &t[i]) == t[i].min);
		assert_int_equal(sim_params_set(key, t[i].max / scale * 2 + 1, NULL, NULL, &p),
				 -ERANGE);
		assert_true(tita_ctl_param_get(&p, &t[i]) == t[i].min);
	}
	tita_ctl_params_default(&p);
	assert_int_equal(sim_params_set("tita.control_interval_us", 2.5, NULL, NULL, &p), 0);
	assert_true(p.control_interval_ns == 2500);
}

static void seed_fixes_workload(void **state)
{
	struct sim_config a, b, d;
	char err[256];
	const char *text = "[topology]\nhosts = 8\n[run]\nseed = 5\n[traffic]\n"
			   "websearch hosts=all load=0.5 duration=1ms\n";

	assert_int_equal(parse(&a, text, err, sizeof(err)), 0);
	assert_int_equal(parse(&b, text, err, sizeof(err)), 0);
	assert_int_equal(a.n_flows, b.n_flows);
	assert_memory_equal(a.flows, b.flows, a.n_flows * sizeof(a.flows[0]));
	assert_int_equal(sim_config_parse(&d, text, strlen(text), "t", 6, NULL), 0);
	assert_true(d.n_flows != a.n_flows ||
		    memcmp(a.flows, d.flows, a.n_flows * sizeof(a.flows[0])));
	sim_config_fini(&a);
	sim_config_fini(&b);
	sim_config_fini(&d);
}

/* Short messages: Poisson arrivals at the load, sizes uniform within the
 * bounds, never to the sender itself; bounds that make no sense refused. */
static void messages(void **state)
{
	struct sim_config c;
	char err[256];
	const char *text =
		"[topology]\nhosts = 8\nhost_gbps = 100\n[traffic]\n"
		"messages name=m hosts=all load=0.2 duration=1ms min=4KB max=64KB job=1\n";
	uint64_t bytes = 0;
	FILE *f;

	(void)state;
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_true(c.n_flows > 100);
	for (uint32_t k = 0; k < c.n_flows; k++) {
		assert_true(c.flows[k].size_bytes >= 4000 && c.flows[k].size_bytes <= 64000);
		assert_true(c.flows[k].src != c.flows[k].dst);
		assert_int_equal(c.flows[k].job, 1);
		bytes += c.flows[k].size_bytes;
	}
	/* 20 % of 8 x 100G for 1 ms: 20 MB, give or take what Poisson gives. */
	assert_true(bytes > 16000000 && bytes < 24000000);
	f = fmemopen(err, sizeof(err), "w");
	assert_int_equal(sim_config_set(&c, "traffic.size=1MB", f), -EINVAL);
	fclose(f);
	assert_non_null(strstr(err, "[min, max]"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c,
			       "[topology]\nhosts = 4\n[traffic]\n"
			       "messages hosts=all load=0.2 duration=1ms min=64KB max=4KB\n",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.conf:4: messages needs"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c,
			       "[topology]\nhosts = 4\n[traffic]\n"
			       "messages hosts=all load=0.2 duration=1ms min=4QB max=8KB\n",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "min: '4QB' is not a size"));
	sim_config_fini(&c);
}

static void shift_and_size_override(void **state)
{
	struct sim_config c;
	char err[256];
	const char *text = "[topology]\nkind = leafspine\nleaves = 2\nhosts_per_leaf = 4\n"
			   "[traffic]\n"
			   "shift name=a hosts=0-1,4-5 by=2 size=1MB job=1 weight=3\n"
			   "ring name=r hosts=2,6,3,7 size=4MB job=2\n"
			   "flow src=0 dst=1 until=1ms\n";
	FILE *f;

	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	/* The i-th host of the list sends to the (i+2)-th: across leaves. */
	assert_int_equal(c.groups[0].n_flows, 4);
	assert_int_equal(c.flows[0].src, 0);
	assert_int_equal(c.flows[0].dst, 4);
	assert_int_equal(c.flows[1].dst, 5);
	assert_int_equal(c.flows[2].dst, 0);
	assert_int_equal(c.flows[3].src, 5);
	assert_int_equal(c.flows[3].dst, 1);
	assert_int_equal(c.job_weight_milli[1], 3000);
	/* --set traffic.size: sized generators take it, a ring in chunks, a
	 * timed flow keeps running until its stop. */
	f = fmemopen(err, sizeof(err), "w");
	assert_int_equal(sim_config_set(&c, "traffic.size=200MB", f), 0);
	fclose(f);
	assert_int_equal(c.flows[0].size_bytes, 200000000);
	assert_int_equal(c.groups[1].ring_chunk_bytes, 50000000);
	assert_int_equal(c.flows[c.groups[1].first_flow].size_bytes, 50000000);
	assert_int_equal(c.flows[c.n_flows - 1].size_bytes, 0);
	f = fmemopen(err, sizeof(err), "w");
	assert_int_equal(sim_config_set(&c, "traffic.size=lots", f), -EINVAL);
	fclose(f);
	assert_non_null(strstr(err, "traffic.size"));
	f = fmemopen(err, sizeof(err), "w");
	assert_int_equal(sim_config_set(&c, "traffic.hosts=4", f), -EINVAL);
	fclose(f);
	sim_config_fini(&c);

	assert_int_equal(parse(&c,
			       "[topology]\nhosts = 4\n[traffic]\nshift hosts=0-3 by=4 size=1MB\n",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.conf:4: shift needs"));
	sim_config_fini(&c);
	assert_int_equal(parse(&c,
			       "[topology]\nhosts = 4\n[traffic]\n"
			       "websearch hosts=all load=0.5 duration=1ms\n",
			       err, sizeof(err)),
			 0);
	f = fmemopen(err, sizeof(err), "w");
	assert_int_equal(sim_config_set(&c, "traffic.size=1MB", f), -EINVAL);
	fclose(f);
	assert_non_null(strstr(err, "WebSearch"));
	sim_config_fini(&c);
}

static void faults(void **state)
{
	struct sim_config c;
	char err[256];
	const char *ls = "[topology]\nkind = leafspine\nleaves = 4\nspines = 2\n"
			 "[traffic]\nflow src=0 dst=5 size=1MB\n[faults]\n";
	char text[512];

	snprintf(text, sizeof(text), "%slink leaf=3 spine=1 at=2.5ms\nlink spine=0 leaf=0 at=1us\n",
		 ls);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_faults, 2);
	assert_int_equal(c.faults[0].leaf, 3);
	assert_int_equal(c.faults[0].spine, 1);
	assert_int_equal(c.faults[0].at_ps, 2500 * SIM_PS_PER_US);
	assert_int_equal(c.faults[1].at_ps, SIM_PS_PER_US);
	sim_config_fini(&c);

	snprintf(text, sizeof(text), "%slink leaf=3 spine=2 at=1ms\n", ls);
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no link between leaf 3 and spine 2"));
	sim_config_fini(&c);
	snprintf(text, sizeof(text), "%slink leaf=1 spine=0\n", ls);
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.conf:8: link needs: link leaf=L spine=S at=T"));
	sim_config_fini(&c);
	snprintf(text, sizeof(text), "%sswitch leaf=1 at=1ms\n", ls);
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown fault 'switch'"));
	sim_config_fini(&c);
	snprintf(text, sizeof(text), "%slink leaf=x spine=0 at=1ms\n", ls);
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "leaf: 'x' is not a switch number"));
	sim_config_fini(&c);
	/* A single switch has no spine links. */
	assert_int_equal(parse(&c,
			       "[topology]\nhosts = 4\n[traffic]\nflow src=0 dst=1 size=1MB\n"
			       "[faults]\nlink leaf=0 spine=0 at=1ms\n",
			       err, sizeof(err)),
			 -EINVAL);
	sim_config_fini(&c);
}

/* The faults of issue 14, and what each refuses. */
static void host_faults(void **state)
{
	struct sim_config c;
	char err[256];
	const char *ls = "[topology]\nkind = leafspine\nleaves = 4\nspines = 2\n"
			 "[traffic]\nflow src=0 dst=5 size=1MB\n[faults]\n";
	char text[1024];
	static const struct {
		const char *line, *err;
	} bad[] = {
		{ "slownic host=3 frac=1.5 at=1ms", "t.conf:8: frac: '1.5' is not in (0, 1)" },
		{ "slownic host=3 frac=0 at=1ms", "frac: '0' is not in (0, 1)" },
		{ "slownic host=3 at=1ms", "t.conf:8: slownic needs: slownic host=H frac=F at=T" },
		{ "slownic leaf=1 spine=0 frac=0.5 at=1ms", "slownic takes no leaf=" },
		{ "slowhost host=3 drop=0.1 frac=0.5 at=1ms", "slowhost takes no drop=" },
		{ "lossy host=3 frac=0.5 at=1ms", "lossy takes no frac=" },
		{ "lossy host=3 drop=1 at=1ms", "drop: '1' is not in (0, 1)" },
		{ "lossy host=3 leaf=1 spine=0 drop=0.1 at=1ms",
		  "lossy needs: lossy (host=H | leaf=L spine=S) drop=P at=T" },
		{ "slowlink leaf=1 frac=0.5 at=1ms", "slowlink needs" },
		{ "dead host=8 at=1ms", "t.conf:8: dead: no host 8 (hosts 0..7)" },
		{ "dead host=-1 at=1ms", "host: '-1' is not a host number" },
		{ "dead host=2", "dead needs: dead host=H at=T" },
		{ "pfcstorm host=2 at=soon", "at: 'soon' is not a time" },
		{ "pfcstorm host=2 at=1ms frac=0.5", "pfcstorm takes no frac=" },
		{ "slowlink leaf=1 spine=2 frac=0.5 at=1ms",
		  "slowlink: no link between leaf 1 and spine 2" },
		{ "dead host 2 at=1ms", "'host' is not key=value" },
	};

	(void)state;
	snprintf(text, sizeof(text),
		 "%sslowhost host=3 frac=0.25 at=1ms\nslownic host=7 frac=0.5 at=2ms\n"
		 "slowlink host=1 frac=0.125 at=3ms\nslowlink leaf=3 spine=1 frac=0.5 at=4ms\n"
		 "lossy leaf=2 spine=0 drop=0.01 at=5ms\nlossy host=6 drop=0.5 at=6ms\n"
		 "dead host=4 at=7ms\npfcstorm host=5 at=8ms\n",
		 ls);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_faults, 8);
	assert_int_equal(c.faults[0].kind, SIM_FAULT_SLOWHOST);
	assert_true(c.faults[0].on_host);
	assert_int_equal(c.faults[0].host, 3);
	assert_true(c.faults[0].frac == 0.25);
	assert_int_equal(c.faults[0].at_ps, SIM_PS_PER_MS);
	assert_int_equal(c.faults[1].kind, SIM_FAULT_SLOWNIC);
	assert_int_equal(c.faults[1].host, 7);
	assert_int_equal(c.faults[2].kind, SIM_FAULT_SLOWLINK);
	assert_true(c.faults[2].on_host);
	assert_true(c.faults[2].frac == 0.125);
	assert_int_equal(c.faults[3].kind, SIM_FAULT_SLOWLINK);
	assert_false(c.faults[3].on_host);
	assert_int_equal(c.faults[3].leaf, 3);
	assert_int_equal(c.faults[3].spine, 1);
	assert_int_equal(c.faults[4].kind, SIM_FAULT_LOSSY);
	assert_false(c.faults[4].on_host);
	assert_true(c.faults[4].drop == 0.01);
	assert_int_equal(c.faults[5].kind, SIM_FAULT_LOSSY);
	assert_int_equal(c.faults[5].host, 6);
	assert_int_equal(c.faults[6].kind, SIM_FAULT_DEAD);
	assert_int_equal(c.faults[6].host, 4);
	assert_int_equal(c.faults[7].kind, SIM_FAULT_PFCSTORM);
	assert_int_equal(c.faults[7].at_ps, 8 * SIM_PS_PER_MS);
	assert_string_equal(sim_fault_kind_name(c.faults[7].kind), "pfcstorm");
	/* And they set up. */
	{
		struct sim sim;

		assert_int_equal(sim_init(&sim, &c, sim_cc_find("tita"), NULL), 0);
		sim_fini(&sim);
	}
	sim_config_fini(&c);

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		snprintf(text, sizeof(text), "%s%s\n", ls, bad[k].line);
		assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[k].err))
			fail_msg("'%s': got '%s', want '%s'", bad[k].line, err, bad[k].err);
		sim_config_fini(&c);
	}
}

/* ring and alltoall repeat=N and until=T; telemetry_interval_us. */
static void repeats(void **state)
{
	struct sim_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c,
			       "[topology]\nkind = single\nhosts = 8\nhost_gbps = 100\n"
			       "[run]\ntelemetry_interval_us = 500\n"
			       "[traffic]\nring hosts=0-3 size=4MB repeat=3\n"
			       "alltoall hosts=4-7 size=1MB until=1ms\n"
			       "ring hosts=0-3 size=4MB repeat=2 until=1s\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(c.telemetry_interval_ps, 500 * SIM_PS_PER_US);
	/* 3 runs of 6 steps of 4 chunks, one chain: run 2's first step waits
	 * for run 1's last. */
	assert_int_equal(c.groups[0].n_flows, 3 * 6 * 4);
	assert_int_equal(c.groups[0].ring_steps, 18);
	{
		const struct sim_flow_spec *f = &c.flows[6 * 4 + 2];

		assert_int_equal(f->n_dep, 2);
		assert_int_equal(f->dep[0], 5 * 4 + 2);
		assert_int_equal(f->dep[1], 5 * 4 + 1);
		assert_int_equal(f->latest_start_ps, 0);
	}
	/* alltoall: a run sends 3 MB a rank, 240 us at 100G: 5 runs fit in
	 * 1 ms (ceil(1000 / 240)); run 2's 4 -> 5 waits for run 1's 4 -> 5,
	 * and what 7 sent to 4 (the same offset) in run 1. */
	assert_int_equal(c.groups[1].n_flows, 5 * 12);
	{
		uint32_t first = c.groups[1].first_flow;
		const struct sim_flow_spec *f = &c.flows[first + 12];

		assert_int_equal(f->src, 4);
		assert_int_equal(f->dst, 5);
		assert_int_equal(f->n_dep, 2);
		assert_int_equal(c.flows[f->dep[0]].src, 4);
		assert_int_equal(c.flows[f->dep[0]].dst, 5);
		assert_int_equal(c.flows[f->dep[1]].src, 7);
		assert_int_equal(c.flows[f->dep[1]].dst, 4);
		assert_int_equal(f->latest_start_ps, SIM_PS_PER_MS);
		assert_int_equal(c.flows[first].n_dep, 0);
	}
	/* repeat bounds until */
	assert_int_equal(c.groups[2].n_flows, 2 * 6 * 4);
	sim_config_fini(&c);

	assert_int_equal(parse(&c,
			       "[topology]\nhosts = 8\n[traffic]\n"
			       "permutation hosts=all size=1MB repeat=2\n",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.conf:4: permutation takes neither repeat= nor until="));
	sim_config_fini(&c);
	assert_int_equal(
		parse(&c, "[topology]\nhosts = 8\n[traffic]\nring hosts=all size=1MB repeat=0\n",
		      err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "repeat: '0' is not in 1..100000"));
	sim_config_fini(&c);
	assert_int_equal(
		parse(&c,
		      "[topology]\nhosts = 8\n[traffic]\nring hosts=all size=1MB at=2ms until=1ms\n",
		      err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "until must be after at"));
	sim_config_fini(&c);
	assert_int_equal(
		parse(&c, "[topology]\nhosts = 8\n[traffic]\nflow src=0 dst=1 size=1MB repeat=2\n",
		      err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "flow takes no repeat="));
	sim_config_fini(&c);
	assert_int_equal(
		parse(&c,
		      "[topology]\nhosts = 4096\n[traffic]\nalltoall hosts=all size=1B repeat=2\n",
		      err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "more than 4194304 flows"));
	sim_config_fini(&c);
	assert_int_equal(
		parse(&c,
		      "[topology]\nhosts = 4\n[run]\ntelemetry_interval_us = 5\n[traffic]\nflow src=0 dst=1 size=1MB\n",
		      err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "telemetry_interval_us: 5 outside 10..1e+07"));
	sim_config_fini(&c);
}

static const char *shipped_dir;

/* Every file in sim/scenarios parses and sets up under every control. */
static void shipped_scenarios_set_up(void **state)
{
	DIR *d;
	struct dirent *e;
	uint32_t n = 0;

	if (!shipped_dir)
		skip();
	d = opendir(shipped_dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char path[1024];
		struct sim_config c;

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", shipped_dir, e->d_name);
		assert_int_equal(sim_config_load(&c, path, SIM_SEED_FROM_FILE, stderr), 0);
		for (int k = 0; sim_cc_all[k]; k++) {
			struct sim s;

			if (sim_init(&s, &c, sim_cc_all[k], NULL))
				fail_msg("%s: %s does not set up", e->d_name, sim_cc_all[k]->name);
			sim_fini(&s);
		}
		sim_config_fini(&c);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generators),
		cmocka_unit_test(errors_name_the_line),
		cmocka_unit_test(tita_keys_are_lib_params),
		cmocka_unit_test(seed_fixes_workload),
		cmocka_unit_test(shift_and_size_override),
		cmocka_unit_test(messages),
		cmocka_unit_test(faults),
		cmocka_unit_test(host_faults),
		cmocka_unit_test(repeats),
		cmocka_unit_test(shipped_scenarios_set_up),
	};

	if (argc > 1)
		shipped_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
