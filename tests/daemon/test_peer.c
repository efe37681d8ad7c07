// SPDX-License-Identifier: MIT
/*
 * The peers module on a fake clock: the real codec and table, datagrams
 * handed in as if read from the socket (titad_peers_input()), the engine
 * replaced by hooks that record what reaches it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon_test.h"
#include "event.h"
#include "peer.h"

struct fake_engine {
	uint32_t msgs;
	int new_pair; /* what on_msg answers */
	uint32_t kicks;
};

static int on_msg(void *ctx, const struct tita_msg *m, uint64_t now_ns)
{
	struct fake_engine *e = ctx;

	(void)m;
	(void)now_ns;
	e->msgs++;
	return e->new_pair;
}

static void kick(void *ctx, uint64_t now_ns)
{
	(void)now_ns;
	((struct fake_engine *)ctx)->kicks++;
}

static uint64_t next_round(void *ctx)
{
	(void)ctx;
	return T0;
}

static const struct titad_peers_hooks hooks = { on_msg, kick, next_round };

struct fixture {
	struct tita_event *ev;
	struct titad_peers *ps;
	struct fake_engine engine;
	struct tita_wire_keyring kr;
	struct titad_config cfg;
};

static struct fixture *fixture_new(uint32_t max_peers)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct titad_peers_ports ports = { .n = 1 };
	char err[256] = "";

	assert_non_null(f);
	test_config(&f->cfg);
	f->cfg.max_peers = max_peers;
	test_keyring(&f->kr, 1, 0x42);
	ports.ports[0].addr = tita_addr_from_host_id(1);
	ports.ports[0].line_rate_bps = 100 * TITA_GBPS;
	f->ev = tita_event_new();
	assert_non_null(f->ev);
	assert_int_equal(titad_peers_open(&f->ps, f->ev, &f->cfg, &ports, &f->kr, REAL0, &hooks,
					  &f->engine, T0, err, sizeof(err)),
			 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	titad_peers_close(f->ps);
	tita_event_free(f->ev);
	free(f);
}

/* Whether addr is in the table, and its datagram count. */
static bool peer_info(struct fixture *f, const struct tita_addr *addr, uint64_t now_ns,
		      struct titad_peer_info *ret)
{
	size_t n = titad_peers_count(f->ps);
	struct titad_peer_info *list = calloc(n ? n : 1, sizeof(*list));
	bool found = false;

	n = titad_peers_list(f->ps, list, n, now_ns);
	for (size_t i = 0; i < n; i++)
		if (tita_addr_eq(&list[i].addr, addr)) {
			*ret = list[i];
			found = true;
		}
	free(list);
	return found;
}

static void send_hello(struct fixture *f, struct tita_wire_sender *tx, const struct tita_addr *a,
		       uint64_t now_ns)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t n = test_hello(&f->kr, tx, a, buf, sizeof(buf));

	assert_true(n > 0);
	titad_peers_input(f->ps, a, buf, n, now_ns, now_ns);
}

/*
 * Finding 1: a peer stamped later than the housekeeping's now (the socket
 * read a fresher clock than the loop's batch) was taken as idle for 2^64
 * ns and dropped, its replay window with it. A steady peer stays, with
 * its counters, whatever order its datagrams and the housekeeping come.
 */
static void test_steady_peer_stays(void **state)
{
	struct fixture *f = fixture_new(64);
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = REAL0 - SEC, .seq = 1 };
	struct tita_addr a = tita_addr_from_host_id(2);
	struct titad_peer_info pi;

	(void)state;
	for (uint64_t t = 0; t < 120 * SEC; t += 100 * MS) {
		send_hello(f, &tx, &a, T0 + t + 5 * MS);
		titad_peers_housekeeping(f->ps, T0 + t);
	}
	assert_true(peer_info(f, &a, T0 + 120 * SEC, &pi));
	assert_int_equal(pi.dgrams_in, 1200);
	fixture_free(f);
}

/* The table holds max-peers whatever arrives, strangers a quarter of it. */
static void test_table_bounds(void **state)
{
	struct fixture *f = fixture_new(16);
	uint8_t junk[64];

	(void)state;
	memset(junk, 0xab, sizeof(junk));
	for (uint32_t i = 0; i < 1000; i++) {
		struct tita_addr a = tita_addr_from_host_id(100 + i);

		titad_peers_input(f->ps, &a, junk, sizeof(junk), T0 + i, T0 + i);
	}
	assert_true(titad_peers_count(f->ps) <= 16 / 4);
	for (uint32_t i = 0; i < 100; i++) {
		struct tita_addr a = tita_addr_from_host_id(2000 + i);

		titad_peers_seen(f->ps, &a, T0 + SEC);
	}
	assert_int_equal(titad_peers_count(f->ps), 16);
	fixture_free(f);
}

/* Strangers make room for a peer that authenticates, and leave first. */
static void test_stranger_eviction(void **state)
{
	struct fixture *f = fixture_new(16);
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = REAL0 - SEC, .seq = 1 };
	struct tita_addr real = tita_addr_from_host_id(2);
	struct titad_peer_info pi;
	uint8_t junk[64];

	(void)state;
	memset(junk, 0xab, sizeof(junk));
	for (uint32_t i = 0; i < 12; i++) {
		struct tita_addr a = tita_addr_from_host_id(200 + i);

		titad_peers_seen(f->ps, &a, T0);
	}
	for (uint32_t i = 0; i < 4; i++) {
		struct tita_addr a = tita_addr_from_host_id(100 + i);

		titad_peers_input(f->ps, &a, junk, sizeof(junk), T0 + i, T0 + i);
	}
	assert_int_equal(titad_peers_count(f->ps), 16);
	send_hello(f, &tx, &real, T0 + SEC);
	assert_true(peer_info(f, &real, T0 + SEC, &pi));
	assert_int_equal(pi.dgrams_in, 1);
	assert_int_equal(titad_peers_count(f->ps), 16);
	/* Strangers go after 10 s, known peers after 60 s. */
	titad_peers_housekeeping(f->ps, T0 + 11 * SEC);
	assert_int_equal(titad_peers_count(f->ps), 13);
	fixture_free(f);
}

/* An authenticated demand reaches the engine; its first grant's latency
 * is timed from the demand's arrival. */
static void test_demand_reaches_engine(void **state)
{
	struct fixture *f = fixture_new(16);
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = REAL0 - SEC, .seq = 1 };
	struct tita_addr a = tita_addr_from_host_id(2), me = tita_addr_from_host_id(1);
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t n = test_demand(&f->kr, &tx, &a, &me, buf, sizeof(buf));
	struct titad_peer_totals t;

	(void)state;
	f->engine.new_pair = 1;
	titad_peers_input(f->ps, &a, buf, n, T0, T0);
	assert_int_equal(f->engine.msgs, 1);
	/* The same datagram again is a replay. */
	titad_peers_input(f->ps, &a, buf, n, T0 + 1, T0 + 1);
	assert_int_equal(f->engine.msgs, 1);
	titad_peers_totals(f->ps, &t);
	assert_int_equal(t.dgrams_in, 1);
	assert_int_equal(t.drops_by_reason[TITA_WIRE_E_REPLAYED], 1);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_peer_stays),
		cmocka_unit_test(test_table_bounds),
		cmocka_unit_test(test_stranger_eviction),
		cmocka_unit_test(test_demand_reaches_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
