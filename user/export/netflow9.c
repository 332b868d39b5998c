/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetFlow v9 (RFC 3954) encoder. Templates and records are both generated
 * from the field tables below, so a template can never disagree with the
 * records sent under it, and adding a field is one table line plus the
 * function that reads its value (export/flow_fields.h, shared with the
 * IPFIX encoder, when it reads the flow record). Packets are built in place in the stream's
 * buffer and emitted when the next record would not fit, on flush, or when
 * the caller asks for templates.
 */
#include <errno.h>
#include <string.h>
#include "export/flow_fields.h"
#include "export/netflow9.h"

#define NF9_VERSION 9
#define NF9_HEADER_LEN 20
#define NF9_SET_HEADER_LEN 4
#define NF9_SET_TEMPLATE 0
#define NF9_SET_OPTIONS_TEMPLATE 1
#define NF9_SCOPE_SYSTEM 1

enum nf9_field_id {
	NF9_IN_BYTES = 1,
	NF9_IN_PKTS = 2,
	NF9_PROTOCOL = 4,
	NF9_SRC_TOS = 5,
	NF9_TCP_FLAGS = 6,
	NF9_L4_SRC_PORT = 7,
	NF9_IPV4_SRC_ADDR = 8,
	NF9_INPUT_SNMP = 10,
	NF9_L4_DST_PORT = 11,
	NF9_IPV4_DST_ADDR = 12,
	NF9_OUTPUT_SNMP = 14,
	NF9_IPV4_NEXT_HOP = 15,
	NF9_SRC_AS = 16,
	NF9_DST_AS = 17,
	NF9_LAST_SWITCHED = 21,
	NF9_FIRST_SWITCHED = 22,
	NF9_IPV6_SRC_ADDR = 27,
	NF9_IPV6_DST_ADDR = 28,
	NF9_ICMP_TYPE = 32,
	NF9_SAMPLING_INTERVAL = 34,
	NF9_SAMPLING_ALGORITHM = 35,
	/* exportedOctetTotalCount, exportedMessageTotalCount,
	 * exportedFlowRecordTotalCount: what this exporter sent to this
	 * collector (export packet bytes, packets, flow records), as IANA
	 * and RFC 3954 define them, not what the probe saw. */
	NF9_TOTAL_BYTES_EXP = 40,
	NF9_TOTAL_PKTS_EXP = 41,
	NF9_TOTAL_FLOWS_EXP = 42,
	NF9_MIN_TTL = 52,
	NF9_MAX_TTL = 53,
	NF9_SRC_VLAN = 58,
	NF9_IP_PROTOCOL_VERSION = 60,
	NF9_DIRECTION = 61,
	NF9_IPV6_NEXT_HOP = 62,
	NF9_MPLS_LABEL_1 = 70,
	NF9_APPLICATION_DESCRIPTION = 94,
	NF9_APPLICATION_ID = 95,
	NF9_APPLICATION_NAME = 96,
	NF9_FLOW_END_REASON = 136,
	NF9_FLOW_START_MS = 152,
	NF9_FLOW_END_MS = 153,
	NF9_IGNORED_PACKET_TOTAL = 164,
	NF9_IGNORED_OCTET_TOTAL = 165,
	NF9_NOT_SENT_FLOW_TOTAL = 166,
	NF9_DOT1Q_CUSTOMER_VLAN_ID = 245, /* IANA's id; v9 has no own */
};

/*
 * An application the probe can name: its APPLICATION_ID and the strings of
 * the options record that tells collectors what the id means. The arrays
 * are the fields' exact lengths, so the zero fill of the initialiser is
 * the NUL padding on the wire; keep the strings shorter than the arrays
 * (nfdump overwrites the last byte with a NUL).
 */
struct nf9_app {
	uint8_t app; /* enum flow_app */
	uint64_t id; /* 5-byte APPLICATION_ID */
	char name[NF9_APP_NAME_LEN];
	char description[NF9_APP_DESC_LEN];
};

