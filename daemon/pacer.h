/* SPDX-License-Identifier: MIT */
/*
 * Pacing back ends behind one ops table, the way the kernel plugs in
 * congestion-control algorithms: titad hands each rate the controller pops
 * (per local NIC, remote NIC and job) to the back end in use, which
 * programs it with the knob it owns:
 *
 *   tc       HTB classes per destination on the egress netdev (pacer_tc.c)
 *   dry-run  nothing; keeps and exports what it would program
 *   qp, dcb  (later) per-QP limits through the in-process agent; per
 *            traffic class maximum rates through DCB netlink
 *
 * The key is the controller's pair (local, remote, job); a back end coarser
 * than that (tc: per destination; dcb: per job class) folds pairs together
 * itself. Tests swap in a recording back end.
 */
#ifndef TITAD_PACER_H
#define TITAD_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct tita_pacer;

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
};

struct tita_pacer {
	const struct tita_pacer_ops *ops;
	uint32_t n_ports;
	struct tita_pacer_port *ports;
	struct tita_pacer_stats stats;
	void *priv;
};

extern const struct tita_pacer_ops tita_pacer_tc_ops;
extern const struct tita_pacer_ops tita_pacer_dryrun_ops;

/* The back end's state for these ports; init is not called yet. NULL with
 * errno. ports is copied. */
struct tita_pacer *tita_pacer_new(const struct tita_pacer_ops *ops,
				  const struct tita_pacer_port *ports, uint32_t n_ports);
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

/* The port of a local address, or NULL. */
const struct tita_pacer_port *tita_pacer_port(const struct tita_pacer *p,
					      const struct tita_addr *local);

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

#endif /* TITAD_PACER_H */
