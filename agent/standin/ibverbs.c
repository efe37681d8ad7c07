// SPDX-License-Identifier: MIT
/*
 * Stand-in libibverbs.so.1 for the agent's tests (see standin.h). Not
 * installed, never linked into anything but test programs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "standin.h"

#define EXPORT __attribute__((visibility("default")))

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_log[1 << 16];
static size_t g_log_len;
static char g_fail_op[32];
static int g_fail_err;
static uint32_t g_next_qpn = 0x100;

EXPORT void standin_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
EXPORT void standin_record(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g_lock);
	va_start(ap, fmt);
	if (g_log_len < sizeof(g_log) - 1) {
		int n = vsnprintf(g_log + g_log_len, sizeof(g_log) - g_log_len - 1, fmt, ap);

		if (n > 0)
			g_log_len += (size_t)n < sizeof(g_log) - g_log_len - 1 ?
					     (size_t)n :
					     sizeof(g_log) - g_log_len - 1;
		g_log[g_log_len++] = '\n';
		g_log[g_log_len] = '\0';
	}
	va_end(ap);
	pthread_mutex_unlock(&g_lock);
}

/* The log's lock may be held by the agent's thread when the test forks:
 * the child gets it free, so its own log works. */
static void lock_log(void)
{
	pthread_mutex_lock(&g_lock);
}

static void unlock_log(void)
{
	pthread_mutex_unlock(&g_lock);
}

__attribute__((constructor)) static void standin_init(void)
{
	pthread_atfork(lock_log, unlock_log, unlock_log);
}

/* The injected error for op, once; 0 when none. */
EXPORT int standin_take_failure(const char *op);
EXPORT int standin_take_failure(const char *op)
{
	int err = 0;

	pthread_mutex_lock(&g_lock);
	if (g_fail_err && !strcmp(g_fail_op, op)) {
		err = g_fail_err;
		g_fail_err = 0;
	}
	pthread_mutex_unlock(&g_lock);
	return err;
}

EXPORT const char *standin_log(void);
EXPORT const char *standin_log(void)
{
	return g_log;
}

EXPORT void standin_log_clear(void);
EXPORT void standin_log_clear(void)
{
	pthread_mutex_lock(&g_lock);
	g_log_len = 0;
	g_log[0] = '\0';
	pthread_mutex_unlock(&g_lock);
}

EXPORT void standin_fail_next(const char *op, int err);
EXPORT void standin_fail_next(const char *op, int err)
{
	pthread_mutex_lock(&g_lock);
	snprintf(g_fail_op, sizeof(g_fail_op), "%s", op);
	g_fail_err = err;
	pthread_mutex_unlock(&g_lock);
}

/* ---- devices -------------------------------------------------------------- */

static struct ibv_device g_devs[3];
static struct ibv_device *g_dev_list[4];

static void devs_init(void)
{
	static const char *const names[] = { "mlx5_0", "bnxt_re0", "irdma0" };

	for (int i = 0; i < 3; i++) {
		memset(&g_devs[i], 0, sizeof(g_devs[i]));
		snprintf(g_devs[i].name, sizeof(g_devs[i].name), "%s", names[i]);
		snprintf(g_devs[i].dev_name, sizeof(g_devs[i].dev_name), "uverbs%d", i);
		g_devs[i].node_type = IBV_NODE_CA;
		g_devs[i].transport_type = IBV_TRANSPORT_IB;
		g_dev_list[i] = &g_devs[i];
	}
	g_dev_list[3] = NULL;
}

EXPORT struct ibv_device **ibv_get_device_list(int *num)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, devs_init);
	if (num)
		*num = 3;
	return g_dev_list;
}

EXPORT void ibv_free_device_list(struct ibv_device **list)
{
	(void)list;
}

EXPORT const char *ibv_get_device_name(struct ibv_device *dev)
{
	return dev->name;
}

/* ---- completions ---------------------------------------------------------- */

#define MAX_WC 256

struct scq {
	struct ibv_cq cq;
	pthread_mutex_t lock;
	struct ibv_wc wc[MAX_WC];
	int n;
};

EXPORT void standin_complete(struct ibv_cq *cq, uint32_t qpn, uint64_t wr_id);
EXPORT void standin_complete(struct ibv_cq *cq, uint32_t qpn, uint64_t wr_id)
{
	struct scq *s = (struct scq *)cq;

	pthread_mutex_lock(&s->lock);
	if (s->n < MAX_WC) {
		memset(&s->wc[s->n], 0, sizeof(s->wc[0]));
		s->wc[s->n].wr_id = wr_id;
		s->wc[s->n].status = IBV_WC_SUCCESS;
		s->wc[s->n].opcode = IBV_WC_RDMA_WRITE;
		s->wc[s->n].qp_num = qpn;
		s->n++;
	}
	pthread_mutex_unlock(&s->lock);
}

static int fake_poll_cq(struct ibv_cq *cq, int num, struct ibv_wc *wc)
{
	struct scq *s = (struct scq *)cq;
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->n < num ? s->n : num;
	memcpy(wc, s->wc, (size_t)n * sizeof(*wc));
	memmove(s->wc, s->wc + n, (size_t)(s->n - n) * sizeof(*wc));
	s->n -= n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int fake_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	int n = 0;
	int err = standin_take_failure("post_send");

	for (; wr; wr = wr->next, n++) {
		/* Fail on the second WR: the first counts as posted. */
		if (err && n == 1) {
			*bad = wr;
			standin_record("post_send qpn=%u n=%d -> %d", qp->qp_num, n, err);
			return err;
		}
	}
	standin_record("post_send qpn=%u n=%d", qp->qp_num, n);
	return 0;
}

