/* SPDX-License-Identifier: MIT */
/*
 * The user-space twin of the XDP/tc frame parser (bpf/parse.h): the same
 * decisions in the same order, written as plain C over a byte buffer. It is
 * what the fuzzer exercises, one of the three judges of the BPF fixture
 * tests (with the XDP program itself and tshark), and a reference for what
 * the datapath counts. Pure: no allocation, no I/O.
 *
 * The reason codes and wire constants are the BPF ABI's own
 * (bpf/tita_shared.h), so the two parsers cannot drift apart on a number.
 */
#ifndef TITA_ROCE_H
#define TITA_ROCE_H

#include <stddef.h>
#include <stdint.h>

#include "tita/types.h"
#include "../../bpf/tita_shared.h"

/* What the parser saw in one frame. Fields are valid as noted; the others
 * are zero. */
struct tita_roce_frame {
	uint32_t reason; /* TITA_REASON_* */
	uint32_t vlans; /* VLAN tags read (0..TITA_VLAN_MAX_DEPTH) */
	uint32_t l3; /* 4 or 6 once the whole IP header is in the frame, else 0 */
	uint32_t ecn; /* TITA_ECN_*; with l3 */
	struct tita_addr src, dst; /* with l3; IPv4 in its IPv4-mapped form */
	uint32_t opcode; /* BTH fields: with TITA_REASON_ROCE or _BAD_OPCODE */
	uint32_t dst_qp;
	uint32_t psn;
	uint32_t bytes; /* the frame length, what the XDP program counts */
};

/*
 * Parse one Ethernet frame (no FCS) of len bytes. Always fills *ret_frame and
 * returns its reason; TITA_REASON_ROCE means the datapath accounts it.
 * Frames longer than UINT32_MAX bytes do not exist on any link; bytes
 * saturates there.
 */
uint32_t tita_roce_parse(const void *frame, size_t len, struct tita_roce_frame *ret_frame);

/*
 * The receive side's out-of-sequence count for one (source, destination
 * QP), the XDP program's own rule (bpf/psn.h, the same code). Start from
 * a zeroed state: the first request only sets the expectation.
 */
struct tita_roce_psn_state {
	uint32_t next_psn;
	uint32_t synced; /* 0: the next request only sets next_psn */
	uint32_t seen; /* 0 until a request was followed */
};

/* Observe a frame's opcode and PSN; returns the packets it found missing
 * before it (0 for a packet the rule does not follow: responses, ACKs,
 * CNPs). */
uint32_t tita_roce_psn_observe(struct tita_roce_psn_state *st, uint32_t opcode, uint32_t psn);

/* 1 when a RoCEv2 transport defines BTH opcode op (0..255), else 0. */
int tita_roce_opcode_known(uint32_t op);

/* A short stable name for a reason ("roce", "not_ip", "trunc_udp", ...),
 * fit for a Prometheus label; NULL when reason >= TITA_REASON_MAX. */
const char *tita_roce_reason_name(uint32_t reason);

/* The reason with that name, or -1. */
int tita_roce_reason_from_name(const char *name);

#endif /* TITA_ROCE_H */
