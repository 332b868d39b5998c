/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the JSON Lines writers. Each test writes into a memory
 * stream, checks that exactly one newline-terminated line came out, parses
 * it back with jansson and checks every field against values worked out
 * by hand (times, flag letters, hex), so the contract (docs/export.md,
 * "JSON Lines") is what is tested, not the writer's own helpers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "lib/json_output.h"
#include "lib/time_format.h"
#include "json_line_sink.h"

/* 2023-11-14T22:13:20.123Z */
#define T0_MS 1700000000123ULL

static json_t *write_flow(const struct flow_record *rec)
{
	struct sink s;

	sink_open(&s);
	assert_int_equal(json_write_flow(s.f, rec), 0);
	return sink_parse(&s);
}

static json_t *write_event(const struct event *ev, uint64_t wall_ms)
{
	struct sink s;

	sink_open(&s);
	assert_int_equal(json_write_bt_event(s.f, ev, wall_ms), 0);
	return sink_parse(&s);
}

/* TCP 192.0.2.1:51413 -> 198.51.100.7:6881, ifindex 3, VLAN 100, BitTorrent. */
static struct flow_record ipv4_flow(void)
{
	struct flow_record r = {
		.key = {
			.ifindex = 3, .vlan = 100, .ip_version = 4, .proto = 6,
			.src = { 192, 0, 2, 1 }, .dst = { 198, 51, 100, 7 },
			.sport = 51413, .dport = 6881,
		},
		.packets = 12, .bytes = 4031,
		.first_ms = T0_MS, .last_ms = T0_MS + 61877,
		.tcp_flags = 0x1b, .tos = 0x10, .ttl_min = 60, .ttl_max = 64,
		.app = APP_BITTORRENT, .end_reason = END_OF_FLOW,
	};
	return r;
}

static void test_flow_ipv4(void **state)
{
	struct flow_record r = ipv4_flow();
	json_t *o;

	(void)state;
	o = write_flow(&r);
	expect_str(o, "type", "flow");
	expect_int(o, "ip_version", 4);
	expect_str(o, "src", "192.0.2.1");
	expect_str(o, "dst", "198.51.100.7");
	expect_int(o, "sport", 51413);
	expect_int(o, "dport", 6881);
	expect_int(o, "proto", 6);
	expect_int(o, "packets", 12);
	expect_int(o, "bytes", 4031);
	expect_str(o, "first", "2023-11-14T22:13:20.123Z");
	expect_str(o, "last", "2023-11-14T22:14:22.000Z");
	expect_str(o, "tcp_flags", "FSPA"); /* 0x1b: FIN SYN PSH ACK */
	expect_int(o, "ifindex", 3);
	expect_int(o, "vlan", 100);
	expect_str(o, "app", "bittorrent");
	expect_str(o, "end_reason", "end");
	expect_int(o, "tos", 16);
	expect_int(o, "ttl_min", 60);
	expect_int(o, "ttl_max", 64);
	assert_int_equal(json_object_size(o), 19);
	json_decref(o);
}

/* UDP [2001:db8::1]:53 -> [2001:db8:0:1::2]:5353, not classified. */
static void test_flow_ipv6(void **state)
{
	struct flow_record r = {
		.key = {
			.ifindex = 7, .ip_version = 6, .proto = 17,
			.src = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
			.dst = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, [15] = 2 },
			.sport = 53, .dport = 5353,
		},
		.packets = 1ULL << 40, .bytes = 1ULL << 50,	/* past 32 bits */
		.first_ms = 1700000000000ULL, .last_ms = 1700000000005ULL,
		.ttl_min = 255, .ttl_max = 255, .end_reason = END_IDLE,
	};
	json_t *o;

	(void)state;
	o = write_flow(&r);
	expect_int(o, "ip_version", 6);
	expect_str(o, "src", "2001:db8::1");
	expect_str(o, "dst", "2001:db8:0:1::2");
	expect_int(o, "sport", 53);
	expect_int(o, "dport", 5353);
	expect_int(o, "proto", 17);
	expect_int(o, "packets", 1LL << 40);
	expect_int(o, "bytes", 1LL << 50);
	expect_str(o, "first", "2023-11-14T22:13:20.000Z");
	expect_str(o, "last", "2023-11-14T22:13:20.005Z");
	expect_str(o, "tcp_flags", "");
	expect_int(o, "vlan", 0);
	expect_null(o, "app");
	expect_str(o, "end_reason", "idle");
	json_decref(o);
}

