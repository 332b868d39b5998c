/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Moving counts from the kernel into the flow cache: swap the live flow
 * table, read and empty the old one in batches, and consume the spill ring.
 * Exact by construction: the swap guarantees no writer, lookup-and-delete
 * takes each entry once, and the ring carries what the tables could not.
 */
#ifndef DRAIN_H
#define DRAIN_H

#include <stdint.h>
#include "flow_cache.h"
#include "probe.h"

struct drainer;

struct drainer *drainer_new(struct probe *p, struct flow_cache *fc);
void drainer_free(struct drainer *d);

struct drain_result {
	uint64_t entries;	/* per-table entries read */
	uint64_t spill_records; /* packets read from the spill ring */
};

/* One drain: swap, empty the old table, consume the spill ring. Returns 0
 * or a negative errno (nothing already read is lost on error). */
int drainer_run(struct drainer *d, struct drain_result *res);

/* Replay: the program only runs inside our own BPF_PROG_TEST_RUN calls, so
 * the live table has no concurrent writer and is emptied in place, without
 * the swap's RCU grace period (which would dominate a replay's time). */
int drainer_run_quiescent(struct drainer *d, struct drain_result *res);

/* Empties one table fd that no program writes (also used at shutdown). */
int drain_table(struct drainer *d, int map_fd, uint64_t *entries);

#endif /* DRAIN_H */
