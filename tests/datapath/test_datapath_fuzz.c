/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet fuzzer for the datapath: random frames, built valid and then
 * broken (bit flips, truncation, overwritten header bytes, random lengths,
 * random garbage), run through the XDP program with BPF_PROG_TEST_RUN,
 * inline and tap. The invariants hold for any input whatever: the program
 * returns XDP_PASS inline (never drops what it cannot parse) and XDP_DROP
 * on a tap; every frame run is counted in `packets`; and every counted
 * packet is accounted for: packets = flow_packets + uncounted_packets +
 * non_ip (and its kinds: pppoe_discovery, ppp_control, mpls_non_ip) + the
 * err_* counters (evicted flows keep their counts in
 * flow_packets). A small table (4 buckets a CPU) makes evictions and a
 * full ring happen too.
 *
 * Runs FUZZ_SECONDS (default 4) a mode; FUZZ_SEED repeats a run (the seed
 * is printed). `make test` runs it briefly, `make fuzz` for longer. A
 * failure prints the frame in hex.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
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
#include "datapath/probe.h"
#include "packet_builder.h"
#include "datapath_fixture.h"

#define ETH_HEADER 14 /* BPF_PROG_TEST_RUN refuses shorter XDP data */
#define CHECK_EVERY 512 /* frames between invariant checks */
#define RESET_EVERY 8192 /* frames between datapath resets */

static uint64_t rng_state;

/* xorshift64*: small, fast, and a seed repeats a run exactly. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static unsigned int below(unsigned int n)
{
	return n ? rnd() % n : 0;
}

static const uint8_t protos[] = { PB_TCP,     PB_UDP,  PB_ICMP, PB_ICMPV6, PB_SCTP,
				  PB_UDPLITE, PB_DCCP, PB_GRE,	PB_NONXT };
static const uint8_t ext_types[] = { PB_HOPOPTS, PB_ROUTING, PB_DSTOPTS, PB_MH, PB_AH, PB_FRAGMENT };
static const char *const v4_addrs[] = { "10.0.0.1", "10.0.0.2", "192.0.2.7" };
static const char *const v6_addrs[] = { "2001:db8::1", "2001:db8::2", "fe80::1" };

/* A frame the builder knows how to make, with random choices everywhere. */
static void random_valid(struct pkt *p)
{
	struct pb_spec s = { 0 };

	if (below(16) == 0) {
		s.ethertype = below(2) ? PB_ETH_ARP : (uint16_t)rnd();
		s.payload = below(100);
	} else {
		s.ip = below(2) ? 4 : 6;
	}
	s.n_vlans = below(8) == 0 ? below(PB_MAX_VLANS + 1) : 0;
	for (int i = 0; i < s.n_vlans; i++) {
		s.tpid[i] = below(2) ? PB_TPID_8021Q : PB_TPID_8021AD;
		s.tci[i] = rnd();
	}
	if (s.ip == 4) {
		s.ihl = below(8) == 0 ? PB_SET(below(16)) : 0;
		s.frag = below(6) == 0 ? (uint16_t)rnd() & 0x3fff : 0;
		s.ip_id = below(4);
		s.src = v4_addrs[below(3)];
		s.dst = v4_addrs[below(3)];
	} else if (s.ip == 6) {
		s.n_ext = below(4) == 0 ? below(PB_MAX_EXT + 1) : 0;
		for (int i = 0; i < s.n_ext; i++) {
			s.ext[i].type = ext_types[below(sizeof(ext_types))];
			s.ext[i].len = s.ext[i].type == PB_AH ? 12 + 4 * below(4) :
								8 * (1 + below(4));
			s.ext[i].frag_offset = below(3);
			s.ext[i].more = below(2);
			s.ext[i].id = below(4);
		}
		s.src = v6_addrs[below(3)];
		s.dst = v6_addrs[below(3)];
	}
	/* An encapsulation in half the IP frames: PPPoE, MPLS, pseudowire,
	 * and every tunnel, with random options. */
	if (s.ip && below(2)) {
		s.encap.kind = 1 + below(PB_ENC_TEREDO);
		s.encap.outer_ip = below(2) ? 4 : 6;
		s.encap.n_labels = 1 + below(MAX_MPLS_LABELS + 2);
		s.encap.label = rnd() & 0xfffff;
		s.encap.gre_flags = below(4) == 0 ? (uint16_t)rnd() : rnd() & 0xb000;
		s.encap.ppp_proto = below(8) == 0 ? (uint16_t)rnd() : 0;
		s.encap.inner_vlan = below(2);
		if (s.encap.kind == PB_ENC_TEREDO)
			s.ip = 6;
	}
	if (s.ip) {
		s.version = below(16) == 0 ? PB_SET(below(16)) : 0;
		s.proto = protos[below(sizeof(protos))];
		s.no_l4 = below(16) == 0;
		s.ttl = rnd();
		s.sport = 6880 + below(4);
		s.dport = below(2) ? 6881 : 80 + below(3);
		s.tcp_flags = rnd();
		s.seq = rnd();
		s.ack = rnd();
		s.ts = below(2);
		s.tsval = rnd();
		s.icmp_type = below(4) == 0 ? rnd() : 8;
		s.payload = below(4) ? below(120) : below(1400);
	}
	if (below(8) == 0)
		s.cut = 1 + below(200);
	pb_build(p, &s);
}

