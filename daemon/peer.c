// SPDX-License-Identifier: MIT
/*
 * The peer protocol's I/O (see peer.h): UDP sockets read with recvmmsg and
 * written with sendmmsg, every datagram through the proto/ codec, and the
 * peer table.
 *
 * The table is bounded (max-peers) whatever arrives, and a peer holds its
 * place by what it proves, in three tiers, each an LRU list:
 *
 *   confirmed  static, or seen in telemetry (the datapath or the pacer's
 *              agents saw traffic with it): never evicted, only idle
 *   heard      an authenticated datagram came from it, nothing more: a
 *              key holder can make these from spoofed sources, so they
 *              are evicted, least recently heard first, when an
 *              authenticated datagram finds the table full
 *   stranger   only failures came from it: its failures are counted and
 *              its log lines rate-limited per source; at most a quarter
 *              of the table, evicted first
 *
 * A datagram that finds no slot is still authenticated (against a fresh
 * window) and counted, never acted on. Only accepted datagrams refresh a
 * peer's idle time, so rejected ones cannot hold a slot. When a confirmed
 * peer leaves, its replay state (boot id, top sequence number) is kept in
 * a bounded side table, and a peer that comes back resumes its window:
 * what was captured before cannot be replayed after.
 *
 * Boot ids are bounded by this host's wall clock plus boot-id-skew (a
 * forged 2^64-1 is refused, not installed), and a peer's older boot id is
 * taken as a restart once its current boot has been silent for
 * RESTART_GAP_NS: a daemon that restarted with its clock stepped back is
 * locked out that long at most.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "units.h"

#define RX_BATCH 32
#define TX_BATCH 64
#define RX_BUF_BYTES 2048
#define HELLO_PERIOD_NS (1 * TITA_NSEC_PER_SEC)
/* Peers heard under a new boot id that get our hello at once, a hello
 * period: a leaf's members restarting together (32 NICs a leaf). */
#define HELLO_NOW_BURST 32
/* A peer that nothing has shown for this long leaves the table. */
#define PEER_IDLE_NS (60 * TITA_NSEC_PER_SEC)
#define STRANGER_IDLE_NS (10 * TITA_NSEC_PER_SEC)
#define LOG_INTERVAL_NS (10 * TITA_NSEC_PER_SEC)
#define LOG_BURST 3
/* A boot id older than the current one is a restart after this much
 * silence of the current boot: three hello periods. */
#define RESTART_GAP_NS (3 * HELLO_PERIOD_NS)

enum tier {
	TIER_STRANGER = 0,
	TIER_HEARD,
	TIER_CONFIRMED,
	TIER_COUNT,
};

struct peer {
	struct peer *next; /* hash chain */
	struct peer *lru_prev, *lru_next; /* in its tier, least recent first */
	struct tita_addr addr;
	uint8_t tier; /* enum tier */
	bool is_static;
	bool heard; /* an authenticated datagram arrived */
	uint64_t created_ns, last_heard_ns, last_active_ns;
	uint64_t boot_id;
	/* The peer showed, under boot v2_boot_id, that it decodes version 2
	 * (a version-2 datagram, or a hello that says so): what it is sent
	 * is chosen by wire_version_for(). */
	bool decodes_v2;
	uint64_t v2_boot_id;
	struct tita_wire_replay replay;
	uint64_t dgrams_in, dgrams_out, drops;
	uint64_t control_interval_ns, grant_ttl_ns; /* from its hello */
	uint64_t next_hello_ns;
	uint64_t demand_pending_ns; /* a new pair's demand waits for its grant */
	struct tita_ratelimit rl;
	/* Last: what only a drop touches stays out of the lines every
	 * datagram reads. */
	uint64_t drops_by_reason[TITA_WIRE_E_COUNT];
};

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
	struct peer *peer;
	bool grant; /* answers a pending demand */
	uint8_t buf[TITA_WIRE_MAX_BYTES];
};

struct titad_peers {
	struct tita_event *ev;
	struct titad_peers_ports ports;
	const struct titad_peers_hooks *hooks;
	void *hooks_ctx;

	/* From the config. */
	uint16_t port;
	uint32_t max_peers;
	uint64_t coalesce_ns, interval_ns, grant_ttl_ns;
	uint32_t leaf_leaders; /* what hellos say ([controller] leaf-leaders) */

