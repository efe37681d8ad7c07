// SPDX-License-Identifier: MIT
/*
 * Prometheus text exposition format 0.0.4 (see tita/promtext.h). The
 * grammar, line by line:
 *
 *   blank:   [ \t]*
 *   comment: [ \t]* '#' ... ; '# HELP name text' and '# TYPE name type'
 *            are read, any other comment is ignored
 *   sample:  [ \t]* name [ '{' [ label '=' '"' value '"' { ',' ... } [','] ] '}' ]
 *            [ \t]+ value [ [ \t]+ timestamp ] [ \t]*
 *
 * Label values escape \\, \" and \n (any other escape is an error, as in
 * Prometheus's parser); HELP text escapes \\ and \n. Names are ASCII;
 * label values must be UTF-8. A missing newline at the very end is
 * accepted. A carriage return is an error: CRLF line ends are not the
 * format, and reading them as blanks would hide a converted file.
 *
 * Memory: every string the document keeps is a copy of at most as many
 * bytes as it took in the input, plus its NUL, and each is followed in the
 * input by at least one byte it does not use (a quote, '=', a blank or a
 * newline): an arena of 2 * len + 2 bytes holds them all, so pointers into
 * it never move. Labels grow in their own array and samples point into it
 * only once parsing is over.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tita/promtext.h"

void tita_prom_limits_default(struct tita_prom_limits *lim)
{
	lim->max_samples = 4u << 20;
	lim->max_labels = 32;
	lim->max_name_len = 256;
	lim->max_value_len = 1024;
	lim->max_line_len = 65536;
	lim->max_errors = 64;
}

const char *tita_prom_type_name(enum tita_prom_type t)
{
	static const char *const names[] = { "untyped", "counter", "gauge", "histogram",
					     "summary" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

const char *tita_prom_label(const struct tita_prom_sample *s, const char *name)
{
	for (uint32_t i = 0; i < s->n_labels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

/* ---- numbers ---------------------------------------------------------------------- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool word_is(const char *s, size_t len, const char *w)
{
	if (strlen(w) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (lower((unsigned char)s[i]) != w[i])
			return false;
	return true;
}

int tita_prom_parse_double(const char *s, size_t len, double *out)
{
	/* Powers of ten a double holds exactly: m * or / one of them, with m
	 * below 2^53, rounds once, as a correct parser does. */
	static const double exact[] = { 1e0,  1e1,  1e2,  1e3,	1e4,  1e5,  1e6,  1e7,
					1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
					1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	bool neg = false, digits = false;
	uint64_t mant = 0;
	int mant_digits = 0;
	long exp10 = 0;
	size_t i = 0;
	double v;

	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (word_is(s + i, len - i, "inf") || word_is(s + i, len - i, "infinity")) {
		*out = neg ? -INFINITY : INFINITY;
		return 0;
	}
	if (word_is(s + i, len - i, "nan")) {
		*out = NAN;
		return 0;
	}
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		digits = true;
		if (mant_digits < 19) {
			mant = mant * 10 + (uint64_t)(s[i] - '0');
			if (mant)
				mant_digits++;
		} else {
			exp10++;
		}
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			digits = true;
			if (mant_digits < 19) {
				mant = mant * 10 + (uint64_t)(s[i] - '0');
				if (mant)
					mant_digits++;
				exp10--;
			}
		}
	}
	if (!digits)
		return -1;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = false, edigits = false;
		long e = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-')) {
			eneg = s[i] == '-';
			i++;
		}
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			edigits = true;
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
		}
		if (!edigits)
			return -1;
		exp10 += eneg ? -e : e;
	}
	if (i != len)
		return -1;
	if (mant == 0) {
		v = 0;
	} else if (mant < (1ull << 53) && exp10 >= 0 && exp10 <= 22) {
		v = (double)mant * exact[exp10];
	} else if (mant < (1ull << 53) && exp10 < 0 && exp10 >= -22) {
		v = (double)mant / exact[-exp10];
	} else if (exp10 < -300) {
		/* In two steps, so the power itself does not underflow first. */
		v = (double)mant * pow(10, (double)(exp10 + 300)) * 1e-300;
	} else {
		v = (double)mant * pow(10, (double)exp10);
	}
	if (isinf(v))
		return -1;
	*out = neg ? -v : v;
	return 0;
}

