/* SPDX-License-Identifier: MIT */
/*
 * The engine: the one owner of the controller (lib/), the pacer and the
 * job table, and the loop glue between them. What goes in: authenticated
 * peer messages (titad_engine_on_msg()), the control round with its
 * sensor reads (titad_engine_round()), titactl's job changes. What comes
 * out: rates into the pacer, messages to the peers (through
 * struct titad_engine_out), snapshots for titactl and the metrics.
 *
 * Every entry point takes the event loop's now_ns; the engine reads no
 * clock.
 */
#ifndef TITAD_ENGINE_H
#define TITAD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "hist.h"
#include "pacer.h"
#include "ports.h"
#include "qpscan.h"
#include "tita/ctl.h"

/* Jobs known by name: from [job] sections, titactl, and QP discovery. */
#define TITAD_MAX_JOBS 1024

/* Where the controller's messages go (the peers module), and who learns
 * that telemetry saw a remote host. */
struct titad_engine_out {
	void (*send)(void *ctx, const struct tita_msg *m, uint64_t now_ns);
	void (*flush)(void *ctx, uint64_t now_ns);
	void (*peer_seen)(void *ctx, const struct tita_addr *remote, uint64_t now_ns);
};

/* A job as titactl shows it. */
struct titad_job_info {
	char name[TITA_JOB_NAME_MAX + 1];
	uint32_t id;
	bool in_config, set_by_ctl, discovered;
	uint32_t qps; /* on the last QP scan */
	bool has_policy; /* the controller has a policy for it */
	struct tita_job policy;
};

struct titad_engine_status {
	const char *pacer; /* the back end's name */
	struct tita_ctl_stats ctl;
	size_t n_pairs;
	struct tita_pacer_stats pacer_stats;
	uint64_t rate_errors; /* updates the pacer refused */
	struct titad_hist loop_hist; /* control passes */
	bool has_agents;
	struct tita_pacer_agent_stats agents;
	/* Jobs found on QPs that could not be added, counted per scan. */
	uint64_t jobs_full, jobs_collided;
};

struct titad_engine;

/* The fabric: what became of the controller's paths (moves to another
 * UDP source port): handed to the pacer, applied, failed (the pacer or
 * its agents could not), refused because the back end cannot move
 * traffic at all (can_move false: pairs stay where ECMP put them). */
struct titad_engine_paths {
	bool steer; /* [controller] steer */
	bool can_move;
	uint64_t started, applied, failed, unsupported;
};

/* What the leaf's leader on a port sees (n_spines 0: it does not lead). */
struct titad_engine_leader {
	struct tita_leader_stats stats;
	uint32_t n_spines;
	struct tita_leader_link up[TITA_SPINES_MAX], down[TITA_SPINES_MAX];
};

/* Where the controller's path probes go (the fabric module); its answer
 * comes back through titad_engine_probe_result(). */
typedef void (*titad_engine_probe_fn)(void *ctx, const struct tita_probe *probe, uint64_t now_ns);

/*
 * The controller with the ports' line rates, the pacer (cfg->pacer) on
 * them, and the [job] policies. The controller's parameters are cfg's as
 * the pacer can carry them (tita_pacer_fit_params(), logged when it cuts
 * unscheduled bytes). 0, or -errno with err saying what failed; on failure
 * *ret is still set, and titad_engine_close() undoes it.
 */
int titad_engine_open(struct titad_engine **ret, struct tita_event *ev,
		      const struct titad_config *cfg, struct titad_ports *ports, char *err,
		      size_t err_size);
/* Remove every pacing rule and free. Accepts NULL. */
struct titad_engine *titad_engine_close(struct titad_engine *e);
struct titad_health;
/* Feed h (kept; NULL: none) each pass with the samples the controller got
 * and its pairs. */
void titad_engine_set_health(struct titad_engine *e, struct titad_health *h);
/* End the health round now (before a health interval ends). */
void titad_engine_health_window(struct titad_engine *e, uint64_t now_ns);
/* out (kept) gets ctx. */
void titad_engine_set_out(struct titad_engine *e, const struct titad_engine_out *out, void *ctx);

/* Make and start the round timers: after the peers' sockets and timers,
 * since timers due together fire in the order they were made and a round
 * must include what a poll in the same batch read. 0 or -ENOSPC. */
