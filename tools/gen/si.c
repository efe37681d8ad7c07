// SPDX-License-Identifier: MIT
/* Number parsing shared by the bed's generator and marker. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "si.h"

int parse_si(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1e3;
		end++;
		break;
	case 'M':
		v *= 1e6;
		end++;
		break;
	case 'G':
		v *= 1e9;
		end++;
		break;
	case 'T':
		v *= 1e12;
		end++;
		break;
	}
	if (*end && strcmp(end, "bit") && strcmp(end, "bps") && strcmp(end, "B") &&
	    strcmp(end, "b"))
		return -EINVAL;
	*ret = v;
	return 0;
}
