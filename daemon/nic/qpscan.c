// SPDX-License-Identifier: MIT
/*
 * QP discovery (see qpscan.h). A scan fills the QP table straight from the
 * dump callbacks, then walks the user QPs in PID order, merging them with
 * the previous scan's PID cache (also in PID order) into the next one:
 * no hashing, no per-scan allocation, and a PID that left is forgotten.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroupjob.h"
#include "qpscan.h"

#define DEFAULT_MAX_QPS 8192
#define DEFAULT_MAX_PIDS 4096
#define DEFAULT_CACHE_SCANS 5

struct pid_entry {
	uint32_t pid;
	bool has_job;
	uint64_t start_ticks;
	uint64_t resolved_scan;
	char job[TITA_QPSCAN_JOB_NAME_MAX + 1];
};

struct tita_qpscan {
	struct tita_qpscan_source src;
	char proc_root[PATH_MAX];
	uint32_t max_qps, max_pids, cache_scans;

	struct tita_rdma_dev devs[TITA_QPSCAN_MAX_DEVS];
	size_t n_devs;
	uint32_t cur_dev; /* the device being dumped */

	struct tita_qpscan_qp *qps; /* max_qps */
	size_t n_qps;
	uint32_t *order; /* max_qps: user QPs by PID, during a scan */
	struct tita_qpscan_job *jobs; /* max_qps */
	size_t n_jobs;

	struct pid_entry *cache, *cache_next; /* max_pids each, by PID */
	size_t n_cache;

	struct tita_qpscan_stats st;
};

static int rdma_list_devices(void *ctx, struct tita_rdma_dev *out, size_t max, size_t *ret_n)
{
	(void)ctx;
	return tita_rdma_list_devices(out, max, ret_n);
}

static int rdma_list_qps(void *ctx, uint32_t dev_index, tita_rdma_qp_fn fn, void *fn_ctx,
			 struct tita_rdma_parse_stats *stats)
{
	(void)ctx;
	return tita_rdma_list_qps(dev_index, fn, fn_ctx, stats);
}

const struct tita_qpscan_source tita_qpscan_rdma_source = {
	.list_devices = rdma_list_devices,
	.list_qps = rdma_list_qps,
};

struct tita_qpscan *tita_qpscan_new(const struct tita_qpscan_conf *conf)
{
	struct tita_qpscan *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->src = conf && conf->source ? *conf->source : tita_qpscan_rdma_source;
	s->max_qps = conf && conf->max_qps ? conf->max_qps : DEFAULT_MAX_QPS;
	s->max_pids = conf && conf->max_pids ? conf->max_pids : DEFAULT_MAX_PIDS;
	s->cache_scans = conf && conf->cache_scans ? conf->cache_scans : DEFAULT_CACHE_SCANS;
	if (tita_qpscan_set_proc_root(s, conf && conf->proc_root ? conf->proc_root : "/proc")) {
		free(s);
		errno = ENAMETOOLONG;
		return NULL;
	}
	/* Large blocks come from mmap: pages nobody writes cost nothing. */
	s->qps = calloc(s->max_qps, sizeof(*s->qps));
	s->order = calloc(s->max_qps, sizeof(*s->order));
	s->jobs = calloc(s->max_qps, sizeof(*s->jobs));
	s->cache = calloc(s->max_pids, sizeof(*s->cache));
	s->cache_next = calloc(s->max_pids, sizeof(*s->cache_next));
	if (!s->qps || !s->order || !s->jobs || !s->cache || !s->cache_next) {
		tita_qpscan_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

struct tita_qpscan *tita_qpscan_free(struct tita_qpscan *s)
{
	if (!s)
		return NULL;
	free(s->qps);
	free(s->order);
	free(s->jobs);
	free(s->cache);
	free(s->cache_next);
	free(s);
	return NULL;
}

int tita_qpscan_set_proc_root(struct tita_qpscan *s, const char *proc_root)
{
	if (strlen(proc_root) >= sizeof(s->proc_root))
		return -ENAMETOOLONG;
	snprintf(s->proc_root, sizeof(s->proc_root), "%s", proc_root);
	s->n_cache = 0;
	return 0;
}

int tita_proc_start_time(const char *proc_root, uint32_t pid, uint64_t *ret_ticks)
{
	char path[PATH_MAX], buf[1024], *p, *end;
	unsigned long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		/* A process that exited between open and read. */
		return e == ESRCH ? -ESRCH : -e;
	}
	close(fd);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and ')', so the
	 * fields start after the last ')'. starttime is field 22, the 20th
	 * after comm. */
	p = strrchr(buf, ')');
	if (!p)
		return -EBADMSG;
	p++;
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		if (!*p)
			return -EBADMSG;
	}
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\n' && *end))
		return -EBADMSG;
	*ret_ticks = v;
	return 0;
}

