// SPDX-License-Identifier: MIT
/*
 * Scenario files: an INI-like text parsed from a buffer (so it can be tested
 * and fuzzed), every value range-checked, every error naming file:line.
 *
 *   [topology] kind = single|leafspine, hosts, leaves, spines,
 *              hosts_per_leaf, host_gbps, fabric_gbps, link_delay_ns,
 *              hosts_know_place (1, default: each host's controller is told
 *              its leaf and the spines above, as a titad with a topology
 *              file; 0: none is, as one without)
 *   [switch]   buffer_kb, ecn, kmin_kb_per_25g, kmax_kb_per_25g, pmax, pfc,
 *              pfc_alpha_shift, pfc_resume_offset_kb, headroom_bdp
 *   [nic]      mtu, rto_us (go-back-N timeout after a loss)
 *   [run]      seed, max_time_ms, trace_interval_us, monitor_host, trace_flows,
 *              goodput_bin_us, telemetry_interval_us (health telemetry, written
 *              with --telemetry DIR; 1000 by default there)
 *   [dcqcn] [hpcc] [tita]   parameter overrides (see cc.c)
 *   [traffic]  one generator per line:
 *     flow        src=H dst=H (size=S | until=T) [at=T]
 *     incast      dst=H src=LIST size=S [at=T]
 *     alltoall    hosts=LIST size=S [at=T]
 *     permutation hosts=LIST size=S [at=T]   (a random derangement)
 *     shift       hosts=LIST by=K size=S [at=T]
 *                 (the i-th host of LIST sends to the (i+K)-th, cyclically)
 *     ring        hosts=LIST size=S [at=T]     (ring all-reduce of S per host)
 *   ring and alltoall also take repeat=N (the collective N times over,
 *   each rank's next one after its part of the last: its last send, and
 *   what it received last) and until=T (repeated as often as fits in
 *   [at, T] at line rate, and no flow of it starts after T); with both,
 *   repeat bounds the count.
 *     websearch   hosts=LIST load=F duration=T [at=T]
 *     messages    hosts=LIST load=F duration=T min=S max=S [at=T]
 *                 (Poisson arrivals as websearch, sizes uniform in
 *                 [min, max]: RPCs, KV-cache blocks)
 *   each with optional name=NAME, job=J, weight=W (tita's weight of job J,
 *   as `titactl job set` gives it) and the word `primary` (the group that
 *   the headline metrics describe; the first group by default).
 *   [faults]   one per line, each from time T on (LINK: host=H for the link
 *              between host H and its switch, or leaf=L spine=S):
 *     link leaf=L spine=S at=T   the link between leaf L and spine S (both
 *                                directions) fails at T: what is queued at
 *                                its ends or on the wire is lost, its PFC
 *                                state clears, and every switch recomputes
 *                                its ECMP groups without it
 *     slowhost host=H frac=F at=T   H's application makes its flows' bytes
 *                                ready at F x H's line rate (a rank that
 *                                computes slowly); what is ready and not
 *                                sent is its backlog (at most 64 KiB)
 *     slownic host=H frac=F at=T  H's link runs at F x its rate, both ways
 *                                (its controller still counts the line rate)
 *     slowlink LINK frac=F at=T  the link runs at F x its rate, both ways
 *     lossy LINK drop=P at=T     each packet crossing the link (either way,
 *                                any kind) is lost with probability P, drawn
 *                                from the seed; go-back-N recovers the data
 *     dead host=H at=T           H stops: its NIC sends nothing, its
 *                                controller nothing, its link goes down
 *                                (what it held is lost) and its telemetry
 *                                stops (up 0)
 *     pfcstorm host=H at=T       H's NIC sends PFC pauses to its switch port
 *                                without end (every 20 us), as a NIC with a
 *                                stuck receive ring: the port stops sending
 *                                to H and the pause spreads back
 *              F and P lie in (0, 1).
 * From the command line, --set traffic.size=S gives every generator that
 * takes a size that size instead (a ring's chunks are S / N); runs with
 * websearch and messages cannot take it.
 * Sizes take B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB; times take
 * ns, us, ms, s; host lists are `all`, `3`, `1-16` or `0,2,5-7`.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct parser {
	struct sim_config *cfg;
	const char *path;
	unsigned line;
	FILE *err;
	char section[32];
	uint64_t rng;
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err) {
		fprintf(p->err, "%s:%u: ", p->path, p->line);
		va_start(ap, fmt);
		vfprintf(p->err, fmt, ap);
		va_end(ap);
		fputc('\n', p->err);
	}
	return -EINVAL;
}

static void config_defaults(struct sim_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "unnamed");
	c->topo = SIM_TOPO_SINGLE;
	c->hosts = 2;
	c->leaves = 2;
	c->spines = 1;
	c->hosts_per_leaf = 2;
	c->host_rate_bps = 100 * TITA_GBPS;
	c->fabric_rate_bps = 100 * TITA_GBPS;
	c->link_delay_ps = 1000 * SIM_PS_PER_NS;
	/* Production ECN (Alibaba, HPCC issue #21): 100/400 KB per 25G, 20 %. */
	c->buffer_bytes = 32ull << 20;
	c->ecn = true;
	c->kmin_kb_per_25g = 100;
	c->kmax_kb_per_25g = 400;
	c->pmax = 0.2;
	c->pfc = true;
	c->pfc_alpha_shift = 3;
	c->pfc_resume_offset_bytes = 3 * 1024;
	c->headroom_bdp = 3;
	c->mtu_bytes = 4096;
	c->pacer_burst_bytes = 0;
	/* An ACK timeout with adaptive retransmission's short first step;
	 * armed only after a loss (see net.c loss_seen). */
	c->rto_ps = 100 * SIM_PS_PER_US;
	c->goodput_bin_ps = 10 * SIM_PS_PER_US;
	c->seed = 1;
	c->max_time_ps = 1000 * SIM_PS_PER_MS;
	c->trace_interval_ps = 0;
	c->monitor_host = 0;
	c->trace_flows = 8;
}

