// SPDX-License-Identifier: MIT
/*
 * One fixture table, three judges. tests/bpf/fixtures.py builds the frames
 * with scapy and says what each one is; then, frame by frame:
 *
 *   1. the XDP program under BPF_PROG_TEST_RUN, read back from its maps
 *      alone (which table entry and which reason counter moved, by how much,
 *      with which PSN, opcode and ECN counter);
 *   2. the lib/ twin parser, tita_roce_parse();
 *   3. tshark dissecting a pcap of the same frames (Wireshark decodes UDP
 *      port 4791 as RoCEv2, "RRoCE", by default: no -d needed);
 *
 * each compared field by field with the table, hence with each other.
 * Every frame must come back XDP_PASS; after the run the XDP maps must hold
 * exactly what the table adds up to. Then the tc egress program runs over
 * the same frames (verdict, classification into skb->priority, per-
 * destination counters, reasons), and the RX tables once more with the
 * per-source knob.
 *
 * usage: test-bpf-fixtures FIXTURES.PY   (root; exits 77 when it cannot run,
 * fails instead when CI=true)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "tita.skel.h"
#include "tita/roce.h"

#define MAX_FIXTURES 256
#define MAX_FRAME 4096

struct fixture {
	char name[64];
	uint32_t len;
	int reason;
	uint32_t vlans, l3, ecn;
	struct tita_addr src, dst;
	bool has_bth;
	uint32_t opcode, qp, psn;
	uint8_t frame[MAX_FRAME];
};

static struct fixture fx[MAX_FIXTURES];
static size_t n_fx;
static int failures;
static char tmpdir[64];
static char pcap_path[128], tsv_path[128];

static void __attribute__((format(printf, 2, 3))) bad(const struct fixture *f, const char *fmt, ...)
{
	va_list ap;

	printf("not ok - %s: ", f ? f->name : "totals");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures++;
}

static void cleanup(void)
{
	if (!tmpdir[0])
		return;
	unlink(pcap_path);
	unlink(tsv_path);
	rmdir(tmpdir);
}

static bool parse_addr(const char *s, struct tita_addr *a)
{
	uint8_t v4[4];

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, v4) == 1) {
		*a = tita_addr_from_ipv4(v4);
		return true;
	}
	return inet_pton(AF_INET6, s, a->bytes) == 1;
}

static const char *addr_str(const struct tita_addr *a, char *buf)
{
	if (tita_addr_is_ipv4(a))
		return inet_ntop(AF_INET, &a->bytes[12], buf, INET6_ADDRSTRLEN);
	return inet_ntop(AF_INET6, a->bytes, buf, INET6_ADDRSTRLEN);
}

/* Run the generator (scapy) into a private temporary directory. */
static void generate(const char *script)
{
	const char *py = tita_test_python();
	int status;
	pid_t pid;

	strcpy(tmpdir, "/tmp/tita-fixtures-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(pcap_path, sizeof(pcap_path), "%s/fixtures.pcap", tmpdir);
	snprintf(tsv_path, sizeof(tsv_path), "%s/fixtures.tsv", tmpdir);
	pid = fork();
	if (pid == 0) {
		execlp(py, py, script, pcap_path, tsv_path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		tita_test_cannot_run("%s %s failed: the fixture generator needs python3-scapy", py,
				     script);
}

static void load_tsv(void)
{
	FILE *f = fopen(tsv_path, "r");
	char line[1024];

	if (!f) {
		perror(tsv_path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		char *col[11], *p = line, *tok;
		struct fixture *x;
		int n = 0;

		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		while (n < 11 && (tok = strsep(&p, "\t")))
			col[n++] = tok;
		if (n != 11 || n_fx >= MAX_FIXTURES) {
			fprintf(stderr, "bad fixture line: %s\n", line);
			exit(1);
		}
		x = &fx[n_fx++];
		snprintf(x->name, sizeof(x->name), "%s", col[0]);
		x->len = (uint32_t)strtoul(col[1], NULL, 10);
		x->reason = tita_roce_reason_from_name(col[2]);
		if (x->reason < 0) {
			fprintf(stderr, "%s: unknown reason %s\n", x->name, col[2]);
			exit(1);
		}
		x->vlans = (uint32_t)strtoul(col[3], NULL, 10);
		x->l3 = (uint32_t)strtoul(col[4], NULL, 10);
		if (x->l3 && (!parse_addr(col[5], &x->src) || !parse_addr(col[6], &x->dst))) {
			fprintf(stderr, "%s: bad address\n", x->name);
			exit(1);
		}
		x->ecn = (uint32_t)strtoul(col[7], NULL, 10);
		x->has_bth = strcmp(col[8], "-") != 0;
		if (x->has_bth) {
			x->opcode = (uint32_t)strtoul(col[8], NULL, 10);
			x->qp = (uint32_t)strtoul(col[9], NULL, 10);
			x->psn = (uint32_t)strtoul(col[10], NULL, 10);
		}
	}
	fclose(f);
}

static void load_pcap(void)
{
	FILE *f = fopen(pcap_path, "rb");
	uint32_t gh[6], rh[4];
	size_t i = 0;

	if (!f || fread(gh, sizeof(gh), 1, f) != 1 ||
	    (gh[0] != 0xa1b2c3d4 && gh[0] != 0xa1b23c4d) || gh[5] != 1) {
		fprintf(stderr, "%s: not a little-endian Ethernet pcap\n", pcap_path);
		exit(1);
	}
	while (fread(rh, sizeof(rh), 1, f) == 1) {
		if (i >= n_fx || rh[2] != fx[i].len || rh[2] > MAX_FRAME ||
		    fread(fx[i].frame, rh[2], 1, f) != (rh[2] ? 1u : 0u)) {
			fprintf(stderr, "pcap frame %zu does not match the table\n", i);
			exit(1);
		}
		i++;
	}
	fclose(f);
	if (i != n_fx) {
		fprintf(stderr, "pcap has %zu frames, table %zu\n", i, n_fx);
		exit(1);
	}
}

/* --- Judge 2: the twin parser. --- */

static void judge_twin(const struct fixture *f)
{
	struct tita_roce_frame r;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	static const struct tita_addr zero;

	tita_roce_parse(f->frame, f->len, &r);
	if ((int)r.reason != f->reason) {
		bad(f, "twin: reason %s, table %s", tita_roce_reason_name(r.reason),
		    tita_roce_reason_name((uint32_t)f->reason));
		return;
	}
	if (r.vlans != f->vlans || r.l3 != f->l3 || r.bytes != f->len)
		bad(f, "twin: vlans %u l3 %u bytes %u, table %u %u %u", r.vlans, r.l3, r.bytes,
		    f->vlans, f->l3, f->len);
	if (f->l3 &&
	    (!tita_addr_eq(&r.src, &f->src) || !tita_addr_eq(&r.dst, &f->dst) || r.ecn != f->ecn))
		bad(f, "twin: %s > %s ecn %u", addr_str(&r.src, a), addr_str(&r.dst, b), r.ecn);
	if (!f->l3 && (!tita_addr_eq(&r.src, &zero) || r.ecn))
		bad(f, "twin: L3 fields set without an IP header");
	if (f->reason == TITA_REASON_ROCE || f->reason == TITA_REASON_BAD_OPCODE) {
		if (r.opcode != f->opcode || r.dst_qp != f->qp || r.psn != f->psn)
			bad(f, "twin: BTH opcode %#x qp %#x psn %u, table %#x %#x %u", r.opcode,
			    r.dst_qp, r.psn, f->opcode, f->qp, f->psn);
	} else if (r.opcode || r.dst_qp || r.psn) {
		bad(f, "twin: BTH fields set for reason %s", tita_roce_reason_name(r.reason));
	}
}

/* --- Judge 1: the XDP program, seen through its maps. --- */

struct rx_row {
	uint32_t l3;
	struct tita_addr src;
	uint32_t qp;
	struct tita_rx_counters c; /* summed; last_* from the latest CPU */
};

struct rx_dump {
	struct rx_row rows[MAX_FIXTURES];
	size_t n;
	struct tita_reason_counters reason[TITA_REASON_MAX];
};

static int ncpu;
/* Per-CPU value buffers, sized for ncpu in main(). */
static void *valbuf;

static void sum_rx_value(const void *vals, struct tita_rx_counters *out)
{
	size_t stride = (sizeof(struct tita_rx_counters) + 7) & ~(size_t)7;
	uint64_t latest = 0;

	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpu; c++) {
		const struct tita_rx_counters *v = (const void *)((const char *)vals + c * stride);

		out->packets += v->packets;
		out->bytes += v->bytes;
		out->ce_packets += v->ce_packets;
		out->ect0_packets += v->ect0_packets;
		out->ect1_packets += v->ect1_packets;
		out->not_ect_packets += v->not_ect_packets;
		out->cnp_packets += v->cnp_packets;
		out->oos_packets += v->oos_packets;
		if (v->packets && v->last_seen_jiffies >= latest) {
			latest = v->last_seen_jiffies;
			out->last_psn = v->last_psn;
			out->last_opcode = v->last_opcode;
		}
	}
}

static void sum_reasons(int fd, struct tita_reason_counters *out)
{
	struct tita_reason_counters *v = valbuf;

	for (uint32_t i = 0; i < TITA_REASON_MAX; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (bpf_map_lookup_elem(fd, &i, v)) {
			perror("reason lookup");
			exit(1);
		}
		for (int c = 0; c < ncpu; c++) {
			out[i].packets += v[c].packets;
			out[i].bytes += v[c].bytes;
		}
	}
}

/* Walk a table with get_next_key: independent of the reader library. */
static void dump_rx(struct tita *s, struct rx_dump *d)
{
	char *vals = valbuf;

	d->n = 0;
	for (int fam = 4; fam <= 6; fam += 2) {
		int fd = bpf_map__fd(fam == 4 ? s->maps.tita_rx_qp4 : s->maps.tita_rx_qp6);
		struct tita_qp6_key k6, next6;
		struct tita_qp4_key k4, next4;
		void *key = NULL, *next = fam == 4 ? (void *)&next4 : (void *)&next6;

		while (bpf_map_get_next_key(fd, key, next) == 0) {
			struct rx_row *r = &d->rows[d->n++];

			if (d->n > MAX_FIXTURES) {
				fprintf(stderr, "too many table entries\n");
				exit(1);
			}
			if (bpf_map_lookup_elem(fd, next, vals)) {
				perror("lookup");
				exit(1);
			}
			r->l3 = (uint32_t)fam;
			if (fam == 4) {
				r->src = tita_addr_from_ipv4((const uint8_t *)&next4.addr);
				r->qp = next4.dst_qp;
				k4 = next4;
				key = &k4;
			} else {
				memcpy(r->src.bytes, next6.addr, 16);
				r->qp = next6.dst_qp;
				k6 = next6;
				key = &k6;
			}
			sum_rx_value(vals, &r->c);
		}
	}
	sum_reasons(bpf_map__fd(s->maps.tita_rx_reason), d->reason);
}

static const struct rx_row *find_rx(const struct rx_dump *d, const struct rx_row *k)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->rows[i].l3 == k->l3 && d->rows[i].qp == k->qp &&
		    tita_addr_eq(&d->rows[i].src, &k->src))
			return &d->rows[i];
	return NULL;
}

static int run_xdp(int fd, const struct fixture *f)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->frame, .data_size_in = f->len, .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o)) {
		bad(f, "XDP test run: %s", strerror(errno));
		return -1;
	}
	if (o.retval != XDP_PASS) {
		bad(f, "XDP returned %u, not XDP_PASS", o.retval);
		return -1;
	}
	return 0;
}

