// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hll_* and ports_* SQL functions over the stored peers and ports.
 */
#include <string.h>
#include "store/hll.h"
#include "store/sql_functions.h"
#include "store/top_ports.h"

static int merge_value(struct hll *h, sqlite3_value *v)
{
	if (sqlite3_value_type(v) == SQLITE_NULL)
		return 0;
	return hll_merge_blob(h, sqlite3_value_blob(v), sqlite3_value_bytes(v));
}

static void result_hll(sqlite3_context *ctx, const struct hll *h)
{
	uint8_t blob[HLL_BLOB_MAX];

	sqlite3_result_blob(ctx, blob, hll_encode(h, blob), SQLITE_TRANSIENT);
}

static void hll_merge_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct hll h = {};

	for (int i = 0; i < argc; i++)
		if (merge_value(&h, argv[i])) {
			sqlite3_result_error(ctx, "hll_merge: not a peers blob", -1);
			return;
		}
	result_hll(ctx, &h);
}

static void hll_count_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct hll h = {};

	(void)argc;
	if (merge_value(&h, argv[0])) {
		sqlite3_result_error(ctx, "hll_count: not a peers blob", -1);
		return;
	}
	sqlite3_result_int64(ctx, (sqlite3_int64)hll_estimate(&h));
}

static void hll_agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct hll *h = sqlite3_aggregate_context(ctx, sizeof(*h));

	(void)argc;
	if (!h)
		sqlite3_result_error_nomem(ctx);
	else if (merge_value(h, argv[0]))
		sqlite3_result_error(ctx, "hll_merge_agg: not a peers blob", -1);
}

static void hll_agg_final(sqlite3_context *ctx)
{
	struct hll *h = sqlite3_aggregate_context(ctx, 0);
	struct hll empty = {};

	result_hll(ctx, h ? h : &empty);
}

static int merge_ports(struct port_top *t, sqlite3_value *v)
{
	if (sqlite3_value_type(v) == SQLITE_NULL)
		return 0;
	return top_ports_merge_text(t, (const char *)sqlite3_value_text(v));
}

static void result_ports(sqlite3_context *ctx, const struct port_top *t)
{
	char text[TOP_PORTS_TEXT_MAX];

	top_ports_format(t, text);
	sqlite3_result_text(ctx, text, -1, SQLITE_TRANSIENT);
}

static void ports_merge_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct port_top t = {};

	for (int i = 0; i < argc; i++)
		if (merge_ports(&t, argv[i])) {
			sqlite3_result_error(ctx, "ports_merge: not a ports text", -1);
			return;
		}
	result_ports(ctx, &t);
}

static void ports_agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct port_top *t = sqlite3_aggregate_context(ctx, sizeof(*t));

	(void)argc;
	if (!t)
		sqlite3_result_error_nomem(ctx);
	else if (merge_ports(t, argv[0]))
		sqlite3_result_error(ctx, "ports_merge_agg: not a ports text", -1);
}

static void ports_agg_final(sqlite3_context *ctx)
{
	struct port_top *t = sqlite3_aggregate_context(ctx, 0);
	struct port_top empty = {};

	result_ports(ctx, t ? t : &empty);
}

int store_sql_functions_register(sqlite3 *db)
{
	const int f = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
	int rc = SQLITE_OK;

	rc = rc ? rc :
		  sqlite3_create_function(db, "hll_merge", 2, f, NULL, hll_merge_fn, NULL, NULL);
	rc = rc ? rc :
		  sqlite3_create_function(db, "hll_count", 1, f, NULL, hll_count_fn, NULL, NULL);
	rc = rc ? rc :
		  sqlite3_create_function(db, "hll_merge_agg", 1, f, NULL, NULL, hll_agg_step,
					  hll_agg_final);
	rc = rc ? rc :
		  sqlite3_create_function(db, "ports_merge", 2, f, NULL, ports_merge_fn, NULL,
					  NULL);
	rc = rc ? rc :
		  sqlite3_create_function(db, "ports_merge_agg", 1, f, NULL, NULL, ports_agg_step,
					  ports_agg_final);
	return rc;
}
