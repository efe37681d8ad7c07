/* SPDX-License-Identifier: MIT */
/*
 * Where this host sits in the fabric, from the files the cluster's
 * provisioning already keeps: Slurm's topology.conf (its tree format,
 * "SwitchName=... Nodes=..." and "SwitchName=... Switches=..."), or tita's
 * own format ("leaf NAME ... MEMBERS", "spine NAME PREFIXES"), both
 * described in tita-topology(5). A line is read by the syntax it starts
 * with, so one file may hold both (a Slurm file, and the spines' addresses
 * that Slurm has no field for).
 *
 * Parsing is pure: text in, no file, socket or clock (tita_topo_load() is
 * the one reader of a file). Every problem is kept with its file:line and
 * none stops the rest from being read, so that `titad --check-config`
 * lists them all; a line with a problem is not used.
 *
 * What titad takes from it, per local NIC (tita_topo_leaf_of()): the NIC's
 * leaf, as an id that every host derives alike from the leaf's name; the
 * leaf's uplinks, how many and of what capacity; the leaf's members; and,
 * where the file gives them, the addresses each spine answers path probes
 * from (tita_topo_spine_of()).
 */
#ifndef TITAD_TOPOLOGY_H
#define TITAD_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/fabric.h"
#include "tita/types.h"

/* Switch and host names, without the NUL (a DNS name's label is 63). */
#define TITA_TOPO_NAME_MAX 63
#define TITA_TOPO_PATH_MAX 255
#define TITA_TOPO_FILES_MAX 4
/* Problems kept in full; more are counted. */
#define TITA_TOPO_PROBLEMS_MAX 200
/* Names one host list may expand to: a typo such as node[1-1000000000] is
 * a problem, not an allocation. */
#define TITA_HOSTLIST_MAX (1u << 20)
/* How far a path probe goes by default: the host's leaf, then a spine. */
#define TITA_PROBE_TTL_DEFAULT 2
#define TITA_PROBE_TTL_MAX 32

/* [fabric] in titad.conf. */
struct tita_fabric_conf {
	uint32_t n_files; /* 0: no fabric is known */
	char files[TITA_TOPO_FILES_MAX][TITA_TOPO_PATH_MAX + 1];
	char hostname[TITA_TOPO_NAME_MAX + 1]; /* "": the system's */
	uint32_t spines; /* 0: from the file */
	uint64_t spine_rate_bps; /* 0: from the file */
	/* A Slurm LinkSpeed is a number in units of the site's choosing:
	 * the uplinks' capacity is LinkSpeed times this (0: LinkSpeed is
	 * not read). */
	uint64_t link_speed_unit_bps;
	uint32_t probe_ttl; /* hops to the spines, 1..TITA_PROBE_TTL_MAX */
	bool lldp; /* compare the leaf with the neighbour that LLDP sees */
};

void tita_fabric_conf_defaults(struct tita_fabric_conf *fc);

/*
 * One key of the [fabric] section: topology (up to TITA_TOPO_FILES_MAX
 * paths), hostname, spines, spine-rate, link-speed-unit, probe-ttl, lldp.
 * 0; -ENOENT for a key that is not one of these; -EINVAL with why in err
 * ("spines: 1..64, not 70"). *fc changes only on success.
 */
int tita_fabric_conf_set(struct tita_fabric_conf *fc, const char *key, const char *value, char *err,
			 size_t err_size);

/*
 * Slurm's host lists: names separated by commas, each with any number of
 * bracketed ranges ("gpu[01-16,20]", "r[1-2]n[1-4]", "10.1.0.[1-8]"); a
 * range's numbers keep the width of its first (gpu[08-10]: gpu08 .. gpu10).
 * fn is called for each name in order and may stop the walk by returning
 * nonzero, which is then returned. 0, -EINVAL with why in err (syntax,
 * a range backwards), -E2BIG (more than max names; none was passed).
 */
typedef int (*tita_hostlist_fn)(void *ctx, const char *name);
int tita_hostlist_expand(const char *expr, size_t max, tita_hostlist_fn fn, void *ctx, char *err,
			 size_t err_size);

struct tita_topo;

/* NULL with errno ENOMEM. The conf is copied: the [fabric] keys fill in what
 * the files leave out. */
