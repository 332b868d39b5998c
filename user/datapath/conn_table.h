/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The daemon's view of the datapath's connection table (the conns array
 * of bpf/conn_track.bpf.h): it visits every connection, for the interval
 * counters' "currently open" and the table's fill. It only reads: the
 * datapath makes room itself, evicting what matters least. Buckets are
 * read with BPF_F_LOCK, so a read never sees half an update.
 */
#ifndef CONN_TABLE_H
#define CONN_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include "flowprobe.h"

/* A half-open connection (no SYN-ACK) idle this long has failed; an
 * established one counts as open until CONN_IDLE_NS (flowprobe_limits.h),
 * when the datapath may also evict it. */
#define CONN_IDLE_HALF_OPEN_NS (30ULL * 1000000000ULL)

struct conn_sweep {
	uint64_t slots; /* ways in the table */
	uint64_t entries; /* ways holding a connection */
	uint64_t open; /* established, no RST, not FIN both ways, not idle */
	uint64_t half_open; /* no SYN-ACK yet, not idle */
};

typedef void (*conn_visit_fn)(void *ctx, const struct conn_key *key, const struct conn_state *st);

struct conn_table;

/* fd: the conns map. NULL on allocation failure or a bad map. */
struct conn_table *conn_table_new(int fd);
void conn_table_free(struct conn_table *ct);

/* on: no program runs while the table is read (replay), so a bucket
 * cannot change mid-copy and is read without its lock, whose release
 * was about 40% of a sweep's time in `replay --each`. */
void conn_table_quiescent(struct conn_table *ct, bool on);

/* Whether a connection counts as open at now_ns (probe clock):
 * established, no RST, not FIN both ways, not idle past CONN_IDLE_NS. */
bool conn_is_open(const struct conn_state *st, uint64_t now_ns);

/* Reads every bucket, visits every connection (if visit is given) and
 * counts. now_ns is the probe clock (capture time in replay). Returns 0,
 * or a negative errno when the table could not be read. */
int conn_table_sweep(struct conn_table *ct, uint64_t now_ns, conn_visit_fn visit, void *ctx,
		     struct conn_sweep *out);

#endif /* CONN_TABLE_H */
