/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the dashboard, the JSON API and /metrics show: the last --history
 * of each local host (flows, packets, bytes, distinct peers and resets per
 * time bucket; its ports, peers and protocols), the most recent flow
 * records, the most recent JSON events (BitTorrent, P2P hosts, resets,
 * intervals, curve samples, knees), the P2P scores of the current period
 * and the probe's counters.
 *
 * Threads: the pipeline thread feeds it, the HTTP thread reads it. One
 * mutex guards everything; each call holds it for a bounded amount of work
 * (a record, an event line, a host listing), so neither side waits long.
 * Snapshots published per tick would double the memory for no gain: the
 * views are small and built in microseconds.
 *
 * Memory is fixed at creation (history_memory_bound() says how much):
 * max_hosts hosts, each with HISTORY_BUCKETS buckets, HISTORY_TOP ports and
 * peers; HISTORY_FLOWS recent records; max_events event lines of at most
 * HISTORY_EVENT_MAX bytes. Hosts beyond max_hosts are counted, not kept;
 * the oldest event or record makes room for a new one.
 */
#ifndef HISTORY_H
#define HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/daemon_stats.h"
#include "flowprobe.h"
#include "lib/flow_record.h"
#include "detect/p2p_hosts.h"
#include "detect/prefixes.h"

#define HISTORY_BUCKETS 60 /* a host's time series: span / 60 each */
#define HISTORY_TOP 12 /* ports and peers kept per host */
#define HISTORY_FLOWS 2048 /* recent flow records, all hosts */
#define HISTORY_EVENT_MAX 4096 /* longer event lines are not kept */
#define HISTORY_DEFAULT_HOSTS 4096
#define HISTORY_DEFAULT_EVENTS 2048
#define HISTORY_P2P 64 /* P2P host reports kept */
#define HISTORY_IFACES 8
#define HISTORY_LIVE 1024 /* live flows shown, busiest first */

struct history_config {
	uint64_t span_ms; /* --history; 0: one hour */
	size_t max_hosts; /* 0: HISTORY_DEFAULT_HOSTS */
	size_t max_events; /* 0: HISTORY_DEFAULT_EVENTS */
	const struct prefix_set *local; /* copied; the customers */
	unsigned int p2p_threshold; /* score that makes a BitTorrent host */
};

struct history;

struct history *history_new(const struct history_config *cfg);
void history_free(struct history *h);

/* Bytes allocated at creation for the given configuration: the bound. */
size_t history_memory_bound(const struct history_config *cfg);

/* Pipeline thread: one exported flow record, classified by the enrich
 * stage (daemon/enrich.h, with the same local prefixes as cfg->local); its
 * local ends are kept. */
void history_add_flow(struct history *h, const struct flow_record *rec,
		      const struct flow_class *fc);

/* Pipeline thread: one JSON Lines object as the probe writes it (without
 * its newline). Flows are ignored (history_add_flow has them); resets are
 * counted on their local host. now_ms: wall clock. */
void history_add_event_line(struct history *h, const char *line, size_t len, uint64_t now_ms);

/* Pipeline thread, once a tick: the flows active now (read by the drains,
 * not yet exported; daemon/live_flows.h), busiest first. They replace the
 * previous tick's; their counts show on their local hosts (in /api/hosts
 * and the host's page, "live") until their export moves them into the
 * buckets. */
void history_set_live(struct history *h, const struct flow_record *r, size_t n, uint64_t now_ms);

/* Pipeline thread, once a tick: the current P2P period's hosts, the
 * datapath counters and the daemon's, and the interfaces' names. */
void history_set_p2p(struct history *h, const struct p2p_host_report *r, size_t n);
void history_set_counters(struct history *h, const __u64 counters[CNT__MAX],
			  const struct daemon_stats *ds, uint64_t now_ms);
void history_set_iface(struct history *h, int ifindex, const char *name);

/* HTTP thread: the views, as new JSON objects (caller decrefs). */
json_t *history_hosts_json(struct history *h, size_t top); /* /api/hosts */
/* One host's page; NULL when addr is not an address (host unknown: an
 * object with "known": false). */
json_t *history_host_json(struct history *h, const char *addr);
json_t *history_events_json(struct history *h, const char *type, size_t max);
json_t *history_curve_json(struct history *h);
json_t *history_stats_json(struct history *h);

/* For /metrics: a consistent copy of the counters and gauges. */
struct history_iface_gauge {
	char name[32];
	int ifindex;
	bool have; /* a curve sample was seen */
	double utilisation; /* ρ of the last sample */
	double active_flows; /* N of the last sample */
	uint64_t packets, bytes; /* counted into flows, arriving here */
};

/* One collector's export, for /metrics. */
#define HISTORY_COLLECTORS 8
struct history_collector {
	char name[64]; /* as given: "192.0.2.10:2055" */
	uint64_t sent; /* export packets sent */
	uint64_t errors; /* refused by the socket or dropped from the queue */
	uint64_t queued; /* waiting now */
};
struct history_metrics {
	uint64_t counters[CNT__MAX];
	struct daemon_stats ds;
	uint64_t bt_hosts; /* local hosts at or above the P2P threshold */
	uint64_t hosts; /* local hosts in the history */
	uint64_t hosts_dropped; /* not kept: host table full */
	uint64_t events; /* event lines kept */
	size_t n_ifaces;
	struct history_iface_gauge iface[HISTORY_IFACES];
	size_t n_collectors;
	struct history_collector collector[HISTORY_COLLECTORS];
};
void history_metrics(struct history *h, struct history_metrics *out);

/* What the pipeline counted per interface (flows' packets and bytes by
 * the interface they arrived on) and per collector, once a tick. */
void history_set_iface_traffic(struct history *h, int ifindex, uint64_t packets, uint64_t bytes);
void history_set_collectors(struct history *h, const struct history_collector *c, size_t n);

#endif /* HISTORY_H */
