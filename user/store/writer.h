/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The writer's side of the database: one transaction per batch (a drain
 * tick's host-minute deltas merged into the stored rows, its events
 * inserted), and the upkeep: rows older than the retention deleted,
 * minutes older than the rollup age merged into hours. Runs on the store's
 * own thread (store.c), never on the pipeline's.
 */
#ifndef STORE_WRITER_H
#define STORE_WRITER_H

#include <stdint.h>
#include "store/batch.h"

struct store_writer_config {
	const char *path; /* the database file */
	uint64_t retention_ms; /* rows older than this go */
	uint64_t rollup_after_ms; /* minutes older than this become hours */
	unsigned int p2p_threshold; /* a p2p_host line at or above: an alarm */
};

struct store_writer;

/* 0 or a negative errno, logged (store_schema_open). */
int store_writer_open(struct store_writer **out, const struct store_writer_config *cfg);
void store_writer_close(struct store_writer *w);

/* One transaction: 0, or -EIO (rolled back; the batch is not in the file;
 * *why points to SQLite's message until the next call). */
int store_writer_commit(struct store_writer *w, const struct store_batch *b, const char **why);

/* Retention and rollup as of now_ms: 0 or -EIO, *why as above. */
int store_writer_upkeep(struct store_writer *w, uint64_t now_ms, const char **why);

#endif /* STORE_WRITER_H */
