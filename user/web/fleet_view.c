// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet's views: ClickHouse queries (FORMAT JSON) reshaped into the
 * dashboard's JSON.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/json_output.h"
#include "lib/time_format.h"
#include "store/clickhouse_http.h"
#include "web/fleet_view.h"

#define WINDOW_S 600 /* "now" on the overview: the last 10 minutes */
#define HOST_SPAN_S 3600 /* a host's page: the last hour */
#define TOP 20
#define SQL_MAX 4096

struct fleet_view {
	pthread_mutex_t lock;
	struct clickhouse_http *http;
	char db[CH_NAME_MAX];
	char why[300];
};

struct fleet_view *fleet_view_new(const struct clickhouse_url *url, const char *password)
{
	struct fleet_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->http = clickhouse_http_new(url, password);
	if (!v->http) {
		free(v);
		return NULL;
	}
	snprintf(v->db, sizeof(v->db), "%s", url->db);
	pthread_mutex_init(&v->lock, NULL);
	return v;
}

void fleet_view_free(struct fleet_view *v)
{
	if (!v)
		return;
	clickhouse_http_free(v->http);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* The "data" rows of a FORMAT JSON answer; NULL on failure (v->why). */
static __attribute__((format(printf, 2, 3))) json_t *query(struct fleet_view *v, const char *fmt,
							   ...)
{
	char sql[SQL_MAX];
	char *answer = NULL;
	json_t *o, *data;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	strncat(sql, " FORMAT JSON", sizeof(sql) - strlen(sql) - 1);
	rc = clickhouse_http_run(v->http, sql, NULL, 0, &answer);
	if (rc) {
		snprintf(v->why, sizeof(v->why), "ClickHouse: %s", clickhouse_http_why(v->http));
		return NULL;
	}
	o = json_loads(answer, 0, NULL);
	free(answer);
	data = json_incref(json_object_get(o, "data"));
	json_decref(o);
	if (!json_is_array(data)) {
		json_decref(data);
		snprintf(v->why, sizeof(v->why), "ClickHouse: an answer that is not FORMAT JSON");
		return NULL;
	}
	return data;
}

/* ClickHouse quotes 64-bit integers in JSON. */
static json_int_t num(json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);

	if (json_is_string(x))
		return strtoll(json_string_value(x), NULL, 10);
	return json_is_number(x) ? (json_int_t)json_number_value(x) : 0;
}

static json_t *time_json(uint64_t ms)
{
	char buf[40];

	json_format_time(buf, sizeof(buf), ms);
	return json_string(buf);
}

static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n && n <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_.-") == n;
}

/* Every local end of every flow as (host, peer), with the probe's id:
 * the relation the host views group. */
#define ENDS_SQL(db)                                                                      \
	"(SELECT probe_id, arrayJoin(arrayFilter(x -> x.1 != '', "                        \
	"[(if(src_local = 1, src, ''), dst), (if(dst_local = 1, dst, ''), src)])) AS e, " \
	"e.1 AS host, e.2 AS peer, src, dst, sport, dport, proto, packets, bytes, "       \
	"last, last_ms, app FROM " db ".flows WHERE last >= now() - %d %s)"

static void router_filter(char *buf, size_t len, const char *router)
{
	if (router)
		snprintf(buf, len, "AND probe_id = '%s'", router);
	else
		buf[0] = 0;
}

static const char *fail(struct fleet_view *v, const char **why)
{
	*why = v->why;
	return NULL;
}

static json_t *summary(json_t *row, json_int_t score)
{
	return json_pack(
		"{s:s?, s:I, s:i, s:I, s:I, s:I, s:i, s:I, s:o, s:O}", "addr",
		json_string_value(json_object_get(row, "host")), "flows", num(row, "flows"),
		"live_flows", 0, "peers", num(row, "peers"), "bytes", num(row, "bytes"), "packets",
		num(row, "packets"), "resets", 0, "p2p_score", score, "last",
		time_json((uint64_t)num(row, "last_s") * 1000), "routers",
		json_object_get(row, "routers") ? json_object_get(row, "routers") : json_null());
}

static const char *sort_key;

