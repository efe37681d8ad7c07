// SPDX-License-Identifier: MIT
/*
 * DCB netlink max-rate messages, byte for byte against the uapi layout
 * (<linux/dcbnl.h>, as iproute2's `dcb maxrate set` sends them), and the
 * parsing of the kernel's replies: a driver with max-rate support, one
 * without (no DCB_ATTR_IEEE_MAXRATE in its reply: a set would be ignored),
 * errors, and truncation.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/dcbnl.h>
#include <linux/rtnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dcbnl.h"

static void test_constants(void **state)
{
	(void)state;
	assert_int_equal(RTM_SETDCB, 79);
	assert_int_equal(RTM_GETDCB, 78);
	assert_int_equal(DCB_CMD_IEEE_SET, 20);
	assert_int_equal(DCB_CMD_IEEE_GET, 21);
	assert_int_equal(DCB_ATTR_IFNAME, 1);
	assert_int_equal(DCB_ATTR_IEEE, 13);
	assert_int_equal(DCB_ATTR_IEEE_MAXRATE, 7);
	assert_int_equal(sizeof(struct ieee_maxrate), 64);
}

#define LE64(v)                                                                        \
	(uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24), \
		(uint8_t)((uint64_t)(v) >> 32), (uint8_t)((uint64_t)(v) >> 40),        \
		(uint8_t)((uint64_t)(v) >> 48), (uint8_t)((uint64_t)(v) >> 56)

static void test_set_bytes(void **state)
{
	const uint64_t kbps[8] = { 25000000, 0, 0, 1000, 0, 0, 0, 400000000 };
	static const uint8_t want[] = {
		/* nlmsghdr: len 104, RTM_SETDCB, REQUEST|ACK, seq 0x01020304, pid 0 */
		104,
		0,
		0,
		0,
		79,
		0,
		0x05,
		0x00,
		0x04,
		0x03,
		0x02,
		0x01,
		0,
		0,
		0,
		0,
		/* struct dcbmsg: AF_UNSPEC, DCB_CMD_IEEE_SET, pad */
		0,
		20,
		0,
		0,
		/* DCB_ATTR_IFNAME "eth0\0" + 3 pad */
		9,
		0,
		1,
		0,
		'e',
		't',
		'h',
		'0',
		0,
		0,
		0,
		0,
		/* DCB_ATTR_IEEE, 72 bytes, with NLA_F_NESTED (0x8000) as libmnl,
		 * and so iproute2's dcb, sets it; dcbnl accepts it either way. */
		72,
		0,
		13,
		0x80,
		/* DCB_ATTR_IEEE_MAXRATE, struct ieee_maxrate: u64 tc_maxrate[8], kbit/s */
		68,
		0,
		7,
		0,
		LE64(25000000ull),
		LE64(0),
		LE64(0),
		LE64(1000),
		LE64(0),
		LE64(0),
		LE64(0),
		LE64(400000000ull),
	};
	uint8_t buf[256];

	(void)state;
	assert_int_equal(tita_dcb_build_set_maxrate(buf, sizeof(buf), 0x01020304, "eth0", kbps),
			 sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(tita_dcb_build_set_maxrate(buf, 50, 1, "eth0", kbps), -ENOSPC);
	assert_int_equal(tita_dcb_build_set_maxrate(buf, sizeof(buf), 1,
						    "a-name-too-long-for-a-netdev", kbps),
			 -ENAMETOOLONG);
}

