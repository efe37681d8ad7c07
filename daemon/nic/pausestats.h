/* SPDX-License-Identifier: MIT */
/*
 * Pause frames a NIC sent and received: the evidence that a host's NIC is
 * pausing its switch port (PFC storm, a receiver that cannot drain) or is
 * being paused by it.
 *
 * Two sources, each optional:
 *  - ethtool netlink, ETHTOOL_MSG_PAUSE_GET with ETHTOOL_FLAG_STATS (genl
 *    family "ethtool", Linux 5.11+): ETHTOOL_A_PAUSE_STAT_TX_FRAMES and
 *    _RX_FRAMES, the link-level (802.3x) pause frames of drivers with
 *    get_pause_stats (mlx5, ice, bnxt, ...);
 *  - the driver's own statistics (ETHTOOL_GSTRINGS/ETHTOOL_GSTATS):
 *    per-priority PFC counters named as mlx5 names them, tx_prio<P>_pause
 *    and rx_prio<P>_pause, for the RoCE priority P.
 * A NIC that has neither (veth, virtio) has no pause evidence: the
 * counters are unknown, never 0.
 *
 * The message builders and reply parsers are pure and tested against
 * recorded bytes; the I/O is a thin layer over them.
 */
#ifndef TITA_PAUSESTATS_H
#define TITA_PAUSESTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TITA_PAUSE_STRING_LEN 32 /* ETH_GSTRING_LEN */

/* Totals as the NIC counts them (since its driver loaded). */
struct tita_pause_counts {
	/* link: ethtool netlink's pause statistics were there. */
	bool has_link;
	uint64_t link_tx_frames, link_rx_frames;
	/* prio: the driver's tx_prio<P>_pause / rx_prio<P>_pause were there. */
	bool has_prio;
	uint64_t prio_tx_frames, prio_rx_frames;
};

/* The request for the "ethtool" generic netlink family's id
 * (CTRL_CMD_GETFAMILY): its length, or -ENOSPC. */
int tita_pause_build_family_get(void *buf, size_t size, uint32_t seq);
/* The reply: 0 and the family id; -ENOENT when the kernel has no such
 * family (no ethtool netlink: before 5.6, or built without it); -EBADMSG;
 * or the kernel's -errno. */
int tita_pause_parse_family(const void *buf, size_t len, uint16_t *ret_family);

/* ETHTOOL_MSG_PAUSE_GET for ifname with the stats flag: its length, or
 * -ENOSPC / -ENAMETOOLONG. */
int tita_pause_build_get(void *buf, size_t size, uint32_t seq, uint16_t family, const char *ifname);
/* The reply: 0 with ret's link counters; -EOPNOTSUPP when the device
 * answers without pause statistics (a driver without get_pause_stats,
 * or one that says neither direction), or when the kernel refuses
 * (veth: no pause parameters at all); -EBADMSG; or the kernel's -errno. */
int tita_pause_parse_get(const void *buf, size_t len, struct tita_pause_counts *ret);

/* Where the driver's statistics (n names of TITA_PAUSE_STRING_LEN bytes,
 * each NUL-padded) count PFC pause frames of priority prio: 0 and both
 * indexes, or -ENOENT when it names neither (a driver without
 * per-priority counters). A driver naming only one direction also gives
 * -ENOENT: half the evidence would read as "never pauses". */
int tita_pause_prio_index(const char *names, size_t n, unsigned prio, size_t *ret_tx,
			  size_t *ret_rx);

/* Read both sources for ifname, priority prio. 0 with ret (has_link and
 * has_prio say what was there; neither: ret's counts are unknown), or
 * -ENODEV (no such device), or -errno of a socket that could not be
 * opened. family_cache: the ethtool family id, found on the first call
 * (0: not looked up yet; UINT16_MAX: the kernel has none). */
int tita_pause_read(const char *ifname, unsigned prio, uint16_t *family_cache,
		    struct tita_pause_counts *ret);

#endif /* TITA_PAUSESTATS_H */
