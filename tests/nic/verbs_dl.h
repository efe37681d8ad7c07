/* SPDX-License-Identifier: MIT */
/*
 * The nic tests that play the application (test_agent.c, test_agent_fork.c,
 * qp-app.c) load libibverbs as NCCL's ibvsymbols.cc does: dlopen
 * "libibverbs.so", else "libibverbs.so.1", then every verb through
 * dlvsym(h, name, "IBVERBS_1.1"), which is the call the preloaded agent
 * interposes. Run with LD_LIBRARY_PATH at the stand-in (agent/standin), they
 * get it, and its own hooks through plain dlsym.
 */
#ifndef TITA_TESTS_NIC_VERBS_DL_H
#define TITA_TESTS_NIC_VERBS_DL_H

#include <dlfcn.h>
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "standin.h"

struct verbs_dl {
	void *h;
	struct ibv_device **(*get_device_list)(int *);
	struct ibv_context *(*open_device)(struct ibv_device *);
	int (*close_device)(struct ibv_context *);
	struct ibv_pd *(*alloc_pd)(struct ibv_context *);
	int (*dealloc_pd)(struct ibv_pd *);
	struct ibv_cq *(*create_cq)(struct ibv_context *, int, void *, struct ibv_comp_channel *,
				    int);
	int (*destroy_cq)(struct ibv_cq *);
	struct ibv_qp *(*create_qp)(struct ibv_pd *, struct ibv_qp_init_attr *);
	int (*modify_qp)(struct ibv_qp *, struct ibv_qp_attr *, int);
	int (*destroy_qp)(struct ibv_qp *);
	/* The stand-in's own hooks. */
	standin_log_fn slog;
	standin_log_clear_fn slog_clear;
	standin_fail_next_fn sfail;
	standin_complete_fn scomplete;
};

/* Once *err is set, nothing more is looked up. */
static inline void *verbs_dl_sym(void *h, const char *name, const char *ver, const char **err)
{
	static char buf[256];
	void *p;

	if (*err)
		return NULL;
	p = ver ? dlvsym(h, name, ver) : dlsym(h, name);
	if (!p) {
		snprintf(buf, sizeof(buf), "%s: %s", name, dlerror());
		*err = buf;
	}
	return p;
}

/* Open libibverbs as NCCL does and resolve all of *v: NULL, or what
 * failed ("dlopen: ...", "<symbol>: ..."), for the caller to report. */
static inline const char *verbs_dl_open(struct verbs_dl *v)
{
	static char buf[256];
	const char *err = NULL;
	void *h;

	h = dlopen("libibverbs.so", RTLD_NOW);
	if (!h)
		h = dlopen("libibverbs.so.1", RTLD_NOW);
	if (!h) {
		snprintf(buf, sizeof(buf), "dlopen: %s", dlerror());
		return buf;
	}
	v->h = h;
	v->slog = (standin_log_fn)verbs_dl_sym(h, "standin_log", NULL, &err);
	v->slog_clear = (standin_log_clear_fn)verbs_dl_sym(h, "standin_log_clear", NULL, &err);
	v->sfail = (standin_fail_next_fn)verbs_dl_sym(h, "standin_fail_next", NULL, &err);
	v->scomplete = (standin_complete_fn)verbs_dl_sym(h, "standin_complete", NULL, &err);
	v->get_device_list = verbs_dl_sym(h, "ibv_get_device_list", "IBVERBS_1.1", &err);
	v->open_device = verbs_dl_sym(h, "ibv_open_device", "IBVERBS_1.1", &err);
	v->alloc_pd = verbs_dl_sym(h, "ibv_alloc_pd", "IBVERBS_1.1", &err);
	v->create_cq = verbs_dl_sym(h, "ibv_create_cq", "IBVERBS_1.1", &err);
	v->create_qp = verbs_dl_sym(h, "ibv_create_qp", "IBVERBS_1.1", &err);
	v->modify_qp = verbs_dl_sym(h, "ibv_modify_qp", "IBVERBS_1.1", &err);
	v->destroy_qp = verbs_dl_sym(h, "ibv_destroy_qp", "IBVERBS_1.1", &err);
	v->destroy_cq = verbs_dl_sym(h, "ibv_destroy_cq", "IBVERBS_1.1", &err);
	v->dealloc_pd = verbs_dl_sym(h, "ibv_dealloc_pd", "IBVERBS_1.1", &err);
	v->close_device = verbs_dl_sym(h, "ibv_close_device", "IBVERBS_1.1", &err);
	return err;
}

