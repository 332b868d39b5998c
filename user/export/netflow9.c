/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetFlow v9 (RFC 3954) encoder. Templates and records are both generated
 * from the field tables below, so a template can never disagree with the
 * records sent under it, and adding a field is one table line plus the
 * function that reads its value. Packets are built in place in the stream's
 * buffer and emitted when the next record would not fit, on flush, or when
 * the caller asks for templates.
 */
#include <errno.h>
#include <string.h>
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

/* Which data templates a field belongs to. */
enum nf9_family {
	FAM_V4 = 1 << 0,
	FAM_V6 = 1 << 1,
	FAM_ALL = FAM_V4 | FAM_V6,
};

/* What a field needs switched on to be in a template (nf9_config). */
enum nf9_feature {
	FEAT_AS = 1 << 0, /* as_numbers */
	FEAT_VERDICT = 1 << 1, /* reset_verdicts, and only the reset templates */
	FEAT_NEXT_HOP = 1 << 2, /* next_hops */
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

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

uint64_t nf9_application_id(uint8_t app)
{
	for (size_t i = 0; i < ARRAY_LEN(apps); i++)
		if (apps[i].app == app)
			return apps[i].id;
	return 0;
}

/* Everything a field's value can come from. */
struct nf9_view {
	const struct flow_record *rec;
	const struct probe_stats *stats;
	const struct nf9_app *app;
	const struct nf9_clock *clk;
	const struct nf9_stream *stream;
	uint32_t source_id;
};

/*
 * One field: its template entry and how to get its value. A field has
 * either a number (written big-endian in len bytes, so 5-byte fields like
 * APPLICATION_ID need no special case) or bytes already in network order.
 */
struct nf9_field {
	uint16_t id;
	uint16_t len;
	uint8_t families;
	uint8_t needs; /* enum nf9_feature: all of them */
	uint64_t (*number)(const struct nf9_view *v);
	const uint8_t *(*bytes)(const struct nf9_view *v);
};

/* Times before the exporter started would wrap to ~49 days; say 0 instead. */
static uint32_t uptime_at(uint64_t wall_ms, uint64_t base_ms)
{
	if (wall_ms <= base_ms)
		return 0;
	return (uint32_t)(wall_ms - base_ms);
}

static bool is_icmp(uint8_t proto)
{
	return proto == 1 || proto == 58;
}

static uint64_t in_bytes(const struct nf9_view *v)
{
	return v->rec->bytes;
}
static uint64_t in_pkts(const struct nf9_view *v)
{
	return v->rec->packets;
}
static uint64_t protocol(const struct nf9_view *v)
{
	return v->rec->key.proto;
}
static uint64_t src_tos(const struct nf9_view *v)
{
	return v->rec->tos;
}
static uint64_t tcp_flags(const struct nf9_view *v)
{
	return v->rec->tcp_flags;
}
static uint64_t src_port(const struct nf9_view *v)
{
	return v->rec->key.sport;
}
static uint64_t dst_port(const struct nf9_view *v)
{
	return v->rec->key.dport;
}
static uint64_t in_ifindex(const struct nf9_view *v)
{
	return v->rec->key.ifindex;
}
static uint64_t out_ifindex(const struct nf9_view *v)
{
	return v->rec->out_ifindex;
}
static uint64_t min_ttl(const struct nf9_view *v)
{
	return v->rec->ttl_min;
}
static uint64_t max_ttl(const struct nf9_view *v)
{
	return v->rec->ttl_max;
}
static uint64_t src_vlan(const struct nf9_view *v)
{
	return v->rec->key.vlan;
}
static uint64_t ip_version(const struct nf9_view *v)
{
	return v->rec->key.ip_version;
}
static uint64_t direction(const struct nf9_view *v)
{
	return v->rec->direction;
}
static uint64_t end_reason(const struct nf9_view *v)
{
	return v->rec->end_reason;
}
static uint64_t start_ms(const struct nf9_view *v)
{
	return v->rec->first_ms;
}
static uint64_t application_id(const struct nf9_view *v)
{
	return nf9_application_id(v->rec->app);
}
static uint64_t end_ms(const struct nf9_view *v)
{
	return v->rec->last_ms;
}
static uint64_t src_as(const struct nf9_view *v)
{
	return v->rec->src_as;
}
static uint64_t dst_as(const struct nf9_view *v)
{
	return v->rec->dst_as;
}
static uint64_t reset_verdict(const struct nf9_view *v)
{
	return v->rec->reset_verdict;
}
static uint64_t mpls_top(const struct nf9_view *v)
{
	return flow_record_mpls_top(v->rec);
}
static uint64_t inner_vlan(const struct nf9_view *v)
{
	return v->rec->inner_vlan;
}
static uint64_t tunnel(const struct nf9_view *v)
{
	return v->rec->tunnel;
}
static uint64_t encap(const struct nf9_view *v)
{
	return v->rec->encap;
}
static const uint8_t *src_addr(const struct nf9_view *v)
{
	return v->rec->key.src;
}
static const uint8_t *dst_addr(const struct nf9_view *v)
{
	return v->rec->key.dst;
}
static const uint8_t *next_hop(const struct nf9_view *v)
{
	return v->rec->next_hop;
}

static uint64_t first_switched(const struct nf9_view *v)
{
	return uptime_at(v->rec->first_ms, v->clk->uptime_base_ms);
}

static uint64_t last_switched(const struct nf9_view *v)
{
	return uptime_at(v->rec->last_ms, v->clk->uptime_base_ms);
}

/* The key already holds ICMP type << 8 | code in dport. */
static uint64_t icmp_type(const struct nf9_view *v)
{
	return is_icmp(v->rec->key.proto) ? v->rec->key.dport : 0;
}

/* The order here is the order on the wire and in the template. */
static const struct nf9_field flow_fields[] = {
	{ NF9_IN_BYTES, 8, FAM_ALL, .number = in_bytes },
	{ NF9_IN_PKTS, 8, FAM_ALL, .number = in_pkts },
	{ NF9_PROTOCOL, 1, FAM_ALL, .number = protocol },
	{ NF9_SRC_TOS, 1, FAM_ALL, .number = src_tos },
	{ NF9_TCP_FLAGS, 1, FAM_ALL, .number = tcp_flags },
	{ NF9_L4_SRC_PORT, 2, FAM_ALL, .number = src_port },
	{ NF9_IPV4_SRC_ADDR, 4, FAM_V4, .bytes = src_addr },
	{ NF9_IPV6_SRC_ADDR, 16, FAM_V6, .bytes = src_addr },
	{ NF9_INPUT_SNMP, 4, FAM_ALL, .number = in_ifindex },
	{ NF9_L4_DST_PORT, 2, FAM_ALL, .number = dst_port },
	{ NF9_IPV4_DST_ADDR, 4, FAM_V4, .bytes = dst_addr },
	{ NF9_IPV6_DST_ADDR, 16, FAM_V6, .bytes = dst_addr },
	{ NF9_OUTPUT_SNMP, 4, FAM_ALL, .number = out_ifindex },
	{ NF9_LAST_SWITCHED, 4, FAM_ALL, .number = last_switched },
	{ NF9_FIRST_SWITCHED, 4, FAM_ALL, .number = first_switched },
	{ NF9_ICMP_TYPE, 2, FAM_ALL, .number = icmp_type },
	{ NF9_MIN_TTL, 1, FAM_ALL, .number = min_ttl },
	{ NF9_MAX_TTL, 1, FAM_ALL, .number = max_ttl },
	{ NF9_SRC_VLAN, 2, FAM_ALL, .number = src_vlan },
	{ NF9_IP_PROTOCOL_VERSION, 1, FAM_ALL, .number = ip_version },
	{ NF9_DIRECTION, 1, FAM_ALL, .number = direction },
	{ NF9_FLOW_END_REASON, 1, FAM_ALL, .number = end_reason },
	{ NF9_FLOW_START_MS, 8, FAM_ALL, .number = start_ms },
	{ NF9_FLOW_END_MS, 8, FAM_ALL, .number = end_ms },
	/* last, so the fields before it keep their offsets; see netflow9.h */
	{ NF9_APPLICATION_ID, 5, FAM_ALL, .number = application_id },
	/* optional ones after all the others, for the same reason */
	{ NF9_SRC_AS, 4, FAM_ALL, FEAT_AS, .number = src_as },
	{ NF9_DST_AS, 4, FAM_ALL, FEAT_AS, .number = dst_as },
	{ NF9_IPV4_NEXT_HOP, 4, FAM_V4, FEAT_NEXT_HOP, .bytes = next_hop },
	{ NF9_IPV6_NEXT_HOP, 16, FAM_V6, FEAT_NEXT_HOP, .bytes = next_hop },
	{ NF9_FIELD_RESET_VERDICT, 1, FAM_ALL, FEAT_VERDICT, .number = reset_verdict },
};

/*
 * What carried the flow: the encapsulation templates (netflow9.h) are the
 * others with these at the end. A table of its own, so a plain record's
 * encoding never walks it.
 */
static const struct nf9_field encap_fields[] = {
	{ NF9_MPLS_LABEL_1, 3, FAM_ALL, .number = mpls_top },
	{ NF9_DOT1Q_CUSTOMER_VLAN_ID, 2, FAM_ALL, .number = inner_vlan },
	{ NF9_FIELD_TUNNEL, 1, FAM_ALL, .number = tunnel },
	{ NF9_FIELD_ENCAP, 1, FAM_ALL, .number = encap },
};

static uint64_t system_scope(const struct nf9_view *v)
{
	return v->source_id;
}
static uint64_t sampling_interval(const struct nf9_view *v)
{
	return v->stats->sampling_interval;
}
static uint64_t sampling_algorithm(const struct nf9_view *v)
{
	return v->stats->sampling_algorithm;
}
static uint64_t octets_sent(const struct nf9_view *v)
{
	return v->stream->octets_sent;
}
static uint64_t packets_sent(const struct nf9_view *v)
{
	return v->stream->packets_sent;
}
static uint64_t flows_sent(const struct nf9_view *v)
{
	return v->stream->flows_sent;
}
static uint64_t flows_lost(const struct nf9_view *v)
{
	return v->stream->flows_lost;
}
static uint64_t packets_uncounted(const struct nf9_view *v)
{
	return v->stats->packets_uncounted;
}
static uint64_t bytes_uncounted(const struct nf9_view *v)
{
	return v->stats->bytes_uncounted;
}
static uint64_t packets_seen(const struct nf9_view *v)
{
	return v->stats->packets_seen;
}
static uint64_t bytes_seen(const struct nf9_view *v)
{
	return v->stats->bytes_seen;
}
static uint64_t flows_evicted(const struct nf9_view *v)
{
	return v->stats->flows_evicted;
}

static const struct nf9_field stats_scope[] = {
	{ NF9_SCOPE_SYSTEM, 4, FAM_ALL, .number = system_scope },
};

static const struct nf9_field stats_fields[] = {
	{ NF9_SAMPLING_INTERVAL, 4, FAM_ALL, .number = sampling_interval },
	{ NF9_SAMPLING_ALGORITHM, 1, FAM_ALL, .number = sampling_algorithm },
	/* sent to this collector before this record's packet */
	{ NF9_TOTAL_BYTES_EXP, 8, FAM_ALL, .number = octets_sent },
	{ NF9_TOTAL_PKTS_EXP, 8, FAM_ALL, .number = packets_sent },
	{ NF9_TOTAL_FLOWS_EXP, 8, FAM_ALL, .number = flows_sent },
	/* flow records in packets the socket or the queue refused */
	{ NF9_NOT_SENT_FLOW_TOTAL, 8, FAM_ALL, .number = flows_lost },
	/* IP packets and bytes the datapath could not count */
	{ NF9_IGNORED_PACKET_TOTAL, 8, FAM_ALL, .number = packets_uncounted },
	{ NF9_IGNORED_OCTET_TOTAL, 8, FAM_ALL, .number = bytes_uncounted },
	/* only this probe's: private ids (netflow9.h) */
	{ NF9_FIELD_PACKETS_SEEN, 8, FAM_ALL, .number = packets_seen },
	{ NF9_FIELD_BYTES_SEEN, 8, FAM_ALL, .number = bytes_seen },
	{ NF9_FIELD_FLOWS_EVICTED, 8, FAM_ALL, .number = flows_evicted },
};

static uint64_t app_id(const struct nf9_view *v)
{
	return v->app->id;
}
static const uint8_t *app_name(const struct nf9_view *v)
{
	return (const uint8_t *)v->app->name;
}
static const uint8_t *app_description(const struct nf9_view *v)
{
	return (const uint8_t *)v->app->description;
}

/*
 * The names of application ids, in the layout nfdump 1.7 recognises as
 * "nbar" options (an options template with 95, 96 or 94 in it): it stores
 * them and prints %nbnam for the flows whose field 95 matches.
 * The description follows the name and is not shorter than it: nfdump
 * 1.7.1 checks the description's UTF-8 over the name's length.
 */
static const struct nf9_field apps_fields[] = {
	{ NF9_APPLICATION_ID, 5, FAM_ALL, .number = app_id },
	{ NF9_APPLICATION_NAME, NF9_APP_NAME_LEN, FAM_ALL, .bytes = app_name },
	{ NF9_APPLICATION_DESCRIPTION, NF9_APP_DESC_LEN, FAM_ALL, .bytes = app_description },
};

_Static_assert(NF9_APP_DESC_LEN >= NF9_APP_NAME_LEN, "see apps_fields");

/* A list of fields as one template or record sees it. */
struct nf9_layout {
	const struct nf9_field *fields;
	size_t n;
	uint8_t family;
	uint8_t features; /* enum nf9_feature switched on */
};

static const struct nf9_layout layout_scope = { stats_scope, ARRAY_LEN(stats_scope), FAM_ALL, 0 };
static const struct nf9_layout layout_stats = { stats_fields, ARRAY_LEN(stats_fields), FAM_ALL, 0 };
static const struct nf9_layout layout_apps = { apps_fields, ARRAY_LEN(apps_fields), FAM_ALL, 0 };

static const struct nf9_layout layout_encap = { encap_fields, ARRAY_LEN(encap_fields), FAM_ALL, 0 };

/*
 * The data template of one family, with or without the reset verdict. An
 * encapsulation template is the one with the verdict whenever the reset
 * templates exist (0 for none: two templates, not four), then
 * layout_encap.
 */
static struct nf9_layout flow_layout(const struct nf9_config *cfg, uint8_t family, bool verdict)
{
	return (struct nf9_layout){
		flow_fields,
		ARRAY_LEN(flow_fields),
		family,
		(cfg->as_numbers ? FEAT_AS : 0) | (verdict ? FEAT_VERDICT : 0) |
			(cfg->next_hops ? FEAT_NEXT_HOP : 0),
	};
}

static struct nf9_layout encap_base_layout(const struct nf9_config *cfg, uint8_t family)
{
	return flow_layout(cfg, family, cfg->reset_verdicts);
}

static size_t pad4(size_t len)
{
	return (len + 3) & ~(size_t)3;
}

static uint8_t *put_be(uint8_t *p, uint64_t value, size_t len)
{
	for (size_t i = len; i > 0; i--) {
		p[i - 1] = value & 0xff;
		value >>= 8;
	}
	return p + len;
}

static bool in_layout(const struct nf9_layout *l, size_t i)
{
	return (l->fields[i].families & l->family) && (l->fields[i].needs & ~l->features) == 0;
}

static size_t layout_field_count(const struct nf9_layout *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += in_layout(l, i);
	return n;
}

static size_t layout_record_len(const struct nf9_layout *l)
{
	size_t len = 0;

	for (size_t i = 0; i < l->n; i++)
		if (in_layout(l, i))
			len += l->fields[i].len;
	return len;
}

/* The (type, length) pairs of a template. */
static uint8_t *put_field_specs(uint8_t *p, const struct nf9_layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!in_layout(l, i))
			continue;
		p = put_be(p, l->fields[i].id, 2);
		p = put_be(p, l->fields[i].len, 2);
	}
	return p;
}