	struct tita_wire_keyring keyring;
	struct tita_wire_sender sender;

	uint32_t n_socks;
	struct psock socks[TITAD_MAX_BIND];

	uint32_t n_buckets; /* power of two */
	struct peer **buckets;
	size_t n_peers;
	struct {
		struct peer *head, *tail;
		size_t n;
	} lru[TIER_COUNT];
	/* The replay state of confirmed peers that left: n_buckets slots,
	 * direct-mapped by address. */
	struct ghost {
		struct tita_addr addr;
		uint64_t boot_id, top_seq;
	} * ghosts;
	uint64_t boot_id_skew_ns;
	uint8_t wire_version; /* [peers] wire-version: 0 auto, 1, 2 */

	struct tita_timer *t_poll;

	uint32_t n_tx;
	struct txq_entry tx[TX_BATCH];

	struct titad_hist grant_hist;

	struct titad_peer_totals totals;
	struct tita_ratelimit untracked_rl;
	/* Hellos sent at once to a peer heard under a new boot id. */
	struct tita_ratelimit hello_now_rl;

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

static struct peer *peer_find(const struct titad_peers *ps, const struct tita_addr *a)
{
	for (struct peer *p = ps->buckets[addr_hash(a) & (ps->n_buckets - 1)]; p; p = p->next)
		if (tita_addr_eq(&p->addr, a))
			return p;
	return NULL;
}

static void lru_remove(struct titad_peers *ps, struct peer *p)
{
	if (p->lru_prev)
		p->lru_prev->lru_next = p->lru_next;
	else
		ps->lru[p->tier].head = p->lru_next;
	if (p->lru_next)
		p->lru_next->lru_prev = p->lru_prev;
	else
		ps->lru[p->tier].tail = p->lru_prev;
	p->lru_prev = p->lru_next = NULL;
	ps->lru[p->tier].n--;
}

static void lru_append(struct titad_peers *ps, struct peer *p, enum tier tier)
{
	p->tier = (uint8_t)tier;
	p->lru_prev = ps->lru[tier].tail;
	p->lru_next = NULL;
	if (p->lru_prev)
		p->lru_prev->lru_next = p;
	else
		ps->lru[tier].head = p;
	ps->lru[tier].tail = p;
	ps->lru[tier].n++;
}

/* p is active now: the most recent of its tier, or of a higher one. */
static void touch(struct titad_peers *ps, struct peer *p, enum tier at_least, uint64_t now_ns)
{
	lru_remove(ps, p);
	lru_append(ps, p, p->tier > at_least ? (enum tier)p->tier : at_least);
	p->last_active_ns = now_ns;
}

static struct ghost *ghost_slot(const struct titad_peers *ps, const struct tita_addr *a)
{
	return &ps->ghosts[addr_hash(a) & (ps->n_buckets - 1)];
}

static void peer_unlink(struct titad_peers *ps, struct peer *victim)
{
	struct peer **pp = &ps->buckets[addr_hash(&victim->addr) & (ps->n_buckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == victim) {
			*pp = victim->next;
			break;
		}
	}
	/* A peer whose traffic proved it real keeps its replay state: its
	 * captured datagrams stay refused when it comes back. */
	if (victim->tier == TIER_CONFIRMED && victim->replay.primed)
		*ghost_slot(ps, &victim->addr) = (struct ghost){ victim->addr,
								 victim->replay.boot_id,
								 victim->replay.top_seq };
	lru_remove(ps, victim);
	ps->n_peers--;
	/* Datagrams queued for it are about to go: forget the pointer. */
	for (uint32_t i = 0; i < ps->n_tx; i++)
		if (ps->tx[i].peer == victim)
			ps->tx[i].peer = NULL;
	free(victim);
}

/* Make room by evicting the least recent peer of a tier. */
static bool evict(struct titad_peers *ps, enum tier tier)
{
	if (!ps->lru[tier].head)
		return false;
	peer_unlink(ps, ps->lru[tier].head);
	return true;
}

/* A new entry in tier; NULL when there is no room for it. */
static struct peer *peer_new(struct titad_peers *ps, const struct tita_addr *a, enum tier tier,
			     uint64_t now_ns)
{
	const struct ghost *g = ghost_slot(ps, a);
	struct peer *p;
	uint32_t b;

	if (tier == TIER_STRANGER && ps->lru[TIER_STRANGER].n >= ps->max_peers / 4 &&
	    !evict(ps, TIER_STRANGER))
		return NULL;
	/* Full: strangers go first; an authenticated or confirmed peer may
	 * take the place of one that is only heard. */
	if (ps->n_peers >= ps->max_peers && !evict(ps, TIER_STRANGER) &&
	    (tier == TIER_STRANGER || !evict(ps, TIER_HEARD)))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->addr = *a;
	p->created_ns = now_ns;
	p->last_active_ns = now_ns;
	if (tita_addr_eq(&g->addr, a) && g->boot_id)
		tita_wire_replay_resume(&p->replay, g->boot_id, g->top_seq);
	else
		tita_wire_replay_init(&p->replay);
	b = addr_hash(a) & (ps->n_buckets - 1);
	p->next = ps->buckets[b];
	ps->buckets[b] = p;
	ps->n_peers++;
	lru_append(ps, p, tier);
	return p;
}

/* Find, or create at tier (bounded; NULL when there is no room); a peer
 * found is promoted to tier and refreshed. */
static struct peer *peer_get(struct titad_peers *ps, const struct tita_addr *a, enum tier tier,
			     uint64_t now_ns)
{
	struct peer *p = peer_find(ps, a);

	if (!p)
		return peer_new(ps, a, tier, now_ns);
	touch(ps, p, tier, now_ns);
	return p;
}

void titad_peers_seen(struct titad_peers *ps, const struct tita_addr *a, uint64_t now_ns)
{
	peer_get(ps, a, TIER_CONFIRMED, now_ns);
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

static void log_drop(struct titad_peers *ps, struct peer *p, const struct tita_addr *from,
		     enum tita_wire_error e, uint64_t now_ns)
{
	struct tita_ratelimit *rl = p ? &p->rl : &ps->untracked_rl;
	char a[TITA_ADDR_STRLEN];
	uint64_t held;

	if (!tita_ratelimit_ok(rl, now_ns, LOG_INTERVAL_NS, LOG_BURST, &held))
		return;
	tita_format_addr(from, a, sizeof(a));
	log_warning("peer %s: dropped a datagram: %s%s (%llu more not logged)", a,
		    e < TITA_WIRE_E_COUNT ? tita_wire_error_name(e) : "no slot in the peer table",
		    e == TITA_WIRE_E_BOOT_AHEAD ? " (its clock is ahead of ours by more than "
						  "boot-id-skew; check NTP)" :
						  "",
		    (unsigned long long)held);
}

/*
 * What an accepted datagram says about the framing its sender decodes.
 * Version 2 (or a hello that says it decodes 2, in either framing): it
 * does, for as long as it runs under this boot id. A hello without that,
 * or a version-1 datagram under another boot id (the peer restarted, as
 * an older titad perhaps): it may not, and it is sent version 1 until it
 * shows otherwise. A version-1 datagram under the boot that showed
 * version 2 changes nothing: a version-2 node writes version 1 to a node
 * it has not heard from yet, and datagrams overtake each other.
 */
static void learn_version(struct peer *p, const struct tita_wire_msg *m)
{
	bool hello = m->body == TITA_WIRE_BODY_HELLO;

	if (m->hdr.version >= TITA_WIRE_VERSION ||
	    (hello && m->hello.wire_version >= TITA_WIRE_VERSION)) {
		p->decodes_v2 = true;
		p->v2_boot_id = m->hdr.boot_id;
	} else if (hello || m->hdr.boot_id != p->v2_boot_id) {
		p->decodes_v2 = false;
	}
}

/*
 * The framing a datagram to p is written in: the one configured, else
 * version 2 to a peer known to decode it, else version 1, which every
 * titad decodes (and a peer not in the table gets).
 */
static uint8_t wire_version_for(const struct titad_peers *ps, const struct peer *p)
{
	if (ps->wire_version)
		return ps->wire_version;
	return p && p->decodes_v2 ? TITA_WIRE_VERSION : TITA_WIRE_V1_VERSION;
}

static void send_hello(struct titad_peers *ps, struct peer *p, uint64_t now_ns);

void titad_peers_input(struct titad_peers *ps, const struct tita_addr *from, const uint8_t *buf,
		       size_t len, uint64_t now_ns, uint64_t arrived_ns)
{
	/* Found, or a stranger's slot; a rejected datagram refreshes neither
	 * its idle time nor its place. */
	struct peer *p = peer_find(ps, from);
	struct tita_wire_replay scratch, *replay;
	struct tita_wire_msg m;
	enum tita_wire_error e;
	uint64_t held_back;
	bool new_boot;
	int r;

	if (!p)
		p = peer_new(ps, from, TIER_STRANGER, now_ns);
	if (p) {
		replay = &p->replay;
		replay->restart_ok = p->heard && now_ns - p->last_heard_ns > RESTART_GAP_NS;
	} else {
		/* No room to track it: still authenticate, against the window
		 * it would get, to count it right. */
		const struct ghost *g = ghost_slot(ps, from);

		if (tita_addr_eq(&g->addr, from) && g->boot_id)
			tita_wire_replay_resume(&scratch, g->boot_id, g->top_seq);
		else
			tita_wire_replay_init(&scratch);
		replay = &scratch;
	}
	replay->boot_id_max = tita_event_real_ns(ps->ev) + ps->boot_id_skew_ns;
	e = tita_wire_decode(&ps->keyring, replay, from, buf, len, &m);
	if (e != TITA_WIRE_OK) {
		ps->totals.drops_by_reason[e < TITA_WIRE_E_COUNT ? e : 0]++;
		if (p) {
			p->drops++;
			p->drops_by_reason[e < TITA_WIRE_E_COUNT ? e : 0]++;
		} else {
			ps->totals.untracked_drops++;
		}
		log_drop(ps, p, from, e, now_ns);
		return;
	}
	/* Authenticated: a stranger's slot becomes a heard peer's; with none,
	 * one that is only heard makes room. */
	if (!p) {
		p = peer_new(ps, from, TIER_HEARD, now_ns);
		if (p)
			p->replay = scratch;
	}
	if (!p) {
		ps->totals.no_slot++;
		log_drop(ps, NULL, from, TITA_WIRE_E_COUNT, now_ns);
		return;
	}
	touch(ps, p, TIER_HEARD, now_ns);
	if (p->heard && p->boot_id != m.hdr.boot_id) {
		char a[TITA_ADDR_STRLEN];

		log_notice("peer %s: restarted (boot id %llu, was %llu)",
			   tita_format_addr(from, a, sizeof(a)), (unsigned long long)m.hdr.boot_id,
			   (unsigned long long)p->boot_id);
	}
	/* What it said of itself (its leaf leaders) may not hold now. */
	new_boot = !p->heard || p->boot_id != m.hdr.boot_id;
	if (new_boot && ps->hooks->on_boot)
		ps->hooks->on_boot(ps->hooks_ctx, from, now_ns);
	p->heard = true;
	p->last_heard_ns = now_ns;
	p->boot_id = m.hdr.boot_id;
	learn_version(p, &m);
	p->dgrams_in++;
	ps->totals.dgrams_in++;
	/* A peer that (re)started knows nothing of us: our hello now, not at
	 * the next second, so that it learns what we decode and the leaders
	 * we follow within a round trip (its leaf keeps one leader, the
	 * lowest, until it has every member's hello). Once a boot. */
	/* Bounded (HELLO_NOW_BURST a hello period): a key holder's valid
	 * hellos from spoofed sources are each a new boot, and answering
	 * every one at once doubled titad's sends under such a flood (the
	 * bed's redteam-peers: h2's grants lapsed). The rest hear us at the
	 * next period, as before. */
	if (new_boot && tita_ratelimit_ok(&ps->hello_now_rl, now_ns, HELLO_PERIOD_NS,
					  HELLO_NOW_BURST, &held_back)) {
		send_hello(ps, p, now_ns);
		p->next_hello_ns = now_ns + HELLO_PERIOD_NS;
	}
	if (m.body == TITA_WIRE_BODY_HELLO) {
		p->control_interval_ns = m.hello.control_interval_ns;
		p->grant_ttl_ns = m.hello.grant_ttl_ns;
		if (ps->hooks->on_hello)
			ps->hooks->on_hello(ps->hooks_ctx, from, &m.hello, now_ns);
		return;
	}
	r = ps->hooks->on_msg(ps->hooks_ctx, &m.msg, now_ns);
	if (r < 0) {
		log_debug("peer: the controller refused a message: %s", strerror(-r));
		return;
	}
	if (r > 0 && !p->demand_pending_ns)
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
			return now_ns; /* after the batch's clock read, or the wall clock stepped */
		return now_ns - (real_ns - at);
	}
	return now_ns;
}

/* Read what the socket holds; how many datagrams. */
static int drain(struct titad_peers *ps, int fd, uint64_t now_ns)
{
	struct sockaddr_storage from[RX_BATCH];
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl[RX_BATCH];
	uint64_t real_ns = 0;
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
		if (!real_ns)
			real_ns = tita_event_real_ns(ps->ev);
		for (int i = 0; i < n; i++) {
			struct tita_addr a;
			size_t len = msgs[i].msg_len;

			if (!from_sockaddr(&from[i], &a))
				continue;
			/* A truncated read is an oversized datagram: the codec
			 * rejects it by its length. */
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = TITA_WIRE_MAX_BYTES + 1;
			titad_peers_input(ps, &a, ps->rx_bufs[i],
					  len > RX_BUF_BYTES ? RX_BUF_BYTES : len, now_ns,
					  arrival_ns(&msgs[i].msg_hdr, now_ns, real_ns));
		}
		if (n < RX_BATCH)
			break;
	}
	return total;
}

