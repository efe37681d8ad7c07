/* SPDX-License-Identifier: MIT */
/*
 * QP discovery through RDMA netlink (the nldev client, what `rdma resource
 * show qp` uses): a device dump (RDMA_NLDEV_CMD_GET) for the device
 * indexes, then one RES_QP_GET dump per device. Listing QPs needs no
 * privilege. The kernel sends no QP create/destroy events, so discovery is
 * a periodic poll.
 *
 * The parsers take raw bytes and check every length (message, attribute,
 * nested attribute, typed payload) before reading, so that the tests can
 * feed them messages built to the uapi layout, truncated and malformed
 * ones included. PIDs are in the daemon's PID namespace: run titad in the
 * host's.
 */
#ifndef TITA_RDMANL_H
#define TITA_RDMANL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tita_rdma_dev {
	uint32_t index;
	char name[64];
	uint32_t n_ports;
};

struct tita_rdma_qp {
	uint32_t dev_index;
	char dev_name[64];
	uint32_t port; /* 0: not bound to a port yet (RESET/INIT) */
	uint32_t lqpn;
	uint32_t rqpn; /* RC/UC only; has_rqpn says */
	bool has_rqpn;
	uint8_t type; /* IB QP type: 2 RC, 3 UC, 4 UD, 8 RAW_PACKET, ... */
	uint8_t state; /* 0 RESET, 1 INIT, 2 RTR, 3 RTS, 4 SQD, 5 SQE, 6 ERR */
	uint32_t pid; /* user QPs; has_pid says */
	bool has_pid;
	char kern_name[32]; /* kernel QPs: the owner's name */
};

/* Called per QP; a non-zero return stops the walk and is returned. */
typedef int (*tita_rdma_qp_fn)(const struct tita_rdma_qp *qp, void *ctx);

struct tita_rdma_parse_stats {
	uint32_t messages; /* RES_QP_GET replies parsed */
	uint32_t qps; /* delivered to the callback */
	uint32_t skipped; /* entries without LQPN/TYPE/STATE, or with bad attributes */
};

/*
 * Parse a buffer of netlink messages (one recv of a dump): every RES_QP_GET
 * reply in it is walked; NLMSG_DONE ends it; other types are ignored.
 * Returns 1 when NLMSG_DONE was seen, 0 when more messages are to come,
 * -EBADMSG when a length does not add up (the rest of the buffer is
 * dropped), the kernel's -errno for an NLMSG_ERROR, or the callback's
 * non-zero value. stats may be NULL.
 */
int tita_rdma_parse_qp_dump(const void *buf, size_t len, tita_rdma_qp_fn fn, void *ctx,
			    struct tita_rdma_parse_stats *stats);

/* Parse one device-dump reply message into *ret. 0, -EBADMSG, or -ENOENT
 * when it lacks the index or name. */
int tita_rdma_parse_dev(const void *msg, size_t len, struct tita_rdma_dev *ret);

/* Build the RES_QP_GET dump request for one device into buf: returns its
 * length, or -ENOSPC. */
int tita_rdma_build_qp_request(void *buf, size_t size, uint32_t seq, uint32_t dev_index);

/* Run the dumps against the kernel: devices, then each device's QPs. 0 or
 * -errno (-EPROTONOSUPPORT: the kernel has no RDMA netlink). */
int tita_rdma_list_devices(struct tita_rdma_dev *out, size_t max, size_t *ret_n);
int tita_rdma_list_qps(uint32_t dev_index, tita_rdma_qp_fn fn, void *ctx,
		       struct tita_rdma_parse_stats *stats);

const char *tita_rdma_qp_type_name(uint8_t type);
const char *tita_rdma_qp_state_name(uint8_t state);

#endif /* TITA_RDMANL_H */
