// SPDX-License-Identifier: MIT
/*
 * titad.conf: inih does the INI syntax, this file the meaning of each key.
 *
 * inih reads lines through a reader callback; ours reads from the caller's
 * buffer and counts lines, so every error names file:line even with the
 * distribution's build of inih (which does not pass line numbers to the
 * handler). The reader also sees section headers before inih does, which
 * lets a section without keys ("[port eth0]" with every default) exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

enum section_kind {
	SEC_NONE = 0, /* before any header: keys there are errors */
	SEC_DAEMON,
	SEC_CONTROLLER,
	SEC_PEERS,
	SEC_PORT,
	SEC_JOB,
	SEC_FABRIC,
	SEC_HEALTH,
	SEC_BAD, /* an unknown section: its keys are not reported again */
};

struct pctx {
	const char *path;
	const char *buf;
	size_t len, off;
	int line;

	struct titad_config cfg;
	enum section_kind sec;
	struct titad_port_conf *port;
	struct titad_job_conf *job;

	/* Lines of the keys that later cross-checks blame (0: not set): the
	 * controller's by their index in lib's parameter table. */
	int param_line[TITA_CTL_N_PARAMS];
	int line_coalesce;

	/* Every problem, one per line of the file (the first said there);
	 * line 0 or -1 blames the whole file. */
	int err_line; /* the first problem's; 0: none yet */
	uint32_t n_errs, errs_dropped;
	struct perr {
		int line;
		char msg[200];
	} errs[TITAD_CONFIG_ERRORS_MAX];
};

static void fail(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct pctx *c, const char *fmt, ...)
{
	int line = c->line ? c->line : -1;
	char msg[sizeof(c->errs[0].msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A line says its first problem once; the whole file (line -1) may
	 * have several. */
	for (uint32_t i = 0; i < c->n_errs; i++)
		if (c->errs[i].line == line && (line > 0 || !strcmp(c->errs[i].msg, msg)))
			return;
	if (!c->err_line)
		c->err_line = line;
	if (c->n_errs == TITAD_CONFIG_ERRORS_MAX) {
		c->errs_dropped++;
		return;
	}
	c->errs[c->n_errs].line = line;
	memcpy(c->errs[c->n_errs].msg, msg, sizeof(msg));
	c->n_errs++;
}

static int perr_cmp(const void *va, const void *vb)
{
	const struct perr *a = va, *b = vb;

	return (a->line > b->line) - (a->line < b->line);
}

/* Every problem on its own line, in the order of the file. */
static void format_errors(struct pctx *c, char *err, size_t err_size)
{
	size_t off = 0;

	qsort(c->errs, c->n_errs, sizeof(c->errs[0]), perr_cmp);
	for (uint32_t i = 0; i < c->n_errs && off < err_size; i++) {
		int n;

		if (c->errs[i].line > 0)
			n = snprintf(err + off, err_size - off, "%s%s:%d: %s", i ? "\n" : "",
				     c->path, c->errs[i].line, c->errs[i].msg);
		else
			n = snprintf(err + off, err_size - off, "%s%s: %s", i ? "\n" : "", c->path,
				     c->errs[i].msg);
		off += n > 0 ? (size_t)n : 0;
	}
	if (c->errs_dropped && off < err_size)
		snprintf(err + off, err_size - off, "\n%s: and %u more problems", c->path,
			 c->errs_dropped);
}

void titad_config_defaults(struct titad_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = TITAD_LOG_INFO;
	cfg->pacer = TITAD_PACER_AUTO;
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "/run/tita/control.sock");
	snprintf(cfg->control_group, sizeof(cfg->control_group), "tita");
	cfg->control_mode = 0660;
	cfg->control_clients = 64;
	cfg->control_clients_per_uid = 8;
	cfg->control_idle_timeout_ns = 10 * TITA_NSEC_PER_SEC;
	snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "127.0.0.1:9977");
	cfg->metrics_pairs = 16;
	snprintf(cfg->pin_root, sizeof(cfg->pin_root), "/sys/fs/bpf/tita");
	cfg->xdp_mode = TITAD_XDP_AUTO;
	cfg->datapath_entries = 4096;
	/* The device-queue sampler costs ~70 map reads a pass and the
	 * controller does not use its signal yet. */
	cfg->queue_sampler = 2;
	cfg->loss_count = true;
	snprintf(cfg->agent_socket, sizeof(cfg->agent_socket), "/run/tita/agent.sock");
	cfg->agents_per_uid = 64;
	cfg->agent_qps_per_uid = 16384;
	cfg->agent_qps = 65536;
	snprintf(cfg->sysfs_root, sizeof(cfg->sysfs_root), "/sys");
	snprintf(cfg->proc_root, sizeof(cfg->proc_root), "/proc");
	/* A dump of every QP costs a few netlink round trips per device:
	 * once a second finds a job's QPs while it starts. */
	cfg->qp_scan_interval_ns = TITA_NSEC_PER_SEC;
	cfg->health_interval_ns = TITA_NSEC_PER_SEC;
	cfg->health_pairs = 16;
	/* RoCE's usual lossless priority (mlx5's and most vendors' default). */
	cfg->health_pause_priority = 3;
	tita_ctl_params_default(&cfg->params);
	tita_fabric_conf_defaults(&cfg->fabric);
	/* titad reads every port's BPF maps once per interval: 1 ms, not the
	 * controller's simulated 100 us, keeps that under a few percent of a
	 * core. Grant TTL and refresh follow (cross_check). */
	cfg->params.control_interval_ns = TITA_NSEC_PER_MSEC;
	/* A real switch answers an expired TTL from its CPU, in a millisecond
	 * or more, and rate-limits those answers. */
	cfg->params.probe_timeout_ns = 50 * TITA_NSEC_PER_MSEC;
	/* Spines answer probes behind a policer (CoPP, commonly about 1,000
	 * a second per switch) that every host probing them shares: 64 a
	 * second per host keeps a 256-host pod with 16 spines at it
	 * (256 x 64 / 16 = 1,024 per spine). A job's start may go over for a
	 * moment (its new pairs' batches): the burst. */
	cfg->params.probe_rate = 64;
	cfg->fail_open = TITAD_FAIL_OPEN_REMOVE;
	cfg->peer_port = 4792;
	snprintf(cfg->key_file, sizeof(cfg->key_file), "/etc/tita/cluster.key");
	cfg->key_id = 1;
	cfg->max_peers = 4096;
	cfg->boot_id_skew_ns = TITAD_BOOT_ID_SKEW_DEFAULT_NS;
	snprintf(cfg->state_directory, sizeof(cfg->state_directory), "/var/lib/tita");
}