/*
 * One options data record per entry, sent with every set of templates.
 * APP_UNKNOWN has none: its id 0 is engine 0, "invalid" in IANA's
 * classification engine registry, i.e. not classified.
 */
static const struct nf9_app apps[] = {
	{ APP_BITTORRENT, NF9_APP_ID(NF9_ENGINE_NDPI, NF9_NDPI_BITTORRENT), "BitTorrent",
	  "Peer-to-peer file sharing" },
};

uint64_t nf9_application_id(uint8_t app)
{
	for (size_t i = 0; i < FF_ARRAY_LEN(apps); i++)
		if (apps[i].app == app)
			return apps[i].id;
	return 0;
}

/* What the view's enc points to here (struct ff_view): what v9's own
 * fields read besides the record and the statistics. */
struct nf9_ctx {
	const struct nf9_app *app;
	const struct nf9_clock *clk;
	const struct nf9_stream *stream;
	uint32_t source_id;
};

static const struct nf9_ctx *ctx(const struct ff_view *v)
{
	return v->enc;
}

/* Times before the exporter started would wrap to ~49 days; say 0 instead. */
static uint32_t uptime_at(uint64_t wall_ms, uint64_t base_ms)
{
	if (wall_ms <= base_ms)
		return 0;
	return (uint32_t)(wall_ms - base_ms);
}

static uint64_t first_switched(const struct ff_view *v)
{
	return uptime_at(v->rec->first_ms, ctx(v)->clk->uptime_base_ms);
}

static uint64_t last_switched(const struct ff_view *v)
{
	return uptime_at(v->rec->last_ms, ctx(v)->clk->uptime_base_ms);
}

/* The order here is the order on the wire and in the template. */
static const struct ff_field flow_fields[] = {
	{ NF9_IN_BYTES, 8, FF_ALL, .number = ff_bytes },
	{ NF9_IN_PKTS, 8, FF_ALL, .number = ff_packets },
	{ NF9_PROTOCOL, 1, FF_ALL, .number = ff_proto },
	{ NF9_SRC_TOS, 1, FF_ALL, .number = ff_tos },
	{ NF9_TCP_FLAGS, 1, FF_ALL, .number = ff_tcp_flags },
	{ NF9_L4_SRC_PORT, 2, FF_ALL, .number = ff_sport },
	{ NF9_IPV4_SRC_ADDR, 4, FF_V4, .bytes = ff_src },
	{ NF9_IPV6_SRC_ADDR, 16, FF_V6, .bytes = ff_src },
	{ NF9_INPUT_SNMP, 4, FF_ALL, .number = ff_ifindex },
	{ NF9_L4_DST_PORT, 2, FF_ALL, .number = ff_dport },
	{ NF9_IPV4_DST_ADDR, 4, FF_V4, .bytes = ff_dst },
	{ NF9_IPV6_DST_ADDR, 16, FF_V6, .bytes = ff_dst },
	{ NF9_OUTPUT_SNMP, 4, FF_ALL, .number = ff_out_ifindex },
	{ NF9_LAST_SWITCHED, 4, FF_ALL, .number = last_switched },
	{ NF9_FIRST_SWITCHED, 4, FF_ALL, .number = first_switched },
	{ NF9_ICMP_TYPE, 2, FF_ALL, .number = ff_icmp },
	{ NF9_MIN_TTL, 1, FF_ALL, .number = ff_ttl_min },
	{ NF9_MAX_TTL, 1, FF_ALL, .number = ff_ttl_max },
	{ NF9_SRC_VLAN, 2, FF_ALL, .number = ff_vlan },
	{ NF9_IP_PROTOCOL_VERSION, 1, FF_ALL, .number = ff_ip_version },
	{ NF9_DIRECTION, 1, FF_ALL, .number = ff_direction },
	{ NF9_FLOW_END_REASON, 1, FF_ALL, .number = ff_end_reason },
	{ NF9_FLOW_START_MS, 8, FF_ALL, .number = ff_first_ms },
	{ NF9_FLOW_END_MS, 8, FF_ALL, .number = ff_last_ms },
	/* last, so the fields before it keep their offsets; see netflow9.h */
	{ NF9_APPLICATION_ID, 5, FF_ALL, .number = ff_app_id },
	/* optional ones after all the others, for the same reason */
	{ NF9_SRC_AS, 4, FF_ALL, FF_NEED_AS, .number = ff_src_as },
	{ NF9_DST_AS, 4, FF_ALL, FF_NEED_AS, .number = ff_dst_as },
	{ NF9_IPV4_NEXT_HOP, 4, FF_V4, FF_NEED_NEXT_HOP, .bytes = ff_next_hop },
	{ NF9_IPV6_NEXT_HOP, 16, FF_V6, FF_NEED_NEXT_HOP, .bytes = ff_next_hop },
	{ NF9_FIELD_RESET_VERDICT, 1, FF_ALL, FF_NEED_VERDICT, .number = ff_reset_verdict },
};

