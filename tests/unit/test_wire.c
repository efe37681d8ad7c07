// SPDX-License-Identifier: MIT
/*
 * The wire codec: round trips of every body (IPv4 and IPv6, single entries,
 * full messages split over several datagrams and put back together), and
 * one test for every way a datagram can be wrong.
 *
 * Bad bodies are built with protobuf-c directly and sealed here with a
 * correct header and MAC (written independently of wire.c), so that it is
 * the range check under test that rejects them, not the MAC.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <protobuf-c/protobuf-c.h>
#include <sodium.h>

#include "control.pb-c.h"
#include "peer.pb-c.h"
#include "tita/ctl.h"
#include "tita/types.h"
#include "wire.h"

#define KEY_ID 1
#define KEY2_ID 2
#define BOOT_ID 0x0123456789abcdefull

static struct tita_wire_keyring ring;
static uint8_t key1[TITA_WIRE_KEY_BYTES], key2[TITA_WIRE_KEY_BYTES];

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < TITA_WIRE_KEY_BYTES; i++) {
		key1[i] = (uint8_t)i;
		key2[i] = (uint8_t)(0xa5 ^ i);
	}
	tita_wire_keyring_init(&ring);
	if (tita_wire_keyring_add(&ring, KEY_ID, key1) ||
	    tita_wire_keyring_add(&ring, KEY2_ID, key2))
		return -1;
	return 0;
}

static struct tita_wire_sender sender(void)
{
	return (struct tita_wire_sender){ .key_id = KEY_ID, .boot_id = BOOT_ID, .seq = 1 };
}

static struct tita_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	const uint8_t bytes[4] = { a, b, c, d };

	return tita_addr_from_ipv4(bytes);
}

static struct tita_addr v6(uint16_t last)
{
	struct tita_addr a = { .bytes = { 0xfd, 0x00, 0x74, 0x69, 0x74, 0x61 } };

	a.bytes[14] = (uint8_t)(last >> 8);
	a.bytes[15] = (uint8_t)last;
	return a;
}

/* A demand from s to r with n entries of varied, valid values. */
static void make_demand(struct tita_msg *m, struct tita_addr s, struct tita_addr r, uint32_t n)
{
	uint64_t rng = 42;

	memset(m, 0, sizeof(*m));
	m->kind = TITA_MSG_DEMAND;
	m->peer = r;
	m->n_entries = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tita_demand_entry *e = &m->demand[i];

		e->sender = s;
		e->receiver = r;
		e->job_id = i * 7919u;
		e->weight_milli = i % 3 ? 1 + (uint32_t)(tita_rng_next(&rng) % TITA_WEIGHT_MAX) :
					  TITA_WEIGHT_ONE;
		e->demand_bps = tita_rng_next(&rng) % (400 * TITA_GBPS);
		e->max_bps = i % 4 ? e->demand_bps + tita_rng_next(&rng) % TITA_GBPS : 0;
		e->min_bps = i % 5 ? e->demand_bps / 3 : 0;
	}
	if (n)
		m->demand[0].demand_bps = TITA_RATE_MAX_BPS; /* the largest valid rate */
}

static void make_grant(struct tita_msg *m, struct tita_addr s, struct tita_addr r, uint32_t n)
{
	uint64_t rng = 7;

	memset(m, 0, sizeof(*m));
	m->kind = TITA_MSG_GRANT;
	m->peer = s;
	m->n_entries = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tita_grant_entry *e = &m->grant[i];

		e->sender = s;
		e->receiver = r;
		e->job_id = 1000000u + i;
		e->rate_bps = tita_rng_next(&rng) % (800 * TITA_GBPS);
		e->ttl_ns = 1 + tita_rng_next(&rng) % TITA_WIRE_TTL_MAX_NS;
		e->ce_ppm = (uint32_t)(tita_rng_next(&rng) % 1000001);
	}
	if (n) {
		m->grant[0].ttl_ns = TITA_WIRE_TTL_MAX_NS;
		m->grant[0].ce_ppm = 1000000;
	}
}

static void assert_demand_eq(const struct tita_demand_entry *a, const struct tita_demand_entry *b)
{
	assert_true(tita_addr_eq(&a->sender, &b->sender));
	assert_true(tita_addr_eq(&a->receiver, &b->receiver));
	assert_int_equal(a->job_id, b->job_id);
	assert_int_equal(a->weight_milli, b->weight_milli);
	assert_int_equal(a->demand_bps, b->demand_bps);
	assert_int_equal(a->min_bps, b->min_bps);
	assert_int_equal(a->max_bps, b->max_bps);
	assert_int_equal(a->has_spine, b->has_spine);
	if (a->has_spine)
		assert_int_equal(a->spine, b->spine);
	assert_int_equal(a->room_mask, b->room_mask);
	assert_int_equal(a->seek, b->seek);
	assert_int_equal(a->unsched_bytes, b->unsched_bytes);
	assert_int_equal(a->has_path_spine, b->has_path_spine);
	if (a->has_path_spine)
		assert_int_equal(a->path_spine, b->path_spine);
}

static void assert_grant_eq(const struct tita_grant_entry *a, const struct tita_grant_entry *b)
{
	assert_true(tita_addr_eq(&a->sender, &b->sender));
	assert_true(tita_addr_eq(&a->receiver, &b->receiver));
	assert_int_equal(a->job_id, b->job_id);
	assert_int_equal(a->rate_bps, b->rate_bps);
	assert_int_equal(a->ttl_ns, b->ttl_ns);
	assert_int_equal(a->ce_ppm, b->ce_ppm);
	assert_int_equal(a->room_mask, b->room_mask);
	assert_int_equal(a->move, b->move);
	assert_int_equal(a->swap, b->swap);
	assert_int_equal(a->has_spine, b->has_spine);
	if (a->has_spine)
		assert_int_equal(a->spine, b->spine);
	assert_int_equal(a->share_bps, b->share_bps);
	assert_int_equal(a->has_unsched_limit, b->has_unsched_limit);
	if (a->has_unsched_limit)
		assert_int_equal(a->unsched_limit_bytes, b->unsched_limit_bytes);
	assert_int_equal(a->hold_ns, b->hold_ns);
	assert_int_equal(a->recheck, b->recheck);
}

/*
 * Encode all of m (several datagrams if need be), decode each one and check
 * that the entries come back, in order, with the origin as peer. Returns how
 * many datagrams it took.
 */
static unsigned round_trip(const struct tita_msg *m, size_t buf_size)
{
	struct tita_wire_sender tx = sender();
	struct tita_wire_replay replay;
	static struct tita_wire_msg out;
	uint8_t buf[2 * TITA_WIRE_MAX_BYTES];
	uint32_t start = 0;
	unsigned datagrams = 0;

	assert_true(buf_size <= sizeof(buf));
	tita_wire_replay_init(&replay);
	while (start < m->n_entries) {
		const struct tita_addr *origin = m->kind == TITA_MSG_DEMAND ?
							 &m->demand[start].sender :
							 &m->grant[start].receiver;
		uint32_t used = 0;
		int len = tita_wire_encode_msg(&ring, &tx, m, start, buf, buf_size, &used);

		assert_true(len > 0);
		assert_true((size_t)len <= TITA_WIRE_MAX_BYTES);
		assert_true((size_t)len <= buf_size);
		assert_true(used >= 1 && start + used <= m->n_entries);
		assert_int_equal(tx.seq, 1 + datagrams + 1);

		assert_int_equal(tita_wire_decode(&ring, &replay, origin, buf, (size_t)len, &out),
				 TITA_WIRE_OK);
		assert_int_equal(out.body, TITA_WIRE_BODY_MSG);
		assert_int_equal(out.hdr.key_id, KEY_ID);
		assert_int_equal(out.hdr.boot_id, BOOT_ID);
		assert_int_equal(out.hdr.seq, 1 + datagrams);
		assert_int_equal(out.msg.kind, m->kind);
		assert_int_equal(out.msg.n_entries, used);
		assert_true(tita_addr_eq(&out.msg.peer, origin));
		for (uint32_t i = 0; i < used; i++) {
			if (m->kind == TITA_MSG_DEMAND)
				assert_demand_eq(&out.msg.demand[i], &m->demand[start + i]);
			else
				assert_grant_eq(&out.msg.grant[i], &m->grant[start + i]);
		}
		start += used;
		datagrams++;
	}
	return datagrams;
}

/* --- round trips --- */

/*
 * The encoder writes demand and grant entries itself (wire.c): its bytes
 * must be protobuf-c's for the same message, every field set and unset,
 * zeros, both address families, the largest values, several entries.
 */
static ProtobufCBinaryData pb_addr(const struct tita_addr *a)
{
	uint8_t *bytes = (uint8_t *)a->bytes;

	return tita_addr_is_ipv4(a) ? (ProtobufCBinaryData){ 4, bytes + 12 } :
				      (ProtobufCBinaryData){ 16, bytes };
}

static void pb_demand(const struct tita_demand_entry *e, Tita__Peer__DemandEntry *pe)
{
	tita__peer__demand_entry__init(pe);
	/* The sender, the datagram's origin, left out as the encoder does. */
	pe->receiver = pb_addr(&e->receiver);
	pe->job_id = e->job_id;
	if (e->weight_milli != TITA_WEIGHT_ONE) {
		pe->weight_present_case = TITA__PEER__DEMAND_ENTRY__WEIGHT_PRESENT_WEIGHT;
		pe->weight = e->weight_milli / 1000.0;
	}
	pe->demand_bps = (double)e->demand_bps;
	pe->min_bps = (double)e->min_bps;
	pe->max_bps = (double)e->max_bps;
	if (e->has_spine) {
		pe->spine_present_case = TITA__PEER__DEMAND_ENTRY__SPINE_PRESENT_SPINE;
		pe->spine = e->spine;
	}
	pe->room_mask = e->room_mask;
	pe->seek = e->seek;
	pe->unsched_bytes = e->unsched_bytes;
	pe->left_bytes = e->left_bytes;
	if (e->has_path_spine) {
		pe->path_spine_present_case =
			TITA__PEER__DEMAND_ENTRY__PATH_SPINE_PRESENT_PATH_SPINE;
		pe->path_spine = e->path_spine;
	}
}

static void pb_grant(const struct tita_grant_entry *e, Tita__Peer__GrantEntry *pe)
{
	tita__peer__grant_entry__init(pe);
	pe->rate_bps = (double)e->rate_bps;
	pe->ttl_ns = e->ttl_ns;
	pe->ce_ppm = e->ce_ppm;
	pe->room_mask = e->room_mask;
	pe->move = e->move;
	pe->swap = e->swap;
	if (e->has_spine) {
		pe->spine_present_case = TITA__PEER__GRANT_ENTRY__SPINE_PRESENT_SPINE;
		pe->spine = e->spine;
	}
	pe->share_bps = (double)e->share_bps;
	if (e->has_unsched_limit) {
		pe->unsched_present_case =
			TITA__PEER__GRANT_ENTRY__UNSCHED_PRESENT_UNSCHED_LIMIT_BYTES;
		pe->unsched_limit_bytes = e->unsched_limit_bytes;
	}
	pe->hold_ns = e->hold_ns;
	pe->recheck = e->recheck;
	/* The receiver, the datagram's origin, left out as the encoder does. */
	pe->sender = pb_addr(&e->sender);
	pe->job_id = e->job_id;
}

/* The body protobuf-c packs for the first n entries of m. */
static size_t pb_pack(const struct tita_msg *m, uint32_t n, uint8_t *out)
{
	Tita__Peer__DemandEntry de[TITA_MSG_MAX_ENTRIES];
	Tita__Peer__GrantEntry ge[TITA_MSG_MAX_ENTRIES];
	void *ptrs[TITA_MSG_MAX_ENTRIES];
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
	Tita__Peer__Demand demand = TITA__PEER__DEMAND__INIT;
	Tita__Peer__Grant grant = TITA__PEER__GRANT__INIT;

	for (uint32_t i = 0; i < n; i++) {
		if (m->kind == TITA_MSG_DEMAND)
			pb_demand(&m->demand[i], &de[i]);
		else
			pb_grant(&m->grant[i], &ge[i]);
		ptrs[i] = m->kind == TITA_MSG_DEMAND ? (void *)&de[i] : (void *)&ge[i];
	}
	pm.body_case = m->kind == TITA_MSG_DEMAND ? TITA__PEER__PEER_MESSAGE__BODY_DEMAND :
						    TITA__PEER__PEER_MESSAGE__BODY_GRANT;
	demand.n_entries = grant.n_entries = n;
	demand.entries = (Tita__Peer__DemandEntry **)ptrs;
	grant.entries = (Tita__Peer__GrantEntry **)ptrs;
	if (m->kind == TITA_MSG_DEMAND)
		pm.demand = &demand;
	else
		pm.grant = &grant;
	assert_true(tita__peer__peer_message__get_packed_size(&pm) <= TITA_WIRE_MAX_BYTES);
	return tita__peer__peer_message__pack(&pm, out);
}

static void assert_protobuf_c_bytes(const struct tita_msg *m)
{
	struct tita_wire_sender tx = sender();
	uint8_t buf[TITA_WIRE_MAX_BYTES], want[TITA_WIRE_MAX_BYTES];
	uint32_t used = 0;
	int len = tita_wire_encode_msg(&ring, &tx, m, 0, buf, sizeof(buf), &used);
	size_t want_len;

	assert_true(len > 0);
	want_len = pb_pack(m, used, want);
	assert_int_equal((size_t)len, TITA_WIRE_HDR_BYTES + want_len + TITA_WIRE_MAC_BYTES);
	assert_memory_equal(buf + TITA_WIRE_HDR_BYTES, want, want_len);
}

static void test_same_bytes_as_protobuf_c(void **state)
{
	static struct tita_msg m;
	uint64_t rng = 99;

	for (int round = 0; round < 400; round++) {
		bool ipv6 = round % 3 == 1, demand = round % 2;
		struct tita_addr s = ipv6 ? v6(1) : v4(10, 0, 0, 1);
		struct tita_addr r = round % 3 == 2 ? v6(2) : v4(10, 0, 1, 2);
		uint32_t n = 1 + (uint32_t)(tita_rng_next(&rng) % (round < 200 ? 3 : 20));

		if (demand)
			make_demand(&m, s, r, n);
		else
			make_grant(&m, s, r, n);
		for (uint32_t i = 0; i < n; i++) {
			/* Each field zero, small, large or (for the oneofs) unset. */
			uint64_t pick = tita_rng_next(&rng);
			uint64_t big = tita_rng_next(&rng);
			uint32_t job_id = pick & 1 ? 0 : (uint32_t)big;
			bool has_spine = pick & 2;
			uint16_t spine = (uint16_t)(pick & 4 ? 0 : big % TITA_SPINES_MAX);
			uint64_t room_mask = pick & 8 ? 0 : big >> (pick % 64);

			if (demand) {
				struct tita_demand_entry *e = &m.demand[i];

				*e = (struct tita_demand_entry){
					.sender = e->sender,
					.receiver = e->receiver,
					.job_id = job_id,
					.has_spine = has_spine,
					.spine = spine,
					.room_mask = room_mask,
					.seek = pick & 16,
					.weight_milli = pick & 64 ? TITA_WEIGHT_MAX :
								    e->weight_milli,
					.demand_bps = pick & 128 ? 0 : e->demand_bps,
					.min_bps = pick & 32 ? 0 : e->min_bps,
					.max_bps = pick & 32 ? 0 : e->max_bps,
					.unsched_bytes = pick & 512 ? 0 :
								      big % TITA_UNSCHED_MAX_BYTES,
					.has_path_spine = pick & 1024,
					.path_spine =
						(uint16_t)(pick & 2048 ?
								   0 :
								   (big >> 8) % TITA_SPINES_MAX),
				};
			} else {
				struct tita_grant_entry *e = &m.grant[i];

				e->job_id = job_id;
				e->has_spine = has_spine;
				e->spine = spine;
				e->room_mask = room_mask;
				e->move = pick & 16;
				e->swap = pick & 32;
				e->ce_ppm = pick & 64 ? 0 : e->ce_ppm;
				e->rate_bps = pick & 128 ? 0 : e->rate_bps;
				e->share_bps = pick & 256 ? 0 : e->rate_bps / 2;
				e->has_unsched_limit = pick & 512;
				e->unsched_limit_bytes = e->has_unsched_limit && !(pick & 1024) ?
								 big % TITA_UNSCHED_MAX_BYTES :
								 0;
				e->hold_ns = pick & 2048 ? 0 : big % TITA_WIRE_TTL_MAX_NS;
				e->recheck = pick & 4096;
			}
		}
		assert_protobuf_c_bytes(&m);
	}
}

static void test_demand_ipv4(void **state)
{
	static struct tita_msg m;

	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 8);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 1);
	make_demand(&m, v4(192, 168, 1, 1), v4(10, 0, 0, 2), 1);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 1);
}

