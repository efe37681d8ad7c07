/* SPDX-License-Identifier: MIT */
/*
 * Localization ("find the slow node"): from one or more consecutive
 * telemetry snapshots of a whole cluster (Prometheus text, parsed by
 * tita/promtext.h, every sample carrying instance="..."), the ranked
 * suspects: which host is slow, whose NIC is slow or storms PFC pauses,
 * which link drops or is slow, which host is dead, each with its evidence
 * and a confidence; or none ("healthy").
 *
 * Pure: the snapshots come in parsed, the answer goes out in fixed arrays
 * (strings copied), no I/O. The snapshots are oldest first; the last one
 * says who is up now.
 */
#ifndef TITA_DIAGNOSE_H
#define TITA_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/promtext.h"

enum tita_diag_kind {
	TITA_DIAG_HEALTHY = 0,
	TITA_DIAG_SLOW_HOST,
	TITA_DIAG_SLOW_NIC,
	TITA_DIAG_PFC_STORM,
	TITA_DIAG_LOSSY_LINK,
	TITA_DIAG_SLOW_LINK,
	TITA_DIAG_DEAD_HOST,
	TITA_DIAG_N_KINDS,
};

enum tita_diag_state {
	TITA_DIAG_OK = 0,
	TITA_DIAG_SLOW,
	TITA_DIAG_FAILED,
};

/* What a suspect is: a host, a host's link to its leaf, one leaf-spine
 * link, or a leaf's uplinks when the pairs do not say which spine. */
enum tita_diag_place {
	TITA_DIAG_AT_HOST = 0,
	TITA_DIAG_AT_HOST_LINK,
	TITA_DIAG_AT_LEAF_SPINE,
	TITA_DIAG_AT_LEAF_UPLINKS,
};

#define TITA_DIAG_NAME_MAX 128
#define TITA_DIAG_EVIDENCE_MAX 6
#define TITA_DIAG_EVIDENCE_LEN 160
#define TITA_DIAG_SUSPECTS_MAX 8

struct tita_diag_suspect {
	enum tita_diag_kind kind;
	enum tita_diag_state state;
	enum tita_diag_place place;
	char instance[TITA_DIAG_NAME_MAX]; /* the host, or the link's host */
	char leaf[TITA_DIAG_NAME_MAX]; /* a leaf-spine link's leaf, or the host's */
	char spine[TITA_DIAG_NAME_MAX]; /* a leaf-spine link's spine */
	/* The other leaf whose link to the same spine no pair line tells
	 * apart from this one (both named in culprit); "" when none. */
	char leaf_other[TITA_DIAG_NAME_MAX];
	char culprit[2 * TITA_DIAG_NAME_MAX + 16]; /* "h3", "host link of h3", "leaf l1 - spine 2" */
	double score; /* how far it stands out; ranks the suspects */
	double confidence; /* 0..1 */
	uint32_t n_evidence;
	char evidence[TITA_DIAG_EVIDENCE_MAX][TITA_DIAG_EVIDENCE_LEN];
};

struct tita_diag_result {
	uint32_t n_snapshots, n_instances, n_up;
	uint32_t n_suspects; /* 0: healthy, nothing stands out */
	struct tita_diag_suspect suspects[TITA_DIAG_SUSPECTS_MAX];
	/* Why nothing stands out, or what limited the answer ("3 samples
	 * without instance"), one line. */
	char note[TITA_DIAG_EVIDENCE_LEN];
};

/* Thresholds. Ratios are compared with the cluster's own median plus a
 * margin, so that a busy, congested but healthy cluster stays healthy. */
struct tita_diag_params {
	double ratio_margin; /* a host's ratio this far above the median stands out */
	double app_limited_margin; /* tx_app_limited: above the others' top (q90) by this */
	double blocked_margin; /* tx_blocked: above the others' top (q90) by this */
	double ce_margin; /* ce_ratio: above the others' top (q90) by this */
	double loss_floor; /* loss ratios below this are noise */
	double pause_floor_per_second; /* pause rates below this are noise */
	double pause_factor; /* a pause rate this many times the median stands out */
	double job_rate_factor; /* a rank below this share of its job's median is slow */
	double min_score; /* below this nobody is a suspect */
	/* Receivers' shortfall on pairs from one host above this, and this
	 * far above the next host's: its sending link is slow. */
	double rx_short_alone_floor, rx_short_alone_margin;
	/* A collective in lock-step (every host sends at one rate, within
	 * this ratio of the median, and nothing queues) that every receiver
	 * finds short of what it grants (the median host's shortfall above
	 * lockstep_short_floor) is held back by one member: the host that
	 * waits on its own link, application-limited this far above the
	 * others' top (q90) and the next host. */
	double lockstep_tx_spread_ratio, lockstep_short_floor, lockstep_app_margin;
	/* In lock-step, a host application-limited below this is not a
	 * slow application (it would keep its transfers waiting nearly
	 * always): past 2 lockstep_app_margin above the others' top, or
	 * past one where every receiver falls short, its link is slow. */
	double lockstep_app_host_floor;
	/* CE above the median on this many hosts or more, at least half as
	 * much as each other's, is a shared uplink's, not a host link's;
	 * the leaf-spine link through which the pairs into them fall short
	 * most (at least ce_uplink_floor per snapshot, ce_uplink_lead times
	 * the next link) is named. */
	uint32_t ce_hosts_uplink;
	double ce_uplink_floor, ce_uplink_lead;
	/* A sender blocked this many blocked_margins above the others' top
	 * and this many times the next host, toward peers on two paths or
	 * more, and not paused: its own NIC or link is slow. */
	double blocked_alone_margins, blocked_alone_lead;
	/* The one host marked at all (CE at least ce_alone_floor and
	 * ce_alone_lead times anyone else's) that also stands out on a
	 * second gauge by half its margin (blocked or short of its grants
	 * above the others' top, or its receivers short on its pairs above
	 * the next host's): its link is slow, however faint the mark. */
	double ce_alone_floor, ce_alone_lead;
	/* Summed over leaves and roles, a spine's shortfall
	 * (tita_health_spine_shortfall_ratio, each leaf's mean) above the
	 * median of the leaf's other spines: from spine_excess_floor, and
	 * spine_excess_lead times the next spine's, a link of that spine is
	 * slow (the leaf's whose excess through it is largest). */
	double spine_excess_floor, spine_excess_lead;
	/* ...and every leaf's receive side at least this above the median
	 * of its other spines through that spine. */
	double spine_excess_leaf_floor;
};

void tita_diag_params_default(struct tita_diag_params *p);

/*
 * Localizes from n snapshots (oldest first). 0, or -EINVAL (n == 0 or a
 * NULL), -ENOMEM. result->n_suspects == 0 means healthy.
 */
int tita_diag_run(const struct tita_prom_doc *const *snaps, size_t n,
		  const struct tita_diag_params *p, struct tita_diag_result *result);

const char *tita_diag_kind_name(enum tita_diag_kind k); /* "slow-host", ... */
const char *tita_diag_state_name(enum tita_diag_state s); /* "ok", "slow", "failed" */

#endif
