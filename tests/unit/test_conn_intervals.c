/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Interval counters against a scripted mix whose every count is known:
 * active and passive opens in two local prefixes, a transit connection,
 * a local-to-local one, failures by timeout and by a reset before
 * established (a refused SYN that both times out and is reset counts
 * once), resets of established connections, forged, suspect and blocked,
 * currently open connections from a table sweep, %RST and %inbound with
 * their zero denominators, rows per remote AS, interval boundaries. Then
 * the interference verdicts on mixes built to be protocol-, port- and
 * direction-based, and the rate-limiting rule.
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
#include "detect/asn_table.h"
#include "detect/conn_intervals.h"
#include "lib/log.h"

#define UNUSED __attribute__((unused))

/* 2023-11-14T22:20:00Z, a multiple of 10 minutes. */
#define T0_MS 1700000400000ULL
#define NS0 5000000000000ULL
#define SEC_NS 1000000000ULL
#define INTERVAL_MS 600000ULL

struct reports {
	json_t *r[8];
	int n;
};

static void collect(void *ctx, void *json)
{
	struct reports *rs = ctx;

	assert_true(rs->n < 8);
	rs->r[rs->n++] = json;
}

static void free_reports(struct reports *rs)
{
	for (int i = 0; i < rs->n; i++)
		json_decref(rs->r[i]);
}

static void parse_addr(uint8_t out[16], const char *text)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, text, out), 1);
}

static struct flow_key fkey(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct flow_key k = { .ip_version = 4, .proto = 6, .sport = sport, .dport = dport };

	parse_addr(k.src, src);
	parse_addr(k.dst, dst);
	return k;
}

static struct flow_key reverse(struct flow_key k)
{
	struct flow_key r = k;

	memcpy(r.src, k.dst, 16);
	memcpy(r.dst, k.src, 16);
	r.sport = k.dport;
	r.dport = k.sport;
	return r;
}

/* The canonical key, written independently of the module's helper. */
static struct conn_key ckey(const struct flow_key *f)
{
	struct conn_key k = { .ip_version = f->ip_version };
	bool swap = memcmp(f->src, f->dst, 16) > 0 ||
		    (!memcmp(f->src, f->dst, 16) && f->sport > f->dport);

	memcpy(k.addr[0], swap ? f->dst : f->src, 16);
	memcpy(k.addr[1], swap ? f->src : f->dst, 16);
	k.port[0] = swap ? f->dport : f->sport;
	k.port[1] = swap ? f->sport : f->dport;
	return k;
}

struct conn {
	struct flow_key k; /* initiator -> responder */
};

static void ev(struct conn_intervals *ci, uint8_t type, struct flow_key k, uint64_t at_s)
{
	struct event e = { .time_ns = NS0 + at_s * SEC_NS, .key = k, .type = type };

	conn_intervals_event(ci, &e, T0_MS + at_s * 1000);
}

static void syn(struct conn_intervals *ci, struct flow_key k, uint64_t at_s)
{
	ev(ci, EVENT_TCP_OPEN, k, at_s);
}

static void synack(struct conn_intervals *ci, struct flow_key k, uint64_t at_s)
{
	ev(ci, EVENT_TCP_ACCEPT, reverse(k), at_s);
}

/* A decided RST sent along rst_key. */
static void rst(struct conn_intervals *ci, struct flow_key rst_key, enum reset_verdict v,
		bool established, bool bt)
{
	struct reset_report r = { .ev = { .key = rst_key, .type = EVENT_TCP_RESET },
				  .verdict = v,
				  .established = established,
				  .bittorrent = bt };

	conn_intervals_reset(ci, &r);
}

static void conn_done(struct conn_intervals *ci, struct flow_key rst_key, enum reset_verdict v,
		      bool established, bool bt, bool blocked)
{
	struct conn_report c = { .key = ckey(&rst_key),
				 .first_rst = rst_key,
				 .resets = 1,
				 .verdict = v,
				 .established = established,
				 .bittorrent = bt,
				 .blocked = blocked };

	c.forged = v == VERDICT_FORGED;
	c.suspect = v == VERDICT_SUSPECT;
	conn_intervals_connection(ci, &c);
}

