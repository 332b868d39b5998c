// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * URL to view: every answer is built fresh from the history (which holds
 * its lock only while building the JSON tree) or the store's reader,
 * then serialised here.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_output.h"
#include "store/query.h"
#include "store/store.h"
#include "web/http_api.h"
#include "web/metrics.h"
#include "web/fleet_view.h"
#include "web/time_arg.h"

#define TOP_HOSTS 20
#define EVENTS_MAX 200

bool http_api_handles(const char *path)
{
	return !strncmp(path, "/api/", 5) || !strcmp(path, "/metrics");
}

static void json_reply(struct http_reply *out, json_t *o)
{
	out->content_type = "application/json";
	out->body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	out->len = out->body ? strlen(out->body) : 0;
	json_decref(o);
}

static void error_reply(struct http_reply *out, int status, const char *msg)
{
	json_reply(out, json_pack("{s:s}", "error", msg));
	out->status = status;
}

static void metrics_reply(struct history *h, struct http_reply *out)
{
	struct history_metrics m;
	FILE *f = open_memstream(&out->body, &out->len);

	history_metrics(h, &m);
	out->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (!f) {
		out->status = 500;
		return;
	}
	metrics_write(f, &m);
	fclose(f);
}

#define BAD_ADDR                                                    \
	"not an IPv4 or IPv6 address: use /api/hosts/192.0.2.1 or " \
	"/api/hosts/2001:db8::1"
#define BAD_TIME                                           \
	"times are now, seconds since 1970, UTC ISO 8601 " \
	"(2026-12-04T22:00) or relative (-2h, -30m, -7d)"
#define NO_STORE                                                 \
	"no stored history: the probe runs without --state-dir " \
	"(or with --no-store)"

/* /api/hosts/IP?from=T&to=T: the stored range (to defaults to now, from
 * to an hour before to). */
static void stored_host(struct store *st, const char *addr, const struct http_api_args *a,
			struct http_reply *out)
{
	uint64_t from, to;
	char canon[64];

	if (!json_canonical_addr(addr, canon))
		return error_reply(out, 400, BAD_ADDR);
	if (!st)
		return error_reply(out, 404, NO_STORE);
	if (time_arg_parse(a->to ? a->to : "now", a->now_ms, &to))
		return error_reply(out, 400, "to: " BAD_TIME);
	if (a->from ? time_arg_parse(a->from, a->now_ms, &from) :
		      (from = to > 3600000 ? to - 3600000 : 0, 0))
		return error_reply(out, 400, "from: " BAD_TIME);
	if (to <= from)
		return error_reply(out, 400, "from must be before to");
	json_reply(out, store_host_range_json(store_reader_of(st), canon, from, to));
}

static void compare(struct store *st, const struct http_api_args *a, struct http_reply *out)
{
	uint64_t bf, bt, af, at;
	char canon[64];

	if (!json_canonical_addr(a->host, canon))
		return error_reply(out, 400, "host: " BAD_ADDR);
	if (!st)
		return error_reply(out, 404, NO_STORE);
	if (time_arg_range(a->before, a->now_ms, &bf, &bt) ||
	    time_arg_range(a->after, a->now_ms, &af, &at))
		return error_reply(out, 400, "before and after are FROM,TO; " BAD_TIME);
	json_reply(out, store_compare_json(store_reader_of(st), canon, bf, bt, af, at));
}

/* `flowprobe dashboard`: the same paths, from ClickHouse. */
static void fleet_query(struct fleet_view *v, const char *path, const struct http_api_args *a,
			struct http_reply *out)
{
	const char *why = "no such view";
	json_t *o = NULL;
	int status = 404;

	if (!strcmp(path, "/api/hosts") || !strcmp(path, "/api/hosts/")) {
		o = fleet_hosts_json(v, a->router, &why);
		status = 502;
	} else if (!strncmp(path, "/api/hosts/", 11) && !a->from && !a->to) {
		o = fleet_host_json(v, path + 11, a->router, &why);
		status = strncmp(why, "ClickHouse", 10) ? 400 : 502;
	} else if (!strcmp(path, "/api/events")) {
		o = fleet_events_json(v, a->type && *a->type ? a->type : NULL, &why);
		status = 502;
	} else if (!strcmp(path, "/api/curve")) {
		o = fleet_curve_json(v, a->router, &why);
		status = 502;
	} else if (!strcmp(path, "/api/stats")) {
		o = fleet_stats_json(v, &why);
		status = 502;
	} else if (!strcmp(path, "/metrics")) {
		why = "the fleet dashboard has no /metrics: each probe serves its own";
	} else if (!strcmp(path, "/api/compare") || !strncmp(path, "/api/hosts/", 11)) {
		why = "stored ranges and comparisons are each probe's (--state-dir)";
	}
	if (o)
		json_reply(out, o);
	else
		error_reply(out, status, why);
}

void http_api_query(const struct http_api_sources *src, const char *path,
		    const struct http_api_args *args, struct http_reply *out)
{
	struct history *h = src->history;
	struct store *st = src->store;
	const char *type = args->type;

	memset(out, 0, sizeof(*out));
	out->status = 200;
	if (src->fleet) {
		fleet_query(src->fleet, path, args, out);
	} else if (!strcmp(path, "/metrics")) {
		metrics_reply(h, out);
	} else if (!strcmp(path, "/api/hosts") || !strcmp(path, "/api/hosts/")) {
		json_reply(out, history_hosts_json(h, TOP_HOSTS));
	} else if (!strncmp(path, "/api/hosts/", 11) && (args->from || args->to)) {
		stored_host(st, path + 11, args, out);
	} else if (!strncmp(path, "/api/hosts/", 11)) {
		json_t *o = history_host_json(h, path + 11);

		if (o)
			json_reply(out, o);
		else
			error_reply(out, 400, BAD_ADDR);
	} else if (!strcmp(path, "/api/compare")) {
		compare(st, args, out);
	} else if (!strcmp(path, "/api/events")) {
		json_reply(out, history_events_json(h, type && *type ? type : NULL, EVENTS_MAX));
	} else if (!strcmp(path, "/api/curve")) {
		json_reply(out, history_curve_json(h));
	} else if (!strcmp(path, "/api/stats")) {
		json_reply(out, history_stats_json(h));
	} else {
		error_reply(out, 404,
			    "no such view: try /api/hosts, /api/hosts/IP, "
			    "/api/hosts/IP?from=-1d, /api/compare, /api/events, "
			    "/api/curve, /api/stats or /metrics");
	}
	if (!out->body && out->status == 200)
		out->status = 500;
}

void http_api_get(struct history *h, const char *path, const char *type, struct http_reply *out)
{
	struct http_api_args a = { .type = type };
	struct http_api_sources src = { .history = h };

	http_api_query(&src, path, &a, out);
}
