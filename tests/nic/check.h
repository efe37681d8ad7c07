/* SPDX-License-Identifier: MIT */
/*
 * The nic tests that run without cmocka (they drive sockets, forks and
 * preloaded libraries): CHECK counts a failure, prints where and why, and
 * goes on, so one run shows every broken expectation; main returns
 * failures ? 1 : 0.
 */
#ifndef TITA_TESTS_NIC_CHECK_H
#define TITA_TESTS_NIC_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

#endif /* TITA_TESTS_NIC_CHECK_H */
