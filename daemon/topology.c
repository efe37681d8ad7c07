// SPDX-License-Identifier: MIT
/*
 * The fabric's topology from Slurm's tree format and tita's own: see
 * topology.h and tita-topology(5).
 *
 * Lines are kept as switches with their text (host lists are expanded when
 * asked, not at load: a file for 100,000 GPUs is a few thousand lines of
 * ranges, and titad needs one leaf of it). What the whole file decides (who
 * is whose spine, the leaf ids, the spines' order) is worked out once by
 * tita_topo_finish().
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topology.h"
#include "units.h"

#define FILE_BYTES_MAX (16u * 1024 * 1024)
#define LINE_BYTES_MAX (1024u * 1024)
#define PROBLEM_BYTES 320

enum sw_kind {
	SW_SLURM = 1, /* SwitchName=: a leaf with Nodes=, above leaves with Switches= */
	SW_LEAF, /* tita "leaf" */
	SW_SPINE, /* tita "spine": addresses of a spine (maybe a Slurm switch's) */
};

struct sw {
	char name[TITA_TOPO_NAME_MAX + 1];
	enum sw_kind kind;
	bool bad; /* its line has a problem: it is not used */
	bool merged; /* a spine line whose addresses went to the Slurm switch */
	uint16_t file;
	int line;
	char *members; /* Nodes= or a leaf's members: one host list */
	char *children; /* Switches= */
	bool has_link_speed;
	uint64_t link_speed;
	/* tita leaf */
	bool id_set;
	uint32_t id;
	uint32_t spines_count; /* spines=N (0: not given) */
	char *spine_names; /* spines=a,b,c */
	uint64_t spine_bps;
	char lldp[TITA_TOPO_NAME_MAX + 1];
	/* tita spine, or merged into the Slurm switch of the same name */
	struct tita_prefix *prefixes;
	uint32_t n_prefixes;
	/* Worked out by finish(). */
	bool is_leaf;
	uint32_t leaf_id;
	uint32_t *spines; /* switch indices, in uplink order */
	uint32_t n_spines_ref;
	struct tita_place place;
	bool spines_addressed;
};

struct tita_topo {
	struct tita_fabric_conf fc;
	char **paths;
	uint32_t n_paths;
	struct sw *sw;
	uint32_t n_sw, cap_sw;
	char **problems;
	size_t n_problems, dropped;
	bool oom, finished;
};

/* ---- [fabric] ------------------------------------------------------------------ */

