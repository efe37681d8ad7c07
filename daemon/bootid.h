/* SPDX-License-Identifier: MIT */
/*
 * This daemon's boot id: peers take a datagram with a smaller boot id than
 * the one they know as a replay, so the boot id must grow with every start,
 * even when the wall clock stepped back (a node whose clock is wrong until
 * NTP corrects it). It is the wall clock at start, but never below the
 * last boot id plus one, kept in state-directory/boot-id; and never more
 * than half the peers' boot-id-skew ahead of the wall clock, beyond which
 * peers refuse it (then the wall clock wins, and peers take the start as a
 * restart once the old boot has been silent for a few seconds).
 */
#ifndef TITAD_BOOTID_H
#define TITAD_BOOTID_H

#include <stddef.h>
#include <stdint.h>

/* The boot id for a start at real_ns, recorded in dir (NULL or "": none
 * kept). Never fails: what went wrong is in note (empty when nothing did),
 * for the caller to log. */
uint64_t titad_boot_id(const char *dir, uint64_t real_ns, uint64_t skew_ns, char *note,
		       size_t note_size);

#endif /* TITAD_BOOTID_H */
