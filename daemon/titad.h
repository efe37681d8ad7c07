/* SPDX-License-Identifier: MIT */
/*
 * titad's state, shared by its modules (peer.c, control.c, metrics.c and
 * titad.c, which owns it). One instance per process; every module runs on
 * the event loop's thread.
 */
#ifndef TITAD_H
#define TITAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "event.h"
#include "log.h"
#include "niccounters.h"
#include "pacer.h"
#include "qpscan.h"
#include "tita/ctl.h"
#include "wire.h"

struct tita_bpf;
struct tita_bpf_reader;
struct tita_bpf_snapshot;

/* Jobs known by name: from [job] sections, titactl, and QP discovery. */
#define TITAD_MAX_JOBS 1024

/* A histogram with fixed upper bounds in seconds, Prometheus style. */
#define TITAD_HIST_BUCKETS 20
struct titad_hist {
	const double *bounds_s; /* TITAD_HIST_BUCKETS ascending; +Inf implied */
	uint64_t counts[TITAD_HIST_BUCKETS + 1]; /* not cumulative */
	uint64_t count;
	double sum_s;
};

void titad_hist_observe(struct titad_hist *h, uint64_t ns);
/* Linear interpolation inside the bucket, as histogram_quantile() does. */
double titad_hist_quantile(const struct titad_hist *h, double q);

struct titad_port {
	char ifname[IF_NAMESIZE];
	int ifindex;
	struct tita_addr addr;
	uint64_t line_rate_bps;
	bool line_rate_detected;
	struct tita_bpf *bpf;
	struct tita_bpf_reader *reader;
	/* The RDMA device's hw_counters (hardware RoCE bypasses the
	 * datapath); nic_ok: the last read found the device. */
	struct tita_nic_reader *nic;
	struct tita_nic_sample nic_sample;
	bool nic_ok;
	/* The read before, for the controller's port samples. */
	struct tita_nic_sample nic_prev;
	uint64_t nic_prev_ns;
	bool nic_prev_ok;
	const struct tita_bpf_snapshot *snap; /* the latest good read, or NULL */
	uint64_t read_errors;
};

struct titad_job {
	char name[TITA_JOB_NAME_MAX + 1];
	uint32_t id;
	bool in_config; /* has a [job] section (selector) */
	bool set_by_ctl; /* titactl changed its policy */
	bool discovered; /* added by QP discovery, nothing else names it */
	uint32_t qps; /* its QPs in the last QP scan */
	uint64_t last_seen_scan; /* the last QP scan that saw it (0: none) */
	uint32_t n_dst;
	struct tita_prefix dst[TITAD_MAX_JOB_DST];
};

struct titad_peer {
	struct titad_peer *next; /* hash chain */
	struct tita_addr addr;
	bool known; /* static, seen in telemetry, or authenticated */
	bool is_static;
	bool heard; /* an authenticated datagram arrived */
	uint64_t created_ns, last_heard_ns, last_active_ns;
	uint64_t boot_id;
	struct tita_wire_replay replay;
	uint64_t dgrams_in, dgrams_out, drops;
	uint64_t drops_by_reason[TITA_WIRE_E_COUNT];
	uint64_t control_interval_ns, grant_ttl_ns; /* from its hello */
	uint64_t next_hello_ns;
	uint64_t demand_pending_ns; /* a new pair's demand waits for its grant */
	struct tita_ratelimit rl;
};

struct titad_peers;
struct titad_control;
struct titad_metrics;

struct titad {
	char config_path[TITAD_PATH_MAX];
	struct titad_config cfg;

	struct tita_event *ev;
	/* t_round: the controller's rounds (and the BPF reads before them);
	 * t_ctl: its earlier deadlines. */
	struct tita_timer *t_ctl, *t_round, *t_housekeeping, *t_metrics;
	struct tita_ctl *ctl;
	struct tita_pacer *pacer;
	struct titad_peers *peers;
	struct titad_control *control;
	struct titad_metrics *metrics;

	uint32_t n_ports;
	struct titad_port ports[TITAD_MAX_PORTS];

