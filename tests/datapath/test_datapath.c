/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the XDP datapath through BPF_PROG_TEST_RUN, table-driven as
 * katran's fixtures: each case is a description, the frames (built by
 * packet_builder.h), the counters it must move and the flow entries it must
 * leave, summed over CPUs. Every case also checks the "no silent loss" rule
 * (every packet is in a flow, the uncounted counters, non-IP, or a named
 * parse error), that the table plus the eviction ring hold exactly what the
 * counters say was counted, and that every counter it does not name stayed
 * zero. Beyond the tables: truncation at every byte, bucket eviction and the
 * uncounted path, the A/B generation swap, tap mode, and exactness under
 * concurrency, with two CPUs counting while the real drain code swaps and
 * empties the generations. Needs root (loads BPF programs). The test
 * process runs on CPU 0, so single-threaded cases land in CPU 0's region.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <cmocka.h>

#include "flowprobe.h"
#include "flowprobe.skel.h"
#include "datapath/drain.h"
#include "export/flow_cache.h"
#include "datapath/probe.h"
#include "datapath/probe_reset.h"
#include "packet_builder.h"

#include "datapath_fixture.h"

#define SMALL_RING 4096 /* the smallest ring: one page */

/* One bucket per CPU: every flow competes for the same FLOW_TABLE_WAYS
 * ways, and the replay clock orders the entries for eviction. */
static int setup_one_bucket(void **state)
{
	return setup_with(state, (struct dp_opts){ .buckets = 1, .replay_clock = true });
}

static int setup_one_bucket_small_ring(void **state)
{
	return setup_with(state, (struct dp_opts){ .buckets = 1,
						   .replay_clock = true,
						   .ring_bytes = SMALL_RING });
}

static int setup_race(void **state)
{
	return setup_with(state, (struct dp_opts){ .buckets = 1024 });
}

struct table_sum {
	size_t entries;
	__u64 packets, bytes;
	size_t holes; /* an empty way before an occupied one: ways fill in order */
};

static struct table_sum table_sum(const struct dp *dp, int gen)
{
	struct table_sum s = { 0 };

	for (size_t b = 0; b < (size_t)ncpus * dp->p.nbuckets; b++) {
		bool empty_seen = false;

		for (int w = 0; w < FLOW_TABLE_WAYS; w++) {
			const struct flow_entry *e = &dp->p.gen[gen][b].way[w];

			if (!e->val.packets) {
				empty_seen = true;
				continue;
			}
			if (empty_seen)
				s.holes++;
			s.entries++;
			s.packets += e->val.packets;
			s.bytes += e->val.bytes;
		}
	}
	return s;
}

static void dump_table(const struct dp *dp, int gen)
{
	char buf[160];

	FOR_EACH_ENTRY(dp, gen, e)
	{
		print_error("#   generation %d holds %s: %" PRIu64 " packets %" PRIu64 " bytes\n",
			    gen, fmt_key(&e->key, buf, sizeof(buf)), (uint64_t)e->val.packets,
			    (uint64_t)e->val.bytes);
	}
}

/*
 * No silent loss: every packet the program saw is in a flow entry (possibly
 * evicted since, which keeps its counts), in the uncounted counters,
 * non-IP, or a named parse error. Fragments, too-long IPv6 chains and
 * truncated L4 headers are counted into flows, so they are not in the sum.
 * The error counters are found by name from the X-macro, so a new
 * CNT_ERR_* is covered without touching this.
 */
static void check_no_silent_loss(struct check *c, const __u64 cnt[CNT__MAX])
{
	__u64 accounted = cnt[CNT_FLOW_PACKETS] + cnt[CNT_UNCOUNTED_PACKETS] + cnt[CNT_NON_IP] +
			  cnt[CNT_PPPOE_DISCOVERY] + cnt[CNT_PPP_CONTROL] + cnt[CNT_MPLS_NON_IP];

	for (int i = 0; i < CNT__MAX; i++)
		if (strncmp(counter_names[i], "err_", 4) == 0)
			accounted += cnt[i];
	check_eq(c, "no silent loss (flow + uncounted + non_ip + err_*)", accounted,
		 cnt[CNT_PACKETS]);
}

/*
 * What the counters say was counted is exactly what the two generations
 * and the eviction ring (already read into dp->evicted) hold.
 */
static void check_table_matches_counters(struct check *c, const struct dp *dp,
					 const __u64 cnt[CNT__MAX])
{
	struct table_sum a = table_sum(dp, 0), b = table_sum(dp, 1);
	__u64 ring_packets = 0, ring_bytes = 0;

	for (size_t i = 0; i < dp->n_evicted && i < MAX_EVICTED; i++) {
		ring_packets += dp->evicted[i].val.packets;
		ring_bytes += dp->evicted[i].val.bytes;
	}
	check_eq(c, "table + ring packets == flow_packets", a.packets + b.packets + ring_packets,
		 cnt[CNT_FLOW_PACKETS]);
	check_eq(c, "table + ring bytes == flow_bytes", a.bytes + b.bytes + ring_bytes,
		 cnt[CNT_FLOW_BYTES]);
	check_eq(c, "ring records == flows_evicted", dp->n_evicted, cnt[CNT_FLOWS_EVICTED]);
	check_eq(c, "ring packets == evicted_packets", ring_packets, cnt[CNT_EVICTED_PACKETS]);
	check_eq(c, "ring bytes == evicted_bytes", ring_bytes, cnt[CNT_EVICTED_BYTES]);
	check_eq(c, "empty ways before occupied ones", a.holes + b.holes, 0);
}

/* ---- the table format ---------------------------------------------------- */

struct cnt_want {
	enum counter id;
	__u64 v; /* 0 ends the list */
};

/* A flow entry a case expects; zero fields are checked as zero, except the
 * addresses (the builder's defaults) and TTLs (PB_TTL). */
struct flow_want {
	uint8_t ip;
	const char *src, *dst;
	uint16_t vlan;
	uint8_t proto;
	uint16_t sport, dport;
	__u64 packets; /* 0 ends the list */
	__u64 bytes;
	uint8_t tcp_flags, tos, ttl_min, ttl_max, flags;
	uint8_t tunnel, encap; /* enum flow_tunnel, enum flow_encap */
	uint32_t mpls_label; /* the top entry, as on the wire */
	uint16_t inner_vlan;
};

#define MAX_CASE_FRAMES 6
#define MAX_CASE_CNT 6
#define MAX_CASE_FLOWS 4

/*
 * Counters derived from the frames and flows (packets, bytes, flow_packets,
 * flow_bytes, flows_created) need not be listed; cnt lists the others the
 * case moves (a listed value overrides a derived one). Every counter not
 * derived or listed must stay 0.
 */
struct dp_case {
	const char *desc;
	struct pb_spec frames[MAX_CASE_FRAMES];
	struct cnt_want cnt[MAX_CASE_CNT];
	struct flow_want flows[MAX_CASE_FLOWS];
};

static struct flow_key want_key(const struct flow_want *w)
{
	struct flow_key k;
	int af = w->ip == 6 ? AF_INET6 : AF_INET;

	memset(&k, 0, sizeof(k));
	k.ifindex = lo_ifindex;
	k.vlan = w->vlan;
	k.ip_version = w->ip;
	k.proto = w->proto;
	inet_pton(af, w->src ? w->src : w->ip == 6 ? PB_V6_SRC : PB_V4_SRC, k.src);
	inet_pton(af, w->dst ? w->dst : w->ip == 6 ? PB_V6_DST : PB_V4_DST, k.dst);
	k.sport = w->sport;
	k.dport = w->dport;
	return k;
}

/* The flow must sit in exactly one entry of the live generation (the test
 * runs on one CPU) with exactly these values. */
