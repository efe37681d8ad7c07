// SPDX-License-Identifier: MIT
/*
 * titad's NICs (see ports.h): address and line-rate detection, the
 * datapath's attach, reads and detach, the NIC's hw_counters, and the
 * devices followed through rtnetlink.
 *
 * A port whose device is deleted (or renamed away) or set down is down:
 * the engine takes its pacing off (fail-open) and its datapath handle
 * goes when the device did (the kernel removed the programs with it; the
 * pinned maps stay, and with them the counters). When a device of that
 * name is back (a new ifindex) or up again, the datapath is attached
 * again and the engine paces the port again.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pausestats.h"
#include "ports.h"
#include "units.h"

/* What only metrics and slow signals need (drop reasons, the queue
 * sampler) is read every 100 ms, not every control interval. */
#define SLOW_READ_INTERVAL_NS (100 * TITA_NSEC_PER_MSEC)

/* What attaching the datapath again needs of the config. */
struct attach_conf {
	char pin_root[TITAD_PATH_MAX];
	enum titad_xdp_mode xdp_mode;
	uint32_t datapath_entries;
	int queue_sampler;
	bool loss_count;
};

struct titad_ports {
	uint32_t n;
	struct titad_port ports[TITAD_MAX_PORTS];
	struct tita_ratelimit read_err_rl;
	struct attach_conf ac;
	/* rtnetlink */
	struct tita_event *ev;
	int nl_fd;
	struct tita_event_source *nl_src;
	titad_port_change_fn changed;
	void *ctx;
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

static int port_attach(const struct attach_conf *ac, struct titad_port *p, char *err,
		       size_t err_size)
{
	char bpf_err[256] = "";
	struct tita_bpf_opts o = {
		.ifname = p->ifname,
		.pin_root = ac->pin_root,
		.xdp_mode = (enum tita_bpf_xdp_mode)ac->xdp_mode,
		/* Every read walks whole tables: size them to the peers a host
		 * has, not to the loader's 16 MiB default. */
		.rx_qp4_entries = ac->datapath_entries,
		.rx_qp6_entries = ac->datapath_entries,
		.tx_peer_entries = ac->datapath_entries,
		.tx_class_entries = ac->datapath_entries,
		.queue_mode = (enum tita_bpf_queue_mode)ac->queue_sampler,
		.rx_no_loss = !ac->loss_count,
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
	{
		struct tita_bpf_info info;

		/* A change to the host's mounts: say it was titad's. */
		tita_bpf_get_info(p->bpf, &info);
		if (info.bpffs_mounted)
			log_notice("%s: bpffs was not mounted; titad mounted it on /sys/fs/bpf "
				   "for its pins",
				   p->ifname);
	}
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
	ps->nl_fd = -1;
	snprintf(ps->ac.pin_root, sizeof(ps->ac.pin_root), "%s", cfg->pin_root);
	ps->ac.xdp_mode = cfg->xdp_mode;
	ps->ac.datapath_entries = cfg->datapath_entries;
	ps->ac.queue_sampler = cfg->queue_sampler;
	ps->ac.loss_count = cfg->loss_count;
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		struct titad_port *p = &ps->ports[i];

		r = port_identify(cfg, &cfg->ports[i], p, err, err_size);
		if (r)
			return r;
		ps->n = i + 1;
		r = port_attach(&ps->ac, p, err, err_size);
		if (r)
			return r;
		p->up = true;
		p->nic = tita_nic_reader_new(cfg->sysfs_root, p->ifname);
	}
	return 0;
}

struct titad_ports *titad_ports_close(struct titad_ports *ps)
{
	if (!ps)
		return NULL;
	tita_event_fd_del(ps->ev, ps->nl_src);
	if (ps->nl_fd >= 0)
		close(ps->nl_fd);
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
	ret->up = p->up;
	snprintf(ret->down_why, sizeof(ret->down_why), "%s", p->down_why);
	ret->repins = p->repins;
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
			ret->rx_total.oos_packets += c->oos_packets;
		}
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

bool titad_ports_read_pause(struct titad_ports *ps, uint32_t i, unsigned prio,
			    uint64_t *ret_tx_frames, uint64_t *ret_rx_frames)
{
	struct titad_port *p = &ps->ports[i];
	struct tita_pause_counts c;
	int r = tita_pause_read(p->ifname, prio, &p->pause_family, &c);

	if (r || (!c.has_link && !c.has_prio)) {
		if (!p->pause_said)
			log_info("%s: the NIC counts no pause frames (%s): its pause evidence is "
				 "unknown",
				 p->ifname,
				 r ? strerror(-r) :
				     "no ethtool pause statistics, no per-priority pause counters");
		p->pause_said = true;
		return false;
	}
	if (p->pause_said)
		log_info("%s: the NIC counts pause frames (%s%s%s)", p->ifname,
			 c.has_link ? "link-level" : "", c.has_link && c.has_prio ? ", " : "",
			 c.has_prio ? "per priority" : "");
	p->pause_said = false;
	*ret_tx_frames = c.link_tx_frames + c.prio_tx_frames;
	*ret_rx_frames = c.link_rx_frames + c.prio_rx_frames;
	return true;
}

int titad_ports_check(const struct titad_config *cfg, char *err, size_t err_size)
{
	size_t off = strlen(err);
	int first = 0;

	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		struct titad_port p = { 0 };
		char one[256];
		int r = port_identify(cfg, &cfg->ports[i], &p, one, sizeof(one));

		if (!r)
			continue;
		if (!first)
			first = r;
		if (off < err_size)
			off += (size_t)snprintf(err + off, err_size - off, "%s%s", off ? "\n" : "",
						one);
	}
	return first;
}

