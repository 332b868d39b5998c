// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Parsing --store clickhouse:// URLs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/log.h"
#include "store/clickhouse_url.h"

#define FORM                                            \
	"clickhouse://[USER@]HOST:PORT/DATABASE, e.g. " \
	"clickhouse://flowprobe@10.0.0.5:8123/flows"

static int bad(const char *url, const char *why)
{
	log_error("--store %s: %s; the form is " FORM, url, why);
	return -EINVAL;
}

static bool is_name(const char *s, size_t n)
{
	if (!n || n >= CH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

int clickhouse_url_parse(const char *url, struct clickhouse_url *out)
{
	static const char scheme[] = "clickhouse://";
	const char *p = url, *at, *slash, *hend, *colon;
	char *end;
	unsigned long port;

	memset(out, 0, sizeof(*out));
	if (strncmp(p, scheme, sizeof(scheme) - 1))
		return bad(url, "not a clickhouse:// URL");
	p += sizeof(scheme) - 1;
	slash = strchr(p, '/');
	if (!slash)
		return bad(url, "no database");
	at = memchr(p, '@', slash - p);
	if (at) {
		if (memchr(p, ':', at - p))
			return bad(url, "no password in the URL: use --store-password-file");
		if (!is_name(p, at - p))
			return bad(url, "the user is not a name ([A-Za-z0-9_])");
		memcpy(out->user, p, at - p);
		p = at + 1;
	} else {
		strcpy(out->user, "default");
	}
	if (*p == '[') {
		hend = memchr(p, ']', slash - p);
		if (!hend || hend[1] != ':')
			return bad(url, "an IPv6 address is [ADDR]:PORT");
		p++;
		colon = hend + 1;
	} else {
		colon = memchr(p, ':', slash - p);
		hend = colon;
		if (!colon)
			return bad(url, "no port (ClickHouse's HTTP port is 8123)");
	}
	if (hend == p || (size_t)(hend - p) >= CH_HOST_MAX)
		return bad(url, "no host");
	memcpy(out->host, p, hend - p);
	if (strspn(out->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789.-:") != strlen(out->host))
		return bad(url, "the host is not a name or an address");
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (end != slash || colon + 1 == slash || errno || !port || port > 65535)
		return bad(url, "the port is not a number from 1 to 65535");
	out->port = port;
	if (!is_name(slash + 1, strlen(slash + 1)))
		return bad(url, "the database is not a name ([A-Za-z0-9_])");
	strcpy(out->db, slash + 1);
	return 0;
}
