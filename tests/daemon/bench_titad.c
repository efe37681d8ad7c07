// SPDX-License-Identifier: MIT
/*
 * Load for titad's benchmark: N simulated sender daemons on loopback
 * addresses (127.1.x.y), each sending authenticated demands to one titad
 * every refresh interval, as real senders do, and, every `cycle` refreshes,
 * going idle (demand 0) for `idle` of them and coming back as a new pair,
 * which titad must answer with a first grant at once. A pair that comes
 * back while the receiver still keeps its grant warm is not new to it:
 * `idle` refreshes must outlast the warm grant (titad's grant TTL times
 * its warm TTLs) for every cycle to open a new pair. Prints the round trip of those first
 * grants as the senders see them; tests/daemon/bench.sh reads titad's own
 * figures (RSS, CPU, the demand-to-grant histogram) around it.
 *
 * With ALT_PORT, each SIGUSR1 moves the whole load between PORT and
 * ALT_PORT: bench.sh alternates titad and bench-floor under the same
 * senders, window by window, to compare their CPU under the same
 * background load of the machine.
 *
 * Usage: bench-titad KEYFILE TARGET_ADDR PORT PEERS SECONDS REFRESH_MS CYCLE [IDLE [ALT_PORT]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define MAX_PEERS 4096

struct fake {
	struct tita_addr addr;
	struct tita_wire_sender tx;
	uint32_t round;
	uint64_t new_pair_sent_ns; /* 0: no first grant awaited */
};

static volatile sig_atomic_t switch_port;

