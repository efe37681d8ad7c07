// SPDX-License-Identifier: MIT
/*
 * Pause frame counters through ethtool netlink and the driver's statistics
 * (see pausestats.h).
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pausestats.h"
#include "nlattr_walk.h"

_Static_assert(TITA_PAUSE_STRING_LEN == ETH_GSTRING_LEN, "driver statistics names are 32 bytes");

#define GENL_HDRLEN_ALIGNED MNL_ALIGN(sizeof(struct genlmsghdr))

static struct nlmsghdr *put_genl_header(void *buf, uint16_t type, uint32_t seq, uint8_t cmd,
					uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

int tita_pause_build_family_get(void *buf, size_t size, uint32_t seq)
{
	static const char name[] = ETHTOOL_GENL_NAME;
	size_t need =
		MNL_NLMSG_HDRLEN + GENL_HDRLEN_ALIGNED + MNL_ATTR_HDRLEN + MNL_ALIGN(sizeof(name));
	struct nlmsghdr *nlh;

	if (size < need)
		return -ENOSPC;
	memset(buf, 0, need);
	nlh = put_genl_header(buf, GENL_ID_CTRL, seq, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	return (int)nlh->nlmsg_len;
}

int tita_pause_build_get(void *buf, size_t size, uint32_t seq, uint16_t family, const char *ifname)
{
	size_t n = strlen(ifname) + 1;
	size_t need = MNL_NLMSG_HDRLEN + GENL_HDRLEN_ALIGNED + MNL_ATTR_HDRLEN /* header nest */ +
		      MNL_ATTR_HDRLEN + MNL_ALIGN(n) + MNL_ATTR_HDRLEN + sizeof(uint32_t);
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	if (n > IFNAMSIZ)
		return -ENAMETOOLONG;
	if (size < need)
		return -ENOSPC;
	memset(buf, 0, need);
	nlh = put_genl_header(buf, family, seq, ETHTOOL_MSG_PAUSE_GET, ETHTOOL_GENL_VERSION);
	nest = mnl_attr_nest_start(nlh, ETHTOOL_A_PAUSE_HEADER);
	mnl_attr_put_strz(nlh, ETHTOOL_A_HEADER_DEV_NAME, ifname);
	mnl_attr_put_u32(nlh, ETHTOOL_A_HEADER_FLAGS, ETHTOOL_FLAG_STATS);
	mnl_attr_nest_end(nlh, nest);
	return (int)nlh->nlmsg_len;
}

/* One reply message: its attributes (after the genl header) in ret_p and
 * ret_len; the kernel's -errno for NLMSG_ERROR (1 for a bare ACK). */
static int reply_attrs(const void *buf, size_t len, uint16_t want_type, uint8_t want_cmd,
		       const char **ret_p, size_t *ret_len)
{
	const struct nlmsghdr *nlh = buf;
	size_t hdr = MNL_NLMSG_HDRLEN + GENL_HDRLEN_ALIGNED;
	const struct genlmsghdr *g;

	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EBADMSG;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
			return -EBADMSG;
		return e->error < 0 ? e->error : e->error ? -EPROTO : 1;
	}
	if (nlh->nlmsg_type != want_type || nlh->nlmsg_len < hdr)
		return -EBADMSG;
	g = mnl_nlmsg_get_payload(nlh);
	if (g->cmd != want_cmd)
		return -EBADMSG;
	*ret_p = (const char *)buf + hdr;
	*ret_len = nlh->nlmsg_len - hdr;
	return 0;
}

static int family_attr(const struct nlattr *a, void *ctx)
{
	int *id = ctx;

	if (mnl_attr_get_type(a) != CTRL_ATTR_FAMILY_ID)
		return 0;
	if (mnl_attr_get_payload_len(a) != sizeof(uint16_t))
		return -EBADMSG;
	*id = mnl_attr_get_u16(a);
	return 0;
}

int tita_pause_parse_family(const void *buf, size_t len, uint16_t *ret_family)
{
	const char *p;
	size_t plen;
	int id = -1;
	int r = reply_attrs(buf, len, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, &p, &plen);

	if (r)
		return r > 0 ? -EBADMSG : r;
	r = nlattr_walk(p, plen, family_attr, &id);
	if (r)
		return r;
	/* 0 is NLMSG_NOOP's type and GENL_ID_CTRL the controller's: neither
	 * can be ethtool's. */
	if (id < 0 || id <= GENL_ID_CTRL)
		return -EBADMSG;
	*ret_family = (uint16_t)id;
	return 0;
}