/* ---- value parsers: 0, or -1 after fail() ---------------------------------- */

static int get_duration(struct pctx *c, const char *key, const char *v, uint64_t min_ns,
			uint64_t max_ns, const char *range, uint64_t *ret)
{
	uint64_t ns;
	int r = tita_parse_duration(v, &ns);

	if (r == -EINVAL) {
		fail(c, "%s: '%s' is not a duration (e.g. 1ms, 500us, 2s)", key, v);
		return -1;
	}
	if (r || ns < min_ns || ns > max_ns) {
		fail(c, "%s: '%s' is out of range (%s)", key, v, range);
		return -1;
	}
	*ret = ns;
	return 0;
}

static int get_rate(struct pctx *c, const char *key, const char *v, uint64_t min_bps,
		    const char *range, uint64_t *ret)
{
	uint64_t bps;
	int r = tita_parse_rate(v, &bps);

	if (r == -EINVAL) {
		fail(c, "%s: '%s' is not a rate (e.g. 100G, 400Mbit, 3.2T)", key, v);
		return -1;
	}
	if (r || bps < min_bps) {
		fail(c, "%s: '%s' is out of range (%s)", key, v, range);
		return -1;
	}
	*ret = bps;
	return 0;
}

static int get_double(struct pctx *c, const char *key, const char *v, double min, double max,
		      const char *range, double *ret)
{
	double d;

	if (tita_parse_double(v, &d)) {
		fail(c, "%s: '%s' is not a number", key, v);
		return -1;
	}
	if (d < min || d > max) {
		fail(c, "%s: '%s' is out of range (%s)", key, v, range);
		return -1;
	}
	*ret = d;
	return 0;
}

static int get_u64(struct pctx *c, const char *key, const char *v, uint64_t min, uint64_t max,
		   const char *range, uint64_t *ret)
{
	uint64_t n;
	int r = tita_parse_u64(v, &n);

	if (r == -EINVAL) {
		fail(c, "%s: '%s' is not a whole number", key, v);
		return -1;
	}
	if (r || n < min || n > max) {
		fail(c, "%s: '%s' is out of range (%s)", key, v, range);
		return -1;
	}
	*ret = n;
	return 0;
}

static int get_string(struct pctx *c, const char *key, const char *v, char *out, size_t size,
		      bool absolute_path)
{
	if (strlen(v) >= size) {
		fail(c, "%s: longer than %zu characters", key, size - 1);
		return -1;
	}
	if (absolute_path && v[0] != '/') {
		fail(c, "%s: '%s' is not an absolute path", key, v);
		return -1;
	}
	snprintf(out, size, "%s", v);
	return 0;
}

static int get_enum(struct pctx *c, const char *key, const char *v, const char *const *names,
		    const char *choices, int *ret)
{
	for (int i = 0; names[i]; i++) {
		if (!strcmp(v, names[i])) {
			*ret = i;
			return 0;
		}
	}
	fail(c, "%s: '%s' is not one of %s", key, v, choices);
	return -1;
}

