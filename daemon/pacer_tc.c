// SPDX-License-Identifier: MIT
/*
 * The tc back end: per-destination HTB classes on each port's egress
 * netdev, through libnl-route-3, selected by tita's tc egress program.
 *
 * Layout (bpf/tx.bpf.c explains the classification):
 *
 *   root qdisc  7174: htb default 1        TITA_TC_MAJOR: marks it as ours
 *   class       7174:1     line rate        unpaced and unclassified traffic
 *   class       7174:N     rate = ceil      one per paced destination
 *
 * and the datapath's tita_tx_class map sends packets to a destination into
 * its class (skb->priority = 7174:N). A rate change is an in-place class
 * change (RTM_NEWTCLASS without NLM_F_CREATE), never delete and re-add, so
 * the class's queue and its counters survive.
 *
 * HTB paces per destination, not per job: the class of a destination runs
 * at the sum of the rates of the jobs paced towards it (jobs that share a
 * destination share its queue; the qp back end separates them).
 *
 * Expiry: a class-map entry carries an expiry (bpf/tita_shared.h), the
 * grant TTL after the pacer last renewed it; keepalive renews them all in
 * one batch a quarter TTL before. When titad is gone (kill -9) the entries
 * lapse within the TTL and the traffic runs unpaced, as a lapsed grant
 * does, though the HTB classes stay until the next titad removes them.
 *
 * Ownership: the fixed major number is how a later titad recognises rules
 * that an earlier one left behind (a crash, a kill -9): init replaces a
 * root HTB 7174: and drops every class-map entry that names it, and
 * refuses to replace any other configured root qdisc. cleanup removes the
 * classification entries first, so packets fall back to the default class
 * before their class disappears, then the root qdisc with all its classes.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/pkt_sched.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacer.h"
#include "tita_bpf.h"

#define TITA_TC_MAJOR 0x7174u
#define TITA_TC_CLASSID(minor) (((uint32_t)TITA_TC_MAJOR << 16) | (minor))
#define DEFAULT_MINOR 1u
#define MAX_MINOR 0xfffeu
/* HTB's DRR quantum only matters when classes borrow; ours never do
 * (rate == ceil), so a fixed value that keeps the kernel quiet. */
#define QUANTUM_BYTES 64000u

struct tc_dest {
	uint32_t port;
	struct tita_addr remote;
	uint16_t minor;
	uint64_t rate_bps; /* as programmed */
	uint64_t burst_bytes; /* its buffer beyond the default, as programmed */
	uint64_t backlog_bytes; /* queued in its class at the last read */
	/* No longer paced: unclassified, its class open at line rate until
	 * what it holds has left; deleting it at once would drop that. */
	bool draining;
};

struct tc_port {
	bool installed;
	uint8_t minors[(MAX_MINOR + 8) / 8];
};

struct tc_state {
	struct nl_sock *sk;
	struct tc_port *ports;
	size_t n_dests, cap_dests;
	struct tc_dest *dests;
	struct tita_rule_table rules;
	uint64_t backlog_read_ns; /* when the classes' queues were last read */
	uint64_t renew_ns; /* the class map's next renewal */
};

static int nl2errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
	case NLE_RANGE:
		return -EINVAL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

static struct rtnl_qdisc *root_qdisc_new(int ifindex)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), TITA_TC_CLASSID(0));
	if (rtnl_tc_set_kind(TC_CAST(q), "htb")) {
		rtnl_qdisc_put(q);
		return NULL;
	}
	return q;
}

#define TC_MIN_BYTES_PER_SEC (2048 * 100)

/*
 * Create (create = true) or change one HTB class in place. burst_bytes, when
 * larger than the default buffer, is the class's buffer and cbuffer: a
 * class made with it starts with that many bytes of tokens and sends them
 * as fast as its parent lets it (the port's line rate) before its rate
 * holds, and an idle class fills up to it again at its rate. That is how
 * HTB says "unpaced for the next N bytes, then the rate": exactly for a
 * new class, and for one idle long enough to have refilled (N / rate);
 * tokens are never added on a change. Back to the default buffer, what is
 * left over it is cut at the next dequeue.
 */
