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
 * fails the move (tita_pacer_qp_pop_path()). A pair keeps its path while
 * its QPs come and go, for PATH_KEEP_NS after the last one left.
 *
 * Nothing here blocks: the socket and every agent connection are
 * non-blocking and sit in one epoll set, whose fd titad's event loop
 * watches.
 *
 * The socket is open to every local user (the jobs' processes), so what
 * one can make titad hold is bounded: agents and QPs per uid and QPs in
 * all (env agents_per_uid, agent_qps_per_uid, agent_qps), each refused and
 * counted past its bound; a QP is found by a hash, a pair's QPs by a list,
 * and a pair's sample figures are kept as the reports come, so no step
 * walks every QP; and one call reads a bounded number of messages.
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
/* An agent holds at most its table's QPs. */
#define AGENT_QPS_MAX 4096
#define DEFAULT_AGENTS_PER_UID 64
#define DEFAULT_QPS_PER_UID 16384
#define DEFAULT_QPS 65536
/* Work one call does, all agents together, in QP entries (a STATS message
 * counts its entries, any other message one): the rest waits for the next
 * call, and the event loop serves everything else in between. */
#define WORK_PER_CALL 2048
#define MSGS_PER_AGENT 64
/* After accept() failed with EMFILE or ENFILE. */
#define ACCEPT_PAUSE_NS (100 * 1000000ull)
/* A pair without QPs keeps its path this long (its QPs connect again, or
 * the application opens new ones to the same peer). */
#define PATH_KEEP_NS (60 * 1000000000ull)
/* Pairs without QPs that keep a path; past this, a path for a pair
 * without QPs is refused (-ENOSPC). */
#define PATHS_IDLE_MAX 65536
/* Finished moves not popped yet; past this the oldest goes. */
#define DONE_MAX 65536
/* When an agent owes an answer past its own deadline: it is stuck. */
#define SPORT_GRACE_NS (2 * 1000000000ull)
#define SPORT_WAIT_DEFAULT_MS 1000

struct agent;

struct qp_ent {
	struct agent *agent;
	uint32_t idx; /* in agent->qps */
	struct tita_agent_qp info;
	bool has_local;
	uint32_t port;
	struct tita_addr remote;
	uint32_t pair; /* index + 1 in qp_state.pairs; 0: no pair to account to */
	struct qp_ent *pair_prev, *pair_next; /* the pair's QPs */
	uint64_t bytes_posted, bytes_completed; /* the agent's counters, as last reported */
	uint64_t prev_bytes, prev_ns;
	double demand_bps;
	uint64_t cmd_kbps; /* last commanded; 0 = unpaced */
	int last_err;
	uint32_t mech;
	/* The SET_SPORT last sent, and whether its final answer is due. */
	uint16_t sport_want;
	uint32_t sport_seq;
	bool sport_wait;
};

struct agent {
	int fd;
	pid_t pid;
	uid_t uid;
	uint32_t job_id;
	bool hello;
	size_t n, cap;
	struct qp_ent **qps;
};

/* A pair the agents' QPs send on, for tita_pacer_qp_tx_samples(). Slots
 * are reused, never moved, so a QP keeps its pair's index. Its figures
 * follow the reports of its QPs. */
struct sample_pair {
	bool used;
	uint32_t port;
	struct tita_addr remote;
	uint32_t job_id;
	struct qp_ent *qps; /* its QPs */
	uint32_t n_qps;
	uint64_t prev_ns; /* the last sample, or when the first QP joined */
	/* Completed since prev_ns by its QPs, those that left meanwhile
	 * included; posted and not completed by its QPs now; posted in all
	 * by its QPs (the datapath's view of the same bytes is not counted). */
	uint64_t tx_bytes, backlog_bytes, posted_bytes;
	/* A report (or a QP leaving) since prev_ns: the next call has
	 * something to say. Between reports a pair gets no sample, so the
	 * controller holds the last one rather than reading an agent's
	 * report period (TITA_AGENT_STATS_MS) as bursts and silences. */
	bool fresh;
	/* Its rule's split is to be redone at the end of the call (QPs
	 * joined it). */
	bool dirty;
	/* Its path (path.sport: 0 = none), and the move under way: whether
	 * some QP's answer is still due, the move's first error, its start. */
	struct tita_path_update path;
	bool path_pending;
	int path_err;
	uint64_t path_since_ns;
};

struct path_done {
	struct tita_path_update u;
	int err;
};

struct uid_use {
	uid_t uid;
	uint32_t agents, qps;
};

struct qp_state {
	char socket_path[108];
	char sysfs_root[256];
	int listen_fd, epoll_fd;
	uint64_t listen_resume_ns; /* out of the epoll set until then; 0: in it */
	uint32_t agents_per_uid, qps_per_uid, qps_max, n_qps;
	struct agent *agents[MAX_AGENTS];
	/* Every QP by (agent, id): open addressing, linear probing. */
	struct qp_ent **table;
	size_t table_cap;
	/* Pairs by (port, remote, job): index + 1, open addressing. */
	struct sample_pair *pairs;
	size_t n_pairs, cap_pairs;
	uint32_t *pair_index;
	size_t pair_index_cap;
	uint32_t n_uids;
	struct uid_use uids[MAX_AGENTS];
	struct tita_rule_table rules;
	struct tita_pacer_agent_stats stats;
	uint32_t seq;
	uint64_t last_redistribute_ns;
	bool dirty; /* some pair's split is to be redone */
	uint32_t sport_wait_ms; /* SET_SPORT's max_wait_ms */
	uint32_t n_idle_paths; /* pairs without QPs that keep a path */
	struct path_done *done; /* ring of finished moves for pop_path */
	size_t done_head, done_len, done_cap;
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

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* ---- uids ------------------------------------------------------------------------------ */

static struct uid_use *uid_use(struct qp_state *s, uid_t uid)
{
	for (uint32_t i = 0; i < s->n_uids; i++)
		if (s->uids[i].uid == uid)
			return &s->uids[i];
	if (s->n_uids == MAX_AGENTS)
		return NULL;
	s->uids[s->n_uids] = (struct uid_use){ .uid = uid };
	return &s->uids[s->n_uids++];
}

static void uid_release(struct qp_state *s, uid_t uid, uint32_t agents, uint32_t qps)
{
	struct uid_use *u = uid_use(s, uid);

	if (!u)
		return;
	u->agents -= agents;
	u->qps -= qps;
	if (!u->agents && !u->qps)
		*u = s->uids[--s->n_uids];
}

/* ---- the QP table ------------------------------------------------------------------------ */

static size_t qp_slot(const struct qp_state *s, const struct agent *a, uint64_t id)
{
	return mix((uint64_t)(uintptr_t)a * 31 + id) & (s->table_cap - 1);
}

static struct qp_ent *find_qp(const struct qp_state *s, const struct agent *a, uint64_t id)
{
	for (size_t i = qp_slot(s, a, id);; i = (i + 1) & (s->table_cap - 1)) {
		struct qp_ent *q = s->table[i];

		if (!q)
			return NULL;
		if (q->agent == a && q->info.qp_id == id)
			return q;
	}
}

static void table_insert(struct qp_state *s, struct qp_ent *q)
{
	size_t i = qp_slot(s, q->agent, q->info.qp_id);

	while (s->table[i])
		i = (i + 1) & (s->table_cap - 1);
	s->table[i] = q;
}

/* Backward-shift deletion: no tombstones, probes stay short. */
static void table_remove(struct qp_state *s, const struct qp_ent *q)
{
	size_t mask = s->table_cap - 1, i = qp_slot(s, q->agent, q->info.qp_id), j;

	while (s->table[i] != q)
		i = (i + 1) & mask;
	for (j = (i + 1) & mask; s->table[j]; j = (j + 1) & mask) {
		size_t home = qp_slot(s, s->table[j]->agent, s->table[j]->info.qp_id);

		/* Move j back to i when its home is not in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->table[i] = s->table[j];
			i = j;
		}
	}
	s->table[i] = NULL;
}

/* ---- pairs ------------------------------------------------------------------------------- */

static uint64_t pair_hash(uint32_t port, const struct tita_addr *remote, uint32_t job_id)
{
	uint64_t h = mix(port * 0x9e3779b97f4a7c15ull ^ job_id);

	for (size_t i = 0; i < sizeof(remote->bytes); i += 8) {
		uint64_t w;

		memcpy(&w, &remote->bytes[i], 8);
		h = mix(h ^ w);
	}
	return h;
}

static bool pair_is(const struct sample_pair *pr, uint32_t port, const struct tita_addr *remote,
		    uint32_t job_id)
{
	return pr->used && pr->port == port && pr->job_id == job_id &&
	       tita_addr_eq(&pr->remote, remote);
}

static uint32_t pair_find(const struct qp_state *s, uint32_t port, const struct tita_addr *remote,
			  uint32_t job_id)
{
	size_t mask = s->pair_index_cap - 1;

	if (!s->pair_index_cap)
		return 0;
	for (size_t i = pair_hash(port, remote, job_id) & mask; s->pair_index[i];
	     i = (i + 1) & mask)
		if (pair_is(&s->pairs[s->pair_index[i] - 1], port, remote, job_id))
			return s->pair_index[i];
	return 0;
}

static void index_insert(struct qp_state *s, uint32_t idx)
{
	const struct sample_pair *pr = &s->pairs[idx - 1];
	size_t mask = s->pair_index_cap - 1;
	size_t i = pair_hash(pr->port, &pr->remote, pr->job_id) & mask;

	while (s->pair_index[i])
		i = (i + 1) & mask;
	s->pair_index[i] = idx;
}

static void index_remove(struct qp_state *s, uint32_t idx)
{
	size_t mask = s->pair_index_cap - 1, i, j;
	const struct sample_pair *pr = &s->pairs[idx - 1];

	for (i = pair_hash(pr->port, &pr->remote, pr->job_id) & mask; s->pair_index[i] != idx;)
		i = (i + 1) & mask;
	for (j = (i + 1) & mask; s->pair_index[j]; j = (j + 1) & mask) {
		const struct sample_pair *x = &s->pairs[s->pair_index[j] - 1];
		size_t home = pair_hash(x->port, &x->remote, x->job_id) & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->pair_index[i] = s->pair_index[j];
			i = j;
		}
	}
	s->pair_index[i] = 0;
}

/* Room for one more pair, the index kept at most half full. */
static bool pairs_reserve(struct qp_state *s)
{
	if (s->n_pairs == s->cap_pairs) {
		size_t cap = s->cap_pairs ? s->cap_pairs * 2 : 16;
		struct sample_pair *np = realloc(s->pairs, cap * sizeof(*np));

		if (!np)
			return false;
		s->pairs = np;
		s->cap_pairs = cap;
	}
	if (2 * (s->n_pairs + 1) > s->pair_index_cap) {
		size_t cap = s->pair_index_cap ? s->pair_index_cap * 2 : 32;
		uint32_t *ni = calloc(cap, sizeof(*ni));

		if (!ni)
			return false;
		free(s->pair_index);
		s->pair_index = ni;
		s->pair_index_cap = cap;
		for (size_t i = 0; i < s->n_pairs; i++)
			if (s->pairs[i].used)
				index_insert(s, (uint32_t)i + 1);
	}
	return true;
}

/* The record of (port, remote, job): index + 1, or 0 when out of memory
 * (the QP then goes unsampled). A new one measures from now_ns. */
static uint32_t pair_get(struct qp_state *s, uint32_t port, const struct tita_addr *remote,
			 uint32_t job_id, uint64_t now_ns)
{
	uint32_t idx = pair_find(s, port, remote, job_id);
	struct sample_pair *pr = NULL;

	if (idx)
		return idx;
	if (!pairs_reserve(s))
		return 0;
	for (size_t i = 0; i < s->n_pairs && !pr; i++)
		if (!s->pairs[i].used)
			pr = &s->pairs[i];
	if (!pr)
		pr = &s->pairs[s->n_pairs++];
	memset(pr, 0, sizeof(*pr));
	pr->used = true;
	pr->port = port;
	pr->remote = *remote;
	pr->job_id = job_id;
	pr->prev_ns = now_ns;
	idx = (uint32_t)(pr - s->pairs) + 1;
	index_insert(s, idx);
	return idx;
}

static uint64_t backlog_of(const struct qp_ent *q)
{
	/* Whatever an agent reports (ours reads completed before posted):
	 * never a negative backlog. */
	return q->bytes_posted > q->bytes_completed ? q->bytes_posted - q->bytes_completed : 0;
}

static void pair_link(struct qp_state *s, struct qp_ent *q, uint32_t idx)
{
	struct sample_pair *pr = &s->pairs[idx - 1];

	if (!pr->n_qps && pr->path.sport)
		s->n_idle_paths--;
	q->pair = idx;
	q->pair_prev = NULL;
	q->pair_next = pr->qps;
	if (pr->qps)
		pr->qps->pair_prev = q;
	pr->qps = q;
	pr->n_qps++;
	pr->backlog_bytes += backlog_of(q);
	pr->posted_bytes += q->bytes_posted;
	pr->dirty = true;
	s->dirty = true;
}

static void path_check(struct qp_state *s, struct sample_pair *pr);

/* q leaves its pair: what it completed and no sample has counted stays
 * with the pair, for its next sample; q counts from here on. */
static void pair_unlink(struct qp_state *s, struct qp_ent *q)
{
	struct sample_pair *pr;

	if (!q->pair)
		return;
	pr = &s->pairs[q->pair - 1];
	if (q->pair_prev)
		q->pair_prev->pair_next = q->pair_next;
	else
		pr->qps = q->pair_next;
	if (q->pair_next)
		q->pair_next->pair_prev = q->pair_prev;
	pr->n_qps--;
	pr->backlog_bytes -= backlog_of(q);
	pr->posted_bytes -= q->bytes_posted;
	pr->fresh = true;
	q->pair = 0;
	q->pair_prev = q->pair_next = NULL;
	if (!pr->n_qps && pr->path.sport)
		s->n_idle_paths++;
	/* A QP gone (or gone to another pair) needs no path here: the move
	 * may be done. */
	if (q->sport_wait)
		path_check(s, pr);
}

/* New counters for q: its pair's figures follow. */
static void qp_counters(struct qp_state *s, struct qp_ent *q, uint64_t posted, uint64_t completed)
{
	struct sample_pair *pr = q->pair ? &s->pairs[q->pair - 1] : NULL;

	if (pr) {
		pr->backlog_bytes -= backlog_of(q);
		pr->posted_bytes -= q->bytes_posted;
		/* A counter that went back (a reset, a reused id): what it
		 * counted so far stands, and it counts again from its new
		 * value, never from an unsigned wrap. */
		if (completed > q->bytes_completed)
			pr->tx_bytes += completed - q->bytes_completed;
		pr->fresh = true;
	}
	q->bytes_posted = posted;
	q->bytes_completed = completed;
	if (pr) {
		pr->backlog_bytes += backlog_of(q);
		pr->posted_bytes += q->bytes_posted;
	}
}

/* After a registration: move q to the pair of its current route. Bytes
 * completed under the old route stay with the old pair. */
static void qp_route(struct qp_state *s, const struct agent *a, struct qp_ent *q, uint64_t now_ns)
{
	const struct sample_pair *cur = q->pair ? &s->pairs[q->pair - 1] : NULL;
	bool routed = q->has_local && (q->info.flags & TITA_AGENT_QP_HAS_REMOTE_GID);
	uint32_t idx;

	if (cur && routed && cur->port == q->port && tita_addr_eq(&cur->remote, &q->remote)) {
		/* Its state may have changed: its rule's split is redone. */
		s->pairs[q->pair - 1].dirty = true;
		s->dirty = true;
		return;
	}
	pair_unlink(s, q);
	idx = routed ? pair_get(s, q->port, &q->remote, a->job_id, now_ns) : 0;
	if (idx)
		pair_link(s, q, idx);
}

/* ---- splitting a pair's rate --------------------------------------------------------------- */

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

/* An agent with no GID table (a software RoCE sender such as the test
 * bed's generator) says its QP's source address: the port with that
 * address. Only when the GID table has no answer, which on a NIC it has. */
static bool qp_local_addr(const struct tita_pacer *p, const struct tita_agent_qp *q,
			  uint32_t *ret_port)
{
	struct tita_addr a;
	int i;

	if (!(q->flags & TITA_AGENT_QP_HAS_LOCAL_GID))
		return false;
	memcpy(a.bytes, q->local_gid, sizeof(a.bytes));
	i = tita_pacer_port_index(p, &a);
	if (i < 0)
		return false;
	*ret_port = (uint32_t)i;
	return true;
}

static bool paced_state(const struct qp_ent *q)
{
	return q->info.state == 2 || q->info.state == 3; /* RTR, RTS */
}

/* SET_RATE q to kbps, after its next unsched_bytes (0: at once). */
static void command(struct qp_state *s, struct agent *a, struct qp_ent *q, uint64_t kbps,
		    uint64_t unsched_bytes)
{
	struct tita_agent_set_rate m;

	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_SET_RATE, sizeof(m));
	m.qp_id = q->info.qp_id;
	m.rate_kbps = kbps;
	m.unsched_bytes = unsched_bytes;
	m.seq = ++s->seq;
	/* A full socket buffer drops the command: the next split sends it
	 * again, as the rate still differs from cmd_kbps. */
	if (send(a->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		s->stats.command_errors++;
		return;
	}
	s->stats.commands_sent++;
	if (unsched_bytes)
		s->stats.unsched_commands++;
	q->cmd_kbps = kbps;
}

static bool moved(uint64_t old, uint64_t now)
{
	uint64_t d = old > now ? old - now : now - old;

	return old == 0 || d * 100 > old * CHURN_PCT;
}

static bool carries_unsched(const struct qp_ent *q)
{
	return q->info.caps & TITA_AGENT_CAP_UNSCHED;
}

/*
 * Split a rule's rate among its pair's QPs in RTR or RTS (rate 0: unpace
 * them). unsched_bytes (a message's unscheduled first bytes, or 0) are
 * split among the QPs whose agents carry them, so that the pair sends no
 * more unpaced than it announced (each share rounded up to the byte);
 * each of those is commanded
 * whether or not its rate moved. A QP whose agent cannot carry them gets
 * the rate alone: its first bytes wait for the grant at the start rate.
 */
static void distribute(struct tita_pacer *p, struct qp_state *s, const struct tita_pacer_rule *r,
		       uint64_t rate_bps, uint64_t unsched_bytes)
{
	int port = tita_pacer_port_index(p, &r->local);
	uint32_t idx = port >= 0 ? pair_find(s, (uint32_t)port, &r->remote, r->job_id) : 0;
	struct sample_pair *pr = idx ? &s->pairs[idx - 1] : NULL;
	double total = 0;
	size_t n = 0, n_unsched = 0;

	if (!pr)
		return;
	pr->dirty = false;
	for (struct qp_ent *q = pr->qps; q; q = q->pair_next)
		if (paced_state(q)) {
			n++;
			n_unsched += carries_unsched(q);
			total += q->demand_bps;
		}
	if (rate_bps == 0 || n_unsched == 0)
		unsched_bytes = 0;
	for (struct qp_ent *q = pr->qps; q && n; q = q->pair_next) {
		double frac;
		uint64_t kbps;

		if (!paced_state(q))
			continue;
		if (rate_bps == 0) {
			if (q->cmd_kbps)
				command(s, q->agent, q, 0, 0);
			continue;
		}
		frac = EVEN_SHARE_PCT / 100.0 / (double)n +
		       (100 - EVEN_SHARE_PCT) / 100.0 *
			       (total > 0 ? q->demand_bps / total : 1.0 / (double)n);
		kbps = (uint64_t)((double)rate_bps * frac / 1000.0 + 0.999);
		if (kbps == 0)
			kbps = 1;
		if (unsched_bytes && carries_unsched(q))
			command(s, q->agent, q, kbps, (unsched_bytes + n_unsched - 1) / n_unsched);
		else if (moved(q->cmd_kbps, kbps))
			command(s, q->agent, q, kbps, 0);
	}
}

/* Split a rule's rate among its QPs (0, a removed rule: unpace them). */
static int qp_sync(struct tita_pacer *p, const struct tita_pacer_rule *rule)
{
	/* The rule's unscheduled bytes are those of this very update
	 * (tita_rule_apply_after sets them, a plain set_rate clears them). */
	distribute(p, p->priv, rule, rule->rate_bps, rule->unsched_bytes);
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

static int qp_set_rate_after(struct tita_pacer *p, const struct tita_addr *local,
			     const struct tita_addr *remote, uint32_t job_id,
			     uint64_t unsched_bytes, uint64_t rate_bps)
{
	struct qp_state *s = p->priv;

	if (!tita_pacer_port(p, local))
		return -ENOENT;
	return tita_rule_apply_after(p, &s->rules, local, remote, job_id, unsched_bytes, rate_bps,
				     0, qp_sync);
}

static int qp_clear(struct tita_pacer *p, const struct tita_addr *local,
		    const struct tita_addr *remote, uint32_t job_id)
{
	struct qp_state *s = p->priv;

	return tita_rule_remove(p, &s->rules, local, remote, job_id, qp_sync);
}

/* The splits that QPs joining or changing state made stale. */
static void redistribute_dirty(struct tita_pacer *p, struct qp_state *s)
{
	if (!s->dirty)
		return;
	s->dirty = false;
	for (size_t i = 0; i < s->rules.n; i++) {
		const struct tita_pacer_rule *r = &s->rules.rules[i];
		int port = tita_pacer_port_index(p, &r->local);
		uint32_t idx = port >= 0 ? pair_find(s, (uint32_t)port, &r->remote, r->job_id) : 0;

		/* A QP that joins later gets the rate alone: the bytes
		 * were the message's, and went on the QPs there were. */
		if (idx && s->pairs[idx - 1].dirty)
			distribute(p, s, r, r->rate_bps, 0);
	}
}

/* ---- paths: UDP source ports ------------------------------------------------------------------ */

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

static void path_finish(struct qp_state *s, struct sample_pair *pr, int err)
{
	pr->path_pending = false;
	if (err)
		s->stats.paths_failed++;
	else
		s->stats.paths_applied++;
	path_done_push(s, &pr->path, err);
}

/* Done when none of the pair's QPs owes the move an answer. */
static void path_check(struct qp_state *s, struct sample_pair *pr)
{
	if (!pr || !pr->path_pending)
		return;
	for (const struct qp_ent *q = pr->qps; q; q = q->pair_next)
		if (q->sport_wait && q->sport_want == pr->path.sport)
			return;
	path_finish(s, pr, pr->path_err);
}

/* Ask q's agent to move q to sport: 0, or an error for the move. */
static int sport_send(struct qp_state *s, struct qp_ent *q, uint16_t sport)
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
	m.max_wait_ms = s->sport_wait_ms;
	if (send(q->agent->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		s->stats.sport_errors++;
		return -EAGAIN;
	}
	s->stats.sport_commands++;
	q->sport_want = sport;
	q->sport_seq = m.seq;
	q->sport_wait = true;
	return 0;
}

/* q (connected, in pr) takes pr's path unless it is there or on its way:
 * an error for the move, or 0. */
static int path_send(struct qp_state *s, struct sample_pair *pr, struct qp_ent *q)
{
	uint16_t sport = pr->path.sport;

	if (!paced_state(q) ||
	    (q->sport_wait ? q->sport_want == sport : q->info.udp_sport == sport))
		return 0;
	return sport_send(s, q, sport);
}

int tita_pacer_qp_set_path(struct tita_pacer *p, const struct tita_path_update *u, uint64_t now_ns)
{
	struct qp_state *s = p->priv;
	int port = tita_pacer_port_index(p, &u->local);
	struct sample_pair *pr;
	uint32_t idx;

	if (!s || port < 0)
		return -ENOENT;
	if (!u->sport)
		return -EINVAL;
	idx = pair_find(s, (uint32_t)port, &u->remote, u->job_id);
	if (!idx) {
		if (s->n_idle_paths >= PATHS_IDLE_MAX)
			return -ENOSPC;
		idx = pair_get(s, (uint32_t)port, &u->remote, u->job_id, now_ns);
		if (!idx)
			return -ENOMEM;
	}
	pr = &s->pairs[idx - 1];
	if (!pr->n_qps && !pr->path.sport)
		s->n_idle_paths++;
	/* A newer path replaces one still under way: the agents replace
	 * their held changes too (answering the old ones -ECANCELED, on
	 * sequence numbers no longer waited for); the old move is not
	 * reported. */
	pr->path = *u;
	pr->path_pending = true;
	pr->path_err = 0;
	pr->path_since_ns = now_ns;
	for (struct qp_ent *q = pr->qps; q; q = q->pair_next) {
		int r = path_send(s, pr, q);

		if (r && !pr->path_err)
			pr->path_err = r;
	}
	path_check(s, pr);
	return 0;
}

/* A QP registered, or registered again (a new state, route or port): one
 * in a pair with a path takes it. */
static void path_join(struct qp_state *s, struct qp_ent *q)
{
	struct sample_pair *pr = q->pair ? &s->pairs[q->pair - 1] : NULL;
	int r;

	if (!pr || !pr->path.sport)
		return;
	r = path_send(s, pr, q);
	if (r && pr->path_pending && !pr->path_err)
		pr->path_err = r;
	path_check(s, pr);
}

/* What became of a SET_SPORT. */
static void sport_result(struct qp_state *s, struct agent *a,
			 const struct tita_agent_sport_result *m)
{
	struct qp_ent *q = find_qp(s, a, m->qp_id);
	struct sample_pair *pr;

	/* A change we no longer wait for (replaced by a newer one), or an
	 * answer on the way while nothing is final. */
	if (!q || !q->sport_wait || m->seq != q->sport_seq || m->err == -EINPROGRESS)
		return;
	q->sport_wait = false;
	pr = q->pair ? &s->pairs[q->pair - 1] : NULL;
	if (m->err == 0) {
		q->info.udp_sport = m->udp_sport;
	} else if (m->err != -ECANCELED) {
		/* Cancelled: the QP is being destroyed (its QP_DEL follows),
		 * which needs no path. Anything else fails the move. */
		s->stats.sport_errors++;
		if (pr && pr->path_pending && pr->path.sport == m->udp_sport && !pr->path_err)
			pr->path_err = m->err;
	}
	path_check(s, pr);
}

/* Moves whose agents never answered (an agent answers within its wait, or
 * its connection drops and its QPs with it). */
static void paths_expire(struct qp_state *s, uint64_t now_ns)
{
	uint64_t limit = (uint64_t)s->sport_wait_ms * 1000000ull + SPORT_GRACE_NS;

	for (size_t i = 0; i < s->n_pairs; i++) {
		struct sample_pair *pr = &s->pairs[i];

		if (pr->used && pr->path_pending && now_ns - pr->path_since_ns > limit)
			path_finish(s, pr, -ETIMEDOUT);
	}
}

/* ---- agents ---------------------------------------------------------------------------------- */

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
	s->agents_per_uid = env->agents_per_uid ? env->agents_per_uid : DEFAULT_AGENTS_PER_UID;
	s->qps_per_uid = env->agent_qps_per_uid ? env->agent_qps_per_uid : DEFAULT_QPS_PER_UID;
	s->qps_max = env->agent_qps ? env->agent_qps : DEFAULT_QPS;
	s->sport_wait_ms = env->sport_max_wait_ms ? env->sport_max_wait_ms : SPORT_WAIT_DEFAULT_MS;
	for (s->table_cap = 64; s->table_cap < 2 * (size_t)s->qps_max; s->table_cap <<= 1)
		;
	s->table = calloc(s->table_cap, sizeof(*s->table));
	if (!s->table)
		return -ENOMEM;
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

static void qp_remove(struct qp_state *s, struct agent *a, struct qp_ent *q)
{
	pair_unlink(s, q);
	table_remove(s, q);
	a->qps[q->idx] = a->qps[--a->n];
	a->qps[q->idx]->idx = q->idx;
	s->n_qps--;
	uid_release(s, a->uid, 0, 1);
	free(q);
}

static void agent_drop(struct qp_state *s, int i)
{
	struct agent *a = s->agents[i];

	while (a->n)
		qp_remove(s, a, a->qps[a->n - 1]);
	/* The agent unpaces its QPs itself when the socket closes. */
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, a->fd, NULL);
	close(a->fd);
	uid_release(s, a->uid, 1, 0);
	free(a->qps);
	free(a);
	s->agents[i] = NULL;
}

static void accept_agents(struct tita_pacer *p, struct qp_state *s, uint64_t now_ns)
{
	for (int k = 0; k < 64; k++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct uid_use *u;
		struct agent *a;
		int slot = -1;

		if (fd < 0) {
			/* No descriptor for it: the connection stays queued and
			 * the socket readable; left in the epoll set it would
			 * wake the loop again at once. */
			if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			     errno == ENOMEM) &&
			    !epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL))
				s->listen_resume_ns = now_ns + ACCEPT_PAUSE_NS;
			return;
		}
		for (int i = 0; i < MAX_AGENTS && slot < 0; i++)
			if (!s->agents[i])
				slot = i;
		if (slot < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    !(u = uid_use(s, cred.uid)) || u->agents >= s->agents_per_uid ||
		    !(a = calloc(1, sizeof(*a)))) {
			/* Too many agents (of this user): that process runs
			 * unpaced. */
			close(fd);
			s->stats.agents_refused++;
			continue;
		}
		a->fd = fd;
		a->pid = cred.pid;
		a->uid = cred.uid;
		a->job_id = p->env.job_of_pid ? p->env.job_of_pid(cred.pid, p->env.ctx) : 0;
		ev.data.ptr = a;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(a);
			continue;
		}
		u->agents++;
		s->agents[slot] = a;
	}
}

