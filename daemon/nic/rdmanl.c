// SPDX-License-Identifier: MIT
/*
 * RDMA netlink QP discovery (see rdmanl.h). Attribute walks are written
 * out rather than left to mnl_attr_parse(), which stops silently at a
 * truncated attribute: here a length that does not add up is an error the
 * caller counts, and what came before it is kept.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <rdma/rdma_netlink.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rdmanl.h"

#define QP_GET_TYPE RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_RES_QP_GET)
#define DEV_GET_TYPE RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_GET)

/* Call fn on each attribute in [start, start + len). -EBADMSG when an
 * attribute's length is short, runs past the end, or bytes remain that
 * cannot hold one. */
typedef int (*attr_fn)(const struct nlattr *a, void *ctx);

static int walk_attrs(const void *start, size_t len, attr_fn fn, void *ctx)
{
	const char *p = start, *end = p + len;

	while (p < end) {
		const struct nlattr *a = (const struct nlattr *)p;
		size_t left = (size_t)(end - p), alen;
		int r;

		if (left < sizeof(*a))
			return -EBADMSG;
		alen = a->nla_len;
		if (alen < sizeof(*a) || alen > left)
			return -EBADMSG;
		r = fn(a, ctx);
		if (r)
			return r;
		/* The last attribute may omit its padding. */
		alen = MNL_ALIGN(alen);
		if (alen >= left)
			break;
		p += alen;
	}
	return 0;
}

static size_t payload_len(const struct nlattr *a)
{
	return a->nla_len - MNL_ATTR_HDRLEN;
}

static int get_u32(const struct nlattr *a, uint32_t *ret)
{
	if (payload_len(a) != sizeof(uint32_t))
		return -EBADMSG;
	memcpy(ret, mnl_attr_get_payload(a), sizeof(*ret));
	return 0;
}

static int get_u8(const struct nlattr *a, uint8_t *ret)
{
	/* nla_put_u8 pads to 4, but the payload length says 1. */
	if (payload_len(a) != sizeof(uint8_t))
		return -EBADMSG;
	*ret = *(const uint8_t *)mnl_attr_get_payload(a);
	return 0;
}

/* A NUL-terminated string attribute into buf; -EBADMSG when it is not
 * terminated, -ENAMETOOLONG when it does not fit. */
static int get_str(const struct nlattr *a, char *buf, size_t size)
{
	size_t n = payload_len(a);
	const char *s = mnl_attr_get_payload(a);

	if (n == 0 || s[n - 1] != '\0')
		return -EBADMSG;
	if (strlen(s) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, s);
	return 0;
}

struct qp_entry_ctx {
	struct tita_rdma_qp qp;
	bool has_lqpn, has_type, has_state;
	int err;
};

static int qp_entry_attr(const struct nlattr *a, void *vctx)
{
	struct qp_entry_ctx *c = vctx;
	int r = 0;

	switch (mnl_attr_get_type(a)) {
	case RDMA_NLDEV_ATTR_PORT_INDEX:
		r = get_u32(a, &c->qp.port);
		break;
	case RDMA_NLDEV_ATTR_RES_LQPN:
		r = get_u32(a, &c->qp.lqpn);
		c->has_lqpn = !r;
		break;
	case RDMA_NLDEV_ATTR_RES_RQPN:
		r = get_u32(a, &c->qp.rqpn);
		c->qp.has_rqpn = !r;
		break;
	case RDMA_NLDEV_ATTR_RES_TYPE:
		r = get_u8(a, &c->qp.type);
		c->has_type = !r;
		break;
	case RDMA_NLDEV_ATTR_RES_STATE:
		r = get_u8(a, &c->qp.state);
		c->has_state = !r;
		break;
	case RDMA_NLDEV_ATTR_RES_PID:
		r = get_u32(a, &c->qp.pid);
		c->qp.has_pid = !r;
		break;
	case RDMA_NLDEV_ATTR_RES_KERN_NAME:
		r = get_str(a, c->qp.kern_name, sizeof(c->qp.kern_name));
		/* A long kernel name is cut, not an error. */
		if (r == -ENAMETOOLONG) {
			memcpy(c->qp.kern_name, mnl_attr_get_payload(a),
			       sizeof(c->qp.kern_name) - 1);
			r = 0;
		}
		break;
	default:
		/* PSNs, PDN, driver details: not needed. */
		break;
	}
	if (r)
		c->err = r;
	return 0;
}

struct qp_msg_ctx {
	uint32_t dev_index;
	char dev_name[64];
	bool has_dev;
	tita_rdma_qp_fn fn;
	void *fn_ctx;
	struct tita_rdma_parse_stats *stats;
	int cb_ret;
};

