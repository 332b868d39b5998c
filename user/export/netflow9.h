/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetFlow v9 (RFC 3954) encoder. It turns finished flows and the probe's
 * statistics into export packets for one collector and hands each packet to
 * a callback; it opens no socket, reads no clock and keeps no globals, so
 * every byte it produces is a function of its inputs and the unit tests can
 * check them exactly. Each collector gets its own struct nf9_stream, hence
 * its own sequence numbers and template schedule.
 */
#ifndef NETFLOW9_H
#define NETFLOW9_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/flow_record.h"

/* Template ids are fixed so a collector's template cache survives restarts. */
#define NF9_TEMPLATE_FLOW_V4 256 /* data: IPv4 flows */
#define NF9_TEMPLATE_FLOW_V6 257 /* data: IPv6 flows */
#define NF9_TEMPLATE_STATS 258 /* options: sampling + probe statistics */
#define NF9_TEMPLATE_APPS 259 /* options: names of application ids */
#define NF9_TEMPLATE_RESET_V4 260 /* data: IPv4 flows with a reset verdict */
#define NF9_TEMPLATE_RESET_V6 261 /* data: IPv6 flows with a reset verdict */
#define NF9_TEMPLATE_ENCAP_V4 262 /* data: IPv4 flows that came encapsulated */
#define NF9_TEMPLATE_ENCAP_V6 263 /* data: IPv6 flows that came encapsulated */

/*
 * The encapsulation templates: a flow that came by MPLS, PPPoE, a tunnel
 * or in QinQ (flow_record_encapsulated()) goes out in template 262 or
 * 263, which is 256 or 257 (with the reset verdict when the reset
 * templates are on: 0 for none) and four fields more at the end:
 * MPLS_LABEL_1 (70, 3 bytes: label << 4 | TC << 1 | S, the top entry),
 * dot1qCustomerVlanId (245, 2 bytes: the inner tag of QinQ, IANA's id,
 * as Wireshark and nfdump read it in v9 too), then NF9_FIELD_TUNNEL and
 * NF9_FIELD_ENCAP (1 byte each: enum flow_tunnel, enum flow_encap bits),
 * private ids chosen by the rules of 21075 below. A plain flow's record
 * does not pay for them, and a stream sends these two templates only
 * from its first encapsulated flow on (that flow's packet is the first
 * to carry them, in a template FlowSet of their own), then with every
 * refresh of the others, so a probe that never sees one sends what it
 * always did. docs/export.md says why these fields.
 */
#define NF9_FIELD_TUNNEL 21079
#define NF9_FIELD_ENCAP 21080

/*
 * The reset templates (nf9_config.reset_verdicts): a flow whose TCP
 * connection had a reset decided (flow_record.reset_verdict != 0: 1
 * genuine, 2 suspect, 3 forged, the worst of its resets) goes out in
 * template 260 or 261, which is 256 or 257 with one more field at the
 * end, NF9_FIELD_RESET_VERDICT, 1 byte. Flows without a verdict keep the
 * normal templates, so a collector that ignores 260/261 loses only the
 * flows of reset connections, and a collector that stores unknown fields
 * (nfdump does not; Wireshark shows them) sees the verdict. Switched off,
 * every flow goes out in 256/257 and the verdict is not exported.
 *
 * Why 21075 (0x5253, "RS"): NetFlow v9 has no enterprise numbers, so a
 * private field id must avoid every id that anyone assigns. Checked
 * against Wireshark 4.0's cflow dissector (tshark -G values: v9 ids are
 * 1-491 from RFC 3954 and IANA's IPFIX registry, then 24628-24635,
 * 33000-34003 and 40000-40005 Cisco ASA/NSEL, 37000-37086 Cisco AVC,
 * 57552-57943 ntop nProbe), nfdump 1.7's netflow_v9.h (the same, plus
 * 29305 for reverse elements and 32764-32766 for its own local fields)
 * and pmacct's nfacctd.h (nothing above 408 but the ASA ids). IANA's
 * registry grows from ~500 upward by a few dozen a year; 21075 stays far
 * from it, below 32768 (so a v9-to-IPFIX converter never reads its top
 * bit as an enterprise bit), and outside every vendor block above.
 * Wireshark shows it as an unknown type with its value as bytes. The
 * clean home is IPFIX with an enterprise number.
 */
#define NF9_FIELD_RESET_VERDICT 21075

