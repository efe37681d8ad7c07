// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Benchmark reference (b): the least a per-QP counter can do. Ethernet,
 * IPv4 (honouring IHL, nothing else), UDP to 4791, BTH; one per-CPU LRU
 * hash keyed by (IPv4 source, destination QP) with packets and bytes. No
 * VLAN, no IPv6, no ECN, no reason counters, no clock.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct ref_key {
	__u32 saddr;
	__u32 dst_qp;
};

struct ref_val {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ref_key);
	__type(value, struct ref_val);
} ref_qp SEC(".maps");

SEC("xdp")
int ref_min(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *udp;
	struct ref_key key;
	struct ref_val *v;
	__u8 *bth;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (iph->ihl < 5 || iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)iph + iph->ihl * 4;
	bth = (__u8 *)(udp + 1);
	if ((void *)(bth + 12) > data_end || udp->dest != bpf_htons(4791))
		return XDP_PASS;
	key.saddr = iph->saddr;
	key.dst_qp = bpf_ntohl(*(__be32 *)(bth + 4)) & 0xffffff;
	v = bpf_map_lookup_elem(&ref_qp, &key);
	if (v) {
		v->packets++;
		v->bytes += data_end - data;
	} else {
		struct ref_val init = { 1, data_end - data };

		bpf_map_update_elem(&ref_qp, &key, &init, BPF_NOEXIST);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
