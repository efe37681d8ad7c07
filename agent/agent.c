// SPDX-License-Identifier: MIT
/*
 * libtita-agent: the in-process QP agent. Preloaded into a process that
 * owns QPs (LD_PRELOAD=libtita-agent.so), it sees the process's QPs,
 * registers them with titad over a unix socket, applies the per-QP rates
 * titad sends, and reports per-QP bytes posted and completed.
 *
 * Why in the process: a QP belongs to the process (its uverbs context)
 * that created it; no netlink or sysfs knob lets another process change
 * its rate. So titad decides and the agent, inside the owner, programs.
 *
 * What it intercepts, and how:
 *
 *   ibv_create_qp, ibv_modify_qp, ibv_destroy_qp
 *       exported, versioned libibverbs symbols: interposed by defining them
 *       here (processes linked against libibverbs) and by interposing
 *       dlvsym() itself, which is how NCCL resolves verbs after
 *       dlopen("libibverbs.so"): for those three names at IBVERBS_1.1,
 *       dlvsym returns the agent's wrapper and keeps the real function.
 *       A QP created another way (ibv_create_qp_ex, rdma_cm) is picked up
 *       at its first ibv_modify_qp, which every connection path calls.
 *   ibv_post_send, ibv_poll_cq
 *       static inline in verbs.h: they jump through the context's ops
 *       table (ctx->ops.post_send, ctx->ops.poll_cq), so no symbol exists
 *       to interpose. The agent swaps those two pointers in each context
 *       that owns a registered QP and chains to the provider's. Not seen:
 *       the extended post API (ibv_wr_* through ibv_qp_ex), ibv_poll_cq_ex
 *       (ibv_start_poll), and anything that writes doorbells directly
 *       (mlx5dv/DEVX, GPU-initiated networking): demand from those QPs is
 *       not reported, though their rates are still applied.
 *   ibv_modify_qp_rate_limit
 *       static inline too; the agent calls it (not interposes it), after
 *       the QP reached RTR: bnxt_re and ionic pace RC QPs this way; mlx5
 *       refuses RC (EOPNOTSUPP), so on mlx5 RC QPs get a scheduling leaf
 *       (mlx5dv_sched_leaf_create + mlx5dv_modify_qp_sched_elem, resolved
 *       from libmlx5.so.1 at MLX5_1.17 when first needed).
 *   mlx5dv_modify_qp_udp_sport
 *       called (from libmlx5.so.1, MLX5_1.17) when titad moves a QP to
 *       another UDP source port, that is another ECMP path (SET_SPORT):
 *       RC/UC QPs on mlx5, in RTS, and only while nothing the QP posted is
 *       in flight (bytes posted = bytes completed), so that an RC QP's
 *       packets never overtake each other on two paths. A change that
 *       cannot go at once is held until the QP falls idle, at most for
 *       the time titad allows. Outstanding RDMA reads are not seen, and a
 *       WR posted by another thread between the check and the call may
 *       still go out on the old path: the responder then sees a PSN out of
 *       order, which RC recovers from by retransmission, not corruption.
 *
 * Threads: the application's threads run the wrappers (creation, state,
 * counters); one agent thread, started with the first QP, owns the
 * socket: it (re)connects, sends registrations and statistics, and applies
 * rates. When titad goes away every paced QP returns to unpaced.
 *
 * fork(): the child starts afresh. It closes its copy of the parent's
 * connection without a word on it, forgets the parent's QPs without
 * touching them, and its own first QP starts its own agent thread, which
 * connects as the child (agent_atfork_child).
 *
 * Environment: TITA_AGENT_SOCKET (default /run/tita/agent.sock),
 * TITA_AGENT_STATS_MS (10: demand within a few control intervals),
 * TITA_AGENT_RECONNECT_MS (1000),
 * TITA_AGENT_DISABLE=1 (pass everything through), TITA_AGENT_DEBUG=1
 * (log to stderr).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <infiniband/mlx5dv.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agentproto.h"

#define EXPORT __attribute__((visibility("default")))

#define MAX_QPS 4096
#define HASH_SIZE 16384 /* four times MAX_QPS: short probes */
#define MAX_CTXS 64
#define FIFO_LEN 128 /* signalled WRs in flight per QP that we track */

/* ---- real functions ----------------------------------------------------- */

typedef struct ibv_qp *(*create_qp_fn)(struct ibv_pd *, struct ibv_qp_init_attr *);
typedef int (*modify_qp_fn)(struct ibv_qp *, struct ibv_qp_attr *, int);
typedef int (*destroy_qp_fn)(struct ibv_qp *);
typedef void *(*dlvsym_fn)(void *, const char *, const char *);

static _Atomic(dlvsym_fn) real_dlvsym;
static _Atomic(create_qp_fn) real_create_qp;
static _Atomic(modify_qp_fn) real_modify_qp;
static _Atomic(destroy_qp_fn) real_destroy_qp;

static bool g_debug, g_disabled;

