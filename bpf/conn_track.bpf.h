/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The connection table: what forged-reset detection needs to know about
 * each TCP connection, both directions together (docs/architecture.md,
 * "Connection table"), and the TCP events the daemon judges resets from.
 *
 * Per side it keeps the history a RST is judged against (TTL, IP IDs and
 * how sequential they are, DF, highest seq sent, highest ack, window, TCP
 * timestamp, FIN, first RST) and per connection the handshake times. For
 * every RST it reports an event with the facts and the signals one packet
 * shows against that history (R2, R5, R6, R7, R8, R9 of reset_signals.h);
 * it reports a side's first packet after a RST (and whether it carried
 * new data beyond its own RST's seq: R1), each connection's first SYN and
 * first SYN-ACK. Pairs, timers and verdicts are the daemon's.
 *
 * The two directions of a connection may run on two CPUs at once, so the
 * table is an array of set-associative buckets (struct conn_bucket), each
 * with a bpf_spin_lock, and every read-modify-write of a bucket happens
 * under it. Nothing that needs a helper call happens under the lock:
 * event space is reserved before taking it and submitted after.
 *
 * Why not a kernel hash map: its lookup hashes the 40-byte key with
 * jhash and costs about 55 ns a packet on the benchmark machine; a seeded
 * NH hash and an array index cost about 10 (make bench, "hot path";
 * docs/performance.md, "The connection table"). A kernel LRU map would age entries by itself, but it may hold
 * no spin lock.
 *
 * A new connection takes an empty way, or evicts what matters least: a
 * closed connection, then a half-open one, then an established one idle
 * past CONN_IDLE_NS, the longest idle first. A bucket of live
 * established connections keeps them: a SYN flood cannot push out the
 * connections whose resets matter, and the connection it could not track
 * is counted (CNT_CONN_TABLE_FULL). The daemon only reads the table.
 */
#ifndef CONN_TRACK_BPF_H
#define CONN_TRACK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flowprobe.h"
#include "reset_signals.h"
#include "bittorrent.bpf.h"
#include "events.bpf.h"
#include "flow_entry.bpf.h"
#include "config.bpf.h" /* hash_seed, conn_bucket_mask */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONNS / CONN_WAYS); /* probe_load sizes it */
	__type(key, __u32);
	__type(value, struct conn_bucket);
} conns SEC(".maps");

/* One packet as conn_update() takes it (a BPF call has at most five
 * arguments). */
struct conn_packet {
	struct tcp_packet_facts f;
	__u64 now;
	__u8 sender; /* side index of the packet's source */
	__u8 ip_version;
	__u8 bt_kind; /* what recognition found in this packet */
	__u8 bt_piece; /* its payload starts with a piece message */
	__u8 pad[4];
};

/* The packet being tracked and its connection key: per CPU scratch space
 * rather than stack, because all frames of a call chain share 512 bytes
 * and this one runs at the end of the longest. XDP runs to completion
 * on a CPU, so one slot per CPU is never shared by two packets. */
struct conn_scratch {
	struct conn_packet cp;
	struct conn_key ck;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn_scratch);
} conn_scratch SEC(".maps");

/* conn_track_packet's result: what the caller counts. */
#define CT_RESET 0x1 /* the packet was a RST */
#define CT_CREATED 0x2 /* a connection entered the table */
#define CT_TABLE_FULL 0x4 /* no room: the connection is not tracked */
#define CT_EVENT_LOST 0x8 /* an event found the ring full */
#define CT_EVICTED 0x10 /* a connection made room for this one */
#define CT_REF_STALE 0x20 /* the flow's connection changed hands while
			     this packet was looking: not tracked */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_TIMESTAMP 8
#define TCPOLEN_TIMESTAMP 10

/* A BitTorrent piece message (BEP 3): length prefix, id 7, index, begin,
 * block; blocks are at most 128 KiB. */
#define BT_PIECE_ID 7
#define BT_PIECE_MIN_LEN 10
#define BT_PIECE_MAX_LEN (9 + 131072)

/* Where the headers are, as offsets from the frame's start, the payload
 * length (at most 65535: an IP length field bounds it) and what
 * recognition found in the packet (BT_NONE usually): packed into one
 * scalar, because a global function takes at most five arguments. */
