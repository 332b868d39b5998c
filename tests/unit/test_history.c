// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The dashboard's history, its views and /metrics, without a socket: a
 * host with 200 peers is counted as about 200 (not the 389 a hash with
 * too few collisions gives), tops are ordered, remote hosts get no page,
 * resets count on their local end by verdict, memory stays bounded with
 * 100,000 hosts, stale hosts make room, the API answers 400/404, and
 * /metrics has a HELP and TYPE line for every counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>
#include "daemon/enrich.h"
#include "web/history.h"
#include "web/http_api.h"
#include "web/metrics.h"
#include "flow_fixture.h"

#define T0 1700000100000ull

/* The prefixes of the history being fed: the pipeline's enrich stage
 * classifies records with the same set the history was given. */
static struct prefix_set test_local;

/* Hands a record in as the pipeline does: classified first. */
static void add_flow(struct history *h, struct flow_record *r)
{
	struct enrich_config ec = { .local = &test_local };
	struct flow_class fc;

	enrich_flow(&ec, r, &fc);
	history_add_flow(h, r, &fc);
}

/* Customers in 10.0.1.0/24; everything else is the Internet. */
static struct history *new_history(size_t max_hosts, uint64_t span_ms)
{
	struct prefix_set local;
	struct history_config cfg = { .span_ms = span_ms, .max_hosts = max_hosts, .local = &local };
	struct history *h;

	assert_int_equal(prefix_set_parse(&local, "10.0.1.0/24", "--local"), 0);
	test_local = local;
	h = history_new(&cfg);

	assert_non_null(h);
	return h;
}

static json_int_t int_at(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* The BitTorrent-like host: 200 peers, 1 flow each, one /24. */
static void feed_swarm(struct history *h, uint64_t t)
{
	for (int i = 1; i <= 200; i++) {
		struct flow_record r =
			tcp4_flow(IP4(10, 0, 1, 2), IP4(45, 0, 3, i), 40000 + i, 6881, 300, t);

		add_flow(h, &r);
	}
	/* A web client: many bytes, one peer. */
	for (int i = 0; i < 5; i++) {
		struct flow_record r =
			tcp4_flow(IP4(10, 0, 1, 1), IP4(192, 0, 2, 80), 50000 + i, 443, 1000000, t);

		add_flow(h, &r);
	}
}

static void tops_and_peer_estimate(void **state)
{
	struct history *h = new_history(0, 0);
	json_t *o, *by_peers, *by_bytes;
	json_int_t peers;

	(void)state;
	feed_swarm(h, T0);
	o = history_hosts_json(h, 10);
	by_peers = json_object_get(o, "by_peers");
	by_bytes = json_object_get(o, "by_bytes");
	assert_int_equal(json_array_size(by_peers), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(by_peers, 0), "addr")),
			    "10.0.1.2");
	assert_string_equal(json_string_value(json_object_get(json_array_get(by_bytes, 0), "addr")),
			    "10.0.1.1");
	peers = int_at(json_array_get(by_peers, 0), "peers");
	/* Linear counting with 256 bits: within 15 % at 200. */
	assert_in_range(peers, 170, 230);
	assert_int_equal(int_at(json_array_get(by_peers, 0), "flows"), 200);
	json_decref(o);
	history_free(h);
}

static void host_page_and_remote(void **state)
{
	struct history *h = new_history(0, 0);
	json_t *o, *ports;

	(void)state;
	feed_swarm(h, T0);
	o = history_host_json(h, "10.0.1.2");
	assert_true(json_is_true(json_object_get(o, "known")));
	ports = json_object_get(o, "ports");
	assert_int_equal(json_array_size(ports), 1);
	assert_int_equal(int_at(json_array_get(ports, 0), "port"), 6881);
	assert_int_equal(json_array_size(json_object_get(o, "series")), HISTORY_BUCKETS);
	assert_int_equal(json_array_size(json_object_get(o, "flows")), 100);
	json_decref(o);
	/* A remote peer has no page: only customers are kept. */
	o = history_host_json(h, "45.0.3.7");
	assert_false(json_is_true(json_object_get(o, "known")));
	assert_false(json_is_true(json_object_get(o, "local")));
	json_decref(o);
	assert_null(history_host_json(h, "not-an-ip"));
	history_free(h);
}

