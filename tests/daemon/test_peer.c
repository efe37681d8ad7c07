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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "daemon_test.h"
#include "event.h"
#include "log.h"
#include "peer.h"

struct fake_engine {
	uint32_t msgs;
	int new_pair; /* what on_msg answers */
	uint32_t kicks;
	uint32_t boots, hellos; /* on_boot, on_hello */
	uint32_t leaf_leaders; /* the last hello's */
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

static void on_hello(void *ctx, const struct tita_addr *from, const struct tita_wire_hello *h,
		     uint64_t now_ns)
{
	struct fake_engine *e = ctx;

	(void)from;
	(void)now_ns;
	e->hellos++;
	e->leaf_leaders = h->leaf_leaders;
}

static void on_boot(void *ctx, const struct tita_addr *from, uint64_t now_ns)
{
	(void)from;
	(void)now_ns;
	((struct fake_engine *)ctx)->boots++;
}

static const struct titad_peers_hooks hooks = { on_msg, kick, next_round, on_hello, on_boot };

struct fixture {
	struct tita_event *ev;
	struct titad_peers *ps;
	struct fake_engine engine;
	struct tita_wire_keyring kr;
	struct titad_config cfg;
};

/* titad's peers, its one port at addr, sending to peer_port (0: none). */
static struct fixture *fixture_open(uint32_t max_peers, uint16_t peer_port, struct tita_addr addr,
				    struct titad_peers_ports *ret_ports)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct titad_peers_ports ports = { .n = 1 };
	char err[256] = "";

	assert_non_null(f);
	test_config(&f->cfg);
	f->cfg.max_peers = max_peers;
	f->cfg.peer_port = peer_port;
	test_keyring(&f->kr, 1, 0x42);
	ports.ports[0].addr = addr;
	ports.ports[0].line_rate_bps = 100 * TITA_GBPS;
	if (ret_ports)
		*ret_ports = ports;
	f->ev = tita_event_new();
	assert_non_null(f->ev);
	assert_int_equal(titad_peers_open(&f->ps, f->ev, &f->cfg, &ports, &f->kr, REAL0, &hooks,
					  &f->engine, T0, err, sizeof(err)),
			 0);
	return f;
}

static struct fixture *fixture_new(uint32_t max_peers)
{
	return fixture_open(max_peers, 0, tita_addr_from_host_id(1), NULL);
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

/* The peers module reads the wall clock through the loop: set the batch. */
static void at_time(struct fixture *f, uint64_t now_ns)
{
	assert_true(tita_event_dispatch(f->ev, now_ns, REAL0 + (now_ns - T0), 0) >= 0);
}

static uint64_t dgrams_in(struct fixture *f, const struct tita_addr *a, uint64_t now_ns)
{
	struct titad_peer_info pi;

	return peer_info(f, a, now_ns, &pi) ? pi.dgrams_in : 0;
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

/*
 * Finding 3: a key holder's valid hellos from spoofed sources made 4,096
 * "known" peers, and a real peer dropped meanwhile could not get back in;
 * a datagram that found no slot went uncounted. Peers that only
 * authenticated are evicted least recent first; peers whose traffic
 * confirmed them are not; an authenticated datagram with no slot left is
 * counted.
 */
static void test_key_holder_cannot_take_table(void **state)
{
	struct fixture *f = fixture_new(16);
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = REAL0 - SEC, .seq = 1 };
	struct tita_addr real = tita_addr_from_host_id(2);
	struct titad_peer_totals t;

	(void)state;
	at_time(f, T0);
	for (uint32_t i = 0; i < 12; i++) {
		struct tita_addr a = tita_addr_from_host_id(100 + i);

		titad_peers_seen(f->ps, &a, T0);
	}
	for (uint32_t i = 0; i < 1000; i++) {
		struct tita_addr spoofed = tita_addr_from_host_id(10000 + i);

		send_hello(f, &tx, &spoofed, T0 + i);
	}
	assert_int_equal(titad_peers_count(f->ps), 16);
	for (uint32_t i = 0; i < 12; i++) {
		struct tita_addr a = tita_addr_from_host_id(100 + i);

		assert_int_equal(dgrams_in(f, &a, T0 + SEC), 0);
		assert_true(titad_peers_count(f->ps) == 16);
	}
	/* The real peer gets in at once, at the first datagram. */
	send_hello(f, &tx, &real, T0 + SEC);
	assert_int_equal(dgrams_in(f, &real, T0 + SEC), 1);
	titad_peers_totals(f->ps, &t);
	assert_int_equal(t.no_slot, 0);
	/* A table of confirmed peers only: the next one is counted. */
	for (uint32_t i = 0; i < 16; i++) {
		struct tita_addr a = tita_addr_from_host_id(200 + i);

		titad_peers_seen(f->ps, &a, T0 + 2 * SEC);
	}
	send_hello(f, &tx, &real, T0 + 3 * SEC);
	titad_peers_totals(f->ps, &t);
	assert_int_equal(t.no_slot, 1);
	fixture_free(f);
}

/* Finding 3: rejected datagrams kept a quiet peer's slot alive. */
static void test_rejected_do_not_refresh(void **state)
{
	struct fixture *f = fixture_new(16);
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = REAL0 - SEC, .seq = 1 };
	struct tita_addr a = tita_addr_from_host_id(2);
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	size_t n = test_hello(&f->kr, &tx, &a, buf, sizeof(buf));

