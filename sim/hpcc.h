/* SPDX-License-Identifier: MIT */
/*
 * HPCC's sender (SIGCOMM'19), pure, as the authors' ns-3 artifact runs it
 * (rdma-hw.cc UpdateRateHp, single-rate mode, FAST_REACT on): every ACK
 * carries the INT records of each hop; per hop
 *   u_j = txRate_j / B_j + min(qlen_j, qlen_j_prev) / (B_j T)
 * the largest u_j (with its time delta tau) feeds U = ((T - tau) U + tau u) / T,
 * and the rate becomes Rc / (U / eta) + R_AI when U >= eta or the increase
 * stage reached maxStage, else Rc + R_AI. The reference rate Rc and the stage
 * move once per RTT (an ACK beyond the sequence sent at the last update);
 * the ACKs in between react from Rc without moving it ("fast react"). The
 * window is the rate times T (the artifact's var_win).
 */
#ifndef SIM_HPCC_H
#define SIM_HPCC_H

#include <stdint.h>

#define HPCC_MAX_HOPS 5

struct hpcc_params {
	double eta; /* target utilization, 0.95 */
	uint32_t max_stage; /* 0 in the artifact's simulations */
	uint64_t rai_bps; /* additive increase */
	uint64_t min_rate_bps;
};

/* What one switch egress stamps into a data packet. */
struct hpcc_hop {
	uint64_t rate_bps; /* B_j */
	uint64_t ts_ps; /* when the packet left */
	uint64_t tx_bytes; /* cumulative bytes sent on the port */
	uint64_t qlen_bytes; /* egress queue at that moment */
};

struct hpcc_qp {
	double rate_bps; /* pacing rate in force */
	double rc_bps; /* reference rate */
	double max_bps;
	double u;
	uint32_t inc_stage;
	uint64_t base_rtt_ps; /* T */
	uint64_t last_update_seq;
	uint32_t nhop;
	struct hpcc_hop hop[HPCC_MAX_HOPS];
};

void hpcc_params_default(struct hpcc_params *p, uint64_t line_rate_bps);
void hpcc_qp_init(struct hpcc_qp *q, uint64_t line_rate_bps, uint64_t base_rtt_ps);
/* An ACK for everything below ack_seq, carrying nhop INT records; snd_nxt
 * is the sender's next sequence number. Returns the new pacing rate. */
double hpcc_on_ack(struct hpcc_qp *q, const struct hpcc_params *p, uint64_t ack_seq,
		   uint64_t snd_nxt, const struct hpcc_hop *hops, uint32_t nhop);
/* Bytes the sender may have in flight: rate x T. */
uint64_t hpcc_window_bytes(const struct hpcc_qp *q);

#endif /* SIM_HPCC_H */
