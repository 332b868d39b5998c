// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Verdicts on TCP resets from the datapath's events (docs/detection.md,
 * "Forged reset detection"). Each RST is held RESET_HOLD_NS of probe time so
 * that what only later packets can show (data after the reset, a RST from the
 * other side, a SYN-ACK after the RST, silence) counts; at decision the
 * signals that need more than one packet are worked out against every other
 * RST the connection's record holds, and the verdict is given. A record lives
 * from a connection's first RST until all its RSTs are decided and none came
 * for RESET_HOLD_NS; then its summary is reported and it is forgotten.
 *
 * Records sit in a fixed pool of max_connections, found through an open-
 * addressing index (linear probing, backward-shift deletion so no
 * tombstones pile up) and chained oldest-first so that the record to give
 * up when the pool is full, and the walk of the tick, are cheap. Only
 * connections with a RST in the last few seconds have a record, so the
 * tick's walk over all of them stays short.
 *
 * Where the rules of the design would accuse an honest stack, they are
 * narrowed, and each narrowing says why at its rule: missing a forgery is
 * preferred to accusing a stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "detect/reset_analysis.h"
#include "lib/hash.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define NIL UINT32_MAX

/* One RST of a record: the event as it came, and once decided its signals. */
struct held_rst {
	struct event ev;
	uint32_t signals;
	bool decided;
};

/* The first new data a side sent after its RST (R1). */
struct new_data {
	bool seen;
	uint64_t ns;
	uint32_t seq_end; /* seq + payload (+1 for FIN) */
};

struct conn_rec {
	struct conn_key key;
	uint64_t hash;
	uint32_t older, newer; /* creation order; NIL at the ends */
	struct held_rst *rst; /* arrival order (probe clock per connection) */
	uint32_t n, cap;
	uint32_t undecided;

	struct conn_report sum;
	bool bt_evidence; /* a suspect/forged RST after both handshakes */

	/* The newest snapshot of each side and of the connection, from any
	 * event: what blocked is judged on. */
	struct conn_side side[2];
	uint8_t conn_flags;

	struct new_data new_data[2];
	uint64_t after_pkt_ns; /* last after-reset event (not a RST) */
	/* R11: the responder's SYN-ACK after its RST, how many packets
	 * the initiator had sent then (a retransmitted SYN in between means
	 * the SYN-ACK answered another transmission), and its ISN. */
	uint64_t accept_ns[2]; /* 0: none */
	uint32_t accept_peer_packets[2];
	uint32_t accept_isn[2];
};

struct reset_analysis {
	struct reset_analysis_config cfg;
	struct reset_analysis_stats stats;
	struct conn_rec *recs; /* pool of max_connections */
	uint32_t *index; /* slot -> record + 1; 0 empty */
	uint32_t index_mask;
	uint32_t free_head; /* freed records chained through .newer */
	/* Records from here on were never used: taken in order once no freed
	 * one is left (the order a free list of all of them would give),
	 * so a new analysis leaves the pool's pages untouched (calloc) until
	 * connections need them; `replay --each` makes one per capture. */
	uint32_t fresh;
	uint32_t oldest, newest;
	size_t live;
};

/* ---- names --------------------------------------------------------------- */

const char *reset_verdict_name(enum reset_verdict v)
{
	switch (v) {
	case VERDICT_GENUINE:
		return "genuine";
	case VERDICT_SUSPECT:
		return "suspect";
	case VERDICT_FORGED:
		return "forged";
	}
	return "unknown";
}

const char *reset_signal_name(enum reset_signal s)
{
	static const char *const names[RESET_SIGNAL__MAX] = {
		[R1_DATA_AFTER_RESET] = "R1",
		[R2_BEHIND_SENT_DATA] = "R2",
		[R3_SEQ_JUMP] = "R3",
		[R4_ACK_CHANGE] = "R4",
		[R5_AHEAD] = "R5",
		[R6_TTL] = "R6",
		[R7_IP_ID] = "R7",
		[R8_WINDOW] = "R8",
		[R9_TIMESTAMP] = "R9",
		[R10_BOTH_DIRECTIONS] = "R10",
		[R11_HANDSHAKE_RACE] = "R11",
		[R12_CONNECTION_DIED] = "R12",
	};

	if ((int)s <= 0 || s >= RESET_SIGNAL__MAX)
		return "?";
	return names[s];
}

