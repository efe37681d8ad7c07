// SPDX-License-Identifier: MIT
/*
 * Path probes and the spines they find: see probe.h.
 */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h, which uses struct timespec */
#include <linux/errqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#define MAX_OUT_LIMIT 4096u
/* Errors read per socket per poll: a probe has one answer, maybe two when
 * it was sent twice. */
#define ERRS_PER_SOCKET 4

struct out {
	bool used;
	struct tita_probe probe;
	int fd;
	uint64_t sent_ns, deadline_ns;
	struct tita_probe_answer answer;
	bool answered;
};

struct tita_prober {
	struct tita_prober_conf conf;
	int epfd;
	struct out *outs; /* conf.max_out slots */
	uint32_t n_out;
	struct tita_prober_stats stats;
};

void tita_prober_conf_defaults(struct tita_prober_conf *conf)
{
	conf->ttl = 2;
	/* A switch answers an expiring TTL from its CPU: a millisecond or
	 * a few, more when its control plane is busy. */
	conf->timeout_ns = 50 * TITA_NSEC_PER_MSEC;
	conf->max_out = 256;
	conf->tos = -1;
}

struct tita_prober *tita_prober_new(const struct tita_prober_conf *conf)
{
	struct tita_prober *p;

	if (!conf || conf->ttl < 1 || conf->ttl > 255 || !conf->timeout_ns || !conf->max_out ||
	    conf->max_out > MAX_OUT_LIMIT || conf->tos > 255) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->outs = calloc(conf->max_out, sizeof(*p->outs)))) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->conf = *conf;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		int e = errno;

		free(p->outs);
		free(p);
		errno = e;
		return NULL;
	}
	return p;
}

static void out_close(struct tita_prober *p, struct out *o)
{
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, o->fd, NULL);
	close(o->fd);
	o->used = false;
	p->n_out--;
}

struct tita_prober *tita_prober_free(struct tita_prober *p)
{
	if (!p)
		return NULL;
	for (uint32_t i = 0; i < p->conf.max_out; i++)
		if (p->outs[i].used)
			out_close(p, &p->outs[i]);
	close(p->epfd);
	free(p->outs);
	free(p);
	return NULL;
}

int tita_prober_fd(const struct tita_prober *p)
{
	return p->epfd;
}

static socklen_t sockaddr_of(const struct tita_addr *a, uint16_t port, struct sockaddr_storage *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (tita_addr_is_ipv4(a)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, &a->bytes[12], 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, a->bytes, 16);
	return sizeof(*sin6);
}

/*
 * What the probe carries: the shape of a RoCEv2 base transport header, so
 * that whatever classifies RoCE by its first bytes sees one, with an
 * opcode from the manufacturer-specific range that no NIC executes, a
 * marker for anyone reading a capture, and an ICRC field that no NIC
 * accepts.
 */
static size_t payload(uint8_t *buf)
{
	static const uint8_t bth[16] = {
		0xff, /* opcode: manufacturer-specific */
		0x00, 0xff, 0xff, /* flags, P_Key 0xffff */
		0x00, 'T',  'I',  'T', /* destination QP field: "TIT" */
		0x00, 'A',  0x00, 0x00, /* PSN field */
		0x00, 0x00, 0x00, 0x00, /* "ICRC" */
	};

	memcpy(buf, bth, sizeof(bth));
	return sizeof(bth);
}

static struct out *find(struct tita_prober *p, const struct tita_probe *pr)
{
	for (uint32_t i = 0; i < p->conf.max_out; i++) {
		struct out *o = &p->outs[i];

		if (o->used && o->probe.sport == pr->sport &&
		    tita_addr_eq(&o->probe.local, &pr->local) &&
		    tita_addr_eq(&o->probe.remote, &pr->remote))
			return o;
	}
	return NULL;
}

static int open_socket(const struct tita_prober *p, const struct tita_probe *pr, int ifindex)
{
	struct sockaddr_storage local, remote;
	socklen_t llen = sockaddr_of(&pr->local, pr->sport, &local);
	socklen_t rlen = sockaddr_of(&pr->remote, TITA_ROCE_UDP_PORT, &remote);
	bool v4 = local.ss_family == AF_INET;
	int one = 1, ttl = (int)p->conf.ttl, fd, e;

	if (tita_addr_is_ipv4(&pr->local) != tita_addr_is_ipv4(&pr->remote))
		return -EAFNOSUPPORT;
	fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (v4 ? setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) ||
			     setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) ||
			     (p->conf.tos >= 0 && setsockopt(fd, IPPROTO_IP, IP_TOS, &p->conf.tos,
							     sizeof(p->conf.tos))) :
		  setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) ||
			     setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) ||
			     (p->conf.tos >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS,
							     &p->conf.tos, sizeof(p->conf.tos))))) {
		e = errno;
		goto fail;
	}
	if (ifindex > 0) {
		char name[IF_NAMESIZE];

		if (!if_indextoname((unsigned)ifindex, name) ||
		    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name))) {
			e = errno;
			goto fail;
		}
	}
	if (bind(fd, (struct sockaddr *)&local, llen) ||
	    connect(fd, (struct sockaddr *)&remote, rlen)) {
		e = errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -e;
}