static uint32_t sock_events(const struct titad_peers *ps)
{
	return ps->coalesce_ns ? EPOLLIN | EPOLLONESHOT : EPOLLIN;
}

/* The next coalescing poll: at most coalesce from now, on the grid of the
 * controller's rounds (a round, or a whole number of coalesce periods
 * before one) so that a poll shares its wake-up with a round when it can. */
static uint64_t next_poll_ns(const struct titad_peers *ps, uint64_t now_ns)
{
	uint64_t c = ps->coalesce_ns ? ps->coalesce_ns : ps->interval_ns;
	uint64_t interval = ps->interval_ns;
	uint64_t round = ps->hooks->next_round_ns(ps->hooks_ctx);

	/* A round due now runs after this poll, one interval before the next. */
	if (round <= now_ns)
		round += ((now_ns - round) / interval + 1) * interval;
	return round - (round - now_ns - 1) / c * c;
}

/* While polling, the loop's timerfd ticks at the poll period: when it
 * divides the interval, every poll and round falls on a tick and the
 * timerfd never needs re-arming. */
static void set_polling(struct titad_peers *ps, bool polling)
{
	uint64_t interval = ps->interval_ns;
	uint64_t c = ps->coalesce_ns;

	tita_event_set_period(ps->ev, polling && c && interval % c == 0 ? c : interval);
}

