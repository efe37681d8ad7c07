// SPDX-License-Identifier: MIT
/*
 * hw_counters readers (see niccounters.h). Files are read with one pread
 * each: sysfs regenerates the value on every read, and mlx5 caches it for
 * `lifespan` ms, so reading once per control interval costs one firmware
 * query per lifespan at most.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "niccounters.h"

static const char *const counter_names[TITA_NIC_COUNTER_COUNT] = {
	[TITA_NIC_ECN_MARKED_ROCE] = "np_ecn_marked_roce_packets",
	[TITA_NIC_CNP_SENT] = "np_cnp_sent",
	[TITA_NIC_CNP_HANDLED] = "rp_cnp_handled",
	[TITA_NIC_CNP_IGNORED] = "rp_cnp_ignored",
	[TITA_NIC_OUT_OF_SEQUENCE] = "out_of_sequence",
	[TITA_NIC_PACKET_SEQ_ERR] = "packet_seq_err",
	[TITA_NIC_ADP_RETRANS] = "roce_adp_retrans",
	[TITA_NIC_ADP_RETRANS_TO] = "roce_adp_retrans_to",
	[TITA_NIC_LOCAL_ACK_TIMEOUT_ERR] = "local_ack_timeout_err",
	[TITA_NIC_IMPLIED_NAK_SEQ_ERR] = "implied_nak_seq_err",
	[TITA_NIC_DUPLICATE_REQUEST] = "duplicate_request",
	[TITA_NIC_OUT_OF_BUFFER] = "out_of_buffer",
	[TITA_NIC_RNR_NAK_RETRY_ERR] = "rnr_nak_retry_err",
	[TITA_NIC_PORT_RCV_PACKETS] = "port_rcv_packets",
	[TITA_NIC_PORT_RCV_DATA] = "port_rcv_data",
};

/* The directory under ports/N/ that holds a counter. */
static const char *counter_dir(enum tita_nic_counter c)
{
	return c >= TITA_NIC_PORT_RCV_PACKETS ? "counters" : "hw_counters";
}

const char *tita_nic_counter_name(enum tita_nic_counter c)
{
	return (unsigned)c < TITA_NIC_COUNTER_COUNT ? counter_names[c] : "unknown";
}

struct tita_nic_reader {
	char root[PATH_MAX];
	char ifname[64];
	char ibdev[64];
	uint32_t port;
	bool seen[TITA_NIC_COUNTER_COUNT]; /* prev_raw is valid */
	uint64_t prev_raw[TITA_NIC_COUNTER_COUNT];
	struct tita_nic_sample sample;
};

/* Read a small sysfs file into buf (NUL-terminated, trailing newline
 * removed). 0 or -errno. */
static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int read_u64(const char *path, uint64_t *ret)
{
	char buf[32], *end;
	unsigned long long v;
	int r = read_small(path, buf, sizeof(buf));

	if (r)
		return r;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* A directory entry that names something real: not ".", "..", and short
 * enough for our buffers. */
static bool usable_name(const char *n, size_t max)
{
	return n[0] != '.' && strlen(n) < max;
}

/* Which port of ibdev has a GID whose netdev is ifname: 0 when none. */
static uint32_t port_of_ndev(const char *root, const char *ibdev, const char *ifname,
			     unsigned *ret_n_ports)
{
	char path[PATH_MAX];
	DIR *ports, *ndevs;
	struct dirent *p, *g;
	uint32_t found = 0;
	unsigned n_ports = 0;

	snprintf(path, sizeof(path), "%s/class/infiniband/%s/ports", root, ibdev);
	ports = opendir(path);
	if (!ports)
		return 0;
	while (!found && (p = readdir(ports))) {
		char *end;
		unsigned long port;

		if (!usable_name(p->d_name, 16))
			continue;
		port = strtoul(p->d_name, &end, 10);
		if (*end || port == 0 || port > UINT32_MAX)
			continue;
		n_ports++;
		snprintf(path, sizeof(path), "%s/class/infiniband/%s/ports/%lu/gid_attrs/ndevs",
			 root, ibdev, port);
		ndevs = opendir(path);
		if (!ndevs)
			continue;
		while ((g = readdir(ndevs))) {
			char gp[PATH_MAX + 64], name[64];

			if (!usable_name(g->d_name, 16))
				continue;
			snprintf(gp, sizeof(gp), "%s/%s", path, g->d_name);
			/* Unused GID slots read as EINVAL on real kernels. */
			if (read_small(gp, name, sizeof(name)) == 0 && strcmp(name, ifname) == 0) {
				found = (uint32_t)port;
				break;
			}
		}
		closedir(ndevs);
	}
	closedir(ports);
	if (ret_n_ports)
		*ret_n_ports = n_ports;
	return found;
}

int tita_nic_find(const char *sysfs_root, const char *ifname, char *ret_ibdev, size_t ibdev_size,
		  uint32_t *ret_port)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *e;
	char dev[64] = "";
	uint32_t port = 0;

	/* The PCI function's own RDMA device (mlx5, bnxt_re, irdma, ...). */
	snprintf(path, sizeof(path), "%s/class/net/%s/device/infiniband", sysfs_root, ifname);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d))) {
			unsigned n_ports = 0;

			if (!usable_name(e->d_name, sizeof(dev)))
				continue;
			port = port_of_ndev(sysfs_root, e->d_name, ifname, &n_ports);
			if (port || n_ports == 1) {
				snprintf(dev, sizeof(dev), "%s", e->d_name);
				if (!port)
					port = 1;
				break;
			}
		}
		closedir(d);
	}
	/* Devices whose netdev is not their parent: rxe, bonds, VF reps. */
	if (!dev[0]) {
		snprintf(path, sizeof(path), "%s/class/infiniband", sysfs_root);
		d = opendir(path);
		if (d) {
			while ((e = readdir(d))) {
				if (!usable_name(e->d_name, sizeof(dev)))
					continue;
				port = port_of_ndev(sysfs_root, e->d_name, ifname, NULL);
				if (port) {
					snprintf(dev, sizeof(dev), "%s", e->d_name);
					break;
				}
			}
			closedir(d);
		}
	}
	if (!dev[0])
		return -ENODEV;
	if (strlen(dev) >= ibdev_size)
		return -ENAMETOOLONG;
	strcpy(ret_ibdev, dev);
	*ret_port = port;
	return 0;
}

