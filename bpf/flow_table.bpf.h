/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table: a set-associative array, one region per CPU, two
 * generations (A and B) of which one is live.
 *
 * Why not a BPF hash map: a per-CPU hash lookup costs a jhash of the
 * 44-byte key, a bucket walk and a helper call, about 60 ns a packet here,
 * and its insert path takes a lock-free freelist. A bucket of a plain array
 * indexed by a cheap seeded hash, compared way by way, costs a fraction of
 * that (docs/performance.md). Regions per CPU keep the hot path free of
 * locks and atomics: XDP runs in softirq, one program run per CPU at a time.
 *
 * Why nothing is lost: a flow that does not fit (all ways of its bucket
 * taken by other flows) pushes one of them, whole, to the eviction ring,
 * which the daemon merges into its cache; if even the ring is full, the
 * packet is counted as uncounted, by packets and bytes.
 *
 * Which one (the flood policy): the least recently seen flow of one
 * packet, if the bucket holds any; only a bucket of flows with two packets
 * or more gives up its least recently seen. A flood of new flows (a SYN
 * flood from random sources, a scan) is one packet per flow: its entries
 * push each other out and established flows keep their ways, so they stay
 * counted in place even when the flood has also filled the ring and its
 * own packets go uncounted.
 *
 * After a drain swap every flow enters the fresh generation again, and a
 * flood fills it within milliseconds; an established flow re-entering then
 * needs an eviction like any new flow. So the ring keeps a reserve: once it
 * is half full, only flows that recently had two packets or more in one
 * generation (a bit in established_hint) may evict; a new flow without the
 * bit is refused (its packet counted in uncounted_*, and in
 * new_flows_refused). One-packet flood flows never set the bit.
 * The daemon drains a generation only after making the other one live and
 * waiting out every program run that could still write it (see
 * live_table in flowprobe.bpf.c), and visits only the groups of buckets
 * the generation's touched bitmap marks (touch_set).
 */
#ifndef FLOW_TABLE_BPF_H
#define FLOW_TABLE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "flowprobe.h"
#include "parse.bpf.h"
#include "flow_entry.bpf.h"
#include "config.bpf.h" /* nr_cpus, bucket_mask */

_Static_assert((FLOW_TABLE_WAYS & (FLOW_TABLE_WAYS - 1)) == 0,
	       "FLOW_TABLE_WAYS must be a power of two");

/* A generation: nr_cpus regions of (bucket_mask + 1) buckets, then their
 * touched bitmap (FLOW_GEN_VALUES in flowprobe.h). mmapable, so the daemon
 * reads and zeroes a drained generation in place. */
struct flow_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* INNER_MAP: the daemon sizes the generations at load time. */
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, MAX_FLOWS / FLOW_TABLE_WAYS);
	__type(key, __u32);
	__type(value, struct flow_bucket);
} flows_a SEC(".maps"), flows_b SEC(".maps");

/*
 * Which generation is live. The daemon swaps it with a map update; for
 * map-in-map updates from a syscall the kernel waits for an RCU grace
 * period before returning, i.e. until every program run that could still
 * hold the old table has finished (XDP runs inside an RCU read-side
 * section). From then on the old generation has no writer.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_table);
} live_table SEC(".maps") = {
	.values = { [0] = &flows_a },
};

/* Flows evicted from full buckets (struct flow_entry). Written here,
 * consumed by the daemon each drain; the ring's producer and consumer
 * positions make it safe across CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVICT_RING_BYTES);
} evict_ring SEC(".maps");

/*
 * Flows that reached two packets in a generation, one bit per flow hash:
 * the datapath sets bits (a plain OR on a shared word: a lost race only
 * costs a hint), the daemon clears them every ESTABLISHED_HINT_DRAINS
 * drains, right after a swap, so flows long gone stop holding the
 * reserve. A hash collision only lets a flood flow into the reserve.
 */
struct established_hint {
	__u64 w[ESTABLISHED_HINT_BITS / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct established_hint);
} established_hint SEC(".maps");

static __always_inline void hint_set(__u32 h)
{
	struct established_hint *eh;
	__u32 i = (h / 64) & (ESTABLISHED_HINT_BITS / 64 - 1);

	eh = bpf_map_lookup_elem(&established_hint, &KEY_ZERO);
	if (eh)
		eh->w[i] |= 1ull << (h % 64);
}

/* May this new flow evict? Always while the ring is less than half full;
 * beyond that only a flow with its hint bit (established recently). */
static __always_inline bool may_evict(__u32 h)
{
	struct established_hint *eh;
	__u32 i = (h / 64) & (ESTABLISHED_HINT_BITS / 64 - 1);

	if (bpf_ringbuf_query(&evict_ring, BPF_RB_AVAIL_DATA) * 2 <
	    bpf_ringbuf_query(&evict_ring, BPF_RB_RING_SIZE))
		return true;
	eh = bpf_map_lookup_elem(&established_hint, &KEY_ZERO);
	return eh && (eh->w[i] & (1ull << (h % 64)));
}