/* A comma- or space-separated list: each item through fn. */
static int each_item(struct pctx *c, const char *v, int (*fn)(struct pctx *c, const char *item))
{
	char item[128];
	const char *p = v;

	while (*p) {
		size_t n;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		n = strcspn(p, ", \t");
		if (n >= sizeof(item)) {
			fail(c, "list item too long: '%.40s...'", p);
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (fn(c, item))
			return -1;
		p += n;
	}
	return 0;
}

static int add_bind(struct pctx *c, const char *item)
{
	struct tita_addr a;

	if (tita_parse_addr(item, &a)) {
		fail(c, "bind: '%s' is not an IP address", item);
		return -1;
	}
	if (c->cfg.n_bind >= TITAD_MAX_BIND) {
		fail(c, "bind: more than %d addresses", TITAD_MAX_BIND);
		return -1;
	}
	c->cfg.bind[c->cfg.n_bind++] = a;
	return 0;
}

static int add_static(struct pctx *c, const char *item)
{
	struct tita_addr a;

	if (tita_parse_addr(item, &a)) {
		fail(c, "static: '%s' is not an IP address", item);
		return -1;
	}
	if (c->cfg.n_static >= TITAD_MAX_STATIC_PEERS) {
		fail(c, "static: more than %d peers", TITAD_MAX_STATIC_PEERS);
		return -1;
	}
	c->cfg.static_peers[c->cfg.n_static++] = a;
	return 0;
}

static int add_dst(struct pctx *c, const char *item)
{
	struct titad_job_conf *j = c->job;
	struct tita_prefix p;

	if (tita_parse_prefix(item, &p)) {
		fail(c, "dst: '%s' is not an address or prefix (e.g. 10.0.0.0/24)", item);
		return -1;
	}
	if (j->n_dst >= TITAD_MAX_JOB_DST) {
		fail(c, "dst: more than %d prefixes", TITAD_MAX_JOB_DST);
		return -1;
	}
	j->dst[j->n_dst++] = p;
	return 0;
}

/* ---- sections ------------------------------------------------------------------ */

static const char *const log_names[] = { "",	   "",	   "",	    "err", "warning",
					 "notice", "info", "debug", NULL };
static const char *const pacer_names[] = { "tc", "dry-run", "qp", "dcb", "auto", NULL };
static const char *const fail_open_names[] = { "remove", "line-rate", NULL };
static const char *const xdp_names[] = { "auto", "native", "generic", "off", NULL };
static const char *const queue_names[] = { "auto", "on", "off", NULL };
static const char *const onoff_names[] = { "on", "off", NULL };

const char *titad_log_level_name(enum titad_log_level l)
{
	return l >= TITAD_LOG_ERR && l <= TITAD_LOG_DEBUG ? log_names[l] : "?";
}

const char *titad_pacer_name(enum titad_pacer_kind k)
{
	return k <= TITAD_PACER_AUTO ? pacer_names[k] : "?";
}

static void begin_section(struct pctx *c, const char *name)
{
	char kind[16];
	const char *arg;
	size_t n;

	c->port = NULL;
	c->job = NULL;
	n = strcspn(name, " \t");
	arg = name + n;
	while (*arg == ' ' || *arg == '\t')
		arg++;
	if (n >= sizeof(kind)) {
		c->sec = SEC_BAD;
		fail(c, "unknown section [%s]", name);
		return;
	}
	memcpy(kind, name, n);
	kind[n] = '\0';

	if (!strcmp(kind, "daemon") || !strcmp(kind, "controller") || !strcmp(kind, "peers") ||
	    !strcmp(kind, "fabric") || !strcmp(kind, "health")) {
		c->sec = kind[0] == 'd' ? SEC_DAEMON :
			 kind[0] == 'c' ? SEC_CONTROLLER :
			 kind[0] == 'p' ? SEC_PEERS :
			 kind[0] == 'h' ? SEC_HEALTH :
					  SEC_FABRIC;
		if (*arg) {
			c->sec = SEC_BAD;
			fail(c, "[%s] takes no name", kind);
		}
		return;
	}
	if (!strcmp(kind, "port")) {
		c->sec = SEC_BAD;
		if (!*arg || strlen(arg) >= IF_NAMESIZE || strpbrk(arg, " \t/")) {
			fail(c, "[port %s]: not a network device name", arg);
			return;
		}
		for (uint32_t i = 0; i < c->cfg.n_ports; i++) {
			if (!strcmp(c->cfg.ports[i].ifname, arg)) {
				fail(c, "[port %s] appears twice (first at line %d)", arg,
				     c->cfg.ports[i].line);
				return;
			}
		}
		if (c->cfg.n_ports >= TITAD_MAX_PORTS) {
			fail(c, "more than %d [port] sections", TITAD_MAX_PORTS);
			return;
		}
		c->port = &c->cfg.ports[c->cfg.n_ports++];
		memset(c->port, 0, sizeof(*c->port));
		snprintf(c->port->ifname, sizeof(c->port->ifname), "%s", arg);
		c->port->line = c->line;
		c->sec = SEC_PORT;
		return;
	}
	if (!strcmp(kind, "job")) {
		c->sec = SEC_BAD;
		if (!tita_job_name_valid(arg)) {
			fail(c, "[job %s]: a job name is 1..%d letters, digits, '_', '-' or '.'",
			     arg, TITA_JOB_NAME_MAX);
			return;
		}
		if (!strcmp(arg, TITA_JOB_DEFAULT_NAME)) {
			fail(c, "[job default]: the default job has no selector; set its policy "
				"with titactl");
			return;
		}
		for (uint32_t i = 0; i < c->cfg.n_jobs; i++) {
			if (!strcmp(c->cfg.jobs[i].name, arg)) {
				fail(c, "[job %s] appears twice (first at line %d)", arg,
				     c->cfg.jobs[i].line);
				return;
			}
			if (tita_job_id(c->cfg.jobs[i].name) == tita_job_id(arg)) {
				fail(c, "[job %s]: its id collides with job %s; rename one", arg,
				     c->cfg.jobs[i].name);
				return;
			}
		}
		if (c->cfg.n_jobs >= TITAD_MAX_CONF_JOBS) {
			fail(c, "more than %d [job] sections", TITAD_MAX_CONF_JOBS);
			return;
		}
		c->job = &c->cfg.jobs[c->cfg.n_jobs++];
		memset(c->job, 0, sizeof(*c->job));
		snprintf(c->job->name, sizeof(c->job->name), "%s", arg);
		c->job->weight_milli = TITA_WEIGHT_ONE;
		c->job->traffic_class = -1;
		c->job->line = c->line;
		c->sec = SEC_JOB;
		return;
	}
	c->sec = SEC_BAD;
	fail(c, "unknown section [%s]", name);
}

/* ---- keys ------------------------------------------------------------------------ */

static int key_daemon(struct pctx *c, const char *k, const char *v)
{
	struct titad_config *g = &c->cfg;
	uint64_t n;
	int e;

	if (!strcmp(k, "log-level")) {
		if (get_enum(c, k, v, log_names, "err, warning, notice, info, debug", &e) ||
		    e < TITAD_LOG_ERR)
			return fail(c,
				    "log-level: '%s' is not one of err, warning, notice, info, "
				    "debug",
				    v),
			       -1;
		g->log_level = (enum titad_log_level)e;
		return 0;
	}
	if (!strcmp(k, "pacer")) {
		if (get_enum(c, k, v, pacer_names, "tc, dry-run, qp, dcb, auto", &e))
			return -1;
		g->pacer = (enum titad_pacer_kind)e;
		return 0;
	}
	if (!strcmp(k, "control-socket"))
		return get_string(c, k, v, g->control_socket, sizeof(g->control_socket), true);
	if (!strcmp(k, "control-group"))
		return get_string(c, k, v, g->control_group, sizeof(g->control_group), false);
	if (!strcmp(k, "control-mode")) {
		char *end;

		errno = 0;
		n = strtoull(v, &end, 8);
		if (!*v || *end || errno || v[0] == '-' || n > 0777)
			return fail(c, "control-mode: '%s' is out of range (octal 0..0777)", v), -1;
		g->control_mode = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "control-clients")) {
		if (get_u64(c, k, v, 2, 1024, "2..1024", &n))
			return -1;
		g->control_clients = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "control-clients-per-uid")) {
		if (get_u64(c, k, v, 1, 1024, "1..1024", &n))
			return -1;
		g->control_clients_per_uid = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "control-idle-timeout"))
		return get_duration(c, k, v, 100 * TITA_NSEC_PER_MSEC, 3600 * TITA_NSEC_PER_SEC,
				    "100ms..3600s", &g->control_idle_timeout_ns);
	if (!strcmp(k, "metrics-listen")) {
		if (strcmp(v, "off") && !strrchr(v, ':'))
			return fail(c, "metrics-listen: '%s' is not host:port, [v6]:port or off",
				    v),
			       -1;
		return get_string(c, k, strcmp(v, "off") ? v : "", g->metrics_listen,
				  sizeof(g->metrics_listen), false);
	}
	if (!strcmp(k, "metrics-pairs")) {
		if (!strcmp(v, "all")) {
			g->metrics_pairs = TITAD_METRICS_PAIRS_ALL;
			return 0;
		}
		if (get_u64(c, k, v, 0, 65536, "0..65536, or all", &n))
			return -1;
		g->metrics_pairs = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "pin-root"))
		return get_string(c, k, v, g->pin_root, sizeof(g->pin_root), true);
	if (!strcmp(k, "agent-socket"))
		return get_string(c, k, v, g->agent_socket, sizeof(g->agent_socket), true);
	if (!strcmp(k, "agents-per-uid") || !strcmp(k, "agent-qps-per-uid") ||
	    !strcmp(k, "agent-qps")) {
		bool agents = !strcmp(k, "agents-per-uid");
		uint32_t *dst = agents				? &g->agents_per_uid :
				!strcmp(k, "agent-qps-per-uid") ? &g->agent_qps_per_uid :
								  &g->agent_qps;
		uint64_t max = agents ? 1024 : 1u << 20;

		if (get_u64(c, k, v, 1, max, max == 1024 ? "1..1024" : "1..1048576", &n))
			return -1;
		*dst = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "sysfs-root"))
		return get_string(c, k, v, g->sysfs_root, sizeof(g->sysfs_root), true);
	if (!strcmp(k, "proc-root"))
		return get_string(c, k, v, g->proc_root, sizeof(g->proc_root), true);
	if (!strcmp(k, "state-directory")) {
		if (!strcmp(v, "off"))
			v = "";
		return get_string(c, k, v, g->state_directory, sizeof(g->state_directory), v[0]);
	}
	if (!strcmp(k, "qp-scan-interval")) {
		uint64_t ns;

		if (!strcmp(v, "0") || !strcmp(v, "off")) {
			g->qp_scan_interval_ns = 0;
			return 0;
		}
		if (get_duration(c, k, v, 0, TITAD_QP_SCAN_MAX_NS, "0 or off, or 10ms..600s", &ns))
			return -1;
		if (ns && ns < TITAD_QP_SCAN_MIN_NS)
			return fail(c, "%s: '%s' is out of range (0 or off, or 10ms..600s)", k, v),
			       -1;
		g->qp_scan_interval_ns = ns;
		return 0;
	}
	if (!strcmp(k, "sched-priority")) {
		if (get_u64(c, k, v, 0, 99, "0..99", &n))
			return -1;
		g->sched_priority = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "datapath-entries")) {
		if (get_u64(c, k, v, 0, 1u << 20, "0..1048576", &n))
			return -1;
		if (n && n < 256)
			return fail(c, "%s: '%s' is out of range (0, or 256..1048576)", k, v), -1;
		g->datapath_entries = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "queue-sampler")) {
		if (get_enum(c, k, v, queue_names, "auto, on, off", &e))
			return -1;
		g->queue_sampler = e;
		return 0;
	}
	if (!strcmp(k, "loss-count")) {
		if (get_enum(c, k, v, onoff_names, "on, off", &e))
			return -1;
		g->loss_count = e == 0;
		return 0;
	}
	if (!strcmp(k, "xdp-mode")) {
		if (get_enum(c, k, v, xdp_names, "auto, native, generic, off", &e))
			return -1;
		g->xdp_mode = (enum titad_xdp_mode)e;
		return 0;
	}
	return 1;
}