void tita_fabric_conf_defaults(struct tita_fabric_conf *fc)
{
	memset(fc, 0, sizeof(*fc));
	fc->probe_ttl = TITA_PROBE_TTL_DEFAULT;
	fc->lldp = true;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static bool name_valid(const char *s, size_t n)
{
	if (n == 0 || n > TITA_TOPO_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* What a switch or host name is made of; no '=', ',' or
		 * brackets, which are syntax here. */
		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
			return false;
	}
	return true;
}

int tita_fabric_conf_set(struct tita_fabric_conf *fc, const char *key, const char *value, char *err,
			 size_t err_size)
{
	uint64_t v;

	if (!strcmp(key, "topology")) {
		struct tita_fabric_conf n = *fc;
		const char *p = value;

		n.n_files = 0;
		while (*p) {
			size_t len;

			while (*p == ' ' || *p == '\t')
				p++;
			len = strcspn(p, " \t");
			if (!len)
				break;
			if (n.n_files == TITA_TOPO_FILES_MAX) {
				snprintf(err, err_size, "topology: at most %d files",
					 TITA_TOPO_FILES_MAX);
				return -EINVAL;
			}
			if (len > TITA_TOPO_PATH_MAX || p[0] != '/') {
				snprintf(
					err, err_size,
					"topology: '%.*s' is not an absolute path of at most %d bytes",
					(int)(len > 64 ? 64 : len), p, TITA_TOPO_PATH_MAX);
				return -EINVAL;
			}
			memcpy(n.files[n.n_files], p, len);
			n.files[n.n_files++][len] = '\0';
			p += len;
		}
		*fc = n;
		return 0;
	}
	if (!strcmp(key, "hostname")) {
		if (*value && !name_valid(value, strlen(value))) {
			snprintf(
				err, err_size,
				"hostname: '%s' is not a host name (letters, digits, '-', '_', '.', "
				"at most %d)",
				value, TITA_TOPO_NAME_MAX);
			return -EINVAL;
		}
		snprintf(fc->hostname, sizeof(fc->hostname), "%s", value);
		return 0;
	}
	if (!strcmp(key, "spines")) {
		if (tita_parse_u64(value, &v) || v < 1 || v > TITA_SPINES_MAX) {
			snprintf(err, err_size, "spines: 1..%u uplinks a leaf, not '%s'",
				 TITA_SPINES_MAX, value);
			return -EINVAL;
		}
		fc->spines = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "spine-rate") || !strcmp(key, "link-speed-unit")) {
		if (tita_parse_rate(value, &v) || v == 0) {
			snprintf(err, err_size, "%s: a rate above 0 (e.g. 400G), not '%s'", key,
				 value);
			return -EINVAL;
		}
		if (key[0] == 's')
			fc->spine_rate_bps = v;
		else
			fc->link_speed_unit_bps = v;
		return 0;
	}
	if (!strcmp(key, "probe-ttl")) {
		if (tita_parse_u64(value, &v) || v < 1 || v > TITA_PROBE_TTL_MAX) {
			snprintf(err, err_size, "probe-ttl: 1..%d hops, not '%s'",
				 TITA_PROBE_TTL_MAX, value);
			return -EINVAL;
		}
		fc->probe_ttl = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "lldp")) {
		if (parse_bool(value, &fc->lldp)) {
			snprintf(err, err_size, "lldp: on or off, not '%s'", value);
			return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

/* ---- host lists ----------------------------------------------------------------- */

struct hl_range {
	uint64_t lo, hi;
	int width; /* zero-padded to this many digits */
};

struct hl_group {
	const char *lit; /* the literal before the bracket (or the tail) */
	size_t lit_len;
	struct hl_range *ranges;
	size_t n_ranges;
};

#define HL_GROUPS_MAX 8
#define HL_RANGES_MAX 256
#define HL_NUMBER_MAX 999999999ull

/* One comma-free item ("r[1-2]n[1-4]x"): its groups and trailing literal. */
struct hl_item {
	struct hl_group g[HL_GROUPS_MAX + 1];
	size_t n_groups; /* with brackets; g[n_groups] holds the tail literal */
	struct hl_range ranges[HL_RANGES_MAX];
	size_t n_ranges;
};

static int hl_parse_item(const char *s, size_t len, struct hl_item *it, char *err, size_t err_size)
{
	size_t i = 0;

	memset(it, 0, sizeof(*it));
	for (;;) {
		struct hl_group *g = &it->g[it->n_groups];
		size_t start = i;

		while (i < len && s[i] != '[')
			i++;
		g->lit = s + start;
		g->lit_len = i - start;
		if (i == len)
			return 0;
		if (it->n_groups == HL_GROUPS_MAX) {
			snprintf(err, err_size, "'%.*s': more than %d bracketed ranges", (int)len,
				 s, HL_GROUPS_MAX);
			return -EINVAL;
		}
		i++; /* '[' */
		g->ranges = &it->ranges[it->n_ranges];
		for (;;) {
			struct hl_range r = { 0 };
			size_t d = i;

			while (i < len && isdigit((unsigned char)s[i]))
				i++;
			if (i == d || i - d > 9) {
				snprintf(err, err_size,
					 "'%.*s': a range needs numbers of 1..9 digits", (int)len,
					 s);
				return -EINVAL;
			}
			r.width = (int)(i - d);
			r.lo = strtoull(s + d, NULL, 10);
			r.hi = r.lo;
			if (i < len && s[i] == '-') {
				size_t e = ++i;

				while (i < len && isdigit((unsigned char)s[i]))
					i++;
				if (i == e || i - e > 9) {
					snprintf(err, err_size,
						 "'%.*s': a range needs numbers of 1..9 digits",
						 (int)len, s);
					return -EINVAL;
				}
				r.hi = strtoull(s + e, NULL, 10);
				if (r.hi < r.lo) {
					snprintf(err, err_size,
						 "'%.*s': range %llu-%llu runs backwards", (int)len,
						 s, (unsigned long long)r.lo,
						 (unsigned long long)r.hi);
					return -EINVAL;
				}
			}
			/* Slurm pads to the first number's width only when it
			 * has a leading zero: tux[1-10] is tux1 .. tux10. */
			if (!(r.width > 1 && s[d] == '0'))
				r.width = 0;
			if (it->n_ranges == HL_RANGES_MAX) {
				snprintf(err, err_size, "'%.*s': more than %d ranges", (int)len, s,
					 HL_RANGES_MAX);
				return -EINVAL;
			}
			it->ranges[it->n_ranges++] = r;
			g->n_ranges++;
			if (i < len && s[i] == ',') {
				i++;
				continue;
			}
			if (i < len && s[i] == ']') {
				i++;
				break;
			}
			snprintf(err, err_size, "'%.*s': expected ',', '-' or ']' in a range",
				 (int)len, s);
			return -EINVAL;
		}
		it->n_groups++;
	}
}

static uint64_t hl_item_count(const struct hl_item *it)
{
	uint64_t n = 1;

	for (size_t k = 0; k < it->n_groups; k++) {
		uint64_t m = 0;

		for (size_t r = 0; r < it->g[k].n_ranges; r++)
			m += it->g[k].ranges[r].hi - it->g[k].ranges[r].lo + 1;
		n *= m;
		if (n > HL_NUMBER_MAX)
			return HL_NUMBER_MAX + 1;
	}
	return n;
}

/* Names of an item in order: the last group varies fastest. */
static int hl_walk(const struct hl_item *it, size_t k, char *buf, size_t at, tita_hostlist_fn fn,
		   void *ctx)
{
	const struct hl_group *g = &it->g[k];
	size_t size = TITA_TOPO_NAME_MAX * 4;

	if (at + g->lit_len >= size)
		return -ENAMETOOLONG;
	memcpy(buf + at, g->lit, g->lit_len);
	at += g->lit_len;
	if (k == it->n_groups) {
		buf[at] = '\0';
		return fn(ctx, buf);
	}
	for (size_t r = 0; r < g->n_ranges; r++) {
		for (uint64_t v = g->ranges[r].lo; v <= g->ranges[r].hi; v++) {
			int n = snprintf(buf + at, size - at, "%0*llu", g->ranges[r].width,
					 (unsigned long long)v);
			int ret;

			if (n < 0 || (size_t)n >= size - at)
				return -ENAMETOOLONG;
			ret = hl_walk(it, k + 1, buf, at + (size_t)n, fn, ctx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Split at the commas outside brackets; call item() for each piece. */
static int hl_items(const char *expr, int (*item)(void *, const char *, size_t), void *ctx,
		    char *err, size_t err_size)
{
	const char *p = expr;

	for (;;) {
		const char *start = p;
		int depth = 0, r;

		while (*p && (depth || *p != ',')) {
			if (*p == '[')
				depth++;
			else if (*p == ']' && --depth < 0)
				break;
			p++;
		}
		if (*p == ']') {
			snprintf(err, err_size, "'%s': ']' without '['", expr);
			return -EINVAL;
		}
		if (depth) {
			snprintf(err, err_size, "'%s': '[' without ']'", expr);
			return -EINVAL;
		}
		if (p == start) {
			snprintf(err, err_size, "'%s': an empty name", expr);
			return -EINVAL;
		}
		r = item(ctx, start, (size_t)(p - start));
		if (r)
			return r;
		if (!*p)
			return 0;
		p++;
	}
}

struct hl_ctx {
	size_t max;
	uint64_t total;
	tita_hostlist_fn fn;
	void *ctx;
	char *err;
	size_t err_size;
	bool counting;
};

static int hl_one(void *c_, const char *s, size_t len)
{
	struct hl_ctx *c = c_;
	struct hl_item it;
	char buf[TITA_TOPO_NAME_MAX * 4];
	int r = hl_parse_item(s, len, &it, c->err, c->err_size);

	if (r)
		return r;
	if (c->counting) {
		c->total += hl_item_count(&it);
		if (c->total > c->max) {
			snprintf(c->err, c->err_size, "more than %zu names", c->max);
			return -E2BIG;
		}
		return 0;
	}
	r = hl_walk(&it, 0, buf, 0, c->fn, c->ctx);
	if (r == -ENAMETOOLONG)
		snprintf(c->err, c->err_size, "'%.*s': a name longer than %d", (int)len, s,
			 TITA_TOPO_NAME_MAX * 4 - 1);
	return r;
}

int tita_hostlist_expand(const char *expr, size_t max, tita_hostlist_fn fn, void *ctx, char *err,
			 size_t err_size)
{
	struct hl_ctx c = { .max = max, .fn = fn, .ctx = ctx, .err = err, .err_size = err_size };
	int r;

	/* Count first: a list too long is refused before any name goes out. */
	c.counting = true;
	r = hl_items(expr, hl_one, &c, err, err_size);
	if (r)
		return r;
	c.counting = false;
	return hl_items(expr, hl_one, &c, err, err_size);
}

/* ---- problems ------------------------------------------------------------------- */

static void problem(struct tita_topo *t, uint16_t file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(struct tita_topo *t, uint16_t file, int line, const char *fmt, ...)
{
	char msg[PROBLEM_BYTES], *s;
	char **np;
	va_list ap;
	int n;

	if (t->n_problems == TITA_TOPO_PROBLEMS_MAX) {
		t->dropped++;
		return;
	}
	if (line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", t->paths[file], line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", t->paths[file]);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	s = strdup(msg);
	np = s ? realloc(t->problems, (t->n_problems + 1) * sizeof(*np)) : NULL;
	if (!np) {
		free(s);
		t->oom = true;
		return;
	}
	t->problems = np;
	t->problems[t->n_problems++] = s;
}

size_t tita_topo_n_problems(const struct tita_topo *t)
{
	return t->n_problems;
}

const char *tita_topo_problem(const struct tita_topo *t, size_t i)
{
	return i < t->n_problems ? t->problems[i] : NULL;
}

size_t tita_topo_problems_dropped(const struct tita_topo *t)
{
	return t->dropped;
}

/* ---- the object ----------------------------------------------------------------- */

struct tita_topo *tita_topo_new(const struct tita_fabric_conf *fc)
{
	struct tita_topo *t = calloc(1, sizeof(*t));

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	if (fc)
		t->fc = *fc;
	else
		tita_fabric_conf_defaults(&t->fc);
	return t;
}

static void sw_clear(struct sw *s)
{
	free(s->members);
	free(s->children);
	free(s->spine_names);
	free(s->prefixes);
	free(s->spines);
}

struct tita_topo *tita_topo_free(struct tita_topo *t)
{
	if (!t)
		return NULL;
	for (uint32_t i = 0; i < t->n_sw; i++)
		sw_clear(&t->sw[i]);
	free(t->sw);
	for (uint32_t i = 0; i < t->n_paths; i++)
		free(t->paths[i]);
	free(t->paths);
	for (size_t i = 0; i < t->n_problems; i++)
		free(t->problems[i]);
	free(t->problems);
	free(t);
	return NULL;
}

static struct sw *sw_add(struct tita_topo *t)
{
	if (t->n_sw == t->cap_sw) {
		uint32_t cap = t->cap_sw ? 2 * t->cap_sw : 64;
		struct sw *n = realloc(t->sw, cap * sizeof(*n));

		if (!n)
			return NULL;
		t->sw = n;
		t->cap_sw = cap;
	}
	memset(&t->sw[t->n_sw], 0, sizeof(t->sw[0]));
	return &t->sw[t->n_sw++];
}

/* ---- lines ---------------------------------------------------------------------- */

struct line {
	struct tita_topo *t;
	uint16_t file;
	int no;
	char **tok;
	size_t n_tok;
	bool bad;
};

static void line_problem(struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void line_problem(struct line *l, const char *fmt, ...)
{
	char msg[PROBLEM_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	problem(l->t, l->file, l->no, "%s", msg);
	l->bad = true;
}

static int count_name(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return 0;
}

/* Check a host list's syntax and size (the names themselves are checked
 * where they are used: a member must be an address or a host name). */
static bool check_hostlist(struct line *l, const char *what, const char *expr)
{
	char err[200];
	int r = tita_hostlist_expand(expr, TITA_HOSTLIST_MAX, count_name, NULL, err, sizeof(err));

	if (r) {
		line_problem(l, "%s: %s", what, err);
		return false;
	}
	return true;
}

/* A member's name, expanded: an address, or a host name. */
static int check_member(void *ctx, const char *name)
{
	struct line *l = ctx;
	struct tita_addr a;

	if (tita_parse_addr(name, &a) == 0)
		return 0;
	if (!name_valid(name, strlen(name))) {
		line_problem(l, "'%s' is neither an address nor a host name", name);
		return -EINVAL;
	}
	return 0;
}

static bool set_name(struct line *l, char *dst, const char *what, const char *v)
{
	if (!name_valid(v, strlen(v))) {
		line_problem(l, "%s '%s': letters, digits, '-', '_', '.', at most %d", what, v,
			     TITA_TOPO_NAME_MAX);
		return false;
	}
	snprintf(dst, TITA_TOPO_NAME_MAX + 1, "%s", v);
	return true;
}

static char *append(char *list, const char *s)
{
	size_t a = list ? strlen(list) : 0, b = strlen(s);
	char *n = realloc(list, a + b + 2);

	if (!n)
		return NULL;
	if (a)
		n[a++] = ',';
	memcpy(n + a, s, b + 1);
	return n;
}

static void parse_slurm(struct line *l, struct sw *s)
{
	static const char *const keys[] = { "SwitchName", "Switches", "Nodes", "LinkSpeed" };
	bool seen[4] = { false };

	s->kind = SW_SLURM;
	for (size_t i = 0; i < l->n_tok; i++) {
		char *eq = strchr(l->tok[i], '=');
		const char *v;
		size_t k;

		if (!eq) {
			line_problem(l, "'%s' is not Key=Value", l->tok[i]);
			continue;
		}
		*eq = '\0';
		v = eq + 1;
		for (k = 0; k < 4 && strcasecmp(l->tok[i], keys[k]); k++)
			;
		if (k == 4) {
			line_problem(l, "unknown key '%s' (SwitchName, Switches, Nodes, LinkSpeed)",
				     l->tok[i]);
			continue;
		}
		if (seen[k]) {
			line_problem(l, "%s given twice", keys[k]);
			continue;
		}
		seen[k] = true;
		if (!*v) {
			line_problem(l, "%s= without a value", keys[k]);
			continue;
		}
		switch (k) {
		case 0:
			set_name(l, s->name, "SwitchName", v);
			break;
		case 1:
			if (check_hostlist(l, "Switches", v) && !(s->children = strdup(v)))
				l->t->oom = true;
			break;
		case 2:
			if (check_hostlist(l, "Nodes", v)) {
				char err[200];

				if (tita_hostlist_expand(v, TITA_HOSTLIST_MAX, check_member, l, err,
							 sizeof(err)) == 0 &&
				    !(s->members = strdup(v)))
					l->t->oom = true;
			}
			break;
		case 3:
			if (tita_parse_u64(v, &s->link_speed) || s->link_speed == 0)
				line_problem(l, "LinkSpeed '%s' is not a number above 0", v);
			else
				s->has_link_speed = true;
			break;
		}
	}
	if (seen[1] && seen[2])
		line_problem(l, "a switch has either Nodes= (a leaf) or Switches=, not both");
	else if (!seen[1] && !seen[2] && !l->bad)
		line_problem(l, "a switch needs Nodes= (a leaf) or Switches=");
}

static void parse_tita(struct line *l, struct sw *s, bool leaf)
{
	const char *what = leaf ? "leaf" : "spine";

	s->kind = leaf ? SW_LEAF : SW_SPINE;
	if (l->n_tok < 2 || strchr(l->tok[1], '=')) {
		line_problem(l, "%s needs a name: '%s NAME ...'", what, what);
		return;
	}
	set_name(l, s->name, what, l->tok[1]);
	for (size_t i = 2; i < l->n_tok; i++) {
		char *tok = l->tok[i], *eq = strchr(tok, '=');
		const char *v = eq ? eq + 1 : NULL;
		uint64_t n;

		if (!leaf) {
			struct tita_prefix p, *np;

			if (eq || tita_parse_prefix(tok, &p)) {
				line_problem(l, "'%s' is not an address or prefix of the spine",
					     tok);
				continue;
			}
			np = realloc(s->prefixes, (s->n_prefixes + 1) * sizeof(*np));
			if (!np) {
				l->t->oom = true;
				return;
			}
			s->prefixes = np;
			s->prefixes[s->n_prefixes++] = p;
			continue;
		}
		if (!eq) {
			char err[200];

			if (!check_hostlist(l, "member", tok) ||
			    tita_hostlist_expand(tok, TITA_HOSTLIST_MAX, check_member, l, err,
						 sizeof(err)))
				continue;
			if (!(s->members = append(s->members, tok)))
				l->t->oom = true;
			continue;
		}
		*eq = '\0';
		if (!strcasecmp(tok, "id")) {
			if (tita_parse_u64(v, &n) || n >= TITA_LEAF_ANY)
				line_problem(l, "id '%s': 0..%u", v, TITA_LEAF_ANY - 1);
			else
				s->id_set = true, s->id = (uint32_t)n;
		} else if (!strcasecmp(tok, "spines")) {
			if (isdigit((unsigned char)v[0])) {
				if (tita_parse_u64(v, &n) || n < 1 || n > TITA_SPINES_MAX)
					line_problem(l,
						     "spines '%s': 1..%u uplinks, or spine names",
						     v, TITA_SPINES_MAX);
				else
					s->spines_count = (uint32_t)n;
			} else if (check_hostlist(l, "spines", v) &&
				   !(s->spine_names = strdup(v))) {
				l->t->oom = true;
			}
		} else if (!strcasecmp(tok, "spine-rate")) {
			if (tita_parse_rate(v, &n) || n == 0)
				line_problem(l, "spine-rate '%s': a rate above 0 (e.g. 400G)", v);
			else
				s->spine_bps = n;
		} else if (!strcasecmp(tok, "lldp")) {
			set_name(l, s->lldp, "lldp", v);
		} else {
			line_problem(l, "unknown key '%s' (id, spines, spine-rate, lldp)", tok);
		}
	}
	if (leaf && !s->members && !l->bad)
		line_problem(l, "leaf %s has no members", s->name);
}

static void parse_line(struct tita_topo *t, uint16_t file, int no, char *text)
{
	char *tok[512], *save = NULL, *p;
	struct line l = { .t = t, .file = file, .no = no, .tok = tok };
	struct sw *s;

	for (p = strtok_r(text, " \t\r", &save); p; p = strtok_r(NULL, " \t\r", &save)) {
		if (l.n_tok == sizeof(tok) / sizeof(tok[0])) {
			problem(t, file, no, "more than %zu words on a line", l.n_tok);
			return;
		}
		tok[l.n_tok++] = p;
	}
	if (!l.n_tok)
		return;
	s = sw_add(t);
	if (!s) {
		t->oom = true;
		return;
	}
	s->file = file;
	s->line = no;
	if (!strncasecmp(tok[0], "SwitchName=", 11)) {
		parse_slurm(&l, s);
	} else if (!strcasecmp(tok[0], "leaf") || !strcasecmp(tok[0], "spine")) {
		parse_tita(&l, s, tolower((unsigned char)tok[0][0]) == 'l');
	} else if (!strncasecmp(tok[0], "BlockName=", 10) ||
		   !strncasecmp(tok[0], "BlockSizes=", 11)) {
		line_problem(&l, "Slurm's topology/block has no leaves and spines: tita reads "
				 "its tree format (SwitchName=)");
	} else {
		line_problem(&l,
			     "'%s': a line is 'SwitchName=...' (Slurm) or 'leaf ...', "
			     "'spine ...' (tita)",
			     tok[0]);
	}
	s->bad = l.bad;
	if (!s->name[0])
		s->bad = true;
}

static int path_add(struct tita_topo *t, const char *path, uint16_t *ret_file)
{
	char **np = realloc(t->paths, (t->n_paths + 1) * sizeof(*np));

	if (!np)
		return -ENOMEM;
	t->paths = np;
	if (!(t->paths[t->n_paths] = strdup(path)))
		return -ENOMEM;
	*ret_file = (uint16_t)t->n_paths++;
	return 0;
}

int tita_topo_parse(struct tita_topo *t, const char *path, const char *buf, size_t len)
{
	char *line = NULL;
	size_t line_len = 0, i = 0;
	int no = 0, first = 0, r;
	uint16_t file;

	r = path_add(t, path, &file);
	if (r)
		return r;
	while (i < len) {
		size_t end = i, n;
		bool cont;
		char *nl;

		while (end < len && buf[end] != '\n')
			end++;
		no++;
		n = end - i;
		if (!line_len)
			first = no;
		/* A comment runs to the end of the line; a backslash at
		 * the end (before any comment) joins the next line. */
		if (memchr(buf + i, '\0', n)) {
			problem(t, file, no, "a NUL byte: not a text line");
			i = end + 1;
			continue;
		}
		for (size_t k = 0; k < n; k++)
			if (buf[i + k] == '#') {
				n = k;
				break;
			}
		while (n &&
		       (buf[i + n - 1] == ' ' || buf[i + n - 1] == '\t' || buf[i + n - 1] == '\r'))
			n--;
		cont = n && buf[i + n - 1] == '\\';
		if (cont)
			n--;
		if (line_len + n + 2 > LINE_BYTES_MAX) {
			problem(t, file, first, "a line longer than %u bytes", LINE_BYTES_MAX);
			free(line);
			line = NULL;
			line_len = 0;
			i = end + 1;
			continue;
		}
		nl = realloc(line, line_len + n + 2);
		if (!nl) {
			free(line);
			return -ENOMEM;
		}
		line = nl;
		memcpy(line + line_len, buf + i, n);
		line_len += n;
		line[line_len++] = ' ';
		line[line_len] = '\0';
		i = end + 1;
		if (cont && i < len)
			continue;
		parse_line(t, file, first, line);
		line_len = 0;
	}
	if (line_len)
		parse_line(t, file, first, line);
	free(line);
	return t->oom ? -ENOMEM : 0;
}

int tita_topo_load(struct tita_topo *t, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	uint16_t file;
	int fd, e = 0, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EISDIR;
	else if ((uint64_t)st.st_size > FILE_BYTES_MAX)
		e = EFBIG;
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		e = ENOMEM;
	while (!e && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = errno;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	if (e) {
		free(buf);
		r = path_add(t, path, &file);
		if (r)
			return r;
		problem(t, file, 0, "%s",
			e == EISDIR ? "not a regular file" :
			e == EFBIG  ? "larger than 16 MiB" :
				      strerror(e));
		return -e;
	}
	r = tita_topo_parse(t, path, buf, got);
	free(buf);
	return r;
}

/* ---- the whole ------------------------------------------------------------------ */

uint32_t tita_topo_leaf_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	/* TITA_LEAF_ANY and TITA_LEAF_NONE are not leaves. */
	return h % TITA_LEAF_ANY;
}

/* The first good switch of that name, or -1. Linear: finish() builds no
 * index because it runs once per load, over a few thousand switches. */
static int64_t sw_find(const struct tita_topo *t, const char *name, uint32_t kinds_mask)
{
	for (uint32_t i = 0; i < t->n_sw; i++)
		if (!t->sw[i].bad && !t->sw[i].merged && (kinds_mask & (1u << t->sw[i].kind)) &&
		    !strcmp(t->sw[i].name, name))
			return i;
	return -1;
}

static bool sw_named_bad(const struct tita_topo *t, const char *name)
{
	for (uint32_t i = 0; i < t->n_sw; i++)
		if (t->sw[i].bad && !strcmp(t->sw[i].name, name))
			return true;
	return false;
}

static bool spine_add(struct tita_topo *t, struct sw *leaf, uint32_t spine)
{
	uint32_t *n = realloc(leaf->spines, (leaf->n_spines_ref + 1) * sizeof(*n));

	if (!n) {
		t->oom = true;
		return false;
	}
	leaf->spines = n;
	leaf->spines[leaf->n_spines_ref++] = spine;
	return true;
}

struct child_ctx {
	struct tita_topo *t;
	uint32_t parent;
};

static int child_of(void *ctx, const char *name)
{
	struct child_ctx *c = ctx;
	struct tita_topo *t = c->t;
	struct sw *p = &t->sw[c->parent];
	int64_t k = sw_find(t, name, 1u << SW_SLURM);

	if (k < 0) {
		if (!sw_named_bad(t, name))
			problem(t, p->file, p->line,
				"switch %s: Switches= names %s, which no line defines", p->name,
				name);
		return 0;
	}
	if (t->sw[k].members)
		spine_add(t, &t->sw[k], c->parent);
	return 0;
}

static int spine_named(void *ctx, const char *name)
{
	struct child_ctx *c = ctx;
	struct tita_topo *t = c->t;
	struct sw *leaf = &t->sw[c->parent];
	int64_t k = sw_find(t, name, 1u << SW_SPINE | 1u << SW_SLURM);

	if (k < 0 || (t->sw[k].kind == SW_SLURM && t->sw[k].members)) {
		if (!sw_named_bad(t, name))
			problem(t, leaf->file, leaf->line,
				"leaf %s: spines= names %s, which is not a spine", leaf->name,
				name);
		leaf->bad = true;
		return 0;
	}
	spine_add(t, leaf, (uint32_t)k);
	return 0;
}

static int cmp_leaf_name(const void *a, const void *b, void *t_)
{
	const struct tita_topo *t = t_;

	return strcmp(t->sw[*(const uint32_t *)a].name, t->sw[*(const uint32_t *)b].name);
}

static bool id_taken(const struct tita_topo *t, uint32_t id, uint32_t upto)
{
	for (uint32_t i = 0; i < upto; i++)
		if (t->sw[i].is_leaf && !t->sw[i].bad && t->sw[i].leaf_id == id)
			return true;
	return false;
}

/*
 * Ids: a leaf's explicit id=, else the hash of its name. Two names that
 * hash alike (one in a few thousand files of a thousand leaves) are
 * parted the same way on every host: in name order, the later one takes
 * the hash of "name#1", "name#2", ... until it is free.
 */
static void assign_ids(struct tita_topo *t)
{
	uint32_t *order, n = 0;

	for (uint32_t i = 0; i < t->n_sw; i++) {
		struct sw *s = &t->sw[i];

		if (!s->is_leaf || s->bad || !s->id_set)
			continue;
		for (uint32_t k = 0; k < i; k++)
			if (t->sw[k].is_leaf && !t->sw[k].bad && t->sw[k].id_set &&
			    t->sw[k].id == s->id) {
				problem(t, s->file, s->line, "leaf %s: id %u is leaf %s's (%s:%d)",
					s->name, s->id, t->sw[k].name, t->paths[t->sw[k].file],
					t->sw[k].line);
				s->bad = true;
				break;
			}
		s->leaf_id = s->id;
	}
	order = malloc((t->n_sw + 1) * sizeof(*order));
	if (!order) {
		t->oom = true;
		return;
	}
	for (uint32_t i = 0; i < t->n_sw; i++)
		if (t->sw[i].is_leaf && !t->sw[i].bad && !t->sw[i].id_set)
			order[n++] = i;
	qsort_r(order, n, sizeof(*order), cmp_leaf_name, t);
	/* Mark them unassigned, then assign in name order. */
	for (uint32_t k = 0; k < n; k++)
		t->sw[order[k]].is_leaf = false;
	for (uint32_t k = 0; k < n; k++) {
		struct sw *s = &t->sw[order[k]];
		uint32_t id = tita_topo_leaf_hash(s->name);

		for (uint32_t salt = 1; id_taken(t, id, t->n_sw); salt++) {
			char buf[TITA_TOPO_NAME_MAX + 16];

			snprintf(buf, sizeof(buf), "%s#%u", s->name, salt);
			id = tita_topo_leaf_hash(buf);
		}
		s->leaf_id = id;
		s->is_leaf = true;
	}
	free(order);
}

/* Every leaf must number the spines alike: spine s of one leaf is spine s
 * of every other, or a far leaf would count a pair on the wrong downlink. */
static void check_spine_order(struct tita_topo *t)
{
	for (uint32_t i = 0; i < t->n_sw; i++) {
		struct sw *a = &t->sw[i];

		if (!a->is_leaf || a->bad)
			continue;
		for (uint32_t j = 0; j < i; j++) {
			struct sw *b = &t->sw[j];
			bool clash = false;

			if (!b->is_leaf || b->bad)
				continue;
			for (uint32_t x = 0; x < a->n_spines_ref && !clash; x++)
				for (uint32_t y = 0; y < b->n_spines_ref && !clash; y++)
					if (a->spines[x] == b->spines[y] && x != y) {
						problem(t, a->file, a->line,
							"leaf %s: spine %s is its uplink %u but uplink "
							"%u of leaf %s (%s:%d): every leaf lists the "
							"spines in one order",
							a->name, t->sw[a->spines[x]].name, x, y,
							b->name, t->paths[b->file], b->line);
						clash = true;
					}
			if (clash) {
				a->bad = true;
				break;
			}
		}
	}
}

void tita_topo_finish(struct tita_topo *t)
{
	if (t->finished)
		return;
	t->finished = true;
	/* One name, one switch; a tita spine line may give a Slurm switch
	 * above the leaves its addresses. */
	for (uint32_t i = 0; i < t->n_sw; i++) {
		struct sw *s = &t->sw[i];

		if (s->bad || s->merged)
			continue;
		for (uint32_t k = 0; k < i; k++) {
			struct sw *o = &t->sw[k];
			struct sw *slurm = NULL, *spine = NULL;

			if (o->bad || o->merged || strcmp(o->name, s->name))
				continue;
			if (o->kind == SW_SLURM && o->children && s->kind == SW_SPINE)
				slurm = o, spine = s;
			else if (s->kind == SW_SLURM && s->children && o->kind == SW_SPINE)
				slurm = s, spine = o;
			if (slurm && !slurm->prefixes) {
				slurm->prefixes = spine->prefixes;
				slurm->n_prefixes = spine->n_prefixes;
				spine->prefixes = NULL;
				spine->n_prefixes = 0;
				spine->merged = true;
				break;
			}
			problem(t, s->file, s->line, "%s is defined again (first at %s:%d)",
				s->name, t->paths[o->file], o->line);
			s->bad = true;
			break;
		}
	}
	for (uint32_t i = 0; i < t->n_sw; i++) {
		struct sw *s = &t->sw[i];

		s->is_leaf = !s->bad && s->members && s->kind != SW_SPINE;
	}
	/* Slurm: a leaf's spines are the switches that list it, in file order. */
	for (uint32_t i = 0; i < t->n_sw; i++) {
		struct sw *s = &t->sw[i];
		struct child_ctx c = { t, i };
		char err[200];

		if (s->bad || s->kind != SW_SLURM || !s->children)
			continue;
		tita_hostlist_expand(s->children, TITA_HOSTLIST_MAX, child_of, &c, err,
				     sizeof(err));
	}
	/* tita: spines= names them; without it, every spine line. */
	for (uint32_t i = 0; i < t->n_sw; i++) {
		struct sw *s = &t->sw[i];
		struct child_ctx c = { t, i };
		char err[200];

		if (s->bad || s->kind != SW_LEAF)
			continue;
		if (s->spine_names) {
			tita_hostlist_expand(s->spine_names, TITA_SPINES_MAX + 1, spine_named, &c,
					     err, sizeof(err));
		} else {
			for (uint32_t k = 0; k < t->n_sw; k++)
				if (!t->sw[k].bad && !t->sw[k].merged && t->sw[k].kind == SW_SPINE)
					spine_add(t, s, k);
		}
		if (s->n_spines_ref > TITA_SPINES_MAX) {
			problem(t, s->file, s->line, "leaf %s: more than %u spines", s->name,
				TITA_SPINES_MAX);
			s->bad = true;
		}
	}
	for (uint32_t i = 0; i < t->n_sw; i++)
		if (t->sw[i].bad)
			t->sw[i].is_leaf = false;
	assign_ids(t);
	check_spine_order(t);
	/* The place: the leaf's line, else [fabric], else what the file
	 * implies (how many spines it relates, LinkSpeed in its unit). */
	for (uint32_t i = 0; i < t->n_sw; i++) {
		struct sw *s = &t->sw[i];
		bool addressed = s->n_spines_ref > 0;

		if (!s->is_leaf || s->bad)
			continue;
		s->place.leaf = s->leaf_id;
		s->place.n_spines = s->spines_count ? s->spines_count :
				    s->spine_names  ? s->n_spines_ref :
				    t->fc.spines    ? t->fc.spines :
						      s->n_spines_ref;
		s->place.spine_bps = s->spine_bps ? s->spine_bps : t->fc.spine_rate_bps;
		if (!s->place.spine_bps && s->has_link_speed && t->fc.link_speed_unit_bps) {
			uint64_t bps = s->link_speed * t->fc.link_speed_unit_bps;

			if (bps / t->fc.link_speed_unit_bps != s->link_speed ||
			    bps > TITA_RATE_MAX_BPS)
				problem(t, s->file, s->line,
					"switch %s: LinkSpeed=%llu x link-speed-unit is above %llu "
					"bit/s",
					s->name, (unsigned long long)s->link_speed,
					(unsigned long long)TITA_RATE_MAX_BPS);
			else
				s->place.spine_bps = bps;
		}
		if (s->place.spine_bps > TITA_RATE_MAX_BPS) {
			problem(t, s->file, s->line, "leaf %s: spine-rate above %llu bit/s",
				s->name, (unsigned long long)TITA_RATE_MAX_BPS);
			s->place.spine_bps = 0;
		}
		for (uint32_t k = 0; k < s->n_spines_ref; k++)
			addressed = addressed && t->sw[s->spines[k]].n_prefixes > 0;
		s->spines_addressed = addressed && s->n_spines_ref == s->place.n_spines;
	}
}

size_t tita_topo_n_leaves(const struct tita_topo *t)
{
	size_t n = 0;

	for (uint32_t i = 0; i < t->n_sw; i++)
		n += t->sw[i].is_leaf && !t->sw[i].bad;
	return n;
}

/* ---- lookups -------------------------------------------------------------------- */

static void leaf_out(const struct tita_topo *t, const struct sw *s, struct tita_topo_leaf *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", s->name);
	snprintf(ret->lldp_name, sizeof(ret->lldp_name), "%s", s->lldp[0] ? s->lldp : s->name);
	ret->place = s->place;
	ret->spines_addressed = s->spines_addressed;
	ret->path = t->paths[s->file];
	ret->line = s->line;
}

struct find_ctx {
	const struct tita_addr *nic;
	const char *host, *short_host;
	size_t short_len;
	bool by_addr, by_name;
};

static int find_member(void *ctx, const char *name)
{
	struct find_ctx *c = ctx;
	struct tita_addr a;

	if (tita_parse_addr(name, &a) == 0) {
		if (c->nic && tita_addr_eq(&a, c->nic))
			c->by_addr = true;
		return 0;
	}
	if (c->host &&
	    (!strcasecmp(name, c->host) || (c->short_len && strlen(name) == c->short_len &&
					    !strncasecmp(name, c->short_host, c->short_len))))
		c->by_name = true;
	return 0;
}

int tita_topo_leaf_of(const struct tita_topo *t, const struct tita_addr *nic, const char *hostname,
		      struct tita_topo_leaf *ret_leaf, char *err, size_t err_size)
{
	const char *host = t->fc.hostname[0] ? t->fc.hostname : hostname;
	struct find_ctx c = { .nic = nic, .host = host && *host ? host : NULL };
	int64_t addr_at = -1, name_at = -1, addr_two = -1, name_two = -1;
	const struct sw *pick;

	if (c.host) {
		const char *dot = strchr(c.host, '.');

		/* "gpu01.cluster.example" is gpu01 in Slurm's NodeName. */
		c.short_host = c.host;
		c.short_len = dot ? (size_t)(dot - c.host) : 0;
	}
	for (uint32_t i = 0; i < t->n_sw; i++) {
		const struct sw *s = &t->sw[i];
		char e[200];

		if (!s->is_leaf || s->bad)
			continue;
		c.by_addr = c.by_name = false;
		tita_hostlist_expand(s->members, TITA_HOSTLIST_MAX, find_member, &c, e, sizeof(e));
		if (c.by_addr) {
			if (addr_at < 0)
				addr_at = i;
			else if (addr_two < 0)
				addr_two = i;
		}
		if (c.by_name) {
			if (name_at < 0)
				name_at = i;
			else if (name_two < 0)
				name_two = i;
		}
	}
	if (addr_at >= 0 && addr_two < 0) {
		pick = &t->sw[addr_at];
	} else if (addr_at < 0 && name_at >= 0 && name_two < 0) {
		pick = &t->sw[name_at];
	} else if (addr_at < 0 && name_at < 0) {
		snprintf(err, err_size, "no leaf names this NIC's address or the host %s",
			 c.host ? c.host : "(no name)");
		return -ENOENT;
	} else {
		const struct sw *a = &t->sw[addr_at >= 0 ? addr_at : name_at];
		const struct sw *b = &t->sw[addr_at >= 0 ? addr_two : name_two];

		snprintf(err, err_size, "%s is a member of leaf %s (%s:%d) and of leaf %s (%s:%d)",
			 addr_at >= 0 ? "this NIC's address" : c.host, a->name, t->paths[a->file],
			 a->line, b->name, t->paths[b->file], b->line);
		return -EEXIST;
	}
	leaf_out(t, pick, ret_leaf);
	return 0;
}

const char *tita_topo_place_error(const struct tita_topo_leaf *leaf, char *buf, size_t size)
{
	if (!leaf->place.n_spines)
		snprintf(buf, size,
			 "leaf %s (%s:%d): how many uplinks? spines= on its line (tita), "
			 "Switches= lines above it (Slurm), or [fabric] spines",
			 leaf->name, leaf->path, leaf->line);
	else if (leaf->place.n_spines > TITA_SPINES_MAX)
		snprintf(buf, size, "leaf %s (%s:%d): %u uplinks, at most %u are steered",
			 leaf->name, leaf->path, leaf->line, leaf->place.n_spines, TITA_SPINES_MAX);
	else if (!leaf->place.spine_bps)
		snprintf(buf, size,
			 "leaf %s (%s:%d): what capacity has each uplink? spine-rate= on its "
			 "line (tita), [fabric] spine-rate, or LinkSpeed= with [fabric] "
			 "link-speed-unit (Slurm)",
			 leaf->name, leaf->path, leaf->line);
	else
		return NULL;
	return buf;
}

int tita_topo_leaf_at(const struct tita_topo *t, size_t i, struct tita_topo_leaf *ret_leaf)
{
	for (uint32_t k = 0; k < t->n_sw; k++) {
		const struct sw *s = &t->sw[k];

		if (!s->is_leaf || s->bad || i--)
			continue;
		leaf_out(t, s, ret_leaf);
		return 0;
	}
	return -ENOENT;
}

static const struct sw *leaf_named(const struct tita_topo *t, const char *name)
{
	for (uint32_t i = 0; i < t->n_sw; i++)
		if (t->sw[i].is_leaf && !t->sw[i].bad && !strcmp(t->sw[i].name, name))
			return &t->sw[i];
	return NULL;
}

struct members_ctx {
	tita_topo_member_fn fn;
	void *ctx;
};

static int member_out(void *ctx, const char *name)
{
	struct members_ctx *c = ctx;
	struct tita_addr a;

	if (tita_parse_addr(name, &a) == 0)
		return c->fn(c->ctx, NULL, &a);
	return c->fn(c->ctx, name, NULL);
}

int tita_topo_members(const struct tita_topo *t, const char *leaf_name, tita_topo_member_fn fn,
		      void *ctx)
{
	const struct sw *s = leaf_named(t, leaf_name);
	struct members_ctx c = { fn, ctx };
	char err[200];

	if (!s)
		return -ENOENT;
	return tita_hostlist_expand(s->members, TITA_HOSTLIST_MAX, member_out, &c, err,
				    sizeof(err));
}

int tita_topo_spine_of(const struct tita_topo *t, const char *leaf_name,
		       const struct tita_addr *offender, uint16_t *ret_spine)
{
	const struct sw *s = leaf_named(t, leaf_name);
	int best = -1, best_len = -1;

	if (!s)
		return -ENOENT;
	if (!s->spines_addressed)
		return -ENODATA;
	/* The longest prefix wins: a spine may be given its link subnet and
	 * another's loopback inside it. */
	for (uint32_t k = 0; k < s->n_spines_ref; k++) {
		const struct sw *sp = &t->sw[s->spines[k]];

		for (uint32_t p = 0; p < sp->n_prefixes; p++)
			if (tita_prefix_match(&sp->prefixes[p], offender) &&
			    sp->prefixes[p].len > best_len) {
				best = (int)k;
				best_len = sp->prefixes[p].len;
			}
	}
	if (best < 0)
		return -ENOENT;
	*ret_spine = (uint16_t)best;
	return 0;
}
