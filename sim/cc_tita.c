// SPDX-License-Identifier: MIT
/*
 * tita in the simulator: one real lib/ controller (tita_ctl) per host, fed
 * exactly what titad would feed it, its decisions applied to the NIC.
 *
 *  - Sender measurements per pair (remote host, job): bytes sent, CNPs
 *    received, and the application's backlog (the simulated application
 *    knows each flow's remaining bytes, as the in-process QP agent knows
 *    what was posted and not completed).
 *  - Receiver measurements per remote host: bytes, packets, CE-marked
 *    packets.
 *  - Samples are handed over at every control round; a flow that opens a
 *    new pair is reported at once (the agent sees the QP post).
 *  - Peer messages go through the real wire codec (proto/wire.h) when it is
 *    built in: each datagram travels as a packet of its encoded size (plus
 *    UDP/IPv4/Ethernet) in the high-priority class, and is decoded,
 *    authenticated and replay-checked at the far end before
 *    tita_ctl_on_msg(). Without the codec, sizes are estimated (see
 *    msg_estimate_bytes).
 *  - Rate updates become a per-pair pacer in the NIC (the per-destination
 *    limit of the qp/tc back ends), on top of each QP's DCQCN rate.
 *  - On a leaf-spine fabric every host knows its place (its leaf, the
 *    spines) and its leaf's members, as titad reads them from the
 *    topology file (unless the scenario says hosts_know_place = 0, as
 *    with no such file); each learns a remote's leaf when a flow between them
 *    starts, as titad does from the remote's hello. tita's probes travel
 *    as real probes through the fabric (sim_probe_send), and a path update
 *    holds the pair's flows until nothing of them is in flight, then moves
 *    them to the new source port, as the QP agent would between messages.
 *    The drain ends when the last byte arrives; a NIC would learn it half
 *    a round trip later from the acknowledgement.
 *  - Health telemetry (sim/telemetry.c): at every round, before the
 *    controller's samples, each host's lib/health is fed the same
 *    measurements per pair (with packets, resends and packets out of
 *    sequence) and what the controller holds of each pair (its spine, an
 *    RX pair's grant and its sender's demand).
 *  - [faults]: a dead host's controller stops; a slow host's backlog is
 *    only what its application has made ready.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "tita/health.h"

#ifdef SIM_HAVE_WIRE
#include "wire.h"
#endif

/* UDP 8 + IPv4 20 + Ethernet 14 + FCS 4 around each datagram. */
#define UDP_OVERHEAD_BYTES 46u
#define DGRAM_MAX_BYTES 1400u
/* A timed flow's application always has this much more to post. */
#define ENDLESS_BACKLOG_BYTES (1ull << 30)

struct dgram {
	uint32_t len;
	uint8_t bytes[DGRAM_MAX_BYTES];
	struct tita_msg *plain; /* without the codec: the message itself */
};

struct tita_sim {
	struct dgram *pool;
	uint32_t *next;
	uint32_t cap, free;
	uint64_t decode_errors;
#ifdef SIM_HAVE_WIRE
	struct tita_wire_keyring kr;
	struct tita_wire_sender *tx; /* per host */
	/* Replay windows of the (receiver, sender) pairs that exchanged a
	 * datagram: replay_of[receiver] maps the sender to its window. */
	struct tita_wire_replay *replay;
	uint32_t n_replay, cap_replay;
	struct sim_pairmap *replay_of;
	struct tita_wire_msg scratch;
#endif
	struct tita_msg out;
	/* Health telemetry: the controller's pairs, read each round. */
	struct tita_pair_info *info;
	size_t cap_info;
	/* Messages and entries sent, by kind (enum tita_msg_kind). */
	uint64_t msgs_by_kind[5], entries_by_kind[5];
	/* Datagram bytes on the wire per host and message kind, sent and
	 * received (SIM_TITA_STATS: what the busiest host's control is). */
	uint64_t (*kind_tx_bytes)[5], (*kind_rx_bytes)[5];
	/* SIM_TITA_COLLISIONS=US: every US of simulated time, the large
	 * flows' collisions on the leaves' uplinks and downlinks (stderr). */
	uint64_t coll_every_ps, coll_next_ps;
	/* Where a permutation's time goes, over the samples: how long each
	 * flow shared a leaf's uplink or downlink with another (us), and the
	 * rate the flows ran under their line (Gbit/s x us), shared or alone
	 * on both links. Summed up at the end (sim_tita_fini). */
	uint64_t coll_last_ps;
	double *coll_shared_us;
	uint32_t coll_n_flows;
	double coll_short_shared, coll_short_alone;
	uint64_t links_every_ps, links_next_ps, *links_tx; /* SIM_TITA_LINKS */
};

static struct tita_sim *ts_of(struct sim *s)
{
	return (struct tita_sim *)(void *)s->msgs;
}

static uint32_t host_of_addr(const struct tita_addr *a)
{
	return ((uint32_t)a->bytes[13] << 16) | ((uint32_t)a->bytes[14] << 8) | a->bytes[15];
}

static uint32_t dgram_alloc(struct tita_sim *t)
{
	uint32_t i;

	if (t->free == SIM_NONE) {
		uint32_t cap = t->cap ? t->cap * 2 : 256;

		t->pool = realloc(t->pool, cap * sizeof(*t->pool));
		t->next = realloc(t->next, cap * sizeof(*t->next));
		if (!t->pool || !t->next) {
			fprintf(stderr, "tita-sim: out of memory\n");
			exit(1);
		}
		for (i = t->cap; i < cap; i++) {
			t->next[i] = i + 1 < cap ? i + 1 : SIM_NONE;
			t->pool[i].plain = NULL;
		}
		t->free = t->cap;
		t->cap = cap;
	}
	i = t->free;
	t->free = t->next[i];
	return i;
}

static void dgram_free(struct tita_sim *t, uint32_t i)
{
	t->next[i] = t->free;
	t->free = i;
}

static void *grow(void *p, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 4;
	void *np = realloc(p, (size_t)ncap * elem);

	if (!np) {
		fprintf(stderr, "tita-sim: out of memory\n");
		exit(1);
	}
	*cap = ncap;
	return np;
}

static void pairmap_add(struct sim_pairmap *m, uint32_t key, uint32_t val)
{
	if (sim_pairmap_add(m, key, val) < 0) {
		fprintf(stderr, "tita-sim: out of memory\n");
		exit(1);
	}
}

/* The sender's pair (remote, job), made on first use. */
static uint32_t txpair_of(struct sim_host *x, uint32_t remote, uint32_t job)
{
	uint32_t key = remote * SIM_MAX_JOBS + job;
	uint32_t i = sim_pairmap_get(&x->txp_map, key);

	if (i != SIM_PAIRMAP_NONE)
		return i;
	if (x->n_txp == x->cap_txp) {
		uint32_t cap = x->cap_txp;

		x->txp = grow(x->txp, &cap, sizeof(*x->txp));
		x->live_tx = grow(x->live_tx, &x->cap_txp, sizeof(*x->live_tx));
	}
	i = x->n_txp++;
	x->txp[i] =
		(struct sim_txpair){ .remote = remote, .job = job, .rate_bps = TITA_RATE_UNPACED };
	pairmap_add(&x->txp_map, key, i);
	return i;
}

/* The receiver's peer entry for a sending host, made on first use. */
static uint32_t rxpeer_of(struct sim_host *x, uint32_t remote)
{
	uint32_t i = sim_pairmap_get(&x->rxp_map, remote);

	if (i != SIM_PAIRMAP_NONE)
		return i;
	if (x->n_rxp == x->cap_rxp) {
		uint32_t cap = x->cap_rxp;

		x->rxp = grow(x->rxp, &cap, sizeof(*x->rxp));
		x->live_rx = grow(x->live_rx, &x->cap_rxp, sizeof(*x->live_rx));
	}
	i = x->n_rxp++;
	x->rxp[i] = (struct sim_rxpeer){ .remote = remote };
	pairmap_add(&x->rxp_map, remote, i);
	return i;
}