#define CT_OFFS(l3, l4, payload_len, bt_kind)                                           \
	((__u64)(__u8)(bt_kind) << 48 | (__u64)(__u16)(payload_len) << 32 |             \
	 (__u64)(l4) << 16 | (__u64)(l3))
/* The parser never reaches further than this into a frame (a power of
 * two: offsets are masked with it). */
#define CT_MAX_OFFSET 1024

/* A field of an entry read without its lock: a hint, decided again
 * under the lock. */
#define READ_RACY(x) (*(volatile typeof(x) *)&(x))

/* Serial-number arithmetic (RFC 1982) on 32-bit sequence numbers. */
static __always_inline bool seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

static __always_inline __u32 seq_max(__u32 a, __u32 b)
{
	return seq_after(a, b) ? a : b;
}

static __always_inline __u8 sat_inc8(__u8 v)
{
	return v == 0xff ? v : v + 1;
}

static __always_inline __u32 sat_add32(__u32 v, __u32 add)
{
	return v + add < v ? 0xffffffff : v + add;
}

static __always_inline __u8 abs_diff8(__u8 a, __u8 b)
{
	return a > b ? a - b : b - a;
}

/* Lexicographic order of (address, port), as conn_key_of_flow() in the
 * daemon orders them: < 0 when the source comes first. */
static __always_inline int endpoint_cmp(const struct flow_key *key)
{
	const __u64 *s = (const __u64 *)key->src, *d = (const __u64 *)key->dst;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		__u64 a = __builtin_bswap64(s[i]), b = __builtin_bswap64(d[i]);

		if (a != b)
			return a < b ? -1 : 1;
	}
	return (int)key->sport - (int)key->dport;
}

/* The canonical key; returns the packet's sender side (0 or 1). */
static __always_inline __u8 conn_key_fill(struct conn_key *ck, const struct flow_key *key)
{
	__u8 sender = endpoint_cmp(key) <= 0 ? 0 : 1;

	__builtin_memset(ck, 0, sizeof(*ck));
	ck->ip_version = key->ip_version;
	if (sender == 0) {
		__builtin_memcpy(ck->addr[0], key->src, 16);
		__builtin_memcpy(ck->addr[1], key->dst, 16);
		ck->port[0] = key->sport;
		ck->port[1] = key->dport;
	} else {
		__builtin_memcpy(ck->addr[0], key->dst, 16);
		__builtin_memcpy(ck->addr[1], key->src, 16);
		ck->port[0] = key->dport;
		ck->port[1] = key->sport;
	}
	return sender;
}

/* The TCP timestamp option's TSval, if the packet carries one. A bounded
 * loop (the verifier walks it), not unrolled: options vary in length. */
static __always_inline bool tcp_tsval(const __u8 *opt, const __u8 *opt_end, const void *end,
				      __u32 *tsval)
{
	for (int i = 0; i < MAX_TCP_OPTIONS; i++) {
		__u8 kind, len;

		if (opt >= opt_end || (void *)(opt + 1) > end)
			return false;
		kind = opt[0];
		if (kind == TCPOPT_EOL)
			return false;
		if (kind == TCPOPT_NOP) {
			opt++;
			continue;
		}
		if ((void *)(opt + 2) > end)
			return false;
		len = opt[1];
		if (len < 2)
			return false;
		if (kind == TCPOPT_TIMESTAMP) {
			if (len != TCPOLEN_TIMESTAMP || (void *)(opt + TCPOLEN_TIMESTAMP) > end)
				return false;
			*tsval = (__u32)opt[2] << 24 | (__u32)opt[3] << 16 | (__u32)opt[4] << 8 |
				 opt[5];
			return true;
		}
		opt += len;
	}
	return false;
}

