// SPDX-License-Identifier: MIT
/*
 * The qp back end: per-QP rates through the in-process agents.
 *
 * Agents (libtita-agent.so in the processes that own QPs) connect to a
 * SOCK_SEQPACKET socket, say who they are (the kernel's SO_PEERCRED, not
 * their word, gives the PID, and the PID the job), and register their QPs
 * with the device, port, GID index and remote GID. The QP's pair follows:
 * local = the port whose netdev owns that GID (sysfs gid_attrs/ndevs),
 * remote = the remote GID (RoCEv2 IPv4 GIDs are ::ffff:a.b.c.d, tita's own
 * address form), job = the owner's job.
 *
 * A pair's rate is split among its connected QPs: a quarter evenly, so an
 * idle QP that wakes up is not starved until the next split, and the rest
 * by each QP's demand (bytes posted per second, from the agents'
 * statistics). A QP is re-commanded only when its share moves by more than
 * CHURN_PCT, so the NIC's rate tables are not rewritten every interval.
 *
 * The same statistics are the controller's sender-side samples on hardware
 * RoCE, where the eBPF datapath sees nothing: per pair, the bytes its QPs
 * completed since the last sample and the bytes posted and not completed
 * yet (tita_pacer_qp_tx_samples()). A pair's record outlives its QPs until
 * the next sample, so the bytes of a QP destroyed or of an agent gone
 * between two samples still count.
 *
 * A TX pair's path is its UDP source port (tita_pacer_qp_set_path()):
 * every QP of the pair that the agents registered in RTR or RTS is sent
 * SET_SPORT, a QP that joins the pair later gets it when it gets there, and
 * the path is done when each has answered (the agent moves an RC QP only
 * once nothing it posted is in flight, so its final answer may come after
 * an -EINPROGRESS). A QP destroyed meanwhile needs no path; any other error
 * fails the move (tita_pacer_qp_pop_path()).
 *
 * Nothing here blocks: the socket and every agent connection are
 * non-blocking and sit in one epoll set, whose fd titad's event loop
 * watches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentproto.h"
#include "pacer_nic.h"

#define MAX_AGENTS 1024
#define CHURN_PCT 5
/* The evenly shared part of a pair's rate, in 1/100. */
#define EVEN_SHARE_PCT 25
#define REDISTRIBUTE_NS (100 * 1000000ull)

struct qp_ent {
	struct tita_agent_qp info;
	bool has_local;
	uint32_t port;
	struct tita_addr remote;
	uint32_t pair; /* index + 1 in qp_state.pairs; 0: no pair to account to */
	uint64_t bytes_posted, bytes_completed; /* the agent's counters, as last reported */
	uint64_t sampled_completed; /* bytes_completed already in a sample or a carry */
	uint64_t prev_bytes, prev_ns;
	double demand_bps;
	uint64_t cmd_kbps; /* last commanded; 0 = unpaced */
	int last_err;
	uint32_t mech;
	/* The SET_SPORT last sent, and whether its final answer is due. */
	uint16_t sport_want;
	uint32_t sport_seq;
	bool sport_wait;
	int sport_err; /* its final answer's error (0: moved) */
};

struct agent {
	int fd;
	pid_t pid;
	uint32_t job_id;
	bool hello;
	size_t n, cap;
	struct qp_ent *qps;
};

/* A pair the agents' QPs send on, for tita_pacer_qp_tx_samples(). Slots
 * are reused, never moved, so a QP keeps its pair's index. */
struct sample_pair {
	bool used;
	uint32_t port;
	struct tita_addr remote;
	uint32_t job_id;
	uint64_t prev_ns; /* the last sample, or when the first QP joined */
	uint64_t carry_bytes; /* completed by QPs that left since prev_ns */
	/* A report (or a carry) arrived since prev_ns: the next call has
	 * something to say. Between reports a pair gets no sample, so the
	 * controller holds the last one rather than reading an agent's
	 * report period (TITA_AGENT_STATS_MS) as bursts and silences. */
	bool fresh;
	/* Scratch while sampling. */
	bool sampled;
	uint32_t n_qps;
	uint64_t tx_bytes, backlog_bytes;
};

/* A pair's path: the source port its QPs take. */
struct path_ent {
	bool used;
	uint32_t port;
	struct tita_addr remote;
	uint32_t job_id;
	struct tita_path_update u;
	bool pending; /* some QP's answer is still due */
	int err; /* the first error of this move */
	uint64_t since_ns;
};

struct path_done {
	struct tita_path_update u;
	int err;
};

struct qp_state {
	struct tita_pacer_qp_conf conf;
	int listen_fd, epoll_fd;
	struct agent *agents[MAX_AGENTS];
	struct sample_pair *pairs;
	size_t n_pairs, cap_pairs;
	struct tita_rule_table rules;
	struct tita_pacer_qp_stats stats;
	uint32_t seq;
	uint64_t last_redistribute_ns;
	struct path_ent *paths;
	size_t n_paths, cap_paths;
	struct path_done *done; /* ring of finished moves for pop_path */
	size_t done_head, done_len, done_cap;
};

