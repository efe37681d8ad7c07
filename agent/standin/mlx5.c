// SPDX-License-Identifier: MIT
/*
 * Stand-in libmlx5.so.1 for the agent's tests: the scheduling-element API
 * and the UDP source port of a QP (MLX5_1.17), recording each call in the
 * stand-in libibverbs's log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <infiniband/mlx5dv.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

void standin_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int standin_take_failure(const char *op);

struct mlx5dv_sched_node {
	int id;
};

struct mlx5dv_sched_leaf {
	int id;
	uint32_t max_avg_bw;
};

static int g_next_id = 1;

EXPORT struct mlx5dv_sched_node *mlx5dv_sched_node_create(struct ibv_context *ctx,
							  const struct mlx5dv_sched_attr *attr)
{
	struct mlx5dv_sched_node *n;
	int err = standin_take_failure("node_create");

	(void)attr;
	if (err) {
		standin_record("node_create dev=%s -> %d", ctx->device->name, err);
		errno = err;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	n->id = g_next_id++;
	standin_record("node_create dev=%s id=%d", ctx->device->name, n->id);
	return n;
}

EXPORT struct mlx5dv_sched_leaf *mlx5dv_sched_leaf_create(struct ibv_context *ctx,
							  const struct mlx5dv_sched_attr *attr)
{
	struct mlx5dv_sched_leaf *l;
	int err = standin_take_failure("leaf_create");

	if (!err && !(attr->flags & MLX5DV_SCHED_ELEM_ATTR_FLAGS_MAX_AVG_BW))
		err = EINVAL;
	if (err) {
		standin_record("leaf_create dev=%s -> %d", ctx->device->name, err);
		errno = err;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	l->id = g_next_id++;
	l->max_avg_bw = attr->max_avg_bw;
	standin_record("leaf_create dev=%s id=%d parent=%d mbps=%u", ctx->device->name, l->id,
		       attr->parent ? attr->parent->id : 0, attr->max_avg_bw);
	return l;
}

EXPORT int mlx5dv_sched_node_modify(struct mlx5dv_sched_node *node,
				    const struct mlx5dv_sched_attr *attr)
{
	(void)attr;
	standin_record("node_modify id=%d", node->id);
	return 0;
}

EXPORT int mlx5dv_sched_leaf_modify(struct mlx5dv_sched_leaf *leaf,
				    const struct mlx5dv_sched_attr *attr)
{
	int err = standin_take_failure("leaf_modify");

	if (!err)
		leaf->max_avg_bw = attr->max_avg_bw;
	standin_record("leaf_modify id=%d mbps=%u -> %d", leaf->id, attr->max_avg_bw, err);
	return err;
}

EXPORT int mlx5dv_sched_node_destroy(struct mlx5dv_sched_node *node)
{
	standin_record("node_destroy id=%d", node->id);
	free(node);
	return 0;
}

EXPORT int mlx5dv_sched_leaf_destroy(struct mlx5dv_sched_leaf *leaf)
{
	standin_record("leaf_destroy id=%d", leaf->id);
	free(leaf);
	return 0;
}

EXPORT int mlx5dv_modify_qp_sched_elem(struct ibv_qp *qp, const struct mlx5dv_sched_leaf *req,
				       const struct mlx5dv_sched_leaf *resp)
{
	int err = standin_take_failure("qp_sched_elem");

	standin_record("qp_sched_elem qpn=%u req=%d resp=%d -> %d", qp->qp_num, req ? req->id : 0,
		       resp ? resp->id : 0, err);
	return err;
}

EXPORT int mlx5dv_modify_qp_udp_sport(struct ibv_qp *qp, uint16_t udp_sport)
{
	int err = standin_take_failure("udp_sport");

	/* rdma-core: RC and UC only, through an RTS→RTS modify. */
	if (!err && qp->qp_type != IBV_QPT_RC && qp->qp_type != IBV_QPT_UC)
		err = EOPNOTSUPP;
	if (!err && qp->state != IBV_QPS_RTS)
		err = EINVAL;
	standin_record("udp_sport qpn=%u sport=%u -> %d", qp->qp_num, udp_sport, err);
	return err;
}
