/* SPDX-License-Identifier: MIT */
/*
 * QP discovery (qp-scan-interval): scans the RDMA devices' QPs, hands the
 * jobs they belong to to the engine's job table, and keeps the last scan
 * for titactl and the metrics.
 */
#ifndef TITAD_DISCOVERY_H
#define TITAD_DISCOVERY_H

#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "event.h"
#include "qpscan.h"

struct titad_discovery;

/* Starts scanning when cfg says so. A scanner that cannot be made is
 * logged and leaves titad without discovery, never without the rest: this
 * fails only for want of memory or timers. */
int titad_discovery_open(struct titad_discovery **ret, struct tita_event *ev,
			 const struct titad_config *cfg, struct titad_engine *engine,
			 uint64_t now_ns, char *err, size_t err_size);
struct titad_discovery *titad_discovery_close(struct titad_discovery *d);
/* Start, stop or re-time it after a reload. */
void titad_discovery_reconfigure(struct titad_discovery *d, const struct titad_config *cfg,
				 uint64_t now_ns);

/* "off", or tita_qpscan_state_name() of the last scan. */
const char *titad_discovery_state(const struct titad_discovery *d);
/* The last scan, valid until the event loop's next batch. */
const struct tita_qpscan_qp *titad_discovery_qps(const struct titad_discovery *d, size_t *ret_n);
const struct tita_rdma_dev *titad_discovery_devices(const struct titad_discovery *d, size_t *ret_n);
void titad_discovery_stats(const struct titad_discovery *d, struct tita_qpscan_stats *ret);
/* Scans run since titad started, and when the last one ran (0: never). */
uint64_t titad_discovery_scans(const struct titad_discovery *d);
uint64_t titad_discovery_last_ns(const struct titad_discovery *d);

#endif /* TITAD_DISCOVERY_H */
