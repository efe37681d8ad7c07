// SPDX-License-Identifier: MIT
/*
 * Reader: turn tita's maps into per-peer samples. Per-CPU values are summed;
 * each read is compared with the previous one entry by entry (both sorted
 * by key, merge-joined) to get deltas that never go negative, also across
 * LRU eviction; per-peer RX figures are the sums over the peer's QPs.
 *
 * The tables are read with BPF_MAP_LOOKUP_BATCH (5.6+), which walks a hash
 * map bucket by bucket and copes with entries that come and go meanwhile.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "tita.skel.h"

#define RX_FIELDS (sizeof(struct tita_bpf_rx_counts) / sizeof(uint64_t))
#define TX_FIELDS (sizeof(struct tita_bpf_tx_counts) / sizeof(uint64_t))

_Static_assert(RX_FIELDS == 8 && TX_FIELDS == 9, "count structs must be all uint64_t");

/* One summed RX entry, with what the next read needs to compare. */
struct rx_entry {
	struct tita_bpf_rx_qp qp;
	uint64_t created_ns;
};

struct tx_entry {
	struct tita_bpf_tx_peer peer;
	uint64_t created_ns;
};

/*
 * The order that sorts a read. A hash map hands its entries back in bucket
 * order, which stays the same from read to read while its set of keys
 * does: then the previous read's permutation is reused instead of sorting
 * again (most reads, once traffic is steady).
 */
#define SORT_KEY_BYTES 20 /* the address, then the QP big-endian: memcmp order */

struct order_cache {
	uint8_t *keys; /* the previous read's sort keys, in the map's order */
	uint32_t *perm; /* sorted position k holds entry perm[k] of the read */
	size_t n, cap;
};

/* A raw batch read of one per-CPU hash map. */
struct raw {
	void *keys, *values;
	size_t keys_bytes, values_bytes, n;
};

struct tita_bpf_reader {
	struct tita_bpf *b;
	int ncpu;
	bool have_prev;
	uint64_t prev_now_ns;
	struct raw raw;
	/* Current and previous reads, sorted by key. */
	struct rx_entry *rx, *rx_prev;
	size_t n_rx, n_rx_prev, cap_rx, cap_rx_prev;
	struct tita_bpf_rx_peer *peers, *peers_prev;
	size_t n_peers, n_peers_prev, cap_peers, cap_peers_prev;
	struct tita_bpf_rx_qp *qps; /* the snapshot's view of rx */
	size_t cap_qps;
	struct tx_entry *tx, *tx_prev;
	size_t n_tx, n_tx_prev, cap_tx, cap_tx_prev;
	/* Unsorted reads and their sort keys, and the orders that sort them. */
	struct rx_entry *rx_unsorted;
	size_t cap_rx_unsorted;
	uint8_t *sort_keys;
	size_t cap_sort_keys;
	struct order_cache rx_order, tx_order;
	struct tita_bpf_tx_peer *txp;
	size_t cap_txp;
	struct tita_bpf_queue queues[TITA_QUEUE_MAX_TXQ];
	struct tita_bpf_reasons rx_reasons_prev, tx_reasons_prev;
	/* Reasons and the queue sampler, read at most once per slow interval. */
	uint64_t slow_interval_ns, slow_read_ns;
	bool have_slow;
	/* Per hash map (rx4, rx6, tx): the creations the last read saw, and
	 * whether it found entries; a map with neither news is not read. */
	uint64_t created_seen[3];
	bool had_entries[3];
	struct tita_bpf_snapshot snap;
};

enum { MAP_RX4, MAP_RX6, MAP_TX };

/* Whether the map may hold entries the reader has not seen empty: it had
 * some at the last read, or the datapath created one since. The first read
 * reads every map (pinned maps outlive a restart, the counters do not). */
static bool worth_reading(struct tita_bpf_reader *r, int which)
{
	const struct tita__bss *bss = r->b->skel->bss;
	uint64_t created;

	switch (which) {
	case MAP_RX4:
		created = __atomic_load_n(&bss->tita_rx_qp4_created, __ATOMIC_ACQUIRE);
		break;
	case MAP_RX6:
		created = __atomic_load_n(&bss->tita_rx_qp6_created, __ATOMIC_ACQUIRE);
		break;
	default:
		created = __atomic_load_n(&bss->tita_tx_peer_created, __ATOMIC_ACQUIRE);
		break;
	}
	if (r->have_prev && !r->had_entries[which] && created == r->created_seen[which])
		return false;
	/* Read before the map: an entry created during the walk shows as news
	 * at the next read even when the walk missed it. */
	r->created_seen[which] = created;
	return true;
}

