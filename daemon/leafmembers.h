/* SPDX-License-Identifier: MIT */
/*
 * The NICs under one leaf with a local NIC: what the leader election needs
 * (tita_ctl_port_set_place(): the leader is the lowest member address that
 * answers, so every member must know every other).
 *
 * The topology names members by address or by host name (topology.h). An
 * address is a member as it is. A host name is resolved when the topology
 * is loaded, and what it resolves to (in most clusters the management
 * address, not the RoCE address of any NIC) is only where to send a hello:
 * the hello that comes back announces the host's NICs with their places,
 * and those under this leaf are members. So the RoCE addresses come from
 * the host's own titad, authenticated with the cluster key, and a NIC that
 * moves to another leaf (or a hello that stops naming it) leaves the list;
 * DNS, which is not authenticated, never makes anyone a member.
 *
 * No I/O here but tita_resolve_host().
 */
#ifndef TITAD_LEAFMEMBERS_H
#define TITAD_LEAFMEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/ctl.h"
#include "wire.h"

/* Addresses kept per named host: where to reach it, and its NICs. */
#define TITA_HOST_ADDRS_MAX 16

struct tita_leaf_members;

/* self is a member from the start. NULL with errno (ENOMEM). */
struct tita_leaf_members *tita_leaf_members_new(uint32_t leaf_id, const struct tita_addr *self);
struct tita_leaf_members *tita_leaf_members_free(struct tita_leaf_members *m);

/* A member by address. 0, -ENOSPC (TITA_LEAF_MEMBERS_MAX), -ENOMEM. */
int tita_leaf_members_add_addr(struct tita_leaf_members *m, const struct tita_addr *addr);

/* A member host by name, and where its titad can be reached (n may be 0:
 * it did not resolve; it stays named, with no NIC). Naming a host twice
 * adds to its contacts. 0, -ENOSPC, -ENOMEM. */
int tita_leaf_members_add_host(struct tita_leaf_members *m, const char *name,
			       const struct tita_addr *contacts, size_t n);

/*
 * An authenticated hello that came from `from`: when it is one of a named
 * host's contacts or announces one of them, the host's NICs under this
 * leaf are now exactly the ports it names with this leaf's id. 1 when the
 * members changed, 0 when not, -ENOENT when the hello is from no named
 * host (counted as unlisted when it claims this leaf: the hosts' files
 * disagree).
 */
int tita_leaf_members_hello(struct tita_leaf_members *m, const struct tita_addr *from,
			    const struct tita_wire_port *ports, size_t n_ports);

/* The members, sorted and each once, self among them: up to max of them;
 * returns how many there are. */
size_t tita_leaf_members_list(const struct tita_leaf_members *m, struct tita_addr *out, size_t max);

/* The named hosts' contacts, where hellos go: up to max; how many there are. */
size_t tita_leaf_members_contacts(const struct tita_leaf_members *m, struct tita_addr *out,
				  size_t max);

struct tita_leaf_members_stats {
	uint32_t hosts, hosts_heard, hosts_unresolved;
	uint32_t members;
	uint64_t hellos, changes, unlisted;
};

void tita_leaf_members_stats(const struct tita_leaf_members *m,
			     struct tita_leaf_members_stats *ret);

/* Where a host's titad can be reached: getaddrinfo(), each address once, up
 * to max. 0 with *ret_n, or -ENOENT (no such name), -EAGAIN (the resolver
 * failed for now), -EINVAL. Blocks on the resolver. */
int tita_resolve_host(const char *name, struct tita_addr *out, size_t max, size_t *ret_n);

#endif /* TITAD_LEAFMEMBERS_H */
