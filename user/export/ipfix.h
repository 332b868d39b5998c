/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPFIX (RFC 7011) encoder, the sibling of netflow9.h: finished flows and
 * the probe's statistics in, IPFIX messages out through a callback. Pure
 * (no socket, no clock, no globals), so the unit tests check every byte.
 *
 * Standard information elements wherever IANA has one; what only this
 * probe knows (the reset verdict, BitTorrent, the packets it saw) is an
 * enterprise-specific element under the Private Enterprise Number in the
 * config (--ipfix-pen; 32473 by default, the number RFC 5612 reserves for
 * documentation: an operator should use their own).
 */
#ifndef IPFIX_H
#define IPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/flow_record.h"

#define IPFIX_TEMPLATE_FLOW_V4 256
#define IPFIX_TEMPLATE_FLOW_V6 257
#define IPFIX_TEMPLATE_STATS 258 /* options: exporting process statistics */
/*
 * Flows that came encapsulated (flow_record_encapsulated(): MPLS, PPPoE,
 * a tunnel, QinQ) go out in 262 or 263: 256 or 257 and four elements
 * more at the end, mplsTopLabelStackSection (70, 3 bytes: label << 4 |
 * TC << 1 | S), dot1qCustomerVlanId (245: QinQ's inner tag), then the
 * enterprise IPFIX_PEN_TUNNEL and IPFIX_PEN_ENCAP. Numbered as in NetFlow
 * v9 (netflow9.h). A stream sends these templates from its first
 * encapsulated flow on, then with every set of templates; a plain flow's
 * record does not pay for them. docs/export.md says why these elements.
 */
#define IPFIX_TEMPLATE_ENCAP_V4 262
#define IPFIX_TEMPLATE_ENCAP_V6 263

#define IPFIX_DEFAULT_PEN 32473 /* RFC 5612: documentation only */
#define IPFIX_PAYLOAD_LIMIT 8952

/* Enterprise-specific element ids under the configured PEN. */
enum ipfix_enterprise_ie {
	IPFIX_PEN_RESET_VERDICT = 1, /* 1 genuine, 2 suspect, 3 forged; 0 none */
	IPFIX_PEN_BITTORRENT = 2, /* 1: the flow is BitTorrent */
	IPFIX_PEN_PACKETS_SEEN = 3, /* every packet the datapath saw */
	IPFIX_PEN_BYTES_SEEN = 4,
	IPFIX_PEN_FLOWS_EVICTED = 5, /* pushed out of full buckets early */
	IPFIX_PEN_TUNNEL = 6, /* enum flow_tunnel: the outermost tunnel */
	IPFIX_PEN_ENCAP = 7, /* enum flow_encap bits: PPPoE, MPLS ... */
};

struct ipfix_config {
	uint32_t domain_id; /* Observation Domain ID (--source-id) */
	uint32_t max_payload; /* bytes per message; 0: 1400 */
	uint32_t pen; /* 0: IPFIX_DEFAULT_PEN */
	uint32_t refresh_packets; /* 0: 20 */
	uint32_t refresh_ms; /* 0: 60000 */
	bool as_numbers; /* bgpSource/DestinationAsNumber */
	bool reset_verdicts; /* the enterprise reset verdict */
	bool next_hops; /* ipNextHopIPv4/IPv6Address: inline */
};

typedef int (*ipfix_emit_fn)(void *ctx, const uint8_t *msg, size_t len);

struct ipfix_stream {
	struct ipfix_config cfg;
	ipfix_emit_fn emit;
	void *emit_ctx;

	uint32_t sequence; /* data records sent before the next message */
	bool templates_sent;
	uint32_t packets_since_templates;
	uint64_t templates_ms;

	uint8_t pkt[IPFIX_PAYLOAD_LIMIT];
	size_t len; /* 0: no message open */
	uint32_t data_records; /* in the open message */
	uint16_t flows;
	bool pkt_has_templates;
	bool pkt_has_encap_templates;
	bool encap_templates; /* an encapsulated flow was seen: 262/263 go too */
	bool encap_templates_due; /* ... and must precede the next such record */
	size_t set_start;
	uint16_t set_id; /* 0: no data set open */

	uint64_t packets_sent, octets_sent, flows_sent;
	uint64_t emit_errors, flows_lost;
};

/* 0, or -EINVAL for a payload size out of range. */
int ipfix_stream_init(struct ipfix_stream *s, const struct ipfix_config *cfg, ipfix_emit_fn emit,
		      void *emit_ctx);

/* now_ms: wall clock, ms since the epoch (the header's export time). */
int ipfix_add_flow(struct ipfix_stream *s, const struct flow_record *rec, uint64_t now_ms);
int ipfix_add_stats(struct ipfix_stream *s, const struct probe_stats *st, uint64_t now_ms);
int ipfix_flush(struct ipfix_stream *s, uint64_t now_ms);
/* Emits what is pending, then a message of templates alone. */
int ipfix_send_templates(struct ipfix_stream *s, uint64_t now_ms);

/* A message of the templates alone, for the start of a new TCP session
 * (sequence 0); buf must hold IPFIX_PAYLOAD_LIMIT bytes. Returns its
 * length. The stream is not changed. */
size_t ipfix_template_message(const struct ipfix_stream *s, uint8_t *buf, uint64_t now_ms);

/* A message withdrawing every template of the stream (RFC 7011 8.1: the
 * All Data Templates and All Options Templates Withdrawals), which an
 * exporter sends over TCP before an orderly close; never over UDP. buf
 * must hold IPFIX_WITHDRAWAL_LEN bytes. Returns its length. The stream is
 * not changed. */
#define IPFIX_WITHDRAWAL_LEN 34
size_t ipfix_withdrawal_message(const struct ipfix_stream *s, uint8_t *buf, uint64_t now_ms);

/* Flow records any message of this stream holds at least. */
size_t ipfix_min_flows_per_packet(const struct ipfix_stream *s);

#endif /* IPFIX_H */
