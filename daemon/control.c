// SPDX-License-Identifier: MIT
/*
 * The control socket (OpenBSD ntpd's control.c is the model): AF_UNIX
 * SOCK_SEQPACKET, its mode and group set at creation, non-blocking, one
 * length-checked protobuf Request per packet and one Response each, built
 * from the controller's snapshot functions.
 *
 * Who may do what: anyone the socket's mode lets connect may read; only
 * root or members of control-group may change anything. The check uses
 * SO_PEERCRED, taken when the client connects, so a client cannot hand a
 * privileged connection's descriptor to another process to gain rights
 * it did not have at connect time... nor lose them. Group membership is
 * looked up (NSS) only when a client first asks to change something, so
 * connecting costs the loop no lookup.
 *
 * What a local user can hold: at most control-clients-per-uid connections
 * per uid (root aside), and all uids but root's together leave a few of the
 * control-clients slots free, so that root's titactl always gets in; a
 * client silent for control-idle-timeout is closed. When accept() fails
 * for want of descriptors, the listening socket is left alone for a while
 * rather than waking the loop again at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "health.h"
#include "log.h"
#include "tita-config.h"
#include "units.h"

/* The most clients control-clients may allow. */
#define MAX_CLIENTS 1024
/* Slots only root takes (at most half the table). */
#define ROOT_RESERVED 8
/* After accept() failed with EMFILE or ENFILE. */
#define ACCEPT_PAUSE_NS (100 * TITA_NSEC_PER_MSEC)
/* QPs in one page of QpsResponse: at most ~220 bytes each (long device,
 * kernel and job names), well under the Response limit. */
#define QPS_PAGE 2048

struct client {
	struct titad_control *ctl;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int may_write; /* -1: not looked up yet */
	uint64_t last_ns; /* connected, or its last request */
	struct tita_event_source *src;
};

struct titad_control {
	struct tita_event *ev;
	struct titad_sources src_;
	int fd;
	struct tita_event_source *src;
	char path[108];
	char group[64]; /* control-group, for messages */
	gid_t gid;
	bool gid_set;
	uint32_t mode;
	uint32_t max_clients, max_per_uid;
	uint64_t idle_timeout_ns;
	struct tita_timer *t_idle;
	uint64_t refused, idle_closed;
	struct tita_ratelimit accept_rl;
	uint32_t n_clients;
	struct client *clients[MAX_CLIENTS];
};

static bool in_group(uid_t uid, gid_t primary, gid_t want)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	if (primary == want)
		return true;
	pw = getpwuid(uid);
	if (!pw)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

static bool may_write(struct client *c)
{
	const struct titad_control *ctl = c->ctl;

	if (c->may_write < 0)
		c->may_write = c->uid == 0 || (ctl->gid_set && in_group(c->uid, c->gid, ctl->gid));
	return c->may_write > 0;
}

static void client_close(struct client *c)
{
	struct titad_control *ctl = c->ctl;

	tita_event_fd_del(ctl->ev, c->src);
	close(c->fd);
	for (uint32_t i = 0; i < ctl->n_clients; i++) {
		if (ctl->clients[i] == c) {
			ctl->clients[i] = ctl->clients[--ctl->n_clients];
			break;
		}
	}
	free(c);
}

/* ---- building responses ------------------------------------------------ */

/* Protobuf-c responses are built on a per-request arena of allocations,
 * freed in one go after sending. */
struct arena {
	size_t n, cap;
	void **ptrs;
	bool failed;
};

static void *az(struct arena *a, size_t size)
{
	void *p;

	if (a->failed)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void **np = realloc(a->ptrs, cap * sizeof(*np));

		if (!np) {
			a->failed = true;
			return NULL;
		}
		a->ptrs = np;
		a->cap = cap;
	}
	p = calloc(1, size ? size : 1);
	if (!p) {
		a->failed = true;
		return NULL;
	}
	a->ptrs[a->n++] = p;
	return p;
}

static char *astr(struct arena *a, const char *s)
{
	char *p = az(a, strlen(s) + 1);

	if (p)
		strcpy(p, s);
	return p;
}

static void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->ptrs[i]);
	free(a->ptrs);
}

static ProtobufCBinaryData addr_bytes(struct arena *a, const struct tita_addr *addr)
{
	ProtobufCBinaryData b = { 0, NULL };
	size_t n = tita_addr_is_ipv4(addr) ? 4 : 16;
	uint8_t *p = az(a, n);

	if (p) {
		memcpy(p, tita_addr_is_ipv4(addr) ? &addr->bytes[12] : addr->bytes, n);
		b.data = p;
		b.len = n;
	}
	return b;
}

static int parse_addr_bytes(const ProtobufCBinaryData *b, struct tita_addr *ret)
{
	if (b->len == 4) {
		*ret = tita_addr_from_ipv4(b->data);
		return 0;
	}
	if (b->len == 16) {
		memcpy(ret->bytes, b->data, 16);
		return 0;
	}
	return -EINVAL;
}

