/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus endpoint (metrics-listen): renders the modules' snapshots
 * in the text exposition format.
 */
#ifndef TITAD_METRICS_H
#define TITAD_METRICS_H

#include "event.h"
#include "http.h"
#include "sources.h"

/* The text exposition, in a malloc'ed buffer; NULL when out of memory. */
char *titad_metrics_render(const struct titad_sources *src, uint64_t now_ns, size_t *ret_len);

struct titad_metrics;

/* Serve /metrics on listen ("host:port" or "[v6]:port"; "" serves
 * nothing and leaves *ret NULL). 0, or -errno with err; on failure *ret
 * may be set, for titad_metrics_close(). */
int titad_metrics_open(struct titad_metrics **ret, struct tita_event *ev, const char *listen,
		       const struct titad_sources *src, char *err, size_t err_size);
struct titad_metrics *titad_metrics_close(struct titad_metrics *m);
/* Its HTTP server's counters (zeros when it serves nothing). */
void titad_metrics_http_stats(const struct titad_metrics *m, struct titad_http_stats *ret);

#endif /* TITAD_METRICS_H */
