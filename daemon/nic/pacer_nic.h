/* SPDX-License-Identifier: MIT */
/*
 * The back ends for real NICs, behind daemon/pacer.h's ops table:
 *
 *   qp   per-QP rates through the in-process agent (agent/), which owns
 *        the QPs; a pair's rate is split among its QPs by their demand.
 *   dcb  per traffic class maximum rates through DCB netlink; a job's
 *        class is capped at the sum of the job's pair rates on the port.
 *
 * Both need a little configuration beyond the ports, given between
 * tita_pacer_new() and ops->init().
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

/* dcb: the traffic class (0..7) of a job, or -1 when the job has none
 * (its rates cannot be programmed with this back end). */
typedef int (*tita_dcb_tc_of_job_fn)(uint32_t job_id, void *ctx);

struct tita_pacer_dcb_conf {
	tita_dcb_tc_of_job_fn tc_of_job;
	void *ctx;
};

/* 0, or -ENOMEM. Call before init; without it every job maps to no class. */
int tita_pacer_dcb_configure(struct tita_pacer *p, const struct tita_pacer_dcb_conf *conf);
/* The rate programmed on a port's class, kbit/s (0: no limit). */
uint64_t tita_pacer_dcb_tc_kbps(const struct tita_pacer *p, uint32_t port, int tc);

/* qp: a QP's job from its owner's PID (titad maps cgroups to job ids). */
typedef uint32_t (*tita_qp_job_of_pid_fn)(pid_t pid, void *ctx);

struct tita_pacer_qp_conf {
	char socket_path[108]; /* the agents connect here */
	char sysfs_root[256]; /* GID → netdev lookups ("/sys") */
	gid_t socket_gid; /* (gid_t)-1: leave the group alone */
	uint32_t socket_mode; /* e.g. 0666: every job's processes connect */
	tita_qp_job_of_pid_fn job_of_pid;
	void *ctx;
	/* How long an agent may hold a source port change for its QP to
	 * drain (SET_SPORT's max_wait_ms); 0: 1000 ms. */
	uint32_t sport_max_wait_ms;
};

int tita_pacer_qp_configure(struct tita_pacer *p, const struct tita_pacer_qp_conf *conf);
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
typedef void (*tita_qp_tx_sample_fn)(const struct tita_tx_sample *s, void *ctx);
size_t tita_pacer_qp_tx_samples(struct tita_pacer *p, uint64_t now_ns, tita_qp_tx_sample_fn fn,
				void *ctx);

/* The bytes agents reported posted so far for a pair's QPs that are still
 * registered. */
uint64_t tita_pacer_qp_pair_bytes(const struct tita_pacer *p, const struct tita_addr *local,
				  const struct tita_addr *remote, uint32_t job_id);

/*
 * A TX pair's path (tita_ctl_pop_path()): its QPs take the UDP source port
 * u->sport. Every QP of the pair (u->local's port, u->remote, u->job_id)
 * that the agents registered in RTR or RTS is sent SET_SPORT; one that gets
 * there later is sent it then, and so is one registered again with another
 * port. A newer path for the pair replaces one under way. 0 (the move is
 * under way, or done already: nothing to move), -ENOENT (u->local is no
 * port), -EINVAL (port 0), -ENOMEM.
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

struct tita_pacer_qp_stats {
	uint32_t agents, qps, qps_paced;
	uint64_t commands_sent, command_errors, protocol_errors;
	/* Paths: SET_SPORTs sent, their failures, moves done or failed, and
	 * moves under way now. */
	uint64_t sport_commands, sport_errors, paths_applied, paths_failed;
	uint32_t paths_pending;
};
void tita_pacer_qp_stats(const struct tita_pacer *p, struct tita_pacer_qp_stats *ret);

#endif /* TITA_PACER_NIC_H */
