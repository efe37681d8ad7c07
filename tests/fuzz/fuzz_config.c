// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for titad's config parser (daemon/config.c, over inih):
 * any bytes must parse or fail with a "t.conf..." message, never crash,
 * and a config that parses must hold only values within their ranges (no
 * [port] at all is valid: titad then takes the netdevs with an RDMA device).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct titad_config cfg;
	char err[256];
	int r;

	r = titad_config_parse("t.conf", (const char *)data, size, &cfg, err, sizeof(err));
	if (r) {
		if (strncmp(err, "t.conf", 6))
			abort();
		return 0;
	}
	if (cfg.n_ports > TITAD_MAX_PORTS || cfg.n_jobs > TITAD_MAX_CONF_JOBS ||
	    cfg.n_bind > TITAD_MAX_BIND || cfg.n_static > TITAD_MAX_STATIC_PEERS)
		abort();
	if (tita_ctl_params_check(&cfg.params))
		abort();
	for (uint32_t i = 0; i < cfg.n_jobs; i++)
		if (cfg.jobs[i].weight_milli < 1 || cfg.jobs[i].weight_milli > TITA_WEIGHT_MAX ||
		    (cfg.jobs[i].max_bps && cfg.jobs[i].min_bps > cfg.jobs[i].max_bps))
			abort();
	return 0;
}
