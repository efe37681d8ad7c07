/* SPDX-License-Identifier: MIT */
/*
 * Pacing back ends behind one ops table, the way the kernel plugs in
 * congestion-control algorithms: titad hands each rate the controller pops
 * (per local NIC, remote NIC and job) to the back end in use, which
 * programs it with the knob it owns:
 *
 *   tc       HTB classes per destination on the egress netdev (pacer_tc.c)
 *   dry-run  nothing; keeps and exports what it would program
 *   qp       per-QP limits through the in-process agents (nic/pacer_qp.c)
 *   dcb      per traffic class maximum rates through DCB netlink
 *            (nic/pacer_dcb.c)
 *
 * The key is the controller's pair (local, remote, job); a back end coarser
 * than that (tc: per destination; dcb: per job class) folds pairs together
 * itself. Tests swap in a recording back end.
 *
 * A back end may be a sensor as well as an actuator: the qp back end's
 * agents count what hardware RoCE sends, which the eBPF datapath never
 * sees. The optional sensor ops say so, and titad calls them whatever the
 * back end is.
 */
#ifndef TITAD_PACER_H
#define TITAD_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tita/ctl.h"
#include "tita/types.h"

struct tita_bpf;

/* A local NIC as the back ends see it. */
struct tita_pacer_port {
	char ifname[16];
	int ifindex;
	struct tita_addr addr;
	uint64_t line_rate_bps;
	struct tita_bpf *bpf; /* the datapath on it (tc classifies through it); may be NULL */
};

/* One programmed rate, for titactl, metrics and tests. */
struct tita_pacer_rule {
	struct tita_addr local, remote;
	uint32_t job_id;
	uint64_t rate_bps;
	uint32_t handle; /* back-end specific (tc: the HTB class id) */
	/* The unscheduled bytes it was last given to let go before rate_bps
	 * (set_rate_after; 0 once a plain rate followed). */
	uint64_t unsched_bytes;
};

struct tita_pacer_stats {
	uint64_t set_ok, set_failed;
	uint64_t clear_ok, clear_failed;
	/* Updates with unscheduled bytes: given to the back end, or not (it
	 * has no set_rate_after: the rate alone was programmed). */
	uint64_t unsched_ok, unsched_unsupported;
};

/* A back end with in-process agents (qp): what they are doing. */
struct tita_pacer_agent_stats {
	uint32_t agents, qps, qps_paced;
	uint64_t commands_sent, command_errors, protocol_errors;
	/* Rate commands that carried a message's unscheduled bytes. */
	uint64_t unsched_commands;
	/* Past a bound (agents per uid or in all, QPs per uid or in all). */
	uint64_t agents_refused, qps_refused;
	/* Paths: SET_SPORTs sent, their failures, moves done or failed, and
	 * moves under way now. */
	uint64_t sport_commands, sport_errors, paths_applied, paths_failed;
	uint32_t paths_pending;
};

/*
 * What a back end may need from titad beyond its ports, given to
 * tita_pacer_new() and copied. Zeroed fields take the defaults.
 */
struct tita_pacer_env {
	/* qp: where the agents connect ("" : TITA_AGENT_SOCKET_DEFAULT), the
	 * socket's mode (0: 0666, every job's processes connect) and group
	 * (0: leave it), and the sysfs tree of the GID tables ("": /sys). */
	char agent_socket[108];
	uint32_t agent_socket_mode;
	gid_t agent_socket_gid;
	char sysfs_root[256];
	/* qp: what one local user (uid) may have titad hold, and all of them:
	 * connected agents per uid, QPs per uid, QPs in all (0: the
	 * defaults, 64, 16384 and 65536). */
	uint32_t agents_per_uid, agent_qps_per_uid, agent_qps;
	/* qp: how long an agent may hold a QP's source port change for it to
	 * drain (SET_SPORT's max_wait_ms); 0: 1000 ms. */
	uint32_t sport_max_wait_ms;
	/* qp: a QP owner's job id from its PID (titad maps cgroups to jobs);
	 * NULL: no job. dcb: the traffic class (0..7) of a job, or -1 when it
	 * has none; NULL: none has. */
	/* tc: the kernel-side state (the class map's entries) expires this
	 * long after the pacer last renewed it, so that pacing stops by
	 * itself when titad is gone (kill -9); 0: never. titad gives the
	 * grant TTL. */
	uint64_t rule_ttl_ns;
	uint32_t (*job_of_pid)(pid_t pid, void *ctx);
	int (*tc_of_job)(uint32_t job_id, void *ctx);
	void *ctx;
};

struct tita_pacer;

/* A sender-side sample from a back end's sensor, as tita_ctl_tx_sample()
 * takes it. */
typedef void (*tita_pacer_sample_fn)(const struct tita_tx_sample *s, void *ctx);

