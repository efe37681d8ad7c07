// SPDX-License-Identifier: MIT
/*
 * tita-roce: the test bed's RoCEv2 traffic generator and sink.
 *
 *   tita-roce send [OPTIONS] FLOW...   RDMA WRITEs as UDP/4791 packets with
 *                                      BTHs, per-flow PSNs and sizes, paced
 *                                      at the line rate (a NIC's port) or a
 *                                      per-flow rate; optionally reacting to
 *                                      CNPs like DCQCN's reaction point
 *   tita-roce sink [OPTIONS]           counts what arrives per flow, answers
 *                                      CE marks with CNPs like a NIC's
 *                                      notification point, reports goodput,
 *                                      loss from PSN gaps and completion time
 *   tita-roce probe [OPTIONS] DST      one RoCE-shaped packet with a chosen
 *                                      UDP source port and TTL; reports who
 *                                      answered (ICMP time exceeded from the
 *                                      hop where the TTL ran out)
 *
 * Both report JSON on stdout and can write a time series (CSV) of per-flow
 * rates. The packets are real enough for tita's XDP and tc programs, for
 * tshark's "infiniband" dissector and for the switch's ECN marker; nothing
 * in the bed terminates RC, so there are no ACKs or retransmissions: a
 * dropped packet is a PSN gap at the sink.
 *
 * Paths: each flow sends from its own UDP source port, the ECMP entropy of
 * a RoCE fabric (one socket per port in use). With --agent the sender is
 * also its own QP agent: it registers its flows with titad over the agent
 * protocol (agent/agentproto.h) as QPs with their 5-tuples, reports their
 * bytes, and obeys SET_RATE (a per-flow rate cap) and SET_SPORT (another
 * source port, that is another path). An RC QP must not reorder, so a flow
 * moves only at the end of a message with nothing in flight: that message's
 * last packet asks the sink for an ACK, the flow sends nothing more until
 * the ACK is back (or --repath-timeout passed, for a lost packet or ACK),
 * then it goes on from the new port.
 *
 * Every loop is bounded: a sender stops after --duration, a sink after
 * --duration, --idle or --flows, both on SIGINT/SIGTERM.
 */
#define _GNU_SOURCE /* recvmmsg, ppoll */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h>

#include "agentproto.h"
#include "dcqcn.h"
#include "msgstat.h"
#include "roce.h"
#include "si.h"

#define MAX_FLOWS 256
#define MAX_MTU 4096
#define MIN_PAYLOAD ((uint32_t)sizeof(struct gen_meta))
/* Every run ends: an hour is far beyond any test or demo. */
#define MAX_DURATION_NS (3600ull * 1000000000ull)
/* Message mode keeps every completion time: a bounded number. */
#define MAX_MESSAGES 100000
#define NSEC_PER_SEC 1000000000ull
/* A sender that fell behind (descheduled, blocked on its socket) may send
 * this many packets' worth of credit at once, like a NIC's burst. */
#define PACING_SLACK_PACKETS 2
#define RECV_BATCH 64
/* How often a busy sender looks for CNPs: well inside the sink's CNP
 * interval and DCQCN's decrease period (50 us). */
#define CNP_POLL_NS 20000
/* How often a busy sender looks at its agent link: titad's commands are
 * rare, and a millisecond late is within one control interval. */
#define AGENT_POLL_NS 1000000ull
/* What a flow says it is to titad (enum ibv_qp_type, enum ibv_qp_state). */
#define GEN_QPT_RC 2
#define GEN_QPS_RTS 3

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = t_ns / NSEC_PER_SEC, .tv_nsec = t_ns % NSEC_PER_SEC };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---- argument parsing ----------------------------------------------------- */

/* A duration: seconds, or a number with ns, us, ms or s. */
static int parse_duration(const char *s, uint64_t *ret_ns)
{
	char *end;
	double v, mult = 1e9;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ns"))
		mult = 1;
	else if (!strcmp(end, "us"))
		mult = 1e3;
	else if (!strcmp(end, "ms"))
		mult = 1e6;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	v *= mult;
	if (v > (double)MAX_DURATION_NS)
		return -ERANGE;
	*ret_ns = (uint64_t)v;
	return 0;
}

/* A bad command line: what is wrong with which argument, then exit 2. */
__attribute__((noreturn)) static void die_usage(const char *what, const char *arg)
{
	fprintf(stderr, "tita-roce: %s: '%s' (see tita-roce --help)\n", what, arg);
	exit(2);
}

/* A UDP socket bound to port (shared with other processes of the host
 * that bind it too): the fd, or -errno. */
static int socket_new(uint16_t port, int tos, int buf_bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd, e;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		close(fd);
		return -e;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)))
		perror("tita-roce: IP_TOS");
	/* Root may exceed net.core.{r,w}mem_max; others get what they get. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf_bytes, sizeof(buf_bytes)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf_bytes, sizeof(buf_bytes));
	return fd;
}

static int open_socket(uint16_t port, int tos, int buf_bytes)
{
	int fd = socket_new(port, tos, buf_bytes);

	if (fd < 0) {
		fprintf(stderr, "tita-roce: UDP port %u: %s\n", port, strerror(-fd));
		exit(1);
	}
	return fd;
}

/* A sender's socket: a deep send queue, and local drops reported. */
static void sender_socket_setup(int fd)
{
	/* A QP has many WRs posted ahead: a deep send queue. The socket
	 * default (about 44 packets in flight here) lets the pacer's queue
	 * run dry whenever the generator is not scheduled for a few ms on a
	 * busy machine, which reads as a demand dip. The kernel doubles what
	 * is asked: 2 MiB of skbs, about 450 packets, well within the
	 * pacer's 1000-packet class queue (more would overflow it and read
	 * as pacer drops). */
	int snd_bytes = 1 << 20, one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd_bytes, sizeof(snd_bytes)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd_bytes, sizeof(snd_bytes));
	/* Report a drop by the local qdisc (ENOBUFS) instead of losing the
	 * packet silently, so that a PSN gap always means the network
	 * dropped it. */
	setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
}

/* ---- sender ---------------------------------------------------------------- */

struct flow {
	struct sockaddr_in dst;
	struct in_addr src; /* where the route to dst sends from (for titad) */
	uint32_t dst_qp, src_qp;
	uint64_t bytes_total; /* payload; 0: until the run ends */
	uint32_t msg_bytes; /* each RDMA WRITE's payload */
	double cap_bps; /* per-flow rate cap (wire bytes); 0: line rate */
	double agent_bps; /* titad's cap through the agent link; 0: none */
	/* A cap that waits for the flow's unscheduled bytes (SET_RATE 1.3):
	 * unpaced until that many more payload bytes are sent, as a NIC that
	 * sends what was posted, then agent_bps = unsched_after_bps. */
	uint64_t unsched_left;
	double unsched_after_bps;
	uint32_t unsched_seq;
	uint16_t sport; /* UDP source port: the flow's path */
	int sock; /* its socket, an index in sender.socks */
	/* Progress. */
	uint32_t psn;
	uint64_t bytes_sent;
	uint64_t msg_off; /* offset in the current message */
	uint64_t completed; /* payload of the messages whose last packet left */
	uint64_t start_ns, done_ns;
	uint64_t last_send_ns; /* pacing: when the last packet left... */
	uint64_t last_bits; /* ...and its size on the wire */
	bool done;
	struct dcqcn_rp rp;
	/* A move to another source port: it waits for the end of a message
	 * (repath), then for that message's ACK (draining). */
	bool repath, repath_agent; /* repath_agent: answer over the agent link */
	uint16_t repath_sport;
	uint32_t repath_seq;
	uint64_t repath_deadline_ns; /* for the end of a message */
	bool draining;
	uint32_t drain_psn;
	uint64_t drain_deadline_ns;
	/* Message mode (--messages): one message at a time, each waiting for
	 * the ACK of its last packet, then --gap before the next. */
	uint64_t msg_first_ns; /* the current message's first packet left */
	uint64_t next_msg_ns; /* the next message may start */
	uint32_t msgs_done, msgs_lost; /* lost: no ACK within the timeout */
	uint64_t *completions_ns; /* first packet sent to ACK back, each acked one */
	/* The agent link: QP_ADD must be (re)sent; counters last reported. */
	bool agent_dirty;
	uint64_t agent_posted, agent_completed;
	/* Statistics. */
	uint64_t packets, cnps, repaths, ack_timeouts;
	uint64_t series_bytes; /* since the last series line */
};

/* A socket bound to a source port that flows send from. */
struct port_sock {
	uint16_t port;
	int fd;
	uint32_t refs;
};

struct agent_link {
	const char *path; /* NULL: no agent link */
	int fd; /* -1: not connected */
	uint64_t stats_ns, reconnect_ns, next_try_ns, next_stats_ns, next_poll_ns;
	/* Statistics. */
	uint64_t connects, commands, errors;
};

struct sender {
	int fd; /* UDP 4791: CNPs and ACKs come back here */
	struct port_sock socks[MAX_FLOWS + 1]; /* [0] is fd's */
	uint32_t n_socks;
	struct agent_link agent;
	uint64_t repath_timeout_ns;
	uint32_t mtu;
	uint32_t messages; /* message mode: this many a flow; 0: streaming */
	uint64_t gap_ns; /* message mode: from an ACK to the next message */
	double line_bps;
	bool dcqcn;
	struct dcqcn_params dp;
	uint64_t duration_ns;
	FILE *series;
	uint64_t series_ns;
	uint32_t n_flows;
	struct flow flows[MAX_FLOWS];
	/* Aggregate pacing at the line rate, as the NIC's port would. */
	uint64_t port_last_ns, port_last_bits;
	/* Statistics. */
	uint64_t eagain, enobufs, send_errors, cnps_unmatched, not_cnp, acks;
};

