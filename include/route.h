/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The route cache: what the kernel's FIB said about a flow's destination,
 * written by the datapath in inline mode when a flow enters the flow table
 * (bpf/route.bpf.h) and read by the daemon when it exports the flow
 * (user/datapath/routes.c), for OUTPUT_SNMP / egressInterface and the next
 * hop. A map of its own, not a field of struct flow_value: the flow table
 * entry stays as small as it is, and tap mode, which routes nothing, pays
 * for one unused bucket.
 *
 * Keyed by what the FIB lookup mostly depends on, the ingress interface
 * and the destination, so the flows to one destination share one entry.
 * Policy routing on the source, the ToS or the ports, and ECMP hashing on
 * them, can send two such flows different ways: the entry then holds the
 * route of the flow that entered the table last (docs/export.md).
 *
 * Why an array of buckets and not an LRU hash: inserting into a BPF LRU
 * hash, and evicting from it once full, cost 300 to 700 ns a new
 * destination here (tests/bench/route.c): a scan of new destinations
 * would have cost three to four times what it costs without routes. A
 * bucket of a plain array, picked by a seeded hash, takes a new
 * destination in place of its least recently confirmed way: no allocation,
 * no lock. CPUs may write one way at once; the check word makes a way
 * torn by two writers read as empty, to the datapath (which looks the
 * route up again) and to the daemon (which counts the record as missing).
 */
#ifndef ROUTE_H
#define ROUTE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

struct route_key {
	__u32 ifindex; /* ingress, as struct flow_key */
	__u8 ip_version; /* 4 or 6; 0: an empty way */
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
};
_Static_assert(sizeof(struct route_value) == 24, "route_value layout");

/* One way: a cache line. */
struct route_way {
	struct route_key key;
	struct route_value val;
	__u64 checked_ns; /* probe clock of the lookup that last confirmed it */
	__u32 check; /* route_check() of key and val, written last */
	__u32 pad;
};
_Static_assert(sizeof(struct route_way) == 64, "route_way layout");

#define ROUTE_WAYS 4

struct route_bucket {
	struct route_way way[ROUTE_WAYS];
};

/* 12 words: the key, then the route. */
#define ROUTE_CHECK_WORDS ((sizeof(struct route_key) + sizeof(struct route_value)) / 4)

/* Which bucket a destination lives in: multiply-xorshift over the key,
 * seeded (the flow hash's seed) so that no one can aim destinations at
 * one bucket; the daemon computes it the same way. */
static inline __u32 route_bucket_of(const struct route_key *k, __u32 seed, __u32 nbuckets)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = seed;

	for (int i = 0; i < (int)(sizeof(*k) / 4); i++) {
		h ^= w[i];
		h *= 0x9E3779B1;
		h ^= h >> 15;
	}
	return h & (nbuckets - 1);
}

/* Each word rotated by its position, summed: a way whose words come from
 * two writers (two destinations, or two routes) fails it. Never 0 for a
 * written way, so a zeroed way is empty. */
static inline __u32 route_check(const struct route_way *r)
{
	const __u32 *w = (const __u32 *)r;
	__u32 sum = 0x52544531; /* "RTE1" */

	for (int i = 0; i < (int)ROUTE_CHECK_WORDS; i++)
		sum += (w[i] << (i + 1)) | (w[i] >> (31 - i));
	return sum | 1;
}

#endif /* ROUTE_H */
