/* SPDX-License-Identifier: MIT */
/*
 * Where titactl diagnose gets its snapshots, and how it prints its answer:
 * the I/O around lib's parser (tita/promtext.h) and diagnoser
 * (tita/diagnose.h). Shared by titactl and the diagnosis benchmark, so
 * that the benchmark measures exactly `titactl diagnose --file`.
 *
 * Every function that can fail writes one line (without a newline) into
 * err and returns a negative errno.
 */
#ifndef TITA_DIAG_SOURCE_H
#define TITA_DIAG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tita/diagnose.h"
#include "tita/promtext.h"

#define DIAG_ERR_LEN 512
#define DIAG_HTTP_DEFAULT_URL "http://localhost:9090"
#define DIAG_HTTP_MAX_BYTES (256u << 20)
#define DIAG_HTTP_TIMEOUT_MS 10000
/* Snapshots a diagnosis averages over: titactl's --window default. */
#define DIAG_WINDOW_DEFAULT 5

struct diag_snaps {
	struct tita_prom_doc *docs; /* oldest first */
	char **names; /* where each came from */
	size_t n, cap;
};

void diag_snaps_free(struct diag_snaps *s);

/* A snapshot file, or a directory of them (its *.prom files in name
 * order: the simulator's NNNNNN.prom). Appends to s. */
int diag_load_path(struct diag_snaps *s, const char *path, char *err);

/* Parses one snapshot's text; source names it in errors. Any malformed
 * line is an error (with the first ones' line numbers and reasons). */
int diag_add_text(struct diag_snaps *s, const char *text, size_t len, const char *source,
		  char *err);

/* Prometheus's /federate: the tita_health_* families, tita_fabric_place,
 * tita_port_info and up{job="JOB"}. url: http://HOST[:PORT][/PREFIX]. */
int diag_fetch_prometheus(struct diag_snaps *s, const char *url, const char *job, int timeout_ms,
			  size_t max_bytes, char *err);

/* Each titad's /metrics, as Prometheus would scrape it: instance="HOST:PORT"
 * added to every sample (an instance label of its own becomes
 * exported_instance), and up 1, or up 0 when it does not answer (then a
 * warning on warn, which may be NULL). targets: HOST:PORT[,HOST:PORT...]. */
int diag_scrape_targets(struct diag_snaps *s, const char *targets, int timeout_ms, size_t max_bytes,
			FILE *warn, char *err);

/* One HTTP/1.0 GET over TCP; *body malloc'd, NUL-terminated. */
int diag_http_get(const char *url, int timeout_ms, size_t max_bytes, char **body, size_t *len,
		  char *err);

/* The last `window` snapshots of s (all of them when window is 0 or more
 * than there are) through the diagnoser. */
int diag_run(const struct diag_snaps *s, size_t window, const struct tita_diag_params *p,
	     struct tita_diag_result *r, char *err);

void diag_print_table(FILE *f, const struct tita_diag_result *r);
void diag_print_json(FILE *f, const struct tita_diag_result *r);

#endif