/*
 * One false accusation in a published report costs more than ten missed
 * forgeries: only what no honest stack produces convicts alone, and weak
 * signals convict only in numbers honest traffic did not reach on the
 * development corpus (docs/detection.md, "The verdict rule").
 */
enum reset_verdict reset_verdict_of(uint32_t signals)
{
	int weak = __builtin_popcount(signals & RESET_WEAK_SIGNALS);

	if ((signals & RESET_PROOF_SIGNALS) || weak >= RESET_FORGED_WEAK)
		return VERDICT_FORGED;
	return weak ? VERDICT_SUSPECT : VERDICT_GENUINE;
}

/* ---- keys ---------------------------------------------------------------- */

void conn_key_of_flow(struct conn_key *out, const struct flow_key *key)
{
	int c = memcmp(key->src, key->dst, sizeof(key->src));
	bool src_low = c < 0 || (c == 0 && key->sport <= key->dport);

	memset(out, 0, sizeof(*out));
	out->ip_version = key->ip_version;
	memcpy(out->addr[src_low ? 0 : 1], key->src, 16);
	memcpy(out->addr[src_low ? 1 : 0], key->dst, 16);
	out->port[src_low ? 0 : 1] = key->sport;
	out->port[src_low ? 1 : 0] = key->dport;
}

static uint64_t key_hash(const struct conn_key *k)
{
	return hash_bytes(k, sizeof(*k));
}

/* ---- the record pool and its index ---------------------------------------- */

struct reset_analysis *reset_analysis_new(const struct reset_analysis_config *cfg)
{
	struct reset_analysis *ra = calloc(1, sizeof(*ra));
	size_t max = cfg->max_connections ? cfg->max_connections : RESET_DEFAULT_MAX_CONNECTIONS;
	size_t slots = 2;

	if (!ra)
		return NULL;
	if (max > UINT32_MAX / 4)
		max = UINT32_MAX / 4;
	ra->cfg = *cfg;
	ra->cfg.max_connections = max;
	/* At most half full: linear probing stays short. */
	while (slots < 2 * max)
		slots *= 2;
	ra->recs = calloc(max, sizeof(*ra->recs));
	ra->index = calloc(slots, sizeof(*ra->index));
	if (!ra->recs || !ra->index) {
		reset_analysis_free(ra);
		return NULL;
	}
	ra->index_mask = slots - 1;
	ra->free_head = NIL;
	ra->oldest = ra->newest = NIL;
	return ra;
}

void reset_analysis_free(struct reset_analysis *ra)
{
	if (!ra)
		return;
	if (ra->recs)
		for (uint32_t i = ra->oldest; i != NIL; i = ra->recs[i].newer)
			free(ra->recs[i].rst);
	free(ra->recs);
	free(ra->index);
	free(ra);
}

const struct reset_analysis_stats *reset_analysis_stats(const struct reset_analysis *ra)
{
	return &ra->stats;
}

/* The index slot holding key, or the empty slot where it would go. */
static uint32_t index_slot(const struct reset_analysis *ra, const struct conn_key *key,
			   uint64_t hash)
{
	uint32_t s = hash & ra->index_mask;

	while (ra->index[s]) {
		const struct conn_rec *r = &ra->recs[ra->index[s] - 1];

		if (r->hash == hash && !memcmp(&r->key, key, sizeof(*key)))
			return s;
		s = (s + 1) & ra->index_mask;
	}
	return s;
}

static struct conn_rec *lookup(struct reset_analysis *ra, const struct conn_key *key)
{
	uint32_t s = index_slot(ra, key, key_hash(key));

	return ra->index[s] ? &ra->recs[ra->index[s] - 1] : NULL;
}

/*
 * Empties slot s and moves later entries of its probe run back, so that
 * every entry stays reachable from its home slot without tombstones.
 */
