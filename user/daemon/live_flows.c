// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The live local flows: a chained hash of preallocated entries.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/live_flows.h"
#include "export/flow_cache.h"

#define NONE UINT32_MAX

struct live_flow {
	struct flow_key key;
	struct flow_value val;
	uint32_t next; /* hash chain, or free list */
	bool used;
};

struct live_flows {
	const struct prefix_set *local;
	struct live_flow *f;
	uint32_t *heads, n_heads, free_list;
	uint32_t *order; /* snapshot's scratch: used entries by bytes */
	size_t n, max;
	uint64_t dropped;
};

struct live_flows *live_flows_new(size_t max, const struct prefix_set *local)
{
	struct live_flows *lf = calloc(1, sizeof(*lf));

	if (!lf)
		return NULL;
	lf->local = local;
	lf->max = max ? max : LIVE_FLOWS_DEFAULT;
	for (lf->n_heads = 16; lf->n_heads < lf->max; lf->n_heads <<= 1)
		;
	lf->f = calloc(lf->max, sizeof(*lf->f));
	lf->heads = malloc(lf->n_heads * sizeof(*lf->heads));
	lf->order = malloc(lf->max * sizeof(*lf->order));
	if (!lf->f || !lf->heads || !lf->order) {
		live_flows_free(lf);
		return NULL;
	}
	memset(lf->heads, 0xff, lf->n_heads * sizeof(*lf->heads));
	for (size_t i = 0; i < lf->max; i++)
		lf->f[i].next = i + 1 < lf->max ? i + 1 : NONE;
	lf->free_list = 0;
	return lf;
}

void live_flows_free(struct live_flows *lf)
{
	if (!lf)
		return;
	free(lf->f);
	free(lf->heads);
	free(lf->order);
	free(lf);
}

static uint32_t *chain(struct live_flows *lf, const struct flow_key *key)
{
	return &lf->heads[hash_bytes(key, sizeof(*key)) & (lf->n_heads - 1)];
}

/* The link that points at key's entry, or at the chain's end. */
static uint32_t *find(struct live_flows *lf, const struct flow_key *key)
{
	uint32_t *link = chain(lf, key);

	while (*link != NONE && memcmp(&lf->f[*link].key, key, sizeof(*key)))
		link = &lf->f[*link].next;
	return link;
}

static bool has_local_end(const struct live_flows *lf, const struct flow_key *k)
{
	return lf->local && (prefix_set_match(lf->local, k->ip_version, k->src) ||
			     prefix_set_match(lf->local, k->ip_version, k->dst));
}

void live_flows_observe(struct live_flows *lf, const struct flow_key *key,
			const struct flow_value *val)
{
	uint32_t *link = find(lf, key), i;
	struct live_flow *e;

	if (*link != NONE) {
		flow_value_merge(&lf->f[*link].val, val);
		return;
	}
	if (!has_local_end(lf, key))
		return;
	if (lf->free_list == NONE) {
		lf->dropped++;
		return;
	}
	i = lf->free_list;
	e = &lf->f[i];
	lf->free_list = e->next;
	e->key = *key;
	e->val = *val;
	e->used = true;
	e->next = NONE;
	*link = i;
	lf->n++;
}

static void unlink_at(struct live_flows *lf, uint32_t *link)
{
	uint32_t i = *link;

	*link = lf->f[i].next;
	lf->f[i].used = false;
	lf->f[i].next = lf->free_list;
	lf->free_list = i;
	lf->n--;
}

void live_flows_exported(struct live_flows *lf, const struct flow_key *key)
{
	uint32_t *link;

	if (!lf->n)
		return;
	link = find(lf, key);
	if (*link != NONE)
		unlink_at(lf, link);
}

void live_flows_expire(struct live_flows *lf, uint64_t now_ns, uint64_t idle_ns)
{
	for (uint32_t c = 0; lf->n && c < lf->n_heads; c++) {
		uint32_t *link = &lf->heads[c];

		while (*link != NONE) {
			if (lf->f[*link].val.last_ns + idle_ns < now_ns)
				unlink_at(lf, link);
			else
				link = &lf->f[*link].next;
		}
	}
}

/* qsort has no context argument: the entries being ordered, for the
 * comparison (the pipeline thread is the only caller). */
static const struct live_flow *sorting;

static int by_bytes(const void *a, const void *b)
{
	uint64_t x = sorting[*(const uint32_t *)a].val.bytes;
	uint64_t y = sorting[*(const uint32_t *)b].val.bytes;

	return (y > x) - (y < x);
}

size_t live_flows_snapshot(const struct live_flows *lf, struct flow_record *out, size_t max,
			   uint64_t (*to_wall_ms)(void *ctx, uint64_t ns), void *ctx)
{
	size_t n = 0;

	for (size_t i = 0; i < lf->max; i++)
		if (lf->f[i].used)
			lf->order[n++] = i;
	/* The busiest, when there are more than the page shows. */
	sorting = lf->f;
	qsort(lf->order, n, sizeof(*lf->order), by_bytes);
	if (n > max)
		n = max;
	for (size_t k = 0; k < n; k++) {
		const struct live_flow *e = &lf->f[lf->order[k]];
		struct flow_record *r = &out[k];

		memset(r, 0, sizeof(*r));
		r->key = e->key;
		r->packets = e->val.packets;
		r->bytes = e->val.bytes;
		r->first_ms = to_wall_ms(ctx, e->val.first_ns);
		r->last_ms = to_wall_ms(ctx, e->val.last_ns);
		r->tcp_flags = e->val.tcp_flags;
		r->tos = e->val.tos;
		r->ttl_min = e->val.ttl_min;
		r->ttl_max = e->val.ttl_max;
		r->app = e->val.app;
		r->flags = e->val.flags;
	}
	return n;
}

size_t live_flows_count(const struct live_flows *lf)
{
	return lf->n;
}

uint64_t live_flows_dropped(const struct live_flows *lf)
{
	return lf->dropped;
}
