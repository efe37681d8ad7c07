// SPDX-License-Identifier: MIT
/*
 * tita-flood: bad peer datagrams at a titad, at a bounded rate for a
 * bounded time, from inside the test bed (tests/bed/fault-flood.sh).
 *
 *   tita-flood --to ADDR [--port 4792] [--pps N] [--seconds S]
 *              [--dev IF] [--capture-ms MS]
 *
 * Three kinds, in turn:
 *
 *   garbage  random bytes of random length, a quarter of them behind a
 *            correct magic (so that version, flag and truncation checks
 *            run, not only the magic's)
 *   forged   a well-formed header (magic, version 2 or 1 in turn, key id
 *            1, a boot id and a growing sequence) with a random body and a
 *            random MAC of that version's length: what an attacker
 *            without the cluster key can do
 *   replay   real datagrams of this host's titad, captured on --dev as they
 *            left (AF_PACKET) during the first --capture-ms, sent again
 *            frame for frame: authentic, but already seen
 *
 * garbage and forged leave from a UDP socket of this namespace (the host's
 * own address, another port); replays leave as the captured frames, so
 * they carry titad's own source address and port. Without --dev there are
 * no replays. Prints what it sent as JSON.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WIRE_MAGIC 0x54495441u /* "TITA" */
/* Version 2, what titad writes: a 4-byte sequence and an 8-byte MAC. */
#define WIRE_HDR_BYTES 22
#define WIRE_MAC_BYTES 8
/* Version 1, still decoded: an 8-byte sequence and a 16-byte MAC. */
#define WIRE_V1_HDR_BYTES 26
#define WIRE_V1_MAC_BYTES 16
#define WIRE_MAX_BYTES 1400
#define MAX_CAPTURE 64
#define FRAME_MAX 2048
#define NSEC_PER_SEC 1000000000ull
/* The most this tool ever sends, whatever it is asked: 100k pps for 60 s. */
#define MAX_PPS 100000
#define MAX_SECONDS 60

