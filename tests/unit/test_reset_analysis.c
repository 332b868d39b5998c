/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reset verdicts on synthetic event sequences with a made-up probe clock.
 * A small simulator keeps each side's history (what the datapath's
 * connection table would hold) and builds the events the datapath would
 * send: each userspace signal fires where it should and stays quiet on a
 * near miss, the verdict rule's boundaries hold, the ordinary ways honest
 * stacks and middleboxes reset connections stay genuine, RSTs are held
 * RESET_HOLD_NS and no longer, BitTorrent blocking is told from other
 * resets, and the connection bound is kept.
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
#include "detect/reset_analysis.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define T0 (1000 * SEC)

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define BIT(n) RESET_SIGNAL_BIT(n)

/* Side 0: the client 10.0.0.1:40000 (initiator); side 1: 10.0.0.2:80. */
enum {
	CLI = 0,
	SRV = 1
};

struct sim {
	struct conn_side side[2];
	uint8_t initiator;
	uint8_t flags;
	uint64_t syn_ns, synack_ns, ack_ns;
	uint16_t port[2];
	uint8_t last_octet[2];
};

/* An established connection: handshake RTT 80 ms, ten packets each way,
 * the last 1 ms before T0, sequential IP IDs, TTLs 64 and 52. */
static void sim_established(struct sim *c)
{
	memset(c, 0, sizeof(*c));
	c->initiator = CLI;
	c->flags = CONN_SYNACK | CONN_ESTABLISHED;
	c->syn_ns = T0 - 300 * MS;
	c->synack_ns = T0 - 240 * MS;
	c->ack_ns = T0 - 220 * MS;
	c->port[CLI] = 40000;
	c->port[SRV] = 80;
	c->last_octet[CLI] = 1;
	c->last_octet[SRV] = 2;
	for (int s = 0; s < 2; s++) {
		struct conn_side *d = &c->side[s];

		d->flags = SIDE_SEEN | SIDE_SYN | SIDE_DF;
		d->last_ns = T0 - 1 * MS;
		d->packets = 10;
		d->ttl_last = d->ttl_min = d->ttl_max = s == CLI ? 64 : 52;
		d->last_ip_id = s == CLI ? 1000 : 7000;
		d->ipid_run = 9;
		d->window = 64000;
	}
	c->side[CLI].isn = 1000;
	c->side[CLI].snd_max = 5001;
	c->side[CLI].max_ack = 120001;
	c->side[SRV].isn = 100000;
	c->side[SRV].snd_max = 120001;
	c->side[SRV].max_ack = 5001;
}

/* The event for a packet from side `from`, the connection as it stands. */
static struct event sim_event(const struct sim *c, uint8_t type, uint64_t t, int from,
			      uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.time_ns = t;
	ev.type = type;
	ev.key.ifindex = 2;
	ev.key.ip_version = 4;
	ev.key.proto = 6;
	ev.key.src[0] = 10;
	ev.key.src[3] = c->last_octet[from];
	ev.key.dst[0] = 10;
	ev.key.dst[3] = c->last_octet[!from];
	ev.key.sport = c->port[from];
	ev.key.dport = c->port[!from];
	ev.tcp.pkt.seq = seq;
	ev.tcp.pkt.ack = ack;
	ev.tcp.pkt.tcp_flags = flags;
	ev.tcp.pkt.ttl = c->side[from].ttl_last;
	ev.tcp.pkt.ip_id = c->side[from].last_ip_id + 1;
	ev.tcp.pkt.df = 1;
	ev.tcp.snd = c->side[from];
	ev.tcp.rcv = c->side[!from];
	ev.tcp.syn_ns = c->syn_ns;
	ev.tcp.synack_ns = c->synack_ns;
	ev.tcp.ack_ns = c->ack_ns;
	ev.tcp.sender = from;
	ev.tcp.initiator = c->initiator;
	ev.tcp.conn_flags = c->flags;
	return ev;
}

/* A RST from `from` (the side's rst_* history updated afterwards, as the
 * datapath does). ACK flag when ack != 0. */
static struct event sim_rst(struct sim *c, uint64_t t, int from, uint32_t seq, uint32_t ack)
{
	struct event ev =
		sim_event(c, EVENT_TCP_RESET, t, from, F_RST | (ack ? F_ACK : 0), seq, ack);
	struct conn_side *d = &c->side[from];

	if (!(d->flags & SIDE_RST)) {
		d->rst_ns = t;
		d->rst_seq = seq;
		d->rst_ack = ack;
	}
	d->flags |= SIDE_RST;
	d->rst_count++;
	d->last_ip_id++;
	return ev;
}

/* A packet other than a RST from `from`: its history moves on. */
static void sim_packet(struct sim *c, uint64_t t, int from, uint32_t len)
{
	struct conn_side *d = &c->side[from];

	d->last_ns = t;
	d->packets++;
	d->snd_max += len;
	d->last_ip_id++;
	d->payload += len;
}

/* ---- the analysis under test and what it reported ------------------------ */

#define MAX_SEEN 64

struct sink {
	size_t n_rst, n_conn;
	struct reset_report rst[MAX_SEEN];
	struct conn_report conn[MAX_SEEN];
	/* conn_lookup's answer */
	int lookup_err;
	uint64_t lookup_last_ns;
	int lookups;
};

static void on_reset(void *ctx, const struct reset_report *r)
{
	struct sink *s = ctx;

	if (s->n_rst < MAX_SEEN)
		s->rst[s->n_rst] = *r;
	s->n_rst++;
}

static void on_connection(void *ctx, const struct conn_report *c)
{
	struct sink *s = ctx;

	if (s->n_conn < MAX_SEEN)
		s->conn[s->n_conn] = *c;
	s->n_conn++;
}

static int lookup(void *ctx, const struct conn_key *key, struct conn_state *out)
{
	struct sink *s = ctx;

	(void)key;
	s->lookups++;
	if (s->lookup_err)
		return s->lookup_err;
	memset(out, 0, sizeof(*out));
	out->side[0].last_ns = s->lookup_last_ns;
	out->side[1].last_ns = s->lookup_last_ns / 2;
	return 0;
}

static struct reset_analysis *new_ra(struct sink *s, size_t max, bool with_lookup)
{
	struct reset_analysis_config cfg = {
		.on_reset = on_reset,
		.on_connection = on_connection,
		.conn_lookup = with_lookup ? lookup : NULL,
		.ctx = s,
		.max_connections = max,
	};
	struct reset_analysis *ra;

	memset(s, 0, sizeof(*s));
	ra = reset_analysis_new(&cfg);
	assert_non_null(ra);
	return ra;
}

static void feed(struct reset_analysis *ra, const struct event *ev)
{
	reset_analysis_event(ra, ev);
}

