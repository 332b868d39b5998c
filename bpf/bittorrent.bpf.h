/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * BitTorrent recognition on a flow's first payload bytes (docs/detection.md,
 * "BitTorrent recognition"). Why here and not in userspace: the datapath
 * sees every packet, the daemon only counts; a signature on the first
 * bytes costs little, and only on a flow's first INSPECT_PACKETS packets
 * while it is unclassified (the caller gates it), so a settled flow pays
 * nothing.
 *
 * Plain signatures, fixed offsets only, each byte access checked against
 * the frame's end: the TCP peer-wire handshake (also split after its
 * first byte), the HTTP tracker request, and over UDP uTP, DHT, the UDP
 * tracker connect request and Local Service Discovery. Endpoints (IP:port)
 * of peer detections go to an LRU of known peers; on a TCP flow with one
 * known endpoint, a peer-wire message header (alone it would match too
 * much) or a high-entropy first payload of MSE/PE's length (encrypted
 * BitTorrent has no clear bytes) is BitTorrent too, and a flow between two
 * known endpoints (the reverse direction, or the same connection in the
 * next table generation) is marked without a second event. Each
 * recognised flow is marked in its entry; each connection is reported
 * once through the event ring. The datapath reports facts, userspace
 * turns them into verdicts.
 */
#ifndef BITTORRENT_BPF_H
#define BITTORRENT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flowprobe.h"
#include "parse.bpf.h"
#include "events.bpf.h"

/* BEP 3: the handshake starts with pstrlen 19 and this string. */
#define BT_PSTRLEN 0x13
#define BT_PROTOCOL "BitTorrent protocol"
#define BT_PROTOCOL_LEN 19

/* MSE/PE: the first payload is a 768-bit DH key and 0..512 bytes of random
 * padding. Random bytes show about 56.6 distinct values in 64; text and
 * most binary headers show far fewer. */
#define BT_ENC_MIN_LEN 96
#define BT_ENC_MAX_LEN 608
#define BT_ENTROPY_BYTES 64
#define BT_ENTROPY_MIN_DISTINCT 48

/* Upper bounds of plausible peer-wire message lengths (length prefix,
 * which counts the id byte): a bitfield of 1M pieces, an extension
 * message of 128 KiB, a piece message of a 128 KiB block. */
#define BT_MAX_BITFIELD (1 + (1 << 17))
#define BT_MAX_EXTENDED (1 << 17)
#define BT_MAX_PIECE (9 + (1 << 17))

/* Ports where DHT-like and uTP-like bytes are something else: well-known
 * services (DNS ids, QUIC short headers on 443) and Teredo. */
#define BT_TEREDO_PORT 3544

/* STUN's magic cookie (RFC 5389), where uTP has its timestamp. */
#define BT_STUN_MAGIC 0x2112A442

/* Bound of the payload's offset in the frame, for the verifier:
 * more than any header chain the parser accepts in a frame XDP sees. */
#define BT_MAX_PAYLOAD_OFFSET 0x3fff

/* A BitTorrent endpoint: address (IPv4 in the first 4 bytes) and port. */
struct bt_peer_key {
	__u8 addr[16];
	__u16 port;
	__u8 ip_version;
	__u8 pad;
};
_Static_assert(sizeof(struct bt_peer_key) == 20, "bt_peer_key layout");

struct bt_peer {
	__u64 seen_ns; /* probe clock of the latest detection */
	__u8 kind; /* enum bt_kind of that detection */
	__u8 pad[7];
};

/*
 * Endpoints of peer detections (handshake, uTP, DHT, and peer messages or
 * MSE/PE with a known peer; not trackers or LSD), both ends of each flow.
 * The key has no protocol: a peer's DHT and uTP port is usually its TCP
 * port too. Shared (not per-CPU): the flows of one peer land
 * on any CPU. An LRU: the least recently taught peers go first; a race or
 * an eviction can only cost a detection, never make a false one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_BT_PEERS);
	__type(key, struct bt_peer_key);
	__type(value, struct bt_peer);
} bt_peers SEC(".maps");

/* A literal's first n (1..8, constant) bytes as the packet's byte order
 * would load them; folds to a constant. */
static __always_inline __u64 bt_lit(const char *s, const int n)
{
	__u64 v = 0;

	__builtin_memcpy(&v, s, n);
	return v;
}

/* The n bytes at p equal the literal s; the caller checked p + n <= end.
 * Word compares OR-ed together: one branch per signature, not per byte.
 * Unaligned packet loads are fine on the architectures XDP runs on. */
