// SPDX-License-Identifier: MIT
/*
 * The engine (see engine.h): the controller, the pacer and the job table,
 * and the glue of one control pass.
 *
 * One control pass (the round timer, on the controller's fixed cadence,
 * which the event loop's periodic timerfd keeps armed): read every port's
 * BPF counters, hand them to the controller as samples, run the round,
 * then program what it popped and send what it queued. Demands read from
 * the peer sockets are granted in the wake-up that read them (kick).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cgroupjob.h"
#include "engine.h"
#include "health.h"
#include "log.h"
#include "pacer_nic.h"
#include "units.h"

/* hw_counters: mlx5 refreshes them every `lifespan` (10 ms) at best, and
 * each read is a dozen sysfs files: every 100 ms is what they can tell. */
#define NIC_READ_INTERVAL_NS (100 * TITA_NSEC_PER_MSEC)

_Static_assert(TITA_QPSCAN_JOB_NAME_MAX == TITA_JOB_NAME_MAX,
	       "QP discovery names jobs as titactl does");

struct job {
	char name[TITA_JOB_NAME_MAX + 1];
	uint32_t id;
	bool in_config; /* has a [job] section (selector) */
	bool set_by_ctl; /* titactl changed its policy */
	bool discovered; /* added by QP discovery, nothing else names it */
	int traffic_class; /* dcb pacer: from its [job] section, or -1 */
	uint32_t qps; /* its QPs in the last QP scan */
	uint64_t last_seen_scan; /* the last QP scan that saw it (0: none) */
	uint32_t n_dst;
	struct tita_prefix dst[TITAD_MAX_JOB_DST];
};

struct titad_engine {
	struct tita_event *ev;
	struct titad_ports *ports;
	struct tita_ctl *ctl;
	struct tita_pacer *pacer;
	struct tita_event_source *pacer_src; /* the back end's fd, when it has one */
	const struct titad_engine_out *out; /* NULL until set */
	void *out_ctx;

	/* From the config. */
	uint64_t interval_ns;
	enum titad_fail_open fail_open;
	char proc_root[TITAD_PATH_MAX];

	/* t_round: the controller's rounds (and the sensor reads before
	 * them); t_ctl: its earlier deadlines. */
	struct tita_timer *t_round, *t_ctl;
	uint64_t last_read_ns, nic_read_ns;

	/* Ports whose device is down or gone: no rate reaches them. */
	bool port_down[TITAD_MAX_PORTS];

	uint32_t n_jobs;
	struct job jobs[TITAD_MAX_JOBS];
	uint32_t unnamed; /* jobs of the last QP scan that could not be added */

	struct titad_hist loop_hist;
	uint64_t rate_errors;
	struct tita_ratelimit rate_err_rl;
	uint64_t jobs_full, jobs_collided;

	/* The fabric: where probes go (the fabric module), and what became
	 * of the controller's paths. */
	titad_engine_probe_fn probe_fn;
	void *probe_ctx;
	struct titad_engine_paths paths;
	struct tita_ratelimit path_err_rl;
	bool said_no_paths;
	bool steer;

	/* Health evidence (NULL: none): the samples one pass gave the
	 * controller, and the controller's pairs as they were then. */
	struct titad_health *health;
	struct tita_tx_sample *round_tx; /* the datapath's: bytes into the queue */
	struct tita_tx_sample *round_txs; /* the sensor's: bytes sent */
	struct tita_rx_sample *round_rx;
	size_t n_round_tx, n_round_rx, cap_round_tx, cap_round_rx;
	size_t n_round_txs, cap_round_txs;
	struct tita_pair_info *round_pairs;
	size_t cap_round_pairs;
	uint64_t health_alloc_failures;
};

/* ---- jobs ------------------------------------------------------------------ */

static struct job *job_find(const struct titad_engine *e, const char *name)
{
	for (uint32_t i = 0; i < e->n_jobs; i++)
		if (!strcmp(e->jobs[i].name, name))
			return (struct job *)&e->jobs[i];
	return NULL;
}

static struct job *job_by_id(const struct titad_engine *e, uint32_t id)
{
	for (uint32_t i = 0; i < e->n_jobs; i++)
		if (e->jobs[i].id == id)
			return (struct job *)&e->jobs[i];
	return NULL;
}

/* Find or add; NULL with errno (ENOSPC, EEXIST on an id collision). */
static struct job *job_get(struct titad_engine *e, const char *name)
{
	struct job *j = job_find(e, name);
	uint32_t id = tita_job_id(name);

	if (j)
		return j;
	if (job_by_id(e, id) || (id == TITA_JOB_DEFAULT && strcmp(name, "default"))) {
		errno = EEXIST;
		return NULL;
	}
	if (e->n_jobs >= TITAD_MAX_JOBS) {
		errno = ENOSPC;
		return NULL;
	}
	j = &e->jobs[e->n_jobs++];
	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->id = id;
	j->traffic_class = -1;
	return j;
}