/* The report of the RST sent at time t (each RST is reported once). */
static const struct reset_report *report_at(const struct sink *s, uint64_t t)
{
	const struct reset_report *found = NULL;

	for (size_t i = 0; i < s->n_rst && i < MAX_SEEN; i++) {
		if (s->rst[i].ev.time_ns != t)
			continue;
		if (found)
			fail_msg("RST at %llu reported twice", (unsigned long long)t);
		found = &s->rst[i];
	}
	if (!found)
		fail_msg("RST at %llu not reported", (unsigned long long)t);
	return found;
}

/* Userspace signals only: the datapath's bits are 0 in these tests unless
 * set, so this is what the analysis added (R12 aside). */
static uint32_t signals_at(const struct sink *s, uint64_t t)
{
	return report_at(s, t)->signals & ~BIT(R12_CONNECTION_DIED);
}

static enum reset_verdict verdict_at(const struct sink *s, uint64_t t)
{
	return report_at(s, t)->verdict;
}

/* ---- keys and names -------------------------------------------------------- */

static void test_conn_key_order(void **state)
{
	struct flow_key a = { .ifindex = 3,
			      .vlan = 7,
			      .ip_version = 4,
			      .proto = 6,
			      .src = { 10, 0, 0, 2 },
			      .dst = { 10, 0, 0, 1 },
			      .sport = 80,
			      .dport = 40000 };
	struct flow_key b = { .ifindex = 9,
			      .ip_version = 4,
			      .proto = 6,
			      .src = { 10, 0, 0, 1 },
			      .dst = { 10, 0, 0, 2 },
			      .sport = 40000,
			      .dport = 80 };
	struct conn_key ka, kb;

	(void)state;
	conn_key_of_flow(&ka, &a);
	conn_key_of_flow(&kb, &b);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	/* The lower address is side 0, its port with it. */
	assert_int_equal(ka.addr[0][3], 1);
	assert_int_equal(ka.port[0], 40000);
	assert_int_equal(ka.addr[1][3], 2);
	assert_int_equal(ka.port[1], 80);
	assert_int_equal(ka.ip_version, 4);

	/* Same address both ends: the lower port is side 0. */
	memcpy(a.dst, a.src, 16);
	conn_key_of_flow(&ka, &a);
	assert_int_equal(ka.port[0], 80);
	assert_int_equal(ka.port[1], 40000);

	/* Addresses compare as bytes, not as host integers: 1.0.0.9 < 2.0.0.1. */
	struct flow_key c = { .ip_version = 6,
			      .proto = 6,
			      .src = { 2, 0, 0, 1 },
			      .dst = { 1, 0, 0, 9 },
			      .sport = 1,
			      .dport = 2 };
	conn_key_of_flow(&ka, &c);
	assert_int_equal(ka.addr[0][0], 1);
	assert_int_equal(ka.port[0], 2);
	assert_int_equal(ka.ip_version, 6);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(reset_signal_name(R1_DATA_AFTER_RESET), "R1");
	assert_string_equal(reset_signal_name(R10_BOTH_DIRECTIONS), "R10");
	assert_string_equal(reset_signal_name(R12_CONNECTION_DIED), "R12");
	assert_string_equal(reset_signal_name(RESET_SIGNAL__MAX), "?");
	assert_string_equal(reset_verdict_name(VERDICT_GENUINE), "genuine");
	assert_string_equal(reset_verdict_name(VERDICT_SUSPECT), "suspect");
	assert_string_equal(reset_verdict_name(VERDICT_FORGED), "forged");
}

/* ---- the verdict rule ------------------------------------------------------ */

static void test_verdict_rule(void **state)
{
	(void)state;
	assert_int_equal(reset_verdict_of(0), VERDICT_GENUINE);
	assert_int_equal(reset_verdict_of(BIT(R2_BEHIND_SENT_DATA)), VERDICT_GENUINE);
	assert_int_equal(reset_verdict_of(BIT(R12_CONNECTION_DIED)), VERDICT_GENUINE);
	assert_int_equal(reset_verdict_of(BIT(R2_BEHIND_SENT_DATA) | BIT(R12_CONNECTION_DIED)),
			 VERDICT_GENUINE);
	for (int s = R5_AHEAD; s <= R10_BOTH_DIRECTIONS; s++) {
		assert_int_equal(reset_verdict_of(BIT(s)), VERDICT_SUSPECT);
		assert_int_equal(reset_verdict_of(BIT(s) | BIT(R2_BEHIND_SENT_DATA) |
						  BIT(R12_CONNECTION_DIED)),
				 VERDICT_SUSPECT);
	}
	/* The pairs honest traffic made on the development corpus: two
	 * stacks closing at once (R10 with R7, R9 or R12), a load balancer
	 * (R5 with R6), a middlebox's own RST (R6 with R7). */
	assert_int_equal(reset_verdict_of(BIT(R10_BOTH_DIRECTIONS) | BIT(R12_CONNECTION_DIED)),
			 VERDICT_SUSPECT);
	assert_int_equal(reset_verdict_of(BIT(R10_BOTH_DIRECTIONS) | BIT(R7_IP_ID)),
			 VERDICT_SUSPECT);
	assert_int_equal(reset_verdict_of(BIT(R10_BOTH_DIRECTIONS) | BIT(R9_TIMESTAMP) |
					  BIT(R12_CONNECTION_DIED)),
			 VERDICT_SUSPECT);
	assert_int_equal(reset_verdict_of(BIT(R5_AHEAD) | BIT(R6_TTL)), VERDICT_SUSPECT);
	assert_int_equal(reset_verdict_of(BIT(R6_TTL) | BIT(R7_IP_ID)), VERDICT_SUSPECT);
	/* Three independent anomalies: an injector's TTL, IP ID and timing. */
	assert_int_equal(reset_verdict_of(BIT(R6_TTL) | BIT(R7_IP_ID) | BIT(R10_BOTH_DIRECTIONS)),
			 VERDICT_FORGED);
	assert_int_equal(reset_verdict_of(BIT(R5_AHEAD) | BIT(R8_WINDOW) | BIT(R9_TIMESTAMP)),
			 VERDICT_FORGED);
	static const int proof[] = { R1_DATA_AFTER_RESET, R3_SEQ_JUMP, R4_ACK_CHANGE,
				     R11_HANDSHAKE_RACE };
	for (size_t i = 0; i < sizeof(proof) / sizeof(proof[0]); i++)
		assert_int_equal(reset_verdict_of(BIT(proof[i])), VERDICT_FORGED);
}