static int by_key(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, sort_key));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, sort_key));

	return (y > x) - (y < x);
}

/* The top TOP by key, from all (not thread-safe: under v->lock). */
static json_t *top_by(json_t *all, const char *key)
{
	size_t n = json_array_size(all);
	json_t **items = calloc(n + 1, sizeof(*items)), *out = json_array();

	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(all, i);
	sort_key = key;
	qsort(items, n, sizeof(*items), by_key);
	for (size_t i = 0; i < n && i < TOP; i++)
		json_array_append(out, items[i]);
	free(items);
	return out;
}

static json_t *alarm_json(json_t *r)
{
	json_t *reasons = json_array();

	json_array_append_new(reasons,
			      json_string(json_string_value(json_object_get(r, "reasons")) ?: ""));
	return json_pack("{s:s?, s:I, s:b, s:I, s:I, s:o, s:o, s:O}", "addr",
			 json_string_value(json_object_get(r, "host")), "score", num(r, "score"),
			 "alarmed", 1, "peers", num(r, "peers"), "bt_flows", num(r, "bt_flows"),
			 "period_start", time_json((uint64_t)num(r, "period_start") * 1000),
			 "reasons", reasons, "routers", json_object_get(r, "probes"));
}

static json_t *alarms(struct fleet_view *v, const char *host, const char *router)
{
	char h[96] = "", r[96] = "";

	if (host)
		snprintf(h, sizeof(h), "AND host = '%s'", host);
	if (router)
		snprintf(r, sizeof(r), "AND has(probes, '%s')", router);
	return query(v,
		     "SELECT host, score, peers, bt_flows, reasons, probes, "
		     "toUnixTimestamp(period_start) AS period_start FROM %s.alarms "
		     "FINAL WHERE period_start >= now() - %d %s %s "
		     "ORDER BY period_start DESC LIMIT 100",
		     v->db, HOST_SPAN_S, h, r);
}

json_t *fleet_hosts_json(struct fleet_view *v, const char *router, const char **why)
{
	json_t *rows, *al, *routers, *all, *bt, *out = NULL;
	char rf[96];
	size_t i;
	json_t *r;

	if (router && !id_ok(router)) {
		*why = "router: a probe id (letters, digits, _ . -)";
		return NULL;
	}
	router_filter(rf, sizeof(rf), router);
	pthread_mutex_lock(&v->lock);
	rows = query(v,
		     "SELECT host, count() AS flows, uniq(peer) AS peers, "
		     "sum(bytes) AS bytes, sum(packets) AS packets, "
		     "toUnixTimestamp(max(last)) AS last_s, groupUniqArray(probe_id) AS routers "
		     "FROM " ENDS_SQL("%s") " GROUP BY host ORDER BY flows DESC LIMIT 1000",
		     v->db, WINDOW_S, rf);
	al = rows ? alarms(v, NULL, router) : NULL;
	routers = al ? query(v,
			     "SELECT DISTINCT probe_id FROM %s.flows WHERE "
			     "last >= now() - 86400 ORDER BY probe_id",
			     v->db) :
		       NULL;
	if (!routers) {
		fail(v, why);
		goto done;
	}
	all = json_array();
	json_array_foreach (rows, i, r) {
		json_int_t score = 0;
		size_t k;
		json_t *a;

		json_array_foreach (al, k, a)
			if (json_equal(json_object_get(a, "host"), json_object_get(r, "host")) &&
			    num(a, "score") > score)
				score = num(a, "score");
		json_array_append_new(all, summary(r, score));
	}
	bt = json_array();
	json_array_foreach (al, i, r)
		json_array_append_new(bt, alarm_json(r));
	out = json_pack("{s:o, s:i, s:I, s:I, s:i, s:b, s:o, s:o, s:o, s:o, s:o}", "now",
			time_json((uint64_t)time(NULL) * 1000), "window_s", WINDOW_S, "hosts",
			(json_int_t)json_array_size(all), "active_hosts",
			(json_int_t)json_array_size(all), "live_flows", 0, "fleet", 1, "by_flows",
			top_by(all, "flows"), "by_peers", top_by(all, "peers"), "by_bytes",
			top_by(all, "bytes"), "bittorrent", bt, "routers", json_array());
	json_array_foreach (routers, i, r)
		json_array_append(json_object_get(out, "routers"), json_object_get(r, "probe_id"));
	json_decref(all);
done:
	pthread_mutex_unlock(&v->lock);
	json_decref(rows);
	json_decref(al);
	json_decref(routers);
	return out;
}

