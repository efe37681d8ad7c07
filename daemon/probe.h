/* SPDX-License-Identifier: MIT */
/*
 * Path probes, traceroute's way: which spine a UDP source port leads to.
 *
 * A probe (tita_ctl_pop_probe()) is one UDP datagram from the pair's local
 * address and the given source port to the remote's RoCEv2 port, 4791, with
 * the IP TTL (IPv6 hop limit) set to the hops to the spines (2: the host's
 * leaf decrements it to 1, the spine to 0 and answers ICMP time exceeded).
 * Every switch on the way hashes the same 5-tuple as the pair's RoCE
 * packets, so the spine that answers is the one the pair's packets cross.
 *
 * Each probe has a UDP socket of its own, bound to (local, sport), connected
 * to (remote, 4791), with IP_RECVERR: the kernel matches the ICMP error's
 * quoted header to that socket and queues it on the socket's error queue
 * with the address of the router that sent it (SO_EE_OFFENDER), as
 * traceroute's UDP mode does. Why not a raw ICMP socket: it needs
 * CAP_NET_RAW, which titad's unit does not grant; it sees every ICMP
 * message of the host and would have to match quotes itself, which some
 * switches cut to 8 bytes. A raw UDP socket would also receive a copy of
 * every UDP packet the host receives.
 *
 * Binding the source port steals nothing. On a RoCE host the ports the
 * pairs send from are the NIC's: its RoCE engine sends and receives in
 * hardware, outside the kernel's socket table, and every RoCEv2 packet is
 * addressed to port 4791, never to a source port. What can hold the port
 * in the kernel is an unrelated socket (the range 49152-65535 that RoCE
 * uses overlaps the kernel's ephemeral ports): bind() then fails with
 * EADDRINUSE, the probe is not sent, and tita_prober_send() says so. The
 * socket sets SO_REUSEADDR, so that a socket that opted into sharing the
 * port (the test bed's generator sends its RoCE packets from such
 * sockets) does not keep the pair's own port from being probed: our
 * socket is connected, so the kernel hands the answer to it, not to the
 * unconnected one. A probe's socket lives until its answer or its timeout.
 *
 * If a probe does reach the remote (a remote closer than ttl hops), a
 * RoCE NIC drops it as malformed (its payload has no valid ICRC); a host
 * without RoCE on 4791 answers port unreachable.
 */
#ifndef TITAD_PROBE_H
#define TITAD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/ctl.h"

#define TITA_ROCE_UDP_PORT 4791

struct tita_prober_conf {
	uint32_t ttl; /* hops to the spines: 1..32 */
	uint64_t timeout_ns; /* how long a probe waits for its answer */
	uint32_t max_out; /* probes in flight at once (sockets held) */
	int tos; /* IP TOS / traffic class of the probes; -1: the kernel's */
};

void tita_prober_conf_defaults(struct tita_prober_conf *conf);

enum tita_probe_outcome {
	/* A router answered time exceeded: the probe went as far as ttl. */
	TITA_PROBE_EXPIRED = 1,
	/* Destination unreachable: from the remote itself (port
	 * unreachable: it is closer than ttl hops), or from a router (no
	 * route on). */
	TITA_PROBE_UNREACHABLE,
	/* No answer within the timeout. */
	TITA_PROBE_LOST,
};

struct tita_probe_answer {
	struct tita_probe probe;
	enum tita_probe_outcome outcome;
	struct tita_addr offender; /* who answered (not for LOST) */
	uint8_t icmp_type, icmp_code;
	uint64_t rtt_ns; /* from the send to when the answer was read */
};

struct tita_prober;

/* NULL with errno (EINVAL: a bad conf; ENOMEM; what epoll_create1 sets). */
struct tita_prober *tita_prober_new(const struct tita_prober_conf *conf);
struct tita_prober *tita_prober_free(struct tita_prober *p);

/* Readable when an answer may be in: titad watches it and calls
 * tita_prober_poll(). */
int tita_prober_fd(const struct tita_prober *p);

/*
 * Send a probe, from the interface ifindex when not 0 (SO_BINDTODEVICE;
 * else the route decides, as for the pair's packets). A probe for the same
 * (local, remote, source port) as one still out is sent again on its
 * socket, and answered once. 0; -EADDRINUSE (another socket holds the
 * port); -EADDRNOTAVAIL (local is not this host's); -EBUSY (max_out
 * probes out); -EINVAL (sport 0); another -errno of socket(), bind(),
 * connect() or send().
 */
int tita_prober_send(struct tita_prober *p, const struct tita_probe *probe, int ifindex,
		     uint64_t now_ns);

/*
 * Answers that came in, and probes whose time ran out (LOST): up to max,
 * each once; returns how many were written. Call when the fd is readable,
 * and at tita_prober_next_deadline_ns().
 */
size_t tita_prober_poll(struct tita_prober *p, uint64_t now_ns, struct tita_probe_answer *out,
			size_t max);

/* The earliest timeout of a probe out, or TITA_TIME_NEVER. */
uint64_t tita_prober_next_deadline_ns(const struct tita_prober *p);

struct tita_prober_stats {
	uint32_t out;
	uint64_t sent, resent, expired, unreachable, lost;
	uint64_t port_busy; /* EADDRINUSE */
	uint64_t send_errors; /* any other error of tita_prober_send() */
	uint64_t local_errors; /* an error of the host's own, on the queue */
};

void tita_prober_stats(const struct tita_prober *p, struct tita_prober_stats *ret);

/*
 * Spine numbers learned from the addresses that answer, for a leaf whose
 * spines the topology gives no addresses. Every spine answers the probes
 * of a leaf's members from the same address (its link towards that leaf),
 * so the members that sort the n_spines addresses they heard number the
 * spines alike; and across leaves too, wherever each spine's link
 * addresses come from a block of its own in the spines' order (the usual
 * point-to-point numbering). Until all n_spines addresses have answered,
 * nothing is numbered: an early number would change.
 */
struct tita_spine_learner;

struct tita_spine_learner *tita_spine_learner_new(uint32_t n_spines);
struct tita_spine_learner *tita_spine_learner_free(struct tita_spine_learner *l);

/*
 * The spine that offender is, learning it. 0 and *ret_spine; -EAGAIN (not
 * every spine has answered yet); -ENOSPC (more addresses answered than
 * the leaf has spines: the topology's count is wrong, or a spine answers
 * from several addresses; give the spines' addresses in the topology).
 */
int tita_spine_learner_lookup(struct tita_spine_learner *l, const struct tita_addr *offender,
			      uint16_t *ret_spine);

/* The addresses heard so far, sorted (the spine numbers once complete). */
size_t tita_spine_learner_addrs(const struct tita_spine_learner *l, struct tita_addr *out,
				size_t max);

#endif /* TITAD_PROBE_H */