static int class_program(struct tc_state *s, int ifindex, uint16_t minor, uint64_t rate_bps,
			 uint64_t burst_bytes, bool create)
{
	struct rtnl_class *cl = rtnl_class_alloc();
	/*
	 * HTB keeps a class's tokens as time: a frame sent at 1 bit/s (the
	 * controller's hold) leaves it up to a minute in debt, and a higher
	 * rate set afterwards does not pay it back, so the pair would stall
	 * long after its hold ended. At this floor a 2 KB frame costs 10 ms.
	 */
	uint64_t bytes_per_sec = rate_bps / 8 > TC_MIN_BYTES_PER_SEC ? rate_bps / 8 :
								       TC_MIN_BYTES_PER_SEC;
	/* One millisecond of the rate plus a full frame, as tc's default burst
	 * (rate / HZ + MTU) on a 1000 Hz kernel. */
	uint64_t buffer = bytes_per_sec / 1000 + 1600;
	int r;

	if (burst_bytes > buffer)
		buffer = burst_bytes;

	if (!cl)
		return -ENOMEM;
	if (buffer > UINT32_MAX)
		buffer = UINT32_MAX;
	rtnl_tc_set_ifindex(TC_CAST(cl), ifindex);
	rtnl_tc_set_parent(TC_CAST(cl), TITA_TC_CLASSID(0));
	rtnl_tc_set_handle(TC_CAST(cl), TITA_TC_CLASSID(minor));
	r = rtnl_tc_set_kind(TC_CAST(cl), "htb");
	if (!r)
		r = rtnl_htb_set_rate64(cl, bytes_per_sec);
	if (!r)
		r = rtnl_htb_set_ceil64(cl, bytes_per_sec);
	if (!r)
		r = rtnl_htb_set_rbuffer(cl, (uint32_t)buffer);
	if (!r)
		r = rtnl_htb_set_cbuffer(cl, (uint32_t)buffer);
	if (!r)
		r = rtnl_htb_set_quantum(cl, QUANTUM_BYTES);
	if (!r)
		r = rtnl_class_add(s->sk, cl, create ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtnl_class_put(cl);
	return r ? nl2errno(r) : 0;
}

static int class_delete(struct tc_state *s, int ifindex, uint16_t minor)
{
	struct rtnl_class *cl = rtnl_class_alloc();
	int r;

	if (!cl)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(cl), ifindex);
	rtnl_tc_set_parent(TC_CAST(cl), TITA_TC_CLASSID(0));
	rtnl_tc_set_handle(TC_CAST(cl), TITA_TC_CLASSID(minor));
	r = rtnl_class_delete(s->sk, cl);
	rtnl_class_put(cl);
	return r ? nl2errno(r) : 0;
}

static int root_delete(struct tc_state *s, int ifindex)
{
	struct rtnl_qdisc *q = root_qdisc_new(ifindex);
	int r;

	if (!q)
		return -ENOMEM;
	r = rtnl_qdisc_delete(s->sk, q);
	rtnl_qdisc_put(q);
	return r ? nl2errno(r) : 0;
}

/* Remove class-map entries that point at our major number: after a crash
 * they name classes that no longer exist, or will exist for another
 * destination once minors are handed out again. */
static int flush_stale_classes(const struct tita_pacer_port *pt)
{
	struct tita_bpf_info info;
	struct tita_peer_key key, next;
	struct tita_tx_class v;
	char path[300];
	bool first = true;
	int fd, n = 0;

	if (!pt->bpf)
		return 0;
	tita_bpf_get_info(pt->bpf, &info);
	snprintf(path, sizeof(path), "%s/%s", info.pin_dir, TITA_MAP_TX_CLASS);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &v) && (v.classid >> 16) == TITA_TC_MAJOR) {
			struct tita_addr a;

			memcpy(a.bytes, key.addr, sizeof(a.bytes));
			tita_bpf_class_clear(pt->bpf, &a);
			/* Deleting the current key restarts the walk cleanly. */
			first = true;
			n++;
		}
	}
	close(fd);
	return n;
}

