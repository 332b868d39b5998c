// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The connection table of bpf/conn_track.bpf.h, through BPF_PROG_TEST_RUN:
 * both directions in one entry with the right sides, handshake times and
 * events, the history a RST is judged against, the signals the datapath
 * computes for one RST (each with a case that fires it and a near miss
 * that must not), the after-reset events (R1's evidence), new
 * connections on old ports, a full table counted, IPv6, and the
 * BitTorrent facts the "blocked" count needs. The verdicts themselves
 * are the daemon's (test_reset_analysis.c) and the scenarios end to end
 * are in tests/integration/test_reset_scenarios.py.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "flowprobe.skel.h"
#include "datapath/probe.h"
#include "reset_signals.h"
#include "datapath/conn_table.h"
#include "packet_builder.h"
#include "datapath_fixture.h"

#define SEC_NS 1000000000ULL
#define MS_NS 1000000ULL

/* The client A (10.0.0.1:40000) and the server B (10.0.0.2:6881): A's
 * address sorts first, so A is side 0. */
#define A_SEQ 1000u
#define B_SEQ 500000u
#define A_TTL 64
#define B_TTL 50
#define A_ID 100
#define B_ID 30000

static struct pb_spec a_to_b(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t payload,
			     uint16_t ip_id)
{
	return (struct pb_spec){ .ip = 4,
				 .proto = PB_TCP,
				 .src = "10.0.0.1",
				 .dst = "10.0.0.2",
				 .sport = 40000,
				 .dport = 6881,
				 .tcp_flags = flags,
				 .seq = seq,
				 .ack = ack,
				 .payload = payload,
				 .ttl = A_TTL,
				 .ip_id = ip_id,
				 .frag = PB_IPV4_DF,
				 .ts = true,
				 .tsval = 7000 + ip_id };
}

static struct pb_spec b_to_a(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t payload,
			     uint16_t ip_id)
{
	return (struct pb_spec){ .ip = 4,
				 .proto = PB_TCP,
				 .src = "10.0.0.2",
				 .dst = "10.0.0.1",
				 .sport = 6881,
				 .dport = 40000,
				 .tcp_flags = flags,
				 .seq = seq,
				 .ack = ack,
				 .payload = payload,
				 .ttl = B_TTL,
				 .ip_id = ip_id,
				 .frag = PB_IPV4_DF,
				 .ts = true,
				 .tsval = 90000 + ip_id };
}

/* Runs a frame at probe time t_ns (replay clock). */
static void run_at(struct dp *dp, const struct pb_spec *s, __u64 t_ns)
{
	struct pkt p;
	__u32 rc;

	pb_build(&p, s);
	dp->skel->bss->replay_now_ns = t_ns;
	assert_int_equal(run_frame(dp, &p, &rc), 0);
	assert_int_equal(rc, expected_rc(dp));
}

static void run_val(struct dp *dp, struct pb_spec s, __u64 t_ns)
{
	run_at(dp, &s, t_ns);
}

static void conn_key_ab(struct conn_key *k)
{
	memset(k, 0, sizeof(*k));
	k->ip_version = 4;
	inet_pton(AF_INET, "10.0.0.1", k->addr[0]);
	inet_pton(AF_INET, "10.0.0.2", k->addr[1]);
	k->port[0] = 40000;
	k->port[1] = 6881;
}

/*
 * Handshake at 1 s, 1.010 s, 1.020 s, then data: A sends 4 segments of
 * 100 bytes, B 4 of 1000, IP IDs counting up by one on each side (4
 * steps: B's IDs are just sequential enough for R7). After it: A's
 * snd_max = A_SEQ + 1 + 400, B's = B_SEQ + 1 + 4000; A has acked all
 * but B's last segment.
 */
#define T0 (1 * SEC_NS)
#define DATA_SEGMENTS 4
static __u64 establish(struct dp *dp)
{
	uint32_t a = A_SEQ + 1, b = B_SEQ + 1;
	__u64 t = T0;

	run_val(dp, a_to_b(PB_SYN, A_SEQ, 0, 0, A_ID), t);
	run_val(dp, b_to_a(PB_SYN | PB_ACK, B_SEQ, a, 0, B_ID), t + 10 * MS_NS);
	run_val(dp, a_to_b(PB_ACK, a, b, 0, A_ID + 1), t + 20 * MS_NS);
	t += 20 * MS_NS;
	for (int i = 0; i < DATA_SEGMENTS; i++) {
		t += MS_NS;
		run_val(dp, a_to_b(PB_ACK | PB_PSH, a, b, 100, A_ID + 2 + i), t);
		a += 100;
		t += MS_NS;
		run_val(dp, b_to_a(PB_ACK, b, a, 1000, B_ID + 1 + i), t);
		b += 1000;
	}
	return t;
}

#define B_SND_MAX (B_SEQ + 1 + 1000 * DATA_SEGMENTS)
#define A_SND_MAX (A_SEQ + 1 + 100 * DATA_SEGMENTS)
#define A_MAX_ACK (B_SND_MAX - 1000)
#define B_LAST_ID (B_ID + DATA_SEGMENTS)
#define A_LAST_ID (A_ID + 1 + DATA_SEGMENTS)

static void test_handshake(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "handshake" };
	struct conn_state st;
	struct conn_key k;
	__u64 cnt[CNT__MAX];

	dp_reset(dp);
	establish(dp);
	conn_key_ab(&k);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_eq(&c, "initiator (A is side 0)", st.initiator, 0);
	check_eq(&c, "flags", st.flags, CONN_SYNACK | CONN_ESTABLISHED);
	check_eq(&c, "syn_ns", st.syn_ns, T0);
	check_eq(&c, "synack_ns", st.synack_ns, T0 + 10 * MS_NS);
	check_eq(&c, "ack_ns", st.ack_ns, T0 + 20 * MS_NS);
	check_eq(&c, "A isn", st.side[0].isn, A_SEQ);
	check_eq(&c, "B isn", st.side[1].isn, B_SEQ);
	check_eq(&c, "A snd_max", st.side[0].snd_max, A_SND_MAX);
	check_eq(&c, "B snd_max", st.side[1].snd_max, B_SND_MAX);
	check_eq(&c, "A max_ack", st.side[0].max_ack, A_MAX_ACK);
	check_eq(&c, "A packets", st.side[0].packets, 2 + DATA_SEGMENTS);
	check_eq(&c, "B payload", st.side[1].payload, 1000 * DATA_SEGMENTS);
	check_eq(&c, "B ttl", st.side[1].ttl_last, B_TTL);
	check_eq(&c, "B ip id run", st.side[1].ipid_run, DATA_SEGMENTS);
	check_eq(&c, "A ip id run", st.side[0].ipid_run, 1 + DATA_SEGMENTS);
	check_eq(&c, "A last ip id", st.side[0].last_ip_id, A_LAST_ID);
	check_true(&c, "A: seen, SYN, DF, timestamps",
		   (st.side[0].flags & (SIDE_SEEN | SIDE_SYN | SIDE_DF | SIDE_TS)) ==
			   (SIDE_SEEN | SIDE_SYN | SIDE_DF | SIDE_TS));
	check_eq(&c, "B last tsval", st.side[1].last_tsval, 90000 + B_LAST_ID);

	check_eq(&c, "events", consume_events(dp), 2);
	check_eq(&c, "event 0 type", dp->events[0].type, EVENT_TCP_OPEN);
	check_eq(&c, "event 0 sender", dp->events[0].tcp.sender, 0);
	check_eq(&c, "event 0 seq", dp->events[0].tcp.pkt.seq, A_SEQ);
	check_eq(&c, "event 1 type", dp->events[1].type, EVENT_TCP_ACCEPT);
	check_eq(&c, "event 1 sender", dp->events[1].tcp.sender, 1);
	check_eq(&c, "event 1 initiator", dp->events[1].tcp.initiator, 0);
	check_eq(&c, "event 1 syn_ns", dp->events[1].tcp.syn_ns, T0);

	sum_counters(dp, cnt);
	check_eq(&c, "CNT_CONNS_CREATED", cnt[CNT_CONNS_CREATED], 1);
	check_eq(&c, "CNT_TCP_RESETS", cnt[CNT_TCP_RESETS], 0);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* One RST from B into the established connection, and the signals the
 * datapath must (and must not) find in it. */
struct rst_case {
	const char *desc;
	uint8_t flags; /* PB_RST, maybe | PB_ACK */
	uint32_t seq;
	uint16_t ip_id;
	uint8_t ttl;
	uint32_t win; /* PB_WIN(n) for n */
	bool ts;
	uint32_t tsval;
	bool ip_df;
	__u64 after_ns; /* since B's last packet */
	uint32_t want; /* signal bits */
};

#define SIG(n) RESET_SIGNAL_BIT(n)

static const struct rst_case rst_cases[] = {
	{ "abort at snd_max, ID continues: nothing", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 1,
	  B_TTL, PB_WIN(0), true, 90000 + B_LAST_ID + 5, true, MS_NS, 0 },
	{ "R2: RST|ACK 100 bytes behind snd_max", PB_RST | PB_ACK, B_SND_MAX - 100, B_LAST_ID + 1,
	  B_TTL, PB_WIN(0), false, 0, true, MS_NS, SIG(R2_BEHIND_SENT_DATA) },
	{ "near R2: keep-alive seq snd_max - 1", PB_RST | PB_ACK, B_SND_MAX - 1, B_LAST_ID + 1,
	  B_TTL, PB_WIN(0), false, 0, true, MS_NS, 0 },
	{ "near R2: RST without ACK behind (a dead socket's reply)", PB_RST, B_SND_MAX - 1000,
	  B_LAST_ID + 1, B_TTL, PB_WIN(0), false, 0, true, MS_NS, 0 },
	{ "R5: seq beyond anything sent", PB_RST | PB_ACK, B_SND_MAX + 5000, B_LAST_ID + 1, B_TTL,
	  PB_WIN(0), false, 0, true, MS_NS, SIG(R5_AHEAD) },
	{ "near R5: seq snd_max + 1", PB_RST | PB_ACK, B_SND_MAX + 1, B_LAST_ID + 1, B_TTL,
	  PB_WIN(0), false, 0, true, MS_NS, 0 },
	{ "R6: TTL 3 below", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 1, B_TTL - 3, PB_WIN(0), false,
	  0, true, MS_NS, SIG(R6_TTL) },
	{ "near R6: TTL 2 below", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 1, B_TTL - 2, PB_WIN(0),
	  false, 0, true, MS_NS, 0 },
	{ "R7: IP ID out of sequence", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 5000, B_TTL,
	  PB_WIN(0), false, 0, true, MS_NS, SIG(R7_IP_ID) },
	{ "R7: IP ID behind", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID - 1, B_TTL, PB_WIN(0), false, 0,
	  true, MS_NS, SIG(R7_IP_ID) },
	{ "R7: the other side's last IP ID copied", PB_RST | PB_ACK, B_SND_MAX, A_LAST_ID, B_TTL,
	  PB_WIN(0), false, 0, true, MS_NS, SIG(R7_IP_ID) },
	{ "R7: B's own last IP ID repeated", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID, B_TTL,
	  PB_WIN(0), false, 0, true, MS_NS, SIG(R7_IP_ID) },
	{ "near R7: step 1024 (missed packets)", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 1024,
	  B_TTL, PB_WIN(0), false, 0, true, MS_NS, 0 },
	{ "near R7: IP ID 0 with DF", PB_RST | PB_ACK, B_SND_MAX, 0, B_TTL, PB_WIN(0), false, 0,
	  true, MS_NS, 0 },
	{ "R8: RST without ACK with a window", PB_RST, B_SND_MAX, B_LAST_ID + 1, B_TTL,
	  PB_WIN(8192), false, 0, true, MS_NS, SIG(R8_WINDOW) },
	{ "near R8: RST|ACK with a window", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 1, B_TTL,
	  PB_WIN(8192), false, 0, true, MS_NS, 0 },
	{ "near R8: RST without ACK with B's own window (a BSD-style stack's)", PB_RST, B_SND_MAX,
	  B_LAST_ID + 1, B_TTL, PB_WIN(65535), false, 0, true, MS_NS, 0 },
	{ "R8: RST without ACK with B's window one off", PB_RST, B_SND_MAX, B_LAST_ID + 1, B_TTL,
	  PB_WIN(65534), false, 0, true, MS_NS, SIG(R8_WINDOW) },
	{ "R8: B's own window, but its history is stale (61 s)", PB_RST, B_SND_MAX, 7, B_TTL + 20,
	  PB_WIN(65535), false, 0, true, 61 * SEC_NS, SIG(R8_WINDOW) },
	{ "R9: timestamp behind", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 1, B_TTL, PB_WIN(0), true,
	  90000 + B_LAST_ID - 10, true, MS_NS, SIG(R9_TIMESTAMP) },
	{ "R9: timestamp far ahead", PB_RST | PB_ACK, B_SND_MAX, B_LAST_ID + 1, B_TTL, PB_WIN(0),
	  true, 90000 + B_LAST_ID + 50000000, true, MS_NS, SIG(R9_TIMESTAMP) },
	{ "near R9: timestamp 2 s of microseconds ahead after 1 s", PB_RST | PB_ACK, B_SND_MAX,
	  B_LAST_ID + 1, B_TTL, PB_WIN(0), true, 90000 + B_LAST_ID + 1900000, true, SEC_NS, 0 },
	{ "two header signals: TTL and IP ID", PB_RST, B_SND_MAX, 7, B_TTL + 20, PB_WIN(0), false,
	  0, false, MS_NS, SIG(R6_TTL) | SIG(R7_IP_ID) },
	{ "stale history (61 s quiet): TTL and IP ID are no evidence", PB_RST | PB_ACK, B_SND_MAX,
	  7, B_TTL + 20, PB_WIN(0), false, 0, true, 61 * SEC_NS, 0 },
};

static void test_rst_signals(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "RST signals" };
	char ctx[160];

	for (size_t i = 0; i < ARRAY_SIZE(rst_cases); i++) {
		const struct rst_case *rc = &rst_cases[i];
		struct pb_spec rst = b_to_a(rc->flags, rc->seq, rc->flags & PB_ACK ? A_SND_MAX : 0,
					    0, rc->ip_id);
		const struct tcp_event *t;
		__u64 t_last;

		snprintf(ctx, sizeof(ctx), "RST signals: %s", rc->desc);
		c.ctx = ctx;
		dp_reset(dp);
		t_last = establish(dp);
		consume_events(dp);
		rst.ttl = rc->ttl;
		rst.win = rc->win;
		rst.ts = rc->ts;
		rst.tsval = rc->tsval;
		rst.frag = rc->ip_df ? PB_IPV4_DF : 0;
		run_at(dp, &rst, t_last + rc->after_ns);
		if (consume_events(dp) != 1) {
			check_eq(&c, "events", dp->n_events, 1);
			continue;
		}
		t = &dp->events[0].tcp;
		check_eq(&c, "type", dp->events[0].type, EVENT_TCP_RESET);
		check_eq(&c, "signals", t->signals, rc->want);
		check_eq(&c, "sender", t->sender, 1);
		check_eq(&c, "pkt seq", t->pkt.seq, rc->seq);
		check_eq(&c, "pkt ttl", t->pkt.ttl, rc->ttl);
		check_eq(&c, "snapshot: B's snd_max before", t->snd.snd_max, B_SND_MAX);
		check_eq(&c, "snapshot: B's ttl before", t->snd.ttl_last, B_TTL);
		check_eq(&c, "snapshot: B had sent no RST", t->snd.rst_count, 0);
		check_eq(&c, "snapshot: A's max ack", t->rcv.max_ack, A_MAX_ACK);
		check_true(&c, "snapshot: established", t->conn_flags & CONN_ESTABLISHED);
	}
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* A second RST is judged against the same history: the first never
 * rewrites the TTL, IP ID or snd_max it is compared with. */
static void test_rst_keeps_history(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "RST keeps history" };
	struct pb_spec rst = b_to_a(PB_RST, B_SND_MAX + 9999, 0, 0, 7);
	struct conn_state st;
	struct conn_key k;
	__u64 t, cnt[CNT__MAX];

	dp_reset(dp);
	t = establish(dp);
	consume_events(dp);
	rst.ttl = 99;
	run_at(dp, &rst, t + MS_NS);
	rst.seq += 1460;
	run_at(dp, &rst, t + 2 * MS_NS);
	check_eq(&c, "events", consume_events(dp), 2);
	check_eq(&c, "second RST: still judged against TTL 50", dp->events[1].tcp.snd.ttl_last,
		 B_TTL);
	check_eq(&c, "second RST: rst_count before it", dp->events[1].tcp.snd.rst_count, 1);
	check_eq(&c, "second RST: first RST's seq", dp->events[1].tcp.snd.rst_seq,
		 B_SND_MAX + 9999);
	check_true(&c, "second RST: R5 and R6 again",
		   (dp->events[1].tcp.signals & (SIG(R5_AHEAD) | SIG(R6_TTL))) ==
			   (SIG(R5_AHEAD) | SIG(R6_TTL)));
	conn_key_ab(&k);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_eq(&c, "B rst_count", st.side[1].rst_count, 2);
	check_eq(&c, "B snd_max unchanged", st.side[1].snd_max, B_SND_MAX);
	check_true(&c, "B SIDE_RST", st.side[1].flags & SIDE_RST);
	check_eq(&c, "B rst_ns", st.side[1].rst_ns, t + MS_NS);
	sum_counters(dp, cnt);
	check_eq(&c, "CNT_TCP_RESETS", cnt[CNT_TCP_RESETS], 2);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* After B's RST at seq S: B's retransmission below S is a packet after
 * the reset but no new data; B's data beyond S is (R1); A's packet is
 * A's first after the reset; A's first packet past the grace says the
 * connection did not die. Each reported once. */
static void test_after_reset(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "after reset" };
	const uint32_t S = B_SND_MAX;
	__u64 t;

	dp_reset(dp);
	t = establish(dp);
	consume_events(dp);
	run_val(dp, b_to_a(PB_RST | PB_ACK, S, A_SND_MAX, 0, B_LAST_ID + 1), t += MS_NS);
	run_val(dp, b_to_a(PB_ACK, S - 1000, A_SND_MAX, 1000, B_LAST_ID + 2), t += MS_NS);
	run_val(dp, b_to_a(PB_ACK, S - 1000, A_SND_MAX, 1000, B_LAST_ID + 3), t += MS_NS);
	run_val(dp, a_to_b(PB_ACK, A_SND_MAX, S, 100, A_LAST_ID + 1), t += MS_NS);
	run_val(dp, b_to_a(PB_ACK, S, A_SND_MAX, 1000, B_LAST_ID + 4), t += MS_NS);
	run_val(dp, b_to_a(PB_ACK, S + 1000, A_SND_MAX, 1000, B_LAST_ID + 5), t += MS_NS);
	run_val(dp, a_to_b(PB_ACK, A_SND_MAX + 100, S, 100, A_LAST_ID + 2), t += MS_NS);

	check_eq(&c, "events: RST, B after, A after, B new data", consume_events(dp), 4);
	check_eq(&c, "0: RST", dp->events[0].type, EVENT_TCP_RESET);
	check_eq(&c, "1: type", dp->events[1].type, EVENT_TCP_AFTER_RESET);
	check_eq(&c, "1: B's retransmission: packet only", dp->events[1].kind, AFTER_RST_PACKET);
	check_eq(&c, "1: sender B", dp->events[1].tcp.sender, 1);
	check_eq(&c, "2: A's first packet", dp->events[2].kind, AFTER_RST_PACKET);
	check_eq(&c, "2: sender A", dp->events[2].tcp.sender, 0);
	check_eq(&c, "3: B's new data", dp->events[3].kind, AFTER_RST_NEW_DATA);
	check_eq(&c, "3: its seq", dp->events[3].tcp.pkt.seq, S);
	check_eq(&c, "3: snapshot has the RST's seq", dp->events[3].tcp.snd.rst_seq, S);

	/* Past the grace after the RST: the connection lives on (no R12). */
	run_val(dp, a_to_b(PB_ACK, A_SND_MAX + 200, S, 0, A_LAST_ID + 3),
		t + RESET_DIED_GRACE_NS + MS_NS);
	run_val(dp, a_to_b(PB_ACK, A_SND_MAX + 200, S, 0, A_LAST_ID + 4),
		t + RESET_DIED_GRACE_NS + 2 * MS_NS);
	check_eq(&c, "late: one event", consume_events(dp), 1);
	check_eq(&c, "late: kind", dp->events[0].kind, AFTER_RST_LATE);
	check_eq(&c, "late: sender A", dp->events[0].tcp.sender, 0);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* A RST for a connection never seen (scan backscatter, a closed port
 * whose SYN went elsewhere) is reported with no history and makes no
 * entry. A RST answering a SYN to a closed port is judged against the
 * SYN's connection: no signals. */
static void test_rst_without_history(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "RST without history" };
	struct conn_state st;
	struct conn_key k;

	dp_reset(dp);
	conn_key_ab(&k);
	run_val(dp, b_to_a(PB_RST, 1234, 0, 0, 0), T0);
	check_eq(&c, "events", consume_events(dp), 1);
	check_eq(&c, "type", dp->events[0].type, EVENT_TCP_RESET);
	check_eq(&c, "initiator unknown", dp->events[0].tcp.initiator, CONN_SIDE_UNKNOWN);
	check_eq(&c, "no signals", dp->events[0].tcp.signals, 0);
	check_eq(&c, "seq", dp->events[0].tcp.pkt.seq, 1234);
	check_true(&c, "no entry", get_conn(dp, &k, &st) != 0);

	run_val(dp, a_to_b(PB_SYN, A_SEQ, 0, 0, A_ID), T0);
	run_val(dp, b_to_a(PB_RST | PB_ACK, 0, A_SEQ + 1, 0, 0), T0 + MS_NS);
	check_eq(&c, "events: OPEN, RESET", consume_events(dp), 2);
	check_eq(&c, "closed port: RST", dp->events[1].type, EVENT_TCP_RESET);
	check_eq(&c, "closed port: no signals", dp->events[1].tcp.signals, 0);
	check_eq(&c, "closed port: responder side", dp->events[1].tcp.sender, 1);
	check_eq(&c, "closed port: initiator A", dp->events[1].tcp.initiator, 0);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* A new SYN (another ISN) on the ports of a reset connection starts a
 * new connection: fresh history, a new OPEN event. */
static void test_new_incarnation(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "new incarnation" };
	struct conn_state st;
	struct conn_key k;
	__u64 t;

	dp_reset(dp);
	t = establish(dp);
	run_val(dp, b_to_a(PB_RST | PB_ACK, B_SND_MAX, A_SND_MAX, 0, B_LAST_ID + 1), t += MS_NS);
	consume_events(dp);
	/* A retransmitted SYN with the old ISN is no new connection... */
	run_val(dp, a_to_b(PB_SYN, A_SEQ, 0, 0, A_ID), t += MS_NS);
	check_eq(&c, "old ISN: an after-reset event, no OPEN", consume_events(dp), 1);
	check_eq(&c, "old ISN: type", dp->events[0].type, EVENT_TCP_AFTER_RESET);
	/* ...another ISN is. */
	run_val(dp, a_to_b(PB_SYN, 777777, 0, 0, A_ID + 50), t += SEC_NS);
	check_eq(&c, "new ISN: OPEN", consume_events(dp), 1);
	check_eq(&c, "new ISN: type", dp->events[0].type, EVENT_TCP_OPEN);
	conn_key_ab(&k);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_eq(&c, "B's history gone", st.side[1].flags, 0);
	check_eq(&c, "A isn", st.side[0].isn, 777777);
	check_eq(&c, "syn_ns", st.syn_ns, t);
	check_eq(&c, "flags", st.flags, 0);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* Traffic first seen mid-connection: no handshake, established once both
 * sides have sent. */
static void test_midstream(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "midstream" };
	struct conn_state st;
	struct conn_key k;

	dp_reset(dp);
	run_val(dp, b_to_a(PB_ACK, B_SEQ, A_SEQ, 1000, B_ID), T0);
	run_val(dp, a_to_b(PB_ACK, A_SEQ, B_SEQ + 1000, 0, A_ID), T0 + MS_NS);
	conn_key_ab(&k);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_eq(&c, "initiator unknown", st.initiator, CONN_SIDE_UNKNOWN);
	check_eq(&c, "flags", st.flags, CONN_MIDSTREAM | CONN_ESTABLISHED);
	check_eq(&c, "no events", consume_events(dp), 0);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* One bucket of four ways (max_conns 4): a new connection takes an
 * empty way, else evicts a closed one, else a half-open one, else an
 * established one idle past CONN_IDLE_NS; a bucket of live established
 * connections keeps them and the newcomer goes untracked, counted. Its
 * flows are counted all the same. */
static struct pb_spec syn_from(uint16_t sport)
{
	struct pb_spec s = a_to_b(PB_SYN, A_SEQ, 0, 0, A_ID);

	s.sport = sport;
	return s;
}

static void establish_port(struct dp *dp, uint16_t sport, __u64 t)
{
	struct pb_spec synack = b_to_a(PB_SYN | PB_ACK, B_SEQ, A_SEQ + 1, 0, B_ID);
	struct pb_spec ack = a_to_b(PB_ACK, A_SEQ + 1, B_SEQ + 1, 0, A_ID + 1);

	synack.dport = sport;
	ack.sport = sport;
	run_val(dp, syn_from(sport), t);
	run_at(dp, &synack, t);
	run_at(dp, &ack, t);
}

static bool tracked(struct dp *dp, uint16_t sport)
{
	struct conn_state st;
	struct conn_key k;

	conn_key_ab(&k);
	k.port[0] = sport;
	return get_conn(dp, &k, &st) == 0;
}

static void test_table_full(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "table full" };
	struct pb_spec rst = b_to_a(PB_RST | PB_ACK, B_SEQ + 1, A_SEQ + 1, 0, 0);
	__u64 cnt[CNT__MAX];

	dp_reset(dp);
	for (int i = 0; i < 4; i++)
		establish_port(dp, 41000 + i, T0);
	run_val(dp, syn_from(42000), T0 + SEC_NS);
	run_val(dp, syn_from(42000), T0 + 2 * SEC_NS); /* retransmitted */
	check_true(&c, "full of live connections: newcomer untracked", !tracked(dp, 42000));
	sum_counters(dp, cnt);
	check_eq(&c, "CNT_CONN_TABLE_FULL", cnt[CNT_CONN_TABLE_FULL], 2);
	check_eq(&c, "CNT_CONNS_CREATED", cnt[CNT_CONNS_CREATED], 4);

	rst.dport = 41002; /* closes 41002 */
	run_at(dp, &rst, T0 + 3 * SEC_NS);
	run_val(dp, syn_from(42001), T0 + 4 * SEC_NS);
	check_true(&c, "the closed one made room", tracked(dp, 42001) && !tracked(dp, 41002));

	run_val(dp, syn_from(42002), T0 + 5 * SEC_NS);
	check_true(&c, "a half-open one goes before established ones",
		   tracked(dp, 42002) && !tracked(dp, 42001));
	check_true(&c, "established ones stay",
		   tracked(dp, 41000) && tracked(dp, 41001) && tracked(dp, 41003));

	establish_port(dp, 42003, T0 + CONN_IDLE_NS + 2 * SEC_NS);
	check_true(&c, "half-open 42002 before idle established ones",
		   tracked(dp, 42003) && !tracked(dp, 42002));
	run_val(dp, syn_from(42004), T0 + CONN_IDLE_NS + 3 * SEC_NS);
	check_true(&c, "then an idle established one (the longest idle)",
		   tracked(dp, 42004) && tracked(dp, 42003) &&
			   tracked(dp, 41000) + tracked(dp, 41001) + tracked(dp, 41003) == 2);
	sum_counters(dp, cnt);
	check_eq(&c, "CNT_CONNS_EVICTED", cnt[CNT_CONNS_EVICTED], 4);
	check_eq(&c, "CNT_FLOW_PACKETS", cnt[CNT_FLOW_PACKETS], 5 * 3 + 2 + 1 + 3);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/*
 * A flow entry remembers where its connection's way is (conn_ref), and
 * the way may change hands before the flow's next packet: 41002 is
 * closed by a RST and its way given to 42001, while 41002's flow entries
 * still point there. 41002's next packet must find that out and not
 * write its facts into 42001's history (a history mixed from two
 * connections would judge 42001's RSTs against 41002's packets). The
 * bucket is full of live connections then, so 41002 goes untracked.
 */
static void test_stale_conn_ref(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "stale conn_ref" };
	struct pb_spec rst = b_to_a(PB_RST | PB_ACK, B_SEQ + 1, A_SEQ + 1, 0, 0);
	struct pb_spec late = a_to_b(PB_ACK | PB_PSH, A_SEQ + 1, B_SEQ + 1, 700, A_ID + 9);
	struct conn_state before, after;
	struct conn_key k;
	__u64 cnt[CNT__MAX];

	dp_reset(dp);
	for (int i = 0; i < 4; i++)
		establish_port(dp, 41000 + i, T0);
	rst.dport = 41002;
	run_at(dp, &rst, T0 + SEC_NS);
	establish_port(dp, 42001, T0 + 2 * SEC_NS);
	check_true(&c, "42001 took 41002's way", tracked(dp, 42001) && !tracked(dp, 41002));
	conn_key_ab(&k);
	k.port[0] = 42001;
	assert_int_equal(get_conn(dp, &k, &before), 0);

	late.sport = 41002;
	late.ttl = A_TTL - 20;
	run_at(dp, &late, T0 + 3 * SEC_NS);
	assert_int_equal(get_conn(dp, &k, &after), 0);
	check_eq(&c, "42001's side A packets", after.side[0].packets, before.side[0].packets);
	check_eq(&c, "42001's side A payload", after.side[0].payload, 0);
	check_eq(&c, "42001's side A TTL", after.side[0].ttl_last, A_TTL);
	check_eq(&c, "42001's last_ns", after.last_ns, before.last_ns);
	check_true(&c, "41002 untracked: the bucket is full of live ones", !tracked(dp, 41002));
	sum_counters(dp, cnt);
	check_eq(&c, "CNT_CONN_TABLE_FULL", cnt[CNT_CONN_TABLE_FULL], 1);
	check_eq(&c, "CNT_CONN_REF_STALE (only a race between CPUs sets it)",
		 cnt[CNT_CONN_REF_STALE], 0);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* IPv6: the same table; hop limit is the TTL, no IP IDs. */
static void test_ipv6(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "IPv6" };
	struct pb_spec syn = { .ip = 6,
			       .proto = PB_TCP,
			       .src = "2001:db8::1",
			       .dst = "2001:db8::2",
			       .sport = 40000,
			       .dport = 443,
			       .tcp_flags = PB_SYN,
			       .seq = 5,
			       .ttl = 64 };
	struct pb_spec synack = { .ip = 6,
				  .proto = PB_TCP,
				  .src = "2001:db8::2",
				  .dst = "2001:db8::1",
				  .sport = 443,
				  .dport = 40000,
				  .tcp_flags = PB_SYN | PB_ACK,
				  .seq = 900,
				  .ack = 6,
				  .ttl = 55 };
	struct pb_spec rst = synack;

	dp_reset(dp);
	run_at(dp, &syn, T0);
	run_at(dp, &synack, T0 + MS_NS);
	rst.tcp_flags = PB_RST | PB_ACK;
	rst.seq = 901;
	rst.ttl = 60;
	run_at(dp, &rst, T0 + 2 * MS_NS);
	check_eq(&c, "events", consume_events(dp), 3);
	check_eq(&c, "RST", dp->events[2].type, EVENT_TCP_RESET);
	check_eq(&c, "RST: R6 only", dp->events[2].tcp.signals, SIG(R6_TTL));
	check_eq(&c, "RST: sender is the server (2001:db8::2 sorts second)",
		 dp->events[2].tcp.sender, 1);
	check_eq(&c, "RST: hop limit", dp->events[2].tcp.pkt.ttl, 60);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* The facts "blocked" needs: a BitTorrent handshake from each side, and
 * a piece message. */
static const char HS[] = "\x13"
			 "BitTorrent protocol"
			 "\0\0\0\0\0\x10\0\x05"
			 "0123456789abcdefghij"
			 "-XX0001-000000000000";
static const char PIECE[] = "\x00\x00\x40\x09\x07\x00\x00\x00\x01\x00\x00\x00\x00"
			    "block...";

static void test_bittorrent_facts(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "BitTorrent facts" };
	uint32_t a_seq = A_SEQ + 1, b_seq = B_SEQ + 1;
	struct pb_spec a = a_to_b(PB_ACK | PB_PSH, a_seq, b_seq, 0, A_ID + 2);
	struct pb_spec b = b_to_a(PB_ACK | PB_PSH, b_seq, a_seq, 0, B_ID + 1);
	struct conn_state st;
	struct conn_key k;
	__u64 t = T0;

	dp_reset(dp);
	/* The handshake is the first payload each way, as peers send it
	 * (recognition looks at a flow's first packets only). */
	run_val(dp, a_to_b(PB_SYN, A_SEQ, 0, 0, A_ID), t);
	run_val(dp, b_to_a(PB_SYN | PB_ACK, B_SEQ, a_seq, 0, B_ID), t += MS_NS);
	run_val(dp, a_to_b(PB_ACK, a_seq, b_seq, 0, A_ID + 1), t += MS_NS);
	a.data = HS;
	a.payload = sizeof(HS) - 1;
	run_at(dp, &a, t += MS_NS);
	conn_key_ab(&k);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_true(&c, "A handshake", st.side[0].flags & SIDE_BT_HANDSHAKE);
	check_true(&c, "B no handshake yet", !(st.side[1].flags & SIDE_BT_HANDSHAKE));
	check_true(&c, "connection is BitTorrent", st.flags & CONN_BITTORRENT);

	b.data = HS;
	b.payload = sizeof(HS) - 1;
	run_at(dp, &b, t += MS_NS);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_true(&c, "B handshake", st.side[1].flags & SIDE_BT_HANDSHAKE);
	check_true(&c, "no piece yet", !((st.side[0].flags | st.side[1].flags) & SIDE_BT_PIECE));
	b.data = PIECE;
	b.payload = sizeof(PIECE) - 1;
	b.seq += sizeof(HS) - 1;
	b.ip_id++;
	run_at(dp, &b, t += MS_NS);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_true(&c, "B piece", st.side[1].flags & SIDE_BT_PIECE);
	check_true(&c, "A no piece", !(st.side[0].flags & SIDE_BT_PIECE));
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* Only whole TCP headers reach the table: UDP, ICMP, a TCP header cut
 * short and a later fragment (no TCP header at all) make no connection
 * and no event, whatever bytes sit where TCP flags would be. */
static void test_not_tcp(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "not TCP" };
	struct pb_spec udp = { .ip = 4, .proto = PB_UDP, .sport = 1, .dport = 2, .payload = 40 };
	struct pb_spec icmp = { .ip = 6, .proto = PB_ICMPV6, .icmp_type = 128 };
	struct pb_spec cut = a_to_b(PB_SYN | PB_RST, A_SEQ, 0, 0, A_ID);
	struct pb_spec later = a_to_b(PB_RST, A_SEQ, 0, 100, A_ID);
	struct pkt p;
	__u64 cnt[CNT__MAX];

	dp_reset(dp);
	run_at(dp, &udp, T0);
	run_at(dp, &icmp, T0);
	cut.ts = false;
	pb_build(&p, &cut);
	cut.cut = p.len - 1; /* the 20-byte header, one byte short */
	run_at(dp, &cut, T0);
	later.frag = 100 / 8; /* offset 100: a later fragment */
	later.no_l4 = true;
	run_at(dp, &later, T0);
	sum_counters(dp, cnt);
	check_eq(&c, "CNT_CONNS_CREATED", cnt[CNT_CONNS_CREATED], 0);
	check_eq(&c, "CNT_TCP_RESETS", cnt[CNT_TCP_RESETS], 0);
	check_eq(&c, "events", consume_events(dp), 0);
	check_eq(&c, "CNT_FLOW_PACKETS", cnt[CNT_FLOW_PACKETS], 4);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

static void count_visit(void *ctx, const struct conn_key *key, const struct conn_state *st)
{
	(void)key;
	(void)st;
	(*(int *)ctx)++;
}

/* The daemon's sweep visits every connection and counts the open ones:
 * established, neither a RST nor FIN both ways, not idle past
 * CONN_IDLE_NS; half-open ones until CONN_IDLE_HALF_OPEN_NS. */
static void test_sweep(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "sweep" };
	struct conn_table *ct = conn_table_new(dp->conns);
	struct pb_spec rst = b_to_a(PB_RST | PB_ACK, 0, A_SEQ + 1, 0, 0);
	struct conn_sweep sw;
	__u64 t;
	int visited = 0;

	assert_non_null(ct);
	dp_reset(dp);
	t = establish(dp); /* open */
	run_val(dp, syn_from(40001), t); /* half-open */
	run_val(dp, syn_from(40002), t); /* refused: closed */
	rst.dport = 40002;
	run_at(dp, &rst, t);

	assert_int_equal(conn_table_sweep(ct, t + 20 * SEC_NS, count_visit, &visited, &sw), 0);
	check_eq(&c, "slots", sw.slots, DEFAULT_CONNS);
	check_eq(&c, "20 s: entries", sw.entries, 3);
	check_eq(&c, "20 s: open", sw.open, 1);
	check_eq(&c, "20 s: half open", sw.half_open, 1);
	check_eq(&c, "20 s: visited", visited, 3);
	/* Read without the locks (replay: no program runs meanwhile): the
	 * same connections. */
	conn_table_quiescent(ct, true);
	visited = 0;
	assert_int_equal(conn_table_sweep(ct, t + 20 * SEC_NS, count_visit, &visited, &sw), 0);
	check_eq(&c, "20 s, unlocked: entries", sw.entries, 3);
	check_eq(&c, "20 s, unlocked: open", sw.open, 1);
	check_eq(&c, "20 s, unlocked: half open", sw.half_open, 1);
	check_eq(&c, "20 s, unlocked: visited", visited, 3);
	conn_table_quiescent(ct, false);

	assert_int_equal(conn_table_sweep(ct, t + CONN_IDLE_HALF_OPEN_NS + SEC_NS, NULL, NULL, &sw),
			 0);
	check_eq(&c, "31 s: open", sw.open, 1);
	check_eq(&c, "31 s: half open", sw.half_open, 0);
	assert_int_equal(conn_table_sweep(ct, t + CONN_IDLE_NS + SEC_NS, NULL, NULL, &sw), 0);
	check_eq(&c, "301 s: open", sw.open, 0);
	check_eq(&c, "301 s: entries (only the datapath evicts)", sw.entries, 3);
	conn_table_free(ct);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- two CPUs, one connection -------------------------------------- */

#define RACE_REPEAT 200000
#define RACE_PAYLOAD 100

struct race_worker {
	const struct dp *dp;
	int cpu;
	struct pkt frame;
	unsigned int repeat; /* 0: RACE_REPEAT */
	pthread_t thread;
	int err;
};

static void *race_main(void *arg)
{
	struct race_worker *w = arg;
	cpu_set_t set;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = w->frame.b, .data_size_in = w->frame.len,
		    .repeat = w->repeat ? w->repeat : RACE_REPEAT);

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	w->dp->skel->bss->replay_wire_bytes = w->frame.len;
	w->err = -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (!w->err)
		w->err = bpf_prog_test_run_opts(w->dp->prog, &o);
	return NULL;
}

