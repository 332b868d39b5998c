// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The drain: batch lookup-and-delete over the table generation that is no
 * longer live, per-CPU values summed here, then the spill ring. Batches are
 * large so a million-flow table drains in a few hundred syscalls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "drain.h"
#include "log.h"

#define DRAIN_BATCH 8192

struct drainer {
	struct probe *probe;
	struct flow_cache *cache;
	struct ring_buffer *spill;
	struct flow_key *keys;
	struct flow_value *values; /* DRAIN_BATCH x ncpus */
	uint64_t spill_records;
};

static int on_spill(void *ctx, void *data, size_t size)
{
	struct drainer *d = ctx;
	const struct spill_record *rec = data;
	struct flow_value v = {};

	if (size < sizeof(*rec))
		return 0;
	v.packets = 1;
	v.bytes = rec->bytes;
	v.first_ns = v.last_ns = rec->time_ns;
	v.tcp_flags = rec->tcp_flags;
	v.tos = rec->tos;
	v.ttl_min = v.ttl_max = rec->ttl;
	v.flags = rec->flags;
	flow_cache_merge(d->cache, &rec->key, &v);
	d->spill_records++;
	return 0;
}

struct drainer *drainer_new(struct probe *p, struct flow_cache *fc)
{
	struct drainer *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->probe = p;
	d->cache = fc;
	d->keys = calloc(DRAIN_BATCH, sizeof(*d->keys));
	d->values = calloc((size_t)DRAIN_BATCH * p->ncpus, sizeof(*d->values));
	d->spill = ring_buffer__new(probe_spill_ring_fd(p), on_spill, d, NULL);
	if (!d->keys || !d->values || !d->spill) {
		drainer_free(d);
		return NULL;
	}
	return d;
}

void drainer_free(struct drainer *d)
{
	if (!d)
		return;
	ring_buffer__free(d->spill);
	free(d->keys);
	free(d->values);
	free(d);
}

static void merge_batch(struct drainer *d, __u32 n)
{
	int ncpus = d->probe->ncpus;

	for (__u32 i = 0; i < n; i++) {
		struct flow_value sum = {};

		for (int cpu = 0; cpu < ncpus; cpu++)
			flow_value_merge(&sum, &d->values[(size_t)i * ncpus + cpu]);
		flow_cache_merge(d->cache, &d->keys[i], &sum);
	}
}

int drain_table(struct drainer *d, int map_fd, uint64_t *entries)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 in_batch = 0, out_batch = 0;
	bool first = true;

	*entries = 0;
	for (;;) {
		__u32 n = DRAIN_BATCH;
		int err = bpf_map_lookup_and_delete_batch(map_fd, first ? NULL : &in_batch,
							  &out_batch, d->keys, d->values,
							  &n, &opts);
		if (err)
			err = -errno;
		/* Entries returned with ENOENT are the last ones: keep them. */
		if (!err || err == -ENOENT) {
			merge_batch(d, n);
			*entries += n;
		}
		if (err == -ENOENT)
			return 0;
		if (err) {
			log_error("draining a flow table: %s", strerror(-err));
			return err;
		}
		in_batch = out_batch;
		first = false;
	}
}

static int drain_fd_and_ring(struct drainer *d, int fd, struct drain_result *res)
{
	int err = drain_table(d, fd, &res->entries);

	d->spill_records = 0;
	ring_buffer__consume(d->spill);
	res->spill_records = d->spill_records;
	return err;
}

int drainer_run(struct drainer *d, struct drain_result *res)
{
	int old_fd, err;

	memset(res, 0, sizeof(*res));
	err = probe_swap_tables(d->probe, &old_fd);
	if (err) {
		log_error("swapping flow tables: %s", strerror(-err));
		return err;
	}
	return drain_fd_and_ring(d, old_fd, res);
}

int drainer_run_quiescent(struct drainer *d, struct drain_result *res)
{
	memset(res, 0, sizeof(*res));
	return drain_fd_and_ring(d, probe_flow_table_fd(d->probe, d->probe->live), res);
}