static void test_demand_ipv6(void **state)
{
	static struct tita_msg m;

	make_demand(&m, v6(1), v6(2), 8);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 1);
	/* One side IPv4, the other IPv6: unusual, but each address stands alone. */
	make_demand(&m, v4(10, 0, 0, 1), v6(2), 3);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 1);
}

static void test_grant_ipv4_ipv6(void **state)
{
	static struct tita_msg m;

	make_grant(&m, v4(10, 1, 2, 3), v4(10, 3, 2, 1), 8);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 1);
	make_grant(&m, v6(0xabcd), v6(0x1234), 8);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 1);
}

/* Every weight survives the double on the wire, to the thousandth. */
static void test_weights(void **state)
{
	static const uint32_t weights[] = { 1,	  2,	  999,	  1000,		  1001,
					    1234, 333333, 999999, TITA_WEIGHT_MAX };
	static struct tita_msg m;

	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 1);
	for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++) {
		m.demand[0].weight_milli = weights[i];
		round_trip(&m, TITA_WIRE_MAX_BYTES);
	}
	for (uint32_t w = 1; w <= TITA_WEIGHT_MAX; w += 997) {
		m.demand[0].weight_milli = w;
		round_trip(&m, TITA_WIRE_MAX_BYTES);
	}
}

static void test_hello(void **state)
{
	struct tita_wire_sender tx = sender();
	static struct tita_wire_hello h;
	static struct tita_wire_msg out;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	int len;

	memset(&h, 0, sizeof(h));
	h.n_ports = TITA_WIRE_HELLO_MAX_PORTS;
	for (uint32_t i = 0; i < h.n_ports; i++) {
		h.ports[i].addr = i % 2 ? v6((uint16_t)i) : v4(10, 0, 0, (uint8_t)i);
		h.ports[i].line_rate_bps = (i + 1) * 100 * TITA_GBPS;
	}
	h.ports[0].line_rate_bps = TITA_RATE_MAX_BPS;
	h.ports[1].line_rate_bps = 1;
	h.control_interval_ns = 50 * TITA_NSEC_PER_USEC;
	h.grant_ttl_ns = 20 * TITA_NSEC_PER_MSEC;
	len = tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf));
	assert_true(len > 0 && len <= TITA_WIRE_MAX_BYTES);
	assert_int_equal(tx.seq, 2);
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, (size_t)len, &out), TITA_WIRE_OK);
	assert_int_equal(out.body, TITA_WIRE_BODY_HELLO);
	assert_int_equal(out.hello.n_ports, h.n_ports);
	for (uint32_t i = 0; i < h.n_ports; i++) {
		assert_true(tita_addr_eq(&out.hello.ports[i].addr, &h.ports[i].addr));
		assert_int_equal(out.hello.ports[i].line_rate_bps, h.ports[i].line_rate_bps);
	}
	assert_int_equal(out.hello.control_interval_ns, h.control_interval_ns);
	assert_int_equal(out.hello.grant_ttl_ns, h.grant_ttl_ns);

	/* The encoder refuses what the decoder would drop. */
	h.n_ports = 0;
	assert_int_equal(tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf)), -EINVAL);
	h.n_ports = 1;
	h.grant_ttl_ns = 0;
	assert_int_equal(tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf)), -EINVAL);
	h.grant_ttl_ns = 1;
	h.ports[0].line_rate_bps = 0;
	assert_int_equal(tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf)), -EINVAL);
	h.ports[0].line_rate_bps = 1;
	assert_int_equal(tita_wire_encode_hello(&ring, &tx, &h, buf, 40), -ENOSPC);
	assert_int_equal(tx.seq, 2);
}

/*
 * A full message never fits one datagram with all fields set: the encoder
 * splits it, every datagram stays within the limit, and every entry comes
 * back exactly once and in order.
 */
static void test_max_entries_split(void **state)
{
	static struct tita_msg m;
	unsigned n;

	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), TITA_MSG_MAX_ENTRIES);
	n = round_trip(&m, TITA_WIRE_MAX_BYTES);
	print_message("64 IPv4 demand entries: %u datagrams\n", n);
	assert_true(n >= 2);
	make_demand(&m, v6(1), v6(2), TITA_MSG_MAX_ENTRIES);
	n = round_trip(&m, TITA_WIRE_MAX_BYTES);
	print_message("64 IPv6 demand entries: %u datagrams\n", n);
	assert_true(n >= 3);
	make_grant(&m, v6(1), v6(2), TITA_MSG_MAX_ENTRIES);
	n = round_trip(&m, TITA_WIRE_MAX_BYTES);
	print_message("64 IPv6 grant entries: %u datagrams\n", n);
	/* A larger buffer does not raise the limit; a smaller one lowers it. */
	assert_int_equal(round_trip(&m, sizeof(uint8_t[2 * TITA_WIRE_MAX_BYTES])), n);
	assert_true(round_trip(&m, 300) > n);
}

/* Entries that are small on the wire: 64 of them fit one datagram. */
static void test_max_entries_one_datagram(void **state)
{
	static struct tita_msg m;

	make_grant(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), TITA_MSG_MAX_ENTRIES);
	for (uint32_t i = 0; i < m.n_entries; i++) {
		m.grant[i].job_id = i;
		m.grant[i].rate_bps = 0;
		m.grant[i].ce_ppm = 0;
		m.grant[i].ttl_ns = 1;
	}
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 1);
}

/*
 * A host with several NICs batches the pairs of all of them towards one
 * peer in one message: each datagram carries a run of entries of one local
 * NIC, and comes from that NIC.
 */
static void test_split_by_local_nic(void **state)
{
	static const uint8_t run[] = { 1, 1, 2, 2, 2, 1, 2 };
	static struct tita_msg m;
	struct tita_addr remote = v4(10, 9, 9, 9);
	struct tita_wire_sender tx = sender();
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t used;

	make_demand(&m, v4(10, 0, 0, 1), remote, sizeof(run));
	for (uint32_t i = 0; i < m.n_entries; i++)
		m.demand[i].sender = v4(10, 0, 0, run[i]);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 4);
	assert_true(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used) > 0);
	assert_int_equal(used, 2);
	assert_true(tita_wire_encode_msg(&ring, &tx, &m, 2, buf, sizeof(buf), &used) > 0);
	assert_int_equal(used, 3);

	make_grant(&m, remote, v6(1), sizeof(run));
	for (uint32_t i = 0; i < m.n_entries; i++)
		m.grant[i].receiver = run[i] == 1 ? v6(1) : v4(10, 0, 0, 2);
	assert_int_equal(round_trip(&m, TITA_WIRE_MAX_BYTES), 4);
}

static void test_encode_rejects(void **state)
{
	struct tita_wire_sender tx = sender();
	static struct tita_msg m;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t used = 99;

#define EXPECT_ENCODE(err)                                                                         \
	do {                                                                                       \
		assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), \
				 (err));                                                           \
		assert_int_equal(used, 99);                                                        \
		assert_int_equal(tx.seq, 1);                                                       \
	} while (0)

	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.demand[2].demand_bps = TITA_RATE_MAX_BPS + 1;
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.demand[1].weight_milli = 0;
	EXPECT_ENCODE(-EINVAL);
	m.demand[1].weight_milli = TITA_WEIGHT_MAX + 1;
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.demand[3].min_bps = 10;
	m.demand[3].max_bps = 9;
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.demand[3].receiver = v4(10, 0, 0, 3); /* not to m.peer */
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.peer = v4(10, 0, 0, 1); /* a demand goes to its receiver */
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 2), v4(10, 0, 0, 2), 4);
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 0);
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.n_entries = TITA_MSG_MAX_ENTRIES + 1;
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.kind = 0;
	EXPECT_ENCODE(-EINVAL);
	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 4, buf, sizeof(buf), &used), -EINVAL);

	make_grant(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.grant[0].ttl_ns = 0;
	EXPECT_ENCODE(-EINVAL);
	m.grant[0].ttl_ns = TITA_WIRE_TTL_MAX_NS + 1;
	EXPECT_ENCODE(-EINVAL);
	make_grant(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.grant[0].ce_ppm = 1000001;
	EXPECT_ENCODE(-EINVAL);
	make_grant(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.grant[0].rate_bps = TITA_RATE_UNPACED;
	EXPECT_ENCODE(-EINVAL);
	make_grant(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	m.peer = v4(10, 0, 0, 2); /* a grant goes to its sender */
	EXPECT_ENCODE(-EINVAL);

	make_grant(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 4);
	tx.key_id = 77;
	EXPECT_ENCODE(-ENOKEY);
	tx.key_id = KEY_ID;
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, 60, &used), -ENOSPC);
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, 0, &used), -ENOSPC);
	assert_int_equal(used, 99);
#undef EXPECT_ENCODE
}

/* --- sealing hand-made bodies --- */

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* A version-2 datagram around body, with a correct MAC; written without
 * wire.c: a 4-byte sequence, and the first 8 bytes of BLAKE2b-128. */
static size_t seal_raw(const uint8_t *body, size_t body_len, uint32_t key_id, const uint8_t *key,
		       uint64_t boot_id, uint64_t seq, uint8_t *out)
{
	uint8_t tag[16];

	memcpy(out, "TITA", 4);
	out[4] = 2;
	out[5] = 0;
	put_be32(out + 6, key_id);
	put_be64(out + 10, boot_id);
	put_be32(out + 18, (uint32_t)seq);
	if (body_len)
		memcpy(out + 22, body, body_len);
	crypto_generichash(tag, 16, out, 22 + body_len, key, 32);
	memcpy(out + 22 + body_len, tag, 8);
	return 22 + body_len + 8;
}

/* The same in version 1, which the decoder still takes: an 8-byte
 * sequence, the whole 16-byte tag. */
static size_t seal_raw_v1(const uint8_t *body, size_t body_len, uint32_t key_id, const uint8_t *key,
			  uint64_t boot_id, uint64_t seq, uint8_t *out)
{
	memcpy(out, "TITA", 4);
	out[4] = 1;
	out[5] = 0;
	put_be32(out + 6, key_id);
	put_be64(out + 10, boot_id);
	put_be64(out + 18, seq);
	if (body_len)
		memcpy(out + 26, body, body_len);
	crypto_generichash(out + 26 + body_len, 16, out, 26 + body_len, key, 32);
	return 26 + body_len + 16;
}

/* A v2 datagram's MAC made again after its header or body was changed. */
static void reseal(uint8_t *buf, size_t len)
{
	uint8_t tag[16];

	crypto_generichash(tag, 16, buf, len - 8, key1, 32);
	memcpy(buf + len - 8, tag, 8);
}

static size_t seal_pm(const Tita__Peer__PeerMessage *pm, uint64_t seq, uint8_t *out,
		      size_t out_size)
{
	size_t body_len = tita__peer__peer_message__get_packed_size(pm);
	uint8_t *body = malloc(body_len + 1);
	size_t len;

	assert_non_null(body);
	assert_true(22 + body_len + 8 <= out_size);
	tita__peer__peer_message__pack(pm, body);
	len = seal_raw(body, body_len, KEY_ID, key1, BOOT_ID, seq, out);
	free(body);
	return len;
}

/* Decode, and check that a rejected datagram leaves the output untouched. */
static enum tita_wire_error decode_checked(struct tita_wire_replay *replay,
					   const struct tita_addr *from, const uint8_t *buf,
					   size_t len)
{
	static struct tita_wire_msg out, pattern;
	struct tita_wire_replay before;
	enum tita_wire_error err;

	memset(&pattern, 0x5a, sizeof(pattern));
	memcpy(&out, &pattern, sizeof(out));
	if (replay)
		before = *replay;
	err = tita_wire_decode(&ring, replay, from, buf, len, &out);
	if (err != TITA_WIRE_OK) {
		assert_memory_equal(&out, &pattern, sizeof(out));
		if (replay)
			assert_memory_equal(replay, &before, sizeof(before));
	}
	return err;
}

static uint8_t ip_a[4] = { 10, 0, 0, 1 }, ip_b[4] = { 10, 0, 0, 2 };

static Tita__Peer__DemandEntry good_demand_entry(void)
{
	Tita__Peer__DemandEntry e = TITA__PEER__DEMAND_ENTRY__INIT;

	e.sender = (ProtobufCBinaryData){ 4, ip_a };
	e.receiver = (ProtobufCBinaryData){ 4, ip_b };
	e.job_id = 7;
	e.demand_bps = 25e9;
	e.min_bps = 1e9;
	e.max_bps = 50e9;
	return e;
}

static Tita__Peer__GrantEntry good_grant_entry(void)
{
	Tita__Peer__GrantEntry e = TITA__PEER__GRANT_ENTRY__INIT;

	e.sender = (ProtobufCBinaryData){ 4, ip_a };
	e.receiver = (ProtobufCBinaryData){ 4, ip_b };
	e.job_id = 7;
	e.rate_bps = 25e9;
	e.ttl_ns = 10 * TITA_NSEC_PER_MSEC;
	e.ce_ppm = 100;
	return e;
}

/* Seal n demand entries (or grant entries) into a datagram. */
static size_t seal_demand(Tita__Peer__DemandEntry *entries, size_t n, uint64_t seq, uint8_t *out,
			  size_t out_size)
{
	Tita__Peer__DemandEntry *ptrs[100];
	Tita__Peer__Demand d = TITA__PEER__DEMAND__INIT;
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;

	assert_true(n <= 100);
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &entries[i];
	d.n_entries = n;
	d.entries = ptrs;
	pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_DEMAND;
	pm.demand = &d;
	return seal_pm(&pm, seq, out, out_size);
}

static size_t seal_grant(Tita__Peer__GrantEntry *entries, size_t n, uint64_t seq, uint8_t *out,
			 size_t out_size)
{
	Tita__Peer__GrantEntry *ptrs[100];
	Tita__Peer__Grant g = TITA__PEER__GRANT__INIT;
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;

	assert_true(n <= 100);
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &entries[i];
	g.n_entries = n;
	g.entries = ptrs;
	pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_GRANT;
	pm.grant = &g;
	return seal_pm(&pm, seq, out, out_size);
}

/* A valid datagram to cut and corrupt. */
static size_t good_datagram(uint8_t *buf)
{
	Tita__Peer__DemandEntry e[2] = { good_demand_entry(), good_demand_entry() };

	e[1].job_id = 8;
	return seal_demand(e, 2, 1, buf, TITA_WIRE_MAX_BYTES);
}

/* --- framing --- */

static enum tita_wire_error truncation_error(size_t len)
{
	if (len < 4)
		return TITA_WIRE_E_TRUNC_MAGIC;
	if (len < 5)
		return TITA_WIRE_E_TRUNC_VERSION;
	if (len < 6)
		return TITA_WIRE_E_TRUNC_FLAGS;
	if (len < 10)
		return TITA_WIRE_E_TRUNC_KEY_ID;
	if (len < 18)
		return TITA_WIRE_E_TRUNC_BOOT_ID;
	if (len < 22)
		return TITA_WIRE_E_TRUNC_SEQ;
	if (len == 22)
		return TITA_WIRE_E_TRUNC_BEFORE_MAC;
	if (len < 30)
		return TITA_WIRE_E_TRUNC_MAC;
	return TITA_WIRE_E_BAD_MAC;
}

/* Cut a valid datagram at every length: each names where it ends. */
/*
 * The decoder reads bodies in the encoder's form itself (wire.c, the fast
 * path) and gives the rest to protobuf-c: both must come to the same
 * verdict and the same message, for the encoder's own datagrams and for
 * every one byte of their bodies changed (wire types, tags, lengths,
 * varints cut or lengthened, values protobuf-c reads its own way).
 */
static void assert_same_decode(const uint8_t *buf, size_t len, const struct tita_addr *from)
{
	static struct tita_wire_msg fast, slow;
	enum tita_wire_error e_fast, e_slow;

	memset(&fast, 0x5a, sizeof(fast));
	memset(&slow, 0x5a, sizeof(slow));
	e_fast = tita_wire_decode(&ring, NULL, from, buf, len, &fast);
	e_slow = tita_wire_decode_protobuf_c(&ring, NULL, from, buf, len, &slow);
	assert_int_equal(e_fast, e_slow);
	assert_memory_equal(&fast, &slow, sizeof(fast));
}

