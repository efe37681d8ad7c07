// SPDX-License-Identifier: MIT
/*
 * QP discovery off the event loop's thread (finding 10): a scan of a GPU
 * node's QPs (tens of thousands, a netlink dump per device, a /proc read
 * per process) took 43-103 ms on the loop's thread, against its 1 ms
 * budget. Here the scan's source (a fake RDMA source, as bench-qpscan's)
 * holds the scan at its first QP until the test lets it go, and
 *
 *   - the scan runs on a thread that is not the loop's;
 *   - while it is held, the loop keeps running its batches: a 1 ms timer
 *     fires 200 times on the fake clock, and nothing of the unfinished scan
 *     shows (no QPs, no scan counted);
 *   - once let go, its 100,000 QPs and their jobs are taken in whole, with
 *     the scan's time the one it was asked at;
 *   - closing discovery during a held scan stops its thread cleanly.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon_test.h"
#include "discovery.h"
#include "engine.h"
#include "event.h"
#include "ports.h"

#define DEVICES 8
#define QPS 100000
#define PROCS 16

static char proc_root[] = "/tmp/tita-test-discovery-XXXXXX";

/* The held scan: the worker waits in list_qps until released. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool held, released;
static pthread_t scan_thread;

static int fake_devices(void *ctx, struct tita_rdma_dev *out, size_t max, size_t *ret_n)
{
	(void)ctx;
	for (uint32_t i = 0; i < DEVICES && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].index = i + 1;
		snprintf(out[i].name, sizeof(out[i].name), "mlx5_%u", i);
		out[i].n_ports = 1;
	}
	*ret_n = DEVICES;
	return 0;
}

static int fake_qps(void *ctx, uint32_t dev_index, tita_rdma_qp_fn fn, void *fn_ctx,
		    struct tita_rdma_parse_stats *stats)
{
	(void)ctx;
	pthread_mutex_lock(&mu);
	scan_thread = pthread_self();
	held = true;
	pthread_cond_broadcast(&cv);
	while (!released)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	for (uint32_t i = dev_index - 1; i < QPS; i += DEVICES) {
		struct tita_rdma_qp q = { .dev_index = dev_index,
					  .port = 1,
					  .lqpn = 0x100 + i,
					  .rqpn = 0x100000 + i,
					  .has_rqpn = true,
					  .type = 2,
					  .state = 3,
					  .pid = 1000 + i % PROCS,
					  .has_pid = true };
		int r;

		snprintf(q.dev_name, sizeof(q.dev_name), "mlx5_%u", dev_index - 1);
		r = fn(&q, fn_ctx);
		if (r)
			return r;
		stats->qps++;
	}
	return 0;
}

static const struct tita_qpscan_source source = { fake_devices, fake_qps, NULL };

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* PROCS processes of 2 Slurm jobs. */
static void fake_proc(void)
{
	char path[256], text[256];

	assert_non_null(mkdtemp(proc_root));
	for (uint32_t p = 0; p < PROCS; p++) {
		snprintf(path, sizeof(path), "%s/%u", proc_root, 1000 + p);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/%u/stat", proc_root, 1000 + p);
		snprintf(text, sizeof(text),
			 "%u (python) S 1 1 1 0 -1 4194560 0 0 0 0 7 3 0 0 20 0 4 0 %u 1 2 3\n",
			 1000 + p, 5000 + p);
		write_file(path, text);
		snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, 1000 + p);
		snprintf(text, sizeof(text),
			 "0::/system.slice/slurmstepd.scope/job_%u/step_0/user/task_0\n",
			 1392960 + p % 2);
		write_file(path, text);
	}
}

static void rm_proc(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc_root);
	assert_int_equal(system(cmd), 0);
}

struct fixture {
	struct titad_config cfg;
	struct tita_event *ev;
	struct titad_ports *ports;
	struct titad_engine *engine;
	struct titad_discovery *disc;
	struct tita_timer *tick;
	uint32_t ticks;
};