/* Whether a payload starts with a BitTorrent piece message. */
static __always_inline bool bt_piece_at(const __u8 *p, const void *end)
{
	__u32 len;

	if ((void *)(p + 5) > end)
		return false;
	len = (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
	return p[4] == BT_PIECE_ID && len >= BT_PIECE_MIN_LEN && len <= BT_PIECE_MAX_LEN;
}

/*
 * The signals one RST shows against its sender's history (s) and the
 * other side's (r). History older than RESET_STALE_NS is no evidence; a
 * side never seen sending has none.
 */
static __always_inline __u32 reset_signals(const struct conn_side *s, const struct conn_side *r,
					   const struct tcp_packet_facts *f, __u8 ip_version,
					   __u64 now)
{
	bool ack = f->tcp_flags & TCP_ACK;
	__u32 sig = 0, snd_max;
	__u16 step;

	bool fresh = (s->flags & SIDE_SEEN) && now - s->last_ns <= RESET_STALE_NS;

	/* A RST without ACK carrying a window (R8): most stacks send 0, a
	 * BSD-style stack resetting its own connection sends its receive
	 * window, the one its segments were advertising; an injector does
	 * not know it. */
	if (!ack && f->window && !(fresh && f->window == s->window))
		sig |= RESET_SIGNAL_BIT(R8_WINDOW);
	if (!fresh)
		return sig;

	/* What the side has sent, by its own packets or by the acks of the
	 * other side (which cover packets the probe may have missed). */
	snd_max = s->snd_max;
	if (r->ack_seen && now - r->last_ns <= RESET_STALE_NS)
		snd_max = seq_max(snd_max, r->max_ack);
	/* R2 only for RST|ACK: a RST without ACK answers a segment for a
	 * dead socket and takes that segment's (possibly old) ack. */
	if (ack && seq_after(snd_max - RESET_BEHIND_SLACK, f->seq))
		sig |= RESET_SIGNAL_BIT(R2_BEHIND_SENT_DATA);
	if (seq_after(f->seq, snd_max + 1))
		sig |= RESET_SIGNAL_BIT(R5_AHEAD);
	if (abs_diff8(f->ttl, s->ttl_last) >= RESET_TTL_DELTA)
		sig |= RESET_SIGNAL_BIT(R6_TTL);
	if (f->has_ts && (s->flags & SIDE_TS)) {
		__s32 ahead = (__s32)(f->tsval - s->last_tsval);
		/* Ticks allowed: elapsed time at RESET_TS_MAX_HZ, plus one
		 * second's worth. */
		__u64 allowed =
			(now - s->last_ns) / (1000000000ULL / RESET_TS_MAX_HZ) + RESET_TS_MAX_HZ;

		if (ahead < 0 || (__u64)ahead > allowed)
			sig |= RESET_SIGNAL_BIT(R9_TIMESTAMP);
	}
	if (ip_version != 4)
		return sig;
	/* IP ID 0 with DF: a stack answering from no socket (Linux does). */
	if (f->ip_id == 0 && f->df)
		return sig;
	step = f->ip_id - s->last_ip_id;
	if (s->ipid_run >= IPID_SEQ_MIN && (step < 1 || step > IPID_RST_STEP))
		sig |= RESET_SIGNAL_BIT(R7_IP_ID);
	/* The side's own last IP ID again (an injector copying the trigger
	 * packet's), where its IDs have been moving: no stack repeats one. */
	if (step == 0 && f->ip_id && s->ipid_run >= 1)
		sig |= RESET_SIGNAL_BIT(R7_IP_ID);
	/* The trigger packet turned round: its IP ID copied into the RST. */
	if (f->ip_id && r->packets && f->ip_id == r->last_ip_id &&
	    now - r->last_ns <= RESET_STALE_NS)
		sig |= RESET_SIGNAL_BIT(R7_IP_ID);
	return sig;
}

/* A side's history after one of its packets other than a RST. */
static __always_inline void side_update(struct conn_side *s, const struct tcp_packet_facts *f,
					__u64 now)
{
	__u32 end =
		f->seq + f->payload_len + !!(f->tcp_flags & TCP_SYN) + !!(f->tcp_flags & TCP_FIN);
	__u16 step = f->ip_id - s->last_ip_id;

	if (!(s->flags & SIDE_SEEN)) {
		s->ttl_min = f->ttl;
		s->ttl_max = f->ttl;
		s->snd_max = end;
		s->ipid_run = 0;
	} else {
		if (f->ttl < s->ttl_min)
			s->ttl_min = f->ttl;
		if (f->ttl > s->ttl_max)
			s->ttl_max = f->ttl;
		s->snd_max = seq_max(s->snd_max, end);
		s->ipid_run = (step >= 1 && step <= IPID_SEQ_STEP) ? sat_inc8(s->ipid_run) : 0;
	}
	s->flags |= SIDE_SEEN;
	s->ttl_last = f->ttl;
	s->last_ip_id = f->ip_id;
	if (f->df)
		s->flags |= SIDE_DF;
	else
		s->flags &= ~SIDE_DF;
	s->window = f->window;
	s->packets = s->packets == 0xffffffff ? s->packets : s->packets + 1;
	s->payload = sat_add32(s->payload, f->payload_len);
	s->last_ns = now;
	if (f->tcp_flags & TCP_ACK) {
		if (!s->ack_seen || seq_after(f->ack, s->max_ack))
			s->max_ack = f->ack;
		s->ack_seen = 1;
	}
	if (f->has_ts) {
		s->last_tsval = f->tsval;
		s->flags |= SIDE_TS;
	}
	if ((f->tcp_flags & TCP_SYN) && !(s->flags & SIDE_SYN)) {
		s->isn = f->seq;
		s->flags |= SIDE_SYN;
	}
	if (f->tcp_flags & TCP_FIN)
		s->flags |= SIDE_FIN;
}

/* The event's connection snapshot, taken under the lock before the
 * packet changes anything. */
static __always_inline void snapshot(struct tcp_event *t, const struct conn_state *st, __u8 sender)
{
	__builtin_memcpy(&t->snd, &st->side[sender & 1], sizeof(t->snd));
	__builtin_memcpy(&t->rcv, &st->side[!sender], sizeof(t->rcv));
	t->conn_first_ns = st->first_ns;
	t->syn_ns = st->syn_ns;
	t->synack_ns = st->synack_ns;
	t->ack_ns = st->ack_ns;
	t->initiator = st->initiator;
	t->conn_flags = st->flags;
}

/* A SYN without ACK that is not a retransmission of the connection's
 * SYN starts a new connection on the same ports. */
static __always_inline bool new_incarnation(const struct conn_state *st,
					    const struct tcp_packet_facts *f, __u8 sender)
{
	const struct conn_side *s = &st->side[sender & 1];

	if ((f->tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN || !st->last_ns)
		return false;
	return !(s->flags & SIDE_SYN) || s->isn != f->seq;
}

static __always_inline void conn_restart(struct conn_state *st)
{
	__builtin_memset(st, 0, sizeof(*st));
}

static __always_inline __u32 slot_hints(const struct conn_state *st)
{
	return (((st->side[0].flags | st->side[1].flags) & SIDE_RST) ? BUCKET_HINT_RST : 0) |
	       ((st->flags & CONN_BITTORRENT) ? BUCKET_HINT_BT : 0);
}

/*
 * Under the lock: update the connection with one packet and fill the
 * event reserved for it, if any; add to the bucket's hints what the
 * connection gained (only a RST or a BitTorrent signature adds one, so
 * other packets leave the other side's line unread). Returns the event
 * type to submit, or 0 to discard the reservation.
 */
static __always_inline __u8 conn_update(struct conn_state *st, const struct conn_packet *cp,
					struct event *ev, __u32 *hints)
{
	const struct tcp_packet_facts *f = &cp->f;
	__u8 sender = cp->sender, ip_version = cp->ip_version;
	__u8 bt_kind = cp->bt_kind;
	bool bt_piece = cp->bt_piece;
	__u64 now = cp->now;
	struct conn_side *s = &st->side[sender & 1];
	struct conn_side *r = &st->side[!sender];
	__u8 flags = f->tcp_flags, type = 0, after = 0;

	if (new_incarnation(st, f, sender))
		conn_restart(st);
	/* last_ns, not first_ns: both are set by a connection's first
	 * packet, and last_ns is on the line every packet reads. */
	if (!st->last_ns) {
		st->first_ns = now;
		if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
			st->initiator = sender;
		} else if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
			st->initiator = !sender; /* the SYN went unseen */
			st->flags |= CONN_MIDSTREAM;
		} else {
			st->initiator = CONN_SIDE_UNKNOWN;
			st->flags |= CONN_MIDSTREAM;
		}
	}

	if (flags & TCP_RST) {
		if (ev) {
			snapshot(&ev->tcp, st, sender);
			ev->tcp.signals = reset_signals(s, r, f, ip_version, now);
			type = EVENT_TCP_RESET;
		}
		s->rst_count = sat_inc8(s->rst_count);
		if (!(s->flags & SIDE_RST)) {
			s->flags |= SIDE_RST;
			s->rst_ns = now;
			s->rst_seq = f->seq;
			s->rst_ack = (flags & TCP_ACK) ? f->ack : 0;
		}
		st->last_ns = now;
		st->rst_last_ns = now;
		*hints |= slot_hints(st);
		return type;
	}

	/* The first packet from this side after a RST from either side, the
	 * first after the grace that follows the latest RST (the connection
	 * did not die: R12 does not hold), and new data beyond this side's
	 * own RST (R1), once each. Without the bucket's RST hint no side has
	 * sent one, and the other side's line stays unread. */
	if ((*hints & BUCKET_HINT_RST) && ((s->flags | r->flags) & SIDE_RST)) {
		if (!(s->after_rst & AFTER_RST_PACKET))
			after |= AFTER_RST_PACKET;
		if (!(s->after_rst & AFTER_RST_LATE) && now - st->rst_last_ns > RESET_DIED_GRACE_NS)
			after |= AFTER_RST_LATE;
		if ((s->flags & SIDE_RST) && !(s->after_rst & AFTER_RST_NEW_DATA) &&
		    f->payload_len && seq_after(f->seq + f->payload_len, s->rst_seq))
			after |= AFTER_RST_NEW_DATA;
	}
	/* One event per packet: an OPEN or ACCEPT carries the after-reset
	 * bits in its kind (a SYN-ACK after a RST is R11's evidence). */
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN && !st->syn_ns) {
		type = EVENT_TCP_OPEN;
		st->syn_ns = now;
	} else if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
		   !(st->flags & CONN_SYNACK)) {
		type = EVENT_TCP_ACCEPT;
		st->synack_ns = now;
		st->flags |= CONN_SYNACK;
	} else if (after) {
		type = EVENT_TCP_AFTER_RESET;
	}
	if (ev && type) {
		snapshot(&ev->tcp, st, sender);
		ev->kind = after;
		s->after_rst |= after;
	} else if (!ev) {
		type = 0;
	}

	side_update(s, f, now);
	st->last_ns = now;
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_ACK && sender == st->initiator &&
	    (st->flags & CONN_SYNACK) && !st->ack_ns) {
		st->ack_ns = now;
		st->flags |= CONN_ESTABLISHED;
	}
	/* Midstream, established once both sides have been seen: that
	 * happens on the first packet of the second side (its packets
	 * count is 1 only after its first), so only that one reads the
	 * other side's line. */
	if ((st->flags & (CONN_MIDSTREAM | CONN_ESTABLISHED)) == CONN_MIDSTREAM &&
	    s->packets == 1 && (r->flags & SIDE_SEEN))
		st->flags |= CONN_ESTABLISHED;
	if (bt_kind == BT_HANDSHAKE) {
		s->flags |= SIDE_BT_HANDSHAKE;
		st->flags |= CONN_BITTORRENT;
	} else if (bt_kind != BT_NONE) {
		st->flags |= CONN_BITTORRENT;
	}
	if (bt_piece)
		s->flags |= SIDE_BT_PIECE;
	if (bt_kind != BT_NONE)
		*hints |= slot_hints(st);
	return type;
}