/* The datapath's bits go through to the report and decide with ours. */
static void test_datapath_signals_decide(void **state)
{
	static const struct {
		uint32_t bits;
		enum reset_verdict want;
	} cases[] = {
		{ 0, VERDICT_GENUINE },
		{ BIT(R2_BEHIND_SENT_DATA), VERDICT_GENUINE },
		{ BIT(R7_IP_ID), VERDICT_SUSPECT },
		{ BIT(R8_WINDOW), VERDICT_SUSPECT },
		{ BIT(R7_IP_ID) | BIT(R8_WINDOW), VERDICT_SUSPECT },
		{ BIT(R6_TTL) | BIT(R9_TIMESTAMP) | BIT(R2_BEHIND_SENT_DATA), VERDICT_SUSPECT },
		{ BIT(R6_TTL) | BIT(R7_IP_ID) | BIT(R8_WINDOW), VERDICT_FORGED },
	};
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;

	(void)state;
	sim_established(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event ev = sim_rst(&c, T0 + i * 10 * SEC, SRV, 120001, 5001);

		ev.tcp.signals = cases[i].bits;
		feed(ra, &ev);
		reset_analysis_tick(ra, T0 + i * 10 * SEC + RESET_HOLD_NS);
		assert_int_equal(s.n_rst, i + 1);
		assert_int_equal(s.rst[i].verdict, cases[i].want);
		assert_int_equal(s.rst[i].signals & ~BIT(R12_CONNECTION_DIED), cases[i].bits);
	}
	assert_int_equal(reset_analysis_stats(ra)->genuine, 2);
	assert_int_equal(reset_analysis_stats(ra)->suspect, 4);
	assert_int_equal(reset_analysis_stats(ra)->forged, 1);
	reset_analysis_free(ra);
}

/* ---- holding --------------------------------------------------------------- */

static void test_hold_timing(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c, d;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS - 1);
	assert_int_equal(s.n_rst, 0);
	assert_int_equal(s.n_conn, 0);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.n_rst, 1);
	assert_int_equal(s.rst[0].verdict, VERDICT_GENUINE);
	assert_true(s.rst[0].established);
	assert_int_equal(s.rst[0].rtt_ns, 80 * MS);
	assert_memory_equal(&s.rst[0].ev, &ev, sizeof(ev));
	/* No RST for HOLD after the last: the connection is summed up. */
	assert_int_equal(s.n_conn, 1);
	assert_int_equal(s.conn[0].resets, 1);
	reset_analysis_tick(ra, T0 + 3 * RESET_HOLD_NS);
	assert_int_equal(s.n_rst, 1);
	assert_int_equal(s.n_conn, 1);

	/* A second RST holds the connection's summary until it is decided. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, 2 * T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, 2 * T0 + 3 * SEC, SRV, 120001, 0);
	feed(ra, &ev);
	reset_analysis_tick(ra, 2 * T0 + RESET_HOLD_NS);
	assert_int_equal(s.n_rst, 1);
	assert_int_equal(s.n_conn, 0);
	reset_analysis_tick(ra, 2 * T0 + 3 * SEC + RESET_HOLD_NS);
	assert_int_equal(s.n_rst, 2);
	assert_int_equal(s.n_conn, 1);
	assert_int_equal(s.conn[0].resets, 2);
	assert_int_equal(s.conn[0].first_rst_ns, 2 * T0);
	assert_int_equal(s.conn[0].last_rst_ns, 2 * T0 + 3 * SEC);

	/* finish decides everything at once, whatever the hold. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	sim_established(&d);
	d.port[CLI] = 40001;
	ev = sim_rst(&c, 3 * T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&d, 3 * T0 + MS, CLI, 5001, 120001);
	feed(ra, &ev);
	reset_analysis_tick(ra, 3 * T0 + 2 * MS);
	assert_int_equal(s.n_rst, 0);
	reset_analysis_finish(ra, 3 * T0 + 2 * MS);
	assert_int_equal(s.n_rst, 2);
	assert_int_equal(s.n_conn, 2);
	assert_int_equal(reset_analysis_stats(ra)->connections, 4);
	reset_analysis_free(ra);
}

/* A RST after the record was summed up starts a new one. */
static void test_new_record_after_summary(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	ev.tcp.pkt.ttl = 40;
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	ev = sim_rst(&c, T0 + RESET_HOLD_NS + SEC, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 20 * SEC);
	assert_int_equal(s.n_conn, 2);
	assert_int_equal(s.conn[1].resets, 1);
	/* The TTL pair spans two records: neither RST has the other. */
	assert_int_equal(signals_at(&s, T0 + RESET_HOLD_NS + SEC), 0);
	reset_analysis_free(ra);
}

/* ---- R1 -------------------------------------------------------------------- */

static struct event after_reset(const struct sim *c, uint64_t t, int from, uint8_t kind,
				uint8_t flags, uint32_t seq, uint32_t len)
{
	struct event ev = sim_event(c, EVENT_TCP_AFTER_RESET, t, from, flags, seq, 0);

	ev.kind = kind;
	ev.tcp.pkt.payload_len = len;
	return ev;
}

static void test_r1_data_after_reset(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	/* The server "resets" at 120001 then goes on sending from there. */
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	sim_packet(&c, T0 + 30 * MS, SRV, 1448);
	ev = after_reset(&c, T0 + 30 * MS, SRV, AFTER_RST_PACKET | AFTER_RST_NEW_DATA,
			 F_ACK | F_PSH, 120001, 1448);
	feed(ra, &ev);
	/* A later RST from the same side, after the new data: not R1. */
	ev = sim_rst(&c, T0 + 40 * MS, SRV, 121449, 5001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_true(signals_at(&s, T0) & BIT(R1_DATA_AFTER_RESET));
	assert_int_equal(verdict_at(&s, T0), VERDICT_FORGED);
	assert_false(signals_at(&s, T0 + 40 * MS) & BIT(R1_DATA_AFTER_RESET));
	reset_analysis_free(ra);
}

/* Retransmitted data below the RST's seq: no NEW_DATA bit, no R1. The
 * other side's new data is no R1 for this side either. A SYN reusing the
 * ports is a new connection. */
static void test_r1_near_misses(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = after_reset(&c, T0 + 30 * MS, SRV, AFTER_RST_PACKET, F_ACK, 118553, 1448);
	feed(ra, &ev);
	ev = after_reset(&c, T0 + 31 * MS, CLI, AFTER_RST_PACKET | AFTER_RST_NEW_DATA, F_ACK, 5001,
			 100);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	assert_int_equal(verdict_at(&s, T0), VERDICT_GENUINE);

	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	/* Even with the datapath's bit: a seq+len not beyond the RST's seq. */
	ev = after_reset(&c, T0 + 30 * MS, SRV, AFTER_RST_NEW_DATA, F_ACK, 119001, 1000);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);

	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, CLI, 5001, 120001);
	feed(ra, &ev);
	ev = after_reset(&c, T0 + SEC, CLI, AFTER_RST_PACKET | AFTER_RST_NEW_DATA, F_SYN, 77777777,
			 0);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);

	/* New data after the verdict was given changes nothing. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	ev = after_reset(&c, T0 + RESET_HOLD_NS + 1, SRV, AFTER_RST_NEW_DATA, F_ACK, 120001, 100);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(s.n_rst, 1);
	assert_int_equal(signals_at(&s, T0), 0);
	reset_analysis_free(ra);
}

/* ---- R3 -------------------------------------------------------------------- */

