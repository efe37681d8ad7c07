// SPDX-License-Identifier: MIT
/*
 * titad's NICs (see ports.h): address and line-rate detection, the
 * datapath's attach, reads and detach, and the NIC's hw_counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ports.h"
#include "units.h"

/* What only metrics and slow signals need (drop reasons, the queue
 * sampler) is read every 100 ms, not every control interval. */
#define SLOW_READ_INTERVAL_NS (100 * TITA_NSEC_PER_MSEC)

struct titad_ports {
	uint32_t n;
	struct titad_port ports[TITAD_MAX_PORTS];
	struct tita_ratelimit read_err_rl;
};

static int port_address(const char *ifname, struct tita_addr *ret)
{
	struct ifaddrs *ifa, *i;
	bool have6 = false;
	struct tita_addr a6 = { { 0 } };

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			*ret = tita_addr_from_ipv4(
				(const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr);
			freeifaddrs(ifa);
			return 0;
		}
		if (i->ifa_addr->sa_family == AF_INET6 && !have6) {
			const struct in6_addr *in6 =
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(in6))
				continue;
			memcpy(a6.bytes, in6, 16);
			have6 = true;
		}
	}
	freeifaddrs(ifa);
	if (!have6)
		return -EADDRNOTAVAIL;
	*ret = a6;
	return 0;
}

/* The link's speed in bit/s from sysfs (ethtool's view), or 0. */
static uint64_t link_speed_bps(const char *ifname)
{
	char path[128], buf[32];
	long mbps;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	mbps = strtol(buf, NULL, 10);
	return mbps > 0 ? (uint64_t)mbps * TITA_MBPS : 0;
}

static void bpf_log(void *userdata, const char *msg)
{
	log_debug("%s: %s", (const char *)userdata, msg);
}

/* Name, index, address and line rate of one [port]. */
static int port_identify(const struct titad_config *cfg, const struct titad_port_conf *pc,
			 struct titad_port *p, char *err, size_t err_size)
{
	int r;

	snprintf(p->ifname, sizeof(p->ifname), "%s", pc->ifname);
	p->ifindex = (int)if_nametoindex(pc->ifname);
	if (!p->ifindex) {
		snprintf(err, err_size, "%s:%d: [port %s]: no such network device", cfg->path,
			 pc->line, pc->ifname);
		return -ENODEV;
	}
	if (pc->addr_set) {
		p->addr = pc->addr;
	} else {
		r = port_address(pc->ifname, &p->addr);
		if (r) {
			snprintf(err, err_size,
				 "%s:%d: [port %s]: no address given and the device has none",
				 cfg->path, pc->line, pc->ifname);
			return r;
		}
	}
	p->line_rate_bps = pc->line_rate_bps;
	if (!p->line_rate_bps) {
		p->line_rate_bps = link_speed_bps(pc->ifname);
		p->line_rate_detected = true;
		if (!p->line_rate_bps) {
			snprintf(
				err, err_size,
				"%s:%d: [port %s]: no line-rate given and the link reports no speed",
				cfg->path, pc->line, pc->ifname);
			return -EINVAL;
		}
	}
	return 0;
}

static int port_attach(const struct titad_config *cfg, struct titad_port *p, char *err,
		       size_t err_size)
{
	char bpf_err[256] = "";
	struct tita_bpf_opts o = {
		.ifname = p->ifname,
		.pin_root = cfg->pin_root,
		.xdp_mode = (enum tita_bpf_xdp_mode)cfg->xdp_mode,
		/* Every read walks whole tables: size them to the peers a host
		 * has, not to the loader's 16 MiB default. */
		.rx_qp4_entries = cfg->datapath_entries,
		.rx_qp6_entries = cfg->datapath_entries,
		.tx_peer_entries = cfg->datapath_entries,
		.tx_class_entries = cfg->datapath_entries,
		.queue_mode = (enum tita_bpf_queue_mode)cfg->queue_sampler,
		.err_buf = bpf_err,
		.err_len = sizeof(bpf_err),
		.log = bpf_log,
		.log_userdata = p->ifname,
	};
	int r;

	p->bpf = tita_bpf_attach(&o);
	if (!p->bpf) {
		r = -errno;
		snprintf(err, err_size, "%s: attaching the datapath: %s", p->ifname,
			 bpf_err[0] ? bpf_err : strerror(-r));
		return r;
	}
	p->reader = tita_bpf_reader_new(p->bpf);
	if (!p->reader) {
		r = -errno;
		snprintf(err, err_size, "%s: BPF reader: %s", p->ifname, strerror(-r));
		return r;
	}
	/* Drop reasons and queue figures only reach the metrics. */
	tita_bpf_reader_set_slow_interval(p->reader, SLOW_READ_INTERVAL_NS);
	return 0;
}