/*
 * The seeded hash of a connection key: NH (the multiply-add hash of
 * UMAC), the key's ten 32-bit words taken in pairs, each word offset by
 * its own secret (the seed mixed with a constant per word), the five
 * 64-bit products summed. The products are independent, so they run side
 * by side; the flow table's chained multiply-xorshift over the same ten
 * words cost 22 ns a TCP packet here, this about 10 (docs/performance.md).
 * A final multiply-xorshift brings the product's high bits down to the
 * bucket index and the tag. Another seed mix than the flow table's, so
 * the two tables' buckets do not fill alike.
 */
static __always_inline __u32 conn_hash(const struct conn_key *k)
{
	static const __u32 salt[sizeof(*k) / 4] = {
		0x2545F491, 0x9E3779B9, 0x7F4A7C15, 0xF39CC060, 0x5CEDC834,
		0x1B873593, 0xCC9E2D51, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F,
	};
	const __u32 *w = (const __u32 *)k;
	__u32 seed = hash_seed, x;
	__u64 h = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / 4); i += 2)
		h += (__u64)(__u32)(w[i] + (seed ^ salt[i])) *
		     (__u32)(w[i + 1] + (seed ^ salt[i + 1]));
	x = (__u32)(h >> 32) ^ (__u32)h;
	x *= 0x9E3779B1;
	return x ^ (x >> 15);
}

