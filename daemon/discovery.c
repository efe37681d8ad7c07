// SPDX-License-Identifier: MIT
/*
 * QP discovery (see discovery.h), run from its own timer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "log.h"
#include "units.h"

/* Without RDMA netlink or devices, a scan finds nothing until a driver
 * loads: look again this often, not every interval. */
#define ABSENT_RETRY_NS (30 * TITA_NSEC_PER_SEC)

struct titad_discovery {
	struct tita_event *ev;
	struct titad_engine *engine;
	uint64_t interval_ns; /* 0: off */
	char proc_root[TITAD_PATH_MAX];

	struct tita_qpscan *scan; /* NULL while never on */
	struct tita_timer *t_scan;
	uint64_t last_ns; /* when the last scan ran; 0: never */
	uint64_t scans; /* across reloads */
	int logged; /* the enum tita_qpscan_state last logged, or -1 */
	uint64_t errors_logged;
	struct tita_ratelimit rl;
};

const char *titad_discovery_state(const struct titad_discovery *d)
{
	struct tita_qpscan_stats st;

	if (!d || !d->scan || !d->interval_ns)
		return "off";
	tita_qpscan_stats(d->scan, &st);
	return tita_qpscan_state_name(st.state);
}

const struct tita_qpscan_qp *titad_discovery_qps(const struct titad_discovery *d, size_t *ret_n)
{
	*ret_n = 0;
	return d && d->scan ? tita_qpscan_qps(d->scan, ret_n) : NULL;
}

const struct tita_rdma_dev *titad_discovery_devices(const struct titad_discovery *d, size_t *ret_n)
{
	*ret_n = 0;
	return d && d->scan ? tita_qpscan_devices(d->scan, ret_n) : NULL;
}

void titad_discovery_stats(const struct titad_discovery *d, struct tita_qpscan_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (d && d->scan)
		tita_qpscan_stats(d->scan, ret);
}

uint64_t titad_discovery_scans(const struct titad_discovery *d)
{
	return d ? d->scans : 0;
}

uint64_t titad_discovery_last_ns(const struct titad_discovery *d)
{
	return d ? d->last_ns : 0;
}

/* What changed since the last scan, once: absence at notice level (it is
 * how most hosts without RDMA look), failures as warnings. */
static void report(struct titad_discovery *d, int r, const struct tita_qpscan_stats *st,
		   uint64_t now_ns)
{
	uint64_t errors = 0, held;

	for (int e = 0; e < TITA_QPSCAN_E_COUNT; e++)
		errors += st->errors[e];
	if ((int)st->state != d->logged) {
		d->logged = (int)st->state;
		switch (st->state) {
		case TITA_QPSCAN_NO_NETLINK:
			log_notice("QP discovery: the kernel has no RDMA netlink (ib_core is not "
				   "loaded): no QPs to list; looking again every %llus",
				   (unsigned long long)(ABSENT_RETRY_NS / TITA_NSEC_PER_SEC));
			break;
		case TITA_QPSCAN_NO_DEVICES:
			log_notice("QP discovery: no RDMA device; looking again every %llus",
				   (unsigned long long)(ABSENT_RETRY_NS / TITA_NSEC_PER_SEC));
			break;
		case TITA_QPSCAN_FAILED:
			log_warning("QP discovery: listing the RDMA devices: %s", strerror(-r));
			break;
		case TITA_QPSCAN_OK:
			log_notice("QP discovery: %u RDMA device(s), %u QP(s) of %u process(es)",
				   st->devices, st->qps_found, st->pids);
			break;
		default:
			break;
		}
	}
	/* Dumps and /proc reads that failed: counted in the metrics, said
	 * at most a few times a minute. */
	if (errors > d->errors_logged && st->last_error &&
	    tita_ratelimit_ok(&d->rl, now_ns, 60 * TITA_NSEC_PER_SEC, 5, &held)) {
		log_warning("QP discovery: %llu error(s) since the last report, the last: %s",
			    (unsigned long long)(errors - d->errors_logged),
			    strerror(-st->last_error));
		d->errors_logged = errors;
	}
}

static void register_jobs(struct titad_discovery *d)
{
	size_t n = 0;
	const struct tita_qpscan_job *jobs = d->scan ? tita_qpscan_jobs(d->scan, &n) : NULL;

	titad_engine_jobs_seen(d->engine, jobs, n, d->scans);
}