static void dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dbg(const char *fmt, ...)
{
	va_list ap;

	if (!g_debug)
		return;
	va_start(ap, fmt);
	fputs("tita-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static dlvsym_fn get_real_dlvsym(void)
{
	dlvsym_fn f = atomic_load(&real_dlvsym);

	/* dlsym is not interposed, so RTLD_NEXT finds libc's dlvsym. */
	if (!f) {
		f = (dlvsym_fn)dlsym(RTLD_NEXT, "dlvsym");
		atomic_store(&real_dlvsym, f);
	}
	return f;
}

/* For processes linked against libibverbs: the next definition after us. */
static void *next_verb(const char *name)
{
	dlvsym_fn dv = get_real_dlvsym();

	return dv ? dv(RTLD_NEXT, name, "IBVERBS_1.1") : NULL;
}

/* ---- mlx5dv scheduling elements ------------------------------------------------- */

struct mlx5_syms {
	struct mlx5dv_sched_node *(*node_create)(struct ibv_context *,
						 const struct mlx5dv_sched_attr *);
	struct mlx5dv_sched_leaf *(*leaf_create)(struct ibv_context *,
						 const struct mlx5dv_sched_attr *);
	int (*leaf_modify)(struct mlx5dv_sched_leaf *, const struct mlx5dv_sched_attr *);
	int (*leaf_destroy)(struct mlx5dv_sched_leaf *);
	int (*qp_sched_elem)(struct ibv_qp *, const struct mlx5dv_sched_leaf *,
			     const struct mlx5dv_sched_leaf *);
	int (*qp_udp_sport)(struct ibv_qp *, uint16_t); /* NULL: not in this libmlx5 */
};

static struct mlx5_syms mlx5;
static pthread_once_t mlx5_once = PTHREAD_ONCE_INIT;
static bool mlx5_ok;

static void mlx5_resolve(void)
{
	dlvsym_fn dv = get_real_dlvsym();
	/* On a ConnectX host the provider is already loaded under this name
	 * (libibverbs/libmlx5-rdmav*.so links to it); RTLD_LOCAL keeps its
	 * symbols out of the application's scope. */
	void *h = dlopen("libmlx5.so.1", RTLD_LAZY | RTLD_LOCAL);

	if (!h || !dv) {
		dbg("libmlx5.so.1 not available: %s", h ? "no dlvsym" : dlerror());
		return;
	}
	mlx5.node_create = dv(h, "mlx5dv_sched_node_create", "MLX5_1.17");
	mlx5.leaf_create = dv(h, "mlx5dv_sched_leaf_create", "MLX5_1.17");
	mlx5.leaf_modify = dv(h, "mlx5dv_sched_leaf_modify", "MLX5_1.17");
	mlx5.leaf_destroy = dv(h, "mlx5dv_sched_leaf_destroy", "MLX5_1.17");
	mlx5.qp_sched_elem = dv(h, "mlx5dv_modify_qp_sched_elem", "MLX5_1.17");
	mlx5.qp_udp_sport = dv(h, "mlx5dv_modify_qp_udp_sport", "MLX5_1.17");
	mlx5_ok = mlx5.node_create && mlx5.leaf_create && mlx5.leaf_modify && mlx5.leaf_destroy &&
		  mlx5.qp_sched_elem;
	dbg("mlx5dv scheduling elements %s, UDP source ports %s", mlx5_ok ? "resolved" : "missing",
	    mlx5.qp_udp_sport ? "resolved" : "missing");
}

/* ---- contexts: the ops we chain to ------------------------------------------ */

typedef int (*post_send_fn)(struct ibv_qp *, struct ibv_send_wr *, struct ibv_send_wr **);
typedef int (*poll_cq_fn)(struct ibv_cq *, int, struct ibv_wc *);

struct actx {
	_Atomic(struct ibv_context *) ctx;
	post_send_fn post_send;
	poll_cq_fn poll_cq;
	struct mlx5dv_sched_node *root; /* created with the first leaf */
	/* packet_pacing_caps in kbit/s, asked once: max << 32 | min (0 where
	 * the device does not say), PACING_CAPS_UNKNOWN until then. */
	_Atomic uint64_t pacing_caps;
};

#define PACING_CAPS_UNKNOWN UINT64_MAX

static struct actx g_ctxs[MAX_CTXS];
static _Atomic int g_n_ctxs;

static struct actx *ctx_find(const struct ibv_context *c)
{
	int n = atomic_load_explicit(&g_n_ctxs, memory_order_acquire);

	for (int i = 0; i < n; i++)
		if (atomic_load_explicit(&g_ctxs[i].ctx, memory_order_relaxed) == c)
			return &g_ctxs[i];
	return NULL;
}

/*
 * A rate within what the device paces per QP: one below its minimum is
 * refused (EINVAL), and the QP would go on at its old, larger rate, so it
 * is raised to the minimum; one above the maximum is lowered to it. The
 * caps come from the context's query_device_ex op, called directly: its
 * inline wrapper falls back on ibv_query_device, which the agent, resolving
 * libibverbs at run time, does not link.
 */
static uint64_t rate_within_caps(struct ibv_context *ctx, struct actx *c, uint64_t kbps)
{
	uint64_t caps, min_kbps, max_kbps;

	if (!c || kbps == 0)
		return kbps;
	caps = atomic_load(&c->pacing_caps);
	if (caps == PACING_CAPS_UNKNOWN) {
		struct verbs_context *v = verbs_get_ctx_op(ctx, query_device_ex);
		struct ibv_device_attr_ex ax;

		memset(&ax, 0, sizeof(ax));
		caps = 0;
		if (v && v->query_device_ex(ctx, NULL, &ax, sizeof(ax)) == 0)
			caps = (uint64_t)ax.packet_pacing_caps.qp_rate_limit_max << 32 |
			       ax.packet_pacing_caps.qp_rate_limit_min;
		atomic_store(&c->pacing_caps, caps);
	}
	min_kbps = caps & UINT32_MAX;
	max_kbps = caps >> 32;
	if (max_kbps && kbps > max_kbps)
		kbps = max_kbps;
	return kbps < min_kbps ? min_kbps : kbps;
}

/* ---- the QP table ----------------------------------------------------------- */

struct fifo_ent {
	uint64_t wr_id;
	uint64_t posted; /* bytes_posted after this WR */
};

struct aqp {
	/* Set under g_lock. */
	bool used, dead, announced;
	uint64_t id;
	struct ibv_qp *qp;
	struct ibv_context *ctx;
	uint32_t qpn;

	pthread_mutex_t lock; /* the fields below */
	uint32_t dest_qpn;
	uint8_t type, state, port, sgid_index, provider, flags;
	uint8_t remote_gid[16];
	bool pending; /* a rate waits for RTR */
	uint64_t want_kbps, applied_kbps;
	uint32_t mech;
	struct mlx5dv_sched_leaf *leaf;
	uint16_t sport; /* set by SET_SPORT; 0: the NIC's own choice */
	/* A SET_SPORT waiting for the QP to fall idle: its port, seq and
	 * deadline. sport_held is read without the lock by poll_cq. */
	_Atomic bool sport_held;
	uint16_t sport_want;
	uint32_t sport_seq;
	uint64_t sport_deadline_ms;
	_Atomic bool dirty; /* registration must be (re)sent */
	/* A rate that waits for the QP's unscheduled bytes (SET_RATE 1.3):
	 * post_send disarms it once bytes_posted reaches unsched_until and
	 * marks it due, and the agent thread applies unsched_kbps then (a
	 * verbs call does not belong in the application's post path). */
	_Atomic bool unsched_armed, unsched_due;
	_Atomic uint64_t unsched_until;
	uint64_t unsched_kbps;
	uint32_t unsched_seq;
	/* Bytes the agent does not see (the extended post API) never reach
	 * the mark: the rate applies by this time whatever was posted. */
	uint64_t unsched_deadline_ms;

	/* Hot path: updated by post_send/poll_cq without the lock. */
	_Atomic uint64_t bytes_posted, bytes_completed, bytes_read;
	uint64_t sent_posted, sent_completed; /* last reported (agent thread) */
	pthread_spinlock_t fifo_lock;
	struct fifo_ent fifo[FIFO_LEN];
	uint32_t fifo_head, fifo_n;
};

/* Nothing q posted is in flight: every byte posted has completed. */
static bool qp_idle(struct aqp *q)
{
	return atomic_load_explicit(&q->bytes_completed, memory_order_relaxed) ==
	       atomic_load_explicit(&q->bytes_posted, memory_order_relaxed);
}

static struct aqp g_qps[MAX_QPS];
static _Atomic int32_t g_by_ptr[HASH_SIZE]; /* 0 empty, -1 deleted, else slot + 1 */
static _Atomic int32_t g_by_qpn[HASH_SIZE];
static uint32_t g_tombstones;
static uint64_t g_next_id = 1;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash_ptr(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)x & (HASH_SIZE - 1);
}

static uint32_t hash_qpn(const void *ctx, uint32_t qpn)
{
	return (hash_ptr(ctx) ^ (qpn * 2654435761u)) & (HASH_SIZE - 1);
}

static struct aqp *find_by_ptr(const struct ibv_qp *qp)
{
	uint32_t h = hash_ptr(qp);

	for (uint32_t i = 0; i < HASH_SIZE; i++) {
		int32_t v = atomic_load_explicit(&g_by_ptr[(h + i) & (HASH_SIZE - 1)],
						 memory_order_acquire);

		if (v == 0)
			return NULL;
		if (v > 0 && g_qps[v - 1].qp == qp)
			return &g_qps[v - 1];
	}
	return NULL;
}

static struct aqp *find_by_qpn(const struct ibv_context *ctx, uint32_t qpn)
{
	uint32_t h = hash_qpn(ctx, qpn);

	for (uint32_t i = 0; i < HASH_SIZE; i++) {
		int32_t v = atomic_load_explicit(&g_by_qpn[(h + i) & (HASH_SIZE - 1)],
						 memory_order_acquire);

		if (v == 0)
			return NULL;
		if (v > 0 && g_qps[v - 1].qpn == qpn && g_qps[v - 1].ctx == ctx)
			return &g_qps[v - 1];
	}
	return NULL;
}

static void hash_put(_Atomic int32_t *t, uint32_t h, int32_t v)
{
	for (uint32_t i = 0; i < HASH_SIZE; i++) {
		_Atomic int32_t *e = &t[(h + i) & (HASH_SIZE - 1)];
		int32_t cur = atomic_load(e);

		if (cur <= 0) {
			if (cur < 0)
				g_tombstones--;
			atomic_store_explicit(e, v, memory_order_release);
			return;
		}
	}
}

static void hash_del(_Atomic int32_t *t, uint32_t h, int32_t v)
{
	for (uint32_t i = 0; i < HASH_SIZE; i++) {
		_Atomic int32_t *e = &t[(h + i) & (HASH_SIZE - 1)];
		int32_t cur = atomic_load(e);

		if (cur == 0)
			return;
		if (cur == v) {
			atomic_store_explicit(e, -1, memory_order_release);
			g_tombstones++;
			return;
		}
	}
}

static uint8_t provider_of(const struct ibv_context *ctx)
{
	const char *n = ctx && ctx->device ? ctx->device->name : "";

	if (!strncmp(n, "mlx5", 4))
		return TITA_AGENT_PROV_MLX5;
	if (!strncmp(n, "bnxt_re", 7))
		return TITA_AGENT_PROV_BNXT_RE;
	if (!strncmp(n, "ionic", 5))
		return TITA_AGENT_PROV_IONIC;
	if (!strncmp(n, "irdma", 5))
		return TITA_AGENT_PROV_IRDMA;
	if (!strncmp(n, "rxe", 3))
		return TITA_AGENT_PROV_RXE;
	return TITA_AGENT_PROV_GENERIC;
}

static int wake_fd[2] = { -1, -1 };
static void link_start(void);

static void wake_link(void)
{
	char c = 1;

	if (wake_fd[1] >= 0 && write(wake_fd[1], &c, 1) < 0) {
		/* The pipe is full: the agent thread is already woken. */
	}
}

static int agent_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad);
static int agent_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);

