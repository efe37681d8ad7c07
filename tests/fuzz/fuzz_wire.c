// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the peer wire decoder (proto/wire.c).
 *
 * Random bytes almost never carry a valid MAC, so most of them would stop at
 * the MAC check. The first input byte therefore picks a mode, and in some
 * modes the harness seals the rest with the test key itself, so that the
 * protobuf parser, the range checks and the translation get fuzzed too:
 *
 *   mode & 3 == 0  raw: the rest is a datagram, decoded as it is
 *   mode & 3 == 1  body: the rest is a protobuf body; a valid header and MAC
 *                  are added around it
 *   mode & 3 == 2  sealed: the rest is header + body; a valid MAC is appended
 *                  (with the key the header names, if the ring holds it)
 *   mode & 3 == 3  replay: the rest is 3-byte steps (bit 7: forge the MAC,
 *                  bits 0-3: boot id; then a 16-bit sequence number) decoded
 *                  through one replay window and compared with a model
 *   mode & 4       modes 0-2: the origin must be 10.0.0.1
 *
 * Every accepted datagram must be rejected as replayed the second time
 * through the same window, and must encode again (into as many datagrams
 * as it takes) and decode to the same values. Any disagreement aborts.
 * tests/fuzz/gen-corpus-wire.py writes the seed corpus.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tita/ctl.h"
#include "tita/types.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BOOT_ID 0x1122334455667788ull

static struct tita_wire_keyring ring;

