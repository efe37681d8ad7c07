// SPDX-License-Identifier: MIT
/*
 * Localization from cluster telemetry (see tita/diagnose.h).
 *
 * The reasoning, as a careful SRE would do it:
 *
 *  1. Who is there: every instance with an `up` sample (or any sample);
 *     which leaf it sits under (tita_fabric_place), which addresses and
 *     port names are its own (tita_port_info, the port label), so that a
 *     pair's peer label names a host.
 *  2. Each host's own gauges, averaged over the snapshots in which it was
 *     up (a host with several ports: the worst port's ratio, the sum of
 *     the rates), and compared with the cluster's median and 90th
 *     percentile: a ratio stands out only above the top of the others'
 *     spread plus a margin, so a cluster that is busy and congested
 *     everywhere stays healthy, and one culprit does not move the yardstick.
 *     The receive side tells a slow application (the host receives
 *     normally) from a slow link or NIC (both ways slow; CE toward the host
 *     where the switch's side queues, PFC pauses where the NIC cannot take
 *     what arrives).
 *  3. What the others see of each host: receivers' shortfall and loss on
 *     pairs from it, senders' blocked ratio and retransmissions toward it,
 *     peers that name it silent (the last decides a dead host's
 *     confidence; the rest is evidence, and feeds the votes below).
 *     Receivers falling short on one host's pairs alone, far more than on
 *     any other's, name its link slow where nothing else does (a ring
 *     without other traffic runs in lock-step: no CE, nobody blocked);
 *     past that onset, the member that waits (application-limited) well
 *     above the others, though far less than a slow application. CE on
 *     several hosts alike is a shared uplink's, not a host link's.
 *  4. Path voting, as 007 does: every pair line spreads its loss (or
 *     shortfall) over the links of its path (the two host links and,
 *     across leaves, both leaves' uplinks); pairs that know their spine
 *     also vote for the leaf-spine links, which names the uplink. The link
 *     that collects far more than its share is the suspect, less so when
 *     lines through it lost nothing; a slow link's shortfall is the mean
 *     over every pair line through it, the lines without any shortfall
 *     too, weighed by its share of the largest excess. The receive lines
 *     into hosts marked CE alike name the uplink that marked them.
 *  5. Every candidate gets a score (how many margins it stands out by);
 *     the highest ranks first, and below min_score nothing is reported.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tita/diagnose.h"

void tita_diag_params_default(struct tita_diag_params *p)
{
	p->ratio_margin = 0.15;
	p->app_limited_margin = 0.3;
	p->ce_margin = 0.01;
	p->blocked_margin = 0.1;
	p->loss_floor = 0.002;
	p->pause_floor_per_second = 1000;
	p->pause_factor = 10;
	p->job_rate_factor = 0.7;
	p->min_score = 1.0;
	p->rx_short_alone_floor = 0.5;
	p->rx_short_alone_margin = 0.15;
	p->lockstep_tx_spread_ratio = 0.1;
	p->lockstep_short_floor = 0.35;
	p->lockstep_app_margin = 0.08;
	p->lockstep_app_host_floor = 0.8;
	p->ce_hosts_uplink = 3;
	p->ce_uplink_floor = 0.5;
	p->ce_uplink_lead = 1.1;
	p->blocked_alone_margins = 2;
	p->blocked_alone_lead = 2;
	p->ce_alone_floor = 0.001;
	p->ce_alone_lead = 10;
	p->spine_excess_floor = 0.3;
	p->spine_excess_lead = 3;
	p->spine_excess_leaf_floor = 0.05;
}

const char *tita_diag_kind_name(enum tita_diag_kind k)
{
	static const char *const names[] = { "healthy",	   "slow-host", "slow-nic", "pfc-storm",
					     "lossy-link", "slow-link", "dead-host" };

	return (unsigned)k < TITA_DIAG_N_KINDS ? names[k] : "unknown";
}

const char *tita_diag_state_name(enum tita_diag_state s)
{
	return s == TITA_DIAG_FAILED ? "failed" : s == TITA_DIAG_SLOW ? "slow" : "ok";
}

/* ---- text without stdio ------------------------------------------------------------- */

struct text {
	char *buf;
	size_t size, len;
};

static void t_str(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->len + n >= t->size)
		n = t->size - 1 - t->len;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void t_u64(struct text *t, uint64_t v)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n > 0) {
		char one[2] = { d[--n], 0 };

		t_str(t, one);
	}
}

/* A gauge's value, as a reader wants it: 3 significant decimals for
 * ratios, whole numbers with a k/M/G suffix for rates. */
static void t_num(struct text *t, double v)
{
	static const char *const suffix[] = { "", "k", "M", "G", "T" };
	int k = 0;

	if (isnan(v)) {
		t_str(t, "NaN");
		return;
	}
	if (v < 0) {
		t_str(t, "-");
		v = -v;
	}
	if (isinf(v)) {
		t_str(t, "Inf");
		return;
	}
	if (v == floor(v) && v < 100000) {
		/* Counts stay whole. */
		t_u64(t, (uint64_t)v);
		return;
	}
	if (v >= 1000) {
		while (v >= 1000 && k < 4) {
			v /= 1000;
			k++;
		}
	}
	if (v >= 100) {
		t_u64(t, (uint64_t)llround(v));
	} else {
		/* Two decimals (three below 1). */
		int dec = v < 1 ? 3 : 2;
		double scale = dec == 3 ? 1000 : 100;
		uint64_t x = (uint64_t)llround(v * scale);

		t_u64(t, x / (uint64_t)scale);
		t_str(t, ".");
		for (uint64_t div = (uint64_t)scale / 10, r = x % (uint64_t)scale; div; div /= 10) {
			char one[2] = { (char)('0' + (r / div) % 10), 0 };

			t_str(t, one);
		}
	}
	t_str(t, suffix[k]);
}

/* ---- a string table ----------------------------------------------------------------- */

struct strtab {
	const char **keys;
	uint32_t *vals;
	uint32_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int st_grow(struct strtab *t)
{
	struct strtab n = { 0 };

	n.cap = t->cap ? t->cap * 2 : 64;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = calloc(n.cap, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!t->keys[i])
			continue;
		for (uint64_t j = hash_str(t->keys[i]);; j++)
			if (!n.keys[j & (n.cap - 1)]) {
				n.keys[j & (n.cap - 1)] = t->keys[i];
				n.vals[j & (n.cap - 1)] = t->vals[i];
				break;
			}
	}
	n.n = t->n;
	free(t->keys);
	free(t->vals);
	*t = n;
	return 0;
}

/* The value of key, or UINT32_MAX. */
static uint32_t st_get(const struct strtab *t, const char *key)
{
	if (!t->cap)
		return UINT32_MAX;
	for (uint64_t j = hash_str(key);; j++) {
		const char *k = t->keys[j & (t->cap - 1)];

		if (!k)
			return UINT32_MAX;
		if (!strcmp(k, key))
			return t->vals[j & (t->cap - 1)];
	}
}

/* Sets key (kept by pointer: it must outlive the table) unless present.
 * Returns the value now held, or UINT32_MAX without memory. */
static uint32_t st_put(struct strtab *t, const char *key, uint32_t val)
{
	uint32_t have = st_get(t, key);

	if (have != UINT32_MAX)
		return have;
	if ((t->n + 1) * 2 > t->cap && st_grow(t))
		return UINT32_MAX;
	for (uint64_t j = hash_str(key);; j++)
		if (!t->keys[j & (t->cap - 1)]) {
			t->keys[j & (t->cap - 1)] = key;
			t->vals[j & (t->cap - 1)] = val;
			t->n++;
			return val;
		}
}

