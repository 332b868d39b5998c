// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The token and Host checks of the web server (see http_auth.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "web/http_auth.h"

/* The length is not a secret worth hiding (as in Go's
 * subtle.ConstantTimeCompare); the bytes are. Empty never matches. */
bool http_token_equal(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned char diff = 0;

	if (la != lb || !lb)
		return false;
	for (size_t i = 0; i < lb; i++)
		diff |= a[i] ^ b[i];
	return !diff;
}

/* "Bearer TOKEN": the scheme in any case, then spaces, then the token. */
static bool bearer_matches(const char *token, size_t tl, struct http_value h)
{
	const char *p = h.s;
	size_t n = h.len;

	if (!p || n < 7 || strncasecmp(p, "bearer", 6) || p[6] != ' ')
		return false;
	p += 7;
	n -= 7;
	while (n && *p == ' ') {
		p++;
		n--;
	}
	return http_token_equal(p, n, token, tl);
}

static bool value_matches(const char *token, size_t tl, struct http_value v)
{
	return v.s && http_token_equal(v.s, v.len, token, tl);
}

bool http_auth_allows(const char *token, const struct http_credentials *cr)
{
	size_t tl = strlen(token);

	if (!tl)
		return true;
	return bearer_matches(token, tl, cr->authorization) ||
	       value_matches(token, tl, cr->cookie) ||
	       (cr->is_page && value_matches(token, tl, cr->query));
}

bool http_host_is_loopback(const char *host, unsigned port)
{
	static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };
	char with_port[32];

	if (!host)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(with_port, sizeof(with_port), "%s:%u", names[i], port);
		if (!strcasecmp(host, names[i]) || !strcasecmp(host, with_port))
			return true;
	}
	return false;
}