static void test_r3_seq_jump(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 0);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + SEC, SRV, 120001 + 1460, 0);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_false(signals_at(&s, T0) & BIT(R3_SEQ_JUMP));
	assert_true(signals_at(&s, T0 + SEC) & BIT(R3_SEQ_JUMP));
	assert_int_equal(verdict_at(&s, T0 + SEC), VERDICT_FORGED);
	assert_int_equal(s.conn[0].verdict, VERDICT_FORGED);
	assert_int_equal(s.conn[0].forged, 1);

	/* Near misses: too late; a step of 2; a seq the other side acked. */
	static const struct {
		uint64_t dt;
		uint32_t seq2;
		uint32_t srv_max_ack;
	} miss[] = {
		{ RESET_SEQ_JUMP_NS + 1, 120001 + 1460, 0 },
		{ SEC, 120003, 0 },
		{ SEC, 120001 + 1460, 121461 },
	};
	for (size_t i = 0; i < sizeof(miss) / sizeof(miss[0]); i++) {
		memset(&s, 0, sizeof(s));
		sim_established(&c);
		if (miss[i].srv_max_ack)
			c.side[CLI].max_ack = miss[i].srv_max_ack;
		ev = sim_rst(&c, T0, SRV, 120001, 0);
		feed(ra, &ev);
		ev = sim_rst(&c, T0 + miss[i].dt, SRV, miss[i].seq2, 0);
		feed(ra, &ev);
		reset_analysis_finish(ra, T0 + 10 * SEC);
		if (signals_at(&s, T0 + miss[i].dt) & BIT(R3_SEQ_JUMP))
			fail_msg("near miss %zu fired R3", i);
	}

	/* The sender never sent anything but RSTs (its data may have gone
	 * another way): the jump could be its own data, unseen. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	memset(&c.side[SRV], 0, sizeof(c.side[SRV]));
	ev = sim_rst(&c, T0, SRV, 120001, 0);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + SEC, SRV, 120001 + 1460, 0);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_false(signals_at(&s, T0 + SEC) & BIT(R3_SEQ_JUMP));
	reset_analysis_free(ra);
}

/* ---- R4 -------------------------------------------------------------------- */

static void test_r4_ack_change(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 50 * MS, SRV, 120001, 5001 + 1448);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), BIT(R4_ACK_CHANGE));
	assert_int_equal(signals_at(&s, T0 + 50 * MS), BIT(R4_ACK_CHANGE));
	assert_int_equal(verdict_at(&s, T0), VERDICT_FORGED);

	/* One RST without ACK: a stack's answer, never counts. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 50 * MS, SRV, 120001, 0);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	assert_int_equal(signals_at(&s, T0 + 50 * MS), 0);

	/* Same acks: no change. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 50 * MS, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0 + 50 * MS), 0);

	/* The other side sent a segment between them: the second RST|ACK may
	 * answer it (a stack acking each refused segment). */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	sim_packet(&c, T0 + 10 * MS, CLI, 1448);
	ev = sim_rst(&c, T0 + 50 * MS, SRV, 120001, 5001 + 1448);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	assert_int_equal(signals_at(&s, T0 + 50 * MS), 0);
	reset_analysis_free(ra);
}

/* Two RSTs of one side, same seq and ack, nothing from the peer between. */
static uint32_t r4_windows(struct sink *s, uint16_t w1, uint16_t w2, bool ack, bool peer_between)
{
	struct reset_analysis *ra = new_ra(s, 0, false);
	struct sim c;
	struct event ev;
	uint32_t got;

	memset(s, 0, sizeof(*s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, ack ? 5001 : 0);
	ev.tcp.pkt.window = w1;
	feed(ra, &ev);
	if (peer_between)
		sim_packet(&c, T0 + MS, CLI, 100);
	ev = sim_rst(&c, T0 + 2 * MS, SRV, 120001, ack ? 5001 : 0);
	ev.tcp.pkt.window = w2;
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	got = signals_at(s, T0 + 2 * MS) & BIT(R4_ACK_CHANGE);
	reset_analysis_free(ra);
	return got;
}

static void test_r4_window_change(void **state)
{
	struct sink s;

	(void)state;
	/* An injector's burst: each RST|ACK with its own window. */
	assert_int_equal(r4_windows(&s, 1980, 1981, true, false), BIT(R4_ACK_CHANGE));
	assert_int_equal(verdict_at(&s, T0 + 2 * MS), VERDICT_FORGED);
	assert_int_equal(r4_windows(&s, 0x2c4a, 0x1000, false, false), BIT(R4_ACK_CHANGE));
	/* Near misses: one window 0 (a BSD stack's own RST, then its answer
	 * for the dead socket), the same window twice (a fixed-window
	 * injector is R7's and R8's), a packet from the peer between. */
	assert_int_equal(r4_windows(&s, 33304, 0, false, false), 0);
	assert_int_equal(r4_windows(&s, 0, 33304, true, false), 0);
	assert_int_equal(r4_windows(&s, 0x2c4a, 0x2c4a, false, false), 0);
	assert_int_equal(r4_windows(&s, 1980, 1981, true, true), 0);
}

/* ---- R5 burst -------------------------------------------------------------- */

static void test_r5_burst(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	/* A volley of three RST|ACKs within 4 ms, nothing from the client. */
	sim_established(&c);
	for (int i = 0; i < 3; i++) {
		ev = sim_rst(&c, T0 + i * 2 * MS, SRV, 120001, 5001);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, T0 + 10 * SEC);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(signals_at(&s, T0 + i * 2 * MS), BIT(R5_AHEAD));
		assert_int_equal(verdict_at(&s, T0 + i * 2 * MS), VERDICT_SUSPECT);
	}

	/* RSTs without ACK count when no ack of the other side explains
	 * their seq (here beyond the client's max_ack, as a volley stepping
	 * ahead would be). */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	for (int i = 0; i < 3; i++) {
		ev = sim_rst(&c, T0 + i * MS, SRV, 120011 + 10 * i, 0);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, T0 + 10 * SEC);
	for (int i = 0; i < 3; i++)
		assert_true(signals_at(&s, T0 + i * MS) & BIT(R5_AHEAD));

	/* Near misses: spread over 6 ms; two only; a client packet between. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	for (int i = 0; i < 3; i++) {
		ev = sim_rst(&c, T0 + i * 3 * MS, SRV, 120001, 5001);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, T0 + 10 * SEC);
	for (int i = 0; i < 3; i++)
		assert_int_equal(signals_at(&s, T0 + i * 3 * MS), 0);

	memset(&s, 0, sizeof(s));
	sim_established(&c);
	for (int i = 0; i < 2; i++) {
		ev = sim_rst(&c, T0 + i * MS, SRV, 120001, 5001);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);

	memset(&s, 0, sizeof(s));
	sim_established(&c);
	for (int i = 0; i < 3; i++) {
		if (i == 2)
			sim_packet(&c, T0 + 3 * MS, CLI, 0);
		ev = sim_rst(&c, T0 + i * 2 * MS, SRV, 120001, 5001);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, T0 + 10 * SEC);
	for (int i = 0; i < 3; i++)
		assert_int_equal(signals_at(&s, T0 + i * 2 * MS), 0);
	reset_analysis_free(ra);
}

/* ---- R7 pair --------------------------------------------------------------- */

/* Two RSTs of one side with one non-zero IP ID (a fixed-ID injector):
 * R7 on both; IDs that move, or 0, or on the two sides: nothing. */
static void test_r7_ip_id_pair(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 0);
	ev.tcp.pkt.ip_id = 0x1b39;
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 30 * MS, SRV, 120001, 0);
	ev.tcp.pkt.ip_id = 0x1b39;
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0) & BIT(R7_IP_ID), BIT(R7_IP_ID));
	assert_int_equal(signals_at(&s, T0 + 30 * MS) & BIT(R7_IP_ID), BIT(R7_IP_ID));

	for (int variant = 0; variant < 3; variant++) {
		memset(&s, 0, sizeof(s));
		sim_established(&c);
		ev = sim_rst(&c, T0, SRV, 120001, 0);
		if (variant == 1)
			ev.tcp.pkt.ip_id = 0;
		if (variant == 2)
			ev.tcp.pkt.ip_id = 0x1b39;
		feed(ra, &ev);
		ev = sim_rst(&c, T0 + 30 * MS, variant == 2 ? CLI : SRV,
			     variant == 2 ? 5001 : 120001, 0);
		if (variant == 1)
			ev.tcp.pkt.ip_id = 0;
		if (variant == 2)
			ev.tcp.pkt.ip_id = 0x1b39;
		feed(ra, &ev);
		reset_analysis_finish(ra, T0 + 10 * SEC);
		assert_int_equal(signals_at(&s, T0) & BIT(R7_IP_ID), 0);
		assert_int_equal(signals_at(&s, T0 + 30 * MS) & BIT(R7_IP_ID), 0);
	}
	reset_analysis_free(ra);
}

