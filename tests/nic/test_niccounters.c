// SPDX-License-Identifier: MIT
/*
 * hw_counters against fake sysfs trees laid out as the kernel lays them
 * out: a ConnectX port found through its PCI function, a Soft-RoCE device
 * found through its GID table, a netdev with no RDMA device, counters
 * that are missing, wrap at 32 bits, or reset.
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "niccounters.h"

static char root[PATH_MAX];

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
}

static void put(const char *rel, const char *content)
{
	char path[PATH_MAX], dir[PATH_MAX];
	FILE *f;

	assert_true(snprintf(path, sizeof(path), "%s/%s", root, rel) < (int)sizeof(path));
	memcpy(dir, path, sizeof(dir));
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void put_counter(const char *dev, int port, const char *name, uint64_t v)
{
	char rel[256], val[32];

	snprintf(rel, sizeof(rel), "class/infiniband/%s/ports/%d/hw_counters/%s", dev, port, name);
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)v);
	put(rel, val);
}

static void put_port_counter(const char *dev, int port, const char *name, uint64_t v)
{
	char rel[256], val[32];

	snprintf(rel, sizeof(rel), "class/infiniband/%s/ports/%d/counters/%s", dev, port, name);
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)v);
	put(rel, val);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tita-nic-XXXXXX");
	assert_non_null(mkdtemp(root));
	/* ConnectX: eth0 is PCI function 0000:3b:00.0 with mlx5_0, two ports
	 * on a dual-port card would be two functions; this one has port 1. */
	put("class/net/eth0/device/infiniband/mlx5_0/.keep", "");
	put("class/infiniband/mlx5_0/ports/1/gid_attrs/ndevs/0", "eth0\n");
	put("class/infiniband/mlx5_0/ports/1/gid_attrs/ndevs/1", "eth0\n");
	put_counter("mlx5_0", 1, "np_ecn_marked_roce_packets", 100);
	put_counter("mlx5_0", 1, "np_cnp_sent", 90);
	put_counter("mlx5_0", 1, "rp_cnp_handled", 7);
	put_counter("mlx5_0", 1, "out_of_sequence", 0xfffffff0ull);
	put_counter("mlx5_0", 1, "lifespan", 10);
	put_port_counter("mlx5_0", 1, "port_rcv_packets", 5000);
	put_port_counter("mlx5_0", 1, "port_rcv_data", 1ull << 40);
	/* Soft-RoCE on veth0: no device/infiniband, only the GID table. */
	put("class/net/veth0/address", "02:00:00:00:00:01\n");
	put("class/infiniband/rxe0/ports/1/gid_attrs/ndevs/0", "veth0\n");
	put_counter("rxe0", 1, "rcvd_seq_err", 3);
	/* A plain netdev. */
	put("class/net/lo/address", "00:00:00:00:00:00\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_find(void **state)
{
	char dev[64];
	uint32_t port = 0;

	(void)state;
	assert_int_equal(tita_nic_find(root, "eth0", dev, sizeof(dev), &port), 0);
	assert_string_equal(dev, "mlx5_0");
	assert_int_equal(port, 1);
	assert_int_equal(tita_nic_find(root, "veth0", dev, sizeof(dev), &port), 0);
	assert_string_equal(dev, "rxe0");
	assert_int_equal(tita_nic_find(root, "lo", dev, sizeof(dev), &port), -ENODEV);
	assert_int_equal(tita_nic_find(root, "nosuch", dev, sizeof(dev), &port), -ENODEV);
	assert_int_equal(tita_nic_find(root, "eth0", dev, 4, &port), -ENAMETOOLONG);
}

static void test_read(void **state)
{
	struct tita_nic_reader *r = tita_nic_reader_new(root, "eth0");
	struct tita_nic_sample s;

	(void)state;
	assert_non_null(r);
	assert_int_equal(tita_nic_reader_read(r, &s), 0);
	assert_string_equal(tita_nic_reader_ibdev(r), "mlx5_0");
	assert_int_equal(tita_nic_reader_port(r), 1);
	/* The first read is the baseline. */
	assert_int_equal(s.total[TITA_NIC_ECN_MARKED_ROCE], 0);
	assert_true(s.present & (1u << TITA_NIC_ECN_MARKED_ROCE));
	assert_true(s.present & (1u << TITA_NIC_CNP_HANDLED));
	/* Not in this NIC's tree: absent, not an error. */
	assert_false(s.present & (1u << TITA_NIC_ADP_RETRANS));

	put_counter("mlx5_0", 1, "np_ecn_marked_roce_packets", 150);
	put_counter("mlx5_0", 1, "np_cnp_sent", 140);
	put_counter("mlx5_0", 1, "rp_cnp_handled", 2); /* reset: counts from 0 */
	put_counter("mlx5_0", 1, "out_of_sequence", 0x10); /* 32-bit wrap */
	put_port_counter("mlx5_0", 1, "port_rcv_packets", 5000 + 1000);
	put_port_counter("mlx5_0", 1, "port_rcv_data", (1ull << 40) + 1000000); /* 64-bit */
	assert_int_equal(tita_nic_reader_read(r, &s), 0);
	assert_int_equal(s.total[TITA_NIC_ECN_MARKED_ROCE], 50);
	assert_int_equal(s.total[TITA_NIC_CNP_SENT], 50);
	assert_int_equal(s.total[TITA_NIC_CNP_HANDLED], 2);
	assert_int_equal(s.total[TITA_NIC_OUT_OF_SEQUENCE], 0x20);

	/* The port's standard counters sit beside hw_counters. */
	assert_true(s.present & (1u << TITA_NIC_PORT_RCV_PACKETS));
	assert_true(s.present & (1u << TITA_NIC_PORT_RCV_DATA));
	assert_int_equal(s.total[TITA_NIC_PORT_RCV_PACKETS], 1000);
	assert_int_equal(s.total[TITA_NIC_PORT_RCV_DATA], 1000000);

	/* A file that turns unreadable keeps its total and goes absent. */
	put("class/infiniband/mlx5_0/ports/1/hw_counters/np_cnp_sent", "garbage\n");
	assert_int_equal(tita_nic_reader_read(r, &s), 0);
	assert_false(s.present & (1u << TITA_NIC_CNP_SENT));
	assert_int_equal(s.total[TITA_NIC_CNP_SENT], 50);
	tita_nic_reader_free(r);
}

static void test_absent_then_present(void **state)
{
	struct tita_nic_reader *r = tita_nic_reader_new(root, "eth9");
	struct tita_nic_sample s;

	(void)state;
	assert_int_equal(tita_nic_reader_read(r, &s), -ENODEV);
	assert_int_equal(s.present, 0);
	assert_string_equal(tita_nic_reader_ibdev(r), "");
	/* The driver loads: the next read finds it. */
	put("class/net/eth9/device/infiniband/mlx5_9/.keep", "");
	put("class/infiniband/mlx5_9/ports/1/gid_attrs/ndevs/0", "eth9\n");
	put_counter("mlx5_9", 1, "np_cnp_sent", 5);
	assert_int_equal(tita_nic_reader_read(r, &s), 0);
	assert_string_equal(tita_nic_reader_ibdev(r), "mlx5_9");
	assert_int_equal(s.present, 1u << TITA_NIC_CNP_SENT);
	tita_nic_reader_free(r);
}

static void test_advance(void **state)
{
	(void)state;
	assert_int_equal(tita_nic_counter_advance(10, 5, 8), 13);
	assert_int_equal(tita_nic_counter_advance(0, 0xffffffffull, 0), 1);
	assert_int_equal(tita_nic_counter_advance(0, 1000, 10), 10);
	/* A 64-bit congestion counter going back is a reset too. */
	assert_int_equal(tita_nic_counter_advance(7, 1ull << 40, 3), 10);
	assert_string_equal(tita_nic_counter_name(TITA_NIC_ECN_MARKED_ROCE),
			    "np_ecn_marked_roce_packets");
	assert_string_equal(tita_nic_counter_name(TITA_NIC_COUNTER_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_absent_then_present),
		cmocka_unit_test(test_advance),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
