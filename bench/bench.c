// SPDX-License-Identifier: MIT
/*
 * tita-bench: figures for README. Prints each measurement against its goal;
 * exits 1 if any goal is missed (so a script can notice), never on timing
 * noise alone in a test.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "tita-config.h"

int main(int argc, char **argv)
{
	int missed = 0;
	const char *what = argc > 1 ? argv[1] : "all";

	if (!strcmp(what, "-h") || !strcmp(what, "--help")) {
		printf("usage: tita-bench [all|alloc|wire]\n");
		return 0;
	}
	printf("tita-bench %s\n", TITA_VERSION);
	if (!strcmp(what, "all") || !strcmp(what, "alloc"))
		missed |= bench_alloc();
	if (!strcmp(what, "all") || !strcmp(what, "wire"))
		missed |= bench_wire();
	if (strcmp(what, "all") && strcmp(what, "alloc") && strcmp(what, "wire")) {
		fprintf(stderr, "tita-bench: unknown benchmark '%s' (all, alloc, wire)\n", what);
		return 2;
	}
	return missed;
}
