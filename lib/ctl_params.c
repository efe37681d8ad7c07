// SPDX-License-Identifier: MIT
/*
 * The controller's parameters as one table (see tita/ctl.h): every field's
 * names, kind, range and default, and the defaults and checks built on it.
 * titad's config and the simulator read their keys' ranges and help from
 * here instead of keeping copies that drift apart.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "tita/ctl.h"

/* The offset of a field, which must have the C type of its kind: a table
 * entry of the wrong kind does not compile. */
#define FIELD(f, type)                                                                \
	(offsetof(struct tita_ctl_params, f) +                                        \
	 0 * sizeof(char[_Generic(((struct tita_ctl_params *)0)->f, type : 1, default \
				  : -1)]))
#define DUR(f, key, lo, hi, def, help)                                                    \
	{                                                                                 \
#f, key, TITA_PARAM_DURATION, "ns", FIELD(f, uint64_t), lo, hi, def, help \
	}
#define FRAC(f, key, lo, hi, def, help)                                                       \
	{                                                                                     \
#f, key, TITA_PARAM_FRACTION, "fraction", FIELD(f, double), lo, hi, def, help \
	}
#define FACTOR(f, key, lo, hi, def, help)                                            \
	{                                                                            \
#f, key, TITA_PARAM_FACTOR, "x", FIELD(f, double), lo, hi, def, help \
	}
#define COUNT(f, key, unit, lo, hi, def, help)                                         \
	{                                                                              \
#f, key, TITA_PARAM_COUNT, unit, FIELD(f, uint32_t), lo, hi, def, help \
	}

#define US ((double)TITA_NSEC_PER_USEC)
#define MS ((double)TITA_NSEC_PER_MSEC)
#define S ((double)TITA_NSEC_PER_SEC)

