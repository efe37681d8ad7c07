// SPDX-License-Identifier: MIT
/*
 * tita-diag-bench: how well titactl diagnose localizes faults, on
 * randomized simulator runs. Prints figures; it is not a timed test.
 *
 * From one seed it draws --runs single-fault runs and --healthy runs
 * without a fault: 64, 128 or 256 hosts (16 a leaf, 4 spines, 100G hosts,
 * 400G uplinks), ring all-reduce or all-to-all over every host, repeated
 * for the whole run, with or without background WebSearch traffic (job 1,
 * 20 % load); the fault's kind, culprit, severity and start drawn too.
 * Each run is tita-sim -c tita --telemetry DIR; then, for every snapshot
 * from the fault on, the diagnoser reads the last --window snapshots
 * exactly as `titactl diagnose --file` does (daemon/diag/diag_source.c)
 * and its first suspect is scored against the fault injected:
 *
 *  - top-1: the right host or link, HORIZON (10) intervals after the fault
 *    (or at the run's last snapshot, if sooner): the first suspect's
 *    culprit and kind, where a slow NIC and a slow link of the same host
 *    count as one (below); a leaf-spine link must be named, not only its
 *    leaf's uplinks;
 *  - kind: the same, with the kind exactly as injected;
 *  - slow vs failed: the first suspect's state (failed for a dead host,
 *    slow for the rest) right, at the same point;
 *  - the interval from the fault to the first correct localization that
 *    stays correct up to that point (median, p99);
 *  - healthy runs: a false alarm is any suspect in any window once the
 *    traffic has started (the first WARMUP snapshots are not judged).
 *
 * A leaf-spine link named together with the other leaf's link to the same
 * spine ("leafA - spine S or leafB - spine S": the diagnoser does so when
 * every pair line through one crosses the other too, so that no telemetry
 * tells which) is not top-1; such runs are counted on a line of their own.
 *
 * The simulator's slownic host=H and slowlink host=H degrade the same
 * link the same way (sim/net.c): the issue defines a slow NIC as the
 * host's link at a fraction of its rate, so no telemetry can tell them
 * apart, and either names the right link of the right host.
 *
 * A fault that no traffic met is no fault anyone can see: a lossy link
 * that no packet crossed after it began, or a slow one that never ran
 * half full at its reduced rate (truth.json's bytes_after and busy_ratio,
 * which the simulator measures on the link). Such runs are judged as
 * healthy ones (any suspect is a false alarm) and counted apart from the
 * fault runs' figures.
 *
 *   tita-diag-bench [--runs N] [--healthy N] [--seed S] [-j JOBS] [--sim PATH]
 *                   [--window W] [--sizes 64,128,256] [--sim-ms MS] [--keep DIR]
 *                   [--cached-only] [--workloads ring|alltoall|both] [-v [-v]]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag/diag_source.h"
#include "tita-config.h"

extern char **environ;

#define HORIZON 10
#define WARMUP 2
#define HOSTS_PER_LEAF 16
#define SPINES 4

enum fault {
	F_NONE,
	F_SLOWHOST,
	F_SLOWNIC,
	F_SLOWLINK_HOST,
	F_SLOWLINK_SPINE,
	F_LOSSY_HOST,
	F_LOSSY_SPINE,
	F_DEAD,
	F_PFC,
	N_FAULTS,
};

static const char *const fault_label[N_FAULTS] = {
	"healthy",	    "slow-host",	 "slow-nic",  "slow-link(host)", "slow-link(spine)",
	"lossy-link(host)", "lossy-link(spine)", "dead-host", "pfc-storm",
};

struct run {
	int id;
	uint64_t seed;
	int hosts, leaves;
	bool alltoall, background;
	enum fault fault;
	int host, leaf, spine;
	double severity, at_ms;
	/* results */
	bool sim_ok, judged;
	bool unexercised; /* no traffic met the fault: judged as healthy */
	double busy_ratio;
	long long bytes_after; /* -1: not measured */
	int at_interval, n_snaps;
	bool correct, class_correct, state_correct;
	/* Not top-1, but the right leaf-spine link named with the other
	 * leaf's link to the same spine that no pair line tells apart. */
	bool twin_named;
	int loc_intervals; /* -1: never stable */
	bool false_alarm;
	char answer[400];
	double diag_ms;
};