static void index_delete(struct reset_analysis *ra, uint32_t s)
{
	uint32_t mask = ra->index_mask, j = s;

	for (;;) {
		j = (j + 1) & mask;
		if (!ra->index[j])
			break;
		uint32_t home = ra->recs[ra->index[j] - 1].hash & mask;
		/* j's entry may fill the hole unless its home lies in (s, j]. */
		bool home_between = s <= j ? (home > s && home <= j) : (home > s || home <= j);
		if (!home_between) {
			ra->index[s] = ra->index[j];
			s = j;
		}
	}
	ra->index[s] = 0;
}

static void forget(struct reset_analysis *ra, struct conn_rec *r)
{
	uint32_t id = r - ra->recs;

	index_delete(ra, index_slot(ra, &r->key, r->hash));
	if (r->older != NIL)
		ra->recs[r->older].newer = r->newer;
	else
		ra->oldest = r->newer;
	if (r->newer != NIL)
		ra->recs[r->newer].older = r->older;
	else
		ra->newest = r->older;
	free(r->rst);
	memset(r, 0, sizeof(*r));
	r->newer = ra->free_head;
	ra->free_head = id;
	ra->live--;
	ra->stats.connections_held = ra->live;
}

static struct conn_rec *create(struct reset_analysis *ra, const struct conn_key *key, uint64_t hash)
{
	uint32_t id = ra->free_head, s;
	struct conn_rec *r;

	if (id != NIL)
		ra->free_head = ra->recs[id].newer;
	else if (ra->fresh < ra->cfg.max_connections)
		id = ra->fresh++;
	else
		return NULL;
	r = &ra->recs[id];
	memset(r, 0, sizeof(*r));
	r->key = *key;
	r->hash = hash;
	r->older = ra->newest;
	r->newer = NIL;
	if (ra->newest != NIL)
		ra->recs[ra->newest].newer = id;
	else
		ra->oldest = id;
	ra->newest = id;
	s = index_slot(ra, key, hash);
	ra->index[s] = id + 1;
	ra->live++;
	ra->stats.connections_held = ra->live;
	return r;
}

/* ---- arithmetic ---------------------------------------------------------- */

/* RFC 1982 serial comparison: a after b. */
static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static uint64_t abs_diff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* The handshake RTT at the probe: SYN -> SYN-ACK plus SYN-ACK -> ACK. */
static uint64_t rtt_of(const struct tcp_event *t)
{
	if (!t->syn_ns || !t->synack_ns || !t->ack_ns || t->synack_ns < t->syn_ns ||
	    t->ack_ns < t->synack_ns)
		return 0;
	return (t->synack_ns - t->syn_ns) + (t->ack_ns - t->synack_ns);
}

static bool has_ack(const struct event *ev)
{
	return ev->tcp.pkt.tcp_flags & TCP_ACK;
}

/* ---- the signals that need more than one packet --------------------------- */

/*
 * R1: the RST's sender later sent new data beyond this RST's seq (the
 * datapath's bit says beyond its first RST; checking each RST's own seq
 * keeps a retransmission below a later RST from counting).
 */
static bool reply_shaped(const struct held_rst *x);

static bool sig_r1(const struct conn_rec *r, const struct held_rst *x)
{
	const struct new_data *nd = &r->new_data[x->ev.tcp.sender & 1];

	/* A RST without ACK whose seq is an ack the peer sent is a stack's
	 * answer to a stray segment (RFC 793: seq = the segment's ack), in
	 * the peer's idea of the sequence space, not the sender's: a client
	 * answering a bogus ACK to its SYN this way, then retrying the SYN
	 * and carrying on (suricata's tls-subjectaltname), is honest. */
	if (reply_shaped(x))
		return false;

	return nd->seen && nd->ns >= x->ev.time_ns && seq_after(nd->seq_end, x->ev.tcp.pkt.seq);
}

/*
 * R3: x is the later of two RSTs from one side within RESET_SEQ_JUMP_NS,
 * its seq stepped past the earlier one, past anything the side sent and
 * past anything the other side acked. Only the later RST gets it: the
 * earlier one's seq is consistent with the stack's state, the later one's
 * is not explained by anything. Both sides must have been seen sending,
 * or the seq could be explained by packets the probe missed.
 */
