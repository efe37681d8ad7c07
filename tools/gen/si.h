/* SPDX-License-Identifier: MIT */
#ifndef TITA_GEN_SI_H
#define TITA_GEN_SI_H

/* A non-negative number with an optional SI suffix (k, M, G, T; powers of
 * 1000) and an optional unit word bit, bps, B or b that is ignored
 * ("200Mbit", "20MB", "1.5G"). 0, or -EINVAL. */
int parse_si(const char *s, double *ret);

#endif
