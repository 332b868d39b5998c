// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * JSON Lines flow records. Field names here are a published contract
 * (tests and users parse them): add fields freely, never rename these.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "json_output.h"

void json_format_time(char *buf, size_t len, uint64_t epoch_ms)
{
	time_t secs = epoch_ms / 1000;
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)(epoch_ms % 1000));
}

void json_format_tcp_flags(char *buf, size_t len, uint8_t flags)
{
	/* Bit order of the TCP header's flag byte, lowest first. */
	static const char letters[] = "FSRPAUEC";
	size_t n = 0;

	for (int bit = 0; bit < 8 && n + 1 < len; bit++)
		if (flags & (1u << bit))
			buf[n++] = letters[bit];
	buf[n] = '\0';
}

void json_format_addr(char *buf, size_t len, const uint8_t addr[16],
		      uint8_t ip_version)
{
	if (!inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
}

static const char *end_reason_name(uint8_t reason)
{
	switch (reason) {
	case END_IDLE:
		return "idle";
	case END_ACTIVE:
		return "active";
	case END_OF_FLOW:
		return "end";
	case END_FORCED:
		return "forced";
	case END_LACK_OF_RESOURCES:
		return "lack";
	}
	return "unknown";
}

int json_write_flow(FILE *out, const struct flow_record *rec)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], first[40], last[40], flags[9];
	json_t *obj;
	int err;

	json_format_addr(src, sizeof(src), rec->key.src, rec->key.ip_version);
	json_format_addr(dst, sizeof(dst), rec->key.dst, rec->key.ip_version);
	json_format_time(first, sizeof(first), rec->first_ms);
	json_format_time(last, sizeof(last), rec->last_ms);
	json_format_tcp_flags(flags, sizeof(flags), rec->tcp_flags);

	obj = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:s, s:s, s:s,"
			" s:i, s:i, s:o, s:s, s:i, s:i, s:i}",
			"type", "flow",
			"ip_version", rec->key.ip_version,
			"src", src,
			"dst", dst,
			"sport", rec->key.sport,
			"dport", rec->key.dport,
			"proto", rec->key.proto,
			"packets", (json_int_t)rec->packets,
			"bytes", (json_int_t)rec->bytes,
			"first", first,
			"last", last,
			"tcp_flags", flags,
			"ifindex", (int)rec->key.ifindex,
			"vlan", rec->key.vlan,
			"app", rec->app == APP_BITTORRENT ? json_string("bittorrent") : json_null(),
			"end_reason", end_reason_name(rec->end_reason),
			"tos", rec->tos,
			"ttl_min", rec->ttl_min,
			"ttl_max", rec->ttl_max);
	if (!obj)
		return -ENOMEM;
	err = json_dumpf(obj, out, JSON_COMPACT);
	json_decref(obj);
	if (err || fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}
