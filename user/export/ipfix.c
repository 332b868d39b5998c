// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IPFIX encoder (see ipfix.h). Table-driven like netflow9.c, with the
 * same fields and accessors (export/flow_fields.h): each template is a
 * list of fields with how to get each value, so a template and its
 * records cannot disagree.
 */
#include <errno.h>
#include <string.h>
#include "export/flow_fields.h"
#include "export/ipfix.h"

#define IPFIX_VERSION 10
#define HEADER_LEN 16
#define SET_HEADER_LEN 4
#define SET_TEMPLATE 2
#define SET_OPTIONS_TEMPLATE 3
#define ENTERPRISE_BIT 0x8000
#define DEFAULT_PAYLOAD 1400
#define DEFAULT_REFRESH_PACKETS 20
#define DEFAULT_REFRESH_MS 60000

/* The order here is the order on the wire. */
static const struct ff_field flow_fields[] = {
	{ 1, 8, FF_ALL, .number = ff_bytes }, /* octetDeltaCount */
	{ 2, 8, FF_ALL, .number = ff_packets }, /* packetDeltaCount */
	{ 4, 1, FF_ALL, .number = ff_proto }, /* protocolIdentifier */
	{ 5, 1, FF_ALL, .number = ff_tos }, /* ipClassOfService */
	{ 6, 2, FF_ALL, .number = ff_tcp_flags }, /* tcpControlBits */
	{ 7, 2, FF_ALL, .number = ff_sport }, /* sourceTransportPort */
	{ 8, 4, FF_V4, .bytes = ff_src }, /* sourceIPv4Address */
	{ 27, 16, FF_V6, .bytes = ff_src }, /* sourceIPv6Address */
	{ 11, 2, FF_ALL, .number = ff_dport }, /* destinationTransportPort */
	{ 12, 4, FF_V4, .bytes = ff_dst }, /* destinationIPv4Address */
	{ 28, 16, FF_V6, .bytes = ff_dst }, /* destinationIPv6Address */
	{ 10, 4, FF_ALL, .number = ff_ifindex }, /* ingressInterface */
	{ 14, 4, FF_ALL, .number = ff_out_ifindex }, /* egressInterface: 0 unless inline */
	{ 32, 2, FF_V4, .number = ff_icmp }, /* icmpTypeCodeIPv4 */
	{ 139, 2, FF_V6, .number = ff_icmp }, /* icmpTypeCodeIPv6 */
	{ 52, 1, FF_ALL, .number = ff_ttl_min }, /* minimumTTL */
	{ 53, 1, FF_ALL, .number = ff_ttl_max }, /* maximumTTL */
	{ 58, 2, FF_ALL, .number = ff_vlan }, /* vlanId */
	{ 60, 1, FF_ALL, .number = ff_ip_version }, /* ipVersion */
	{ 61, 1, FF_ALL, .number = ff_direction }, /* flowDirection */
	{ 136, 1, FF_ALL, .number = ff_end_reason }, /* flowEndReason */
	{ 152, 8, FF_ALL, .number = ff_first_ms }, /* flowStartMilliseconds */
	{ 153, 8, FF_ALL, .number = ff_last_ms }, /* flowEndMilliseconds */
	{ 95, 5, FF_ALL, .number = ff_app_id }, /* applicationId */
	{ IPFIX_PEN_BITTORRENT, 1, FF_ALL, .number = ff_bittorrent, .enterprise = true },
	{ 16, 4, FF_ALL, FF_NEED_AS, .number = ff_src_as }, /* bgpSourceAsNumber */
	{ 17, 4, FF_ALL, FF_NEED_AS, .number = ff_dst_as }, /* bgpDestinationAsNumber */
	{ 15, 4, FF_V4, FF_NEED_NEXT_HOP, .bytes = ff_next_hop }, /* ipNextHopIPv4Address */
	{ 62, 16, FF_V6, FF_NEED_NEXT_HOP, .bytes = ff_next_hop }, /* ipNextHopIPv6Address */
	{ IPFIX_PEN_RESET_VERDICT, 1, FF_ALL, FF_NEED_VERDICT, .number = ff_reset_verdict,
	  .enterprise = true },
};

/*
 * What carried the flow: the encapsulation templates (ipfix.h) are the
 * others with these at the end. A table of its own, so a plain record's
 * encoding never walks it.
 */