/* Post one signalled RDMA write of bytes on qp, have the stand-in complete
 * it on cq, and poll that completion through the inline verbs (the context
 * ops the agent chains): NULL, or the first step that failed ("post_send",
 * "poll_cq"). */
static inline const char *verbs_dl_write(const struct verbs_dl *v, struct ibv_cq *cq,
					 struct ibv_qp *qp, uint32_t bytes, uint64_t wr_id)
{
	struct ibv_sge sg = { .length = bytes };
	struct ibv_send_wr w = { .wr_id = wr_id,
				 .sg_list = &sg,
				 .num_sge = 1,
				 .opcode = IBV_WR_RDMA_WRITE,
				 .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad = NULL;
	struct ibv_wc wc[2];
	const char *err = NULL;

	if (ibv_post_send(qp, &w, &bad) != 0)
		err = "post_send";
	v->scomplete(cq, qp->qp_num, wr_id);
	if (!(ibv_poll_cq(cq, 2, wc) == 1 && wc[0].wr_id == wr_id) && !err)
		err = "poll_cq";
	return err;
}

/* A stand-in device opened with a PD and a CQ. */
struct verbs_dl_dev {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
};

/* Open device index of the stand-in's list: NULL, or what failed. */
static inline const char *verbs_dl_dev_open(const struct verbs_dl *v, int index,
					    struct verbs_dl_dev *d)
{
	struct ibv_device **devs = v->get_device_list(NULL);

	if (!devs || !devs[index])
		return "get_device_list";
	d->ctx = v->open_device(devs[index]);
	d->pd = d->ctx ? v->alloc_pd(d->ctx) : NULL;
	d->cq = d->ctx ? v->create_cq(d->ctx, 64, NULL, NULL, 0) : NULL;
	return d->ctx && d->pd && d->cq ? NULL : "open_device";
}

/*
 * Take an RC QP from state `from` (RESET or INIT) up to `upto` (INIT, RTR
 * or RTS) on port 1, connected to dest_qpn at ::ffff:10.0.0.2 from GID
 * index 3, as an application connects it: NULL, or the step that failed.
 */
static inline const char *verbs_dl_rc_connect(const struct verbs_dl *v, struct ibv_qp *qp,
					      enum ibv_qp_state from, enum ibv_qp_state upto,
					      uint32_t dest_qpn)
{
	struct ibv_qp_attr a;

	if (from == IBV_QPS_RESET) {
		memset(&a, 0, sizeof(a));
		a.qp_state = IBV_QPS_INIT;
		a.port_num = 1;
		if (v->modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT))
			return "to INIT";
	}
	if (upto == IBV_QPS_INIT)
		return NULL;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.dest_qp_num = dest_qpn;
	a.ah_attr.is_global = 1;
	a.ah_attr.port_num = 1;
	a.ah_attr.grh.sgid_index = 3;
	/* RoCEv2 over IPv4: ::ffff:10.0.0.2 */
	a.ah_attr.grh.dgid.raw[10] = 0xff;
	a.ah_attr.grh.dgid.raw[11] = 0xff;
	a.ah_attr.grh.dgid.raw[12] = 10;
	a.ah_attr.grh.dgid.raw[15] = 2;
	if (v->modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_DEST_QPN))
		return "to RTR";
	if (upto == IBV_QPS_RTR)
		return NULL;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	return v->modify_qp(qp, &a, IBV_QP_STATE) ? "to RTS" : NULL;
}

/* A new RC QP on d, up to upto as verbs_dl_rc_connect(): the QP, or NULL
 * with *ret_err set. */
static inline struct ibv_qp *verbs_dl_rc_qp(const struct verbs_dl *v, struct verbs_dl_dev *d,
					    enum ibv_qp_state upto, const char **ret_err)
{
	struct ibv_qp_init_attr ia = { .send_cq = d->cq, .recv_cq = d->cq, .qp_type = IBV_QPT_RC };
	struct ibv_qp *qp = v->create_qp(d->pd, &ia);

	*ret_err = qp ? verbs_dl_rc_connect(v, qp, IBV_QPS_RESET, upto, 0x777) : "create_qp";
	return *ret_err ? NULL : qp;
}

#endif /* TITA_TESTS_NIC_VERBS_DL_H */
