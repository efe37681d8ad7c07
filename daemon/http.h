/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.1 server for the metrics endpoint, on titad's event loop:
 * GET or HEAD of one path, one response per connection (Connection:
 * close), nothing else. It is written for clients that misbehave:
 *
 *   - a request's head must arrive whole within TITAD_HTTP_HEAD_NS of the
 *     connection, and the response must be taken within TITAD_HTTP_TOTAL_NS,
 *     however slowly the bytes trickle (a slowloris client is closed then);
 *   - at most TITAD_HTTP_CLIENTS connections, TITAD_HTTP_PER_IP from one
 *     address; a new connection over either bound takes the place of the
 *     oldest one (of that address, else of all) whose head has not
 *     arrived, so clients that never finish a request cannot keep a
 *     scraper out; when every connection is busy answering, it is refused;
 *   - when accept() fails for want of descriptors the listening socket is
 *     left alone for a while instead of waking the loop again at once.
 */
#ifndef TITAD_HTTP_H
#define TITAD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "units.h"

#define TITAD_HTTP_CLIENTS 16
#define TITAD_HTTP_PER_IP 4
#define TITAD_HTTP_HEAD_NS (2 * TITA_NSEC_PER_SEC)
#define TITAD_HTTP_TOTAL_NS (10 * TITA_NSEC_PER_SEC)
#define TITAD_HTTP_HEAD_MAX 4096

/* The resource's body, malloc'ed (NULL: out of memory, answered 500). */
typedef char *(*titad_http_render_fn)(void *ctx, uint64_t now_ns, size_t *ret_len);

struct titad_http_stats {
	uint32_t clients;
	uint64_t served;
	uint64_t evicted; /* to make room for a new connection */
	uint64_t timed_out; /* head or response not done in time */
	uint64_t refused; /* every connection was busy answering */
};

struct titad_http;

/* Listen on addr ("host:port" or "[v6]:port") and serve path. 0, or
 * -errno with err; on failure *ret may be set, for titad_http_close(). */
int titad_http_open(struct titad_http **ret, struct tita_event *ev, const char *addr,
		    const char *path, const char *content_type, titad_http_render_fn render,
		    void *ctx, char *err, size_t err_size);
struct titad_http *titad_http_close(struct titad_http *h);
void titad_http_stats(const struct titad_http *h, struct titad_http_stats *ret);

#endif /* TITAD_HTTP_H */