static void judge_xdp(struct tita *s, const struct fixture *f)
{
	static struct rx_dump before, after;
	const struct rx_row *changed = NULL;
	struct tita_rx_counters d = { 0 };
	int moved = -1, n_changed = 0;
	char a[INET6_ADDRSTRLEN];

	dump_rx(s, &before);
	if (run_xdp(bpf_program__fd(s->progs.tita_xdp_rx), f))
		return;
	dump_rx(s, &after);

	for (size_t i = 0; i < after.n; i++) {
		const struct rx_row *r = &after.rows[i], *o = find_rx(&before, r);
		uint64_t dp = r->c.packets - (o ? o->c.packets : 0);

		if (!dp)
			continue;
		n_changed++;
		changed = r;
		d.packets = dp;
		d.bytes = r->c.bytes - (o ? o->c.bytes : 0);
		d.ce_packets = r->c.ce_packets - (o ? o->c.ce_packets : 0);
		d.ect0_packets = r->c.ect0_packets - (o ? o->c.ect0_packets : 0);
		d.ect1_packets = r->c.ect1_packets - (o ? o->c.ect1_packets : 0);
		d.not_ect_packets = r->c.not_ect_packets - (o ? o->c.not_ect_packets : 0);
		d.cnp_packets = r->c.cnp_packets - (o ? o->c.cnp_packets : 0);
	}
	for (int i = 0; i < TITA_REASON_MAX; i++) {
		uint64_t dp = after.reason[i].packets - before.reason[i].packets;
		uint64_t db = after.reason[i].bytes - before.reason[i].bytes;

		if (!dp)
			continue;
		if (moved >= 0 || dp != 1 || db != f->len)
			bad(f, "XDP: reason counters moved oddly (%s +%llu pkts +%llu bytes)",
			    tita_roce_reason_name((uint32_t)i), (unsigned long long)dp,
			    (unsigned long long)db);
		moved = i;
	}

	if (f->reason != TITA_REASON_ROCE) {
		if (n_changed)
			bad(f, "XDP: accounted a frame the table says is %s",
			    tita_roce_reason_name((uint32_t)f->reason));
		if (moved != f->reason)
			bad(f, "XDP: reason %s, table %s",
			    moved < 0 ? "(none)" : tita_roce_reason_name((uint32_t)moved),
			    tita_roce_reason_name((uint32_t)f->reason));
		return;
	}
	/* Accounted frames move one table entry and no reason counter. */
	if (n_changed != 1 || moved >= 0) {
		bad(f, "XDP: %d entries changed, reason %s; expected one entry", n_changed,
		    moved < 0 ? "(none)" : tita_roce_reason_name((uint32_t)moved));
		return;
	}
	if (changed->l3 != f->l3 || !tita_addr_eq(&changed->src, &f->src) || changed->qp != f->qp)
		bad(f, "XDP: entry (v%u %s, qp %#x), table (v%u, qp %#x)", changed->l3,
		    addr_str(&changed->src, a), changed->qp, f->l3, f->qp);
	if (changed->c.last_psn != f->psn || changed->c.last_opcode != f->opcode)
		bad(f, "XDP: last psn %u opcode %#x, table %u %#x", changed->c.last_psn,
		    changed->c.last_opcode, f->psn, f->opcode);
	if (d.packets != 1 || d.bytes != f->len)
		bad(f, "XDP: +%llu packets +%llu bytes, frame is %u bytes",
		    (unsigned long long)d.packets, (unsigned long long)d.bytes, f->len);
	if (d.ce_packets != (f->ecn == TITA_ECN_CE) ||
	    d.ect0_packets != (f->ecn == TITA_ECN_ECT0) ||
	    d.ect1_packets != (f->ecn == TITA_ECN_ECT1) ||
	    d.not_ect_packets != (f->ecn == TITA_ECN_NOT_ECT))
		bad(f, "XDP: ECN counters moved ce %llu ect0 %llu ect1 %llu not %llu, ECN is %u",
		    (unsigned long long)d.ce_packets, (unsigned long long)d.ect0_packets,
		    (unsigned long long)d.ect1_packets, (unsigned long long)d.not_ect_packets,
		    f->ecn);
	if (d.cnp_packets != (f->opcode == TITA_BTH_OPCODE_CNP))
		bad(f, "XDP: CNP counter moved by %llu", (unsigned long long)d.cnp_packets);
}

