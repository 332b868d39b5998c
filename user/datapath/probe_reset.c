// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Restoring a loaded probe's maps to their state right after load (see
 * probe_reset.h for why). Each map is handled by its type, found by walking
 * the object, so a table added to bpf/ later is covered without touching
 * this file, and one of a type nobody thought of stops the reset loudly.
 * Two tables are known by name, because zeroing them whole was most of a
 * reset's cost (`replay --each`, a capture of a few flows each): the flow
 * generations zero only their touched groups, and the connection table is
 * left alone when no connection entered it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flowprobe.skel.h"
#include "lib/log.h"
#include "datapath/probe_reset.h"

/* Entries per batch update of zeroes. */
#define ZERO_CHUNK 256

enum reset_kind {
	RESET_SNAPSHOT, /* .bss, .data: copy back what load left there */
	RESET_ZERO_MMAP, /* mmapable array: memset in place */
	RESET_ZERO_TOUCHED, /* a flow generation: its touched groups */
	RESET_ZERO_BATCH, /* other arrays: one batch update of zeroes */
	RESET_DELETE, /* hash maps: delete every key */
	RESET_INNER, /* map-in-map array: put back the inner maps of load */
};

struct map_reset {
	const char *name;
	int fd;
	enum reset_kind kind;
	__u32 entries, key_size, value_bytes; /* value_bytes: all CPUs' */
	void *mem; /* RESET_SNAPSHOT: the mmapped section; ZERO_MMAP: our mmap */
	size_t bytes;
	void *copy; /* RESET_SNAPSHOT: its contents after load */
	void *keys, *values; /* RESET_ZERO_BATCH, RESET_DELETE: buffers */
	__u32 *inner_ids; /* RESET_INNER: per slot, 0 for empty */
	int gen; /* RESET_ZERO_TOUCHED: which generation of the probe */
	/* RESET_ZERO_BATCH: skipped when this counter is 0 (summed over
	 * CPUs) since the last reset, -1: never skipped */
	int unless_counted;
};

struct probe_reset {
	struct probe *probe;
	struct map_reset *maps;
	int n;
	struct ring_buffer *rings; /* every ring buffer of the object */
	unsigned long stale;
	int daemon_stats_fd;
	/* The last run failed part way, maybe after zeroing the counters
	 * that tell which maps may be skipped: the next one skips nothing. */
	bool failed;
};

static int count_stale(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	((struct probe_reset *)ctx)->stale++;
	return 0;
}

static int add_ring(struct probe_reset *r, struct bpf_map *map)
{
	int fd = bpf_map__fd(map);

	if (!r->rings) {
		r->rings = ring_buffer__new(fd, count_stale, r, NULL);
		return r->rings ? 0 : -errno;
	}
	/* returns a negative errno itself */
	return ring_buffer__add(r->rings, fd, count_stale, r);
}

