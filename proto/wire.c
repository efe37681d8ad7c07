// SPDX-License-Identifier: MIT
/*
 * The peer wire codec (see wire.h): framing, MAC, replay window, size limit,
 * and the translation between tita.peer protobuf messages and lib/ structs.
 *
 * The decoder trusts nothing before the MAC: only the length and the header
 * fields are looked at, so a forged datagram costs one BLAKE2b over at most
 * 1400 bytes and never reaches protobuf-c. Values are then checked in a pass
 * over the parsed protobuf before the caller's structs are written, so a
 * rejected datagram leaves them as they were.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>
#include <sodium.h>

#include "peer.pb-c.h"
#include "wire.h"

_Static_assert(TITA_WIRE_V1_MAC_BYTES >= crypto_generichash_BYTES_MIN &&
		       TITA_WIRE_V1_MAC_BYTES <= crypto_generichash_BYTES_MAX,
	       "BLAKE2b tag size");
_Static_assert(TITA_WIRE_MAC_BYTES <= TITA_WIRE_V1_MAC_BYTES, "v2's tag is a prefix of v1's");
_Static_assert(sizeof(crypto_generichash_state) == TITA_WIRE_MAC_STATE_BYTES,
	       "the keyring holds a generichash state");
_Static_assert(TITA_WIRE_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
		       TITA_WIRE_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
	       "BLAKE2b key size");
/* A rate travels as a double: every valid one must be exact in it. */
_Static_assert(TITA_RATE_MAX_BPS < (1ull << 53), "rates exact as doubles");

#define CE_PPM_MAX 1000000u

static const char *const error_names[TITA_WIRE_E_COUNT] = {
	[TITA_WIRE_OK] = "ok",
	[TITA_WIRE_E_OVERSIZED] = "oversized",
	[TITA_WIRE_E_TRUNC_MAGIC] = "truncated_magic",
	[TITA_WIRE_E_BAD_MAGIC] = "bad_magic",
	[TITA_WIRE_E_TRUNC_VERSION] = "truncated_version",
	[TITA_WIRE_E_BAD_VERSION] = "unknown_version",
	[TITA_WIRE_E_TRUNC_FLAGS] = "truncated_flags",
	[TITA_WIRE_E_BAD_FLAGS] = "bad_flags",
	[TITA_WIRE_E_TRUNC_KEY_ID] = "truncated_key_id",
	[TITA_WIRE_E_TRUNC_BOOT_ID] = "truncated_boot_id",
	[TITA_WIRE_E_TRUNC_SEQ] = "truncated_seq",
	[TITA_WIRE_E_TRUNC_BEFORE_MAC] = "truncated_before_mac",
	[TITA_WIRE_E_TRUNC_MAC] = "truncated_mac",
	[TITA_WIRE_E_UNKNOWN_KEY] = "unknown_key_id",
	[TITA_WIRE_E_BAD_MAC] = "bad_mac",
	[TITA_WIRE_E_STALE_BOOT] = "stale_boot_id",
	[TITA_WIRE_E_BOOT_AHEAD] = "boot_id_ahead",
	[TITA_WIRE_E_REPLAYED] = "replayed_seq",
	[TITA_WIRE_E_TOO_OLD] = "seq_too_old",
	[TITA_WIRE_E_MALFORMED] = "malformed_protobuf",
	[TITA_WIRE_E_BODY_TOO_COMPLEX] = "body_too_complex",
	[TITA_WIRE_E_EMPTY_BODY] = "empty_body",
	[TITA_WIRE_E_UNKNOWN_BODY] = "unknown_body",
	[TITA_WIRE_E_NO_ENTRIES] = "no_entries",
	[TITA_WIRE_E_TOO_MANY_ENTRIES] = "too_many_entries",
	[TITA_WIRE_E_BAD_ADDR_LEN] = "bad_addr_len",
	[TITA_WIRE_E_ADDR_MISMATCH] = "addr_mismatch",
	[TITA_WIRE_E_SELF_PAIR] = "self_pair",
	[TITA_WIRE_E_PEER_MISMATCH] = "peer_mismatch",
	[TITA_WIRE_E_NO_ORIGIN] = "origin_unknown",
	[TITA_WIRE_E_RATE_NEGATIVE] = "rate_negative",
	[TITA_WIRE_E_RATE_NOT_FINITE] = "rate_not_finite",
	[TITA_WIRE_E_RATE_TOO_HIGH] = "rate_too_high",
	[TITA_WIRE_E_MIN_ABOVE_MAX] = "min_above_max",
	[TITA_WIRE_E_WEIGHT_NOT_FINITE] = "weight_not_finite",
	[TITA_WIRE_E_WEIGHT_RANGE] = "weight_out_of_range",
	[TITA_WIRE_E_TTL_ZERO] = "ttl_zero",
	[TITA_WIRE_E_TTL_TOO_LONG] = "ttl_too_long",
	[TITA_WIRE_E_CE_PPM_RANGE] = "ce_ppm_out_of_range",
	[TITA_WIRE_E_UNSCHED_RANGE] = "unsched_out_of_range",
	[TITA_WIRE_E_HOLD_RANGE] = "hold_out_of_range",
	[TITA_WIRE_E_NO_PORTS] = "no_ports",
	[TITA_WIRE_E_TOO_MANY_PORTS] = "too_many_ports",
	[TITA_WIRE_E_LINE_RATE_ZERO] = "line_rate_zero",
	[TITA_WIRE_E_INTERVAL_RANGE] = "interval_out_of_range",
	[TITA_WIRE_E_PLACE_RANGE] = "place_out_of_range",
	[TITA_WIRE_E_SPINE_RANGE] = "spine_out_of_range",
	[TITA_WIRE_E_DIR_RANGE] = "dir_out_of_range",
	[TITA_WIRE_E_LEAF_RANGE] = "leaf_out_of_range",
	[TITA_WIRE_E_PAIRS_RANGE] = "leaf_pairs_out_of_range",
};

const char *tita_wire_error_name(enum tita_wire_error err)
{
	if ((unsigned)err >= TITA_WIRE_E_COUNT || !error_names[err])
		return "unknown";
	return error_names[err];
}

/* --- keyring --- */

void tita_wire_keyring_init(struct tita_wire_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
}

const struct tita_wire_key *tita_wire_keyring_find(const struct tita_wire_keyring *kr, uint32_t id)
{
	for (uint32_t i = 0; i < kr->n_keys && i < TITA_WIRE_KEYRING_MAX; i++)
		if (kr->keys[i].id == id)
			return &kr->keys[i];
	return NULL;
}

