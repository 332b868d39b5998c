/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fleet's tables in ClickHouse (docs/fleet.md describes them),
 * created on first use with IF NOT EXISTS, so any number of probes may
 * start at once. Only SQL that both Debian's clickhouse-server 18.16 and
 * current releases accept: MergeTree() with PARTITION BY and ORDER BY,
 * AggregatingMergeTree behind a materialized view, ReplacingMergeTree,
 * uniqState/uniqMerge, groupUniqArrayState/groupUniqArrayMerge, ANY LEFT
 * JOIN ... USING, JSONEachRow; DateTime (no DateTime64 in 18.16: the
 * milliseconds are a column of their own).
 *
 *   flows           every exported flow record, the JSON Lines contract's
 *                   names as columns, tagged probe_id
 *   host_peers      (probe_id, host, period_start, peer) for every local end
 *   host_peers_agg  per host and P2P period: uniqState(peer) and the
 *                   probes that saw it, merged across probes
 *   p2p_reports     each probe's P2P host reports (its local alarms)
 *   events          every other JSON Lines event, tagged probe_id
 *   alarms          one row per host and period, on merged evidence
 *                   (ReplacingMergeTree: read with FINAL)
 */
#ifndef CLICKHOUSE_SCHEMA_H
#define CLICKHOUSE_SCHEMA_H

#include <stddef.h>

/* The statements, in order, for database db; n set. Each is a format
 * with %1$s for the database. */
const char *const *clickhouse_schema(size_t *n);

#endif /* CLICKHOUSE_SCHEMA_H */
