// SPDX-License-Identifier: MIT
/*
 * Namespace integration test of the datapath and its loader.
 *
 * Two network namespaces, A and B, joined by a veth pair. Everything lives
 * only as long as this process: the namespaces are held by child processes
 * that die with it (PR_SET_PDEATHSIG), and the test runs in a private mount
 * namespace whose bpffs disappears with it, so pins, links and attachments
 * cannot outlive a failure or a kill. Traffic stays between A and B.
 *
 *  1. bpffs: /sys/fs/bpf is unmounted in the private mount namespace; the
 *     loader must mount it itself.
 *  2. Attach through libtita_bpf to A's veth (tc egress, queue sampler) and
 *     B's veth (XDP, native on veth).
 *  3. A's root qdisc is the tc pacer's HTB: 10.77.0.2 is classified into a
 *     shaped class through the tc program's class map (skb->priority).
 *  4. A sends real RoCEv2 datagrams (UDP 4791, BTH, ICRC-sized tail) over
 *     IPv4 and IPv6 with chosen ECN bits and QPs, plus non-RoCE UDP; the
 *     reader's counters on both sides must match what was sent, exactly.
 *  5. Restart: free the handle, attach again: same counters, new programs.
 *     Then a resized (1024-entry) table: QPs evicted and created again
 *     between two reads must count from zero, nothing negative.
 *  6. Someone else's XDP program on a device without native XDP: attach
 *     must refuse and leave it alone; without it, the loader falls back to
 *     generic XDP.
 *  7. A burst into the shaped class queues in HTB: the sampler must see the
 *     backlog's high-water mark and a queueing delay.
 *  8. Detach: no XDP, no tc filter, no clsact, no pins, programs freed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <net/if.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "tita_bpf.h"

#define PIN_ROOT "/sys/fs/bpf/tita-test"
#define VA "tita-va"
#define VB "tita-vb"
#define DUMMY "tita-nonative" /* a device without native XDP */
#define A4 "10.77.0.1"
#define B4 "10.77.0.2"
#define A6 "fd77::1"
#define B6 "fd77::2"
#define CLASS_SHAPED 0x00010010u /* 1:10 (tc writes the minor in hex) */

static int failures;
static int ns_init = -1, ns_a = -1, ns_b = -1;
static pid_t holder_a, holder_b;

#define CHECK(cond, ...)                     \
	do {                                 \
		if (cond) {                  \
			printf("ok - ");     \
		} else {                     \
			printf("not ok - "); \
			failures++;          \
		}                            \
		printf(__VA_ARGS__);         \
		printf("\n");                \
	} while (0)

