// SPDX-License-Identifier: MIT
/*
 * The control socket on a fake clock, against the real engine (no NIC,
 * the dry-run pacer) and peers module: requests and their answers, who
 * may change what, the limits on what a local user holds (connections per
 * uid, root's reserved slots, the idle timeout), and a reload of the
 * socket's mode and group.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "control.h"
#include "ctlproto.h"
#include "daemon_test.h"
#include "health.h"

struct fixture {
	char dir[48], path[96];
	struct titad_config cfg;
	struct tita_event *ev;
	struct titad_ports *ports;
	struct titad_engine *engine;
	struct titad_peers *peers;
	struct titad_control *ctl;
	struct titad_health *health;
	uint64_t reloads;
};

static int peer_msg(void *ctx, const struct tita_msg *m, uint64_t now_ns)
{
	return titad_engine_on_msg(ctx, m, now_ns);
}

static void peer_kick(void *ctx, uint64_t now_ns)
{
	titad_engine_kick(ctx, now_ns);
}

static uint64_t peer_round(void *ctx)
{
	return titad_engine_next_round_ns(ctx);
}

static const struct titad_peers_hooks hooks = { peer_msg, peer_kick, peer_round, NULL };

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct titad_peers_ports hp = { 0 };
	struct titad_sources src;
	struct tita_wire_keyring kr;
	char err[256] = "";

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tita-control.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0755); /* nobody connects too */
	snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
	test_config(&f->cfg);
	f->cfg.pacer = TITAD_PACER_DRY_RUN;
	f->cfg.n_ports = 0;
	f->cfg.control_mode = 0666;
	f->cfg.control_group[0] = '\0';
	snprintf(f->cfg.control_socket, sizeof(f->cfg.control_socket), "%s", f->path);
	test_keyring(&kr, 1, 0x42);
	f->ev = tita_event_new();
	assert_non_null(f->ev);
	assert_int_equal(titad_ports_open(&f->ports, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(titad_engine_open(&f->engine, f->ev, &f->cfg, f->ports, err, sizeof(err)),
			 0);
	assert_int_equal(titad_peers_open(&f->peers, f->ev, &f->cfg, &hp, &kr, REAL0, &hooks,
					  f->engine, T0, err, sizeof(err)),
			 0);
	{
		/* Health evidence of one port that no netdev has (named by
		 * its address). */
		uint8_t ip[4] = { 10, 0, 0, 1 };
		struct tita_addr local = tita_addr_from_ipv4(ip);
		uint64_t rate = 100000000;

		assert_int_equal(titad_health_open(&f->health, &f->cfg, &local, &rate, 1, T0, err,
						   sizeof(err)),
				 0);
	}
	src = (struct titad_sources){ .engine = f->engine,
				      .health = f->health,
				      .peers = f->peers,
				      .ports = f->ports,
				      .start_ns = T0,
				      .reloads_ok = &f->reloads,
				      .reloads_failed = &f->reloads };
	assert_int_equal(titad_control_open(&f->ctl, f->ev, &f->cfg, &src, err, sizeof(err)), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	titad_control_close(f->ctl);
	titad_peers_close(f->peers);
	titad_engine_close(f->engine);
	titad_health_close_all(f->health);
	titad_ports_close(f->ports);
	tita_event_free(f->ev);
	rmdir(f->dir);
	free(f);
}

static void step(struct fixture *f, uint64_t now_ns)
{
	assert_true(tita_event_dispatch(f->ev, now_ns, REAL0 + now_ns - T0, 20) >= 0);
}

static int client(const struct fixture *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send rq and run the loop until the answer comes (or 50 batches). With
 * no fixture (a forked client: the loop is the parent's, and running a
 * copy of it would share the parent's epoll set), wait up to 5 s. */
static Tita__Control__Response *call(struct fixture *f, int fd, Tita__Control__Request *rq,
				     uint64_t now_ns)
{
	static uint8_t buf[TITA_CTL_RESPONSE_MAX];

	if (tita_ctl_send(fd, &rq->base, TITA_CTL_REQUEST_MAX))
		return NULL;
	for (int i = 0; i < 50; i++) {
		ssize_t n;

		if (f) {
			step(f, now_ns);
		} else {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (poll(&pfd, 1, 5000) != 1)
				return NULL;
		}
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			return tita_ctl_response_unpack(buf, (size_t)n);
		if (n == 0)
			return NULL;
	}
	return NULL;
}

static Tita__Control__ErrorCode job_set(struct fixture *f, int fd, const char *name, double w,
					uint64_t now_ns)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__JobSetRequest js = TITA__CONTROL__JOB_SET_REQUEST__INIT;
	Tita__Control__Response *resp;
	Tita__Control__ErrorCode e;

	js.name = (char *)name;
	js.weight_present_case = TITA__CONTROL__JOB_SET_REQUEST__WEIGHT_PRESENT_WEIGHT;
	js.weight = w;
	rq.body_case = TITA__CONTROL__REQUEST__BODY_JOB_SET;
	rq.job_set = &js;
	resp = call(f, fd, &rq, now_ns);
	if (!resp)
		return (Tita__Control__ErrorCode)-1;
	e = resp->error;
	tita__control__response__free_unpacked(resp, NULL);
	return e;
}

static bool status_ok(struct fixture *f, int fd, uint64_t now_ns)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__StatusRequest sr = TITA__CONTROL__STATUS_REQUEST__INIT;
	Tita__Control__Response *resp;
	bool ok;

	rq.body_case = TITA__CONTROL__REQUEST__BODY_STATUS;
	rq.status = &sr;
	resp = call(f, fd, &rq, now_ns);
	ok = resp && resp->error == 0 && resp->status && resp->status->uptime_ns == now_ns - T0;
	if (resp)
		tita__control__response__free_unpacked(resp, NULL);
	return ok;
}

/* Whether fd was closed by titad (EOF), after running the loop. */
static bool closed_by_titad(struct fixture *f, int fd, uint64_t now_ns)
{
	char b;

	step(f, now_ns);
	return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

static uid_t nobody_uid(gid_t *ret_gid)
{
	struct passwd *pw = getpwnam("nobody");

	if (!pw)
		return 0;
	*ret_gid = pw->pw_gid;
	return pw->pw_uid;
}

/* Root reads and writes; status answers with the loop's clock. */
static void test_requests(void **state)
{
	struct fixture *f = fixture_new();
	int fd = client(f);

	(void)state;
	assert_true(fd >= 0);
	assert_true(status_ok(f, fd, T0 + 5 * SEC));
	if (getuid() == 0)
		assert_int_equal(job_set(f, fd, "train", 3, T0 + 5 * SEC), 0);
	close(fd);
	fixture_free(f);
}

static Tita__Control__Response *health(struct fixture *f, int fd, uint64_t now_ns)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__HealthRequest hq = TITA__CONTROL__HEALTH_REQUEST__INIT;

	rq.body_case = TITA__CONTROL__REQUEST__BODY_HEALTH;
	rq.health = &hq;
	return call(f, fd, &rq, now_ns);
}

/* titactl health: not ready before an interval ends; then the interval,
 * how long ago it ended, the port's gauges (pause unknown), the bounds'
 * counters. */
static void test_health(void **state)
{
	struct fixture *f = fixture_new();
	Tita__Control__Response *resp;
	struct titad_health_pause p = { .known = false };
	int fd = client(f);

	(void)state;
	assert_true(fd >= 0);
	resp = health(f, fd, T0 + SEC / 2);
	assert_non_null(resp);
	assert_int_equal(resp->error, 0);
	assert_int_equal(resp->body_case, TITA__CONTROL__RESPONSE__BODY_HEALTH);
	assert_false(resp->health->ready);
	assert_true(resp->health->interval_ns == SEC);
	tita__control__response__free_unpacked(resp, NULL);

	assert_int_equal(titad_health_end_interval(f->health, &p, T0 + SEC), 0);
	resp = health(f, fd, T0 + SEC + 250 * TITA_NSEC_PER_MSEC);
	assert_non_null(resp);
	assert_true(resp->health->ready);
	assert_true(resp->health->covered_ns == SEC);
	assert_true(resp->health->ended_ago_ns == 250 * TITA_NSEC_PER_MSEC);
	assert_int_equal(resp->health->n_ports, 1);
	assert_string_equal(resp->health->ports[0]->ifname, "10.0.0.1");
	assert_int_equal(resp->health->ports[0]->addr.len, 4);
	assert_false(resp->health->ports[0]->pause_known);
	assert_true(resp->health->ports[0]->line_rate_bps == 100000000);
	assert_int_equal(resp->health->n_pairs, 0);
	assert_int_equal(resp->health->n_untracked, 6);
	tita__control__response__free_unpacked(resp, NULL);
	close(fd);
	fixture_free(f);
}

/*
 * Finding 5 (and below the namespace level, the control permissions):
 * nobody may read, not write; nobody's connections are bounded per uid
 * and leave root's slots free, so 64 of them that never send cannot lock
 * root out; and a client that sends nothing is closed after
 * control-idle-timeout.
 */
static void test_unprivileged(void **state)
{
	struct fixture *f;
	int fds[64], n = 0, go[2], done[2];
	gid_t gid = 0;
	uid_t uid = nobody_uid(&gid);
	pid_t child;
	char rc = 0;

	(void)state;
	if (getuid() != 0 || !uid) {
		print_message("skipped: needs root and a user nobody\n");
		return;
	}
	f = fixture_new();
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* nobody: 64 connections that never send, then a write. */
		char b;

		alarm(30); /* whatever becomes of the parent */
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			_exit(10);
		/* Past the listen backlog a connect waits for the parent's
		 * loop to accept: retry for a while. */
		for (n = 0; n < 64; n++) {
			for (int k = 0; k < 2000 && (fds[n] = client(f)) < 0; k++)
				usleep(1000);
			if (fds[n] < 0)
				_exit(13);
		}
		if (write(done[1], "x", 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(11);
		b = (char)job_set(NULL, fds[0], "train", 2, T0);
		_exit(b == TITA__CONTROL__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED ? 0 : 12);
	}
	/* The loop runs while nobody connects. */
	for (int i = 0; i < 2000; i++) {
		struct pollfd pfd = { .fd = done[0], .events = POLLIN };

		step(f, T0);
		if (poll(&pfd, 1, 0) == 1)
			break;
	}
	assert_int_equal(read(done[0], &rc, 1), 1);
	for (int i = 0; i < 10; i++)
		step(f, T0);
	{
		struct titad_control_stats st;

		titad_control_stats(f->ctl, &st);
		assert_int_equal(st.clients, f->cfg.control_clients_per_uid);
		assert_int_equal(st.refused, 64 - f->cfg.control_clients_per_uid);
	}
	/* Root still gets in, and is answered. */
	for (n = 0; n < 30; n++) {
		for (int k = 0; k < 100 && (fds[n] = client(f)) < 0; k++)
			step(f, T0);
		assert_true(fds[n] >= 0);
	}
	assert_true(status_ok(f, fds[29], T0 + SEC));
	assert_true(status_ok(f, fds[0], T0 + SEC));
	/* nobody's write: refused (the child answers with its exit code),
	 * while the loop keeps serving it. */
	assert_int_equal(write(go[1], "x", 1), 1);
	for (int i = 0; i < 200; i++) {
		int status;

		step(f, T0 + SEC);
		if (waitpid(child, &status, WNOHANG) == child) {
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			child = 0;
			break;
		}
	}
	assert_int_equal(child, 0);
	/* Idle clients are closed after the timeout, busy ones stay. */
	assert_true(status_ok(f, fds[1], T0 + 9 * SEC));
	assert_true(closed_by_titad(f, fds[2], T0 + 10 * SEC + 1));
	assert_false(closed_by_titad(f, fds[1], T0 + 10 * SEC + 2));
	assert_true(closed_by_titad(f, fds[1], T0 + 19 * SEC + 1));
	for (n = 0; n < 30; n++)
		close(fds[n]);
	fixture_free(f);
}

/* Finding 5: a reload that changes control-mode or control-group applies
 * it, or is refused; it never says "reloaded" and keeps the old rights. */
static void test_reload_mode(void **state)
{
	struct fixture *f = fixture_new();
	struct titad_config cfg = f->cfg;
	struct stat st;
	char err[256];

	(void)state;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	cfg.control_mode = 0600;
	assert_int_equal(titad_control_reconfigure(f->ctl, &cfg, err, sizeof(err)), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	cfg.control_mode = 0660;
	snprintf(cfg.control_group, sizeof(cfg.control_group), "no-such-group-tita");
	assert_int_equal(titad_control_reconfigure(f->ctl, &cfg, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "control-group no-such-group-tita: no such group");
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_unprivileged),
		cmocka_unit_test(test_reload_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
