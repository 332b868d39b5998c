/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every size and bound of the probe, in one place. Each is overridable on
 * the compiler command line (-DMAX_FLOWS=64) so tests can shrink a table to
 * exercise the full-table paths without sending a million packets.
 */
#ifndef FLOWPROBE_LIMITS_H
#define FLOWPROBE_LIMITS_H

/* Flow table slots per CPU per generation (there are two: A and B) when
 * --max-flows is not given: MAX_FLOWS_TOTAL shared among the CPUs (RSS
 * gives each its share of the flows), but never fewer than MAX_FLOWS_MIN
 * per CPU, since one busy queue may see most of them. Powers of two. The
 * compile-time MAX_FLOWS only sizes the map definition; the daemon sets
 * the real size at load time. */
#ifndef MAX_FLOWS_TOTAL
#define MAX_FLOWS_TOTAL 524288
#endif
#ifndef MAX_FLOWS_MIN
#define MAX_FLOWS_MIN 65536
#endif
#ifndef MAX_FLOWS
#define MAX_FLOWS 262144
#endif

/* Ways of a set-associative flow table bucket: a new flow may take any
 * empty way of its bucket; when all are taken, the least recently seen
 * flow is evicted to the daemon through the eviction ring. */
#ifndef FLOW_TABLE_WAYS
#define FLOW_TABLE_WAYS 4
#endif

/* 802.1Q/802.1ad tags parsed; one more is a counted parse error. */
#ifndef MAX_VLAN_TAGS
#define MAX_VLAN_TAGS 2
#endif

/* MPLS label stack entries walked; a deeper stack is a counted parse
 * error (backbones use 2-4: transport, VPN, entropy labels). */
#ifndef MAX_MPLS_LABELS
#define MAX_MPLS_LABELS 6
#endif

/* Tunnels taken off one packet (GRE, IP-in-IP, VXLAN, ...); a packet
 * with more is counted as the flow the last one carried. */
#ifndef MAX_TUNNEL_DEPTH
#define MAX_TUNNEL_DEPTH 2
#endif

/* GTP-U extension headers walked before the payload. */
#define MAX_GTP_EXT_HDRS 4

/* IPv6 extension headers walked before giving up on finding L4. */
#ifndef MAX_IPV6_EXT_HDRS
#define MAX_IPV6_EXT_HDRS 6
#endif

/* Eviction ring size in bytes (power of two, multiple of the page size):
 * about 170k evicted flows between two drains. */
#ifndef EVICT_RING_BYTES
#define EVICT_RING_BYTES (16 * 1024 * 1024)
#endif

/* Event ring size in bytes (power of two, multiple of the page size). */
/* Bits of the established-flow hint (bpf/flow_table.bpf.h), and how many
 * drains the daemon lets pass between clearing it. */
#ifndef ESTABLISHED_HINT_BITS
#define ESTABLISHED_HINT_BITS 65536
#endif
#define ESTABLISHED_HINT_DRAINS 64

#ifndef EVENT_RING_BYTES
#define EVENT_RING_BYTES (1024 * 1024)
#endif

/* Payload is inspected on a flow's first packets in each table generation
 * only, and never once the flow is classified: a settled flow costs what
 * it cost before recognition existed. */
#ifndef INSPECT_PACKETS
#define INSPECT_PACKETS 4
#endif

/* BitTorrent endpoints (IP:port) remembered from plain detections, so
 * encrypted flows to them can be recognised. */
#ifndef MAX_BT_PEERS
#define MAX_BT_PEERS 65536
#endif

/* TCP connections tracked for reset analysis (default; --max-connections
 * sets it at load, rounded up to a power of two), in buckets of CONN_WAYS.
 * Preallocated: 230 bytes each (a struct conn_bucket over CONN_WAYS), so
 * the default takes 30.1 MB. */
#ifndef MAX_CONNS
#define MAX_CONNS 131072
#endif
#define CONN_WAYS 4

/* An established connection with no packet either way for this long may
 * give its way to a new one, and is no longer counted as open (as long as
 * a quiet SSH or BitTorrent connection stays up without keep-alives). */
#define CONN_IDLE_NS (300ULL * 1000000000ULL)

/* TCP options examined for the timestamp option (at most 40 bytes of
 * options; NOP padding counts as an option). */
#define MAX_TCP_OPTIONS 12

/* First fragments remembered to put later fragments into their flow. */
/* How long a first fragment's ports are kept against a later first
 * fragment with the same addresses, protocol and IP ID (Linux's
 * reassembly timeout, net.ipv4.ipfrag_time, is 30 s): within it the
 * first one's ports stand, after it the IP ID may be reused. */
#ifndef FRAG_TIMEOUT_NS
#define FRAG_TIMEOUT_NS (30ull * 1000000000ull)
#endif

#ifndef MAX_FRAG_TRACK
#define MAX_FRAG_TRACK 8192
#endif

/* Destinations (per ingress interface) whose route the inline datapath
 * remembers for export (include/route.h): 64 bytes each in buckets of
 * ROUTE_WAYS, 4 MB; without lookups (tap mode) one bucket. A power of
 * two. */
#ifndef ROUTE_CACHE_ENTRIES
#define ROUTE_CACHE_ENTRIES 65536
#endif

/* A route cache entry younger than this answers for its destination
 * without asking the FIB again: the FIB's answer costs 20 ns (IPv4) to
 * 90 ns (IPv6) a new flow, and a route change still reaches the cache
 * within this long (docs/export.md, "Egress interface and next hop"). */
#ifndef ROUTE_RECHECK_NS
#define ROUTE_RECHECK_NS (1000ull * 1000000ull)
#endif

#endif /* FLOWPROBE_LIMITS_H */