struct frame {
	size_t len;
	uint8_t b[FRAME_MAX];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and good enough to make garbage. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static size_t make_garbage(uint8_t *b)
{
	size_t n = 1 + rnd() % 512;

	fill(b, n);
	if (rnd() % 4 == 0 && n >= 4)
		put_be32(b, WIRE_MAGIC);
	return n;
}

static size_t make_forged(uint8_t *b, uint64_t boot_id, uint64_t seq, bool v2)
{
	size_t body = 16 + rnd() % 256;
	size_t hdr = v2 ? WIRE_HDR_BYTES : WIRE_V1_HDR_BYTES;
	size_t mac = v2 ? WIRE_MAC_BYTES : WIRE_V1_MAC_BYTES;

	put_be32(b, WIRE_MAGIC);
	b[4] = v2 ? 2 : 1; /* version */
	b[5] = 0; /* flags */
	put_be32(b + 6, 1); /* key id: the bed's */
	put_be64(b + 10, boot_id);
	if (v2)
		put_be32(b + 18, (uint32_t)seq);
	else
		put_be64(b + 18, seq);
	fill(b + hdr, body + mac);
	return hdr + body + mac;
}

/* Frames from this host to dst:port (UDP over IPv4), as they leave dev. */
static int capture(int ps, uint32_t dst, uint16_t port, uint64_t ms, struct frame *ret, int max)
{
	uint64_t end = mono_ns() + ms * 1000000ull;
	int n = 0;

	while (n < max) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct pollfd pfd = { ps, POLLIN, 0 };
		uint64_t now = mono_ns();
		ssize_t len;

		if (now >= end)
			break;
		if (poll(&pfd, 1, (int)((end - now) / 1000000 + 1)) <= 0)
			continue;
		len = recvfrom(ps, ret[n].b, FRAME_MAX, MSG_DONTWAIT, (struct sockaddr *)&from,
			       &fl);
		if (len < (ssize_t)(ETH_HLEN + sizeof(struct iphdr) + sizeof(struct udphdr)))
			continue;
		if (from.sll_pkttype != PACKET_OUTGOING)
			continue;
		/* The headers sit at odd offsets in the frame: copy them out. */
		struct ether_header eh;
		struct iphdr ip;
		struct udphdr udp;
		size_t l4;

		memcpy(&eh, ret[n].b, sizeof(eh));
		memcpy(&ip, ret[n].b + ETH_HLEN, sizeof(ip));
		if (ntohs(eh.ether_type) != ETHERTYPE_IP || ip.protocol != IPPROTO_UDP ||
		    ip.daddr != dst || ip.ihl < 5)
			continue;
		l4 = ETH_HLEN + (size_t)ip.ihl * 4;
		if (l4 + sizeof(udp) > (size_t)len)
			continue;
		memcpy(&udp, ret[n].b + l4, sizeof(udp));
		if (ntohs(udp.dest) != port)
			continue;
		/* A frame captured on its way out may carry only the partial
		 * checksum that the device was to finish (checksum offload);
		 * zero, in IPv4, means none, which every receiver accepts. */
		udp.check = 0;
		memcpy(ret[n].b + l4, &udp, sizeof(udp));
		ret[n].len = (size_t)len;
		n++;
	}
	return n;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tita-flood --to ADDR [--port 4792] [--pps N] [--seconds S]\n"
		"                  [--dev IF] [--capture-ms MS]\n"
		"Bad peer datagrams (garbage, forged, replayed) at a titad; at most\n"
		"%d per second for at most %d s. Prints what it sent as JSON.\n",
		MAX_PPS, MAX_SECONDS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ "pps", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "dev", required_argument, NULL, 'd' },
		{ "capture-ms", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct frame frames[MAX_CAPTURE];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4792) };
	const char *dev = NULL;
	long pps = 10000, seconds = 5, capture_ms = 1500;
	uint64_t sent[3] = { 0 }, errors = 0, forged_v2 = 0, boot_id, seq = 1;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	int c, fd, ps = -1, n_frames = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (inet_pton(AF_INET, optarg, &to.sin_addr) != 1) {
				fprintf(stderr, "tita-flood: '%s' is not an IPv4 address\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			to.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'r':
			pps = atol(optarg);
			break;
		case 's':
			seconds = atol(optarg);
			break;
		case 'd':
			dev = optarg;
			break;
		case 'c':
			capture_ms = atol(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!to.sin_addr.s_addr || pps < 1 || pps > MAX_PPS || seconds < 1 ||
	    seconds > MAX_SECONDS || capture_ms < 0 || capture_ms > 10000) {
		usage(stderr);
		return 2;
	}
	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state) || !rng_state)
		rng_state = 0x9e3779b97f4a7c15ull ^ mono_ns();
	/* A boot id in the future of any real titad's would make the forged
	 * datagrams look newer; the MAC check comes first and rejects them. */
	boot_id = rnd();

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("tita-flood: socket");
		return 1;
	}
	if (dev) {
		ll.sll_ifindex = (int)if_nametoindex(dev);
		ll.sll_protocol = htons(ETH_P_ALL);
		ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
		if (!ll.sll_ifindex || ps < 0 || bind(ps, (struct sockaddr *)&ll, sizeof(ll))) {
			fprintf(stderr, "tita-flood: packet socket on %s: %s\n", dev,
				strerror(errno));
			return 1;
		}
		n_frames = capture(ps, to.sin_addr.s_addr, ntohs(to.sin_port), (uint64_t)capture_ms,
				   frames, MAX_CAPTURE);
	}

	uint64_t t0 = mono_ns(), end = t0 + (uint64_t)seconds * NSEC_PER_SEC;
	uint64_t gap_ns = NSEC_PER_SEC / (uint64_t)pps, next = t0, total = 0;
	uint64_t max_total = (uint64_t)pps * (uint64_t)seconds;
	uint8_t buf[WIRE_MAX_BYTES + 64];

	while (total < max_total) {
		uint64_t now = mono_ns();
		int kind = (int)(total % 3);
		ssize_t r;

		if (now >= end)
			break;
		if (next > now) {
			struct timespec ts = { next / NSEC_PER_SEC, next % NSEC_PER_SEC };

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		/* No credit beyond one step: the rate is a ceiling. */
		next = (next > now ? next : now) + gap_ns;
		if (kind == 2 && !n_frames)
			kind = (int)(rnd() % 2);
		if (kind == 0) {
			size_t n = make_garbage(buf);

			r = sendto(fd, buf, n, 0, (struct sockaddr *)&to, sizeof(to));
		} else if (kind == 1) {
			/* Both framings a titad decodes, in turn. */
			bool v2 = seq % 2 == 1;
			size_t n = make_forged(buf, boot_id, seq++, v2);

			forged_v2 += v2;

			r = sendto(fd, buf, n, 0, (struct sockaddr *)&to, sizeof(to));
		} else {
			struct frame *f = &frames[rnd() % (uint64_t)n_frames];

			r = sendto(ps, f->b, f->len, 0, (struct sockaddr *)&ll, sizeof(ll));
		}
		total++;
		if (r < 0)
			errors++;
		else
			sent[kind]++;
	}
	printf("{\"seconds\":%.3f,\"garbage\":%" PRIu64 ",\"forged\":%" PRIu64
	       ",\"forged_v2\":%" PRIu64 ",\"replayed\":%" PRIu64
	       ",\"captured\":%d,\"errors\":%" PRIu64 "}\n",
	       (double)(mono_ns() - t0) / 1e9, sent[0], sent[1], forged_v2, sent[2], n_frames,
	       errors);
	return 0;
}
