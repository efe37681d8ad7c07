// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* Benchmark reference (a): the empty XDP program, the cost of the test
 * harness itself. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int ref_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
