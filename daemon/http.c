// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint's HTTP server (see http.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

/* After accept() failed with EMFILE or ENFILE. */
#define ACCEPT_PAUSE_NS (100 * TITA_NSEC_PER_MSEC)

struct conn {
	struct titad_http *h;
	uint32_t idx; /* in h->conns */
	int fd;
	struct tita_event_source *src;
	struct sockaddr_storage peer;
	uint64_t accepted_ns;
	size_t head_len;
	char head[TITAD_HTTP_HEAD_MAX];
	/* The response, once the head is in: out_off of out_len sent. */
	char *out;
	size_t out_len, out_off;
};

struct titad_http {
	struct tita_event *ev;
	int fd;
	struct tita_event_source *src;
	struct tita_timer *t_deadline;
	char path[64], content_type[96];
	titad_http_render_fn render;
	void *ctx;
	uint32_t n_conns;
	struct conn *conns[TITAD_HTTP_CLIENTS];
	struct titad_http_stats st;
	struct tita_ratelimit accept_rl;
};

static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (tita_parse_u64(colon + 1, &port) || port < 1 || port > 65535)
		return -EINVAL;
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sin->sin_addr) != 1)
			return -EINVAL;
	}
	return 0;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

/* The last connection of the table takes c's place. */
static void conn_close(struct conn *c)
{
	struct titad_http *h = c->h;
	struct conn *last = h->conns[--h->n_conns];

	last->idx = c->idx;
	h->conns[c->idx] = last;
	tita_event_fd_del(h->ev, c->src);
	close(c->fd);
	free(c->out);
	free(c);
}

/* The next deadline of any connection. */
static void arm(struct titad_http *h)
{
	uint64_t next = TITA_TIME_NEVER;

	for (uint32_t i = 0; i < h->n_conns; i++) {
		const struct conn *c = h->conns[i];
		uint64_t d = c->accepted_ns + (c->out ? TITAD_HTTP_TOTAL_NS : TITAD_HTTP_HEAD_NS);

		if (d < next)
			next = d;
	}
	tita_event_timer_set(h->ev, h->t_deadline, next);
}

static void on_deadline(void *data, uint64_t now_ns)
{
	struct titad_http *h = data;

	for (uint32_t i = 0; i < h->n_conns;) {
		struct conn *c = h->conns[i];
		uint64_t limit = c->out ? TITAD_HTTP_TOTAL_NS : TITAD_HTTP_HEAD_NS;

		if (now_ns - c->accepted_ns >= limit) {
			h->st.timed_out++;
			conn_close(c); /* moves the last connection to i */
			continue;
		}
		i++;
	}
	arm(h);
}

static void respond(struct conn *c, int status, const char *reason, const char *type, char *body,
		    size_t body_len, bool head_only)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, reason, type, body_len);

	c->out_len = (size_t)n + (head_only ? 0 : body_len);
	c->out = malloc(c->out_len);
	if (!c->out) {
		c->out_len = 0;
		free(body);
		return;
	}
	memcpy(c->out, hdr, (size_t)n);
	if (!head_only && body_len)
		memcpy(c->out + n, body, body_len);
	free(body);
}

static void handle(struct conn *c, uint64_t now_ns)
{
	struct titad_http *h = c->h;
	char method[8], target[128];
	size_t plen = strlen(h->path);
	bool head_only;

	c->head[c->head_len] = '\0';
	/* "METHOD TARGET HTTP/1.x" on the first line, nothing less. */
	if (sscanf(c->head, "%7s %127s", method, target) != 2 || !strstr(c->head, " HTTP/1.") ||
	    strstr(c->head, " HTTP/1.") > strchr(c->head, '\n')) {
		static const char msg[] = "bad request\n";

		respond(c, 400, "Bad Request", "text/plain", strdup(msg), sizeof(msg) - 1, false);
		return;
	}
	head_only = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head_only) {
		static const char msg[] = "only GET\n";

		respond(c, 405, "Method Not Allowed", "text/plain", strdup(msg), sizeof(msg) - 1,
			false);
	} else if (strncmp(target, h->path, plen) || (target[plen] && target[plen] != '?')) {
		char msg[96];

		snprintf(msg, sizeof(msg), "titad serves %s\n", h->path);
		respond(c, 404, "Not Found", "text/plain", strdup(msg), strlen(msg), head_only);
	} else {
		size_t len = 0;
		char *body = h->render(h->ctx, now_ns, &len);

		if (!body) {
			static const char msg[] = "out of memory\n";

			respond(c, 500, "Internal Server Error", "text/plain", strdup(msg),
				sizeof(msg) - 1, head_only);
			return;
		}
		h->st.served++;
		respond(c, 200, "OK", h->content_type, body, len, head_only);
	}
}

/* Send what the socket takes; true when the connection is done with. */
static bool flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0)
			return errno != EAGAIN && errno != EINTR;
		c->out_off += (size_t)n;
	}
	return true;
}

