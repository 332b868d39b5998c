/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * JSON Lines output (--json): one object per exported flow and per event,
 * with the field names the design's "Interfaces" section fixes as a
 * contract. Built with jansson, so escaping is never hand-written.
 */
#ifndef JSON_OUTPUT_H
#define JSON_OUTPUT_H

#include <stdio.h>
#include "flow_record.h"

/* Writes one {"type":"flow",...} line; returns 0 or -EIO. */
int json_write_flow(FILE *out, const struct flow_record *rec);

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds. */
void json_format_time(char *buf, size_t len, uint64_t epoch_ms);

/* Formats TCP flags as letters in the order F S R P A U E C ("SA"). */
void json_format_tcp_flags(char *buf, size_t len, uint8_t flags);

/* Formats a key's address (IPv4 or IPv6) as text. */
void json_format_addr(char *buf, size_t len, const uint8_t addr[16],
		      uint8_t ip_version);

#endif /* JSON_OUTPUT_H */