/* The UDP source port of a QP pair as Linux's RoCE drivers derive it
 * (rdma_calc_flow_label, rdma_flow_label_to_udp_sport): a 20-bit flow
 * label from the QP numbers, folded into 49152..65535. */
static uint16_t default_sport(uint32_t lqpn, uint32_t rqpn)
{
	uint64_t v = (uint64_t)lqpn * rqpn;
	uint32_t fl, lo;

	v ^= v >> 20;
	v ^= v >> 40;
	fl = (uint32_t)v & 0xfffff;
	lo = (fl & 0x3fff) ^ ((fl & 0xfc000) >> 14);
	return (uint16_t)(lo | 0xc000);
}

/* "DST[,qp=N][,bytes=SIZE][,rate=RATE][,sport=PORT]" */
static void parse_flow(struct sender *s, const char *spec)
{
	char buf[256], *save = NULL, *tok;
	struct flow *f;
	double v;

	if (s->n_flows == MAX_FLOWS)
		die_usage("too many flows, the most is", "256");
	if (strlen(spec) >= sizeof(buf))
		die_usage("flow is too long", spec);
	snprintf(buf, sizeof(buf), "%s", spec);
	f = &s->flows[s->n_flows];
	memset(f, 0, sizeof(*f));
	f->dst.sin_family = AF_INET;
	f->dst.sin_port = htons(GEN_ROCE_PORT);
	f->dst_qp = 0x100 + s->n_flows;
	tok = strtok_r(buf, ",", &save);
	if (!tok || inet_pton(AF_INET, tok, &f->dst.sin_addr) != 1)
		die_usage("a flow starts with an IPv4 destination", spec);
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');
		char *end;

		if (!eq)
			die_usage("flow option is not key=value", tok);
		*eq++ = 0;
		if (!strcmp(tok, "qp")) {
			unsigned long q;

			errno = 0;
			q = strtoul(eq, &end, 0);
			if (errno || *end || end == eq || q > GEN_QPN_MASK || q < 2)
				die_usage("qp must be 2..0xffffff", eq);
			f->dst_qp = (uint32_t)q;
		} else if (!strcmp(tok, "bytes")) {
			if (parse_si(eq, &v) || v > 1e15)
				die_usage("bytes is not a size", eq);
			f->bytes_total = (uint64_t)v;
		} else if (!strcmp(tok, "rate")) {
			if (parse_si(eq, &v) || v < 1e3)
				die_usage("rate must be at least 1kbit", eq);
			f->cap_bps = v;
		} else if (!strcmp(tok, "sport")) {
			unsigned long p;

			errno = 0;
			p = strtoul(eq, &end, 10);
			if (errno || *end || end == eq || p < 1 || p > 65535)
				die_usage("sport must be 1..65535", eq);
			f->sport = (uint16_t)p;
		} else {
			die_usage("unknown flow option", tok);
		}
	}
	/* The local QP number: distinct per flow, and recognisable. */
	f->src_qp = 0x10000 + s->n_flows;
	if (!f->sport)
		f->sport = default_sport(f->src_qp, f->dst_qp);
	s->n_flows++;
}

/* The payload bytes of the next packet of f, and its opcode. */
static uint32_t next_packet(const struct sender *s, const struct flow *f, uint8_t *ret_op)
{
	uint64_t left_msg = f->msg_bytes - f->msg_off;
	uint32_t len = s->mtu;
	bool first = f->msg_off == 0, last;

	if (f->bytes_total && f->bytes_total - f->bytes_sent < left_msg)
		left_msg = f->bytes_total - f->bytes_sent;
	if (left_msg < len)
		len = (uint32_t)left_msg;
	/* The bookkeeping must fit: a flow never ends in a runt packet. */
	if (len < MIN_PAYLOAD)
		len = MIN_PAYLOAD;
	last = left_msg <= len;
	if (first)
		*ret_op = last ? GEN_OP_WRITE_ONLY : GEN_OP_WRITE_FIRST;
	else
		*ret_op = last ? GEN_OP_WRITE_LAST : GEN_OP_WRITE_MIDDLE;
	return len;
}

static double flow_rate_bps(const struct sender *s, const struct flow *f)
{
	double r = f->cap_bps > 0 && f->cap_bps < s->line_bps ? f->cap_bps : s->line_bps;

	if (f->agent_bps > 0 && f->agent_bps < r)
		r = f->agent_bps;
	if (s->dcqcn) {
		double rc = dcqcn_rate_bps(&f->rp, &s->dp);

		if (rc < r)
			r = rc;
	}
	return r;
}

/* When f may send next: its last packet's bits at its current rate. */
static uint64_t flow_due_ns(const struct sender *s, const struct flow *f)
{
	uint64_t due = f->packets ? f->last_send_ns + (uint64_t)((double)f->last_bits * 1e9 /
								 flow_rate_bps(s, f)) :
				    f->start_ns;

	return due > f->next_msg_ns ? due : f->next_msg_ns;
}

static void drain_errqueue(int fd)
{
	uint8_t buf[256], ctl[256];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};

	for (int i = 0; i < 64; i++) {
		mh.msg_controllen = sizeof(ctl);
		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
	}
}

static struct flow *flow_by_src_qp(struct sender *s, uint32_t qp)
{
	uint32_t i = qp - 0x10000;

	return i < s->n_flows ? &s->flows[i] : NULL;
}

static void drain_done(struct sender *s, struct flow *f, bool acked, uint64_t now);

static void receive_cnps(struct sender *s, uint64_t now)
{
	uint8_t bufs[RECV_BATCH][64];
	struct iovec iov[RECV_BATCH];
	struct mmsghdr mm[RECV_BATCH];
	int n;

	for (int round = 0; round < 16; round++) {
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(s->fd, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			/* A pending ICMP error is reported here once; the queue
			 * holds its details. */
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				drain_errqueue(s->fd);
			return;
		}
		for (int i = 0; i < n; i++) {
			const uint8_t *b = bufs[i];
			struct flow *f;

			if (mm[i].msg_len >= GEN_BTH_BYTES + GEN_AETH_BYTES && b[0] == GEN_OP_ACK) {
				/* The ACK a moving flow waits for. */
				f = flow_by_src_qp(s, get_be32(b + 4) & GEN_QPN_MASK);
				s->acks++;
				if (f && f->draining &&
				    (get_be32(b + 8) & GEN_PSN_MASK) == f->drain_psn)
					drain_done(s, f, true, now);
				continue;
			}
			if (mm[i].msg_len < GEN_BTH_BYTES || b[0] != GEN_OP_CNP) {
				s->not_cnp++;
				continue;
			}
			f = flow_by_src_qp(s, get_be32(b + 4) & GEN_QPN_MASK);
			if (!f) {
				s->cnps_unmatched++;
				continue;
			}
			f->cnps++;
			if (s->dcqcn)
				dcqcn_on_cnp(&f->rp, &s->dp, now);
		}
		if (n < RECV_BATCH)
			return;
	}
}

/* Build f's next packet in buf; returns its UDP payload length. *ret_ack:
 * it asks for an ACK (the last packet of a message, and f waits to move). */
static size_t build_packet(const struct sender *s, const struct flow *f, uint8_t *buf, uint64_t now,
			   uint32_t *ret_payload, bool *ret_ack)
{
	uint8_t op, *p = buf;
	uint32_t len = next_packet(s, f, &op);
	bool reth = op == GEN_OP_WRITE_FIRST || op == GEN_OP_WRITE_ONLY;
	bool last_pkt = op == GEN_OP_WRITE_LAST || op == GEN_OP_WRITE_ONLY;
	bool flow_end = f->bytes_total && f->bytes_sent + len >= f->bytes_total;
	/* A message's end is acknowledged when the flow waits to move, and
	 * always in message mode: its completion is the ACK's arrival. */
	bool ack = last_pkt && (f->repath || s->messages);
	struct gen_meta m;

	memset(p, 0, GEN_BTH_BYTES);
	p[0] = op;
	put_be16(p + 2, GEN_PKEY_DEFAULT);
	put_be32(p + 4, f->dst_qp & GEN_QPN_MASK);
	put_be32(p + 8, f->psn & GEN_PSN_MASK);
	if (last_pkt)
		p[8] |= GEN_BTH_ACKREQ;
	p += GEN_BTH_BYTES;
	if (reth) {
		uint64_t msg_len = f->msg_bytes;

		if (f->bytes_total && f->bytes_total - f->bytes_sent < msg_len)
			msg_len = f->bytes_total - f->bytes_sent;
		put_be64(p, 0x7f0000000000ull + f->bytes_sent); /* virtual address */
		put_be32(p + 8, 0x1234); /* R_Key */
		put_be32(p + 12, (uint32_t)msg_len);
		p += GEN_RETH_BYTES;
	}
	m = (struct gen_meta){
		.magic = htonl(GEN_META_MAGIC),
		.src_qp = htonl(f->src_qp),
		.flags = htonl((flow_end ? GEN_META_F_LAST : 0) | (ack ? GEN_META_F_ACK : 0)),
	};
	put_be64((uint8_t *)&m.flow_start_ns, f->start_ns);
	put_be64((uint8_t *)&m.flow_bytes, f->bytes_total);
	put_be64((uint8_t *)&m.send_ns, now);
	memcpy(p, &m, sizeof(m));
	memset(p + sizeof(m), 0, len - sizeof(m));
	p += len;
	memset(p, 0, GEN_ICRC_BYTES);
	p += GEN_ICRC_BYTES;
	*ret_payload = len;
	*ret_ack = ack;
	return (size_t)(p - buf);
}

