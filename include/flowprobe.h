/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures and enums shared by the XDP datapath (bpf/) and the daemon
 * (user/). Everything that crosses the kernel/user boundary through a map or
 * a ring buffer is declared here once, with explicit padding and a size
 * assertion, so that the two sides can never disagree about a layout.
 */
#ifndef FLOWPROBE_H
#define FLOWPROBE_H

#include "flowprobe_limits.h"

#ifndef __bpf__
#include <linux/types.h> /* the BPF side gets these from vmlinux.h */
#include <linux/bpf.h> /* struct bpf_spin_lock */
#endif

/*
 * A unidirectional flow, as NetFlow defines one. IPv4 addresses sit in the
 * first 4 bytes of src/dst and the rest stays zero: the datapath zeroes the
 * whole key before filling it, so equal flows always hash equally.
 * For ICMP/ICMPv6, sport is 0 and dport is type << 8 | code, as NetFlow
 * exporters conventionally do. Ports are in host byte order.
 */
struct flow_key {
	__u32 ifindex;
	__u16 vlan; /* outer 802.1Q/802.1ad VID, 0 when untagged */
	__u8 ip_version; /* 4 or 6 */
	__u8 proto; /* IP protocol (after IPv6 extension headers) */
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
};
_Static_assert(sizeof(struct flow_key) == 44, "flow_key layout");

/* flow_value.flags */
enum flow_value_flags {
	FLOW_F_FRAGMENTED = 1 << 0, /* at least one fragment counted here */
	FLOW_F_L4_TRUNCATED = 1 << 1, /* L4 header cut short: ports unknown */
	FLOW_F_EXT_CHAIN_TOO_LONG = 1 << 2, /* IPv6 walk stopped at the bound */
	FLOW_F_BT_PSTRLEN = 1 << 3, /* payload so far: 0x13 alone, the
					     first byte of a split BitTorrent
					     handshake */
};

/*
 * Per-CPU counters of one flow in one table generation. bytes are IP bytes
 * (IPv4 total length, IPv6 payload length + 40), as NetFlow's IN_BYTES.
 * Times are in the probe clock's nanoseconds (monotonic, or capture time
 * in replay).
 */
struct flow_value {
	__u64 packets;
	__u64 bytes;
	__u64 first_ns;
	__u64 last_ns;
	__u8 tcp_flags; /* OR of every packet's flags (FIN=0x01 ... CWR=0x80) */
	__u8 tos; /* ToS/traffic class of the first packet */
	__u8 ttl_min;
	__u8 ttl_max;
	__u8 app; /* enum flow_app */
	__u8 flags; /* enum flow_value_flags */
	/* What carried the flow's first packet (docs/architecture.md,
	 * "Encapsulations"): kept with the flow, outside the key, so a
	 * flow is the same flow however it is carried. */
	__u8 tunnel; /* enum flow_tunnel: the outermost tunnel taken off */
	__u8 encap; /* enum flow_encap bits */
	__u32 mpls_label; /* top label stack entry as on the wire (label <<
			     12 | TC << 9 | S << 8 | TTL), 0 without MPLS */
	__u16 inner_vlan; /* second 802.1Q/802.1ad VID (QinQ), 0 if none */
	__u8 pad2[2];
};
_Static_assert(sizeof(struct flow_value) == 48, "flow_value layout");

/* flow_value.tunnel: the outermost tunnel the datapath took off to reach
 * the flow (with --tunnels outer, none are taken off: always 0). */
enum flow_tunnel {
	TUN_NONE = 0,
	TUN_IPIP, /* IPv4 or IPv6 in IPv4 or IPv6 (protocols 4, 41) */
	TUN_GRE, /* GRE (protocol 47), IP or Ethernet inside */
	TUN_ERSPAN, /* GRE carrying ERSPAN type II or III */
	TUN_VXLAN, /* UDP 4789 */
	TUN_GENEVE, /* UDP 6081 */
	TUN_GTPU, /* GTP-U G-PDU, UDP 2152 */
	TUN_TEREDO, /* IPv6 in UDP 3544 */
	TUN_GRE_UDP, /* GRE in UDP 4754 (RFC 8086), IP inside */
};