static void sweep(struct conn_intervals *ci, struct flow_key k, uint8_t conn_flags, uint8_t flags0,
		  uint8_t flags1)
{
	struct conn_key key = ckey(&k);
	struct conn_state st = { .flags = conn_flags };
	/* the initiator is k.src: which side is that in the key? */
	bool src_first = !memcmp(key.addr[0], k.src, 16) && key.port[0] == k.sport;

	st.initiator = src_first ? 0 : 1;
	st.side[st.initiator].flags = flags0;
	st.side[!st.initiator].flags = flags1;
	conn_intervals_open_connection(ci, &key, &st);
}

static json_int_t geti(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_integer(v))
		fail_msg("\"%s\" is not an integer", name);
	return json_integer_value(v);
}

static double getr(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_real(v))
		fail_msg("\"%s\" is not a real", name);
	return json_real_value(v);
}

static const char *gets(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", name);
	return json_string_value(v);
}

struct want {
	json_int_t active, passive, transit, failed, resets, open, forged, suspect, blocked;
	double rst_pct, inbound_pct; /* < 0: null */
};

static void check_row(json_t *row, const struct want *w, const char *what)
{
	static const char *const names[] = { "active_opens", "passive_opens", "transit_opens",
					     "failed",	     "resets",	      "open",
					     "forged",	     "suspect",	      "blocked" };
	const json_int_t vals[] = { w->active, w->passive, w->transit, w->failed, w->resets,
				    w->open,   w->forged,  w->suspect, w->blocked };

	assert_non_null(row);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (geti(row, names[i]) != vals[i])
			fail_msg("%s: %s = %lld, want %lld", what, names[i],
				 (long long)geti(row, names[i]), (long long)vals[i]);
	if (w->rst_pct < 0)
		assert_true(json_is_null(json_object_get(row, "rst_percent")));
	else
		assert_float_equal(getr(row, "rst_percent"), w->rst_pct, 1e-9);
	if (w->inbound_pct < 0)
		assert_true(json_is_null(json_object_get(row, "inbound_percent")));
	else
		assert_float_equal(getr(row, "inbound_percent"), w->inbound_pct, 1e-9);
}

static json_t *row_of(json_t *arr, const char *key, json_int_t asn, const char *prefix)
{
	size_t i;
	json_t *row;

	json_array_foreach (arr, i, row) {
		if (prefix && !strcmp(gets(row, key), prefix))
			return row;
		if (!prefix && geti(row, key) == asn)
			return row;
	}
	return NULL;
}

static struct asn_table *test_asn_table(void)
{
	static const char text[] = "198.51.100.0/24 64500\n203.0.113.0\t24\t64501\n";
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	struct asn_table *t;

	assert_int_equal(asn_table_load_stream(&t, in, "test"), 0);
	fclose(in);
	return t;
}

/* The enrich stage as the pipeline sets it up: the counters' prefixes
 * and AS table (new_ci fills it in). */
static struct enrich_config test_enrich;

/* Hands a record in as the pipeline does: classified first. */
static void add_flow(struct conn_intervals *ci, struct flow_record *rec)
{
	struct flow_class fc;

	enrich_flow(&test_enrich, rec, &fc);
	conn_intervals_flow(ci, rec, &fc);
}

static struct conn_intervals *new_ci(struct prefix_set *local, struct reports *rs,
				     const struct asn_table *asn)
{
	struct conn_intervals_config cfg = {
		.interval_ms = INTERVAL_MS,
		.local = local,
		.asn = asn,
		.on_interval = collect,
		.ctx = rs,
	};
	struct conn_intervals *ci;

	assert_int_equal(prefix_set_parse(local, "10.0.1.0/24,10.0.2.0/24", "--local"), 0);
	test_enrich = (struct enrich_config){ .local = local, .asn = asn };
	ci = conn_intervals_new(&cfg);
	assert_non_null(ci);
	return ci;
}

