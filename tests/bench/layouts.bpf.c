// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The flow table layouts the benchmark compares with what flowprobe ships,
 * each the probe's own parser (bpf/parse.bpf.h) plus one table and one
 * clock, counting into a small per-CPU counter array, and dropping (they
 * stand for a probe in tap mode):
 *
 *   hash_ktime   a plain per-CPU hash map keyed by the 44-byte flow key,
 *                lookup then insert, bpf_ktime_get_ns() per packet: the
 *                calibration baseline of the targets (what published eBPF
 *                probes do)
 *   sa_ktime     the shipped set-associative array (see below) with
 *                bpf_ktime_get_ns()
 *   sa_coarse    the same with bpf_ktime_get_coarse_ns() (the probe used it
 *                before its millisecond timer clock)
 *   sa_userclock the same reading the time from a global that userspace
 *                refreshes (user_now_ns): no helper call per packet
 *   sa_noclock   the same reading no clock at all: the floor of the layout
 *   parse_only   the parse and the counters, no table: what the parser costs
 *   direct_userclock  the same bucket logic on a plain mmapable array
 *                referenced directly (no array-of-maps, no BPF_F_INNER_MAP),
 *                which the verifier inlines instead of calling the map's
 *                lookup through a helper and an indirect call; time from
 *                user_now_ns. What swapping generations would cost with a
 *                generation index and a grace period instead of
 *                map-in-map (docs/performance.md).
 *
 * The set-associative table here uses the probe's own entry arithmetic
 * (bpf/flow_entry.bpf.h: hash, compare, counts) and repeats only the
 * bucket walk of bpf/flow_table.bpf.h (way-by-way, least-recently-seen
 * eviction to a ring, map-in-map indirection), with the clock and the
 * table reference as parameters, so that the variants differ only in the
 * part they name; the probe itself is measured through its skeleton. The userspace side sets the rodata (nr_cpus,
 * bucket_mask, hash_seed) and the map sizes before load, as probe_load
 * does for the real program.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flowprobe.h"
#include "parse.bpf.h"
#include "flow_entry.bpf.h" /* hash, compare, counts */
#include "config.bpf.h" /* hash_seed, nr_cpus, bucket_mask: set before load */

/* One generation, reached through lay_live as the probe reaches its
 * live generation. */
struct lay_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_bucket);
} lay_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct lay_table);
} lay_live SEC(".maps") = {
	.values = { [0] = &lay_flows },
};

/* Evicted flows; the benchmark consumes it between runs (micro). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} lay_ring SEC(".maps");

enum lay_result {
	RES_UPDATED,
	RES_CREATED,
	RES_EVICTED,
	RES_NO_ROOM,
	RES_NO_TABLE
};

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum lay_counter {
	LAY_PACKETS, /* packets seen */
	LAY_COUNTED, /* counted into a table entry */
	LAY_EVICTED, /* set-associative: flows pushed to the eviction ring */
	LAY_UNCOUNTED, /* no room: counted nowhere */
	LAY__MAX,
};

struct lay_counters {
	__u64 v[LAY__MAX];
};

/* Written here per CPU, summed by the benchmark. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lay_counters);
} lay_counters SEC(".maps");

/* The baseline's table; the benchmark sizes it before load. Preallocated
 * (the default), as a probe that must not fail under load would use it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} hash_flows SEC(".maps");

/* direct_userclock's table: one generation, nr_cpus regions of
 * (bucket_mask + 1) buckets; sized by the benchmark before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_bucket);
} flows_direct SEC(".maps");

/* Time as userspace last wrote it (a daemon would refresh it every
 * millisecond or so); the benchmark leaves it constant. */
__u64 user_now_ns = 1;

enum clock_kind {
	CLOCK_FINE,
	CLOCK_COARSE,
	CLOCK_USER,
	CLOCK_NONE
};

static __always_inline __u64 lay_now(enum clock_kind k)
{
	if (k == CLOCK_FINE)
		return bpf_ktime_get_ns();
	if (k == CLOCK_COARSE)
		return bpf_ktime_get_coarse_ns();
	if (k == CLOCK_USER)
		return user_now_ns;
	return 0;
}

/* bpf/flow_table.bpf.h's flow_table_update: through lay_live (as in the probe)
 * or on flows_direct. */
