// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Flow cache timeouts with a fake clock: inactive, active, end of TCP flow
 * with its grace period, forced flush, the cache-full path, merging of
 * per-CPU values, and growth past many rehashes without losing a count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "export/flow_cache.h"

#define SEC_NS 1000000000ull

struct exported {
	struct flow_key key;
	struct flow_value val;
	enum flow_end_reason reason;
};

struct sink {
	struct exported rec[64];
	size_t n;
	uint64_t packets, bytes, flows;
};

static void collect(void *ctx, const struct flow_key *key, const struct flow_value *val,
		    enum flow_end_reason reason)
{
	struct sink *s = ctx;

	if (s->n < 64) {
		s->rec[s->n].key = *key;
		s->rec[s->n].val = *val;
		s->rec[s->n].reason = reason;
	}
	s->n++;
	s->flows++;
	s->packets += val->packets;
	s->bytes += val->bytes;
}

static const struct flow_cache_config cfg = {
	.active_timeout_ns = 60 * SEC_NS,
	.inactive_timeout_ns = 15 * SEC_NS,
	.end_grace_ns = 2 * SEC_NS,
	.max_flows = 1000,
};

static struct flow_key key_n(uint32_t n, uint8_t proto)
{
	struct flow_key k = { .ifindex = 2, .ip_version = 4, .proto = proto };

	memcpy(k.src, &n, 4);
	k.dst[0] = 10;
	k.sport = 1000;
	k.dport = 80;
	return k;
}

static struct flow_value val_at(uint64_t packets, uint64_t t_ns, uint8_t flags)
{
	struct flow_value v = {
		.packets = packets,
		.bytes = packets * 100,
		.first_ns = t_ns,
		.last_ns = t_ns,
		.tcp_flags = flags,
		.ttl_min = 64,
		.ttl_max = 64,
	};
	return v;
}

static void test_inactive_timeout(void **state)
{
	struct sink s = {};
	struct flow_cache *fc = flow_cache_new(&cfg, collect, &s);
	struct flow_key k = key_n(1, 17);
	struct flow_value v = val_at(3, 100 * SEC_NS, 0);

	(void)state;
	flow_cache_merge(fc, &k, &v);
	assert_int_equal(flow_cache_expire(fc, 114 * SEC_NS), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(flow_cache_expire(fc, 115 * SEC_NS), 1);
	assert_int_equal(s.rec[0].reason, END_IDLE);
	assert_int_equal(s.rec[0].val.packets, 3);
	assert_int_equal(flow_cache_count(fc), 0);
	flow_cache_free(fc);
}

static void test_active_timeout_restarts_record(void **state)
{
	struct sink s = {};
	struct flow_cache *fc = flow_cache_new(&cfg, collect, &s);
	struct flow_key k = key_n(1, 17);

	(void)state;
	/* A packet every 10 s: never idle, but active for 60 s. */
	for (uint64_t t = 0; t <= 70; t += 10) {
		struct flow_value v = val_at(1, t * SEC_NS, 0);

		flow_cache_merge(fc, &k, &v);
		flow_cache_expire(fc, t * SEC_NS);
	}
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].reason, END_ACTIVE);
	assert_int_equal(s.rec[0].val.packets, 7); /* t = 0..60 */
	assert_int_equal(s.rec[0].val.first_ns, 0);
	assert_int_equal(s.rec[0].val.last_ns, 60 * SEC_NS);
	/* The next record starts with the next packet. */
	flow_cache_flush(fc, END_FORCED);
	assert_int_equal(s.rec[1].val.packets, 1);
	assert_int_equal(s.rec[1].val.first_ns, 70 * SEC_NS);
	assert_int_equal(s.rec[1].reason, END_FORCED);
	assert_int_equal(s.packets, 8);
	flow_cache_free(fc);
}

static void test_tcp_end_after_grace(void **state)
{
	struct sink s = {};
	struct flow_cache *fc = flow_cache_new(&cfg, collect, &s);
	struct flow_key k = key_n(1, 6);
	struct flow_value syn = val_at(1, 10 * SEC_NS, 0x02);
	struct flow_value fin = val_at(1, 11 * SEC_NS, 0x11);
	struct flow_value ack = val_at(1, 12 * SEC_NS, 0x10);

	(void)state;
	flow_cache_merge(fc, &k, &syn);
	flow_cache_merge(fc, &k, &fin);
	flow_cache_expire(fc, 12 * SEC_NS);
	/* The last ACK arrives within the grace: same record. */
	flow_cache_merge(fc, &k, &ack);
	assert_int_equal(flow_cache_expire(fc, 13 * SEC_NS), 0);
	assert_int_equal(flow_cache_expire(fc, 14 * SEC_NS), 1);
	assert_int_equal(s.rec[0].reason, END_OF_FLOW);
	assert_int_equal(s.rec[0].val.packets, 3);
	assert_int_equal(s.rec[0].val.tcp_flags, 0x13);
	flow_cache_free(fc);
}

