// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A tick's host-minute deltas (open-addressed, fixed size) and event lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "store/batch.h"

#define NO_ROW UINT32_MAX
#define EVENT_BYTES_PER_LINE 1024 /* average a batch budgets for */

static uint32_t index_size(size_t max_rows)
{
	uint32_t n = 16;

	while (n < 2 * max_rows)
		n <<= 1;
	return n;
}

size_t store_batch_memory(size_t max_rows, size_t max_events)
{
	return sizeof(struct store_batch) + max_rows * sizeof(struct store_minute) +
	       index_size(max_rows) * sizeof(uint32_t) +
	       max_events * (sizeof(struct store_event) + EVENT_BYTES_PER_LINE);
}

struct store_batch *store_batch_new(size_t max_rows, size_t max_events)
{
	struct store_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->max_rows = max_rows;
	b->max_events = max_events;
	b->n_index = index_size(max_rows);
	b->rows = calloc(max_rows, sizeof(*b->rows));
	b->index = malloc(b->n_index * sizeof(*b->index));
	b->events = calloc(max_events, sizeof(*b->events));
	if (!b->rows || !b->index || !b->events) {
		store_batch_free(b);
		return NULL;
	}
	memset(b->index, 0xff, b->n_index * sizeof(*b->index));
	return b;
}

void store_batch_clear(struct store_batch *b)
{
	for (size_t i = 0; i < b->n_events; i++)
		free(b->events[i].line);
	/* Only the rows used need zeroing: a tick touches a few. */
	memset(b->rows, 0, b->n_rows * sizeof(*b->rows));
	if (b->n_rows)
		memset(b->index, 0xff, b->n_index * sizeof(*b->index));
	b->n_rows = b->n_events = b->event_bytes = 0;
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	if (b->events)
		store_batch_clear(b);
	free(b->rows);
	free(b->index);
	free(b->events);
	free(b);
}

static uint32_t slot_of(uint8_t ipv, const uint8_t addr[16], uint64_t minute)
{
	uint64_t a, c;

	memcpy(&a, addr, 8);
	memcpy(&c, addr + 8, 8);
	a = (a ^ (c * 0x9E3779B97F4A7C15ull) ^ minute ^ ipv) * 0xBF58476D1CE4E5B9ull;
	return (uint32_t)(a ^ (a >> 32));
}

struct store_minute *store_batch_minute(struct store_batch *b, uint8_t ip_version,
					const uint8_t addr[16], uint64_t minute)
{
	uint32_t mask = b->n_index - 1, i = slot_of(ip_version, addr, minute) & mask;
	struct store_minute *r;

	for (;; i = (i + 1) & mask) {
		if (b->index[i] == NO_ROW)
			break;
		r = &b->rows[b->index[i]];
		if (r->minute == minute && r->ip_version == ip_version &&
		    !memcmp(r->addr, addr, 16))
			return r;
	}
	if (b->n_rows == b->max_rows)
		return NULL;
	b->index[i] = b->n_rows;
	r = &b->rows[b->n_rows++];
	r->ip_version = ip_version;
	memcpy(r->addr, addr, 16);
	r->minute = minute;
	return r;
}

int store_batch_add_event(struct store_batch *b, uint64_t time_ms, const char *line, size_t len)
{
	struct store_event *e;

	if (b->n_events == b->max_events ||
	    b->event_bytes + len > b->max_events * EVENT_BYTES_PER_LINE)
		return -ENOSPC;
	e = &b->events[b->n_events];
	e->line = strndup(line, len);
	if (!e->line)
		return -ENOMEM;
	e->time_ms = time_ms;
	b->event_bytes += len;
	b->n_events++;
	return 0;
}
