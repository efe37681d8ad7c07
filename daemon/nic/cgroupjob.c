// SPDX-License-Identifier: MIT
/*
 * Job identity from cgroup paths (see cgroupjob.h). A path is split into
 * its components and each scheduler's pattern is matched against them;
 * nothing here allocates.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroupjob.h"

struct comp {
	const char *s;
	size_t n;
};

#define MAX_COMPS 64

static size_t split(const char *path, size_t len, struct comp *out, size_t max)
{
	size_t n = 0, i = 0;

	while (i < len && n < max) {
		size_t start;

		while (i < len && path[i] == '/')
			i++;
		start = i;
		while (i < len && path[i] != '/')
			i++;
		if (i > start)
			out[n++] = (struct comp){ path + start, i - start };
	}
	return n;
}

static bool has_prefix(const struct comp *c, const char *p)
{
	size_t n = strlen(p);

	return c->n >= n && memcmp(c->s, p, n) == 0;
}

static bool has_suffix(const struct comp *c, const char *p)
{
	size_t n = strlen(p);

	return c->n >= n && memcmp(c->s + c->n - n, p, n) == 0;
}

static bool contains(const struct comp *c, const char *p)
{
	size_t n = strlen(p);

	for (size_t i = 0; i + n <= c->n; i++)
		if (memcmp(c->s + i, p, n) == 0)
			return true;
	return false;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A pod UID: a UUID (36 chars, API pods) or a 32-hex config hash (static
 * pods), with '-' or, under the systemd driver, '_' as the separator. */
static bool pod_uid_valid(const char *s, size_t n)
{
	if (n < 8 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static void set_id(struct tita_job_ident *ret, enum tita_job_kind kind, const char *s, size_t n,
		   bool underscores_to_dashes)
{
	if (n >= sizeof(ret->id))
		n = sizeof(ret->id) - 1;
	ret->kind = kind;
	memcpy(ret->id, s, n);
	ret->id[n] = '\0';
	if (underscores_to_dashes)
		for (size_t i = 0; i < n; i++)
			if (ret->id[i] == '_')
				ret->id[i] = '-';
}

static int parse_slurm(const struct comp *c, size_t n, struct tita_job_ident *ret)
{
	bool under_slurm = false;

	for (size_t i = 0; i < n; i++) {
		/* v1: /slurm/... or /slurm_<node>/... (multiple slurmd); v2:
		 * .../slurmstepd.scope/... or <node>_slurmstepd.scope. */
		if (has_prefix(&c[i], "slurm") || contains(&c[i], "slurmstepd.scope")) {
			under_slurm = true;
			continue;
		}
		if (under_slurm && has_prefix(&c[i], "job_") &&
		    all_digits(c[i].s + 4, c[i].n - 4)) {
			set_id(ret, TITA_JOB_KIND_SLURM, c[i].s + 4, c[i].n - 4, false);
			return 0;
		}
	}
	return -ENOENT;
}

static int parse_k8s(const struct comp *c, size_t n, struct tita_job_ident *ret)
{
	bool under_kubepods = false;

	for (size_t i = 0; i < n; i++) {
		/* systemd driver: kubepods[-<qos>]-pod<uid_with_underscores>.slice */
		if (has_prefix(&c[i], "kubepods") && has_suffix(&c[i], ".slice")) {
			const char *pod = NULL;

			for (size_t k = 0; k + 4 <= c[i].n; k++)
				if (memcmp(c[i].s + k, "-pod", 4) == 0)
					pod = c[i].s + k + 4;
			if (pod) {
				size_t len = (size_t)(c[i].s + c[i].n - strlen(".slice") - pod);

				if (pod_uid_valid(pod, len)) {
					set_id(ret, TITA_JOB_KIND_K8S_POD, pod, len, true);
					return 0;
				}
			}
			under_kubepods = true;
			continue;
		}
		/* cgroupfs driver: /kubepods[/<qos>]/pod<uid>/<container> */
		if (c[i].n == 8 && has_prefix(&c[i], "kubepods")) {
			under_kubepods = true;
			continue;
		}
		if (under_kubepods && has_prefix(&c[i], "pod") &&
		    pod_uid_valid(c[i].s + 3, c[i].n - 3)) {
			set_id(ret, TITA_JOB_KIND_K8S_POD, c[i].s + 3, c[i].n - 3, true);
			return 0;
		}
	}
	return -ENOENT;
}

static int parse_unit(const struct comp *c, size_t n, struct tita_job_ident *ret)
{
	/* The innermost unit: a service inside a slice, or a scope. init.scope
	 * is PID 1 itself and names no workload. */
	for (size_t i = n; i-- > 0;) {
		if ((has_suffix(&c[i], ".service") || has_suffix(&c[i], ".scope")) &&
		    !(c[i].n == 10 && has_prefix(&c[i], "init.scope"))) {
			set_id(ret, TITA_JOB_KIND_UNIT, c[i].s, c[i].n, false);
			return 0;
		}
	}
	return -ENOENT;
}

static int parse_path_n(const char *path, size_t len, struct tita_job_ident *ret)
{
	struct comp c[MAX_COMPS];
	size_t n = split(path, len, c, MAX_COMPS);
	struct tita_job_ident id = { 0 };

	if (parse_slurm(c, n, &id) == 0 || parse_k8s(c, n, &id) == 0 ||
	    parse_unit(c, n, &id) == 0) {
		*ret = id;
		return 0;
	}
	return -ENOENT;
}

int tita_cgroup_parse_path(const char *path, struct tita_job_ident *ret)
{
	return parse_path_n(path, strlen(path), ret);
}

int tita_cgroup_parse_file(const char *buf, size_t len, struct tita_job_ident *ret)
{
	struct tita_job_ident best = { 0 };
	size_t i = 0;

	while (i < len) {
		const char *line = buf + i, *nl = memchr(line, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - line) : len - i;
		const char *c1 = memchr(line, ':', ll), *c2;
		struct tita_job_ident id;

		i += ll + 1;
		if (!c1)
			continue;
		c2 = memchr(c1 + 1, ':', ll - (size_t)(c1 + 1 - line));
		if (!c2)
			continue;
		if (parse_path_n(c2 + 1, ll - (size_t)(c2 + 1 - line), &id))
			continue;
		/* A scheduler's job wins over a unit; among equals the first
		 * line wins (a scheduler puts the process in the same job in
		 * every hierarchy it manages). */
		if (id.kind > best.kind)
			best = id;
	}
	if (best.kind == TITA_JOB_KIND_NONE)
		return -ENOENT;
	*ret = best;
	return 0;
}

int tita_job_of_pid(const char *proc_root, pid_t pid, struct tita_job_ident *ret)
{
	char path[PATH_MAX], buf[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* Nested hierarchies keep the file well under a page per line; a
	 * longer file is cut, and only its last line may be lost. */
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	return tita_cgroup_parse_file(buf, (size_t)n, ret);
}

char *tita_job_ident_name(const struct tita_job_ident *id, char *buf, size_t size, size_t max_len)
{
	const char *prefix = id->kind == TITA_JOB_KIND_SLURM   ? "slurm-" :
			     id->kind == TITA_JOB_KIND_K8S_POD ? "pod-" :
			     id->kind == TITA_JOB_KIND_UNIT    ? "unit-" :
								 "none";
	size_t n;

	if (size == 0)
		return buf;
	snprintf(buf, size, "%s%s", prefix, id->kind == TITA_JOB_KIND_NONE ? "" : id->id);
	n = strlen(buf);
	if (n > max_len)
		buf[max_len] = '\0';
	for (char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			*p = '_';
	return buf;
}
