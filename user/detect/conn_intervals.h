/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-interval connection counters (docs/detection.md, "Connection
 * counters per interval"; docs/intervals.md), per local prefix and in total,
 * like the Vuze ISP Network Monitor's: active opens (SYNs from inside),
 * passive opens (SYNs from outside), failed connections (no SYN-ACK
 * within CONN_FAIL_NS, or a RST before established), resets of
 * established connections, currently open, %RST, %inbound, forged and
 * suspect resets, and Glasnost-style blocked BitTorrent connections; and
 * where interference sits: resets of BitTorrent against other TCP on the
 * same ports, on the BitTorrent ports (6881-6889) against others,
 * upstream against downstream, and BitTorrent throughput against other
 * flows' (Glasnost's rule: a difference over 20% with noise under 20%).
 * Grouped by remote AS as well when an AS table is given. Pure: fed by
 * the pipeline, reports through a callback at each interval's end.
 */
#ifndef CONN_INTERVALS_H
#define CONN_INTERVALS_H

#include <stdint.h>
#include "lib/flow_record.h"
#include "flowprobe.h"
#include "detect/prefixes.h"
#include "detect/reset_analysis.h"

struct asn_table;

#define CONN_INTERVAL_DEFAULT_S 600
/* An open with no SYN-ACK this long after its SYN has failed. */
#define CONN_FAIL_NS (10ULL * 1000000000ULL)

struct conn_intervals_config {
	uint64_t interval_ms; /* wall clock */
	const struct prefix_set *local; /* per-prefix rows; NULL: total only */
	const struct asn_table *asn; /* NULL: no per-AS rows */
	/* One interval's report, as a JSON object (jansson json_t *, owned
	 * by the callee) ready for the JSON Lines output and the API. */
	void (*on_interval)(void *ctx, void *json_interval);
	void *ctx;
};

struct conn_intervals;

struct conn_intervals *conn_intervals_new(const struct conn_intervals_config *cfg);
void conn_intervals_free(struct conn_intervals *ci);

/* Datapath events: EVENT_TCP_OPEN, EVENT_TCP_ACCEPT (others ignored). */
void conn_intervals_event(struct conn_intervals *ci, const struct event *ev, uint64_t wall_ms);
/* Decided resets and connection summaries from reset_analysis. */
void conn_intervals_reset(struct conn_intervals *ci, const struct reset_report *r);
void conn_intervals_connection(struct conn_intervals *ci, const struct conn_report *c);
/* Every exported flow record (throughput of BitTorrent and other flows),
 * classified by the enrich stage (daemon/enrich.h) with cfg->local. */
void conn_intervals_flow(struct conn_intervals *ci, const struct flow_record *rec,
			 const struct flow_class *fc);
/* Called once per connection in the kernel table just before an interval
 * ends (the pipeline sweeps the table): counts the currently open ones. */
void conn_intervals_open_connection(struct conn_intervals *ci, const struct conn_key *key,
				    const struct conn_state *st);
/* Whether the interval ending at or before wall_ms is due: the pipeline
 * then sweeps the table (conn_intervals_open_connection) and calls
 * conn_intervals_tick. */
bool conn_intervals_due(const struct conn_intervals *ci, uint64_t wall_ms);
/* Ends every interval due by wall_ms and reports it; probe_now_ns ages
 * pending opens (CONN_FAIL_NS). */
void conn_intervals_tick(struct conn_intervals *ci, uint64_t wall_ms, uint64_t probe_now_ns);
/* Reports the interval in progress (shutdown, end of replay). */
void conn_intervals_finish(struct conn_intervals *ci, uint64_t wall_ms);

#endif /* CONN_INTERVALS_H */