static struct qp_state *qstate(struct tita_pacer *p)
{
	if (!p->priv) {
		struct qp_state *s = calloc(1, sizeof(*s));

		if (!s)
			return NULL;
		s->listen_fd = s->epoll_fd = -1;
		snprintf(s->conf.socket_path, sizeof(s->conf.socket_path), "%s",
			 TITA_AGENT_SOCKET_DEFAULT);
		snprintf(s->conf.sysfs_root, sizeof(s->conf.sysfs_root), "/sys");
		s->conf.socket_gid = (gid_t)-1;
		s->conf.socket_mode = 0666;
		p->priv = s;
	}
	return p->priv;
}

int tita_pacer_qp_configure(struct tita_pacer *p, const struct tita_pacer_qp_conf *conf)
{
	struct qp_state *s = qstate(p);

	if (!s)
		return -ENOMEM;
	s->conf = *conf;
	return 0;
}

int tita_pacer_qp_fd(const struct tita_pacer *p)
{
	const struct qp_state *s = p->priv;

	return s ? s->epoll_fd : -1;
}

static int qp_init(struct tita_pacer *p, char *err, size_t err_size)
{
	struct qp_state *s = qstate(p);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct stat st;

	if (!s)
		return -ENOMEM;
	if (strlen(s->conf.socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_size, "agent socket %s: path too long", s->conf.socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, s->conf.socket_path);
	/* A socket left by a titad that died: ours to replace. Anything
	 * else at that path is not. */
	if (lstat(sa.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_size, "agent socket %s: exists and is not a socket",
				 sa.sun_path);
			return -EEXIST;
		}
		unlink(sa.sun_path);
	}
	s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->listen_fd < 0 || s->epoll_fd < 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, s->conf.socket_mode) < 0 ||
	    (s->conf.socket_gid != (gid_t)-1 &&
	     chown(sa.sun_path, (uid_t)-1, s->conf.socket_gid) < 0) ||
	    listen(s->listen_fd, 128) < 0) {
		int e = errno;

		snprintf(err, err_size, "agent socket %s: %s", sa.sun_path, strerror(e));
		return -e;
	}
	ev.data.ptr = NULL;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0) {
		int e = errno;

		snprintf(err, err_size, "agent socket %s: epoll: %s", sa.sun_path, strerror(e));
		return -e;
	}
	return 0;
}

/* The pacer port whose netdev owns GID sgid_index of dev/port. */
static bool qp_local_port(const struct tita_pacer *p, const struct qp_state *s,
			  const struct tita_agent_qp *q, uint32_t *ret_port)
{
	char path[512], name[32];
	ssize_t n;
	int fd;

	if (memchr(q->dev_name, '\0', sizeof(q->dev_name)) == NULL || strchr(q->dev_name, '/') ||
	    q->dev_name[0] == '.' || q->port_num == 0)
		return false;
	snprintf(path, sizeof(path), "%s/class/infiniband/%s/ports/%u/gid_attrs/ndevs/%u",
		 s->conf.sysfs_root, q->dev_name, q->port_num, q->sgid_index);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, name, sizeof(name) - 1);
	close(fd);
	if (n <= 0)
		return false;
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	for (uint32_t i = 0; i < p->n_ports; i++)
		if (!strcmp(p->ports[i].ifname, name)) {
			*ret_port = i;
			return true;
		}
	return false;
}

static bool qp_in_pair(const struct tita_pacer *p, const struct agent *a, const struct qp_ent *q,
		       const struct tita_pacer_rule *r)
{
	return q->has_local && a->job_id == r->job_id && tita_addr_eq(&q->remote, &r->remote) &&
	       tita_addr_eq(&p->ports[q->port].addr, &r->local) &&
	       (q->info.state == 2 || q->info.state == 3); /* RTR, RTS */
}

static void command(struct qp_state *s, struct agent *a, struct qp_ent *q, uint64_t kbps)
{
	struct tita_agent_set_rate m;

	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_RATE, sizeof(m));
	m.qp_id = q->info.qp_id;
	m.rate_kbps = kbps;
	m.seq = ++s->seq;
	/* A full socket buffer drops the command: the next split sends it
	 * again, as the rate still differs from cmd_kbps. */
	if (send(a->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		s->stats.command_errors++;
		return;
	}
	s->stats.commands_sent++;
	q->cmd_kbps = kbps;
}

static bool moved(uint64_t old, uint64_t now)
{
	uint64_t d = old > now ? old - now : now - old;

	return old == 0 || d * 100 > old * CHURN_PCT;
}

