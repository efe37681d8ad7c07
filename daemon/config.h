/* SPDX-License-Identifier: MIT */
/*
 * titad's configuration: an INI file (/etc/tita/titad.conf) parsed from a
 * buffer with inih, every value range-checked, every error naming
 * file:line. Parsing is pure (no file, socket or clock), so it can be
 * fuzzed and unit-tested; what needs the system (the key file's owner and
 * mode, a netdev's address or speed) is checked by titad when it loads.
 *
 *   [daemon]      log-level, pacer, control-socket, control-group,
 *                 control-mode, control-clients, control-clients-per-uid,
 *                 control-idle-timeout, metrics-listen, metrics-pairs, pin-root, xdp-mode,
 *                 datapath-entries, queue-sampler, agent-socket, agents-per-uid,
 *                 agent-qps-per-uid, agent-qps, sysfs-root,
 *                 proc-root, qp-scan-interval, state-directory
 *   [controller]  interval, grant-ttl, refresh, eta, eta-min, fail-open,
 *                 start-rate, max-pairs, max-jobs
 *   [peers]       port, bind, key-file, key-id, static, max-peers, coalesce,
 *                 boot-id-skew, wire-version
 *   [health]      interval, pairs, pause-priority
 *   [port IFNAME] address, line-rate, eta          (one section per NIC)
 *   [job NAME]    dst, weight, min, max             (selector + policy)
 *
 * See systemd/titad.conf.example for every key with its default.
 */
#ifndef TITAD_CONFIG_H
#define TITAD_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/ctl.h"
#include "topology.h"
#include "units.h"

#define TITAD_CONFIG_PATH "/etc/tita/titad.conf"
#define TITAD_MAX_PORTS 16
#define TITAD_MAX_BIND 4
#define TITAD_MAX_STATIC_PEERS 256
#define TITAD_MAX_CONF_JOBS 64
#define TITAD_MAX_JOB_DST 32
#define TITAD_PATH_MAX 256
/* inih reads a line into a fixed buffer; longer lines are refused rather
 * than silently cut. */
#define TITAD_CONFIG_LINE_MAX 190
#define TITAD_CONFIG_BYTES_MAX (1024 * 1024)
/* Problems said about one file; more are counted. */
#define TITAD_CONFIG_ERRORS_MAX 20
/* qp-scan-interval: 0 (off), or this range. */
#define TITAD_QP_SCAN_MIN_NS (10 * TITA_NSEC_PER_MSEC)
#define TITAD_QP_SCAN_MAX_NS (600 * TITA_NSEC_PER_SEC)
#define TITAD_BOOT_ID_SKEW_DEFAULT_NS (300 * TITA_NSEC_PER_SEC)

enum titad_log_level {
	TITAD_LOG_ERR = 3,
	TITAD_LOG_WARNING = 4,
	TITAD_LOG_NOTICE = 5,
	TITAD_LOG_INFO = 6,
	TITAD_LOG_DEBUG = 7,
};

enum titad_pacer_kind {
	TITAD_PACER_TC = 0,
	TITAD_PACER_DRY_RUN,
	TITAD_PACER_QP, /* per QP, through the in-process agents */
	TITAD_PACER_DCB, /* per traffic class, DCB netlink max rate */
	/* qp when a port has a hardware RDMA device, else tc; resolved on the
	 * host by titad_autoconf() before anything runs. */
	TITAD_PACER_AUTO,
};

/* How an unpaced pair (no live grant: fail-open) is realised. */
enum titad_fail_open {
	TITAD_FAIL_OPEN_REMOVE = 0, /* remove the pacing rule */
	TITAD_FAIL_OPEN_LINE_RATE, /* keep the rule at line rate (less churn) */
};

enum titad_xdp_mode {
	TITAD_XDP_AUTO = 0,
	TITAD_XDP_NATIVE,
	TITAD_XDP_GENERIC,
	TITAD_XDP_OFF,
};

struct titad_port_conf {
	char ifname[IF_NAMESIZE];
	bool addr_set; /* else the netdev's first global address */
	struct tita_addr addr;
	uint64_t line_rate_bps; /* 0: detect from the link */
	double eta; /* 0: [controller] eta */
	int line; /* of the section header, for errors found later */
};

struct titad_job_conf {
	char name[TITA_JOB_NAME_MAX + 1];
	uint32_t weight_milli;
	uint64_t min_bps, max_bps;
	int traffic_class; /* dcb pacer: 0..7, or -1 (none) */
	uint32_t n_dst;
	struct tita_prefix dst[TITAD_MAX_JOB_DST];
	int line;
};

#define TITAD_METRICS_PAIRS_ALL UINT32_MAX
/* [health] pairs: at most lib/health's TITA_HEALTH_WORST_MAX. */
#define TITAD_HEALTH_PAIRS_MAX 64

struct titad_config {
	char path[TITAD_PATH_MAX]; /* for messages */

