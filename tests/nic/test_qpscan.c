// SPDX-License-Identifier: MIT
/*
 * QP discovery with a fake RDMA source and a fake /proc: QPs of several
 * processes in Slurm, Kubernetes (both cgroup drivers) and plain systemd
 * cgroups, kernel QPs, a process that left, a PID reused by another job,
 * a process that moved, RDMA netlink absent, dumps that fail, the caps.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "qpscan.h"

/* Real cgroup paths, as the schedulers write them. */
#define CG_SLURM "0::/system.slice/slurmstepd.scope/job_1392969/step_0/user/task_0\n"
#define CG_K8S_SYSTEMD                                                      \
	"0::/kubepods.slice/kubepods-burstable.slice/"                      \
	"kubepods-burstable-pod8f1c2c4e_2b3a_4c5d_9e6f_0123456789ab.slice/" \
	"cri-containerd-3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c.scope\n"
#define CG_K8S_CGROUPFS                                                   \
	"0::/kubepods/burstable/pod0a1b2c3d-0000-1111-2222-333344445555/" \
	"3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e\n"
#define CG_UNIT "0::/system.slice/trainer.service\n"
#define CG_NONE "0::/init.scope\n"

#define JOB_SLURM "slurm-1392969"
#define JOB_K8S_SYSTEMD "pod-8f1c2c4e-2b3a-4c5d-9e6f-0123456789ab"
#define JOB_K8S_CGROUPFS "pod-0a1b2c3d-0000-1111-2222-333344445555"
#define JOB_UNIT "unit-trainer.service"

/* ---- the fake /proc ------------------------------------------------------------ */

static char proc_root[] = "/tmp/tita-qpscan-XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A process: its stat (start time in field 22, a comm with a space and a
 * parenthesis, as comm may have) and its cgroup. */
static void add_proc(uint32_t pid, unsigned long long start, const char *cgroup)
{
	char path[PATH_MAX], stat[256];

	snprintf(path, sizeof(path), "%s/%u", proc_root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	snprintf(stat, sizeof(stat),
		 "%u (py thon) x) S 1 1 1 0 -1 4194560 0 0 0 0 7 3 0 0 20 0 4 0 %llu 1 2 3\n", pid,
		 start);
	write_file(path, stat);
	snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, pid);
	write_file(path, cgroup);
}

static void del_proc(uint32_t pid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%u", proc_root, pid);
	rmdir(path);
}

/* ---- the fake source ------------------------------------------------------------ */

#define MAX_FAKE_QPS 64

struct fake {
	int devices_err;
	size_t n_devs;
	struct tita_rdma_dev devs[4];
	size_t n_qps;
	struct tita_rdma_qp qps[MAX_FAKE_QPS];
	uint32_t fail_dev; /* this device's dump fails after its first QP */
	uint32_t skipped; /* malformed entries reported per dump */
	unsigned dev_calls, qp_calls;
};

static int fake_devices(void *ctx, struct tita_rdma_dev *out, size_t max, size_t *ret_n)
{
	struct fake *f = ctx;

	f->dev_calls++;
	if (f->devices_err)
		return f->devices_err;
	assert_true(max >= f->n_devs);
	memcpy(out, f->devs, f->n_devs * sizeof(*out));
	*ret_n = f->n_devs;
	return 0;
}

static int fake_qps(void *ctx, uint32_t dev_index, tita_rdma_qp_fn fn, void *fn_ctx,
		    struct tita_rdma_parse_stats *stats)
{
	struct fake *f = ctx;
	unsigned sent = 0;

	f->qp_calls++;
	stats->skipped += f->skipped;
	for (size_t i = 0; i < f->n_qps; i++) {
		int r;

		if (f->qps[i].dev_index != dev_index)
			continue;
		if (f->fail_dev == dev_index && sent == 1)
			return -EIO;
		r = fn(&f->qps[i], fn_ctx);
		if (r)
			return r;
		sent++;
		stats->qps++;
	}
	return 0;
}