static int parse_int64(const char *s, size_t len, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, limit;
	size_t i = 0;

	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == len)
		return -1;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (limit - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return 0;
}

/* ---- the parser's state --------------------------------------------------------- */

struct parser {
	const struct tita_prom_limits *lim;
	struct tita_prom_doc *doc;
	char *arena_end; /* next free byte */
	uint32_t cap_samples, cap_labels, cap_families, n_labels;
	/* The reason of the line being parsed, when it fails. */
	char reason[96];
};

static void reason_add(char *r, const char *text)
{
	size_t have = strlen(r), add = strlen(text);

	if (have + add >= 96)
		add = 95 - have;
	memcpy(r + have, text, add);
	r[have + add] = '\0';
}

static void reason_add_u32(char *r, uint32_t v)
{
	char digits[12];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (char tmp[2] = { 0, 0 }; n > 0;) {
		tmp[0] = digits[--n];
		reason_add(r, tmp);
	}
}

/* Sets the line's reason (when none is set yet) and fails. */
static int fail(struct parser *p, const char *text)
{
	if (!p->reason[0])
		reason_add(p->reason, text);
	return -1;
}

static int fail_limit(struct parser *p, const char *text, uint32_t limit)
{
	if (!p->reason[0]) {
		reason_add(p->reason, text);
		reason_add(p->reason, " (limit ");
		reason_add_u32(p->reason, limit);
		reason_add(p->reason, ")");
	}
	return -1;
}

static void add_error(struct parser *p, uint32_t line)
{
	struct tita_prom_doc *d = p->doc;

	d->n_errors++;
	if (d->n_errors_kept < p->lim->max_errors) {
		struct tita_prom_error *e = &d->errors[d->n_errors_kept++];

		e->line = line;
		memcpy(e->reason, p->reason, sizeof(e->reason));
	}
}