static struct {
	const char *sim, *keep;
	int jobs, runs, healthy, window, sim_ms;
	uint64_t seed;
	int sizes[8], n_sizes;
	bool verbose, cached_only;
	int trace; /* -v twice: every window's first two suspects */
	int workloads; /* 1 ring, 2 alltoall, 3 both */
	double min_class; /* exit 1 below this top-1 (class) accuracy, % */
	int max_false_alarms; /* exit 1 above this; -1: no limit */
} opt = {
	.workloads = 3,
	.min_class = -1,
	.max_false_alarms = -1,
	.sim = TITA_SIM_PATH,
	.jobs = 2,
	.runs = 200,
	.healthy = 100,
	.window = DIAG_WINDOW_DEFAULT,
	.sim_ms = 18,
	.seed = 1,
	.sizes = { 64, 128, 256 },
	.n_sizes = 3,
};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * (double)(splitmix(s) >> 11) / (double)(1ull << 53);
}

static int pick(uint64_t *s, int n)
{
	return (int)(splitmix(s) % (uint64_t)n);
}

static void draw(struct run *r, int id, bool healthy, uint64_t *rng)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->seed = splitmix(rng) % 1000000000 + 1;
	r->hosts = opt.sizes[pick(rng, opt.n_sizes)];
	r->leaves = r->hosts / HOSTS_PER_LEAF;
	r->alltoall = pick(rng, 2);
	if (opt.workloads != 3)
		r->alltoall = opt.workloads == 2;
	r->background = pick(rng, 2);
	r->fault = healthy ? F_NONE : (enum fault)(1 + pick(rng, N_FAULTS - 1));
	r->host = pick(rng, r->hosts);
	r->leaf = pick(rng, r->leaves);
	r->spine = pick(rng, SPINES);
	/* Slow: 10..50 % of the rate left; lossy: 0.5..5 % of packets lost.
	 * A 400G uplink keeps 20..80G: less than one host's 100G, or it
	 * would slow nothing (a slower link that nothing fills is no fault
	 * anyone can see). */
	r->severity = r->fault == F_LOSSY_HOST || r->fault == F_LOSSY_SPINE ?
			      uniform(rng, 0.005, 0.05) :
		      r->fault == F_SLOWLINK_SPINE ? uniform(rng, 0.05, 0.2) :
						     uniform(rng, 0.1, 0.5);
	/* After warm-up, and with HORIZON intervals left before the end. */
	r->at_ms = uniform(rng, WARMUP + 2, opt.sim_ms - HORIZON - 1);
	r->loc_intervals = -1;
}

static int write_scenario(const struct run *r, const char *path)
{
	FILE *f = fopen(path, "w");
	int ms = opt.sim_ms;

	if (!f)
		return -errno;
	fprintf(f,
		"[scenario]\nname = diag%d\ntitle = diagnosis benchmark run %d\n"
		"[topology]\nkind = leafspine\nleaves = %d\nhosts_per_leaf = %d\nspines = %d\n"
		"host_gbps = 100\nfabric_gbps = 400\nlink_delay_ns = 1000\n"
		"[switch]\nbuffer_kb = 32768\n"
		"[run]\nseed = %llu\nmax_time_ms = %d\ntelemetry_interval_us = 1000\n"
		"[traffic]\n",
		r->id, r->id, r->leaves, HOSTS_PER_LEAF, SPINES, (unsigned long long)r->seed, ms);
	if (r->alltoall)
		/* Each rank's part of one all-to-all takes about 1.3 ms at 100G. */
		fprintf(f, "alltoall name=train hosts=all size=%dKB until=%dms primary\n",
			16 * 256 / r->hosts * 4, ms);
	else
		fprintf(f, "ring name=train hosts=all size=%dMB until=%dms primary\n", r->hosts / 4,
			ms);
	if (r->background)
		fprintf(f, "websearch name=bg hosts=all load=0.2 duration=%dms job=1\n", ms);
	if (r->fault != F_NONE) {
		fprintf(f, "[faults]\n");
		switch (r->fault) {
		case F_SLOWHOST:
			fprintf(f, "slowhost host=%d frac=%.3f", r->host, r->severity);
			break;
		case F_SLOWNIC:
			fprintf(f, "slownic host=%d frac=%.3f", r->host, r->severity);
			break;
		case F_SLOWLINK_HOST:
			fprintf(f, "slowlink host=%d frac=%.3f", r->host, r->severity);
			break;
		case F_SLOWLINK_SPINE:
			fprintf(f, "slowlink leaf=%d spine=%d frac=%.3f", r->leaf, r->spine,
				r->severity);
			break;
		case F_LOSSY_HOST:
			fprintf(f, "lossy host=%d drop=%.4f", r->host, r->severity);
			break;
		case F_LOSSY_SPINE:
			fprintf(f, "lossy leaf=%d spine=%d drop=%.4f", r->leaf, r->spine,
				r->severity);
			break;
		case F_DEAD:
			fprintf(f, "dead host=%d", r->host);
			break;
		case F_PFC:
			fprintf(f, "pfcstorm host=%d", r->host);
			break;
		default:
			break;
		}
		fprintf(f, " at=%.3fms\n", r->at_ms);
	}
	if (fclose(f))
		return -errno;
	return 0;
}