/* ---- [controller]: lib's parameter table -------------------------------------------- */

/*
 * The [controller] keys are the parameters of lib's table that have a
 * conf_key (tita_ctl_param_table()): their ranges, kinds and defaults come
 * from there. What titad does on top, and why:
 *   - interval defaults to 1 ms, not lib's 100 us: titad reads every port's
 *     BPF maps once per interval (titad_config_defaults);
 *   - grant-ttl and refresh, when unset, keep lib's ratios to the interval
 *     (100 and 30 intervals), grant-ttl within its range and refresh within
 *     [interval, grant-ttl) (cross_check);
 *   - eta-min, when unset, follows eta down; a [port] eta sets eta;
 *   - probe-timeout defaults to 50 ms, not lib's 200 us: switches answer
 *     path probes from their CPU;
 *   - probe-rate defaults to 64 a second, not lib's 20,000 (the
 *     simulator's): spines police the answers (titad_config_defaults);
 *   - with coalesced peer reads (coalesce > 0) demands already come in
 *     batches, so lib's alloc_batch_frac is 0.
 */

static const struct tita_param *param_index(size_t i)
{
	size_t n;

	return &tita_ctl_param_table(&n)[i];
}

static int *param_line(struct pctx *c, const struct tita_param *d)
{
	return &c->param_line[d - param_index(0)];
}

