// SPDX-License-Identifier: MIT
/*
 * The fabric: topology, links, switches (shared buffer, ECN, PFC, ECMP), NICs
 * (per-QP rate limiters, notification point) and the event loop.
 *
 * A packet costs two events per hop: the end of its serialization on the
 * egress port (which starts the next packet) and its arrival at the far end
 * of the link. Packets live in one pool indexed by number and are recycled
 * through a free list, so the steady state allocates nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

void *sim_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p) {
		fprintf(stderr, "tita-sim: out of memory\n");
		exit(1);
	}
	return p;
}

void sim_schedule(struct sim *s, uint64_t t_ps, enum sim_ev_type type, uint32_t a, uint32_t b)
{
	if (sim_eventq_push(&s->evq, t_ps, type, a, b) < 0) {
		fprintf(stderr, "tita-sim: out of memory for events\n");
		exit(1);
	}
}

/* ---- packet pool ---- */

uint32_t sim_pkt_alloc(struct sim *s)
{
	uint32_t i;

	if (s->free_pkt == SIM_NONE) {
		uint32_t cap = s->cap_pkts ? s->cap_pkts * 2 : 4096;
		struct sim_pkt *p = realloc(s->pkts, (size_t)cap * sizeof(*p));

		if (!p) {
			fprintf(stderr, "tita-sim: out of memory for packets\n");
			exit(1);
		}
		s->pkts = p;
		if (s->cc->int_stamp) {
			struct hpcc_hop(*h)[HPCC_MAX_HOPS] =
				realloc(s->hops, (size_t)cap * sizeof(*h));

			if (!h) {
				fprintf(stderr, "tita-sim: out of memory for packets\n");
				exit(1);
			}
			s->hops = h;
		}
		for (i = s->cap_pkts; i < cap; i++)
			p[i].next = i + 1 < cap ? i + 1 : SIM_NONE;
		s->free_pkt = s->cap_pkts;
		s->cap_pkts = cap;
	}
	i = s->free_pkt;
	s->free_pkt = s->pkts[i].next;
	s->n_pkts++;
	s->pkts[i].next = SIM_NONE;
	s->pkts[i].nhop = 0;
	s->pkts[i].ce = 0;
	return i;
}

uint32_t sim_pkt_ctrl(struct sim *s, enum sim_pkt_kind kind, uint32_t flow, uint32_t dst,
		      uint16_t sport, uint16_t dport, uint32_t wire_bytes)
{
	uint32_t i = sim_pkt_alloc(s);
	struct sim_pkt *p = &s->pkts[i];

	p->kind = (uint8_t)kind;
	p->flow = flow;
	p->dst = dst;
	p->sport = sport;
	p->dport = dport;
	p->wire_bytes = wire_bytes;
	p->payload_bytes = 0;
	return i;
}

static void pkt_free(struct sim *s, uint32_t i)
{
	s->pkts[i].next = s->free_pkt;
	s->free_pkt = i;
	s->n_pkts--;
}

static void fifo_push(struct sim *s, struct sim_fifo *q, uint32_t i)
{
	s->pkts[i].next = SIM_NONE;
	if (q->tail == SIM_NONE)
		q->head = i;
	else
		s->pkts[q->tail].next = i;
	q->tail = i;
}

static uint32_t fifo_pop(struct sim *s, struct sim_fifo *q)
{
	uint32_t i = q->head;

	if (i == SIM_NONE)
		return i;
	q->head = s->pkts[i].next;
	if (q->head == SIM_NONE)
		q->tail = SIM_NONE;
	return i;
}

/* ---- bottleneck queue accounting ---- */

/* The lossless data a port holds, both classes. */
static inline uint64_t data_q_bytes(const struct sim_port *pt)
{
	return pt->q_bytes[SIM_PRIO_DATA] + pt->q_bytes[SIM_PRIO_SHORT];
}

static void monitor_queue_change(struct sim *s, const struct sim_port *pt)
{
	uint64_t bin;

	if (s->now_ps > s->q_last_change_ps && s->now_ps > s->metrics_start_ps) {
		uint64_t from = s->q_last_change_ps > s->metrics_start_ps ? s->q_last_change_ps :
									    s->metrics_start_ps;

		bin = s->q_last_bytes / 1024;
		if (bin >= s->q_hist_n)
			bin = s->q_hist_n - 1;
		s->q_hist_ps[bin] += s->now_ps - from;
	}
	s->q_last_change_ps = s->now_ps;
	s->q_last_bytes = data_q_bytes(pt);
}

/* ---- every switch egress: time-weighted queue histograms ---- */

static void portq_account(struct sim *s, struct sim_port *pt, uint32_t port)
{
	if (s->portq_on && s->now_ps > pt->q_bin_since_ps)
		s->portq_hist_ps[(size_t)(port - s->first_switch_port) * SIM_PORTQ_BINS +
				 pt->q_bin] += s->now_ps - pt->q_bin_since_ps;
	pt->q_bin_since_ps = s->now_ps;
}

/* The data queue of a switch egress changed: time accrues to a bin only when
 * the queue leaves it. */
static inline void portq_change(struct sim *s, struct sim_port *pt, uint32_t port)
{
	uint32_t bin = sim_portq_bin(data_q_bytes(pt));

	if (bin == pt->q_bin)
		return;
	portq_account(s, pt, port);
	pt->q_bin = bin;
}

/* The primary group's first flow started (on), or its last finished. */
static void portq_window(struct sim *s, bool on)
{
	for (uint32_t p = s->first_switch_port; p < s->n_ports; p++)
		portq_account(s, &s->ports[p], p);
	s->portq_on = on;
}

/* ---- links ---- */

static void port_transmit(struct sim *s, uint32_t port, uint32_t pkt)
{
	struct sim_port *pt = &s->ports[port];
	struct sim_pkt *p = &s->pkts[pkt];
	uint64_t ser = sim_ser_ps(p->wire_bytes, pt->rate_bps);

	pt->busy = true;
	pt->tx_bytes += p->wire_bytes;
	if (p->prio != SIM_PRIO_CTRL)
		pt->tx_data_bytes += p->wire_bytes;
	sim_schedule(s, s->now_ps + ser, SIM_EV_TXDONE, port, 0);
	sim_schedule(s, s->now_ps + ser + pt->delay_ps, SIM_EV_ARRIVE, pt->peer, pkt);
}

/* ---- switches ---- */

static uint64_t pfc_threshold(const struct sim *s, const struct sim_switch *sw)
{
	uint64_t budget = sw->buffer_bytes - sw->headroom_total;

	budget = budget > sw->used_bytes ? budget - sw->used_bytes : 0;
	return budget >> s->cfg->pfc_alpha_shift;
}

/* XOFF (pause) or XON for one lossless class: the event's b is the two. */
static void pfc_send(struct sim *s, uint32_t in_port, unsigned cls, bool pause)
{
	struct sim_port *pt = &s->ports[in_port];

	if (pt->down)
		return;
	pt->pause_sent[cls] = pause;
	if (pause)
		pt->pause_frames++;
	/* A pause frame preempts data on the wire (it is sent between frames
	 * at the MAC); it costs one frame time plus propagation. */
	sim_schedule(s, s->now_ps + sim_ser_ps(SIM_PFC_BYTES, pt->rate_bps) + pt->delay_ps,
		     SIM_EV_PFC, pt->peer, (uint32_t)pause | cls << 1);
}

static bool ecn_mark(struct sim *s, struct sim_switch *sw, const struct sim_port *pt)
{
	const struct sim_config *c = s->cfg;
	double scale = (double)pt->rate_bps / 25e9;
	double kmin = c->kmin_kb_per_25g * 1024 * scale, kmax = c->kmax_kb_per_25g * 1024 * scale;
	double q = (double)data_q_bytes(pt);

	if (!c->ecn || q <= kmin)
		return false;
	if (q >= kmax)
		return true;
	return tita_rng_unit(&sw->rng) < c->pmax * (q - kmin) / (kmax - kmin);
}

/* A data packet leaves the switch (sent or lost): release the buffer
 * against the port it came in on, and resume that upstream once it has
 * drained below the threshold, or drained altogether: this is the last
 * departure that will check it, and with the shared buffer nearly full the
 * threshold can stay under the resume offset for good (the artifact's
 * CheckShouldResume). */
static void switch_release(struct sim *s, struct sim_switch *sw, const struct sim_pkt *p)
{
	struct sim_port *in = &s->ports[p->in_port];
	unsigned cls = sim_lossless_of(p->prio);
	/* Departures come out of the headroom first (the artifact's
	 * RemoveFromIngressAdmission): bytes are bytes, and charging the
	 * headroom to the very packets that arrived after XOFF would hold the
	 * pause until the whole queue ahead of them had drained. */
	uint64_t from_hdrm = in->in_hdrm_bytes[cls] < p->wire_bytes ? in->in_hdrm_bytes[cls] :
								      p->wire_bytes;

	sw->used_bytes -= p->wire_bytes;
	in->in_bytes[cls] -= p->wire_bytes;
	in->in_hdrm_bytes[cls] -= from_hdrm;
	if (in->pause_sent[cls] && in->in_hdrm_bytes[cls] == 0 &&
	    (in->in_bytes[cls] == 0 ||
	     in->in_bytes[cls] + s->cfg->pfc_resume_offset_bytes <= pfc_threshold(s, sw)))
		pfc_send(s, p->in_port, cls, false);
}

static void pkt_lost(struct sim *s, uint32_t i);

static void switch_kick(struct sim *s, uint32_t port)
{
	struct sim_port *pt = &s->ports[port];
	struct sim_switch *sw = &s->switches[s->nodes[pt->node].idx];
	struct sim_pkt *p;
	uint32_t i;

	if (pt->busy || pt->down)
		return;
	i = fifo_pop(s, &pt->q[SIM_PRIO_CTRL]);
	if (i != SIM_NONE) {
		pt->q_bytes[SIM_PRIO_CTRL] -= s->pkts[i].wire_bytes;
		port_transmit(s, port, i);
		return;
	}
	/* Strict priority: the short class before the rest, each unless its
	 * priority is paused. */
	i = pt->paused[SIM_LL_SHORT] ? SIM_NONE : fifo_pop(s, &pt->q[SIM_PRIO_SHORT]);
	if (i == SIM_NONE && !pt->paused[SIM_LL_DATA])
		i = fifo_pop(s, &pt->q[SIM_PRIO_DATA]);
	if (i == SIM_NONE)
		return;
	p = &s->pkts[i];
	/* ECN on the egress queue the packet leaves (as the artifact marks at
	 * dequeue), before it is taken off the count. */
	if (p->kind == SIM_PKT_DATA && !p->ce && ecn_mark(s, sw, pt)) {
		p->ce = 1;
		pt->ecn_marks++;
		s->ecn_marks++;
	}
	pt->q_bytes[p->prio] -= p->wire_bytes;
	portq_change(s, pt, port);
	if (port == s->monitor_port)
		monitor_queue_change(s, pt);
	if (s->cc->int_stamp && p->kind == SIM_PKT_DATA && p->nhop < HPCC_MAX_HOPS) {
		struct hpcc_hop *h = &s->hops[i][p->nhop++];

		h->rate_bps = pt->rate_bps;
		h->ts_ps = s->now_ps;
		h->tx_bytes = pt->tx_bytes;
		h->qlen_bytes = data_q_bytes(pt);
	}
	switch_release(s, sw, p);
	port_transmit(s, port, i);
}

/* splitmix64's finalizer: every input bit moves every output bit. */
static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t sim_ecmp_pick(const struct sim *s, uint32_t sw, uint32_t src, uint32_t dst, uint16_t sport,
		       uint16_t dport, bool icmp, uint32_t n)
{
	uint64_t h = s->switches[sw].ecmp_salt ^ ((uint64_t)src << 32 | dst);

	h = mix64(h) ^ ((uint64_t)sport << 24 | (uint64_t)dport << 8 | (icmp ? 1 : 17));
	/* A plain modulo, as an ECMP group of n members: when a member goes,
	 * most flows move. */
	return (uint32_t)(mix64(h) % n);
}