/*
 * What carried the flow: the encapsulation templates (netflow9.h) are the
 * others with these at the end. A table of its own, so a plain record's
 * encoding never walks it.
 */
static const struct ff_field encap_fields[] = {
	{ NF9_MPLS_LABEL_1, 3, FF_ALL, .number = ff_mpls_top },
	{ NF9_DOT1Q_CUSTOMER_VLAN_ID, 2, FF_ALL, .number = ff_inner_vlan },
	{ NF9_FIELD_TUNNEL, 1, FF_ALL, .number = ff_tunnel },
	{ NF9_FIELD_ENCAP, 1, FF_ALL, .number = ff_encap },
};

static uint64_t system_scope(const struct ff_view *v)
{
	return ctx(v)->source_id;
}
static uint64_t octets_sent(const struct ff_view *v)
{
	return ctx(v)->stream->octets_sent;
}
static uint64_t packets_sent(const struct ff_view *v)
{
	return ctx(v)->stream->packets_sent;
}
static uint64_t flows_sent(const struct ff_view *v)
{
	return ctx(v)->stream->flows_sent;
}
static uint64_t flows_lost(const struct ff_view *v)
{
	return ctx(v)->stream->flows_lost;
}

static const struct ff_field stats_scope[] = {
	{ NF9_SCOPE_SYSTEM, 4, FF_ALL, .number = system_scope },
};

static const struct ff_field stats_fields[] = {
	{ NF9_SAMPLING_INTERVAL, 4, FF_ALL, .number = ff_sampling_interval },
	{ NF9_SAMPLING_ALGORITHM, 1, FF_ALL, .number = ff_sampling_algorithm },
	/* sent to this collector before this record's packet */
	{ NF9_TOTAL_BYTES_EXP, 8, FF_ALL, .number = octets_sent },
	{ NF9_TOTAL_PKTS_EXP, 8, FF_ALL, .number = packets_sent },
	{ NF9_TOTAL_FLOWS_EXP, 8, FF_ALL, .number = flows_sent },
	/* flow records in packets the socket or the queue refused */
	{ NF9_NOT_SENT_FLOW_TOTAL, 8, FF_ALL, .number = flows_lost },
	/* IP packets and bytes the datapath could not count */
	{ NF9_IGNORED_PACKET_TOTAL, 8, FF_ALL, .number = ff_packets_uncounted },
	{ NF9_IGNORED_OCTET_TOTAL, 8, FF_ALL, .number = ff_bytes_uncounted },
	/* only this probe's: private ids (netflow9.h) */
	{ NF9_FIELD_PACKETS_SEEN, 8, FF_ALL, .number = ff_packets_seen },
	{ NF9_FIELD_BYTES_SEEN, 8, FF_ALL, .number = ff_bytes_seen },
	{ NF9_FIELD_FLOWS_EVICTED, 8, FF_ALL, .number = ff_flows_evicted },
};

static uint64_t app_id(const struct ff_view *v)
{
	return ctx(v)->app->id;
}
static const uint8_t *app_name(const struct ff_view *v)
{
	return (const uint8_t *)ctx(v)->app->name;
}
static const uint8_t *app_description(const struct ff_view *v)
{
	return (const uint8_t *)ctx(v)->app->description;
}