static uint8_t *put_record(uint8_t *p, const struct nf9_layout *l, const struct nf9_view *v)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct nf9_field *f = &l->fields[i];

		if (!in_layout(l, i))
			continue;
		if (f->bytes)
			memcpy(p, f->bytes(v), f->len);
		else
			put_be(p, f->number(v), f->len);
		p += f->len;
	}
	return p;
}

static uint8_t *put_data_template(uint8_t *p, uint16_t id, const struct nf9_layout *l)
{
	p = put_be(p, id, 2);
	p = put_be(p, layout_field_count(l), 2);
	return put_field_specs(p, l);
}

static uint8_t *put_options_template(uint8_t *p, uint16_t id, const struct nf9_layout *scope,
				     const struct nf9_layout *opts)
{
	p = put_be(p, id, 2);
	p = put_be(p, 4 * layout_field_count(scope), 2);
	p = put_be(p, 4 * layout_field_count(opts), 2);
	p = put_field_specs(p, scope);
	return put_field_specs(p, opts);
}

/*
 * Zero padding to 4 bytes, then the length that covers it. At most 3
 * bytes, so always shorter than a record: nfdump would read a longer
 * padding as one more record.
 */
static uint8_t *end_set(uint8_t *set, uint8_t *end)
{
	size_t len = pad4(end - set);

	memset(end, 0, len - (end - set));
	put_be(set + 2, len, 2);
	return set + len;
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
	struct nf9_view v = { .source_id = cfg->source_id };
	struct nf9_layout v4 = flow_layout(cfg, FAM_V4, false);
	struct nf9_layout v6 = flow_layout(cfg, FAM_V6, false);
	uint8_t *start = p, *set = p;

	p = put_be(set, NF9_SET_TEMPLATE, 2) + 2;
	p = put_data_template(p, NF9_TEMPLATE_FLOW_V4, &v4);
	p = put_data_template(p, NF9_TEMPLATE_FLOW_V6, &v6);
	if (cfg->reset_verdicts) {
		struct nf9_layout r4 = flow_layout(cfg, FAM_V4, true);
		struct nf9_layout r6 = flow_layout(cfg, FAM_V6, true);

		p = put_data_template(p, NF9_TEMPLATE_RESET_V4, &r4);
		p = put_data_template(p, NF9_TEMPLATE_RESET_V6, &r6);
	}
	set = end_set(set, p);

	p = put_be(set, NF9_SET_OPTIONS_TEMPLATE, 2) + 2;
	p = put_options_template(p, NF9_TEMPLATE_STATS, &layout_scope, &layout_stats);
	set = end_set(set, p);

	p = put_be(set, NF9_SET_OPTIONS_TEMPLATE, 2) + 2;
	p = put_options_template(p, NF9_TEMPLATE_APPS, &layout_scope, &layout_apps);
	set = end_set(set, p);

	p = put_be(set, NF9_TEMPLATE_APPS, 2) + 2;
	for (size_t i = 0; i < ARRAY_LEN(apps); i++) {
		v.app = &apps[i];
		p = put_record(p, &layout_scope, &v);
		p = put_record(p, &layout_apps, &v);
	}
	p = end_set(set, p);
	return p - start;
}

