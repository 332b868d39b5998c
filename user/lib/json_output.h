/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * JSON Lines output (--json): one object per exported flow and per event
 * (BitTorrent recognition so far), with the field names docs/export.md
 * ("JSON Lines") publishes as a contract. Built with jansson, so
 * escaping is never hand-written.
 */
#ifndef JSON_OUTPUT_H
#define JSON_OUTPUT_H

#include <stdio.h>
#include <jansson.h>
#include "lib/flow_record.h"

/* One object as one line (JSON Lines); takes the reference to obj (NULL:
 * out of memory). Returns 0, -ENOMEM or -EIO. Every JSON writer uses it. */
int json_write_line(FILE *out, json_t *obj);

/* Every line written from now on carries "probe_id": ID (--probe-id). */
void json_output_set_probe_id(const char *id);

/* Writes one {"type":"flow",...} line; returns 0, -ENOMEM or -EIO. */
int json_write_flow(FILE *out, const struct flow_record *rec);

/* enum flow_reset_verdict as the JSON shows it: "genuine", "suspect",
 * "forged" ("none" for 0). */
const char *flow_reset_verdict_name(uint8_t v);
/* "gre", "vxlan", ... for enum flow_tunnel (JSON "tunnel"). */
const char *flow_tunnel_name(uint8_t t);

/*
 * Writes one {"type":"bittorrent",...} line for an EVENT_BITTORRENT event
 * seen at wall_ms (ms since the epoch): kind, time, src, dst, sport,
 * dport, proto as the contract names them, plus ip_version,
 * ifindex and vlan. A handshake also carries "info_hash" (40 lowercase
 * hex digits), "extensions" (of "ltep", "dht", "fast", from the reserved
 * bytes) and "reserved" (16 hex digits); all three are null when the
 * datapath could not copy them (the segment ended before the info_hash,
 * which leaves it all zero: no torrent's SHA-1 is). Returns 0, -EINVAL
 * for another event type (nothing written), -ENOMEM or -EIO.
 */
int json_write_bt_event(FILE *out, const struct event *ev, uint64_t wall_ms);

/*
 * The JSON name of an enum bt_kind: "handshake", "message", "utp", "dht",
 * "tracker", "lsd", "http_tracker", "encrypted"; "unknown" otherwise.
 */
const char *json_bt_kind_name(uint8_t kind);

/* Formats TCP flags as letters in the order F S R P A U E C ("SA"). */
void json_format_tcp_flags(char *buf, size_t len, uint8_t flags);

/* Formats a key's address (IPv4 or IPv6) as text. */
void json_format_addr(char *buf, size_t len, const uint8_t addr[16], uint8_t ip_version);

/* An address a person typed (IPv4 or IPv6), rewritten in the form the
 * writers above give it, so that it matches what the stores hold (and is
 * safe inside SQL quotes); false when it is not an address. */
bool json_canonical_addr(const char *text, char out[64]);

#endif /* JSON_OUTPUT_H */