/* What carried a flow: only when something did, named, the MPLS entry
 * split into label and traffic class. */
static void test_flow_carriers(void **state)
{
	struct flow_record r = ipv4_flow();
	json_t *o;

	(void)state;
	o = write_flow(&r);
	expect_absent(o, "tunnel");
	expect_absent(o, "encap");
	expect_absent(o, "mpls_label");
	expect_absent(o, "inner_vlan");
	json_decref(o);

	r.tunnel = TUN_VXLAN;
	r.encap = ENCAP_PPPOE | ENCAP_MPLS | ENCAP_NESTED;
	r.mpls_label = 1000u << 12 | 5u << 9 | 1u << 8 | 64;
	r.inner_vlan = 20;
	o = write_flow(&r);
	expect_str(o, "tunnel", "vxlan");
	expect_list(o, "encap", "pppoe,mpls,nested");
	expect_int(o, "mpls_label", 1000);
	expect_int(o, "mpls_tc", 5);
	expect_int(o, "inner_vlan", 20);
	json_decref(o);

	r.tunnel = TUN_TEREDO;
	r.encap = 0;
	o = write_flow(&r);
	expect_str(o, "tunnel", "teredo");
	expect_absent(o, "mpls_label"); /* an entry without the MPLS bit */
	json_decref(o);
}

/* Where a routed flow went: only inline, where the route is known. */
static void test_flow_route(void **state)
{
	struct flow_record r = ipv4_flow();
	json_t *o;

	(void)state;
	o = write_flow(&r);
	expect_absent(o, "out_ifindex");
	expect_absent(o, "next_hop");
	json_decref(o);
	r.out_ifindex = 4;
	r.next_hop[0] = 10;
	r.next_hop[2] = 3;
	r.next_hop[3] = 1;
	o = write_flow(&r);
	expect_int(o, "out_ifindex", 4);
	expect_str(o, "next_hop", "10.0.3.1");
	json_decref(o);
}

static void test_flow_tcp_flags_letters(void **state)
{
	static const struct {
		uint8_t flags;
		const char *want;
	} cases[] = {
		{ 0x02, "S" },	      { 0x12, "SA" }, { 0x04, "R" },   { 0x14, "RA" },
		{ 0x11, "FA" },	      { 0x20, "U" },  { 0xc2, "SEC" }, /* SYN with ECE and CWR: ECN setup */
		{ 0xff, "FSRPAUEC" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flow_record r = ipv4_flow();
		json_t *o;

		r.tcp_flags = cases[i].flags;
		o = write_flow(&r);
		expect_str(o, "tcp_flags", cases[i].want);
		json_decref(o);
	}
}

static void test_flow_end_reasons(void **state)
{
	static const char *const names[] = {
		[END_IDLE] = "idle",	 [END_ACTIVE] = "active",	   [END_OF_FLOW] = "end",
		[END_FORCED] = "forced", [END_LACK_OF_RESOURCES] = "lack",
	};

	(void)state;
	for (int reason = END_IDLE; reason <= END_LACK_OF_RESOURCES; reason++) {
		struct flow_record r = ipv4_flow();
		json_t *o;

		r.end_reason = reason;
		o = write_flow(&r);
		expect_str(o, "end_reason", names[reason]);
		json_decref(o);
	}
}

static void test_time_format(void **state)
{
	static const struct {
		uint64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ 999, "1970-01-01T00:00:00.999Z" },
		{ 1000, "1970-01-01T00:00:01.000Z" },
		{ 951782400000ULL, "2000-02-29T00:00:00.000Z" }, /* leap day */
		{ 1700000000123ULL, "2023-11-14T22:13:20.123Z" },
		{ 4102444799999ULL, "2099-12-31T23:59:59.999Z" },
	};
	char buf[40];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_format_time(buf, sizeof(buf), cases[i].ms);
		assert_string_equal(buf, cases[i].want);
	}
}

