/* SPDX-License-Identifier: MIT */
/*
 * QP discovery (qp-scan-interval): scans the RDMA devices' QPs, hands the
 * jobs they belong to to the engine's job table, and keeps the last scan
 * for titactl and the metrics.
 *
 * A scan of a GPU node's QPs (tens of thousands, a netlink dump per
 * device and a /proc read per new process) is too long for the event
 * loop's 1 ms budget, so it runs on a worker thread of its own, with its
 * own scanner: the loop asks for a scan from a timer, and takes the
 * finished result as an immutable snapshot (its QPs, devices, jobs,
 * counters, and the per-series QP counts the metrics print), in one
 * pointer swap when the worker says it is done.
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

/* The last scan's QPs counted by (device, type, state, job), sorted so. */
struct titad_qp_series {
	uint32_t dev;
	uint8_t type, state;
	const char *job;
	uint32_t count;
};
const struct titad_qp_series *titad_discovery_series(const struct titad_discovery *d,
						     size_t *ret_n);
const struct tita_rdma_dev *titad_discovery_devices(const struct titad_discovery *d, size_t *ret_n);
void titad_discovery_stats(const struct titad_discovery *d, struct tita_qpscan_stats *ret);
/* Scans run since titad started, and when the last one ran (0: never). */
uint64_t titad_discovery_scans(const struct titad_discovery *d);
uint64_t titad_discovery_last_ns(const struct titad_discovery *d);

/* For tests and the benchmark: a scanner of this source instead of RDMA
 * netlink (before titad_discovery_open()), and waiting (up to timeout_ms)
 * for the scan under way to be taken in. */
void titad_discovery_set_source(const struct tita_qpscan_source *src);
int titad_discovery_wait(struct titad_discovery *d, int timeout_ms);

#endif /* TITAD_DISCOVERY_H */