/* The IP length field lies: a length of the attacker's choice, mostly
 * far more than the frame holds. Found behind up to two VLAN tags. */
static void lie_about_length(struct pkt *p)
{
	size_t at = 12;
	uint16_t claim = below(4) ? 0xffff - below(64) : rnd();

	while (at + 4 <= p->len && (p->b[at] == 0x81 || p->b[at] == 0x88) &&
	       (p->b[at + 1] == 0x00 || p->b[at + 1] == 0xa8))
		at += 4;
	if (at + 2 > p->len)
		return;
	if (p->b[at] == 0x08 && p->b[at + 1] == 0x00)
		at += 2 + 2; /* IPv4 total length */
	else if (p->b[at] == 0x86 && p->b[at + 1] == 0xdd)
		at += 2 + 4; /* IPv6 payload length */
	else
		return;
	if (at + 2 <= p->len) {
		p->b[at] = claim >> 8;
		p->b[at + 1] = claim & 0xff;
	}
}

/* Breaks a valid frame, or replaces it with garbage. */
static void mutate(struct pkt *p)
{
	switch (below(7)) {
	case 0: /* leave it valid */
		break;
	case 6: /* a length field that lies, sometimes in a cut frame */
		lie_about_length(p);
		if (below(2))
			pb_cut(p, below(p->len + 1));
		break;
	case 1: /* flip a few bits, mostly in the headers */
		for (int i = 0, n = 1 + below(8); i < n && p->len; i++) {
			size_t at = below(4) ? below(p->len < 80 ? p->len : 80) : below(p->len);

			p->b[at] ^= 1u << below(8);
		}
		break;
	case 2: /* truncate anywhere */
		pb_cut(p, below(p->len + 1));
		break;
	case 3: /* overwrite a run of header bytes */
		for (size_t at = below(p->len + 1), n = 1 + below(16); n && at < p->len; n--, at++)
			p->b[at] = rnd();
		break;
	case 4: /* grow with garbage: lengths that disagree with the headers */
		for (size_t n = below(300); n && p->len < PB_MAX_FRAME; n--)
			p->b[p->len++] = rnd();
		break;
	default: /* pure garbage of a random length, sometimes an IP,
		  * PPPoE or MPLS ethertype */
		p->len = below(PB_MAX_FRAME);
		for (size_t i = 0; i < p->len; i++)
			p->b[i] = rnd();
		if (p->len >= ETH_HEADER && below(2)) {
			/* IPv4, IPv6, PPPoE session, MPLS */
			static const uint16_t types[] = { 0x0800, 0x86dd, 0x8864, 0x8847 };
			uint16_t t = types[below(4)];

			p->b[12] = t >> 8;
			p->b[13] = t & 0xff;
		}
		break;
	}
	if (p->len < ETH_HEADER)
		pb_pad_to(p, ETH_HEADER);
}

