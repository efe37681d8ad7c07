// SPDX-License-Identifier: MIT
/*
 * QP discovery (see discovery.h): the loop side asks for scans and takes
 * their snapshots; the worker thread scans.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "discovery.h"
#include "log.h"
#include "units.h"

/* Without RDMA netlink or devices, a scan finds nothing until a driver
 * loads: look again this often, not every interval. */
#define ABSENT_RETRY_NS (30 * TITA_NSEC_PER_SEC)
/* QPs a scan keeps: a GPU node with 8 NICs and a large job holds tens of
 * thousands. Pages no scan writes cost no memory. */
#define MAX_QPS 131072

/* One scan's result: written by the worker, then read-only. */
struct snapshot {
	int r; /* tita_qpscan_run()'s */
	struct tita_qpscan_stats st;
	size_t n_qps, n_devs, n_jobs, n_series;
	struct tita_qpscan_qp *qps;
	struct tita_rdma_dev *devs;
	struct tita_qpscan_job *jobs;
	struct titad_qp_series *series;
};

struct titad_discovery {
	struct tita_event *ev;
	struct titad_engine *engine;
	uint64_t interval_ns; /* 0: off */
	char proc_root[TITAD_PATH_MAX];

	struct tita_timer *t_scan;
	struct snapshot *snap; /* the last scan taken in, or NULL */
	bool busy; /* a scan was asked for and is not taken in yet */
	uint64_t asked_ns; /* when it was asked for: the scan's time */
	uint64_t last_ns; /* when the last scan taken in ran; 0: never */
	uint64_t scans; /* across reloads */
	int logged; /* the enum tita_qpscan_state last logged, or -1 */
	uint64_t errors_logged;
	struct tita_ratelimit rl;

	/* The worker. */
	pthread_t thread;
	bool thread_started;
	int done_fd; /* eventfd: the worker has a snapshot */
	struct tita_event_source *done_src;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: */
	bool asked, stop, clear;
	char worker_proc_root[TITAD_PATH_MAX];
	struct snapshot *ready;
	int worker_error; /* -errno: the scanner could not be made */
};

static const struct tita_qpscan_source *test_source;

void titad_discovery_set_source(const struct tita_qpscan_source *src)
{
	test_source = src;
}

static struct snapshot *snapshot_free(struct snapshot *s)
{
	void *parts[] = { s ? s->qps : NULL, s ? s->devs : NULL, s ? s->jobs : NULL,
			  s ? s->series : NULL, s };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		free(parts[i]);
	return NULL;
}

/* Series order: device, type, state (one key), then the job's name. */
static uint64_t series_key(const struct titad_qp_series *s)
{
	return (uint64_t)s->dev << 16 | (uint64_t)s->type << 8 | s->state;
}

static int series_cmp(const void *va, const void *vb)
{
	const struct titad_qp_series *a = va, *b = vb;
	uint64_t ka = series_key(a), kb = series_key(b);

	return ka != kb ? (ka < kb ? -1 : 1) : strcmp(a->job, b->job);
}

/* The worker's copy of the scanner's result, with its series counted. */
static struct snapshot *snapshot_take(struct tita_qpscan *scan, int r)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	const struct tita_qpscan_qp *qps;
	const struct tita_rdma_dev *devs;
	const struct tita_qpscan_job *jobs;
	size_t n_ser = 0;

	if (!s)
		return NULL;
	s->r = r;
	tita_qpscan_stats(scan, &s->st);
	qps = tita_qpscan_qps(scan, &s->n_qps);
	devs = tita_qpscan_devices(scan, &s->n_devs);
	jobs = tita_qpscan_jobs(scan, &s->n_jobs);
	s->qps = malloc((s->n_qps ? s->n_qps : 1) * sizeof(*s->qps));
	s->devs = malloc((s->n_devs ? s->n_devs : 1) * sizeof(*s->devs));
	s->jobs = malloc((s->n_jobs ? s->n_jobs : 1) * sizeof(*s->jobs));
	s->series = malloc((s->n_qps ? s->n_qps : 1) * sizeof(*s->series));
	if (!s->qps || !s->devs || !s->jobs || !s->series)
		return snapshot_free(s);
	memcpy(s->qps, qps, s->n_qps * sizeof(*s->qps));
	memcpy(s->devs, devs, s->n_devs * sizeof(*s->devs));
	memcpy(s->jobs, jobs, s->n_jobs * sizeof(*s->jobs));
	for (size_t i = 0; i < s->n_qps; i++)
		s->series[i] = (struct titad_qp_series){ s->qps[i].dev, s->qps[i].type,
							 s->qps[i].state, s->qps[i].job, 1 };
	qsort(s->series, s->n_qps, sizeof(*s->series), series_cmp);
	for (size_t i = 0; i < s->n_qps; i++) {
		if (n_ser && !series_cmp(&s->series[n_ser - 1], &s->series[i]))
			s->series[n_ser - 1].count++;
		else
			s->series[n_ser++] = s->series[i];
	}
	s->n_series = n_ser;
	return s;
}

