/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the reset JSON Lines writers: each writes one line into a
 * memory stream, which is parsed back with jansson and checked field by
 * field against values worked out by hand, so what is tested is the
 * contract (docs/export.md, "JSON Lines") and the facts a person needs
 * to check a verdict, not the writer's helpers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include "detect/reset_json.h"
#include "json_line_sink.h"

/* 2023-11-14T22:13:20.123Z */
#define T0_MS 1700000000123ULL
#define MS 1000000ULL

/*
 * A forged RST|ACK from 198.51.100.7:6881 to 192.0.2.1:51413: TTL 46
 * where the sender's packets came with 52, IP ID 5461 where its IDs ran
 * sequentially from 7000, 2.5 s after its last packet.
 */
static struct reset_report forged_report(void)
{
	struct reset_report r;
	struct event *ev = &r.ev;
	struct tcp_event *t = &ev->tcp;

	memset(&r, 0, sizeof(r));
	ev->time_ns = 5000 * MS;
	ev->type = EVENT_TCP_RESET;
	ev->key = (struct flow_key){
		.ifindex = 3,
		.vlan = 100,
		.ip_version = 4,
		.proto = 6,
		.src = { 198, 51, 100, 7 },
		.dst = { 192, 0, 2, 1 },
		.sport = 6881,
		.dport = 51413,
	};
	t->pkt = (struct tcp_packet_facts){
		.seq = 3000000000u,
		.ack = 4000000000u,
		.ttl = 46,
		.ip_id = 5461,
		.window = 0,
		.tcp_flags = 0x14,
		.df = 1,
	};
	t->snd.flags = SIDE_SEEN | SIDE_TS;
	t->snd.last_ns = 2500 * MS;
	t->snd.ttl_last = 52;
	t->snd.ttl_min = 51;
	t->snd.ttl_max = 52;
	t->snd.last_ip_id = 7000;
	t->snd.ipid_run = 12;
	t->snd.snd_max = 2999990000u;
	t->snd.last_tsval = 123456;
	t->snd.packets = 40;
	t->snd.rst_count = 1;
	t->rcv.flags = SIDE_SEEN;
	t->rcv.max_ack = 2999990000u;
	t->rcv.last_ip_id = 5461;
	t->rcv.ttl_last = 64;
	t->signals = RESET_SIGNAL_BIT(R6_TTL) | RESET_SIGNAL_BIT(R7_IP_ID);
	r.signals = t->signals | RESET_SIGNAL_BIT(R10_BOTH_DIRECTIONS) |
		    RESET_SIGNAL_BIT(R12_CONNECTION_DIED);
	r.verdict = VERDICT_FORGED;
	r.established = true;
	r.bittorrent = true;
	r.rtt_ns = 80500000; /* 80.5 ms */
	return r;
}

static json_t *write_reset(const struct reset_report *r, uint64_t wall_ms)
{
	struct sink s;

	sink_open(&s);
	assert_int_equal(json_write_reset(s.f, r, wall_ms), 0);
	return sink_parse(&s);
}

static void test_reset_contract(void **state)
{
	struct reset_report r = forged_report();
	json_t *o, *facts, *snd, *peer;

	(void)state;
	o = write_reset(&r, T0_MS);
	/* The JSON Lines contract (docs/export.md). */
	expect_str(o, "type", "reset");
	expect_str(o, "verdict", "forged");
	expect_list(o, "signals", "R6,R7,R10,R12");
	expect_str(o, "time", "2023-11-14T22:13:20.123Z");
	expect_str(o, "src", "198.51.100.7");
	expect_str(o, "dst", "192.0.2.1");
	expect_int(o, "sport", 6881);
	expect_int(o, "dport", 51413);
	expect_int(o, "ttl", 46);
	expect_int(o, "ip_id", 5461);
	expect_int(o, "seq", 3000000000LL); /* unsigned 32 bits, not negative */
	/* The rest. */
	expect_int(o, "ack", 4000000000LL);
	expect_int(o, "window", 0);
	expect_str(o, "tcp_flags", "RA");
	expect_int(o, "ip_version", 4);
	expect_int(o, "ifindex", 3);
	expect_int(o, "vlan", 100);
	expect_bool(o, "established", true);
	expect_bool(o, "bittorrent", true);
	expect_real(o, "rtt_ms", 80.5);
	assert_int_equal(json_object_size(o), 21);

	facts = json_object_get(o, "facts");
	assert_true(json_is_object(facts));
	snd = json_object_get(facts, "sender");
	peer = json_object_get(facts, "peer");
	assert_true(json_is_object(snd));
	assert_true(json_is_object(peer));
	expect_int(snd, "ttl_last", 52);
	expect_int(snd, "ttl_min", 51);
	expect_int(snd, "ttl_max", 52);
	expect_int(snd, "last_ip_id", 7000);
	expect_int(snd, "ipid_run", 12);
	expect_int(snd, "snd_max", 2999990000LL);
	expect_int(snd, "last_tsval", 123456);
	expect_int(snd, "packets", 40);
	expect_int(peer, "max_ack", 2999990000LL);
	expect_int(peer, "last_ip_id", 5461);
	expect_int(peer, "ttl_last", 64);
	expect_null(facts, "tsval");
	expect_real(facts, "idle_s", 2.5);
	expect_int(facts, "rst_count", 1);
	expect_bool(facts, "df", true);
	json_decref(o);
}