/*
 * The statistics options record (template 258) carries what the probe saw
 * beside what it exported. Fields 40/41/42 are exported totals (bytes and
 * packets of export packets, flow records: RFC 3954, IANA
 * exportedOctetTotalCount and friends) and 164/165 the packets and bytes
 * the datapath could not count (ignoredPacketTotalCount and
 * ignoredOctetTotalCount); what the datapath saw, and the flows pushed out
 * of full kernel table buckets early (counted, exported as their own
 * records), have no standard field, so they get private ids next to
 * 21075, chosen by the same rules (free in every registry and vendor
 * block above, below 32768). Collectors that do not know them skip them.
 */
#define NF9_FIELD_PACKETS_SEEN 21076
#define NF9_FIELD_BYTES_SEEN 21077
#define NF9_FIELD_FLOWS_EVICTED 21078

/*
 * APPLICATION_ID (field 95, RFC 6759): 1 byte classification engine id,
 * then the selector id, here 4 bytes. Flows carry it in both data
 * templates; 0 (engine 0, "invalid" in IANA's registry) means not
 * classified. BitTorrent is engine 22, "ntop nDPI" in IANA's registry of
 * classification engines, selector 37, nDPI's NDPI_PROTOCOL_BITTORRENT:
 * the wire bytes are 16 00 00 00 25.
 *
 * Why nDPI's numbering: RFC 6759 leaves the selector to the engine, and
 * nDPI is the one open engine with a registered engine id and a public,
 * stable protocol list (the alternative, engine 13 PANA-L7, is Cisco
 * NBAR's private numbering). Wireshark 4.0's cflow dissector names the
 * engine ("Classification Engine ID: ntop nDPI (22)") and shows the
 * selector as bytes ("Selector ID: 00000025"), and the options records of
 * NF9_TEMPLATE_APPS as "ApplicationName: BitTorrent"; nfdump 1.7.1 prints
 * %nbid as "22..37" and, having stored those options records, %nbnam as
 * "BitTorrent/Peer-to-peer file sharing" (name/description; "0..0" and
 * "<no info>" for unclassified flows).
 */
#define NF9_APP_ID(engine, selector) ((uint64_t)(engine) << 32 | (uint32_t)(selector))
#define NF9_ENGINE_NDPI 22
#define NF9_NDPI_BITTORRENT 37

/* Fixed lengths of APPLICATION_NAME (96) and _DESCRIPTION (94), NUL padded. */
#define NF9_APP_NAME_LEN 24
#define NF9_APP_DESC_LEN 32

#define NF9_DEFAULT_MAX_PAYLOAD 1400
#define NF9_DEFAULT_REFRESH_PACKETS 20
#define NF9_DEFAULT_REFRESH_MS 60000
/*
 * Largest payload a stream can be configured for: a 9000-byte jumbo MTU
 * minus IPv6 and UDP headers. Export packets are never fragmented.
 */
#define NF9_PAYLOAD_LIMIT 8952

/* Zero in any field selects its default. */
struct nf9_config {
	uint32_t source_id;
	uint32_t max_payload; /* UDP payload bytes per export packet */
	uint32_t refresh_packets; /* templates again after this many packets */
	uint32_t refresh_ms; /* ... or after this long, whichever first */
	/* SRC_AS (16) and DST_AS (17), 4 bytes each, after APPLICATION_ID in
	 * every data template: set when an AS table fills the records. */
	bool as_numbers;
	/* Flows with a reset verdict in the reset templates (above). */
	bool reset_verdicts;
	/* IPV4_NEXT_HOP (15) / IPV6_NEXT_HOP (62) after the AS numbers: set
	 * inline, where records carry a route (OUTPUT_SNMP is always there). */
	bool next_hops;
};

/*
 * The caller's clock, passed on every call. The header is stamped at now_ms
 * rounded up to the whole second (T): unix_secs = T / 1000 and sysUptime =
 * (uint32_t)(T - uptime_base_ms), so unix_secs * 1000 - sysUptime is exactly
 * uptime_base_ms and collectors date FIRST/LAST_SWITCHED
 * ((uint32_t)(time - uptime_base_ms), clamped to 0 before the base) to the
 * millisecond. All three wrap modulo 2^32 ms (49.7 days): collectors that
 * subtract in 32 bits (sysUptime - SWITCHED) stay right across the wrap,
 * but nfdump 1.7.1 dates a record whose times all precede a wrap the header
 * is past 2^32 ms late, so callers move uptime_base_ms forward well before
 * the wrap with nf9_next_uptime_base(). Records also carry absolute
 * flowStart/EndMilliseconds, which never wrap.
 */
struct nf9_clock {
	uint64_t now_ms; /* wall clock, ms since the Unix epoch */
	uint64_t uptime_base_ms; /* wall clock when the exporter started */
};

