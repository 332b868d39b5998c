/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A deadline for each request's line and headers. libmicrohttpd times
 * out idle connections, but a client that trickles one header line every
 * few seconds is never idle and holds its connection forever: a few
 * hundred of them lock everyone out, Prometheus's scrapes included. The
 * guard notes when each connection starts waiting for a request (on
 * connect, and again after each reply on a kept-alive connection) and
 * shuts down, from its own thread, every connection whose request has
 * not arrived whole within the deadline. libmicrohttpd then sees the
 * connection end and frees it as usual.
 */
#ifndef HTTP_GUARD_H
#define HTTP_GUARD_H

#include <stdint.h>
#include <microhttpd.h>

struct http_guard;

/* Starts the guard's thread; 0 or a negative errno. */
int http_guard_start(struct http_guard **out, unsigned int deadline_s);

/* Stops the thread, after libmicrohttpd has stopped (no more callbacks). */
void http_guard_stop(struct http_guard *g);

/* For MHD_OPTION_NOTIFY_CONNECTION, with the guard as its cls. */
void http_guard_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe);

/* For MHD_OPTION_NOTIFY_COMPLETED: the connection waits for its next
 * request, with a new deadline. */
void http_guard_on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			     enum MHD_RequestTerminationCode toe);

/* From the request handler's first call: the request line and headers
 * arrived, the deadline no longer applies to this request. */
void http_guard_request_arrived(struct http_guard *g, struct MHD_Connection *c);

/* Connections cut so far. */
uint64_t http_guard_cut(struct http_guard *g);

#endif /* HTTP_GUARD_H */
