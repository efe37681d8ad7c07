/* SPDX-License-Identifier: MIT */
/*
 * A parser of Prometheus's text exposition format, version 0.0.4: what a
 * /metrics endpoint and Prometheus's /federate answer, and what the
 * simulator writes as telemetry. Pure: it reads a buffer the caller owns
 * and copies what it keeps (names, unescaped label values) into its own
 * memory, within the limits the caller gives.
 *
 * Nothing is lost silently: every line is a sample, a comment (HELP, TYPE
 * or another), a blank line or an error with its line number and reason;
 * the four counts add up to the number of lines. A sample past a limit is
 * an error too ("sample limit reached"), not a quiet truncation. Only the
 * list of errors kept is bounded (max_errors); n_errors counts them all.
 */
#ifndef TITA_PROMTEXT_H
#define TITA_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tita_prom_type {
	TITA_PROM_UNTYPED = 0,
	TITA_PROM_COUNTER,
	TITA_PROM_GAUGE,
	TITA_PROM_HISTOGRAM,
	TITA_PROM_SUMMARY,
};

struct tita_prom_limits {
	uint32_t max_samples;
	uint32_t max_labels; /* per sample */
	uint32_t max_name_len; /* metric and label names, bytes */
	uint32_t max_value_len; /* a label value after unescaping, bytes */
	uint32_t max_line_len; /* bytes, without the newline */
	uint32_t max_errors; /* errors kept with their text; all are counted */
};

struct tita_prom_label {
	const char *name;
	const char *value; /* unescaped, NUL-terminated (a value holds no NUL) */
};

struct tita_prom_sample {
	const char *name;
	const struct tita_prom_label *labels; /* n_labels, in the order written */
	uint32_t n_labels;
	uint32_t line; /* 1-based */
	double value;
	bool has_timestamp;
	int64_t timestamp_ms;
};

struct tita_prom_family {
	const char *name;
	enum tita_prom_type type;
	const char *help; /* unescaped; NULL without a HELP line */
	bool has_type; /* a TYPE line was read (type is UNTYPED without one) */
};

struct tita_prom_error {
	uint32_t line; /* 1-based */
	char reason[96];
};

struct tita_prom_doc {
	struct tita_prom_sample *samples;
	uint32_t n_samples;
	struct tita_prom_family *families; /* from HELP and TYPE lines */
	uint32_t n_families;
	struct tita_prom_error *errors;
	uint32_t n_errors_kept;
	uint32_t n_errors; /* every malformed line, kept or not */
	uint32_t n_lines, n_comment_lines, n_blank_lines, n_sample_lines;
	/* private: where names, values and labels live */
	struct tita_prom_label *label_store;
	char *arena;
};

/* Limits that fit a federated snapshot of a few thousand hosts. */
void tita_prom_limits_default(struct tita_prom_limits *lim);

/*
 * Parses len bytes of buf into doc (which the caller then frees with
 * tita_prom_doc_free, whatever this returns). Returns 0 when every line
 * parsed, the number of malformed lines (> 0) otherwise, or -ENOMEM (or
 * -EINVAL for limits of 0) when nothing could be parsed.
 */
int tita_prom_parse(const char *buf, size_t len, const struct tita_prom_limits *lim,
		    struct tita_prom_doc *doc);
void tita_prom_doc_free(struct tita_prom_doc *doc);

/* The value of label name on s, or NULL. */
const char *tita_prom_label(const struct tita_prom_sample *s, const char *name);
const char *tita_prom_type_name(enum tita_prom_type t);

/* A float as Go's ParseFloat (and so Prometheus) reads one: decimal or
 * scientific, NaN, Inf, +Inf, -Inf (any case). 0 on success, -1 on a
 * malformed or out-of-range number. */
int tita_prom_parse_double(const char *s, size_t len, double *out);

#endif
