// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Traffic for the benchmarks, made in the kernel. Both programs take one
 * crafted frame (IPv4 or IPv6; TCP or UDP) and, on every run, rewrite its
 * source address so that successive runs on a CPU walk over `nflows`
 * distinct flows, round robin:
 *
 *  - gen_redirect: BPF_PROG_TEST_RUN in live-frames mode
 *    (BPF_F_TEST_XDP_LIVE_FRAMES) runs it `repeat` times and transmits
 *    each frame out of the veth named in gen_cfg, into the program under
 *    test on the peer: a packet generator with no userspace copy per frame.
 *  - vary_tail: plain BPF_PROG_TEST_RUN with `repeat` runs it on one
 *    buffer; it tail-calls the program under test (slot 0 of next_prog),
 *    so a micro-benchmark sees a different flow every run, with the cache
 *    misses a table of that many flows really causes. The cost of the
 *    rewrite and the tail call is measured by putting an empty program in
 *    the slot, and subtracted.
 *
 * The IPv4 header checksum is recomputed, so frames passed to the stack
 * (inline mode, the peers) are taken as valid IP.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* Written by userspace before each run. */
struct gen_cfg {
	__u32 nflows; /* flows to walk; 0 or 1: the frame as given */
	__u32 ifindex; /* gen_redirect: transmit out of this device */
	__u32 base; /* flow number of the first flow */
	__u32 flags; /* GEN_VARY_DST: walk destinations, not sources */
};

/* The route benchmark (route.c): a flow per destination, each needing a
 * route cache entry of its own. */
#define GEN_VARY_DST 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} gen_cfg SEC(".maps");

/* Next flow number, per CPU: no atomics, and each CPU walks every flow. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cursor SEC(".maps");

/* vary_tail: the program under test. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} next_prog SEC(".maps");

static __always_inline __u16 ipv4_csum(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;

	ip->check = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Makes the frame the next flow of this CPU's walk. */
static __always_inline void next_flow(struct xdp_md *ctx, const struct gen_cfg *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 zero = 0, *cur, flow;

	if (cfg->nflows <= 1)
		return;
	cur = bpf_map_lookup_elem(&cursor, &zero);
	if (!cur)
		return;
	flow = cfg->base + *cur;
	if (++*cur >= cfg->nflows)
		*cur = 0;
	if ((void *)(eth + 1) > end)
		return;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return;
		/* 10.0.0.0/8: up to 16M flows */
		if (cfg->flags & GEN_VARY_DST)
			ip->daddr = bpf_htonl(0x0a000000 | (flow & 0xffffff));
		else
			ip->saddr = bpf_htonl(0x0a000000 | (flow & 0xffffff));
		ip->check = ipv4_csum(ip);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return;
		/* fd00::<flow> */
		if (cfg->flags & GEN_VARY_DST)
			ip6->daddr.in6_u.u6_addr32[3] = bpf_htonl(flow);
		else
			ip6->saddr.in6_u.u6_addr32[3] = bpf_htonl(flow);
	}
}

SEC("xdp")
int gen_redirect(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct gen_cfg *cfg = bpf_map_lookup_elem(&gen_cfg, &zero);

	if (!cfg)
		return XDP_ABORTED;
	next_flow(ctx, cfg);
	return bpf_redirect(cfg->ifindex, 0);
}

SEC("xdp")
int vary_tail(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct gen_cfg *cfg = bpf_map_lookup_elem(&gen_cfg, &zero);

	if (!cfg)
		return XDP_ABORTED;
	next_flow(ctx, cfg);
	bpf_tail_call(ctx, &next_prog, 0);
	return XDP_ABORTED; /* empty slot: counted as a failure by the caller */
}
