// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the RoCEv2 frame parser twin (lib/roce.c): the input
 * is one Ethernet frame. Besides memory safety (under the sanitizers), it
 * checks the parser's contract, and aborts on any breach:
 *
 *  - one reason below TITA_REASON_MAX; fields set only where they are valid
 *    (addresses and ECN with an IP header, BTH fields with a BTH);
 *  - an accounted frame has a known opcode, 24-bit QP and PSN, at most
 *    TITA_VLAN_MAX_DEPTH tags;
 *  - decisions depend only on the bytes read: every prefix of the frame
 *    parses either to a truncation reason or to exactly the same result
 *    (which is also what lets the XDP program trust data_end alone).
 *
 * tests/fuzz/gen-corpus-roce.py writes the seed corpus from the BPF
 * fixture table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tita/roce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_trunc(uint32_t reason)
{
	return reason >= TITA_REASON_TRUNC_ETH && reason <= TITA_REASON_TRUNC_BTH;
}

static void check_one(const struct tita_roce_frame *r, size_t size)
{
	static const struct tita_addr zero;
	int has_bth = r->reason == TITA_REASON_ROCE || r->reason == TITA_REASON_BAD_OPCODE;

	if (r->reason >= TITA_REASON_MAX || r->reason == TITA_REASON_TABLE_FULL ||
	    r->reason == TITA_REASON_NONLINEAR)
		abort();
	if (r->bytes != (size > UINT32_MAX ? UINT32_MAX : size) || r->vlans > TITA_VLAN_MAX_DEPTH)
		abort();
	if (r->l3 != 0 && r->l3 != 4 && r->l3 != 6)
		abort();
	if (!r->l3 && (r->ecn || !tita_addr_eq(&r->src, &zero) || !tita_addr_eq(&r->dst, &zero)))
		abort();
	if (r->l3 == 4 && (!tita_addr_is_ipv4(&r->src) || !tita_addr_is_ipv4(&r->dst)))
		abort();
	if (r->ecn > 3)
		abort();
	if (!has_bth && (r->opcode || r->dst_qp || r->psn))
		abort();
	if (has_bth && (!r->l3 || r->opcode > 255 || r->dst_qp > TITA_BTH_QPN_MASK ||
			r->psn > TITA_BTH_PSN_MASK))
		abort();
	if (r->reason == TITA_REASON_ROCE && !tita_roce_opcode_known(r->opcode))
		abort();
	if (r->reason == TITA_REASON_BAD_OPCODE && tita_roce_opcode_known(r->opcode))
		abort();
	if (!tita_roce_reason_name(r->reason))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tita_roce_frame full, part;
	/* Prefixes cost a parse each: bound the work per input. */
	size_t step = size > 512 ? size / 256 : 1;

	tita_roce_parse(data, size, &full);
	check_one(&full, size);
	for (size_t cut = 0; cut < size; cut += step) {
		tita_roce_parse(data, cut, &part);
		check_one(&part, cut);
		if (is_trunc(part.reason))
			continue;
		/* Decided before the cut: the same decision, the same fields. */
		part.bytes = full.bytes;
		if (memcmp(&part, &full, sizeof(part)) != 0)
			abort();
	}
	return 0;
}