/* What the diagnoser should answer for r: kind, culprit, and the kind
 * that the same telemetry would also fit (slow NIC = slow host link). */
static void expected(const struct run *r, enum tita_diag_kind *kind, char *culprit, size_t size,
		     enum tita_diag_kind *alt_kind, char *alt, size_t alt_size)
{
	*alt_kind = TITA_DIAG_HEALTHY;
	alt[0] = '\0';
	switch (r->fault) {
	case F_SLOWHOST:
		*kind = TITA_DIAG_SLOW_HOST;
		snprintf(culprit, size, "h%d", r->host);
		break;
	case F_SLOWNIC:
	case F_SLOWLINK_HOST:
		*kind = r->fault == F_SLOWNIC ? TITA_DIAG_SLOW_NIC : TITA_DIAG_SLOW_LINK;
		*alt_kind = r->fault == F_SLOWNIC ? TITA_DIAG_SLOW_LINK : TITA_DIAG_SLOW_NIC;
		snprintf(r->fault == F_SLOWNIC ? culprit : alt,
			 r->fault == F_SLOWNIC ? size : alt_size, "h%d", r->host);
		snprintf(r->fault == F_SLOWNIC ? alt : culprit,
			 r->fault == F_SLOWNIC ? alt_size : size, "host link of h%d", r->host);
		break;
	case F_SLOWLINK_SPINE:
	case F_LOSSY_SPINE:
		/* "uplinks of leafL" is not the link: a miss. */
		*kind = r->fault == F_LOSSY_SPINE ? TITA_DIAG_LOSSY_LINK : TITA_DIAG_SLOW_LINK;
		snprintf(culprit, size, "leaf%d - spine %d", r->leaf, r->spine);
		break;
	case F_LOSSY_HOST:
		*kind = TITA_DIAG_LOSSY_LINK;
		snprintf(culprit, size, "host link of h%d", r->host);
		break;
	case F_DEAD:
		*kind = TITA_DIAG_DEAD_HOST;
		snprintf(culprit, size, "h%d", r->host);
		break;
	case F_PFC:
		*kind = TITA_DIAG_PFC_STORM;
		snprintf(culprit, size, "h%d", r->host);
		break;
	default:
		*kind = TITA_DIAG_HEALTHY;
		culprit[0] = '\0';
	}
}

/* truth.json's "at_interval" of the fault (the first snapshot it is in),
 * and what crossed its link after it began (-1 where not measured). */