static int setup_map(struct probe_reset *r, struct bpf_map *map, struct map_reset *m, int ncpus)
{
	enum bpf_map_type type = bpf_map__type(map);
	__u32 vs = bpf_map__value_size(map);
	bool percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
		      type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	size_t sz;

	m->name = bpf_map__name(map);
	m->fd = bpf_map__fd(map);
	m->entries = bpf_map__max_entries(map);
	m->key_size = bpf_map__key_size(map);
	m->value_bytes = percpu ? ((vs + 7) & ~7u) * ncpus : vs;
	m->unless_counted = -1;

	switch (type) {
	case BPF_MAP_TYPE_ARRAY:
		if (bpf_map__is_internal(map)) {
			/* .rodata and .kconfig are frozen: nothing can change them. */
			if (bpf_map__map_flags(map) & BPF_F_RDONLY_PROG)
				return 1;
			m->kind = RESET_SNAPSHOT;
			/* after load: the mmapped section itself (const only in the API) */
			m->mem = (void *)bpf_map__initial_value(map, &sz);
			m->bytes = sz;
			m->copy = m->mem ? malloc(sz) : NULL;
			if (!m->copy)
				return -ENOMEM;
			memcpy(m->copy, m->mem, sz);
			return 0;
		}
		/*
		 * A generation holds flows only in the groups its touched bitmap
		 * marks (flowprobe.h; the drain zeroes a group before clearing
		 * its bit): zeroing those and clearing the bits is a whole
		 * generation's memset (tens of MB) for the few groups a capture
		 * used.
		 */
		for (int g = 0; g < 2; g++) {
			if (r->probe->gen[g] && map == (g ? r->probe->skel->maps.flows_b :
							    r->probe->skel->maps.flows_a)) {
				m->kind = RESET_ZERO_TOUCHED;
				m->gen = g;
				return 0;
			}
		}
		if (bpf_map__map_flags(map) & BPF_F_MMAPABLE) {
			m->kind = RESET_ZERO_MMAP;
			m->bytes = (size_t)m->entries * ((vs + 7) & ~7u);
			m->mem = mmap(NULL, m->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
			if (m->mem == MAP_FAILED) {
				m->mem = NULL;
				return -errno;
			}
			return 0;
		}
		/* fall through */
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		m->kind = RESET_ZERO_BATCH;
		m->keys = malloc((size_t)m->entries * sizeof(__u32));
		/* One chunk of zeroes, reused: a table's worth (the connection
		 * table's is 30 MB) costs every fork a copy of its page table. */
		m->values = calloc(m->entries < ZERO_CHUNK ? m->entries : ZERO_CHUNK,
				   m->value_bytes);
		if (!m->keys || !m->values)
			return -ENOMEM;
		for (__u32 i = 0; i < m->entries; i++)
			((__u32 *)m->keys)[i] = i;
		/* A connection way is written only once claimed, and every claim
		 * is counted (conn_track.bpf.h): no claim, still all zero. */
		if (map == r->probe->skel->maps.conns)
			m->unless_counted = CNT_CONNS_CREATED;
		return 0;
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		m->kind = RESET_DELETE;
		m->keys = malloc(2 * (size_t)m->key_size);
		return m->keys ? 0 : -ENOMEM;
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		m->kind = RESET_INNER;
		m->inner_ids = calloc(m->entries, sizeof(__u32));
		if (!m->inner_ids)
			return -ENOMEM;
		for (__u32 i = 0; i < m->entries; i++)
			if (bpf_map_lookup_elem(m->fd, &i, &m->inner_ids[i]) != 0)
				m->inner_ids[i] = 0;
		return 0;
	case BPF_MAP_TYPE_RINGBUF: {
		int err = add_ring(r, map);

		return err ? err : 1;
	}
	case BPF_MAP_TYPE_PROG_ARRAY:
		return 1; /* programs, set at load: no packet changes them */
	default:
		log_error("cannot reset BPF map %s (type %d) between replays: teach "
			  "user/datapath/probe_reset.c its type",
			  m->name, (int)type);
		return -EOPNOTSUPP;
	}
}

int probe_reset_new(struct probe *p, struct probe_reset **out)
{
	struct probe_reset *r = calloc(1, sizeof(*r));
	struct bpf_map *map;
	int n = 0, err = 0;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	bpf_object__for_each_map (map, p->skel->obj)
		n++;
	r->maps = calloc(n, sizeof(*r->maps));
	if (!r->maps) {
		free(r);
		return -ENOMEM;
	}
	r->probe = p;
	r->daemon_stats_fd = p->daemon_stats_fd;
	bpf_object__for_each_map (map, p->skel->obj) {
		err = setup_map(r, map, &r->maps[r->n], p->ncpus);
		if (err < 0) {
			r->n++; /* so that probe_reset_free frees what it holds */
			break;
		}
		if (err == 0)
			r->n++;
		err = 0;
	}
	if (err) {
		if (err != -EOPNOTSUPP)
			log_error("cannot prepare BPF map %s for resets between replays: %s",
				  bpf_map__name(map), strerror(-err));
		probe_reset_free(r);
		return err;
	}
	*out = r;
	return 0;
}

static int zero_batch(struct map_reset *m)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	for (__u32 first = 0; first < m->entries;) {
		__u32 count = m->entries - first < ZERO_CHUNK ? m->entries - first : ZERO_CHUNK;

		if (bpf_map_update_batch(m->fd, (__u32 *)m->keys + first, m->values, &count,
					 &opts) != 0)
			goto one_by_one;
		first += count;
	}
	return 0;
one_by_one:
	/* Kernels without batch updates for this type: one key at a time. */
	for (__u32 i = 0; i < m->entries; i++)
		if (bpf_map_update_elem(m->fd, &i, m->values, BPF_ANY) != 0)
			return -errno;
	return 0;
}

