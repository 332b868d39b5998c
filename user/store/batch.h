/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What one drain tick hands the database: per (local host, minute) the
 * counts added since the last tick, and the event lines of the tick. The
 * pipeline thread fills one batch while the writer thread commits the
 * other (store.c swaps them), so nothing on the counting side waits for
 * the disk.
 *
 * Memory is fixed at creation: max_rows host-minutes and max_events
 * lines. What does not fit is refused (the caller counts it as lost);
 * the rows are deltas, merged into the database's by the writer, so a
 * host-minute may appear in any number of batches.
 */
#ifndef STORE_BATCH_H
#define STORE_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include "store/hll.h"
#include "store/top_ports.h"

struct store_minute {
	uint8_t ip_version; /* 0: unused slot */
	uint8_t addr[16];
	uint64_t minute; /* wall-clock minutes since the Unix epoch */
	uint64_t flows, bt_flows, resets, forged;
	uint64_t packets_in, packets_out, bytes_in, bytes_out;
	struct hll peers;
	struct port_top ports;
};

struct store_event {
	uint64_t time_ms;
	char *line; /* one JSON object, no newline */
};

struct store_batch {
	struct store_minute *rows;
	size_t n_rows, max_rows;
	uint32_t *index, n_index; /* open addressing into rows */
	struct store_event *events;
	size_t n_events, max_events;
	size_t event_bytes; /* text held, for the bound */
};

struct store_batch *store_batch_new(size_t max_rows, size_t max_events);
void store_batch_free(struct store_batch *b);
size_t store_batch_memory(size_t max_rows, size_t max_events);

/* The row of this host and minute, zeroed when new; NULL when full. */
struct store_minute *store_batch_minute(struct store_batch *b, uint8_t ip_version,
					const uint8_t addr[16], uint64_t minute);
/* 0, -ENOSPC (full) or -ENOMEM. */
int store_batch_add_event(struct store_batch *b, uint64_t time_ms, const char *line, size_t len);
void store_batch_clear(struct store_batch *b);
static inline size_t store_batch_size(const struct store_batch *b)
{
	return b->n_rows + b->n_events;
}

#endif /* STORE_BATCH_H */