static bool addr_of(const struct sockaddr_storage *ss, struct tita_addr *ret)
{
	if (ss->ss_family == AF_INET) {
		*ret = tita_addr_from_ipv4(
			(const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr.s_addr);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(ret->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return true;
	}
	return false;
}

/* Read o's error queue; true when it holds the probe's answer. */
static bool read_answer(struct tita_prober *p, struct out *o, uint64_t now_ns)
{
	for (int k = 0; k < ERRS_PER_SOCKET; k++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					    sizeof(struct sockaddr_in6)) +
				 64];
			struct cmsghdr align;
		} ctl;
		uint8_t data[256];
		struct iovec iov = { data, sizeof(data) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };

		if (recvmsg(o->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			struct sock_extended_err ee;
			struct sockaddr_storage off;
			bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
			bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;

			if (!v4 && !v6)
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee.ee_origin != SO_EE_ORIGIN_ICMP6) {
				/* The host's own (a full queue, a route
				 * missing): no answer from the path. */
				p->stats.local_errors++;
				continue;
			}
			memset(&off, 0, sizeof(off));
			memcpy(&off, SO_EE_OFFENDER((struct sock_extended_err *)CMSG_DATA(c)),
			       v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
			if (!addr_of(&off, &o->answer.offender))
				continue;
			o->answer.icmp_type = ee.ee_type;
			o->answer.icmp_code = ee.ee_code;
			if ((v4 && ee.ee_type == ICMP_TIME_EXCEEDED) ||
			    (v6 && ee.ee_type == ICMP6_TIME_EXCEEDED))
				o->answer.outcome = TITA_PROBE_EXPIRED;
			else if ((v4 && ee.ee_type == ICMP_DEST_UNREACH) ||
				 (v6 && ee.ee_type == ICMP6_DST_UNREACH))
				o->answer.outcome = TITA_PROBE_UNREACHABLE;
			else
				continue; /* source quench, redirects: not an answer */
			o->answer.probe = o->probe;
			o->answer.rtt_ns = now_ns - o->sent_ns;
			return true;
		}
	}
	return false;
}

int tita_prober_send(struct tita_prober *p, const struct tita_probe *probe, int ifindex,
		     uint64_t now_ns)
{
	struct out *o = find(p, probe);
	uint8_t buf[64];
	size_t len = payload(buf);
	int r;

	if (!probe->sport) {
		p->stats.send_errors++;
		return -EINVAL;
	}
	if (o) {
		/* Out already: once more on its socket, one answer. A socket
		 * whose answer came meanwhile is answered: an ICMP error also
		 * fails the next send (the socket's pending error), so look
		 * at the queue first. */
		p->stats.resent++;
		if (!o->answered && read_answer(p, o, now_ns))
			o->answered = true;
		if (o->answered)
			return 0;
		if (send(o->fd, buf, len, MSG_DONTWAIT) < 0) {
			int e = errno;

			if (read_answer(p, o, now_ns)) {
				o->answered = true;
				return 0;
			}
			p->stats.send_errors++;
			return -e;
		}
		o->deadline_ns = now_ns + p->conf.timeout_ns;
		return 0;
	}
	if (p->n_out == p->conf.max_out) {
		p->stats.send_errors++;
		return -EBUSY;
	}
	for (uint32_t i = 0; i < p->conf.max_out && !o; i++)
		if (!p->outs[i].used)
			o = &p->outs[i];
	r = open_socket(p, probe, ifindex);
	if (r < 0) {
		if (r == -EADDRINUSE)
			p->stats.port_busy++;
		else
			p->stats.send_errors++;
		return r;
	}
	memset(o, 0, sizeof(*o));
	o->fd = r;
	o->probe = *probe;
	o->sent_ns = now_ns;
	o->deadline_ns = now_ns + p->conf.timeout_ns;
	{
		struct epoll_event ev = { .events = EPOLLIN | EPOLLERR, .data.ptr = o };

		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, o->fd, &ev) ||
		    send(o->fd, buf, len, MSG_DONTWAIT) < 0) {
			int e = errno;

			close(o->fd);
			p->stats.send_errors++;
			return -e;
		}
	}
	o->used = true;
	p->n_out++;
	p->stats.sent++;
	return 0;
}

