/* SPDX-License-Identifier: MIT */
/*
 * The one place titad reads a clock. Everything else is handed `now`.
 */
#ifndef TITAD_CLOCK_H
#define TITAD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ns: the clock of the controller, the event loop's
 * timers and the BPF programs (bpf_ktime_get_ns). */
uint64_t tita_clock_mono_ns(void);
/* CLOCK_REALTIME in ns: only for the boot id, which must grow across
 * restarts of the daemon. */
uint64_t tita_clock_real_ns(void);
/* CPU time this process used (user + system), in ns. */
uint64_t tita_clock_cpu_ns(void);

#endif /* TITAD_CLOCK_H */