static const struct ff_field encap_fields[] = {
	{ 70, 3, FF_ALL, .number = ff_mpls_top }, /* mplsTopLabelStackSection */
	{ 245, 2, FF_ALL, .number = ff_inner_vlan }, /* dot1qCustomerVlanId */
	{ IPFIX_PEN_TUNNEL, 1, FF_ALL, .number = ff_tunnel, .enterprise = true },
	{ IPFIX_PEN_ENCAP, 1, FF_ALL, .number = ff_encap, .enterprise = true },
};

/* What the view's enc points to here: the stream. */
static const struct ipfix_stream *stream(const struct ff_view *v)
{
	return v->enc;
}

static uint64_t domain(const struct ff_view *v)
{
	return stream(v)->cfg.domain_id;
}
static uint64_t octets_sent(const struct ff_view *v)
{
	return stream(v)->octets_sent;
}
static uint64_t packets_sent(const struct ff_view *v)
{
	return stream(v)->packets_sent;
}
static uint64_t flows_sent(const struct ff_view *v)
{
	return stream(v)->flows_sent;
}
static uint64_t flows_lost(const struct ff_view *v)
{
	return stream(v)->flows_lost;
}

/*
 * Exporting process reliability statistics (RFC 7011 section 4.3) and the
 * metering process's (4.2), for this collector; scope: the observation
 * domain. The first field is the scope.
 */
static const struct ff_field stats_fields[] = {
	{ 149, 4, FF_ALL, .number = domain }, /* observationDomainId */
	{ 40, 8, FF_ALL, .number = octets_sent }, /* exportedOctetTotalCount */
	{ 41, 8, FF_ALL, .number = packets_sent }, /* exportedMessageTotalCount */
	{ 42, 8, FF_ALL, .number = flows_sent }, /* exportedFlowRecordTotalCount */
	{ 166, 8, FF_ALL, .number = flows_lost }, /* notSentFlowTotalCount */
	{ 164, 8, FF_ALL, .number = ff_packets_uncounted }, /* ignoredPacketTotalCount */
	{ 165, 8, FF_ALL, .number = ff_bytes_uncounted }, /* ignoredOctetTotalCount */
	{ IPFIX_PEN_PACKETS_SEEN, 8, FF_ALL, .number = ff_packets_seen, .enterprise = true },
	{ IPFIX_PEN_BYTES_SEEN, 8, FF_ALL, .number = ff_bytes_seen, .enterprise = true },
	{ IPFIX_PEN_FLOWS_EVICTED, 8, FF_ALL, .number = ff_flows_evicted, .enterprise = true },
};
#define STATS_SCOPE_FIELDS 1

static struct ff_layout flow_layout(const struct ipfix_config *c, uint8_t family)
{
	return (struct ff_layout){ flow_fields, FF_ARRAY_LEN(flow_fields), family,
				   (c->as_numbers ? FF_NEED_AS : 0) |
					   (c->reset_verdicts ? FF_NEED_VERDICT : 0) |
					   (c->next_hops ? FF_NEED_NEXT_HOP : 0) };
}

static const struct ff_layout stats_layout = { stats_fields, FF_ARRAY_LEN(stats_fields), FF_ALL,
					       0 };
static const struct ff_layout encap_layout = { encap_fields, FF_ARRAY_LEN(encap_fields), FF_ALL,
					       0 };

/* Field specifiers: id (enterprise bit set, then the PEN) and length. */
static uint8_t *put_specs(uint8_t *p, const struct ff_layout *l, uint32_t pen)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!ff_in_layout(l, i))
			continue;
		p = ff_put_be(p, l->f[i].id | (l->f[i].enterprise ? ENTERPRISE_BIT : 0), 2);
		p = ff_put_be(p, l->f[i].len, 2);
		if (l->f[i].enterprise)
			p = ff_put_be(p, pen, 4);
	}
	return p;
}

/* A template set with both data templates, an options template set. */
static size_t put_templates(uint8_t *p, const struct ipfix_config *c)
{
	struct ff_layout v4 = flow_layout(c, FF_V4), v6 = flow_layout(c, FF_V6);
	uint8_t *start = p, *set = p;

	p = ff_put_be(set, SET_TEMPLATE, 2) + 2;
	p = ff_put_be(p, IPFIX_TEMPLATE_FLOW_V4, 2);
	p = ff_put_be(p, ff_field_count(&v4), 2);
	p = put_specs(p, &v4, c->pen);
	p = ff_put_be(p, IPFIX_TEMPLATE_FLOW_V6, 2);
	p = ff_put_be(p, ff_field_count(&v6), 2);
	p = put_specs(p, &v6, c->pen);
	set = ff_end_set(set, p);

	p = ff_put_be(set, SET_OPTIONS_TEMPLATE, 2) + 2;
	p = ff_put_be(p, IPFIX_TEMPLATE_STATS, 2);
	p = ff_put_be(p, ff_field_count(&stats_layout), 2);
	p = ff_put_be(p, STATS_SCOPE_FIELDS, 2);
	p = put_specs(p, &stats_layout, c->pen);
	p = ff_end_set(set, p);
	return p - start;
}

