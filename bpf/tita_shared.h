/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The ABI between tita's BPF programs and user space: map keys and values,
 * reason codes, RoCEv2 wire constants. Both sides include this one file, so
 * it holds only fixed-width __u32/__u64 fields (no pointers, no bool, no
 * enums whose size the compilers could disagree on) and #defines. Layouts
 * are append-only: pinned maps outlive a daemon upgrade, and the loader
 * recreates a pinned map whose key or value size no longer matches.
 *
 * Addresses are IPv6, or IPv4 in the IPv4-mapped form ::ffff:a.b.c.d, as
 * four __u32 words in network byte order (the layout of struct tita_addr).
 */
#ifndef TITA_SHARED_H
#define TITA_SHARED_H

#ifdef __bpf__
#include <linux/types.h>
#else
/* The kernel's own definitions (asm-generic/int-ll64.h), spelled out so
 * that lib/'s parser twin needs no kernel header; C11 allows the identical
 * typedef again where <linux/types.h> is included as well. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

/* RoCEv2 on the wire (IBTA Annex A17; include/rdma/ib_pack.h). */
#define TITA_ROCE_UDP_PORT 4791
#define TITA_BTH_BYTES 12
#define TITA_BTH_QPN_MASK 0x00ffffffu
#define TITA_BTH_PSN_MASK 0x00ffffffu
#define TITA_BTH_OPCODE_CNP 0x81

/*
 * The BTH opcodes that a RoCEv2 transport defines, as a 256-bit set (word
 * n holds opcodes 32n..32n+31). RC 0x00-0x14, 0x16, 0x17 (SEND with
 * invalidate), 0x1c (FLUSH), 0x1d (ATOMIC WRITE); UC 0x20-0x2b; UD 0x64,
 * 0x65; CNP 0x81; XRC 0xa0-0xb4, 0xb6, 0xb7. RD (0x40) never travels over
 * RoCEv2, and 0xc0-0xff are vendor-specific: both count as unknown.
 */
#define TITA_BTH_OPCODES_0 0x30dfffffu /* 0x00-0x1f: RC */
#define TITA_BTH_OPCODES_1 0x00000fffu /* 0x20-0x3f: UC */
#define TITA_BTH_OPCODES_2 0x00000000u /* 0x40-0x5f: RD */
#define TITA_BTH_OPCODES_3 0x00000030u /* 0x60-0x7f: UD */
#define TITA_BTH_OPCODES_4 0x00000002u /* 0x80-0x9f: CNP */
#define TITA_BTH_OPCODES_5 0x00dfffffu /* 0xa0-0xbf: XRC */
#define TITA_BTH_OPCODES_6 0x00000000u
#define TITA_BTH_OPCODES_7 0x00000000u
#define TITA_BTH_OPCODES_WORD(w)         \
	((w) == 0 ? TITA_BTH_OPCODES_0 : \
	 (w) == 1 ? TITA_BTH_OPCODES_1 : \
	 (w) == 2 ? TITA_BTH_OPCODES_2 : \
	 (w) == 3 ? TITA_BTH_OPCODES_3 : \
	 (w) == 4 ? TITA_BTH_OPCODES_4 : \
	 (w) == 5 ? TITA_BTH_OPCODES_5 : \
	 (w) == 6 ? TITA_BTH_OPCODES_6 : \
		    TITA_BTH_OPCODES_7)
/* 1 when opcode (0..255) is one that a RoCEv2 transport defines. */
#define TITA_BTH_OPCODE_KNOWN(op) ((TITA_BTH_OPCODES_WORD((op) >> 5) >> ((op)&31)) & 1u)

/* What the parser concluded about one frame. Every frame counts under
 * exactly one reason; only TITA_REASON_ROCE is accounted per peer. */
