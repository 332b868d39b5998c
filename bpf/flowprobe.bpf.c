// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The flowprobe XDP program: parse each packet (parse.bpf.h), count it into
 * its unidirectional flow in the live flow table (flow_table.bpf.h), and
 * pass it on (inline) or drop it after counting (tap). The daemon drains
 * the tables by swapping the live generation, so counts are exact: nothing
 * is lost between read and reset, and a full bucket evicts a flow whole to
 * the daemon instead of forgetting it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flowprobe.h"
#include "parse.bpf.h"
#include "encap.bpf.h"
#include "clock.bpf.h"
#include "config.bpf.h" /* tap_mode, replay_clock, track_connections,
			    count_tunnel_outer, route_lookups */
#include "flow_table.bpf.h"
#include "bittorrent.bpf.h"
#include "conn_track.bpf.h"
#include "route.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Replay only: the capture timestamp of the packet about to run, written
 * by userspace before each BPF_PROG_TEST_RUN, and its length on the wire
 * (a capture may hold fewer bytes than the wire carried: snap length). */
__u64 replay_now_ns = 0;
__u32 replay_wire_bytes = 0;

/* Per-CPU counters indexed by enum counter; written here, summed over CPUs
 * by the daemon and `flowprobe stats`. Per-CPU, so plain increments. */
struct counters {
	__u64 v[CNT__MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/*
 * Ports of recent first fragments, so later fragments (which carry no L4
 * header) are counted into the same flow. Shared LRU: the fragments of one
 * datagram may be spread over CPUs; a lost race or an evicted entry only
 * sends a later fragment to the ports-0 bucket of its addresses, counted
 * in CNT_FRAG_UNMATCHED, never loses it.
 */
struct frag_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 id;
	__u8 proto;
	__u8 ip_version;
	__u8 pad[2];
};

struct frag_ports {
	__u64 seen_ns; /* when the first fragment came */
	__u16 sport;
	__u16 dport;
	__u8 proto; /* upper-layer protocol the first fragment reached */
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FRAG_TRACK);
	__type(key, struct frag_key);
	__type(value, struct frag_ports);
} frag_track SEC(".maps");

/* Count in the slot a parser (see PARSE_ERR) or the route lookup named. */
static __always_inline void count_parse_error(struct counters *cnt, int err)
{
	__u64 idx = (__u32)-err;

	/* The encapsulation parsers' results come from global functions,
	 * unknown to the verifier: the barrier keeps the compiler from
	 * checking one copy of idx and indexing with another. */
	asm volatile("" : "+r"(idx));
	if (idx < CNT__MAX)
		cnt->v[idx]++;
}

/* An offset into the frame, as a number, taken where the parser stands.
 * Like bt_payload_offset: a packet pointer kept alive across the flow
 * update would keep the verifier from merging the parser's paths. */
static __always_inline __u32 frame_offset(struct xdp_md *ctx, const void *pos)
{
	__u64 off = pos - (void *)(long)ctx->data;

	asm volatile("" : "+r"(off));
	return off;
}

/* Feeds a TCP packet to the connection table and counts the outcome. */
static __always_inline void conn_account(struct xdp_md *ctx, __u64 offs, const struct flow_key *key,
					 __u64 now, struct flow_entry *entry, struct counters *cnt)
{
	__s64 r = conn_track_packet(ctx, offs, key, now, entry ? entry->conn_ref : 0);

	if (entry)
		entry->conn_ref = CT_REF_OF(r);

	if (r & CT_RESET)
		cnt->v[CNT_TCP_RESETS]++;
	if (r & CT_CREATED)
		cnt->v[CNT_CONNS_CREATED]++;
	if (r & CT_EVICTED)
		cnt->v[CNT_CONNS_EVICTED]++;
	if (r & CT_TABLE_FULL)
		cnt->v[CNT_CONN_TABLE_FULL]++;
	if (r & CT_REF_STALE)
		cnt->v[CNT_CONN_REF_STALE]++;
	if (r & CT_EVENT_LOST)
		cnt->v[CNT_EVENTS_LOST]++;
}