/* flow_value.encap bits */
enum flow_encap {
	ENCAP_PPPOE = 1 << 0, /* PPPoE session */
	ENCAP_MPLS = 1 << 1, /* MPLS label stack (mpls_label is valid) */
	ENCAP_PSEUDOWIRE = 1 << 2, /* Ethernet pseudowire under MPLS */
	ENCAP_NESTED = 1 << 3, /* more than one tunnel taken off */
};

enum flow_app {
	APP_UNKNOWN = 0,
	APP_BITTORRENT = 1,
};

/* How a BitTorrent flow was recognised (docs/detection.md, "BitTorrent
 * recognition"). */
enum bt_kind {
	BT_NONE = 0,
	BT_HANDSHAKE, /* TCP peer-wire handshake (BEP 3), also when split */
	BT_MESSAGE, /* peer-wire message between known BitTorrent peers */
	BT_UTP, /* uTP header (BEP 29) */
	BT_DHT, /* bencoded DHT query/response (BEP 5) */
	BT_TRACKER, /* UDP tracker connect (BEP 15) */
	BT_LSD, /* Local Service Discovery (BEP 14) */
	BT_HTTP_TRACKER, /* GET /announce? or /scrape? */
	BT_ENCRYPTED, /* MSE/PE guess: high entropy to a known peer */
};

enum event_type {
	EVENT_BITTORRENT = 1, /* a flow recognised: struct bt_event_facts */
	EVENT_TCP_RESET, /* every RST seen: struct tcp_event */
	EVENT_TCP_OPEN, /* a connection's first SYN: struct tcp_event */
	EVENT_TCP_ACCEPT, /* its first SYN-ACK: struct tcp_event */
	EVENT_TCP_AFTER_RESET, /* a side's first packet after a RST,
				     kind: enum after_reset_kind */
};

/* ---- TCP connections: the facts forged-reset detection works from ----- */

/*
 * A TCP connection, both directions in one entry: the endpoints in
 * canonical order (lower address, then lower port, first), so a packet
 * finds its connection whichever way it goes. "Side" 0 or 1 below is an
 * index into addr/port. Interfaces and VLANs are left out on purpose: on
 * a router the two directions arrive on different interfaces.
 */
struct conn_key {
	__u8 ip_version;
	__u8 pad[3];
	__u8 addr[2][16]; /* IPv4 in the first 4 bytes, rest zero */
	__u16 port[2]; /* host byte order */
};
_Static_assert(sizeof(struct conn_key) == 40, "conn_key layout");

/* conn_side.flags */
enum conn_side_flags {
	SIDE_SEEN = 1 << 0, /* sent a packet other than a RST */
	SIDE_SYN = 1 << 1, /* sent a SYN: isn is valid */
	SIDE_FIN = 1 << 2, /* sent a FIN */
	SIDE_RST = 1 << 3, /* sent a RST: rst_* are valid */
	SIDE_TS = 1 << 4, /* sends TCP timestamps: last_tsval valid */
	SIDE_DF = 1 << 5, /* its last packet had DF set (IPv4) */
	SIDE_BT_HANDSHAKE = 1 << 6, /* sent a BitTorrent handshake */
	SIDE_BT_PIECE = 1 << 7, /* sent a BitTorrent piece message */
};

/*
 * What one side of a connection has shown, from its packets other than
 * RSTs (a RST never rewrites the history it is judged against), plus its
 * first RST. Sequence numbers compare in serial arithmetic (RFC 1982).
 */
struct conn_side {
	__u64 last_ns; /* its last packet other than a RST */
	__u64 rst_ns; /* its first RST */
	__u32 packets; /* packets other than RSTs, saturating */
	__u32 payload; /* payload bytes sent, saturating */
	__u32 isn; /* SYN's sequence number (SIDE_SYN) */
	__u32 snd_max; /* highest seq + len (SYN and FIN count 1) */
	__u32 max_ack; /* highest ack sent */
	__u32 last_tsval; /* TCP timestamp of its last packet (SIDE_TS) */
	__u32 rst_seq; /* first RST's seq (SIDE_RST) */
	__u32 rst_ack; /* first RST's ack (0 without the ACK flag) */
	__u16 last_ip_id; /* IPv4 ID of its last packet (0 on IPv6) */
	__u16 window; /* last advertised window, unscaled */
	__u8 ttl_last; /* TTL / hop limit of its last packet */
	__u8 ttl_min;
	__u8 ttl_max;
	__u8 flags; /* enum conn_side_flags */
	__u8 ipid_run; /* consecutive IP ID steps in [1, IPID_SEQ_STEP],
			      saturating at 255: how sequential its IDs are */
	__u8 rst_count; /* RSTs it sent, saturating */
	__u8 after_rst; /* enum after_reset_kind bits already reported */
	__u8 ack_seen; /* sent a packet with ACK: max_ack is valid */
	__u8 pad[4];
};
_Static_assert(sizeof(struct conn_side) == 64, "conn_side layout");