/* Records put_templates() writes, as the header counts them. */
static uint16_t template_records(const struct nf9_config *cfg)
{
	return 4 + ARRAY_LEN(apps) + (cfg->reset_verdicts ? 2 : 0);
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

	p = put_be(set, NF9_SET_TEMPLATE, 2) + 2;
	for (uint8_t fam = FAM_V4; fam <= FAM_V6; fam <<= 1) {
		struct nf9_layout l = encap_base_layout(cfg, fam);

		p = put_be(p, fam == FAM_V4 ? NF9_TEMPLATE_ENCAP_V4 : NF9_TEMPLATE_ENCAP_V6, 2);
		p = put_be(p, layout_field_count(&l) + layout_field_count(&layout_encap), 2);
		p = put_field_specs(p, &l);
		p = put_field_specs(p, &layout_encap);
	}
	return end_set(set, p) - set;
}

static size_t encap_templates_len(const struct nf9_config *cfg)
{
	uint8_t scratch[NF9_PAYLOAD_LIMIT];

	return put_encap_templates(scratch, cfg);
}

static size_t stats_record_len(void)
{
	return layout_record_len(&layout_scope) + layout_record_len(&layout_stats);
}

/* The longest record is an IPv6 one (or the statistics), of the
 * encapsulation templates or of the others. */