static void test_rst_ends_flow(void **state)
{
	struct sink s = {};
	struct flow_cache *fc = flow_cache_new(&cfg, collect, &s);
	struct flow_key k = key_n(1, 6);
	struct flow_value rst = val_at(2, 5 * SEC_NS, 0x04);

	(void)state;
	flow_cache_merge(fc, &k, &rst);
	assert_int_equal(flow_cache_expire(fc, 6 * SEC_NS), 0);
	assert_int_equal(flow_cache_expire(fc, 7 * SEC_NS), 1);
	assert_int_equal(s.rec[0].reason, END_OF_FLOW);
	flow_cache_free(fc);
}

static void test_merge_per_cpu_values(void **state)
{
	struct flow_value acc = {};
	struct flow_value cpu1 = val_at(2, 50, 0x10);
	struct flow_value cpu0 = val_at(1, 20, 0x02);
	struct flow_value idle_cpu = {};

	(void)state;
	cpu0.tos = 0x10;
	cpu0.ttl_min = cpu0.ttl_max = 60;
	cpu1.tos = 0x20;
	cpu1.last_ns = 90;
	cpu1.ttl_min = 50;
	cpu1.ttl_max = 70;
	flow_value_merge(&acc, &cpu1);
	flow_value_merge(&acc, &idle_cpu); /* a CPU that saw nothing */
	flow_value_merge(&acc, &cpu0);
	assert_int_equal(acc.packets, 3);
	assert_int_equal(acc.bytes, 300);
	assert_int_equal(acc.first_ns, 20);
	assert_int_equal(acc.last_ns, 90);
	assert_int_equal(acc.tos, 0x10); /* the earliest packet's ToS */
	assert_int_equal(acc.ttl_min, 50);
	assert_int_equal(acc.ttl_max, 70);
	assert_int_equal(acc.tcp_flags, 0x12);
}

static void test_cache_full_exports_at_once(void **state)
{
	struct flow_cache_config small = cfg;
	struct sink s = {};
	struct flow_cache *fc;

	(void)state;
	small.max_flows = 2;
	fc = flow_cache_new(&small, collect, &s);
	for (uint32_t i = 0; i < 5; i++) {
		struct flow_key k = key_n(i, 17);
		struct flow_value v = val_at(1, SEC_NS, 0);

		flow_cache_merge(fc, &k, &v);
	}
	assert_int_equal(flow_cache_count(fc), 2);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.rec[0].reason, END_LACK_OF_RESOURCES);
	assert_int_equal(flow_cache_lack_of_resources(fc), 3);
	flow_cache_flush(fc, END_FORCED);
	assert_int_equal(s.packets, 5);
	flow_cache_free(fc);
}

static void test_many_flows_no_loss(void **state)
{
	struct flow_cache_config big = cfg;
	struct sink s = {};
	struct flow_cache *fc;
	const uint32_t n = 200000;

	(void)state;
	big.max_flows = n;
	fc = flow_cache_new(&big, collect, &s);
	/* Every flow twice, so lookups after rehashes are exercised. */
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < n; i++) {
			struct flow_key k = key_n(i, 6);
			struct flow_value v = val_at(1, (i % 100) * SEC_NS, 0);

			flow_cache_merge(fc, &k, &v);
		}
	}
	assert_int_equal(flow_cache_count(fc), n);
	/* Expire half (last seen before t=50 s, idle 15 s at t=64 s). */
	flow_cache_expire(fc, 64 * SEC_NS);
	assert_int_equal(s.flows, n / 2);
	assert_int_equal(flow_cache_count(fc), n / 2);
	flow_cache_flush(fc, END_FORCED);
	assert_int_equal(s.flows, n);
	assert_int_equal(s.packets, 2ull * n);
	flow_cache_free(fc);
}

static void test_app_mark_survives_active_timeout(void **state)
{
	struct sink s = {};
	struct flow_cache *fc = flow_cache_new(&cfg, collect, &s);
	struct flow_key k = key_n(1, 6);

	(void)state;
	for (uint64_t t = 0; t <= 70; t += 10) {
		struct flow_value v = val_at(1, t * SEC_NS, 0x10);

		flow_cache_merge(fc, &k, &v);
		if (t == 10)
			flow_cache_mark_app(fc, &k, APP_BITTORRENT, t * SEC_NS);
		flow_cache_expire(fc, t * SEC_NS);
	}
	flow_cache_flush(fc, END_FORCED);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.rec[0].reason, END_ACTIVE);
	assert_int_equal(s.rec[0].val.app, APP_BITTORRENT);
	/* The continuation record knows it is BitTorrent too. */
	assert_int_equal(s.rec[1].val.app, APP_BITTORRENT);
	assert_int_equal(s.packets, 8);
	flow_cache_free(fc);
}