static __always_inline bool conn_key_equal(const struct conn_key *a, const struct conn_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 diff = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*a) / 8); i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* Under the lock: the way holding key, or -1. The tags (the keys'
 * hashes, side by side) rule out the other ways without reading them. */
static __always_inline int conn_find(const struct conn_bucket *b, const struct conn_key *key,
				     __u32 tag)
{
#pragma unroll
	for (int w = 0; w < CONN_WAYS; w++)
		if (b->tag[w] == tag && conn_key_equal(&b->way[w].key, key))
			return w;
	return -1;
}

static __always_inline bool conn_closed(const struct conn_state *st)
{
	return ((st->side[0].flags | st->side[1].flags) & SIDE_RST) ||
	       ((st->side[0].flags & st->side[1].flags) & SIDE_FIN);
}

/* Under the lock: the hints of all ways, after one changed hands. */
static __always_inline __u32 bucket_hints(const struct conn_bucket *b)
{
	__u32 h = 0;

#pragma unroll
	for (int w = 0; w < CONN_WAYS; w++)
		if (b->way[w].key.ip_version)
			h |= slot_hints(&b->way[w].st);
	return h;
}

/* How readily a way gives room to a new connection: higher goes first;
 * 0 never. */
static __always_inline __u32 evict_rank(const struct conn_slot *slot, __u64 now)
{
	const struct conn_state *st = &slot->st;

	if (!slot->key.ip_version)
		return 4;
	if (conn_closed(st))
		return 3;
	if (!(st->flags & CONN_ESTABLISHED))
		return 2;
	if (now - st->last_ns > CONN_IDLE_NS)
		return 1;
	return 0;
}