static bool sig_r3(const struct conn_rec *r, const struct held_rst *x)
{
	const struct tcp_event *xt = &x->ev.tcp;

	if (!(xt->snd.flags & SIDE_SEEN) || !(xt->rcv.flags & SIDE_SEEN))
		return false;
	if (!seq_after(xt->pkt.seq, xt->snd.snd_max) ||
	    !seq_after(xt->pkt.seq, xt->rcv.max_ack + 2))
		return false;
	for (const struct held_rst *y = r->rst; y < x; y++) {
		if (y->ev.tcp.sender != xt->sender ||
		    x->ev.time_ns - y->ev.time_ns > RESET_SEQ_JUMP_NS)
			continue;
		if (seq_after(xt->pkt.seq, y->ev.tcp.pkt.seq + 2))
			return true;
	}
	return false;
}

/*
 * R4: two RSTs from one side with no packet from the other side between
 * them (a volley no packet triggered), and with header fields one stack
 * cannot put into two RSTs of one connection:
 * - both with ACK, different acks. A RST without ACK is a stack's answer
 *   to a segment for a dead socket and never counts here. Without the
 *   narrowing, the second RST may be an honest answer to the packet
 *   between (a stack refusing a SYN retransmitted with a new ISN, or one
 *   answering each segment with RST|ACK).
 * - different windows, neither 0. Stacks write 0 into RSTs (Linux,
 *   Windows, any stack answering for a dead socket); a BSD-style stack
 *   resetting its own connection writes its receive window, once, as the
 *   connection is gone after that RST. An injector stamping each RST of a
 *   burst with a window of its own (the Great Firewall's RST|ACK bursts:
 *   windows stepping by one, the IP ID derived from the window) does.
 */
static bool sig_r4(const struct conn_rec *r, const struct held_rst *x)
{
	const struct tcp_event *xt = &x->ev.tcp;

	for (uint32_t i = 0; i < r->n; i++) {
		const struct held_rst *y = &r->rst[i];
		const struct tcp_event *yt = &y->ev.tcp;

		if (y == x || yt->sender != xt->sender || yt->rcv.packets != xt->rcv.packets)
			continue;
		if (has_ack(&x->ev) && has_ack(&y->ev) && yt->pkt.ack != xt->pkt.ack)
			return true;
		if (xt->pkt.window && yt->pkt.window && yt->pkt.window != xt->pkt.window)
			return true;
	}
	return false;
}

/*
 * A RST without ACK whose seq is at or below an ack the other side sent:
 * the shape of a stack's answer to a segment for a dead socket (RFC 793:
 * seq = the segment's ack). An application abort answers each in-flight
 * segment like this right after its RST|ACK, so these never make a burst.
 */
static bool reply_shaped(const struct held_rst *x)
{
	const struct tcp_event *t = &x->ev.tcp;

	return !has_ack(&x->ev) && (t->rcv.flags & SIDE_SEEN) &&
	       !seq_after(t->pkt.seq, t->rcv.max_ack);
}

/*
 * R5 burst: RESET_BURST_COUNT or more RSTs from one side within
 * RESET_BURST_NS with no packet from the other side between the first and
 * the last (its packet count unchanged). Every RST of such a run gets R5.
 */
static bool sig_r5_burst(const struct conn_rec *r, const struct held_rst *x)
{
	const struct held_rst *run[RESET_MAX_PER_CONN];
	uint32_t n = 0;

	if (reply_shaped(x))
		return false;
	for (uint32_t i = 0; i < r->n; i++) {
		const struct held_rst *y = &r->rst[i];

		if (y->ev.tcp.sender == x->ev.tcp.sender && !reply_shaped(y))
			run[n++] = y;
	}
	for (uint32_t i = 0; i + RESET_BURST_COUNT <= n; i++) {
		const struct held_rst *a = run[i];
		const struct held_rst *b = run[i + RESET_BURST_COUNT - 1];

		if (x < a || x > b)
			continue;
		if (b->ev.time_ns - a->ev.time_ns <= RESET_BURST_NS &&
		    a->ev.tcp.rcv.packets == b->ev.tcp.rcv.packets)
			return true;
	}
	return false;
}