static void test_app_mark_before_first_packet(void **state)
{
	struct sink s = {};
	struct flow_cache *fc = flow_cache_new(&cfg, collect, &s);
	struct flow_key reverse = key_n(2, 6), never = key_n(3, 6);
	struct flow_value v = val_at(4, 12 * SEC_NS, 0x10);

	(void)state;
	/* The handshake is seen one way; the other direction is marked
	 * before its first packet arrives. */
	flow_cache_mark_app(fc, &reverse, APP_BITTORRENT, 10 * SEC_NS);
	flow_cache_mark_app(fc, &never, APP_BITTORRENT, 10 * SEC_NS);
	flow_cache_merge(fc, &reverse, &v);
	/* A mark that never gets packets is forgotten, never exported. */
	assert_int_equal(flow_cache_expire(fc, 26 * SEC_NS), 0);
	assert_int_equal(flow_cache_count(fc), 1);
	assert_int_equal(flow_cache_expire(fc, 27 * SEC_NS), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].val.app, APP_BITTORRENT);
	assert_int_equal(s.rec[0].val.packets, 4);
	assert_int_equal(s.rec[0].val.first_ns, 12 * SEC_NS);
	assert_int_equal(flow_cache_flush(fc, END_FORCED), 0);
	flow_cache_free(fc);
}

/*
 * Paced export takes the cache in parts: expire_some and flush_some export
 * at most what they are allowed, keep the rest exactly (a later call
 * exports it with its counts), and together export every flow once.
 */
static void test_expire_and_flush_in_parts(void **state)
{
	struct sink s = {};
	struct flow_cache *fc = flow_cache_new(&cfg, collect, &s);

	(void)state;
	for (uint32_t i = 0; i < 50; i++) {
		struct flow_key k = key_n(i, 17);
		struct flow_value v = val_at(i + 1, 100 * SEC_NS, 0);

		flow_cache_merge(fc, &k, &v);
	}
	/* All 50 idle: 20 at most now, 20 more, then the last 10. */
	assert_int_equal(flow_cache_expire_some(fc, 200 * SEC_NS, 20), 20);
	assert_int_equal(flow_cache_count(fc), 30);
	assert_int_equal(flow_cache_expire_some(fc, 200 * SEC_NS, 20), 20);
	assert_int_equal(flow_cache_expire_some(fc, 200 * SEC_NS, 20), 10);
	assert_int_equal(flow_cache_count(fc), 0);
	assert_int_equal(s.flows, 50);
	assert_int_equal(s.packets, 50 * 51 / 2);

	s = (struct sink){ 0 };
	for (uint32_t i = 0; i < 50; i++) {
		struct flow_key k = key_n(i, 6);
		struct flow_value v = val_at(i + 1, 300 * SEC_NS, 0);

		flow_cache_merge(fc, &k, &v);
	}
	assert_int_equal(flow_cache_flush_some(fc, END_FORCED, 7), 7);
	assert_int_equal(flow_cache_count(fc), 43);
	/* What stays is still found and merged into. */
	for (uint32_t i = 0; i < 50; i++) {
		struct flow_key k = key_n(i, 6);
		struct flow_value v = val_at(1, 301 * SEC_NS, 0);

		flow_cache_merge(fc, &k, &v);
	}
	assert_int_equal(flow_cache_count(fc), 50);
	while (flow_cache_count(fc))
		assert_true(flow_cache_flush_some(fc, END_FORCED, 7) <= 7);
	/* 50 + 7 records: the 7 flushed came back as new flows. */
	assert_int_equal(s.flows, 57);
	assert_int_equal(s.packets, 50 * 51 / 2 + 50);
	for (size_t i = 0; i < 57 && i < 64; i++)
		assert_int_equal(s.rec[i].reason, END_FORCED);
	flow_cache_free(fc);
}

/* Every record in order, by the flow number key_n put in its source. */
struct order_sink {
	uint32_t id[4096];
	uint8_t reason[4096];
	size_t n;
};

static void collect_order(void *ctx, const struct flow_key *key, const struct flow_value *val,
			  enum flow_end_reason reason)
{
	struct order_sink *s = ctx;

	(void)val;
	assert_true(s->n < 4096);
	memcpy(&s->id[s->n], key->src, 4);
	s->reason[s->n++] = (uint8_t)reason;
}

