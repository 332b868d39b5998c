/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the benchmark programs (micro, drain, live) share: the packet mix
 * they run, a frame builder for it, CPU pinning and clocks, medians,
 * loading the benchmark's own BPF objects (setting rodata by variable
 * name, since only the probe itself has a generated skeleton), and the
 * generator's controls (gen.bpf.c). Header-only: every C file of tests/bench is
 * built into its own binary.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include "flowprobe.h"

#define BENCH_MAX_FRAME 1514

/* One kind of packet in the mix: IP version, protocol, IP length (the
 * frame adds 14 bytes of Ethernet), and its share of packets. */
struct bench_tmpl {
	const char *name;
	int ip_version;
	int proto;
	int ip_len;
	int weight;
};

/*
 * A realistic mix by packet count: mostly small (TCP ACKs, DNS-sized UDP),
 * a third full-size, about a fifth IPv6. Small frames are the minimum
 * Ethernet frame (60 bytes before the FCS, "64-byte") or the smallest that
 * holds the headers.
 */
static const struct bench_tmpl bench_mix[] = {
	{ "v4-tcp-64", 4, IPPROTO_TCP, 46, 30 },     { "v4-tcp-1500", 4, IPPROTO_TCP, 1500, 20 },
	{ "v4-udp-64", 4, IPPROTO_UDP, 46, 10 },     { "v4-udp-576", 4, IPPROTO_UDP, 576, 10 },
	{ "v4-udp-1500", 4, IPPROTO_UDP, 1500, 5 },  { "v6-tcp-74", 6, IPPROTO_TCP, 60, 10 },
	{ "v6-tcp-1500", 6, IPPROTO_TCP, 1500, 10 }, { "v6-udp-576", 6, IPPROTO_UDP, 576, 5 },
};
#define BENCH_MIX_N ((int)(sizeof(bench_mix) / sizeof(bench_mix[0])))

struct bench_frame {
	uint8_t b[BENCH_MAX_FRAME];
	size_t len;
};

/* Addresses of the generated traffic: sources 10.x.y.z / fd00::x (the
 * generator rewrites them per flow), one fixed destination. */
#define BENCH_V4_SRC 0x0a000001u
#define BENCH_V6_SRC "fd00::1"
#define BENCH_V6_DST "fd00:ffff::2"
#define BENCH_SPORT 40000
#define BENCH_DPORT 9 /* discard: nothing listens, nothing answers */

static inline uint16_t bench_csum16(const void *p, size_t len)
{
	const uint16_t *w = p;
	uint32_t sum = 0;

	for (size_t i = 0; i < len / 2; i++)
		sum += w[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/*
 * Builds one frame of a template: Ethernet (dst_mac, or a fixed unicast
 * address), IPv4 (checksummed) or IPv6, TCP (ACK) or UDP (checksum 0, or
 * none needed), zero payload. v4_dst in network order.
 */
static inline void bench_build(struct bench_frame *f, const struct bench_tmpl *t,
			       const uint8_t *dst_mac, uint32_t v4_dst)
{
	static const uint8_t def_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct ethhdr *eth = (struct ethhdr *)f->b;
	uint8_t *l4;
	int l4_len;

	memset(f, 0, sizeof(*f));
	f->len = sizeof(*eth) + t->ip_len;
	if (f->len < 60)
		f->len = 60;
	memcpy(eth->h_dest, dst_mac ? dst_mac : def_dst, 6);
	memcpy(eth->h_source, src_mac, 6);
	if (t->ip_version == 4) {
		struct iphdr *ip = (struct iphdr *)(eth + 1);

		eth->h_proto = htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(t->ip_len);
		ip->id = htons(1);
		ip->frag_off = htons(0x4000); /* DF */
		ip->ttl = 64;
		ip->protocol = t->proto;
		ip->saddr = htonl(BENCH_V4_SRC);
		ip->daddr = v4_dst ? v4_dst : htonl(0xc0a84d02); /* 192.168.77.2 */
		ip->check = bench_csum16(ip, sizeof(*ip));
		l4 = (uint8_t *)(ip + 1);
		l4_len = t->ip_len - sizeof(*ip);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(eth + 1);

		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->payload_len = htons(t->ip_len - sizeof(*ip6));
		ip6->nexthdr = t->proto;
		ip6->hop_limit = 64;
		inet_pton(AF_INET6, BENCH_V6_SRC, &ip6->saddr);
		inet_pton(AF_INET6, BENCH_V6_DST, &ip6->daddr);
		l4 = (uint8_t *)(ip6 + 1);
		l4_len = t->ip_len - sizeof(*ip6);
	}
	if (t->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = (struct tcphdr *)l4;

		tcp->source = htons(BENCH_SPORT);
		tcp->dest = htons(BENCH_DPORT);
		tcp->seq = htonl(1);
		tcp->ack_seq = htonl(1);
		tcp->doff = 5;
		tcp->ack = 1;
		tcp->window = htons(512);
	} else {
		struct udphdr *udp = (struct udphdr *)l4;

		udp->source = htons(BENCH_SPORT);
		udp->dest = htons(BENCH_DPORT);
		udp->len = htons(l4_len);
	}
}

static inline const struct bench_tmpl *bench_tmpl_by_name(const char *name)
{
	for (int i = 0; i < BENCH_MIX_N; i++)
		if (strcmp(bench_mix[i].name, name) == 0)
			return &bench_mix[i];
	return NULL;
}

static inline int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of n values (sorts them). */
static inline double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Sets a `const volatile` global of an opened, not yet loaded, object. */
static inline int bench_set_rodata(struct bpf_object *obj, const char *var, const void *val,
				   size_t size)
{
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	int sec_id;
	size_t msize;
	char *data = NULL;

	bpf_object__for_each_map (map, obj) {
		const char *n = bpf_map__name(map);
		size_t l = strlen(n);

		if (bpf_map__is_internal(map) && l >= 7 && !strcmp(n + l - 7, ".rodata"))
			break;
	}
	if (!map || !btf)
		return -ENOENT;
	data = (char *)bpf_map__initial_value(map, &msize);
	sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!data || sec_id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, sec_id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, v->name_off), var) != 0)
			continue;
		if (vs->size != size || vs->offset + size > msize)
			return -EINVAL;
		memcpy(data + vs->offset, val, size);
		return 0;
	}
	return -ENOENT;
}

