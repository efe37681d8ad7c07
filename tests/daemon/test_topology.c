// SPDX-License-Identifier: MIT
/*
 * The fabric's topology files: Slurm's tree format and tita's, host lists,
 * every problem with its file:line and the rest of the file still read,
 * leaf ids that every host derives alike, and the [fabric] keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "topology.h"
#include "units.h"

struct names {
	char buf[4096];
	size_t n;
};

static int collect(void *ctx, const char *name)
{
	struct names *c = ctx;
	size_t len = strlen(c->buf);

	snprintf(c->buf + len, sizeof(c->buf) - len, "%s%s", len ? " " : "", name);
	c->n++;
	return 0;
}

static void test_hostlist(void **state)
{
	static const struct {
		const char *expr, *names;
	} ok[] = {
		{ "tux[0-3,12,18-20]", "tux0 tux1 tux2 tux3 tux12 tux18 tux19 tux20" },
		{ "gpu[08-11]", "gpu08 gpu09 gpu10 gpu11" },
		{ "n[8-10]", "n8 n9 n10" },
		{ "r[1-2]n[1-2]", "r1n1 r1n2 r2n1 r2n2" },
		{ "a,b[1-2],c", "a b1 b2 c" },
		{ "10.1.0.[1-3]", "10.1.0.1 10.1.0.2 10.1.0.3" },
		{ "x[7]y", "x7y" },
		{ "node[001-002]-ib", "node001-ib node002-ib" },
	};
	static const struct {
		const char *expr;
		int ret;
		const char *why;
	} bad[] = {
		{ "a[3-1]", -EINVAL, "backwards" },
		{ "a[1-", -EINVAL, "'[' without ']'" },
		{ "a]b", -EINVAL, "']' without '['" },
		{ "a[x]", -EINVAL, "numbers" },
		{ "", -EINVAL, "empty" },
		{ "a,,b", -EINVAL, "empty" },
		{ "a[1-2", -EINVAL, "without" },
		{ "a[1;2]", -EINVAL, "expected" },
		{ "n[1-2000000]", -E2BIG, "more than" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct names c = { "", 0 };
		char err[200] = "";
		int r = tita_hostlist_expand(ok[i].expr, 100, collect, &c, err, sizeof(err));

		if (r || strcmp(c.buf, ok[i].names))
			fail_msg("'%s': %d '%s' (%s), want '%s'", ok[i].expr, r, c.buf, err,
				 ok[i].names);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct names c = { "", 0 };
		char err[200] = "";
		int r = tita_hostlist_expand(bad[i].expr, TITA_HOSTLIST_MAX, collect, &c, err,
					     sizeof(err));

		if (r != bad[i].ret || !strstr(err, bad[i].why) || c.n)
			fail_msg("'%s': %d '%s' with %zu names, want %d and '%s'", bad[i].expr, r,
				 err, c.n, bad[i].ret, bad[i].why);
	}
}

static struct tita_topo *topo_of(const struct tita_fabric_conf *fc, const char *path,
				 const char *text)
{
	struct tita_topo *t = tita_topo_new(fc);

	assert_non_null(t);
	assert_int_equal(tita_topo_parse(t, path, text, strlen(text)), 0);
	tita_topo_finish(t);
	return t;
}

static void expect_problems(const struct tita_topo *t, const char *const *want, size_t n)
{
	size_t got = tita_topo_n_problems(t);

	for (size_t i = 0; i < got; i++)
		print_message("  %s\n", tita_topo_problem(t, i));
	if (got != n)
		fail_msg("%zu problems, want %zu", got, n);
	for (size_t i = 0; i < n; i++)
		if (!strstr(tita_topo_problem(t, i), want[i]))
			fail_msg("problem %zu is '%s', want it to contain '%s'", i,
				 tita_topo_problem(t, i), want[i]);
}

struct members {
	char buf[4096];
	size_t n_addr, n_host;
};

static int member(void *ctx, const char *host, const struct tita_addr *addr)
{
	struct members *m = ctx;
	size_t len = strlen(m->buf);
	char a[TITA_ADDR_STRLEN];

	if (host) {
		m->n_host++;
	} else {
		m->n_addr++;
		host = tita_format_addr(addr, a, sizeof(a));
	}
	snprintf(m->buf + len, sizeof(m->buf) - len, "%s%s", len ? " " : "", host);
	return 0;
}

static struct tita_addr addr(const char *s)
{
	struct tita_addr a;

	assert_int_equal(tita_parse_addr(s, &a), 0);
	return a;
}

static int spine_of(const struct tita_topo *t, const char *leaf, const char *offender,
		    uint16_t *ret_spine)
{
	struct tita_addr a = addr(offender);

	return tita_topo_spine_of(t, leaf, &a, ret_spine);
}

static void test_slurm(void **state)
{
	static const char text[] =
		"# from slurmibtopology\n"
		"SwitchName=leaf1 Nodes=gpu[001-004] LinkSpeed=400\n"
		"switchname=leaf2 NODES=gpu[005-008] linkspeed=400 # lower case\n"
		"SwitchName=spine1 Switches=leaf[1-2]\n"
		"\n"
		"SwitchName=spine2 \\\n"
		"   Switches=leaf[1-2]\n"
		"SwitchName=core Switches=spine[1-2]\n";
	struct tita_fabric_conf fc;
	struct tita_topo_leaf leaf;
	struct tita_addr nic = addr("10.77.2.6");
	struct members m = { "", 0, 0 };
	struct tita_topo *t;
	char err[256], why[256];

	(void)state;
	tita_fabric_conf_defaults(&fc);
	fc.link_speed_unit_bps = TITA_GBPS;
	t = topo_of(&fc, "topology.conf", text);
	expect_problems(t, NULL, 0);
	assert_int_equal(tita_topo_n_leaves(t), 2);
	/* By host name, the short name of a full one too. */
	assert_int_equal(
		tita_topo_leaf_of(t, &nic, "gpu006.cluster.example", &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "leaf2");
	assert_string_equal(leaf.lldp_name, "leaf2");
	assert_int_equal(leaf.line, 3);
	assert_int_equal(leaf.place.leaf, tita_topo_leaf_hash("leaf2"));
	/* Two switches list it; a third level above them is no uplink. */
	assert_int_equal(leaf.place.n_spines, 2);
	assert_int_equal(leaf.place.spine_bps, 400 * TITA_GBPS);
	assert_false(leaf.spines_addressed);
	assert_null(tita_topo_place_error(&leaf, why, sizeof(why)));
	assert_int_equal(tita_place_check(&leaf.place), 0);
	assert_int_equal(tita_topo_leaf_of(t, &nic, "GPU001", &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "leaf1");
	assert_int_equal(tita_topo_leaf_of(t, &nic, "gpu009", &leaf, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "gpu009"));
	/* The leaf's members, by name: titad finds their NICs. */
	assert_int_equal(tita_topo_members(t, "leaf2", member, &m), 0);
	assert_string_equal(m.buf, "gpu005 gpu006 gpu007 gpu008");
	assert_int_equal(m.n_host, 4);
	assert_int_equal(tita_topo_members(t, "spine1", member, &m), -ENOENT);
	/* Without addresses for the spines, probes learn them. */
	{
		uint16_t s = 99;

		assert_int_equal(tita_topo_spine_of(t, "leaf1", &nic, &s), -ENODATA);
		assert_int_equal(s, 99);
	}
	tita_topo_free(t);

	/* [fabric] fills in what the file leaves out, and overrides what it
	 * implies (one "spine" switch standing for the whole spine layer). */
	tita_fabric_conf_defaults(&fc);
	fc.spines = 8;
	fc.spine_rate_bps = 100 * TITA_GBPS;
	t = topo_of(&fc, "topology.conf",
		    "SwitchName=tor1 Nodes=h[1-2]\nSwitchName=spines Switches=tor1\n");
	assert_int_equal(tita_topo_leaf_of(t, NULL, "h2", &leaf, err, sizeof(err)), 0);
	assert_int_equal(leaf.place.n_spines, 8);
	assert_int_equal(leaf.place.spine_bps, 100 * TITA_GBPS);
	tita_topo_free(t);

	/* Neither: the place says what to set. LinkSpeed without its unit
	 * is not read. */
	tita_fabric_conf_defaults(&fc);
	t = topo_of(&fc, "topology.conf", "SwitchName=tor1 Nodes=h[1-2] LinkSpeed=100\n");
	assert_int_equal(tita_topo_leaf_of(t, NULL, "h1", &leaf, err, sizeof(err)), 0);
	assert_int_equal(leaf.place.n_spines, 0);
	assert_non_null(tita_topo_place_error(&leaf, why, sizeof(why)));
	assert_non_null(strstr(why, "topology.conf:1"));
	assert_non_null(strstr(why, "how many uplinks"));
	tita_topo_free(t);
	fc.spines = 2;
	t = topo_of(&fc, "topology.conf", "SwitchName=tor1 Nodes=h[1-2] LinkSpeed=100\n");
	assert_int_equal(tita_topo_leaf_of(t, NULL, "h1", &leaf, err, sizeof(err)), 0);
	assert_non_null(tita_topo_place_error(&leaf, why, sizeof(why)));
	assert_non_null(strstr(why, "link-speed-unit"));
	tita_topo_free(t);
}

static void test_slurm_problems(void **state)
{
	static const char text[] = "SwitchName=leaf1 Nodes=gpu[001-004]\n" /* 1 */
				   "SwitchName=leaf2 Nodes=gpu[9-5]\n" /* 2 */
				   "SwitchName=leaf3 Nodes=gpu[010-012] Speed=3\n" /* 3 */
				   "SwitchName=leaf1 Nodes=x[1-2]\n" /* 4 */
				   "SwitchName=spine1 Switches=leaf[1-4]\n" /* 5 */
				   "BlockName=b1 Nodes=gpu[001-004]\n" /* 6 */
				   "this is not a line\n" /* 7 */
				   "SwitchName=leaf5 Nodes=a Switches=b\n" /* 8 */
				   "SwitchName=leaf6\n" /* 9 */
				   "SwitchName=leaf7 Nodes=gpu[20-21] LinkSpeed=fast\n" /* 10 */
				   "SwitchName=leaf8 Nodes=gpu_a,gpu%b\n" /* 11 */
				   "SwitchName=leaf9 Nodes=g1 Nodes=g2 LinkSpeed\n" /* 12 */
				   "SwitchName=a/b Nodes=g3\n" /* 13 */
				   "SwitchName=leaf10 Nodes=gpu[030-031]\n"; /* 14 */
	static const char *const want[] = {
		"t.conf:2: Nodes: 'gpu[9-5]': range 9-5 runs backwards",
		"t.conf:3: unknown key 'Speed'",
		"t.conf:6: Slurm's topology/block",
		"t.conf:7: 'this': a line is",
		"t.conf:8: a switch has either Nodes= (a leaf) or Switches=",
		"t.conf:9: a switch needs Nodes= (a leaf) or Switches=",
		"t.conf:10: LinkSpeed 'fast' is not a number",
		"t.conf:11: 'gpu%b' is neither an address nor a host name",
		"t.conf:12: Nodes given twice",
		"t.conf:12: 'LinkSpeed' is not Key=Value",
		"t.conf:13: SwitchName 'a/b'",
		"t.conf:4: leaf1 is defined again (first at t.conf:1)",
		"t.conf:5: switch spine1: Switches= names leaf4, which no line defines",
	};
	struct tita_topo_leaf leaf;
	struct tita_topo *t;
	char err[256];

	(void)state;
	t = topo_of(NULL, "t.conf", text);
	expect_problems(t, want, sizeof(want) / sizeof(want[0]));
	/* The good lines are all there: leaf1 under spine1, leaf10 too. */
	assert_int_equal(tita_topo_n_leaves(t), 2);
	assert_int_equal(tita_topo_leaf_of(t, NULL, "gpu002", &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "leaf1");
	assert_int_equal(leaf.place.n_spines, 1);
	assert_int_equal(tita_topo_leaf_of(t, NULL, "gpu031", &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "leaf10");
	/* A bad line is not used: its hosts are nowhere. */
	assert_int_equal(tita_topo_leaf_of(t, NULL, "gpu011", &leaf, err, sizeof(err)), -ENOENT);
	tita_topo_free(t);
}

static void test_tita_format(void **state)
{
	static const char text[] =
		"# spines first: their order is the uplinks' order\n"
		"spine s1 10.78.1.0/24\n"
		"spine s2 10.78.2.0/24 fd00:2::/64 10.78.1.9  # a loopback inside s1's subnet\n"
		"leaf l1 spine-rate=400G 10.77.1.1 10.77.1.2 gpu[01-02]\n"
		"leaf l2 id=7 lldp=tor-l2.example spines=s1,s2 spine-rate=400G 10.77.2.[1-2]\n"
		"leaf l3 spines=4 spine-rate=100G 10.77.3.[1-4] fd00:3::1\n";
	struct tita_fabric_conf fc;
	struct tita_topo_leaf leaf;
	struct tita_addr nic = addr("10.77.1.2");
	struct members m = { "", 0, 0 };
	struct tita_topo *t;
	char err[256];
	uint16_t s;

	(void)state;
	tita_fabric_conf_defaults(&fc);
	t = topo_of(&fc, "/etc/tita/topology", text);
	expect_problems(t, NULL, 0);
	assert_int_equal(tita_topo_n_leaves(t), 3);
	/* By address: the host name does not matter. */
	assert_int_equal(tita_topo_leaf_of(t, &nic, "elsewhere", &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "l1");
	assert_int_equal(leaf.place.n_spines, 2);
	assert_int_equal(leaf.place.spine_bps, 400 * TITA_GBPS);
	assert_true(leaf.spines_addressed);
	assert_int_equal(spine_of(t, "l1", "10.78.2.6", &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(spine_of(t, "l1", "10.78.1.6", &s), 0);
	assert_int_equal(s, 0);
	/* The longest prefix: s2's loopback inside s1's link subnet. */
	assert_int_equal(spine_of(t, "l1", "10.78.1.9", &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(spine_of(t, "l1", "fd00:2::7", &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(spine_of(t, "l1", "10.77.1.254", &s), -ENOENT);
	assert_int_equal(tita_topo_members(t, "l1", member, &m), 0);
	assert_string_equal(m.buf, "10.77.1.1 10.77.1.2 gpu01 gpu02");
	assert_int_equal(m.n_addr, 2);
	assert_int_equal(m.n_host, 2);
	/* By host name, when no leaf names the NIC. */
	nic = addr("10.99.0.1");
	assert_int_equal(tita_topo_leaf_of(t, &nic, "gpu02", &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "l1");
	/* An explicit id and LLDP name. */
	nic = addr("10.77.2.2");
	assert_int_equal(tita_topo_leaf_of(t, &nic, NULL, &leaf, err, sizeof(err)), 0);
	assert_int_equal(leaf.place.leaf, 7);
	assert_string_equal(leaf.lldp_name, "tor-l2.example");
	assert_true(leaf.spines_addressed);
	/* Four uplinks but two spines with addresses: learned, not looked up. */
	nic = addr("fd00:3::1");
	assert_int_equal(tita_topo_leaf_of(t, &nic, NULL, &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "l3");
	assert_int_equal(leaf.place.n_spines, 4);
	assert_false(leaf.spines_addressed);
	assert_int_equal(spine_of(t, "l3", "10.78.1.1", &s), -ENODATA);
	tita_topo_free(t);
}

static void test_tita_problems(void **state)
{
	static const char text[] = "spine s1 10.78.1.0/24\n" /* 1 */
				   "spine s2 10.78.2.0/24\n" /* 2 */
				   "spine s3 10.78.3.0/33\n" /* 3 */
				   "spine\n" /* 4 */
				   "leaf l1 spines=s1,s2 10.0.0.1\n" /* 5 */
				   "leaf l2 spines=s2,s1 10.0.0.2\n" /* 6 */
				   "leaf l3 spines=s1,s9 10.0.0.3\n" /* 7 */
				   "leaf l4 id=4294967294 10.0.0.4\n" /* 8 */
				   "leaf l5 id=5 10.0.0.5\n" /* 9 */
				   "leaf l6 id=5 10.0.0.6\n" /* 10 */
				   "leaf l7 spines=0 spine-rate=4X colour=red 10.0.0.7\n" /* 11 */
				   "leaf l8\n" /* 12 */
				   "leaf l9 10.0.0.[1-]\n" /* 13 */
				   "leaf l10 spines=s1 10.0.0.1\n"; /* 14 */
	static const char *const want[] = {
		"t:3: '10.78.3.0/33' is not an address or prefix of the spine",
		"t:4: spine needs a name",
		"t:8: id '4294967294': 0..4294967293",
		"t:11: spines '0': 1..64 uplinks",
		"t:11: spine-rate '4X'",
		"t:11: unknown key 'colour' (id, spines, spine-rate, lldp)",
		"t:12: leaf l8 has no members",
		"t:13: member: '10.0.0.[1-]'",
		"t:7: leaf l3: spines= names s9, which is not a spine",
		"t:10: leaf l6: id 5 is leaf l5's (t:9)",
		"t:6: leaf l2: spine s2 is its uplink 0 but uplink 1 of leaf l1 (t:5)",
	};
	struct tita_topo_leaf leaf;
	struct tita_addr nic = addr("10.0.0.1");
	struct tita_topo *t;
	char err[256];

	(void)state;
	t = topo_of(NULL, "t", text);
	expect_problems(t, want, sizeof(want) / sizeof(want[0]));
	/* 10.0.0.1 is under l1 and l10: which one is not for titad to guess. */
	assert_int_equal(tita_topo_leaf_of(t, &nic, NULL, &leaf, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "leaf l1 (t:5) and of leaf l10 (t:14)"));
	nic = addr("10.0.0.5");
	assert_int_equal(tita_topo_leaf_of(t, &nic, NULL, &leaf, err, sizeof(err)), 0);
	assert_int_equal(leaf.place.leaf, 5);
	nic = addr("10.0.0.6");
	assert_int_equal(tita_topo_leaf_of(t, &nic, NULL, &leaf, err, sizeof(err)), -ENOENT);
	tita_topo_free(t);
}

/* Two names whose ids collide: among 2^20 "leafN" about 128 pairs do
 * (n^2 / 2^33); found by bucketing the ids on their top 16 bits. */
static void find_collision(char *a, char *b, size_t size)
{
	uint32_t n = 1 << 20, *ids = malloc(n * sizeof(*ids)), *idx = malloc(n * sizeof(*idx));
	uint32_t *start = calloc(65537, sizeof(*start));

	assert_true(ids && idx && start);
	for (uint32_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "leaf%u", i);
		ids[i] = tita_topo_leaf_hash(name);
		start[(ids[i] >> 16) + 1]++;
	}
	for (uint32_t k = 1; k <= 65536; k++)
		start[k] += start[k - 1];
	for (uint32_t i = 0; i < n; i++)
		idx[start[ids[i] >> 16]++] = i;
	a[0] = b[0] = '\0';
	for (uint32_t i = 0; i < n && !a[0]; i++)
		for (uint32_t k = i + 1; k < n && (ids[idx[k]] >> 16) == (ids[idx[i]] >> 16); k++)
			if (ids[idx[k]] == ids[idx[i]]) {
				snprintf(a, size, "leaf%u", idx[i]);
				snprintf(b, size, "leaf%u", idx[k]);
				break;
			}
	free(ids);
	free(idx);
	free(start);
	assert_true(a[0]);
}

static void test_leaf_ids(void **state)
{
	char a[32], b[32], text1[256], text2[256], err[256];
	struct tita_topo_leaf la, lb, la2, lb2;
	struct tita_topo *t1, *t2;

	(void)state;
	/* Ids never take the two values that are not leaves. */
	for (uint32_t i = 0; i < 1000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "x%u", i);
		assert_true(tita_topo_leaf_hash(name) < TITA_LEAF_ANY);
	}
	find_collision(a, b, sizeof(a));
	assert_int_equal(tita_topo_leaf_hash(a), tita_topo_leaf_hash(b));
	print_message("colliding names: %s %s (id %u)\n", a, b, tita_topo_leaf_hash(a));
	/* Parted, and alike whichever comes first in the file. */
	snprintf(text1, sizeof(text1),
		 "leaf %s spines=2 spine-rate=1G h1\nleaf %s spines=2 spine-rate=1G h2\n", a, b);
	snprintf(text2, sizeof(text2),
		 "leaf %s spines=2 spine-rate=1G h2\nleaf %s spines=2 spine-rate=1G h1\n", b, a);
	t1 = topo_of(NULL, "t1", text1);
	t2 = topo_of(NULL, "t2", text2);
	expect_problems(t1, NULL, 0);
	expect_problems(t2, NULL, 0);
	assert_int_equal(tita_topo_leaf_of(t1, NULL, "h1", &la, err, sizeof(err)), 0);
	assert_int_equal(tita_topo_leaf_of(t1, NULL, "h2", &lb, err, sizeof(err)), 0);
	assert_int_equal(tita_topo_leaf_of(t2, NULL, "h1", &la2, err, sizeof(err)), 0);
	assert_int_equal(tita_topo_leaf_of(t2, NULL, "h2", &lb2, err, sizeof(err)), 0);
	assert_int_not_equal(la.place.leaf, lb.place.leaf);
	assert_int_equal(la.place.leaf, la2.place.leaf);
	assert_int_equal(lb.place.leaf, lb2.place.leaf);
	/* The name that sorts first keeps its hash. */
	assert_int_equal(strcmp(a, b) < 0 ? la.place.leaf : lb.place.leaf, tita_topo_leaf_hash(a));
	tita_topo_free(t1);
	tita_topo_free(t2);
}

static void test_files(void **state)
{
	char dir[] = "/tmp/tita-topo-XXXXXX", slurm[64], spines[64], err[256];
	struct tita_fabric_conf fc;
	struct tita_topo_leaf leaf;
	struct tita_topo *t;
	uint16_t s;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(slurm, sizeof(slurm), "%s/topology.conf", dir);
	snprintf(spines, sizeof(spines), "%s/spines", dir);
	f = fopen(slurm, "w");
	fputs("SwitchName=l1 Nodes=h[1-2]\nSwitchName=l2 Nodes=h[3-4]\n"
	      "SwitchName=s1 Switches=l[1-2]\nSwitchName=s2 Switches=l[1-2]\n",
	      f);
	fclose(f);
	/* A Slurm file has no field for the spines' addresses: a tita file
	 * beside it gives them, by the switches' names. */
	f = fopen(spines, "w");
	fputs("spine s1 10.78.1.0/24\nspine s2 10.78.2.0/24\n", f);
	fclose(f);
	tita_fabric_conf_defaults(&fc);
	fc.spine_rate_bps = 100 * TITA_GBPS;
	t = tita_topo_new(&fc);
	assert_int_equal(tita_topo_load(t, slurm), 0);
	assert_int_equal(tita_topo_load(t, spines), 0);
	assert_int_equal(tita_topo_load(t, "/nonexistent/topology"), -ENOENT);
	assert_int_equal(tita_topo_load(t, dir), -EISDIR);
	tita_topo_finish(t);
	{
		const char *want[] = { "/nonexistent/topology: No such file or directory",
				       "not a regular file" };

		expect_problems(t, want, 2);
	}
	assert_int_equal(tita_topo_leaf_of(t, NULL, "h3", &leaf, err, sizeof(err)), 0);
	assert_string_equal(leaf.name, "l2");
	assert_true(leaf.spines_addressed);
	assert_int_equal(spine_of(t, "l2", "10.78.2.4", &s), 0);
	assert_int_equal(s, 1);
	tita_topo_free(t);
	unlink(slurm);
	unlink(spines);
	rmdir(dir);
}

static void test_problem_cap(void **state)
{
	size_t size = 300 * 16 + 64;
	char *text = malloc(size);
	struct tita_topo *t;
	size_t at = 0;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < 300; i++)
		at += (size_t)snprintf(text + at, size - at, "bogus %d\n", i);
	at += (size_t)snprintf(text + at, size - at, "leaf l1 spines=1 spine-rate=1G h1\n");
	t = topo_of(NULL, "big", text);
	assert_int_equal(tita_topo_n_problems(t), TITA_TOPO_PROBLEMS_MAX);
	assert_int_equal(tita_topo_problems_dropped(t), 300 - TITA_TOPO_PROBLEMS_MAX);
	/* The line after them all is read. */
	assert_int_equal(tita_topo_n_leaves(t), 1);
	tita_topo_free(t);
	free(text);
	/* A NUL in the middle loses that line only. */
	t = tita_topo_new(NULL);
	assert_int_equal(tita_topo_parse(t, "nul", "leaf a\0b h1\nleaf l2 h2\n", 23), 0);
	tita_topo_finish(t);
	assert_int_equal(tita_topo_n_problems(t), 1);
	assert_non_null(strstr(tita_topo_problem(t, 0), "nul:1: a NUL byte"));
	assert_int_equal(tita_topo_n_leaves(t), 1);
	tita_topo_free(t);
}

static void test_fabric_conf(void **state)
{
	struct tita_fabric_conf fc, before;
	char err[256];
	static const struct {
		const char *key, *value, *why;
	} bad[] = {
		{ "spines", "0", "1..64" },
		{ "spines", "65", "1..64" },
		{ "spines", "two", "1..64" },
		{ "spine-rate", "0", "a rate above 0" },
		{ "spine-rate", "400GB", "a rate above 0" },
		{ "link-speed-unit", "fast", "a rate above 0" },
		{ "probe-ttl", "0", "1..32" },
		{ "probe-ttl", "33", "1..32" },
		{ "lldp", "maybe", "on or off" },
		{ "hostname", "a b", "not a host name" },
		{ "topology", "relative/path", "not an absolute path" },
		{ "topology", "/a /b /c /d /e", "at most 4 files" },
	};

	(void)state;
	tita_fabric_conf_defaults(&fc);
	assert_int_equal(fc.probe_ttl, 2);
	assert_true(fc.lldp);
	assert_int_equal(tita_fabric_conf_set(&fc, "topology",
					      "/etc/slurm/topology.conf  /etc/tita/spines", err,
					      sizeof(err)),
			 0);
	assert_int_equal(fc.n_files, 2);
	assert_string_equal(fc.files[1], "/etc/tita/spines");
	assert_int_equal(tita_fabric_conf_set(&fc, "spines", "16", err, sizeof(err)), 0);
	assert_int_equal(fc.spines, 16);
	assert_int_equal(tita_fabric_conf_set(&fc, "spine-rate", "400G", err, sizeof(err)), 0);
	assert_int_equal(fc.spine_rate_bps, 400 * TITA_GBPS);
	assert_int_equal(tita_fabric_conf_set(&fc, "link-speed-unit", "1G", err, sizeof(err)), 0);
	assert_int_equal(fc.link_speed_unit_bps, TITA_GBPS);
	assert_int_equal(tita_fabric_conf_set(&fc, "probe-ttl", "3", err, sizeof(err)), 0);
	assert_int_equal(fc.probe_ttl, 3);
	assert_int_equal(tita_fabric_conf_set(&fc, "lldp", "off", err, sizeof(err)), 0);
	assert_false(fc.lldp);
	assert_int_equal(tita_fabric_conf_set(&fc, "hostname", "gpu001", err, sizeof(err)), 0);
	assert_string_equal(fc.hostname, "gpu001");
	assert_int_equal(tita_fabric_conf_set(&fc, "steer", "on", err, sizeof(err)), -ENOENT);
	before = fc;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = tita_fabric_conf_set(&fc, bad[i].key, bad[i].value, err, sizeof(err));

		if (r != -EINVAL || !strstr(err, bad[i].why))
			fail_msg("%s = %s: %d '%s', want '%s'", bad[i].key, bad[i].value, r, err,
				 bad[i].why);
		assert_memory_equal(&fc, &before, sizeof(fc));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostlist),       cmocka_unit_test(test_slurm),
		cmocka_unit_test(test_slurm_problems), cmocka_unit_test(test_tita_format),
		cmocka_unit_test(test_tita_problems),  cmocka_unit_test(test_leaf_ids),
		cmocka_unit_test(test_files),	       cmocka_unit_test(test_problem_cap),
		cmocka_unit_test(test_fabric_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
