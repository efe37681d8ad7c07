/* SPDX-License-Identifier: MIT */
/*
 * The cluster key file ([peers] key-file): read, checked and turned into
 * the wire codec's key ring.
 */
#ifndef TITAD_KEYS_H
#define TITAD_KEYS_H

#include <stddef.h>

#include "config.h"
#include "wire.h"

/* 0 and the ring, or -errno with err naming the file and what is wrong. */
int titad_keys_load(const struct titad_config *cfg, struct tita_wire_keyring *ret_kr, char *err,
		    size_t err_size);

#endif /* TITAD_KEYS_H */