static inline struct bpf_object *bench_open(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);

	if (!obj)
		fprintf(stderr, "bench: cannot open %s: %s (run 'make bench')\n", path,
			strerror(errno));
	return obj;
}

static inline int bench_prog_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

	if (!p) {
		fprintf(stderr, "bench: no program %s\n", name);
		return -1;
	}
	return bpf_program__fd(p);
}

static inline int bench_map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -1;
}

/* gen.bpf.c's controls (struct gen_cfg there). */
struct bench_gen_cfg {
	uint32_t nflows;
	uint32_t ifindex;
	uint32_t base;
	uint32_t flags; /* 1: walk destinations instead of sources */
};

/* Sets the walk and restarts every CPU's cursor at flow 0. */
static inline int bench_gen_set_flags(struct bpf_object *gen, uint32_t nflows, uint32_t ifindex,
				      uint32_t base, uint32_t flags)
{
	struct bench_gen_cfg cfg = {
		.nflows = nflows, .ifindex = ifindex, .base = base, .flags = flags
	};
	int ncpus = libbpf_num_possible_cpus();
	uint32_t zero = 0, *cur = calloc(ncpus, sizeof(uint64_t));
	int err;

	if (!cur)
		return -ENOMEM;
	/* per-CPU values are padded to 8 bytes each */
	err = bpf_map_update_elem(bench_map_fd(gen, "gen_cfg"), &zero, &cfg, BPF_ANY);
	if (!err)
		err = bpf_map_update_elem(bench_map_fd(gen, "cursor"), &zero, cur, BPF_ANY);
	free(cur);
	return err ? -errno : 0;
}

static inline int bench_gen_set(struct bpf_object *gen, uint32_t nflows, uint32_t ifindex,
				uint32_t base)
{
	return bench_gen_set_flags(gen, nflows, ifindex, base, 0);
}

/*
 * Opens and loads layouts.bpf.o with tables of `slots` per CPU (a power of
 * two, at least FLOW_TABLE_WAYS) and a hash of hash_entries, sizing maps
 * and rodata as probe_load does for the real program. With `only` set,
 * the tables that program does not use get one entry (memory, load time).
 */
static inline struct bpf_object *bench_load_layouts(const char *objdir, uint32_t slots,
						    uint32_t hash_entries, const char *only)
{
	uint32_t ncpus = libbpf_num_possible_cpus(), nbuckets, mask, seed = 0x5eed1234;
	static const char *const tables[] = { "lay_flows", "flows_direct" };
	struct bpf_object *obj;
	char path[512];

	snprintf(path, sizeof(path), "%s/layouts.bpf.o", objdir);
	obj = bench_open(path);
	if (!obj)
		return NULL;
	nbuckets = slots / FLOW_TABLE_WAYS;
	mask = nbuckets - 1;
	if (bench_set_rodata(obj, "nr_cpus", &ncpus, 4) ||
	    bench_set_rodata(obj, "bucket_mask", &mask, 4) ||
	    bench_set_rodata(obj, "hash_seed", &seed, 4)) {
		fprintf(stderr, "bench: cannot set the layouts' rodata\n");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		bool used = (i == 0 && (!only || !strncmp(only, "sa_", 3))) ||
			    (i == 1 && (!only || !strncmp(only, "direct_", 7)));

		bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, tables[i]),
					 used ? ncpus * nbuckets : 1);
	}
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "hash_flows"),
				 !only || !strncmp(only, "hash_", 5) ? hash_entries : 1);
	if (bpf_object__load(obj)) {
		fprintf(stderr, "bench: cannot load %s: %s\n", path, strerror(errno));
		goto fail;
	}
	return obj;
fail:
	bpf_object__close(obj);
	return NULL;
}

/* Sums layouts.bpf.c's per-CPU counters: packets, counted, evicted,
 * uncounted. */
static inline int bench_layout_counters(struct bpf_object *lay, uint64_t out[4])
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *v = calloc(ncpus, 4 * sizeof(uint64_t));
	uint32_t zero = 0;
	int err;

	if (!v)
		return -ENOMEM;
	memset(out, 0, 4 * sizeof(uint64_t));
	err = bpf_map_lookup_elem(bench_map_fd(lay, "lay_counters"), &zero, v);
	for (int c = 0; !err && c < ncpus; c++)
		for (int i = 0; i < 4; i++)
			out[i] += v[c * 4 + i];
	free(v);
	return err ? -errno : 0;
}

#endif /* BENCH_UTIL_H */