/* Split a rule's rate among its QPs (rate 0: unpace them). */
static void distribute(struct tita_pacer *p, struct qp_state *s, const struct tita_pacer_rule *r,
		       uint64_t rate_bps)
{
	double total = 0;
	size_t n = 0;

	for (int i = 0; i < MAX_AGENTS; i++) {
		struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++)
			if (qp_in_pair(p, a, &a->qps[k], r)) {
				n++;
				total += a->qps[k].demand_bps;
			}
	}
	for (int i = 0; i < MAX_AGENTS && n; i++) {
		struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++) {
			struct qp_ent *q = &a->qps[k];
			double frac;
			uint64_t kbps;

			if (!qp_in_pair(p, a, q, r))
				continue;
			if (rate_bps == 0) {
				if (q->cmd_kbps)
					command(s, a, q, 0);
				continue;
			}
			frac = EVEN_SHARE_PCT / 100.0 / (double)n +
			       (100 - EVEN_SHARE_PCT) / 100.0 *
				       (total > 0 ? q->demand_bps / total : 1.0 / (double)n);
			kbps = (uint64_t)((double)rate_bps * frac / 1000.0 + 0.999);
			if (kbps == 0)
				kbps = 1;
			if (moved(q->cmd_kbps, kbps))
				command(s, a, q, kbps);
		}
	}
}

static int qp_set_rate(struct tita_pacer *p, const struct tita_addr *local,
		       const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps)
{
	struct qp_state *s = p->priv;
	struct tita_pacer_rule *r = tita_rule_find(&s->rules, local, remote, job_id);

	if (!tita_pacer_port(p, local))
		return -ENOENT;
	if (!r)
		r = tita_rule_add(&s->rules, local, remote, job_id);
	if (!r)
		return -ENOMEM;
	r->rate_bps = rate_bps;
	distribute(p, s, r, rate_bps);
	return 0;
}

static int qp_clear(struct tita_pacer *p, const struct tita_addr *local,
		    const struct tita_addr *remote, uint32_t job_id)
{
	struct qp_state *s = p->priv;
	struct tita_pacer_rule *r = tita_rule_find(&s->rules, local, remote, job_id);

	if (!r)
		return -ENOENT;
	distribute(p, s, r, 0);
	tita_rule_del(&s->rules, r);
	return 0;
}

/* Hand what q completed and no sample has counted to its pair, which
 * keeps it for the next sample; q counts from here on. */
static void qp_carry(struct qp_state *s, struct qp_ent *q)
{
	if (q->pair) {
		s->pairs[q->pair - 1].carry_bytes += q->bytes_completed - q->sampled_completed;
		s->pairs[q->pair - 1].fresh = true;
	}
	q->sampled_completed = q->bytes_completed;
}

/* The record of (port, remote, job): index + 1, or 0 when out of memory
 * (the QP then goes unsampled). A new one measures from now_ns. */
static uint32_t pair_get(struct qp_state *s, uint32_t port, const struct tita_addr *remote,
			 uint32_t job_id, uint64_t now_ns)
{
	struct sample_pair *pr = NULL;

	for (size_t i = 0; i < s->n_pairs; i++) {
		struct sample_pair *x = &s->pairs[i];

		if (!x->used) {
			if (!pr)
				pr = x;
		} else if (x->port == port && x->job_id == job_id &&
			   tita_addr_eq(&x->remote, remote)) {
			return (uint32_t)i + 1;
		}
	}
	if (!pr) {
		if (s->n_pairs == s->cap_pairs) {
			size_t cap = s->cap_pairs ? s->cap_pairs * 2 : 16;
			struct sample_pair *np = realloc(s->pairs, cap * sizeof(*np));

			if (!np)
				return 0;
			s->pairs = np;
			s->cap_pairs = cap;
		}
		pr = &s->pairs[s->n_pairs++];
	}
	memset(pr, 0, sizeof(*pr));
	pr->used = true;
	pr->port = port;
	pr->remote = *remote;
	pr->job_id = job_id;
	pr->prev_ns = now_ns;
	return (uint32_t)(pr - s->pairs) + 1;
}

/* After a registration: move q to the pair of its current route. Bytes
 * completed under the old route stay with the old pair. */
static void qp_route(struct qp_state *s, const struct agent *a, struct qp_ent *q, uint64_t now_ns)
{
	const struct sample_pair *cur = q->pair ? &s->pairs[q->pair - 1] : NULL;
	bool routed = q->has_local && (q->info.flags & TITA_AGENT_QP_HAS_REMOTE_GID);

	if (cur && routed && cur->port == q->port && tita_addr_eq(&cur->remote, &q->remote))
		return;
	qp_carry(s, q);
	q->pair = routed ? pair_get(s, q->port, &q->remote, a->job_id, now_ns) : 0;
}

