/* SPDX-License-Identifier: MIT */
/*
 * The control socket titactl talks to. It reads the other modules through
 * their snapshot functions and changes jobs through the engine; it keeps
 * no state of theirs.
 */
#ifndef TITAD_CONTROL_H
#define TITAD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "sources.h"

struct titad_control;

/* Create the socket (control-socket, control-mode, control-group). 0, or
 * -errno with err; on failure *ret is still set, for titad_control_close(). */
int titad_control_open(struct titad_control **ret, struct tita_event *ev,
		       const struct titad_config *cfg, const struct titad_sources *src, char *err,
		       size_t err_size);
struct titad_control *titad_control_close(struct titad_control *c);

#endif /* TITAD_CONTROL_H */