void tita_bpf_counter_delta(const uint64_t *now, const uint64_t *prev, size_t n,
			    uint64_t now_created_ns, uint64_t prev_created_ns, uint64_t *ret_delta)
{
	bool restarted = now_created_ns != prev_created_ns;

	for (size_t i = 0; i < n && !restarted; i++)
		restarted = now[i] < prev[i];
	for (size_t i = 0; i < n; i++)
		ret_delta[i] = restarted ? now[i] : now[i] - prev[i];
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	void *q;
	size_t n;

	if (need <= *cap)
		return 0;
	n = need < 64 ? 64 : need;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Read every entry of a per-CPU hash map into r->raw. */
static int read_percpu_hash(struct tita_bpf_reader *r, const struct bpf_map *map)
{
	size_t ksz = bpf_map__key_size(map);
	size_t vsz = ((bpf_map__value_size(map) + 7) & ~(size_t)7) * (size_t)r->ncpu;
	size_t max = bpf_map__max_entries(map);
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int fd = bpf_map__fd(map);
	uint64_t in_batch = 0, out_batch = 0;
	struct raw *raw = &r->raw;
	bool first = true;

	/* Room for the whole table, keys and values, grown once. */
	if (raw->keys_bytes < max * ksz) {
		void *k = realloc(raw->keys, max * ksz);

		if (!k)
			return -ENOMEM;
		raw->keys = k;
		raw->keys_bytes = max * ksz;
	}
	if (raw->values_bytes < max * vsz) {
		void *v = realloc(raw->values, max * vsz);

		if (!v)
			return -ENOMEM;
		raw->values = v;
		raw->values_bytes = max * vsz;
	}
	raw->n = 0;
	while (raw->n < max) {
		uint32_t count = (uint32_t)(max - raw->n);
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch,
					       (char *)raw->keys + raw->n * ksz,
					       (char *)raw->values + raw->n * vsz, &count, &opts);

		if (err && errno != ENOENT)
			return -errno;
		raw->n += count;
		if (err)
			break; /* ENOENT: the walk is complete */
		in_batch = out_batch;
		first = false;
	}
	return 0;
}

static const void *raw_key(const struct tita_bpf_reader *r, size_t ksz, size_t i)
{
	return (const char *)r->raw.keys + i * ksz;
}

static const void *raw_value(const struct tita_bpf_reader *r, size_t vsz, size_t i, int cpu)
{
	size_t stride = (vsz + 7) & ~(size_t)7;

	return (const char *)r->raw.values + (i * (size_t)r->ncpu + (size_t)cpu) * stride;
}

static void sum_rx(const struct tita_bpf_reader *r, size_t i, struct rx_entry *e)
{
	uint64_t latest = 0;

	for (int cpu = 0; cpu < r->ncpu; cpu++) {
		const struct tita_rx_counters *v =
			raw_value(r, sizeof(struct tita_rx_counters), i, cpu);

		e->qp.total.packets += v->packets;
		e->qp.total.bytes += v->bytes;
		e->qp.total.ce_packets += v->ce_packets;
		e->qp.total.ect0_packets += v->ect0_packets;
		e->qp.total.ect1_packets += v->ect1_packets;
		e->qp.total.not_ect_packets += v->not_ect_packets;
		e->qp.total.cnp_packets += v->cnp_packets;
		e->qp.total.oos_packets += v->oos_packets;
		if (v->created_ns > e->created_ns)
			e->created_ns = v->created_ns;
		/* The CPU that saw the QP last has its latest PSN. */
		if (v->packets && v->last_seen_jiffies >= latest) {
			latest = v->last_seen_jiffies;
			e->qp.last_psn = v->last_psn;
			e->qp.last_opcode = v->last_opcode;
		}
	}
}

