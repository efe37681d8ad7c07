// SPDX-License-Identifier: MIT
/*
 * Pause counters at the library boundary: the ethtool netlink requests
 * byte for byte, replies recorded from a 6.1 kernel (the family lookup,
 * a veth's refusal) or laid out as the kernel's pause_fill_reply() lays
 * them out for a driver with and without get_pause_stats, malformed
 * replies, and driver statistics tables named as mlx5 and ice name them.
 */
#include <errno.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pausestats.h"

static void test_family_request_bytes(void **state)
{
	static const uint8_t want[] = {
		/* nlmsghdr: len 32, GENL_ID_CTRL, NLM_F_REQUEST, seq 7, pid 0 */
		32, 0, 0, 0, 0x10, 0, 0x01, 0, 7, 0, 0, 0, 0, 0, 0, 0,
		/* genlmsghdr: CTRL_CMD_GETFAMILY, version 1 */
		3, 1, 0, 0,
		/* CTRL_ATTR_FAMILY_NAME "ethtool\0" */
		12, 0, 2, 0, 'e', 't', 'h', 't', 'o', 'o', 'l', 0
	};
	uint8_t buf[64];
	int n;

	(void)state;
	n = tita_pause_build_family_get(buf, sizeof(buf), 7);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(tita_pause_build_family_get(buf, 31, 7), -ENOSPC);
}

static void test_get_request_bytes(void **state)
{
	static const uint8_t want[] = {
		/* nlmsghdr: len 44, family 21, NLM_F_REQUEST, seq 2 */
		44, 0, 0, 0, 21, 0, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0,
		/* genlmsghdr: ETHTOOL_MSG_PAUSE_GET (21), version 1 */
		21, 1, 0, 0,
		/* ETHTOOL_A_PAUSE_HEADER, nested (0x8000 as libmnl sets it) */
		24, 0, 1, 0x80,
		/* ETHTOOL_A_HEADER_DEV_NAME "eth0\0" + pad */
		9, 0, 2, 0, 'e', 't', 'h', '0', 0, 0, 0, 0,
		/* ETHTOOL_A_HEADER_FLAGS = ETHTOOL_FLAG_STATS (4) */
		8, 0, 3, 0, 4, 0, 0, 0
	};
	uint8_t buf[128];
	int n;

	(void)state;
	assert_int_equal(ETHTOOL_MSG_PAUSE_GET, 21);
	assert_int_equal(ETHTOOL_MSG_PAUSE_GET_REPLY, 22);
	n = tita_pause_build_get(buf, sizeof(buf), 2, 21, "eth0");
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(tita_pause_build_get(buf, sizeof(want) - 1, 2, 21, "eth0"), -ENOSPC);
	assert_int_equal(tita_pause_build_get(buf, sizeof(buf), 2, 21, "a-name-too-long-for-if"),
			 -ENAMETOOLONG);
}

/* The start of the kernel's reply to the family request above (6.1), its
 * length cut down to the name and id attributes that come first. */
static const uint8_t family_reply[] = {
	40,   0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x61, 0x02,
	0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x0c, 0x00, 0x02, 0x00, 0x65, 0x74, 0x68, 0x74,
	0x6f, 0x6f, 0x6c, 0x00, 0x06, 0x00, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00,
};

/* The kernel's answer to a pause get on a veth (no get_pauseparam):
 * NLMSG_ERROR -EOPNOTSUPP with the request echoed, recorded. */
static const uint8_t veth_reply[] = {
	0x3c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x81, 0x03, 0x00,
	0x00, 0xa1, 0xff, 0xff, 0xff, 0x28, 0x00, 0x00, 0x00, 0x15, 0x00, 0x01, 0x00, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0x01, 0x00, 0x00, 0x14, 0x00, 0x01, 0x80, 0x08,
	0x00, 0x02, 0x00, 0x74, 0x70, 0x30, 0x00, 0x08, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00,
};

