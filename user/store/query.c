// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Range and comparison queries over host_minutes and host_hours.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "lib/log.h"
#include "lib/time_format.h"
#include "store/query.h"
#include "store/schema.h"

#define MAX_POINTS 240
#define LIST_MAX 100

struct store_reader {
	pthread_mutex_t lock;
	char *path;
	sqlite3 *db;
	bool logged;
};

struct store_reader *store_reader_new(const char *path)
{
	struct store_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->path = strdup(path);
	if (!r->path) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void store_reader_free(struct store_reader *r)
{
	if (!r)
		return;
	sqlite3_close(r->db);
	pthread_mutex_destroy(&r->lock);
	free(r->path);
	free(r);
}

uint64_t store_bucket_s(uint64_t from_ms, uint64_t to_ms)
{
	uint64_t span = to_ms > from_ms ? (to_ms - from_ms) / 1000 : 60;
	uint64_t b = (span + MAX_POINTS - 1) / MAX_POINTS;
	uint64_t unit = span > 2 * 86400 ? 3600 : 60;

	return b <= unit ? unit : (b + unit - 1) / unit * unit;
}

/* Minutes and hours as one relation of (t seconds, counts...): the rows
 * that start in [from, to), so that two adjacent periods never share a
 * row (a before/after comparison counts each minute once). */
#define RANGE_SQL                                                                   \
	"SELECT minute * 60 AS t, flows, bt_flows, resets, forged, packets_in, "    \
	"packets_out, bytes_in, bytes_out, peers, ports FROM host_minutes "         \
	"WHERE host = ?1 AND minute >= (?2 + 59) / 60 AND minute < (?3 + 59) / 60 " \
	"UNION ALL "                                                                \
	"SELECT hour * 3600 AS t, flows, bt_flows, resets, forged, packets_in, "    \
	"packets_out, bytes_in, bytes_out, peers, ports FROM host_hours "           \
	"WHERE host = ?1 AND hour >= (?2 + 3599) / 3600 AND hour < (?3 + 3599) / 3600"

static const char series_sql[] =
	"SELECT t / ?4 * ?4, sum(flows), hll_count(hll_merge_agg(peers)), "
	"sum(packets_in), sum(packets_out), sum(bytes_in), sum(bytes_out), "
	"sum(bt_flows), sum(resets), sum(forged) FROM (" RANGE_SQL ") "
	"GROUP BY t / ?4 ORDER BY 1";

static const char totals_sql[] =
	"SELECT count(*), sum(flows), hll_count(hll_merge_agg(peers)), "
	"sum(packets_in), sum(packets_out), sum(bytes_in), sum(bytes_out), "
	"sum(bt_flows), sum(resets), sum(forged), ports_merge_agg(ports) "
	"FROM (" RANGE_SQL ")";

static const char *const count_names[] = {
	"flows",     "peers",	 "packets_in", "packets_out", "bytes_in",
	"bytes_out", "bt_flows", "resets",     "forged",
};
#define N_COUNTS (sizeof(count_names) / sizeof(count_names[0]))

static bool ready(struct store_reader *r)
{
	if (!r->db && store_schema_open(r->path, true, &r->db)) {
		r->db = NULL;
		return false;
	}
	return true;
}

static sqlite3_stmt *prepare(struct store_reader *r, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(r->db, sql, -1, &s, NULL) != SQLITE_OK) {
		if (!r->logged)
			log_warn("history database %s: %s", r->path, sqlite3_errmsg(r->db));
		r->logged = true;
		return NULL;
	}
	return s;
}

static void bind_range(sqlite3_stmt *s, const char *addr, uint64_t from_ms, uint64_t to_ms)
{
	sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)((from_ms + 999) / 1000));
	sqlite3_bind_int64(s, 3, (sqlite3_int64)((to_ms + 999) / 1000));
}

static json_t *counts_json(sqlite3_stmt *s, int first)
{
	json_t *o = json_object();

	for (size_t i = 0; i < N_COUNTS; i++)
		json_object_set_new(o, count_names[i],
				    json_integer(sqlite3_column_int64(s, first + i)));
	return o;
}

static json_t *time_json(uint64_t ms)
{
	char buf[40];

	json_format_time(buf, sizeof(buf), ms);
	return json_string(buf);
}

/* Ports text "6/6881:120 17/53:4" as [{"proto", "port", "flows"}]. */
static json_t *ports_json(const char *text)
{
	json_t *a = json_array();
	unsigned int proto, port, flows;
	int used;

	while (text && sscanf(text, "%u/%u:%u%n", &proto, &port, &flows, &used) == 3) {
		json_array_append_new(a, json_pack("{s:i, s:i, s:i}", "proto", proto, "port", port,
						   "flows", flows));
		text += used;
	}
	return a;
}