static int truth_at_interval(const char *dir, long long *ret_bytes_after, double *ret_busy)
{
	char path[1300], *buf = NULL, *p;
	size_t cap = 0;
	FILE *f;
	int at = -1;

	*ret_bytes_after = -1;
	*ret_busy = -1;
	snprintf(path, sizeof(path), "%s/truth.json", dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (getdelim(&buf, &cap, '\0', f) > 0) {
		if ((p = strstr(buf, "\"at_interval\":")))
			at = atoi(p + 14);
		if ((p = strstr(buf, "\"bytes_after\":")))
			*ret_bytes_after = atoll(p + 14);
		if ((p = strstr(buf, "\"busy_ratio\":")))
			*ret_busy = atof(p + 13);
	}
	free(buf);
	fclose(f);
	return at;
}

/* Whether any traffic met the fault (see the top): a lossy link that
 * carried at least a megabyte after it began (some hundreds of packets,
 * so that a loss of 0.5 % shows), a slow one that ran at least half full
 * at its reduced rate. Faults without a link, or a telemetry without the
 * figures (an older simulator), count as met. */
static bool exercised(const struct run *r)
{
	if (r->bytes_after < 0)
		return true;
	switch (r->fault) {
	case F_LOSSY_HOST:
	case F_LOSSY_SPINE:
		return r->bytes_after >= 1000000;
	case F_SLOWNIC:
	case F_SLOWLINK_HOST:
	case F_SLOWLINK_SPINE:
		return r->busy_ratio >= 0.5;
	default:
		return true;
	}
}

/* Whether a suspect naming two leaves' links to one spine ("leafA -
 * spine S or leafB - spine S") has leaf L's among them. */
static bool top_names_link(const struct tita_diag_suspect *top, int leaf, int spine)
{
	char name[32], sp[16];

	snprintf(name, sizeof(name), "leaf%d", leaf);
	snprintf(sp, sizeof(sp), "%d", spine);
	return !strcmp(top->spine, sp) &&
	       (!strcmp(top->leaf, name) || !strcmp(top->leaf_other, name));
}

static void judge(struct run *r, const char *dir)
{
	struct tita_diag_params params;
	struct tita_diag_result *res = malloc(sizeof(*res));
	struct diag_snaps all = { 0 };
	char err[DIAG_ERR_LEN], culprit[160], alt[160];
	enum tita_diag_kind kind, alt_kind;
	int first, last, stable_from = -1;
	struct timespec t0, t1;

	if (!res)
		return;
	tita_diag_params_default(&params);
	expected(r, &kind, culprit, sizeof(culprit), &alt_kind, alt, sizeof(alt));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* One load of the directory: the same parser and files as --file DIR,
	 * and each window below is what --window W on them diagnoses. */
	if (diag_load_path(&all, dir, err)) {
		fprintf(stderr, "tita-diag-bench: run %d: %s\n", r->id, err);
		free(res);
		return;
	}
	r->n_snaps = (int)all.n;
	r->at_interval = r->fault == F_NONE ?
				 WARMUP + 1 :
				 truth_at_interval(dir, &r->bytes_after, &r->busy_ratio);
	r->unexercised = r->fault != F_NONE && !exercised(r);
	if (r->at_interval < 1 || r->at_interval > r->n_snaps) {
		fprintf(stderr, "tita-diag-bench: run %d: fault at interval %d of %d snapshots\n",
			r->id, r->at_interval, r->n_snaps);
		diag_snaps_free(&all);
		free(res);
		return;
	}
	/* Snapshot k (1-based) is all.docs[k - 1]. */
	first = r->at_interval;
	last = r->fault == F_NONE ? r->n_snaps :
				    (first + HORIZON <= r->n_snaps ? first + HORIZON : r->n_snaps);
	for (int k = first; k <= last; k++) {
		struct diag_snaps view = all;
		const struct tita_diag_suspect *top;
		bool ok, ok_class;

		view.n = (size_t)k;
		if (diag_run(&view, (size_t)opt.window, &params, res, err)) {
			fprintf(stderr, "tita-diag-bench: run %d: %s\n", r->id, err);
			break;
		}
		top = res->n_suspects ? &res->suspects[0] : NULL;
		if (opt.trace)
			printf("  run %d k %d: %s %s %.2f | %s %s %.2f\n", r->id, k,
			       top ? tita_diag_kind_name(top->kind) : "none",
			       top ? top->culprit : "-", top ? top->score : 0,
			       res->n_suspects > 1 ? tita_diag_kind_name(res->suspects[1].kind) :
						     "none",
			       res->n_suspects > 1 ? res->suspects[1].culprit : "-",
			       res->n_suspects > 1 ? res->suspects[1].score : 0);
		if (r->fault == F_NONE || r->unexercised) {
			if (top && !r->false_alarm) {
				r->false_alarm = true;
				snprintf(r->answer, sizeof(r->answer), "%s %s at %d",
					 tita_diag_kind_name(top->kind), top->culprit, k);
			}
			continue;
		}
		ok = top && top->kind == kind && !strcmp(top->culprit, culprit);
		ok_class = ok || (top && alt[0] &&
				  ((top->kind == alt_kind && !strcmp(top->culprit, alt)) ||
				   (top->kind == kind && !strcmp(top->culprit, alt)) ||
				   (top->kind == alt_kind && !strcmp(top->culprit, culprit))));
		if (ok_class && stable_from < 0)
			stable_from = k;
		if (!ok_class)
			stable_from = -1;
		if (k == last) {
			r->twin_named =
				!ok_class && top && top->kind == kind && top->leaf_other[0] &&
				(r->fault == F_LOSSY_SPINE || r->fault == F_SLOWLINK_SPINE) &&
				top_names_link(top, r->leaf, r->spine);
			r->correct = ok;
			r->class_correct = ok_class;
			r->state_correct = top && top->state == (kind == TITA_DIAG_DEAD_HOST ?
									 TITA_DIAG_FAILED :
									 TITA_DIAG_SLOW);
			snprintf(r->answer, sizeof(r->answer), "%s %s (%.2f)",
				 top ? tita_diag_kind_name(top->kind) : "none",
				 top ? top->culprit : "-", top ? top->confidence : 0);
		}
	}
	if (stable_from >= 0)
		r->loc_intervals = stable_from - first + 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->diag_ms =
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	r->judged = true;
	diag_snaps_free(&all);
	free(res);
}

static char work_dir[1024];

static void run_dir(const struct run *r, char *buf, size_t size)
{
	snprintf(buf, size, "%s/run%04d", work_dir, r->id);
}

static bool finished(const char *tel)
{
	char path[1300];

	snprintf(path, sizeof(path), "%s/truth.json", tel);
	return access(path, R_OK) == 0;
}

static bool same_scenario(const struct run *r, const char *conf)
{
	char tmp[1300], *a = NULL, *b = NULL;
	size_t ca = 0, cb = 0;
	bool same = false;
	FILE *fa, *fb;

	snprintf(tmp, sizeof(tmp), "%s.new", conf);
	if (write_scenario(r, tmp))
		return false;
	fa = fopen(conf, "r");
	fb = fopen(tmp, "r");
	if (fa && fb && getdelim(&a, &ca, '\0', fa) > 0 && getdelim(&b, &cb, '\0', fb) > 0)
		same = !strcmp(a, b);
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	unlink(tmp);
	free(a);
	free(b);
	return same;
}

static pid_t start_sim(struct run *r)
{
	char dir[1100], conf[1200], tel[1200], log[1200];
	char *argv[] = { (char *)opt.sim, "-q", "-c", "tita", "--telemetry", tel, conf, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	run_dir(r, dir, sizeof(dir));
	snprintf(conf, sizeof(conf), "%s/scenario.conf", dir);
	snprintf(tel, sizeof(tel), "%s/telemetry", dir);
	snprintf(log, sizeof(log), "%s/sim.log", dir);
	if (opt.cached_only && !finished(tel))
		return -2;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	/* --keep DIR again: a run whose scenario is the same and whose
	 * telemetry is complete is diagnosed again without simulating it. */
	if (opt.keep && same_scenario(r, conf) && finished(tel))
		return 0;
	if (opt.cached_only)
		return -2;
	if (write_scenario(r, conf))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	rc = posix_spawn(&pid, opt.sim, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		fprintf(stderr, "tita-diag-bench: cannot run %s: %s\n", opt.sim, strerror(rc));
		return -1;
	}
	return pid;
}

static void remove_tree(const char *dir)
{
	char *cmd;

	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "tita-diag-bench: cannot remove %s\n", dir);
		free(cmd);
	}
}