/*
 * Marks bucket b of this CPU's region as holding a flow, in the bitmap at
 * the end of the same generation (FLOW_TOUCH_VALUES in flowprobe.h), so the
 * drain visits its group. Called only when a flow takes way 0: a later way
 * is taken only while way 0 holds a flow of this generation, and an
 * eviction only in a full bucket, so their group's bit is already set. The
 * daemon clears a bit only after zeroing its group. idx: the caller's
 * key slot, reused for the lookup (the program's stack is at its limit).
 */
static __always_inline void touch_set(void *table, __u32 b, __u32 *idx)
{
	__u32 nbuckets = bucket_mask + 1, g = b / FLOW_TOUCH_GROUP;
	/* Asked again rather than kept from the caller: a value kept live
	 * across the ways' loop costs the hot path a spill. The same CPU:
	 * XDP does not migrate during a run. */
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 *w;

	*idx = nr_cpus * nbuckets + cpu * FLOW_TOUCH_VALUES(nbuckets) +
	       g / FLOW_TOUCH_GROUPS_PER_VALUE;
	w = bpf_map_lookup_elem(table, idx);

	if (w)
		w[(g / 64) % FLOW_TOUCH_WORDS] |= 1ull << (g % 64);
}

enum flow_update_result {
	FLOW_UPDATED, /* counted into an existing entry */
	FLOW_CREATED, /* counted into a new entry */
	FLOW_EVICTED, /* new entry, after evicting another flow to the ring */
	FLOW_NO_ROOM, /* bucket and ring full: not counted */
	FLOW_REFUSED, /* bucket full, ring in reserve, flow not established:
			   not counted */
	FLOW_NO_TABLE, /* no live table or bucket: cannot happen */
};

/* What an eviction took out of the table, for the counters. Two fields,
 * not a struct flow_value: the program's stack is nearly full. */
struct flow_evicted {
	__u64 packets;
	__u64 bytes;
};

/*
 * Counts one packet into its flow. *evicted receives the evicted flow's
 * packets and bytes for the counters (FLOW_EVICTED only); *entry the flow's
 * entry, for payload inspection (unless FLOW_NO_ROOM or FLOW_NO_TABLE).
 */
static __always_inline enum flow_update_result
flow_table_update(const struct flow_key *key, const struct packet_info *pi, __u64 now,
		  struct flow_evicted *evicted, struct flow_entry **entry)
{
	struct flow_bucket *bucket;
	struct flow_entry *rec;
	__u32 cpu, idx, victim = 0, h;
	__u64 lowest = ~0ull;
	void *table;

	table = bpf_map_lookup_elem(&live_table, &KEY_ZERO);
	if (!table)
		return FLOW_NO_TABLE;
	cpu = bpf_get_smp_processor_id();
	if (cpu >= nr_cpus)
		return FLOW_NO_TABLE;
	h = flow_hash(key);
	idx = cpu * (bucket_mask + 1) + (h & bucket_mask);
	bucket = bpf_map_lookup_elem(table, &idx);
	if (!bucket)
		return FLOW_NO_TABLE;

#pragma unroll
	for (int i = 0; i < FLOW_TABLE_WAYS; i++) {
		struct flow_entry *e = &bucket->way[i];
		__u64 rank;

		if (e->val.packets == 0) {
			/* Ways fill in order: no later way holds this flow. */
			if (i == 0)
				touch_set(table, h & bucket_mask, &idx);
			__builtin_memcpy(&e->key, key, sizeof(*key));
			flow_value_start(&e->val, pi, now);
			*entry = e;
			return FLOW_CREATED;
		}
		if (flow_key_equal(&e->key, key)) {
			flow_value_add(&e->val, pi, now);
			if (e->val.packets == 2)
				hint_set(h);
			*entry = e;
			return FLOW_UPDATED;
		}
		/* Rank: one-packet flows first, then by last seen. Probe
		 * times are far below 2^63 ns (292 years). */
		rank = e->val.last_ns | (e->val.packets > 1 ? 1ull << 63 : 0);
		if (rank < lowest) {
			lowest = rank;
			victim = i;
		}
	}

	/* Every way holds another flow: hand the lowest ranked one to the
	 * daemon whole, and take its place. */
	if (!may_evict(h))
		return FLOW_REFUSED;
	rec = bpf_ringbuf_reserve(&evict_ring, sizeof(*rec), 0);
	if (!rec)
		return FLOW_NO_ROOM;
	victim &= FLOW_TABLE_WAYS - 1;
	__builtin_memcpy(rec, &bucket->way[victim], sizeof(*rec));
	/* No wakeup: the daemon reads the ring on its drain tick anyway. */
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	evicted->packets = bucket->way[victim].val.packets;
	evicted->bytes = bucket->way[victim].val.bytes;
	__builtin_memcpy(&bucket->way[victim].key, key, sizeof(*key));
	bucket->way[victim].conn_ref = 0; /* the evicted flow's connection */
	flow_value_start(&bucket->way[victim].val, pi, now);
	*entry = &bucket->way[victim];
	return FLOW_EVICTED;
}

#endif /* FLOW_TABLE_BPF_H */