/* ---- R6 pair --------------------------------------------------------------- */

static void test_r6_ttl_pair(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 100 * MS, SRV, 120001, 0);
	ev.tcp.pkt.ttl = 51;
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), BIT(R6_TTL));
	assert_int_equal(signals_at(&s, T0 + 100 * MS), BIT(R6_TTL));
	assert_int_equal(verdict_at(&s, T0), VERDICT_SUSPECT);

	/* Same TTL: nothing. Different TTLs from the two sides: nothing. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 100 * MS, SRV, 120001, 0);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 200 * MS, CLI, 5001, 0);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	assert_int_equal(signals_at(&s, T0 + 100 * MS), 0);
	assert_int_equal(signals_at(&s, T0 + 200 * MS), 0);
	reset_analysis_free(ra);
}

/* ---- R10 ------------------------------------------------------------------- */

static void test_r10_both_directions(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	/* RTT 80 ms: RSTs both ways 5 ms apart. */
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 5 * MS, CLI, 5001, 120001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), BIT(R10_BOTH_DIRECTIONS));
	assert_int_equal(signals_at(&s, T0 + 5 * MS), BIT(R10_BOTH_DIRECTIONS));
	/* Alone it is what two stacks aborting at once show too. */
	assert_int_equal(verdict_at(&s, T0 + 5 * MS), VERDICT_SUSPECT);

	/* 20 ms is RTT / 4: not closer than that. */
	memset(&s, 0, sizeof(s));
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 20 * MS, CLI, 5001, 120001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	assert_int_equal(signals_at(&s, T0 + 20 * MS), 0);

	/* No handshake seen: RESET_BOTH_NO_RTT_NS decides. */
	for (int close = 1; close >= 0; close--) {
		uint64_t dt = close ? RESET_BOTH_NO_RTT_NS / 2 : RESET_BOTH_NO_RTT_NS;

		memset(&s, 0, sizeof(s));
		sim_established(&c);
		c.syn_ns = c.synack_ns = c.ack_ns = 0;
		c.initiator = CONN_SIDE_UNKNOWN;
		c.flags = CONN_MIDSTREAM | CONN_ESTABLISHED;
		ev = sim_rst(&c, T0, SRV, 120001, 5001);
		feed(ra, &ev);
		ev = sim_rst(&c, T0 + dt, CLI, 5001, 120001);
		feed(ra, &ev);
		reset_analysis_finish(ra, T0 + 10 * SEC);
		assert_int_equal(signals_at(&s, T0), close ? BIT(R10_BOTH_DIRECTIONS) : 0);
		assert_int_equal(s.rst[0].rtt_ns, 0);
	}
	reset_analysis_free(ra);
}

/* A middlebox timing out an idle connection resets both ends at once:
 * normal, and R10 stays quiet. */
static void test_r10_idle_middlebox_timeout(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	c.side[CLI].last_ns = c.side[SRV].last_ns = T0 - 2 * RESET_STALE_NS;
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	ev.tcp.pkt.ttl = 61; /* the middlebox is nearer */
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 50 * 1000, CLI, 5001, 120001);
	ev.tcp.pkt.ttl = 63;
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	assert_int_equal(signals_at(&s, T0 + 50 * 1000), 0);
	assert_int_equal(s.conn[0].verdict, VERDICT_GENUINE);
	reset_analysis_free(ra);
}

/* ---- R11 ------------------------------------------------------------------- */

/* A connection whose client SYN (isn 1000) was just seen. */
static void sim_syn_sent(struct sim *c)
{
	sim_established(c);
	c->flags = 0;
	c->synack_ns = c->ack_ns = 0;
	c->side[CLI].packets = 1;
	c->side[CLI].snd_max = 1001;
	c->side[CLI].max_ack = 0;
	memset(&c->side[SRV], 0, sizeof(c->side[SRV]));
	c->side[SRV].ttl_last = 52;
}