/*
 * The uptime base to pass from now on: base_ms itself until sysUptime
 * reaches NF9_REBASE_AFTER_MS (2^31 ms, 24.8 days), then now_ms -
 * max_age_ms, so that every flow still to be exported (max_age_ms: the
 * oldest first_ms the flow cache can hold) starts after the new base and no
 * time ever comes near the 2^32 wrap. A new base sends templates again.
 */
#define NF9_REBASE_AFTER_MS (1ULL << 31)
uint64_t nf9_next_uptime_base(uint64_t base_ms, uint64_t now_ms, uint64_t max_age_ms);

/* The APPLICATION_ID of an enum flow_app; 0 for any the encoder cannot name. */
uint64_t nf9_application_id(uint8_t app);

/* Sends one export packet; returns < 0 (a negative errno) on failure. */
typedef int (*nf9_emit_fn)(void *ctx, const uint8_t *pkt, size_t len);

struct nf9_stream {
	struct nf9_config cfg;
	nf9_emit_fn emit;
	void *emit_ctx;

	uint32_t sequence; /* of the next packet emitted */
	bool templates_sent; /* false: next packet opens with them */
	uint32_t packets_since_templates;
	uint64_t templates_ms; /* now_ms when they were last emitted */
	uint64_t templates_base_ms; /* uptime_base_ms they were sent with */
	bool encap_templates; /* an encapsulated flow was seen: 262/263 go too */
	bool encap_templates_due; /* ... and must precede the next such record */

	/* the packet being filled; len == 0 when none is open */
	uint8_t pkt[NF9_PAYLOAD_LIMIT];
	size_t len;
	uint64_t pkt_base_ms; /* uptime_base_ms of its records */
	uint16_t count; /* records, as the header counts them */
	uint16_t flows; /* flow data records among them */
	bool pkt_has_templates;
	bool pkt_has_encap_templates;
	size_t set_start; /* offset of the open FlowSet header */
	uint16_t set_id; /* its id; 0 when no data FlowSet is open */

	/* counters for the daemon's own statistics */
	uint64_t packets_sent; /* emit succeeded */
	uint64_t octets_sent; /* bytes of those packets */
	uint64_t records_sent; /* header counts of those packets */
	uint64_t flows_sent; /* flow data records in them */
	uint64_t emit_errors; /* packets whose emit failed */
	uint64_t records_lost; /* header counts of those packets */
	uint64_t flows_lost; /* flow data records in them */
};

/*
 * Returns 0, or -EINVAL when max_payload is over NF9_PAYLOAD_LIMIT or too
 * small to hold the templates and one record.
 */
int nf9_stream_init(struct nf9_stream *s, const struct nf9_config *cfg, nf9_emit_fn emit,
		    void *emit_ctx);

/*
 * Queue one flow. IPv4 and IPv6 go to their own data FlowSets; records of
 * one family in a row share one, so grouping by family saves a 4-byte
 * FlowSet header per switch. The open packet is emitted first when the
 * record does not fit in it, or when uptime_base_ms changed. Returns 0,
 * -EINVAL for a key that is neither IPv4 nor IPv6 (nothing queued), or the
 * emit error of a packet flushed on the way (the record is still queued).
 *
 * Emit failures: the packet is dropped and counted, its sequence number
 * stays used (the collector sees the gap, which is the truth: an export
 * packet was lost), and templates it carried are sent again in the next
 * packet so no data can arrive before its template.
 */
int nf9_add_flow(struct nf9_stream *s, const struct flow_record *rec, const struct nf9_clock *clk);

/* Queue one options data record of the probe's statistics; returns as above. */
int nf9_add_stats(struct nf9_stream *s, const struct probe_stats *st, const struct nf9_clock *clk);

/* Emit the open packet, if any (never an empty one). Returns 0 or emit's error. */
int nf9_flush(struct nf9_stream *s, const struct nf9_clock *clk);

/* Flow records any export packet of this stream holds at least, whatever
 * the families and templates in it: how the caller turns room for
 * packets into room for flows. */
size_t nf9_min_flows_per_packet(const struct nf9_stream *s);

/*
 * Emit what is pending, then a packet of templates alone: at start-up, so
 * collectors know the templates before the first flow, and whenever the
 * caller knows a collector lost them. Every packet that carries templates
 * (this one, and the refreshes every refresh_packets or refresh_ms) also
 * carries the options data naming each application id (template
 * NF9_TEMPLATE_APPS, one record per known application), so the names need
 * no call of their own.
 */
int nf9_send_templates(struct nf9_stream *s, const struct nf9_clock *clk);

#endif /* NETFLOW9_H */