/*
 * Pacing: a packet occupies a slot of bits/rate after the previous one's;
 * a sender that fell behind (descheduled, blocked on its socket) keeps at
 * most PACING_SLACK_PACKETS of credit instead of bursting to catch up.
 */
static void pace(uint64_t *slot_ns, uint64_t *slot_bits, double rate_bps, uint64_t bits,
		 uint64_t now)
{
	uint64_t slot = *slot_bits ? *slot_ns + (uint64_t)((double)*slot_bits * 1e9 / rate_bps) :
				     now;
	uint64_t slack_ns = (uint64_t)((double)PACING_SLACK_PACKETS * bits * 1e9 / rate_bps);

	if (slot + slack_ns < now)
		slot = now - slack_ns;
	*slot_ns = slot;
	*slot_bits = bits;
}

static bool agent_send(struct sender *s, const void *m, size_t len);

/* Account for a packet that left; ack: it asked for an ACK. */
static void sent(struct sender *s, struct flow *f, uint32_t payload, size_t udp_len, bool ack,
		 uint64_t now)
{
	uint64_t bits = (uint64_t)(udp_len + GEN_L2L4_BYTES) * 8;

	if (!f->msg_off)
		f->msg_first_ns = now;
	pace(&f->last_send_ns, &f->last_bits, flow_rate_bps(s, f), bits, now);
	pace(&s->port_last_ns, &s->port_last_bits, s->line_bps, bits, now);
	if (ack) {
		/* Nothing more until this packet is acknowledged: then the
		 * flow moves with nothing of the old path in flight. */
		f->draining = true;
		f->drain_psn = f->psn;
		f->drain_deadline_ns = now + s->repath_timeout_ns;
	}
	if (f->unsched_left) {
		if (payload < f->unsched_left) {
			f->unsched_left -= payload;
		} else {
			struct tita_agent_rate_result r;

			f->unsched_left = 0;
			f->agent_bps = f->unsched_after_bps;
			memset(&r, 0, sizeof(r));
			tita_agent_hdr_init(&r.hdr, TITA_AGENT_RATE_RESULT, sizeof(r));
			r.qp_id = (uint64_t)(f - s->flows) + 1;
			r.rate_kbps = (uint64_t)(f->unsched_after_bps / 1000.0);
			r.seq = f->unsched_seq;
			r.mechanism = TITA_AGENT_MECH_RATE_LIMIT;
			agent_send(s, &r, sizeof(r));
		}
	}
	f->packets++;
	f->psn = (f->psn + 1) & GEN_PSN_MASK;
	f->bytes_sent += payload;
	f->series_bytes += payload;
	f->msg_off += payload;
	if (f->msg_off >= f->msg_bytes || (f->bytes_total && f->bytes_sent >= f->bytes_total)) {
		f->msg_off = 0;
		f->completed = f->bytes_sent;
	}
	/* In message mode a flow is done when its last message is
	 * acknowledged (message_done). */
	if (f->bytes_total && f->bytes_sent >= f->bytes_total && !s->messages) {
		f->done = true;
		f->done_ns = now;
	}
	if (s->dcqcn)
		dcqcn_on_sent(&f->rp, &s->dp, bits / 8);
}

/* ---- source ports ----------------------------------------------------------- */

/* The socket of port, shared by the flows that send from it: its index in
 * s->socks, or -errno. */
static int sock_get(struct sender *s, uint16_t port)
{
	uint32_t free_slot = s->n_socks;
	int fd;

	for (uint32_t i = 0; i < s->n_socks; i++) {
		if (s->socks[i].refs && s->socks[i].port == port) {
			s->socks[i].refs++;
			return (int)i;
		}
		if (!s->socks[i].refs && free_slot == s->n_socks)
			free_slot = i;
	}
	if (free_slot == MAX_FLOWS + 1)
		return -EMFILE;
	fd = socket_new(port, GEN_TOS_DATA, 1 << 16);
	if (fd < 0)
		return fd;
	sender_socket_setup(fd);
	s->socks[free_slot] = (struct port_sock){ .port = port, .fd = fd, .refs = 1 };
	if (free_slot == s->n_socks)
		s->n_socks++;
	return (int)free_slot;
}

static void sock_put(struct sender *s, int i)
{
	/* [0] also receives CNPs: it stays. */
	if (--s->socks[i].refs == 0 && i != 0) {
		close(s->socks[i].fd);
		s->socks[i].fd = -1;
	}
}

/* ---- the agent link (titad's QP agent protocol) ------------------------------ */

static void agent_lost(struct sender *s);

