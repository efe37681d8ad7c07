// SPDX-License-Identifier: MIT
/*
 * Unit tests of the RoCEv2 parser twin (lib/roce.c) on frames built here by
 * hand, byte by byte: every cut of a frame, the opcode table against the
 * IBTA list, the extension-header bound, fragments. The scapy-built fixture
 * table (tests/bpf) judges the same parser against XDP and tshark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tita/roce.h"

/* Ethernet / 802.1Q / IPv4 (IHL 6, one option word) / UDP 4791 / BTH. */
static size_t frame_v4(uint8_t *f, uint8_t opcode, uint32_t qp, uint32_t psn, uint8_t tos)
{
	static const uint8_t hdr[] = {
		/* Ethernet: dst, src, 802.1Q */
		0x02,
		0,
		0,
		0,
		0,
		2,
		0x02,
		0,
		0,
		0,
		0,
		1,
		0x81,
		0x00,
		/* VLAN 7, IPv4 */
		0x00,
		0x07,
		0x08,
		0x00,
		/* IPv4: IHL 6, TOS, len, id, DF, ttl, UDP, csum, 10.0.0.1 > 10.0.0.2 */
		0x46,
		0x00,
		0x00,
		0x40,
		0x00,
		0x01,
		0x40,
		0x00,
		64,
		17,
		0,
		0,
		10,
		0,
		0,
		1,
		10,
		0,
		0,
		2,
		/* one option word: NOPs */
		0x01,
		0x01,
		0x01,
		0x01,
		/* UDP 49152 > 4791 */
		0xc0,
		0x00,
		0x12,
		0xb7,
		0x00,
		0x20,
		0x00,
		0x00,
	};
	uint8_t *bth = f + sizeof(hdr);

	memcpy(f, hdr, sizeof(hdr));
	f[19] = tos;
	memset(bth, 0, 12 + 4);
	bth[0] = opcode;
	bth[2] = bth[3] = 0xff;
	bth[5] = (uint8_t)(qp >> 16);
	bth[6] = (uint8_t)(qp >> 8);
	bth[7] = (uint8_t)qp;
	bth[9] = (uint8_t)(psn >> 16);
	bth[10] = (uint8_t)(psn >> 8);
	bth[11] = (uint8_t)psn;
	return sizeof(hdr) + 12 + 4; /* BTH and ICRC */
}

static void test_v4_fields(void **state)
{
	uint8_t f[128];
	size_t len = frame_v4(f, 0x0a, 0xabcdef, 0x123456, (26 << 2) | TITA_ECN_CE);
	struct tita_roce_frame r;
	uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 0, 0, 2 };
	struct tita_addr a = tita_addr_from_ipv4(src), b = tita_addr_from_ipv4(dst);

	(void)state;
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_ROCE);
	assert_int_equal(r.vlans, 1);
	assert_int_equal(r.l3, 4);
	assert_int_equal(r.ecn, TITA_ECN_CE);
	assert_true(tita_addr_eq(&r.src, &a));
	assert_true(tita_addr_eq(&r.dst, &b));
	assert_int_equal(r.opcode, 0x0a);
	assert_int_equal(r.dst_qp, 0xabcdef);
	assert_int_equal(r.psn, 0x123456);
	assert_int_equal(r.bytes, len);
}

/* Every length from 0 to the whole frame: the reason at each cut. */
static void test_every_cut(void **state)
{
	uint8_t f[128];
	size_t len = frame_v4(f, 0x04, 1, 2, 0);
	struct tita_roce_frame r;

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		uint32_t want = cut < 14	   ? TITA_REASON_TRUNC_ETH :
				cut < 18	   ? TITA_REASON_TRUNC_VLAN :
				cut < 18 + 24	   ? TITA_REASON_TRUNC_IPV4 :
				cut < 18 + 24 + 8  ? TITA_REASON_TRUNC_UDP :
				cut < 18 + 24 + 20 ? TITA_REASON_TRUNC_BTH :
						     TITA_REASON_ROCE;

		tita_roce_parse(f, cut, &r);
		if (r.reason != want)
			fail_msg("cut %zu: %s, want %s", cut, tita_roce_reason_name(r.reason),
				 tita_roce_reason_name(want));
		/* Addresses only once the whole IP header is in. */
		assert_int_equal(r.l3, cut >= 18 + 24 ? 4 : 0);
	}
}

