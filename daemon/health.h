/* SPDX-License-Identifier: MIT */
/*
 * titad's health evidence (issue 14): lib/health fed from what the engine
 * hands the controller each round, closed every [health] interval into a
 * snapshot that /metrics and `titactl health` show.
 *
 Each control pass (titad_health_samples()): the samples summed per pair.
 * Each health round of 10 ms (titad_health_window()): the sums joined with
 * the controller's pairs (the TX pairs' paced rates, the RX pairs' grants
 * and whether their senders asked for more) into lib/health; the join,
 * which copies the pair table, is done 10x less often than the passes.
 * Per interval (titad_health_end_interval()): who was heard from, the
 * NICs' pause counters, then the snapshot.
 *
 * Every entry point takes the event loop's now_ns; nothing here reads a
 * clock.
 */
#ifndef TITAD_HEALTH_H
#define TITAD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tita/ctl.h"
#include "tita/health.h"

/* Hellos come once a second (the peers' housekeeping): a peer whose pairs
 * ended sends nothing else, so silence shorter than a few hellos says
 * nothing about it. */
#define TITAD_HEALTH_HELLO_NS (1000ull * 1000 * 1000)

/* One port's NIC pause counters as read at an interval's end. */
struct titad_health_pause {
	bool known; /* the NIC tells (else the pause gauges are absent) */
	uint64_t tx_frames, rx_frames; /* cumulative */
};

struct titad_health;

/*
 * The accumulator for cfg's ports (addresses and line rates given in
 * ports/line_rates, n of them), the first interval starting at now_ns.
 * 0, or -errno with err.
 */
int titad_health_open(struct titad_health **ret, const struct titad_config *cfg,
		      const struct tita_addr *ports, const uint64_t *line_rates, uint32_t n,
		      uint64_t now_ns, char *err, size_t err_size);
struct titad_health *titad_health_close_all(struct titad_health *h);

/* A port's line rate changed (a reload). */
void titad_health_port_rate(struct titad_health *h, const struct tita_addr *local,
			    uint64_t line_rate_bps);

/*
 * Each control pass: the TX and RX samples the engine gave the controller,
 * summed per pair (TX: local, remote, job; RX: local, remote, as the
 * datapath measures a remote, not a job). tx_queued: the datapath's, which
 * counts bytes as they enter the pacer's queue (what left is what entered
 * less what the backlog grew by); tx_sent: a sensor's that counts what was
 * sent (the qp agents' completions).
 */
void titad_health_samples(struct titad_health *h, const struct tita_tx_sample *tx_queued,
			  size_t n_queued, const struct tita_tx_sample *tx_sent, size_t n_sent,
			  const struct tita_rx_sample *rx, size_t n_rx, uint64_t now_ns);
/* A health round (10 ms, or the control interval when longer) has passed:
 * time for titad_health_window(). */
bool titad_health_window_due(const struct titad_health *h, uint64_t now_ns);
/* The health round ends: its sums joined with the controller's pairs as
 * they are now (TX: the programmed rate; RX: every RX pair, what this host
 * grants it and whether the sender asks for at least that) into
 * lib/health, as one round at now_ns. Call it also just before
 * titad_health_end_interval(), so that intervals hold whole rounds. */
void titad_health_window(struct titad_health *h, const struct tita_pair_info *pairs, size_t n_pairs,
			 uint64_t now_ns);

/* What port local's NIC received (its port counters, which hardware RoCE
 * cannot bypass), as read. An interval in which the datapath saw less than
 * half of it makes the next interval's RX pairs claim no shortfall: their
 * bytes arrive where the datapath cannot count them. */
void titad_health_nic_rx(struct titad_health *h, const struct tita_addr *local,
			 uint64_t rx_packets);
/* Port i (as given at open) is blind to its RX traffic now. */
bool titad_health_rx_blind(const struct titad_health *h, uint32_t i);

/* A message or hello came from peer at heard_ns. */
void titad_health_heard(struct titad_health *h, const struct tita_addr *peer, uint64_t heard_ns);

/* End the interval at now_ns with each port's pause counters (pause[i]
 * for the i-th port given at open; NULL: none known): the snapshot is
 * kept for titad_health_snapshot(). 0 or -EINVAL (now_ns not after the
 * interval's start: the interval goes on). */
int titad_health_end_interval(struct titad_health *h, const struct titad_health_pause *pause,
			      uint64_t now_ns);

/* The last closed interval's snapshot, or NULL before the first. */
const struct tita_health_snapshot *titad_health_snapshot(const struct titad_health *h);
/* The interval's configured length. */
uint64_t titad_health_interval_ns(const struct titad_health *h);
/* Control passes fed since start. */
uint64_t titad_health_rounds(const struct titad_health *h);

#endif /* TITAD_HEALTH_H */