/*
 * The encapsulation templates, in a template set of their own: with the
 * others when there is room, else at the head of the next message
 * (open_message), so they never raise the smallest message size.
 */
static size_t put_encap_templates(uint8_t *p, const struct ipfix_config *c)
{
	uint8_t *set = p;

	p = ff_put_be(set, SET_TEMPLATE, 2) + 2;
	for (uint8_t fam = FF_V4; fam <= FF_V6; fam <<= 1) {
		struct ff_layout l = flow_layout(c, fam);

		p = ff_put_be(p, fam == FF_V4 ? IPFIX_TEMPLATE_ENCAP_V4 : IPFIX_TEMPLATE_ENCAP_V6,
			      2);
		p = ff_put_be(p, ff_field_count(&l) + ff_field_count(&encap_layout), 2);
		p = put_specs(p, &l, c->pen);
		p = put_specs(p, &encap_layout, c->pen);
	}
	return ff_end_set(set, p) - set;
}

static size_t templates_len(const struct ipfix_config *c)
{
	uint8_t scratch[IPFIX_PAYLOAD_LIMIT];

	return put_templates(scratch, c);
}

static size_t encap_templates_len(const struct ipfix_config *c)
{
	uint8_t scratch[IPFIX_PAYLOAD_LIMIT];

	return put_encap_templates(scratch, c);
}

/* The longest record is an IPv6 one (or the statistics), of the
 * encapsulation templates or of the others. */
static size_t largest_set_len(const struct ipfix_config *c, bool encap)
{
	struct ff_layout v6 = flow_layout(c, FF_V6);
	size_t a = ff_record_len(&v6) + (encap ? ff_record_len(&encap_layout) : 0);
	size_t b = ff_record_len(&stats_layout);

	return ff_pad4(SET_HEADER_LEN + (a > b ? a : b));
}

/* A message that opens with the templates must still take any record but
 * an encapsulated one, and one that opens with the encapsulation
 * templates any record. */
static size_t min_payload(const struct ipfix_config *c)
{
	size_t t = templates_len(c) + largest_set_len(c, false);
	size_t e = encap_templates_len(c) + largest_set_len(c, true);

	return HEADER_LEN + (t > e ? t : e);
}

int ipfix_stream_init(struct ipfix_stream *s, const struct ipfix_config *cfg, ipfix_emit_fn emit,
		      void *emit_ctx)
{
	struct ipfix_config c = *cfg;

	if (!c.max_payload)
		c.max_payload = DEFAULT_PAYLOAD;
	if (!c.pen)
		c.pen = IPFIX_DEFAULT_PEN;
	if (!c.refresh_packets)
		c.refresh_packets = DEFAULT_REFRESH_PACKETS;
	if (!c.refresh_ms)
		c.refresh_ms = DEFAULT_REFRESH_MS;
	if (c.max_payload > IPFIX_PAYLOAD_LIMIT || c.max_payload < min_payload(&c))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->cfg = c;
	s->emit = emit;
	s->emit_ctx = emit_ctx;
	return 0;
}

size_t ipfix_min_flows_per_packet(const struct ipfix_stream *s)
{
	return ff_min_flows_per_message(HEADER_LEN, templates_len(&s->cfg),
					s->encap_templates ? encap_templates_len(&s->cfg) : 0,
					largest_set_len(&s->cfg, true), s->cfg.max_payload);
}

static bool templates_due(const struct ipfix_stream *s, uint64_t now_ms)
{
	return !s->templates_sent || s->packets_since_templates >= s->cfg.refresh_packets ||
	       now_ms - s->templates_ms >= s->cfg.refresh_ms;
}

static void close_set(struct ipfix_stream *s);

/* The encapsulation template set, after whatever the message holds. */
static void put_encap_templates_here(struct ipfix_stream *s)
{
	close_set(s);
	s->len += put_encap_templates(s->pkt + s->len, &s->cfg);
	s->encap_templates_due = false;
	s->pkt_has_encap_templates = true;
}

