/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Header-only accounting helpers: turn a parsed frame into per-peer counter
 * updates. Values are per CPU, so plain increments are race-free (XDP and
 * tc run with migration disabled); only entry creation can race between
 * CPUs, and BPF_NOEXIST settles it.
 */
#ifndef TITA_BPF_ACCOUNT_H
#define TITA_BPF_ACCOUNT_H

#include "maps.h"
#include "parse.h"
#include "psn.h"

/* The ECN counters sit in the order CE, ECT(0), ECT(1), not-ECT, so the
 * codepoint (3, 2, 1, 0) picks its counter as 3 - ecn without a branch. */
_Static_assert(__builtin_offsetof(struct tita_rx_counters, ect0_packets) ==
			       __builtin_offsetof(struct tita_rx_counters, ce_packets) + 8 &&
		       __builtin_offsetof(struct tita_rx_counters, not_ect_packets) ==
			       __builtin_offsetof(struct tita_rx_counters, ce_packets) + 24,
	       "rx ECN counters out of order");
_Static_assert(__builtin_offsetof(struct tita_tx_counters, ect0_packets) ==
			       __builtin_offsetof(struct tita_tx_counters, ce_packets) + 8 &&
		       __builtin_offsetof(struct tita_tx_counters, not_ect_packets) ==
			       __builtin_offsetof(struct tita_tx_counters, ce_packets) + 24,
	       "tx ECN counters out of order");

static __always_inline void tita_rx_bump(struct tita_rx_counters *c, const struct tita_pkt *p,
					 __u64 bytes, __u64 jiffies, __u32 missing)
{
	c->packets++;
	c->oos_packets += missing;
	c->bytes += bytes;
	(&c->ce_packets)[(3 - p->ecn) & 3]++;
	if (p->opcode == TITA_BTH_OPCODE_CNP)
		c->cnp_packets++;
	c->last_seen_jiffies = jiffies;
	c->last_psn = p->psn;
	c->last_opcode = p->opcode;
}

/*
 * 0, 1 when it created the entry, or -1 when the table refused a new entry.
 * The clock is jiffies, not
 * bpf_ktime_get_ns(): reading the clock source costs more than the rest of
 * the program on some machines (25 ns in a KVM guest), and the timestamp
 * only has to say which CPU saw a QP last.
 */
static __always_inline int tita_rx_account(void *map, const void *key, const struct tita_pkt *p,
					   __u64 bytes, __u32 missing)
{
	struct tita_rx_counters *c = bpf_map_lookup_elem(map, key);
	__u64 jiffies = bpf_jiffies64();

	if (!c) {
		struct tita_rx_counters init = {};

		tita_rx_bump(&init, p, bytes, jiffies, missing);
		/* Rare path: a new entry, or one evicted and created again. */
		init.created_ns = bpf_ktime_get_ns();
		if (bpf_map_update_elem(map, key, &init, BPF_NOEXIST) == 0)
			return 1;
		/* Another CPU created it first: count into our own slot of it. */
		c = bpf_map_lookup_elem(map, key);
		if (!c)
			return -1;
	}
	tita_rx_bump(c, p, bytes, jiffies, missing);
	return 0;
}

/*
 * The packets missing before this one on its (source, destination QP), by
 * its PSN (bpf/psn.h); key is the real QP's, whatever the table's keying.
 * A QP seen first creates its expectation and counts nothing.
 */
static __always_inline __u32 tita_rx_psn_missing(void *map, const void *key,
						 const struct tita_pkt *p)
{
	__u32 kind = tita_psn_kind(p->opcode);
	struct tita_rx_psn *st;

	if (kind == TITA_PSN_IGNORE)
		return 0;
	st = bpf_map_lookup_elem(map, key);
	if (!st) {
		struct tita_rx_psn init = { (p->psn + 1) & TITA_BTH_PSN_MASK,
					    kind == TITA_PSN_FOLLOW };

		bpf_map_update_elem(map, key, &init, BPF_ANY);
		return 0;
	}
	return tita_psn_observe(&st->next_psn, &st->synced, kind, p->psn);
}

static __always_inline void tita_tx_bump(struct tita_tx_counters *c, const struct tita_pkt *p,
					 __u32 reason, __u64 packets, __u64 bytes, __u32 classified)
{
	c->packets += packets;
	c->bytes += bytes;
	(&c->ce_packets)[(3 - p->ecn) & 3] += packets;
	if (reason == TITA_REASON_ROCE) {
		c->roce_packets += packets;
		c->roce_bytes += bytes;
	}
	c->classified_packets += classified ? packets : 0;
}

static __always_inline int tita_tx_account(void *map, const void *key, const struct tita_pkt *p,
					   __u32 reason, __u64 packets, __u64 bytes,
					   __u32 classified)
{
	struct tita_tx_counters *c = bpf_map_lookup_elem(map, key);

	/* Only RoCEv2 makes a destination an entry: the daemon reads every
	 * entry every interval, and a host sends IP to many more places than
	 * it sends RoCE to (its own peer datagrams among them). What else
	 * goes to a RoCE destination is counted in its entry. */
	if (!c && reason != TITA_REASON_ROCE)
		return 0;
	if (!c) {
		struct tita_tx_counters init = {};

		tita_tx_bump(&init, p, reason, packets, bytes, classified);
		init.created_ns = bpf_ktime_get_ns();
		if (bpf_map_update_elem(map, key, &init, BPF_NOEXIST) == 0)
			return 1;
		c = bpf_map_lookup_elem(map, key);
		if (!c)
			return -1;
	}
	tita_tx_bump(c, p, reason, packets, bytes, classified);
	return 0;
}

#endif /* TITA_BPF_ACCOUNT_H */
