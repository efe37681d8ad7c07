// SPDX-License-Identifier: MIT
/*
 * DCB netlink max-rate messages and their round trips (see dcbnl.h).
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/dcbnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dcbnl.h"
#include "nlattr_walk.h"

_Static_assert(sizeof(struct ieee_maxrate) == TITA_DCB_MAX_TCS * sizeof(uint64_t),
	       "ieee_maxrate is eight u64");

static struct nlmsghdr *put_header(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				   uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct dcbmsg *d;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	d = mnl_nlmsg_put_extra_header(nlh, sizeof(*d));
	d->dcb_family = AF_UNSPEC;
	d->cmd = cmd;
	return nlh;
}

int tita_dcb_build_get(void *buf, size_t size, uint32_t seq, const char *ifname)
{
	size_t n = strlen(ifname) + 1;
	size_t need = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct dcbmsg)) + MNL_ATTR_HDRLEN +
		      MNL_ALIGN(n);
	struct nlmsghdr *nlh;

	if (n > IFNAMSIZ)
		return -ENAMETOOLONG;
	if (size < need)
		return -ENOSPC;
	memset(buf, 0, need);
	nlh = put_header(buf, RTM_GETDCB, NLM_F_REQUEST, seq, DCB_CMD_IEEE_GET);
	mnl_attr_put_strz(nlh, DCB_ATTR_IFNAME, ifname);
	return (int)nlh->nlmsg_len;
}

int tita_dcb_build_set_maxrate(void *buf, size_t size, uint32_t seq, const char *ifname,
			       const uint64_t maxrate_kbps[TITA_DCB_MAX_TCS])
{
	size_t n = strlen(ifname) + 1;
	size_t need = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct dcbmsg)) + MNL_ATTR_HDRLEN +
		      MNL_ALIGN(n) + 2 * MNL_ATTR_HDRLEN + sizeof(struct ieee_maxrate);
	struct ieee_maxrate mr;
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	if (n > IFNAMSIZ)
		return -ENAMETOOLONG;
	if (size < need)
		return -ENOSPC;
	memset(buf, 0, need);
	memset(&mr, 0, sizeof(mr));
	for (int tc = 0; tc < TITA_DCB_MAX_TCS; tc++)
		mr.tc_maxrate[tc] = maxrate_kbps[tc];
	/* The set answers with its own status message; the ACK makes a
	 * kernel-level refusal (no such device, no DCB) arrive as an error. */
	nlh = put_header(buf, RTM_SETDCB, NLM_F_REQUEST | NLM_F_ACK, seq, DCB_CMD_IEEE_SET);
	mnl_attr_put_strz(nlh, DCB_ATTR_IFNAME, ifname);
	nest = mnl_attr_nest_start(nlh, DCB_ATTR_IEEE);
	mnl_attr_put(nlh, DCB_ATTR_IEEE_MAXRATE, sizeof(mr), &mr);
	mnl_attr_nest_end(nlh, nest);
	return (int)nlh->nlmsg_len;
}

struct get_ctx {
	uint64_t *kbps;
	bool found;
};

static int ieee_attr(const struct nlattr *a, void *vctx)
{
	struct get_ctx *c = vctx;
	struct ieee_maxrate mr;

	if (mnl_attr_get_type(a) != DCB_ATTR_IEEE_MAXRATE)
		return 0;
	if (mnl_attr_get_payload_len(a) != sizeof(mr))
		return -EBADMSG;
	memcpy(&mr, mnl_attr_get_payload(a), sizeof(mr));
	for (int tc = 0; tc < TITA_DCB_MAX_TCS; tc++)
		c->kbps[tc] = mr.tc_maxrate[tc];
	c->found = true;
	return 0;
}

static int top_attr_get(const struct nlattr *a, void *vctx)
{
	if (mnl_attr_get_type(a) != DCB_ATTR_IEEE)
		return 0;
	return nlattr_walk(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), ieee_attr, vctx);
}

/* Check one reply message's header: its payload (after struct dcbmsg) in
 * ret_p and ret_len; the kernel's error for NLMSG_ERROR; 1 for an ACK. */
static int reply_payload(const void *buf, size_t len, uint16_t want_type, const char **ret_p,
			 size_t *ret_len)
{
	const struct nlmsghdr *nlh = buf;
	size_t hdr = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct dcbmsg));

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
	*ret_p = (const char *)buf + hdr;
	*ret_len = nlh->nlmsg_len - hdr;
	return 0;
}

int tita_dcb_parse_get(const void *buf, size_t len, uint64_t ret_kbps[TITA_DCB_MAX_TCS])
{
	uint64_t kbps[TITA_DCB_MAX_TCS] = { 0 };
	struct get_ctx c = { kbps, false };
	const char *p;
	size_t plen;
	int r = reply_payload(buf, len, RTM_GETDCB, &p, &plen);

	if (r)
		return r > 0 ? -EBADMSG : r;
	r = nlattr_walk(p, plen, top_attr_get, &c);
	if (r)
		return r;
	if (!c.found)
		return -EOPNOTSUPP;
	memcpy(ret_kbps, kbps, sizeof(kbps));
	return 0;
}

