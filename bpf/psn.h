/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Out-of-sequence counting on the receive side, as a RoCE NIC's
 * out_of_sequence counter does: per (source, destination QP) the PSN
 * expected next; a request that arrives ahead of it counts the packets it
 * skipped. One header for both sides: the XDP program (bpf/rx.bpf.c) and
 * lib/roce.c's twin (tita_roce_psn_observe) run this very code, so they
 * cannot drift apart; only fixed-width arithmetic, no helper, no header
 * beyond tita_shared.h.
 *
 * PSNs are 24 bits and wrap: "ahead" is (psn - expected) mod 2^24. Only
 * requests whose PSN advances by one a packet are followed (RC, UC and XRC
 * SEND/WRITE and atomics, UD SEND); responses and ACKs (coalesced, they
 * skip PSNs by design) and CNPs are not. An RDMA READ request consumes as
 * many PSNs as its response has packets, which the receiver cannot see:
 * the packet after it only resynchronizes. A packet behind the expected
 * PSN (reordered, or a go-back-N retransmission) counts nothing and does
 * not move the expectation back, so a reordering counts its gap once and a
 * retransmission is not counted twice. A jump of more than
 * TITA_PSN_GAP_MAX either way is a restarted QP (a new random start PSN),
 * not loss: it resynchronizes without counting.
 */
#ifndef TITA_BPF_PSN_H
#define TITA_BPF_PSN_H

#include "tita_shared.h"

#define TITA_PSN_MOD (TITA_BTH_PSN_MASK + 1u)
/* 65536 packets: far above what one RoCE QP has in flight on a lossy
 * link between two reads, and a restart's random PSN lands within it of
 * the expected one once in 256. */
#define TITA_PSN_GAP_MAX (1u << 16)

/* What one packet does to its (source, QP)'s expectation. */
#define TITA_PSN_IGNORE 0 /* not a sequential request: untouched */
#define TITA_PSN_FOLLOW 1 /* advances the PSN by one */
#define TITA_PSN_RESYNC 2 /* RDMA READ request: the next PSN is unknown */

static inline __u32 tita_psn_kind(__u32 opcode)
{
	__u32 transport = opcode & 0xe0, op = opcode & 0x1f;

	if (opcode == 0x64 || opcode == 0x65) /* UD SEND only, SEND with immediate */
		return TITA_PSN_FOLLOW;
	if (transport != 0x00 && transport != 0x20 && transport != 0xa0)
		return TITA_PSN_IGNORE; /* RD, CNP, vendor */
	if (op <= 0x0b) /* SEND and RDMA WRITE, first/middle/last/only */
		return TITA_PSN_FOLLOW;
	if (transport != 0x20 && op == 0x0c) /* RDMA READ request */
		return TITA_PSN_RESYNC;
	if (transport != 0x20 &&
	    (op == 0x13 || op == 0x14 || op == 0x16 || op == 0x17 || op == 0x1c || op == 0x1d))
		return TITA_PSN_FOLLOW; /* atomics, SEND with invalidate, FLUSH, ATOMIC WRITE */
	return TITA_PSN_IGNORE; /* responses, ACKs */
}

/*
 * Observe one packet of kind TITA_PSN_FOLLOW or _RESYNC with PSN psn
 * against *next_psn / *synced (0: the next packet only sets the
 * expectation). Returns the packets it found missing.
 */
static inline __u32 tita_psn_observe(__u32 *next_psn, __u32 *synced, __u32 kind, __u32 psn)
{
	__u32 ahead = (psn - *next_psn) & TITA_BTH_PSN_MASK;
	__u32 missing = 0;

	psn &= TITA_BTH_PSN_MASK;
	if (*synced && ahead != 0) {
		if (ahead <= TITA_PSN_GAP_MAX)
			missing = ahead;
		else if (TITA_PSN_MOD - ahead <= TITA_PSN_GAP_MAX)
			return 0; /* behind: late or resent; the expectation stays */
	}
	*next_psn = (psn + 1) & TITA_BTH_PSN_MASK;
	*synced = kind == TITA_PSN_FOLLOW;
	return missing;
}

#endif /* TITA_BPF_PSN_H */
