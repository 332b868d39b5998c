// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Flow cache: a chained hash over a dense array of entries. Dense, because
 * the expiry scan walks every flow every drain tick and a packed array is
 * what makes a million-flow scan take milliseconds; chained with 32-bit
 * indices, because removal then moves the last entry into the hole and
 * fixes one link, keeping the array packed without tombstones.
 */
#include <stdlib.h>
#include <string.h>
#include "export/flow_cache.h"
#include "lib/hash.h"

#define NO_ENTRY UINT32_MAX
#define MIN_BUCKETS 1024

struct cache_entry {
	struct flow_key key;
	uint32_t next; /* next entry in the same bucket, or NO_ENTRY */
	struct flow_value val;
};

struct flow_cache {
	struct flow_cache_config cfg;
	flow_export_fn export;
	void *ctx;
	struct cache_entry *entries;
	size_t count, capacity;
	uint32_t *buckets; /* first entry of each bucket, or NO_ENTRY */
	size_t nbuckets; /* power of two */
	uint64_t lack_of_resources;
};

uint64_t flow_cache_key_hash(const struct flow_key *key)
{
	return hash_bytes(key, sizeof(*key));
}

/* The bucket of a key whose hash the caller has: a merge hashes its key
 * once for the lookup and the insert after it. */
static uint32_t *bucket_at(struct flow_cache *fc, uint64_t hash)
{
	return &fc->buckets[hash & (fc->nbuckets - 1)];
}

static uint32_t *bucket_of(struct flow_cache *fc, const struct flow_key *key)
{
	return bucket_at(fc, flow_cache_key_hash(key));
}

/* Rebuilds every chain from the entries: one hash and one independent
 * bucket write an entry, no chain walked. */
static void relink(struct flow_cache *fc)
{
	memset(fc->buckets, 0xff, fc->nbuckets * sizeof(*fc->buckets));
	for (size_t i = 0; i < fc->count; i++) {
		uint32_t *head = bucket_of(fc, &fc->entries[i].key);

		fc->entries[i].next = *head;
		*head = i;
	}
}

static int rehash(struct flow_cache *fc, size_t nbuckets)
{
	uint32_t *b = malloc(nbuckets * sizeof(*b));

	if (!b)
		return -1;
	free(fc->buckets);
	fc->buckets = b;
	fc->nbuckets = nbuckets;
	relink(fc);
	return 0;
}

struct flow_cache *flow_cache_new(const struct flow_cache_config *cfg, flow_export_fn export,
				  void *ctx)
{
	struct flow_cache *fc = calloc(1, sizeof(*fc));

	if (!fc)
		return NULL;
	fc->cfg = *cfg;
	fc->export = export;
	fc->ctx = ctx;
	if (rehash(fc, MIN_BUCKETS) != 0) {
		free(fc);
		return NULL;
	}
	return fc;
}

void flow_cache_free(struct flow_cache *fc)
{
	if (!fc)
		return;
	free(fc->entries);
	free(fc->buckets);
	free(fc);
}

void flow_value_merge(struct flow_value *acc, const struct flow_value *add)
{
	if (add->packets == 0)
		return;
	if (acc->packets == 0 || add->first_ns < acc->first_ns) {
		acc->first_ns = add->first_ns;
		acc->tos = add->tos; /* ToS of the flow's first packet */
		/* and what carried it (a flow is one flow however it came) */
		acc->tunnel = add->tunnel;
		acc->encap = add->encap;
		acc->mpls_label = add->mpls_label;
		acc->inner_vlan = add->inner_vlan;
	}
	if (acc->packets == 0 || add->ttl_min < acc->ttl_min)
		acc->ttl_min = add->ttl_min;
	if (add->ttl_max > acc->ttl_max)
		acc->ttl_max = add->ttl_max;
	if (add->last_ns > acc->last_ns)
		acc->last_ns = add->last_ns;
	acc->packets += add->packets;
	acc->bytes += add->bytes;
	acc->tcp_flags |= add->tcp_flags;
	acc->flags |= add->flags;
	if (add->app)
		acc->app = add->app;
}