/* After the run: the tables hold exactly what the table adds up to. */
static void check_rx_totals(struct tita *s, bool per_qp)
{
	static struct rx_dump got, want;
	char a[INET6_ADDRSTRLEN];

	memset(&want, 0, sizeof(want));
	for (size_t i = 0; i < n_fx; i++) {
		const struct fixture *f = &fx[i];
		struct rx_row k = { .l3 = f->l3, .src = f->src, .qp = per_qp ? f->qp : 0 };
		struct rx_row *r;

		if (f->len < 14)
			continue; /* never reaches XDP */
		if (f->reason != TITA_REASON_ROCE) {
			want.reason[f->reason].packets++;
			want.reason[f->reason].bytes += f->len;
			continue;
		}
		r = (struct rx_row *)find_rx(&want, &k);
		if (!r) {
			r = &want.rows[want.n++];
			*r = k;
		}
		r->c.packets++;
		r->c.bytes += f->len;
		r->c.ce_packets += f->ecn == TITA_ECN_CE;
		r->c.ect0_packets += f->ecn == TITA_ECN_ECT0;
		r->c.ect1_packets += f->ecn == TITA_ECN_ECT1;
		r->c.not_ect_packets += f->ecn == TITA_ECN_NOT_ECT;
		r->c.cnp_packets += f->opcode == TITA_BTH_OPCODE_CNP;
		r->c.last_psn = f->psn;
		r->c.last_opcode = f->opcode;
	}
	dump_rx(s, &got);
	if (got.n != want.n)
		bad(NULL, "RX tables hold %zu entries, the table adds up to %zu", got.n, want.n);
	for (size_t i = 0; i < want.n; i++) {
		const struct rx_row *w = &want.rows[i], *g = find_rx(&got, w);
		const struct tita_rx_counters *x = g ? &g->c : NULL;

		if (!g) {
			bad(NULL, "RX entry %s qp %#x missing", addr_str(&w->src, a), w->qp);
			continue;
		}
		if (x->packets != w->c.packets || x->bytes != w->c.bytes ||
		    x->ce_packets != w->c.ce_packets || x->ect0_packets != w->c.ect0_packets ||
		    x->ect1_packets != w->c.ect1_packets ||
		    x->not_ect_packets != w->c.not_ect_packets ||
		    x->cnp_packets != w->c.cnp_packets ||
		    (per_qp &&
		     (x->last_psn != w->c.last_psn || x->last_opcode != w->c.last_opcode)))
			bad(NULL,
			    "RX %s qp %#x: %llu pkts %llu B ce %llu ect0 %llu ect1 %llu not %llu cnp %llu "
			    "psn %u; expected %llu %llu %llu %llu %llu %llu %llu psn %u",
			    addr_str(&w->src, a), w->qp, (unsigned long long)x->packets,
			    (unsigned long long)x->bytes, (unsigned long long)x->ce_packets,
			    (unsigned long long)x->ect0_packets,
			    (unsigned long long)x->ect1_packets,
			    (unsigned long long)x->not_ect_packets,
			    (unsigned long long)x->cnp_packets, x->last_psn,
			    (unsigned long long)w->c.packets, (unsigned long long)w->c.bytes,
			    (unsigned long long)w->c.ce_packets,
			    (unsigned long long)w->c.ect0_packets,
			    (unsigned long long)w->c.ect1_packets,
			    (unsigned long long)w->c.not_ect_packets,
			    (unsigned long long)w->c.cnp_packets, w->c.last_psn);
	}
	for (int i = 0; i < TITA_REASON_MAX; i++)
		if (got.reason[i].packets != want.reason[i].packets ||
		    got.reason[i].bytes != want.reason[i].bytes)
			bad(NULL, "RX reason %s: %llu pkts %llu B, expected %llu %llu",
			    tita_roce_reason_name((uint32_t)i),
			    (unsigned long long)got.reason[i].packets,
			    (unsigned long long)got.reason[i].bytes,
			    (unsigned long long)want.reason[i].packets,
			    (unsigned long long)want.reason[i].bytes);
}