/*
 * A handshake from 10.0.0.1:51413 to 10.0.0.2:6881 whose reserved bytes
 * announce LTEP, DHT and the fast extension (uTorrent's 00 00 00 00 00 10
 * 00 05), info_hash 01 23 45 ... as written below.
 */
static struct event handshake_event(void)
{
	struct event ev = {
		.time_ns = 123456789,
		.key = {
			.ifindex = 2, .vlan = 7, .ip_version = 4, .proto = 6,
			.src = { 10, 0, 0, 1 }, .dst = { 10, 0, 0, 2 },
			.sport = 51413, .dport = 6881,
		},
		.type = EVENT_BITTORRENT,
		.kind = BT_HANDSHAKE,
		.bt.reserved = { 0, 0, 0, 0, 0, 0x10, 0, 0x05 },
		.bt.info_hash = {
			0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0xff,
			0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0,
		},
	};
	return ev;
}

static void test_bt_handshake_ipv4(void **state)
{
	struct event ev = handshake_event();
	json_t *o;

	(void)state;
	o = write_event(&ev, T0_MS);
	expect_str(o, "type", "bittorrent");
	expect_str(o, "kind", "handshake");
	expect_str(o, "time", "2023-11-14T22:13:20.123Z");
	expect_int(o, "ip_version", 4);
	expect_str(o, "src", "10.0.0.1");
	expect_str(o, "dst", "10.0.0.2");
	expect_int(o, "sport", 51413);
	expect_int(o, "dport", 6881);
	expect_int(o, "proto", 6);
	expect_int(o, "ifindex", 2);
	expect_int(o, "vlan", 7);
	expect_str(o, "info_hash", "0123456789abcdef00ff102030405060708090a0");
	expect_list(o, "extensions", "ltep,dht,fast");
	expect_str(o, "reserved", "0000000000100005");
	assert_int_equal(json_object_size(o), 14);
	json_decref(o);
}

/* Each reserved bit alone, and the bits next to them that mean nothing here. */
static void test_bt_handshake_extension_bits(void **state)
{
	static const struct {
		uint8_t r5, r7;
		const char *want;
	} cases[] = {
		{ 0x00, 0x00, "" },	     { 0x10, 0x00, "ltep" }, { 0x00, 0x01, "dht" },
		{ 0x00, 0x04, "fast" },	     { 0xef, 0xfa, "" }, /* every other bit of bytes 5 and 7 */
		{ 0x10, 0x04, "ltep,fast" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event ev = handshake_event();
		json_t *o;

		memset(ev.bt.reserved, 0, sizeof(ev.bt.reserved));
		ev.bt.reserved[5] = cases[i].r5;
		ev.bt.reserved[7] = cases[i].r7;
		o = write_event(&ev, T0_MS);
		expect_list(o, "extensions", cases[i].want);
		json_decref(o);
	}
}

/* Reserved bytes and info_hash not copied (segment too short): null, not zeros. */
static void test_bt_handshake_without_hash(void **state)
{
	struct event ev = handshake_event();
	json_t *o;

	(void)state;
	memset(ev.bt.reserved, 0, sizeof(ev.bt.reserved));
	memset(ev.bt.info_hash, 0, sizeof(ev.bt.info_hash));
	o = write_event(&ev, T0_MS);
	expect_str(o, "kind", "handshake");
	expect_null(o, "info_hash");
	expect_null(o, "extensions");
	expect_null(o, "reserved");
	json_decref(o);
}

/* uTP over IPv6: the contract's fields, and no handshake fields. */
static void test_bt_utp_ipv6(void **state)
{
	struct event ev = {
		.key = {
			.ifindex = 4, .ip_version = 6, .proto = 17,
			.src = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 },
			.dst = { 0xfe, 0x80, [14] = 0xab, [15] = 0xcd },
			.sport = 6881, .dport = 40000,
		},
		.type = EVENT_BITTORRENT,
		.kind = BT_UTP,
		.bt.info_hash = { 1 },	/* ignored for anything but a handshake */
	};
	json_t *o;

	(void)state;
	o = write_event(&ev, 1700000000007ULL);
	expect_str(o, "type", "bittorrent");
	expect_str(o, "kind", "utp");
	expect_str(o, "time", "2023-11-14T22:13:20.007Z");
	expect_int(o, "ip_version", 6);
	expect_str(o, "src", "2001:db8::10");
	expect_str(o, "dst", "fe80::abcd");
	expect_int(o, "sport", 6881);
	expect_int(o, "dport", 40000);
	expect_int(o, "proto", 17);
	expect_int(o, "ifindex", 4);
	expect_int(o, "vlan", 0);
	expect_absent(o, "info_hash");
	expect_absent(o, "extensions");
	expect_absent(o, "reserved");
	assert_int_equal(json_object_size(o), 11);
	json_decref(o);
}