uint64_t tita_nic_counter_advance(uint64_t total, uint64_t prev_raw, uint64_t raw)
{
	if (raw >= prev_raw)
		return total + (raw - prev_raw);
	if (prev_raw <= UINT32_MAX && prev_raw >= (1ull << 31))
		return total + (raw + (1ull << 32) - prev_raw);
	return total + raw;
}

struct tita_nic_reader *tita_nic_reader_new(const char *sysfs_root, const char *ifname)
{
	struct tita_nic_reader *r;

	if (strlen(sysfs_root) >= sizeof(r->root) || strlen(ifname) >= sizeof(r->ifname)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	strcpy(r->root, sysfs_root);
	strcpy(r->ifname, ifname);
	return r;
}

struct tita_nic_reader *tita_nic_reader_free(struct tita_nic_reader *r)
{
	free(r);
	return NULL;
}

int tita_nic_reader_read(struct tita_nic_reader *r, struct tita_nic_sample *ret)
{
	char dev[sizeof(r->ibdev)];
	uint32_t port;

	r->sample.present = 0;
	/* Look again each time: the device may appear (driver load), go
	 * (unbind) or be renamed; a lookup is a few dozen stat-sized reads. */
	if (tita_nic_find(r->root, r->ifname, dev, sizeof(dev), &port)) {
		r->ibdev[0] = '\0';
		r->port = 0;
		*ret = r->sample;
		return -ENODEV;
	}
	if (strcmp(dev, r->ibdev) || port != r->port) {
		/* A different device: its counters are not a continuation. */
		memset(r->seen, 0, sizeof(r->seen));
		strcpy(r->ibdev, dev);
		r->port = port;
	}
	for (int c = 0; c < TITA_NIC_COUNTER_COUNT; c++) {
		char path[PATH_MAX];
		uint64_t raw;

		if (snprintf(path, sizeof(path), "%s/class/infiniband/%s/ports/%" PRIu32 "/%s/%s",
			     r->root, r->ibdev, r->port, counter_dir(c),
			     counter_names[c]) >= (int)sizeof(path) ||
		    read_u64(path, &raw))
			continue;
		r->sample.present |= 1u << c;
		/* The first read is the baseline: totals count from titad's
		 * start, as the datapath's counters do. */
		if (r->seen[c])
			r->sample.total[c] =
				tita_nic_counter_advance(r->sample.total[c], r->prev_raw[c], raw);
		r->prev_raw[c] = raw;
		r->seen[c] = true;
	}
	*ret = r->sample;
	return 0;
}

const char *tita_nic_reader_ibdev(const struct tita_nic_reader *r)
{
	return r->ibdev;
}

uint32_t tita_nic_reader_port(const struct tita_nic_reader *r)
{
	return r->port;
}
