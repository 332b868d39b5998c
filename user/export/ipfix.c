// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IPFIX encoder (see ipfix.h). Table-driven like netflow9.c: each
 * template is a list of fields with how to get each value, so a template
 * and its records cannot disagree.
 */
#include <errno.h>
#include <string.h>
#include "export/ipfix.h"
#include "export/netflow9.h" /* nf9_application_id: one numbering */

#define IPFIX_VERSION 10
#define HEADER_LEN 16
#define SET_HEADER_LEN 4
#define SET_TEMPLATE 2
#define SET_OPTIONS_TEMPLATE 3
#define ENTERPRISE_BIT 0x8000
#define DEFAULT_PAYLOAD 1400
#define DEFAULT_REFRESH_PACKETS 20
#define DEFAULT_REFRESH_MS 60000

enum {
	FAM_V4 = 1,
	FAM_V6 = 2,
	FAM_ALL = 3
};
enum {
	NEED_AS = 1,
	NEED_VERDICT = 2,
	NEED_NEXT_HOP = 4
};

struct view {
	const struct flow_record *rec;
	const struct probe_stats *st;
	const struct ipfix_stream *s;
};

struct field {
	uint16_t id;
	uint16_t len;
	bool enterprise; /* under cfg.pen */
	uint8_t families;
	uint8_t needs;
	uint64_t (*number)(const struct view *v);
	const uint8_t *(*bytes)(const struct view *v);
};

static bool is_icmp(uint8_t proto)
{
	return proto == 1 || proto == 58;
}

static uint64_t octets(const struct view *v)
{
	return v->rec->bytes;
}
static uint64_t packets(const struct view *v)
{
	return v->rec->packets;
}
static uint64_t proto(const struct view *v)
{
	return v->rec->key.proto;
}
static uint64_t tos(const struct view *v)
{
	return v->rec->tos;
}
static uint64_t tcp_flags(const struct view *v)
{
	return v->rec->tcp_flags;
}
/* ICMP: 0 and type·256+code, as in v9 and as other exporters do: pmacct
 * reads ICMP type and code only there; icmpTypeCode has them too. */
static uint64_t sport(const struct view *v)
{
	return v->rec->key.sport;
}
static uint64_t dport(const struct view *v)
{
	return v->rec->key.dport;
}
static uint64_t ifindex(const struct view *v)
{
	return v->rec->key.ifindex;
}
/* The key holds ICMP type << 8 | code in dport: icmpTypeCode's layout. */
static uint64_t icmp(const struct view *v)
{
	return is_icmp(v->rec->key.proto) ? v->rec->key.dport : 0;
}
static uint64_t ttl_min(const struct view *v)
{
	return v->rec->ttl_min;
}
static uint64_t ttl_max(const struct view *v)
{
	return v->rec->ttl_max;
}
static uint64_t vlan(const struct view *v)
{
	return v->rec->key.vlan;
}
static uint64_t ip_version(const struct view *v)
{
	return v->rec->key.ip_version;
}
static uint64_t direction(const struct view *v)
{
	return v->rec->direction;
}
static uint64_t end_reason(const struct view *v)
{
	return v->rec->end_reason;
}
static uint64_t start_ms(const struct view *v)
{
	return v->rec->first_ms;
}
static uint64_t end_ms(const struct view *v)
{
	return v->rec->last_ms;
}
static uint64_t app_id(const struct view *v)
{
	return nf9_application_id(v->rec->app);
}
static uint64_t src_as(const struct view *v)
{
	return v->rec->src_as;
}
static uint64_t dst_as(const struct view *v)
{
	return v->rec->dst_as;
}
static uint64_t verdict(const struct view *v)
{
	return v->rec->reset_verdict;
}
static uint64_t bittorrent(const struct view *v)
{
	return v->rec->app == APP_BITTORRENT;
}
static uint64_t mpls_top(const struct view *v)
{
	return flow_record_mpls_top(v->rec);
}
static uint64_t inner_vlan(const struct view *v)
{
	return v->rec->inner_vlan;
}
static uint64_t tunnel(const struct view *v)
{
	return v->rec->tunnel;
}
static uint64_t encap(const struct view *v)
{
	return v->rec->encap;
}
static const uint8_t *src(const struct view *v)
{
	return v->rec->key.src;
}
static const uint8_t *dst(const struct view *v)
{
	return v->rec->key.dst;
}
static const uint8_t *next_hop(const struct view *v)
{
	return v->rec->next_hop;
}
static uint64_t out_ifindex(const struct view *v)
{
	return v->rec->out_ifindex;
}

