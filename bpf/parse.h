/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Header-only RoCEv2 frame parser shared by the XDP and tc programs:
 * Ethernet, up to TITA_VLAN_MAX_DEPTH 802.1Q/802.1ad tags, IPv4 with
 * options or IPv6 with up to TITA_IPV6_MAX_EXT extension headers, UDP to
 * 4791, and the 12-byte BTH. It returns one TITA_REASON_* code and fills
 * what it got to. lib/roce.c is its user-space twin: the two must take the
 * same decisions in the same order, which the fixture tests check frame by
 * frame (and tshark judges both).
 *
 * The order of checks is part of the contract: bounds before contents,
 * fragments before the L4 protocol (a later fragment has no L4 header, so
 * every fragment counts as a fragment), the UDP port before the BTH length.
 * Only the frame's own bounds count: IP and UDP length fields are not
 * trusted, nor needed.
 */
#ifndef TITA_BPF_PARSE_H
#define TITA_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tita_shared.h"

/* Which address the caller accounts by: XDP by source, tc by destination. */
#define TITA_PARSE_SRC 0
#define TITA_PARSE_DST 1

struct tita_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct tita_pkt {
	struct tita_qp6_key key; /* the chosen address; dst_qp once the BTH is read */
	__u32 l3; /* 4 or 6 once the whole IP header is in the frame, else 0 */
	__u32 ecn; /* TITA_ECN_*, valid when l3 != 0 */
	__u32 vlans;
	__u32 opcode; /* valid with TITA_REASON_ROCE or _BAD_OPCODE */
	__u32 psn;
};

static __always_inline int tita_ipv6_is_ext(__u8 nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case 135: /* Mobility */
	case 139: /* HIP */
	case 140: /* Shim6 */
		return 1;
	}
	return 0;
}

/*
 * Parse the frame in [data, data_end). which is TITA_PARSE_SRC or
 * TITA_PARSE_DST, a constant at every call site, so the other address's
 * copy compiles away.
 */
static __always_inline __u32 tita_parse(void *data, void *data_end, struct tita_pkt *p,
					const int which)
{
	struct ethhdr *eth = data;
	void *pos;
	__u16 proto;
	__u8 l4;

	if ((void *)(eth + 1) > data_end)
		return TITA_REASON_TRUNC_ETH;
	proto = eth->h_proto;
	pos = eth + 1;

#pragma unroll
	for (int i = 0; i < TITA_VLAN_MAX_DEPTH; i++) {
		struct tita_vlan_hdr *vh = pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return TITA_REASON_TRUNC_VLAN;
		proto = vh->encap_proto;
		pos = vh + 1;
		p->vlans++;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return TITA_REASON_VLAN_DEPTH;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = pos;
		__u32 hlen;

		if ((void *)(iph + 1) > data_end)
			return TITA_REASON_TRUNC_IPV4;
		if (iph->version != 4 || iph->ihl < 5)
			return TITA_REASON_BAD_IP;
		hlen = iph->ihl * 4;
		if (pos + hlen > data_end)
			return TITA_REASON_TRUNC_IPV4;
		p->l3 = 4;
		p->ecn = iph->tos & 3;
		p->key.addr[0] = 0;
		p->key.addr[1] = 0;
		p->key.addr[2] = bpf_htonl(0xffff);
		p->key.addr[3] = which == TITA_PARSE_SRC ? iph->saddr : iph->daddr;
		/* MF or a fragment offset: the datagram is in pieces. DF is fine. */
		if (iph->frag_off & bpf_htons(0x3fff))
			return TITA_REASON_IP_FRAGMENT;
		l4 = iph->protocol;
		pos += hlen;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = pos;

		if ((void *)(ip6 + 1) > data_end)
			return TITA_REASON_TRUNC_IPV6;
		if (ip6->version != 6)
			return TITA_REASON_BAD_IP;
		p->l3 = 6;
		/* Traffic class straddles bytes 0 and 1; ECN is its low 2 bits. */
		p->ecn = (ip6->flow_lbl[0] >> 4) & 3;
		if (which == TITA_PARSE_SRC)
			__builtin_memcpy(p->key.addr, &ip6->saddr, 16);
		else
			__builtin_memcpy(p->key.addr, &ip6->daddr, 16);
		l4 = ip6->nexthdr;
		pos = ip6 + 1;

		for (int i = 0; i < TITA_IPV6_MAX_EXT; i++) {
			__u8 *ext = pos;
			__u32 len;

			if (!tita_ipv6_is_ext(l4))
				break;
			/* Every extension header is at least 8 bytes long. */
			if ((void *)(ext + 8) > data_end)
				return TITA_REASON_TRUNC_IPV6_EXT;
			if (l4 == IPPROTO_FRAGMENT) {
				/* Offset or M set; an atomic fragment (RFC 6946) is whole. */
				if (*(__be16 *)(ext + 2) & bpf_htons(0xfff9))
					return TITA_REASON_IP_FRAGMENT;
				len = 8;
			} else if (l4 == IPPROTO_AH) {
				len = ((__u32)ext[1] + 2) * 4;
			} else {
				len = ((__u32)ext[1] + 1) * 8;
			}
			if ((void *)(ext + len) > data_end)
				return TITA_REASON_TRUNC_IPV6_EXT;
			l4 = ext[0];
			pos = ext + len;
		}
		if (tita_ipv6_is_ext(l4))
			return TITA_REASON_IPV6_EXT_DEPTH;
	} else {
		return TITA_REASON_NOT_IP;
	}

	if (l4 != IPPROTO_UDP)
		return TITA_REASON_NOT_UDP;
	{
		struct udphdr *udp = pos;
		__u8 *bth = (__u8 *)(udp + 1);

		if ((void *)(udp + 1) > data_end)
			return TITA_REASON_TRUNC_UDP;
		if (udp->dest != bpf_htons(TITA_ROCE_UDP_PORT))
			return TITA_REASON_NOT_ROCE_PORT;
		if ((void *)(bth + TITA_BTH_BYTES) > data_end)
			return TITA_REASON_TRUNC_BTH;
		p->opcode = bth[0];
		p->key.dst_qp = bpf_ntohl(*(__be32 *)(bth + 4)) & TITA_BTH_QPN_MASK;
		p->psn = bpf_ntohl(*(__be32 *)(bth + 8)) & TITA_BTH_PSN_MASK;
		if (!TITA_BTH_OPCODE_KNOWN(p->opcode))
			return TITA_REASON_BAD_OPCODE;
	}
	return TITA_REASON_ROCE;
}

/* Bump the per-CPU reason counter; an out-of-range reason is impossible by
 * construction but the verifier needs the check anyway. */
static __always_inline void tita_count_reason(void *map, __u32 reason, __u64 bytes)
{
	struct tita_reason_counters *rc = bpf_map_lookup_elem(map, &reason);

	if (rc) {
		rc->packets++;
		rc->bytes += bytes;
	}
}

#endif /* TITA_BPF_PARSE_H */