static void agent_drop(struct qp_state *s, int i)
{
	struct agent *a = s->agents[i];

	for (size_t k = 0; k < a->n; k++)
		qp_carry(s, &a->qps[k]);
	/* The agent unpaces its QPs itself when the socket closes. */
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, a->fd, NULL);
	close(a->fd);
	free(a->qps);
	free(a);
	s->agents[i] = NULL;
}

static void accept_agents(struct tita_pacer *p, struct qp_state *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct agent *a;
		int slot = -1;

		if (fd < 0)
			return;
		for (int i = 0; i < MAX_AGENTS && slot < 0; i++)
			if (!s->agents[i])
				slot = i;
		a = slot >= 0 ? calloc(1, sizeof(*a)) : NULL;
		if (!a || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			/* Too many agents: that process runs unpaced. */
			free(a);
			close(fd);
			s->stats.protocol_errors++;
			continue;
		}
		a->fd = fd;
		a->pid = cred.pid;
		a->job_id = s->conf.job_of_pid ? s->conf.job_of_pid(cred.pid, s->conf.ctx) : 0;
		ev.data.ptr = a;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(a);
			continue;
		}
		s->agents[slot] = a;
	}
	(void)p;
}

static struct qp_ent *find_qp(struct agent *a, uint64_t id)
{
	for (size_t k = 0; k < a->n; k++)
		if (a->qps[k].info.qp_id == id)
			return &a->qps[k];
	return NULL;
}

/* ---- paths: UDP source ports ----------------------------------------------------- */

/* Path entries kept (pairs that had a path); past this, those of pairs
 * without QPs make room. */
#define PATHS_MAX 65536
#define DONE_MAX 65536
/* When an agent owes an answer past its own deadline: it is stuck. */
#define SPORT_GRACE_NS (2 * 1000000000ull)
#define SPORT_WAIT_DEFAULT_MS 1000

static bool qp_of_pair(const struct tita_pacer *p, const struct agent *a, const struct qp_ent *q,
		       uint32_t port, const struct tita_addr *remote, uint32_t job_id)
{
	(void)p;
	return q->has_local && a->job_id == job_id && q->port == port &&
	       tita_addr_eq(&q->remote, remote);
}

static bool connected(const struct qp_ent *q)
{
	return q->info.state == 2 || q->info.state == 3; /* RTR, RTS */
}

static struct path_ent *path_find(struct qp_state *s, uint32_t port, const struct tita_addr *remote,
				  uint32_t job_id)
{
	for (size_t i = 0; i < s->n_paths; i++) {
		struct path_ent *pe = &s->paths[i];

		if (pe->used && pe->port == port && pe->job_id == job_id &&
		    tita_addr_eq(&pe->remote, remote))
			return pe;
	}
	return NULL;
}

static bool pair_has_qps(const struct tita_pacer *p, const struct qp_state *s,
			 const struct path_ent *pe)
{
	for (int i = 0; i < MAX_AGENTS; i++) {
		const struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++)
			if (qp_of_pair(p, a, &a->qps[k], pe->port, &pe->remote, pe->job_id))
				return true;
	}
	return false;
}

static struct path_ent *path_get(struct tita_pacer *p, struct qp_state *s, uint32_t port,
				 const struct tita_addr *remote, uint32_t job_id)
{
	struct path_ent *pe = path_find(s, port, remote, job_id);

	if (pe)
		return pe;
	for (size_t i = 0; i < s->n_paths && !pe; i++)
		if (!s->paths[i].used)
			pe = &s->paths[i];
	if (!pe && s->n_paths == s->cap_paths && s->n_paths >= PATHS_MAX) {
		for (size_t i = 0; i < s->n_paths && !pe; i++)
			if (!s->paths[i].pending && !pair_has_qps(p, s, &s->paths[i]))
				pe = &s->paths[i];
		if (!pe)
			return NULL;
	}
	if (!pe) {
		if (s->n_paths == s->cap_paths) {
			size_t cap = s->cap_paths ? 2 * s->cap_paths : 16;
			struct path_ent *n = realloc(s->paths, cap * sizeof(*n));

			if (!n)
				return NULL;
			s->paths = n;
			s->cap_paths = cap;
		}
		pe = &s->paths[s->n_paths++];
	}
	memset(pe, 0, sizeof(*pe));
	pe->used = true;
	pe->port = port;
	pe->remote = *remote;
	pe->job_id = job_id;
	return pe;
}

static void path_done_push(struct qp_state *s, const struct tita_path_update *u, int err)
{
	if (s->done_len == s->done_cap) {
		size_t cap = s->done_cap ? 2 * s->done_cap : 16;
		struct path_done *n;

		if (cap > DONE_MAX) {
			/* Nobody pops: the oldest goes. */
			s->done_head = (s->done_head + 1) % s->done_cap;
			s->done_len--;
		} else {
			n = malloc(cap * sizeof(*n));
			if (!n)
				return;
			for (size_t i = 0; i < s->done_len; i++)
				n[i] = s->done[(s->done_head + i) % s->done_cap];
			free(s->done);
			s->done = n;
			s->done_cap = cap;
			s->done_head = 0;
		}
	}
	s->done[(s->done_head + s->done_len++) % s->done_cap] = (struct path_done){ *u, err };
}