static void check_flow(struct check *c, const struct dp *dp, const struct flow_want *w)
{
	struct flow_key k = want_key(w);
	struct flow_value v;
	char key[160], what[256];
	int n;

	fmt_key(&k, key, sizeof(key));
	n = get_flow(dp, dp->p.live, &k, &v);
	if (n != 1) {
		print_error("# %s: flow %s in %d entries, want 1\n", c->ctx, key, n);
		dump_table(dp, 0);
		dump_table(dp, 1);
		c->failures++;
		return;
	}
#define FLOW_FIELD(field, want)                                        \
	do {                                                           \
		snprintf(what, sizeof(what), "flow %s: " #field, key); \
		check_eq(c, what, v.field, want);                      \
	} while (0)
	FLOW_FIELD(packets, w->packets);
	FLOW_FIELD(bytes, w->bytes);
	FLOW_FIELD(tcp_flags, w->tcp_flags);
	FLOW_FIELD(tos, w->tos);
	FLOW_FIELD(ttl_min, w->ttl_min ? w->ttl_min : PB_TTL);
	FLOW_FIELD(ttl_max, w->ttl_max ? w->ttl_max : PB_TTL);
	FLOW_FIELD(flags, w->flags);
	FLOW_FIELD(app, APP_UNKNOWN);
	FLOW_FIELD(tunnel, w->tunnel);
	FLOW_FIELD(encap, w->encap);
	FLOW_FIELD(mpls_label, w->mpls_label);
	FLOW_FIELD(inner_vlan, w->inner_vlan);
#undef FLOW_FIELD
	snprintf(what, sizeof(what), "flow %s: 0 < first_ns <= last_ns", key);
	check_true(c, what, v.first_ns && v.first_ns <= v.last_ns);
}

/* The connection table's counters are test_conn_track.c's: these tables
 * are about parsing and flow accounting, and there every TCP frame would
 * need its connection outcome spelled out. */
static bool conn_counter(int i)
{
	return i == CNT_TCP_RESETS || i == CNT_CONNS_CREATED || i == CNT_CONNS_EVICTED ||
	       i == CNT_CONN_TABLE_FULL;
}

/* The route lookup's outcomes depend on the host's routes (the lab test,
 * tests/integration/test_route_export.py, checks them against real ones):
 * here only that inline, every flow entering the table has exactly one,
 * and in tap mode and replay none. */
static bool route_counter(int i)
{
	return i >= CNT_ROUTE_FORWARDED && i <= CNT_ROUTE_NOT_LOOKED_UP;
}

static void check_counters(struct check *c, const struct dp *dp, const __u64 got[CNT__MAX],
			   const __u64 want[CNT__MAX])
{
	__u64 routes = 0;

	for (int i = 0; i < CNT__MAX; i++) {
		if (route_counter(i))
			routes += got[i];
		else if (!conn_counter(i))
			check_eq(c, counter_names[i], got[i], want[i]);
	}
	check_eq(c, "route outcomes (one per flow created, inline)", routes,
		 dp->skel->rodata->route_lookups ? got[CNT_FLOWS_CREATED] : 0);
	check_no_silent_loss(c, got);
}

/* Runs one case on a reset datapath; returns the number of mismatches. */
static int run_case(struct dp *dp, const struct dp_case *tc)
{
	struct check c = { .ctx = tc->desc };
	__u64 want[CNT__MAX] = { 0 }, got[CNT__MAX];
	size_t nflows = 0;
	struct pkt p;

	dp_reset(dp);
	for (int i = 0; i < MAX_CASE_FRAMES && pb_spec_present(&tc->frames[i]); i++) {
		__u32 retval = 0;
		int err;

		pb_build(&p, &tc->frames[i]);
		err = run_frame(dp, &p, &retval);
		check_eq(&c, "BPF_PROG_TEST_RUN error", -err, 0);
		check_eq(&c, "XDP return code", retval, expected_rc(dp));
		want[CNT_PACKETS]++;
		want[CNT_BYTES] += p.len;
	}
	for (int i = 0; i < MAX_CASE_FLOWS && tc->flows[i].packets; i++) {
		want[CNT_FLOW_PACKETS] += tc->flows[i].packets;
		want[CNT_FLOW_BYTES] += tc->flows[i].bytes;
		want[CNT_FLOWS_CREATED]++;
		nflows++;
	}
	for (int i = 0; i < MAX_CASE_CNT && tc->cnt[i].v; i++)
		want[tc->cnt[i].id] = tc->cnt[i].v;

	sum_counters(dp, got);
	consume_evicted(dp);
	check_counters(&c, dp, got, want);
	check_table_matches_counters(&c, dp, got);
	check_eq(&c, "entries in the live generation", table_sum(dp, 0).entries, nflows);
	check_eq(&c, "entries in the other generation", table_sum(dp, 1).entries, 0);
	for (size_t i = 0; i < nflows; i++)
		check_flow(&c, dp, &tc->flows[i]);
	return c.failures;
}

static void run_cases(struct dp *dp, const struct dp_case *cases, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += run_case(dp, &cases[i]) ? 1 : 0;
	if (bad)
		fail_msg("%d of %zu cases failed (details above)", bad, n);
}

/* ---- header combinations ------------------------------------------------ */

/*
 * IPv4/IPv6 x TCP/UDP/ICMP(v6)/SCTP/UDP-Lite/DCCP/other x 0/1/2 VLAN tags.
 * The outer tag carries PCP bits, which must not leak into key.vlan.
 */
static void test_header_matrix(void **state)
{
	static const struct {
		uint8_t proto;
		uint16_t l4_len; /* bytes the builder writes for it */
	} l4s[] = {
		{ PB_TCP, 20 },	   { PB_UDP, 8 },  { PB_ICMP, 8 }, { PB_SCTP, 12 },
		{ PB_UDPLITE, 8 }, { PB_DCCP, 8 }, { PB_GRE, 0 },
	};
	struct dp *dp = *state;
	char desc[128];
	int bad = 0, n = 0;

	for (int ip = 4; ip <= 6; ip += 2) {
		for (size_t l = 0; l < ARRAY_SIZE(l4s); l++) {
			for (int vlans = 0; vlans <= 2; vlans++) {
				uint8_t proto = l4s[l].proto;
				struct dp_case tc = { .desc = desc };
				struct pb_spec *s = &tc.frames[0];
				struct flow_want *w = &tc.flows[0];

				if (ip == 6 && proto == PB_ICMP)
					proto = PB_ICMPV6;
				snprintf(desc, sizeof(desc), "IPv%d proto %u, %d VLAN tags", ip,
					 proto, vlans);
				*s = (struct pb_spec){
					.ip = ip,
					.n_vlans = vlans,
					.tpid = { vlans == 2 ? PB_TPID_8021AD : PB_TPID_8021Q,
						  PB_TPID_8021Q },
					.tci = { 5 << 13 | 100, 200 },
					.proto = proto,
					.sport = 40000 + l,
					.dport = 443,
					.tcp_flags = PB_PSH | PB_ACK,
					.icmp_type = 3,
					.icmp_code = 1,
					.payload = 33,
				};
				*w = (struct flow_want){
					.ip = ip,
					.vlan = vlans ? 100 : 0,
					.proto = proto,
					.packets = 1,
					.bytes = (ip == 4 ? 20 : 40) + l4s[l].l4_len + 33,
					.inner_vlan = vlans == 2 ? 200 : 0,
				};
				/* GRE whose "header" is the 0xa5 filler: the
				 * routing bit and version 5, not taken off,
				 * so the outer flow. */
				if (proto == PB_GRE)
					tc.cnt[0] = (struct cnt_want){ CNT_TUNNEL_NOT_IP, 1 };
				switch (proto) {
				case PB_TCP:
					w->tcp_flags = PB_PSH | PB_ACK;
					/* fallthrough */
				case PB_UDP:
				case PB_SCTP:
				case PB_UDPLITE:
				case PB_DCCP:
					w->sport = 40000 + l;
					w->dport = 443;
					break;
				case PB_ICMP:
				case PB_ICMPV6:
					w->dport = 3 << 8 | 1; /* type << 8 | code */
					break;
				}
				bad += run_case(dp, &tc) ? 1 : 0;
				n++;
			}
		}
	}
	if (bad)
		fail_msg("%d of %d header combinations failed", bad, n);
}

/* IHL 0..4 is an error; 5..15 skips the options and reaches L4. */
static void test_ipv4_ihl(void **state)
{
	struct dp *dp = *state;
	char desc[64];
	int bad = 0;

	for (int ihl = 0; ihl <= 15; ihl++) {
		struct dp_case tc = {
			.desc = desc,
			.frames = { { .ip = 4,
				      .ihl = PB_SET(ihl),
				      .proto = PB_UDP,
				      .sport = 7,
				      .dport = 9,
				      .payload = 5 } },
		};

		snprintf(desc, sizeof(desc), "IPv4 IHL %d", ihl);
		if (ihl < 5)
			tc.cnt[0] = (struct cnt_want){ CNT_ERR_IPV4_BAD_IHL, 1 };
		else
			tc.flows[0] = (struct flow_want){ .ip = 4,
							  .proto = PB_UDP,
							  .sport = 7,
							  .dport = 9,
							  .packets = 1,
							  .bytes = ihl * 4 + 8 + 5 };
		bad += run_case(dp, &tc) ? 1 : 0;
	}
	if (bad)
		fail_msg("%d IHL values failed", bad);
}

#define TCP4(...)                                     \
	{                                             \
		.ip = 4, .proto = PB_TCP, __VA_ARGS__ \
	}
#define UDP4(...)                                     \
	{                                             \
		.ip = 4, .proto = PB_UDP, __VA_ARGS__ \
	}
#define UDP6(...)                                     \
	{                                             \
		.ip = 6, .proto = PB_UDP, __VA_ARGS__ \
	}

static const struct dp_case basic_cases[] = {
	{
		.desc = "IPv4 TCP: flags ORed, ToS of the first packet, TTL min/max",
		.frames = {
			TCP4(.sport = 40000, .dport = 443, .tcp_flags = PB_SYN,
			     .tos = 0x10, .ttl = 64),
			TCP4(.sport = 40000, .dport = 443, .tcp_flags = PB_ACK,
			     .tos = 0x00, .ttl = 50, .payload = 100),
			TCP4(.sport = 40000, .dport = 443, .tcp_flags = PB_FIN | PB_ACK,
			     .tos = 0x04, .ttl = 70),
		},
		.flows = { { .ip = 4, .proto = PB_TCP, .sport = 40000, .dport = 443,
			     .packets = 3, .bytes = 40 + 140 + 40,
			     .tcp_flags = PB_SYN | PB_ACK | PB_FIN, .tos = 0x10,
			     .ttl_min = 50, .ttl_max = 70 } },
	},
	{
		.desc = "IPv6 UDP: traffic class as ToS, hop limit as TTL",
		.frames = { UDP6(.sport = 5353, .dport = 53, .tos = 0xb8, .ttl = 255,
				 .payload = 20) },
		.flows = { { .ip = 6, .proto = PB_UDP, .sport = 5353, .dport = 53,
			     .packets = 1, .bytes = 40 + 8 + 20, .tos = 0xb8,
			     .ttl_min = 255, .ttl_max = 255 } },
	},
	{
		.desc = "IPv4 length field lying 65535 in a 42-byte frame: the "
			"28 bytes carried are counted",
		.frames = { UDP4(.sport = 9, .dport = 9, .ip_len_lie = 65535),
			    UDP4(.sport = 9, .dport = 9, .ip_len_lie = 65535) },
		.cnt = { { CNT_IP_LEN_BEYOND_FRAME, 2 } },
		.flows = { { .ip = 4, .proto = PB_UDP, .sport = 9, .dport = 9,
			     .packets = 2, .bytes = 2 * 28 } },
	},
	{
		.desc = "IPv6 payload length lying 65535: the bytes carried are counted",
		.frames = { UDP6(.sport = 9, .dport = 9, .payload = 10,
				 .ip_len_lie = 65535) },
		.cnt = { { CNT_IP_LEN_BEYOND_FRAME, 1 } },
		.flows = { { .ip = 6, .proto = PB_UDP, .sport = 9, .dport = 9,
			     .packets = 1, .bytes = 40 + 8 + 10 } },
	},
	{
		.desc = "a length field shorter than the frame stands (Ethernet padding)",
		.frames = { UDP4(.sport = 9, .dport = 9, .pad_to = 60) },
		.flows = { { .ip = 4, .proto = PB_UDP, .sport = 9, .dport = 9,
			     .packets = 1, .bytes = 28 } },
	},
	{
		.desc = "flows are unidirectional: the reply is another flow",
		.frames = {
			TCP4(.sport = 1025, .dport = 22, .tcp_flags = PB_SYN),
			TCP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 22, .dport = 1025,
			     .tcp_flags = PB_SYN | PB_ACK),
		},
		.flows = {
			{ .ip = 4, .proto = PB_TCP, .sport = 1025, .dport = 22,
			  .packets = 1, .bytes = 40, .tcp_flags = PB_SYN },
			{ .ip = 4, .src = PB_V4_DST, .dst = PB_V4_SRC, .proto = PB_TCP,
			  .sport = 22, .dport = 1025, .packets = 1, .bytes = 40,
			  .tcp_flags = PB_SYN | PB_ACK },
		},
	},
	{
		.desc = "IPv4 addresses sit in the first 4 key bytes, the rest zero",
		.frames = { UDP4(.src = "192.168.255.1", .dst = "172.31.0.254",
				 .sport = 1, .dport = 65535) },
		.flows = { { .ip = 4, .src = "192.168.255.1", .dst = "172.31.0.254",
			     .proto = PB_UDP, .sport = 1, .dport = 65535, .packets = 1,
			     .bytes = 28 } },
	},
	{
		.desc = "Ethernet padding: bytes are the IP total length",
		.frames = { UDP4(.sport = 53, .dport = 53, .pad_to = 60) },
		.flows = { { .ip = 4, .proto = PB_UDP, .sport = 53, .dport = 53,
			     .packets = 1, .bytes = 28 } },
	},
	{
		.desc = "ICMP echo request: sport 0, dport type 8 << 8 | code 0",
		.frames = { { .ip = 4, .proto = PB_ICMP, .icmp_type = 8, .payload = 56 } },
		.flows = { { .ip = 4, .proto = PB_ICMP, .dport = 0x0800, .packets = 1,
			     .bytes = 20 + 8 + 56 } },
	},
	{
		.desc = "ICMPv6 packet too big: dport type 2 << 8 | code 0",
		.frames = { { .ip = 6, .proto = PB_ICMPV6, .icmp_type = 2 } },
		.flows = { { .ip = 6, .proto = PB_ICMPV6, .dport = 0x0200, .packets = 1,
			     .bytes = 48 } },
	},
	{
		.desc = "802.1ad + 802.1Q with PCP and DEI: key.vlan is the outer VID",
		.frames = { UDP4(.n_vlans = 2, .tpid = { PB_TPID_8021AD, PB_TPID_8021Q },
				 .tci = { 0xb000 | 0x123, 0xf000 | 0x456 }, .sport = 1,
				 .dport = 2) },
		.flows = { { .ip = 4, .vlan = 0x123, .proto = PB_UDP, .sport = 1,
			     .dport = 2, .packets = 1, .bytes = 28, .inner_vlan = 0x456 } },
	},
	{
		.desc = "two 802.1Q tags (0x8100 twice)",
		.frames = { UDP6(.n_vlans = 2, .tci = { 4094, 1 }, .sport = 1, .dport = 2) },
		.flows = { { .ip = 6, .vlan = 4094, .proto = PB_UDP, .sport = 1,
			     .dport = 2, .packets = 1, .bytes = 48, .inner_vlan = 1 } },
	},
	{
		.desc = "priority-tagged frame (VID 0): key.vlan 0",
		.frames = { UDP4(.n_vlans = 1, .tci = { 6 << 13 }, .sport = 1, .dport = 2) },
		.flows = { { .ip = 4, .proto = PB_UDP, .sport = 1, .dport = 2,
			     .packets = 1, .bytes = 28 } },
	},
	{
		.desc = "same 5-tuple on two VLANs: two flows",
		.frames = {
			UDP4(.n_vlans = 1, .tci = { 10 }, .sport = 1, .dport = 2),
			UDP4(.n_vlans = 1, .tci = { 20 }, .sport = 1, .dport = 2),
		},
		.flows = {
			{ .ip = 4, .vlan = 10, .proto = PB_UDP, .sport = 1, .dport = 2,
			  .packets = 1, .bytes = 28 },
			{ .ip = 4, .vlan = 20, .proto = PB_UDP, .sport = 1, .dport = 2,
			  .packets = 1, .bytes = 28 },
		},
	},
	{
		.desc = "three VLAN tags: too deep, no flow",
		.frames = { UDP4(.n_vlans = 3, .tci = { 1, 2, 3 }, .sport = 1, .dport = 2) },
		.cnt = { { CNT_ERR_VLAN_TOO_DEEP, 1 } },
	},
	{
		.desc = "four 802.1ad tags: too deep, no flow",
		.frames = { UDP6(.n_vlans = 4,
				 .tpid = { PB_TPID_8021AD, PB_TPID_8021AD, PB_TPID_8021AD,
					   PB_TPID_8021AD },
				 .sport = 1, .dport = 2) },
		.cnt = { { CNT_ERR_VLAN_TOO_DEEP, 1 } },
	},
	{
		.desc = "ARP: not IP",
		.frames = { { .ethertype = PB_ETH_ARP, .payload = 28 } },
		.cnt = { { CNT_NON_IP, 1 } },
	},
	{
		.desc = "LLDP and ARP in a VLAN: not IP",
		.frames = {
			{ .ethertype = PB_ETH_LLDP, .payload = 46 },
			{ .ethertype = PB_ETH_ARP, .n_vlans = 2, .payload = 28 },
		},
		.cnt = { { CNT_NON_IP, 2 } },
	},
	{
		.desc = "ethertype IPv4, version 6",
		.frames = { UDP4(.version = PB_SET(6), .sport = 1, .dport = 2) },
		.cnt = { { CNT_ERR_IPV4_BAD_VERSION, 1 } },
	},
	{
		.desc = "ethertype IPv4, version 0 and 15",
		.frames = {
			UDP4(.version = PB_SET(0), .sport = 1, .dport = 2),
			UDP4(.version = PB_SET(15), .sport = 1, .dport = 2),
		},
		.cnt = { { CNT_ERR_IPV4_BAD_VERSION, 2 } },
	},
	{
		.desc = "ethertype IPv6, version 4 and 0",
		.frames = {
			UDP6(.version = PB_SET(4), .sport = 1, .dport = 2),
			UDP6(.version = PB_SET(0), .sport = 1, .dport = 2),
		},
		.cnt = { { CNT_ERR_IPV6_BAD_VERSION, 2 } },
	},
	{
		.desc = "IPv4 with DF: not a fragment",
		.frames = { UDP4(.frag = PB_IPV4_DF, .ip_id = 77, .sport = 1, .dport = 2) },
		.flows = { { .ip = 4, .proto = PB_UDP, .sport = 1, .dport = 2,
			     .packets = 1, .bytes = 28 } },
	},
	{
		.desc = "mixed good and bad frames: each counted once, where it belongs",
		.frames = {
			UDP4(.sport = 1, .dport = 2),
			{ .ethertype = PB_ETH_ARP, .payload = 28 },
			UDP4(.ihl = PB_SET(3), .sport = 1, .dport = 2),
			UDP4(.n_vlans = 3, .sport = 1, .dport = 2),
			UDP4(.sport = 1, .dport = 2, .payload = 10),
		},
		.cnt = { { CNT_NON_IP, 1 }, { CNT_ERR_IPV4_BAD_IHL, 1 },
			 { CNT_ERR_VLAN_TOO_DEEP, 1 } },
		.flows = { { .ip = 4, .proto = PB_UDP, .sport = 1, .dport = 2,
			     .packets = 2, .bytes = 28 + 38 } },
	},
};