static void *worker(void *arg)
{
	struct titad_discovery *d = arg;
	struct tita_qpscan_conf qc = { .source = test_source, .max_qps = MAX_QPS };
	char root[TITAD_PATH_MAX];
	struct tita_qpscan *scan;
	uint64_t one = 1;

	pthread_mutex_lock(&d->lock);
	snprintf(root, sizeof(root), "%s", d->worker_proc_root);
	pthread_mutex_unlock(&d->lock);
	qc.proc_root = root;
	scan = tita_qpscan_new(&qc);
	pthread_mutex_lock(&d->lock);
	if (!scan)
		d->worker_error = -errno;
	for (;;) {
		struct snapshot *s;
		int r;

		while (!d->asked && !d->stop)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->stop || !scan)
			break;
		d->asked = false;
		if (strcmp(root, d->worker_proc_root)) {
			snprintf(root, sizeof(root), "%s", d->worker_proc_root);
			tita_qpscan_set_proc_root(scan, root);
		}
		if (d->clear) {
			d->clear = false;
			tita_qpscan_clear(scan);
		}
		pthread_mutex_unlock(&d->lock);
		r = tita_qpscan_run(scan);
		s = snapshot_take(scan, r);
		pthread_mutex_lock(&d->lock);
		snapshot_free(d->ready);
		d->ready = s;
		/* Cannot fail on an eventfd short of 2^64-1 pending. */
		if (write(d->done_fd, &one, sizeof(one)) != sizeof(one))
			d->worker_error = -errno;
	}
	pthread_mutex_unlock(&d->lock);
	tita_qpscan_free(scan);
	return NULL;
}

/* ---- the loop's side ------------------------------------------------------------------ */

const char *titad_discovery_state(const struct titad_discovery *d)
{
	if (!d || !d->interval_ns)
		return "off";
	return tita_qpscan_state_name(d->snap ? d->snap->st.state : TITA_QPSCAN_NEVER);
}

const struct tita_qpscan_qp *titad_discovery_qps(const struct titad_discovery *d, size_t *ret_n)
{
	*ret_n = d && d->snap ? d->snap->n_qps : 0;
	return *ret_n ? d->snap->qps : NULL;
}

const struct tita_rdma_dev *titad_discovery_devices(const struct titad_discovery *d, size_t *ret_n)
{
	*ret_n = d && d->snap ? d->snap->n_devs : 0;
	return *ret_n ? d->snap->devs : NULL;
}

const struct titad_qp_series *titad_discovery_series(const struct titad_discovery *d, size_t *ret_n)
{
	*ret_n = d && d->snap ? d->snap->n_series : 0;
	return *ret_n ? d->snap->series : NULL;
}

void titad_discovery_stats(const struct titad_discovery *d, struct tita_qpscan_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (d && d->snap)
		*ret = d->snap->st;
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
	titad_engine_jobs_seen(d->engine, d->snap ? d->snap->jobs : NULL,
			       d->snap ? d->snap->n_jobs : 0, d->scans);
}

static bool absent(int state)
{
	return state == TITA_QPSCAN_NO_NETLINK || state == TITA_QPSCAN_NO_DEVICES;
}