static void on_tick(void *data, uint64_t now_ns)
{
	struct fixture *f = data;

	f->ticks++;
	tita_event_timer_set(f->ev, f->tick, now_ns + MS);
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256] = "";

	assert_non_null(f);
	test_config(&f->cfg);
	f->cfg.n_ports = 0;
	f->cfg.pacer = TITAD_PACER_DRY_RUN;
	f->cfg.qp_scan_interval_ns = SEC;
	snprintf(f->cfg.proc_root, sizeof(f->cfg.proc_root), "%s", proc_root);
	f->ev = tita_event_new();
	assert_non_null(f->ev);
	titad_discovery_set_source(&source);
	assert_int_equal(titad_ports_open(&f->ports, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(titad_engine_open(&f->engine, f->ev, &f->cfg, f->ports, err, sizeof(err)),
			 0);
	assert_int_equal(
		titad_discovery_open(&f->disc, f->ev, &f->cfg, f->engine, T0, err, sizeof(err)), 0);
	f->tick = tita_event_timer_new(f->ev, on_tick, f);
	assert_non_null(f->tick);
	tita_event_timer_set(f->ev, f->tick, T0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	titad_discovery_close(f->disc);
	titad_engine_close(f->engine);
	titad_ports_close(f->ports);
	tita_event_free(f->ev);
	free(f);
}

/* Run the loop at T0 until the worker is held in its scan (5 s at most). */
static void until_held(struct fixture *f)
{
	struct timespec until;

	assert_true(tita_event_dispatch(f->ev, T0, REAL0, 0) >= 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&mu);
	while (!held && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	pthread_mutex_unlock(&mu);
	assert_true(held);
}

static void release(void)
{
	pthread_mutex_lock(&mu);
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void test_scan_off_the_loop(void **state)
{
	struct fixture *f;
	struct titad_job_info job;
	size_t n = 1;
	uint64_t now = T0;

	(void)state;
	held = released = false;
	f = fixture_new();
	until_held(f);
	assert_false(pthread_equal(scan_thread, pthread_self()));

	/* 200 ms of the loop's 1 ms batches while the scan is held. */
	f->ticks = 0;
	for (int i = 0; i < 200; i++) {
		now += MS;
		assert_true(tita_event_dispatch(f->ev, now, REAL0 + now - T0, 0) >= 0);
	}
	assert_int_equal(f->ticks, 200);
	assert_int_equal(titad_discovery_scans(f->disc), 0);
	assert_null(titad_discovery_qps(f->disc, &n));
	assert_int_equal(n, 0);

	/* Let it go: the whole scan is taken in, as of when it was asked. */
	release();
	assert_int_equal(titad_discovery_wait(f->disc, 10000), 0);
	assert_int_equal(titad_discovery_scans(f->disc), 1);
	assert_non_null(titad_discovery_qps(f->disc, &n));
	assert_int_equal(n, QPS);
	assert_int_equal(titad_discovery_last_ns(f->disc), T0);
	assert_true(titad_engine_job_info(f->engine, "slurm-1392960", &job));
	assert_true(job.discovered);
	assert_int_equal(job.qps, QPS / 2);
	assert_true(titad_engine_job_info(f->engine, "slurm-1392961", &job));
	assert_int_equal(job.qps, QPS / 2);
	fixture_free(f);
}

static void *release_later(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
	release();
	return NULL;
}

static void test_close_during_scan(void **state)
{
	struct fixture *f;
	pthread_t t;

	(void)state;
	held = released = false;
	f = fixture_new();
	until_held(f);
	/* Closing waits for the worker to finish the scan it is in (the
	 * source is let go 50 ms into the close), then frees it all. */
	assert_int_equal(pthread_create(&t, NULL, release_later, NULL), 0);
	fixture_free(f);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(released);
}

static int setup(void **state)
{
	(void)state;
	fake_proc();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_proc();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_off_the_loop),
		cmocka_unit_test(test_close_during_scan),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
