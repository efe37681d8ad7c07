/* SPDX-License-Identifier: MIT */
/*
 * What tita-roce puts on the wire: RoCEv2 as a NIC sends it (UDP to 4791,
 * a 12-byte BTH, a RETH on the first packet of an RDMA WRITE, the payload,
 * a 4-byte ICRC), with the generator's own bookkeeping at the start of the
 * payload, where a real transfer carries application data. Nothing checks
 * the ICRC in the bed (no RNIC terminates these packets), so it is zero.
 */
#ifndef TITA_GEN_ROCE_H
#define TITA_GEN_ROCE_H

#include <stdint.h>

#define GEN_ROCE_PORT 4791
#define GEN_BTH_BYTES 12
#define GEN_RETH_BYTES 16
#define GEN_AETH_BYTES 4
#define GEN_AETH_ACK_NO_CREDITS 0x1f /* syndrome: ACK, credits not counted */
#define GEN_ICRC_BYTES 4

/* RC opcodes (IBA vol. 1, table 38) and the RoCEv2 CNP (annex A17). */
#define GEN_OP_WRITE_FIRST 0x06
#define GEN_OP_WRITE_MIDDLE 0x07
#define GEN_OP_WRITE_LAST 0x08
#define GEN_OP_WRITE_ONLY 0x0a
#define GEN_OP_SEND_ONLY 0x04 /* what a path probe carries: no sink counts it */
#define GEN_OP_ACK 0x11 /* RC ACKNOWLEDGE, with an AETH */
#define GEN_OP_CNP 0x81

#define GEN_BTH_BECN 0x40 /* byte 4 of the BTH */
#define GEN_BTH_ACKREQ 0x80 /* byte 8 of the BTH */
#define GEN_QPN_MASK 0x00ffffffu
#define GEN_PSN_MASK 0x00ffffffu
#define GEN_PKEY_DEFAULT 0xffff

/* IP TOS: DSCP 26 with ECT(0) for data, as RoCE deployments configure it;
 * CNPs with DSCP 48 and Not-ECT (NVIDIA's cnp_dscp default). */
#define GEN_TOS_DATA ((26 << 2) | 0x2)
#define GEN_TOS_CNP (48 << 2)
#define GEN_ECN_MASK 0x3
#define GEN_ECN_CE 0x3

/* The generator's bookkeeping, first in every data packet's payload. */
#define GEN_META_MAGIC 0x5447454eu /* "TGEN" */
#define GEN_META_F_LAST 0x1u /* the flow's last packet */
/* Acknowledge this packet: its sender waits for the ACK before it moves the
 * flow to another UDP source port (path), so that nothing of the old path
 * is still in flight, as an RC QP waits for its ACKs. */
#define GEN_META_F_ACK 0x2u

struct gen_meta {
	uint32_t magic;
	uint32_t src_qp; /* the sender's QP, where the CNPs go */
	uint64_t flow_start_ns; /* CLOCK_MONOTONIC, shared by every namespace */
	uint64_t flow_bytes; /* the flow's payload bytes; 0: unbounded */
	uint64_t send_ns;
	uint32_t flags;
	uint32_t reserved;
} __attribute__((packed));

/* A CNP carries 16 reserved bytes after its BTH. */
#define GEN_CNP_PAYLOAD_BYTES 16

/* Ethernet + IPv4 + UDP in front of the BTH, to count bytes on the wire
 * the way the switch's shaper does. */
#define GEN_L2L4_BYTES (14 + 20 + 8)

#endif /* TITA_GEN_ROCE_H */