/* Chain a context's post_send and poll_cq through the agent (once). */
static void patch_context(struct ibv_context *c)
{
	int n;

	if (ctx_find(c))
		return;
	pthread_mutex_lock(&g_lock);
	n = atomic_load(&g_n_ctxs);
	if (!ctx_find(c) && n < MAX_CTXS) {
		g_ctxs[n].post_send = c->ops.post_send;
		g_ctxs[n].poll_cq = c->ops.poll_cq;
		atomic_store(&g_ctxs[n].pacing_caps, PACING_CAPS_UNKNOWN);
		atomic_store(&g_ctxs[n].ctx, c);
		atomic_store_explicit(&g_n_ctxs, n + 1, memory_order_release);
		/* After the record exists: a wrapper always finds its chain. */
		if (c->ops.post_send)
			c->ops.post_send = agent_post_send;
		if (c->ops.poll_cq)
			c->ops.poll_cq = agent_poll_cq;
	}
	pthread_mutex_unlock(&g_lock);
}

/* Register a QP the agent has not seen; returns it (or NULL: table full). */
static struct aqp *qp_register(struct ibv_qp *qp)
{
	struct aqp *q = find_by_ptr(qp);

	if (q)
		return q;
	patch_context(qp->context);
	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS && !q; i++) {
		if (g_qps[i].used)
			continue;
		q = &g_qps[i];
		q->used = true;
		q->dead = false;
		q->announced = false;
		q->id = g_next_id++;
		q->qp = qp;
		q->ctx = qp->context;
		q->qpn = qp->qp_num;
		pthread_mutex_lock(&q->lock);
		q->dest_qpn = 0;
		q->type = (uint8_t)qp->qp_type;
		q->state = (uint8_t)qp->state;
		q->port = 0;
		q->sgid_index = 0;
		q->flags = 0;
		memset(q->remote_gid, 0, sizeof(q->remote_gid));
		q->provider = provider_of(qp->context);
		q->pending = false;
		q->want_kbps = q->applied_kbps = 0;
		q->mech = TITA_AGENT_MECH_NONE;
		q->leaf = NULL;
		q->sport = 0;
		atomic_store(&q->sport_held, false);
		pthread_mutex_unlock(&q->lock);
		atomic_store(&q->bytes_posted, 0);
		atomic_store(&q->bytes_completed, 0);
		atomic_store(&q->bytes_read, 0);
		q->sent_posted = q->sent_completed = 0;
		q->fifo_head = q->fifo_n = 0;
		atomic_store(&q->dirty, true);
		hash_put(g_by_ptr, hash_ptr(qp), i + 1);
		hash_put(g_by_qpn, hash_qpn(qp->context, qp->qp_num), i + 1);
	}
	pthread_mutex_unlock(&g_lock);
	if (!q) {
		dbg("QP table full: QP %u is not paced", qp->qp_num);
		return NULL;
	}
	link_start();
	wake_link();
	return q;
}

/* ---- applying rates ----------------------------------------------------------- */

/* Program q at kbps (0: unpaced) with the provider's knob. q->lock held.
 * 0, -EAGAIN (held until RTR), or -errno. */
