/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Times as the JSON, the CSV and the logs show them.
 */
#ifndef TIME_FORMAT_H
#define TIME_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds
 * ("2024-05-01T12:00:00.250Z"). */
void json_format_time(char *buf, size_t len, uint64_t epoch_ms);

#endif /* TIME_FORMAT_H */