int titad_ports_open(struct titad_ports **ret_ports, const struct titad_config *cfg, char *err,
		     size_t err_size)
{
	struct titad_ports *ps = calloc(1, sizeof(*ps));
	int r;

	*ret_ports = ps;
	if (!ps)
		return -ENOMEM;
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		struct titad_port *p = &ps->ports[i];

		r = port_identify(cfg, &cfg->ports[i], p, err, err_size);
		if (r)
			return r;
		ps->n = i + 1;
		r = port_attach(cfg, p, err, err_size);
		if (r)
			return r;
		p->nic = tita_nic_reader_new(cfg->sysfs_root, p->ifname);
	}
	return 0;
}

struct titad_ports *titad_ports_close(struct titad_ports *ps)
{
	if (!ps)
		return NULL;
	for (uint32_t i = 0; i < ps->n; i++) {
		struct titad_port *p = &ps->ports[i];
		int r;

		p->reader = tita_bpf_reader_free(p->reader);
		p->nic = tita_nic_reader_free(p->nic);
		p->snap = NULL;
		if (!p->bpf)
			continue;
		r = tita_bpf_detach(p->bpf);
		if (r)
			log_err("%s: detaching the datapath: %s", p->ifname, strerror(-r));
		p->bpf = tita_bpf_free(p->bpf);
	}
	free(ps);
	return NULL;
}

uint32_t titad_ports_count(const struct titad_ports *ps)
{
	return ps ? ps->n : 0;
}

const struct titad_port *titad_ports_get(const struct titad_ports *ps, uint32_t i)
{
	return &ps->ports[i];
}

int titad_ports_find(const struct titad_ports *ps, const struct tita_addr *addr)
{
	for (uint32_t i = 0; ps && i < ps->n; i++)
		if (tita_addr_eq(&ps->ports[i].addr, addr))
			return (int)i;
	return -1;
}

void titad_ports_info(const struct titad_ports *ps, uint32_t i, struct titad_port_info *ret)
{
	const struct titad_port *p = &ps->ports[i];
	const struct tita_bpf_snapshot *s = p->snap;

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->ifname, sizeof(ret->ifname), "%s", p->ifname);
	ret->addr = p->addr;
	ret->line_rate_bps = p->line_rate_bps;
	ret->read_errors = p->read_errors;
	if (s) {
		ret->has_snapshot = true;
		for (size_t j = 0; j < s->n_rx_peers; j++) {
			const struct tita_bpf_rx_counts *c = &s->rx_peers[j].total;

			ret->rx_total.packets += c->packets;
			ret->rx_total.bytes += c->bytes;
			ret->rx_total.ce_packets += c->ce_packets;
			ret->rx_total.ect0_packets += c->ect0_packets;
			ret->rx_total.ect1_packets += c->ect1_packets;
			ret->rx_total.not_ect_packets += c->not_ect_packets;
			ret->rx_total.cnp_packets += c->cnp_packets;
		}
		for (size_t j = 0; j < s->n_tx_peers; j++)
			ret->tx_bytes_total += s->tx_peers[j].total.bytes;
		ret->rx_reasons = s->rx_reasons_total;
		ret->tx_reasons = s->tx_reasons_total;
	}
	if (p->nic && p->nic_ok) {
		ret->nic_ok = true;
		snprintf(ret->ibdev, sizeof(ret->ibdev), "%s", tita_nic_reader_ibdev(p->nic));
		ret->ibport = tita_nic_reader_port(p->nic);
		ret->nic = p->nic_sample;
	}
}