/* Under the lock: the way for a new connection, or -1 (bucket full of
 * live established connections). Among equals, the longest idle. */
static __always_inline int conn_claim(struct conn_bucket *b, __u64 now)
{
	__u32 best_rank = 0;
	__u64 best_last = 0;
	int best = -1;

#pragma unroll
	for (int w = 0; w < CONN_WAYS; w++) {
		__u32 rank = evict_rank(&b->way[w], now);
		__u64 last = b->way[w].st.last_ns;

		if (rank > best_rank || (rank && rank == best_rank && last < best_last)) {
			best = w;
			best_rank = rank;
			best_last = last;
		}
	}
	return best;
}

/*
 * A flow entry remembers where its connection is (flow_entry.conn_ref):
 * the way's index in the table and the packet's side, so that the next
 * packets of the flow skip the canonical key, its hash and the tag scan
 * (about 15 ns of the 40 the table costs a packet). 0 means not known:
 * entries start zeroed in each generation, and an evicted flow's place
 * starts again from 0 (flow_table.bpf.h). The reference is only a
 * guess: the way may have been given to another connection since, so
 * the key it holds is compared under the lock before it is used.
 */
#define CONN_REF(idx, w, sender) ((((idx) * CONN_WAYS + (w)) << 1 | (sender)) + 1)
#define CONN_REF_IDX(ref) ((((ref) - 1) >> 1) / CONN_WAYS)
#define CONN_REF_WAY(ref) ((((ref) - 1) >> 1) & (CONN_WAYS - 1))
#define CONN_REF_SENDER(ref) (((ref) - 1) & 1)
/* conn_track_packet's result: the reference for the flow entry. */
#define CT_REF_OF(result) ((__u32)((__u64)(result) >> 32))
_Static_assert(((__u64)(1ul << 26) * 2 + 1) < 0xffffffffull,
	       "conn_ref holds every slot of the largest --max-connections");

