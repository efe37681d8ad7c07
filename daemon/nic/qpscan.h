/* SPDX-License-Identifier: MIT */
/*
 * QP discovery: one scan lists the RDMA devices and every device's QPs
 * (rdmanl.h), and names the job of each user QP's process from its cgroup
 * (cgroupjob.h). The last scan's result is kept, bounded, for titactl and
 * the metrics; titad runs a scan from a timer.
 *
 * PIDs are reused, so the PID -> job cache checks the process's start
 * time (field 22 of /proc/<pid>/stat) on every scan, and re-reads the
 * cgroup of a PID every few scans in case the process moved. Only the
 * PIDs of the last scan are cached.
 *
 * The scanner reads no clock and does not log: titad decides when to scan
 * (and how long to back off when RDMA netlink or devices are absent) and
 * reports what the stats say. The netlink side goes through a source of
 * function pointers, so that tests inject a fake one.
 */
#ifndef TITA_QPSCAN_H
#define TITA_QPSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rdmanl.h"

/* Devices one scan looks at. */
#define TITA_QPSCAN_MAX_DEVS 64
/* Job names as titad takes them (TITA_JOB_NAME_MAX). */
#define TITA_QPSCAN_JOB_NAME_MAX 63

/* Where devices and QPs come from; the default is RDMA netlink. Each
 * function returns 0 or -errno (-EPROTONOSUPPORT: no RDMA netlink). */
struct tita_qpscan_source {
	int (*list_devices)(void *ctx, struct tita_rdma_dev *out, size_t max, size_t *ret_n);
	int (*list_qps)(void *ctx, uint32_t dev_index, tita_rdma_qp_fn fn, void *fn_ctx,
			struct tita_rdma_parse_stats *stats);
	void *ctx;
};

/* tita_rdma_list_devices() and tita_rdma_list_qps(). */
extern const struct tita_qpscan_source tita_qpscan_rdma_source;

struct tita_qpscan_conf {
	const struct tita_qpscan_source *source; /* NULL: tita_qpscan_rdma_source */
	const char *proc_root; /* NULL: "/proc"; copied */
	uint32_t max_qps; /* QPs kept per scan; 0: 8192 */
	uint32_t max_pids; /* PIDs cached; 0: 4096 */
	uint32_t cache_scans; /* a cached job is re-read after this many scans; 0: 5 */
};

enum tita_qpscan_state {
	TITA_QPSCAN_NEVER = 0, /* no scan yet */
	TITA_QPSCAN_OK, /* devices listed (some dumps may have failed: see errors) */
	TITA_QPSCAN_NO_NETLINK, /* the kernel has no RDMA netlink (no ib_core) */
	TITA_QPSCAN_NO_DEVICES, /* RDMA netlink, but no device */
	TITA_QPSCAN_FAILED, /* the device dump failed */
};

/* Scan errors, counted by reason. */
enum tita_qpscan_error {
	TITA_QPSCAN_E_DEVICES = 0, /* the device dump failed (not for absence) */
	TITA_QPSCAN_E_QPS, /* a device's QP dump failed */
	TITA_QPSCAN_E_MALFORMED, /* QP entries skipped as malformed */
	TITA_QPSCAN_E_PROC, /* a process's stat or cgroup could not be read */
	TITA_QPSCAN_E_COUNT,
};

/* One QP of the last scan. */
struct tita_qpscan_qp {
	uint32_t dev; /* position in tita_qpscan_devices() */
	uint32_t port; /* 0: not bound to a port yet */
	uint32_t lqpn, rqpn;
	uint32_t pid;
	uint8_t type, state; /* as tita_rdma_qp_type_name(), _state_name() */
	bool has_rqpn, has_pid;
	char kern_name[32]; /* kernel QPs: the owner, e.g. "ib_core"; else "" */
	char job[TITA_QPSCAN_JOB_NAME_MAX + 1]; /* "": none (kernel QP, no job found) */
};

/* A job seen on the last scan's QPs. */
struct tita_qpscan_job {
	char name[TITA_QPSCAN_JOB_NAME_MAX + 1];
	uint32_t qps;
};

struct tita_qpscan_stats {
	enum tita_qpscan_state state;
	int last_error; /* -errno of the last failed dump or read, or 0 */
	uint64_t scans;
	uint32_t devices;
	uint32_t qps_found; /* in the last scan, cut ones included */
	uint32_t qps_cut; /* found beyond max_qps: not kept */
	uint32_t pids; /* distinct PIDs on the kept QPs */
	uint32_t pids_cached;
	uint64_t job_lookups; /* cgroup files read, since creation */
	uint64_t errors[TITA_QPSCAN_E_COUNT]; /* since creation */
};

/* NULL with errno (ENOMEM). */
struct tita_qpscan *tita_qpscan_new(const struct tita_qpscan_conf *conf);
/* Accepts NULL; returns NULL. */
struct tita_qpscan *tita_qpscan_free(struct tita_qpscan *s);

/* Another /proc (reload): empties the cache. 0 or -ENAMETOOLONG. */
int tita_qpscan_set_proc_root(struct tita_qpscan *s, const char *proc_root);

/*
 * Scan now, replacing the last result. 0 when the devices were listed
 * (per-device failures are counted, what came before them kept);
 * -EPROTONOSUPPORT without RDMA netlink, -ENODEV without devices, or the
 * device dump's -errno: the result is empty then.
 */
int tita_qpscan_run(struct tita_qpscan *s);

/* Forget the last result and the PID cache (scanning turned off). */
void tita_qpscan_clear(struct tita_qpscan *s);

/* The last result: QPs ordered by device, port and QPN; devices in the
 * kernel's order; jobs by name. Valid until the next run or clear. */
const struct tita_qpscan_qp *tita_qpscan_qps(const struct tita_qpscan *s, size_t *ret_n);
const struct tita_rdma_dev *tita_qpscan_devices(const struct tita_qpscan *s, size_t *ret_n);
const struct tita_qpscan_job *tita_qpscan_jobs(const struct tita_qpscan *s, size_t *ret_n);

void tita_qpscan_stats(const struct tita_qpscan *s, struct tita_qpscan_stats *ret);

/* "ok", "no_rdma_netlink", ...; "devices", "qps", "malformed", "proc". */
const char *tita_qpscan_state_name(enum tita_qpscan_state st);
const char *tita_qpscan_error_name(enum tita_qpscan_error e);

/* <proc_root>/<pid>/stat's start time (clock ticks since boot): 0, -ESRCH
 * when the process is gone, -EBADMSG, or the read's -errno. */
int tita_proc_start_time(const char *proc_root, uint32_t pid, uint64_t *ret_ticks);

#endif /* TITA_QPSCAN_H */