/* Under the lock. */
static json_t *totals(struct store_reader *r, const char *addr, uint64_t from_ms, uint64_t to_ms)
{
	sqlite3_stmt *s = prepare(r, totals_sql);
	json_t *o = NULL;
	double secs = to_ms > from_ms ? (to_ms - from_ms) / 1000.0 : 1;

	if (!s)
		return NULL;
	bind_range(s, addr, from_ms, to_ms);
	if (sqlite3_step(s) == SQLITE_ROW) {
		o = counts_json(s, 1);
		json_object_set_new(o, "rows", json_integer(sqlite3_column_int64(s, 0)));
		json_object_set_new(o, "ports",
				    ports_json((const char *)sqlite3_column_text(s, 10)));
		json_object_set_new(o, "from", time_json(from_ms));
		json_object_set_new(o, "to", time_json(to_ms));
		/* Both directions, averaged over the whole period. */
		json_object_set_new(
			o, "throughput_bps",
			json_real(8.0 * (sqlite3_column_int64(s, 5) + sqlite3_column_int64(s, 6)) /
				  secs));
	}
	sqlite3_finalize(s);
	return o;
}

static json_t *series(struct store_reader *r, const char *addr, uint64_t from_ms, uint64_t to_ms,
		      uint64_t bucket_s)
{
	sqlite3_stmt *s = prepare(r, series_sql);
	json_t *a = json_array();

	if (!s)
		return a;
	bind_range(s, addr, from_ms, to_ms);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)bucket_s);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *p = counts_json(s, 1);

		json_object_set_new(p, "t", json_integer(sqlite3_column_int64(s, 0) * 1000));
		json_array_append_new(a, p);
	}
	sqlite3_finalize(s);
	return a;
}

/* The stored JSON lines of a host in the range, newest first. */
static json_t *lines(struct store_reader *r, const char *sql, const char *addr, uint64_t from_ms,
		     uint64_t to_ms)
{
	sqlite3_stmt *s = prepare(r, sql);
	json_t *a = json_array();

	if (!s)
		return a;
	sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)from_ms);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)to_ms);
	sqlite3_bind_int(s, 4, LIST_MAX);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *o = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);

		if (o)
			json_array_append_new(a, o);
	}
	sqlite3_finalize(s);
	return a;
}

json_t *store_host_range_json(struct store_reader *r, const char *addr, uint64_t from_ms,
			      uint64_t to_ms)
{
	uint64_t bucket_s = store_bucket_s(from_ms, to_ms);
	json_t *out = NULL, *t;

	pthread_mutex_lock(&r->lock);
	if (!ready(r))
		goto done;
	t = totals(r, addr, from_ms, to_ms);
	if (!t)
		goto done;
	out = json_pack("{s:s, s:o, s:o, s:I, s:s}", "addr", addr, "from", time_json(from_ms), "to",
			time_json(to_ms), "bucket_s", (json_int_t)bucket_s, "source", "store");
	json_object_set_new(out, "totals", t);
	json_object_set_new(out, "series", series(r, addr, from_ms, to_ms, bucket_s));
	json_object_set_new(out, "alarms",
			    lines(r,
				  "SELECT line FROM alarms WHERE host = ?1 AND time_ms >= ?2 AND "
				  "time_ms < ?3 ORDER BY time_ms DESC LIMIT ?4",
				  addr, from_ms, to_ms));
	json_object_set_new(out, "events",
			    lines(r,
				  "SELECT line FROM events WHERE host = ?1 AND time_ms >= ?2 AND "
				  "time_ms < ?3 ORDER BY time_ms DESC LIMIT ?4",
				  addr, from_ms, to_ms));
done:
	pthread_mutex_unlock(&r->lock);
	return out;
}

static json_t *ratio(json_t *before, json_t *after, const char *key)
{
	double b = json_number_value(json_object_get(before, key));
	double a = json_number_value(json_object_get(after, key));

	return b > 0 ? json_real(a / b) : json_null();
}

json_t *store_compare_json(struct store_reader *r, const char *addr, uint64_t a_from_ms,
			   uint64_t a_to_ms, uint64_t b_from_ms, uint64_t b_to_ms)
{
	json_t *before = NULL, *after = NULL, *out = NULL;

	pthread_mutex_lock(&r->lock);
	if (ready(r)) {
		before = totals(r, addr, a_from_ms, a_to_ms);
		after = totals(r, addr, b_from_ms, b_to_ms);
	}
	pthread_mutex_unlock(&r->lock);
	if (!before || !after) {
		json_decref(before);
		json_decref(after);
		return NULL;
	}
	out = json_pack("{s:s, s:{s:o, s:o, s:o}}", "addr", addr, "change", "flows",
			ratio(before, after, "flows"), "peers", ratio(before, after, "peers"),
			"throughput_bps", ratio(before, after, "throughput_bps"));
	json_object_set_new(out, "before", before);
	json_object_set_new(out, "after", after);
	return out;
}