static bool agent_send(struct sender *s, const void *m, size_t len)
{
	if (s->agent.fd < 0)
		return false;
	if (send(s->agent.fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
		return true;
	/* A full socket loses this message (statistics come again); a
	 * broken one, the link. */
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		agent_lost(s);
	return false;
}

/* What titad sees of flow f as a QP: its 5-tuple (::ffff:a.b.c.d GIDs and
 * the source port; the destination port is 4791), its counters. The flow
 * "posts" each message when it starts it and the next one ahead, as an
 * application keeps its send queue fed, and completes a message when its
 * last packet has left (nothing acknowledges the others). */
static uint64_t flow_posted(const struct sender *s, const struct flow *f)
{
	uint64_t posted = f->completed + f->msg_bytes + (f->msg_off ? f->msg_bytes : 0);

	/* One message at a time: posted when it starts, nothing ahead. */
	if (s->messages)
		posted = f->completed + (f->msg_off ? f->msg_bytes : 0);

	if (f->done || (f->bytes_total && posted > f->bytes_total))
		posted = f->done ? f->bytes_sent : f->bytes_total;
	return posted;
}

static void gid_v4(uint8_t gid[16], struct in_addr a)
{
	memset(gid, 0, 16);
	gid[10] = gid[11] = 0xff;
	memcpy(gid + 12, &a.s_addr, 4);
}

static void agent_qp_add(struct sender *s, struct flow *f)
{
	struct tita_agent_qp m;

	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_ADD, sizeof(m));
	m.qp_id = (uint64_t)(f - s->flows) + 1;
	m.qpn = f->src_qp;
	m.dest_qpn = f->dst_qp;
	m.qp_type = GEN_QPT_RC;
	m.state = GEN_QPS_RTS;
	m.port_num = 1;
	m.provider = TITA_AGENT_PROV_GENERIC;
	m.flags = TITA_AGENT_QP_HAS_REMOTE_GID | TITA_AGENT_QP_HAS_LOCAL_GID;
	m.caps = TITA_AGENT_CAP_RATE_LIMIT | TITA_AGENT_CAP_UDP_SPORT | TITA_AGENT_CAP_UNSCHED;
	snprintf(m.dev_name, sizeof(m.dev_name), "tita-roce");
	gid_v4(m.remote_gid, f->dst.sin_addr);
	gid_v4(m.local_gid, f->src);
	m.bytes_posted = f->agent_posted = flow_posted(s, f);
	m.bytes_completed = f->agent_completed = f->completed;
	m.udp_sport = f->sport;
	if (agent_send(s, &m, sizeof(m)))
		f->agent_dirty = false;
}

static void agent_stats(struct sender *s)
{
	union {
		struct tita_agent_stats st;
		char buf[TITA_AGENT_MSG_MAX];
	} u;
	size_t len;

	memset(&u.st, 0, sizeof(u.st));
	for (uint32_t i = 0; i < s->n_flows && u.st.n < TITA_AGENT_STATS_MAX; i++) {
		struct flow *f = &s->flows[i];
		uint64_t posted = flow_posted(s, f);

		if (posted == f->agent_posted && f->completed == f->agent_completed)
			continue;
		u.st.qps[u.st.n++] = (struct tita_agent_qp_stat){
			.qp_id = i + 1,
			.bytes_posted = posted,
			.bytes_completed = f->completed,
		};
		f->agent_posted = posted;
		f->agent_completed = f->completed;
	}
	if (!u.st.n)
		return;
	len = sizeof(u.st) + u.st.n * sizeof(u.st.qps[0]);
	tita_agent_hdr_init(&u.st.hdr, TITA_AGENT_STATS, len);
	agent_send(s, &u, len);
}

static void sport_result(struct sender *s, uint64_t qp_id, uint32_t seq, uint16_t sport, int err)
{
	struct tita_agent_sport_result r;

	tita_agent_sport_result_init(&r, qp_id, seq, sport, err);
	agent_send(s, &r, sizeof(r));
}

/* Move f to port now: 0, or -errno (its socket). */
static int flow_move(struct sender *s, struct flow *f, uint16_t port)
{
	int k = sock_get(s, port);

	if (k < 0)
		return k;
	sock_put(s, f->sock);
	f->sock = k;
	f->sport = port;
	f->repaths++;
	f->agent_dirty = true;
	return 0;
}

/* The change f waited for is over: moved (err 0) or not. */
static void repath_end(struct sender *s, struct flow *f, int err)
{
	if (!f->repath)
		return;
	f->repath = false;
	if (f->repath_agent)
		sport_result(s, (uint64_t)(f - s->flows) + 1, f->repath_seq, f->repath_sport, err);
}

/* Message mode: f's message is over, acknowledged or not (its ACK overdue:
 * the message or the ACK was lost, and no completion is recorded). */
static void message_done(struct sender *s, struct flow *f, bool acked, uint64_t now)
{
	if (acked)
		f->completions_ns[f->msgs_done - f->msgs_lost] = now - f->msg_first_ns;
	else
		f->msgs_lost++;
	f->msgs_done++;
	f->next_msg_ns = now + s->gap_ns;
	if (f->msgs_done >= s->messages) {
		f->done = true;
		f->done_ns = now;
	}
}

/* f's message is acknowledged (or its ACK is overdue: whatever was in
 * flight has arrived or is lost by now): a move that waited for it goes. */
static void drain_done(struct sender *s, struct flow *f, bool acked, uint64_t now)
{
	f->draining = false;
	if (!acked)
		f->ack_timeouts++;
	if (s->messages)
		message_done(s, f, acked, now);
	if (f->repath)
		repath_end(s, f, flow_move(s, f, f->repath_sport));
}

/* SET_SPORT: see agent/agentproto.h. */
static void agent_set_sport(struct sender *s, const struct tita_agent_set_sport *m, uint64_t now)
{
	struct flow *f = m->qp_id >= 1 && m->qp_id <= s->n_flows ? &s->flows[m->qp_id - 1] : NULL;
	int err;

	if (!f) {
		err = -ENOENT;
	} else if (!m->udp_sport) {
		err = -EINVAL;
	} else {
		/* One change waits at a time: the newer wins. */
		repath_end(s, f, -ECANCELED);
		if (m->udp_sport == f->sport) {
			err = 0;
		} else if (!f->draining && (!f->packets || f->done)) {
			err = flow_move(s, f, m->udp_sport);
		} else if (!m->max_wait_ms) {
			err = -EBUSY;
		} else {
			f->repath = f->repath_agent = true;
			f->repath_sport = m->udp_sport;
			f->repath_seq = m->seq;
			f->repath_deadline_ns = now + (uint64_t)m->max_wait_ms * 1000000;
			err = -EINPROGRESS;
		}
	}
	sport_result(s, m->qp_id, m->seq, m->udp_sport, err);
}

/* len: as the command came (a 1.2 command has no unscheduled bytes). */
static void agent_set_rate(struct sender *s, const struct tita_agent_set_rate *m, size_t len)
{
	struct flow *f = m->qp_id >= 1 && m->qp_id <= s->n_flows ? &s->flows[m->qp_id - 1] : NULL;
	uint64_t unsched = len >= sizeof(*m) && m->rate_kbps ? m->unsched_bytes : 0;
	struct tita_agent_rate_result r;

	memset(&r, 0, sizeof(r));
	tita_agent_hdr_init(&r.hdr, TITA_AGENT_RATE_RESULT, sizeof(r));
	r.qp_id = m->qp_id;
	r.rate_kbps = m->rate_kbps;
	r.seq = m->seq;
	if (f) {
		f->agent_bps = unsched ? 0 : (double)m->rate_kbps * 1000.0;
		f->unsched_left = unsched;
		f->unsched_after_bps = (double)m->rate_kbps * 1000.0;
		f->unsched_seq = m->seq;
		r.mechanism = TITA_AGENT_MECH_RATE_LIMIT;
	} else {
		r.err = -ENOENT;
	}
	agent_send(s, &r, sizeof(r));
}

/* titad is gone: nothing stays capped by a rate nobody maintains, and
 * nobody waits for the answer to a move (a flow already waiting for its
 * ACK still moves: it stopped for that). */
static void agent_lost(struct sender *s)
{
	close(s->agent.fd);
	s->agent.fd = -1;
	for (uint32_t i = 0; i < s->n_flows; i++) {
		struct flow *f = &s->flows[i];

		f->agent_bps = 0;
		f->unsched_left = 0;
		if (f->repath && f->repath_agent && !f->draining)
			f->repath = false;
		f->repath_agent = false;
	}
}

static void agent_connect(struct sender *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tita_agent_hello h;
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memcpy(sa.sun_path, s->agent.path, strlen(s->agent.path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return;
	}
	s->agent.fd = fd;
	s->agent.connects++;
	memset(&h, 0, sizeof(h));
	tita_agent_hdr_init(&h.hdr, TITA_AGENT_HELLO, sizeof(h));
	h.pid = (uint32_t)getpid();
	h.max_qps = MAX_FLOWS;
	snprintf(h.comm, sizeof(h.comm), "tita-roce");
	if (!agent_send(s, &h, sizeof(h)))
		return;
	for (uint32_t i = 0; i < s->n_flows && s->agent.fd >= 0; i++)
		s->flows[i].agent_dirty = true;
}

/* Connect, read titad's commands, send what changed. */
static void agent_poll(struct sender *s, uint64_t now)
{
	struct agent_link *a = &s->agent;

	if (!a->path)
		return;
	a->next_poll_ns = now + AGENT_POLL_NS;
	if (a->fd < 0 && now >= a->next_try_ns) {
		a->next_try_ns = now + a->reconnect_ns;
		agent_connect(s);
	}
	for (int i = 0; i < 64 && a->fd >= 0; i++) {
		union {
			struct tita_agent_hdr h;
			struct tita_agent_set_rate rate;
			struct tita_agent_set_sport sport;
			char buf[TITA_AGENT_MSG_MAX];
		} u;
		ssize_t n = recv(a->fd, &u, sizeof(u), MSG_DONTWAIT);
		int type;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			agent_lost(s);
			break;
		}
		type = tita_agent_msg_check(&u, (size_t)n);
		a->commands++;
		if (type == TITA_AGENT_SET_RATE)
			agent_set_rate(s, &u.rate, (size_t)n);
		else if (type == TITA_AGENT_SET_SPORT)
			agent_set_sport(s, &u.sport, now);
		else
			a->errors++;
	}
	for (uint32_t i = 0; i < s->n_flows && a->fd >= 0; i++)
		if (s->flows[i].agent_dirty)
			agent_qp_add(s, &s->flows[i]);
	if (a->fd >= 0 && now >= a->next_stats_ns) {
		agent_stats(s);
		a->next_stats_ns = now + a->stats_ns;
	}
}

/* The run is over: the flows' last bytes, then they go, as QPs destroyed;
 * a move still waiting is cancelled with them. */
static void agent_close(struct sender *s)
{
	if (s->agent.fd < 0)
		return;
	agent_stats(s);
	for (uint32_t i = 0; i < s->n_flows && s->agent.fd >= 0; i++) {
		struct tita_agent_qp_del d;

		repath_end(s, &s->flows[i], -ECANCELED);
		memset(&d, 0, sizeof(d));
		tita_agent_hdr_init(&d.hdr, TITA_AGENT_QP_DEL, sizeof(d));
		d.qp_id = i + 1;
		agent_send(s, &d, sizeof(d));
	}
	if (s->agent.fd >= 0)
		close(s->agent.fd);
	s->agent.fd = -1;
}

static void write_series(struct sender *s, uint64_t now, uint64_t dt_ns)
{
	for (uint32_t i = 0; i < s->n_flows; i++) {
		struct flow *f = &s->flows[i];
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &f->dst.sin_addr, a, sizeof(a));
		fprintf(s->series, "%.6f,%u,%s,%u,%.0f,%.0f\n", (double)now / 1e9, i, a, f->dst_qp,
			(double)f->series_bytes * 8e9 / (double)dt_ns, flow_rate_bps(s, f));
		f->series_bytes = 0;
	}
}

/* Message mode's figures, as JSON members after a comma: how many messages
 * were acknowledged and lost, their completion times' quantiles
 * (nearest-rank, microseconds), and, with each, every completion in the
 * order the messages went. */
static void print_messages(const uint64_t *completions_ns, size_t n, uint64_t lost,
			   uint32_t msg_bytes, bool each)
{
	uint64_t *sorted = calloc(n + 1, sizeof(*sorted));
	struct msgstat st;

	if (!sorted) {
		fprintf(stderr, "tita-roce: out of memory\n");
		exit(1);
	}
	msgstat_summarize(completions_ns, n, sorted, &st);
	free(sorted);
	printf(",\"messages\":%zu,\"messages_lost\":%" PRIu64, n, lost);
	if (msg_bytes)
		printf(",\"message_bytes\":%u", msg_bytes);
	printf(",\"completion_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f"
	       ",\"max\":%.1f,\"mean\":%.1f}",
	       (double)st.min_ns / 1e3, (double)st.p50_ns / 1e3, (double)st.p90_ns / 1e3,
	       (double)st.p99_ns / 1e3, (double)st.max_ns / 1e3, st.mean_ns / 1e3);
	if (!each)
		return;
	printf(",\"completions_us\":[");
	for (size_t i = 0; i < n; i++)
		printf("%s%.1f", i ? "," : "", (double)completions_ns[i] / 1e3);
	printf("]");
}

