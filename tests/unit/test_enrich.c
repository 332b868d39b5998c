/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pipeline's enrich stage (daemon/enrich.h), table-driven: which ends
 * are local (src, dst, both, neither; IPv4 and IPv6, versions kept
 * apart), the longest local prefix of each end, the origin ASes on the
 * record and the remote one in the class (with and without an AS table),
 * the application, and each end's host hash.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "daemon/enrich.h"
#include "lib/log.h"

#define LOCAL "10.0.0.0/8,10.1.0.0/16,2001:db8::/32"
#define TABLE                     \
	"192.0.2.0/24 64500\n"    \
	"198.51.100.0/24 64502\n" \
	"10.0.0.0/8 64999\n"      \
	"2001:db8::/32 64501\n"   \
	"2a00::/16 64503\n"

struct row {
	const char *name;
	const char *src, *dst;
	uint8_t app;
	uint8_t local; /* enum flow_local */
	int16_t prefix[2];
	uint32_t src_as, dst_as; /* with the table */
	uint32_t remote_as; /* with the table */
};

static const struct row rows[] = {
	{ "local src, longest prefix",
	  "10.1.2.3",
	  "192.0.2.1",
	  APP_UNKNOWN,
	  FLOW_LOCAL_SRC,
	  { 1, -1 },
	  64999,
	  64500,
	  64500 },
	{ "local dst",
	  "198.51.100.7",
	  "10.9.9.9",
	  APP_BITTORRENT,
	  FLOW_LOCAL_DST,
	  { -1, 0 },
	  64502,
	  64999,
	  64502 },
	{ "both local",
	  "10.0.0.1",
	  "10.1.0.1",
	  APP_UNKNOWN,
	  FLOW_LOCAL_BOTH,
	  { 0, 1 },
	  64999,
	  64999,
	  0 },
	{ "neither local",
	  "192.0.2.1",
	  "198.51.100.1",
	  APP_BITTORRENT,
	  FLOW_LOCAL_NEITHER,
	  { -1, -1 },
	  64500,
	  64502,
	  0 },
	{ "neither, no AS either",
	  "203.0.113.1",
	  "203.0.113.2",
	  APP_UNKNOWN,
	  FLOW_LOCAL_NEITHER,
	  { -1, -1 },
	  0,
	  0,
	  0 },
	{ "IPv6 local src",
	  "2001:db8::5",
	  "2a00::1",
	  APP_BITTORRENT,
	  FLOW_LOCAL_SRC,
	  { 2, -1 },
	  64501,
	  64503,
	  64503 },
	{ "IPv6 local dst, remote AS unknown",
	  "2600::1",
	  "2001:db8:1::9",
	  APP_UNKNOWN,
	  FLOW_LOCAL_DST,
	  { -1, 2 },
	  0,
	  64501,
	  0 },
	{ "IPv6 both",
	  "2001:db8::1",
	  "2001:db8::2",
	  APP_UNKNOWN,
	  FLOW_LOCAL_BOTH,
	  { 2, 2 },
	  64501,
	  64501,
	  0 },
	/* 10.0.0.1 mapped into IPv6: an IPv4 prefix does not match it */
	{ "IPv4-mapped is not local",
	  "::ffff:10.0.0.1",
	  "2a00::1",
	  APP_UNKNOWN,
	  FLOW_LOCAL_NEITHER,
	  { -1, -1 },
	  0,
	  64503,
	  0 },
	/* 32.1.13.184 has the bytes of 2001:db8::, but is IPv4 */
	{ "IPv4 with an IPv6 prefix's bytes",
	  "32.1.13.184",
	  "192.0.2.9",
	  APP_UNKNOWN,
	  FLOW_LOCAL_NEITHER,
	  { -1, -1 },
	  0,
	  64500,
	  0 },
};

static uint8_t put_addr(uint8_t addr[16], const char *text)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		return 4;
	assert_int_equal(inet_pton(AF_INET6, text, addr), 1);
	return 6;
}

