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
 * The cache is an array of buckets (include/route.h says why not an LRU
 * hash).
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

#include "config.bpf.h" /* hash_seed */

#define ROUTE_AF_INET 2
#define ROUTE_AF_INET6 10
#define ROUTE_BUCKETS (ROUTE_CACHE_ENTRIES / ROUTE_WAYS)

_Static_assert((ROUTE_BUCKETS & (ROUTE_BUCKETS - 1)) == 0, "ROUTE_BUCKETS: a power of two");

/* mmapable: the daemon reads a bucket per exported record in place, not
 * by a syscall (user/datapath/routes.c); each way's check word tells it
 * a way caught half written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, ROUTE_BUCKETS); /* 1 without lookups: set at load */
	__type(key, __u32);
	__type(value, struct route_bucket);
} routes SEC(".maps");

static __always_inline bool route_key_equal(const struct route_key *a, const struct route_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
}

static __always_inline bool route_value_equal(const struct route_value *a,
					      const struct route_value *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
}

/* Asks the FIB; returns BPF_FIB_LKUP_RET_* or -1, the route in *val. */
static __always_inline int route_ask_fib(struct xdp_md *ctx, const struct flow_key *key, __u32 tos,
					 struct route_value *val)
{
	struct bpf_fib_lookup fib = {};
	long rc;

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
		return -1;
	val->status = rc;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		/* The lookup left the egress in ifindex and the neighbour in
		 * the destination field. */
		val->egress_ifindex = fib.ifindex;
		if (key->ip_version == 4)
			__builtin_memcpy(val->next_hop, &fib.ipv4_dst, 4);
		else
			__builtin_memcpy(val->next_hop, fib.ipv6_dst, 16);
	}
	return rc;
}

/*
 * Finds the flow's route and remembers it; returns the counter of the
 * outcome (enum counter). A global function: the verifier checks it once,
 * not once for each parser path that reaches a new flow. A destination
 * confirmed less than ROUTE_RECHECK_NS ago costs a bucket read only;
 * otherwise the FIB is asked, and the way rewritten only when the answer
 * changed (the confirmation time is a plain store).
 */
__noinline int route_learn(struct xdp_md *ctx, const struct flow_key *key, __u32 tos, __u64 now)
{
	struct route_key rk __attribute__((aligned(8))) = {};
	struct route_value val __attribute__((aligned(8))) = {};
	struct route_bucket *b;
	struct route_way *w;
	__u32 idx, victim = 0;
	__u64 oldest = ~0ull;
	int hit = -1, rc;

	if (!key)
		return CNT_ROUTE_LOOKUP_ERROR;
	rk.ifindex = key->ifindex;
	rk.ip_version = key->ip_version;
	__builtin_memcpy(rk.dst, key->dst, 16);
	idx = route_bucket_of(&rk, hash_seed, ROUTE_BUCKETS);
	b = bpf_map_lookup_elem(&routes, &idx);
	if (!b)
		return CNT_ROUTE_LOOKUP_ERROR;
#pragma unroll
	for (int i = 0; i < ROUTE_WAYS; i++) {
		w = &b->way[i];
		if (w->check == route_check(w) && route_key_equal(&w->key, &rk)) {
			hit = i;
			break;
		}
		/* the way to give away: empty or torn first, then the least
		 * recently confirmed */
		if (w->check != route_check(w)) {
			if (oldest) {
				oldest = 0;
				victim = i;
			}
		} else if (w->checked_ns < oldest) {
			oldest = w->checked_ns;
			victim = i;
		}
	}
	if (hit >= 0) {
		w = &b->way[hit & (ROUTE_WAYS - 1)];
		if (now - w->checked_ns < ROUTE_RECHECK_NS &&
		    w->val.status <= BPF_FIB_LKUP_RET_NO_SRC_ADDR)
			return CNT_ROUTE_FORWARDED + w->val.status;
	}
	rc = route_ask_fib(ctx, key, tos, &val);
	if (rc < 0)
		return CNT_ROUTE_LOOKUP_ERROR;
	if (hit >= 0 && route_value_equal(&w->val, &val)) {
		w->checked_ns = now;
	} else {
		w = &b->way[(hit >= 0 ? hit : victim) & (ROUTE_WAYS - 1)];
		w->key = rk;
		w->val = val;
		w->checked_ns = now;
		/* the check last: until it is written the way reads as torn */
		asm volatile("" ::: "memory");
		w->check = route_check(w);
	}
	return CNT_ROUTE_FORWARDED + rc;
}

#endif /* ROUTE_BPF_H */