/*
 * The bucket lock, proved by counting: two CPUs run the same side's
 * packet at once, RACE_REPEAT times each. Every read-modify-write of the
 * entry is under the lock, so the side's packet and byte counts are
 * exact; without the lock the two CPUs' increments collide and some are
 * lost (the test then fails by thousands).
 */
static void test_two_cpus(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "two CPUs" };
	struct race_worker w[2];
	struct pb_spec data = a_to_b(PB_ACK, A_SEQ, B_SEQ, RACE_PAYLOAD, A_ID);
	struct conn_state st;
	struct conn_key k;

	if (ncpus < 2)
		skip();
	dp_reset(dp);
	data.ts = false;
	for (int i = 0; i < 2; i++) {
		w[i] = (struct race_worker){ .dp = dp, .cpu = i };
		pb_build(&w[i].frame, &data);
		assert_int_equal(pthread_create(&w[i].thread, NULL, race_main, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].thread, NULL);
		assert_int_equal(w[i].err, 0);
	}
	conn_key_ab(&k);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_eq(&c, "A's packets", st.side[0].packets, 2 * RACE_REPEAT);
	check_eq(&c, "A's payload", st.side[0].payload, 2ull * RACE_REPEAT * RACE_PAYLOAD);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/*
 * Two CPUs, the two directions of one connection: A's ACKs on one, B's
 * genuine RSTs (at B's snd_max, its next IP ID, its TTL) on the other,
 * at once. Whatever order the lock puts them in, every RST is judged
 * against a history it fits: an event may be lost (ring full), a signal
 * must never appear; A's packets are counted exactly.
 */