static int run_send(struct sender *s)
{
	uint8_t pkt[GEN_BTH_BYTES + GEN_RETH_BYTES + MAX_MTU + GEN_ICRC_BYTES];
	uint64_t t0 = mono_ns(), end = t0 + s->duration_ns, next_series = t0 + s->series_ns;
	uint64_t last_series = t0, last_rx = 0;

	for (uint32_t i = 0; i < s->n_flows; i++) {
		struct dcqcn_params p = s->dp;

		s->flows[i].start_ns = t0;
		if (s->flows[i].cap_bps > 0 && s->flows[i].cap_bps < p.max_bps)
			p.max_bps = s->flows[i].cap_bps;
		dcqcn_init(&s->flows[i].rp, &p);
	}
	agent_poll(s, t0);

	while (!stop) {
		uint64_t now = mono_ns(), wake, port_due;
		struct flow *best = NULL;
		uint64_t best_due = UINT64_MAX;
		uint32_t active = 0;

		if (now >= end)
			break;
		if (s->agent.path && now >= s->agent.next_poll_ns)
			agent_poll(s, now);
		/* A sender that never sleeps looks for CNPs every so often, not
		 * before every packet: each look is a system call. */
		if (now - last_rx >= CNP_POLL_NS) {
			receive_cnps(s, now);
			last_rx = now;
		}
		if (s->series && now >= next_series) {
			write_series(s, now, now - last_series);
			last_series = now;
			next_series += s->series_ns;
			if (next_series <= now)
				next_series = now + s->series_ns;
		}

		wake = end < next_series || !s->series ? end : next_series;
		if (s->agent.path && s->agent.next_poll_ns < wake)
			wake = s->agent.next_poll_ns;
		for (uint32_t i = 0; i < s->n_flows; i++) {
			struct flow *f = &s->flows[i];
			uint64_t due;

			/* A move waiting for its message's end or its ACK. */
			if (f->draining && now >= f->drain_deadline_ns)
				drain_done(s, f, false, now);
			if (f->repath && !f->draining && now >= f->repath_deadline_ns)
				repath_end(s, f, -ETIMEDOUT);
			if (f->draining && f->drain_deadline_ns < wake)
				wake = f->drain_deadline_ns;
			if (f->repath && !f->draining && f->repath_deadline_ns < wake)
				wake = f->repath_deadline_ns;
			if (!f->done)
				active++;
			if (f->done || f->draining)
				continue;
			if (s->dcqcn) {
				dcqcn_advance(&f->rp, &s->dp, now);
				if (dcqcn_next_ns(&f->rp) < wake)
					wake = dcqcn_next_ns(&f->rp);
			}
			due = flow_due_ns(s, f);
			if (due < best_due) {
				best_due = due;
				best = f;
			}
		}
		if (!active)
			break;
		port_due = s->port_last_bits ?
				   s->port_last_ns + (uint64_t)((double)s->port_last_bits * 1e9 /
								s->line_bps) :
				   now;
		if (best && best_due < port_due)
			best_due = port_due;

		if (best && best_due <= now) {
			int fd = s->socks[best->sock].fd;
			uint32_t payload;
			bool ack;
			size_t len = build_packet(s, best, pkt, now, &payload, &ack);
			ssize_t r = sendto(fd, pkt, len, 0, (struct sockaddr *)&best->dst,
					   sizeof(best->dst));

			if (r == (ssize_t)len) {
				sent(s, best, payload, len, ack, now);
				continue;
			}
			/* Not sent: the same packet goes again, as a QP whose
			 * send queue is full waits rather than skips a PSN. */
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = { fd, POLLOUT, 0 };

				s->eagain++;
				poll(&pfd, 1, 1);
			} else if (errno == ENOBUFS) {
				/* The local qdisc (the pacer's queue) is full. */
				s->enobufs++;
				sleep_until(now + 100000);
			} else if (errno == EINTR) {
				continue;
			} else {
				/* ICMP errors (no sink yet) surface once each. */
				s->send_errors++;
				drain_errqueue(fd);
				sleep_until(now + 1000000);
			}
			continue;
		}
		if (best && best_due < wake)
			wake = best_due;
		if (wake > now) {
			/* Sleep until the next packet or timer, a CNP or ACK,
			 * or a command from titad. */
			struct pollfd pfd[2] = { { s->fd, POLLIN, 0 }, { s->agent.fd, POLLIN, 0 } };
			uint64_t dt = wake - now;
			struct timespec ts = { dt / NSEC_PER_SEC, dt % NSEC_PER_SEC };

			if (ppoll(pfd, s->agent.fd >= 0 ? 2 : 1, &ts, NULL) > 0) {
				if (pfd[0].revents)
					last_rx = 0;
				if (s->agent.fd >= 0 && pfd[1].revents)
					s->agent.next_poll_ns = 0;
			}
		}
	}
	receive_cnps(s, mono_ns());
	agent_close(s);

	uint64_t t1 = mono_ns();

	printf("{\"duration_s\":%.6f,\"t0_s\":%.6f,\"line_rate_bps\":%.0f,\"cc\":\"%s\""
	       ",\"eagain\":%" PRIu64 ",\"enobufs\":%" PRIu64 ",\"send_errors\":%" PRIu64
	       ",\"cnps_unmatched\":%" PRIu64 ",\"acks\":%" PRIu64 ",\"agent_connects\":%" PRIu64
	       ",\"agent_commands\":%" PRIu64 ",\"agent_errors\":%" PRIu64 ",\"flows\":[",
	       (double)(t1 - t0) / 1e9, (double)t0 / 1e9, s->line_bps, s->dcqcn ? "dcqcn" : "none",
	       s->eagain, s->enobufs, s->send_errors, s->cnps_unmatched, s->acks, s->agent.connects,
	       s->agent.commands, s->agent.errors);
	for (uint32_t i = 0; i < s->n_flows; i++) {
		struct flow *f = &s->flows[i];
		char a[INET_ADDRSTRLEN];
		uint64_t end_ns = f->done ? f->done_ns : t1;

		inet_ntop(AF_INET, &f->dst.sin_addr, a, sizeof(a));
		printf("%s{\"dst\":\"%s\",\"qp\":%u,\"src_qp\":%u,\"bytes\":%" PRIu64
		       ",\"packets\":%" PRIu64 ",\"complete\":%s,\"send_s\":%.6f"
		       ",\"rate_bps\":%.0f,\"cnps\":%" PRIu64 ",\"cuts\":%" PRIu64
		       ",\"min_rate_bps\":%.0f,\"sport\":%u,\"repaths\":%" PRIu64
		       ",\"ack_timeouts\":%" PRIu64,
		       i ? "," : "", a, f->dst_qp, f->src_qp, f->bytes_sent, f->packets,
		       f->done ? "true" : "false", (double)(end_ns - f->start_ns) / 1e9,
		       end_ns > f->start_ns ?
			       (double)f->bytes_sent * 8e9 / (double)(end_ns - f->start_ns) :
			       0.0,
		       f->cnps, f->rp.cuts, s->dcqcn ? f->rp.min_rc_bps : flow_rate_bps(s, f),
		       f->sport, f->repaths, f->ack_timeouts);
		if (s->messages)
			print_messages(f->completions_ns, f->msgs_done - f->msgs_lost, f->msgs_lost,
				       f->msg_bytes, true);
		printf("}");
	}
	printf("]");
	if (s->messages) {
		/* Every flow's messages together. */
		uint64_t *all = calloc((size_t)s->n_flows * s->messages + 1, sizeof(*all));
		size_t n = 0;
		uint64_t lost = 0;

		if (!all) {
			fprintf(stderr, "tita-roce: out of memory\n");
			return 1;
		}
		for (uint32_t i = 0; i < s->n_flows; i++) {
			const struct flow *f = &s->flows[i];

			memcpy(all + n, f->completions_ns,
			       (f->msgs_done - f->msgs_lost) * sizeof(*all));
			n += f->msgs_done - f->msgs_lost;
			lost += f->msgs_lost;
		}
		print_messages(all, n, lost, 0, false);
		free(all);
	}
	printf("}\n");
	return 0;
}

/* ---- sink ------------------------------------------------------------------ */

struct sink_flow {
	bool used;
	uint32_t src; /* IPv4, network order */
	uint32_t qp; /* destination QP in the BTH */
	uint32_t src_qp; /* where CNPs go */
	uint32_t expect_psn;
	uint64_t flow_start_ns, flow_bytes;
	uint64_t first_ns, last_ns, done_ns;
	uint64_t packets, bytes, wire_bytes, lost, late, ce, cnps, acks;
	uint64_t last_cnp_ns;
	uint64_t series_bytes, series_ce, series_packets;
	bool complete;
};

struct sink {
	int fd;
	uint64_t cnp_interval_ns;
	uint64_t duration_ns, idle_ns;
	uint32_t want_flows; /* exit when this many flows are complete; 0: never */
	FILE *series;
	uint64_t series_ns;
	uint32_t n_flows, n_complete;
	struct sink_flow flows[MAX_FLOWS];
	/* Statistics. */
	uint64_t packets, bytes, not_roce, cnps_seen, untracked, cnp_send_errors;
};

static struct sink_flow *sink_flow(struct sink *k, uint32_t src, uint32_t qp)
{
	uint32_t h = (src * 2654435761u) ^ (qp * 40503u);

	for (uint32_t i = 0; i < MAX_FLOWS; i++) {
		struct sink_flow *f = &k->flows[(h + i) % MAX_FLOWS];

		if (f->used && f->src == src && f->qp == qp)
			return f;
		if (!f->used) {
			/* Keep a quarter free so that lookups stay short. */
			if (k->n_flows >= MAX_FLOWS * 3 / 4)
				return NULL;
			memset(f, 0, sizeof(*f));
			f->used = true;
			f->src = src;
			f->qp = qp;
			k->n_flows++;
			return f;
		}
	}
	return NULL;
}

/* A packet back to f's sender, to its QP at UDP 4791: the BTH's opcode and
 * QP are filled in here, the rest by the caller. Whether it left. */
