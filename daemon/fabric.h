/* SPDX-License-Identifier: MIT */
/*
 * The fabric between the hosts, as titad meets it: where each local NIC
 * sits (the topology files of [fabric], checked against the switch LLDP
 * sees), who else is under its leaf (the leader election's members), the
 * leaves of remote NICs (the topology's addresses, and every hello), and
 * the path probes the controller asks for (probe.c) with their answers
 * turned into spine numbers.
 *
 * The module owns the topology, the members, the prober and the spine
 * learners; it talks to the controller only through the engine
 * (titad_engine_set_place(), _peer_place(), _probe_result()), and the
 * engine hands it the controller's probes (titad_engine_set_prober()).
 * Without a topology file it holds nothing and every NIC has no place:
 * the controller then leaves the fabric to its reactive ceiling.
 */
#ifndef TITAD_FABRIC_H
#define TITAD_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "event.h"
#include "lldp.h"
#include "peer.h"
#include "ports.h"
#include "probe.h"
#include "topology.h"

/* How the spines of a port's leaf are numbered from probe answers. */
enum titad_spine_map {
	TITAD_SPINES_NONE = 0, /* no place */
	TITAD_SPINES_BY_ADDRESS, /* the topology gives every spine's addresses */
	TITAD_SPINES_LEARNED, /* learned from the addresses that answer */
};

/* One local NIC's place, as titactl and the metrics see it. */
struct titad_fabric_port {
	bool placed;
	char leaf[TITA_TOPO_NAME_MAX + 1]; /* "" when not placed */
	struct tita_place place;
	char why[200]; /* not placed: why; placed: "" */
	uint32_t members; /* the leaf's members known (itself among them) */
	enum titad_spine_map spine_map;
	uint32_t spines_learned; /* learned: addresses heard so far */
	struct tita_lldp_check lldp;
};

struct titad_fabric_stats {
	uint32_t topology_problems;
	uint32_t peer_places; /* remote NICs the topology placed by address */
	/* Remote places (topology or hellos) the controller had no room for. */
	uint64_t peer_places_refused;
	uint64_t hellos; /* hellos with places read */
	uint64_t member_changes;
	struct tita_prober_stats prober;
	/* Probe answers by what they made: a spine, none (lost, unreachable,
	 * or an address no spine of the leaf has), not yet (learning). */
	uint64_t answers_spine, answers_none, answers_unknown, answers_learning;
	uint64_t probes_refused; /* the prober would not send one */
	uint64_t lldp_checks, lldp_mismatches;
};

struct titad_fabric;

/*
 * Read the topology files of cfg->fabric (none: an empty module), place
 * every port that the files name, and open the prober. Problems in the
 * files are logged, each with its file:line, and do not stop titad: a NIC
 * without a usable place runs without the fabric. 0, or -errno with err;
 * on failure *ret is still set, for titad_fabric_close().
 */
int titad_fabric_open(struct titad_fabric **ret, struct tita_event *ev,
		      const struct titad_config *cfg, const struct titad_ports *ports,
		      struct titad_engine *engine, char *err, size_t err_size);
struct titad_fabric *titad_fabric_close(struct titad_fabric *f);

/* Every problem of cfg's topology files and of its ports' places, one per
 * line appended to err (for --check-config). 0, or -EINVAL when any. */
int titad_fabric_check(const struct titad_config *cfg, const struct titad_ports *ports, char *err,
		       size_t err_size);

/* Give the controller the ports' places and members, and the places of
 * the remote NICs the topology names by address; check LLDP. After the
 * peers exist: members named by host get hellos (peers). */
void titad_fabric_start(struct titad_fabric *f, struct titad_peers *peers, uint64_t now_ns);

/* What this host's hellos say of its ports: their places. */
void titad_fabric_hello_ports(const struct titad_fabric *f, struct titad_peers_ports *hp);

/* An authenticated hello from `from`: the ports it announces, their places,
 * and the leaders per leaf its titad follows. */
void titad_fabric_hello(struct titad_fabric *f, const struct tita_addr *from,
			const struct tita_wire_hello *h, uint64_t now_ns);

/* `from` runs under a boot id not heard before: what its last hello said
 * of its leaders is forgotten until the next (it may have restarted as a
 * titad from before, which sends every line to its leaf's lowest member). */
void titad_fabric_peer_boot(struct titad_fabric *f, const struct tita_addr *from, uint64_t now_ns);

/* A probe the controller asked for (titad_engine_probe_fn). */
void titad_fabric_probe(void *f, const struct tita_probe *probe, uint64_t now_ns);

/* Once a second: hellos to members by host name, the LLDP check now and
 * then. */
void titad_fabric_housekeeping(struct titad_fabric *f, uint64_t now_ns);

/* Snapshots. */
bool titad_fabric_known(const struct titad_fabric *f); /* a topology was read */
void titad_fabric_port(const struct titad_fabric *f, uint32_t i, struct titad_fabric_port *ret);
void titad_fabric_stats(const struct titad_fabric *f, struct titad_fabric_stats *ret);

#endif /* TITAD_FABRIC_H */