/* A QP agent a has not registered before; NULL (counted) past a bound. */
static struct qp_ent *qp_new(struct qp_state *s, struct agent *a, uint64_t id)
{
	struct uid_use *u = uid_use(s, a->uid);
	struct qp_ent *q;

	if (!u || a->n >= AGENT_QPS_MAX || u->qps >= s->qps_per_uid || s->n_qps >= s->qps_max) {
		s->stats.qps_refused++;
		return NULL;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct qp_ent **nq = realloc(a->qps, cap * sizeof(*nq));

		if (!nq)
			return NULL;
		a->qps = nq;
		a->cap = cap;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->agent = a;
	q->info.qp_id = id;
	q->idx = (uint32_t)a->n;
	a->qps[a->n++] = q;
	table_insert(s, q);
	s->n_qps++;
	u->qps++;
	return q;
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
		q = find_qp(s, a, m.qp_id);
		if (!q) {
			q = qp_new(s, a, m.qp_id);
			if (!q)
				return true;
			/* Counted from here: a QP registered again after a
			 * reconnect brings its whole past in its counters. */
			q->bytes_posted = q->prev_bytes = m.bytes_posted;
			q->bytes_completed = m.bytes_completed;
			q->prev_ns = now_ns;
		}
		m.dev_name[sizeof(m.dev_name) - 1] = '\0';
		q->info = m;
		q->has_local = qp_local_port(p, s, &m, &q->port) || qp_local_addr(p, &m, &q->port);
		if (m.flags & TITA_AGENT_QP_HAS_REMOTE_GID)
			memcpy(q->remote.bytes, m.remote_gid, 16);
		/* A QP that reached RTR/RTS joins its pair's split at the end
		 * of this call (once, however many joined). */
		qp_route(s, a, q, now_ns);
		path_join(s, q);
		break;
	}
	case TITA_AGENT_QP_DEL: {
		struct tita_agent_qp_del m;
		struct qp_ent *q;

		memcpy(&m, buf, sizeof(m));
		q = find_qp(s, a, m.qp_id);
		if (q)
			qp_remove(s, a, q);
		break;
	}
	case TITA_AGENT_STATS: {
		const struct tita_agent_stats *m = buf;

		for (uint32_t i = 0; i < m->n; i++) {
			struct tita_agent_qp_stat st;
			struct qp_ent *q;

			memcpy(&st, (const char *)buf + sizeof(*m) + i * sizeof(st), sizeof(st));
			q = find_qp(s, a, st.qp_id);
			if (!q)
				continue;
			if (st.bytes_posted < q->bytes_posted) {
				q->prev_bytes = st.bytes_posted;
				q->prev_ns = now_ns;
			}
			qp_counters(s, q, st.bytes_posted, st.bytes_completed);
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
		q = find_qp(s, a, m.qp_id);
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
		sport_result(s, a, &m);
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
	uint32_t budget = WORK_PER_CALL;
	int n;

	if (!s || s->epoll_fd < 0)
		return;
	if (s->listen_resume_ns && now_ns >= s->listen_resume_ns) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		if (!epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev))
			s->listen_resume_ns = 0;
	}
	/* Bounded rounds: a new agent's messages are read in the same call
	 * that accepts it, and a flood cannot hold the event loop (what is
	 * left stays readable for the next call). */
	for (int round = 0; round < 16 && budget && (n = epoll_wait(s->epoll_fd, evs, 32, 0)) > 0;
	     round++) {
		for (int i = 0; i < n && budget; i++) {
			struct agent *a = evs[i].data.ptr;
			char buf[TITA_AGENT_MSG_MAX];
			int slot = -1;
			bool keep = true;

			if (!a) {
				accept_agents(p, s, now_ns);
				continue;
			}
			for (int k = 0; k < MAX_AGENTS && slot < 0; k++)
				if (s->agents[k] == a)
					slot = k;
			if (slot < 0)
				continue;
			/* A bounded number of messages per agent per round. */
			for (int m = 0; m < MSGS_PER_AGENT && keep && budget; m++) {
				ssize_t len =
					recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
				uint32_t work = 1;

				if (len < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (len <= 0) {
					keep = false;
				} else if ((size_t)len > sizeof(buf)) {
					s->stats.protocol_errors++; /* cut: dropped */
				} else {
					if (tita_agent_msg_check(buf, (size_t)len) ==
					    TITA_AGENT_STATS)
						work += ((const struct tita_agent_stats *)buf)->n;
					keep = agent_msg(p, s, a, buf, (size_t)len, now_ns);
				}
				budget = budget > work ? budget - work : 0;
			}
			if (!keep)
				agent_drop(s, slot);
		}
	}
	redistribute_dirty(p, s);
	/* Demands move: re-split the live rules now and then. */
	if (now_ns - s->last_redistribute_ns >= REDISTRIBUTE_NS) {
		s->last_redistribute_ns = now_ns;
		paths_expire(s, now_ns);
		for (size_t i = 0; i < s->rules.n; i++)
			distribute(p, s, &s->rules.rules[i], s->rules.rules[i].rate_bps, 0);
	}
}

static int qp_cleanup(struct tita_pacer *p)
{
	struct qp_state *s = p->priv;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->rules.n; i++)
		distribute(p, s, &s->rules.rules[i], 0, 0);
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
	free(s->pair_index);
	free(s->table);
	free(s->done);
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
		struct tita_tx_sample ts;

