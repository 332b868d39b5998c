// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Parsing the API's time arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "web/time_arg.h"

int time_arg_parse(const char *s, uint64_t now_ms, uint64_t *out_ms)
{
	unsigned long long v;
	struct tm tm = {};
	char unit, tail;
	int n = 0, sec = 0;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "now")) {
		*out_ms = now_ms;
		return 0;
	}
	if (s[0] == '-' && sscanf(s + 1, "%llu%c%c", &v, &unit, &tail) == 2) {
		unsigned long long mult = unit == 's' ? 1 :
					  unit == 'm' ? 60 :
					  unit == 'h' ? 3600 :
					  unit == 'd' ? 86400 :
							0;

		if (!mult || v > 3650ull * 86400 / mult || v * mult * 1000 > now_ms)
			return -EINVAL;
		*out_ms = now_ms - v * mult * 1000;
		return 0;
	}
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 11)
			return -EINVAL;
		*out_ms = strtoull(s, NULL, 10) * 1000;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &n) != 5)
		return -EINVAL;
	s += n;
	if (*s == ':') {
		if (sscanf(s, ":%2d%n", &sec, &n) != 1)
			return -EINVAL;
		s += n;
	}
	if (*s == 'Z')
		s++;
	if (*s || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || sec < 0 || sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_sec = sec;
	*out_ms = (uint64_t)timegm(&tm) * 1000;
	return 0;
}

int time_arg_range(const char *s, uint64_t now_ms, uint64_t *from_ms, uint64_t *to_ms)
{
	char buf[80];
	const char *comma = s ? strchr(s, ',') : NULL;

	if (!comma || (size_t)(comma - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, comma - s);
	buf[comma - s] = 0;
	if (time_arg_parse(buf, now_ms, from_ms) || time_arg_parse(comma + 1, now_ms, to_ms))
		return -EINVAL;
	return *to_ms > *from_ms ? 0 : -EINVAL;
}
