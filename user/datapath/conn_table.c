// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading the datapath's connection table: batches of buckets, each
 * copied under its own lock (BPF_F_LOCK).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "datapath/conn_table.h"

#define SWEEP_BATCH 256 /* buckets per read: about 230 KB */

struct conn_table {
	int fd;
	uint32_t buckets;
	bool unlocked; /* conn_table_quiescent */
	uint32_t keys[SWEEP_BATCH];
	struct conn_bucket vals[SWEEP_BATCH];
};

struct conn_table *conn_table_new(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct conn_table *ct;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
		return NULL;
	if (info.value_size != sizeof(struct conn_bucket)) {
		errno = EINVAL;
		return NULL;
	}
	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return NULL;
	ct->fd = fd;
	ct->buckets = info.max_entries;
	return ct;
}

void conn_table_quiescent(struct conn_table *ct, bool on)
{
	ct->unlocked = on;
}

void conn_table_free(struct conn_table *ct)
{
	free(ct);
}

static bool conn_is_closed(const struct conn_state *st)
{
	return ((st->side[0].flags | st->side[1].flags) & SIDE_RST) ||
	       ((st->side[0].flags & st->side[1].flags) & SIDE_FIN);
}

static uint64_t idle_ns(const struct conn_state *st, uint64_t now_ns)
{
	return now_ns > st->last_ns ? now_ns - st->last_ns : 0;
}

bool conn_is_open(const struct conn_state *st, uint64_t now_ns)
{
	return (st->flags & CONN_ESTABLISHED) && !conn_is_closed(st) &&
	       idle_ns(st, now_ns) <= CONN_IDLE_NS;
}

static void count(struct conn_sweep *out, const struct conn_state *st, uint64_t now_ns)
{
	out->entries++;
	if (conn_is_open(st, now_ns))
		out->open++;
	else if (!(st->flags & CONN_ESTABLISHED) && !conn_is_closed(st) &&
		 idle_ns(st, now_ns) <= CONN_IDLE_HALF_OPEN_NS)
		out->half_open++;
}

int conn_table_sweep(struct conn_table *ct, uint64_t now_ns, conn_visit_fn visit, void *ctx,
		     struct conn_sweep *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = ct->unlocked ? 0 : BPF_F_LOCK);
	uint32_t in_batch = 0, out_batch = 0;
	bool first = true, done = false;

	memset(out, 0, sizeof(*out));
	out->slots = (uint64_t)ct->buckets * CONN_WAYS;
	while (!done) {
		uint32_t n = SWEEP_BATCH;
		int err = bpf_map_lookup_batch(ct->fd, first ? NULL : &in_batch, &out_batch,
					       ct->keys, ct->vals, &n, &opts);

		if (err && errno != ENOENT)
			return -errno;
		done = err != 0; /* ENOENT: the last batch */
		first = false;
		in_batch = out_batch;
		for (uint32_t i = 0; i < n; i++) {
			for (int w = 0; w < CONN_WAYS; w++) {
				const struct conn_slot *slot = &ct->vals[i].way[w];

				if (!slot->key.ip_version)
					continue;
				count(out, &slot->st, now_ns);
				if (visit)
					visit(ctx, &slot->key, &slot->st);
			}
		}
	}
	return 0;
}