static void test_r11_handshake_race(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	/* SYN-ACK first, then a RST|ACK refusing the same SYN. */
	sim_syn_sent(&c);
	c.flags = CONN_SYNACK;
	c.synack_ns = T0 - 10 * MS;
	c.side[SRV].flags = SIDE_SEEN | SIDE_SYN;
	c.side[SRV].isn = 100000;
	c.side[SRV].snd_max = 100001;
	c.side[SRV].max_ack = 1001;
	ev = sim_rst(&c, T0, SRV, 0, 1001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), BIT(R11_HANDSHAKE_RACE));
	assert_int_equal(verdict_at(&s, T0), VERDICT_FORGED);
	assert_false(s.rst[0].established);

	/* RST|ACK first, the SYN-ACK after it. */
	memset(&s, 0, sizeof(s));
	sim_syn_sent(&c);
	ev = sim_rst(&c, T0, SRV, 0, 1001);
	feed(ra, &ev);
	c.side[SRV].flags |= SIDE_SEEN | SIDE_SYN;
	ev = sim_event(&c, EVENT_TCP_ACCEPT, T0 + MS, SRV, F_SYN | F_ACK, 100000, 1001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), BIT(R11_HANDSHAKE_RACE));

	/* The refusal never reached the client, which sent its SYN again,
	 * and a service that came up meanwhile accepted that one: no race. */
	memset(&s, 0, sizeof(s));
	sim_syn_sent(&c);
	ev = sim_rst(&c, T0, SRV, 0, 1001);
	feed(ra, &ev);
	sim_packet(&c, T0 + SEC, CLI, 0);
	c.side[SRV].flags |= SIDE_SEEN | SIDE_SYN;
	ev = sim_event(&c, EVENT_TCP_ACCEPT, T0 + SEC + MS, SRV, F_SYN | F_ACK, 100000, 1001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);

	/* An ACCEPT from the client side (simultaneous open): not the
	 * responder's; nothing. */
	memset(&s, 0, sizeof(s));
	sim_syn_sent(&c);
	ev = sim_rst(&c, T0, SRV, 0, 1001);
	feed(ra, &ev);
	ev = sim_event(&c, EVENT_TCP_ACCEPT, T0 + MS, CLI, F_SYN | F_ACK, 1000, 100001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	reset_analysis_free(ra);
}

/* A closed port: RST|ACK to the SYN, and again to its retransmission 1 s
 * later. No SYN-ACK ever: genuine, both. */
static void test_genuine_closed_port(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_syn_sent(&c);
	ev = sim_rst(&c, T0, SRV, 0, 1001);
	feed(ra, &ev);
	sim_packet(&c, T0 + SEC - MS, CLI, 0); /* the SYN again */
	ev = sim_rst(&c, T0 + SEC, SRV, 0, 1001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + SEC + RESET_HOLD_NS);
	assert_int_equal(s.n_rst, 2);
	assert_int_equal(signals_at(&s, T0), 0);
	assert_int_equal(signals_at(&s, T0 + SEC), 0);
	assert_int_equal(s.n_conn, 1);
	assert_int_equal(s.conn[0].verdict, VERDICT_GENUINE);
	assert_false(s.conn[0].established);
	reset_analysis_free(ra);
}

/* A listener closed before accept(): the child, established, is aborted
 * with a RST|ACK that acks only the SYN. Not a handshake race. */
static void test_genuine_abort_before_accept(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	c.side[CLI].snd_max = 1001;
	c.side[SRV].max_ack = 1001;
	c.side[SRV].snd_max = 100001;
	ev = sim_rst(&c, T0, SRV, 100001, 1001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(signals_at(&s, T0), 0);
	reset_analysis_free(ra);
}

/* ---- R12 ------------------------------------------------------------------- */

static void test_r12_connection_died(void **state)
{
	struct sink s;
	struct reset_analysis *ra;
	struct sim c;
	struct event ev;

	(void)state;
	/* Table lookup: the entry is gone. */
	ra = new_ra(&s, 0, true);
	s.lookup_err = -ENOENT;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.n_rst, 1);
	assert_int_equal(s.rst[0].signals, BIT(R12_CONNECTION_DIED));
	assert_int_equal(s.rst[0].verdict, VERDICT_GENUINE);
	assert_int_equal(s.lookups, 1);

	/* Table lookup: packets up to the end of the grace only: died. */
	memset(&s, 0, sizeof(s));
	s.lookup_last_ns = T0 + RESET_DIED_GRACE_NS;
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.rst[0].signals, BIT(R12_CONNECTION_DIED));

	/* Table lookup: a packet after the grace: alive. */
	memset(&s, 0, sizeof(s));
	s.lookup_last_ns = T0 + RESET_DIED_GRACE_NS + 1;
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.rst[0].signals, 0);

	/* Decided before the grace ended (finish): unknown, not claimed. */
	memset(&s, 0, sizeof(s));
	s.lookup_err = -ENOENT;
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + RESET_DIED_GRACE_NS);
	assert_int_equal(s.rst[0].signals, 0);
	reset_analysis_free(ra);

	/* Without lookup: no after-reset event at all: died. */
	ra = new_ra(&s, 0, false);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.rst[0].signals, BIT(R12_CONNECTION_DIED));

	/* An after-reset packet: it lived on. */
	memset(&s, 0, sizeof(s));
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = after_reset(&c, T0 + 2 * SEC, CLI, AFTER_RST_PACKET, F_ACK, 5001, 0);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.rst[0].signals, 0);

	/* A RST reported as the other side's first packet is no sign of life. */
	memset(&s, 0, sizeof(s));
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	ev = after_reset(&c, T0 + 2 * SEC, CLI, AFTER_RST_PACKET, F_RST, 5001, 0);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.rst[0].signals, BIT(R12_CONNECTION_DIED));

	/* The after-reset reports were used up before this RST: unknown. */
	memset(&s, 0, sizeof(s));
	c.side[CLI].after_rst = AFTER_RST_PACKET;
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	reset_analysis_tick(ra, T0 + RESET_HOLD_NS);
	assert_int_equal(s.rst[0].signals, 0);
	reset_analysis_free(ra);
}

/* ---- the ordinary resets that must stay genuine ----------------------------- */

/*
 * An application aborts mid-transfer: RST|ACK at snd_max, then each of
 * the peer's in-flight segments is answered by a RST without ACK whose
 * seq is the segment's ack, same TTL, IP IDs continuing. Probe next to
 * the aborting host: each segment passes before its answer.
 */
