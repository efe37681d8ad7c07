// SPDX-License-Identifier: MIT
/*
 * What the goodput bins say after a run: the recovery from a link failure
 * against what the surviving fabric can carry, the flows that stalled, and
 * each job's goodput over the time all jobs ran; and goodput.dat.
 *
 * "What the surviving fabric can carry" is the total of a fluid max-min
 * allocation over the flows running in a bin, with each host link and each
 * leaf's pooled surviving uplinks and downlinks as the resources: an upper
 * bound, as if every leaf split its traffic over its uplinks ideally (ECMP
 * hashes whole flows, so a real fabric carries less).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define STALL_PS (1 * SIM_PS_PER_MS)
#define RECOVERED_FRAC 0.95
#define PRE_FAIL_BINS 10u

struct heap_item {
	double key;
	uint32_t res;
};

static void heap_push(struct heap_item *h, uint32_t *n, double key, uint32_t res)
{
	uint32_t i = (*n)++;

	while (i > 0 && h[(i - 1) / 2].key > key) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = (struct heap_item){ key, res };
}

static struct heap_item heap_pop(struct heap_item *h, uint32_t *n)
{
	struct heap_item top = h[0], last = h[--*n];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1].key < h[c].key)
			c++;
		if (h[c].key >= last.key)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

/* The resources a flow crosses: its hosts' links and, across leaves, the
 * pooled uplinks of its source leaf and downlinks of its destination leaf. */
static uint32_t flow_resources(const struct sim *s, const struct sim_flow *f, uint32_t *ret)
{
	const struct sim_config *c = s->cfg;
	uint32_t n = s->n_hosts, k = 0;

	ret[k++] = f->src;
	ret[k++] = n + f->dst;
	if (c->topo == SIM_TOPO_LEAFSPINE &&
	    f->src / c->hosts_per_leaf != f->dst / c->hosts_per_leaf) {
		ret[k++] = 2 * n + f->src / c->hosts_per_leaf;
		ret[k++] = 2 * n + c->leaves + f->dst / c->hosts_per_leaf;
	}
	return k;
}

double sim_maxmin_capacity_bps(const struct sim *s, const uint32_t *ids, uint32_t n_ids)
{
	const struct sim_config *c = s->cfg;
	uint32_t nl = c->topo == SIM_TOPO_LEAFSPINE ? c->leaves : 0;
	uint32_t n_res = 2 * s->n_hosts + 2 * nl, n_heap = 0;
	double eff = (double)c->mtu_bytes /
		     (c->mtu_bytes + SIM_HDR_BYTES + (s->cc->int_stamp ? SIM_INT_BYTES : 0));
	double *cap = sim_xcalloc(n_res, sizeof(double)),
	       *fsum = sim_xcalloc(n_res, sizeof(double));
	uint32_t *cnt = sim_xcalloc(n_res, sizeof(uint32_t)),
		 *off = sim_xcalloc(n_res + 1, sizeof(uint32_t));
	uint32_t *members = sim_xcalloc((size_t)n_ids * 4, sizeof(uint32_t));
	bool *frozen = sim_xcalloc(n_ids, sizeof(bool));
	struct heap_item *heap = sim_xcalloc((size_t)n_ids * 4 + n_res, sizeof(*heap));
	double total = 0;
	uint32_t res[4];

	for (uint32_t h = 0; h < s->n_hosts; h++)
		cap[h] = cap[s->n_hosts + h] = (double)c->host_rate_bps * eff;
	for (uint32_t l = 0; l < nl; l++) {
		const struct sim_node *nd = &s->nodes[s->switches[l].node];

		/* A failed link is down both ways: one uplink and one downlink. */
		for (uint32_t k = 0; k < nd->n_ports; k++) {
			const struct sim_port *pt = &s->ports[nd->first_port + k];

			if (!pt->down && !s->nodes[s->ports[pt->peer].node].is_host) {
				cap[2 * s->n_hosts + l] += (double)pt->rate_bps * eff;
				cap[2 * s->n_hosts + nl + l] += (double)pt->rate_bps * eff;
			}
		}
	}
	/* Which flows cross each resource (by position in ids). */
	for (uint32_t i = 0; i < n_ids; i++) {
		uint32_t k = flow_resources(s, &s->flows[ids[i]], res);

		for (uint32_t j = 0; j < k; j++)
			off[res[j] + 1]++;
	}
	for (uint32_t r = 0; r < n_res; r++)
		off[r + 1] += off[r];
	for (uint32_t i = 0; i < n_ids; i++) {
		uint32_t k = flow_resources(s, &s->flows[ids[i]], res);

		for (uint32_t j = 0; j < k; j++)
			members[off[res[j]] + cnt[res[j]]++] = i;
	}
	/* Progressive filling: every unfrozen flow runs at the common level;
	 * the resource whose share (free capacity over unfrozen flows) is the
	 * smallest saturates next and freezes its flows there. Shares only
	 * grow as flows freeze, so stale heap entries are recomputed when they
	 * come up. */
	for (uint32_t r = 0; r < n_res; r++)
		if (cnt[r])
			heap_push(heap, &n_heap, cap[r] / cnt[r], r);
	while (n_heap) {
		struct heap_item it = heap_pop(heap, &n_heap);
		uint32_t r = it.res;
		double level;

		if (!cnt[r])
			continue;
		level = (cap[r] - fsum[r]) / cnt[r];
		if (level > it.key * (1 + 1e-12) + 1e-9) {
			heap_push(heap, &n_heap, level, r);
			continue;
		}
		for (uint32_t m = off[r]; m < off[r + 1]; m++) {
			uint32_t i = members[m], k;

			if (frozen[i])
				continue;
			frozen[i] = true;
			total += level;
			k = flow_resources(s, &s->flows[ids[i]], res);
			for (uint32_t j = 0; j < k; j++) {
				fsum[res[j]] += level;
				cnt[res[j]]--;
				if (res[j] != r && cnt[res[j]])
					heap_push(heap, &n_heap,
						  (cap[res[j]] - fsum[res[j]]) / cnt[res[j]],
						  res[j]);
			}
		}
	}
	free(cap);
	free(fsum);
	free(cnt);
	free(off);
	free(members);
	free(frozen);
	free(heap);
	return total;
}

