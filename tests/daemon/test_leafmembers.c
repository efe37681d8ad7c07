// SPDX-License-Identifier: MIT
/*
 * A leaf's members: by address from the topology, and by host name through
 * the hello that host's titad sends back (its NICs whose place is this
 * leaf), with changes seen and strangers counted, never taken.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "leafmembers.h"
#include "units.h"

static struct tita_addr addr(const char *s)
{
	struct tita_addr a;

	assert_int_equal(tita_parse_addr(s, &a), 0);
	return a;
}

static struct tita_wire_port port(const char *a, uint32_t leaf)
{
	struct tita_wire_port p = { .addr = addr(a), .line_rate_bps = 400 * TITA_GBPS };

	if (leaf != TITA_LEAF_NONE)
		p.place =
			(struct tita_place){ .leaf = leaf, .n_spines = 2, .spine_bps = TITA_GBPS };
	return p;
}

static void expect_list(const struct tita_leaf_members *m, const char *want)
{
	struct tita_addr out[16];
	char got[512] = "", a[TITA_ADDR_STRLEN];
	size_t n = tita_leaf_members_list(m, out, 16);

	for (size_t i = 0; i < n && i < 16; i++) {
		size_t len = strlen(got);

		snprintf(got + len, sizeof(got) - len, "%s%s", i ? " " : "",
			 tita_format_addr(&out[i], a, sizeof(a)));
	}
	if (strcmp(got, want))
		fail_msg("members '%s', want '%s'", got, want);
}

static void test_members(void **state)
{
	struct tita_addr self = addr("10.77.1.2"), c[2] = { addr("192.168.0.5"), addr("fd00::5") };
	struct tita_leaf_members *m = tita_leaf_members_new(7, &self);
	struct tita_leaf_members_stats st;
	struct tita_wire_port ports[4];
	struct tita_addr contacts[4], other;

	(void)state;
	assert_non_null(m);
	expect_list(m, "10.77.1.2");
	other = addr("10.77.1.9");
	assert_int_equal(tita_leaf_members_add_addr(m, &other), 0);
	assert_int_equal(tita_leaf_members_add_addr(m, &self), 0);
	/* A host by name: where to reach it, no NIC yet. */
	assert_int_equal(tita_leaf_members_add_host(m, "gpu05", c, 2), 0);
	assert_int_equal(tita_leaf_members_add_host(m, "gpu06", NULL, 0), 0);
	expect_list(m, "10.77.1.2 10.77.1.9");
	assert_int_equal(tita_leaf_members_contacts(m, contacts, 4), 2);
	assert_memory_equal(&contacts[1], &c[1], sizeof(c[1]));
	tita_leaf_members_stats(m, &st);
	assert_int_equal(st.hosts, 2);
	assert_int_equal(st.hosts_unresolved, 1);
	assert_int_equal(st.members, 2);

	/* Its hello from the management address: two NICs under leaf 7, one
	 * on another rail's leaf. */
	ports[0] = port("10.77.1.5", 7);
	ports[1] = port("10.88.1.5", 8);
	ports[2] = port("10.77.1.6", 7);
	assert_int_equal(tita_leaf_members_hello(m, &c[0], ports, 3), 1);
	expect_list(m, "10.77.1.2 10.77.1.5 10.77.1.6 10.77.1.9");
	assert_int_equal(tita_leaf_members_hello(m, &c[0], ports, 3), 0);
	/* The same host answering from one of its NICs, announcing its
	 * contact among its ports; one NIC left the leaf. */
	ports[0] = port("10.77.1.5", 7);
	ports[1] = port("192.168.0.5", TITA_LEAF_NONE);
	ports[2] = port("10.77.1.6", 9);
	other = addr("10.77.1.5");
	assert_int_equal(tita_leaf_members_hello(m, &other, ports, 3), 1);
	expect_list(m, "10.77.1.2 10.77.1.5 10.77.1.9");
	/* A stranger that says it is under our leaf: counted, not taken. */
	ports[0] = port("10.77.1.66", 7);
	assert_int_equal(tita_leaf_members_hello(m, &ports[0].addr, ports, 1), -ENOENT);
	/* A stranger elsewhere is not even that. */
	ports[0] = port("10.99.1.1", 3);
	assert_int_equal(tita_leaf_members_hello(m, &ports[0].addr, ports, 1), -ENOENT);
	expect_list(m, "10.77.1.2 10.77.1.5 10.77.1.9");
	tita_leaf_members_stats(m, &st);
	assert_int_equal(st.hellos, 5);
	assert_int_equal(st.changes, 2);
	assert_int_equal(st.unlisted, 1);
	assert_int_equal(st.hosts_heard, 1);
	assert_int_equal(st.members, 3);
	tita_leaf_members_free(m);
}

static void test_bounds(void **state)
{
	struct tita_addr self = tita_addr_from_host_id(0);
	struct tita_leaf_members *m = tita_leaf_members_new(1, &self);

	(void)state;
	for (uint32_t i = 1; i < TITA_LEAF_MEMBERS_MAX; i++) {
		struct tita_addr a = tita_addr_from_host_id(i);

		assert_int_equal(tita_leaf_members_add_addr(m, &a), 0);
	}
	{
		struct tita_addr a = tita_addr_from_host_id(TITA_LEAF_MEMBERS_MAX);

		assert_int_equal(tita_leaf_members_add_addr(m, &a), -ENOSPC);
	}
	assert_int_equal(tita_leaf_members_list(m, NULL, 0), TITA_LEAF_MEMBERS_MAX);
	tita_leaf_members_free(m);
}

static void test_resolve(void **state)
{
	struct tita_addr out[8], lo = addr("127.0.0.1"), lo6 = addr("::1"), lit = addr("10.1.2.3");
	size_t n = 0;
	bool found = false;
	int r;

	(void)state;
	assert_int_equal(tita_resolve_host("localhost", out, 8, &n), 0);
	for (size_t i = 0; i < n; i++)
		found = found || tita_addr_eq(&out[i], &lo) || tita_addr_eq(&out[i], &lo6);
	assert_true(found);
	assert_int_equal(tita_resolve_host("10.1.2.3", out, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(&out[0], &lit, 16);
	/* A name that cannot exist (RFC 6761): no such name, or no resolver. */
	r = tita_resolve_host("no-such-host.invalid", out, 8, &n);
	assert_true(r == -ENOENT || r == -EAGAIN);
	assert_int_equal(tita_resolve_host("", out, 8, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
