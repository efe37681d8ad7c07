// SPDX-License-Identifier: MIT
/*
 * The scenario parser: generators make the flows they should, values are
 * range-checked, and errors name the line.
 */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generators),
		cmocka_unit_test(errors_name_the_line),
		cmocka_unit_test(seed_fixes_workload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