#define RACE_RSTS 20000
static void test_two_cpus_two_sides(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "two CPUs, two sides" };
	struct race_worker w[2];
	struct pb_spec ack = a_to_b(PB_ACK, A_SND_MAX, B_SND_MAX, 0, A_LAST_ID + 1);
	struct pb_spec rst = b_to_a(PB_RST | PB_ACK, B_SND_MAX, A_SND_MAX, 0, B_LAST_ID + 1);
	struct conn_state st;
	struct conn_key k;
	__u32 a_before;
	int flagged = 0;

	if (ncpus < 2)
		skip();
	dp_reset(dp);
	establish(dp);
	consume_events(dp);
	conn_key_ab(&k);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	a_before = st.side[0].packets;
	ack.ts = false;
	rst.ts = false;
	w[0] = (struct race_worker){ .dp = dp, .cpu = 0, .repeat = RACE_REPEAT };
	w[1] = (struct race_worker){ .dp = dp, .cpu = 1, .repeat = RACE_RSTS };
	pb_build(&w[0].frame, &ack);
	pb_build(&w[1].frame, &rst);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&w[i].thread, NULL, race_main, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].thread, NULL);
		assert_int_equal(w[i].err, 0);
	}
	consume_events(dp);
	/* The first MAX_EVENTS are kept: RSTs judged while A's ACKs ran. */
	for (size_t i = 0; i < dp->n_events && i < MAX_EVENTS; i++)
		if (dp->events[i].type == EVENT_TCP_RESET && dp->events[i].tcp.signals)
			flagged++;
	check_true(&c, "RST events seen", dp->n_events > 0);
	check_eq(&c, "RSTs with a signal", flagged, 0);
	assert_int_equal(get_conn(dp, &k, &st), 0);
	check_eq(&c, "A's packets", st.side[0].packets, a_before + RACE_REPEAT);
	check_eq(&c, "B's RSTs (saturating)", st.side[1].rst_count, 255);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

static int setup_replay(void **state)
{
	return setup_with(state, (struct dp_opts){ .replay_clock = true });
}

static int setup_small_table(void **state)
{
	return setup_with(state, (struct dp_opts){ .replay_clock = true, .max_conns = CONN_WAYS });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_rst_signals, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_rst_keeps_history, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_after_reset, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_rst_without_history, setup_replay,
						teardown_dp),
		cmocka_unit_test_setup_teardown(test_new_incarnation, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_midstream, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_table_full, setup_small_table, teardown_dp),
		cmocka_unit_test_setup_teardown(test_stale_conn_ref, setup_small_table, teardown_dp),
		cmocka_unit_test_setup_teardown(test_ipv6, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_bittorrent_facts, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_not_tcp, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_sweep, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_two_cpus, setup_replay, teardown_dp),
		cmocka_unit_test_setup_teardown(test_two_cpus_two_sides, setup_replay, teardown_dp),
	};

	if (fixture_init())
		return 1;
	return cmocka_run_group_tests_name("connection table", tests, NULL, NULL);
}