static int top_attr_set(const struct nlattr *a, void *vctx)
{
	int *status = vctx;

	if (mnl_attr_get_type(a) != DCB_ATTR_IEEE)
		return 0;
	if (mnl_attr_get_payload_len(a) != 1)
		return -EBADMSG;
	*status = *(const uint8_t *)mnl_attr_get_payload(a);
	return 0;
}

int tita_dcb_parse_set(const void *buf, size_t len)
{
	const char *p;
	size_t plen;
	int status = -1;
	int r = reply_payload(buf, len, RTM_SETDCB, &p, &plen);

	if (r)
		return r > 0 ? 0 : r;
	r = nlattr_walk(p, plen, top_attr_set, &status);
	if (r)
		return r;
	if (status < 0)
		return -EBADMSG;
	return status ? -EIO : 0;
}

/* ---- I/O -------------------------------------------------------------- */

/* Send req and hand each reply message to check() until it returns <= 0
 * or an ACK/error ends the exchange. */
static int roundtrip(const struct nlmsghdr *req, int (*check)(const void *, size_t, void *),
		     void *ctx)
{
	char buf[8192];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	int r = 1;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	while (r > 0) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const char *p = buf;

		if (n < 0) {
			r = -errno;
			break;
		}
		while (r > 0 && n >= (ssize_t)sizeof(struct nlmsghdr)) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;

			if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > (size_t)n) {
				r = -EBADMSG;
				break;
			}
			r = check(p, nlh->nlmsg_len, ctx);
			n -= (ssize_t)MNL_ALIGN(nlh->nlmsg_len);
			p += MNL_ALIGN(nlh->nlmsg_len);
		}
	}
out:
	mnl_socket_close(nl);
	return r;
}

struct get_rt {
	uint64_t *kbps;
	int result;
};

static int check_get(const void *msg, size_t len, void *vctx)
{
	struct get_rt *c = vctx;

	c->result = tita_dcb_parse_get(msg, len, c->kbps);
	/* The get has no ACK: its reply (or an error) ends it. */
	return c->result == 0 ? 0 : c->result;
}

static void explain(int r, const char *ifname, const char *what, char *err, size_t err_size)
{
	if (!err || !err_size)
		return;
	if (r == -EOPNOTSUPP)
		snprintf(err, err_size,
			 "%s: no DCB max-rate support (the driver implements no IEEE 802.1Qaz "
			 "maxrate; the dcb pacer needs a DCB-capable NIC such as mlx5)",
			 ifname);
	else if (r == -ENODEV)
		snprintf(err, err_size, "%s: no such device", ifname);
	else
		snprintf(err, err_size, "%s: DCB %s failed: %s", ifname, what, strerror(-r));
}

int tita_dcb_get_maxrate(const char *ifname, uint64_t ret_kbps[TITA_DCB_MAX_TCS], char *err,
			 size_t err_size)
{
	char req[128];
	uint64_t kbps[TITA_DCB_MAX_TCS];
	struct get_rt c = { kbps, -EBADMSG };
	int r = tita_dcb_build_get(req, sizeof(req), (uint32_t)time(NULL), ifname);

	if (r < 0) {
		explain(r, ifname, "get", err, err_size);
		return r;
	}
	r = roundtrip((const struct nlmsghdr *)req, check_get, &c);
	if (r == 0)
		r = c.result;
	if (r) {
		explain(r, ifname, "get", err, err_size);
		return r;
	}
	memcpy(ret_kbps, kbps, sizeof(kbps));
	return 0;
}

static int check_set(const void *msg, size_t len, void *vctx)
{
	int *result = vctx;
	int r = tita_dcb_parse_set(msg, len);

	if (((const struct nlmsghdr *)msg)->nlmsg_type == NLMSG_ERROR)
		return r ? r : (*result ? *result : 0);
	/* The status message comes before the ACK. */
	*result = r;
	return 1;
}

int tita_dcb_set_maxrate(const char *ifname, const uint64_t kbps[TITA_DCB_MAX_TCS], char *err,
			 size_t err_size)
{
	char req[192];
	int result = 0;
	int r = tita_dcb_build_set_maxrate(req, sizeof(req), (uint32_t)time(NULL), ifname, kbps);

	if (r < 0) {
		explain(r, ifname, "set", err, err_size);
		return r;
	}
	r = roundtrip((const struct nlmsghdr *)req, check_set, &result);
	if (r) {
		explain(r, ifname, "set", err, err_size);
		return r;
	}
	return 0;
}
