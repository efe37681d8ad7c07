/* SPDX-License-Identifier: MIT */
/* Internal to libtita_bpf: the handle, shared by the loader and the reader. */
#ifndef TITA_BPF_LOADER_H
#define TITA_BPF_LOADER_H

#include <stdint.h>

#include "tita_bpf.h"

struct tita;
struct bpf_link;

struct tita_bpf {
	struct tita *skel;
	struct bpf_link *queue_link;
	struct tita_bpf_info info;
	char pin_root[192];
	void (*log)(void *userdata, const char *msg);
	void *log_userdata;
};

int tita_bpf_count_tc_filters(int ifindex, uint32_t direction);
int tita_bpf_has_clsact(int ifindex);

#endif /* TITA_BPF_LOADER_H */
