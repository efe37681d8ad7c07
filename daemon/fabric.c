// SPDX-License-Identifier: MIT
/*
 * The fabric module (see fabric.h): topology → places → controller, hellos
 * → remote places and members, the controller's probes → probe.c →
 * spines → controller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fabric.h"
#include "leafmembers.h"
#include "log.h"
#include "units.h"

/* The cabling is checked at start and then this often (lldpd answers
 * from memory; a cable moved while titad runs is caught within this). */
#define LLDP_RECHECK_NS (60 * TITA_NSEC_PER_SEC)
#define ANSWERS_BATCH 64

struct fport {
	struct tita_addr addr;
	int ifindex;
	char ifname[IF_NAMESIZE];
	bool placed;
	struct tita_topo_leaf leaf;
	char why[200];
	struct tita_leaf_members *members;
	struct tita_spine_learner *learner; /* spines not addressed in the topology */
	struct tita_lldp_check lldp;
};

struct titad_fabric {
	struct tita_event *ev;
	struct titad_engine *engine;
	struct titad_peers *peers;
	struct tita_fabric_conf conf;
	struct tita_topo *topo; /* NULL: no topology file */
	uint32_t n_ports;
	struct fport ports[TITAD_MAX_PORTS];
	struct tita_prober *prober;
	struct tita_event_source *prober_src;
	struct tita_timer *t_prober;
	uint64_t next_lldp_ns;
	bool said_no_lldp, said_too_many_spines;
	struct tita_ratelimit probe_rl;
	struct titad_fabric_stats stats;
};

/* ---- the topology ----------------------------------------------------------------- */

/* The files of fc, read and finished; NULL with errno (ENOMEM). */
static struct tita_topo *topo_read(const struct tita_fabric_conf *fc)
{
	struct tita_topo *t = tita_topo_new(fc);

	if (!t)
		return NULL;
	for (uint32_t i = 0; i < fc->n_files; i++)
		if (tita_topo_load(t, fc->files[i]) == -ENOMEM) {
			tita_topo_free(t);
			errno = ENOMEM;
			return NULL;
		}
	tita_topo_finish(t);
	return t;
}

static void system_hostname(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0)
		buf[0] = '\0';
	buf[size - 1] = '\0';
}

/* A port's leaf: true and the leaf, or false with why. */
static bool port_leaf(const struct tita_topo *t, const struct tita_addr *addr,
		      struct tita_topo_leaf *ret, char *why, size_t why_size)
{
	char host[256], buf[200];
	const char *e;

	system_hostname(host, sizeof(host));
	if (tita_topo_leaf_of(t, addr, host, ret, buf, sizeof(buf))) {
		snprintf(why, why_size, "%s", buf);
		return false;
	}
	e = tita_topo_place_error(ret, buf, sizeof(buf));
	if (!e)
		e = tita_place_check(&ret->place) ? "the leaf's place is out of range" : NULL;
	if (e) {
		snprintf(why, why_size, "%s", e);
		return false;
	}
	return true;
}

int titad_fabric_check(const struct titad_config *cfg, const struct titad_ports *ports, char *err,
		       size_t err_size)
{
	struct tita_topo *t;
	int bad = 0;

	if (!cfg->fabric.n_files)
		return 0;
	t = topo_read(&cfg->fabric);
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < tita_topo_n_problems(t); i++) {
		size_t len = strlen(err);

		snprintf(err + len, err_size - len, "%s%s", len ? "\n" : "",
			 tita_topo_problem(t, i));
		bad = -EINVAL;
	}
	for (uint32_t i = 0; ports && i < titad_ports_count(ports); i++) {
		const struct titad_port *p = titad_ports_get(ports, i);
		struct tita_topo_leaf leaf;
		char why[200];
		size_t len = strlen(err);

		if (port_leaf(t, &p->addr, &leaf, why, sizeof(why)))
			continue;
		snprintf(err + len, err_size - len, "%s[port %s]: no place in the fabric: %s",
			 len ? "\n" : "", p->ifname, why);
		bad = -EINVAL;
	}
	tita_topo_free(t);
	return bad;
}

/* ---- members ------------------------------------------------------------------------ */

