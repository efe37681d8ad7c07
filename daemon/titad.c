// SPDX-License-Identifier: MIT
/*
 * titad: measure (the BPF datapath), coordinate (peers over UDP), pace (a
 * back end), report (titactl, Prometheus, sd_notify). This file wires the
 * modules together: start-up, the timers, reload and an orderly exit.
 *
 * One control-loop pass (the round timer, on the controller's fixed
 * cadence, which the event loop's periodic timerfd keeps armed): read every
 * port's BPF counters, hand them to the controller as samples, run the
 * round, then program what it popped and send what it queued. A burst of
 * peer datagrams wakes the loop once; while more keep coming, the sockets
 * are polled every `coalesce` (peer.c), and the demands read are granted
 * in the same wake-up. titactl requests are handled as they arrive. Both
 * kick the controller the same way.
 *
 * QP discovery runs from its own timer (qp-scan-interval): every job seen
 * on a QP joins the job table, so that titactl can name it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cgroupjob.h"
#include "clock.h"
#include "pacer_nic.h"
#include "tita-config.h"
#include "tita_bpf.h"
#include "titad.h"
#include "units.h"

#define HOUSEKEEPING_NS (1 * TITA_NSEC_PER_SEC)
/* Without RDMA netlink or devices, a scan finds nothing until a driver
 * loads: look again this often, not every interval. */
#define QPSCAN_ABSENT_RETRY_NS (30 * TITA_NSEC_PER_SEC)
/* What only metrics and slow signals need (NIC hw_counters, drop reasons)
 * is read every 100 ms, not every control interval. */
#define NIC_READ_INTERVAL_NS (100 * TITA_NSEC_PER_MSEC)

_Static_assert(TITA_QPSCAN_JOB_NAME_MAX == TITA_JOB_NAME_MAX,
	       "QP discovery names jobs as titactl does");

/* 10 us .. 1 s: control passes take tens of microseconds, a grant answers
 * within a control interval (1 ms by default). */
static const double hist_bounds_s[TITAD_HIST_BUCKETS] = {
	10e-6, 25e-6,  50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 750e-6,
	1e-3,  1.5e-3, 2e-3,  3e-3,  5e-3,   10e-3,  25e-3,  100e-3, 250e-3, 1.0,
};

