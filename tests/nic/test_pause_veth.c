// SPDX-License-Identifier: MIT
/*
 * Pause counters on a real veth in a private network namespace: the
 * kernel's ethtool family is found, the pause get is refused (veth has no
 * pause parameters) and its driver statistics name no per-priority pause
 * counter, so both sources read as unknown, not as zero; a missing device
 * is -ENODEV. Needs root: exit 77 (skipped) otherwise, and a failure
 * under CI=true.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pausestats.h"

#include "check.h"

static int skip(const char *why)
{
	const char *ci = getenv("CI");

	fprintf(stderr, "test-pause-veth: %s\n", why);
	return ci && !strcmp(ci, "true") ? 1 : 77;
}

int main(void)
{
	struct tita_pause_counts c;
	uint16_t family = 0;
	int r;

	if (geteuid() != 0)
		return skip("needs root (a veth in a private network namespace)");
	if (unshare(CLONE_NEWNET) < 0)
		return skip("unshare(CLONE_NEWNET) failed");
	if (system("ip link add tpause0 type veth peer name tpause1 && ip link set tpause0 up") !=
	    0)
		return skip("cannot create a veth pair");

	memset(&c, 0xff, sizeof(c));
	r = tita_pause_read("tpause0", 3, &family, &c);
	printf("veth: %d, family %u, link %d, prio %d\n", r, family, c.has_link, c.has_prio);
	CHECK(r == 0, "read on a veth: %d, want 0 (nothing known)", r);
	CHECK(family != 0 && family != UINT16_MAX, "the ethtool family: %u", family);
	CHECK(!c.has_link && !c.has_prio, "a veth has no pause counters: link %d prio %d",
	      c.has_link, c.has_prio);
	CHECK(c.link_tx_frames == 0 && c.prio_tx_frames == 0, "unknown counts are cleared");

	/* The cached family is used again. */
	r = tita_pause_read("tpause1", 3, &family, &c);
	CHECK(r == 0 && !c.has_link && !c.has_prio, "second read: %d", r);

	r = tita_pause_read("tpause-none", 3, &family, &c);
	CHECK(r == -ENODEV, "a missing device: %d, want -ENODEV", r);
	return failures ? 1 : 0;
}