static void test_genuine_abort_near_host(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	for (int i = 1; i <= 6; i++) {
		sim_packet(&c, T0 + i * 300 * 1000, CLI, 1448);
		ev = sim_rst(&c, T0 + i * 300 * 1000 + 20 * 1000, SRV, 120001, 0);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(s.n_rst, 7);
	for (size_t i = 0; i < s.n_rst; i++)
		if (s.rst[i].verdict != VERDICT_GENUINE ||
		    (s.rst[i].signals & ~BIT(R12_CONNECTION_DIED)))
			fail_msg("RST %zu: %s, signals 0x%x", i,
				 reset_verdict_name(s.rst[i].verdict), s.rst[i].signals);
	assert_int_equal(s.conn[0].verdict, VERDICT_GENUINE);
	reset_analysis_free(ra);
}

/* The same abort with the probe next to the peer: all the segments pass
 * first, then the answers come back together, inside the burst window. */
static void test_genuine_abort_near_peer(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	for (int i = 0; i < 6; i++)
		sim_packet(&c, T0 - 50 * MS + i * 100 * 1000, CLI, 1448);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	feed(ra, &ev);
	for (int i = 1; i <= 6; i++) {
		ev = sim_rst(&c, T0 + i * 200 * 1000, SRV, 120001, 0);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(s.n_rst, 7);
	for (size_t i = 0; i < s.n_rst; i++)
		if (s.rst[i].verdict != VERDICT_GENUINE)
			fail_msg("RST %zu: %s, signals 0x%x", i,
				 reset_verdict_name(s.rst[i].verdict), s.rst[i].signals);
	reset_analysis_free(ra);
}

/* RST after FIN; a RST with IP ID 0 and DF; a NAT timeout's RST with
 * another TTL after a long idle: lone RSTs, all genuine. */
static void test_genuine_lone_resets(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	c.side[SRV].flags |= SIDE_FIN;
	c.side[SRV].snd_max++;
	ev = sim_rst(&c, T0, SRV, 120002, 5001);
	feed(ra, &ev);

	sim_established(&c);
	c.port[CLI] = 40001;
	ev = sim_rst(&c, T0 + MS, SRV, 120001, 0);
	ev.tcp.pkt.ip_id = 0;
	ev.tcp.pkt.df = 1;
	feed(ra, &ev);

	sim_established(&c);
	c.port[CLI] = 40002;
	c.side[CLI].last_ns = c.side[SRV].last_ns = T0 - 3600 * SEC;
	ev = sim_rst(&c, T0 + 2 * MS, SRV, 120001, 5001);
	ev.tcp.pkt.ttl = 250;
	feed(ra, &ev);

	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(s.n_rst, 3);
	assert_int_equal(s.n_conn, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(s.rst[i].verdict, VERDICT_GENUINE);
		assert_int_equal(s.rst[i].signals & ~BIT(R12_CONNECTION_DIED), 0);
	}
	reset_analysis_free(ra);
}

/* ---- BitTorrent blocking ---------------------------------------------------- */

static void sim_bittorrent(struct sim *c)
{
	sim_established(c);
	c->port[SRV] = 6881;
	c->flags |= CONN_BITTORRENT;
	c->side[CLI].flags |= SIDE_BT_HANDSHAKE;
	c->side[SRV].flags |= SIDE_BT_HANDSHAKE;
}

static const struct conn_report *bt_case(struct sink *s, struct sim *c, uint32_t dp_bits)
{
	struct reset_analysis *ra = new_ra(s, 0, false);
	struct event ev = sim_rst(c, T0, SRV, 120001, 5001);

	ev.tcp.signals = dp_bits;
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	reset_analysis_free(ra);
	assert_int_equal(s->n_conn, 1);
	assert_true(s->conn[0].bittorrent);
	return &s->conn[0];
}

static void test_blocked_bittorrent(void **state)
{
	struct sink s;
	struct sim c;

	(void)state;
	/* Handshakes both ways, a forged RST, no piece, no FIN: blocked. */
	sim_bittorrent(&c);
	assert_true(bt_case(&s, &c, BIT(R6_TTL) | BIT(R7_IP_ID))->blocked);
	assert_true(s.rst[0].bittorrent);
	/* Suspect is evidence enough. */
	sim_bittorrent(&c);
	assert_true(bt_case(&s, &c, BIT(R7_IP_ID))->blocked);

	/* Not blocked: a genuine RST; a piece went; a FIN; one handshake. */
	sim_bittorrent(&c);
	assert_false(bt_case(&s, &c, 0)->blocked);
	sim_bittorrent(&c);
	c.side[SRV].flags |= SIDE_BT_PIECE;
	assert_false(bt_case(&s, &c, BIT(R6_TTL) | BIT(R7_IP_ID))->blocked);
	sim_bittorrent(&c);
	c.side[CLI].flags |= SIDE_FIN;
	assert_false(bt_case(&s, &c, BIT(R6_TTL) | BIT(R7_IP_ID))->blocked);
	sim_bittorrent(&c);
	c.side[SRV].flags &= ~SIDE_BT_HANDSHAKE;
	assert_false(bt_case(&s, &c, BIT(R6_TTL) | BIT(R7_IP_ID))->blocked);
}

/* A piece seen after the RST (in the newest snapshot) undoes blocked. */
static void test_blocked_uses_latest_snapshot(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_bittorrent(&c);
	ev = sim_rst(&c, T0, SRV, 120001, 5001);
	ev.tcp.signals = BIT(R6_TTL) | BIT(R7_IP_ID) | BIT(R8_WINDOW);
	feed(ra, &ev);
	c.side[SRV].flags |= SIDE_BT_PIECE;
	ev = after_reset(&c, T0 + 10 * MS, SRV, AFTER_RST_PACKET, F_ACK, 100000, 0);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_false(s.conn[0].blocked);
	assert_int_equal(s.conn[0].verdict, VERDICT_FORGED);
	reset_analysis_free(ra);
}

/* ---- bounds ------------------------------------------------------------------ */

static void test_max_connections(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 2, false);
	struct sim c;
	struct event ev;

	(void)state;
	for (int i = 0; i < 3; i++) {
		sim_established(&c);
		c.port[CLI] = 40000 + i;
		ev = sim_rst(&c, T0 + i * MS, SRV, 120001, 5001);
		feed(ra, &ev);
	}
	/* The third connection pushed out the first, decided early. */
	assert_int_equal(reset_analysis_stats(ra)->connections_dropped, 1);
	assert_int_equal(s.n_rst, 1);
	assert_int_equal(s.n_conn, 1);
	assert_int_equal(s.conn[0].first_rst.dport, 40000);
	assert_int_equal(s.rst[0].ev.time_ns, T0);

	/* Events for the forgotten connection are ignored. */
	sim_established(&c);
	ev = after_reset(&c, T0 + 5 * MS, SRV, AFTER_RST_NEW_DATA, F_ACK, 120001, 10);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(s.n_rst, 3);
	assert_int_equal(s.n_conn, 3);
	assert_int_equal(reset_analysis_stats(ra)->resets, 3);

	/* Many more than fit, in and out: the table never loses its way. */
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 1000; i++) {
		sim_established(&c);
		c.port[CLI] = 1000 + (i * 7919) % 5000;
		c.last_octet[SRV] = 2 + i % 3;
		ev = sim_rst(&c, 2 * T0 + i * MS, SRV, 120001, 5001);
		feed(ra, &ev);
	}
	reset_analysis_finish(ra, 3 * T0);
	assert_int_equal(s.n_rst, 1000);
	assert_int_equal(reset_analysis_stats(ra)->connections_dropped, 1 + 998);
	reset_analysis_free(ra);
}

/*
 * Random churn through a table of 64 records: connections come and go
 * (reported, dropped over the bound), and after every step the number of
 * records equals a shadow model's, which only holds if every lookup finds
 * the record it should (the index's deletions keep probe runs intact).
 */
struct shadow {
	bool live[400];
	size_t n;
};

static void shadow_on_connection(void *ctx, const struct conn_report *c)
{
	struct shadow *sh = ctx;
	int id = (c->key.port[0] - 1000) % 400;

	assert_true(sh->live[id]);
	sh->live[id] = false;
	sh->n--;
}

