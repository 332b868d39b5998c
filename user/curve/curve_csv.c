// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Curve CSV writing and reading. Plain comma-separated values: no field
 * the probe writes can hold a comma, a quote or a newline (interface
 * names are checked), so no quoting is needed either way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "curve/curve_csv.h"
#include "lib/time_format.h"

/* Exactly representable in a double, and far beyond any real date. */
#define MAX_UNIX_MS 9007199254740992.0 /* 2^53 */
#define MAX_CAPACITY 18446744073709551616.0 /* 2^64 */

int curve_csv_write_header(FILE *out)
{
	if (fputs("time,unix_ms,interface,ifindex,duration_s,bytes,capacity_bps,"
		  "utilisation,active_flows,flows_with_packets,rate_per_flow_bps,"
		  "warmup\n",
		  out) == EOF ||
	    fflush(out))
		return -EIO;
	return 0;
}

int curve_csv_write(FILE *out, const struct curve_sample *s, uint64_t wall_ms)
{
	char when[40];

	json_format_time(when, sizeof(when), wall_ms);
	/* Flushed per row: a spreadsheet or a test may read it while the
	 * probe runs. %.17g keeps every bit of the doubles. */
	if (fprintf(out, "%s,%llu,%s,%d,%.9g,%.17g,%llu,%.17g,%.17g,%llu,%.17g,%d\n", when,
		    (unsigned long long)wall_ms, s->name, s->ifindex, s->duration_ns / 1e9,
		    s->bytes, (unsigned long long)s->capacity_bps, s->utilisation, s->active_flows,
		    (unsigned long long)s->flows_with_packets, s->rate_per_flow_bps,
		    s->warmup) < 0 ||
	    fflush(out))
		return -EIO;
	return 0;
}

void curve_rows_free(struct curve_rows *rows)
{
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

enum {
	COL_UNIX_MS,
	COL_IFACE,
	COL_CAPACITY,
	COL_RHO,
	COL_N,
	COL__MAX
};

static const char *const col_names[COL__MAX] = {
	"unix_ms", "interface", "capacity_bps", "utilisation", "active_flows",
};

/* Splits line at commas in place; returns the number of fields. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		line = strchr(line, ',');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static int number(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return (!*s || *end || errno) ? -1 : 0;
}

#define MAX_FIELDS 64

int curve_csv_read(const char *path, struct curve_rows *rows, char *err, size_t errlen)
{
	FILE *in = fopen(path, "r");
	char *line = NULL, *f[MAX_FIELDS];
	size_t len = 0, n, lineno = 0;
	int col[COL__MAX], warmup_col = -1, rc = -1;

	if (!in) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (getline(&line, &len, in) < 0) {
		snprintf(err, errlen, "%s is empty: expected a curve CSV header", path);
		goto out;
	}
	lineno = 1;
	n = split(line, f, MAX_FIELDS);
	for (int c = 0; c < COL__MAX; c++) {
		col[c] = -1;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(f[i], col_names[c]))
				col[c] = i;
		if (col[c] < 0) {
			snprintf(err, errlen,
				 "%s: the header has no '%s' column: not a "
				 "curve CSV (write one with --curve-csv)",
				 path, col_names[c]);
			goto out;
		}
	}
	/* Optional: files written before it existed have no warm-up bins
	 * marked. */
	for (size_t i = 0; i < n; i++)
		if (!strcmp(f[i], "warmup"))
			warmup_col = i;
	while (getline(&line, &len, in) >= 0) {
		struct curve_row r = { 0 };
		double ms, cap;

		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		n = split(line, f, MAX_FIELDS);
		for (int c = 0; c < COL__MAX; c++) {
			if ((size_t)col[c] >= n) {
				snprintf(err, errlen, "%s: line %zu: only %zu fields", path, lineno,
					 n);
				goto out;
			}
		}
		if (number(f[col[COL_UNIX_MS]], &ms) || number(f[col[COL_CAPACITY]], &cap) ||
		    number(f[col[COL_RHO]], &r.utilisation) ||
		    number(f[col[COL_N]], &r.active_flows)) {
			snprintf(err, errlen,
				 "%s: line %zu: a number is missing or "
				 "malformed",
				 path, lineno);
			goto out;
		}
		/* Checked before the conversion to integers: a double out of
		 * their range (or NaN) has no defined conversion (the fuzzer
		 * found a 1.8e21 unix_ms). */
		if (!(ms >= 0 && ms <= MAX_UNIX_MS) || !(cap > 0 && cap < MAX_CAPACITY)) {
			snprintf(err, errlen,
				 "%s: line %zu: unix_ms or capacity_bps out "
				 "of range (unix_ms 0 to 2^53, capacity_bps above 0 and "
				 "below 2^64)",
				 path, lineno);
			goto out;
		}
		r.unix_ms = (uint64_t)ms;
		r.capacity_bps = (uint64_t)cap;
		snprintf(r.interface, sizeof(r.interface), "%s", f[col[COL_IFACE]]);
		r.warmup = warmup_col >= 0 && (size_t)warmup_col < n && !strcmp(f[warmup_col], "1");
		if (rows->n == rows->cap) {
			size_t c = rows->cap ? 2 * rows->cap : 1024;
			struct curve_row *v = realloc(rows->v, c * sizeof(*v));

			if (!v) {
				snprintf(err, errlen, "out of memory reading %s", path);
				goto out;
			}
			rows->v = v;
			rows->cap = c;
		}
		rows->v[rows->n++] = r;
	}
	if (ferror(in)) {
		snprintf(err, errlen, "reading %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(in);
	return rc;
}
