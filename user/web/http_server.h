/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The daemon's own web server (libmicrohttpd, in its own thread): the
 * dashboard's files, the JSON API and /metrics, all read-only (GET and
 * HEAD; anything else is 405). It binds to loopback unless told
 * otherwise; on any other address every request must carry the token of
 * --http-token-file (http_auth.h), and the server refuses to start
 * without one.
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include "web/history.h"

struct store;
struct fleet_view;

#define HTTP_DEFAULT_ADDR "127.0.0.1:8080"

struct http_config {
	const char *listen; /* "HOST:PORT", "[V6]:PORT" */
	const char *token_file; /* NULL: no token (loopback only) */
	const char *web_dir; /* NULL: found next to the binary or installed */
	struct store *store; /* the embedded history, or NULL */
	struct fleet_view *fleet; /* `flowprobe dashboard`: the views from
				   * ClickHouse (history NULL) */
};

struct http_server;

/* Checks the address and the token file without binding: 0, or -EINVAL
 * after one line saying what to change. */
int http_config_check(const struct http_config *cfg);

/* Starts serving: 0, or -EINVAL (bad address or token) after one log
 * line; -ENOMEM. An address that cannot be listened on (in use, not on
 * this host) is one warning and 0 with *out NULL: the web page is
 * optional, counting and export go on without it. */
int http_server_start(struct http_server **out, const struct http_config *cfg, struct history *h);

void http_server_stop(struct http_server *s);

#endif /* HTTP_SERVER_H */
