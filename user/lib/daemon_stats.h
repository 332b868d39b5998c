/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the daemon itself counts (as opposed to the datapath's counters in
 * include/flowprobe.h). The daemon keeps these in a one-entry BPF array it
 * pins next to the datapath's counters, so `flowprobe stats` reads both the
 * same way, from bpffs, without talking to the daemon.
 * X(name, type, unit, help) — the name is what `flowprobe stats` prints;
 * the type is the Prometheus one: counter (monotonic, /metrics adds
 * _total) or gauge (goes up and down); the unit is the value's: one (a
 * count) or us (microseconds, which /metrics gives in seconds, the base
 * unit, with the suffix _seconds).
 */
#ifndef DAEMON_STATS_H
#define DAEMON_STATS_H

#include <stdint.h>

#define DAEMON_STATS(X)                                                                                                   \
	X(drains, counter, one, "table swaps and drains done")                                                            \
	X(drained_entries, counter, one, "flow table entries read by the drains")                                         \
	X(table_slots, gauge, one, "flow table slots per generation, all CPUs")                                           \
	X(table_entries_last_drain, gauge, one, "entries the last drain read: the table's fill")                          \
	X(evicted_records, counter, one, "evicted flows read from the eviction ring")                                     \
	X(flows_in_cache, gauge, one, "flows the daemon holds, waiting for a timeout")                                    \
	X(flows_exported, counter, one, "flow records exported")                                                          \
	X(flows_exported_forced, counter, one, "of those, exported at shutdown")                                          \
	X(flows_lack_of_resources, counter, one, "flows exported early: cache full")                                      \
	X(export_packets, counter, one, "NetFlow packets sent, all collectors")                                           \
	X(export_errors, counter, one,                                                                                    \
	  "NetFlow packets lost: refused by a collector's socket or dropped from its full queue")                         \
	X(export_queued, gauge, one, "NetFlow packets waiting for a slow collector now")                                  \
	X(export_queue_drops, counter, one,                                                                               \
	  "of export_errors, dropped from a full queue (--export-queue)")                                                 \
	X(export_collector_drops, counter, one,                                                                           \
	  "export packets a collector on this host dropped in its receive buffer (its socket's drops; elsewhere unseen)")  \
	X(export_rate, gauge, one,                                                                                        \
	  "export packets a second each collector gets at most (--export-rate; 0: unpaced)")                              \
	X(export_queue_limit, gauge, one,                                                                                 \
	  "export packets a collector may have waiting (--export-queue)")                                                 \
	X(export_deferred, counter, one,                                                                                  \
	  "drains after which expired flows waited in the cache for room in the export queues")                           \
	X(drain_time_last, gauge, us, "how long the last drain took (swap, read, delete)")                                \
	X(drain_time_max, gauge, us, "how long the slowest drain took")                                                   \
	X(drain_errors, counter, one, "drains that failed (see the log)")                                                 \
	X(bt_events, counter, one, "BitTorrent recognitions reported by the datapath")                                    \
	X(p2p_alarms, counter, one, "P2P host alarms raised (one per host per period)")                                   \
	X(resets_decided, counter, one, "TCP resets judged (every RST seen)")                                             \
	X(resets_forged, counter, one, "of those, forged")                                                                \
	X(resets_suspect, counter, one, "of those, suspect")                                                              \
	X(bt_blocked, counter, one, "BitTorrent connections blocked by forged or suspect resets")                         \
	X(conn_slots, gauge, one, "connection table ways")                                                                \
	X(conn_entries, gauge, one, "connections in the table at the last interval's read")                               \
	X(conns_open, gauge, one, "of those, open (established, not reset, not idle)")                                    \
	X(intervals, counter, one, "interval reports written")                                                            \
	X(live_flows, gauge, one,                                                                                         \
	  "local flows the dashboard shows live (read by a drain, not yet exported)")                                     \
	X(live_flows_untracked, counter, one,                                                                             \
	  "local flows not shown live: the live table was full (they reach the history at export)")                       \
	X(store_rows, counter, one,                                                                                       \
	  "history database rows written: host-minute deltas and events (--state-dir)")                                   \
	X(store_rows_lost, counter, one,                                                                                  \
	  "history rows not written: their transaction failed (see the log)")                                             \
	X(store_records_dropped, counter, one,                                                                            \
	  "flow records, resets and events the history could not take: a tick's batch was full (the writer fell behind)") \
	X(store_write_errors, counter, one, "history database transactions that failed")                                  \
	X(store_commit_time_last, gauge, us,                                                                              \
	  "how long the last history commit took (writer thread)")                                                        \
	X(fleet_rows, counter, one, "rows sent to the fleet's ClickHouse (--store)")                                      \
	X(fleet_rows_dropped, counter, one,                                                                               \
	  "rows for ClickHouse dropped: the bounded buffer was full while the server was away")                           \
	X(fleet_send_errors, counter, one,                                                                                \
	  "requests to ClickHouse that failed (their rows are retried)")                                                  \
	X(fleet_buffered_bytes, gauge, one, "bytes of rows waiting for ClickHouse")                                       \
	X(took_over, gauge, one,                                                                                          \
	  "1: this daemon took over a pinned probe (datapath counters carry its history)")                                \
	X(route_records_missing, counter, one,                                                                            \
	  "inline: flow records exported with OUTPUT_SNMP 0, their destination gone from the route cache (its way taken)")    \
	X(route_records_unrouted, counter, one,                                                                           \
	  "inline: flow records exported with OUTPUT_SNMP 0, their route lookup found no egress (route_* counters say why)")

/* 1 for a counter, 0 for a gauge; any other type does not compile. */
#define DAEMON_STAT_MONOTONIC(type) DAEMON_STAT_MONOTONIC_##type
#define DAEMON_STAT_MONOTONIC_counter 1
#define DAEMON_STAT_MONOTONIC_gauge 0

/* The unit's suffix and scale in /metrics. */
#define DAEMON_STAT_SUFFIX(unit) DAEMON_STAT_SUFFIX_##unit
#define DAEMON_STAT_SUFFIX_one ""
#define DAEMON_STAT_SUFFIX_us "_seconds"
#define DAEMON_STAT_SCALE(unit) DAEMON_STAT_SCALE_##unit
#define DAEMON_STAT_SCALE_one 1.0
#define DAEMON_STAT_SCALE_us 1e-6

#define DAEMON_STAT_ENUM(name, type, unit, help) DS_##name,
enum daemon_stat {
	DAEMON_STATS(DAEMON_STAT_ENUM) DS__MAX,
};

struct daemon_stats {
	uint64_t v[DS__MAX];
};

#endif /* DAEMON_STATS_H */