/* Whether a way's key is the flow's connection, the flow's source being
 * side sender: the compare conn_key_equal would make, without building
 * the canonical key. */
static __always_inline bool conn_key_is(const struct conn_key *ck, const struct flow_key *key,
					__u8 sender)
{
	const __u32 *a = (const __u32 *)ck->addr[sender & 1];
	const __u32 *b = (const __u32 *)ck->addr[!sender];
	const __u32 *src = (const __u32 *)key->src, *dst = (const __u32 *)key->dst;
	__u32 diff = (ck->ip_version ^ key->ip_version) | (ck->port[sender & 1] ^ key->sport) |
		     (ck->port[!sender] ^ key->dport);

#pragma unroll
	for (int i = 0; i < 4; i++)
		diff |= (a[i] ^ src[i]) | (b[i] ^ dst[i]);
	return diff == 0;
}

/*
 * Tracks one TCP packet: offs is CT_OFFS(IP header, TCP header, payload
 * length, what recognition found); ref the packet's flow entry's
 * reference to its connection (0: none). Returns CT_* bits for the
 * caller's counters, and in the upper 32 bits the reference for the
 * flow entry to keep (CT_REF_OF). In and out by value: a pointer kept
 * across the helper calls would cost the stack a slot it does not have.
 *
 * A global function, so the verifier checks it once on its own (as
 * bt_inspect_payload); it re-reads the headers from the frame by offset
 * rather than taking the parser's pointers.
 */