static int apply_locked(struct aqp *q, uint64_t kbps)
{
	bool sched_first;
	int r;

	q->want_kbps = kbps;
	if (q->state != IBV_QPS_RTR && q->state != IBV_QPS_RTS) {
		/* bnxt_re and ionic accept a rate only from RTR on, mlx5
		 * programs it at RTR→RTS: hold it until the QP gets there. */
		q->pending = kbps != 0 || q->mech != TITA_AGENT_MECH_NONE;
		return q->pending ? -EAGAIN : 0;
	}
	q->pending = false;
	/* mlx5 paces RAW_PACKET (and, on new kernels, UD/UC) QPs with
	 * rate limits, never RC: go straight to its scheduling elements. */
	sched_first = q->provider == TITA_AGENT_PROV_MLX5 && q->type == IBV_QPT_RC;
	if (!sched_first && q->mech != TITA_AGENT_MECH_MLX5_SCHED) {
		struct ibv_qp_rate_limit_attr a;
		uint64_t pace_kbps = rate_within_caps(q->ctx, ctx_find(q->ctx), kbps);

		/* Zeroed: burst and packet size "device default", and
		 * comp_mask must be 0 (mlx5 and bnxt_re reject others). */
		memset(&a, 0, sizeof(a));
		a.rate_limit = pace_kbps > UINT32_MAX ? UINT32_MAX : (uint32_t)pace_kbps;
		r = ibv_modify_qp_rate_limit(q->qp, &a);
		if (r == 0) {
			q->mech = TITA_AGENT_MECH_RATE_LIMIT;
			q->applied_kbps = pace_kbps;
			return 0;
		}
		if (q->provider != TITA_AGENT_PROV_MLX5 || (r != EOPNOTSUPP && r != ENOSYS))
			return -r;
	}
	pthread_once(&mlx5_once, mlx5_resolve);
	if (!mlx5_ok)
		return -EOPNOTSUPP;
	{
		/* The scheduler counts in Mbit/s, 0 meaning no limit: a
		 * nonzero rate rounds up so it never turns into "no limit". */
		uint32_t mbps = kbps == 0		     ? 0 :
				kbps >= 1000ull * UINT32_MAX ? UINT32_MAX :
							       (uint32_t)((kbps + 999) / 1000);
		struct mlx5dv_sched_attr attr = {
			.flags = MLX5DV_SCHED_ELEM_ATTR_FLAGS_MAX_AVG_BW,
			.max_avg_bw = mbps,
		};
		struct actx *c = ctx_find(q->ctx);

		if (q->leaf) {
			r = mlx5.leaf_modify(q->leaf, &attr);
			if (r)
				return r > 0 ? -r : r;
			q->applied_kbps = kbps;
			return 0;
		}
		if (kbps == 0)
			return 0;
		if (!c)
			return -ENOENT;
		if (!c->root) {
			struct mlx5dv_sched_attr ra = { 0 };

			/* One node per context under the port's root; each QP
			 * gets its own leaf, titad shares rates out itself. */
			c->root = mlx5.node_create(q->ctx, &ra);
			if (!c->root)
				return errno ? -errno : -EIO;
		}
		attr.parent = c->root;
		q->leaf = mlx5.leaf_create(q->ctx, &attr);
		if (!q->leaf)
			return errno ? -errno : -EIO;
		/* Requestor side only: the responder's leaf would pace read
		 * responses, which titad accounts to the other host. */
		r = mlx5.qp_sched_elem(q->qp, q->leaf, NULL);
		if (r) {
			mlx5.leaf_destroy(q->leaf);
			q->leaf = NULL;
			return r > 0 ? -r : r;
		}
		q->mech = TITA_AGENT_MECH_MLX5_SCHED;
		q->applied_kbps = kbps;
		return 0;
	}
}

/* ---- moving source ports -------------------------------------------------------- */

/* Whether the provider can move q's UDP source port: 0 or -EOPNOTSUPP. */
static int sport_supported(struct aqp *q)
{
	if (q->provider != TITA_AGENT_PROV_MLX5 || (q->type != IBV_QPT_RC && q->type != IBV_QPT_UC))
		return -EOPNOTSUPP;
	pthread_once(&mlx5_once, mlx5_resolve);
	return mlx5.qp_udp_sport ? 0 : -EOPNOTSUPP;
}

/* mlx5 sets the port with an RTS→RTS modify: RTS, and nothing in flight
 * that the new path could overtake. q->lock held. */
static bool sport_ready(struct aqp *q)
{
	return q->qp && q->state == IBV_QPS_RTS && qp_idle(q);
}

/* q->lock held: 0 or -errno. */
static int sport_set_locked(struct aqp *q, uint16_t sport)
{
	int r = mlx5.qp_udp_sport(q->qp, sport);

	if (r)
		return r > 0 ? -r : r;
	q->sport = sport;
	atomic_store(&q->dirty, true);
	return 0;
}

/* ---- interposed verbs ------------------------------------------------------------ */

static struct ibv_qp *agent_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	create_qp_fn f = atomic_load(&real_create_qp);
	struct ibv_qp *qp;

	if (!f) {
		f = (create_qp_fn)next_verb("ibv_create_qp");
		atomic_store(&real_create_qp, f);
	}
	if (!f) {
		errno = ENOSYS;
		return NULL;
	}
	qp = f(pd, attr);
	if (qp && !g_disabled)
		qp_register(qp);
	return qp;
}

static int agent_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	modify_qp_fn f = atomic_load(&real_modify_qp);
	struct aqp *q;
	int r;

	if (!f) {
		f = (modify_qp_fn)next_verb("ibv_modify_qp");
		atomic_store(&real_modify_qp, f);
	}
	if (!f)
		return ENOSYS;
	r = f(qp, attr, mask);
	if (r || g_disabled)
		return r;
	/* QPs from ibv_create_qp_ex or rdma_cm are seen here first. */
	q = qp_register(qp);
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	if (mask & IBV_QP_PORT)
		q->port = attr->port_num;
	if (mask & IBV_QP_AV) {
		if (attr->ah_attr.port_num)
			q->port = attr->ah_attr.port_num;
		if (attr->ah_attr.is_global) {
			memcpy(q->remote_gid, attr->ah_attr.grh.dgid.raw, 16);
			q->sgid_index = attr->ah_attr.grh.sgid_index;
			q->flags |= TITA_AGENT_QP_HAS_REMOTE_GID;
		}
	}
	if (mask & IBV_QP_DEST_QPN)
		q->dest_qpn = attr->dest_qp_num;
	if (mask & IBV_QP_STATE) {
		q->state = (uint8_t)attr->qp_state;
		/* Leaving RTS/RTR (reset, error) drops the NIC's rate
		 * state; the pending logic re-applies it at the next RTR. */
		if (q->pending && (q->state == IBV_QPS_RTR || q->state == IBV_QPS_RTS)) {
			int ar = apply_locked(q, q->want_kbps);

			dbg("QP %u: held rate %llu kbit/s applied at %s: %d", q->qpn,
			    (unsigned long long)q->want_kbps,
			    q->state == IBV_QPS_RTR ? "RTR" : "RTS", ar);
		}
	}
	atomic_store(&q->dirty, true);
	pthread_mutex_unlock(&q->lock);
	wake_link();
	return 0;
}

static int agent_destroy_qp(struct ibv_qp *qp)
{
	destroy_qp_fn f = atomic_load(&real_destroy_qp);
	struct aqp *q;
	struct mlx5dv_sched_leaf *leaf = NULL;
	int r;

	if (!f) {
		f = (destroy_qp_fn)next_verb("ibv_destroy_qp");
		atomic_store(&real_destroy_qp, f);
	}
	if (!f)
		return ENOSYS;
	q = g_disabled ? NULL : find_by_ptr(qp);
	r = f(qp);
	if (r || !q)
		return r;
	pthread_mutex_lock(&g_lock);
	hash_del(g_by_ptr, hash_ptr(qp), (int32_t)(q - g_qps) + 1);
	hash_del(g_by_qpn, hash_qpn(q->ctx, q->qpn), (int32_t)(q - g_qps) + 1);
	pthread_mutex_lock(&q->lock);
	leaf = q->leaf;
	q->leaf = NULL;
	q->qp = NULL;
	pthread_mutex_unlock(&q->lock);
	q->dead = true;
	pthread_mutex_unlock(&g_lock);
	/* The QP is gone, so its leaf has no user left. */
	if (leaf && mlx5_ok)
		mlx5.leaf_destroy(leaf);
	wake_link();
	return 0;
}

EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	return agent_create_qp(pd, attr);
}

EXPORT int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	return agent_modify_qp(qp, attr, mask);
}

EXPORT int ibv_destroy_qp(struct ibv_qp *qp)
{
	return agent_destroy_qp(qp);
}

/*
 * NCCL's path: dlopen("libibverbs.so") then dlvsym(h, "ibv_create_qp",
 * "IBVERBS_1.1"). Only the IBVERBS_1.1 versions are wrapped: the 1.0
 * compatibility entry points take differently laid out structures.
 */
EXPORT void *dlvsym(void *handle, const char *name, const char *version)
{
	dlvsym_fn dv = get_real_dlvsym();
	void *p;

	if (!dv)
		return NULL;
	p = dv(handle, name, version);
	if (!p || g_disabled || strcmp(version, "IBVERBS_1.1") || strncmp(name, "ibv_", 4))
		return p;
	if (!strcmp(name, "ibv_create_qp")) {
		atomic_store(&real_create_qp, (create_qp_fn)p);
		return (void *)agent_create_qp;
	}
	if (!strcmp(name, "ibv_modify_qp")) {
		atomic_store(&real_modify_qp, (modify_qp_fn)p);
		return (void *)agent_modify_qp;
	}
	if (!strcmp(name, "ibv_destroy_qp")) {
		atomic_store(&real_destroy_qp, (destroy_qp_fn)p);
		return (void *)agent_destroy_qp;
	}
	return p;
}

/* ---- the data path: demand ---------------------------------------------------------- */

static int agent_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct actx *c = ctx_find(qp->context);
	struct ibv_send_wr *bad_local = NULL;
	struct aqp *q;
	int r;

	if (!c || !c->post_send)
		return ENOSYS;
	r = c->post_send(qp, wr, &bad_local);
	if (bad)
		*bad = bad_local;
	q = find_by_ptr(qp);
	if (!q)
		return r;
	/* On failure, the WRs before *bad were posted. */
	for (struct ibv_send_wr *w = wr; w && !(r && w == bad_local); w = w->next) {
		uint64_t bytes = 0;

		for (int i = 0; i < w->num_sge; i++)
			bytes += w->sg_list[i].length;
		switch (w->opcode) {
		case IBV_WR_RDMA_READ:
			atomic_fetch_add_explicit(&q->bytes_read, bytes, memory_order_relaxed);
			bytes = 0;
			break;
		case IBV_WR_ATOMIC_CMP_AND_SWP:
		case IBV_WR_ATOMIC_FETCH_AND_ADD:
			bytes = 8;
			break;
		default:
			break;
		}
		if (bytes) {
			uint64_t posted = atomic_fetch_add_explicit(&q->bytes_posted, bytes,
								    memory_order_relaxed) +
					  bytes;

			if (atomic_load_explicit(&q->unsched_armed, memory_order_relaxed) &&
			    posted >=
				    atomic_load_explicit(&q->unsched_until, memory_order_relaxed) &&
			    atomic_exchange(&q->unsched_armed, false)) {
				atomic_store(&q->unsched_due, true);
				wake_link();
			}
		}
		if (w->send_flags & IBV_SEND_SIGNALED) {
			pthread_spin_lock(&q->fifo_lock);
			/* A full ring skips this WR: the next recorded one
			 * still accounts for it when it completes. */
			if (q->fifo_n < FIFO_LEN) {
				struct fifo_ent *e =
					&q->fifo[(q->fifo_head + q->fifo_n) % FIFO_LEN];

				e->wr_id = w->wr_id;
				e->posted = atomic_load_explicit(&q->bytes_posted,
								 memory_order_relaxed);
				q->fifo_n++;
			}
			pthread_spin_unlock(&q->fifo_lock);
		}
	}
	return r;
}

static int agent_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	struct actx *c = ctx_find(cq->context);
	int got;

	if (!c || !c->poll_cq)
		return -1;
	got = c->poll_cq(cq, n, wc);
	for (int i = 0; i < got; i++) {
		struct aqp *q;

		/* Receive completions carry no send-side demand. */
		if (wc[i].opcode & IBV_WC_RECV)
			continue;
		q = find_by_qpn(cq->context, wc[i].qp_num);
		if (!q)
			continue;
		/* RC completes a send queue in order: the signalled WR with
		 * this wr_id completes every WR posted before it. */
		pthread_spin_lock(&q->fifo_lock);
		for (uint32_t k = 0; k < q->fifo_n; k++) {
			struct fifo_ent *e = &q->fifo[(q->fifo_head + k) % FIFO_LEN];

			if (e->wr_id != wc[i].wr_id)
				continue;
			atomic_store_explicit(&q->bytes_completed, e->posted, memory_order_relaxed);
			q->fifo_head = (q->fifo_head + k + 1) % FIFO_LEN;
			q->fifo_n -= k + 1;
			break;
		}
		pthread_spin_unlock(&q->fifo_lock);
		/* A source port change waits for this moment. */
		if (atomic_load_explicit(&q->sport_held, memory_order_relaxed) && qp_idle(q))
			wake_link();
	}
	return got;
}

/* ---- the link to titad --------------------------------------------------------------- */

/*
 * The agent thread's state, which fork() must not hand to a child: the
 * thread does not survive it and the connection is the parent's. The
 * locks below are the ones the fork handlers hold (agent_atfork_*); never
 * across anything that blocks, so a stalled titad cannot stall a fork.
 */
static pthread_mutex_t g_link_lock = PTHREAD_MUTEX_INITIALIZER; /* g_link_started, wake_fd */
static bool g_link_started;
static pthread_mutex_t g_fd_lock = PTHREAD_MUTEX_INITIALIZER; /* g_link_fd */
static int g_link_fd = -1; /* the agent thread's connection */
static char g_sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int g_stats_ms = 100, g_reconnect_ms = 1000;
/* The longest a rate waits for a message's unscheduled bytes
 * (TITA_AGENT_UNSCHED_MAX_MS): a posted message's first bytes leave a
 * 100G NIC in microseconds. */
static int g_unsched_max_ms = 10;

static int env_int(const char *name, int def, int min, int max)
{
	const char *v = getenv(name);
	char *end;
	long x;

	if (!v || !*v)
		return def;
	x = strtol(v, &end, 10);
	return (*end || x < min || x > max) ? def : (int)x;
}

static bool send_msg(int fd, const void *m, size_t len)
{
	return send(fd, m, len, MSG_NOSIGNAL) == (ssize_t)len;
}

static void send_sport_result(int fd, uint64_t qp_id, uint32_t seq, uint16_t sport, int err)
{
	struct tita_agent_sport_result res;

	tita_agent_sport_result_init(&res, qp_id, seq, sport, err);
	dbg("QP id %llu: UDP source port %u (seq %u): %d", (unsigned long long)qp_id, sport, seq,
	    err);
	send_msg(fd, &res, sizeof(res));
}

