// SPDX-License-Identifier: MIT
/*
 * The dcb back end: per traffic class IEEE max rates (DCB netlink), one
 * class per job class. The NIC cannot tell destinations apart at this
 * level, so a class on a port is capped at the sum of the rates of the
 * pairs of its jobs that leave that port; a class with no paced pair
 * returns to the limit it had before titad started.
 *
 * init refuses a port whose driver has no max-rate support, with a message
 * naming it: silently accepting rates that nothing enforces would look
 * like pacing in titactl and in the metrics while the fabric congests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcbnl.h"
#include "pacer_nic.h"

struct dcb_port {
	uint64_t saved_kbps[TITA_DCB_MAX_TCS]; /* before titad: restored at cleanup */
	uint64_t prog_kbps[TITA_DCB_MAX_TCS]; /* as programmed */
	bool taken;
};

struct dcb_state {
	struct dcb_port *ports;
	struct tita_rule_table rules; /* rule.handle: the class */
};

static struct dcb_state *state(struct tita_pacer *p)
{
	if (!p->priv)
		p->priv = calloc(1, sizeof(struct dcb_state));
	return p->priv;
}

static int dcb_init(struct tita_pacer *p, char *err, size_t err_size)
{
	struct dcb_state *s = state(p);

	if (!s)
		return -ENOMEM;
	s->ports = calloc(p->n_ports ? p->n_ports : 1, sizeof(*s->ports));
	if (!s->ports)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->n_ports; i++) {
		int r = tita_dcb_get_maxrate(p->ports[i].ifname, s->ports[i].saved_kbps, err,
					     err_size);

		if (r)
			return r;
		memcpy(s->ports[i].prog_kbps, s->ports[i].saved_kbps,
		       sizeof(s->ports[i].prog_kbps));
		s->ports[i].taken = true;
	}
	return 0;
}

/* Recompute class tc of port i from the rules and program it if it moved. */
static int reprogram(struct tita_pacer *p, struct dcb_state *s, int i, int tc)
{
	uint64_t sum_bps = 0, kbps[TITA_DCB_MAX_TCS];
	bool any = false;
	int r;

	for (size_t k = 0; k < s->rules.n; k++) {
		const struct tita_pacer_rule *rule = &s->rules.rules[k];

		if ((int)rule->handle == tc && tita_pacer_port_index(p, &rule->local) == i) {
			sum_bps += rule->rate_bps;
			any = true;
		}
	}
	memcpy(kbps, s->ports[i].prog_kbps, sizeof(kbps));
	/* Round up: a class is never capped below what the controller
	 * granted, and a nonzero rate never becomes 0 (= no limit). */
	kbps[tc] = any ? (sum_bps + 999) / 1000 : s->ports[i].saved_kbps[tc];
	if (kbps[tc] == s->ports[i].prog_kbps[tc])
		return 0;
	r = tita_dcb_set_maxrate(p->ports[i].ifname, kbps, NULL, 0);
	if (r)
		return r;
	s->ports[i].prog_kbps[tc] = kbps[tc];
	return 0;
}

/* The rule's class (its handle) on its port, from what the rules say now. */
static int dcb_sync(struct tita_pacer *p, const struct tita_pacer_rule *rule)
{
	return reprogram(p, p->priv, tita_pacer_port_index(p, &rule->local), (int)rule->handle);
}

static int dcb_set_rate(struct tita_pacer *p, const struct tita_addr *local,
			const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps)
{
	struct dcb_state *s = p->priv;
	int tc = p->env.tc_of_job ? p->env.tc_of_job(job_id, p->env.ctx) : -1;

	if (!tita_pacer_port(p, local))
		return -ENOENT;
	if (tc < 0 || tc >= TITA_DCB_MAX_TCS)
		return -EOPNOTSUPP;
	return tita_rule_apply(p, &s->rules, local, remote, job_id, rate_bps, (uint32_t)tc,
			       dcb_sync);
}

static int dcb_clear(struct tita_pacer *p, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id)
{
	struct dcb_state *s = p->priv;

	return tita_rule_remove(p, &s->rules, local, remote, job_id, dcb_sync);
}

static int dcb_cleanup(struct tita_pacer *p)
{
	struct dcb_state *s = p->priv;
	int first = 0;

	if (!s || !s->ports)
		return 0;
	s->rules.n = 0;
	for (uint32_t i = 0; i < p->n_ports; i++) {
		int r;

		if (!s->ports[i].taken || !memcmp(s->ports[i].prog_kbps, s->ports[i].saved_kbps,
						  sizeof(s->ports[i].prog_kbps)))
			continue;
		r = tita_dcb_set_maxrate(p->ports[i].ifname, s->ports[i].saved_kbps, NULL, 0);
		if (r && !first)
			first = r;
		if (!r)
			memcpy(s->ports[i].prog_kbps, s->ports[i].saved_kbps,
			       sizeof(s->ports[i].prog_kbps));
	}
	return first;
}

static size_t dcb_describe(const struct tita_pacer *p, struct tita_pacer_rule *out, size_t max)
{
	const struct dcb_state *s = p->priv;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->rules.n && i < max; i++)
		out[i] = s->rules.rules[i];
	return s->rules.n;
}

static void dcb_free(struct tita_pacer *p)
{
	struct dcb_state *s = p->priv;

	if (!s)
		return;
	tita_rule_table_free(&s->rules);
	free(s->ports);
	free(s);
	p->priv = NULL;
}

uint64_t tita_pacer_dcb_tc_kbps(const struct tita_pacer *p, uint32_t port, int tc)
{
	const struct dcb_state *s = p->priv;

	if (!s || !s->ports || port >= p->n_ports || tc < 0 || tc >= TITA_DCB_MAX_TCS)
		return 0;
	return s->ports[port].prog_kbps[tc];
}

const struct tita_pacer_ops tita_pacer_dcb_ops = {
	.name = "dcb",
	.init = dcb_init,
	.set_rate = dcb_set_rate,
	.clear = dcb_clear,
	.cleanup = dcb_cleanup,
	.describe = dcb_describe,
	.free = dcb_free,
};
