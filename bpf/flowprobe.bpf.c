// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The flowprobe XDP program: parse each packet (parse.bpf.h), count it into
 * its unidirectional flow in the live per-CPU flow table, and pass it on
 * (inline) or drop it after counting (tap). The daemon drains the tables by
 * swapping the live one through a one-slot array-of-maps (see flow_slot),
 * so counts are exact: nothing is lost between read and delete, and a full
 * table sends the packet to a spill ring instead of forgetting it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flowprobe.h"
#include "parse.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EEXIST 17

/* Set by the daemon through the skeleton before load. */
const volatile bool tap_mode = false;	  /* XDP_DROP after counting */
const volatile bool replay_clock = false; /* time from replay_now_ns */

/* Replay only: the capture timestamp of the packet about to run, written
 * by userspace before each BPF_PROG_TEST_RUN. */
__u64 replay_now_ns = 0;

/*
 * The two flow table generations, A and B. Per-CPU hash: each CPU updates
 * its own copy of a flow's value, so no locks or atomics are needed in the
 * softirq hot path. Written by this program (only the live generation);
 * read and emptied by the daemon (only the generation that is not live).
 */
struct flow_table {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows_a SEC(".maps"), flows_b SEC(".maps");

/*
 * Which generation is live. The daemon swaps it with a map update; the
 * kernel returns from that syscall only after an RCU grace period, i.e.
 * after every program run that could still hold the old table pointer has
 * finished. From then on the old table has no writer and can be read and
 * deleted in batches without losing an increment.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_table);
} flow_slot SEC(".maps") = {
	.values = { [0] = &flows_a },
};

/* Per-CPU counters indexed by enum counter; written here, summed over CPUs
 * by the daemon and `flowprobe stats`. Per-CPU, so plain increments. */
struct counters {
	__u64 v[CNT__MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/* Packets that found the live table full (struct spill_record). Written
 * here, consumed by the daemon each drain; the ring's own producer and
 * consumer positions make it safe across CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SPILL_RING_BYTES);
} spill_ring SEC(".maps");

/*
 * Ports of recent first fragments, so later fragments (which carry no L4
 * header) are counted into the same flow. Shared LRU: the fragments of one
 * datagram may be spread over CPUs; a lost race or an evicted entry only
 * sends a later fragment to the ports-0 bucket of its addresses, counted
 * in CNT_FRAG_UNMATCHED, never loses it.
 */
struct frag_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 id;
	__u8 proto;
	__u8 ip_version;
	__u8 pad[2];
};

struct frag_ports {
	__u16 sport;
	__u16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FRAG_TRACK);
	__type(key, struct frag_key);
	__type(value, struct frag_ports);
} frag_track SEC(".maps");

/* Count a parse error in the slot the parser named (see PARSE_ERR). */
static __always_inline void count_parse_error(struct counters *cnt, int err)
{
	__u32 idx = -err;

	if (idx < CNT__MAX)
		cnt->v[idx]++;
}

static __always_inline __u64 probe_now(void)
{
	return replay_clock ? replay_now_ns : bpf_ktime_get_ns();
}

static __always_inline void frag_key_fill(struct frag_key *fk,
					  const struct flow_key *key,
					  const struct packet_info *pi)
{
	__builtin_memset(fk, 0, sizeof(*fk));
	__builtin_memcpy(fk->src, key->src, 16);
	__builtin_memcpy(fk->dst, key->dst, 16);
	fk->id = pi->frag_id;
	fk->proto = key->proto;
	fk->ip_version = key->ip_version;
}

/* A first fragment: remember its ports for the fragments that follow. */
static __always_inline void frag_remember(const struct flow_key *key,
					  const struct packet_info *pi)
{
	struct frag_ports ports = { .sport = key->sport, .dport = key->dport };
	struct frag_key fk;

	frag_key_fill(&fk, key, pi);
	bpf_map_update_elem(&frag_track, &fk, &ports, BPF_ANY);
}

/* A later fragment: take the ports its first fragment had, if seen. */
static __always_inline void frag_recall(struct flow_key *key,
					const struct packet_info *pi,
					struct counters *cnt)
{
	struct frag_ports *ports;
	struct frag_key fk;

	frag_key_fill(&fk, key, pi);
	ports = bpf_map_lookup_elem(&frag_track, &fk);
	if (ports) {
		key->sport = ports->sport;
		key->dport = ports->dport;
		cnt->v[CNT_FRAG_MATCHED]++;
	} else {
		cnt->v[CNT_FRAG_UNMATCHED]++;
	}
}

static __always_inline void flow_value_add(struct flow_value *v,
					   const struct packet_info *pi, __u64 now)
{
	/* This CPU's copy may be fresh (zero) even when the flow exists:
	 * another CPU created it. Its first packet here sets the start. */
	if (v->packets == 0) {
		v->first_ns = now;
		v->tos = pi->tos;
		v->ttl_min = pi->ttl;
		v->ttl_max = pi->ttl;
	}
	v->packets++;
	v->bytes += pi->ip_bytes;
	v->last_ns = now;
	v->tcp_flags |= pi->tcp_flags;
	v->flags |= pi->flags;
	if (pi->ttl < v->ttl_min)
		v->ttl_min = pi->ttl;
	if (pi->ttl > v->ttl_max)
		v->ttl_max = pi->ttl;
}

/* The table is full: hand the packet to the daemon through the spill ring,
 * or, if even that is full, count exactly what could not be kept. */
static __always_inline void flow_spill(const struct flow_key *key,
				       const struct packet_info *pi, __u64 now,
				       struct counters *cnt)
{
	struct spill_record *rec;