/* The defaults were chosen in the simulator (see README). */
static const struct tita_param table[] = {
	DUR(control_interval_ns, "interval", 1 * US, 10 * S, 100 * US,
	    "how often the controller estimates demand, allocates and reports"),
	/* Grants travel with their TTL; the wire codec refuses one above 60 s. */
	DUR(grant_ttl_ns, "grant-ttl", 2 * US, 60 * S, 10 * MS,
	    "how long a grant (and a reported demand) stays valid unrefreshed"),
	DUR(refresh_ns, "refresh", 1 * US, 60 * S, 3 * MS,
	    "unchanged grants and demands are re-sent at least this often"),
	FRAC(eta, "eta", 0.05, 1, 0.98, "target utilization of a receiver's downlink"),
	FRAC(eta_min, "eta-min", 0.05, 1, 0.70, "the floor below which CE marks never push eta"),
	FRAC(eta_ce_threshold, NULL, 0, 1, 0.01,
	     "CE fraction on a busy downlink above which eta is cut"),
	FRAC(eta_decrease, NULL, 0, 0.5, 0.02, "eta's multiplicative cut per congested round"),
	FRAC(eta_increase, NULL, 0, 0.5, 0.01, "what each clean round adds back to eta"),
	FRAC(start_rate_frac, "start-rate", 0, 1, 0.02,
	     "a new pair's rate, of its line rate, until its first grant"),
	DUR(unsched_ns, "unscheduled", 0, 10 * MS, 3 * US,
	    "a new message's first bytes, this long at line rate, go before any grant (0: none)"),
	DUR(unsched_short_ns, "unscheduled-short", 0, 10 * MS, 12 * US,
	    "a message that fits in this long at line rate goes whole, unscheduled"),
	DUR(unsched_bound_ns, NULL, 0, 1 * S, 32 * US,
	    "a receiver shrinks allowances whose bursts came to more than this at line rate"),
	FRAC(unmanaged_room_frac, "unmanaged-room", 0, 1, 1,
	     "the share of unmanaged traffic a receiver leaves room for (below 1: whole messages travel in a class served first)"),
	FACTOR(warm_ttls, "warm", 0, 100, 1,
	       "an idle pair's grant stays warm this many grant TTLs (0: freed at once)"),
	FRAC(churn_frac, NULL, 0, 0.5, 0.02,
	     "a smaller rise of a programmed rate waits up to a refresh period"),
	FRAC(demand_change_frac, NULL, 0, 1, 0.05,
	     "a demand that moves by more is reported before its refresh"),
	FRAC(alloc_batch_frac, NULL, 0, 1, 0.125,
	     "new demands are granted this fraction of an interval after the first"),
	DUR(lone_gap_ns, NULL, 0, 1 * S, 100 * US,
	    "a new pair's first demand with no other new one this long before is granted at once, not batched (0: off)"),
	FRAC(lone_batch_frac, NULL, 0, 1, 0.02,
	     "a lone new demand (lone_gap_ns) is granted this fraction of an interval after it came"),
	DUR(srpt_ns, NULL, 0, 1 * S, 800 * US,
	    "a pair whose message is shorter than this at line rate weighs more among its job's (0: off)"),
	FACTOR(srpt_max_weight, NULL, 1, 1024, 4,
	       "the most a short message multiplies its pair's weight by among its job's pairs"),
	DUR(short_start_ns, NULL, 0, 1 * S, 40 * US,
	    "a new pair whose message fits in this long at line rate starts short: between leaves not held at the start rate until placed, when no other waits; lone, granted after lone_batch_frac (0: off)"),
	COUNT(srpt_tx, NULL, "on/off", 0, 1, 1,
	      "with srpt_ns, a sender's uplink too favours its pairs with the shorter messages"),
	FRAC(probe_threshold, NULL, 0, 1, 0.90,
	     "a pair using more than this of its rate asks for more"),
	FACTOR(probe_gain, NULL, 1, 16, 1.5,
	       "such a pair asks for this many times its rate, up to line rate"),
	DUR(backlog_horizon_ns, NULL, 1 * US, 60 * S, 20 * US,
	    "a backlog becomes demand as if it had to drain in this long"),
	FRAC(demand_decay, NULL, 0, 1, 0, "an idle pair's demand is multiplied by this a round"),
	COUNT(demand_hold_rounds, NULL, "rounds", 0, 1000, 0,
	      "idle rounds before an idle pair's demand decays"),
	FRAC(rc_g, NULL, 0, 1, 1.0 / 16, "reactive ceiling: alpha's gain per round"),
	FRAC(rc_ai_frac, NULL, 0, 1, 0.02, "reactive ceiling: additive increase, of the grant"),
	FRAC(rc_hai_frac, NULL, 0, 1, 0.10, "reactive ceiling: hyper increase, of the grant"),
	COUNT(rc_fast_recovery_steps, NULL, "rounds", 0, 1000, 5,
	      "reactive ceiling: clean rounds before additive increase"),
	FRAC(rc_min_frac, NULL, 0, 1, 0.01,
	     "floor of the ceiling (of the grant) and of any paced rate (of line rate)"),
	FRAC(rc_ce_threshold, NULL, 0, 1, 0.01,
	     "reactive ceiling: a CE fraction above this counts as congestion"),
	COUNT(rc_algo, NULL, "0/1", 0, 1, 0,
	      "reactive ceiling: 0 one proportional cut per episode step, 1 DCQCN per round"),
	FRAC(rc_floor_frac, NULL, 0, 1, 0.125,
	     "episode ceiling: never below this much of where the episode began"),
	COUNT(rc_hold_rounds, NULL, "rounds", 0, 1000, 4,
	      "episode ceiling: rounds after a cut before the next (the CE signal's delay)"),
	FRAC(rc_recovery_frac, NULL, 0, 1, 0.5,
	     "episode ceiling: share of the way back a clean round regains"),
	FRAC(fabric_eta, "fabric-eta", 0.05, 1, 0.98,
	     "target utilization of a leaf's uplinks and downlinks"),
	COUNT(leaf_leaders, "leaf-leaders", "leaders", 1, 2, 2,
	      "leaders per leaf: 2, one for its uplinks and one for its downlinks; 1, one for both"),
	COUNT(steer, "steer", "on/off", 0, 1, 1,
	      "steer pairs over the leaf's uplinks by their UDP source port (0: the fabric sprays)"),
	FRAC(big_frac, NULL, 0, 1, 0.125,
	     "a pair granted this much of an uplink is steered on its own"),
	COUNT(probe_batch, NULL, "ports", 1, 64, 32, "source ports one path probe batch tries"),
	DUR(probe_timeout_ns, "probe-timeout", 1 * US, 10 * S, 200 * US,
	    "a path probe unanswered this long is lost"),
	COUNT(probe_rate, "probe-rate", "probes/s", 1, 10000000, 20000,
	      "path probes a host sends a second at most, over its burst"),
	COUNT(probe_burst, "probe-burst", "probes", 1, 1 << 20, 1024,
	      "path probes a host may send at once"),
	FRAC(leaf_batch_frac, NULL, 0, 1, 0.02,
	     "reports to the leaf's leader, and its runs, wait this much of an interval"),
	COUNT(max_ports, NULL, "ports", 1, 4096, 64, "local NICs the controller holds at most"),
	COUNT(max_pairs, "max-pairs", "pairs", 1, 1 << 24, 65536,
	      "pairs (TX, RX and sources) the controller holds at most"),
	COUNT(max_jobs, "max-jobs", "jobs", 1, 1 << 20, 4096,
	      "jobs with a policy the controller holds at most"),
};

