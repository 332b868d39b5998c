/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The API's time arguments (from=, to=, before=, after=): what a person
 * types in a URL and what the page sends. "now"; seconds since the Unix
 * epoch; UTC ISO 8601 ("2026-12-04T22:00", seconds and "Z" optional);
 * or relative to now ("-2h", "-30m", "-7d", "-90s").
 */
#ifndef TIME_ARG_H
#define TIME_ARG_H

#include <stdint.h>

/* 0 and *out_ms, or -EINVAL. */
int time_arg_parse(const char *s, uint64_t now_ms, uint64_t *out_ms);

/* "FROM,TO" into two times: 0, or -EINVAL (also when TO is not after FROM). */
int time_arg_range(const char *s, uint64_t now_ms, uint64_t *from_ms, uint64_t *to_ms);

#endif /* TIME_ARG_H */