static void set_error(struct arena *a, Tita__Control__Response *resp, Tita__Control__ErrorCode code,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_error(struct arena *a, Tita__Control__Response *resp, Tita__Control__ErrorCode code,
		      const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->error = code;
	resp->message = astr(a, msg);
	if (!resp->message)
		resp->message = (char *)"";
	resp->body_case = TITA__CONTROL__RESPONSE__BODY__NOT_SET;
}

#define FAIL(...)                       \
	do {                            \
		set_error(__VA_ARGS__); \
		return;                 \
	} while (0)

static void do_status(struct titad_control *ctl, struct arena *a, uint64_t now_ns,
		      Tita__Control__Response *resp)
{
	const struct titad_sources *src = &ctl->src_;
	Tita__Control__StatusResponse *s = az(a, sizeof(*s));
	Tita__Control__ControllerCounters *cc = az(a, sizeof(*cc));
	struct titad_peers_identity id;
	struct titad_engine_status es;
	struct titad_peer_totals pt;
	struct tita_ctl_stats *st = &es.ctl;
	size_t n_drops = 0;

	if (!s || !cc)
		return;
	tita__control__status_response__init(s);
	tita__control__controller_counters__init(cc);
	titad_engine_status(src->engine, &es);
	titad_peers_totals(src->peers, &pt);
	titad_peers_identity(src->peers, &id);
	s->version = (char *)TITA_VERSION;
	s->uptime_ns = now_ns - src->start_ns;
	s->boot_id = id.boot_id;
	s->key_id = id.key_id;
	s->key_ids = az(a, TITA_WIRE_KEYRING_MAX * sizeof(*s->key_ids));
	for (uint32_t i = 0; i < id.n_key_ids && s->key_ids; i++)
		s->key_ids[s->n_key_ids++] = id.key_ids[i];
	s->pacer = (char *)es.pacer;
	s->n_ports = titad_ports_count(src->ports);
	s->n_peers = (uint32_t)titad_peers_count(src->peers);
	s->n_pairs = (uint32_t)es.n_pairs;
	cc->rounds = st->rounds;
	cc->msgs_in = st->msgs_in;
	cc->msgs_out = st->msgs_out;
	cc->entries_in = st->entries_in;
	cc->entries_skipped_not_local = st->entries_skipped_not_local;
	cc->entries_skipped_mismatch = st->entries_skipped_mismatch;
	cc->entries_skipped_no_space = st->entries_skipped_no_space;
	cc->samples_in = st->samples_in;
	cc->samples_skipped_not_local = st->samples_skipped_not_local;
	cc->samples_skipped_no_space = st->samples_skipped_no_space;
	cc->pairs_evicted = st->pairs_evicted;
	cc->grants_expired = st->grants_expired;
	cc->demands_expired = st->demands_expired;
	cc->rate_updates = st->rate_updates;
	cc->rate_updates_suppressed = st->rate_updates_suppressed;
	s->controller = cc;
	s->datagrams_in = pt.dgrams_in;
	s->datagrams_out = pt.dgrams_out;
	s->drops = az(a, TITA_WIRE_E_COUNT * sizeof(*s->drops));
	for (int e = 1; e < TITA_WIRE_E_COUNT && s->drops; e++) {
		Tita__Control__ReasonCounter *rc;

		if (!pt.drops_by_reason[e])
			continue;
		rc = az(a, sizeof(*rc));
		if (!rc)
			return;
		tita__control__reason_counter__init(rc);
		rc->reason = (char *)tita_wire_error_name((enum tita_wire_error)e);
		rc->count = pt.drops_by_reason[e];
		s->drops[n_drops++] = rc;
	}
	s->n_drops = n_drops;
	s->qp_discovery = (char *)titad_discovery_state(src->discovery);
	{
		size_t n;

		titad_discovery_qps(src->discovery, &n);
		s->n_qps = (uint32_t)n;
	}
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_STATUS;
	resp->status = s;
}

static void do_ports(struct titad_control *ctl, struct arena *a, Tita__Control__Response *resp)
{
	const struct titad_sources *src = &ctl->src_;
	Tita__Control__PortsResponse *pr = az(a, sizeof(*pr));
	struct tita_port_info info[TITAD_MAX_PORTS];
	size_t n = titad_engine_ports(src->engine, info, TITAD_MAX_PORTS);

	if (!pr)
		return;
	tita__control__ports_response__init(pr);
	if (n > TITAD_MAX_PORTS)
		n = TITAD_MAX_PORTS;
	pr->ports = az(a, (n ? n : 1) * sizeof(*pr->ports));
	for (size_t i = 0; i < n && pr->ports; i++) {
		Tita__Control__Port *p = az(a, sizeof(*p));
		int k = titad_ports_find(src->ports, &info[i].local);

		if (!p)
			return;
		tita__control__port__init(p);
		p->addr = addr_bytes(a, &info[i].local);
		p->ifname = (char *)"";
		p->state = (char *)"up";
		if (k >= 0) {
			struct titad_port_info pi;
			char state[64];

			titad_ports_info(src->ports, (uint32_t)k, &pi);
			snprintf(state, sizeof(state), "down: %s", pi.down_why);
			p->ifname = astr(a, pi.ifname);
			p->state = pi.up ? (char *)"up" : astr(a, state);
			if (!p->ifname || !p->state)
				return;
		}
		p->line_rate_bps = info[i].line_rate_bps;
		p->eta = info[i].eta;
		p->capacity_bps = info[i].capacity_bps;
		p->unmanaged_bps = info[i].unmanaged_bps;
		p->granted_bps = info[i].granted_bps;
		p->rx_bps = info[i].rx_bps;
		p->tx_bps = info[i].tx_bps;
		p->ce_ppm = info[i].ce_ppm;
		pr->ports[pr->n_ports++] = p;
	}
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_PORTS;
	resp->ports = pr;
}

static Tita__Control__FabricLink **fabric_links(struct arena *a, const struct tita_leader_link *l,
						uint32_t n)
{
	Tita__Control__FabricLink **out = az(a, (n ? n : 1) * sizeof(*out));

	for (uint32_t s = 0; out && s < n; s++) {
		Tita__Control__FabricLink *k = az(a, sizeof(*k));

		if (!k)
			return NULL;
		tita__control__fabric_link__init(k);
		k->spine = s;
		k->capacity_bps = l[s].capacity_bps;
		k->demand_bps = l[s].demand_bps;
		k->allocated_bps = l[s].allocated_bps;
		k->entries = l[s].entries;
		k->down = l[s].down;
		out[s] = k;
	}
	return out;
}

static Tita__Control__FabricPort *fabric_port(const struct titad_sources *src, struct arena *a,
					      const struct tita_port_info *info, uint32_t i,
					      struct titad_engine_leader *ld)
{
	Tita__Control__FabricPort *p = az(a, sizeof(*p));
	struct titad_fabric_port fp;
	struct titad_port_info pi;

	if (!p)
		return NULL;
	tita__control__fabric_port__init(p);
	titad_ports_info(src->ports, i, &pi);
	memset(&fp, 0, sizeof(fp));
	if (src->fabric)
		titad_fabric_port(src->fabric, i, &fp);
	p->ifname = astr(a, pi.ifname);
	p->addr = addr_bytes(a, &pi.addr);
	p->placed = fp.placed;
	p->why = astr(a, fp.why);
	p->leaf = astr(a, fp.leaf);
	p->leaf_id = fp.place.leaf;
	p->spines = fp.place.n_spines;
	p->spine_bps = fp.place.spine_bps;
	p->members = fp.members;
	p->spine_map = (char *)(fp.spine_map == TITAD_SPINES_BY_ADDRESS ? "address" :
				fp.spine_map == TITAD_SPINES_LEARNED	? "learned" :
									  "");
	p->spines_learned = fp.spines_learned;
	p->lldp = (char *)tita_lldp_verdict_name(fp.lldp.verdict);
	p->lldp_neighbor = astr(a, fp.lldp.neighbor);
	p->lldp_port = astr(a, fp.lldp.port);
	if (info) {
		p->leader = addr_bytes(a, &info->leader);
		p->is_leader = info->is_leader;
		p->leader_down = addr_bytes(a, &info->leader_down);
		p->is_leader_down = info->is_leader_down;
	}
	titad_engine_leader(src->engine, &pi.addr, ld);
	if (ld->n_spines) {
		p->up = fabric_links(a, ld->up, ld->n_spines);
		p->down = fabric_links(a, ld->down, ld->n_spines);
		p->n_up = p->up ? ld->n_spines : 0;
		p->n_down = p->down ? ld->n_spines : 0;
	}
	if (!p->ifname || !p->why || !p->leaf || !p->lldp_neighbor || !p->lldp_port)
		return NULL;
	return p;
}

static void do_fabric(struct titad_control *ctl, struct arena *a, Tita__Control__Response *resp)
{
	const struct titad_sources *src = &ctl->src_;
	Tita__Control__FabricResponse *fr = az(a, sizeof(*fr));
	struct tita_port_info info[TITAD_MAX_PORTS];
	size_t n_info = titad_engine_ports(src->engine, info, TITAD_MAX_PORTS);
	uint32_t n = titad_ports_count(src->ports);
	struct titad_engine_leader *ld = malloc(sizeof(*ld));
	struct titad_engine_status es;
	struct titad_engine_paths paths;

	if (!fr || !ld) {
		free(ld);
		return;
	}
	tita__control__fabric_response__init(fr);
	titad_engine_status(src->engine, &es);
	titad_engine_paths(src->engine, &paths);
	fr->known = src->fabric && titad_fabric_known(src->fabric);
	fr->steer = paths.steer;
	fr->can_move = paths.can_move;
	fr->paths_started = paths.started;
	fr->paths_applied = paths.applied;
	fr->paths_failed = paths.failed;
	fr->paths_unsupported = paths.unsupported;
	fr->moves = es.ctl.moves;
	fr->moves_failed = es.ctl.moves_failed;
	fr->leaf_reports = es.ctl.leaf_reports;
	fr->leaf_answers = es.ctl.leaf_answers;
	fr->leaders_lost = es.ctl.leaders_lost;
	if (src->fabric) {
		struct titad_fabric_stats fs;

		titad_fabric_stats(src->fabric, &fs);
		fr->probes_sent = fs.prober.sent;
		fr->probe_answers_spine = fs.answers_spine;
		fr->probe_answers_none = fs.answers_none + fs.answers_unknown + fs.answers_learning;
		fr->probes_refused = fs.probes_refused;
		fr->peer_places = fs.peer_places;
		fr->peer_places_refused = fs.peer_places_refused;
		fr->topology_problems = fs.topology_problems;
	}
	if (n_info > TITAD_MAX_PORTS)
		n_info = TITAD_MAX_PORTS;
	fr->ports = az(a, (n ? n : 1) * sizeof(*fr->ports));
	for (uint32_t i = 0; i < n && fr->ports; i++) {
		const struct titad_port *pt = titad_ports_get(src->ports, i);
		const struct tita_port_info *pi = NULL;
		Tita__Control__FabricPort *p;

		for (size_t k = 0; k < n_info; k++)
			if (tita_addr_eq(&info[k].local, &pt->addr))
				pi = &info[k];
		p = fabric_port(src, a, pi, i, ld);
		if (!p)
			break;
		fr->ports[fr->n_ports++] = p;
	}
	free(ld);
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_FABRIC;
	resp->fabric = fr;
}

static const char *health_ifname(const struct titad_sources *src, const struct tita_addr *local,
				 char *buf, size_t size)
{
	int i = titad_ports_find(src->ports, local);

	if (i >= 0)
		return titad_ports_get(src->ports, (uint32_t)i)->ifname;
	return tita_format_addr(local, buf, size);
}

static void do_health(struct titad_control *ctl, struct arena *a, uint64_t now_ns,
		      Tita__Control__Response *resp)
{
	const struct titad_sources *src = &ctl->src_;
	const struct tita_health_snapshot *s = src->health ? titad_health_snapshot(src->health) :
							     NULL;
	Tita__Control__HealthResponse *hr = az(a, sizeof(*hr));
	char buf[TITA_ADDR_STRLEN];

	if (!hr)
		return;
	tita__control__health_response__init(hr);
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_HEALTH;
	resp->health = hr;
	if (!src->health)
		return;
	hr->interval_ns = titad_health_interval_ns(src->health);
	if (!s)
		return;
	hr->ready = true;
	hr->covered_ns = s->end_ns - s->start_ns;
	hr->ended_ago_ns = now_ns > s->end_ns ? now_ns - s->end_ns : 0;
	hr->ports = az(a, (s->n_ports ? s->n_ports : 1) * sizeof(*hr->ports));
	for (uint32_t i = 0; i < s->n_ports && hr->ports; i++) {
		const struct tita_health_port_gauges *g = &s->ports[i];
		Tita__Control__HealthPort *p = az(a, sizeof(*p));

		if (!p)
			break;
		tita__control__health_port__init(p);
		p->ifname = astr(a, health_ifname(src, &g->local, buf, sizeof(buf)));
		p->addr = addr_bytes(a, &g->local);
		p->line_rate_bps = g->line_rate_bps;
		p->tx_bytes_per_second = g->tx_bytes_per_second;
		p->rx_bytes_per_second = g->rx_bytes_per_second;
		p->tx_active_ratio = g->tx_active_ratio;
		p->tx_blocked_ratio = g->tx_blocked_ratio;
		p->tx_app_limited_ratio = g->tx_app_limited_ratio;
		p->rx_shortfall_ratio = g->rx_shortfall_ratio;
		p->ce_ratio = g->ce_ratio;
		p->loss_ratio = g->loss_ratio;
		p->pause_known = g->pause_known;
		p->pause_tx_per_second = g->pause_tx_per_second;
		p->pause_rx_per_second = g->pause_rx_per_second;
		p->peers_silent = g->peers_silent;
		hr->ports[hr->n_ports++] = p;
	}
	hr->pairs = az(a, (s->n_pairs ? s->n_pairs : 1) * sizeof(*hr->pairs));
	for (uint32_t i = 0; i < s->n_pairs && hr->pairs; i++) {
		const struct tita_health_pair_gauges *g = &s->pairs[i];
		Tita__Control__HealthPair *p = az(a, sizeof(*p));

		if (!p)
			break;
		tita__control__health_pair__init(p);
		p->ifname = astr(a, health_ifname(src, &g->local, buf, sizeof(buf)));
		p->remote = addr_bytes(a, &g->remote);
		p->role = g->role == TITA_HEALTH_TX ? TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_TX :
						      TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_RX;
		p->has_spine = g->spine != TITA_HEALTH_SPINE_NONE;
		p->spine = p->has_spine ? g->spine : 0;
		p->shortfall_ratio = g->shortfall_ratio;
		p->loss_ratio = g->loss_ratio;
		hr->pairs[hr->n_pairs++] = p;
	}
	hr->silent = az(a, (s->n_silent ? s->n_silent : 1) * sizeof(*hr->silent));
	for (uint32_t i = 0; i < s->n_silent && hr->silent; i++) {
		Tita__Control__HealthSilentPeer *p = az(a, sizeof(*p));

		if (!p)
			break;
		tita__control__health_silent_peer__init(p);
		p->ifname = astr(a, health_ifname(src, &s->silent[i].local, buf, sizeof(buf)));
		p->remote = addr_bytes(a, &s->silent[i].remote);
		p->silent_seconds = s->silent[i].silent_seconds;
		hr->silent[hr->n_silent++] = p;
	}
	hr->jobs = az(a, (s->n_jobs ? s->n_jobs : 1) * sizeof(*hr->jobs));
	for (uint32_t i = 0; i < s->n_jobs && hr->jobs; i++) {
		Tita__Control__HealthJob *j = az(a, sizeof(*j));
		char name[TITA_JOB_NAME_MAX + 16];

		if (!j)
			break;
		tita__control__health_job__init(j);
		j->job_id = s->jobs[i].job_id;
		j->job = astr(a, titad_engine_job_name(src->engine, s->jobs[i].job_id, name,
						       sizeof(name)));
		j->tx_bytes_per_second = s->jobs[i].tx_bytes_per_second;
		j->rx_bytes_per_second = s->jobs[i].rx_bytes_per_second;
		hr->jobs[hr->n_jobs++] = j;
	}
	{
		static const char *const what[] = { "samples_no_port", "pairs", "peers", "jobs",
						    "ports",	       "flows" };
		const uint64_t v[] = { s->untracked.samples_no_port, s->untracked.pairs,
				       s->untracked.peers,	     s->untracked.jobs,
				       s->untracked.ports,	     s->untracked.flows };

		hr->untracked = az(a, 6 * sizeof(*hr->untracked));
		for (size_t i = 0; i < 6 && hr->untracked; i++) {
			Tita__Control__ReasonCounter *rc = az(a, sizeof(*rc));

			if (!rc)
				break;
			tita__control__reason_counter__init(rc);
			rc->reason = (char *)what[i];
			rc->count = v[i];
			hr->untracked[hr->n_untracked++] = rc;
		}
	}
}

static void do_peers(struct titad_control *ctl, struct arena *a, uint64_t now_ns,
		     Tita__Control__Response *resp)
{
	const struct titad_sources *src = &ctl->src_;
	Tita__Control__PeersResponse *pr = az(a, sizeof(*pr));
	size_t n = titad_peers_count(src->peers);
	struct titad_peer_info *list = az(a, (n ? n : 1) * sizeof(*list));

	if (!pr || !list)
		return;
	tita__control__peers_response__init(pr);
	n = titad_peers_list(src->peers, list, n, now_ns);
	pr->peers = az(a, (n ? n : 1) * sizeof(*pr->peers));
	for (size_t i = 0; i < n && pr->peers; i++) {
		const struct titad_peer_info *pi = &list[i];
		Tita__Control__Peer *p = az(a, sizeof(*p));
		size_t nr = 0;

		if (!p)
			return;
		tita__control__peer__init(p);
		p->addr = addr_bytes(a, &pi->addr);
		p->heard = pi->heard;
		p->last_heard_ago_ns = pi->last_heard_ago_ns;
		p->boot_id = pi->boot_id;
		p->datagrams_in = pi->dgrams_in;
		p->datagrams_out = pi->dgrams_out;
		p->drops = pi->drops;
		p->control_interval_ns = pi->control_interval_ns;
		p->grant_ttl_ns = pi->grant_ttl_ns;
		p->wire_version = pi->wire_version;
		p->drops_by_reason = az(a, TITA_WIRE_E_COUNT * sizeof(*p->drops_by_reason));
		for (int e = 1; e < TITA_WIRE_E_COUNT && p->drops_by_reason; e++) {
			Tita__Control__ReasonCounter *rc;

			if (!pi->drops_by_reason[e])
				continue;
			rc = az(a, sizeof(*rc));
			if (!rc)
				return;
			tita__control__reason_counter__init(rc);
			rc->reason = (char *)tita_wire_error_name((enum tita_wire_error)e);
			rc->count = pi->drops_by_reason[e];
			p->drops_by_reason[nr++] = rc;
		}
		p->n_drops_by_reason = nr;
		pr->peers[pr->n_peers++] = p;
	}
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_PEERS;
	resp->peers = pr;
}

static void do_pairs(struct titad_control *ctl, struct arena *a, uint64_t now_ns,
		     const Tita__Control__PairsRequest *rq, Tita__Control__Response *resp)
{
	const struct titad_sources *src = &ctl->src_;
	Tita__Control__PairsResponse *pr = az(a, sizeof(*pr));
	size_t n = titad_engine_n_pairs(src->engine), matched = 0;
	struct tita_pair_info *info = az(a, (n ? n : 1) * sizeof(*info));
	struct tita_addr local, remote;
	bool f_local = false, f_remote = false, f_job = false;
	uint32_t job_id = 0, limit;

	if (!pr || !info)
		return;
	if (rq && rq->local.len) {
		if (parse_addr_bytes(&rq->local, &local))
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			     "local: an address is 4 or 16 bytes");
		f_local = true;
	}
	if (rq && rq->remote.len) {
		if (parse_addr_bytes(&rq->remote, &remote))
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			     "remote: an address is 4 or 16 bytes");
		f_remote = true;
	}
	if (rq && rq->job && rq->job[0]) {
		if (!tita_job_name_valid(rq->job))
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			     "job: not a job name");
		job_id = tita_job_id(rq->job);
		f_job = true;
	}
	limit = rq && rq->limit && rq->limit < TITA_CTL_PAIRS_PAGE ? rq->limit :
								     TITA_CTL_PAIRS_PAGE;
	tita__control__pairs_response__init(pr);
	n = titad_engine_pairs(src->engine, info, n);
	pr->pairs = az(a, (limit ? limit : 1) * sizeof(*pr->pairs));
	for (size_t i = 0; i < n && pr->pairs; i++) {
		const struct tita_pair_info *pi = &info[i];
		Tita__Control__Pair *p;
		char job[TITA_JOB_NAME_MAX + 1];

		if ((f_local && !tita_addr_eq(&pi->local, &local)) ||
		    (f_remote && !tita_addr_eq(&pi->remote, &remote)) ||
		    (f_job && pi->job_id != job_id) ||
		    (rq && rq->role && (int)rq->role != (int)pi->role))
			continue;
		matched++;
		if (matched <= (rq ? rq->offset : 0) || pr->n_pairs >= limit)
			continue;
		p = az(a, sizeof(*p));
		if (!p)
			return;
		tita__control__pair__init(p);
		p->local = addr_bytes(a, &pi->local);
		p->remote = addr_bytes(a, &pi->remote);
		p->job_id = pi->job_id;
		p->job = astr(a, titad_engine_job_name(src->engine, pi->job_id, job, sizeof(job)));
		p->role = (Tita__Control__PairRole)pi->role;
		p->state = (Tita__Control__PairState)pi->state;
		p->demand_bps = pi->demand_bps;
		p->grant_bps = pi->grant_bps;
		p->ceiling_bps = pi->ceiling_bps;
		p->unpaced = pi->rate_bps == TITA_RATE_UNPACED;
		p->rate_bps = p->unpaced ? 0 : pi->rate_bps;
		p->measured_bps = pi->measured_bps;
		p->ce_ppm = pi->ce_ppm;
		p->cnp_per_sec = pi->cnp_per_sec;
		p->expires_in_ns = pi->expires_ns > now_ns ? pi->expires_ns - now_ns : 0;
		p->spine = pi->spine;
		p->sport = pi->sport;
		p->leaf_cap_bps = pi->leaf_cap_bps;
		p->moving = pi->moving;
		pr->pairs[pr->n_pairs++] = p;
	}
	pr->total = matched;
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_PAIRS;
	resp->pairs = pr;
}

