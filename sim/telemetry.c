// SPDX-License-Identifier: MIT
/*
 * Health telemetry: every host's lib/health evidence in the schema titad
 * exports, so that the diagnoser reads simulated runs as it reads a
 * cluster's Prometheus.
 *
 * Each host has one lib/health accumulator, fed by cc_tita.c at every
 * control round from what the host's controller is fed (tita only: the
 * other congestion controls run no controller, and keep no per-pair
 * samples to feed it from). Every telemetry interval they all close, and
 * DIR/NNNNNN.prom (000001, 000002, ...) holds what Prometheus's /federate
 * would return for the cluster then: each live host's gauges with
 * instance="h<N>", up 1 for it and up 0 for a dead one (it no longer
 * answers), and each host's place (tita_fabric_place, as titad exports it)
 * on a leaf-spine fabric whose hosts know it. At the end, DIR/truth.json
 * names the faults injected and the run's parameters, for scoring.
 *
 * Time scale: titad's health interval is 1 s (10,000 control rounds of
 * 100 us); a packet-level run of seconds at 100G is out of reach, so the
 * simulator's interval is 1 ms by default (10 rounds). The gauges are
 * ratios and rates over the interval, which keep their meaning; what
 * shrinks is how many rounds each one averages. A peer falls silent after
 * 3 grant TTLs or one interval, whichever is shorter; titad's hellos are
 * not packets here: a live peer counts as heard every round (cc_tita.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim.h"
#include "tita/health.h"

#define DEFAULT_INTERVAL_PS SIM_PS_PER_MS

struct sim_telemetry {
	char dir[1024];
	uint64_t interval_ps;
	uint32_t written;
	struct tita_health **health; /* per host; NULL once dead */
	struct tita_health_snapshot *snaps;
	struct tita_health_source *src;
	struct tita_health_label *labels;
	char (*instance)[16];
	char *buf;
	size_t cap;
};

static uint32_t host_of(const struct tita_addr *a)
{
	return ((uint32_t)a->bytes[13] << 16) | ((uint32_t)a->bytes[14] << 8) | a->bytes[15];
}

/* Ports and peers are hosts, named as the instances are. */
static const char *name_host(void *ctx, const struct tita_addr *a, char *buf, size_t size)
{
	(void)ctx;
	snprintf(buf, size, "h%u", host_of(a));
	return buf;
}

static const struct tita_health_namer namer = { NULL, name_host, name_host, NULL };

struct tita_health *sim_telemetry_health(struct sim *s, uint32_t host)
{
	if (!s->tel || s->hosts[host].dead)
		return NULL;
	return s->tel->health[host];
}

uint32_t sim_telemetry_intervals(const struct sim *s)
{
	return s->tel ? s->tel->written : 0;
}

int sim_telemetry_start(struct sim *s, const char *dir)
{
	struct sim_telemetry *t;
	struct tita_health_params hp;

	if (!s->cc->tita) {
		fprintf(stderr, "tita-sim: telemetry needs -c tita (its controller's samples "
				"feed the health gauges)\n");
		return -ENOTSUP;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "tita-sim: %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	t = sim_xcalloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	t->interval_ps = s->cfg->telemetry_interval_ps ? s->cfg->telemetry_interval_ps :
							 DEFAULT_INTERVAL_PS;
	tita_health_params_default(&hp);
	hp.round_ns = s->tita.control_interval_ns;
	/* titad's peer is silent after 3 grant TTLs (30 ms by default, 3 % of
	 * its interval); the simulator's intervals are a thousand times
	 * shorter, and its peer is silent after 3 TTLs or one interval,
	 * whichever is shorter. */
	hp.silent_after_ns = tita_min_u64(3 * s->tita.grant_ttl_ns, t->interval_ps / SIM_PS_PER_NS);
	hp.max_ports = 1;
	hp.max_pairs = 2 * s->n_hosts * SIM_MAX_JOBS;
	hp.max_peers = 2 * s->n_hosts;
	hp.max_jobs = SIM_MAX_JOBS;
	t->health = sim_xcalloc(s->n_hosts, sizeof(*t->health));
	t->snaps = sim_xcalloc(s->n_hosts, sizeof(*t->snaps));
	t->src = sim_xcalloc(s->n_hosts, sizeof(*t->src));
	t->labels = sim_xcalloc(s->n_hosts, sizeof(*t->labels));
	t->instance = sim_xcalloc(s->n_hosts, sizeof(*t->instance));
	s->tel = t;
	for (uint32_t h = 0; h < s->n_hosts; h++) {
		struct tita_addr a = tita_addr_from_host_id(h);

		t->health[h] = tita_health_new(&hp, s->now_ps / SIM_PS_PER_NS);
		if (!t->health[h] ||
		    tita_health_port_set(t->health[h], &a, s->cfg->host_rate_bps) ||
		    tita_health_port_pause(t->health[h], &a, true, 0, 0, 0)) {
			fprintf(stderr, "tita-sim: cannot set up host %u's health\n", h);
			return -ENOMEM;
		}
		snprintf(t->instance[h], sizeof(t->instance[h]), "h%u", h);
		t->labels[h] = (struct tita_health_label){ "instance", t->instance[h] };
	}
	sim_schedule(s, s->now_ps + t->interval_ps, SIM_EV_TELEMETRY, 0, 0);
	return 0;
}

/* Append to t->buf at *len, growing it. */
__attribute__((format(printf, 3, 4))) static void put(struct sim_telemetry *t, size_t *len,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + *len, t->cap - *len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - *len)
			break;
		t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0);
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf) {
			fprintf(stderr, "tita-sim: out of memory\n");
			exit(1);
		}
	}
	*len += (size_t)n;
}