static void st_free(struct strtab *t)
{
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

/* ---- the model ---------------------------------------------------------------------- */

enum feature {
	F_TX,
	F_RX,
	F_ACTIVE,
	F_BLOCKED,
	F_APP,
	F_SHORT,
	F_CE,
	F_LOSS,
	F_PAUSE_TX,
	F_PAUSE_RX,
	F_SILENT,
	N_F,
};

static const char *const feature_metric[N_F] = {
	"tita_health_tx_bytes_per_second",
	"tita_health_rx_bytes_per_second",
	"tita_health_tx_active_ratio",
	"tita_health_tx_blocked_ratio",
	"tita_health_tx_app_limited_ratio",
	"tita_health_rx_shortfall_ratio",
	"tita_health_ce_ratio",
	"tita_health_loss_ratio",
	"tita_health_pause_tx_per_second",
	"tita_health_pause_rx_per_second",
	"tita_health_peers_silent",
};

/* Rates add up over a host's ports; ratios and counts take the worst. */
static bool feature_adds(int f)
{
	return f == F_TX || f == F_RX || f == F_PAUSE_TX || f == F_PAUSE_RX;
}

/* What others see of a host, summed over pairs and snapshots. */
enum view {
	V_RX_SHORT, /* receivers' shortfall on pairs from the host */
	V_RX_LOSS, /* receivers' loss on pairs from the host */
	V_TX_BLOCKED, /* senders' blocked ratio toward the host */
	V_TX_LOSS, /* senders' retransmissions toward the host */
	V_SILENT, /* peers naming it silent */
	N_V,
};

#define BLOCKED_SPINES_MAX 8
#define BLOCKED_LINE_FLOOR 0.25

struct inst {
	const char *name, *leaf;
	bool up_last, seen_last;
	bool down_now; /* says the last snapshot's up sample, read first */
	uint32_t n_up, n_down;
	bool pause_known;
	double sum[N_F], mean[N_F];
	double view[N_V];
	uint32_t view_n[N_V]; /* how many observations (pair lines) */
	double cur[N_F]; /* this snapshot; NaN: not seen */
	double silent_max_seconds;
	const char *silent_by; /* one peer that names it silent */
	double silent_last; /* peers naming it silent in the last snapshot */
	/* The paths on which its own send pair lines were blocked (a
	 * quarter of their allowance or more, in any snapshot): a pair
	 * within its leaf, and up to BLOCKED_SPINES_MAX spines. */
	bool blocked_local;
	const char *blocked_spine[BLOCKED_SPINES_MAX];
	uint32_t n_blocked_spines;
};

struct link {
	enum tita_diag_place place;
	uint32_t inst; /* host link */
	const char *leaf, *spine;
	double vote_loss, vote_short;
	double raw_short; /* the pairs' shortfall itself, summed */
	uint32_t n_loss, n_short;
	uint32_t n_clean; /* pair lines through it that lost nothing */
	uint32_t n_short_lines; /* every pair line through it, shortfall 0 too */
};

struct rx_line {
	uint32_t dst, src;
	const char *spine;
	double shortfall;
};

/* One leaf's hosts' tita_health_spine_shortfall_ratio of one role and
 * spine, summed over the snapshots; ex: its mean less the median of the
 * leaf's other spines (has_ex: there were two others or more). */
struct spine_cell {
	const char *leaf, *spine;
	bool rx, has_ex;
	double sum, ex;
	uint32_t n;
};

struct job {
	const char *name;
	double *tx_sum; /* per instance */
	uint32_t *tx_n;
};

#define JOBS_MAX 64

/* The two highest of a value over the hosts, and whose is the highest
 * (top_inst UINT32_MAX: none yet). */
struct top2 {
	double top, second;
	uint32_t top_inst;
};

static void top2_note(struct top2 *t, double v, uint32_t inst)
{
	if (t->top_inst == UINT32_MAX || v > t->top) {
		if (t->top_inst != UINT32_MAX)
			t->second = t->top;
		t->top = v;
		t->top_inst = inst;
	} else if (v > t->second) {
		t->second = v;
	}
}

struct model {
	const struct tita_diag_params *p;
	uint32_t n_snaps;
	struct inst *inst;
	uint32_t n_inst, cap_inst;
	struct strtab by_name, by_peer;
	struct link *links;
	uint32_t n_links, cap_links;
	struct strtab link_keys;
	char **owned; /* link keys built here */
	uint32_t n_owned, cap_owned;
	struct job jobs[JOBS_MAX];
	uint32_t n_jobs;
	uint64_t no_instance, jobs_dropped;
	double med[N_F], q90[N_F];
	/* Receivers' shortfall on pairs from each host (its mean over their
	 * pair lines): the two highest, and whose is the highest. */
	struct top2 rx_short;
	/* The two highest application-limited ratios, and whose is the top. */
	struct top2 app;
	/* The two highest blocked ratios, and whose is the top. */
	struct top2 blocked;
	/* The two highest CE ratios, and whose is the top. */
	struct top2 ce;
	double *tmp; /* n_inst doubles */
	/* Receive pair lines across leaves that know their spine (the
	 * spine's text lives in the snapshots): which uplink marks CE. */
	struct rx_line *rx_lines;
	uint32_t n_rx_lines, cap_rx_lines;
	/* Per instance: how many other hosts are marked (CE) at least half
	 * as much as it, above the median. */
	uint32_t *ce_alike;
	uint32_t n_ce_marked;
	/* Per (leaf, role, spine): the shortfall of the pairs through it. */
	struct spine_cell *cells;
	uint32_t n_cells, cap_cells;
	struct strtab cell_keys;
};

static uint32_t inst_add(struct model *m, const char *name)
{
	uint32_t i = st_get(&m->by_name, name);

	if (i != UINT32_MAX)
		return i;
	if (m->n_inst == m->cap_inst) {
		uint32_t cap = m->cap_inst ? m->cap_inst * 2 : 64;
		struct inst *a = realloc(m->inst, cap * sizeof(*a));

		if (!a)
			return UINT32_MAX;
		m->inst = a;
		m->cap_inst = cap;
	}
	i = m->n_inst;
	memset(&m->inst[i], 0, sizeof(m->inst[i]));
	m->inst[i].name = name;
	if (st_put(&m->by_name, name, i) != i)
		return UINT32_MAX;
	m->n_inst++;
	return i;
}

static char *own_str(struct model *m, const char *a)
{
	size_t la = strlen(a);
	char *s;

	if (m->n_owned == m->cap_owned) {
		uint32_t cap = m->cap_owned ? m->cap_owned * 2 : 64;
		char **o = realloc(m->owned, cap * sizeof(*o));

		if (!o)
			return NULL;
		m->owned = o;
		m->cap_owned = cap;
	}
	s = malloc(la + 1);
	if (!s)
		return NULL;
	memcpy(s, a, la + 1);
	m->owned[m->n_owned++] = s;
	return s;
}

static struct link *link_get(struct model *m, enum tita_diag_place place, uint32_t inst,
			     const char *leaf, const char *spine)
{
	char key_buf[TITA_DIAG_NAME_MAX * 2 + 8];
	struct text t = { key_buf, sizeof(key_buf), 0 };
	uint32_t i;
	char *key;

	key_buf[0] = '\0';
	if (place == TITA_DIAG_AT_HOST_LINK) {
		t_str(&t, "h\x1f");
		t_str(&t, m->inst[inst].name);
	} else {
		t_str(&t, place == TITA_DIAG_AT_LEAF_SPINE ? "s\x1f" : "u\x1f");
		t_str(&t, leaf);
		t_str(&t, "\x1f");
		t_str(&t, spine ? spine : "");
	}
	i = st_get(&m->link_keys, key_buf);
	if (i != UINT32_MAX)
		return &m->links[i];
	if (m->n_links == m->cap_links) {
		uint32_t cap = m->cap_links ? m->cap_links * 2 : 64;
		struct link *a = realloc(m->links, cap * sizeof(*a));

		if (!a)
			return NULL;
		m->links = a;
		m->cap_links = cap;
	}
	key = own_str(m, key_buf);
	if (!key)
		return NULL;
	i = m->n_links;
	if (st_put(&m->link_keys, key, i) != i)
		return NULL;
	memset(&m->links[i], 0, sizeof(m->links[i]));
	m->links[i].place = place;
	m->links[i].inst = inst;
	m->links[i].leaf = leaf;
	m->links[i].spine = spine;
	m->n_links++;
	return &m->links[i];
}

/* A leaf's hosts' shortfall of one role through one spine, one more. */
static int spine_cell_add(struct model *m, const char *leaf, bool rx, const char *spine, double v)
{
	char key_buf[TITA_DIAG_NAME_MAX * 2 + 8];
	struct text t = { key_buf, sizeof(key_buf), 0 };
	uint32_t i;
	char *key;

	key_buf[0] = '\0';
	t_str(&t, leaf);
	t_str(&t, rx ? "\x1fr\x1f" : "\x1ft\x1f");
	t_str(&t, spine);
	i = st_get(&m->cell_keys, key_buf);
	if (i == UINT32_MAX) {
		if (m->n_cells == m->cap_cells) {
			uint32_t cap = m->cap_cells ? m->cap_cells * 2 : 64;
			struct spine_cell *a = realloc(m->cells, cap * sizeof(*a));

			if (!a)
				return -ENOMEM;
			m->cells = a;
			m->cap_cells = cap;
		}
		key = own_str(m, key_buf);
		i = m->n_cells;
		if (!key || st_put(&m->cell_keys, key, i) != i)
			return -ENOMEM;
		m->cells[i] = (struct spine_cell){ .leaf = leaf, .spine = spine, .rx = rx };
		m->n_cells++;
	}
	m->cells[i].sum += v;
	m->cells[i].n++;
	return 0;
}

static int feature_of(const char *name)
{
	for (int f = 0; f < N_F; f++)
		if (!strcmp(name, feature_metric[f]))
			return f;
	return -1;
}

/* Pass 1: instances, their leaves and the names their ports go by. */
static int learn_hosts(struct model *m, const struct tita_prom_doc *d)
{
	for (uint32_t k = 0; k < d->n_samples; k++) {
		const struct tita_prom_sample *s = &d->samples[k];
		const char *in = tita_prom_label(s, "instance"), *v;
		uint32_t i;

		if (!in) {
			m->no_instance++;
			continue;
		}
		i = inst_add(m, in);
		if (i == UINT32_MAX)
			return -ENOMEM;
		if (!strcmp(s->name, "tita_fabric_place") && (v = tita_prom_label(s, "leaf")) &&
		    v[0])
			m->inst[i].leaf = v;
		if (!strcmp(s->name, "tita_port_info") && (v = tita_prom_label(s, "address")) &&
		    st_put(&m->by_peer, v, i) == UINT32_MAX)
			return -ENOMEM;
	}
	return 0;
}

/* A port's name names its host only when no other host has a port of
 * that name (the simulator's "h3"; not titad's "eth0"). */
static int learn_port_names(struct model *m, const struct tita_prom_doc *d, struct strtab *ports)
{
	for (uint32_t k = 0; k < d->n_samples; k++) {
		const struct tita_prom_sample *s = &d->samples[k];
		const char *in = tita_prom_label(s, "instance"), *port = tita_prom_label(s, "port");
		uint32_t i, have;

		if (!in || !port || strncmp(s->name, "tita_health_", 12))
			continue;
		i = st_get(&m->by_name, in);
		have = st_put(ports, port, i);
		if (have == UINT32_MAX && i != UINT32_MAX)
			return -ENOMEM;
		if (have != i)
			/* Two hosts: ambiguous from now on. */
			for (uint32_t j = 0; j < ports->cap; j++)
				if (ports->keys[j] && !strcmp(ports->keys[j], port))
					ports->vals[j] = UINT32_MAX - 1;
	}
	return 0;
}

static uint32_t peer_inst(const struct model *m, const struct strtab *ports, const char *peer)
{
	uint32_t i = st_get(&m->by_peer, peer);

	if (i != UINT32_MAX)
		return i;
	i = st_get(ports, peer);
	if (i < UINT32_MAX - 1)
		return i;
	return st_get(&m->by_name, peer);
}

static struct job *job_get(struct model *m, const char *name)
{
	for (uint32_t j = 0; j < m->n_jobs; j++)
		if (!strcmp(m->jobs[j].name, name))
			return &m->jobs[j];
	if (m->n_jobs == JOBS_MAX) {
		m->jobs_dropped++;
		return NULL;
	}
	m->jobs[m->n_jobs].name = name;
	m->jobs[m->n_jobs].tx_sum = calloc(m->n_inst, sizeof(double));
	m->jobs[m->n_jobs].tx_n = calloc(m->n_inst, sizeof(uint32_t));
	if (!m->jobs[m->n_jobs].tx_sum || !m->jobs[m->n_jobs].tx_n) {
		free(m->jobs[m->n_jobs].tx_sum);
		free(m->jobs[m->n_jobs].tx_n);
		return NULL;
	}
	return &m->jobs[m->n_jobs++];
}

/* A pair's figure spread over the links of its path (007's vote). */
static int vote(struct model *m, uint32_t src, uint32_t dst, const char *spine, double v, bool loss)
{
	/* Indices: a later link_get may move the links. */
	uint32_t path[6];
	int n = 0, n_path;
	const char *la = m->inst[src].leaf, *lb = m->inst[dst].leaf;
	struct link *l;

#define ADD(place, inst, leaf)                             \
	do {                                               \
		l = link_get(m, place, inst, leaf, spine); \
		if (!l)                                    \
			return -ENOMEM;                    \
		path[n++] = (uint32_t)(l - m->links);      \
	} while (0)
	ADD(TITA_DIAG_AT_HOST_LINK, src, NULL);
	ADD(TITA_DIAG_AT_HOST_LINK, dst, NULL);
	/*
	 * Across leaves the path holds each leaf's uplinks; its spine, when
	 * the pair knows it, names which one. The spine's links take the
	 * same vote, as a refinement of their leaf's uplinks (many pairs do
	 * not know their spine: their votes still count for the leaf).
	 */
	if (la && lb && strcmp(la, lb)) {
		const char *sp = spine;

		spine = NULL;
		ADD(TITA_DIAG_AT_LEAF_UPLINKS, UINT32_MAX, la);
		ADD(TITA_DIAG_AT_LEAF_UPLINKS, UINT32_MAX, lb);
		spine = sp;
	}
	n_path = n;
	if (la && lb && strcmp(la, lb) && spine) {
		ADD(TITA_DIAG_AT_LEAF_SPINE, UINT32_MAX, la);
		ADD(TITA_DIAG_AT_LEAF_SPINE, UINT32_MAX, lb);
	}
#undef ADD
	for (int k = 0; k < n; k++) {
		l = &m->links[path[k]];
		if (loss) {
			l->vote_loss += v / n_path;
			l->n_loss += v > 0;
			l->n_clean += v == 0;
		} else {
			l->vote_short += v / n_path;
			l->raw_short += v;
			l->n_short += v > 0;
			l->n_short_lines++;
		}
	}
	return 0;
}

/* A send pair line of i toward j blocked: on which path. A pair between
 * leaves whose spine is not known names no path (it may cross any). */
static void note_blocked_path(struct model *m, uint32_t i, uint32_t j, const char *spine)
{
	struct inst *h = &m->inst[i];
	const char *la = h->leaf, *lb = m->inst[j].leaf;

	if (!la || !lb)
		return;
	if (!strcmp(la, lb)) {
		h->blocked_local = true;
		return;
	}
	if (!spine || !spine[0])
		return;
	for (uint32_t k = 0; k < h->n_blocked_spines; k++)
		if (!strcmp(h->blocked_spine[k], spine))
			return;
	if (h->n_blocked_spines < BLOCKED_SPINES_MAX)
		h->blocked_spine[h->n_blocked_spines++] = spine;
}

static int read_snapshot(struct model *m, const struct tita_prom_doc *d, const struct strtab *ports,
			 bool last)
{
	bool *up = calloc(m->n_inst, sizeof(bool)), *has_up = calloc(m->n_inst, sizeof(bool));
	bool *seen = calloc(m->n_inst, sizeof(bool));
	double *silent_now = calloc(m->n_inst, sizeof(double));
	int rc = 0;

	if (!up || !has_up || !seen || !silent_now) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < m->n_inst; i++)
		for (int f = 0; f < N_F; f++)
			m->inst[i].cur[f] = NAN;
	for (uint32_t k = 0; k < d->n_samples && !rc; k++) {
		const struct tita_prom_sample *s = &d->samples[k];
		const char *in = tita_prom_label(s, "instance");
		uint32_t i = in ? st_get(&m->by_name, in) : UINT32_MAX;
		double v = s->value;
		int f;

		if (i == UINT32_MAX)
			continue;
		seen[i] = true;
		if (!strcmp(s->name, "up")) {
			has_up[i] = true;
			up[i] = v == 1;
			continue;
		}
		if (strncmp(s->name, "tita_health_", 12) || isnan(v))
			continue;
		f = feature_of(s->name);
		if (f >= 0) {
			double *c = &m->inst[i].cur[f];

			if (f == F_PAUSE_TX || f == F_PAUSE_RX)
				m->inst[i].pause_known = true;
			if (isnan(*c))
				*c = v;
			else
				*c = feature_adds(f) ? *c + v : fmax(*c, v);
			continue;
		}
		if (!strcmp(s->name, "tita_health_spine_shortfall_ratio")) {
			const char *role = tita_prom_label(s, "role"),
				   *spine = tita_prom_label(s, "spine");

			if (role && spine && spine[0] && m->inst[i].leaf && !m->inst[i].down_now &&
			    (!strcmp(role, "rx") || !strcmp(role, "tx")))
				rc = spine_cell_add(m, m->inst[i].leaf, !strcmp(role, "rx"), spine,
						    v);
			continue;
		}
		if (!strcmp(s->name, "tita_health_pair_shortfall_ratio") ||
		    !strcmp(s->name, "tita_health_pair_loss_ratio")) {
			const char *peer = tita_prom_label(s, "peer"),
				   *role = tita_prom_label(s, "role");
			const char *spine = tita_prom_label(s, "spine");
			bool loss = s->name[17] == 'l';
			uint32_t j = peer ? peer_inst(m, ports, peer) : UINT32_MAX;
			bool rx;

			/* A dead host explains its pairs' loss and shortfall:
			 * they vote for no link. */
			if (j == UINT32_MAX || j == i || !role || m->inst[j].down_now ||
			    m->inst[i].down_now)
				continue;
			rx = !strcmp(role, "rx");
			if (!rx && strcmp(role, "tx"))
				continue;
			if (!rx && !loss && v >= BLOCKED_LINE_FLOOR)
				note_blocked_path(m, i, j, spine);
			/* rx at i from j: j sent; tx at i toward j: i sent. */
			if (rx) {
				m->inst[j].view[loss ? V_RX_LOSS : V_RX_SHORT] += v;
				m->inst[j].view_n[loss ? V_RX_LOSS : V_RX_SHORT]++;
			} else {
				m->inst[j].view[loss ? V_TX_LOSS : V_TX_BLOCKED] += v;
				m->inst[j].view_n[loss ? V_TX_LOSS : V_TX_BLOCKED]++;
			}
			/* Lines of 0 count too: a link's mean shortfall is over
			 * every pair through it, not only those falling short
			 * (background traffic makes a few pairs anywhere short),
			 * and a line that lost nothing speaks for its links. */
			if (rx && !loss && spine && spine[0] && m->inst[i].leaf &&
			    m->inst[j].leaf && strcmp(m->inst[i].leaf, m->inst[j].leaf)) {
				if (m->n_rx_lines == m->cap_rx_lines) {
					uint32_t cap = m->cap_rx_lines ? 2 * m->cap_rx_lines : 256;
					struct rx_line *a = realloc(m->rx_lines, cap * sizeof(*a));

					if (!a) {
						rc = -ENOMEM;
						continue;
					}
					m->rx_lines = a;
					m->cap_rx_lines = cap;
				}
				m->rx_lines[m->n_rx_lines++] = (struct rx_line){ i, j, spine, v };
			}
			rc = vote(m, rx ? j : i, rx ? i : j, spine && spine[0] ? spine : NULL, v,
				  loss);
			continue;
		}
		if (!strcmp(s->name, "tita_health_peer_silent_seconds")) {
			const char *peer = tita_prom_label(s, "peer");
			uint32_t j = peer ? peer_inst(m, ports, peer) : UINT32_MAX;

			if (j == UINT32_MAX || j == i)
				continue;
			m->inst[j].view[V_SILENT] += 1;
			m->inst[j].view_n[V_SILENT]++;
			silent_now[j] += 1;
			if (v > m->inst[j].silent_max_seconds) {
				m->inst[j].silent_max_seconds = v;
				m->inst[j].silent_by = m->inst[i].name;
			}
			continue;
		}
		if (!strcmp(s->name, "tita_health_job_tx_bytes_per_second")) {
			const char *jn = tita_prom_label(s, "tita_job");
			struct job *job = jn ? job_get(m, jn) : NULL;

			if (job) {
				job->tx_sum[i] += v;
				job->tx_n[i]++;
			}
		}
	}
	for (uint32_t i = 0; i < m->n_inst; i++) {
		struct inst *h = &m->inst[i];
		/* No up sample: a direct scrape of a file without one; a host
		 * that wrote samples was up. */
		bool is_up = has_up[i] ? up[i] : seen[i];

		if (last) {
			h->up_last = is_up;
			h->seen_last = seen[i];
			h->silent_last = silent_now[i];
		}
		if (!is_up) {
			if (seen[i] || last)
				h->n_down++;
			continue;
		}
		h->n_up++;
		for (int f = 0; f < N_F; f++)
			if (!isnan(h->cur[f]))
				h->sum[f] += h->cur[f];
	}
out:
	free(up);
	free(has_up);
	free(seen);
	free(silent_now);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, uint32_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- suspects ------------------------------------------------------------------------- */

struct cand {
	struct tita_diag_suspect s;
};

static void evidence(struct tita_diag_suspect *s, const char *a, const char *metric, double v,
		     const char *tail, double ref)
{
	struct text t;

	if (s->n_evidence >= TITA_DIAG_EVIDENCE_MAX)
		return;
	t = (struct text){ s->evidence[s->n_evidence++], TITA_DIAG_EVIDENCE_LEN, 0 };
	t.buf[0] = '\0';
	if (a)
		t_str(&t, a);
	if (metric) {
		t_str(&t, metric);
		t_str(&t, " ");
		t_num(&t, v);
	}
	if (tail) {
		t_str(&t, tail);
		if (!isnan(ref))
			t_num(&t, ref);
	}
}

/* "h3: " as an evidence line's start. */
static const char *who(const struct inst *h, char *buf)
{
	struct text t = { buf, TITA_DIAG_NAME_MAX + 4, 0 };

	buf[0] = '\0';
	t_str(&t, h->name);
	t_str(&t, ": ");
	return buf;
}

static void set_name(char *dst, const char *src)
{
	struct text t = { dst, TITA_DIAG_NAME_MAX, 0 };

	dst[0] = '\0';
	t_str(&t, src ? src : "");
}

struct suspects {
	struct tita_diag_suspect *v;
	uint32_t n, cap;
};

static struct tita_diag_suspect *suspect_new(struct suspects *ss, enum tita_diag_kind kind,
					     double score)
{
	struct tita_diag_suspect *s;

	if (ss->n == ss->cap) {
		uint32_t cap = ss->cap ? ss->cap * 2 : 16;
		struct tita_diag_suspect *a = realloc(ss->v, cap * sizeof(*a));

		if (!a)
			return NULL;
		ss->v = a;
		ss->cap = cap;
	}
	s = &ss->v[ss->n++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->state = kind == TITA_DIAG_DEAD_HOST ? TITA_DIAG_FAILED : TITA_DIAG_SLOW;
	s->score = score;
	return s;
}

static void host_suspect(struct tita_diag_suspect *s, const struct inst *h, bool link)
{
	struct text t = { s->culprit, sizeof(s->culprit), 0 };

	s->place = link ? TITA_DIAG_AT_HOST_LINK : TITA_DIAG_AT_HOST;
	set_name(s->instance, h->name);
	set_name(s->leaf, h->leaf);
	s->culprit[0] = '\0';
	if (link)
		t_str(&t, "host link of ");
	t_str(&t, h->name);
}

/* CE toward the host stands out from the median host's. */
static bool ce_marked(const struct model *m, uint32_t i)
{
	const struct inst *h = &m->inst[i];

	return h->n_up && h->up_last && h->mean[F_CE] > m->med[F_CE] + m->p->ce_margin &&
	       h->mean[F_CE] > 3 * m->med[F_CE];
}

/* A collective in lock-step: every host sends at about one rate, and none
 * but perhaps one is blocked or marked. */
static bool lockstep_quiet(const struct model *m)
{
	const struct tita_diag_params *p = m->p;

	return m->med[F_TX] > 0 &&
	       m->q90[F_TX] <= (1 + p->lockstep_tx_spread_ratio) * m->med[F_TX] &&
	       m->q90[F_BLOCKED] < p->blocked_margin / 5 && m->q90[F_CE] < p->ce_margin / 2;
}

static int candidates_hosts(struct model *m, struct suspects *ss)
{
	const struct tita_diag_params *p = m->p;
	char wb[TITA_DIAG_NAME_MAX + 4];

	for (uint32_t i = 0; i < m->n_inst; i++) {
		struct inst *h = &m->inst[i];
		struct tita_diag_suspect *s;

		/* Dead: down now, whatever it said before. */
		if (!h->up_last) {
			double votes = h->silent_last;

			s = suspect_new(ss, TITA_DIAG_DEAD_HOST, 5 + votes);
			if (!s)
				return -ENOMEM;
			host_suspect(s, h, false);
			s->confidence = votes > 0 ? 0.99 : 0.8;
			evidence(s, who(h, wb), NULL, 0,
				 h->seen_last ? "up 0 in the last snapshot" :
						"no samples in the last snapshot",
				 NAN);
			if (h->n_up)
				evidence(s, who(h, wb), "up 1 in earlier snapshots:", h->n_up, NULL,
					 NAN);
			if (votes > 0) {
				char b[TITA_DIAG_NAME_MAX + 4];

				evidence(
					s, NULL,
					"peers naming it silent (tita_health_peer_silent_seconds):",
					votes, h->silent_by ? ", longest by " : NULL, NAN);
				if (h->silent_by) {
					struct text t = { s->evidence[s->n_evidence - 1],
							  TITA_DIAG_EVIDENCE_LEN,
							  strlen(s->evidence[s->n_evidence - 1]) };

					t_str(&t,
					      who(&m->inst[st_get(&m->by_name, h->silent_by)], b));
					t_num(&t, h->silent_max_seconds);
					t_str(&t, " s");
				}
			} else {
				evidence(
					s, NULL, NULL, 0,
					"no peer names it silent: titad (or its scrape) may be down, "
					"not the host",
					NAN);
			}
			continue;
		}
		if (!h->n_up)
			continue;
		/* Up, but its peers hear nothing from it: its data plane is dead. */
		if (h->silent_last >= 2 && h->mean[F_TX] < 0.05 * (m->med[F_TX] + 1)) {
			s = suspect_new(ss, TITA_DIAG_DEAD_HOST, 2 + h->silent_last / 2);
			if (!s)
				return -ENOMEM;
			host_suspect(s, h, false);
			s->confidence = 0.6;
			evidence(s, NULL, "peers naming it silent:", h->silent_last, NULL, NAN);
			evidence(s, who(h, wb), "tita_health_tx_bytes_per_second", h->mean[F_TX],
				 ", median ", m->med[F_TX]);
		}
		/* PFC: a NIC that pauses its switch far more than any other. */
		if (h->pause_known && h->mean[F_PAUSE_TX] > p->pause_floor_per_second &&
		    h->mean[F_PAUSE_TX] > p->pause_factor * m->med[F_PAUSE_TX]) {
			double ref = fmax(p->pause_floor_per_second,
					  p->pause_factor * m->med[F_PAUSE_TX]);

			s = suspect_new(ss, TITA_DIAG_PFC_STORM,
					1 + log(h->mean[F_PAUSE_TX] / ref) / log(10) * 2);
			if (!s)
				return -ENOMEM;
			host_suspect(s, h, false);
			evidence(s, who(h, wb), "tita_health_pause_tx_per_second",
				 h->mean[F_PAUSE_TX], ", median ", m->med[F_PAUSE_TX]);
			evidence(s, who(h, wb), "tita_health_rx_bytes_per_second", h->mean[F_RX],
				 ", median ", m->med[F_RX]);
		}
		/*
		 * A host that sends slowly: its application (slow host), or its
		 * link, NIC or cable and switch port (slow link, slow NIC). The
		 * receive side tells them apart: a slow application leaves what
		 * the host receives alone, a slow link slows both ways, so what
		 * it grants falls short, and where the switch's side is slow
		 * its queue marks CE on what reaches the host. Each figure
		 * against the top of the others' spread (q90), since a ring
		 * makes many ranks wait now and then.
		 */
		{
			double app = h->mean[F_APP] - m->q90[F_APP];
			double blocked = h->mean[F_BLOCKED] - m->q90[F_BLOCKED];
			double shortfall = h->mean[F_SHORT] - m->q90[F_SHORT];
			double ce = h->mean[F_CE] - m->q90[F_CE];
			bool tx_low = h->mean[F_TX] < p->job_rate_factor * m->med[F_TX];
			bool rx_low = h->mean[F_RX] < p->job_rate_factor * m->med[F_RX];
			bool pauses = h->pause_known &&
				      h->mean[F_PAUSE_TX] > p->pause_floor_per_second / 10 &&
				      h->mean[F_PAUSE_TX] > 3 * m->med[F_PAUSE_TX];
			/* In units of their margins. CE toward the host is the
			 * link's own mark (its switch port queues); shortfall of
			 * what the host grants may as well be its senders' fault
			 * (a ring's next rank falls short behind a slow one), so
			 * it only supports. */
			/* CE: tita keeps queues short, so little marking is the
			 * norm; a host marked above the others' top, and several
			 * times it, stands out even at a few percent. */
			double blocked_u =
				blocked > p->blocked_margin ? blocked / p->blocked_margin : 0;
			/* A slow link of the host's own harms the host too: it
			 * sends blocked, or slowly, or its grants fall short as
			 * much as most; CE on a host that sends and receives
			 * better than most was marked elsewhere on the way (a
			 * slow uplink). */
			bool harmed = (blocked_u >= 1 || tx_low || rx_low ||
				       h->mean[F_SHORT] >= m->med[F_SHORT]) &&
				      m->ce_alike[i] < p->ce_hosts_uplink - 1;
			double ce_u = ce > p->ce_margin && h->mean[F_CE] > 3 * m->q90[F_CE] &&
						      harmed ?
					      ce / p->ce_margin :
					      0;
			/* In a collective in lock-step a member whose own link
			 * is slow finds nothing waiting in about half its
			 * rounds; a slow application keeps its transfers
			 * waiting on it nearly always. */
			bool lockstep_member = lockstep_quiet(m) &&
					       h->mean[F_APP] < p->lockstep_app_host_floor;
			double support = (shortfall > p->blocked_margin ? 0.5 : 0) + 0.5 * rx_low +
					 0.5 * tx_low;
			/*
			 * A sender blocked on its own: far above the others'
			 * top and the next host, not paused by its switch,
			 * and blocked toward peers on different paths (within
			 * its leaf, through different spines). A slow uplink
			 * blocks only what crosses it, a slow receiver only
			 * the pairs into it; a slow NIC or host link blocks
			 * every pair. Its CE may have faded (tita matched the
			 * rates that reach it) while it stays blocked.
			 */
			bool paused = h->pause_known &&
				      h->mean[F_PAUSE_RX] > p->pause_floor_per_second / 10 &&
				      h->mean[F_PAUSE_RX] > 3 * m->med[F_PAUSE_RX];
			bool blocked_alone =
				i == m->blocked.top_inst && blocked_u >= p->blocked_alone_margins &&
				h->mean[F_BLOCKED] >= p->blocked_alone_lead * m->blocked.second &&
				!paused && h->blocked_local + h->n_blocked_spines >= 2 &&
				m->ce_alike[i] < p->ce_hosts_uplink - 1;

			if (app > p->app_limited_margin &&
			    h->mean[F_APP] > 1.5 * p->app_limited_margin && ce_u < 1 &&
			    !lockstep_member) {
				s = suspect_new(ss, TITA_DIAG_SLOW_HOST,
						app / (p->app_limited_margin / 2) + tx_low);
				if (!s)
					return -ENOMEM;
				host_suspect(s, h, false);
				evidence(s, who(h, wb), "tita_health_tx_app_limited_ratio",
					 h->mean[F_APP], ", median ", m->med[F_APP]);
				evidence(s, who(h, wb), "tita_health_tx_bytes_per_second",
					 h->mean[F_TX], ", median ", m->med[F_TX]);
				evidence(s, who(h, wb),
					 "tita_health_rx_bytes_per_second (unharmed)",
					 h->mean[F_RX], ", median ", m->med[F_RX]);
				for (uint32_t j = 0; j < m->n_jobs; j++) {
					struct job *job = &m->jobs[j];
					double *rates = m->tmp, mine, med;
					uint32_t n = 0;

					if (!job->tx_n[i])
						continue;
					mine = job->tx_sum[i] / job->tx_n[i];
					for (uint32_t k = 0; k < m->n_inst; k++)
						if (job->tx_n[k])
							rates[n++] = job->tx_sum[k] / job->tx_n[k];
					med = median(rates, n);
					if (mine < p->job_rate_factor * med)
						evidence(s, who(h, wb),
							 "tita_health_job_tx_bytes_per_second",
							 mine, ", job median ", med);
				}
			} else if ((ce_u >= 1 || (blocked_u >= 1 && (pauses || !h->pause_known)) ||
				    blocked_alone) &&
				   ce_u + blocked_u + support >= 2.5) {
				/* A NIC that cannot take what arrives pauses its
				 * switch; a slow switch port queues and marks.
				 * Where the NIC counts no pauses (a veth, a
				 * driver without pause statistics: titad exports
				 * no pause gauge), a sender that stands out
				 * blocked with no CE against it is its NIC's. */
				bool link = ce_u >= 1 && !pauses;

				s = suspect_new(ss, link ? TITA_DIAG_SLOW_LINK : TITA_DIAG_SLOW_NIC,
						(ce_u + blocked_u + support) / 1.5);
				if (!s)
					return -ENOMEM;
				host_suspect(s, h, link);
				/* The deciding gauge first. */
				if (link)
					evidence(s, who(h, wb), "tita_health_ce_ratio",
						 h->mean[F_CE], ", median ", m->med[F_CE]);
				else if (h->pause_known)
					evidence(s, who(h, wb), "tita_health_pause_tx_per_second",
						 h->mean[F_PAUSE_TX], ", median ",
						 m->med[F_PAUSE_TX]);
				evidence(s, who(h, wb), "tita_health_tx_blocked_ratio",
					 h->mean[F_BLOCKED], ", median ", m->med[F_BLOCKED]);
				evidence(s, who(h, wb), "tita_health_rx_shortfall_ratio",
					 h->mean[F_SHORT], ", median ", m->med[F_SHORT]);
				if (!link)
					evidence(s, who(h, wb), "tita_health_ce_ratio",
						 h->mean[F_CE], ", median ", m->med[F_CE]);
				evidence(s, who(h, wb), "tita_health_tx_bytes_per_second",
					 h->mean[F_TX], ", median ", m->med[F_TX]);
				evidence(s, who(h, wb), "tita_health_rx_bytes_per_second",
					 h->mean[F_RX], ", median ", m->med[F_RX]);
				if (link && h->pause_known)
					evidence(s, who(h, wb), "tita_health_pause_tx_per_second",
						 h->mean[F_PAUSE_TX], ", median ",
						 m->med[F_PAUSE_TX]);
			} else if (i == m->rx_short.top_inst && lockstep_quiet(m) &&
				   app > p->app_limited_margin / 2 &&
				   m->rx_short.top >= p->rx_short_alone_floor &&
				   m->rx_short.top - m->rx_short.second >=
					   p->rx_short_alone_margin) {
				/*
				 * Its receivers miss what they granted it, and
				 * from it alone: in a ring without other traffic
				 * a slow host link spreads to every rank (each
				 * waits on its upstream, none is blocked, CE
				 * stays 0), but only the culprit's downstream
				 * keeps falling short on its pair, and the
				 * culprit waits (application-limited) more than
				 * the others, though far less than a slow
				 * application (the rule above).
				 */
				s = suspect_new(ss, TITA_DIAG_SLOW_LINK,
						1 + (m->rx_short.top - m->rx_short.second) /
								p->rx_short_alone_margin);
				if (!s)
					return -ENOMEM;
				host_suspect(s, h, true);
				evidence(s, NULL,
					 "receivers' tita_health_pair_shortfall_ratio on pairs "
					 "from it, mean",
					 m->rx_short.top, ", next host ", m->rx_short.second);
				evidence(s, who(h, wb), "tita_health_tx_app_limited_ratio",
					 h->mean[F_APP], ", median ", m->med[F_APP]);
				evidence(s, who(h, wb), "tita_health_tx_bytes_per_second",
					 h->mean[F_TX], ", median ", m->med[F_TX]);
				evidence(s, who(h, wb), "tita_health_ce_ratio", h->mean[F_CE],
					 ", median ", m->med[F_CE]);
			} else if (i == m->app.top_inst && lockstep_member &&
				   h->mean[F_APP] - m->app.second > p->lockstep_app_margin / 2 &&
				   (app > 2 * p->lockstep_app_margin ||
				    (app > p->lockstep_app_margin &&
				     m->med[F_SHORT] >= p->lockstep_short_floor))) {
				/*
				 * Past the onset of a slow host link in a
				 * collective with nothing else running: every
				 * rank runs at the slowest member's rate, so
				 * nobody is blocked, nothing queues and every
				 * receiver falls short alike. The member whose
				 * own link is slow receives as slowly as it
				 * sends, so its transfers find nothing waiting
				 * more often than anyone's: it is
				 * application-limited above the others, though
				 * far less than a slow application (the first
				 * rule).
				 */
				s = suspect_new(ss, TITA_DIAG_SLOW_LINK,
						1 + (app - p->lockstep_app_margin) /
								p->lockstep_app_margin);
				if (!s)
					return -ENOMEM;
				host_suspect(s, h, true);
				evidence(s, who(h, wb), "tita_health_tx_app_limited_ratio",
					 h->mean[F_APP], ", others' top (q90) ", m->q90[F_APP]);
				evidence(
					s, NULL,
					"every host sends at one rate: tita_health_tx_bytes_per_second "
					"median",
					m->med[F_TX], ", q90 ", m->q90[F_TX]);
				evidence(s, NULL, "tita_health_rx_shortfall_ratio, median",
					 m->med[F_SHORT], ", q90 ", m->q90[F_SHORT]);
				evidence(s, NULL, "nothing queues: tita_health_ce_ratio q90",
					 m->q90[F_CE], ", tita_health_tx_blocked_ratio q90 ",
					 m->q90[F_BLOCKED]);
			} else if (i == m->ce.top_inst && h->mean[F_CE] >= p->ce_alone_floor &&
				   h->mean[F_CE] >= p->ce_alone_lead * m->ce.second && !pauses) {
				/*
				 * The one host marked at all, however faintly.
				 * tita matches the rates that reach a slow NIC
				 * or host link, so its queue drains and CE fades
				 * to a few per thousand (below the CE margin),
				 * yet it is the only queue anywhere that marks.
				 * A lone mark is not enough (a healthy
				 * all-to-all marked one host at 0.001-0.003):
				 * the host must stand out on a second gauge by
				 * half its margin, blocked or short of its
				 * grants above the others' top, or its
				 * receivers short on its pairs above the next
				 * host's (a ring alone at 256 hosts, not yet in
				 * lock-step, where the host itself sends and
				 * receives as much as most).
				 */
				double half = p->blocked_margin / 2;
				double rx_lead = i == m->rx_short.top_inst &&
								 m->rx_short.top >=
									 p->rx_short_alone_floor ?
							 m->rx_short.top - m->rx_short.second :
							 0;
				double u = fmax(fmax(blocked, shortfall) / half,
						rx_lead / (p->rx_short_alone_margin / 2));

				if (u >= 1) {
					s = suspect_new(ss, TITA_DIAG_SLOW_LINK,
							1 + 0.5 * fmin(u, 4));
					if (!s)
						return -ENOMEM;
					host_suspect(s, h, true);
					evidence(s, who(h, wb),
						 "tita_health_ce_ratio (the only host marked)",
						 h->mean[F_CE], ", next host ", m->ce.second);
					evidence(s, who(h, wb), "tita_health_tx_blocked_ratio",
						 h->mean[F_BLOCKED], ", others' top (q90) ",
						 m->q90[F_BLOCKED]);
					evidence(s, who(h, wb), "tita_health_rx_shortfall_ratio",
						 h->mean[F_SHORT], ", others' top (q90) ",
						 m->q90[F_SHORT]);
					if (rx_lead > 0)
						evidence(
							s, NULL,
							"receivers' tita_health_pair_shortfall_ratio "
							"on pairs from it, mean",
							m->rx_short.top, ", next host ",
							m->rx_short.second);
				}
			}
		}
	}
	return 0;
}

static bool same_loss_votes(const struct link *a, const struct link *b)
{
	return a->vote_loss == b->vote_loss && a->n_loss == b->n_loss && a->n_clean == b->n_clean;
}

/* The leaf's uplinks (all its pairs to other leaves, their spine known
 * or not); NULL if none voted. */
static const struct link *uplinks_of(const struct model *m, const char *leaf)
{
	for (uint32_t k = 0; k < m->n_links; k++)
		if (m->links[k].place == TITA_DIAG_AT_LEAF_UPLINKS &&
		    !strcmp(m->links[k].leaf, leaf))
			return &m->links[k];
	return NULL;
}

/*
 * The same spine's link of another leaf that no pair line tells apart
 * from this one: their loss votes are exactly the same, from the same
 * lines, and so are their leaves' uplinks' (a pair whose spine is not
 * known may cross either: where one leaf's uplinks lost more, that is
 * evidence for its link). NULL if none.
 */
static struct link *twin_link(struct model *m, const struct link *l)
{
	const struct link *ul = uplinks_of(m, l->leaf);

	for (uint32_t k = 0; k < m->n_links; k++) {
		struct link *c = &m->links[k];
		const struct link *uc;

		if (c == l || c->place != TITA_DIAG_AT_LEAF_SPINE || strcmp(c->spine, l->spine) ||
		    !strcmp(c->leaf, l->leaf) || !same_loss_votes(c, l))
			continue;
		uc = uplinks_of(m, c->leaf);
		if (ul && uc && same_loss_votes(ul, uc))
			return c;
	}
	return NULL;
}

static int candidates_links(struct model *m, struct suspects *ss)
{
	const struct tita_diag_params *p = m->p;
	double *loss = malloc((m->n_links + 1) * sizeof(double));
	double *shrt = malloc((m->n_links + 1) * sizeof(double));
	double med_loss, med_short;

	if (!loss || !shrt) {
		free(loss);
		free(shrt);
		return -ENOMEM;
	}
	{
		uint32_t nv = 0;

		for (uint32_t k = 0; k < m->n_links; k++)
			if (m->links[k].place != TITA_DIAG_AT_LEAF_SPINE) {
				loss[nv] = m->links[k].vote_loss / m->n_snaps;
				shrt[nv++] = m->links[k].vote_short / m->n_snaps;
			}
		med_loss = median(loss, nv);
		med_short = median(shrt, nv);
	}
	for (uint32_t k = 0; k < m->n_links; k++) {
		struct link *l = &m->links[k];
		double lv = l->vote_loss / m->n_snaps;
		struct tita_diag_suspect *s;
		struct link *best = NULL, *twin = NULL;
		struct text t;

		if (l->place == TITA_DIAG_AT_LEAF_SPINE || lv <= p->loss_floor * 4 ||
		    lv <= 3 * med_loss)
			continue;
		s = suspect_new(ss, TITA_DIAG_LOSSY_LINK,
				lv / fmax(p->loss_floor * 4, 3 * med_loss));
		if (!s) {
			free(loss);
			free(shrt);
			return -ENOMEM;
		}
		s->place = l->place;
		t = (struct text){ s->culprit, sizeof(s->culprit), 0 };
		if (l->place == TITA_DIAG_AT_HOST_LINK) {
			/* Its lines that lost nothing clear it (as below). */
			s->score *= 0.5 + 0.5 * l->n_loss / (l->n_loss + l->n_clean);
			host_suspect(s, &m->inst[l->inst], true);
			evidence(s, who(&m->inst[l->inst], (char[TITA_DIAG_NAME_MAX + 4]){ 0 }),
				 "tita_health_loss_ratio", m->inst[l->inst].mean[F_LOSS],
				 ", median ", m->med[F_LOSS]);
		} else {
			/* Which of the leaf's uplinks: the spine that the pairs
			 * which know theirs name, when one holds most of it. */
			double all = 0;

			for (uint32_t j = 0; j < m->n_links; j++) {
				struct link *c = &m->links[j];

				if (c->place != TITA_DIAG_AT_LEAF_SPINE || strcmp(c->leaf, l->leaf))
					continue;
				all += c->vote_loss;
				if (!best || c->vote_loss > best->vote_loss)
					best = c;
			}
			if (best && (best->n_loss < 2 || best->vote_loss < 0.6 * all))
				best = NULL;
			/*
			 * The same spine's link of another leaf that took the
			 * very same votes: no pair line crosses one of the two
			 * and not the other (a ring crosses leaves on one path,
			 * and both links lose both ways), so no telemetry can
			 * tell which; both are named, once, by the leaf that
			 * sorts first.
			 */
			twin = best ? twin_link(m, best) : NULL;
			if (twin && strcmp(twin->leaf, best->leaf) < 0) {
				ss->n--;
				continue;
			}
			/*
			 * A pair through two leaves votes for both leaves'
			 * links alike (a ring crosses a spine on one path);
			 * another pair that crosses one of them and lost
			 * nothing clears it, as faults here lose both ways.
			 */
			if (best)
				s->score *=
					0.5 + 0.5 * best->n_loss / (best->n_loss + best->n_clean);
			set_name(s->leaf, l->leaf);
			if (strncmp(l->leaf, "leaf", 4))
				t_str(&t, best ? "leaf " : "uplinks of leaf ");
			else if (!best)
				t_str(&t, "uplinks of ");
			t_str(&t, l->leaf);
			if (best) {
				s->place = TITA_DIAG_AT_LEAF_SPINE;
				set_name(s->spine, best->spine);
				t_str(&t, " - spine ");
				t_str(&t, best->spine);
			}
			if (twin) {
				set_name(s->leaf_other, twin->leaf);
				t_str(&t, " or ");
				if (strncmp(twin->leaf, "leaf", 4))
					t_str(&t, "leaf ");
				t_str(&t, twin->leaf);
				t_str(&t, " - spine ");
				t_str(&t, twin->spine);
			}
		}
		evidence(s, NULL, "loss votes of the pairs through it (007), per snapshot", lv,
			 ", median link ", med_loss);
		evidence(s, NULL, "pair lines with loss through it", l->n_loss, NULL, NAN);
		if (best)
			evidence(s, NULL, "of them naming this spine", best->n_loss, NULL, NAN);
		if (twin)
			evidence(s, NULL, NULL, 0,
				 "every pair line through one of the two links crosses the other: "
				 "no telemetry tells which",
				 NAN);
	}
	/*
	 * Slow leaf-spine links: the pairs through one link fall short far
	 * more than those through the others. A host's own slow link shows
	 * on all its pairs whatever their spine: the host's suspect covers
	 * it, so only links between switches are judged here.
	 */
	{
		uint32_t nv = 0;
		double med;

		for (uint32_t k = 0; k < m->n_links; k++)
			if (m->links[k].place != TITA_DIAG_AT_HOST_LINK &&
			    m->links[k].n_short_lines)
				shrt[nv++] = m->links[k].raw_short / m->links[k].n_short_lines;
		double top_excess[TITA_DIAG_AT_LEAF_UPLINKS + 1] = { 0 };

		med = median(shrt, nv);
		/* The largest excess shortfall (below) of each place. */
		for (uint32_t k = 0; k < m->n_links; k++) {
			const struct link *l = &m->links[k];
			double excess;

			if (l->place == TITA_DIAG_AT_HOST_LINK || !l->n_short_lines ||
			    (unsigned)l->place > TITA_DIAG_AT_LEAF_UPLINKS)
				continue;
			excess = l->raw_short - med * l->n_short_lines;
			if (excess > top_excess[l->place])
				top_excess[l->place] = excess;
		}
		for (uint32_t k = 0; k < m->n_links && nv >= 4; k++) {
			struct link *l = &m->links[k];
			double mean, sc, excess;
			struct tita_diag_suspect *s;
			struct text t;

			if (l->place == TITA_DIAG_AT_HOST_LINK || l->n_short < 8)
				continue;
			mean = l->raw_short / l->n_short_lines;
			/* 0.3, not 0.5: the mean now counts the pairs without
			 * shortfall too. */
			if (mean - med < 2 * p->ratio_margin || mean < 0.3)
				continue;
			/*
			 * Weighed by its share of the largest excess shortfall
			 * (beyond the median link's, summed over the lines
			 * through it) of any link of its kind: a slow uplink
			 * backs up its spine, whose pauses slow the other
			 * leaves' links to it as well, and their lines fall as
			 * short on average; but the slow link lies on both
			 * directions of its leaf's traffic through that spine,
			 * so more of the excess passes through it.
			 */
			excess = l->raw_short - med * l->n_short_lines;
			sc = (mean - med) / p->ratio_margin *
			     ((unsigned)l->place <= TITA_DIAG_AT_LEAF_UPLINKS &&
					      top_excess[l->place] > 0 ?
				      excess / top_excess[l->place] :
				      1);
			if (sc < 1)
				continue;
			s = suspect_new(ss, TITA_DIAG_SLOW_LINK, sc);
			if (!s) {
				free(loss);
				free(shrt);
				return -ENOMEM;
			}
			s->place = l->place;
			set_name(s->leaf, l->leaf);
			set_name(s->spine, l->spine);
			t = (struct text){ s->culprit, sizeof(s->culprit), 0 };
			if (l->place == TITA_DIAG_AT_LEAF_SPINE) {
				if (strncmp(l->leaf, "leaf", 4))
					t_str(&t, "leaf ");
				t_str(&t, l->leaf);
				t_str(&t, " - spine ");
				t_str(&t, l->spine);
			} else {
				t_str(&t, strncmp(l->leaf, "leaf", 4) ? "uplinks of leaf " :
									"uplinks of ");
				t_str(&t, l->leaf);
			}
			evidence(s, NULL,
				 "tita_health_pair_shortfall_ratio of the pairs through it, mean",
				 mean, ", median link ", med);
			evidence(s, NULL, "pair lines through it falling short", l->n_short, NULL,
				 NAN);
		}
	}
	(void)med_short;
	free(loss);
	free(shrt);
	return 0;
}

/*
 * CE marked on several hosts alike is a queue they share on their way
 * in, not one host's link: a slow leaf-spine link marks what goes down
 * it to its leaf's hosts and what goes up it from them to anyone. Which
 * one: the receive pair lines into the marked hosts that know their
 * spine fall short through it more than through any other.
 */
static int candidates_ce_uplink(struct model *m, struct suspects *ss)
{
	const struct tita_diag_params *p = m->p;
	double *votes, top = 0, second = 0;
	uint32_t top_link = UINT32_MAX, n_lines = 0;
	struct tita_diag_suspect *s;
	struct link *l;
	struct text t;

	if (m->n_ce_marked < p->ce_hosts_uplink || !m->n_links)
		return 0;
	votes = calloc(m->n_links, sizeof(*votes));
	if (!votes)
		return -ENOMEM;
	for (uint32_t k = 0; k < m->n_rx_lines; k++) {
		const struct rx_line *x = &m->rx_lines[k];
		const char *leaf[2] = { m->inst[x->dst].leaf, m->inst[x->src].leaf };

		if (!ce_marked(m, x->dst))
			continue;
		n_lines++;
		for (int e = 0; e < 2; e++) {
			char key[TITA_DIAG_NAME_MAX * 2 + 8];
			struct text kt = { key, sizeof(key), 0 };
			uint32_t idx;

			key[0] = '\0';
			t_str(&kt, "s\x1f");
			t_str(&kt, leaf[e]);
			t_str(&kt, "\x1f");
			t_str(&kt, x->spine);
			idx = st_get(&m->link_keys, key);
			if (idx != UINT32_MAX)
				votes[idx] += x->shortfall;
		}
	}
	for (uint32_t k = 0; k < m->n_links; k++) {
		if (votes[k] > top) {
			second = top;
			top = votes[k];
			top_link = k;
		} else if (votes[k] > second) {
			second = votes[k];
		}
	}
	free(votes);
	if (top_link == UINT32_MAX || top / m->n_snaps < p->ce_uplink_floor ||
	    top < p->ce_uplink_lead * second)
		return 0;
	l = &m->links[top_link];
	s = suspect_new(ss, TITA_DIAG_SLOW_LINK,
			1 + 4 * (second > 0 ? top / second - 1 : 1) *
					fmin(1, m->n_ce_marked / 8.0));
	if (!s)
		return -ENOMEM;
	s->place = TITA_DIAG_AT_LEAF_SPINE;
	set_name(s->leaf, l->leaf);
	set_name(s->spine, l->spine);
	t = (struct text){ s->culprit, sizeof(s->culprit), 0 };
	if (strncmp(l->leaf, "leaf", 4))
		t_str(&t, "leaf ");
	t_str(&t, l->leaf);
	t_str(&t, " - spine ");
	t_str(&t, l->spine);
	evidence(s, NULL,
		 "hosts marked alike (tita_health_ce_ratio above the median):", m->n_ce_marked,
		 NULL, NAN);
	evidence(s, NULL, "shortfall of the pairs into them through it, per snapshot",
		 top / m->n_snaps, ", next link ", second / m->n_snaps);
	evidence(s, NULL, "their pair lines that know their spine", n_lines, NULL, NAN);
	return 0;
}

/*
 * A slow leaf-spine link under traffic that every host sends over every
 * spine (an all-to-all): the whole collective waits on its slowest
 * transfers, so every host is held back alike and no host or pair line
 * stands out, but the pairs through the slow link's spine fall short
 * more than those through the others, on every leaf (each sends to and
 * receives from the slow link's leaf through it), and most on its own
 * leaf. Per leaf and role, each spine's mean shortfall
 * (tita_health_spine_shortfall_ratio) less the median of the leaf's other
 * spines; summed over leaves and roles, the spine whose excess is
 * spine_excess_floor or more and spine_excess_lead times the next spine's
 * names the spine, and the leaf whose excess through it is largest names
 * the link. Only where nearly every (leaf, role, spine) carries pairs (a
 * ring's few lines between leaves say nothing of the others).
 */
static int candidates_spine_excess(struct model *m, struct suspects *ss)
{
	const struct tita_diag_params *p = m->p;
	const char *leaves[TITA_DIAG_SUSPECTS_MAX * 8], *spines[TITA_DIAG_SUSPECTS_MAX * 8];
	double g[TITA_DIAG_SUSPECTS_MAX * 8] = { 0 }, lx[TITA_DIAG_SUSPECTS_MAX * 8] = { 0 };
	double others[TITA_DIAG_SUSPECTS_MAX * 8];
	uint32_t n_leaves = 0, n_spines = 0, n_ex = 0, top = 0, top_leaf = 0;
	double second = -INFINITY, second_leaf = -INFINITY;
	const uint32_t most = TITA_DIAG_SUSPECTS_MAX * 8;
	struct tita_diag_suspect *sp;
	struct text t;

	for (uint32_t k = 0; k < m->n_cells; k++) {
		const struct spine_cell *c = &m->cells[k];
		uint32_t a, b;

		for (a = 0; a < n_leaves && strcmp(leaves[a], c->leaf); a++)
			;
		for (b = 0; b < n_spines && strcmp(spines[b], c->spine); b++)
			;
		if (a == most || b == most)
			return 0; /* beyond what this rule is for */
		if (a == n_leaves)
			leaves[n_leaves++] = c->leaf;
		if (b == n_spines)
			spines[n_spines++] = c->spine;
	}
	if (n_leaves < 2 || n_spines < 3)
		return 0;
	for (uint32_t k = 0; k < m->n_cells; k++) {
		struct spine_cell *c = &m->cells[k];
		uint32_t no = 0;

		for (uint32_t j = 0; j < m->n_cells; j++) {
			const struct spine_cell *o = &m->cells[j];

			if (j != k && o->rx == c->rx && !strcmp(o->leaf, c->leaf))
				others[no++] = o->sum / o->n;
		}
		c->has_ex = no >= 2;
		if (!c->has_ex)
			continue;
		c->ex = c->sum / c->n - median(others, no);
		n_ex++;
		for (uint32_t b = 0; b < n_spines; b++)
			if (!strcmp(spines[b], c->spine))
				g[b] += c->ex;
	}
	if (n_ex < 0.75 * 2 * n_leaves * n_spines)
		return 0;
	for (uint32_t b = 1; b < n_spines; b++)
		if (g[b] > g[top])
			top = b;
	for (uint32_t b = 0; b < n_spines; b++)
		if (b != top && g[b] > second)
			second = g[b];
	if (g[top] < p->spine_excess_floor || g[top] < p->spine_excess_lead * fmax(second, 0))
		return 0;
	for (uint32_t k = 0; k < m->n_cells; k++) {
		const struct spine_cell *c = &m->cells[k];

		/* The receive side only: a sender is paused by its leaf for
		 * all its pairs whatever their spine, so behind a slow uplink
		 * its leaf's senders are blocked alike through every spine,
		 * while the other leaves' pairs into its leaf through the
		 * slow downlink show the send side's excess; every receive
		 * pair of its leaf through the spine crosses the slow link. */
		if (!c->has_ex || !c->rx || strcmp(c->spine, spines[top]))
			continue;
		for (uint32_t a = 0; a < n_leaves; a++)
			if (!strcmp(leaves[a], c->leaf))
				lx[a] += c->ex;
	}
	/* On every leaf: each leaf receives from the slow link's leaf
	 * through it (and the spine backs up); a hot spot behind one or two
	 * leaves (a healthy ring with background traffic: the spine's excess
	 * from two leaves, others' below their median) is not that. */
	for (uint32_t a = 0; a < n_leaves; a++)
		if (!(lx[a] >= p->spine_excess_leaf_floor))
			return 0;
	for (uint32_t a = 1; a < n_leaves; a++)
		if (lx[a] > lx[top_leaf])
			top_leaf = a;
	for (uint32_t a = 0; a < n_leaves; a++)
		if (a != top_leaf && lx[a] > second_leaf)
			second_leaf = lx[a];
	/* A link of that spine that the pair lines name already (rules 4:
	 * lines that know their spine know the leaf too) is the one: it
	 * ranks as this rule would, with this evidence beside its own. */
	sp = NULL;
	for (uint32_t k = 0; k < ss->n; k++) {
		struct tita_diag_suspect *o = &ss->v[k];

		if ((o->kind == TITA_DIAG_SLOW_LINK || o->kind == TITA_DIAG_LOSSY_LINK) &&
		    o->place == TITA_DIAG_AT_LEAF_SPINE && !o->leaf_other[0] &&
		    !strcmp(o->spine, spines[top]) && (!sp || o->score > sp->score))
			sp = o;
	}
	if (sp) {
		sp->score = fmax(sp->score, g[top] / p->spine_excess_floor);
		evidence(sp, NULL,
			 "tita_health_spine_shortfall_ratio through the spine above the leaves' "
			 "other spines, summed over leaves and roles",
			 g[top], ", next spine ", second);
		return 0;
	}
	sp = suspect_new(ss, TITA_DIAG_SLOW_LINK, g[top] / p->spine_excess_floor);
	if (!sp)
		return -ENOMEM;
	sp->place = TITA_DIAG_AT_LEAF_SPINE;
	set_name(sp->leaf, leaves[top_leaf]);
	set_name(sp->spine, spines[top]);
	t = (struct text){ sp->culprit, sizeof(sp->culprit), 0 };
	if (strncmp(leaves[top_leaf], "leaf", 4))
		t_str(&t, "leaf ");
	t_str(&t, leaves[top_leaf]);
	t_str(&t, " - spine ");
	t_str(&t, spines[top]);
	evidence(sp, NULL,
		 "tita_health_spine_shortfall_ratio through the spine above the leaves' other "
		 "spines, summed over leaves and roles",
		 g[top], ", next spine ", second);
	evidence(sp, NULL, "of which this leaf's receive side", lx[top_leaf], ", next leaf's ",
		 second_leaf);
	return 0;
}

/*
 * A NIC that storms its switch with pauses is the root of what they
 * spread: every switch on the way to it backs up, and hosts and links
 * far from it send blocked and fall short. Only a NIC sends pauses (a
 * slow link queues and marks, the switches pause the hosts), so the
 * storm outranks the suspects drawn from blocking, shortfall and CE;
 * dead hosts and lossy links are not its doing (PFC loses nothing).
 */
static void rank_storm_first(struct suspects *ss)
{
	double derived = 0;

	for (uint32_t k = 0; k < ss->n; k++)
		if (ss->v[k].kind == TITA_DIAG_SLOW_LINK || ss->v[k].kind == TITA_DIAG_SLOW_NIC)
			derived = fmax(derived, ss->v[k].score);
	for (uint32_t k = 0; k < ss->n; k++)
		if (ss->v[k].kind == TITA_DIAG_PFC_STORM && ss->v[k].score <= derived)
			ss->v[k].score = derived + 1;
}

static int cmp_suspect(const void *a, const void *b)
{
	const struct tita_diag_suspect *x = a, *y = b;

	return x->score > y->score ? -1 : x->score < y->score;
}

static void model_free(struct model *m)
{
	free(m->inst);
	free(m->rx_lines);
	free(m->ce_alike);
	free(m->cells);
	st_free(&m->cell_keys);
	st_free(&m->by_name);
	st_free(&m->by_peer);
	st_free(&m->link_keys);
	free(m->links);
	for (uint32_t i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->tmp);
	for (uint32_t j = 0; j < m->n_jobs; j++) {
		free(m->jobs[j].tx_sum);
		free(m->jobs[j].tx_n);
	}
}

int tita_diag_run(const struct tita_prom_doc *const *snaps, size_t n,
		  const struct tita_diag_params *p, struct tita_diag_result *result)
{
	struct model m = { .p = p };
	struct strtab ports = { 0 };
	struct suspects ss = { 0 };
	double *vals = NULL;
	int rc = 0;

	memset(result, 0, sizeof(*result));
	if (!snaps || !n || !p || n > UINT32_MAX)
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (!snaps[k])
			return -EINVAL;
	m.n_snaps = (uint32_t)n;
	for (size_t k = 0; k < n && !rc; k++)
		rc = learn_hosts(&m, snaps[k]);
	for (size_t k = 0; k < n && !rc; k++)
		rc = learn_port_names(&m, snaps[k], &ports);
	for (uint32_t k = 0; k < snaps[n - 1]->n_samples && !rc; k++) {
		const struct tita_prom_sample *smp = &snaps[n - 1]->samples[k];
		const char *in = tita_prom_label(smp, "instance");
		uint32_t i = in && !strcmp(smp->name, "up") ? st_get(&m.by_name, in) : UINT32_MAX;

		if (i != UINT32_MAX)
			m.inst[i].down_now = smp->value != 1;
	}
	for (size_t k = 0; k < n && !rc; k++)
		rc = read_snapshot(&m, snaps[k], &ports, k + 1 == n);
	if (rc)
		goto out;
	vals = malloc((m.n_inst + 1) * sizeof(double));
	m.tmp = malloc((m.n_inst + 1) * sizeof(double));
	if (!vals || !m.tmp) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < m.n_inst; i++)
		for (int f = 0; f < N_F; f++)
			m.inst[i].mean[f] = m.inst[i].n_up ? m.inst[i].sum[f] / m.inst[i].n_up : 0;
	for (int f = 0; f < N_F; f++) {
		uint32_t nv = 0;

		for (uint32_t i = 0; i < m.n_inst; i++)
			if (m.inst[i].n_up && m.inst[i].up_last)
				vals[nv++] = m.inst[i].mean[f];
		m.med[f] = median(vals, nv);
		/* median() sorted them: the 90th percentile, the top of the
		 * healthy hosts' spread, which one culprit does not move.
		 * Below eleven hosts the 90th percentile is the highest
		 * value, the culprit's own: the second highest then. */
		{
			uint32_t q = (uint32_t)(0.9 * (nv - 1) + 0.5);

			if (nv >= 2 && q > nv - 2)
				q = nv - 2;
			m.q90[f] = nv ? vals[q] : 0;
		}
	}
	m.rx_short = m.app = m.blocked = m.ce = (struct top2){ .top_inst = UINT32_MAX };
	for (uint32_t i = 0; i < m.n_inst; i++) {
		if (m.inst[i].view_n[V_RX_SHORT])
			top2_note(&m.rx_short,
				  m.inst[i].view[V_RX_SHORT] / m.inst[i].view_n[V_RX_SHORT], i);
		if (m.inst[i].n_up && m.inst[i].up_last) {
			top2_note(&m.app, m.inst[i].mean[F_APP], i);
			top2_note(&m.blocked, m.inst[i].mean[F_BLOCKED], i);
			top2_note(&m.ce, m.inst[i].mean[F_CE], i);
		}
	}
	m.ce_alike = calloc(m.n_inst + 1, sizeof(*m.ce_alike));
	if (!m.ce_alike) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < m.n_inst; i++) {
		if (!ce_marked(&m, i))
			continue;
		m.n_ce_marked++;
		for (uint32_t j = 0; j < m.n_inst; j++)
			if (j != i && ce_marked(&m, j) &&
			    m.inst[j].mean[F_CE] >= 0.5 * m.inst[i].mean[F_CE])
				m.ce_alike[i]++;
	}
	rc = candidates_hosts(&m, &ss);
	if (!rc)
		rc = candidates_links(&m, &ss);
	if (!rc)
		rc = candidates_ce_uplink(&m, &ss);
	if (!rc)
		rc = candidates_spine_excess(&m, &ss);
	if (rc)
		goto out;
	rank_storm_first(&ss);
	result->n_snapshots = m.n_snaps;
	result->n_instances = m.n_inst;
	for (uint32_t i = 0; i < m.n_inst; i++)
		result->n_up += m.inst[i].up_last;
	if (ss.n)
		qsort(ss.v, ss.n, sizeof(*ss.v), cmp_suspect);
	for (uint32_t k = 0; k < ss.n && result->n_suspects < TITA_DIAG_SUSPECTS_MAX; k++) {
		struct tita_diag_suspect *s = &ss.v[k];

		if (s->score < p->min_score)
			break;
		if (!s->confidence) {
			/* How far it stands out, and how far ahead of the next. */
			double next = k + 1 < ss.n ? ss.v[k + 1].score : 0;

			s->confidence =
				fmin(0.99, (1 - 1 / (1 + s->score)) *
						   (0.5 + 0.5 * (s->score - next) / s->score));
		}
		result->suspects[result->n_suspects++] = *s;
	}
	{
		struct text t = { result->note, sizeof(result->note), 0 };

		if (!m.n_inst)
			t_str(&t,
			      "no instances in the snapshots (no samples with an instance label)");
		else if (!result->n_suspects)
			t_str(&t, "no suspect: nothing stands out from the cluster's median");
		if (m.no_instance) {
			t_str(&t, t.len ? "; " : "");
			t_u64(&t, m.no_instance);
			t_str(&t, " samples without an instance label ignored");
		}
		if (m.jobs_dropped) {
			t_str(&t, t.len ? "; " : "");
			t_str(&t, "more than 64 jobs: the rest not compared");
		}
	}
out:
	free(vals);
	free(ss.v);
	st_free(&ports);
	model_free(&m);
	return rc;
}
