// SPDX-License-Identifier: MIT
/*
 * The peer protocol's I/O: UDP sockets read with recvmmsg and written with
 * sendmmsg, every datagram through the proto/ codec, and the peer table.
 *
 * The table is bounded (max-peers) whatever arrives. Peers are "known"
 * when configured as static, seen in telemetry, or authenticated; a source
 * that only ever fails gets a "stranger" entry so that its failures are
 * counted and its log lines rate-limited per source, but strangers may
 * hold at most a quarter of the table and are evicted first, so a flood of
 * forged sources cannot crowd out real peers. Past that, failures count in
 * the global per-reason counters only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "titad.h"
#include "units.h"

#define RX_BATCH 32
#define TX_BATCH 64
#define RX_BUF_BYTES 2048
#define HELLO_PERIOD_NS (1 * TITA_NSEC_PER_SEC)
/* A peer that nothing has shown for this long leaves the table. */
#define PEER_IDLE_NS (60 * TITA_NSEC_PER_SEC)
#define STRANGER_IDLE_NS (10 * TITA_NSEC_PER_SEC)
#define LOG_INTERVAL_NS (10 * TITA_NSEC_PER_SEC)
#define LOG_BURST 3

struct psock {
	int fd;
	int family;
	struct tita_event_source *src;
	/* Coalescing: after a wake-up the socket is left out of epoll
	 * (EPOLLONESHOT) and polled from a timer while datagrams keep coming. */
	bool armed;
};

struct txq_entry {
	struct sockaddr_in6 to;
	size_t len;
	struct titad_peer *peer;
	bool grant; /* answers a pending demand */
	uint8_t buf[TITA_WIRE_MAX_BYTES];
};

struct titad_peers {
	struct titad *d;
	uint32_t n_socks;
	struct psock socks[TITAD_MAX_BIND];

	uint32_t n_buckets; /* power of two */
	struct titad_peer **buckets;
	size_t n_peers, n_strangers;

	struct tita_timer *t_poll;

	uint32_t n_tx;
	struct txq_entry tx[TX_BATCH];

	struct titad_peer_totals totals;

	uint8_t rx_bufs[RX_BATCH][RX_BUF_BYTES];
};