struct stats_ctx {
	bool has_tx, has_rx;
	uint64_t tx, rx;
};

static int stat_attr(const struct nlattr *a, void *ctx)
{
	struct stats_ctx *c = ctx;
	uint16_t type = mnl_attr_get_type(a);

	if (type != ETHTOOL_A_PAUSE_STAT_TX_FRAMES && type != ETHTOOL_A_PAUSE_STAT_RX_FRAMES)
		return 0; /* the 64-bit alignment pad, or a newer kernel's */
	if (mnl_attr_get_payload_len(a) != sizeof(uint64_t))
		return -EBADMSG;
	if (type == ETHTOOL_A_PAUSE_STAT_TX_FRAMES) {
		c->tx = mnl_attr_get_u64(a);
		c->has_tx = true;
	} else {
		c->rx = mnl_attr_get_u64(a);
		c->has_rx = true;
	}
	return 0;
}

static int pause_attr(const struct nlattr *a, void *ctx)
{
	if ((mnl_attr_get_type(a) & NLA_TYPE_MASK) != ETHTOOL_A_PAUSE_STATS)
		return 0;
	return nlattr_walk(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), stat_attr, ctx);
}

int tita_pause_parse_get(const void *buf, size_t len, struct tita_pause_counts *ret)
{
	struct stats_ctx c = { 0 };
	const char *p;
	size_t plen;
	uint16_t type;
	int r;

	if (len < sizeof(struct nlmsghdr))
		return -EBADMSG;
	type = ((const struct nlmsghdr *)buf)->nlmsg_type;
	/* The reply comes in the family's own type, which the parser does
	 * not know: anything but the netlink control types is taken. */
	if (type < NLMSG_MIN_TYPE && type != NLMSG_ERROR)
		return -EBADMSG;
	r = reply_attrs(buf, len, type, ETHTOOL_MSG_PAUSE_GET_REPLY, &p, &plen);
	if (r)
		return r > 0 ? -EBADMSG : r;
	r = nlattr_walk(p, plen, pause_attr, &c);
	if (r)
		return r;
	/* A driver without get_pause_stats answers with an empty nest: the
	 * kernel leaves out every counter still ETHTOOL_STAT_NOT_SET. */
	if (!c.has_tx || !c.has_rx)
		return -EOPNOTSUPP;
	ret->has_link = true;
	ret->link_tx_frames = c.tx;
	ret->link_rx_frames = c.rx;
	return 0;
}

/* The per-priority pause counters' names: mlx5's, then ice's (XOFF frames
 * are the ones that pause; XON only resumes). */
static void prio_names(size_t naming, unsigned prio, char *tx, char *rx, size_t size)
{
	if (naming == 0) {
		snprintf(tx, size, "tx_prio%u_pause", prio);
		snprintf(rx, size, "rx_prio%u_pause", prio);
	} else {
		snprintf(tx, size, "tx_priority_%u_xoff.nic", prio);
		snprintf(rx, size, "rx_priority_%u_xoff.nic", prio);
	}
}

#define PRIO_NAMINGS 2

static bool find_name(const char *names, size_t n, const char *want, size_t *ret)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = names + i * TITA_PAUSE_STRING_LEN;

		if (!strncmp(s, want, TITA_PAUSE_STRING_LEN)) {
			*ret = i;
			return true;
		}
	}
	return false;
}

