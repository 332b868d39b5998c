/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Host behaviour: which local hosts behave like BitTorrent clients. Every
 * exported flow and every BitTorrent event is folded into per-host counts
 * for the current period (default 5 min, aligned on multiples of the period
 * in wall-clock ms); from them comes a P2P score (0-100) with the reasons a
 * support technician can check ("812 distinct peers in 5 min", "TCP and
 * UDP on port 51413"). A host whose score reaches the threshold raises one
 * alarm per period, whatever the number of flows, events, interfaces or
 * detection kinds behind it. "Local" is a prefix set (--local).
 *
 * Memory is fixed at creation: at most max_hosts hosts per period, each
 * with a bounded distinct-peer estimator; hosts beyond that are counted,
 * not tracked. Time is always passed in (wall ms), so tests use a fake
 * clock. Not thread-safe: the daemon's single loop feeds it.
 */
#ifndef P2P_HOSTS_H
#define P2P_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "flowprobe.h"
#include "lib/flow_record.h"
#include "detect/prefixes.h"

#define P2P_DEFAULT_PERIOD_MS (300 * 1000ull)
#define P2P_DEFAULT_THRESHOLD 60
#define P2P_DEFAULT_MAX_HOSTS 16384
#define P2P_MAX_REASONS 6
#define P2P_REASON_LEN 96
#define P2P_KINDS (BT_ENCRYPTED + 1)

/* One host in one period: what an alarm carries and what listings show. */
struct p2p_host_report {
	uint8_t ip_version;
	uint8_t addr[16]; /* flow key layout */
	uint64_t period_start_ms; /* wall clock, ms since the epoch */
	uint64_t period_end_ms; /* start + period */
	unsigned int score; /* 0..100 */
	bool alarmed; /* an alarm was raised this period */
	uint64_t peers; /* distinct remote addresses (estimate) */
	uint64_t flows; /* flow records with this host at one end */
	uint64_t small_flows; /* of those, <= 10 packets or <= 2 KB */
	uint64_t bt_flows; /* of those, classified BitTorrent */
	uint64_t bt_events; /* BitTorrent events of any kind */
	uint64_t kind_events[P2P_KINDS]; /* events by enum bt_kind */
	uint32_t kinds; /* bit 1 << kind for each kind seen */
	unsigned int n_reasons; /* strongest first */
	char reasons[P2P_MAX_REASONS][P2P_REASON_LEN];
};

struct p2p_hosts;

typedef void (*p2p_alarm_fn)(void *ctx, const struct p2p_host_report *alarm);
/* Called when a period closes, before its hosts are forgotten. */
typedef void (*p2p_period_fn)(void *ctx, struct p2p_hosts *ph);

struct p2p_config {
	uint64_t period_ms; /* 0: P2P_DEFAULT_PERIOD_MS */
	unsigned int threshold; /* 1..100; 0: P2P_DEFAULT_THRESHOLD */
	size_t max_hosts; /* per period; 0: P2P_DEFAULT_MAX_HOSTS */
	const struct prefix_set *local; /* copied; NULL: PREFIX_SET_DEFAULT */
	p2p_alarm_fn on_alarm; /* may be NULL */
	p2p_period_fn on_period_end; /* may be NULL */
	void *ctx; /* passed to both */
};

struct p2p_stats {
	uint64_t period_start_ms; /* 0 before the first input */
	uint64_t period_end_ms;
	size_t hosts; /* tracked in this period */
	uint64_t dropped_hosts; /* this period, table full (estimate) */
	uint64_t dropped_inputs; /* this period, flow/event ends not counted */
	uint64_t ignored_flows; /* since creation: no local end */
	uint64_t alarms; /* since creation */
};

struct p2p_hosts *p2p_hosts_new(const struct p2p_config *cfg);
void p2p_hosts_free(struct p2p_hosts *ph);

/* One exported flow, classified by the enrich stage (daemon/enrich.h,
 * with the same local prefixes as cfg->local); its time is rec->last_ms. */
void p2p_hosts_add_flow(struct p2p_hosts *ph, const struct flow_record *rec,
			const struct flow_class *fc);

/* One datapath event (EVENT_BITTORRENT); wall_ms is its time, converted
 * from the probe clock by the caller. */
void p2p_hosts_add_event(struct p2p_hosts *ph, const struct event *ev, uint64_t wall_ms);

/* Closes the period if now_ms is past its end, so quiet periods end too. */
void p2p_hosts_tick(struct p2p_hosts *ph, uint64_t now_ms);

/*
 * Reports of the current period's hosts, highest score first (then more
 * peers, then more flows), at most max of them. Returns how many written.
 */
size_t p2p_hosts_list(struct p2p_hosts *ph, struct p2p_host_report *out, size_t max);

void p2p_hosts_stats(const struct p2p_hosts *ph, struct p2p_stats *st);

/* Bytes allocated; fixed at creation whatever is fed in. */
size_t p2p_hosts_memory(const struct p2p_hosts *ph);

/* Writes {"type":"p2p_host",...} and a newline; 0, -ENOMEM or -EIO. */
int p2p_write_json(FILE *out, const struct p2p_host_report *r);

/* One log line: "P2P host 10.0.0.5, score 87 in the 5 min from ...: ...". */
void p2p_format_log(char *buf, size_t len, const struct p2p_host_report *r);

/* "handshake", "dht", ... as in the JSON events; "unknown" otherwise. */
const char *p2p_kind_name(unsigned int kind);

#endif /* P2P_HOSTS_H */
