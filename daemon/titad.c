// SPDX-License-Identifier: MIT
/*
 * titad: measure (the BPF datapath), coordinate (peers over UDP), pace (a
 * back end), report (titactl, Prometheus, sd_notify). This file opens the
 * modules in one order, wires them together, and closes them in the
 * reverse order; it holds none of their state.
 *
 *   ports      the datapath on every NIC                  ports.c
 *   engine     controller, pacer, jobs, the control pass  engine.c
 *   fabric     topology, leaf members, path probes        fabric.c
 *   peers      UDP sockets, wire codec, peer table        peer.c
 *   discovery  QP discovery                               discovery.c
 *   control    the titactl socket                         control.c
 *   metrics    the Prometheus endpoint                    metrics.c
 *
 * The event loop (event.c) runs them all on one thread and is the only
 * part that reads the clock: every callback gets the batch's now_ns.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "autoconf.h"
#include "bootid.h"
#include "control.h"
#include "discovery.h"
#include "engine.h"
#include "fabric.h"
#include "health.h"
#include "keys.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "ports.h"
#include "tita-config.h"
#include "units.h"
#include "watch.h"

#define HOUSEKEEPING_NS (1 * TITA_NSEC_PER_SEC)

struct titad {
	char config_path[TITAD_PATH_MAX];
	struct titad_config cfg;
	struct tita_wire_keyring keyring; /* until the peers module takes it */

	struct tita_event *ev;
	struct titad_ports *ports;
	struct titad_engine *engine;
	struct titad_health *health;
	struct titad_fabric *fabric;
	struct titad_peers *peers;
	struct titad_discovery *discovery;
	struct titad_control *control;
	struct titad_metrics *metrics;
	struct titad_watch *watch;
	struct titad_sources src; /* what the watch reads */

	struct tita_timer *t_housekeeping, *t_watchdog, *t_health;
	struct titad_peer_info *heard; /* the peer list at a health interval's end */
	bool rx_blind[TITAD_MAX_PORTS]; /* as last logged */
	size_t cap_heard;
	uint64_t watchdog_usec;
	uint64_t start_ns;
	uint64_t reloads_ok, reloads_failed;
	struct titad_lock lock;
};

/* Everything that makes a config acceptable, file and system; notes: what
 * pacer = auto and a file without [port] came to on this host. */
static int load_all(const char *path, struct titad_config *cfg, struct tita_wire_keyring *kr,
		    char *notes, size_t notes_size, char *err, size_t err_size)
{
	int r = titad_config_load(path, cfg, err, err_size);

	if (r)
		return r;
	r = titad_autoconf(cfg, notes, notes_size, err, err_size);
	if (r)
		return r;
	return titad_keys_load(cfg, kr, err, err_size);
}

/* One line per problem. Under journald (titad's start from systemd) each
 * line carries the error priority, as the log's own lines do; on a
 * terminal (--check-config) it says titad's name. */
