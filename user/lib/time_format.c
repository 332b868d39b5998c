// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Times as text (see time_format.h).
 */
#include <stdio.h>
#include <time.h>
#include "lib/time_format.h"

void json_format_time(char *buf, size_t len, uint64_t epoch_ms)
{
	time_t secs = epoch_ms / 1000;
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)(epoch_ms % 1000));
}