bool tita_pacer_qp_pop_path(struct tita_pacer *p, struct tita_path_update *ret_u, int *ret_err)
{
	struct qp_state *s = p->priv;

	if (!s || !s->done_len)
		return false;
	*ret_u = s->done[s->done_head].u;
	*ret_err = s->done[s->done_head].err;
	s->done_head = (s->done_head + 1) % s->done_cap;
	s->done_len--;
	return true;
}

static void path_finish(struct qp_state *s, struct path_ent *pe, int err)
{
	pe->pending = false;
	if (err)
		s->stats.paths_failed++;
	else
		s->stats.paths_applied++;
	path_done_push(s, &pe->u, err);
}

/* Done when none of the pair's QPs owes the move an answer. */
static void path_check(struct tita_pacer *p, struct qp_state *s, struct path_ent *pe)
{
	if (!pe || !pe->pending)
		return;
	for (int i = 0; i < MAX_AGENTS; i++) {
		const struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++) {
			const struct qp_ent *q = &a->qps[k];

			if (q->sport_wait && q->sport_want == pe->u.sport &&
			    qp_of_pair(p, a, q, pe->port, &pe->remote, pe->job_id))
				return;
		}
	}
	path_finish(s, pe, pe->err);
}

static void path_check_all(struct tita_pacer *p, struct qp_state *s)
{
	for (size_t i = 0; i < s->n_paths; i++)
		if (s->paths[i].used)
			path_check(p, s, &s->paths[i]);
}

static uint32_t sport_wait_ms(const struct qp_state *s)
{
	return s->conf.sport_max_wait_ms ? s->conf.sport_max_wait_ms : SPORT_WAIT_DEFAULT_MS;
}

/* Ask q's agent to move q to sport: 0, or an error for the move. */
static int sport_send(struct qp_state *s, struct agent *a, struct qp_ent *q, uint16_t sport)
{
	struct tita_agent_set_sport m;

	if (!(q->info.caps & TITA_AGENT_CAP_UDP_SPORT)) {
		s->stats.sport_errors++;
		return -EOPNOTSUPP;
	}
	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_SPORT, sizeof(m));
	m.qp_id = q->info.qp_id;
	m.seq = ++s->seq;
	m.udp_sport = sport;
	m.max_wait_ms = sport_wait_ms(s);
	if (send(a->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		s->stats.sport_errors++;
		return -EAGAIN;
	}
	s->stats.sport_commands++;
	q->sport_want = sport;
	q->sport_seq = m.seq;
	q->sport_wait = true;
	return 0;
}

int tita_pacer_qp_set_path(struct tita_pacer *p, const struct tita_path_update *u, uint64_t now_ns)
{
	struct qp_state *s = p->priv;
	struct path_ent *pe;
	uint32_t port;

	if (!s)
		return -ENOENT;
	for (port = 0; port < p->n_ports && !tita_addr_eq(&p->ports[port].addr, &u->local); port++)
		;
	if (port == p->n_ports)
		return -ENOENT;
	if (!u->sport)
		return -EINVAL;
	pe = path_get(p, s, port, &u->remote, u->job_id);
	if (!pe)
		return -ENOMEM;
	/* A newer path replaces one still under way: the agents replace
	 * their held changes too (answering the old ones -ECANCELED, on
	 * sequence numbers no longer waited for). */
	pe->u = *u;
	pe->pending = true;
	pe->err = 0;
	pe->since_ns = now_ns;
	for (int i = 0; i < MAX_AGENTS; i++) {
		struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++) {
			struct qp_ent *q = &a->qps[k];
			int r;

			if (!connected(q) || !qp_of_pair(p, a, q, port, &u->remote, u->job_id))
				continue;
			/* There already, or on its way there. */
			if (q->sport_wait ? q->sport_want == u->sport :
					    q->info.udp_sport == u->sport)
				continue;
			r = sport_send(s, a, q, u->sport);
			if (r && !pe->err)
				pe->err = r;
		}
	}
	path_check(p, s, pe);
	return 0;
}

/* A QP registered, or registered again (a new state, route or port): one
 * that joins a pair with a path takes it. */
static void path_join(struct tita_pacer *p, struct qp_state *s, struct agent *a, struct qp_ent *q)
{
	struct path_ent *pe;
	int r;

	if (!q->has_local || !connected(q))
		return;
	pe = path_find(s, q->port, &q->remote, a->job_id);
	if (!pe || q->info.udp_sport == pe->u.sport ||
	    (q->sport_wait && q->sport_want == pe->u.sport))
		return;
	r = sport_send(s, a, q, pe->u.sport);
	if (r && pe->pending && !pe->err)
		pe->err = r;
	path_check(p, s, pe);
}