static Tita__Control__Job *job_msg(struct arena *a, const struct titad_job_info *ji)
{
	Tita__Control__Job *j = az(a, sizeof(*j));
	struct tita_job pol = ji->policy;

	if (!j)
		return NULL;
	tita__control__job__init(j);
	j->name = astr(a, ji->name);
	j->job_id = ji->id;
	j->qps = ji->qps;
	j->discovered = ji->discovered && !ji->in_config && !ji->set_by_ctl;
	j->configured = ji->has_policy;
	if (!ji->has_policy)
		pol = (struct tita_job){ .weight_milli = TITA_WEIGHT_ONE };
	j->weight = (double)pol.weight_milli / TITA_WEIGHT_ONE;
	j->min_bps = pol.min_bps;
	j->max_bps = pol.max_bps;
	return j;
}

static void jobs_response(struct titad_control *ctl, struct arena *a, Tita__Control__Response *resp,
			  const char *only)
{
	struct titad_engine *engine = ctl->src_.engine;
	Tita__Control__JobsResponse *jr = az(a, sizeof(*jr));
	struct titad_job_info *info;
	size_t n;

	if (!jr)
		return;
	tita__control__jobs_response__init(jr);
	if (only) {
		info = az(a, sizeof(*info));
		n = info ? 1 : 0;
		if (info && !titad_engine_job_info(engine, only, info)) {
			/* A job unknown to the table but with a policy (set
			 * and then forgotten): its name and the policy. */
			memset(info, 0, sizeof(*info));
			snprintf(info->name, sizeof(info->name), "%s", only);
			info->id = tita_job_id(only);
			info->has_policy = titad_engine_job_policy(engine, info->id, &info->policy);
		}
	} else {
		n = titad_engine_jobs(engine, NULL, 0);
		info = az(a, (n ? n : 1) * sizeof(*info));
		if (info)
			n = titad_engine_jobs(engine, info, n);
	}
	jr->jobs = az(a, (n ? n : 1) * sizeof(*jr->jobs));
	if (!info || !jr->jobs)
		return;
	for (size_t i = 0; i < n; i++) {
		jr->jobs[i] = job_msg(a, &info[i]);
		if (!jr->jobs[i])
			return;
		jr->n_jobs++;
	}
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_JOBS;
	resp->jobs = jr;
}

