/* SPDX-License-Identifier: MIT */
/*
 * What the daemon's module tests share: a config with no NIC and no
 * socket of consequence (peers on an ephemeral loopback port), a cluster
 * key, and peer datagrams made with the real codec. Time is whatever the
 * test says it is: the modules read no clock.
 */
#ifndef TITAD_DAEMON_TEST_H
#define TITAD_DAEMON_TEST_H

#include <stdint.h>
#include <string.h>

#include "config.h"
#include "units.h"
#include "wire.h"

#define SEC TITA_NSEC_PER_SEC
#define MS TITA_NSEC_PER_MSEC
/* Fake monotonic and wall clocks: far from zero, as real ones are. */
#define T0 (1000 * SEC)
#define REAL0 (1700000000ull * SEC)

static inline void test_config(struct titad_config *cfg)
{
	titad_config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "test.conf");
	cfg->peer_port = 0; /* ephemeral: tests never send to a peer */
	cfg->n_bind = 1;
	cfg->bind[0] = tita_addr_from_ipv4((const uint8_t[4]){ 127, 0, 0, 1 });
	cfg->max_peers = 16;
	cfg->peer_coalesce_ns = 0;
	cfg->metrics_listen[0] = '\0';
}

static inline void test_keyring(struct tita_wire_keyring *kr, uint32_t id, uint8_t fill)
{
	uint8_t key[TITA_WIRE_KEY_BYTES];

	memset(key, fill, sizeof(key));
	tita_wire_keyring_init(kr);
	tita_wire_keyring_add(kr, id, key);
}

/* A hello from a daemon whose one port is addr. */
static inline size_t test_hello(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
				const struct tita_addr *addr, uint8_t *buf, size_t size)
{
	struct tita_wire_hello h = { .n_ports = 1,
				     .control_interval_ns = MS,
				     .grant_ttl_ns = 10 * MS };
	int n;

	h.ports[0].addr = *addr;
	h.ports[0].line_rate_bps = 100 * TITA_GBPS;
	n = tita_wire_encode_hello(kr, tx, &h, buf, size);
	return n > 0 ? (size_t)n : 0;
}

/* A demand from sender to receiver. */
static inline size_t test_demand(const struct tita_wire_keyring *kr, struct tita_wire_sender *tx,
				 const struct tita_addr *sender, const struct tita_addr *receiver,
				 uint8_t *buf, size_t size)
{
	struct tita_msg m = { .kind = TITA_MSG_DEMAND, .peer = *receiver, .n_entries = 1 };
	uint32_t consumed;
	int n;

	m.demand[0] = (struct tita_demand_entry){ .sender = *sender,
						  .receiver = *receiver,
						  .weight_milli = TITA_WEIGHT_ONE,
						  .demand_bps = TITA_GBPS };
	n = tita_wire_encode_msg(kr, tx, &m, 0, buf, size, &consumed);
	return n > 0 ? (size_t)n : 0;
}

#endif /* TITAD_DAEMON_TEST_H */
