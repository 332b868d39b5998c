// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * URL to view: every answer is built fresh from the history (which holds
 * its lock only while building the JSON tree), then serialised here.
 */
#include <stdlib.h>
#include <string.h>
#include "web/http_api.h"
#include "web/metrics.h"

#define TOP_HOSTS	20
#define EVENTS_MAX	200

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

void http_api_get(struct history *h, const char *path, const char *type,
		  struct http_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->status = 200;
	if (!strcmp(path, "/metrics")) {
		metrics_reply(h, out);
	} else if (!strcmp(path, "/api/hosts") || !strcmp(path, "/api/hosts/")) {
		json_reply(out, history_hosts_json(h, TOP_HOSTS));
	} else if (!strncmp(path, "/api/hosts/", 11)) {
		json_t *o = history_host_json(h, path + 11);

		if (o)
			json_reply(out, o);
		else
			error_reply(out, 400, "not an IPv4 or IPv6 address: "
				    "use /api/hosts/192.0.2.1 or /api/hosts/2001:db8::1");
	} else if (!strcmp(path, "/api/events")) {
		json_reply(out, history_events_json(h, type && *type ? type : NULL,
						    EVENTS_MAX));
	} else if (!strcmp(path, "/api/curve")) {
		json_reply(out, history_curve_json(h));
	} else if (!strcmp(path, "/api/stats")) {
		json_reply(out, history_stats_json(h));
	} else {
		error_reply(out, 404, "no such view: try /api/hosts, /api/hosts/IP, "
			    "/api/events, /api/curve, /api/stats or /metrics");
	}
	if (!out->body && out->status == 200)
		out->status = 500;
}