static void test_fast_decode_as_protobuf_c(void **state)
{
	static struct tita_msg m;
	uint64_t rng = 5;
	unsigned changed = 0;

	for (int round = 0; round < 60; round++) {
		struct tita_wire_sender tx = sender();
		struct tita_addr s = round % 3 == 1 ? v6(1) : v4(10, 0, 0, 1);
		struct tita_addr r = round % 3 == 2 ? v6(2) : v4(10, 0, 1, 2);
		uint8_t buf[TITA_WIRE_MAX_BYTES], body[TITA_WIRE_MAX_BYTES],
			out[TITA_WIRE_MAX_BYTES];
		uint32_t used;
		size_t body_len;
		int len;

		/* Half of them with every field set, the widest varints. */
		if (round % 2) {
			make_demand(&m, s, r, 1 + round % 4);
			m.demand[0].has_spine = m.demand[0].seek = round % 4 < 2;
			m.demand[0].room_mask = round % 4 < 2 ? UINT64_MAX : 0;
		} else {
			make_grant(&m, s, r, 1 + round % 4);
			m.grant[0].has_spine = m.grant[0].move = round % 4 < 2;
			m.grant[0].room_mask = round % 4 < 2 ? UINT64_MAX : 0;
			m.grant[0].share_bps = round % 4 < 2 ? m.grant[0].rate_bps : 0;
		}
		len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
		assert_true(len > 0);
		assert_same_decode(buf, (size_t)len, NULL);
		body_len = (size_t)len - TITA_WIRE_HDR_BYTES - TITA_WIRE_MAC_BYTES;
		memcpy(body, buf + TITA_WIRE_HDR_BYTES, body_len);
		/* Every byte of the body, to a few values each. */
		for (size_t i = 0; i < body_len; i++) {
			const uint8_t vals[] = { 0x00,		 0x01,
						 0x7f,		 0x80,
						 0xff,		 body[i] ^ 0x08,
						 body[i] ^ 0x80, (uint8_t)tita_rng_next(&rng) };

			for (size_t k = 0; k < sizeof(vals); k++) {
				uint8_t was = body[i];

				body[i] = vals[k];
				len = (int)seal_raw(body, body_len, KEY_ID, key1, BOOT_ID, 1, out);
				assert_same_decode(out, (size_t)len, NULL);
				changed++;
				body[i] = was;
			}
		}
		/* Cut short, and one byte more. */
		for (size_t cut = 0; cut <= body_len + 1 && cut < sizeof(body); cut++) {
			len = (int)seal_raw(body, cut, KEY_ID, key1, BOOT_ID, 1, out);
			assert_same_decode(out, (size_t)len, NULL);
		}
	}
	print_message("%u changed bodies decoded the same both ways\n", changed);

	/* Varints protobuf-c reads its own way, as a uint32 (job_id, field 3),
	 * a uint64 (room_mask, 9) and a bool (seek, 10): long, non-minimal,
	 * bits past 32 or past 64, too long. */
	{
		static const uint8_t varints[][12] = {
			{ 2, 0x80, 0x00 },
			{ 2, 0x81, 0x00 },
			{ 5, 0xff, 0xff, 0xff, 0xff, 0x0f },
			{ 5, 0xff, 0xff, 0xff, 0xff, 0x1f },
			{ 6, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 },
			{ 10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 },
			{ 10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02 },
			{ 11, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 },
		};

		for (size_t i = 0; i < sizeof(varints) / sizeof(varints[0]); i++) {
			for (int f = 0; f < 3; f++) {
				uint8_t body[64], out[128];
				size_t n = 0, entry_at;

				body[n++] = 2 << 3 | 2; /* PeerMessage.demand */
				body[n++] = 0;
				body[n++] = 1 << 3 | 2; /* Demand.entries */
				entry_at = n++;
				body[n++] = 1 << 3 | 2; /* sender 10.0.0.1 */
				body[n++] = 4;
				memcpy(body + n, (const uint8_t[]){ 10, 0, 0, 1 }, 4);
				n += 4;
				body[n++] = 2 << 3 | 2; /* receiver 10.0.1.2 */
				body[n++] = 4;
				memcpy(body + n, (const uint8_t[]){ 10, 0, 1, 2 }, 4);
				n += 4;
				body[n++] = (uint8_t)((f == 0 ? 3 : f == 1 ? 9 : 10) << 3);
				memcpy(body + n, varints[i] + 1, varints[i][0]);
				n += varints[i][0];
				body[entry_at] = (uint8_t)(n - entry_at - 1);
				body[1] = (uint8_t)(n - 2);
				assert_same_decode(out,
						   seal_raw(body, n, KEY_ID, key1, BOOT_ID, 1, out),
						   NULL);
			}
		}
	}
}

static void test_truncated_everywhere(void **state)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t len = good_datagram(buf);
	struct tita_wire_header hdr;

	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_OK);
	for (size_t cut = 0; cut < len; cut++) {
		/* An exact-size copy, so the sanitizer sees any read past the end. */
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, buf, cut);
		assert_int_equal(decode_checked(NULL, NULL, copy, cut), truncation_error(cut));
		if (cut < 30)
			assert_int_equal(tita_wire_peek_header(copy, cut, &hdr),
					 truncation_error(cut));
		free(copy);
	}
	assert_int_equal(tita_wire_peek_header(buf, len, &hdr), TITA_WIRE_OK);
	assert_int_equal(hdr.version, 2);
	assert_int_equal(hdr.flags, 0);
	assert_int_equal(hdr.key_id, KEY_ID);
	assert_int_equal(hdr.boot_id, BOOT_ID);
	assert_int_equal(hdr.seq, 1);
}

/* Every single-byte change is caught, and by the first check it reaches. */
static void test_flip_every_byte(void **state)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t len = good_datagram(buf);

	for (size_t i = 0; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			enum tita_wire_error want = TITA_WIRE_E_BAD_MAC;

			buf[i] ^= (uint8_t)(1u << bit);
			if (i < 4)
				want = TITA_WIRE_E_BAD_MAGIC;
			else if (i == 4)
				want = TITA_WIRE_E_BAD_VERSION;
			else if (i == 5)
				want = TITA_WIRE_E_BAD_FLAGS;
			else if (i < 10 && (i != 9 || (buf[9] != KEY2_ID)))
				want = TITA_WIRE_E_UNKNOWN_KEY;
			assert_int_equal(decode_checked(NULL, NULL, buf, len), want);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_OK);
}

static void test_keys(void **state)
{
	struct tita_wire_keyring other;
	uint8_t buf[TITA_WIRE_MAX_BYTES], key3[TITA_WIRE_KEY_BYTES] = { 3 };
	size_t len = good_datagram(buf);
	static struct tita_wire_msg out;

	/* A key id the receiver does not hold. */
	tita_wire_keyring_init(&other);
	assert_int_equal(tita_wire_keyring_add(&other, KEY2_ID, key2), 0);
	assert_int_equal(tita_wire_decode(&other, NULL, NULL, buf, len, &out),
			 TITA_WIRE_E_UNKNOWN_KEY);
	/* The right id with the wrong key. */
	assert_int_equal(tita_wire_keyring_add(&other, KEY_ID, key3), 0);
	assert_int_equal(tita_wire_decode(&other, NULL, NULL, buf, len, &out), TITA_WIRE_E_BAD_MAC);
	/* Rotation: replace the key under the id. */
	assert_int_equal(tita_wire_keyring_add(&other, KEY_ID, key1), -EEXIST);
	assert_int_equal(tita_wire_keyring_remove(&other, KEY_ID), 0);
	assert_int_equal(tita_wire_keyring_remove(&other, KEY_ID), -ENOENT);
	assert_null(tita_wire_keyring_find(&other, KEY_ID));
	assert_int_equal(tita_wire_keyring_add(&other, KEY_ID, key1), 0);
	assert_int_equal(tita_wire_decode(&other, NULL, NULL, buf, len, &out), TITA_WIRE_OK);
	/* Bounded. */
	assert_int_equal(tita_wire_keyring_add(&other, 10, key3), 0);
	assert_int_equal(tita_wire_keyring_add(&other, 11, key3), 0);
	assert_int_equal(tita_wire_keyring_add(&other, 12, key3), -ENOSPC);
	assert_non_null(tita_wire_keyring_find(&other, 11));
	tita_wire_keyring_clear(&other);
	assert_null(tita_wire_keyring_find(&other, KEY_ID));
	assert_int_equal(tita_wire_decode(&other, NULL, NULL, buf, len, &out),
			 TITA_WIRE_E_UNKNOWN_KEY);

	/* A sender on the second key of the ring. */
	len = seal_raw(buf + 22, len - 30, KEY2_ID, key2, BOOT_ID, 1, buf);
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, len, &out), TITA_WIRE_OK);
	assert_int_equal(out.hdr.key_id, KEY2_ID);
}

static void test_bad_magic_version_flags(void **state)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES], body[TITA_WIRE_MAX_BYTES];
	size_t len = good_datagram(buf), body_len = len - 30;

	memcpy(body, buf + 22, body_len);
	/* With a correct MAC the header checks still come first. */
	buf[0] = 'X';
	reseal(buf, len);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_BAD_MAGIC);
	/* Not ours, however short. */
	assert_int_equal(decode_checked(NULL, NULL, buf, 4), TITA_WIRE_E_BAD_MAGIC);

	/* Versions 0 and 3 are unknown (1 and 2 are decoded). */
	for (uint8_t v = 0; v <= 3; v += 3) {
		seal_raw(body, body_len, KEY_ID, key1, BOOT_ID, 1, buf);
		buf[4] = v;
		reseal(buf, len);
		assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_BAD_VERSION);
		assert_int_equal(decode_checked(NULL, NULL, buf, 5), TITA_WIRE_E_BAD_VERSION);
	}

	seal_raw(body, body_len, KEY_ID, key1, BOOT_ID, 1, buf);
	buf[5] = 0x80;
	reseal(buf, len);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_BAD_FLAGS);
}

static void test_oversized(void **state)
{
	static uint8_t buf[TITA_WIRE_MAX_BYTES + 100];
	static uint8_t body[TITA_WIRE_MAX_BYTES];
	static struct tita_wire_msg out;
	size_t len = good_datagram(buf), body_len = len - 30;

	/* Pad the body with an unknown field up to exactly the limit: accepted. */
	memcpy(body, buf + 22, body_len);
	size_t pad = TITA_WIRE_MAX_BODY_BYTES - body_len - 3; /* tag + 2-byte length */
	body[body_len] = (15 << 3) | 2;
	body[body_len + 1] = (uint8_t)(0x80 | (pad & 0x7f));
	body[body_len + 2] = (uint8_t)(pad >> 7);
	memset(body + body_len + 3, 0xee, pad);
	len = seal_raw(body, TITA_WIRE_MAX_BODY_BYTES, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(len, TITA_WIRE_MAX_BYTES);
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, len, &out), TITA_WIRE_OK);
	assert_int_equal(out.msg.n_entries, 2);

	/* One byte more, with a correct MAC: oversized, before anything else. */
	pad++;
	body[body_len + 1] = (uint8_t)(0x80 | (pad & 0x7f));
	body[body_len + 2] = (uint8_t)(pad >> 7);
	body[TITA_WIRE_MAX_BODY_BYTES] = 0xee;
	len = seal_raw(body, TITA_WIRE_MAX_BODY_BYTES + 1, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(len, TITA_WIRE_MAX_BYTES + 1);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_OVERSIZED);
	assert_int_equal(decode_checked(NULL, NULL, buf, sizeof(buf)), TITA_WIRE_E_OVERSIZED);
	assert_int_equal(decode_checked(NULL, NULL, buf, SIZE_MAX), TITA_WIRE_E_OVERSIZED);
}

/* --- bodies --- */

static void test_garbage_bodies(void **state)
{
	static const uint8_t garbage[][8] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, /* endless varint */
		{ 0x12, 0x7f, 0x0a, 0x00 }, /* length beyond the body */
		{ 0x0f, 0x00 }, /* wire type 7 */
		{ 0x12, 0x02, 0x0a, 0x05 }, /* nested length beyond its parent */
		{ 0x12, 0x03, 0x0a, 0x01, 0x0a }, /* an entry that is itself garbage */
		{ 0x09, 0x01, 0x02 }, /* fixed64 cut short */
	};
	static const size_t garbage_len[] = { 8, 4, 2, 4, 5, 3 };
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t len;

	for (size_t i = 0; i < sizeof(garbage_len) / sizeof(garbage_len[0]); i++) {
		len = seal_raw(garbage[i], garbage_len[i], KEY_ID, key1, BOOT_ID, 1, buf);
		assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_MALFORMED);
	}
	/* Nothing at all, or only an unknown field: no body. */
	len = seal_raw(NULL, 0, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_EMPTY_BODY);
	/* A body from a later version (field 9). */
	len = seal_raw((const uint8_t[]){ 0x4a, 0x02, 0x08, 0x01 }, 4, KEY_ID, key1, BOOT_ID, 1,
		       buf);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_UNKNOWN_BODY);
	/* An empty demand, grant and hello. */
	len = seal_raw((const uint8_t[]){ 0x12, 0x00 }, 2, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_NO_ENTRIES);
	len = seal_raw((const uint8_t[]){ 0x1a, 0x00 }, 2, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_NO_ENTRIES);
	len = seal_raw((const uint8_t[]){ 0x0a, 0x00 }, 2, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_NO_PORTS);
}

/*
 * Input that makes protobuf-c allocate far more than it reads (hundreds of
 * empty entries or unknown fields) runs out of the arena, cleanly.
 */
static void test_body_too_complex(void **state)
{
	uint8_t body[TITA_WIRE_MAX_BODY_BYTES], buf[TITA_WIRE_MAX_BYTES];
	size_t n = (TITA_WIRE_MAX_BODY_BYTES - 3) / 2, len;

	body[0] = 0x12;
	body[1] = (uint8_t)(0x80 | ((2 * n) & 0x7f));
	body[2] = (uint8_t)((2 * n) >> 7);
	for (size_t i = 0; i < n; i++) {
		body[3 + 2 * i] = 0x0a;
		body[4 + 2 * i] = 0x00;
	}
	len = seal_raw(body, 3 + 2 * n, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_true(len <= TITA_WIRE_MAX_BYTES);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_BODY_TOO_COMPLEX);

	/* Unknown varint fields at the top level. */
	for (size_t i = 0; i < TITA_WIRE_MAX_BODY_BYTES / 2; i++) {
		body[2 * i] = 0x78; /* field 15, varint */
		body[2 * i + 1] = 0x01;
	}
	len = seal_raw(body, TITA_WIRE_MAX_BODY_BYTES, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_BODY_TOO_COMPLEX);
}

/* protobuf-c's allocations for the largest legitimate bodies, counted. */
static size_t alloc_total;

static void *counting_alloc(void *data, size_t size)
{
	alloc_total += (size + 15) & ~(size_t)15;
	return malloc(size ? size : 1);
}

static void counting_free(void *data, void *ptr)
{
	free(ptr);
}

static void test_arena_headroom(void **state)
{
	ProtobufCAllocator counting = { .alloc = counting_alloc, .free = counting_free };
	Tita__Peer__DemandEntry d[TITA_MSG_MAX_ENTRIES];
	Tita__Peer__GrantEntry g[TITA_MSG_MAX_ENTRIES];
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	Tita__Peer__PeerMessage *pm;
	size_t len;

	/* The smallest valid entries, as many as a message may hold. */
	for (size_t i = 0; i < TITA_MSG_MAX_ENTRIES; i++) {
		d[i] = good_demand_entry();
		d[i].job_id = 0;
		d[i].demand_bps = d[i].min_bps = d[i].max_bps = 0;
		g[i] = good_grant_entry();
		g[i].job_id = 0;
		g[i].rate_bps = 0;
		g[i].ce_ppm = 0;
		g[i].ttl_ns = 1;
	}
	len = seal_demand(d, TITA_MSG_MAX_ENTRIES, 1, buf, sizeof(buf));
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_OK);
	alloc_total = 0;
	pm = tita__peer__peer_message__unpack(&counting, len - 30, buf + 22);
	assert_non_null(pm);
	tita__peer__peer_message__free_unpacked(pm, &counting);
	print_message("64 minimal demand entries: %zu arena bytes of %d\n", alloc_total,
		      TITA_WIRE_ARENA_BYTES);
	assert_true(alloc_total < TITA_WIRE_ARENA_BYTES / 2);

	len = seal_grant(g, TITA_MSG_MAX_ENTRIES, 1, buf, sizeof(buf));
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_OK);
	alloc_total = 0;
	pm = tita__peer__peer_message__unpack(&counting, len - 30, buf + 22);
	assert_non_null(pm);
	tita__peer__peer_message__free_unpacked(pm, &counting);
	print_message("64 minimal grant entries: %zu arena bytes of %d\n", alloc_total,
		      TITA_WIRE_ARENA_BYTES);
	assert_true(alloc_total < TITA_WIRE_ARENA_BYTES / 2);
}

static void test_entry_count(void **state)
{
	Tita__Peer__GrantEntry g[TITA_MSG_MAX_ENTRIES + 1];
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t len;

	for (size_t i = 0; i <= TITA_MSG_MAX_ENTRIES; i++) {
		g[i] = good_grant_entry();
		g[i].job_id = 0;
		g[i].rate_bps = 0;
		g[i].ce_ppm = 0;
		g[i].ttl_ns = 1;
	}
	len = seal_grant(g, TITA_MSG_MAX_ENTRIES, 1, buf, sizeof(buf));
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_OK);
	len = seal_grant(g, TITA_MSG_MAX_ENTRIES + 1, 1, buf, sizeof(buf));
	assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_TOO_MANY_ENTRIES);
}