struct tita_pacer_ops {
	const char *name;
	/* Take over the ports: set up what the back end needs and remove what
	 * a previous titad left behind after a crash. 0 or -errno; err gets a
	 * one-line reason naming the object. */
	int (*init)(struct tita_pacer *p, char *err, size_t err_size);
	/* Pace the pair at rate_bps (> 0), creating or changing its rule in
	 * place. 0 or -errno. */
	int (*set_rate)(struct tita_pacer *p, const struct tita_addr *local,
			const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps);
	/* Optional: as set_rate, but the pair's next unsched_bytes (> 0), as
	 * the back end counts them from now on, go unpaced first, and rate_bps
	 * applies after them: a message's unscheduled first bytes (struct
	 * tita_rate_update). A later set_rate ends what is left of them. NULL:
	 * the back end cannot say it (titad programs rate_bps alone). */
	int (*set_rate_after)(struct tita_pacer *p, const struct tita_addr *local,
			      const struct tita_addr *remote, uint32_t job_id,
			      uint64_t unsched_bytes, uint64_t rate_bps);
	/* Stop pacing the pair (fail-open). 0, or -errno; -ENOENT when it had
	 * no rule. */
	int (*clear)(struct tita_pacer *p, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id);
	/* Remove everything the back end installed. Never fails half-way: it
	 * attempts every removal and returns the first error. */
	int (*cleanup)(struct tita_pacer *p);
	/* Bytes queued behind the pair's rule: the sender's demand signal (a
	 * paced pair with a queue wants more than its rate). A back end may
	 * read all its queues at once the first time it is asked at a given
	 * now_ns. 0 or -errno; -ENOENT when the pair has no rule. NULL where
	 * the back end holds no queue. */
	int (*backlog)(struct tita_pacer *p, const struct tita_addr *local,
		       const struct tita_addr *remote, uint64_t now_ns, uint64_t *ret_bytes);
	/* The rules in force: fills up to max, returns how many exist. */
	size_t (*describe)(const struct tita_pacer *p, struct tita_pacer_rule *out, size_t max);
	void (*free)(struct tita_pacer *p);

	/* The sensor role; each may be NULL. */
	/* A descriptor to watch: readable means process() has work. -1: none. */
	int (*fd)(const struct tita_pacer *p);
	/* Non-blocking work (agents' messages, rate commands): when fd is
	 * readable, and once per control pass. */
	void (*process)(struct tita_pacer *p, uint64_t now_ns);
	/* Once per control pass, after process() at the same now_ns: the
	 * sender's samples of the pairs it measures. Returns how many. */
	size_t (*tx_samples)(struct tita_pacer *p, uint64_t now_ns, tita_pacer_sample_fn fn,
			     void *ctx);
	/* Its samples cover this pair: the datapath's view of the same bytes
	 * must not be counted as well. */
	bool (*measures)(const struct tita_pacer *p, const struct tita_addr *local,
			 const struct tita_addr *remote, uint32_t job_id);
	/* Agents connected and what they did; false: the back end has none. */
	bool (*agent_stats)(const struct tita_pacer *p, struct tita_pacer_agent_stats *ret);
	/* Renew kernel-side state that expires (env.rule_ttl_ns) before it
	 * does. May be NULL. */
	void (*keepalive)(struct tita_pacer *p, uint64_t now_ns);
	/* Port i is back (its device up again, or created again with a new
	 * ifindex in ports[i]): set up what the back end needs on it, as
	 * init did. May be NULL. 0 or -errno with err. */
	int (*take_port)(struct tita_pacer *p, uint32_t i, char *err, size_t err_size);

	/* The path role: a TX pair's traffic takes another UDP source port
	 * (the fabric's ECMP path). NULL where the back end cannot move
	 * traffic (the pair then stays wherever the hash put it). set_path:
	 * 0, or -errno; pop_path: a move that is done (err 0) or failed. */
	int (*set_path)(struct tita_pacer *p, const struct tita_path_update *u, uint64_t now_ns);
	bool (*pop_path)(struct tita_pacer *p, struct tita_path_update *ret_u, int *ret_err);
};

struct tita_pacer {
	const struct tita_pacer_ops *ops;
	uint32_t n_ports;
	struct tita_pacer_port *ports;
	struct tita_pacer_stats stats;
	struct tita_pacer_env env;
	uint64_t now_ns; /* of the latest tita_pacer_keepalive() */
	void *priv;
};

extern const struct tita_pacer_ops tita_pacer_tc_ops;
extern const struct tita_pacer_ops tita_pacer_dryrun_ops;

/* The back end's state for these ports; init is not called yet. NULL with
 * errno. ports and env (NULL: defaults) are copied. */
