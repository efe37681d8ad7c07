/* SPDX-License-Identifier: MIT */
/*
 * Test-only stand-ins for libibverbs.so.1 and libmlx5.so.1: the same
 * sonames and symbol versions (IBVERBS_1.1, MLX5_1.17), found through
 * LD_LIBRARY_PATH ahead of the real ones, so a test application loads them
 * with dlopen/dlvsym exactly as NCCL loads the real libraries. They own no
 * hardware: they keep QP state, record every call that matters in a log
 * the test reads, and fail on request.
 *
 * Devices and the provider each one imitates:
 *   mlx5_0    modify_qp_rate_limit only for RAW_PACKET (EOPNOTSUPP for RC),
 *             scheduling elements and mlx5dv_modify_qp_udp_sport (RC/UC in
 *             RTS, as rdma-core's) in the stand-in libmlx5
 *   bnxt_re0  rate limits for RC in RTR/RTS (EINVAL before, and for a
 *             nonzero burst or packet size)
 *   irdma0    no modify_qp_rate_limit op at all (the inline returns
 *             EOPNOTSUPP)
 */
#ifndef TITA_STANDIN_H
#define TITA_STANDIN_H

#include <stdint.h>

struct ibv_cq;

/* Control interface, resolved by tests with dlsym(). */
typedef const char *(*standin_log_fn)(void);
typedef void (*standin_log_clear_fn)(void);
/* The next call of op ("rate_limit", "leaf_create", "qp_sched_elem",
 * "udp_sport", ...)
 * fails with err (a positive errno). */
typedef void (*standin_fail_next_fn)(const char *op, int err);
/* Queue a send completion for (qpn, wr_id) on cq. */
typedef void (*standin_complete_fn)(struct ibv_cq *cq, uint32_t qpn, uint64_t wr_id);

#endif /* TITA_STANDIN_H */
