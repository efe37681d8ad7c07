// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Queue sampler on the qdisc_dequeue tracepoint (tp_btf, BTF and CO-RE):
 * per TX queue of one device, the backlog high-water mark (bytes, packets)
 * and a sampled queueing delay, per reader interval. This is the egress
 * queue signal of the kernel path; the tc pacer's HTB backlog is what tells
 * a sender it wants more than it is given.
 *
 * The tracepoint fires for every qdisc on the host, and also when a dequeue
 * finds nothing, so the common cases leave after a few loads and compares,
 * with no helper call and no map access: no packet dequeued, another
 * device, or an empty queue with no delay marker out (tita_queue_busy is a
 * plain global, read without a lookup).
 *
 * The delay: when a dequeue leaves B bytes behind and the queue has no
 * marker out, a marker starts; it completes when B more bytes have been
 * dequeued or the queue ran empty, and the time it took is one sample (the
 * queueing delay a packet arriving at the start saw, exact for a FIFO).
 *
 * Lockless qdiscs (pfifo_fast) keep qlen/backlog in per-CPU stats that a
 * program cannot sum cheaply; they are skipped and flagged once in
 * tita_queue_saw_percpu_qdisc.
 */
#include "maps.h"
#include "kernel.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* Knobs, set by the loader between open and load. */
const volatile __u32 queue_ifindex = 0; /* the device watched */
const volatile __u32 queue_netns_ino = 0; /* its network namespace (0: any) */

/* Written by user space (the skeleton maps .bss): the reader's interval. */
volatile __u64 tita_queue_epoch;
/* Queues with a marker out; while 0, an empty queue costs nothing. */
__u64 tita_queue_busy;
__u32 tita_queue_saw_percpu_qdisc;

/* Bulk dequeue hands over a list; its length is bounded by BQL in practice.
 * Beyond this many the marker undercounts and completes late, never early. */
#define TITA_BULK_MAX 8

static __always_inline void tita_qstat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&tita_queue_stat, &idx);

	if (v)
		(*v)++;
}

static __always_inline __u64 tita_dequeued_bytes(struct sk_buff *skb, int packets)
{
	__u64 bytes = 0;

#pragma unroll
	for (int i = 0; i < TITA_BULK_MAX; i++) {
		if (!skb || i >= packets)
			break;
		bytes += skb->len;
		skb = skb->next;
	}
	return bytes;
}

SEC("tp_btf/qdisc_dequeue")
int BPF_PROG(tita_queue_deq, struct Qdisc *q, const struct netdev_queue *txq, int packets,
	     struct sk_buff *skb)
{
	struct tita_queue_state *st;
	struct tita_queue_slot *slot;
	struct net_device *dev;
	__u64 now_ns, epoch, idx;
	__u32 qlen, backlog, key;

	if (!skb)
		return 0;
	dev = txq->dev;
	if (!dev || dev->ifindex != queue_ifindex)
		return 0;
	if (queue_netns_ino && bpf_core_field_exists(dev->nd_net.net)) {
		struct net *net = dev->nd_net.net;

		if (!net || net->ns.inum != queue_netns_ino)
			return 0;
	}
	if (q->flags & TITA_TCQ_F_CPUSTATS) {
		if (!tita_queue_saw_percpu_qdisc)
			tita_queue_saw_percpu_qdisc = 1;
		return 0;
	}
	qlen = q->q.qlen;
	backlog = q->qstats.backlog;
	if (qlen == 0 && tita_queue_busy == 0)
		return 0;

	tita_qstat(TITA_QSTAT_EVENTS);
	/* Which TX queue the qdisc serves: its place in dev->_tx. Pointer
	 * subtraction is allowed to tracing programs (CAP_PERFMON). */
	idx = ((__u64)q->dev_queue - (__u64)dev->_tx) / bpf_core_type_size(struct netdev_queue);
	if (idx >= TITA_QUEUE_MAX_TXQ) {
		tita_qstat(TITA_QSTAT_TXQ_OVERFLOW);
		return 0;
	}
	key = idx;
	st = bpf_map_lookup_elem(&tita_queue, &key);
	if (!st)
		return 0;

	now_ns = bpf_ktime_get_ns();
	epoch = tita_queue_epoch;
	slot = &st->slot[epoch & 1];
	if (slot->epoch != epoch) {
		__builtin_memset(slot, 0, sizeof(*slot));
		slot->epoch = epoch;
	}
	st->ifindex = queue_ifindex;
	st->txq = key;
	st->backlog_bytes = backlog;
	st->backlog_packets = qlen;
	st->last_dequeue_ns = now_ns;

	if (st->marker_active) {
		st->marker_sent_bytes += tita_dequeued_bytes(skb, packets);
		if (st->marker_sent_bytes >= st->marker_target_bytes || qlen == 0) {
			__u64 delay_ns = now_ns - st->marker_start_ns;

			slot->delay_sum_ns += delay_ns;
			slot->delay_samples++;
			if (delay_ns > slot->delay_max_ns)
				slot->delay_max_ns = delay_ns;
			st->marker_active = 0;
			__sync_fetch_and_add(&tita_queue_busy, -1);
			tita_qstat(TITA_QSTAT_MARKERS);
		}
	}
	if (qlen == 0)
		return 0;

	slot->busy_dequeues++;
	if (backlog > slot->hwm_bytes)
		slot->hwm_bytes = backlog;
	if (qlen > slot->hwm_packets)
		slot->hwm_packets = qlen;
	if (!st->marker_active) {
		st->marker_active = 1;
		st->marker_start_ns = now_ns;
		st->marker_target_bytes = backlog;
		st->marker_sent_bytes = 0;
		__sync_fetch_and_add(&tita_queue_busy, 1);
	}
	return 0;
}