void titad_ports_pacer_ports(const struct titad_ports *ps, struct tita_pacer_port *out)
{
	for (uint32_t i = 0; i < ps->n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].ifname, sizeof(out[i].ifname), "%s", ps->ports[i].ifname);
		out[i].ifindex = ps->ports[i].ifindex;
		out[i].addr = ps->ports[i].addr;
		out[i].line_rate_bps = ps->ports[i].line_rate_bps;
		out[i].bpf = ps->ports[i].bpf;
	}
}

uint64_t titad_ports_set_line_rate(struct titad_ports *ps, uint32_t i, uint64_t line_rate_bps)
{
	if (line_rate_bps)
		ps->ports[i].line_rate_bps = line_rate_bps;
	return ps->ports[i].line_rate_bps;
}

int titad_ports_read(struct titad_ports *ps, uint32_t i, uint64_t now_ns,
		     const struct tita_bpf_snapshot **ret_snap)
{
	struct titad_port *p = &ps->ports[i];
	const struct tita_bpf_snapshot *s;
	uint64_t held;
	int r;

	if (!p->reader)
		return -ENODEV;
	r = tita_bpf_read(p->reader, now_ns, &s);
	if (r) {
		p->read_errors++;
		if (tita_ratelimit_ok(&ps->read_err_rl, now_ns, 10 * TITA_NSEC_PER_SEC, 5, &held))
			log_err("%s: reading the BPF maps: %s", p->ifname, strerror(-r));
		return r;
	}
	p->snap = s;
	*ret_snap = s;
	return 0;
}

/* The NIC's port counters since the previous read, as the controller's
 * port sample: receive rate and CE fraction that hardware RoCE hides from
 * XDP. Needs port_rcv_packets and port_rcv_data in both reads; a NIC
 * without np_ecn_marked_roce_packets gives the rate with no CE. */
bool titad_ports_read_nic(struct titad_ports *ps, uint32_t i, uint64_t now_ns,
			  struct tita_port_sample *ret_sample)
{
	struct titad_port *p = &ps->ports[i];
	const struct tita_nic_sample *a = &p->nic_prev, *b = &p->nic_sample;
	uint32_t need = 1u << TITA_NIC_PORT_RCV_PACKETS | 1u << TITA_NIC_PORT_RCV_DATA;
	uint32_t ce_bit = 1u << TITA_NIC_ECN_MARKED_ROCE;
	struct tita_port_sample ps_ = { .local = p->addr };
	bool ok = false;

	if (!p->nic)
		return false;
	/* A missing device is absent, never an error. */
	p->nic_ok = tita_nic_reader_read(p->nic, &p->nic_sample) == 0;
	if (p->nic_ok && p->nic_prev_ok && (a->present & need) == need &&
	    (b->present & need) == need && now_ns > p->nic_prev_ns) {
		ps_.interval_ns = now_ns - p->nic_prev_ns;
		ps_.rx_packets =
			b->total[TITA_NIC_PORT_RCV_PACKETS] - a->total[TITA_NIC_PORT_RCV_PACKETS];
		/* IB counts port data in 4-octet words. */
		ps_.rx_bytes =
			4 * (b->total[TITA_NIC_PORT_RCV_DATA] - a->total[TITA_NIC_PORT_RCV_DATA]);
		if ((a->present & ce_bit) && (b->present & ce_bit))
			ps_.ce_packets = tita_min_u64(b->total[TITA_NIC_ECN_MARKED_ROCE] -
							      a->total[TITA_NIC_ECN_MARKED_ROCE],
						      ps_.rx_packets);
		*ret_sample = ps_;
		ok = true;
	}
	p->nic_prev = *b;
	p->nic_prev_ns = now_ns;
	p->nic_prev_ok = p->nic_ok;
	return ok;
}
