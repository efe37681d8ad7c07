/* SPDX-License-Identifier: MIT */
/*
 * What titad tells its log about its peers and pairs: heard, lost, heard
 * again; pairs failing open because their grants lapsed, and back (see
 * watch.c). Called once a second from titad's housekeeping.
 */
#ifndef TITAD_WATCH_H
#define TITAD_WATCH_H

#include <stdint.h>

#include "sources.h"

struct titad_watch;

/* NULL with errno. */
struct titad_watch *titad_watch_new(void);
struct titad_watch *titad_watch_free(struct titad_watch *w);
/* Compare the peers and pairs with the last check and log what changed.
 * 0, or -ENOMEM (the last state is kept, the next check tries again). */
int titad_watch_check(struct titad_watch *w, const struct titad_sources *src, uint64_t now_ns);

#endif /* TITAD_WATCH_H */
