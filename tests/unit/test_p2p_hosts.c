/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Host behaviour on synthetic flow sets with a fake clock: a BitTorrent-
 * like host is flagged with reasons naming what it did, a busy web client
 * and a DNS resolver are not, a few recognised flows are enough, alarms
 * come once per host per period whatever the volume, remote hosts never
 * raise one, and memory stays fixed with 100,000 hosts.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include "daemon/enrich.h"
#include "detect/p2p_hosts.h"
#include "flow_fixture.h"

/* 2023-11-14T22:15:00Z, a multiple of 5 min. */
#define T0 1700000100000ull
#define PERIOD (300 * 1000ull)
#define MAX_SEEN 32

/* Local hosts are 10/8 and 192.168/16 (defaults); peers are public. */
#define BT_HOST IP4(10, 0, 0, 5)
#define BT_PORT 51413
#define PEER(i) (IP4(45, 0, 0, 0) + (uint32_t)(i))

struct sink {
	size_t n;
	struct p2p_host_report a[MAX_SEEN];
	size_t periods_closed;
	size_t hosts_at_close;
};

static void on_alarm(void *ctx, const struct p2p_host_report *r)
{
	struct sink *s = ctx;

	if (s->n < MAX_SEEN)
		s->a[s->n] = *r;
	s->n++;
}

static void on_period_end(void *ctx, struct p2p_hosts *ph)
{
	struct sink *s = ctx;
	struct p2p_stats st;

	p2p_hosts_stats(ph, &st);
	s->periods_closed++;
	s->hosts_at_close = st.hosts;
}

static struct p2p_hosts *new_hosts(struct sink *s, size_t max_hosts)
{
	struct p2p_config cfg = {
		.on_alarm = on_alarm,
		.on_period_end = on_period_end,
		.ctx = s,
		.max_hosts = max_hosts,
	};
	struct p2p_hosts *ph;

	memset(s, 0, sizeof(*s));
	ph = p2p_hosts_new(&cfg);
	assert_non_null(ph);
	return ph;
}

/* Hands a record in as the pipeline does: classified first, with the
 * hosts' local prefixes (NULL: the default ones, as the hosts have). */
static void add_flow(struct p2p_hosts *ph, const struct prefix_set *local, struct flow_record *r)
{
	static struct prefix_set defaults;
	struct enrich_config ec = { .local = local };
	struct flow_class fc;

	if (!local) {
		if (!defaults.n)
			prefix_set_default(&defaults);
		ec.local = &defaults;
	}
	enrich_flow(&ec, r, &fc);
	p2p_hosts_add_flow(ph, r, &fc);
}

static struct flow_record flow(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
			       uint8_t proto, uint64_t packets, uint64_t bytes, uint64_t t)
{
	struct flow_record r = { 0 };

	r.key.ifindex = 2;
	r.key.ip_version = 4;
	r.key.proto = proto;
	put4(r.key.src, src);
	put4(r.key.dst, dst);
	r.key.sport = sport;
	r.key.dport = dport;
	r.packets = packets;
	r.bytes = bytes;
	r.first_ms = t - 100;
	r.last_ms = t;
	r.end_reason = END_IDLE;
	return r;
}

static void feed(struct p2p_hosts *ph, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		 uint8_t proto, uint64_t packets, uint64_t bytes, uint64_t t)
{
	struct flow_record r = flow(src, sport, dst, dport, proto, packets, bytes, t);

	add_flow(ph, NULL, &r);
}