static void kick(struct titad_peers *ps, uint64_t now_ns)
{
	ps->hooks->kick(ps->hooks_ctx, now_ns);
}

static void on_readable(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct titad_peers *ps = data;

	(void)events;
	drain(ps, fd, now_ns);
	if (ps->coalesce_ns) {
		for (uint32_t i = 0; i < ps->n_socks; i++)
			if (ps->socks[i].fd == fd)
				ps->socks[i].armed = false;
		if (tita_event_timer_deadline(ps->t_poll) == TITA_TIME_NEVER) {
			tita_event_timer_set(ps->ev, ps->t_poll, next_poll_ns(ps, now_ns));
			set_polling(ps, true);
		}
	}
	kick(ps, now_ns);
}

/* The coalescing poll: a socket that held nothing goes back to waking the
 * loop; one that held datagrams is polled again one period later. */
static void on_poll(void *data, uint64_t now_ns)
{
	struct titad_peers *ps = data;
	bool polling = false;

	for (uint32_t i = 0; i < ps->n_socks; i++) {
		struct psock *s = &ps->socks[i];

		if (s->armed)
			continue;
		if (drain(ps, s->fd, now_ns) > 0 && ps->coalesce_ns) {
			polling = true;
			continue;
		}
		if (tita_event_fd_mod(ps->ev, s->src, sock_events(ps)) == 0)
			s->armed = true;
		else
			polling = true; /* cannot happen for a registered fd; keep polling */
	}
	if (polling)
		tita_event_timer_set(ps->ev, ps->t_poll, next_poll_ns(ps, now_ns));
	else
		set_polling(ps, false);
	kick(ps, now_ns);
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

void titad_peers_flush(struct titad_peers *ps, uint64_t now_ns)
{
	struct mmsghdr msgs[TX_BATCH];
	struct iovec iov[TX_BATCH];
	struct sockaddr_in sin[TX_BATCH];
	uint64_t sent_ns;

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
	/* The batch's now_ns, plus how long it has run: when they left. */
	sent_ns = now_ns + tita_event_elapsed_ns(ps->ev);
	for (uint32_t i = 0; i < ps->n_tx; i++) {
		struct txq_entry *t = &ps->tx[i];

		if (t->grant && t->peer && t->peer->demand_pending_ns) {
			titad_hist_observe(&ps->grant_hist,
					   sent_ns > t->peer->demand_pending_ns ?
						   sent_ns - t->peer->demand_pending_ns :
						   0);
			t->peer->demand_pending_ns = 0;
		}
	}
	ps->n_tx = 0;
}

static struct txq_entry *tx_slot(struct titad_peers *ps, uint64_t now_ns)
{
	if (ps->n_tx == TX_BATCH)
		titad_peers_flush(ps, now_ns);
	return &ps->tx[ps->n_tx];
}

void titad_peers_send(struct titad_peers *ps, const struct tita_msg *m, uint64_t now_ns)
{
	/* The controller talks to peers the telemetry or their datagrams
	 * put in the table; one that left is still sent to, not counted. */
	struct peer *p = peer_find(ps, &m->peer);
	uint32_t start = 0;

	while (start < m->n_entries) {
		struct txq_entry *t = tx_slot(ps, now_ns);
		uint32_t consumed = 0;
		int n = tita_wire_encode_msg_version(&ps->keyring, &ps->sender,
						     wire_version_for(ps, p), m, start, t->buf,
						     sizeof(t->buf), &consumed);

		if (n < 0) {
			log_debug("peer: cannot encode a message: %s", strerror(-n));
			return;
		}
		to_sockaddr(&m->peer, ps->port, &t->to);
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

static void send_hello(struct titad_peers *ps, struct peer *p, uint64_t now_ns)
{
	struct tita_wire_hello h = { 0 };
	struct txq_entry *t;
	int n;

	h.n_ports = ps->ports.n;
	memcpy(h.ports, ps->ports.ports, sizeof(h.ports));
	h.control_interval_ns = ps->interval_ns;
	h.grant_ttl_ns = ps->grant_ttl_ns;
	h.leaf_leaders = ps->leaf_leaders;
	t = tx_slot(ps, now_ns);
	n = tita_wire_encode_hello_version(&ps->keyring, &ps->sender, wire_version_for(ps, p), &h,
					   t->buf, sizeof(t->buf));
	if (n < 0)
		return;
	to_sockaddr(&p->addr, ps->port, &t->to);
	t->len = (size_t)n;
	t->peer = p;
	t->grant = false;
	ps->n_tx++;
	ps->totals.dgrams_out++;
	p->dgrams_out++;
}

void titad_peers_housekeeping(struct titad_peers *ps, uint64_t now_ns)
{
	/* Nothing queued may point at a peer about to be freed. */
	titad_peers_flush(ps, now_ns);
	for (uint32_t b = 0; b < ps->n_buckets; b++) {
		struct peer *p = ps->buckets[b];

		while (p) {
			struct peer *next = p->next;
			uint64_t last = p->last_active_ns > p->last_heard_ns ? p->last_active_ns :
									       p->last_heard_ns;
			/* A time after now_ns is no idle time (one clock per
			 * wake-up makes it impossible; this keeps it so). */
			uint64_t idle = now_ns > last ? now_ns - last : 0;

			if (!p->is_static &&
			    idle > (p->tier != TIER_STRANGER ? PEER_IDLE_NS : STRANGER_IDLE_NS)) {
				peer_unlink(ps, p);
			} else if (p->tier != TIER_STRANGER && now_ns >= p->next_hello_ns) {
				send_hello(ps, p, now_ns);
				p->next_hello_ns = now_ns + HELLO_PERIOD_NS;
			}
			p = next;
		}
	}
	titad_peers_flush(ps, now_ns);
}

void titad_peers_reconfigure(struct titad_peers *ps, const struct titad_config *cfg,
			     const struct titad_peers_ports *ports,
			     const struct tita_wire_keyring *kr, uint64_t now_ns)
{
	if (ports)
		ps->ports = *ports;
	ps->coalesce_ns = cfg->peer_coalesce_ns;
	ps->interval_ns = cfg->params.control_interval_ns;
	ps->grant_ttl_ns = cfg->params.grant_ttl_ns;
	ps->leaf_leaders = cfg->params.leaf_leaders;
	ps->boot_id_skew_ns = cfg->boot_id_skew_ns;
	ps->wire_version = cfg->wire_version;
	if (kr) {
		tita_wire_keyring_clear(&ps->keyring);
		ps->keyring = *kr;
	}
	ps->sender.key_id = cfg->key_id;
	/* coalesce or the interval may have changed: back to waking on
	 * datagrams, as now set. */
	for (uint32_t i = 0; i < ps->n_socks; i++)
		if (ps->socks[i].src &&
		    tita_event_fd_mod(ps->ev, ps->socks[i].src, sock_events(ps)) == 0)
			ps->socks[i].armed = true;
	tita_event_timer_set(ps->ev, ps->t_poll, TITA_TIME_NEVER);
	set_polling(ps, false);
	for (uint32_t b = 0; b < ps->n_buckets; b++)
		for (struct peer *p = ps->buckets[b]; p; p = p->next)
			p->is_static = false;
	for (uint32_t i = 0; i < cfg->n_static; i++) {
		struct peer *p = peer_get(ps, &cfg->static_peers[i], TIER_CONFIRMED, now_ns);

		if (p)
			p->is_static = true;
	}
}

static int open_socket(struct titad_peers *ps, const struct tita_addr *bind_addr, struct psock *s,
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
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(ps->port) };

		memcpy(&sin.sin_addr, &bind_addr->bytes[12], 4);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			goto fail;
	} else {
		struct sockaddr_in6 sin6;

		/* "::" serves IPv4 peers too (IPv4-mapped). */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		to_sockaddr(bind_addr, ps->port, &sin6);
		if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)))
			goto fail;
	}
	s->fd = fd;
	s->family = v4 ? AF_INET : AF_INET6;
	s->src = tita_event_fd_add(ps->ev, fd, sock_events(ps), on_readable, ps);
	if (!s->src)
		goto fail;
	s->armed = true;
	return 0;
