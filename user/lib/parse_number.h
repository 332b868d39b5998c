/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The numbers users type on the command line: whole numbers in a range,
 * rates ("100M") and durations ("250ms", "24h").
 */
#ifndef PARSE_NUMBER_H
#define PARSE_NUMBER_H

#include <stdint.h>

/* A whole number in [min, max] for option opt; -EINVAL with a message
 * naming the option and the range otherwise. */
int parse_ulong_option(const char *opt, const char *s, unsigned long min, unsigned long max,
		       unsigned long *out);

/* Bits per second: a number with an optional k, M, G or T suffix (powers
 * of 1000) and an optional "bit"/"bps"; "100M", "1.5G", "20mbit".
 * Returns 0, or -1 when it is not such a rate or is 0. */
int parse_rate_bps(const char *s, uint64_t *bps);

/* A duration: a number with ms, s, m, h or d (no unit: seconds); "250ms",
 * "1s", "24h". Returns 0, or -1 when it is not such a duration or is 0. */
int parse_duration_ns(const char *s, uint64_t *ns);

#endif /* PARSE_NUMBER_H */