/* conn_state.flags */
enum conn_flags {
	CONN_MIDSTREAM = 1 << 0, /* first packet seen was not a SYN */
	CONN_SYNACK = 1 << 1, /* the responder's SYN-ACK was seen */
	CONN_ESTABLISHED = 1 << 2, /* the initiator acked the SYN-ACK, or
				      midstream data flowed both ways */
	CONN_BITTORRENT = 1 << 3, /* a BitTorrent signature on either side */
};

#define CONN_SIDE_UNKNOWN 0xff

/*
 * One connection's state in the connection table. Read and written only
 * under its bucket's lock (struct conn_bucket). Ordered by how often a
 * packet touches it: with the key in front (struct conn_slot), the first
 * 64 bytes hold what every packet reads (key, flags, last_ns, ack_ns),
 * then one line's worth per side; the times only a handshake or a RST
 * writes come last. A packet of an established connection reads its
 * bucket's tags, these 64 bytes and its own side's 64: three to five
 * cache lines, as the bucket falls (padding ways to whole lines, 272
 * bytes a connection, measured no faster at 100k connections:
 * docs/performance.md).
 */
struct conn_state {
	__u8 initiator; /* side that sent the first SYN, or
				   CONN_SIDE_UNKNOWN (midstream) */
	__u8 flags; /* enum conn_flags */
	__u8 pad[6];
	__u64 last_ns; /* last packet either way, RSTs included; 0
				   until the first (set with first_ns) */
	__u64 ack_ns; /* initiator's ACK of the SYN-ACK: with
				   syn_ns and synack_ns, the RTT at the probe */
	struct conn_side side[2];
	__u64 first_ns;
	__u64 syn_ns; /* first SYN */
	__u64 synack_ns; /* first SYN-ACK */
	__u64 rst_last_ns; /* the latest RST from either side */
};
_Static_assert(sizeof(struct conn_state) == 184, "conn_state layout");

/* A way of a bucket: empty while key.ip_version is 0. */
struct conn_slot {
	struct conn_key key;
	struct conn_state st;
};
_Static_assert(sizeof(struct conn_slot) == 224, "conn_slot layout");
_Static_assert(__builtin_offsetof(struct conn_slot, st.side) == 64, "conn_slot: hot fields first");

/*
 * The connection table is an array of set-associative buckets, shared by
 * all CPUs: the two directions of a connection may be processed on two
 * CPUs at once, so every read-modify-write of a bucket happens under its
 * lock. A seeded hash of the canonical key picks the bucket (cheaper than
 * a kernel hash map's lookup of a 40-byte key), and a full bucket makes
 * room by evicting what matters least (see conn_track.bpf.h). The daemon
 * reads buckets with BPF_F_LOCK and never writes them.
 */
struct conn_bucket {
	struct bpf_spin_lock lock;
	__u32 hints; /* enum conn_bucket_hints */
	__u32 tag[CONN_WAYS]; /* each way's key hash: one cache line tells
				   which way can hold a key */
	struct conn_slot way[CONN_WAYS];
};
/* 230 bytes a connection: flowprobe_limits.h states it, with the default's
 * total; `run --help` computes it from this size. */
_Static_assert(sizeof(struct conn_bucket) == 230 * CONN_WAYS, "conn_bucket layout");

/* What the datapath may read without the lock to decide work that must
 * happen outside it: set under the lock when a way gains the property,
 * recomputed when a way is given to a new connection. A stale hint only
 * costs a wasted reservation or payload read. */