	/* [daemon] */
	enum titad_log_level log_level;
	enum titad_pacer_kind pacer;
	char control_socket[108]; /* sun_path */
	char control_group[64]; /* "" : root only may change anything */
	uint32_t control_mode;
	/* Clients connected at once: in all, and per uid other than root's;
	 * a client that sends nothing for control_idle_timeout_ns is closed. */
	uint32_t control_clients, control_clients_per_uid;
	uint64_t control_idle_timeout_ns;
	char metrics_listen[64]; /* "host:port", "[v6]:port" or "" (off) */
	/* Pairs exported one by one (the largest by rate); every pair is in
	 * the per-port, per-job sums. TITAD_METRICS_PAIRS_ALL: all of them. */
	uint32_t metrics_pairs;
	char pin_root[TITAD_PATH_MAX];
	enum titad_xdp_mode xdp_mode;
	uint32_t datapath_entries; /* BPF table sizes; 0: the loader's choice */
	int queue_sampler; /* enum tita_bpf_queue_mode: auto 0, on 1, off 2 */
	bool loss_count; /* XDP follows PSNs and counts out-of-sequence packets */
	char agent_socket[108]; /* qp pacer: where the QP agents connect */
	/* qp pacer: what one local user may have titad hold, and all of them. */
	uint32_t agents_per_uid, agent_qps_per_uid, agent_qps;
	char sysfs_root[TITAD_PATH_MAX]; /* hw_counters, GID tables ("/sys") */
	char proc_root[TITAD_PATH_MAX]; /* /proc/<pid>/cgroup ("/proc") */
	uint64_t qp_scan_interval_ns; /* QP discovery through RDMA netlink; 0: off */
	/* The event loop's SCHED_FIFO priority (1..99); 0: the normal scheduler. */
	uint32_t sched_priority;
	/* Where the boot id's floor is kept across restarts; "": nowhere. */
	char state_directory[TITAD_PATH_MAX];

	/* [controller] */
	struct tita_ctl_params params;
	enum titad_fail_open fail_open;

	/* [peers] */
	uint16_t peer_port;
	uint32_t n_bind;
	struct tita_addr bind[TITAD_MAX_BIND];
	char key_file[TITAD_PATH_MAX];
	uint32_t key_id;
	uint32_t n_static;
	struct tita_addr static_peers[TITAD_MAX_STATIC_PEERS];
	uint32_t max_peers;
	/* After a read, peer sockets are next read this much later (0: as
	 * datagrams arrive): fewer wake-ups under load, bounded latency. */
	uint64_t peer_coalesce_ns;
	/* A peer's boot id more than this ahead of our wall clock is refused
	 * (a forged one, or a clock that is wrong). */
	uint64_t boot_id_skew_ns;
	/* The peer protocol's framing this node writes: 0 (auto: version 2
	 * to a peer that showed it decodes it, else 1), or 1 or 2 for
	 * every peer. Both are always decoded. */
	uint8_t wire_version;

	/* [health]: the evidence's interval, the worst pairs it names (K),
	 * and the PFC priority whose pause frames it counts. */
	uint64_t health_interval_ns;
	uint32_t health_pairs;
	uint32_t health_pause_priority;

	/* [fabric]: where the host sits (no topology file: nowhere known). */
	struct tita_fabric_conf fabric;

	uint32_t n_ports;
	struct titad_port_conf ports[TITAD_MAX_PORTS];
	uint32_t n_jobs;
	struct titad_job_conf jobs[TITAD_MAX_CONF_JOBS];
};

/* The defaults, before any file is read. */
void titad_config_defaults(struct titad_config *cfg);

/*
 * Parse buf (len bytes, need not be NUL-terminated) as the file `path` into
 * *ret_cfg. 0, or -EINVAL with every problem in err, one per line (at most
 * one per line of the file, TITAD_CONFIG_ERRORS_MAX in all), each as
 * "path:line: what is wrong" (or "path: ..." for a whole-file problem), in
 * the order of the file. *ret_cfg is untouched on failure.
 */
int titad_config_parse(const char *path, const char *buf, size_t len, struct titad_config *ret_cfg,
		       char *err, size_t err_size);

/* Read and parse a file (the only I/O here). Errors as above; a file that
 * cannot be read gives "path: strerror". */
int titad_config_load(const char *path, struct titad_config *ret_cfg, char *err, size_t err_size);
/* The same for --check-config: *ret_cfg is what parsed, also when
 * something did not (its ports and key file can then be checked too). */
int titad_config_load_check(const char *path, struct titad_config *ret_cfg, char *err,
			    size_t err_size);

/*
 * The table of keys with a numeric range, exposed so that the unit tests
 * walk every key's bounds. min/max are in the key's text form ("1us",
 * "10s", "0.05"); below_min/above_max are values just outside (NULL when
 * none exists in the key's syntax).
 */
struct titad_config_range {
	const char *section; /* "port eth0" stands for any [port X] */
	const char *key;
	const char *min, *max;
	const char *below_min, *above_max;
};

const struct titad_config_range *titad_config_ranges(size_t *ret_n);

const char *titad_log_level_name(enum titad_log_level l);
const char *titad_pacer_name(enum titad_pacer_kind k);

#endif /* TITAD_CONFIG_H */