static __always_inline enum lay_result
sa_update(const struct flow_key *key, const struct packet_info *pi, __u64 now, bool direct)
{
	struct flow_bucket *bucket;
	struct flow_entry *rec;
	__u32 cpu, idx, zero = 0, victim = 0;
	__u64 oldest = ~0ull;

	cpu = bpf_get_smp_processor_id();
	if (cpu >= nr_cpus)
		return RES_NO_TABLE;
	idx = cpu * (bucket_mask + 1) + (flow_hash(key) & bucket_mask);
	if (direct) {
		bucket = bpf_map_lookup_elem(&flows_direct, &idx);
	} else {
		void *table = bpf_map_lookup_elem(&lay_live, &zero);

		if (!table)
			return RES_NO_TABLE;
		bucket = bpf_map_lookup_elem(table, &idx);
	}
	if (!bucket)
		return RES_NO_TABLE;

#pragma unroll
	for (int i = 0; i < FLOW_TABLE_WAYS; i++) {
		struct flow_entry *e = &bucket->way[i];

		if (e->val.packets == 0) {
			__builtin_memcpy(&e->key, key, sizeof(*key));
			flow_value_start(&e->val, pi, now);
			return RES_CREATED;
		}
		if (flow_key_equal(&e->key, key)) {
			flow_value_add(&e->val, pi, now);
			return RES_UPDATED;
		}
		if (e->val.last_ns < oldest) {
			oldest = e->val.last_ns;
			victim = i;
		}
	}
	rec = bpf_ringbuf_reserve(&lay_ring, sizeof(*rec), 0);
	if (!rec)
		return RES_NO_ROOM;
	victim &= FLOW_TABLE_WAYS - 1;
	__builtin_memcpy(rec, &bucket->way[victim], sizeof(*rec));
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	__builtin_memcpy(&bucket->way[victim].key, key, sizeof(*key));
	flow_value_start(&bucket->way[victim].val, pi, now);
	return RES_EVICTED;
}

/* The probe's parse, without fragments' port recall. Returns 0 when the
 * packet has a key. */
static __always_inline int lay_parse(struct xdp_md *ctx, struct flow_key *key,
				     struct packet_info *pi)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	int proto;

	__builtin_memset(key, 0, sizeof(*key));
	key->ifindex = ctx->ingress_ifindex;
	proto = parse_ethernet(&c, key, pi, true);
	if (proto == ETH_P_IP)
		proto = parse_ipv4(&c, key, pi);
	else if (proto == ETH_P_IPV6)
		proto = parse_ipv6(&c, key, pi);
	else
		return -1;
	if (proto < 0)
		return -1;
	if (parse_l4(&c, proto, key, pi) < 0)
		pi->flags |= FLOW_F_L4_TRUNCATED;
	return 0;
}

static __always_inline int sa_account(struct xdp_md *ctx, enum clock_kind k, bool direct)
{
	struct flow_key key __attribute__((aligned(8)));
	struct packet_info pi = {};
	struct lay_counters *cnt;
	__u32 zero = 0;

	cnt = bpf_map_lookup_elem(&lay_counters, &zero);
	if (!cnt)
		return XDP_DROP;
	cnt->v[LAY_PACKETS]++;
	if (lay_parse(ctx, &key, &pi) < 0)
		return XDP_DROP;
	switch (sa_update(&key, &pi, lay_now(k), direct)) {
	case RES_EVICTED:
		cnt->v[LAY_EVICTED]++;
		/* fall through */
	case RES_CREATED:
	case RES_UPDATED:
		cnt->v[LAY_COUNTED]++;
		break;
	default:
		cnt->v[LAY_UNCOUNTED]++;
	}
	return XDP_DROP;
}

SEC("xdp")
int sa_ktime(struct xdp_md *ctx)
{
	return sa_account(ctx, CLOCK_FINE, false);
}

SEC("xdp")
int sa_coarse(struct xdp_md *ctx)
{
	return sa_account(ctx, CLOCK_COARSE, false);
}

SEC("xdp")
int sa_userclock(struct xdp_md *ctx)
{
	return sa_account(ctx, CLOCK_USER, false);
}

SEC("xdp")
int sa_noclock(struct xdp_md *ctx)
{
	return sa_account(ctx, CLOCK_NONE, false);
}

SEC("xdp")
int direct_userclock(struct xdp_md *ctx)
{
	return sa_account(ctx, CLOCK_USER, true);
}

SEC("xdp")
int parse_only(struct xdp_md *ctx)
{
	struct flow_key key __attribute__((aligned(8)));
	struct packet_info pi = {};
	struct lay_counters *cnt;
	__u32 zero = 0;

	cnt = bpf_map_lookup_elem(&lay_counters, &zero);
	if (!cnt)
		return XDP_DROP;
	cnt->v[LAY_PACKETS]++;
	if (lay_parse(ctx, &key, &pi) < 0)
		return XDP_DROP;
	/* keep the key alive: the compiler must not drop the parse */
	cnt->v[LAY_COUNTED] += key.sport + pi.ip_bytes + key.src[3];
	return XDP_DROP;
}

SEC("xdp")
int hash_ktime(struct xdp_md *ctx)
{
	struct flow_key key __attribute__((aligned(8)));
	struct packet_info pi = {};
	struct lay_counters *cnt;
	struct flow_value *v;
	__u32 zero = 0;
	__u64 now;

	cnt = bpf_map_lookup_elem(&lay_counters, &zero);
	if (!cnt)
		return XDP_DROP;
	cnt->v[LAY_PACKETS]++;
	if (lay_parse(ctx, &key, &pi) < 0)
		return XDP_DROP;
	now = bpf_ktime_get_ns();
	v = bpf_map_lookup_elem(&hash_flows, &key);
	if (v) {
		flow_value_add(v, &pi, now);
		cnt->v[LAY_COUNTED]++;
	} else {
		struct flow_value nv = {};

		flow_value_start(&nv, &pi, now);
		if (bpf_map_update_elem(&hash_flows, &key, &nv, BPF_NOEXIST) == 0)
			cnt->v[LAY_COUNTED]++;
		else
			cnt->v[LAY_UNCOUNTED]++;
	}
	return XDP_DROP;
}