static void test_basic_cases(void **state)
{
	run_cases(*state, basic_cases, ARRAY_SIZE(basic_cases));
}

/* ---- IPv6 extension headers ---------------------------------------------- */

#define EXT(t, l)                       \
	{                               \
		.type = (t), .len = (l) \
	}

static const struct dp_case ipv6_ext_cases[] = {
	{
		.desc = "hop-by-hop (8 bytes)",
		.frames = { UDP6(.n_ext = 1, .ext = { EXT(PB_HOPOPTS, 8) }, .sport = 1, .dport = 2,
				 .payload = 3) },
		.flows = { { .ip = 6,
			     .proto = PB_UDP,
			     .sport = 1,
			     .dport = 2,
			     .packets = 1,
			     .bytes = 40 + 8 + 8 + 3 } },
	},
	{
		.desc = "hop-by-hop (24 bytes: hdrlen 2)",
		.frames = { UDP6(.n_ext = 1, .ext = { EXT(PB_HOPOPTS, 24) }, .sport = 1,
				 .dport = 2) },
		.flows = { { .ip = 6,
			     .proto = PB_UDP,
			     .sport = 1,
			     .dport = 2,
			     .packets = 1,
			     .bytes = 40 + 24 + 8 } },
	},
	{
		.desc = "routing (24 bytes) then TCP",
		.frames = { { .ip = 6,
			      .n_ext = 1,
			      .ext = { EXT(PB_ROUTING, 24) },
			      .proto = PB_TCP,
			      .sport = 80,
			      .dport = 50000,
			      .tcp_flags = PB_RST } },
		.flows = { { .ip = 6,
			     .proto = PB_TCP,
			     .sport = 80,
			     .dport = 50000,
			     .packets = 1,
			     .bytes = 40 + 24 + 20,
			     .tcp_flags = PB_RST } },
	},
	{
		.desc = "destination options (16 bytes)",
		.frames = { UDP6(.n_ext = 1, .ext = { EXT(PB_DSTOPTS, 16) }, .sport = 1,
				 .dport = 2) },
		.flows = { { .ip = 6,
			     .proto = PB_UDP,
			     .sport = 1,
			     .dport = 2,
			     .packets = 1,
			     .bytes = 40 + 16 + 8 } },
	},
	{
		.desc = "mobility header (8 bytes) then UDP",
		.frames = { UDP6(.n_ext = 1, .ext = { EXT(PB_MH, 8) }, .sport = 1, .dport = 2) },
		.flows = { { .ip = 6,
			     .proto = PB_UDP,
			     .sport = 1,
			     .dport = 2,
			     .packets = 1,
			     .bytes = 40 + 8 + 8 } },
	},
	{
		.desc = "AH (12 bytes: length in 4-byte units minus 2)",
		.frames = { UDP6(.n_ext = 1, .ext = { EXT(PB_AH, 12) }, .sport = 1, .dport = 2) },
		.flows = { { .ip = 6,
			     .proto = PB_UDP,
			     .sport = 1,
			     .dport = 2,
			     .packets = 1,
			     .bytes = 40 + 12 + 8 } },
	},
	{
		.desc = "AH (24 bytes) then ICMPv6",
		.frames = { { .ip = 6,
			      .n_ext = 1,
			      .ext = { EXT(PB_AH, 24) },
			      .proto = PB_ICMPV6,
			      .icmp_type = 128 } },
		.flows = { { .ip = 6,
			     .proto = PB_ICMPV6,
			     .dport = 128 << 8,
			     .packets = 1,
			     .bytes = 40 + 24 + 8 } },
	},
	{
		.desc = "atomic fragment header (offset 0, M=0): a first fragment",
		.frames = { UDP6(.n_ext = 1, .ext = { { .type = PB_FRAGMENT, .id = 42 } },
				 .sport = 1, .dport = 2) },
		.cnt = { { CNT_FRAGMENTS, 1 } },
		.flows = { { .ip = 6,
			     .proto = PB_UDP,
			     .sport = 1,
			     .dport = 2,
			     .packets = 1,
			     .bytes = 40 + 8 + 8,
			     .flags = FLOW_F_FRAGMENTED } },
	},
	{
		.desc = "no next header (59) after destination options: proto 59",
		.frames = { { .ip = 6,
			      .n_ext = 1,
			      .ext = { EXT(PB_DSTOPTS, 8) },
			      .proto = PB_NONXT,
			      .payload = 4 } },
		.flows = { { .ip = 6, .proto = PB_NONXT, .packets = 1, .bytes = 40 + 8 + 4 } },
	},
};

static void test_ipv6_ext_cases(void **state)
{
	run_cases(*state, ipv6_ext_cases, ARRAY_SIZE(ipv6_ext_cases));
}

/*
 * Chains of MAX_IPV6_EXT_HDRS - 1 .. + 2 headers. Up to the bound the walk
 * reaches UDP; past it, the flow is still counted, with ports 0 and proto
 * the header the walk stopped at (the one after the last walked), flagged.
 */
static void test_ipv6_ext_chain_bound(void **state)
{
	static const struct pb_ext kinds[] = {
		EXT(PB_HOPOPTS, 8), EXT(PB_ROUTING, 24), EXT(PB_DSTOPTS, 16), EXT(PB_AH, 12),
		EXT(PB_MH, 8),	    EXT(PB_DSTOPTS, 8),	 EXT(PB_ROUTING, 16), EXT(PB_AH, 16),
		EXT(PB_HOPOPTS, 8), EXT(PB_DSTOPTS, 8),
	};
	struct dp *dp = *state;
	char desc[96];
	int bad = 0;

	_Static_assert(MAX_IPV6_EXT_HDRS + 2 <= PB_MAX_EXT, "builder holds the chain");
	_Static_assert(MAX_IPV6_EXT_HDRS + 2 <= ARRAY_SIZE(kinds), "enough kinds");
	for (int n = MAX_IPV6_EXT_HDRS - 1; n <= MAX_IPV6_EXT_HDRS + 2; n++) {
		struct dp_case tc = { .desc = desc };
		struct pb_spec *s = &tc.frames[0];
		struct flow_want *w = &tc.flows[0];
		unsigned int ext_bytes = 0;

		snprintf(desc, sizeof(desc), "IPv6 chain of %d extension headers (bound %d)", n,
			 MAX_IPV6_EXT_HDRS);
		*s = (struct pb_spec)UDP6(.n_ext = n, .sport = 111, .dport = 222, .payload = 1);
		for (int i = 0; i < n; i++) {
			s->ext[i] = kinds[i];
			ext_bytes += kinds[i].len;
		}
		*w = (struct flow_want){ .ip = 6, .packets = 1, .bytes = 40 + ext_bytes + 8 + 1 };
		if (n <= MAX_IPV6_EXT_HDRS) {
			w->proto = PB_UDP;
			w->sport = 111;
			w->dport = 222;
		} else {
			w->proto = kinds[MAX_IPV6_EXT_HDRS].type;
			w->flags = FLOW_F_EXT_CHAIN_TOO_LONG;
			tc.cnt[0] = (struct cnt_want){ CNT_IPV6_EXT_TOO_LONG, 1 };
		}
		bad += run_case(dp, &tc) ? 1 : 0;
	}
	if (bad)
		fail_msg("%d chain lengths failed", bad);
}

/* ---- fragments ----------------------------------------------------------- */

/*
 * IPv4 fragments of one UDP datagram (ports 1000 -> 2000, IP ID 0x1234):
 * the first carries 8 + 96 bytes of IP payload (13 units of 8 bytes).
 */
#define V4_FIRST(id_, ...)                                                                    \
	UDP4(.ip_id = (id_), .frag = PB_IPV4_MF, .sport = 1000, .dport = 2000, .payload = 96, \
	     __VA_ARGS__)
#define V4_LATER(id_, off, mf, ...)                                                  \
	UDP4(.ip_id = (id_), .frag = (off) | ((mf) ? PB_IPV4_MF : 0), .no_l4 = true, \
	     .payload = 104, __VA_ARGS__)
#define V6_FRAG(off, mf, id_)                                                        \
	{                                                                            \
		.type = PB_FRAGMENT, .frag_offset = (off), .more = (mf), .id = (id_) \
	}

