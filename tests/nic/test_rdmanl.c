// SPDX-License-Identifier: MIT
/*
 * RDMA netlink QP dumps, parsed from messages built to the kernel's uapi
 * layout (<rdma/rdma_netlink.h>, as nldev.c fill_res_qp_entry writes
 * them): a hand-written golden message, libmnl-built multi-message dumps,
 * every truncation of them, malformed attributes, kernel errors, and
 * seeded random corruption (the seed is printed).
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <rdma/rdma_netlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rdmanl.h"

#define QP_TYPE RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_RES_QP_GET)

struct seen {
	size_t n;
	struct tita_rdma_qp qp[16];
};

static int collect(const struct tita_rdma_qp *qp, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 16)
		s->qp[s->n] = *qp;
	s->n++;
	return 0;
}

static void test_constants(void **state)
{
	(void)state;
	/* The numbers the kernel uses, so a header drift shows here. */
	assert_int_equal(QP_TYPE, (5 << 10) + 10);
	assert_int_equal(RDMA_NLDEV_ATTR_DEV_INDEX, 1);
	assert_int_equal(RDMA_NLDEV_ATTR_RES_QP, 19);
	assert_int_equal(RDMA_NLDEV_ATTR_RES_QP_ENTRY, 20);
	assert_int_equal(RDMA_NLDEV_ATTR_RES_LQPN, 21);
}

/* One reply, written out byte by byte (little-endian host): device 3
 * "mlx5_0", one RC QP 0x1234 → 0x5678, RTS, port 1, PID 4242. */
static const uint8_t golden[] = {
	/* nlmsghdr: len 100, type 5130, flags NLM_F_MULTI, seq 1, pid 0 */
	100,
	0,
	0,
	0,
	0x0a,
	0x14,
	0x02,
	0x00,
	1,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	/* DEV_INDEX (1) u32 3 */
	8,
	0,
	1,
	0,
	3,
	0,
	0,
	0,
	/* DEV_NAME (2) "mlx5_0\0" + 1 pad */
	11,
	0,
	2,
	0,
	'm',
	'l',
	'x',
	'5',
	'_',
	'0',
	0,
	0,
	/* RES_QP (19), 64 bytes */
	64,
	0,
	19,
	0,
	/* RES_QP_ENTRY (20), 60 bytes */
	60,
	0,
	20,
	0,
	/* PORT_INDEX (3) 1 */
	8,
	0,
	3,
	0,
	1,
	0,
	0,
	0,
	/* LQPN (21) 0x1234 */
	8,
	0,
	21,
	0,
	0x34,
	0x12,
	0,
	0,
	/* RQPN (22) 0x5678 */
	8,
	0,
	22,
	0,
	0x78,
	0x56,
	0,
	0,
	/* SQ_PSN (24) */
	8,
	0,
	24,
	0,
	0,
	0,
	0,
	0,
	/* TYPE (26) u8 2 = RC, padded */
	5,
	0,
	26,
	0,
	2,
	0,
	0,
	0,
	/* STATE (27) u8 3 = RTS */
	5,
	0,
	27,
	0,
	3,
	0,
	0,
	0,
	/* PID (28) 4242 */
	8,
	0,
	28,
	0,
	0x92,
	0x10,
	0,
	0,
};