/*
 * The names of application ids, in the layout nfdump 1.7 recognises as
 * "nbar" options (an options template with 95, 96 or 94 in it): it stores
 * them and prints %nbnam for the flows whose field 95 matches.
 * The description follows the name and is not shorter than it: nfdump
 * 1.7.1 checks the description's UTF-8 over the name's length.
 */
static const struct ff_field apps_fields[] = {
	{ NF9_APPLICATION_ID, 5, FF_ALL, .number = app_id },
	{ NF9_APPLICATION_NAME, NF9_APP_NAME_LEN, FF_ALL, .bytes = app_name },
	{ NF9_APPLICATION_DESCRIPTION, NF9_APP_DESC_LEN, FF_ALL, .bytes = app_description },
};

_Static_assert(NF9_APP_DESC_LEN >= NF9_APP_NAME_LEN, "see apps_fields");

static const struct ff_layout layout_scope = { stats_scope, FF_ARRAY_LEN(stats_scope), FF_ALL, 0 };
static const struct ff_layout layout_stats = { stats_fields, FF_ARRAY_LEN(stats_fields), FF_ALL,
					       0 };
static const struct ff_layout layout_apps = { apps_fields, FF_ARRAY_LEN(apps_fields), FF_ALL, 0 };

static const struct ff_layout layout_encap = { encap_fields, FF_ARRAY_LEN(encap_fields), FF_ALL,
					       0 };

/*
 * The data template of one family, with or without the reset verdict. An
 * encapsulation template is the one with the verdict whenever the reset
 * templates exist (0 for none: two templates, not four), then
 * layout_encap.
 */
static struct ff_layout flow_layout(const struct nf9_config *cfg, uint8_t family, bool verdict)
{
	return (struct ff_layout){
		flow_fields,
		FF_ARRAY_LEN(flow_fields),
		family,
		(cfg->as_numbers ? FF_NEED_AS : 0) | (verdict ? FF_NEED_VERDICT : 0) |
			(cfg->next_hops ? FF_NEED_NEXT_HOP : 0),
	};
}

static struct ff_layout encap_base_layout(const struct nf9_config *cfg, uint8_t family)
{
	return flow_layout(cfg, family, cfg->reset_verdicts);
}

/* The (type, length) pairs of a template. */
static uint8_t *put_field_specs(uint8_t *p, const struct ff_layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!ff_in_layout(l, i))
			continue;
		p = ff_put_be(p, l->f[i].id, 2);
		p = ff_put_be(p, l->f[i].len, 2);
	}
	return p;
}

static uint8_t *put_data_template(uint8_t *p, uint16_t id, const struct ff_layout *l)
{
	p = ff_put_be(p, id, 2);
	p = ff_put_be(p, ff_field_count(l), 2);
	return put_field_specs(p, l);
}

static uint8_t *put_options_template(uint8_t *p, uint16_t id, const struct ff_layout *scope,
				     const struct ff_layout *opts)
{
	p = ff_put_be(p, id, 2);
	p = ff_put_be(p, 4 * ff_field_count(scope), 2);
	p = ff_put_be(p, 4 * ff_field_count(opts), 2);
	p = put_field_specs(p, scope);
	return put_field_specs(p, opts);
}

/*
 * What opens a packet that carries templates: the template FlowSet (both
 * data templates), one options template FlowSet per options template
 * (nfdump 1.7.1 reads only the first template of an options FlowSet), then
 * the options data naming every application id. Sending the names with
 * the templates means a collector that has the template has the names
 * too, and they are refreshed on the same schedule, with no call of their
 * own.
 */
