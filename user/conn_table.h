/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The daemon's side of the datapath's connection table (conns map of
 * bpf/conn_track.bpf.h): it ages entries out (the map is a plain hash
 * with a spin lock in each value, which the kernel will not put in an
 * LRU map, so nothing else removes them), visits every entry for the
 * interval counters' "currently open", and looks single connections up
 * for the reset analysis (R12: did anything follow the RST?). Entries are
 * read with BPF_F_LOCK, so a read never sees half an update.
 */
#ifndef CONN_TABLE_H
#define CONN_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include "flowprobe.h"

/* How long an entry may sit idle (no packet either way) before the sweep
 * removes it: a closed connection (a RST, or FIN from both sides) only
 * long enough for the reset verdicts and late retransmissions; one that
 * never got a SYN-ACK as long as a SYN is retried; an open one as long
 * as a quiet BitTorrent or SSH connection stays up without keep-alives. */
#define CONN_IDLE_CLOSED_NS (30ULL * 1000000000ULL)
#define CONN_IDLE_HALF_OPEN_NS (30ULL * 1000000000ULL)
#define CONN_IDLE_OPEN_NS (900ULL * 1000000000ULL)

/* How often (probe clock) the pipeline sweeps. */
#define CONN_SWEEP_EVERY_NS (10ULL * 1000000000ULL)

struct conn_sweep {
	uint64_t entries;	/* found in the table */
	uint64_t removed;	/* idle past their limit, deleted */
	uint64_t open;		/* established, neither RST nor FIN both ways */
	uint64_t errors;	/* failed reads or deletes */
};

typedef void (*conn_visit_fn)(void *ctx, const struct conn_key *key,
			      const struct conn_state *st);

struct conn_table;

/* fd: the conns map. NULL on allocation failure. */
struct conn_table *conn_table_new(int fd);
void conn_table_free(struct conn_table *ct);

/* Whether an entry is open at all (established, no RST, not FIN both
 * ways), and whether it has sat idle past its limit at now_ns. */
bool conn_is_open(const struct conn_state *st);
bool conn_is_idle(const struct conn_state *st, uint64_t now_ns);

/*
 * Reads every entry (visiting the ones that stay, if visit is given),
 * deletes the idle ones. now_ns is the probe clock (capture time in
 * replay). Returns 0, or a negative errno when the table could not be
 * read at all (out says how far it got).
 */
int conn_table_sweep(struct conn_table *ct, uint64_t now_ns, conn_visit_fn visit,
		     void *ctx, struct conn_sweep *out);

/* One connection: 0 and *out, or -ENOENT. */
int conn_table_lookup(struct conn_table *ct, const struct conn_key *key,
		      struct conn_state *out);

#endif /* CONN_TABLE_H */
