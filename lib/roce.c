// SPDX-License-Identifier: MIT
/*
 * RoCEv2 frame parser, the twin of bpf/parse.h. Keep the two in step: the
 * same checks in the same order, every bound taken from the frame length
 * alone (IP and UDP length fields are neither trusted nor needed). The
 * fixture tests run both over one table of frames and compare them field by
 * field; the fuzzer checks this one for memory safety.
 */
#include <string.h>

#include "tita/roce.h"
#include "../bpf/psn.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define UDP_HLEN 8

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_UDP_ 17
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_DSTOPTS_ 60
#define IPPROTO_MH_ 135
#define IPPROTO_HIP_ 139
#define IPPROTO_SHIM6_ 140

static const char *const reason_names[TITA_REASON_MAX] = {
	[TITA_REASON_ROCE] = "roce",
	[TITA_REASON_NOT_IP] = "not_ip",
	[TITA_REASON_NOT_UDP] = "not_udp",
	[TITA_REASON_NOT_ROCE_PORT] = "not_roce_port",
	[TITA_REASON_TRUNC_ETH] = "trunc_eth",
	[TITA_REASON_TRUNC_VLAN] = "trunc_vlan",
	[TITA_REASON_TRUNC_IPV4] = "trunc_ipv4",
	[TITA_REASON_TRUNC_IPV6] = "trunc_ipv6",
	[TITA_REASON_TRUNC_IPV6_EXT] = "trunc_ipv6_ext",
	[TITA_REASON_TRUNC_UDP] = "trunc_udp",
	[TITA_REASON_TRUNC_BTH] = "trunc_bth",
	[TITA_REASON_IP_FRAGMENT] = "ip_fragment",
	[TITA_REASON_BAD_OPCODE] = "bad_opcode",
	[TITA_REASON_BAD_IP] = "bad_ip",
	[TITA_REASON_VLAN_DEPTH] = "vlan_depth",
	[TITA_REASON_IPV6_EXT_DEPTH] = "ipv6_ext_depth",
	[TITA_REASON_TABLE_FULL] = "table_full",
	[TITA_REASON_NONLINEAR] = "nonlinear",
};

const char *tita_roce_reason_name(uint32_t reason)
{
	return reason < TITA_REASON_MAX ? reason_names[reason] : NULL;
}

int tita_roce_reason_from_name(const char *name)
{
	for (int i = 0; i < TITA_REASON_MAX; i++)
		if (reason_names[i] && !strcmp(reason_names[i], name))
			return i;
	return -1;
}

int tita_roce_opcode_known(uint32_t op)
{
	return op < 256 && TITA_BTH_OPCODE_KNOWN(op);
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int ipv6_is_ext(uint32_t nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_HOPOPTS_:
	case IPPROTO_ROUTING_:
	case IPPROTO_FRAGMENT_:
	case IPPROTO_DSTOPTS_:
	case IPPROTO_AH_:
	case IPPROTO_MH_:
	case IPPROTO_HIP_:
	case IPPROTO_SHIM6_:
		return 1;
	}
	return 0;
}

/* Offsets are size_t and every comparison is "need <= len - off" after
 * checking off <= len, so nothing here can overflow or read past len. */
static int has(size_t len, size_t off, size_t need)
{
	return off <= len && need <= len - off;
}