static char *arena_put(struct parser *p, const char *s, size_t len)
{
	char *dst = p->arena_end;

	memcpy(dst, s, len);
	dst[len] = '\0';
	p->arena_end += len + 1;
	return dst;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_start(char c, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool is_name_char(char c, bool colon)
{
	return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

static size_t skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && is_blank(s[i]))
		i++;
	return i;
}

/* A name at s[i]: its length, or fails. colon: a metric name (may hold ':'). */
static int scan_name(struct parser *p, const char *s, size_t len, size_t i, bool colon,
		     size_t *name_len, const char *what)
{
	size_t j = i;

	if (j >= len || !is_name_start(s[j], colon)) {
		if (!p->reason[0]) {
			reason_add(p->reason, "expected ");
			reason_add(p->reason, what);
		}
		return -1;
	}
	while (j < len && is_name_char(s[j], colon))
		j++;
	if (j - i > p->lim->max_name_len)
		return fail_limit(p, "name too long", p->lim->max_name_len);
	*name_len = j - i;
	return 0;
}

/* Length of a valid UTF-8 sequence at s[i], 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t len, size_t i)
{
	unsigned char c = s[i];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (i + n > len)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i + k] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A quoted label value starting after the opening quote at s[i]; on
 * success *end is just past the closing quote and the value is in the
 * arena.
 */
static int scan_label_value(struct parser *p, const char *s, size_t len, size_t i, size_t *end,
			    const char **value)
{
	char *dst = p->arena_end, *start = dst;

	while (i < len && s[i] != '"') {
		size_t n;

		if (s[i] == '\\') {
			if (i + 1 >= len)
				return fail(p, "label value ends in a backslash");
			switch (s[i + 1]) {
			case '\\':
				*dst++ = '\\';
				break;
			case '"':
				*dst++ = '"';
				break;
			case 'n':
				*dst++ = '\n';
				break;
			default:
				return fail(p,
					    "invalid escape in label value (only \\\\ \\\" \\n)");
			}
			i += 2;
		} else {
			n = utf8_len((const unsigned char *)s, len, i);
			if (!n)
				return fail(p, "label value is not UTF-8");
			memcpy(dst, s + i, n);
			dst += n;
			i += n;
		}
		if ((size_t)(dst - start) > p->lim->max_value_len)
			return fail_limit(p, "label value too long", p->lim->max_value_len);
	}
	if (i >= len)
		return fail(p, "label value without its closing quote");
	*dst++ = '\0';
	p->arena_end = dst;
	*value = start;
	*end = i + 1;
	return 0;
}

static int grow(void **array, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t n;
	void *a;

	if (need <= *cap)
		return 0;
	n = *cap ? *cap : 16;
	while (n < need)
		n = n > UINT32_MAX / 2 ? UINT32_MAX : n * 2;
	a = realloc(*array, (size_t)n * elem);
	if (!a)
		return -ENOMEM;
	*array = a;
	*cap = n;
	return 0;
}

/* ---- lines ------------------------------------------------------------------------ */

static struct tita_prom_family *family_find(struct tita_prom_doc *d, const char *name, size_t len)
{
	for (uint32_t i = 0; i < d->n_families; i++)
		if (!strncmp(d->families[i].name, name, len) && d->families[i].name[len] == '\0')
			return &d->families[i];
	return NULL;
}

/* '# HELP name text' or '# TYPE name type'; s[i] is just past "HELP"/"TYPE". */
static int parse_meta(struct parser *p, const char *s, size_t len, size_t i, bool help)
{
	struct tita_prom_doc *d = p->doc;
	struct tita_prom_family *f;
	size_t name_len, name_at;

	i = skip_blanks(s, len, i);
	name_at = i;
	if (scan_name(p, s, len, i, true, &name_len, "a metric name"))
		return -1;
	i += name_len;
	if (i < len && !is_blank(s[i]))
		return fail(p, "metric name followed by an invalid character");
	f = family_find(d, s + name_at, name_len);
	if (f && (help ? f->help != NULL : f->has_type))
		return fail(p, help ? "second HELP line for a metric" :
				      "second TYPE line for a metric");
	if (!help) {
		static const char *const types[] = { "untyped", "counter", "gauge", "histogram",
						     "summary" };
		size_t t0 = skip_blanks(s, len, i), t1 = t0;
		int type = -1;

		while (t1 < len && !is_blank(s[t1]))
			t1++;
		for (int k = 0; k < 5; k++)
			if (t1 - t0 == strlen(types[k]) && !memcmp(s + t0, types[k], t1 - t0))
				type = k;
		if (type < 0)
			return fail(p,
				    "unknown TYPE (counter, gauge, histogram, summary, untyped)");
		if (skip_blanks(s, len, t1) != len)
			return fail(p, "text after the TYPE");
		if (!f && d->n_families >= p->lim->max_samples)
			return fail_limit(p, "metric family limit reached", p->lim->max_samples);
		if (!f) {
			if (grow((void **)&d->families, &p->cap_families, d->n_families + 1,
				 sizeof(*d->families)))
				return fail(p, "out of memory");
			f = &d->families[d->n_families++];
			f->name = arena_put(p, s + name_at, name_len);
			f->help = NULL;
		}
		f->type = (enum tita_prom_type)type;
		/* An explicit "untyped" is the default type: a later TYPE is still a second one. */
		f->has_type = true;
		return 0;
	}
	/* HELP: the rest of the line, one blank after the name dropped. */
	{
		char *dst, *start;

		if (i < len)
			i++;
		if (!f && d->n_families >= p->lim->max_samples)
			return fail_limit(p, "metric family limit reached", p->lim->max_samples);
		start = dst = p->arena_end;
		for (; i < len; i++) {
			if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '\\' || s[i + 1] == 'n')) {
				*dst++ = s[i + 1] == 'n' ? '\n' : '\\';
				i++;
			} else if (s[i] == '\\' && i + 1 < len) {
				/* The format's HELP keeps other backslashes as they are. */
				*dst++ = s[i];
			} else {
				*dst++ = s[i];
			}
		}
		*dst++ = '\0';
		p->arena_end = dst;
		if (!f) {
			if (grow((void **)&d->families, &p->cap_families, d->n_families + 1,
				 sizeof(*d->families)))
				return fail(p, "out of memory");
			f = &d->families[d->n_families++];
			f->name = arena_put(p, s + name_at, name_len);
			f->type = TITA_PROM_UNTYPED;
			f->has_type = false;
		}
		f->help = start;
	}
	return 0;
}