static bool parse_number(const char *s, double *ret, const char **rest)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return false;
	*ret = v;
	*rest = end;
	return true;
}

static bool parse_size(const char *s, uint64_t *ret)
{
	const char *u;
	double v, m = 1;

	if (!parse_number(s, &v, &u) || v < 0)
		return false;
	if (!*u || !strcmp(u, "B"))
		m = 1;
	else if (!strcmp(u, "KB"))
		m = 1e3;
	else if (!strcmp(u, "MB"))
		m = 1e6;
	else if (!strcmp(u, "GB"))
		m = 1e9;
	else if (!strcmp(u, "KiB"))
		m = 1024;
	else if (!strcmp(u, "MiB"))
		m = 1024.0 * 1024;
	else if (!strcmp(u, "GiB"))
		m = 1024.0 * 1024 * 1024;
	else
		return false;
	if (v * m > 1e15)
		return false;
	*ret = (uint64_t)(v * m + 0.5);
	return true;
}

static bool parse_time_ps(const char *s, uint64_t *ret)
{
	const char *u;
	double v, m;

	if (!parse_number(s, &v, &u) || v < 0)
		return false;
	if (!strcmp(u, "ns"))
		m = 1e3;
	else if (!strcmp(u, "us"))
		m = 1e6;
	else if (!strcmp(u, "ms"))
		m = 1e9;
	else if (!strcmp(u, "s"))
		m = 1e12;
	else
		return false;
	if (v * m > 1e18)
		return false;
	*ret = (uint64_t)(v * m + 0.5);
	return true;
}

/* Host list into a bitmap-like array of ids; returns the count or -1. */
static int parse_hosts(const char *s, uint32_t n_hosts, uint32_t *out, uint32_t max)
{
	uint32_t n = 0;

	if (!strcmp(s, "all")) {
		for (uint32_t h = 0; h < n_hosts && n < max; h++)
			out[n++] = h;
		return (int)n;
	}
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b;

		if (end == s)
			return -1;
		b = a;
		s = end;
		if (*s == '-') {
			b = strtoul(s + 1, &end, 10);
			if (end == s + 1)
				return -1;
			s = end;
		}
		if (b < a || b >= n_hosts)
			return -1;
		for (unsigned long h = a; h <= b; h++) {
			if (n == max)
				return -1;
			out[n++] = (uint32_t)h;
		}
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return (int)n;
}

static uint32_t n_hosts_of(const struct sim_config *c)
{
	return c->topo == SIM_TOPO_SINGLE ? c->hosts : c->leaves * c->hosts_per_leaf;
}

static int set_number(struct parser *p, const char *key, const char *val, double lo, double hi,
		      double *ret)
{
	const char *rest;
	double v;

	if (!parse_number(val, &v, &rest) || *rest)
		return perr(p, "%s: '%s' is not a number", key, val);
	if (v < lo || v > hi)
		return perr(p, "%s: %g outside %g..%g", key, v, lo, hi);
	*ret = v;
	return 0;
}

static int kv_push(struct sim_config *c, const char *key, double v, const char *where)
{
	for (uint32_t k = 0; k < c->n_kv; k++)
		if (!strcmp(c->kv[k].key, key)) {
			c->kv[k].value = v;
			return 0;
		}
	if (c->n_kv == c->cap_kv) {
		uint32_t cap = c->cap_kv ? c->cap_kv * 2 : 16;
		struct sim_kv *kv = realloc(c->kv, cap * sizeof(*kv));

		if (!kv)
			return -ENOMEM;
		c->kv = kv;
		c->cap_kv = cap;
	}
	if (strlen(key) >= sizeof(c->kv[0].key))
		return -EINVAL;
	memcpy(c->kv[c->n_kv].key, key, strlen(key) + 1);
	snprintf(c->kv[c->n_kv].where, sizeof(c->kv[0].where), "%s", where);
	c->kv[c->n_kv++].value = v;
	return 0;
}

bool sim_config_get(const struct sim_config *cfg, const char *key, double *ret_value)
{
	for (uint32_t k = 0; k < cfg->n_kv; k++)
		if (!strcmp(cfg->kv[k].key, key)) {
			*ret_value = cfg->kv[k].value;
			return true;
		}
	return false;
}