static void finish(struct run *r, int status)
{
	char dir[1100], tel[1200];

	run_dir(r, dir, sizeof(dir));
	snprintf(tel, sizeof(tel), "%s/telemetry", dir);
	/* 3: not every flow completed by the end: expected, the collectives
	 * repeat until the end and a fault slows them. */
	r->sim_ok = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3);
	if (!r->sim_ok)
		fprintf(stderr, "tita-diag-bench: run %d: tita-sim failed (see %s/sim.log)\n",
			r->id, dir);
	else
		judge(r, tel);
	if (opt.verbose ||
	    (r->judged && r->fault != F_NONE && !r->unexercised && !r->class_correct) ||
	    r->false_alarm)
		printf("run %4d %3d hosts %-8s%s %-17s sev %.3f at %5.2f ms: %s%s%s (loc %d, %.0f "
		       "ms)\n",
		       r->id, r->hosts, r->alltoall ? "alltoall" : "ring",
		       r->background ? "+bg" : "   ", fault_label[r->fault], r->severity, r->at_ms,
		       r->unexercised ? "no traffic met it, " : "",
		       r->fault == F_NONE || r->unexercised ?
			       (r->false_alarm ? "FALSE ALARM " : "quiet") :
		       r->correct	? "ok " :
		       r->class_correct ? "ok(class) " :
					  "WRONG ",
		       r->answer, r->loc_intervals, r->diag_ms);
	fflush(stdout);
	if (!opt.keep && r->sim_ok)
		remove_tree(dir);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int percentile(int *v, int n, double q)
{
	if (!n)
		return -1;
	qsort(v, (size_t)n, sizeof(*v), cmp_int);
	return v[(int)ceil(q * n) - 1 < 0 ? 0 : (int)ceil(q * n) - 1];
}