	(void)state;
	at_time(f, T0);
	titad_peers_input(f->ps, &a, buf, n, T0, T0);
	assert_int_equal(dgrams_in(f, &a, T0), 1);
	/* The same hello replayed every second: refused, and no refresh. */
	for (uint64_t t = SEC; t <= 61 * SEC; t += SEC) {
		titad_peers_input(f->ps, &a, buf, n, T0 + t, T0 + t);
		titad_peers_housekeeping(f->ps, T0 + t);
	}
	assert_int_equal(titad_peers_count(f->ps), 0);
	fixture_free(f);
}

/*
 * Finding 3: one forged hello with boot id 2^64-1 from a peer's address
 * locked the peer out for good. It is refused now; and a forged boot id
 * within the skew locks the peer out only while it keeps being sent: its
 * real datagrams are a restart once the forged boot is silent.
 */
static void test_forged_boot_id(void **state)
{
	struct fixture *f = fixture_new(16);
	struct tita_wire_sender real = { .key_id = 1, .boot_id = REAL0 - 10 * SEC, .seq = 1 };
	struct tita_wire_sender forged = { .key_id = 1, .boot_id = UINT64_MAX, .seq = 1 };
	struct tita_addr a = tita_addr_from_host_id(2);
	struct titad_peer_totals t;
	uint8_t captured[TITA_WIRE_MAX_BYTES];
	size_t n;

	(void)state;
	at_time(f, T0);
	send_hello(f, &real, &a, T0);
	send_hello(f, &forged, &a, T0 + MS);
	titad_peers_totals(f->ps, &t);
	assert_int_equal(t.drops_by_reason[TITA_WIRE_E_BOOT_AHEAD], 1);
	send_hello(f, &real, &a, T0 + 2 * MS);
	assert_int_equal(dgrams_in(f, &a, T0), 2);
	/* Within the skew: installed, then the real boot is stale... */
	forged.boot_id = REAL0 + 60 * SEC;
	n = test_hello(&f->kr, &forged, &a, captured, sizeof(captured));
	titad_peers_input(f->ps, &a, captured, n, T0 + 3 * MS, T0 + 3 * MS);
	send_hello(f, &real, &a, T0 + SEC);
	assert_int_equal(dgrams_in(f, &a, T0 + SEC), 3);
	/* ...until the forged one has been silent for three hello periods. */
	at_time(f, T0 + 4 * SEC);
	send_hello(f, &real, &a, T0 + 4 * SEC);
	assert_int_equal(dgrams_in(f, &a, T0 + 4 * SEC), 4);
	send_hello(f, &real, &a, T0 + 4 * SEC + MS);
	assert_int_equal(dgrams_in(f, &a, T0 + 4 * SEC), 5);
	/* The forged datagram replayed is refused, however quiet it was
	 * (a key holder who keeps forging new ones keeps the peer out: a
	 * shared key cannot tell them from the real peer's). */
	at_time(f, T0 + 10 * SEC);
	titad_peers_input(f->ps, &a, captured, n, T0 + 10 * SEC, T0 + 10 * SEC);
	assert_int_equal(dgrams_in(f, &a, T0 + 10 * SEC), 5);
	send_hello(f, &real, &a, T0 + 10 * SEC + MS);
	assert_int_equal(dgrams_in(f, &a, T0 + 10 * SEC), 6);
	fixture_free(f);
}

/* A peer that restarted with its clock stepped back is back within
 * seconds, not after its entry expired (a minute or never). */
