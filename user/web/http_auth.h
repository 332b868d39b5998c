/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Who may read the dashboard, the API and /metrics, decided from what a
 * request carries; pure functions, so the unit tests can try every way a
 * check could be fooled.
 *
 * - The token of --http-token-file travels in "Authorization: Bearer
 *   TOKEN" (the scheme in any letter case, RFC 7235) or in the cookie
 *   HTTP_TOKEN_COOKIE, which the server sets once (HttpOnly,
 *   SameSite=Strict) when a browser opens "/?token=TOKEN". A token in
 *   any other URL is refused, so it does not end up in logs and history.
 * - Comparisons take the lengths as given (a "%00" in a URL decodes to a
 *   NUL that C strings would stop at) and take the same time whatever
 *   the first differing byte.
 * - On a loopback listener the Host header must name loopback: a web page
 *   elsewhere cannot reach it by pointing a DNS name at 127.0.0.1 (DNS
 *   rebinding). Elsewhere the token guards.
 */
#ifndef HTTP_AUTH_H
#define HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_TOKEN_COOKIE "flowprobe_token"

struct http_value {
	const char *s; /* NULL: absent */
	size_t len;
};

/* What a request offers. */
struct http_credentials {
	struct http_value authorization; /* the Authorization header */
	struct http_value cookie; /* the HTTP_TOKEN_COOKIE cookie */
	struct http_value query; /* ?token=, honoured on "/" only */
	bool is_page; /* the request is for "/" */
};

/* A and B, of the given lengths, are equal; time independent of where
 * they differ. */
bool http_token_equal(const char *a, size_t la, const char *b, size_t lb);

/* TOKEN empty: no token is required. */
bool http_auth_allows(const char *token, const struct http_credentials *cr);

/* The Host header (may be absent) is acceptable for a loopback listener
 * on PORT: 127.0.0.1, localhost or [::1], with or without ":PORT". */
bool http_host_is_loopback(const char *host, unsigned port);

#endif /* HTTP_AUTH_H */
