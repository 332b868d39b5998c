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
 * sets it at load). Entries are allocated as connections appear (the map
 * is not preallocated) and aged out by the daemon; 176 bytes of value
 * each, so the default costs at most about 60 MB. */
#ifndef MAX_CONNS
#define MAX_CONNS 262144
#endif

/* TCP options examined for the timestamp option (at most 40 bytes of
 * options; NOP padding counts as an option). */
#define MAX_TCP_OPTIONS 12

/* First fragments remembered to put later fragments into their flow. */
#ifndef MAX_FRAG_TRACK
#define MAX_FRAG_TRACK 8192
#endif

#endif /* FLOWPROBE_LIMITS_H */
