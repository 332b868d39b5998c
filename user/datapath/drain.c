// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The drain: a scan of the mmapped generation that is no longer live,
 * group of buckets by group, only the groups its touched bitmap marks
 * (flowprobe.h), each bucket up to its first empty way (ways fill in
 * order), merging every entry into the flow cache and zeroing it for the
 * generation's next turn; then the eviction ring. So a drain costs what
 * the flows cost, not what the table's size costs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flowprobe.skel.h"
#include "datapath/drain.h"
#include "lib/log.h"

struct drainer {
	struct probe *probe;
	struct flow_cache *cache;
	struct ring_buffer *evictions;
	uint64_t evicted_records;
	uint64_t swaps;
	drain_observer observer;
	void *observer_ctx;
};

void drainer_set_observer(struct drainer *d, drain_observer fn, void *ctx)
{
	d->observer = fn;
	d->observer_ctx = ctx;
}

static void take(struct drainer *d, const struct flow_key *key, const struct flow_value *val)
{
	if (d->observer)
		d->observer(d->observer_ctx, key, val);
	flow_cache_merge(d->cache, key, val);
}

static int on_eviction(void *ctx, void *data, size_t size)
{
	struct drainer *d = ctx;
	const struct flow_entry *e = data;

	if (size < sizeof(*e))
		return 0;
	take(d, &e->key, &e->val);
	d->evicted_records++;
	return 0;
}

struct drainer *drainer_new(struct probe *p, struct flow_cache *fc)
{
	struct drainer *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->probe = p;
	d->cache = fc;
	d->evictions = ring_buffer__new(probe_evict_ring_fd(p), on_eviction, d, NULL);
	if (!d->evictions) {
		drainer_free(d);
		return NULL;
	}
	return d;
}

void drainer_free(struct drainer *d)
{
	if (!d)
		return;
	ring_buffer__free(d->evictions);
	free(d);
}

/* How many merges ahead a flow's bucket, then its chain, is fetched:
 * about a cache miss's worth of merges apart. */
#define PREFETCH_BUCKET_AHEAD 8
#define PREFETCH_CHAIN_AHEAD 4

/* Drains n buckets (at most a group: probe_visit_touched hands one group
 * at a time) from b, each up to its first empty way (ways fill in order:
 * the rest are empty), zeroing what it read. The flows are listed first
 * so that each can be fetched ahead in the flow cache while the ones
 * before it are merged, in the same order. */
static uint64_t drain_buckets(void *ctx, struct flow_bucket *b, size_t n)
{
	struct flow_entry *run[FLOW_TOUCH_GROUP * FLOW_TABLE_WAYS];
	uint64_t hash[FLOW_TOUCH_GROUP * FLOW_TABLE_WAYS];
	struct drainer *d = ctx;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		for (int w = 0; w < FLOW_TABLE_WAYS && b[i].way[w].val.packets; w++) {
			run[k] = &b[i].way[w];
			hash[k++] = flow_cache_key_hash(&b[i].way[w].key);
		}
	}
	for (size_t j = 0; j < k; j++) {
		if (j + PREFETCH_BUCKET_AHEAD < k)
			flow_cache_prefetch_bucket(d->cache, hash[j + PREFETCH_BUCKET_AHEAD]);
		if (j + PREFETCH_CHAIN_AHEAD < k)
			flow_cache_prefetch_chain(d->cache, hash[j + PREFETCH_CHAIN_AHEAD]);
		take(d, &run[j]->key, &run[j]->val);
		memset(run[j], 0, sizeof(*run[j]));
	}
	return k;
}

/*
 * Visits only the groups of buckets whose bit the datapath set
 * (touch_set in bpf/flow_table.bpf.h): a bucket holding a flow always has
 * its group's bit, so the groups without one are empty and skipped.
 * probe_visit_touched clears a bit after its group is zeroed, never
 * before, so it stays true even if the daemon dies half way.
 */
uint64_t drain_generation(struct drainer *d, int gen)
{
	return probe_visit_touched(d->probe, gen, drain_buckets, d);
}

static void consume_evictions(struct drainer *d, struct drain_result *res)
{
	d->evicted_records = 0;
	ring_buffer__consume(d->evictions);
	res->evicted_records = d->evicted_records;
}

/* Forgets which flows were established, so flows long gone stop holding
 * the eviction ring's reserve. */
static void clear_established_hint(struct probe *p)
{
	static const __u64 zero_bits[ESTABLISHED_HINT_BITS / 64];
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.established_hint), &zero, zero_bits,
				BPF_ANY) != 0)
		log_warn("cannot clear the established-flow hint: %s", strerror(errno));
}

int drainer_run(struct drainer *d, struct drain_result *res)
{
	int old_gen, err;

	memset(res, 0, sizeof(*res));
	err = probe_swap_tables(d->probe, &old_gen);
	if (err) {
		log_error("swapping flow tables: %s", strerror(-err));
		consume_evictions(d, res);
		return err;
	}
	/* Right after the swap: flows re-entering the fresh generation set
	 * their bit again at their second packet (flow_table.bpf.h). */
	if (++d->swaps % ESTABLISHED_HINT_DRAINS == 0)
		clear_established_hint(d->probe);
	res->entries = drain_generation(d, old_gen);
	consume_evictions(d, res);
	return 0;
}

int drainer_run_quiescent(struct drainer *d, struct drain_result *res)
{
	memset(res, 0, sizeof(*res));
	res->entries = drain_generation(d, d->probe->live);
	consume_evictions(d, res);
	return 0;
}
