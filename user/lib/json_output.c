// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * JSON Lines flow records and BitTorrent events. Field names here are a
 * published contract (tests and users parse them): add fields freely,
 * never rename these.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "lib/json_output.h"
#include "lib/time_format.h"

void json_format_tcp_flags(char *buf, size_t len, uint8_t flags)
{
	/* Bit order of the TCP header's flag byte, lowest first. */
	static const char letters[] = "FSRPAUEC";
	size_t n = 0;

	for (int bit = 0; bit < 8 && n + 1 < len; bit++)
		if (flags & (1u << bit))
			buf[n++] = letters[bit];
	buf[n] = '\0';
}

void json_format_addr(char *buf, size_t len, const uint8_t addr[16], uint8_t ip_version)
{
	if (!inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
}

bool json_canonical_addr(const char *text, char out[64])
{
	uint8_t a[16] = {};

	if (text && inet_pton(AF_INET, text, a) == 1)
		json_format_addr(out, 64, a, 4);
	else if (text && inet_pton(AF_INET6, text, a) == 1)
		json_format_addr(out, 64, a, 6);
	else
		return false;
	return true;
}

/* Set once at start, before any line is written; read by every writer. */
static char probe_id[64];

void json_output_set_probe_id(const char *id)
{
	snprintf(probe_id, sizeof(probe_id), "%s", id ? id : "");
}

/* Reals to 9 significant digits: 1.178, not 1.1779999999999999. */
#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(9))

int json_write_line(FILE *out, json_t *obj)
{
	int err;

	if (!obj)
		return -ENOMEM;
	/* Every line names the probe that wrote it: logs of a fleet merge. */
	if (probe_id[0] && json_is_object(obj))
		json_object_set_new(obj, "probe_id", json_string(probe_id));
	err = json_dumpf(obj, out, JSON_FLAGS);
	json_decref(obj);
	if (err || fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}

int json_write_flow(FILE *out, const struct flow_record *rec)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], first[40], last[40], flags[9];
	json_t *obj;

	json_format_addr(src, sizeof(src), rec->key.src, rec->key.ip_version);
	json_format_addr(dst, sizeof(dst), rec->key.dst, rec->key.ip_version);
	json_format_time(first, sizeof(first), rec->first_ms);
	json_format_time(last, sizeof(last), rec->last_ms);
	json_format_tcp_flags(flags, sizeof(flags), rec->tcp_flags);

	obj = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:s, s:s, s:s,"
			" s:i, s:i, s:o, s:s, s:i, s:i, s:i}",
			"type", "flow", "ip_version", rec->key.ip_version, "src", src, "dst", dst,
			"sport", rec->key.sport, "dport", rec->key.dport, "proto", rec->key.proto,
			"packets", (json_int_t)rec->packets, "bytes", (json_int_t)rec->bytes,
			"first", first, "last", last, "tcp_flags", flags, "ifindex",
			(int)rec->key.ifindex, "vlan", rec->key.vlan, "app",
			rec->app == APP_BITTORRENT ? json_string("bittorrent") : json_null(),
			"end_reason", flow_end_reason_name(rec->end_reason), "tos", rec->tos,
			"ttl_min", rec->ttl_min, "ttl_max", rec->ttl_max);
	/* Only when known: most flows have neither. */
	if (obj && rec->reset_verdict)
		json_object_set_new(obj, "reset_verdict",
				    json_string(flow_reset_verdict_name(rec->reset_verdict)));
	if (obj && rec->tunnel)
		json_object_set_new(obj, "tunnel", json_string(flow_tunnel_name(rec->tunnel)));
	if (obj && rec->encap) {
		json_t *encap = json_array();

		if (rec->encap & ENCAP_PPPOE)
			json_array_append_new(encap, json_string("pppoe"));
		if (rec->encap & ENCAP_MPLS)
			json_array_append_new(encap, json_string("mpls"));
		if (rec->encap & ENCAP_PSEUDOWIRE)
			json_array_append_new(encap, json_string("pseudowire"));
		if (rec->encap & ENCAP_NESTED)
			json_array_append_new(encap, json_string("nested"));
		json_object_set_new(obj, "encap", encap);
	}
	if (obj && (rec->encap & ENCAP_MPLS)) {
		json_object_set_new(obj, "mpls_label", json_integer(rec->mpls_label >> 12));
		json_object_set_new(obj, "mpls_tc", json_integer((rec->mpls_label >> 9) & 7));
	}
	if (obj && rec->inner_vlan)
		json_object_set_new(obj, "inner_vlan", json_integer(rec->inner_vlan));
	if (obj && (rec->src_as || rec->dst_as)) {
		json_object_set_new(obj, "src_as", json_integer(rec->src_as));
		json_object_set_new(obj, "dst_as", json_integer(rec->dst_as));
	}
	if (obj && rec->out_ifindex) { /* inline, routed (docs/export.md) */
		char nh[INET6_ADDRSTRLEN];

		json_format_addr(nh, sizeof(nh), rec->next_hop, rec->key.ip_version);
		json_object_set_new(obj, "out_ifindex", json_integer(rec->out_ifindex));
		json_object_set_new(obj, "next_hop", json_string(nh));
	}
	return json_write_line(out, obj);
}