static int set_key(struct parser *p, const char *key, const char *val)
{
	struct sim_config *c = p->cfg;
	const char *sec = p->section;
	double v;
	int err;

	if (!strcmp(sec, "scenario")) {
		if (!strcmp(key, "name"))
			snprintf(c->name, sizeof(c->name), "%s", val);
		else if (!strcmp(key, "title"))
			snprintf(c->title, sizeof(c->title), "%s", val);
		else
			return perr(p, "unknown key '%s' in [scenario]", key);
		return 0;
	}
	if (!strcmp(sec, "topology") && !strcmp(key, "kind")) {
		if (!strcmp(val, "single"))
			c->topo = SIM_TOPO_SINGLE;
		else if (!strcmp(val, "leafspine"))
			c->topo = SIM_TOPO_LEAFSPINE;
		else
			return perr(p, "kind: '%s' is neither single nor leafspine", val);
		return 0;
	}
	if (!strcmp(sec, "dcqcn") || !strcmp(sec, "hpcc") || !strcmp(sec, "tita")) {
		char full[SIM_NAME_MAX + 8], where[96];

		snprintf(full, sizeof(full), "%s.%s", sec, key);
		if ((err = set_number(p, full, val, -1e18, 1e18, &v)))
			return err;
		err = sim_params_set(full, v, NULL, NULL, NULL);
		if (err == -ENOENT)
			return perr(p, "unknown parameter '%s'", full);
		if (err) {
			char range[64];

			if (!sim_params_range(full, range, sizeof(range)))
				return perr(p, "%s: %g out of range (%s)", full, v, range);
			return perr(p, "%s: %g out of range", full, v);
		}
		snprintf(where, sizeof(where), "%s:%u", p->path, p->line);
		return kv_push(c, full, v, where);
	}

#define NUM(s_, k_, lo, hi, assign)                             \
	if (!strcmp(sec, s_) && !strcmp(key, k_)) {             \
		if ((err = set_number(p, k_, val, lo, hi, &v))) \
			return err;                             \
		assign;                                         \
		return 0;                                       \
	}
	NUM("topology", "hosts", 2, 4096, c->hosts = (uint32_t)v);
	NUM("topology", "leaves", 2, 256, c->leaves = (uint32_t)v);
	NUM("topology", "spines", 1, 256, c->spines = (uint32_t)v);
	NUM("topology", "hosts_per_leaf", 1, 256, c->hosts_per_leaf = (uint32_t)v);
	NUM("topology", "host_gbps", 1, 3200, c->host_rate_bps = (uint64_t)(v * 1e9));
	NUM("topology", "fabric_gbps", 1, 3200, c->fabric_rate_bps = (uint64_t)(v * 1e9));
	NUM("topology", "link_delay_ns", 0, 1e7, c->link_delay_ps = (uint64_t)(v * 1e3));
	NUM("topology", "hosts_know_place", 0, 1, c->hosts_unplaced = v == 0);
	NUM("switch", "buffer_kb", 64, 1 << 22, c->buffer_bytes = (uint64_t)(v * 1024));
	NUM("switch", "ecn", 0, 1, c->ecn = v != 0);
	NUM("switch", "kmin_kb_per_25g", 0, 1e5, c->kmin_kb_per_25g = v);
	NUM("switch", "kmax_kb_per_25g", 0, 1e5, c->kmax_kb_per_25g = v);
	NUM("switch", "pmax", 0, 1, c->pmax = v);
	NUM("switch", "pfc", 0, 1, c->pfc = v != 0);
	NUM("switch", "pfc_alpha_shift", 0, 16, c->pfc_alpha_shift = (uint32_t)v);
	NUM("switch", "pfc_resume_offset_kb", 0, 1e4,
	    c->pfc_resume_offset_bytes = (uint64_t)(v * 1024));
	NUM("switch", "headroom_bdp", 0, 100, c->headroom_bdp = v);
	NUM("nic", "mtu", 256, 9000, c->mtu_bytes = (uint32_t)v);
	NUM("nic", "pacer_burst_kb", 0, 1e5, c->pacer_burst_bytes = (uint64_t)(v * 1024));
	NUM("nic", "short_prio_kb", 0, 1e6, c->short_prio_bytes = (uint64_t)(v * 1000));
	NUM("nic", "rto_us", 1, 1e7, c->rto_ps = (uint64_t)(v * 1e6));
	NUM("run", "seed", 0, 1.8e19, c->seed = (uint64_t)v);
	NUM("run", "max_time_ms", 0.001, 1e6, c->max_time_ps = (uint64_t)(v * 1e9));
	NUM("run", "trace_interval_us", 0, 1e6, c->trace_interval_ps = (uint64_t)(v * 1e6));
	NUM("run", "monitor_host", 0, 1e6, c->monitor_host = (uint32_t)v);
	NUM("run", "trace_flows", 0, 64, c->trace_flows = (uint32_t)v);
	NUM("run", "goodput_bin_us", 0.1, 1e5, c->goodput_bin_ps = (uint64_t)(v * 1e6));
	NUM("run", "telemetry_interval_us", 10, 1e7,
	    c->telemetry_interval_ps = (uint64_t)(v * 1e6));
#undef NUM
	return perr(p, "unknown key '%s' in [%s]", key, sec);
}

static struct sim_flow_spec *flow_push(struct sim_config *c)
{
	if (c->n_flows == c->cap_flows) {
		uint32_t cap = c->cap_flows ? c->cap_flows * 2 : 64;
		struct sim_flow_spec *f = realloc(c->flows, cap * sizeof(*f));

		if (!f)
			return NULL;
		c->flows = f;
		c->cap_flows = cap;
	}
	memset(&c->flows[c->n_flows], 0, sizeof(c->flows[0]));
	return &c->flows[c->n_flows++];
}

static int add_flow(struct parser *p, uint32_t src, uint32_t dst, uint64_t size, uint64_t at,
		    uint64_t until, uint32_t job)
{
	struct sim_flow_spec *f = flow_push(p->cfg);

	if (!f)
		return -ENOMEM;
	if (src == dst)
		return perr(p, "a flow from host %u to itself", src);
	f->src = src;
	f->dst = dst;
	f->size_bytes = size;
	f->start_ps = at;
	f->stop_ps = until;
	f->job = job;
	f->group = p->cfg->n_groups - 1;
	return 0;
}

/* WebSearch (DCTCP) flow sizes, HPCC artifact traffic_gen: bytes, cum. %. */
static const double websearch_cdf[][2] = {
	{ 0, 0 },      { 10e3, 15 }, { 20e3, 20 }, { 30e3, 30 }, { 50e3, 40 }, { 80e3, 53 },
	{ 200e3, 60 }, { 1e6, 70 },  { 2e6, 80 },  { 5e6, 90 },	 { 10e6, 97 }, { 30e6, 100 },
};
#define WEBSEARCH_N (sizeof(websearch_cdf) / sizeof(websearch_cdf[0]))

static double websearch_mean(void)
{
	double m = 0;

	for (size_t k = 1; k < WEBSEARCH_N; k++)
		m += (websearch_cdf[k][0] + websearch_cdf[k - 1][0]) / 2 *
		     (websearch_cdf[k][1] - websearch_cdf[k - 1][1]) / 100;
	return m;
}

