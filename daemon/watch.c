// SPDX-License-Identifier: MIT
/*
 * What titad tells its log about the cluster around it, once a second
 * (titad.c's housekeeping): a peer heard for the first time, lost (not
 * heard for WATCH_LOST_NS, or gone from the table) and heard again; pairs
 * that fail open because their grants lapsed, and their way back. Each
 * line names the peer, and under journald carries it as fields
 * (TITA_EVENT, TITA_PEER, TITA_PORT, TITA_JOB).
 *
 * It compares the modules' snapshots with the last ones instead of hooking
 * the peer table and the controller: they stay as they are, and the cost
 * is one walk of the peers and pairs a second, as a scrape does. Lines are
 * per peer, not per pair, and at most WATCH_LINES_MAX of each kind are
 * written per check (the rest in one summary line), under the log's
 * global rate limit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "peer.h"
#include "ports.h"
#include "watch.h"

/* Peers say hello every second: three missed is lost (the restart gap of
 * peer.c, and well past a grant's TTL, so its grants have lapsed). */
#define WATCH_LOST_NS (3 * TITA_NSEC_PER_SEC)
#define WATCH_LINES_MAX 8
#define WATCH_JOBS_MAX 4

struct peer_state {
	struct tita_addr addr;
	bool lost;
};

/* TX pairs without a live grant towards one peer. */
struct open_state {
	struct tita_addr remote;
	uint32_t pairs;
	int port; /* of the first such pair */
	uint32_t jobs[WATCH_JOBS_MAX], n_jobs;
};

struct titad_watch {
	struct peer_state *peers;
	size_t n_peers;
	struct open_state *open;
	size_t n_open;
};

struct titad_watch *titad_watch_new(void)
{
	return calloc(1, sizeof(struct titad_watch));
}

struct titad_watch *titad_watch_free(struct titad_watch *w)
{
	if (w) {
		free(w->peers);
		free(w->open);
		free(w);
	}
	return NULL;
}

