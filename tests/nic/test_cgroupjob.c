// SPDX-License-Identifier: MIT
/*
 * Jobs from cgroup paths, with the forms Slurm and Kubernetes (both cgroup
 * drivers) really write, and whole /proc/<pid>/cgroup files from hybrid
 * and pure cgroup v2 hosts.
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
#include <cmocka.h>

#include "cgroupjob.h"

struct cas {
	const char *path;
	enum tita_job_kind kind;
	const char *id;
};

static const struct cas cases[] = {
	/* Slurm, cgroup/v2 (doc/html/cgroup_v2.shtml). */
	{ "/system.slice/slurmstepd.scope/job_1392969/step_0/user/task_0", TITA_JOB_KIND_SLURM,
	  "1392969" },
	{ "/system.slice/slurmstepd.scope/job_77/step_batch/slurm", TITA_JOB_KIND_SLURM, "77" },
	{ "/system.slice/node12_slurmstepd.scope/job_5/step_extern/user/task_special",
	  TITA_JOB_KIND_SLURM, "5" },
	/* The stepd's own process is not in a job: its unit is what names it. */
	{ "/system.slice/slurmstepd.scope/system", TITA_JOB_KIND_UNIT, "slurmstepd.scope" },
	/* Slurm, cgroup/v1. */
	{ "/slurm/uid_2101171/job_280678/step_interactive/task_0", TITA_JOB_KIND_SLURM, "280678" },
	{ "/slurm_node07/uid_1000/job_42/step_0/task_1", TITA_JOB_KIND_SLURM, "42" },
	/* Not Slurm: job_ outside a slurm hierarchy. */
	{ "/user.slice/user-1000.slice/job_12.service", TITA_JOB_KIND_UNIT, "job_12.service" },
	/* Kubernetes, cgroupfs driver (Burstable, BestEffort, Guaranteed). */
	{ "/kubepods/burstable/pod8f1c2c4e-2b3a-4c5d-9e6f-0123456789ab/"
	  "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e",
	  TITA_JOB_KIND_K8S_POD, "8f1c2c4e-2b3a-4c5d-9e6f-0123456789ab" },
	{ "/kubepods/besteffort/pod0a1b2c3d-0000-1111-2222-333344445555/abc", TITA_JOB_KIND_K8S_POD,
	  "0a1b2c3d-0000-1111-2222-333344445555" },
	{ "/kubepods/pod11111111-2222-3333-4444-555555555555/deadbeef", TITA_JOB_KIND_K8S_POD,
	  "11111111-2222-3333-4444-555555555555" },
	/* Kubernetes, systemd driver: the UID's dashes became underscores. */
	{ "/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod8f1c2c4e_2b3a_4c5d_9e6f_0123456789ab.slice/"
	  "cri-containerd-3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c.scope",
	  TITA_JOB_KIND_K8S_POD, "8f1c2c4e-2b3a-4c5d-9e6f-0123456789ab" },
	{ "/kubepods.slice/kubepods-besteffort.slice/"
	  "kubepods-besteffort-pod0a1b2c3d_0000_1111_2222_333344445555.slice/crio-abc.scope",
	  TITA_JOB_KIND_K8S_POD, "0a1b2c3d-0000-1111-2222-333344445555" },
	{ "/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555.slice/"
	  "cri-containerd-1.scope",
	  TITA_JOB_KIND_K8S_POD, "11111111-2222-3333-4444-555555555555" },
	/* A static pod: its UID is the config hash. */
	{ "/kubepods/burstable/pod6c0b1d2b5f2bd4a2bd0e5e5e7f8ddc10/c1", TITA_JOB_KIND_K8S_POD,
	  "6c0b1d2b5f2bd4a2bd0e5e5e7f8ddc10" },
	/* The QoS slices alone name no pod. */
	{ "/kubepods.slice/kubepods-burstable.slice", TITA_JOB_KIND_NONE, NULL },
	/* Plain systemd. */
	{ "/system.slice/trainer.service", TITA_JOB_KIND_UNIT, "trainer.service" },
	{ "/user.slice/user-1000.slice/session-3.scope", TITA_JOB_KIND_UNIT, "session-3.scope" },
	{ "/system.slice/docker-0123abcd.scope", TITA_JOB_KIND_UNIT, "docker-0123abcd.scope" },
	{ "/init.scope", TITA_JOB_KIND_NONE, NULL },
	{ "/", TITA_JOB_KIND_NONE, NULL },
	{ "", TITA_JOB_KIND_NONE, NULL },
};