/* --- Judge 3: tshark. --- */

enum {
	T_PROTOS,
	T_IP_SRC,
	T_IP_DST,
	T_IP6_SRC,
	T_IP6_DST,
	T_IP_ECN,
	T_IP6_ECN,
	T_UDP_DPORT,
	T_OPCODE,
	T_DESTQP,
	T_PSN,
	T_MF,
	T_FRAG_OFF,
	T_FRAG6_OFF,
	T_FRAG6_MORE,
	T_N
};

static const char *const tshark_fields[T_N] = {
	"frame.protocols",
	"ip.src",
	"ip.dst",
	"ipv6.src",
	"ipv6.dst",
	"ip.dsfield.ecn",
	"ipv6.tclass.ecn",
	"udp.dstport",
	"infiniband.bth.opcode",
	"infiniband.bth.destqp",
	"infiniband.bth.psn",
	"ip.flags.mf",
	"ip.frag_offset",
	"ipv6.fraghdr.offset",
	"ipv6.fraghdr.more",
};

/* Layers tshark reached, shallowest to deepest, as stages. */
enum { S_ETH, S_VLAN, S_L3, S_L4, S_BTH };

static int stage_of(const char *tok)
{
	if (!strcmp(tok, "eth"))
		return S_ETH;
	if (!strcmp(tok, "vlan") || !strcmp(tok, "ieee8021ad"))
		return S_VLAN;
	if (!strcmp(tok, "ip") || !strncmp(tok, "ipv6", 4) || !strcmp(tok, "arp"))
		return S_L3;
	if (!strcmp(tok, "udp") || !strcmp(tok, "tcp") || !strcmp(tok, "icmp"))
		return S_L4;
	if (!strcmp(tok, "infiniband"))
		return S_BTH;
	return -1; /* ethertype, data, payload dissectors */
}

static void chain_facts(const char *protos, int *ret_deepest, uint32_t *ret_vlans, bool *ret_ip,
			bool *ret_udp)
{
	char buf[512], *p = buf, *tok;

	snprintf(buf, sizeof(buf), "%s", protos);
	*ret_deepest = -1;
	*ret_vlans = 0;
	*ret_ip = *ret_udp = false;
	while ((tok = strsep(&p, ":"))) {
		int s = stage_of(tok);

		if (s > *ret_deepest)
			*ret_deepest = s;
		*ret_vlans += s == S_VLAN;
		*ret_ip |= !strcmp(tok, "ip") || !strcmp(tok, "ipv6");
		*ret_udp |= !strcmp(tok, "udp");
	}
}