static __always_inline bool bt_match(const __u8 *p, const char *s, const int n)
{
	__u64 diff = 0;
	int i = 0;

#pragma unroll
	for (; i + 8 <= n; i += 8)
		diff |= *(const __u64 *)(p + i) ^ bt_lit(s + i, 8);
	if (n - i >= 4) {
		diff |= *(const __u32 *)(p + i) ^ (__u32)bt_lit(s + i, 4);
		i += 4;
	}
	if (n - i >= 2) {
		diff |= *(const __u16 *)(p + i) ^ (__u16)bt_lit(s + i, 2);
		i += 2;
	}
	if (n - i >= 1)
		diff |= p[i] ^ (__u8)s[i];
	return diff == 0;
}

static __always_inline void bt_peer_key_fill(struct bt_peer_key *k, const struct flow_key *key,
					     const __u8 *addr, __u16 port)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->addr, addr, 16);
	k->port = port;
	k->ip_version = key->ip_version;
}

#define BT_KNOWN_SRC 1
#define BT_KNOWN_DST 2
#define BT_KNOWN_BOTH (BT_KNOWN_SRC | BT_KNOWN_DST)

/* Which ends of the flow are known BitTorrent endpoints (BT_KNOWN_*). */
static __always_inline int bt_known_ends(const struct flow_key *key)
{
	struct bt_peer_key k;
	int known = 0;

	bt_peer_key_fill(&k, key, key->src, key->sport);
	if (bpf_map_lookup_elem(&bt_peers, &k))
		known |= BT_KNOWN_SRC;
	bt_peer_key_fill(&k, key, key->dst, key->dport);
	if (bpf_map_lookup_elem(&bt_peers, &k))
		known |= BT_KNOWN_DST;
	return known;
}

static __always_inline void bt_remember(const struct flow_key *key, __u8 kind, __u64 now)
{
	struct bt_peer v = { .seen_ns = now, .kind = kind };
	struct bt_peer_key k;

	bt_peer_key_fill(&k, key, key->src, key->sport);
	bpf_map_update_elem(&bt_peers, &k, &v, BPF_ANY);
	bt_peer_key_fill(&k, key, key->dst, key->dport);
	bpf_map_update_elem(&bt_peers, &k, &v, BPF_ANY);
}

/* A peer-wire message header with a length its id allows: bitfield (5),
 * extended (20), have-all/none (14/15), port (9), request (6), piece (7). */
static __always_inline bool bt_message(const __u8 *p, const void *end, __u32 len)
{
	__u32 mlen;

	if (len < 5 || (void *)(p + 5) > end)
		return false;
	mlen = bpf_ntohl(*(const __u32 *)p);
	switch (p[4]) {
	case 5:
		return mlen >= 2 && mlen <= BT_MAX_BITFIELD;
	case 20:
		return mlen >= 2 && mlen <= BT_MAX_EXTENDED;
	case 14:
	case 15:
		return mlen == 1;
	case 9:
		return mlen == 3;
	case 6:
		return mlen == 13;
	case 7:
		return mlen >= 9 && mlen <= BT_MAX_PIECE;
	}
	return false;
}

/* At least BT_ENTROPY_MIN_DISTINCT distinct byte values among the first
 * BT_ENTROPY_BYTES: a 256-bit set on the stack, one bounded pass, no
 * branch on the data. */
static __always_inline bool bt_high_entropy(const __u8 *p, const void *end)
{
	__u8 seen[32] = {};
	__u32 distinct = 0;

	if ((void *)(p + BT_ENTROPY_BYTES) > end)
		return false;
	for (int i = 0; i < BT_ENTROPY_BYTES; i++) {
		__u8 b = p[i];
		__u8 *slot = &seen[(b >> 3) & 31];

		distinct += ((*slot >> (b & 7)) & 1) ^ 1;
		*slot |= 1 << (b & 7);
	}
	return distinct >= BT_ENTROPY_MIN_DISTINCT;
}

/* TCP's plain signatures. *facts: where the handshake's reserved bytes
 * start. */
static __always_inline enum bt_kind bt_tcp(const __u8 *p, const void *end, __u32 len,
					   struct flow_entry *entry, const __u8 **facts)
{
	if ((void *)(p + 1) > end)
		return BT_NONE;

