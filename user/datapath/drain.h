/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Moving counts from the kernel into the flow cache: swap the live flow
 * table generation, read and zero the old one in place (it is mmapped),
 * and consume the eviction ring. Exact by construction: the swap
 * guarantees the old generation has no writer, each entry is read once
 * and then zeroed, and the ring carries the flows the table pushed out.
 */
#ifndef DRAIN_H
#define DRAIN_H

#include <stdint.h>
#include "export/flow_cache.h"
#include "datapath/probe.h"

struct drainer;

struct drainer *drainer_new(struct probe *p, struct flow_cache *fc);
void drainer_free(struct drainer *d);

struct drain_result {
	uint64_t entries; /* table entries read (one per flow per CPU) */
	uint64_t evicted_records; /* flows read from the eviction ring */
};

/* One drain: swap, empty the old generation, consume the ring. Returns 0
 * or a negative errno (the swap failed; nothing was read). */
int drainer_run(struct drainer *d, struct drain_result *res);

/* Replay: the program only runs inside our own BPF_PROG_TEST_RUN calls, so
 * the live generation has no concurrent writer and is emptied in place,
 * without the swap's RCU grace period (which would dominate a replay). */
int drainer_run_quiescent(struct drainer *d, struct drain_result *res);

/* Sees every entry the drain reads (the utilisation curve): a flow's
 * counts on one CPU since the last drain, before they merge into the cache. */
typedef void (*drain_observer)(void *ctx, const struct flow_key *key, const struct flow_value *val);
void drainer_set_observer(struct drainer *d, drain_observer fn, void *ctx);

/* Empties one generation that no program writes; returns entries read. */
uint64_t drain_generation(struct drainer *d, int gen);

#endif /* DRAIN_H */