static uint32_t parse(const uint8_t *f, size_t len, struct tita_roce_frame *r)
{
	size_t off;
	uint32_t proto, l4;

	if (!has(len, 0, ETH_HLEN))
		return TITA_REASON_TRUNC_ETH;
	proto = get16(f + 12);
	off = ETH_HLEN;

	for (int i = 0; i < TITA_VLAN_MAX_DEPTH; i++) {
		if (proto != ETHERTYPE_8021Q && proto != ETHERTYPE_8021AD)
			break;
		if (!has(len, off, VLAN_HLEN))
			return TITA_REASON_TRUNC_VLAN;
		proto = get16(f + off + 2);
		off += VLAN_HLEN;
		r->vlans++;
	}
	if (proto == ETHERTYPE_8021Q || proto == ETHERTYPE_8021AD)
		return TITA_REASON_VLAN_DEPTH;

	if (proto == ETHERTYPE_IPV4) {
		const uint8_t *ip = f + off;
		size_t hlen;

		if (!has(len, off, IPV4_HLEN))
			return TITA_REASON_TRUNC_IPV4;
		if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5)
			return TITA_REASON_BAD_IP;
		hlen = (size_t)(ip[0] & 0x0f) * 4;
		if (!has(len, off, hlen))
			return TITA_REASON_TRUNC_IPV4;
		r->l3 = 4;
		r->ecn = ip[1] & 3;
		r->src = tita_addr_from_ipv4(ip + 12);
		r->dst = tita_addr_from_ipv4(ip + 16);
		/* MF or a fragment offset; DF alone is a whole datagram. */
		if (get16(ip + 6) & 0x3fff)
			return TITA_REASON_IP_FRAGMENT;
		l4 = ip[9];
		off += hlen;
	} else if (proto == ETHERTYPE_IPV6) {
		const uint8_t *ip = f + off;

		if (!has(len, off, IPV6_HLEN))
			return TITA_REASON_TRUNC_IPV6;
		if ((ip[0] >> 4) != 6)
			return TITA_REASON_BAD_IP;
		r->l3 = 6;
		r->ecn = (ip[1] >> 4) & 3;
		memcpy(r->src.bytes, ip + 8, 16);
		memcpy(r->dst.bytes, ip + 24, 16);
		l4 = ip[6];
		off += IPV6_HLEN;

		for (int i = 0; i < TITA_IPV6_MAX_EXT; i++) {
			const uint8_t *ext = f + off;
			size_t elen;

			if (!ipv6_is_ext(l4))
				break;
			if (!has(len, off, 8))
				return TITA_REASON_TRUNC_IPV6_EXT;
			if (l4 == IPPROTO_FRAGMENT_) {
				/* Offset or M; an atomic fragment (RFC 6946) is whole. */
				if (get16(ext + 2) & 0xfff9)
					return TITA_REASON_IP_FRAGMENT;
				elen = 8;
			} else if (l4 == IPPROTO_AH_) {
				elen = ((size_t)ext[1] + 2) * 4;
			} else {
				elen = ((size_t)ext[1] + 1) * 8;
			}
			if (!has(len, off, elen))
				return TITA_REASON_TRUNC_IPV6_EXT;
			l4 = ext[0];
			off += elen;
		}
		if (ipv6_is_ext(l4))
			return TITA_REASON_IPV6_EXT_DEPTH;
	} else {
		return TITA_REASON_NOT_IP;
	}

	if (l4 != IPPROTO_UDP_)
		return TITA_REASON_NOT_UDP;
	if (!has(len, off, UDP_HLEN))
		return TITA_REASON_TRUNC_UDP;
	if (get16(f + off + 2) != TITA_ROCE_UDP_PORT)
		return TITA_REASON_NOT_ROCE_PORT;
	off += UDP_HLEN;
	if (!has(len, off, TITA_BTH_BYTES))
		return TITA_REASON_TRUNC_BTH;
	r->opcode = f[off];
	r->dst_qp = get32(f + off + 4) & TITA_BTH_QPN_MASK;
	r->psn = get32(f + off + 8) & TITA_BTH_PSN_MASK;
	if (!tita_roce_opcode_known(r->opcode))
		return TITA_REASON_BAD_OPCODE;
	return TITA_REASON_ROCE;
}

uint32_t tita_roce_parse(const void *frame, size_t len, struct tita_roce_frame *ret_frame)
{
	memset(ret_frame, 0, sizeof(*ret_frame));
	ret_frame->bytes = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	ret_frame->reason = parse(frame, len, ret_frame);
	return ret_frame->reason;
}

uint32_t tita_roce_psn_observe(struct tita_roce_psn_state *st, uint32_t opcode, uint32_t psn)
{
	uint32_t kind = tita_psn_kind(opcode);

	if (kind == TITA_PSN_IGNORE)
		return 0;
	if (!st->seen) {
		/* As the XDP program creates its table entry. */
		st->seen = 1;
		st->next_psn = (psn + 1) & TITA_BTH_PSN_MASK;
		st->synced = kind == TITA_PSN_FOLLOW;
		return 0;
	}
	return tita_psn_observe(&st->next_psn, &st->synced, kind, psn);
}
