/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fleet store (docs/fleet.md): with --store clickhouse://..., every
 * exported flow record, every local end's peer per P2P period, every
 * JSON Lines event and each P2P host report go to ClickHouse, tagged
 * with --probe-id; after each P2P period, one alarm per host on the
 * evidence merged across all probes (ClickHouse's uniqState/uniqMerge of
 * the peers), naming the probes that saw it.
 *
 * Threads: the pipeline thread appends rows to in-memory buffers and never
 * waits for the network; each tick the buffers go to the sender thread,
 * which POSTs them (one INSERT per table) and keeps what failed for the
 * next try: ClickHouse down, slow or refusing delays only the sender, and
 * rows catch up when it returns. The buffers are bounded (--store-buffer,
 * bytes across both sides); rows beyond are dropped and counted, and
 * failures are logged once a minute.
 */
#ifndef FLEET_H
#define FLEET_H

#include <stdint.h>
#include "detect/prefixes.h"
#include "lib/flow_record.h"

#define FLEET_DEFAULT_BUFFER (64u << 20)
#define FLEET_PROBE_ID_MAX 64

struct fleet_config {
	const char *url; /* clickhouse://[USER@]HOST:PORT/DB */
	const char *password_file; /* NULL: no password */
	const char *probe_id; /* NULL: the host name */
	uint64_t period_ms; /* the P2P period (--p2p-period) */
	unsigned int threshold; /* the P2P threshold */
	uint64_t grace_ms; /* a period is judged this long after its end */
	size_t max_buffer; /* 0: FLEET_DEFAULT_BUFFER */
	const struct prefix_set *local; /* copied */
};

struct fleet_stats {
	uint64_t rows_sent;
	uint64_t rows_dropped; /* buffer full */
	uint64_t send_errors; /* requests that failed (retried) */
	uint64_t buffered; /* bytes waiting now */
	uint64_t alarms_judged; /* periods whose alarms this probe wrote */
};

struct fleet;

/* Checks the options before anything is attached: the URL's form, the
 * password file's first line, the probe id. 0 or -EINVAL (one line). */
int fleet_check(const struct fleet_config *cfg);

/* 0 or a negative errno (logged). The server need not be up. */
int fleet_open(struct fleet **out, const struct fleet_config *cfg);

/* Pipeline thread. */
void fleet_add_flow(struct fleet *f, const struct flow_record *rec, const struct flow_class *fc);
void fleet_add_event_line(struct fleet *f, const char *line, size_t len, uint64_t now_ms);
void fleet_tick(struct fleet *f, uint64_t now_ms);
void fleet_get_stats(struct fleet *f, struct fleet_stats *out);

/* One last try to send what is buffered (bounded by the request timeout),
 * then stop; what could not be sent is counted as dropped. */
void fleet_close(struct fleet *f);

#endif /* FLEET_H */
