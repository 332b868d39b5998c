/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The utilisation sampler with a made-up clock: flows with known start and
 * end times must give exactly the number of concurrent flows per bin, ρ
 * exact from the bytes, each flow counted once however many CPUs or drains
 * it is split over, pauses shorter than the gap bridged and longer ones
 * not, single-packet flows in flows_with_packets only, bins reported only
 * once final, partial first and last bins never, and interfaces apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "curve/sampler.h"

#define MS 1000000ull
#define SEC (1000 * MS)
/* A clock far from 0, as CLOCK_MONOTONIC is, aligned to whole seconds. */
#define T0 (1000 * SEC)
#define MAX_SAMPLES 256

struct got {
	struct curve_sample s[MAX_SAMPLES];
	size_t n;
};

static void on_sample(void *ctx, const struct curve_sample *s)
{
	struct got *g = ctx;

	assert_true(g->n < MAX_SAMPLES);
	g->s[g->n++] = *s;
}

static struct flow_key key(int ifindex, int port)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.ifindex = ifindex;
	k.ip_version = 4;
	k.proto = 6;
	k.src[0] = 10;
	k.dst[0] = 10;
	k.dst[3] = 2;
	k.sport = port;
	k.dport = 80;
	return k;
}

static struct sampler *make(struct got *g, uint64_t bin, uint64_t gap,
			    const struct sampler_iface *ifaces, size_t n)
{
	struct sampler_config cfg = {
		.bin_ns = bin,
		.gap_ns = gap,
		.ifaces = ifaces,
		.n_ifaces = n,
		.on_sample = on_sample,
		.ctx = g,
	};
	struct sampler *s = sampler_new(&cfg);

	assert_non_null(s);
	memset(g, 0, sizeof(*g));
	return s;
}

static const struct sampler_iface one_if[] = {
	{ .ifindex = 0, .name = "all", .capacity_bps = 1000000 },
};

/*
 * A drain every 100 ms: every flow that had packets in the period is
 * observed with the first and last packet of the period, split over two
 * "CPUs" to show a flow is counted once. Packets every 10 ms from start
 * to end inclusive, 100 bytes each.
 */
struct flow_spec {
	int port;
	uint64_t start, end; /* ns after T0 */
};

static void drive(struct sampler *s, const struct flow_spec *fl, size_t n, uint64_t until)
{
	const uint64_t period = 100 * MS, step = 10 * MS;

	sampler_start(s, T0);
	for (uint64_t p = 0; p < until; p += period) {
		for (size_t i = 0; i < n; i++) {
			struct flow_key k = key(1, fl[i].port);
			uint64_t first = 0, last = 0, pkts = 0;

			for (uint64_t t = fl[i].start; t <= fl[i].end; t += step) {
				if (t < p || t >= p + period)
					continue;
				if (!pkts)
					first = t;
				last = t;
				pkts++;
			}
			if (!pkts)
				continue;
			if (pkts >= 2) {
				/* Two CPUs: the first half and the rest. */
				uint64_t mid = first + (pkts / 2) * step;

				sampler_observe(s, &k, T0 + mid, T0 + last,
						100 * (pkts - pkts / 2));
				sampler_observe(s, &k, T0 + first, T0 + mid - step,
						100 * (pkts / 2));
			} else {
				sampler_observe(s, &k, T0 + first, T0 + last, 100);
			}
		}
		sampler_advance(s, T0 + p + period);
	}
}