static int line_of(struct pctx *c, const char *name)
{
	return *param_line(c, tita_ctl_param_find(name));
}

/* A parameter's value as the config writes it: a duration in the largest
 * unit that divides it ("10s", "2us"), a number as it is. */
static void format_param(const struct tita_param *d, double v, char *buf, size_t size)
{
	static const struct {
		uint64_t ns;
		const char *unit;
	} units[] = {
		{ TITA_NSEC_PER_SEC, "s" },
		{ TITA_NSEC_PER_MSEC, "ms" },
		{ TITA_NSEC_PER_USEC, "us" },
		{ 1, "ns" },
	};

	if (d->kind == TITA_PARAM_DURATION) {
		uint64_t ns = (uint64_t)v;

		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (ns % units[i].ns == 0) {
				snprintf(buf, size, "%llu%s",
					 (unsigned long long)(ns / units[i].ns), units[i].unit);
				return;
			}
		}
	}
	snprintf(buf, size, "%.15g", v);
}

/* "1us..10s", "0.05..1": the range as error messages quote it. */
static void param_range(const struct tita_param *d, char *buf, size_t size)
{
	char lo[32], hi[32];

	format_param(d, d->min, lo, sizeof(lo));
	format_param(d, d->max, hi, sizeof(hi));
	snprintf(buf, size, "%s..%s", lo, hi);
}

static int get_param(struct pctx *c, const struct tita_param *d, const char *v)
{
	const char *k = d->conf_key;
	char range[72];
	uint64_t n;
	double x;

	param_range(d, range, sizeof(range));
	switch (d->kind) {
	case TITA_PARAM_DURATION:
		if (get_duration(c, k, v, (uint64_t)d->min, (uint64_t)d->max, range, &n))
			return -1;
		x = (double)n;
		break;
	case TITA_PARAM_COUNT:
		if (get_u64(c, k, v, (uint64_t)d->min, (uint64_t)d->max, range, &n))
			return -1;
		x = (double)n;
		break;
	default:
		if (get_double(c, k, v, d->min, d->max, range, &x))
			return -1;
	}
	if (tita_ctl_param_set(&c->cfg.params, d, x)) {
		fail(c, "%s: '%s' is out of range (%s)", k, v, range);
		return -1;
	}
	return 0;
}

static int key_controller(struct pctx *c, const char *k, const char *v)
{
	int e;

	if (!strcmp(k, "fail-open")) {
		if (get_enum(c, k, v, fail_open_names, "remove, line-rate", &e))
			return -1;
		c->cfg.fail_open = (enum titad_fail_open)e;
		return 0;
	}
	for (size_t i = 0; i < TITA_CTL_N_PARAMS; i++) {
		const struct tita_param *d = param_index(i);

		if (d->conf_key && !strcmp(k, d->conf_key)) {
			c->param_line[i] = c->line;
			return get_param(c, d, v);
		}
	}
	return 1;
}

static int key_peers(struct pctx *c, const char *k, const char *v)
{
	struct titad_config *g = &c->cfg;
	uint64_t n;

	if (!strcmp(k, "port")) {
		if (get_u64(c, k, v, 1, 65535, "1..65535", &n))
			return -1;
		g->peer_port = (uint16_t)n;
		return 0;
	}
	if (!strcmp(k, "bind")) {
		g->n_bind = 0; /* the last bind line wins, like any other key */
		return each_item(c, v, add_bind);
	}
	if (!strcmp(k, "key-file"))
		return get_string(c, k, v, g->key_file, sizeof(g->key_file), true);
	if (!strcmp(k, "key-id")) {
		if (get_u64(c, k, v, 0, UINT32_MAX, "0..4294967295", &n))
			return -1;
		g->key_id = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "static"))
		return each_item(c, v, add_static); /* lines add up */
	if (!strcmp(k, "max-peers")) {
		if (get_u64(c, k, v, 16, 1u << 20, "16..1048576", &n))
			return -1;
		g->max_peers = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "wire-version")) {
		/* auto is 0, then versions 1 and 2 at their own value. */
		static const char *const names[] = { "auto", "1", "2", NULL };
		int i;

		if (get_enum(c, k, v, names, "auto, 1, 2", &i))
			return -1;
		g->wire_version = (uint8_t)i;
		return 0;
	}
	if (!strcmp(k, "boot-id-skew"))
		return get_duration(c, k, v, TITA_NSEC_PER_SEC, 3600 * TITA_NSEC_PER_SEC, "1s..1h",
				    &g->boot_id_skew_ns);
	if (!strcmp(k, "coalesce")) {
		c->line_coalesce = c->line;
		if (!strcmp(v, "0")) {
			g->peer_coalesce_ns = 0;
			return 0;
		}
		return get_duration(c, k, v, 0, TITA_NSEC_PER_SEC, "0..1s", &g->peer_coalesce_ns);
	}
	return 1;
}

