/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the daemon itself counts (as opposed to the datapath's counters in
 * include/flowprobe.h). The daemon keeps these in a one-entry BPF array it
 * pins next to the datapath's counters, so `flowprobe stats` reads both the
 * same way, from bpffs, without talking to the daemon.
 * X(name, help) — the name is what `flowprobe stats` prints.
 */
#ifndef DAEMON_STATS_H
#define DAEMON_STATS_H

#include <stdint.h>

#define DAEMON_STATS(X)                                                        \
	X(drains, "table swaps and drains done")                              \
	X(drained_entries, "flow table entries read by the drains")       \
	X(table_slots, "flow table slots per generation, all CPUs")          \
	X(table_entries_last_drain, "entries the last drain read: the table's fill") \
	X(evicted_records, "evicted flows read from the eviction ring")       \
	X(flows_in_cache, "flows the daemon holds, waiting for a timeout")    \
	X(flows_exported, "flow records exported")                            \
	X(flows_exported_forced, "of those, exported at shutdown")            \
	X(flows_lack_of_resources, "flows exported early: cache full")        \
	X(export_packets, "NetFlow packets sent, all collectors")             \
	X(export_errors, "NetFlow packets lost: refused by a collector's socket or dropped from its full queue") \
	X(export_queued, "NetFlow packets waiting for a slow collector now")  \
	X(export_queue_drops, "of export_errors, dropped from a full queue (bound 64 a collector)") \
	X(drain_time_last, "microseconds the last drain took (swap, read, delete)")  \
	X(drain_time_max, "microseconds the slowest drain took")               \
	X(drain_errors, "drains that failed (see the log)")                   \
	X(bt_events, "BitTorrent recognitions reported by the datapath")      \
	X(p2p_alarms, "P2P host alarms raised (one per host per period)")    \
	X(resets_decided, "TCP resets judged (every RST seen)")              \
	X(resets_forged, "of those, forged")                                  \
	X(resets_suspect, "of those, suspect")                                \
	X(bt_blocked, "BitTorrent connections blocked by forged or suspect resets") \
	X(conn_slots, "connection table ways")                                \
	X(conn_entries, "connections in the table at the last interval's read") \
	X(conns_open, "of those, open (established, not reset, not idle)")  \
	X(intervals, "interval reports written")                              \
	X(took_over, "1: this daemon took over a pinned probe (datapath counters carry its history)")

#define DAEMON_STAT_ENUM(name, help) DS_##name,
enum daemon_stat {
	DAEMON_STATS(DAEMON_STAT_ENUM)
	DS__MAX,
};

struct daemon_stats {
	uint64_t v[DS__MAX];
};

#endif /* DAEMON_STATS_H */