static void do_job_set(struct titad_control *ctl, struct client *c, struct arena *a,
		       uint64_t now_ns, const Tita__Control__JobSetRequest *rq,
		       Tita__Control__Response *resp)
{
	struct titad_engine *engine = ctl->src_.engine;
	struct tita_job pol = { .weight_milli = TITA_WEIGHT_ONE };
	int r;

	if (!may_write(c))
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED,
		     "only root or group %s may change jobs",
		     ctl->group[0] ? ctl->group : "(none)");
	if (!rq || !tita_job_name_valid(rq->name))
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
		     "name: a job name is 1..%d letters, digits, '_', '-' or '.'",
		     TITA_JOB_NAME_MAX);
	titad_engine_job_policy(engine, tita_job_id(rq->name), &pol);
	if (rq->weight_present_case == TITA__CONTROL__JOB_SET_REQUEST__WEIGHT_PRESENT_WEIGHT) {
		if (!(rq->weight >= 0.001 && rq->weight <= 1000))
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			     "weight: out of range (0.001..1000)");
		pol.weight_milli = (uint32_t)(rq->weight * TITA_WEIGHT_ONE + 0.5);
	}
	if (rq->min_present_case == TITA__CONTROL__JOB_SET_REQUEST__MIN_PRESENT_MIN_BPS) {
		if (rq->min_bps > TITA_RATE_MAX_BPS)
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			     "min: above 3.2T");
		pol.min_bps = rq->min_bps;
	}
	if (rq->max_present_case == TITA__CONTROL__JOB_SET_REQUEST__MAX_PRESENT_MAX_BPS) {
		if (rq->max_bps > TITA_RATE_MAX_BPS)
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			     "max: above 3.2T");
		pol.max_bps = rq->max_bps;
	}
	if (pol.max_bps && pol.min_bps > pol.max_bps)
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
		     "min is above max");
	r = titad_engine_job_set(engine, rq->name, &pol, now_ns);
	if (r == -EEXIST)
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
		     "name: its id collides with another job's");
	if (r == -ENOSPC)
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_NO_SPACE, "too many jobs");
	if (r)
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
		     "the controller refused the job: %s", strerror(-r));
	log_notice("job %s: set by uid %u (pid %d): weight %.3f min %llu max %llu bit/s", rq->name,
		   (unsigned)c->uid, (int)c->pid, pol.weight_milli / 1000.0,
		   (unsigned long long)pol.min_bps, (unsigned long long)pol.max_bps);
	jobs_response(ctl, a, resp, rq->name);
}