/* What became of a SET_SPORT. */
static void sport_result(struct tita_pacer *p, struct qp_state *s, struct agent *a,
			 const struct tita_agent_sport_result *m)
{
	struct qp_ent *q = find_qp(a, m->qp_id);
	struct path_ent *pe;

	/* A change we no longer wait for (replaced by a newer one), or an
	 * answer on the way while nothing is final. */
	if (!q || !q->sport_wait || m->seq != q->sport_seq || m->err == -EINPROGRESS)
		return;
	q->sport_wait = false;
	q->sport_err = m->err;
	pe = q->has_local ? path_find(s, q->port, &q->remote, a->job_id) : NULL;
	if (m->err == 0) {
		q->info.udp_sport = m->udp_sport;
	} else if (m->err != -ECANCELED) {
		/* Cancelled: the QP is being destroyed (its QP_DEL follows),
		 * which needs no path. Anything else fails the move. */
		s->stats.sport_errors++;
		if (pe && pe->pending && pe->u.sport == m->udp_sport && !pe->err)
			pe->err = m->err;
	}
	path_check(p, s, pe);
}

/* Moves whose agents never answered (an agent answers within its wait, or
 * its connection drops and its QPs with it). */
static void paths_expire(struct qp_state *s, uint64_t now_ns)
{
	uint64_t limit = (uint64_t)sport_wait_ms(s) * 1000000ull + SPORT_GRACE_NS;

	for (size_t i = 0; i < s->n_paths; i++) {
		struct path_ent *pe = &s->paths[i];

		if (pe->used && pe->pending && now_ns - pe->since_ns > limit)
			path_finish(s, pe, -ETIMEDOUT);
	}
}

/* One message from agent a; false when the agent must be dropped. */
static bool agent_msg(struct tita_pacer *p, struct qp_state *s, struct agent *a, const void *buf,
		      size_t len, uint64_t now_ns)
{
	int type = tita_agent_msg_check(buf, len);

	if (type < 0) {
		s->stats.protocol_errors++;
		/* Another major version cannot be understood at all. */
		return type != -EPROTO;
	}
	if (!a->hello && type != TITA_AGENT_HELLO) {
		s->stats.protocol_errors++;
		return false;
	}
	switch (type) {
	case TITA_AGENT_HELLO:
		a->hello = true;
		break;
	case TITA_AGENT_QP_ADD: {
		struct tita_agent_qp m;
		struct qp_ent *q;

		/* An agent of protocol 1.0 sends no counters: zero. */
		memset(&m, 0, sizeof(m));
		memcpy(&m, buf, len < sizeof(m) ? len : sizeof(m));
		q = find_qp(a, m.qp_id);
		if (!q) {
			if (a->n == a->cap) {
				size_t cap = a->cap ? a->cap * 2 : 16;
				struct qp_ent *nq;

				/* An agent holds at most its table's QPs. */
				if (cap > 4096 || !(nq = realloc(a->qps, cap * sizeof(*nq)))) {
					s->stats.protocol_errors++;
					return true;
				}
				a->qps = nq;
				a->cap = cap;
			}
			q = &a->qps[a->n++];
			memset(q, 0, sizeof(*q));
			/* Counted from here: a QP registered again after a
			 * reconnect brings its whole past in its counters. */
			q->bytes_posted = q->prev_bytes = m.bytes_posted;
			q->bytes_completed = q->sampled_completed = m.bytes_completed;
			q->prev_ns = now_ns;
		}
		m.dev_name[sizeof(m.dev_name) - 1] = '\0';
		q->info = m;
		q->has_local = qp_local_port(p, s, &m, &q->port);
		if (m.flags & TITA_AGENT_QP_HAS_REMOTE_GID)
			memcpy(q->remote.bytes, m.remote_gid, 16);
		qp_route(s, a, q, now_ns);
		/* A QP that reached RTR/RTS joins its pair's split now. */
		for (size_t i = 0; i < s->rules.n; i++)
			if (qp_in_pair(p, a, q, &s->rules.rules[i]))
				distribute(p, s, &s->rules.rules[i], s->rules.rules[i].rate_bps);
		path_join(p, s, a, q);
		break;
	}
	case TITA_AGENT_QP_DEL: {
		struct tita_agent_qp_del m;
		struct qp_ent *q;

		memcpy(&m, buf, sizeof(m));
		q = find_qp(a, m.qp_id);
		if (q) {
			bool waited = q->sport_wait;
			struct path_ent *pe =
				q->has_local ? path_find(s, q->port, &q->remote, a->job_id) : NULL;

			qp_carry(s, q);
			*q = a->qps[--a->n];
			/* A QP gone needs no path: its pair's move may be done. */
			if (waited)
				path_check(p, s, pe);
		}
		break;
	}
	case TITA_AGENT_STATS: {
		const struct tita_agent_stats *m = buf;

		for (uint32_t i = 0; i < m->n; i++) {
			struct tita_agent_qp_stat st;
			struct qp_ent *q;

			memcpy(&st, (const char *)buf + sizeof(*m) + i * sizeof(st), sizeof(st));
			q = find_qp(a, st.qp_id);
			if (!q)
				continue;
			/* A counter that went back (a reset, a reused id):
			 * what it counted so far stands, and it counts again
			 * from its new value, never from an unsigned wrap. */
			if (st.bytes_completed < q->bytes_completed) {
				qp_carry(s, q);
				q->sampled_completed = st.bytes_completed;
			}
			q->bytes_completed = st.bytes_completed;
			if (q->pair)
				s->pairs[q->pair - 1].fresh = true;
			if (st.bytes_posted < q->bytes_posted) {
				q->prev_bytes = st.bytes_posted;
				q->prev_ns = now_ns;
			}
			q->bytes_posted = st.bytes_posted;
			if (now_ns > q->prev_ns) {
				double bps = (double)(st.bytes_posted - q->prev_bytes) * 8e9 /
					     (double)(now_ns - q->prev_ns);

				/* Half-life of one report: fast enough to follow
				 * NCCL's phases, smooth enough to ignore one
				 * late report. */
				q->demand_bps = q->demand_bps * 0.5 + bps * 0.5;
				q->prev_bytes = st.bytes_posted;
				q->prev_ns = now_ns;
			}
		}
		break;
	}
	case TITA_AGENT_RATE_RESULT: {
		struct tita_agent_rate_result m;
		struct qp_ent *q;

		memcpy(&m, buf, sizeof(m));
		q = find_qp(a, m.qp_id);
		if (q) {
			q->last_err = m.err;
			q->mech = m.mechanism;
		}
		if (m.err && m.err != -EAGAIN)
			s->stats.command_errors++;
		break;
	}
	case TITA_AGENT_SPORT_RESULT: {
		struct tita_agent_sport_result m;

		memcpy(&m, buf, sizeof(m));
		sport_result(p, s, a, &m);
		break;
	}
	default:
		/* SET_RATE and SET_SPORT go the other way. */
		s->stats.protocol_errors++;
		break;
	}
	return true;
}

