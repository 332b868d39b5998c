/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fan-out of finished flows to every output: one NetFlow v9 or IPFIX
 * stream per collector (each with its own sequence and template schedule), plus the
 * probe's statistics as NetFlow options data once a minute. Converts the
 * probe clock (ns) to wall-clock ms on the way out.
 */
#ifndef EXPORTER_H
#define EXPORTER_H

#include <stdint.h>
#include <stdio.h>
#include "export/collector.h"
#include "lib/flow_record.h"
#include "export/ipfix.h"
#include "export/netflow9.h"

#define MAX_COLLECTORS 8

struct exporter {
	struct collector collectors[MAX_COLLECTORS];
	struct nf9_stream *streams; /* one per collector (NetFlow v9 ones) */
	struct ipfix_stream *ipfix; /* one per collector (IPFIX ones) */
	uint32_t ipfix_pen; /* --ipfix-pen; 0: IPFIX_DEFAULT_PEN */
	int n_collectors;
	struct nf9_clock clock;
	int64_t wall_offset_ns; /* wall = probe clock + this */
	uint64_t stats_sent_ms; /* last options data with our statistics */
	uint64_t flows_exported;
	FILE *json; /* JSON Lines of flows (--json), or NULL */
	uint64_t max_flow_age_ms; /* oldest flow start still to export */
	/* May add to each record before it goes out (reset verdict, ASes). */
	void (*annotate)(void *ctx, struct flow_record *rec);
	/* Sees every exported record (host behaviour analysis). */
	void (*on_record)(void *ctx, const struct flow_record *rec);
	void *on_record_ctx; /* for both hooks */
	bool as_numbers; /* NetFlow SRC_AS/DST_AS (an AS table is given) */
	bool reset_verdicts; /* NetFlow reset templates 260/261 */
	bool next_hops; /* inline: records carry a next hop to export */
	uint64_t json_errors;
	uint32_t start_uptime_ms; /* sysUptime at start (tests); 0 */
	uint32_t template_refresh_ms; /* --template-refresh; 0: the default */
	/* sysUptime follows the probe's (monotonic) clock, not wall steps:
	 * the wall offset its base was last aligned to. */
	int64_t base_offset_ns;
	bool base_offset_set;
	uint32_t export_rate; /* --export-rate, packets/s a collector */
	uint32_t queue_max; /* --export-queue, packets a collector */
	struct sockaddr_storage source; /* --source; family 0: the kernel's */
	socklen_t source_len;
};

/* Parses and resolves a collector; 0 or -EINVAL (logged). */
int exporter_add_collector(struct exporter *ex, const char *spec);

/* Opens sockets and streams; sends templates at once. 0, -EINVAL (the
 * payload size), or another negative errno (logged). */
int exporter_start(struct exporter *ex, uint32_t source_id, uint32_t max_payload,
		   uint64_t now_wall_ms);

/* Sets "now" for what follows: wall ms, and probe-ns to wall offset. */
void exporter_set_clock(struct exporter *ex, uint64_t now_wall_ms, int64_t wall_offset_ns);

void exporter_flow(struct exporter *ex, const struct flow_key *key, const struct flow_value *val,
		   enum flow_end_reason reason);

/* Probe-clock ns to wall-clock ms, with the offset of the last set_clock. */
uint64_t exporter_wall_ms(const struct exporter *ex, uint64_t probe_ns);

/* An event from the datapath, to the outputs that show events (JSON). */
void exporter_event(struct exporter *ex, const struct event *ev);

/* Options data with the probe's statistics, when due (or force). */
void exporter_stats(struct exporter *ex, const struct probe_stats *st, bool force);

/* Sends what is queued. */
void exporter_flush(struct exporter *ex);

/*
 * Flows that may be exported now without overflowing any collector's
 * queue (SIZE_MAX without collectors): callers that can wait (expiry, the
 * shutdown export) export no more than this and keep the rest.
 */
size_t exporter_room_flows(const struct exporter *ex);

/* Sends the queued packets the pacers allow now, without closing the
 * packet being filled. */
void exporter_pace(struct exporter *ex);

/* CLOCK_MONOTONIC ns when queued packets may leave next; 0 if none wait. */
uint64_t exporter_wake_ns(const struct exporter *ex);

/*
 * Blocks, sending paced, until every collector has room for min_packets
 * more packets (or its queue is empty) or deadline_ns (CLOCK_MONOTONIC)
 * passes. Returns 0, or -ETIMEDOUT at the deadline.
 */
int exporter_wait_room(struct exporter *ex, unsigned int min_packets, uint64_t deadline_ns);

/* Seconds the packets of n flows take at the export rate, rounded up; 0
 * when not paced or without collectors. */
uint64_t exporter_seconds_for(const struct exporter *ex, size_t n_flows);

uint64_t exporter_packets_sent(const struct exporter *ex);
uint64_t exporter_errors(const struct exporter *ex);
/* Export packets waiting in collectors' queues now; dropped from them. */
uint64_t exporter_queued(const struct exporter *ex);
uint64_t exporter_queue_drops(const struct exporter *ex);
/* Export packets collectors on this host dropped in their receive
 * buffers since the start (export/local_drops.h); reads /proc. */
uint64_t exporter_local_drops(struct exporter *ex);

void exporter_stop(struct exporter *ex);

#endif /* EXPORTER_H */