static void test_known_concurrency(void **state)
{
	/* Flows over whole seconds: concurrency per second is 1,2,3,2,1,0. */
	static const struct flow_spec fl[] = {
		{ 1, 0 * SEC, 5 * SEC },
		{ 2, 1 * SEC, 4 * SEC },
		{ 3, 2 * SEC, 3 * SEC },
	};
	static const double want_n[] = { 1, 2, 3, 2, 1, 0 };
	struct got g;
	struct sampler *s = make(&g, SEC, 2 * SEC, one_if, 1);

	(void)state;
	drive(s, fl, 3, 6 * SEC);
	/* Reported only when the gap has passed: 6 s - 2 s = 4 bins. */
	assert_int_equal(g.n, 4);
	sampler_finish(s, T0 + 6 * SEC);
	assert_int_equal(g.n, 6);
	/* The first gap's bins are warm-up (flows running before the start
	 * may not be seen yet), the rest are not. */
	for (size_t i = 0; i < g.n; i++)
		assert_int_equal(g.s[i].warmup, g.s[i].start_ns < T0 + 2 * SEC);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(g.s[i].start_ns, T0 + i * SEC);
		assert_int_equal(g.s[i].duration_ns, SEC);
		assert_true(g.s[i].active_flows > want_n[i] - 1e-9 &&
			    g.s[i].active_flows < want_n[i] + 1e-9);
	}
	/* Second 0: flow 1 has 100 packets in [0, 1 s). */
	assert_true(g.s[0].bytes > 10000 - 1e-6 && g.s[0].bytes < 10000 + 1e-6);
	assert_true(g.s[0].utilisation > 0.08 - 1e-12 && g.s[0].utilisation < 0.08 + 1e-12);
	assert_int_equal(g.s[0].flows_with_packets, 1);
	assert_true(g.s[0].rate_per_flow_bps > 80000 - 1e-6 &&
		    g.s[0].rate_per_flow_bps < 80000 + 1e-6);
	/* Second 2: three flows sent; second 5: the last packets of flows 1
	 * (at 5 s exactly) is in bin 5, but it is active for no time there. */
	assert_int_equal(g.s[2].flows_with_packets, 3);
	assert_int_equal(g.s[5].flows_with_packets, 1);
	assert_true(g.s[5].rate_per_flow_bps == 0);
	assert_int_equal(sampler_dropped(s), 0);
	sampler_free(s);
}

static void test_pause_bridged_or_not(void **state)
{
	const struct flow_key k = key(1, 7);
	struct got g;
	struct sampler *s = make(&g, SEC, 2 * SEC, one_if, 1);

	(void)state;
	sampler_start(s, T0);
	/* Packets at 0.5 s and, after a 1.5 s pause (< gap), at 2.0..2.5 s. */
	sampler_observe(s, &k, T0 + 500 * MS, T0 + 500 * MS, 40);
	sampler_advance(s, T0 + 1 * SEC);
	sampler_advance(s, T0 + 2 * SEC);
	sampler_observe(s, &k, T0 + 2 * SEC, T0 + 2500 * MS, 80);
	/* Then a 3 s pause (> gap) and one more packet at 5.5..6 s. */
	sampler_advance(s, T0 + 3 * SEC);
	sampler_advance(s, T0 + 5 * SEC);
	sampler_observe(s, &k, T0 + 5500 * MS, T0 + 6 * SEC - 1, 80);
	sampler_finish(s, T0 + 6 * SEC);
	assert_int_equal(g.n, 6);
	assert_true(g.s[0].active_flows > 0.5 - 1e-9 && g.s[0].active_flows < 0.5 + 1e-9);
	assert_true(g.s[1].active_flows > 1 - 1e-9); /* bridged */
	assert_true(g.s[2].active_flows > 0.5 - 1e-9 && g.s[2].active_flows < 0.5 + 1e-9);
	assert_true(g.s[3].active_flows == 0); /* not bridged */
	assert_true(g.s[4].active_flows == 0);
	assert_true(g.s[5].active_flows > 0.5 - 1e-6 && g.s[5].active_flows < 0.5 + 1e-6);
	assert_int_equal(g.s[0].flows_with_packets, 1);
	assert_int_equal(g.s[1].flows_with_packets, 0);
	assert_int_equal(g.s[2].flows_with_packets, 1);
	sampler_free(s);
}