static json_t *counts(json_t *rows, const char *a, const char *b)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach (rows, i, r)
		json_array_append_new(out, json_pack("{s:O, s:I, s:I}", a, json_object_get(r, a),
						     "flows", num(r, "flows"), b, num(r, b)));
	return out;
}

json_t *fleet_host_json(struct fleet_view *v, const char *addr, const char *router,
			const char **why)
{
	json_t *series = NULL, *per = NULL, *ports = NULL, *peers = NULL;
	json_t *flows = NULL, *al = NULL, *out = NULL, *tot = NULL, *r, *arr;
	char host[64], rf[96];
	size_t i;

	if (!json_canonical_addr(addr, host)) {
		*why = "not an IPv4 or IPv6 address";
		return NULL;
	}
	if (router && !id_ok(router)) {
		*why = "router: a probe id (letters, digits, _ . -)";
		return NULL;
	}
	router_filter(rf, sizeof(rf), router);
	pthread_mutex_lock(&v->lock);
#define WHERE_HOST " WHERE host = '%s'"
	tot = query(v,
		    "SELECT count() AS flows, uniq(peer) AS peers, sum(bytes) AS bytes, "
		    "sum(packets) AS packets, toUnixTimestamp(max(last)) AS last_s, "
		    "toUnixTimestamp(min(last)) AS first_s, groupUniqArray(probe_id) AS routers "
		    "FROM " ENDS_SQL("%s") WHERE_HOST,
		    v->db, HOST_SPAN_S, rf, host);
	series = tot ? query(v,
			     "SELECT toUnixTimestamp(toStartOfMinute(last)) * 1000 AS t, "
			     "count() AS flows, uniq(peer) AS peers, sum(packets) AS packets, "
			     "sum(bytes) AS bytes, countIf(app = 'bittorrent') AS bt_flows "
			     "FROM " ENDS_SQL("%s") WHERE_HOST " GROUP BY t ORDER BY t",
			     v->db, HOST_SPAN_S, rf, host) :
		       NULL;
	per = series ? query(v,
			     "SELECT probe_id AS router, count() AS flows, "
			     "uniq(peer) AS peers, sum(bytes) AS bytes FROM " ENDS_SQL("%s")
				     WHERE_HOST " GROUP BY router ORDER BY router",
			     v->db, HOST_SPAN_S, rf, host) :
		       NULL;
	ports = per ? query(v,
			    "SELECT proto, least(sport, dport) AS port, count() AS flows "
			    "FROM " ENDS_SQL("%s") WHERE_HOST " GROUP BY proto, port "
							      "ORDER BY flows DESC LIMIT 12",
			    v->db, HOST_SPAN_S, rf, host) :
		      NULL;
	peers = ports ? query(v,
			      "SELECT peer AS addr, count() AS flows, sum(bytes) AS bytes "
			      "FROM " ENDS_SQL("%s") WHERE_HOST " GROUP BY addr "
								"ORDER BY flows DESC LIMIT 12",
			      v->db, HOST_SPAN_S, rf, host) :
			NULL;
	flows = peers ? query(v,
			      "SELECT probe_id AS router, src, dst, sport, dport, proto, "
			      "packets, bytes, toUnixTimestamp(last) * 1000 + last_ms AS last_ts, app "
			      "FROM " ENDS_SQL("%s") WHERE_HOST " ORDER BY last_ts DESC LIMIT 100",
			      v->db, HOST_SPAN_S, rf, host) :
			NULL;
	al = flows ? alarms(v, host, router) : NULL;
	if (!al) {
		fail(v, why);
		goto done;
	}
	r = json_array_get(tot, 0);
	if (!num(r, "flows")) {
		out = json_pack("{s:b, s:s, s:b, s:b}", "known", 0, "addr", host, "local", 1,
				"fleet", 1);
		goto done;
	}
	out = json_pack("{s:b, s:b, s:s, s:o, s:o, s:i, s:i, s:i, s:i}", "known", 1, "fleet", 1,
			"addr", host, "first", time_json((uint64_t)num(r, "first_s") * 1000),
			"last", time_json((uint64_t)num(r, "last_s") * 1000), "resets", 0,
			"forged_resets", 0, "window_s", HOST_SPAN_S, "bucket_s", 60);
	json_object_set_new(
		out, "now",
		summary(r, al && json_array_size(al) ? num(json_array_get(al, 0), "score") : 0));
	json_object_set_new(json_object_get(out, "now"), "addr", json_string(host));
	json_object_set_new(out, "history", json_deep_copy(json_object_get(out, "now")));
	arr = json_array();
	json_array_foreach (series, i, r)
		json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "t",
						     num(r, "t"), "flows", num(r, "flows"), "peers",
						     num(r, "peers"), "packets", num(r, "packets"),
						     "bytes", num(r, "bytes"), "bt_flows",
						     num(r, "bt_flows"), "resets", 0));
	json_object_set_new(out, "series", arr);
	arr = json_array();
	json_array_foreach (per, i, r)
		json_array_append_new(arr, json_pack("{s:O, s:I, s:I, s:I}", "router",
						     json_object_get(r, "router"), "flows",
						     num(r, "flows"), "peers", num(r, "peers"),
						     "bytes", num(r, "bytes")));
	json_object_set_new(out, "routers", arr);
	arr = json_array();
	json_array_foreach (ports, i, r)
		json_array_append_new(arr,
				      json_pack("{s:I, s:I, s:I}", "proto", num(r, "proto"), "port",
						num(r, "port"), "flows", num(r, "flows")));
	json_object_set_new(out, "ports", arr);
	json_object_set_new(out, "peers", counts(peers, "addr", "bytes"));
	json_object_set_new(out, "protocols", json_object());
	arr = json_array();
	json_array_foreach (flows, i, r)
		json_array_append_new(
			arr,
			json_pack("{s:O, s:O, s:O, s:I, s:I, s:I, s:I, s:I, s:o, s:s?}", "router",
				  json_object_get(r, "router"), "src", json_object_get(r, "src"),
				  "dst", json_object_get(r, "dst"), "sport", num(r, "sport"),
				  "dport", num(r, "dport"), "proto", num(r, "proto"), "packets",
				  num(r, "packets"), "bytes", num(r, "bytes"), "last",
				  time_json((uint64_t)num(r, "last_ts")), "app",
				  json_string_value(json_object_get(r, "app"))));
	json_object_set_new(out, "flows", arr);
	json_object_set_new(out, "live", json_array());
	arr = json_array();
	json_array_foreach (al, i, r)
		json_array_append_new(arr, alarm_json(r));
	json_object_set_new(out, "alarms", arr);
	json_object_set_new(out, "events", json_array());
	json_object_set_new(out, "p2p",
			    json_array_size(arr) ? json_incref(json_array_get(arr, 0)) :
						   json_null());
