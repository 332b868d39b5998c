// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The event ring's consumer: a thin layer over libbpf's ring_buffer that
 * checks each record's size before the handler sees it.
 */
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "datapath/events.h"

struct events_reader {
	struct ring_buffer *rb;
	event_fn fn;
	void *ctx;
	uint64_t consumed;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct events_reader *r = ctx;

	if (size < sizeof(struct event))
		return 0;
	r->fn(r->ctx, data);
	r->consumed++;
	return 0;
}

struct events_reader *events_reader_new(int ring_fd, event_fn fn, void *ctx)
{
	struct events_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fn = fn;
	r->ctx = ctx;
	r->rb = ring_buffer__new(ring_fd, on_record, r, NULL);
	if (!r->rb) {
		free(r);
		return NULL;
	}
	return r;
}

uint64_t events_reader_consume(struct events_reader *r)
{
	uint64_t before = r->consumed;

	ring_buffer__consume(r->rb);
	return r->consumed - before;
}

void events_reader_free(struct events_reader *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	free(r);
}