static bool send_qp(int fd, struct aqp *q)
{
	struct tita_agent_qp m;

	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_ADD, sizeof(m));
	m.qp_id = q->id;
	m.qpn = q->qpn;
	pthread_mutex_lock(&q->lock);
	m.dest_qpn = q->dest_qpn;
	m.qp_type = q->type;
	m.state = q->state;
	m.port_num = q->port;
	m.sgid_index = q->sgid_index;
	m.provider = q->provider;
	m.flags = q->flags;
	memcpy(m.remote_gid, q->remote_gid, 16);
	if (q->ctx && q->ctx->device)
		snprintf(m.dev_name, sizeof(m.dev_name), "%s", q->ctx->device->name);
	m.udp_sport = q->sport;
	if (q->qp && sport_supported(q) == 0)
		m.caps |= TITA_AGENT_CAP_UDP_SPORT;
	pthread_mutex_unlock(&q->lock);
	/* Completed first: it only takes past values of posted, so read in
	 * this order the two do not cross (relaxed loads: titad still
	 * clamps the backlog at 0). */
	m.bytes_completed = atomic_load_explicit(&q->bytes_completed, memory_order_relaxed);
	m.bytes_posted = atomic_load_explicit(&q->bytes_posted, memory_order_relaxed);
	if (q->qp && verbs_get_ctx_op(q->ctx, modify_qp_rate_limit))
		m.caps |= TITA_AGENT_CAP_RATE_LIMIT;
	/* Every QP's posts pass through post_send, which counts them. */
	m.caps |= TITA_AGENT_CAP_UNSCHED;
	if (q->provider == TITA_AGENT_PROV_MLX5) {
		pthread_once(&mlx5_once, mlx5_resolve);
		if (mlx5_ok)
			m.caps |= TITA_AGENT_CAP_MLX5_SCHED;
	}
	return send_msg(fd, &m, sizeof(m));
}

/* q's counters as STATS reports them; noted as sent. */
static struct tita_agent_qp_stat qp_stat(struct aqp *q)
{
	struct tita_agent_qp_stat st = { .qp_id = q->id };

	/* Completed first, as in send_qp(). */
	st.bytes_completed = atomic_load_explicit(&q->bytes_completed, memory_order_relaxed);
	st.bytes_posted = atomic_load_explicit(&q->bytes_posted, memory_order_relaxed);
	st.bytes_read = atomic_load_explicit(&q->bytes_read, memory_order_relaxed);
	q->sent_posted = st.bytes_posted;
	q->sent_completed = st.bytes_completed;
	return st;
}

static bool stats_changed(const struct aqp *q)
{
	return atomic_load_explicit(&q->bytes_posted, memory_order_relaxed) != q->sent_posted ||
	       atomic_load_explicit(&q->bytes_completed, memory_order_relaxed) != q->sent_completed;
}

/* Send what changed: new or changed QPs, destroyed ones; free dead slots. */
static bool sync_qps(int fd, bool all)
{
	bool ok = true;

	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS; i++) {
		struct aqp *q = &g_qps[i];

		if (!q->used)
			continue;
		if (q->dead) {
			if (fd >= 0 && q->announced) {
				struct tita_agent_qp_del m;

				/* Its last bytes first: send_stats() skips dead
				 * QPs, and titad accounts a QP's bytes to its
				 * pair before it forgets the QP. */
				if (stats_changed(q)) {
					union {
						struct tita_agent_stats s;
						char buf[sizeof(struct tita_agent_stats) +
							 sizeof(struct tita_agent_qp_stat)];
					} one;

					memset(&one, 0, sizeof(one));
					tita_agent_hdr_init(&one.s.hdr, TITA_AGENT_STATS,
							    sizeof(one));
					one.s.n = 1;
					one.s.qps[0] = qp_stat(q);
					if (!send_msg(fd, &one, sizeof(one))) {
						ok = false;
						break;
					}
				}
				if (atomic_exchange(&q->sport_held, false))
					send_sport_result(fd, q->id, q->sport_seq, q->sport_want,
							  -ECANCELED);
				tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_DEL, sizeof(m));
				m.qp_id = q->id;
				if (!send_msg(fd, &m, sizeof(m))) {
					ok = false;
					break;
				}
			}
			q->used = false;
			if (g_tombstones > HASH_SIZE / 4) {
				/* Rebuild the indexes: readers racing with it may miss a
				 * QP for a moment, which loses a few counted bytes. */
				for (int k = 0; k < HASH_SIZE; k++) {
					atomic_store(&g_by_ptr[k], 0);
					atomic_store(&g_by_qpn[k], 0);
				}
				g_tombstones = 0;
				for (int k = 0; k < MAX_QPS; k++)
					if (g_qps[k].used && !g_qps[k].dead) {
						hash_put(g_by_ptr, hash_ptr(g_qps[k].qp), k + 1);
						hash_put(g_by_qpn,
							 hash_qpn(g_qps[k].ctx, g_qps[k].qpn),
							 k + 1);
					}
			}
			continue;
		}
		if (fd >= 0 && (all || atomic_exchange(&q->dirty, false))) {
			if (all)
				atomic_store(&q->dirty, false);
			if (!send_qp(fd, q)) {
				ok = false;
				atomic_store(&q->dirty, true);
				break;
			}
			q->announced = true;
		}
	}
	pthread_mutex_unlock(&g_lock);
	return ok;
}

static bool send_stats(int fd)
{
	static _Thread_local union {
		struct tita_agent_stats s;
		char buf[TITA_AGENT_MSG_MAX];
	} u;
	bool ok = true;

	u.s.n = 0;
	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS && ok; i++) {
		struct aqp *q = &g_qps[i];

		if (!q->used || q->dead || !q->announced || !stats_changed(q))
			continue;
		u.s.qps[u.s.n] = qp_stat(q);
		if (++u.s.n == TITA_AGENT_STATS_MAX) {
			size_t len = sizeof(u.s) + u.s.n * sizeof(u.s.qps[0]);

			tita_agent_hdr_init(&u.s.hdr, TITA_AGENT_STATS, len);
			ok = send_msg(fd, &u, len);
			u.s.n = 0;
		}
	}
	pthread_mutex_unlock(&g_lock);
	if (ok && u.s.n) {
		size_t len = sizeof(u.s) + u.s.n * sizeof(u.s.qps[0]);

		tita_agent_hdr_init(&u.s.hdr, TITA_AGENT_STATS, len);
		ok = send_msg(fd, &u, len);
	}
	return ok;
}

static uint64_t now_ms(void);

/* A RATE_RESULT for q (q->lock held). */
static void send_rate_result(int fd, const struct aqp *q, uint64_t kbps, uint32_t seq, int err)
{
	struct tita_agent_rate_result res;

	memset(&res, 0, sizeof(res));
	tita_agent_hdr_init(&res.hdr, TITA_AGENT_RATE_RESULT, sizeof(res));
	res.qp_id = q->id;
	res.rate_kbps = kbps;
	res.seq = seq;
	res.err = err;
	res.mechanism = q->mech;
	send_msg(fd, &res, sizeof(res));
}

/*
 * SET_RATE (len: as it came; a 1.2 command has no unscheduled bytes). With
 * unscheduled bytes the QP goes unpaced now and post_send arms the rate
 * for when they are posted; the answer now says the QP is unpaced, the
 * second (unsched_poll) what became of the rate.
 */
