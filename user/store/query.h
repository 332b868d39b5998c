/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the dashboard asks the embedded history (HTTP thread): a host's
 * series and totals over any stored range, and the same totals for two
 * periods side by side ("before and after we limited his connections").
 * Its own read-only connection, one query at a time (a mutex): the
 * writer commits meanwhile (WAL), and no page waits on a transaction.
 */
#ifndef STORE_QUERY_H
#define STORE_QUERY_H

#include <stdint.h>
#include <jansson.h>

struct store_reader;

/* NULL on out of memory; the file is opened at the first query. */
struct store_reader *store_reader_new(const char *path);
void store_reader_free(struct store_reader *r);

/*
 * addr: canonical text, as the store writes it. The minutes (and hours)
 * that start in [from_ms, to_ms): adjacent ranges share no row.
 * {"addr", "from", "to", "bucket_s", "series": [{"t" (ms), "flows",
 * "peers", "packets_in", "packets_out", "bytes_in", "bytes_out",
 * "bt_flows", "resets", "forged"}...], "totals": {same, "ports",
 * "throughput_bps"}, "alarms": [...], "events": [...]}; NULL when the
 * database cannot be read (logged).
 */
json_t *store_host_range_json(struct store_reader *r, const char *addr, uint64_t from_ms,
			      uint64_t to_ms);

/* {"addr", "before": totals, "after": totals, "change": {"flows",
 * "peers", "throughput_bps": after / before, null when before is 0}}. */
json_t *store_compare_json(struct store_reader *r, const char *addr, uint64_t a_from_ms,
			   uint64_t a_to_ms, uint64_t b_from_ms, uint64_t b_to_ms);

/* The bucket a range is shown in: <= 240 points, whole minutes, whole
 * hours beyond two days (where only hours are stored). */
uint64_t store_bucket_s(uint64_t from_ms, uint64_t to_ms);

#endif /* STORE_QUERY_H */
