/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One flow entry's arithmetic, apart from the tables that hold entries:
 * the seeded key hash, the key compare, and starting and adding to a
 * flow's counts. flow_table.bpf.h builds the probe's table on these; the
 * benchmark's layout variants (tests/bench/layouts.bpf.c) use the same
 * ones, so they measure what the probe runs, not a copy of it.
 */
#ifndef FLOW_ENTRY_BPF_H
#define FLOW_ENTRY_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "flowprobe.h"
#include "parse.bpf.h"
#include "config.bpf.h" /* hash_seed */

/* Multiply-xorshift over n 32-bit words (a constant: the loop unrolls),
 * seeded. Cheap, and the seed keeps an attacker from filling one bucket
 * on purpose. The flow table and the connection table both use it. */
static __always_inline __u32 hash_words(const __u32 *w, const int n, __u32 seed)
{
	__u32 h = seed;

#pragma unroll
	for (int i = 0; i < n; i++) {
		h ^= w[i];
		h *= 0x9E3779B1;
		h ^= h >> 15;
	}
	h *= 0x85EBCA6B;
	return h ^ (h >> 13);
}

/* Over the key's eleven words. */
static __always_inline __u32 flow_hash(const struct flow_key *key)
{
	return hash_words((const __u32 *)key, sizeof(*key) / 4, hash_seed);
}

/* Keys are 8-byte aligned in entries and on the stack (see callers). */
static __always_inline bool flow_key_equal(const struct flow_key *a, const struct flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 diff = 0;

#pragma unroll
	for (int i = 0; i < 5; i++)
		diff |= x[i] ^ y[i];
	diff |= ((const __u32 *)a)[10] ^ ((const __u32 *)b)[10];
	return diff == 0;
}

static __always_inline void flow_value_start(struct flow_value *v, const struct packet_info *pi,
					     __u64 now)
{
	v->packets = 1;
	v->bytes = pi->ip_bytes;
	v->first_ns = now;
	v->last_ns = now;
	v->tcp_flags = pi->tcp_flags;
	v->tos = pi->tos;
	v->ttl_min = pi->ttl;
	v->ttl_max = pi->ttl;
	v->app = 0;
	v->flags = pi->flags;
	v->tunnel = pi->tunnel;
	v->encap = pi->encap;
	v->mpls_label = pi->mpls_label;
	v->inner_vlan = pi->inner_vlan;
}

static __always_inline void flow_value_add(struct flow_value *v, const struct packet_info *pi,
					   __u64 now)
{
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

#endif /* FLOW_ENTRY_BPF_H */