static void count_error(struct tita_qpscan *s, enum tita_qpscan_error e, int err)
{
	s->st.errors[e]++;
	s->st.last_error = err;
}

static int on_qp(const struct tita_rdma_qp *qp, void *ctx)
{
	struct tita_qpscan *s = ctx;
	struct tita_qpscan_qp *e;

	s->st.qps_found++;
	if (s->n_qps >= s->max_qps) {
		s->st.qps_cut++;
		return 0;
	}
	e = &s->qps[s->n_qps++];
	memset(e, 0, sizeof(*e));
	e->dev = s->cur_dev;
	e->port = qp->port;
	e->lqpn = qp->lqpn;
	e->rqpn = qp->has_rqpn ? qp->rqpn : 0;
	e->has_rqpn = qp->has_rqpn;
	e->type = qp->type;
	e->state = qp->state;
	e->has_pid = qp->has_pid;
	e->pid = qp->has_pid ? qp->pid : 0;
	if (!qp->has_pid)
		snprintf(e->kern_name, sizeof(e->kern_name), "%s", qp->kern_name);
	return 0;
}

/*
 * The job of pid into *ret, from the previous scan's entry when it is
 * still good. false when the process is gone or could not be read: it has
 * no job this scan, and nothing is cached.
 */
static bool resolve(struct tita_qpscan *s, uint32_t pid, const struct pid_entry *old,
		    struct pid_entry *ret)
{
	struct tita_job_ident id;
	uint64_t start, again;
	int r;

	r = tita_proc_start_time(s->proc_root, pid, &start);
	if (r) {
		if (r != -ESRCH)
			count_error(s, TITA_QPSCAN_E_PROC, r);
		return false;
	}
	if (old && old->start_ticks == start && s->st.scans - old->resolved_scan < s->cache_scans) {
		*ret = *old;
		return true;
	}
	s->st.job_lookups++;
	r = tita_job_of_pid(s->proc_root, (pid_t)pid, &id);
	if (r == -ESRCH)
		return false;
	if (r && r != -ENOENT) {
		count_error(s, TITA_QPSCAN_E_PROC, r);
		return false;
	}
	/* The PID was reused between the two reads: the cgroup may be the
	 * newcomer's; the next scan will tell. */
	if (tita_proc_start_time(s->proc_root, pid, &again) || again != start)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->pid = pid;
	ret->start_ticks = start;
	ret->resolved_scan = s->st.scans;
	ret->has_job = r == 0;
	if (ret->has_job)
		tita_job_ident_name(&id, ret->job, sizeof(ret->job), TITA_QPSCAN_JOB_NAME_MAX);
	return true;
}

static int by_pid(const void *a, const void *b, void *ctx)
{
	const struct tita_qpscan_qp *qps = ctx;
	uint32_t pa = qps[*(const uint32_t *)a].pid, pb = qps[*(const uint32_t *)b].pid;

	return pa < pb ? -1 : pa > pb;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct tita_qpscan_job *)a)->name,
		      ((const struct tita_qpscan_job *)b)->name);
}

static int by_position(const void *va, const void *vb)
{
	const struct tita_qpscan_qp *a = va, *b = vb;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->lqpn < b->lqpn ? -1 : a->lqpn > b->lqpn;
}

static void resolve_jobs(struct tita_qpscan *s)
{
	struct pid_entry *swap;
	size_t n_user = 0, oi = 0, n_next = 0, n_jobs = 0, w;

	for (size_t i = 0; i < s->n_qps; i++)
		if (s->qps[i].has_pid)
			s->order[n_user++] = (uint32_t)i;
	qsort_r(s->order, n_user, sizeof(*s->order), by_pid, s->qps);

	for (size_t k = 0; k < n_user;) {
		uint32_t pid = s->qps[s->order[k]].pid;
		const struct pid_entry *old = NULL;
		struct pid_entry e;
		size_t end = k;
		bool known;

		while (end < n_user && s->qps[s->order[end]].pid == pid)
			end++;
		while (oi < s->n_cache && s->cache[oi].pid < pid)
			oi++;
		if (oi < s->n_cache && s->cache[oi].pid == pid)
			old = &s->cache[oi];
		s->st.pids++;
		known = resolve(s, pid, old, &e);
		if (known && n_next < s->max_pids)
			s->cache_next[n_next++] = e;
		if (known && e.has_job) {
			for (size_t i = k; i < end; i++)
				memcpy(s->qps[s->order[i]].job, e.job, sizeof(e.job));
			/* Distinct PIDs never outnumber the kept QPs. */
			memcpy(s->jobs[n_jobs].name, e.job, sizeof(e.job));
			s->jobs[n_jobs++].qps = (uint32_t)(end - k);
		}
		k = end;
	}
	swap = s->cache;
	s->cache = s->cache_next;
	s->cache_next = swap;
	s->n_cache = n_next;
	s->st.pids_cached = (uint32_t)n_next;

	/* Several processes of one job: one entry, their QPs summed. */
	qsort(s->jobs, n_jobs, sizeof(*s->jobs), by_name);
	w = 0;
	for (size_t i = 0; i < n_jobs; i++) {
		if (w && !strcmp(s->jobs[w - 1].name, s->jobs[i].name))
			s->jobs[w - 1].qps += s->jobs[i].qps;
		else
			s->jobs[w++] = s->jobs[i];
	}
	s->n_jobs = w;
}

