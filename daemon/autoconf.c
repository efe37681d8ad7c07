// SPDX-License-Identifier: MIT
/*
 * What `pacer = auto` and a configuration without [port] sections mean on
 * the host titad runs on. Hardware RoCE NICs move RDMA traffic past tc and
 * XDP: only the QP agents pace it (qp). Soft-RoCE (rxe) and plain UDP go
 * through the kernel's stack, where tc paces them. So:
 *
 *   - no [port]: every network device with an RDMA device behind it is a
 *     port (what `rdma link show` lists); none is an error that says
 *     what to configure;
 *   - pacer = auto: qp when a port has a hardware RDMA device (one with a
 *     bus device, a PCI function: mlx5, bnxt_re, irdma), else tc. titad
 *     runs one pacer: with hardware and other ports mixed it takes qp and
 *     says which ports it does not pace.
 *
 * The RDMA device behind a netdev comes from sysfs (tita_nic_find, as the
 * NIC counters do); sysfs_root lets the tests build a host.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoconf.h"
#include "niccounters.h"

/* A device of a bus (a PCI function) rather than one made in software:
 * rxe and siw name their netdev in a "parent" attribute and have no bus
 * device. */
static bool hardware_rdma(const char *sysfs_root, const char *ibdev)
{
	char path[512];

	if (snprintf(path, sizeof(path), "%s/class/infiniband/%s/parent", sysfs_root, ibdev) >=
		    (int)sizeof(path) ||
	    !access(path, F_OK))
		return false;
	if (snprintf(path, sizeof(path), "%s/class/infiniband/%s/device", sysfs_root, ibdev) >=
	    (int)sizeof(path))
		return false;
	return !access(path, F_OK);
}

static void say(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t size, const char *fmt, ...)
{
	size_t off = strlen(buf);
	va_list ap;

	if (off + 1 >= size)
		return;
	if (off)
		buf[off++] = '\n', buf[off] = '\0';
	va_start(ap, fmt);
	vsnprintf(buf + off, size - off, fmt, ap);
	va_end(ap);
}

/* Every netdev with an RDMA device behind it, in name order, as ports. */
static int find_ports(struct titad_config *cfg, char *err, size_t err_size)
{
	char path[512];
	struct dirent **names = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/class/net", cfg->sysfs_root);
	n = scandir(path, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char dev[64];
		uint32_t port;

		if (names[i]->d_name[0] != '.' && strlen(names[i]->d_name) < IF_NAMESIZE &&
		    cfg->n_ports < TITAD_MAX_PORTS &&
		    !tita_nic_find(cfg->sysfs_root, names[i]->d_name, dev, sizeof(dev), &port)) {
			struct titad_port_conf *p = &cfg->ports[cfg->n_ports++];

			memset(p, 0, sizeof(*p));
			memcpy(p->ifname, names[i]->d_name, strlen(names[i]->d_name) + 1);
		}
		free(names[i]);
	}
	free(names);
	if (cfg->n_ports)
		return 0;
	snprintf(err, err_size,
		 "no [port IFNAME] section, and no network device has an RDMA device behind it "
		 "(rdma link show lists none): add a [port IFNAME] section for each NIC whose "
		 "RoCE or UDP traffic titad should pace (titad.conf(5))");
	return -ENODEV;
}

int titad_autoconf(struct titad_config *cfg, char *notes, size_t notes_size, char *err,
		   size_t err_size)
{
	bool any_hw = false, any_other = false, found = !cfg->n_ports;
	bool chosen = cfg->pacer == TITAD_PACER_AUTO;
	char dev[TITAD_MAX_PORTS][64];
	bool hw[TITAD_MAX_PORTS] = { false };
	int r;

	notes[0] = '\0';
	if (!cfg->n_ports) {
		r = find_ports(cfg, err, err_size);
		if (r)
			return r;
	}
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		uint32_t port;

		if (tita_nic_find(cfg->sysfs_root, cfg->ports[i].ifname, dev[i], sizeof(dev[i]),
				  &port))
			dev[i][0] = '\0';
		hw[i] = dev[i][0] && hardware_rdma(cfg->sysfs_root, dev[i]);
		any_hw |= hw[i];
		any_other |= !hw[i];
	}
	if (cfg->pacer == TITAD_PACER_AUTO)
		cfg->pacer = any_hw ? TITAD_PACER_QP : TITAD_PACER_TC;
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		/* Why auto chose as it did; a pacer set by hand gets the facts. */
		const char *what =
			hw[i] ? (chosen ? "hardware RoCE: only the qp pacer reaches it" :
					  "hardware RoCE") :
			dev[i][0] ?
				(chosen ? "software RoCE: tc paces it" : "software RoCE") :
				(chosen ? "no RDMA device: tc paces its UDP" : "no RDMA device");

		if (dev[i][0])
			say(notes, notes_size, "%s: RDMA device %s (%s)%s; pacer %s",
			    cfg->ports[i].ifname, dev[i], what, found ? ", found" : "",
			    titad_pacer_name(cfg->pacer));
		else
			say(notes, notes_size, "%s: %s; pacer %s", cfg->ports[i].ifname, what,
			    titad_pacer_name(cfg->pacer));
	}
	if (cfg->pacer == TITAD_PACER_QP && any_other)
		say(notes, notes_size,
		    "the qp pacer paces only the QPs of hardware RoCE ports: traffic on the "
		    "others runs unpaced (titad runs one pacer; set pacer = tc to pace theirs "
		    "instead)");
	if (cfg->pacer == TITAD_PACER_TC && any_hw)
		say(notes, notes_size,
		    "pacer tc: hardware RoCE bypasses tc, so its RDMA traffic runs unpaced "
		    "(pacer = qp or auto paces it through the QP agents)");
	return 0;
}