static struct event bt_event(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
			     uint8_t proto, uint8_t kind)
{
	struct event ev = { 0 };

	ev.type = EVENT_BITTORRENT;
	ev.kind = kind;
	ev.key.ifindex = 2;
	ev.key.ip_version = 4;
	ev.key.proto = proto;
	put4(ev.key.src, src);
	put4(ev.key.dst, dst);
	ev.key.sport = sport;
	ev.key.dport = dport;
	return ev;
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * A BitTorrent client on port 51413 with npeers peers, no recognition at
 * all (as if every connection were encrypted): uTP/DHT over UDP from and
 * to its port, inbound TCP on it, outbound TCP from ephemeral ports.
 */
static void feed_bt_host(struct p2p_hosts *ph, uint32_t host, int npeers, uint64_t t)
{
	for (int i = 0; i < npeers; i++) {
		uint16_t rport = 10000 + i % 50000;
		uint64_t ti = t + (uint64_t)i * 100;

		feed(ph, host, BT_PORT, PEER(i), rport, IPPROTO_UDP, 2, 240, ti);
		feed(ph, PEER(i), rport, host, BT_PORT, IPPROTO_UDP, 1, 120, ti);
		if (i % 3 == 0) {
			feed(ph, PEER(i), 30000 + i, host, BT_PORT, IPPROTO_TCP, 9, 900, ti);
			feed(ph, host, BT_PORT, PEER(i), 30000 + i, IPPROTO_TCP, 30, 40000, ti);
		}
		if (i % 2 == 0) {
			feed(ph, host, 40000 + i, PEER(i), rport, IPPROTO_TCP, 4, 300, ti);
			feed(ph, PEER(i), rport, host, 40000 + i, IPPROTO_TCP, 3, 180, ti);
		}
	}
}

static bool has_reason(const struct p2p_host_report *r, const char *text)
{
	for (unsigned int i = 0; i < r->n_reasons; i++)
		if (strstr(r->reasons[i], text))
			return true;
	return false;
}

static void print_report(const struct p2p_host_report *r)
{
	char line[1024];

	p2p_format_log(line, sizeof(line), r);
	print_message("# %s\n", line);
}

static void test_bt_behaviour_flagged(void **state)
{
	struct p2p_host_report list[4];
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);
	uint8_t want[16];
	size_t n;

	(void)state;
	feed_bt_host(ph, BT_HOST, 800, T0 + 1000);
	assert_int_equal(s.n, 1);
	put4(want, BT_HOST);
	assert_memory_equal(s.a[0].addr, want, 16);
	assert_true(s.a[0].score >= P2P_DEFAULT_THRESHOLD);
	assert_true(has_reason(&s.a[0], "TCP and UDP on port 51413"));
	assert_true(has_reason(&s.a[0], "port 51413 used with"));

	/* At the end of the period, every fact is named. */
	n = p2p_hosts_list(ph, list, 4);
	assert_int_equal(n, 1);
	print_report(&list[0]);
	assert_true(list[0].alarmed);
	assert_true(list[0].score >= 80);
	assert_in_range(list[0].peers, 720, 880);
	assert_true(has_reason(&list[0], "distinct peers in 5 min"));
	assert_true(has_reason(&list[0], "TCP and UDP on port 51413"));
	assert_true(has_reason(&list[0], "in both directions"));
	assert_true(has_reason(&list[0], "flows carried little data"));
	assert_int_equal(list[0].bt_flows, 0);
	p2p_hosts_free(ph);
}

/* Half the BitTorrent host's facts: no TCP on its port, few peers. */
static void test_partial_behaviour_not_flagged(void **state)
{
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);

	(void)state;
	/* A game console: UDP on one high port with 40 peers, nothing else. */
	for (int i = 0; i < 40; i++)
		for (int j = 0; j < 5; j++) {
			feed(ph, IP4(10, 0, 0, 9), 3074, PEER(i), 3074, IPPROTO_UDP, 500, 60000,
			     T0 + j);
			feed(ph, PEER(i), 3074, IP4(10, 0, 0, 9), 3074, IPPROTO_UDP, 500, 60000,
			     T0 + j);
		}
	assert_int_equal(s.n, 0);
	p2p_hosts_free(ph);
}

static void test_web_client_not_flagged(void **state)
{
	const uint32_t client = IP4(192, 168, 1, 10);
	struct p2p_host_report list[2];
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);

	(void)state;
	for (int i = 0; i < 800; i++) {
		uint32_t server = IP4(93, 184, 216, i % 20);
		uint16_t eph = 32768 + i;
		uint64_t t = T0 + (uint64_t)i * 300;
		bool small = i % 2; /* half are tiny API calls */

		feed(ph, client, eph, server, 443, IPPROTO_TCP, small ? 6 : 40, small ? 900 : 4000,
		     t);
		feed(ph, server, 443, client, eph, IPPROTO_TCP, small ? 5 : 90,
		     small ? 1800 : 120000, t);
		if (i % 10 == 0) /* QUIC */
			feed(ph, client, 50000 + i, server, 443, IPPROTO_UDP, 30, 3000, t);
	}
	assert_int_equal(s.n, 0);
	assert_int_equal(p2p_hosts_list(ph, list, 2), 1);
	print_report(&list[0]);
	assert_true(list[0].score < P2P_DEFAULT_THRESHOLD);
	assert_int_equal(list[0].flows, 1680);
	assert_in_range(list[0].peers, 19, 21);
	assert_false(list[0].alarmed);
	p2p_hosts_free(ph);
}

