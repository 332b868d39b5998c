/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flows the dashboard shows as "live": those with a local end that
 * the drains have read and the flow cache has not exported yet. Without
 * it a host appears only after the inactive or active timeout (15-60 s);
 * with it, within a drain tick of its packets.
 *
 * A shadow of the flow cache's local flows, kept from the same inputs on
 * the pipeline thread: every drained entry is added (the drain observer),
 * every exported record removes its key (the record's counts go to the
 * history's buckets then, so nothing is shown twice), and an entry the
 * drains have not seen for the cache's inactive timeout goes by itself.
 * It does not ask the flow cache (export/ is another concern) and costs
 * one hash lookup per drained entry of a local flow.
 *
 * Memory is fixed at creation: max flows; beyond, new flows are counted
 * (live_flows_dropped) and not shown live; they still reach the history
 * at their export.
 */
#ifndef LIVE_FLOWS_H
#define LIVE_FLOWS_H

#include <stddef.h>
#include <stdint.h>
#include "flowprobe.h"
#include "detect/prefixes.h"
#include "lib/flow_record.h"

#define LIVE_FLOWS_DEFAULT 65536 /* about 6 MB */

struct live_flows;

/* local: not copied; flows with neither end in it are not kept. */
struct live_flows *live_flows_new(size_t max, const struct prefix_set *local);
void live_flows_free(struct live_flows *lf);

/* A drained entry (one CPU's counts since the last drain). */
void live_flows_observe(struct live_flows *lf, const struct flow_key *key,
			const struct flow_value *val);
/* An exported record: its key leaves the live set. */
void live_flows_exported(struct live_flows *lf, const struct flow_key *key);
/* Entries whose last packet is older than idle_ns at now_ns go. */
void live_flows_expire(struct live_flows *lf, uint64_t now_ns, uint64_t idle_ns);

/* Up to max flows as records (times through to_wall_ms, end_reason 0),
 * busiest first; returns how many. */
size_t live_flows_snapshot(const struct live_flows *lf, struct flow_record *out, size_t max,
			   uint64_t (*to_wall_ms)(void *ctx, uint64_t ns), void *ctx);
size_t live_flows_count(const struct live_flows *lf);
uint64_t live_flows_dropped(const struct live_flows *lf);

#endif /* LIVE_FLOWS_H */