enum conn_bucket_hints {
	BUCKET_HINT_RST = 1 << 0, /* a way has seen a RST */
	BUCKET_HINT_BT = 1 << 1, /* a way carries BitTorrent */
};

/* The packet behind a TCP event, as it was on the wire. */
struct tcp_packet_facts {
	__u32 seq;
	__u32 ack;
	__u32 tsval; /* valid when has_ts */
	__u32 payload_len;
	__u16 ip_id; /* IPv4 only; 0 on IPv6 */
	__u16 window;
	__u8 ttl;
	__u8 tcp_flags;
	__u8 df; /* IPv4 DF bit */
	__u8 has_ts;
};
_Static_assert(sizeof(struct tcp_packet_facts) == 24, "tcp_packet_facts layout");

/* EVENT_TCP_AFTER_RESET kinds (bits: one packet can be both). */
enum after_reset_kind {
	AFTER_RST_PACKET = 1 << 0, /* first packet from this side after a
				       RST from either side */
	AFTER_RST_NEW_DATA = 1 << 1, /* this side sent a RST, then data
				       beyond that RST's seq (signal R1) */
	AFTER_RST_LATE = 1 << 2, /* first packet from this side more than
				       RESET_DIED_GRACE_NS after the latest
				       RST: the connection did not die (R12) */
};

/*
 * A TCP event: the packet, and the connection as it stood just before
 * it (so a RST is judged against the history it arrived into). The
 * event's flow key is the packet's own: key.src sent it, and `sender`
 * says which side of the connection that is.
 */
struct tcp_event {
	struct tcp_packet_facts pkt;
	struct conn_side snd; /* the sender's side */
	struct conn_side rcv; /* the other side */
	__u64 conn_first_ns;
	__u64 syn_ns;
	__u64 synack_ns;
	__u64 ack_ns;
	__u8 sender; /* 0 or 1: the sender's side index */
	__u8 initiator; /* conn_state.initiator */
	__u8 conn_flags; /* enum conn_flags */
	__u8 pad;
	__u32 signals; /* EVENT_TCP_RESET: the signals the datapath
				   computed, bit n for Rn (reset_signals.h) */
};
_Static_assert(sizeof(struct tcp_event) == 192, "tcp_event layout");

/* EVENT_BITTORRENT: what a handshake said (zero when the segment ended
 * before the info_hash). */
struct bt_event_facts {
	__u8 reserved[8]; /* the 8 reserved (extension) bytes */
	__u8 info_hash[20]; /* the torrent's info_hash */
};

/*
 * One event from the datapath, through the event ring: what was seen, on
 * which flow, when (probe clock), and the facts behind it. Userspace turns
 * events into verdicts and alarms; the datapath only reports.
 */
struct event {
	__u64 time_ns;
	struct flow_key key;
	__u8 type; /* enum event_type */
	__u8 kind; /* enum bt_kind; TCP: enum after_reset_kind
				   bits (an OPEN or ACCEPT may carry them) */
	__u8 pad[2];
	union {
		struct bt_event_facts bt;
		struct tcp_event tcp;
	};
};
_Static_assert(sizeof(struct event) == 248, "event layout");

/*
 * One way of a flow table bucket: a flow and its counts on one CPU. Also
 * the record of the eviction ring: a flow pushed out of a full bucket
 * travels to the daemon whole, so making room never loses a count.
 * An entry whose packets field is 0 is empty and entirely zero.
 */
struct flow_entry {
	struct flow_key key;
	__u32 conn_ref; /* TCP: where the flow's connection is in the
			   connection table, a guess checked before use
			   (conn_track.bpf.h); 0 unknown. Not exported. */
	struct flow_value val;
};
_Static_assert(sizeof(struct flow_entry) == 96, "flow_entry layout");

/*
 * A set-associative bucket: FLOW_TABLE_WAYS entries, filled from way 0 up
 * and never emptied one by one (the daemon zeroes a whole table generation
 * after draining it), so the first empty way ends a lookup.
 */
struct flow_bucket {
	struct flow_entry way[FLOW_TABLE_WAYS];
};

