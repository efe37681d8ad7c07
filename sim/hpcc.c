// SPDX-License-Identifier: MIT
/*
 * HPCC window/rate update; see hpcc.h.
 */
#include <stdbool.h>

#include "hpcc.h"

void hpcc_params_default(struct hpcc_params *p, uint64_t line_rate_bps)
{
	*p = (struct hpcc_params){
		.eta = 0.95,
		.max_stage = 0,
		/* run.py: RATE_AI = 10 x bw/25 Mb/s (40 Mb/s at 100G) */
		.rai_bps = (uint64_t)(10e6 * (double)line_rate_bps / 25e9),
		/* run.py: MIN_RATE 1000 Mb/s */
		.min_rate_bps = 1000000000ull,
	};
}

void hpcc_qp_init(struct hpcc_qp *q, uint64_t line_rate_bps, uint64_t base_rtt_ps)
{
	*q = (struct hpcc_qp){
		.rate_bps = (double)line_rate_bps,
		.rc_bps = (double)line_rate_bps,
		.max_bps = (double)line_rate_bps,
		.base_rtt_ps = base_rtt_ps,
	};
}

uint64_t hpcc_window_bytes(const struct hpcc_qp *q)
{
	return (uint64_t)(q->rate_bps * (double)q->base_rtt_ps / 8e12);
}

double hpcc_on_ack(struct hpcc_qp *q, const struct hpcc_params *p, uint64_t ack_seq,
		   uint64_t snd_nxt, const struct hpcc_hop *hops, uint32_t nhop)
{
	bool fast_react = ack_seq <= q->last_update_seq;
	double big_u = 0, new_rate;
	uint64_t dt = 0, T = q->base_rtt_ps;
	uint32_t new_stage, i;
	bool updated = false;

	if (nhop > HPCC_MAX_HOPS)
		return q->rate_bps;
	if (q->last_update_seq == 0) {
		/* First ACK: only remember where the hops stood. */
		q->last_update_seq = snd_nxt;
		q->nhop = nhop;
		for (i = 0; i < nhop; i++)
			q->hop[i] = hops[i];
		return q->rate_bps;
	}
	for (i = 0; i < nhop && i < q->nhop; i++) {
		const struct hpcc_hop *h = &hops[i], *o = &q->hop[i];
		uint64_t tau = h->ts_ps - o->ts_ps;
		uint64_t qlen = h->qlen_bytes < o->qlen_bytes ? h->qlen_bytes : o->qlen_bytes;
		double tx_rate, u;

		/* Same stamp twice (two ACKs of one burst): no rate to measure. */
		if (h->ts_ps <= o->ts_ps)
			continue;
		tx_rate = (double)(h->tx_bytes - o->tx_bytes) * 8e12 / (double)tau;
		u = tx_rate / (double)h->rate_bps +
		    (double)qlen * 8e12 / ((double)h->rate_bps * (double)T);
		if (u > big_u) {
			big_u = u;
			dt = tau;
		}
		updated = true;
		q->hop[i] = *h;
	}
	q->nhop = nhop;
	for (; i < nhop; i++)
		q->hop[i] = hops[i];
	if (updated) {
		double max_c;

		if (dt > T)
			dt = T;
		q->u = (q->u * (double)(T - dt) + big_u * (double)dt) / (double)T;
		max_c = q->u / p->eta;
		if (max_c >= 1 || q->inc_stage >= p->max_stage) {
			new_rate = q->rc_bps / max_c + (double)p->rai_bps;
			new_stage = 0;
		} else {
			new_rate = q->rc_bps + (double)p->rai_bps;
			new_stage = q->inc_stage + 1;
		}
		if (new_rate < (double)p->min_rate_bps)
			new_rate = (double)p->min_rate_bps;
		if (new_rate > q->max_bps)
			new_rate = q->max_bps;
		q->rate_bps = new_rate;
		if (!fast_react) {
			q->rc_bps = new_rate;
			q->inc_stage = new_stage;
		}
	}
	if (!fast_react && snd_nxt > q->last_update_seq)
		q->last_update_seq = snd_nxt;
	return q->rate_bps;
}