static void test_restart_clock_behind(void **state)
{
	struct fixture *f = fixture_new(16);
	struct tita_wire_sender before = { .key_id = 1, .boot_id = REAL0 - 10 * SEC, .seq = 1 };
	struct tita_wire_sender after = { .key_id = 1, .boot_id = REAL0 - 3600 * SEC, .seq = 1 };
	struct tita_addr a = tita_addr_from_host_id(2);

	(void)state;
	at_time(f, T0);
	titad_peers_seen(f->ps, &a, T0);
	send_hello(f, &before, &a, T0);
	at_time(f, T0 + SEC);
	send_hello(f, &after, &a, T0 + SEC);
	assert_int_equal(dgrams_in(f, &a, T0 + SEC), 1);
	at_time(f, T0 + 3 * SEC + MS);
	send_hello(f, &after, &a, T0 + 3 * SEC + MS);
	assert_int_equal(dgrams_in(f, &a, T0 + 4 * SEC), 2);
	fixture_free(f);
}

/* A confirmed peer that left and came back resumes its replay window:
 * what was captured before it left is still refused. */
static void test_replay_window_survives(void **state)
{
	struct fixture *f = fixture_new(16);
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = REAL0 - SEC, .seq = 1 };
	struct tita_addr a = tita_addr_from_host_id(2), me = tita_addr_from_host_id(1);
	uint8_t captured[TITA_WIRE_MAX_BYTES], buf[TITA_WIRE_MAX_BYTES];
	size_t nc, n;
	struct titad_peer_totals t;

	(void)state;
	at_time(f, T0);
	titad_peers_seen(f->ps, &a, T0);
	nc = test_demand(&f->kr, &tx, &a, &me, captured, sizeof(captured));
	titad_peers_input(f->ps, &a, captured, nc, T0, T0);
	n = test_demand(&f->kr, &tx, &a, &me, buf, sizeof(buf));
	titad_peers_input(f->ps, &a, buf, n, T0 + MS, T0 + MS);
	assert_int_equal(f->engine.msgs, 2);
	titad_peers_housekeeping(f->ps, T0 + 61 * SEC);
	assert_int_equal(titad_peers_count(f->ps), 0);
	at_time(f, T0 + 62 * SEC);
	titad_peers_input(f->ps, &a, captured, nc, T0 + 62 * SEC, T0 + 62 * SEC);
	assert_int_equal(f->engine.msgs, 2);
	titad_peers_totals(f->ps, &t);
	assert_int_equal(t.drops_by_reason[TITA_WIRE_E_REPLAYED], 1);
	n = test_demand(&f->kr, &tx, &a, &me, buf, sizeof(buf));
	titad_peers_input(f->ps, &a, buf, n, T0 + 62 * SEC, T0 + 62 * SEC);
	assert_int_equal(f->engine.msgs, 3);
	fixture_free(f);
}

/* The lines written to stderr while fn runs. */
static size_t stderr_lines(void (*fn)(struct fixture *f), struct fixture *f)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t lines = 0;
	int ch;

	assert_non_null(tmp);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	fn(f);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(tmp);
	while ((ch = fgetc(tmp)) != EOF)
		lines += ch == '\n';
	fclose(tmp);
	return lines;
}

/* 20,000 forged datagrams a second from as many sources, for 30 s. */
static void flood(struct fixture *f)
{
	struct tita_wire_sender tx = { .key_id = 1, .boot_id = REAL0, .seq = 1 };
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint32_t k = 0;

	for (uint64_t t = 0; t < 30 * SEC; t += 10 * MS) {
		at_time(f, T0 + t);
		for (int i = 0; i < 200; i++, k++) {
			struct tita_addr a = tita_addr_from_host_id(0x100000 + k);
			size_t n = test_hello(&f->kr, &tx, &a, buf, sizeof(buf));

			assert_true(n > 0);
			buf[n - 1] ^= 1; /* a bad MAC */
			titad_peers_input(f->ps, &a, buf, n, T0 + t, T0 + t);
		}
		if (t % SEC == 0) {
			titad_peers_housekeeping(f->ps, T0 + t);
			tita_log_flush();
		}
	}
}

/*
 * Finding 4: 20k forged datagrams a second from random sources wrote 600k
 * warning lines in 30 s, each source within its own limit. The log as a
 * whole writes its burst, then TITA_LOG_PER_SEC a second, and says how
 * many it held back.
 */
