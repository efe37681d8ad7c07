/* SPDX-License-Identifier: MIT */
/*
 * Netlink attributes from the kernel, walked with their lengths checked:
 * the NIC code's parsers (DCB, ethtool pause statistics) read replies
 * that recorded tests also feed them, so a bad length must be an error,
 * never a read past the buffer.
 */
#ifndef TITAD_NLATTR_WALK_H
#define TITAD_NLATTR_WALK_H

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stddef.h>

/* Walk [p, p+len) as attributes; fn sees each valid one and stops the walk
 * by returning non-zero (returned). -EBADMSG when a length does not add up. */
static inline int nlattr_walk(const char *p, size_t len, int (*fn)(const struct nlattr *, void *),
			      void *ctx)
{
	const char *end = p + len;

	while (p < end) {
		const struct nlattr *a = (const struct nlattr *)p;
		size_t left = (size_t)(end - p);
		int r;

		if (left < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > left)
			return -EBADMSG;
		r = fn(a, ctx);
		if (r)
			return r;
		if ((size_t)MNL_ALIGN(a->nla_len) >= left)
			break;
		p += MNL_ALIGN(a->nla_len);
	}
	return 0;
}

#endif
