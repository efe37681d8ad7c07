// SPDX-License-Identifier: MIT
/*
 * titad's path probes from the command line, for probe-netns.sh: sends one
 * probe per source port from LOCAL to REMOTE, waits for the answers, and
 * prints one JSON line per probe with the spine it maps to, by the
 * addresses a topology file gives the leaf's spines (--topology, --leaf)
 * or learned from the answers (--spines N).
 *
 *   probe-tool [--ttl N] [--timeout MS] [--topology FILE --leaf NAME]
 *              [--spines N] LOCAL REMOTE SPORT...
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe.h"
#include "topology.h"
#include "units.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TITA_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static const char *outcome_name(enum tita_probe_outcome o)
{
	return o == TITA_PROBE_EXPIRED	   ? "expired" :
	       o == TITA_PROBE_UNREACHABLE ? "unreachable" :
					     "lost";
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "topology", required_argument, NULL, 'f' },
		{ "leaf", required_argument, NULL, 'l' },
		{ "spines", required_argument, NULL, 's' },
		{ 0 },
	};
	struct tita_prober_conf conf;
	struct tita_probe_answer *ans;
	struct tita_spine_learner *learner = NULL;
	struct tita_topo *topo = NULL;
	const char *leaf = NULL;
	struct tita_prober *p;
	struct tita_probe pr = { 0 };
	size_t n_ports, got = 0;
	uint64_t end;
	int c;

	tita_prober_conf_defaults(&conf);
	conf.timeout_ns = TITA_NSEC_PER_SEC;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			conf.ttl = (uint32_t)atoi(optarg);
			break;
		case 'w':
			conf.timeout_ns = (uint64_t)atoi(optarg) * TITA_NSEC_PER_MSEC;
			break;
		case 'f':
			topo = tita_topo_new(NULL);
			if (!topo || tita_topo_load(topo, optarg)) {
				fprintf(stderr, "probe-tool: cannot read %s\n", optarg);
				return 2;
			}
			tita_topo_finish(topo);
			for (size_t i = 0; i < tita_topo_n_problems(topo); i++)
				fprintf(stderr, "probe-tool: %s\n", tita_topo_problem(topo, i));
			if (tita_topo_n_problems(topo))
				return 2;
			break;
		case 'l':
			leaf = optarg;
			break;
		case 's':
			learner = tita_spine_learner_new((uint32_t)atoi(optarg));
			if (!learner) {
				fprintf(stderr, "probe-tool: --spines 1..64\n");
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 3 || tita_parse_addr(argv[optind], &pr.local) ||
	    tita_parse_addr(argv[optind + 1], &pr.remote) || (topo && !leaf)) {
		fprintf(stderr, "usage: probe-tool [--ttl N] [--timeout MS] [--topology FILE "
				"--leaf NAME] [--spines N] LOCAL REMOTE SPORT...\n");
		return 2;
	}
	n_ports = (size_t)(argc - optind - 2);
	conf.max_out = (uint32_t)n_ports;
	p = tita_prober_new(&conf);
	ans = calloc(n_ports, sizeof(*ans));
	if (!p || !ans) {
		perror("probe-tool");
		return 1;
	}
	for (size_t i = 0; i < n_ports; i++) {
		int r;

		pr.sport = (uint16_t)atoi(argv[optind + 2 + (int)i]);
		r = tita_prober_send(p, &pr, 0, now_ns());
		if (r) {
			fprintf(stderr, "probe-tool: source port %u: %s\n", pr.sport, strerror(-r));
			return 1;
		}
	}
	end = now_ns() + conf.timeout_ns + TITA_NSEC_PER_SEC;
	while (got < n_ports && now_ns() < end) {
		struct pollfd pfd = { tita_prober_fd(p), POLLIN, 0 };

		poll(&pfd, 1, 10);
		got += tita_prober_poll(p, now_ns(), ans + got, n_ports - got);
	}
	/* Learned numbers are final only once every spine answered: map
	 * after all answers are in, as titad holds its results meanwhile. */
	for (size_t i = 0; learner && i < got; i++) {
		uint16_t s;

		if (ans[i].outcome == TITA_PROBE_EXPIRED)
			tita_spine_learner_lookup(learner, &ans[i].offender, &s);
	}
	for (size_t i = 0; i < got; i++) {
		char off[TITA_ADDR_STRLEN] = "";
		uint16_t spine = TITA_SPINE_NONE;
		int r = -ENODATA;

		if (ans[i].outcome != TITA_PROBE_LOST)
			tita_format_addr(&ans[i].offender, off, sizeof(off));
		if (ans[i].outcome == TITA_PROBE_EXPIRED) {
			if (topo)
				r = tita_topo_spine_of(topo, leaf, &ans[i].offender, &spine);
			else if (learner)
				r = tita_spine_learner_lookup(learner, &ans[i].offender, &spine);
		}
		printf("{\"sport\":%u,\"outcome\":\"%s\",\"offender\":\"%s\",\"type\":%u,"
		       "\"code\":%u,\"spine\":%d,\"map\":%d,\"rtt_us\":%.1f}\n",
		       ans[i].probe.sport, outcome_name(ans[i].outcome), off, ans[i].icmp_type,
		       ans[i].icmp_code, r == 0 ? (int)spine : -1, r, (double)ans[i].rtt_ns / 1e3);
	}
	tita_prober_free(p);
	tita_spine_learner_free(learner);
	tita_topo_free(topo);
	free(ans);
	return got == n_ports ? 0 : 1;
}