/*
 * A resolver at 10.0.0.53: customers' queries in (from many addresses and
 * random ports to 53, some over TCP), its own queries out (random source
 * ports to 53 on thousands of servers). Many peers, all tiny flows.
 */
static void test_dns_resolver_not_flagged(void **state)
{
	const uint32_t resolver = IP4(10, 0, 0, 53);
	struct p2p_host_report list[2];
	uint32_t rnd = 12345;
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);

	(void)state;
	for (int i = 0; i < 6000; i++) {
		uint16_t port = 1024 + xorshift(&rnd) % 64511;
		uint32_t server = IP4(198, 18, 0, 0) + xorshift(&rnd) % 4000;
		uint32_t client = IP4(46, 0, 0, 0) + xorshift(&rnd) % 2000;
		uint8_t proto = i % 20 ? IPPROTO_UDP : IPPROTO_TCP;
		uint64_t t = T0 + (uint64_t)i * 40;

		feed(ph, resolver, port, server, 53, IPPROTO_UDP, 1, 72, t);
		feed(ph, server, 53, resolver, port, IPPROTO_UDP, 1, 300, t);
		feed(ph, client, port, resolver, 53, proto, 1, 70, t);
		feed(ph, resolver, 53, client, port, proto, 1, 200, t);
	}
	assert_int_equal(s.n, 0);
	assert_int_equal(p2p_hosts_list(ph, list, 2), 1);
	print_report(&list[0]);
	assert_true(list[0].score < P2P_DEFAULT_THRESHOLD);
	/* Many peers and tiny flows were seen, they just are not enough. */
	assert_true(list[0].peers > 4000);
	assert_true(has_reason(&list[0], "distinct peers"));
	assert_false(has_reason(&list[0], "TCP and UDP"));
	p2p_hosts_free(ph);
}

/*
 * A forwarder that sends every query from one fixed high port, over UDP
 * and TCP: one high local port, thousands of peers, both directions, both
 * protocols. Port 53 at the far end is what tells it from a peer.
 */
static void test_fixed_port_forwarder_not_flagged(void **state)
{
	const uint32_t fwd = IP4(10, 0, 0, 54);
	struct p2p_host_report list[2];
	uint32_t rnd = 777;
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);

	(void)state;
	for (int i = 0; i < 3000; i++) {
		uint32_t server = IP4(198, 18, 0, 0) + xorshift(&rnd) % 3000;
		uint8_t proto = i % 10 ? IPPROTO_UDP : IPPROTO_TCP;
		uint64_t t = T0 + (uint64_t)i * 80;

		feed(ph, fwd, 40000, server, 53, proto, 1, 72, t);
		feed(ph, server, 53, fwd, 40000, proto, 1, 300, t);
	}
	assert_int_equal(s.n, 0);
	assert_int_equal(p2p_hosts_list(ph, list, 2), 1);
	print_report(&list[0]);
	assert_true(list[0].peers > 1500);
	assert_false(has_reason(&list[0], "port 40000"));
	p2p_hosts_free(ph);
}

/* 10.0.0.5 and a00:5:: share four bytes; they are two hosts. */
static void test_versions_are_separate_hosts(void **state)
{
	struct prefix_set local;
	struct p2p_config cfg = { .local = &local };
	struct p2p_host_report list[4];
	struct flow_record r = flow(BT_HOST, 40000, PEER(1), 443, IPPROTO_TCP, 10, 1000, T0);
	struct p2p_hosts *ph;

	(void)state;
	assert_int_equal(prefix_set_parse(&local, "10.0.0.0/8,a00::/8", "x"), 0);
	ph = p2p_hosts_new(&cfg);
	assert_non_null(ph);
	add_flow(ph, &local, &r);
	r.key.ip_version = 6;
	add_flow(ph, &local, &r);
	assert_int_equal(p2p_hosts_list(ph, list, 4), 2);
	assert_int_equal(list[0].flows, 1);
	assert_int_equal(list[1].flows, 1);
	assert_int_not_equal(list[0].ip_version, list[1].ip_version);
	p2p_hosts_free(ph);
}