static void judge_tshark_row(const struct fixture *f, char **v)
{
	char a[INET6_ADDRSTRLEN];
	uint32_t vlans;
	int deepest;
	bool ip, udp, bth = v[T_DESTQP][0] != '\0';

	chain_facts(v[T_PROTOS], &deepest, &vlans, &ip, &udp);

	/* VLAN tags: tshark names a cut tag, the parser only counts whole ones. */
	if (f->reason == TITA_REASON_TRUNC_VLAN) {
		if (vlans != f->vlans + 1)
			bad(f, "tshark: %u VLAN layers for a frame cut inside tag %u", vlans,
			    f->vlans + 1);
	} else if (f->reason == TITA_REASON_VLAN_DEPTH) {
		if (vlans <= TITA_VLAN_MAX_DEPTH)
			bad(f, "tshark: %u VLAN tags, not more than %d", vlans,
			    TITA_VLAN_MAX_DEPTH);
	} else if (f->reason != TITA_REASON_TRUNC_ETH && vlans != f->vlans) {
		bad(f, "tshark: %u VLAN tags, table %u", vlans, f->vlans);
	}

	if (f->l3) {
		struct tita_addr s, d;
		const char *src = f->l3 == 4 ? v[T_IP_SRC] : v[T_IP6_SRC];
		const char *dst = f->l3 == 4 ? v[T_IP_DST] : v[T_IP6_DST];
		const char *ecn = f->l3 == 4 ? v[T_IP_ECN] : v[T_IP6_ECN];

		if (!parse_addr(src, &s) || !tita_addr_eq(&s, &f->src) || !parse_addr(dst, &d) ||
		    !tita_addr_eq(&d, &f->dst))
			bad(f, "tshark: addresses '%s' > '%s', table %s", src, dst,
			    addr_str(&f->src, a));
		if (!*ecn || strtoul(ecn, NULL, 0) != f->ecn)
			bad(f, "tshark: ECN '%s', table %u", ecn, f->ecn);
	}

	/* BTH fields: where the parser reads the BTH, and where the table
	 * knows it is there but the parser stops early on purpose. */
	if (f->reason == TITA_REASON_ROCE || f->reason == TITA_REASON_BAD_OPCODE ||
	    (f->reason == TITA_REASON_IPV6_EXT_DEPTH && f->has_bth)) {
		if (!bth || strtoul(v[T_OPCODE], NULL, 0) != f->opcode ||
		    strtoul(v[T_DESTQP], NULL, 0) != f->qp ||
		    strtoul(v[T_PSN], NULL, 0) != f->psn ||
		    strtoul(v[T_UDP_DPORT], NULL, 0) != TITA_ROCE_UDP_PORT)
			bad(f,
			    "tshark: BTH opcode '%s' qp '%s' psn '%s' port '%s', table %#x %#x %u",
			    v[T_OPCODE], v[T_DESTQP], v[T_PSN], v[T_UDP_DPORT], f->opcode, f->qp,
			    f->psn);
		return;
	}
	if (bth)
		bad(f, "tshark dissected a BTH (qp %s) in a frame the table says is %s",
		    v[T_DESTQP], tita_roce_reason_name((uint32_t)f->reason));

	switch (f->reason) {
	case TITA_REASON_NOT_IP:
		if (ip)
			bad(f, "tshark: found an IP layer in %s", v[T_PROTOS]);
		break;
	case TITA_REASON_NOT_UDP:
		if (!ip || udp)
			bad(f, "tshark: %s is not IP without UDP", v[T_PROTOS]);
		break;
	case TITA_REASON_NOT_ROCE_PORT:
		if (!udp || !*v[T_UDP_DPORT] ||
		    strtoul(v[T_UDP_DPORT], NULL, 0) == TITA_ROCE_UDP_PORT)
			bad(f, "tshark: UDP port '%s'", v[T_UDP_DPORT]);
		break;
	case TITA_REASON_IP_FRAGMENT:
		if (strtoul(v[T_MF], NULL, 0) == 0 && strtoul(v[T_FRAG_OFF], NULL, 0) == 0 &&
		    strtoul(v[T_FRAG6_MORE], NULL, 0) == 0 && strtoul(v[T_FRAG6_OFF], NULL, 0) == 0)
			bad(f, "tshark: not a fragment");
		if (udp)
			bad(f, "tshark: dissected UDP in a fragment");
		break;
	case TITA_REASON_BAD_IP:
		if (*v[T_IP_SRC] || *v[T_IP6_SRC])
			bad(f, "tshark: read addresses from a malformed IP header");
		break;
	case TITA_REASON_TRUNC_ETH:
		if (deepest != S_ETH)
			bad(f, "tshark reached %s", v[T_PROTOS]);
		break;
	case TITA_REASON_TRUNC_VLAN:
		if (deepest != S_VLAN)
			bad(f, "tshark reached %s", v[T_PROTOS]);
		break;
	case TITA_REASON_TRUNC_IPV4:
	case TITA_REASON_TRUNC_IPV6:
	case TITA_REASON_TRUNC_IPV6_EXT:
		if (deepest != S_L3)
			bad(f, "tshark reached %s", v[T_PROTOS]);
		break;
	case TITA_REASON_TRUNC_UDP:
		/* tshark shows a UDP layer once it has the ports. */
		if (deepest != S_L3 && deepest != S_L4)
			bad(f, "tshark reached %s", v[T_PROTOS]);
		break;
	case TITA_REASON_TRUNC_BTH:
		if ((deepest != S_L4 && deepest != S_BTH) ||
		    strtoul(v[T_UDP_DPORT], NULL, 0) != TITA_ROCE_UDP_PORT)
			bad(f, "tshark reached %s (port '%s')", v[T_PROTOS], v[T_UDP_DPORT]);
		break;
	case TITA_REASON_VLAN_DEPTH:
	case TITA_REASON_IPV6_EXT_DEPTH:
		break; /* the parser's own bounds; checked above */
	default:
		bad(f, "no tshark rule for reason %s", tita_roce_reason_name((uint32_t)f->reason));
	}
}

static void judge_tshark(void)
{
	char cmd[2048], line[4096];
	size_t off, row = 0;
	FILE *p;

	if (system("command -v tshark >/dev/null 2>&1") != 0)
		tita_test_cannot_run("tshark is not installed (the third judge)");
	off = (size_t)snprintf(cmd, sizeof(cmd),
			       "tshark -n -r '%s' -T fields -E separator=/t -E occurrence=f",
			       pcap_path);
	for (int i = 0; i < T_N; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, " -e %s", tshark_fields[i]);
	snprintf(cmd + off, sizeof(cmd) - off, " 2>/dev/null");
	p = popen(cmd, "r");
	if (!p) {
		perror("popen tshark");
		exit(1);
	}
	while (fgets(line, sizeof(line), p)) {
		char *v[T_N], *s = line;
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		while (n < T_N && (v[n] = strsep(&s, "\t")))
			n++;
		if (row >= n_fx || n != T_N) {
			bad(NULL, "tshark output line %zu unexpected: %s", row, line);
			break;
		}
		judge_tshark_row(&fx[row++], v);
	}
	if (pclose(p) != 0 || row != n_fx)
		bad(NULL, "tshark dissected %zu of %zu frames", row, n_fx);
}

/* --- The tc egress program. --- */

struct tx_row {
	struct tita_addr dst;
	struct tita_tx_counters c;
};

struct tx_dump {
	struct tx_row rows[MAX_FIXTURES];
	size_t n;
	struct tita_reason_counters reason[TITA_REASON_MAX];
};

