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

struct qp_state {
	char socket_path[108];
	char sysfs_root[256];
	int listen_fd, epoll_fd;
	struct agent *agents[MAX_AGENTS];
	struct sample_pair *pairs;
	size_t n_pairs, cap_pairs;
	struct tita_rule_table rules;
	struct tita_pacer_agent_stats stats;
	uint32_t seq;
	uint64_t last_redistribute_ns;
};

int tita_pacer_qp_fd(const struct tita_pacer *p)
{
	const struct qp_state *s = p->priv;

	return s ? s->epoll_fd : -1;
}

static int qp_fd(const struct tita_pacer *p)
{
	return tita_pacer_qp_fd(p);
}

static int qp_init(struct tita_pacer *p, char *err, size_t err_size)
{
	const struct tita_pacer_env *env = &p->env;
	struct qp_state *s = calloc(1, sizeof(*s));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t mode = env->agent_socket_mode ? env->agent_socket_mode : 0666;
	struct stat st;

	if (!s)
		return -ENOMEM;
	p->priv = s;
	s->listen_fd = s->epoll_fd = -1;
	snprintf(s->socket_path, sizeof(s->socket_path), "%s",
		 env->agent_socket[0] ? env->agent_socket : TITA_AGENT_SOCKET_DEFAULT);
	snprintf(s->sysfs_root, sizeof(s->sysfs_root), "%s",
		 env->sysfs_root[0] ? env->sysfs_root : "/sys");
	if (strlen(s->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_size, "agent socket %s: path too long", s->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, s->socket_path);
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
	    chmod(sa.sun_path, mode) < 0 ||
	    (env->agent_socket_gid && chown(sa.sun_path, (uid_t)-1, env->agent_socket_gid) < 0) ||
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
		 s->sysfs_root, q->dev_name, q->port_num, q->sgid_index);
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

/* Split the rule's rate among its QPs (0, a removed rule: unpace them). */
static int qp_sync(struct tita_pacer *p, const struct tita_pacer_rule *rule)
{
	distribute(p, p->priv, rule, rule->rate_bps);
	return 0;
}

static int qp_set_rate(struct tita_pacer *p, const struct tita_addr *local,
		       const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps)
{
	struct qp_state *s = p->priv;

	if (!tita_pacer_port(p, local))
		return -ENOENT;
	return tita_rule_apply(p, &s->rules, local, remote, job_id, rate_bps, 0, qp_sync);
}

static int qp_clear(struct tita_pacer *p, const struct tita_addr *local,
		    const struct tita_addr *remote, uint32_t job_id)
{
	struct qp_state *s = p->priv;

	return tita_rule_remove(p, &s->rules, local, remote, job_id, qp_sync);
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
		a->job_id = p->env.job_of_pid ? p->env.job_of_pid(cred.pid, p->env.ctx) : 0;
		ev.data.ptr = a;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(a);
			continue;
		}
		s->agents[slot] = a;
	}
}

static struct qp_ent *find_qp(struct agent *a, uint64_t id)
{
	for (size_t k = 0; k < a->n; k++)
		if (a->qps[k].info.qp_id == id)
			return &a->qps[k];
	return NULL;
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
		break;
	}
	case TITA_AGENT_QP_DEL: {
		struct tita_agent_qp_del m;
		struct qp_ent *q;

		memcpy(&m, buf, sizeof(m));
		q = find_qp(a, m.qp_id);
		if (q) {
			qp_carry(s, q);
			*q = a->qps[--a->n];
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
	default:
		/* SET_RATE goes the other way. */
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
			if (!keep)
				agent_drop(s, slot);
		}
	}
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
		unlink(s->socket_path);
	}
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	tita_rule_table_free(&s->rules);
	free(s->pairs);
	free(s);
	p->priv = NULL;
}

size_t tita_pacer_qp_tx_samples(struct tita_pacer *p, uint64_t now_ns, tita_pacer_sample_fn fn,
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

void tita_pacer_qp_stats(const struct tita_pacer *p, struct tita_pacer_agent_stats *ret)
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
}

static bool qp_measures(const struct tita_pacer *p, const struct tita_addr *local,
			const struct tita_addr *remote, uint32_t job_id)
{
	return tita_pacer_qp_pair_bytes(p, local, remote, job_id) > 0;
}

static bool qp_agent_stats(const struct tita_pacer *p, struct tita_pacer_agent_stats *ret)
{
	tita_pacer_qp_stats(p, ret);
	return true;
}

const struct tita_pacer_ops tita_pacer_qp_ops = {
	.name = "qp",
	.init = qp_init,
	.set_rate = qp_set_rate,
	.clear = qp_clear,
	.cleanup = qp_cleanup,
	.describe = qp_describe,
	.free = qp_free,
	.fd = qp_fd,
	.process = tita_pacer_qp_process,
	.tx_samples = tita_pacer_qp_tx_samples,
	.measures = qp_measures,
	.agent_stats = qp_agent_stats,
};