void tita_pacer_qp_process(struct tita_pacer *p, uint64_t now_ns)
{
	struct qp_state *s = p->priv;
	struct epoll_event evs[32];
	int n;

	if (!s || s->epoll_fd < 0)
		return;
	/* Bounded rounds: a new agent's messages are read in the same call
	 * that accepts it, and a flood cannot hold the event loop. */
	for (int round = 0; round < 16 && (n = epoll_wait(s->epoll_fd, evs, 32, 0)) > 0; round++) {
		for (int i = 0; i < n; i++) {
			struct agent *a = evs[i].data.ptr;
			char buf[TITA_AGENT_MSG_MAX];
			int slot = -1;
			bool keep = true;

			if (!a) {
				accept_agents(p, s);
				continue;
			}
			for (int k = 0; k < MAX_AGENTS; k++)
				if (s->agents[k] == a)
					slot = k;
			if (slot < 0)
				continue;
			/* A bounded number of messages per agent per pass. */
			for (int m = 0; m < 64 && keep; m++) {
				ssize_t len =
					recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

				if (len < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (len <= 0)
					keep = false;
				else if ((size_t)len > sizeof(buf))
					s->stats.protocol_errors++; /* cut: dropped */
				else
					keep = agent_msg(p, s, a, buf, (size_t)len, now_ns);
			}
			if (!keep) {
				agent_drop(s, slot);
				/* Its QPs are gone: moves that waited on them are done. */
				path_check_all(p, s);
			}
		}
	}
	paths_expire(s, now_ns);
	/* Demands move: re-split the live rules now and then. */
	if (now_ns - s->last_redistribute_ns >= REDISTRIBUTE_NS) {
		s->last_redistribute_ns = now_ns;
		for (size_t i = 0; i < s->rules.n; i++)
			distribute(p, s, &s->rules.rules[i], s->rules.rules[i].rate_bps);
	}
}

static int qp_cleanup(struct tita_pacer *p)
{
	struct qp_state *s = p->priv;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->rules.n; i++)
		distribute(p, s, &s->rules.rules[i], 0);
	s->rules.n = 0;
	return 0;
}

static size_t qp_describe(const struct tita_pacer *p, struct tita_pacer_rule *out, size_t max)
{
	const struct qp_state *s = p->priv;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->rules.n && i < max; i++)
		out[i] = s->rules.rules[i];
	return s->rules.n;
}

