// SPDX-License-Identifier: MIT
/*
 * The fabric's messages as titad carries them: three controllers (two
 * NICs under one leaf, one under another, two spines) whose every message
 * is encoded, authenticated and decoded by the wire codec before the
 * addressee's controller sees it, and whose places travel in hellos. Each
 * decoded message must equal what its controller sent, field by field;
 * leaf reports and answers must flow between the leaf's member and its
 * leader (the lower address), and the leader's caps and spines must come
 * back to the member's pairs. Probes are answered by a stand-in ECMP hash
 * of the source port, paths applied at once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tita/ctl.h"
#include "wire.h"

#define N 3
#define LINE_BPS (100 * TITA_GBPS)

struct host {
	struct tita_ctl *ctl;
	struct tita_addr addr;
	struct tita_place place;
	/* What its hello says of its leaders: 0 leaves the field out (a titad
	 * from before it, which follows one). */
	uint32_t leaf_leaders;
	struct tita_wire_sender tx;
	struct tita_wire_replay replay[N]; /* by sender */
	uint64_t rate_bps[N]; /* TX pairs' programmed rates, by remote */
};

static struct host hosts[N];
static struct tita_wire_keyring kr;
static uint64_t n_by_kind[5], n_entries_by_kind[5];

static int host_of(const struct tita_addr *a)
{
	for (int i = 0; i < N; i++)
		if (tita_addr_eq(&hosts[i].addr, a))
			return i;
	fail_msg("no host has that address");
	return -1;
}

static void expect_leaf_eq(const struct tita_leaf_entry *a, const struct tita_leaf_entry *b)
{
	assert_memory_equal(&a->member, &b->member, sizeof(a->member));
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
}

static void expect_demand_eq(const struct tita_demand_entry *a, const struct tita_demand_entry *b)
{
	assert_memory_equal(&a->sender, &b->sender, 16);
	assert_memory_equal(&a->receiver, &b->receiver, 16);
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
}

static void expect_grant_eq(const struct tita_grant_entry *a, const struct tita_grant_entry *b)
{
	assert_memory_equal(&a->sender, &b->sender, 16);
	assert_memory_equal(&a->receiver, &b->receiver, 16);
	assert_int_equal(a->job_id, b->job_id);
	assert_int_equal(a->ce_ppm, b->ce_ppm);
	assert_int_equal(a->rate_bps, b->rate_bps);
	assert_int_equal(a->ttl_ns, b->ttl_ns);
	assert_int_equal(a->room_mask, b->room_mask);
	assert_int_equal(a->move, b->move);
	assert_int_equal(a->swap, b->swap);
	assert_int_equal(a->has_spine, b->has_spine);
	if (a->has_spine)
		assert_int_equal(a->spine, b->spine);
}

/* What titad does with one popped message: datagrams out from the sending
 * NIC, each decoded at the addressee, checked against what was sent, and
 * handed to its controller. */