/* The order here is the order on the wire. */
static const struct field flow_fields[] = {
	{ 1, 8, false, FAM_ALL, 0, octets, NULL }, /* octetDeltaCount */
	{ 2, 8, false, FAM_ALL, 0, packets, NULL }, /* packetDeltaCount */
	{ 4, 1, false, FAM_ALL, 0, proto, NULL }, /* protocolIdentifier */
	{ 5, 1, false, FAM_ALL, 0, tos, NULL }, /* ipClassOfService */
	{ 6, 2, false, FAM_ALL, 0, tcp_flags, NULL }, /* tcpControlBits */
	{ 7, 2, false, FAM_ALL, 0, sport, NULL }, /* sourceTransportPort */
	{ 8, 4, false, FAM_V4, 0, NULL, src }, /* sourceIPv4Address */
	{ 27, 16, false, FAM_V6, 0, NULL, src }, /* sourceIPv6Address */
	{ 11, 2, false, FAM_ALL, 0, dport, NULL }, /* destinationTransportPort */
	{ 12, 4, false, FAM_V4, 0, NULL, dst }, /* destinationIPv4Address */
	{ 28, 16, false, FAM_V6, 0, NULL, dst }, /* destinationIPv6Address */
	{ 10, 4, false, FAM_ALL, 0, ifindex, NULL }, /* ingressInterface */
	{ 14, 4, false, FAM_ALL, 0, out_ifindex, NULL }, /* egressInterface: 0 unless inline */
	{ 32, 2, false, FAM_V4, 0, icmp, NULL }, /* icmpTypeCodeIPv4 */
	{ 139, 2, false, FAM_V6, 0, icmp, NULL }, /* icmpTypeCodeIPv6 */
	{ 52, 1, false, FAM_ALL, 0, ttl_min, NULL }, /* minimumTTL */
	{ 53, 1, false, FAM_ALL, 0, ttl_max, NULL }, /* maximumTTL */
	{ 58, 2, false, FAM_ALL, 0, vlan, NULL }, /* vlanId */
	{ 60, 1, false, FAM_ALL, 0, ip_version, NULL }, /* ipVersion */
	{ 61, 1, false, FAM_ALL, 0, direction, NULL }, /* flowDirection */
	{ 136, 1, false, FAM_ALL, 0, end_reason, NULL }, /* flowEndReason */
	{ 152, 8, false, FAM_ALL, 0, start_ms, NULL }, /* flowStartMilliseconds */
	{ 153, 8, false, FAM_ALL, 0, end_ms, NULL }, /* flowEndMilliseconds */
	{ 95, 5, false, FAM_ALL, 0, app_id, NULL }, /* applicationId */
	{ IPFIX_PEN_BITTORRENT, 1, true, FAM_ALL, 0, bittorrent, NULL },
	{ 16, 4, false, FAM_ALL, NEED_AS, src_as, NULL }, /* bgpSourceAsNumber */
	{ 17, 4, false, FAM_ALL, NEED_AS, dst_as, NULL }, /* bgpDestinationAsNumber */
	{ 15, 4, false, FAM_V4, NEED_NEXT_HOP, NULL, next_hop }, /* ipNextHopIPv4Address */
	{ 62, 16, false, FAM_V6, NEED_NEXT_HOP, NULL, next_hop }, /* ipNextHopIPv6Address */
	{ IPFIX_PEN_RESET_VERDICT, 1, true, FAM_ALL, NEED_VERDICT, verdict, NULL },
};

/*
 * What carried the flow: the encapsulation templates (ipfix.h) are the
 * others with these at the end. A table of its own, so a plain record's
 * encoding never walks it.
 */
static const struct field encap_fields[] = {
	{ 70, 3, false, FAM_ALL, 0, mpls_top, NULL }, /* mplsTopLabelStackSection */
	{ 245, 2, false, FAM_ALL, 0, inner_vlan, NULL }, /* dot1qCustomerVlanId */
	{ IPFIX_PEN_TUNNEL, 1, true, FAM_ALL, 0, tunnel, NULL },
	{ IPFIX_PEN_ENCAP, 1, true, FAM_ALL, 0, encap, NULL },
};