done:
	pthread_mutex_unlock(&v->lock);
	json_decref(tot);
	json_decref(series);
	json_decref(per);
	json_decref(ports);
	json_decref(peers);
	json_decref(flows);
	json_decref(al);
	return out;
}

/* Stored lines, each parsed and tagged with its router. */
static json_t *lines_of(json_t *rows)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach (rows, i, r) {
		json_t *o =
			json_loads(json_string_value(json_object_get(r, "line")) ?: "", 0, NULL);

		if (!o)
			continue;
		json_object_set(o, "router", json_object_get(r, "probe_id"));
		json_array_append_new(out, o);
	}
	return out;
}

json_t *fleet_events_json(struct fleet_view *v, const char *type, const char **why)
{
	json_t *rows, *out = NULL;

	if (type && !id_ok(type)) {
		*why = "type: a word";
		return NULL;
	}
	pthread_mutex_lock(&v->lock);
	rows = type ? query(v,
			    "SELECT probe_id, line FROM %s.events WHERE type = '%s' "
			    "ORDER BY time DESC LIMIT 200",
			    v->db, type) :
		      query(v,
			    "SELECT probe_id, line FROM %s.events WHERE type != 'curve' "
			    "ORDER BY time DESC LIMIT 200",
			    v->db);
	if (rows)
		out = json_pack("{s:o}", "events", lines_of(rows));
	else
		fail(v, why);
	pthread_mutex_unlock(&v->lock);
	json_decref(rows);
	return out;
}

