/* SPDX-License-Identifier: MIT */
/*
 * The tita peer wire codec: lib/ structs in, authenticated datagrams out, and
 * back. This is where the protobuf boundary stops; callers see struct
 * tita_msg and struct tita_wire_hello, never protobuf-c.
 *
 * A datagram is a fixed header (magic "TITA", version, flags, key id, sender
 * boot id, sequence number; network byte order), one tita.peer.PeerMessage
 * (proto/peer.proto) and an 8-byte keyed BLAKE2b MAC over both (16 bytes in
 * version 1, still decoded), made with a 256-bit cluster key. No datagram
 * exceeds TITA_WIRE_MAX_BYTES.
 *
 * Decoding checks, in this order and before trusting anything: the size and
 * each header field, the key id, the MAC, the replay window, then the
 * protobuf (parsed into a fixed stack arena, so no input allocates more than
 * TITA_WIRE_ARENA_BYTES), then every value's range and the consistency of the
 * addresses. Each way to fail has its own enum tita_wire_error, whose
 * tita_wire_error_name() is a stable label for metrics.
 *
 * The codec is pure: no clock, socket, file, print, random numbers or global
 * mutable state. The caller owns the keyring, the per-peer replay windows and
 * the sender state, and calls sodium_init() once at start-up (which lets
 * libsodium pick its fastest BLAKE2b; the codec is correct without it).
 */
#ifndef TITA_WIRE_H
#define TITA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/ctl.h"
#include "tita/types.h"

#define TITA_WIRE_MAGIC 0x54495441u /* "TITA" */
/*
 * Version 2, what the encoder writes: magic 4, version 1, flags 1, key id 4,
 * boot id 8, sequence 4; then the body, then 8 bytes of MAC (the first 8 of
 * the keyed BLAKE2b-128 over header and body). A sender whose sequence
 * passes TITA_WIRE_SEQ_MAX takes the next boot id (boot id + 1) and starts
 * again at 1, which its receivers already take as a newer boot.
 */
#define TITA_WIRE_VERSION 2
#define TITA_WIRE_HDR_BYTES 22
#define TITA_WIRE_MAC_BYTES 8
#define TITA_WIRE_SEQ_MAX UINT32_MAX
/*
 * Version 1, still decoded (a peer not yet upgraded): sequence 8 bytes
 * (header 26), MAC 16 bytes (the whole BLAKE2b-128). A version-1 decoder
 * drops version 2 as unknown_version.
 */
#define TITA_WIRE_V1_VERSION 1
#define TITA_WIRE_V1_HDR_BYTES 26
#define TITA_WIRE_V1_MAC_BYTES 16
#define TITA_WIRE_KEY_BYTES 32
/* Under a 1500-byte MTU with room for IPv6, UDP and tunnel headers: a
 * datagram is never fragmented. */
#define TITA_WIRE_MAX_BYTES 1400
#define TITA_WIRE_MAX_BODY_BYTES (TITA_WIRE_MAX_BYTES - TITA_WIRE_HDR_BYTES - TITA_WIRE_MAC_BYTES)

/* A grant's (or a hello's) time to live and control interval: anything longer
 * than this is absurd, and would let one message pin a rate for too long. */
#define TITA_WIRE_TTL_MAX_NS (60 * TITA_NSEC_PER_SEC)

/* The most NICs one hello announces. */
#define TITA_WIRE_HELLO_MAX_PORTS 16

/* Keys held at once: the current one and the ones being rotated in or out. */
#define TITA_WIRE_KEYRING_MAX 4

/*
 * The protobuf parser allocates only from an arena of this many bytes on the
 * decoder's stack. The most a legitimate body needs is about 13 KiB (64
 * entries of the smallest size; test_wire.c measures it); input crafted to
 * make protobuf-c allocate more (hundreds of empty entries or unknown
 * fields) is rejected as TITA_WIRE_E_BODY_TOO_COMPLEX.
 */
#define TITA_WIRE_ARENA_BYTES (32 * 1024)