int tita_wire_keyring_add(struct tita_wire_keyring *kr, uint32_t id,
			  const uint8_t bytes[TITA_WIRE_KEY_BYTES])
{
	crypto_generichash_state st;
	struct tita_wire_key *k;

	if (tita_wire_keyring_find(kr, id))
		return -EEXIST;
	if (kr->n_keys >= TITA_WIRE_KEYRING_MAX)
		return -ENOSPC;
	k = &kr->keys[kr->n_keys++];
	k->id = id;
	memcpy(k->bytes, bytes, TITA_WIRE_KEY_BYTES);
	crypto_generichash_init(&st, k->bytes, TITA_WIRE_KEY_BYTES, TITA_WIRE_V1_MAC_BYTES);
	memcpy(k->mac_state, &st, sizeof(st));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

int tita_wire_keyring_remove(struct tita_wire_keyring *kr, uint32_t id)
{
	const struct tita_wire_key *found = tita_wire_keyring_find(kr, id);
	uint32_t i;

	if (!found)
		return -ENOENT;
	i = (uint32_t)(found - kr->keys);
	kr->keys[i] = kr->keys[kr->n_keys - 1];
	sodium_memzero(&kr->keys[kr->n_keys - 1], sizeof(kr->keys[0]));
	kr->n_keys--;
	return 0;
}

void tita_wire_keyring_clear(struct tita_wire_keyring *kr)
{
	sodium_memzero(kr, sizeof(*kr));
}

/* --- replay window --- */

void tita_wire_replay_init(struct tita_wire_replay *r)
{
	memset(r, 0, sizeof(*r));
}

void tita_wire_replay_resume(struct tita_wire_replay *r, uint64_t boot_id, uint64_t top_seq)
{
	tita_wire_replay_init(r);
	r->primed = true;
	r->boot_id = boot_id;
	r->top_seq = top_seq;
	memset(r->bitmap, 0xff, sizeof(r->bitmap));
}

/* The list's entry for a boot held before, or -1. */
static int prev_index(const struct tita_wire_replay *r, uint64_t boot_id)
{
	for (int i = 0; i < TITA_WIRE_REPLAY_PREV_BOOTS; i++)
		if (r->prev[i].boot_id == boot_id && boot_id)
			return i;
	return -1;
}

/* Another boot than the current one may take the window: a newer one, or
 * an older one under restart_ok; and a boot held before only past what was
 * accepted under it, never at or below. */
static enum tita_wire_error other_boot(const struct tita_wire_replay *r, uint64_t boot_id,
				       uint64_t seq)
{
	int i = prev_index(r, boot_id);

	if (boot_id < r->boot_id && !r->restart_ok)
		return TITA_WIRE_E_STALE_BOOT;
	if (i >= 0 && seq <= r->prev[i].top_seq)
		return boot_id < r->boot_id ? TITA_WIRE_E_STALE_BOOT : TITA_WIRE_E_REPLAYED;
	return TITA_WIRE_OK;
}

/*
 * The bitmap is a ring of 64-bit words indexed by seq / 64: moving the top
 * forward clears only the words it enters, so an update costs at most
 * TITA_WIRE_REPLAY_WORDS stores however far the sequence jumps. One word is
 * always the partly filled current one, hence the window of WORDS - 1 words.
 */
static uint64_t *replay_word(struct tita_wire_replay *r, uint64_t seq)
{
	return &r->bitmap[(seq / 64) % TITA_WIRE_REPLAY_WORDS];
}

enum tita_wire_error tita_wire_replay_check(const struct tita_wire_replay *r, uint64_t boot_id,
					    uint64_t seq)
{
	if (r->boot_id_max && boot_id > r->boot_id_max)
		return TITA_WIRE_E_BOOT_AHEAD;
	if (!r->primed)
		return TITA_WIRE_OK;
	if (boot_id != r->boot_id)
		return other_boot(r, boot_id, seq);
	if (seq > r->top_seq)
		return TITA_WIRE_OK;
	if (r->top_seq - seq >= TITA_WIRE_REPLAY_WINDOW)
		return TITA_WIRE_E_TOO_OLD;
	if (r->bitmap[(seq / 64) % TITA_WIRE_REPLAY_WORDS] & (1ull << (seq % 64)))
		return TITA_WIRE_E_REPLAYED;
	return TITA_WIRE_OK;
}

void tita_wire_replay_update(struct tita_wire_replay *r, uint64_t boot_id, uint64_t seq)
{
	if (r->primed && boot_id != r->boot_id && other_boot(r, boot_id, seq) != TITA_WIRE_OK)
		return;
	if (!r->primed || boot_id != r->boot_id) {
		int i = r->primed ? prev_index(r, boot_id) : -1;
		uint64_t held_top = i >= 0 ? r->prev[i].top_seq : 0;

		if (r->primed) {
			/* The boot left goes first in the list; the one taken
			 * (again) leaves it. */
			int n = i >= 0 ? i : TITA_WIRE_REPLAY_PREV_BOOTS - 1;

			memmove(&r->prev[1], &r->prev[0], (size_t)n * sizeof(r->prev[0]));
			r->prev[0].boot_id = r->boot_id;
			r->prev[0].top_seq = r->top_seq;
		}
		r->primed = true;
		r->boot_id = boot_id;
		if (i >= 0) {
			/* Back to a boot held before: everything up to what it
			 * reached then counts as seen. */
			r->top_seq = held_top;
			memset(r->bitmap, 0xff, sizeof(r->bitmap));
		} else {
			memset(r->bitmap, 0, sizeof(r->bitmap));
			r->top_seq = seq;
			*replay_word(r, seq) |= 1ull << (seq % 64);
			return;
		}
	}
	if (seq > r->top_seq) {
		uint64_t from = r->top_seq / 64, to = seq / 64;
		uint64_t n = tita_min_u64(to - from, TITA_WIRE_REPLAY_WORDS);

		for (uint64_t i = 1; i <= n; i++)
			*replay_word(r, (from + i) * 64) = 0;
		r->top_seq = seq;
	} else if (r->top_seq - seq >= TITA_WIRE_REPLAY_WINDOW) {
		return;
	}
	*replay_word(r, seq) |= 1ull << (seq % 64);
}

/* --- header and MAC --- */

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t load_be64(const uint8_t *p)
{
	return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 4,
	OFF_FLAGS = 5,
	OFF_KEY_ID = 6,
	OFF_BOOT_ID = 10,
	OFF_SEQ = 18,
};
_Static_assert(OFF_SEQ + 4 == TITA_WIRE_HDR_BYTES, "header layout");
_Static_assert(OFF_SEQ + 8 == TITA_WIRE_V1_HDR_BYTES, "version 1 header layout");

/* A known version's header and MAC lengths. */
static size_t hdr_bytes_of(uint8_t version)
{
	return version == TITA_WIRE_V1_VERSION ? TITA_WIRE_V1_HDR_BYTES : TITA_WIRE_HDR_BYTES;
}

static size_t mac_bytes_of(uint8_t version)
{
	return version == TITA_WIRE_V1_VERSION ? TITA_WIRE_V1_MAC_BYTES : TITA_WIRE_MAC_BYTES;
}

/*
 * Each field is checked as soon as it is complete, so a short datagram is
 * reported as truncated at the field it ends in, and one that is not ours is
 * reported as such however short it is.
 */
enum tita_wire_error tita_wire_peek_header(const void *buf, size_t len,
					   struct tita_wire_header *ret_hdr)
{
	const uint8_t *p = buf;
	size_t hdr_bytes, mac_bytes;

	if (len > TITA_WIRE_MAX_BYTES)
		return TITA_WIRE_E_OVERSIZED;
	if (len < OFF_VERSION)
		return TITA_WIRE_E_TRUNC_MAGIC;
	if (load_be32(p + OFF_MAGIC) != TITA_WIRE_MAGIC)
		return TITA_WIRE_E_BAD_MAGIC;
	if (len < OFF_FLAGS)
		return TITA_WIRE_E_TRUNC_VERSION;
	if (p[OFF_VERSION] != TITA_WIRE_VERSION && p[OFF_VERSION] != TITA_WIRE_V1_VERSION)
		return TITA_WIRE_E_BAD_VERSION;
	hdr_bytes = hdr_bytes_of(p[OFF_VERSION]);
	mac_bytes = mac_bytes_of(p[OFF_VERSION]);
	if (len < OFF_KEY_ID)
		return TITA_WIRE_E_TRUNC_FLAGS;
	if (p[OFF_FLAGS] != 0)
		return TITA_WIRE_E_BAD_FLAGS;
	if (len < OFF_BOOT_ID)
		return TITA_WIRE_E_TRUNC_KEY_ID;
	if (len < OFF_SEQ)
		return TITA_WIRE_E_TRUNC_BOOT_ID;
	if (len < hdr_bytes)
		return TITA_WIRE_E_TRUNC_SEQ;
	if (len == hdr_bytes)
		return TITA_WIRE_E_TRUNC_BEFORE_MAC;
	if (len < hdr_bytes + mac_bytes)
		return TITA_WIRE_E_TRUNC_MAC;

	ret_hdr->version = p[OFF_VERSION];
	ret_hdr->flags = p[OFF_FLAGS];
	ret_hdr->key_id = load_be32(p + OFF_KEY_ID);
	ret_hdr->boot_id = load_be64(p + OFF_BOOT_ID);
	ret_hdr->seq = hdr_bytes == TITA_WIRE_V1_HDR_BYTES ? load_be64(p + OFF_SEQ) :
							     load_be32(p + OFF_SEQ);
	return TITA_WIRE_OK;
}

static void write_header(uint8_t *p, const struct tita_wire_sender *tx, uint8_t version)
{
	store_be32(p + OFF_MAGIC, TITA_WIRE_MAGIC);
	p[OFF_VERSION] = version;
	p[OFF_FLAGS] = 0;
	store_be32(p + OFF_KEY_ID, tx->key_id);
	store_be64(p + OFF_BOOT_ID, tx->boot_id);
	if (version == TITA_WIRE_V1_VERSION)
		store_be64(p + OFF_SEQ, tx->seq);
	else
		store_be32(p + OFF_SEQ, (uint32_t)tx->seq);
}

/*
 * Keyed BLAKE2b-128: no nonce to get wrong (unlike Poly1305 or GMAC), and
 * faster than HMAC-SHA-256 in software, where it costs about one
 * compression per 128 bytes. Version 2 sends its first 8 bytes: a forger
 * who cannot see the key succeeds with one guess in 2^64, and each guess
 * costs a datagram the receiver counts as bad_mac.
 */
static void compute_mac(const struct tita_wire_key *key, const uint8_t *data, size_t len,
			uint8_t mac[TITA_WIRE_V1_MAC_BYTES])
{
	crypto_generichash_state st;

	memcpy(&st, key->mac_state, sizeof(st));
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, mac, TITA_WIRE_V1_MAC_BYTES);
}

/* --- value checks, shared by the encoder and the decoder --- */

static enum tita_wire_error check_rate(double rate_bps)
{
	if (isnan(rate_bps) || isinf(rate_bps))
		return TITA_WIRE_E_RATE_NOT_FINITE;
	if (rate_bps < 0)
		return TITA_WIRE_E_RATE_NEGATIVE;
	if (rate_bps > (double)TITA_RATE_MAX_BPS)
		return TITA_WIRE_E_RATE_TOO_HIGH;
	return TITA_WIRE_OK;
}

/* A checked rate; fractions of a bit per second are dropped. */
static uint64_t rate_from_wire(double rate_bps)
{
	return (uint64_t)rate_bps;
}

/* Thousandths, rounded to nearest; 0 when not finite or out of range. */
static uint32_t weight_from_wire(double weight)
{
	double milli = weight * TITA_WEIGHT_ONE + 0.5;

	if (!(milli >= 1.0 && milli < TITA_WEIGHT_MAX + 1.0))
		return 0;
	return (uint32_t)milli;
}

static enum tita_wire_error check_weight(double weight)
{
	if (isnan(weight) || isinf(weight))
		return TITA_WIRE_E_WEIGHT_NOT_FINITE;
	if (weight_from_wire(weight) == 0)
		return TITA_WIRE_E_WEIGHT_RANGE;
	return TITA_WIRE_OK;
}