static void report_row(const char *name, struct run *runs, int n,
		       bool (*in)(const struct run *, const void *), const void *arg)
{
	int total = 0, ok = 0, cls = 0, st = 0, loc[4096], n_loc = 0;

	for (int i = 0; i < n; i++) {
		struct run *r = &runs[i];

		if (!r->judged || r->fault == F_NONE || r->unexercised || !in(r, arg))
			continue;
		total++;
		ok += r->correct;
		cls += r->class_correct;
		st += r->state_correct;
		if (r->loc_intervals >= 0 && n_loc < 4096)
			loc[n_loc++] = r->loc_intervals;
	}
	if (!total)
		return;
	printf("  %-18s %4d  %6.1f %%  %6.1f %%  %6.1f %%   %4d  %4d\n", name, total,
	       100.0 * ok / total, 100.0 * cls / total, 100.0 * st / total,
	       percentile(loc, n_loc, 0.5), percentile(loc, n_loc, 0.99));
}

static bool in_kind(const struct run *r, const void *arg)
{
	return r->fault == *(const enum fault *)arg;
}

static bool in_size(const struct run *r, const void *arg)
{
	return r->hosts == *(const int *)arg;
}

static bool in_all(const struct run *r, const void *arg)
{
	(void)arg;
	(void)r;
	return true;
}

