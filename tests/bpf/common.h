/* SPDX-License-Identifier: MIT */
/*
 * Shared by tita's privileged BPF tests: skipping versus failing, and the
 * fixture table's files.
 *
 * A test that cannot run here (not root, BPF not permitted, a tool
 * missing) exits 77, which meson reports as SKIP, and says why. With
 * CI=true in the environment the same situation is a failure: CI must run
 * these tests, not skip them quietly.
 */
#ifndef TITA_TEST_BPF_COMMON_H
#define TITA_TEST_BPF_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_SKIP 77

static inline bool tita_test_in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && !strcmp(ci, "true");
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
tita_test_cannot_run(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, tita_test_in_ci() ? "FAIL (CI=true, must not skip): " : "SKIP: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(tita_test_in_ci() ? 1 : TEST_SKIP);
}

static inline void tita_test_require_root(void)
{
	if (geteuid() != 0)
		tita_test_cannot_run("needs root (BPF programs, network namespaces)");
}

/* The Python that has scapy: Debian's, unless TITA_PYTHON says otherwise
 * (a pyenv python3 first in PATH usually lacks it). */
static inline const char *tita_test_python(void)
{
	const char *p = getenv("TITA_PYTHON");

	if (p && *p)
		return p;
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

#endif /* TITA_TEST_BPF_COMMON_H */