static void test_parse_family(void **state)
{
	uint16_t id = 0;
	uint8_t bad[sizeof(family_reply)];
	/* -ENOENT: a kernel without the family. */
	static const uint8_t no_family[] = { 36,   0, 0, 0, 2,	  0,	0,    0,    1,	0, 0, 0,
					     0,	   0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 32, 0, 0, 0,
					     0x10, 0, 1, 0, 1,	  0,	0,    0,    0,	0, 0, 0 };

	(void)state;
	assert_int_equal(tita_pause_parse_family(family_reply, sizeof(family_reply), &id), 0);
	assert_int_equal(id, 21);
	assert_int_equal(tita_pause_parse_family(no_family, sizeof(no_family), &id), -ENOENT);
	/* Cut short, and an attribute longer than the message. */
	assert_int_equal(tita_pause_parse_family(family_reply, 10, &id), -EBADMSG);
	memcpy(bad, family_reply, sizeof(bad));
	bad[32] = 0x40;
	assert_int_equal(tita_pause_parse_family(bad, sizeof(bad), &id), -EBADMSG);
	/* An id attribute of the wrong size. */
	memcpy(bad, family_reply, sizeof(bad));
	bad[32] = 8;
	bad[0] = 44;
	{
		uint8_t longer[44] = { 0 };

		memcpy(longer, bad, sizeof(bad));
		assert_int_equal(tita_pause_parse_family(longer, sizeof(longer), &id), -EBADMSG);
	}
}

/* A reply as pause_fill_reply() builds it: the header nest, autoneg, rx,
 * tx, then the stats nest (with_stats: the pad and both counters; else
 * empty, as for a driver without get_pause_stats). */
static size_t make_reply(uint8_t *buf, bool with_stats, bool only_tx)
{
	uint8_t *p = buf;
	uint64_t tx = 0x0102030405060708ull, rx = 12345;

#define PUT16(v)                            \
	do {                                \
		*p++ = (uint8_t)(v);        \
		*p++ = (uint8_t)((v) >> 8); \
	} while (0)
	memset(buf, 0, 256);
	p += 4; /* length, later */
	PUT16(21); /* the family */
	PUT16(0);
	p += 8; /* seq, pid */
	*p++ = ETHTOOL_MSG_PAUSE_GET_REPLY;
	*p++ = 1;
	p += 2;
	/* header: DEV_INDEX 2, DEV_NAME "eth0" */
	PUT16(24);
	PUT16(ETHTOOL_A_PAUSE_HEADER | 0x8000);
	PUT16(8);
	PUT16(ETHTOOL_A_HEADER_DEV_INDEX);
	*p = 2;
	p += 4;
	PUT16(9);
	PUT16(ETHTOOL_A_HEADER_DEV_NAME);
	memcpy(p, "eth0", 5);
	p += 8;
	for (int a = ETHTOOL_A_PAUSE_AUTONEG; a <= ETHTOOL_A_PAUSE_TX; a++) {
		PUT16(5);
		PUT16(a);
		*p = 1;
		p += 4;
	}
	if (!with_stats) {
		PUT16(4);
		PUT16(ETHTOOL_A_PAUSE_STATS | 0x8000);
	} else {
		PUT16(4 + 4 + 12 + (only_tx ? 0 : 12));
		PUT16(ETHTOOL_A_PAUSE_STATS | 0x8000);
		PUT16(4);
		PUT16(ETHTOOL_A_PAUSE_STAT_PAD);
		PUT16(12);
		PUT16(ETHTOOL_A_PAUSE_STAT_TX_FRAMES);
		memcpy(p, &tx, 8);
		p += 8;
		if (!only_tx) {
			PUT16(12);
			PUT16(ETHTOOL_A_PAUSE_STAT_RX_FRAMES);
			memcpy(p, &rx, 8);
			p += 8;
		}
	}
#undef PUT16
	buf[0] = (uint8_t)(p - buf);
	return (size_t)(p - buf);
}