/* The fabric: where this host sits (topology.c reads the keys). */
static int key_fabric(struct pctx *c, const char *k, const char *v)
{
	char err[160];

	if (strcmp(k, "topology") && strcmp(k, "hostname") && strcmp(k, "spines") &&
	    strcmp(k, "spine-rate") && strcmp(k, "link-speed-unit") && strcmp(k, "probe-ttl") &&
	    strcmp(k, "lldp"))
		return 1;
	if (tita_fabric_conf_set(&c->cfg.fabric, k, v, err, sizeof(err))) {
		fail(c, "%s", err);
		return -1;
	}
	return 0;
}

/* Health evidence (issue 14): how often it is closed, how many pairs it
 * names, the PFC priority whose pause frames count. */
static int key_health(struct pctx *c, const char *k, const char *v)
{
	struct titad_config *g = &c->cfg;
	uint64_t n;

	if (!strcmp(k, "interval"))
		return get_duration(c, k, v, 100 * TITA_NSEC_PER_MSEC, 60 * TITA_NSEC_PER_SEC,
				    "100ms..60s", &g->health_interval_ns);
	if (!strcmp(k, "pairs")) {
		if (get_u64(c, k, v, 1, TITAD_HEALTH_PAIRS_MAX, "1..64", &n))
			return -1;
		g->health_pairs = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "pause-priority")) {
		if (get_u64(c, k, v, 0, 7, "0..7", &n))
			return -1;
		g->health_pause_priority = (uint32_t)n;
		return 0;
	}
	return 1;
}

static int key_port(struct pctx *c, const char *k, const char *v)
{
	struct titad_port_conf *pt = c->port;

	if (!strcmp(k, "address")) {
		if (tita_parse_addr(v, &pt->addr))
			return fail(c, "address: '%s' is not an IP address", v), -1;
		pt->addr_set = true;
		return 0;
	}
	if (!strcmp(k, "line-rate")) {
		if (!strcmp(v, "auto")) {
			pt->line_rate_bps = 0;
			return 0;
		}
		return get_rate(c, k, v, 1, "1bit..3.2T, or auto", &pt->line_rate_bps);
	}
	if (!strcmp(k, "eta")) {
		/* [controller] eta's range: the port's stands for it. */
		const struct tita_param *d = tita_ctl_param_find("eta");
		char range[72];

		param_range(d, range, sizeof(range));
		return get_double(c, k, v, d->min, d->max, range, &pt->eta);
	}
	return 1;
}

static int key_job(struct pctx *c, const char *k, const char *v)
{
	struct titad_job_conf *j = c->job;
	double w;

	if (!strcmp(k, "dst"))
		return each_item(c, v, add_dst);
	if (!strcmp(k, "weight")) {
		if (get_double(c, k, v, 0.001, 1000, "0.001..1000", &w))
			return -1;
		j->weight_milli = (uint32_t)(w * TITA_WEIGHT_ONE + 0.5);
		if (!j->weight_milli)
			j->weight_milli = 1;
		return 0;
	}
	if (!strcmp(k, "min"))
		return get_rate(c, k, v, 0, "0..3.2T", &j->min_bps);
	if (!strcmp(k, "max"))
		return get_rate(c, k, v, 0, "0..3.2T", &j->max_bps);
	if (!strcmp(k, "traffic-class")) {
		uint64_t tc;

		if (get_u64(c, k, v, 0, 7, "0..7", &tc))
			return -1;
		j->traffic_class = (int)tc;
		return 0;
	}
	return 1;
}

/* Problems are recorded by fail(); inih hears of none, so that what it
 * reports is a syntax error, whatever came before it. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct pctx *c = user;
	int r;

	(void)section; /* the reader tracked it, with its line */
	switch (c->sec) {
	case SEC_NONE:
		fail(c, "'%s' outside of any section", name);
		return 1;
	case SEC_DAEMON:
		r = key_daemon(c, name, value);
		break;
	case SEC_CONTROLLER:
		r = key_controller(c, name, value);
		break;
	case SEC_PEERS:
		r = key_peers(c, name, value);
		break;
	case SEC_PORT:
		r = key_port(c, name, value);
		break;
	case SEC_JOB:
		r = key_job(c, name, value);
		break;
	case SEC_FABRIC:
		r = key_fabric(c, name, value);
		break;
	case SEC_HEALTH:
		r = key_health(c, name, value);
		break;
	default: /* SEC_BAD: said once, at its header */
		return 1;
	}
	if (r > 0)
		fail(c, "unknown key '%s' in [%s]", name,
		     c->sec == SEC_DAEMON     ? "daemon" :
		     c->sec == SEC_CONTROLLER ? "controller" :
		     c->sec == SEC_PEERS      ? "peers" :
		     c->sec == SEC_PORT	      ? "port" :
		     c->sec == SEC_FABRIC     ? "fabric" :
		     c->sec == SEC_HEALTH     ? "health" :
						"job");
	return 1;
}

/* fgets over the buffer; counts lines and spots section headers. */
static char *reader(char *str, int num, void *stream)
{
	struct pctx *c = stream;
	size_t n = 0, room;
	const char *p;

	if (c->off >= c->len || num < 2)
		return NULL;
	room = (size_t)num - 1;
	while (c->off + n < c->len && n < room) {
		if (c->buf[c->off + n++] == '\n')
			break;
	}
	memcpy(str, c->buf + c->off, n);
	str[n] = '\0';
	c->off += n;
	c->line++;

	p = str;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[') {
		char name[128];
		const char *end = strchr(p, ']');
		size_t len;

		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!end || end < p) {
			/* inih reports it as a syntax error; make its keys not
			 * land in the previous section. */
			c->sec = SEC_BAD;
			return str;
		}
		len = (size_t)(end - p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p, len);
		name[len] = '\0';
		begin_section(c, name);
	}
	return str;
}