static int parse_sample(struct parser *p, const char *s, size_t len, size_t i, uint32_t line)
{
	struct tita_prom_doc *d = p->doc;
	struct tita_prom_sample *smp;
	uint32_t first_label = p->n_labels, n = 0;
	size_t name_len, v0, v1;
	const char *name;
	double value;

	if (scan_name(p, s, len, i, true, &name_len, "a metric name"))
		return -1;
	name = arena_put(p, s + i, name_len);
	i += name_len;
	if (i < len && !is_blank(s[i]) && s[i] != '{')
		return fail(p, "metric name followed by an invalid character");
	/* Blanks may stand between the name and its labels (as in expfmt). */
	if (skip_blanks(s, len, i) < len && s[skip_blanks(s, len, i)] == '{')
		i = skip_blanks(s, len, i);
	if (i < len && s[i] == '{') {
		i++;
		for (;;) {
			struct tita_prom_label *l;
			size_t ln_len, ln_at;

			i = skip_blanks(s, len, i);
			if (i < len && s[i] == '}') {
				i++;
				break;
			}
			ln_at = i;
			if (scan_name(p, s, len, i, false, &ln_len, "a label name or '}'"))
				return -1;
			i = skip_blanks(s, len, i + ln_len);
			if (i >= len || s[i] != '=')
				return fail(p, "expected '=' after a label name");
			i = skip_blanks(s, len, i + 1);
			if (i >= len || s[i] != '"')
				return fail(p, "expected '\"' to open a label value");
			if (n >= p->lim->max_labels)
				return fail_limit(p, "too many labels", p->lim->max_labels);
			for (uint32_t k = first_label; k < p->n_labels; k++)
				if (!strncmp(d->label_store[k].name, s + ln_at, ln_len) &&
				    d->label_store[k].name[ln_len] == '\0')
					return fail(p, "a label given twice");
			if (grow((void **)&d->label_store, &p->cap_labels, p->n_labels + 1,
				 sizeof(*d->label_store)))
				return fail(p, "out of memory");
			l = &d->label_store[p->n_labels];
			l->name = arena_put(p, s + ln_at, ln_len);
			if (scan_label_value(p, s, len, i + 1, &i, &l->value))
				return -1;
			p->n_labels++;
			n++;
			i = skip_blanks(s, len, i);
			if (i < len && s[i] == ',') {
				i++;
				continue;
			}
			if (i < len && s[i] == '}') {
				i++;
				break;
			}
			return fail(p, "expected ',' or '}' after a label value");
		}
	}
	v0 = skip_blanks(s, len, i);
	for (v1 = v0; v1 < len && !is_blank(s[v1]); v1++)
		;
	if (v0 == v1)
		return fail(p, "sample without a value");
	if (tita_prom_parse_double(s + v0, v1 - v0, &value))
		return fail(p, "value is not a number (or is out of range)");
	if (d->n_samples >= p->lim->max_samples)
		return fail_limit(p, "sample limit reached", p->lim->max_samples);
	if (grow((void **)&d->samples, &p->cap_samples, d->n_samples + 1, sizeof(*d->samples)))
		return fail(p, "out of memory");
	smp = &d->samples[d->n_samples];
	memset(smp, 0, sizeof(*smp));
	smp->name = name;
	smp->n_labels = n;
	/* An index until the labels stop moving (tita_prom_parse's end). */
	smp->labels = (const struct tita_prom_label *)(uintptr_t)first_label;
	smp->line = line;
	smp->value = value;
	v0 = skip_blanks(s, len, v1);
	if (v0 < len) {
		for (v1 = v0; v1 < len && !is_blank(s[v1]); v1++)
			;
		if (parse_int64(s + v0, v1 - v0, &smp->timestamp_ms))
			return fail(p, "timestamp is not an integer of milliseconds");
		smp->has_timestamp = true;
		if (skip_blanks(s, len, v1) != len)
			return fail(p, "text after the timestamp");
	}
	d->n_samples++;
	return 0;
}