	/* The rest of a handshake whose first segment was 0x13 alone. */
	if (entry->val.flags & FLOW_F_BT_PSTRLEN) {
		if (len >= BT_PROTOCOL_LEN && (void *)(p + BT_PROTOCOL_LEN) <= end &&
		    bt_match(p, BT_PROTOCOL, BT_PROTOCOL_LEN)) {
			*facts = p + BT_PROTOCOL_LEN;
			return BT_HANDSHAKE;
		}
		/* The stream so far is no longer 0x13 alone (if this is that
		 * byte again, retransmitted, it is set again below). */
		entry->val.flags &= ~FLOW_F_BT_PSTRLEN;
	}

	if (p[0] == BT_PSTRLEN) {
		if (len == 1) {
			entry->val.flags |= FLOW_F_BT_PSTRLEN;
			return BT_NONE;
		}
		if (len >= 1 + BT_PROTOCOL_LEN && (void *)(p + 1 + BT_PROTOCOL_LEN) <= end &&
		    bt_match(p + 1, BT_PROTOCOL, BT_PROTOCOL_LEN)) {
			*facts = p + 1 + BT_PROTOCOL_LEN;
			return BT_HANDSHAKE;
		}
	}

	if (p[0] == 'G' && len >= 12 && (void *)(p + 12) <= end) {
		if (bt_match(p, "GET /scrape?", 12))
			return BT_HTTP_TRACKER;
		if (len >= 14 && (void *)(p + 14) <= end && bt_match(p, "GET /announce?", 14))
			return BT_HTTP_TRACKER;
	}
	return BT_NONE;
}

/* TCP between a known peer and an unknown endpoint: a peer-wire message
 * header (alone it would match too much), or MSE/PE's first payload. */
static __always_inline enum bt_kind bt_tcp_known_peer(const __u8 *p, const void *end, __u32 len)
{
	if (bt_message(p, end, len))
		return BT_MESSAGE;
	if (len >= BT_ENC_MIN_LEN && len <= BT_ENC_MAX_LEN && bt_high_entropy(p, end))
		return BT_ENCRYPTED;
	return BT_NONE;
}

/* uTP (BEP 29) packet types, the high nibble of the first byte. */
#define UTP_DATA 0
#define UTP_FIN 1
#define UTP_STATE 2
#define UTP_RESET 3
#define UTP_SYN 4
#define UTP_HEADER_LEN 20
/* Extensions a header may chain: 1 selective ACK (a bitmask of 4n bytes),
 * 2 extension bits (8 bytes). More than UTP_MAX_EXTS is no uTP stack. */
#define UTP_MAX_EXTS 3
/* How far one side's ack_nr may be from the other side's seq_nr (16-bit,
 * either way) when both headers belong to one connection: the packets in
 * flight between two snapshots of the first packets. */
#define UTP_ACK_WINDOW 64

/* A header whose every field fits uTP: seq and ack of one side, kept per
 * direction (flow key) until the other direction answers. */
struct bt_utp_hdr {
	__u32 ts; /* the sender's clock, in microseconds */
	__u16 conn_id;
	__u16 seq_nr;
	__u16 ack_nr;
	__u8 type;
	__u8 pad;
};

/*
 * uTP headers seen on flows not yet recognised, keyed by the flow (one
 * direction). One header fits uTP by chance too often (WireGuard's
 * handshake initiation starts 01 00 00 00, a uTP DATA header; STUN,
 * CAPWAP and game protocols have version-1 bytes there): a flow is uTP
 * only when the reverse direction's header answers it (same connection
 * id or the id one off, as BEP 29 pairs them, and an ack_nr within
 * UTP_ACK_WINDOW of the other side's seq_nr: a SYN's seq acked by the
 * STATE, or two sides of a running transfer). An LRU: a lost pairing
 * only costs a detection.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_BT_PEERS / 8);
	__type(key, struct flow_key);
	__type(value, struct bt_utp_hdr);
} bt_utp_pending SEC(".maps");

/*
 * One packet's header fits uTP and nothing looser: version 1, a known
 * type, a non-zero connection id and timestamp (STUN's magic cookie
 * there is STUN), an extension chain of known extensions with lengths
 * they allow that ends inside the packet, and a payload only where the
 * type has one (SYN and STATE carry none, DATA always some).
 */
static __always_inline bool bt_utp_header(const __u8 *p, const void *end, __u32 len,
					  struct bt_utp_hdr *h)
{
	__u32 off = UTP_HEADER_LEN, ts;
	__u8 ext, type;

