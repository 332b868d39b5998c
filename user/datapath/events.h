/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading the datapath's event ring (struct event) and handing each event
 * to the daemon's handler. Read on the drain tick, before the flow tables,
 * so a flow recognised in this tick is marked before it is exported.
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <stdint.h>
#include "flowprobe.h"

typedef void (*event_fn)(void *ctx, const struct event *ev);

struct events_reader;

struct events_reader *events_reader_new(int ring_fd, event_fn fn, void *ctx);
/* Hands every queued event to fn; returns how many. */
uint64_t events_reader_consume(struct events_reader *r);
void events_reader_free(struct events_reader *r);

#endif /* EVENTS_H */