/* What is unknown is null, not a made-up zero; IPv6 addresses. */
static void test_reset_unknowns_ipv6(void **state)
{
	struct reset_report r = forged_report();
	json_t *o, *facts;

	(void)state;
	r.ev.key.ip_version = 6;
	memset(r.ev.key.src, 0, 16);
	memset(r.ev.key.dst, 0, 16);
	r.ev.key.src[0] = 0x20, r.ev.key.src[1] = 0x01, r.ev.key.src[2] = 0x0d;
	r.ev.key.src[3] = 0xb8, r.ev.key.src[15] = 1;
	r.ev.key.dst[0] = 0x20, r.ev.key.dst[1] = 0x01, r.ev.key.dst[2] = 0x0d;
	r.ev.key.dst[3] = 0xb8, r.ev.key.dst[15] = 2;
	r.ev.tcp.snd.flags = 0; /* only RSTs from it: no history */
	r.ev.tcp.pkt.has_ts = 1;
	r.ev.tcp.pkt.tsval = 99;
	r.ev.tcp.pkt.df = 0;
	r.signals = 0;
	r.verdict = VERDICT_GENUINE;
	r.rtt_ns = 0;
	r.established = false;
	o = write_reset(&r, T0_MS);
	expect_str(o, "src", "2001:db8::1");
	expect_str(o, "dst", "2001:db8::2");
	expect_int(o, "ip_version", 6);
	expect_str(o, "verdict", "genuine");
	expect_list(o, "signals", "");
	expect_null(o, "rtt_ms");
	expect_bool(o, "established", false);
	facts = json_object_get(o, "facts");
	expect_null(json_object_get(facts, "sender"), "last_tsval");
	expect_null(facts, "idle_s");
	expect_int(facts, "tsval", 99);
	expect_bool(facts, "df", false);
	json_decref(o);
}

static void test_reset_connection(void **state)
{
	struct conn_report c;
	struct sink s;
	json_t *o;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.first_rst = forged_report().ev.key;
	c.first_rst_ns = 1000 * MS;
	c.last_rst_ns = 3250 * MS; /* 2.25 s later */
	c.resets = 4;
	c.forged = 2;
	c.suspect = 1;
	c.signals = RESET_SIGNAL_BIT(R1_DATA_AFTER_RESET) | RESET_SIGNAL_BIT(R8_WINDOW);
	c.verdict = VERDICT_FORGED;
	c.established = true;
	c.bittorrent = true;
	c.blocked = true;
	sink_open(&s);
	assert_int_equal(json_write_reset_connection(s.f, &c, T0_MS), 0);
	o = sink_parse(&s);
	expect_str(o, "type", "reset_connection");
	expect_str(o, "verdict", "forged");
	expect_list(o, "signals", "R1,R8");
	expect_int(o, "resets", 4);
	expect_int(o, "forged", 2);
	expect_int(o, "suspect", 1);
	expect_bool(o, "blocked", true);
	expect_bool(o, "bittorrent", true);
	expect_bool(o, "established", true);
	expect_str(o, "first", "2023-11-14T22:13:17.873Z");
	expect_str(o, "last", "2023-11-14T22:13:20.123Z");
	expect_str(o, "src", "198.51.100.7");
	expect_str(o, "dst", "192.0.2.1");
	expect_int(o, "sport", 6881);
	expect_int(o, "dport", 51413);
	expect_int(o, "ip_version", 4);
	expect_int(o, "ifindex", 3);
	expect_int(o, "vlan", 100);
	assert_int_equal(json_object_size(o), 18);
	json_decref(o);
}

/* A write to a stream that fails reports it. */
static void test_write_error(void **state)
{
	struct reset_report r = forged_report();
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (!f)
		skip();
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(json_write_reset(f, &r, T0_MS), -EIO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_contract),
		cmocka_unit_test(test_reset_unknowns_ipv6),
		cmocka_unit_test(test_reset_connection),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests_name("reset_json", tests, NULL, NULL);
}