#define TITA_REASON_ROCE 0 /* a RoCEv2 packet, accounted */
#define TITA_REASON_NOT_IP 1 /* ethertype neither IPv4 nor IPv6 (ARP, LLDP) */
#define TITA_REASON_NOT_UDP 2 /* IP carrying TCP, ICMP, ESP, no next header */
#define TITA_REASON_NOT_ROCE_PORT 3 /* UDP to another port than 4791 */
#define TITA_REASON_TRUNC_ETH 4 /* shorter than an Ethernet header */
#define TITA_REASON_TRUNC_VLAN 5 /* ends inside an 802.1Q/802.1ad tag */
#define TITA_REASON_TRUNC_IPV4 6 /* ends inside the IPv4 header or its options */
#define TITA_REASON_TRUNC_IPV6 7 /* ends inside the fixed IPv6 header */
#define TITA_REASON_TRUNC_IPV6_EXT 8 /* ends inside an IPv6 extension header */
#define TITA_REASON_TRUNC_UDP 9 /* ends inside the UDP header */
#define TITA_REASON_TRUNC_BTH 10 /* UDP to 4791 with fewer than 12 BTH bytes */
#define TITA_REASON_IP_FRAGMENT 11 /* an IPv4 or IPv6 fragment (never reassembled) */
#define TITA_REASON_BAD_OPCODE 12 /* BTH opcode that no RoCEv2 transport defines */
#define TITA_REASON_BAD_IP 13 /* IP version field wrong, or IPv4 IHL below 5 */
#define TITA_REASON_VLAN_DEPTH 14 /* more VLAN tags than TITA_VLAN_MAX_DEPTH */
#define TITA_REASON_IPV6_EXT_DEPTH 15 /* more extension headers than the bound */
#define TITA_REASON_TABLE_FULL 16 /* BPF only: a table refused a new entry */
#define TITA_REASON_NONLINEAR 17 /* tc only: headers outside the linear skb */
#define TITA_REASON_MAX 18

/* Parser bounds: how far the BPF programs (and the twin) look. */
#define TITA_VLAN_MAX_DEPTH 2 /* QinQ */
#define TITA_IPV6_MAX_EXT 6 /* extension headers followed before giving up */

/* ECN codepoints (RFC 3168), the low two bits of TOS / traffic class. */
#define TITA_ECN_NOT_ECT 0
#define TITA_ECN_ECT1 1
#define TITA_ECN_ECT0 2
#define TITA_ECN_CE 3

/* Map names (the pin file names under <pin root>/<ifname>/). */
#define TITA_MAP_RX_QP4 "tita_rx_qp4"
#define TITA_MAP_RX_QP6 "tita_rx_qp6"
#define TITA_MAP_RX_REASON "tita_rx_reason"
#define TITA_MAP_RX_PSN4 "tita_rx_psn4"
#define TITA_MAP_RX_PSN6 "tita_rx_psn6"
#define TITA_MAP_TX_PEER "tita_tx_peer"
#define TITA_MAP_TX_CLASS "tita_tx_class"
#define TITA_MAP_TX_REASON "tita_tx_reason"
#define TITA_MAP_QUEUE "tita_queue"
#define TITA_MAP_QUEUE_STAT "tita_queue_stat"

/* Default table sizes; the loader sizes the per-CPU tables to the host's
 * CPU count (see daemon/bpf/tita_bpf.h) and can change any of them. */
#define TITA_RX_QP4_ENTRIES 16384
#define TITA_RX_QP6_ENTRIES 4096
#define TITA_TX_PEER_ENTRIES 4096
#define TITA_TX_CLASS_ENTRIES 4096
#define TITA_QUEUE_MAX_TXQ 64 /* TX queues with their own queue state */

/* Key of tita_tx_peer and tita_tx_class: the remote address. */
struct tita_peer_key {
	__u32 addr[4];
};

/* Keys of tita_rx_qp4/tita_rx_qp6: the source address and the destination
 * QP of the BTH (0 when the loader asked for per-source keys only). */
struct tita_qp4_key {
	__u32 addr; /* IPv4, network byte order */
	__u32 dst_qp;
};

struct tita_qp6_key {
	__u32 addr[4];
	__u32 dst_qp;
};

/*
 * Value of tita_rx_qp4 and tita_rx_qp6 (per CPU: user space sums the
 * counters). created_ns is set once, by the CPU that created the entry, so
 * the maximum over CPUs tells a reader that an entry was evicted and
 * created again between two reads (its counters restarted from zero).
 * last_psn/last_opcode belong to the CPU slot with the latest last_seen_ns.
 * Times are CLOCK_MONOTONIC (bpf_ktime_get_ns). Bytes are whole frames as
 * XDP sees them: Ethernet header to the end of the ICRC, no FCS.
 */
