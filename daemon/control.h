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

/* A reload: the socket's mode and group (control-mode, control-group) and
 * the client limits. 0, or -errno with err, and then nothing changed: a
 * reload must not say "reloaded" and keep the old rights. */
int titad_control_reconfigure(struct titad_control *c, const struct titad_config *cfg, char *err,
			      size_t err_size);

struct titad_control_stats {
	uint32_t clients;
	uint64_t refused; /* over a limit, at accept */
	uint64_t idle_closed;
};
void titad_control_stats(const struct titad_control *c, struct titad_control_stats *ret);

#endif /* TITAD_CONTROL_H */
