// SPDX-License-Identifier: MIT
/*
 * The NICs under one leaf: see leafmembers.h.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "leafmembers.h"
#include "topology.h"

struct host {
	char name[TITA_TOPO_NAME_MAX + 1];
	struct tita_addr contacts[TITA_HOST_ADDRS_MAX];
	uint32_t n_contacts;
	struct tita_addr nics[TITA_HOST_ADDRS_MAX]; /* from its last hello */
	uint32_t n_nics;
	bool heard;
};

struct tita_leaf_members {
	uint32_t leaf;
	struct tita_addr self;
	struct tita_addr *fixed; /* by address, and self */
	uint32_t n_fixed;
	struct host *hosts;
	uint32_t n_hosts;
	struct tita_leaf_members_stats stats;
};

struct tita_leaf_members *tita_leaf_members_new(uint32_t leaf_id, const struct tita_addr *self)
{
	struct tita_leaf_members *m = calloc(1, sizeof(*m));

	if (!m || !(m->fixed = malloc(sizeof(*m->fixed)))) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	m->leaf = leaf_id;
	m->self = *self;
	m->fixed[0] = *self;
	m->n_fixed = 1;
	return m;
}

struct tita_leaf_members *tita_leaf_members_free(struct tita_leaf_members *m)
{
	if (!m)
		return NULL;
	free(m->fixed);
	free(m->hosts);
	free(m);
	return NULL;
}

static bool in(const struct tita_addr *set, uint32_t n, const struct tita_addr *a)
{
	for (uint32_t i = 0; i < n; i++)
		if (tita_addr_eq(&set[i], a))
			return true;
	return false;
}

int tita_leaf_members_add_addr(struct tita_leaf_members *m, const struct tita_addr *addr)
{
	struct tita_addr *n;

	if (in(m->fixed, m->n_fixed, addr))
		return 0;
	if (m->n_fixed == TITA_LEAF_MEMBERS_MAX)
		return -ENOSPC;
	n = realloc(m->fixed, (m->n_fixed + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	m->fixed = n;
	m->fixed[m->n_fixed++] = *addr;
	return 0;
}

int tita_leaf_members_add_host(struct tita_leaf_members *m, const char *name,
			       const struct tita_addr *contacts, size_t n)
{
	struct host *h = NULL;

	for (uint32_t i = 0; i < m->n_hosts && !h; i++)
		if (!strcmp(m->hosts[i].name, name))
			h = &m->hosts[i];
	if (!h) {
		struct host *nh;

		if (m->n_hosts == TITA_LEAF_MEMBERS_MAX)
			return -ENOSPC;
		nh = realloc(m->hosts, (m->n_hosts + 1) * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		m->hosts = nh;
		h = &m->hosts[m->n_hosts++];
		memset(h, 0, sizeof(*h));
		strncpy(h->name, name, TITA_TOPO_NAME_MAX);
	}
	for (size_t i = 0; i < n && h->n_contacts < TITA_HOST_ADDRS_MAX; i++)
		if (!in(h->contacts, h->n_contacts, &contacts[i]))
			h->contacts[h->n_contacts++] = contacts[i];
	return 0;
}

static bool same_set(const struct tita_addr *a, uint32_t na, const struct tita_addr *b, uint32_t nb)
{
	if (na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++)
		if (!in(b, nb, &a[i]))
			return false;
	return true;
}

int tita_leaf_members_hello(struct tita_leaf_members *m, const struct tita_addr *from,
			    const struct tita_wire_port *ports, size_t n_ports)
{
	struct tita_addr nics[TITA_HOST_ADDRS_MAX];
	uint32_t n = 0;
	bool claims = false;
	struct host *h = NULL;

	m->stats.hellos++;
	for (size_t i = 0; i < n_ports; i++) {
		bool ours = tita_place_known(&ports[i].place) && ports[i].place.leaf == m->leaf;

		claims = claims || ours;
		if (ours && n < TITA_HOST_ADDRS_MAX && !in(nics, n, &ports[i].addr))
			nics[n++] = ports[i].addr;
	}
	/* The host whose contact sent it, or whose contact it announces (a
	 * titad answers from whatever address its route picks). */
	for (uint32_t k = 0; k < m->n_hosts && !h; k++) {
		struct host *c = &m->hosts[k];

		if (in(c->contacts, c->n_contacts, from))
			h = c;
		for (size_t i = 0; i < n_ports && !h; i++)
			if (in(c->contacts, c->n_contacts, &ports[i].addr))
				h = c;
	}
	if (!h) {
		if (claims && !in(m->fixed, m->n_fixed, from))
			m->stats.unlisted++;
		return -ENOENT;
	}
	h->heard = true;
	if (same_set(h->nics, h->n_nics, nics, n))
		return 0;
	memcpy(h->nics, nics, n * sizeof(nics[0]));
	h->n_nics = n;
	m->stats.changes++;
	return 1;
}

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tita_addr));
}