static void do_job_show(struct titad_control *ctl, struct arena *a,
			const Tita__Control__JobShowRequest *rq, Tita__Control__Response *resp)
{
	struct titad_job_info ji;

	if (rq && rq->name && rq->name[0]) {
		if (!tita_job_name_valid(rq->name))
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			     "name: not a job name");
		if (!titad_engine_job_info(ctl->src_.engine, rq->name, &ji))
			FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_NOT_FOUND, "no job %s",
			     rq->name);
		return jobs_response(ctl, a, resp, rq->name);
	}
	jobs_response(ctl, a, resp, NULL);
}

static void do_job_clear(struct titad_control *ctl, struct client *c, struct arena *a,
			 uint64_t now_ns, const Tita__Control__JobClearRequest *rq,
			 Tita__Control__Response *resp)
{
	if (!may_write(c))
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED,
		     "only root or group %s may change jobs",
		     ctl->group[0] ? ctl->group : "(none)");
	if (!rq || !tita_job_name_valid(rq->name))
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
		     "name: not a job name");
	if (titad_engine_job_clear(ctl->src_.engine, rq->name, now_ns) == -ENOENT)
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_NOT_FOUND, "no job %s",
		     rq->name);
	log_notice("job %s: cleared by uid %u (pid %d)", rq->name, (unsigned)c->uid, (int)c->pid);
	jobs_response(ctl, a, resp, rq->name);
}