	if (len < UTP_HEADER_LEN || (void *)(p + UTP_HEADER_LEN) > end)
		return false;
	type = p[0] >> 4;
	if ((p[0] & 0x0f) != 1 || type > UTP_SYN)
		return false;
	ts = *(const __u32 *)(p + 4);
	if (ts == 0 || ts == bpf_htonl(BT_STUN_MAGIC))
		return false;
	/* uTP has no length field; protocols that do carry it where uTP
	 * has its connection id or timestamp: SOME/IP (32-bit length of
	 * what follows it, at 4), HART-IP (16-bit byte count, at 6),
	 * CAPWAP-style and others (16-bit length at 2). */
	if (bpf_ntohl(ts) == len - 8 || bpf_ntohs(*(const __u16 *)(p + 6)) == len ||
	    bpf_ntohs(*(const __u16 *)(p + 2)) == len)
		return false;
	h->ts = ts;
	h->conn_id = bpf_ntohs(*(const __u16 *)(p + 2));
	h->seq_nr = bpf_ntohs(*(const __u16 *)(p + 16));
	h->ack_nr = bpf_ntohs(*(const __u16 *)(p + 18));
	h->type = type;
	h->pad = 0;
	if (h->conn_id == 0)
		return false;
	ext = p[1];
	/* A bounded loop: the verifier walks its UTP_MAX_EXTS rounds. */
	for (int i = 0; i < UTP_MAX_EXTS; i++) {
		const __u8 *e;
		__u8 elen;

		if (ext == 0)
			break;
		off &= 0x3ff; /* 20 + 3 * 257 at most; for the verifier */
		e = p + off;
		if ((void *)(e + 2) > end || off + 2 > len)
			return false;
		elen = e[1];
		if (ext == 1 && (elen < 4 || (elen & 3)))
			return false;
		if (ext == 2 && elen != 8)
			return false;
		if (ext > 2)
			return false;
		ext = e[0];
		off += 2 + elen;
	}
	if (ext != 0 || off > len)
		return false;
	if (type == UTP_SYN || type == UTP_STATE)
		return off == len;
	if (type == UTP_DATA)
		return off < len;
	return true;
}

/* a and b within UTP_ACK_WINDOW of each other, modulo 2^16. */
static __always_inline bool bt_utp_near(__u16 a, __u16 b)
{
	__s16 d = (__s16)(a - b);

	return d >= -UTP_ACK_WINDOW && d <= UTP_ACK_WINDOW;
}

/* h (this direction) answers r (the reverse direction's last header). */
static __always_inline bool bt_utp_answers(const struct bt_utp_hdr *h, const struct bt_utp_hdr *r)
{
	__u16 d = h->conn_id - r->conn_id;

	if (d != 0 && d != 1 && d != 0xffff)
		return false;
	/* Two uTP stacks' microsecond clocks never read the same; a
	 * request and its answer with the same word there (a length, a
	 * transaction id) are something else. */
	if (h->ts == r->ts)
		return false;
	/* A SYN answers nothing; a STATE answering a SYN acks its seq
	 * exactly. */
	if (h->type == UTP_SYN)
		return false;
	if (r->type == UTP_SYN)
		return h->ack_nr == r->seq_nr && h->conn_id == r->conn_id;
	return bt_utp_near(h->ack_nr, r->seq_nr);
}

static __always_inline void bt_flow_key_reverse(struct flow_key *r, const struct flow_key *k)
{
	*r = *k;
	__builtin_memcpy(r->src, k->dst, 16);
	__builtin_memcpy(r->dst, k->src, 16);
	r->sport = k->dport;
	r->dport = k->sport;
}

/*
 * uTP by a pair of headers: this packet's, if it fits uTP, is kept for
 * its direction; it proves uTP when the reverse direction's kept header
 * is answered by it. The first direction is marked on its next packet
 * (INSPECT_PACKETS gives it room), which then answers the reverse's.
 */
static __always_inline enum bt_kind bt_utp(const __u8 *p, const void *end, __u32 len,
					   const struct flow_key *key, bool *utp_shaped)
{
	struct bt_utp_hdr h, *r;
	struct flow_key rk;
	bool answers;

	if (!bt_utp_header(p, end, len, &h))
		return BT_NONE;
	*utp_shaped = true;
	bt_flow_key_reverse(&rk, key);
	r = bpf_map_lookup_elem(&bt_utp_pending, &rk);
	answers = r && bt_utp_answers(&h, r);
	/* Kept even when it answers: the reverse direction, still
	 * unrecognised, is proven by answering this one. */
	bpf_map_update_elem(&bt_utp_pending, key, &h, BPF_ANY);
	return answers ? BT_UTP : BT_NONE;
}