static bool running(const struct sim_flow *f, uint64_t t0, uint64_t t1)
{
	return f->started && f->start_ps <= t0 && (!f->finish_ps || f->finish_ps >= t1) &&
	       (!f->stop_ps || f->stop_ps >= t1);
}

static uint64_t bin_bytes(const struct sim *s, uint32_t b)
{
	uint64_t sum = 0;

	if (b >= s->n_gp)
		return 0;
	for (uint32_t j = 0; j < SIM_MAX_JOBS; j++)
		sum += s->gp_bytes[(size_t)b * SIM_MAX_JOBS + j];
	return sum;
}

static void collect_failure(const struct sim *s, struct sim_results *r)
{
	uint64_t bin = s->cfg->goodput_bin_ps, fail = s->fail_ps;
	uint32_t b = (uint32_t)((fail + bin - 1) / bin), last_n = UINT32_MAX;
	uint32_t bf = (uint32_t)(fail / bin), n_pre = 0;
	uint32_t *ids = sim_xcalloc(s->n_flows, sizeof(uint32_t));
	uint64_t pre = 0, last_hash = 0;
	double capacity = 0;
	bool first = true;

	r->failure = true;
	r->recovery_ps = -1;
	for (uint32_t k = bf > PRE_FAIL_BINS ? bf - PRE_FAIL_BINS : 0; k < bf; k++, n_pre++)
		pre += bin_bytes(s, k);
	r->pre_fail_goodput_bps = n_pre ? (double)pre * 8e12 / ((double)n_pre * (double)bin) : 0;
	for (; (uint64_t)b * bin < r->end_ps; b++) {
		uint64_t t0 = (uint64_t)b * bin, hash = 0;
		uint32_t n = 0;

		for (uint32_t k = 0; k < s->n_flows; k++)
			if (running(&s->flows[k], t0, t0 + bin)) {
				ids[n++] = k;
				hash ^= (uint64_t)(k + 1) * 0x9e3779b97f4a7c15ull;
			}
		if (!n)
			break;
		if (n != last_n || hash != last_hash) {
			capacity = sim_maxmin_capacity_bps(s, ids, n);
			last_n = n;
			last_hash = hash;
		}
		if (first)
			r->fail_capacity_bps = capacity;
		first = false;
		if ((double)bin_bytes(s, b) * 8e12 / (double)bin >= RECOVERED_FRAC * capacity) {
			r->recovery_ps = (double)(t0 + bin - fail);
			break;
		}
	}
	free(ids);
	/* Stalls: the longest time a running flow received nothing in order. */
	for (uint32_t k = 0; k < s->n_flows; k++) {
		const struct sim_flow *f = &s->flows[k];
		uint64_t gap = f->max_gap_ps;

		if (!f->started || (f->finish_ps && f->finish_ps <= fail))
			continue;
		if (!f->finish_ps && r->end_ps > fail) {
			uint64_t from = f->last_rx_ps > fail ? f->last_rx_ps : fail;

			if (r->end_ps - from > gap)
				gap = r->end_ps - from;
		}
		if (gap > r->max_stall_ps)
			r->max_stall_ps = gap;
		r->stuck_flows += gap > STALL_PS;
	}
}