static void die(const char *what)
{
	printf("not ok - %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A child that only holds a new network namespace open, and dies with us. */
static pid_t hold_netns(int *ret_fd)
{
	int pipefd[2];
	char path[64], c;
	pid_t pid;

	if (pipe(pipefd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		c = 1;
		if (write(pipefd[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		tita_test_cannot_run("cannot create a network namespace (unshare CLONE_NEWNET)");
	close(pipefd[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	*ret_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*ret_fd < 0)
		die("open netns");
	return pid;
}

static void enter(int fd)
{
	if (setns(fd, CLONE_NEWNET))
		die("setns");
}

static int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		printf("# command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* Output of a shell command (trimmed to size). */
static void sh_out(char *buf, size_t size, const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (!p)
		return;
	n = fread(buf, 1, size - 1, p);
	buf[n] = '\0';
	pclose(p);
}

static void cleanup(void)
{
	if (holder_a > 0)
		kill(holder_a, SIGKILL);
	if (holder_b > 0)
		kill(holder_b, SIGKILL);
}

static void setup_mounts(void)
{
	if (unshare(CLONE_NEWNS))
		tita_test_cannot_run("cannot create a mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("make / private");
	/* Only in our namespace: the loader must mount bpffs itself. */
	while (umount2("/sys/fs/bpf", MNT_DETACH) == 0)
		;
}

static void setup_net(void)
{
	ns_init = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns_init < 0)
		die("open own netns");
	holder_a = hold_netns(&ns_a);
	holder_b = hold_netns(&ns_b);
	atexit(cleanup);

	enter(ns_a);
	if (sh("ip link add " VA " address 02:77:00:00:00:01 type veth peer name " VB
	       " address 02:77:00:00:00:02 netns %d",
	       holder_b) ||
	    sh("ip link set lo up && ip link set " VA " up") ||
	    sh("ip addr add " A4 "/24 dev " VA " && ip -6 addr add " A6 "/64 dev " VA " nodad") ||
	    /* Static neighbours: no ARP or ND in the counted traffic. */
	    sh("ip neigh replace " B4 " lladdr 02:77:00:00:00:02 dev " VA " nud permanent") ||
	    sh("ip -6 neigh replace " B6 " lladdr 02:77:00:00:00:02 dev " VA " nud permanent") ||
	    /* The tc pacer's setup (bpf/tx.bpf.c): HTB root, unpaced default
	     * class 1:1, and a shaped class 1:10 picked through skb->priority. */
	    sh("tc qdisc replace dev " VA " root handle 1: htb default 1") ||
	    sh("tc class add dev " VA " parent 1: classid 1:1 htb rate 10gbit quantum 1514") ||
	    sh("tc class add dev " VA
	       " parent 1: classid 1:10 htb rate 20mbit ceil 20mbit quantum 1514 "
	       "burst 4k cburst 4k"))
		tita_test_cannot_run("cannot set up the veth pair and HTB (iproute2 needed)");
	enter(ns_b);
	if (sh("ip link set lo up && ip link set " VB " up") ||
	    sh("ip addr add " B4 "/24 dev " VB " && ip -6 addr add " B6 "/64 dev " VB " nodad") ||
	    sh("ip neigh replace " A4 " lladdr 02:77:00:00:00:01 dev " VB " nud permanent") ||
	    sh("ip -6 neigh replace " A6 " lladdr 02:77:00:00:00:01 dev " VB " nud permanent") ||
	    /* A device without native XDP: dummy, or where that is a module
	     * that is not there, a bridge or an ifb. */
	    sh("ip link add " DUMMY " type dummy 2>/dev/null || ip link add " DUMMY
	       " type bridge 2>/dev/null || ip link add " DUMMY " type ifb") ||
	    sh("ip link set " DUMMY " up"))
		tita_test_cannot_run("cannot configure namespace B");
	enter(ns_init);
}

static uint32_t qp4_entries; /* 0: the loader's default */

static struct tita_bpf *attach(int ns, const char *ifname, enum tita_bpf_xdp_mode xdp,
			       int *ret_errno)
{
	struct tita_bpf_opts o = {
		.ifname = ifname,
		.pin_root = PIN_ROOT,
		.xdp_mode = xdp,
		.rx_qp4_entries = qp4_entries,
	};
	char err[256];
	struct tita_bpf *b;

	o.err_buf = err;
	o.err_len = sizeof(err);
	enter(ns);
	b = tita_bpf_attach(&o);
	if (ret_errno)
		*ret_errno = b ? 0 : errno;
	if (!b)
		printf("# attach %s: %s\n", ifname, err);
	enter(ns_init);
	return b;
}

/* --- Traffic. --- */

struct flow {
	int family;
	uint32_t qp;
	uint8_t opcode;
	uint8_t ecn;
	uint32_t count;
	uint32_t payload; /* UDP payload bytes: BTH + data + ICRC */
	uint16_t port;
};

static int sock_a4 = -1, sock_a6 = -1;
static uint32_t next_psn = 1000;

static void open_sockets(void)
{
	enter(ns_a);
	sock_a4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sock_a6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	enter(ns_init);
	if (sock_a4 < 0 || sock_a6 < 0)
		die("socket");
	/* Room for the whole burst of step 7 in flight, whatever the host's
	 * default socket buffer: the queue must build in HTB, not in here. */
	{
		int bytes = 4 << 20;

		if (setsockopt(sock_a4, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)))
			die("SO_SNDBUFFORCE");
	}
}

/* Send a flow; returns the PSN of its last packet. */
static uint32_t send_flow(const struct flow *f)
{
	uint8_t buf[2048] = { 0 };
	struct sockaddr_in d4 = { .sin_family = AF_INET, .sin_port = htons(f->port) };
	struct sockaddr_in6 d6 = { .sin6_family = AF_INET6, .sin6_port = htons(f->port) };
	int fd = f->family == AF_INET ? sock_a4 : sock_a6;
	int tos = (26 << 2) | f->ecn;
	uint32_t psn = 0;

	inet_pton(AF_INET, B4, &d4.sin_addr);
	inet_pton(AF_INET6, B6, &d6.sin6_addr);
	if (f->family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) :
				   setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos)))
		die("set ECN");
	for (uint32_t i = 0; i < f->count; i++) {
		ssize_t n;

		psn = next_psn++ & 0xffffff;
		/* BTH: opcode, SE/M/pad/tver, P_Key, FECN/BECN, dest QP, A, PSN. */
		buf[0] = f->opcode;
		buf[2] = 0xff;
		buf[3] = 0xff;
		buf[4] = f->opcode == 0x81 ? 0x40 : 0; /* BECN on a CNP */
		buf[5] = (uint8_t)(f->qp >> 16);
		buf[6] = (uint8_t)(f->qp >> 8);
		buf[7] = (uint8_t)f->qp;
		buf[9] = (uint8_t)(psn >> 16);
		buf[10] = (uint8_t)(psn >> 8);
		buf[11] = (uint8_t)psn;
		n = f->family == AF_INET ?
			    sendto(fd, buf, f->payload, 0, (struct sockaddr *)&d4, sizeof(d4)) :
			    sendto(fd, buf, f->payload, 0, (struct sockaddr *)&d6, sizeof(d6));
		if (n != (ssize_t)f->payload)
			die("sendto");
	}
	return psn;
}

static uint64_t frame_bytes(const struct flow *f)
{
	return 14 + (f->family == AF_INET ? 20 : 40) + 8 + f->payload;
}

/* Read until the RX side has seen `packets` RoCE packets (bounded wait). */
static const struct tita_bpf_snapshot *read_until(struct tita_bpf_reader *r, uint64_t packets)
{
	const struct tita_bpf_snapshot *s = NULL;

	for (int i = 0; i < 100; i++) {
		uint64_t seen = 0;

		if (tita_bpf_read(r, monotonic_ns(), &s))
			die("read");
		for (size_t k = 0; k < s->n_rx_peers; k++)
			seen += s->rx_peers[k].total.packets;
		if (seen >= packets)
			return s;
		sleep_ms(50);
	}
	return s;
}

static struct tita_addr addr_of(const char *s)
{
	struct tita_addr a = { 0 };
	uint8_t v4[4];

	if (inet_pton(AF_INET, s, v4) == 1)
		return tita_addr_from_ipv4(v4);
	inet_pton(AF_INET6, s, a.bytes);
	return a;
}

static const struct tita_bpf_rx_qp *find_qp(const struct tita_bpf_snapshot *s,
					    const struct tita_addr *src, uint32_t qp)
{
	for (size_t i = 0; i < s->n_rx_qps; i++)
		if (tita_addr_eq(&s->rx_qps[i].remote, src) && s->rx_qps[i].dst_qp == qp)
			return &s->rx_qps[i];
	return NULL;
}

/* The flows of step 4, and what B must have counted from them. */
static const struct flow flows[] = {
	{ AF_INET, 0x000011, 0x0a, 2, 100, 1024 + 16, 4791 }, /* WRITE ONLY, ECT(0) */
	{ AF_INET, 0x000011, 0x07, 3, 50, 1024 + 16, 4791 }, /* WRITE MIDDLE, CE */
	{ AF_INET, 0x000022, 0x04, 0, 30, 256 + 16, 4791 }, /* SEND ONLY, not-ECT */
	{ AF_INET, 0x000022, 0x04, 1, 20, 256 + 16, 4791 }, /* SEND ONLY, ECT(1) */
	{ AF_INET, 0x000033, 0x81, 0, 5, 12 + 16 + 4, 4791 }, /* CNP */
	{ AF_INET6, 0x000044, 0x0a, 3, 40, 512 + 16, 4791 }, /* IPv6, CE */
	{ AF_INET, 0x000011, 0x0a, 2, 10, 100, 9999 }, /* not RoCE: port 9999 */
};

static void check_rx(const struct tita_bpf_snapshot *s, const uint32_t *last_psn, uint32_t scale)
{
	struct tita_addr a4 = addr_of(A4), a6 = addr_of(A6);
	uint64_t not_roce = 0;

	for (int fam = 0; fam < 2; fam++) {
		const struct tita_addr *src = fam ? &a6 : &a4;
		const struct tita_bpf_rx_peer *p = tita_bpf_snapshot_rx_peer(s, src);
		struct tita_bpf_rx_counts want = { 0 };

		for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
			const struct flow *f = &flows[i];

			if ((f->family == AF_INET6) != fam || f->port != 4791)
				continue;
			want.packets += f->count;
			want.bytes += f->count * frame_bytes(f);
			want.ce_packets += f->ecn == 3 ? f->count : 0;
			want.ect0_packets += f->ecn == 2 ? f->count : 0;
			want.ect1_packets += f->ecn == 1 ? f->count : 0;
			want.not_ect_packets += f->ecn == 0 ? f->count : 0;
			want.cnp_packets += f->opcode == 0x81 ? f->count : 0;
		}
		CHECK(p && p->total.packets == want.packets * scale &&
			      p->total.bytes == want.bytes * scale &&
			      p->total.ce_packets == want.ce_packets * scale &&
			      p->total.ect0_packets == want.ect0_packets * scale &&
			      p->total.ect1_packets == want.ect1_packets * scale &&
			      p->total.not_ect_packets == want.not_ect_packets * scale &&
			      p->total.cnp_packets == want.cnp_packets * scale,
		      "RX from %s: %llu packets %llu bytes ce %llu ect0 %llu ect1 %llu not-ect %llu "
		      "cnp %llu (sent %llu packets %llu bytes)",
		      fam ? A6 : A4, p ? (unsigned long long)p->total.packets : 0,
		      p ? (unsigned long long)p->total.bytes : 0,
		      p ? (unsigned long long)p->total.ce_packets : 0,
		      p ? (unsigned long long)p->total.ect0_packets : 0,
		      p ? (unsigned long long)p->total.ect1_packets : 0,
		      p ? (unsigned long long)p->total.not_ect_packets : 0,
		      p ? (unsigned long long)p->total.cnp_packets : 0,
		      (unsigned long long)(want.packets * scale),
		      (unsigned long long)(want.bytes * scale));
	}
	/* Per QP: counts, and the PSN of the last packet sent to it. */
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		const struct flow *f = &flows[i];
		struct tita_addr src = f->family == AF_INET ? a4 : a6;
		const struct tita_bpf_rx_qp *q;
		uint64_t packets = 0;
		uint32_t psn = 0;

		bool seen = false;

		if (f->port != 4791) {
			not_roce += f->count * scale;
			continue;
		}
		for (size_t k = 0; k < i; k++)
			seen |= flows[k].qp == f->qp && flows[k].family == f->family &&
				flows[k].port == 4791;
		if (seen)
			continue; /* one check per QP */
		for (size_t k = 0; k < sizeof(flows) / sizeof(flows[0]); k++)
			if (flows[k].qp == f->qp && flows[k].family == f->family &&
			    flows[k].port == 4791) {
				packets += flows[k].count * scale;
				psn = last_psn[k];
			}
		q = find_qp(s, &src, f->qp);
		CHECK(q && q->total.packets == packets && q->last_psn == psn,
		      "RX QP %#x: %llu packets, last PSN %u (expected %llu, %u)", f->qp,
		      q ? (unsigned long long)q->total.packets : 0, q ? q->last_psn : 0,
		      (unsigned long long)packets, psn);
	}
	CHECK(s->rx_reasons_total.packets[TITA_REASON_NOT_ROCE_PORT] == not_roce,
	      "RX not-RoCE UDP: %llu (sent %llu)",
	      (unsigned long long)s->rx_reasons_total.packets[TITA_REASON_NOT_ROCE_PORT],
	      (unsigned long long)not_roce);
}

static void check_tx(const struct tita_bpf_snapshot *s)
{
	for (int fam = 0; fam < 2; fam++) {
		struct tita_addr dst = addr_of(fam ? B6 : B4);
		const struct tita_bpf_tx_peer *p = tita_bpf_snapshot_tx_peer(s, &dst);
		struct tita_bpf_tx_counts want = { 0 };

		for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
			const struct flow *f = &flows[i];

			if ((f->family == AF_INET6) != fam)
				continue;
			want.packets += f->count;
			want.bytes += f->count * frame_bytes(f);
			want.roce_packets += f->port == 4791 ? f->count : 0;
			want.ce_packets += f->ecn == 3 ? f->count : 0;
			want.ect0_packets += f->ecn == 2 ? f->count : 0;
			want.ect1_packets += f->ecn == 1 ? f->count : 0;
			want.not_ect_packets += f->ecn == 0 ? f->count : 0;
		}
		/* Only RoCEv2 is classified: other UDP to the host stays unpaced. */
		want.classified_packets = fam ? 0 : want.roce_packets;
		CHECK(p && p->total.packets == want.packets && p->total.bytes == want.bytes &&
			      p->total.roce_packets == want.roce_packets &&
			      p->total.ce_packets == want.ce_packets &&
			      p->total.ect0_packets == want.ect0_packets &&
			      p->total.ect1_packets == want.ect1_packets &&
			      p->total.not_ect_packets == want.not_ect_packets &&
			      p->total.classified_packets == want.classified_packets,
		      "TX to %s: %llu packets %llu bytes roce %llu classified %llu (sent %llu, %llu "
		      "bytes, %llu RoCE, %llu to classify)",
		      fam ? B6 : B4, p ? (unsigned long long)p->total.packets : 0,
		      p ? (unsigned long long)p->total.bytes : 0,
		      p ? (unsigned long long)p->total.roce_packets : 0,
		      p ? (unsigned long long)p->total.classified_packets : 0,
		      (unsigned long long)want.packets, (unsigned long long)want.bytes,
		      (unsigned long long)want.roce_packets,
		      (unsigned long long)want.classified_packets);
	}
}

/* created_ns of B's IPv4 entry (A4, qp), straight from the pinned map. */
static uint64_t created_ns_of(uint32_t qp)
{
	struct tita_qp4_key k = { .dst_qp = qp };
	struct tita_rx_counters *v;
	int ncpu = libbpf_num_possible_cpus(), fd;
	uint64_t created = 0;

	inet_pton(AF_INET, A4, &k.addr);
	fd = bpf_obj_get(PIN_ROOT "/" VB "/" TITA_MAP_RX_QP4);
	v = calloc((size_t)ncpu, sizeof(*v));
	if (fd >= 0 && v && bpf_map_lookup_elem(fd, &k, v) == 0)
		for (int c = 0; c < ncpu; c++)
			if (v[c].created_ns > created)
				created = v[c].created_ns;
	free(v);
	if (fd >= 0)
		close(fd);
	return created;
}

/*
 * 5b. LRU eviction. B's IPv4 table is shrunk to 1024 entries (the loader
 * recreates the pinned map, so it starts over); QPs 0-9 get one packet,
 * are read, get evicted by 3000 other QPs, and come back with two packets
 * each before the next read. The reader must say 2 for each (a plain
 * difference with the previous read would say 1), and nothing may go
 * negative or backwards.
 */
static struct tita_bpf *check_eviction(struct tita_bpf *ta, struct tita_bpf *tb)
{
	struct tita_addr a4 = addr_of(A4), b4 = addr_of(B4);
	const struct tita_bpf_snapshot *s;
	const struct tita_bpf_rx_peer *p;
	struct tita_bpf_reader *rb;
	uint64_t created0, total_before;
	bool exact = true, bounded = true;

	tita_bpf_free(tb);
	qp4_entries = 1024;
	tb = attach(ns_b, VB, TITA_BPF_XDP_AUTO, NULL);
	qp4_entries = 0;
	if (!tb)
		die("re-attach B with a small table");
	/* Unpaced for this step: 3000 packets must not overflow HTB's 1:10. */
	tita_bpf_class_clear(ta, &b4);
	rb = tita_bpf_reader_new(tb);
	if (!rb || tita_bpf_read(rb, monotonic_ns(), &s))
		die("reader");
	CHECK(!tita_bpf_snapshot_rx_peer(s, &a4), "a resized table starts over");

	for (uint32_t qp = 0; qp < 10; qp++)
		send_flow(&(struct flow){ AF_INET, qp, 0x04, 2, 1, 16, 4791 });
	s = read_until(rb, 10);
	p = tita_bpf_snapshot_rx_peer(s, &a4);
	CHECK(p && p->total.packets == 10 && p->qps == 10, "10 QPs with one packet each");
	total_before = p ? p->total.packets : 0;
	created0 = created_ns_of(0);

	for (uint32_t qp = 10000; qp < 13000; qp++)
		send_flow(&(struct flow){ AF_INET, qp, 0x04, 2, 1, 16, 4791 });
	for (uint32_t qp = 0; qp < 10; qp++)
		send_flow(&(struct flow){ AF_INET, qp, 0x04, 2, 2, 16, 4791 });
	sleep_ms(500);
	if (tita_bpf_read(rb, monotonic_ns(), &s))
		die("read");
	CHECK(created_ns_of(0) != created0 && created_ns_of(0) != 0,
	      "QP 0 was evicted and created again");
	for (uint32_t qp = 0; qp < 10; qp++) {
		const struct tita_bpf_rx_qp *q = find_qp(s, &a4, qp);

		exact &= q && q->delta.packets == 2 && q->total.packets == 2;
	}
	CHECK(exact, "each recreated QP: delta 2, counted from zero");
	for (size_t i = 0; i < s->n_rx_qps; i++)
		bounded &= s->rx_qps[i].delta.packets <= 2 &&
			   s->rx_qps[i].delta.bytes <= s->rx_qps[i].total.bytes;
	p = tita_bpf_snapshot_rx_peer(s, &a4);
	CHECK(bounded && p && p->delta.packets <= 3020 && p->delta.packets >= 20 &&
		      p->total.packets == total_before + p->delta.packets && p->qps <= 1024,
	      "no delta negative or inflated; peer total %llu = %llu + delta %llu over %u QPs",
	      p ? (unsigned long long)p->total.packets : 0, (unsigned long long)total_before,
	      p ? (unsigned long long)p->delta.packets : 0, p ? p->qps : 0);
	tita_bpf_reader_free(rb);
	tita_bpf_class_set(ta, &b4, CLASS_SHAPED, 0);
	return tb;
}

/* A foreign XDP program: XDP_PASS, loaded by hand, not pinned anywhere. */
static int foreign_xdp(void)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = XDP_PASS }, /* r0 = XDP_PASS */
		{ .code = 0x95 }, /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o);

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "not_tita", "GPL", insns, 2, &o);
}

