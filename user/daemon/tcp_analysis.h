/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Everything the daemon does with the datapath's TCP events, wired
 * together for the pipeline: reset verdicts (reset_analysis), interval
 * counters (conn_intervals) fed by them and by a read of the connection
 * table at each interval's end (conn_table), their JSON Lines and log
 * lines, and what rides on exported flows: the worst reset verdict of
 * the flow's connection (the origin ASes are the enrich stage's).
 *
 * Ordering that matters: a verdict is decided RESET_HOLD_NS after its
 * RST, and a reset flow leaves the flow cache at least the end-of-flow
 * grace after it (export_options.c keeps that grace longer than the
 * hold), so calling tcp_analysis_tick() before the cache expires flows
 * puts the verdict on the flow's record.
 */
#ifndef TCP_ANALYSIS_H
#define TCP_ANALYSIS_H

#include <stdint.h>
#include "cli/export_options.h"
#include "export/exporter.h"
#include "flowprobe.h"

struct tcp_analysis;

struct tcp_analysis_stats {
	uint64_t resets; /* RSTs decided */
	uint64_t forged;
	uint64_t suspect;
	uint64_t genuine;
	uint64_t blocked; /* BitTorrent connections blocked */
	uint64_t intervals; /* interval reports written */
	uint64_t conn_slots; /* connection table ways */
	uint64_t conn_entries; /* ways in use at the last read */
	uint64_t conns_open; /* open connections at the last read */
	uint64_t verdicts_replaced; /* verdict cache collisions (older lost) */
};

/*
 * conns_fd: the connection table, or -1 when the probe runs without it
 * (--no-resets: then nothing is added to flows). ex: where JSON
 * lines go and how probe time becomes wall time. NULL on failure (logged).
 */
struct tcp_analysis *tcp_analysis_new(const struct export_options *opt, int conns_fd,
				      struct exporter *ex);

/* Interval summaries in the log too (live; a replay has them in its JSON
 * and keeps stderr for what went wrong). */
void tcp_analysis_log_intervals(struct tcp_analysis *ta, bool on);
/* on: no program runs concurrently (replay): see conn_table_quiescent. */
void tcp_analysis_quiescent(struct tcp_analysis *ta, bool on);
void tcp_analysis_free(struct tcp_analysis *ta);

/* A datapath event (TCP ones; others are ignored). */
void tcp_analysis_event(struct tcp_analysis *ta, const struct event *ev);

/* Before a record is exported: its connection's verdict. */
void tcp_analysis_annotate(struct tcp_analysis *ta, struct flow_record *rec);

/* After: the record, classified by the enrich stage (daemon/enrich.h),
 * counts toward the interval's throughput comparison. */
void tcp_analysis_flow(struct tcp_analysis *ta, const struct flow_record *rec,
		       const struct flow_class *fc);

/* Decides held RSTs, ends intervals that are due (reading the table). */
void tcp_analysis_tick(struct tcp_analysis *ta, uint64_t now_ns, uint64_t wall_ms);

/* Decides everything and reports the interval in progress. */
void tcp_analysis_finish(struct tcp_analysis *ta, uint64_t now_ns, uint64_t wall_ms);

const struct tcp_analysis_stats *tcp_analysis_stats(const struct tcp_analysis *ta);

#endif /* TCP_ANALYSIS_H */