static void add_dev(struct fake *f, uint32_t index, const char *name)
{
	struct tita_rdma_dev *d = &f->devs[f->n_devs++];

	memset(d, 0, sizeof(*d));
	d->index = index;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->n_ports = 1;
}

static void add_qp(struct fake *f, uint32_t dev, uint32_t lqpn, uint8_t type, uint32_t pid,
		   const char *kern)
{
	struct tita_rdma_qp *q = &f->qps[f->n_qps++];

	memset(q, 0, sizeof(*q));
	q->dev_index = dev;
	q->port = 1;
	q->lqpn = lqpn;
	q->type = type;
	q->state = 3; /* RTS */
	if (type == 2) {
		q->rqpn = lqpn + 1000;
		q->has_rqpn = true;
	}
	if (kern) {
		snprintf(q->kern_name, sizeof(q->kern_name), "%s", kern);
	} else {
		q->pid = pid;
		q->has_pid = true;
	}
}

static struct tita_qpscan *new_scan(struct fake *f, uint32_t max_qps, uint32_t max_pids)
{
	struct tita_qpscan_source src = { fake_devices, fake_qps, f };
	struct tita_qpscan_conf conf = {
		.source = &src,
		.proc_root = proc_root,
		.max_qps = max_qps,
		.max_pids = max_pids,
		.cache_scans = 3,
	};
	struct tita_qpscan *s = tita_qpscan_new(&conf);

	assert_non_null(s);
	return s;
}

/* The job of the QP with this QPN in the last result; NULL when absent. */
static const struct tita_qpscan_qp *qp_by_lqpn(struct tita_qpscan *s, uint32_t lqpn)
{
	size_t n;
	const struct tita_qpscan_qp *q = tita_qpscan_qps(s, &n);

	for (size_t i = 0; i < n; i++)
		if (q[i].lqpn == lqpn)
			return &q[i];
	return NULL;
}

static const char *job_of(struct tita_qpscan *s, uint32_t lqpn)
{
	const struct tita_qpscan_qp *q = qp_by_lqpn(s, lqpn);

	assert_non_null(q);
	return q->job;
}

/* A node running four jobs on two devices. */
static void node(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->fail_dev = UINT32_MAX;
	add_dev(f, 1, "mlx5_0");
	add_dev(f, 3, "mlx5_1");
	add_qp(f, 1, 1, 1, 0, "ib_core"); /* GSI, kernel */
	add_qp(f, 3, 1, 1, 0, "ib_core");
	/* Two ranks of a Slurm job, on both devices; listed out of order. */
	add_qp(f, 1, 0x120, 2, 100, NULL);
	add_qp(f, 1, 0x110, 2, 100, NULL);
	add_qp(f, 3, 0x111, 2, 100, NULL);
	add_qp(f, 3, 0x112, 2, 101, NULL);
	add_qp(f, 1, 0x200, 2, 200, NULL); /* pod, systemd driver */
	add_qp(f, 1, 0x201, 4, 200, NULL); /* its UD QP */
	add_qp(f, 3, 0x300, 2, 300, NULL); /* pod, cgroupfs driver */
	add_qp(f, 1, 0x400, 2, 400, NULL); /* a systemd service */
	add_qp(f, 1, 0x500, 2, 500, NULL); /* a process that has left */
	add_qp(f, 3, 0x600, 2, 600, NULL); /* no job in its cgroup */
	add_proc(100, 5000, CG_SLURM);
	add_proc(101, 5001, CG_SLURM);
	add_proc(200, 6000, CG_K8S_SYSTEMD);
	add_proc(300, 7000, CG_K8S_CGROUPFS);
	add_proc(400, 8000, CG_UNIT);
	add_proc(600, 9000, CG_NONE);
	del_proc(500);
}

