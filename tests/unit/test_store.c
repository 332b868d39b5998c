// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The embedded history against a real SQLite file in a temporary
 * directory: HyperLogLog registers estimate and merge (a peer seen in two
 * minutes counts once, not twice), the blob and the ports text survive a
 * round trip, what a store wrote is there after it is closed and opened
 * again (a restart), ranges and before/after comparisons add up exactly,
 * minutes roll up into hours with peers merged, retention deletes, a full
 * batch and a locked database are counted as lost without stopping the
 * feeding side, and the API answers 200/400/404 on the stored views.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>
#include "daemon/enrich.h"
#include "store/batch.h"
#include "store/hll.h"
#include "store/query.h"
#include "store/schema.h"
#include "store/state_dir.h"
#include "store/store.h"
#include "store/top_ports.h"
#include "store/writer.h"
#include "web/history.h"
#include "web/http_api.h"
#include "web/time_arg.h"
#include "flow_fixture.h"

#define MIN_MS 60000ull
/* hll_peer_hash(4, 192.0.2.1), pinned: stored blobs depend on it. */
#define HLL_HASH_192_0_2_1 0x43f233944bccb969ull
#define T0 (1700000100000ull / MIN_MS * MIN_MS) /* on a minute */

static char dir[64];
static struct prefix_set local;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return prefix_set_parse(&local, "10.0.1.0/24", "--local");
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void add_flow(struct store *s, struct flow_record r)
{
	struct enrich_config ec = { .local = &local };
	struct flow_class fc;

	enrich_flow(&ec, &r, &fc);
	store_add_flow(s, &r, &fc);
}

static struct store *open_store(const char *sub, size_t max_rows)
{
	char path[128];
	struct store_config cfg = { .state_dir = path,
				    .local = &local,
				    .p2p_threshold = 50,
				    .max_rows = max_rows };
	struct store *s;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_int_equal(store_open(&s, &cfg), 0);
	return s;
}