static void open_message(struct ipfix_stream *s, bool with_templates)
{
	s->len = HEADER_LEN;
	s->data_records = 0;
	s->flows = 0;
	s->set_id = 0;
	s->pkt_has_templates = with_templates;
	s->pkt_has_encap_templates = false;
	if (with_templates) {
		s->len += put_templates(s->pkt + s->len, &s->cfg);
		/* a refresh of the others is one of these too */
		s->encap_templates_due = s->encap_templates;
	}
	/* with them when there is room, else in the next message (min_payload) */
	if (s->encap_templates_due &&
	    s->len + encap_templates_len(&s->cfg) + largest_set_len(&s->cfg, true) <=
		    s->cfg.max_payload)
		put_encap_templates_here(s);
}

static void close_set(struct ipfix_stream *s)
{
	if (!s->set_id)
		return;
	s->len = ff_end_set(s->pkt + s->set_start, s->pkt + s->len) - s->pkt;
	s->set_id = 0;
}

static int emit_message(struct ipfix_stream *s, uint64_t now_ms)
{
	uint8_t *p = s->pkt;
	int err;

	close_set(s);
	p = ff_put_be(p, IPFIX_VERSION, 2);
	p = ff_put_be(p, s->len, 2);
	p = ff_put_be(p, now_ms / 1000, 4);
	p = ff_put_be(p, s->sequence, 4);
	ff_put_be(p, s->cfg.domain_id, 4);
	err = s->emit(s->emit_ctx, s->pkt, s->len);
	/* The sequence counts data records sent, lost ones too: a collector
	 * sees the gap, which is the truth. */
	s->sequence += s->data_records;
	if (err < 0) {
		s->emit_errors++;
		s->flows_lost += s->flows;
		if (s->pkt_has_templates)
			s->templates_sent = false;
		if (s->pkt_has_encap_templates)
			s->encap_templates_due = true;
	} else {
		s->packets_sent++;
		s->octets_sent += s->len;
		s->flows_sent += s->flows;
		if (s->pkt_has_templates) {
			s->templates_sent = true;
			s->templates_ms = now_ms;
			s->packets_since_templates = 0;
		}
	}
	s->packets_since_templates++;
	s->len = 0;
	return err < 0 ? err : 0;
}

static bool fits(const struct ipfix_stream *s, uint16_t set_id, size_t rec_len)
{
	size_t end;

	if (s->set_id == set_id)
		end = s->set_start + ff_pad4(s->len - s->set_start + rec_len);
	else
		end = (s->set_id ? s->set_start + ff_pad4(s->len - s->set_start) : s->len) +
		      ff_pad4(SET_HEADER_LEN + rec_len);
	return end <= s->cfg.max_payload;
}

static bool is_encap_set(uint16_t set_id)
{
	return set_id == IPFIX_TEMPLATE_ENCAP_V4 || set_id == IPFIX_TEMPLATE_ENCAP_V6;
}

/* Would they fit in the open message, and a record of rec_len after them? */
static bool encap_templates_fit(const struct ipfix_stream *s, size_t rec_len)
{
	size_t closed = s->set_id ? s->set_start + ff_pad4(s->len - s->set_start) : s->len;

	return closed + encap_templates_len(&s->cfg) + ff_pad4(SET_HEADER_LEN + rec_len) <=
	       s->cfg.max_payload;
}

static uint8_t *reserve(struct ipfix_stream *s, uint16_t set_id, size_t rec_len, uint64_t now_ms,
			int *err)
{
	uint8_t *rec;

	*err = 0;
	if (s->len && !fits(s, set_id, rec_len))
		*err = emit_message(s, now_ms);
	if (!s->len)
		open_message(s, templates_due(s, now_ms));
	/* a record of the encapsulation templates never precedes them */
	if (is_encap_set(set_id) && s->encap_templates_due) {
		if (!encap_templates_fit(s, rec_len)) {
			int e = emit_message(s, now_ms);

			*err = *err ? *err : e;
			open_message(s, false);
		}
		if (s->encap_templates_due)
			put_encap_templates_here(s);
	}
	if (s->set_id != set_id) {
		close_set(s);
		s->set_start = s->len;
		s->set_id = set_id;
		ff_put_be(s->pkt + s->len, set_id, 2);
		s->len += SET_HEADER_LEN;
	}
	rec = s->pkt + s->len;
	s->len += rec_len;
	s->data_records++;
	return rec;
}

