// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * XDP ingress: count the RoCEv2 traffic that arrives per (source address,
 * destination QP): packets, bytes, ECN codepoints, CNPs, last PSN, and the
 * packets a PSN gap says are missing (bpf/psn.h, against a shared table
 * of the PSN expected next, always per real QP). User
 * space sums a source's QPs into its per-peer sample (and with the knob
 * rx_per_qp = 0 the table is keyed by source alone). Frames that are not
 * accounted count under the reason why. It only observes: every path
 * returns XDP_PASS.
 *
 * The fast path (a RoCEv2 packet of a known QP) is one table lookup and a
 * few increments: accounted frames do not also bump a reason counter, the
 * table is their count.
 */
#include "account.h"

/* Knobs, set by the loader between open and load. */
const volatile __u32 rx_per_qp = 1; /* 0: key by source only (destination QP 0) */
/* 0: follow no PSNs (no out-of-sequence count; one hash lookup less a
 * packet, which the verifier then drops with the code). */
const volatile __u32 rx_loss = 1;

/* Entries created in each table, read by user space through the mapped
 * .bss: a table that never had one is not worth a read syscall every
 * interval (an IPv4 fabric never fills the IPv6 table). Bumped only when an
 * entry is created, so the fast path shares no cache line between CPUs. */
__u64 tita_rx_qp4_created;
__u64 tita_rx_qp6_created;

SEC("xdp")
int tita_xdp_rx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tita_pkt pkt = {};
	__u64 bytes = data_end - data;
	__u32 reason;

	reason = tita_parse(data, data_end, &pkt, TITA_PARSE_SRC);
	if (reason == TITA_REASON_ROCE) {
		__u32 missing;
		int err;

		if (pkt.l3 == 4) {
			struct tita_qp4_key k4 = { pkt.key.addr[3], pkt.key.dst_qp };

			missing = rx_loss ? tita_rx_psn_missing(&tita_rx_psn4, &k4, &pkt) : 0;
			if (!rx_per_qp)
				k4.dst_qp = 0;
			err = tita_rx_account(&tita_rx_qp4, &k4, &pkt, bytes, missing);
			if (err > 0)
				__sync_fetch_and_add(&tita_rx_qp4_created, 1);
		} else {
			missing = rx_loss ? tita_rx_psn_missing(&tita_rx_psn6, &pkt.key, &pkt) : 0;
			if (!rx_per_qp)
				pkt.key.dst_qp = 0;
			err = tita_rx_account(&tita_rx_qp6, &pkt.key, &pkt, bytes, missing);
			if (err > 0)
				__sync_fetch_and_add(&tita_rx_qp6_created, 1);
		}
		if (err >= 0)
			return XDP_PASS;
		reason = TITA_REASON_TABLE_FULL;
	}
	tita_count_reason(&tita_rx_reason, reason, bytes);
	return XDP_PASS;
}