static int check_lines(struct pctx *c)
{
	size_t start = 0;
	int line = 1;

	for (size_t i = 0; i <= c->len; i++) {
		if (i < c->len && c->buf[i] == '\0') {
			c->line = line;
			fail(c, "NUL byte in the file");
			return -1;
		}
		if (i == c->len || c->buf[i] == '\n') {
			if (i - start > TITAD_CONFIG_LINE_MAX) {
				c->line = line;
				fail(c, "line longer than %d characters", TITAD_CONFIG_LINE_MAX);
				return -1;
			}
			start = i + 1;
			line++;
		}
	}
	return 0;
}

/*
 * lib's check of the controller's parameters, blaming the key whose value
 * it rejects, at its line. grant-ttl and refresh that the file does not set
 * follow the interval, so the interval's line stands for them.
 */
static int check_params(struct pctx *c)
{
	const struct tita_param *bad;
	const char *why;

	if (!tita_ctl_params_check_field(&c->cfg.params, &bad, &why))
		return 0;
	c->line = *param_line(c, bad);
	if (!c->line && (bad == tita_ctl_param_find("grant_ttl_ns") ||
			 bad == tita_ctl_param_find("refresh_ns")))
		c->line = line_of(c, "control_interval_ns");
	fail(c, "%s: %s", bad->conf_key ? bad->conf_key : bad->name, why);
	return -1;
}

/* What the keys cannot check one by one. */
static void cross_check(struct pctx *c)
{
	struct titad_config *g = &c->cfg;
	struct tita_ctl_params *p = &g->params;
	bool ttl_set = line_of(c, "grant_ttl_ns"), refresh_set = line_of(c, "refresh_ns");
	double port_eta = 0;

	/* Unset timers keep the controller's ratios to the interval (chosen in
	 * the simulator), within what the wire accepts. */
	if (!ttl_set || !refresh_set) {
		struct tita_ctl_params def;
		double scale;

		tita_ctl_params_default(&def);
		scale = (double)p->control_interval_ns / (double)def.control_interval_ns;
		if (!ttl_set) {
			double ttl = (double)def.grant_ttl_ns * scale,
			       ttl_max = tita_ctl_param_find("grant_ttl_ns")->max;

			p->grant_ttl_ns = (uint64_t)(ttl > ttl_max ? ttl_max : ttl);
		}
		if (!refresh_set) {
			double r = (double)def.refresh_ns * scale;

			p->refresh_ns = (uint64_t)r;
			if (p->refresh_ns >= p->grant_ttl_ns)
				p->refresh_ns = p->grant_ttl_ns / 2;
			if (p->refresh_ns < p->control_interval_ns)
				p->refresh_ns = p->control_interval_ns;
		}
	}
	/* An operator who lowers eta does not have to lower eta-min too. */
	if (!line_of(c, "eta_min") && p->eta_min > p->eta)
		p->eta_min = p->eta;
	/* Not a return: the checks below still say their own problems. */
	check_params(c);
	/* Datagrams wait at most this long to be read; past the interval
	 * they would wait across rounds. Unset: half the interval, which
	 * keeps a new pair's first grant within one interval. */
	if (!c->line_coalesce)
		g->peer_coalesce_ns = p->control_interval_ns / 2;
	if (g->peer_coalesce_ns > p->control_interval_ns) {
		c->line = c->line_coalesce;
		fail(c, "coalesce must not exceed the interval");
	}
	/* Coalesced reads already hand the controller demands in batches:
	 * holding them for another fraction of an interval would only add a
	 * wake-up and latency. */
	if (g->peer_coalesce_ns)
		p->alloc_batch_frac = 0;
	for (uint32_t i = 0; i < g->n_jobs; i++) {
		const struct titad_job_conf *j = &g->jobs[i];

		if (j->max_bps && j->min_bps > j->max_bps) {
			c->line = j->line;
			fail(c, "[job %s]: min is above max", j->name);
		}
	}
	/* lib/ applies one eta to every port: per-port values must agree. */
	for (uint32_t i = 0; i < g->n_ports; i++) {
		const struct titad_port_conf *pt = &g->ports[i];

		if (!pt->eta)
			continue;
		if (port_eta && pt->eta != port_eta) {
			c->line = pt->line;
			fail(c,
			     "[port %s]: eta differs from another port's; the controller "
			     "has one eta for all ports",
			     pt->ifname);
			continue;
		}
		port_eta = pt->eta;
	}
	if (port_eta) {
		p->eta = port_eta;
		if (p->eta_min > p->eta)
			p->eta_min = p->eta;
	}
	/* No [port] at all: titad_autoconf() takes the host's RDMA netdevs. */
	check_params(c);
}

static int parse(const char *path, const char *buf, size_t len, struct titad_config *ret_cfg,
		 bool partial, char *err, size_t err_size)
{
	struct pctx *c;
	int r, ret = -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_size, "%s: out of memory", path);
		return -ENOMEM;
	}
	c->path = path;
	c->buf = buf;
	c->len = len;
	titad_config_defaults(&c->cfg);
	snprintf(c->cfg.path, sizeof(c->cfg.path), "%s", path);

	if (len > TITAD_CONFIG_BYTES_MAX) {
		c->line = 0;
		fail(c, "larger than %d bytes", TITAD_CONFIG_BYTES_MAX);
		goto out;
	}
	if (check_lines(c))
		goto out;
	c->line = 0;

	/* The distribution's inih has run-time knobs: no continuation lines
	 * (an indented key is a typo, not part of the previous value). */
	ini_allow_multiline = false;
	ini_stop_on_first_error = false;
	r = ini_parse_stream(reader, c, handler, c);
	if (r > 0) {
		c->line = r;
		fail(c, "syntax error: expected [section], key = value, or a comment");
	} else if (r < 0) {
		c->line = 0;
		fail(c, "cannot be parsed (%d)", r);
	}
	/* What the keys cannot check one by one, also after problems with
	 * some of them: every problem is said in one go. */
	cross_check(c);
	if (!c->err_line)
		ret = 0;