static uint64_t domain(const struct view *v)
{
	return v->s->cfg.domain_id;
}
static uint64_t octets_sent(const struct view *v)
{
	return v->s->octets_sent;
}
static uint64_t packets_sent(const struct view *v)
{
	return v->s->packets_sent;
}
static uint64_t flows_sent(const struct view *v)
{
	return v->s->flows_sent;
}
static uint64_t flows_lost(const struct view *v)
{
	return v->s->flows_lost;
}
static uint64_t uncounted_packets(const struct view *v)
{
	return v->st->packets_uncounted;
}
static uint64_t uncounted_bytes(const struct view *v)
{
	return v->st->bytes_uncounted;
}
static uint64_t seen_packets(const struct view *v)
{
	return v->st->packets_seen;
}
static uint64_t seen_bytes(const struct view *v)
{
	return v->st->bytes_seen;
}
static uint64_t evicted(const struct view *v)
{
	return v->st->flows_evicted;
}

/*
 * Exporting process reliability statistics (RFC 7011 section 4.3) and the
 * metering process's (4.2), for this collector; scope: the observation
 * domain. The first field is the scope.
 */
static const struct field stats_fields[] = {
	{ 149, 4, false, FAM_ALL, 0, domain, NULL }, /* observationDomainId */
	{ 40, 8, false, FAM_ALL, 0, octets_sent, NULL }, /* exportedOctetTotalCount */
	{ 41, 8, false, FAM_ALL, 0, packets_sent, NULL }, /* exportedMessageTotalCount */
	{ 42, 8, false, FAM_ALL, 0, flows_sent, NULL }, /* exportedFlowRecordTotalCount */
	{ 166, 8, false, FAM_ALL, 0, flows_lost, NULL }, /* notSentFlowTotalCount */
	{ 164, 8, false, FAM_ALL, 0, uncounted_packets, NULL }, /* ignoredPacketTotalCount */
	{ 165, 8, false, FAM_ALL, 0, uncounted_bytes, NULL }, /* ignoredOctetTotalCount */
	{ IPFIX_PEN_PACKETS_SEEN, 8, true, FAM_ALL, 0, seen_packets, NULL },
	{ IPFIX_PEN_BYTES_SEEN, 8, true, FAM_ALL, 0, seen_bytes, NULL },
	{ IPFIX_PEN_FLOWS_EVICTED, 8, true, FAM_ALL, 0, evicted, NULL },
};
#define STATS_SCOPE_FIELDS 1

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct layout {
	const struct field *f;
	size_t n;
	uint8_t family;
	uint8_t features;
};

static bool in_layout(const struct layout *l, size_t i)
{
	return (l->f[i].families & l->family) && (l->f[i].needs & ~l->features) == 0;
}

static struct layout flow_layout(const struct ipfix_config *c, uint8_t family)
{
	return (struct layout){ flow_fields, ARRAY_LEN(flow_fields), family,
				(c->as_numbers ? NEED_AS : 0) |
					(c->reset_verdicts ? NEED_VERDICT : 0) |
					(c->next_hops ? NEED_NEXT_HOP : 0) };
}

static const struct layout stats_layout = { stats_fields, ARRAY_LEN(stats_fields), FAM_ALL, 0 };
static const struct layout encap_layout = { encap_fields, ARRAY_LEN(encap_fields), FAM_ALL, 0 };

static uint8_t *put_be(uint8_t *p, uint64_t v, size_t len)
{
	for (size_t i = len; i > 0; i--) {
		p[i - 1] = v & 0xff;
		v >>= 8;
	}
	return p + len;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static size_t record_len(const struct layout *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (in_layout(l, i))
			n += l->f[i].len;
	return n;
}

static size_t field_count(const struct layout *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += in_layout(l, i);
	return n;
}

/* Field specifiers: id (enterprise bit set, then the PEN) and length. */
static uint8_t *put_specs(uint8_t *p, const struct layout *l, uint32_t pen)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!in_layout(l, i))
			continue;
		p = put_be(p, l->f[i].id | (l->f[i].enterprise ? ENTERPRISE_BIT : 0), 2);
		p = put_be(p, l->f[i].len, 2);
		if (l->f[i].enterprise)
			p = put_be(p, pen, 4);
	}
	return p;
}