int tita_pause_prio_index(const char *names, size_t n, unsigned prio, size_t *ret_tx,
			  size_t *ret_rx)
{
	if (prio > 7)
		return -ENOENT;
	for (size_t f = 0; f < PRIO_NAMINGS; f++) {
		char tx[TITA_PAUSE_STRING_LEN + 1], rx[TITA_PAUSE_STRING_LEN + 1];
		size_t it, ir;

		prio_names(f, prio, tx, rx, sizeof(tx));
		if (find_name(names, n, tx, &it) && find_name(names, n, rx, &ir)) {
			*ret_tx = it;
			*ret_rx = ir;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- I/O -------------------------------------------------------------- */

/* Send req, parse the one reply (or error) with parse. */
static int genl_roundtrip(const struct nlmsghdr *req, int (*parse)(const void *, size_t, void *),
			  void *ctx)
{
	char buf[8192];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	ssize_t n;
	int r;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	r = n < 0 ? -errno : parse(buf, (size_t)n, ctx);
out:
	mnl_socket_close(nl);
	return r;
}

static int parse_family_cb(const void *buf, size_t len, void *ctx)
{
	return tita_pause_parse_family(buf, len, ctx);
}

static int parse_get_cb(const void *buf, size_t len, void *ctx)
{
	return tita_pause_parse_get(buf, len, ctx);
}

static int read_link(const char *ifname, uint16_t *family_cache, struct tita_pause_counts *ret)
{
	char req[128];
	int r;

	if (*family_cache == UINT16_MAX)
		return -EOPNOTSUPP;
	if (!*family_cache) {
		uint16_t id;

		r = tita_pause_build_family_get(req, sizeof(req), 1);
		if (r < 0)
			return r;
		r = genl_roundtrip((const struct nlmsghdr *)req, parse_family_cb, &id);
		if (r == -ENOENT) {
			*family_cache = UINT16_MAX;
			return -EOPNOTSUPP;
		}
		if (r)
			return r;
		*family_cache = id;
	}
	r = tita_pause_build_get(req, sizeof(req), 2, *family_cache, ifname);
	if (r < 0)
		return r;
	return genl_roundtrip((const struct nlmsghdr *)req, parse_get_cb, ret);
}

static int ethtool_ioctl(int fd, const char *ifname, void *data)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

/* The driver's statistics: its names, then its values, both sized by
 * ETHTOOL_GSSET_INFO (a driver may add statistics between the calls when
 * a queue appears: the names and values are read at one count). */
static int read_prio(int fd, const char *ifname, unsigned prio, struct tita_pause_counts *ret)
{
	/* The header and one u32 size after it (its flexible data[]). */
	uint64_t raw[(sizeof(struct ethtool_sset_info) + sizeof(uint32_t) + 7) / 8] = { 0 };
	struct ethtool_sset_info *sset = (struct ethtool_sset_info *)raw;
	struct ethtool_gstrings *names = NULL;
	struct ethtool_stats *stats = NULL;
	size_t n, it, ir;
	int r;

	sset->cmd = ETHTOOL_GSSET_INFO;
	sset->sset_mask = 1ull << ETH_SS_STATS;
	r = ethtool_ioctl(fd, ifname, sset);
	if (r)
		return r;
	if (!(sset->sset_mask & (1ull << ETH_SS_STATS)) || !sset->data[0])
		return -ENOENT;
	n = sset->data[0];
	names = calloc(1, sizeof(*names) + n * ETH_GSTRING_LEN);
	stats = calloc(1, sizeof(*stats) + n * sizeof(uint64_t));
	if (!names || !stats) {
		r = -ENOMEM;
		goto out;
	}
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = (uint32_t)n;
	r = ethtool_ioctl(fd, ifname, names);
	if (r)
		goto out;
	r = tita_pause_prio_index((const char *)names->data, names->len < n ? names->len : n, prio,
				  &it, &ir);
	if (r)
		goto out;
	stats->cmd = ETHTOOL_GSTATS;
	stats->n_stats = (uint32_t)n;
	r = ethtool_ioctl(fd, ifname, stats);
	if (r)
		goto out;
	if (stats->n_stats != n) {
		r = -EAGAIN; /* its statistics changed under us: next time */
		goto out;
	}
	ret->has_prio = true;
	ret->prio_tx_frames = stats->data[it];
	ret->prio_rx_frames = stats->data[ir];
out:
	free(names);
	free(stats);
	return r;
}

int tita_pause_read(const char *ifname, unsigned prio, uint16_t *family_cache,
		    struct tita_pause_counts *ret)
{
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENODEV;
	r = read_link(ifname, family_cache, ret);
	if (r == -ENODEV)
		return r;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = read_prio(fd, ifname, prio, ret);
	close(fd);
	return r == -ENODEV ? r : 0;
}