static json_int_t int_at(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* 10.0.1.2 talks to peers [first, first + n) of 45.0.x.y, from port
 * 40000 to 6881, 300 bytes out, in minute t; each peer answers with 100
 * bytes back. */
static void feed_swarm(struct store *s, int first, int n, uint64_t t)
{
	for (int i = first; i < first + n; i++) {
		add_flow(s, tcp4_flow(IP4(10, 0, 1, 2), IP4(45, 0, i / 256, i % 256), 40000, 6881,
				      300, t));
		add_flow(s, tcp4_flow(IP4(45, 0, i / 256, i % 256), IP4(10, 0, 1, 2), 6881, 40000,
				      100, t));
	}
}

/* --- the pieces ---------------------------------------------------------- */

static void hll_estimates_and_merges(void **state)
{
	struct hll a = {}, b = {}, c = {};
	uint8_t blob[HLL_BLOB_MAX], addr[16];
	size_t len;

	(void)state;
	for (uint32_t i = 0; i < 1000; i++) {
		put4(addr, IP4(45, 0, 0, 0) + i);
		hll_add(i < 600 ? &a : &b, hll_peer_hash(4, addr));
		if (i >= 400) /* overlaps a by 200 */
			hll_add(&b, hll_peer_hash(4, addr));
	}
	/* 600 and 600 distinct, 1000 in the union: within 3 standard errors. */
	assert_in_range(hll_estimate(&a), 600 * 0.8, 600 * 1.2);
	assert_in_range(hll_estimate(&b), 600 * 0.8, 600 * 1.2);
	hll_merge(&c, &a);
	hll_merge(&c, &b);
	assert_in_range(hll_estimate(&c), 1000 * 0.8, 1000 * 1.2);

	/* Small sets: linear counting is near exact; the blob is sparse. */
	memset(&a, 0, sizeof(a));
	for (uint32_t i = 0; i < 20; i++) {
		put4(addr, IP4(192, 0, 2, i));
		hll_add(&a, hll_peer_hash(4, addr));
	}
	assert_in_range(hll_estimate(&a), 19, 21);
	len = hll_encode(&a, blob);
	assert_true(len <= 1 + 2 * 20);
	memset(&b, 0, sizeof(b));
	assert_int_equal(hll_merge_blob(&b, blob, len), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	/* Dense round trip. */
	len = hll_encode(&c, blob);
	assert_int_equal(len, HLL_BLOB_MAX);
	memset(&b, 0, sizeof(b));
	assert_int_equal(hll_merge_blob(&b, blob, len), 0);
	assert_memory_equal(&c, &b, sizeof(c));

	/* Something no encoder wrote is refused, not read as registers. */
	blob[0] = 7;
	assert_int_equal(hll_merge_blob(&b, blob, len), -EINVAL);
	blob[0] = 0;
	assert_int_equal(hll_merge_blob(&b, blob, 4), -EINVAL);
}

static void hll_hash_is_fixed(void **state)
{
	uint8_t addr[16];
	uint64_t before;

	(void)state;
	/* Yesterday's registers must agree with today's process: the hash
	 * does not move with the seed this run drew for its tables. */
	put4(addr, IP4(192, 0, 2, 1));
	before = hll_peer_hash(4, addr);
	hash_seed_value ^= 0x5678;
	assert_true(before == hll_peer_hash(4, addr));
	hash_seed_value ^= 0x5678;
	assert_true(before == HLL_HASH_192_0_2_1);
}

static void top_ports_merge_and_text(void **state)
{
	struct port_top a = {}, b = {};
	char text[TOP_PORTS_TEXT_MAX];

	(void)state;
	top_ports_add(&a, 6, 6881, 100);
	for (int p = 1; p <= 20; p++) /* a scan: many ports once */
		top_ports_add(&a, 6, 1000 + p, 1);
	top_ports_add(&a, 17, 53, 7);
	top_ports_format(&a, text);
	assert_int_equal(strncmp(text, "6/6881:100", 10), 0);
	assert_int_equal(top_ports_merge_text(&b, text), 0);
	assert_int_equal(top_ports_merge_text(&b, text), 0);
	top_ports_format(&b, text);
	assert_int_equal(strncmp(text, "6/6881:200", 10), 0);
	assert_int_equal(top_ports_merge_text(&b, "6/6881"), -EINVAL);
	assert_int_equal(top_ports_merge_text(&b, "300/1:1"), -EINVAL);
}

static void time_arguments(void **state)
{
	uint64_t t, a, b, now = 1764900000000ull;

	(void)state;
	assert_int_equal(time_arg_parse("now", now, &t), 0);
	assert_true(t == now);
	assert_int_equal(time_arg_parse("-2h", now, &t), 0);
	assert_true(t == now - 7200000);
	assert_int_equal(time_arg_parse("1700000000", now, &t), 0);
	assert_true(t == 1700000000000ull);
	assert_int_equal(time_arg_parse("2023-11-14T22:13:20Z", now, &t), 0);
	assert_true(t == 1700000000000ull);
	assert_int_equal(time_arg_parse("2023-11-14T22:13", now, &t), 0);
	assert_true(t == 1699999980000ull);
	assert_int_equal(time_arg_parse("-2x", now, &t), -EINVAL);
	assert_int_equal(time_arg_parse("2023-13-01T00:00", now, &t), -EINVAL);
	assert_int_equal(time_arg_parse("yesterday", now, &t), -EINVAL);
	assert_int_equal(time_arg_parse("", now, &t), -EINVAL);
	assert_int_equal(time_arg_range("-2h,-1h", now, &a, &b), 0);
	assert_true(a == now - 7200000 && b == now - 3600000);
	assert_int_equal(time_arg_range("-1h,-2h", now, &a, &b), -EINVAL);
	assert_int_equal(time_arg_range("-1h", now, &a, &b), -EINVAL);
}

/* --- the file ------------------------------------------------------------ */

static void state_dir_created_private(void **state)
{
	char path[128], file[160];
	struct stat st;
	struct store *s;

	(void)state;
	s = open_store("a/b/state", 0);
	store_close(s);
	snprintf(path, sizeof(path), "%s/a/b/state", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	snprintf(file, sizeof(file), "%s/%s", path, STORE_FILE);
	assert_int_equal(stat(file, &st), 0);
	/* A file where the directory should be: the option is wrong. */
	assert_int_equal(state_dir_prepare(file), -EINVAL);
}

/* What a store wrote is there when it is opened again: a restart. */
static void restart_keeps_minutes_and_merges_peers(void **state)
{
	struct store *s;
	struct store_stats st;
	struct store_reader *r;
	json_t *o, *tot, *series, *ports;
	char path[160];

	(void)state;
	s = open_store("restart", 0);
	feed_swarm(s, 0, 200, T0 + 5000); /* minute 0: peers 0..199 */
	store_tick(s, T0 + 6000);
	feed_swarm(s, 100, 200, T0 + MIN_MS + 5000); /* minute 1: 100..299 */
	store_close(s); /* the last batch on the way out */

	/* A second run adds to the same minute 1 (a restart mid-minute). */
	s = open_store("restart", 0);
	feed_swarm(s, 250, 50, T0 + MIN_MS + 30000); /* 250..299 again */
	store_tick(s, T0 + MIN_MS + 31000);
	store_close(s);

	snprintf(path, sizeof(path), "%s/restart/%s", dir, STORE_FILE);
	r = store_reader_new(path);
	assert_non_null(r);
	o = store_host_range_json(r, "10.0.1.2", T0, T0 + 2 * MIN_MS);
	assert_non_null(o);
	tot = json_object_get(o, "totals");
	/* Exact sums: 2 records per peer visit, 200 + 200 + 50 visits. */
	assert_int_equal(int_at(tot, "flows"), 2 * 450);
	assert_int_equal(int_at(tot, "packets_out"), 3 * 450);
	assert_int_equal(int_at(tot, "packets_in"), 3 * 450);
	assert_int_equal(int_at(tot, "bytes_out"), 300 * 450);
	assert_int_equal(int_at(tot, "bytes_in"), 100 * 450);
	/* 300 distinct peers, not the 450 visits a sum of minutes gives. */
	assert_in_range(int_at(tot, "peers"), 300 * 0.85, 300 * 1.15);
	ports = json_object_get(tot, "ports");
	assert_int_equal(int_at(json_array_get(ports, 0), "port"), 6881);
	assert_int_equal(int_at(json_array_get(ports, 0), "flows"), 2 * 450);
	series = json_object_get(o, "series");
	assert_int_equal(json_array_size(series), 2);
	assert_true(int_at(json_array_get(series, 0), "t") == (json_int_t)T0);
	assert_int_equal(int_at(json_array_get(series, 0), "flows"), 400);
	assert_int_equal(int_at(json_array_get(series, 1), "flows"), 500);
	assert_in_range(int_at(json_array_get(series, 1), "peers"), 170, 230);
	json_decref(o);

	/* A remote host has no rows: the store keeps customers only. */
	o = store_host_range_json(r, "45.0.0.1", T0, T0 + 2 * MIN_MS);
	assert_int_equal(int_at(json_object_get(o, "totals"), "rows"), 0);
	json_decref(o);
	store_reader_free(r);
	(void)st;
}

static void events_alarms_curve_and_resets(void **state)
{
	static const char *const lines[] = {
		"{\"type\":\"flow\",\"src\":\"10.0.1.2\"}",
		"{\"type\":\"p2p_host\",\"host\":\"10.0.1.2\",\"score\":80,\"peers\":200}",
		"{\"type\":\"p2p_host\",\"host\":\"10.0.1.3\",\"score\":10,\"peers\":3}",
		"{\"type\":\"curve\",\"interface\":\"eth0\",\"utilisation\":0.5,\"active_flows\":12}",
		"{\"type\":\"reset\",\"src\":\"45.0.0.9\",\"dst\":\"10.0.1.2\",\"verdict\":\"forged\"}",
		"{\"type\":\"reset\",\"src\":\"10.0.1.2\",\"dst\":\"45.0.0.9\",\"verdict\":\"genuine\"}",
	};
	struct store *s = open_store("events", 0);
	struct store_stats st;
	char path[160];
	sqlite3 *db;
	sqlite3_stmt *q;
	const char *counts_sql =
		"SELECT (SELECT count(*) FROM alarms), (SELECT count(*) FROM events), "
		"(SELECT count(*) FROM curve), (SELECT sum(resets) FROM host_minutes), "
		"(SELECT sum(forged) FROM host_minutes), "
		"(SELECT count(*) FROM events WHERE line LIKE '%\"flow\"%')";

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		store_add_event_line(s, lines[i], strlen(lines[i]), T0 + 1000);
	store_tick(s, T0 + 2000);
	store_close(s);
	snprintf(path, sizeof(path), "%s/events/%s", dir, STORE_FILE);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, counts_sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1); /* score 80 >= 50 */
	/* p2p_host below threshold and the two resets; flows not kept. */
	assert_int_equal(sqlite3_column_int(q, 1), 3);
	assert_int_equal(sqlite3_column_int(q, 2), 1);
	assert_int_equal(sqlite3_column_int(q, 3), 2); /* one per local end */
	assert_int_equal(sqlite3_column_int(q, 4), 1);
	assert_int_equal(sqlite3_column_int(q, 5), 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	(void)st;
}

static void compare_two_periods(void **state)
{
	struct store *s = open_store("compare", 0);
	struct store_reader *r;
	char path[160];
	json_t *o, *change;
	uint64_t after = T0 + 60 * MIN_MS;

	(void)state;
	/* Before: 200 peers a minute for 10 minutes; after the limit: 20. */
	for (int m = 0; m < 10; m++) {
		feed_swarm(s, 0, 200, T0 + m * MIN_MS + 1000);
		store_tick(s, T0 + m * MIN_MS + 2000);
		feed_swarm(s, 1000, 20, after + m * MIN_MS + 1000);
		store_tick(s, after + m * MIN_MS + 2000);
	}
	store_close(s);
	snprintf(path, sizeof(path), "%s/compare/%s", dir, STORE_FILE);
	r = store_reader_new(path);
	o = store_compare_json(r, "10.0.1.2", T0, T0 + 10 * MIN_MS, after, after + 10 * MIN_MS);
	assert_non_null(o);
	assert_int_equal(int_at(json_object_get(o, "before"), "flows"), 4000);
	assert_int_equal(int_at(json_object_get(o, "after"), "flows"), 400);
	change = json_object_get(o, "change");
	assert_in_range(json_real_value(json_object_get(change, "flows")) * 1e6, 99999, 100001);
	assert_in_range(json_real_value(json_object_get(change, "peers")) * 1000, 80, 120);
	assert_in_range(json_real_value(json_object_get(change, "throughput_bps")) * 1e6, 99999,
			100001);
	json_decref(o);
	store_reader_free(r);
}

static json_int_t count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q;
	json_int_t n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* The writer alone, with a clock days ahead: minutes become hours. */
static void rollup_and_retention(void **state)
{
	char path[160];
	struct store_writer_config wc = {
		.path = path,
		.retention_ms = 7 * 86400000ull,
		.rollup_after_ms = 2 * 86400000ull,
		.p2p_threshold = 50,
	};
	struct store_writer *w;
	struct store_batch *b = store_batch_new(64, 4);
	struct store_reader *r;
	const char *why;
	uint64_t hour0 = T0 / 3600000 * 3600000;
	uint8_t addr[16], peer[16];
	json_t *o, *tot;
	sqlite3 *db;

	(void)state;
	snprintf(path, sizeof(path), "%s/rollup.db", dir);
	assert_int_equal(store_writer_open(&w, &wc), 0);
	put4(addr, IP4(10, 0, 1, 2));
	/* Hour 0: 30 minutes, each the same 10 peers; hour 1: one minute. */
	for (int m = 0; m < 31; m++) {
		struct store_minute *row =
			store_batch_minute(b, 4, addr, hour0 / MIN_MS + (m < 30 ? m : 60));

		assert_non_null(row);
		row->flows = 2;
		row->bytes_in = 1000;
		for (int p = 0; p < 10; p++) {
			put4(peer, IP4(45, 0, 0, p));
			hll_add(&row->peers, hll_peer_hash(4, peer));
		}
		top_ports_add(&row->ports, 6, 6881, 2);
	}
	assert_int_equal(store_writer_commit(w, b, &why), 0);
	store_batch_free(b);

	/* Three days later: both hours are older than two days. */
	assert_int_equal(store_writer_upkeep(w, hour0 + 3 * 86400000ull, &why), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM host_minutes"), 0);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM host_hours"), 2);
	assert_int_equal(count_rows(db, "SELECT sum(flows) FROM host_hours"), 62);

	r = store_reader_new(path);
	o = store_host_range_json(r, "10.0.1.2", hour0, hour0 + 2 * 3600000);
	tot = json_object_get(o, "totals");
	assert_int_equal(int_at(tot, "flows"), 62);
	assert_int_equal(int_at(tot, "bytes_in"), 31000);
	assert_in_range(int_at(tot, "peers"), 9, 11); /* merged, not 310 */
	assert_int_equal(int_at(json_array_get(json_object_get(tot, "ports"), 0), "flows"), 62);
	/* Beyond two days the buckets are whole hours. */
	assert_int_equal(int_at(o, "bucket_s"), 60);
	assert_true(store_bucket_s(hour0, hour0 + 7 * 86400000ull) % 3600 == 0);
	json_decref(o);
	store_reader_free(r);

	/* Eight days later: past the retention, nothing is left. */
	assert_int_equal(store_writer_upkeep(w, hour0 + 8 * 86400000ull, &why), 0);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM host_hours"), 0);
	sqlite3_close(db);
	store_writer_close(w);
}

/* A batch that cannot hold a tick's rows counts what it refused, and
 * writes what it held. */
static void full_batch_counts_lost(void **state)
{
	struct store *s = open_store("full", 4);
	struct store_stats st;
	char path[160];
	sqlite3 *db;

	(void)state;
	for (int h = 1; h <= 10; h++)
		add_flow(s, tcp4_flow(IP4(10, 0, 1, h), IP4(45, 0, 0, 1), 1, 80, 100, T0));
	store_tick(s, T0 + 1000);
	store_get_stats(s, &st);
	assert_int_equal(st.records_dropped, 6);
	assert_int_equal(st.rows_lost, 0);
	store_close(s);
	snprintf(path, sizeof(path), "%s/full/%s", dir, STORE_FILE);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM host_minutes"), 4);
	sqlite3_close(db);
}

/* Another process holds the database: the transaction fails after the
 * busy timeout, is counted, and the pipeline side goes on. */
static void locked_database_counts_errors(void **state)
{
	struct store *s = open_store("locked", 8);
	struct store_stats st = {};
	char path[160];
	sqlite3 *other;
	int lost = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/locked/%s", dir, STORE_FILE);
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	for (int h = 1; h <= 10; h++)
		add_flow(s, tcp4_flow(IP4(10, 0, 1, h), IP4(45, 0, 0, 1), 1, 80, 100, T0));
	store_tick(s, T0 + 1000); /* 8 rows handed, 2 refused: batch full */
	/* The writer is stuck on the lock; the pipeline side is not. */
	for (int h = 1; h <= 4; h++)
		add_flow(s, tcp4_flow(IP4(10, 0, 1, h), IP4(45, 0, 0, 1), 1, 80, 100, T0));
	store_tick(s, T0 + 2000);
	/* Wait for the writer's verdict on the first batch (a condition,
	 * not a sleep): its 8 rows lost, counted. */
	for (int i = 0; i < 1000 && !st.write_errors; i++) {
		usleep(10000);
		store_get_stats(s, &st);
	}
	assert_int_equal(st.write_errors, 1);
	lost = st.rows_lost;
	assert_int_equal(lost, 8);
	assert_int_equal(st.records_dropped, 2);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	store_close(s); /* the 4 rows of the second tick get written */
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(count_rows(db, "SELECT sum(flows) FROM host_minutes"), 4);
		sqlite3_close(db);
	}
}

static void api_stored_views(void **state)
{
	struct store *s = open_store("api", 0);
	struct history_config hc = { .local = &local };
	struct history *h = history_new(&hc);
	struct http_reply r;
	struct http_api_args a = { .now_ms = T0 + 10 * MIN_MS };
	json_t *o;

	(void)state;
	feed_swarm(s, 0, 50, T0 + 1000);
	store_tick(s, T0 + 2000);
	/* The API reads the file, not the batch. */
	store_wait_idle(s);
	a.from = "-1h";
	http_api_query(&(struct http_api_sources){ h, s, NULL }, "/api/hosts/10.0.1.2", &a, &r);
	assert_int_equal(r.status, 200);
	o = json_loads(r.body, 0, NULL);
	assert_int_equal(int_at(json_object_get(o, "totals"), "flows"), 100);
	assert_string_equal(json_string_value(json_object_get(o, "source")), "store");
	json_decref(o);
	free(r.body);

	a.from = "yesterday";
	http_api_query(&(struct http_api_sources){ h, s, NULL }, "/api/hosts/10.0.1.2", &a, &r);
	assert_int_equal(r.status, 400);
	free(r.body);
	a.from = "-1h";
	http_api_query(&(struct http_api_sources){ h, NULL, NULL }, "/api/hosts/10.0.1.2", &a, &r);
	assert_int_equal(r.status, 404); /* no store: said so */
	free(r.body);
	http_api_query(&(struct http_api_sources){ h, s, NULL }, "/api/hosts/10.0.1.", &a, &r);
	assert_int_equal(r.status, 400);
	free(r.body);

	a = (struct http_api_args){ .now_ms = T0 + 10 * MIN_MS,
				    .host = "10.0.1.2",
				    .before = "-20m,-10m",
				    .after = "-10m,now" };
	http_api_query(&(struct http_api_sources){ h, s, NULL }, "/api/compare", &a, &r);
	assert_int_equal(r.status, 200);
	o = json_loads(r.body, 0, NULL);
	assert_int_equal(int_at(json_object_get(o, "after"), "flows"), 100);
	assert_int_equal(int_at(json_object_get(o, "before"), "flows"), 0);
	assert_true(json_is_null(json_object_get(json_object_get(o, "change"), "flows")));
	json_decref(o);
	free(r.body);
	a.before = "-10m";
	http_api_query(&(struct http_api_sources){ h, s, NULL }, "/api/compare", &a, &r);
	assert_int_equal(r.status, 400);
	free(r.body);

	history_free(h);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hll_estimates_and_merges),
		cmocka_unit_test(hll_hash_is_fixed),
		cmocka_unit_test(top_ports_merge_and_text),
		cmocka_unit_test(time_arguments),
		cmocka_unit_test(state_dir_created_private),
		cmocka_unit_test(restart_keeps_minutes_and_merges_peers),
		cmocka_unit_test(events_alarms_curve_and_resets),
		cmocka_unit_test(compare_two_periods),
		cmocka_unit_test(rollup_and_retention),
		cmocka_unit_test(full_batch_counts_lost),
		cmocka_unit_test(locked_database_counts_errors),
		cmocka_unit_test(api_stored_views),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