static void test_bt_kind_names(void **state)
{
	static const char *const names[] = {
		[BT_HANDSHAKE] = "handshake",
		[BT_MESSAGE] = "message",
		[BT_UTP] = "utp",
		[BT_DHT] = "dht",
		[BT_TRACKER] = "tracker",
		[BT_LSD] = "lsd",
		[BT_HTTP_TRACKER] = "http_tracker",
		[BT_ENCRYPTED] = "encrypted",
	};

	(void)state;
	for (int kind = BT_MESSAGE; kind <= BT_ENCRYPTED; kind++) {
		struct event ev = handshake_event();
		json_t *o;

		ev.kind = kind;
		o = write_event(&ev, T0_MS);
		expect_str(o, "kind", names[kind]);
		expect_absent(o, "info_hash");
		json_decref(o);
	}
	assert_string_equal(json_bt_kind_name(BT_HANDSHAKE), "handshake");
	assert_string_equal(json_bt_kind_name(BT_NONE), "unknown");
	assert_string_equal(json_bt_kind_name(200), "unknown");
}

/* Not a BitTorrent event: refused, nothing written. */
static void test_bt_rejects_other_events(void **state)
{
	struct event ev = handshake_event();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	ev.type = 0;
	assert_int_equal(json_write_bt_event(f, &ev, T0_MS), -EINVAL);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(len, 0);
	free(buf);
}

/* Several writes make several lines, each a complete object. */
static void test_json_lines(void **state)
{
	struct flow_record r = ipv4_flow();
	struct event ev = handshake_event();
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *types[] = { "flow", "bittorrent", "flow" };
	int n = 0;

	(void)state;
	assert_non_null(f);
	assert_int_equal(json_write_flow(f, &r), 0);
	assert_int_equal(json_write_bt_event(f, &ev, T0_MS), 0);
	assert_int_equal(json_write_flow(f, &r), 0);
	assert_int_equal(fclose(f), 0);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);

		assert_non_null(o);
		assert_true(n < 3);
		expect_str(o, "type", types[n++]);
		json_decref(o);
	}
	assert_int_equal(n, 3);
	free(buf);
}

/* What a person types into the API is matched in the form the writers
 * store: upper case and long IPv6 forms folded, anything else refused
 * (it is put inside SQL quotes afterwards). */
static void test_canonical_addr(void **state)
{
	static const struct {
		const char *in, *want; /* want NULL: refused */
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ "2001:DB8:0:0::1", "2001:db8::1" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.1" },
		{ "192.0.2", NULL },
		{ "192.0.2.1'; DROP TABLE flows", NULL },
		{ "", NULL },
		{ NULL, NULL },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = json_canonical_addr(cases[i].in, out);

		assert_int_equal(ok, cases[i].want != NULL);
		if (ok)
			assert_string_equal(out, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_ipv4),
		cmocka_unit_test(test_flow_ipv6),
		cmocka_unit_test(test_flow_carriers),
		cmocka_unit_test(test_flow_route),
		cmocka_unit_test(test_flow_tcp_flags_letters),
		cmocka_unit_test(test_flow_end_reasons),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_bt_handshake_ipv4),
		cmocka_unit_test(test_bt_handshake_extension_bits),
		cmocka_unit_test(test_bt_handshake_without_hash),
		cmocka_unit_test(test_bt_utp_ipv6),
		cmocka_unit_test(test_bt_kind_names),
		cmocka_unit_test(test_bt_rejects_other_events),
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_canonical_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