static enum tita_wire_error check_ttl(uint64_t ttl_ns)
{
	if (ttl_ns == 0)
		return TITA_WIRE_E_TTL_ZERO;
	if (ttl_ns > TITA_WIRE_TTL_MAX_NS)
		return TITA_WIRE_E_TTL_TOO_LONG;
	return TITA_WIRE_OK;
}

static bool addr_from_wire(const ProtobufCBinaryData *b, struct tita_addr *ret_addr)
{
	if (b->len == 4) {
		*ret_addr = tita_addr_from_ipv4(b->data);
		return true;
	}
	if (b->len == 16) {
		memcpy(ret_addr->bytes, b->data, 16);
		return true;
	}
	return false;
}

/* IPv4 travels as its 4 bytes, not in the 16-byte mapped form. */
static ProtobufCBinaryData addr_to_wire(const struct tita_addr *a)
{
	/* protobuf-c's bytes are not const, but packing only reads them. */
	uint8_t *bytes = (uint8_t *)a->bytes;

	if (tita_addr_is_ipv4(a))
		return (ProtobufCBinaryData){ .len = 4, .data = bytes + 12 };
	return (ProtobufCBinaryData){ .len = 16, .data = bytes };
}

/*
 * The same rules as the decoder's, on lib/ values, so that the encoder never
 * sends what a peer would drop.
 */
static bool demand_entry_valid(const struct tita_demand_entry *e)
{
	if (e->demand_bps > TITA_RATE_MAX_BPS || e->min_bps > TITA_RATE_MAX_BPS ||
	    e->max_bps > TITA_RATE_MAX_BPS)
		return false;
	if (e->max_bps && e->min_bps > e->max_bps)
		return false;
	if (e->has_spine && e->spine >= TITA_SPINES_MAX)
		return false;
	if (e->has_path_spine && e->path_spine >= TITA_SPINES_MAX)
		return false;
	if (e->unsched_bytes > TITA_UNSCHED_MAX_BYTES)
		return false;
	return e->weight_milli >= 1 && e->weight_milli <= TITA_WEIGHT_MAX;
}

static bool leaf_id_valid(uint32_t leaf)
{
	return leaf != TITA_LEAF_NONE && leaf != TITA_LEAF_ANY;
}

static bool leaf_line_valid(const struct tita_leaf_entry *e)
{
	return (e->dir == TITA_LEAF_UP || e->dir == TITA_LEAF_DOWN) && e->spine < TITA_SPINES_MAX &&
	       e->remote_leaf != TITA_LEAF_NONE && e->weight_milli >= 1 &&
	       e->weight_milli <= TITA_WEIGHT_MAX && e->demand_bps <= TITA_RATE_MAX_BPS &&
	       e->move_bps <= TITA_RATE_MAX_BPS && e->cap_bps <= TITA_RATE_MAX_BPS &&
	       e->move_cap_bps <= TITA_RATE_MAX_BPS &&
	       (e->move_to == TITA_SPINE_NONE || e->move_to < TITA_SPINES_MAX);
}

static bool grant_entry_valid(const struct tita_grant_entry *e)
{
	return e->rate_bps <= TITA_RATE_MAX_BPS && check_ttl(e->ttl_ns) == TITA_WIRE_OK &&
	       e->ce_ppm <= CE_PPM_MAX && (!e->has_spine || e->spine < TITA_SPINES_MAX) &&
	       e->share_bps <= TITA_RATE_MAX_BPS &&
	       (!e->has_unsched_limit || e->unsched_limit_bytes <= TITA_UNSCHED_MAX_BYTES) &&
	       e->hold_ns <= TITA_WIRE_TTL_MAX_NS;
}

/* --- encoder --- */

static size_t varint_bytes(size_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A length-delimited field with a one-byte tag (field numbers below 16). */
static size_t field_bytes(size_t len)
{
	return 1 + varint_bytes(len) + len;
}

/*
 * Header, then the body (body_bytes long, already written or packed by
 * seal()), then the MAC over both; takes a sequence number.
 */
static int seal_body(const struct tita_wire_key *key, struct tita_wire_sender *tx, uint8_t version,
		     size_t body_bytes, uint8_t *buf)
{
	size_t len = hdr_bytes_of(version) + body_bytes;
	uint8_t mac[TITA_WIRE_V1_MAC_BYTES];

	/*
	 * One (boot id, sequence) for both framings, so that a receiver's
	 * window sees it grow whichever one a datagram is in: the 32-bit
	 * sequence of version 2 bounds it in version 1 too, and spent, a
	 * newer boot id starts it again.
	 */
	if (tx->seq > TITA_WIRE_SEQ_MAX) {
		tx->boot_id++;
		tx->seq = 1;
	}
	write_header(buf, tx, version);
	compute_mac(key, buf, len, mac);
	memcpy(buf + len, mac, mac_bytes_of(version));
	tx->seq++;
	return (int)(len + mac_bytes_of(version));
}

static int seal(const struct tita_wire_key *key, struct tita_wire_sender *tx, uint8_t version,
		const Tita__Peer__PeerMessage *pm, size_t body_bytes, uint8_t *buf)
{
	tita__peer__peer_message__pack(pm, buf + hdr_bytes_of(version));
	return seal_body(key, tx, version, body_bytes, buf);
}

static size_t body_budget(size_t size, uint8_t version)
{
	size_t max = size < TITA_WIRE_MAX_BYTES ? size : TITA_WIRE_MAX_BYTES;
	size_t framing = hdr_bytes_of(version) + mac_bytes_of(version);

	if (max < framing)
		return 0;
	return max - framing;
}

static void entry_addrs(const struct tita_msg *m, uint32_t i, const struct tita_addr **ret_sender,
			const struct tita_addr **ret_receiver)
{
	if (m->kind == TITA_MSG_DEMAND) {
		*ret_sender = &m->demand[i].sender;
		*ret_receiver = &m->demand[i].receiver;
	} else {
		*ret_sender = &m->grant[i].sender;
		*ret_receiver = &m->grant[i].receiver;
	}
}

/* Entry i of m goes to m->peer (a demand to its receiver, a grant to its
 * sender) and is not a pair of an address with itself. */
static bool entry_addrs_valid(const struct tita_msg *m, uint32_t i)
{
	const struct tita_addr *s, *r;

	entry_addrs(m, i, &s, &r);
	return !tita_addr_eq(s, r) && tita_addr_eq(m->kind == TITA_MSG_DEMAND ? r : s, &m->peer);
}

static bool same_addr_pair(const struct tita_msg *m, uint32_t i, uint32_t j)
{
	const struct tita_addr *si, *ri, *sj, *rj;

	entry_addrs(m, i, &si, &ri);
	entry_addrs(m, j, &sj, &rj);
	return tita_addr_eq(si, sj) && tita_addr_eq(ri, rj);
}

/*
 * Demands and grants are what daemons send all the time, one datagram or
 * more per peer and round: their entries are written here directly, in the
 * bytes protobuf-c writes for them (fields in number order, proto3 zeros
 * left out, a oneof's member whenever set, doubles as little-endian
 * fixed64; test_wire.c holds the two to the same bytes). protobuf-c's
 * descriptor-driven size and pack passes cost more than the MAC.
 */
enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2 };

/* Room for an entry: at most 129 bytes (two 16-byte addresses with tag and
 * length, 36; job_id 6, rate 9, ttl 11, ce_ppm 6, room_mask 11, move and
 * swap 2 each, spine 4, share 9, the unscheduled limit and the hold 11
 * each). */
#define ENTRY_MAX_BYTES 160