/* Each job's goodput over the bins in which every job has started and none
 * has finished. */
static void collect_jobs(const struct sim *s, struct sim_results *r)
{
	uint64_t start[SIM_MAX_JOBS], end[SIM_MAX_JOBS], t0 = 0, t1 = UINT64_MAX;
	uint64_t bin = s->cfg->goodput_bin_ps;
	bool have[SIM_MAX_JOBS] = { false };
	uint32_t b0, b1;

	for (uint32_t j = 0; j < SIM_MAX_JOBS; j++) {
		start[j] = UINT64_MAX;
		end[j] = 0;
	}
	for (uint32_t k = 0; k < s->n_flows; k++) {
		const struct sim_flow *f = &s->flows[k];
		uint64_t fin = f->finish_ps ? f->finish_ps : r->end_ps;

		if (!f->started)
			continue;
		have[f->job] = true;
		if (f->start_ps < start[f->job])
			start[f->job] = f->start_ps;
		if (fin > end[f->job])
			end[f->job] = fin;
	}
	for (uint32_t j = 0; j < SIM_MAX_JOBS; j++) {
		if (!have[j])
			continue;
		r->job_of[r->n_jobs++] = j;
		if (start[j] > t0)
			t0 = start[j];
		if (end[j] < t1)
			t1 = end[j];
	}
	if (r->n_jobs < 2 || t1 <= t0)
		return;
	b0 = (uint32_t)((t0 + bin - 1) / bin);
	b1 = (uint32_t)(t1 / bin);
	if (b1 <= b0)
		return;
	r->shared_ps = (double)(b1 - b0) * (double)bin;
	for (uint32_t i = 0; i < r->n_jobs; i++) {
		uint64_t sum = 0;

		for (uint32_t b = b0; b < b1 && b < s->n_gp; b++)
			sum += s->gp_bytes[(size_t)b * SIM_MAX_JOBS + r->job_of[i]];
		r->job_bps[i] = (double)sum * 8e12 / r->shared_ps;
	}
}

void sim_collect_goodput(const struct sim *s, struct sim_results *r)
{
	if (s->fail_ps != UINT64_MAX)
		collect_failure(s, r);
	collect_jobs(s, r);
}

int sim_write_goodput(const struct sim *s, const char *path)
{
	FILE *f = fopen(path, "w");
	double bin = (double)s->cfg->goodput_bin_ps;
	bool have[SIM_MAX_JOBS] = { false };

	if (!f)
		return -errno;
	for (uint32_t k = 0; k < s->n_flows; k++)
		have[s->flows[k].job] = true;
	fprintf(f, "# time_us goodput_gbps");
	for (uint32_t j = 0; j < SIM_MAX_JOBS; j++)
		if (have[j])
			fprintf(f, " job%u_gbps", j);
	fprintf(f, "\n");
	for (uint32_t b = 0; b < s->n_gp; b++) {
		/* bytes x 8 per picosecond bin: x 1e12 / 1e9 for Gb/s */
		fprintf(f, "%.3f %.3f", (double)b * bin / 1e6, (double)bin_bytes(s, b) * 8e3 / bin);
		for (uint32_t j = 0; j < SIM_MAX_JOBS; j++)
			if (have[j])
				fprintf(f, " %.3f",
					(double)s->gp_bytes[(size_t)b * SIM_MAX_JOBS + j] * 8e3 /
						bin);
		fprintf(f, "\n");
	}
	if (fclose(f))
		return -errno;
	return 0;
}