static void dump_tx(struct tita *s, struct tx_dump *d)
{
	size_t stride = (sizeof(struct tita_tx_counters) + 7) & ~(size_t)7;
	int fd = bpf_map__fd(s->maps.tita_tx_peer);
	struct tita_peer_key k, next;
	char *vals = valbuf;
	void *key = NULL;

	d->n = 0;
	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		struct tx_row *r = &d->rows[d->n++];

		if (bpf_map_lookup_elem(fd, &next, vals)) {
			perror("lookup");
			exit(1);
		}
		memcpy(r->dst.bytes, next.addr, 16);
		memset(&r->c, 0, sizeof(r->c));
		for (int c = 0; c < ncpu; c++) {
			const struct tita_tx_counters *v = (const void *)(vals + c * stride);

			r->c.packets += v->packets;
			r->c.bytes += v->bytes;
			r->c.roce_packets += v->roce_packets;
			r->c.roce_bytes += v->roce_bytes;
			r->c.ce_packets += v->ce_packets;
			r->c.ect0_packets += v->ect0_packets;
			r->c.ect1_packets += v->ect1_packets;
			r->c.not_ect_packets += v->not_ect_packets;
			r->c.classified_packets += v->classified_packets;
		}
		k = next;
		key = &k;
	}
	sum_reasons(bpf_map__fd(s->maps.tita_tx_reason), d->reason);
}

static struct tx_row *find_tx(struct tx_dump *d, const struct tita_addr *a)
{
	for (size_t i = 0; i < d->n; i++)
		if (tita_addr_eq(&d->rows[i].dst, a))
			return &d->rows[i];
	return NULL;
}

#define PRIO_IN 7u
#define CLASS_V4 0x00010005u /* 1:5 for 10.0.0.2 */
#define CLASS_V6 0x00010006u /* 1:6 for fd00::2 */

static uint32_t class_of(const struct tita_addr *dst)
{
	struct tita_addr b4, b6;

	parse_addr("10.0.0.2", &b4);
	parse_addr("fd00::2", &b6);
	return tita_addr_eq(dst, &b4) ? CLASS_V4 : tita_addr_eq(dst, &b6) ? CLASS_V6 : 0;
}

static void set_classes(struct tita *s)
{
	const char *addrs[2] = { "10.0.0.2", "fd00::2" };
	uint32_t ids[2] = { CLASS_V4, CLASS_V6 };

	for (int i = 0; i < 2; i++) {
		struct tita_addr a;
		struct tita_peer_key k;
		struct tita_tx_class v = { .classid = ids[i] };

		parse_addr(addrs[i], &a);
		memcpy(k.addr, a.bytes, 16);
		if (bpf_map_update_elem(bpf_map__fd(s->maps.tita_tx_class), &k, &v, BPF_ANY)) {
			perror("class map");
			exit(1);
		}
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Finding 9: after kill -9 of a sender's titad its HTB classes kept pacing
 * at the last grant forever. A class entry carries an expiry that titad
 * keeps pushing forward; once it is past, the tc program leaves the
 * packet's priority alone (the default class: unpaced), as when the entry
 * is gone. f must be a RoCEv2 frame to 10.0.0.2.
 */
static void judge_tc_expiry(struct tita *s, const struct fixture *f)
{
	static const struct {
		const char *what;
		int64_t expires_in_ns; /* from now; INT64_MIN: 0, never */
		uint32_t want;
	} cases[] = {
		{ "no expiry", INT64_MIN, CLASS_V4 },
		{ "expires in 10 s", 10000000000ll, CLASS_V4 },
		{ "expired 1 us ago", -1000, PRIO_IN },
		{ "expired 1 h ago", -3600000000000ll, PRIO_IN },
	};
	struct tita_addr a;
	struct tita_peer_key k;

	parse_addr("10.0.0.2", &a);
	memcpy(k.addr, a.bytes, 16);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct __sk_buff in = { .priority = PRIO_IN }, out = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->frame, .data_size_in = f->len,
			    .ctx_in = &in, .ctx_size_in = sizeof(in), .ctx_out = &out,
			    .ctx_size_out = sizeof(out), .repeat = 1);
		struct tita_tx_class v = { .classid = CLASS_V4 };

		if (cases[i].expires_in_ns != INT64_MIN)
			v.expires_ns = (uint64_t)((int64_t)mono_ns() + cases[i].expires_in_ns);
		if (bpf_map_update_elem(bpf_map__fd(s->maps.tita_tx_class), &k, &v, BPF_ANY) ||
		    bpf_prog_test_run_opts(bpf_program__fd(s->progs.tita_tc_tx), &o)) {
			bad(f, "class expiry (%s): %s", cases[i].what, strerror(errno));
			continue;
		}
		if (out.priority != cases[i].want)
			bad(f, "class expiry (%s): skb->priority %#x, expected %#x", cases[i].what,
			    out.priority, cases[i].want);
	}
}