/*
 * Why a datagram was dropped. Values are stable within a build, not on the
 * wire; use tita_wire_error_name() for labels.
 */
enum tita_wire_error {
	TITA_WIRE_OK = 0,
	/* Framing, checked before anything is trusted. */
	TITA_WIRE_E_OVERSIZED, /* more than TITA_WIRE_MAX_BYTES */
	TITA_WIRE_E_TRUNC_MAGIC, /* ends inside the magic */
	TITA_WIRE_E_BAD_MAGIC,
	TITA_WIRE_E_TRUNC_VERSION,
	TITA_WIRE_E_BAD_VERSION,
	TITA_WIRE_E_TRUNC_FLAGS,
	TITA_WIRE_E_BAD_FLAGS, /* a reserved flag bit is set */
	TITA_WIRE_E_TRUNC_KEY_ID,
	TITA_WIRE_E_TRUNC_BOOT_ID,
	TITA_WIRE_E_TRUNC_SEQ,
	TITA_WIRE_E_TRUNC_BEFORE_MAC, /* a header and nothing after it */
	TITA_WIRE_E_TRUNC_MAC, /* fewer bytes after the header than a MAC */
	/* Authentication. */
	TITA_WIRE_E_UNKNOWN_KEY, /* key id not in the keyring */
	TITA_WIRE_E_BAD_MAC,
	/* Replay window (only for datagrams whose MAC verified). */
	TITA_WIRE_E_STALE_BOOT, /* boot id older than the peer's current one */
	TITA_WIRE_E_BOOT_AHEAD, /* boot id beyond what the receiver's clock allows */
	TITA_WIRE_E_REPLAYED, /* sequence number already seen */
	TITA_WIRE_E_TOO_OLD, /* sequence number behind the window */
	/* The protobuf body. */
	TITA_WIRE_E_MALFORMED, /* protobuf-c cannot parse it */
	TITA_WIRE_E_BODY_TOO_COMPLEX, /* parsing it needs more than the arena */
	TITA_WIRE_E_EMPTY_BODY, /* no body set */
	TITA_WIRE_E_UNKNOWN_BODY, /* a body this version does not know */
	TITA_WIRE_E_NO_ENTRIES, /* a demand or grant with no entry */
	TITA_WIRE_E_TOO_MANY_ENTRIES, /* more than TITA_MSG_MAX_ENTRIES */
	/* Addresses. */
	TITA_WIRE_E_BAD_ADDR_LEN, /* neither 4 nor 16 bytes */
	TITA_WIRE_E_ADDR_MISMATCH, /* entries name different senders or receivers */
	TITA_WIRE_E_SELF_PAIR, /* sender and receiver are the same address */
	TITA_WIRE_E_PEER_MISMATCH, /* the origin is not where the datagram came from */
	TITA_WIRE_E_NO_ORIGIN, /* the origin's address left out (version 2) and not given */
	/* Values. */
	TITA_WIRE_E_RATE_NEGATIVE,
	TITA_WIRE_E_RATE_NOT_FINITE, /* NaN or infinite */
	TITA_WIRE_E_RATE_TOO_HIGH, /* above TITA_RATE_MAX_BPS */
	TITA_WIRE_E_MIN_ABOVE_MAX, /* a demand's min_bps above its max_bps */
	TITA_WIRE_E_WEIGHT_NOT_FINITE,
	TITA_WIRE_E_WEIGHT_RANGE, /* not within 1..TITA_WEIGHT_MAX thousandths */
	TITA_WIRE_E_TTL_ZERO,
	TITA_WIRE_E_TTL_TOO_LONG, /* above TITA_WIRE_TTL_MAX_NS */
	TITA_WIRE_E_CE_PPM_RANGE, /* above 1000000 */
	TITA_WIRE_E_UNSCHED_RANGE, /* unscheduled bytes above TITA_UNSCHED_MAX_BYTES */
	TITA_WIRE_E_HOLD_RANGE, /* a grant's hold above TITA_WIRE_TTL_MAX_NS */
	/* Hello. */
	TITA_WIRE_E_NO_PORTS,
	TITA_WIRE_E_TOO_MANY_PORTS, /* more than TITA_WIRE_HELLO_MAX_PORTS */
	TITA_WIRE_E_LINE_RATE_ZERO,
	TITA_WIRE_E_INTERVAL_RANGE, /* control interval zero or above the TTL max */
	/* The fabric: places, spines, leaf lines. */
	TITA_WIRE_E_PLACE_RANGE, /* a port's leaf, spine count or spine capacity */
	TITA_WIRE_E_SPINE_RANGE, /* a spine (or move_to) not below TITA_SPINES_MAX */
	TITA_WIRE_E_DIR_RANGE, /* a leaf line neither up nor down */
	TITA_WIRE_E_LEAF_RANGE, /* a leaf id nobody can have */
	TITA_WIRE_E_PAIRS_RANGE, /* a leaf line's pairs above TITA_LEAF_PAIRS_MAX */