static uint32_t route(struct sim *s, uint32_t sw_idx, const struct sim_pkt *p)
{
	uint32_t k = sw_idx * s->n_hosts + p->dst;
	uint32_t n = s->route_n[k];

	if (n == 1)
		return s->route_ports[s->route_off[k]];
	if (!n)
		return SIM_NONE; /* failures cut the switch off */
	/* ECMP on the packet's 5-tuple: for RoCEv2 the UDP source port is the
	 * QP's entropy. */
	return s->route_ports[s->route_off[k] + sim_ecmp_pick(s, sw_idx, p->src, p->dst, p->sport,
							      p->dport,
							      p->kind == SIM_PKT_PROBE_REPLY, n)];
}

uint32_t sim_path_spine(const struct sim *s, uint32_t src, uint32_t dst, uint16_t sport)
{
	uint32_t port = s->ports[s->hosts[src].port].peer;
	uint32_t sw = s->nodes[s->ports[port].node].idx;
	uint32_t k = sw * s->n_hosts + dst, n = s->route_n[k], up;
	const struct sim_node *next;

	up = s->route_ports[s->route_off[k] + (n == 1 ? 0 :
							sim_ecmp_pick(s, sw, src, dst, sport,
								      SIM_ROCE_DPORT, false, n))];
	next = &s->nodes[s->ports[s->ports[up].peer].node];
	if (next->is_host || s->switches[next->idx].tier != 1)
		return SIM_NONE;
	return next->idx - s->cfg->leaves;
}

static void switch_receive(struct sim *s, uint32_t in_port, uint32_t i)
{
	struct sim_port *in = &s->ports[in_port];
	struct sim_switch *sw = &s->switches[s->nodes[in->node].idx];
	struct sim_pkt *p = &s->pkts[i];
	uint32_t out;
	struct sim_port *op;

	if (p->kind == SIM_PKT_PROBE && sw->tier == 1) {
		/* TTL 2 runs out here, at the first spine: it answers with
		 * ICMP time-exceeded, which names it. */
		p->kind = SIM_PKT_PROBE_REPLY;
		p->seq = p->dst;
		p->dst = p->src;
		p->flow = s->nodes[in->node].idx - s->cfg->leaves;
		p->wire_bytes = SIM_PROBE_REPLY_BYTES;
		s->ctrl_bytes += p->wire_bytes;
	}
	out = route(s, s->nodes[in->node].idx, p);
	if (out == SIM_NONE) {
		pkt_lost(s, i);
		return;
	}
	op = &s->ports[out];
	if (p->prio != SIM_PRIO_CTRL) {
		unsigned cls = sim_lossless_of(p->prio);
		bool hdrm = in->pause_sent[cls];

		if (sw->used_bytes + p->wire_bytes > sw->buffer_bytes ||
		    (hdrm &&
		     in->in_hdrm_bytes[cls] + p->wire_bytes > sw->headroom_bytes_per_port)) {
			if (getenv("SIM_DEBUG_DROPS"))
				fprintf(stderr,
					"drop t=%.3fus sw=%u in=%u used=%llu hdrm=%d inhdrm=%llu inb=%llu th=%llu\n",
					s->now_ps / 1e6, s->nodes[in->node].idx, in_port,
					(unsigned long long)sw->used_bytes, hdrm,
					(unsigned long long)in->in_hdrm_bytes[cls],
					(unsigned long long)in->in_bytes[cls],
					(unsigned long long)pfc_threshold(s, sw));
			in->drops++;
			s->drops++;
			pkt_lost(s, i);
			return;
		}
		p->in_port = in_port;
		sw->used_bytes += p->wire_bytes;
		in->in_bytes[cls] += p->wire_bytes;
		if (hdrm)
			in->in_hdrm_bytes[cls] += p->wire_bytes;
		if (s->cfg->pfc && !in->pause_sent[cls] && in->in_bytes[cls] > pfc_threshold(s, sw))
			pfc_send(s, in_port, cls, true);
		fifo_push(s, &op->q[p->prio], i);
		op->q_bytes[p->prio] += p->wire_bytes;
		portq_change(s, op, out);
		if (data_q_bytes(op) > op->max_q_bytes)
			op->max_q_bytes = data_q_bytes(op);
		if (out == s->monitor_port)
			monitor_queue_change(s, op);
	} else {
		fifo_push(s, &op->q[SIM_PRIO_CTRL], i);
		op->q_bytes[SIM_PRIO_CTRL] += p->wire_bytes;
	}
	switch_kick(s, out);
}

/* ---- NICs ---- */

static void pkt_lost(struct sim *s, uint32_t i);

void sim_host_send_ctrl(struct sim *s, uint32_t host, uint32_t pkt)
{
	struct sim_host *h = &s->hosts[host];
	struct sim_port *pt = &s->ports[h->port];

	if (h->dead) {
		s->pkts[pkt].src = host;
		pkt_lost(s, pkt);
		return;
	}

	s->pkts[pkt].prio = SIM_PRIO_CTRL;
	s->pkts[pkt].src = host;
	fifo_push(s, &pt->q[SIM_PRIO_CTRL], pkt);
	pt->q_bytes[SIM_PRIO_CTRL] += s->pkts[pkt].wire_bytes;
	sim_nic_kick(s, host);
}

static void nic_wake_at(struct sim *s, uint32_t host, uint64_t t_ps)
{
	struct sim_host *h = &s->hosts[host];

	if (h->wake_ps && h->wake_ps <= t_ps && h->wake_ps >= s->now_ps)
		return;
	h->wake_ps = t_ps;
	sim_schedule(s, t_ps, SIM_EV_NIC_WAKE, host, 0);
}

static void active_add(struct sim *s, struct sim_flow *f)
{
	struct sim_host *h = &s->hosts[f->src];

	if (h->n_active == h->cap_active) {
		h->cap_active = h->cap_active ? h->cap_active * 2 : 16;
		h->active = realloc(h->active, h->cap_active * sizeof(*h->active));
		if (!h->active) {
			fprintf(stderr, "tita-sim: out of memory\n");
			exit(1);
		}
	}
	h->active[h->n_active++] = f->id;
	f->in_active = true;
}

static void active_remove(struct sim *s, struct sim_host *h, uint32_t k)
{
	s->flows[h->active[k]].in_active = false;
	memmove(&h->active[k], &h->active[k + 1], (h->n_active - k - 1) * sizeof(h->active[0]));
	h->n_active--;
	if (h->rr > k)
		h->rr--;
	if (h->rr >= h->n_active)
		h->rr = 0;
}

/*
 * When tita's pacer lets a pair's next packet go. The back ends' limiters
 * are token buckets (HTB, a class's buffer; mlx5's packet pacing, bursts up
 * to max_burst_sz): a packet is due a gap of wire / rate after the one
 * before was due, and one that left late, its NIC busy with other pairs'
 * packets, lets the next ones catch up by at most pacer_burst_bytes. With
 * 0 (the default, as the baselines' limiters) each packet is spaced from
 * when the last one left, and a pair paced at a small rate loses every
 * delay its NIC's other pairs cause it (an all-to-all's 63 pairs a NIC ran
 * 4 % below their rates). Time the port spent paused (PFC) is not made up: a
 * paused priority stops the NIC's scheduler, limiters and all, and a
 * catch-up after each pause would be one more burst into the congestion
 * that paused it.
 */
static uint64_t pacer_next_ps(const struct sim *s, struct sim_txpair *tp, uint32_t wire_bytes,
			      const struct sim_port *pt)
{
	double rate_bps = (double)tp->rate_bps;
	double credit_ps = (double)s->cfg->pacer_burst_bytes * 8e12 / rate_bps;
	double now = (double)s->now_ps;
	double from =
		(double)tp->next_tx_ps + (double)(pt->paused_ps[SIM_LL_DATA] - tp->paused_seen_ps);

	tp->paused_seen_ps = pt->paused_ps[SIM_LL_DATA];
	if (from < now - credit_ps)
		from = now - credit_ps;
	if (from > now)
		from = now;
	from += (double)wire_bytes * 8e12 / rate_bps;
	return from > 0 ? (uint64_t)from : 0;
}

/* The class of a flow's packets: a message of at most [nic] short_prio_kb
 * goes in the short class (its application posts it on a QP of that
 * traffic class). */
static unsigned flow_prio(const struct sim *s, const struct sim_flow *f)
{
	uint64_t short_max = s->cfg->short_prio_bytes;

	return short_max && f->size_bytes <= short_max ? SIM_PRIO_SHORT : SIM_PRIO_DATA;
}

static void nic_send_data(struct sim *s, uint32_t host, struct sim_flow *f)
{
	const struct sim_config *c = s->cfg;
	struct sim_host *h = &s->hosts[host];
	uint64_t left = f->size_bytes - f->sent_bytes;
	uint32_t payload = left < c->mtu_bytes ? (uint32_t)left : c->mtu_bytes;
	uint32_t i = sim_pkt_alloc(s);
	struct sim_pkt *p = &s->pkts[i];
	uint32_t wire = payload + SIM_HDR_BYTES + (s->cc->int_stamp ? SIM_INT_BYTES : 0);

	p->kind = SIM_PKT_DATA;
	p->prio = (uint8_t)flow_prio(s, f);
	p->flow = f->id;
	p->src = f->src;
	p->dst = f->dst;
	p->sport = f->sport;
	p->dport = SIM_ROCE_DPORT;
	p->payload_bytes = payload;
	p->wire_bytes = wire;
	/* A slow application: new bytes must have been made ready first
	 * (sim_nic_kick waited for them); a resend's were. */
	if (h->app_rate_bps && f->sent_bytes >= f->high_sent_bytes)
		h->app_ready_bytes -= h->app_ready_bytes > payload ? payload : h->app_ready_bytes;
	f->sent_bytes += payload;
	p->seq = f->sent_bytes;
	f->last_pkt_bytes = wire;
	f->last_tx_ps = s->now_ps;
	/* The limiter spaces packet starts by size / rate (artifact
	 * UpdateNextAvail); a rate at line speed leaves the link as the limit. */
	f->next_tx_ps = s->now_ps + (uint64_t)((double)wire * 8e12 / f->rate_bps);
	if (s->cc->tita) {
		struct sim_txpair *tp = sim_flow_txpair(s, f);

		tp->tx_bytes += wire;
		tp->h_tx_bytes += wire;
		tp->h_tx_pkts++;
		if (p->seq <= f->high_sent_bytes)
			tp->h_retx_pkts++;
		tp->backlog_bytes -= tp->backlog_bytes > payload ? payload : tp->backlog_bytes;
		tp->last_active_ps = s->now_ps;
		if (tp->unsched_left) {
			/* The unscheduled bytes are the bucket's burst (tc
			 * programs them as the class's buffer): they leave it
			 * empty, not one more burst ahead. */
			tp->unsched_left -= tp->unsched_left > wire ? wire : tp->unsched_left;
			tp->next_tx_ps = s->now_ps;
			tp->paused_seen_ps = s->ports[h->port].paused_ps[SIM_LL_DATA];
		} else if (tp->rate_bps != TITA_RATE_UNPACED && tp->rate_bps)
			tp->next_tx_ps = pacer_next_ps(s, tp, wire, &s->ports[h->port]);
	}
	if (p->seq > f->high_sent_bytes)
		f->high_sent_bytes = p->seq;
	/* Occupy the port before the congestion control hears of the packet:
	 * a rate change it makes kicks the NIC, which must find it busy. */
	port_transmit(s, h->port, i);
	if (s->cc->on_event)
		s->cc->on_event(s, f, SIM_CC_TX, NULL, wire);
}

/* A slow application makes bytes ready at app_rate_bps into a buffer of
 * SIM_APP_READY_MAX_BYTES, whatever the NIC takes. */