static struct flow_record record_of(const struct row *r)
{
	struct flow_record rec = { .packets = 1, .bytes = 60, .app = r->app };
	uint8_t v = put_addr(rec.key.src, r->src);

	assert_int_equal(put_addr(rec.key.dst, r->dst), v);
	rec.key.ip_version = v;
	rec.key.proto = 6;
	rec.key.sport = 40000;
	rec.key.dport = 443;
	return rec;
}

static struct asn_table *load_table(void)
{
	FILE *in = fmemopen((void *)TABLE, strlen(TABLE), "r");
	struct asn_table *t = NULL;

	assert_non_null(in);
	assert_int_equal(asn_table_load_stream(&t, in, "table"), 0);
	fclose(in);
	assert_non_null(t);
	return t;
}

static void check_rows(bool with_table)
{
	struct prefix_set local;
	struct asn_table *t = with_table ? load_table() : NULL;
	struct enrich_config cfg = { .local = &local, .asn = t };

	assert_int_equal(prefix_set_parse(&local, LOCAL, "--local"), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct flow_record rec = record_of(r);
		struct flow_record before = rec;
		struct flow_class fc;

		memset(&fc, 0xa5, sizeof(fc));
		enrich_flow(&cfg, &rec, &fc);
		print_message("%s %s\n", r->name, with_table ? "(AS table)" : "");
		assert_int_equal(fc.local, r->local);
		assert_int_equal(fc.prefix[FLOW_END_SRC], r->prefix[0]);
		assert_int_equal(fc.prefix[FLOW_END_DST], r->prefix[1]);
		assert_int_equal(fc.bittorrent, r->app == APP_BITTORRENT);
		assert_true(fc.hash[FLOW_END_SRC] ==
			    flow_addr_hash(rec.key.ip_version, rec.key.src));
		assert_true(fc.hash[FLOW_END_DST] ==
			    flow_addr_hash(rec.key.ip_version, rec.key.dst));
		/* the local set's own answer agrees */
		assert_int_equal(!!(fc.local & FLOW_LOCAL_SRC),
				 prefix_set_match(&local, rec.key.ip_version, rec.key.src));
		assert_int_equal(!!(fc.local & FLOW_LOCAL_DST),
				 prefix_set_match(&local, rec.key.ip_version, rec.key.dst));
		assert_int_equal(rec.src_as, with_table ? r->src_as : 0);
		assert_int_equal(rec.dst_as, with_table ? r->dst_as : 0);
		assert_int_equal(fc.remote_as, with_table ? r->remote_as : 0);
		/* nothing else on the record changes */
		rec.src_as = before.src_as;
		rec.dst_as = before.dst_as;
		assert_memory_equal(&rec, &before, sizeof(rec));
	}
	asn_table_free(t);
}

static void test_with_table(void **state)
{
	(void)state;
	check_rows(true);
}

static void test_without_table(void **state)
{
	(void)state;
	check_rows(false);
}

/* No local set: every record is "neither" (the interval counters' total-only
 * configuration). */
static void test_no_local_set(void **state)
{
	struct enrich_config cfg = { 0 };
	struct flow_record rec = record_of(&rows[2]);
	struct flow_class fc;

	(void)state;
	enrich_flow(&cfg, &rec, &fc);
	assert_int_equal(fc.local, FLOW_LOCAL_NEITHER);
	assert_int_equal(fc.prefix[0], -1);
	assert_int_equal(fc.prefix[1], -1);
	assert_int_equal(fc.remote_as, 0);
}

/* Same host, same hash; the version is part of it. */
static void test_hash_is_the_host(void **state)
{
	uint8_t a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 0, 0, 1 };

	(void)state;
	assert_true(flow_addr_hash(4, a) == flow_addr_hash(4, b));
	assert_true(flow_addr_hash(4, a) != flow_addr_hash(6, a));
	b[3] = 2;
	assert_true(flow_addr_hash(4, a) != flow_addr_hash(4, b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_with_table),
		cmocka_unit_test(test_without_table),
		cmocka_unit_test(test_no_local_set),
		cmocka_unit_test(test_hash_is_the_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
