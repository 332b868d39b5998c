/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inline mode: where the router sends a flow. When a flow enters the
 * flow table (its first packet in a table generation, so once per drain
 * interval for a flow that lasts, never per packet), one bpf_fib_lookup
 * asks the kernel's FIB for its egress interface and next hop, and the
 * answer goes into the route cache (include/route.h) for the daemon to
 * export as OUTPUT_SNMP / egressInterface and IPV4/IPV6_NEXT_HOP. Looking
 * again each generation is what lets a route change reach the records
 * within a drain interval. Tap mode sees copies, which the probe's host
 * does not route, and replay a capture routed elsewhere: nothing is
 * looked up and OUTPUT_SNMP stays 0.
 *
 * BPF_FIB_LOOKUP_SKIP_NEIGH: the route is wanted, not the neighbour's MAC.
 * Without it the first packet to a neighbour not yet resolved (the kernel
 * resolves it only after XDP passes that packet) would fail with NO_NEIGH.
 * tot_len 0: no MTU check, so no FRAG_NEEDED either.
 */
#ifndef ROUTE_BPF_H
#define ROUTE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flowprobe.h"
#include "route.h"

#define ROUTE_AF_INET 2
#define ROUTE_AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ROUTE_CACHE_ENTRIES); /* 1 in tap mode: set at load */
	__type(key, struct route_key);
	__type(value, struct route_value);
} routes SEC(".maps");

/* The route, not when it was confirmed. */
static __always_inline bool route_value_equal(const struct route_value *a,
					      const struct route_value *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
	__u32 diff = 0;

#pragma unroll
	for (int i = 0; i < 6; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/*
 * Finds the flow's route and remembers it; returns the counter of the
 * outcome (enum counter). A global function: the verifier checks it once,
 * not once for each parser path that reaches a new flow. A destination
 * confirmed less than ROUTE_RECHECK_NS ago costs a cache lookup only;
 * otherwise the FIB is asked, and the cache written only when the answer
 * changed (the confirmation time is a plain store into the entry).
 */
__noinline int route_learn(struct xdp_md *ctx, const struct flow_key *key, __u32 tos, __u64 now)
{
	struct bpf_fib_lookup fib = {};
	struct route_value val = {}, *old;
	struct route_key rk = {};
	long rc;

	if (!key)
		return CNT_ROUTE_LOOKUP_ERROR;
	rk.ifindex = key->ifindex;
	rk.ip_version = key->ip_version;
	__builtin_memcpy(rk.dst, key->dst, 16);
	old = bpf_map_lookup_elem(&routes, &rk);
	if (old && now - old->checked_ns < ROUTE_RECHECK_NS && old->status <= BPF_FIB_LKUP_RET_NO_SRC_ADDR)
		return CNT_ROUTE_FORWARDED + old->status;

	fib.ifindex = key->ifindex;
	fib.l4_protocol = key->proto;
	if (key->proto == 6 || key->proto == 17) {
		fib.sport = bpf_htons(key->sport);
		fib.dport = bpf_htons(key->dport);
	}
	if (key->ip_version == 4) {
		fib.family = ROUTE_AF_INET;
		fib.tos = tos;
		__builtin_memcpy(&fib.ipv4_src, key->src, 4);
		__builtin_memcpy(&fib.ipv4_dst, key->dst, 4);
	} else {
		fib.family = ROUTE_AF_INET6;
		__builtin_memcpy(fib.ipv6_src, key->src, 16);
		__builtin_memcpy(fib.ipv6_dst, key->dst, 16);
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH);
	if (rc < 0 || rc > BPF_FIB_LKUP_RET_NO_SRC_ADDR)
		return CNT_ROUTE_LOOKUP_ERROR;

	val.status = rc;
	val.checked_ns = now;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		/* The lookup left the egress in ifindex and the neighbour in
		 * the destination field. */
		val.egress_ifindex = fib.ifindex;
		if (key->ip_version == 4)
			__builtin_memcpy(val.next_hop, &fib.ipv4_dst, 4);
		else
			__builtin_memcpy(val.next_hop, fib.ipv6_dst, 16);
	}
	if (old && route_value_equal(old, &val))
		old->checked_ns = now;
	else
		bpf_map_update_elem(&routes, &rk, &val, BPF_ANY);
	return CNT_ROUTE_FORWARDED + rc;
}

#endif /* ROUTE_BPF_H */