/* PPPoE, MPLS and the Ethernet of a pseudowire (encap.bpf.h): moves the
 * cursor to what the link carries and notes how it came. */
static __always_inline int link_step(struct xdp_md *ctx, struct cursor *c, struct packet_info *pi,
				     int proto)
{
	__be32 *top = c->pos;
	int r = link_decap(ctx, frame_offset(ctx, c->pos), proto);

	if (r <= 0)
		return r < 0 ? r : PARSE_ERR(CNT_NON_IP);
	pi->encap = ENCAP_WHAT(r);
	if ((pi->encap & ENCAP_MPLS) && (void *)(top + 1) <= c->end)
		pi->mpls_label = bpf_ntohl(*top);
	c->pos = (void *)(long)ctx->data + ENCAP_OFF(r);
	return ENCAP_PROTO(r);
}

/* Capture time in replay; live, the millisecond clock of clock.bpf.h. */
static __always_inline __u64 probe_now(void)
{
	return replay_clock ? replay_now_ns : clock_read();
}

static __always_inline void frag_key_fill(struct frag_key *fk, const struct flow_key *key,
					  const struct packet_info *pi)
{
	__builtin_memset(fk, 0, sizeof(*fk));
	__builtin_memcpy(fk->src, key->src, 16);
	__builtin_memcpy(fk->dst, key->dst, 16);
	fk->id = pi->frag_id;
	fk->proto = pi->frag_nexthdr;
	fk->ip_version = key->ip_version;
}

/* A first fragment: remember its ports for the fragments that follow.
 * Its IP ID is the sender's (or an attacker's) choice: a second first
 * fragment with the same ID must not rewrite the ports the first one
 * left for its later fragments, so a remembered entry stands until the
 * reassembly timeout has passed. */
static __always_inline void frag_remember(const struct flow_key *key, const struct packet_info *pi,
					  __u64 now, struct counters *cnt)
{
	struct frag_ports ports = {
		.seen_ns = now,
		.sport = key->sport,
		.dport = key->dport,
		.proto = key->proto,
	};
	struct frag_ports *old;
	struct frag_key fk;

	frag_key_fill(&fk, key, pi);
	old = bpf_map_lookup_elem(&frag_track, &fk);
	if (old && now - old->seen_ns < FRAG_TIMEOUT_NS) {
		cnt->v[CNT_FRAG_FIRST_REPEATED]++;
		return;
	}
	bpf_map_update_elem(&frag_track, &fk, &ports, BPF_ANY);
}

/* Bytes the wire carried, never what a length field claims: a host that
 * writes 65535 into a 42-byte frame's IP length gets 28 bytes counted
 * (the mismatch counted by name). Shorter claims stand: Ethernet pads
 * short packets. */
static __always_inline void clamp_ip_bytes(struct packet_info *pi, __u32 wire, __u32 l3_off,
					   struct counters *cnt)
{
	__u32 carried = wire > l3_off ? wire - l3_off : 0;

	if (pi->ip_bytes > carried) {
		pi->ip_bytes = carried;
		cnt->v[CNT_IP_LEN_BEYOND_FRAME]++;
	}
}

/* A later fragment: take the ports its first fragment had, if seen. */
static __always_inline void frag_recall(struct flow_key *key, const struct packet_info *pi,
					struct counters *cnt)
{
	struct frag_ports *ports;
	struct frag_key fk;

	frag_key_fill(&fk, key, pi);
	ports = bpf_map_lookup_elem(&frag_track, &fk);
	if (ports) {
		key->sport = ports->sport;
		key->dport = ports->dport;
		key->proto = ports->proto;
		cnt->v[CNT_FRAG_MATCHED]++;
	} else {
		cnt->v[CNT_FRAG_UNMATCHED]++;
	}
}

/* Counts the packet into its flow; returns the flow's entry, or NULL when
 * the packet could only be counted as uncounted. */
