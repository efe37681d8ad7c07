/* SPDX-License-Identifier: MIT */
/*
 * The peer protocol's I/O: UDP sockets, the wire codec with the cluster
 * keys and this daemon's sender state, and the bounded peer table.
 *
 * Authenticated demands and grants go to the engine through hooks; the
 * engine's messages come back through titad_peers_send() and
 * titad_peers_flush(). Every entry point takes the event loop's now_ns.
 */
#ifndef TITAD_PEER_H
#define TITAD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "hist.h"
#include "tita/ctl.h"
#include "wire.h"

/* What the peers module asks of the engine. */
struct titad_peers_hooks {
	/* An authenticated demand or grant: 1 when it created a pair, 0, or
	 * -errno when the controller refused it. */
	int (*on_msg)(void *ctx, const struct tita_msg *m, uint64_t now_ns);
	/* After a batch of datagrams was read: run the controller's outputs. */
	void (*kick)(void *ctx, uint64_t now_ns);
	/* When the controller's next round is due (the polling grid). */
	uint64_t (*next_round_ns)(void *ctx);
	/* An authenticated hello from `from` (its ports and their places);
	 * may be NULL. */
	void (*on_hello)(void *ctx, const struct tita_addr *from, const struct tita_wire_hello *h,
			 uint64_t now_ns);
	/* An authenticated datagram from `from` under a boot id not heard
	 * from it before (it started, or restarted, maybe as another
	 * titad): before the datagram is taken; may be NULL. */
	void (*on_boot)(void *ctx, const struct tita_addr *from, uint64_t now_ns);
};

/* One peer as titactl shows it. */
struct titad_peer_info {
	struct tita_addr addr;
	bool heard; /* an authenticated datagram arrived */
	uint64_t last_heard_ago_ns;
	uint64_t boot_id;
	uint64_t dgrams_in, dgrams_out, drops;
	uint64_t drops_by_reason[TITA_WIRE_E_COUNT];
	uint64_t control_interval_ns, grant_ttl_ns; /* from its hello */
	uint8_t wire_version; /* the framing it is sent (1 until it shows 2) */
};

struct titad_peer_totals {
	uint64_t dgrams_in, dgrams_out, send_errors, untracked_drops;
	/* Authenticated datagrams that found no slot in the table (full of
	 * peers their traffic confirmed): counted, not acted on. */
	uint64_t no_slot;
	uint64_t drops_by_reason[TITA_WIRE_E_COUNT];
};

/* What this daemon's hellos announce: its ports. */
struct titad_peers_ports {
	uint32_t n;
	struct tita_wire_port ports[TITA_WIRE_HELLO_MAX_PORTS];
};

/* This daemon's identity on the wire. */
struct titad_peers_identity {
	uint64_t boot_id;
	uint32_t key_id; /* the key it sends with */
	uint32_t n_key_ids; /* the keys it accepts */
	uint32_t key_ids[TITA_WIRE_KEYRING_MAX];
};

struct titad_peers;

/* Open the sockets (cfg's port and bind addresses) and the table. kr is
 * copied (and the caller's copy may be wiped); hooks (kept) get hooks_ctx. 0, or -errno with err; on
 * failure *ret is still set, for titad_peers_close(). */
int titad_peers_open(struct titad_peers **ret, struct tita_event *ev,
		     const struct titad_config *cfg, const struct titad_peers_ports *ports,
		     const struct tita_wire_keyring *kr, uint64_t boot_id,
		     const struct titad_peers_hooks *hooks, void *hooks_ctx, uint64_t now_ns,
		     char *err, size_t err_size);
struct titad_peers *titad_peers_close(struct titad_peers *ps);

/* A reloaded config (static peers, coalescing), the ports its hellos
 * announce, and the key ring (copied; NULL: keep it). */
void titad_peers_reconfigure(struct titad_peers *ps, const struct titad_config *cfg,
			     const struct titad_peers_ports *ports,
			     const struct tita_wire_keyring *kr, uint64_t now_ns);

/* The engine's side: queue a message (sent at the next flush), send the
 * queue, and telemetry saw a remote host (a known peer from now on). */
void titad_peers_send(struct titad_peers *ps, const struct tita_msg *m, uint64_t now_ns);
void titad_peers_flush(struct titad_peers *ps, uint64_t now_ns);
void titad_peers_seen(struct titad_peers *ps, const struct tita_addr *a, uint64_t now_ns);

/* Once a second: idle peers leave, known ones get a hello. */
void titad_peers_housekeeping(struct titad_peers *ps, uint64_t now_ns);

/* Snapshots. */
size_t titad_peers_count(const struct titad_peers *ps);
/* Fills up to max, returns how many exist. */
size_t titad_peers_list(const struct titad_peers *ps, struct titad_peer_info *out, size_t max,
			uint64_t now_ns);
void titad_peers_totals(const struct titad_peers *ps, struct titad_peer_totals *ret);
void titad_peers_identity(const struct titad_peers *ps, struct titad_peers_identity *ret);
/* The demand-to-grant histogram. */
void titad_peers_grant_hist(const struct titad_peers *ps, struct titad_hist *ret);

/* For tests: one datagram as if read from a socket at now_ns (arrived at
 * arrived_ns), without the socket. */
void titad_peers_input(struct titad_peers *ps, const struct tita_addr *from, const uint8_t *buf,
		       size_t len, uint64_t now_ns, uint64_t arrived_ns);

#endif /* TITAD_PEER_H */