static uint32_t addr_hash(const struct tita_addr *a)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < sizeof(a->bytes); i++) {
		h ^= a->bytes[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

struct titad_peer *titad_peer_find(struct titad *d, const struct tita_addr *a)
{
	struct titad_peers *ps = d->peers;
	struct titad_peer *p;

	if (!ps)
		return NULL;
	for (p = ps->buckets[addr_hash(a) & (ps->n_buckets - 1)]; p; p = p->next)
		if (tita_addr_eq(&p->addr, a))
			return p;
	return NULL;
}

static void peer_unlink(struct titad_peers *ps, struct titad_peer *victim)
{
	struct titad_peer **pp = &ps->buckets[addr_hash(&victim->addr) & (ps->n_buckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == victim) {
			*pp = victim->next;
			break;
		}
	}
	ps->n_peers--;
	if (!victim->known)
		ps->n_strangers--;
	/* Datagrams queued for it are about to go: forget the pointer. */
	for (uint32_t i = 0; i < ps->n_tx; i++)
		if (ps->tx[i].peer == victim)
			ps->tx[i].peer = NULL;
	free(victim);
}

/* The stranger heard from least recently, to make room. */
static bool evict_stranger(struct titad_peers *ps)
{
	struct titad_peer *oldest = NULL;

	for (uint32_t b = 0; b < ps->n_buckets; b++)
		for (struct titad_peer *p = ps->buckets[b]; p; p = p->next)
			if (!p->known && (!oldest || p->last_active_ns < oldest->last_active_ns))
				oldest = p;
	if (!oldest)
		return false;
	peer_unlink(ps, oldest);
	return true;
}

static void make_known(struct titad_peers *ps, struct titad_peer *p)
{
	if (!p->known) {
		p->known = true;
		ps->n_strangers--;
	}
}

struct titad_peer *titad_peer_get(struct titad *d, const struct tita_addr *a, bool known,
				  uint64_t now_ns)
{
	struct titad_peers *ps = d->peers;
	struct titad_peer *p = titad_peer_find(d, a);
	uint32_t b;

	if (!ps)
		return NULL;
	if (p) {
		if (known)
			make_known(ps, p);
		p->last_active_ns = now_ns;
		return p;
	}
	if (!known && ps->n_strangers >= d->cfg.max_peers / 4 && !evict_stranger(ps))
		return NULL;
	if (ps->n_peers >= d->cfg.max_peers && !evict_stranger(ps))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->addr = *a;
	p->known = known;
	p->created_ns = now_ns;
	p->last_active_ns = now_ns;
	tita_wire_replay_init(&p->replay);
	b = addr_hash(a) & (ps->n_buckets - 1);
	p->next = ps->buckets[b];
	ps->buckets[b] = p;
	ps->n_peers++;
	if (!known)
		ps->n_strangers++;
	return p;
}

static void to_sockaddr(const struct tita_addr *a, uint16_t port, struct sockaddr_in6 *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->sin6_family = AF_INET6;
	ret->sin6_port = htons(port);
	memcpy(&ret->sin6_addr, a->bytes, sizeof(a->bytes));
}

static bool from_sockaddr(const struct sockaddr_storage *ss, struct tita_addr *ret)
{
	if (ss->ss_family == AF_INET6) {
		memcpy(ret->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return true;
	}
	if (ss->ss_family == AF_INET) {
		*ret = tita_addr_from_ipv4(
			(const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr.s_addr);
		return true;
	}
	return false;
}

static void log_drop(struct titad *d, struct titad_peer *p, const struct tita_addr *from,
		     enum tita_wire_error e, uint64_t now_ns)
{
	static struct tita_ratelimit untracked_rl;
	struct tita_ratelimit *rl = p ? &p->rl : &untracked_rl;
	char a[TITA_ADDR_STRLEN];
	uint64_t held;

	if (!tita_ratelimit_ok(rl, now_ns, LOG_INTERVAL_NS, LOG_BURST, &held))
		return;
	tita_format_addr(from, a, sizeof(a));
	if (held)
		log_warning("peer %s: dropped a datagram: %s (%llu more not logged)", a,
			    tita_wire_error_name(e), (unsigned long long)held);
	else
		log_warning("peer %s: dropped a datagram: %s", a, tita_wire_error_name(e));
}

static void on_datagram(struct titad *d, const struct tita_addr *from, const uint8_t *buf,
			size_t len, uint64_t now_ns, uint64_t arrived_ns)
{
	struct titad_peers *ps = d->peers;
	struct titad_peer *p = titad_peer_get(d, from, false, now_ns);
	struct tita_wire_replay scratch;
	struct tita_wire_msg m;
	enum tita_wire_error e;

	if (!p) {
		/* No room to track it: still authenticate, against a fresh
		 * window (a replay of an untracked source is harmless: its
		 * demands are refused anyway until it has a slot). */
		tita_wire_replay_init(&scratch);
	}
	e = tita_wire_decode(&d->keyring, p ? &p->replay : &scratch, from, buf, len, &m);
	if (e != TITA_WIRE_OK) {
		ps->totals.drops_by_reason[e < TITA_WIRE_E_COUNT ? e : 0]++;
		if (p) {
			p->drops++;
			p->drops_by_reason[e < TITA_WIRE_E_COUNT ? e : 0]++;
		} else {
			ps->totals.untracked_drops++;
		}
		log_drop(d, p, from, e, now_ns);
		return;
	}
	if (!p)
		return;
	make_known(ps, p);
	p->heard = true;
	p->last_heard_ns = now_ns;
	p->boot_id = m.hdr.boot_id;
	p->dgrams_in++;
	ps->totals.dgrams_in++;
	if (m.body == TITA_WIRE_BODY_HELLO) {
		p->control_interval_ns = m.hello.control_interval_ns;
		p->grant_ttl_ns = m.hello.grant_ttl_ns;
		return;
	}
	size_t pairs_before = tita_ctl_n_pairs(d->ctl);
	int r = tita_ctl_on_msg(d->ctl, &m.msg, now_ns);

	if (r < 0) {
		log_debug("peer: the controller refused a message: %s", strerror(-r));
		return;
	}
	if (m.msg.kind == TITA_MSG_DEMAND && tita_ctl_n_pairs(d->ctl) > pairs_before &&
	    !p->demand_pending_ns)
		p->demand_pending_ns = arrived_ns;
}

/* When the datagram reached the socket, on the monotonic clock: the
 * kernel's receive timestamp (wall clock) moved by the wall clock's lead,
 * so that a demand's time to its grant includes the time it waited to be
 * read. now_ns when there is none. */
static uint64_t arrival_ns(struct msghdr *mh, uint64_t now_ns, uint64_t real_ns)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		struct timespec ts;
		uint64_t at;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		at = (uint64_t)ts.tv_sec * TITA_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
		if (at > real_ns || real_ns - at > now_ns)
			return now_ns; /* the wall clock stepped */
		return now_ns - (real_ns - at);
	}
	return now_ns;
}

/* Read what the socket holds; how many datagrams. */
static int drain(struct titad *d, int fd)
{
	struct titad_peers *ps = d->peers;
	struct sockaddr_storage from[RX_BATCH];
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl[RX_BATCH];
	uint64_t now_ns, real_ns;
	int n, total = 0;

	/* A bounded number of batches per wake-up keeps timers on time under
	 * a flood; the socket stays readable and the loop comes back. */
	for (int round = 0; round < 8; round++) {
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = ps->rx_bufs[i];
			iov[i].iov_len = RX_BUF_BYTES;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_control = ctl[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
		}
		n = recvmmsg(fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		total += n;
		now_ns = tita_clock_mono_ns();
		real_ns = tita_clock_real_ns();
		for (int i = 0; i < n; i++) {
			struct tita_addr a;
			size_t len = msgs[i].msg_len;

			if (!from_sockaddr(&from[i], &a))
				continue;
			/* A truncated read is an oversized datagram: the codec
			 * rejects it by its length. */
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = TITA_WIRE_MAX_BYTES + 1;
			on_datagram(d, &a, ps->rx_bufs[i], len > RX_BUF_BYTES ? RX_BUF_BYTES : len,
				    now_ns, arrival_ns(&msgs[i].msg_hdr, now_ns, real_ns));
		}
		if (n < RX_BATCH)
			break;
	}
	return total;
}

static uint32_t sock_events(const struct titad *d)
{
	return d->cfg.peer_coalesce_ns ? EPOLLIN | EPOLLONESHOT : EPOLLIN;
}

/* The next coalescing poll: at most coalesce from now, on the grid of the
 * controller's rounds (a round, or a whole number of coalesce periods
 * before one) so that a poll shares its wake-up with a round when it can. */
static uint64_t next_poll_ns(const struct titad *d, uint64_t now_ns)
{
	uint64_t c = d->cfg.peer_coalesce_ns ? d->cfg.peer_coalesce_ns :
					       d->cfg.params.control_interval_ns;
	uint64_t interval = d->cfg.params.control_interval_ns;
	uint64_t round = tita_ctl_next_round_ns(d->ctl);

	/* A round due now runs after this poll, one interval before the next. */
	if (round <= now_ns)
		round += ((now_ns - round) / interval + 1) * interval;
	return round - (round - now_ns - 1) / c * c;
}

/* While polling, the loop's timerfd ticks at the poll period: when it
 * divides the interval, every poll and round falls on a tick and the
 * timerfd never needs re-arming. */
static void set_polling(struct titad *d, bool polling)
{
	uint64_t interval = d->cfg.params.control_interval_ns;
	uint64_t c = d->cfg.peer_coalesce_ns;

	tita_event_set_period(d->ev, polling && c && interval % c == 0 ? c : interval);
}

static void on_readable(void *data, int fd, uint32_t events)
{
	struct titad *d = data;
	struct titad_peers *ps = d->peers;

	(void)events;
	drain(d, fd);
	if (d->cfg.peer_coalesce_ns) {
		uint64_t now_ns = tita_clock_mono_ns();

		for (uint32_t i = 0; i < ps->n_socks; i++)
			if (ps->socks[i].fd == fd)
				ps->socks[i].armed = false;
		if (tita_event_timer_deadline(ps->t_poll) == TITA_TIME_NEVER) {
			tita_event_timer_set(d->ev, ps->t_poll, next_poll_ns(d, now_ns));
			set_polling(d, true);
		}
	}
	titad_kick(d, tita_clock_mono_ns());
}

/* The coalescing poll: a socket that held nothing goes back to waking the
 * loop; one that held datagrams is polled again one period later. */
static void on_poll(void *data, uint64_t now_ns)
{
	struct titad *d = data;
	struct titad_peers *ps = d->peers;
	bool polling = false;

	for (uint32_t i = 0; i < ps->n_socks; i++) {
		struct psock *s = &ps->socks[i];

		if (s->armed)
			continue;
		if (drain(d, s->fd) > 0 && d->cfg.peer_coalesce_ns) {
			polling = true;
			continue;
		}
		if (tita_event_fd_mod(d->ev, s->src, sock_events(d)) == 0)
			s->armed = true;
		else
			polling = true; /* cannot happen for a registered fd; keep polling */
	}
	if (polling)
		tita_event_timer_set(d->ev, ps->t_poll, next_poll_ns(d, now_ns));
	else
		set_polling(d, false);
	titad_kick(d, tita_clock_mono_ns());
}

static int sock_for(const struct titad_peers *ps, const struct tita_addr *to)
{
	bool v4 = tita_addr_is_ipv4(to);

	for (uint32_t i = 0; i < ps->n_socks; i++)
		if ((ps->socks[i].family == AF_INET) == v4)
			return (int)i;
	/* A dual-stack IPv6 socket reaches IPv4-mapped addresses too. */
	for (uint32_t i = 0; i < ps->n_socks; i++)
		if (ps->socks[i].family == AF_INET6)
			return (int)i;
	return -1;
}

void titad_peers_flush(struct titad *d)
{
	struct titad_peers *ps = d->peers;
	struct mmsghdr msgs[TX_BATCH];
	struct iovec iov[TX_BATCH];
	struct sockaddr_in sin[TX_BATCH];
	uint64_t now_ns;

	if (!ps || !ps->n_tx)
		return;
	memset(msgs, 0, sizeof(msgs));
	for (uint32_t s = 0; s < ps->n_socks; s++) {
		uint32_t n = 0;

		for (uint32_t i = 0; i < ps->n_tx; i++) {
			struct txq_entry *t = &ps->tx[i];
			struct tita_addr a;

			memcpy(a.bytes, &t->to.sin6_addr, 16);
			if (sock_for(ps, &a) != (int)s)
				continue;
			iov[n].iov_base = t->buf;
			iov[n].iov_len = t->len;
			msgs[n].msg_hdr.msg_iov = &iov[n];
			msgs[n].msg_hdr.msg_iovlen = 1;
			if (ps->socks[s].family == AF_INET) {
				memset(&sin[n], 0, sizeof(sin[n]));
				sin[n].sin_family = AF_INET;
				sin[n].sin_port = t->to.sin6_port;
				memcpy(&sin[n].sin_addr, &a.bytes[12], 4);
				msgs[n].msg_hdr.msg_name = &sin[n];
				msgs[n].msg_hdr.msg_namelen = sizeof(sin[n]);
			} else {
				msgs[n].msg_hdr.msg_name = &t->to;
				msgs[n].msg_hdr.msg_namelen = sizeof(t->to);
			}
			n++;
		}
		for (uint32_t off = 0; off < n;) {
			int sent = sendmmsg(ps->socks[s].fd, msgs + off, n - off, MSG_DONTWAIT);

			if (sent <= 0) {
				/* A full socket buffer or an unreachable peer:
				 * count and move on, the next refresh retries. */
				ps->totals.send_errors += n - off;
				break;
			}
			off += (uint32_t)sent;
		}
	}
	now_ns = tita_clock_mono_ns();
	for (uint32_t i = 0; i < ps->n_tx; i++) {
		struct txq_entry *t = &ps->tx[i];

		if (t->grant && t->peer && t->peer->demand_pending_ns) {
			titad_hist_observe(&d->grant_hist, now_ns - t->peer->demand_pending_ns);
			t->peer->demand_pending_ns = 0;
		}
	}
	ps->n_tx = 0;
}

static struct txq_entry *tx_slot(struct titad *d)
{
	struct titad_peers *ps = d->peers;

	if (ps->n_tx == TX_BATCH)
		titad_peers_flush(d);
	return &ps->tx[ps->n_tx];
}

void titad_peers_send_msg(struct titad *d, const struct tita_msg *m, uint64_t now_ns)
{
	struct titad_peers *ps = d->peers;
	struct titad_peer *p = titad_peer_get(d, &m->peer, true, now_ns);
	uint32_t start = 0;

	while (start < m->n_entries) {
		struct txq_entry *t = tx_slot(d);
		uint32_t consumed = 0;
		int n = tita_wire_encode_msg(&d->keyring, &d->sender, m, start, t->buf,
					     sizeof(t->buf), &consumed);

		if (n < 0) {
			log_debug("peer: cannot encode a message: %s", strerror(-n));
			return;
		}
		to_sockaddr(&m->peer, d->cfg.peer_port, &t->to);
		t->len = (size_t)n;
		t->peer = p;
		t->grant = m->kind == TITA_MSG_GRANT;
		ps->n_tx++;
		ps->totals.dgrams_out++;
		if (p)
			p->dgrams_out++;
		start += consumed;
	}
}

static void send_hello(struct titad *d, struct titad_peer *p)
{
	struct titad_peers *ps = d->peers;
	struct tita_wire_hello h = { 0 };
	struct txq_entry *t;
	int n;

	for (uint32_t i = 0; i < d->n_ports && i < TITA_WIRE_HELLO_MAX_PORTS; i++) {
		h.ports[h.n_ports].addr = d->ports[i].addr;
		h.ports[h.n_ports].line_rate_bps = d->ports[i].line_rate_bps;
		h.n_ports++;
	}
	h.control_interval_ns = d->cfg.params.control_interval_ns;
	h.grant_ttl_ns = d->cfg.params.grant_ttl_ns;
	t = tx_slot(d);
	n = tita_wire_encode_hello(&d->keyring, &d->sender, &h, t->buf, sizeof(t->buf));
	if (n < 0)
		return;
	to_sockaddr(&p->addr, d->cfg.peer_port, &t->to);
	t->len = (size_t)n;
	t->peer = p;
	t->grant = false;
	ps->n_tx++;
	ps->totals.dgrams_out++;
	p->dgrams_out++;
}

void titad_peers_housekeeping(struct titad *d, uint64_t now_ns)
{
	struct titad_peers *ps = d->peers;

	if (!ps)
		return;
	/* Nothing queued may point at a peer about to be freed. */
	titad_peers_flush(d);
	for (uint32_t b = 0; b < ps->n_buckets; b++) {
		struct titad_peer *p = ps->buckets[b];

		while (p) {
			struct titad_peer *next = p->next;
			uint64_t last = p->last_active_ns > p->last_heard_ns ? p->last_active_ns :
									       p->last_heard_ns;

			if (!p->is_static &&
			    now_ns - last > (p->known ? PEER_IDLE_NS : STRANGER_IDLE_NS)) {
				peer_unlink(ps, p);
			} else if (p->known && now_ns >= p->next_hello_ns) {
				send_hello(d, p);
				p->next_hello_ns = now_ns + HELLO_PERIOD_NS;
			}
			p = next;
		}
	}
	titad_peers_flush(d);
}

void titad_peers_reconfigure(struct titad *d, uint64_t now_ns)
{
	struct titad_peers *ps = d->peers;

	if (!ps)
		return;
	/* coalesce or the interval may have changed: back to waking on
	 * datagrams, as now set. */
	for (uint32_t i = 0; i < ps->n_socks; i++)
		if (ps->socks[i].src &&
		    tita_event_fd_mod(d->ev, ps->socks[i].src, sock_events(d)) == 0)
			ps->socks[i].armed = true;
	tita_event_timer_set(d->ev, ps->t_poll, TITA_TIME_NEVER);
	set_polling(d, false);
	for (uint32_t b = 0; b < ps->n_buckets; b++)
		for (struct titad_peer *p = ps->buckets[b]; p; p = p->next)
			p->is_static = false;
	for (uint32_t i = 0; i < d->cfg.n_static; i++) {
		struct titad_peer *p = titad_peer_get(d, &d->cfg.static_peers[i], true, now_ns);

		if (p)
			p->is_static = true;
	}
}

static int open_socket(struct titad *d, const struct tita_addr *bind_addr, struct psock *s,
		       char *err, size_t err_size)
{
	char a[TITA_ADDR_STRLEN];
	bool v4 = tita_addr_is_ipv4(bind_addr);
	int one = 1, zero = 0, fd;

	tita_format_addr(bind_addr, a, sizeof(a));
	fd = socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Arrival times for the demand-to-grant figure (arrival_ns). */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (v4) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons(d->cfg.peer_port) };

		memcpy(&sin.sin_addr, &bind_addr->bytes[12], 4);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			goto fail;
	} else {
		struct sockaddr_in6 sin6;

		/* "::" serves IPv4 peers too (IPv4-mapped). */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		to_sockaddr(bind_addr, d->cfg.peer_port, &sin6);
		if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)))
			goto fail;
	}
	s->fd = fd;
	s->family = v4 ? AF_INET : AF_INET6;
	s->src = tita_event_fd_add(d->ev, fd, sock_events(d), on_readable, d);
	if (!s->src)
		goto fail;
	s->armed = true;
	return 0;
