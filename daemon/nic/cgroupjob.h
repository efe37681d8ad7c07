/* SPDX-License-Identifier: MIT */
/*
 * The job a process belongs to, from its cgroup (/proc/<pid>/cgroup, world
 * readable, unlike /proc/<pid>/environ's SLURM_JOB_ID). Recognised forms:
 *
 *   Slurm, cgroup v2   0::/system.slice/slurmstepd.scope/job_1392969/step_0/user/task_0
 *   Slurm, cgroup v1   10:devices:/slurm/uid_2101171/job_280678/step_interactive/task_0
 *   Kubernetes, cgroupfs driver
 *                      0::/kubepods/burstable/pod8f1c2c4e-.../<container id>
 *   Kubernetes, systemd driver
 *                      0::/kubepods.slice/kubepods-burstable.slice/
 *                         kubepods-burstable-pod8f1c2c4e_..._....slice/cri-containerd-<id>.scope
 *   anything else      the innermost systemd unit (.service or .scope)
 *
 * Hosts may mount v1 controllers and a v2 hierarchy together, so every line
 * is looked at; a scheduler's job on any line wins over a unit.
 *
 * The parsers are pure (strings in, struct out) so that the tests feed
 * them the path forms the schedulers really produce.
 */
#ifndef TITA_CGROUPJOB_H
#define TITA_CGROUPJOB_H

#include <stddef.h>
#include <sys/types.h>

enum tita_job_kind {
	TITA_JOB_KIND_NONE,
	TITA_JOB_KIND_UNIT, /* a systemd unit: the weakest identity */
	TITA_JOB_KIND_K8S_POD,
	TITA_JOB_KIND_SLURM,
};

struct tita_job_ident {
	enum tita_job_kind kind;
	/* Slurm job id ("1392969"), pod UID with dashes, or unit name. */
	char id[128];
};

/* One cgroup path (the part after the second ':'). 0, or -ENOENT when it
 * names no job and no unit; ret is untouched then. */
int tita_cgroup_parse_path(const char *path, struct tita_job_ident *ret);

/* A whole /proc/<pid>/cgroup file (len bytes, need not be NUL-terminated).
 * 0 or -ENOENT. */
int tita_cgroup_parse_file(const char *buf, size_t len, struct tita_job_ident *ret);

/* Read <proc_root>/<pid>/cgroup and parse it. 0, -ENOENT (no job), or the
 * -errno of the read (-ESRCH when the process is gone). */
int tita_job_of_pid(const char *proc_root, pid_t pid, struct tita_job_ident *ret);

/* The job's titad name: "slurm-1392969", "pod-8f1c2c4e-...", "unit-foo.service";
 * characters that titactl does not accept in names become '_', and the
 * name is cut to max_len characters. Returns buf. */
char *tita_job_ident_name(const struct tita_job_ident *id, char *buf, size_t size, size_t max_len);

#endif /* TITA_CGROUPJOB_H */
