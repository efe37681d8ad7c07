// SPDX-License-Identifier: MIT
/*
 * Two questions libbpf's tc API cannot answer without side effects or
 * noise: is there a clsact qdisc on a device (bpf_tc_hook_create() on an
 * existing one fails, and libbpf prints the kernel's complaint), and is any
 * filter left on it (bpf_tc_hook_destroy() on one direction flushes every
 * filter there, whoever owns it). Plain rtnetlink dumps answer both, so the
 * loader creates clsact only when it is missing and removes it only when it
 * has become empty.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "loader.h"

/* Called for each reply message of a dump; returns 1 to count it. */
typedef int (*dump_cb)(const struct nlmsghdr *nh, int ifindex);

static int dump(uint16_t type, int ifindex, uint32_t parent, dump_cb cb)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req = {
		.nh = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
			.nlmsg_type = type,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.tc = {
			.tcm_family = AF_UNSPEC,
			.tcm_ifindex = ifindex,
			.tcm_parent = parent,
		},
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	/* Aligned for struct nlmsghdr; a dump part fits in 32 KiB. */
	static _Thread_local uint32_t buf[32768 / sizeof(uint32_t)];
	int fd, count = 0, err = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		err = -errno;
		goto out;
	}
	/* Bounded: a dump ends with NLMSG_DONE; give up after many parts. */
	for (int parts = 0; parts < 4096; parts++) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		size_t off = 0;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		/* NLMSG_OK/NEXT spelled out with unsigned sizes. */
		while (off + sizeof(struct nlmsghdr) <= (size_t)got) {
			const struct nlmsghdr *nh = (const void *)((const char *)buf + off);

			if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > (size_t)got - off)
				break;
			off += NLMSG_ALIGN(nh->nlmsg_len);
			if (nh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				err = e->error;
				goto out;
			}
			count += cb(nh, ifindex);
		}
	}
	err = -EMSGSIZE;
out:
	close(fd);
	return err ? err : count;
}

static int is_filter(const struct nlmsghdr *nh, int ifindex)
{
	return nh->nlmsg_type == RTM_NEWTFILTER;
}

/* Filter records (each priority's record and each filter) on the clsact
 * hook of ifindex in direction (TC_H_MIN_INGRESS or TC_H_MIN_EGRESS): a
 * count (0 also when there is no clsact), or -errno. */
int tita_bpf_count_tc_filters(int ifindex, uint32_t direction)
{
	return dump(RTM_GETTFILTER, ifindex, TC_H_MAKE(TC_H_CLSACT, direction), is_filter);
}

static int is_clsact(const struct nlmsghdr *nh, int ifindex)
{
	const struct tcmsg *tc = NLMSG_DATA(nh);
	size_t off = NLMSG_LENGTH(sizeof(*tc));

	if (nh->nlmsg_type != RTM_NEWQDISC || nh->nlmsg_len < off || tc->tcm_ifindex != ifindex ||
	    tc->tcm_parent != TC_H_CLSACT)
		return 0;
	/* ingress and clsact share the parent; the kind tells them apart.
	 * RTA_OK/NEXT spelled out with unsigned sizes. */
	while (off + sizeof(struct rtattr) <= nh->nlmsg_len) {
		const struct rtattr *rta = (const void *)((const char *)nh + off);

		if (rta->rta_len < sizeof(*rta) || rta->rta_len > nh->nlmsg_len - off)
			break;
		if (rta->rta_type == TCA_KIND && RTA_PAYLOAD(rta) >= sizeof("clsact") &&
		    !memcmp(RTA_DATA(rta), "clsact", sizeof("clsact")))
			return 1;
		off += RTA_ALIGN(rta->rta_len);
	}
	return 0;
}

/* 1 when ifindex has a clsact qdisc, 0 when not, or -errno. */
int tita_bpf_has_clsact(int ifindex)
{
	int n = dump(RTM_GETQDISC, ifindex, 0, is_clsact);

	return n < 0 ? n : n > 0;
}
