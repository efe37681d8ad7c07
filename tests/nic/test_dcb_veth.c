// SPDX-License-Identifier: MIT
/*
 * The dcb back end on a real veth (no DCB support) in a private network
 * namespace: the kernel refuses, and init fails at start with a message
 * that names the device and the reason, instead of accepting rates that
 * nothing would enforce. Needs root: exit 77 (skipped) otherwise, and a
 * failure under CI=true.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcbnl.h"
#include "pacer_nic.h"

#include "check.h"

static int skip(const char *why)
{
	const char *ci = getenv("CI");

	fprintf(stderr, "test-dcb-veth: %s\n", why);
	return ci && !strcmp(ci, "true") ? 1 : 77;
}

int main(void)
{
	char err[256] = "";
	uint64_t kbps[TITA_DCB_MAX_TCS] = { 0 };
	struct tita_pacer_port port = { .ifname = "tdcb0" };
	struct tita_pacer *p;
	int r;

	if (geteuid() != 0)
		return skip("needs root (a veth in a private network namespace)");
	if (unshare(CLONE_NEWNET) < 0)
		return skip("unshare(CLONE_NEWNET) failed");
	if (system("ip link add tdcb0 type veth peer name tdcb1 && ip link set tdcb0 up") != 0)
		return skip("cannot create a veth pair");

	r = tita_dcb_get_maxrate("tdcb0", kbps, err, sizeof(err));
	printf("get on veth: %d: %s\n", r, err);
	CHECK(r == -EOPNOTSUPP, "get on a veth: %d, want -EOPNOTSUPP", r);
	CHECK(strstr(err, "tdcb0") && strstr(err, "no DCB"), "message: %s", err);

	r = tita_dcb_set_maxrate("tdcb0", kbps, err, sizeof(err));
	CHECK(r == -EOPNOTSUPP, "set on a veth: %d, want -EOPNOTSUPP", r);

	r = tita_dcb_get_maxrate("tdcb-none", kbps, err, sizeof(err));
	CHECK(r == -ENODEV, "get on a missing device: %d, want -ENODEV", r);
	CHECK(strstr(err, "no such device") != NULL, "message: %s", err);

	p = tita_pacer_new(&tita_pacer_dcb_ops, &port, 1, NULL);
	CHECK(p != NULL, "tita_pacer_new");
	if (p) {
		err[0] = '\0';
		r = p->ops->init(p, err, sizeof(err));
		printf("dcb pacer init on veth: %d: %s\n", r, err);
		CHECK(r == -EOPNOTSUPP, "init: %d, want -EOPNOTSUPP", r);
		CHECK(strstr(err, "tdcb0") != NULL, "init message: %s", err);
		p->ops->cleanup(p);
		tita_pacer_free(p);
	}
	return failures ? 1 : 0;
}