static void test_golden(void **state)
{
	struct seen s = { 0 };
	struct tita_rdma_parse_stats st = { 0 };

	(void)state;
	assert_int_equal(sizeof(golden), 100);
	assert_int_equal(RDMA_NLDEV_ATTR_RES_PID, 28);
	assert_int_equal(tita_rdma_parse_qp_dump(golden, sizeof(golden), collect, &s, &st), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(st.messages, 1);
	assert_int_equal(s.qp[0].dev_index, 3);
	assert_string_equal(s.qp[0].dev_name, "mlx5_0");
	assert_int_equal(s.qp[0].port, 1);
	assert_int_equal(s.qp[0].lqpn, 0x1234);
	assert_true(s.qp[0].has_rqpn);
	assert_int_equal(s.qp[0].rqpn, 0x5678);
	assert_int_equal(s.qp[0].type, 2);
	assert_int_equal(s.qp[0].state, 3);
	assert_true(s.qp[0].has_pid);
	assert_int_equal(s.qp[0].pid, 4242);
	assert_string_equal(tita_rdma_qp_type_name(s.qp[0].type), "RC");
	assert_string_equal(tita_rdma_qp_state_name(s.qp[0].state), "RTS");
}

/* A reply message for device idx with a user RC QP and a kernel GSI QP. */
static size_t build_reply(char *buf, uint32_t idx, const char *name, uint32_t lqpn_base)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *table, *e;

	nlh->nlmsg_type = QP_TYPE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_DEV_INDEX, idx);
	mnl_attr_put_strz(nlh, RDMA_NLDEV_ATTR_DEV_NAME, name);
	table = mnl_attr_nest_start(nlh, RDMA_NLDEV_ATTR_RES_QP);
	e = mnl_attr_nest_start(nlh, RDMA_NLDEV_ATTR_RES_QP_ENTRY);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_PORT_INDEX, 1);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_LQPN, lqpn_base);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_RQPN, lqpn_base + 100);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_RQ_PSN, 7);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_SQ_PSN, 9);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_PATH_MIG_STATE, 0);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_TYPE, 2);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_STATE, 3);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_PDN, 4);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_PID, 1000 + lqpn_base);
	mnl_attr_nest_end(nlh, e);
	/* A kernel QP: no port yet, no PID, the owner's name. */
	e = mnl_attr_nest_start(nlh, RDMA_NLDEV_ATTR_RES_QP_ENTRY);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_LQPN, 1);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_SQ_PSN, 0);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_TYPE, 1);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_STATE, 0);
	mnl_attr_put_strz(nlh, RDMA_NLDEV_ATTR_RES_KERN_NAME, "ib_core");
	mnl_attr_nest_end(nlh, e);
	mnl_attr_nest_end(nlh, table);
	return MNL_ALIGN(nlh->nlmsg_len);
}

static size_t build_dump(char *buf)
{
	size_t len = build_reply(buf, 0, "mlx5_0", 0x40);
	struct nlmsghdr *done;

	len += build_reply(buf + len, 1, "mlx5_1", 0x80);
	done = mnl_nlmsg_put_header(buf + len);
	done->nlmsg_type = NLMSG_DONE;
	done->nlmsg_flags = NLM_F_MULTI;
	mnl_nlmsg_put_extra_header(done, sizeof(int));
	return len + done->nlmsg_len;
}

static void test_dump(void **state)
{
	static char buf[8192];
	size_t len = build_dump(buf);
	struct seen s = { 0 };
	struct tita_rdma_parse_stats st = { 0 };

	(void)state;
	assert_int_equal(tita_rdma_parse_qp_dump(buf, len, collect, &s, &st), 1);
	assert_int_equal(s.n, 4);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.skipped, 0);
	assert_string_equal(s.qp[0].dev_name, "mlx5_0");
	assert_int_equal(s.qp[0].lqpn, 0x40);
	assert_int_equal(s.qp[0].pid, 1000 + 0x40);
	assert_false(s.qp[1].has_pid);
	assert_false(s.qp[1].has_rqpn);
	assert_int_equal(s.qp[1].port, 0);
	assert_string_equal(s.qp[1].kern_name, "ib_core");
	assert_string_equal(s.qp[2].dev_name, "mlx5_1");
	assert_int_equal(s.qp[2].dev_index, 1);
	assert_int_equal(s.qp[2].rqpn, 0x80 + 100);
}

static void test_truncated(void **state)
{
	static char buf[8192], copy[8192];
	size_t len = build_dump(buf);

	(void)state;
	/* Every prefix: never a read past the end (ASan watches), never
	 * more QPs than the whole dump has, and a complete first message
	 * always delivers its QPs. */
	for (size_t cut = 0; cut < len; cut++) {
		struct seen s = { 0 };
		int r;

		memcpy(copy, buf, cut);
		r = tita_rdma_parse_qp_dump(copy, cut, collect, &s, NULL);
		assert_true(r == 0 || r == -EBADMSG);
		assert_true(s.n <= 4);
	}
	/* A header that claims more than arrived. */
	{
		struct seen s = { 0 };

		memcpy(copy, buf, len);
		((struct nlmsghdr *)copy)->nlmsg_len = (uint32_t)len + 4;
		assert_int_equal(tita_rdma_parse_qp_dump(copy, len, collect, &s, NULL), -EBADMSG);
		assert_int_equal(s.n, 0);
	}
}