static uint64_t websearch_sample(uint64_t *rng)
{
	double u = tita_rng_unit(rng) * 100;

	for (size_t k = 1; k < WEBSEARCH_N; k++)
		if (u <= websearch_cdf[k][1]) {
			double a = websearch_cdf[k - 1][1], b = websearch_cdf[k][1];
			double x =
				websearch_cdf[k - 1][0] +
				(websearch_cdf[k][0] - websearch_cdf[k - 1][0]) * (u - a) / (b - a);

			return x < 1 ? 1 : (uint64_t)x;
		}
	return (uint64_t)websearch_cdf[WEBSEARCH_N - 1][0];
}

/* The sizes of a Poisson generator: WebSearch's, or uniform in [lo, hi]. */
struct size_dist {
	uint64_t lo, hi; /* 0, 0: WebSearch */
};

static double size_mean(const struct size_dist *d)
{
	return d->hi ? ((double)d->lo + (double)d->hi) / 2 : websearch_mean();
}

static uint64_t size_sample(const struct size_dist *d, uint64_t *rng)
{
	if (!d->hi)
		return websearch_sample(rng);
	return d->lo + tita_rng_next(rng) % (d->hi - d->lo + 1);
}

/* Poisson arrivals per host at load x line rate, uniform random
 * destinations (traffic_gen.py). */
static int poisson_flows(struct parser *p, const uint32_t *hosts, int n_h, double load, uint64_t at,
			 uint64_t duration, const struct size_dist *d, uint32_t job)
{
	double gap_ps = size_mean(d) * 8 * 1e12 / ((double)p->cfg->host_rate_bps * load);
	int err = 0;

	for (int k = 0; k < n_h && !err; k++) {
		double t = (double)at;

		for (;;) {
			uint32_t dst;

			t += -log(1 - tita_rng_unit(&p->rng)) * gap_ps;
			if (t >= (double)(at + duration))
				break;
			dst = (uint32_t)(tita_rng_next(&p->rng) % (uint64_t)(n_h - 1));
			if (hosts[dst] == hosts[k])
				dst = (uint32_t)(n_h - 1);
			err = add_flow(p, hosts[k], hosts[dst], size_sample(d, &p->rng),
				       (uint64_t)t, 0, job);
			if (err)
				break;
		}
	}
	return err;
}

#define MAX_LIST 4096
/* Repeated collectives make their flows up front: at most this many. */
#define MAX_REPEAT_FLOWS (4u << 20)

/*
 * How many times a collective runs: repeat=N, or as often as fits in
 * [at, until] at line rate (each rank sends bytes_per_rank per run), or
 * once.
 */
static int collective_repeats(struct parser *p, long repeat, uint64_t at, uint64_t until,
			      double bytes_per_rank, double flows_per_run, uint32_t *ret_n)
{
	double n = repeat ? (double)repeat : 1;

	if (until) {
		double run_ps = bytes_per_rank * 8e12 / (double)p->cfg->host_rate_bps, fit;

		if (until <= at)
			return perr(p, "until must be after at");
		fit = ceil((double)(until - at) / (run_ps > 1 ? run_ps : 1));
		if (!repeat || fit < n)
			n = fit < 1 ? 1 : fit;
	}
	if (n * flows_per_run > MAX_REPEAT_FLOWS)
		return perr(p, "%.0f runs of %.0f flows each are more than %u flows", n,
			    flows_per_run, MAX_REPEAT_FLOWS);
	*ret_n = (uint32_t)n;
	return 0;
}