static void handle_set_rate(int fd, const struct tita_agent_set_rate *m, size_t len)
{
	uint64_t unsched = len >= sizeof(*m) && m->rate_kbps ? m->unsched_bytes : 0;
	struct tita_agent_rate_result res;
	struct aqp *q = NULL;

	memset(&res, 0, sizeof(res));
	tita_agent_hdr_init(&res.hdr, TITA_AGENT_RATE_RESULT, sizeof(res));
	res.qp_id = m->qp_id;
	res.rate_kbps = m->rate_kbps;
	res.seq = m->seq;
	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS; i++)
		if (g_qps[i].used && !g_qps[i].dead && g_qps[i].id == m->qp_id)
			q = &g_qps[i];
	if (!q) {
		res.err = -ENOENT;
	} else {
		pthread_mutex_lock(&q->lock);
		/* Whatever was armed ends here; a late "due" of it applies
		 * this command's rate, which is then already in force. */
		atomic_store(&q->unsched_armed, false);
		atomic_store(&q->unsched_due, false);
		q->unsched_kbps = m->rate_kbps;
		q->unsched_seq = m->seq;
		if (unsched) {
			res.err = apply_locked(q, 0);
			q->unsched_deadline_ms = now_ms() + (uint64_t)g_unsched_max_ms;
			atomic_store(&q->unsched_until, atomic_load(&q->bytes_posted) + unsched);
			atomic_store(&q->unsched_armed, true);
		} else {
			res.err = apply_locked(q, m->rate_kbps);
		}
		res.mechanism = q->mech;
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&g_lock);
	dbg("QP id %llu: rate %llu kbit/s after %llu bytes: %d (mechanism %u)",
	    (unsigned long long)m->qp_id, (unsigned long long)m->rate_kbps,
	    (unsigned long long)unsched, res.err, res.mechanism);
	send_msg(fd, &res, sizeof(res));
}

static void handle_set_sport(int fd, const struct tita_agent_set_sport *m)
{
	struct aqp *q = NULL;
	int err;

	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS; i++)
		if (g_qps[i].used && !g_qps[i].dead && g_qps[i].id == m->qp_id)
			q = &g_qps[i];
	if (!q) {
		err = -ENOENT;
	} else if (m->udp_sport == 0) {
		err = -EINVAL;
	} else {
		pthread_mutex_lock(&q->lock);
		err = sport_supported(q);
		if (!err && atomic_load(&q->sport_held)) {
			/* One change waits at a time: the newer wins. */
			send_sport_result(fd, q->id, q->sport_seq, q->sport_want, -ECANCELED);
			atomic_store(&q->sport_held, false);
		}
		if (!err && sport_ready(q)) {
			err = sport_set_locked(q, m->udp_sport);
		} else if (!err && m->max_wait_ms == 0) {
			err = -EBUSY;
		} else if (!err) {
			q->sport_want = m->udp_sport;
			q->sport_seq = m->seq;
			q->sport_deadline_ms = now_ms() + m->max_wait_ms;
			atomic_store(&q->sport_held, true);
			err = -EINPROGRESS;
		}
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&g_lock);
	send_sport_result(fd, m->qp_id, m->seq, m->udp_sport, err);
}

/* Held source port changes: the QPs that fell idle move, the ones whose
 * time ran out stay. The milliseconds until the next deadline (or -1). */
static int sports_poll(int fd)
{
	uint64_t now = now_ms(), next = UINT64_MAX;

	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS; i++) {
		struct aqp *q = &g_qps[i];
		int err;

		/* A dead QP's change is answered with its QP_DEL (sync_qps). */
		if (!q->used || q->dead || !atomic_load(&q->sport_held))
			continue;
		pthread_mutex_lock(&q->lock);
		if (sport_ready(q)) {
			err = sport_set_locked(q, q->sport_want);
		} else if (now >= q->sport_deadline_ms) {
			err = -ETIMEDOUT;
		} else {
			if (q->sport_deadline_ms < next)
				next = q->sport_deadline_ms;
			pthread_mutex_unlock(&q->lock);
			continue;
		}
		atomic_store(&q->sport_held, false);
		send_sport_result(fd, q->id, q->sport_seq, q->sport_want, err);
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&g_lock);
	return next == UINT64_MAX ? -1 : (int)(next - now);
}

/* The rates whose QPs' unscheduled bytes have been posted, or whose
 * deadline came; ms until the next deadline, or -1. */
static int unsched_poll(int fd)
{
	uint64_t now = now_ms(), next = UINT64_MAX;

	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS; i++) {
		struct aqp *q = &g_qps[i];

		if (!q->used || q->dead)
			continue;
		if (atomic_load(&q->unsched_armed)) {
			if (now < q->unsched_deadline_ms) {
				if (q->unsched_deadline_ms < next)
					next = q->unsched_deadline_ms;
				continue;
			}
			if (atomic_exchange(&q->unsched_armed, false))
				atomic_store(&q->unsched_due, true);
		}
		if (!atomic_load(&q->unsched_due))
			continue;
		pthread_mutex_lock(&q->lock);
		if (atomic_exchange(&q->unsched_due, false))
			send_rate_result(fd, q, q->unsched_kbps, q->unsched_seq,
					 apply_locked(q, q->unsched_kbps));
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&g_lock);
	return next == UINT64_MAX ? -1 : (int)(next - now);
}

/* titad is gone: no QP stays paced by a rate nobody maintains. */
static void unpace_all(void)
{
	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < MAX_QPS; i++) {
		struct aqp *q = &g_qps[i];

		if (!q->used || q->dead)
			continue;
		pthread_mutex_lock(&q->lock);
		if (q->applied_kbps || q->pending) {
			int r = apply_locked(q, 0);

			dbg("QP %u unpaced: %d", q->qpn, r);
		}
		q->pending = false;
		atomic_store(&q->unsched_armed, false);
		atomic_store(&q->unsched_due, false);
		/* Nobody is left to answer: the change is forgotten. */
		atomic_store(&q->sport_held, false);
		pthread_mutex_unlock(&q->lock);
		q->announced = false;
	}
	pthread_mutex_unlock(&g_lock);
}

/* Close the connection (fd = g_link_fd). Under g_fd_lock, so a fork
 * never sees a closed number it could mistake for the connection. */
static void link_close(int fd)
{
	pthread_mutex_lock(&g_fd_lock);
	close(fd);
	g_link_fd = -1;
	pthread_mutex_unlock(&g_fd_lock);
}

/* titad is gone: close, and no QP stays paced by a rate nobody maintains. */
static void link_lost(int fd)
{
	link_close(fd);
	unpace_all();
}