static void carry(int from, const struct tita_msg *m, uint64_t now_ns)
{
	int to = host_of(&m->peer);
	uint32_t start = 0;

	while (start < m->n_entries) {
		uint8_t buf[TITA_WIRE_MAX_BYTES];
		struct tita_wire_msg out;
		uint32_t consumed = 0;
		int len = tita_wire_encode_msg(&kr, &hosts[from].tx, m, start, buf, sizeof(buf),
					       &consumed);
		enum tita_wire_error e;

		if (len < 0)
			fail_msg("encode: kind %d, %u entries from %u: %s", m->kind, m->n_entries,
				 start, strerror(-len));
		e = tita_wire_decode(&kr, &hosts[to].replay[from], &hosts[from].addr, buf,
				     (size_t)len, &out);
		if (e != TITA_WIRE_OK)
			fail_msg("decode: kind %d: %s", m->kind, tita_wire_error_name(e));
		assert_int_equal(out.body, TITA_WIRE_BODY_MSG);
		assert_int_equal(out.msg.kind, m->kind);
		assert_int_equal(out.msg.n_entries, consumed);
		assert_memory_equal(&out.msg.peer, &hosts[from].addr, 16);
		for (uint32_t i = 0; i < consumed; i++) {
			switch (m->kind) {
			case TITA_MSG_DEMAND:
				expect_demand_eq(&out.msg.demand[i], &m->demand[start + i]);
				break;
			case TITA_MSG_GRANT:
				expect_grant_eq(&out.msg.grant[i], &m->grant[start + i]);
				break;
			case TITA_MSG_LEAF_REPORT:
			case TITA_MSG_LEAF_ANSWER:
				expect_leaf_eq(&out.msg.leaf[i], &m->leaf[start + i]);
				break;
			}
		}
		if (m->kind == TITA_MSG_LEAF_REPORT || m->kind == TITA_MSG_LEAF_ANSWER) {
			assert_int_equal(out.msg.leaf_id, m->leaf_id);
			assert_int_equal(out.msg.up_room_mask, m->up_room_mask);
			assert_int_equal(out.msg.down_room_mask, m->down_room_mask);
			assert_int_equal(out.msg.ttl_ns, m->ttl_ns);
		}
		n_by_kind[m->kind]++;
		n_entries_by_kind[m->kind] += consumed;
		assert_true(tita_ctl_on_msg(hosts[to].ctl, &out.msg, now_ns) >= 0);
		start += consumed;
	}
}

/* Every host's hello to every other: each learns the others' leaves and
 * the leaders they follow. */
static void hellos(void)
{
	for (int from = 0; from < N; from++) {
		struct tita_wire_hello h = { .n_ports = 1,
					     .control_interval_ns = 100 * TITA_NSEC_PER_USEC,
					     .grant_ttl_ns = 10 * TITA_NSEC_PER_MSEC,
					     .leaf_leaders = hosts[from].leaf_leaders };

		h.ports[0] = (struct tita_wire_port){ .addr = hosts[from].addr,
						      .line_rate_bps = LINE_BPS,
						      .place = hosts[from].place };
		for (int to = 0; to < N; to++) {
			uint8_t buf[TITA_WIRE_MAX_BYTES];
			struct tita_wire_msg out;
			int len;

			if (to == from)
				continue;
			len = tita_wire_encode_hello(&kr, &hosts[from].tx, &h, buf, sizeof(buf));
			assert_true(len > 0);
			assert_int_equal(tita_wire_decode(&kr, &hosts[to].replay[from],
							  &hosts[from].addr, buf, (size_t)len,
							  &out),
					 TITA_WIRE_OK);
			assert_int_equal(out.body, TITA_WIRE_BODY_HELLO);
			assert_int_equal(out.hello.n_ports, 1);
			assert_int_equal(out.hello.ports[0].place.leaf, hosts[from].place.leaf);
			assert_int_equal(out.hello.ports[0].place.n_spines, 2);
			assert_int_equal(out.hello.ports[0].place.spine_bps, LINE_BPS);
			assert_int_equal(out.hello.leaf_leaders,
					 hosts[from].leaf_leaders ? hosts[from].leaf_leaders : 1);
			/* What titad does with a hello's places and leaders
			 * (titad_fabric_hello()). */
			assert_int_equal(tita_ctl_peer_place(hosts[to].ctl,
							     &out.hello.ports[0].addr,
							     out.hello.ports[0].place.leaf),
					 0);
			assert_int_equal(tita_ctl_peer_leaders(hosts[to].ctl,
							       &out.hello.ports[0].addr,
							       out.hello.leaf_leaders),
					 0);
		}
	}
}

/* The switches' ECMP, standing in: a hash of the source port. */
static uint16_t spine_of(uint16_t sport)
{
	return (uint16_t)(((uint32_t)sport * 2654435761u >> 13) % 2);
}

/*
 * old_member: host 1 (the higher address of leaf 11) runs a titad from
 * before two leaders (it follows one, and its hellos leave the field out):
 * host 0 leads both directions, for both of them.
 */
