/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A finished flow as the exporters see it: the datapath's key, the counts
 * summed over CPUs and over drains, times already in wall-clock
 * milliseconds, and why the flow ended. The flow cache produces these;
 * NetFlow v9 (and later JSON) consume them.
 */
#ifndef FLOW_RECORD_H
#define FLOW_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "flowprobe.h"
#include "lib/hash.h"

/* NetFlow flowEndReason (IPFIX IE 136) values. */
enum flow_end_reason {
	END_IDLE = 1, /* inactive timeout */
	END_ACTIVE = 2, /* active timeout: the flow goes on in a new record */
	END_OF_FLOW = 3, /* TCP FIN or RST seen, then a short grace */
	END_FORCED = 4, /* probe shutting down */
	END_LACK_OF_RESOURCES = 5,
};

/* The reason's name in every text output (JSON Lines, the fleet store,
 * docs/export.md): one table, so a dashboard joining them sees one word. */
static inline const char *flow_end_reason_name(uint8_t reason)
{
	switch (reason) {
	case END_IDLE:
		return "idle";
	case END_ACTIVE:
		return "active";
	case END_OF_FLOW:
		return "end";
	case END_FORCED:
		return "forced";
	case END_LACK_OF_RESOURCES:
		return "lack";
	}
	return "unknown";
}

/*
 * The worst verdict on any reset of the flow's TCP connection, as the
 * NetFlow export carries it (netflow9.h: the reset templates). Not the
 * same numbering as reset_analysis.h's enum reset_verdict: here 0 must
 * mean "no reset", so a zeroed record carries no verdict.
 */
enum flow_reset_verdict {
	FLOW_RESET_NONE = 0, /* no reset decided on this connection */
	FLOW_RESET_GENUINE = 1,
	FLOW_RESET_SUSPECT = 2,
	FLOW_RESET_FORGED = 3,
};

struct flow_record {
	struct flow_key key;
	uint64_t packets;
	uint64_t bytes; /* IP bytes */
	uint64_t first_ms; /* wall clock, ms since the Unix epoch */
	uint64_t last_ms;
	uint8_t tcp_flags;
	uint8_t tos;
	uint8_t ttl_min;
	uint8_t ttl_max;
	uint8_t app; /* enum flow_app */
	uint8_t end_reason; /* enum flow_end_reason */
	uint8_t direction; /* NetFlow DIRECTION: 0 ingress */
	uint8_t flags; /* enum flow_value_flags */
	uint8_t reset_verdict; /* enum flow_reset_verdict */
	uint32_t src_as; /* origin AS of src (asn_table.h); 0 unknown */
	uint32_t dst_as; /* origin AS of dst; 0 unknown */
	/* What carried the flow's first packet (struct flow_value). */
	uint8_t tunnel; /* enum flow_tunnel */
	uint8_t encap; /* enum flow_encap bits */
	uint16_t inner_vlan; /* QinQ's second VID, 0 if none */
	uint32_t mpls_label; /* top label stack entry, 0 without MPLS */
	/* Inline only: where the router sends the flow (datapath/routes.h);
	 * 0 and zero in tap mode, in replay, and when no route was found. */
	uint32_t out_ifindex;
	uint8_t next_hop[16]; /* IPv4 in the first 4 bytes */
};

/*
 * Did something beyond a single VLAN tag carry the flow (MPLS, PPPoE, a
 * tunnel, a second tag)? Such flows go out in the exporters'
 * encapsulation templates, the others do not pay for those fields.
 */
static inline bool flow_record_encapsulated(const struct flow_record *rec)
{
	return rec->tunnel || rec->encap || rec->inner_vlan;
}

/* The top MPLS label stack entry as NetFlow's MPLS_LABEL_1 and IPFIX's
 * mplsTopLabelStackSection carry it: label << 4 | TC << 1 | S, no TTL. */
static inline uint32_t flow_record_mpls_top(const struct flow_record *rec)
{
	return rec->mpls_label >> 8;
}

/* Which ends of a flow lie in the local prefixes (--local): a bit each. */
enum flow_local {
	FLOW_LOCAL_NEITHER = 0,
	FLOW_LOCAL_SRC = 1,
	FLOW_LOCAL_DST = 2,
	FLOW_LOCAL_BOTH = FLOW_LOCAL_SRC | FLOW_LOCAL_DST,
};

/* Index of a flow's two ends in struct flow_class's arrays. */
enum {
	FLOW_END_SRC = 0,
	FLOW_END_DST = 1
};

/*
 * What the pipeline's enrich stage (daemon/enrich.h) decides about a
 * record, once, before any consumer sees it: the consumers (P2P hosts,
 * the dashboard's history, the interval counters) read these instead of
 * asking the prefix set, the AS table or the hash again. Arrays are
 * indexed by FLOW_END_SRC and FLOW_END_DST.
 */
struct flow_class {
	uint8_t local; /* enum flow_local */
	bool bittorrent; /* app is APP_BITTORRENT */
	int16_t prefix[2]; /* longest --local prefix holding the end, -1 none */
	uint32_t remote_as; /* origin AS of the one non-local end; 0 unknown,
				 * no AS table, or not exactly one end local */
	uint64_t hash[2]; /* flow_addr_hash of each end */
};

/* The daemon's hash of a host: its IP version and address. */
static inline uint64_t flow_addr_hash(uint8_t ip_version, const uint8_t addr[16])
{
	uint8_t key[17];

	key[0] = ip_version;
	memcpy(key + 1, addr, 16);
	return hash_bytes(key, sizeof(key));
}

/* The probe's own statistics, exported as NetFlow options data. */
struct probe_stats {
	uint64_t packets_seen;
	uint64_t bytes_seen;
	uint64_t flows_evicted; /* pushed out of full buckets early, counted */
	uint64_t packets_uncounted;
	uint64_t bytes_uncounted;
	uint32_t sampling_interval; /* 1: every packet */
	uint8_t sampling_algorithm; /* 1: deterministic */
};

#endif /* FLOW_RECORD_H */