/* R6 between RSTs: two RSTs from one side with different TTLs. */
static bool sig_r6_pair(const struct conn_rec *r, const struct held_rst *x)
{
	for (uint32_t i = 0; i < r->n; i++) {
		const struct held_rst *y = &r->rst[i];

		if (y != x && y->ev.tcp.sender == x->ev.tcp.sender &&
		    y->ev.tcp.pkt.ttl != x->ev.tcp.pkt.ttl)
			return true;
	}
	return false;
}

/*
 * R7 between RSTs: two RSTs of one side with the same non-zero IP ID.
 * No stack gives two datagrams one ID (IPv4 IDs are per packet, and a
 * stack that zeroes them under DF sends 0); an injector with a fixed ID,
 * the Great Firewall's first fingerprint, does. IPv6 has no ID (0).
 */
static bool sig_r7_pair(const struct conn_rec *r, const struct held_rst *x)
{
	if (!x->ev.tcp.pkt.ip_id)
		return false;
	for (uint32_t i = 0; i < r->n; i++) {
		const struct held_rst *y = &r->rst[i];

		if (y != x && y->ev.tcp.sender == x->ev.tcp.sender &&
		    y->ev.tcp.pkt.ip_id == x->ev.tcp.pkt.ip_id)
			return true;
	}
	return false;
}

/* No packet other than RSTs either way for RESET_STALE_NS before t. */
static bool idle_before(const struct tcp_event *t, uint64_t at_ns)
{
	uint64_t last = t->snd.last_ns > t->rcv.last_ns ? t->snd.last_ns : t->rcv.last_ns;

	return !last || last + RESET_STALE_NS < at_ns;
}

/*
 * R10: RSTs from both sides closer than RTT / RESET_BOTH_RTT_DIVISOR (or
 * RESET_BOTH_NO_RTT_NS without a handshake): no stack answers a RST with
 * a RST. Narrowed: after a long idle both ways, resets in both directions
 * are a middlebox timing out its state, which the design calls normal.
 */
static bool sig_r10(const struct conn_rec *r, const struct held_rst *x)
{
	for (uint32_t i = 0; i < r->n; i++) {
		const struct held_rst *y = &r->rst[i];
		const struct held_rst *early;
		uint64_t rtt, limit;

		if (y->ev.tcp.sender == x->ev.tcp.sender)
			continue;
		rtt = rtt_of(&x->ev.tcp);
		if (rtt_of(&y->ev.tcp) > rtt)
			rtt = rtt_of(&y->ev.tcp);
		limit = rtt ? rtt / RESET_BOTH_RTT_DIVISOR : RESET_BOTH_NO_RTT_NS;
		early = y->ev.time_ns < x->ev.time_ns ? y : x;
		if (abs_diff(x->ev.time_ns, y->ev.time_ns) < limit &&
		    !idle_before(&early->ev.tcp, early->ev.time_ns))
			return true;
	}
	return false;
}

/*
 * R11: the responder refused the initiator's SYN (RST|ACK acking its ISN)
 * and also accepted it (a SYN-ACK before the RST, or after it). Narrowed:
 * once the initiator has acked the SYN-ACK the handshake is over, and a
 * RST acking only the SYN is an honest abort of a connection that carried
 * nothing (a listener closed before accept()), not a race. And a RST
 * whose seq continues the SYN-ACK's (its ISN + 1) comes from the stack
 * that sent the SYN-ACK, giving up after its retries (nDPI's gnutella
 * capture has servers doing so 90 s later); an injector does not know
 * that ISN.
 */
static bool sig_r11(const struct conn_rec *r, const struct held_rst *x)
{
	const struct tcp_event *t = &x->ev.tcp;

	if (t->initiator == CONN_SIDE_UNKNOWN || t->sender == t->initiator)
		return false;
	if (!has_ack(&x->ev) || !(t->rcv.flags & SIDE_SYN) || t->pkt.ack != t->rcv.isn + 1 ||
	    (t->conn_flags & CONN_ESTABLISHED))
		return false;
	if (t->conn_flags & CONN_SYNACK)
		return !(t->snd.flags & SIDE_SYN) || t->pkt.seq != t->snd.isn + 1;
	/* The SYN-ACK came after the RST: it must answer the same SYN
	 * transmission. A SYN retransmitted in between would be a client
	 * that never got the refusal trying again, and a service that came
	 * up meanwhile accepting it. */
	return r->accept_ns[t->sender & 1] >= x->ev.time_ns &&
	       r->accept_peer_packets[t->sender & 1] == t->rcv.packets &&
	       t->pkt.seq != r->accept_isn[t->sender & 1] + 1;
}