static uint32_t xdp_attached(int ns, const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex;

	enter(ns);
	ifindex = (int)if_nametoindex(ifname);
	if (bpf_xdp_query(ifindex, 0, &q))
		q.prog_id = 0;
	enter(ns_init);
	return q.drv_prog_id | q.skb_prog_id | q.hw_prog_id;
}

static bool prog_gone(uint32_t id)
{
	/* Programs are freed after an RCU grace period: poll a little. */
	for (int i = 0; i < 100 && id; i++) {
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0 && errno == ENOENT)
			return true;
		if (fd >= 0)
			close(fd);
		sleep_ms(20);
	}
	return !id;
}

int main(void)
{
	struct tita_bpf *ta, *tb, *td;
	struct tita_bpf_reader *ra, *rb;
	const struct tita_bpf_snapshot *s;
	struct tita_bpf_info ia, ib, ib2;
	uint32_t last_psn[sizeof(flows) / sizeof(flows[0])];
	uint64_t sent_roce = 0;
	char out[4096];
	struct stat st;
	int err, fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tita_test_require_root();
	setup_mounts();
	setup_net();

	/* 1-2. Attach; bpffs gets mounted by the loader. */
	tb = attach(ns_b, VB, TITA_BPF_XDP_AUTO, &err);
	if (!tb && (err == EPERM || err == EACCES))
		tita_test_cannot_run("BPF is not permitted here");
	if (!tb)
		die("attach B");
	ta = attach(ns_a, VA, TITA_BPF_XDP_AUTO, NULL);
	if (!ta)
		die("attach A");
	tita_bpf_get_info(ta, &ia);
	tita_bpf_get_info(tb, &ib);
	CHECK(ib.bpffs_mounted, "the loader mounted the missing bpffs");
	CHECK(ib.xdp_mode == TITA_BPF_XDP_NATIVE, "XDP native on veth");
	CHECK(ia.tc_attached && ib.tc_attached, "tc egress attached on both");
	CHECK(ia.queue_attached, "queue sampler attached (%s)",
	      ia.queue_attached ? "BTF present" : ia.queue_off_reason);
	CHECK(!ib.maps_reused, "fresh maps on first attach");
	CHECK(stat(PIN_ROOT "/" VB "/tita_rx_qp4", &st) == 0 &&
		      stat(PIN_ROOT "/" VB "/xdp_prog", &st) == 0 &&
		      stat(PIN_ROOT "/" VA "/queue_link", &st) == 0,
	      "maps, programs and the sampler's link pinned under " PIN_ROOT);

	/* 3. The pacer's class for B4. */
	{
		struct tita_addr b4 = addr_of(B4);

		CHECK(tita_bpf_class_set(ta, &b4, CLASS_SHAPED, 0) == 0, "class 1:10 set for " B4);
	}

	/* 4. Traffic with chosen ECN bits; baseline reads first. */
	ra = tita_bpf_reader_new(ta);
	rb = tita_bpf_reader_new(tb);
	if (!ra || !rb)
		die("reader");
	if (tita_bpf_read(ra, monotonic_ns(), &s) || tita_bpf_read(rb, monotonic_ns(), &s))
		die("first read");
	open_sockets();
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		last_psn[i] = send_flow(&flows[i]);
		sent_roce += flows[i].port == 4791 ? flows[i].count : 0;
	}
	s = read_until(rb, sent_roce);
	sleep_ms(200); /* and nothing more arrives */
	if (tita_bpf_read(rb, monotonic_ns(), &s))
		die("read B");
	check_rx(s, last_psn, 1);
	{
		struct tita_rx_sample rx;
		struct tita_addr a4 = addr_of(A4), b4 = addr_of(B4);
		const struct tita_bpf_rx_peer *p = tita_bpf_snapshot_rx_peer(s, &a4);

		if (p) {
			tita_bpf_rx_sample(s, p, &b4, &rx);
			CHECK(rx.interval_ns > 0 && tita_addr_eq(&rx.remote, &a4),
			      "tita_rx_sample filled (interval %llu ns, %llu bytes in it)",
			      (unsigned long long)rx.interval_ns, (unsigned long long)rx.rx_bytes);
		}
	}
	if (tita_bpf_read(ra, monotonic_ns(), &s))
		die("read A");
	check_tx(s);
	enter(ns_a);
	sh_out(out, sizeof(out), "tc -s class show dev " VA " classid 1:10");
	enter(ns_init);
	{
		unsigned long long pkts = 0;
		const char *sent = strstr(out, "Sent ");

		if (sent)
			sscanf(sent, "Sent %*u bytes %llu pkt", &pkts);
		CHECK(pkts >= 205, "HTB class 1:10 carried the classified packets (%llu)", pkts);
	}

	/* 5. Restart: the counters survive, the programs are replaced. */
	tita_bpf_reader_free(rb);
	tita_bpf_free(tb);
	tb = attach(ns_b, VB, TITA_BPF_XDP_AUTO, NULL);
	if (!tb)
		die("re-attach B");
	tita_bpf_get_info(tb, &ib2);
	CHECK(ib2.maps_reused, "re-attach reused the pinned maps");
	CHECK(ib2.xdp_prog_id != ib.xdp_prog_id && xdp_attached(ns_b, VB) == ib2.xdp_prog_id,
	      "re-attach replaced our XDP program (%u -> %u)", ib.xdp_prog_id, ib2.xdp_prog_id);
	CHECK(prog_gone(ib.xdp_prog_id) && prog_gone(ib.tc_prog_id) && prog_gone(ib.queue_prog_id),
	      "the old XDP, tc and sampler programs are gone (tc replaced, link swapped)");
	CHECK(ib2.tc_attached && ib2.queue_attached, "tc and the sampler re-attached");
	rb = tita_bpf_reader_new(tb);
	if (!rb || tita_bpf_read(rb, monotonic_ns(), &s))
		die("read after restart");
	check_rx(s, last_psn, 1);
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++)
		last_psn[i] = send_flow(&flows[i]);
	s = read_until(rb, 2 * sent_roce);
	sleep_ms(200);
	if (tita_bpf_read(rb, monotonic_ns(), &s))
		die("read B");
	check_rx(s, last_psn, 2);

	tita_bpf_reader_free(rb);
	tb = check_eviction(ta, tb);
	rb = NULL;

	/* 6. Someone else's XDP program. */
	fd = foreign_xdp();
	if (fd < 0)
		die("load foreign XDP");
	enter(ns_b);
	if (bpf_xdp_attach((int)if_nametoindex(DUMMY), fd, XDP_FLAGS_SKB_MODE, NULL))
		die("attach foreign XDP");
	enter(ns_init);
	{
		uint32_t foreign = xdp_attached(ns_b, DUMMY);

		td = attach(ns_b, DUMMY, TITA_BPF_XDP_AUTO, &err);
		CHECK(!td && err == EBUSY, "attach refuses to replace a foreign XDP program (%s)",
		      strerror(err));
		CHECK(xdp_attached(ns_b, DUMMY) == foreign, "the foreign program is untouched");
		CHECK(stat(PIN_ROOT "/" DUMMY, &st) != 0, "a refused attach leaves no pins");
	}
	enter(ns_b);
	bpf_xdp_detach((int)if_nametoindex(DUMMY), XDP_FLAGS_SKB_MODE, NULL);
	enter(ns_init);
	close(fd);
	td = attach(ns_b, DUMMY, TITA_BPF_XDP_AUTO, NULL);
	if (td) {
		struct tita_bpf_info id;

		tita_bpf_get_info(td, &id);
		CHECK(id.xdp_mode == TITA_BPF_XDP_GENERIC,
		      "no native XDP on " DUMMY ": generic fallback");
		enter(ns_b);
		CHECK(tita_bpf_detach(td) == 0, "detach " DUMMY);
		enter(ns_init);
		tita_bpf_free(td);
	} else {
		CHECK(false, "attach to " DUMMY " after the foreign program left");
	}

	/* 7. A burst into the shaped class: HTB queues it. */
	{
		const struct tita_bpf_queue *q = NULL;
		struct flow burst = { AF_INET, 0x000055, 0x07, 2, 300, 1200, 4791 };

		if (tita_bpf_read(ra, monotonic_ns(), &s))
			die("read A");
		send_flow(&burst);
		sleep_ms(600); /* 360 kB at 20 Mbit/s drains in ~150 ms */
		if (tita_bpf_read(ra, monotonic_ns(), &s))
			die("read A");
		for (size_t i = 0; i < s->n_queues; i++)
			if (s->queues[i].txq == 0)
				q = &s->queues[i];
		CHECK(q && q->hwm_bytes >= 100000 && q->hwm_packets >= 50,
		      "queue high-water mark %llu bytes, %llu packets",
		      q ? (unsigned long long)q->hwm_bytes : 0,
		      q ? (unsigned long long)q->hwm_packets : 0);
		CHECK(q && q->delay_samples > 0 && q->delay_max_ns >= 10000000ull &&
			      q->delay_max_ns <= 2000000000ull,
		      "queueing delay sampled: max %.1f ms, avg %.1f ms, %llu samples",
		      q ? (double)q->delay_max_ns / 1e6 : 0.0,
		      q ? (double)q->delay_avg_ns / 1e6 : 0.0,
		      q ? (unsigned long long)q->delay_samples : 0);
		/* A FIFO drained at 20 Mbit/s: the longest sampled delay is about
		 * the high-water backlog's drain time (the marker starts behind
		 * a backlog of at most that size). */
		if (q && q->hwm_bytes) {
			double drain_ns = (double)q->hwm_bytes * 8 / 20e6 * 1e9;

			CHECK((double)q->delay_max_ns >= 0.25 * drain_ns &&
				      (double)q->delay_max_ns <= 1.5 * drain_ns,
			      "max delay %.1f ms fits the backlog's drain time %.1f ms",
			      (double)q->delay_max_ns / 1e6, drain_ns / 1e6);
		}
		sleep_ms(100);
		if (tita_bpf_read(ra, monotonic_ns(), &s))
			die("read A");
		q = NULL;
		for (size_t i = 0; i < s->n_queues; i++)
			if (s->queues[i].txq == 0)
				q = &s->queues[i];
		CHECK(!q || (q->hwm_bytes == 0 && q->backlog_bytes == 0),
		      "an idle interval reports no backlog");
	}

	/* 8. Detach everything and check that nothing is left. */
	tita_bpf_get_info(ta, &ia);
	tita_bpf_get_info(tb, &ib);
	tita_bpf_reader_free(ra);
	tita_bpf_reader_free(rb);
	enter(ns_a);
	CHECK(tita_bpf_detach(ta) == 0, "detach A");
	enter(ns_b);
	CHECK(tita_bpf_detach(tb) == 0, "detach B");
	enter(ns_init);
	tita_bpf_free(ta);
	tita_bpf_free(tb);
	CHECK(xdp_attached(ns_b, VB) == 0 && xdp_attached(ns_a, VA) == 0, "no XDP program left");
	enter(ns_a);
	sh_out(out, sizeof(out), "tc filter show dev " VA " egress; tc qdisc show dev " VA);
	enter(ns_init);
	CHECK(!strstr(out, "bpf") && !strstr(out, "clsact"), "no tc filter or clsact on " VA);
	enter(ns_b);
	sh_out(out, sizeof(out), "tc filter show dev " VB " egress; tc qdisc show dev " VB);
	enter(ns_init);
	CHECK(!strstr(out, "bpf") && !strstr(out, "clsact"), "no tc filter or clsact on " VB);
	CHECK(stat(PIN_ROOT, &st) != 0, "no pins left (%s is gone)", PIN_ROOT);
	CHECK(prog_gone(ia.tc_prog_id) && prog_gone(ib.xdp_prog_id) && prog_gone(ib.tc_prog_id) &&
		      prog_gone(ia.queue_prog_id),
	      "every program freed (the sampler's link is gone with its pin)");

	printf("# %d failures\n", failures);
	return failures ? 1 : 0;
}