static const struct dp_case frag_cases[] = {
	{
		.desc = "IPv4: first fragment and two later ones share its flow",
		.frames = { V4_FIRST(0x1234), V4_LATER(0x1234, 13, true),
			    V4_LATER(0x1234, 26, false) },
		.cnt = { { CNT_FRAGMENTS, 3 }, { CNT_FRAG_MATCHED, 2 } },
		.flows = { { .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			     .packets = 3, .bytes = 3 * 124,
			     .flags = FLOW_F_FRAGMENTED } },
	},
	{
		.desc = "IPv4: later fragments without a first go to ports 0",
		.frames = { V4_LATER(0x5555, 13, true), V4_LATER(0x5555, 26, false) },
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_UNMATCHED, 2 } },
		.flows = { { .ip = 4, .proto = PB_UDP, .packets = 2, .bytes = 2 * 124,
			     .flags = FLOW_F_FRAGMENTED } },
	},
	{
		.desc = "IPv4: a later fragment with another IP ID does not match",
		.frames = { V4_FIRST(1), V4_LATER(2, 13, false) },
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_UNMATCHED, 1 } },
		.flows = {
			{ .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			  .packets = 1, .bytes = 124, .flags = FLOW_F_FRAGMENTED },
			{ .ip = 4, .proto = PB_UDP, .packets = 1, .bytes = 124,
			  .flags = FLOW_F_FRAGMENTED },
		},
	},
	{
		.desc = "IPv4: the same IP ID from another source does not match",
		.frames = { V4_FIRST(7), V4_LATER(7, 13, false, .src = "10.0.0.3") },
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_UNMATCHED, 1 } },
		.flows = {
			{ .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			  .packets = 1, .bytes = 124, .flags = FLOW_F_FRAGMENTED },
			{ .ip = 4, .src = "10.0.0.3", .proto = PB_UDP, .packets = 1,
			  .bytes = 124, .flags = FLOW_F_FRAGMENTED },
		},
	},
	{
		.desc = "IPv4: two interleaved datagrams, each matched by IP ID",
		.frames = {
			V4_FIRST(1),
			UDP4(.ip_id = 2, .frag = PB_IPV4_MF, .sport = 3000, .dport = 4000,
			     .payload = 96),
			V4_LATER(2, 13, false),
			V4_LATER(1, 13, false),
		},
		.cnt = { { CNT_FRAGMENTS, 4 }, { CNT_FRAG_MATCHED, 2 } },
		.flows = {
			{ .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			  .packets = 2, .bytes = 248, .flags = FLOW_F_FRAGMENTED },
			{ .ip = 4, .proto = PB_UDP, .sport = 3000, .dport = 4000,
			  .packets = 2, .bytes = 248, .flags = FLOW_F_FRAGMENTED },
		},
	},
	{
		.desc = "IPv4: a second first fragment with the same IP ID keeps "
			"the first one's ports for the later fragments",
		.frames = { V4_FIRST(0x4242),
			    UDP4(.ip_id = 0x4242, .frag = PB_IPV4_MF, .sport = 6666,
				 .dport = 7777, .payload = 96),
			    V4_LATER(0x4242, 13, false) },
		.cnt = { { CNT_FRAGMENTS, 3 }, { CNT_FRAG_MATCHED, 1 },
			 { CNT_FRAG_FIRST_REPEATED, 1 } },
		.flows = {
			{ .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			  .packets = 2, .bytes = 248, .flags = FLOW_F_FRAGMENTED },
			{ .ip = 4, .proto = PB_UDP, .sport = 6666, .dport = 7777,
			  .packets = 1, .bytes = 124, .flags = FLOW_F_FRAGMENTED },
		},
	},
	{
		.desc = "IPv4: fragmented TCP; the flow's flags come from the first",
		.frames = {
			TCP4(.ip_id = 9, .frag = PB_IPV4_MF, .sport = 5, .dport = 6,
			     .tcp_flags = PB_PSH | PB_ACK, .payload = 84),
			{ .ip = 4, .proto = PB_TCP, .no_l4 = true, .ip_id = 9,
			  .frag = 13, .payload = 10 },
		},
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_MATCHED, 1 } },
		.flows = { { .ip = 4, .proto = PB_TCP, .sport = 5, .dport = 6,
			     .packets = 2, .bytes = 124 + 30,
			     .tcp_flags = PB_PSH | PB_ACK,
			     .flags = FLOW_F_FRAGMENTED } },
	},
	{
		.desc = "IPv6: fragment header, first and two later fragments",
		.frames = {
			UDP6(.n_ext = 1, .ext = { V6_FRAG(0, true, 0xdeadbeef) },
			     .sport = 1000, .dport = 2000, .payload = 96),
			UDP6(.n_ext = 1, .ext = { V6_FRAG(13, true, 0xdeadbeef) },
			     .no_l4 = true, .payload = 104),
			UDP6(.n_ext = 1, .ext = { V6_FRAG(26, false, 0xdeadbeef) },
			     .no_l4 = true, .payload = 20),
		},
		.cnt = { { CNT_FRAGMENTS, 3 }, { CNT_FRAG_MATCHED, 2 } },
		.flows = { { .ip = 6, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			     .packets = 3, .bytes = 152 + 152 + 68,
			     .flags = FLOW_F_FRAGMENTED } },
	},
	{
		.desc = "IPv6: later fragments without a first go to ports 0",
		.frames = {
			UDP6(.n_ext = 1, .ext = { V6_FRAG(13, true, 77) }, .no_l4 = true,
			     .payload = 104),
			UDP6(.n_ext = 1, .ext = { V6_FRAG(26, false, 77) }, .no_l4 = true,
			     .payload = 20),
		},
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_UNMATCHED, 2 } },
		.flows = { { .ip = 6, .proto = PB_UDP, .packets = 2, .bytes = 152 + 68,
			     .flags = FLOW_F_FRAGMENTED } },
	},
	{
		.desc = "IPv6: another identification does not match",
		.frames = {
			UDP6(.n_ext = 1, .ext = { V6_FRAG(0, true, 1) }, .sport = 1000,
			     .dport = 2000, .payload = 96),
			UDP6(.n_ext = 1, .ext = { V6_FRAG(13, false, 2) }, .no_l4 = true,
			     .payload = 104),
		},
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_UNMATCHED, 1 } },
		.flows = {
			{ .ip = 6, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			  .packets = 1, .bytes = 152, .flags = FLOW_F_FRAGMENTED },
			{ .ip = 6, .proto = PB_UDP, .packets = 1, .bytes = 152,
			  .flags = FLOW_F_FRAGMENTED },
		},
	},
	{
		.desc = "IPv6: hop-by-hop before the fragment header",
		.frames = {
			UDP6(.n_ext = 2, .ext = { EXT(PB_HOPOPTS, 8), V6_FRAG(0, true, 5) },
			     .sport = 1000, .dport = 2000, .payload = 96),
			UDP6(.n_ext = 2, .ext = { EXT(PB_HOPOPTS, 8), V6_FRAG(13, false, 5) },
			     .no_l4 = true, .payload = 104),
		},
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_MATCHED, 1 } },
		.flows = { { .ip = 6, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			     .packets = 2, .bytes = 160 + 160,
			     .flags = FLOW_F_FRAGMENTED } },
	},
};

static void test_fragment_cases(void **state)
{
	run_cases(*state, frag_cases, ARRAY_SIZE(frag_cases));
}

/*
 * RFC 8200 4.5: headers after the fragment header are part of the
 * fragmentable part, so a later fragment's fragment header names the first
 * of them (here destination options, 60), not the upper-layer protocol.
 * All fragments of one packet carry the same next-header value there, so
 * they still belong to the first fragment's flow (src, dst, id).
 */
static const struct dp_case frag_dstopts_cases[] = {
	{
		.desc = "IPv6: destination options after the fragment header",
		.frames = {
			UDP6(.n_ext = 2, .ext = { V6_FRAG(0, true, 9), EXT(PB_DSTOPTS, 8) },
			     .sport = 1000, .dport = 2000, .payload = 88),
			{ .ip = 6, .n_ext = 1, .ext = { V6_FRAG(13, false, 9) },
			  .proto = PB_DSTOPTS, .no_l4 = true, .payload = 104 },
		},
		.cnt = { { CNT_FRAGMENTS, 2 }, { CNT_FRAG_MATCHED, 1 } },
		.flows = { { .ip = 6, .proto = PB_UDP, .sport = 1000, .dport = 2000,
			     .packets = 2, .bytes = 152 + 152,
			     .flags = FLOW_F_FRAGMENTED } },
	},
};

static void test_fragment_dstopts_after_frag(void **state)
{
	run_cases(*state, frag_dstopts_cases, ARRAY_SIZE(frag_dstopts_cases));
}

/* ---- encapsulations ------------------------------------------------------ */

#define IN4(...)                                                                                 \
	{                                                                                        \
		.ip = 4, .proto = PB_UDP, .packets = 1, .bytes = 38, .sport = 1000, .dport = 53, \
		__VA_ARGS__                                                                      \
	}
#define IN6(...)                                                                                 \
	{                                                                                        \
		.ip = 6, .proto = PB_UDP, .packets = 1, .bytes = 58, .sport = 1000, .dport = 53, \
		__VA_ARGS__                                                                      \
	}
#define ENC4(...) UDP4(.sport = 1000, .dport = 53, .payload = 10, __VA_ARGS__)
#define ENC6(...) UDP6(.sport = 1000, .dport = 53, .payload = 10, __VA_ARGS__)
#define DECAP                                      \
	{                                          \
		{                                  \
			CNT_TUNNEL_DECAPSULATED, 1 \
		}                                  \
	}
#define MPLS_ENTRY(label, s) ((label) << 12 | (s) << 8 | 64)

/* Every encapsulation is counted as the flow it carries, with how it came. */
static const struct dp_case encap_cases[] = {
	{ .desc = "PPPoE session, IPv4",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_PPPOE }) },
	  .flows = { IN4(.encap = ENCAP_PPPOE) } },
	{ .desc = "PPPoE session in 802.1Q, IPv6",
	  .frames = { ENC6(.n_vlans = 1, .tci = { 100 }, .encap = { .kind = PB_ENC_PPPOE }) },
	  .flows = { IN6(.vlan = 100, .encap = ENCAP_PPPOE) } },
	{ .desc = "PPPoE session in QinQ: outer VLAN in the key, inner kept",
	  .frames = { ENC4(.n_vlans = 2, .tpid = { PB_TPID_8021AD, PB_TPID_8021Q },
			   .tci = { 10, 20 }, .encap = { .kind = PB_ENC_PPPOE }) },
	  .flows = { IN4(.vlan = 10, .inner_vlan = 20, .encap = ENCAP_PPPOE) } },
	{ .desc = "PPPoE discovery: its own kind of non-IP",
	  .frames = { { .ethertype = PB_ETH_PPPOE_DISC, .payload = 20 } },
	  .cnt = { { CNT_PPPOE_DISCOVERY, 1 } } },
	{ .desc = "PPPoE session carrying LCP: PPP control, not an error",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_PPPOE, .ppp_proto = 0xc021 }) },
	  .cnt = { { CNT_PPP_CONTROL, 1 } } },
	{ .desc = "MPLS, one label, IPv4",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_MPLS, .label = 16 }) },
	  .flows = { IN4(.encap = ENCAP_MPLS, .mpls_label = MPLS_ENTRY(16, 1)) } },
	{ .desc = "MPLS in 802.1Q, MAX_MPLS_LABELS labels, IPv6",
	  .frames = { ENC6(.n_vlans = 1, .tci = { 5 },
			   .encap = { .kind = PB_ENC_MPLS,
				      .label = 0xfffff,
				      .n_labels = MAX_MPLS_LABELS }) },
	  .flows = { IN6(.vlan = 5, .encap = ENCAP_MPLS, .mpls_label = MPLS_ENTRY(0xfffff, 0)) } },
	{ .desc = "MPLS deeper than MAX_MPLS_LABELS",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_MPLS,
				      .label = 16,
				      .n_labels = MAX_MPLS_LABELS + 1 }) },
	  .cnt = { { CNT_ERR_MPLS_TOO_DEEP, 1 } } },
	{ .desc = "MPLS Ethernet pseudowire with control word (tagged inside)",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_MPLS_PW, .label = 99, .inner_vlan = true }) },
	  .flows = { IN4(.encap = ENCAP_MPLS | ENCAP_PSEUDOWIRE,
			 .mpls_label = MPLS_ENTRY(99, 1)) } },
	{ .desc = "IPv4 in IPv4",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_IPIP }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_IPIP) } },
	{ .desc = "IPv6 in IPv4 (6in4)",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_IPIP }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_IPIP) } },
	{ .desc = "IPv4 in IPv6 (4in6)",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_IPIP, .outer_ip = 6 }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_IPIP) } },
	{ .desc = "IPv6 in IPv6",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_IPIP, .outer_ip = 6 }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_IPIP) } },
	{ .desc = "GRE, IPv4 inside",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_GRE }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_GRE) } },
	{ .desc = "GRE with key and sequence number over IPv6, IPv6 inside",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_GRE, .outer_ip = 6, .gre_flags = 0x3000 }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_GRE) } },
	{ .desc = "GRE carrying Ethernet (TEB), tagged inside",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_GRE_TEB, .inner_vlan = true }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_GRE) } },
	{ .desc = "ERSPAN type II",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_ERSPAN2 }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_ERSPAN) } },
	{ .desc = "ERSPAN type III, IPv6 inside",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_ERSPAN3 }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_ERSPAN) } },
	{ .desc = "VXLAN over IPv4",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_VXLAN }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_VXLAN) } },
	{ .desc = "VXLAN over IPv6, tagged inside",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_VXLAN, .outer_ip = 6, .inner_vlan = true }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_VXLAN) } },
	{ .desc = "Geneve with options",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_GENEVE }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_GENEVE) } },
	{ .desc = "GRE in UDP (RFC 8086), IPv4 inside",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_GRE_UDP }) },
	  .cnt = DECAP,
	  .flows = { IN4(.tunnel = TUN_GRE_UDP) } },
	{ .desc = "GRE in UDP over IPv6 with a key, IPv6 inside",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_GRE_UDP, .outer_ip = 6, .gre_flags = 0x2000 }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_GRE_UDP) } },
	{ .desc = "UDP to port 4754 that is not GRE (routing bit): the outer flow",
	  .frames = { UDP4(.sport = 40000, .dport = 4754, .payload = 8,
			   .data = "\x40\x00\x08\x00" "abcd") },
	  .cnt = { { CNT_TUNNEL_NOT_IP, 1 } },
	  .flows = { { .ip = 4,
		       .proto = PB_UDP,
		       .sport = 40000,
		       .dport = 4754,
		       .packets = 1,
		       .bytes = 36 } } },
	{ .desc = "GTP-U G-PDU",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_GTPU }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_GTPU) } },
	{ .desc = "Teredo with origin indication",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_TEREDO }) },
	  .cnt = DECAP,
	  .flows = { IN6(.tunnel = TUN_TEREDO) } },
	{ .desc = "UDP to port 3544 that is not Teredo: the outer flow",
	  .frames = { UDP4(.sport = 3544, .dport = 9, .payload = 50) },
	  .cnt = { { CNT_TUNNEL_NOT_IP, 1 } },
	  .flows = { { .ip = 4,
		       .proto = PB_UDP,
		       .sport = 3544,
		       .dport = 9,
		       .packets = 1,
		       .bytes = 78 } } },
	{ .desc = "UDP to 3544 with a 6 nibble and 40 bytes, not one IPv6 packet",
	  .frames = { UDP4(.sport = 50000, .dport = 3544, .payload = 56,
			   .data = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe") },
	  .cnt = { { CNT_TUNNEL_NOT_IP, 1 } },
	  .flows = { { .ip = 4,
		       .proto = PB_UDP,
		       .sport = 50000,
		       .dport = 3544,
		       .packets = 1,
		       .bytes = 84 } } },
	{ .desc = "first fragment of a GRE packet: the outer flow",
	  .frames = { { .ip = 4,
			.proto = PB_GRE,
			.no_l4 = true,
			.frag = PB_IPV4_MF,
			.ip_id = 7,
			.payload = 40 } },
	  .cnt = { { CNT_TUNNEL_OUTER_FRAGMENT, 1 }, { CNT_FRAGMENTS, 1 } },
	  .flows = { { .ip = 4,
		       .proto = PB_GRE,
		       .packets = 1,
		       .bytes = 60,
		       .flags = FLOW_F_FRAGMENTED } } },
};

static void test_encap_cases(void **state)
{
	run_cases(*state, encap_cases, ARRAY_SIZE(encap_cases));
}

/* --tunnels outer: tunnels are counted as themselves; PPPoE and MPLS are
 * still looked through (there is no other flow to count). */
static const struct dp_case tunnels_outer_cases[] = {
	{ .desc = "GRE counted as the outer flow",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_GRE }) },
	  .flows = { { .ip = 4,
		       .src = PB_OUTER_V4_SRC,
		       .dst = PB_OUTER_V4_DST,
		       .proto = PB_GRE,
		       .packets = 1,
		       .bytes = 20 + 4 + 38,
		       .ttl_min = 33,
		       .ttl_max = 33 } } },
	{ .desc = "VXLAN counted as the outer flow",
	  .frames = { ENC6(.encap = { .kind = PB_ENC_VXLAN }) },
	  .flows = { { .ip = 4,
		       .src = PB_OUTER_V4_SRC,
		       .dst = PB_OUTER_V4_DST,
		       .proto = PB_UDP,
		       .sport = 50000,
		       .dport = 4789,
		       .packets = 1,
		       .bytes = 20 + 8 + 8 + 14 + 58,
		       .ttl_min = 33,
		       .ttl_max = 33 } } },
	{ .desc = "GRE in UDP counted as the outer flow",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_GRE_UDP }) },
	  .flows = { { .ip = 4,
		       .src = PB_OUTER_V4_SRC,
		       .dst = PB_OUTER_V4_DST,
		       .proto = PB_UDP,
		       .sport = 50000,
		       .dport = 4754,
		       .packets = 1,
		       .bytes = 20 + 8 + 4 + 38,
		       .ttl_min = 33,
		       .ttl_max = 33 } } },
	{ .desc = "PPPoE still looked through",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_PPPOE }) },
	  .flows = { IN4(.encap = ENCAP_PPPOE) } },
	{ .desc = "MPLS still looked through",
	  .frames = { ENC4(.encap = { .kind = PB_ENC_MPLS, .label = 16 }) },
	  .flows = { IN4(.encap = ENCAP_MPLS, .mpls_label = MPLS_ENTRY(16, 1)) } },
};