static int traffic_line(struct parser *p, char *line)
{
	struct sim_config *c = p->cfg;
	uint32_t n_hosts = n_hosts_of(c);
	uint32_t *srcs = NULL, *hosts = NULL;
	int n_src = -1, n_h = -1, dst = -1, src = -1, err = 0;
	uint64_t size = 0, at = 0, until = 0, duration = 0, size_min = 0, size_max = 0;
	long by = 0, repeat = 0;
	double load = -1, weight = 0;
	uint32_t job = 0;
	bool primary = false, have_size = false;
	uint32_t n_iter = 1;
	char *verb, *tok, *save = NULL;
	struct sim_group *g;
	char name[SIM_NAME_MAX] = "";

	verb = strtok_r(line, " \t", &save);
	srcs = calloc(MAX_LIST, sizeof(uint32_t));
	hosts = calloc(MAX_LIST, sizeof(uint32_t));
	if (!srcs || !hosts) {
		err = -ENOMEM;
		goto out;
	}
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		const char *k = tok, *v;

		if (!strcmp(tok, "primary")) {
			primary = true;
			continue;
		}
		if (!eq) {
			err = perr(p, "'%s' is not key=value", tok);
			goto out;
		}
		*eq = 0;
		v = eq + 1;
		if (!strcmp(k, "name")) {
			snprintf(name, sizeof(name), "%s", v);
		} else if (!strcmp(k, "src")) {
			n_src = parse_hosts(v, n_hosts, srcs, MAX_LIST);
			if (n_src == 1)
				src = (int)srcs[0];
			if (n_src < 0) {
				err = perr(p, "src: bad host list '%s' (hosts 0..%u)", v,
					   n_hosts - 1);
				goto out;
			}
		} else if (!strcmp(k, "dst")) {
			char *end;
			unsigned long d = strtoul(v, &end, 10);

			if (*end || end == v || d >= n_hosts) {
				err = perr(p, "dst: bad host '%s' (hosts 0..%u)", v, n_hosts - 1);
				goto out;
			}
			dst = (int)d;
		} else if (!strcmp(k, "hosts")) {
			n_h = parse_hosts(v, n_hosts, hosts, MAX_LIST);
			if (n_h < 2) {
				err = perr(p, "hosts: bad host list '%s' (hosts 0..%u)", v,
					   n_hosts - 1);
				goto out;
			}
		} else if (!strcmp(k, "size")) {
			if (!parse_size(v, &size)) {
				err = perr(p, "size: '%s' is not a size (e.g. 2MB)", v);
				goto out;
			}
			have_size = true;
		} else if (!strcmp(k, "min") || !strcmp(k, "max")) {
			if (!parse_size(v, !strcmp(k, "min") ? &size_min : &size_max)) {
				err = perr(p, "%s: '%s' is not a size (e.g. 4KB)", k, v);
				goto out;
			}
		} else if (!strcmp(k, "at") || !strcmp(k, "until") || !strcmp(k, "duration")) {
			uint64_t *t = !strcmp(k, "at")	  ? &at :
				      !strcmp(k, "until") ? &until :
							    &duration;

			if (!parse_time_ps(v, t)) {
				err = perr(p, "%s: '%s' is not a time (e.g. 10us)", k, v);
				goto out;
			}
		} else if (!strcmp(k, "repeat")) {
			char *end;

			errno = 0;
			repeat = strtol(v, &end, 10);
			if (end == v || *end || errno || repeat < 1 || repeat > 100000) {
				err = perr(p, "repeat: '%s' is not in 1..100000", v);
				goto out;
			}
		} else if (!strcmp(k, "by")) {
			char *end;

			errno = 0;
			by = strtol(v, &end, 10);
			if (end == v || *end || errno || by <= 0 || by >= MAX_LIST) {
				err = perr(p, "by: '%s' is not a positive shift", v);
				goto out;
			}
		} else if (!strcmp(k, "load")) {
			const char *rest;

			if (!parse_number(v, &load, &rest) || *rest || load <= 0 || load > 1) {
				err = perr(p, "load: '%s' is not in (0, 1]", v);
				goto out;
			}
		} else if (!strcmp(k, "job")) {
			char *end;
			unsigned long j = strtoul(v, &end, 10);

			if (*end || j >= SIM_MAX_JOBS) {
				err = perr(p, "job: '%s' outside 0..%u", v, SIM_MAX_JOBS - 1);
				goto out;
			}
			job = (uint32_t)j;
		} else if (!strcmp(k, "weight")) {
			const char *rest;

			if (!parse_number(v, &weight, &rest) || *rest || weight < 0.001 ||
			    weight > 1000) {
				err = perr(p, "weight: '%s' is not in [0.001, 1000]", v);
				goto out;
			}
		} else {
			err = perr(p, "unknown traffic key '%s'", k);
			goto out;
		}
	}
	if (weight > 0) {
		uint32_t milli = (uint32_t)(weight * 1000 + 0.5);

		if (c->job_weight_milli[job] && c->job_weight_milli[job] != milli) {
			err = perr(p, "job %u already has another weight", job);
			goto out;
		}
		c->job_weight_milli[job] = milli;
	}
	if (c->n_groups == c->cap_groups) {
		uint32_t cap = c->cap_groups ? c->cap_groups * 2 : 8;
		struct sim_group *gs = realloc(c->groups, cap * sizeof(*gs));

		if (!gs) {
			err = -ENOMEM;
			goto out;
		}
		c->groups = gs;
		c->cap_groups = cap;
	}
	g = &c->groups[c->n_groups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name[0] ? name : verb);
	g->primary = primary;
	g->first_flow = c->n_flows;

	if ((repeat || until) && strcmp(verb, "flow") && strcmp(verb, "ring") &&
	    strcmp(verb, "alltoall")) {
		err = perr(p, "%s takes neither repeat= nor until= (ring and alltoall do)", verb);
		goto out;
	}
	if (repeat && !strcmp(verb, "flow")) {
		err = perr(p, "flow takes no repeat= (ring and alltoall do)");
		goto out;
	}
	if (!strcmp(verb, "flow")) {
		g->kind = SIM_GROUP_FLOWS;
		if (src < 0 || dst < 0 || (!have_size && !until) || (have_size && !size)) {
			err = perr(p, "flow needs src=, dst= and size= or until=");
			goto out;
		}
		if (!have_size && until <= at) {
			err = perr(p, "flow: until must be after at");
			goto out;
		}
		err = add_flow(p, (uint32_t)src, (uint32_t)dst, size, at, have_size ? 0 : until,
			       job);
	} else if (!strcmp(verb, "incast")) {
		g->kind = SIM_GROUP_INCAST;
		if (n_src < 1 || dst < 0 || !size) {
			err = perr(p, "incast needs dst=, src= and size=");
			goto out;
		}
		for (int k = 0; k < n_src && !err; k++)
			err = add_flow(p, srcs[k], (uint32_t)dst, size, at, 0, job);
	} else if (!strcmp(verb, "alltoall")) {
		g->kind = SIM_GROUP_ALLTOALL;
		if (n_h < 2 || !size) {
			err = perr(p, "alltoall needs hosts= and size=");
			goto out;
		}
		if ((err = collective_repeats(p, repeat, at, until,
					      (double)(n_h - 1) * (double)size,
					      (double)(n_h - 1) * (double)n_h, &n_iter)))
			goto out;
		/* In the order NCCL's all-to-all posts them: each rank sends to
		 * rank+1, rank+2, ... so no receiver is hit by all at once. A
		 * repeat's send to rank+d waits for the last one's, and for
		 * what came from rank-d in it. */
		for (uint32_t it = 0; it < n_iter && !err; it++)
			for (int d = 1; d < n_h && !err; d++)
				for (int k = 0; k < n_h && !err; k++) {
					uint32_t per = (uint32_t)(n_h - 1) * (uint32_t)n_h;
					uint32_t prev = g->first_flow + (it - 1) * per +
							(uint32_t)(d - 1) * (uint32_t)n_h;
					struct sim_flow_spec *f;

					err = add_flow(p, hosts[k], hosts[(k + d) % n_h], size, at,
						       0, job);
					if (err)
						break;
					f = &c->flows[c->n_flows - 1];
					f->latest_start_ps = until;
					if (!it)
						continue;
					f->dep[0] = prev + (uint32_t)k;
					f->dep[1] = prev + (uint32_t)((k - d + n_h) % n_h);
					f->n_dep = 2;
				}
	} else if (!strcmp(verb, "permutation")) {
		g->kind = SIM_GROUP_PERMUTATION;
		if (n_h < 2 || !size) {
			err = perr(p, "permutation needs hosts= and size=");
			goto out;
		}
		/* A random derangement (Sattolo's shuffle: one cycle). */
		{
			uint32_t *perm = calloc((size_t)n_h, sizeof(uint32_t));

			if (!perm) {
				err = -ENOMEM;
				goto out;
			}
			for (int k = 0; k < n_h; k++)
				perm[k] = (uint32_t)k;
			for (int k = n_h - 1; k > 0; k--) {
				uint32_t j = (uint32_t)(tita_rng_next(&p->rng) % (uint64_t)k);
				uint32_t t = perm[k];

				perm[k] = perm[j];
				perm[j] = t;
			}
			for (int k = 0; k < n_h && !err; k++)
				err = add_flow(p, hosts[k], hosts[perm[k]], size, at, 0, job);
			free(perm);
		}
	} else if (!strcmp(verb, "shift")) {
		g->kind = SIM_GROUP_SHIFT;
		if (n_h < 2 || !size || !by || by % n_h == 0) {
			err = perr(
				p,
				"shift needs hosts=, size= and by= (not a multiple of the hosts)");
			goto out;
		}
		for (int k = 0; k < n_h && !err; k++)
			err = add_flow(p, hosts[k], hosts[(k + by) % n_h], size, at, 0, job);
	} else if (!strcmp(verb, "ring")) {
		uint32_t n = (uint32_t)n_h, steps;
		uint64_t chunk;

		g->kind = SIM_GROUP_RING;
		if (n_h < 2 || !size) {
			err = perr(p, "ring needs hosts= and size=");
			goto out;
		}
		/* Ring all-reduce: 2(N-1) steps (reduce-scatter, all-gather); in
		 * each, every rank sends one chunk of size/N to its successor,
		 * after it has sent its previous chunk and received its
		 * predecessor's. */
		steps = 2 * (n - 1);
		chunk = size / n ? size / n : 1;
		if ((err = collective_repeats(p, repeat, at, until, (double)steps * (double)chunk,
					      (double)steps * (double)n, &n_iter)))
			goto out;
		/* A repeat goes on where the last ended: its steps follow on. */
		steps *= n_iter;
		g->ring_hosts = n;
		g->ring_steps = steps;
		g->ring_chunk_bytes = chunk;
		for (uint32_t st = 0; st < steps && !err; st++)
			for (uint32_t k = 0; k < n && !err; k++) {
				struct sim_flow_spec *f;

				err = add_flow(p, hosts[k], hosts[(k + 1) % n], chunk, at, 0, job);
				if (err)
					continue;
				c->flows[c->n_flows - 1].latest_start_ps = until;
				if (!st)
					continue;
				f = &c->flows[c->n_flows - 1];
				f->dep[0] = g->first_flow + (st - 1) * n + k;
				f->dep[1] = g->first_flow + (st - 1) * n + (k + n - 1) % n;
				f->n_dep = 2;
			}
	} else if (!strcmp(verb, "websearch")) {
		struct size_dist d = { 0 };

		g->kind = SIM_GROUP_WEBSEARCH;
		if (n_h < 2 || load <= 0 || !duration) {
			err = perr(p, "websearch needs hosts=, load= and duration=");
			goto out;
		}
		err = poisson_flows(p, hosts, n_h, load, at, duration, &d, job);
	} else if (!strcmp(verb, "messages")) {
		struct size_dist d = { .lo = size_min, .hi = size_max };

		g->kind = SIM_GROUP_MESSAGES;
		if (n_h < 2 || load <= 0 || !duration || !size_min || size_max < size_min) {
			err = perr(p, "messages needs hosts=, load=, duration= and 0 < min <= max");
			goto out;
		}
		err = poisson_flows(p, hosts, n_h, load, at, duration, &d, job);
	} else {
		err = perr(p, "unknown traffic generator '%s'", verb ? verb : "");
		goto out;
	}
	g->n_flows = c->n_flows - g->first_flow;
	if (!err && !g->n_flows)
		err = perr(p, "this line makes no flows");