static int cmp_addr(const struct tita_addr *a, const struct tita_addr *b)
{
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

static int cmp_rx(const void *pa, const void *pb)
{
	const struct rx_entry *a = pa, *b = pb;
	int c = cmp_addr(&a->qp.remote, &b->qp.remote);

	if (c)
		return c;
	return a->qp.dst_qp < b->qp.dst_qp ? -1 : a->qp.dst_qp > b->qp.dst_qp;
}

static int cmp_tx(const void *pa, const void *pb)
{
	const struct tx_entry *a = pa, *b = pb;

	return cmp_addr(&a->peer.remote, &b->peer.remote);
}

static int cmp_sort_key(const void *pa, const void *pb, void *keys)
{
	const uint8_t *k = keys;

	return memcmp(k + (size_t) * (const uint32_t *)pa * SORT_KEY_BYTES,
		      k + (size_t) * (const uint32_t *)pb * SORT_KEY_BYTES, SORT_KEY_BYTES);
}

/* The permutation that sorts n entries by their keys; NULL when out of
 * memory. */
static const uint32_t *sorted_order(struct order_cache *oc, const uint8_t *keys, size_t n)
{
	static uint32_t none;

	if (!n)
		return &none;
	if (n == oc->n && !memcmp(keys, oc->keys, n * SORT_KEY_BYTES))
		return oc->perm;
	if (n > oc->cap) {
		uint8_t *k = realloc(oc->keys, n * SORT_KEY_BYTES);
		uint32_t *p;

		if (!k)
			return NULL;
		oc->keys = k;
		p = realloc(oc->perm, n * sizeof(*p));
		if (!p)
			return NULL;
		oc->perm = p;
		oc->cap = n;
	}
	oc->n = 0; /* invalid until sorted */
	memcpy(oc->keys, keys, n * SORT_KEY_BYTES);
	for (size_t i = 0; i < n; i++)
		oc->perm[i] = (uint32_t)i;
	qsort_r(oc->perm, n, sizeof(*oc->perm), cmp_sort_key, oc->keys);
	oc->n = n;
	return oc->perm;
}

static void sort_key(struct tita_bpf_reader *r, size_t i, const struct tita_addr *remote,
		     uint32_t qp)
{
	uint8_t *k = r->sort_keys + i * SORT_KEY_BYTES;

	memcpy(k, remote->bytes, 16);
	k[16] = (uint8_t)(qp >> 24);
	k[17] = (uint8_t)(qp >> 16);
	k[18] = (uint8_t)(qp >> 8);
	k[19] = (uint8_t)qp;
}

/* r->rx in key order (read_rx fills it in the maps' order). */
static int sort_rx(struct tita_bpf_reader *r)
{
	const uint32_t *perm;
	struct rx_entry *t;
	size_t tc;

	if (r->n_rx < 2)
		return 0;
	if (grow((void **)&r->sort_keys, &r->cap_sort_keys, r->n_rx * SORT_KEY_BYTES, 1) ||
	    grow((void **)&r->rx_unsorted, &r->cap_rx_unsorted, r->n_rx, sizeof(*r->rx)))
		return -ENOMEM;
	for (size_t i = 0; i < r->n_rx; i++)
		sort_key(r, i, &r->rx[i].qp.remote, r->rx[i].qp.dst_qp);
	perm = sorted_order(&r->rx_order, r->sort_keys, r->n_rx);
	if (!perm)
		return -ENOMEM;
	/* The read becomes the spare; the sorted copy takes its place. */
	t = r->rx, r->rx = r->rx_unsorted, r->rx_unsorted = t;
	tc = r->cap_rx, r->cap_rx = r->cap_rx_unsorted, r->cap_rx_unsorted = tc;
	for (size_t k = 0; k < r->n_rx; k++)
		r->rx[k] = r->rx_unsorted[perm[k]];
	return 0;
}

static int read_rx(struct tita_bpf_reader *r)
{
	struct tita *s = r->b->skel;
	int err;

	r->n_rx = 0;
	for (int fam = 4; fam <= 6; fam += 2) {
		const struct bpf_map *map = fam == 4 ? s->maps.tita_rx_qp4 : s->maps.tita_rx_qp6;
		int which = fam == 4 ? MAP_RX4 : MAP_RX6;
		size_t ksz = bpf_map__key_size(map);

		if (!worth_reading(r, which))
			continue;
		r->had_entries[which] = true; /* until a walk completes */
		err = read_percpu_hash(r, map);
		if (err)
			return err;
		r->had_entries[which] = r->raw.n > 0;
		if (grow((void **)&r->rx, &r->cap_rx, r->n_rx + r->raw.n, sizeof(*r->rx)))
			return -ENOMEM;
		for (size_t i = 0; i < r->raw.n; i++) {
			struct rx_entry *e = &r->rx[r->n_rx++];

			memset(e, 0, sizeof(*e));
			if (fam == 4) {
				const struct tita_qp4_key *k = raw_key(r, ksz, i);

				e->qp.remote = tita_addr_from_ipv4((const uint8_t *)&k->addr);
				e->qp.dst_qp = k->dst_qp;
			} else {
				const struct tita_qp6_key *k = raw_key(r, ksz, i);

				memcpy(e->qp.remote.bytes, k->addr, 16);
				e->qp.dst_qp = k->dst_qp;
			}
			sum_rx(r, i, e);
		}
	}
	return sort_rx(r);
}

static int read_tx(struct tita_bpf_reader *r)
{
	const struct bpf_map *map = r->b->skel->maps.tita_tx_peer;
	size_t ksz = bpf_map__key_size(map);
	const uint32_t *perm;
	int err;

	if (!worth_reading(r, MAP_TX)) {
		r->n_tx = 0;
		return 0;
	}
	r->had_entries[MAP_TX] = true; /* until a walk completes */
	err = read_percpu_hash(r, map);
	if (err)
		return err;
	r->had_entries[MAP_TX] = r->raw.n > 0;
	if (grow((void **)&r->tx, &r->cap_tx, r->raw.n, sizeof(*r->tx)) ||
	    grow((void **)&r->sort_keys, &r->cap_sort_keys, r->raw.n * SORT_KEY_BYTES, 1))
		return -ENOMEM;
	r->n_tx = r->raw.n;
	for (size_t i = 0; i < r->raw.n; i++) {
		const struct tita_peer_key *k = raw_key(r, ksz, i);
		struct tita_addr remote;

		memcpy(remote.bytes, k->addr, 16);
		sort_key(r, i, &remote, 0);
	}
	perm = sorted_order(&r->tx_order, r->sort_keys, r->n_tx);
	if (!perm)
		return -ENOMEM;
	/* Each entry straight into its sorted place. */
	for (size_t pos = 0; pos < r->n_tx; pos++) {
		size_t i = perm[pos];
		struct tx_entry *e = &r->tx[pos];

		memset(e, 0, sizeof(*e));
		memcpy(e->peer.remote.bytes, r->sort_keys + i * SORT_KEY_BYTES, 16);
		for (int cpu = 0; cpu < r->ncpu; cpu++) {
			const struct tita_tx_counters *v =
				raw_value(r, sizeof(struct tita_tx_counters), i, cpu);
			struct tita_bpf_tx_counts *t = &e->peer.total;

			t->packets += v->packets;
			t->bytes += v->bytes;
			t->roce_packets += v->roce_packets;
			t->roce_bytes += v->roce_bytes;
			t->ce_packets += v->ce_packets;
			t->ect0_packets += v->ect0_packets;
			t->ect1_packets += v->ect1_packets;
			t->not_ect_packets += v->not_ect_packets;
			t->classified_packets += v->classified_packets;
			if (v->created_ns > e->created_ns)
				e->created_ns = v->created_ns;
		}
	}
	return 0;
}

/*
 * Deltas by merge-join of the sorted current and previous reads. On the
 * first read there is nothing to compare with: deltas are zero (the pinned
 * counts predate this reader). Afterwards a key not seen before was
 * created since the previous read, so all its counts are new.
 */
static void rx_deltas(struct tita_bpf_reader *r)
{
	size_t j = 0;

	for (size_t i = 0; i < r->n_rx; i++) {
		struct rx_entry *e = &r->rx[i];
		int c = 1;

		while (j < r->n_rx_prev && (c = cmp_rx(&r->rx_prev[j], e)) < 0)
			j++;
		if (!r->have_prev) {
			memset(&e->qp.delta, 0, sizeof(e->qp.delta));
		} else if (j < r->n_rx_prev && c == 0) {
			tita_bpf_counter_delta((const uint64_t *)&e->qp.total,
					       (const uint64_t *)&r->rx_prev[j].qp.total, RX_FIELDS,
					       e->created_ns, r->rx_prev[j].created_ns,
					       (uint64_t *)&e->qp.delta);
		} else {
			e->qp.delta = e->qp.total;
		}
	}
}

static void add_counts(uint64_t *acc, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc[i] += v[i];
}

/*
 * Per-peer sums over the QPs. A peer's total is cumulative in this reader:
 * the previous total plus this interval's delta, so it never goes down when
 * one of its QPs is evicted; a peer seen for the first time starts from the
 * sum of what its QPs hold.
 */
static int rx_peers(struct tita_bpf_reader *r)
{
	size_t j = 0;

	r->n_peers = 0;
	for (size_t i = 0; i < r->n_rx;) {
		struct tita_bpf_rx_peer *p;
		struct tita_bpf_rx_counts table = { 0 };
		size_t k = i;
		int c = 1;

		if (grow((void **)&r->peers, &r->cap_peers, r->n_peers + 1, sizeof(*r->peers)))
			return -ENOMEM;
		p = &r->peers[r->n_peers++];
		memset(p, 0, sizeof(*p));
		p->remote = r->rx[i].qp.remote;
		for (; k < r->n_rx && !cmp_addr(&r->rx[k].qp.remote, &p->remote); k++) {
			add_counts((uint64_t *)&table, (const uint64_t *)&r->rx[k].qp.total,
				   RX_FIELDS);
			add_counts((uint64_t *)&p->delta, (const uint64_t *)&r->rx[k].qp.delta,
				   RX_FIELDS);
			p->qps++;
		}
		i = k;
		while (j < r->n_peers_prev &&
		       (c = cmp_addr(&r->peers_prev[j].remote, &p->remote)) < 0)
			j++;
		if (j < r->n_peers_prev && c == 0) {
			p->total = r->peers_prev[j].total;
			add_counts((uint64_t *)&p->total, (const uint64_t *)&p->delta, RX_FIELDS);
		} else {
			p->total = table;
		}
	}
	return 0;
}

static void tx_deltas(struct tita_bpf_reader *r)
{
	size_t j = 0;

	for (size_t i = 0; i < r->n_tx; i++) {
		struct tx_entry *e = &r->tx[i];
		int c = 1;

		while (j < r->n_tx_prev && (c = cmp_tx(&r->tx_prev[j], e)) < 0)
			j++;
		if (!r->have_prev)
			memset(&e->peer.delta, 0, sizeof(e->peer.delta));
		else if (j < r->n_tx_prev && c == 0)
			tita_bpf_counter_delta((const uint64_t *)&e->peer.total,
					       (const uint64_t *)&r->tx_prev[j].peer.total,
					       TX_FIELDS, e->created_ns, r->tx_prev[j].created_ns,
					       (uint64_t *)&e->peer.delta);
		else
			e->peer.delta = e->peer.total;
	}
}

/*
 * Read entries 0..n-1 of an array map in one bpf() call (array batch
 * lookups: Linux 5.6). Each read costs tens of microseconds on some
 * hypervisors, and the reader runs every control interval: one call per map
 * instead of one per entry is most of the daemon's idle CPU. value_bytes is
 * the size of one entry as the syscall returns it (for a per-CPU map, all
 * CPUs' values, each rounded up to 8 bytes). Falls back to one lookup per
 * entry where batches are refused.
 */
static int read_array(int fd, uint32_t n, size_t value_bytes, void *values)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t keys[256], count = n, out_batch;

	if (n <= sizeof(keys) / sizeof(keys[0])) {
		int err = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, values, &count, &opts);

		if ((!err || errno == ENOENT) && count == n)
			return 0;
		if (err && errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP &&
		    errno != ENOENT)
			return -errno;
	}
	for (uint32_t i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &i, (char *)values + i * value_bytes))
			return -errno;
	return 0;
}

