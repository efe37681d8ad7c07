/* SPDX-License-Identifier: MIT */
/*
 * pacer = auto and a configuration without [port] sections, resolved on
 * this host (see autoconf.c).
 */
#ifndef TITAD_AUTOCONF_H
#define TITAD_AUTOCONF_H

#include <stddef.h>

#include "config.h"

/*
 * Fill cfg's ports when it has none (every netdev with an RDMA device)
 * and turn pacer = auto into qp or tc. notes gets one line per port (its
 * RDMA device and pacer) and one per port the pacer cannot reach, for the
 * log and --check-config. 0, or -ENODEV with err saying what to configure
 * (cfg is unchanged then).
 */
int titad_autoconf(struct titad_config *cfg, char *notes, size_t notes_size, char *err,
		   size_t err_size);

#endif /* TITAD_AUTOCONF_H */