static int member_add(void *ctx, const char *host, const struct tita_addr *addr)
{
	struct tita_leaf_members *m = ctx;
	struct tita_addr contacts[TITA_HOST_ADDRS_MAX];
	size_t n = 0;
	int r;

	if (addr)
		return tita_leaf_members_add_addr(m, addr) == -ENOMEM ? -ENOMEM : 0;
	r = tita_resolve_host(host, contacts, TITA_HOST_ADDRS_MAX, &n);
	if (r)
		log_warning("fabric: leaf member %s does not resolve (%s): its NICs join when it "
			    "says hello",
			    host, strerror(-r));
	return tita_leaf_members_add_host(m, host, contacts, n) == -ENOMEM ? -ENOMEM : 0;
}

/* The controller gets the port's place and members as they are now. */
static void place_port(struct titad_fabric *f, struct fport *fp)
{
	struct tita_addr *list = calloc(TITA_LEAF_MEMBERS_MAX, sizeof(*list));
	size_t n;
	int r;

	if (!list) {
		log_err("fabric: %s: out of memory for its leaf's members", fp->ifname);
		return;
	}
	n = tita_leaf_members_list(fp->members, list, TITA_LEAF_MEMBERS_MAX);
	if (n > TITA_LEAF_MEMBERS_MAX)
		n = TITA_LEAF_MEMBERS_MAX;
	r = titad_engine_set_place(f->engine, &fp->addr, &fp->leaf.place, list, (uint32_t)n);
	if (r)
		log_err("fabric: %s: the controller refused its place (leaf %s): %s", fp->ifname,
			fp->leaf.name, strerror(-r));
	free(list);
}

/* ---- probes ------------------------------------------------------------------------------ */

static struct fport *port_of(struct titad_fabric *f, const struct tita_addr *a)
{
	for (uint32_t i = 0; i < f->n_ports; i++)
		if (tita_addr_eq(&f->ports[i].addr, a))
			return &f->ports[i];
	return NULL;
}

/* The spine an answer names: 0 and *ret, or -errno (see the callers). */
static int answer_spine(struct titad_fabric *f, const struct tita_probe_answer *a, uint16_t *ret)
{
	struct fport *fp = port_of(f, &a->probe.local);
	int r;

	if (!fp || !fp->placed || a->outcome != TITA_PROBE_EXPIRED)
		return -ENOENT;
	if (fp->leaf.spines_addressed)
		return tita_topo_spine_of(f->topo, fp->leaf.name, &a->offender, ret);
	r = tita_spine_learner_lookup(fp->learner, &a->offender, ret);
	if (r == -ENOSPC && !f->said_too_many_spines) {
		char o[TITA_ADDR_STRLEN];

		f->said_too_many_spines = true;
		log_warning("fabric: %s: probes answered from %s and from more addresses "
			    "than leaf %s has spines (%u): give the spines' addresses in "
			    "the topology",
			    fp->ifname, tita_format_addr(&a->offender, o, sizeof(o)), fp->leaf.name,
			    fp->leaf.place.n_spines);
	}
	return r;
}

static void arm_prober(struct titad_fabric *f)
{
	if (f->t_prober)
		tita_event_timer_set(f->ev, f->t_prober, tita_prober_next_deadline_ns(f->prober));
}