static void test_get_bytes(void **state)
{
	static const uint8_t want[] = {
		/* len 32, RTM_GETDCB, REQUEST, seq 9 */
		32, 0,	0, 0, 78, 0, 0x01, 0x00, 9,   0,   0,	0,   0,	  0,   0, 0,
		0,  21, 0, 0, 11, 0, 1,	   0,	 'e', 'n', 'p', '1', 's', '0', 0, 0,
	};
	uint8_t buf[64];

	(void)state;
	assert_int_equal(tita_dcb_build_get(buf, sizeof(buf), 9, "enp1s0"), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

/* A get reply as dcbnl_ieee_fill() writes it. */
static size_t get_reply(char *buf, bool with_maxrate)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct dcbmsg *d = mnl_nlmsg_put_extra_header(nlh, sizeof(*d));
	struct ieee_ets ets = { .willing = 1 };
	struct ieee_maxrate mr = { .tc_maxrate = { 1, 2, 3, 4, 5, 6, 7, 8 } };
	struct nlattr *nest;

	nlh->nlmsg_type = RTM_GETDCB;
	d->cmd = DCB_CMD_IEEE_GET;
	mnl_attr_put_strz(nlh, DCB_ATTR_IFNAME, "eth0");
	nest = mnl_attr_nest_start(nlh, DCB_ATTR_IEEE);
	mnl_attr_put(nlh, DCB_ATTR_IEEE_ETS, sizeof(ets), &ets);
	if (with_maxrate)
		mnl_attr_put(nlh, DCB_ATTR_IEEE_MAXRATE, sizeof(mr), &mr);
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_put_u8(nlh, DCB_ATTR_DCBX, DCB_CAP_DCBX_VER_IEEE);
	return nlh->nlmsg_len;
}

static void test_parse_get(void **state)
{
	static char buf[1024];
	uint64_t kbps[8] = { 0 };
	size_t len;

	(void)state;
	len = get_reply(buf, true);
	assert_int_equal(tita_dcb_parse_get(buf, len, kbps), 0);
	assert_int_equal(kbps[0], 1);
	assert_int_equal(kbps[7], 8);
	/* A driver without ieee_getmaxrate: a set would be a silent no-op. */
	len = get_reply(buf, false);
	assert_int_equal(tita_dcb_parse_get(buf, len, kbps), -EOPNOTSUPP);
	/* Every truncation fails cleanly. */
	len = get_reply(buf, true);
	for (size_t cut = 0; cut < len; cut++) {
		int r = tita_dcb_parse_get(buf, cut, kbps);

		assert_true(r == -EBADMSG || r == -EOPNOTSUPP);
	}
	/* A MAXRATE of the wrong size. */
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct nlattr *nest;
		uint32_t small = 5;

		nlh->nlmsg_type = RTM_GETDCB;
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct dcbmsg));
		nest = mnl_attr_nest_start(nlh, DCB_ATTR_IEEE);
		mnl_attr_put(nlh, DCB_ATTR_IEEE_MAXRATE, sizeof(small), &small);
		mnl_attr_nest_end(nlh, nest);
		assert_int_equal(tita_dcb_parse_get(buf, nlh->nlmsg_len, kbps), -EBADMSG);
	}
}

static void test_parse_errors(void **state)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	uint64_t kbps[8];

	(void)state;
	nlh->nlmsg_type = NLMSG_ERROR;
	/* dcb_doit() on a device without dcbnl_ops (veth). */
	e->error = -EOPNOTSUPP;
	assert_int_equal(tita_dcb_parse_get(buf, nlh->nlmsg_len, kbps), -EOPNOTSUPP);
	assert_int_equal(tita_dcb_parse_set(buf, nlh->nlmsg_len), -EOPNOTSUPP);
	e->error = -ENODEV;
	assert_int_equal(tita_dcb_parse_set(buf, nlh->nlmsg_len), -ENODEV);
	/* The ACK after a set's status message. */
	e->error = 0;
	assert_int_equal(tita_dcb_parse_set(buf, nlh->nlmsg_len), 0);
}

static void test_parse_set(void **state)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct dcbmsg *d;

	(void)state;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_SETDCB;
	d = mnl_nlmsg_put_extra_header(nlh, sizeof(*d));
	d->cmd = DCB_CMD_IEEE_SET;
	mnl_attr_put_u8(nlh, DCB_ATTR_IEEE, 0);
	assert_int_equal(tita_dcb_parse_set(buf, nlh->nlmsg_len), 0);
	/* The driver's -EINVAL, cut to a u8 by nla_put_u8. */
	*(uint8_t *)mnl_attr_get_payload(
		(struct nlattr *)((char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*d)))) = 234;
	assert_int_equal(tita_dcb_parse_set(buf, nlh->nlmsg_len), -EIO);
	/* A status message without its status. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_SETDCB;
	mnl_nlmsg_put_extra_header(nlh, sizeof(*d));
	assert_int_equal(tita_dcb_parse_set(buf, nlh->nlmsg_len), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),    cmocka_unit_test(test_set_bytes),
		cmocka_unit_test(test_get_bytes),    cmocka_unit_test(test_parse_get),
		cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_parse_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