static bool sink_reply(struct sink *k, const struct sink_flow *f, uint8_t op, uint8_t *pkt,
		       size_t len)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET,
		.sin_port = htons(GEN_ROCE_PORT),
		.sin_addr.s_addr = f->src,
	};

	pkt[0] = op;
	put_be16(pkt + 2, GEN_PKEY_DEFAULT);
	put_be32(pkt + 4, (get_be32(pkt + 4) & ~GEN_QPN_MASK) | (f->src_qp & GEN_QPN_MASK));
	if (sendto(k->fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		k->cnp_send_errors++;
		return false;
	}
	return true;
}

static void send_cnp(struct sink *k, struct sink_flow *f)
{
	uint8_t cnp[GEN_BTH_BYTES + GEN_CNP_PAYLOAD_BYTES + GEN_ICRC_BYTES] = { 0 };

	cnp[4] = GEN_BTH_BECN;
	if (sink_reply(k, f, GEN_OP_CNP, cnp, sizeof(cnp)))
		f->cnps++;
}

/* An RC ACK of psn, for a sender that waits for it to change its path. */
static void send_ack(struct sink *k, struct sink_flow *f, uint32_t psn)
{
	uint8_t ack[GEN_BTH_BYTES + GEN_AETH_BYTES + GEN_ICRC_BYTES] = { 0 };

	put_be32(ack + 8, psn & GEN_PSN_MASK);
	ack[GEN_BTH_BYTES] = GEN_AETH_ACK_NO_CREDITS;
	if (sink_reply(k, f, GEN_OP_ACK, ack, sizeof(ack)))
		f->acks++;
}

static void sink_packet(struct sink *k, const uint8_t *b, size_t len, uint32_t src, int tos,
			uint64_t now)
{
	uint32_t psn, delta, payload, hdr = GEN_BTH_BYTES;
	struct sink_flow *f;
	struct gen_meta m;
	uint8_t op;

	if (len < GEN_BTH_BYTES) {
		k->not_roce++;
		return;
	}
	op = b[0];
	if (op == GEN_OP_CNP) {
		k->cnps_seen++;
		return;
	}
	if (op == GEN_OP_WRITE_FIRST || op == GEN_OP_WRITE_ONLY)
		hdr += GEN_RETH_BYTES;
	if ((op != GEN_OP_WRITE_FIRST && op != GEN_OP_WRITE_MIDDLE && op != GEN_OP_WRITE_LAST &&
	     op != GEN_OP_WRITE_ONLY) ||
	    len < hdr + sizeof(m) + GEN_ICRC_BYTES) {
		k->not_roce++;
		return;
	}
	memcpy(&m, b + hdr, sizeof(m));
	if (ntohl(m.magic) != GEN_META_MAGIC) {
		k->not_roce++;
		return;
	}
	f = sink_flow(k, src, get_be32(b + 4) & GEN_QPN_MASK);
	if (!f) {
		k->untracked++;
		return;
	}
	payload = (uint32_t)(len - hdr - GEN_ICRC_BYTES);
	psn = get_be32(b + 8) & GEN_PSN_MASK;
	if (!f->packets) {
		f->first_ns = now;
		f->expect_psn = psn;
		f->src_qp = ntohl(m.src_qp) & GEN_QPN_MASK;
		f->flow_start_ns = get_be64((const uint8_t *)&m.flow_start_ns);
		f->flow_bytes = get_be64((const uint8_t *)&m.flow_bytes);
	}
	/* PSNs are 24 bits: a gap below half the space is loss, anything
	 * else came late (the bed reorders only a flow that changed paths
	 * with packets in flight, which tita-roce never does: 0). */
	delta = (psn - f->expect_psn) & GEN_PSN_MASK;
	if (delta < (GEN_PSN_MASK + 1) / 2) {
		f->lost += delta;
		f->expect_psn = (psn + 1) & GEN_PSN_MASK;
	} else {
		f->late++;
		if (f->lost)
			f->lost--;
	}
	f->packets++;
	f->bytes += payload;
	f->wire_bytes += len + GEN_L2L4_BYTES;
	f->series_bytes += payload;
	f->series_packets++;
	f->last_ns = now;
	k->packets++;
	k->bytes += payload;
	if ((tos & GEN_ECN_MASK) == GEN_ECN_CE) {
		f->ce++;
		f->series_ce++;
		/* The notification point: at most one CNP per QP per interval. */
		if (!f->cnps || now - f->last_cnp_ns >= k->cnp_interval_ns) {
			f->last_cnp_ns = now;
			send_cnp(k, f);
		}
	}
	if (ntohl(m.flags) & GEN_META_F_ACK)
		send_ack(k, f, psn);
	if (!f->complete && (ntohl(m.flags) & GEN_META_F_LAST)) {
		f->complete = true;
		f->done_ns = now;
		k->n_complete++;
	}
}

static void sink_series(struct sink *k, uint64_t now, uint64_t dt_ns)
{
	for (uint32_t i = 0; i < MAX_FLOWS; i++) {
		struct sink_flow *f = &k->flows[i];
		char a[INET_ADDRSTRLEN];

		if (!f->used)
			continue;
		inet_ntop(AF_INET, &f->src, a, sizeof(a));
		fprintf(k->series, "%.6f,%u,%s,%u,%.0f,%.4f\n", (double)now / 1e9, i, a, f->qp,
			(double)f->series_bytes * 8e9 / (double)dt_ns,
			f->series_packets ? (double)f->series_ce / (double)f->series_packets : 0.0);
		f->series_bytes = f->series_ce = f->series_packets = 0;
	}
}

static int run_sink(struct sink *k)
{
	uint8_t bufs[RECV_BATCH][GEN_BTH_BYTES + GEN_RETH_BYTES + MAX_MTU + GEN_ICRC_BYTES + 64];
	uint8_t ctls[RECV_BATCH][CMSG_SPACE(sizeof(int)) * 2];
	struct sockaddr_in from[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct mmsghdr mm[RECV_BATCH];
	uint64_t t0 = mono_ns(), end = t0 + k->duration_ns;
	uint64_t next_series = t0 + k->series_ns, last_series = t0, last_rx = 0;
	int one = 1;

	if (setsockopt(k->fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one))) {
		perror("tita-roce: IP_RECVTOS");
		return 1;
	}
	/* Tell whoever waits for us (a test, the demo) that we listen. */
	fprintf(stderr, "tita-roce: sink ready\n");

	while (!stop) {
		uint64_t now = mono_ns(), wake = end;
		struct pollfd pfd = { k->fd, POLLIN, 0 };
		struct timespec ts;
		int n;

		if (now >= end)
			break;
		if (k->want_flows && k->n_complete >= k->want_flows)
			break;
		if (k->idle_ns && last_rx && now - last_rx >= k->idle_ns)
			break;
		if (k->series && now >= next_series) {
			sink_series(k, now, now - last_series);
			last_series = now;
			next_series += k->series_ns;
			if (next_series <= now)
				next_series = now + k->series_ns;
		}
		if (k->series && next_series < wake)
			wake = next_series;
		if (k->idle_ns && last_rx && last_rx + k->idle_ns < wake)
			wake = last_rx + k->idle_ns;

		for (int i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			mm[i].msg_hdr = (struct msghdr){
				.msg_name = &from[i],
				.msg_namelen = sizeof(from[i]),
				.msg_iov = &iov[i],
				.msg_iovlen = 1,
				.msg_control = ctls[i],
				.msg_controllen = sizeof(ctls[i]),
			};
		}
		n = recvmmsg(k->fd, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			uint64_t dt = wake > now ? wake - now : 0;

			ts = (struct timespec){ dt / NSEC_PER_SEC, dt % NSEC_PER_SEC };
			ppoll(&pfd, 1, &ts, NULL);
			continue;
		}
		now = mono_ns();
		last_rx = now;
		for (int i = 0; i < n; i++) {
			struct cmsghdr *c;
			int tos = 0;

			for (c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c;
			     c = CMSG_NXTHDR(&mm[i].msg_hdr, c)) {
				if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
					tos = *(uint8_t *)CMSG_DATA(c);
			}
			sink_packet(k, bufs[i], mm[i].msg_len, from[i].sin_addr.s_addr, tos, now);
		}
	}

	uint64_t t1 = mono_ns(), first = UINT64_MAX, last = 0, ce = 0, lost = 0, cnps = 0;
	uint64_t wire = 0, late = 0, acks = 0;

	for (uint32_t i = 0; i < MAX_FLOWS; i++) {
		struct sink_flow *f = &k->flows[i];

		if (!f->used)
			continue;
		if (f->first_ns < first)
			first = f->first_ns;
		if (f->last_ns > last)
			last = f->last_ns;
		ce += f->ce;
		lost += f->lost;
		late += f->late;
		acks += f->acks;
		cnps += f->cnps;
		wire += f->wire_bytes;
	}
	printf("{\"duration_s\":%.6f,\"t0_s\":%.6f,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"ce_packets\":%" PRIu64 ",\"lost_packets\":%" PRIu64 ",\"cnps_sent\":%" PRIu64
	       ",\"cnp_send_errors\":%" PRIu64 ",\"not_roce\":%" PRIu64 ",\"untracked\":%" PRIu64
	       ",\"flows_complete\":%u",
	       (double)(t1 - t0) / 1e9, (double)t0 / 1e9, k->packets, k->bytes, ce, lost, cnps,
	       k->cnp_send_errors, k->not_roce, k->untracked, k->n_complete);
	printf(",\"late_packets\":%" PRIu64 ",\"acks_sent\":%" PRIu64, late, acks);
	printf(",\"ce_fraction\":%.6f,\"goodput_bps\":%.0f,\"wire_bps\":%.0f,\"first_s\":%.6f"
	       ",\"last_s\":%.6f,\"flows\":[",
	       k->packets ? (double)ce / (double)k->packets : 0.0,
	       last > first ? (double)k->bytes * 8e9 / (double)(last - first) : 0.0,
	       last > first ? (double)wire * 8e9 / (double)(last - first) : 0.0,
	       first == UINT64_MAX ? 0.0 : (double)first / 1e9, (double)last / 1e9);
	bool comma = false;

	for (uint32_t i = 0; i < MAX_FLOWS; i++) {
		struct sink_flow *f = &k->flows[i];
		char a[INET_ADDRSTRLEN];
		uint64_t span = f->last_ns - f->first_ns;
		uint64_t end_ns = f->complete ? f->done_ns : f->last_ns;

		if (!f->used)
			continue;
		inet_ntop(AF_INET, &f->src, a, sizeof(a));
		printf("%s{\"src\":\"%s\",\"qp\":%u,\"src_qp\":%u,\"packets\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"lost_packets\":%" PRIu64
		       ",\"late_packets\":%" PRIu64 ",\"ce_packets\":%" PRIu64
		       ",\"cnps_sent\":%" PRIu64
		       ",\"goodput_bps\":%.0f,\"first_s\":%.6f,\"last_s\":%.6f"
		       ",\"complete\":%s,\"completion_s\":%.6f,\"flow_bytes\":%" PRIu64 "}",
		       comma ? "," : "", a, f->qp, f->src_qp, f->packets, f->bytes, f->lost,
		       f->late, f->ce, f->cnps, span ? (double)f->bytes * 8e9 / (double)span : 0.0,
		       (double)f->first_ns / 1e9, (double)f->last_ns / 1e9,
		       f->complete ? "true" : "false",
		       end_ns > f->flow_start_ns ? (double)(end_ns - f->flow_start_ns) / 1e9 : 0.0,
		       f->flow_bytes);
		comma = true;
	}
	printf("]}\n");
	return 0;
}