static int delete_all(struct map_reset *m)
{
	char *key = m->keys, *next = key + m->key_size;

	if (bpf_map_get_next_key(m->fd, NULL, key) != 0)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		/* The next key first: a deleted key cannot lead on. */
		int more = bpf_map_get_next_key(m->fd, key, next) == 0;

		if (bpf_map_delete_elem(m->fd, key) != 0 && errno != ENOENT)
			return -errno;
		if (!more)
			return 0;
		memcpy(key, next, m->key_size);
	}
}

static int restore_inner(struct map_reset *m)
{
	for (__u32 i = 0; i < m->entries; i++) {
		int fd, err = 0;

		if (!m->inner_ids[i]) {
			if (bpf_map_delete_elem(m->fd, &i) != 0 && errno != ENOENT)
				return -errno;
			continue;
		}
		fd = bpf_map_get_fd_by_id(m->inner_ids[i]);
		if (fd < 0)
			return -errno;
		if (bpf_map_update_elem(m->fd, &i, &fd, BPF_ANY) != 0)
			err = -errno;
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

static uint64_t zero_group(void *ctx, struct flow_bucket *b, size_t n)
{
	(void)ctx;
	memset(b, 0, n * sizeof(*b));
	return 0;
}

int probe_reset_run(struct probe_reset *r, unsigned long *stale_records)
{
	__u64 counted[CNT__MAX];
	int err;

	/* Before the loop below zeroes them. */
	err = probe_read_counters(bpf_map__fd(r->probe->skel->maps.counters), r->probe->ncpus,
				  counted);
	if (err) {
		log_error("cannot read the datapath's counters to reset them between replays: %s",
			  strerror(-err));
		return err;
	}
	r->stale = 0;
	if (r->rings && ring_buffer__consume(r->rings) < 0)
		err = -errno;
	for (int i = 0; i < r->n && !err; i++) {
		struct map_reset *m = &r->maps[i];

		switch (m->kind) {
		case RESET_SNAPSHOT:
			memcpy(m->mem, m->copy, m->bytes);
			break;
		case RESET_ZERO_MMAP:
			memset(m->mem, 0, m->bytes);
			break;
		case RESET_ZERO_TOUCHED:
			probe_visit_touched(r->probe, m->gen, zero_group, NULL);
			break;
		case RESET_ZERO_BATCH:
			if (m->unless_counted < 0 || counted[m->unless_counted] || r->failed)
				err = zero_batch(m);
			break;
		case RESET_DELETE:
			err = delete_all(m);
			break;
		case RESET_INNER:
			err = restore_inner(m);
			break;
		}
		if (err)
			log_error("cannot reset BPF map %s between replays: %s", m->name,
				  strerror(-err));
	}
	/* live_table is back at flows_a (RESET_INNER), as after load. */
	if (!err)
		r->probe->live = 0;
	if (!err && r->daemon_stats_fd >= 0) {
		struct daemon_stats zero = { 0 };
		__u32 k = 0;

		if (bpf_map_update_elem(r->daemon_stats_fd, &k, &zero, BPF_ANY) != 0) {
			err = -errno;
			log_error("cannot reset the daemon statistics map between replays: %s",
				  strerror(-err));
		}
	}
	r->failed = err != 0;
	if (stale_records)
		*stale_records = r->stale;
	return err;
}

void probe_reset_free(struct probe_reset *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++) {
		struct map_reset *m = &r->maps[i];

		if (m->kind == RESET_ZERO_MMAP && m->mem)
			munmap(m->mem, m->bytes);
		free(m->copy);
		free(m->keys);
		free(m->values);
		free(m->inner_ids);
	}
	ring_buffer__free(r->rings);
	free(r->maps);
	free(r);
}
