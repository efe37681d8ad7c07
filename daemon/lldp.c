// SPDX-License-Identifier: MIT
/*
 * The cabling against the topology, through lldpd: see lldp.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lldp.h"

#ifdef TITA_HAVE_LLDPCTL
#include <lldpctl.h>
#endif

const struct tita_lldp_source tita_lldp_lldpd = { tita_lldp_read_lldpd, NULL };

bool tita_lldp_supported(void)
{
#ifdef TITA_HAVE_LLDPCTL
	return true;
#else
	return false;
#endif
}

#ifdef TITA_HAVE_LLDPCTL
/*
 * Why lldpd cannot be asked, in errno terms: liblldpctl says only "cannot
 * connect" (and logs the reason), and "no lldpd" must read differently
 * from "titad may not ask it".
 */
static int probe_socket(const char *path, char *err, size_t err_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e = 0;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_size, "lldpd socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		e = errno;
	if (fd >= 0)
		close(fd);
	switch (e) {
	case 0:
		return 0;
	case ENOENT:
		snprintf(err, err_size, "lldpd does not run (no socket %s)", path);
		return -ENOENT;
	case ECONNREFUSED:
		snprintf(err, err_size, "lldpd does not run (nobody listens on %s)", path);
		return -ECONNREFUSED;
	case EACCES:
	case EPERM:
		snprintf(err, err_size,
			 "not allowed to ask lldpd (%s): titad needs lldpd's group (_lldpd)", path);
		return -EACCES;
	default:
		snprintf(err, err_size, "lldpd socket %s: %s", path, strerror(e));
		return -e;
	}
}

/* liblldpctl logs what it cannot do; titad says it once, in its words. */
static void quiet(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
}

static void copy_str(char *dst, const char *src)
{
	snprintf(dst, TITA_LLDP_STR_MAX, "%s", src ? src : "");
}
#endif

int tita_lldp_read_lldpd(void *ctx, struct tita_lldp_neighbor *out, size_t max, char *err,
			 size_t err_size)
{
#ifdef TITA_HAVE_LLDPCTL
	const char *path = ctx ? ctx : lldpctl_get_default_transport();
	lldpctl_atom_t *ifaces, *iface;
	lldpctl_conn_t *conn;
	size_t n = 0;
	int r;

	r = probe_socket(path, err, err_size);
	if (r)
		return r;
	lldpctl_log_callback(quiet);
	conn = lldpctl_new_name(path, NULL, NULL, NULL);
	if (!conn) {
		snprintf(err, err_size, "liblldpctl: out of memory");
		return -ENOMEM;
	}
	ifaces = lldpctl_get_interfaces(conn);
	if (!ifaces) {
		snprintf(err, err_size, "lldpd (%s): %s", path,
			 lldpctl_strerror(lldpctl_last_error(conn)));
		lldpctl_release(conn);
		return -EIO;
	}
	lldpctl_atom_foreach(ifaces, iface)
	{
		const char *name = lldpctl_atom_get_str(iface, lldpctl_k_interface_name);
		lldpctl_atom_t *port = lldpctl_get_port(iface);
		lldpctl_atom_t *nbs = port ? lldpctl_atom_get(port, lldpctl_k_port_neighbors) :
					     NULL;
		lldpctl_atom_t *nb;

		if (nbs) {
			lldpctl_atom_foreach(nbs, nb)
			{
				if (n < max) {
					struct tita_lldp_neighbor *o = &out[n];

					memset(o, 0, sizeof(*o));
					snprintf(o->ifname, sizeof(o->ifname), "%s",
						 name ? name : "");
					copy_str(o->chassis_name,
						 lldpctl_atom_get_str(nb, lldpctl_k_chassis_name));
					copy_str(o->chassis_id,
						 lldpctl_atom_get_str(nb, lldpctl_k_chassis_id));
					copy_str(o->port_id,
						 lldpctl_atom_get_str(nb, lldpctl_k_port_id));
					copy_str(o->port_descr,
						 lldpctl_atom_get_str(nb, lldpctl_k_port_descr));
				}
				n++;
			}
			lldpctl_atom_dec_ref(nbs);
		}
		if (port)
			lldpctl_atom_dec_ref(port);
	}
	lldpctl_atom_dec_ref(ifaces);
	lldpctl_release(conn);
	return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
#else
	(void)ctx;
	(void)out;
	(void)max;
	snprintf(err, err_size, "titad was built without liblldpctl (Debian: liblldpctl-dev)");
	return -ENOTSUP;
#endif
}