static void test_opcodes(void **state)
{
	/* IBTA: RC 0x00-0x14, 0x16, 0x17, 0x1c, 0x1d; UC 0x20-0x2b; UD 0x64,
	 * 0x65; CNP 0x81; XRC 0xa0-0xb4, 0xb6, 0xb7. */
	(void)state;
	for (uint32_t op = 0; op < 256; op++) {
		int want = op <= 0x14 || op == 0x16 || op == 0x17 || op == 0x1c || op == 0x1d ||
			   (op >= 0x20 && op <= 0x2b) || op == 0x64 || op == 0x65 || op == 0x81 ||
			   (op >= 0xa0 && op <= 0xb4) || op == 0xb6 || op == 0xb7;

		if (tita_roce_opcode_known(op) != want)
			fail_msg("opcode %#x: known %d, want %d", op, tita_roce_opcode_known(op),
				 want);
	}
	assert_int_equal(tita_roce_opcode_known(256), 0);
}

static void test_unknown_opcode(void **state)
{
	uint8_t f[128];
	size_t len = frame_v4(f, 0xe3, 5, 6, 0);
	struct tita_roce_frame r;

	(void)state;
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_BAD_OPCODE);
	/* Still parsed: a judge can compare the fields. */
	assert_int_equal(r.opcode, 0xe3);
	assert_int_equal(r.dst_qp, 5);
	assert_int_equal(r.psn, 6);
}

static void test_reason_names(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < TITA_REASON_MAX; i++) {
		const char *n = tita_roce_reason_name(i);

		assert_non_null(n);
		assert_int_equal(tita_roce_reason_from_name(n), (int)i);
	}
	assert_null(tita_roce_reason_name(TITA_REASON_MAX));
	assert_int_equal(tita_roce_reason_from_name("nope"), -1);
}

/* IPv6 with n destination-options headers (8 bytes each), then UDP/BTH. */
static size_t frame_v6(uint8_t *f, int n_ext, uint8_t first_ext, const uint8_t *ext0)
{
	size_t off = 14 + 40;

	memset(f, 0, 512);
	f[12] = 0x86;
	f[13] = 0xdd;
	f[14] = 0x60 | 0x06; /* version 6, traffic class 0x6b: DSCP 26, CE */
	f[15] = 0xbf; /* low TC nibble 0xb, flow label 0xf.... */
	f[15 + 1] = 0x30;
	f[14 + 6] = n_ext ? first_ext : 17;
	f[14 + 7] = 64;
	f[14 + 8 + 15] = 1; /* src ::1 */
	f[14 + 24 + 15] = 2; /* dst ::2 */
	for (int i = 0; i < n_ext; i++) {
		if (i == 0 && ext0)
			memcpy(f + off, ext0, 8);
		f[off] = i + 1 < n_ext ? 60 : 17;
		off += 8;
	}
	f[off + 2] = 0x12;
	f[off + 3] = 0xb7;
	off += 8;
	f[off] = 0x04;
	f[off + 7] = 9;
	return off + 12;
}

static void test_v6_ext(void **state)
{
	uint8_t f[512];
	struct tita_roce_frame r;
	size_t len;

	(void)state;
	len = frame_v6(f, TITA_IPV6_MAX_EXT, 60, NULL);
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_ROCE);
	assert_int_equal(r.ecn, TITA_ECN_CE); /* the flow label does not leak into ECN */
	assert_int_equal(r.dst_qp, 9);
	len = frame_v6(f, TITA_IPV6_MAX_EXT + 1, 60, NULL);
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_IPV6_EXT_DEPTH);
	assert_int_equal(r.l3, 6);
}