static void test_single_packet_flow(void **state)
{
	struct got g;
	struct sampler *s = make(&g, SEC, 0, one_if, 1);
	struct flow_key k = key(1, 9);

	(void)state;
	sampler_start(s, T0);
	sampler_observe(s, &k, T0 + 300 * MS, T0 + 300 * MS, 1500);
	sampler_finish(s, T0 + SEC);
	assert_int_equal(g.n, 1);
	assert_true(g.s[0].active_flows == 0);
	assert_int_equal(g.s[0].flows_with_packets, 1);
	assert_true(g.s[0].bytes == 1500);
	sampler_free(s);
}

/* Bytes of an entry over a bin edge go to both bins by time; ρ per bin. */
static void test_bytes_split_and_partial_bins(void **state)
{
	struct got g;
	struct sampler *s = make(&g, SEC, 0, one_if, 1);
	struct flow_key k = key(1, 11);

	(void)state;
	/* Started mid-bin: bin 0 is partial, never reported. */
	sampler_start(s, T0 + 200 * MS);
	sampler_observe(s, &k, T0 + 500 * MS, T0 + 700 * MS, 999); /* ignored */
	sampler_observe(s, &k, T0 + 1500 * MS, T0 + 2500 * MS, 1000);
	sampler_advance(s, T0 + 2600 * MS);
	/* Ended mid-bin: bin 2 is partial, never reported. */
	sampler_finish(s, T0 + 2600 * MS);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.s[0].start_ns, T0 + SEC);
	assert_true(g.s[0].bytes > 500 - 1e-9 && g.s[0].bytes < 500 + 1e-9);
	assert_true(g.s[0].active_flows > 0.5 - 1e-9 && g.s[0].active_flows < 0.5 + 1e-9);
	assert_int_equal(sampler_dropped(s), 0);
	sampler_free(s);
}

static void test_interfaces_apart(void **state)
{
	static const struct sampler_iface two[] = {
		{ .ifindex = 3, .name = "a", .capacity_bps = 8000 },
		{ .ifindex = 5, .name = "b", .capacity_bps = 16000 },
	};
	struct got g;
	struct sampler *s = make(&g, SEC, 0, two, 2);
	struct flow_key ka = key(3, 1), kb = key(5, 1), kc = key(7, 1);

	(void)state;
	sampler_start(s, T0);
	sampler_observe(s, &ka, T0, T0 + SEC - 1, 1000);
	sampler_observe(s, &kb, T0, T0 + SEC / 2, 1000);
	sampler_observe(s, &kc, T0, T0 + SEC - 1, 1000); /* not watched */
	sampler_finish(s, T0 + SEC);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.s[0].name, "a");
	assert_true(g.s[0].utilisation == 1.0);
	assert_true(g.s[0].active_flows > 1 - 1e-6);
	assert_string_equal(g.s[1].name, "b");
	assert_true(g.s[1].utilisation == 0.5);
	assert_true(g.s[1].active_flows > 0.5 - 1e-9 && g.s[1].active_flows < 0.5 + 1e-9);
	sampler_free(s);
}

static void test_bad_config(void **state)
{
	static const struct sampler_iface no_capacity[] = { { .name = "x" } };
	struct sampler_config cfg = {
		.bin_ns = SEC,
		.ifaces = no_capacity,
		.n_ifaces = 1,
		.on_sample = on_sample,
	};

	(void)state;
	assert_null(sampler_new(&cfg));
	cfg.ifaces = one_if;
	cfg.bin_ns = 0;
	assert_null(sampler_new(&cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_concurrency),
		cmocka_unit_test(test_pause_bridged_or_not),
		cmocka_unit_test(test_single_packet_flow),
		cmocka_unit_test(test_bytes_split_and_partial_bins),
		cmocka_unit_test(test_interfaces_apart),
		cmocka_unit_test(test_bad_config),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
