/* SPDX-License-Identifier: MIT */
/*
 * titad's NICs: the [port] sections made real. Each port has its netdev,
 * its address and line rate (given or detected), the eBPF datapath
 * attached to it with a reader, and the RDMA device's hw_counters when
 * there is one.
 *
 * struct titad_port is this module's own record: ports.c writes it, the
 * engine reads it (through titad_ports_get()) to feed the controller, and
 * control.c and metrics.c see copies (titad_ports_info()).
 */
#ifndef TITAD_PORTS_H
#define TITAD_PORTS_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "niccounters.h"
#include "pacer.h"
#include "tita_bpf.h"

struct titad_port {
	char ifname[IF_NAMESIZE];
	int ifindex;
	struct tita_addr addr;
	uint64_t line_rate_bps;
	bool line_rate_detected;
	struct tita_bpf *bpf;
	struct tita_bpf_reader *reader;
	/* The RDMA device's hw_counters (hardware RoCE bypasses the
	 * datapath); nic_ok: the last read found the device. */
	struct tita_nic_reader *nic;
	struct tita_nic_sample nic_sample;
	bool nic_ok;
	/* The read before, for the controller's port samples. */
	struct tita_nic_sample nic_prev;
	uint64_t nic_prev_ns;
	bool nic_prev_ok;
	/* PFC/pause frames (ethtool): the genl family, and whether the NIC's
	 * having none was said already. */
	uint16_t pause_family;
	bool pause_said;
	const struct tita_bpf_snapshot *snap; /* the latest good read, or NULL */
	uint64_t read_errors;
	/* The device is there and up, the datapath on it; else why not
	 * ("deleted", "down"), and the pacing on it is off (fail-open). */
	bool up;
	char down_why[32];
	uint64_t repins; /* its pins were deleted under titad and put back */
};

/* What control.c and metrics.c see of a port: copies, and sums over the
 * latest snapshot's peers. */
struct titad_port_info {
	char ifname[IF_NAMESIZE];
	struct tita_addr addr;
	uint64_t line_rate_bps;
	bool has_snapshot;
	struct tita_bpf_rx_counts rx_total; /* summed over the remote sources */
	struct tita_bpf_reasons rx_reasons, tx_reasons; /* totals */
	uint64_t read_errors;
	bool nic_ok;
	char ibdev[64];
	uint32_t ibport;
	struct tita_nic_sample nic;
	bool up;
	char down_why[32];
	uint64_t repins;
};

/* A port's device went away or down (up false), or is back with its
 * datapath attached again (up true). */
typedef void (*titad_port_change_fn)(void *ctx, uint32_t i, bool up, uint64_t now_ns);

struct titad_ports;

/* Attach the datapath to every configured port (detecting addresses and
 * line rates). 0, or -errno with err naming the port and file:line. On
 * failure *ret_ports is still set: close it to undo what was attached. */
int titad_ports_open(struct titad_ports **ret_ports, const struct titad_config *cfg, char *err,
		     size_t err_size);
/* What titad_ports_open() would find wrong with the config's ports
 * (a device that does not exist, no address, no speed), without touching
 * anything: every problem appended to err, one per line. 0 or the first
 * -errno. */
int titad_ports_check(const struct titad_config *cfg, char *err, size_t err_size);
/* Follow the ports' devices through rtnetlink (deleted, renamed, down,
 * created again, up), and check them and their pins once a second
 * (titad_ports_housekeeping()) in case an event was lost: changed gets
 * every change. 0 or -errno with err. */
int titad_ports_watch(struct titad_ports *ps, struct tita_event *ev, titad_port_change_fn changed,
		      void *ctx, char *err, size_t err_size);
/* Pins deleted under titad are put back (counted, logged); devices are
 * checked against what the events said. */
void titad_ports_housekeeping(struct titad_ports *ps, uint64_t now_ns);
/* Detach every datapath. Accepts NULL. */
struct titad_ports *titad_ports_close(struct titad_ports *ps);

uint32_t titad_ports_count(const struct titad_ports *ps);
const struct titad_port *titad_ports_get(const struct titad_ports *ps, uint32_t i);
/* The index of the port with this local address, or -1. */
int titad_ports_find(const struct titad_ports *ps, const struct tita_addr *addr);
void titad_ports_info(const struct titad_ports *ps, uint32_t i, struct titad_port_info *ret);
/* The ports as the pacer sees them: fills n = titad_ports_count() entries. */
void titad_ports_pacer_ports(const struct titad_ports *ps, struct tita_pacer_port *out);

/* A reload's line rate (0: keep the detected one). The rate in force. */
uint64_t titad_ports_set_line_rate(struct titad_ports *ps, uint32_t i, uint64_t line_rate_bps);

/* Read a port's BPF maps: 0 and the snapshot, or -errno (counted, and
 * logged at most five times per ten seconds). */
int titad_ports_read(struct titad_ports *ps, uint32_t i, uint64_t now_ns,
		     const struct tita_bpf_snapshot **ret_snap);
/* Read a port's NIC counters; true and the controller's port sample since
 * the previous read when both reads had what it needs. */
bool titad_ports_read_nic(struct titad_ports *ps, uint32_t i, uint64_t now_ns,
			  struct tita_port_sample *ret_sample);

/* The pause frames port i's NIC sent and received, cumulative: link-level
 * (ethtool's pause statistics) plus PFC on priority prio (the driver's
 * tx_prio<P>_pause). false when the NIC counts neither (veth, virtio),
 * said once in the log: the evidence is absent, not 0. */
bool titad_ports_read_pause(struct titad_ports *ps, uint32_t i, unsigned prio,
			    uint64_t *ret_tx_frames, uint64_t *ret_rx_frames);

#endif /* TITAD_PORTS_H */