/* --- values: one case per way an entry can be wrong --- */

enum field {
	F_NONE,
	F_DEMAND,
	F_MIN,
	F_MAX,
	F_WEIGHT,
	F_RATE,
	F_TTL,
	F_CE_PPM,
	F_SENDER_LEN,
	F_RECEIVER_LEN,
	F_SENDER,
	F_RECEIVER,
};

struct change {
	enum field field;
	double value;
};

struct value_case {
	const char *what;
	struct change change[2];
	enum tita_wire_error want;
};

static uint8_t ip_c[4] = { 10, 0, 0, 3 }, ip_long[17];

static const ProtobufCBinaryData *addr_variant(double which)
{
	static ProtobufCBinaryData b;

	if (which == 1)
		b = (ProtobufCBinaryData){ 4, ip_a };
	else if (which == 2)
		b = (ProtobufCBinaryData){ 4, ip_b };
	else
		b = (ProtobufCBinaryData){ 4, ip_c };
	return &b;
}

static void apply_demand(Tita__Peer__DemandEntry *e, const struct change *c)
{
	switch (c->field) {
	case F_DEMAND:
		e->demand_bps = c->value;
		break;
	case F_MIN:
		e->min_bps = c->value;
		break;
	case F_MAX:
		e->max_bps = c->value;
		break;
	case F_WEIGHT:
		e->weight_present_case = TITA__PEER__DEMAND_ENTRY__WEIGHT_PRESENT_WEIGHT;
		e->weight = c->value;
		break;
	case F_SENDER_LEN:
		e->sender = (ProtobufCBinaryData){ (size_t)c->value, ip_long };
		break;
	case F_RECEIVER_LEN:
		e->receiver = (ProtobufCBinaryData){ (size_t)c->value, ip_long };
		break;
	case F_SENDER:
		e->sender = *addr_variant(c->value);
		break;
	case F_RECEIVER:
		e->receiver = *addr_variant(c->value);
		break;
	default:
		break;
	}
}

static void apply_grant(Tita__Peer__GrantEntry *e, const struct change *c)
{
	switch (c->field) {
	case F_RATE:
		e->rate_bps = c->value;
		break;
	case F_TTL:
		e->ttl_ns = (uint64_t)c->value;
		break;
	case F_CE_PPM:
		e->ce_ppm = (uint32_t)c->value;
		break;
	case F_SENDER_LEN:
		e->sender = (ProtobufCBinaryData){ (size_t)c->value, ip_long };
		break;
	case F_RECEIVER_LEN:
		e->receiver = (ProtobufCBinaryData){ (size_t)c->value, ip_long };
		break;
	case F_SENDER:
		e->sender = *addr_variant(c->value);
		break;
	case F_RECEIVER:
		e->receiver = *addr_variant(c->value);
		break;
	default:
		break;
	}
}

static bool is_addr_change(const struct value_case *c)
{
	return c->change[0].field == F_SENDER || c->change[0].field == F_RECEIVER;
}

#define RMAX ((double)TITA_RATE_MAX_BPS)

static const struct value_case demand_cases[] = {
	{ "valid", { { F_NONE, 0 } }, TITA_WIRE_OK },
	{ "largest rate", { { F_DEMAND, RMAX }, { F_MAX, RMAX } }, TITA_WIRE_OK },
	{ "fraction of a bit", { { F_DEMAND, 0.75 } }, TITA_WIRE_OK },
	{ "negative zero", { { F_DEMAND, -0.0 } }, TITA_WIRE_OK },
	{ "demand negative", { { F_DEMAND, -1 } }, TITA_WIRE_E_RATE_NEGATIVE },
	{ "demand tiny negative", { { F_DEMAND, -1e-300 } }, TITA_WIRE_E_RATE_NEGATIVE },
	{ "demand NaN", { { F_DEMAND, NAN } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "demand -NaN", { { F_DEMAND, -NAN } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "demand inf", { { F_DEMAND, INFINITY } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "demand -inf", { { F_DEMAND, -INFINITY } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "demand too high", { { F_DEMAND, RMAX + 1 } }, TITA_WIRE_E_RATE_TOO_HIGH },
	{ "demand 2^64", { { F_DEMAND, 18446744073709551616.0 } }, TITA_WIRE_E_RATE_TOO_HIGH },
	{ "demand 1e308", { { F_DEMAND, 1e308 } }, TITA_WIRE_E_RATE_TOO_HIGH },
	{ "min negative", { { F_MIN, -5 } }, TITA_WIRE_E_RATE_NEGATIVE },
	{ "min NaN", { { F_MIN, NAN } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "min too high", { { F_MIN, RMAX * 2 } }, TITA_WIRE_E_RATE_TOO_HIGH },
	{ "max negative", { { F_MAX, -5 } }, TITA_WIRE_E_RATE_NEGATIVE },
	{ "max inf", { { F_MAX, INFINITY } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "max too high", { { F_MAX, RMAX + 1e6 } }, TITA_WIRE_E_RATE_TOO_HIGH },
	{ "min above max", { { F_MIN, 60e9 }, { F_MAX, 50e9 } }, TITA_WIRE_E_MIN_ABOVE_MAX },
	{ "min with no cap", { { F_MIN, 60e9 }, { F_MAX, 0 } }, TITA_WIRE_OK },
	{ "min equals max", { { F_MIN, 50e9 }, { F_MAX, 50e9 } }, TITA_WIRE_OK },
	{ "weight NaN", { { F_WEIGHT, NAN } }, TITA_WIRE_E_WEIGHT_NOT_FINITE },
	{ "weight inf", { { F_WEIGHT, INFINITY } }, TITA_WIRE_E_WEIGHT_NOT_FINITE },
	{ "weight -inf", { { F_WEIGHT, -INFINITY } }, TITA_WIRE_E_WEIGHT_NOT_FINITE },
	{ "weight zero", { { F_WEIGHT, 0 } }, TITA_WIRE_E_WEIGHT_RANGE },
	{ "weight negative", { { F_WEIGHT, -1 } }, TITA_WIRE_E_WEIGHT_RANGE },
	{ "weight below a thousandth", { { F_WEIGHT, 0.0004 } }, TITA_WIRE_E_WEIGHT_RANGE },
	{ "weight smallest", { { F_WEIGHT, 0.001 } }, TITA_WIRE_OK },
	{ "weight largest", { { F_WEIGHT, 1000 } }, TITA_WIRE_OK },
	{ "weight too large", { { F_WEIGHT, 1000.001 } }, TITA_WIRE_E_WEIGHT_RANGE },
	{ "weight huge", { { F_WEIGHT, 1e300 } }, TITA_WIRE_E_WEIGHT_RANGE },
	/* Version 2 leaves the origin out: without a known origin, refused. */
	{ "sender empty", { { F_SENDER_LEN, 0 } }, TITA_WIRE_E_NO_ORIGIN },
	{ "sender 3 bytes", { { F_SENDER_LEN, 3 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "sender 5 bytes", { { F_SENDER_LEN, 5 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "sender 15 bytes", { { F_SENDER_LEN, 15 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "sender 17 bytes", { { F_SENDER_LEN, 17 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "receiver empty", { { F_RECEIVER_LEN, 0 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "receiver 8 bytes", { { F_RECEIVER_LEN, 8 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "self pair", { { F_RECEIVER, 1 } }, TITA_WIRE_E_SELF_PAIR },
};

static const struct value_case grant_cases[] = {
	{ "valid", { { F_NONE, 0 } }, TITA_WIRE_OK },
	{ "zero rate", { { F_RATE, 0 } }, TITA_WIRE_OK },
	{ "largest rate", { { F_RATE, RMAX } }, TITA_WIRE_OK },
	{ "rate negative", { { F_RATE, -1e9 } }, TITA_WIRE_E_RATE_NEGATIVE },
	{ "rate NaN", { { F_RATE, NAN } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "rate inf", { { F_RATE, INFINITY } }, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "rate too high", { { F_RATE, RMAX + 1 } }, TITA_WIRE_E_RATE_TOO_HIGH },
	{ "ttl zero", { { F_TTL, 0 } }, TITA_WIRE_E_TTL_ZERO },
	{ "ttl 1 ns", { { F_TTL, 1 } }, TITA_WIRE_OK },
	{ "ttl largest", { { F_TTL, (double)TITA_WIRE_TTL_MAX_NS } }, TITA_WIRE_OK },
	{ "ttl too long",
	  { { F_TTL, (double)TITA_WIRE_TTL_MAX_NS + 1 } },
	  TITA_WIRE_E_TTL_TOO_LONG },
	{ "ttl huge", { { F_TTL, 1.8e19 } }, TITA_WIRE_E_TTL_TOO_LONG },
	{ "ce_ppm largest", { { F_CE_PPM, 1000000 } }, TITA_WIRE_OK },
	{ "ce_ppm too high", { { F_CE_PPM, 1000001 } }, TITA_WIRE_E_CE_PPM_RANGE },
	{ "ce_ppm huge", { { F_CE_PPM, 4294967295.0 } }, TITA_WIRE_E_CE_PPM_RANGE },
	{ "sender 6 bytes", { { F_SENDER_LEN, 6 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "sender empty", { { F_SENDER_LEN, 0 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "receiver 1 byte", { { F_RECEIVER_LEN, 1 } }, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "receiver empty", { { F_RECEIVER_LEN, 0 } }, TITA_WIRE_E_NO_ORIGIN },
	{ "self pair", { { F_SENDER, 2 } }, TITA_WIRE_E_SELF_PAIR },
};

static void test_demand_values(void **state)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];

	for (size_t i = 0; i < sizeof(demand_cases) / sizeof(demand_cases[0]); i++) {
		const struct value_case *c = &demand_cases[i];
		Tita__Peer__DemandEntry e[3] = { good_demand_entry(), good_demand_entry(),
						 good_demand_entry() };
		size_t len;

		/* A bad value in the last entry (every entry is checked); an
		 * address in all of them (or they would disagree first). */
		for (int j = 0; j < 3; j++) {
			if (j == 2 || is_addr_change(c)) {
				apply_demand(&e[j], &c->change[0]);
				apply_demand(&e[j], &c->change[1]);
			}
		}
		len = seal_demand(e, 3, 1, buf, sizeof(buf));
		print_message("demand: %s\n", c->what);
		assert_string_equal(tita_wire_error_name(decode_checked(NULL, NULL, buf, len)),
				    tita_wire_error_name(c->want));
	}
}

static void test_grant_values(void **state)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];

	for (size_t i = 0; i < sizeof(grant_cases) / sizeof(grant_cases[0]); i++) {
		const struct value_case *c = &grant_cases[i];
		Tita__Peer__GrantEntry e[3] = { good_grant_entry(), good_grant_entry(),
						good_grant_entry() };
		size_t len;

		for (int j = 0; j < 3; j++) {
			if (j == 2 || is_addr_change(c)) {
				apply_grant(&e[j], &c->change[0]);
				apply_grant(&e[j], &c->change[1]);
			}
		}
		len = seal_grant(e, 3, 1, buf, sizeof(buf));
		print_message("grant: %s\n", c->what);
		assert_string_equal(tita_wire_error_name(decode_checked(NULL, NULL, buf, len)),
				    tita_wire_error_name(c->want));
	}
}

/* Decoded values are what the doubles said, fractions dropped. */
static void test_value_translation(void **state)
{
	Tita__Peer__DemandEntry e = good_demand_entry();
	static struct tita_wire_msg out;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t len;

	e.demand_bps = 1234.99;
	e.min_bps = 0.5;
	e.max_bps = 0;
	e.weight_present_case = TITA__PEER__DEMAND_ENTRY__WEIGHT_PRESENT_WEIGHT;
	e.weight = 2.5004;
	len = seal_demand(&e, 1, 1, buf, sizeof(buf));
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, len, &out), TITA_WIRE_OK);
	assert_int_equal(out.msg.kind, TITA_MSG_DEMAND);
	assert_int_equal(out.msg.demand[0].demand_bps, 1234);
	assert_int_equal(out.msg.demand[0].min_bps, 0);
	assert_int_equal(out.msg.demand[0].max_bps, 0);
	assert_int_equal(out.msg.demand[0].weight_milli, 2500);
	assert_int_equal(out.msg.demand[0].job_id, 7);
	/* Absent weight is the default. */
	e.weight_present_case = TITA__PEER__DEMAND_ENTRY__WEIGHT_PRESENT__NOT_SET;
	len = seal_demand(&e, 1, 1, buf, sizeof(buf));
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, len, &out), TITA_WIRE_OK);
	assert_int_equal(out.msg.demand[0].weight_milli, TITA_WEIGHT_ONE);
	/* The 16-byte mapped form of an IPv4 address is the same address. */
	{
		static uint8_t mapped_a[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };
		Tita__Peer__DemandEntry two[2] = { good_demand_entry(), good_demand_entry() };

		two[1].sender = (ProtobufCBinaryData){ 16, mapped_a };
		len = seal_demand(two, 2, 1, buf, sizeof(buf));
		assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, len, &out), TITA_WIRE_OK);
		assert_true(tita_addr_eq(&out.msg.demand[1].sender, &out.msg.demand[0].sender));
		assert_true(tita_addr_is_ipv4(&out.msg.peer));
	}
}

/* All entries of a message name one sender and one receiver. */
static void test_addr_consistency(void **state)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	struct tita_addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
	size_t len;

	{
		Tita__Peer__DemandEntry e[3] = { good_demand_entry(), good_demand_entry(),
						 good_demand_entry() };

		e[1].sender = *addr_variant(3);
		len = seal_demand(e, 3, 1, buf, sizeof(buf));
		assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_ADDR_MISMATCH);
		e[1] = good_demand_entry();
		e[2].receiver = *addr_variant(3);
		len = seal_demand(e, 3, 1, buf, sizeof(buf));
		assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_ADDR_MISMATCH);
		e[2] = good_demand_entry();
		len = seal_demand(e, 3, 1, buf, sizeof(buf));
		/* A demand comes from its sender... */
		assert_int_equal(decode_checked(NULL, &a, buf, len), TITA_WIRE_OK);
		assert_int_equal(decode_checked(NULL, &b, buf, len), TITA_WIRE_E_PEER_MISMATCH);
	}
	{
		Tita__Peer__GrantEntry e[2] = { good_grant_entry(), good_grant_entry() };

		e[1].receiver = *addr_variant(3);
		len = seal_grant(e, 2, 1, buf, sizeof(buf));
		assert_int_equal(decode_checked(NULL, NULL, buf, len), TITA_WIRE_E_ADDR_MISMATCH);
		e[1] = good_grant_entry();
		len = seal_grant(e, 2, 1, buf, sizeof(buf));
		/* ...and a grant from its receiver. */
		assert_int_equal(decode_checked(NULL, &b, buf, len), TITA_WIRE_OK);
		assert_int_equal(decode_checked(NULL, &a, buf, len), TITA_WIRE_E_PEER_MISMATCH);
	}
}

struct hello_case {
	const char *what;
	size_t n_ports;
	size_t addr_len;
	double line_rate_bps;
	uint64_t control_interval_ns, grant_ttl_ns;
	enum tita_wire_error want;
};

#define MS TITA_NSEC_PER_MSEC
#define TTL_MAX TITA_WIRE_TTL_MAX_NS

static const struct hello_case hello_cases[] = {
	{ "valid", 2, 4, 100e9, MS, 10 * MS, TITA_WIRE_OK },
	{ "valid IPv6, most ports", 16, 16, 400e9, TTL_MAX, TTL_MAX, TITA_WIRE_OK },
	{ "no ports", 0, 4, 100e9, MS, 10 * MS, TITA_WIRE_E_NO_PORTS },
	{ "too many ports", 17, 4, 100e9, MS, 10 * MS, TITA_WIRE_E_TOO_MANY_PORTS },
	{ "bad addr", 2, 5, 100e9, MS, 10 * MS, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "no addr", 2, 0, 100e9, MS, 10 * MS, TITA_WIRE_E_BAD_ADDR_LEN },
	{ "line rate zero", 2, 4, 0, MS, 10 * MS, TITA_WIRE_E_LINE_RATE_ZERO },
	{ "line rate below 1", 2, 4, 0.5, MS, 10 * MS, TITA_WIRE_E_LINE_RATE_ZERO },
	{ "line rate negative", 2, 4, -1, MS, 10 * MS, TITA_WIRE_E_RATE_NEGATIVE },
	{ "line rate NaN", 2, 4, NAN, MS, 10 * MS, TITA_WIRE_E_RATE_NOT_FINITE },
	{ "line rate too high", 2, 4, RMAX + 1, MS, 10 * MS, TITA_WIRE_E_RATE_TOO_HIGH },
	{ "interval zero", 2, 4, 100e9, 0, 10 * MS, TITA_WIRE_E_INTERVAL_RANGE },
	{ "interval too long", 2, 4, 100e9, TTL_MAX + 1, 10 * MS, TITA_WIRE_E_INTERVAL_RANGE },
	{ "ttl zero", 2, 4, 100e9, MS, 0, TITA_WIRE_E_TTL_ZERO },
	{ "ttl too long", 2, 4, 100e9, MS, TTL_MAX + 1, TITA_WIRE_E_TTL_TOO_LONG },
};

static void test_hello_values(void **state)
{
	static uint8_t addrs[20][16];
	uint8_t buf[TITA_WIRE_MAX_BYTES];

	for (size_t i = 0; i < sizeof(hello_cases) / sizeof(hello_cases[0]); i++) {
		const struct hello_case *c = &hello_cases[i];
		Tita__Peer__Port ports[20], *ptrs[20];
		Tita__Peer__Hello h = TITA__PEER__HELLO__INIT;
		Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
		size_t len;

		for (size_t p = 0; p < c->n_ports; p++) {
			tita__peer__port__init(&ports[p]);
			addrs[p][0] = 10;
			addrs[p][3] = (uint8_t)p;
			ports[p].addr = (ProtobufCBinaryData){ c->addr_len, addrs[p] };
			ports[p].line_rate_bps = c->line_rate_bps;
			ptrs[p] = &ports[p];
		}
		h.n_ports = c->n_ports;
		h.ports = ptrs;
		h.control_interval_ns = c->control_interval_ns;
		h.grant_ttl_ns = c->grant_ttl_ns;
		pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_HELLO;
		pm.hello = &h;
		len = seal_pm(&pm, 1, buf, sizeof(buf));
		print_message("hello: %s\n", c->what);
		assert_string_equal(tita_wire_error_name(decode_checked(NULL, NULL, buf, len)),
				    tita_wire_error_name(c->want));
	}
}

/* --- the fabric: spines, move requests, places, leaf messages --- */

static void test_fabric_fields(void **state)
{
	static struct tita_msg m;
	struct tita_wire_sender tx = sender();
	static struct tita_wire_hello h;
	static struct tita_wire_msg out;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	int len;

	make_demand(&m, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 3);
	m.demand[0].has_spine = true;
	m.demand[0].spine = 0;
	m.demand[1].has_spine = true;
	m.demand[1].spine = TITA_SPINES_MAX - 1;
	m.demand[1].room_mask = UINT64_MAX;
	m.demand[1].seek = true;
	m.demand[2].room_mask = 0x8000000000000001ull;
	m.demand[0].unsched_bytes = TITA_UNSCHED_MAX_BYTES;
	m.demand[1].unsched_bytes = 37500;
	round_trip(&m, TITA_WIRE_MAX_BYTES);
	/* The encoder refuses what a peer would drop: too many unscheduled bytes. */
	m.demand[1].unsched_bytes = TITA_UNSCHED_MAX_BYTES + 1;
	{
		uint32_t used;

		assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used),
				 -EINVAL);
	}
	m.demand[1].unsched_bytes = 0;
	m.demand[2].has_spine = true;
	m.demand[2].spine = TITA_SPINES_MAX;
	{
		uint32_t used;

		assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used),
				 -EINVAL);
	}
	make_grant(&m, v4(10, 1, 2, 3), v4(10, 3, 2, 1), 2);
	m.grant[0].room_mask = UINT64_MAX;
	m.grant[0].move = true;
	m.grant[0].swap = true;
	m.grant[0].has_spine = true;
	m.grant[0].spine = TITA_SPINES_MAX - 1;
	m.grant[0].share_bps = TITA_RATE_MAX_BPS;
	m.grant[1].room_mask = 6;
	m.grant[1].has_spine = true;
	m.grant[1].spine = 0;
	/* A bound of 0 (no unscheduled bytes at all) is not the absence of one. */
	m.grant[0].has_unsched_limit = true;
	m.grant[0].unsched_limit_bytes = 0;
	m.grant[0].hold_ns = TITA_WIRE_TTL_MAX_NS;
	m.grant[1].has_unsched_limit = true;
	m.grant[1].unsched_limit_bytes = TITA_UNSCHED_MAX_BYTES;
	m.grant[1].hold_ns = 32000;
	round_trip(&m, TITA_WIRE_MAX_BYTES);
	m.grant[0].has_unsched_limit = false;
	m.grant[0].hold_ns = 0;
	m.grant[1].has_unsched_limit = false;
	round_trip(&m, TITA_WIRE_MAX_BYTES);
	{
		uint32_t used;

		m.grant[1].hold_ns = TITA_WIRE_TTL_MAX_NS + 1;
		assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used),
				 -EINVAL);
		m.grant[1].hold_ns = 0;
		m.grant[1].has_unsched_limit = true;
		m.grant[1].unsched_limit_bytes = TITA_UNSCHED_MAX_BYTES + 1;
		assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used),
				 -EINVAL);
		m.grant[1].has_unsched_limit = false;
	}
	/* A grant's spine is checked like a demand's. */
	m.grant[1].spine = TITA_SPINES_MAX;
	{
		uint32_t used;

		assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used),
				 -EINVAL);
	}

	memset(&h, 0, sizeof(h));
	h.n_ports = 3;
	h.ports[0] = (struct tita_wire_port){
		.addr = v4(10, 0, 0, 1),
		.line_rate_bps = 100 * TITA_GBPS,
		.place = { .leaf = 0, .n_spines = 16, .spine_bps = 100 * TITA_GBPS }
	};
	h.ports[1] = (struct tita_wire_port){ .addr = v6(2),
					      .line_rate_bps = 400 * TITA_GBPS,
					      .place = { .leaf = TITA_LEAF_ANY - 1,
							 .n_spines = TITA_SPINES_MAX,
							 .spine_bps = TITA_RATE_MAX_BPS } };
	h.ports[2] = (struct tita_wire_port){ .addr = v4(10, 0, 0, 3), .line_rate_bps = 1 };
	h.control_interval_ns = TITA_NSEC_PER_MSEC;
	h.grant_ttl_ns = 10 * TITA_NSEC_PER_MSEC;
	len = tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, (size_t)len, &out), TITA_WIRE_OK);
	for (uint32_t i = 0; i < h.n_ports; i++) {
		assert_int_equal(out.hello.ports[i].place.leaf, h.ports[i].place.leaf);
		assert_int_equal(out.hello.ports[i].place.n_spines, h.ports[i].place.n_spines);
		assert_int_equal(out.hello.ports[i].place.spine_bps, h.ports[i].place.spine_bps);
	}
	assert_false(tita_place_known(&out.hello.ports[2].place));
	/* A place the decoder would drop is not sent. */
	h.ports[0].place.n_spines = TITA_SPINES_MAX + 1;
	assert_int_equal(tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf)), -EINVAL);
	h.ports[0].place = (struct tita_place){ .leaf = TITA_LEAF_NONE,
						.n_spines = 4,
						.spine_bps = TITA_GBPS };
	assert_int_equal(tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf)), -EINVAL);
}