static int read_reasons(struct tita_bpf_reader *r, const struct bpf_map *map,
			struct tita_bpf_reasons *total)
{
	size_t stride = (sizeof(struct tita_reason_counters) + 7) & ~(size_t)7;
	uint32_t n = TITA_REASON_MAX < bpf_map__max_entries(map) ? TITA_REASON_MAX :
								   bpf_map__max_entries(map);
	char *v = calloc((size_t)n * (size_t)r->ncpu, stride);
	int err;

	if (!v)
		return -ENOMEM;
	memset(total, 0, sizeof(*total));
	err = read_array(bpf_map__fd(map), n, (size_t)r->ncpu * stride, v);
	for (uint32_t i = 0; !err && i < n; i++) {
		for (int cpu = 0; cpu < r->ncpu; cpu++) {
			const struct tita_reason_counters *c =
				(const void *)(v + ((size_t)i * (size_t)r->ncpu + (size_t)cpu) *
							   stride);

			total->packets[i] += c->packets;
			total->bytes[i] += c->bytes;
		}
	}
	free(v);
	return err;
}

/* What a monotonic counter gained; a recreated map starts from zero. */
static uint64_t gained(uint64_t now, uint64_t prev, bool have_prev)
{
	if (!have_prev)
		return 0;
	return now >= prev ? now - prev : now;
}