static void qp_free(struct tita_pacer *p)
{
	struct qp_state *s = p->priv;

	if (!s)
		return;
	for (int i = 0; i < MAX_AGENTS; i++)
		if (s->agents[i])
			agent_drop(s, i);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->conf.socket_path);
	}
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	tita_rule_table_free(&s->rules);
	free(s->pairs);
	free(s->paths);
	free(s->done);
	free(s);
	p->priv = NULL;
}

size_t tita_pacer_qp_tx_samples(struct tita_pacer *p, uint64_t now_ns, tita_qp_tx_sample_fn fn,
				void *ctx)
{
	struct qp_state *s = p->priv;
	size_t delivered = 0;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->n_pairs; i++) {
		struct sample_pair *pr = &s->pairs[i];

		pr->tx_bytes = pr->carry_bytes;
		pr->backlog_bytes = 0;
		pr->n_qps = 0;
		/* Two calls at the same instant: the bytes wait for a
		 * sample with an interval to spread them over. */
		pr->sampled = pr->used && pr->fresh && now_ns > pr->prev_ns;
	}
	for (int i = 0; i < MAX_AGENTS; i++) {
		const struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++) {
			const struct qp_ent *q = &a->qps[k];
			struct sample_pair *pr;

			if (!q->pair)
				continue;
			pr = &s->pairs[q->pair - 1];
			pr->n_qps++;
			pr->tx_bytes += q->bytes_completed - q->sampled_completed;
			/* Whatever an agent reports (ours reads completed
			 * before posted): never a negative backlog. */
			if (q->bytes_posted > q->bytes_completed)
				pr->backlog_bytes += q->bytes_posted - q->bytes_completed;
		}
	}
	for (size_t i = 0; i < s->n_pairs; i++) {
		struct sample_pair *pr = &s->pairs[i];
		struct tita_tx_sample ts;

		if (!pr->sampled)
			continue;
		memset(&ts, 0, sizeof(ts));
		ts.local = p->ports[pr->port].addr;
		ts.remote = pr->remote;
		ts.job_id = pr->job_id;
		ts.interval_ns = now_ns - pr->prev_ns;
		ts.tx_bytes = pr->tx_bytes;
		ts.backlog_bytes = pr->backlog_bytes;
		fn(&ts, ctx);
		delivered++;
		pr->prev_ns = now_ns;
		pr->carry_bytes = 0;
		pr->fresh = false;
		/* Its last QP left and its bytes are out: forget it. */
		if (!pr->n_qps)
			pr->used = false;
	}
	for (int i = 0; i < MAX_AGENTS; i++) {
		struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++) {
			struct qp_ent *q = &a->qps[k];

			if (q->pair && s->pairs[q->pair - 1].sampled)
				q->sampled_completed = q->bytes_completed;
		}
	}
	while (s->n_pairs && !s->pairs[s->n_pairs - 1].used)
		s->n_pairs--;
	return delivered;
}

uint64_t tita_pacer_qp_pair_bytes(const struct tita_pacer *p, const struct tita_addr *local,
				  const struct tita_addr *remote, uint32_t job_id)
{
	const struct qp_state *s = p->priv;
	struct tita_pacer_rule r = { .local = *local, .remote = *remote, .job_id = job_id };
	uint64_t sum = 0;

	for (int i = 0; s && i < MAX_AGENTS; i++) {
		const struct agent *a = s->agents[i];

		for (size_t k = 0; a && k < a->n; k++) {
			const struct qp_ent *q = &a->qps[k];

			/* Any state: bytes of a QP that left RTS still count. */
			if (q->has_local && a->job_id == job_id &&
			    tita_addr_eq(&q->remote, remote) &&
			    tita_addr_eq(&p->ports[q->port].addr, &r.local))
				sum += q->bytes_posted;
		}
	}
	return sum;
}

void tita_pacer_qp_stats(const struct tita_pacer *p, struct tita_pacer_qp_stats *ret)
{
	const struct qp_state *s = p->priv;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return;
	*ret = s->stats;
	ret->agents = ret->qps = ret->qps_paced = 0;
	for (int i = 0; i < MAX_AGENTS; i++) {
		const struct agent *a = s->agents[i];

		if (!a)
			continue;
		ret->agents++;
		ret->qps += (uint32_t)a->n;
		for (size_t k = 0; k < a->n; k++)
			if (a->qps[k].cmd_kbps)
				ret->qps_paced++;
	}
	ret->paths_pending = 0;
	for (size_t i = 0; i < s->n_paths; i++)
		ret->paths_pending += s->paths[i].used && s->paths[i].pending;
}

const struct tita_pacer_ops tita_pacer_qp_ops = {
	.name = "qp",
	.init = qp_init,
	.set_rate = qp_set_rate,
	.clear = qp_clear,
	.cleanup = qp_cleanup,
	.describe = qp_describe,
	.free = qp_free,
};