/* Build a one-entry message with the entry's attributes from put(). */
static size_t one_entry(char *buf, void (*put)(struct nlmsghdr *))
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *t, *e;

	nlh->nlmsg_type = QP_TYPE;
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_DEV_INDEX, 0);
	t = mnl_attr_nest_start(nlh, RDMA_NLDEV_ATTR_RES_QP);
	e = mnl_attr_nest_start(nlh, RDMA_NLDEV_ATTR_RES_QP_ENTRY);
	put(nlh);
	mnl_attr_nest_end(nlh, e);
	mnl_attr_nest_end(nlh, t);
	return nlh->nlmsg_len;
}

static void put_short_lqpn(struct nlmsghdr *nlh)
{
	mnl_attr_put_u16(nlh, RDMA_NLDEV_ATTR_RES_LQPN, 5); /* u32 expected */
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_TYPE, 2);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_STATE, 3);
}

static void put_wide_type(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_LQPN, 5);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_TYPE, 2); /* u8 expected */
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_STATE, 3);
}

static void put_no_state(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_LQPN, 5);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_TYPE, 2);
}

static void put_unterminated_name(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_LQPN, 5);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_TYPE, 2);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_STATE, 3);
	mnl_attr_put(nlh, RDMA_NLDEV_ATTR_RES_KERN_NAME, 3, "abc");
}

static void put_good(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_RES_LQPN, 5);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_TYPE, 4);
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_RES_STATE, 2);
	/* An attribute this code does not know is skipped. */
	mnl_attr_put_u64(nlh, 400, 1);
}

static void test_malformed(void **state)
{
	static char buf[1024];
	void (*const bad[])(struct nlmsghdr *) = { put_short_lqpn, put_wide_type, put_no_state,
						   put_unterminated_name };
	struct tita_rdma_parse_stats st;
	struct seen s;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		memset(&st, 0, sizeof(st));
		len = one_entry(buf, bad[i]);
		assert_int_equal(tita_rdma_parse_qp_dump(buf, len, collect, &s, &st), 0);
		assert_int_equal(s.n, 0);
		assert_int_equal(st.skipped, 1);
	}
	memset(&s, 0, sizeof(s));
	len = one_entry(buf, put_good);
	assert_int_equal(tita_rdma_parse_qp_dump(buf, len, collect, &s, NULL), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.qp[0].type, 4);

	/* An attribute whose length runs past the message. */
	memset(&s, 0, sizeof(s));
	len = one_entry(buf, put_good);
	((struct nlattr *)(buf + MNL_NLMSG_HDRLEN))->nla_len = 0x400;
	assert_int_equal(tita_rdma_parse_qp_dump(buf, len, collect, &s, NULL), -EBADMSG);
	/* An attribute shorter than its own header. */
	len = one_entry(buf, put_good);
	((struct nlattr *)(buf + MNL_NLMSG_HDRLEN))->nla_len = 2;
	assert_int_equal(tita_rdma_parse_qp_dump(buf, len, collect, &s, NULL), -EBADMSG);
	/* A QP table before the device it belongs to. */
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct nlattr *t = mnl_attr_nest_start(nlh, RDMA_NLDEV_ATTR_RES_QP);

		nlh->nlmsg_type = QP_TYPE;
		mnl_attr_nest_end(nlh, t);
		assert_int_equal(tita_rdma_parse_qp_dump(buf, nlh->nlmsg_len, collect, &s, NULL),
				 -EBADMSG);
	}
}