/* ---- probe ------------------------------------------------------------------ */

/*
 * One RoCE-shaped packet (a BTH, no sink counts it) from sport with ttl:
 * the hop where the TTL runs out answers with ICMP time exceeded, the
 * destination host (no sink) with port unreachable. The same 5-tuple as a
 * flow from sport, so it takes the flow's ECMP path.
 */
static int run_probe(struct in_addr dst, uint16_t sport, int ttl, uint64_t timeout_ns)
{
	uint8_t pkt[GEN_BTH_BYTES + GEN_ICRC_BYTES] = { 0 }, data[256], ctl[512];
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(GEN_ROCE_PORT),
				  .sin_addr = dst };
	char a[INET_ADDRSTRLEN], from[INET_ADDRSTRLEN];
	int fd = socket_new(sport, GEN_TOS_DATA, 1 << 16), one = 1;
	uint64_t t0, end, now;

	if (fd < 0) {
		fprintf(stderr, "tita-roce: UDP port %u: %s\n", sport, strerror(-fd));
		return 2;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) ||
	    setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one))) {
		perror("tita-roce: probe socket");
		return 2;
	}
	pkt[0] = GEN_OP_SEND_ONLY;
	put_be16(pkt + 2, GEN_PKEY_DEFAULT);
	put_be32(pkt + 4, 1);
	inet_ntop(AF_INET, &dst, a, sizeof(a));
	t0 = mono_ns();
	end = t0 + timeout_ns;
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		fprintf(stderr, "tita-roce: probe to %s: %s\n", a, strerror(errno));
		return 2;
	}
	while (!stop && (now = mono_ns()) < end) {
		struct pollfd pfd = { fd, 0, 0 }; /* POLLERR comes anyway */
		struct timespec ts = { (end - now) / NSEC_PER_SEC, (end - now) % NSEC_PER_SEC };
		struct iovec iov = { data, sizeof(data) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };

		if (ppoll(&pfd, 1, &ts, NULL) <= 0)
			continue;
		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			const struct sock_extended_err *e = (const void *)CMSG_DATA(c);
			const struct sockaddr_in *off;

			if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR ||
			    e->ee_origin != SO_EE_ORIGIN_ICMP)
				continue;
			off = (const struct sockaddr_in *)SO_EE_OFFENDER(e);
			inet_ntop(AF_INET, &off->sin_addr, from, sizeof(from));
			printf("{\"dst\":\"%s\",\"sport\":%u,\"ttl\":%d,\"from\":\"%s\""
			       ",\"icmp_type\":%u,\"icmp_code\":%u,\"rtt_us\":%.1f}\n",
			       a, sport, ttl, from, e->ee_type, e->ee_code,
			       (double)(mono_ns() - t0) / 1e3);
			close(fd);
			return 0;
		}
	}
	printf("{\"dst\":\"%s\",\"sport\":%u,\"ttl\":%d,\"from\":null}\n", a, sport, ttl);
	close(fd);
	return 1;
}

/* ---- main ------------------------------------------------------------------ */

/* The address the route to dst sends from (0.0.0.0 without a route). */
static struct in_addr route_src(struct in_addr dst)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(GEN_ROCE_PORT),
				  .sin_addr = dst },
			   me = { 0 };
	socklen_t len = sizeof(me);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    getsockname(fd, (struct sockaddr *)&me, &len))
			me.sin_addr.s_addr = 0;
		close(fd);
	}
	return me.sin_addr;
}

