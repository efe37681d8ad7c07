// SPDX-License-Identifier: MIT
/*
 * Snapshots of the controller for titactl and metrics: every pair as the
 * operator sees it (a source that some demand already covers is not shown
 * twice), every port, and the counters. They only read.
 */
#include "ctl_internal.h"

size_t tita_ctl_n_pairs(const struct tita_ctl *c)
{
	return c->n_pairs;
}

size_t tita_ctl_n_ports(const struct tita_ctl *c)
{
	return c->n_ports;
}

size_t tita_ctl_pairs(const struct tita_ctl *c, struct tita_pair_info *out, size_t max)
{
	size_t n = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		const struct pair *pr = &c->pairs[s];
		struct tita_pair_info info;

		if (!pr->used || (pr->role == ROLE_SOURCE && pr->managed))
			continue;
		info = (struct tita_pair_info){
			.local = pr->local,
			.remote = pr->remote,
			.job_id = pr->role == ROLE_SOURCE ? TITA_JOB_DEFAULT : pr->job_id,
			.role = pr->role == TITA_PAIR_TX ? TITA_PAIR_TX : TITA_PAIR_RX,
			.measured_bps = pr->measured_bps,
			.ce_ppm = pr->ce_ppm,
			.spine = pr->role == ROLE_SOURCE ? TITA_SPINE_NONE : pr->spine,
			.sport = pr->role == TITA_PAIR_TX ? pr->sport : 0,
			.leaf_cap_bps = pr->leaf_cap_bps,
			.path_spine = pr->role == ROLE_SOURCE ? TITA_SPINE_NONE :
								ctl_fabric_path_spine(pr),
			.moving = pr->role == TITA_PAIR_TX &&
				  (pr->want_spine != TITA_SPINE_NONE || pr->path == PATH_MOVING),
		};
		switch (pr->role) {
		case TITA_PAIR_TX:
			info.state = pr->state;
			info.demand_bps = pr->demand_bps;
			info.grant_bps = pr->state == TITA_PAIR_GRANTED ? pr->grant_bps : 0;
			info.ceiling_bps =
				tita_ceiling_engaged(&pr->ceiling) ?
					(uint64_t)(pr->ceiling.frac * (double)pr->grant_bps) :
					c->ports[pr->port].line_rate_bps;
			info.rate_bps = pr->programmed_bps;
			info.cnp_per_sec = pr->cnp_per_sec;
			info.expires_ns = pr->state == TITA_PAIR_FAIL_OPEN ? 0 : pr->expires_ns;
			break;
		case TITA_PAIR_RX:
			info.state = TITA_PAIR_ACTIVE;
			info.demand_bps = pr->demand_bps;
			info.grant_bps = pr->granted_bps;
			info.expires_ns = pr->expires_ns;
			break;
		default:
			info.state = TITA_PAIR_UNMANAGED;
		}
		if (n < max)
			out[n] = info;
		n++;
	}
	return n;
}

size_t tita_ctl_ports(const struct tita_ctl *c, struct tita_port_info *out, size_t max)
{
	for (uint32_t i = 0; i < c->n_ports && i < max; i++) {
		const struct port *pt = &c->ports[i];

		out[i] = (struct tita_port_info){
			.local = pt->local,
			.line_rate_bps = pt->line_rate_bps,
			.eta = pt->eta,
			.capacity_bps = pt->capacity_bps,
			.unmanaged_bps = pt->unmanaged_bps,
			.granted_bps = pt->granted_bps,
			.rx_bps = pt->rx_bps,
			.ce_ppm = pt->ce_ppm,
			.tx_bps = pt->tx_bps,
		};
		ctl_fabric_port_info(c, pt, &out[i]);
	}
	return c->n_ports;
}

void tita_ctl_stats(const struct tita_ctl *c, struct tita_ctl_stats *ret_stats)
{
	*ret_stats = c->stats;
}