static size_t put_templates(uint8_t *p, const struct nf9_config *cfg)
{
	struct nf9_ctx c = { .source_id = cfg->source_id };
	struct ff_view v = { .enc = &c };
	struct ff_layout v4 = flow_layout(cfg, FF_V4, false);
	struct ff_layout v6 = flow_layout(cfg, FF_V6, false);
	uint8_t *start = p, *set = p;

	p = ff_put_be(set, NF9_SET_TEMPLATE, 2) + 2;
	p = put_data_template(p, NF9_TEMPLATE_FLOW_V4, &v4);
	p = put_data_template(p, NF9_TEMPLATE_FLOW_V6, &v6);
	if (cfg->reset_verdicts) {
		struct ff_layout r4 = flow_layout(cfg, FF_V4, true);
		struct ff_layout r6 = flow_layout(cfg, FF_V6, true);

		p = put_data_template(p, NF9_TEMPLATE_RESET_V4, &r4);
		p = put_data_template(p, NF9_TEMPLATE_RESET_V6, &r6);
	}
	set = ff_end_set(set, p);

	p = ff_put_be(set, NF9_SET_OPTIONS_TEMPLATE, 2) + 2;
	p = put_options_template(p, NF9_TEMPLATE_STATS, &layout_scope, &layout_stats);
	set = ff_end_set(set, p);

	p = ff_put_be(set, NF9_SET_OPTIONS_TEMPLATE, 2) + 2;
	p = put_options_template(p, NF9_TEMPLATE_APPS, &layout_scope, &layout_apps);
	set = ff_end_set(set, p);

	p = ff_put_be(set, NF9_TEMPLATE_APPS, 2) + 2;
	for (size_t i = 0; i < FF_ARRAY_LEN(apps); i++) {
		c.app = &apps[i];
		p = ff_put_record(p, &layout_scope, &v);
		p = ff_put_record(p, &layout_apps, &v);
	}
	p = ff_end_set(set, p);
	return p - start;
}

/* Records put_templates() writes, as the header counts them. */
static uint16_t template_records(const struct nf9_config *cfg)
{
	return 4 + FF_ARRAY_LEN(apps) + (cfg->reset_verdicts ? 2 : 0);
}

static size_t templates_len(const struct nf9_config *cfg)
{
	uint8_t scratch[NF9_PAYLOAD_LIMIT];

	return put_templates(scratch, cfg);
}

/*
 * The encapsulation templates, in a template FlowSet of their own: they
 * go with the others when there is room, else at the head of the next
 * packet (see open_packet), so they never raise the smallest payload a
 * stream needs.
 */
#define ENCAP_TEMPLATE_RECORDS 2

static size_t put_encap_templates(uint8_t *p, const struct nf9_config *cfg)
{
	uint8_t *set = p;

	p = ff_put_be(set, NF9_SET_TEMPLATE, 2) + 2;
	for (uint8_t fam = FF_V4; fam <= FF_V6; fam <<= 1) {
		struct ff_layout l = encap_base_layout(cfg, fam);

		p = ff_put_be(p, fam == FF_V4 ? NF9_TEMPLATE_ENCAP_V4 : NF9_TEMPLATE_ENCAP_V6, 2);
		p = ff_put_be(p, ff_field_count(&l) + ff_field_count(&layout_encap), 2);
		p = put_field_specs(p, &l);
		p = put_field_specs(p, &layout_encap);
	}
	return ff_end_set(set, p) - set;
}

static size_t encap_templates_len(const struct nf9_config *cfg)
{
	uint8_t scratch[NF9_PAYLOAD_LIMIT];

	return put_encap_templates(scratch, cfg);
}

static size_t stats_record_len(void)
{
	return ff_record_len(&layout_scope) + ff_record_len(&layout_stats);
}

/* The longest record is an IPv6 one (or the statistics), of the
 * encapsulation templates or of the others. */
static size_t largest_set_len(const struct nf9_config *cfg, bool encap)
{
	struct ff_layout l6 = encap_base_layout(cfg, FF_V6);
	size_t v6 = ff_record_len(&l6) + (encap ? ff_record_len(&layout_encap) : 0);
	size_t st = stats_record_len();

	return ff_pad4(NF9_SET_HEADER_LEN + (v6 > st ? v6 : st));
}

/*
 * A packet that opens with the templates must still take any record but
 * an encapsulated one, and one that opens with the encapsulation
 * templates any record (open_packet).
 */
