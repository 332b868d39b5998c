/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The curve samples as CSV, for spreadsheets and for `flowprobe curve`:
 * one header line, one row per sample and interface. Columns:
 *
 *   time,unix_ms,interface,ifindex,duration_s,bytes,capacity_bps,
 *   utilisation,active_flows,flows_with_packets,rate_per_flow_bps
 *
 * time is the bin's start, RFC 3339 UTC with ms; unix_ms the same in ms.
 * The reader finds columns by their header name, so columns added later
 * (or reordered by a spreadsheet) do not break it.
 */
#ifndef CURVE_CSV_H
#define CURVE_CSV_H

#include <net/if.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "curve/sampler.h"

/* Returns 0 or -EIO. */
int curve_csv_write_header(FILE *out);
int curve_csv_write(FILE *out, const struct curve_sample *s, uint64_t wall_ms);

struct curve_row {
	uint64_t unix_ms;
	char interface[IF_NAMESIZE];
	uint64_t capacity_bps;
	double utilisation;
	double active_flows;
	bool warmup; /* the "warmup" column (optional, 0 or 1) */
};

struct curve_rows {
	struct curve_row *v;
	size_t n, cap;
};

/*
 * Reads every row of a curve CSV. Returns 0, or -1 with a one-line reason
 * in err (the file, the line, what is wrong). rows must be zeroed; free
 * with curve_rows_free.
 */
int curve_csv_read(const char *path, struct curve_rows *rows, char *err, size_t errlen);
void curve_rows_free(struct curve_rows *rows);

#endif /* CURVE_CSV_H */