static struct tita_leaf_entry leaf_line_of(struct tita_addr member, uint32_t k)
{
	return (struct tita_leaf_entry){
		.member = member,
		.dir = k % 2 ? TITA_LEAF_DOWN : TITA_LEAF_UP,
		.spine = (uint16_t)(k % TITA_SPINES_MAX),
		.remote_leaf = k % 3 ? k : TITA_LEAF_ANY,
		.job_id = k * 7,
		.weight_milli = 1 + k * 997 % TITA_WEIGHT_MAX,
		.demand_bps = k * 1000003ull,
		.move_bps = k % 5 ? 0 : 95 * TITA_GBPS,
		.move_to = k % 4 ? TITA_SPINE_NONE : (uint16_t)(63 - k % 64),
		.room_mask = k % 2 ? UINT64_MAX >> k % 64 : 0,
		.swap = k % 3 == 1,
		.cap_bps = k % 2 ? TITA_RATE_MAX_BPS - k : 0,
		.move_cap_bps = k % 4 ? 0 : 49 * TITA_GBPS + k,
		.n_pairs = k % 3 ? 0 : 2 + k * 4099 % (TITA_LEAF_PAIRS_MAX - 1),
	};
}

static void assert_leaf_eq(const struct tita_leaf_entry *a, const struct tita_leaf_entry *b)
{
	assert_true(tita_addr_eq(&a->member, &b->member));
	assert_int_equal(a->dir, b->dir);
	assert_int_equal(a->spine, b->spine);
	assert_int_equal(a->remote_leaf, b->remote_leaf);
	assert_int_equal(a->job_id, b->job_id);
	assert_int_equal(a->weight_milli, b->weight_milli);
	assert_int_equal(a->demand_bps, b->demand_bps);
	assert_int_equal(a->move_bps, b->move_bps);
	assert_int_equal(a->move_to, b->move_to);
	assert_int_equal(a->room_mask, b->room_mask);
	assert_int_equal(a->swap, b->swap);
	assert_int_equal(a->cap_bps, b->cap_bps);
	assert_int_equal(a->move_cap_bps, b->move_cap_bps);
	assert_int_equal(a->n_pairs, b->n_pairs);
}

/* A report of 64 lines from an IPv6 member splits over datagrams; each
 * comes back with the member as peer. An answer comes back with the
 * leader as peer and the room and TTL intact. */
static void test_leaf_round_trip(void **state)
{
	static struct tita_msg m;
	static struct tita_wire_msg out;
	struct tita_wire_sender tx = sender();
	struct tita_addr member = v6(0x77), leader = v6(0x11);
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t start = 0, used;
	unsigned datagrams = 0;
	int len;

	memset(&m, 0, sizeof(m));
	m.kind = TITA_MSG_LEAF_REPORT;
	m.peer = leader;
	m.leaf_id = 12;
	m.recheck = true;
	m.n_entries = TITA_MSG_MAX_ENTRIES;
	for (uint32_t k = 0; k < m.n_entries; k++)
		m.leaf[k] = leaf_line_of(member, k);
	while (start < m.n_entries) {
		len = tita_wire_encode_msg(&ring, &tx, &m, start, buf, sizeof(buf), &used);
		assert_true(len > 0 && len <= TITA_WIRE_MAX_BYTES && used >= 1);
		assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
				 TITA_WIRE_OK);
		assert_int_equal(out.msg.kind, TITA_MSG_LEAF_REPORT);
		assert_int_equal(out.msg.leaf_id, 12);
		assert_true(out.msg.recheck);
		assert_true(tita_addr_eq(&out.msg.peer, &member));
		assert_int_equal(out.msg.n_entries, used);
		for (uint32_t k = 0; k < used; k++)
			assert_leaf_eq(&out.msg.leaf[k], &m.leaf[start + k]);
		start += used;
		datagrams++;
	}
	print_message("64 IPv6 leaf lines: %u datagrams\n", datagrams);
	assert_true(datagrams > 1);
	/* The member is left out: it is where the report comes from, and
	 * without that the report is refused. (A report that names its member
	 * is refused from anyone else: leaf_cases.) */
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_int_equal(decode_checked(NULL, NULL, buf, (size_t)len), TITA_WIRE_E_NO_ORIGIN);
	/* A report is not sent to its own member. */
	m.peer = member;
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), -EINVAL);

	m.kind = TITA_MSG_LEAF_ANSWER;
	m.peer = member;
	m.n_entries = 3;
	m.ttl_ns = 10 * TITA_NSEC_PER_MSEC;
	m.up_room_mask = 0x8000000000000001ull;
	m.down_room_mask = 0x7e;
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_true(len > 0);
	assert_int_equal(used, 3);
	assert_int_equal(tita_wire_decode(&ring, NULL, &leader, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.kind, TITA_MSG_LEAF_ANSWER);
	assert_true(tita_addr_eq(&out.msg.peer, &leader));
	assert_int_equal(out.msg.ttl_ns, m.ttl_ns);
	assert_int_equal(out.msg.up_room_mask, m.up_room_mask);
	assert_int_equal(out.msg.down_room_mask, m.down_room_mask);
	assert_true(out.msg.recheck);
	for (uint32_t k = 0; k < used; k++)
		assert_leaf_eq(&out.msg.leaf[k], &m.leaf[k]);
	/* Without it, nothing to recheck. */
	m.recheck = false;
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_int_equal(tita_wire_decode(&ring, NULL, &leader, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_false(out.msg.recheck);

	/* The encoder refuses what the decoder would drop. */
	m.ttl_ns = 0;
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), -EINVAL);
	m.ttl_ns = 1;
	m.leaf_id = TITA_LEAF_ANY;
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), -EINVAL);
	m.leaf_id = 3;
	m.leaf[1].member = leader; /* an answer's lines are its addressee's */
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), -EINVAL);
	m.leaf[1].member = member;
	m.leaf[2].dir = 0;
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), -EINVAL);
	m.leaf[2].dir = TITA_LEAF_UP;
	m.leaf[2].move_to = TITA_SPINES_MAX;
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), -EINVAL);
	m.leaf[2].move_to = TITA_SPINE_NONE;
	m.n_entries = 0;
	assert_int_equal(tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used), -EINVAL);
}

struct leaf_case {
	const char *what;
	bool report;
	uint32_t leaf, dir, spine, remote, n_lines;
	double weight, demand_bps, cap_bps;
	int64_t move_to; /* -1: absent */
	uint64_t ttl_ns;
	size_t member_len;
	enum tita_wire_error want;
};

#define LEAF_OK(what, report)                                                     \
	{                                                                         \
		what, report, 4, 1, 3, 5, 1, 1.0, 1e9, 0, -1, MS, 4, TITA_WIRE_OK \
	}

static const struct leaf_case leaf_cases[] = {
	LEAF_OK("report", true),
	LEAF_OK("answer", false),
	{ "report from another", true, 4, 1, 3, 5, 1, 1.0, 1e9, 0, -1, MS, 16,
	  TITA_WIRE_E_PEER_MISMATCH },
	{ "member of 3 bytes", false, 4, 1, 3, 5, 1, 1.0, 1e9, 0, -1, MS, 3,
	  TITA_WIRE_E_BAD_ADDR_LEN },
	{ "no lines", true, 4, 1, 3, 5, 0, 1.0, 1e9, 0, -1, MS, 4, TITA_WIRE_E_NO_ENTRIES },
	{ "answer, no lines", false, 4, 1, 3, 5, 0, 1.0, 1e9, 0, -1, MS, 4,
	  TITA_WIRE_E_NO_ENTRIES },
	{ "65 lines", true, 4, 1, 3, 5, 65, 1.0, 0, 0, -1, MS, 4, TITA_WIRE_E_TOO_MANY_ENTRIES },
	{ "leaf none", true, UINT32_MAX, 1, 3, 5, 1, 1.0, 1e9, 0, -1, MS, 4,
	  TITA_WIRE_E_LEAF_RANGE },
	{ "leaf any", false, UINT32_MAX - 1, 1, 3, 5, 1, 1.0, 1e9, 0, -1, MS, 4,
	  TITA_WIRE_E_LEAF_RANGE },
	{ "remote leaf none", true, 4, 1, 3, UINT32_MAX, 1, 1.0, 1e9, 0, -1, MS, 4,
	  TITA_WIRE_E_LEAF_RANGE },
	{ "dir 0", true, 4, 0, 3, 5, 1, 1.0, 1e9, 0, -1, MS, 4, TITA_WIRE_E_DIR_RANGE },
	{ "dir 3", false, 4, 3, 3, 5, 1, 1.0, 1e9, 0, -1, MS, 4, TITA_WIRE_E_DIR_RANGE },
	{ "spine 64", true, 4, 2, 64, 5, 1, 1.0, 1e9, 0, -1, MS, 4, TITA_WIRE_E_SPINE_RANGE },
	{ "move_to 64", false, 4, 1, 3, 5, 1, 1.0, 1e9, 0, 64, MS, 4, TITA_WIRE_E_SPINE_RANGE },
	{ "move_to 63", false, 4, 1, 3, 5, 1, 1.0, 1e9, 0, 63, MS, 4, TITA_WIRE_OK },
	{ "weight zero", true, 4, 1, 3, 5, 1, 0.0, 1e9, 0, -1, MS, 4, TITA_WIRE_E_WEIGHT_RANGE },
	{ "weight NaN", true, 4, 1, 3, 5, 1, NAN, 1e9, 0, -1, MS, 4,
	  TITA_WIRE_E_WEIGHT_NOT_FINITE },
	{ "demand negative", true, 4, 1, 3, 5, 1, 1.0, -1, 0, -1, MS, 4,
	  TITA_WIRE_E_RATE_NEGATIVE },
	{ "cap too high", false, 4, 1, 3, 5, 1, 1.0, 1e9, RMAX + 1e6, -1, MS, 4,
	  TITA_WIRE_E_RATE_TOO_HIGH },
	{ "answer ttl zero", false, 4, 1, 3, 5, 1, 1.0, 1e9, 0, -1, 0, 4, TITA_WIRE_E_TTL_ZERO },
	{ "answer ttl too long", false, 4, 1, 3, 5, 1, 1.0, 1e9, 0, -1, TTL_MAX + 1, 4,
	  TITA_WIRE_E_TTL_TOO_LONG },
};