/* The last DHT_TAIL_LEN bytes of the payload are "1:y1:" q, r or e, then
 * the dictionary's end. */
#define DHT_TAIL_LEN 7
#define DHT_MAX_LEN 2047
static __always_inline bool bt_krpc_tail(const __u8 *p, const void *end, __u32 len)
{
	const __u8 *t;

	if (len < 12 || len > DHT_MAX_LEN)
		return false;
	t = p + ((len - DHT_TAIL_LEN) & DHT_MAX_LEN);
	if ((void *)(t + DHT_TAIL_LEN) > end)
		return false;
	return bt_match(t, "1:y1:", 5) && (t[5] == 'q' || t[5] == 'r' || t[5] == 'e') &&
	       t[6] == 'e';
}

static __always_inline bool bt_reserved_port(__u16 port)
{
	return port < 1024 || port == BT_TEREDO_PORT;
}

static __always_inline enum bt_kind bt_udp(const __u8 *p, const void *end, __u32 len,
					   const struct flow_key *key, bool *utp_shaped)
{
	if ((void *)(p + 4) > end || len < 4)
		return BT_NONE;

	/* BEP 14: HTTP-over-multicast announce. */
	if (p[0] == 'B' && len >= 22 && (void *)(p + 22) <= end &&
	    bt_match(p, "BT-SEARCH * HTTP/1.1\r\n", 22))
		return BT_LSD;

	/* BEP 15: connect request = protocol id 0x41727101980, action 0
	 * (connect), then a 4-byte transaction id; exactly 16 bytes. */
	if (len == 16 && (void *)(p + 12) <= end &&
	    bt_match(p, "\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00", 12))
		return BT_TRACKER;

	if (bt_reserved_port(key->sport) || bt_reserved_port(key->dport))
		return BT_NONE;

	/* BEP 5: a bencoded query, response or error; BEP 42 responses may
	 * start with the requester's "ip" key. A prefix alone is not
	 * enough (any bencoding starts "d1:"): the message must also end
	 * as every KRPC message's dictionary ends, keys sorted, "y" (the
	 * message type, q, r or e) the last key, then the dictionary's
	 * "e" as the payload's last byte. */
	if (p[0] == 'd') {
		bool head = false;

		if (bt_match(p, "d1:e", 4))
			head = true;
		else if (len >= 12 && (void *)(p + 12) <= end &&
			 (bt_match(p, "d1:ad2:id20:", 12) || bt_match(p, "d1:rd2:id20:", 12)))
			head = true;
		else if (len >= 7 && (void *)(p + 7) <= end && bt_match(p, "d2:ip6:", 7))
			head = true;
		if (head && bt_krpc_tail(p, end, len))
			return BT_DHT;
		return BT_NONE;
	}

	return bt_utp(p, end, len, key, utp_shaped);
}

/* Trackers and the LSD multicast group are not peers: only peer-to-peer
 * detections teach the known-peers LRU. */
static __always_inline bool bt_kind_is_peer(__u8 kind)
{
	return kind != BT_TRACKER && kind != BT_HTTP_TRACKER && kind != BT_LSD;
}

/* bt_inspect_payload's result besides the kind: the flow was marked
 * without an event; its event found the ring full. */
#define BT_QUIET 0x100
#define BT_EVENT_LOST 0x200

/*
 * Inspects one packet's payload: off_len is the payload's offset from the
 * frame's start << 32 | its length per the IP header. Returns BT_NONE, or
 * the flow is marked BitTorrent and the result says how:
 *
 *  - A flow whose two endpoints are both known peers is the reverse of a
 *    recognised flow, or the same connection again in a later table
 *    generation (a generation starts every flow unclassified): marked
 *    quietly (BT_QUIET | the kind found, BT_NONE for any TCP payload),
 *    with any TCP payload or any plain signature.
 *    That connection's event was sent already; events are per connection,
 *    not per direction or drain period.
 *  - Otherwise a plain signature, or on TCP with one known end a peer
 *    message or an encrypted first payload: the kind, reported (with the
 *    handshake's reserved bytes and info_hash) | BT_EVENT_LOST if the
 *    ring was full; peer kinds teach both endpoints to the known peers.
 *
 * A global function, so the verifier checks it once, on its own, instead
 * of once for every way through the parser (inlined, the program no
 * longer fits in the verifier's budget). It rebuilds the payload pointer
 * from ctx->data and a bounded offset, which also keeps it clear of the
 * parser's "no payload" cursor (set to the frame's end, a pointer the
 * verifier allows no arithmetic on).
 */