fail : {
	int e = errno;

	snprintf(err, err_size, "peer socket [%s]:%u: %s", a, ps->port, strerror(e));
	if (fd >= 0)
		close(fd);
	s->fd = -1;
	return -e;
}
}

int titad_peers_open(struct titad_peers **ret, struct tita_event *ev,
		     const struct titad_config *cfg, const struct titad_peers_ports *ports,
		     const struct tita_wire_keyring *kr, uint64_t boot_id,
		     const struct titad_peers_hooks *hooks, void *hooks_ctx, uint64_t now_ns,
		     char *err, size_t err_size)
{
	struct titad_peers *ps = calloc(1, sizeof(*ps));
	struct tita_addr any = { { 0 } };
	uint32_t n;
	int r;

	*ret = ps;
	if (!ps)
		return -ENOMEM;
	ps->ev = ev;
	ps->hooks = hooks;
	ps->hooks_ctx = hooks_ctx;
	ps->port = cfg->peer_port;
	ps->max_peers = cfg->max_peers;
	ps->coalesce_ns = cfg->peer_coalesce_ns;
	ps->interval_ns = cfg->params.control_interval_ns;
	ps->grant_ttl_ns = cfg->params.grant_ttl_ns;
	ps->sender.boot_id = boot_id;
	ps->sender.key_id = cfg->key_id;
	ps->sender.seq = 1;
	titad_hist_init(&ps->grant_hist);
	tita_wire_keyring_init(&ps->keyring);
	if (kr)
		ps->keyring = *kr;
	for (n = 16; n < cfg->max_peers && n < (1u << 20); n <<= 1)
		;
	ps->n_buckets = n;
	ps->buckets = calloc(n, sizeof(*ps->buckets));
	ps->ghosts = calloc(n, sizeof(*ps->ghosts));
	if (!ps->buckets || !ps->ghosts) {
		snprintf(err, err_size, "peers: out of memory");
		return -ENOMEM;
	}
	ps->t_poll = tita_event_timer_new(ev, on_poll, ps);
	if (!ps->t_poll) {
		snprintf(err, err_size, "peers: too many timers");
		return -ENOSPC;
	}
	if (!cfg->n_bind) {
		r = open_socket(ps, &any, &ps->socks[0], err, err_size);
		if (r)
			return r;
		ps->n_socks = 1;
	}
	for (uint32_t i = 0; i < cfg->n_bind; i++) {
		r = open_socket(ps, &cfg->bind[i], &ps->socks[i], err, err_size);
		if (r)
			return r;
		ps->n_socks = i + 1;
	}
	titad_peers_reconfigure(ps, cfg, ports, NULL, now_ns);
	return 0;
}