/*
 * The touched bitmap of a generation: one bit per FLOW_TOUCH_GROUP buckets
 * of a CPU region, set by the datapath when a flow takes way 0 of a bucket
 * (the first flow of a bucket in this generation), so the drain visits only
 * the groups that hold flows instead of every bucket of the table.
 *
 * Where: in the generation's own map, after the nr_cpus regions of
 * buckets: FLOW_TOUCH_VALUES(buckets per region) map values per CPU, each
 * used as FLOW_TOUCH_WORDS 64-bit words. One map, so the swap of live_table
 * swaps the bitmap with its buckets in one update; two maps could not be
 * swapped together, and a program could set a bit in the other
 * generation's bitmap. Each CPU writes only its own values, so the bits
 * need no atomics (XDP runs one program at a time per CPU), and a value
 * starts on a cache line (384 bytes), so CPUs share no line either.
 */
#define FLOW_TOUCH_GROUP 64
#define FLOW_TOUCH_WORDS 32
#define FLOW_TOUCH_GROUPS_PER_VALUE (FLOW_TOUCH_WORDS * 64)
#define FLOW_TOUCH_VALUES(nbuckets)                                      \
	((((nbuckets) + FLOW_TOUCH_GROUP - 1) / FLOW_TOUCH_GROUP +       \
	  FLOW_TOUCH_GROUPS_PER_VALUE - 1) /                             \
	 FLOW_TOUCH_GROUPS_PER_VALUE)
/* Map values of one generation: the buckets, then the bitmap. */
#define FLOW_GEN_VALUES(ncpus, nbuckets) \
	((ncpus) * ((nbuckets) + FLOW_TOUCH_VALUES(nbuckets)))
_Static_assert(sizeof(struct flow_bucket) >= FLOW_TOUCH_WORDS * 8,
	       "a bucket holds a value of the touched bitmap");
_Static_assert(sizeof(struct flow_bucket) % 64 == 0,
	       "bitmap values of two CPUs share no cache line");

/*
 * Per-CPU counters, one slot each, indexed by enum counter. Every way a
 * packet can leave the program has a slot. The list is an X-macro so the
 * enum, the names `flowprobe stats` prints and their help text come from
 * one place: X(enum name, short name, what it counts).
 */