static size_t min_payload(const struct nf9_config *cfg)
{
	size_t t = templates_len(cfg) + largest_set_len(cfg, false);
	size_t e = encap_templates_len(cfg) + largest_set_len(cfg, true);

	return NF9_HEADER_LEN + (t > e ? t : e);
}

static void apply_defaults(struct nf9_config *cfg)
{
	if (!cfg->max_payload)
		cfg->max_payload = NF9_DEFAULT_MAX_PAYLOAD;
	if (!cfg->refresh_packets)
		cfg->refresh_packets = NF9_DEFAULT_REFRESH_PACKETS;
	if (!cfg->refresh_ms)
		cfg->refresh_ms = NF9_DEFAULT_REFRESH_MS;
}

int nf9_stream_init(struct nf9_stream *s, const struct nf9_config *cfg, nf9_emit_fn emit,
		    void *emit_ctx)
{
	struct nf9_config c = cfg ? *cfg : (struct nf9_config){ 0 };

	apply_defaults(&c);
	if (c.max_payload > NF9_PAYLOAD_LIMIT || c.max_payload < min_payload(&c))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->cfg = c;
	s->emit = emit;
	s->emit_ctx = emit_ctx;
	return 0;
}

size_t nf9_min_flows_per_packet(const struct nf9_stream *s)
{
	return ff_min_flows_per_message(NF9_HEADER_LEN, templates_len(&s->cfg),
					s->encap_templates ? encap_templates_len(&s->cfg) : 0,
					largest_set_len(&s->cfg, true), s->cfg.max_payload);
}

/*
 * A wall clock stepped backwards makes the unsigned age huge, so templates
 * go out again: resending early costs a few hundred bytes, resending late
 * risks data the collector cannot decode.
 */
static bool templates_due(const struct nf9_stream *s, const struct nf9_clock *clk)
{
	if (!s->templates_sent)
		return true;
	if (s->packets_since_templates >= s->cfg.refresh_packets)
		return true;
	if (clk->uptime_base_ms != s->templates_base_ms)
		return true; /* to collectors, the exporter restarted */
	return clk->now_ms - s->templates_ms >= s->cfg.refresh_ms;
}

static void put_encap_templates_here(struct nf9_stream *s);

static void open_packet(struct nf9_stream *s, uint64_t base_ms, bool with_templates)
{
	s->len = NF9_HEADER_LEN; /* header written at emit, with its time */
	s->pkt_base_ms = base_ms;
	s->count = 0;
	s->flows = 0;
	s->set_id = 0;
	s->pkt_has_templates = with_templates;
	s->pkt_has_encap_templates = false;
	if (with_templates) {
		s->len += put_templates(s->pkt + s->len, &s->cfg);
		s->count += template_records(&s->cfg);
		/* a refresh of the others is one of these too */
		s->encap_templates_due = s->encap_templates;
	}
	/* with them when there is room, else in the next packet (min_payload) */
	if (s->encap_templates_due &&
	    s->len + encap_templates_len(&s->cfg) + largest_set_len(&s->cfg, true) <=
		    s->cfg.max_payload)
		put_encap_templates_here(s);
}

static void close_data_set(struct nf9_stream *s)
{
	if (!s->set_id)
		return;
	s->len = ff_end_set(s->pkt + s->set_start, s->pkt + s->len) - s->pkt;
	s->set_id = 0;
}

static void open_data_set(struct nf9_stream *s, uint16_t set_id)
{
	close_data_set(s);
	s->set_start = s->len;
	s->set_id = set_id;
	ff_put_be(s->pkt + s->len, set_id, 2);
	s->len += NF9_SET_HEADER_LEN;
}

/* Packet length once the open data FlowSet is padded and closed. */
static size_t closed_len(const struct nf9_stream *s)
{
	if (!s->set_id)
		return s->len;
	return s->set_start + ff_pad4(s->len - s->set_start);
}