static void test_jobs(void **state)
{
	struct fake f;
	struct tita_qpscan *s;
	struct tita_qpscan_stats st;
	const struct tita_qpscan_qp *q;
	const struct tita_qpscan_job *j;
	const struct tita_rdma_dev *d;
	size_t n, nj, nd;

	(void)state;
	node(&f);
	s = new_scan(&f, 0, 0);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.state, TITA_QPSCAN_NEVER);
	assert_int_equal(tita_qpscan_run(s), 0);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.state, TITA_QPSCAN_OK);
	assert_int_equal(st.devices, 2);
	assert_int_equal(st.qps_found, 12);
	assert_int_equal(st.qps_cut, 0);
	assert_int_equal(st.pids, 7);
	assert_int_equal(st.pids_cached, 6); /* not the one that left */
	for (int e = 0; e < TITA_QPSCAN_E_COUNT; e++)
		assert_int_equal(st.errors[e], 0);

	d = tita_qpscan_devices(s, &nd);
	assert_int_equal(nd, 2);
	assert_string_equal(d[1].name, "mlx5_1");

	/* Ordered by device, port, QPN. */
	q = tita_qpscan_qps(s, &n);
	assert_int_equal(n, 12);
	for (size_t i = 1; i < n; i++)
		assert_true(q[i - 1].dev < q[i].dev ||
			    (q[i - 1].dev == q[i].dev && q[i - 1].lqpn < q[i].lqpn));
	assert_int_equal(q[0].dev, 0);
	assert_int_equal(q[0].lqpn, 1);
	assert_false(q[0].has_pid);
	assert_string_equal(q[0].kern_name, "ib_core");
	assert_string_equal(q[0].job, "");
	assert_int_equal(q[1].lqpn, 0x110);
	assert_true(q[1].has_rqpn);
	assert_int_equal(q[1].rqpn, 0x110 + 1000);
	assert_int_equal(q[1].pid, 100);
	assert_string_equal(q[1].kern_name, "");

	assert_string_equal(job_of(s, 0x110), JOB_SLURM);
	assert_string_equal(job_of(s, 0x111), JOB_SLURM);
	assert_string_equal(job_of(s, 0x112), JOB_SLURM);
	assert_string_equal(job_of(s, 0x120), JOB_SLURM);
	assert_string_equal(job_of(s, 0x200), JOB_K8S_SYSTEMD);
	assert_string_equal(job_of(s, 0x201), JOB_K8S_SYSTEMD);
	assert_false(qp_by_lqpn(s, 0x201)->has_rqpn);
	assert_string_equal(job_of(s, 0x300), JOB_K8S_CGROUPFS);
	assert_string_equal(job_of(s, 0x400), JOB_UNIT);
	assert_string_equal(job_of(s, 0x500), "");
	assert_int_equal(qp_by_lqpn(s, 0x500)->pid, 500);
	assert_string_equal(job_of(s, 0x600), "");

	/* Jobs by name, each process's QPs added up. */
	j = tita_qpscan_jobs(s, &nj);
	assert_int_equal(nj, 4);
	assert_string_equal(j[0].name, JOB_K8S_CGROUPFS);
	assert_int_equal(j[0].qps, 1);
	assert_string_equal(j[1].name, JOB_K8S_SYSTEMD);
	assert_int_equal(j[1].qps, 2);
	assert_string_equal(j[2].name, JOB_SLURM);
	assert_int_equal(j[2].qps, 4);
	assert_string_equal(j[3].name, JOB_UNIT);
	assert_int_equal(j[3].qps, 1);

	/* Scanning turned off: nothing is left. */
	tita_qpscan_clear(s);
	tita_qpscan_qps(s, &n);
	assert_int_equal(n, 0);
	tita_qpscan_jobs(s, &nj);
	assert_int_equal(nj, 0);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.pids_cached, 0);
	tita_qpscan_free(s);
}