const char *titad_engine_job_name(const struct titad_engine *e, uint32_t id, char *buf, size_t size)
{
	const struct job *j = job_by_id(e, id);

	if (j)
		snprintf(buf, size, "%s", j->name);
	else if (id == TITA_JOB_DEFAULT)
		snprintf(buf, size, TITA_JOB_DEFAULT_NAME);
	else
		snprintf(buf, size, "job-%08x", id);
	return buf;
}

static uint32_t classify(const struct titad_engine *e, const struct tita_addr *remote)
{
	for (uint32_t i = 0; i < e->n_jobs; i++) {
		const struct job *j = &e->jobs[i];

		for (uint32_t k = 0; j->in_config && k < j->n_dst; k++)
			if (tita_prefix_match(&j->dst[k], remote))
				return j->id;
	}
	return TITA_JOB_DEFAULT;
}

/* Selectors and policies of the config's [job] sections; a policy that
 * titactl set wins over the file until titactl clears it. */
static int apply_jobs(struct titad_engine *e, const struct titad_config *cfg, char *err,
		      size_t err_size)
{
	for (uint32_t i = 0; i < e->n_jobs; i++) {
		e->jobs[i].in_config = false;
		e->jobs[i].traffic_class = -1;
	}
	for (uint32_t i = 0; i < cfg->n_jobs; i++) {
		const struct titad_job_conf *jc = &cfg->jobs[i];
		struct job *j = job_get(e, jc->name);
		struct tita_job pol = { .weight_milli = jc->weight_milli,
					.min_bps = jc->min_bps,
					.max_bps = jc->max_bps };
		int r;

		if (!j) {
			snprintf(err, err_size, "%s:%d: [job %s]: %s", cfg->path, jc->line,
				 jc->name,
				 errno == EEXIST ? "its id collides with a job set by titactl" :
						   "too many jobs");
			return -errno;
		}
		j->in_config = true;
		j->traffic_class = jc->traffic_class;
		j->n_dst = jc->n_dst;
		memcpy(j->dst, jc->dst, jc->n_dst * sizeof(jc->dst[0]));
		if (j->set_by_ctl)
			continue;
		r = tita_ctl_job_set(e->ctl, j->id, &pol);
		if (r) {
			snprintf(err, err_size, "%s:%d: [job %s]: the controller refused it: %s",
				 cfg->path, jc->line, jc->name, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void job_info(const struct titad_engine *e, const struct job *j, const char *name,
		     struct titad_job_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	ret->id = tita_job_id(name);
	if (j) {
		ret->in_config = j->in_config;
		ret->set_by_ctl = j->set_by_ctl;
		ret->discovered = j->discovered;
		ret->qps = j->qps;
	}
	ret->has_policy = tita_ctl_job_get(e->ctl, ret->id, &ret->policy) == 0;
}

bool titad_engine_job_info(const struct titad_engine *e, const char *name,
			   struct titad_job_info *ret)
{
	const struct job *j = job_find(e, name);

	if (!j && strcmp(name, TITA_JOB_DEFAULT_NAME))
		return false;
	job_info(e, j, name, ret);
	return true;
}

size_t titad_engine_jobs(const struct titad_engine *e, struct titad_job_info *out, size_t max)
{
	struct tita_job pol;
	size_t n = 0;

	/* The default job first, when it has a policy of its own. */
	if (!tita_ctl_job_get(e->ctl, TITA_JOB_DEFAULT, &pol)) {
		if (n < max)
			job_info(e, NULL, TITA_JOB_DEFAULT_NAME, &out[n]);
		n++;
	}
	for (uint32_t i = 0; i < e->n_jobs; i++, n++)
		if (n < max)
			job_info(e, &e->jobs[i], e->jobs[i].name, &out[n]);
	return n;
}

bool titad_engine_job_policy(const struct titad_engine *e, uint32_t job_id, struct tita_job *ret)
{
	return tita_ctl_job_get(e->ctl, job_id, ret) == 0;
}

int titad_engine_job_set(struct titad_engine *e, const char *name, const struct tita_job *pol,
			 uint64_t now_ns)
{
	struct job *j = job_get(e, name);
	int r;

	if (!j)
		return -errno;
	r = tita_ctl_job_set(e->ctl, j->id, pol);
	if (r)
		return r;
	j->set_by_ctl = true;
	/* A job change feeds the controller: let it act now. */
	titad_engine_kick(e, now_ns);
	return 0;
}

int titad_engine_job_clear(struct titad_engine *e, const char *name, uint64_t now_ns)
{
	struct job *j = job_find(e, name);
	int r = tita_ctl_job_clear(e->ctl, tita_job_id(name));

	if (r == -ENOENT && !j)
		return -ENOENT;
	if (j)
		j->set_by_ctl = false;
	titad_engine_kick(e, now_ns);
	return 0;
}

/*
 * The table is full: forget the discovered job whose QPs have been gone
 * the longest. Jobs with a [job] section or a titactl policy stay, and so
 * does every job the latest scan saw. false when none may go.
 */
static bool evict_discovered_job(struct titad_engine *e, uint64_t scan)
{
	uint32_t best = UINT32_MAX;

	for (uint32_t i = 0; i < e->n_jobs; i++) {
		const struct job *j = &e->jobs[i];

		if (!j->discovered || j->in_config || j->set_by_ctl || j->last_seen_scan == scan)
			continue;
		if (best == UINT32_MAX || j->last_seen_scan < e->jobs[best].last_seen_scan)
			best = i;
	}
	if (best == UINT32_MAX)
		return false;
	log_info("job %s: forgotten to make room in the job table (on no QP for %llu scan(s))",
		 e->jobs[best].name, (unsigned long long)(scan - e->jobs[best].last_seen_scan));
	e->jobs[best] = e->jobs[--e->n_jobs];
	return true;
}

void titad_engine_jobs_seen(struct titad_engine *e, const struct tita_qpscan_job *jobs, size_t n,
			    uint64_t scan)
{
	const char *first_unnamed = NULL;
	uint32_t unnamed = 0;
	bool full = false;

	for (uint32_t i = 0; i < e->n_jobs; i++)
		e->jobs[i].qps = 0;
	/* Known jobs first, so that making room never evicts one this scan
	 * saw. */
	for (size_t i = 0; i < n; i++) {
		struct job *j = job_find(e, jobs[i].name);

		if (j) {
			j->qps = jobs[i].qps;
			j->last_seen_scan = scan;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j;

		if (job_find(e, jobs[i].name))
			continue;
		j = job_get(e, jobs[i].name);
		if (!j && errno == ENOSPC && evict_discovered_job(e, scan))
			j = job_get(e, jobs[i].name);
		if (!j) {
			/* Counted at every scan that finds it; said once. */
			if (errno == ENOSPC) {
				e->jobs_full++;
				full = true;
			} else {
				e->jobs_collided++;
			}
			if (!unnamed++)
				first_unnamed = jobs[i].name;
			continue;
		}
		j->discovered = true;
		j->qps = jobs[i].qps;
		j->last_seen_scan = scan;
		log_info("job %s: discovered on %u QP(s)", j->name, j->qps);
	}
	if (unnamed && !e->unnamed)
		log_warning("QP discovery: %u job(s) on QPs, %s among them, cannot be named: %s",
			    unnamed, first_unnamed,
			    full ? "the job table is full of jobs with a policy or QPs" :
				   "their ids collide with other jobs'");
	e->unnamed = unnamed;
}

/* qp pacer: a QP's job from its owner's cgroup (Slurm job, pod, unit),
 * created on first sight so that titactl can name it; 0 (no job) when
 * the process is gone or the job table is full. */
static uint32_t job_of_pid(pid_t pid, void *ctx)
{
	struct titad_engine *e = ctx;
	struct tita_job_ident id;
	char name[TITA_JOB_NAME_MAX + 1];
	struct job *j;

	if (tita_job_of_pid(e->proc_root, pid, &id))
		return 0;
	tita_job_ident_name(&id, name, sizeof(name), TITA_JOB_NAME_MAX);
	j = job_get(e, name);
	return j ? j->id : 0;
}

/* dcb pacer: the traffic class of a job's [job] section, or -1. */
static int tc_of_job(uint32_t job_id, void *ctx)
{
	const struct job *j = job_by_id(ctx, job_id);

	return j && j->in_config ? j->traffic_class : -1;
}

/* ---- the fabric ------------------------------------------------------------------------ */

static void path_refused(struct titad_engine *e, const struct tita_path_update *u, int r,
			 uint64_t now_ns)
{
	char l[TITA_ADDR_STRLEN], rm[TITA_ADDR_STRLEN];
	uint64_t held;

	tita_ctl_path_failed(e->ctl, u, now_ns);
	if (r == -EOPNOTSUPP && !e->pacer->ops->set_path) {
		e->paths.unsupported++;
		/* The pair stays where ECMP hashed it, which the controller
		 * counts as spread over the spines. */
		if (!e->said_no_paths)
			log_warning("pacer %s cannot move traffic to another path: pairs stay "
				    "where the fabric's ECMP put them (steer = 0 says so up front)",
				    e->pacer->ops->name);
		e->said_no_paths = true;
		return;
	}
	e->paths.failed++;
	if (tita_ratelimit_ok(&e->path_err_rl, now_ns, 10 * TITA_NSEC_PER_SEC, 5, &held))
		log_warning("pacer %s: %s -> %s to UDP source port %u: %s (%llu more not logged)",
			    e->pacer->ops->name, tita_format_addr(&u->local, l, sizeof(l)),
			    tita_format_addr(&u->remote, rm, sizeof(rm)), u->sport, strerror(-r),
			    (unsigned long long)held);
}

/*
 * The controller's paths into the pacer, the pacer's finished moves back
 * (applied or failed), and its probes out to the fabric module. A move
 * takes as long as the pair's QPs need to drain: its end comes back in a
 * later pass.
 */
static void fabric_io(struct titad_engine *e, uint64_t now_ns)
{
	const struct tita_pacer_ops *ops = e->pacer->ops;
	struct tita_path_update u;
	struct tita_probe pr;
	int err;

	while (tita_ctl_pop_path(e->ctl, &u)) {
		int port = tita_pacer_port_index(e->pacer, &u.local);
		int r = -EOPNOTSUPP;

		if (port >= 0 && e->port_down[port])
			r = -ENETDOWN;
		else if (ops->set_path)
			r = ops->set_path(e->pacer, &u, now_ns);
		if (r) {
			path_refused(e, &u, r, now_ns);
			continue;
		}
		e->paths.started++;
	}
	while (ops->pop_path && ops->pop_path(e->pacer, &u, &err)) {
		if (err) {
			path_refused(e, &u, err, now_ns);
			continue;
		}
		e->paths.applied++;
		tita_ctl_path_applied(e->ctl, &u, now_ns);
	}
	while (tita_ctl_pop_probe(e->ctl, &pr)) {
		if (e->probe_fn) {
			e->probe_fn(e->probe_ctx, &pr, now_ns);
			continue;
		}
		/* Nobody sends probes: none is answered. */
		tita_ctl_probe_result(e->ctl, &pr, TITA_SPINE_NONE, now_ns);
	}
}

void titad_engine_set_prober(struct titad_engine *e, titad_engine_probe_fn fn, void *ctx)
{
	e->probe_fn = fn;
	e->probe_ctx = ctx;
}

int titad_engine_set_place(struct titad_engine *e, const struct tita_addr *local,
			   const struct tita_place *place, const struct tita_addr *members,
			   uint32_t n_members)
{
	return tita_ctl_port_set_place(e->ctl, local, place, members, n_members);
}

int titad_engine_peer_place(struct titad_engine *e, const struct tita_addr *remote, uint32_t leaf)
{
	return tita_ctl_peer_place(e->ctl, remote, leaf);
}

int titad_engine_peer_leaders(struct titad_engine *e, const struct tita_addr *remote,
			      uint32_t leaders)
{
	return tita_ctl_peer_leaders(e->ctl, remote, leaders);
}

int titad_engine_probe_result(struct titad_engine *e, const struct tita_probe *probe,
			      uint16_t spine, uint64_t now_ns)
{
	return tita_ctl_probe_result(e->ctl, probe, spine, now_ns);
}

void titad_engine_leader(const struct titad_engine *e, const struct tita_addr *local,
			 struct titad_engine_leader *ret)
{
	memset(ret, 0, sizeof(*ret));
	tita_ctl_leader_stats(e->ctl, local, &ret->stats);
	ret->n_spines = tita_ctl_leaf_links(e->ctl, local, ret->up, ret->down);
}

void titad_engine_paths(const struct titad_engine *e, struct titad_engine_paths *ret)
{
	*ret = e->paths;
	ret->can_move = e->pacer->ops->set_path != NULL;
	ret->steer = e->steer;
}

/* ---- the control loop --------------------------------------------------------------- */

void titad_engine_kick(struct titad_engine *e, uint64_t now_ns)
{
	struct tita_rate_update u;
	struct tita_msg m;

	tita_pacer_keepalive(e->pacer, now_ns);
	fabric_io(e, now_ns);
	/* An early allocation already due (demands just read, batched by the
	 * socket's coalescing) runs here, in this wake-up; a round waits for
	 * its timer, which reads the datapath first. */
	if (tita_ctl_next_deadline_ns(e->ctl) <= now_ns && now_ns < tita_ctl_next_round_ns(e->ctl))
		tita_ctl_advance(e->ctl, now_ns);
	while (tita_ctl_pop_rate(e->ctl, &u)) {
		uint64_t rate = u.rate_bps;
		int port = tita_pacer_port_index(e->pacer, &u.local), r;

		/* Its device is down or gone: fail-open until it is back (the
		 * rates are applied again then). */
		if (port >= 0 && e->port_down[port])
			continue;
		if (rate == TITA_RATE_UNPACED && e->fail_open == TITAD_FAIL_OPEN_LINE_RATE) {
			const struct tita_pacer_port *pt = tita_pacer_port(e->pacer, &u.local);

			if (pt)
				rate = pt->line_rate_bps;
		}
		/* With a message's unscheduled first bytes where the back end
		 * can let them go unpaced (tc); the rate alone elsewhere. */
		r = tita_pacer_apply_update(e->pacer, &u, rate);
		if (r) {
			uint64_t held;

			e->rate_errors++;
			if (tita_ratelimit_ok(&e->rate_err_rl, now_ns, 10 * TITA_NSEC_PER_SEC, 5,
					      &held)) {
				char l[TITA_ADDR_STRLEN], rm[TITA_ADDR_STRLEN];

				log_err("pacer %s: %s -> %s: %s (%llu more not logged)",
					e->pacer->ops->name,
					tita_format_addr(&u.local, l, sizeof(l)),
					tita_format_addr(&u.remote, rm, sizeof(rm)), strerror(-r),
					(unsigned long long)held);
			}
		}
	}
	while (tita_ctl_pop_msg(e->ctl, &m))
		if (e->out)
			e->out->send(e->out_ctx, &m, now_ns);
	if (e->out)
		e->out->flush(e->out_ctx, now_ns);
	/* The round timer follows the controller's cadence, which the event
	 * loop's periodic timerfd already has armed; t_ctl only wakes the loop
	 * for a deadline before it (a new demand's early allocation). */
	if (e->t_round) {
		uint64_t round = tita_ctl_next_round_ns(e->ctl);
		uint64_t due = tita_ctl_next_deadline_ns(e->ctl);

		tita_event_timer_set(e->ev, e->t_round, round);
		tita_event_timer_set(e->ev, e->t_ctl, due < round ? due : TITA_TIME_NEVER);
	}
}

int titad_engine_on_msg(struct titad_engine *e, const struct tita_msg *m, uint64_t now_ns)
{
	size_t pairs_before = tita_ctl_n_pairs(e->ctl);
	int r = tita_ctl_on_msg(e->ctl, m, now_ns);

	if (r < 0)
		return r;
	return m->kind == TITA_MSG_DEMAND && tita_ctl_n_pairs(e->ctl) > pairs_before;
}

static void peer_seen(struct titad_engine *e, const struct tita_addr *remote, uint64_t now_ns)
{
	if (e->out)
		e->out->peer_seen(e->out_ctx, remote, now_ns);
}

/* A sample the controller took, kept for the health feed of this pass. */
static void keep_tx_in(struct titad_engine *e, struct tita_tx_sample **arr, size_t *n, size_t *cap,
		       const struct tita_tx_sample *ts)
{
	if (!e->health)
		return;
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct tita_tx_sample *p = realloc(*arr, c * sizeof(*p));

		if (!p) {
			e->health_alloc_failures++;
			return;
		}
		*arr = p;
		*cap = c;
	}
	(*arr)[(*n)++] = *ts;
}

static void keep_tx(struct titad_engine *e, const struct tita_tx_sample *ts)
{
	keep_tx_in(e, &e->round_tx, &e->n_round_tx, &e->cap_round_tx, ts);
}

static void keep_tx_sent(struct titad_engine *e, const struct tita_tx_sample *ts)
{
	keep_tx_in(e, &e->round_txs, &e->n_round_txs, &e->cap_round_txs, ts);
}

static void keep_rx(struct titad_engine *e, const struct tita_rx_sample *rs)
{
	if (!e->health)
		return;
	if (e->n_round_rx == e->cap_round_rx) {
		size_t cap = e->cap_round_rx ? 2 * e->cap_round_rx : 64;
		struct tita_rx_sample *p = realloc(e->round_rx, cap * sizeof(*p));

		if (!p) {
			e->health_alloc_failures++;
			return;
		}
		e->round_rx = p;
		e->cap_round_rx = cap;
	}
	e->round_rx[e->n_round_rx++] = *rs;
}

/* A health round ends: its sums with the controller's pairs as they are
 * (the rates and grants that applied over the round: before this pass's
 * controller round changes them). */
void titad_engine_health_window(struct titad_engine *e, uint64_t now_ns)
{
	size_t n;

	if (!e->health)
		return;
	n = tita_ctl_n_pairs(e->ctl);
	if (n > e->cap_round_pairs) {
		size_t cap = n + n / 4 + 16;
		struct tita_pair_info *p = realloc(e->round_pairs, cap * sizeof(*p));

		if (!p) {
			e->health_alloc_failures++;
			n = e->cap_round_pairs;
		} else {
			e->round_pairs = p;
			e->cap_round_pairs = cap;
		}
	}
	n = tita_ctl_pairs(e->ctl, e->round_pairs, e->cap_round_pairs);
	if (n > e->cap_round_pairs)
		n = e->cap_round_pairs;
	titad_health_window(e->health, e->round_pairs, n, now_ns);
}

/* The pass's samples into the health evidence; the pairs, once a health
 * round. */
static void feed_health(struct titad_engine *e, uint64_t now_ns)
{
	titad_health_samples(e->health, e->round_tx, e->n_round_tx, e->round_txs, e->n_round_txs,
			     e->round_rx, e->n_round_rx, now_ns);
	if (titad_health_window_due(e->health, now_ns))
		titad_engine_health_window(e, now_ns);
}

static void feed_port(struct titad_engine *e, const struct titad_port *p,
		      const struct tita_bpf_snapshot *s, uint64_t now_ns)
{
	const struct tita_pacer_ops *ops = e->pacer->ops;

	for (size_t i = 0; i < s->n_rx_peers; i++) {
		const struct tita_bpf_rx_peer *rp = &s->rx_peers[i];
		struct tita_rx_sample rs;

		if (!rp->delta.packets)
			continue;
		tita_bpf_rx_sample(s, rp, &p->addr, &rs);
		tita_ctl_rx_sample(e->ctl, &rs, now_ns);
		/* Kept also when the controller had no room for it. */
		keep_rx(e, &rs);
		peer_seen(e, &rp->remote, now_ns);
	}
	for (size_t i = 0; i < s->n_tx_peers; i++) {
		const struct tita_bpf_tx_peer *tp = &s->tx_peers[i];
		struct tita_tx_sample ts;
		uint64_t backlog_bytes = 0;

		/* Only RoCE is managed: the peer protocol's own datagrams, ARP
		 * and the rest of the host's traffic must not become pairs. */
		if (!tp->total.roce_packets)
			continue;
		/* What waits in the pacer's queue is demand the rate hides; tc
		 * egress counts packets as they enter that queue, so a sender
		 * that has stopped writing may still have its tail there, and
		 * its pair must not read as idle (its rate would fall to the
		 * floor with the tail still queued). */
		if (ops->backlog)
			ops->backlog(e->pacer, &p->addr, &tp->remote, now_ns, &backlog_bytes);
		if (!tp->delta.roce_packets && !backlog_bytes)
			continue;
		tita_bpf_tx_sample(s, tp, &p->addr, classify(e, &tp->remote), &ts);
		/* Where the back end's sensor measures the pair (agents own its
		 * QPs) its samples are the sender's: counting the datapath's
		 * view of the same bytes as well would double the demand. */
		if (ops->measures && ops->measures(e->pacer, &p->addr, &tp->remote, ts.job_id))
			continue;
		ts.tx_bytes = tp->delta.roce_bytes;
		ts.backlog_bytes = backlog_bytes;
		tita_ctl_tx_sample(e->ctl, &ts, now_ns);
		keep_tx(e, &ts);
		peer_seen(e, &tp->remote, now_ns);
	}
}

struct sensor_ctx {
	struct titad_engine *e;
	uint64_t now_ns;
};

/* What the back end's sensor measured (the qp agents' QPs: what they
 * completed and still hold is the sender's demand on hardware RoCE), and
 * their remote addresses are peers. */
static void sensor_sample(const struct tita_tx_sample *s, void *ctx)
{
	struct sensor_ctx *c = ctx;

	keep_tx_sent(c->e, s);
	if (tita_ctl_tx_sample(c->e->ctl, s, c->now_ns) == 0)
		peer_seen(c->e, &s->remote, c->now_ns);
}

/*
 * One control-loop pass: fresh samples first (unless a pass read them less
 * than half an interval ago), then the controller when due, then its
 * outputs. Both timers run a pass, so a round never runs on samples a
 * late timer did not deliver yet; a round without samples would read as
 * an idle interval and make demand decay.
 */
void titad_engine_round(struct titad_engine *e, uint64_t now_ns)
{
	const struct tita_pacer_ops *ops = e->pacer->ops;
	uint32_t n_ports = titad_ports_count(e->ports);
	uint64_t started = tita_event_elapsed_ns(e->ev);

	if (ops->process)
		ops->process(e->pacer, now_ns);
	if (now_ns - e->last_read_ns >= e->interval_ns / 2) {
		e->last_read_ns = now_ns;
		e->n_round_tx = e->n_round_txs = e->n_round_rx = 0;
		for (uint32_t i = 0; i < n_ports; i++) {
			const struct tita_bpf_snapshot *s;

			if (titad_ports_read(e->ports, i, now_ns, &s))
				continue;
			if (s->interval_ns)
				feed_port(e, titad_ports_get(e->ports, i), s, now_ns);
		}
		if (ops->tx_samples) {
			struct sensor_ctx c = { e, now_ns };

			ops->tx_samples(e->pacer, now_ns, sensor_sample, &c);
		}
		if (e->health)
			feed_health(e, now_ns);
	}
	if (now_ns - e->nic_read_ns >= NIC_READ_INTERVAL_NS) {
		e->nic_read_ns = now_ns;
		for (uint32_t i = 0; i < n_ports; i++) {
			struct tita_port_sample ps;

			if (titad_ports_read_nic(e->ports, i, now_ns, &ps)) {
				tita_ctl_port_sample(e->ctl, &ps, now_ns);
				if (e->health)
					titad_health_nic_rx(e->health, &ps.local, ps.rx_packets);
			}
		}
	}
	if (tita_ctl_next_deadline_ns(e->ctl) <= now_ns)
		tita_ctl_advance(e->ctl, now_ns);
	titad_engine_kick(e, now_ns);
	titad_hist_observe(&e->loop_hist, tita_event_elapsed_ns(e->ev) - started);
}

static void on_round(void *data, uint64_t now_ns)
{
	titad_engine_round(data, now_ns);
}

static void on_pacer(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct titad_engine *e = data;

	(void)fd;
	(void)events;
	e->pacer->ops->process(e->pacer, now_ns);
}

void titad_engine_port_changed(struct titad_engine *e, uint32_t i, bool up, uint64_t now_ns)
{
	const struct titad_port *p = titad_ports_get(e->ports, i);
	struct tita_pair_info *pairs;
	char err[256] = "";
	size_t n;
	int r;

	if (!up) {
		e->port_down[i] = true;
		tita_pacer_port_down(e->pacer, i);
		return;
	}
	r = tita_pacer_port_up(e->pacer, i, p->ifindex, p->bpf, err, sizeof(err));
	if (r) {
		log_err("%s: back, but the pacer cannot take it: %s; it stays unpaced", p->ifname,
			err[0] ? err : strerror(-r));
		return;
	}
	e->port_down[i] = false;
	/* The rates the controller holds for the port's pairs, anew. */
	n = tita_ctl_n_pairs(e->ctl);
	pairs = calloc(n ? n : 1, sizeof(*pairs));
	if (!pairs)
		return;
	n = tita_ctl_pairs(e->ctl, pairs, n);
	tita_pacer_keepalive(e->pacer, now_ns);
	for (size_t k = 0; k < n; k++) {
		const struct tita_pair_info *pi = &pairs[k];

		if (pi->role == TITA_PAIR_TX && pi->rate_bps != TITA_RATE_UNPACED &&
		    tita_addr_eq(&pi->local, &p->addr))
			tita_pacer_apply(e->pacer, &pi->local, &pi->remote, pi->job_id,
					 pi->rate_bps);
	}
	free(pairs);
}

bool titad_engine_port_up(const struct titad_engine *e, uint32_t i)
{
	return !e->port_down[i];
}

uint64_t titad_engine_next_round_ns(const struct titad_engine *e)
{
	return tita_ctl_next_round_ns(e->ctl);
}

/* ---- start, reload, stop ----------------------------------------------------------- */

static const struct tita_pacer_ops *pacer_ops(enum titad_pacer_kind k)
{
	switch (k) {
	case TITAD_PACER_TC:
		return &tita_pacer_tc_ops;
	case TITAD_PACER_QP:
		return &tita_pacer_qp_ops;
	case TITAD_PACER_DCB:
		return &tita_pacer_dcb_ops;
	default:
		return &tita_pacer_dryrun_ops;
	}
}

int titad_engine_open(struct titad_engine **ret, struct tita_event *ev,
		      const struct titad_config *cfg, struct titad_ports *ports, char *err,
		      size_t err_size)
{
	struct titad_engine *e = calloc(1, sizeof(*e));
	struct tita_pacer_port pp[TITAD_MAX_PORTS];
	struct tita_pacer_env env = { 0 };
	const struct tita_pacer_ops *ops = pacer_ops(cfg->pacer);
	struct tita_ctl_params params = cfg->params;
	uint32_t n_ports = titad_ports_count(ports);
	int r;

	*ret = e;
	if (!e)
		return -ENOMEM;
	e->ev = ev;
	e->ports = ports;
	e->interval_ns = cfg->params.control_interval_ns;
	e->fail_open = cfg->fail_open;
	e->steer = cfg->params.steer != 0;
	snprintf(e->proc_root, sizeof(e->proc_root), "%s", cfg->proc_root);
	titad_hist_init(&e->loop_hist);

	if (tita_pacer_fit_params(ops, &params))
		log_info("pacer %s cannot let a message's first bytes go unpaced: unscheduled "
			 "and unscheduled-short are 0",
			 ops->name);
	e->ctl = tita_ctl_new(&params);
	if (!e->ctl) {
		r = -errno;
		snprintf(err, err_size, "controller: %s", strerror(-r));
		return r;
	}
	{
		/* The source ports it picks: each host its own. */
		uint64_t seed = 0;

		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
			seed = (uint64_t)(uintptr_t)e ^ (uint64_t)getpid() << 32;
		tita_ctl_seed(e->ctl, seed);
	}
	for (uint32_t i = 0; i < n_ports; i++) {
		const struct titad_port *p = titad_ports_get(ports, i);

		r = tita_ctl_port_add(e->ctl, &p->addr, p->line_rate_bps);
		if (r) {
			snprintf(err, err_size, "%s: the controller refused the port: %s",
				 p->ifname, strerror(-r));
			return r;
		}
	}
	r = apply_jobs(e, cfg, err, err_size);
	if (r)
		return r;

	titad_ports_pacer_ports(ports, pp);
	/* Every job's processes connect: what an agent may do is register
	 * its own QPs and obey; SO_PEERCRED names it. */
	snprintf(env.agent_socket, sizeof(env.agent_socket), "%s", cfg->agent_socket);
	snprintf(env.sysfs_root, sizeof(env.sysfs_root), "%s", cfg->sysfs_root);
	env.agent_socket_mode = 0666;
	env.agents_per_uid = cfg->agents_per_uid;
	env.agent_qps_per_uid = cfg->agent_qps_per_uid;
	env.agent_qps = cfg->agent_qps;
	/* A move waits for the pair's QPs to drain; past this, it failed and
	 * the controller tries elsewhere. */
	env.sport_max_wait_ms = 1000;
	env.rule_ttl_ns = cfg->params.grant_ttl_ns;
	env.job_of_pid = job_of_pid;
	env.tc_of_job = tc_of_job;
	env.ctx = e;
	e->pacer = tita_pacer_new(ops, pp, n_ports, &env);
	if (!e->pacer) {
		r = -errno;
		snprintf(err, err_size, "pacer: %s", strerror(-r));
		return r;
	}
	r = e->pacer->ops->init(e->pacer, err, err_size);
	if (r)
		return r;
	if (e->pacer->ops->fd && e->pacer->ops->process && e->pacer->ops->fd(e->pacer) >= 0) {
		e->pacer_src =
			tita_event_fd_add(ev, e->pacer->ops->fd(e->pacer), EPOLLIN, on_pacer, e);
		if (!e->pacer_src) {
			r = -errno;
			snprintf(err, err_size, "pacer %s: %s", e->pacer->ops->name, strerror(-r));
			return r;
		}
	}
	return 0;
}

void titad_engine_set_health(struct titad_engine *e, struct titad_health *h)
{
	e->health = h;
}

void titad_engine_set_out(struct titad_engine *e, const struct titad_engine_out *out, void *ctx)
{
	e->out = out;
	e->out_ctx = ctx;
}

int titad_engine_start(struct titad_engine *e, uint64_t now_ns)
{
	e->t_round = tita_event_timer_new(e->ev, on_round, e);
	e->t_ctl = tita_event_timer_new(e->ev, on_round, e);
	if (!e->t_round || !e->t_ctl)
		return -ENOSPC;
	tita_event_timer_set(e->ev, e->t_round, now_ns);
	tita_event_timer_set(e->ev, e->t_ctl, tita_ctl_next_deadline_ns(e->ctl));
	return 0;
}

struct titad_engine *titad_engine_close(struct titad_engine *e)
{
	if (!e)
		return NULL;
	tita_event_fd_del(e->ev, e->pacer_src);
	if (e->pacer) {
		int r = e->pacer->ops->cleanup(e->pacer);

		if (r)
			log_err("pacer %s: removing its rules: %s", e->pacer->ops->name,
				strerror(-r));
		e->pacer = tita_pacer_free(e->pacer);
	}
	if (e->t_round)
		tita_event_timer_set(e->ev, e->t_round, TITA_TIME_NEVER);
	if (e->t_ctl)
		tita_event_timer_set(e->ev, e->t_ctl, TITA_TIME_NEVER);
	e->ctl = tita_ctl_free(e->ctl);
	free(e->round_tx);
	free(e->round_txs);
	free(e->round_rx);
	free(e->round_pairs);
	free(e);
	return NULL;
}

int titad_engine_check_params(struct titad_engine *e, const struct titad_config *cfg, char *err,
			      size_t err_size)
{
	struct tita_ctl_params params = cfg->params;
	int r;

	/* The pacer is the running one: a reload does not change it. */
	tita_pacer_fit_params(e->pacer->ops, &params);
	r = tita_ctl_set_params(e->ctl, &params);
	if (r)
		snprintf(err, err_size, "%s: the controller refused the parameters: %s", cfg->path,
			 strerror(-r));
	return r;
}

int titad_engine_reconfigure(struct titad_engine *e, const struct titad_config *cfg, char *err,
			     size_t err_size)
{
	uint32_t n_ports = titad_ports_count(e->ports);

	for (uint32_t i = 0; i < n_ports; i++) {
		const struct titad_port *p = titad_ports_get(e->ports, i);
		uint64_t rate = cfg->ports[i].line_rate_bps ? cfg->ports[i].line_rate_bps :
							      p->line_rate_bps;

		if (rate != p->line_rate_bps && !tita_ctl_port_set_rate(e->ctl, &p->addr, rate))
			titad_ports_set_line_rate(e->ports, i, rate);
	}
	e->interval_ns = cfg->params.control_interval_ns;
	e->fail_open = cfg->fail_open;
	e->steer = cfg->params.steer != 0;
	e->pacer->env.rule_ttl_ns = cfg->params.grant_ttl_ns;
	snprintf(e->proc_root, sizeof(e->proc_root), "%s", cfg->proc_root);
	return apply_jobs(e, cfg, err, err_size) ? 1 : 0;
}

/* ---- snapshots ----------------------------------------------------------------------- */

void titad_engine_status(const struct titad_engine *e, struct titad_engine_status *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->pacer = e->pacer->ops->name;
	tita_ctl_stats(e->ctl, &ret->ctl);
	ret->n_pairs = tita_ctl_n_pairs(e->ctl);
	ret->pacer_stats = e->pacer->stats;
	ret->rate_errors = e->rate_errors;
	ret->loop_hist = e->loop_hist;
	if (e->pacer->ops->agent_stats)
		ret->has_agents = e->pacer->ops->agent_stats(e->pacer, &ret->agents);
	ret->jobs_full = e->jobs_full;
	ret->jobs_collided = e->jobs_collided;
}

size_t titad_engine_n_pairs(const struct titad_engine *e)
{
	return tita_ctl_n_pairs(e->ctl);
}

size_t titad_engine_pairs(const struct titad_engine *e, struct tita_pair_info *out, size_t max)
{
	return tita_ctl_pairs(e->ctl, out, max);
}

size_t titad_engine_ports(const struct titad_engine *e, struct tita_port_info *out, size_t max)
{
	return tita_ctl_ports(e->ctl, out, max);
}