int sim_tita_init(struct sim *s)
{
	struct tita_sim *t = calloc(1, sizeof(*t));
	uint32_t n = s->n_hosts;
	uint64_t interval_ps = s->tita.control_interval_ns * SIM_PS_PER_NS;
	const struct tita_param *bad;
	const char *why;
	int err = tita_ctl_params_check_field(&s->tita, &bad, &why);

	if (err) {
		char key[64];

		fprintf(stderr, "tita-sim: tita.%s: %s\n", sim_tita_key(bad, key, sizeof(key)),
			why);
		free(t);
		return err;
	}
	if (!t)
		return -ENOMEM;
	t->free = SIM_NONE;
	t->kind_tx_bytes = calloc(n, sizeof(*t->kind_tx_bytes));
	t->kind_rx_bytes = calloc(n, sizeof(*t->kind_rx_bytes));
	if (!t->kind_tx_bytes || !t->kind_rx_bytes) {
		free(t->kind_tx_bytes);
		free(t->kind_rx_bytes);
		free(t);
		return -ENOMEM;
	}
	if (getenv("SIM_TITA_COLLISIONS"))
		t->coll_every_ps = (uint64_t)(atof(getenv("SIM_TITA_COLLISIONS")) * SIM_PS_PER_US);
	if (getenv("SIM_TITA_LINKS"))
		t->links_every_ps = (uint64_t)(atof(getenv("SIM_TITA_LINKS")) * SIM_PS_PER_US);
	/* struct sim keeps an opaque pointer for us in its msgs slot. */
	s->msgs = (struct tita_msg *)(void *)t;
#ifdef SIM_HAVE_WIRE
	{
		uint8_t key[TITA_WIRE_KEY_BYTES];

		for (uint32_t k = 0; k < sizeof(key); k++)
			key[k] = (uint8_t)(k * 7 + 1);
		tita_wire_keyring_init(&t->kr);
		tita_wire_keyring_add(&t->kr, 1, key);
		t->tx = calloc(n, sizeof(*t->tx));
		t->replay_of = calloc(n, sizeof(*t->replay_of));
		if (!t->tx || !t->replay_of)
			return -ENOMEM;
		for (uint32_t h = 0; h < n; h++) {
			t->tx[h] = (struct tita_wire_sender){ .key_id = 1, .boot_id = 1, .seq = 1 };
			sim_pairmap_init(&t->replay_of[h]);
		}
	}
#endif
	for (uint32_t h = 0; h < n; h++) {
		struct sim_host *x = &s->hosts[h];
		struct tita_addr a = tita_addr_from_host_id(h);
		uint64_t phase;

		x->ctl = tita_ctl_new(&s->tita);
		if (!x->ctl)
			return -errno;
		err = tita_ctl_port_add(x->ctl, &a, s->cfg->host_rate_bps);
		if (err)
			return err;
		for (uint32_t j = 0; j < SIM_MAX_JOBS; j++) {
			struct tita_job job = { .weight_milli = s->cfg->job_weight_milli[j] };

			if (job.weight_milli && (err = tita_ctl_job_set(x->ctl, j, &job)))
				return err;
		}
		sim_pairmap_init(&x->txp_map);
		sim_pairmap_init(&x->rxp_map);
		tita_ctl_seed(x->ctl, s->cfg->seed * 0x9e3779b97f4a7c15ull ^ (h + 1));
		if (s->cfg->topo == SIM_TOPO_LEAFSPINE && !s->cfg->hosts_unplaced) {
			uint32_t hpl = s->cfg->hosts_per_leaf, first = h / hpl * hpl;
			struct tita_place place = {
				.leaf = h / hpl,
				.n_spines = s->cfg->spines,
				.spine_bps = s->cfg->fabric_rate_bps,
			};
			struct tita_addr *members = calloc(hpl, sizeof(*members));

			if (!members)
				return -ENOMEM;
			/* Every host runs this titad: each member's hello says
			 * the leaders it follows, as set. */
			for (uint32_t k = 0; k < hpl && !err; k++) {
				members[k] = tita_addr_from_host_id(first + k);
				if (first + k != h)
					err = tita_ctl_peer_leaders(x->ctl, &members[k],
								    s->tita.leaf_leaders);
			}
			if (!err && s->cfg->spines <= TITA_SPINES_MAX)
				err = tita_ctl_port_set_place(x->ctl, &a, &place, members, hpl);
			free(members);
			if (err)
				return err;
		}
		/* Daemons are not synchronized: each starts its rounds at its
		 * own phase. */
		phase = tita_rng_next(&s->rng) % interval_ps;
		x->last_sample_ps = 0;
		x->tita_wake_ps = phase + 1;
		sim_schedule(s, x->tita_wake_ps, SIM_EV_TITA, h, 0);
	}
	return 0;
}