static uint64_t env_ms(const char *name, uint64_t def_ms)
{
	const char *v = getenv(name);
	char *end;
	unsigned long x;

	if (!v || !*v)
		return def_ms;
	x = strtoul(v, &end, 10);
	return *end || x < 1 || x > 600000 ? def_ms : x;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tita-roce send [OPTIONS] FLOW...\n"
		"       tita-roce sink [OPTIONS]\n"
		"       tita-roce probe [OPTIONS] DST\n"
		"\n"
		"The test bed's RoCEv2 traffic: RDMA WRITEs over UDP/4791 with BTHs, ECT(0).\n"
		"\n"
		"FLOW is DST[,qp=N][,bytes=SIZE][,rate=RATE][,sport=PORT]: an IPv4\n"
		"destination, its QP (default 0x100 + index), the payload to send (default:\n"
		"until --duration), a rate cap (default: the line rate) and the UDP source\n"
		"port, the flow's ECMP path (default: from the QP numbers, 49152..65535,\n"
		"as Linux's RoCE drivers derive it).\n"
		"\n"
		"send:\n"
		"  -l, --line-rate RATE      the port's rate; all flows together stay below\n"
		"                            (default 200Mbit)\n"
		"  -m, --mtu BYTES           RoCE payload per packet: 256..4096 (default 2048)\n"
		"      --msg BYTES           message size of each RDMA WRITE (default 65536)\n"
		"  -c, --cc none|dcqcn       react to CNPs like DCQCN's reaction point\n"
		"      --time-scale X        DCQCN's periods x X (default 12.5; see\n"
		"                            tools/gen/dcqcn.h)\n"
		"      --byte-counter BYTES  DCQCN's byte counter (default 32767 x mtu / 4096)\n"
		"      --agent PATH          be the flows' QP agent on titad's agent socket:\n"
		"                            register them, report their bytes, obey SET_RATE\n"
		"                            and SET_SPORT (TITA_AGENT_STATS_MS, default 10,\n"
		"                            and TITA_AGENT_RECONNECT_MS, default 1000)\n"
		"      --repath-timeout DUR  a flow that moves to another source port waits\n"
		"                            for the ACK of its last message at most DUR\n"
		"                            (default 50ms: longer than any queue of the bed);\n"
		"                            in message mode, how long a message's ACK may\n"
		"                            take before the message counts as lost\n"
		"      --messages N          message mode: each flow sends N messages (1..100000)\n"
		"                            of its bytes (default --msg), one at a time: the\n"
		"                            last packet of each asks for an ACK, the next\n"
		"                            starts --gap after it came back; reports each\n"
		"                            message's completion (its first packet sent to\n"
		"                            its ACK back) and their p50/p90/p99/max\n"
		"      --gap DUR             message mode: from an ACK to the next message\n"
		"                            (default 1ms)\n"
		"sink:\n"
		"      --cnp-interval DUR    at most one CNP per QP per DUR (default 50us:\n"
		"                            NVIDIA's 4 us min_time_between_cnps x 12.5)\n"
		"      --flows N             exit once N flows have completed\n"
		"      --idle DUR            exit DUR after the last packet (default 2s)\n"
		"probe:\n"
		"      --sport PORT          the probe's UDP source port (default 49152)\n"
		"      --ttl N               its IP TTL: 1 ends at the first hop (default 2)\n"
		"      --timeout DUR         wait this long for the answer (default 1s)\n"
		"both:\n"
		"  -d, --duration DUR        stop after DUR (default 60s, at most 1h)\n"
		"  -s, --series FILE        per-flow rate every --interval, as CSV\n"
		"  -i, --interval DUR        time-series step (default 10ms)\n"
		"  -h, --help\n"
		"\n"
		"Sizes and rates take k, M, G, T (powers of 1000); durations ns, us, ms, s.\n"
		"Reports JSON on stdout when done; probe exits 1 when nothing answered.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "line-rate", required_argument, NULL, 'l' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "msg", required_argument, NULL, 'M' },
		{ "cc", required_argument, NULL, 'c' },
		{ "time-scale", required_argument, NULL, 'T' },
		{ "byte-counter", required_argument, NULL, 'B' },
		{ "cnp-interval", required_argument, NULL, 'C' },
		{ "flows", required_argument, NULL, 'F' },
		{ "idle", required_argument, NULL, 'I' },
		{ "duration", required_argument, NULL, 'd' },
		{ "series", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "agent", required_argument, NULL, 'A' },
		{ "repath-timeout", required_argument, NULL, 'R' },
		{ "sport", required_argument, NULL, 'P' },
		{ "ttl", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "messages", required_argument, NULL, 'N' },
		{ "gap", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct sender snd;
	static struct sink snk;
	const char *mode, *series_path = NULL, *agent_path = NULL;
	uint64_t repath_timeout_ns = 50000000, probe_timeout_ns = NSEC_PER_SEC;
	uint16_t probe_sport = 49152;
	int probe_ttl = 2;
	double line_bps = 200e6, time_scale = 12.5, byte_counter = 0, v;
	uint64_t duration_ns = 60 * NSEC_PER_SEC, interval_ns = 10000000, cnp_ns = 50000;
	uint64_t idle_ns = 2 * NSEC_PER_SEC;
	uint32_t mtu = 2048, msg = 65536, want_flows = 0, messages = 0;
	uint64_t gap_ns = 1000000;
	bool dcqcn = false;
	struct sigaction sa = { .sa_handler = on_signal };
	int c, rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	mode = argv[1];
	if (strcmp(mode, "send") && strcmp(mode, "sink") && strcmp(mode, "probe"))
		die_usage("unknown mode", mode);
	argv++;
	argc--;

	while ((c = getopt_long(argc, argv, "l:m:c:d:s:i:h", opts, NULL)) != -1) {
		uint64_t ns;

		switch (c) {
		case 'l':
			if (parse_si(optarg, &line_bps) || line_bps < 1e5 || line_bps > 1e12)
				die_usage("line rate must be 100kbit..1Tbit", optarg);
			break;
		case 'm':
			if (parse_si(optarg, &v) || v < 256 || v > MAX_MTU)
				die_usage("mtu must be 256..4096", optarg);
			mtu = (uint32_t)v;
			break;
		case 'M':
			if (parse_si(optarg, &v) || v < 256 || v > 1 << 30)
				die_usage("message size must be 256..1G", optarg);
			msg = (uint32_t)v;
			break;
		case 'c':
			if (!strcmp(optarg, "dcqcn"))
				dcqcn = true;
			else if (strcmp(optarg, "none"))
				die_usage("cc must be none or dcqcn", optarg);
			break;
		case 'T':
			if (parse_si(optarg, &time_scale) || time_scale < 0.01 || time_scale > 1e4)
				die_usage("time scale must be 0.01..10000", optarg);
			break;
		case 'B':
			if (parse_si(optarg, &byte_counter) || byte_counter < 1 ||
			    byte_counter > 1e9)
				die_usage("byte counter must be 1..1G", optarg);
			break;
		case 'C':
			if (parse_duration(optarg, &cnp_ns))
				die_usage("cnp interval is not a duration", optarg);
			break;
		case 'F':
			if (parse_si(optarg, &v) || v > MAX_FLOWS)
				die_usage("flows must be 0..256", optarg);
			want_flows = (uint32_t)v;
			break;
		case 'I':
			if (parse_duration(optarg, &idle_ns))
				die_usage("idle is not a duration", optarg);
			break;
		case 'd':
			if (parse_duration(optarg, &duration_ns) || !duration_ns)
				die_usage("duration must be 1ns..1h", optarg);
			break;
		case 's':
			series_path = optarg;
			break;
		case 'i':
			if (parse_duration(optarg, &ns) || ns < 1000000)
				die_usage("interval must be a duration of at least 1ms", optarg);
			interval_ns = ns;
			break;
		case 'A':
			if (!*optarg ||
			    strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
				die_usage("agent socket path must be 1..107 bytes", optarg);
			agent_path = optarg;
			break;
		case 'R':
			if (parse_duration(optarg, &repath_timeout_ns) ||
			    repath_timeout_ns < 1000000)
				die_usage("repath timeout must be a duration of at least 1ms",
					  optarg);
			break;
		case 'P':
			if (parse_si(optarg, &v) || v < 1 || v > 65535 || v != (double)(uint16_t)v)
				die_usage("sport must be 1..65535", optarg);
			probe_sport = (uint16_t)v;
			break;
		case 't':
			if (parse_si(optarg, &v) || v < 1 || v > 255 || v != (double)(int)v)
				die_usage("ttl must be 1..255", optarg);
			probe_ttl = (int)v;
			break;
		case 'W':
			if (parse_duration(optarg, &probe_timeout_ns) || !probe_timeout_ns)
				die_usage("timeout must be 1ns..1h", optarg);
			break;
		case 'N':
			if (parse_si(optarg, &v) || v < 1 || v > MAX_MESSAGES ||
			    v != (double)(uint32_t)v)
				die_usage("messages must be 1..100000", optarg);
			messages = (uint32_t)v;
			break;
		case 'G':
			if (parse_duration(optarg, &gap_ns))
				die_usage("gap is not a duration", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			exit(2);
		}
	}
	if (msg < mtu)
		msg = mtu;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Pacing at tens of microseconds needs the timer to be punctual. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	FILE *series = NULL;

	if (series_path) {
		series = fopen(series_path, "w");
		if (!series) {
			fprintf(stderr, "tita-roce: %s: %s\n", series_path, strerror(errno));
			return 1;
		}
		fprintf(series, "t_s,flow,addr,qp,rate_bps,%s\n",
			!strcmp(mode, "send") ? "limit_bps" : "ce_fraction");
	}

	if (!strcmp(mode, "probe")) {
		struct in_addr dst;

		if (optind != argc - 1 || inet_pton(AF_INET, argv[optind], &dst) != 1)
			die_usage("probe takes one IPv4 destination",
				  optind < argc ? argv[optind] : "");
		rc = run_probe(dst, probe_sport, probe_ttl, probe_timeout_ns);
	} else if (!strcmp(mode, "send")) {
		if (optind >= argc)
			die_usage("no FLOW given to", "send");
		for (int i = optind; i < argc; i++)
			parse_flow(&snd, argv[i]);
		snd.mtu = mtu;
		snd.messages = messages;
		snd.gap_ns = gap_ns;
		for (uint32_t i = 0; i < snd.n_flows; i++) {
			struct flow *f = &snd.flows[i];

			f->msg_bytes = msg;
			if (!messages)
				continue;
			/* Message mode: each message is the flow's bytes (one
			 * RDMA WRITE), --msg without them. */
			if (f->bytes_total) {
				if (f->bytes_total > 1 << 30 || f->bytes_total < MIN_PAYLOAD)
					die_usage(
						"in message mode bytes (one message) must be 40..1G",
						argv[optind + i]);
				f->msg_bytes = (uint32_t)f->bytes_total;
			}
			f->bytes_total = (uint64_t)f->msg_bytes * messages;
			f->completions_ns = calloc(messages, sizeof(*f->completions_ns));
			if (!f->completions_ns) {
				fprintf(stderr, "tita-roce: out of memory\n");
				return 1;
			}
		}
		snd.line_bps = line_bps;
		snd.dcqcn = dcqcn;
		dcqcn_params_default(&snd.dp, line_bps, mtu, time_scale);
		if (byte_counter > 0)
			snd.dp.byte_counter = (uint64_t)byte_counter;
		snd.duration_ns = duration_ns;
		snd.series = series;
		snd.series_ns = interval_ns;
		snd.repath_timeout_ns = repath_timeout_ns;
		/* Bound to 4791: CNPs and ACKs come back to the RoCE port. */
		snd.fd = open_socket(GEN_ROCE_PORT, GEN_TOS_DATA, 1 << 20);
		sender_socket_setup(snd.fd);
		snd.socks[0] = (struct port_sock){ .port = GEN_ROCE_PORT, .fd = snd.fd, .refs = 1 };
		snd.n_socks = 1;
		for (uint32_t i = 0; i < snd.n_flows; i++) {
			struct flow *f = &snd.flows[i];

			f->sock = sock_get(&snd, f->sport);
			if (f->sock < 0) {
				fprintf(stderr, "tita-roce: flow %u: UDP source port %u: %s\n", i,
					f->sport, strerror(-f->sock));
				return 1;
			}
			f->src = route_src(f->dst.sin_addr);
		}
		snd.agent = (struct agent_link){
			.path = agent_path,
			.fd = -1,
			.stats_ns = env_ms("TITA_AGENT_STATS_MS", 10) * 1000000,
			.reconnect_ns = env_ms("TITA_AGENT_RECONNECT_MS", 1000) * 1000000,
		};
		rc = run_send(&snd);
	} else {
		if (optind < argc)
			die_usage("sink takes no argument", argv[optind]);
		snk.fd = open_socket(GEN_ROCE_PORT, GEN_TOS_CNP, 32 << 20);
		snk.cnp_interval_ns = cnp_ns;
		snk.duration_ns = duration_ns;
		snk.idle_ns = idle_ns;
		snk.want_flows = want_flows;
		snk.series = series;
		snk.series_ns = interval_ns;
		rc = run_sink(&snk);
	}
	if (series && fclose(series))
		rc = 1;
	fflush(stdout);
	return rc;
}