out:
	free(srcs);
	free(hosts);
	return err;
}

static const char *const fault_kind_names[SIM_FAULT_N_KINDS] = {
	[SIM_FAULT_LINK_DOWN] = "link",	   [SIM_FAULT_SLOWHOST] = "slowhost",
	[SIM_FAULT_SLOWNIC] = "slownic",   [SIM_FAULT_SLOWLINK] = "slowlink",
	[SIM_FAULT_LOSSY] = "lossy",	   [SIM_FAULT_DEAD] = "dead",
	[SIM_FAULT_PFCSTORM] = "pfcstorm",
};

const char *sim_fault_kind_name(enum sim_fault_kind k)
{
	return (unsigned)k < SIM_FAULT_N_KINDS ? fault_kind_names[k] : "?";
}

/* What each kind of fault takes, besides at=. */
enum {
	NEEDS_HOST = 1, /* host=H */
	NEEDS_LINK = 2, /* leaf=L spine=S */
	TAKES_EITHER = NEEDS_HOST | NEEDS_LINK, /* host=H, or leaf=L spine=S */
	NEEDS_FRAC = 4,
	NEEDS_DROP = 8,
};

static const unsigned fault_takes[SIM_FAULT_N_KINDS] = {
	[SIM_FAULT_LINK_DOWN] = NEEDS_LINK,
	[SIM_FAULT_SLOWHOST] = NEEDS_HOST | NEEDS_FRAC,
	[SIM_FAULT_SLOWNIC] = NEEDS_HOST | NEEDS_FRAC,
	[SIM_FAULT_SLOWLINK] = TAKES_EITHER | NEEDS_FRAC,
	[SIM_FAULT_LOSSY] = TAKES_EITHER | NEEDS_DROP,
	[SIM_FAULT_DEAD] = NEEDS_HOST,
	[SIM_FAULT_PFCSTORM] = NEEDS_HOST,
};