/* ---- following the devices ------------------------------------------------------------ */

/* The port's datapath handle goes with its device (the kernel took the
 * programs off); its pins, and the counters, stay for the next attach. */
static void release(struct titad_port *p)
{
	p->reader = tita_bpf_reader_free(p->reader);
	p->bpf = tita_bpf_free(p->bpf);
	p->snap = NULL;
}

static void port_down(struct titad_ports *ps, uint32_t i, const char *why, bool gone,
		      uint64_t now_ns)
{
	struct titad_port *p = &ps->ports[i];

	bool was_up = p->up;

	if (gone)
		release(p);
	if (!was_up && !strcmp(p->down_why, why))
		return;
	p->up = false;
	snprintf(p->down_why, sizeof(p->down_why), "%s", why);
	{
		const struct tita_log_field f[] = { { "TITA_EVENT", "port-down" },
						    { "TITA_PORT", p->ifname } };

		tita_log_fields(TITAD_LOG_WARNING, f, 2,
				"%s: %s: pacing off on it (fail-open) until it is back", p->ifname,
				why);
	}
	if (was_up && ps->changed)
		ps->changed(ps->ctx, i, false, now_ns);
}

static void port_back(struct titad_ports *ps, uint32_t i, int ifindex, uint64_t now_ns)
{
	struct titad_port *p = &ps->ports[i];
	char err[320];

	if (!p->bpf || p->ifindex != ifindex) {
		release(p);
		p->ifindex = ifindex;
		if (port_attach(&ps->ac, p, err, sizeof(err))) {
			snprintf(p->down_why, sizeof(p->down_why), "attach failed");
			log_err("%s: back, but %s", p->ifname, err);
			return;
		}
	}
	p->up = true;
	p->down_why[0] = '\0';
	{
		const struct tita_log_field f[] = { { "TITA_EVENT", "port-up" },
						    { "TITA_PORT", p->ifname } };

		tita_log_fields(TITAD_LOG_NOTICE, f, 2,
				"%s: back (ifindex %d): datapath attached, pacing on again",
				p->ifname, ifindex);
	}
	if (ps->changed)
		ps->changed(ps->ctx, i, true, now_ns);
}

/* What the device of port i is now: its ifindex (0: none) and whether it
 * is up. */