static void do_qps(struct titad_control *ctl, struct arena *a, uint64_t now_ns,
		   const Tita__Control__QpsRequest *rq, Tita__Control__Response *resp)
{
	const struct titad_discovery *disc = ctl->src_.discovery;
	Tita__Control__QpsResponse *qr = az(a, sizeof(*qr));
	const struct tita_qpscan_qp *qps;
	const struct tita_rdma_dev *devs;
	struct tita_qpscan_stats st;
	size_t n = 0, n_devs = 0, matched = 0;
	const char *job = rq && rq->job && rq->job[0] ? rq->job : NULL;
	const char *dev = rq && rq->device && rq->device[0] ? rq->device : NULL;
	uint32_t limit = rq && rq->limit && rq->limit < QPS_PAGE ? rq->limit : QPS_PAGE;
	uint64_t last_ns = titad_discovery_last_ns(disc);

	if (!qr)
		return;
	if (job && !tita_job_name_valid(job))
		FAIL(a, resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
		     "job: not a job name");
	tita__control__qps_response__init(qr);
	qr->discovery = (char *)titad_discovery_state(disc);
	qps = titad_discovery_qps(disc, &n);
	devs = titad_discovery_devices(disc, &n_devs);
	titad_discovery_stats(disc, &st);
	qr->cut = st.qps_cut;
	if (last_ns)
		qr->scanned_ago_ns = now_ns > last_ns ? now_ns - last_ns : 0;
	qr->qps = az(a, (n < limit ? (n ? n : 1) : limit) * sizeof(*qr->qps));
	for (size_t i = 0; i < n && qr->qps; i++) {
		const struct tita_qpscan_qp *q = &qps[i];
		const char *dev_name = q->dev < n_devs ? devs[q->dev].name : "";
		Tita__Control__Qp *m;

		if ((job && strcmp(q->job, job)) || (dev && strcmp(dev_name, dev)))
			continue;
		matched++;
		if (matched <= (rq ? rq->offset : 0) || qr->n_qps >= limit)
			continue;
		m = az(a, sizeof(*m));
		if (!m)
			return;
		tita__control__qp__init(m);
		/* The scan's strings stay put until the next batch of the
		 * event loop, which cannot start before this response is sent. */
		m->device = (char *)dev_name;
		m->port = q->port;
		m->lqpn = q->lqpn;
		m->rqpn = q->rqpn;
		m->has_rqpn = q->has_rqpn;
		m->type = (char *)tita_rdma_qp_type_name(q->type);
		m->state = (char *)tita_rdma_qp_state_name(q->state);
		m->pid = q->pid;
		m->has_pid = q->has_pid;
		m->kern_name = (char *)q->kern_name;
		m->job = (char *)q->job;
		qr->qps[qr->n_qps++] = m;
	}
	qr->total = matched;
	resp->body_case = TITA__CONTROL__RESPONSE__BODY_QPS;
	resp->qps = qr;
}

