// SPDX-License-Identifier: MIT
/*
 * The pacer interface: a recording back end checks how titad's updates
 * reach a back end (set for a rate, clear for TITA_RATE_UNPACED, counters),
 * and the dry-run back end keeps exactly what it was told.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pacer.h"

struct call {
	char op;
	uint32_t job_id;
	uint64_t rate_bps;
};

static struct call calls[16];
static size_t n_calls;
static int clear_ret;

static int rec_init(struct tita_pacer *p, char *err, size_t err_size)
{
	(void)p;
	(void)err;
	(void)err_size;
	return 0;
}

static int rec_set(struct tita_pacer *p, const struct tita_addr *local,
		   const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps)
{
	(void)p;
	(void)local;
	(void)remote;
	calls[n_calls++] = (struct call){ 's', job_id, rate_bps };
	return rate_bps == 666 ? -EIO : 0;
}

static int rec_clear(struct tita_pacer *p, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id)
{
	(void)p;
	(void)local;
	(void)remote;
	calls[n_calls++] = (struct call){ 'c', job_id, 0 };
	return clear_ret;
}

static int rec_cleanup(struct tita_pacer *p)
{
	(void)p;
	calls[n_calls++] = (struct call){ 'x', 0, 0 };
	return 0;
}

static uint64_t after_unsched;

static int rec_set_after(struct tita_pacer *p, const struct tita_addr *local,
			 const struct tita_addr *remote, uint32_t job_id, uint64_t unsched_bytes,
			 uint64_t rate_bps)
{
	(void)p;
	(void)local;
	(void)remote;
	after_unsched = unsched_bytes;
	calls[n_calls++] = (struct call){ 'u', job_id, rate_bps };
	return 0;
}

static const struct tita_pacer_ops rec_ops = {
	.name = "recording",
	.init = rec_init,
	.set_rate = rec_set,
	.clear = rec_clear,
	.cleanup = rec_cleanup,
};

static const struct tita_pacer_ops rec_after_ops = {
	.name = "recording with unscheduled bytes",
	.init = rec_init,
	.set_rate = rec_set,
	.set_rate_after = rec_set_after,
	.clear = rec_clear,
	.cleanup = rec_cleanup,
};

/* An update with unscheduled bytes reaches set_rate_after where the back
 * end has it, with the bytes; elsewhere the rate alone, counted as such;
 * an update without them, or one that unpaces, goes as before. */
static void test_apply_update(void **state)
{
	struct tita_pacer_port port = { .ifname = "eth0", .line_rate_bps = 100000000000ull };
	struct tita_rate_update u = { .local = tita_addr_from_host_id(1),
				      .remote = tita_addr_from_host_id(2),
				      .job_id = 3,
				      .rate_bps = 2000000000ull,
				      .unsched_bytes = 37500 };
	struct tita_pacer *p;

	(void)state;
	port.addr = u.local;
	n_calls = 0;
	clear_ret = 0;
	p = tita_pacer_new(&rec_after_ops, &port, 1, NULL);
	assert_non_null(p);
	assert_int_equal(tita_pacer_apply_update(p, &u, u.rate_bps), 0);
	assert_int_equal(calls[0].op, 'u');
	assert_true(calls[0].rate_bps == 2000000000ull && after_unsched == 37500);
	u.unsched_bytes = 0;
	u.rate_bps = 40000000000ull;
	assert_int_equal(tita_pacer_apply_update(p, &u, u.rate_bps), 0);
	assert_int_equal(calls[1].op, 's');
	u.rate_bps = TITA_RATE_UNPACED;
	u.unsched_bytes = 37500;
	assert_int_equal(tita_pacer_apply_update(p, &u, u.rate_bps), 0);
	assert_int_equal(calls[2].op, 'c');
	/* titad's fail-open = line-rate maps the rate first. */
	assert_int_equal(tita_pacer_apply_update(p, &u, port.line_rate_bps), 0);
	assert_int_equal(calls[3].op, 'u');
	assert_true(p->stats.unsched_ok == 2 && p->stats.unsched_unsupported == 0);
	assert_true(p->stats.set_ok == 3 && p->stats.clear_ok == 1);
	tita_pacer_free(p);

	n_calls = 0;
	p = tita_pacer_new(&rec_ops, &port, 1, NULL);
	assert_non_null(p);
	u.rate_bps = 2000000000ull;
	assert_int_equal(tita_pacer_apply_update(p, &u, u.rate_bps), 0);
	assert_int_equal(calls[0].op, 's');
	assert_true(calls[0].rate_bps == 2000000000ull);
	assert_true(p->stats.unsched_unsupported == 1 && p->stats.unsched_ok == 0);
	tita_pacer_free(p);
}