static void app_refill(struct sim *s, struct sim_host *h)
{
	if (s->now_ps > h->app_since_ps) {
		h->app_ready_bytes +=
			(double)h->app_rate_bps * (double)(s->now_ps - h->app_since_ps) / 8e12;
		if (h->app_ready_bytes > SIM_APP_READY_MAX_BYTES)
			h->app_ready_bytes = SIM_APP_READY_MAX_BYTES;
	}
	h->app_since_ps = s->now_ps;
}

/* When the next packet of f will be ready, on a slow application. */
static uint64_t app_ready_ps(const struct sim *s, const struct sim_host *h,
			     const struct sim_flow *f)
{
	uint64_t left = f->size_bytes - f->sent_bytes;
	double need = (double)(left < s->cfg->mtu_bytes ? left : s->cfg->mtu_bytes);

	if (h->app_ready_bytes >= need)
		return s->now_ps;
	return s->now_ps +
	       (uint64_t)ceil((need - h->app_ready_bytes) * 8e12 / (double)h->app_rate_bps);
}

/*
 * The flows of a tita pair share its pacer: when it lets one packet go,
 * the pair's flow that sent least recently takes it. Round robin over the
 * host's flows alone would give it to whichever flow the pointer reaches
 * first each time the pacer opens, and with the pacer's period in step
 * with the pointer one flow of the pair can take every turn.
 */
static uint32_t pair_turn(struct sim *s, const struct sim_host *h, uint32_t idx)
{
	const struct sim_flow *f = &s->flows[h->active[idx]];
	uint32_t best = idx;

	for (uint32_t k = 0; k < h->n_active; k++) {
		const struct sim_flow *g = &s->flows[h->active[k]];

		if (k == idx || g->txp != f->txp || g->held || g->next_tx_ps > s->now_ps ||
		    g->last_tx_ps >= s->flows[h->active[best]].last_tx_ps)
			continue;
		best = k;
	}
	return best;
}

void sim_nic_kick(struct sim *s, uint32_t host)
{
	struct sim_host *h = &s->hosts[host];
	struct sim_port *pt = &s->ports[h->port];
	uint64_t earliest = UINT64_MAX;
	uint32_t n, k;

	if (pt->busy || h->dead)
		return;
	k = fifo_pop(s, &pt->q[SIM_PRIO_CTRL]);
	if (k != SIM_NONE) {
		pt->q_bytes[SIM_PRIO_CTRL] -= s->pkts[k].wire_bytes;
		port_transmit(s, h->port, k);
		return;
	}
	if (pt->paused[SIM_LL_DATA] && (!s->cfg->short_prio_bytes || pt->paused[SIM_LL_SHORT]))
		return;
	if (h->app_rate_bps)
		app_refill(s, h);
	/* Round robin over the QPs that their limiters allow now; those of the
	 * short class first (a traffic class of its own, strict priority). */
	bool tita = s->cc->tita;
	bool two = s->cfg->short_prio_bytes != 0;
	uint32_t idx = h->rr < h->n_active ? h->rr : 0;

	for (n = 0; n < (two ? 2 : 1) * h->n_active;
	     n++, idx = idx + 1 == h->n_active ? 0 : idx + 1) {
		struct sim_flow *f = &s->flows[h->active[idx]];
		uint64_t t = f->next_tx_ps;
		unsigned prio = flow_prio(s, f);
		bool short_pass = two && n < h->n_active;

		if (f->held)
			continue; /* sim_flow_hold(false) kicks the NIC */
		if ((short_pass && prio != SIM_PRIO_SHORT) || pt->paused[sim_lossless_of(prio)])
			continue; /* the other pass's, or PFC's: its XON kicks the NIC */

		if (tita) {
			const struct sim_txpair *tp = sim_flow_txpair(s, f);

			if (tp->next_tx_ps > t)
				t = tp->next_tx_ps;
		}
		if (h->app_rate_bps && f->sent_bytes >= f->high_sent_bytes) {
			uint64_t ready = app_ready_ps(s, h, f);

			if (ready > t)
				t = ready;
		}
		/* Cheapest test first: a limiter that says "not yet" settles it. */
		if (t > s->now_ps) {
			if (t < earliest && (!s->cc->can_send || s->cc->can_send(s, f)))
				earliest = t;
			continue;
		}
		if (s->cc->can_send && !s->cc->can_send(s, f))
			continue; /* an ACK will kick the NIC */
		if (tita && !short_pass)
			idx = pair_turn(s, h, idx);
		f = &s->flows[h->active[idx]];
		nic_send_data(s, host, f);
		if (f->sent_bytes >= f->size_bytes) {
			active_remove(s, h, idx);
		} else {
			h->rr = (idx + 1) % h->n_active;
		}
		return;
	}
	if (earliest != UINT64_MAX)
		nic_wake_at(s, host, earliest);
}

void sim_flow_set_rate(struct sim *s, struct sim_flow *f, double rate_bps)
{
	double old = f->rate_bps;

	if (rate_bps == old)
		return;
	/* As the artifact's ChangeRate: move the next send time by the
	 * difference the new rate makes to the last packet's spacing. */
	if (f->last_pkt_bytes && f->started) {
		double d = (double)f->last_pkt_bytes * 8e12 * (1 / rate_bps - 1 / old);
		double t = (double)f->next_tx_ps + d;

		f->next_tx_ps = t < (double)s->now_ps ? s->now_ps : (uint64_t)t;
	}
	f->rate_bps = rate_bps;
	if (f->started && f->sent_bytes < f->size_bytes)
		sim_nic_kick(s, f->src);
}

/* A packet of f's QP from its receiver back to its sender. */
static uint32_t reverse_pkt(struct sim *s, const struct sim_flow *f, enum sim_pkt_kind kind,
			    uint32_t wire_bytes)
{
	return sim_pkt_ctrl(s, kind, f->id, f->src, f->sport, SIM_ROCE_DPORT, wire_bytes);
}

static void send_cnp(struct sim *s, struct sim_flow *f)
{
	uint32_t i = reverse_pkt(s, f, SIM_PKT_CNP, SIM_CNP_BYTES);

	s->cnps++;
	s->hosts[f->dst].cnps_sent++;
	sim_host_send_ctrl(s, f->dst, i);
}

static void send_ack(struct sim *s, struct sim_flow *f, uint32_t data_idx)
{
	/* may move the pool: index, not pointer */
	uint32_t i = reverse_pkt(s, f, SIM_PKT_ACK, SIM_ACK_BYTES + SIM_INT_BYTES);
	struct sim_pkt *p = &s->pkts[i];
	const struct sim_pkt *data = &s->pkts[data_idx];

	p->seq = f->rcvd_bytes;
	p->nhop = data->nhop;
	memcpy(s->hops[i], s->hops[data_idx], sizeof(s->hops[0][0]) * data->nhop);
	sim_host_send_ctrl(s, f->dst, i);
}

/* An RC NAK (PSN sequence error): resend from rcvd_bytes. */
static void send_nak(struct sim *s, struct sim_flow *f)
{
	uint32_t i = reverse_pkt(s, f, SIM_PKT_NAK, SIM_ACK_BYTES);

	s->pkts[i].seq = f->rcvd_bytes;
	f->nak_for = f->rcvd_bytes;
	s->naks++;
	sim_host_send_ctrl(s, f->dst, i);
}

/* Go-back-N at the sender: what was sent from `to` on is sent again. A NAK
 * for where the sender already went back is stale (the timer may have gone
 * back first); the timer, which fires only without progress, is not. */
static void go_back(struct sim *s, struct sim_flow *f, uint64_t to, bool timer)
{
	uint64_t back;

	if (to < f->acked_bytes)
		to = f->acked_bytes;
	if (to >= f->sent_bytes || (!timer && to == f->rewound_to))
		return;
	back = f->sent_bytes - to;
	f->retx_bytes += back;
	s->retx_bytes += back;
	if (s->cc->tita)
		sim_flow_txpair(s, f)->backlog_bytes += back;
	f->sent_bytes = to;
	f->rewound_to = to;
	if (!f->in_active)
		active_add(s, f);
	/* Held while its packets drain, and they were lost: going back to
	 * what arrived (or before it, on an older NAK) leaves nothing in
	 * flight. */
	if (f->await_drain && f->rcvd_bytes >= f->sent_bytes) {
		f->await_drain = false;
		if (s->cc->on_drained)
			s->cc->on_drained(s, f);
	}
	sim_nic_kick(s, f->src);
}

/* A packet of f was lost: arm the sender's timer, which goes back when
 * nothing has arrived in order for a timeout (what the loss of the last
 * packets needs: no later packet shows the gap), as an RC ACK timeout
 * restarted by every ACK. Without an ACK model the timer runs only after a
 * loss: a NIC's timeout that never fires spuriously on a loss-free flow. */
static void rto_arm(struct sim *s, struct sim_flow *f, uint64_t at_ps)
{
	f->rto_armed = true;
	sim_schedule(s, at_ps, SIM_EV_RTO, f->id, 0);
}

static void loss_seen(struct sim *s, struct sim_flow *f)
{
	if (!f->rto_armed && !f->finish_ps)
		rto_arm(s, f, s->now_ps + s->cfg->rto_ps);
}

/* Each timeout without progress doubles the next (up to 64 x), as adaptive
 * retransmission backs off: under long PFC pauses a timer fires while the
 * packets it resends are still queued behind them. */
#define RTO_MAX_SHIFT 6

static void rto_fire(struct sim *s, struct sim_flow *f)
{
	uint64_t rto = s->cfg->rto_ps << f->rto_shift;

	f->rto_armed = false;
	if (f->finish_ps || f->rcvd_bytes >= f->sent_bytes)
		return;
	if (s->now_ps - f->last_rx_ps < rto) {
		rto_arm(s, f, f->last_rx_ps + rto);
		return;
	}
	s->rtos++;
	go_back(s, f, f->rcvd_bytes, true);
	if (f->rto_shift < RTO_MAX_SHIFT)
		f->rto_shift++;
	rto_arm(s, f, s->now_ps + (s->cfg->rto_ps << f->rto_shift));
}

static void pkt_lost(struct sim *s, uint32_t i)
{
	const struct sim_pkt *p = &s->pkts[i];

	s->lost_pkts++;
	switch (p->kind) {
	case SIM_PKT_DATA:
	case SIM_PKT_NAK:
		loss_seen(s, &s->flows[p->flow]);
		break;
	case SIM_PKT_TITA:
		sim_tita_lost(s, p);
		break;
	default:
		/* cumulative ACKs, CNPs and probes are just gone */
		break;
	}
	pkt_free(s, i);
}

/* Payload received in order: the goodput bins, and the longest wait for it
 * after a failure. */
static void goodput_add(struct sim *s, struct sim_flow *f, uint32_t payload)
{
	if (s->now_ps >= s->gp_bin_end_ps) {
		uint32_t bin = (uint32_t)(s->now_ps / s->cfg->goodput_bin_ps);

		if (bin >= s->cap_gp) {
			uint32_t cap = s->cap_gp ? s->cap_gp : 1024;
			uint64_t *g;

			while (cap <= bin)
				cap *= 2;
			g = realloc(s->gp_bytes, (size_t)cap * SIM_MAX_JOBS * sizeof(*g));
			if (!g) {
				fprintf(stderr, "tita-sim: out of memory\n");
				exit(1);
			}
			memset(g + (size_t)s->cap_gp * SIM_MAX_JOBS, 0,
			       (size_t)(cap - s->cap_gp) * SIM_MAX_JOBS * sizeof(*g));
			s->gp_bytes = g;
			s->cap_gp = cap;
		}
		s->n_gp = bin + 1;
		s->gp_bin_end_ps = (uint64_t)(bin + 1) * s->cfg->goodput_bin_ps;
	}
	s->gp_bytes[(size_t)(s->n_gp - 1) * SIM_MAX_JOBS + f->job] += payload;
	if (s->now_ps > s->fail_ps) {
		uint64_t from = f->last_rx_ps > s->fail_ps ? f->last_rx_ps : s->fail_ps;

		if (s->now_ps - from > f->max_gap_ps)
			f->max_gap_ps = s->now_ps - from;
	}
	f->last_rx_ps = s->now_ps;
	f->rto_shift = 0;
}