static void resets_by_verdict(void **state)
{
	struct history *h = new_history(0, 0);
	const char *forged = "{\"type\":\"reset\",\"verdict\":\"forged\","
			     "\"src\":\"203.0.113.9\",\"dst\":\"10.0.1.1\","
			     "\"sport\":6881,\"dport\":40000}";
	const char *genuine = "{\"type\":\"reset\",\"verdict\":\"genuine\","
			      "\"src\":\"203.0.113.9\",\"dst\":\"10.0.1.1\"}";
	const char *flowline = "{\"type\":\"flow\",\"src\":\"10.0.1.1\"}";
	json_t *o, *ev;

	(void)state;
	history_add_event_line(h, forged, strlen(forged), T0);
	history_add_event_line(h, genuine, strlen(genuine), T0);
	history_add_event_line(h, flowline, strlen(flowline), T0);
	history_add_event_line(h, "not json", 8, T0);
	o = history_host_json(h, "10.0.1.1");
	assert_int_equal(int_at(o, "resets"), 2);
	assert_int_equal(int_at(o, "forged_resets"), 1);
	json_decref(o);
	o = history_events_json(h, "reset", 10);
	ev = json_object_get(o, "events");
	assert_int_equal(json_array_size(ev), 2);
	/* Newest first. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "verdict")),
			    "genuine");
	json_decref(o);
	o = history_events_json(h, NULL, 10);
	assert_int_equal(json_array_size(json_object_get(o, "events")), 2);
	json_decref(o);
	history_free(h);
}

static void bounded_and_stale_hosts_make_room(void **state)
{
	struct history_config cfg = { .span_ms = 60000, .max_hosts = 64, .max_events = 16 };
	struct history *h = history_new(&cfg);
	struct history_metrics m;
	json_t *o;

	(void)state;
	assert_true(history_memory_bound(&cfg) < (4u << 20));
	prefix_set_default(&test_local);
	for (uint32_t i = 0; i < 100000; i++) {
		struct flow_record r =
			tcp4_flow(IP4(10, 1, 0, 0) + i, IP4(192, 0, 2, 1), 1000, 80, 100, T0);

		add_flow(h, &r);
	}
	history_metrics(h, &m);
	assert_int_equal(m.hosts, 64);
	assert_int_equal(m.hosts_dropped, 100000 - 64);
	/* Two spans later the old hosts are stale and make room. */
	{
		struct flow_record r =
			tcp4_flow(IP4(10, 9, 9, 9), IP4(192, 0, 2, 1), 1000, 80, 100, T0 + 120000);

		add_flow(h, &r);
	}
	o = history_host_json(h, "10.9.9.9");
	assert_true(json_is_true(json_object_get(o, "known")));
	json_decref(o);
	history_metrics(h, &m);
	assert_int_equal(m.hosts, 1);
	history_free(h);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A full history: every host slot used, every bucket filled. The top
 * lists hold 20, ordered; the time a view takes is printed (not
 * asserted: the machine is shared). */
static void full_history_views(void **state)
{
	struct prefix_set local;
	struct history_config cfg = { .span_ms = 3600 * 1000ull, .local = &local };
	struct history *h;
	struct timespec t0;
	json_t *o, *top;
	double ms;

	(void)state;
	assert_int_equal(prefix_set_parse(&local, "10.0.0.0/16", "--local"), 0);
	test_local = local;
	h = history_new(&cfg);
	assert_non_null(h);
	for (int b = 0; b < HISTORY_BUCKETS; b++)
		for (uint32_t i = 0; i < HISTORY_DEFAULT_HOSTS; i++) {
			struct flow_record r = tcp4_flow(IP4(10, 0, 0, 0) + i, IP4(45, 0, 0, 1) + b,
							 1000, 80, 100 + i, T0 + b * 60000ull);

			add_flow(h, &r);
		}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	o = history_hosts_json(h, 20);
	ms = ms_since(&t0);
	assert_int_equal(int_at(o, "hosts"), HISTORY_DEFAULT_HOSTS);
	top = json_object_get(o, "by_bytes");
	assert_int_equal(json_array_size(top), 20);
	assert_true(int_at(json_array_get(top, 0), "bytes") >=
		    int_at(json_array_get(top, 19), "bytes"));
	printf("# /api/hosts over %d hosts x %d buckets: %.1f ms\n", HISTORY_DEFAULT_HOSTS,
	       HISTORY_BUCKETS, ms);
	json_decref(o);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	o = history_host_json(h, "10.0.0.7");
	printf("# /api/hosts/IP: %.2f ms\n", ms_since(&t0));
	assert_int_equal(json_array_size(json_object_get(o, "series")), HISTORY_BUCKETS);
	json_decref(o);
	history_free(h);
}

static void api_routes(void **state)
{
	struct history *h = new_history(0, 0);
	struct http_reply r;

	(void)state;
	feed_swarm(h, T0);
	http_api_get(h, "/api/hosts/10.0.1.2", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"known\":true"));
	free(r.body);
	http_api_get(h, "/api/hosts/10.0.1.", NULL, &r);
	assert_int_equal(r.status, 400);
	free(r.body);
	http_api_get(h, "/api/unknown", NULL, &r);
	assert_int_equal(r.status, 404);
	free(r.body);
	assert_true(http_api_handles("/metrics"));
	assert_false(http_api_handles("/index.html"));
	history_free(h);
}