static uint8_t *put_record(uint8_t *p, const struct layout *l, const struct view *v)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!in_layout(l, i))
			continue;
		if (l->f[i].bytes)
			memcpy(p, l->f[i].bytes(v), l->f[i].len);
		else
			put_be(p, l->f[i].number(v), l->f[i].len);
		p += l->f[i].len;
	}
	return p;
}

/* Sets are padded to 4 bytes (RFC 7011 3.3.1 allows it), with zeros. */
static uint8_t *end_set(uint8_t *set, uint8_t *end)
{
	size_t len = pad4(end - set);

	memset(end, 0, len - (end - set));
	put_be(set + 2, len, 2);
	return set + len;
}

/* A template set with both data templates, an options template set. */
static size_t put_templates(uint8_t *p, const struct ipfix_config *c)
{
	struct layout v4 = flow_layout(c, FAM_V4), v6 = flow_layout(c, FAM_V6);
	uint8_t *start = p, *set = p;

	p = put_be(set, SET_TEMPLATE, 2) + 2;
	p = put_be(p, IPFIX_TEMPLATE_FLOW_V4, 2);
	p = put_be(p, field_count(&v4), 2);
	p = put_specs(p, &v4, c->pen);
	p = put_be(p, IPFIX_TEMPLATE_FLOW_V6, 2);
	p = put_be(p, field_count(&v6), 2);
	p = put_specs(p, &v6, c->pen);
	set = end_set(set, p);

	p = put_be(set, SET_OPTIONS_TEMPLATE, 2) + 2;
	p = put_be(p, IPFIX_TEMPLATE_STATS, 2);
	p = put_be(p, field_count(&stats_layout), 2);
	p = put_be(p, STATS_SCOPE_FIELDS, 2);
	p = put_specs(p, &stats_layout, c->pen);
	p = end_set(set, p);
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

	p = put_be(set, SET_TEMPLATE, 2) + 2;
	for (uint8_t fam = FAM_V4; fam <= FAM_V6; fam <<= 1) {
		struct layout l = flow_layout(c, fam);

		p = put_be(p, fam == FAM_V4 ? IPFIX_TEMPLATE_ENCAP_V4 : IPFIX_TEMPLATE_ENCAP_V6, 2);
		p = put_be(p, field_count(&l) + field_count(&encap_layout), 2);
		p = put_specs(p, &l, c->pen);
		p = put_specs(p, &encap_layout, c->pen);
	}
	return end_set(set, p) - set;
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
	struct layout v6 = flow_layout(c, FAM_V6);
	size_t a = record_len(&v6) + (encap ? record_len(&encap_layout) : 0);
	size_t b = record_len(&stats_layout);

	return pad4(SET_HEADER_LEN + (a > b ? a : b));
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
	size_t t = templates_len(&s->cfg), e = s->encap_templates ? encap_templates_len(&s->cfg) : 0;
	size_t largest = largest_set_len(&s->cfg, true);
	size_t used = HEADER_LEN + t + e;
	size_t n;

	/* when both do not fit with a record, they go apart (open_message) */
	if (used + largest > s->cfg.max_payload)
		used = HEADER_LEN + (t > e ? t : e);
	n = used < s->cfg.max_payload ? (s->cfg.max_payload - used) / largest : 0;
	return n ? n : 1;
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
	s->len = end_set(s->pkt + s->set_start, s->pkt + s->len) - s->pkt;
	s->set_id = 0;
}

static int emit_message(struct ipfix_stream *s, uint64_t now_ms)
{
	uint8_t *p = s->pkt;
	int err;

	close_set(s);
	p = put_be(p, IPFIX_VERSION, 2);
	p = put_be(p, s->len, 2);
	p = put_be(p, now_ms / 1000, 4);
	p = put_be(p, s->sequence, 4);
	put_be(p, s->cfg.domain_id, 4);
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
		end = s->set_start + pad4(s->len - s->set_start + rec_len);
	else
		end = (s->set_id ? s->set_start + pad4(s->len - s->set_start) : s->len) +
		      pad4(SET_HEADER_LEN + rec_len);
	return end <= s->cfg.max_payload;
}