static void take_answers(struct titad_fabric *f, uint64_t now_ns)
{
	struct tita_probe_answer a[ANSWERS_BATCH];
	size_t n;
	bool any = false;

	while ((n = tita_prober_poll(f->prober, now_ns, a, ANSWERS_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++) {
			uint16_t spine = TITA_SPINE_NONE;
			int r = answer_spine(f, &a[i], &spine);

			if (!r)
				f->stats.answers_spine++;
			else if (r == -EAGAIN)
				f->stats.answers_learning++;
			else if (a[i].outcome == TITA_PROBE_EXPIRED)
				f->stats.answers_unknown++;
			else
				f->stats.answers_none++;
			titad_engine_probe_result(f->engine, &a[i].probe,
						  r ? TITA_SPINE_NONE : spine, now_ns);
			any = true;
		}
		if (n < ANSWERS_BATCH)
			break;
	}
	if (any)
		titad_engine_kick(f->engine, now_ns);
	arm_prober(f);
}

static void on_prober(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	(void)fd;
	(void)events;
	take_answers(data, now_ns);
}

static void on_prober_timer(void *data, uint64_t now_ns)
{
	take_answers(data, now_ns);
}

void titad_fabric_probe(void *ctx, const struct tita_probe *probe, uint64_t now_ns)
{
	struct titad_fabric *f = ctx;
	struct fport *fp = port_of(f, &probe->local);
	int r = fp && f->prober ? tita_prober_send(f->prober, probe, fp->ifindex, now_ns) : -ENOENT;

	if (r) {
		uint64_t held;

		f->stats.probes_refused++;
		if (tita_ratelimit_ok(&f->probe_rl, now_ns, 10 * TITA_NSEC_PER_SEC, 5, &held)) {
			char l[TITA_ADDR_STRLEN], rm[TITA_ADDR_STRLEN];

			log_warning("fabric: probe %s:%u -> %s not sent: %s (%llu more not logged)",
				    tita_format_addr(&probe->local, l, sizeof(l)), probe->sport,
				    tita_format_addr(&probe->remote, rm, sizeof(rm)), strerror(-r),
				    (unsigned long long)held);
		}
		/* Not sent is not answered: the controller tries another. */
		titad_engine_probe_result(f->engine, probe, TITA_SPINE_NONE, now_ns);
		return;
	}
	arm_prober(f);
}

/* ---- LLDP ------------------------------------------------------------------------------ */

static void lldp_check(struct titad_fabric *f)
{
	struct tita_lldp_port lp[TITAD_MAX_PORTS];
	struct tita_lldp_check c[TITAD_MAX_PORTS];
	char err[200] = "", line[512];
	bool any = false;
	int r;

	for (uint32_t i = 0; i < f->n_ports; i++) {
		lp[i].ifname = f->ports[i].ifname;
		lp[i].expected = f->ports[i].placed ? f->ports[i].leaf.lldp_name : NULL;
		any = any || f->ports[i].placed;
	}
	if (!f->conf.lldp || !any)
		return;
	f->stats.lldp_checks++;
	r = tita_lldp_check_ports(&tita_lldp_lldpd, lp, f->n_ports, c, err, sizeof(err));
	if (r && !f->said_no_lldp) {
		log_notice("fabric: the cabling is not checked against the topology: %s", err);
		f->said_no_lldp = true;
	}
	for (uint32_t i = 0; i < f->n_ports; i++) {
		struct fport *fp = &f->ports[i];
		bool was = fp->lldp.verdict == TITA_LLDP_MISMATCH;

		fp->lldp = c[i];
		if (c[i].verdict == TITA_LLDP_MISMATCH) {
			f->stats.lldp_mismatches++;
			/* Said when it starts, not every minute. */
			if (!was)
				log_warning(
					"fabric: CABLING MISMATCH: %s (the leaf's members disagree "
					"on who shares its uplinks until the cable or %s is "
					"fixed)",
					tita_lldp_describe(fp->ifname, &c[i], line, sizeof(line)),
					fp->leaf.path);
		} else if (was) {
			log_notice("fabric: %s",
				   tita_lldp_describe(fp->ifname, &c[i], line, sizeof(line)));
		}
	}
}

/* ---- open, start, close ---------------------------------------------------------------- */

int titad_fabric_open(struct titad_fabric **ret, struct tita_event *ev,
		      const struct titad_config *cfg, const struct titad_ports *ports,
		      struct titad_engine *engine, char *err, size_t err_size)
{
	struct titad_fabric *f = calloc(1, sizeof(*f));
	struct tita_prober_conf pc;
	uint32_t placed = 0;

	*ret = f;
	if (!f)
		return -ENOMEM;
	f->ev = ev;
	f->engine = engine;
	f->conf = cfg->fabric;
	f->n_ports = titad_ports_count(ports);
	for (uint32_t i = 0; i < f->n_ports; i++) {
		const struct titad_port *p = titad_ports_get(ports, i);

		f->ports[i].addr = p->addr;
		f->ports[i].ifindex = p->ifindex;
		snprintf(f->ports[i].ifname, sizeof(f->ports[i].ifname), "%s", p->ifname);
		snprintf(f->ports[i].why, sizeof(f->ports[i].why),
			 "no topology ([fabric] topology)");
	}
	if (!cfg->fabric.n_files)
		return 0;
	f->topo = topo_read(&cfg->fabric);
	if (!f->topo) {
		snprintf(err, err_size, "fabric: reading the topology: %s", strerror(errno));
		return -errno;
	}
	f->stats.topology_problems = (uint32_t)tita_topo_n_problems(f->topo);
	for (size_t i = 0; i < tita_topo_n_problems(f->topo); i++)
		log_warning("fabric: %s (the line is not used)", tita_topo_problem(f->topo, i));
	for (uint32_t i = 0; i < f->n_ports; i++) {
		struct fport *fp = &f->ports[i];

		if (!port_leaf(f->topo, &fp->addr, &fp->leaf, fp->why, sizeof(fp->why))) {
			log_warning("fabric: %s: no place in the fabric, runs without it: %s",
				    fp->ifname, fp->why);
			continue;
		}
		fp->members = tita_leaf_members_new(fp->leaf.place.leaf, &fp->addr);
		if (!fp->members ||
		    tita_topo_members(f->topo, fp->leaf.name, member_add, fp->members) == -ENOMEM) {
			snprintf(err, err_size, "fabric: %s: %s", fp->ifname, strerror(ENOMEM));
			return -ENOMEM;
		}
		if (!fp->leaf.spines_addressed) {
			fp->learner = tita_spine_learner_new(fp->leaf.place.n_spines);
			if (!fp->learner) {
				snprintf(err, err_size, "fabric: %s: %s", fp->ifname,
					 strerror(errno));
				return -errno;
			}
		}
		fp->placed = true;
		fp->why[0] = '\0';
		placed++;
	}
	if (!placed)
		return 0;
	tita_prober_conf_defaults(&pc);
	pc.ttl = cfg->fabric.probe_ttl;
	pc.timeout_ns = cfg->params.probe_timeout_ns;
	f->prober = tita_prober_new(&pc);
	if (!f->prober) {
		snprintf(err, err_size, "fabric: path probes: %s", strerror(errno));
		return -errno;
	}
	f->prober_src = tita_event_fd_add(ev, tita_prober_fd(f->prober), EPOLLIN, on_prober, f);
	f->t_prober = tita_event_timer_new(ev, on_prober_timer, f);
	if (!f->prober_src || !f->t_prober) {
		snprintf(err, err_size, "fabric: path probes: %s",
			 strerror(errno ? errno : ENOSPC));
		return errno ? -errno : -ENOSPC;
	}
	titad_engine_set_prober(engine, titad_fabric_probe, f);
	return 0;
}

struct peer_place_ctx {
	struct titad_fabric *f;
	uint32_t leaf;
};

static int peer_place_one(void *ctx, const char *host, const struct tita_addr *addr)
{
	struct peer_place_ctx *c = ctx;
	int r;

	if (!addr || port_of(c->f, addr))
		return 0;
	(void)host;
	r = titad_engine_peer_place(c->f->engine, addr, c->leaf);
	if (r)
		c->f->stats.peer_places_refused++;
	else
		c->f->stats.peer_places++;
	return 0;
}

void titad_fabric_start(struct titad_fabric *f, struct titad_peers *peers, uint64_t now_ns)
{
	struct tita_topo_leaf leaf;

	f->peers = peers;
	if (!f->topo)
		return;
	for (uint32_t i = 0; i < f->n_ports; i++) {
		struct fport *fp = &f->ports[i];
		char a[TITA_ADDR_STRLEN];

		if (!fp->placed)
			continue;
		place_port(f, fp);
		log_notice("fabric: %s (%s) is under leaf %s (id %u): %u uplinks of %llu Mbit/s, "
			   "%zu members known, spines %s",
			   fp->ifname, tita_format_addr(&fp->addr, a, sizeof(a)), fp->leaf.name,
			   fp->leaf.place.leaf, fp->leaf.place.n_spines,
			   (unsigned long long)(fp->leaf.place.spine_bps / 1000000),
			   tita_leaf_members_list(fp->members, NULL, 0),
			   fp->leaf.spines_addressed ? "by their addresses" :
						       "learned from the probes' answers");
	}
	/* Remote NICs the topology names by address: placed before their
	 * hellos come. */
	for (size_t i = 0; !tita_topo_leaf_at(f->topo, i, &leaf); i++) {
		struct peer_place_ctx c = { f, leaf.place.leaf };

		tita_topo_members(f->topo, leaf.name, peer_place_one, &c);
	}
	lldp_check(f);
	f->next_lldp_ns = now_ns + LLDP_RECHECK_NS;
	titad_fabric_housekeeping(f, now_ns);
}

/* Every address of a list (tita_leaf_members_list() or _contacts()) is a
 * known peer from now on, so that hellos go to it. */
static void seen_all(struct titad_fabric *f, const struct tita_leaf_members *m,
		     size_t (*list)(const struct tita_leaf_members *, struct tita_addr *, size_t),
		     uint64_t now_ns)
{
	size_t n = list(m, NULL, 0);
	struct tita_addr *a = n ? calloc(n, sizeof(*a)) : NULL;

	if (!a)
		return;
	n = list(m, a, n);
	for (size_t k = 0; k < n; k++)
		if (!port_of(f, &a[k]))
			titad_peers_seen(f->peers, &a[k], now_ns);
	free(a);
}

void titad_fabric_housekeeping(struct titad_fabric *f, uint64_t now_ns)
{
	if (!f->topo)
		return;
	/* The leaf's members, and where the hosts named by name can be
	 * reached: known peers, so that hellos go to them (and from a host
	 * named by name come its NICs). */
	for (uint32_t i = 0; f->peers && i < f->n_ports; i++) {
		if (!f->ports[i].placed)
			continue;
		seen_all(f, f->ports[i].members, tita_leaf_members_contacts, now_ns);
		seen_all(f, f->ports[i].members, tita_leaf_members_list, now_ns);
	}
	if (now_ns >= f->next_lldp_ns) {
		lldp_check(f);
		f->next_lldp_ns = now_ns + LLDP_RECHECK_NS;
	}
}

void titad_fabric_hello(struct titad_fabric *f, const struct tita_addr *from,
			const struct tita_wire_hello *h, uint64_t now_ns)
{
	const struct tita_wire_port *ports = h->ports;
	size_t n_ports = h->n_ports;

	(void)now_ns;
	if (!f->topo)
		return;
	f->stats.hellos++;
	for (size_t k = 0; k < n_ports; k++) {
		if (!tita_place_known(&ports[k].place) || port_of(f, &ports[k].addr))
			continue;
		if (titad_engine_peer_place(f->engine, &ports[k].addr, ports[k].place.leaf))
			f->stats.peer_places_refused++;
		/* Its leaf's leaders: 1 from a titad from before. */
		else if (titad_engine_peer_leaders(f->engine, &ports[k].addr, h->leaf_leaders))
			f->stats.peer_places_refused++;
	}
	for (uint32_t i = 0; i < f->n_ports; i++) {
		struct fport *fp = &f->ports[i];

		if (fp->placed && tita_leaf_members_hello(fp->members, from, ports, n_ports) == 1) {
			f->stats.member_changes++;
			place_port(f, fp);
		}
	}
}

void titad_fabric_peer_boot(struct titad_fabric *f, const struct tita_addr *from, uint64_t now_ns)
{
	(void)now_ns;
	if (f->topo && !port_of(f, from))
		titad_engine_peer_leaders(f->engine, from, 0);
}

void titad_fabric_hello_ports(const struct titad_fabric *f, struct titad_peers_ports *hp)
{
	for (uint32_t k = 0; k < hp->n; k++)
		for (uint32_t i = 0; i < f->n_ports; i++)
			if (f->ports[i].placed &&
			    tita_addr_eq(&f->ports[i].addr, &hp->ports[k].addr))
				hp->ports[k].place = f->ports[i].leaf.place;
}

struct titad_fabric *titad_fabric_close(struct titad_fabric *f)
{
	if (!f)
		return NULL;
	if (f->engine)
		titad_engine_set_prober(f->engine, NULL, NULL);
	tita_event_fd_del(f->ev, f->prober_src);
	if (f->t_prober)
		tita_event_timer_set(f->ev, f->t_prober, TITA_TIME_NEVER);
	tita_prober_free(f->prober);
	for (uint32_t i = 0; i < f->n_ports; i++) {
		tita_leaf_members_free(f->ports[i].members);
		tita_spine_learner_free(f->ports[i].learner);
	}
	tita_topo_free(f->topo);
	free(f);
	return NULL;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

bool titad_fabric_known(const struct titad_fabric *f)
{
	return f && f->topo;
}

void titad_fabric_port(const struct titad_fabric *f, uint32_t i, struct titad_fabric_port *ret)
{
	const struct fport *fp = &f->ports[i];

	memset(ret, 0, sizeof(*ret));
	if (i >= f->n_ports)
		return;
	ret->placed = fp->placed;
	snprintf(ret->why, sizeof(ret->why), "%s", fp->why);
	ret->lldp = fp->lldp;
	if (!fp->placed)
		return;
	snprintf(ret->leaf, sizeof(ret->leaf), "%s", fp->leaf.name);
	ret->place = fp->leaf.place;
	ret->members = (uint32_t)tita_leaf_members_list(fp->members, NULL, 0);
	ret->spine_map = fp->leaf.spines_addressed ? TITAD_SPINES_BY_ADDRESS : TITAD_SPINES_LEARNED;
	if (fp->learner)
		ret->spines_learned = (uint32_t)tita_spine_learner_addrs(fp->learner, NULL, 0);
}

void titad_fabric_stats(const struct titad_fabric *f, struct titad_fabric_stats *ret)
{
	*ret = f->stats;
	if (f->prober)
		tita_prober_stats(f->prober, &ret->prober);
}