struct died_probe {
	bool asked;
	int err;
	struct conn_state st;
};

/*
 * R12: no packet either way in (RST + RESET_DIED_GRACE_NS, now]. Unknown
 * (not set) before that window has begun. Without a table lookup, the
 * after-reset events are the only news of later packets, and the
 * datapath reports each side's first one only: when one was reported
 * before this RST, later packets would pass unreported, so nothing is
 * claimed; one after this RST, even inside the grace, shows the
 * connection lived on.
 */
static bool sig_r12(struct reset_analysis *ra, const struct conn_rec *r, const struct held_rst *x,
		    uint64_t now_ns, struct died_probe *p)
{
	uint64_t t = x->ev.time_ns, last;

	if (now_ns <= t + RESET_DIED_GRACE_NS)
		return false;
	if (ra->cfg.conn_lookup) {
		if (!p->asked) {
			p->asked = true;
			p->err = ra->cfg.conn_lookup(ra->cfg.ctx, &r->key, &p->st);
		}
		if (p->err == -ENOENT)
			return true;
		if (p->err)
			return false;
		last = p->st.side[0].last_ns > p->st.side[1].last_ns ? p->st.side[0].last_ns :
								       p->st.side[1].last_ns;
		return last <= t + RESET_DIED_GRACE_NS;
	}
	if (x->ev.tcp.snd.after_rst || x->ev.tcp.rcv.after_rst)
		return false;
	return r->after_pkt_ns <= t;
}

/* ---- decisions and reports ------------------------------------------------ */

static bool both_handshakes(const struct conn_side *a, const struct conn_side *b)
{
	return (a->flags & SIDE_BT_HANDSHAKE) && (b->flags & SIDE_BT_HANDSHAKE);
}

static void decide(struct reset_analysis *ra, struct conn_rec *r, struct held_rst *x,
		   uint64_t now_ns, struct died_probe *p)
{
	const struct tcp_event *t = &x->ev.tcp;
	struct reset_report rep;
	uint32_t s = t->signals;

	if (sig_r1(r, x))
		s |= RESET_SIGNAL_BIT(R1_DATA_AFTER_RESET);
	if (sig_r3(r, x))
		s |= RESET_SIGNAL_BIT(R3_SEQ_JUMP);
	if (sig_r4(r, x))
		s |= RESET_SIGNAL_BIT(R4_ACK_CHANGE);
	if (sig_r5_burst(r, x))
		s |= RESET_SIGNAL_BIT(R5_AHEAD);
	if (sig_r6_pair(r, x))
		s |= RESET_SIGNAL_BIT(R6_TTL);
	if (sig_r7_pair(r, x))
		s |= RESET_SIGNAL_BIT(R7_IP_ID);
	if (sig_r10(r, x))
		s |= RESET_SIGNAL_BIT(R10_BOTH_DIRECTIONS);
	if (sig_r11(r, x))
		s |= RESET_SIGNAL_BIT(R11_HANDSHAKE_RACE);
	if (sig_r12(ra, r, x, now_ns, p))
		s |= RESET_SIGNAL_BIT(R12_CONNECTION_DIED);

	x->signals = s;
	x->decided = true;
	r->undecided--;

	memset(&rep, 0, sizeof(rep));
	rep.ev = x->ev;
	rep.signals = s;
	rep.verdict = reset_verdict_of(s);
	rep.established = t->conn_flags & CONN_ESTABLISHED;
	rep.bittorrent = t->conn_flags & CONN_BITTORRENT;
	rep.rtt_ns = rtt_of(t);

	ra->stats.resets++;
	r->sum.resets++;
	r->sum.signals |= s;
	if (rep.verdict > r->sum.verdict)
		r->sum.verdict = rep.verdict;
	if (rep.established)
		r->sum.established = true;
	if (rep.bittorrent)
		r->sum.bittorrent = true;
	switch (rep.verdict) {
	case VERDICT_FORGED:
		ra->stats.forged++;
		r->sum.forged++;
		break;
	case VERDICT_SUSPECT:
		ra->stats.suspect++;
		r->sum.suspect++;
		break;
	case VERDICT_GENUINE:
		ra->stats.genuine++;
		break;
	}
	if (rep.verdict != VERDICT_GENUINE && both_handshakes(&t->snd, &t->rcv))
		r->bt_evidence = true;
	if (ra->cfg.on_reset)
		ra->cfg.on_reset(ra->cfg.ctx, &rep);
}

