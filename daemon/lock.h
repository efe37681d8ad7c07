/* SPDX-License-Identifier: MIT */
/*
 * One titad per configuration: before it touches anything (the datapath,
 * tc, pins, sockets), titad takes an exclusive lock on
 * <control-socket>.lock, and on the pin root's directory when bpffs holds
 * it, so that a second titad started with the same config (or another
 * config on the same pins) exits at once and leaves the first one's state
 * alone. The kernel drops the locks with the process, also after a crash
 * or kill -9, so a restart never finds a stale one.
 */
#ifndef TITAD_LOCK_H
#define TITAD_LOCK_H

#include <stddef.h>

#include "config.h"

struct titad_lock {
	int fd_control, fd_pins; /* -1: not held */
};

/* 0, or -EBUSY (another titad holds one; err names it and its pid) or
 * another -errno, with err. Nothing is held on failure. */
int titad_lock_take(struct titad_lock *l, const struct titad_config *cfg, char *err,
		    size_t err_size);
void titad_lock_release(struct titad_lock *l);

#endif /* TITAD_LOCK_H */
