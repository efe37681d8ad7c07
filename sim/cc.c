// SPDX-License-Identifier: MIT
/*
 * The congestion controls a run can select, as const ops tables (the shape
 * of the kernel's tcp_congestion_ops): none, DCQCN with NVIDIA's defaults or
 * the paper's parameters, HPCC with INT, and tita with or without DCQCN
 * underneath. Each algorithm's parameters start from its published defaults
 * and take overrides from the scenario ([dcqcn], [hpcc], [tita] sections);
 * tita's come from lib's parameter table, with its ranges.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "sim.h"

enum field_type {
	F_U64,
	F_U32,
	F_DBL,
	F_BOOL,
};

struct field {
	const char *key;
	size_t off;
	enum field_type type;
	double scale; /* config unit -> field unit */
};

#define FD(s, k, m, t, sc)                      \
	{                                       \
		k, offsetof(struct s, m), t, sc \
	}

static const struct field dcqcn_fields[] = {
	FD(dcqcn_params, "min_rate_mbps", min_rate_bps, F_U64, 1e6),
	FD(dcqcn_params, "g", g, F_DBL, 1),
	FD(dcqcn_params, "initial_alpha", initial_alpha, F_DBL, 1),
	FD(dcqcn_params, "alpha_period_us", alpha_period_ps, F_U64, 1e6),
	FD(dcqcn_params, "dec_period_us", dec_period_ps, F_U64, 1e6),
	FD(dcqcn_params, "inc_timer_us", inc_timer_ps, F_U64, 1e6),
	FD(dcqcn_params, "byte_reset_bytes", byte_reset_bytes, F_U64, 1),
	FD(dcqcn_params, "fast_recovery_steps", fast_recovery_steps, F_U32, 1),
	FD(dcqcn_params, "ai_mbps", ai_bps, F_U64, 1e6),
	FD(dcqcn_params, "hai_mbps", hai_bps, F_U64, 1e6),
	FD(dcqcn_params, "min_dec_factor", min_dec_factor, F_DBL, 1),
	FD(dcqcn_params, "clamp_tgt_rate", clamp_tgt_rate, F_BOOL, 1),
	FD(dcqcn_params, "clamp_after_time_inc", clamp_after_time_inc, F_BOOL, 1),
	FD(dcqcn_params, "min_time_between_cnps_us", min_time_between_cnps_ps, F_U64, 1e6),
	{ NULL, 0, 0, 0 },
};

static const struct field hpcc_fields[] = {
	FD(hpcc_params, "eta", eta, F_DBL, 1),
	FD(hpcc_params, "max_stage", max_stage, F_U32, 1),
	FD(hpcc_params, "rai_mbps", rai_bps, F_U64, 1e6),
	FD(hpcc_params, "min_rate_mbps", min_rate_bps, F_U64, 1e6),
	{ NULL, 0, 0, 0 },
};

static int field_set(const struct field *tab, void *obj, const char *key, double v)
{
	for (const struct field *f = tab; f->key; f++) {
		char *p = (char *)obj + f->off;
		double x = v * f->scale;

		if (strcmp(f->key, key))
			continue;
		if (f->type != F_DBL && (x < 0 || x > 1.8e19))
			return -ERANGE;
		switch (f->type) {
		case F_U64:
			*(uint64_t *)(void *)p = (uint64_t)(x + 0.5);
			break;
		case F_U32:
			if (x > 4e9)
				return -ERANGE;
			*(uint32_t *)(void *)p = (uint32_t)(x + 0.5);
			break;
		case F_DBL:
			*(double *)(void *)p = x;
			break;
		case F_BOOL:
			*(bool *)(void *)p = x != 0;
			break;
		}
		return 0;
	}
	return -ENOENT;
}

/* The lib table's entry a tita key names, and the factor from the key's
 * unit to the field's. */
static const struct tita_param *tita_param(const char *key, double *ret_scale)
{
	size_t n, len = strlen(key);
	const struct tita_param *t = tita_ctl_param_table(&n);

	for (size_t i = 0; i < n; i++) {
		size_t stem = strlen(t[i].name) - 3;

		if (t[i].kind != TITA_PARAM_DURATION) {
			if (!strcmp(key, t[i].name)) {
				*ret_scale = 1;
				return &t[i];
			}
		} else if (len == stem + 3 && !strncmp(key, t[i].name, stem) &&
			   !strcmp(key + stem, "_us")) {
			*ret_scale = 1e3;
			return &t[i];
		}
	}
	return NULL;
}

const char *sim_tita_key(const struct tita_param *d, char *buf, size_t size)
{
	size_t len = strlen(d->name);

	if (d->kind == TITA_PARAM_DURATION)
		snprintf(buf, size, "%.*s_us", (int)(len - 3), d->name);
	else
		snprintf(buf, size, "%s", d->name);
	return buf;
}