static void reason_delta(const struct tita_bpf_reasons *now, const struct tita_bpf_reasons *prev,
			 bool have_prev, struct tita_bpf_reasons *delta)
{
	for (int i = 0; i < TITA_REASON_MAX; i++) {
		delta->packets[i] = gained(now->packets[i], prev->packets[i], have_prev);
		delta->bytes[i] = gained(now->bytes[i], prev->bytes[i], have_prev);
	}
}

/*
 * Close the sampler's interval: advance the epoch the program writes into,
 * then read the slot of the epoch just closed (the program no longer writes
 * it, bar a dequeue that read the epoch a moment before the switch).
 */
static int read_queues(struct tita_bpf_reader *r)
{
	struct tita *s = r->b->skel;
	const struct bpf_map *qmap = s->maps.tita_queue;
	uint64_t epoch = s->bss->tita_queue_epoch;
	struct tita_queue_state states[TITA_QUEUE_MAX_TXQ];
	uint64_t *stat;
	int err;

	r->snap.n_queues = 0;
	r->snap.queue_attached = r->b->info.queue_attached;
	if (!r->b->info.queue_attached)
		return 0;
	__atomic_store_n(&s->bss->tita_queue_epoch, epoch + 1, __ATOMIC_SEQ_CST);
	err = read_array(bpf_map__fd(qmap), TITA_QUEUE_MAX_TXQ, sizeof(*states), states);
	if (err)
		return err;
	for (uint32_t i = 0; i < TITA_QUEUE_MAX_TXQ; i++) {
		const struct tita_queue_state st = states[i];
		const struct tita_queue_slot *slot = &st.slot[epoch & 1];
		struct tita_bpf_queue *q;

		if (!st.ifindex)
			continue; /* never busy */
		q = &r->queues[r->snap.n_queues++];
		memset(q, 0, sizeof(*q));
		q->ifindex = st.ifindex;
		q->txq = st.txq;
		q->backlog_bytes = st.backlog_bytes;
		q->backlog_packets = st.backlog_packets;
		if (slot->epoch != epoch)
			continue; /* idle during the interval */
		q->hwm_bytes = slot->hwm_bytes;
		q->hwm_packets = slot->hwm_packets;
		q->delay_max_ns = slot->delay_max_ns;
		q->delay_samples = slot->delay_samples;
		q->delay_avg_ns = slot->delay_samples ? slot->delay_sum_ns / slot->delay_samples :
							0;
		q->busy_dequeues = slot->busy_dequeues;
	}
	r->snap.queue_percpu_qdisc = s->bss->tita_queue_saw_percpu_qdisc != 0;

	stat = calloc((size_t)TITA_QSTAT_MAX * (size_t)r->ncpu, sizeof(*stat));
	if (!stat)
		return -ENOMEM;
	err = read_array(bpf_map__fd(s->maps.tita_queue_stat), TITA_QSTAT_MAX,
			 (size_t)r->ncpu * sizeof(*stat), stat);
	if (err) {
		free(stat);
		return err;
	}
	for (uint32_t i = 0; i < TITA_QSTAT_MAX; i++) {
		uint64_t sum = 0;

		for (int cpu = 0; cpu < r->ncpu; cpu++)
			sum += stat[(size_t)i * (size_t)r->ncpu + (size_t)cpu];
		if (i == TITA_QSTAT_EVENTS)
			r->snap.queue_events = sum;
		else if (i == TITA_QSTAT_TXQ_OVERFLOW)
			r->snap.queue_txq_overflow = sum;
		else if (i == TITA_QSTAT_MARKERS)
			r->snap.queue_markers = sum;
	}
	free(stat);
	return 0;
}