/* Flow i of test_expire_order: idle (ends), long-lived (active timeout,
 * stays holding no packets) or recent (stays as it is). */
enum { ORDER_STAYS, ORDER_IDLE, ORDER_ACTIVE };

static int order_kind(uint32_t i)
{
	return i % 3 == 0 ? ORDER_IDLE : i % 7 == 0 ? ORDER_ACTIVE : ORDER_STAYS;
}

/* What the cache exported before expiry relinked in bulk: scan up, each
 * ended flow replaced by the last one, which is looked at next. */
static size_t order_model(uint32_t *ids, size_t *count, size_t max, struct order_sink *want)
{
	size_t n = 0;

	for (size_t i = 0; i < *count && n < max;) {
		int kind = order_kind(ids[i] & 0x7fffffffu);

		if (kind == ORDER_STAYS || (kind == ORDER_ACTIVE && ids[i] & 0x80000000u)) {
			i++; /* a restarted record: no packets, not idle yet */
			continue;
		}
		want->id[want->n] = ids[i];
		want->reason[want->n++] = kind == ORDER_IDLE ? END_IDLE : END_ACTIVE;
		n++;
		if (kind == ORDER_ACTIVE) {
			ids[i++] |= 0x80000000u;
			continue;
		}
		ids[i] = ids[--*count];
	}
	return n;
}

/*
 * Expiry removes most of a cache's entries in bulk and relinks its chains
 * once: the records, their order and which flows stay must be what one
 * removal at a time gave, in a paced pass and a full one, and every flow
 * that stays must still be found (merged into, not added again).
 */
static void test_expire_order(void **state)
{
	struct flow_cache_config c = cfg;
	static struct order_sink got, want;
	static uint32_t ids[3000];
	size_t count = 3000, model_n;
	const uint64_t now = 100 * SEC_NS;
	struct flow_cache *fc;

	(void)state;
	c.max_flows = 3000;
	got.n = want.n = 0;
	fc = flow_cache_new(&c, collect_order, &got);
	for (uint32_t i = 0; i < 3000; i++) {
		struct flow_key k = key_n(i, 17);
		struct flow_value v = val_at(1, now - 20 * SEC_NS, 0);

		if (order_kind(i) != ORDER_IDLE)
			v.last_ns = now - SEC_NS;
		if (order_kind(i) == ORDER_ACTIVE)
			v.first_ns = 0;
		else if (order_kind(i) == ORDER_STAYS)
			v.first_ns = now - 10 * SEC_NS;
		flow_cache_merge(fc, &k, &v);
		ids[i] = i;
	}
	/* Paced: 700 records, then the rest. */
	model_n = order_model(ids, &count, 700, &want);
	assert_int_equal(flow_cache_expire_some(fc, now, 700), model_n);
	model_n = order_model(ids, &count, SIZE_MAX, &want);
	assert_int_equal(flow_cache_expire(fc, now), model_n);
	assert_int_equal(got.n, want.n);
	assert_int_equal(got.n, 1000 + 286); /* i % 3 == 0; i % 7 == 0 of the rest */
	for (size_t i = 0; i < got.n; i++) {
		assert_int_equal(got.id[i], want.id[i]);
		assert_int_equal(got.reason[i], want.reason[i]);
	}
	assert_int_equal(flow_cache_count(fc), count);
	assert_int_equal(count, 2000);

	/* Every flow left is found: merging adds no entry. */
	for (uint32_t i = 0; i < 3000; i++) {
		struct flow_key k = key_n(i, 17);
		struct flow_value v = val_at(1, now, 0);

		if (order_kind(i) != ORDER_IDLE)
			flow_cache_merge(fc, &k, &v);
	}
	assert_int_equal(flow_cache_count(fc), 2000);
	got.n = 0;
	assert_int_equal(flow_cache_flush(fc, END_FORCED), 2000);
	flow_cache_free(fc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inactive_timeout),
		cmocka_unit_test(test_expire_and_flush_in_parts),
		cmocka_unit_test(test_expire_order),
		cmocka_unit_test(test_active_timeout_restarts_record),
		cmocka_unit_test(test_tcp_end_after_grace),
		cmocka_unit_test(test_rst_ends_flow),
		cmocka_unit_test(test_merge_per_cpu_values),
		cmocka_unit_test(test_cache_full_exports_at_once),
		cmocka_unit_test(test_many_flows_no_loss),
		cmocka_unit_test(test_app_mark_survives_active_timeout),
		cmocka_unit_test(test_app_mark_before_first_packet),
	};

	return cmocka_run_group_tests_name("flow_cache", tests, NULL, NULL);
}