json_t *fleet_curve_json(struct fleet_view *v, const char *router, const char **why)
{
	json_t *rows, *out = NULL, *pts, *r;
	char rf[96];
	size_t i;

	if (router && !id_ok(router)) {
		*why = "router: a probe id";
		return NULL;
	}
	router_filter(rf, sizeof(rf), router);
	pthread_mutex_lock(&v->lock);
	rows = query(v,
		     "SELECT probe_id, toUnixTimestamp(time) * 1000 + time_ms AS t, line "
		     "FROM %s.events WHERE type = 'curve' AND time >= now() - %d %s "
		     "ORDER BY time LIMIT 3600",
		     v->db, HOST_SPAN_S, rf);
	if (!rows) {
		fail(v, why);
		goto done;
	}
	/* One curve per router and interface: "router1/eth0". */
	pts = json_array();
	json_array_foreach (rows, i, r) {
		json_t *o =
			json_loads(json_string_value(json_object_get(r, "line")) ?: "", 0, NULL);
		char name[160];

		if (!o)
			continue;
		snprintf(name, sizeof(name), "%s/%s",
			 json_string_value(json_object_get(r, "probe_id")) ?: "",
			 json_string_value(json_object_get(o, "interface")) ?: "");
		json_array_append_new(
			pts, json_pack("{s:I, s:s, s:O, s:O}", "t", num(r, "t"), "interface", name,
				       "utilisation", json_object_get(o, "utilisation"),
				       "active_flows", json_object_get(o, "active_flows")));
		json_decref(o);
	}
	out = json_pack("{s:o, s:n}", "samples", pts, "knee");
done:
	pthread_mutex_unlock(&v->lock);
	json_decref(rows);
	return out;
}

json_t *fleet_stats_json(struct fleet_view *v, const char **why)
{
	json_t *rows, *al = NULL, *out = NULL, *r;

	pthread_mutex_lock(&v->lock);
	rows = query(v,
		     "SELECT count() AS flows, sum(packets) AS packets, "
		     "sum(bytes) AS bytes, uniq(probe_id) AS routers FROM %s.flows "
		     "WHERE last >= now() - %d",
		     v->db, HOST_SPAN_S);
	al = rows ? query(v,
			  "SELECT count() AS alarms FROM %s.alarms FINAL WHERE "
			  "period_start >= now() - %d",
			  v->db, HOST_SPAN_S) :
		    NULL;
	if (!al) {
		fail(v, why);
		goto done;
	}
	r = json_array_get(rows, 0);
	/* The health list's fields, summed over the fleet's last hour; what
	 * only a probe knows (its table, its losses) is on its own /metrics. */
	out = json_pack("{s:o, s:{s:I, s:I, s:i, s:i}, s:{s:I, s:i, s:i, s:i, s:i, s:I},"
			" s:I, s:f, s:b, s:I}",
			"now", time_json((uint64_t)time(NULL) * 1000), "datapath", "packets",
			num(r, "packets"), "bytes", num(r, "bytes"), "uncounted_packets", 0,
			"events_lost", 0, "daemon", "flows_exported", num(r, "flows"),
			"flows_in_cache", 0, "export_errors", 0, "resets_decided", 0,
			"resets_forged", 0, "p2p_alarms", num(json_array_get(al, 0), "alarms"),
			"hosts", (json_int_t)0, "table_fill", 0.0, "fleet", 1, "routers",
			num(r, "routers"));
done:
	pthread_mutex_unlock(&v->lock);
	json_decref(rows);
	json_decref(al);
	return out;
}