size_t tita_leaf_members_list(const struct tita_leaf_members *m, struct tita_addr *out, size_t max)
{
	size_t cap = m->n_fixed;
	struct tita_addr *all;
	size_t n = 0, k = 0;

	for (uint32_t i = 0; i < m->n_hosts; i++)
		cap += m->hosts[i].n_nics;
	all = malloc(cap * sizeof(*all));
	if (!all)
		return 0;
	memcpy(all, m->fixed, m->n_fixed * sizeof(*all));
	n = m->n_fixed;
	for (uint32_t i = 0; i < m->n_hosts; i++) {
		memcpy(all + n, m->hosts[i].nics, m->hosts[i].n_nics * sizeof(*all));
		n += m->hosts[i].n_nics;
	}
	qsort(all, n, sizeof(*all), addr_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && tita_addr_eq(&all[i], &all[i - 1]))
			continue;
		if (k < TITA_LEAF_MEMBERS_MAX) {
			if (k < max)
				out[k] = all[i];
			k++;
		}
	}
	free(all);
	return k;
}

size_t tita_leaf_members_contacts(const struct tita_leaf_members *m, struct tita_addr *out,
				  size_t max)
{
	size_t k = 0;

	for (uint32_t i = 0; i < m->n_hosts; i++)
		for (uint32_t c = 0; c < m->hosts[i].n_contacts; c++, k++)
			if (k < max)
				out[k] = m->hosts[i].contacts[c];
	return k;
}

void tita_leaf_members_stats(const struct tita_leaf_members *m, struct tita_leaf_members_stats *ret)
{
	*ret = m->stats;
	ret->hosts = m->n_hosts;
	ret->hosts_heard = ret->hosts_unresolved = 0;
	for (uint32_t i = 0; i < m->n_hosts; i++) {
		ret->hosts_heard += m->hosts[i].heard;
		ret->hosts_unresolved += m->hosts[i].n_contacts == 0;
	}
	ret->members = (uint32_t)tita_leaf_members_list(m, NULL, 0);
}

int tita_resolve_host(const char *name, struct tita_addr *out, size_t max, size_t *ret_n)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	size_t n = 0;
	int r;

	if (!name || !*name)
		return -EINVAL;
	r = getaddrinfo(name, NULL, &hints, &res);
	if (r == EAI_NONAME || r == EAI_NODATA)
		return -ENOENT;
	if (r == EAI_AGAIN || r == EAI_FAIL)
		return -EAGAIN;
	if (r == EAI_SYSTEM)
		return -errno;
	if (r)
		return -EINVAL;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct tita_addr a;

		if (ai->ai_family == AF_INET)
			a = tita_addr_from_ipv4(
				(const uint8_t *)&((const struct sockaddr_in *)ai->ai_addr)
					->sin_addr);
		else if (ai->ai_family == AF_INET6)
			memcpy(a.bytes, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		else
			continue;
		if (n < max && !in(out, (uint32_t)n, &a))
			out[n++] = a;
	}
	freeaddrinfo(res);
	*ret_n = n;
	return 0;
}