static int addr_cmp(const struct tita_addr *a, const struct tita_addr *b)
{
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

static int peer_cmp(const void *a, const void *b)
{
	return addr_cmp(&((const struct peer_state *)a)->addr,
			&((const struct peer_state *)b)->addr);
}

static int open_cmp(const void *a, const void *b)
{
	return addr_cmp(&((const struct open_state *)a)->remote,
			&((const struct open_state *)b)->remote);
}

/* A kind of line, counted against WATCH_LINES_MAX per check. */
struct budget {
	uint32_t written, held;
};

static bool spend(struct budget *b)
{
	if (b->written < WATCH_LINES_MAX) {
		b->written++;
		return true;
	}
	b->held++;
	return false;
}

static void summary(const struct budget *b, enum titad_log_level level, const char *what)
{
	if (b->held)
		tita_log(level, "... and %u more %s (one line a peer is written for %d)", b->held,
			 what, WATCH_LINES_MAX);
}

/* One line about a peer, and its fields. */
static void log_peer(enum titad_log_level level, const char *event, const struct tita_addr *a,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void log_peer(enum titad_log_level level, const char *event, const struct tita_addr *a,
		     const char *fmt, ...)
{
	char s[TITA_ADDR_STRLEN], rest[400];
	const struct tita_log_field f[] = {
		{ "TITA_EVENT", event },
		{ "TITA_PEER", tita_format_addr(a, s, sizeof(s)) },
	};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	tita_log_fields(level, f, 2, "peer %s: %s", s, rest);
}

static int check_peers(struct titad_watch *w, const struct titad_peers *ps, uint64_t now_ns)
{
	size_t max = titad_peers_count(ps), n;
	struct titad_peer_info *info = calloc(max ? max : 1, sizeof(*info));
	struct peer_state *next = calloc(max ? max : 1, sizeof(*next));
	struct budget heard = { 0 }, lost = { 0 };
	size_t n_next = 0;

	if (!info || !next) {
		free(info);
		free(next);
		return -ENOMEM;
	}
	n = titad_peers_list(ps, info, max, now_ns);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		const struct titad_peer_info *p = &info[i];
		struct peer_state key = { .addr = p->addr }, *was;
		bool is_lost = p->last_heard_ago_ns > WATCH_LOST_NS;

		if (!p->heard)
			continue;
		was = w->n_peers ? bsearch(&key, w->peers, w->n_peers, sizeof(key), peer_cmp) :
				   NULL;
		if (!was && !is_lost && spend(&heard))
			log_peer(TITAD_LOG_NOTICE, "peer-heard", &p->addr, "heard (boot id %llu)",
				 (unsigned long long)p->boot_id);
		else if (was && was->lost && !is_lost && spend(&heard))
			log_peer(TITAD_LOG_NOTICE, "peer-back", &p->addr, "heard again");
		else if (was && !was->lost && is_lost && spend(&lost))
			log_peer(TITAD_LOG_WARNING, "peer-lost", &p->addr,
				 "lost: not heard for %.1fs (its titad stopped, or the path or "
				 "its key changed); pairs towards it fail open when their "
				 "grants lapse",
				 (double)p->last_heard_ago_ns / 1e9);
		next[n_next++] = (struct peer_state){ p->addr, is_lost };
	}
	qsort(next, n_next, sizeof(*next), peer_cmp);
	/* Heard before, gone from the table now (idle for a minute, or
	 * evicted), and not already said lost. */
	for (size_t i = 0; i < w->n_peers; i++) {
		const struct peer_state *p = &w->peers[i];

		if (p->lost || (n_next && bsearch(p, next, n_next, sizeof(*p), peer_cmp)))
			continue;
		if (spend(&lost))
			log_peer(TITAD_LOG_WARNING, "peer-lost", &p->addr,
				 "lost: gone from the peer table");
	}
	summary(&heard, TITAD_LOG_NOTICE, "peers heard");
	summary(&lost, TITAD_LOG_WARNING, "peers lost");
	free(info);
	free(w->peers);
	w->peers = next;
	w->n_peers = n_next;
	return 0;
}

/* Job names of a peer's fail-open pairs: "train, eval" (at most
 * WATCH_JOBS_MAX, then "..."). */
static void job_list(const struct titad_engine *e, const struct open_state *o, char *buf,
		     size_t size, struct tita_log_field *fields,
		     char names[][TITA_JOB_NAME_MAX + 1], size_t *n_fields)
{
	buf[0] = '\0';
	for (uint32_t j = 0; j < o->n_jobs; j++) {
		titad_engine_job_name(e, o->jobs[j], names[j], TITA_JOB_NAME_MAX + 1);
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", j ? ", " : "", names[j]);
		fields[(*n_fields)++] = (struct tita_log_field){ "TITA_JOB", names[j] };
	}
	if (o->n_jobs == WATCH_JOBS_MAX)
		snprintf(buf + strlen(buf), size - strlen(buf), ", ...");
}

static int check_pairs(struct titad_watch *w, const struct titad_engine *e,
		       const struct titad_ports *ports)
{
	size_t max = titad_engine_n_pairs(e), n;
	struct tita_pair_info *info = calloc(max ? max : 1, sizeof(*info));
	struct open_state *next = calloc(max ? max : 1, sizeof(*next));
	struct budget opened = { 0 }, closed = { 0 };
	size_t n_next = 0;

	if (!info || !next) {
		free(info);
		free(next);
		return -ENOMEM;
	}
	n = titad_engine_pairs(e, info, max);
	if (n > max)
		n = max;
	/* Group the fail-open TX pairs by peer: sorted, then one run each. */
	for (size_t i = 0; i < n; i++)
		if (info[i].role == TITA_PAIR_TX && info[i].state == TITA_PAIR_FAIL_OPEN)
			next[n_next++] = (struct open_state){ .remote = info[i].remote,
							      .pairs = 1,
							      .port = titad_ports_find(
								      ports, &info[i].local),
							      .jobs = { info[i].job_id },
							      .n_jobs = 1 };
	qsort(next, n_next, sizeof(*next), open_cmp);
	{
		size_t k = 0;

		for (size_t i = 0; i < n_next; i++) {
			struct open_state *o = k ? &next[k - 1] : NULL;
			bool known = false;

			if (!o || addr_cmp(&o->remote, &next[i].remote)) {
				next[k++] = next[i];
				continue;
			}
			o->pairs++;
			for (uint32_t j = 0; j < o->n_jobs; j++)
				known |= o->jobs[j] == next[i].jobs[0];
			if (!known && o->n_jobs < WATCH_JOBS_MAX)
				o->jobs[o->n_jobs++] = next[i].jobs[0];
		}
		n_next = k;
	}
	for (size_t i = 0; i < n_next; i++) {
		const struct open_state *o = &next[i];
		struct tita_log_field f[3 + WATCH_JOBS_MAX];
		char names[WATCH_JOBS_MAX][TITA_JOB_NAME_MAX + 1], jobs[300], s[TITA_ADDR_STRLEN];
		struct titad_port_info pi = { 0 };
		size_t nf = 0;

		if ((w->n_open && bsearch(o, w->open, w->n_open, sizeof(*o), open_cmp)) ||
		    !spend(&opened))
			continue;
		if (o->port >= 0)
			titad_ports_info(ports, (uint32_t)o->port, &pi);
		f[nf++] = (struct tita_log_field){ "TITA_EVENT", "fail-open" };
		f[nf++] = (struct tita_log_field){ "TITA_PEER",
						   tita_format_addr(&o->remote, s, sizeof(s)) };
		f[nf++] = (struct tita_log_field){ "TITA_PORT", pi.ifname };
		job_list(e, o, jobs, sizeof(jobs), f, names, &nf);
		tita_log_fields(TITAD_LOG_WARNING, f, nf,
				"peer %s: grants lapsed, %u pair(s) fail open on %s (job %s): "
				"unpaced until it grants again",
				s, o->pairs, pi.ifname[0] ? pi.ifname : "?", jobs);
	}
	for (size_t i = 0; i < w->n_open; i++) {
		const struct open_state *o = &w->open[i];

		if ((n_next && bsearch(o, next, n_next, sizeof(*o), open_cmp)) || !spend(&closed))
			continue;
		log_peer(TITAD_LOG_NOTICE, "fail-open-end", &o->remote,
			 "no pair fails open any more (granted again, or gone)");
	}
	summary(&opened, TITAD_LOG_WARNING, "peers whose pairs fail open");
	summary(&closed, TITAD_LOG_NOTICE, "peers whose pairs are out of fail-open");
	free(info);
	free(w->open);
	w->open = next;
	w->n_open = n_next;
	return 0;
}

int titad_watch_check(struct titad_watch *w, const struct titad_sources *src, uint64_t now_ns)
{
	int r = check_peers(w, src->peers, now_ns);

	return r ? r : check_pairs(w, src->engine, src->ports);
}