static void test_v6_fragments(void **state)
{
	static const uint8_t atomic[8] = { 0, 0, 0x00, 0x00, 0, 0, 0, 1 };
	static const uint8_t first[8] = { 0, 0, 0x00, 0x01, 0, 0, 0, 1 }; /* M */
	static const uint8_t later[8] = { 0, 0, 0x05, 0x00, 0, 0, 0, 1 }; /* offset */
	uint8_t f[512];
	struct tita_roce_frame r;
	size_t len;

	(void)state;
	len = frame_v6(f, 1, 44, atomic);
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_ROCE);
	len = frame_v6(f, 1, 44, first);
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_IP_FRAGMENT);
	len = frame_v6(f, 1, 44, later);
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_IP_FRAGMENT);
}

static void test_v6_ah_length(void **state)
{
	/* AH: length in 4-byte words minus 2; 4 → 24 bytes. */
	uint8_t f[512];
	struct tita_roce_frame r;
	size_t len = frame_v6(f, 3, 51, (const uint8_t[8]){ 0, 4 });

	(void)state;
	/* The AH spans three 8-byte slots, so its next header is the third. */
	f[14 + 40] = 17;
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_ROCE);
	assert_int_equal(tita_roce_parse(f, 14 + 40 + 20, &r), TITA_REASON_TRUNC_IPV6_EXT);
}

static void test_vlan_depth(void **state)
{
	uint8_t f[64] = { 0 };
	struct tita_roce_frame r;

	(void)state;
	for (int i = 0; i < 3; i++) {
		f[12 + 4 * i] = i ? 0x81 : 0x88;
		f[13 + 4 * i] = i ? 0x00 : 0xa8;
	}
	f[24] = 0x08; /* after three tags: IPv4 */
	assert_int_equal(tita_roce_parse(f, sizeof(f), &r), TITA_REASON_VLAN_DEPTH);
	assert_int_equal(r.vlans, TITA_VLAN_MAX_DEPTH);
}

static void test_bad_ip(void **state)
{
	uint8_t f[128];
	size_t len = frame_v4(f, 0x04, 1, 2, 0);
	struct tita_roce_frame r;

	(void)state;
	f[18] = 0x44; /* IHL 4 */
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_BAD_IP);
	f[18] = 0x66; /* version 6 in an IPv4 ethertype */
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_BAD_IP);
	f[18] = 0x46;
	f[18 + 6] = 0x20; /* MF */
	assert_int_equal(tita_roce_parse(f, len, &r), TITA_REASON_IP_FRAGMENT);
	assert_int_equal(r.l3, 4);
}

/* A stream of SENDs that loses packets at random (a fixed xorshift seed)
 * and sometimes delivers a packet a few places late: the count is exactly
 * the packets lost plus one per late packet (its gap was counted when the
 * later ones overtook it), across several 24-bit wraps. */
static void test_psn_random_loss(void **state)
{
	struct tita_roce_psn_state st = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ull, lost = 0, late = 0, missing = 0;
	uint32_t psn = 0xfff000, held = 0;
	int holding = 0;

	(void)state;
	for (int i = 0; i < 200000; i++, psn = (psn + 1) & 0xffffff) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (i > 0 && x % 50 == 0) { /* lost: 2 % */
			lost++;
			continue;
		}
		if (i > 0 && !holding && x % 97 == 1) { /* held back behind the next one */
			held = psn;
			holding = 1;
			late++;
			continue;
		}
		missing += tita_roce_psn_observe(&st, 0x04, psn);
		if (holding) {
			missing += tita_roce_psn_observe(&st, 0x04, held);
			holding = 0;
		}
	}
	assert_true(lost > 3000 && late > 1000);
	assert_int_equal(missing, lost + late);
	/* A restart is not loss; ACKs are not followed. */
	assert_int_equal(tita_roce_psn_observe(&st, 0x04, (psn + 0x400000) & 0xffffff), 0);
	assert_int_equal(tita_roce_psn_observe(&st, 0x11, psn), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_fields),	cmocka_unit_test(test_every_cut),
		cmocka_unit_test(test_opcodes),		cmocka_unit_test(test_unknown_opcode),
		cmocka_unit_test(test_reason_names),	cmocka_unit_test(test_v6_ext),
		cmocka_unit_test(test_v6_fragments),	cmocka_unit_test(test_v6_ah_length),
		cmocka_unit_test(test_vlan_depth),	cmocka_unit_test(test_bad_ip),
		cmocka_unit_test(test_psn_random_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