static void dump_frame(const struct pkt *p)
{
	fprintf(stderr, "# frame (%zu bytes):", p->len);
	for (size_t i = 0; i < p->len; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n# ", p->b[i]);
	fprintf(stderr, "\n");
}

/* packets == frames run, and every one of them accounted for; bytes
 * counted into flows (or as uncounted) never more than the frames held. */
static bool invariants_hold(const struct dp *dp, uint64_t frames, uint64_t frame_bytes, char *why,
			    size_t len)
{
	__u64 cnt[CNT__MAX], accounted;

	sum_counters(dp, cnt);
	accounted = cnt[CNT_FLOW_PACKETS] + cnt[CNT_UNCOUNTED_PACKETS] + cnt[CNT_NON_IP] +
		    cnt[CNT_PPPOE_DISCOVERY] + cnt[CNT_PPP_CONTROL] + cnt[CNT_MPLS_NON_IP];
	for (int i = 0; i < CNT__MAX; i++)
		if (strncmp(counter_names[i], "err_", 4) == 0)
			accounted += cnt[i];
	if (cnt[CNT_PACKETS] != frames) {
		snprintf(why, len, "packets %llu after %llu frames",
			 (unsigned long long)cnt[CNT_PACKETS], (unsigned long long)frames);
		return false;
	}
	if (accounted != cnt[CNT_PACKETS]) {
		snprintf(why, len,
			 "packets %llu, but flow + uncounted + non_ip + "
			 "err_* = %llu",
			 (unsigned long long)cnt[CNT_PACKETS], (unsigned long long)accounted);
		return false;
	}
	if (cnt[CNT_BYTES] != frame_bytes) {
		snprintf(why, len, "bytes %llu after %llu frame bytes",
			 (unsigned long long)cnt[CNT_BYTES], (unsigned long long)frame_bytes);
		return false;
	}
	if (cnt[CNT_FLOW_BYTES] + cnt[CNT_UNCOUNTED_BYTES] > frame_bytes) {
		snprintf(why, len,
			 "flow_bytes %llu + uncounted_bytes %llu exceed "
			 "the %llu bytes the frames held",
			 (unsigned long long)cnt[CNT_FLOW_BYTES],
			 (unsigned long long)cnt[CNT_UNCOUNTED_BYTES],
			 (unsigned long long)frame_bytes);
		return false;
	}
	return true;
}

static double fuzz_seconds(void)
{
	const char *s = getenv("FUZZ_SECONDS");
	double v = s ? atof(s) : 0;

	return v > 0 ? v : 4;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Counters every run must have moved: one path of each encapsulation. */
static const enum counter must_reach[] = {
	CNT_TUNNEL_DECAPSULATED, CNT_TUNNEL_TRUNCATED,	 CNT_TUNNEL_NOT_IP,	CNT_PPP_CONTROL,
	CNT_ERR_PPPOE_TRUNCATED, CNT_ERR_MPLS_TRUNCATED, CNT_ERR_MPLS_TOO_DEEP,
};

static void reached_add(const struct dp *dp, __u64 reached[CNT__MAX])
{
	__u64 cnt[CNT__MAX];

	sum_counters(dp, cnt);
	for (int i = 0; i < CNT__MAX; i++)
		reached[i] += cnt[i];
}

static void fuzz_mode(void **state)
{
	__u64 reached[CNT__MAX] = { 0 };
	struct dp *dp = *state;
	uint64_t deadline = now_ns() + (uint64_t)(fuzz_seconds() * 1e9);
	uint64_t frames = 0, total = 0, frame_bytes = 0;
	struct pkt p, last;
	char why[200];

	dp_reset(dp);
	while (now_ns() < deadline) {
		for (int i = 0; i < CHECK_EVERY; i++) {
			__u32 rc = 0;
			int err;

			random_valid(&p);
			mutate(&p);
			err = run_frame(dp, &p, &rc);
			if (err || rc != expected_rc(dp)) {
				dump_frame(&p);
				fail_msg("BPF_PROG_TEST_RUN returned %d, program %u, want %u", err,
					 rc, expected_rc(dp));
			}
			last = p;
			frames++;
			frame_bytes += p.len;
			total++;
		}
		/* Evictions land in the ring; reading it keeps it from staying
		 * full (a full ring is exercised too, between reads). */
		if (below(4) == 0)
			consume_evicted(dp);
		if (!invariants_hold(dp, frames, frame_bytes, why, sizeof(why))) {
			fprintf(stderr, "# last frame of the batch that broke it:\n");
			dump_frame(&last);
			fail_msg("%s", why);
		}
		if (frames >= RESET_EVERY) {
			reached_add(dp, reached);
			dp_reset(dp);
			frames = frame_bytes = 0;
		}
	}
	reached_add(dp, reached);
	/* The encapsulation paths were taken, not just survived: a parser
	 * that never recognised them would pass every invariant above. */
	for (size_t i = 0; i < sizeof(must_reach) / sizeof(must_reach[0]); i++)
		if (!reached[must_reach[i]])
			fail_msg("after %llu frames, %s is still 0: the fuzzer does "
				 "not reach that path",
				 (unsigned long long)total, counter_names[must_reach[i]]);
	printf("# %s: %llu frames, every return code right, every packet "
	       "accounted for\n",
	       dp->tap ? "tap" : "inline", (unsigned long long)total);
}

static int setup_small(void **state, bool tap)
{
	return setup_with(state, (struct dp_opts){ .tap = tap, .buckets = 4, .ring_bytes = 4096 });
}

static int setup_small_inline(void **state)
{
	return setup_small(state, false);
}

static int setup_small_tap(void **state)
{
	return setup_small(state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		{ "random and broken frames, inline: always XDP_PASS, nothing lost", fuzz_mode,
		  setup_small_inline, teardown_dp, NULL },
		{ "random and broken frames, tap: always XDP_DROP, nothing lost", fuzz_mode,
		  setup_small_tap, teardown_dp, NULL },
	};
	const char *seed = getenv("FUZZ_SEED");

	rng_state = seed ? strtoull(seed, NULL, 0) : (uint64_t)now_ns();
	if (!rng_state)
		rng_state = 1;
	printf("# FUZZ_SEED=%llu repeats this run\n", (unsigned long long)rng_state);
	if (fixture_init())
		return 1;
	return cmocka_run_group_tests_name("datapath fuzz", tests, NULL, NULL);
}