struct titad_peers *titad_peers_close(struct titad_peers *ps)
{
	if (!ps)
		return NULL;
	titad_peers_flush(ps, 0);
	if (ps->t_poll)
		tita_event_timer_set(ps->ev, ps->t_poll, TITA_TIME_NEVER);
	for (uint32_t i = 0; i < ps->n_socks; i++) {
		tita_event_fd_del(ps->ev, ps->socks[i].src);
		if (ps->socks[i].fd >= 0)
			close(ps->socks[i].fd);
	}
	for (uint32_t b = 0; ps->buckets && b < ps->n_buckets; b++) {
		while (ps->buckets[b]) {
			struct peer *p = ps->buckets[b];

			ps->buckets[b] = p->next;
			free(p);
		}
	}
	tita_wire_keyring_clear(&ps->keyring);
	free(ps->buckets);
	free(ps->ghosts);
	free(ps);
	return NULL;
}

size_t titad_peers_count(const struct titad_peers *ps)
{
	return ps ? ps->n_peers : 0;
}

size_t titad_peers_list(const struct titad_peers *ps, struct titad_peer_info *out, size_t max,
			uint64_t now_ns)
{
	size_t n = 0;

	for (uint32_t b = 0; ps && b < ps->n_buckets; b++)
		for (const struct peer *p = ps->buckets[b]; p; p = p->next, n++) {
			struct titad_peer_info *i = &out[n];

			if (n >= max)
				continue;
			memset(i, 0, sizeof(*i));
			i->addr = p->addr;
			i->heard = p->heard;
			i->last_heard_ago_ns = p->heard && now_ns > p->last_heard_ns ?
						       now_ns - p->last_heard_ns :
						       0;
			i->boot_id = p->boot_id;
			i->dgrams_in = p->dgrams_in;
			i->dgrams_out = p->dgrams_out;
			i->drops = p->drops;
			memcpy(i->drops_by_reason, p->drops_by_reason, sizeof(i->drops_by_reason));
			i->control_interval_ns = p->control_interval_ns;
			i->grant_ttl_ns = p->grant_ttl_ns;
			i->wire_version = wire_version_for(ps, p);
		}
	return n;
}

void titad_peers_totals(const struct titad_peers *ps, struct titad_peer_totals *ret)
{
	if (ps)
		*ret = ps->totals;
	else
		memset(ret, 0, sizeof(*ret));
}

void titad_peers_identity(const struct titad_peers *ps, struct titad_peers_identity *ret)
{
	ret->boot_id = ps->sender.boot_id;
	ret->key_id = ps->sender.key_id;
	ret->n_key_ids = ps->keyring.n_keys;
	for (uint32_t i = 0; i < ps->keyring.n_keys; i++)
		ret->key_ids[i] = ps->keyring.keys[i].id;
}

void titad_peers_grant_hist(const struct titad_peers *ps, struct titad_hist *ret)
{
	*ret = ps->grant_hist;
}