__noinline __s64 conn_track_packet(struct xdp_md *ctx, __u64 offs, const struct flow_key *key,
				 __u64 now, __u32 ref)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l3 = offs & 0xffff, l4 = (offs >> 16) & 0xffff;
	struct conn_scratch *scratch;
	struct tcp_packet_facts *fp;
	struct conn_key *ck;
	struct conn_bucket *b;
	struct event *ev = NULL;
	struct tcphdr *tcp;
	const __u8 *opt_end;
	__u8 sender, type = 0;
	bool rst;
	__u32 hints, tag = 0, idx;
	int ret = 0, w = -1;

	if (!key || l3 >= CT_MAX_OFFSET || l4 >= CT_MAX_OFFSET)
		return 0;
	/* No-ops after the test, but bounds the verifier keeps (it dropped
	 * the test's, and learns no packet range from an offset that may
	 * reach 64 KiB). */
	l3 &= CT_MAX_OFFSET - 1;
	l4 &= CT_MAX_OFFSET - 1;
	scratch = bpf_map_lookup_elem(&conn_scratch, &KEY_ZERO);
	if (!scratch)
		return 0;
	__builtin_memset(&scratch->cp, 0, sizeof(scratch->cp));
	fp = &scratch->cp.f;
	ck = &scratch->ck;
	fp->payload_len = (offs >> 32) & 0xffff;
	if (key->ip_version == 4) {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > end)
			return 0;
		fp->ttl = ip->ttl;
		fp->ip_id = bpf_ntohs(ip->id);
		fp->df = !!(ip->frag_off & bpf_htons(0x4000));
	} else {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > end)
			return 0;
		fp->ttl = ip6->hop_limit;
	}
	tcp = data + l4;
	if ((void *)(tcp + 1) > end)
		return 0;
	fp->seq = bpf_ntohl(tcp->seq);
	fp->ack = bpf_ntohl(tcp->ack_seq);
	fp->window = bpf_ntohs(tcp->window);
	fp->tcp_flags = ((__u8 *)tcp)[13];
	opt_end = (const __u8 *)tcp + tcp->doff * 4;
	fp->has_ts = tcp_tsval((const __u8 *)(tcp + 1), opt_end, end, &fp->tsval);
	rst = fp->tcp_flags & TCP_RST;
	if (rst)
		ret |= CT_RESET;

	/* The flow's reference first, if it still names this connection
	 * (read without the lock: checked again under it); else the key. */
	b = NULL;
	if (ref && CONN_REF_IDX(ref) <= conn_bucket_mask) {
		sender = CONN_REF_SENDER(ref);
		idx = CONN_REF_IDX(ref);
		b = bpf_map_lookup_elem(&conns, &idx);
		if (b && !conn_key_is(&b->way[CONN_REF_WAY(ref)].key, key, sender))
			b = NULL;
	}
	if (!b) {
		ref = 0;
		sender = conn_key_fill(ck, key);
		tag = conn_hash(ck);
		idx = tag & conn_bucket_mask;
		b = bpf_map_lookup_elem(&conns, &idx);
		if (!b)
			return ret | CT_TABLE_FULL;
	}
	scratch->cp.sender = sender;
	scratch->cp.ip_version = key->ip_version;
	scratch->cp.bt_kind = (offs >> 48) & 0xff;
	scratch->cp.now = now;

	/* Without the lock, the bucket's hints decide the work that must be
	 * done outside it: the piece check (a payload read) and reserving
	 * event space (a helper call, not allowed under the lock). Under the
	 * lock everything is decided again. */
	hints = READ_RACY(b->hints);
	if ((hints & BUCKET_HINT_BT) && fp->payload_len >= BT_PIECE_MIN_LEN + 4 &&
	    (void *)opt_end <= end && opt_end >= (const __u8 *)(tcp + 1))
		scratch->cp.bt_piece = bt_piece_at(opt_end, end);
	if (hints & BUCKET_HINT_RST)
		rst = true; /* for the reservation below */
	if (rst || (fp->tcp_flags & TCP_SYN)) {
		__u64 lost = 0;

		ev = event_reserve(EVENT_TCP_RESET, 0, key, now, &lost);
		if (lost)
			ret |= CT_EVENT_LOST;
	}

	bpf_spin_lock(&b->lock);
	if (!ref) {
		w = conn_find(b, ck, tag);
	} else if (conn_key_is(&b->way[CONN_REF_WAY(ref)].key, key, sender)) {
		w = CONN_REF_WAY(ref);
	} else {
		/* Another CPU gave the way to a new connection since the
		 * check above: this packet goes untracked, as one the probe
		 * missed (the key was not built: no lookup, no claim). */
		ret |= CT_REF_STALE;
	}
	if (w < 0 && !(ret & CT_REF_STALE) && !(fp->tcp_flags & TCP_RST)) {
		/* A new connection. A RST makes none: stray RSTs (scan
		 * backscatter) would fill the table. */
		w = conn_claim(b, now);
		if (w >= 0 && w < CONN_WAYS) {
			struct conn_slot *slot = &b->way[w];

			ret |= slot->key.ip_version ? CT_EVICTED | CT_CREATED : CT_CREATED;
			__builtin_memcpy(&slot->key, ck, sizeof(*ck));
			b->tag[w] = tag;
			conn_restart(&slot->st);
			b->hints = bucket_hints(b);
		} else {
			ret |= CT_TABLE_FULL;
		}
	}
	if (w >= 0 && w < CONN_WAYS)
		type = conn_update(&b->way[w].st, &scratch->cp, ev, &b->hints);
	else if (ev && (fp->tcp_flags & TCP_RST))
		type = EVENT_TCP_RESET; /* reported with no history */
	bpf_spin_unlock(&b->lock);

	if (ev) {
		if (type) {
			ev->type = type;
			__builtin_memcpy(&ev->tcp.pkt, fp, sizeof(*fp));
			ev->tcp.sender = sender;
			if (w < 0)
				ev->tcp.initiator = CONN_SIDE_UNKNOWN;
			event_submit(ev);
		} else {
			bpf_ringbuf_discard(ev, BPF_RB_NO_WAKEUP);
		}
	}
	if (w >= 0 && w < CONN_WAYS)
		return (__s64)CONN_REF(idx, w, sender) << 32 | ret;
	return ret;
}

#endif /* CONN_TRACK_BPF_H */
