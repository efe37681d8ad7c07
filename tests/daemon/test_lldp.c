// SPDX-License-Identifier: MIT
/*
 * The cabling check against a fake source of neighbours (what liblldpctl
 * would return): names that match (case, a qualified name), a mismatch, no
 * neighbour, several neighbours on a NIC, NICs without a leaf, and no
 * lldpd; and the lines titad logs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lldp.h"

struct fake {
	const struct tita_lldp_neighbor *nb;
	size_t n;
	int err; /* returned instead, when set */
	int reads;
};

static int fake_read(void *ctx, struct tita_lldp_neighbor *out, size_t max, char *err,
		     size_t err_size)
{
	struct fake *f = ctx;

	f->reads++;
	if (f->err) {
		snprintf(err, err_size, "lldpd does not run (no socket /run/lldpd.socket)");
		return f->err;
	}
	for (size_t i = 0; i < f->n && i < max; i++)
		out[i] = f->nb[i];
	return (int)f->n;
}

static void test_names(void **state)
{
	(void)state;
	assert_true(tita_lldp_name_match("leaf07", "leaf07"));
	assert_true(tita_lldp_name_match("leaf07", "LEAF07"));
	assert_true(tita_lldp_name_match("leaf07", "leaf07.pod2.example.com"));
	assert_true(tita_lldp_name_match("leaf07.pod2", "leaf07"));
	assert_false(tita_lldp_name_match("leaf07", "leaf070"));
	assert_false(tita_lldp_name_match("leaf07", "leaf0"));
	assert_false(tita_lldp_name_match("leaf07", "spine07.leaf07"));
	assert_false(tita_lldp_name_match("leaf07", ""));
	assert_false(tita_lldp_name_match("", "leaf07"));
	assert_false(tita_lldp_name_match(NULL, "leaf07"));
}

static void test_ports(void **state)
{
	static const struct tita_lldp_neighbor nb[] = {
		{ "eth0", "leaf07.pod2.example", "c8:2a:14:00:00:07", "Ethernet12", "" },
		{ "eth1", "leaf09", "c8:2a:14:00:00:09", "Ethernet3", "swp3" },
		/* eth2: a NIC behind a switch and a management hub */
		{ "eth2", "mgmt-hub", "aa:bb:cc:00:00:01", "7", "" },
		{ "eth2", "Leaf08", "c8:2a:14:00:00:08", "Ethernet1", "" },
		{ "eth4", "", "c8:2a:14:00:00:0a", "Ethernet9", "" },
	};
	struct fake f = { nb, sizeof(nb) / sizeof(nb[0]), 0, 0 };
	struct tita_lldp_source src = { fake_read, &f };
	const struct tita_lldp_port ports[] = {
		{ "eth0", "leaf07" }, /* matches a qualified name */
		{ "eth1", "leaf08" }, /* cabled to leaf09 */
		{ "eth2", "leaf08" }, /* one of two neighbours */
		{ "eth3", "leaf08" }, /* nothing seen */
		{ "eth4", "leaf10" }, /* a neighbour without a system name */
		{ "eth5", NULL }, /* no leaf: not checked */
	};
	struct tita_lldp_check c[6];
	char err[256] = "", line[512];

	(void)state;
	assert_int_equal(tita_lldp_check_ports(&src, ports, 6, c, err, sizeof(err)), 0);
	assert_int_equal(f.reads, 1);
	assert_int_equal(c[0].verdict, TITA_LLDP_MATCH);
	assert_string_equal(c[0].neighbor, "leaf07.pod2.example");
	assert_string_equal(c[0].port, "Ethernet12");
	assert_int_equal(c[1].verdict, TITA_LLDP_MISMATCH);
	assert_string_equal(c[1].neighbor, "leaf09");
	assert_string_equal(c[1].port, "swp3");
	assert_string_equal(tita_lldp_describe("eth1", &c[1], line, sizeof(line)),
			    "eth1: LLDP sees leaf09 port swp3, the topology says leaf08");
	assert_int_equal(c[2].verdict, TITA_LLDP_MATCH);
	assert_int_equal(c[2].n_neighbors, 2);
	assert_string_equal(c[2].neighbor, "Leaf08");
	assert_int_equal(c[3].verdict, TITA_LLDP_NO_NEIGHBOR);
	assert_string_equal(tita_lldp_describe("eth3", &c[3], line, sizeof(line)),
			    "eth3: LLDP sees no neighbour; the topology says leaf08");
	assert_int_equal(c[4].verdict, TITA_LLDP_MISMATCH);
	assert_string_equal(c[4].neighbor, "c8:2a:14:00:00:0a");
	assert_int_equal(c[5].verdict, TITA_LLDP_UNCHECKED);
	assert_string_equal(tita_lldp_verdict_name(c[1].verdict), "mismatch");

	/* No leaf anywhere: lldpd is not even asked. */
	f.reads = 0;
	{
		const struct tita_lldp_port none[] = { { "eth0", "" }, { "eth1", NULL } };

		assert_int_equal(tita_lldp_check_ports(&src, none, 2, c, err, sizeof(err)), 0);
		assert_int_equal(f.reads, 0);
		assert_int_equal(c[0].verdict, TITA_LLDP_UNCHECKED);
	}

	/* No lldpd: every NIC with a leaf says so, the others stay
	 * unchecked, and the error says why. */
	f.err = -ENOENT;
	assert_int_equal(tita_lldp_check_ports(&src, ports, 6, c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "lldpd does not run"));
	for (int i = 0; i < 5; i++)
		assert_int_equal(c[i].verdict, TITA_LLDP_NO_LLDPD);
	assert_int_equal(c[5].verdict, TITA_LLDP_UNCHECKED);
	assert_string_equal(tita_lldp_verdict_name(c[0].verdict), "no_lldpd");
}

/* The real source with no lldpd at that path: a clear -ENOENT (or, built
 * without liblldpctl, -ENOTSUP), never a failure of anything else. */
static void test_no_lldpd(void **state)
{
	struct tita_lldp_neighbor nb[4];
	char err[256] = "";
	int r;

	(void)state;
	r = tita_lldp_read_lldpd((void *)"/nonexistent/lldpd.socket", nb, 4, err, sizeof(err));
	if (tita_lldp_supported()) {
		assert_int_equal(r, -ENOENT);
		assert_non_null(
			strstr(err, "lldpd does not run (no socket /nonexistent/lldpd.socket)"));
	} else {
		assert_int_equal(r, -ENOTSUP);
		assert_non_null(strstr(err, "liblldpctl"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_no_lldpd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
