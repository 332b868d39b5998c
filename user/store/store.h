/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The embedded history (docs/history.md): what the dashboard shows, kept
 * in an SQLite file under --state-dir for --retention, so a restart or an
 * upgrade keeps a week of every customer's minutes, events and alarms.
 *
 * Threads: the pipeline thread feeds it (store_add_*, store_tick) and
 * never touches the disk: it fills a batch in memory, and each tick hands
 * the batch to the store's own writer thread, which commits it in one
 * transaction while the pipeline fills the other one. If the writer is
 * still busy (a slow disk), the pipeline goes on filling the same batch;
 * what does not fit in it is counted as lost. A failed write is counted
 * and logged once a minute; counting and export never wait for it.
 * The HTTP thread reads through its own connection (store/query.h).
 */
#ifndef STORE_H
#define STORE_H

#include <stdint.h>
#include "detect/prefixes.h"
#include "lib/flow_record.h"

#define STORE_DEFAULT_RETENTION_S (7 * 86400)
#define STORE_ROLLUP_AFTER_S (2 * 86400)
#define STORE_DEFAULT_ROWS 16384 /* host-minutes a batch holds */
#define STORE_DEFAULT_EVENTS 8192 /* event lines a batch holds */

struct store_config {
	const char *state_dir; /* NULL: STATE_DIR_DEFAULT */
	uint64_t retention_ms; /* 0: STORE_DEFAULT_RETENTION_S */
	uint64_t rollup_after_ms; /* 0: STORE_ROLLUP_AFTER_S */
	const struct prefix_set *local; /* copied; the customers */
	unsigned int p2p_threshold; /* p2p_host lines at or above: alarms */
	size_t max_rows, max_events; /* 0: the defaults above */
};

struct store_stats {
	uint64_t rows_written; /* host-minute deltas and events committed */
	uint64_t rows_lost; /* rows of transactions that failed */
	uint64_t records_dropped; /* flows, resets, events a full batch refused */
	uint64_t write_errors; /* transactions that failed */
	uint64_t commit_us_last; /* how long the last commit took */
};

struct store;
struct store_reader;

/* Creates the state directory and the database, starts the writer.
 * 0 or a negative errno after one log line. */
int store_open(struct store **out, const struct store_config *cfg);

/* Pipeline thread: a classified flow record, its local ends counted. */
void store_add_flow(struct store *s, const struct flow_record *rec, const struct flow_class *fc);
/* Pipeline thread: a JSON Lines object (flows are ignored: add_flow has
 * them); resets also count on their local ends' minutes. */
void store_add_event_line(struct store *s, const char *line, size_t len, uint64_t now_ms);
/* Pipeline thread, once a drain tick: the batch goes to the writer. */
void store_tick(struct store *s, uint64_t now_ms);

void store_get_stats(struct store *s, struct store_stats *out);
/* Waits until the writer has committed what it was handed (tests,
 * benchmarks: a condition instead of a sleep). */
void store_wait_idle(struct store *s);
/* For the HTTP thread's queries. */
struct store_reader *store_reader_of(struct store *s);
const char *store_path(const struct store *s);

/* The last batch written, the writer stopped, the file closed. */
void store_close(struct store *s);

#endif /* STORE_H */