/* Field numbers below 16: one-byte tags. */
static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wire_type)
{
	*p++ = (uint8_t)(field << 3 | wire_type);
	return p;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_uint_always(uint8_t *p, unsigned field, uint64_t v)
{
	return put_varint(put_tag(p, field, WT_VARINT), v);
}

static uint8_t *put_uint(uint8_t *p, unsigned field, uint64_t v)
{
	return v ? put_uint_always(p, field, v) : p;
}

static uint8_t *put_double_always(uint8_t *p, unsigned field, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	p = put_tag(p, field, WT_FIXED64);
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(bits >> (8 * i));
	return p;
}

/* protobuf-c leaves out a double that compares equal to 0. */
static uint8_t *put_double(uint8_t *p, unsigned field, double v)
{
	return v == 0 ? p : put_double_always(p, field, v);
}

/* IPv4 travels as its 4 bytes, not in the 16-byte mapped form. */
static uint8_t *put_addr(uint8_t *p, unsigned field, const struct tita_addr *a)
{
	bool v4 = tita_addr_is_ipv4(a);
	size_t len = v4 ? 4 : 16;

	p = put_tag(p, field, WT_LEN);
	*p++ = (uint8_t)len;
	memcpy(p, v4 ? a->bytes + 12 : a->bytes, len);
	return p + len;
}

/* A DemandEntry; its length. */
static size_t write_demand(const struct tita_demand_entry *e, bool v1, uint8_t *out)
{
	uint8_t *p = out;

	/* The sender is the datagram's origin: left out (version 2). */
	if (v1)
		p = put_addr(p, 1, &e->sender);
	p = put_addr(p, 2, &e->receiver);
	p = put_uint(p, 3, e->job_id);
	if (e->weight_milli != TITA_WEIGHT_ONE)
		p = put_double_always(p, 4, (double)e->weight_milli / TITA_WEIGHT_ONE);
	p = put_double(p, 5, (double)e->demand_bps);
	p = put_double(p, 6, (double)e->min_bps);
	p = put_double(p, 7, (double)e->max_bps);
	if (e->has_spine)
		p = put_uint_always(p, 8, e->spine);
	p = put_uint(p, 9, e->room_mask);
	p = put_uint(p, 10, e->seek);
	p = put_uint(p, 11, e->unsched_bytes);
	p = put_uint(p, 12, e->left_bytes);
	if (e->has_path_spine)
		p = put_uint_always(p, 13, e->path_spine);
	return (size_t)(p - out);
}

/* A GrantEntry; its length. */
static size_t write_grant(const struct tita_grant_entry *e, bool v1, uint8_t *out)
{
	uint8_t *p = out;

	/* The receiver is the datagram's origin: left out (version 2). */
	p = put_addr(p, 1, &e->sender);
	if (v1)
		p = put_addr(p, 2, &e->receiver);
	p = put_uint(p, 3, e->job_id);
	p = put_double(p, 4, (double)e->rate_bps);
	p = put_uint(p, 5, e->ttl_ns);
	p = put_uint(p, 6, e->ce_ppm);
	p = put_uint(p, 7, e->room_mask);
	p = put_uint(p, 8, e->move);
	p = put_uint(p, 9, e->swap);
	if (e->has_spine)
		p = put_uint_always(p, 10, e->spine);
	p = put_double(p, 11, (double)e->share_bps);
	if (e->has_unsched_limit)
		p = put_uint_always(p, 12, e->unsched_limit_bytes);
	p = put_uint(p, 13, e->hold_ns);
	p = put_uint(p, 14, e->recheck);
	return (size_t)(p - out);
}

static void leaf_line_to_wire(const struct tita_leaf_entry *e, bool v1, Tita__Peer__LeafLine *pl)
{
	tita__peer__leaf_line__init(pl);
	pl->dir = e->dir;
	pl->spine = e->spine;
	/* Any leaf in a flag: 2 bytes, where the id's varint takes 6
	 * (version 2; version 1 knows only the id). */
	if (e->remote_leaf == TITA_LEAF_ANY && !v1)
		pl->any_leaf = true;
	else
		pl->remote_leaf = e->remote_leaf;
	pl->job_id = e->job_id;
	if (e->weight_milli != TITA_WEIGHT_ONE) {
		pl->weight_present_case = TITA__PEER__LEAF_LINE__WEIGHT_PRESENT_WEIGHT;
		pl->weight = (double)e->weight_milli / TITA_WEIGHT_ONE;
	}
	pl->demand_bps = (double)e->demand_bps;
	pl->move_bps = (double)e->move_bps;
	if (e->move_to != TITA_SPINE_NONE) {
		pl->move_to_present_case = TITA__PEER__LEAF_LINE__MOVE_TO_PRESENT_MOVE_TO;
		pl->move_to = e->move_to;
	}
	pl->room_mask = e->room_mask;
	pl->cap_bps = (double)e->cap_bps;
	pl->swap = e->swap;
	pl->move_cap_bps = (double)e->move_cap_bps;
	/* One pair is the default: left out. */
	if (e->n_pairs > 1)
		pl->n_pairs = e->n_pairs;
}

/* A leaf report or answer: the lines of one member, from start, as many as
 * fit. */
static int encode_leaf(const struct tita_wire_key *key, struct tita_wire_sender *tx,
		       uint8_t version, const struct tita_msg *m, uint32_t start, void *buf,
		       size_t size, uint32_t *ret_consumed)
{
	Tita__Peer__LeafLine lines[TITA_MSG_MAX_ENTRIES];
	Tita__Peer__LeafLine *ptrs[TITA_MSG_MAX_ENTRIES];
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
	Tita__Peer__LeafReport report = TITA__PEER__LEAF_REPORT__INIT;
	Tita__Peer__LeafAnswer answer = TITA__PEER__LEAF_ANSWER__INIT;
	bool is_report = m->kind == TITA_MSG_LEAF_REPORT;
	const struct tita_addr *member = is_report ? &m->leaf[start].member : &m->peer;
	size_t budget = body_budget(size, version), fixed, total, body_bytes;
	bool v1 = version == TITA_WIRE_V1_VERSION;
	uint32_t n = 0;

	if (is_report) {
		/* The member is the datagram's origin: left out (version 2). */
		report.leaf = m->leaf_id;
		report.recheck = m->recheck;
		if (v1)
			report.member = addr_to_wire(member);
		fixed = tita__peer__leaf_report__get_packed_size(&report);
	} else {
		answer.leaf = m->leaf_id;
		answer.member = addr_to_wire(member);
		answer.ttl_ns = m->ttl_ns;
		answer.up_room_mask = m->up_room_mask;
		answer.down_room_mask = m->down_room_mask;
		answer.recheck = m->recheck;
		fixed = tita__peer__leaf_answer__get_packed_size(&answer);
	}
	total = fixed;
	body_bytes = field_bytes(total);
	if (body_bytes > budget)
		return -ENOSPC;
	for (uint32_t i = start; i < m->n_entries && tita_addr_eq(&m->leaf[i].member, member);
	     i++, n++) {
		size_t line_bytes, next;

		leaf_line_to_wire(&m->leaf[i], v1, &lines[n]);
		ptrs[n] = &lines[n];
		line_bytes = tita__peer__leaf_line__get_packed_size(&lines[n]);
		next = total + field_bytes(line_bytes);
		if (field_bytes(next) > budget)
			break;
		total = next;
		body_bytes = field_bytes(total);
	}
	if (n == 0)
		return -ENOSPC;
	if (is_report) {
		report.n_lines = n;
		report.lines = ptrs;
		pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_LEAF_REPORT;
		pm.leaf_report = &report;
	} else {
		answer.n_lines = n;
		answer.lines = ptrs;
		pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_LEAF_ANSWER;
		pm.leaf_answer = &answer;
	}
	if (tita__peer__peer_message__get_packed_size(&pm) != body_bytes)
		return -EINVAL;
	*ret_consumed = n;
	return seal(key, tx, version, &pm, body_bytes, buf);
}

static bool version_known(uint8_t version)
{
	return version == TITA_WIRE_VERSION || version == TITA_WIRE_V1_VERSION;
}

int tita_wire_encode_msg(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
			 const struct tita_msg *m, uint32_t start, void *buf, size_t size,
			 uint32_t *ret_consumed)
{
	return tita_wire_encode_msg_version(kr, tx, TITA_WIRE_VERSION, m, start, buf, size,
					    ret_consumed);
}

int tita_wire_encode_msg_version(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
				 uint8_t version, const struct tita_msg *m, uint32_t start,
				 void *buf, size_t size, uint32_t *ret_consumed)
{
	uint8_t entries[TITA_MSG_MAX_ENTRIES][ENTRY_MAX_BYTES];
	size_t entry_len[TITA_MSG_MAX_ENTRIES];
	const struct tita_wire_key *key;
	size_t budget = body_budget(size, version), entries_bytes = 0, body_bytes = 0;
	bool v1 = version == TITA_WIRE_V1_VERSION;
	uint8_t *p;
	uint32_t n = 0;

	if (!version_known(version))
		return -EINVAL;
	if (m->kind == TITA_MSG_LEAF_REPORT || m->kind == TITA_MSG_LEAF_ANSWER) {
		if (m->n_entries == 0 || m->n_entries > TITA_MSG_MAX_ENTRIES ||
		    start >= m->n_entries || !leaf_id_valid(m->leaf_id) ||
		    (m->kind == TITA_MSG_LEAF_ANSWER && check_ttl(m->ttl_ns) != TITA_WIRE_OK))
			return -EINVAL;
		for (uint32_t i = start; i < m->n_entries; i++) {
			if (!leaf_line_valid(&m->leaf[i]))
				return -EINVAL;
			/* A report goes to another NIC; an answer's lines are
			 * its addressee's. */
			if (m->kind == TITA_MSG_LEAF_REPORT ?
				    tita_addr_eq(&m->leaf[i].member, &m->peer) :
				    !tita_addr_eq(&m->leaf[i].member, &m->peer))
				return -EINVAL;
		}
		key = tita_wire_keyring_find(kr, tx->key_id);
		if (!key)
			return -ENOKEY;
		return encode_leaf(key, tx, version, m, start, buf, size, ret_consumed);
	}
	if ((m->kind != TITA_MSG_DEMAND && m->kind != TITA_MSG_GRANT) || m->n_entries == 0 ||
	    m->n_entries > TITA_MSG_MAX_ENTRIES || start >= m->n_entries)
		return -EINVAL;
	for (uint32_t i = start; i < m->n_entries; i++) {
		if (!entry_addrs_valid(m, i))
			return -EINVAL;
		if (m->kind == TITA_MSG_DEMAND ? !demand_entry_valid(&m->demand[i]) :
						 !grant_entry_valid(&m->grant[i]))
			return -EINVAL;
	}
	key = tita_wire_keyring_find(kr, tx->key_id);
	if (!key)
		return -ENOKEY;

	/*
	 * Add entries while the whole body, with its outer framing, still fits,
	 * and while they name the same address pair as the first: a host with
	 * several NICs batches the pairs of all of them towards one peer in
	 * one message, but each datagram speaks for one of its NICs.
	 */
	for (uint32_t i = start; i < m->n_entries && same_addr_pair(m, i, start); i++, n++) {
		size_t total;

		entry_len[n] = m->kind == TITA_MSG_DEMAND ?
				       write_demand(&m->demand[i], v1, entries[n]) :
				       write_grant(&m->grant[i], v1, entries[n]);
		total = entries_bytes + field_bytes(entry_len[n]);
		if (field_bytes(total) > budget)
			break;
		entries_bytes = total;
		body_bytes = field_bytes(total);
	}
	if (n == 0)
		return -ENOSPC;

	/* PeerMessage.demand (2) or .grant (3), whose entries (1) are the
	 * entries; body_bytes <= budget fits the caller's buffer. */
	p = (uint8_t *)buf + hdr_bytes_of(version);
	p = put_tag(p, m->kind == TITA_MSG_DEMAND ? 2 : 3, WT_LEN);
	p = put_varint(p, entries_bytes);
	for (uint32_t k = 0; k < n; k++) {
		p = put_varint(put_tag(p, 1, WT_LEN), entry_len[k]);
		memcpy(p, entries[k], entry_len[k]);
		p += entry_len[k];
	}
	if ((size_t)(p - ((uint8_t *)buf + hdr_bytes_of(version))) != body_bytes)
		return -EINVAL; /* only a bug in this file gets here */
	*ret_consumed = n;
	return seal_body(key, tx, version, body_bytes, buf);
}

int tita_wire_encode_hello(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
			   const struct tita_wire_hello *h, void *buf, size_t size)
{
	return tita_wire_encode_hello_version(kr, tx, TITA_WIRE_VERSION, h, buf, size);
}

int tita_wire_encode_hello_version(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
				   uint8_t version, const struct tita_wire_hello *h, void *buf,
				   size_t size)
{
	Tita__Peer__Port ports[TITA_WIRE_HELLO_MAX_PORTS];
	Tita__Peer__Port *ptrs[TITA_WIRE_HELLO_MAX_PORTS];
	Tita__Peer__Hello hello = TITA__PEER__HELLO__INIT;
	Tita__Peer__PeerMessage pm = TITA__PEER__PEER_MESSAGE__INIT;
	const struct tita_wire_key *key;
	size_t body_bytes;

	if (!version_known(version) || h->n_ports == 0 || h->n_ports > TITA_WIRE_HELLO_MAX_PORTS ||
	    h->control_interval_ns == 0 || h->control_interval_ns > TITA_WIRE_TTL_MAX_NS ||
	    check_ttl(h->grant_ttl_ns) != TITA_WIRE_OK)
		return -EINVAL;
	for (uint32_t i = 0; i < h->n_ports; i++) {
		const struct tita_place *pl = &h->ports[i].place;

		if (h->ports[i].line_rate_bps == 0 || h->ports[i].line_rate_bps > TITA_RATE_MAX_BPS)
			return -EINVAL;
		if (tita_place_check(pl) < 0)
			return -EINVAL;
		tita__peer__port__init(&ports[i]);
		ports[i].addr = addr_to_wire(&h->ports[i].addr);
		ports[i].line_rate_bps = (double)h->ports[i].line_rate_bps;
		if (tita_place_known(pl)) {
			ports[i].leaf_present_case = TITA__PEER__PORT__LEAF_PRESENT_LEAF;
			ports[i].leaf = pl->leaf;
			ports[i].n_spines = pl->n_spines;
			ports[i].spine_bps = (double)pl->spine_bps;
		}
		ptrs[i] = &ports[i];
	}
	key = tita_wire_keyring_find(kr, tx->key_id);
	if (!key)
		return -ENOKEY;

	hello.n_ports = h->n_ports;
	hello.ports = ptrs;
	hello.control_interval_ns = h->control_interval_ns;
	hello.grant_ttl_ns = h->grant_ttl_ns;
	/* What this codec decodes, in either framing: a peer that reads it
	 * may write version 2 to this node (a version-1 node skips the
	 * field). A test or tool may say 1, as a version-1 node would. */
	hello.wire_version = h->wire_version ? h->wire_version : TITA_WIRE_VERSION;
	hello.leaf_leaders = h->leaf_leaders;
	pm.body_case = TITA__PEER__PEER_MESSAGE__BODY_HELLO;
	pm.hello = &hello;
	body_bytes = tita__peer__peer_message__get_packed_size(&pm);
	if (body_bytes > body_budget(size, version))
		return -ENOSPC;
	return seal(key, tx, version, &pm, body_bytes, buf);
}

/* --- decoder --- */

/*
 * A bump allocator over the decoder's stack arena (FRR's qpb allocator is
 * the model): protobuf-c's many small allocations cost a pointer increment,
 * nothing is freed one by one, and no input can make it take more than the
 * arena.
 */
struct arena {
	uint8_t *base;
	size_t size, used;
	bool exhausted;
};

#define ARENA_ALIGN 16

static void *arena_alloc(void *data, size_t bytes)
{
	struct arena *a = data;
	size_t rounded = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	if (rounded < bytes || rounded > a->size - a->used) {
		a->exhausted = true;
		return NULL;
	}
	p = a->base + a->used;
	a->used += rounded;
	return p;
}

static void arena_free(void *data, void *ptr)
{
}

/* The entries of a demand or a grant, seen through what both have in common. */
struct entries_view {
	size_t n;
	void **entries;
	bool demand;
};

static const ProtobufCBinaryData *view_sender(const struct entries_view *v, size_t i)
{
	return v->demand ? &((Tita__Peer__DemandEntry *)v->entries[i])->sender :
			   &((Tita__Peer__GrantEntry *)v->entries[i])->sender;
}

static const ProtobufCBinaryData *view_receiver(const struct entries_view *v, size_t i)
{
	return v->demand ? &((Tita__Peer__DemandEntry *)v->entries[i])->receiver :
			   &((Tita__Peer__GrantEntry *)v->entries[i])->receiver;
}

/*
 * An address that may be the datagram's origin: version 2 leaves the
 * origin's own address out (an empty field), and it is then where the
 * datagram came from, which the caller must say.
 */
static enum tita_wire_error origin_from_wire(const ProtobufCBinaryData *b,
					     const struct tita_addr *from, bool implied,
					     struct tita_addr *ret_addr)
{
	if (b->len == 0 && implied) {
		if (!from)
			return TITA_WIRE_E_NO_ORIGIN;
		*ret_addr = *from;
		return TITA_WIRE_OK;
	}
	return addr_from_wire(b, ret_addr) ? TITA_WIRE_OK : TITA_WIRE_E_BAD_ADDR_LEN;
}

static enum tita_wire_error check_demand_values(const Tita__Peer__DemandEntry *e)
{
	enum tita_wire_error err;

	if (e->weight_present_case == TITA__PEER__DEMAND_ENTRY__WEIGHT_PRESENT_WEIGHT) {
		err = check_weight(e->weight);
		if (err)
			return err;
	}
	err = check_rate(e->demand_bps);
	if (!err)
		err = check_rate(e->min_bps);
	if (!err)
		err = check_rate(e->max_bps);
	if (err)
		return err;
	if (rate_from_wire(e->max_bps) && rate_from_wire(e->min_bps) > rate_from_wire(e->max_bps))
		return TITA_WIRE_E_MIN_ABOVE_MAX;
	if (e->spine_present_case == TITA__PEER__DEMAND_ENTRY__SPINE_PRESENT_SPINE &&
	    e->spine >= TITA_SPINES_MAX)
		return TITA_WIRE_E_SPINE_RANGE;
	if (e->path_spine_present_case == TITA__PEER__DEMAND_ENTRY__PATH_SPINE_PRESENT_PATH_SPINE &&
	    e->path_spine >= TITA_SPINES_MAX)
		return TITA_WIRE_E_SPINE_RANGE;
	if (e->unsched_bytes > TITA_UNSCHED_MAX_BYTES)
		return TITA_WIRE_E_UNSCHED_RANGE;
	return TITA_WIRE_OK;
}

static enum tita_wire_error check_grant_values(const Tita__Peer__GrantEntry *e)
{
	enum tita_wire_error err = check_rate(e->rate_bps);

	if (!err)
		err = check_ttl(e->ttl_ns);
	if (!err && e->ce_ppm > CE_PPM_MAX)
		err = TITA_WIRE_E_CE_PPM_RANGE;
	if (!err && e->spine_present_case == TITA__PEER__GRANT_ENTRY__SPINE_PRESENT_SPINE &&
	    e->spine >= TITA_SPINES_MAX)
		err = TITA_WIRE_E_SPINE_RANGE;
	if (!err)
		err = check_rate(e->share_bps);
	if (!err &&
	    e->unsched_present_case ==
		    TITA__PEER__GRANT_ENTRY__UNSCHED_PRESENT_UNSCHED_LIMIT_BYTES &&
	    e->unsched_limit_bytes > TITA_UNSCHED_MAX_BYTES)
		err = TITA_WIRE_E_UNSCHED_RANGE;
	if (!err && e->hold_ns > TITA_WIRE_TTL_MAX_NS)
		err = TITA_WIRE_E_HOLD_RANGE;
	return err;
}

/*
 * Every entry names the same sender and receiver, two different addresses;
 * the origin (a demand's sender, a grant's receiver) is where the datagram
 * came from when the caller knows that.
 */
static enum tita_wire_error check_entries(const struct entries_view *v,
					  const struct tita_addr *from, bool implied)
{
	struct tita_addr sender0, receiver0;

	if (v->n == 0)
		return TITA_WIRE_E_NO_ENTRIES;
	if (v->n > TITA_MSG_MAX_ENTRIES)
		return TITA_WIRE_E_TOO_MANY_ENTRIES;
	for (size_t i = 0; i < v->n; i++) {
		struct tita_addr sender, receiver;
		enum tita_wire_error err;

		err = v->demand ? origin_from_wire(view_sender(v, i), from, implied, &sender) :
				  origin_from_wire(view_receiver(v, i), from, implied, &receiver);
		if (err)
			return err;
		if (!addr_from_wire(v->demand ? view_receiver(v, i) : view_sender(v, i),
				    v->demand ? &receiver : &sender))
			return TITA_WIRE_E_BAD_ADDR_LEN;
		if (i == 0) {
			sender0 = sender;
			receiver0 = receiver;
			if (tita_addr_eq(&sender, &receiver))
				return TITA_WIRE_E_SELF_PAIR;
			if (from && !tita_addr_eq(v->demand ? &sender : &receiver, from))
				return TITA_WIRE_E_PEER_MISMATCH;
		} else if (!tita_addr_eq(&sender, &sender0) ||
			   !tita_addr_eq(&receiver, &receiver0)) {
			return TITA_WIRE_E_ADDR_MISMATCH;
		}
		err = v->demand ? check_demand_values(v->entries[i]) :
				  check_grant_values(v->entries[i]);
		if (err)
			return err;
	}
	return TITA_WIRE_OK;
}

static enum tita_wire_error check_leaf_line(const Tita__Peer__LeafLine *l)
{
	enum tita_wire_error err;

	if (l->dir != TITA_LEAF_UP && l->dir != TITA_LEAF_DOWN)
		return TITA_WIRE_E_DIR_RANGE;
	if (l->spine >= TITA_SPINES_MAX ||
	    (l->move_to_present_case == TITA__PEER__LEAF_LINE__MOVE_TO_PRESENT_MOVE_TO &&
	     l->move_to >= TITA_SPINES_MAX))
		return TITA_WIRE_E_SPINE_RANGE;
	if (l->remote_leaf == TITA_LEAF_NONE || (l->any_leaf && l->remote_leaf != 0))
		return TITA_WIRE_E_LEAF_RANGE;
	if (l->n_pairs > TITA_LEAF_PAIRS_MAX)
		return TITA_WIRE_E_PAIRS_RANGE;
	if (l->weight_present_case == TITA__PEER__LEAF_LINE__WEIGHT_PRESENT_WEIGHT) {
		err = check_weight(l->weight);
		if (err)
			return err;
	}
	err = check_rate(l->demand_bps);
	if (!err)
		err = check_rate(l->move_bps);
	if (!err)
		err = check_rate(l->cap_bps);
	if (!err)
		err = check_rate(l->move_cap_bps);
	return err;
}

/* A leaf report comes from its member (from, when known). */
static enum tita_wire_error check_leaf(uint32_t leaf, const ProtobufCBinaryData *member,
				       Tita__Peer__LeafLine *const *lines, size_t n_lines,
				       bool report, const struct tita_addr *from, bool implied)
{
	struct tita_addr m;
	enum tita_wire_error addr_err;

	if (!leaf_id_valid(leaf))
		return TITA_WIRE_E_LEAF_RANGE;
	/* A report's member is its origin; an answer names its addressee. */
	addr_err = origin_from_wire(member, from, report && implied, &m);
	if (addr_err)
		return addr_err;
	if (report && from && !tita_addr_eq(&m, from))
		return TITA_WIRE_E_PEER_MISMATCH;
	if (n_lines == 0)
		return TITA_WIRE_E_NO_ENTRIES;
	if (n_lines > TITA_MSG_MAX_ENTRIES)
		return TITA_WIRE_E_TOO_MANY_ENTRIES;
	for (size_t i = 0; i < n_lines; i++) {
		enum tita_wire_error err = check_leaf_line(lines[i]);

		if (err)
			return err;
	}
	return TITA_WIRE_OK;
}

static enum tita_wire_error check_hello(const Tita__Peer__Hello *h, const struct tita_addr *from)
{
	enum tita_wire_error err;
	bool from_port = !from;

	if (h->n_ports == 0)
		return TITA_WIRE_E_NO_PORTS;
	if (h->n_ports > TITA_WIRE_HELLO_MAX_PORTS)
		return TITA_WIRE_E_TOO_MANY_PORTS;
	for (size_t i = 0; i < h->n_ports; i++) {
		struct tita_addr addr;

		if (!addr_from_wire(&h->ports[i]->addr, &addr))
			return TITA_WIRE_E_BAD_ADDR_LEN;
		if (from && tita_addr_eq(&addr, from))
			from_port = true;
		err = check_rate(h->ports[i]->line_rate_bps);
		if (err)
			return err;
		if (rate_from_wire(h->ports[i]->line_rate_bps) == 0)
			return TITA_WIRE_E_LINE_RATE_ZERO;
		if (h->ports[i]->leaf_present_case == TITA__PEER__PORT__LEAF_PRESENT_LEAF) {
			if (!leaf_id_valid(h->ports[i]->leaf) || h->ports[i]->n_spines == 0 ||
			    h->ports[i]->n_spines > TITA_SPINES_MAX ||
			    check_rate(h->ports[i]->spine_bps) != TITA_WIRE_OK ||
			    rate_from_wire(h->ports[i]->spine_bps) == 0)
				return TITA_WIRE_E_PLACE_RANGE;
		} else if (h->ports[i]->n_spines || h->ports[i]->spine_bps != 0) {
			return TITA_WIRE_E_PLACE_RANGE;
		}
	}
	if (h->control_interval_ns == 0 || h->control_interval_ns > TITA_WIRE_TTL_MAX_NS)
		return TITA_WIRE_E_INTERVAL_RANGE;
	err = check_ttl(h->grant_ttl_ns);
	if (err)
		return err;
	/* A hello speaks for the ports it lists: it must come from one. */
	return from_port ? TITA_WIRE_OK : TITA_WIRE_E_PEER_MISMATCH;
}

/* Only for values that passed the checks above. */
static void hello_from_wire(const Tita__Peer__Hello *h, struct tita_wire_hello *ret)
{
	ret->n_ports = (uint32_t)h->n_ports;
	for (size_t i = 0; i < h->n_ports; i++) {
		addr_from_wire(&h->ports[i]->addr, &ret->ports[i].addr);
		ret->ports[i].line_rate_bps = rate_from_wire(h->ports[i]->line_rate_bps);
		if (h->ports[i]->leaf_present_case == TITA__PEER__PORT__LEAF_PRESENT_LEAF)
			ret->ports[i].place = (struct tita_place){
				.leaf = h->ports[i]->leaf,
				.n_spines = h->ports[i]->n_spines,
				.spine_bps = rate_from_wire(h->ports[i]->spine_bps),
			};
		else
			ret->ports[i].place = (struct tita_place){ 0 };
	}
	ret->control_interval_ns = h->control_interval_ns;
	ret->grant_ttl_ns = h->grant_ttl_ns;
	ret->wire_version = h->wire_version ? h->wire_version : TITA_WIRE_V1_VERSION;
	ret->leaf_leaders = h->leaf_leaders ? h->leaf_leaders : 1;
}

static void demand_from_wire(const Tita__Peer__DemandEntry *pe, struct tita_demand_entry *e)
{
	addr_from_wire(&pe->sender, &e->sender);
	addr_from_wire(&pe->receiver, &e->receiver);
	e->job_id = pe->job_id;
	e->weight_milli = pe->weight_present_case ==
					  TITA__PEER__DEMAND_ENTRY__WEIGHT_PRESENT_WEIGHT ?
				  weight_from_wire(pe->weight) :
				  TITA_WEIGHT_ONE;
	e->demand_bps = rate_from_wire(pe->demand_bps);
	e->min_bps = rate_from_wire(pe->min_bps);
	e->max_bps = rate_from_wire(pe->max_bps);
	e->has_spine = pe->spine_present_case == TITA__PEER__DEMAND_ENTRY__SPINE_PRESENT_SPINE;
	e->spine = e->has_spine ? (uint16_t)pe->spine : 0;
	e->room_mask = pe->room_mask;
	e->seek = pe->seek;
	e->unsched_bytes = pe->unsched_bytes;
	e->left_bytes = pe->left_bytes;
	e->has_path_spine = pe->path_spine_present_case ==
			    TITA__PEER__DEMAND_ENTRY__PATH_SPINE_PRESENT_PATH_SPINE;
	e->path_spine = e->has_path_spine ? (uint16_t)pe->path_spine : 0;
}

static void grant_from_wire(const Tita__Peer__GrantEntry *pe, struct tita_grant_entry *e)
{
	addr_from_wire(&pe->sender, &e->sender);
	addr_from_wire(&pe->receiver, &e->receiver);
	e->job_id = pe->job_id;
	e->rate_bps = rate_from_wire(pe->rate_bps);
	e->ttl_ns = pe->ttl_ns;
	e->ce_ppm = pe->ce_ppm;
	e->room_mask = pe->room_mask;
	e->move = pe->move;
	e->swap = pe->swap;
	e->has_spine = pe->spine_present_case == TITA__PEER__GRANT_ENTRY__SPINE_PRESENT_SPINE;
	e->spine = e->has_spine ? (uint16_t)pe->spine : 0;
	e->share_bps = rate_from_wire(pe->share_bps);
	e->has_unsched_limit = pe->unsched_present_case ==
			       TITA__PEER__GRANT_ENTRY__UNSCHED_PRESENT_UNSCHED_LIMIT_BYTES;
	e->unsched_limit_bytes = e->has_unsched_limit ? pe->unsched_limit_bytes : 0;
	e->hold_ns = pe->hold_ns;
	e->recheck = pe->recheck;
}

static void leaf_line_from_wire(const Tita__Peer__LeafLine *pl, const struct tita_addr *member,
				struct tita_leaf_entry *e)
{
	*e = (struct tita_leaf_entry){
		.member = *member,
		.dir = (uint8_t)pl->dir,
		.spine = (uint16_t)pl->spine,
		.remote_leaf = pl->any_leaf ? TITA_LEAF_ANY : pl->remote_leaf,
		.job_id = pl->job_id,
		.weight_milli = pl->weight_present_case ==
						TITA__PEER__LEAF_LINE__WEIGHT_PRESENT_WEIGHT ?
					weight_from_wire(pl->weight) :
					TITA_WEIGHT_ONE,
		.demand_bps = rate_from_wire(pl->demand_bps),
		.move_bps = rate_from_wire(pl->move_bps),
		.move_to = pl->move_to_present_case ==
					   TITA__PEER__LEAF_LINE__MOVE_TO_PRESENT_MOVE_TO ?
				   (uint16_t)pl->move_to :
				   TITA_SPINE_NONE,
		.room_mask = pl->room_mask,
		.cap_bps = rate_from_wire(pl->cap_bps),
		.swap = pl->swap,
		.move_cap_bps = rate_from_wire(pl->move_cap_bps),
		.n_pairs = pl->n_pairs,
	};
}

static void leaf_msg_from_wire(const Tita__Peer__PeerMessage *pm, const struct tita_addr *from,
			       struct tita_msg *m)
{
	bool report = pm->body_case == TITA__PEER__PEER_MESSAGE__BODY_LEAF_REPORT;
	Tita__Peer__LeafLine *const *lines = report ? pm->leaf_report->lines :
						      pm->leaf_answer->lines;
	size_t n = report ? pm->leaf_report->n_lines : pm->leaf_answer->n_lines;
	struct tita_addr member = { { 0 } };

	if (!addr_from_wire(report ? &pm->leaf_report->member : &pm->leaf_answer->member,
			    &member) &&
	    report && from)
		member = *from; /* left out: checked, the origin */
	m->kind = report ? TITA_MSG_LEAF_REPORT : TITA_MSG_LEAF_ANSWER;
	m->n_entries = (uint32_t)n;
	m->leaf_id = report ? pm->leaf_report->leaf : pm->leaf_answer->leaf;
	m->ttl_ns = report ? 0 : pm->leaf_answer->ttl_ns;
	m->up_room_mask = report ? 0 : pm->leaf_answer->up_room_mask;
	m->down_room_mask = report ? 0 : pm->leaf_answer->down_room_mask;
	m->recheck = report ? pm->leaf_report->recheck : pm->leaf_answer->recheck;
	for (size_t i = 0; i < n; i++)
		leaf_line_from_wire(lines[i], &member, &m->leaf[i]);
	if (report)
		m->peer = member;
	else if (from)
		m->peer = *from;
	else
		memset(&m->peer, 0, sizeof(m->peer));
}

static void msg_from_wire(const struct entries_view *v, const struct tita_addr *from,
			  struct tita_msg *m)
{
	m->kind = v->demand ? TITA_MSG_DEMAND : TITA_MSG_GRANT;
	m->n_entries = (uint32_t)v->n;
	for (size_t i = 0; i < v->n; i++) {
		/* An origin left out was checked: the caller said it. */
		if (v->demand) {
			demand_from_wire(v->entries[i], &m->demand[i]);
			if (!view_sender(v, i)->len && from)
				m->demand[i].sender = *from;
		} else {
			grant_from_wire(v->entries[i], &m->grant[i]);
			if (!view_receiver(v, i)->len && from)
				m->grant[i].receiver = *from;
		}
	}
	m->peer = v->demand ? m->demand[0].sender : m->grant[0].receiver;
}

/*
 * The decoder's fast path. A demand or a grant in the form the encoder
 * writes (the one body field, then its entries; each entry's fields at
 * most once, in number order, each with its own wire type) is read here
 * into the structs protobuf-c would make of it, with the values protobuf-c
 * would read; whatever else a body holds, valid or not (unknown or
 * repeated fields, fields out of order, a value protobuf-c reads in its
 * own way), goes to protobuf-c. Its generic unpack (descriptor lookups, an
 * allocation per entry and per address) cost about as much as the MAC.
 * Addresses point into the datagram rather than into the arena.
 */
struct fast_body {
	bool demand;
	size_t n;
	union {
		Tita__Peer__DemandEntry demand[TITA_MSG_MAX_ENTRIES];
		Tita__Peer__GrantEntry grant[TITA_MSG_MAX_ENTRIES];
	} e;
	void *ptrs[TITA_MSG_MAX_ENTRIES];
};

enum fast_kind { FK_NONE = 0, FK_BYTES, FK_U32, FK_U64, FK_BOOL, FK_DOUBLE };

struct fast_field {
	uint8_t kind; /* enum fast_kind */
	uint16_t offset;
	/* A oneof's member: where its case goes (0: not in a oneof). */
	uint16_t case_offset;
};

#define FAST_FIELDS 15
#define DF(f) offsetof(Tita__Peer__DemandEntry, f)
#define GF(f) offsetof(Tita__Peer__GrantEntry, f)

static const struct fast_field demand_fields[FAST_FIELDS] = {
	[1] = { FK_BYTES, DF(sender), 0 },
	[2] = { FK_BYTES, DF(receiver), 0 },
	[3] = { FK_U32, DF(job_id), 0 },
	[4] = { FK_DOUBLE, DF(weight), DF(weight_present_case) },
	[5] = { FK_DOUBLE, DF(demand_bps), 0 },
	[6] = { FK_DOUBLE, DF(min_bps), 0 },
	[7] = { FK_DOUBLE, DF(max_bps), 0 },
	[8] = { FK_U32, DF(spine), DF(spine_present_case) },
	[9] = { FK_U64, DF(room_mask), 0 },
	[10] = { FK_BOOL, DF(seek), 0 },
	[11] = { FK_U64, DF(unsched_bytes), 0 },
	[12] = { FK_U64, DF(left_bytes), 0 },
	[13] = { FK_U32, DF(path_spine), DF(path_spine_present_case) },
};

static const struct fast_field grant_fields[FAST_FIELDS] = {
	[1] = { FK_BYTES, GF(sender), 0 },
	[2] = { FK_BYTES, GF(receiver), 0 },
	[3] = { FK_U32, GF(job_id), 0 },
	[4] = { FK_DOUBLE, GF(rate_bps), 0 },
	[5] = { FK_U64, GF(ttl_ns), 0 },
	[6] = { FK_U32, GF(ce_ppm), 0 },
	[7] = { FK_U64, GF(room_mask), 0 },
	[8] = { FK_BOOL, GF(move), 0 },
	[9] = { FK_BOOL, GF(swap), 0 },
	[10] = { FK_U32, GF(spine), GF(spine_present_case) },
	[11] = { FK_DOUBLE, GF(share_bps), 0 },
	[12] = { FK_U64, GF(unsched_limit_bytes), GF(unsched_present_case) },
	[13] = { FK_U64, GF(hold_ns), 0 },
	[14] = { FK_BOOL, GF(recheck), 0 },
};

/* protobuf-c stores a oneof's case, a uint32 and a bool as 32 bits. */
_Static_assert(sizeof(Tita__Peer__DemandEntry__WeightPresentCase) == sizeof(uint32_t) &&
		       sizeof(Tita__Peer__DemandEntry__SpinePresentCase) == sizeof(uint32_t) &&
		       sizeof(Tita__Peer__DemandEntry__PathSpinePresentCase) == sizeof(uint32_t) &&
		       sizeof(Tita__Peer__GrantEntry__SpinePresentCase) == sizeof(uint32_t) &&
		       sizeof(Tita__Peer__GrantEntry__UnschedPresentCase) == sizeof(uint32_t) &&
		       sizeof(protobuf_c_boolean) == sizeof(uint32_t),
	       "protobuf-c's 32-bit fields");

/* A varint of at most 10 bytes within [*p, end), read as protobuf-c reads
 * a uint64; its length in bytes, 0 for none. */
static unsigned get_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 10 && i < (size_t)(end - *p); i++) {
		v |= (uint64_t)((*p)[i] & 0x7f) << (7 * i);
		if (!((*p)[i] & 0x80)) {
			*p += i + 1;
			*ret = v;
			return i + 1;
		}
	}
	return 0;
}

