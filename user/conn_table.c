// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Ageing and reading the datapath's connection table. A sweep reads the
 * table in batches with BPF_F_LOCK (each value copied under its own
 * lock) and deletes the idle entries in batches. A packet may update an
 * entry between the read and the delete; the entry then goes anyway, and
 * the connection's next packet starts a new one as if first seen
 * mid-stream: the cost is a little history, never a count (flows are
 * counted elsewhere).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "conn_table.h"

#define SWEEP_BATCH 1024

struct conn_table {
	int fd;
	struct conn_key keys[SWEEP_BATCH];
	struct conn_state vals[SWEEP_BATCH];
	struct conn_key doomed[SWEEP_BATCH];
};

struct conn_table *conn_table_new(int fd)
{
	struct conn_table *ct = calloc(1, sizeof(*ct));

	if (ct)
		ct->fd = fd;
	return ct;
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

bool conn_is_open(const struct conn_state *st)
{
	return (st->flags & CONN_ESTABLISHED) && !conn_is_closed(st);
}

bool conn_is_idle(const struct conn_state *st, uint64_t now_ns)
{
	uint64_t limit, idle;

	if (conn_is_closed(st))
		limit = CONN_IDLE_CLOSED_NS;
	else if (st->flags & CONN_ESTABLISHED)
		limit = CONN_IDLE_OPEN_NS;
	else
		limit = CONN_IDLE_HALF_OPEN_NS;
	idle = now_ns > st->last_ns ? now_ns - st->last_ns : 0;
	return idle > limit;
}

static void delete_batch(struct conn_table *ct, uint32_t n, struct conn_sweep *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t count = n;

	if (!n)
		return;
	if (bpf_map_delete_batch(ct->fd, ct->doomed, &count, &opts) == 0) {
		out->removed += count;
		return;
	}
	/* A key may be gone already (the datapath never deletes, but a
	 * batch stops at the first failure): one by one. */
	for (uint32_t i = 0; i < n; i++) {
		if (bpf_map_delete_elem(ct->fd, &ct->doomed[i]) == 0)
			out->removed++;
		else if (errno != ENOENT)
			out->errors++;
	}
}

int conn_table_sweep(struct conn_table *ct, uint64_t now_ns, conn_visit_fn visit,
		     void *ctx, struct conn_sweep *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_F_LOCK);
	struct conn_key in_batch, out_batch;
	bool first = true, done = false;

	memset(out, 0, sizeof(*out));
	while (!done) {
		uint32_t count = SWEEP_BATCH, n_doomed = 0;
		int err = bpf_map_lookup_batch(ct->fd, first ? NULL : &in_batch,
					       &out_batch, ct->keys, ct->vals,
					       &count, &opts);

		if (err && errno != ENOENT) {
			out->errors++;
			return -errno;
		}
		done = err != 0; /* ENOENT: this was the last batch */
		first = false;
		in_batch = out_batch;
		for (uint32_t i = 0; i < count; i++) {
			const struct conn_state *st = &ct->vals[i];

			out->entries++;
			if (conn_is_idle(st, now_ns)) {
				ct->doomed[n_doomed++] = ct->keys[i];
				continue;
			}
			if (conn_is_open(st))
				out->open++;
			if (visit)
				visit(ctx, &ct->keys[i], st);
		}
		/* Deleting after the batch is read keeps the walk's place:
		 * out_batch names the next bucket, not an entry. */
		delete_batch(ct, n_doomed, out);
	}
	return 0;
}

int conn_table_lookup(struct conn_table *ct, const struct conn_key *key,
		      struct conn_state *out)
{
	if (bpf_map_lookup_elem_flags(ct->fd, key, out, BPF_F_LOCK) == 0)
		return 0;
	return -errno;
}
