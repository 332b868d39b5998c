// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Batches into the database in one transaction; retention and rollup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sqlite3.h>
#include "lib/json_output.h"
#include "lib/log.h"
#include "store/schema.h"
#include "store/writer.h"

#define MINUTE_MS 60000ull
#define HOUR_MS (60 * MINUTE_MS)

#define MERGE_COUNTS                                                                \
	"flows = flows + excluded.flows, bt_flows = bt_flows + excluded.bt_flows, " \
	"resets = resets + excluded.resets, forged = forged + excluded.forged, "    \
	"packets_in = packets_in + excluded.packets_in, "                           \
	"packets_out = packets_out + excluded.packets_out, "                        \
	"bytes_in = bytes_in + excluded.bytes_in, "                                 \
	"bytes_out = bytes_out + excluded.bytes_out, "                              \
	"peers = hll_merge(peers, excluded.peers), "                                \
	"ports = ports_merge(ports, excluded.ports)"

#define COLUMNS                                                      \
	"flows, bt_flows, resets, forged, packets_in, packets_out, " \
	"bytes_in, bytes_out, peers, ports"

static const char upsert_minute_sql[] = "INSERT INTO host_minutes(host, minute, " COLUMNS ") "
					"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
					"ON CONFLICT(host, minute) DO UPDATE SET " MERGE_COUNTS;

/* WHERE is required before ON CONFLICT in INSERT ... SELECT (SQLite's
 * parser would otherwise read ON as a join's). */
static const char rollup_sql[] =
	"INSERT INTO host_hours(host, hour, " COLUMNS ") "
	"SELECT host, minute / 60, sum(flows), sum(bt_flows), sum(resets), "
	"sum(forged), sum(packets_in), sum(packets_out), sum(bytes_in), "
	"sum(bytes_out), hll_merge_agg(peers), ports_merge_agg(ports) "
	"FROM host_minutes WHERE minute < ?1 GROUP BY host, minute / 60 "
	"ON CONFLICT(host, hour) DO UPDATE SET " MERGE_COUNTS ";";

enum {
	ST_MINUTE,
	ST_EVENT,
	ST_ALARM,
	ST_CURVE,
	ST_ROLLUP,
	ST_ROLLED,
	ST_DEL_MIN,
	ST_DEL_HOUR,
	ST_DEL_EVENTS,
	ST_DEL_ALARMS,
	ST_DEL_CURVE,
	ST__MAX
};

static const char *const statements[ST__MAX] = {
	[ST_MINUTE] = upsert_minute_sql,
	[ST_EVENT] = "INSERT INTO events(time_ms, type, host, line) VALUES(?1, ?2, ?3, ?4)",
	[ST_ALARM] = "INSERT INTO alarms(time_ms, host, score, peers, line) "
		     "VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_CURVE] = "INSERT INTO curve(time_ms, interface, utilisation, active_flows) "
		     "VALUES(?1, ?2, ?3, ?4)",
	[ST_ROLLUP] = rollup_sql,
	[ST_ROLLED] = "DELETE FROM host_minutes WHERE minute < ?1",
	[ST_DEL_MIN] = "DELETE FROM host_minutes WHERE minute < ?1",
	[ST_DEL_HOUR] = "DELETE FROM host_hours WHERE hour < ?1",
	[ST_DEL_EVENTS] = "DELETE FROM events WHERE time_ms < ?1",
	[ST_DEL_ALARMS] = "DELETE FROM alarms WHERE time_ms < ?1",
	[ST_DEL_CURVE] = "DELETE FROM curve WHERE time_ms < ?1",
};

struct store_writer {
	sqlite3 *db;
	sqlite3_stmt *st[ST__MAX];
	struct store_writer_config cfg;
};

void store_writer_close(struct store_writer *w)
{
	if (!w)
		return;
	for (int i = 0; i < ST__MAX; i++)
		sqlite3_finalize(w->st[i]);
	sqlite3_close(w->db);
	free(w);
}

int store_writer_open(struct store_writer **out, const struct store_writer_config *cfg)
{
	struct store_writer *w = calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	rc = store_schema_open(cfg->path, false, &w->db);
	if (rc) {
		free(w);
		return rc;
	}
	for (int i = 0; i < ST__MAX; i++)
		if (sqlite3_prepare_v2(w->db, statements[i], -1, &w->st[i], NULL)) {
			log_error("history database %s: %s (a build against an "
				  "SQLite older than 3.24?)",
				  cfg->path, sqlite3_errmsg(w->db));
			store_writer_close(w);
			return -EIO;
		}
	*out = w;
	return 0;
}