static bool in_workload(const struct run *r, const void *arg)
{
	int w = *(const int *)arg;

	return r->alltoall == (w & 1) && r->background == !!(w & 2);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tita-diag-bench [--runs N] [--healthy N] [--seed S] [-j JOBS] [--sim PATH]\n"
		"                       [--window W] [--sizes 64,128,256] [--sim-ms MS] [--keep DIR] "
		"[-v]\n"
		"  --runs N      single-fault runs (default 200)\n"
		"  --healthy N   runs without a fault (default 100)\n"
		"  --seed S      draws every run's parameters (default 1)\n"
		"  -j JOBS       simulator runs at once (default 2)\n"
		"  --window W    snapshots per diagnosis, as titactl diagnose --window (default %d)\n"
		"  --sim-ms MS   simulated time per run (default 18; telemetry every 1 ms)\n"
		"  --keep DIR    keep every run's scenario, log and telemetry under DIR\n"
		"  --cached-only with --keep DIR: diagnose only the runs DIR holds\n"
		"  --workloads ring|alltoall|both   the collective drawn (default both)\n"
		"  --min-class PCT, --max-false-alarms N   exit 1 when the top-1 accuracy\n"
		"                (the right host or link; slow-nic and slow-link of a host's link\n"
		"                as one) is below PCT, or the healthy runs (and the faults no\n"
		"                traffic met) raise more than N false alarms\n"
		"  -v            a line per run (otherwise only the wrong ones); twice: and\n"
		"                every window's first two suspects, with their scores\n",
		DIAG_WINDOW_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "healthy", required_argument, NULL, 'H' },
		{ "seed", required_argument, NULL, 's' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "sim", required_argument, NULL, 'S' },
		{ "window", required_argument, NULL, 'w' },
		{ "sizes", required_argument, NULL, 'z' },
		{ "sim-ms", required_argument, NULL, 'm' },
		{ "keep", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "cached-only", no_argument, NULL, 'C' },
		{ "workloads", required_argument, NULL, 'W' },
		{ "min-class", required_argument, NULL, 'M' },
		{ "max-false-alarms", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run *runs;
	pid_t *pids;
	int c, n, next = 0, running = 0, sim_failed = 0, false_alarms = 0, healthy_judged = 0;
	uint64_t rng;

	while ((c = getopt_long(argc, argv, "r:H:s:j:S:w:z:m:k:vh", lopts, NULL)) != -1) {
		char *end;

		errno = 0;
		switch (c) {
		case 'r':
			opt.runs = (int)strtol(optarg, &end, 10);
			break;
		case 'H':
			opt.healthy = (int)strtol(optarg, &end, 10);
			break;
		case 's':
			opt.seed = strtoull(optarg, &end, 10);
			break;
		case 'j':
			opt.jobs = (int)strtol(optarg, &end, 10);
			break;
		case 'w':
			opt.window = (int)strtol(optarg, &end, 10);
			break;
		case 'm':
			opt.sim_ms = (int)strtol(optarg, &end, 10);
			break;
		case 'S':
			opt.sim = optarg;
			continue;
		case 'k':
			opt.keep = optarg;
			continue;
		case 'v':
			opt.trace = opt.verbose;
			opt.verbose = true;
			continue;
		case 'C':
			opt.cached_only = true;
			continue;
		case 'W':
			if (!strcmp(optarg, "ring"))
				opt.workloads = 1;
			else if (!strcmp(optarg, "alltoall"))
				opt.workloads = 2;
			else if (!strcmp(optarg, "both"))
				opt.workloads = 3;
			else {
				fprintf(stderr,
					"tita-diag-bench: --workloads ring, alltoall or both\n");
				return 2;
			}
			continue;
		case 'M':
			opt.min_class = strtod(optarg, &end);
			break;
		case 'F':
			opt.max_false_alarms = (int)strtol(optarg, &end, 10);
			break;
		case 'z': {
			char *save = NULL, *list = strdup(optarg);

			opt.n_sizes = 0;
			for (char *t = strtok_r(list, ",", &save); t && opt.n_sizes < 8;
			     t = strtok_r(NULL, ",", &save)) {
				int h = atoi(t);

				if (h < 32 || h > 4096 || h % HOSTS_PER_LEAF) {
					fprintf(stderr,
						"tita-diag-bench: --sizes: %s is not 32..4096 hosts in "
						"leaves of %d\n",
						t, HOSTS_PER_LEAF);
					return 2;
				}
				opt.sizes[opt.n_sizes++] = h;
			}
			free(list);
			if (!opt.n_sizes) {
				fprintf(stderr, "tita-diag-bench: --sizes: no size\n");
				return 2;
			}
			continue;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (*end || errno) {
			fprintf(stderr, "tita-diag-bench: '%s' is not a number\n", optarg);
			return 2;
		}
	}
	if (optind != argc || opt.runs < 0 || opt.healthy < 0 || opt.runs + opt.healthy == 0 ||
	    opt.jobs < 1 || opt.jobs > 64 || opt.window < 0 || opt.sim_ms < WARMUP + HORIZON + 4) {
		fprintf(stderr, "tita-diag-bench: bad arguments (--sim-ms at least %d)\n",
			WARMUP + HORIZON + 4);
		usage(stderr);
		return 2;
	}
	if (access(opt.sim, X_OK)) {
		fprintf(stderr, "tita-diag-bench: %s: %s (--sim PATH)\n", opt.sim, strerror(errno));
		return 1;
	}
	if (opt.keep) {
		if (mkdir(opt.keep, 0755) && errno != EEXIST) {
			fprintf(stderr, "tita-diag-bench: %s: %s\n", opt.keep, strerror(errno));
			return 1;
		}
		snprintf(work_dir, sizeof(work_dir), "%s", opt.keep);
	} else {
		snprintf(work_dir, sizeof(work_dir), "%s/tita-diag-bench.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(work_dir)) {
			fprintf(stderr, "tita-diag-bench: %s: %s\n", work_dir, strerror(errno));
			return 1;
		}
	}
	n = opt.runs + opt.healthy;
	runs = calloc((size_t)n, sizeof(*runs));
	pids = calloc((size_t)n, sizeof(*pids));
	if (!runs || !pids)
		return 1;
	rng = opt.seed;
	/* Faulty and healthy runs interleaved, so a short count has both. */
	for (int i = 0, f = 0, h = 0; i < n; i++) {
		bool healthy = h * (long)opt.runs < f * (long)opt.healthy || f == opt.runs;

		if (healthy && h == opt.healthy)
			healthy = false;
		draw(&runs[i], i, healthy, &rng);
		healthy ? h++ : f++;
	}
	printf("tita-diag-bench %s: %d fault runs, %d healthy, seed %llu, %d at once, window %d, "
	       "%d ms each\n",
	       TITA_VERSION, opt.runs, opt.healthy, (unsigned long long)opt.seed, opt.jobs,
	       opt.window, opt.sim_ms);
	fflush(stdout);
	while (next < n || running) {
		int status;
		pid_t pid;

		while (next < n && running < opt.jobs) {
			pids[next] = start_sim(&runs[next]);
			if (pids[next] == -2) {
				/* --cached-only: not in --keep DIR, skipped. */
			} else if (pids[next] < 0) {
				runs[next].sim_ok = false;
				sim_failed++;
			} else if (pids[next] == 0) {
				/* Kept from an earlier run of the bench. */
				finish(&runs[next], 0);
			} else {
				running++;
			}
			next++;
		}
		if (!running)
			continue;
		pid = wait(&status);
		if (pid < 0)
			break;
		running--;
		for (int i = 0; i < next; i++)
			if (pids[i] > 0 && pids[i] == pid) {
				pids[i] = 0;
				finish(&runs[i], status);
				sim_failed += !runs[i].sim_ok;
				break;
			}
	}
	printf("\nfault runs (HORIZON=%d intervals after the fault; top-1: the right host or link, "
	       "slow-nic and\n slow-link of a host's link as one; kind: as injected):\n",
	       HORIZON);
	printf("  %-18s %4s  %8s  %8s  %8s  %s\n", "fault", "runs", "kind", "top-1", "slow/fail",
	       "intervals to localize (median, p99)");
	for (int k = 1; k < N_FAULTS; k++) {
		enum fault f = (enum fault)k;

		report_row(fault_label[k], runs, n, in_kind, &f);
	}
	report_row("all", runs, n, in_all, NULL);
	{
		int twins = 0;

		for (int i = 0; i < n; i++)
			twins += runs[i].judged && runs[i].fault != F_NONE &&
				 !runs[i].unexercised && runs[i].twin_named;
		if (twins)
			printf("  (not in top-1: %d named the right leaf-spine link with the other "
			       "leaf's link to its spine, which no pair line tells apart)\n",
			       twins);
	}
	printf("by size:\n");
	for (int s = 0; s < opt.n_sizes; s++) {
		char name[32];

		snprintf(name, sizeof(name), "%d hosts", opt.sizes[s]);
		report_row(name, runs, n, in_size, &opt.sizes[s]);
	}
	printf("by workload:\n");
	for (int w = 0; w < 4; w++) {
		static const char *const names[] = { "ring", "alltoall", "ring+bg", "alltoall+bg" };

		report_row(names[w], runs, n, in_workload, &w);
	}
	for (int i = 0; i < n; i++)
		if (runs[i].judged && runs[i].fault == F_NONE) {
			healthy_judged++;
			false_alarms += runs[i].false_alarm;
		}
	printf("healthy runs: %d judged, %d false alarm%s", healthy_judged, false_alarms,
	       false_alarms == 1 ? "" : "s");
	for (int s = 0; s < opt.n_sizes; s++) {
		int nh = 0, fa = 0;

		for (int i = 0; i < n; i++)
			if (runs[i].judged && runs[i].fault == F_NONE &&
			    runs[i].hosts == opt.sizes[s]) {
				nh++;
				fa += runs[i].false_alarm;
			}
		printf("%s%d hosts %d/%d", s ? ", " : " (", opt.sizes[s], fa, nh);
	}
	printf(")\n");
	{
		int un = 0, un_fa = 0;

		for (int i = 0; i < n; i++)
			if (runs[i].judged && runs[i].unexercised) {
				un++;
				un_fa += runs[i].false_alarm;
			}
		if (un)
			printf("faults no traffic met (judged as healthy, not in the figures above): "
			       "%d, %d false alarm%s\n",
			       un, un_fa, un_fa == 1 ? "" : "s");
		false_alarms += un_fa;
	}
	if (sim_failed)
		printf("simulator runs failed: %d (not counted)\n", sim_failed);
	{
		int judged = 0, cls = 0, missed = 0;

		for (int i = 0; i < n; i++)
			if (runs[i].judged && runs[i].fault != F_NONE && !runs[i].unexercised) {
				judged++;
				cls += runs[i].class_correct;
			}
		if (opt.min_class >= 0 && (!judged || 100.0 * cls / judged < opt.min_class)) {
			printf("MISSED: top-1 %d of %d, below %.1f %%\n", cls, judged,
			       opt.min_class);
			missed = 1;
		}
		if (opt.max_false_alarms >= 0 && false_alarms > opt.max_false_alarms) {
			printf("MISSED: %d false alarms, more than %d\n", false_alarms,
			       opt.max_false_alarms);
			missed = 1;
		}
		if (sim_failed && (opt.min_class >= 0 || opt.max_false_alarms >= 0)) {
			printf("MISSED: %d simulator runs failed\n", sim_failed);
			missed = 1;
		}
		if (!opt.keep)
			rmdir(work_dir);
		free(runs);
		free(pids);
		return missed;
	}
}