/* A leaf message of one line (spine 3, leaf 5, job 1) from or for member. */
static void one_leaf_line(struct tita_msg *m, enum tita_msg_kind kind, struct tita_addr peer,
			  struct tita_addr member, uint8_t dir, uint64_t demand_bps,
			  uint64_t cap_bps)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->peer = peer;
	m->leaf_id = 4;
	m->ttl_ns = kind == TITA_MSG_LEAF_ANSWER ? 1000 : 0;
	m->n_entries = 1;
	m->leaf[0] = (struct tita_leaf_entry){ .member = member,
					       .dir = dir,
					       .spine = 3,
					       .remote_leaf = 5,
					       .job_id = 1,
					       .weight_milli = TITA_WEIGHT_ONE,
					       .demand_bps = demand_bps,
					       .cap_bps = cap_bps,
					       .move_to = TITA_SPINE_NONE };
}

/*
 * A line of any leaf carries a 2-byte flag instead of the 6-byte id; the
 * id spelled out is still read as any leaf, and the flag beside an id is
 * refused.
 */
static void test_any_leaf_flag(void **state)
{
	static struct tita_msg m;
	static struct tita_wire_msg out;
	struct tita_wire_sender tx = sender();
	struct tita_addr leader = v4(10, 0, 0, 9), member = v4(10, 0, 0, 1);
	Tita__Peer__LeafLine line;
	Tita__Peer__LeafLine *ptrs[1] = { &line };
	Tita__Peer__LeafAnswer a = TITA__PEER__LEAF_ANSWER__INIT;
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t used;
	int len, len_leaf5;

	one_leaf_line(&m, TITA_MSG_LEAF_ANSWER, member, member, TITA_LEAF_DOWN, 0, 1000000000ull);
	len_leaf5 = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	m.leaf[0].remote_leaf = TITA_LEAF_ANY;
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	/* leaf 5: tag and one byte; any: tag and the flag, not 6 bytes. */
	assert_int_equal(len, len_leaf5);
	assert_int_equal(tita_wire_decode(&ring, NULL, &leader, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.leaf[0].remote_leaf, TITA_LEAF_ANY);

	/* Spelled out, as version 1 sends it: the same line. */
	tita__peer__leaf_line__init(&line);
	line.dir = TITA_LEAF_DOWN;
	line.spine = 3;
	line.remote_leaf = TITA_LEAF_ANY;
	line.job_id = 1;
	line.cap_bps = 1e9;
	a.leaf = 4;
	a.member = (ProtobufCBinaryData){ 4, ip_a };
	a.ttl_ns = 1000;
	a.n_lines = 1;
	a.lines = ptrs;
	pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_LEAF_ANSWER;
	pm.leaf_answer = &a;
	len = (int)seal_pm(&pm, 1, buf, sizeof(buf));
	print_message("answer of one line: leaf 5 %d bytes, any leaf spelled out %d\n", len_leaf5,
		      len);
	assert_int_equal(len, len_leaf5 + 4);
	assert_int_equal(tita_wire_decode(&ring, NULL, &leader, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.leaf[0].remote_leaf, TITA_LEAF_ANY);
	/* The flag and an id: which one? Refused. */
	line.any_leaf = true;
	line.remote_leaf = 5;
	len = (int)seal_pm(&pm, 1, buf, sizeof(buf));
	assert_int_equal(decode_checked(NULL, &leader, buf, (size_t)len), TITA_WIRE_E_LEAF_RANGE);
	line.remote_leaf = 0;
	len = (int)seal_pm(&pm, 1, buf, sizeof(buf));
	assert_int_equal(tita_wire_decode(&ring, NULL, &leader, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.leaf[0].remote_leaf, TITA_LEAF_ANY);
}

/*
 * A line of any leaf tells the pairs it sums: one (0 or 1) is left out,
 * more take the field; beyond TITA_LEAF_PAIRS_MAX is refused.
 */
static void test_leaf_pairs(void **state)
{
	static struct tita_msg m;
	static struct tita_wire_msg out;
	struct tita_wire_sender tx = sender();
	struct tita_addr leader = v4(10, 0, 0, 9), member = v4(10, 0, 0, 1);
	Tita__Peer__LeafLine line;
	Tita__Peer__LeafLine *ptrs[1] = { &line };
	Tita__Peer__LeafReport r = TITA__PEER__LEAF_REPORT__INIT;
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t used;
	int len, len_one;

	(void)state;
	one_leaf_line(&m, TITA_MSG_LEAF_REPORT, leader, member, TITA_LEAF_UP, 1000000000ull, 0);
	m.leaf[0].remote_leaf = TITA_LEAF_ANY;
	len_one = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	m.leaf[0].n_pairs = 1;
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_int_equal(len, len_one);
	assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.leaf[0].n_pairs, 0);
	m.leaf[0].n_pairs = 23;
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	/* A tag and one byte. */
	assert_int_equal(len, len_one + 2);
	assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.leaf[0].n_pairs, 23);
	m.leaf[0].n_pairs = TITA_LEAF_PAIRS_MAX;
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.leaf[0].n_pairs, TITA_LEAF_PAIRS_MAX);

	/* More than any NIC sums: refused. */
	tita__peer__leaf_line__init(&line);
	line.dir = TITA_LEAF_UP;
	line.spine = 3;
	line.any_leaf = true;
	line.job_id = 1;
	line.demand_bps = 1e9;
	line.n_pairs = TITA_LEAF_PAIRS_MAX + 1;
	r.leaf = 4;
	r.member = (ProtobufCBinaryData){ 4, ip_a };
	r.n_lines = 1;
	r.lines = ptrs;
	pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_LEAF_REPORT;
	pm.leaf_report = &r;
	len = (int)seal_pm(&pm, 1, buf, sizeof(buf));
	assert_int_equal(decode_checked(NULL, &member, buf, (size_t)len), TITA_WIRE_E_PAIRS_RANGE);
	assert_string_equal(tita_wire_error_name(TITA_WIRE_E_PAIRS_RANGE),
			    "leaf_pairs_out_of_range");
}

static void test_leaf_values(void **state)
{
	static uint8_t member16[16] = { 0xfd, 0, 0x74, 0x69 };
	uint8_t buf[4 * TITA_WIRE_MAX_BYTES];
	struct tita_addr from = tita_addr_from_ipv4(ip_a);

	for (size_t i = 0; i < sizeof(leaf_cases) / sizeof(leaf_cases[0]); i++) {
		const struct leaf_case *c = &leaf_cases[i];
		Tita__Peer__LeafLine lines[70], *ptrs[70];
		Tita__Peer__LeafReport r = TITA__PEER__LEAF_REPORT__INIT;
		Tita__Peer__LeafAnswer a = TITA__PEER__LEAF_ANSWER__INIT;
		Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
		ProtobufCBinaryData member = { c->member_len,
					       c->member_len == 16 ? member16 : ip_a };
		size_t len;

		for (uint32_t k = 0; k < c->n_lines; k++) {
			tita__peer__leaf_line__init(&lines[k]);
			lines[k].dir = c->dir;
			lines[k].spine = c->spine;
			lines[k].remote_leaf = c->remote;
			lines[k].job_id = k;
			lines[k].weight_present_case = TITA__PEER__LEAF_LINE__WEIGHT_PRESENT_WEIGHT;
			lines[k].weight = c->weight;
			lines[k].demand_bps = c->demand_bps;
			lines[k].cap_bps = c->cap_bps;
			if (c->move_to >= 0) {
				lines[k].move_to_present_case =
					TITA__PEER__LEAF_LINE__MOVE_TO_PRESENT_MOVE_TO;
				lines[k].move_to = (uint32_t)c->move_to;
			}
			ptrs[k] = &lines[k];
		}
		if (c->report) {
			r.leaf = c->leaf;
			r.member = member;
			r.n_lines = c->n_lines;
			r.lines = ptrs;
			pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_LEAF_REPORT;
			pm.leaf_report = &r;
		} else {
			a.leaf = c->leaf;
			a.member = member;
			a.ttl_ns = c->ttl_ns;
			a.n_lines = c->n_lines;
			a.lines = ptrs;
			pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_LEAF_ANSWER;
			pm.leaf_answer = &a;
		}
		len = seal_pm(&pm, 1, buf, sizeof(buf));
		print_message("leaf: %s\n", c->what);
		assert_string_equal(tita_wire_error_name(decode_checked(NULL, &from, buf, len)),
				    tita_wire_error_name(c->want));
	}
}

/* A place the decoder drops: every field of a known place in range, and
 * no half of one. */
static void test_place_values(void **state)
{
	static const struct {
		const char *what;
		bool has_leaf;
		uint32_t leaf, n_spines;
		double spine_bps;
		enum tita_wire_error want;
	} cases[] = {
		{ "known", true, 0, 16, 100e9, TITA_WIRE_OK },
		{ "unknown", false, 0, 0, 0, TITA_WIRE_OK },
		{ "no spines", true, 3, 0, 100e9, TITA_WIRE_E_PLACE_RANGE },
		{ "65 spines", true, 3, 65, 100e9, TITA_WIRE_E_PLACE_RANGE },
		{ "spine rate zero", true, 3, 4, 0, TITA_WIRE_E_PLACE_RANGE },
		{ "spine rate NaN", true, 3, 4, NAN, TITA_WIRE_E_PLACE_RANGE },
		{ "spine rate too high", true, 3, 4, RMAX + 1e6, TITA_WIRE_E_PLACE_RANGE },
		{ "leaf any", true, UINT32_MAX - 1, 4, 1e9, TITA_WIRE_E_PLACE_RANGE },
		{ "spines without a leaf", false, 0, 4, 1e9, TITA_WIRE_E_PLACE_RANGE },
	};
	uint8_t buf[TITA_WIRE_MAX_BYTES];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Tita__Peer__Port port, *ptrs[1] = { &port };
		Tita__Peer__Hello h = TITA__PEER__HELLO__INIT;
		Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
		size_t len;

		tita__peer__port__init(&port);
		port.addr = (ProtobufCBinaryData){ 4, ip_a };
		port.line_rate_bps = 100e9;
		if (cases[i].has_leaf) {
			port.leaf_present_case = TITA__PEER__PORT__LEAF_PRESENT_LEAF;
			port.leaf = cases[i].leaf;
		}
		port.n_spines = cases[i].n_spines;
		port.spine_bps = cases[i].spine_bps;
		h.n_ports = 1;
		h.ports = ptrs;
		h.control_interval_ns = MS;
		h.grant_ttl_ns = 10 * MS;
		pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_HELLO;
		pm.hello = &h;
		len = seal_pm(&pm, 1, buf, sizeof(buf));
		print_message("place: %s\n", cases[i].what);
		assert_string_equal(tita_wire_error_name(decode_checked(NULL, NULL, buf, len)),
				    tita_wire_error_name(cases[i].want));
	}
	{
		Tita__Peer__DemandEntry e = good_demand_entry();

		e.spine_present_case = TITA__PEER__DEMAND_ENTRY__SPINE_PRESENT_SPINE;
		e.spine = TITA_SPINES_MAX;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_demand(&e, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_E_SPINE_RANGE);
		e.spine = 0;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_demand(&e, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_OK);
		/* The spine a spread pair's port takes: the same range. */
		e.path_spine_present_case = TITA__PEER__DEMAND_ENTRY__PATH_SPINE_PRESENT_PATH_SPINE;
		e.path_spine = TITA_SPINES_MAX;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_demand(&e, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_E_SPINE_RANGE);
		e.path_spine = TITA_SPINES_MAX - 1;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_demand(&e, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_OK);
	}
	{
		/* A grant's spine and share, like a demand's spine and a rate. */
		Tita__Peer__GrantEntry e = good_grant_entry();

		e.spine_present_case = TITA__PEER__GRANT_ENTRY__SPINE_PRESENT_SPINE;
		e.spine = TITA_SPINES_MAX;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_grant(&e, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_E_SPINE_RANGE);
		e.spine = TITA_SPINES_MAX - 1;
		e.share_bps = -1;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_grant(&e, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_E_RATE_NEGATIVE);
		e.share_bps = 1e9;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_grant(&e, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_OK);
	}
	{
		/* The unscheduled bytes a demand announces, a grant's bound on
		 * them and its hold: each its range, each its error. */
		Tita__Peer__DemandEntry d = good_demand_entry();
		Tita__Peer__GrantEntry g = good_grant_entry();

		d.unsched_bytes = TITA_UNSCHED_MAX_BYTES + 1;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_demand(&d, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_E_UNSCHED_RANGE);
		d.unsched_bytes = TITA_UNSCHED_MAX_BYTES;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_demand(&d, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_OK);
		g.unsched_present_case =
			TITA__PEER__GRANT_ENTRY__UNSCHED_PRESENT_UNSCHED_LIMIT_BYTES;
		g.unsched_limit_bytes = TITA_UNSCHED_MAX_BYTES + 1;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_grant(&g, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_E_UNSCHED_RANGE);
		g.unsched_limit_bytes = 0;
		g.hold_ns = TITA_WIRE_TTL_MAX_NS + 1;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_grant(&g, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_E_HOLD_RANGE);
		g.hold_ns = TITA_WIRE_TTL_MAX_NS;
		assert_int_equal(decode_checked(NULL, NULL, buf,
						seal_grant(&g, 1, 1, buf, sizeof(buf))),
				 TITA_WIRE_OK);
	}
}

/* --- replay window --- */

static size_t datagram_at(uint64_t boot_id, uint64_t seq, uint8_t *buf)
{
	Tita__Peer__GrantEntry e = good_grant_entry();
	Tita__Peer__GrantEntry *ptr = &e;
	Tita__Peer__Grant g = TITA__PEER__GRANT__INIT;
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
	uint8_t body[128];
	size_t body_len;

	g.n_entries = 1;
	g.entries = &ptr;
	pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_GRANT;
	pm.grant = &g;
	body_len = tita__peer__peer_message__pack(&pm, body);
	return seal_raw(body, body_len, KEY_ID, key1, boot_id, seq, buf);
}

static enum tita_wire_error at(struct tita_wire_replay *r, uint64_t boot_id, uint64_t seq)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t len = datagram_at(boot_id, seq, buf);

	return decode_checked(r, NULL, buf, len);
}

static void test_replay(void **state)
{
	struct tita_wire_replay r;
	const uint64_t w = TITA_WIRE_REPLAY_WINDOW;

	tita_wire_replay_init(&r);
	assert_int_equal(at(&r, 100, 1000), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1000), TITA_WIRE_E_REPLAYED);
	assert_int_equal(at(&r, 100, 1001), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1001), TITA_WIRE_E_REPLAYED);
	/* Reordering inside the window is fine, once. */
	assert_int_equal(at(&r, 100, 1010), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1005), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1005), TITA_WIRE_E_REPLAYED);
	assert_int_equal(at(&r, 100, 999), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1010 - w + 1), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1010 - w), TITA_WIRE_E_TOO_OLD);
	assert_int_equal(at(&r, 100, 0), TITA_WIRE_E_TOO_OLD);
	/* A jump far ahead forgets the old window. */
	assert_int_equal(at(&r, 100, 1000000), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1010), TITA_WIRE_E_TOO_OLD);
	assert_int_equal(at(&r, 100, 1000000 - 1), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1000000 - w + 1), TITA_WIRE_OK);
	/* Every sequence number in a moving window, each accepted once. */
	for (uint64_t s = 1000002; s < 1000002 + 3 * w; s += 3) {
		assert_int_equal(at(&r, 100, s), TITA_WIRE_OK);
		assert_int_equal(at(&r, 100, s - 1), TITA_WIRE_OK);
		assert_int_equal(at(&r, 100, s - 1), TITA_WIRE_E_REPLAYED);
		assert_int_equal(at(&r, 100, s), TITA_WIRE_E_REPLAYED);
	}
	/* The sender restarted: a newer boot id starts over, an older one is stale. */
	assert_int_equal(at(&r, 101, 0), TITA_WIRE_OK);
	assert_int_equal(at(&r, 101, 0), TITA_WIRE_E_REPLAYED);
	assert_int_equal(at(&r, 101, 1), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 5000000), TITA_WIRE_E_STALE_BOOT);
	assert_int_equal(at(&r, 99, 2), TITA_WIRE_E_STALE_BOOT);
	assert_int_equal(r.boot_id, 101);
	assert_int_equal(r.top_seq, 1);
	/* Extremes. */
	assert_int_equal(at(&r, UINT64_MAX, UINT64_MAX), TITA_WIRE_OK);
	assert_int_equal(at(&r, UINT64_MAX, UINT64_MAX), TITA_WIRE_E_REPLAYED);
	assert_int_equal(at(&r, UINT64_MAX, UINT64_MAX - w + 1), TITA_WIRE_OK);
	assert_int_equal(at(&r, UINT64_MAX, UINT64_MAX - w), TITA_WIRE_E_TOO_OLD);
}