	TITA_WIRE_E_COUNT
};

/* A stable snake_case name ("bad_mac"); "unknown" for a value out of range. */
const char *tita_wire_error_name(enum tita_wire_error err);

/*
 * Keys by id, filled by the caller (from the root-only key file). Several
 * keys allow rotation: receivers first add the new key, then senders switch
 * their key_id, then the old key is removed.
 */
/* libsodium's crypto_generichash_state, as bytes (wire.c checks the size). */
#define TITA_WIRE_MAC_STATE_BYTES 384

struct tita_wire_key {
	uint32_t id;
	uint8_t bytes[TITA_WIRE_KEY_BYTES];
	/* BLAKE2b keyed with bytes, before any data: each MAC starts from a
	 * copy instead of setting the key up again. */
	uint8_t mac_state[TITA_WIRE_MAC_STATE_BYTES];
};

struct tita_wire_keyring {
	uint32_t n_keys;
	struct tita_wire_key keys[TITA_WIRE_KEYRING_MAX];
};

void tita_wire_keyring_init(struct tita_wire_keyring *kr);
/* 0, -EEXIST (the id is taken), -ENOSPC (the ring is full). */
int tita_wire_keyring_add(struct tita_wire_keyring *kr, uint32_t id,
			  const uint8_t bytes[TITA_WIRE_KEY_BYTES]);
/* 0 or -ENOENT. The key's bytes are wiped. */
int tita_wire_keyring_remove(struct tita_wire_keyring *kr, uint32_t id);
/* Wipes every key. */
void tita_wire_keyring_clear(struct tita_wire_keyring *kr);
/* The key with this id, or NULL. */
const struct tita_wire_key *tita_wire_keyring_find(const struct tita_wire_keyring *kr, uint32_t id);

/* The header of a datagram, in host byte order. */
struct tita_wire_header {
	uint8_t version;
	uint8_t flags;
	uint32_t key_id;
	uint64_t boot_id;
	uint64_t seq;
};

/*
 * The sending side's state, one per daemon. boot_id must grow with every
 * start of the daemon (e.g. the realtime clock in ns at start, or a counter
 * kept on disk): receivers treat a smaller boot id than the one they know as
 * stale. seq is the next sequence number; each encoded datagram takes one.
 */
struct tita_wire_sender {
	uint32_t key_id;
	uint64_t boot_id;
	uint64_t seq;
};

/*
 * The per-peer replay window (RFC 6479 style, as WireGuard and IPsec keep
 * it), owned by the caller. It remembers the peer's current boot id, the
 * highest sequence number accepted under it and which of the
 * TITA_WIRE_REPLAY_WINDOW sequence numbers below that were seen.
 *
 * Two policies bound what a boot id can do, so that neither a forged one
 * nor a sender whose clock stepped back locks a peer out; the caller sets
 * them before each decode (zero: off):
 *
 *   boot_id_max  a boot id above it is refused (TITA_WIRE_E_BOOT_AHEAD):
 *                the receiver's wall clock plus the skew it tolerates, so
 *                that a forged 2^64-1 is never installed
 *   restart_ok   an older boot id starts a new window instead of being
 *                stale: the caller sets it when the current boot has been
 *                silent long enough to be a daemon that restarted with its
 *                clock behind, or a forged newer boot id that keeps the
 *                real one out. A boot id the window held before is taken
 *                again only past the highest sequence number accepted
 *                under it, so old captures stay refused.
 */
