/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The bed switch's ECN marker: the layout shared by ecn_marker.bpf.c and
 * its loader, tita-bed-marker. Only __u32/__u64 and #defines, so both
 * compilers agree on it.
 */
#ifndef TITA_ECN_MARKER_H
#define TITA_ECN_MARKER_H

#include <linux/types.h>

/* Counters, one per-CPU array slot each. */
#define MARKER_C_PACKETS 0 /* every packet the port sends */
#define MARKER_C_BYTES 1
#define MARKER_C_ECT 2 /* IP packets with ECT(0) or ECT(1): markable */
#define MARKER_C_MARKED 3 /* ECT packets this program set to CE */
#define MARKER_C_CE_IN 4 /* packets that arrived already CE */
#define MARKER_C_NOT_ECT 5 /* IP packets with Not-ECT: never marked */
#define MARKER_C_MAX 6

/* The phantom queue: a byte counter that fills with every packet and
 * drains at the port's rate, as the port's real queue would if it never
 * dropped. */
struct marker_queue {
	__u64 last_ns; /* when bytes was last brought up to date */
	__u64 bytes; /* phantom occupancy */
	__u64 peak_bytes; /* since load */
};

#endif /* TITA_ECN_MARKER_H */
