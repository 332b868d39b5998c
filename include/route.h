/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The route cache: what the kernel's FIB said about a flow's destination,
 * written by the datapath in inline mode when a flow enters the flow table
 * (bpf/route.bpf.h) and read by the daemon when it exports the flow
 * (user/datapath/routes.c), for OUTPUT_SNMP / egressInterface and the next
 * hop. A map of its own, not a field of struct flow_value: the flow table
 * entry stays as small as it is, and tap mode, which routes nothing, pays
 * for one unused map entry.
 *
 * Keyed by what the FIB lookup mostly depends on, the ingress interface
 * and the destination, so the flows to one destination share one entry.
 * Policy routing on the source, the ToS or the ports, and ECMP hashing on
 * them, can send two such flows different ways: the entry then holds the
 * route of the flow that entered the table last (docs/export.md).
 */
#ifndef ROUTE_H
#define ROUTE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

struct route_key {
	__u32 ifindex; /* ingress, as struct flow_key */
	__u8 ip_version; /* 4 or 6 */
	__u8 pad[3];
	__u8 dst[16]; /* IPv4 in the first 4 bytes, rest zero */
};
_Static_assert(sizeof(struct route_key) == 24, "route_key layout");

struct route_value {
	__u32 egress_ifindex; /* 0 unless status is 0 (forwarded) */
	__u8 status; /* BPF_FIB_LKUP_RET_*: 0 forwarded */
	__u8 pad[3];
	/* The neighbour the packet is sent to: the gateway, or the
	 * destination itself on a directly connected route. */
	__u8 next_hop[16];
	__u64 checked_ns; /* probe clock of the lookup that last confirmed it */
};
_Static_assert(sizeof(struct route_value) == 32, "route_value layout");

#endif /* ROUTE_H */