void sim_telemetry_tick(struct sim *s)
{
	struct sim_telemetry *t = s->tel;
	const struct sim_config *c = s->cfg;
	uint64_t now_ns = s->now_ps / SIM_PS_PER_NS;
	uint32_t n = 0;
	size_t len;
	char path[1100];
	FILE *f;

	if (!t)
		return;
	for (uint32_t h = 0; h < s->n_hosts; h++) {
		const struct sim_port *pt = &s->ports[s->hosts[h].port];
		struct tita_addr a = tita_addr_from_host_id(h);

		if (s->hosts[h].dead) {
			t->health[h] = tita_health_free(t->health[h]);
			continue;
		}
		tita_health_port_pause(t->health[h], &a, true, pt->pause_frames,
				       pt->pause_rx_frames, now_ns);
		if (tita_health_close(t->health[h], now_ns, &t->snaps[n]))
			continue;
		t->src[n] = (struct tita_health_source){ &t->snaps[n], &t->labels[h], 1, &namer };
		n++;
	}
	if (!t->buf) {
		t->cap = 1 << 20;
		t->buf = sim_xcalloc(1, t->cap);
	}
	for (;;) {
		len = tita_health_format(t->src, n, t->buf, t->cap);
		if (len == (size_t)-1) {
			fprintf(stderr, "tita-sim: telemetry: bad label\n");
			exit(1);
		}
		if (len < t->cap)
			break;
		t->cap = len + 1 + len / 4;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf) {
			fprintf(stderr, "tita-sim: out of memory\n");
			exit(1);
		}
	}
	put(t, &len,
	    "# HELP up 1 when the instance's metrics were read, 0 when it did not "
	    "answer.\n# TYPE up gauge\n");
	for (uint32_t h = 0; h < s->n_hosts; h++)
		put(t, &len, "up{instance=\"h%u\"} %d\n", h, !s->hosts[h].dead);
	/* titad's own family and labels (daemon/metrics.c), for the hosts
	 * that answer: a leaf is named leaf<L>. */
	if (c->topo == SIM_TOPO_LEAFSPINE && !c->hosts_unplaced) {
		put(t, &len,
		    "# HELP tita_fabric_place A port's place: 1 with its leaf, uplinks and their "
		    "capacity; 0 when it has none.\n# TYPE tita_fabric_place gauge\n");
		for (uint32_t h = 0; h < s->n_hosts; h++)
			if (!s->hosts[h].dead)
				put(t, &len,
				    "tita_fabric_place{instance=\"h%u\",port=\"h%u\",leaf=\"leaf%u\","
				    "spines=\"%u\",spine_bytes_per_second=\"%llu\"} 1\n",
				    h, h, h / c->hosts_per_leaf, c->spines,
				    (unsigned long long)(c->fabric_rate_bps / 8));
	}
	t->written++;
	snprintf(path, sizeof(path), "%s/%06u.prom", t->dir, t->written);
	f = fopen(path, "w");
	if (!f || fwrite(t->buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "tita-sim: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (s->now_ps + t->interval_ps <= c->max_time_ps)
		sim_schedule(s, s->now_ps + t->interval_ps, SIM_EV_TELEMETRY, 0, 0);
}

static void json_string(FILE *f, const char *v)
{
	fputc('"', f);
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *group_kind(enum sim_group_kind k)
{
	static const char *const names[] = {
		[SIM_GROUP_FLOWS] = "flows",	     [SIM_GROUP_INCAST] = "incast",
		[SIM_GROUP_ALLTOALL] = "alltoall",   [SIM_GROUP_PERMUTATION] = "permutation",
		[SIM_GROUP_SHIFT] = "shift",	     [SIM_GROUP_RING] = "ring",
		[SIM_GROUP_WEBSEARCH] = "websearch", [SIM_GROUP_MESSAGES] = "messages",
	};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

int sim_telemetry_finish(struct sim *s)
{
	struct sim_telemetry *t = s->tel;
	const struct sim_config *c = s->cfg;
	char path[1100];
	FILE *f;
	int rc = 0;

	if (!t)
		return 0;
	snprintf(path, sizeof(path), "%s/truth.json", t->dir);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "tita-sim: %s: %s\n", path, strerror(errno));
		rc = -errno;
		goto out;
	}
	fprintf(f, "{\n  \"scenario\": ");
	json_string(f, c->name);
	fprintf(f, ",\n  \"cc\": ");
	json_string(f, s->cc->name);
	fprintf(f, ",\n  \"seed\": %llu,\n", (unsigned long long)c->seed);
	fprintf(f, "  \"topology\": \"%s\",\n",
		c->topo == SIM_TOPO_LEAFSPINE ? "leafspine" : "single");
	fprintf(f, "  \"hosts\": %u,\n", s->n_hosts);
	if (c->topo == SIM_TOPO_LEAFSPINE)
		fprintf(f, "  \"leaves\": %u,\n  \"spines\": %u,\n  \"hosts_per_leaf\": %u,\n",
			c->leaves, c->spines, c->hosts_per_leaf);
	fprintf(f, "  \"host_gbps\": %g,\n  \"fabric_gbps\": %g,\n", (double)c->host_rate_bps / 1e9,
		(double)c->fabric_rate_bps / 1e9);
	fprintf(f, "  \"telemetry_interval_us\": %g,\n", (double)t->interval_ps / 1e6);
	fprintf(f, "  \"control_interval_us\": %g,\n", (double)s->tita.control_interval_ns / 1e3);
	fprintf(f, "  \"grant_ttl_us\": %g,\n", (double)s->tita.grant_ttl_ns / 1e3);
	fprintf(f, "  \"max_time_us\": %g,\n", (double)c->max_time_ps / 1e6);
	fprintf(f, "  \"end_us\": %g,\n", (double)s->now_ps / 1e6);
	fprintf(f, "  \"intervals\": %u,\n", t->written);
	fprintf(f, "  \"traffic\": [");
	for (uint32_t g = 0; g < c->n_groups; g++) {
		fprintf(f, "%s\n    {\"name\": ", g ? "," : "");
		json_string(f, c->groups[g].name);
		fprintf(f, ", \"kind\": \"%s\", \"flows\": %u}", group_kind(c->groups[g].kind),
			c->groups[g].n_flows);
	}
	fprintf(f, "\n  ],\n  \"faults\": [");
	for (uint32_t k = 0; k < c->n_faults; k++) {
		const struct sim_fault *ft = &c->faults[k];

		fprintf(f, "%s\n    {\"kind\": \"%s\", ", k ? "," : "",
			sim_fault_kind_name(ft->kind));
		if (ft->on_host)
			fprintf(f, "\"host\": \"h%u\", ", ft->host);
		else
			fprintf(f, "\"leaf\": \"leaf%u\", \"spine\": %u, ", ft->leaf, ft->spine);
		if (ft->kind == SIM_FAULT_SLOWHOST || ft->kind == SIM_FAULT_SLOWNIC ||
		    ft->kind == SIM_FAULT_SLOWLINK)
			fprintf(f, "\"frac\": %g, ", ft->frac);
		if (ft->kind == SIM_FAULT_LOSSY)
			fprintf(f, "\"drop\": %g, ", ft->drop);
		/* Whether any traffic met a faulty link (a leaf-spine link
		 * that no pair's path crosses is no fault anyone can see),
		 * and how full its busier direction ran. */
		{
			uint64_t bytes;
			double busy;

			if (sim_fault_traffic(s, k, &bytes, &busy))
				fprintf(f, "\"bytes_after\": %llu, \"busy_ratio\": %.3f, ",
					(unsigned long long)bytes, busy);
		}
		/* The first interval (file number) the fault is in. */
		fprintf(f, "\"at_us\": %g, \"at_interval\": %llu}", (double)ft->at_ps / 1e6,
			(unsigned long long)(ft->at_ps / t->interval_ps + 1));
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f)) {
		rc = -errno;
		fprintf(stderr, "tita-sim: %s: %s\n", path, strerror(errno));
	}
out:
	for (uint32_t h = 0; h < s->n_hosts; h++)
		tita_health_free(t->health[h]);
	free(t->health);
	free(t->snaps);
	free(t->src);
	free(t->labels);
	free(t->instance);
	free(t->buf);
	free(t);
	s->tel = NULL;
	return rc;
}