void tita_qpscan_clear(struct tita_qpscan *s)
{
	s->n_devs = 0;
	s->n_qps = 0;
	s->n_jobs = 0;
	s->st.devices = 0;
	s->st.qps_found = 0;
	s->st.qps_cut = 0;
	s->st.pids = 0;
	s->st.pids_cached = 0;
	s->n_cache = 0;
}

int tita_qpscan_run(struct tita_qpscan *s)
{
	size_t n_devs = 0;
	int r;

	/* The cache survives into this scan; the result does not. */
	s->n_devs = 0;
	s->n_qps = 0;
	s->n_jobs = 0;
	s->st.devices = 0;
	s->st.qps_found = 0;
	s->st.qps_cut = 0;
	s->st.pids = 0;
	s->st.scans++;
	r = s->src.list_devices(s->src.ctx, s->devs, TITA_QPSCAN_MAX_DEVS, &n_devs);
	if (r == -EPROTONOSUPPORT || (!r && !n_devs)) {
		/* Absent, not an error: nothing to remember either. */
		s->st.state = r ? TITA_QPSCAN_NO_NETLINK : TITA_QPSCAN_NO_DEVICES;
		tita_qpscan_clear(s);
		return r ? r : -ENODEV;
	}
	if (r) {
		count_error(s, TITA_QPSCAN_E_DEVICES, r);
		s->st.state = TITA_QPSCAN_FAILED;
		return r;
	}
	if (n_devs > TITA_QPSCAN_MAX_DEVS)
		n_devs = TITA_QPSCAN_MAX_DEVS;
	s->n_devs = n_devs;
	s->st.devices = (uint32_t)n_devs;
	for (size_t i = 0; i < n_devs; i++) {
		struct tita_rdma_parse_stats ps = { 0 };

		s->cur_dev = (uint32_t)i;
		r = s->src.list_qps(s->src.ctx, s->devs[i].index, on_qp, s, &ps);
		if (ps.skipped) {
			s->st.errors[TITA_QPSCAN_E_MALFORMED] += ps.skipped;
			s->st.last_error = -EBADMSG;
		}
		/* A device can go away between the two dumps: its QPs are
		 * what it sent, and the next scan will not see it. */
		if (r)
			count_error(s, TITA_QPSCAN_E_QPS, r);
	}
	resolve_jobs(s);
	qsort(s->qps, s->n_qps, sizeof(*s->qps), by_position);
	s->st.state = TITA_QPSCAN_OK;
	return 0;
}

const struct tita_qpscan_qp *tita_qpscan_qps(const struct tita_qpscan *s, size_t *ret_n)
{
	*ret_n = s->n_qps;
	return s->qps;
}

const struct tita_rdma_dev *tita_qpscan_devices(const struct tita_qpscan *s, size_t *ret_n)
{
	*ret_n = s->n_devs;
	return s->devs;
}

const struct tita_qpscan_job *tita_qpscan_jobs(const struct tita_qpscan *s, size_t *ret_n)
{
	*ret_n = s->n_jobs;
	return s->jobs;
}

void tita_qpscan_stats(const struct tita_qpscan *s, struct tita_qpscan_stats *ret)
{
	*ret = s->st;
}

const char *tita_qpscan_state_name(enum tita_qpscan_state st)
{
	switch (st) {
	case TITA_QPSCAN_NEVER:
		return "not_scanned";
	case TITA_QPSCAN_OK:
		return "ok";
	case TITA_QPSCAN_NO_NETLINK:
		return "no_rdma_netlink";
	case TITA_QPSCAN_NO_DEVICES:
		return "no_devices";
	case TITA_QPSCAN_FAILED:
		return "failed";
	}
	return "?";
}

const char *tita_qpscan_error_name(enum tita_qpscan_error e)
{
	static const char *const names[TITA_QPSCAN_E_COUNT] = { "devices", "qps", "malformed",
								"proc" };

	return e < TITA_QPSCAN_E_COUNT ? names[e] : "?";
}