#define FLOWPROBE_COUNTERS(X)                                                                                                            \
	X(CNT_PACKETS, "packets", "packets the program saw")                                                                             \
	X(CNT_BYTES, "bytes", "frame bytes of those packets")                                                                            \
	X(CNT_FLOW_PACKETS, "flow_packets", "packets counted into a flow table entry")                                                   \
	X(CNT_FLOW_BYTES, "flow_bytes", "IP bytes counted into a flow table entry")                                                      \
	X(CNT_FLOWS_CREATED, "flows_created", "entries created in a flow table")                                                         \
	X(CNT_FLOWS_EVICTED, "flows_evicted",                                                                                            \
	  "bucket full: flows handed to the daemon early through the eviction ring")                                                     \
	X(CNT_EVICTED_PACKETS, "evicted_packets",                                                                                        \
	  "packets in those evicted flows (counted, not lost)")                                                                          \
	X(CNT_EVICTED_BYTES, "evicted_bytes",                                                                                            \
	  "IP bytes in those evicted flows (counted, not lost)")                                                                         \
	X(CNT_UNCOUNTED_PACKETS, "uncounted_packets",                                                                                    \
	  "bucket and eviction ring full: packets in no flow")                                                                           \
	X(CNT_UNCOUNTED_BYTES, "uncounted_bytes",                                                                                        \
	  "bucket and eviction ring full: IP bytes in no flow")                                                                          \
	X(CNT_NON_IP, "non_ip", "frames that are not IP (ARP, LLDP, ...)")                                                               \
	X(CNT_PPPOE_DISCOVERY, "pppoe_discovery",                                                                                        \
	  "PPPoE discovery frames (PADI, PADO, PADR, PADS, PADT): not IP")                                                               \
	X(CNT_PPP_CONTROL, "ppp_control",                                                                                                \
	  "PPPoE session frames of PPP control (LCP, IPCP, IPV6CP, PAP, CHAP, ...): not IP")                                             \
	X(CNT_MPLS_NON_IP, "mpls_non_ip",                                                                                                \
	  "MPLS frames whose payload is neither IP nor an Ethernet pseudowire with a control word")                                      \
	X(CNT_ERR_PPPOE_TRUNCATED, "err_pppoe_truncated",                                                                                \
	  "frames cut inside the PPPoE or PPP header")                                                                                   \
	X(CNT_ERR_PPPOE_BAD_HEADER, "err_pppoe_bad_header",                                                                              \
	  "PPPoE session frames with a version/type other than 1/1 or a code other than 0")                                              \
	X(CNT_ERR_MPLS_TRUNCATED, "err_mpls_truncated",                                                                                  \
	  "frames cut inside the MPLS label stack or the byte after it")                                                                 \
	X(CNT_ERR_MPLS_TOO_DEEP, "err_mpls_too_deep", "MPLS stacks deeper than MAX_MPLS_LABELS")                                         \
	X(CNT_TUNNEL_DECAPSULATED, "tunnel_decapsulated",                                                                                \
	  "packets counted as the flow inside a tunnel (GRE, GRE in UDP, IP-in-IP, VXLAN, Geneve, GTP-U, Teredo)")                                   \
	X(CNT_TUNNEL_NOT_IP, "tunnel_not_ip",                                                                                            \
	  "tunnel packets carrying no IP (GTP signalling, Teredo bubbles with no IPv6, GRE of PPP, ...): counted as the outer flow")     \
	X(CNT_TUNNEL_OUTER_FRAGMENT, "tunnel_outer_fragment",                                                                            \
	  "tunnel packets fragmented outside: not decapsulated, counted as the outer flow")                                              \
	X(CNT_TUNNEL_TRUNCATED, "tunnel_truncated",                                                                                      \
	  "tunnel headers (GRE, ERSPAN, VXLAN, Geneve, GTP-U, Teredo) cut short or malformed: counted as the outer flow")                \
	X(CNT_TUNNEL_TOO_DEEP, "tunnel_too_deep",                                                                                        \
	  "tunnels nested deeper than MAX_TUNNEL_DEPTH: counted as the deepest flow reached")                                            \
	X(CNT_ERR_ETH_TRUNCATED, "err_eth_truncated", "frames shorter than an Ethernet header")                                          \
	X(CNT_ERR_VLAN_TRUNCATED, "err_vlan_truncated", "frames cut inside a VLAN tag")                                                  \
	X(CNT_ERR_VLAN_TOO_DEEP, "err_vlan_too_deep",                                                                                    \
	  "frames with more VLAN tags than MAX_VLAN_TAGS")                                                                               \
	X(CNT_ERR_IPV4_TRUNCATED, "err_ipv4_truncated",                                                                                  \
	  "frames cut inside the IPv4 header or options")                                                                                \
	X(CNT_ERR_IPV4_BAD_IHL, "err_ipv4_bad_ihl", "IPv4 headers with IHL < 5")                                                         \
	X(CNT_ERR_IPV4_BAD_VERSION, "err_ipv4_bad_version",                                                                              \
	  "ethertype IPv4 but version field not 4")                                                                                      \
	X(CNT_ERR_IPV6_TRUNCATED, "err_ipv6_truncated",                                                                                  \
	  "frames cut inside the IPv6 header or an extension header")                                                                    \
	X(CNT_ERR_IPV6_BAD_VERSION, "err_ipv6_bad_version",                                                                              \
	  "ethertype IPv6 but version field not 6")                                                                                      \
	X(CNT_IPV6_EXT_TOO_LONG, "ipv6_ext_too_long",                                                                                    \
	  "IPv6 chains longer than MAX_IPV6_EXT_HDRS (counted, ports 0)")                                                                \
	X(CNT_L4_TRUNCATED, "l4_truncated",                                                                                              \
	  "L4 header cut short (counted into a flow with ports 0)")                                                                      \
	X(CNT_FRAGMENTS, "fragments", "IP fragments, first and later")                                                                   \
	X(CNT_FRAG_MATCHED, "frag_matched", "later fragments counted into their flow by IP ID")                                          \
	X(CNT_FRAG_UNMATCHED, "frag_unmatched",                                                                                          \
	  "later fragments whose first was not seen (ports 0)")                                                                          \
	X(CNT_FRAG_FIRST_REPEATED, "frag_first_repeated",                                                                                \
	  "first fragments reusing a remembered IP ID within FRAG_TIMEOUT_NS: the ports of the first one kept")                          \
	X(CNT_IP_LEN_BEYOND_FRAME, "ip_len_beyond_frame",                                                                                \
	  "IP headers claiming more bytes than the frame carried: the frame's bytes counted")                                            \
	X(CNT_BT_FLOWS, "bt_flows", "flows recognised as BitTorrent (per table generation)")                                             \
	X(CNT_EVENTS_LOST, "events_lost", "events that found the event ring full")                                                       \
	X(CNT_TCP_RESETS, "tcp_resets", "TCP packets with RST (each one is reported as an event)")                                       \
	X(CNT_CONNS_CREATED, "conns_created", "TCP connections entered in the connection table")                                         \
	X(CNT_CONNS_EVICTED, "conns_evicted",                                                                                            \
	  "connections (closed, half-open or long idle first) that made room for a new one")                                             \
	X(CNT_CONN_TABLE_FULL, "conn_table_full",                                                                                        \
	  "TCP packets of connections a bucket of live connections had no room for (reset analysis blind to them; flows still counted)") \
	X(CNT_CONN_REF_STALE, "conn_ref_stale",                                                                                          \
	  "TCP packets whose connection was given to another while they looked it up: not tracked, as if missed (flows still counted)")  \
	X(CNT_TABLE_MISSING, "table_missing",                                                                                            \
	  "no live flow table or bucket (cannot happen; counted as uncounted too)")                                                      \
	X(CNT_NEW_FLOWS_REFUSED, "new_flows_refused",                                                                                    \
	  "packets of new flows refused an eviction: bucket full and the eviction ring past half, kept for established flows (in uncounted_* too)") \
	FLOWPROBE_ROUTE_COUNTERS(X)

