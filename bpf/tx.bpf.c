// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * tc egress (clsact, direct action): count what leaves the device per
 * destination address (packets, bytes, ECN codepoints, the RoCEv2 share),
 * and classify packets for the daemon's `tc` pacer.
 *
 * Classification: when the destination has an entry in tita_tx_class, the
 * program sets skb->priority to its class id (major:minor). clsact egress
 * runs before the root qdisc's enqueue, and HTB's classifier looks at
 * skb->priority first: a value naming one of its own leaf classes selects
 * that class with no tc filter at all (net/sched/sch_htb.c, htb_classify).
 * The pacer therefore sets up
 *
 *   tc qdisc replace dev IF root handle 1: htb default 1
 *   tc class add dev IF parent 1: classid 1:1 htb rate <line rate>     (unpaced)
 *   tc class add dev IF parent 1: classid 1:<n> htb rate <rate> ceil <rate>
 *
 * and writes TC_H_MAKE(1 << 16, n) for the destination into tita_tx_class
 * (tc reads the minor in hex: "1:10" is 0x00010010).
 * Destinations without an entry, or whose entry has expired (its titad
 * stopped refreshing it: it is gone), keep their skb->priority and go to
 * the default class: unpaced. The major number must be the root HTB's handle; a class id
 * that names no class falls through to HTB's filters, then its default.
 * skb->priority also feeds the VLAN PCP mapping of a VLAN device and
 * mqprio's traffic class, so attach to the device that carries the HTB
 * root (below any VLAN device), not to the VLAN device itself.
 *
 * It never drops: every path returns TC_ACT_UNSPEC, which lets any filter
 * after this one run and otherwise passes the packet on.
 */
#include <linux/pkt_cls.h>

#include "account.h"

/* Knobs, set by the loader between open and load. */
const volatile __u32 tx_classify = 1; /* 0: count only, never touch skb->priority */

/* Entries created in tita_tx_peer (see tita_rx_qp4_created). */
__u64 tita_tx_peer_created;

SEC("tc")
int tita_tc_tx(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct tita_pkt pkt = {};
	__u64 linear = data_end - data;
	__u64 bytes = skb->len;
	__u32 reason;

	reason = tita_parse(data, data_end, &pkt, TITA_PARSE_DST);
	/* Headers cut short by the end of the linear area, not of the packet:
	 * say so rather than blame the frame (the program never pulls data,
	 * which would unclone the skb). */
	if (reason >= TITA_REASON_TRUNC_ETH && reason <= TITA_REASON_TRUNC_BTH && bytes > linear)
		reason = TITA_REASON_NONLINEAR;

	if (pkt.l3) {
		__u64 packets = skb->gso_segs > 1 ? skb->gso_segs : 1;
		__u32 classified = 0;

		/* Only RoCEv2 is paced: everything else to the same host (titad's
		 * own peer datagrams above all, which carry the grants) must not
		 * wait in the queue of the class it is pacing. */
		if (tx_classify && reason == TITA_REASON_ROCE) {
			/* The address is the first 16 bytes of the key. */
			struct tita_tx_class *cl = bpf_map_lookup_elem(&tita_tx_class, &pkt.key);

			if (cl && cl->classid &&
			    (!cl->expires_ns || bpf_ktime_get_ns() < cl->expires_ns)) {
				skb->priority = cl->classid;
				classified = 1;
			}
		}
		int err = tita_tx_account(&tita_tx_peer, &pkt.key, &pkt, reason, packets, bytes,
					  classified);

		if (err > 0)
			__sync_fetch_and_add(&tita_tx_peer_created, 1);
		else if (err < 0)
			reason = TITA_REASON_TABLE_FULL;
	}
	tita_count_reason(&tita_tx_reason, reason, bytes);
	return TC_ACT_UNSPEC;
}
