// SPDX-License-Identifier: MIT
/*
 * pacer = auto and a configuration without [port], on hosts built as
 * sysfs trees the way the kernel lays them out: a ConnectX port (its PCI
 * function's RDMA device), Soft-RoCE (rxe, found through its GID table,
 * with its "parent" attribute), a RoCE bond (mlx5_bond_0: its netdev is
 * not its parent, but it has a bus device), and a netdev with nothing.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "autoconf.h"

static char root[PATH_MAX];

/* Run a shell command in the tree (mkdir -p, echo): the layout reads as
 * the paths themselves. */
static void sh(const char *cmd)
{
	char line[1024];

	assert_true(snprintf(line, sizeof(line), "cd '%s' && %s", root, cmd) < (int)sizeof(line));
	assert_int_equal(system(line), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tita-autoconf-XXXXXX");
	assert_non_null(mkdtemp(root));
	sh("mkdir -p class/net/lo class/net/eth1 class/net/eth2 class/net/bond0");
	/* ConnectX: eth0's PCI function has mlx5_0, which has a bus device. */
	sh("mkdir -p class/net/eth0/device/infiniband/mlx5_0 class/infiniband/mlx5_0/device "
	   "class/infiniband/mlx5_0/ports/1/gid_attrs/ndevs && "
	   "echo eth0 >class/infiniband/mlx5_0/ports/1/gid_attrs/ndevs/0");
	/* Soft-RoCE on eth2: no bus device, a parent attribute. */
	sh("mkdir -p class/infiniband/rxe0/ports/1/gid_attrs/ndevs && "
	   "echo eth2 >class/infiniband/rxe0/parent && "
	   "echo eth2 >class/infiniband/rxe0/ports/1/gid_attrs/ndevs/0");
	/* RoCE LAG: bond0 over two PCI functions, one RDMA device. */
	sh("mkdir -p class/infiniband/mlx5_bond_0/device "
	   "class/infiniband/mlx5_bond_0/ports/1/gid_attrs/ndevs && "
	   "echo bond0 >class/infiniband/mlx5_bond_0/ports/1/gid_attrs/ndevs/0");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root) >= (int)sizeof(cmd))
		return -1;
	return system(cmd);
}

static void cfg_with(struct titad_config *cfg, enum titad_pacer_kind pacer, const char *ports)
{
	char list[128], *save = NULL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->pacer = pacer;
	assert_true(snprintf(cfg->sysfs_root, sizeof(cfg->sysfs_root), "%s", root) <
		    (int)sizeof(cfg->sysfs_root));
	snprintf(list, sizeof(list), "%s", ports);
	for (char *t = strtok_r(list, " ", &save); t; t = strtok_r(NULL, " ", &save))
		assert_true(snprintf(cfg->ports[cfg->n_ports++].ifname, IF_NAMESIZE, "%s", t) <
			    IF_NAMESIZE);
}

static void test_pacer_per_port(void **state)
{
	static const struct {
		enum titad_pacer_kind pacer;
		const char *ports, *want_note;
		enum titad_pacer_kind want;
	} cases[] = {
		{ TITAD_PACER_AUTO, "eth0", "eth0: RDMA device mlx5_0 (hardware RoCE",
		  TITAD_PACER_QP },
		{ TITAD_PACER_AUTO, "bond0", "bond0: RDMA device mlx5_bond_0 (hardware RoCE",
		  TITAD_PACER_QP },
		{ TITAD_PACER_AUTO, "eth2", "eth2: RDMA device rxe0 (software RoCE: tc paces it)",
		  TITAD_PACER_TC },
		{ TITAD_PACER_AUTO, "eth1", "eth1: no RDMA device: tc paces its UDP; pacer tc",
		  TITAD_PACER_TC },
		/* Mixed: one pacer, and the ports it does not reach said. */
		{ TITAD_PACER_AUTO, "eth0 eth1", "the qp pacer paces only the QPs of hardware",
		  TITAD_PACER_QP },
		/* Set by hand: kept, and what it misses said. */
		{ TITAD_PACER_TC, "eth0", "pacer tc: hardware RoCE bypasses tc", TITAD_PACER_TC },
		{ TITAD_PACER_DCB, "eth0", "eth0: RDMA device mlx5_0 (hardware RoCE); pacer dcb",
		  TITAD_PACER_DCB },
		{ TITAD_PACER_DRY_RUN, "eth1", "eth1: no RDMA device; pacer dry-run",
		  TITAD_PACER_DRY_RUN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct titad_config cfg;
		char notes[2048], err[256] = "";

		cfg_with(&cfg, cases[i].pacer, cases[i].ports);
		assert_int_equal(titad_autoconf(&cfg, notes, sizeof(notes), err, sizeof(err)), 0);
		if (cfg.pacer != cases[i].want || !strstr(notes, cases[i].want_note))
			fail_msg("%s: pacer %s, notes '%s' (want %s, '%s')", cases[i].ports,
				 titad_pacer_name(cfg.pacer), notes,
				 titad_pacer_name(cases[i].want), cases[i].want_note);
	}
}

/* No [port]: every netdev with an RDMA device, in name order. */
static void test_ports_found(void **state)
{
	struct titad_config cfg;
	char notes[2048], err[256] = "";

	(void)state;
	cfg_with(&cfg, TITAD_PACER_AUTO, "");
	assert_int_equal(titad_autoconf(&cfg, notes, sizeof(notes), err, sizeof(err)), 0);
	assert_int_equal(cfg.n_ports, 3);
	assert_string_equal(cfg.ports[0].ifname, "bond0");
	assert_string_equal(cfg.ports[1].ifname, "eth0");
	assert_string_equal(cfg.ports[2].ifname, "eth2");
	assert_int_equal(cfg.pacer, TITAD_PACER_QP);
	assert_non_null(strstr(notes, "eth0: RDMA device mlx5_0 (hardware RoCE: only the qp pacer "
				      "reaches it), found; pacer qp"));
}

/* Nothing to find: one line that says what to configure, cfg untouched. */
static void test_nothing_found(void **state)
{
	struct titad_config cfg;
	char notes[2048], err[512] = "";

	(void)state;
	sh("rm -rf class/infiniband class/net/eth0/device");
	cfg_with(&cfg, TITAD_PACER_AUTO, "");
	assert_int_equal(titad_autoconf(&cfg, notes, sizeof(notes), err, sizeof(err)), -ENODEV);
	assert_int_equal(cfg.n_ports, 0);
	assert_int_equal(cfg.pacer, TITAD_PACER_AUTO);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "no [port IFNAME] section, and no network device has an RDMA "
				    "device behind it"));
	assert_non_null(strstr(err, "add a [port IFNAME] section"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pacer_per_port),
		cmocka_unit_test(test_ports_found),
		cmocka_unit_test(test_nothing_found),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