#define TITA_WIRE_REPLAY_WORDS 8
#define TITA_WIRE_REPLAY_WINDOW ((TITA_WIRE_REPLAY_WORDS - 1) * 64)
#define TITA_WIRE_REPLAY_PREV_BOOTS 4

struct tita_wire_replay {
	bool primed; /* false until the first datagram is accepted */
	uint64_t boot_id;
	uint64_t top_seq;
	uint64_t bitmap[TITA_WIRE_REPLAY_WORDS];
	/* The boots held before this one, most recent first (boot id 0: none),
	 * with the highest sequence number accepted under each. */
	struct {
		uint64_t boot_id, top_seq;
	} prev[TITA_WIRE_REPLAY_PREV_BOOTS];
	/* Policy (see above). */
	uint64_t boot_id_max;
	bool restart_ok;
};

void tita_wire_replay_init(struct tita_wire_replay *r);
/*
 * A window that resumes where an earlier one of the same peer stopped
 * (its entry left a bounded table and came back): boot_id, and every
 * sequence number up to top_seq counts as seen.
 */
void tita_wire_replay_resume(struct tita_wire_replay *r, uint64_t boot_id, uint64_t top_seq);
/*
 * Whether (boot_id, seq) may be accepted: TITA_WIRE_OK, or
 * TITA_WIRE_E_BOOT_AHEAD, _STALE_BOOT, _REPLAYED, _TOO_OLD. Changes
 * nothing.
 */
enum tita_wire_error tita_wire_replay_check(const struct tita_wire_replay *r, uint64_t boot_id,
					    uint64_t seq);
/*
 * Record (boot_id, seq) as seen; call only after tita_wire_replay_check()
 * passed for an authenticated datagram. A newer boot id starts a new window
 * (an older one too, under restart_ok).
 */
void tita_wire_replay_update(struct tita_wire_replay *r, uint64_t boot_id, uint64_t seq);

/* A NIC that a hello announces, and where it sits (all zero when its
 * daemon does not know). */
struct tita_wire_port {
	struct tita_addr addr;
	uint64_t line_rate_bps; /* 1..TITA_RATE_MAX_BPS */
	struct tita_place place;
};

/* What a daemon announces about itself. */
struct tita_wire_hello {
	uint32_t n_ports; /* 1..TITA_WIRE_HELLO_MAX_PORTS */
	struct tita_wire_port ports[TITA_WIRE_HELLO_MAX_PORTS];
	uint64_t control_interval_ns; /* 1..TITA_WIRE_TTL_MAX_NS */
	uint64_t grant_ttl_ns; /* 1..TITA_WIRE_TTL_MAX_NS */
	/* The newest version the sender decodes: decoded, 1 when the hello
	 * does not say; encoded, 0 for the codec's own (TITA_WIRE_VERSION). */
	uint32_t wire_version;
	/* The leaders per leaf the sender follows (tita_ctl_peer_leaders()):
	 * decoded, 1 when the hello does not say; encoded, 0 leaves it out. */
	uint32_t leaf_leaders;
};

enum tita_wire_body {
	TITA_WIRE_BODY_HELLO = 1,
	TITA_WIRE_BODY_MSG, /* a demand, grant or leaf message: msg.kind says which */
};

/* A decoded, authenticated, range-checked datagram. */
struct tita_wire_msg {
	struct tita_wire_header hdr;
	enum tita_wire_body body;
	union {
		struct tita_wire_hello hello;
		/* msg.peer is the NIC that sent it: the entries' sender for a
		 * demand, their receiver for a grant, the member for a leaf
		 * report, and for a leaf answer the address it came from
		 * (the leader; its lines name the member it is for). */
		struct tita_msg msg;
	};
};

