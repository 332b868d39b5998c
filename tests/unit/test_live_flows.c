// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The live view: drained entries of local flows add up per flow, remote
 * flows are not kept, an export or an idle timeout removes a flow, a full
 * table counts what it could not keep, a snapshot is the busiest first;
 * the history lists a host with only live flows in /api/hosts at once
 * (counts and live_flows) and its page lists the flow in "live", and the
 * next tick's snapshot replaces the previous one (nothing counted twice).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include "daemon/live_flows.h"
#include "web/history.h"

#define SEC 1000000000ull
#define WALL0 1700000000000ull

static struct prefix_set local;

static int setup(void **state)
{
	(void)state;
	return prefix_set_parse(&local, "10.0.1.0/24", "--local");
}

static struct flow_key key(uint8_t src_last, uint8_t src_net, uint16_t sport)
{
	struct flow_key k = {};

	k.ip_version = 4;
	k.proto = 17;
	k.src[0] = 10;
	k.src[1] = 0;
	k.src[2] = src_net;
	k.src[3] = src_last;
	k.dst[0] = 45;
	k.dst[3] = 1;
	k.sport = sport;
	k.dport = 5001;
	return k;
}

static struct flow_value val(uint64_t packets, uint64_t t_ns)
{
	return (struct flow_value){ .packets = packets,
				    .bytes = packets * 228,
				    .first_ns = t_ns,
				    .last_ns = t_ns };
}

static uint64_t to_wall(void *ctx, uint64_t ns)
{
	(void)ctx;
	return WALL0 + ns / 1000000;
}

static void adds_up_removes_and_bounds(void **state)
{
	struct live_flows *lf = live_flows_new(3, &local);
	struct flow_key a = key(1, 1, 4001), b = key(2, 1, 4002), remote = key(1, 9, 1);
	struct flow_value v;
	struct flow_record out[8];

	(void)state;
	assert_non_null(lf);
	v = val(60, 1 * SEC);
	live_flows_observe(lf, &a, &v); /* one CPU */
	v = val(40, 2 * SEC);
	live_flows_observe(lf, &a, &v); /* another, or the next drain */
	v = val(5, 2 * SEC);
	live_flows_observe(lf, &b, &v);
	live_flows_observe(lf, &remote, &v); /* 10.0.9.1: not a customer */
	assert_int_equal(live_flows_count(lf), 2);
	assert_int_equal(live_flows_snapshot(lf, out, 8, to_wall, NULL), 2);
	assert_int_equal(out[0].packets, 100); /* busiest first, summed */
	assert_int_equal(out[0].bytes, 100 * 228);
	assert_true(out[0].first_ms == WALL0 + 1000 && out[0].last_ms == WALL0 + 2000);
	assert_int_equal(out[1].packets, 5);
	assert_int_equal(live_flows_snapshot(lf, out, 1, to_wall, NULL), 1);
	assert_int_equal(out[0].packets, 100);

	/* Full (3 slots): the fourth and fifth are counted, not kept. */
	for (int i = 3; i <= 5; i++) {
		struct flow_key k = key(i, 1, 4000 + i);

		v = val(1, 3 * SEC);
		live_flows_observe(lf, &k, &v);
	}
	assert_int_equal(live_flows_count(lf), 3);
	assert_int_equal(live_flows_dropped(lf), 2);

	/* Exported: gone; idle past the timeout: gone. */
	live_flows_exported(lf, &a);
	assert_int_equal(live_flows_count(lf), 2);
	live_flows_expire(lf, 17 * SEC, 15 * SEC); /* none idle longer yet */
	assert_int_equal(live_flows_count(lf), 2);
	live_flows_expire(lf, 2 * SEC + 16 * SEC, 15 * SEC); /* b idle 16 s */
	assert_int_equal(live_flows_count(lf), 1);
	live_flows_expire(lf, 100 * SEC, 15 * SEC);
	assert_int_equal(live_flows_count(lf), 0);
	/* Slots come back. */
	v = val(7, 101 * SEC);
	live_flows_observe(lf, &a, &v);
	assert_int_equal(live_flows_count(lf), 1);
	live_flows_free(lf);
}

static json_t *host_in(json_t *hosts, const char *list, const char *addr)
{
	json_t *arr = json_object_get(hosts, list), *h;
	size_t i;

	json_array_foreach (arr, i, h)
		if (!strcmp(json_string_value(json_object_get(h, "addr")), addr))
			return h;
	return NULL;
}

static void history_shows_live_hosts(void **state)
{
	struct history_config hc = { .local = &local };
	struct history *h = history_new(&hc);
	struct live_flows *lf = live_flows_new(16, &local);
	struct flow_key a = key(1, 1, 4001);
	struct flow_value v = val(100, 1 * SEC);
	struct flow_record out[HISTORY_LIVE];
	json_t *o, *x;
	size_t n;

	(void)state;
	live_flows_observe(lf, &a, &v);
	n = live_flows_snapshot(lf, out, HISTORY_LIVE, to_wall, NULL);
	history_set_live(h, out, n, WALL0 + 1500);
	o = history_hosts_json(h, 10);
	x = host_in(o, "by_flows", "10.0.1.1");
	assert_non_null(x);
	assert_int_equal(json_integer_value(json_object_get(x, "packets")), 100);
	assert_int_equal(json_integer_value(json_object_get(x, "live_flows")), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "peers")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "live_flows")), 1);
	json_decref(o);
	o = history_host_json(h, "10.0.1.1");
	assert_int_equal(json_array_size(json_object_get(o, "live")), 1);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(o, "live"), 0), "packets")),
			 100);
	json_decref(o);

	/* The next tick: 50 more packets; the page shows 150, not 250. */
	v = val(50, 2 * SEC);
	live_flows_observe(lf, &a, &v);
	n = live_flows_snapshot(lf, out, HISTORY_LIVE, to_wall, NULL);
	history_set_live(h, out, n, WALL0 + 2500);
	o = history_hosts_json(h, 10);
	x = host_in(o, "by_flows", "10.0.1.1");
	assert_int_equal(json_integer_value(json_object_get(x, "packets")), 150);
	json_decref(o);

	/* Exported: the live set is empty, the record goes to the buckets. */
	live_flows_exported(lf, &a);
	n = live_flows_snapshot(lf, out, HISTORY_LIVE, to_wall, NULL);
	history_set_live(h, out, n, WALL0 + 3500);
	o = history_hosts_json(h, 10);
	assert_null(host_in(o, "by_flows", "10.0.1.1"));
	json_decref(o);
	live_flows_free(lf);
	history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adds_up_removes_and_bounds),
		cmocka_unit_test(history_shows_live_hosts),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
