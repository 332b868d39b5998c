/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The daemon's flow cache: where counts drained from the kernel tables (and
 * from the eviction ring) accumulate until a flow ends by NetFlow's rules:
 * inactive timeout, active timeout, TCP FIN/RST plus a grace period, or
 * shutdown. After an active timeout the entry stays, holding no packets,
 * so what is known of the flow carries on to its next record. Time is the probe clock in nanoseconds (monotonic live,
 * capture time in replay) and is always passed in, so the timeout logic
 * can be tested with a fake clock.
 */
#ifndef FLOW_CACHE_H
#define FLOW_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "flowprobe.h"
#include "lib/flow_record.h"

struct flow_cache_config {
	uint64_t active_timeout_ns;
	uint64_t inactive_timeout_ns;
	uint64_t end_grace_ns; /* after FIN/RST, wait this long for stragglers */
	size_t max_flows; /* beyond this, new flows are exported at once */
};

/* Called for every record leaving the cache; times still in probe ns.
 * It must not call back into the same cache: during an expiry pass its
 * chains may be stale until the pass ends. */
typedef void (*flow_export_fn)(void *ctx, const struct flow_key *key, const struct flow_value *val,
			       enum flow_end_reason reason);

struct flow_cache;

struct flow_cache *flow_cache_new(const struct flow_cache_config *cfg, flow_export_fn export,
				  void *ctx);
void flow_cache_free(struct flow_cache *fc);

/* Adds counts (already summed over CPUs) to the flow's cache entry. */
void flow_cache_merge(struct flow_cache *fc, const struct flow_key *key,
		      const struct flow_value *val);

/* The hash the cache files a key by, for the prefetch hints. */
uint64_t flow_cache_key_hash(const struct flow_key *key);

/*
 * Hints for a run of merges, which otherwise wait on memory twice a flow
 * (its bucket, then the entry the bucket points at): fetch a flow's bucket
 * some merges before its turn, and its chain's first entry a few merges
 * later, once the bucket has arrived; hash is flow_cache_key_hash of the
 * flow's key, computed once for both. They change nothing.
 */
void flow_cache_prefetch_bucket(struct flow_cache *fc, uint64_t hash);
void flow_cache_prefetch_chain(struct flow_cache *fc, uint64_t hash);

/* Exports and forgets every flow whose timeout has passed at now_ns. */
size_t flow_cache_expire(struct flow_cache *fc, uint64_t now_ns);

/* The same, exporting at most max records (paced export: what the
 * collectors' queues have room for); the rest wait for the next call. */
size_t flow_cache_expire_some(struct flow_cache *fc, uint64_t now_ns, size_t max);

/* Exports everything with the given reason (shutdown: END_FORCED). */
size_t flow_cache_flush(struct flow_cache *fc, enum flow_end_reason reason);

/* The same, at most max records (entries holding no packets are forgotten
 * on the way, uncounted); the rest stay for the next call. */
size_t flow_cache_flush_some(struct flow_cache *fc, enum flow_end_reason reason, size_t max);

/*
 * Marks a flow with an application (e.g. both directions of a connection
 * whose handshake the datapath recognised). The mark survives the active
 * timeout's record restarts; for a flow not seen yet it waits, holding no
 * packets, until the flow's first packets or the inactive timeout.
 */
void flow_cache_mark_app(struct flow_cache *fc, const struct flow_key *key, uint8_t app,
			 uint64_t now_ns);

/* The application a flow is marked with (APP_UNKNOWN if none); a mark
 * that is looked up stays alive until now_ns + the inactive timeout. */
uint8_t flow_cache_get_app(struct flow_cache *fc, const struct flow_key *key, uint64_t now_ns);

/* Entries held, records in progress and marks waiting for packets alike. */
size_t flow_cache_count(const struct flow_cache *fc);
uint64_t flow_cache_lack_of_resources(const struct flow_cache *fc);
size_t flow_cache_bytes_per_flow(void);

/* Folds one CPU's (or one drain's) value into an accumulated one. */
void flow_value_merge(struct flow_value *acc, const struct flow_value *add);

#endif /* FLOW_CACHE_H */