fail : {
	int e = errno;

	snprintf(err, err_size, "peer socket [%s]:%u: %s", a, d->cfg.peer_port, strerror(e));
	if (fd >= 0)
		close(fd);
	s->fd = -1;
	return -e;
}
}

int titad_peers_open(struct titad *d, char *err, size_t err_size)
{
	struct titad_peers *ps = calloc(1, sizeof(*ps));
	struct tita_addr any = { { 0 } };
	uint32_t n;
	int r;

	if (!ps)
		return -ENOMEM;
	ps->d = d;
	for (n = 16; n < d->cfg.max_peers && n < (1u << 20); n <<= 1)
		;
	ps->n_buckets = n;
	ps->buckets = calloc(n, sizeof(*ps->buckets));
	if (!ps->buckets) {
		free(ps);
		return -ENOMEM;
	}
	d->peers = ps;
	ps->t_poll = tita_event_timer_new(d->ev, on_poll, d);
	if (!ps->t_poll)
		return -errno;
	if (!d->cfg.n_bind) {
		r = open_socket(d, &any, &ps->socks[0], err, err_size);
		if (r)
			return r;
		ps->n_socks = 1;
	}
	for (uint32_t i = 0; i < d->cfg.n_bind; i++) {
		r = open_socket(d, &d->cfg.bind[i], &ps->socks[i], err, err_size);
		if (r)
			return r;
		ps->n_socks = i + 1;
	}
	titad_peers_reconfigure(d, tita_clock_mono_ns());
	return 0;
}