/* 30 peers, mostly HTTPS, and three flows the datapath recognised. */
static void feed_modest_host(struct p2p_hosts *ph, uint32_t host, bool recognised)
{
	for (int i = 0; i < 30; i++)
		feed(ph, host, 40000 + i, PEER(i), 443, IPPROTO_TCP, 20, 5000, T0 + i);
	/* Events come at detection, flows when they are exported. */
	if (recognised) {
		struct event hs = bt_event(host, 50000, PEER(100), 6999, IPPROTO_TCP, BT_HANDSHAKE);
		struct event dht = bt_event(host, 50001, PEER(101), 6999, IPPROTO_UDP, BT_DHT);

		p2p_hosts_add_event(ph, &hs, T0 + 50);
		p2p_hosts_add_event(ph, &dht, T0 + 60);
	}
	for (int i = 0; i < 3; i++) {
		struct flow_record r = flow(host, 50000 + i, PEER(100 + i), 6999, IPPROTO_TCP, 50,
					    30000, T0 + 100);

		r.app = recognised ? APP_BITTORRENT : APP_UNKNOWN;
		add_flow(ph, NULL, &r);
	}
}

static void test_recognition_flags_modest_host(void **state)
{
	const uint32_t host = IP4(10, 0, 0, 7);
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);
	char json[2048];

	(void)state;
	/* The same traffic unrecognised is an ordinary host. */
	feed_modest_host(ph, host, false);
	assert_int_equal(s.n, 0);
	p2p_hosts_free(ph);

	ph = new_hosts(&s, 0);
	feed_modest_host(ph, host, true);
	assert_int_equal(s.n, 1);
	print_report(&s.a[0]);
	assert_true(s.a[0].score >= P2P_DEFAULT_THRESHOLD);
	assert_string_equal(s.a[0].reasons[0], "3 flows recognised as BitTorrent (handshake, dht)");
	assert_int_equal(s.a[0].kinds, 1u << BT_HANDSHAKE | 1u << BT_DHT);
	assert_int_equal(s.a[0].kind_events[BT_HANDSHAKE], 1);
	assert_int_equal(s.a[0].bt_flows, 3);

	/* The JSON line carries the contract's fields. */
	{
		FILE *f = fmemopen(json, sizeof(json), "w");
		json_t *o, *kinds;
		json_error_t err;

		assert_non_null(f);
		assert_int_equal(p2p_write_json(f, &s.a[0]), 0);
		fclose(f);
		assert_non_null(strchr(json, '\n'));
		assert_ptr_equal(strchr(json, '\n'), strrchr(json, '\n'));
		o = json_loads(json, 0, &err);
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "type")), "p2p_host");
		assert_string_equal(json_string_value(json_object_get(o, "host")), "10.0.0.7");
		assert_string_equal(json_string_value(json_object_get(o, "period_start")),
				    "2023-11-14T22:15:00.000Z");
		assert_string_equal(json_string_value(json_object_get(o, "period_end")),
				    "2023-11-14T22:20:00.000Z");
		assert_int_equal(json_integer_value(json_object_get(o, "score")), s.a[0].score);
		assert_int_equal(json_integer_value(json_object_get(o, "bt_flows")), 3);
		assert_true(json_is_integer(json_object_get(o, "peers")));
		assert_true(json_is_integer(json_object_get(o, "flows")));
		kinds = json_object_get(o, "kinds");
		assert_int_equal(json_array_size(kinds), 2);
		assert_string_equal(json_string_value(json_array_get(kinds, 0)), "handshake");
		assert_string_equal(json_string_value(json_array_get(kinds, 1)), "dht");
		assert_int_equal(json_array_size(json_object_get(o, "reasons")), s.a[0].n_reasons);
		json_decref(o);
	}
	p2p_format_log(json, sizeof(json), &s.a[0]);
	assert_string_equal(json, "P2P host 10.0.0.7, score 60 in the 5 min from "
				  "2023-11-14T22:15:00.000Z: 3 flows recognised as "
				  "BitTorrent (handshake, dht)");
	p2p_hosts_free(ph);
}