static int link_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tita_agent_hello h;
	int fd;

	/* Created under the lock: a child forked at any point knows which
	 * fd is its copy of the connection. */
	pthread_mutex_lock(&g_fd_lock);
	fd = g_link_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	pthread_mutex_unlock(&g_fd_lock);
	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, g_sock_path, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		link_close(fd);
		return -1;
	}
	memset(&h, 0, sizeof(h));
	tita_agent_hdr_init(&h.hdr, TITA_AGENT_HELLO, sizeof(h));
	h.pid = (uint32_t)getpid();
	h.max_qps = MAX_QPS;
	prctl(PR_GET_NAME, h.comm);
	if (!send_msg(fd, &h, sizeof(h)) || !sync_qps(fd, true)) {
		link_close(fd);
		return -1;
	}
	dbg("connected to %s", g_sock_path);
	return fd;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *link_main(void *arg)
{
	int fd = -1, sport_wait_ms = -1, unsched_wait_ms = -1;
	uint64_t next_try = 0, next_stats = 0;

	(void)arg;
	for (;;) {
		struct pollfd pfd[2] = { { wake_fd[0], POLLIN, 0 }, { fd, POLLIN, 0 } };
		uint64_t now = now_ms();
		int timeout = g_stats_ms;

		if (fd < 0 && now >= next_try) {
			fd = link_connect();
			next_try = now + (uint64_t)g_reconnect_ms;
			pfd[1].fd = fd;
		}
		if (fd < 0)
			timeout = (int)(next_try > now ? next_try - now : 0);
		else if (sport_wait_ms >= 0 && sport_wait_ms < timeout)
			timeout = sport_wait_ms;
		if (fd >= 0 && unsched_wait_ms >= 0 && unsched_wait_ms < timeout)
			timeout = unsched_wait_ms;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			continue;
		if (pfd[0].revents & POLLIN) {
			char drain[64];

			while (read(wake_fd[0], drain, sizeof(drain)) == (ssize_t)sizeof(drain))
				;
		}
		if (fd >= 0 && (pfd[1].revents & POLLIN)) {
			char buf[TITA_AGENT_MSG_MAX];
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				dbg("titad went away: unpacing every QP");
				link_lost(fd);
				fd = -1;
				continue;
			}
			int type = n > 0 ? tita_agent_msg_check(buf, (size_t)n) : 0;

			if (type == TITA_AGENT_SET_RATE) {
				struct tita_agent_set_rate m;

				/* A 1.2 command is shorter: the rest is 0. */
				memset(&m, 0, sizeof(m));
				memcpy(&m, buf, (size_t)n < sizeof(m) ? (size_t)n : sizeof(m));
				handle_set_rate(fd, &m, (size_t)n);
			} else if (type == TITA_AGENT_SET_SPORT) {
				struct tita_agent_set_sport m;

				memcpy(&m, buf, sizeof(m));
				handle_set_sport(fd, &m);
			}
		}
		if (fd >= 0 && (pfd[1].revents & (POLLHUP | POLLERR)) &&
		    !(pfd[1].revents & POLLIN)) {
			link_lost(fd);
			fd = -1;
			continue;
		}
		/* Held source ports first: a QP destroyed meanwhile is answered
		 * by sync_qps, before its QP_DEL. */
		if (fd >= 0) {
			sport_wait_ms = sports_poll(fd);
			unsched_wait_ms = unsched_poll(fd);
		}
		/* Registrations go out at once; statistics on their period. */
		if (!sync_qps(fd, false) ||
		    (fd >= 0 && now_ms() >= next_stats && !send_stats(fd))) {
			link_lost(fd);
			fd = -1;
			continue;
		}
		if (now_ms() >= next_stats)
			next_stats = now_ms() + (uint64_t)g_stats_ms;
	}
	return NULL;
}

static void link_init(void)
{
	const char *p = getenv("TITA_AGENT_SOCKET");
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;

	snprintf(g_sock_path, sizeof(g_sock_path), "%s", p && *p ? p : TITA_AGENT_SOCKET_DEFAULT);
	g_stats_ms = env_int("TITA_AGENT_STATS_MS", 10, 1, 60000);
	g_reconnect_ms = env_int("TITA_AGENT_RECONNECT_MS", 1000, 1, 600000);
	g_unsched_max_ms = env_int("TITA_AGENT_UNSCHED_MAX_MS", 10, 1, 60000);
	if (pipe2(wake_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		dbg("pipe: %s", strerror(errno));
		return;
	}
	/* The application's signal handlers must never run on our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, link_main, NULL))
		dbg("cannot start the agent thread: the process runs unpaced");
	else
		pthread_setname_np(t, "tita-agent");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void link_start(void)
{
	pthread_mutex_lock(&g_link_lock);
	if (!g_link_started) {
		g_link_started = true;
		link_init();
	}
	pthread_mutex_unlock(&g_link_lock);
}

/*
 * fork(): the child is another process, with no agent thread and a copy of
 * the parent's connection and QP table. Its copy of the socket is closed,
 * never written to (titad would take anything on it for the parent's), and
 * the parent's QPs are forgotten without being touched: verbs objects are
 * not the child's to use (not without ibv_fork_init), and unpacing or
 * destroying a leaf from here could reach the parent's QP through the
 * shared uverbs fd. The child's first QP starts a thread of its own, which
 * connects as the child. The parent carries on as if nothing happened.
 */
static void agent_atfork_prepare(void)
{
	pthread_mutex_lock(&g_link_lock);
	pthread_mutex_lock(&g_fd_lock);
}

static void agent_atfork_parent(void)
{
	pthread_mutex_unlock(&g_fd_lock);
	pthread_mutex_unlock(&g_link_lock);
}

static void agent_atfork_child(void)
{
	bool forgot = false;

	if (g_link_fd >= 0)
		close(g_link_fd);
	g_link_fd = -1;
	for (int i = 0; i < 2; i++) {
		if (wake_fd[i] >= 0)
			close(wake_fd[i]);
		wake_fd[i] = -1;
	}
	g_link_started = false;
	/* g_lock and a QP's locks may have been held by threads that are
	 * not in the child: they are the child's alone now, and free. Only
	 * used slots are touched, so a child of a process without QPs
	 * copies none of the table's pages. */
	pthread_mutex_init(&g_lock, NULL);
	for (int i = 0; i < MAX_QPS; i++) {
		struct aqp *q = &g_qps[i];

		if (!q->used)
			continue;
		pthread_mutex_init(&q->lock, NULL);
		pthread_spin_init(&q->fifo_lock, PTHREAD_PROCESS_PRIVATE);
		q->used = q->dead = q->announced = false;
		q->qp = NULL;
		q->leaf = NULL;
		q->fifo_n = 0;
		forgot = true;
	}
	if (forgot) {
		memset(g_by_ptr, 0, sizeof(g_by_ptr));
		memset(g_by_qpn, 0, sizeof(g_by_qpn));
		g_tombstones = 0;
	}
	pthread_mutex_unlock(&g_fd_lock);
	pthread_mutex_unlock(&g_link_lock);
}

__attribute__((constructor)) static void agent_init(void)
{
	const char *d = getenv("TITA_AGENT_DEBUG");
	const char *off = getenv("TITA_AGENT_DISABLE");

	g_debug = d && *d && strcmp(d, "0");
	g_disabled = off && *off && strcmp(off, "0");
	for (int i = 0; i < MAX_QPS; i++) {
		pthread_mutex_init(&g_qps[i].lock, NULL);
		pthread_spin_init(&g_qps[i].fifo_lock, PTHREAD_PROCESS_PRIVATE);
	}
	if (!g_disabled &&
	    pthread_atfork(agent_atfork_prepare, agent_atfork_parent, agent_atfork_child))
		dbg("pthread_atfork failed: a forked child would share the parent's link");
}