void titad_peers_close(struct titad *d)
{
	struct titad_peers *ps = d->peers;

	if (!ps)
		return;
	titad_peers_flush(d);
	if (ps->t_poll)
		tita_event_timer_set(d->ev, ps->t_poll, TITA_TIME_NEVER);
	for (uint32_t i = 0; i < ps->n_socks; i++) {
		tita_event_fd_del(d->ev, ps->socks[i].src);
		if (ps->socks[i].fd >= 0)
			close(ps->socks[i].fd);
	}
	for (uint32_t b = 0; b < ps->n_buckets; b++) {
		while (ps->buckets[b]) {
			struct titad_peer *p = ps->buckets[b];

			ps->buckets[b] = p->next;
			free(p);
		}
	}
	free(ps->buckets);
	free(ps);
	d->peers = NULL;
}

size_t titad_peers_list(struct titad *d, struct titad_peer **out, size_t max)
{
	struct titad_peers *ps = d->peers;
	size_t n = 0;

	if (!ps)
		return 0;
	for (uint32_t b = 0; b < ps->n_buckets; b++)
		for (struct titad_peer *p = ps->buckets[b]; p; p = p->next) {
			if (n < max)
				out[n] = p;
			n++;
		}
	return n;
}

size_t titad_peers_count(const struct titad *d)
{
	return d->peers ? d->peers->n_peers : 0;
}

void titad_peers_totals(const struct titad *d, struct titad_peer_totals *ret)
{
	if (d->peers)
		*ret = d->peers->totals;
	else
		memset(ret, 0, sizeof(*ret));
}