/*
 * Inline mode: the route of each flow entering the flow table
 * (bpf/route.bpf.h), one counter per outcome, whether the FIB answered or
 * the route cache did for a destination it confirmed within
 * ROUTE_RECHECK_NS. The first ten are in the order of BPF_FIB_LKUP_RET_*
 * (CNT_ROUTE_FORWARDED + the kernel's code).
 */
#define FLOWPROBE_ROUTE_COUNTERS(X)                                                                          \
	X(CNT_ROUTE_FORWARDED, "route_forwarded", "new flows whose route gave the egress interface")            \
	X(CNT_ROUTE_BLACKHOLE, "route_blackhole", "new flows to a blackhole route")                             \
	X(CNT_ROUTE_UNREACHABLE, "route_unreachable", "new flows to an unreachable route")                      \
	X(CNT_ROUTE_PROHIBIT, "route_prohibit", "new flows to a prohibit route")                                \
	X(CNT_ROUTE_NOT_FORWARDED, "route_not_forwarded",                                                       \
	  "new flows the router does not forward (local delivery, broadcast, multicast)")                      \
	X(CNT_ROUTE_FORWARDING_DISABLED, "route_forwarding_disabled",                                           \
	  "new flows on an ingress interface with forwarding off (net.ipv4.ip_forward, IPv6 forwarding)")      \
	X(CNT_ROUTE_UNSUPPORTED_LWT, "route_unsupported_lwt",                                                   \
	  "new flows to a lightweight-tunnel route (MPLS, seg6 encapsulation): egress unknown")                \
	X(CNT_ROUTE_NO_NEIGHBOUR, "route_no_neighbour", "new flows whose route lookup found no neighbour")      \
	X(CNT_ROUTE_FRAG_NEEDED, "route_frag_needed", "new flows whose route lookup said fragmentation needed") \
	X(CNT_ROUTE_NO_SOURCE, "route_no_source", "new flows whose route lookup found no source address")       \
	X(CNT_ROUTE_LOOKUP_ERROR, "route_lookup_error",                                                         \
	  "new flows whose route lookup the kernel refused (an error, or a code newer than this program)")     \
	X(CNT_ROUTE_NOT_LOOKED_UP, "route_not_looked_up",                                                       \
	  "new flows carried in a tunnel or MPLS, which the router forwards by the outer header: no lookup")

#define FLOWPROBE_COUNTER_ENUM(id, name, help) id,
enum counter {
	FLOWPROBE_COUNTERS(FLOWPROBE_COUNTER_ENUM) CNT__MAX,
};

#endif /* FLOWPROBE_H */