static int qp_table_attr(const struct nlattr *a, void *vctx)
{
	struct qp_msg_ctx *m = vctx;
	struct qp_entry_ctx e = { 0 };
	int r;

	if (mnl_attr_get_type(a) != RDMA_NLDEV_ATTR_RES_QP_ENTRY)
		return 0;
	r = walk_attrs(mnl_attr_get_payload(a), payload_len(a), qp_entry_attr, &e);
	if (r || e.err || !e.has_lqpn || !e.has_type || !e.has_state) {
		m->stats->skipped++;
		return 0;
	}
	e.qp.dev_index = m->dev_index;
	memcpy(e.qp.dev_name, m->dev_name, sizeof(e.qp.dev_name));
	m->stats->qps++;
	m->cb_ret = m->fn(&e.qp, m->fn_ctx);
	return m->cb_ret;
}

static int qp_msg_attr(const struct nlattr *a, void *vctx)
{
	struct qp_msg_ctx *m = vctx;
	int r = 0;

	switch (mnl_attr_get_type(a)) {
	case RDMA_NLDEV_ATTR_DEV_INDEX:
		r = get_u32(a, &m->dev_index);
		m->has_dev = !r;
		break;
	case RDMA_NLDEV_ATTR_DEV_NAME:
		r = get_str(a, m->dev_name, sizeof(m->dev_name));
		break;
	case RDMA_NLDEV_ATTR_RES_QP:
		/* The kernel puts the device attributes first; a table
		 * before them would give QPs no device. */
		if (!m->has_dev)
			return -EBADMSG;
		r = walk_attrs(mnl_attr_get_payload(a), payload_len(a), qp_table_attr, m);
		if (r && m->cb_ret)
			return r;
		if (r == -EBADMSG) {
			/* Entries before the damage were delivered. */
			m->stats->skipped++;
			r = 0;
		}
		break;
	default:
		break;
	}
	return r;
}

int tita_rdma_parse_qp_dump(const void *buf, size_t len, tita_rdma_qp_fn fn, void *ctx,
			    struct tita_rdma_parse_stats *stats)
{
	struct tita_rdma_parse_stats dummy = { 0 };
	const char *p = buf, *end = p + len;

	if (!stats)
		stats = &dummy;
	while (p < end) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		size_t left = (size_t)(end - p);
		struct qp_msg_ctx m = { .fn = fn, .fn_ctx = ctx, .stats = stats };
		int r;

		if (left < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left)
			return -EBADMSG;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return -EBADMSG;
			if (e->error)
				return e->error < 0 ? e->error : -EPROTO;
			/* An ACK ends a dump that asked for one. */
			return 1;
		}
		if (nlh->nlmsg_type == QP_GET_TYPE) {
			stats->messages++;
			/* nldev messages have no family header: attributes
			 * start right after the netlink header. */
			r = walk_attrs(mnl_nlmsg_get_payload(nlh), nlh->nlmsg_len - sizeof(*nlh),
				       qp_msg_attr, &m);
			if (m.cb_ret)
				return m.cb_ret;
			if (r)
				return r;
		}
		if (MNL_ALIGN(nlh->nlmsg_len) >= left)
			break;
		p += MNL_ALIGN(nlh->nlmsg_len);
	}
	return 0;
}

struct dev_ctx {
	struct tita_rdma_dev dev;
	bool has_index, has_name;
};

static int dev_attr(const struct nlattr *a, void *vctx)
{
	struct dev_ctx *c = vctx;
	int r = 0;

	switch (mnl_attr_get_type(a)) {
	case RDMA_NLDEV_ATTR_DEV_INDEX:
		r = get_u32(a, &c->dev.index);
		c->has_index = !r;
		break;
	case RDMA_NLDEV_ATTR_DEV_NAME:
		r = get_str(a, c->dev.name, sizeof(c->dev.name));
		c->has_name = !r;
		break;
	case RDMA_NLDEV_ATTR_PORT_INDEX:
		/* In a device reply, the number of ports. */
		r = get_u32(a, &c->dev.n_ports);
		break;
	default:
		break;
	}
	return r == -ENAMETOOLONG ? -EBADMSG : r;
}

int tita_rdma_parse_dev(const void *msg, size_t len, struct tita_rdma_dev *ret)
{
	const struct nlmsghdr *nlh = msg;
	struct dev_ctx c = { 0 };
	int r;

	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EBADMSG;
	r = walk_attrs(mnl_nlmsg_get_payload(nlh), nlh->nlmsg_len - sizeof(*nlh), dev_attr, &c);
	if (r)
		return r;
	if (!c.has_index || !c.has_name)
		return -ENOENT;
	*ret = c.dev;
	return 0;
}