size_t tita_prober_poll(struct tita_prober *p, uint64_t now_ns, struct tita_probe_answer *out,
			size_t max)
{
	struct epoll_event evs[64];
	size_t n = 0;
	int got;

	/* The sockets that have something; each is read once per call. */
	got = epoll_wait(p->epfd, evs, 64, 0);
	for (int i = 0; i < got; i++) {
		struct out *o = evs[i].data.ptr;
		uint8_t junk[64];

		if (!o->used || o->answered)
			continue;
		/* Data on a probe's socket (something answered on 4791 with
		 * UDP): not an answer; read it away. */
		while (recv(o->fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0)
			;
		if (read_answer(p, o, now_ns))
			o->answered = true;
	}
	for (uint32_t i = 0; i < p->conf.max_out && n < max; i++) {
		struct out *o = &p->outs[i];

		if (!o->used)
			continue;
		if (!o->answered && now_ns >= o->deadline_ns) {
			memset(&o->answer, 0, sizeof(o->answer));
			o->answer.probe = o->probe;
			o->answer.outcome = TITA_PROBE_LOST;
			o->answer.rtt_ns = now_ns - o->sent_ns;
			o->answered = true;
		}
		if (!o->answered)
			continue;
		out[n++] = o->answer;
		switch (o->answer.outcome) {
		case TITA_PROBE_EXPIRED:
			p->stats.expired++;
			break;
		case TITA_PROBE_UNREACHABLE:
			p->stats.unreachable++;
			break;
		case TITA_PROBE_LOST:
			p->stats.lost++;
			break;
		}
		out_close(p, o);
	}
	return n;
}

uint64_t tita_prober_next_deadline_ns(const struct tita_prober *p)
{
	uint64_t next = TITA_TIME_NEVER;

	for (uint32_t i = 0; i < p->conf.max_out; i++) {
		const struct out *o = &p->outs[i];

		if (!o->used)
			continue;
		/* Answered and not handed out yet (max was short): now. */
		if (o->answered)
			return 0;
		if (o->deadline_ns < next)
			next = o->deadline_ns;
	}
	return next;
}

void tita_prober_stats(const struct tita_prober *p, struct tita_prober_stats *ret)
{
	*ret = p->stats;
	ret->out = p->n_out;
}

/* ---- spines learned from their answers -------------------------------------------- */

struct tita_spine_learner {
	uint32_t n_spines;
	uint32_t n; /* addresses heard, sorted; one more than n_spines: too many */
	struct tita_addr addrs[];
};

struct tita_spine_learner *tita_spine_learner_new(uint32_t n_spines)
{
	struct tita_spine_learner *l;

	if (n_spines < 1 || n_spines > TITA_SPINES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l) + (n_spines + 1) * sizeof(l->addrs[0]));
	if (!l) {
		errno = ENOMEM;
		return NULL;
	}
	l->n_spines = n_spines;
	return l;
}

struct tita_spine_learner *tita_spine_learner_free(struct tita_spine_learner *l)
{
	free(l);
	return NULL;
}

int tita_spine_learner_lookup(struct tita_spine_learner *l, const struct tita_addr *offender,
			      uint16_t *ret_spine)
{
	uint32_t at = 0;
	int c = 1;

	while (at < l->n && (c = memcmp(l->addrs[at].bytes, offender->bytes, 16)) < 0)
		at++;
	if (at == l->n || c != 0) {
		if (l->n > l->n_spines)
			return -ENOSPC;
		memmove(&l->addrs[at + 1], &l->addrs[at], (l->n - at) * sizeof(l->addrs[0]));
		l->addrs[at] = *offender;
		l->n++;
	}
	if (l->n > l->n_spines)
		return -ENOSPC;
	if (l->n < l->n_spines)
		return -EAGAIN;
	*ret_spine = (uint16_t)at;
	return 0;
}

size_t tita_spine_learner_addrs(const struct tita_spine_learner *l, struct tita_addr *out,
				size_t max)
{
	for (uint32_t i = 0; i < l->n && i < max; i++)
		out[i] = l->addrs[i];
	return l->n;
}
