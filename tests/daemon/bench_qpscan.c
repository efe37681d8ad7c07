// SPDX-License-Identifier: MIT
/*
 * QP discovery at a GPU node's scale (finding 10): QPS QPs over 8 RDMA
 * devices, owned by PROCS processes of 8 Slurm jobs (a fake RDMA source and
 * a fake /proc, as tests/nic/test_qpscan.c has them). Prints
 *
 *   - what one scan costs (tita_qpscan_run, the median of 5 after a first
 *     cold one): what ran on the event loop's thread before, against the
 *     loop's 1 ms budget;
 *   - the event loop with discovery scanning every 50 ms on its worker
 *     thread for SECONDS, a batch every 1 ms: the loop thread's CPU time
 *     per batch (longest, 99th percentile), and the scans taken in: what
 *     the loop pays now.
 *
 * Usage: bench-qpscan [QPS [PROCS [SECONDS]]]   (defaults 100000 512 3)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "discovery.h"
#include "engine.h"
#include "event.h"
#include "ports.h"
#include "qpscan.h"

#define DEVICES 8

static uint32_t n_qps, n_procs;
static char proc_root[] = "/tmp/tita-bench-qpscan-XXXXXX";

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: the loop's own work, whatever else runs. */
static uint64_t thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
	for (uint32_t i = dev_index - 1; i < n_qps; i += DEVICES) {
		struct tita_rdma_qp q = { .dev_index = dev_index,
					  .port = 1,
					  .lqpn = 0x100 + i,
					  .rqpn = 0x100000 + i,
					  .has_rqpn = true,
					  .type = 2,
					  .state = 3,
					  .pid = 1000 + i % n_procs,
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

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void fake_proc(void)
{
	char path[PATH_MAX], text[256];

	if (!mkdtemp(proc_root)) {
		perror("mkdtemp");
		exit(1);
	}
	for (uint32_t p = 0; p < n_procs; p++) {
		snprintf(path, sizeof(path), "%s/%u", proc_root, 1000 + p);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%u/stat", proc_root, 1000 + p);
		snprintf(text, sizeof(text),
			 "%u (python) S 1 1 1 0 -1 4194560 0 0 0 0 7 3 0 0 20 0 4 0 %u 1 2 3\n",
			 1000 + p, 5000 + p);
		write_file(path, text);
		snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, 1000 + p);
		snprintf(text, sizeof(text),
			 "0::/system.slice/slurmstepd.scope/job_%u/step_0/user/task_0\n",
			 1392960 + p % 8);
		write_file(path, text);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static uint64_t batch_ns[200000];
	struct tita_qpscan_conf qc = { .source = &source, .max_qps = 131072 };
	struct titad_config cfg;
	struct titad_ports *ports;
	struct titad_engine *engine;
	struct titad_discovery *disc;
	struct tita_event *ev;
	struct tita_qpscan *scan;
	struct tita_qpscan_stats st;
	uint64_t scan_ns[6], t_end;
	size_t n_batches = 0;
	uint64_t scans0;
	char err[256] = "", cmd[PATH_MAX + 16];
	double seconds;

	n_qps = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
	n_procs = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 512;
	seconds = argc > 3 ? strtod(argv[3], NULL) : 3;
	if (!n_qps || n_qps > 131072 || !n_procs || seconds <= 0 || seconds > 60) {
		fprintf(stderr, "usage: bench-qpscan [QPS (1..131072) [PROCS [SECONDS (..60)]]]\n");
		return 2;
	}
	fake_proc();

	/* One scan, on this thread, as the loop ran it before. */
	qc.proc_root = proc_root;
	scan = tita_qpscan_new(&qc);
	if (!scan)
		return 1;
	for (int i = 0; i < 6; i++) {
		uint64_t t0 = mono_ns();

		tita_qpscan_run(scan);
		scan_ns[i] = mono_ns() - t0;
	}
	tita_qpscan_stats(scan, &st);
	tita_qpscan_free(scan);
	qsort(scan_ns + 1, 5, sizeof(scan_ns[0]), cmp_u64);

	/* The loop with the scans on their worker. */
	titad_config_defaults(&cfg);
	cfg.n_ports = 0;
	cfg.pacer = TITAD_PACER_DRY_RUN;
	cfg.qp_scan_interval_ns = 50 * 1000000ull;
	snprintf(cfg.proc_root, sizeof(cfg.proc_root), "%s", proc_root);
	ev = tita_event_new();
	titad_discovery_set_source(&source);
	if (!ev || titad_ports_open(&ports, &cfg, err, sizeof(err)) ||
	    titad_engine_open(&engine, ev, &cfg, ports, err, sizeof(err)) ||
	    titad_discovery_open(&disc, ev, &cfg, engine, mono_ns(), err, sizeof(err))) {
		fprintf(stderr, "bench-qpscan: %s\n", err);
		return 1;
	}
	scans0 = titad_discovery_scans(disc);
	t_end = mono_ns() + (uint64_t)(seconds * 1e9);
	while (mono_ns() < t_end && n_batches < sizeof(batch_ns) / sizeof(batch_ns[0])) {
		uint64_t c0;

		/* A 1 ms tick, as the control loop has; the batch's cost is
		 * the loop thread's CPU time, not the wait for events. */
		usleep(1000);
		c0 = thread_ns();
		tita_event_dispatch(ev, mono_ns(), 0, 0);
		batch_ns[n_batches++] = thread_ns() - c0;
	}
	qsort(batch_ns, n_batches, sizeof(batch_ns[0]), cmp_u64);
	{
		size_t n;

		titad_discovery_qps(disc, &n);
		printf("QP discovery: %u QPs on %d devices, %u processes of 8 jobs\n", n_qps,
		       DEVICES, n_procs);
		printf("  one scan (tita_qpscan_run): cold %.1f ms, then median %.1f ms (max %.1f) "
		       "- kept %u, cut %u\n",
		       scan_ns[0] / 1e6, scan_ns[3] / 1e6, scan_ns[5] / 1e6,
		       st.qps_found - st.qps_cut, st.qps_cut);
		printf("  event loop, scanning every 50 ms on the worker for %.0f s: %llu scans "
		       "taken in (%zu QPs each); %zu batches, CPU per batch p99 %.3f ms, longest "
		       "%.3f ms\n",
		       seconds, (unsigned long long)(titad_discovery_scans(disc) - scans0), n,
		       n_batches, batch_ns[n_batches * 99 / 100] / 1e6,
		       batch_ns[n_batches - 1] / 1e6);
	}
	titad_discovery_close(disc);
	titad_engine_close(engine);
	titad_ports_close(ports);
	tita_event_free(ev);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc_root);
	return system(cmd) ? 1 : 0;
}