static void test_parse_get(void **state)
{
	uint8_t buf[256];
	struct tita_pause_counts c;
	size_t n;

	(void)state;
	memset(&c, 0, sizeof(c));
	n = make_reply(buf, true, false);
	assert_int_equal(tita_pause_parse_get(buf, n, &c), 0);
	assert_true(c.has_link);
	assert_int_equal(c.link_tx_frames, 0x0102030405060708ull);
	assert_int_equal(c.link_rx_frames, 12345);
	assert_false(c.has_prio);

	/* No get_pause_stats: an empty nest, unknown (not 0). */
	memset(&c, 0, sizeof(c));
	n = make_reply(buf, false, false);
	assert_int_equal(tita_pause_parse_get(buf, n, &c), -EOPNOTSUPP);
	assert_false(c.has_link);
	/* One direction only: unknown too. */
	n = make_reply(buf, true, true);
	assert_int_equal(tita_pause_parse_get(buf, n, &c), -EOPNOTSUPP);
	assert_false(c.has_link);

	/* The veth's refusal, recorded. */
	assert_int_equal(tita_pause_parse_get(veth_reply, sizeof(veth_reply), &c), -EOPNOTSUPP);

	/* Malformed: cut anywhere inside, a counter of the wrong size, the
	 * wrong command. */
	n = make_reply(buf, true, false);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(tita_pause_parse_get(buf, cut, &c), -EBADMSG);
	buf[n - 12] = 10; /* RX_FRAMES' length */
	assert_int_equal(tita_pause_parse_get(buf, n, &c), -EBADMSG);
	n = make_reply(buf, true, false);
	buf[16] = ETHTOOL_MSG_PAUSE_GET;
	assert_int_equal(tita_pause_parse_get(buf, n, &c), -EBADMSG);
	n = make_reply(buf, true, false);
	buf[4] = 2; /* NLMSG_ERROR with a 0 error: an ACK, not an answer */
	memset(buf + 16, 0, 4);
	assert_int_equal(tita_pause_parse_get(buf, n, &c), -EBADMSG);
}

static void put_name(char *names, size_t i, const char *s)
{
	strncpy(names + i * TITA_PAUSE_STRING_LEN, s, TITA_PAUSE_STRING_LEN);
}

static void test_prio_index(void **state)
{
	char names[8 * TITA_PAUSE_STRING_LEN];
	size_t tx = 99, rx = 99;

	(void)state;
	memset(names, 0, sizeof(names));
	/* mlx5: the duration and transition counters share the prefix. */
	put_name(names, 0, "rx_packets");
	put_name(names, 1, "rx_prio3_pause_duration");
	put_name(names, 2, "tx_prio3_pause_duration");
	put_name(names, 3, "rx_prio3_pause");
	put_name(names, 4, "tx_prio0_pause");
	put_name(names, 5, "tx_prio3_pause");
	put_name(names, 6, "rx_prio3_pause_transition");
	put_name(names, 7, "rx_prio0_pause");
	assert_int_equal(tita_pause_prio_index(names, 8, 3, &tx, &rx), 0);
	assert_int_equal(tx, 5);
	assert_int_equal(rx, 3);
	assert_int_equal(tita_pause_prio_index(names, 8, 0, &tx, &rx), 0);
	assert_int_equal(tx, 4);
	assert_int_equal(rx, 7);
	/* A priority with one direction only, none, out of range. */
	put_name(names, 7, "rx_prio1_pause");
	assert_int_equal(tita_pause_prio_index(names, 8, 0, &tx, &rx), -ENOENT);
	assert_int_equal(tita_pause_prio_index(names, 8, 5, &tx, &rx), -ENOENT);
	assert_int_equal(tita_pause_prio_index(names, 8, 8, &tx, &rx), -ENOENT);

	/* ice: XOFF frames per priority. */
	memset(names, 0, sizeof(names));
	put_name(names, 0, "rx_priority_3_xon.nic");
	put_name(names, 1, "rx_priority_3_xoff.nic");
	put_name(names, 2, "tx_priority_3_xon.nic");
	put_name(names, 3, "tx_priority_3_xoff.nic");
	assert_int_equal(tita_pause_prio_index(names, 4, 3, &tx, &rx), 0);
	assert_int_equal(tx, 3);
	assert_int_equal(rx, 1);

	/* veth's table has none. */
	memset(names, 0, sizeof(names));
	put_name(names, 0, "peer_ifindex");
	put_name(names, 1, "rx_queue_0_xdp_packets");
	assert_int_equal(tita_pause_prio_index(names, 2, 3, &tx, &rx), -ENOENT);
	assert_int_equal(tita_pause_prio_index(names, 0, 3, &tx, &rx), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_request_bytes),
		cmocka_unit_test(test_get_request_bytes),
		cmocka_unit_test(test_parse_family),
		cmocka_unit_test(test_parse_get),
		cmocka_unit_test(test_prio_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