static __always_inline struct flow_entry *flow_account(const struct flow_key *key,
						       const struct packet_info *pi, __u64 now,
						       struct counters *cnt)
{
	struct flow_evicted evicted = {};
	struct flow_entry *entry = NULL;

	switch (flow_table_update(key, pi, now, &evicted, &entry)) {
	case FLOW_EVICTED:
		cnt->v[CNT_FLOWS_EVICTED]++;
		cnt->v[CNT_EVICTED_PACKETS] += evicted.packets;
		cnt->v[CNT_EVICTED_BYTES] += evicted.bytes;
		/* fall through: the packet itself is in the table */
	case FLOW_CREATED:
		cnt->v[CNT_FLOWS_CREATED]++;
		/* fall through */
	case FLOW_UPDATED:
		cnt->v[CNT_FLOW_PACKETS]++;
		cnt->v[CNT_FLOW_BYTES] += pi->ip_bytes;
		return entry;
	case FLOW_REFUSED:
		cnt->v[CNT_NEW_FLOWS_REFUSED]++;
		cnt->v[CNT_UNCOUNTED_PACKETS]++;
		cnt->v[CNT_UNCOUNTED_BYTES] += pi->ip_bytes;
		return NULL;
	case FLOW_NO_TABLE:
		cnt->v[CNT_TABLE_MISSING]++;
		/* fall through */
	case FLOW_NO_ROOM:
		cnt->v[CNT_UNCOUNTED_PACKETS]++;
		cnt->v[CNT_UNCOUNTED_BYTES] += pi->ip_bytes;
		return NULL;
	}
	return NULL;
}

/*
 * Parse and account one packet. Returns nothing: whatever happens, the
 * caller passes (or, in tap mode, drops) the packet. Parse failures are
 * counted in the counter the parser names.
 */
static __always_inline void process_packet(struct xdp_md *ctx, __u32 wire, struct counters *cnt)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct packet_info pi = {};
	/* 8-byte aligned: flow_key_equal compares it a u64 at a time. */
	struct flow_key key __attribute__((aligned(8)));
	struct flow_entry *entry;
	void *l3;
	__u64 now;
	__u32 payload_off = 0, l3_off, l4_off = 0, bt_kind = BT_NONE;
	bool tcp_whole = false; /* a TCP header the connection table can read */
	int proto, err;

	__builtin_memset(&key, 0, sizeof(key));
	key.ifindex = ctx->ingress_ifindex;

	proto = parse_ethernet(&c, &key, &pi, true);
	if (proto < 0) {
		count_parse_error(cnt, proto);
		return;
	}
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		proto = link_step(ctx, &c, &pi, proto);

		/*
	 * IP, and the tunnels in it: each level taken off replaces the flow
	 * the packet is counted in by the one inside (docs/architecture.md,
	 * "Encapsulations"). A tunnel that cannot be taken off leaves the
	 * packet in its outer flow; an inner IP header that is broken is
	 * counted by name like a broken outer one.
	 */