static void on_conn(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct conn *c = data;

	if (c->out) {
		if (flush(c))
			conn_close(c);
		return;
	}
	for (;;) {
		ssize_t n = recv(fd, c->head + c->head_len, sizeof(c->head) - 1 - c->head_len,
				 MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->head_len += (size_t)n;
		c->head[c->head_len] = '\0';
		if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n"))
			break;
		if (c->head_len == sizeof(c->head) - 1) {
			static const char msg[] = "request head too large\n";

			respond(c, 431, "Request Header Fields Too Large", "text/plain",
				strdup(msg), sizeof(msg) - 1, false);
			break;
		}
	}
	if (!c->out)
		handle(c, now_ns);
	if (!c->out || flush(c)) {
		conn_close(c);
		return;
	}
	/* The rest when the socket takes it; nothing more is read. */
	if (tita_event_fd_mod(c->h->ev, c->src, EPOLLOUT))
		conn_close(c);
	(void)events;
}

/* Room for a connection from peer: the oldest one still waiting for its
 * head makes way (of that address when it is at its bound, else of all). */
static bool make_room(struct titad_http *h, const struct sockaddr_storage *peer)
{
	struct conn *oldest = NULL, *oldest_same = NULL;
	uint32_t same = 0;

	for (uint32_t i = 0; i < h->n_conns; i++) {
		struct conn *c = h->conns[i];
		bool s = same_host(&c->peer, peer);

		same += s;
		if (c->out)
			continue;
		if (!oldest || c->accepted_ns < oldest->accepted_ns)
			oldest = c;
		if (s && (!oldest_same || c->accepted_ns < oldest_same->accepted_ns))
			oldest_same = c;
	}
	if (same >= TITAD_HTTP_PER_IP) {
		if (!oldest_same)
			return false;
		h->st.evicted++;
		conn_close(oldest_same);
		return true;
	}
	if (h->n_conns < TITAD_HTTP_CLIENTS)
		return true;
	if (!oldest)
		return false;
	h->st.evicted++;
	conn_close(oldest);
	return true;
}

static void on_accept(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct titad_http *h = data;
	int k = 0;

	(void)fd;
	(void)events;
	while (k++ < 16) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		struct conn *c;
		uint64_t held;
		bool paused;
		int cfd = tita_event_accept(h->ev, h->src, (struct sockaddr *)&peer, &len,
					    ACCEPT_PAUSE_NS, &paused);

		if (cfd < 0) {
			if (paused && tita_ratelimit_ok(&h->accept_rl, now_ns,
							60 * TITA_NSEC_PER_SEC, 1, &held))
				log_warning(
					"metrics endpoint: accept: %s; not accepting for %llu ms",
					strerror(errno),
					(unsigned long long)(ACCEPT_PAUSE_NS / TITA_NSEC_PER_MSEC));
			break;
		}
		c = make_room(h, &peer) ? calloc(1, sizeof(*c)) : NULL;
		if (c)
			*c = (struct conn){ .h = h, .fd = cfd, .peer = peer, .accepted_ns = now_ns };
		if (c && (c->src = tita_event_fd_add(h->ev, cfd, EPOLLIN, on_conn, c))) {
			c->idx = h->n_conns;
			h->conns[h->n_conns++] = c;
			continue;
		}
		h->st.refused += c == NULL;
		close(cfd);
		free(c);
	}
	arm(h);
}

int titad_http_open(struct titad_http **ret, struct tita_event *ev, const char *addr,
		    const char *path, const char *content_type, titad_http_render_fn render,
		    void *ctx, char *err, size_t err_size)
{
	struct titad_http *h;
	struct sockaddr_storage ss;
	int one = 1, e;

	*ret = NULL;
	if (parse_listen(addr, &ss)) {
		snprintf(err, err_size, "metrics-listen %s: not host:port or [v6]:port", addr);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*ret = h;
	h->fd = -1;
	h->ev = ev;
	h->render = render;
	h->ctx = ctx;
	snprintf(h->path, sizeof(h->path), "%s", path);
	snprintf(h->content_type, sizeof(h->content_type), "%s", content_type);
	h->t_deadline = tita_event_timer_new(ev, on_deadline, h);
	if (!h->t_deadline)
		return -ENOSPC;
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd >= 0)
		setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (h->fd < 0 ||
	    bind(h->fd, (struct sockaddr *)&ss,
		 ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					    sizeof(struct sockaddr_in)) ||
	    listen(h->fd, 64) || !(h->src = tita_event_fd_add(ev, h->fd, EPOLLIN, on_accept, h))) {
		e = errno;
		snprintf(err, err_size, "metrics endpoint %s: cannot listen: %s", addr,
			 strerror(e));
		return -e;
	}
	return 0;
}

struct titad_http *titad_http_close(struct titad_http *h)
{
	for (uint32_t i = h ? h->n_conns : 0; i > 0; i--)
		conn_close(h->conns[i - 1]);
	if (!h)
		return NULL;
	tita_event_fd_del(h->ev, h->src);
	if (h->fd >= 0)
		close(h->fd);
	if (h->t_deadline)
		tita_event_timer_set(h->ev, h->t_deadline, TITA_TIME_NEVER);
	free(h);
	return NULL;
}

void titad_http_stats(const struct titad_http *h, struct titad_http_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!h)
		return;
	*ret = h->st;
	ret->clients = h->n_conns;
}