int titad_engine_start(struct titad_engine *e, uint64_t now_ns);

/* An authenticated demand or grant: 1 when it created a pair (its first
 * grant is then what the demand-to-grant histogram measures), 0, or
 * -errno when the controller refused it. */
int titad_engine_on_msg(struct titad_engine *e, const struct tita_msg *m, uint64_t now_ns);
/* Run the controller's outputs: rates into the pacer, messages to the
 * peers, its timers re-armed. After anything that fed it. */
void titad_engine_kick(struct titad_engine *e, uint64_t now_ns);
/* One control pass: sensors, the controller when due, then kick. */
void titad_engine_round(struct titad_engine *e, uint64_t now_ns);
/* Port i's device went down or away (up false: its pairs run unpaced),
 * or is back with its datapath (up true: the pacer takes it again and the
 * controller's rates for it are applied anew). */
void titad_engine_port_changed(struct titad_engine *e, uint32_t i, bool up, uint64_t now_ns);
bool titad_engine_port_up(const struct titad_engine *e, uint32_t i);
/* When the controller's next round is due (for the peers' polling grid). */
uint64_t titad_engine_next_round_ns(const struct titad_engine *e);

/* A reloaded config, already checked: parameters (fitted to the running
 * pacer, as at open), line rates, job policies and selectors, fail-open.
 * 0, or -errno with err (then nothing changed, except for a job id
 * collision, reported and the rest applied: 1). */
int titad_engine_check_params(struct titad_engine *e, const struct titad_config *cfg, char *err,
			      size_t err_size);
int titad_engine_reconfigure(struct titad_engine *e, const struct titad_config *cfg, char *err,
			     size_t err_size);

/* Jobs. */
/* Set a job's policy from titactl (creating the job). 0, -EEXIST (its id
 * collides with another job's), -ENOSPC, or the controller's -errno. */
int titad_engine_job_set(struct titad_engine *e, const char *name, const struct tita_job *pol,
			 uint64_t now_ns);
/* Back to the config's policy, or none. 0 or -ENOENT (no such job). */
int titad_engine_job_clear(struct titad_engine *e, const char *name, uint64_t now_ns);
/* The controller's policy of a job, or the default one; false: none. */
bool titad_engine_job_policy(const struct titad_engine *e, uint32_t job_id, struct tita_job *ret);
bool titad_engine_job_info(const struct titad_engine *e, const char *name,
			   struct titad_job_info *ret);
size_t titad_engine_jobs(const struct titad_engine *e, struct titad_job_info *out, size_t max);
const char *titad_engine_job_name(const struct titad_engine *e, uint32_t id, char *buf,
				  size_t size);
/* The jobs a QP scan found, with their QP counts (scan: its number). */
void titad_engine_jobs_seen(struct titad_engine *e, const struct tita_qpscan_job *jobs, size_t n,
			    uint64_t scan);

/* The fabric. */
void titad_engine_set_prober(struct titad_engine *e, titad_engine_probe_fn fn, void *ctx);
/* tita_ctl_port_set_place(), tita_ctl_peer_place(), tita_ctl_probe_result(). */
int titad_engine_set_place(struct titad_engine *e, const struct tita_addr *local,
			   const struct tita_place *place, const struct tita_addr *members,
			   uint32_t n_members);
int titad_engine_peer_place(struct titad_engine *e, const struct tita_addr *remote, uint32_t leaf);
/* tita_ctl_peer_leaders(). */
int titad_engine_peer_leaders(struct titad_engine *e, const struct tita_addr *remote,
			      uint32_t leaders);
int titad_engine_probe_result(struct titad_engine *e, const struct tita_probe *probe,
			      uint16_t spine, uint64_t now_ns);
void titad_engine_leader(const struct titad_engine *e, const struct tita_addr *local,
			 struct titad_engine_leader *ret);
void titad_engine_paths(const struct titad_engine *e, struct titad_engine_paths *ret);

/* Snapshots. */
void titad_engine_status(const struct titad_engine *e, struct titad_engine_status *ret);
size_t titad_engine_n_pairs(const struct titad_engine *e);
size_t titad_engine_pairs(const struct titad_engine *e, struct tita_pair_info *out, size_t max);
size_t titad_engine_ports(const struct titad_engine *e, struct tita_port_info *out, size_t max);

#endif /* TITAD_ENGINE_H */
