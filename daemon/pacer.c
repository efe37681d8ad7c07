// SPDX-License-Identifier: MIT
/*
 * What every pacing back end shares: construction, the update dispatch with
 * its counters, and a small rule table.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pacer.h"

struct tita_pacer *tita_pacer_new(const struct tita_pacer_ops *ops,
				  const struct tita_pacer_port *ports, uint32_t n_ports,
				  const struct tita_pacer_env *env)
{
	struct tita_pacer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->ops = ops;
	p->ports = calloc(n_ports ? n_ports : 1, sizeof(*ports));
	if (!p->ports) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(p->ports, ports, n_ports * sizeof(*ports));
	p->n_ports = n_ports;
	if (env)
		p->env = *env;
	return p;
}

struct tita_pacer *tita_pacer_free(struct tita_pacer *p)
{
	if (!p)
		return NULL;
	if (p->ops->free)
		p->ops->free(p);
	free(p->ports);
	free(p);
	return NULL;
}

int tita_pacer_apply(struct tita_pacer *p, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps)
{
	int r;

	if (rate_bps == TITA_RATE_UNPACED) {
		r = p->ops->clear(p, local, remote, job_id);
		if (r == -ENOENT)
			r = 0;
		if (r)
			p->stats.clear_failed++;
		else
			p->stats.clear_ok++;
		return r;
	}
	r = p->ops->set_rate(p, local, remote, job_id, rate_bps ? rate_bps : 1);
	if (r)
		p->stats.set_failed++;
	else
		p->stats.set_ok++;
	return r;
}

int tita_pacer_apply_update(struct tita_pacer *p, const struct tita_rate_update *u,
			    uint64_t rate_bps)
{
	int r;

	if (!u->unsched_bytes || rate_bps == TITA_RATE_UNPACED)
		return tita_pacer_apply(p, &u->local, &u->remote, u->job_id, rate_bps);
	if (!p->ops->set_rate_after) {
		p->stats.unsched_unsupported++;
		return tita_pacer_apply(p, &u->local, &u->remote, u->job_id, rate_bps);
	}
	r = p->ops->set_rate_after(p, &u->local, &u->remote, u->job_id, u->unsched_bytes,
				   rate_bps ? rate_bps : 1);
	if (r) {
		p->stats.set_failed++;
	} else {
		p->stats.set_ok++;
		p->stats.unsched_ok++;
	}
	return r;
}

bool tita_pacer_fit_params(const struct tita_pacer_ops *ops, struct tita_ctl_params *p)
{
	if (ops->set_rate_after || (!p->unsched_ns && !p->unsched_short_ns))
		return false;
	p->unsched_ns = 0;
	p->unsched_short_ns = 0;
	return true;
}

void tita_pacer_keepalive(struct tita_pacer *p, uint64_t now_ns)
{
	p->now_ns = now_ns;
	if (p->ops->keepalive)
		p->ops->keepalive(p, now_ns);
}

void tita_pacer_port_down(struct tita_pacer *p, uint32_t i)
{
	size_t n = p->ops->describe(p, NULL, 0);
	struct tita_pacer_rule *rules = calloc(n ? n : 1, sizeof(*rules));

	/* The datapath handle may be gone with the device. */
	p->ports[i].bpf = NULL;
	if (!rules)
		return;
	n = p->ops->describe(p, rules, n);
	for (size_t k = 0; k < n; k++)
		if (tita_addr_eq(&rules[k].local, &p->ports[i].addr))
			p->ops->clear(p, &rules[k].local, &rules[k].remote, rules[k].job_id);
	free(rules);
}

int tita_pacer_port_up(struct tita_pacer *p, uint32_t i, int ifindex, struct tita_bpf *bpf,
		       char *err, size_t err_size)
{
	p->ports[i].ifindex = ifindex;
	p->ports[i].bpf = bpf;
	return p->ops->take_port ? p->ops->take_port(p, i, err, err_size) : 0;
}

int tita_pacer_port_index(const struct tita_pacer *p, const struct tita_addr *local)
{
	for (uint32_t i = 0; i < p->n_ports; i++)
		if (tita_addr_eq(&p->ports[i].addr, local))
			return (int)i;
	return -1;
}

const struct tita_pacer_port *tita_pacer_port(const struct tita_pacer *p,
					      const struct tita_addr *local)
{
	int i = tita_pacer_port_index(p, local);

	return i >= 0 ? &p->ports[i] : NULL;
}

struct tita_pacer_rule *tita_rule_find(struct tita_rule_table *t, const struct tita_addr *local,
				       const struct tita_addr *remote, uint32_t job_id)
{
	/* Linear: a host paces at most a few hundred destinations, and this
	 * runs only when a rate moves by more than the churn threshold. */
	for (size_t i = 0; i < t->n; i++) {
		struct tita_pacer_rule *r = &t->rules[i];

		if (r->job_id == job_id && tita_addr_eq(&r->remote, remote) &&
		    tita_addr_eq(&r->local, local))
			return r;
	}
	return NULL;
}

struct tita_pacer_rule *tita_rule_add(struct tita_rule_table *t, const struct tita_addr *local,
				      const struct tita_addr *remote, uint32_t job_id)
{
	struct tita_pacer_rule *r;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct tita_pacer_rule *nr = realloc(t->rules, cap * sizeof(*nr));

		if (!nr) {
			errno = ENOMEM;
			return NULL;
		}
		t->rules = nr;
		t->cap = cap;
	}
	r = &t->rules[t->n++];
	memset(r, 0, sizeof(*r));
	r->local = *local;
	r->remote = *remote;
	r->job_id = job_id;
	return r;
}

void tita_rule_del(struct tita_rule_table *t, struct tita_pacer_rule *r)
{
	size_t i = (size_t)(r - t->rules);

	t->rules[i] = t->rules[--t->n];
}

void tita_rule_table_free(struct tita_rule_table *t)
{
	free(t->rules);
	memset(t, 0, sizeof(*t));
}

int tita_rule_apply_after(struct tita_pacer *p, struct tita_rule_table *t,
			  const struct tita_addr *local, const struct tita_addr *remote,
			  uint32_t job_id, uint64_t unsched_bytes, uint64_t rate_bps,
			  uint32_t handle, tita_rule_sync_fn sync)
{
	struct tita_pacer_rule *rule = tita_rule_find(t, local, remote, job_id), old;
	bool added = false;
	int r;

	if (!rule) {
		rule = tita_rule_add(t, local, remote, job_id);
		if (!rule)
			return -ENOMEM;
		added = true;
	}
	old = *rule;
	rule->rate_bps = rate_bps;
	rule->unsched_bytes = unsched_bytes;
	rule->handle = handle;
	r = sync ? sync(p, rule) : 0;
	if (r) {
		/* sync may have moved nothing in the table: rule still points
		 * at the entry. */
		if (added)
			tita_rule_del(t, rule);
		else
			*rule = old;
	}
	return r;
}

int tita_rule_apply(struct tita_pacer *p, struct tita_rule_table *t, const struct tita_addr *local,
		    const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps,
		    uint32_t handle, tita_rule_sync_fn sync)
{
	return tita_rule_apply_after(p, t, local, remote, job_id, 0, rate_bps, handle, sync);
}

int tita_rule_remove(struct tita_pacer *p, struct tita_rule_table *t, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id, tita_rule_sync_fn sync)
{
	struct tita_pacer_rule *rule = tita_rule_find(t, local, remote, job_id), gone;

	if (!rule)
		return -ENOENT;
	gone = *rule;
	gone.rate_bps = 0;
	tita_rule_del(t, rule);
	return sync ? sync(p, &gone) : 0;
}
