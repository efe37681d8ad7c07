// SPDX-License-Identifier: MIT
/*
 * tita-sim: run one scenario under one congestion control, print the
 * summary (and events per second), and optionally write traces and the
 * per-flow completion times to a directory for scripts/sim-suite.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim.h"
#include "tita-config.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tita-sim [-c CC] [-s SEED] [-o DIR] [--telemetry DIR] "
		   "[--set section.key=value]... SCENARIO.conf\n"
		   "  -c, --cc CC      congestion control (default dcqcn):\n");
	for (int k = 0; sim_cc_all[k]; k++)
		fprintf(f, "                     %-13s %s\n", sim_cc_all[k]->name,
			sim_cc_all[k]->desc);
	fprintf(f, "  -s, --seed SEED  replaces the scenario's seed\n"
		   "  -o, --out DIR    write summary.txt, fct.dat, queue.dat, rate.dat there\n"
		   "      --set K=V    override a scenario value, e.g. tita.eta=0.97\n"
		   "      --telemetry DIR  every host's health gauges, DIR/NNNNNN.prom each\n"
		   "                   [run] telemetry_interval_us (default 1000), and\n"
		   "                   DIR/truth.json (faults, parameters); needs -c tita\n"
		   "  -q, --quiet      print nothing but errors\n");
	sim_tita_params_help(f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cc", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "set", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "telemetry", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cc_name = "dcqcn", *out_dir = NULL, *tel_dir = NULL;
	uint64_t seed = SIM_SEED_FROM_FILE;
	/* --set values point into argv: no copy, nothing to free. */
	const char *sets[256];
	int n_sets = 0, c, rc;
	bool quiet = false;
	struct sim_config cfg;
	const struct sim_cc_ops *cc;
	struct sim s;
	struct sim_results r;

	while ((c = getopt_long(argc, argv, "c:s:o:qhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cc_name = optarg;
			break;
		case 's': {
			char *end;

			errno = 0;
			seed = strtoull(optarg, &end, 10);
			if (*end || errno || seed == SIM_SEED_FROM_FILE) {
				fprintf(stderr, "tita-sim: bad seed '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'o':
			out_dir = optarg;
			break;
		case 'S':
			if (n_sets == (int)(sizeof(sets) / sizeof(sets[0]))) {
				fprintf(stderr, "tita-sim: too many --set options\n");
				return 2;
			}
			sets[n_sets++] = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'T':
			tel_dir = optarg;
			break;
		case 'V':
			printf("tita-sim %s\n", TITA_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	cc = sim_cc_find(cc_name);
	if (!cc) {
		fprintf(stderr, "tita-sim: unknown congestion control '%s'\n", cc_name);
		usage(stderr);
		return 2;
	}
	if (sim_config_load(&cfg, argv[optind], seed, stderr))
		return 2;
	for (int k = 0; k < n_sets; k++)
		if (sim_config_set(&cfg, sets[k], stderr))
			return 2;
	if (out_dir && mkdir(out_dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "tita-sim: %s: %s\n", out_dir, strerror(errno));
		return 1;
	}
	rc = sim_init(&s, &cfg, cc, out_dir);
	if (rc) {
		fprintf(stderr, "tita-sim: cannot set up %s: %s\n", argv[optind], strerror(-rc));
		return 1;
	}
	if (tel_dir && (rc = sim_telemetry_start(&s, tel_dir))) {
		sim_fini(&s);
		sim_config_fini(&cfg);
		return 1;
	}
	sim_run(&s, &r);
	if (tel_dir && sim_telemetry_finish(&s))
		rc = 1;
	if (sim_write_results(&s, &r, out_dir, quiet ? NULL : stdout) < 0) {
		fprintf(stderr, "tita-sim: cannot write results in %s: %s\n", out_dir,
			strerror(errno));
		rc = 1;
	}
	if (quiet)
		fprintf(stderr, "tita-sim: %s/%s: %.2f M events/s\n", cfg.name, cc->name,
			r.wall_s > 0 ? (double)r.events / r.wall_s / 1e6 : 0);
	/* A telemetry run is bounded by its time (collectives repeated until
	 * then, faults that stop flows): flows left over are expected. */
	if (r.flows_done != r.flows_total && !tel_dir) {
		fprintf(stderr, "tita-sim: %s/%s: only %llu of %llu flows completed by %.3f ms\n",
			cfg.name, cc->name, (unsigned long long)r.flows_done,
			(unsigned long long)r.flows_total, (double)r.end_ps / 1e9);
		rc = 3;
	}
	sim_fini(&s);
	sim_config_fini(&cfg);
	return rc;
}
