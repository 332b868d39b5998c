/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The read-only views behind the dashboard: /api/hosts, /api/hosts/IP,
 * /api/events[?type=T], /api/curve, /api/stats (JSON) and /metrics
 * (Prometheus text), from the in-memory history; and from the embedded
 * store, /api/hosts/IP?from=T&to=T (any stored range) and
 * /api/compare?host=IP&before=T,T&after=T,T (two periods' totals).
 * Pure functions of the history and the store, so the unit tests call
 * them without a socket.
 */
#ifndef HTTP_API_H
#define HTTP_API_H

#include <stddef.h>
#include <stdint.h>
#include "web/history.h"

struct http_reply {
	int status; /* 200, 400, 404 */
	const char *content_type;
	char *body; /* malloc'ed; the caller frees */
	size_t len;
};

/* Whether path is one of the API's (so the server asks http_api_get). */
bool http_api_handles(const char *path);

struct store;
struct fleet_view;

/* Where the views come from: one probe's history (and its store), or a
 * fleet's ClickHouse (then history and store are NULL). */
struct http_api_sources {
	struct history *history;
	struct store *store; /* NULL: the stored views answer 404 */
	struct fleet_view *fleet; /* non-NULL: `flowprobe dashboard` */
};

/* The query arguments the views take; NULL when absent. */
struct http_api_args {
	const char *type; /* /api/events */
	const char *from, *to; /* /api/hosts/IP: a stored range */
	const char *host, *before, *after; /* /api/compare */
	const char *router; /* fleet: one probe's rows only */
	uint64_t now_ms; /* wall clock, for relative times */
};

void http_api_query(const struct http_api_sources *src, const char *path,
		    const struct http_api_args *args, struct http_reply *out);

/* type: the "type" query argument of /api/events, or NULL. Without a
 * store, arguments other than type ignored. */
void http_api_get(struct history *h, const char *path, const char *type, struct http_reply *out);

#endif /* HTTP_API_H */
