/* SPDX-License-Identifier: MIT */
/*
 * The clocks. Only the event loop (event.c) reads them, once per batch of
 * events; everything else is handed `now`.
 */
#ifndef TITAD_CLOCK_H
#define TITAD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ns: the clock of the controller, the event loop's
 * timers and the BPF programs (bpf_ktime_get_ns). */
uint64_t tita_clock_mono_ns(void);
/* CLOCK_REALTIME in ns: for the boot id, and to place the kernel's
 * wall-clock receive timestamps on the monotonic clock. */
uint64_t tita_clock_real_ns(void);

#endif /* TITAD_CLOCK_H */