static void test_error(void **state)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	struct seen s = { 0 };

	(void)state;
	nlh->nlmsg_type = NLMSG_ERROR;
	e->error = -EPERM;
	assert_int_equal(tita_rdma_parse_qp_dump(buf, nlh->nlmsg_len, collect, &s, NULL), -EPERM);
	e->error = 0;
	assert_int_equal(tita_rdma_parse_qp_dump(buf, nlh->nlmsg_len, collect, &s, NULL), 1);
	/* An error message too short to hold its error. */
	nlh->nlmsg_len = sizeof(*nlh) + 2;
	assert_int_equal(tita_rdma_parse_qp_dump(buf, nlh->nlmsg_len, collect, &s, NULL), -EBADMSG);
}

static int stop_at_two(const struct tita_rdma_qp *qp, void *ctx)
{
	size_t *n = ctx;

	(void)qp;
	return ++*n == 2 ? 42 : 0;
}

static void test_callback_stop(void **state)
{
	static char buf[8192];
	size_t len = build_dump(buf), n = 0;

	(void)state;
	assert_int_equal(tita_rdma_parse_qp_dump(buf, len, stop_at_two, &n, NULL), 42);
	assert_int_equal(n, 2);
}

static void test_request(void **state)
{
	uint8_t buf[64];
	/* nlmsghdr(32, 5130, REQUEST|ACK|DUMP = 0x305, seq 7, pid 0),
	 * DEV_INDEX u32 2, DRIVER_DETAILS u8 0 (padded). */
	static const uint8_t want[] = {
		32, 0, 0, 0, 0x0a, 0x14, 0x05, 0x03, 7, 0, 0,  0, 0, 0, 0, 0,
		8,  0, 1, 0, 2,	   0,	 0,    0,    5, 0, 97, 0, 0, 0, 0, 0,
	};

	(void)state;
	assert_int_equal(tita_rdma_build_qp_request(buf, sizeof(buf), 7, 2), 32);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(tita_rdma_build_qp_request(buf, 16, 7, 2), -ENOSPC);
}

static void test_dev(void **state)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tita_rdma_dev d;

	(void)state;
	nlh->nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_GET);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_DEV_INDEX, 4);
	mnl_attr_put_strz(nlh, RDMA_NLDEV_ATTR_DEV_NAME, "bnxt_re0");
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_PORT_INDEX, 2);
	assert_int_equal(tita_rdma_parse_dev(buf, nlh->nlmsg_len, &d), 0);
	assert_int_equal(d.index, 4);
	assert_string_equal(d.name, "bnxt_re0");
	assert_int_equal(d.n_ports, 2);
	assert_int_equal(tita_rdma_parse_dev(buf, nlh->nlmsg_len - 8, &d), -EBADMSG);
}

static int count_only(const struct tita_rdma_qp *qp, void *ctx)
{
	(void)qp;
	(*(size_t *)ctx)++;
	return 0;
}

static void test_random(void **state)
{
	static char buf[8192], copy[8192];
	size_t len = build_dump(buf);
	unsigned seed = (unsigned)time(NULL);
	const char *env = getenv("TITA_TEST_SEED");

	(void)state;
	if (env)
		seed = (unsigned)strtoul(env, NULL, 10);
	printf("# seed %u (TITA_TEST_SEED)\n", seed);
	srand(seed);
	for (int i = 0; i < 20000; i++) {
		size_t n = 0;
		size_t cut = (size_t)rand() % (len + 1);

		memcpy(copy, buf, len);
		for (int k = rand() % 4; k >= 0; k--)
			copy[(size_t)rand() % len] = (char)rand();
		(void)tita_rdma_parse_qp_dump(copy, cut, count_only, &n, NULL);
		assert_true(n <= 64);
	}
}

/* The kernel, if it has RDMA netlink: a device list must not fail for a
 * reason other than "no RDMA here". */
static void test_live(void **state)
{
	struct tita_rdma_dev devs[8];
	size_t n = 0;
	int r = tita_rdma_list_devices(devs, 8, &n);

	(void)state;
	printf("# live: %d, %zu devices\n", r, n);
	assert_true(r == 0 || r == -EPROTONOSUPPORT || r == -ENOENT || r == -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),     cmocka_unit_test(test_golden),
		cmocka_unit_test(test_dump),	      cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_malformed),     cmocka_unit_test(test_error),
		cmocka_unit_test(test_callback_stop), cmocka_unit_test(test_request),
		cmocka_unit_test(test_dev),	      cmocka_unit_test(test_random),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