static void setup(void)
{
	static bool done;
	uint8_t key1[TITA_WIRE_KEY_BYTES], key2[TITA_WIRE_KEY_BYTES];

	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	for (int i = 0; i < TITA_WIRE_KEY_BYTES; i++) {
		key1[i] = (uint8_t)i;
		key2[i] = (uint8_t)(0xa5 ^ i);
	}
	tita_wire_keyring_init(&ring);
	if (tita_wire_keyring_add(&ring, 1, key1) || tita_wire_keyring_add(&ring, 2, key2))
		abort();
	done = true;
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* Appends the MAC; its length. */
static size_t seal(uint8_t *buf, size_t signed_len)
{
	struct tita_wire_header hdr;
	const struct tita_wire_key *key = tita_wire_keyring_find(&ring, 1);
	uint8_t tag[TITA_WIRE_V1_MAC_BYTES];
	size_t tag_bytes = TITA_WIRE_MAC_BYTES;

	/* The header's own key when it names one of the ring, and version 1's
	 * whole tag for a version-1 header (version 2 sends a prefix). */
	if (signed_len >= TITA_WIRE_HDR_BYTES &&
	    tita_wire_peek_header(buf, TITA_WIRE_V1_HDR_BYTES + TITA_WIRE_V1_MAC_BYTES, &hdr) ==
		    TITA_WIRE_OK) {
		if (tita_wire_keyring_find(&ring, hdr.key_id))
			key = tita_wire_keyring_find(&ring, hdr.key_id);
		if (hdr.version == TITA_WIRE_V1_VERSION)
			tag_bytes = TITA_WIRE_V1_MAC_BYTES;
	}
	crypto_generichash(tag, sizeof(tag), buf, signed_len, key->bytes, TITA_WIRE_KEY_BYTES);
	memcpy(buf + signed_len, tag, tag_bytes);
	return tag_bytes;
}

/* A version-2 header. */
static void write_header(uint8_t *p, uint32_t key_id, uint64_t boot_id, uint32_t seq)
{
	memcpy(p, "TITA", 4);
	p[4] = TITA_WIRE_VERSION;
	p[5] = 0;
	for (int i = 0; i < 4; i++) {
		p[6 + i] = (uint8_t)(key_id >> (24 - 8 * i));
		p[18 + i] = (uint8_t)(seq >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++)
		p[10 + i] = (uint8_t)(boot_id >> (56 - 8 * i));
}

static bool hello_eq(const struct tita_wire_hello *a, const struct tita_wire_hello *b)
{
	if (a->n_ports != b->n_ports || a->control_interval_ns != b->control_interval_ns ||
	    a->grant_ttl_ns != b->grant_ttl_ns || a->wire_version != b->wire_version ||
	    a->leaf_leaders != b->leaf_leaders)
		return false;
	for (uint32_t i = 0; i < a->n_ports; i++)
		if (!tita_addr_eq(&a->ports[i].addr, &b->ports[i].addr) ||
		    a->ports[i].line_rate_bps != b->ports[i].line_rate_bps ||
		    a->ports[i].place.leaf != b->ports[i].place.leaf ||
		    a->ports[i].place.n_spines != b->ports[i].place.n_spines ||
		    a->ports[i].place.spine_bps != b->ports[i].place.spine_bps)
			return false;
	return true;
}

/* Field by field: the structs have padding, which memcmp would read. */
static bool demand_eq(const struct tita_demand_entry *a, const struct tita_demand_entry *b)
{
	return tita_addr_eq(&a->sender, &b->sender) && tita_addr_eq(&a->receiver, &b->receiver) &&
	       a->job_id == b->job_id && a->weight_milli == b->weight_milli &&
	       a->demand_bps == b->demand_bps && a->min_bps == b->min_bps &&
	       a->max_bps == b->max_bps && a->has_spine == b->has_spine &&
	       (!a->has_spine || a->spine == b->spine) && a->room_mask == b->room_mask &&
	       a->seek == b->seek;
}

static bool grant_eq(const struct tita_grant_entry *a, const struct tita_grant_entry *b)
{
	return tita_addr_eq(&a->sender, &b->sender) && tita_addr_eq(&a->receiver, &b->receiver) &&
	       a->job_id == b->job_id && a->ce_ppm == b->ce_ppm && a->rate_bps == b->rate_bps &&
	       a->ttl_ns == b->ttl_ns && a->room_mask == b->room_mask && a->move == b->move &&
	       a->swap == b->swap && a->has_spine == b->has_spine &&
	       (!a->has_spine || a->spine == b->spine) && a->share_bps == b->share_bps;
}

static bool leaf_eq(const struct tita_leaf_entry *a, const struct tita_leaf_entry *b)
{
	return tita_addr_eq(&a->member, &b->member) && a->dir == b->dir && a->spine == b->spine &&
	       a->remote_leaf == b->remote_leaf && a->job_id == b->job_id &&
	       a->weight_milli == b->weight_milli && a->demand_bps == b->demand_bps &&
	       a->move_bps == b->move_bps && a->move_to == b->move_to &&
	       a->room_mask == b->room_mask && a->cap_bps == b->cap_bps && a->swap == b->swap;
}

static bool entry_eq(const struct tita_msg *a, uint32_t i, const struct tita_msg *b, uint32_t j)
{
	switch (a->kind) {
	case TITA_MSG_DEMAND:
		return demand_eq(&a->demand[i], &b->demand[j]);
	case TITA_MSG_GRANT:
		return grant_eq(&a->grant[i], &b->grant[j]);
	default:
		return leaf_eq(&a->leaf[i], &b->leaf[j]);
	}
}

/* Encode what was accepted, in the version it came in (the one a peer
 * not yet upgraded is written), decode it again, and insist on the same
 * values. */
static void check_reencode(const struct tita_wire_msg *in)
{
	uint8_t version = in->hdr.version;
	static struct tita_wire_msg out;
	static struct tita_msg m;
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = in->hdr.boot_id, .seq = 0 };
	static const uint8_t ip_leader[4] = { 10, 9, 9, 9 };
	const struct tita_addr leader = tita_addr_from_ipv4(ip_leader);
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t start = 0;
	int len;

	if (in->body == TITA_WIRE_BODY_HELLO) {
		len = tita_wire_encode_hello_version(&ring, &tx, version, &in->hello, buf,
						     sizeof(buf));
		check(len > 0 && len <= TITA_WIRE_MAX_BYTES);
		check(tita_wire_decode(&ring, NULL, NULL, buf, (size_t)len, &out) == TITA_WIRE_OK);
		check(out.body == TITA_WIRE_BODY_HELLO && hello_eq(&out.hello, &in->hello));
		return;
	}

	check(in->body == TITA_WIRE_BODY_MSG);
	m = in->msg;
	/* Decoded, peer is the origin; to encode, it is the addressee (for a
	 * report, a leader: any other address). */
	switch (m.kind) {
	case TITA_MSG_DEMAND:
		m.peer = m.demand[0].receiver;
		break;
	case TITA_MSG_GRANT:
		m.peer = m.grant[0].sender;
		break;
	case TITA_MSG_LEAF_REPORT:
		m.peer = m.leaf[0].member;
		m.peer.bytes[15] ^= 1;
		break;
	default:
		m.peer = m.leaf[0].member;
		break;
	}
	while (start < m.n_entries) {
		uint32_t used = 0;
		const struct tita_addr *origin = m.kind == TITA_MSG_LEAF_ANSWER ? &leader :
										  &in->msg.peer;

		len = tita_wire_encode_msg_version(&ring, &tx, version, &m, start, buf, sizeof(buf),
						   &used);
		check(len > 0 && len <= TITA_WIRE_MAX_BYTES && used > 0);
		check(buf[4] == version);
		/* Version 1 names every origin, as a version-1 decoder needs. */
		check(version != TITA_WIRE_V1_VERSION ||
		      tita_wire_decode(&ring, NULL, NULL, buf, (size_t)len, &out) == TITA_WIRE_OK);
		check(tita_wire_decode(&ring, NULL, origin, buf, (size_t)len, &out) ==
		      TITA_WIRE_OK);
		check(out.body == TITA_WIRE_BODY_MSG && out.msg.kind == m.kind &&
		      out.msg.n_entries == used && tita_addr_eq(&out.msg.peer, origin));
		if (m.kind == TITA_MSG_LEAF_REPORT || m.kind == TITA_MSG_LEAF_ANSWER)
			check(out.msg.leaf_id == m.leaf_id && out.msg.ttl_ns == m.ttl_ns &&
			      out.msg.up_room_mask == m.up_room_mask &&
			      out.msg.down_room_mask == m.down_room_mask);
		for (uint32_t k = 0; k < used; k++)
			check(entry_eq(&out.msg, k, &m, start + k));
		start += used;
	}
}

/* The decoder's own reading of demands and grants (its fast path) and
 * protobuf-c's come to the same verdict and the same message. */
static void check_same_as_protobuf_c(const uint8_t *buf, size_t len, const struct tita_addr *from,
				     enum tita_wire_error err, const struct tita_wire_msg *fast)
{
	static struct tita_wire_msg slow;

	check(tita_wire_decode_protobuf_c(&ring, NULL, from, buf, len, &slow) == err);
	if (err != TITA_WIRE_OK)
		return;
	check(slow.body == fast->body && slow.hdr.seq == fast->hdr.seq);
	if (fast->body == TITA_WIRE_BODY_HELLO) {
		check(hello_eq(&slow.hello, &fast->hello));
		return;
	}
	check(slow.msg.kind == fast->msg.kind && slow.msg.n_entries == fast->msg.n_entries &&
	      tita_addr_eq(&slow.msg.peer, &fast->msg.peer));
	for (uint32_t i = 0; i < fast->msg.n_entries; i++)
		check(entry_eq(&slow.msg, i, &fast->msg, i));
}

static void decode_one(const uint8_t *buf, size_t len, bool check_from)
{
	static const uint8_t ip_a[4] = { 10, 0, 0, 1 };
	static struct tita_wire_msg out;
	struct tita_wire_replay replay;
	struct tita_addr from = tita_addr_from_ipv4(ip_a);
	enum tita_wire_error err;

	tita_wire_replay_init(&replay);
	err = tita_wire_decode(&ring, &replay, check_from ? &from : NULL, buf, len, &out);
	check(err < TITA_WIRE_E_COUNT && strcmp(tita_wire_error_name(err), "unknown") != 0);
	check_same_as_protobuf_c(buf, len, check_from ? &from : NULL, err, &out);
	if (err != TITA_WIRE_OK) {
		check(!replay.primed);
		return;
	}
	check(len <= TITA_WIRE_MAX_BYTES);
	check(replay.primed && replay.boot_id == out.hdr.boot_id && replay.top_seq == out.hdr.seq);
	check(tita_wire_decode(&ring, &replay, check_from ? &from : NULL, buf, len, &out) ==
	      TITA_WIRE_E_REPLAYED);
	check_reencode(&out);
}

/* The replay window against the obvious model: a set of seen numbers. */
struct model {
	bool primed;
	uint64_t boot_id, top;
	uint8_t seen[65536 / 8];
};

static enum tita_wire_error model_step(struct model *m, uint64_t boot_id, uint64_t seq)
{
	if (!m->primed || boot_id > m->boot_id) {
		memset(m->seen, 0, sizeof(m->seen));
		m->primed = true;
		m->boot_id = boot_id;
		m->top = seq;
	} else if (boot_id < m->boot_id) {
		return TITA_WIRE_E_STALE_BOOT;
	} else if (seq > m->top) {
		m->top = seq;
	} else if (m->top - seq >= TITA_WIRE_REPLAY_WINDOW) {
		return TITA_WIRE_E_TOO_OLD;
	} else if (m->seen[seq / 8] & (1u << (seq % 8))) {
		return TITA_WIRE_E_REPLAYED;
	}
	m->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	return TITA_WIRE_OK;
}

static void replay_steps(const uint8_t *data, size_t size)
{
	static const uint8_t ip_a[4] = { 10, 0, 0, 1 }, ip_b[4] = { 10, 0, 0, 2 };
	static struct tita_wire_msg out;
	static struct model model;
	struct tita_wire_replay replay;
	struct tita_msg *m = malloc(sizeof(*m));

	check(m != NULL);
	memset(m, 0, sizeof(*m));
	m->kind = TITA_MSG_GRANT;
	m->n_entries = 1;
	m->grant[0].sender = m->peer = tita_addr_from_ipv4(ip_a);
	m->grant[0].receiver = tita_addr_from_ipv4(ip_b);
	m->grant[0].ttl_ns = 1000;
	tita_wire_replay_init(&replay);
	memset(&model, 0, sizeof(model));

	for (size_t i = 0; i + 3 <= size; i += 3) {
		bool forge = data[i] & 0x80;
		uint64_t boot_id = data[i] & 0x0f, seq = (uint64_t)data[i + 1] << 8 | data[i + 2];
		struct tita_wire_sender tx = { .key_id = 1, .boot_id = boot_id, .seq = seq };
		struct tita_wire_replay before = replay;
		uint8_t buf[TITA_WIRE_MAX_BYTES];
		enum tita_wire_error err;
		uint32_t used;
		int len;

		m->grant[0].job_id = (uint32_t)i;
		len = tita_wire_encode_msg(&ring, &tx, m, 0, buf, sizeof(buf), &used);
		check(len > 0 && used == 1);
		if (forge)
			buf[len - 1] ^= 1;
		err = tita_wire_decode(&ring, &replay, &m->grant[0].receiver, buf, (size_t)len,
				       &out);
		if (forge) {
			check(err == TITA_WIRE_E_BAD_MAC);
			check(!memcmp(&before, &replay, sizeof(replay)));
			continue;
		}
		check(err == model_step(&model, boot_id, seq));
		if (err)
			check(!memcmp(&before, &replay, sizeof(replay)));
		else
			check(out.msg.grant[0].job_id == (uint32_t)i);
	}
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[TITA_WIRE_MAX_BYTES + 64];
	uint8_t mode;
	size_t len;

	setup();
	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;

	switch (mode & 3) {
	case 0: {
		/* An exact-size copy, so that any read past the end is seen. */
		uint8_t *copy = malloc(size ? size : 1);

		check(copy != NULL);
		memcpy(copy, data, size);
		decode_one(copy, size, mode & 4);
		free(copy);
		break;
	}
	case 1:
		if (size > TITA_WIRE_MAX_BODY_BYTES + 8)
			return 0;
		write_header(buf, 1, FUZZ_BOOT_ID, 7);
		memcpy(buf + TITA_WIRE_HDR_BYTES, data, size);
		len = TITA_WIRE_HDR_BYTES + size;
		len += seal(buf, len);
		decode_one(buf, len, mode & 4);
		break;
	case 2:
		if (size > TITA_WIRE_MAX_BYTES - TITA_WIRE_V1_MAC_BYTES + 8)
			return 0;
		memcpy(buf, data, size);
		len = size + seal(buf, size);
		decode_one(buf, len, mode & 4);
		break;
	default:
		replay_steps(data, size);
		break;
	}
	return 0;
}