/* Encrypted guesses alone only support behaviour; they flag nothing. */
static void test_encrypted_guess_alone_not_flagged(void **state)
{
	const uint32_t host = IP4(10, 0, 0, 8);
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);

	(void)state;
	for (int i = 0; i < 10; i++) {
		struct event ev =
			bt_event(host, 40000 + i, PEER(i), 443, IPPROTO_TCP, BT_ENCRYPTED);
		struct flow_record r =
			flow(host, 40000 + i, PEER(i), 443, IPPROTO_TCP, 40, 30000, T0 + i);

		r.app = APP_BITTORRENT;
		p2p_hosts_add_event(ph, &ev, T0 + i);
		add_flow(ph, NULL, &r);
	}
	assert_int_equal(s.n, 0);
	p2p_hosts_free(ph);
}

/*
 * 10,000 flows and 500 events of every kind, over two interfaces, for
 * two BitTorrent hosts: one alarm each.
 */
static void test_one_alarm_per_host_per_period(void **state)
{
	const uint32_t other = IP4(10, 0, 0, 6);
	struct p2p_stats st;
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);
	int flows = 0;

	(void)state;
	for (int i = 0; flows < 10000; i++) {
		uint32_t host = i % 2 ? BT_HOST : other;
		struct flow_record r = flow(host, BT_PORT, PEER(i % 3000), 6881,
					    i % 3 ? IPPROTO_UDP : IPPROTO_TCP, 3, 400,
					    T0 + (uint64_t)i * 20);

		r.key.ifindex = 2 + i % 2 * 5;
		r.app = i % 4 ? APP_UNKNOWN : APP_BITTORRENT;
		add_flow(ph, NULL, &r);
		flows++;
	}
	for (int i = 0; i < 500; i++) {
		struct event ev = bt_event(i % 2 ? BT_HOST : other, BT_PORT, PEER(i), 6881,
					   IPPROTO_UDP, 1 + i % BT_ENCRYPTED);

		ev.key.ifindex = 2 + i % 3;
		p2p_hosts_add_event(ph, &ev, T0 + 200000 + i);
	}
	assert_int_equal(s.n, 2);
	assert_memory_not_equal(s.a[0].addr, s.a[1].addr, 16);
	p2p_hosts_stats(ph, &st);
	assert_int_equal(st.alarms, 2);
	assert_int_equal(st.hosts, 2);
	p2p_hosts_free(ph);
}

static void test_new_period_new_alarm(void **state)
{
	struct p2p_host_report list[2];
	struct p2p_stats st;
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);

	(void)state;
	feed_bt_host(ph, BT_HOST, 300, T0 + 1000);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.a[0].period_start_ms, T0);
	assert_int_equal(s.a[0].period_end_ms, T0 + PERIOD);

	/* Same host, next period: a new alarm, and the old counts are gone. */
	feed_bt_host(ph, BT_HOST, 300, T0 + PERIOD + 1000);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.periods_closed, 1);
	assert_int_equal(s.hosts_at_close, 1);
	assert_int_equal(s.a[1].period_start_ms, T0 + PERIOD);
	assert_int_equal(p2p_hosts_list(ph, list, 2), 1);
	assert_in_range(list[0].peers, 270, 330);

	/* A late flow of the previous period counts now, without re-alarming. */
	feed(ph, BT_HOST, BT_PORT, PEER(5), 7000, IPPROTO_UDP, 1, 100, T0 + 5);
	assert_int_equal(s.n, 2);

	/* A quiet period closes by the clock alone. */
	p2p_hosts_tick(ph, T0 + 2 * PERIOD - 1);
	p2p_hosts_stats(ph, &st);
	assert_int_equal(st.hosts, 1);
	p2p_hosts_tick(ph, T0 + 2 * PERIOD);
	p2p_hosts_stats(ph, &st);
	assert_int_equal(st.hosts, 0);
	assert_int_equal(s.periods_closed, 2);
	feed_bt_host(ph, BT_HOST, 300, T0 + 5 * PERIOD + 7);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.a[2].period_start_ms, T0 + 5 * PERIOD);
	p2p_hosts_free(ph);
}