static void test_tunnels_outer(void **state)
{
	run_cases(*state, tunnels_outer_cases, ARRAY_SIZE(tunnels_outer_cases));
}

static int setup_tunnels_outer(void **state)
{
	return setup_with(state, (struct dp_opts){ .tunnels_outer = true });
}

/* ---- truncation at every byte ---------------------------------------- */

enum cut_outcome {
	CUT_REFUSED, /* BPF_PROG_TEST_RUN refuses the frame: EINVAL */
	CUT_ERROR, /* the named error counter, no flow */
	CUT_L4_TRUNCATED, /* counted, ports 0, CNT_L4_TRUNCATED */
	CUT_COUNTED, /* counted with its ports */
	CUT_OUTER, /* tunnel not taken off: the outer flow, and err */
	CUT_OUTER_L4, /* the outer flow, ports 0, CNT_L4_TRUNCATED */
};

struct cut_region {
	size_t below; /* cut lengths under this (and over the last region) */
	enum cut_outcome outcome;
	enum counter err;
};

struct cut_case {
	const char *desc;
	struct pb_spec frame;
	struct flow_want flow; /* what the whole frame counts as */
	struct cnt_want also[2]; /* counted with the flow (e.g. fragments) */
	struct cut_region regions[10]; /* the last has below = SIZE_MAX */
	struct flow_want outer; /* tunnels: the outer flow (CUT_OUTER) */
	size_t decap_at; /* tunnels: from this cut on, the tunnel is
				   taken off (CNT_TUNNEL_DECAPSULATED) */
};

/*
 * The kernel refuses XDP test frames shorter than an Ethernet header
 * (bpf_prog_test_run_xdp: EINVAL below ETH_HLEN), so the program never sees
 * them and CNT_ERR_ETH_TRUNCATED cannot be reached from here.
 */
#define ETH_REFUSED                \
	{                          \
		14, CUT_REFUSED, 0 \
	}