/* The timer: ask the worker for a scan (one at a time). */
static void on_scan(void *data, uint64_t now_ns)
{
	struct titad_discovery *d = data;

	if (!d->interval_ns || d->busy || !d->thread_started)
		return;
	d->busy = true;
	d->asked_ns = now_ns;
	pthread_mutex_lock(&d->lock);
	d->asked = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* The worker is done: its snapshot replaces the last one. */
static void on_done(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct titad_discovery *d = data;
	struct snapshot *s;
	uint64_t count, next;

	(void)events;
	if (read(fd, &count, sizeof(count)) != sizeof(count))
		return;
	pthread_mutex_lock(&d->lock);
	s = d->ready;
	d->ready = NULL;
	pthread_mutex_unlock(&d->lock);
	d->busy = false;
	if (!s)
		return;
	if (!d->interval_ns) { /* turned off meanwhile */
		snapshot_free(s);
		return;
	}
	snapshot_free(d->snap);
	d->snap = s;
	d->last_ns = d->asked_ns;
	d->scans++;
	report(d, s->r, &s->st, now_ns);
	register_jobs(d);
	next = d->interval_ns;
	if (absent(s->st.state) && next < ABSENT_RETRY_NS)
		next = ABSENT_RETRY_NS;
	next += d->last_ns;
	tita_event_timer_set(d->ev, d->t_scan, next > now_ns ? next : now_ns);
}

/*
 * Start, stop or re-time discovery after the config changed (first: at
 * start). A worker that cannot start is logged and leaves titad without
 * discovery, never without the rest.
 */
static void apply(struct titad_discovery *d, const struct titad_config *cfg, bool first,
		  uint64_t now_ns)
{
	uint64_t old_interval_ns = first ? 0 : d->interval_ns, next;

	d->interval_ns = cfg->qp_scan_interval_ns;
	snprintf(d->proc_root, sizeof(d->proc_root), "%s", cfg->proc_root);
	pthread_mutex_lock(&d->lock);
	snprintf(d->worker_proc_root, sizeof(d->worker_proc_root), "%s", cfg->proc_root);
	pthread_mutex_unlock(&d->lock);
	if (!d->interval_ns) {
		/* The worker keeps its counters; the result goes. */
		if (d->snap && old_interval_ns)
			log_notice("QP discovery: off");
		d->snap = snapshot_free(d->snap);
		pthread_mutex_lock(&d->lock);
		d->clear = true;
		pthread_mutex_unlock(&d->lock);
		d->logged = -1;
		d->last_ns = 0;
		tita_event_timer_set(d->ev, d->t_scan, TITA_TIME_NEVER);
		register_jobs(d);
		return;
	}
	if (!d->thread_started) {
		int r = pthread_create(&d->thread, NULL, worker, d);

		if (r) {
			log_err("QP discovery: cannot start its thread: %s; jobs are not discovered",
				strerror(r));
			return;
		}
		d->thread_started = true;
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
	d->done_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	snprintf(d->proc_root, sizeof(d->proc_root), "%s", cfg->proc_root);
	d->t_scan = tita_event_timer_new(ev, on_scan, d);
	if (!d->t_scan) {
		snprintf(err, err_size, "QP discovery: too many timers");
		return -ENOSPC;
	}
	d->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->done_fd < 0 ||
	    !(d->done_src = tita_event_fd_add(ev, d->done_fd, EPOLLIN, on_done, d))) {
		int e = errno;

		snprintf(err, err_size, "QP discovery: %s", strerror(e));
		return -e;
	}
	apply(d, cfg, true, now_ns);
	return 0;
}

void titad_discovery_reconfigure(struct titad_discovery *d, const struct titad_config *cfg,
				 uint64_t now_ns)
{
	apply(d, cfg, false, now_ns);
}

int titad_discovery_wait(struct titad_discovery *d, int timeout_ms)
{
	struct pollfd pfd = { .fd = d->done_fd, .events = POLLIN };

	if (!d->busy)
		return 0;
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	on_done(d, d->done_fd, POLLIN, tita_event_now(d->ev));
	return 0;
}

struct titad_discovery *titad_discovery_close(struct titad_discovery *d)
{
	if (!d)
		return NULL;
	if (d->thread_started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	if (d->t_scan)
		tita_event_timer_set(d->ev, d->t_scan, TITA_TIME_NEVER);
	tita_event_fd_del(d->ev, d->done_src);
	if (d->done_fd >= 0)
		close(d->done_fd);
	snapshot_free(d->ready);
	snapshot_free(d->snap);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
	return NULL;
}