struct tita_bpf_reader *tita_bpf_reader_new(struct tita_bpf *b)
{
	struct tita_bpf_reader *r;

	if (!b || !b->skel) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->b = b;
	r->ncpu = libbpf_num_possible_cpus();
	if (r->ncpu <= 0) {
		free(r);
		errno = EINVAL;
		return NULL;
	}
	return r;
}

void tita_bpf_reader_set_slow_interval(struct tita_bpf_reader *r, uint64_t interval_ns)
{
	r->slow_interval_ns = interval_ns;
}

struct tita_bpf_reader *tita_bpf_reader_free(struct tita_bpf_reader *r)
{
	if (!r)
		return NULL;
	free(r->raw.keys);
	free(r->raw.values);
	free(r->rx);
	free(r->rx_prev);
	free(r->peers);
	free(r->peers_prev);
	free(r->qps);
	free(r->tx);
	free(r->tx_prev);
	free(r->txp);
	free(r->rx_unsorted);
	free(r->sort_keys);
	free(r->rx_order.keys);
	free(r->rx_order.perm);
	free(r->tx_order.keys);
	free(r->tx_order.perm);
	free(r);
	return NULL;
}

#define SWAP(a, b)                        \
	do {                              \
		__typeof__(a) tmp_ = (a); \
		(a) = (b);                \
		(b) = tmp_;               \
	} while (0)

