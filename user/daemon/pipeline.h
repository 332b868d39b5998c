/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `run` and `replay` share: the loaded probe, the drain, the flow
 * cache and the exporters, wired together, and one "tick" that moves counts
 * from the kernel to the collectors. They differ only in where time comes
 * from (the monotonic clock, or capture timestamps) and in whether the
 * drain must swap tables (live) or may read the live table (replay).
 */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stdbool.h>
#include "curve/curve.h"
#include "lib/daemon_stats.h"
#include "datapath/drain.h"
#include "datapath/events.h"
#include "cli/export_options.h"
#include "daemon/enrich.h"
#include "export/exporter.h"
#include "datapath/flood_report.h"
#include "export/flow_cache.h"
#include "detect/p2p_hosts.h"
#include "datapath/probe.h"
#include "datapath/routes.h"

struct tcp_analysis;
struct history;
struct store;
struct live_flows;
struct fleet;

struct pipeline {
	struct probe probe;
	struct exporter exporter;
	struct flow_cache *cache;
	/* Application marks by 5-tuple, whatever the interface: a connection
	 * recognised one way is marked both ways, and stays marked across
	 * its records. Entries hold no packets and are never exported. */
	struct flow_cache *marks;
	struct drainer *drainer;
	struct events_reader *events;
	struct p2p_hosts *p2p;
	struct enrich_config enrich; /* --local, --asn-table: classifies records */
	struct routes routes; /* inline: egress and next hop of records */
	struct flow_class record_class; /* of the record being exported */
	struct tcp_analysis *tcp; /* resets, connection counters */
	struct daemon_stats ds;
	__u64 counters[CNT__MAX];
	struct flood_report flood; /* full tables, in the log */
	struct curve *curve; /* utilisation samples, or NULL */
	/* Packets and bytes counted into flows, by the interface they arrived
	 * on (the probe's interfaces, in its order): /metrics' per-interface
	 * series. From the drained entries, so exact like the flows. */
	struct {
		uint64_t packets, bytes;
	} traffic[MAX_IFACES];
	bool quiescent; /* replay: no concurrent program runs */
	unsigned long p2p_threshold;
	struct history *history; /* the dashboard's, or NULL; not owned */
	struct store *store; /* the embedded history, or NULL; not owned */
	struct fleet *fleet; /* --store clickhouse://, or NULL; not owned */
	/* The flows the dashboard shows live, or NULL; not owned. */
	struct live_flows *live;
	struct flow_record *live_buf; /* HISTORY_LIVE, for the hand-over */
	uint64_t live_idle_ns; /* the cache's inactive timeout */
};

/* After probe_load: creates the cache, drain, event reader and host
 * analysis from the options. 0, -EINVAL (curve samples asked for without
 * a capacity) or another negative errno, logged. */
int pipeline_init(struct pipeline *pl, const struct export_options *opt);

/* Counting starts at now_ns (probe clock): the utilisation curve's bins
 * begin here. */
void pipeline_start(struct pipeline *pl, uint64_t now_ns);

/* The curve's bin length, 0 without a curve: drains on its edges make
 * the samples' byte counts exact. */
uint64_t pipeline_sample_ns(const struct pipeline *pl);

/*
 * Drain, expire at now_ns (probe clock), export. wall_ms is "now" for the
 * NetFlow header; wall_offset_ns maps probe-clock ns to wall-clock ns.
 */
void pipeline_tick(struct pipeline *pl, uint64_t now_ns, uint64_t wall_ms, int64_t wall_offset_ns);

/* Final drain of both tables and export of every flow as forced. Call
 * after detaching (live) or after the last packet (replay). Live and
 * still attached (a stop that keeps the probe pinned): one swap and drain,
 * the live table is left to the next daemon. */
void pipeline_finish(struct pipeline *pl, uint64_t wall_ms, int64_t wall_offset_ns);

/* The local hosts of the current period, highest P2P score first. */
size_t pipeline_p2p_hosts(struct pipeline *pl, struct p2p_host_report *out, size_t max);

/* Logs the P2P scores of the busiest local hosts (at shutdown, end of
 * replay): what a support technician looks at first. */
void pipeline_log_p2p_summary(struct pipeline *pl);

void pipeline_destroy(struct pipeline *pl);

#endif /* PIPELINE_H */
