// SPDX-License-Identifier: MIT
/*
 * Snapshots for titactl diagnose, from files, Prometheus or the titads
 * themselves, and the answer as a table or JSON (see diag_source.h).
 *
 * HTTP is the least that works with Prometheus and titad: HTTP/1.0, one
 * GET, "Connection: close", the body read to the end of the stream (or
 * Content-Length), within a deadline and a size bound. No TLS: an https
 * URL is refused with a message that says so.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diag_source.h"

static int errf(char *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int errf(char *err, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, DIAG_ERR_LEN, fmt, ap);
	va_end(ap);
	return rc;
}

void diag_snaps_free(struct diag_snaps *s)
{
	for (size_t i = 0; i < s->n; i++) {
		tita_prom_doc_free(&s->docs[i]);
		free(s->names[i]);
	}
	free(s->docs);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

static struct tita_prom_limits limits(void)
{
	struct tita_prom_limits lim;

	tita_prom_limits_default(&lim);
	lim.max_errors = 3;
	return lim;
}

int diag_add_text(struct diag_snaps *s, const char *text, size_t len, const char *source, char *err)
{
	struct tita_prom_limits lim = limits();
	struct tita_prom_doc doc;
	int rc;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct tita_prom_doc *d = realloc(s->docs, cap * sizeof(*d));
		char **n;

		if (!d)
			return errf(err, -ENOMEM, "out of memory");
		s->docs = d;
		n = realloc(s->names, cap * sizeof(*n));
		if (!n)
			return errf(err, -ENOMEM, "out of memory");
		s->names = n;
		s->cap = cap;
	}
	rc = tita_prom_parse(text, len, &lim, &doc);
	if (rc < 0) {
		tita_prom_doc_free(&doc);
		return errf(err, rc, "%s: cannot parse: %s", source, strerror(-rc));
	}
	if (rc > 0) {
		char more[64] = "";

		if (doc.n_errors > 1)
			snprintf(more, sizeof(more), " (and %u more malformed line%s)",
				 doc.n_errors - 1, doc.n_errors > 2 ? "s" : "");
		errf(err, -EBADMSG, "%s: line %u: %s%s", source, doc.errors[0].line,
		     doc.errors[0].reason, more);
		tita_prom_doc_free(&doc);
		return -EBADMSG;
	}
	s->names[s->n] = strdup(source);
	if (!s->names[s->n]) {
		tita_prom_doc_free(&doc);
		return errf(err, -ENOMEM, "out of memory");
	}
	s->docs[s->n++] = doc;
	return 0;
}

static int read_file(const char *path, char **buf, size_t *len, char *err)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *b;

	if (!f)
		return errf(err, -errno, "%s: %s", path, strerror(errno));
	b = malloc(cap);
	while (b) {
		size_t got = fread(b + n, 1, cap - n - 1, f);

		n += got;
		if (n + 1 < cap)
			break;
		if (cap >= DIAG_HTTP_MAX_BYTES) {
			free(b);
			fclose(f);
			return errf(err, -EFBIG, "%s: larger than %u MiB", path,
				    DIAG_HTTP_MAX_BYTES >> 20);
		}
		cap *= 2;
		{
			char *nb = realloc(b, cap);

			if (!nb)
				free(b);
			b = nb;
		}
	}
	if (!b) {
		fclose(f);
		return errf(err, -ENOMEM, "out of memory");
	}
	if (ferror(f)) {
		int e = errno;

		free(b);
		fclose(f);
		return errf(err, -e, "%s: %s", path, strerror(e));
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int load_file(struct diag_snaps *s, const char *path, char *err)
{
	char *buf = NULL; /* -O3 cannot see read_file sets both on success */
	size_t len = 0;
	int rc = read_file(path, &buf, &len, err);

	if (rc)
		return rc;
	rc = diag_add_text(s, buf, len, path, err);
	free(buf);
	return rc;
}

static int is_prom(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".prom");
}