static void judge_tc(struct tita *s, const struct fixture *f, uint32_t gso_segs)
{
	static struct tx_dump before, after;
	struct __sk_buff in = { .priority = PRIO_IN, .gso_segs = gso_segs }, out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->frame, .data_size_in = f->len,
		    .ctx_in = &in, .ctx_size_in = sizeof(in), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);
	uint64_t segs = gso_segs > 1 ? gso_segs : 1;
	/* Only RoCEv2 frames are classified into the pacer's classes. */
	uint32_t want_prio = PRIO_IN,
		 cls = f->l3 && f->reason == TITA_REASON_ROCE ? class_of(&f->dst) : 0;
	struct tx_row *w, *b;
	char a[INET6_ADDRSTRLEN];

	dump_tx(s, &before);
	if (bpf_prog_test_run_opts(bpf_program__fd(s->progs.tita_tc_tx), &o)) {
		bad(f, "tc test run: %s", strerror(errno));
		return;
	}
	dump_tx(s, &after);
	if (o.retval != (uint32_t)TC_ACT_UNSPEC)
		bad(f, "tc returned %d, not TC_ACT_UNSPEC", (int)o.retval);
	if (cls)
		want_prio = cls;
	if (out.priority != want_prio)
		bad(f, "tc: skb->priority %#x, expected %#x", out.priority, want_prio);
	for (int i = 0; i < TITA_REASON_MAX; i++) {
		uint64_t dp = after.reason[i].packets - before.reason[i].packets;

		if (dp != (i == f->reason))
			bad(f, "tc: reason %s moved by %llu (table: %s)",
			    tita_roce_reason_name((uint32_t)i), (unsigned long long)dp,
			    tita_roce_reason_name((uint32_t)f->reason));
	}
	if (!f->l3) {
		for (size_t i = 0; i < after.n; i++) {
			const struct tx_row *p = find_tx(&before, &after.rows[i].dst);

			if (!p || after.rows[i].c.packets != p->c.packets)
				bad(f, "tc: accounted a frame without an IP header");
		}
		return;
	}
	w = find_tx(&after, &f->dst);
	b = find_tx(&before, &f->dst);
	/* Only RoCEv2 makes a destination an entry. */
	if (!b && f->reason != TITA_REASON_ROCE) {
		if (w)
			bad(f, "tc: an entry for %s, which only non-RoCE traffic went to",
			    addr_str(&f->dst, a));
		return;
	}
	if (!w) {
		bad(f, "tc: no entry for %s", addr_str(&f->dst, a));
		return;
	}
	{
		struct tita_tx_counters z = { 0 }, *p = b ? &b->c : &z, *c = &w->c;
		bool roce = f->reason == TITA_REASON_ROCE;

		if (c->packets - p->packets != segs || c->bytes - p->bytes != f->len ||
		    c->roce_packets - p->roce_packets != (roce ? segs : 0) ||
		    c->roce_bytes - p->roce_bytes != (roce ? f->len : 0) ||
		    c->ce_packets - p->ce_packets != (f->ecn == TITA_ECN_CE ? segs : 0) ||
		    c->ect0_packets - p->ect0_packets != (f->ecn == TITA_ECN_ECT0 ? segs : 0) ||
		    c->ect1_packets - p->ect1_packets != (f->ecn == TITA_ECN_ECT1 ? segs : 0) ||
		    c->not_ect_packets - p->not_ect_packets !=
			    (f->ecn == TITA_ECN_NOT_ECT ? segs : 0) ||
		    c->classified_packets - p->classified_packets != (cls ? segs : 0))
			bad(f, "tc: counters of %s moved wrong (gso_segs %u)", addr_str(&f->dst, a),
			    gso_segs);
	}
}

/*
 * The out-of-sequence count (bpf/psn.h): sequences of RoCEv2 frames from
 * one source each, through the XDP program and through the twin; each must
 * count the packets the sequence skipped, no more (a reordering counts its
 * gap once; a go-back-N retransmission, ACKs and CNPs nothing; a restarted
 * QP is not loss; PSNs wrap at 2^24).
 */
struct psn_step {
	uint32_t opcode, qp, psn;
};

struct psn_case {
	const char *name;
	uint64_t want_missing;
	struct psn_step steps[12];
};

static const struct psn_case psn_cases[] = {
	{ "in order", 0, { { 4, 1, 0 }, { 4, 1, 1 }, { 0, 1, 2 }, { 1, 1, 3 }, { 2, 1, 4 } } },
	{ "a gap of two", 2, { { 4, 1, 0 }, { 4, 1, 1 }, { 4, 1, 2 }, { 4, 1, 5 }, { 4, 1, 6 } } },
	{ "wrap in order", 0, { { 4, 1, 0xfffffe }, { 4, 1, 0xffffff }, { 4, 1, 0 }, { 4, 1, 1 } } },
	{ "a gap across the wrap",
	  2,
	  { { 4, 1, 0xfffffe }, { 4, 1, 0xffffff }, { 4, 1, 2 }, { 4, 1, 3 } } },
	{ "reordered: the gap once",
	  1,
	  { { 4, 1, 10 }, { 4, 1, 12 }, { 4, 1, 11 }, { 4, 1, 13 }, { 4, 1, 14 } } },
	{ "go-back-N resend",
	  1,
	  { { 4, 1, 20 }, { 4, 1, 21 }, { 4, 1, 23 }, { 4, 1, 22 }, { 4, 1, 23 }, { 4, 1, 24 } } },
	{ "restart ahead",
	  0,
	  { { 4, 1, 100 }, { 4, 1, 101 }, { 4, 1, 0x800000 }, { 4, 1, 0x800001 } } },
	{ "restart behind",
	  0,
	  { { 4, 1, 5000000 }, { 4, 1, 5000001 }, { 4, 1, 10 }, { 4, 1, 11 } } },
	{ "the largest gap", 65536, { { 4, 1, 0 }, { 4, 1, 65537 }, { 4, 1, 65538 } } },
	{ "ACKs and CNPs do not count",
	  0,
	  { { 4, 1, 0 },
	    { 0x11, 1, 77 },
	    { 4, 1, 1 },
	    { 0x81, 1, 0 },
	    { 0x11, 1, 900 },
	    { 4, 1, 2 } } },
	{ "an RDMA READ request resynchronizes",
	  1,
	  { { 4, 1, 0 }, { 0x0c, 1, 1 }, { 4, 1, 9 }, { 4, 1, 11 }, { 4, 1, 12 } } },
	{ "two QPs interleaved",
	  1,
	  { { 4, 1, 0 }, { 4, 2, 500 }, { 4, 1, 1 }, { 4, 2, 501 }, { 4, 1, 3 }, { 4, 2, 502 } } },
	{ "UD and UC",
	  3,
	  { { 0x64, 1, 0 }, { 0x64, 1, 1 }, { 0x64, 1, 4 }, { 0x24, 7, 9 }, { 0x24, 7, 11 } } },
};

/* Ethernet, IPv4 from 10.9.0.<src>, UDP to 4791, a BTH; padded to 60. */
static size_t psn_frame(uint8_t *f, uint32_t src, const struct psn_step *st)
{
	static const uint8_t head[] = {
		2,    0, 0,    0,    0, 2,  2,	  0, 0,	 0,  0, 1, 0x08, 0x00, /* Ethernet */
		0x45, 0, 0,    46,   0, 0,  0x40, 0, 64, 17, 0, 0, 10,	 9,
		0,    0, 10,   9,    1, 1, /* IPv4 */
		0xc0, 0, 0x12, 0xb7, 0, 26, 0,	  0, /* UDP 49152 → 4791 */
	};
	uint8_t *bth = f + sizeof(head);

	memset(f, 0, 60);
	memcpy(f, head, sizeof(head));
	f[14 + 15] = (uint8_t)src;
	bth[0] = (uint8_t)st->opcode;
	bth[5] = (uint8_t)(st->qp >> 16);
	bth[6] = (uint8_t)(st->qp >> 8);
	bth[7] = (uint8_t)st->qp;
	bth[9] = (uint8_t)(st->psn >> 16);
	bth[10] = (uint8_t)(st->psn >> 8);
	bth[11] = (uint8_t)st->psn;
	return 60;
}