/*
 * Blocked (Glasnost's passive analogue): both handshakes seen, a RST with
 * evidence (suspect or forged) after them, and, as the connection stands
 * last, no piece and no FIN from either side. Judged per RST rather than
 * on the worst verdict alone, so a suspect RST before the handshake does
 * not make a later honest one look like blocking.
 */
static bool blocked(const struct conn_rec *r)
{
	uint8_t both = r->side[0].flags | r->side[1].flags;

	return r->bt_evidence && both_handshakes(&r->side[0], &r->side[1]) &&
	       !(both & (SIDE_BT_PIECE | SIDE_FIN));
}

static void report_connection(struct reset_analysis *ra, struct conn_rec *r)
{
	r->sum.key = r->key;
	r->sum.blocked = blocked(r);
	ra->stats.connections++;
	if (r->sum.blocked)
		ra->stats.blocked++;
	if (ra->cfg.on_connection)
		ra->cfg.on_connection(ra->cfg.ctx, &r->sum);
}

/* Decides every RST still held, reports the connection, forgets it. */
static void close_record(struct reset_analysis *ra, struct conn_rec *r, uint64_t now_ns)
{
	struct died_probe p = { 0 };

	for (uint32_t i = 0; i < r->n; i++)
		if (!r->rst[i].decided)
			decide(ra, r, &r->rst[i], now_ns, &p);
	report_connection(ra, r);
	forget(ra, r);
}

/* ---- events --------------------------------------------------------------- */

/* The newest picture of the connection, whichever side's packet it came with. */
static void note_snapshot(struct conn_rec *r, const struct event *ev)
{
	uint8_t s = ev->tcp.sender & 1;

	r->side[s] = ev->tcp.snd;
	r->side[s ^ 1] = ev->tcp.rcv;
	r->conn_flags = ev->tcp.conn_flags;
}

static struct conn_rec *record_for_reset(struct reset_analysis *ra, const struct event *ev)
{
	struct conn_key key;
	uint64_t hash;
	uint32_t s;

	conn_key_of_flow(&key, &ev->key);
	hash = key_hash(&key);
	s = index_slot(ra, &key, hash);
	if (ra->index[s])
		return &ra->recs[ra->index[s] - 1];
	if (ra->live >= ra->cfg.max_connections) {
		/* Over the bound: the oldest record is decided now, with the
		 * evidence it has, rather than refusing the new one. */
		close_record(ra, &ra->recs[ra->oldest], ev->time_ns);
		ra->stats.connections_dropped++;
	}
	return create(ra, &key, hash);
}

static void on_reset_event(struct reset_analysis *ra, const struct event *ev)
{
	struct conn_rec *r = record_for_reset(ra, ev);
	struct held_rst *x;

	if (!r)
		return;
	if (r->n == RESET_MAX_PER_CONN) {
		/* A flood on one connection: the oldest RST is decided early
		 * (if still held) and leaves the window later RSTs are
		 * compared with, so memory per connection stays bounded. */
		struct died_probe p = { 0 };

		if (!r->rst[0].decided) {
			decide(ra, r, &r->rst[0], ev->time_ns, &p);
			ra->stats.resets_early++;
		}
		memmove(r->rst, r->rst + 1, (r->n - 1) * sizeof(*r->rst));
		r->n--;
	}
	if (r->n == r->cap) {
		uint32_t cap = r->cap ? 2 * r->cap : 2;
		struct held_rst *grown;

		if (cap > RESET_MAX_PER_CONN)
			cap = RESET_MAX_PER_CONN;
		grown = realloc(r->rst, cap * sizeof(*grown));
		if (!grown) {
			ra->stats.resets_lost++;
			if (!r->n && !r->sum.resets)
				forget(ra, r);
			return;
		}
		r->rst = grown;
		r->cap = cap;
	}
	x = &r->rst[r->n++];
	memset(x, 0, sizeof(*x));
	x->ev = *ev;
	r->undecided++;
	if (r->sum.resets + r->undecided == 1) {
		r->sum.first_rst = ev->key;
		r->sum.first_rst_ns = ev->time_ns;
	}
	r->sum.last_rst_ns = ev->time_ns;
	note_snapshot(r, ev);
}

