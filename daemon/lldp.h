/* SPDX-License-Identifier: MIT */
/*
 * The cabling checked against the topology: the switch that LLDP sees on
 * the other end of each RoCE NIC should be the leaf the topology puts the
 * NIC under. A mismatch (a cable in the wrong port, a topology file out of
 * date) makes a leaf's members disagree on who shares its uplinks; titad
 * warns, and titactl shows it.
 *
 * The neighbours come from lldpd through its client library, liblldpctl,
 * behind a source of neighbours (struct tita_lldp_source) that tests
 * replace. titad does not speak LLDP itself: lldpd is the host's one
 * LLDP agent, and titad only asks it. No lldpd is not an error: the check
 * says so and nothing else changes.
 */
#ifndef TITAD_LLDP_H
#define TITAD_LLDP_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#define TITA_LLDP_STR_MAX 128
/* Where lldpd listens by default (lldpd -u). */
#define TITA_LLDPD_SOCKET "/run/lldpd.socket"

struct tita_lldp_neighbor {
	char ifname[IF_NAMESIZE]; /* this host's interface */
	char chassis_name[TITA_LLDP_STR_MAX]; /* the switch's system name */
	char chassis_id[TITA_LLDP_STR_MAX];
	char port_id[TITA_LLDP_STR_MAX]; /* the switch's port */
	char port_descr[TITA_LLDP_STR_MAX];
};

/*
 * Where neighbours come from. read() writes up to max of the neighbours on
 * every interface lldpd watches and returns how many there are, or a
 * negative errno with why in err: -ENOENT (lldpd does not run: no socket),
 * -ECONNREFUSED (a socket nobody listens on), -EACCES (not allowed to
 * connect), -ENOTSUP (titad was built without liblldpctl), -EIO (lldpd
 * answered with an error).
 */
struct tita_lldp_source {
	int (*read)(void *ctx, struct tita_lldp_neighbor *out, size_t max, char *err,
		    size_t err_size);
	void *ctx;
};

/* lldpd through liblldpctl; ctx is the socket's path (a char *), NULL for
 * lldpd's default. Synchronous: a few local round trips. */
extern const struct tita_lldp_source tita_lldp_lldpd;
int tita_lldp_read_lldpd(void *ctx, struct tita_lldp_neighbor *out, size_t max, char *err,
			 size_t err_size);
/* Whether titad was built with liblldpctl. */
bool tita_lldp_supported(void);

enum tita_lldp_verdict {
	TITA_LLDP_UNCHECKED = 0, /* not checked: no leaf, or the check is off */
	TITA_LLDP_NO_LLDPD, /* lldpd cannot be asked (see the source's error) */
	TITA_LLDP_NO_NEIGHBOR, /* lldpd sees no neighbour on the NIC */
	TITA_LLDP_MATCH, /* a neighbour is the leaf */
	TITA_LLDP_MISMATCH, /* neighbours, none of them the leaf */
};

/* "match", "mismatch", ...: stable labels for metrics and titactl. */
const char *tita_lldp_verdict_name(enum tita_lldp_verdict v);

struct tita_lldp_check {
	enum tita_lldp_verdict verdict;
	char expected[TITA_LLDP_STR_MAX]; /* the leaf's LLDP name */
	/* The neighbour that matched, or the first one seen. */
	char neighbor[TITA_LLDP_STR_MAX];
	char port[TITA_LLDP_STR_MAX];
	unsigned n_neighbors;
};

/*
 * Whether a system name LLDP shows is the leaf the topology names: equal
 * without regard to case, or equal in the first label when one of them is
 * a fully qualified name ("leaf07" and "leaf07.pod2.example").
 */
bool tita_lldp_name_match(const char *expected, const char *seen);

/* One NIC: its neighbours among nb[0..n) against its leaf's LLDP name. */
void tita_lldp_compare(const char *ifname, const char *expected,
		       const struct tita_lldp_neighbor *nb, size_t n, struct tita_lldp_check *ret);

struct tita_lldp_port {
	const char *ifname;
	const char *expected; /* NULL or "": the NIC has no leaf, not checked */
};

/*
 * Every NIC at once, from one read of the source. 0, or the source's error
 * (every check then says NO_LLDPD, and err why).
 */
int tita_lldp_check_ports(const struct tita_lldp_source *src, const struct tita_lldp_port *ports,
			  size_t n, struct tita_lldp_check *ret_checks, char *err, size_t err_size);

/* One line for the log and titactl: "eth0: LLDP sees leaf07 port Ethernet12,
 * the topology says leaf08". */
const char *tita_lldp_describe(const char *ifname, const struct tita_lldp_check *c, char *buf,
			       size_t size);

#endif /* TITAD_LLDP_H */