static void metrics_every_counter(void **state)
{
	struct history *h = new_history(0, 0);
	struct history_metrics m;
	struct daemon_stats ds = {};
	__u64 counters[CNT__MAX] = {};
	const char *curve = "{\"type\":\"curve\",\"interface\":\"eth0\","
			    "\"utilisation\":0.5,\"active_flows\":12}";
	char *buf = NULL, name[160];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	counters[CNT_PACKETS] = 1234;
	ds.v[DS_resets_decided] = 10;
	ds.v[DS_resets_forged] = 3;
	ds.v[DS_resets_suspect] = 2;
	ds.v[DS_table_slots] = 1000;
	ds.v[DS_table_entries_last_drain] = 250;
	ds.v[DS_drain_time_max] = 1234; /* microseconds */
	history_set_iface(h, 2, "eth0");
	history_set_counters(h, counters, &ds, T0);
	history_set_iface_traffic(h, 2, 777, 88888);
	history_set_collectors(h,
			       (struct history_collector[]){ { "192.0.2.10:2055", 40, 0, 0 },
							     { "[2001:db8::5]:2055", 38, 2, 1 } },
			       2);
	history_add_event_line(h, curve, strlen(curve), T0);
	history_metrics(h, &m);
	assert_int_equal(metrics_write(f, &m), 0);
	fclose(f);
#define CHECK_COUNTER(id, cname, text)                                              \
	snprintf(name, sizeof(name), "# TYPE flowprobe_%s_total counter\n", cname); \
	assert_non_null(strstr(buf, name));
	FLOWPROBE_COUNTERS(CHECK_COUNTER)
#undef CHECK_COUNTER
#define CHECK_DS(dname, type, unit, text)                                                  \
	snprintf(name, sizeof(name), "# HELP flowprobe_daemon_%s%s", #dname,               \
		 DAEMON_STAT_SUFFIX(unit));                                                \
	assert_non_null(strstr(buf, name));                                                \
	snprintf(name, sizeof(name), "# TYPE flowprobe_daemon_%s%s%s " #type "\n", #dname, \
		 DAEMON_STAT_SUFFIX(unit), strcmp(#type, "counter") ? "" : "_total");      \
	assert_non_null(strstr(buf, name));
	DAEMON_STATS(CHECK_DS)
#undef CHECK_DS
	assert_non_null(strstr(buf, "\nflowprobe_packets_total 1234\n"));
	assert_non_null(strstr(buf, "flowprobe_resets_total{verdict=\"forged\"} 3\n"));
	assert_non_null(strstr(buf, "flowprobe_resets_total{verdict=\"genuine\"} 5\n"));
	assert_non_null(strstr(buf, "flowprobe_table_fill_ratio 0.25\n"));
	assert_non_null(strstr(buf, "flowprobe_daemon_table_slots 1000\n"));
	assert_non_null(strstr(buf, "flowprobe_utilisation_ratio{interface=\"eth0\"} 0.5\n"));
	assert_non_null(strstr(buf, "flowprobe_active_flows{interface=\"eth0\"} 12\n"));
	assert_non_null(strstr(buf, "flowprobe_interface_packets_total{interface=\"eth0\"} 777\n"));
	assert_non_null(strstr(buf, "flowprobe_interface_bytes_total{interface=\"eth0\"} 88888\n"));
	assert_non_null(strstr(buf, "flowprobe_collector_errors_total"
				    "{collector=\"[2001:db8::5]:2055\"} 2\n"));
	assert_non_null(strstr(buf, "flowprobe_collector_packets_sent_total"
				    "{collector=\"192.0.2.10:2055\"} 40\n"));
	assert_non_null(strstr(buf, "\nflowprobe_daemon_drain_time_max_seconds 0.001234\n"));
	assert_non_null(strstr(buf, "\nflowprobe_build_info{version=\""));
	free(buf);
	history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tops_and_peer_estimate),
		cmocka_unit_test(host_page_and_remote),
		cmocka_unit_test(resets_by_verdict),
		cmocka_unit_test(bounded_and_stale_hosts_make_room),
		cmocka_unit_test(full_history_views),
		cmocka_unit_test(api_routes),
		cmocka_unit_test(metrics_every_counter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