struct tita_topo *tita_topo_new(const struct tita_fabric_conf *fc);
struct tita_topo *tita_topo_free(struct tita_topo *t);

/* Read a file's text (len bytes, need not be NUL-terminated); problems are
 * kept. 0 or -ENOMEM. */
int tita_topo_parse(struct tita_topo *t, const char *path, const char *buf, size_t len);
/* Read a file; one that cannot be read is a problem. 0, -errno, -ENOMEM. */
int tita_topo_load(struct tita_topo *t, const char *path);
/* After the last file: what only the whole can tell (references to
 * switches, duplicate names and ids, the spines' order). Call once. */
void tita_topo_finish(struct tita_topo *t);

/* The problems, as "path:line: what is wrong", in file order. */
size_t tita_topo_n_problems(const struct tita_topo *t);
const char *tita_topo_problem(const struct tita_topo *t, size_t i);
/* Problems past TITA_TOPO_PROBLEMS_MAX, counted only. */
size_t tita_topo_problems_dropped(const struct tita_topo *t);

size_t tita_topo_n_leaves(const struct tita_topo *t);

/* A leaf, as titad uses it. */
struct tita_topo_leaf {
	char name[TITA_TOPO_NAME_MAX + 1];
	/* The name LLDP should show as the neighbour of its members' NICs:
	 * the tita format's lldp=, else the name. */
	char lldp_name[TITA_TOPO_NAME_MAX + 1];
	/* place.leaf: the id; n_spines and spine_bps as the file and the
	 * [fabric] keys give them (0 where neither does). */
	struct tita_place place;
	/* Its spines' addresses are known for each of its n_spines uplinks
	 * (tita_topo_spine_of() can answer). */
	bool spines_addressed;
	const char *path; /* where it is defined, for messages */
	int line;
};

/*
 * The leaf of a local NIC: the leaf that names its address; else the one
 * that names this host (fc->hostname, or hostname as given: the system's
 * name; its first label also matches). 0; -ENOENT (neither is named);
 * -EEXIST (named under two leaves: err names both lines). A leaf without
 * its uplinks' count or capacity is returned with them 0: check
 * tita_place_known() and tita_place_check(), tita_topo_place_error() says
 * what to set.
 */
int tita_topo_leaf_of(const struct tita_topo *t, const struct tita_addr *nic, const char *hostname,
		      struct tita_topo_leaf *ret_leaf, char *err, size_t err_size);

/* The i-th leaf (0 .. tita_topo_n_leaves() - 1), in file order. 0 or
 * -ENOENT. */
int tita_topo_leaf_at(const struct tita_topo *t, size_t i, struct tita_topo_leaf *ret_leaf);

/* Why a leaf's place is not usable ("leaf l1 (topology:3): how many
 * uplinks? spines= on its line, or [fabric] spines"), or NULL when it is. */
const char *tita_topo_place_error(const struct tita_topo_leaf *leaf, char *buf, size_t size);

/*
 * The members of a leaf as its line gives them: an address (the RoCE
 * address of a NIC) with host NULL, or a host name with addr NULL. fn may
 * stop the walk by returning nonzero, which is returned. 0, -ENOENT (no
 * such leaf).
 */
typedef int (*tita_topo_member_fn)(void *ctx, const char *host, const struct tita_addr *addr);
int tita_topo_members(const struct tita_topo *t, const char *leaf_name, tita_topo_member_fn fn,
		      void *ctx);

/*
 * The uplink (0 .. n_spines-1) of a leaf that a path probe's answer came
 * from, by the addresses the file gives the leaf's spines. 0; -ENOENT (no
 * spine of the leaf has that address); -ENODATA (the file does not give
 * every spine of the leaf an address: learn them, see probe.h).
 */
int tita_topo_spine_of(const struct tita_topo *t, const char *leaf_name,
		       const struct tita_addr *offender, uint16_t *ret_spine);

/*
 * The leaf id of a name: FNV-1a, folded below TITA_LEAF_ANY. The same name
 * has the same id on every host; tita_topo_finish() makes the ids of one
 * topology distinct (see tita-topology(5)).
 */
uint32_t tita_topo_leaf_hash(const char *name);

#endif /* TITAD_TOPOLOGY_H */