__noinline int bt_inspect_payload(struct xdp_md *ctx, __u64 off_len, const struct flow_key *key,
				  struct flow_entry *entry, __u64 now)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 off = off_len >> 32, len = (__u32)off_len;
	const __u8 *facts = NULL;
	bool utp_shaped = false;
	const __u8 *p;
	enum bt_kind kind;
	struct event *ev;
	__u64 lost = 0;
	int known = 0;

	if (!key || !entry || off > BT_MAX_PAYLOAD_OFFSET)
		return BT_NONE;
	p = data + off;
	if (key->proto == PROTO_TCP)
		kind = bt_tcp(p, end, len, entry, &facts);
	else if (key->proto == PROTO_UDP)
		kind = bt_udp(p, end, len, key, &utp_shaped);
	else
		return BT_NONE;

	/* The map lookups only where they can change the outcome: after a
	 * peer signature, or for TCP that matched nothing. */
	if (kind == BT_NONE && utp_shaped) {
		/* A uTP header between two known peers (the other direction
		 * was recognised first, by DHT or uTP, and is not inspected
		 * any more, so it gives no header to answer). */
		if (bt_known_ends(key) != BT_KNOWN_BOTH)
			return BT_NONE;
		entry->val.app = APP_BITTORRENT;
		return BT_UTP | BT_QUIET;
	}
	if (kind == BT_NONE) {
		if (key->proto != PROTO_TCP)
			return BT_NONE;
		known = bt_known_ends(key);
		if (!known)
			return BT_NONE;
		if (known != BT_KNOWN_BOTH) {
			kind = bt_tcp_known_peer(p, end, len);
			if (kind == BT_NONE)
				return BT_NONE;
		}
	} else if (bt_kind_is_peer(kind)) {
		known = bt_known_ends(key);
	}

	entry->val.app = APP_BITTORRENT;
	if (known == BT_KNOWN_BOTH)
		return kind | BT_QUIET;
	ev = event_reserve(EVENT_BITTORRENT, kind, key, now, &lost);
	if (ev) {
		/* Reserved bytes, then the info_hash (BEP 3). */
		if (facts && (void *)(facts + 28) <= end) {
			__builtin_memcpy(ev->bt.reserved, facts, 8);
			__builtin_memcpy(ev->bt.info_hash, facts + 8, 20);
		}
		event_submit(ev);
	}
	if (bt_kind_is_peer(kind))
		bt_remember(key, kind, now);
	return kind | (lost ? BT_EVENT_LOST : 0);
}

/*
 * Where the payload starts in the frame, as a number, taken right after
 * parsing. Not the cursor: a packet pointer kept alive across the flow
 * update would keep the verifier from merging the parser's many paths
 * there (the program then exceeds its budget). The empty asm pins the
 * subtraction here, so the compiler cannot sink it to its use.
 */
static __always_inline __u32 bt_payload_offset(struct xdp_md *ctx, const struct cursor *c)
{
	__u64 off = c->pos - (void *)(long)ctx->data;

	asm volatile("" : "+r"(off));
	return off; /* bounded by bt_inspect_payload */
}

/*
 * Called on a flow's first packets while it is unclassified and only for
 * packets with payload (the caller's gate: a settled flow never gets
 * here). payload_off: from bt_payload_offset; cnt: the per-CPU counters,
 * indexed by enum counter.
 * Returns the kind this packet showed (BT_NONE if none), for the
 * connection table.
 */
static __always_inline __u32 bt_inspect(struct xdp_md *ctx, __u32 payload_off,
					const struct flow_key *key, const struct packet_info *pi,
					struct flow_entry *entry, __u64 now, __u64 *cnt)
{
	int r;

	r = bt_inspect_payload(ctx, (__u64)payload_off << 32 | pi->payload_len, key, entry, now);
	if (r == BT_NONE)
		return BT_NONE;
	cnt[CNT_BT_FLOWS]++;
	if (r & BT_EVENT_LOST)
		cnt[CNT_EVENTS_LOST]++;
	return r & 0xff;
}

#endif /* BITTORRENT_BPF_H */