static int parse_line(struct parser *p, const char *s, size_t len, uint32_t line)
{
	struct tita_prom_doc *d = p->doc;
	size_t i;

	if (len > p->lim->max_line_len)
		return fail_limit(p, "line too long", p->lim->max_line_len);
	if (memchr(s, '\0', len))
		return fail(p, "NUL byte in the line");
	if (memchr(s, '\r', len))
		return fail(p, "carriage return in the line (CRLF line ends?)");
	i = skip_blanks(s, len, 0);
	if (i == len) {
		d->n_blank_lines++;
		return 0;
	}
	if (s[i] == '#') {
		size_t j = skip_blanks(s, len, i + 1);

		if (j > i + 1 && len - j >= 4 &&
		    (!memcmp(s + j, "HELP", 4) || !memcmp(s + j, "TYPE", 4)) &&
		    (j + 4 == len || is_blank(s[j + 4]))) {
			if (parse_meta(p, s, len, j + 4, s[j] == 'H'))
				return -1;
		}
		d->n_comment_lines++;
		return 0;
	}
	if (parse_sample(p, s, len, i, line))
		return -1;
	d->n_sample_lines++;
	return 0;
}

int tita_prom_parse(const char *buf, size_t len, const struct tita_prom_limits *lim,
		    struct tita_prom_doc *doc)
{
	struct parser p = { .lim = lim, .doc = doc };
	size_t at = 0;

	memset(doc, 0, sizeof(*doc));
	if (!lim->max_samples || !lim->max_labels || !lim->max_name_len || !lim->max_line_len)
		return -EINVAL;
	if (len > SIZE_MAX / 2 - 2)
		return -ENOMEM;
	doc->arena = malloc(2 * len + 2);
	doc->errors = lim->max_errors ? calloc(lim->max_errors, sizeof(*doc->errors)) : NULL;
	if (!doc->arena || (lim->max_errors && !doc->errors)) {
		tita_prom_doc_free(doc);
		return -ENOMEM;
	}
	p.arena_end = doc->arena;
	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t line_len = nl ? (size_t)(nl - (buf + at)) : len - at;
		char *arena_mark = p.arena_end;
		uint32_t labels_mark = p.n_labels;

		doc->n_lines++;
		p.reason[0] = '\0';
		if (parse_line(&p, buf + at, line_len, doc->n_lines)) {
			/* What the bad line put in the arena or the labels is dropped. */
			p.arena_end = arena_mark;
			p.n_labels = labels_mark;
			add_error(&p, doc->n_lines);
		}
		at += line_len + (nl ? 1 : 0);
	}
	/* Samples without labels may leave the store unallocated: they keep
	 * a pointer to nothing, never read (n_labels 0). */
	for (uint32_t k = 0; k < doc->n_samples; k++)
		doc->samples[k].labels =
			doc->label_store ? doc->label_store + (uintptr_t)doc->samples[k].labels :
					   NULL;
	return (int)(doc->n_errors > INT32_MAX ? INT32_MAX : doc->n_errors);
}

void tita_prom_doc_free(struct tita_prom_doc *doc)
{
	free(doc->samples);
	free(doc->families);
	free(doc->errors);
	free(doc->label_store);
	free(doc->arena);
	memset(doc, 0, sizeof(*doc));
}