#pragma unroll
	for (int depth = 0; depth <= MAX_TUNNEL_DEPTH; depth++) {
		int inner;

		if (proto < 0) {
			count_parse_error(cnt, proto);
			return;
		}
		l3 = c.pos;
		l3_off = frame_offset(ctx, l3);
		if (proto == ETH_P_IP) {
			proto = parse_ipv4(&c, &key, &pi);
		} else if (proto == ETH_P_IPV6) {
			proto = parse_ipv6(&c, &key, &pi);
		} else {
			cnt->v[CNT_NON_IP]++;
			return;
		}
		if (count_tunnel_outer || proto < 0)
			break;
		if (pi.is_fragment) {
			/* Only the first fragment holds the tunnel header. */
			if (proto == PROTO_IPIP || proto == PROTO_IPV6 || proto == PROTO_GRE)
				cnt->v[CNT_TUNNEL_OUTER_FRAGMENT]++;
			break;
		}
		if (!tunnel_candidate(&c, proto))
			break;
		inner = tunnel_decap(ctx, frame_offset(ctx, c.pos), proto);
		if (inner == 0)
			break;
		if (inner < 0) {
			count_parse_error(cnt, inner);
			break;
		}
		if (depth == MAX_TUNNEL_DEPTH) {
			cnt->v[CNT_TUNNEL_TOO_DEEP]++;
			break;
		}
		if (depth == 0) {
			cnt->v[CNT_TUNNEL_DECAPSULATED]++;
			pi.tunnel = ENCAP_WHAT(inner);
		} else {
			pi.encap |= ENCAP_NESTED;
		}
		/* The outer header's addresses, ports and IP facts give way to
		 * the inner packet's; what carried it stays in pi. */
		__builtin_memset(key.src, 0, sizeof(key.src));
		__builtin_memset(key.dst, 0, sizeof(key.dst));
		key.sport = 0;
		key.dport = 0;
		pi.tcp_flags = 0;
		c.pos = (void *)(long)ctx->data + ENCAP_OFF(inner);
		inner = ENCAP_PROTO(inner);
		proto = inner;
	}

	if (proto >= 0 || proto == PARSE_ERR(CNT_IPV6_EXT_TOO_LONG))
		clamp_ip_bytes(&pi, wire, l3_off, cnt);
	now = probe_now();
	if (proto == PARSE_ERR(CNT_IPV6_EXT_TOO_LONG)) {
		/* Addresses known, L4 not reached: account with ports 0. */
		cnt->v[CNT_IPV6_EXT_TOO_LONG]++;
	} else if (proto < 0) {
		count_parse_error(cnt, proto);
		return;
	} else if (pi.is_fragment == FRAG_LATER) {
		cnt->v[CNT_FRAGMENTS]++;
		frag_recall(&key, &pi, cnt);
	} else {
		l4_off = frame_offset(ctx, c.pos);
		err = parse_l4(&c, proto, &key, &pi);
		if (err < 0) {
			cnt->v[CNT_L4_TRUNCATED]++;
			pi.flags |= FLOW_F_L4_TRUNCATED;
		} else {
			pi.payload_len = payload_length(&c, l3, &pi);
			payload_off = bt_payload_offset(ctx, &c);
			tcp_whole = proto == PROTO_TCP;
		}
		if (pi.is_fragment == FRAG_FIRST) {
			cnt->v[CNT_FRAGMENTS]++;
			frag_remember(&key, &pi, now, cnt);
		}
	}
	entry = flow_account(&key, &pi, now, cnt);
	/* A flow new to this table generation, live inline: look its route
	 * up. */
	if (entry && entry->val.packets == 1 && route_lookups)
		count_parse_error(cnt, pi.tunnel || (pi.encap & ENCAP_MPLS) ?
					       -CNT_ROUTE_NOT_LOOKED_UP :
					       -route_learn(ctx, &key, pi.tos, now));
	/* Recognition looks at a flow's first packets only, and never again
	 * once it is classified: a settled flow pays one compare here. */
	if (entry && pi.payload_len && entry->val.app == APP_UNKNOWN &&
	    entry->val.packets <= INSPECT_PACKETS)
		bt_kind = bt_inspect(ctx, payload_off, &key, &pi, entry, now, cnt->v);
	if (tcp_whole && track_connections)
		conn_account(ctx, CT_OFFS(l3_off, l4_off, pi.payload_len, bt_kind), &key, now, entry,
			     cnt);
}

SEC("xdp")
int flowprobe_xdp(struct xdp_md *ctx)
{
	struct counters *cnt = bpf_map_lookup_elem(&counters, &KEY_ZERO);

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* The frame's length on the wire: what XDP sees live; in replay, what
	 * the capture says the wire carried. */
	__u32 wire = replay_clock ? replay_wire_bytes : data_end - data;

	if (cnt) {
		cnt->v[CNT_PACKETS]++;
		cnt->v[CNT_BYTES] += wire;
		process_packet(ctx, wire, cnt);
	}
	return tap_mode ? XDP_DROP : XDP_PASS;
}