int tita_bpf_read(struct tita_bpf_reader *r, uint64_t now_ns,
		  const struct tita_bpf_snapshot **ret_snap)
{
	struct tita *s = r->b->skel;
	struct tita_bpf_reasons rx_reasons, tx_reasons;
	bool slow;
	int err;

	/* The snapshot of the previous read must stay valid on failure, so
	 * fill the spare (previous-previous) buffers first, swap on success. */
	SWAP(r->rx, r->rx_prev);
	SWAP(r->n_rx, r->n_rx_prev);
	SWAP(r->cap_rx, r->cap_rx_prev);
	SWAP(r->tx, r->tx_prev);
	SWAP(r->n_tx, r->n_tx_prev);
	SWAP(r->cap_tx, r->cap_tx_prev);
	SWAP(r->peers, r->peers_prev);
	SWAP(r->n_peers, r->n_peers_prev);
	SWAP(r->cap_peers, r->cap_peers_prev);

	slow = !r->have_slow || now_ns - r->slow_read_ns >= r->slow_interval_ns;
	err = read_rx(r);
	if (!err)
		err = read_tx(r);
	if (!err && slow)
		err = read_reasons(r, s->maps.tita_rx_reason, &rx_reasons);
	if (!err && slow)
		err = read_reasons(r, s->maps.tita_tx_reason, &tx_reasons);
	if (!slow) {
		rx_reasons = r->rx_reasons_prev;
		tx_reasons = r->tx_reasons_prev;
	}
	if (!err) {
		rx_deltas(r);
		err = rx_peers(r);
	}
	if (!err)
		err = grow((void **)&r->qps, &r->cap_qps, r->n_rx, sizeof(*r->qps));
	if (!err)
		err = grow((void **)&r->txp, &r->cap_txp, r->n_tx, sizeof(*r->txp));
	if (err) {
		/* Back to the previous read as the comparison base. */
		SWAP(r->rx, r->rx_prev);
		SWAP(r->n_rx, r->n_rx_prev);
		SWAP(r->cap_rx, r->cap_rx_prev);
		SWAP(r->tx, r->tx_prev);
		SWAP(r->n_tx, r->n_tx_prev);
		SWAP(r->cap_tx, r->cap_tx_prev);
		SWAP(r->peers, r->peers_prev);
		SWAP(r->n_peers, r->n_peers_prev);
		SWAP(r->cap_peers, r->cap_peers_prev);
		return err;
	}
	tx_deltas(r);

	if (slow) {
		memset(&r->snap, 0, sizeof(r->snap));
		err = read_queues(r);
		r->slow_read_ns = now_ns;
		r->have_slow = true;
	}
	r->snap.now_ns = now_ns;
	r->snap.interval_ns = r->have_prev && now_ns > r->prev_now_ns ? now_ns - r->prev_now_ns : 0;
	for (size_t i = 0; i < r->n_rx; i++)
		r->qps[i] = r->rx[i].qp;
	for (size_t i = 0; i < r->n_tx; i++)
		r->txp[i] = r->tx[i].peer;
	r->snap.rx_qps = r->qps;
	r->snap.n_rx_qps = r->n_rx;
	r->snap.rx_peers = r->peers;
	r->snap.n_rx_peers = r->n_peers;
	r->snap.tx_peers = r->txp;
	r->snap.n_tx_peers = r->n_tx;
	r->snap.queues = r->queues;
	r->snap.rx_reasons_total = rx_reasons;
	r->snap.tx_reasons_total = tx_reasons;
	reason_delta(&rx_reasons, &r->rx_reasons_prev, r->have_prev, &r->snap.rx_reasons_delta);
	reason_delta(&tx_reasons, &r->tx_reasons_prev, r->have_prev, &r->snap.tx_reasons_delta);
	r->rx_reasons_prev = rx_reasons;
	r->tx_reasons_prev = tx_reasons;
	r->have_prev = true;
	r->prev_now_ns = now_ns;
	*ret_snap = &r->snap;
	return err;
}