static struct cache_entry *find(struct flow_cache *fc, const struct flow_key *key, uint64_t hash)
{
	for (uint32_t i = *bucket_at(fc, hash); i != NO_ENTRY; i = fc->entries[i].next)
		if (memcmp(&fc->entries[i].key, key, sizeof(*key)) == 0)
			return &fc->entries[i];
	return NULL;
}

static struct cache_entry *insert(struct flow_cache *fc, const struct flow_key *key, uint64_t hash)
{
	struct cache_entry *e;
	uint32_t *head;

	if (fc->count == fc->capacity) {
		size_t cap = fc->capacity ? fc->capacity * 2 : MIN_BUCKETS;
		struct cache_entry *n = realloc(fc->entries, cap * sizeof(*n));

		if (!n)
			return NULL;
		fc->entries = n;
		fc->capacity = cap;
	}
	if (fc->count + 1 > fc->nbuckets / 2 && rehash(fc, fc->nbuckets * 2) != 0)
		return NULL;
	e = &fc->entries[fc->count];
	memset(e, 0, sizeof(*e));
	e->key = *key;
	head = bucket_at(fc, hash); /* after a rehash: the new table's */
	e->next = *head;
	*head = fc->count++;
	return e;
}

/* Moves the last entry into idx's place, leaving the chains stale: for
 * a pass that removes many and relinks once at the end. */
static void remove_unlinked(struct flow_cache *fc, uint32_t idx)
{
	uint32_t last = fc->count - 1;

	if (idx != last)
		fc->entries[idx] = fc->entries[last];
	fc->count--;
}

/* Unlinks entry idx and moves the last entry into its place. */
static void remove_at(struct flow_cache *fc, uint32_t idx)
{
	uint32_t last = fc->count - 1;
	uint32_t *link;

	for (link = bucket_of(fc, &fc->entries[idx].key); *link != idx;
	     link = &fc->entries[*link].next)
		;
	*link = fc->entries[idx].next;

	if (idx != last) {
		for (link = bucket_of(fc, &fc->entries[last].key); *link != last;
		     link = &fc->entries[*link].next)
			;
		*link = idx;
	}
	remove_unlinked(fc, idx);
}

void flow_cache_merge(struct flow_cache *fc, const struct flow_key *key,
		      const struct flow_value *val)
{
	uint64_t hash;
	struct cache_entry *e;

	if (val->packets == 0)
		return;
	hash = flow_cache_key_hash(key);
	e = find(fc, key, hash);
	if (!e) {
		e = fc->count < fc->cfg.max_flows ? insert(fc, key, hash) : NULL;
		if (!e) {
			/* No room to wait for a timeout: export now, still exact. */
			fc->lack_of_resources++;
			fc->export(fc->ctx, key, val, END_LACK_OF_RESOURCES);
			return;
		}
	}
	flow_value_merge(&e->val, val);
}

void flow_cache_prefetch_bucket(struct flow_cache *fc, uint64_t hash)
{
	__builtin_prefetch(bucket_at(fc, hash));
}

void flow_cache_prefetch_chain(struct flow_cache *fc, uint64_t hash)
{
	uint32_t first = *bucket_at(fc, hash);

	if (first != NO_ENTRY)
		__builtin_prefetch(&fc->entries[first]);
}

#define TCP_FIN 0x01
#define TCP_RST 0x04

/* An entry holding no packets: the rest of a flow whose record went out
 * at the active timeout, or a mark made before the flow's first packet. */
#define END_FORGET (-1)

static int end_reason_at(const struct flow_cache_config *cfg, const struct flow_value *v,
			 uint64_t now)
{
	uint64_t idle = now > v->last_ns ? now - v->last_ns : 0;

	if (v->packets == 0)
		return idle >= cfg->inactive_timeout_ns ? END_FORGET : 0;
	if (idle >= cfg->inactive_timeout_ns)
		return END_IDLE;
	if (now > v->first_ns && now - v->first_ns >= cfg->active_timeout_ns)
		return END_ACTIVE;
	if ((v->tcp_flags & (TCP_FIN | TCP_RST)) && idle >= cfg->end_grace_ns)
		return END_OF_FLOW;
	return 0;
}