out:
	if (ret) {
		format_errors(c, err, err_size);
		if (partial)
			*ret_cfg = c->cfg;
	} else {
		*ret_cfg = c->cfg;
		if (err_size)
			err[0] = '\0';
	}
	free(c);
	return ret;
}

int titad_config_parse(const char *path, const char *buf, size_t len, struct titad_config *ret_cfg,
		       char *err, size_t err_size)
{
	return parse(path, buf, len, ret_cfg, false, err, err_size);
}

static int load(const char *path, struct titad_config *ret_cfg, bool partial, char *err,
		size_t err_size)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return r;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > TITAD_CONFIG_BYTES_MAX) {
				close(fd);
				free(buf);
				snprintf(err, err_size, "%s: larger than %d bytes", path,
					 TITAD_CONFIG_BYTES_MAX);
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				close(fd);
				free(buf);
				snprintf(err, err_size, "%s: out of memory", path);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			snprintf(err, err_size, "%s: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return r;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	r = parse(path, buf ? buf : "", len, ret_cfg, partial, err, err_size);
	free(buf);
	return r;
}

int titad_config_load(const char *path, struct titad_config *ret_cfg, char *err, size_t err_size)
{
	return load(path, ret_cfg, false, err, err_size);
}

int titad_config_load_check(const char *path, struct titad_config *ret_cfg, char *err,
			    size_t err_size)
{
	titad_config_defaults(ret_cfg);
	snprintf(ret_cfg->path, sizeof(ret_cfg->path), "%s", path);
	return load(path, ret_cfg, true, err, err_size);
}

static const struct titad_config_range ranges[] = {
	{ "controller", "interval", "1us", "10s", "0ns", "11s" },
	{ "controller", "grant-ttl", "2ms", "60s", "1ms", "61s" },
	{ "controller", "refresh", "1ms", "50ms", "999us", "61s" },
	{ "controller", "eta", "0.05", "1", "0.04", "1.01" },
	{ "controller", "eta-min", "0.05", "0.98", "0.04", "0.99" },
	{ "controller", "start-rate", "0", "1", "-0.1", "1.1" },
	{ "controller", "unmanaged-room", "0", "1", "-0.1", "1.1" },
	{ "controller", "unscheduled", "0ns", "10ms", NULL, "11ms" },
	{ "controller", "unscheduled-short", "0ns", "10ms", NULL, "11ms" },
	{ "controller", "warm", "0", "100", "-1", "101" },
	{ "controller", "max-pairs", "1", "16777216", "0", "16777217" },
	{ "controller", "max-jobs", "1", "1048576", "0", "1048577" },
	{ "controller", "fabric-eta", "0.05", "1", "0.04", "1.01" },
	{ "controller", "steer", "0", "1", "-1", "2" },
	{ "controller", "leaf-leaders", "1", "2", "0", "3" },
	{ "controller", "probe-timeout", "1us", "10s", "0ns", "11s" },
	{ "controller", "probe-rate", "1", "10000000", "0", "10000001" },
	{ "controller", "probe-burst", "1", "1048576", "0", "1048577" },
	{ "daemon", "control-mode", "0", "0777", NULL, "01000" },
	{ "daemon", "control-clients", "2", "1024", "1", "1025" },
	{ "daemon", "control-clients-per-uid", "1", "1024", "0", "1025" },
	{ "daemon", "control-idle-timeout", "100ms", "3600s", "99ms", "3601s" },
	{ "daemon", "datapath-entries", "256", "1048576", "255", "1048577" },
	{ "daemon", "agents-per-uid", "1", "1024", "0", "1025" },
	{ "daemon", "agent-qps-per-uid", "1", "1048576", "0", "1048577" },
	{ "daemon", "agent-qps", "1", "1048576", "0", "1048577" },
	{ "daemon", "qp-scan-interval", "10ms", "600s", "9ms", "601s" },
	{ "daemon", "sched-priority", "0", "99", NULL, "100" },
	{ "peers", "port", "1", "65535", "0", "65536" },
	{ "fabric", "spines", "1", "64", "0", "65" },
	{ "fabric", "probe-ttl", "1", "32", "0", "33" },
	{ "peers", "key-id", "0", "4294967295", NULL, "4294967296" },
	{ "peers", "max-peers", "16", "1048576", "15", "1048577" },
	{ "peers", "coalesce", "0", "1ms", NULL, "1001us" },
	{ "peers", "boot-id-skew", "1s", "3600s", "999ms", "3601s" },
	{ "health", "interval", "100ms", "60s", "99ms", "61s" },
	{ "health", "pairs", "1", "64", "0", "65" },
	{ "health", "pause-priority", "0", "7", NULL, "8" },
	{ "port eth0", "line-rate", "1", "3.2T", "0", "3.3T" },
	{ "port eth0", "eta", "0.05", "1", "0.04", "1.5" },
	{ "job j", "weight", "0.001", "1000", "0.0001", "1001" },
	{ "job j", "min", "0", "3.2T", NULL, "3.3T" },
	{ "job j", "max", "0", "3.2T", NULL, "4T" },
};

const struct titad_config_range *titad_config_ranges(size_t *ret_n)
{
	*ret_n = sizeof(ranges) / sizeof(ranges[0]);
	return ranges;
}