static void test_log_flood(void **state)
{
	struct fixture *f = fixture_new(4096);
	size_t lines;

	(void)state;
	tita_log_setup(TITAD_LOG_INFO);
	tita_log_set_clock(f->ev);
	lines = stderr_lines(flood, f);
	tita_log_set_clock(NULL);
	print_message("%zu lines for 600000 forged datagrams, %llu suppressed\n", lines,
		      (unsigned long long)tita_log_suppressed_total());
	assert_true(lines <= TITA_LOG_BURST + 31 * TITA_LOG_PER_SEC);
	assert_true(lines >= 30 * TITA_LOG_PER_SEC);
	assert_true(tita_log_suppressed_total() > 590000);
	fixture_free(f);
}

/*
 * The rolling upgrade, seen from a peer that listens on its loopback
 * address (127.0.0.2, titad's peer port) for what titad sends it.
 */
struct upgrade_peer {
	int fd;
	struct tita_addr addr, titad_addr;
	struct tita_wire_sender tx;
	/* What titad sent, in order: its (boot id, sequence) must grow
	 * whichever framing carries it. */
	uint64_t last_boot, last_seq;
};

/* Every datagram titad sent the peer since the last call: each in
 * want_version, each one that peer can decode (version 1: as a version-1
 * node does, every entry naming its origin, so without the source);
 * how many. */