static void judge_psn(struct tita *s, bool per_qp)
{
	int fd = bpf_program__fd(s->progs.tita_xdp_rx);
	int map = bpf_map__fd(s->maps.tita_rx_qp4);
	size_t n = sizeof(psn_cases) / sizeof(psn_cases[0]);

	for (size_t c = 0; c < n; c++) {
		const struct psn_case *pc = &psn_cases[c];
		struct tita_roce_psn_state twin[2] = { { 0 } };
		uint64_t twin_missing = 0, xdp_missing = 0;
		struct fixture f = { 0 };
		uint32_t qps[2] = { 0, 0 };

		snprintf(f.name, sizeof(f.name), "psn: %s%s", pc->name,
			 per_qp ? "" : " (per source)");
		for (size_t k = 0; k < 12 && pc->steps[k].opcode; k++) {
			const struct psn_step *st = &pc->steps[k];
			struct tita_roce_frame rf;
			int q = qps[0] == 0 || qps[0] == st->qp ? 0 : 1;

			qps[q] = st->qp;
			f.len = (uint32_t)psn_frame(f.frame, (uint32_t)c + 1, st);
			if (tita_roce_parse(f.frame, f.len, &rf) != TITA_REASON_ROCE ||
			    rf.psn != st->psn || rf.dst_qp != st->qp) {
				bad(&f, "step %zu does not parse as RoCEv2 with its PSN", k);
				return;
			}
			twin_missing += tita_roce_psn_observe(&twin[q], rf.opcode, rf.psn);
			if (run_xdp(fd, &f))
				return;
		}
		for (int q = 0; q < 2 && qps[q]; q++) {
			struct tita_qp4_key k = { htonl(0x0a090000u | ((uint32_t)c + 1)),
						  per_qp ? qps[q] : 0 };
			struct tita_rx_counters sum;

			if (bpf_map_lookup_elem(map, &k, valbuf)) {
				bad(&f, "no table entry for QP %u", k.dst_qp);
				return;
			}
			sum_rx_value(valbuf, &sum);
			xdp_missing += sum.oos_packets;
			if (!per_qp)
				break; /* one entry for the source */
		}
		if (twin_missing != pc->want_missing || xdp_missing != pc->want_missing)
			bad(&f, "missing: XDP %llu, twin %llu, want %llu",
			    (unsigned long long)xdp_missing, (unsigned long long)twin_missing,
			    (unsigned long long)pc->want_missing);
		else
			printf("ok - %s: %llu missing\n", f.name, (unsigned long long)xdp_missing);
	}
}

static struct tita *open_skel(bool per_qp)
{
	struct tita *s = tita__open();
	struct bpf_map *m;

	if (!s)
		tita_test_cannot_run("cannot open the BPF object: %s", strerror(errno));
	/* A test must not pin anything, nor see a daemon's pins. */
	bpf_object__for_each_map(m, s->obj) bpf_map__set_pin_path(m, NULL);
	bpf_program__set_autoload(s->progs.tita_queue_deq, false);
	s->rodata->rx_per_qp = per_qp;
	if (tita__load(s)) {
		int err = errno;

		tita__destroy(s);
		if (err == EPERM || err == EACCES)
			tita_test_cannot_run("BPF is not permitted here: %s", strerror(err));
		fprintf(stderr, "cannot load the BPF programs: %s\n", strerror(err));
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	struct tita *s;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURES.PY\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	tita_test_require_root();
	ncpu = libbpf_num_possible_cpus();
	valbuf = calloc((size_t)(ncpu > 0 ? ncpu : 1), 128);
	if (ncpu <= 0 || !valbuf) {
		fprintf(stderr, "cannot size per-CPU buffers\n");
		return 1;
	}
	generate(argv[1]);
	load_tsv();
	load_pcap();
	printf("# %zu fixtures\n", n_fx);

	s = open_skel(true);
	for (size_t i = 0; i < n_fx; i++) {
		judge_twin(&fx[i]);
		/* BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet
		 * header, and no driver hands one to XDP. */
		if (fx[i].len >= 14)
			judge_xdp(s, &fx[i]);
	}
	check_rx_totals(s, true);
	judge_tshark();
	judge_psn(s, true);

	set_classes(s);
	for (size_t i = 0; i < n_fx; i++) {
		/* The test harness builds an skb for tc and refuses an IPv6
		 * ethertype without a whole IPv6 header (EINVAL); the stack
		 * never sends one either. */
		if (fx[i].len < 14 || fx[i].reason == TITA_REASON_TRUNC_IPV6)
			continue;
		judge_tc(s, &fx[i], 0);
	}
	/* A GSO packet counts as its segments. */
	judge_tc(s, &fx[0], 5);
	for (size_t i = 0, done = 0; i < n_fx && !done; i++) {
		struct tita_addr b4;

		parse_addr("10.0.0.2", &b4);
		if (fx[i].reason == TITA_REASON_ROCE && tita_addr_eq(&fx[i].dst, &b4)) {
			judge_tc_expiry(s, &fx[i]);
			done = 1;
		}
		if (i == n_fx - 1 && !done)
			bad(&fx[0], "no RoCEv2 fixture to 10.0.0.2 for the expiry test");
	}
	tita__destroy(s);

	/* The per-source knob: the same frames, keys without QPs. */
	s = open_skel(false);
	for (size_t i = 0; i < n_fx; i++)
		if (fx[i].len >= 14)
			run_xdp(bpf_program__fd(s->progs.tita_xdp_rx), &fx[i]);
	check_rx_totals(s, false);
	/* The PSN is followed per QP even when the table is per source. */
	judge_psn(s, false);
	tita__destroy(s);

	if (failures) {
		printf("# %d failures\n", failures);
		return 1;
	}
	printf("ok - %zu fixtures: XDP, twin and tshark agree; counters exact; tc agrees; an "
	       "expired class is not applied\n",
	       n_fx);
	return 0;
}