static int device_state(const char *ifname, bool *ret_up)
{
	struct ifreq ifr = { 0 };
	int ifindex = (int)if_nametoindex(ifname), fd;

	*ret_up = false;
	if (!ifindex)
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ifindex;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr))
		*ret_up = (ifr.ifr_flags & IFF_UP) != 0;
	close(fd);
	return ifindex;
}

/* Port i's device as it is now, against what titad holds. */
static void reconcile(struct titad_ports *ps, uint32_t i, int ifindex, bool up, uint64_t now_ns)
{
	struct titad_port *p = &ps->ports[i];

	if (!ifindex || ifindex != p->ifindex) {
		/* The device titad attached to is gone (deleted, renamed). */
		if (p->bpf || p->up)
			port_down(ps, i, ifindex ? "replaced by another device" : "deleted", true,
				  now_ns);
		if (ifindex && up)
			port_back(ps, i, ifindex, now_ns);
		return;
	}
	if (!up && p->up)
		port_down(ps, i, "down", false, now_ns);
	else if (up && !p->up)
		port_back(ps, i, ifindex, now_ns);
}

static void on_netlink(void *data, int fd, uint32_t events, uint64_t now_ns)
{
	struct titad_ports *ps = data;
	char buf[16384];
	bool resync = false;

	(void)events;
	for (int k = 0; k < 16; k++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			/* Events lost (ENOBUFS): look at every device again. */
			resync |= errno == ENOBUFS;
			break;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			const struct ifinfomsg *ifi = NLMSG_DATA(h);
			int len = (int)IFLA_PAYLOAD(h);
			const char *name = NULL;

			if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
				continue;
			for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len);
			     a = RTA_NEXT(a, len))
				if (a->rta_type == IFLA_IFNAME)
					name = RTA_DATA(a);
			for (uint32_t i = 0; i < ps->n; i++) {
				struct titad_port *p = &ps->ports[i];
				bool ours = ifi->ifi_index == p->ifindex;
				bool named = name && !strcmp(name, p->ifname);

				if (h->nlmsg_type == RTM_DELLINK && ours)
					reconcile(ps, i, 0, false, now_ns);
				else if (h->nlmsg_type == RTM_NEWLINK && (ours || named))
					reconcile(ps, i, named ? ifi->ifi_index : 0,
						  (ifi->ifi_flags & IFF_UP) != 0, now_ns);
			}
		}
	}
	for (uint32_t i = 0; resync && i < ps->n; i++) {
		bool up;
		int ifindex = device_state(ps->ports[i].ifname, &up);

		reconcile(ps, i, ifindex, up, now_ns);
	}
}

int titad_ports_watch(struct titad_ports *ps, struct tita_event *ev, titad_port_change_fn changed,
		      void *ctx, char *err, size_t err_size)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };

	ps->ev = ev;
	ps->changed = changed;
	ps->ctx = ctx;
	ps->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (ps->nl_fd < 0 || bind(ps->nl_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    !(ps->nl_src = tita_event_fd_add(ev, ps->nl_fd, EPOLLIN, on_netlink, ps))) {
		int e = errno;

		snprintf(err, err_size, "rtnetlink (following the ports' devices): %s",
			 strerror(e));
		return -e;
	}
	return 0;
}

void titad_ports_housekeeping(struct titad_ports *ps, uint64_t now_ns)
{
	for (uint32_t i = 0; i < ps->n; i++) {
		struct titad_port *p = &ps->ports[i];
		bool up;
		int ifindex = device_state(p->ifname, &up), r;

		reconcile(ps, i, ifindex, up, now_ns);
		if (!p->bpf || tita_bpf_pins_intact(p->bpf))
			continue;
		p->repins++;
		r = tita_bpf_repin(p->bpf);
		if (r)
			log_err("%s: the datapath's pins were deleted under titad, and pinning "
				"them again failed: %s; SIGTERM still takes down what titad "
				"attached",
				p->ifname, strerror(-r));
		else
			log_warning("%s: the datapath's pins were deleted under titad; pinned "
				    "again",
				    p->ifname);
	}
}