static void test_cache(void **state)
{
	struct fake f;
	struct tita_qpscan *s;
	struct tita_qpscan_stats st;
	uint64_t lookups;

	(void)state;
	node(&f);
	s = new_scan(&f, 0, 0);
	assert_int_equal(tita_qpscan_run(s), 0);
	tita_qpscan_stats(s, &st);
	lookups = st.job_lookups;
	assert_int_equal(lookups, 6);

	/* A second scan reads no cgroup: every PID is cached, same start. */
	assert_int_equal(tita_qpscan_run(s), 0);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.job_lookups, lookups);

	/* PID 100 exits and the PID goes to a process of a pod: a new start
	 * time, so the cache does not answer for it. */
	add_proc(100, 5100, CG_K8S_SYSTEMD);
	assert_int_equal(tita_qpscan_run(s), 0);
	assert_string_equal(job_of(s, 0x110), JOB_K8S_SYSTEMD);
	assert_string_equal(job_of(s, 0x112), JOB_SLURM); /* PID 101, untouched */
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.job_lookups, lookups + 1);

	tita_qpscan_free(s);
}

static void test_cache_expiry(void **state)
{
	struct fake f;
	struct tita_qpscan *s;

	(void)state;
	node(&f);
	s = new_scan(&f, 0, 0);
	assert_int_equal(tita_qpscan_run(s), 0); /* scan 1 reads PID 400's cgroup */
	add_proc(400, 8000, CG_SLURM); /* moved, same process */
	assert_int_equal(tita_qpscan_run(s), 0); /* scan 2 */
	assert_string_equal(job_of(s, 0x400), JOB_UNIT);
	assert_int_equal(tita_qpscan_run(s), 0); /* scan 3 */
	assert_string_equal(job_of(s, 0x400), JOB_UNIT);
	assert_int_equal(tita_qpscan_run(s), 0); /* scan 4: expired, read again */
	assert_string_equal(job_of(s, 0x400), JOB_SLURM);

	/* The process leaves while the dump still lists its QPs: no job, and
	 * the next process with that PID gets its own. */
	del_proc(400);
	assert_int_equal(tita_qpscan_run(s), 0);
	assert_string_equal(job_of(s, 0x400), "");
	add_proc(400, 8500, CG_UNIT);
	assert_int_equal(tita_qpscan_run(s), 0);
	assert_string_equal(job_of(s, 0x400), JOB_UNIT);
	tita_qpscan_free(s);
}

static void test_absent(void **state)
{
	struct fake f;
	struct tita_qpscan *s;
	struct tita_qpscan_stats st;
	size_t n;

	(void)state;
	node(&f);
	s = new_scan(&f, 0, 0);
	assert_int_equal(tita_qpscan_run(s), 0);

	/* ib_core unloaded: absent, an empty result, and no error counted. */
	f.devices_err = -EPROTONOSUPPORT;
	assert_int_equal(tita_qpscan_run(s), -EPROTONOSUPPORT);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.state, TITA_QPSCAN_NO_NETLINK);
	assert_string_equal(tita_qpscan_state_name(st.state), "no_rdma_netlink");
	tita_qpscan_qps(s, &n);
	assert_int_equal(n, 0);
	tita_qpscan_devices(s, &n);
	assert_int_equal(n, 0);
	tita_qpscan_jobs(s, &n);
	assert_int_equal(n, 0);
	assert_int_equal(st.pids_cached, 0);
	for (int e = 0; e < TITA_QPSCAN_E_COUNT; e++)
		assert_int_equal(st.errors[e], 0);
	assert_int_equal(f.qp_calls, 2); /* only the first scan's */

	/* RDMA netlink, no device. */
	f.devices_err = 0;
	f.n_devs = 0;
	assert_int_equal(tita_qpscan_run(s), -ENODEV);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.state, TITA_QPSCAN_NO_DEVICES);
	assert_int_equal(st.errors[TITA_QPSCAN_E_DEVICES], 0);

	/* The device dump fails: counted. */
	f.devices_err = -ENOBUFS;
	assert_int_equal(tita_qpscan_run(s), -ENOBUFS);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.state, TITA_QPSCAN_FAILED);
	assert_int_equal(st.errors[TITA_QPSCAN_E_DEVICES], 1);
	assert_int_equal(st.last_error, -ENOBUFS);
	tita_qpscan_free(s);
}

