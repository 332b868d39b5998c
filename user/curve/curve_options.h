/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Options of the utilisation curve that `run` and `replay` share: the bin
 * length Δ, the link capacity C where the kernel reports none, the CSV
 * file, the knee's sliding window (parsed with lib/parse_number.h).
 */
#ifndef CURVE_OPTIONS_H
#define CURVE_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CURVE_SAMPLE_NS_DEFAULT 1000000000ull

struct curve_options {
	uint64_t sample_ns; /* Δ */
	uint64_t capacity_bps; /* C for every interface; 0: the link speed */
	const char *csv_path; /* --curve-csv, or NULL */
	uint64_t window_ms; /* the knee's sliding window */
	bool asked; /* --sample or --curve-csv: samples wanted */
};

/* getopt_long codes, apart from the subcommands' own and EXPORT_OPT_*. */
enum {
	CURVE_OPT_SAMPLE = 0x200,
	CURVE_OPT_CAPACITY,
	CURVE_OPT_CSV,
	CURVE_OPT_WINDOW,
};

#define CURVE_LONGOPTS                                                       \
	{ "sample", required_argument, NULL, CURVE_OPT_SAMPLE },             \
		{ "capacity", required_argument, NULL, CURVE_OPT_CAPACITY }, \
		{ "curve-csv", required_argument, NULL, CURVE_OPT_CSV },     \
	{                                                                    \
		"knee-window", required_argument, NULL, CURVE_OPT_WINDOW     \
	}

void curve_options_init(struct curve_options *o);

/* If c is a curve option, applies it and returns true, with *rc 0 or
 * -EINVAL (after a one-line error naming the option). */
bool curve_options_parse(struct curve_options *o, int c, const char *arg, int *rc);

void curve_options_usage(FILE *out);

#endif /* CURVE_OPTIONS_H */
