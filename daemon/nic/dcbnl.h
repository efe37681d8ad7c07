/* SPDX-License-Identifier: MIT */
/*
 * Per traffic class maximum rates through DCB netlink (IEEE 802.1Qaz), the
 * knob `dcb maxrate` and `mlnx_qos -r` set. It is the one NIC-level rate
 * limit a daemon can own for RDMA traffic it did not create: the NIC's port
 * scheduler applies it to every QP of the class.
 *
 * Messages follow iproute2's dcb tool: RTM_{GET,SET}DCB with a struct
 * dcbmsg, DCB_ATTR_IFNAME, and for a set, DCB_ATTR_IEEE nesting
 * DCB_ATTR_IEEE_MAXRATE = struct ieee_maxrate (u64 tc_maxrate[8], kbit/s,
 * 0 = no limit).
 */
#ifndef TITA_DCBNL_H
#define TITA_DCBNL_H

#include <stddef.h>
#include <stdint.h>

#define TITA_DCB_MAX_TCS 8

/* Build the requests into buf: the length, or -ENOSPC / -ENAMETOOLONG. */
int tita_dcb_build_get(void *buf, size_t size, uint32_t seq, const char *ifname);
int tita_dcb_build_set_maxrate(void *buf, size_t size, uint32_t seq, const char *ifname,
			       const uint64_t maxrate_kbps[TITA_DCB_MAX_TCS]);

/*
 * Parse the reply to a get: 0 with ret filled; -EOPNOTSUPP when the reply
 * has no DCB_ATTR_IEEE_MAXRATE (the driver has no ieee_getmaxrate, so a set
 * would be ignored without an error: the kernel skips MAXRATE for drivers
 * without ieee_setmaxrate); -EBADMSG; or the kernel's -errno.
 */
int tita_dcb_parse_get(const void *buf, size_t len, uint64_t ret_kbps[TITA_DCB_MAX_TCS]);

/* Parse the reply to a set: 0, the kernel's -errno, or -EIO for a
 * non-zero status byte (the driver's error, cut to 8 bits by the kernel). */
int tita_dcb_parse_set(const void *buf, size_t len);

/* Talk to the kernel (NETLINK_ROUTE). 0 or -errno; err gets one line naming
 * the device when it fails. -EOPNOTSUPP: no DCB on this device (veth,
 * virtio, most software devices) or no max-rate support. */
int tita_dcb_get_maxrate(const char *ifname, uint64_t ret_kbps[TITA_DCB_MAX_TCS], char *err,
			 size_t err_size);
int tita_dcb_set_maxrate(const char *ifname, const uint64_t kbps[TITA_DCB_MAX_TCS], char *err,
			 size_t err_size);

#endif /* TITA_DCBNL_H */