/* One entry's fields in [p, end) into msg; false: not in the writer's form. */
static bool fast_entry(const uint8_t *p, const uint8_t *end, const struct fast_field *fields,
		       uint8_t *msg)
{
	unsigned last = 0;

	while (p < end) {
		unsigned field = *p >> 3, wire_type = *p & 7, len;
		const struct fast_field *f;
		uint64_t v = 0;
		uint32_t v32;

		/* One-byte tags only, in rising order. */
		if (*p & 0x80 || field <= last || field >= FAST_FIELDS || !fields[field].kind)
			return false;
		f = &fields[field];
		last = field;
		p++;
		switch (f->kind) {
		case FK_BYTES: {
			ProtobufCBinaryData b;

			if (wire_type != WT_LEN || p >= end || *p & 0x80 || !*p || *p > end - p - 1)
				return false;
			b.len = *p;
			b.data = (uint8_t *)p + 1; /* read, never written */
			p += 1 + b.len;
			memcpy(msg + f->offset, &b, sizeof(b));
			continue;
		}
		case FK_DOUBLE:
			if (wire_type != WT_FIXED64 || end - p < 8)
				return false;
			/* Little-endian, as protobuf-c reads it on this host. */
			for (int i = 7; i >= 0; i--)
				v = v << 8 | p[i];
			memcpy(msg + f->offset, &v, sizeof(v));
			p += 8;
			break;
		case FK_U64:
			if (wire_type != WT_VARINT || !get_varint(&p, end, &v))
				return false;
			memcpy(msg + f->offset, &v, sizeof(v));
			break;
		case FK_U32:
			/* Longer, or above 32 bits: protobuf-c keeps some bits. */
			len = wire_type == WT_VARINT ? get_varint(&p, end, &v) : 0;
			if (!len || len > 5 || v > UINT32_MAX)
				return false;
			v32 = (uint32_t)v;
			memcpy(msg + f->offset, &v32, sizeof(v32));
			break;
		case FK_BOOL:
			/* protobuf-c reads any set payload bit as true. */
			len = wire_type == WT_VARINT ? get_varint(&p, end, &v) : 0;
			if (len != 1)
				return false;
			v32 = v != 0;
			memcpy(msg + f->offset, &v32, sizeof(v32));
			break;
		default:
			return false;
		}
		if (f->case_offset) {
			v32 = field;
			memcpy(msg + f->case_offset, &v32, sizeof(v32));
		}
	}
	return true;
}