int tita_rdma_build_qp_request(void *buf, size_t size, uint32_t seq, uint32_t dev_index)
{
	struct nlmsghdr *nlh;

	/* Header plus two attributes of 8 bytes each (u32 and u8, padded). */
	if (size < MNL_NLMSG_HDRLEN + 2 * MNL_ATTR_HDRLEN + 8)
		return -ENOSPC;
	memset(buf, 0, MNL_NLMSG_HDRLEN + 2 * MNL_ATTR_HDRLEN + 8);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = QP_GET_TYPE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_DEV_INDEX, dev_index);
	/* What iproute2 sends; asks for no driver-specific attributes. */
	mnl_attr_put_u8(nlh, RDMA_NLDEV_ATTR_DRIVER_DETAILS, 0);
	return (int)nlh->nlmsg_len;
}

/* ---- I/O -------------------------------------------------------------- */

static struct mnl_socket *open_rdma(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_RDMA, SOCK_CLOEXEC);

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	return nl;
}

/* Receive until the dump ends; each buffer goes to parse(). */
typedef int (*dump_parse_fn)(const void *buf, size_t len, void *ctx);

static int run_dump(struct mnl_socket *nl, const struct nlmsghdr *req, dump_parse_fn parse,
		    void *ctx)
{
	/* The kernel fills a dump skb up to a page or so (it may use up to
	 * 32 KiB); a larger buffer never truncates a message. */
	static char buf[32768];
	ssize_t n;
	int r;

	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EINVAL ? -EPROTONOSUPPORT : -errno;
		r = parse(buf, (size_t)n, ctx);
		if (r)
			return r > 0 ? 0 : r;
	}
}

struct devs_ctx {
	struct tita_rdma_dev *out;
	size_t max, n;
};

static int parse_devs(const void *buf, size_t len, void *vctx)
{
	struct devs_ctx *c = vctx;
	const char *p = buf, *end = p + len;

	while (p < end) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		size_t left = (size_t)(end - p);

		if (left < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left)
			return -EBADMSG;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return -EBADMSG;
			return e->error ? e->error : 1;
		}
		if (nlh->nlmsg_type == DEV_GET_TYPE && c->n < c->max &&
		    tita_rdma_parse_dev(nlh, nlh->nlmsg_len, &c->out[c->n]) == 0)
			c->n++;
		if (MNL_ALIGN(nlh->nlmsg_len) >= left)
			break;
		p += MNL_ALIGN(nlh->nlmsg_len);
	}
	return 0;
}

int tita_rdma_list_devices(struct tita_rdma_dev *out, size_t max, size_t *ret_n)
{
	char req[MNL_NLMSG_HDRLEN];
	struct mnl_socket *nl = open_rdma();
	struct devs_ctx c = { out, max, 0 };
	struct nlmsghdr *nlh;
	int r;

	if (!nl)
		return errno == EPROTONOSUPPORT ? -EPROTONOSUPPORT : -errno;
	memset(req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = DEV_GET_TYPE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	r = run_dump(nl, nlh, parse_devs, &c);
	mnl_socket_close(nl);
	if (r)
		return r;
	*ret_n = c.n;
	return 0;
}

struct qps_ctx {
	tita_rdma_qp_fn fn;
	void *ctx;
	struct tita_rdma_parse_stats *stats;
};

static int parse_qps(const void *buf, size_t len, void *vctx)
{
	struct qps_ctx *c = vctx;

	return tita_rdma_parse_qp_dump(buf, len, c->fn, c->ctx, c->stats);
}

int tita_rdma_list_qps(uint32_t dev_index, tita_rdma_qp_fn fn, void *ctx,
		       struct tita_rdma_parse_stats *stats)
{
	char req[64];
	struct mnl_socket *nl = open_rdma();
	struct qps_ctx c = { fn, ctx, stats };
	int r;

	if (!nl)
		return -errno;
	r = tita_rdma_build_qp_request(req, sizeof(req), (uint32_t)time(NULL), dev_index);
	if (r > 0)
		r = run_dump(nl, (const struct nlmsghdr *)req, parse_qps, &c);
	mnl_socket_close(nl);
	return r;
}

const char *tita_rdma_qp_type_name(uint8_t type)
{
	/* enum ib_qp_type */
	switch (type) {
	case 0:
		return "SMI";
	case 1:
		return "GSI";
	case 2:
		return "RC";
	case 3:
		return "UC";
	case 4:
		return "UD";
	case 8:
		return "RAW_PACKET";
	case 9:
		return "XRC_INI";
	case 10:
		return "XRC_TGT";
	default:
		return "other";
	}
}

const char *tita_rdma_qp_state_name(uint8_t state)
{
	static const char *const names[] = { "RESET", "INIT", "RTR", "RTS", "SQD", "SQE", "ERR" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}