static void leaf_over_wire(bool old_member)
{
	struct tita_ctl_params p;
	const uint64_t tick = 100 * TITA_NSEC_PER_USEC;
	uint64_t now = TITA_NSEC_PER_SEC;
	static const uint8_t key[TITA_WIRE_KEY_BYTES] = { 1, 2, 3 };
	struct tita_addr members[2];

	memset(n_by_kind, 0, sizeof(n_by_kind));
	memset(n_entries_by_kind, 0, sizeof(n_entries_by_kind));
	tita_wire_keyring_init(&kr);
	assert_int_equal(tita_wire_keyring_add(&kr, 1, key), 0);
	tita_ctl_params_default(&p);
	for (int i = 0; i < N; i++) {
		uint8_t v4[4] = { 10, 0, (uint8_t)(i < 2 ? 1 : 2), (uint8_t)(1 + i % 2) };

		memset(&hosts[i], 0, sizeof(hosts[i]));
		hosts[i].addr = tita_addr_from_ipv4(v4);
		hosts[i].place = (struct tita_place){ .leaf = i < 2 ? 11 : 22,
						      .n_spines = 2,
						      .spine_bps = LINE_BPS };
		hosts[i].tx = (struct tita_wire_sender){ .key_id = 1, .boot_id = 7, .seq = 1 };
		for (int k = 0; k < N; k++)
			tita_wire_replay_init(&hosts[i].replay[k]);
		p.leaf_leaders = old_member && i == 1 ? 1 : 2;
		hosts[i].leaf_leaders = old_member && i == 1 ? 0 : p.leaf_leaders;
		hosts[i].ctl = tita_ctl_new(&p);
		assert_non_null(hosts[i].ctl);
		tita_ctl_seed(hosts[i].ctl, 1 + (uint64_t)i);
		assert_int_equal(tita_ctl_port_add(hosts[i].ctl, &hosts[i].addr, LINE_BPS), 0);
	}
	members[0] = hosts[0].addr;
	members[1] = hosts[1].addr;
	assert_int_equal(tita_ctl_port_set_place(hosts[0].ctl, &hosts[0].addr, &hosts[0].place,
						 members, 2),
			 0);
	assert_int_equal(tita_ctl_port_set_place(hosts[1].ctl, &hosts[1].addr, &hosts[1].place,
						 members, 2),
			 0);
	assert_int_equal(tita_ctl_port_set_place(hosts[2].ctl, &hosts[2].addr, &hosts[2].place,
						 &hosts[2].addr, 1),
			 0);
	hellos();

	/* Hosts 0 and 1 (leaf 11) each send host 2 (leaf 22) all they can,
	 * for 30 ms. */
	for (int round = 0; round < 300; round++) {
		now += tick;
		for (int s = 0; s < 2; s++) {
			uint64_t r = hosts[s].rate_bps[2] ? hosts[s].rate_bps[2] : LINE_BPS / 50;
			struct tita_tx_sample ts = { .local = hosts[s].addr,
						     .remote = hosts[2].addr,
						     .interval_ns = tick,
						     .tx_bytes = tita_rate_to_bytes(
							     r == TITA_RATE_UNPACED ? LINE_BPS : r,
							     tick),
						     .backlog_bytes = 64ull << 20 };
			struct tita_rx_sample rs = { .local = hosts[2].addr,
						     .remote = hosts[s].addr,
						     .interval_ns = tick,
						     .rx_bytes = ts.tx_bytes,
						     .rx_packets = ts.tx_bytes / 4096 + 1 };

			assert_int_equal(tita_ctl_tx_sample(hosts[s].ctl, &ts, now), 0);
			assert_int_equal(tita_ctl_rx_sample(hosts[2].ctl, &rs, now), 0);
		}
		for (int h = 0; h < N; h++) {
			struct tita_ctl *c = hosts[h].ctl;
			struct tita_rate_update u;
			struct tita_path_update pu;
			struct tita_probe pr;
			struct tita_msg m;

			tita_ctl_advance(c, now);
			while (tita_ctl_pop_probe(c, &pr))
				assert_int_equal(
					tita_ctl_probe_result(c, &pr, spine_of(pr.sport), now), 0);
			while (tita_ctl_pop_path(c, &pu))
				assert_int_equal(tita_ctl_path_applied(c, &pu, now), 0);
			while (tita_ctl_pop_rate(c, &u))
				hosts[h].rate_bps[host_of(&u.remote)] = u.rate_bps;
			while (tita_ctl_pop_msg(c, &m))
				carry(h, &m, now);
		}
	}

	print_message("datagrams: %llu demand, %llu grant, %llu leaf report (%llu lines), "
		      "%llu leaf answer (%llu lines)\n",
		      (unsigned long long)n_by_kind[1], (unsigned long long)n_by_kind[2],
		      (unsigned long long)n_by_kind[3], (unsigned long long)n_entries_by_kind[3],
		      (unsigned long long)n_by_kind[4], (unsigned long long)n_entries_by_kind[4]);
	assert_true(n_by_kind[TITA_MSG_LEAF_REPORT] > 0);
	assert_true(n_by_kind[TITA_MSG_LEAF_ANSWER] > 0);
	{
		struct tita_port_info pi;
		struct tita_pair_info pairs[8];
		struct tita_leader_stats ls;
		struct tita_leader_link up[TITA_SPINES_MAX], down[TITA_SPINES_MAX];
		struct tita_ctl_stats cs;
		size_t n;

		/* The uplinks' leader is the lower address, the downlinks'
		 * the higher, and both know it; only the first has lines
		 * (nothing comes into leaf 11). */
		assert_int_equal(tita_ctl_ports(hosts[0].ctl, &pi, 1), 1);
		assert_true(pi.is_leader && pi.is_leader_down == old_member);
		assert_int_equal(tita_ctl_ports(hosts[1].ctl, &pi, 1), 1);
		assert_false(pi.is_leader);
		assert_true(pi.is_leader_down == !old_member);
		assert_memory_equal(&pi.leader, &hosts[0].addr, 16);
		assert_memory_equal(&pi.leader_down, &hosts[old_member ? 0 : 1].addr, 16);
		tita_ctl_leader_stats(hosts[0].ctl, &hosts[0].addr, &ls);
		assert_true(ls.reports > 0 && ls.runs > 0);
		assert_int_equal(tita_ctl_leaf_links(hosts[0].ctl, &hosts[0].addr, up, down), 2);
		assert_true(up[0].demand_bps + up[1].demand_bps > 0);
		assert_int_equal(tita_ctl_leaf_links(hosts[1].ctl, &hosts[1].addr, up, down), 0);
		/* Sent (the member's reports, the leader's answers), and none
		 * refused on arrival. */
		tita_ctl_stats(hosts[1].ctl, &cs);
		assert_true(cs.leaf_reports > 0);
		assert_int_equal(cs.leaf_msgs_refused, 0);
		tita_ctl_stats(hosts[0].ctl, &cs);
		assert_true(cs.leaf_answers > 0);
		assert_int_equal(cs.leaf_msgs_refused, 0);
		/* The member heard its leader: its pair has a spine and a cap. */
		n = tita_ctl_pairs(hosts[1].ctl, pairs, 8);
		assert_int_equal(n, 1);
		assert_true(pairs[0].spine < 2);
		assert_true(pairs[0].sport != 0);
		assert_int_equal(spine_of(pairs[0].sport), pairs[0].spine);
		assert_true(pairs[0].leaf_cap_bps > 0);
	}
	for (int i = 0; i < N; i++)
		tita_ctl_free(hosts[i].ctl);
}

static void test_leaf_over_wire(void **state)
{
	(void)state;
	leaf_over_wire(false);
}

/* A leaf of a titad from before and this one: one leader, both agree. */
static void test_leaf_over_wire_old_member(void **state)
{
	(void)state;
	leaf_over_wire(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_over_wire),
		cmocka_unit_test(test_leaf_over_wire_old_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