void titad_hist_observe(struct titad_hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;

	while (i < TITAD_HIST_BUCKETS && s > h->bounds_s[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum_s += s;
}

double titad_hist_quantile(const struct titad_hist *h, double q)
{
	double rank = q * (double)h->count, lo = 0;
	uint64_t cum = 0;

	if (!h->count)
		return 0;
	for (int i = 0; i <= TITAD_HIST_BUCKETS; i++) {
		uint64_t c = h->counts[i];

		if (i == TITAD_HIST_BUCKETS)
			return h->bounds_s[TITAD_HIST_BUCKETS - 1];
		if ((double)(cum + c) >= rank && c)
			return lo + (h->bounds_s[i] - lo) * ((rank - (double)cum) / (double)c);
		cum += c;
		lo = h->bounds_s[i];
	}
	return lo;
}

/* ---- jobs ------------------------------------------------------------------ */

struct titad_job *titad_job_find(struct titad *d, const char *name)
{
	for (uint32_t i = 0; i < d->n_jobs; i++)
		if (!strcmp(d->jobs[i].name, name))
			return &d->jobs[i];
	return NULL;
}

struct titad_job *titad_job_by_id(struct titad *d, uint32_t id)
{
	for (uint32_t i = 0; i < d->n_jobs; i++)
		if (d->jobs[i].id == id)
			return &d->jobs[i];
	return NULL;
}

struct titad_job *titad_job_get(struct titad *d, const char *name)
{
	struct titad_job *j = titad_job_find(d, name);
	uint32_t id = tita_job_id(name);

	if (j)
		return j;
	if (titad_job_by_id(d, id) || (id == TITA_JOB_DEFAULT && strcmp(name, "default"))) {
		errno = EEXIST;
		return NULL;
	}
	if (d->n_jobs >= TITAD_MAX_JOBS) {
		errno = ENOSPC;
		return NULL;
	}
	j = &d->jobs[d->n_jobs++];
	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->id = id;
	return j;
}

const char *titad_job_name(struct titad *d, uint32_t id, char *buf, size_t size)
{
	const struct titad_job *j = titad_job_by_id(d, id);

	if (j)
		snprintf(buf, size, "%s", j->name);
	else if (id == TITA_JOB_DEFAULT)
		snprintf(buf, size, TITA_JOB_DEFAULT_NAME);
	else
		snprintf(buf, size, "job-%08x", id);
	return buf;
}

static uint32_t classify(struct titad *d, const struct tita_addr *remote)
{
	for (uint32_t i = 0; i < d->n_jobs; i++) {
		const struct titad_job *j = &d->jobs[i];

		for (uint32_t k = 0; j->in_config && k < j->n_dst; k++)
			if (tita_prefix_match(&j->dst[k], remote))
				return j->id;
	}
	return TITA_JOB_DEFAULT;
}

/* Selectors and policies of the config's [job] sections; a policy that
 * titactl set wins over the file until titactl clears it. */
static int apply_jobs(struct titad *d, const struct titad_config *cfg, char *err, size_t err_size)
{
	for (uint32_t i = 0; i < d->n_jobs; i++)
		d->jobs[i].in_config = false;
	for (uint32_t i = 0; i < cfg->n_jobs; i++) {
		const struct titad_job_conf *jc = &cfg->jobs[i];
		struct titad_job *j = titad_job_get(d, jc->name);
		struct tita_job pol = { .weight_milli = jc->weight_milli,
					.min_bps = jc->min_bps,
					.max_bps = jc->max_bps };
		int r;

		if (!j) {
			snprintf(err, err_size, "%s:%d: [job %s]: %s", cfg->path, jc->line,
				 jc->name,
				 errno == EEXIST ? "its id collides with a job set by titactl" :
						   "too many jobs");
			return -errno;
		}
		j->in_config = true;
		j->n_dst = jc->n_dst;
		memcpy(j->dst, jc->dst, jc->n_dst * sizeof(jc->dst[0]));
		if (j->set_by_ctl)
			continue;
		r = tita_ctl_job_set(d->ctl, j->id, &pol);
		if (r) {
			snprintf(err, err_size, "%s:%d: [job %s]: the controller refused it: %s",
				 cfg->path, jc->line, jc->name, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* ---- QP discovery ------------------------------------------------------------------ */

const char *titad_qpscan_state(const struct titad *d)
{
	struct tita_qpscan_stats st;

	if (!d->qpscan || !d->cfg.qp_scan_interval_ns)
		return "off";
	tita_qpscan_stats(d->qpscan, &st);
	return tita_qpscan_state_name(st.state);
}

/*
 * The table is full: forget the discovered job whose QPs have been gone
 * the longest. Jobs with a [job] section or a titactl policy stay, and so
 * does every job the latest scan saw. false when none may go.
 */
static bool evict_discovered_job(struct titad *d, uint64_t scan)
{
	uint32_t best = UINT32_MAX;

	for (uint32_t i = 0; i < d->n_jobs; i++) {
		const struct titad_job *j = &d->jobs[i];

		if (!j->discovered || j->in_config || j->set_by_ctl || j->last_seen_scan == scan)
			continue;
		if (best == UINT32_MAX || j->last_seen_scan < d->jobs[best].last_seen_scan)
			best = i;
	}
	if (best == UINT32_MAX)
		return false;
	log_info("job %s: forgotten to make room in the job table (on no QP for %llu scan(s))",
		 d->jobs[best].name, (unsigned long long)(scan - d->jobs[best].last_seen_scan));
	d->jobs[best] = d->jobs[--d->n_jobs];
	return true;
}

/* Every job of the last scan into the job table, with its QP count. */
static void qpscan_register_jobs(struct titad *d, uint64_t scan)
{
	size_t n = 0;
	const struct tita_qpscan_job *jobs = d->qpscan ? tita_qpscan_jobs(d->qpscan, &n) : NULL;
	const char *first_unnamed = NULL;
	uint32_t unnamed = 0;
	bool full = false;

	for (uint32_t i = 0; i < d->n_jobs; i++)
		d->jobs[i].qps = 0;
	/* Known jobs first, so that making room never evicts one this scan
	 * saw. */
	for (size_t i = 0; i < n; i++) {
		struct titad_job *j = titad_job_find(d, jobs[i].name);

		if (j) {
			j->qps = jobs[i].qps;
			j->last_seen_scan = scan;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct titad_job *j;

		if (titad_job_find(d, jobs[i].name))
			continue;
		j = titad_job_get(d, jobs[i].name);
		if (!j && errno == ENOSPC && evict_discovered_job(d, scan))
			j = titad_job_get(d, jobs[i].name);
		if (!j) {
			/* Counted at every scan that finds it; said once. */
			if (errno == ENOSPC) {
				d->qpscan_jobs_full++;
				full = true;
			} else {
				d->qpscan_jobs_collided++;
			}
			if (!unnamed++)
				first_unnamed = jobs[i].name;
			continue;
		}
		j->discovered = true;
		j->qps = jobs[i].qps;
		j->last_seen_scan = scan;
		log_info("job %s: discovered on %u QP(s)", j->name, j->qps);
	}
	if (unnamed && !d->qpscan_unnamed)
		log_warning("QP discovery: %u job(s) on QPs, %s among them, cannot be named: %s",
			    unnamed, first_unnamed,
			    full ? "the job table is full of jobs with a policy or QPs" :
				   "their ids collide with other jobs'");
	d->qpscan_unnamed = unnamed;
}

/* What changed since the last scan, once: absence at notice level (it is
 * how most hosts without RDMA look), failures as warnings. */
static void qpscan_report(struct titad *d, int r, const struct tita_qpscan_stats *st,
			  uint64_t now_ns)
{
	uint64_t errors = 0, held;

	for (int e = 0; e < TITA_QPSCAN_E_COUNT; e++)
		errors += st->errors[e];
	if ((int)st->state != d->qpscan_logged) {
		d->qpscan_logged = (int)st->state;
		switch (st->state) {
		case TITA_QPSCAN_NO_NETLINK:
			log_notice(
				"QP discovery: the kernel has no RDMA netlink (ib_core is not "
				"loaded): no QPs to list; looking again every %llus",
				(unsigned long long)(QPSCAN_ABSENT_RETRY_NS / TITA_NSEC_PER_SEC));
			break;
		case TITA_QPSCAN_NO_DEVICES:
			log_notice(
				"QP discovery: no RDMA device; looking again every %llus",
				(unsigned long long)(QPSCAN_ABSENT_RETRY_NS / TITA_NSEC_PER_SEC));
			break;
		case TITA_QPSCAN_FAILED:
			log_warning("QP discovery: listing the RDMA devices: %s", strerror(-r));
			break;
		case TITA_QPSCAN_OK:
			log_notice("QP discovery: %u RDMA device(s), %u QP(s) of %u process(es)",
				   st->devices, st->qps_found, st->pids);
			break;
		default:
			break;
		}
	}
	/* Dumps and /proc reads that failed: counted in the metrics, said
	 * at most a few times a minute. */
	if (errors > d->qpscan_errors_logged && st->last_error &&
	    tita_ratelimit_ok(&d->qpscan_rl, now_ns, 60 * TITA_NSEC_PER_SEC, 5, &held)) {
		log_warning("QP discovery: %llu error(s) since the last report, the last: %s",
			    (unsigned long long)(errors - d->qpscan_errors_logged),
			    strerror(-st->last_error));
		d->qpscan_errors_logged = errors;
	}
}

static void on_qpscan(void *data, uint64_t now_ns)
{
	struct titad *d = data;
	struct tita_qpscan_stats st;
	uint64_t next;
	int r;

	if (!d->qpscan || !d->cfg.qp_scan_interval_ns)
		return;
	r = tita_qpscan_run(d->qpscan);
	d->qpscan_last_ns = tita_clock_mono_ns();
	d->qpscan_scans++;
	tita_qpscan_stats(d->qpscan, &st);
	qpscan_report(d, r, &st, now_ns);
	qpscan_register_jobs(d, d->qpscan_scans);
	next = d->cfg.qp_scan_interval_ns;
	if ((st.state == TITA_QPSCAN_NO_NETLINK || st.state == TITA_QPSCAN_NO_DEVICES) &&
	    next < QPSCAN_ABSENT_RETRY_NS)
		next = QPSCAN_ABSENT_RETRY_NS;
	tita_event_timer_set(d->ev, d->t_qpscan, d->qpscan_last_ns + next);
}

/*
 * Start, stop or re-time QP discovery after the config changed (old_* are
 * the previous values; old_interval_ns is 0 at start). A scanner that
 * cannot be made is logged and leaves titad without discovery, never
 * without the rest.
 */
static void qpscan_apply(struct titad *d, uint64_t old_interval_ns, const char *old_proc_root)
{
	struct tita_qpscan_conf qc = { .proc_root = d->cfg.proc_root };
	uint64_t now = tita_clock_mono_ns(), next;

	if (!d->cfg.qp_scan_interval_ns) {
		/* The scanner stays, its counters with it: only its result
		 * goes. */
		if (d->qpscan && old_interval_ns)
			log_notice("QP discovery: off");
		if (d->qpscan)
			tita_qpscan_clear(d->qpscan);
		d->qpscan_logged = -1;
		d->qpscan_last_ns = 0;
		tita_event_timer_set(d->ev, d->t_qpscan, TITA_TIME_NEVER);
		qpscan_register_jobs(d, d->qpscan_scans);
		return;
	}
	if (!d->qpscan) {
		d->qpscan = tita_qpscan_new(&qc);
		if (!d->qpscan) {
			log_err("QP discovery: %s; jobs are not discovered", strerror(errno));
			return;
		}
	} else if (old_proc_root && strcmp(old_proc_root, d->cfg.proc_root)) {
		tita_qpscan_set_proc_root(d->qpscan, d->cfg.proc_root);
	}
	if (!old_interval_ns || !d->qpscan_last_ns) {
		d->qpscan_logged = -1;
		tita_event_timer_set(d->ev, d->t_qpscan, now);
		return;
	}
	if (old_interval_ns == d->cfg.qp_scan_interval_ns)
		return;
	/* A new interval counts from the last scan; a back-off stays. */
	next = d->qpscan_last_ns + d->cfg.qp_scan_interval_ns;
	if (d->qpscan_logged == TITA_QPSCAN_NO_NETLINK ||
	    d->qpscan_logged == TITA_QPSCAN_NO_DEVICES) {
		if (next < d->qpscan_last_ns + QPSCAN_ABSENT_RETRY_NS)
			next = d->qpscan_last_ns + QPSCAN_ABSENT_RETRY_NS;
	}
	tita_event_timer_set(d->ev, d->t_qpscan, next > now ? next : now);
}

/* ---- the key file ---------------------------------------------------------------- */

/*
 * The cluster key: 64 hex digits (32 bytes), whitespace and '#' comment
 * lines ignored. Refused unless it is a regular file owned by root that
 * neither group nor others may read or write: whoever reads it can forge
 * every grant in the cluster.
 */
static int load_key(const struct titad_config *cfg, struct tita_wire_keyring *ret_kr, char *err,
		    size_t err_size)
{
	uint8_t key[TITA_WIRE_KEY_BYTES];
	char text[1024];
	struct stat st;
	size_t nhex = 0;
	ssize_t n;
	int fd, r;
	bool comment = false;

	fd = open(cfg->key_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_size, "key file %s: %s", cfg->key_file, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_size, "key file %s: not a regular file", cfg->key_file);
		return -EINVAL;
	}
	if (st.st_uid != 0) {
		close(fd);
		snprintf(err, err_size, "key file %s: owned by uid %u, not root; chown root",
			 cfg->key_file, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & 0077) {
		close(fd);
		snprintf(err, err_size,
			 "key file %s: mode %04o lets group or others at the cluster secret; "
			 "chmod 600",
			 cfg->key_file, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		r = -errno;
		snprintf(err, err_size, "key file %s: %s", cfg->key_file, strerror(errno));
		return r;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = text[i];
		int v;

		if (ch == '\n') {
			comment = false;
			continue;
		}
		if (comment || ch == ' ' || ch == '\t' || ch == '\r')
			continue;
		if (ch == '#') {
			comment = true;
			continue;
		}
		v = ch >= '0' && ch <= '9' ? ch - '0' :
		    ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
		    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 :
					     -1;
		if (v < 0 || nhex >= 2 * TITA_WIRE_KEY_BYTES) {
			sodium_memzero(text, sizeof(text));
			sodium_memzero(key, sizeof(key));
			snprintf(err, err_size, "key file %s: expected %d hex digits",
				 cfg->key_file, 2 * TITA_WIRE_KEY_BYTES);
			return -EINVAL;
		}
		if (nhex % 2 == 0)
			key[nhex / 2] = (uint8_t)(v << 4);
		else
			key[nhex / 2] |= (uint8_t)v;
		nhex++;
	}
	sodium_memzero(text, sizeof(text));
	if (nhex != 2 * TITA_WIRE_KEY_BYTES) {
		sodium_memzero(key, sizeof(key));
		snprintf(err, err_size, "key file %s: expected %d hex digits, found %zu",
			 cfg->key_file, 2 * TITA_WIRE_KEY_BYTES, nhex);
		return -EINVAL;
	}
	tita_wire_keyring_init(ret_kr);
	tita_wire_keyring_add(ret_kr, cfg->key_id, key);
	sodium_memzero(key, sizeof(key));
	return 0;
}

/* Everything that makes a config acceptable, file and system. */
static int load_all(const char *path, struct titad_config *cfg, struct tita_wire_keyring *kr,
		    char *err, size_t err_size)
{
	int r = titad_config_load(path, cfg, err, err_size);

	if (r)
		return r;
	return load_key(cfg, kr, err, err_size);
}

/* ---- ports ------------------------------------------------------------------------ */

static int port_address(const char *ifname, struct tita_addr *ret)
{
	struct ifaddrs *ifa, *i;
	bool have6 = false;
	struct tita_addr a6 = { { 0 } };

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			*ret = tita_addr_from_ipv4(
				(const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr);
			freeifaddrs(ifa);
			return 0;
		}
		if (i->ifa_addr->sa_family == AF_INET6 && !have6) {
			const struct in6_addr *in6 =
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(in6))
				continue;
			memcpy(a6.bytes, in6, 16);
			have6 = true;
		}
	}
	freeifaddrs(ifa);
	if (!have6)
		return -EADDRNOTAVAIL;
	*ret = a6;
	return 0;
}

/* The link's speed in bit/s from sysfs (ethtool's view), or 0. */
static uint64_t link_speed_bps(const char *ifname)
{
	char path[128], buf[32];
	long mbps;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	mbps = strtol(buf, NULL, 10);
	return mbps > 0 ? (uint64_t)mbps * TITA_MBPS : 0;
}

static void bpf_log(void *userdata, const char *msg)
{
	log_debug("%s: %s", (const char *)userdata, msg);
}

static int ports_open(struct titad *d, char *err, size_t err_size)
{
	for (uint32_t i = 0; i < d->cfg.n_ports; i++) {
		const struct titad_port_conf *pc = &d->cfg.ports[i];
		struct titad_port *p = &d->ports[i];
		char bpf_err[256] = "";
		struct tita_bpf_opts o = {
			.ifname = pc->ifname,
			.pin_root = d->cfg.pin_root,
			.xdp_mode = (enum tita_bpf_xdp_mode)d->cfg.xdp_mode,
			/* Every read walks whole tables: size them to the peers a
			 * host has, not to the loader's 16 MiB default. */
			.rx_qp4_entries = d->cfg.datapath_entries,
			.rx_qp6_entries = d->cfg.datapath_entries,
			.tx_peer_entries = d->cfg.datapath_entries,
			.tx_class_entries = d->cfg.datapath_entries,
			.queue_mode = (enum tita_bpf_queue_mode)d->cfg.queue_sampler,
			.err_buf = bpf_err,
			.err_len = sizeof(bpf_err),
			.log = bpf_log,
			.log_userdata = p->ifname,
		};
		int r;

		snprintf(p->ifname, sizeof(p->ifname), "%s", pc->ifname);
		p->ifindex = (int)if_nametoindex(pc->ifname);
		if (!p->ifindex) {
			snprintf(err, err_size, "%s:%d: [port %s]: no such network device",
				 d->cfg.path, pc->line, pc->ifname);
			return -ENODEV;
		}
		if (pc->addr_set) {
			p->addr = pc->addr;
		} else {
			r = port_address(pc->ifname, &p->addr);
			if (r) {
				snprintf(
					err, err_size,
					"%s:%d: [port %s]: no address given and the device has none",
					d->cfg.path, pc->line, pc->ifname);
				return r;
			}
		}
		p->line_rate_bps = pc->line_rate_bps;
		if (!p->line_rate_bps) {
			p->line_rate_bps = link_speed_bps(pc->ifname);
			p->line_rate_detected = true;
			if (!p->line_rate_bps) {
				snprintf(
					err, err_size,
					"%s:%d: [port %s]: no line-rate given and the link reports "
					"no speed",
					d->cfg.path, pc->line, pc->ifname);
				return -EINVAL;
			}
		}
		d->n_ports = i + 1;
		p->bpf = tita_bpf_attach(&o);
		if (!p->bpf) {
			r = -errno;
			snprintf(err, err_size, "%s: attaching the datapath: %s", pc->ifname,
				 bpf_err[0] ? bpf_err : strerror(-r));
			return r;
		}
		p->reader = tita_bpf_reader_new(p->bpf);
		if (!p->reader) {
			r = -errno;
			snprintf(err, err_size, "%s: BPF reader: %s", pc->ifname, strerror(-r));
			return r;
		}
		/* Drop reasons and queue figures only reach the metrics. */
		tita_bpf_reader_set_slow_interval(p->reader, NIC_READ_INTERVAL_NS);
		r = tita_ctl_port_add(d->ctl, &p->addr, p->line_rate_bps);
		if (r) {
			snprintf(err, err_size, "%s: the controller refused the port: %s",
				 pc->ifname, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void ports_close(struct titad *d)
{
	for (uint32_t i = 0; i < d->n_ports; i++) {
		struct titad_port *p = &d->ports[i];
		int r;

		p->reader = tita_bpf_reader_free(p->reader);
		p->nic = tita_nic_reader_free(p->nic);
		p->snap = NULL;
		if (!p->bpf)
			continue;
		r = tita_bpf_detach(p->bpf);
		if (r)
			log_err("%s: detaching the datapath: %s", p->ifname, strerror(-r));
		p->bpf = tita_bpf_free(p->bpf);
	}
}

/* ---- the control loop --------------------------------------------------------------- */

void titad_kick(struct titad *d, uint64_t now_ns)
{
	struct tita_rate_update u;
	struct tita_msg m;

	/* An early allocation already due (demands just read, batched by the
	 * socket's coalescing) runs here, in this wake-up; a round waits for
	 * its timer, which reads the datapath first. */
	if (tita_ctl_next_deadline_ns(d->ctl) <= now_ns && now_ns < tita_ctl_next_round_ns(d->ctl))
		tita_ctl_advance(d->ctl, now_ns);
	while (tita_ctl_pop_rate(d->ctl, &u)) {
		uint64_t rate = u.rate_bps;
		int r;

		if (rate == TITA_RATE_UNPACED && d->cfg.fail_open == TITAD_FAIL_OPEN_LINE_RATE) {
			const struct tita_pacer_port *pt = tita_pacer_port(d->pacer, &u.local);

			if (pt)
				rate = pt->line_rate_bps;
		}
		/* With a message's unscheduled first bytes where the back end
		 * can let them go unpaced (tc); the rate alone elsewhere. */
		r = tita_pacer_apply_update(d->pacer, &u, rate);
		if (r) {
			uint64_t held;

			d->rate_errors++;
			if (tita_ratelimit_ok(&d->rate_err_rl, now_ns, 10 * TITA_NSEC_PER_SEC, 5,
					      &held)) {
				char l[TITA_ADDR_STRLEN], rm[TITA_ADDR_STRLEN];

				log_err("pacer %s: %s -> %s: %s (%llu more not logged)",
					d->pacer->ops->name,
					tita_format_addr(&u.local, l, sizeof(l)),
					tita_format_addr(&u.remote, rm, sizeof(rm)), strerror(-r),
					(unsigned long long)held);
			}
		}
	}
	while (tita_ctl_pop_msg(d->ctl, &m))
		titad_peers_send_msg(d, &m, now_ns);
	titad_peers_flush(d);
	/* The round timer follows the controller's cadence, which the event
	 * loop's periodic timerfd already has armed; t_ctl only wakes the loop
	 * for a deadline before it (a new demand's early allocation). */
	if (d->t_round) { /* made after the peer sockets */
		uint64_t round = tita_ctl_next_round_ns(d->ctl);
		uint64_t due = tita_ctl_next_deadline_ns(d->ctl);

		tita_event_timer_set(d->ev, d->t_round, round);
		tita_event_timer_set(d->ev, d->t_ctl, due < round ? due : TITA_TIME_NEVER);
	}
}

static void feed_port(struct titad *d, struct titad_port *p, const struct tita_bpf_snapshot *s,
		      uint64_t now_ns)
{
	for (size_t i = 0; i < s->n_rx_peers; i++) {
		const struct tita_bpf_rx_peer *rp = &s->rx_peers[i];
		struct tita_rx_sample rs;

		if (!rp->delta.packets)
			continue;
		tita_bpf_rx_sample(s, rp, &p->addr, &rs);
		tita_ctl_rx_sample(d->ctl, &rs, now_ns);
		titad_peer_get(d, &rp->remote, true, now_ns);
	}
	for (size_t i = 0; i < s->n_tx_peers; i++) {
		const struct tita_bpf_tx_peer *tp = &s->tx_peers[i];
		struct tita_tx_sample ts;
		uint64_t backlog_bytes = 0;

		/* Only RoCE is managed: the peer protocol's own datagrams, ARP
		 * and the rest of the host's traffic must not become pairs. */
		if (!tp->total.roce_packets)
			continue;
		/* What waits in the pacer's queue is demand the rate hides; tc
		 * egress counts packets as they enter that queue, so a sender
		 * that has stopped writing may still have its tail there, and
		 * its pair must not read as idle (its rate would fall to the
		 * floor with the tail still queued). */
		if (d->pacer->ops->backlog)
			d->pacer->ops->backlog(d->pacer, &p->addr, &tp->remote, now_ns,
					       &backlog_bytes);
		if (!tp->delta.roce_packets && !backlog_bytes)
			continue;
		tita_bpf_tx_sample(s, tp, &p->addr, classify(d, &tp->remote), &ts);
		/* Where an agent owns the pair's QPs its counters are the
		 * sender's samples (qp_tx_sample): counting the datapath's
		 * view of the same bytes as well would double the demand. */
		if (d->cfg.pacer == TITAD_PACER_QP &&
		    tita_pacer_qp_pair_bytes(d->pacer, &p->addr, &tp->remote, ts.job_id))
			continue;
		ts.tx_bytes = tp->delta.roce_bytes;
		ts.backlog_bytes = backlog_bytes;
		tita_ctl_tx_sample(d->ctl, &ts, now_ns);
		titad_peer_get(d, &tp->remote, true, now_ns);
	}
}

/* qp pacer: what the agents' QPs completed and still hold is the sender's
 * demand on hardware RoCE, and their remote addresses are peers. */
static void qp_tx_sample(const struct tita_tx_sample *s, void *ctx)
{
	struct titad *d = ctx;
	uint64_t now_ns = tita_clock_mono_ns();

	if (tita_ctl_tx_sample(d->ctl, s, now_ns) == 0)
		titad_peer_get(d, &s->remote, true, now_ns);
}

/* The NIC's port counters since the previous read, as the controller's
 * port sample: receive rate and CE fraction that hardware RoCE hides from
 * XDP. Needs port_rcv_packets and port_rcv_data in both reads; a NIC
 * without np_ecn_marked_roce_packets gives the rate with no CE. */
static void feed_nic_port(struct titad *d, struct titad_port *p, uint64_t now_ns)
{
	const struct tita_nic_sample *a = &p->nic_prev, *b = &p->nic_sample;
	uint32_t need = 1u << TITA_NIC_PORT_RCV_PACKETS | 1u << TITA_NIC_PORT_RCV_DATA;
	uint32_t ce_bit = 1u << TITA_NIC_ECN_MARKED_ROCE;
	struct tita_port_sample ps = { .local = p->addr };

	if (p->nic_prev_ok && (a->present & need) == need && (b->present & need) == need &&
	    now_ns > p->nic_prev_ns) {
		ps.interval_ns = now_ns - p->nic_prev_ns;
		ps.rx_packets =
			b->total[TITA_NIC_PORT_RCV_PACKETS] - a->total[TITA_NIC_PORT_RCV_PACKETS];
		/* IB counts port data in 4-octet words. */
		ps.rx_bytes =
			4 * (b->total[TITA_NIC_PORT_RCV_DATA] - a->total[TITA_NIC_PORT_RCV_DATA]);
		if ((a->present & ce_bit) && (b->present & ce_bit))
			ps.ce_packets = tita_min_u64(b->total[TITA_NIC_ECN_MARKED_ROCE] -
							     a->total[TITA_NIC_ECN_MARKED_ROCE],
						     ps.rx_packets);
		tita_ctl_port_sample(d->ctl, &ps, now_ns);
	}
	p->nic_prev = *b;
	p->nic_prev_ns = now_ns;
	p->nic_prev_ok = p->nic_ok;
}

/*
 * One control-loop pass: fresh samples first (unless a pass read them less
 * than half an interval ago), then the controller when due, then its
 * outputs. Both timers run a pass, so a round never runs on samples a
 * late timer did not deliver yet; a round without samples would read as
 * an idle interval and make demand decay.
 */
static uint64_t last_read_ns;

static void control_pass(struct titad *d)
{
	uint64_t t0 = tita_clock_mono_ns();

	if (d->cfg.pacer == TITAD_PACER_QP)
		tita_pacer_qp_process(d->pacer, t0);
	if (t0 - last_read_ns >= d->cfg.params.control_interval_ns / 2) {
		last_read_ns = t0;
		for (uint32_t i = 0; i < d->n_ports; i++) {
			struct titad_port *p = &d->ports[i];
			const struct tita_bpf_snapshot *s;
			int r;

			if (!p->reader)
				continue;
			r = tita_bpf_read(p->reader, t0, &s);
			if (r) {
				uint64_t held;

				p->read_errors++;
				if (tita_ratelimit_ok(&d->rate_err_rl, t0, 10 * TITA_NSEC_PER_SEC,
						      5, &held))
					log_err("%s: reading the BPF maps: %s", p->ifname,
						strerror(-r));
				continue;
			}
			p->snap = s;
			if (s->interval_ns)
				feed_port(d, p, s, t0);
		}
		if (d->cfg.pacer == TITAD_PACER_QP)
			tita_pacer_qp_tx_samples(d->pacer, t0, qp_tx_sample, d);
	}
	/* hw_counters: mlx5 refreshes them every `lifespan` (10 ms) at
	 * best, and each read is a dozen sysfs files: every 100 ms is what
	 * they can tell. A missing device is absent, never an error. */
	if (t0 - d->nic_read_ns >= NIC_READ_INTERVAL_NS) {
		d->nic_read_ns = t0;
		for (uint32_t i = 0; i < d->n_ports; i++) {
			struct titad_port *p = &d->ports[i];

			if (!p->nic)
				continue;
			p->nic_ok = tita_nic_reader_read(p->nic, &p->nic_sample) == 0;
			feed_nic_port(d, p, t0);
		}
	}
	if (tita_ctl_next_deadline_ns(d->ctl) <= tita_clock_mono_ns())
		tita_ctl_advance(d->ctl, tita_clock_mono_ns());
	titad_kick(d, tita_clock_mono_ns());
	titad_hist_observe(&d->loop_hist, tita_clock_mono_ns() - t0);
}

static void on_ctl_timer(void *data, uint64_t now_ns)
{
	(void)now_ns;
	control_pass(data);
}

static void notify_status(struct titad *d)
{
	char status[160];
	struct tita_ctl_stats st;

	tita_ctl_stats(d->ctl, &st);
	snprintf(status, sizeof(status), "STATUS=%u ports, %zu peers, %zu pairs, %s pacer",
		 d->n_ports, titad_peers_count(d), tita_ctl_n_pairs(d->ctl), d->pacer->ops->name);
	sd_notify(0, status);
}

static void on_housekeeping(void *data, uint64_t now_ns)
{
	struct titad *d = data;

	titad_peers_housekeeping(d, now_ns);
	notify_status(d);
	tita_event_timer_set(d->ev, d->t_housekeeping, now_ns + HOUSEKEEPING_NS);
}

static struct tita_timer *t_watchdog;

static void on_watchdog(void *data, uint64_t now_ns)
{
	struct titad *d = data;

	sd_notify(0, "WATCHDOG=1");
	tita_event_timer_set(d->ev, t_watchdog, now_ns + d->watchdog_usec * 1000 / 2);
}

/* ---- reload ------------------------------------------------------------------------- */

static bool same_addrs(const struct tita_addr *a, uint32_t na, const struct tita_addr *b,
		       uint32_t nb)
{
	if (na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++)
		if (!tita_addr_eq(&a[i], &b[i]))
			return false;
	return true;
}

/* What a running titad cannot change without a restart. "" when none. */
static const char *immutable_change(const struct titad_config *o, const struct titad_config *n)
{
	if (o->n_ports != n->n_ports)
		return "the set of [port] sections";
	for (uint32_t i = 0; i < o->n_ports; i++) {
		if (strcmp(o->ports[i].ifname, n->ports[i].ifname))
			return "the set of [port] sections";
		if (o->ports[i].addr_set != n->ports[i].addr_set ||
		    (o->ports[i].addr_set && !tita_addr_eq(&o->ports[i].addr, &n->ports[i].addr)))
			return "a port's address";
	}
	if (o->pacer != n->pacer)
		return "pacer";
	if (strcmp(o->control_socket, n->control_socket))
		return "control-socket";
	if (strcmp(o->metrics_listen, n->metrics_listen))
		return "metrics-listen";
	if (strcmp(o->agent_socket, n->agent_socket) || strcmp(o->sysfs_root, n->sysfs_root))
		return "agent-socket or sysfs-root";
	if (strcmp(o->pin_root, n->pin_root) || o->xdp_mode != n->xdp_mode ||
	    o->datapath_entries != n->datapath_entries || o->queue_sampler != n->queue_sampler)
		return "pin-root, xdp-mode or datapath-entries";
	if (o->peer_port != n->peer_port || !same_addrs(o->bind, o->n_bind, n->bind, n->n_bind))
		return "the peer port or bind addresses";
	if (o->params.max_ports != n->params.max_ports)
		return "max-ports";
	return "";
}

static void reload(struct titad *d)
{
	struct titad_config *cfg = calloc(1, sizeof(*cfg));
	struct tita_wire_keyring kr;
	const char *what;
	char err[512];
	int r;

	if (!cfg) {
		log_err("reload: out of memory; keeping the running configuration");
		d->reloads_failed++;
		return;
	}
	sd_notify(0, "RELOADING=1");
	r = load_all(d->config_path, cfg, &kr, err, sizeof(err));
	if (r) {
		log_err("reload rejected, keeping the running configuration: %s", err);
		goto reject;
	}
	what = immutable_change(&d->cfg, cfg);
	if (what[0]) {
		log_err("reload rejected, keeping the running configuration: %s: %s cannot "
			"change while titad runs; restart it",
			d->config_path, what);
		goto reject;
	}
	tita_pacer_fit_params(d->pacer->ops, &cfg->params);
	r = tita_ctl_set_params(d->ctl, &cfg->params);
	if (r) {
		log_err("reload rejected, keeping the running configuration: %s: the controller "
			"refused the parameters: %s",
			d->config_path, strerror(-r));
		goto reject;
	}
	/* From here on nothing can fail half-way except a job id collision,
	 * which the old job table shows up front. */
	for (uint32_t i = 0; i < d->n_ports; i++) {
		uint64_t rate = cfg->ports[i].line_rate_bps ? cfg->ports[i].line_rate_bps :
							      d->ports[i].line_rate_bps;

		if (rate != d->ports[i].line_rate_bps &&
		    !tita_ctl_port_set_rate(d->ctl, &d->ports[i].addr, rate))
			d->ports[i].line_rate_bps = rate;
	}
	r = apply_jobs(d, cfg, err, sizeof(err));
	if (r)
		log_err("reload: %s (other changes applied)", err);
	tita_wire_keyring_clear(&d->keyring);
	d->keyring = kr;
	d->sender.key_id = cfg->key_id;
	{
		uint64_t old_scan_ns = d->cfg.qp_scan_interval_ns;
		char old_proc_root[sizeof(d->cfg.proc_root)];

		memcpy(old_proc_root, d->cfg.proc_root, sizeof(old_proc_root));
		d->cfg = *cfg;
		qpscan_apply(d, old_scan_ns, old_proc_root);
	}
	tita_log_set_level(cfg->log_level);
	titad_peers_reconfigure(d, tita_clock_mono_ns());
	d->reloads_ok++;
	log_notice("reloaded %s", d->config_path);
	sodium_memzero(&kr, sizeof(kr));
	free(cfg);
	sd_notify(0, "READY=1");
	notify_status(d);
	titad_kick(d, tita_clock_mono_ns());
	return;
reject:
	sodium_memzero(&kr, sizeof(kr));
	d->reloads_failed++;
	free(cfg);
	sd_notify(0, "READY=1");
}

static void on_signal(void *data, int signo)
{
	struct titad *d = data;

	switch (signo) {
	case SIGHUP:
		reload(d);
		break;
	case SIGTERM:
	case SIGINT:
		log_notice("signal %d: removing pacing and the datapath, exiting", signo);
		tita_event_exit(d->ev, 0);
		break;
	}
}

/* ---- start and stop ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: titad [OPTIONS]\n"
		"\n"
		"tita's host congestion-control daemon: measures RoCEv2 traffic with eBPF,\n"
		"coordinates rates with its peers, paces with the configured back end.\n"
		"\n"
		"  -c, --config FILE    configuration file (default %s)\n"
		"      --check-config   check the configuration and the key file, then exit\n"
		"                       (non-zero on any problem)\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n"
		"\n"
		"Signals: SIGHUP reloads the configuration; SIGTERM/SIGINT remove every pacing\n"
		"rule and the datapath, then exit 0.\n",
		TITAD_CONFIG_PATH);
}

static void shutdown_all(struct titad *d)
{
	if (d->agents_src) {
		tita_event_fd_del(d->ev, d->agents_src);
		d->agents_src = NULL;
	}
	if (d->pacer) {
		int r = d->pacer->ops->cleanup(d->pacer);

		if (r)
			log_err("pacer %s: removing its rules: %s", d->pacer->ops->name,
				strerror(-r));
		d->pacer = tita_pacer_free(d->pacer);
	}
	titad_metrics_close(d);
	titad_control_close(d);
	titad_peers_close(d);
	d->qpscan = tita_qpscan_free(d->qpscan);
	ports_close(d);
	d->ctl = tita_ctl_free(d->ctl);
	tita_wire_keyring_clear(&d->keyring);
	d->ev = tita_event_free(d->ev);
}

/* qp pacer: a QP's job from its owner's cgroup (Slurm job, pod, unit),
 * created on first sight so that titactl can name it; 0 (no job) when
 * the process is gone or the job table is full. */
static uint32_t job_of_pid(pid_t pid, void *ctx)
{
	struct titad *d = ctx;
	struct tita_job_ident id;
	char name[TITA_JOB_NAME_MAX + 1];
	struct titad_job *j;

	if (tita_job_of_pid(d->cfg.proc_root, pid, &id))
		return 0;
	tita_job_ident_name(&id, name, sizeof(name), TITA_JOB_NAME_MAX);
	j = titad_job_get(d, name);
	return j ? j->id : 0;
}

/* dcb pacer: the traffic class of a job's [job] section, or -1. */
static int tc_of_job(uint32_t job_id, void *ctx)
{
	struct titad *d = ctx;
	struct titad_job *j = titad_job_by_id(d, job_id);

	for (uint32_t i = 0; j && i < d->cfg.n_jobs; i++)
		if (!strcmp(d->cfg.jobs[i].name, j->name))
			return d->cfg.jobs[i].traffic_class;
	return -1;
}

static void on_agents(void *data, int fd, uint32_t events)
{
	struct titad *d = data;

	(void)fd;
	(void)events;
	tita_pacer_qp_process(d->pacer, tita_clock_mono_ns());
}

static const struct tita_pacer_ops *pacer_ops(enum titad_pacer_kind k)
{
	switch (k) {
	case TITAD_PACER_TC:
		return &tita_pacer_tc_ops;
	case TITAD_PACER_QP:
		return &tita_pacer_qp_ops;
	case TITAD_PACER_DCB:
		return &tita_pacer_dcb_ops;
	default:
		return &tita_pacer_dryrun_ops;
	}
}

static int start(struct titad *d, char *err, size_t err_size)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct tita_pacer_port pp[TITAD_MAX_PORTS];
	const struct tita_pacer_ops *ops;
	uint64_t now;
	int r;

	d->start_ns = tita_clock_mono_ns();
	d->loop_hist.bounds_s = hist_bounds_s;
	d->grant_hist.bounds_s = hist_bounds_s;
	/* The boot id must grow across restarts: the wall clock at start. */
	d->sender.boot_id = tita_clock_real_ns();
	d->sender.key_id = d->cfg.key_id;
	d->sender.seq = 1;

	d->ev = tita_event_new();
	if (!d->ev)
		return -errno;
	r = tita_event_signals(d->ev, signals, 3, on_signal, d);
	if (r)
		return r;
	ops = pacer_ops(d->cfg.pacer);
	if (tita_pacer_fit_params(ops, &d->cfg.params))
		log_info("pacer %s cannot let a message's first bytes go unpaced: unscheduled "
			 "and unscheduled-short are 0",
			 ops->name);
	d->ctl = tita_ctl_new(&d->cfg.params);
	if (!d->ctl) {
		snprintf(err, err_size, "controller: %s", strerror(errno));
		return -errno;
	}
	r = ports_open(d, err, err_size);
	if (r)
		return r;
	r = apply_jobs(d, &d->cfg, err, err_size);
	if (r)
		return r;

	for (uint32_t i = 0; i < d->n_ports; i++) {
		memset(&pp[i], 0, sizeof(pp[i]));
		snprintf(pp[i].ifname, sizeof(pp[i].ifname), "%s", d->ports[i].ifname);
		pp[i].ifindex = d->ports[i].ifindex;
		pp[i].addr = d->ports[i].addr;
		pp[i].line_rate_bps = d->ports[i].line_rate_bps;
		pp[i].bpf = d->ports[i].bpf;
	}
	for (uint32_t i = 0; i < d->n_ports; i++)
		d->ports[i].nic = tita_nic_reader_new(d->cfg.sysfs_root, d->ports[i].ifname);
	d->pacer = tita_pacer_new(ops, pp, d->n_ports);
	if (!d->pacer)
		return -errno;
	if (d->cfg.pacer == TITAD_PACER_QP) {
		struct tita_pacer_qp_conf qc = {
			/* Every job's processes connect: what an agent may do is
			 * register its own QPs and obey; SO_PEERCRED names it. */
			.socket_mode = 0666,
			.socket_gid = (gid_t)-1,
			.job_of_pid = job_of_pid,
			.ctx = d,
		};

		snprintf(qc.socket_path, sizeof(qc.socket_path), "%s", d->cfg.agent_socket);
		snprintf(qc.sysfs_root, sizeof(qc.sysfs_root), "%s", d->cfg.sysfs_root);
		r = tita_pacer_qp_configure(d->pacer, &qc);
	} else if (d->cfg.pacer == TITAD_PACER_DCB) {
		struct tita_pacer_dcb_conf dc = { .tc_of_job = tc_of_job, .ctx = d };

		r = tita_pacer_dcb_configure(d->pacer, &dc);
	} else {
		r = 0;
	}
	if (r)
		return r;
	r = d->pacer->ops->init(d->pacer, err, err_size);
	if (r)
		return r;
	if (d->cfg.pacer == TITAD_PACER_QP) {
		d->agents_src =
			tita_event_fd_add(d->ev, tita_pacer_qp_fd(d->pacer), EPOLLIN, on_agents, d);
		if (!d->agents_src)
			return -errno;
	}

	/* Timers due together fire in the order they were made: the peer
	 * sockets' poll first, so that a round includes what it read. */
	r = titad_peers_open(d, err, err_size);
	if (r)
		return r;
	d->t_ctl = tita_event_timer_new(d->ev, on_ctl_timer, d);
	d->t_round = tita_event_timer_new(d->ev, on_ctl_timer, d);
	d->t_housekeeping = tita_event_timer_new(d->ev, on_housekeeping, d);
	d->t_qpscan = tita_event_timer_new(d->ev, on_qpscan, d);
	if (!d->t_ctl || !d->t_round || !d->t_housekeeping || !d->t_qpscan)
		return -errno;
	r = titad_control_open(d, err, err_size);
	if (r)
		return r;
	r = titad_metrics_open(d, err, err_size);
	if (r)
		return r;

	now = tita_clock_mono_ns();
	/* The loop's timer period (the interval, or the poll period while
	 * peer sockets are polled) is set by peer.c from here on; a reload
	 * resets it there too (titad_peers_reconfigure). */
	tita_event_timer_set(d->ev, d->t_round, now);
	tita_event_timer_set(d->ev, d->t_housekeeping, now);
	tita_event_timer_set(d->ev, d->t_ctl, tita_ctl_next_deadline_ns(d->ctl));
	d->qpscan_logged = -1;
	qpscan_apply(d, 0, NULL);
	if (sd_watchdog_enabled(0, &d->watchdog_usec) > 0 && d->watchdog_usec) {
		t_watchdog = tita_event_timer_new(d->ev, on_watchdog, d);
		tita_event_timer_set(d->ev, t_watchdog, now);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct titad d;
	const char *path = TITAD_CONFIG_PATH;
	bool check_only = false;
	char err[512] = "";
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("titad %s\n", TITA_VERSION);
			return 0;
		default:
			fprintf(stderr, "titad: bad option '%s'; try 'titad --help'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "titad: unexpected argument '%s'; try 'titad --help'\n",
			argv[optind]);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "titad: libsodium failed to initialise\n");
		return 1;
	}
	snprintf(d.config_path, sizeof(d.config_path), "%s", path);
	r = load_all(path, &d.cfg, &d.keyring, err, sizeof(err));
	if (r) {
		fprintf(stderr, "titad: %s\n", err);
		return 1;
	}
	if (check_only) {
		tita_wire_keyring_clear(&d.keyring);
		printf("%s: OK\n", path);
		return 0;
	}
	tita_log_setup(d.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	r = start(&d, err, sizeof(err));
	if (r) {
		log_err("%s", err[0] ? err : strerror(-r));
		shutdown_all(&d);
		sd_notifyf(0, "STATUS=failed to start: %s\nERRNO=%d", err, -r);
		return 1;
	}
	log_notice("titad %s running: %u port(s), %s pacer, peers on udp/%u, control %s",
		   TITA_VERSION, d.n_ports, d.pacer->ops->name, d.cfg.peer_port,
		   d.cfg.control_socket);
	sd_notify(0, "READY=1");
	notify_status(&d);

	r = tita_event_run(d.ev);
	if (r < 0)
		log_err("event loop: %s", strerror(-r));
	sd_notify(0, "STOPPING=1");
	shutdown_all(&d);
	return r < 0 ? 1 : 0;
}