		/* A path kept for QPs that did not come back. */
		if (pr->used && !pr->n_qps && !pr->fresh && pr->path.sport && !pr->path_pending &&
		    now_ns - pr->prev_ns > PATH_KEEP_NS) {
			index_remove(s, (uint32_t)i + 1);
			pr->used = false;
			s->n_idle_paths--;
			continue;
		}
		/* Two calls at the same instant: the bytes wait for a sample
		 * with an interval to spread them over. */
		if (!pr->used || !pr->fresh || now_ns <= pr->prev_ns)
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
		pr->tx_bytes = 0;
		pr->fresh = false;
		/* Its last QP left and its bytes are out: forget it, unless
		 * it keeps a path. */
		if (!pr->n_qps && !pr->path.sport) {
			index_remove(s, (uint32_t)i + 1);
			pr->used = false;
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
	int port = tita_pacer_port_index(p, local);
	uint32_t idx = s && port >= 0 ? pair_find(s, (uint32_t)port, remote, job_id) : 0;

	/* Any state: bytes of a QP that left RTS still count. */
	return idx ? s->pairs[idx - 1].posted_bytes : 0;
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
			if (a->qps[k]->cmd_kbps)
				ret->qps_paced++;
	}
	for (size_t i = 0; i < s->n_pairs; i++)
		ret->paths_pending += s->pairs[i].used && s->pairs[i].path_pending;
}

static int qp_set_path(struct tita_pacer *p, const struct tita_path_update *u, uint64_t now_ns)
{
	return tita_pacer_qp_set_path(p, u, now_ns);
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
	.set_rate_after = qp_set_rate_after,
	.clear = qp_clear,
	.cleanup = qp_cleanup,
	.describe = qp_describe,
	.free = qp_free,
	.fd = qp_fd,
	.process = tita_pacer_qp_process,
	.tx_samples = tita_pacer_qp_tx_samples,
	.measures = qp_measures,
	.agent_stats = qp_agent_stats,
	.set_path = qp_set_path,
	.pop_path = tita_pacer_qp_pop_path,
};