static size_t largest_set_len(const struct nf9_config *cfg, bool encap)
{
	struct nf9_layout l6 = encap_base_layout(cfg, FAM_V6);
	size_t v6 = layout_record_len(&l6) + (encap ? layout_record_len(&layout_encap) : 0);
	size_t st = stats_record_len();

	return pad4(NF9_SET_HEADER_LEN + (v6 > st ? v6 : st));
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
	/* A packet with the templates, then the largest record each in a
	 * FlowSet of its own (families alternating): a lower bound. */
	size_t t = templates_len(&s->cfg), e = s->encap_templates ? encap_templates_len(&s->cfg) : 0;
	size_t largest = largest_set_len(&s->cfg, true);
	size_t used = NF9_HEADER_LEN + t + e;
	size_t n;

	/* when both do not fit with a record, they go apart (open_packet) */
	if (used + largest > s->cfg.max_payload)
		used = NF9_HEADER_LEN + (t > e ? t : e);
	n = used < s->cfg.max_payload ? (s->cfg.max_payload - used) / largest : 0;

	return n ? n : 1;
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
	if (s->encap_templates_due && s->len + encap_templates_len(&s->cfg) +
						  largest_set_len(&s->cfg, true) <=
					  s->cfg.max_payload)
		put_encap_templates_here(s);
}