	rec = bpf_ringbuf_reserve(&spill_ring, sizeof(*rec), 0);
	if (!rec) {
		cnt->v[CNT_UNCOUNTED_PACKETS]++;
		cnt->v[CNT_UNCOUNTED_BYTES] += pi->ip_bytes;
		return;
	}
	__builtin_memcpy(&rec->key, key, sizeof(*key));
	rec->bytes = pi->ip_bytes;
	rec->time_ns = now;
	rec->tcp_flags = pi->tcp_flags;
	rec->tos = pi->tos;
	rec->ttl = pi->ttl;
	rec->flags = pi->flags;
	__builtin_memset(rec->pad, 0, sizeof(rec->pad));
	/* No wakeup: the daemon reads the ring on its drain tick anyway. */
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	cnt->v[CNT_SPILLED_PACKETS]++;
	cnt->v[CNT_SPILLED_BYTES] += pi->ip_bytes;
}

static __always_inline void flow_account(const struct flow_key *key,
					 const struct packet_info *pi,
					 struct counters *cnt)
{
	__u64 now = probe_now();
	struct flow_value *v;
	__u32 slot = 0;
	void *table;
	int err;

	table = bpf_map_lookup_elem(&flow_slot, &slot);
	if (!table) {
		cnt->v[CNT_TABLE_MISSING]++;
		cnt->v[CNT_UNCOUNTED_PACKETS]++;
		cnt->v[CNT_UNCOUNTED_BYTES] += pi->ip_bytes;
		return;
	}

	v = bpf_map_lookup_elem(table, key);
	if (!v) {
		struct flow_value fresh = {};

		flow_value_add(&fresh, pi, now);
		err = bpf_map_update_elem(table, key, &fresh, BPF_NOEXIST);
		if (err == 0) {
			cnt->v[CNT_FLOWS_CREATED]++;
			goto counted;
		}
		/* Another CPU inserted the same key first: use our copy. */
		if (err == -EEXIST)
			v = bpf_map_lookup_elem(table, key);
		if (!v) {
			flow_spill(key, pi, now, cnt);
			return;
		}
	}
	flow_value_add(v, pi, now);
counted:
	cnt->v[CNT_FLOW_PACKETS]++;
	cnt->v[CNT_FLOW_BYTES] += pi->ip_bytes;
}

/*
 * Parse and account one packet. Returns nothing: whatever happens, the
 * caller passes (or, in tap mode, drops) the packet. Parse failures are
 * counted in the counter the parser names.
 */
static __always_inline void process_packet(struct xdp_md *ctx,
					   struct counters *cnt)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct packet_info pi = {};
	struct flow_key key;
	int proto, err;

	__builtin_memset(&key, 0, sizeof(key));
	key.ifindex = ctx->ingress_ifindex;

	proto = parse_ethernet(&c, &key);
	if (proto < 0) {
		count_parse_error(cnt, proto);
		return;
	}
	if (proto == ETH_P_IP) {
		proto = parse_ipv4(&c, &key, &pi);
	} else if (proto == ETH_P_IPV6) {
		proto = parse_ipv6(&c, &key, &pi);
	} else {
		cnt->v[CNT_NON_IP]++;
		return;
	}

	if (proto == PARSE_ERR(CNT_IPV6_EXT_TOO_LONG)) {
		/* Addresses known, L4 not reached: account with ports 0. */
		cnt->v[CNT_IPV6_EXT_TOO_LONG]++;
	} else if (proto < 0) {
		count_parse_error(cnt, proto);
		return;
	} else if (pi.is_fragment == FRAG_LATER) {
		cnt->v[CNT_FRAGMENTS]++;
		frag_recall(&key, &pi, cnt);
	} else {
		err = parse_l4(&c, proto, &key, &pi);
		if (err < 0) {
			cnt->v[CNT_L4_TRUNCATED]++;
			pi.flags |= FLOW_F_L4_TRUNCATED;
		}
		if (pi.is_fragment == FRAG_FIRST) {
			cnt->v[CNT_FRAGMENTS]++;
			frag_remember(&key, &pi);
		}
	}
	flow_account(&key, &pi, cnt);
}

SEC("xdp")
int flowprobe_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct counters *cnt = bpf_map_lookup_elem(&counters, &zero);

	if (cnt) {
		cnt->v[CNT_PACKETS]++;
		cnt->v[CNT_BYTES] += ctx->data_end - ctx->data;
		process_packet(ctx, cnt);
	}
	return tap_mode ? XDP_DROP : XDP_PASS;
}