int diag_load_path(struct diag_snaps *s, const char *path, char *err)
{
	struct dirent **names;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st) < 0)
		return errf(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return load_file(s, path, err);
	n = scandir(path, &names, is_prom, alphasort);
	if (n < 0)
		return errf(err, -errno, "%s: %s", path, strerror(errno));
	if (n == 0)
		rc = errf(err, -ENOENT, "%s: no snapshot (*.prom) in the directory", path);
	for (int i = 0; i < n; i++) {
		char *p = NULL;

		if (!rc && asprintf(&p, "%s/%s", path, names[i]->d_name) < 0)
			rc = errf(err, -ENOMEM, "out of memory");
		if (!rc)
			rc = load_file(s, p, err);
		free(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* ---- HTTP --------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct url {
	char host[256], port[8], path[2048];
};

static int parse_url(const char *url, struct url *u, char *err)
{
	const char *p, *hs, *he, *slash;

	if (!strncasecmp(url, "https://", 8))
		return errf(err, -EPROTONOSUPPORT,
			    "%s: https is not supported (plain http only; put a local proxy in "
			    "front, or use --targets or --file)",
			    url);
	if (strncasecmp(url, "http://", 7))
		return errf(err, -EINVAL, "%s: not an http:// URL", url);
	p = url + 7;
	slash = strchr(p, '/');
	he = slash ? slash : p + strlen(p);
	hs = p;
	snprintf(u->port, sizeof(u->port), "80");
	if (*hs == '[') {
		const char *rb = memchr(hs, ']', (size_t)(he - hs));

		if (!rb)
			return errf(err, -EINVAL, "%s: unclosed '[' in the host", url);
		if ((size_t)(rb - hs - 1) >= sizeof(u->host))
			return errf(err, -EINVAL, "%s: host too long", url);
		memcpy(u->host, hs + 1, (size_t)(rb - hs - 1));
		u->host[rb - hs - 1] = '\0';
		p = rb + 1;
	} else {
		const char *colon = memchr(hs, ':', (size_t)(he - hs));
		const char *end = colon ? colon : he;

		if ((size_t)(end - hs) >= sizeof(u->host))
			return errf(err, -EINVAL, "%s: host too long", url);
		memcpy(u->host, hs, (size_t)(end - hs));
		u->host[end - hs] = '\0';
		p = end;
	}
	if (!u->host[0])
		return errf(err, -EINVAL, "%s: no host", url);
	if (p < he && *p == ':') {
		size_t n = (size_t)(he - p - 1);
		char *e;
		unsigned long port;

		if (!n || n >= sizeof(u->port))
			return errf(err, -EINVAL, "%s: bad port", url);
		memcpy(u->port, p + 1, n);
		u->port[n] = '\0';
		port = strtoul(u->port, &e, 10);
		if (*e || port < 1 || port > 65535)
			return errf(err, -EINVAL, "%s: bad port '%s'", url, u->port);
	} else if (p != he) {
		return errf(err, -EINVAL, "%s: unexpected text after the host", url);
	}
	if (strlen(slash ? slash : "/") >= sizeof(u->path))
		return errf(err, -EINVAL, "%s: path too long", url);
	snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/");
	for (const char *c = u->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return errf(err, -EINVAL, "%s: a blank or control character in the path",
				    url);
	return 0;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left = deadline - now_ms();
	int r;

	if (left <= 0)
		return -ETIMEDOUT;
	do
		r = poll(&pfd, 1, (int)left);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

static int connect_to(const struct url *u, int64_t deadline, char *err, const char *what)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int rc, fd = -1, last = ECONNREFUSED;

	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc)
		return errf(err, -EHOSTUNREACH, "%s: cannot resolve %s: %s", what, u->host,
			    gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		socklen_t sl = sizeof(last);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &last, &sl) == 0 &&
			    last == 0)
				break;
			if (rc)
				last = -rc;
		} else {
			last = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return errf(err, -last, "%s: cannot connect to %s:%s: %s", what, u->host, u->port,
			    strerror(last));
	return fd;
}

int diag_http_get(const char *url, int timeout_ms, size_t max_bytes, char **body, size_t *len,
		  char *err)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct url u;
	char *req = NULL, *buf = NULL, *hdr_end, *cl;
	size_t n = 0, cap = 1 << 16, off = 0, req_len;
	int fd, rc, status;

	rc = parse_url(url, &u, err);
	if (rc)
		return rc;
	fd = connect_to(&u, deadline, err, url);
	if (fd < 0)
		return fd;
	if (asprintf(&req,
		     "GET %s HTTP/1.0\r\nHost: %s%s%s:%s\r\nUser-Agent: titactl\r\n"
		     "Accept: text/plain;version=0.0.4\r\nConnection: close\r\n\r\n",
		     u.path, strchr(u.host, ':') ? "[" : "", u.host, strchr(u.host, ':') ? "]" : "",
		     u.port) < 0) {
		close(fd);
		return errf(err, -ENOMEM, "out of memory");
	}
	req_len = strlen(req);
	while (off < req_len) {
		ssize_t w = send(fd, req + off, req_len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc)
				goto io_error;
			continue;
		}
		if (w < 0) {
			rc = -errno;
			goto io_error;
		}
		off += (size_t)w;
	}
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto io_error;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb;

			if (cap > max_bytes + 65536) {
				free(req);
				free(buf);
				close(fd);
				return errf(err, -EFBIG, "%s: answer larger than %zu bytes", url,
					    max_bytes);
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				goto io_error;
			}
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (r == 0)
			break;
		if (errno == EAGAIN) {
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc)
				goto io_error;
			continue;
		}
		if (errno == EINTR)
			continue;
		rc = -errno;
		goto io_error;
	}
	close(fd);
	free(req);
	buf[n] = '\0';
	hdr_end = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) || n < 12 || !hdr_end) {
		free(buf);
		return errf(err, -EBADMSG, "%s: not an HTTP answer", url);
	}
	status = atoi(buf + 9);
	if (status != 200) {
		char *eol = strstr(buf, "\r\n");

		*eol = '\0';
		rc = errf(err, -EPROTO, "%s: %s", url, buf);
		free(buf);
		return rc;
	}
	*hdr_end = '\0';
	if (strcasestr(buf, "\r\ntransfer-encoding:") || strcasestr(buf, "\r\ncontent-encoding:")) {
		free(buf);
		return errf(err, -EBADMSG,
			    "%s: an encoded answer (chunked or compressed) to an "
			    "HTTP/1.0 request",
			    url);
	}
	off = (size_t)(hdr_end + 4 - buf);
	cl = strcasestr(buf, "\r\ncontent-length:");
	if (cl) {
		unsigned long long want = strtoull(cl + 17, NULL, 10);

		if (want != n - off) {
			free(buf);
			return errf(err, -EBADMSG, "%s: answer cut short (%zu of %llu bytes)", url,
				    n - off, want);
		}
	}
	if (n - off > max_bytes) {
		free(buf);
		return errf(err, -EFBIG, "%s: answer larger than %zu bytes", url, max_bytes);
	}
	memmove(buf, buf + off, n - off + 1);
	*body = buf;
	*len = n - off;
	return 0;