static unsigned expect_sent(struct upgrade_peer *up, uint8_t want_version)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	static struct tita_wire_msg out;
	unsigned n = 0;
	ssize_t len;
	struct tita_wire_keyring kr;

	test_keyring(&kr, 1, 0x42);
	while ((len = recv(up->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		assert_int_equal(buf[4], want_version);
		assert_int_equal(tita_wire_decode(&kr, NULL, &up->titad_addr, buf, (size_t)len,
						  &out),
				 TITA_WIRE_OK);
		if (want_version == TITA_WIRE_V1_VERSION)
			assert_int_equal(tita_wire_decode(&kr, NULL, NULL, buf, (size_t)len, &out),
					 TITA_WIRE_OK);
		if (out.body == TITA_WIRE_BODY_HELLO)
			assert_int_equal(out.hello.wire_version, TITA_WIRE_VERSION);
		assert_true(out.hdr.boot_id > up->last_boot ||
			    (out.hdr.boot_id == up->last_boot && out.hdr.seq > up->last_seq));
		up->last_boot = out.hdr.boot_id;
		up->last_seq = out.hdr.seq;
		n++;
	}
	return n;
}

/* titad grants the peer one pair (the engine's message) and greets it. */
static void titad_sends(struct fixture *f, struct upgrade_peer *up, uint64_t now_ns)
{
	struct tita_msg m = { .kind = TITA_MSG_GRANT, .peer = up->addr, .n_entries = 1 };

	m.grant[0] = (struct tita_grant_entry){ .sender = up->addr,
						.receiver = up->titad_addr,
						.rate_bps = TITA_GBPS,
						.ttl_ns = 10 * MS };
	at_time(f, now_ns);
	titad_peers_send(f->ps, &m, now_ns);
	titad_peers_housekeeping(f->ps, now_ns); /* a hello, once a second */
}

/* The peer sends titad a demand in this framing. */
static size_t peer_demand(struct fixture *f, struct upgrade_peer *up, uint8_t version, uint8_t *buf,
			  uint64_t now_ns)
{
	struct tita_msg m = { .kind = TITA_MSG_DEMAND, .peer = up->titad_addr, .n_entries = 1 };
	uint32_t used;
	int n;

	m.demand[0] = (struct tita_demand_entry){ .sender = up->addr,
						  .receiver = up->titad_addr,
						  .weight_milli = TITA_WEIGHT_ONE,
						  .demand_bps = TITA_GBPS };
	n = tita_wire_encode_msg_version(&f->kr, &up->tx, version, &m, 0, buf, TITA_WIRE_MAX_BYTES,
					 &used);
	assert_true(n > 0);
	at_time(f, now_ns);
	titad_peers_input(f->ps, &up->addr, buf, (size_t)n, now_ns, now_ns);
	return (size_t)n;
}

/* The peer greets titad in this framing, saying it decodes up to decodes. */
static void peer_hello(struct fixture *f, struct upgrade_peer *up, uint8_t version,
		       uint32_t decodes, uint64_t now_ns)
{
	struct tita_wire_hello h = { .n_ports = 1,
				     .control_interval_ns = MS,
				     .grant_ttl_ns = 10 * MS,
				     .wire_version = decodes };
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	int n;

	h.ports[0].addr = up->addr;
	h.ports[0].line_rate_bps = 100 * TITA_GBPS;
	n = tita_wire_encode_hello_version(&f->kr, &up->tx, version, &h, buf, sizeof(buf));
	assert_true(n > 0);
	at_time(f, now_ns);
	titad_peers_input(f->ps, &up->addr, buf, (size_t)n, now_ns, now_ns);
}

/* A peer at 127.0.0.2 on a socket of its own, and titad (127.0.0.1) set
 * to send to that socket's port. */
static struct fixture *upgrade_open(struct upgrade_peer *up, struct titad_peers_ports *ports)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	*up = (struct upgrade_peer){
		.addr = tita_addr_from_ipv4((const uint8_t[4]){ 127, 0, 0, 2 }),
		.titad_addr = tita_addr_from_ipv4((const uint8_t[4]){ 127, 0, 0, 1 }),
	};
	up->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(up->fd >= 0);
	sin.sin_addr.s_addr = htonl(0x7f000002);
	assert_int_equal(bind(up->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(up->fd, (struct sockaddr *)&sin, &sl), 0);
	return fixture_open(16, ntohs(sin.sin_port), up->titad_addr, ports);
}

/*
 * A node not yet upgraded drops version 2 (unknown_version): titad writes
 * version 1 to a peer until that peer shows it decodes version 2 (a
 * version-2 datagram, or a hello that says so), version 2 after, and
 * version 1 again when the peer comes back (a newer boot id) speaking
 * version 1: a downgrade. A replayed version-2 datagram of the old boot
 * changes nothing; [peers] wire-version pins the framing.
 */
static void test_rolling_upgrade(void **state)
{
	struct upgrade_peer up;
	struct titad_peers_ports ports;
	struct fixture *f;
	uint8_t captured_v2[TITA_WIRE_MAX_BYTES];
	uint64_t now = T0;
	size_t captured_len;

	(void)state;
	f = upgrade_open(&up, &ports);

	/* Known from traffic, never heard: version 1 (with the hello that
	 * says titad decodes 2). */
	at_time(f, now);
	titad_peers_seen(f->ps, &up.addr, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_V1_VERSION), 2);

	/* A version-1 node: its demands and hello (which does not say 2). */
	up.tx = (struct tita_wire_sender){ .key_id = 1, .boot_id = REAL0 - 30 * SEC, .seq = 1 };
	now += SEC;
	peer_demand(f, &up, TITA_WIRE_V1_VERSION, captured_v2, now);
	peer_hello(f, &up, TITA_WIRE_V1_VERSION, TITA_WIRE_V1_VERSION, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_V1_VERSION), 2);

	/* Upgraded (a new boot): its first version-2 datagram, then version 2. */
	up.tx = (struct tita_wire_sender){ .key_id = 1, .boot_id = REAL0 - 20 * SEC, .seq = 1 };
	now += SEC;
	captured_len = peer_demand(f, &up, TITA_WIRE_VERSION, captured_v2, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_VERSION), 2);

	/* Pinned by the operator, whatever the peer shows; auto again. */
	f->cfg.wire_version = TITA_WIRE_V1_VERSION;
	titad_peers_reconfigure(f->ps, &f->cfg, &ports, NULL, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_V1_VERSION), 1);
	f->cfg.wire_version = 0;
	titad_peers_reconfigure(f->ps, &f->cfg, &ports, NULL, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_VERSION), 1);

	/* Downgraded (a new boot, version 1 again): version 1 at once. */
	up.tx = (struct tita_wire_sender){ .key_id = 1, .boot_id = REAL0 - 10 * SEC, .seq = 1 };
	now += SEC;
	peer_demand(f, &up, TITA_WIRE_V1_VERSION, captured_v2 + captured_len, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_V1_VERSION), 2);

	/* The old boot's version-2 datagram, replayed: refused, no switch. */
	at_time(f, now);
	titad_peers_input(f->ps, &up.addr, captured_v2, captured_len, now, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_V1_VERSION), 1);

	/* Upgraded again, and before it heard from titad it writes version
	 * 1, with a hello that says it decodes 2: version 2; its version-1
	 * datagrams of that boot (sent before it heard) change nothing. */
	up.tx = (struct tita_wire_sender){ .key_id = 1, .boot_id = REAL0 - 5 * SEC, .seq = 1 };
	now += SEC;
	peer_hello(f, &up, TITA_WIRE_V1_VERSION, 0, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_VERSION), 2);
	peer_demand(f, &up, TITA_WIRE_V1_VERSION, captured_v2 + captured_len, now);
	titad_sends(f, &up, now);
	assert_int_equal(expect_sent(&up, TITA_WIRE_VERSION), 1);

	close(up.fd);
	fixture_free(f);
}