static void flow_complete(struct sim *s, struct sim_flow *f);

static void host_receive(struct sim *s, uint32_t host, uint32_t i)
{
	struct sim_pkt *p = &s->pkts[i];
	struct sim_flow *f;

	switch (p->kind) {
	case SIM_PKT_DATA: {
		bool in_order;

		f = &s->flows[p->flow];
		in_order = p->seq - p->payload_bytes == f->rcvd_bytes;
		if (s->cc->tita)
			sim_tita_count_rx(s, host, p);
		if (p->ce) {
			f->ecn_rcvd++;
			if (s->cc->np_cnp &&
			    (!f->cnp_sent_once ||
			     s->now_ps - f->last_cnp_ps >= s->dcqcn.min_time_between_cnps_ps)) {
				f->cnp_sent_once = true;
				f->last_cnp_ps = s->now_ps;
				send_cnp(s, f);
				p = &s->pkts[i];
			}
		}
		if (!in_order) {
			if (s->cc->tita) {
				s->hosts[host].rxp[f->rxp].h_lost[f->job]++;
				s->hosts[host].rxp[f->rxp].lost_pkts++;
			}
			/* RC takes nothing after a gap: NAK it once, drop
			 * what follows until the sender has gone back. */
			if (p->seq - p->payload_bytes > f->rcvd_bytes &&
			    f->nak_for != f->rcvd_bytes) {
				send_nak(s, f);
				p = &s->pkts[i];
			}
			break;
		}
		f->rcvd_bytes += p->payload_bytes;
		goodput_add(s, f, p->payload_bytes);
		if (s->cc->acks) {
			send_ack(s, f, i);
			p = &s->pkts[i];
		}
		if (f->await_drain && f->rcvd_bytes >= f->sent_bytes) {
			f->await_drain = false;
			if (s->cc->on_drained)
				s->cc->on_drained(s, f);
		}
		if (f->rcvd_bytes >= f->size_bytes)
			flow_complete(s, f);
		break;
	}
	case SIM_PKT_NAK:
		go_back(s, &s->flows[p->flow], p->seq, false);
		break;
	case SIM_PKT_CNP:
		f = &s->flows[p->flow];
		if (s->cc->tita)
			sim_flow_txpair(s, f)->cnps++;
		if (s->cc->on_event)
			s->cc->on_event(s, f, SIM_CC_CNP, p, 0);
		break;
	case SIM_PKT_ACK:
		f = &s->flows[p->flow];
		if (p->seq > f->acked_bytes)
			f->acked_bytes = p->seq;
		if (s->cc->on_event)
			s->cc->on_event(s, f, SIM_CC_ACK, &s->pkts[i], 0);
		sim_nic_kick(s, host);
		break;
	case SIM_PKT_TITA:
		sim_tita_on_msg(s, host, p);
		break;
	case SIM_PKT_PROBE: {
		/* No spine on the way: the destination answers (as ICMP port
		 * unreachable would), naming none. */
		uint32_t r = sim_pkt_ctrl(s, SIM_PKT_PROBE_REPLY, SIM_NONE, p->src, p->sport,
					  p->dport, SIM_PROBE_REPLY_BYTES);

		p = &s->pkts[i];
		s->pkts[r].seq = host;
		s->hosts[host].ctrl_rx_bytes += p->wire_bytes;
		s->hosts[host].ctrl_tx_bytes += SIM_PROBE_REPLY_BYTES;
		s->ctrl_bytes += SIM_PROBE_REPLY_BYTES;
		sim_host_send_ctrl(s, host, r);
		break;
	}
	case SIM_PKT_PROBE_REPLY:
		s->hosts[host].ctrl_rx_bytes += p->wire_bytes;
		if (s->cc->on_probe_reply)
			s->cc->on_probe_reply(s, host, (uint32_t)p->seq, p->sport, p->flow);
		break;
	}
	pkt_free(s, i);
}

uint16_t sim_flow_default_sport(uint64_t seed, uint32_t flow)
{
	uint64_t h = mix64(seed * 0x9e3779b97f4a7c15ull ^ mix64((uint64_t)flow + 1));

	return (uint16_t)(SIM_SPORT_MIN + h % (SIM_SPORT_MAX - SIM_SPORT_MIN + 1));
}

void sim_flow_set_sport(struct sim *s, struct sim_flow *f, uint16_t sport)
{
	f->sport = sport;
}

void sim_flow_hold(struct sim *s, struct sim_flow *f, bool hold)
{
	f->held = hold;
	if (!hold && f->started)
		sim_nic_kick(s, f->src);
}

bool sim_flow_await_drain(struct sim *s, struct sim_flow *f)
{
	if (sim_flow_inflight_bytes(f) == 0) {
		f->await_drain = false;
		return true;
	}
	f->await_drain = true;
	return false;
}

void sim_probe_send(struct sim *s, uint32_t src, uint32_t dst, uint16_t sport)
{
	uint32_t i = sim_pkt_ctrl(s, SIM_PKT_PROBE, SIM_NONE, dst, sport, SIM_ROCE_DPORT,
				  SIM_PROBE_BYTES);

	s->hosts[src].ctrl_tx_bytes += SIM_PROBE_BYTES;
	s->ctrl_bytes += SIM_PROBE_BYTES;
	sim_host_send_ctrl(s, src, i);
}

/* ---- flows ---- */

static void primary_window(struct sim *s, bool at_start)
{
	/* Jain fairness is measured over the window in which every flow of
	 * the primary group is running: from the last start to the first
	 * finish. */
	for (uint32_t g = 0; g < s->cfg->n_groups; g++) {
		const struct sim_group *gr = &s->cfg->groups[g];

		if (!gr->primary)
			continue;
		for (uint32_t k = 0; k < gr->n_flows; k++) {
			const struct sim_flow *f = &s->flows[gr->first_flow + k];

			if (at_start)
				s->prim_win_bytes[k] = (double)f->rcvd_bytes;
			else
				s->prim_win_bytes[k] = (double)f->rcvd_bytes - s->prim_win_bytes[k];
		}
	}
	if (at_start)
		s->prim_win_start_ps = s->now_ps;
	else
		s->prim_win_end_ps = s->now_ps;
}

static void flow_start(struct sim *s, struct sim_flow *f)
{
	f->started = true;
	f->start_ps = s->now_ps;
	f->next_tx_ps = s->now_ps;
	f->last_rx_ps = s->now_ps;
	if (s->cfg->groups[f->group].primary) {
		if (!s->prim_started)
			portq_window(s, true);
		if (++s->prim_started == s->cfg->groups[f->group].n_flows)
			primary_window(s, true);
	}
	active_add(s, f);
	if (s->cc->on_event)
		s->cc->on_event(s, f, SIM_CC_START, NULL, 0);
	if (s->cc->tita)
		sim_tita_flow_start(s, f);
	if (f->stop_ps)
		sim_schedule(s, f->stop_ps, SIM_EV_FLOW_STOP, f->id, 0);
	sim_nic_kick(s, f->src);
}

static void flow_stop(struct sim *s, struct sim_flow *f)
{
	struct sim_host *h = &s->hosts[f->src];

	/* The application stops posting: what was sent still has to arrive. */
	if (f->sent_bytes < f->size_bytes) {
		if (s->cc->tita) {
			struct sim_txpair *tp = sim_flow_txpair(s, f);
			uint64_t left = f->size_bytes - f->sent_bytes;

			tp->backlog_bytes -= tp->backlog_bytes > left ? left : tp->backlog_bytes;
		}
		f->size_bytes = f->sent_bytes;
		for (uint32_t k = 0; k < h->n_active; k++)
			if (h->active[k] == f->id) {
				active_remove(s, h, k);
				break;
			}
		if (f->rcvd_bytes >= f->size_bytes)
			flow_complete(s, f);
	}
}

static void flow_complete(struct sim *s, struct sim_flow *f)
{
	if (f->finish_ps)
		return;
	f->finish_ps = s->now_ps;
	s->flows_done++;
	if (s->cfg->groups[f->group].primary) {
		if (s->prim_finished++ == 0 && s->prim_started == s->cfg->groups[f->group].n_flows)
			primary_window(s, false);
		/* utilization of the bottleneck counts while the group runs */
		if (s->prim_finished == s->cfg->groups[f->group].n_flows &&
		    s->monitor_port != SIM_NONE)
			s->mon_tx_end = s->ports[s->monitor_port].tx_data_bytes;
		if (s->prim_finished == s->cfg->groups[f->group].n_flows)
			portq_window(s, false);
	}
	for (uint32_t k = 0; k < f->n_dependents; k++) {
		struct sim_flow *d = &s->flows[s->dependents[f->first_dependent + k]];

		if (--d->deps_pending == 0)
			sim_schedule(s, s->now_ps, SIM_EV_FLOW_START, d->id, 0);
	}
	if (s->flows_done == s->n_flows)
		s->stop = true;
}

/* ---- link failures ---- */

static void build_routes(struct sim *s);

static void port_flush(struct sim *s, uint32_t port)
{
	struct sim_port *pt = &s->ports[port];
	/* A host's port queues only control packets: no buffer to release. */
	struct sim_switch *sw = s->nodes[pt->node].is_host ? NULL :
							     &s->switches[s->nodes[pt->node].idx];
	uint32_t i;

	while ((i = fifo_pop(s, &pt->q[SIM_PRIO_CTRL])) != SIM_NONE) {
		pt->q_bytes[SIM_PRIO_CTRL] -= s->pkts[i].wire_bytes;
		pkt_lost(s, i);
	}
	while (sw && ((i = fifo_pop(s, &pt->q[SIM_PRIO_SHORT])) != SIM_NONE ||
		      (i = fifo_pop(s, &pt->q[SIM_PRIO_DATA])) != SIM_NONE)) {
		pt->q_bytes[s->pkts[i].prio] -= s->pkts[i].wire_bytes;
		portq_change(s, pt, port);
		switch_release(s, sw, &s->pkts[i]);
		pkt_lost(s, i);
	}
	/* The PFC state of the link goes with it. */
	for (unsigned cls = 0; cls < SIM_N_LOSSLESS; cls++) {
		if (pt->paused[cls]) {
			pt->paused[cls] = false;
			pt->paused_ps[cls] += s->now_ps - pt->paused_since_ps[cls];
		}
		pt->pause_sent[cls] = false;
	}
}

/* Both directions of a leaf-spine link go down: what is queued at either
 * end and on the wire is lost, and every switch recomputes its ECMP groups
 * without the link (a plain modulo over the survivors, so most flows of a
 * shrunk group move). */
static void link_down(struct sim *s, const struct sim_fault *ft)
{
	const struct sim_node *leaf = &s->nodes[s->switches[ft->leaf].node];
	uint32_t spine_node = s->switches[s->cfg->leaves + ft->spine].node;

	for (uint32_t k = 0; k < leaf->n_ports; k++) {
		uint32_t a = leaf->first_port + k, b = s->ports[a].peer;

		if (s->ports[b].node != spine_node || s->ports[a].down)
			continue;
		s->ports[a].down = s->ports[b].down = true;
		port_flush(s, a);
		port_flush(s, b);
	}
	if (s->fail_ps == UINT64_MAX)
		s->fail_ps = s->now_ps;
	build_routes(s);
}

/* The two ports of a fault's link: the host's and its switch's, or the
 * leaf's and the spine's. */