io_error:
	close(fd);
	free(req);
	free(buf);
	return errf(err, rc, "%s: %s", url,
		    rc == -ETIMEDOUT ? "no complete answer within the timeout" : strerror(-rc));
}

/* Percent-encoding of a query value. */
static void url_encode(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "%%%02X", c);
	}
	out[o] = '\0';
}

int diag_fetch_prometheus(struct diag_snaps *s, const char *url, const char *job, int timeout_ms,
			  size_t max_bytes, char *err)
{
	char m1[256], m2[256], *full = NULL, *body;
	char up[160];
	size_t len, ul = strlen(url);
	int rc;

	for (const char *c = job; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < ' ')
			return errf(err, -EINVAL,
				    "job name '%s': no quotes, backslashes or "
				    "control characters",
				    job);
	if (!strncasecmp(url, "https://", 8))
		return parse_url(url, &(struct url){ 0 }, err);
	url_encode("{__name__=~\"tita_health_.*|tita_fabric_place|tita_port_info\"}", m1,
		   sizeof(m1));
	snprintf(up, sizeof(up), "up{job=\"%s\"}", job);
	url_encode(up, m2, sizeof(m2));
	while (ul > 0 && url[ul - 1] == '/')
		ul--;
	if (asprintf(&full, "%.*s/federate?match%%5B%%5D=%s&match%%5B%%5D=%s", (int)ul, url, m1,
		     m2) < 0)
		return errf(err, -ENOMEM, "out of memory");
	rc = diag_http_get(full, timeout_ms, max_bytes, &body, &len, err);
	if (rc) {
		free(full);
		return rc;
	}
	rc = diag_add_text(s, body, len, full, err);
	if (!rc && s->docs[s->n - 1].n_samples == 0)
		rc = errf(err, -ENODATA,
			  "%s: Prometheus has no tita samples (is titad scraped, as job \"%s\"?)",
			  url, job);
	free(body);
	free(full);
	return rc;
}