static void test_table_churn(void **state)
{
	struct shadow sh;
	struct reset_analysis_config cfg = {
		.on_connection = shadow_on_connection,
		.ctx = &sh,
		.max_connections = 64,
	};
	struct reset_analysis *ra;
	struct sim c;
	uint64_t t = T0;
	unsigned seed = 12345;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	ra = reset_analysis_new(&cfg);
	assert_non_null(ra);
	for (int step = 0; step < 20000; step++) {
		int id = (seed = seed * 1103515245 + 12345) >> 16;
		struct event ev;

		id %= 400;
		/* Crowded first (records pushed out), then sparse (records
		 * closed by the tick after their hold). */
		t += (uint64_t)((seed >> 4) % 1000) * (step < 10000 ? 2000 : 200000);
		sim_established(&c);
		c.port[CLI] = 1000 + id; /* the lower address: side 0 */
		c.port[SRV] = 80 + id % 7;
		ev = sim_rst(&c, t, id % 2 ? SRV : CLI, 120001, 5001);
		/* Over the bound the oldest record goes: the shadow learns
		 * which through the callback, before the new one is counted. */
		reset_analysis_event(ra, &ev);
		if (!sh.live[id]) {
			sh.live[id] = true;
			sh.n++;
		}
		if (step % 50 == 0)
			reset_analysis_tick(ra, t);
		assert_int_equal(reset_analysis_stats(ra)->connections_held, sh.n);
	}
	assert_true(reset_analysis_stats(ra)->connections_dropped > 0);
	assert_true(reset_analysis_stats(ra)->connections >
		    reset_analysis_stats(ra)->connections_dropped);
	reset_analysis_finish(ra, t);
	assert_int_equal(sh.n, 0);
	assert_int_equal(reset_analysis_stats(ra)->connections_held, 0);
	assert_int_equal(reset_analysis_stats(ra)->resets, 20000);
	reset_analysis_free(ra);
}

/* A flood of RSTs on one connection: each reported once, memory bounded. */
static void test_reset_flood(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;
	const int n = RESET_MAX_PER_CONN + 10;

	(void)state;
	sim_established(&c);
	for (int i = 0; i < n; i++) {
		ev = sim_rst(&c, T0 + i * 100 * MS, SRV, 120001, 0);
		feed(ra, &ev);
	}
	assert_int_equal(s.n_rst, 10);
	assert_int_equal(reset_analysis_stats(ra)->resets_early, 10);
	reset_analysis_finish(ra, T0 + 100 * SEC);
	assert_int_equal(s.n_rst, n);
	assert_int_equal(s.n_conn, 1);
	assert_int_equal(s.conn[0].resets, n);
	assert_int_equal(s.conn[0].first_rst_ns, T0);
	for (int i = 0; i < n; i++)
		(void)report_at(&s, T0 + i * 100 * MS);
	reset_analysis_free(ra);
}

/* The summary: counts, union, worst verdict, first RST's flow. */
static void test_connection_summary(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_rst(&c, T0, CLI, 5001, 120001);
	ev.tcp.signals = BIT(R9_TIMESTAMP);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + SEC, SRV, 120001, 5001);
	ev.tcp.signals = BIT(R6_TTL) | BIT(R7_IP_ID) | BIT(R8_WINDOW);
	feed(ra, &ev);
	ev = sim_rst(&c, T0 + 2 * SEC, SRV, 120001, 0);
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(s.n_conn, 1);
	assert_int_equal(s.conn[0].resets, 3);
	assert_int_equal(s.conn[0].suspect, 1);
	assert_int_equal(s.conn[0].forged, 1);
	assert_int_equal(s.conn[0].verdict, VERDICT_FORGED);
	assert_int_equal(s.conn[0].signals & ~BIT(R12_CONNECTION_DIED),
			 BIT(R6_TTL) | BIT(R7_IP_ID) | BIT(R8_WINDOW) | BIT(R9_TIMESTAMP));
	assert_true(s.conn[0].established);
	assert_false(s.conn[0].bittorrent);
	assert_int_equal(s.conn[0].first_rst.sport, 40000);
	assert_int_equal(s.conn[0].key.port[0], 40000);
	assert_int_equal(s.conn[0].first_rst_ns, T0);
	assert_int_equal(s.conn[0].last_rst_ns, T0 + 2 * SEC);
	reset_analysis_free(ra);
}

/* Other event types and protocols leave no trace. */
static void test_ignored_events(void **state)
{
	struct sink s;
	struct reset_analysis *ra = new_ra(&s, 0, false);
	struct sim c;
	struct event ev;

	(void)state;
	sim_established(&c);
	ev = sim_event(&c, EVENT_TCP_OPEN, T0, CLI, F_SYN, 1000, 0);
	feed(ra, &ev);
	ev = sim_event(&c, EVENT_TCP_ACCEPT, T0, SRV, F_SYN | F_ACK, 100000, 1001);
	feed(ra, &ev);
	ev = sim_event(&c, EVENT_BITTORRENT, T0, SRV, 0, 0, 0);
	feed(ra, &ev);
	ev = sim_rst(&c, T0, SRV, 1, 1);
	ev.key.proto = 17;
	feed(ra, &ev);
	reset_analysis_finish(ra, T0 + 10 * SEC);
	assert_int_equal(s.n_rst, 0);
	assert_int_equal(s.n_conn, 0);
	reset_analysis_free(ra);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_key_order),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_verdict_rule),
		cmocka_unit_test(test_datapath_signals_decide),
		cmocka_unit_test(test_hold_timing),
		cmocka_unit_test(test_new_record_after_summary),
		cmocka_unit_test(test_r1_data_after_reset),
		cmocka_unit_test(test_r1_near_misses),
		cmocka_unit_test(test_r3_seq_jump),
		cmocka_unit_test(test_r4_ack_change),
		cmocka_unit_test(test_r4_window_change),
		cmocka_unit_test(test_r5_burst),
		cmocka_unit_test(test_r6_ttl_pair),
		cmocka_unit_test(test_r7_ip_id_pair),
		cmocka_unit_test(test_r10_both_directions),
		cmocka_unit_test(test_r10_idle_middlebox_timeout),
		cmocka_unit_test(test_r11_handshake_race),
		cmocka_unit_test(test_genuine_closed_port),
		cmocka_unit_test(test_genuine_abort_before_accept),
		cmocka_unit_test(test_r12_connection_died),
		cmocka_unit_test(test_genuine_abort_near_host),
		cmocka_unit_test(test_genuine_abort_near_peer),
		cmocka_unit_test(test_genuine_lone_resets),
		cmocka_unit_test(test_blocked_bittorrent),
		cmocka_unit_test(test_blocked_uses_latest_snapshot),
		cmocka_unit_test(test_max_connections),
		cmocka_unit_test(test_table_churn),
		cmocka_unit_test(test_reset_flood),
		cmocka_unit_test(test_connection_summary),
		cmocka_unit_test(test_ignored_events),
	};

	return cmocka_run_group_tests_name("reset_analysis", tests, NULL, NULL);
}