static bool is_encap_set(uint16_t set_id)
{
	return set_id == IPFIX_TEMPLATE_ENCAP_V4 || set_id == IPFIX_TEMPLATE_ENCAP_V6;
}

/* Would they fit in the open message, and a record of rec_len after them? */
static bool encap_templates_fit(const struct ipfix_stream *s, size_t rec_len)
{
	size_t closed = s->set_id ? s->set_start + pad4(s->len - s->set_start) : s->len;

	return closed + encap_templates_len(&s->cfg) + pad4(SET_HEADER_LEN + rec_len) <=
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
		put_be(s->pkt + s->len, set_id, 2);
		s->len += SET_HEADER_LEN;
	}
	rec = s->pkt + s->len;
	s->len += rec_len;
	s->data_records++;
	return rec;
}

int ipfix_add_flow(struct ipfix_stream *s, const struct flow_record *rec, uint64_t now_ms)
{
	struct view v = { .rec = rec, .s = s };
	bool encap = flow_record_encapsulated(rec);
	struct layout l;
	uint16_t id;
	uint8_t *p;
	int err;

	if (rec->key.ip_version == 4) {
		l = flow_layout(&s->cfg, FAM_V4);
		id = encap ? IPFIX_TEMPLATE_ENCAP_V4 : IPFIX_TEMPLATE_FLOW_V4;
	} else if (rec->key.ip_version == 6) {
		l = flow_layout(&s->cfg, FAM_V6);
		id = encap ? IPFIX_TEMPLATE_ENCAP_V6 : IPFIX_TEMPLATE_FLOW_V6;
	} else {
		return -EINVAL;
	}
	/* the first flow that needs them switches them on for good */
	if (encap && !s->encap_templates)
		s->encap_templates = s->encap_templates_due = true;
	p = reserve(s, id, record_len(&l) + (encap ? record_len(&encap_layout) : 0), now_ms, &err);
	p = put_record(p, &l, &v);
	if (encap)
		put_record(p, &encap_layout, &v);
	s->flows++;
	return err;
}

int ipfix_add_stats(struct ipfix_stream *s, const struct probe_stats *st, uint64_t now_ms)
{
	struct view v = { .st = st, .s = s };
	int err;
	uint8_t *p = reserve(s, IPFIX_TEMPLATE_STATS, record_len(&stats_layout), now_ms, &err);

	put_record(p, &stats_layout, &v);
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

	p = put_be(p, IPFIX_VERSION, 2);
	p = put_be(p, len, 2);
	p = put_be(p, now_ms / 1000, 4);
	p = put_be(p, 0, 4); /* a new session: no data record before */
	put_be(p, s->cfg.domain_id, 4);
	return len;
}

size_t ipfix_withdrawal_message(const struct ipfix_stream *s, uint8_t *buf, uint64_t now_ms)
{
	uint8_t *p = buf;

	p = put_be(p, IPFIX_VERSION, 2);
	p = put_be(p, IPFIX_WITHDRAWAL_LEN, 2);
	p = put_be(p, now_ms / 1000, 4);
	p = put_be(p, s->sequence, 4);
	p = put_be(p, s->cfg.domain_id, 4);
	/* Template id 2 in a Template Set, 3 in an Options Template Set,
	 * field count 0: every template of each kind withdrawn (8.1). The
	 * options one gets 2 bytes of zero padding (3.3.1 allows padding
	 * shorter than a record): Wireshark 4.0 reads an options template
	 * record's scope count even when its field count is 0, and calls a
	 * set without it malformed. */
	p = put_be(p, SET_TEMPLATE, 2);
	p = put_be(p, SET_HEADER_LEN + 4, 2);
	p = put_be(p, SET_TEMPLATE, 2);
	p = put_be(p, 0, 2);
	p = put_be(p, SET_OPTIONS_TEMPLATE, 2);
	p = put_be(p, SET_HEADER_LEN + 6, 2);
	p = put_be(p, SET_OPTIONS_TEMPLATE, 2);
	p = put_be(p, 0, 2);
	put_be(p, 0, 2);
	return IPFIX_WITHDRAWAL_LEN;
}

int ipfix_send_templates(struct ipfix_stream *s, uint64_t now_ms)
{
	int err = ipfix_flush(s, now_ms), err2;

	open_message(s, true);
	err2 = emit_message(s, now_ms);
	return err ? err : err2;
}
