// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Test bed only: the switch's ECN marking, on each switch port's tc egress
 * (clsact, direct action), like the RED/ECN profile of a DCQCN switch.
 *
 * The program runs before the port's root qdisc (the HTB shaper) enqueues
 * the packet, so it cannot see that queue. It keeps a phantom queue
 * instead: every packet adds its length, and the queue drains at
 * drain_rate_Bps (the shaped rate times gamma) between packets, capped at
 * cap_bytes (the real queue's limit, beyond which the real queue drops).
 * With gamma = 1 the phantom tracks the real queue's occupancy; with
 * gamma < 1 it marks before a real queue builds (HULL's phantom queue).
 *
 * Marking is RED on the instantaneous phantom occupancy q, as switches
 * mark for DCQCN: probability 0 below kmin_bytes, rising linearly to
 * pmax at kmax_bytes, 1 above. Only ECT(0)/ECT(1) packets are marked (CE);
 * Not-ECT packets pass untouched (a RED switch would drop them early; the
 * bed leaves drops to the real queue's tail). The program never drops.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ecn_marker.h"

/* Set by the loader between open and load. */
const volatile __u64 drain_rate_Bps = 25000000; /* 200 Mbit/s */
const volatile __u64 kmin_bytes = 10000;
const volatile __u64 kmax_bytes = 40000;
const volatile __u32 pmax_u32 = 858993459; /* 0.2 x 2^32 */
const volatile __u64 cap_bytes = 128000;

struct queue_val {
	struct bpf_spin_lock lock;
	struct marker_queue q;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct queue_val);
} marker_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MARKER_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} marker_count SEC(".maps");

static __always_inline void count(__u32 c, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&marker_count, &c);

	if (v)
		*v += n;
}

/* The phantom queue after this packet joined it. */
static __always_inline __u64 enqueue(__u64 len)
{
	__u32 key = 0;
	struct queue_val *qv = bpf_map_lookup_elem(&marker_queue, &key);
	__u64 now = bpf_ktime_get_ns(), q, drained, dt;

	if (!qv)
		return 0;
	bpf_spin_lock(&qv->lock);
	dt = now > qv->q.last_ns ? now - qv->q.last_ns : 0;
	/* Longer than a second idle drains any queue; the cap also keeps the
	 * product below 2^64. */
	if (dt > 1000000000ull)
		dt = 1000000000ull;
	drained = dt * drain_rate_Bps / 1000000000ull;
	q = qv->q.bytes > drained ? qv->q.bytes - drained : 0;
	q += len;
	if (q > cap_bytes)
		q = cap_bytes;
	qv->q.bytes = q;
	qv->q.last_ns = now;
	if (q > qv->q.peak_bytes)
		qv->q.peak_bytes = q;
	bpf_spin_unlock(&qv->lock);
	return q;
}

static __always_inline int should_mark(__u64 q)
{
	__u64 p;

	if (q < kmin_bytes)
		return 0;
	if (q >= kmax_bytes)
		return 1;
	p = (__u64)pmax_u32 * (q - kmin_bytes) / (kmax_bytes - kmin_bytes);
	return bpf_get_prandom_u32() < p;
}

SEC("tc")
int ecn_marker(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u64 q = enqueue(skb->len);

	count(MARKER_C_PACKETS, 1);
	count(MARKER_C_BYTES, skb->len);
	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);
		__u16 old, new;
		__u8 tos;

		if ((void *)(iph + 1) > data_end)
			return TC_ACT_OK;
		tos = iph->tos;
		if ((tos & 3) == 0) {
			count(MARKER_C_NOT_ECT, 1);
			return TC_ACT_OK;
		}
		if ((tos & 3) == 3) {
			count(MARKER_C_CE_IN, 1);
			return TC_ACT_OK;
		}
		count(MARKER_C_ECT, 1);
		if (!should_mark(q))
			return TC_ACT_OK;
		/* The checksum covers the 16-bit word of version/IHL and TOS. */
		old = *(__u16 *)iph;
		tos |= 3;
		if (bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct iphdr, tos), &tos, 1, 0))
			return TC_ACT_OK;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		iph = data + ETH_HLEN;
		if ((void *)(iph + 1) > data_end)
			return TC_ACT_OK;
		new = *(__u16 *)iph;
		bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 2);
		count(MARKER_C_MARKED, 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u8 b1, ecn;

		if ((void *)(ip6 + 1) > data_end)
			return TC_ACT_OK;
		/* Traffic class straddles bytes 0 and 1; ECN is 0x30 of byte 1. */
		b1 = ((__u8 *)ip6)[1];
		ecn = (b1 >> 4) & 3;
		if (ecn == 0) {
			count(MARKER_C_NOT_ECT, 1);
			return TC_ACT_OK;
		}
		if (ecn == 3) {
			count(MARKER_C_CE_IN, 1);
			return TC_ACT_OK;
		}
		count(MARKER_C_ECT, 1);
		if (!should_mark(q))
			return TC_ACT_OK;
		b1 |= 0x30;
		if (bpf_skb_store_bytes(skb, ETH_HLEN + 1, &b1, 1, 0))
			return TC_ACT_OK;
		count(MARKER_C_MARKED, 1);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