/* Take port i over: replace a stale root HTB 7174: of an earlier titad
 * (refusing anyone else's root qdisc), drop its class-map entries, and
 * install the root HTB with its default class. */
static int tc_take_port(struct tita_pacer *p, uint32_t i, char *err, size_t err_size)
{
	struct tc_state *s = p->priv;
	const struct tita_pacer_port *pt = &p->ports[i];
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *old, *q;
	int r;

	r = rtnl_qdisc_alloc_cache(s->sk, &cache);
	if (r) {
		snprintf(err, err_size, "tc pacer: listing qdiscs: %s", nl_geterror(r));
		return nl2errno(r);
	}
	old = rtnl_qdisc_get_by_parent(cache, pt->ifindex, TC_H_ROOT);
	if (old) {
		uint32_t handle = rtnl_tc_get_handle(TC_CAST(old));
		const char *kind = rtnl_tc_get_kind(TC_CAST(old));

		rtnl_qdisc_put(old);
		if (handle == TITA_TC_CLASSID(0)) {
			r = root_delete(s, pt->ifindex);
			if (r && r != -ENOENT) {
				snprintf(err, err_size,
					 "tc pacer: %s: removing the stale HTB %x: of an earlier "
					 "titad: %s",
					 pt->ifname, TITA_TC_MAJOR, strerror(-r));
				goto out;
			}
		} else if (handle != 0) {
			/* Handle 0 is the kernel's default (noqueue, mq,
			 * pfifo_fast): replaceable. Anything else an operator
			 * set up. */
			snprintf(err, err_size,
				 "tc pacer: %s: root qdisc %s %x: is not titad's; remove it or use "
				 "pacer = dry-run",
				 pt->ifname, kind ? kind : "?", handle >> 16);
			r = -EBUSY;
			goto out;
		}
	}
	r = flush_stale_classes(pt);
	if (r < 0) {
		snprintf(err, err_size, "tc pacer: %s: reading the class map: %s", pt->ifname,
			 strerror(-r));
		goto out;
	}
	q = root_qdisc_new(pt->ifindex);
	if (!q) {
		r = -ENOMEM;
		snprintf(err, err_size, "tc pacer: out of memory");
		goto out;
	}
	rtnl_htb_set_defcls(q, TITA_TC_CLASSID(DEFAULT_MINOR));
	rtnl_htb_set_rate2quantum(q, 10);
	r = rtnl_qdisc_add(s->sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
	if (r) {
		snprintf(err, err_size, "tc pacer: %s: adding root HTB %x:: %s", pt->ifname,
			 TITA_TC_MAJOR, nl_geterror(r));
		r = nl2errno(r);
		goto out;
	}
	s->ports[i].installed = true;
	/* A port taken again starts empty: its classes went with the root. */
	memset(s->ports[i].minors, 0, sizeof(s->ports[i].minors));
	for (size_t k = s->n_dests; k-- > 0;)
		if (s->dests[k].port == i)
			s->dests[k] = s->dests[--s->n_dests];
	r = class_program(s, pt->ifindex, DEFAULT_MINOR, pt->line_rate_bps, 0, true);
	if (r) {
		snprintf(err, err_size, "tc pacer: %s: adding default class %x:1: %s", pt->ifname,
			 TITA_TC_MAJOR, strerror(-r));
		goto out;
	}
	s->ports[i].minors[0] |= 0x3; /* minors 0 and 1 are not for destinations */
	r = 0;
out:
	nl_cache_free(cache);
	return r;
}

static int tc_init(struct tita_pacer *p, char *err, size_t err_size)
{
	struct tc_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	p->priv = s;
	s->ports = calloc(p->n_ports ? p->n_ports : 1, sizeof(*s->ports));
	s->sk = nl_socket_alloc();
	if (!s->ports || !s->sk) {
		snprintf(err, err_size, "tc pacer: out of memory");
		return -ENOMEM;
	}
	r = nl_connect(s->sk, NETLINK_ROUTE);
	if (r) {
		snprintf(err, err_size, "tc pacer: rtnetlink: %s", nl_geterror(r));
		return nl2errno(r);
	}
	for (uint32_t i = 0; i < p->n_ports; i++) {
		r = tc_take_port(p, i, err, err_size);
		if (r)
			return r;
	}
	return 0;
}

static struct tc_dest *dest_find(struct tc_state *s, uint32_t port, const struct tita_addr *remote)
{
	for (size_t i = 0; i < s->n_dests; i++)
		if (s->dests[i].port == port && tita_addr_eq(&s->dests[i].remote, remote))
			return &s->dests[i];
	return NULL;
}

static int minor_alloc(struct tc_port *tp)
{
	for (uint32_t m = 2; m <= MAX_MINOR; m++) {
		if (!(tp->minors[m / 8] & (1u << (m % 8)))) {
			tp->minors[m / 8] |= (uint8_t)(1u << (m % 8));
			return (int)m;
		}
	}
	return -ENOSPC;
}

static void minor_free(struct tc_port *tp, uint16_t m)
{
	tp->minors[m / 8] &= (uint8_t) ~(1u << (m % 8));
}

/* When a class entry set now lapses unless renewed (0: never). */
static uint64_t class_expiry(const struct tita_pacer *p)
{
	return p->env.rule_ttl_ns ? p->now_ns + p->env.rule_ttl_ns : 0;
}

/* Program a destination at the sum of its jobs' rates, or remove its class
 * when no job is paced towards it any more. */
static int dest_sync(struct tita_pacer *p, uint32_t port, const struct tita_addr *remote)
{
	struct tc_state *s = p->priv;
	const struct tita_pacer_port *pt = &p->ports[port];
	struct tc_dest *d = dest_find(s, port, remote);
	uint64_t sum = 0, burst = 0;
	bool any = false;
	int r;

	/* A destination's class carries the unscheduled bytes of its jobs'
	 * pairs: the largest, as they come one at a time. */
	for (size_t i = 0; i < s->rules.n; i++) {
		const struct tita_pacer_rule *rule = &s->rules.rules[i];

		if (tita_addr_eq(&rule->local, &pt->addr) && tita_addr_eq(&rule->remote, remote)) {
			sum += rule->rate_bps;
			burst = burst > rule->unsched_bytes ? burst : rule->unsched_bytes;
			any = true;
		}
	}
	if (!any) {
		if (!d)
			return -ENOENT;
		if (d->draining)
			return 0;
		/* Unclassify first, so no new packet is steered to the class;
		 * then let what it holds leave at line rate (a pacer holds
		 * back, it never drops what it paced). read_backlogs()
		 * deletes it once empty. */
		if (pt->bpf)
			tita_bpf_class_clear(pt->bpf, remote);
		d->draining = true;
		r = class_program(s, pt->ifindex, d->minor, pt->line_rate_bps, 0, false);
		d->rate_bps = pt->line_rate_bps;
		d->burst_bytes = 0;
		if (r) {
			/* Cannot open it: delete it, as before draining. */
			r = class_delete(s, pt->ifindex, d->minor);
			minor_free(&s->ports[port], d->minor);
			*d = s->dests[--s->n_dests];
		}
		return r == -ENOENT ? 0 : r;
	}
	if (sum > TITA_RATE_MAX_BPS)
		sum = TITA_RATE_MAX_BPS;
	if (d) {
		if (d->rate_bps == sum && d->burst_bytes == burst && !d->draining)
			return 0;
		r = class_program(s, pt->ifindex, d->minor, sum, burst, false);
		if (!r) {
			d->rate_bps = sum;
			d->burst_bytes = burst;
		}
		/* Paced again before it drained: steer to it again. */
		if (!r && d->draining && pt->bpf)
			r = tita_bpf_class_set(pt->bpf, remote, TITA_TC_CLASSID(d->minor),
					       class_expiry(p));
		if (!r)
			d->draining = false;
		return r;
	}
	if (s->n_dests == s->cap_dests) {
		size_t cap = s->cap_dests ? s->cap_dests * 2 : 16;
		struct tc_dest *nd = realloc(s->dests, cap * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		s->dests = nd;
		s->cap_dests = cap;
	}
	r = minor_alloc(&s->ports[port]);
	if (r < 0)
		return r;
	d = &s->dests[s->n_dests];
	*d = (struct tc_dest){ .port = port, .remote = *remote, .minor = (uint16_t)r };
	r = class_program(s, pt->ifindex, d->minor, sum, burst, true);
	if (r == -EEXIST) /* left from an earlier failure: take it over */
		r = class_program(s, pt->ifindex, d->minor, sum, burst, false);
	if (!r && pt->bpf)
		r = tita_bpf_class_set(pt->bpf, remote, TITA_TC_CLASSID(d->minor), class_expiry(p));
	if (r) {
		class_delete(s, pt->ifindex, d->minor);
		minor_free(&s->ports[port], d->minor);
		return r;
	}
	d->rate_bps = sum;
	d->burst_bytes = burst;
	s->n_dests++;
	return 0;
}

/* The rule's destination at the sum of its jobs' rates, as the table says now. */
static int tc_sync(struct tita_pacer *p, const struct tita_pacer_rule *rule)
{
	return dest_sync(p, (uint32_t)tita_pacer_port_index(p, &rule->local), &rule->remote);
}

/* A pair's rate, after its next unsched_bytes go unpaced (0: none). */
static int tc_rule_set(struct tita_pacer *p, const struct tita_addr *local,
		       const struct tita_addr *remote, uint32_t job_id, uint64_t unsched_bytes,
		       uint64_t rate_bps)
{
	struct tc_state *s = p->priv;

	if (!tita_pacer_port(p, local))
		return -ENOENT;
	return tita_rule_apply_after(p, &s->rules, local, remote, job_id, unsched_bytes, rate_bps,
				     0, tc_sync);
}

static int tc_set_rate(struct tita_pacer *p, const struct tita_addr *local,
		       const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps)
{
	return tc_rule_set(p, local, remote, job_id, 0, rate_bps);
}

static int tc_set_rate_after(struct tita_pacer *p, const struct tita_addr *local,
			     const struct tita_addr *remote, uint32_t job_id,
			     uint64_t unsched_bytes, uint64_t rate_bps)
{
	/* The class's buffer is 32 bits. */
	return tc_rule_set(p, local, remote, job_id,
			   unsched_bytes > UINT32_MAX ? UINT32_MAX : unsched_bytes, rate_bps);
}

static int tc_clear(struct tita_pacer *p, const struct tita_addr *local,
		    const struct tita_addr *remote, uint32_t job_id)
{
	struct tc_state *s = p->priv;

	return tita_rule_remove(p, &s->rules, local, remote, job_id, tc_sync);
}

static int tc_cleanup(struct tita_pacer *p)
{
	struct tc_state *s = p->priv;
	int first = 0;

	if (!s || !s->sk)
		return 0;
	for (size_t i = 0; i < s->n_dests; i++) {
		const struct tita_pacer_port *pt = &p->ports[s->dests[i].port];

		if (pt->bpf)
			tita_bpf_class_clear(pt->bpf, &s->dests[i].remote);
	}
	s->n_dests = 0;
	s->rules.n = 0;
	for (uint32_t i = 0; i < p->n_ports; i++) {
		int r;

		if (!s->ports || !s->ports[i].installed)
			continue;
		r = root_delete(s, p->ports[i].ifindex);
		if (r && r != -ENOENT && !first)
			first = r;
		s->ports[i].installed = false;
		memset(s->ports[i].minors, 0, sizeof(s->ports[i].minors));
	}
	return first;
}

static size_t tc_describe(const struct tita_pacer *p, struct tita_pacer_rule *out, size_t max)
{
	struct tc_state *s = p->priv;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->rules.n && i < max; i++) {
		int port = tita_pacer_port_index(p, &s->rules.rules[i].local);
		struct tc_dest *d =
			port >= 0 ? dest_find(s, (uint32_t)port, &s->rules.rules[i].remote) : NULL;

		out[i] = s->rules.rules[i];
		out[i].handle = d ? TITA_TC_CLASSID(d->minor) : 0;
	}
	return s->rules.n;
}

static void tc_free(struct tita_pacer *p)
{
	struct tc_state *s = p->priv;

	if (!s)
		return;
	if (s->sk)
		nl_socket_free(s->sk);
	tita_rule_table_free(&s->rules);
	free(s->dests);
	free(s->ports);
	free(s);
	p->priv = NULL;
}

/* Read the queue of every class of ours, one dump per port. */
static int read_backlogs(struct tc_state *s, const struct tita_pacer *p)
{
	for (uint32_t port = 0; port < p->n_ports; port++) {
		struct nl_cache *cache;
		int r;

		if (!s->ports[port].installed)
			continue;
		r = rtnl_class_alloc_cache(s->sk, p->ports[port].ifindex, &cache);
		if (r < 0)
			return nl2errno(r);
		for (size_t i = 0; i < s->n_dests; i++) {
			struct tc_dest *d = &s->dests[i];
			struct rtnl_class *cl;

			if (d->port != port)
				continue;
			cl = rtnl_class_get(cache, p->ports[port].ifindex,
					    TITA_TC_CLASSID(d->minor));
			d->backlog_bytes = cl ? rtnl_tc_get_stat(TC_CAST(cl), RTNL_TC_BACKLOG) : 0;
			rtnl_class_put(cl);
		}
		nl_cache_free(cache);
	}
	/* Classes that drained since they stopped being paced go now. */
	for (size_t i = s->n_dests; i-- > 0;) {
		struct tc_dest *d = &s->dests[i];

		if (!d->draining || d->backlog_bytes)
			continue;
		class_delete(s, p->ports[d->port].ifindex, d->minor);
		minor_free(&s->ports[d->port], d->minor);
		*d = s->dests[--s->n_dests];
	}
	return 0;
}

static int tc_backlog(struct tita_pacer *p, const struct tita_addr *local,
		      const struct tita_addr *remote, uint64_t now_ns, uint64_t *ret_bytes)
{
	struct tc_state *s = p->priv;
	int port = tita_pacer_port_index(p, local);
	const struct tc_dest *d;

	if (port < 0)
		return -ENOENT;
	/* Only a destination with a class can hold a queue: ask the kernel
	 * (one class dump per pass) only then. */
	d = dest_find(s, (uint32_t)port, remote);
	if (!d)
		return -ENOENT;
	if (now_ns != s->backlog_read_ns) {
		int r = read_backlogs(s, p);

		if (r < 0)
			return r;
		s->backlog_read_ns = now_ns;
		d = dest_find(s, (uint32_t)port, remote);
		if (!d)
			return -ENOENT;
	}
	*ret_bytes = d->backlog_bytes;
	return 0;
}

/* Every paced destination's entry, a TTL ahead, one batch per port, a
 * quarter TTL before it would lapse. */
static void tc_keepalive(struct tita_pacer *p, uint64_t now_ns)
{
	struct tc_state *s = p->priv;
	struct tita_addr *dsts;
	uint32_t *ids;

	if (!s || !p->env.rule_ttl_ns || now_ns < s->renew_ns || !s->n_dests)
		return;
	dsts = calloc(s->n_dests, sizeof(*dsts));
	ids = calloc(s->n_dests, sizeof(*ids));
	for (uint32_t port = 0; dsts && ids && port < p->n_ports; port++) {
		uint32_t n = 0;

		if (!p->ports[port].bpf)
			continue;
		for (size_t i = 0; i < s->n_dests; i++) {
			if (s->dests[i].port != port || s->dests[i].draining)
				continue;
			dsts[n] = s->dests[i].remote;
			ids[n++] = TITA_TC_CLASSID(s->dests[i].minor);
		}
		tita_bpf_class_renew(p->ports[port].bpf, dsts, ids, n, now_ns + p->env.rule_ttl_ns);
	}
	free(dsts);
	free(ids);
	s->renew_ns = now_ns + p->env.rule_ttl_ns / 4;
}

const struct tita_pacer_ops tita_pacer_tc_ops = {
	.name = "tc",
	.init = tc_init,
	.set_rate = tc_set_rate,
	.set_rate_after = tc_set_rate_after,
	.clear = tc_clear,
	.cleanup = tc_cleanup,
	.backlog = tc_backlog,
	.describe = tc_describe,
	.free = tc_free,
	.keepalive = tc_keepalive,
	.take_port = tc_take_port,
};