/* Periods sit on multiples of their length, and reasons say how long. */
static void test_period_alignment(void **state)
{
	struct p2p_config cfg = { .period_ms = 60000 };
	struct p2p_host_report list[1];
	struct p2p_hosts *ph = p2p_hosts_new(&cfg);
	struct p2p_stats st;

	(void)state;
	assert_non_null(ph);
	feed_bt_host(ph, BT_HOST, 400, T0 + 123456);
	p2p_hosts_stats(ph, &st);
	assert_int_equal(st.period_start_ms, T0 + 120000);
	assert_int_equal(st.period_end_ms, T0 + 180000);
	assert_int_equal(p2p_hosts_list(ph, list, 1), 1);
	assert_true(has_reason(&list[0], "distinct peers in 1 min"));
	assert_int_equal(st.alarms, 1);
	p2p_hosts_free(ph);
}

static void test_remote_hosts_never_alarm(void **state)
{
	struct p2p_host_report list[4];
	struct p2p_stats st;
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);
	uint8_t want[16];

	(void)state;
	/* Two public hosts swarming past the probe: not our customers. */
	feed_bt_host(ph, IP4(203, 0, 113, 9), 800, T0);
	for (int i = 0; i < 50; i++) {
		struct event ev = bt_event(IP4(203, 0, 113, 9), BT_PORT, PEER(i), 6881, IPPROTO_TCP,
					   BT_HANDSHAKE);

		p2p_hosts_add_event(ph, &ev, T0 + i);
	}
	assert_int_equal(s.n, 0);
	assert_int_equal(p2p_hosts_list(ph, list, 4), 0);
	p2p_hosts_stats(ph, &st);
	assert_true(st.ignored_flows > 2000);

	/* A local host swarming with them: the alarm names the local one. */
	feed_bt_host(ph, BT_HOST, 800, T0);
	assert_int_equal(s.n, 1);
	put4(want, BT_HOST);
	assert_memory_equal(s.a[0].addr, want, 16);
	assert_int_equal(p2p_hosts_list(ph, list, 4), 1);
	p2p_hosts_free(ph);
}

/* Local hosts talking to each other: each is the other's peer. */
static void test_local_to_local_counts_both(void **state)
{
	struct p2p_host_report list[4];
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);

	(void)state;
	feed(ph, IP4(10, 0, 0, 1), 40000, IP4(10, 0, 0, 2), 445, IPPROTO_TCP, 10, 1000, T0);
	assert_int_equal(p2p_hosts_list(ph, list, 4), 2);
	assert_int_equal(list[0].flows, 1);
	assert_int_equal(list[1].flows, 1);
	assert_int_equal(list[0].peers, 1);
	p2p_hosts_free(ph);
}

static void test_ipv6_host(void **state)
{
	struct prefix_set local;
	struct sink s = { 0 };
	struct p2p_config cfg = { .on_alarm = on_alarm, .ctx = &s, .local = &local };
	struct p2p_hosts *ph;
	char line[1024];

	(void)state;
	assert_int_equal(prefix_set_parse(&local, "2001:db8::/32", "--local"), 0);
	ph = p2p_hosts_new(&cfg);
	assert_non_null(ph);
	for (int i = 0; i < 600; i++) {
		struct flow_record r = { 0 };

		r.key.ip_version = 6;
		r.key.proto = i % 2 ? IPPROTO_UDP : IPPROTO_TCP;
		inet_pton(AF_INET6, "2001:db8::5", r.key.src);
		inet_pton(AF_INET6, "2a00::", r.key.dst);
		r.key.dst[14] = i >> 8;
		r.key.dst[15] = i;
		r.key.sport = BT_PORT;
		r.key.dport = 20000 + i;
		r.packets = 2;
		r.bytes = 300;
		r.last_ms = T0 + i;
		add_flow(ph, &local, &r);
		r.key.dport = BT_PORT;
		r.key.sport = 20000 + i;
		memcpy(r.key.src, r.key.dst, 16);
		inet_pton(AF_INET6, "2001:db8::5", r.key.dst);
		add_flow(ph, &local, &r);
	}
	assert_int_equal(s.n, 1);
	p2p_format_log(line, sizeof(line), &s.a[0]);
	assert_non_null(strstr(line, "P2P host 2001:db8::5, score "));
	assert_non_null(strstr(line, "TCP and UDP on port 51413"));
	p2p_hosts_free(ph);
}