/* ---- direct scrapes ------------------------------------------------------------------ */

static void put_escaped(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* One target's samples again as text, with its instance label. */
static void render_with_instance(FILE *f, const struct tita_prom_doc *d, const char *instance)
{
	for (uint32_t k = 0; k < d->n_samples; k++) {
		const struct tita_prom_sample *smp = &d->samples[k];

		fprintf(f, "%s{instance=\"", smp->name);
		put_escaped(f, instance);
		fputc('"', f);
		for (uint32_t l = 0; l < smp->n_labels; l++) {
			bool clash = !strcmp(smp->labels[l].name, "instance");

			fprintf(f, ",%s%s=\"", clash ? "exported_" : "", smp->labels[l].name);
			put_escaped(f, smp->labels[l].value);
			fputc('"', f);
		}
		if (isnan(smp->value))
			fputs("} NaN\n", f);
		else if (isinf(smp->value))
			fputs(smp->value > 0 ? "} +Inf\n" : "} -Inf\n", f);
		else
			fprintf(f, "} %.17g\n", smp->value);
	}
}

int diag_scrape_targets(struct diag_snaps *s, const char *targets, int timeout_ms, size_t max_bytes,
			FILE *warn, char *err)
{
	char *list = strdup(targets), *save = NULL, *text = NULL;
	size_t text_len = 0;
	FILE *out;
	int rc = 0, n = 0, answered = 0;

	if (!list)
		return errf(err, -ENOMEM, "out of memory");
	out = open_memstream(&text, &text_len);
	if (!out) {
		free(list);
		return errf(err, -ENOMEM, "out of memory");
	}
	for (char *t = strtok_r(list, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		char url[600], terr[DIAG_ERR_LEN + 700], *body;
		const char *colon = strrchr(t, ':');
		size_t len;
		struct tita_prom_limits lim = limits();
		struct tita_prom_doc d;
		int r;

		n++;
		if (!colon || colon == t || !colon[1] || strchr(t, '/') || strlen(t) > 512) {
			rc = errf(err, -EINVAL, "target '%s': expected HOST:PORT", t);
			break;
		}
		snprintf(url, sizeof(url), "http://%s/metrics", t);
		r = diag_http_get(url, timeout_ms, max_bytes, &body, &len, terr);
		terr[DIAG_ERR_LEN - 1] = '\0';
		if (r == -EINVAL) {
			rc = errf(err, r, "target '%s': %s", t, terr);
			break;
		}
		if (r == 0) {
			r = tita_prom_parse(body, len, &lim, &d);
			free(body);
			if (r != 0) {
				snprintf(terr, sizeof(terr), "%s: line %u: %s", url,
					 r > 0 ? d.errors[0].line : 0,
					 r > 0 ? d.errors[0].reason : strerror(-r));
				tita_prom_doc_free(&d);
			}
		}
		if (r) {
			if (warn)
				fprintf(warn, "titactl: %s (up 0)\n", terr);
			fputs("up{instance=\"", out);
			put_escaped(out, t);
			fputs("\"} 0\n", out);
			continue;
		}
		answered++;
		render_with_instance(out, &d, t);
		fputs("up{instance=\"", out);
		put_escaped(out, t);
		fputs("\"} 1\n", out);
		tita_prom_doc_free(&d);
	}
	fclose(out);
	free(list);
	if (!rc && n == 0)
		rc = errf(err, -EINVAL, "--targets: no target given");
	if (!rc && answered == 0)
		rc = errf(err, -EHOSTUNREACH, "no target answered");
	if (!rc)
		rc = diag_add_text(s, text, text_len, "--targets", err);
	free(text);
	return rc;
}

/* ---- the answer ----------------------------------------------------------------------- */

int diag_run(const struct diag_snaps *s, size_t window, const struct tita_diag_params *p,
	     struct tita_diag_result *r, char *err)
{
	const struct tita_prom_doc **v;
	size_t first = window && window < s->n ? s->n - window : 0;
	int rc;

	if (!s->n)
		return errf(err, -EINVAL, "no snapshot");
	v = malloc((s->n - first) * sizeof(*v));
	if (!v)
		return errf(err, -ENOMEM, "out of memory");
	for (size_t i = first; i < s->n; i++)
		v[i - first] = &s->docs[i];
	rc = tita_diag_run(v, s->n - first, p, r);
	free(v);
	if (rc)
		return errf(err, rc, "diagnosis failed: %s", strerror(-rc));
	return 0;
}

static const char *place_name(enum tita_diag_place pl)
{
	switch (pl) {
	case TITA_DIAG_AT_HOST:
		return "host";
	case TITA_DIAG_AT_HOST_LINK:
		return "host-link";
	case TITA_DIAG_AT_LEAF_SPINE:
		return "leaf-spine";
	case TITA_DIAG_AT_LEAF_UPLINKS:
		return "leaf-uplinks";
	}
	return "unknown";
}

void diag_print_table(FILE *f, const struct tita_diag_result *r)
{
	if (!r->n_suspects) {
		fprintf(f, "%s (%u instances, %u up, %u snapshot%s)\n",
			r->note[0] ? r->note : "no suspect", r->n_instances, r->n_up,
			r->n_snapshots, r->n_snapshots == 1 ? "" : "s");
		return;
	}
	fprintf(f, "%-4s %-28s %-10s %-6s %-10s %s\n", "RANK", "SUSPECT", "KIND", "STATE",
		"CONFIDENCE", "EVIDENCE");
	for (uint32_t i = 0; i < r->n_suspects; i++) {
		const struct tita_diag_suspect *s = &r->suspects[i];

		fprintf(f, "%-4u %-28s %-10s %-6s %-10.2f %s\n", i + 1, s->culprit,
			tita_diag_kind_name(s->kind), tita_diag_state_name(s->state), s->confidence,
			s->n_evidence ? s->evidence[0] : "-");
		for (uint32_t e = 1; e < s->n_evidence; e++)
			fprintf(f, "%-4s %-28s %-10s %-6s %-10s %s\n", "", "", "", "", "",
				s->evidence[e]);
	}
	fprintf(f, "(%u instances, %u up, %u snapshot%s%s%s)\n", r->n_instances, r->n_up,
		r->n_snapshots, r->n_snapshots == 1 ? "" : "s", r->note[0] ? "; " : "", r->note);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_str_or_null(FILE *f, const char *s)
{
	if (s && s[0])
		json_str(f, s);
	else
		fputs("null", f);
}

void diag_print_json(FILE *f, const struct tita_diag_result *r)
{
	fprintf(f, "{\"snapshots\":%u,\"instances\":%u,\"up\":%u,\"healthy\":%s,\"note\":",
		r->n_snapshots, r->n_instances, r->n_up, r->n_suspects ? "false" : "true");
	json_str_or_null(f, r->note);
	fputs(",\"suspects\":[", f);
	for (uint32_t i = 0; i < r->n_suspects; i++) {
		const struct tita_diag_suspect *s = &r->suspects[i];

		fprintf(f, "%s{\"rank\":%u,\"culprit\":", i ? "," : "", i + 1);
		json_str(f, s->culprit);
		fprintf(f, ",\"kind\":\"%s\",\"state\":\"%s\",\"place\":\"%s\",\"instance\":",
			tita_diag_kind_name(s->kind), tita_diag_state_name(s->state),
			place_name(s->place));
		json_str_or_null(f, s->instance);
		fputs(",\"leaf\":", f);
		json_str_or_null(f, s->leaf);
		fputs(",\"spine\":", f);
		json_str_or_null(f, s->spine);
		fputs(",\"other_leaf\":", f);
		json_str_or_null(f, s->leaf_other);
		fprintf(f, ",\"confidence\":%.3f,\"score\":%.3f,\"evidence\":[", s->confidence,
			s->score);
		for (uint32_t e = 0; e < s->n_evidence; e++) {
			fputs(e ? "," : "", f);
			json_str(f, s->evidence[e]);
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
}