/* The hellos titad sent the peer since the last call (and no other
 * datagram); the leaders the last one says titad follows. */
static unsigned hellos_sent(struct upgrade_peer *up, uint32_t *ret_leaf_leaders)
{
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	static struct tita_wire_msg out;
	struct tita_wire_keyring kr;
	unsigned n = 0;
	ssize_t len;

	test_keyring(&kr, 1, 0x42);
	while ((len = recv(up->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		assert_int_equal(tita_wire_decode(&kr, NULL, &up->titad_addr, buf, (size_t)len,
						  &out),
				 TITA_WIRE_OK);
		assert_int_equal(out.body, TITA_WIRE_BODY_HELLO);
		*ret_leaf_leaders = out.hello.leaf_leaders;
		n++;
	}
	return n;
}

/*
 * A peer heard under a boot id not heard from it before (it started, or
 * restarted, maybe as an older titad) is said so (on_boot, which makes the
 * fabric forget the leaders it follows) before its datagram is taken, and
 * titad's hello goes to it at once, not at the next second: it learns
 * within a round trip what titad decodes and the leaders titad follows
 * (its hello says [controller] leaf-leaders). Once a boot.
 */
static void test_new_boot_hello_at_once(void **state)
{
	struct upgrade_peer up;
	struct fixture *f;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	uint64_t now = T0;
	uint32_t says = 0;

	(void)state;
	f = upgrade_open(&up, NULL);

	up.tx = (struct tita_wire_sender){ .key_id = 1, .boot_id = REAL0 - 30 * SEC, .seq = 1 };
	peer_demand(f, &up, TITA_WIRE_VERSION, buf, now);
	titad_peers_flush(f->ps, now);
	assert_int_equal(f->engine.boots, 1);
	assert_int_equal(hellos_sent(&up, &says), 1);
	assert_int_equal(says, f->cfg.params.leaf_leaders);
	/* The same boot: nothing more until the second is up. */
	now += MS;
	peer_demand(f, &up, TITA_WIRE_VERSION, buf, now);
	peer_hello(f, &up, TITA_WIRE_VERSION, 0, now);
	titad_peers_flush(f->ps, now);
	assert_int_equal(f->engine.boots, 1);
	assert_int_equal(f->engine.hellos, 1);
	assert_int_equal(f->engine.leaf_leaders, 1); /* the hello did not say */
	assert_int_equal(hellos_sent(&up, &says), 0);
	/* Restarted: said, and greeted at once. */
	up.tx = (struct tita_wire_sender){ .key_id = 1, .boot_id = REAL0 - 20 * SEC, .seq = 1 };
	now += MS;
	peer_demand(f, &up, TITA_WIRE_VERSION, buf, now);
	titad_peers_flush(f->ps, now);
	assert_int_equal(f->engine.boots, 2);
	assert_int_equal(hellos_sent(&up, &says), 1);
	/* A flood of new boots (a key holder's hellos from spoofed sources
	 * each are one) is greeted at once only up to the burst a period:
	 * two went in this second already. */
	for (int k = 1; k <= 40; k++) {
		up.tx = (struct tita_wire_sender){ .key_id = 1,
						   .boot_id = REAL0 - 20 * SEC + (uint64_t)k * MS,
						   .seq = 1 };
		now += 10 * TITA_NSEC_PER_USEC;
		peer_demand(f, &up, TITA_WIRE_VERSION, buf, now);
		titad_peers_flush(f->ps, now);
	}
	assert_int_equal(f->engine.boots, 42);
	assert_int_equal(hellos_sent(&up, &says), 30);

	close(up.fd);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_peer_stays),
		cmocka_unit_test(test_table_bounds),
		cmocka_unit_test(test_stranger_eviction),
		cmocka_unit_test(test_demand_reaches_engine),
		cmocka_unit_test(test_key_holder_cannot_take_table),
		cmocka_unit_test(test_rejected_do_not_refresh),
		cmocka_unit_test(test_forged_boot_id),
		cmocka_unit_test(test_restart_clock_behind),
		cmocka_unit_test(test_replay_window_survives),
		cmocka_unit_test(test_log_flood),
		cmocka_unit_test(test_rolling_upgrade),
		cmocka_unit_test(test_new_boot_hello_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