static const struct cut_case cut_cases[] = {
	{
		.desc = "802.1Q + IPv4 (IHL 6) + TCP",
		.frame = TCP4(.n_vlans = 1, .tci = { 100 }, .ihl = PB_SET(6),
			      .tos = 0x20, .sport = 1234, .dport = 80,
			      .tcp_flags = PB_PSH | PB_ACK, .payload = 10),
		.flow = { .ip = 4, .vlan = 100, .proto = PB_TCP, .sport = 1234,
			  .dport = 80, .packets = 1, .bytes = 24 + 20 + 10,
			  .tcp_flags = PB_PSH | PB_ACK, .tos = 0x20 },
		.regions = {
			ETH_REFUSED,
			{ 14 + 4, CUT_ERROR, CNT_ERR_VLAN_TRUNCATED },
			{ 18 + 24, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED }, /* + options */
			{ 42 + 20, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "802.1ad + 802.1Q + IPv6 + hop-by-hop + dest opts + UDP",
		.frame = UDP6(.n_vlans = 2, .tpid = { PB_TPID_8021AD, PB_TPID_8021Q },
			      .tci = { 100, 200 }, .n_ext = 2,
			      .ext = { EXT(PB_HOPOPTS, 8), EXT(PB_DSTOPTS, 16) },
			      .sport = 5000, .dport = 6000, .payload = 10),
		.flow = { .ip = 6, .vlan = 100, .proto = PB_UDP, .sport = 5000,
			  .dport = 6000, .packets = 1, .bytes = 40 + 24 + 8 + 10,
			  .inner_vlan = 200 },
		.regions = {
			ETH_REFUSED,
			{ 18, CUT_ERROR, CNT_ERR_VLAN_TRUNCATED },  /* outer tag */
			{ 22, CUT_ERROR, CNT_ERR_VLAN_TRUNCATED },  /* inner tag */
			{ 62, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED },  /* fixed header */
			{ 70, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED },  /* hop-by-hop */
			{ 86, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED },  /* dest opts */
			{ 90, CUT_L4_TRUNCATED, 0 }, /* UDP: the ports are 4 bytes */
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "IPv6 + fragment header (first fragment) + TCP",
		.frame = { .ip = 6, .n_ext = 1, .ext = { V6_FRAG(0, true, 3) },
			   .proto = PB_TCP, .sport = 22, .dport = 2222,
			   .tcp_flags = PB_ACK, .payload = 16 },
		.flow = { .ip = 6, .proto = PB_TCP, .sport = 22, .dport = 2222,
			  .packets = 1, .bytes = 40 + 8 + 20 + 16, .tcp_flags = PB_ACK,
			  .flags = FLOW_F_FRAGMENTED },
		.also = { { CNT_FRAGMENTS, 1 } },
		.regions = {
			ETH_REFUSED,
			{ 54, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED },
			{ 62, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED }, /* fragment hdr */
			{ 82, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "IPv4 + ICMP",
		.frame = { .ip = 4, .proto = PB_ICMP, .icmp_type = 11, .icmp_code = 1,
			   .payload = 8 },
		.flow = { .ip = 4, .proto = PB_ICMP, .dport = 11 << 8 | 1,
			  .packets = 1, .bytes = 20 + 8 + 8 },
		.regions = {
			ETH_REFUSED,
			{ 34, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 36, CUT_L4_TRUNCATED, 0 }, /* type and code: 2 bytes */
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "PPPoE + IPv4 + UDP",
		.frame = UDP4(.encap = { .kind = PB_ENC_PPPOE }, .sport = 1000, .dport = 53,
			      .payload = 10),
		.flow = { .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 53,
			  .packets = 1, .bytes = 38, .encap = ENCAP_PPPOE },
		.regions = {
			ETH_REFUSED,
			{ 22, CUT_ERROR, CNT_ERR_PPPOE_TRUNCATED },
			{ 42, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 46, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "802.1Q + MPLS (2 labels) + IPv6 + TCP",
		.frame = { .ip = 6, .proto = PB_TCP, .n_vlans = 1, .tci = { 100 },
			   .encap = { .kind = PB_ENC_MPLS, .n_labels = 2, .label = 1000 },
			   .sport = 1, .dport = 2, .tcp_flags = PB_ACK, .payload = 10 },
		.flow = { .ip = 6, .vlan = 100, .proto = PB_TCP, .sport = 1,
			  .dport = 2, .packets = 1, .bytes = 70, .tcp_flags = PB_ACK,
			  .encap = ENCAP_MPLS, .mpls_label = 1000 << 12 | 64 },
		.regions = {
			ETH_REFUSED,
			{ 18, CUT_ERROR, CNT_ERR_VLAN_TRUNCATED },
			{ 27, CUT_ERROR, CNT_ERR_MPLS_TRUNCATED }, /* + next nibble */
			{ 66, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED },
			{ 86, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "IPv4 + GRE (checksum, key, sequence) + IPv4 + UDP",
		.frame = UDP4(.encap = { .kind = PB_ENC_GRE, .gre_flags = 0xb000 },
			      .sport = 1000, .dport = 53, .payload = 10),
		.flow = { .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 53,
			  .packets = 1, .bytes = 38, .tunnel = TUN_GRE },
		.outer = { .ip = 4, .src = PB_OUTER_V4_SRC, .dst = PB_OUTER_V4_DST,
			   .proto = PB_GRE, .packets = 1, .bytes = 20 + 16 + 38,
			   .ttl_min = 33, .ttl_max = 33 },
		.decap_at = 50,
		.regions = {
			ETH_REFUSED,
			{ 34, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 50, CUT_OUTER, CNT_TUNNEL_TRUNCATED },
			{ 70, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 74, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "IPv4 + UDP + GRE (key) + IPv4 + UDP",
		.frame = UDP4(.encap = { .kind = PB_ENC_GRE_UDP, .gre_flags = 0x2000 },
			      .sport = 1000, .dport = 53, .payload = 10),
		.flow = { .ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 53,
			  .packets = 1, .bytes = 38, .tunnel = TUN_GRE_UDP },
		.outer = { .ip = 4, .src = PB_OUTER_V4_SRC, .dst = PB_OUTER_V4_DST,
			   .proto = PB_UDP, .sport = 50000, .dport = 4754,
			   .packets = 1, .bytes = 20 + 8 + 8 + 38,
			   .ttl_min = 33, .ttl_max = 33 },
		.decap_at = 50,
		.regions = {
			ETH_REFUSED,
			{ 34, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 38, CUT_OUTER_L4, 0 },
			{ 50, CUT_OUTER, CNT_TUNNEL_TRUNCATED }, /* UDP, GRE, key */
			{ 70, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 74, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "IPv4 + UDP + VXLAN + Ethernet + IPv6 + UDP",
		.frame = UDP6(.encap = { .kind = PB_ENC_VXLAN }, .sport = 1000, .dport = 53,
			      .payload = 10),
		.flow = { .ip = 6, .proto = PB_UDP, .sport = 1000, .dport = 53,
			  .packets = 1, .bytes = 58, .tunnel = TUN_VXLAN },
		.outer = { .ip = 4, .src = PB_OUTER_V4_SRC, .dst = PB_OUTER_V4_DST,
			   .proto = PB_UDP, .sport = 50000, .dport = 4789,
			   .packets = 1, .bytes = 20 + 8 + 8 + 14 + 58,
			   .ttl_min = 33, .ttl_max = 33 },
		.decap_at = 64,
		.regions = {
			ETH_REFUSED,
			{ 34, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 38, CUT_OUTER_L4, 0 },
			{ 64, CUT_OUTER, CNT_TUNNEL_TRUNCATED }, /* UDP, VXLAN, Ethernet */
			{ 104, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED },
			{ 108, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
	{
		.desc = "IPv6 + UDP + GTP-U (sequence) + IPv4 + TCP",
		.frame = TCP4(.encap = { .kind = PB_ENC_GTPU, .outer_ip = 6 }, .sport = 5,
			      .dport = 6, .tcp_flags = PB_SYN),
		.flow = { .ip = 4, .proto = PB_TCP, .sport = 5, .dport = 6,
			  .packets = 1, .bytes = 40, .tcp_flags = PB_SYN,
			  .tunnel = TUN_GTPU },
		.outer = { .ip = 6, .src = PB_OUTER_V6_SRC, .dst = PB_OUTER_V6_DST,
			   .proto = PB_UDP, .sport = 2152, .dport = 2152,
			   .packets = 1, .bytes = 40 + 8 + 12 + 40,
			   .ttl_min = 33, .ttl_max = 33 },
		.decap_at = 75,
		.regions = {
			ETH_REFUSED,
			{ 54, CUT_ERROR, CNT_ERR_IPV6_TRUNCATED },
			{ 58, CUT_OUTER_L4, 0 },
			{ 74, CUT_OUTER, CNT_TUNNEL_TRUNCATED }, /* UDP, GTP-U */
			{ 75, CUT_OUTER, CNT_TUNNEL_NOT_IP },	 /* no version nibble */
			{ 94, CUT_ERROR, CNT_ERR_IPV4_TRUNCATED },
			{ 114, CUT_L4_TRUNCATED, 0 },
			{ SIZE_MAX, CUT_COUNTED, 0 },
		},
	},
};

/* A frame cut inside its IP packet: bytes are counted as the frame
 * carried them, never as the IP length claims, and the lie is counted. */
static void add_cnt(struct dp_case *tc, enum counter id)
{
	int free_slot = 0;

	while (tc->cnt[free_slot].v)
		free_slot++;
	tc->cnt[free_slot] = (struct cnt_want){ id, 1 };
}

static void expect_cut_bytes(struct dp_case *tc, const struct cut_case *cc, size_t cut,
			     size_t full_len)
{
	size_t l3_off = full_len - tc->flows[0].bytes, carried = cut - l3_off;
	int free_slot = 0;

	(void)cc;
	if (carried >= tc->flows[0].bytes)
		return;
	tc->flows[0].bytes = carried;
	while (tc->cnt[free_slot].v)
		free_slot++;
	tc->cnt[free_slot] = (struct cnt_want){ CNT_IP_LEN_BEYOND_FRAME, 1 };
}

/* A refused frame: EINVAL, and the program did not run at all. */
static int check_refused(struct dp *dp, const struct pkt *p, const char *desc)
{
	struct check c = { .ctx = desc };
	__u64 got[CNT__MAX], want[CNT__MAX] = { 0 };
	__u32 retval;

	dp_reset(dp);
	check_eq(&c, "BPF_PROG_TEST_RUN error (-EINVAL)", -run_frame(dp, p, &retval), EINVAL);
	sum_counters(dp, got);
	check_counters(&c, dp, got, want);
	check_eq(&c, "entries in the live generation", table_sum(dp, 0).entries, 0);
	return c.failures;
}

static void test_truncation(void **state)
{
	struct dp *dp = *state;
	int bad = 0, n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cut_cases); i++) {
		const struct cut_case *cc = &cut_cases[i];
		struct pkt full;

		pb_build(&full, &cc->frame);
		for (size_t cut = 0; cut <= full.len; cut++) {
			const struct cut_region *r = cc->regions;
			struct dp_case tc = { .frames = { cc->frame } };
			char desc[160];

			while (cut >= r->below)
				r++;
			snprintf(desc, sizeof(desc), "%s, cut at %zu of %zu", cc->desc, cut,
				 full.len);
			tc.desc = desc;
			tc.frames[0].cut = cut;
			n++;
			switch (r->outcome) {
			case CUT_REFUSED: {
				struct pkt p = full;

				pb_cut(&p, cut);
				bad += check_refused(dp, &p, desc) ? 1 : 0;
				continue;
			}
			case CUT_ERROR:
				tc.cnt[0] = (struct cnt_want){ r->err, 1 };
				break;
			case CUT_L4_TRUNCATED:
				tc.flows[0] = cc->flow;
				tc.flows[0].sport = tc.flows[0].dport = 0;
				tc.flows[0].tcp_flags = 0;
				tc.flows[0].flags |= FLOW_F_L4_TRUNCATED;
				tc.cnt[0] = (struct cnt_want){ CNT_L4_TRUNCATED, 1 };
				memcpy(&tc.cnt[1], cc->also, sizeof(cc->also));
				expect_cut_bytes(&tc, cc, cut, full.len);
				break;
			case CUT_COUNTED:
				tc.flows[0] = cc->flow;
				memcpy(&tc.cnt[0], cc->also, sizeof(cc->also));
				expect_cut_bytes(&tc, cc, cut, full.len);
				break;
			case CUT_OUTER:
				tc.flows[0] = cc->outer;
				tc.cnt[0] = (struct cnt_want){ r->err, 1 };
				expect_cut_bytes(&tc, cc, cut, full.len);
				break;
			case CUT_OUTER_L4:
				tc.flows[0] = cc->outer;
				tc.flows[0].sport = tc.flows[0].dport = 0;
				tc.flows[0].flags |= FLOW_F_L4_TRUNCATED;
				tc.cnt[0] = (struct cnt_want){ CNT_L4_TRUNCATED, 1 };
				expect_cut_bytes(&tc, cc, cut, full.len);
				break;
			}
			if (cc->decap_at && cut >= cc->decap_at)
				add_cnt(&tc, CNT_TUNNEL_DECAPSULATED);
			bad += run_case(dp, &tc) ? 1 : 0;
		}
	}
	if (bad)
		fail_msg("%d of %d cut lengths failed", bad, n);
}

/* ---- full buckets: eviction, then uncounted ---------------------------- */

/* Flow i: UDP 10.0.0.1:(1000 + i) -> 10.0.0.2:53, 28 + i % 50 IP bytes. */
static void flow_frame(struct pkt *p, int i)
{
	struct pb_spec s = UDP4(.sport = 1000 + i, .dport = 53, .payload = i % 50);

	pb_build(p, &s);
}

static __u64 flow_frame_bytes(int i)
{
	return 28 + i % 50;
}

static struct flow_key flow_frame_key(int i)
{
	struct flow_want w = { .ip = 4, .proto = PB_UDP, .sport = 1000 + i, .dport = 53 };

	return want_key(&w);
}

/* Runs flow i's frame at probe time t (replay clock) or now (t == 0);
 * returns the frame's length for CNT_BYTES. */
static size_t send_flow(struct dp *dp, int i, __u64 t)
{
	struct pkt p;
	__u32 retval;

	if (t)
		dp->skel->bss->replay_now_ns = t;
	flow_frame(&p, i);
	assert_int_equal(run_frame(dp, &p, &retval), 0);
	assert_int_equal(retval, expected_rc(dp));
	return p.len;
}

/* An evicted flow arrives whole: its key and every count it had. */
static void check_evicted(struct check *c, const struct flow_entry *e, int flow, __u64 packets,
			  __u64 first_ns, __u64 last_ns)
{
	struct flow_key k = flow_frame_key(flow);
	char what[96];

	snprintf(what, sizeof(what), "evicted record is flow %d", flow);
	check_true(c, what, memcmp(&e->key, &k, sizeof(k)) == 0);
	check_eq(c, "evicted packets", e->val.packets, packets);
	check_eq(c, "evicted bytes", e->val.bytes, packets * flow_frame_bytes(flow));
	check_eq(c, "evicted first_ns", e->val.first_ns, first_ns);
	check_eq(c, "evicted last_ns", e->val.last_ns, last_ns);
	check_eq(c, "evicted ttl_min", e->val.ttl_min, PB_TTL);
}

static void check_in_table(struct check *c, struct dp *dp, int flow, __u64 packets, __u64 first_ns,
			   __u64 last_ns)
{
	struct flow_key k = flow_frame_key(flow);
	struct flow_value v;
	char what[96];

	snprintf(what, sizeof(what), "flow %d in one table entry", flow);
	check_eq(c, what, get_flow(dp, dp->p.live, &k, &v), 1);
	check_eq(c, "table packets", v.packets, packets);
	check_eq(c, "table bytes", v.bytes, packets * flow_frame_bytes(flow));
	check_eq(c, "table first_ns", v.first_ns, first_ns);
	check_eq(c, "table last_ns", v.last_ns, last_ns);
}

/*
 * One bucket of 4 ways: the fifth flow evicts the least recently seen one
 * (by last_ns) to the ring, whole; a flow seen again after its eviction
 * starts a new entry. Nothing is lost: table + ring == what was sent.
 */
static void test_bucket_eviction(void **state)
{
	static const struct {
		int flow;
		__u64 t;
	} seq[] = {
		{ 0, 1000 }, { 1, 2000 }, { 2, 3000 }, { 3, 4000 }, /* bucket full */
		{ 0, 5000 }, /* flow 0 is now the most recently seen */
		{ 4, 6000 }, /* evicts flow 1 (last seen 2000) */
		{ 5, 7000 }, /* evicts flow 2 (3000) */
		{ 1, 8000 }, /* flow 1 again, a new entry: evicts flow 3 */
	};
	struct dp *dp = *state;
	struct check c = { .ctx = "bucket eviction" };
	__u64 got[CNT__MAX], want[CNT__MAX] = { 0 };

	_Static_assert(FLOW_TABLE_WAYS == 4, "the sequence is written for 4 ways");
	dp_reset(dp);
	for (size_t i = 0; i < ARRAY_SIZE(seq); i++) {
		want[CNT_BYTES] += send_flow(dp, seq[i].flow, seq[i].t);
		want[CNT_FLOW_BYTES] += flow_frame_bytes(seq[i].flow);
	}
	want[CNT_PACKETS] = want[CNT_FLOW_PACKETS] = ARRAY_SIZE(seq);
	want[CNT_FLOWS_CREATED] = 7;
	want[CNT_FLOWS_EVICTED] = 3;
	want[CNT_EVICTED_PACKETS] = 3;
	want[CNT_EVICTED_BYTES] = flow_frame_bytes(1) + flow_frame_bytes(2) + flow_frame_bytes(3);
	sum_counters(dp, got);
	check_counters(&c, dp, got, want);

	check_eq(&c, "records in the eviction ring", consume_evicted(dp), 3);
	check_evicted(&c, &dp->evicted[0], 1, 1, 2000, 2000);
	check_evicted(&c, &dp->evicted[1], 2, 1, 3000, 3000);
	check_evicted(&c, &dp->evicted[2], 3, 1, 4000, 4000);
	check_table_matches_counters(&c, dp, got);

	check_eq(&c, "entries in the table", table_sum(dp, 0).entries, 4);
	check_in_table(&c, dp, 0, 2, 1000, 5000);
	check_in_table(&c, dp, 4, 1, 6000, 6000);
	check_in_table(&c, dp, 5, 1, 7000, 7000);
	check_in_table(&c, dp, 1, 1, 8000, 8000);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/*
 * The flood policy: a full bucket gives up its least recently seen flow of
 * one packet before any flow with more. Flow 0 has two packets and is the
 * least recently seen of all; plain LRU would evict it. New one-packet
 * flows (a flood) take each other's ways and leave flow 0 counting in
 * place; once every way holds two packets or more, the least recently seen
 * of those goes.
 */
static void test_flood_keeps_established(void **state)
{
	static const struct {
		int flow;
		__u64 t;
	} seq[] = {
		{ 0, 1000 }, { 0, 1500 }, /* established, then quiet */
		{ 1, 2000 }, { 2, 3000 }, { 3, 4000 }, /* bucket full */
		{ 4, 5000 }, /* evicts flow 1, not flow 0 */
		{ 5, 6000 }, /* evicts flow 2 */
		{ 6, 7000 }, /* evicts flow 3 */
		{ 7, 8000 }, /* evicts flow 4 */
		{ 5, 9000 }, { 6, 9100 }, { 7, 9200 }, /* all four established */
		{ 8, 9300 }, /* evicts flow 0 (last seen 1500): plain LRU */
	};
	struct dp *dp = *state;
	struct check c = { .ctx = "flood keeps established flows" };
	__u64 got[CNT__MAX];

	_Static_assert(FLOW_TABLE_WAYS == 4, "the sequence is written for 4 ways");
	dp_reset(dp);
	for (size_t i = 0; i < ARRAY_SIZE(seq); i++)
		send_flow(dp, seq[i].flow, seq[i].t);
	sum_counters(dp, got);
	check_eq(&c, "flows evicted", got[CNT_FLOWS_EVICTED], 5);
	check_eq(&c, "uncounted", got[CNT_UNCOUNTED_PACKETS], 0);
	check_eq(&c, "records in the eviction ring", consume_evicted(dp), 5);
	check_evicted(&c, &dp->evicted[0], 1, 1, 2000, 2000);
	check_evicted(&c, &dp->evicted[1], 2, 1, 3000, 3000);
	check_evicted(&c, &dp->evicted[2], 3, 1, 4000, 4000);
	check_evicted(&c, &dp->evicted[3], 4, 1, 5000, 5000);
	check_evicted(&c, &dp->evicted[4], 0, 2, 1000, 1500);
	check_table_matches_counters(&c, dp, got);
	check_in_table(&c, dp, 5, 2, 6000, 9000);
	check_in_table(&c, dp, 8, 1, 9300, 9300);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* Every flow counts as established (all bits) or none does (no bits). */
static void set_established_hint(struct dp *dp, bool all)
{
	static __u64 bits[ESTABLISHED_HINT_BITS / 64];
	__u32 zero = 0;

	memset(bits, all ? 0xff : 0, sizeof(bits));
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(dp->skel->maps.established_hint), &zero,
					     bits, BPF_ANY),
			 0);
}

/*
 * A one-page ring holds 4096 / (8-byte record header + 88-byte entry) = 42
 * evicted flows. With nobody consuming, new one-packet flows evict until
 * the ring is half full (the rest is the reserve of established flows);
 * then they are refused: counted in CNT_UNCOUNTED_* and
 * CNT_NEW_FLOWS_REFUSED. Flows marked established still evict, into the
 * reserve, until the ring is full; then they too are uncounted (not
 * refused: there was no room). A packet of a flow already in the table is
 * counted throughout. Consuming the ring makes room for evictions again.
 */
static void test_ring_full_uncounted(void **state)
{
	const int ways = FLOW_TABLE_WAYS;
	const int rec = BPF_RINGBUF_HDR_SZ + sizeof(struct flow_entry);
	const int fits = SMALL_RING / rec;
	/* Evictions while the ring holds less than half. */
	const int half = (SMALL_RING / 2 + rec - 1) / rec;
	const int refused = 10, full = 7;
	int admitted[FLOW_TABLE_WAYS + SMALL_RING / 64], n_admitted = 0;
	struct dp *dp = *state;
	struct check c = { .ctx = "bucket and ring full: uncounted" };
	__u64 got[CNT__MAX], want[CNT__MAX] = { 0 };
	__u64 t = 0;
	int flow = 0, in_table;

	_Static_assert(CNT_FLOW_BYTES == CNT_FLOW_PACKETS + 1 &&
			       CNT_UNCOUNTED_BYTES == CNT_UNCOUNTED_PACKETS + 1,
		       "bytes counters follow packets counters");
	dp_reset(dp);
	set_established_hint(dp, false);
	/* Phase 1, a flood: created, then evicting up to half, then refused.
	 * Phase 2, established flows: evicting up to full, then no room. */
	for (int phase = 1; phase <= 2; phase++) {
		int admit = phase == 1 ? ways + half : fits - half;
		int deny = phase == 1 ? refused : full;

		if (phase == 2)
			set_established_hint(dp, true);
		for (int i = 0; i < admit + deny; i++, flow++) {
			enum counter pk = i < admit ? CNT_FLOW_PACKETS : CNT_UNCOUNTED_PACKETS;

			want[CNT_BYTES] += send_flow(dp, flow, t += 1000);
			want[pk]++;
			want[pk + 1] += flow_frame_bytes(flow);
			if (i >= admit && phase == 1)
				want[CNT_NEW_FLOWS_REFUSED]++;
			if (i < admit)
				admitted[n_admitted++] = flow;
		}
	}
	for (int k = 0; k < fits; k++)
		want[CNT_EVICTED_BYTES] += flow_frame_bytes(admitted[k]);
	/* A flow already in the table is still counted with the ring full. */
	in_table = admitted[n_admitted - 1];
	want[CNT_BYTES] += send_flow(dp, in_table, t += 1000);
	want[CNT_FLOW_PACKETS]++;
	want[CNT_FLOW_BYTES] += flow_frame_bytes(in_table);
	want[CNT_PACKETS] = flow + 1;
	want[CNT_FLOWS_CREATED] = n_admitted;
	want[CNT_FLOWS_EVICTED] = want[CNT_EVICTED_PACKETS] = fits;
	sum_counters(dp, got);
	check_counters(&c, dp, got, want);
	check_true(&c, "some packets refused", got[CNT_NEW_FLOWS_REFUSED] > 0);

	check_eq(&c, "records in the eviction ring", consume_evicted(dp), fits);
	for (int k = 0; k < fits && k < MAX_EVICTED; k++)
		check_evicted(&c, &dp->evicted[k], admitted[k], 1, 1000 * (admitted[k] + 1),
			      1000 * (admitted[k] + 1));
	check_table_matches_counters(&c, dp, got);
	check_in_table(&c, dp, in_table, 2, 1000 * (in_table + 1), t);

	/* Room again: the next new flow evicts instead of going uncounted. */
	set_established_hint(dp, false);
	send_flow(dp, flow, t += 1000);
	sum_counters(dp, got);
	check_eq(&c, "flows_evicted after consuming", got[CNT_FLOWS_EVICTED], fits + 1);
	check_no_silent_loss(&c, got);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- A/B swap ------------------------------------------------------------ */

static __u64 flow_packets(struct dp *dp, int gen, int flow)
{
	struct flow_key k = flow_frame_key(flow);
	struct flow_value v;

	return get_flow(dp, gen, &k, &v) ? v.packets : 0;
}

static void test_ab_swap(void **state)
{
	struct dp *dp = *state;
	int old_gen = -1;

	dp_reset(dp);
	send_flow(dp, 0, 0);
	send_flow(dp, 0, 0);
	assert_int_equal(flow_packets(dp, 0, 0), 2);

	/* B live: new packets land in B, A is left exactly as it was. */
	assert_int_equal(probe_swap_tables(&dp->p, &old_gen), 0);
	assert_int_equal(old_gen, 0);
	assert_int_equal(dp->p.live, 1);
	send_flow(dp, 0, 0);
	send_flow(dp, 1, 0);
	send_flow(dp, 0, 0);
	assert_int_equal(flow_packets(dp, 1, 0), 2);
	assert_int_equal(flow_packets(dp, 1, 1), 1);
	assert_int_equal(flow_packets(dp, 0, 0), 2);
	assert_int_equal(table_sum(dp, 0).entries, 1);

	/* And back: A live again, B untouched. */
	assert_int_equal(probe_swap_tables(&dp->p, &old_gen), 0);
	assert_int_equal(old_gen, 1);
	assert_int_equal(dp->p.live, 0);
	send_flow(dp, 1, 0);
	assert_int_equal(flow_packets(dp, 0, 1), 1);
	assert_int_equal(flow_packets(dp, 0, 0), 2);
	assert_int_equal(flow_packets(dp, 1, 1), 1);
	assert_int_equal(table_sum(dp, 1).entries, 2);
}

/*
 * The daemon's drain, step by step, on one CPU and without timing: the
 * proof that draining is exact must not rest only on the concurrency
 * test, which needs two CPUs. drainer_run flips the live generation,
 * hands every entry of the old one to the flow cache exactly once and
 * leaves it zeroed; the established-flow hint is cleared after exactly
 * ESTABLISHED_HINT_DRAINS drains and not before.
 */
struct drain_tally {
	__u64 packets, records;
};

static void tally_export(void *ctx, const struct flow_key *key, const struct flow_value *val,
			 enum flow_end_reason reason)
{
	struct drain_tally *t = ctx;

	(void)key;
	(void)reason;
	t->packets += val->packets;
	t->records++;
}

/* A flow cache that never expires a flow on its own, tallying what a
 * flush exports into t. */
static struct flow_cache *tally_cache(struct drain_tally *t)
{
	struct flow_cache_config cfg = {
		.active_timeout_ns = UINT64_MAX,
		.inactive_timeout_ns = UINT64_MAX,
		.end_grace_ns = UINT64_MAX,
		.max_flows = 1 << 17,
	};
	struct flow_cache *fc = flow_cache_new(&cfg, tally_export, t);

	assert_non_null(fc);
	return fc;
}

static bool hint_is_clear(const struct dp *dp)
{
	__u64 bits[ESTABLISHED_HINT_BITS / 64];
	__u32 zero = 0;

	assert_int_equal(
		bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.established_hint), &zero, bits), 0);
	for (size_t i = 0; i < ESTABLISHED_HINT_BITS / 64; i++)
		if (bits[i])
			return false;
	return true;
}

static bool generation_zeroed(const struct dp *dp, int gen)
{
	static const struct flow_bucket zero_bucket;

	for (size_t b = 0; b < (size_t)ncpus * dp->p.nbuckets; b++)
		if (memcmp(&dp->p.gen[gen][b], &zero_bucket, sizeof(zero_bucket)))
			return false;
	return true;
}

static void test_drain_steps(void **state)
{
	struct dp *dp = *state;
	struct drain_tally t = { 0 };
	struct drain_result res;
	struct flow_cache *fc;
	struct drainer *d;
	int first;

	dp_reset(dp);
	fc = tally_cache(&t);
	d = drainer_new(&dp->p, fc);
	assert_non_null(d);
	/* Flow 0 twice (established: its hint bit set), flow 1 once. */
	send_flow(dp, 0, 0);
	send_flow(dp, 0, 0);
	send_flow(dp, 1, 0);
	first = dp->p.live;
	assert_false(hint_is_clear(dp));
	assert_int_equal(table_sum(dp, first).entries, 2);

	assert_int_equal(drainer_run(d, &res), 0);
	assert_int_equal(dp->p.live, !first);
	assert_int_equal(res.entries, 2);
	assert_true(generation_zeroed(dp, first));
	flow_cache_flush(fc, END_FORCED);
	assert_int_equal(t.packets, 3);
	assert_int_equal(t.records, 2);

	/* New packets land in the new live generation only. */
	send_flow(dp, 0, 0);
	assert_int_equal(table_sum(dp, !first).entries, 1);
	assert_int_equal(table_sum(dp, first).entries, 0);

	/* The hint stands until the ESTABLISHED_HINT_DRAINS-th drain. */
	for (int n = 2; n < ESTABLISHED_HINT_DRAINS; n++) {
		assert_int_equal(drainer_run(d, &res), 0);
		assert_false(hint_is_clear(dp));
	}
	assert_int_equal(drainer_run(d, &res), 0);
	assert_true(hint_is_clear(dp));
	assert_true(generation_zeroed(dp, 0) && generation_zeroed(dp, 1));
	flow_cache_flush(fc, END_FORCED);
	assert_int_equal(t.packets, 4);

	drainer_free(d);
	flow_cache_free(fc);
}

/*
 * The touched bitmap (flowprobe.h): the drain visits only the groups of
 * buckets whose bit is set, so a bucket holding a flow without its
 * group's bit would never be drained. Flows from every CPU over a table
 * of more groups than one bitmap value holds; before the drain, the bits
 * must be exactly the groups holding flows (found by scanning every
 * bucket, not through the bitmap); after it, every flow is in the cache,
 * the whole generation (scanned in full) and its bitmap are zero.
 */
#define TOUCH_BUCKETS (2 * FLOW_TOUCH_GROUPS_PER_VALUE * FLOW_TOUCH_GROUP)
#define TOUCH_FLOWS_PER_CPU 12000

static int setup_touch(void **state)
{
	return setup_with(state, (struct dp_opts){ .buckets = TOUCH_BUCKETS });
}

static bool touched_bit(const struct dp *dp, int gen, int cpu, size_t g)
{
	const __u64 *w = probe_touched_words(&dp->p, gen, cpu, g / FLOW_TOUCH_GROUPS_PER_VALUE);

	return w[g % FLOW_TOUCH_GROUPS_PER_VALUE / 64] >> (g % 64) & 1;
}

static bool bitmap_zeroed(const struct dp *dp, int gen)
{
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (__u32 v = 0; v < FLOW_TOUCH_VALUES(dp->p.nbuckets); v++)
			for (int j = 0; j < FLOW_TOUCH_WORDS; j++)
				if (probe_touched_words(&dp->p, gen, cpu, v)[j])
					return false;
	return true;
}

static void test_drain_touched_groups(void **state)
{
	size_t groups = TOUCH_BUCKETS / FLOW_TOUCH_GROUP, mismatches = 0;
	struct dp *dp = *state;
	struct drain_tally t = { 0 };
	struct drain_result res;
	struct flow_cache *fc;
	struct drainer *d;
	cpu_set_t one;
	int gen;

	dp_reset(dp);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
		for (int i = 0; i < TOUCH_FLOWS_PER_CPU; i++)
			send_flow(dp, cpu * TOUCH_FLOWS_PER_CPU + i, 0);
	}
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	gen = dp->p.live;
	assert_int_equal(table_sum(dp, gen).entries, (size_t)ncpus * TOUCH_FLOWS_PER_CPU);

	for (int cpu = 0; cpu < ncpus; cpu++) {
		size_t set_in_last_value = 0;

		for (size_t g = 0; g < groups; g++) {
			const struct flow_bucket *b =
				dp->p.gen[gen] + (size_t)cpu * dp->p.nbuckets + g * FLOW_TOUCH_GROUP;
			bool holds = false;

			for (int k = 0; k < FLOW_TOUCH_GROUP; k++)
				holds |= b[k].way[0].val.packets != 0;
			if (holds != touched_bit(dp, gen, cpu, g)) {
				if (mismatches++ < 5)
					print_error("# CPU %d group %zu: %s, bit %s\n", cpu, g,
						    holds ? "holds flows" : "empty",
						    holds ? "clear" : "set");
			}
			set_in_last_value += g >= FLOW_TOUCH_GROUPS_PER_VALUE && holds;
		}
		/* The flows reach the second bitmap value of every CPU. */
		assert_true(set_in_last_value > 0);
	}
	assert_int_equal(mismatches, 0);

	fc = tally_cache(&t);
	d = drainer_new(&dp->p, fc);
	assert_non_null(d);
	assert_int_equal(drainer_run(d, &res), 0);
	assert_int_equal(res.entries, (size_t)ncpus * TOUCH_FLOWS_PER_CPU);
	assert_int_equal(res.evicted_records, 0);
	assert_true(generation_zeroed(dp, gen));
	assert_true(bitmap_zeroed(dp, gen));
	flow_cache_flush(fc, END_FORCED);
	assert_int_equal(t.records, (size_t)ncpus * TOUCH_FLOWS_PER_CPU);
	assert_int_equal(t.packets, (size_t)ncpus * TOUCH_FLOWS_PER_CPU);
	drainer_free(d);
	flow_cache_free(fc);
}

/*
 * `replay --each` resets the probe between captures (probe_reset.c): the
 * flow generations are zeroed only in their touched groups, and the
 * connection table only when a connection entered it. Both generations
 * hold flows (the old one from every CPU, over more groups than one
 * bitmap value holds; neither drained, as a replay that died leaves
 * them), and TCP packets made connections; after the reset every byte of
 * both generations, both bitmaps and every connection bucket is scanned
 * in full, not through the bitmap, so a touched group left dirty, or a
 * connection left behind, fails here. A second round through the same
 * reset shows it works again from its own result.
 */
static bool conns_zeroed(const struct dp *dp)
{
	struct conn_bucket b, zero;

	memset(&zero, 0, sizeof(zero));
	for (__u32 i = 0; i < dp->conn_buckets; i++) {
		assert_int_equal(bpf_map_lookup_elem_flags(dp->conns, &i, &b, BPF_F_LOCK), 0);
		if (memcmp(&b, &zero, sizeof(b)))
			return false;
	}
	return true;
}

static void send_tcp_syns(struct dp *dp, int n)
{
	for (int i = 0; i < n; i++) {
		struct pb_spec s = TCP4(.sport = 20000 + i, .dport = 443, .tcp_flags = 0x02);
		struct pkt p;
		__u32 retval;

		pb_build(&p, &s);
		assert_int_equal(run_frame(dp, &p, &retval), 0);
	}
}

static void test_reset_touched_groups(void **state)
{
	struct dp *dp = *state;
	struct probe_reset *r;
	__u64 c[CNT__MAX];
	cpu_set_t one;
	int old;

	dp_reset(dp);
	assert_int_equal(probe_reset_new(&dp->p, &r), 0);
	for (int round = 0; round < 2; round++) {
		for (int cpu = 0; cpu < ncpus; cpu++) {
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
			for (int i = 0; i < TOUCH_FLOWS_PER_CPU; i += 2)
				send_flow(dp, cpu * TOUCH_FLOWS_PER_CPU + i + round, 0);
		}
		CPU_ZERO(&one);
		CPU_SET(0, &one);
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
		assert_int_equal(probe_swap_tables(&dp->p, &old), 0);
		for (int i = 0; i < 3000; i++)
			send_flow(dp, 100000 + i, 0);
		send_tcp_syns(dp, 40);
		sum_counters(dp, c);
		assert_true(c[CNT_CONNS_CREATED] > 0);
		assert_false(generation_zeroed(dp, 0));
		assert_false(generation_zeroed(dp, 1));
		assert_false(bitmap_zeroed(dp, 0));
		assert_false(bitmap_zeroed(dp, 1));
		assert_false(conns_zeroed(dp));

		assert_int_equal(probe_reset_run(r, NULL), 0);
		assert_true(generation_zeroed(dp, 0));
		assert_true(generation_zeroed(dp, 1));
		assert_true(bitmap_zeroed(dp, 0));
		assert_true(bitmap_zeroed(dp, 1));
		assert_true(conns_zeroed(dp));
		assert_int_equal(dp->p.live, 0);
		sum_counters(dp, c);
		assert_int_equal(c[CNT_PACKETS], 0);
	}
	/* Without TCP, the connection table is skipped and still zero. */
	send_flow(dp, 7, 0);
	assert_int_equal(probe_reset_run(r, NULL), 0);
	assert_true(conns_zeroed(dp));
	assert_true(generation_zeroed(dp, 0));
	probe_reset_free(r);
}

/* ---- exactness under concurrency ----------------------------------------- */

#define RACE_REPEAT 1000
#define RACE_SECONDS 2
#define RACE_FRAMES 4

struct race_frame {
	struct pkt pkt;
	struct flow_key key;
	__u64 ip_bytes;
};

struct race_worker {
	pthread_t thread;
	int cpu, prog_fd;
	const struct race_frame *frames;
	atomic_bool *stop;
	__u64 runs[RACE_FRAMES]; /* test runs done, RACE_REPEAT packets each */
	int err;
	__u32 bad_retval;
};

static void *race_worker_main(void *arg)
{
	struct race_worker *w = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	w->err = -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!w->err && !atomic_load(w->stop)) {
		for (int f = 0; f < RACE_FRAMES; f++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = w->frames[f].pkt.b,
				    .data_size_in = w->frames[f].pkt.len, .repeat = RACE_REPEAT);

			w->err = bpf_prog_test_run_opts(w->prog_fd, &o);
			if (w->err)
				break;
			if (o.retval != XDP_PASS)
				w->bad_retval = o.retval;
			w->runs[f]++;
		}
	}
	return NULL;
}

struct race_tally {
	const struct race_frame *frames;
	__u64 packets[RACE_FRAMES], bytes[RACE_FRAMES];
	__u64 unknown;
};

static void race_export(void *ctx, const struct flow_key *key, const struct flow_value *val,
			enum flow_end_reason reason)
{
	struct race_tally *t = ctx;

	(void)reason;
	for (int f = 0; f < RACE_FRAMES; f++) {
		if (memcmp(key, &t->frames[f].key, sizeof(*key)) == 0) {
			t->packets[f] += val->packets;
			t->bytes[f] += val->bytes;
			return;
		}
	}
	t->unknown += val->packets ? val->packets : 1;
}

/*
 * The core claim: two CPUs count while the main thread keeps swapping the
 * live generation and draining the old one with the daemon's own drain
 * code (drainer_run); afterwards the flow cache holds exactly
 * runs x RACE_REPEAT packets per flow. With FLOWPROBE_TEST_DRAIN_WITHOUT_SWAP=1
 * the main thread drains the live generation in place instead
 * (drainer_run_quiescent, which is only right when nothing else runs the
 * program), and this test fails: that is how to see it can catch a lost
 * count.
 */
static void test_exact_under_concurrency(void **state)
{
	const struct pb_spec specs[RACE_FRAMES] = {
		TCP4(.sport = 40001, .dport = 443, .tcp_flags = PB_ACK, .payload = 100),
		UDP6(.sport = 53, .dport = 40002, .payload = 60),
		{ .ip = 4, .n_vlans = 1, .tci = { 7 }, .proto = PB_ICMP, .icmp_type = 8 },
		UDP4(.n_vlans = 2, .tci = { 8, 9 }, .sport = 4500, .dport = 4500, .payload = 1200),
	};
	const struct flow_want wants[RACE_FRAMES] = {
		{ .ip = 4, .proto = PB_TCP, .sport = 40001, .dport = 443 },
		{ .ip = 6, .proto = PB_UDP, .sport = 53, .dport = 40002 },
		{ .ip = 4, .vlan = 7, .proto = PB_ICMP, .dport = 8 << 8 },
		{ .ip = 4, .vlan = 8, .proto = PB_UDP, .sport = 4500, .dport = 4500 },
	};
	const __u64 ip_bytes[RACE_FRAMES] = { 140, 108, 28, 1228 };
	bool no_swap = getenv("FLOWPROBE_TEST_DRAIN_WITHOUT_SWAP") != NULL;
	struct flow_cache_config cfg = {
		.active_timeout_ns = UINT64_MAX,
		.inactive_timeout_ns = UINT64_MAX,
		.end_grace_ns = UINT64_MAX,
		.max_flows = 1 << 16,
	};
	static struct race_frame frames[RACE_FRAMES];
	struct dp *dp = *state;
	struct race_worker w[2];
	struct race_tally tally = { .frames = frames };
	atomic_bool stop = false;
	struct flow_cache *fc;
	struct drainer *d;
	struct drain_result res;
	__u64 got[CNT__MAX], drains = 0, evicted = 0, total = 0;
	struct timespec start, now;
	cpu_set_t main_cpus, all_cpus;
	struct check c = { .ctx = "exact under concurrency" };

	if (ncpus < 2)
		skip();
	dp_reset(dp);
	for (int f = 0; f < RACE_FRAMES; f++) {
		pb_build(&frames[f].pkt, &specs[f]);
		frames[f].key = want_key(&wants[f]);
		frames[f].ip_bytes = ip_bytes[f];
	}
	fc = flow_cache_new(&cfg, race_export, &tally);
	assert_non_null(fc);
	d = drainer_new(&dp->p, fc);
	assert_non_null(d);

	/* The main thread drains from any CPU while the workers own 0 and 1. */
	sched_getaffinity(0, sizeof(main_cpus), &main_cpus);
	CPU_ZERO(&all_cpus);
	for (int i = 0; i < ncpus; i++)
		CPU_SET(i, &all_cpus);
	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct race_worker){ .cpu = i,
					     .prog_fd = dp->prog,
					     .frames = frames,
					     .stop = &stop };
		assert_int_equal(pthread_create(&w[i].thread, NULL, race_worker_main, &w[i]), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (no_swap)
			assert_int_equal(drainer_run_quiescent(d, &res), 0);
		else
			assert_int_equal(drainer_run(d, &res), 0);
		evicted += res.evicted_records;
		drains++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < RACE_SECONDS);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i].thread, NULL);
	sched_setaffinity(0, sizeof(main_cpus), &main_cpus);

	/* Nothing writes now: drain the old generation and the live one. */
	assert_int_equal(drainer_run(d, &res), 0);
	evicted += res.evicted_records;
	drain_generation(d, dp->p.live);
	flow_cache_flush(fc, END_FORCED);

	for (int i = 0; i < 2; i++) {
		check_eq(&c, "worker BPF_PROG_TEST_RUN error", -w[i].err, 0);
		check_eq(&c, "worker XDP return code", w[i].bad_retval, 0);
	}
	check_true(&c, "at least 10 drains during the run", drains >= 10);
	check_eq(&c, "packets exported under unexpected keys", tally.unknown, 0);
	for (int f = 0; f < RACE_FRAMES; f++) {
		__u64 want = (w[0].runs[f] + w[1].runs[f]) * RACE_REPEAT;
		char what[64];

		snprintf(what, sizeof(what), "frame %d packets", f);
		check_eq(&c, what, tally.packets[f], want);
		snprintf(what, sizeof(what), "frame %d bytes", f);
		check_eq(&c, what, tally.bytes[f], want * frames[f].ip_bytes);
		check_true(&c, "both CPUs ran the frame", w[0].runs[f] && w[1].runs[f]);
		total += want;
	}
	sum_counters(dp, got);
	check_eq(&c, "CNT_PACKETS", got[CNT_PACKETS], total);
	check_eq(&c, "CNT_FLOW_PACKETS", got[CNT_FLOW_PACKETS], total);
	check_eq(&c, "evicted records read == CNT_FLOWS_EVICTED", evicted, got[CNT_FLOWS_EVICTED]);
	check_no_silent_loss(&c, got);
	print_message("# %" PRIu64 " packets on 2 CPUs, %" PRIu64 " drains%s\n", (uint64_t)total,
		      (uint64_t)drains, no_swap ? " (WITHOUT swap)" : "");

	drainer_free(d);
	flow_cache_free(fc);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- main ------------------------------------------------------------------ */

#define BOTH_MODES(name, fn)                                      \
	{ "inline: " name, fn, setup_inline, teardown_dp, NULL }, \
	{                                                         \
		"tap: " name, fn, setup_tap, teardown_dp, NULL    \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES("header combinations", test_header_matrix),
		BOTH_MODES("IPv4 IHL 0..15", test_ipv4_ihl),
		BOTH_MODES("basic cases", test_basic_cases),
		BOTH_MODES("IPv6 extension headers", test_ipv6_ext_cases),
		BOTH_MODES("IPv6 extension chain at the bound", test_ipv6_ext_chain_bound),
		BOTH_MODES("fragments", test_fragment_cases),
		BOTH_MODES("truncation at every byte", test_truncation),
		BOTH_MODES("encapsulations: the inner flow", test_encap_cases),
		{ "--tunnels outer", test_tunnels_outer, setup_tunnels_outer, teardown_dp, NULL },
		{ "IPv6 fragments with dest opts after the fragment header",
		  test_fragment_dstopts_after_frag, setup_inline, teardown_dp, NULL },
		{ "bucket full: eviction to the ring", test_bucket_eviction, setup_one_bucket,
		  teardown_dp, NULL },
		{ "bucket full under a flood: one-packet flows go first",
		  test_flood_keeps_established, setup_one_bucket, teardown_dp, NULL },
		{ "bucket and ring full: uncounted", test_ring_full_uncounted,
		  setup_one_bucket_small_ring, teardown_dp, NULL },
		{ "A/B swap", test_ab_swap, setup_inline, teardown_dp, NULL },
		{ "drain: flip, hand over, zero; hint cleared on its period", test_drain_steps,
		  setup_inline, teardown_dp, NULL },
		{ "drain: only the touched groups, and every one of them",
		  test_drain_touched_groups, setup_touch, teardown_dp, NULL },
		{ "replay reset: every touched group and used connection bucket zeroed",
		  test_reset_touched_groups, setup_touch, teardown_dp, NULL },
		{ "exact under concurrency", test_exact_under_concurrency, setup_race, teardown_dp,
		  NULL },
	};

	/* Single-threaded cases all run on CPU 0, so they fill one region. */
	if (fixture_init())
		return 1;
	return cmocka_run_group_tests_name("datapath", tests, NULL, NULL);
}