/* ---- rate limits per provider ------------------------------------------------- */

/* What the stand-in NICs pace per QP, in kbit/s (ibv_devinfo -v:
 * qp_rate_limit_min/max); a nonzero rate outside is refused. */
#define STANDIN_RATE_MIN_KBPS 1000u
#define STANDIN_RATE_MAX_KBPS 100000000u

static int standin_query_device_ex(struct ibv_context *ctx,
				   const struct ibv_query_device_ex_input *input,
				   struct ibv_device_attr_ex *attr, size_t attr_size)
{
	(void)input;
	if (attr_size < sizeof(*attr))
		return EINVAL;
	memset(attr, 0, attr_size);
	attr->packet_pacing_caps.qp_rate_limit_min = STANDIN_RATE_MIN_KBPS;
	attr->packet_pacing_caps.qp_rate_limit_max = STANDIN_RATE_MAX_KBPS;
	standin_record("query_device_ex dev=%s", ctx->device->name);
	return 0;
}

static bool rate_outside_caps(uint32_t kbps)
{
	return kbps && (kbps < STANDIN_RATE_MIN_KBPS || kbps > STANDIN_RATE_MAX_KBPS);
}

static int mlx5_rate_limit(struct ibv_qp *qp, struct ibv_qp_rate_limit_attr *a)
{
	int err = standin_take_failure("rate_limit");

	if (!err && qp->qp_type != IBV_QPT_RAW_PACKET)
		err = EOPNOTSUPP;
	if (!err && rate_outside_caps(a->rate_limit))
		err = EINVAL;
	standin_record("rate_limit dev=%s qpn=%u kbps=%u -> %d", qp->context->device->name,
		       qp->qp_num, a->rate_limit, err);
	return err;
}

static int bnxt_rate_limit(struct ibv_qp *qp, struct ibv_qp_rate_limit_attr *a)
{
	int err = standin_take_failure("rate_limit");

	/* rdma-core's bnxt_re: RTR or RTS only; no burst or packet size. */
	if (!err && (qp->state != IBV_QPS_RTR && qp->state != IBV_QPS_RTS))
		err = EINVAL;
	if (!err && rate_outside_caps(a->rate_limit))
		err = EINVAL;
	if (!err && (a->max_burst_sz || a->typical_pkt_sz || a->comp_mask))
		err = EINVAL;
	standin_record("rate_limit dev=%s qpn=%u kbps=%u -> %d", qp->context->device->name,
		       qp->qp_num, a->rate_limit, err);
	return err;
}

EXPORT struct ibv_context *ibv_open_device(struct ibv_device *dev)
{
	struct verbs_context *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->sz = sizeof(*v);
	v->context.abi_compat = __VERBS_ABI_IS_EXTENDED;
	v->context.device = dev;
	v->context.ops.post_send = fake_post_send;
	v->context.ops.poll_cq = fake_poll_cq;
	if (!strncmp(dev->name, "mlx5", 4))
		v->modify_qp_rate_limit = mlx5_rate_limit;
	else if (!strncmp(dev->name, "bnxt_re", 7))
		v->modify_qp_rate_limit = bnxt_rate_limit;
	if (v->modify_qp_rate_limit)
		v->query_device_ex = standin_query_device_ex;
	/* irdma: no op; the inline returns EOPNOTSUPP. */
	pthread_mutex_init(&v->context.mutex, NULL);
	standin_record("open_device %s", dev->name);
	return &v->context;
}

EXPORT int ibv_close_device(struct ibv_context *ctx)
{
	free((char *)ctx - offsetof(struct verbs_context, context));
	return 0;
}

EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *ctx)
{
	struct ibv_pd *pd = calloc(1, sizeof(*pd));

	if (pd)
		pd->context = ctx;
	return pd;
}

EXPORT int ibv_dealloc_pd(struct ibv_pd *pd)
{
	free(pd);
	return 0;
}

EXPORT struct ibv_cq *ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_context,
				    struct ibv_comp_channel *channel, int comp_vector)
{
	struct scq *s = calloc(1, sizeof(*s));

	(void)cq_context;
	(void)channel;
	(void)comp_vector;
	if (!s)
		return NULL;
	s->cq.context = ctx;
	s->cq.cqe = cqe;
	pthread_mutex_init(&s->lock, NULL);
	return &s->cq;
}

EXPORT int ibv_destroy_cq(struct ibv_cq *cq)
{
	free(cq);
	return 0;
}

EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	struct ibv_qp *qp = calloc(1, sizeof(*qp));

	if (!qp)
		return NULL;
	qp->context = pd->context;
	qp->pd = pd;
	qp->send_cq = attr->send_cq;
	qp->recv_cq = attr->recv_cq;
	qp->qp_type = attr->qp_type;
	qp->state = IBV_QPS_RESET;
	pthread_mutex_lock(&g_lock);
	qp->qp_num = g_next_qpn++;
	pthread_mutex_unlock(&g_lock);
	standin_record("create_qp dev=%s qpn=%u type=%d", pd->context->device->name, qp->qp_num,
		       attr->qp_type);
	return qp;
}

EXPORT int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	int err = standin_take_failure("modify_qp");

	if (err)
		return err;
	if (mask & IBV_QP_STATE)
		qp->state = attr->qp_state;
	standin_record("modify_qp qpn=%u state=%d", qp->qp_num, qp->state);
	return 0;
}

EXPORT int ibv_destroy_qp(struct ibv_qp *qp)
{
	standin_record("destroy_qp qpn=%u", qp->qp_num);
	free(qp);
	return 0;
}
