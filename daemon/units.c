// SPDX-License-Identifier: MIT
/*
 * Operator-facing units: see units.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tita/ctl.h"
#include "units.h"

/* strtod accepts "nan", "inf", hex floats and leading spaces: operators
 * type plain decimals, so anything else is a typo and is refused. */
static int parse_decimal(const char *s, double *ret, const char **ret_end)
{
	const char *p = s;
	bool digits = false;
	char *end;
	double v;

	if (*p == '+' || *p == '-')
		p++;
	while (isdigit((unsigned char)*p)) {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return -EINVAL;
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;

		if (*q == '+' || *q == '-')
			q++;
		if (isdigit((unsigned char)*q)) {
			while (isdigit((unsigned char)*q))
				q++;
			p = q;
		}
	}
	errno = 0;
	v = strtod(s, &end);
	if (end != p || errno == ERANGE || !isfinite(v))
		return -EINVAL;
	*ret = v;
	*ret_end = p;
	return 0;
}

int tita_parse_double(const char *s, double *ret)
{
	const char *end;
	double v;

	if (!s || parse_decimal(s, &v, &end) || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int tita_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*ret = v;
	return 0;
}

int tita_parse_rate(const char *s, uint64_t *ret_bps)
{
	const char *unit;
	double v, mult = 1;

	if (!s || parse_decimal(s, &v, &unit))
		return -EINVAL;
	switch (*unit) {
	case 'k':
	case 'K':
		mult = 1e3;
		unit++;
		break;
	case 'm':
	case 'M':
		mult = 1e6;
		unit++;
		break;
	case 'g':
	case 'G':
		mult = 1e9;
		unit++;
		break;
	case 't':
	case 'T':
		mult = 1e12;
		unit++;
		break;
	}
	if (*unit && strcmp(unit, "bit") && strcmp(unit, "bps") && strcasecmp(unit, "bit/s"))
		return -EINVAL;
	if (v < 0)
		return -EINVAL;
	v *= mult;
	if (v > (double)TITA_RATE_MAX_BPS)
		return -ERANGE;
	*ret_bps = (uint64_t)llround(v);
	return 0;
}

const char *tita_format_rate(uint64_t rate_bps, char *buf, size_t size)
{
	static const struct {
		double div;
		const char *unit;
	} units[] = { { 1e12, "Tbit" }, { 1e9, "Gbit" }, { 1e6, "Mbit" }, { 1e3, "kbit" } };

	if (rate_bps == TITA_RATE_UNPACED) {
		snprintf(buf, size, "unpaced");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if ((double)rate_bps >= units[i].div) {
			snprintf(buf, size, "%.3g%s", (double)rate_bps / units[i].div,
				 units[i].unit);
			return buf;
		}
	}
	snprintf(buf, size, "%llubit", (unsigned long long)rate_bps);
	return buf;
}

int tita_parse_duration(const char *s, uint64_t *ret_ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 } };
	const char *unit;
	double v;

	if (!s || parse_decimal(s, &v, &unit) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit))
			continue;
		v *= units[i].ns;
		if (v > 3600e9)
			return -ERANGE;
		*ret_ns = (uint64_t)llround(v);
		return 0;
	}
	return -EINVAL;
}

int tita_parse_addr(const char *s, struct tita_addr *ret_addr)
{
	struct tita_addr a;
	uint8_t v4[4];

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, v4) == 1) {
		*ret_addr = tita_addr_from_ipv4(v4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, a.bytes) == 1) {
		*ret_addr = a;
		return 0;
	}
	return -EINVAL;
}

const char *tita_format_addr(const struct tita_addr *a, char *buf, size_t size)
{
	const char *r;

	if (tita_addr_is_ipv4(a))
		r = inet_ntop(AF_INET, &a->bytes[12], buf, (socklen_t)size);
	else
		r = inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)size);
	if (!r && size)
		snprintf(buf, size, "?");
	return buf;
}

int tita_parse_prefix(const char *s, struct tita_prefix *ret_prefix)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct tita_prefix p;
	uint64_t len;
	size_t n;

	if (!s)
		return -EINVAL;
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (tita_parse_addr(addr, &p.addr))
		return -EINVAL;
	bool v4 = tita_addr_is_ipv4(&p.addr) && strchr(addr, ':') == NULL;
	if (slash) {
		if (tita_parse_u64(slash + 1, &len) || len > (v4 ? 32u : 128u))
			return -EINVAL;
	} else {
		len = v4 ? 32 : 128;
	}
	p.len = (uint8_t)(v4 ? 96 + len : len);
	/* Host bits set are a typo as often as not ("10.0.0.1/24"): clear them
	 * so that matching means what the prefix length says. */
	for (unsigned i = p.len; i < 128; i++)
		p.addr.bytes[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	*ret_prefix = p;
	return 0;
}

bool tita_prefix_match(const struct tita_prefix *p, const struct tita_addr *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr.bytes, a->bytes, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (p->addr.bytes[full] & mask) == (a->bytes[full] & mask);
}

bool tita_job_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n < 1 || n > TITA_JOB_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!isalnum(ch) && ch != '_' && ch != '-' && ch != '.')
			return false;
	}
	return true;
}

uint32_t tita_job_id(const char *name)
{
	uint32_t h = 2166136261u;

	if (!strcmp(name, TITA_JOB_DEFAULT_NAME))
		return TITA_JOB_DEFAULT;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h ? h : 1;
}