/*
 * Encode entries of m, starting at entries[start], into one datagram in buf:
 * as many consecutive entries as fit under min(size, TITA_WIRE_MAX_BYTES)
 * and name the same (sender, receiver) address pair as entries[start].
 * Returns the datagram's length and sets *ret_consumed to the number of
 * entries it carries (at least one); the caller loops while start +
 * consumed < m->n_entries. Each datagram takes the next sequence number of
 * tx. It should leave from the local NIC that its entries name (a demand's
 * sender, a grant's receiver): that is where the receiver expects it from.
 *
 * Every entry must be one the decoder accepts: m->peer is its addressee
 * (the receiver of a demand, the sender of a grant), its sender and
 * receiver differ, and every value is in range. Leaf messages carry lines
 * of one member (a report's sender, an answer's addressee, which is
 * m->peer). Otherwise -EINVAL; -ENOKEY
 * when tx->key_id is not in kr; -ENOSPC when size cannot hold even one
 * entry. On error nothing is consumed and tx is unchanged.
 */
int tita_wire_encode_msg(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
			 const struct tita_msg *m, uint32_t start, void *buf, size_t size,
			 uint32_t *ret_consumed);

/* Encode a hello; the length, or -EINVAL, -ENOKEY, -ENOSPC as above. */
int tita_wire_encode_hello(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
			   const struct tita_wire_hello *h, void *buf, size_t size);

/*
 * The same in a chosen framing, version TITA_WIRE_VERSION or
 * TITA_WIRE_V1_VERSION (another: -EINVAL), for a peer that decodes only
 * version 1 (a rolling upgrade). Version 1 is what a version-1 encoder
 * wrote: its header and whole MAC, entries that name their origin, a leaf
 * line of any leaf as its id. Both framings take their sequence number
 * from the same tx, so a peer sent both never sees one go back.
 */
int tita_wire_encode_msg_version(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
				 uint8_t version, const struct tita_msg *m, uint32_t start,
				 void *buf, size_t size, uint32_t *ret_consumed);
int tita_wire_encode_hello_version(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
				   uint8_t version, const struct tita_wire_hello *h, void *buf,
				   size_t size);

/*
 * Parse and check the header only (size, each field, magic, version, flags),
 * without authenticating anything: for finding the peer a datagram claims to
 * come from, or for logging. Fills *ret_hdr on TITA_WIRE_OK.
 */
enum tita_wire_error tita_wire_peek_header(const void *buf, size_t len,
					   struct tita_wire_header *ret_hdr);

/*
 * Verify and decode one datagram. replay is the window of the peer it came
 * from (NULL skips the replay check, for tests and tools); it is checked
 * after the MAC and updated only when the whole datagram is accepted. from,
 * when not NULL, is the address the datagram came from: a demand's sender, a
 * grant's receiver, a leaf report's member or one of a hello's ports must be
 * that address (TITA_WIRE_E_PEER_MISMATCH), so that what a datagram says
 * about a peer, its boot id included, is bound to the peer's own address; a
 * leaf answer's msg.peer is set to it.
 *
 * Returns TITA_WIRE_OK and fills *ret_msg, or the first check that failed;
 * then neither *ret_msg nor *replay changes. Never allocates on the heap.
 */
enum tita_wire_error tita_wire_decode(const struct tita_wire_keyring *kr,
				      struct tita_wire_replay *replay, const struct tita_addr *from,
				      const void *buf, size_t len, struct tita_wire_msg *ret_msg);

/* The same, with every body parsed by protobuf-c: tita_wire_decode() reads
 * demands and grants in the form the encoder writes itself, and the tests
 * hold the two to the same results. */
enum tita_wire_error tita_wire_decode_protobuf_c(const struct tita_wire_keyring *kr,
						 struct tita_wire_replay *replay,
						 const struct tita_addr *from, const void *buf,
						 size_t len, struct tita_wire_msg *ret_msg);

#endif /* TITA_WIRE_H */
