// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the Prometheus text parser (lib/promtext.c), which
 * reads what titactl diagnose fetches from Prometheus, from titads and
 * from files. Besides memory safety (under the sanitizers), it checks the
 * parser's contract and aborts on any breach:
 *
 *  - nothing lost silently: samples, comments, blanks and errors add up to
 *    the lines; errors kept are at most max_errors, each with a line and a
 *    reason; the limits hold;
 *  - what it keeps is well formed: names of the allowed characters, label
 *    values without NUL, no label twice in a sample;
 *  - a round trip: the samples written back as text (escaped, values with
 *    17 digits) parse without error to the same samples (numbers of more
 *    than 15 digits within an ulp or two).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tita/promtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct tita_prom_limits lim = {
	.max_samples = 64,
	.max_labels = 8,
	.max_name_len = 48,
	.max_value_len = 64,
	.max_line_len = 512,
	.max_errors = 4,
};

static void check_name(const char *s, bool colon)
{
	if (!s[0])
		abort();
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			abort();
	}
	if (strlen(s) > lim.max_name_len)
		abort();
}

/* The text written back has the same samples but may be longer (17 digits
 * for "0.1"): the same limits, but for the line's length. */
static const struct tita_prom_limits lim_again = {
	.max_samples = 64,
	.max_labels = 8,
	.max_name_len = 48,
	.max_value_len = 64,
	.max_line_len = 8192,
	.max_errors = 4,
};

static void check_doc(const struct tita_prom_doc *d, int rc)
{
	if (rc < 0 || (uint32_t)rc != d->n_errors)
		abort();
	if (d->n_sample_lines + d->n_comment_lines + d->n_blank_lines + d->n_errors != d->n_lines)
		abort();
	if (d->n_sample_lines != d->n_samples || d->n_samples > lim.max_samples)
		abort();
	if (d->n_errors_kept > lim.max_errors || d->n_errors_kept > d->n_errors)
		abort();
	for (uint32_t i = 0; i < d->n_errors_kept; i++)
		if (!d->errors[i].line || d->errors[i].line > d->n_lines ||
		    !d->errors[i].reason[0] ||
		    !memchr(d->errors[i].reason, '\0', sizeof(d->errors[i].reason)))
			abort();
	for (uint32_t k = 0; k < d->n_samples; k++) {
		const struct tita_prom_sample *s = &d->samples[k];

		check_name(s->name, true);
		if (s->n_labels > lim.max_labels || !s->line || s->line > d->n_lines)
			abort();
		for (uint32_t a = 0; a < s->n_labels; a++) {
			check_name(s->labels[a].name, false);
			if (strlen(s->labels[a].value) > lim.max_value_len)
				abort();
			for (uint32_t b = 0; b < a; b++)
				if (!strcmp(s->labels[a].name, s->labels[b].name))
					abort();
		}
	}
	for (uint32_t f = 0; f < d->n_families; f++)
		check_name(d->families[f].name, true);
}

/* The samples as text again. */
static char *render(const struct tita_prom_doc *d, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	for (uint32_t k = 0; k < d->n_samples; k++) {
		const struct tita_prom_sample *s = &d->samples[k];

		fputs(s->name, f);
		if (s->n_labels) {
			fputc('{', f);
			for (uint32_t a = 0; a < s->n_labels; a++) {
				fprintf(f, "%s%s=\"", a ? "," : "", s->labels[a].name);
				for (const char *v = s->labels[a].value; *v; v++) {
					if (*v == '\\' || *v == '"')
						fputc('\\', f);
					if (*v == '\n')
						fputs("\\n", f);
					else
						fputc(*v, f);
				}
				fputc('"', f);
			}
			fputc('}', f);
		}
		if (isnan(s->value))
			fputs(" NaN", f);
		else if (isinf(s->value))
			fputs(s->value > 0 ? " +Inf" : " -Inf", f);
		else
			fprintf(f, " %.17g", s->value);
		if (s->has_timestamp)
			fprintf(f, " %lld", (long long)s->timestamp_ms);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

/* The parser rounds a number of more than 15 digits to within about one
 * ulp (a multiplication by a power of ten), not always to the nearest. */
static bool same_value(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= 4e-16 * fabs(a) ||
	       fabs(a - b) < 1e-300;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tita_prom_doc d, again;
	size_t len;
	char *text;
	int rc;

	rc = tita_prom_parse((const char *)data, size, &lim, &d);
	check_doc(&d, rc);

	text = render(&d, &len);
	rc = tita_prom_parse(text, len, &lim_again, &again);
	check_doc(&again, rc);
	if (rc != 0 || again.n_samples != d.n_samples)
		abort();
	for (uint32_t k = 0; k < d.n_samples; k++) {
		const struct tita_prom_sample *a = &d.samples[k], *b = &again.samples[k];

		if (strcmp(a->name, b->name) || a->n_labels != b->n_labels ||
		    !same_value(a->value, b->value) || a->has_timestamp != b->has_timestamp ||
		    (a->has_timestamp && a->timestamp_ms != b->timestamp_ms))
			abort();
		for (uint32_t l = 0; l < a->n_labels; l++)
			if (strcmp(a->labels[l].name, b->labels[l].name) ||
			    strcmp(a->labels[l].value, b->labels[l].value))
				abort();
	}
	tita_prom_doc_free(&again);
	tita_prom_doc_free(&d);
	free(text);
	return 0;
}