#define N_PARAMS (sizeof(table) / sizeof(table[0]))
_Static_assert(N_PARAMS == TITA_CTL_N_PARAMS, "TITA_CTL_N_PARAMS is the table's size");

const struct tita_param *tita_ctl_param_table(size_t *ret_n)
{
	*ret_n = N_PARAMS;
	return table;
}

const struct tita_param *tita_ctl_param_find(const char *name)
{
	for (size_t i = 0; i < N_PARAMS; i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

static void *field(struct tita_ctl_params *p, const struct tita_param *d)
{
	return (char *)p + d->offset;
}

static const void *cfield(const struct tita_ctl_params *p, const struct tita_param *d)
{
	return (const char *)p + d->offset;
}

double tita_ctl_param_get(const struct tita_ctl_params *p, const struct tita_param *d)
{
	switch (d->kind) {
	case TITA_PARAM_DURATION:
		return (double)*(const uint64_t *)cfield(p, d);
	case TITA_PARAM_COUNT:
		return (double)*(const uint32_t *)cfield(p, d);
	default:
		return *(const double *)cfield(p, d);
	}
}

/* Integers are compared as integers, so that no value far above a range
 * rounds into it. */
static bool param_ok(const struct tita_ctl_params *p, const struct tita_param *d)
{
	double v;

	switch (d->kind) {
	case TITA_PARAM_DURATION: {
		uint64_t ns = *(const uint64_t *)cfield(p, d);

		return ns >= (uint64_t)d->min && ns <= (uint64_t)d->max;
	}
	case TITA_PARAM_COUNT: {
		uint32_t n = *(const uint32_t *)cfield(p, d);

		return n >= (uint32_t)d->min && n <= (uint32_t)d->max;
	}
	default:
		v = *(const double *)cfield(p, d);
		return isfinite(v) && v >= d->min && v <= d->max;
	}
}

int tita_ctl_param_set(struct tita_ctl_params *p, const struct tita_param *d, double v)
{
	bool whole = d->kind == TITA_PARAM_DURATION || d->kind == TITA_PARAM_COUNT;

	if (isnan(v) || (whole && isfinite(v) && v != floor(v)))
		return -EINVAL;
	if (!(v >= d->min && v <= d->max))
		return -ERANGE;
	switch (d->kind) {
	case TITA_PARAM_DURATION:
		*(uint64_t *)field(p, d) = (uint64_t)v;
		break;
	case TITA_PARAM_COUNT:
		*(uint32_t *)field(p, d) = (uint32_t)v;
		break;
	default:
		*(double *)field(p, d) = v;
	}
	return 0;
}

void tita_ctl_params_default(struct tita_ctl_params *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < N_PARAMS; i++)
		tita_ctl_param_set(p, &table[i], table[i].def);
}

static int reject(const struct tita_param *d, const char *reason, const struct tita_param **bad,
		  const char **why)
{
	if (bad)
		*bad = d;
	if (why)
		*why = reason;
	return -EINVAL;
}

/* The entry of field f (every field has one: tests/unit/test_params.c). */
#define PARAM(f) param_at(offsetof(struct tita_ctl_params, f))

static const struct tita_param *param_at(size_t offset)
{
	size_t i = 0;

	while (i < N_PARAMS - 1 && table[i].offset != offset)
		i++;
	return &table[i];
}

int tita_ctl_params_check_field(const struct tita_ctl_params *p, const struct tita_param **bad,
				const char **why)
{
	if (!p)
		return reject(NULL, "no parameters", bad, why);
	for (size_t i = 0; i < N_PARAMS; i++)
		if (!param_ok(p, &table[i]))
			return reject(&table[i], "out of range", bad, why);
	if (p->grant_ttl_ns < 2 * p->control_interval_ns)
		return reject(PARAM(grant_ttl_ns), "must be at least twice the control interval",
			      bad, why);
	if (p->refresh_ns < p->control_interval_ns || p->refresh_ns >= p->grant_ttl_ns)
		return reject(PARAM(refresh_ns),
			      "must be at least the control interval and below the grant TTL", bad,
			      why);
	if (p->eta_min > p->eta)
		return reject(PARAM(eta_min), "must not be above eta", bad, why);
	return 0;
}

int tita_ctl_params_check(const struct tita_ctl_params *p)
{
	return tita_ctl_params_check_field(p, NULL, NULL);
}