static void on_after_reset(struct conn_rec *r, const struct event *ev)
{
	const struct tcp_packet_facts *pkt = &ev->tcp.pkt;
	uint8_t s = ev->tcp.sender & 1;

	note_snapshot(r, ev);
	/* A RST is no sign of life (R12 counts packets other than RSTs). */
	if (pkt->tcp_flags & TCP_RST)
		return;
	r->after_pkt_ns = ev->time_ns;
	/* A SYN is a new connection on the same ports, not data after the
	 * reset: its ISN says nothing about the old sequence space. */
	if ((ev->kind & AFTER_RST_NEW_DATA) && !(pkt->tcp_flags & TCP_SYN) &&
	    !r->new_data[s].seen) {
		r->new_data[s].seen = true;
		r->new_data[s].ns = ev->time_ns;
		r->new_data[s].seq_end =
			pkt->seq + pkt->payload_len + ((pkt->tcp_flags & TCP_FIN) ? 1 : 0);
	}
}

static void on_accept(struct conn_rec *r, const struct event *ev)
{
	uint8_t s = ev->tcp.sender & 1;

	note_snapshot(r, ev);
	if ((ev->tcp.snd.flags & SIDE_RST) && !r->accept_ns[s]) {
		r->accept_ns[s] = ev->time_ns;
		r->accept_peer_packets[s] = ev->tcp.rcv.packets;
		r->accept_isn[s] = ev->tcp.pkt.seq;
	}
	/* The SYN-ACK may also be this side's first packet after a RST. */
	if (ev->kind)
		on_after_reset(r, ev);
}

void reset_analysis_event(struct reset_analysis *ra, const struct event *ev)
{
	struct conn_key key;
	struct conn_rec *r;

	if (ev->key.proto != 6)
		return;
	if (ev->type == EVENT_TCP_RESET) {
		on_reset_event(ra, ev);
		return;
	}
	if (ev->type != EVENT_TCP_AFTER_RESET && ev->type != EVENT_TCP_ACCEPT)
		return;
	/* Only connections with a RST held have a record; for the rest these
	 * events carry nothing a verdict needs. */
	conn_key_of_flow(&key, &ev->key);
	r = lookup(ra, &key);
	if (!r)
		return;
	if (ev->type == EVENT_TCP_AFTER_RESET)
		on_after_reset(r, ev);
	else
		on_accept(r, ev);
}

void reset_analysis_tick(struct reset_analysis *ra, uint64_t now_ns)
{
	uint32_t id = ra->oldest;

	while (id != NIL) {
		struct conn_rec *r = &ra->recs[id];
		struct died_probe p = { 0 };

		id = r->newer; /* r may be forgotten below */
		for (uint32_t i = 0; i < r->n && r->undecided; i++) {
			struct held_rst *x = &r->rst[i];

			if (!x->decided && x->ev.time_ns + RESET_HOLD_NS <= now_ns)
				decide(ra, r, x, now_ns, &p);
		}
		if (!r->undecided && r->sum.last_rst_ns + RESET_HOLD_NS <= now_ns) {
			report_connection(ra, r);
			forget(ra, r);
		}
	}
}

void reset_analysis_finish(struct reset_analysis *ra, uint64_t now_ns)
{
	while (ra->oldest != NIL)
		close_record(ra, &ra->recs[ra->oldest], now_ns);
}