static bool absent(int state)
{
	return state == TITA_QPSCAN_NO_NETLINK || state == TITA_QPSCAN_NO_DEVICES;
}

static void on_scan(void *data, uint64_t now_ns)
{
	struct titad_discovery *d = data;
	struct tita_qpscan_stats st;
	uint64_t next;
	int r;

	if (!d->scan || !d->interval_ns)
		return;
	r = tita_qpscan_run(d->scan);
	d->last_ns = now_ns;
	d->scans++;
	tita_qpscan_stats(d->scan, &st);
	report(d, r, &st, now_ns);
	register_jobs(d);
	next = d->interval_ns;
	if (absent(st.state) && next < ABSENT_RETRY_NS)
		next = ABSENT_RETRY_NS;
	tita_event_timer_set(d->ev, d->t_scan, d->last_ns + next);
}

/*
 * Start, stop or re-time discovery after the config changed (first: at
 * start). A scanner that cannot be made is logged and leaves titad without
 * discovery, never without the rest.
 */
static void apply(struct titad_discovery *d, const struct titad_config *cfg, bool first,
		  uint64_t now_ns)
{
	struct tita_qpscan_conf qc = { .proc_root = cfg->proc_root };
	uint64_t old_interval_ns = first ? 0 : d->interval_ns, next;
	bool new_root = strcmp(d->proc_root, cfg->proc_root) != 0;

	d->interval_ns = cfg->qp_scan_interval_ns;
	snprintf(d->proc_root, sizeof(d->proc_root), "%s", cfg->proc_root);
	if (!d->interval_ns) {
		/* The scanner stays, its counters with it: only its result
		 * goes. */
		if (d->scan && old_interval_ns)
			log_notice("QP discovery: off");
		if (d->scan)
			tita_qpscan_clear(d->scan);
		d->logged = -1;
		d->last_ns = 0;
		tita_event_timer_set(d->ev, d->t_scan, TITA_TIME_NEVER);
		register_jobs(d);
		return;
	}
	if (!d->scan) {
		d->scan = tita_qpscan_new(&qc);
		if (!d->scan) {
			log_err("QP discovery: %s; jobs are not discovered", strerror(errno));
			return;
		}
	} else if (new_root) {
		tita_qpscan_set_proc_root(d->scan, d->proc_root);
	}
	if (!old_interval_ns || !d->last_ns) {
		d->logged = -1;
		tita_event_timer_set(d->ev, d->t_scan, now_ns);
		return;
	}
	if (old_interval_ns == d->interval_ns)
		return;
	/* A new interval counts from the last scan; a back-off stays. */
	next = d->last_ns + d->interval_ns;
	if (absent(d->logged) && next < d->last_ns + ABSENT_RETRY_NS)
		next = d->last_ns + ABSENT_RETRY_NS;
	tita_event_timer_set(d->ev, d->t_scan, next > now_ns ? next : now_ns);
}

int titad_discovery_open(struct titad_discovery **ret, struct tita_event *ev,
			 const struct titad_config *cfg, struct titad_engine *engine,
			 uint64_t now_ns, char *err, size_t err_size)
{
	struct titad_discovery *d = calloc(1, sizeof(*d));

	*ret = d;
	if (!d)
		return -ENOMEM;
	d->ev = ev;
	d->engine = engine;
	d->logged = -1;
	snprintf(d->proc_root, sizeof(d->proc_root), "%s", cfg->proc_root);
	d->t_scan = tita_event_timer_new(ev, on_scan, d);
	if (!d->t_scan) {
		snprintf(err, err_size, "QP discovery: too many timers");
		return -ENOSPC;
	}
	apply(d, cfg, true, now_ns);
	return 0;
}

void titad_discovery_reconfigure(struct titad_discovery *d, const struct titad_config *cfg,
				 uint64_t now_ns)
{
	apply(d, cfg, false, now_ns);
}

struct titad_discovery *titad_discovery_close(struct titad_discovery *d)
{
	if (!d)
		return NULL;
	if (d->t_scan)
		tita_event_timer_set(d->ev, d->t_scan, TITA_TIME_NEVER);
	tita_qpscan_free(d->scan);
	free(d);
	return NULL;
}