/* Would the packet, padded and closed, still fit with one more record? */
static bool record_fits(const struct nf9_stream *s, uint16_t set_id, size_t rec_len)
{
	size_t end;

	if (s->set_id == set_id)
		end = s->set_start + ff_pad4(s->len - s->set_start + rec_len);
	else
		end = closed_len(s) + ff_pad4(NF9_SET_HEADER_LEN + rec_len);
	return end <= s->cfg.max_payload;
}

/*
 * Collectors date records as unix_secs * 1000 - sysUptime + *_SWITCHED
 * (nfdump prefers this to flowStart/EndMilliseconds). Stamping the header
 * at now rounded up to the whole second makes unix_secs * 1000 - sysUptime
 * exactly uptime_base_ms, so records are dated to the millisecond instead
 * of up to 999 ms early, and no record time is later than sysUptime
 * (collectors that subtract in 32 bits would wrap on that).
 */
static uint64_t header_ms(const struct nf9_clock *clk)
{
	return (clk->now_ms + 999) / 1000 * 1000;
}

static void put_header(struct nf9_stream *s, const struct nf9_clock *clk)
{
	uint64_t stamp = header_ms(clk);
	uint8_t *p = s->pkt;

	p = ff_put_be(p, NF9_VERSION, 2);
	p = ff_put_be(p, s->count, 2);
	p = ff_put_be(p, uptime_at(stamp, s->pkt_base_ms), 4);
	p = ff_put_be(p, stamp / 1000, 4);
	p = ff_put_be(p, s->sequence, 4);
	ff_put_be(p, s->cfg.source_id, 4);
}

static void account_emit(struct nf9_stream *s, int err, const struct nf9_clock *clk)
{
	if (err < 0) {
		s->emit_errors++;
		s->records_lost += s->count;
		s->flows_lost += s->flows;
		/* the schedule only advances on success; this covers forced sends */
		if (s->pkt_has_templates)
			s->templates_sent = false;
		if (s->pkt_has_encap_templates)
			s->encap_templates_due = true;
	} else {
		s->packets_sent++;
		s->octets_sent += s->len;
		s->records_sent += s->count;
		s->flows_sent += s->flows;
		if (s->pkt_has_templates) {
			s->templates_sent = true;
			s->templates_ms = clk->now_ms;
			s->templates_base_ms = s->pkt_base_ms;
			s->packets_since_templates = 0;
		}
	}
	s->packets_since_templates++;
}

/*
 * The header is stamped with the base the records were written against,
 * even if the caller has moved on since, so each packet is consistent.
 * The sequence number is used even when emit fails: see netflow9.h.
 */
static int emit_packet(struct nf9_stream *s, const struct nf9_clock *clk)
{
	int err;

	close_data_set(s);
	put_header(s, clk);
	err = s->emit(s->emit_ctx, s->pkt, s->len);
	s->sequence++;
	account_emit(s, err, clk);
	s->len = 0;
	return err < 0 ? err : 0;
}

static bool is_encap_set(uint16_t set_id)
{
	return set_id == NF9_TEMPLATE_ENCAP_V4 || set_id == NF9_TEMPLATE_ENCAP_V6;
}

/* The encapsulation template FlowSet, after whatever the packet holds. */
static void put_encap_templates_here(struct nf9_stream *s)
{
	close_data_set(s);
	s->len += put_encap_templates(s->pkt + s->len, &s->cfg);
	s->count += ENCAP_TEMPLATE_RECORDS;
	s->encap_templates_due = false;
	s->pkt_has_encap_templates = true;
}

/* Would they fit in the open packet, and a record of rec_len after them? */
static bool encap_templates_fit(const struct nf9_stream *s, size_t rec_len)
{
	return closed_len(s) + encap_templates_len(&s->cfg) +
		       ff_pad4(NF9_SET_HEADER_LEN + rec_len) <=
	       s->cfg.max_payload;
}

/*
 * Makes room for one record in FlowSet set_id and returns where it goes.
 * *err receives the error of a packet emitted to make room, if any.
 */