static void fault_ports(const struct sim *s, const struct sim_fault *ft, uint32_t *a, uint32_t *b)
{
	if (ft->on_host) {
		*a = s->hosts[ft->host].port;
		*b = s->ports[*a].peer;
		return;
	}
	const struct sim_node *leaf = &s->nodes[s->switches[ft->leaf].node];
	uint32_t spine_node = s->switches[s->cfg->leaves + ft->spine].node;

	*a = *b = SIM_NONE;
	for (uint32_t k = 0; k < leaf->n_ports; k++) {
		uint32_t x = leaf->first_port + k;

		if (s->ports[s->ports[x].peer].node == spine_node) {
			*a = x;
			*b = s->ports[x].peer;
			return;
		}
	}
}

bool sim_fault_traffic(const struct sim *s, uint32_t k, uint64_t *ret_bytes, double *ret_busy_ratio)
{
	const struct sim_fault *ft = k < s->cfg->n_faults ? &s->cfg->faults[k] : NULL;
	uint32_t a, b;
	double busy = 0, span_s;
	uint64_t bytes = 0;

	if (!ft || s->fault_begin_ps[k] == UINT64_MAX ||
	    (ft->kind != SIM_FAULT_SLOWLINK && ft->kind != SIM_FAULT_SLOWNIC &&
	     ft->kind != SIM_FAULT_LOSSY))
		return false;
	fault_ports(s, ft, &a, &b);
	if (a == SIM_NONE)
		return false;
	span_s = (double)(s->now_ps - s->fault_begin_ps[k]) / 1e12;
	for (int d = 0; d < 2; d++) {
		const struct sim_port *pt = &s->ports[d ? b : a];
		uint64_t sent = pt->tx_data_bytes - s->fault_base_bytes[2 * k + d];

		bytes += sent;
		if (span_s > 0 && pt->rate_bps)
			busy = fmax(busy, (double)sent * 8 / ((double)pt->rate_bps * span_s));
	}
	*ret_bytes = bytes;
	*ret_busy_ratio = busy;
	return true;
}

/* A PFC XOFF from the storming NIC, and the next one a period later. */
static void pfc_storm(struct sim *s, const struct sim_fault *ft, uint32_t k)
{
	struct sim_port *pt = &s->ports[s->hosts[ft->host].port];

	if (pt->down || s->hosts[ft->host].dead)
		return;
	pt->pause_frames++;
	sim_schedule(s, s->now_ps + sim_ser_ps(SIM_PFC_BYTES, pt->rate_bps) + pt->delay_ps,
		     SIM_EV_PFC, pt->peer, 1);
	sim_schedule(s, s->now_ps + SIM_PFC_STORM_PERIOD_PS, SIM_EV_FAULT, k, 1);
}

/* A fault other than a failed link begins (b = 1: a PFC storm's next
 * pause). */
static void fault_begin(struct sim *s, uint32_t k, uint32_t again)
{
	const struct sim_fault *ft = &s->cfg->faults[k];
	uint32_t a, b;

	if (again) {
		pfc_storm(s, ft, k);
		return;
	}
	s->fault_begin_ps[k] = s->now_ps;
	if (ft->kind == SIM_FAULT_SLOWLINK || ft->kind == SIM_FAULT_SLOWNIC ||
	    ft->kind == SIM_FAULT_LOSSY) {
		fault_ports(s, ft, &a, &b);
		if (a != SIM_NONE) {
			s->fault_base_bytes[2 * k] = s->ports[a].tx_data_bytes;
			s->fault_base_bytes[2 * k + 1] = s->ports[b].tx_data_bytes;
		}
	}
	switch (ft->kind) {
	case SIM_FAULT_SLOWHOST: {
		struct sim_host *h = &s->hosts[ft->host];

		h->app_rate_bps = (uint64_t)(ft->frac * (double)s->ports[h->port].rate_bps);
		if (!h->app_rate_bps)
			h->app_rate_bps = 1;
		h->app_ready_bytes = 0;
		h->app_since_ps = s->now_ps;
		break;
	}
	case SIM_FAULT_SLOWNIC:
	case SIM_FAULT_SLOWLINK:
		fault_ports(s, ft, &a, &b);
		if (a == SIM_NONE)
			break;
		s->ports[a].rate_bps = (uint64_t)(ft->frac * (double)s->ports[a].rate_bps);
		s->ports[b].rate_bps = (uint64_t)(ft->frac * (double)s->ports[b].rate_bps);
		if (!s->ports[a].rate_bps)
			s->ports[a].rate_bps = s->ports[b].rate_bps = 1;
		break;
	case SIM_FAULT_LOSSY:
		fault_ports(s, ft, &a, &b);
		if (a != SIM_NONE)
			s->ports[a].drop_p = s->ports[b].drop_p = ft->drop;
		break;
	case SIM_FAULT_DEAD: {
		struct sim_host *h = &s->hosts[ft->host];

		/* Its NIC and controller stop (sim_nic_kick, cc_tita); its
		 * link goes down, and the fabric routes around the host that
		 * is gone: packets to it are lost at its switch. */
		h->dead = true;
		fault_ports(s, ft, &a, &b);
		s->ports[a].down = s->ports[b].down = true;
		port_flush(s, a);
		port_flush(s, b);
		build_routes(s);
		break;
	}
	case SIM_FAULT_PFCSTORM:
		pfc_storm(s, ft, k);
		break;
	default:
		break;
	}
}

/* ---- topology ---- */

static uint32_t add_node(struct sim *s, bool is_host, uint32_t idx, uint32_t n_ports)
{
	struct sim_node *n = &s->nodes[s->n_nodes];

	n->is_host = is_host;
	n->idx = idx;
	n->first_port = s->n_ports;
	n->n_ports = 0;
	s->n_ports += n_ports;
	return s->n_nodes++;
}

static void connect(struct sim *s, uint32_t na, uint32_t nb, uint64_t rate_bps)
{
	struct sim_node *a = &s->nodes[na], *b = &s->nodes[nb];
	uint32_t pa = a->first_port + a->n_ports++, pb = b->first_port + b->n_ports++;

	s->ports[pa].node = na;
	s->ports[pb].node = nb;
	s->ports[pa].peer = pb;
	s->ports[pb].peer = pa;
	s->ports[pa].rate_bps = s->ports[pb].rate_bps = rate_bps;
	s->ports[pa].delay_ps = s->ports[pb].delay_ps = s->cfg->link_delay_ps;
}

static void build_routes(struct sim *s)
{
	uint32_t *dist = sim_xcalloc(s->n_nodes, sizeof(*dist));
	uint32_t *queue = sim_xcalloc(s->n_nodes, sizeof(*queue));
	uint32_t cap = s->n_switches * s->n_hosts * 4, used = 0;

	free(s->route_off);
	free(s->route_n);
	free(s->route_ports);
	s->route_off = sim_xcalloc((size_t)s->n_switches * s->n_hosts, sizeof(uint32_t));
	s->route_n = sim_xcalloc((size_t)s->n_switches * s->n_hosts, sizeof(uint32_t));
	s->route_ports = sim_xcalloc(cap, sizeof(uint32_t));
	for (uint32_t h = 0; h < s->n_hosts; h++) {
		uint32_t head = 0, tail = 0;

		/* Hop distances to host h (BFS); a switch forwards on every port
		 * whose neighbour is one hop closer: all shortest paths, ECMP. */
		for (uint32_t n = 0; n < s->n_nodes; n++)
			dist[n] = UINT32_MAX;
		dist[s->hosts[h].node] = 0;
		queue[tail++] = s->hosts[h].node;
		while (head < tail) {
			uint32_t n = queue[head++];
			const struct sim_node *nd = &s->nodes[n];

			if (nd->is_host && n != s->hosts[h].node)
				continue; /* hosts do not forward */
			for (uint32_t k = 0; k < nd->n_ports; k++) {
				uint32_t m = s->ports[s->ports[nd->first_port + k].peer].node;

				if (s->ports[nd->first_port + k].down)
					continue;
				if (dist[m] == UINT32_MAX) {
					dist[m] = dist[n] + 1;
					queue[tail++] = m;
				}
			}
		}
		for (uint32_t sw = 0; sw < s->n_switches; sw++) {
			const struct sim_node *nd = &s->nodes[s->switches[sw].node];
			uint32_t key = sw * s->n_hosts + h;

			s->route_off[key] = used;
			for (uint32_t k = 0; k < nd->n_ports; k++) {
				uint32_t port = nd->first_port + k;
				uint32_t m = s->ports[s->ports[port].peer].node;

				if (s->ports[port].down || dist[m] == UINT32_MAX ||
				    dist[m] + 1 != dist[s->switches[sw].node])
					continue;
				if (used == cap) {
					cap *= 2;
					s->route_ports =
						realloc(s->route_ports, cap * sizeof(uint32_t));
					if (!s->route_ports)
						exit(1);
				}
				s->route_ports[used++] = port;
				s->route_n[key]++;
			}
		}
	}
	s->n_route_ports = used;
	free(dist);
	free(queue);
}

static int build_topology(struct sim *s)
{
	const struct sim_config *c = s->cfg;
	uint32_t n_hosts, n_sw, max_ports;

	if (c->topo == SIM_TOPO_SINGLE) {
		n_hosts = c->hosts;
		n_sw = 1;
		max_ports = 2 * n_hosts;
	} else {
		n_hosts = c->leaves * c->hosts_per_leaf;
		n_sw = c->leaves + c->spines;
		max_ports = 2 * n_hosts + 2 * c->leaves * c->spines;
	}
	s->n_hosts = n_hosts;
	s->n_switches = n_sw;
	s->nodes = sim_xcalloc(n_hosts + n_sw, sizeof(*s->nodes));
	s->ports = sim_xcalloc(max_ports, sizeof(*s->ports));
	s->hosts = sim_xcalloc(n_hosts, sizeof(*s->hosts));
	s->switches = sim_xcalloc(n_sw, sizeof(*s->switches));
	for (uint32_t h = 0; h < n_hosts; h++) {
		s->hosts[h].node = add_node(s, true, h, 1);
		s->hosts[h].port = s->nodes[s->hosts[h].node].first_port;
	}
	if (c->topo == SIM_TOPO_SINGLE) {
		s->switches[0].node = add_node(s, false, 0, n_hosts);
		for (uint32_t h = 0; h < n_hosts; h++)
			connect(s, s->hosts[h].node, s->switches[0].node, c->host_rate_bps);
	} else {
		for (uint32_t l = 0; l < c->leaves; l++)
			s->switches[l].node = add_node(s, false, l, c->hosts_per_leaf + c->spines);
		for (uint32_t sp = 0; sp < c->spines; sp++) {
			s->switches[c->leaves + sp].node =
				add_node(s, false, c->leaves + sp, c->leaves);
			s->switches[c->leaves + sp].tier = 1;
		}
		for (uint32_t h = 0; h < n_hosts; h++)
			connect(s, s->hosts[h].node, s->switches[h / c->hosts_per_leaf].node,
				c->host_rate_bps);
		for (uint32_t l = 0; l < c->leaves; l++)
			for (uint32_t sp = 0; sp < c->spines; sp++)
				connect(s, s->switches[l].node, s->switches[c->leaves + sp].node,
					c->fabric_rate_bps);
	}
	for (uint32_t p = 0; p < s->n_ports; p++)
		for (int q = 0; q < SIM_N_PRIO; q++)
			s->ports[p].q[q].head = s->ports[p].q[q].tail = SIM_NONE;
	for (uint32_t sw = 0; sw < n_sw; sw++) {
		struct sim_switch *x = &s->switches[sw];
		const struct sim_node *nd = &s->nodes[x->node];
		uint64_t rate = 0;

		for (uint32_t k = 0; k < nd->n_ports; k++)
			if (s->ports[nd->first_port + k].rate_bps > rate)
				rate = s->ports[nd->first_port + k].rate_bps;
		x->buffer_bytes = c->buffer_bytes;
		/* Headroom: what arrives after XOFF is sent (a round trip of the
		 * link plus a frame in flight each way). */
		x->headroom_bytes_per_port =
			(uint64_t)(c->headroom_bdp *
				   ((double)rate * 2 * (double)c->link_delay_ps / 8e12 +
				    2.0 * (c->mtu_bytes + SIM_HDR_BYTES + SIM_INT_BYTES)));
		/* ...for each lossless class on every port. */
		x->headroom_total = x->headroom_bytes_per_port * nd->n_ports *
				    (c->short_prio_bytes ? SIM_N_LOSSLESS : 1);
		if (x->headroom_total >= x->buffer_bytes) {
			fprintf(stderr, "tita-sim: switch buffer smaller than its PFC headroom\n");
			return -EINVAL;
		}
		x->rng = c->seed ^ (0x5851f42d4c957f2dull * (sw + 1));
		x->ecmp_salt = mix64(c->seed ^ mix64(0x9e3779b97f4a7c15ull * (sw + 1)));
	}
	build_routes(s);
	return 0;
}