static int tita_set(struct tita_ctl_params *t, const char *key, double v)
{
	double scale, x;
	const struct tita_param *d = tita_param(key, &scale);

	if (!d)
		return -ENOENT;
	x = v * scale;
	if (d->kind == TITA_PARAM_DURATION || d->kind == TITA_PARAM_COUNT) {
		/* Whole units, to the nearest, as the other tables. */
		if (x < 0 || x > 1.8e19)
			return -ERANGE;
		x = floor(x + 0.5);
	}
	return tita_ctl_param_set(t, d, x);
}

int sim_params_range(const char *key, char *buf, size_t size)
{
	double scale;
	const struct tita_param *d;

	if (strncmp(key, "tita.", 5) || !(d = tita_param(key + 5, &scale)))
		return -ENOENT;
	snprintf(buf, size, "%.10g..%.10g", d->min / scale, d->max / scale);
	return 0;
}

void sim_tita_params_help(FILE *f)
{
	size_t n;
	const struct tita_param *t = tita_ctl_param_table(&n);

	fprintf(f, "  tita.KEY for --set and [tita] (lib's controller parameters):\n");
	for (size_t i = 0; i < n; i++) {
		double scale = t[i].kind == TITA_PARAM_DURATION ? 1e3 : 1;
		char key[64];

		fprintf(f, "    %-24s %.10g..%.10g%s, default %.10g: %s\n",
			sim_tita_key(&t[i], key, sizeof(key)), t[i].min / scale, t[i].max / scale,
			t[i].kind == TITA_PARAM_DURATION ? " us" : "", t[i].def / scale, t[i].help);
	}
}

int sim_params_set(const char *key, double v, struct dcqcn_params *d, struct hpcc_params *h,
		   struct tita_ctl_params *t)
{
	struct dcqcn_params d0;
	struct hpcc_params h0;
	struct tita_ctl_params t0;

	if (!strncmp(key, "dcqcn.", 6))
		return field_set(dcqcn_fields, d ? (void *)d : (void *)&d0, key + 6, v);
	if (!strncmp(key, "hpcc.", 5))
		return field_set(hpcc_fields, h ? (void *)h : (void *)&h0, key + 5, v);
	if (!strncmp(key, "tita.", 5)) {
		if (!t)
			tita_ctl_params_default(&t0);
		return tita_set(t ? t : &t0, key + 5, v);
	}
	return -ENOENT;
}

static void apply_overrides(struct sim *s)
{
	for (uint32_t k = 0; k < s->cfg->n_kv; k++)
		sim_params_set(s->cfg->kv[k].key, s->cfg->kv[k].value, &s->dcqcn, &s->hpcc,
			       &s->tita);
}

/* ---- none: line rate, PFC only ---- */

static void none_init(struct sim *s)
{
	apply_overrides(s);
}

static const struct sim_cc_ops cc_none = {
	.name = "none",
	.desc = "no congestion control: line rate, PFC only",
	.init = none_init,
};

/* ---- DCQCN ---- */

static void dcqcn_sched(struct sim *s, struct sim_flow *f)
{
	const struct dcqcn_rp *rp = &f->cc.dcqcn;

	if (rp->dec_next_ps && rp->dec_next_ps != f->dec_sched_ps) {
		f->dec_sched_ps = rp->dec_next_ps;
		sim_schedule(s, rp->dec_next_ps, SIM_EV_CC_DEC, f->id, 0);
	}
	if (rp->inc_next_ps && rp->inc_next_ps != f->inc_sched_ps) {
		f->inc_sched_ps = rp->inc_next_ps;
		sim_schedule(s, rp->inc_next_ps, SIM_EV_CC_INC, f->id, 0);
	}
}

static void dcqcn_on_event(struct sim *s, struct sim_flow *f, enum sim_cc_event ev,
			   const struct sim_pkt *pkt, uint64_t arg)
{
	struct dcqcn_rp *rp = &f->cc.dcqcn;

	if (s->cc->tita && !s->tita_dcqcn)
		return;
	switch (ev) {
	case SIM_CC_START:
		dcqcn_rp_init(rp, f->line_bps);
		return;
	case SIM_CC_TX:
		dcqcn_rp_on_tx(rp, &s->dcqcn, arg);
		break;
	case SIM_CC_CNP:
		dcqcn_rp_on_cnp(rp, &s->dcqcn, s->now_ps);
		break;
	case SIM_CC_TIMER_DEC:
		dcqcn_rp_on_dec_timer(rp, &s->dcqcn, s->now_ps);
		break;
	case SIM_CC_TIMER_INC:
		dcqcn_rp_on_inc_timer(rp, &s->dcqcn, s->now_ps);
		break;
	case SIM_CC_ACK:
		return;
	}
	dcqcn_sched(s, f);
	sim_flow_set_rate(s, f, rp->rc_bps);
}