static void test_dump_errors(void **state)
{
	struct fake f;
	struct tita_qpscan *s;
	struct tita_qpscan_stats st;
	size_t n;

	(void)state;
	node(&f);
	f.fail_dev = 3; /* mlx5_1 fails after its first QP */
	f.skipped = 2;
	s = new_scan(&f, 0, 0);
	assert_int_equal(tita_qpscan_run(s), 0);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.state, TITA_QPSCAN_OK);
	assert_int_equal(st.errors[TITA_QPSCAN_E_QPS], 1);
	assert_int_equal(st.errors[TITA_QPSCAN_E_MALFORMED], 4);
	assert_int_equal(st.last_error, -EIO);
	/* mlx5_0's seven, and what mlx5_1 sent before failing. */
	tita_qpscan_qps(s, &n);
	assert_int_equal(n, 8);
	assert_string_equal(job_of(s, 0x120), JOB_SLURM);
	assert_null(qp_by_lqpn(s, 0x300));
	tita_qpscan_free(s);
}

static void test_caps(void **state)
{
	struct fake f;
	struct tita_qpscan *s;
	struct tita_qpscan_stats st;
	size_t n;

	(void)state;
	node(&f);
	/* Five QPs kept of twelve; two PIDs cached of those on them. */
	s = new_scan(&f, 5, 2);
	assert_int_equal(tita_qpscan_run(s), 0);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.qps_found, 12);
	assert_int_equal(st.qps_cut, 7);
	tita_qpscan_qps(s, &n);
	assert_int_equal(n, 5);
	assert_int_equal(st.pids_cached, 2);
	/* Uncached PIDs still get their job. */
	for (size_t i = 0; i < n; i++) {
		const struct tita_qpscan_qp *q = &tita_qpscan_qps(s, &n)[i];

		if (q->pid == 200)
			assert_string_equal(q->job, JOB_K8S_SYSTEMD);
		if (q->pid == 100)
			assert_string_equal(q->job, JOB_SLURM);
	}
	/* The same again: the cut is per scan, not cumulative. */
	assert_int_equal(tita_qpscan_run(s), 0);
	tita_qpscan_stats(s, &st);
	assert_int_equal(st.qps_cut, 7);
	tita_qpscan_free(s);
}

static void test_start_time(void **state)
{
	char path[PATH_MAX];
	uint64_t t = 0;

	(void)state;
	add_proc(700, 123456789, CG_UNIT);
	assert_int_equal(tita_proc_start_time(proc_root, 700, &t), 0);
	assert_true(t == 123456789);
	assert_int_equal(tita_proc_start_time(proc_root, 701, &t), -ESRCH);
	snprintf(path, sizeof(path), "%s/700/stat", proc_root);
	write_file(path, "700 (short) S 1 2 3\n");
	assert_int_equal(tita_proc_start_time(proc_root, 700, &t), -EBADMSG);
	write_file(path, "700 no parenthesis\n");
	assert_int_equal(tita_proc_start_time(proc_root, 700, &t), -EBADMSG);
	del_proc(700);
	/* This very process. */
	t = 0;
	assert_int_equal(tita_proc_start_time("/proc", (uint32_t)getpid(), &t), 0);
	assert_true(t > 0);
}

/* The real source on whatever this host has: absent is fine, an error
 * other than absence is not. */
static void test_real_source(void **state)
{
	struct tita_qpscan *s = tita_qpscan_new(NULL);
	struct tita_qpscan_stats st;
	int r;

	(void)state;
	assert_non_null(s);
	r = tita_qpscan_run(s);
	tita_qpscan_stats(s, &st);
	print_message("RDMA netlink on this host: %s (%d), %u devices, %u QPs\n",
		      tita_qpscan_state_name(st.state), r, st.devices, st.qps_found);
	assert_true(r == 0 || r == -EPROTONOSUPPORT || r == -ENODEV);
	tita_qpscan_free(s);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(proc_root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc_root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs),	     cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_expiry), cmocka_unit_test(test_absent),
		cmocka_unit_test(test_dump_errors),  cmocka_unit_test(test_caps),
		cmocka_unit_test(test_start_time),   cmocka_unit_test(test_real_source),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