static void test_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tita_job_ident id = { .kind = TITA_JOB_KIND_NONE, .id = "untouched" };
		int r = tita_cgroup_parse_path(cases[i].path, &id);

		if (cases[i].kind == TITA_JOB_KIND_NONE) {
			if (r != -ENOENT)
				fail_msg("%s: expected no job, got %d %s", cases[i].path, id.kind,
					 id.id);
			assert_string_equal(id.id, "untouched");
			continue;
		}
		if (r != 0 || id.kind != cases[i].kind || strcmp(id.id, cases[i].id))
			fail_msg("%s: got %d kind %d id %s", cases[i].path, r, id.kind, id.id);
	}
}

static void test_files(void **state)
{
	/* Hybrid host (v1 controllers + the unified hierarchy), Slurm v1. */
	static const char hybrid[] = "12:pids:/slurm/uid_1000/job_31337/step_0/task_0\n"
				     "11:devices:/slurm/uid_1000/job_31337/step_0/task_0\n"
				     "10:memory:/slurm/uid_1000/job_31337/step_0\n"
				     "1:name=systemd:/system.slice/slurmd.service\n"
				     "0::/system.slice/slurmd.service\n";
	/* Pure v2, Kubernetes with the systemd driver. */
	static const char v2[] = "0::/kubepods.slice/kubepods-burstable.slice/"
				 "kubepods-burstable-podaaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee.slice/"
				 "cri-containerd-ff.scope\n";
	static const char unit[] = "0::/system.slice/nccl-tests.service\n";
	static const char junk[] = "no colons here\n1:only-one-colon\n\n::\n";
	struct tita_job_ident id;
	char name[64];

	(void)state;
	assert_int_equal(tita_cgroup_parse_file(hybrid, strlen(hybrid), &id), 0);
	assert_int_equal(id.kind, TITA_JOB_KIND_SLURM);
	assert_string_equal(id.id, "31337");
	assert_string_equal(tita_job_ident_name(&id, name, sizeof(name), 63), "slurm-31337");

	assert_int_equal(tita_cgroup_parse_file(v2, strlen(v2), &id), 0);
	assert_int_equal(id.kind, TITA_JOB_KIND_K8S_POD);
	assert_string_equal(id.id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
	assert_string_equal(tita_job_ident_name(&id, name, sizeof(name), 63),
			    "pod-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");

	assert_int_equal(tita_cgroup_parse_file(unit, strlen(unit), &id), 0);
	assert_string_equal(tita_job_ident_name(&id, name, sizeof(name), 63),
			    "unit-nccl-tests.service");
	assert_int_equal(tita_cgroup_parse_file(junk, strlen(junk), &id), -ENOENT);
	/* Not NUL-terminated, cut mid-line. */
	assert_int_equal(tita_cgroup_parse_file(hybrid, 20, &id), -ENOENT);
	assert_int_equal(tita_cgroup_parse_file(hybrid, 40, &id), 0);
	assert_string_equal(id.id, "31337");
}

static void test_names(void **state)
{
	struct tita_job_ident id = { TITA_JOB_KIND_UNIT, "user@1000.service" };
	char name[64], small[8];

	(void)state;
	/* titactl names: letters, digits, '_', '-', '.' only. */
	assert_string_equal(tita_job_ident_name(&id, name, sizeof(name), 63),
			    "unit-user_1000.service");
	assert_string_equal(tita_job_ident_name(&id, name, sizeof(name), 10), "unit-user_");
	assert_string_equal(tita_job_ident_name(&id, small, sizeof(small), 63), "unit-us");
}

static void test_proc(void **state)
{
	char root[] = "/tmp/tita-proc-XXXXXX", path[PATH_MAX], cmd[PATH_MAX + 16];
	struct tita_job_ident id;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/4242", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/cgroup", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("0::/system.slice/slurmstepd.scope/job_9/step_0/user/task_0\n", f);
	fclose(f);
	assert_int_equal(tita_job_of_pid(root, 4242, &id), 0);
	assert_string_equal(id.id, "9");
	assert_int_equal(tita_job_of_pid(root, 4243, &id), -ESRCH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	/* This process, on this host: whatever it is, parsing must not fail
	 * for a reason other than "no job". */
	{
		int r = tita_job_of_pid("/proc", 1, &id);

		assert_true(r == 0 || r == -ENOENT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
