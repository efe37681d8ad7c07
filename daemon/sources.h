/* SPDX-License-Identifier: MIT */
/*
 * What titactl and the metrics read: the modules whose snapshot functions
 * they call. Neither keeps any of their state.
 */
#ifndef TITAD_SOURCES_H
#define TITAD_SOURCES_H

#include <stdint.h>

struct titad_control;
struct titad_health;

#include "discovery.h"
#include "engine.h"
#include "fabric.h"
#include "peer.h"
#include "ports.h"

struct titad_sources {
	struct titad_engine *engine; /* not const: titactl changes jobs */
	const struct titad_peers *peers;
	const struct titad_ports *ports;
	const struct titad_discovery *discovery; /* may be NULL */
	const struct titad_fabric *fabric; /* may be NULL */
	const struct titad_control *control; /* may be NULL */
	const struct titad_health *health; /* may be NULL */
	uint64_t start_ns; /* for the uptime */
	uint32_t metrics_pairs; /* titad_config's */
	/* Configuration reloads, by result. */
	const uint64_t *reloads_ok, *reloads_failed;
};

#endif /* TITAD_SOURCES_H */