struct tita_pacer *tita_pacer_new(const struct tita_pacer_ops *ops,
				  const struct tita_pacer_port *ports, uint32_t n_ports,
				  const struct tita_pacer_env *env);
/* Frees; does not clean up (call ops->cleanup first). Accepts NULL. */
struct tita_pacer *tita_pacer_free(struct tita_pacer *p);

/* Apply one controller update: set_rate, or clear for TITA_RATE_UNPACED;
 * counts the result. */
int tita_pacer_apply(struct tita_pacer *p, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps);

/*
 * Apply one update as the controller pops it, its rate already mapped by
 * titad's fail-open policy (rate_bps): with its unscheduled bytes through
 * set_rate_after where the back end has it, else as tita_pacer_apply().
 * Counts the result.
 */
int tita_pacer_apply_update(struct tita_pacer *p, const struct tita_rate_update *u,
			    uint64_t rate_bps);

/*
 * The controller's parameters as this back end can carry them: one without
 * set_rate_after cannot let a message's first bytes go unpaced, so none go
 * unscheduled (unsched_ns and unsched_short_ns 0). Otherwise those bytes
 * would go at the start rate, a short message would wait at it for good
 * (it asks for no grant), and receivers would hold their senders for
 * bursts that never came. True when it changed *p.
 */
bool tita_pacer_fit_params(const struct tita_pacer_ops *ops, struct tita_ctl_params *p);

/* Once per wake-up that applies rates, before them: the time the rules
 * set next are stamped with (their expiry), and the back end's keepalive. */
void tita_pacer_keepalive(struct tita_pacer *p, uint64_t now_ns);

/*
 * A port's device went down or away: every rule on it is cleared (errors
 * from a device that is gone are expected and not counted), so that its
 * pairs run unpaced. tita_pacer_port_up() takes it over again (a new
 * ifindex and datapath handle when the device was created again); the
 * caller then applies the port's rates anew.
 */
void tita_pacer_port_down(struct tita_pacer *p, uint32_t i);
int tita_pacer_port_up(struct tita_pacer *p, uint32_t i, int ifindex, struct tita_bpf *bpf,
		       char *err, size_t err_size);

/* The port of a local address, or NULL. */
const struct tita_pacer_port *tita_pacer_port(const struct tita_pacer *p,
					      const struct tita_addr *local);
/* Its index, or -1. */
int tita_pacer_port_index(const struct tita_pacer *p, const struct tita_addr *local);

/* A small table of rules keyed by (local, remote, job), shared by back ends
 * that keep their own record (dry-run, tc). */
struct tita_rule_table {
	size_t n, cap;
	struct tita_pacer_rule *rules;
};

struct tita_pacer_rule *tita_rule_find(struct tita_rule_table *t, const struct tita_addr *local,
				       const struct tita_addr *remote, uint32_t job_id);
/* NULL with errno (ENOMEM). */
struct tita_pacer_rule *tita_rule_add(struct tita_rule_table *t, const struct tita_addr *local,
				      const struct tita_addr *remote, uint32_t job_id);
void tita_rule_del(struct tita_rule_table *t, struct tita_pacer_rule *r);
void tita_rule_table_free(struct tita_rule_table *t);

/*
 * The update rule of back ends that program what several rules fold into
 * (tc: a destination's class at the sum of its jobs' rates; dcb: a traffic
 * class; qp: a pair's rate split among its QPs): find or add the rule of
 * (local, remote, job), set its rate, its unscheduled bytes (0 here: a
 * plain rate ends what is left of them) and handle, then sync (may be NULL)
 * programs the result. When sync fails the table is as it was before: an
 * added rule goes, a changed one gets its old rate, bytes and handle back.
 * 0, -ENOMEM, or sync's -errno.
 */
typedef int (*tita_rule_sync_fn)(struct tita_pacer *p, const struct tita_pacer_rule *rule);
int tita_rule_apply(struct tita_pacer *p, struct tita_rule_table *t, const struct tita_addr *local,
		    const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps,
		    uint32_t handle, tita_rule_sync_fn sync);
/* The same for set_rate_after: the pair's next unsched_bytes go unpaced,
 * then rate_bps. */
int tita_rule_apply_after(struct tita_pacer *p, struct tita_rule_table *t,
			  const struct tita_addr *local, const struct tita_addr *remote,
			  uint32_t job_id, uint64_t unsched_bytes, uint64_t rate_bps,
			  uint32_t handle, tita_rule_sync_fn sync);
/* Remove the rule, then sync (may be NULL) programs what is left, given a
 * copy of the removed rule with rate_bps 0. -ENOENT when there is none,
 * else sync's result. */
int tita_rule_remove(struct tita_pacer *p, struct tita_rule_table *t, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id, tita_rule_sync_fn sync);

#endif /* TITAD_PACER_H */