static void restart_record(struct flow_value *v)
{
	uint8_t app = v->app;
	uint64_t last = v->last_ns;

	memset(v, 0, sizeof(*v));
	v->app = app;
	v->last_ns = last; /* the inactive timeout still runs from here */
}

size_t flow_cache_expire(struct flow_cache *fc, uint64_t now_ns)
{
	return flow_cache_expire_some(fc, now_ns, SIZE_MAX);
}

/*
 * A removal unlinks two entries from their chains, each a walk of random
 * memory; relinking the whole cache costs a hash and an independent
 * write an entry, about this fraction of a removal. So a pass removes one
 * by one until it has removed that fraction of the entries it started
 * with, and then, if its budget (paced export) still allows as many
 * again, moves entries without fixing chains and relinks once at the end.
 * Either way the entries move the same (the last into the hole), so what
 * is exported, and in which order, does not depend on the switch.
 */
#define RELINK_FRACTION 16

size_t flow_cache_expire_some(struct flow_cache *fc, uint64_t now_ns, size_t max)
{
	size_t n = 0, removed = 0, relink_after = fc->count / RELINK_FRACTION;
	void (*drop)(struct flow_cache *, uint32_t) = remove_at;

	for (uint32_t i = 0; i < fc->count && n < max;) {
		struct cache_entry *e = &fc->entries[i];
		int reason = end_reason_at(&fc->cfg, &e->val, now_ns);

		if (!reason) {
			i++;
			continue;
		}
		if (reason != END_FORGET) {
			fc->export(fc->ctx, &e->key, &e->val, reason);
			n++;
		}
		if (reason == END_ACTIVE) {
			/* The flow goes on: a new record starts with its next
			 * packet, keeping what is known about the flow (app). */
			restart_record(&e->val);
			i++;
			continue;
		}
		drop(fc, i);
		if (++removed > relink_after && max - n > relink_after)
			drop = remove_unlinked;
	}
	if (drop == remove_unlinked)
		relink(fc);
	return n;
}

size_t flow_cache_flush_some(struct flow_cache *fc, enum flow_end_reason reason, size_t max)
{
	size_t n = 0;

	/* From the end: removing the last entry moves no other. */
	while (fc->count && n < max) {
		uint32_t last = fc->count - 1;

		if (fc->entries[last].val.packets) {
			fc->export(fc->ctx, &fc->entries[last].key, &fc->entries[last].val, reason);
			n++;
		}
		remove_at(fc, last);
	}
	return n;
}

size_t flow_cache_flush(struct flow_cache *fc, enum flow_end_reason reason)
{
	size_t n = 0;

	for (size_t i = 0; i < fc->count; i++) {
		if (fc->entries[i].val.packets == 0)
			continue;
		fc->export(fc->ctx, &fc->entries[i].key, &fc->entries[i].val, reason);
		n++;
	}
	fc->count = 0;
	memset(fc->buckets, 0xff, fc->nbuckets * sizeof(*fc->buckets));
	return n;
}

void flow_cache_mark_app(struct flow_cache *fc, const struct flow_key *key, uint8_t app,
			 uint64_t now_ns)
{
	uint64_t hash = flow_cache_key_hash(key);
	struct cache_entry *e = find(fc, key, hash);

	if (!e) {
		if (fc->count >= fc->cfg.max_flows)
			return; /* a mark is an annotation: no room, no mark */
		e = insert(fc, key, hash);
		if (!e)
			return;
		e->val.last_ns = now_ns;
	}
	e->val.app = app;
}

uint8_t flow_cache_get_app(struct flow_cache *fc, const struct flow_key *key, uint64_t now_ns)
{
	struct cache_entry *e = find(fc, key, flow_cache_key_hash(key));

	if (!e)
		return APP_UNKNOWN;
	if (now_ns > e->val.last_ns)
		e->val.last_ns = now_ns;
	return e->val.app;
}

size_t flow_cache_count(const struct flow_cache *fc)
{
	return fc->count;
}

uint64_t flow_cache_lack_of_resources(const struct flow_cache *fc)
{
	return fc->lack_of_resources;
}

size_t flow_cache_bytes_per_flow(void)
{
	/* One entry plus, at the maximum load factor, two bucket slots. */
	return sizeof(struct cache_entry) + 2 * sizeof(uint32_t);
}