const char *flow_tunnel_name(uint8_t t)
{
	switch (t) {
	case TUN_IPIP:
		return "ipip";
	case TUN_GRE:
		return "gre";
	case TUN_ERSPAN:
		return "erspan";
	case TUN_VXLAN:
		return "vxlan";
	case TUN_GENEVE:
		return "geneve";
	case TUN_GTPU:
		return "gtpu";
	case TUN_TEREDO:
		return "teredo";
	case TUN_GRE_UDP:
		return "gre_udp";
	}
	return "none";
}

const char *flow_reset_verdict_name(uint8_t v)
{
	switch (v) {
	case FLOW_RESET_GENUINE:
		return "genuine";
	case FLOW_RESET_SUSPECT:
		return "suspect";
	case FLOW_RESET_FORGED:
		return "forged";
	}
	return "none";
}

const char *json_bt_kind_name(uint8_t kind)
{
	switch (kind) {
	case BT_HANDSHAKE:
		return "handshake";
	case BT_MESSAGE:
		return "message";
	case BT_UTP:
		return "utp";
	case BT_DHT:
		return "dht";
	case BT_TRACKER:
		return "tracker";
	case BT_LSD:
		return "lsd";
	case BT_HTTP_TRACKER:
		return "http_tracker";
	case BT_ENCRYPTED:
		return "encrypted";
	}
	return "unknown";
}

static void format_hex(char *buf, const uint8_t *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = digits[bytes[i] >> 4];
		buf[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	buf[2 * n] = '\0';
}

static bool all_zero(const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bytes[i])
			return false;
	return true;
}

/*
 * Extensions a peer announces in the handshake's reserved bytes: BEP 10
 * extension protocol (byte 5, bit 0x10), BEP 5 DHT (byte 7, bit 0x01),
 * BEP 6 fast extension (byte 7, bit 0x04).
 */
static json_t *bt_extensions(const uint8_t reserved[8])
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	if ((reserved[5] & 0x10) && json_array_append_new(list, json_string("ltep")))
		goto fail;
	if ((reserved[7] & 0x01) && json_array_append_new(list, json_string("dht")))
		goto fail;
	if ((reserved[7] & 0x04) && json_array_append_new(list, json_string("fast")))
		goto fail;
	return list;
fail:
	json_decref(list);
	return NULL;
}

/*
 * info_hash, extensions and reserved bytes of a handshake. The datapath
 * copies reserved bytes and info_hash together or not at all, and leaves
 * them zero when the segment ended first; a zero info_hash therefore means
 * "not seen", shown as null rather than as a hash no torrent has.
 */
static int add_handshake(json_t *obj, const struct event *ev)
{
	char hash[2 * sizeof(ev->bt.info_hash) + 1];
	char reserved[2 * sizeof(ev->bt.reserved) + 1];
	int err = 0;

	if (all_zero(ev->bt.info_hash, sizeof(ev->bt.info_hash))) {
		err |= json_object_set_new(obj, "info_hash", json_null());
		err |= json_object_set_new(obj, "extensions", json_null());
		err |= json_object_set_new(obj, "reserved", json_null());
		return err ? -ENOMEM : 0;
	}
	format_hex(hash, ev->bt.info_hash, sizeof(ev->bt.info_hash));
	format_hex(reserved, ev->bt.reserved, sizeof(ev->bt.reserved));
	err |= json_object_set_new(obj, "info_hash", json_string(hash));
	err |= json_object_set_new(obj, "extensions", bt_extensions(ev->bt.reserved));
	err |= json_object_set_new(obj, "reserved", json_string(reserved));
	return err ? -ENOMEM : 0;
}

int json_write_bt_event(FILE *out, const struct event *ev, uint64_t wall_ms)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], time[40];
	json_t *obj;

	if (ev->type != EVENT_BITTORRENT)
		return -EINVAL;
	json_format_addr(src, sizeof(src), ev->key.src, ev->key.ip_version);
	json_format_addr(dst, sizeof(dst), ev->key.dst, ev->key.ip_version);
	json_format_time(time, sizeof(time), wall_ms);

	obj = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "type",
			"bittorrent", "kind", json_bt_kind_name(ev->kind), "time", time,
			"ip_version", ev->key.ip_version, "src", src, "dst", dst, "sport",
			ev->key.sport, "dport", ev->key.dport, "proto", ev->key.proto, "ifindex",
			(int)ev->key.ifindex, "vlan", ev->key.vlan);
	if (obj && ev->kind == BT_HANDSHAKE && add_handshake(obj, ev)) {
		json_decref(obj);
		obj = NULL;
	}
	return json_write_line(out, obj);
}