static void handle(struct client *c, const uint8_t *buf, size_t len, uint64_t now_ns)
{
	struct titad_control *ctl = c->ctl;
	Tita__Control__Response resp = TITA__CONTROL__RESPONSE__INIT;
	Tita__Control__Request *rq = tita_ctl_request_unpack(buf, len);
	struct arena a = { 0 };
	int r;

	resp.message = (char *)"";
	if (!rq) {
		set_error(&a, &resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT,
			  "malformed request");
	} else {
		resp.id = rq->id;
		switch (rq->body_case) {
		case TITA__CONTROL__REQUEST__BODY_STATUS:
			do_status(ctl, &a, now_ns, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_PORTS:
			do_ports(ctl, &a, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_FABRIC:
			do_fabric(ctl, &a, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_HEALTH:
			do_health(ctl, &a, now_ns, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_PEERS:
			do_peers(ctl, &a, now_ns, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_PAIRS:
			do_pairs(ctl, &a, now_ns, rq->pairs, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_JOB_SET:
			do_job_set(ctl, c, &a, now_ns, rq->job_set, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_JOB_SHOW:
			do_job_show(ctl, &a, rq->job_show, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_JOB_CLEAR:
			do_job_clear(ctl, c, &a, now_ns, rq->job_clear, &resp);
			break;
		case TITA__CONTROL__REQUEST__BODY_QPS:
			do_qps(ctl, &a, now_ns, rq->qps, &resp);
			break;
		default:
			set_error(&a, &resp, TITA__CONTROL__ERROR_CODE__ERROR_CODE_UNSUPPORTED,
				  "unsupported request");
		}
	}
	if (a.failed) {
		resp = (Tita__Control__Response)TITA__CONTROL__RESPONSE__INIT;
		resp.id = rq ? rq->id : 0;
		resp.error = TITA__CONTROL__ERROR_CODE__ERROR_CODE_INTERNAL;
		resp.message = (char *)"out of memory";
	}
	r = tita_ctl_send(c->fd, &resp.base, TITA_CTL_RESPONSE_MAX);
	if (r)
		log_debug("control: client pid %d: sending a response: %s", (int)c->pid,
			  strerror(-r));
	if (rq)
		tita__control__request__free_unpacked(rq, NULL);
	arena_free(&a);
}

static void on_client(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct client *c = data;
	uint8_t buf[TITA_CTL_REQUEST_MAX];
	ssize_t n;

	if (events & (EPOLLHUP | EPOLLERR) && !(events & EPOLLIN)) {
		client_close(c);
		return;
	}
	n = tita_ctl_recv(fd, buf, sizeof(buf));
	if (n == -EAGAIN)
		return;
	c->last_ns = now_ns;
	if (n == 0 || (n < 0 && n != -EMSGSIZE)) {
		client_close(c);
		return;
	}
	if (n == -EMSGSIZE) {
		/* Not our client: one answer, then the door. */
		Tita__Control__Response resp = TITA__CONTROL__RESPONSE__INIT;

		resp.error = TITA__CONTROL__ERROR_CODE__ERROR_CODE_INVALID_ARGUMENT;
		resp.message = (char *)"request too large";
		tita_ctl_send(fd, &resp.base, TITA_CTL_RESPONSE_MAX);
		client_close(c);
		return;
	}
	handle(c, buf, (size_t)n, now_ns);
}

/* Whether a client of uid may take a slot now. */
static bool room_for(const struct titad_control *ctl, uid_t uid)
{
	uint32_t reserved = ctl->max_clients / 2 < ROOT_RESERVED ? ctl->max_clients / 2 :
								   ROOT_RESERVED;
	uint32_t same = 0, others = 0;

	if (ctl->n_clients >= ctl->max_clients)
		return false;
	if (uid == 0)
		return true;
	for (uint32_t i = 0; i < ctl->n_clients; i++) {
		if (ctl->clients[i]->uid == uid)
			same++;
		if (ctl->clients[i]->uid != 0)
			others++;
	}
	return same < ctl->max_per_uid && others < ctl->max_clients - reserved;
}

/* The idle check's next deadline: the oldest client's. */
static void arm_idle(struct titad_control *ctl)
{
	uint64_t next = TITA_TIME_NEVER;

	for (uint32_t i = 0; i < ctl->n_clients; i++)
		if (ctl->clients[i]->last_ns + ctl->idle_timeout_ns < next)
			next = ctl->clients[i]->last_ns + ctl->idle_timeout_ns;
	tita_event_timer_set(ctl->ev, ctl->t_idle, next);
}

static void on_idle_check(void *data, uint64_t now_ns)
{
	struct titad_control *ctl = data;

	for (uint32_t i = 0; i < ctl->n_clients;) {
		struct client *c = ctl->clients[i];

		if (now_ns - c->last_ns >= ctl->idle_timeout_ns) {
			ctl->idle_closed++;
			client_close(c); /* moves the last client to i */
			continue;
		}
		i++;
	}
	arm_idle(ctl);
}

/* A client of uid, pid: in the table, or NULL (closed). */
static struct client *client_add(struct titad_control *ctl, int cfd, const struct ucred *cred,
				 uint64_t now_ns)
{
	struct client *c = calloc(1, sizeof(*c));

	if (c)
		*c = (struct client){ .ctl = ctl,
				      .fd = cfd,
				      .uid = cred->uid,
				      .gid = cred->gid,
				      .pid = cred->pid,
				      .may_write = -1,
				      .last_ns = now_ns };
	if (c && (c->src = tita_event_fd_add(ctl->ev, cfd, EPOLLIN, on_client, c)))
		return ctl->clients[ctl->n_clients++] = c;
	close(cfd);
	free(c);
	return NULL;
}

static void on_accept(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct titad_control *ctl = data;
	uint64_t held;

	(void)fd;
	(void)events;
	/* A bounded number per wake-up: a pile of connections cannot hold
	 * the loop. */
	for (int k = 0; k < 16; k++) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		bool paused;
		int cfd =
			tita_event_accept(ctl->ev, ctl->src, NULL, NULL, ACCEPT_PAUSE_NS, &paused);

		if (cfd < 0) {
			if (paused && tita_ratelimit_ok(&ctl->accept_rl, now_ns,
							60 * TITA_NSEC_PER_SEC, 1, &held))
				log_warning(
					"control socket %s: accept: %s; not accepting for %llu ms",
					ctl->path, strerror(errno),
					(unsigned long long)(ACCEPT_PAUSE_NS / TITA_NSEC_PER_MSEC));
			break;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
		    !room_for(ctl, cred.uid)) {
			ctl->refused++;
			close(cfd);
			continue;
		}
		client_add(ctl, cfd, &cred, now_ns);
	}
	arm_idle(ctl);
}

/* control-group's gid: 0 and *ret_set, or -errno (-ENOENT: no such group),
 * leaving *ret_set false. */
static int lookup_group(const char *group, gid_t *ret_gid, bool *ret_set)
{
	struct group *gr;

	*ret_set = false;
	if (!group[0])
		return 0;
	errno = 0;
	gr = getgrnam(group);
	if (!gr)
		return errno ? -errno : -ENOENT;
	*ret_gid = gr->gr_gid;
	*ret_set = true;
	return 0;
}

int titad_control_open(struct titad_control **ret, struct tita_event *ev,
		       const struct titad_config *cfg, const struct titad_sources *src, char *err,
		       size_t err_size)
{
	struct titad_control *ctl = calloc(1, sizeof(*ctl));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = cfg->control_socket;
	char dir[sizeof(sun.sun_path)];
	char *slash;
	int e;

	*ret = ctl;
	if (!ctl)
		return -ENOMEM;
	ctl->ev = ev;
	ctl->src_ = *src;
	ctl->fd = -1;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	snprintf(ctl->group, sizeof(ctl->group), "%s", cfg->control_group);
	ctl->mode = cfg->control_mode;
	ctl->max_clients = cfg->control_clients < MAX_CLIENTS ? cfg->control_clients : MAX_CLIENTS;
	ctl->max_per_uid = cfg->control_clients_per_uid;
	ctl->idle_timeout_ns = cfg->control_idle_timeout_ns;
	ctl->t_idle = tita_event_timer_new(ev, on_idle_check, ctl);
	if (!ctl->t_idle)
		return -ENOSPC;
	if (lookup_group(cfg->control_group, &ctl->gid, &ctl->gid_set))
		log_warning("control socket %s: group %s does not exist: only root may "
			    "change anything",
			    path, cfg->control_group);
	/* The directory (/run/tita) may not exist yet outside systemd's
	 * RuntimeDirectory=. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	ctl->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0)
		goto fail;
	/* A socket file left by a crashed titad: connecting to it would fail,
	 * so it is stale; a live titad would answer (and we refuse then). */
	{
		int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			close(ctl->fd);
			ctl->fd = -1;
			snprintf(err, err_size, "control socket %s: another titad is running",
				 path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	{
		/* The mode is right from the first moment the name exists. */
		mode_t old = umask(0777 & ~cfg->control_mode);

		e = bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
		if (e)
			goto fail;
	}
	if (chmod(path, cfg->control_mode))
		goto fail;
	if (ctl->gid_set && chown(path, 0, ctl->gid))
		goto fail;
	if (listen(ctl->fd, 16))
		goto fail;
	ctl->src = tita_event_fd_add(ev, ctl->fd, EPOLLIN, on_accept, ctl);
	if (!ctl->src)
		goto fail;
	return 0;
fail:
	e = errno;
	snprintf(err, err_size, "control socket %s: %s", path, strerror(e));
	return -e;
}

struct titad_control *titad_control_close(struct titad_control *ctl)
{
	if (!ctl)
		return NULL;
	while (ctl->n_clients)
		client_close(ctl->clients[0]);
	if (ctl->t_idle)
		tita_event_timer_set(ctl->ev, ctl->t_idle, TITA_TIME_NEVER);
	if (ctl->src)
		tita_event_fd_del(ctl->ev, ctl->src);
	if (ctl->fd >= 0) {
		close(ctl->fd);
		unlink(ctl->path);
	}
	free(ctl);
	return NULL;
}

int titad_control_reconfigure(struct titad_control *ctl, const struct titad_config *cfg, char *err,
			      size_t err_size)
{
	bool gid_set;
	gid_t gid = 0;
	int r = lookup_group(cfg->control_group, &gid, &gid_set);

	if (r) {
		snprintf(err, err_size, "control-group %s: %s", cfg->control_group,
			 r == -ENOENT ? "no such group" : strerror(-r));
		return r;
	}
	/* The file's mode and group change in place; connected clients keep
	 * the rights they had, new ones get the new. */
	if (chmod(ctl->path, cfg->control_mode) || (gid_set && chown(ctl->path, 0, gid)) ||
	    (!gid_set && chown(ctl->path, 0, 0))) {
		r = -errno;
		snprintf(err, err_size, "control socket %s: %s", ctl->path, strerror(-r));
		/* What the running configuration says, again. */
		chmod(ctl->path, ctl->mode);
		if (ctl->gid_set)
			chown(ctl->path, 0, ctl->gid);
		return r;
	}
	ctl->mode = cfg->control_mode;
	ctl->gid = gid;
	ctl->gid_set = gid_set;
	snprintf(ctl->group, sizeof(ctl->group), "%s", cfg->control_group);
	ctl->max_clients = cfg->control_clients < MAX_CLIENTS ? cfg->control_clients : MAX_CLIENTS;
	ctl->max_per_uid = cfg->control_clients_per_uid;
	ctl->idle_timeout_ns = cfg->control_idle_timeout_ns;
	arm_idle(ctl);
	return 0;
}

void titad_control_stats(const struct titad_control *ctl, struct titad_control_stats *ret)
{
	ret->clients = ctl ? ctl->n_clients : 0;
	ret->refused = ctl ? ctl->refused : 0;
	ret->idle_closed = ctl ? ctl->idle_closed : 0;
}