static int step(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int put_minute(struct store_writer *w, const struct store_minute *r)
{
	sqlite3_stmt *s = w->st[ST_MINUTE];
	uint8_t peers[HLL_BLOB_MAX];
	char host[64], ports[TOP_PORTS_TEXT_MAX];
	const uint64_t v[8] = { r->flows,      r->bt_flows,    r->resets,   r->forged,
				r->packets_in, r->packets_out, r->bytes_in, r->bytes_out };

	json_format_addr(host, sizeof(host), r->addr, r->ip_version);
	sqlite3_bind_text(s, 1, host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r->minute);
	for (int i = 0; i < 8; i++)
		sqlite3_bind_int64(s, 3 + i, (sqlite3_int64)v[i]);
	if (!hll_empty(&r->peers))
		sqlite3_bind_blob(s, 11, peers, hll_encode(&r->peers, peers), SQLITE_TRANSIENT);
	top_ports_format(&r->ports, ports);
	if (ports[0])
		sqlite3_bind_text(s, 12, ports, -1, SQLITE_TRANSIENT);
	return step(s);
}

static const char *str_field(json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static int put_event(struct store_writer *w, const struct store_event *e)
{
	json_t *o = json_loads(e->line, 0, NULL);
	const char *type = str_field(o, "type"), *host = str_field(o, "host");
	sqlite3_stmt *s;
	int rc = 0;

	if (!type) {
		json_decref(o);
		return 0; /* not an event: nothing the pages could show */
	}
	if (!host)
		host = str_field(o, "src");
	if (!strcmp(type, "curve")) {
		s = w->st[ST_CURVE];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)e->time_ms);
		sqlite3_bind_text(s, 2, str_field(o, "interface") ?: "", -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 3, json_number_value(json_object_get(o, "utilisation")));
		sqlite3_bind_double(s, 4, json_number_value(json_object_get(o, "active_flows")));
		rc = step(s);
	} else if (!strcmp(type, "p2p_host") && host &&
		   json_integer_value(json_object_get(o, "score")) >= w->cfg.p2p_threshold) {
		s = w->st[ST_ALARM];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)e->time_ms);
		sqlite3_bind_text(s, 2, host, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, json_integer_value(json_object_get(o, "score")));
		sqlite3_bind_int64(s, 4, json_integer_value(json_object_get(o, "peers")));
		sqlite3_bind_text(s, 5, e->line, -1, SQLITE_STATIC);
		rc = step(s);
	} else {
		s = w->st[ST_EVENT];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)e->time_ms);
		sqlite3_bind_text(s, 2, type, -1, SQLITE_STATIC);
		if (host)
			sqlite3_bind_text(s, 3, host, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, e->line, -1, SQLITE_STATIC);
		rc = step(s);
	}
	json_decref(o);
	return rc;
}

static int begin(struct store_writer *w)
{
	return sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ? -EIO : 0;
}

static int end(struct store_writer *w, int rc, const char **why)
{
	if (!rc && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL))
		rc = -EIO;
	if (rc) {
		*why = sqlite3_errmsg(w->db);
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

int store_writer_commit(struct store_writer *w, const struct store_batch *b, const char **why)
{
	int rc = begin(w);

	for (size_t i = 0; !rc && i < b->n_rows; i++)
		rc = put_minute(w, &b->rows[i]);
	for (size_t i = 0; !rc && i < b->n_events; i++)
		rc = put_event(w, &b->events[i]);
	return end(w, rc, why);
}

static int run_with(struct store_writer *w, int st, uint64_t v)
{
	sqlite3_bind_int64(w->st[st], 1, (sqlite3_int64)v);
	return step(w->st[st]);
}

int store_writer_upkeep(struct store_writer *w, uint64_t now_ms, const char **why)
{
	uint64_t keep = now_ms > w->cfg.retention_ms ? now_ms - w->cfg.retention_ms : 0;
	uint64_t roll = now_ms > w->cfg.rollup_after_ms ? now_ms - w->cfg.rollup_after_ms : 0;
	/* Whole hours only: an hour's row is complete once written. */
	uint64_t roll_minute = roll / HOUR_MS * 60;
	int rc = begin(w);

	if (!rc)
		rc = run_with(w, ST_ROLLUP, roll_minute);
	if (!rc)
		rc = run_with(w, ST_ROLLED, roll_minute);
	if (!rc)
		rc = run_with(w, ST_DEL_MIN, keep / MINUTE_MS);
	if (!rc)
		rc = run_with(w, ST_DEL_HOUR, keep / HOUR_MS);
	if (!rc)
		rc = run_with(w, ST_DEL_EVENTS, keep);
	if (!rc)
		rc = run_with(w, ST_DEL_ALARMS, keep);
	if (!rc)
		rc = run_with(w, ST_DEL_CURVE, keep);
	return end(w, rc, why);
}
