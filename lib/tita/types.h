/* SPDX-License-Identifier: MIT */
/*
 * Units, addresses and small helpers shared by every part of tita.
 *
 * Time is a plain count of nanoseconds handed in by the caller (the daemon's
 * monotonic clock, or the simulator's virtual clock); nothing in lib/ reads a
 * clock. Rates are bits per second, sizes are bytes.
 */
#ifndef TITA_TYPES_H
#define TITA_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TITA_NSEC_PER_USEC 1000ull
#define TITA_NSEC_PER_MSEC 1000000ull
#define TITA_NSEC_PER_SEC 1000000000ull

#define TITA_GBPS 1000000000ull
#define TITA_MBPS 1000000ull

/* A pair with this rate is not paced at all: the NIC's own congestion control
 * alone governs it (the fail-open state). */
#define TITA_RATE_UNPACED UINT64_MAX

/* The fastest link tita accepts anywhere (a 3.2 Tbit/s port); any rate a peer
 * sends above this is absurd and rejected. */
#define TITA_RATE_MAX_BPS (3200ull * TITA_GBPS)

/* No deadline pending. */
#define TITA_TIME_NEVER UINT64_MAX

/* An IPv6 address, or an IPv4 address in its IPv4-mapped form (::ffff:a.b.c.d),
 * in network byte order. */
struct tita_addr {
	uint8_t bytes[16];
};

static inline struct tita_addr tita_addr_from_ipv4(const uint8_t ipv4[4])
{
	struct tita_addr a = { .bytes = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff } };

	memcpy(&a.bytes[12], ipv4, 4);
	return a;
}

/* For tests and the simulator: host number n as 10.x.y.z (never sent anywhere). */
static inline struct tita_addr tita_addr_from_host_id(uint32_t n)
{
	uint8_t v4[4] = { 10, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };

	return tita_addr_from_ipv4(v4);
}

static inline bool tita_addr_is_ipv4(const struct tita_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a->bytes, prefix, sizeof(prefix)) == 0;
}

static inline bool tita_addr_eq(const struct tita_addr *a, const struct tita_addr *b)
{
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

/* A 64-bit mix whose every output bit depends on every input bit
 * (MurmurHash3's finalizer): hash tables keep its low bits. */
static inline uint64_t tita_hash_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* An address's hash, seeded: two word-sized mixes rather than a step per
 * byte (the tables that use it are looked up for every pair each round). */
static inline uint64_t tita_addr_hash(const struct tita_addr *a, uint64_t seed)
{
	uint64_t lo, hi;

	memcpy(&lo, a->bytes, sizeof(lo));
	memcpy(&hi, a->bytes + sizeof(lo), sizeof(hi));
	return tita_hash_mix(seed ^ lo ^ tita_hash_mix(hi + 0x9e3779b97f4a7c15ull));
}

static inline uint64_t tita_min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t tita_max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Bytes carried in interval_ns at rate_bps, rounded down. */
static inline uint64_t tita_rate_to_bytes(uint64_t rate_bps, uint64_t interval_ns)
{
	return (uint64_t)((double)rate_bps * (double)interval_ns / 8e9);
}

/* The rate that carried bytes in interval_ns (0 for an empty interval). */
static inline uint64_t tita_bytes_to_rate(uint64_t bytes, uint64_t interval_ns)
{
	if (interval_ns == 0)
		return 0;
	return (uint64_t)((double)bytes * 8e9 / (double)interval_ns);
}

/*
 * A small, caller-seeded PRNG (splitmix64): lib/ never calls rand(), so a
 * seed fixes every run of the simulator and the tests.
 */
static inline uint64_t tita_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double tita_rng_unit(uint64_t *state)
{
	return (double)(tita_rng_next(state) >> 11) * 0x1.0p-53;
}

#endif /* TITA_TYPES_H */