/* A demand's or a grant's body in the writer's form, into fb; false:
 * protobuf-c reads it. */
static bool fast_body(const uint8_t *p, size_t len, struct fast_body *fb)
{
	const uint8_t *end = p + len;
	uint64_t body_len;

	if (len < 2 || (p[0] != (2 << 3 | WT_LEN) && p[0] != (3 << 3 | WT_LEN)))
		return false;
	fb->demand = p[0] == (2 << 3 | WT_LEN);
	p++;
	if (!get_varint(&p, end, &body_len) || body_len != (uint64_t)(end - p))
		return false;
	for (fb->n = 0; p < end; fb->n++) {
		uint64_t entry_len;
		uint8_t *msg;

		if (fb->n == TITA_MSG_MAX_ENTRIES || *p != (1 << 3 | WT_LEN))
			return false;
		p++;
		if (!get_varint(&p, end, &entry_len) || entry_len > (uint64_t)(end - p))
			return false;
		if (fb->demand) {
			tita__peer__demand_entry__init(&fb->e.demand[fb->n]);
			msg = (uint8_t *)&fb->e.demand[fb->n];
		} else {
			tita__peer__grant_entry__init(&fb->e.grant[fb->n]);
			msg = (uint8_t *)&fb->e.grant[fb->n];
		}
		if (!fast_entry(p, p + entry_len, fb->demand ? demand_fields : grant_fields, msg))
			return false;
		fb->ptrs[fb->n] = msg;
		p += entry_len;
	}
	return fb->n > 0;
}

