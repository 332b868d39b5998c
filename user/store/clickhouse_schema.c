// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet's DDL.
 */
#include "store/clickhouse_schema.h"

static const char *const statements[] = {
	"CREATE DATABASE IF NOT EXISTS %1$s",
	"CREATE TABLE IF NOT EXISTS %1$s.flows (probe_id String, "
	"ip_version UInt8, src String, dst String, sport UInt16, dport UInt16, "
	"proto UInt8, packets UInt64, bytes UInt64, first DateTime, "
	"first_ms UInt16, last DateTime, last_ms UInt16, tcp_flags UInt8, "
	"ifindex UInt32, vlan UInt16, app String, end_reason String, tos UInt8, "
	"ttl_min UInt8, ttl_max UInt8, src_as UInt32, dst_as UInt32, "
	"src_local UInt8, dst_local UInt8) "
	"ENGINE = MergeTree() PARTITION BY toYYYYMMDD(last) "
	"ORDER BY (probe_id, last)",
	"CREATE TABLE IF NOT EXISTS %1$s.host_peers (probe_id String, "
	"host String, period_start DateTime, peer String) "
	"ENGINE = MergeTree() PARTITION BY toYYYYMMDD(period_start) "
	"ORDER BY (host, period_start)",
	"CREATE MATERIALIZED VIEW IF NOT EXISTS %1$s.host_peers_agg "
	"ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMMDD(period_start) "
	"ORDER BY (host, period_start) AS SELECT host, period_start, "
	"uniqState(peer) AS peers, groupUniqArrayState(probe_id) AS probes "
	"FROM %1$s.host_peers GROUP BY host, period_start",
	"CREATE TABLE IF NOT EXISTS %1$s.p2p_reports (probe_id String, "
	"time DateTime, host String, period_start DateTime, score UInt8, "
	"peers UInt64, bt_flows UInt64, line String) "
	"ENGINE = MergeTree() PARTITION BY toYYYYMMDD(time) ORDER BY (host, time)",
	"CREATE TABLE IF NOT EXISTS %1$s.events (probe_id String, time DateTime, "
	"time_ms UInt16, type String, host String, line String) "
	"ENGINE = MergeTree() PARTITION BY toYYYYMMDD(time) ORDER BY (type, time)",
	"CREATE TABLE IF NOT EXISTS %1$s.alarms (host String, "
	"period_start DateTime, period_end DateTime, peers UInt64, "
	"probes Array(String), score UInt8, max_score UInt8, bt_flows UInt64, "
	"reasons String, raised_by String, version UInt64) "
	"ENGINE = ReplacingMergeTree(version) ORDER BY (host, period_start)",
};

const char *const *clickhouse_schema(size_t *n)
{
	*n = sizeof(statements) / sizeof(statements[0]);
	return statements;
}
