/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The few kernel-internal types the queue sampler reads, declared by hand
 * for CO-RE instead of a generated 3 MB vmlinux.h (as xdp-tools does). Only
 * the fields used are listed: with preserve_access_index, libbpf finds each
 * by name in the running kernel's BTF at load time and patches the offsets,
 * so the order and the missing members here do not matter. Names must not
 * collide with the UAPI headers, which the networking programs also use.
 *
 * Checked against 5.15 (gnet_stats_basic_packed era) and 6.x: every field
 * below exists with a compatible type in both.
 */
#ifndef TITA_BPF_KERNEL_H
#define TITA_BPF_KERNEL_H

#include <linux/types.h>

#ifndef __ksym_core
#define __ksym_core __attribute__((preserve_access_index))
#endif

/* include/net/sch_generic.h: Qdisc->flags */
#define TITA_TCQ_F_CPUSTATS 0x20 /* qlen/backlog live in per-CPU qstats */

struct ns_common {
	unsigned int inum;
} __ksym_core;

struct net {
	struct ns_common ns;
} __ksym_core;

typedef struct {
	struct net *net;
} possible_net_t;

struct netdev_queue;

struct net_device {
	int ifindex;
	possible_net_t nd_net;
	struct netdev_queue *_tx;
} __ksym_core;

struct netdev_queue {
	struct net_device *dev;
} __ksym_core;

struct qdisc_skb_head {
	__u32 qlen;
} __ksym_core;

struct gnet_stats_queue {
	__u32 qlen;
	__u32 backlog;
} __ksym_core;

struct Qdisc {
	unsigned int flags;
	struct netdev_queue *dev_queue;
	struct qdisc_skb_head q;
	struct gnet_stats_queue qstats;
} __ksym_core;

struct sk_buff {
	struct sk_buff *next;
	unsigned int len;
} __ksym_core;

#endif /* TITA_BPF_KERNEL_H */