	uint32_t n_jobs;
	struct titad_job jobs[TITAD_MAX_JOBS];

	struct tita_wire_keyring keyring;
	struct tita_wire_sender sender;
	uint64_t start_ns;
	gid_t control_gid;
	bool control_gid_set;

	/* Counters for titactl and metrics. */
	struct titad_hist loop_hist; /* control loop: telemetry + advance + I/O */
	struct titad_hist grant_hist; /* a new pair's demand in → its grant out */
	uint64_t reloads_ok, reloads_failed;
	uint64_t rate_errors;
	struct tita_ratelimit rate_err_rl;
	uint64_t watchdog_usec;
	struct tita_event_source *agents_src; /* qp pacer: the agents' socket */
	uint64_t nic_read_ns; /* last hw_counters read */

	/* QP discovery (qp-scan-interval): NULL while off. */
	struct tita_qpscan *qpscan;
	struct tita_timer *t_qpscan;
	uint64_t qpscan_last_ns; /* when the last scan ran; 0: never */
	uint64_t qpscan_scans; /* scans run, across reloads (titad_job.last_seen_scan) */
	int qpscan_logged; /* the enum tita_qpscan_state last logged, or -1 */
	uint64_t qpscan_errors_logged; /* errors already reported */
	struct tita_ratelimit qpscan_rl;
	/* Jobs seen on QPs that the job table had no room for, or whose
	 * id collided with another job's: per scan, and in the last one. */
	uint64_t qpscan_jobs_full, qpscan_jobs_collided;
	uint32_t qpscan_unnamed;
};

/* Jobs (titad.c). */
struct titad_job *titad_job_find(struct titad *d, const char *name);
struct titad_job *titad_job_by_id(struct titad *d, uint32_t id);
/* Find or add; NULL with errno (ENOSPC, EEXIST on an id collision). */
struct titad_job *titad_job_get(struct titad *d, const char *name);
const char *titad_job_name(struct titad *d, uint32_t id, char *buf, size_t size);

/* QP discovery's state for titactl and the metrics: "off", or
 * tita_qpscan_state_name() of the last scan. */
const char *titad_qpscan_state(const struct titad *d);

/* Run the controller's outputs: pop rates into the pacer, messages onto the
 * wire, re-arm its timer. Called after anything that fed it. */
void titad_kick(struct titad *d, uint64_t now_ns);

/* peer.c */
int titad_peers_open(struct titad *d, char *err, size_t err_size);
void titad_peers_close(struct titad *d);
/* Find, or create when create is set (bounded; NULL when full). */
struct titad_peer *titad_peer_find(struct titad *d, const struct tita_addr *a);
struct titad_peer *titad_peer_get(struct titad *d, const struct tita_addr *a, bool known,
				  uint64_t now_ns);
void titad_peers_send_msg(struct titad *d, const struct tita_msg *m, uint64_t now_ns);
void titad_peers_housekeeping(struct titad *d, uint64_t now_ns);
void titad_peers_flush(struct titad *d);
/* Iteration for snapshots: fills up to max pointers, returns the count. */
size_t titad_peers_list(struct titad *d, struct titad_peer **out, size_t max);
size_t titad_peers_count(const struct titad *d);
struct titad_peer_totals {
	uint64_t dgrams_in, dgrams_out, send_errors, untracked_drops;
	uint64_t drops_by_reason[TITA_WIRE_E_COUNT];
};
void titad_peers_totals(const struct titad *d, struct titad_peer_totals *ret);
/* Re-read the static peers of a reloaded config. */
void titad_peers_reconfigure(struct titad *d, uint64_t now_ns);

/* control.c */
int titad_control_open(struct titad *d, char *err, size_t err_size);
void titad_control_close(struct titad *d);

/* metrics.c */
int titad_metrics_open(struct titad *d, char *err, size_t err_size);
void titad_metrics_close(struct titad *d);
/* Render the Prometheus text exposition into a malloc'ed buffer. */
char *titad_metrics_render(struct titad *d, size_t *ret_len);

#endif /* TITAD_H */