static void dcqcn_init(struct sim *s)
{
	dcqcn_params_nvidia(&s->dcqcn);
	apply_overrides(s);
}

static void dcqcn_paper_init(struct sim *s)
{
	dcqcn_params_paper(&s->dcqcn, s->cfg->host_rate_bps);
	apply_overrides(s);
}

static const struct sim_cc_ops cc_dcqcn = {
	.name = "dcqcn",
	.desc = "DCQCN, NVIDIA ConnectX default parameters",
	.np_cnp = true,
	.init = dcqcn_init,
	.on_event = dcqcn_on_event,
};

static const struct sim_cc_ops cc_dcqcn_paper = {
	.name = "dcqcn-paper",
	.desc = "DCQCN, SIGCOMM'15 paper parameters",
	.np_cnp = true,
	.init = dcqcn_paper_init,
	.on_event = dcqcn_on_event,
};

/* ---- HPCC ---- */

static void hpcc_init(struct sim *s)
{
	hpcc_params_default(&s->hpcc, s->cfg->host_rate_bps);
	apply_overrides(s);
}

static void hpcc_on_event(struct sim *s, struct sim_flow *f, enum sim_cc_event ev,
			  const struct sim_pkt *pkt, uint64_t arg)
{
	switch (ev) {
	case SIM_CC_START:
		hpcc_qp_init(&f->cc.hpcc, f->line_bps, s->base_rtt_ps);
		break;
	case SIM_CC_ACK:
		sim_flow_set_rate(s, f,
				  hpcc_on_ack(&f->cc.hpcc, &s->hpcc, pkt->seq, f->sent_bytes,
					      sim_pkt_hops(s, pkt), pkt->nhop));
		break;
	default:
		break;
	}
}

static bool hpcc_can_send(const struct sim *s, const struct sim_flow *f)
{
	return f->sent_bytes - f->acked_bytes < hpcc_window_bytes(&f->cc.hpcc);
}

static const struct sim_cc_ops cc_hpcc = {
	.name = "hpcc",
	.desc = "HPCC with INT (eta 0.95, maxStage 0), as the authors' artifact",
	.acks = true,
	.int_stamp = true,
	.init = hpcc_init,
	.on_event = hpcc_on_event,
	.can_send = hpcc_can_send,
};

/* ---- tita ---- */

static void tita_dcqcn_init(struct sim *s)
{
	tita_ctl_params_default(&s->tita);
	dcqcn_params_nvidia(&s->dcqcn);
	s->tita_dcqcn = true;
	apply_overrides(s);
}

static void tita_only_init(struct sim *s)
{
	tita_ctl_params_default(&s->tita);
	dcqcn_params_nvidia(&s->dcqcn);
	s->tita_dcqcn = false;
	apply_overrides(s);
}

/* DCQCN's reaction point (unless off), and the sample that tells tita a
 * pair has sent all its application posted. */
static void tita_on_event(struct sim *s, struct sim_flow *f, enum sim_cc_event ev,
			  const struct sim_pkt *pkt, uint64_t arg)
{
	if (ev == SIM_CC_TX)
		sim_tita_tx(s, f);
	dcqcn_on_event(s, f, ev, pkt, arg);
}

/* The NIC's notification point stays on in both: the CNPs it sends are what
 * tita's reactive ceiling counts, even where the reaction point is off. */
static const struct sim_cc_ops cc_tita = {
	.name = "tita",
	.desc = "tita (lib/ controller per host) over DCQCN in the NIC",
	.np_cnp = true,
	.tita = true,
	.init = tita_dcqcn_init,
	.on_event = tita_on_event,
	.on_probe_reply = sim_tita_probe_reply,
	.on_drained = sim_tita_drained,
};

static const struct sim_cc_ops cc_tita_only = {
	.name = "tita-nodcqcn",
	.desc = "tita alone: the NIC reaction point off",
	.np_cnp = true,
	.tita = true,
	.init = tita_only_init,
	.on_event = tita_on_event,
	.on_probe_reply = sim_tita_probe_reply,
	.on_drained = sim_tita_drained,
};

const struct sim_cc_ops *const sim_cc_all[] = {
	&cc_none, &cc_dcqcn, &cc_dcqcn_paper, &cc_hpcc, &cc_tita, &cc_tita_only, NULL,
};

const struct sim_cc_ops *sim_cc_find(const char *name)
{
	for (int k = 0; sim_cc_all[k]; k++)
		if (!strcmp(sim_cc_all[k]->name, name))
			return sim_cc_all[k];
	return NULL;
}