static const char *const fault_usage[SIM_FAULT_N_KINDS] = {
	[SIM_FAULT_LINK_DOWN] = "link leaf=L spine=S at=T",
	[SIM_FAULT_SLOWHOST] = "slowhost host=H frac=F at=T",
	[SIM_FAULT_SLOWNIC] = "slownic host=H frac=F at=T",
	[SIM_FAULT_SLOWLINK] = "slowlink (host=H | leaf=L spine=S) frac=F at=T",
	[SIM_FAULT_LOSSY] = "lossy (host=H | leaf=L spine=S) drop=P at=T",
	[SIM_FAULT_DEAD] = "dead host=H at=T",
	[SIM_FAULT_PFCSTORM] = "pfcstorm host=H at=T",
};

/* [faults]: one fault a line (see the header). Whether its host, leaf or
 * spine exist is checked once the topology is known. */
static int fault_line(struct parser *p, char *line)
{
	struct sim_config *c = p->cfg;
	char *verb, *tok, *save = NULL;
	bool have_host = false, have_leaf = false, have_spine = false, have_at = false;
	bool have_frac = false, have_drop = false;
	struct sim_fault ft = { .line = p->line };
	unsigned takes;
	int kind = -1;

	verb = strtok_r(line, " \t", &save);
	for (int k = 0; verb && k < SIM_FAULT_N_KINDS; k++)
		if (!strcmp(verb, fault_kind_names[k]))
			kind = k;
	if (kind < 0)
		return perr(p,
			    "unknown fault '%s' (link, slowhost, slownic, slowlink, lossy, dead, "
			    "pfcstorm)",
			    verb ? verb : "");
	ft.kind = (enum sim_fault_kind)kind;
	takes = fault_takes[kind];
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '='), *end;
		const char *v;
		unsigned long n;

		if (!eq)
			return perr(p, "'%s' is not key=value", tok);
		*eq = 0;
		v = eq + 1;
		if (!strcmp(tok, "at")) {
			if (!parse_time_ps(v, &ft.at_ps))
				return perr(p, "at: '%s' is not a time (e.g. 2ms)", v);
			have_at = true;
			continue;
		}
		if (!strcmp(tok, "frac") || !strcmp(tok, "drop")) {
			const char *rest;
			double x;
			bool frac = !strcmp(tok, "frac");

			if (!(takes & (frac ? NEEDS_FRAC : NEEDS_DROP)))
				return perr(p, "%s takes no %s= (%s)", verb, tok,
					    fault_usage[kind]);
			if (!parse_number(v, &x, &rest) || *rest || !(x > 0 && x < 1))
				return perr(p, "%s: '%s' is not in (0, 1)", tok, v);
			if (frac) {
				ft.frac = x;
				have_frac = true;
			} else {
				ft.drop = x;
				have_drop = true;
			}
			continue;
		}
		if (strcmp(tok, "leaf") && strcmp(tok, "spine") && strcmp(tok, "host"))
			return perr(p, "unknown fault key '%s' (%s)", tok, fault_usage[kind]);
		if (!strcmp(tok, "host") ? !(takes & NEEDS_HOST) : !(takes & NEEDS_LINK))
			return perr(p, "%s takes no %s= (%s)", verb, tok, fault_usage[kind]);
		errno = 0;
		n = strtoul(v, &end, 10);
		if (end == v || *end || errno || *v == '-' ||
		    n > (!strcmp(tok, "host") ? MAX_LIST - 1 : 255))
			return perr(p, "%s: '%s' is not a %s number", tok, v,
				    !strcmp(tok, "host") ? "host" : "switch");
		if (!strcmp(tok, "host")) {
			ft.host = (uint32_t)n;
			have_host = true;
		} else if (!strcmp(tok, "leaf")) {
			ft.leaf = (uint32_t)n;
			have_leaf = true;
		} else {
			ft.spine = (uint32_t)n;
			have_spine = true;
		}
	}
	ft.on_host = have_host;
	if (!have_at || ((takes & NEEDS_FRAC) && !have_frac) ||
	    ((takes & NEEDS_DROP) && !have_drop) || (have_host && (have_leaf || have_spine)) ||
	    have_leaf != have_spine || (!have_host && !have_leaf) ||
	    (have_host && !(takes & NEEDS_HOST)) || (have_leaf && !(takes & NEEDS_LINK)))
		return perr(p, "%s needs: %s", verb, fault_usage[kind]);
	if (c->n_faults == c->cap_faults) {
		uint32_t cap = c->cap_faults ? c->cap_faults * 2 : 4;
		struct sim_fault *f = realloc(c->faults, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		c->faults = f;
		c->cap_faults = cap;
	}
	c->faults[c->n_faults++] = ft;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int sim_config_parse(struct sim_config *cfg, const char *buf, size_t len, const char *path,
		     uint64_t seed, FILE *err)
{
	struct parser p = { .cfg = cfg, .path = path, .err = err };
	size_t pos = 0;
	char line[1024];
	int rc = 0;
	bool primary = false;

	config_defaults(cfg);
	/* Generators draw from their own stream, fixed by the seed given on
	 * the [run] line (read first, below), so traffic does not depend on
	 * what else the simulator draws. */
	{
		const char *sd = NULL;

		for (size_t k = 0; k + 4 < len; k++)
			if (!memcmp(buf + k, "seed", 4) && (k == 0 || buf[k - 1] == '\n')) {
				sd = buf + k;
				break;
			}
		if (sd) {
			const char *eq = memchr(sd, '=', len - (size_t)(sd - buf));

			if (eq)
				cfg->seed = strtoull(eq + 1, NULL, 10);
		}
		if (seed != SIM_SEED_FROM_FILE)
			cfg->seed = seed;
		p.rng = cfg->seed * 0x2545f4914f6cdd1dull + 17;
	}
	while (pos < len && !rc) {
		size_t n = 0;
		char *s, *hash, *eq;

		p.line++;
		while (pos < len && buf[pos] != '\n') {
			if (n + 1 >= sizeof(line))
				return perr(&p, "line longer than %zu bytes", sizeof(line) - 1);
			line[n++] = buf[pos++];
		}
		pos++;
		line[n] = 0;
		if (memchr(line, 0, n))
			return perr(&p, "NUL byte");
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');

			if (!e || e[1])
				return perr(&p, "bad section header");
			*e = 0;
			snprintf(p.section, sizeof(p.section), "%s", trim(s + 1));
			if (strcmp(p.section, "scenario") && strcmp(p.section, "topology") &&
			    strcmp(p.section, "switch") && strcmp(p.section, "nic") &&
			    strcmp(p.section, "run") && strcmp(p.section, "dcqcn") &&
			    strcmp(p.section, "hpcc") && strcmp(p.section, "tita") &&
			    strcmp(p.section, "traffic") && strcmp(p.section, "faults"))
				return perr(&p, "unknown section [%s]", p.section);
			continue;
		}
		if (!p.section[0])
			return perr(&p, "text before the first [section]");
		if (!strcmp(p.section, "traffic")) {
			rc = traffic_line(&p, s);
			continue;
		}
		if (!strcmp(p.section, "faults")) {
			rc = fault_line(&p, s);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return perr(&p, "expected key = value");
		*eq = 0;
		rc = set_key(&p, trim(s), trim(eq + 1));
	}
	if (seed != SIM_SEED_FROM_FILE)
		cfg->seed = seed;
	if (rc)
		return rc;
	if (!cfg->n_flows) {
		p.line = 0;
		return perr(&p, "no [traffic]");
	}
	if (cfg->monitor_host >= n_hosts_of(cfg)) {
		p.line = 0;
		return perr(&p, "monitor_host %u is not a host", cfg->monitor_host);
	}
	if (cfg->kmax_kb_per_25g < cfg->kmin_kb_per_25g) {
		p.line = 0;
		return perr(&p, "kmax below kmin");
	}
	for (uint32_t k = 0; k < cfg->n_faults; k++) {
		const struct sim_fault *ft = &cfg->faults[k];

		p.line = ft->line;
		if (ft->on_host && ft->host >= n_hosts_of(cfg))
			return perr(&p, "%s: no host %u (hosts 0..%u)",
				    sim_fault_kind_name(ft->kind), ft->host, n_hosts_of(cfg) - 1);
		if (!ft->on_host && (cfg->topo != SIM_TOPO_LEAFSPINE || ft->leaf >= cfg->leaves ||
				     ft->spine >= cfg->spines))
			return perr(&p, "%s: no link between leaf %u and spine %u",
				    sim_fault_kind_name(ft->kind), ft->leaf, ft->spine);
	}
	for (uint32_t g = 0; g < cfg->n_groups; g++)
		primary |= cfg->groups[g].primary;
	if (!primary)
		cfg->groups[0].primary = true;
	return 0;
}

int sim_config_load(struct sim_config *cfg, const char *path, uint64_t seed, FILE *err)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;
	int rc;

	if (!f) {
		if (err)
			fprintf(err, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0 || n > (1 << 20)) {
		fclose(f);
		if (err)
			fprintf(err, "%s: not a scenario (size)\n", path);
		return -EINVAL;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	rc = sim_config_parse(cfg, buf, (size_t)n, path, seed, err);
	free(buf);
	return rc;
}

/* --set traffic.size=S: every sized generator takes S (a ring, chunks of
 * S / N); timed flows keep running until their stop. */
static int set_traffic_size(struct parser *p, const char *val)
{
	struct sim_config *c = p->cfg;
	uint64_t size;

	if (!parse_size(val, &size) || !size)
		return perr(p, "traffic.size: '%s' is not a size (e.g. 200MB)", val);
	for (uint32_t g = 0; g < c->n_groups; g++)
		if (c->groups[g].kind == SIM_GROUP_WEBSEARCH ||
		    c->groups[g].kind == SIM_GROUP_MESSAGES)
			return perr(p, "traffic.size: group '%s' draws its sizes from %s",
				    c->groups[g].name,
				    c->groups[g].kind == SIM_GROUP_WEBSEARCH ? "WebSearch" :
									       "[min, max]");
	for (uint32_t g = 0; g < c->n_groups; g++) {
		struct sim_group *gr = &c->groups[g];
		uint64_t each = size;

		if (gr->kind == SIM_GROUP_RING) {
			each = size / gr->ring_hosts ? size / gr->ring_hosts : 1;
			gr->ring_chunk_bytes = each;
		}
		for (uint32_t k = 0; k < gr->n_flows; k++)
			if (c->flows[gr->first_flow + k].size_bytes)
				c->flows[gr->first_flow + k].size_bytes = each;
	}
	return 0;
}

int sim_config_set(struct sim_config *cfg, const char *assignment, FILE *err)
{
	struct parser p = { .cfg = cfg, .path = "--set", .err = err };
	char tmp[256], *dot, *eq;

	snprintf(tmp, sizeof(tmp), "%s", assignment);
	dot = strchr(tmp, '.');
	eq = strchr(tmp, '=');
	if (!dot || !eq || dot > eq)
		return perr(&p, "'%s' is not section.key=value", assignment);
	*dot = 0;
	*eq = 0;
	if (strlen(tmp) >= sizeof(p.section))
		return perr(&p, "no section '%s'", tmp);
	memcpy(p.section, tmp, strlen(tmp) + 1);
	if (!strcmp(p.section, "traffic") && !strcmp(dot + 1, "size"))
		return set_traffic_size(&p, eq + 1);
	if (!strcmp(p.section, "traffic") || !strcmp(p.section, "scenario") ||
	    !strcmp(p.section, "faults"))
		return perr(&p, "[%s] cannot be set from the command line", p.section);
	return set_key(&p, dot + 1, eq + 1);
}

void sim_config_fini(struct sim_config *cfg)
{
	free(cfg->kv);
	free(cfg->groups);
	free(cfg->flows);
	free(cfg->faults);
	memset(cfg, 0, sizeof(*cfg));
}