static void test_scripted_mix(void **state UNUSED)
{
	struct prefix_set local;
	struct reports rs = { 0 };
	struct asn_table *asn = test_asn_table();
	struct conn_intervals *ci = new_ci(&local, &rs, asn);
	struct flow_key a1 = fkey("10.0.1.1", 40001, "198.51.100.1", 443),
			a2 = fkey("10.0.1.2", 40002, "198.51.100.2", 6881),
			a3 = fkey("10.0.1.3", 40003, "198.51.100.3", 80),
			a4 = fkey("10.0.1.4", 40004, "198.51.100.4", 80),
			p1 = fkey("203.0.113.5", 50000, "10.0.1.9", 22),
			ll = fkey("10.0.1.5", 40005, "10.0.2.5", 445),
			b1 = fkey("203.0.113.6", 50001, "10.0.2.1", 443),
			b2 = fkey("203.0.113.7", 50002, "10.0.2.2", 23),
			b3 = fkey("10.0.2.3", 40006, "198.51.100.9", 443),
			t1 = fkey("198.51.100.1", 1234, "203.0.113.1", 80),
			s1 = fkey("10.0.1.7", 40007, "192.0.2.1", 443),
			gone = fkey("10.0.1.8", 40008, "198.51.100.8", 443);
	json_t *r, *total, *prefixes, *by_as;

	conn_intervals_tick(ci, T0_MS, NS0); /* the interval starts here */
	assert_false(conn_intervals_due(ci, T0_MS + INTERVAL_MS - 1));
	assert_true(conn_intervals_due(ci, T0_MS + INTERVAL_MS));

	syn(ci, a1, 1);
	synack(ci, a1, 1);
	syn(ci, a2, 2);
	synack(ci, a2, 2);
	syn(ci, a3, 3); /* never answered: fails at 13 s */
	syn(ci, a4, 4);
	synack(ci, a4, 4); /* reset before established */
	syn(ci, p1, 5);
	synack(ci, p1, 5);
	syn(ci, ll, 5);
	synack(ci, ll, 5);
	syn(ci, b1, 6);
	synack(ci, b1, 6);
	syn(ci, b2, 6); /* refused: times out and is reset */
	syn(ci, b3, 7);
	synack(ci, b3, 7);
	syn(ci, t1, 8);
	synack(ci, t1, 8);
	conn_intervals_tick(ci, T0_MS + 20000, NS0 + 20 * SEC_NS);

	/* the datapath's RSTs, decided */
	rst(ci, reverse(a2), VERDICT_FORGED, true, true); /* downstream */
	rst(ci, b3, VERDICT_SUSPECT, true, false); /* upstream */
	rst(ci, reverse(a4), VERDICT_GENUINE, false, false);
	rst(ci, reverse(b2), VERDICT_GENUINE, false, false); /* b2 refused */
	conn_done(ci, reverse(a2), VERDICT_FORGED, true, true, true);
	conn_done(ci, b3, VERDICT_SUSPECT, true, false, false);
	conn_done(ci, reverse(a4), VERDICT_GENUINE, false, false, false);
	conn_done(ci, reverse(b2), VERDICT_GENUINE, false, false, false);
	/* a reset connection whose SYN was never seen: no failure to count */
	conn_done(ci, gone, VERDICT_GENUINE, false, false, false);

	syn(ci, s1, 599); /* fails in the next interval */

	/* the sweep before the interval ends */
	sweep(ci, a1, CONN_ESTABLISHED | CONN_SYNACK, SIDE_SEEN, SIDE_SEEN);
	sweep(ci, ll, CONN_ESTABLISHED, SIDE_SEEN, SIDE_SEEN);
	sweep(ci, b1, CONN_ESTABLISHED, SIDE_SEEN, SIDE_SEEN);
	sweep(ci, p1, CONN_ESTABLISHED, SIDE_FIN, SIDE_SEEN); /* half closed */
	sweep(ci, b3, CONN_ESTABLISHED, SIDE_RST, SIDE_SEEN); /* reset */
	sweep(ci, a2, CONN_ESTABLISHED, SIDE_FIN, SIDE_FIN); /* closed */
	sweep(ci, a4, CONN_SYNACK, SIDE_SEEN, SIDE_SEEN); /* not established */
	assert_int_equal(rs.n, 0);
	conn_intervals_tick(ci, T0_MS + INTERVAL_MS, NS0 + 600 * SEC_NS);
	assert_int_equal(rs.n, 1);
	assert_false(conn_intervals_due(ci, T0_MS + INTERVAL_MS));

	r = rs.r[0];
	assert_string_equal(gets(r, "type"), "interval");
	assert_string_equal(gets(r, "start"), "2023-11-14T22:20:00.000Z");
	assert_string_equal(gets(r, "end"), "2023-11-14T22:30:00.000Z");
	assert_int_equal(geti(r, "seconds"), 600);
	total = json_object_get(r, "total");
	/* active a1-a4, ll, b3, s1; passive p1, b1, b2; transit t1; failed
	 * a3 (timeout), a4 (reset before established), b2 (once) */
	check_row(total,
		  &(struct want){ 7, 3, 1, 3, 2, 4, 1, 1, 1, 100.0 * 2 / (11 - 3), 100.0 * 3 / 10 },
		  "total");
	prefixes = json_object_get(r, "prefixes");
	assert_int_equal(json_array_size(prefixes), 2);
	check_row(row_of(prefixes, "prefix", 0, "10.0.1.0/24"),
		  &(struct want){ 6, 1, 0, 2, 1, 3, 1, 0, 1, 100.0 * 1 / (7 - 2), 100.0 * 1 / 7 },
		  "10.0.1.0/24");
	check_row(row_of(prefixes, "prefix", 0, "10.0.2.0/24"),
		  &(struct want){ 1, 2, 0, 1, 1, 1, 0, 1, 0, 100.0 * 1 / (3 - 1), 100.0 * 2 / 3 },
		  "10.0.2.0/24");
	by_as = json_object_get(r, "by_as");
	assert_int_equal(json_array_size(by_as), 3);
	/* sorted by AS: 0 (s1's 192.0.2.1 is in no prefix), 64500, 64501 */
	assert_int_equal(geti(json_array_get(by_as, 0), "asn"), 0);
	check_row(row_of(by_as, "asn", 0, NULL), &(struct want){ 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
		  "AS0");
	check_row(row_of(by_as, "asn", 64500, NULL),
		  &(struct want){ 5, 0, 0, 2, 2, 1, 1, 1, 1, 100.0 * 2 / 3, 0 }, "AS64500");
	check_row(row_of(by_as, "asn", 64501, NULL),
		  &(struct want){ 0, 3, 0, 1, 0, 2, 0, 0, 0, 0, 100 }, "AS64501");
	/* the RSTs by direction */
	assert_int_equal(geti(json_object_get(json_object_get(r, "interference"), "downstream"),
			      "forged"),
			 1);
	assert_int_equal(geti(json_object_get(json_object_get(r, "interference"), "downstream"),
			      "resets"),
			 2);
	assert_int_equal(geti(json_object_get(json_object_get(r, "interference"), "upstream"),
			      "suspect"),
			 1);
	assert_int_equal(
		geti(json_object_get(json_object_get(r, "interference"), "upstream"), "resets"), 2);

	/* next interval: s1 fails (aged by the SYN-ACK's own event, which is
	 * too late to save it); one failure and no opens: no rates */
	synack(ci, s1, 700);
	conn_intervals_tick(ci, T0_MS + 2 * INTERVAL_MS, NS0 + 1200 * SEC_NS);
	assert_int_equal(rs.n, 2);
	r = rs.r[1];
	assert_string_equal(gets(r, "start"), "2023-11-14T22:30:00.000Z");
	check_row(json_object_get(r, "total"), &(struct want){ 0, 0, 0, 1, 0, 0, 0, 0, 0, -1, -1 },
		  "total 2");
	free_reports(&rs);
	rs.n = 0;

	conn_intervals_free(ci);
	asn_table_free(asn);
}

/* s1's failure lands in the interval where it is detected. */
static void test_failure_in_next_interval(void **state UNUSED)
{
	struct prefix_set local;
	struct reports rs = { 0 };
	struct conn_intervals *ci = new_ci(&local, &rs, NULL);
	struct flow_key s1 = fkey("10.0.1.7", 40007, "192.0.2.1", 443);

	conn_intervals_tick(ci, T0_MS, NS0);
	syn(ci, s1, 595);
	conn_intervals_tick(ci, T0_MS + INTERVAL_MS, NS0 + 600 * SEC_NS);
	conn_intervals_tick(ci, T0_MS + 2 * INTERVAL_MS, NS0 + 1200 * SEC_NS);
	assert_int_equal(rs.n, 2);
	check_row(json_object_get(rs.r[0], "total"),
		  &(struct want){ 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, "first");
	/* one failure, no opens: active + passive - failed < 0, no %RST */
	check_row(json_object_get(rs.r[1], "total"),
		  &(struct want){ 0, 0, 0, 1, 0, 0, 0, 0, 0, -1, -1 }, "second");
	assert_null(json_object_get(rs.r[0], "by_as")); /* no AS table */
	free_reports(&rs);
	conn_intervals_free(ci);
}

/* A tick late by several intervals reports each; finish ends one early. */
static void test_boundaries_and_finish(void **state UNUSED)
{
	struct prefix_set local;
	struct reports rs = { 0 };
	struct conn_intervals *ci = new_ci(&local, &rs, NULL);

	/* first seen mid-interval: the first report starts there */
	syn(ci, fkey("10.0.1.1", 1, "192.0.2.1", 2), 30);
	conn_intervals_tick(ci, T0_MS + 2 * INTERVAL_MS + 5, NS0);
	assert_int_equal(rs.n, 2);
	assert_string_equal(gets(rs.r[0], "start"), "2023-11-14T22:20:30.000Z");
	assert_int_equal(geti(rs.r[0], "seconds"), 570);
	assert_int_equal(geti(json_object_get(rs.r[0], "total"), "active_opens"), 1);
	assert_string_equal(gets(rs.r[1], "end"), "2023-11-14T22:40:00.000Z");
	assert_int_equal(geti(json_object_get(rs.r[1], "total"), "active_opens"), 0);
	conn_intervals_finish(ci, T0_MS + 2 * INTERVAL_MS + 1500);
	assert_int_equal(rs.n, 3);
	assert_string_equal(gets(rs.r[2], "end"), "2023-11-14T22:40:01.500Z");
	assert_float_equal(getr(rs.r[2], "seconds"), 1.5, 1e-9);
	free_reports(&rs);
	conn_intervals_free(ci);
}

/*
 * n connections initiator -> responder port `port`, from local 10.0.1.x:
 * two SYN flow records each, `bad` of them reset with a forged verdict,
 * sent toward the local end.
 */
static void mix(struct conn_intervals *ci, int n, int bad, uint16_t port, bool bt,
		uint16_t first_eph)
{
	for (int i = 0; i < n; i++) {
		char remote[32];
		struct flow_key k;
		struct flow_record rec = { .tcp_flags = 0x12,
					   .packets = 3,
					   .bytes = 180,
					   .app = bt ? APP_BITTORRENT : APP_UNKNOWN };

		snprintf(remote, sizeof(remote), "198.51.100.%d", i + 1);
		k = fkey("10.0.1.1", first_eph + i, remote, port);
		rec.key = k;
		add_flow(ci, &rec);
		rec.key = reverse(k);
		add_flow(ci, &rec);
		if (i < bad) {
			rst(ci, reverse(k), VERDICT_FORGED, true, bt);
			conn_done(ci, reverse(k), VERDICT_FORGED, true, bt, bt);
		}
	}
}

static json_t *interference_of(struct conn_intervals *ci, struct reports *rs)
{
	conn_intervals_finish(ci, T0_MS + 1000);
	assert_int_equal(rs->n, 1);
	return json_object_get(rs->r[0], "interference");
}

static void check_verdict(void (*build)(struct conn_intervals *), const char *want,
			  const char *proto, const char *port, const char *dir)
{
	struct prefix_set local;
	struct reports rs = { 0 };
	struct conn_intervals *ci = new_ci(&local, &rs, NULL);
	json_t *in;

	conn_intervals_tick(ci, T0_MS, NS0);
	build(ci);
	in = interference_of(ci, &rs);
	if (strcmp(gets(in, "verdict"), want)) {
		char *dump = json_dumps(in, JSON_INDENT(1));

		fail_msg("verdict %s, want %s: %s", gets(in, "verdict"), want, dump);
	}
	assert_string_equal(gets(json_object_get(in, "tests"), "protocol"), proto);
	assert_string_equal(gets(json_object_get(in, "tests"), "port"), port);
	assert_string_equal(gets(json_object_get(in, "tests"), "direction"), dir);
	free_reports(&rs);
	conn_intervals_free(ci);
}

/* BitTorrent reset wherever it runs; other TCP on its ports is not. */
static void protocol_mix(struct conn_intervals *ci)
{
	mix(ci, 40, 15, 51413, true, 20000);
	mix(ci, 40, 15, 6881, true, 21000);
	mix(ci, 40, 0, 51413, false, 22000);
	mix(ci, 40, 0, 6881, false, 23000);
}

/* Everything on 6881-6889 reset, BitTorrent elsewhere spared. */
static void port_mix(struct conn_intervals *ci)
{
	mix(ci, 40, 15, 6881, true, 20000);
	mix(ci, 40, 15, 6882, false, 21000);
	mix(ci, 40, 0, 51413, true, 22000);
	mix(ci, 40, 0, 51413, false, 23000);
}

/* Few connections, but forged RSTs only ever toward the customers. */
static void direction_mix(struct conn_intervals *ci)
{
	mix(ci, 8, 8, 443, false, 20000);
	rst(ci, fkey("10.0.1.1", 1, "198.51.100.1", 2), VERDICT_GENUINE, true, false);
}

static void quiet_mix(struct conn_intervals *ci)
{
	mix(ci, 40, 0, 51413, true, 20000);
	mix(ci, 40, 1, 51413, false, 21000);
	mix(ci, 40, 0, 6881, true, 22000);
}

static void empty_mix(struct conn_intervals *ci)
{
	(void)ci;
}

static void test_interference_protocol(void **state UNUSED)
{
	check_verdict(protocol_mix, "protocol-based", "differs", "same", "differs");
}

static void test_interference_port(void **state UNUSED)
{
	/* BitTorrent, mostly on its ports, looks worse than other TCP too:
	 * the port verdict takes precedence */
	check_verdict(port_mix, "port-based", "differs", "differs", "differs");
}

static void test_interference_direction(void **state UNUSED)
{
	check_verdict(direction_mix, "direction-based", "insufficient data", "insufficient data",
		      "differs");
}

static void test_interference_none(void **state UNUSED)
{
	check_verdict(quiet_mix, "none", "same", "same", "insufficient data");
}

static void test_interference_insufficient(void **state UNUSED)
{
	check_verdict(empty_mix, "insufficient data", "insufficient data", "insufficient data",
		      "insufficient data");
}

/* The counts behind the protocol verdict. */
static void test_interference_counts(void **state UNUSED)
{
	struct prefix_set local;
	struct reports rs = { 0 };
	struct conn_intervals *ci = new_ci(&local, &rs, NULL);
	json_t *in, *bt, *same, *btp, *elsewhere;

	conn_intervals_tick(ci, T0_MS, NS0);
	protocol_mix(ci);
	in = interference_of(ci, &rs);
	bt = json_object_get(in, "bittorrent");
	same = json_object_get(in, "other_same_ports");
	btp = json_object_get(in, "bt_ports");
	elsewhere = json_object_get(in, "other_ports");
	assert_int_equal(geti(bt, "connections"), 80);
	assert_int_equal(geti(bt, "interfered"), 30);
	assert_int_equal(geti(bt, "forged"), 30);
	assert_int_equal(geti(bt, "blocked"), 30);
	assert_float_equal(getr(bt, "rate"), 30.0 / 80, 1e-9);
	assert_int_equal(geti(same, "connections"), 80);
	assert_int_equal(geti(same, "interfered"), 0);
	assert_int_equal(geti(btp, "connections"), 80); /* 40 BT + 40 other */
	assert_int_equal(geti(btp, "interfered"), 15);
	assert_int_equal(geti(elsewhere, "connections"), 40);
	assert_int_equal(geti(elsewhere, "interfered"), 15);
	assert_int_equal(geti(json_object_get(in, "downstream"), "forged"), 30);
	assert_int_equal(geti(json_object_get(in, "upstream"), "forged"), 0);
	free_reports(&rs);
	conn_intervals_free(ci);
}

/* An interval's per-port counts end with it (only the ports used are
 * zeroed): other TCP on BitTorrent's ports in the first interval is not
 * "other TCP on the same ports" in a second that has none. */
static void test_port_counts_end_with_interval(void **state UNUSED)
{
	struct prefix_set local;
	struct reports rs = { 0 };
	struct conn_intervals *ci = new_ci(&local, &rs, NULL);
	json_t *same;

	conn_intervals_tick(ci, T0_MS, NS0);
	protocol_mix(ci);
	conn_intervals_tick(ci, T0_MS + INTERVAL_MS, NS0 + 600 * SEC_NS);
	assert_int_equal(rs.n, 1);
	same = json_object_get(json_object_get(rs.r[0], "interference"), "other_same_ports");
	assert_int_equal(geti(same, "connections"), 80);
	mix(ci, 40, 0, 51413, true, 30000);
	conn_intervals_finish(ci, T0_MS + INTERVAL_MS + 1000);
	assert_int_equal(rs.n, 2);
	same = json_object_get(json_object_get(rs.r[1], "interference"), "other_same_ports");
	assert_int_equal(geti(same, "connections"), 0);
	free_reports(&rs);
	conn_intervals_free(ci);
}

/* n downstream transfers of `bt` kind into 10.0.1.x at the given rates. */
static void transfers(struct conn_intervals *ci, int n, bool bt, const double *mbps)
{
	for (int i = 0; i < n; i++) {
		struct flow_record rec = {
			.key = fkey("198.51.100.1", 6881, "10.0.1.5", 30000 + i),
			.first_ms = T0_MS,
			.last_ms = T0_MS + 10000,
			.bytes = (uint64_t)(mbps[i] * 1e6 / 8 * 10),
			.packets = 1000,
			.tcp_flags = 0x18,
			.app = bt ? APP_BITTORRENT : APP_UNKNOWN,
		};

		add_flow(ci, &rec);
	}
	/* too short to be a transfer: ignored */
	struct flow_record brief = {
		.key = fkey("198.51.100.1", 80, "10.0.1.5", 29999),
		.first_ms = T0_MS,
		.last_ms = T0_MS + 100,
		.bytes = 1 << 20,
	};
	add_flow(ci, &brief);
}

static void test_rate_limiting(void **state UNUSED)
{
	static const double bt_rates[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	static const double steady[] = { 5, 5, 5, 5, 5, 5, 5, 5, 5, 4.8 };
	static const double noisy[] = { 0.5, 1, 1, 1, 2, 2, 3, 4, 5, 8 };
	const double *others[] = { steady, noisy };

	for (int c = 0; c < 2; c++) {
		struct prefix_set local;
		struct reports rs = { 0 };
		struct conn_intervals *ci = new_ci(&local, &rs, NULL);
		json_t *arr, *e;

		conn_intervals_tick(ci, T0_MS, NS0);
		transfers(ci, 10, true, bt_rates);
		transfers(ci, 10, false, others[c]);
		conn_intervals_finish(ci, T0_MS + 20000);
		arr = json_object_get(rs.r[0], "rate_limiting");
		/* 10.0.1.0/24 downstream, and all local addresses (null) */
		assert_int_equal(json_array_size(arr), 2);
		e = json_array_get(arr, 0);
		assert_string_equal(gets(e, "prefix"), "10.0.1.0/24");
		assert_string_equal(gets(e, "direction"), "downstream");
		assert_true(json_is_null(json_object_get(json_array_get(arr, 1), "prefix")));
		assert_int_equal(geti(e, "bittorrent_flows"), 10);
		assert_int_equal(geti(e, "other_flows"), 10);
		assert_int_equal(geti(e, "bittorrent_bps"), 1000000);
		if (c == 0) {
			assert_int_equal(geti(e, "other_bps"), 5000000);
			assert_float_equal(getr(e, "difference"), 0.8, 1e-9);
			assert_float_equal(getr(e, "noise"), 0.0, 1e-9);
			assert_true(json_is_true(json_object_get(e, "differentiated")));
		} else {
			/* p90 5 Mbit/s, median 2: noise 60%, no claim */
			assert_int_equal(geti(e, "other_bps"), 5000000);
			assert_float_equal(getr(e, "noise"), 0.6, 1e-9);
			assert_true(json_is_false(json_object_get(e, "differentiated")));
		}
		free_reports(&rs);
		conn_intervals_free(ci);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripted_mix),
		cmocka_unit_test(test_failure_in_next_interval),
		cmocka_unit_test(test_boundaries_and_finish),
		cmocka_unit_test(test_interference_protocol),
		cmocka_unit_test(test_interference_port),
		cmocka_unit_test(test_interference_direction),
		cmocka_unit_test(test_interference_none),
		cmocka_unit_test(test_interference_insufficient),
		cmocka_unit_test(test_interference_counts),
		cmocka_unit_test(test_port_counts_end_with_interval),
		cmocka_unit_test(test_rate_limiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
