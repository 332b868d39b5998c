// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Whole numbers, rates and durations from the command line (see
 * parse_number.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lib/log.h"
#include "lib/parse_number.h"

int parse_ulong_option(const char *opt, const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min || v > max) {
		log_error("%s: '%s' is not a whole number from %lu to %lu", opt, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* A non-negative decimal number and where it ends. */
static int parse_number(const char *s, double *v, const char **end)
{
	char *e;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	*v = strtod(s, &e);
	if (errno || e == s || !(*v >= 0) || *v > 1e18)
		return -1;
	*end = e;
	return 0;
}

int parse_rate_bps(const char *s, uint64_t *bps)
{
	double v, mult = 1;
	const char *u;

	if (parse_number(s, &v, &u))
		return -1;
	switch (*u) {
	case 'k':
	case 'K':
		mult = 1e3;
		u++;
		break;
	case 'm':
	case 'M':
		mult = 1e6;
		u++;
		break;
	case 'g':
	case 'G':
		mult = 1e9;
		u++;
		break;
	case 't':
	case 'T':
		mult = 1e12;
		u++;
		break;
	}
	if (*u && strcasecmp(u, "bit") && strcasecmp(u, "bps") && strcasecmp(u, "b/s") &&
	    strcasecmp(u, "bit/s"))
		return -1;
	v *= mult;
	if (v < 1 || v > 1e16)
		return -1;
	*bps = (uint64_t)(v + 0.5);
	return 0;
}

int parse_duration_ns(const char *s, uint64_t *ns)
{
	double v, mult;
	const char *u;

	if (parse_number(s, &v, &u))
		return -1;
	if (!*u || !strcmp(u, "s"))
		mult = 1e9;
	else if (!strcmp(u, "ms"))
		mult = 1e6;
	else if (!strcmp(u, "m") || !strcmp(u, "min"))
		mult = 60e9;
	else if (!strcmp(u, "h"))
		mult = 3600e9;
	else if (!strcmp(u, "d"))
		mult = 86400e9;
	else
		return -1;
	v *= mult;
	if (v < 1 || v > 1e19)
		return -1;
	*ns = (uint64_t)(v + 0.5);
	return 0;
}