static void print_problems(const char *err)
{
	bool journal = getenv("JOURNAL_STREAM") != NULL;

	for (const char *p = err; *p;) {
		size_t n = strcspn(p, "\n");

		fprintf(stderr, journal ? "<3>%.*s\n" : "titad: %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/*
 * --check-config: everything start-up would refuse, said in one go,
 * touching nothing: the file (every problem in it), and from what parsed,
 * the key file and every port's device, address and speed. 0 or 1.
 */
static int check_config(const char *path)
{
	static struct titad_config cfg;
	struct tita_wire_keyring kr;
	char err[8192] = "", more[512];
	int bad = titad_config_load_check(path, &cfg, err, sizeof(err)) != 0;
	char notes[2048] = "";

	if (bad && access(path, R_OK)) {
		print_problems(err); /* not even read */
		return 1;
	}
	if (titad_autoconf(&cfg, notes, sizeof(notes), more, sizeof(more))) {
		snprintf(err + strlen(err), sizeof(err) - strlen(err), "%s%s", bad ? "\n" : "",
			 more);
		bad = 1;
	}
	if (titad_keys_load(&cfg, &kr, more, sizeof(more))) {
		snprintf(err + strlen(err), sizeof(err) - strlen(err), "%s%s", bad ? "\n" : "",
			 more);
		bad = 1;
	} else {
		tita_wire_keyring_clear(&kr);
	}
	if (titad_ports_check(&cfg, err, sizeof(err)))
		bad = 1;
	/* The topology's problems; each port's place needs its address,
	 * which only an open port has: those are said at start. */
	if (titad_fabric_check(&cfg, NULL, err, sizeof(err)))
		bad = 1;
	if (bad) {
		print_problems(err);
		return 1;
	}
	for (const char *p = notes; *p;) {
		size_t n = strcspn(p, "\n");

		printf("%s: %.*s\n", path, (int)n, p);
		p += n + (p[n] == '\n');
	}
	printf("%s: OK\n", path);
	return 0;
}

/* ---- the glue between the engine and the peers ------------------------------------ */

static int peers_on_msg(void *ctx, const struct tita_msg *m, uint64_t now_ns)
{
	return titad_engine_on_msg(((struct titad *)ctx)->engine, m, now_ns);
}

static void peers_kick(void *ctx, uint64_t now_ns)
{
	titad_engine_kick(((struct titad *)ctx)->engine, now_ns);
}

static uint64_t peers_next_round(void *ctx)
{
	return titad_engine_next_round_ns(((struct titad *)ctx)->engine);
}

static void peers_on_hello(void *ctx, const struct tita_addr *from, const struct tita_wire_hello *h,
			   uint64_t now_ns)
{
	struct titad *d = ctx;

	titad_fabric_hello(d->fabric, from, h, now_ns);
}

static void peers_on_boot(void *ctx, const struct tita_addr *from, uint64_t now_ns)
{
	struct titad *d = ctx;

	titad_fabric_peer_boot(d->fabric, from, now_ns);
}

static void engine_send(void *ctx, const struct tita_msg *m, uint64_t now_ns)
{
	titad_peers_send(ctx, m, now_ns);
}

static void engine_flush(void *ctx, uint64_t now_ns)
{
	titad_peers_flush(ctx, now_ns);
}

static void engine_peer_seen(void *ctx, const struct tita_addr *a, uint64_t now_ns)
{
	titad_peers_seen(ctx, a, now_ns);
}

static void port_changed(void *ctx, uint32_t i, bool up, uint64_t now_ns)
{
	titad_engine_port_changed(ctx, i, up, now_ns);
}

static const struct titad_peers_hooks peers_hooks = { peers_on_msg, peers_kick, peers_next_round,
						      peers_on_hello, peers_on_boot };
static const struct titad_engine_out engine_out = { engine_send, engine_flush, engine_peer_seen };

/* What the hellos announce: the ports as they are now, with their places. */
static void hello_ports(const struct titad_ports *ports, const struct titad_fabric *fabric,
			struct titad_peers_ports *ret)
{
	ret->n = 0;
	for (uint32_t i = 0; i < titad_ports_count(ports) && i < TITA_WIRE_HELLO_MAX_PORTS; i++) {
		const struct titad_port *p = titad_ports_get(ports, i);

		ret->ports[ret->n].addr = p->addr;
		ret->ports[ret->n].line_rate_bps = p->line_rate_bps;
		ret->n++;
	}
	titad_fabric_hello_ports(fabric, ret);
}

/* ---- timers ------------------------------------------------------------------------- */

static void notify_status(struct titad *d)
{
	struct titad_engine_status es;
	char status[160];

	titad_engine_status(d->engine, &es);
	snprintf(status, sizeof(status), "STATUS=%u ports, %zu peers, %zu pairs, %s pacer",
		 titad_ports_count(d->ports), titad_peers_count(d->peers), es.n_pairs, es.pacer);
	sd_notify(0, status);
}

static void on_housekeeping(void *data, uint64_t now_ns)
{
	struct titad *d = data;

	titad_ports_housekeeping(d->ports, now_ns);
	titad_fabric_housekeeping(d->fabric, now_ns);
	titad_peers_housekeeping(d->peers, now_ns);
	titad_watch_check(d->watch, &d->src, now_ns);
	tita_log_flush();
	notify_status(d);
	tita_event_timer_set(d->ev, d->t_housekeeping, now_ns + HOUSEKEEPING_NS);
}

/*
 * A health interval ends: who was heard from (the peer table's last-heard
 * times, as of this wake-up's now), each NIC's pause counters, then the
 * snapshot. The next one ends an interval later, on the same grid.
 */
static void on_health(void *data, uint64_t now_ns)
{
	struct titad *d = data;
	struct titad_health_pause pause[TITAD_MAX_PORTS];
	uint64_t interval = titad_health_interval_ns(d->health);
	size_t n = titad_peers_count(d->peers);

	if (n > d->cap_heard) {
		struct titad_peer_info *p = realloc(d->heard, (n + 64) * sizeof(*p));

		if (p) {
			d->heard = p;
			d->cap_heard = n + 64;
		}
	}
	n = titad_peers_list(d->peers, d->heard, d->cap_heard, now_ns);
	for (size_t k = 0; k < n && k < d->cap_heard; k++)
		if (d->heard[k].heard && d->heard[k].last_heard_ago_ns <= now_ns)
			titad_health_heard(d->health, &d->heard[k].addr,
					   now_ns - d->heard[k].last_heard_ago_ns);
	/* The interval holds whole health rounds. */
	titad_engine_health_window(d->engine, now_ns);
	for (uint32_t i = 0; i < titad_ports_count(d->ports); i++)
		pause[i].known = titad_ports_read_pause(d->ports, i, d->cfg.health_pause_priority,
							&pause[i].tx_frames, &pause[i].rx_frames);
	titad_health_end_interval(d->health, pause, now_ns);
	for (uint32_t i = 0; i < titad_ports_count(d->ports) && i < TITAD_MAX_PORTS; i++) {
		bool blind = titad_health_rx_blind(d->health, i);

		if (blind != d->rx_blind[i])
			log_info(
				"%s: %s", titad_ports_get(d->ports, i)->ifname,
				blind ? "most of what the NIC receives bypasses the datapath "
					"(hardware RoCE): no RX shortfall is claimed for its pairs" :
					"the datapath sees the NIC's receive traffic again: RX "
					"shortfall is measured");
		d->rx_blind[i] = blind;
	}
	tita_event_timer_set(d->ev, d->t_health, now_ns + interval);
}

static void on_watchdog(void *data, uint64_t now_ns)
{
	struct titad *d = data;

	sd_notify(0, "WATCHDOG=1");
	tita_event_timer_set(d->ev, d->t_watchdog, now_ns + d->watchdog_usec * 1000 / 2);
}

/* ---- scheduling --------------------------------------------------------------------- */

/*
 * The event loop at a real-time priority (sched-priority), or back under the
 * normal scheduler (0). Every round and every new pair's first grant wait
 * for this thread to run, and on a host whose cores are busy the normal
 * scheduler kept it waiting for milliseconds even at nice 0 against nice-10
 * work (titad's benchmark on a shared VM: first grant p99 10-22 ms, 0.9-1.3
 * ms at priority 1; docs/results.md). Only this thread: threads and
 * processes started after it run under the normal scheduler
 * (SCHED_RESET_ON_FORK), so that a QP scan of 100k QPs never runs
 * real-time. Refused (no CAP_SYS_NICE, an RT budget of 0 in the cgroup): a
 * warning, and titad runs on as before.
 *
 * A loop that never sleeps at a real-time priority (a flood it cannot keep
 * up with, a bug) would hold its core from every normal task. RLIMIT_RTTIME
 * bounds that: after RT_BUSY_SOFT_US of CPU without sleeping the kernel
 * sends SIGXCPU, and on_signal() puts the loop back under the normal
 * scheduler until the next reload; a loop too stuck to read that signal is
 * killed at RT_BUSY_HARD_US, and its pacing fails open as on any crash.
 */
#define RT_BUSY_SOFT_US 1000000
#define RT_BUSY_HARD_US 3000000

static void set_sched(uint32_t priority)
{
	struct sched_param sp = { .sched_priority = (int)priority };
	int policy = priority ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER;
	struct rlimit busy = { .rlim_cur = RT_BUSY_SOFT_US, .rlim_max = RT_BUSY_HARD_US };

	if (priority && setrlimit(RLIMIT_RTTIME, &busy)) {
		log_warning("sched-priority %u: cannot bound the loop's real-time CPU (%s); "
			    "the event loop stays under the normal scheduler",
			    priority, strerror(errno));
		return;
	}
	if (sched_setscheduler(0, policy, &sp))
		log_warning("sched-priority %u: %s; the event loop stays under the %s scheduler",
			    priority, strerror(errno), priority ? "normal" : "real-time");
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
	if (strcmp(o->metrics_listen, n->metrics_listen) || o->metrics_pairs != n->metrics_pairs)
		return "metrics-listen or metrics-pairs";
	if (strcmp(o->agent_socket, n->agent_socket) || strcmp(o->sysfs_root, n->sysfs_root))
		return "agent-socket or sysfs-root";
	if (strcmp(o->pin_root, n->pin_root) || o->xdp_mode != n->xdp_mode ||
	    o->datapath_entries != n->datapath_entries || o->queue_sampler != n->queue_sampler ||
	    o->loss_count != n->loss_count)
		return "pin-root, xdp-mode, datapath-entries, queue-sampler or loss-count";
	if (o->peer_port != n->peer_port || !same_addrs(o->bind, o->n_bind, n->bind, n->n_bind))
		return "the peer port or bind addresses";
	if (o->params.max_ports != n->params.max_ports)
		return "max-ports";
	if (o->agents_per_uid != n->agents_per_uid ||
	    o->agent_qps_per_uid != n->agent_qps_per_uid || o->agent_qps != n->agent_qps)
		return "agents-per-uid, agent-qps-per-uid or agent-qps";
	if (memcmp(&o->fabric, &n->fabric, sizeof(o->fabric)))
		return "the [fabric] section";
	if (o->health_interval_ns != n->health_interval_ns || o->health_pairs != n->health_pairs ||
	    o->health_pause_priority != n->health_pause_priority)
		return "the [health] section";
	/* Read once, for this start's boot id. */
	if (strcmp(o->state_directory, n->state_directory))
		return "state-directory";
	return "";
}

static void reload(struct titad *d, uint64_t now_ns)
{
	struct titad_config *cfg = calloc(1, sizeof(*cfg));
	struct titad_peers_ports hp;
	struct tita_wire_keyring kr;
	const char *what;
	char err[4096], notes[2048];
	int r;

	if (!cfg) {
		log_err("reload: out of memory; keeping the running configuration");
		d->reloads_failed++;
		return;
	}
	sd_notify(0, "RELOADING=1");
	r = load_all(d->config_path, cfg, &kr, notes, sizeof(notes), err, sizeof(err));
	if (r) {
		for (const char *p = err; *p;) {
			size_t n = strcspn(p, "\n");

			log_err("reload rejected, keeping the running configuration: %.*s", (int)n,
				p);
			p += n + (p[n] == '\n');
		}
		goto reject;
	}
	what = immutable_change(&d->cfg, cfg);
	if (what[0]) {
		log_err("reload rejected, keeping the running configuration: %s: %s cannot "
			"change while titad runs; restart it",
			d->config_path, what);
		goto reject;
	}
	/* What can fail first, each undone if a later one fails: the control
	 * socket's rights, then the controller's parameters. */
	r = titad_control_reconfigure(d->control, cfg, err, sizeof(err));
	if (r) {
		log_err("reload rejected, keeping the running configuration: %s", err);
		goto reject;
	}
	r = titad_engine_check_params(d->engine, cfg, err, sizeof(err));
	if (r) {
		log_err("reload rejected, keeping the running configuration: %s", err);
		titad_control_reconfigure(d->control, &d->cfg, err, sizeof(err));
		goto reject;
	}
	/* From here on nothing can fail half-way except a job id collision,
	 * which the old job table shows up front. */
	if (titad_engine_reconfigure(d->engine, cfg, err, sizeof(err)))
		log_err("reload: %s (other changes applied)", err);
	for (uint32_t i = 0; i < titad_ports_count(d->ports); i++)
		titad_health_port_rate(d->health, &titad_ports_get(d->ports, i)->addr,
				       titad_ports_get(d->ports, i)->line_rate_bps);
	hello_ports(d->ports, d->fabric, &hp);
	titad_peers_reconfigure(d->peers, cfg, &hp, &kr, now_ns);
	titad_discovery_reconfigure(d->discovery, cfg, now_ns);
	if (cfg->sched_priority != d->cfg.sched_priority)
		set_sched(cfg->sched_priority);
	d->cfg = *cfg;
	tita_log_set_level(cfg->log_level);
	d->reloads_ok++;
	log_notice("reloaded %s", d->config_path);
	sodium_memzero(&kr, sizeof(kr));
	free(cfg);
	sd_notify(0, "READY=1");
	notify_status(d);
	titad_engine_kick(d->engine, now_ns);
	return;
reject:
	sodium_memzero(&kr, sizeof(kr));
	d->reloads_failed++;
	free(cfg);
	sd_notify(0, "READY=1");
}

static void on_signal(void *data, int signo, uint64_t now_ns)
{
	struct titad *d = data;

	switch (signo) {
	case SIGHUP:
		reload(d, now_ns);
		break;
	case SIGXCPU:
		log_warning("the event loop ran real-time for %d ms without sleeping: back under "
			    "the normal scheduler until the next reload",
			    RT_BUSY_SOFT_US / 1000);
		set_sched(0);
		/* So that a reload with sched-priority set applies it again. */
		d->cfg.sched_priority = 0;
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

/* The reverse of start(): what was opened is closed, whatever failed. */
static void stop(struct titad *d)
{
	d->watch = titad_watch_free(d->watch);
	d->metrics = titad_metrics_close(d->metrics);
	d->control = titad_control_close(d->control);
	d->discovery = titad_discovery_close(d->discovery);
	d->peers = titad_peers_close(d->peers);
	d->fabric = titad_fabric_close(d->fabric);
	d->engine = titad_engine_close(d->engine);
	d->health = titad_health_close_all(d->health);
	free(d->heard);
	d->heard = NULL;
	d->ports = titad_ports_close(d->ports);
	tita_wire_keyring_clear(&d->keyring);
	tita_log_set_clock(NULL);
	d->ev = tita_event_free(d->ev);
	titad_lock_release(&d->lock);
}

/*
 * Open the modules in their order: each one only uses those before it
 * (the engine and the peers call each other through hooks, connected once
 * both exist). stop() closes them in the reverse order.
 */
static int start(struct titad *d, char *err, size_t err_size)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGXCPU };
	struct titad_peers_ports hp;
	struct titad_sources src;
	uint64_t now, boot_id;
	char note[256];
	int r;

	/* Before anything is touched: one titad per config. */
	r = titad_lock_take(&d->lock, &d->cfg, err, err_size);
	if (r)
		return r;
	d->ev = tita_event_new();
	if (!d->ev)
		return -errno;
	tita_log_set_clock(d->ev);
	r = tita_event_signals(d->ev, signals, sizeof(signals) / sizeof(signals[0]), on_signal, d);
	if (r)
		return r;
	now = tita_event_now(d->ev);
	d->start_ns = now;

	r = titad_ports_open(&d->ports, &d->cfg, err, err_size);
	if (r)
		return r;
	r = titad_engine_open(&d->engine, d->ev, &d->cfg, d->ports, err, err_size);
	if (r)
		return r;
	r = titad_ports_watch(d->ports, d->ev, port_changed, d->engine, err, err_size);
	if (r)
		return r;
	{
		struct tita_addr addrs[TITAD_MAX_PORTS];
		uint64_t rates[TITAD_MAX_PORTS];
		uint32_t n = titad_ports_count(d->ports);

		for (uint32_t i = 0; i < n; i++) {
			addrs[i] = titad_ports_get(d->ports, i)->addr;
			rates[i] = titad_ports_get(d->ports, i)->line_rate_bps;
		}
		r = titad_health_open(&d->health, &d->cfg, addrs, rates, n, now, err, err_size);
		if (r)
			return r;
		titad_engine_set_health(d->engine, d->health);
	}
	boot_id = titad_boot_id(d->cfg.state_directory, tita_event_real_ns(d->ev),
				d->cfg.boot_id_skew_ns, note, sizeof(note));
	if (note[0])
		log_warning("boot id: %s", note);
	r = titad_fabric_open(&d->fabric, d->ev, &d->cfg, d->ports, d->engine, err, err_size);
	if (r)
		return r;
	hello_ports(d->ports, d->fabric, &hp);
	r = titad_peers_open(&d->peers, d->ev, &d->cfg, &hp, &d->keyring, boot_id, &peers_hooks, d,
			     now, err, err_size);
	tita_wire_keyring_clear(&d->keyring);
	if (r)
		return r;
	titad_engine_set_out(d->engine, &engine_out, d->peers);
	titad_fabric_start(d->fabric, d->peers, now);
	r = titad_discovery_open(&d->discovery, d->ev, &d->cfg, d->engine, now, err, err_size);
	if (r)
		return r;
	src = (struct titad_sources){ .engine = d->engine,
				      .peers = d->peers,
				      .ports = d->ports,
				      .discovery = d->discovery,
				      .fabric = d->fabric,
				      .health = d->health,
				      .start_ns = d->start_ns,
				      .metrics_pairs = d->cfg.metrics_pairs,
				      .reloads_ok = &d->reloads_ok,
				      .reloads_failed = &d->reloads_failed };
	r = titad_control_open(&d->control, d->ev, &d->cfg, &src, err, err_size);
	if (r)
		return r;
	src.control = d->control;
	r = titad_metrics_open(&d->metrics, d->ev, d->cfg.metrics_listen, &src, err, err_size);
	if (r)
		return r;
	d->src = src;
	d->watch = titad_watch_new();
	if (!d->watch)
		return -errno;

	d->t_housekeeping = tita_event_timer_new(d->ev, on_housekeeping, d);
	if (!d->t_housekeeping)
		return -errno;
	tita_event_timer_set(d->ev, d->t_housekeeping, now);
	d->t_health = tita_event_timer_new(d->ev, on_health, d);
	if (!d->t_health)
		return -errno;
	tita_event_timer_set(d->ev, d->t_health, now + titad_health_interval_ns(d->health));
	r = titad_engine_start(d->engine, now);
	if (r)
		return r;
	if (sd_watchdog_enabled(0, &d->watchdog_usec) > 0 && d->watchdog_usec) {
		d->t_watchdog = tita_event_timer_new(d->ev, on_watchdog, d);
		if (!d->t_watchdog)
			return -errno;
		tita_event_timer_set(d->ev, d->t_watchdog, now);
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
	char notes[2048] = "";
	bool check_only = false;
	char err[4096] = "";
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
	if (check_only)
		return check_config(path);
	r = load_all(path, &d.cfg, &d.keyring, notes, sizeof(notes), err, sizeof(err));
	if (r) {
		print_problems(err);
		return 1;
	}
	tita_log_setup(d.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	r = start(&d, err, sizeof(err));
	if (r) {
		log_err("%s", err[0] ? err : strerror(-r));
		stop(&d);
		sd_notifyf(0, "STATUS=failed to start: %s\nERRNO=%d", err, -r);
		return 1;
	}
	/* After start(): the threads it started keep the normal scheduler. */
	if (d.cfg.sched_priority)
		set_sched(d.cfg.sched_priority);
	for (const char *p = notes; *p;) {
		size_t n = strcspn(p, "\n");

		log_notice("%.*s", (int)n, p);
		p += n + (p[n] == '\n');
	}
	log_notice("titad %s running: %u port(s), %s pacer, peers on udp/%u, control %s",
		   TITA_VERSION, titad_ports_count(d.ports), titad_pacer_name(d.cfg.pacer),
		   d.cfg.peer_port, d.cfg.control_socket);
	sd_notify(0, "READY=1");
	notify_status(&d);

	r = tita_event_run(d.ev);
	if (r < 0)
		log_err("event loop: %s", strerror(-r));
	sd_notify(0, "STOPPING=1");
	stop(&d);
	return r < 0 ? 1 : 0;
}