static uint8_t *reserve_record(struct nf9_stream *s, uint16_t set_id, size_t rec_len,
			       const struct nf9_clock *clk, int *err)
{
	uint8_t *rec;

	*err = 0;
	if (s->len && (!record_fits(s, set_id, rec_len) || s->pkt_base_ms != clk->uptime_base_ms))
		*err = emit_packet(s, clk);
	if (!s->len)
		open_packet(s, clk->uptime_base_ms, templates_due(s, clk));
	/* a record of the encapsulation templates never precedes them */
	if (is_encap_set(set_id) && s->encap_templates_due) {
		if (!encap_templates_fit(s, rec_len)) {
			int e = emit_packet(s, clk);

			*err = *err ? *err : e;
			open_packet(s, clk->uptime_base_ms, false);
		}
		if (s->encap_templates_due)
			put_encap_templates_here(s);
	}
	if (s->set_id != set_id)
		open_data_set(s, set_id);
	rec = s->pkt + s->len;
	s->len += rec_len;
	s->count++;
	return rec;
}

int nf9_add_flow(struct nf9_stream *s, const struct flow_record *rec, const struct nf9_clock *clk)
{
	/* a verdict moves the record to the reset templates, when they exist */
	bool verdict = s->cfg.reset_verdicts && rec->reset_verdict != FLOW_RESET_NONE;
	bool encap = flow_record_encapsulated(rec);
	struct nf9_ctx c = { .clk = clk };
	struct ff_view v = { .rec = rec, .enc = &c };
	struct ff_layout l;
	uint16_t set_id;
	uint8_t *p;
	int err;

	if (rec->key.ip_version == 4) {
		l = flow_layout(&s->cfg, FF_V4, verdict || (encap && s->cfg.reset_verdicts));
		set_id = encap	 ? NF9_TEMPLATE_ENCAP_V4 :
			 verdict ? NF9_TEMPLATE_RESET_V4 :
				   NF9_TEMPLATE_FLOW_V4;
	} else if (rec->key.ip_version == 6) {
		l = flow_layout(&s->cfg, FF_V6, verdict || (encap && s->cfg.reset_verdicts));
		set_id = encap	 ? NF9_TEMPLATE_ENCAP_V6 :
			 verdict ? NF9_TEMPLATE_RESET_V6 :
				   NF9_TEMPLATE_FLOW_V6;
	} else {
		return -EINVAL;
	}
	/* the first flow that needs them switches them on for good */
	if (encap && !s->encap_templates)
		s->encap_templates = s->encap_templates_due = true;
	p = reserve_record(s, set_id,
			   ff_record_len(&l) + (encap ? ff_record_len(&layout_encap) : 0), clk,
			   &err);
	p = ff_put_record(p, &l, &v);
	if (encap)
		ff_put_record(p, &layout_encap, &v);
	s->flows++;
	return err;
}

int nf9_add_stats(struct nf9_stream *s, const struct probe_stats *st, const struct nf9_clock *clk)
{
	struct nf9_ctx c = { .clk = clk, .source_id = s->cfg.source_id, .stream = s };
	struct ff_view v = { .stats = st, .enc = &c };
	uint8_t *p;
	int err;

	p = reserve_record(s, NF9_TEMPLATE_STATS, stats_record_len(), clk, &err);
	p = ff_put_record(p, &layout_scope, &v);
	ff_put_record(p, &layout_stats, &v);
	return err;
}

int nf9_flush(struct nf9_stream *s, const struct nf9_clock *clk)
{
	if (!s->len)
		return 0;
	return emit_packet(s, clk);
}

int nf9_send_templates(struct nf9_stream *s, const struct nf9_clock *clk)
{
	int err = nf9_flush(s, clk);
	int err2;

	open_packet(s, clk->uptime_base_ms, true);
	err2 = emit_packet(s, clk);
	return err ? err : err2;
}

uint64_t nf9_next_uptime_base(uint64_t base_ms, uint64_t now_ms, uint64_t max_age_ms)
{
	if (now_ms < base_ms || now_ms - base_ms < NF9_REBASE_AFTER_MS)
		return base_ms;
	return now_ms > max_age_ms ? now_ms - max_age_ms : 0;
}