const char *tita_lldp_verdict_name(enum tita_lldp_verdict v)
{
	switch (v) {
	case TITA_LLDP_UNCHECKED:
		return "unchecked";
	case TITA_LLDP_NO_LLDPD:
		return "no_lldpd";
	case TITA_LLDP_NO_NEIGHBOR:
		return "no_neighbor";
	case TITA_LLDP_MATCH:
		return "match";
	case TITA_LLDP_MISMATCH:
		return "mismatch";
	}
	return "unknown";
}

static size_t first_label(const char *s)
{
	return strcspn(s, ".");
}

bool tita_lldp_name_match(const char *expected, const char *seen)
{
	size_t a, b;

	if (!expected || !seen || !*expected || !*seen)
		return false;
	if (!strcasecmp(expected, seen))
		return true;
	/* One of them qualified, the other not (or both, in other domains:
	 * a leaf's name is unique within a cluster). */
	if (!strchr(expected, '.') && !strchr(seen, '.'))
		return false;
	a = first_label(expected);
	b = first_label(seen);
	return a == b && a > 0 && !strncasecmp(expected, seen, a);
}

void tita_lldp_compare(const char *ifname, const char *expected,
		       const struct tita_lldp_neighbor *nb, size_t n, struct tita_lldp_check *ret)
{
	const struct tita_lldp_neighbor *first = NULL, *hit = NULL;

	memset(ret, 0, sizeof(*ret));
	if (!expected || !*expected) {
		ret->verdict = TITA_LLDP_UNCHECKED;
		return;
	}
	snprintf(ret->expected, sizeof(ret->expected), "%s", expected);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(nb[i].ifname, ifname))
			continue;
		ret->n_neighbors++;
		if (!first)
			first = &nb[i];
		if (!hit && tita_lldp_name_match(expected, nb[i].chassis_name))
			hit = &nb[i];
	}
	if (!first) {
		ret->verdict = TITA_LLDP_NO_NEIGHBOR;
		return;
	}
	ret->verdict = hit ? TITA_LLDP_MATCH : TITA_LLDP_MISMATCH;
	if (!hit)
		hit = first;
	snprintf(ret->neighbor, sizeof(ret->neighbor), "%s",
		 hit->chassis_name[0] ? hit->chassis_name : hit->chassis_id);
	snprintf(ret->port, sizeof(ret->port), "%s",
		 hit->port_descr[0] ? hit->port_descr : hit->port_id);
}

#define NEIGHBORS_MAX 256

int tita_lldp_check_ports(const struct tita_lldp_source *src, const struct tita_lldp_port *ports,
			  size_t n, struct tita_lldp_check *ret_checks, char *err, size_t err_size)
{
	struct tita_lldp_neighbor nb[NEIGHBORS_MAX];
	bool any = false;
	int r;

	for (size_t i = 0; i < n; i++)
		any = any || (ports[i].expected && *ports[i].expected);
	if (!any) {
		for (size_t i = 0; i < n; i++)
			tita_lldp_compare(ports[i].ifname, NULL, NULL, 0, &ret_checks[i]);
		return 0;
	}
	r = src->read(src->ctx, nb, NEIGHBORS_MAX, err, err_size);
	for (size_t i = 0; i < n; i++) {
		tita_lldp_compare(ports[i].ifname, ports[i].expected, nb,
				  r < 0 ? 0 :
					  ((size_t)r < NEIGHBORS_MAX ? (size_t)r : NEIGHBORS_MAX),
				  &ret_checks[i]);
		if (r < 0 && ret_checks[i].verdict != TITA_LLDP_UNCHECKED)
			ret_checks[i].verdict = TITA_LLDP_NO_LLDPD;
	}
	return r < 0 ? r : 0;
}

const char *tita_lldp_describe(const char *ifname, const struct tita_lldp_check *c, char *buf,
			       size_t size)
{
	switch (c->verdict) {
	case TITA_LLDP_UNCHECKED:
		snprintf(buf, size, "%s: no leaf to check", ifname);
		break;
	case TITA_LLDP_NO_LLDPD:
		snprintf(buf, size, "%s: not checked by LLDP (lldpd cannot be asked)", ifname);
		break;
	case TITA_LLDP_NO_NEIGHBOR:
		snprintf(buf, size, "%s: LLDP sees no neighbour; the topology says %s", ifname,
			 c->expected);
		break;
	case TITA_LLDP_MATCH:
		snprintf(buf, size, "%s: LLDP sees %s port %s, as the topology says", ifname,
			 c->neighbor, c->port);
		break;
	case TITA_LLDP_MISMATCH:
		snprintf(buf, size, "%s: LLDP sees %s port %s, the topology says %s", ifname,
			 c->neighbor, c->port, c->expected);
		break;
	}
	return buf;
}