/* Listings put the likeliest P2P hosts first, and stop at max. */
static void test_list_sorted_by_score(void **state)
{
	struct p2p_host_report list[8];
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 0);
	uint8_t want[16];

	(void)state;
	feed_modest_host(ph, IP4(10, 0, 0, 7), false);
	feed_bt_host(ph, BT_HOST, 800, T0 + 1000);
	feed_modest_host(ph, IP4(10, 0, 0, 8), true);
	assert_int_equal(p2p_hosts_list(ph, list, 8), 3);
	assert_true(list[0].score > list[1].score);
	assert_true(list[1].score > list[2].score);
	put4(want, BT_HOST);
	assert_memory_equal(list[0].addr, want, 16);
	put4(want, IP4(10, 0, 0, 7));
	assert_memory_equal(list[2].addr, want, 16);
	assert_int_equal(p2p_hosts_list(ph, list, 1), 1);
	put4(want, BT_HOST);
	assert_memory_equal(list[0].addr, want, 16);
	p2p_hosts_free(ph);
}

/*
 * 100,000 local hosts with a table of 1,000: memory never grows, the
 * hosts beyond are counted, and the tracked ones still work.
 */
static void test_memory_bound(void **state)
{
	struct p2p_host_report list[1];
	struct p2p_stats st;
	struct sink s;
	struct p2p_hosts *ph = new_hosts(&s, 1000);
	size_t mem = p2p_hosts_memory(ph);

	(void)state;
	assert_true(mem < 1000 * 1024 + 64 * 1024);
	for (uint32_t i = 0; i < 100000; i++)
		feed(ph, IP4(10, 1, 0, 0) + i, 40000, PEER(i % 7), 443, IPPROTO_TCP, 10, 1000,
		     T0 + i / 1000);
	p2p_hosts_stats(ph, &st);
	assert_int_equal(p2p_hosts_memory(ph), mem);
	assert_int_equal(st.hosts, 1000);
	assert_int_equal(st.dropped_inputs, 99000);
	assert_in_range(st.dropped_hosts, 89000, 109000);
	assert_int_equal(p2p_hosts_list(ph, list, 1), 1);
	assert_int_equal(list[0].flows, 1);

	/* A new period starts with room again. */
	feed_bt_host(ph, IP4(10, 200, 0, 1), 300, T0 + PERIOD);
	p2p_hosts_stats(ph, &st);
	assert_int_equal(st.hosts, 1);
	assert_int_equal(st.dropped_inputs, 0);
	assert_int_equal(s.n, 1);
	p2p_hosts_free(ph);

	/* The default bound, for the record: a regional ISP fits. */
	ph = new_hosts(&s, 0);
	assert_true(p2p_hosts_memory(ph) < 16 * 1024 * 1024);
	p2p_hosts_free(ph);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bt_behaviour_flagged),
		cmocka_unit_test(test_partial_behaviour_not_flagged),
		cmocka_unit_test(test_web_client_not_flagged),
		cmocka_unit_test(test_dns_resolver_not_flagged),
		cmocka_unit_test(test_fixed_port_forwarder_not_flagged),
		cmocka_unit_test(test_recognition_flags_modest_host),
		cmocka_unit_test(test_encrypted_guess_alone_not_flagged),
		cmocka_unit_test(test_one_alarm_per_host_per_period),
		cmocka_unit_test(test_new_period_new_alarm),
		cmocka_unit_test(test_period_alignment),
		cmocka_unit_test(test_remote_hosts_never_alarm),
		cmocka_unit_test(test_local_to_local_counts_both),
		cmocka_unit_test(test_list_sorted_by_score),
		cmocka_unit_test(test_versions_are_separate_hosts),
		cmocka_unit_test(test_ipv6_host),
		cmocka_unit_test(test_memory_bound),
	};

	return cmocka_run_group_tests_name("p2p_hosts", tests, NULL, NULL);
}
