// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fields both flow encoders write (see flow_fields.h): the layout walk
 * and the accessors, each named for what it reads, not for one protocol's
 * name of the field.
 */
#include <string.h>
#include "export/flow_fields.h"
#include "export/netflow9.h" /* nf9_application_id: one numbering for both */

size_t ff_field_count(const struct ff_layout *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += ff_in_layout(l, i);
	return n;
}

uint8_t *ff_end_set(uint8_t *set, uint8_t *end)
{
	size_t len = ff_pad4(end - set);

	memset(end, 0, len - (end - set));
	ff_put_be(set + 2, len, 2);
	return set + len;
}

size_t ff_min_flows_per_message(size_t header, size_t templates, size_t encap_templates,
				size_t largest_set, size_t max_payload)
{
	size_t used = header + templates + encap_templates;
	size_t n;

	if (used + largest_set > max_payload)
		used = header + (templates > encap_templates ? templates : encap_templates);
	n = used < max_payload ? (max_payload - used) / largest_set : 0;
	return n ? n : 1;
}

static bool is_icmp(uint8_t proto)
{
	return proto == 1 || proto == 58;
}

uint64_t ff_bytes(const struct ff_view *v)
{
	return v->rec->bytes;
}
uint64_t ff_packets(const struct ff_view *v)
{
	return v->rec->packets;
}
uint64_t ff_proto(const struct ff_view *v)
{
	return v->rec->key.proto;
}
uint64_t ff_tos(const struct ff_view *v)
{
	return v->rec->tos;
}
uint64_t ff_tcp_flags(const struct ff_view *v)
{
	return v->rec->tcp_flags;
}
/* ICMP: the ports are 0 and type·256+code, as other exporters send them:
 * pmacct reads ICMP type and code only there; ff_icmp has them too. */
uint64_t ff_sport(const struct ff_view *v)
{
	return v->rec->key.sport;
}
uint64_t ff_dport(const struct ff_view *v)
{
	return v->rec->key.dport;
}
uint64_t ff_ifindex(const struct ff_view *v)
{
	return v->rec->key.ifindex;
}
uint64_t ff_out_ifindex(const struct ff_view *v)
{
	return v->rec->out_ifindex;
}
/* The key holds ICMP type << 8 | code in dport: v9's ICMP_TYPE and
 * IPFIX's icmpTypeCodeIPv4/IPv6 layout. */
uint64_t ff_icmp(const struct ff_view *v)
{
	return is_icmp(v->rec->key.proto) ? v->rec->key.dport : 0;
}
uint64_t ff_ttl_min(const struct ff_view *v)
{
	return v->rec->ttl_min;
}
uint64_t ff_ttl_max(const struct ff_view *v)
{
	return v->rec->ttl_max;
}
uint64_t ff_vlan(const struct ff_view *v)
{
	return v->rec->key.vlan;
}
uint64_t ff_ip_version(const struct ff_view *v)
{
	return v->rec->key.ip_version;
}
uint64_t ff_direction(const struct ff_view *v)
{
	return v->rec->direction;
}
uint64_t ff_end_reason(const struct ff_view *v)
{
	return v->rec->end_reason;
}
uint64_t ff_first_ms(const struct ff_view *v)
{
	return v->rec->first_ms;
}
uint64_t ff_last_ms(const struct ff_view *v)
{
	return v->rec->last_ms;
}
uint64_t ff_app_id(const struct ff_view *v)
{
	return nf9_application_id(v->rec->app);
}
uint64_t ff_bittorrent(const struct ff_view *v)
{
	return v->rec->app == APP_BITTORRENT;
}
uint64_t ff_src_as(const struct ff_view *v)
{
	return v->rec->src_as;
}
uint64_t ff_dst_as(const struct ff_view *v)
{
	return v->rec->dst_as;
}
uint64_t ff_reset_verdict(const struct ff_view *v)
{
	return v->rec->reset_verdict;
}
uint64_t ff_mpls_top(const struct ff_view *v)
{
	return flow_record_mpls_top(v->rec);
}
uint64_t ff_inner_vlan(const struct ff_view *v)
{
	return v->rec->inner_vlan;
}
uint64_t ff_tunnel(const struct ff_view *v)
{
	return v->rec->tunnel;
}
uint64_t ff_encap(const struct ff_view *v)
{
	return v->rec->encap;
}
const uint8_t *ff_src(const struct ff_view *v)
{
	return v->rec->key.src;
}
const uint8_t *ff_dst(const struct ff_view *v)
{
	return v->rec->key.dst;
}
const uint8_t *ff_next_hop(const struct ff_view *v)
{
	return v->rec->next_hop;
}

uint64_t ff_sampling_interval(const struct ff_view *v)
{
	return v->stats->sampling_interval;
}
uint64_t ff_sampling_algorithm(const struct ff_view *v)
{
	return v->stats->sampling_algorithm;
}
uint64_t ff_packets_uncounted(const struct ff_view *v)
{
	return v->stats->packets_uncounted;
}
uint64_t ff_bytes_uncounted(const struct ff_view *v)
{
	return v->stats->bytes_uncounted;
}
uint64_t ff_packets_seen(const struct ff_view *v)
{
	return v->stats->packets_seen;
}
uint64_t ff_bytes_seen(const struct ff_view *v)
{
	return v->stats->bytes_seen;
}
uint64_t ff_flows_evicted(const struct ff_view *v)
{
	return v->stats->flows_evicted;
}