/* Unloaded one-way latency from a to b: propagation plus store-and-forward
 * of one full packet at every hop. */
static uint64_t path_latency_ps(const struct sim *s, uint32_t a, uint32_t b, uint32_t bytes)
{
	const struct sim_config *c = s->cfg;
	uint32_t hops = 2;

	if (c->topo == SIM_TOPO_LEAFSPINE && a / c->hosts_per_leaf != b / c->hosts_per_leaf) {
		return 4 * c->link_delay_ps + 2 * sim_ser_ps(bytes, c->host_rate_bps) +
		       2 * sim_ser_ps(bytes, c->fabric_rate_bps);
	}
	return hops * (c->link_delay_ps + sim_ser_ps(bytes, c->host_rate_bps));
}

uint64_t sim_path_latency_ps(const struct sim *s, uint32_t a, uint32_t b, uint32_t bytes);
uint64_t sim_path_latency_ps(const struct sim *s, uint32_t a, uint32_t b, uint32_t bytes)
{
	return path_latency_ps(s, a, b, bytes);
}

int sim_init(struct sim *s, const struct sim_config *cfg, const struct sim_cc_ops *cc,
	     const char *out_dir)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->cc = cc;
	s->rng = cfg->seed;
	s->free_pkt = SIM_NONE;
	s->free_msg = SIM_NONE;
	s->fail_ps = UINT64_MAX;
	if (sim_eventq_init(&s->evq, 1 << 12) < 0)
		return -ENOMEM;
	/* A packet's hops and PFC frames in one heap, timers in the other. */
	sim_eventq_set_slow(&s->evq,
			    ~(1u << SIM_EV_ARRIVE | 1u << SIM_EV_TXDONE | 1u << SIM_EV_PFC));
	err = build_topology(s);
	if (err)
		return err;
	s->first_switch_port = s->nodes[s->switches[0].node].first_port;
	s->portq_hist_ps = sim_xcalloc((size_t)(s->n_ports - s->first_switch_port) * SIM_PORTQ_BINS,
				       sizeof(uint64_t));
	for (uint32_t k = 0; k < cfg->n_flows; k++) {
		const struct sim_flow_spec *fs = &cfg->flows[k];

		if (fs->src >= s->n_hosts || fs->dst >= s->n_hosts || fs->src == fs->dst) {
			fprintf(stderr, "tita-sim: flow %u: hosts %u -> %u outside 0..%u\n", k,
				fs->src, fs->dst, s->n_hosts - 1);
			return -EINVAL;
		}
	}
	{
		/* The longest unloaded RTT between any two hosts: HPCC's T. */
		uint32_t far = cfg->topo == SIM_TOPO_LEAFSPINE ? cfg->hosts_per_leaf : 1;
		uint32_t mtu_wire = cfg->mtu_bytes + SIM_HDR_BYTES + SIM_INT_BYTES;

		if (far >= s->n_hosts)
			far = 1;
		s->base_rtt_ps = path_latency_ps(s, 0, far, mtu_wire) +
				 path_latency_ps(s, far, 0, SIM_ACK_BYTES + SIM_INT_BYTES);
	}
	dcqcn_params_nvidia(&s->dcqcn);
	hpcc_params_default(&s->hpcc, cfg->host_rate_bps);
	if (cc->init)
		cc->init(s);
	if (cfg->monitor_host < s->n_hosts)
		s->monitor_port = s->ports[s->hosts[cfg->monitor_host].port].peer;
	else
		s->monitor_port = SIM_NONE;
	s->q_hist_n = (uint32_t)(cfg->buffer_bytes / 1024 + 1);
	s->q_hist_ps = sim_xcalloc(s->q_hist_n, sizeof(*s->q_hist_ps));

	/* flows and their dependencies */
	s->n_flows = cfg->n_flows;
	s->flows = sim_xcalloc(s->n_flows, sizeof(*s->flows));
	{
		uint32_t n_dep = 0, *fill;

		for (uint32_t k = 0; k < s->n_flows; k++)
			for (uint32_t d = 0; d < cfg->flows[k].n_dep; d++)
				s->flows[cfg->flows[k].dep[d]].n_dependents++;
		for (uint32_t k = 0; k < s->n_flows; k++) {
			s->flows[k].first_dependent = n_dep;
			n_dep += s->flows[k].n_dependents;
		}
		s->dependents = sim_xcalloc(n_dep, sizeof(uint32_t));
		fill = sim_xcalloc(s->n_flows, sizeof(uint32_t));
		for (uint32_t k = 0; k < s->n_flows; k++)
			for (uint32_t d = 0; d < cfg->flows[k].n_dep; d++) {
				uint32_t up = cfg->flows[k].dep[d];

				s->dependents[s->flows[up].first_dependent + fill[up]++] = k;
			}
		free(fill);
	}
	for (uint32_t k = 0; k < s->n_flows; k++) {
		const struct sim_flow_spec *fs = &cfg->flows[k];
		struct sim_flow *f = &s->flows[k];

		f->id = k;
		f->src = fs->src;
		f->dst = fs->dst;
		f->job = fs->job;
		f->group = fs->group;
		f->timed = fs->size_bytes == 0;
		f->size_bytes = f->timed ? UINT64_MAX : fs->size_bytes;
		f->stop_ps = fs->stop_ps;
		f->start_ps = fs->start_ps;
		f->line_bps = cfg->host_rate_bps;
		f->rate_bps = (double)cfg->host_rate_bps;
		f->deps_pending = fs->n_dep;
		f->sport = sim_flow_default_sport(cfg->seed, k);
		f->nak_for = f->rewound_to = UINT64_MAX;
		f->latest_start_ps = fs->latest_start_ps;
		if (!fs->n_dep)
			sim_schedule(s, fs->start_ps, SIM_EV_FLOW_START, k, 0);
	}
	s->fault_rng = mix64(cfg->seed ^ 0x6c6f737379ull);
	s->fault_base_bytes = sim_xcalloc(2 * (size_t)cfg->n_faults + 1, sizeof(uint64_t));
	s->fault_begin_ps = sim_xcalloc((size_t)cfg->n_faults + 1, sizeof(uint64_t));
	for (uint32_t k = 0; k < cfg->n_faults; k++) {
		s->fault_begin_ps[k] = UINT64_MAX;
		const struct sim_fault *ft = &cfg->faults[k];

		if (ft->kind >= SIM_FAULT_N_KINDS || (ft->on_host && ft->host >= s->n_hosts) ||
		    (!ft->on_host && (cfg->topo != SIM_TOPO_LEAFSPINE || ft->leaf >= cfg->leaves ||
				      ft->spine >= cfg->spines)) ||
		    (ft->kind == SIM_FAULT_LINK_DOWN && ft->on_host)) {
			fprintf(stderr, "tita-sim: fault %u: no such host or link\n", k);
			return -EINVAL;
		}
		sim_schedule(s, ft->at_ps,
			     ft->kind == SIM_FAULT_LINK_DOWN ? SIM_EV_LINK_DOWN : SIM_EV_FAULT, k,
			     0);
	}
	s->metrics_start_ps = UINT64_MAX;
	for (uint32_t k = 0; k < s->n_flows; k++)
		if (!cfg->flows[k].n_dep && cfg->flows[k].start_ps < s->metrics_start_ps)
			s->metrics_start_ps = cfg->flows[k].start_ps;
	s->q_last_change_ps = s->metrics_start_ps;
	{
		uint32_t n_prim = 0;

		for (uint32_t g = 0; g < cfg->n_groups; g++)
			if (cfg->groups[g].primary)
				n_prim = cfg->groups[g].n_flows;
		s->prim_win_bytes = sim_xcalloc(n_prim, sizeof(double));
	}
	if (cc->tita) {
		err = sim_tita_init(s);
		if (err)
			return err;
	}
	if (out_dir && cfg->trace_interval_ps) {
		char path[1024];

		snprintf(path, sizeof(path), "%s/queue.dat", out_dir);
		s->trace_q = fopen(path, "w");
		snprintf(path, sizeof(path), "%s/rate.dat", out_dir);
		s->trace_rate = fopen(path, "w");
		if (!s->trace_q || !s->trace_rate) {
			fprintf(stderr, "tita-sim: cannot write traces in %s: %m\n", out_dir);
			return -errno;
		}
		/* The first flows of the primary group (or of the run). */
		s->trace_ids = sim_xcalloc(cfg->trace_flows, sizeof(uint32_t));
		for (uint32_t g = 0; g < cfg->n_groups; g++) {
			const struct sim_group *gr = &cfg->groups[g];

			if (!gr->primary)
				continue;
			for (uint32_t k = 0; k < gr->n_flows && s->n_trace < cfg->trace_flows; k++)
				s->trace_ids[s->n_trace++] = gr->first_flow + k;
		}
		for (uint32_t k = 0; k < s->n_flows && s->n_trace < cfg->trace_flows; k++) {
			bool have = false;

			for (uint32_t j = 0; j < s->n_trace; j++)
				have |= s->trace_ids[j] == k;
			if (!have)
				s->trace_ids[s->n_trace++] = k;
		}
		fprintf(s->trace_q, "# time_us bottleneck_queue_kb\n");
		fprintf(s->trace_rate, "# time_us");
		for (uint32_t j = 0; j < s->n_trace; j++)
			fprintf(s->trace_rate, " flow%u_gbps", s->trace_ids[j]);
		fprintf(s->trace_rate, "\n");
		sim_schedule(s, s->metrics_start_ps, SIM_EV_TRACE, 0, 0);
	}
	return 0;
}

static void trace(struct sim *s)
{
	double dt = (double)s->cfg->trace_interval_ps;

	fprintf(s->trace_q, "%.3f %.3f\n", (double)s->now_ps / 1e6,
		s->monitor_port == SIM_NONE ?
			0 :
			(double)data_q_bytes(&s->ports[s->monitor_port]) / 1024);
	fprintf(s->trace_rate, "%.3f", (double)s->now_ps / 1e6);
	for (uint32_t j = 0; j < s->n_trace; j++) {
		struct sim_flow *f = &s->flows[s->trace_ids[j]];

		fprintf(s->trace_rate, " %.3f", (double)(f->rcvd_bytes - f->trace_rcvd) * 8e3 / dt);
		f->trace_rcvd = f->rcvd_bytes;
	}
	fprintf(s->trace_rate, "\n");
	if (!s->stop)
		sim_schedule(s, s->now_ps + s->cfg->trace_interval_ps, SIM_EV_TRACE, 0, 0);
}

