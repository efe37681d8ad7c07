/* SPDX-License-Identifier: MIT */
/*
 * Parsing and printing of the values that operators type: rates with units
 * ("25G", "400Mbit", "3.2T", plain bits/s), durations ("1ms", "20ms"),
 * addresses and prefixes, job names. Shared by titad's config and titactl,
 * so a rate means the same thing in both. No I/O.
 */
#ifndef TITAD_UNITS_H
#define TITAD_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/types.h"

/* Longest job name, without the NUL. */
#define TITA_JOB_NAME_MAX 63
#define TITA_JOB_DEFAULT_NAME "default"

/*
 * A rate in bits per second: a decimal number with an optional SI prefix
 * (k, M, G, T; powers of 1000, case-insensitive) and an optional "bit" or
 * "bps". Bytes ("B", "Bps") are refused so that nobody is off by eight.
 * 0 and *ret_bps, -EINVAL (not a rate), -ERANGE (above TITA_RATE_MAX_BPS).
 */
int tita_parse_rate(const char *s, uint64_t *ret_bps);

/* "9.5Gbit": three significant digits, the largest prefix that fits. */
const char *tita_format_rate(uint64_t rate_bps, char *buf, size_t size);

/* A duration with a unit: ns, us, ms, s (e.g. "1ms", "0.5s"). 0, -EINVAL,
 * -ERANGE (above one hour). */
int tita_parse_duration(const char *s, uint64_t *ret_ns);

/* A plain decimal number (no unit), finite. 0 or -EINVAL. */
int tita_parse_double(const char *s, double *ret);
/* A decimal unsigned integer that fits 64 bits. 0, -EINVAL or -ERANGE. */
int tita_parse_u64(const char *s, uint64_t *ret);

/* IPv4 (stored IPv4-mapped) or IPv6. 0 or -EINVAL. */
int tita_parse_addr(const char *s, struct tita_addr *ret_addr);
/* Dotted quad for IPv4-mapped addresses, RFC 5952 text otherwise. */
const char *tita_format_addr(const struct tita_addr *a, char *buf, size_t size);
#define TITA_ADDR_STRLEN 46

/* An address and a prefix length in the IPv6 space (an IPv4 /n is stored
 * as /96+n), e.g. "10.0.0.0/24", "fd00::/8", or a bare address (/32, /128). */
struct tita_prefix {
	struct tita_addr addr;
	uint8_t len;
};

int tita_parse_prefix(const char *s, struct tita_prefix *ret_prefix);
bool tita_prefix_match(const struct tita_prefix *p, const struct tita_addr *a);

/* Letters, digits, '_', '-', '.', 1..TITA_JOB_NAME_MAX characters. */
bool tita_job_name_valid(const char *name);
/* The controller's number for a job name: 0 (TITA_JOB_DEFAULT) for
 * "default", otherwise a 32-bit FNV-1a hash that is never 0, so the same
 * name has the same id on every host and across restarts. */
uint32_t tita_job_id(const char *name);

#endif /* TITAD_UNITS_H */
