/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The read-only views behind the dashboard: /api/hosts, /api/hosts/IP,
 * /api/events[?type=T], /api/curve, /api/stats (JSON) and /metrics
 * (Prometheus text). Pure functions of the history, so the unit tests
 * call them without a socket.
 */
#ifndef HTTP_API_H
#define HTTP_API_H

#include <stddef.h>
#include "web/history.h"

struct http_reply {
	int status;		/* 200, 400, 404 */
	const char *content_type;
	char *body;		/* malloc'ed; the caller frees */
	size_t len;
};

/* Whether path is one of the API's (so the server asks http_api_get). */
bool http_api_handles(const char *path);

/* type: the "type" query argument of /api/events, or NULL. */
void http_api_get(struct history *h, const char *path, const char *type,
		  struct http_reply *out);

#endif /* HTTP_API_H */