/* Only datagrams that authenticate, and are accepted, move the window. */
static void test_replay_needs_mac(void **state)
{
	struct tita_wire_replay r;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t len;

	tita_wire_replay_init(&r);
	assert_int_equal(at(&r, 100, 10), TITA_WIRE_OK);
	/* A forgery far ahead, under a newer boot id: nothing changes. */
	len = datagram_at(200, 1000000, buf);
	buf[len - 1] ^= 1;
	assert_int_equal(decode_checked(&r, NULL, buf, len), TITA_WIRE_E_BAD_MAC);
	len = datagram_at(100, 1000000, buf);
	buf[len - 1] ^= 1;
	assert_int_equal(decode_checked(&r, NULL, buf, len), TITA_WIRE_E_BAD_MAC);
	assert_int_equal(r.boot_id, 100);
	assert_int_equal(r.top_seq, 10);
	/* A replayed forgery is a bad MAC, not a replay: the MAC comes first. */
	len = datagram_at(100, 10, buf);
	buf[30] ^= 1;
	assert_int_equal(decode_checked(&r, NULL, buf, len), TITA_WIRE_E_BAD_MAC);
	/* An authentic datagram with a bad body does not take its number. */
	{
		Tita__Peer__GrantEntry e = good_grant_entry();

		e.ttl_ns = 0;
		len = seal_grant(&e, 1, 11, buf, sizeof(buf));
		assert_int_equal(decode_checked(&r, NULL, buf, len), TITA_WIRE_E_TTL_ZERO);
	}
	assert_int_equal(at(&r, 100, 11), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 9), TITA_WIRE_OK);
	assert_int_equal(at(&r, 100, 1000000), TITA_WIRE_OK);
}

static void test_replay_api(void **state)
{
	struct tita_wire_replay r;

	tita_wire_replay_init(&r);
	assert_false(r.primed);
	assert_int_equal(tita_wire_replay_check(&r, 0, 0), TITA_WIRE_OK);
	tita_wire_replay_update(&r, 5, 0);
	assert_int_equal(tita_wire_replay_check(&r, 5, 0), TITA_WIRE_E_REPLAYED);
	assert_int_equal(tita_wire_replay_check(&r, 4, 1), TITA_WIRE_E_STALE_BOOT);
	/* Updating with a stale or too old number is ignored. */
	tita_wire_replay_update(&r, 4, 7);
	assert_int_equal(r.boot_id, 5);
	tita_wire_replay_update(&r, 5, 10000);
	tita_wire_replay_update(&r, 5, 1);
	assert_int_equal(tita_wire_replay_check(&r, 5, 1), TITA_WIRE_E_TOO_OLD);
	assert_int_equal(tita_wire_replay_check(&r, 5, 10000 - TITA_WIRE_REPLAY_WINDOW + 1),
			 TITA_WIRE_OK);
}

/*
 * The boot id's bounds: a boot id beyond the receiver's clock plus its
 * skew is never installed (a forged 2^64-1 would otherwise make every
 * real datagram stale), and an older boot id is a restart only when the
 * caller says the current boot went quiet, never one held before.
 */
static void test_replay_boot_policy(void **state)
{
	struct tita_wire_replay r;

	tita_wire_replay_init(&r);
	r.boot_id_max = 1000;
	assert_int_equal(at(&r, UINT64_MAX, 1), TITA_WIRE_E_BOOT_AHEAD);
	assert_int_equal(at(&r, 1001, 1), TITA_WIRE_E_BOOT_AHEAD);
	assert_false(r.primed);
	assert_int_equal(at(&r, 500, 1), TITA_WIRE_OK);
	assert_int_equal(at(&r, UINT64_MAX, 2), TITA_WIRE_E_BOOT_AHEAD);
	assert_int_equal(r.boot_id, 500);
	assert_int_equal(at(&r, 500, 2), TITA_WIRE_OK);
	/* A restart with the clock behind: stale, unless the caller says the
	 * current boot went quiet. */
	assert_int_equal(at(&r, 400, 1), TITA_WIRE_E_STALE_BOOT);
	r.restart_ok = true;
	assert_int_equal(at(&r, 400, 1), TITA_WIRE_OK);
	r.restart_ok = false;
	assert_int_equal(r.boot_id, 400);
	assert_int_equal(at(&r, 400, 1), TITA_WIRE_E_REPLAYED);
	/* A boot held before is taken again only past what was accepted
	 * under it: its captures stay refused, quiet or not, and its sender
	 * (kept out by a forged newer boot id) gets back in. */
	assert_int_equal(at(&r, 500, 3), TITA_WIRE_OK);
	assert_int_equal(r.prev[0].boot_id, 400);
	assert_int_equal(r.prev[0].top_seq, 1);
	assert_int_equal(r.prev[1].boot_id, 0);
	/* Boot 500 resumed where it was: its old numbers are seen. */
	assert_int_equal(at(&r, 500, 2), TITA_WIRE_E_REPLAYED);
	assert_int_equal(at(&r, 500, 1), TITA_WIRE_E_REPLAYED);
	r.restart_ok = true;
	assert_int_equal(at(&r, 400, 1), TITA_WIRE_E_STALE_BOOT);
	assert_int_equal(r.boot_id, 500);
	assert_int_equal(at(&r, 400, 2), TITA_WIRE_OK);
	assert_int_equal(r.boot_id, 400);
	assert_int_equal(r.prev[0].boot_id, 500);
	assert_int_equal(r.prev[0].top_seq, 3);
	assert_int_equal(r.prev[1].boot_id, 0);
}

/* A window resumed from what a bounded table kept of an earlier one. */
static void test_replay_resume(void **state)
{
	struct tita_wire_replay r;

	tita_wire_replay_resume(&r, 7, 100);
	assert_int_equal(at(&r, 7, 100), TITA_WIRE_E_REPLAYED);
	assert_int_equal(at(&r, 7, 60), TITA_WIRE_E_REPLAYED);
	assert_int_equal(at(&r, 6, 500), TITA_WIRE_E_STALE_BOOT);
	assert_int_equal(at(&r, 7, 101), TITA_WIRE_OK);
	assert_int_equal(at(&r, 8, 1), TITA_WIRE_OK);
}

/* A hello speaks for its ports: from anywhere else it is a mismatch. */
static void test_hello_bound_to_source(void **state)
{
	struct tita_wire_sender tx = sender();
	struct tita_wire_hello h = { .n_ports = 2,
				     .control_interval_ns = 1000000,
				     .grant_ttl_ns = 10000000 };
	struct tita_addr a = v4(10, 0, 0, 1), b = v6(2), c = v4(10, 0, 0, 3);
	struct tita_wire_replay r;
	struct tita_wire_msg out;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	int len;

	h.ports[0] = (struct tita_wire_port){ a, 100000000000ull };
	h.ports[1] = (struct tita_wire_port){ b, 100000000000ull };
	len = tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf));
	assert_true(len > 0);
	tita_wire_replay_init(&r);
	assert_int_equal(tita_wire_decode(&ring, &r, &c, buf, (size_t)len, &out),
			 TITA_WIRE_E_PEER_MISMATCH);
	assert_false(r.primed);
	assert_int_equal(tita_wire_decode(&ring, &r, &b, buf, (size_t)len, &out), TITA_WIRE_OK);
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, (size_t)len, &out), TITA_WIRE_OK);
}

/* --- names --- */

static void test_error_names(void **state)
{
	for (int i = 0; i < TITA_WIRE_E_COUNT; i++) {
		const char *name = tita_wire_error_name(i);

		assert_string_not_equal(name, "unknown");
		for (const char *c = name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
				    *c == '_');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name, tita_wire_error_name(j));
	}
	assert_string_equal(tita_wire_error_name(TITA_WIRE_E_COUNT), "unknown");
	assert_string_equal(tita_wire_error_name((enum tita_wire_error) - 1), "unknown");
	assert_string_equal(tita_wire_error_name(TITA_WIRE_E_BAD_MAC), "bad_mac");
}

/*
 * A datagram made by tests/fuzz/gen-corpus-wire.py (Python's hashlib and a
 * hand-written protobuf encoder): the C codec agrees with an independent
 * implementation of the format.
 */
/* Regenerate with: tests/fuzz/gen-corpus-wire.py - --c-vector (version 2, what
 * the encoder writes, and the same datagram in version 1) */
static const uint8_t known_demand[97] = {
	0x54, 0x49, 0x54, 0x41, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
	0x55, 0x66, 0x77, 0x88, 0x00, 0x00, 0x00, 0x2a, 0x12, 0x41, 0x0a, 0x11, 0x12, 0x04,
	0x0a, 0x00, 0x00, 0x02, 0x18, 0x07, 0x29, 0x00, 0x00, 0x00, 0xe8, 0x76, 0x48, 0x17,
	0x42, 0x0a, 0x2c, 0x12, 0x04, 0x0a, 0x00, 0x00, 0x02, 0x18, 0x08, 0x21, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x04, 0x40, 0x29, 0x00, 0x00, 0x00, 0x20, 0x5f, 0xa0, 0x22,
	0x42, 0x31, 0x00, 0x00, 0x00, 0x00, 0x65, 0xcd, 0xcd, 0x41, 0x39, 0x00, 0x00, 0x00,
	0xe8, 0x76, 0x48, 0x27, 0x42, 0xa6, 0xfe, 0xaa, 0x15, 0x92, 0x61, 0x58, 0xd1,
};
static const uint8_t known_demand_v1[121] = {
	0x54, 0x49, 0x54, 0x41, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
	0x55, 0x66, 0x77, 0x88, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x12, 0x4d,
	0x0a, 0x17, 0x0a, 0x04, 0x0a, 0x00, 0x00, 0x01, 0x12, 0x04, 0x0a, 0x00, 0x00, 0x02,
	0x18, 0x07, 0x29, 0x00, 0x00, 0x00, 0xe8, 0x76, 0x48, 0x17, 0x42, 0x0a, 0x32, 0x0a,
	0x04, 0x0a, 0x00, 0x00, 0x01, 0x12, 0x04, 0x0a, 0x00, 0x00, 0x02, 0x18, 0x08, 0x21,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x40, 0x29, 0x00, 0x00, 0x00, 0x20, 0x5f,
	0xa0, 0x22, 0x42, 0x31, 0x00, 0x00, 0x00, 0x00, 0x65, 0xcd, 0xcd, 0x41, 0x39, 0x00,
	0x00, 0x00, 0xe8, 0x76, 0x48, 0x27, 0x42, 0xfe, 0xcc, 0x96, 0x9b, 0x75, 0xa3, 0x8f,
	0xf4, 0x9a, 0xd0, 0x6e, 0x7a, 0x2e, 0x08, 0x8f, 0x93,
};

static void test_known_answer(void **state)
{
	static struct tita_wire_msg out;
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = 0x1122334455667788ull, .seq = 42 };
	static struct tita_msg m;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t used;
	int len;
	const struct tita_addr origin = v4(10, 0, 0, 1);

	/* The sender is left out: the datagram's origin, which must be said. */
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, known_demand, sizeof(known_demand),
					  &out),
			 TITA_WIRE_E_NO_ORIGIN);
	assert_int_equal(tita_wire_decode(&ring, NULL, &origin, known_demand, sizeof(known_demand),
					  &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.hdr.boot_id, 0x1122334455667788ull);
	assert_int_equal(out.hdr.seq, 42);
	assert_int_equal(out.msg.kind, TITA_MSG_DEMAND);
	assert_int_equal(out.msg.n_entries, 2);
	{
		struct tita_addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);

		assert_true(tita_addr_eq(&out.msg.peer, &a));
		assert_true(tita_addr_eq(&out.msg.demand[1].sender, &a));
		assert_true(tita_addr_eq(&out.msg.demand[1].receiver, &b));
	}
	assert_int_equal(out.msg.demand[0].job_id, 7);
	assert_int_equal(out.msg.demand[0].weight_milli, 1000);
	assert_int_equal(out.msg.demand[0].demand_bps, 25000000000ull);
	assert_int_equal(out.msg.demand[1].job_id, 8);
	assert_int_equal(out.msg.demand[1].weight_milli, 2500);
	assert_int_equal(out.msg.demand[1].min_bps, 1000000000ull);
	assert_int_equal(out.msg.demand[1].max_bps, 50000000000ull);

	/* And the C encoder produces the same bytes. */
	m = out.msg;
	m.peer = m.demand[0].receiver;
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_int_equal(len, sizeof(known_demand));
	assert_memory_equal(buf, known_demand, sizeof(known_demand));

	/* A version-1 peer's datagram of the same message is taken as well,
	 * 24 bytes longer (8-byte sequence, 16-byte tag, the sender's 4-byte
	 * address with its tag and length in each of the two entries). */
	assert_int_equal(sizeof(known_demand_v1), sizeof(known_demand) + 24);
	memset(&out, 0, sizeof(out));
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, known_demand_v1,
					  sizeof(known_demand_v1), &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.hdr.version, 1);
	assert_int_equal(out.hdr.seq, 42);
	assert_int_equal(out.msg.n_entries, 2);
	assert_int_equal(out.msg.demand[1].max_bps, 50000000000ull);

	/* To a peer not yet upgraded, the encoder writes version 1 as the
	 * version-1 encoder did (these bytes are its known answer), byte for
	 * byte. */
	tx.boot_id = 0x1122334455667788ull;
	tx.seq = 42;
	len = tita_wire_encode_msg_version(&ring, &tx, TITA_WIRE_V1_VERSION, &m, 0, buf,
					   sizeof(buf), &used);
	assert_int_equal(len, sizeof(known_demand_v1));
	assert_memory_equal(buf, known_demand_v1, sizeof(known_demand_v1));
	/* No other version is written. */
	assert_int_equal(tita_wire_encode_msg_version(&ring, &tx, 3, &m, 0, buf, sizeof(buf),
						      &used),
			 -EINVAL);
	assert_int_equal(tx.seq, 43);
}

/*
 * Version 1 as a version-1 decoder reads it: a leaf line of any leaf as its
 * id (a version-1 decoder skips the any_leaf field and would see leaf 0),
 * a report that names its member, a hello that says this node decodes
 * version 2 in a field version 1 skips; and one (boot id, sequence) for
 * both framings, the 32-bit bound of version 2 turning the boot id in
 * version 1 too.
 */
static void test_version1_encoded(void **state)
{
	static struct tita_msg m;
	static struct tita_wire_msg out;
	struct tita_wire_sender tx = sender();
	struct tita_addr leader = v4(10, 0, 0, 9), member = v4(10, 0, 0, 1);
	struct tita_wire_hello h = { .n_ports = 1,
				     .control_interval_ns = 1000,
				     .grant_ttl_ns = 1000 };
	Tita__Peer__PeerMessage *pm;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t used;
	int len;

	(void)state;
	one_leaf_line(&m, TITA_MSG_LEAF_ANSWER, member, member, TITA_LEAF_DOWN, 0, 1000000000ull);
	m.leaf[0].remote_leaf = TITA_LEAF_ANY;
	len = tita_wire_encode_msg_version(&ring, &tx, TITA_WIRE_V1_VERSION, &m, 0, buf,
					   sizeof(buf), &used);
	assert_true(len > TITA_WIRE_V1_HDR_BYTES + TITA_WIRE_V1_MAC_BYTES);
	assert_int_equal(buf[4], TITA_WIRE_V1_VERSION);
	pm = tita__peer__peer_message__unpack(
		NULL, (size_t)len - TITA_WIRE_V1_HDR_BYTES - TITA_WIRE_V1_MAC_BYTES,
		buf + TITA_WIRE_V1_HDR_BYTES);
	assert_non_null(pm);
	assert_false(pm->leaf_answer->lines[0]->any_leaf);
	assert_int_equal(pm->leaf_answer->lines[0]->remote_leaf, TITA_LEAF_ANY);
	tita__peer__peer_message__free_unpacked(pm, NULL);
	assert_int_equal(tita_wire_decode(&ring, NULL, &leader, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.msg.leaf[0].remote_leaf, TITA_LEAF_ANY);

	one_leaf_line(&m, TITA_MSG_LEAF_REPORT, leader, member, TITA_LEAF_UP, 1000000000ull, 0);
	len = tita_wire_encode_msg_version(&ring, &tx, TITA_WIRE_V1_VERSION, &m, 0, buf,
					   sizeof(buf), &used);
	assert_true(len > 0);
	/* Version 1 names the member: decoded without saying the source. */
	assert_int_equal(tita_wire_decode(&ring, NULL, NULL, buf, (size_t)len, &out), TITA_WIRE_OK);
	assert_true(tita_addr_eq(&out.msg.leaf[0].member, &member));

	h.ports[0].addr = member;
	h.ports[0].line_rate_bps = TITA_GBPS;
	len = tita_wire_encode_hello_version(&ring, &tx, TITA_WIRE_V1_VERSION, &h, buf,
					     sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.hdr.version, TITA_WIRE_V1_VERSION);
	assert_int_equal(out.hello.wire_version, TITA_WIRE_VERSION);

	/* The sequence is spent in version 1: the next boot id, in either. */
	tx.seq = TITA_WIRE_SEQ_MAX;
	len = tita_wire_encode_hello_version(&ring, &tx, TITA_WIRE_V1_VERSION, &h, buf,
					     sizeof(buf));
	assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.hdr.boot_id, BOOT_ID);
	assert_int_equal(out.hdr.seq, TITA_WIRE_SEQ_MAX);
	len = tita_wire_encode_hello_version(&ring, &tx, TITA_WIRE_V1_VERSION, &h, buf,
					     sizeof(buf));
	assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.hdr.boot_id, BOOT_ID + 1);
	assert_int_equal(out.hdr.seq, 1);
	len = tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf));
	assert_int_equal(tita_wire_decode(&ring, NULL, &member, buf, (size_t)len, &out),
			 TITA_WIRE_OK);
	assert_int_equal(out.hdr.version, TITA_WIRE_VERSION);
	assert_int_equal(out.hdr.boot_id, BOOT_ID + 1);
	assert_int_equal(out.hdr.seq, 2);
}