/* Binary search of a snapshot array sorted by the address at offset off. */
static const void *find_remote(const void *base, size_t n, size_t size, size_t off,
			       const struct tita_addr *remote)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *e = (const char *)base + mid * size;
		int c = cmp_addr((const struct tita_addr *)(e + off), remote);

		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct tita_bpf_rx_peer *tita_bpf_snapshot_rx_peer(const struct tita_bpf_snapshot *s,
							 const struct tita_addr *remote)
{
	return find_remote(s->rx_peers, s->n_rx_peers, sizeof(*s->rx_peers),
			   offsetof(struct tita_bpf_rx_peer, remote), remote);
}

const struct tita_bpf_tx_peer *tita_bpf_snapshot_tx_peer(const struct tita_bpf_snapshot *s,
							 const struct tita_addr *remote)
{
	return find_remote(s->tx_peers, s->n_tx_peers, sizeof(*s->tx_peers),
			   offsetof(struct tita_bpf_tx_peer, remote), remote);
}

void tita_bpf_rx_sample(const struct tita_bpf_snapshot *s, const struct tita_bpf_rx_peer *p,
			const struct tita_addr *local, struct tita_rx_sample *ret_sample)
{
	memset(ret_sample, 0, sizeof(*ret_sample));
	ret_sample->local = *local;
	ret_sample->remote = p->remote;
	ret_sample->interval_ns = s->interval_ns;
	ret_sample->rx_bytes = p->delta.bytes;
	ret_sample->rx_packets = p->delta.packets;
	ret_sample->ce_packets = p->delta.ce_packets;
	ret_sample->lost_packets = p->delta.oos_packets;
}

void tita_bpf_tx_sample(const struct tita_bpf_snapshot *s, const struct tita_bpf_tx_peer *p,
			const struct tita_addr *local, uint32_t job_id,
			struct tita_tx_sample *ret_sample)
{
	const struct tita_bpf_rx_peer *rx = tita_bpf_snapshot_rx_peer(s, &p->remote);

	memset(ret_sample, 0, sizeof(*ret_sample));
	ret_sample->local = *local;
	ret_sample->remote = p->remote;
	ret_sample->job_id = job_id;
	ret_sample->interval_ns = s->interval_ns;
	ret_sample->tx_bytes = p->delta.bytes;
	ret_sample->cnp_packets = rx ? rx->delta.cnp_packets : 0;
}