/* The checks of a body protobuf-c parsed; a demand's or grant's entries in *view. */
static enum tita_wire_error check_body(const Tita__Peer__PeerMessage *pm,
				       const struct tita_addr *from, bool implied,
				       struct entries_view *view)
{
	enum tita_wire_error err;

	switch (pm->body_case) {
	case TITA__PEER__PEER_MESSAGE__BODY_HELLO:
		err = check_hello(pm->hello, from);
		break;
	case TITA__PEER__PEER_MESSAGE__BODY_DEMAND:
		*view = (struct entries_view){ .n = pm->demand->n_entries,
					       .entries = (void **)pm->demand->entries,
					       .demand = true };
		err = check_entries(view, from, implied);
		break;
	case TITA__PEER__PEER_MESSAGE__BODY_GRANT:
		*view = (struct entries_view){ .n = pm->grant->n_entries,
					       .entries = (void **)pm->grant->entries };
		err = check_entries(view, from, implied);
		break;
	case TITA__PEER__PEER_MESSAGE__BODY_LEAF_REPORT:
		err = check_leaf(pm->leaf_report->leaf, &pm->leaf_report->member,
				 pm->leaf_report->lines, pm->leaf_report->n_lines, true, from,
				 implied);
		break;
	case TITA__PEER__PEER_MESSAGE__BODY_LEAF_ANSWER:
		err = check_leaf(pm->leaf_answer->leaf, &pm->leaf_answer->member,
				 pm->leaf_answer->lines, pm->leaf_answer->n_lines, false, from,
				 implied);
		if (!err)
			err = check_ttl(pm->leaf_answer->ttl_ns);
		break;
	default:
		/* A body field this version does not know lands in the unknown fields. */
		err = pm->base.n_unknown_fields ? TITA_WIRE_E_UNKNOWN_BODY : TITA_WIRE_E_EMPTY_BODY;
		break;
	}
	return err;
}

