/* SPDX-License-Identifier: MIT */
/*
 * NIC port counters from sysfs (hw_counters of the RDMA device behind a
 * netdev). Hardware RoCE never crosses XDP or tc, so on a real NIC these are
 * the only congestion signals the host sees for RDMA traffic: CE-marked
 * packets received (np_ecn_marked_roce_packets), CNPs sent and handled,
 * out-of-sequence packets and retransmits.
 *
 * Every counter is optional: a NIC without the capability, a port without
 * an RDMA device, a vanished file are "absent", reported per counter, never
 * an error that stops the daemon. The sysfs root is a parameter so that the
 * tests read a fake tree.
 */
#ifndef TITA_NICCOUNTERS_H
#define TITA_NICCOUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tita_nic_counter {
	TITA_NIC_ECN_MARKED_ROCE, /* np_ecn_marked_roce_packets */
	TITA_NIC_CNP_SENT, /* np_cnp_sent */
	TITA_NIC_CNP_HANDLED, /* rp_cnp_handled */
	TITA_NIC_CNP_IGNORED, /* rp_cnp_ignored */
	TITA_NIC_OUT_OF_SEQUENCE,
	TITA_NIC_PACKET_SEQ_ERR,
	TITA_NIC_ADP_RETRANS, /* roce_adp_retrans */
	TITA_NIC_ADP_RETRANS_TO, /* roce_adp_retrans_to */
	TITA_NIC_LOCAL_ACK_TIMEOUT_ERR,
	TITA_NIC_IMPLIED_NAK_SEQ_ERR,
	TITA_NIC_DUPLICATE_REQUEST,
	TITA_NIC_OUT_OF_BUFFER,
	TITA_NIC_RNR_NAK_RETRY_ERR,
	/* From the port's standard IB counters (ports/N/counters), not
	 * hw_counters: what arrived on the port, RoCE included. */
	TITA_NIC_PORT_RCV_PACKETS, /* port_rcv_packets */
	TITA_NIC_PORT_RCV_DATA, /* port_rcv_data: in 4-octet words, as IB counts */
	TITA_NIC_COUNTER_COUNT
};

/* The sysfs file name of a counter (also its metric label). */
const char *tita_nic_counter_name(enum tita_nic_counter c);

/* Totals since the reader was created, 64-bit and monotonic across the
 * 32-bit wrap of the NIC's Q counters and across a counter reset. */
struct tita_nic_sample {
	uint64_t total[TITA_NIC_COUNTER_COUNT];
	uint32_t present; /* bit c: counter c was read this time */
};

/*
 * The RDMA device and port behind a netdev: first
 * <root>/class/net/<ifname>/device/infiniband/<dev> (PCI functions), then a
 * scan of <root>/class/infiniband/<dev>/ports/<n>/gid_attrs/ndevs/<i>
 * (Soft-RoCE, bonds, anything whose netdev is not the device's parent). The
 * port is the one whose GID table names the netdev; port 1 when the
 * device has one port and no GID names it yet. 0, or -ENODEV when no RDMA
 * device backs the netdev (nothing is written then).
 */
int tita_nic_find(const char *sysfs_root, const char *ifname, char *ret_ibdev, size_t ibdev_size,
		  uint32_t *ret_port);

struct tita_nic_reader;

/* A reader for one netdev. Never fails for a missing device: it looks for
 * it again on each read (a driver may load after titad). NULL with errno
 * (ENOMEM, ENAMETOOLONG). */
struct tita_nic_reader *tita_nic_reader_new(const char *sysfs_root, const char *ifname);
struct tita_nic_reader *tita_nic_reader_free(struct tita_nic_reader *r);

/* Read every counter once. 0 with *ret filled (absent counters keep their
 * previous totals and are clear in ret->present), or -ENODEV when the
 * netdev has no RDMA device (ret->present is 0 then). */
int tita_nic_reader_read(struct tita_nic_reader *r, struct tita_nic_sample *ret);

/* The device and port found by the last read ("" and 0 when none). */
const char *tita_nic_reader_ibdev(const struct tita_nic_reader *r);
uint32_t tita_nic_reader_port(const struct tita_nic_reader *r);

/* Pure: the next total from the previous raw value and the new raw value.
 * A decrease from the upper half of the 32-bit range is a wrap (mlx5 reads
 * its Q counters as 32-bit values); any other decrease is a reset (driver
 * reload, port reset), and the counter counts again from 0. */
uint64_t tita_nic_counter_advance(uint64_t total, uint64_t prev_raw, uint64_t raw);

#endif /* TITA_NICCOUNTERS_H */