static void close_data_set(struct nf9_stream *s)
{
	if (!s->set_id)
		return;
	s->len = end_set(s->pkt + s->set_start, s->pkt + s->len) - s->pkt;
	s->set_id = 0;
}

static void open_data_set(struct nf9_stream *s, uint16_t set_id)
{
	close_data_set(s);
	s->set_start = s->len;
	s->set_id = set_id;
	put_be(s->pkt + s->len, set_id, 2);
	s->len += NF9_SET_HEADER_LEN;
}

/* Packet length once the open data FlowSet is padded and closed. */
static size_t closed_len(const struct nf9_stream *s)
{
	if (!s->set_id)
		return s->len;
	return s->set_start + pad4(s->len - s->set_start);
}

/* Would the packet, padded and closed, still fit with one more record? */
static bool record_fits(const struct nf9_stream *s, uint16_t set_id, size_t rec_len)
{
	size_t end;

	if (s->set_id == set_id)
		end = s->set_start + pad4(s->len - s->set_start + rec_len);
	else
		end = closed_len(s) + pad4(NF9_SET_HEADER_LEN + rec_len);
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

	p = put_be(p, NF9_VERSION, 2);
	p = put_be(p, s->count, 2);
	p = put_be(p, uptime_at(stamp, s->pkt_base_ms), 4);
	p = put_be(p, stamp / 1000, 4);
	p = put_be(p, s->sequence, 4);
	put_be(p, s->cfg.source_id, 4);
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
	return closed_len(s) + encap_templates_len(&s->cfg) + pad4(NF9_SET_HEADER_LEN + rec_len) <=
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
	struct nf9_view v = { .rec = rec, .clk = clk };
	struct nf9_layout l;
	uint16_t set_id;
	uint8_t *p;
	int err;

	if (rec->key.ip_version == 4) {
		l = flow_layout(&s->cfg, FAM_V4, verdict || (encap && s->cfg.reset_verdicts));
		set_id = encap	 ? NF9_TEMPLATE_ENCAP_V4 :
			 verdict ? NF9_TEMPLATE_RESET_V4 :
				   NF9_TEMPLATE_FLOW_V4;
	} else if (rec->key.ip_version == 6) {
		l = flow_layout(&s->cfg, FAM_V6, verdict || (encap && s->cfg.reset_verdicts));
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
			   layout_record_len(&l) + (encap ? layout_record_len(&layout_encap) : 0), clk,
			   &err);
	p = put_record(p, &l, &v);
	if (encap)
		put_record(p, &layout_encap, &v);
	s->flows++;
	return err;
}

int nf9_add_stats(struct nf9_stream *s, const struct probe_stats *st, const struct nf9_clock *clk)
{
	struct nf9_view v = {
		.stats = st,
		.clk = clk,
		.source_id = s->cfg.source_id,
		.stream = s,
	};
	uint8_t *p;
	int err;

	p = reserve_record(s, NF9_TEMPLATE_STATS, stats_record_len(), clk, &err);
	p = put_record(p, &layout_scope, &v);
	put_record(p, &layout_stats, &v);
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