static enum tita_wire_error decode(const struct tita_wire_keyring *kr,
				   struct tita_wire_replay *replay, const struct tita_addr *from,
				   const void *buf, size_t len, struct tita_wire_msg *ret_msg,
				   bool fast)
{
	_Alignas(ARENA_ALIGN) uint8_t arena_bytes[TITA_WIRE_ARENA_BYTES];
	struct arena arena = { .base = arena_bytes, .size = sizeof(arena_bytes) };
	ProtobufCAllocator allocator = {
		.alloc = arena_alloc,
		.free = arena_free,
		.allocator_data = &arena,
	};
	uint8_t mac[TITA_WIRE_V1_MAC_BYTES];
	const uint8_t *p = buf;
	const struct tita_wire_key *key;
	struct tita_wire_header hdr;
	Tita__Peer__PeerMessage *pm = NULL;
	Tita__Peer__PeerMessage__BodyCase body_case;
	struct entries_view view = { 0 };
	struct fast_body fb;
	enum tita_wire_error err;
	size_t signed_bytes, hdr_bytes;
	bool implied;

	err = tita_wire_peek_header(buf, len, &hdr);
	if (err)
		return err;
	/* Version 2 leaves the origin's own address out of its entries. */
	implied = hdr.version != TITA_WIRE_V1_VERSION;
	key = tita_wire_keyring_find(kr, hdr.key_id);
	if (!key)
		return TITA_WIRE_E_UNKNOWN_KEY;
	hdr_bytes = hdr_bytes_of(hdr.version);
	signed_bytes = len - mac_bytes_of(hdr.version);
	compute_mac(key, p, signed_bytes, mac);
	if (sodium_memcmp(mac, p + signed_bytes, mac_bytes_of(hdr.version)) != 0)
		return TITA_WIRE_E_BAD_MAC;
	if (replay) {
		err = tita_wire_replay_check(replay, hdr.boot_id, hdr.seq);
		if (err)
			return err;
	}

	if (fast && fast_body(p + hdr_bytes, signed_bytes - hdr_bytes, &fb)) {
		body_case = fb.demand ? TITA__PEER__PEER_MESSAGE__BODY_DEMAND :
					TITA__PEER__PEER_MESSAGE__BODY_GRANT;
		view = (struct entries_view){ .n = fb.n, .entries = fb.ptrs, .demand = fb.demand };
		err = check_entries(&view, from, implied);
	} else {
		pm = tita__peer__peer_message__unpack(&allocator, signed_bytes - hdr_bytes,
						      p + hdr_bytes);
		if (!pm)
			return arena.exhausted ? TITA_WIRE_E_BODY_TOO_COMPLEX :
						 TITA_WIRE_E_MALFORMED;
		body_case = pm->body_case;
		err = check_body(pm, from, implied, &view);
	}
	if (err)
		return err;

	/* Accepted: only now do the caller's window and message change. */
	if (replay)
		tita_wire_replay_update(replay, hdr.boot_id, hdr.seq);
	ret_msg->hdr = hdr;
	if (body_case == TITA__PEER__PEER_MESSAGE__BODY_HELLO) {
		ret_msg->body = TITA_WIRE_BODY_HELLO;
		hello_from_wire(pm->hello, &ret_msg->hello);
	} else if (body_case == TITA__PEER__PEER_MESSAGE__BODY_LEAF_REPORT ||
		   body_case == TITA__PEER__PEER_MESSAGE__BODY_LEAF_ANSWER) {
		ret_msg->body = TITA_WIRE_BODY_MSG;
		leaf_msg_from_wire(pm, from, &ret_msg->msg);
	} else {
		ret_msg->body = TITA_WIRE_BODY_MSG;
		msg_from_wire(&view, from, &ret_msg->msg);
	}
	return TITA_WIRE_OK;
}

enum tita_wire_error tita_wire_decode(const struct tita_wire_keyring *kr,
				      struct tita_wire_replay *replay, const struct tita_addr *from,
				      const void *buf, size_t len, struct tita_wire_msg *ret_msg)
{
	return decode(kr, replay, from, buf, len, ret_msg, true);
}

enum tita_wire_error tita_wire_decode_protobuf_c(const struct tita_wire_keyring *kr,
						 struct tita_wire_replay *replay,
						 const struct tita_addr *from, const void *buf,
						 size_t len, struct tita_wire_msg *ret_msg)
{
	return decode(kr, replay, from, buf, len, ret_msg, false);
}