static void dispatch(struct sim *s, const struct sim_event *ev)
{
	switch (sim_event_type(ev)) {
	case SIM_EV_ARRIVE: {
		const struct sim_port *pt = &s->ports[ev->a];

		if (pt->down)
			pkt_lost(s, ev->b); /* on the wire when the link failed */
		else if (pt->drop_p > 0 && tita_rng_unit(&s->fault_rng) < pt->drop_p)
			pkt_lost(s, ev->b); /* a lossy link */
		else if (s->nodes[pt->node].is_host)
			host_receive(s, s->nodes[pt->node].idx, ev->b);
		else
			switch_receive(s, ev->a, ev->b);
		break;
	}
	case SIM_EV_TXDONE: {
		struct sim_port *pt = &s->ports[ev->a];

		pt->busy = false;
		if (pt->down)
			break;
		if (s->nodes[pt->node].is_host)
			sim_nic_kick(s, s->nodes[pt->node].idx);
		else
			switch_kick(s, ev->a);
		break;
	}
	case SIM_EV_PFC: {
		struct sim_port *pt = &s->ports[ev->a];
		bool pause = ev->b & 1;
		unsigned cls = ev->b >> 1;

		if (pt->down)
			break;
		if (pause)
			pt->pause_rx_frames++;
		if (pause && !pt->paused[cls]) {
			pt->paused[cls] = true;
			pt->paused_since_ps[cls] = s->now_ps;
		} else if (!pause && pt->paused[cls]) {
			pt->paused[cls] = false;
			pt->paused_ps[cls] += s->now_ps - pt->paused_since_ps[cls];
			if (s->nodes[pt->node].is_host)
				sim_nic_kick(s, s->nodes[pt->node].idx);
			else
				switch_kick(s, ev->a);
		}
		break;
	}
	case SIM_EV_NIC_WAKE:
		if (s->hosts[ev->a].wake_ps == ev->t_ps) {
			s->hosts[ev->a].wake_ps = 0;
			sim_nic_kick(s, ev->a);
		}
		break;
	case SIM_EV_FLOW_START:
		/* A repeated collective stops starting runs at its end. */
		if (!s->flows[ev->a].latest_start_ps ||
		    s->now_ps <= s->flows[ev->a].latest_start_ps)
			flow_start(s, &s->flows[ev->a]);
		break;
	case SIM_EV_FLOW_STOP:
		flow_stop(s, &s->flows[ev->a]);
		break;
	case SIM_EV_CC_DEC:
		if (s->flows[ev->a].dec_sched_ps == ev->t_ps) {
			s->flows[ev->a].dec_sched_ps = 0;
			s->cc->on_event(s, &s->flows[ev->a], SIM_CC_TIMER_DEC, NULL, ev->t_ps);
		}
		break;
	case SIM_EV_CC_INC:
		if (s->flows[ev->a].inc_sched_ps == ev->t_ps) {
			s->flows[ev->a].inc_sched_ps = 0;
			s->cc->on_event(s, &s->flows[ev->a], SIM_CC_TIMER_INC, NULL, ev->t_ps);
		}
		break;
	case SIM_EV_TITA:
		if (s->hosts[ev->a].tita_wake_ps == ev->t_ps)
			sim_tita_on_event(s, ev->a);
		break;
	case SIM_EV_TRACE:
		trace(s);
		break;
	case SIM_EV_LINK_DOWN:
		link_down(s, &s->cfg->faults[ev->a]);
		break;
	case SIM_EV_RTO:
		rto_fire(s, &s->flows[ev->a]);
		break;
	case SIM_EV_FAULT:
		fault_begin(s, ev->a, ev->b);
		break;
	case SIM_EV_TELEMETRY:
		sim_telemetry_tick(s);
		break;
	}
}

static double now_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(const double *v, uint32_t n, double q)
{
	double idx;
	uint32_t lo;

	if (!n)
		return 0;
	idx = q * (double)(n - 1);
	lo = (uint32_t)idx;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (v[lo + 1] - v[lo]) * (idx - lo);
}

uint64_t sim_flow_wire_bytes(const struct sim *s, const struct sim_flow *f);
uint64_t sim_flow_wire_bytes(const struct sim *s, const struct sim_flow *f)
{
	uint64_t payload = f->timed ? f->sent_bytes : f->size_bytes;

	return payload + (payload + s->cfg->mtu_bytes - 1) / s->cfg->mtu_bytes *
				 (SIM_HDR_BYTES + (s->cc->int_stamp ? SIM_INT_BYTES : 0));
}

/* The line-rate bound of a group: its busiest resource (a host link, or the
 * aggregate uplinks/downlinks of a leaf) at full rate, plus the unloaded
 * latency; a ring all-reduce is a chain of steps, each bounded so. */
static double group_bound_ps(const struct sim *s, const struct sim_group *g)
{
	const struct sim_config *c = s->cfg;
	uint32_t nl = c->topo == SIM_TOPO_LEAFSPINE ? c->leaves : 0;
	double *load = sim_xcalloc(2 * s->n_hosts + 2 * nl + 1, sizeof(double));
	double worst = 0;
	uint64_t lat = 0;

	if (g->kind == SIM_GROUP_RING && g->ring_steps) {
		const struct sim_flow *f = &s->flows[g->first_flow];
		uint64_t wire = sim_flow_wire_bytes(s, f);
		uint64_t l = 0;

		for (uint32_t k = 0; k < g->ring_hosts; k++) {
			const struct sim_flow *x = &s->flows[g->first_flow + k];
			uint64_t pl =
				path_latency_ps(s, x->src, x->dst, c->mtu_bytes + SIM_HDR_BYTES);

			if (pl > l)
				l = pl;
		}
		free(load);
		return (double)g->ring_steps *
		       ((double)wire * 8e12 / (double)c->host_rate_bps + (double)l);
	}
	for (uint32_t k = 0; k < g->n_flows; k++) {
		const struct sim_flow *f = &s->flows[g->first_flow + k];
		double b = (double)sim_flow_wire_bytes(s, f) * 8e12;
		uint64_t pl = path_latency_ps(s, f->src, f->dst, c->mtu_bytes + SIM_HDR_BYTES);

		load[f->src] += b / (double)c->host_rate_bps;
		load[s->n_hosts + f->dst] += b / (double)c->host_rate_bps;
		if (nl && f->src / c->hosts_per_leaf != f->dst / c->hosts_per_leaf) {
			double cap = (double)c->fabric_rate_bps * c->spines;

			load[2 * s->n_hosts + f->src / c->hosts_per_leaf] += b / cap;
			load[2 * s->n_hosts + nl + f->dst / c->hosts_per_leaf] += b / cap;
		}
		if (pl > lat)
			lat = pl;
	}
	for (uint32_t k = 0; k < 2 * s->n_hosts + 2 * nl; k++)
		if (load[k] > worst)
			worst = load[k];
	free(load);
	return worst + (double)lat;
}

static void node_name(const struct sim *s, const struct sim_node *n, char *buf, size_t len)
{
	uint32_t leaves = s->cfg->topo == SIM_TOPO_LEAFSPINE ? s->cfg->leaves : 1;

	if (n->is_host)
		snprintf(buf, len, "host%u", n->idx);
	else if (s->cfg->topo == SIM_TOPO_SINGLE)
		snprintf(buf, len, "switch");
	else if (n->idx < leaves)
		snprintf(buf, len, "leaf%u", n->idx);
	else
		snprintf(buf, len, "spine%u", n->idx - leaves);
}

void sim_port_name(const struct sim *s, uint32_t port, char *buf, size_t len)
{
	const struct sim_node *a = &s->nodes[s->ports[port].node];
	const struct sim_node *b = &s->nodes[s->ports[s->ports[port].peer].node];
	bool up = a->is_host ||
		  (!b->is_host && s->switches[b->idx].tier > s->switches[a->idx].tier);
	char an[32], bn[32];

	node_name(s, a, an, sizeof(an));
	node_name(s, b, bn, sizeof(bn));
	snprintf(buf, len, "%s-%s-%s", an, up ? "up" : "down", bn);
}

/* Every switch egress's p99 while the primary group ran; pauses by tier. */
static void collect_ports(struct sim *s, struct sim_results *r)
{
	if (s->portq_on)
		portq_window(s, false);
	r->port_q_p99_max_port = SIM_NONE;
	for (uint32_t p = s->first_switch_port; p < s->n_ports; p++) {
		const uint64_t *h =
			&s->portq_hist_ps[(size_t)(p - s->first_switch_port) * SIM_PORTQ_BINS];
		const struct sim_port *pt = &s->ports[p];
		const struct sim_node *peer = &s->nodes[s->ports[pt->peer].node];
		uint64_t total = 0, acc = 0;
		uint32_t k;

		if (peer->is_host)
			r->pauses_leaf_host += pt->pause_frames;
		else if (s->switches[s->nodes[pt->node].idx].tier == 0)
			r->pauses_leaf_spine += pt->pause_frames;
		else
			r->pauses_spine_leaf += pt->pause_frames;
		for (k = 0; k < SIM_PORTQ_BINS; k++)
			total += h[k];
		if (!total)
			continue;
		for (k = 0; k < SIM_PORTQ_BINS; k++) {
			acc += h[k];
			if (acc * 100 >= total * 99)
				break;
		}
		if (r->port_q_p99_max_port == SIM_NONE ||
		    sim_portq_bin_bytes(k) > r->port_q_p99_max_bytes) {
			r->port_q_p99_max_bytes = sim_portq_bin_bytes(k);
			r->port_q_p99_max_port = p;
		}
	}
}

static void collect(struct sim *s, struct sim_results *r)
{
	const struct sim_config *c = s->cfg;
	uint64_t total = 0, acc = 0, end = s->now_ps;

	r->end_ps = end;
	r->flows_total = s->n_flows;
	r->flows_done = s->flows_done;
	r->monitor_port = s->monitor_port;
	/* bottleneck queue */
	if (s->monitor_port != SIM_NONE) {
		const struct sim_port *pt = &s->ports[s->monitor_port];
		uint64_t t50 = 0, t99 = 0;
		bool got50 = false, got99 = false;

		monitor_queue_change(s, pt);
		for (uint32_t k = 0; k < s->q_hist_n; k++)
			total += s->q_hist_ps[k];
		for (uint32_t k = 0; k < s->q_hist_n; k++) {
			acc += s->q_hist_ps[k];
			if (!got50 && acc * 2 >= total) {
				t50 = k;
				got50 = true;
			}
			if (!got99 && acc * 100 >= total * 99) {
				t99 = k;
				got99 = true;
			}
		}
		r->q_p50_bytes = t50 * 1024;
		r->q_p99_bytes = t99 * 1024;
		r->q_max_bytes = pt->max_q_bytes;
	}
	for (uint32_t p = 0; p < s->n_ports; p++) {
		const struct sim_port *pt = &s->ports[p];

		if (!s->nodes[pt->node].is_host && pt->max_q_bytes > r->fabric_q_max_bytes)
			r->fabric_q_max_bytes = pt->max_q_bytes;
		r->pause_frames += pt->pause_frames;
		for (unsigned cls = 0; cls < SIM_N_LOSSLESS; cls++)
			r->paused_ps += pt->paused_ps[cls] +
					(pt->paused[cls] ? end - pt->paused_since_ps[cls] : 0);
	}
	collect_ports(s, r);
	r->ecn_marks = s->ecn_marks;
	r->cnps = s->cnps;
	r->drops = s->drops;
	r->ctrl_bytes = s->ctrl_bytes;
	if (s->cc && s->cc->tita)
		sim_tita_results(s, r);
	r->lost_pkts = s->lost_pkts;
	r->retx_bytes = s->retx_bytes;
	r->naks = s->naks;
	r->rtos = s->rtos;
	sim_collect_goodput(s, r);
	for (uint32_t h = 0; h < s->n_hosts; h++) {
		const struct sim_host *x = &s->hosts[h];
		uint64_t b = x->ctrl_tx_bytes > x->ctrl_rx_bytes ? x->ctrl_tx_bytes :
								   x->ctrl_rx_bytes;
		double span = (double)(end - s->metrics_start_ps);
		double frac = span > 0 ? (double)b * 8e12 / ((double)c->host_rate_bps * span) : 0;

		if (frac > r->ctrl_frac)
			r->ctrl_frac = frac;
	}
	/* primary group */
	for (uint32_t g = 0; g < c->n_groups; g++) {
		const struct sim_group *gr = &c->groups[g];
		uint64_t first = UINT64_MAX, last = 0;
		double *sd = sim_xcalloc(gr->n_flows, sizeof(double));
		double sum = 0, sum2 = 0;
		uint32_t n = 0;

		if (!gr->primary) {
			free(sd);
			continue;
		}
		for (uint32_t k = 0; k < gr->n_flows; k++) {
			const struct sim_flow *f = &s->flows[gr->first_flow + k];

			if (f->start_ps < first)
				first = f->start_ps;
			if (f->finish_ps > last)
				last = f->finish_ps;
			if (f->finish_ps && !f->timed) {
				double ideal =
					(double)sim_flow_wire_bytes(s, f) * 8e12 /
						(double)c->host_rate_bps +
					(double)path_latency_ps(s, f->src, f->dst,
								c->mtu_bytes + SIM_HDR_BYTES);

				sd[n++] = (double)(f->finish_ps - f->start_ps) / ideal;
			}
		}
		qsort(sd, n, sizeof(double), cmp_double);
		r->n_fct = n;
		r->slowdown_p50 = percentile(sd, n, 0.5);
		r->slowdown_p99 = percentile(sd, n, 0.99);
		free(sd);
		r->completion_ps = last > first ? (double)(last - first) : 0;
		r->bound_ps = group_bound_ps(s, gr);
		/* fairness over the window where all of them ran */
		if (s->prim_win_end_ps > s->prim_win_start_ps + SIM_PS_PER_US) {
			for (uint32_t k = 0; k < gr->n_flows; k++) {
				sum += s->prim_win_bytes[k];
				sum2 += s->prim_win_bytes[k] * s->prim_win_bytes[k];
			}
		} else {
			for (uint32_t k = 0; k < gr->n_flows; k++) {
				const struct sim_flow *f = &s->flows[gr->first_flow + k];
				double tput = f->finish_ps > f->start_ps ?
						      (double)f->rcvd_bytes /
							      (double)(f->finish_ps - f->start_ps) :
						      0;

				sum += tput;
				sum2 += tput * tput;
			}
		}
		r->jain = sum2 > 0 ? sum * sum / ((double)gr->n_flows * sum2) : 0;
		/* bottleneck utilization while the group ran */
		if (s->monitor_port != SIM_NONE && last > first) {
			const struct sim_port *pt = &s->ports[s->monitor_port];

			r->util = (double)(s->mon_tx_end - s->mon_tx_start) * 8e12 /
				  ((double)pt->rate_bps * (double)(last - first));
		}
	}
}