static void test_apply(void **state)
{
	struct tita_pacer_port port = { .ifname = "eth0", .line_rate_bps = 100000000000ull };
	struct tita_addr local = tita_addr_from_host_id(1), remote = tita_addr_from_host_id(2);
	struct tita_pacer *p;

	(void)state;
	port.addr = local;
	p = tita_pacer_new(&rec_ops, &port, 1, NULL);
	assert_non_null(p);
	assert_non_null(tita_pacer_port(p, &local));
	assert_null(tita_pacer_port(p, &remote));
	assert_int_equal(tita_pacer_apply(p, &local, &remote, 7, 25000000000ull), 0);
	assert_int_equal(tita_pacer_apply(p, &local, &remote, 7, TITA_RATE_UNPACED), 0);
	/* Clearing what has no rule is not an error. */
	clear_ret = -ENOENT;
	assert_int_equal(tita_pacer_apply(p, &local, &remote, 8, TITA_RATE_UNPACED), 0);
	clear_ret = -EIO;
	assert_int_equal(tita_pacer_apply(p, &local, &remote, 8, TITA_RATE_UNPACED), -EIO);
	assert_int_equal(tita_pacer_apply(p, &local, &remote, 7, 666), -EIO);
	/* A zero rate is paced at 1 bit/s, never "no rule". */
	assert_int_equal(tita_pacer_apply(p, &local, &remote, 7, 0), 0);
	assert_int_equal(n_calls, 6);
	assert_int_equal(calls[0].op, 's');
	assert_true(calls[0].rate_bps == 25000000000ull);
	assert_int_equal(calls[1].op, 'c');
	assert_int_equal(calls[1].job_id, 7);
	assert_true(calls[5].rate_bps == 1);
	assert_true(p->stats.set_ok == 2 && p->stats.set_failed == 1);
	assert_true(p->stats.clear_ok == 2 && p->stats.clear_failed == 1);
	tita_pacer_free(p);
}

static void test_dryrun(void **state)
{
	struct tita_pacer_port port = { .ifname = "eth0", .line_rate_bps = 100000000000ull };
	struct tita_addr local = tita_addr_from_host_id(1);
	struct tita_pacer_rule rules[8];
	struct tita_pacer *p;
	char err[64];

	(void)state;
	port.addr = local;
	p = tita_pacer_new(&tita_pacer_dryrun_ops, &port, 1, NULL);
	assert_non_null(p);
	assert_int_equal(p->ops->init(p, err, sizeof(err)), 0);
	for (uint32_t i = 2; i < 6; i++) {
		struct tita_addr r = tita_addr_from_host_id(i);

		assert_int_equal(tita_pacer_apply(p, &local, &r, 0, i * 1000000ull), 0);
	}
	{
		struct tita_addr r = tita_addr_from_host_id(3), r4 = tita_addr_from_host_id(4);

		assert_int_equal(tita_pacer_apply(p, &local, &r, 0, 42), 0); /* in place */
		assert_int_equal(tita_pacer_apply(p, &local, &r4, 0, TITA_RATE_UNPACED), 0);
	}
	assert_int_equal(p->ops->describe(p, rules, 8), 3);
	for (size_t i = 0; i < 3; i++) {
		struct tita_addr r3 = tita_addr_from_host_id(3), r4 = tita_addr_from_host_id(4);

		assert_false(tita_addr_eq(&rules[i].remote, &r4));
		if (tita_addr_eq(&rules[i].remote, &r3))
			assert_true(rules[i].rate_bps == 42);
	}
	/* It keeps the unscheduled bytes it was told, until a plain rate. */
	{
		struct tita_rate_update u = { .local = local,
					      .remote = tita_addr_from_host_id(3),
					      .rate_bps = 7,
					      .unsched_bytes = 50000 };

		assert_int_equal(tita_pacer_apply_update(p, &u, u.rate_bps), 0);
		assert_int_equal(p->ops->describe(p, rules, 8), 3);
		for (size_t i = 0; i < 3; i++)
			if (tita_addr_eq(&rules[i].remote, &u.remote))
				assert_true(rules[i].rate_bps == 7 &&
					    rules[i].unsched_bytes == 50000);
		assert_int_equal(tita_pacer_apply(p, &local, &u.remote, 0, 8), 0);
		assert_int_equal(p->ops->describe(p, rules, 8), 3);
		for (size_t i = 0; i < 3; i++)
			if (tita_addr_eq(&rules[i].remote, &u.remote))
				assert_true(rules[i].rate_bps == 8 && rules[i].unsched_bytes == 0);
	}
	assert_int_equal(p->ops->cleanup(p), 0);
	assert_int_equal(p->ops->describe(p, rules, 8), 0);
	tita_pacer_free(p);
}

/* A back end that cannot let bytes go unpaced first takes none unscheduled;
 * one that can, and the rest of the parameters, are left as configured. */
static void test_fit_params(void **state)
{
	struct tita_ctl_params p, def;

	(void)state;
	tita_ctl_params_default(&def);
	assert_true(def.unsched_ns > 0 && def.unsched_short_ns > 0);
	p = def;
	assert_false(tita_pacer_fit_params(&rec_after_ops, &p));
	assert_true(p.unsched_ns == def.unsched_ns && p.unsched_short_ns == def.unsched_short_ns);
	assert_false(tita_pacer_fit_params(&tita_pacer_tc_ops, &p));
	assert_true(p.unsched_ns == def.unsched_ns);
	assert_true(tita_pacer_fit_params(&rec_ops, &p));
	assert_true(p.unsched_ns == 0 && p.unsched_short_ns == 0);
	assert_true(p.start_rate_frac == def.start_rate_frac && p.warm_ttls == def.warm_ttls &&
		    p.unsched_bound_ns == def.unsched_bound_ns);
	/* Already off: nothing to say. */
	assert_false(tita_pacer_fit_params(&rec_ops, &p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_apply_update),
		cmocka_unit_test(test_fit_params),
		cmocka_unit_test(test_dryrun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