struct tita_rx_counters {
	__u64 packets;
	__u64 bytes;
	__u64 ce_packets;
	__u64 ect0_packets;
	__u64 ect1_packets;
	__u64 not_ect_packets;
	__u64 cnp_packets; /* BTH opcode 0x81 */
	__u64 created_ns;
	__u64 last_seen_jiffies;
	__u32 last_psn;
	__u32 last_opcode;
	/* Packets found missing by the PSN of a later request on this
	 * (source, QP): bpf/psn.h. A reordering counts too, as on a NIC. */
	__u64 oos_packets;
};

/* Value of tita_rx_psn4/tita_rx_psn6 (shared by all CPUs: one QP's packets
 * are ordered on one CPU at a time; a rare race between two costs a
 * miscount, never a fault): the PSN expected next on a (source, destination
 * QP), keyed as tita_rx_qp4/6 but always by the real QP. */
struct tita_rx_psn {
	__u32 next_psn;
	__u32 synced; /* 0: the next request sets next_psn, counts nothing */
};

/*
 * Value of tita_tx_peer (per CPU), per destination address, for every IP
 * packet leaving the device (RoCEv2 or not). A GSO packet counts as its
 * segments; bytes are skb->len, the frame bytes of an unsegmented packet.
 */
struct tita_tx_counters {
	__u64 packets;
	__u64 bytes;
	__u64 roce_packets; /* UDP to 4791 with a known BTH opcode */
	__u64 roce_bytes;
	__u64 ce_packets;
	__u64 ect0_packets;
	__u64 ect1_packets;
	__u64 not_ect_packets;
	__u64 classified_packets; /* given an HTB class from tita_tx_class */
	__u64 created_ns;
};

/* Value of tita_tx_class: the HTB class (major:minor, as TC_H_MAKE builds
 * it) that packets to this destination are put into, via skb->priority,
 * until expires_ns (bpf_ktime_get_ns(), CLOCK_MONOTONIC; 0: never). The
 * pacer's titad pushes the expiry forward while it runs: when it is gone
 * (kill -9, a crash), the entry lapses by itself and the destination runs
 * unpaced, as a lapsed grant does. */
struct tita_tx_class {
	__u32 classid;
	__u32 flags; /* reserved, 0 */
	__u64 expires_ns;
};

/* Value of tita_rx_reason and tita_tx_reason (per CPU, TITA_REASON_MAX
 * entries indexed by reason). */
struct tita_reason_counters {
	__u64 packets;
	__u64 bytes;
};

/*
 * One interval of a TX queue's signal. The queue program writes
 * slot[epoch & 1] where epoch is the reader's interval number; a slot whose
 * epoch differs from the current one is stale and restarts from zero.
 */
struct tita_queue_slot {
	__u64 epoch;
	__u64 hwm_bytes; /* backlog high-water mark after a dequeue */
	__u64 hwm_packets;
	__u64 delay_max_ns;
	__u64 delay_sum_ns;
	__u64 delay_samples;
	__u64 busy_dequeues; /* dequeues that left a backlog behind */
};

/*
 * Value of tita_queue (an array indexed by TX queue). The queueing delay is
 * sampled with one marker at a time: when a dequeue leaves B bytes behind,
 * the marker waits until B more bytes have been dequeued (or the queue
 * ran empty) and records the time that took: the delay a packet arriving
 * at that moment saw, exact for a FIFO and an estimate for class-based
 * qdiscs, with no per-packet state.
 */
struct tita_queue_state {
	__u32 ifindex;
	__u32 txq;
	__u64 backlog_bytes; /* after the latest dequeue */
	__u64 backlog_packets;
	__u64 last_dequeue_ns;
	__u64 marker_start_ns;
	__u64 marker_target_bytes;
	__u64 marker_sent_bytes;
	__u64 marker_active;
	struct tita_queue_slot slot[2];
};

/* Indices of tita_queue_stat (a per-CPU array of __u64). */
#define TITA_QSTAT_EVENTS 0 /* dequeues with a backlog or a delay marker out */
#define TITA_QSTAT_TXQ_OVERFLOW 1 /* skipped: TX queue index >= TITA_QUEUE_MAX_TXQ */
#define TITA_QSTAT_MARKERS 2 /* delay samples taken */
#define TITA_QSTAT_MAX 3

#endif /* TITA_SHARED_H */