int sim_run(struct sim *s, struct sim_results *ret)
{
	struct sim_event ev;
	double t0 = now_wall_s();
	bool mon_started = false;

	memset(ret, 0, sizeof(*ret));
	while (!s->stop && sim_eventq_pop(&s->evq, &ev)) {
		if (ev.t_ps > s->cfg->max_time_ps)
			break;
		s->now_ps = ev.t_ps;
		s->events++;
		dispatch(s, &ev);
		if (!mon_started && s->prim_started && s->monitor_port != SIM_NONE) {
			mon_started = true;
			s->mon_tx_start = s->ports[s->monitor_port].tx_data_bytes;
		}
	}
	if (s->monitor_port != SIM_NONE && !s->mon_tx_end)
		s->mon_tx_end = s->ports[s->monitor_port].tx_data_bytes;
	if (s->prim_finished == 0 || s->prim_win_end_ps == 0)
		s->prim_win_end_ps = s->prim_win_start_ps; /* no window: fall back */
	ret->events = s->events;
	ret->wall_s = now_wall_s() - t0;
	collect(s, ret);
	if (s->trace_q)
		fflush(s->trace_q);
	if (s->trace_rate)
		fflush(s->trace_rate);
	return 0;
}

void sim_fini(struct sim *s)
{
	if (s->tel)
		sim_telemetry_finish(s);
	if (s->cc && s->cc->tita)
		sim_tita_fini(s);
	for (uint32_t h = 0; h < s->n_hosts; h++)
		free(s->hosts[h].active);
	if (s->trace_q)
		fclose(s->trace_q);
	if (s->trace_rate)
		fclose(s->trace_rate);
	free(s->trace_ids);
	free(s->fault_base_bytes);
	free(s->fault_begin_ps);
	free(s->nodes);
	free(s->ports);
	free(s->hosts);
	free(s->switches);
	free(s->route_off);
	free(s->route_n);
	free(s->route_ports);
	free(s->flows);
	free(s->dependents);
	free(s->pkts);
	free(s->hops);
	free(s->msgs);
	free(s->msg_next);
	free(s->q_hist_ps);
	free(s->portq_hist_ps);
	free(s->gp_bytes);
	free(s->prim_win_bytes);
	sim_eventq_fini(&s->evq);
	memset(s, 0, sizeof(*s));
}

static void print_summary(const struct sim *s, const struct sim_results *r, FILE *out)
{
	const struct sim_config *c = s->cfg;

	fprintf(out, "scenario %s\n", c->name);
	fprintf(out, "cc %s\n", s->cc->name);
	fprintf(out, "seed %llu\n", (unsigned long long)c->seed);
	fprintf(out, "flows_done %llu/%llu\n", (unsigned long long)r->flows_done,
		(unsigned long long)r->flows_total);
	fprintf(out, "sim_time_us %.3f\n", (double)r->end_ps / 1e6);
	fprintf(out, "q_max_kb %.1f\n", (double)r->q_max_bytes / 1024);
	fprintf(out, "q_p50_kb %.1f\n", (double)r->q_p50_bytes / 1024);
	fprintf(out, "q_p99_kb %.1f\n", (double)r->q_p99_bytes / 1024);
	fprintf(out, "fabric_q_max_kb %.1f\n", (double)r->fabric_q_max_bytes / 1024);
	if (r->port_q_p99_max_port != SIM_NONE) {
		char name[80];

		sim_port_name(s, r->port_q_p99_max_port, name, sizeof(name));
		fprintf(out, "port_q_p99_max_kb %.1f\n", (double)r->port_q_p99_max_bytes / 1024);
		fprintf(out, "port_q_p99_max_at %s\n", name);
	}
	fprintf(out, "pause_frames %llu\n", (unsigned long long)r->pause_frames);
	fprintf(out, "pause_frames_leaf_host %llu\n", (unsigned long long)r->pauses_leaf_host);
	if (c->topo == SIM_TOPO_LEAFSPINE) {
		fprintf(out, "pause_frames_leaf_spine %llu\n",
			(unsigned long long)r->pauses_leaf_spine);
		fprintf(out, "pause_frames_spine_leaf %llu\n",
			(unsigned long long)r->pauses_spine_leaf);
	}
	fprintf(out, "paused_us %.3f\n", (double)r->paused_ps / 1e6);
	fprintf(out, "ecn_marks %llu\n", (unsigned long long)r->ecn_marks);
	fprintf(out, "cnps %llu\n", (unsigned long long)r->cnps);
	fprintf(out, "drops %llu\n", (unsigned long long)r->drops);
	fprintf(out, "util %.4f\n", r->util);
	fprintf(out, "jain %.4f\n", r->jain);
	fprintf(out, "completion_us %.3f\n", r->completion_ps / 1e6);
	fprintf(out, "bound_us %.3f\n", r->bound_ps / 1e6);
	fprintf(out, "completion_ratio %.4f\n",
		r->bound_ps > 0 ? r->completion_ps / r->bound_ps : 0);
	fprintf(out, "slowdown_p50 %.3f\n", r->slowdown_p50);
	fprintf(out, "slowdown_p99 %.3f\n", r->slowdown_p99);
	fprintf(out, "ctrl_bytes %llu\n", (unsigned long long)r->ctrl_bytes);
	fprintf(out, "ctrl_frac %.6f\n", r->ctrl_frac);
	if (s->cc->tita) {
		/* Per host per ms of simulated time (titad's second). */
		double per = r->end_ps > 0 ? 1e9 / ((double)r->end_ps * s->n_hosts) : 0;

		fprintf(out, "probes_host_ms %.3f\n", (double)r->probes * per);
		fprintf(out, "refresh_probes_host_ms %.3f\n", (double)r->probes_refresh * per);
		fprintf(out, "probes_deferred %llu\n", (unsigned long long)r->probes_deferred);
	}
	if (r->lost_pkts || r->failure) {
		fprintf(out, "lost_pkts %llu\n", (unsigned long long)r->lost_pkts);
		fprintf(out, "retx_bytes %llu\n", (unsigned long long)r->retx_bytes);
		fprintf(out, "naks %llu\n", (unsigned long long)r->naks);
		fprintf(out, "rto_fired %llu\n", (unsigned long long)r->rtos);
	}
	if (r->failure) {
		fprintf(out, "pre_fail_goodput_gbps %.3f\n", r->pre_fail_goodput_bps / 1e9);
		fprintf(out, "fail_capacity_gbps %.3f\n", r->fail_capacity_bps / 1e9);
		fprintf(out, "recovery_us %.3f\n", r->recovery_ps < 0 ? -1 : r->recovery_ps / 1e6);
		fprintf(out, "max_stall_us %.3f\n", (double)r->max_stall_ps / 1e6);
		fprintf(out, "stuck_flows %u\n", r->stuck_flows);
	}
	if (r->n_jobs > 1) {
		fprintf(out, "shared_us %.3f\n", r->shared_ps / 1e6);
		for (uint32_t j = 0; j < r->n_jobs; j++)
			fprintf(out, "job%u_gbps %.3f\n", r->job_of[j], r->job_bps[j] / 1e9);
		fprintf(out, "job_ratio %.4f\n",
			r->job_bps[1] > 0 ? r->job_bps[0] / r->job_bps[1] : 0);
	}
	fprintf(out, "events %llu\n", (unsigned long long)r->events);
}

int sim_write_results(const struct sim *s, const struct sim_results *r, const char *out_dir,
		      FILE *out)
{
	const struct sim_config *c = s->cfg;

	if (out_dir) {
		char path[1024];
		FILE *f;

		snprintf(path, sizeof(path), "%s/fct.dat", out_dir);
		f = fopen(path, "w");
		if (!f)
			return -errno;
		fprintf(f, "# flow group src dst size_bytes start_us fct_us slowdown retx_bytes\n");
		for (uint32_t k = 0; k < s->n_flows; k++) {
			const struct sim_flow *fl = &s->flows[k];
			double ideal, fct;

			if (!fl->finish_ps || fl->timed)
				continue;
			ideal = (double)sim_flow_wire_bytes(s, fl) * 8e12 /
					(double)c->host_rate_bps +
				(double)path_latency_ps(s, fl->src, fl->dst,
							c->mtu_bytes + SIM_HDR_BYTES);
			fct = (double)(fl->finish_ps - fl->start_ps);
			fprintf(f, "%u %s %u %u %llu %.3f %.3f %.4f %llu\n", k,
				c->groups[fl->group].name, fl->src, fl->dst,
				(unsigned long long)fl->size_bytes, (double)fl->start_ps / 1e6,
				fct / 1e6, fct / ideal, (unsigned long long)fl->retx_bytes);
		}
		fclose(f);
		snprintf(path, sizeof(path), "%s/goodput.dat", out_dir);
		if (sim_write_goodput(s, path) < 0)
			return -errno;
		/* summary.txt holds only what the seed determines (no wall
		 * clock), so two runs can be compared byte for byte. */
		snprintf(path, sizeof(path), "%s/summary.txt", out_dir);
		f = fopen(path, "w");
		if (!f)
			return -errno;
		print_summary(s, r, f);
		fclose(f);
	}
	if (out) {
		print_summary(s, r, out);
		fprintf(out, "wall_s %.3f\n", r->wall_s);
		fprintf(out, "events_per_s %.0f\n",
			r->wall_s > 0 ? (double)r->events / r->wall_s : 0);
	}
	return 0;
}
