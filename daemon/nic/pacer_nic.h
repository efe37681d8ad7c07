/* SPDX-License-Identifier: MIT */
/*
 * The back ends for real NICs, behind daemon/pacer.h's ops table:
 *
 *   qp   per-QP rates through the in-process agent (agent/), which owns
 *        the QPs; a pair's rate is split among its QPs by their demand.
 *   dcb  per traffic class maximum rates through DCB netlink; a job's
 *        class is capped at the sum of the job's pair rates on the port.
 *
 * What they need beyond the ports comes in struct tita_pacer_env: the
 * agents' socket, a QP owner's job (qp); a job's traffic class (dcb).
 */
#ifndef TITA_PACER_NIC_H
#define TITA_PACER_NIC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pacer.h"
#include "tita/ctl.h"

extern const struct tita_pacer_ops tita_pacer_qp_ops;
extern const struct tita_pacer_ops tita_pacer_dcb_ops;

/* The rate programmed on a port's class, kbit/s (0: no limit). */
uint64_t tita_pacer_dcb_tc_kbps(const struct tita_pacer *p, uint32_t port, int tc);

/* qp: the agents' socket and their work, as the sensor ops of
 * tita_pacer_qp_ops call them (exposed for tests). */
/* The listening socket and each agent connection: titad polls this fd
 * (readable) and then calls tita_pacer_qp_process(). -1 before init. */
int tita_pacer_qp_fd(const struct tita_pacer *p);
/* Accept agents, read their messages, send rate commands: non-blocking,
 * call when the fd is readable and once per control interval. */
void tita_pacer_qp_process(struct tita_pacer *p, uint64_t now_ns);

/*
 * The agents' counters as the controller's sender-side samples (hardware
 * RoCE, where the datapath sees nothing). Call once per control interval,
 * after tita_pacer_qp_process() at the same now_ns: for every (local,
 * remote, job) pair that has agent QPs, or had one since the last call,
 * fn gets one sample covering the time since the pair's previous one (or
 * since its first QP was registered with that route):
 *
 *   tx_bytes       bytes its QPs completed in that time, those of QPs
 *                  destroyed or of agents gone meanwhile included
 *   backlog_bytes  bytes posted and not completed yet, now
 *   interval_ns    now_ns - the pair's previous sample
 *   cnp_packets    0: CNPs never reach the verbs an agent sees
 *
 * QPs whose local port or remote GID is not known yet belong to no pair.
 * A pair is skipped while now_ns is not past its previous sample. Returns
 * the number of samples delivered.
 */
size_t tita_pacer_qp_tx_samples(struct tita_pacer *p, uint64_t now_ns, tita_pacer_sample_fn fn,
				void *ctx);

/* The bytes agents reported posted so far for a pair's QPs that are still
 * registered. */
uint64_t tita_pacer_qp_pair_bytes(const struct tita_pacer *p, const struct tita_addr *local,
				  const struct tita_addr *remote, uint32_t job_id);

void tita_pacer_qp_stats(const struct tita_pacer *p, struct tita_pacer_agent_stats *ret);

/*
 * A TX pair's path (tita_ctl_pop_path()): its QPs take the UDP source port
 * u->sport. Every QP of the pair (u->local's port, u->remote, u->job_id)
 * that the agents registered in RTR or RTS is sent SET_SPORT; one that gets
 * there later is sent it then, and so is one registered again with another
 * port. A newer path for the pair replaces one under way (which is not
 * reported). 0 (the move is under way, or done already: nothing to move),
 * -ENOENT (u->local is no port), -EINVAL (port 0), -ENOMEM, -ENOSPC (too
 * many pairs without QPs keep a path).
 */
int tita_pacer_qp_set_path(struct tita_pacer *p, const struct tita_path_update *u, uint64_t now_ns);

/*
 * A move that is done: err 0 when every QP of the pair sends from the new
 * port (then tell the controller, tita_ctl_path_applied()), or the first
 * error: -EOPNOTSUPP (a QP the agent cannot move: not mlx5, not RC/UC),
 * -ETIMEDOUT (a QP did not drain within sport_max_wait_ms, or its agent
 * did not answer), -EAGAIN (an agent's socket was full), or the
 * provider's. QPs destroyed meanwhile do not count. false when none is done.
 */
bool tita_pacer_qp_pop_path(struct tita_pacer *p, struct tita_path_update *ret_u, int *ret_err);

#endif /* TITA_PACER_NIC_H */
