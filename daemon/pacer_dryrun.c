// SPDX-License-Identifier: MIT
/*
 * The dry-run back end: programs nothing, remembers what it would have
 * programmed so that titactl and the metrics show it (first deployments,
 * evaluation against a live cluster).
 */
#include <errno.h>
#include <stdlib.h>

#include "pacer.h"

static int dry_init(struct tita_pacer *p, char *err, size_t err_size)
{
	(void)err;
	(void)err_size;
	p->priv = calloc(1, sizeof(struct tita_rule_table));
	return p->priv ? 0 : -ENOMEM;
}

static int dry_set_rate(struct tita_pacer *p, const struct tita_addr *local,
			const struct tita_addr *remote, uint32_t job_id, uint64_t rate_bps)
{
	return tita_rule_apply(p, p->priv, local, remote, job_id, rate_bps, 0, NULL);
}

/* What it would program: the rate, after the unscheduled bytes. */
static int dry_set_rate_after(struct tita_pacer *p, const struct tita_addr *local,
			      const struct tita_addr *remote, uint32_t job_id,
			      uint64_t unsched_bytes, uint64_t rate_bps)
{
	return tita_rule_apply_after(p, p->priv, local, remote, job_id, unsched_bytes, rate_bps, 0,
				     NULL);
}

static int dry_clear(struct tita_pacer *p, const struct tita_addr *local,
		     const struct tita_addr *remote, uint32_t job_id)
{
	return tita_rule_remove(p, p->priv, local, remote, job_id, NULL);
}

static int dry_cleanup(struct tita_pacer *p)
{
	struct tita_rule_table *t = p->priv;

	if (t)
		t->n = 0;
	return 0;
}

static size_t dry_describe(const struct tita_pacer *p, struct tita_pacer_rule *out, size_t max)
{
	const struct tita_rule_table *t = p->priv;

	if (!t)
		return 0;
	for (size_t i = 0; i < t->n && i < max; i++)
		out[i] = t->rules[i];
	return t->n;
}

static void dry_free(struct tita_pacer *p)
{
	if (p->priv)
		tita_rule_table_free(p->priv);
	free(p->priv);
	p->priv = NULL;
}

const struct tita_pacer_ops tita_pacer_dryrun_ops = {
	.name = "dry-run",
	.init = dry_init,
	.set_rate = dry_set_rate,
	.set_rate_after = dry_set_rate_after,
	.clear = dry_clear,
	.cleanup = dry_cleanup,
	.describe = dry_describe,
	.free = dry_free,
};