/*
 * The leaders per leaf a hello says its sender follows: 2 and 1 round-trip,
 * left out (as a titad from before writes it) it reads as 1; and a decoder
 * from before the field (the Hello of fields 1-4, as a titad of 2026-12-07
 * was built with) skips it as an unknown field and reads the rest alike.
 */
static void test_hello_leaf_leaders(void **state)
{
	static struct tita_wire_msg out;
	struct tita_wire_sender tx = sender();
	struct tita_addr a = v4(10, 0, 0, 1);
	struct tita_wire_hello h = { .n_ports = 1,
				     .control_interval_ns = 1000,
				     .grant_ttl_ns = 2000 };
	/* Hello without leaf_leaders (5): its fields sorted by name, one
	 * range of numbers 1-4. */
	static const unsigned old_by_name[] = { 1, 2, 0, 3 };
	static const ProtobufCIntRange old_ranges[] = { { 1, 0 }, { 0, 4 } };
	ProtobufCMessageDescriptor old = tita__peer__hello__descriptor;
	Tita__Peer__PeerMessage *pm;
	Tita__Peer__Hello *oh;
	uint8_t buf[TITA_WIRE_MAX_BYTES], body[TITA_WIRE_MAX_BYTES];
	size_t body_len;
	int len;

	(void)state;
	h.ports[0].addr = a;
	h.ports[0].line_rate_bps = TITA_GBPS;
	for (uint32_t want = 0; want <= 2; want++) {
		h.leaf_leaders = want;
		len = tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf));
		assert_true(len > 0);
		assert_int_equal(tita_wire_decode(&ring, NULL, &a, buf, (size_t)len, &out),
				 TITA_WIRE_OK);
		assert_int_equal(out.body, TITA_WIRE_BODY_HELLO);
		assert_int_equal(out.hello.leaf_leaders, want ? want : 1);
	}

	/* What a titad from before reads of a hello that says 2. */
	assert_int_equal(tita__peer__hello__descriptor.n_fields, 5);
	assert_int_equal(tita__peer__hello__descriptor.fields[4].id, 5);
	old.n_fields = 4;
	old.fields_sorted_by_name = old_by_name;
	old.n_field_ranges = 1;
	old.field_ranges = old_ranges;
	h.leaf_leaders = 2;
	len = tita_wire_encode_hello(&ring, &tx, &h, buf, sizeof(buf));
	assert_true(len > 0);
	pm = tita__peer__peer_message__unpack(
		NULL, (size_t)len - TITA_WIRE_HDR_BYTES - TITA_WIRE_MAC_BYTES,
		buf + TITA_WIRE_HDR_BYTES);
	assert_non_null(pm);
	assert_int_equal(pm->hello->leaf_leaders, 2);
	body_len = tita__peer__hello__pack(pm->hello, body);
	tita__peer__peer_message__free_unpacked(pm, NULL);
	oh = (Tita__Peer__Hello *)protobuf_c_message_unpack(&old, NULL, body_len, body);
	assert_non_null(oh);
	assert_int_equal(oh->base.n_unknown_fields, 1);
	assert_int_equal(oh->base.unknown_fields[0].tag, 5);
	assert_int_equal(oh->n_ports, 1);
	assert_int_equal(oh->control_interval_ns, 1000);
	assert_int_equal(oh->grant_ttl_ns, 2000);
	assert_int_equal(oh->wire_version, TITA_WIRE_VERSION);
	protobuf_c_message_free_unpacked(&oh->base, NULL);
}

/*
 * Version 1 (a peer not yet upgraded): its own header and tag lengths at
 * every cut, its whole 16-byte tag checked, and one cut to version 2's
 * 8-byte tag refused.
 */
static void test_version1_decoded(void **state)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES], v1[TITA_WIRE_MAX_BYTES];
	size_t len = good_datagram(buf), body_len = len - 30, len1;
	static struct tita_wire_msg out;
	struct tita_wire_replay r;
	struct tita_wire_header hdr;

	len1 = seal_raw_v1(buf + 22, body_len, KEY_ID, key1, BOOT_ID, (1ull << 40) + 5, v1);
	assert_int_equal(len1, len + 12);
	tita_wire_replay_init(&r);
	assert_int_equal(tita_wire_decode(&ring, &r, NULL, v1, len1, &out), TITA_WIRE_OK);
	assert_int_equal(out.hdr.seq, (1ull << 40) + 5);
	assert_int_equal(tita_wire_decode(&ring, &r, NULL, v1, len1, &out), TITA_WIRE_E_REPLAYED);
	for (size_t cut = 18; cut < len1; cut++) {
		enum tita_wire_error want = TITA_WIRE_E_BAD_MAC;

		if (cut < 26)
			want = TITA_WIRE_E_TRUNC_SEQ;
		else if (cut == 26)
			want = TITA_WIRE_E_TRUNC_BEFORE_MAC;
		else if (cut < 42)
			want = TITA_WIRE_E_TRUNC_MAC;
		assert_int_equal(decode_checked(NULL, NULL, v1, cut), want);
		if (cut < 42)
			assert_int_equal(tita_wire_peek_header(v1, cut, &hdr), want);
	}
	/* Every byte of the 16-byte tag counts. */
	for (size_t i = len1 - 16; i < len1; i++) {
		v1[i] ^= 1;
		assert_int_equal(decode_checked(NULL, NULL, v1, len1), TITA_WIRE_E_BAD_MAC);
		v1[i] ^= 1;
	}
	assert_int_equal(decode_checked(NULL, NULL, v1, len1), TITA_WIRE_OK);
}

/*
 * Version 2 leaves the origin's own address out of a demand (its sender), a
 * grant (its receiver) and a report (its member): the decoder takes where
 * the datagram came from. In version 1 an empty address stays a bad one.
 */
static void test_origin_left_out(void **state)
{
	static struct tita_msg m;
	static struct tita_wire_msg out;
	struct tita_wire_sender tx = sender();
	struct tita_addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
	Tita__Peer__DemandEntry e = good_demand_entry();
	uint8_t buf[TITA_WIRE_MAX_BYTES], body[TITA_WIRE_MAX_BYTES];
	uint32_t used;
	size_t body_len;
	int len;

	/* A one-entry demand: the sender's 4 bytes, tag and length are not
	 * on the wire, and the decoder puts the origin back. */
	memset(&m, 0, sizeof(m));
	m.kind = TITA_MSG_DEMAND;
	m.n_entries = 1;
	m.peer = b;
	m.demand[0] = (struct tita_demand_entry){ .sender = a,
						  .receiver = b,
						  .job_id = 7,
						  .weight_milli = TITA_WEIGHT_ONE,
						  .demand_bps = 25000000000ull };
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_true(len > 0);
	/* body: demand tag+len 2, entry tag+len 2, receiver 6, job 2, demand 9 */
	assert_int_equal(len, TITA_WIRE_HDR_BYTES + 21 + TITA_WIRE_MAC_BYTES);
	assert_int_equal(decode_checked(NULL, NULL, buf, (size_t)len), TITA_WIRE_E_NO_ORIGIN);
	assert_int_equal(tita_wire_decode(&ring, NULL, &a, buf, (size_t)len, &out), TITA_WIRE_OK);
	assert_true(tita_addr_eq(&out.msg.demand[0].sender, &a));
	assert_true(tita_addr_eq(&out.msg.peer, &a));
	/* The origin may not be the receiver too. */
	assert_int_equal(tita_wire_decode(&ring, NULL, &b, buf, (size_t)len, &out),
			 TITA_WIRE_E_SELF_PAIR);

	/* A grant: its receiver is the origin. */
	m.kind = TITA_MSG_GRANT;
	m.peer = a;
	m.grant[0] = (struct tita_grant_entry){
		.sender = a, .receiver = b, .job_id = 7, .rate_bps = 25000000000ull, .ttl_ns = 1000
	};
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_true(len > 0);
	assert_int_equal(decode_checked(NULL, NULL, buf, (size_t)len), TITA_WIRE_E_NO_ORIGIN);
	assert_int_equal(tita_wire_decode(&ring, NULL, &b, buf, (size_t)len, &out), TITA_WIRE_OK);
	assert_true(tita_addr_eq(&out.msg.grant[0].receiver, &b));
	assert_true(tita_addr_eq(&out.msg.grant[0].sender, &a));

	/* A report: its member is the origin. */
	one_leaf_line(&m, TITA_MSG_LEAF_REPORT, b, a, TITA_LEAF_UP, 1000000000ull, 0);
	len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);
	assert_true(len > 0);
	assert_int_equal(decode_checked(NULL, NULL, buf, (size_t)len), TITA_WIRE_E_NO_ORIGIN);
	assert_int_equal(tita_wire_decode(&ring, NULL, &a, buf, (size_t)len, &out), TITA_WIRE_OK);
	assert_true(tita_addr_eq(&out.msg.peer, &a));
	assert_true(tita_addr_eq(&out.msg.leaf[0].member, &a));

	/* Version 1 had no such rule: an empty sender is a bad address. */
	e.sender = (ProtobufCBinaryData){ 0, NULL };
	len = (int)seal_demand(&e, 1, 1, buf, sizeof(buf));
	assert_int_equal(tita_wire_decode(&ring, NULL, &a, buf, (size_t)len, &out), TITA_WIRE_OK);
	body_len = (size_t)len - TITA_WIRE_HDR_BYTES - TITA_WIRE_MAC_BYTES;
	memcpy(body, buf + TITA_WIRE_HDR_BYTES, body_len);
	len = (int)seal_raw_v1(body, body_len, KEY_ID, key1, BOOT_ID, 1, buf);
	assert_int_equal(decode_checked(NULL, &a, buf, (size_t)len), TITA_WIRE_E_BAD_ADDR_LEN);
}

/*
 * The 32-bit sequence spent: the sender takes the next boot id and starts at
 * 1, and a receiver's window takes every datagram across the turn (without
 * the turn, the sequence would wrap to 0 under the same boot and be refused
 * as too old).
 */
static void test_seq_turns_boot(void **state)
{
	struct tita_wire_sender tx = { .key_id = KEY_ID,
				       .boot_id = BOOT_ID,
				       .seq = TITA_WIRE_SEQ_MAX - 1 };
	static struct tita_msg m;
	static struct tita_wire_msg out;
	struct tita_wire_replay r;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t used;

	memset(&m, 0, sizeof(m));
	m.kind = TITA_MSG_GRANT;
	m.n_entries = 1;
	m.peer = m.grant[0].sender = v4(10, 0, 0, 1);
	m.grant[0].receiver = v4(10, 0, 0, 2);
	m.grant[0].ttl_ns = 1000;
	tita_wire_replay_init(&r);
	for (int i = 0; i < 4; i++) {
		int len = tita_wire_encode_msg(&ring, &tx, &m, 0, buf, sizeof(buf), &used);

		assert_true(len > 0);
		assert_int_equal(tita_wire_decode(&ring, &r, &m.grant[0].receiver, buf, (size_t)len,
						  &out),
				 TITA_WIRE_OK);
		assert_int_equal(out.hdr.boot_id, i < 2 ? BOOT_ID : BOOT_ID + 1);
		assert_int_equal(out.hdr.seq,
				 i < 2 ? TITA_WIRE_SEQ_MAX - 1 + (uint64_t)i : (uint64_t)i - 1);
	}
	assert_int_equal(tx.boot_id, BOOT_ID + 1);
	assert_int_equal(tx.seq, 3);
}

/*
 * The control protocol has no codec here yet (the daemon serves it), but its
 * generated code is built and linked with this library: a request with the
 * presence idiom (one-member oneofs) survives a round trip.
 */
static void test_control_proto(void **state)
{
	Tita__Control__Request req = TITA__CONTROL__REQUEST__INIT, *back;
	Tita__Control__JobSetRequest set = TITA__CONTROL__JOB_SET_REQUEST__INIT;
	uint8_t buf[256];
	size_t len;

	set.name = "job_42";
	set.weight_present_case = TITA__CONTROL__JOB_SET_REQUEST__WEIGHT_PRESENT_WEIGHT;
	set.weight = 2.0;
	set.max_present_case = TITA__CONTROL__JOB_SET_REQUEST__MAX_PRESENT_MAX_BPS;
	set.max_bps = 0; /* explicitly "no cap", distinct from "unchanged" */
	req.id = 9;
	req.body_case = TITA__CONTROL__REQUEST__BODY_JOB_SET;
	req.job_set = &set;
	len = tita__control__request__get_packed_size(&req);
	assert_true(len <= sizeof(buf));
	assert_int_equal(tita__control__request__pack(&req, buf), len);
	back = tita__control__request__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->id, 9);
	assert_int_equal(back->body_case, TITA__CONTROL__REQUEST__BODY_JOB_SET);
	assert_string_equal(back->job_set->name, "job_42");
	assert_int_equal(back->job_set->weight_present_case,
			 TITA__CONTROL__JOB_SET_REQUEST__WEIGHT_PRESENT_WEIGHT);
	assert_true(back->job_set->weight == 2.0);
	assert_int_equal(back->job_set->min_present_case,
			 TITA__CONTROL__JOB_SET_REQUEST__MIN_PRESENT__NOT_SET);
	assert_int_equal(back->job_set->max_present_case,
			 TITA__CONTROL__JOB_SET_REQUEST__MAX_PRESENT_MAX_BPS);
	assert_int_equal(back->job_set->max_bps, 0);
	tita__control__request__free_unpacked(back, NULL);
}

/* Whatever TTL the controller may be configured with, its grants encode:
 * its parameter table stops where the wire does. */
static void test_ttl_range_matches_controller(void **state)
{
	const struct tita_param *ttl = tita_ctl_param_find("grant_ttl_ns");

	(void)state;
	assert_non_null(ttl);
	assert_true((uint64_t)ttl->max == TITA_WIRE_TTL_MAX_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demand_ipv4),
		cmocka_unit_test(test_demand_ipv6),
		cmocka_unit_test(test_grant_ipv4_ipv6),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_max_entries_split),
		cmocka_unit_test(test_max_entries_one_datagram),
		cmocka_unit_test(test_split_by_local_nic),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bad_magic_version_flags),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_garbage_bodies),
		cmocka_unit_test(test_body_too_complex),
		cmocka_unit_test(test_arena_headroom),
		cmocka_unit_test(test_entry_count),
		cmocka_unit_test(test_demand_values),
		cmocka_unit_test(test_grant_values),
		cmocka_unit_test(test_value_translation),
		cmocka_unit_test(test_addr_consistency),
		cmocka_unit_test(test_hello_values),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_needs_mac),
		cmocka_unit_test(test_replay_api),
		cmocka_unit_test(test_replay_boot_policy),
		cmocka_unit_test(test_replay_resume),
		cmocka_unit_test(test_hello_bound_to_source),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_version1_encoded),
		cmocka_unit_test(test_hello_leaf_leaders),
		cmocka_unit_test(test_version1_decoded),
		cmocka_unit_test(test_seq_turns_boot),
		cmocka_unit_test(test_origin_left_out),
		cmocka_unit_test(test_any_leaf_flag),
		cmocka_unit_test(test_leaf_pairs),
		cmocka_unit_test(test_same_bytes_as_protobuf_c),
		cmocka_unit_test(test_fast_decode_as_protobuf_c),
		cmocka_unit_test(test_control_proto),
		cmocka_unit_test(test_ttl_range_matches_controller),
		cmocka_unit_test(test_fabric_fields),
		cmocka_unit_test(test_leaf_round_trip),
		cmocka_unit_test(test_leaf_values),
		cmocka_unit_test(test_place_values),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