static void on_usr1(int sig)
{
	(void)sig;
	switch_port = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int read_key(const char *path, uint8_t key[TITA_WIRE_KEY_BYTES])
{
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
	return n == TITA_WIRE_KEY_BYTES * 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct fake peers[MAX_PEERS];
	static uint64_t rtt[1 << 20];
	struct tita_wire_keyring kr;
	uint8_t key[TITA_WIRE_KEY_BYTES];
	struct tita_addr target;
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint32_t n_peers, cycle, idle_rounds = 1;
	uint16_t ports[2] = { 0, 0 };
	uint64_t end, refresh_ns, next, sent = 0, grants = 0, n_rtt = 0;
	int fd, one = 1;

	if (argc < 8 || argc > 10) {
		fprintf(stderr, "usage: bench-titad KEYFILE TARGET PORT PEERS SECONDS REFRESH_MS "
				"CYCLE [IDLE [ALT_PORT]]\n");
		return 2;
	}
	if (sodium_init() < 0 || read_key(argv[1], key)) {
		fprintf(stderr, "bench-titad: cannot read the key %s\n", argv[1]);
		return 1;
	}
	tita_wire_keyring_init(&kr);
	tita_wire_keyring_add(&kr, 1, key);
	inet_pton(AF_INET, argv[2], &to.sin_addr);
	target = tita_addr_from_ipv4((const uint8_t *)&to.sin_addr);
	ports[0] = (uint16_t)atoi(argv[3]);
	ports[1] = argc == 10 ? (uint16_t)atoi(argv[9]) : ports[0];
	to.sin_port = htons(ports[0]);
	n_peers = (uint32_t)atoi(argv[4]);
	if (n_peers < 1 || n_peers > MAX_PEERS)
		return 2;
	end = now_ns() + (uint64_t)atoi(argv[5]) * 1000000000ull;
	refresh_ns = (uint64_t)atoi(argv[6]) * 1000000ull;
	cycle = (uint32_t)atoi(argv[7]);
	if (argc >= 9)
		idle_rounds = (uint32_t)atoi(argv[8]);
	if (cycle && (idle_rounds < 1 || idle_rounds >= cycle)) {
		fprintf(stderr, "bench-titad: IDLE must be 1 to CYCLE - 1\n");
		return 2;
	}

	/* One socket for every simulated sender: the source address per
	 * datagram through IP_PKTINFO; grants come back to the same port on
	 * every 127.1.x.y (titad itself holds the more specific 127.0.0.1). */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	{
		struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = to.sin_port };
		int big = 4 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		if (bind(fd, (struct sockaddr *)&any, sizeof(any))) {
			perror("bench-titad: bind");
			return 1;
		}
	}
	for (uint32_t i = 0; i < n_peers; i++) {
		uint8_t v4[4] = { 127, 1, (uint8_t)(i / 250), (uint8_t)(i % 250 + 1) };

		peers[i].addr = tita_addr_from_ipv4(v4);
		peers[i].tx = (struct tita_wire_sender){ .key_id = 1,
							 .boot_id = (uint64_t)time(NULL) * 1000 + i,
							 .seq = 1 };
		/* Spread the senders over the refresh interval. */
		peers[i].round = i % (cycle ? cycle : 1);
	}

	/* SA_RESTART off: the switch interrupts the wait for the next send. */
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = on_usr1 }, NULL);
	next = now_ns();
	while (now_ns() < end) {
		/* One sender's turn every refresh_ns / n_peers. */
		for (uint32_t i = 0; i < n_peers; i++) {
			struct fake *p = &peers[i];
			struct tita_msg m = { .kind = TITA_MSG_DEMAND,
					      .peer = target,
					      .n_entries = 1 };
			uint8_t buf[TITA_WIRE_MAX_BYTES];
			char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = { 0 };
			struct iovec iov;
			struct msghdr mh = { .msg_name = &to,
					     .msg_namelen = sizeof(to),
					     .msg_iov = &iov,
					     .msg_iovlen = 1,
					     .msg_control = cbuf,
					     .msg_controllen = sizeof(cbuf) };
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			struct in_pktinfo *pi;
			uint32_t consumed;
			bool idle = cycle && p->round % cycle >= cycle - idle_rounds;
			int n;

			if (switch_port) {
				switch_port = 0;
				to.sin_port = to.sin_port == htons(ports[0]) ? htons(ports[1]) :
									       htons(ports[0]);
			}
			m.demand[0] = (struct tita_demand_entry){
				.sender = p->addr,
				.receiver = target,
				.job_id = 0,
				.weight_milli = TITA_WEIGHT_ONE,
				.demand_bps = idle ? 0 : 10 * TITA_GBPS,
			};
			n = tita_wire_encode_msg(&kr, &p->tx, &m, 0, buf, sizeof(buf), &consumed);
			if (n < 0)
				return 1;
			iov.iov_base = buf;
			iov.iov_len = (size_t)n;
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(*pi));
			pi = (struct in_pktinfo *)CMSG_DATA(cm);
			memcpy(&pi->ipi_spec_dst, &p->addr.bytes[12], 4);
			if (sendmsg(fd, &mh, 0) == n)
				sent++;
			/* After an idle round, this demand opens a new pair. */
			if (cycle && p->round % cycle == 0)
				p->new_pair_sent_ns = now_ns();
			p->round++;

			next += refresh_ns / n_peers;
			for (;;) {
				uint8_t rb[2048];
				struct sockaddr_in from;
				socklen_t fl = sizeof(from);
				ssize_t r;
				uint64_t t = now_ns();
				struct pollfd pfd = { .fd = fd, .events = POLLIN };

				struct timespec wait;

				if (t >= next)
					break;
				/* Sleep to the next send, not spin: the generator
				 * stands in for remote hosts, not for a local load. */
				wait.tv_sec = (time_t)((next - t) / 1000000000ull);
				wait.tv_nsec = (long)((next - t) % 1000000000ull);
				if (ppoll(&pfd, 1, &wait, NULL) <= 0)
					continue;
				while ((r = recvfrom(fd, rb, sizeof(rb), 0,
						     (struct sockaddr *)&from, &fl)) > 0) {
					struct tita_wire_msg wm;
					/* A grant leaves out its receiver, where it
					 * comes from. */
					const struct tita_addr origin = tita_addr_from_ipv4(
						(const uint8_t *)&from.sin_addr);

					if (tita_wire_decode(&kr, NULL, &origin, rb, (size_t)r,
							     &wm) != TITA_WIRE_OK ||
					    wm.body != TITA_WIRE_BODY_MSG ||
					    wm.msg.kind != TITA_MSG_GRANT)
						continue;
					grants++;
					for (uint32_t e = 0; e < wm.msg.n_entries; e++) {
						const struct tita_addr *s = &wm.msg.grant[e].sender;
						uint32_t k = (uint32_t)s->bytes[14] * 250 +
							     s->bytes[15] - 1;

						if (k < n_peers && peers[k].new_pair_sent_ns &&
						    wm.msg.grant[e].rate_bps) {
							if (n_rtt < sizeof(rtt) / sizeof(rtt[0]))
								rtt[n_rtt++] =
									now_ns() -
									peers[k].new_pair_sent_ns;
							peers[k].new_pair_sent_ns = 0;
						}
					}
					fl = sizeof(from);
				}
			}
		}
	}
	qsort(rtt, n_rtt, sizeof(rtt[0]), cmp_u64);
	printf("senders %u  demands sent %llu  grant datagrams %llu  first grants %llu\n", n_peers,
	       (unsigned long long)sent, (unsigned long long)grants, (unsigned long long)n_rtt);
	if (n_rtt)
		printf("first-grant round trip (sender view): p50 %.0f us  p99 %.0f us\n",
		       rtt[n_rtt / 2] / 1e3, rtt[n_rtt * 99 / 100] / 1e3);
	close(fd);
	return 0;
}