/* The controllers' counters, summed over the hosts (SIM_TITA_STATS=1). */
static void print_stats(struct sim *s)
{
	const struct tita_sim *t = ts_of(s);
	struct tita_ctl_stats sum = { 0 }, st;
	uint64_t *a = (uint64_t *)&sum, *b = (uint64_t *)&st;

	for (uint32_t h = 0; h < s->n_hosts; h++) {
		tita_ctl_stats(s->hosts[h].ctl, &st);
		for (size_t k = 0; k < sizeof(sum) / sizeof(uint64_t); k++)
			a[k] += b[k];
	}
	{
		struct tita_leader_stats ls = { 0 }, one;

		for (uint32_t h = 0; h < s->n_hosts; h++) {
			struct tita_addr addr = tita_addr_from_host_id(h);

			tita_ctl_leader_stats(s->hosts[h].ctl, &addr, &one);
			ls.runs += one.runs;
			ls.proposals += one.proposals;
			ls.proposals_swap += one.proposals_swap;
			ls.lap_turns += one.lap_turns;
			ls.seeks += one.seeks;
			ls.accepted += one.accepted;
			ls.swaps += one.swaps;
			ls.refused += one.refused;
		}
		fprintf(stderr,
			"messages (entries): demand %llu (%llu) grant %llu (%llu) leaf report %llu (%llu) leaf answer %llu (%llu)\n",
			(unsigned long long)t->msgs_by_kind[TITA_MSG_DEMAND],
			(unsigned long long)t->entries_by_kind[TITA_MSG_DEMAND],
			(unsigned long long)t->msgs_by_kind[TITA_MSG_GRANT],
			(unsigned long long)t->entries_by_kind[TITA_MSG_GRANT],
			(unsigned long long)t->msgs_by_kind[TITA_MSG_LEAF_REPORT],
			(unsigned long long)t->entries_by_kind[TITA_MSG_LEAF_REPORT],
			(unsigned long long)t->msgs_by_kind[TITA_MSG_LEAF_ANSWER],
			(unsigned long long)t->entries_by_kind[TITA_MSG_LEAF_ANSWER]);
		fprintf(stderr,
			"leader stats: runs %llu proposals %llu (swap %llu, lap turns %llu) seeks %llu accepted %llu swaps %llu refused %llu\n",
			(unsigned long long)ls.runs, (unsigned long long)ls.proposals,
			(unsigned long long)ls.proposals_swap, (unsigned long long)ls.lap_turns,
			(unsigned long long)ls.seeks, (unsigned long long)ls.accepted,
			(unsigned long long)ls.swaps, (unsigned long long)ls.refused);
	}
	fprintf(stderr,
		"tita stats: msgs in %llu out %llu; probes %llu batches %llu results %llu unanswered %llu lost %llu; paths %llu moves %llu rehashes %llu refresh %llu deferred %llu on marks %llu; leaf reports %llu answers %llu refused %llu/%llu leaders lost %llu\n",
		(unsigned long long)sum.msgs_in, (unsigned long long)sum.msgs_out,
		(unsigned long long)sum.probes_out, (unsigned long long)sum.probe_batches,
		(unsigned long long)sum.probe_results, (unsigned long long)sum.probes_unanswered,
		(unsigned long long)sum.probes_lost, (unsigned long long)sum.path_updates,
		(unsigned long long)sum.moves, (unsigned long long)sum.rehashes,
		(unsigned long long)sum.probes_refresh, (unsigned long long)sum.probes_deferred,
		(unsigned long long)sum.probes_on_marks, (unsigned long long)sum.leaf_reports,
		(unsigned long long)sum.leaf_answers, (unsigned long long)sum.leaf_msgs_refused,
		(unsigned long long)sum.leaf_lines_refused, (unsigned long long)sum.leaders_lost);
	{
		/* The host whose control is the largest share of its link (as
		 * ctrl_frac counts it), and what it is made of; probes and
		 * their answers are the rest. */
		static const char *const kinds[5] = { "other", "demand", "grant", "leaf report",
						      "leaf answer" };
		uint32_t top = 0;
		uint64_t top_bytes = 0;

		for (uint32_t h = 0; h < s->n_hosts; h++) {
			const struct sim_host *x = &s->hosts[h];
			uint64_t bytes = x->ctrl_tx_bytes > x->ctrl_rx_bytes ? x->ctrl_tx_bytes :
									       x->ctrl_rx_bytes;

			if (bytes > top_bytes) {
				top_bytes = bytes;
				top = h;
			}
		}
		fprintf(stderr, "busiest control: host %u, %llu bytes out, %llu in", top,
			(unsigned long long)s->hosts[top].ctrl_tx_bytes,
			(unsigned long long)s->hosts[top].ctrl_rx_bytes);
		for (int k = 1; k < 5; k++)
			fprintf(stderr, "; %s %llu out, %llu in", kinds[k],
				(unsigned long long)t->kind_tx_bytes[top][k],
				(unsigned long long)t->kind_rx_bytes[top][k]);
		fprintf(stderr, "\n");
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* SIM_TITA_COLLISIONS at the end: how long flows between leaves shared a
 * link, and the line time lost (Gbit/s x us under the line, over the line
 * rate) by flows sharing a link and by flows alone on both; with
 * SIM_TITA_COLLISIONS_WHO, per flow beside its completion time. */
static void print_shared(struct sim *s)
{
	struct tita_sim *t = ts_of(s);
	double *sorted = malloc(t->coll_n_flows * sizeof(*sorted));
	double line_gbps = 0;
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->coll_n_flows; i++) {
		const struct sim_flow *f = &s->flows[i];

		if (f->src / s->cfg->hosts_per_leaf == f->dst / s->cfg->hosts_per_leaf)
			continue;
		line_gbps = (double)f->line_bps / 1e9;
		if (sorted)
			sorted[n] = t->coll_shared_us[i];
		n++;
		if (getenv("SIM_TITA_COLLISIONS_WHO"))
			fprintf(stderr, "shared flow %u fct_us %.1f shared_us %.0f\n", f->id,
				f->finish_ps ?
					(double)(f->finish_ps - f->start_ps) / SIM_PS_PER_US :
					-1.0,
				t->coll_shared_us[i]);
	}
	if (sorted && n && line_gbps > 0) {
		qsort(sorted, n, sizeof(*sorted), cmp_double);
		fprintf(stderr,
			"shared: %u flows between leaves, us sharing a link p50 %.0f p90 %.0f max %.0f; line time lost (flow x us) sharing %.0f alone %.0f\n",
			n, sorted[n / 2], sorted[n * 9 / 10], sorted[n - 1],
			t->coll_short_shared / line_gbps, t->coll_short_alone / line_gbps);
	}
	free(sorted);
}

void sim_tita_results(const struct sim *s, struct sim_results *r)
{
	struct tita_ctl_stats st;

	r->probes = r->probes_refresh = r->probes_deferred = 0;
	for (uint32_t h = 0; h < s->n_hosts; h++) {
		if (!s->hosts[h].ctl)
			continue;
		tita_ctl_stats(s->hosts[h].ctl, &st);
		r->probes += st.probes_out;
		r->probes_refresh += st.probes_refresh;
		r->probes_deferred += st.probes_deferred;
	}
}

void sim_tita_fini(struct sim *s)
{
	struct tita_sim *t = ts_of(s);

	if (getenv("SIM_TITA_STATS"))
		print_stats(s);
	if (t && t->coll_n_flows)
		print_shared(s);
	for (uint32_t h = 0; h < s->n_hosts; h++) {
		struct sim_host *x = &s->hosts[h];

		tita_ctl_free(x->ctl);
		free(x->txp);
		free(x->rxp);
		free(x->live_tx);
		free(x->live_rx);
		sim_pairmap_fini(&x->txp_map);
		sim_pairmap_fini(&x->rxp_map);
	}
	if (t) {
		free(t->kind_tx_bytes);
		free(t->links_tx);
		free(t->kind_rx_bytes);
		free(t->info);
		free(t->coll_shared_us);
		for (uint32_t i = 0; i < t->cap; i++)
			free(t->pool[i].plain);
		free(t->pool);
		free(t->next);
#ifdef SIM_HAVE_WIRE
		free(t->tx);
		for (uint32_t h = 0; t->replay_of && h < s->n_hosts; h++)
			sim_pairmap_fini(&t->replay_of[h]);
		free(t->replay_of);
		free(t->replay);
#endif
		free(t);
	}
	s->msgs = NULL;
}

#ifndef SIM_HAVE_WIRE
/* Without the codec: fixed header 22 + MAC 8 + protobuf framing, and per
 * entry two 16-byte addresses with their tags, job, weight and rates as
 * varints (about 54 bytes). */
static uint32_t msg_estimate_bytes(uint32_t n_entries)
{
	return 22 + 8 + 4 + 54 * n_entries;
}
#endif

static void send_datagram(struct sim *s, uint32_t from, uint32_t to, uint32_t slot,
			  uint32_t dgram_bytes, uint8_t kind)
{
	/* titad's one socket: from and to its peer port, so a pair's datagrams
	 * hash on (from, to) alone and keep one path. */
	struct tita_sim *t = ts_of(s);
	uint32_t wire = dgram_bytes + UDP_OVERHEAD_BYTES;
	uint32_t i =
		sim_pkt_ctrl(s, SIM_PKT_TITA, slot, to, SIM_TITA_UDP_PORT, SIM_TITA_UDP_PORT, wire);

	t->kind_tx_bytes[from][kind < 5 ? kind : 0] += wire;
	t->kind_rx_bytes[to][kind < 5 ? kind : 0] += wire;

	s->hosts[from].ctrl_tx_bytes += wire;
	s->ctrl_bytes += wire;
	sim_host_send_ctrl(s, from, i);
}

static void send_msg(struct sim *s, uint32_t host, const struct tita_msg *m)
{
	struct tita_sim *t = ts_of(s);
	uint32_t to = host_of_addr(&m->peer);

	if (m->kind < 5) {
		t->msgs_by_kind[m->kind]++;
		t->entries_by_kind[m->kind] += m->n_entries;
	}

	if (to >= s->n_hosts || to == host || !m->n_entries)
		return;
#ifdef SIM_HAVE_WIRE
	for (uint32_t start = 0; start < m->n_entries;) {
		uint32_t slot = dgram_alloc(t), used = 0;
		int len = tita_wire_encode_msg(&t->kr, &t->tx[host], m, start, t->pool[slot].bytes,
					       DGRAM_MAX_BYTES, &used);

		if (len < 0 || !used) {
			fprintf(stderr, "tita-sim: wire encode failed (%d)\n", len);
			dgram_free(t, slot);
			t->decode_errors++;
			return;
		}
		t->pool[slot].len = (uint32_t)len;
		send_datagram(s, host, to, slot, (uint32_t)len, m->kind);
		start += used;
	}
#else
	for (uint32_t start = 0; start < m->n_entries;) {
		uint32_t per = (DGRAM_MAX_BYTES - msg_estimate_bytes(0)) / 54;
		uint32_t n = m->n_entries - start < per ? m->n_entries - start : per;
		uint32_t slot = dgram_alloc(t);
		struct tita_msg *c = t->pool[slot].plain;

		if (!c) {
			c = t->pool[slot].plain = malloc(sizeof(*c));
			if (!c)
				exit(1);
		}
		*c = *m;
		c->n_entries = n;
		if (m->kind == TITA_MSG_DEMAND)
			memmove(c->demand, &m->demand[start], n * sizeof(c->demand[0]));
		else
			memmove(c->grant, &m->grant[start], n * sizeof(c->grant[0]));
		t->pool[slot].len = msg_estimate_bytes(n);
		send_datagram(s, host, to, slot, t->pool[slot].len, m->kind);
		start += n;
	}
#endif
}

void sim_tita_on_msg(struct sim *s, uint32_t host, struct sim_pkt *p)
{
	struct tita_sim *t = ts_of(s);
	uint32_t slot = p->flow;
	struct sim_host *x = &s->hosts[host];
	uint64_t now_ns = s->now_ps / SIM_PS_PER_NS;
	struct tita_addr from = tita_addr_from_host_id(p->src);

	x->ctrl_rx_bytes += p->wire_bytes;
	if (x->dead) {
		dgram_free(t, slot);
		return;
	}
	{
		struct tita_health *h = sim_telemetry_health(s, host);

		if (h)
			tita_health_peer_heard(h, &from, now_ns);
	}
#ifdef SIM_HAVE_WIRE
	{
		uint32_t w = sim_pairmap_get(&t->replay_of[host], p->src);
		enum tita_wire_error e;

		if (w == SIM_PAIRMAP_NONE) {
			if (t->n_replay == t->cap_replay)
				t->replay = grow(t->replay, &t->cap_replay, sizeof(*t->replay));
			w = t->n_replay++;
			tita_wire_replay_init(&t->replay[w]);
			pairmap_add(&t->replay_of[host], p->src, w);
		}
		e = tita_wire_decode(&t->kr, &t->replay[w], &from, t->pool[slot].bytes,
				     t->pool[slot].len, &t->scratch);

		if (e != TITA_WIRE_OK || t->scratch.body != TITA_WIRE_BODY_MSG) {
			t->decode_errors++;
		} else {
			t->scratch.msg.peer = from;
			tita_ctl_on_msg(x->ctl, &t->scratch.msg, now_ns);
		}
	}
#else
	t->pool[slot].plain->peer = from;
	tita_ctl_on_msg(x->ctl, t->pool[slot].plain, now_ns);
#endif
	dgram_free(t, slot);
	/* A grant may have changed rates; apply them now, as titad would on
	 * receipt, not at the next round. */
	sim_tita_on_event(s, host);
}

void sim_tita_lost(struct sim *s, const struct sim_pkt *p)
{
	dgram_free(ts_of(s), p->flow);
}

void sim_tita_count_rx(struct sim *s, uint32_t host, const struct sim_pkt *p)
{
	struct sim_host *x = &s->hosts[host];
	uint32_t i = s->flows[p->flow].rxp;
	struct sim_rxpeer *r = &x->rxp[i];

	r->rx_bytes += p->wire_bytes;
	r->rx_pkts++;
	r->ce_pkts += p->ce;
	r->h_bytes[s->flows[p->flow].job] += p->wire_bytes;
	r->h_pkts[s->flows[p->flow].job]++;
	r->h_ce[s->flows[p->flow].job] += p->ce;
	r->last_active_ps = s->now_ps;
	if (!r->live) {
		r->live = true;
		x->live_rx[x->n_live_rx++] = i;
	}
}

static void txpair_live(struct sim_host *x, uint32_t idx)
{
	if (!x->txp[idx].live) {
		x->txp[idx].live = true;
		x->live_tx[x->n_live_tx++] = idx;
	}
}

/*
 * What the application has waiting to be sent on the pair: all it posted,
 * or on a slow host (slowhost) only what it has made ready so far, shared
 * by the pairs with something posted (app_open_pairs, counted each round).
 */
static uint64_t backlog_of(const struct sim *s, uint32_t host, const struct sim_txpair *tp)
{
	const struct sim_host *x = &s->hosts[host];

	if (!x->app_rate_bps)
		return tp->backlog_bytes;
	return tita_min_u64(tp->backlog_bytes, (uint64_t)x->app_ready_bytes /
						       (x->app_open_pairs ? x->app_open_pairs : 1));
}

/*
 * One round of the host's health evidence (lib/health), from what the
 * controller's samples are made of, and what the controller holds of each
 * pair: the spine it crosses, and for an RX pair the grant and the
 * sender's demand (a demand above the grant: the sender has more than it
 * may send, so all the grant should arrive). Every RX pair the controller
 * holds is fed, whether anything came from it or not: a grant that brings
 * nothing is the strongest shortfall.
 */
static void health_round(struct sim *s, uint32_t host, struct tita_health *h, uint64_t interval_ns,
			 uint64_t now_ns)
{
	struct sim_host *x = &s->hosts[host];
	struct tita_addr local = tita_addr_from_host_id(host);
	struct tita_sim *t = ts_of(s);
	size_t n = tita_ctl_n_pairs(x->ctl);
	struct tita_pair_info *info;

	if (n > t->cap_info) {
		free(t->info);
		t->cap_info = n * 2;
		t->info = malloc(t->cap_info * sizeof(*t->info));
		if (!t->info) {
			fprintf(stderr, "tita-sim: out of memory\n");
			exit(1);
		}
	}
	info = t->info;
	n = tita_ctl_pairs(x->ctl, info, n);
	for (uint32_t k = 0; k < x->n_live_tx; k++)
		x->txp[x->live_tx[k]].h_spine = x->txp[x->live_tx[k]].h_path_spine =
			TITA_HEALTH_SPINE_NONE;
	for (uint32_t k = 0; k < x->n_rxp; k++)
		x->rxp[k].h_managed = 0;
	for (size_t k = 0; k < n; k++) {
		const struct tita_pair_info *pi = &info[k];
		uint32_t remote = host_of_addr(&pi->remote), i;
		uint16_t spine = pi->spine == TITA_SPINE_NONE ? TITA_HEALTH_SPINE_NONE : pi->spine;
		uint16_t path_spine = pi->path_spine;

		if (remote >= s->n_hosts || pi->job_id >= SIM_MAX_JOBS)
			continue;
		if (pi->role == TITA_PAIR_TX) {
			i = sim_pairmap_get(&x->txp_map, remote * SIM_MAX_JOBS + pi->job_id);
			if (i != SIM_PAIRMAP_NONE) {
				x->txp[i].h_spine = spine;
				x->txp[i].h_path_spine = path_spine;
			}
			continue;
		}
		i = sim_pairmap_get(&x->rxp_map, remote);
		if (i == SIM_PAIRMAP_NONE)
			continue;
		struct sim_rxpeer *r = &x->rxp[i];

		r->h_managed |= (uint8_t)(1u << pi->job_id);
		r->h_grant_bps[pi->job_id] = pi->state == TITA_PAIR_ACTIVE ? pi->grant_bps : 0;
		r->h_demand_bps[pi->job_id] = pi->demand_bps;
		r->h_spine[pi->job_id] = spine;
		r->h_path_spine[pi->job_id] = path_spine;
	}

	for (uint32_t k = 0; k < x->n_live_tx; k++) {
		struct sim_txpair *tp = &x->txp[x->live_tx[k]];
		struct tita_health_tx tx = {
			.local = local,
			.remote = tita_addr_from_host_id(tp->remote),
			.job_id = tp->job,
			.interval_ns = interval_ns,
			.tx_bytes = tp->h_tx_bytes,
			.backlog_bytes = backlog_of(s, host, tp),
			.rate_bps = tp->rate_bps,
			.open = tp->backlog_bytes > 0,
			.tx_packets = tp->h_tx_pkts,
			.retx_packets = tp->h_retx_pkts,
			.spine = tp->h_spine,
			.path_known = true,
			.path_spine = tp->h_path_spine,
		};

		tita_health_tx_round(h, &tx, now_ns);
		tp->h_tx_bytes = tp->h_tx_pkts = tp->h_retx_pkts = 0;
	}
	/* Every sender, not only the live ones the controller is fed: a pair
	 * the controller holds is fed though nothing came from it. */
	for (uint32_t k = 0; k < x->n_rxp; k++) {
		struct sim_rxpeer *r = &x->rxp[k];

		for (uint32_t j = 0; j < SIM_MAX_JOBS; j++) {
			bool managed = r->h_managed & (1u << j);
			struct tita_health_rx rx = {
				.local = local,
				.remote = tita_addr_from_host_id(r->remote),
				.job_id = j,
				.interval_ns = interval_ns,
				.rx_bytes = r->h_bytes[j],
				.rx_packets = r->h_pkts[j],
				.ce_packets = r->h_ce[j],
				.lost_packets = r->h_lost[j],
				.granted_bps = managed ? r->h_grant_bps[j] : 0,
				.sender_backlogged = managed &&
						     r->h_demand_bps[j] > r->h_grant_bps[j],
				.spine = managed ? r->h_spine[j] : TITA_HEALTH_SPINE_NONE,
				.path_known = true,
				.path_spine = managed ? r->h_path_spine[j] : TITA_HEALTH_SPINE_NONE,
			};

			if (!managed && !rx.rx_packets && !rx.lost_packets)
				continue;
			tita_health_rx_round(h, &rx, now_ns);
			r->h_bytes[j] = r->h_pkts[j] = r->h_ce[j] = r->h_lost[j] = 0;
		}
	}
	/* titad's hellos are not simulated as packets: every peer that is
	 * alive counts as heard each round, so only a dead one falls silent. */
	for (uint32_t k = 0; k < x->n_txp + x->n_rxp; k++) {
		uint32_t remote = k < x->n_txp ? x->txp[k].remote : x->rxp[k - x->n_txp].remote;
		struct tita_addr ra = tita_addr_from_host_id(remote);

		if (!s->hosts[remote].dead)
			tita_health_peer_heard(h, &ra, now_ns);
	}
}

static void take_samples(struct sim *s, uint32_t host)
{
	struct sim_host *x = &s->hosts[host];
	uint64_t now_ns = s->now_ps / SIM_PS_PER_NS;
	uint64_t interval_ns = (s->now_ps - x->last_sample_ps) / SIM_PS_PER_NS;
	/* Keep reporting an idle pair for a while, so the controller sees it
	 * go quiet; then stop (the controller decays and expires it). */
	uint64_t keep_ps = 4 * s->tita.control_interval_ns * SIM_PS_PER_NS;
	struct tita_addr local = tita_addr_from_host_id(host);
	uint32_t k, w;

	if (!interval_ns)
		interval_ns = 1;
	x->last_sample_ps = s->now_ps;
	x->app_open_pairs = 0;
	for (k = 0; k < x->n_live_tx; k++)
		x->app_open_pairs += x->txp[x->live_tx[k]].backlog_bytes > 0;
	{
		struct tita_health *h = sim_telemetry_health(s, host);

		if (h)
			health_round(s, host, h, interval_ns, now_ns);
	}
	for (k = 0, w = 0; k < x->n_live_tx; k++) {
		uint32_t idx = x->live_tx[k];
		struct sim_txpair *tp = &x->txp[idx];
		struct tita_tx_sample ts = {
			.local = local,
			.remote = tita_addr_from_host_id(tp->remote),
			.job_id = tp->job,
			.interval_ns = interval_ns,
			.tx_bytes = tp->tx_bytes,
			.backlog_bytes = backlog_of(s, host, tp),
			.cnp_packets = tp->cnps,
		};

		tita_ctl_tx_sample(x->ctl, &ts, now_ns);
		tp->tx_bytes = 0;
		tp->cnps = 0;
		if (!tp->backlog_bytes && s->now_ps - tp->last_active_ps > keep_ps)
			tp->live = false;
		else
			x->live_tx[w++] = idx;
	}
	x->n_live_tx = w;
	for (k = 0, w = 0; k < x->n_live_rx; k++) {
		uint32_t idx = x->live_rx[k];
		struct sim_rxpeer *r = &x->rxp[idx];
		struct tita_rx_sample rs = {
			.local = local,
			.remote = tita_addr_from_host_id(r->remote),
			.interval_ns = interval_ns,
			.rx_bytes = r->rx_bytes,
			.rx_packets = r->rx_pkts,
			.ce_packets = r->ce_pkts,
			.lost_packets = r->lost_pkts,
		};

		tita_ctl_rx_sample(x->ctl, &rs, now_ns);
		r->rx_bytes = r->rx_pkts = r->ce_pkts = r->lost_pkts = 0;
		if (s->now_ps - r->last_active_ps > keep_ps)
			r->live = false;
		else
			x->live_rx[w++] = idx;
	}
	x->n_live_rx = w;
}

static void drain(struct sim *s, uint32_t host);
static void reschedule(struct sim *s, uint32_t host);

static void apply_rate(struct sim *s, uint32_t host, const struct tita_rate_update *u)
{
	struct sim_host *x = &s->hosts[host];
	uint32_t dst = host_of_addr(&u->remote);
	struct sim_txpair *tp;
	uint32_t i;
	uint64_t old;

	if (dst >= s->n_hosts || u->job_id >= SIM_MAX_JOBS)
		return;
	i = txpair_of(x, dst, u->job_id);
	tp = &x->txp[i];
	old = tp->rate_bps;
	tp->rate_bps = u->rate_bps ? u->rate_bps : 1;
	/* The pair's next unsched_bytes go unpaced (0: the rate applies now). */
	tp->unsched_left = u->unsched_bytes;
	if (u->unsched_bytes && tp->next_tx_ps > s->now_ps)
		tp->next_tx_ps = s->now_ps;
	/*
	 * The wait left before the pair's next packet scales with the change,
	 * as a token bucket's would (and the NIC's rate limiter, or HTB):
	 * a new rate applies to the part of the gap not yet waited. Letting
	 * the next packet go at once on every rise would send more than the
	 * rate whenever rates rise often (caps that follow flows finishing).
	 * Unpaced, it goes at once.
	 */
	if (tp->rate_bps == TITA_RATE_UNPACED) {
		tp->next_tx_ps = s->now_ps < tp->next_tx_ps ? s->now_ps : tp->next_tx_ps;
	} else if (old != TITA_RATE_UNPACED && tp->next_tx_ps > s->now_ps) {
		double left =
			(double)(tp->next_tx_ps - s->now_ps) * (double)old / (double)tp->rate_bps;

		tp->next_tx_ps = s->now_ps + (uint64_t)left;
	}
}

/* The pair's flows take the new source port: at once those with nothing
 * in flight, the others once they drained (held meanwhile). */
static void apply_path(struct sim *s, uint32_t host, const struct tita_path_update *u)
{
	struct sim_host *x = &s->hosts[host];
	uint32_t dst = host_of_addr(&u->remote), i;
	struct sim_txpair *tp;

	if (dst >= s->n_hosts || u->job_id >= SIM_MAX_JOBS)
		return;
	i = txpair_of(x, dst, u->job_id);
	tp = &x->txp[i];
	tp->moving_sport = u->sport;
	tp->draining = 0;
	for (uint32_t k = 0; k < x->n_active; k++) {
		struct sim_flow *f = &s->flows[x->active[k]];

		if (f->txp != i)
			continue;
		if (sim_flow_await_drain(s, f)) {
			sim_flow_set_sport(s, f, u->sport);
		} else {
			sim_flow_hold(s, f, true);
			tp->draining++;
		}
	}
	if (!tp->draining) {
		tp->sport = u->sport;
		tita_ctl_path_applied(x->ctl, u, s->now_ps / SIM_PS_PER_NS);
	}
}

void sim_tita_drained(struct sim *s, struct sim_flow *f)
{
	struct sim_host *x = &s->hosts[f->src];
	struct sim_txpair *tp = &x->txp[f->txp];
	struct tita_path_update u = {
		.local = tita_addr_from_host_id(f->src),
		.remote = tita_addr_from_host_id(f->dst),
		.job_id = f->job,
		.sport = tp->moving_sport,
	};

	sim_flow_set_sport(s, f, tp->moving_sport);
	sim_flow_hold(s, f, false);
	if (tp->draining && --tp->draining == 0) {
		tp->sport = tp->moving_sport;
		tita_ctl_path_applied(x->ctl, &u, s->now_ps / SIM_PS_PER_NS);
		drain(s, f->src);
		reschedule(s, f->src);
	}
}

void sim_tita_probe_reply(struct sim *s, uint32_t host, uint32_t dst, uint16_t sport,
			  uint32_t spine)
{
	struct sim_host *x = &s->hosts[host];
	uint64_t now_ns = s->now_ps / SIM_PS_PER_NS;
	struct tita_probe pr = {
		.local = tita_addr_from_host_id(host),
		.remote = tita_addr_from_host_id(dst),
		.sport = sport,
	};

	/* The probe went out for one job's pair; the others say -ENOENT. */
	for (pr.job_id = 0; pr.job_id < SIM_MAX_JOBS; pr.job_id++)
		tita_ctl_probe_result(
			x->ctl, &pr, spine == SIM_NONE ? TITA_SPINE_NONE : (uint16_t)spine, now_ns);
	tita_ctl_advance(x->ctl, now_ns);
	drain(s, host);
	reschedule(s, host);
}

static void drain(struct sim *s, uint32_t host)
{
	struct sim_host *x = &s->hosts[host];
	struct tita_sim *t = ts_of(s);
	struct tita_rate_update u;
	struct tita_path_update pu;
	struct tita_probe probe;
	bool kicked = false;

	while (tita_ctl_pop_msg(x->ctl, &t->out))
		send_msg(s, host, &t->out);
	while (tita_ctl_pop_rate(x->ctl, &u)) {
		apply_rate(s, host, &u);
		kicked = true;
	}
	while (tita_ctl_pop_path(x->ctl, &pu))
		apply_path(s, host, &pu);
	while (tita_ctl_pop_probe(x->ctl, &probe))
		sim_probe_send(s, host, host_of_addr(&probe.remote), probe.sport);
	if (kicked)
		sim_nic_kick(s, host);
}

static void reschedule(struct sim *s, uint32_t host)
{
	struct sim_host *x = &s->hosts[host];
	uint64_t d = tita_ctl_next_deadline_ns(x->ctl);
	uint64_t t = d == TITA_TIME_NEVER ? UINT64_MAX : d * SIM_PS_PER_NS;

	if (t <= s->now_ps)
		t = s->now_ps + SIM_PS_PER_NS;
	if (x->tita_wake_ps == t)
		return;
	if (t == UINT64_MAX) {
		x->tita_wake_ps = 0;
		return;
	}
	x->tita_wake_ps = t;
	sim_schedule(s, t, SIM_EV_TITA, host, 0);
}

/*
 * How many flows between leaves share a leaf's uplink or downlink with
 * another, by where ECMP sends them now: the placement's collisions over
 * time (a link carrying k flows counts k - 1). Only flows that started and
 * have bytes left count.
 */
static void trace_collisions(struct sim *s)
{
	struct tita_sim *t = ts_of(s);
	const struct sim_config *c = s->cfg;
	uint32_t *up, *down, n_links, live = 0, coll_up = 0, coll_down = 0, slow = 0,
				      slow_alone = 0;
	double rate_gbps = 0;
	uint32_t why[4] = { 0 }, rx_start = 0, rx_part = 0;
	double dt_us, short_shared = 0, short_alone = 0;

	if (!t->coll_every_ps || s->now_ps < t->coll_next_ps || c->topo != SIM_TOPO_LEAFSPINE)
		return;
	t->coll_next_ps = s->now_ps + t->coll_every_ps;
	dt_us = (double)(s->now_ps - t->coll_last_ps) / SIM_PS_PER_US;
	t->coll_last_ps = s->now_ps;
	if (t->coll_n_flows < s->n_flows) {
		double *grown = realloc(t->coll_shared_us, s->n_flows * sizeof(*grown));

		if (!grown)
			return;
		memset(grown + t->coll_n_flows, 0, (s->n_flows - t->coll_n_flows) * sizeof(*grown));
		t->coll_shared_us = grown;
		t->coll_n_flows = s->n_flows;
	}
	n_links = c->leaves * c->spines;
	up = calloc(n_links, sizeof(*up));
	down = calloc(n_links, sizeof(*down));
	for (int pass = 0; up && down && pass < 2; pass++) {
		for (uint32_t i = 0; i < s->n_flows; i++) {
			const struct sim_flow *f = &s->flows[i];
			uint32_t from = f->src / c->hosts_per_leaf, to = f->dst / c->hosts_per_leaf,
				 sp;
			uint64_t rate;

			if (!f->started || f->finish_ps || from == to)
				continue;
			sp = sim_path_spine(s, f->src, f->dst, f->sport);
			if (sp == SIM_NONE)
				continue;
			if (!pass) {
				live++;
				coll_up += up[from * c->spines + sp]++ > 0;
				coll_down += down[to * c->spines + sp]++ > 0;
				continue;
			}
			rate = s->hosts[f->src].txp[f->txp].rate_bps;
			rate = rate == TITA_RATE_UNPACED || f->held ? (f->held ? 0 : f->line_bps) :
								      rate;
			rate_gbps += (double)rate / 1e9;
			if (up[from * c->spines + sp] == 1 && down[to * c->spines + sp] == 1) {
				short_alone += ((double)f->line_bps - (double)rate) / 1e9;
			} else {
				short_shared += ((double)f->line_bps - (double)rate) / 1e9;
				t->coll_shared_us[i] += dt_us;
			}
			/* Paced well under its line, and whether a collision
			 * explains it. */
			if ((double)rate < 0.9 * (double)f->line_bps) {
				bool alone = up[from * c->spines + sp] == 1 &&
					     down[to * c->spines + sp] == 1;
				struct tita_pair_info pi[8];
				size_t np = tita_ctl_pairs(s->hosts[f->src].ctl, pi, 8);

				slow++;
				slow_alone += alone;
				for (size_t q = 0; alone && q < np && q < 8; q++) {
					if (pi[q].role != TITA_PAIR_TX ||
					    host_of_addr(&pi[q].remote) != f->dst)
						continue;
					why[0] += pi[q].moving;
					why[1] += pi[q].grant_bps < 0.9 * (double)f->line_bps;
					why[2] += pi[q].leaf_cap_bps &&
						  pi[q].leaf_cap_bps < 0.9 * (double)f->line_bps;
					why[3] += pi[q].ceiling_bps < 0.9 * (double)f->line_bps;
				}
				np = alone ? tita_ctl_pairs(s->hosts[f->dst].ctl, pi, 8) : 0;
				for (size_t q = 0; q < np && q < 8; q++) {
					if (pi[q].role != TITA_PAIR_RX ||
					    host_of_addr(&pi[q].remote) != f->src)
						continue;
					rx_start += pi[q].leaf_cap_bps &&
						    pi[q].leaf_cap_bps < 0.05 * (double)f->line_bps;
					rx_part += pi[q].leaf_cap_bps >=
							   0.05 * (double)f->line_bps &&
						   pi[q].leaf_cap_bps < 0.9 * (double)f->line_bps;
				}
			}
		}
	}
	if (getenv("SIM_TITA_COLLISIONS_WHO") && coll_up + coll_down <= 3)
		for (uint32_t i = 0; i < s->n_flows; i++) {
			const struct sim_flow *f = &s->flows[i];
			uint32_t from = f->src / c->hosts_per_leaf, to = f->dst / c->hosts_per_leaf,
				 sp;

			if (!f->started || f->finish_ps || from == to)
				continue;
			sp = sim_path_spine(s, f->src, f->dst, f->sport);
			if (sp != SIM_NONE &&
			    (up[from * c->spines + sp] > 1 || down[to * c->spines + sp] > 1))
				fprintf(stderr, "  flow %u leaf %u -> %u spine %u%s\n", f->id, from,
					to, sp, up[from * c->spines + sp] > 1 ? " up" : " down");
		}
	fprintf(stderr,
		"collisions t_us %.0f flows %u up %u down %u slow %u slow_alone %u (moving %u grant %u leafcap %u ceiling %u rx_start %u rx_part %u) rate_gbps %.0f short_gbps alone %.0f shared %.0f\n",
		(double)s->now_ps / SIM_PS_PER_US, live, coll_up, coll_down, slow, slow_alone,
		why[0], why[1], why[2], why[3], rx_start, rx_part, rate_gbps, short_alone,
		short_shared);
	t->coll_short_alone += short_alone * dt_us;
	t->coll_short_shared += short_shared * dt_us;
	free(up);
	free(down);
}

/* The leaf cap and grant (Gbit/s) a controller holds for its pair of ROLE
 * with HOST, or 0 (pi: room for 4,096 pairs). */
static void pair_held(const struct tita_ctl *ctl, struct tita_pair_info *pi,
		      enum tita_pair_role role, uint32_t host, double *cap, double *grant)
{
	size_t np = tita_ctl_pairs(ctl, pi, 4096);

	*cap = *grant = 0;
	for (size_t j = 0; j < np; j++)
		if (pi[j].role == role && host_of_addr(&pi[j].remote) == host) {
			*cap = (double)pi[j].leaf_cap_bps / 1e9;
			*grant = (double)pi[j].grant_bps / 1e9;
		}
}

/*
 * SIM_TITA_LINKS=US: every US, each leaf-spine link's data throughput since
 * the last sample, its queue, and the sum of the pacing rates of the live
 * flows ECMP sends over it: the min, mean and max over the uplinks and over
 * the downlinks, and the fullest one's queue and pacing sum
 * (SIM_TITA_LINKS_WHO=1: and the fullest downlink's flows as both ends'
 * controllers hold them).
 */
/* A flow that sends between two leaves now (trace_links). */
static bool live_between_leaves(const struct sim *s, const struct sim_flow *f)
{
	uint32_t hpl = s->cfg->hosts_per_leaf;

	return f->started && !f->finish_ps && f->src / hpl != f->dst / hpl &&
	       f->sent_bytes < f->size_bytes;
}

static void trace_links(struct sim *s)
{
	struct tita_sim *t = ts_of(s);
	const struct sim_config *c = s->cfg;
	uint32_t nl, *upp, *downp;
	double *uprate, *downrate, dt;

	if (!t->links_every_ps || s->now_ps < t->links_next_ps || c->topo != SIM_TOPO_LEAFSPINE)
		return;
	dt = (double)(s->now_ps - (t->links_next_ps ? t->links_next_ps - t->links_every_ps : 0)) /
	     1e12;
	t->links_next_ps = s->now_ps + t->links_every_ps;
	if (!t->links_tx)
		t->links_tx = calloc(s->n_ports, sizeof(*t->links_tx));
	nl = c->leaves * c->spines;
	upp = calloc(nl, sizeof(*upp));
	downp = calloc(nl, sizeof(*downp));
	uprate = calloc(nl, sizeof(*uprate));
	downrate = calloc(nl, sizeof(*downrate));
	if (!t->links_tx || !upp || !downp || !uprate || !downrate)
		goto out;
	for (uint32_t p = s->first_switch_port; p < s->n_ports; p++) {
		const struct sim_node *a = &s->nodes[s->ports[p].node];
		const struct sim_node *b = &s->nodes[s->ports[s->ports[p].peer].node];

		if (a->is_host || b->is_host)
			continue;
		if (a->idx < c->leaves)
			upp[a->idx * c->spines + (b->idx - c->leaves)] = p;
		else
			downp[b->idx * c->spines + (a->idx - c->leaves)] = p;
	}
	/* A pair's pacer is shared by its live flows: each carries its part. */
	for (uint32_t i = 0; i < s->n_flows; i++) {
		const struct sim_flow *f = &s->flows[i];
		uint32_t from = f->src / c->hosts_per_leaf, to = f->dst / c->hosts_per_leaf, sp;
		uint32_t shared = 0;
		uint64_t rate;

		if (!live_between_leaves(s, f))
			continue;
		sp = sim_path_spine(s, f->src, f->dst, f->sport);
		if (sp == SIM_NONE)
			continue;
		for (uint32_t j = 0; j < s->n_flows; j++)
			shared += s->flows[j].src == f->src && s->flows[j].txp == f->txp &&
				  live_between_leaves(s, &s->flows[j]);
		rate = s->hosts[f->src].txp[f->txp].rate_bps;
		rate = rate == TITA_RATE_UNPACED ? f->line_bps : rate;
		uprate[from * c->spines + sp] += (double)rate / 1e9 / shared;
		downrate[to * c->spines + sp] += (double)rate / 1e9 / shared;
	}
	for (int d = 0; d < 2; d++) {
		uint32_t *pp = d ? downp : upp;
		double *rr = d ? downrate : uprate;
		double mn = 1e18, mx = 0, sum = 0, qmax = 0, rsum = 0, rmax = 0;
		uint32_t worst = 0;

		for (uint32_t k = 0; k < nl; k++) {
			struct sim_port *pt = &s->ports[pp[k]];
			double g = (double)(pt->tx_data_bytes - t->links_tx[pp[k]]) * 8 / dt / 1e9;
			double q = (double)pt->q_bytes[SIM_PRIO_DATA] / 1024;

			t->links_tx[pp[k]] = pt->tx_data_bytes;
			mn = g < mn ? g : mn;
			mx = g > mx ? g : mx;
			sum += g;
			rsum += rr[k];
			rmax = rr[k] > rmax ? rr[k] : rmax;
			if (q >= qmax) {
				qmax = q;
				worst = k;
			}
		}
		fprintf(stderr,
			"links t_us %.0f %s gbps min %.1f mean %.1f max %.1f paced mean %.1f max %.1f q_max_kb %.0f at leaf%u/spine%u paced %.1f\n",
			(double)s->now_ps / SIM_PS_PER_US, d ? "down" : "up", mn, sum / nl, mx,
			rsum / nl, rmax, qmax, worst / c->spines, worst % c->spines, rr[worst]);
	}
	if (getenv("SIM_TITA_LINKS_WHO")) {
		/* The fullest downlink's flows: their pacing rates, what their
		 * receivers count them on, the receivers' leaf caps and grants,
		 * and the caps and grants their senders hold (the first 4,096
		 * pairs of each host). */
		double q = 0;
		uint32_t w = 0, n = 0, on_s = 0, other = 0, none = 0;
		double rate = 0, cap = 0, grant = 0, txcap = 0, txgrant = 0;
		struct tita_pair_info *pi = calloc(4096, sizeof(*pi));

		for (uint32_t k = 0; k < nl; k++)
			if ((double)s->ports[downp[k]].q_bytes[SIM_PRIO_DATA] >= q) {
				q = (double)s->ports[downp[k]].q_bytes[SIM_PRIO_DATA];
				w = k;
			}
		for (uint32_t i = 0; pi && i < s->n_flows; i++) {
			const struct sim_flow *f = &s->flows[i];
			uint32_t from = f->src / c->hosts_per_leaf, to = f->dst / c->hosts_per_leaf;
			size_t np;

			if (!f->started || f->finish_ps || from == to ||
			    f->sent_bytes >= f->size_bytes || to != w / c->spines ||
			    sim_path_spine(s, f->src, f->dst, f->sport) != w % c->spines)
				continue;
			n++;
			rate += (double)s->hosts[f->src].txp[f->txp].rate_bps / 1e9;
			np = tita_ctl_pairs(s->hosts[f->dst].ctl, pi, 4096);
			for (size_t j = 0; j < np; j++)
				if (pi[j].role == TITA_PAIR_RX &&
				    host_of_addr(&pi[j].remote) == f->src) {
					on_s += pi[j].spine == w % c->spines;
					none += pi[j].spine == TITA_SPINE_NONE;
					other += pi[j].spine != TITA_SPINE_NONE &&
						 pi[j].spine != w % c->spines;
					cap += (double)pi[j].leaf_cap_bps / 1e9;
					grant += (double)pi[j].grant_bps / 1e9;
				}
			np = tita_ctl_pairs(s->hosts[f->src].ctl, pi, 4096);
			for (size_t j = 0; j < np; j++)
				if (pi[j].role == TITA_PAIR_TX &&
				    host_of_addr(&pi[j].remote) == f->dst) {
					txcap += (double)pi[j].leaf_cap_bps / 1e9;
					txgrant += (double)pi[j].grant_bps / 1e9;
				}
		}
		fprintf(stderr,
			"  who leaf%u/spine%u flows %u rate %.1f rx: on %u other %u none %u leafcap %.1f grant %.1f tx leafcap %.1f grant %.1f\n",
			w / c->spines, w % c->spines, n, rate, on_s, other, none, cap, grant, txcap,
			txgrant);
		free(pi);
	}
	if (getenv("SIM_TITA_LINKS_FLOWS")) {
		/* Every live flow between leaves: its spine, bytes sent, pacing
		 * rate, and the leaf caps and grants both ends hold (which
		 * of them holds it back, and how far behind it is). */
		struct tita_pair_info *pi = calloc(4096, sizeof(*pi));

		for (uint32_t i = 0; pi && i < s->n_flows; i++) {
			const struct sim_flow *f = &s->flows[i];
			uint32_t from = f->src / c->hosts_per_leaf, to = f->dst / c->hosts_per_leaf;
			uint64_t rate = s->hosts[f->src].txp[f->txp].rate_bps;
			double rc, rg, tc, tg;

			if (!f->started || f->finish_ps || from == to)
				continue;
			pair_held(s->hosts[f->dst].ctl, pi, TITA_PAIR_RX, f->src, &rc, &rg);
			pair_held(s->hosts[f->src].ctl, pi, TITA_PAIR_TX, f->dst, &tc, &tg);
			fprintf(stderr,
				"flow t_us %.0f %u %u sp %u sent %lu rate %.3f rxcap %.3f rxgrant %.3f txcap %.3f txgrant %.3f\n",
				(double)s->now_ps / SIM_PS_PER_US, f->src, f->dst,
				sim_path_spine(s, f->src, f->dst, f->sport),
				(unsigned long)f->sent_bytes,
				(double)(rate == TITA_RATE_UNPACED ? f->line_bps : rate) / 1e9, rc,
				rg, tc, tg);
		}
		free(pi);
	}
out:
	free(upp);
	free(downp);
	free(uprate);
	free(downrate);
}

void sim_tita_on_event(struct sim *s, uint32_t host)
{
	struct sim_host *x = &s->hosts[host];
	uint64_t now_ns = s->now_ps / SIM_PS_PER_NS;

	trace_collisions(s);
	trace_links(s);

	if (x->dead) {
		/* [faults] dead: its controller is gone with it. */
		x->tita_wake_ps = 0;
		return;
	}
	if (x->tita_wake_ps && x->tita_wake_ps <= s->now_ps) {
		/* A round is due: hand over what was measured since the last.
		 * (Not at a wake-up between rounds, for an early allocation or
		 * a held pair: a sample of a few nanoseconds makes a rate of
		 * the few packets in it.) */
		if (tita_ctl_next_round_ns(x->ctl) <= now_ns)
			take_samples(s, host);
		x->tita_wake_ps = 0;
	}
	tita_ctl_advance(x->ctl, now_ns);
	drain(s, host);
	reschedule(s, host);
}

/*
 * The pair has sent all its application posted: the agent sees its last
 * posts complete and reports at once, as it reports a post on an idle pair.
 * (The agent sees the completion an acknowledgement later; the last byte
 * leaving the NIC stands for it here.)
 */
void sim_tita_tx(struct sim *s, struct sim_flow *f)
{
	struct sim_host *x = &s->hosts[f->src];
	struct sim_txpair *tp = &x->txp[f->txp];
	uint64_t now_ns = s->now_ps / SIM_PS_PER_NS;
	struct tita_tx_sample ts = {
		.local = tita_addr_from_host_id(f->src),
		.remote = tita_addr_from_host_id(f->dst),
		.job_id = f->job,
		.interval_ns = 1,
		.done = true,
	};

	if (tp->backlog_bytes || tp->done_said)
		return;
	tp->done_said = true;
	tita_ctl_tx_sample(x->ctl, &ts, now_ns);
	tita_ctl_advance(x->ctl, now_ns);
	drain(s, f->src);
	reschedule(s, f->src);
}

void sim_tita_flow_start(struct sim *s, struct sim_flow *f)
{
	struct sim_host *x = &s->hosts[f->src];
	uint32_t idx = txpair_of(x, f->dst, f->job);
	struct sim_txpair *tp = &x->txp[idx];
	uint64_t now_ns = s->now_ps / SIM_PS_PER_NS;
	struct tita_tx_sample ts = {
		.local = tita_addr_from_host_id(f->src),
		.remote = tita_addr_from_host_id(f->dst),
		.job_id = f->job,
		.interval_ns = 1,
	};

	f->txp = idx;
	f->rxp = rxpeer_of(&s->hosts[f->dst], f->src);
	if (x->dead)
		return;
	if (s->cfg->topo == SIM_TOPO_LEAFSPINE && !s->cfg->hosts_unplaced) {
		/* The hellos the two daemons would have exchanged. */
		uint32_t hpl = s->cfg->hosts_per_leaf;

		tita_ctl_peer_place(x->ctl, &ts.remote, f->dst / hpl);
		tita_ctl_peer_place(s->hosts[f->dst].ctl, &ts.local, f->src / hpl);
	}
	/* A flow of a pair that tita steers starts on the pair's path. */
	if (tp->sport)
		sim_flow_set_sport(s, f, tp->sport);
	tp->backlog_bytes += f->timed ? ENDLESS_BACKLOG_BYTES : f->size_bytes;
	tp->done_said = false;
	tp->last_active_ps = s->now_ps;
	txpair_live(x, idx);
	/* The agent reports a post at once: on an idle pair the controller
	 * learns of the new message now, not a round later; on a busy one,
	 * whether it still fits the allowance of the message under way, for
	 * which it needs the bytes sent since the last sample too (a round's
	 * bytes over its intervals make the same rate either way). The
	 * regular sample keeps its interval and the CNPs. */
	ts.backlog_bytes = backlog_of(s, f->src, tp);
	ts.tx_bytes = tp->tx_bytes;
	tp->tx_bytes = 0;
	tita_ctl_tx_sample(x->ctl, &ts, now_ns);
	tita_ctl_advance(x->ctl, now_ns);
	drain(s, f->src);
	reschedule(s, f->src);
}