int ipfix_add_flow(struct ipfix_stream *s, const struct flow_record *rec, uint64_t now_ms)
{
	struct ff_view v = { .rec = rec, .enc = s };
	bool encap = flow_record_encapsulated(rec);
	struct ff_layout l;
	uint16_t id;
	uint8_t *p;
	int err;

	if (rec->key.ip_version == 4) {
		l = flow_layout(&s->cfg, FF_V4);
		id = encap ? IPFIX_TEMPLATE_ENCAP_V4 : IPFIX_TEMPLATE_FLOW_V4;
	} else if (rec->key.ip_version == 6) {
		l = flow_layout(&s->cfg, FF_V6);
		id = encap ? IPFIX_TEMPLATE_ENCAP_V6 : IPFIX_TEMPLATE_FLOW_V6;
	} else {
		return -EINVAL;
	}
	/* the first flow that needs them switches them on for good */
	if (encap && !s->encap_templates)
		s->encap_templates = s->encap_templates_due = true;
	p = reserve(s, id, ff_record_len(&l) + (encap ? ff_record_len(&encap_layout) : 0), now_ms,
		    &err);
	p = ff_put_record(p, &l, &v);
	if (encap)
		ff_put_record(p, &encap_layout, &v);
	s->flows++;
	return err;
}

int ipfix_add_stats(struct ipfix_stream *s, const struct probe_stats *st, uint64_t now_ms)
{
	struct ff_view v = { .stats = st, .enc = s };
	int err;
	uint8_t *p = reserve(s, IPFIX_TEMPLATE_STATS, ff_record_len(&stats_layout), now_ms, &err);

	ff_put_record(p, &stats_layout, &v);
	return err;
}

int ipfix_flush(struct ipfix_stream *s, uint64_t now_ms)
{
	return s->len ? emit_message(s, now_ms) : 0;
}

size_t ipfix_template_message(const struct ipfix_stream *s, uint8_t *buf, uint64_t now_ms)
{
	size_t len = HEADER_LEN + put_templates(buf + HEADER_LEN, &s->cfg);
	uint8_t *p = buf;

	if (s->encap_templates)
		len += put_encap_templates(buf + len, &s->cfg);

	p = ff_put_be(p, IPFIX_VERSION, 2);
	p = ff_put_be(p, len, 2);
	p = ff_put_be(p, now_ms / 1000, 4);
	p = ff_put_be(p, 0, 4); /* a new session: no data record before */
	ff_put_be(p, s->cfg.domain_id, 4);
	return len;
}

size_t ipfix_withdrawal_message(const struct ipfix_stream *s, uint8_t *buf, uint64_t now_ms)
{
	uint8_t *p = buf;

	p = ff_put_be(p, IPFIX_VERSION, 2);
	p = ff_put_be(p, IPFIX_WITHDRAWAL_LEN, 2);
	p = ff_put_be(p, now_ms / 1000, 4);
	p = ff_put_be(p, s->sequence, 4);
	p = ff_put_be(p, s->cfg.domain_id, 4);
	/* Template id 2 in a Template Set, 3 in an Options Template Set,
	 * field count 0: every template of each kind withdrawn (8.1). The
	 * options one gets 2 bytes of zero padding (3.3.1 allows padding
	 * shorter than a record): Wireshark 4.0 reads an options template
	 * record's scope count even when its field count is 0, and calls a
	 * set without it malformed. */
	p = ff_put_be(p, SET_TEMPLATE, 2);
	p = ff_put_be(p, SET_HEADER_LEN + 4, 2);
	p = ff_put_be(p, SET_TEMPLATE, 2);
	p = ff_put_be(p, 0, 2);
	p = ff_put_be(p, SET_OPTIONS_TEMPLATE, 2);
	p = ff_put_be(p, SET_HEADER_LEN + 6, 2);
	p = ff_put_be(p, SET_OPTIONS_TEMPLATE, 2);
	p = ff_put_be(p, 0, 2);
	ff_put_be(p, 0, 2);
	return IPFIX_WITHDRAWAL_LEN;
}

int ipfix_send_templates(struct ipfix_stream *s, uint64_t now_ms)
{
	int err = ipfix_flush(s, now_ms), err2;

	open_message(s, true);
	err2 = emit_message(s, now_ms);
	return err ? err : err2;
}
