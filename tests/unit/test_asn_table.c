/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prefix-to-AS table: both line formats, multi-origin and AS-set origins,
 * longest-prefix match at and around nested prefix boundaries (the
 * flattening into ranges is where an off-by-one would hide), IPv4 and
 * IPv6 kept apart, a prefix listed twice, errors naming file and line,
 * SRC_AS/DST_AS of a flow record, and a million-prefix load timed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "detect/asn_table.h"
#include "lib/log.h"

static struct asn_table *load_text(const char *text, int want_rc, char *err, size_t errlen)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	FILE *cap = tmpfile();
	struct asn_table *t = NULL;
	int saved, rc;
	size_t n;

	assert_non_null(in);
	assert_non_null(cap);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(cap), STDERR_FILENO);
	rc = asn_table_load_stream(&t, in, "pfx.txt");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(cap);
	n = fread(err, 1, errlen - 1, cap);
	err[n] = '\0';
	fclose(cap);
	fclose(in);
	assert_int_equal(rc, want_rc);
	if (rc == 0)
		assert_non_null(t);
	else
		assert_null(t);
	return t;
}

static uint32_t lookup(const struct asn_table *t, const char *text)
{
	uint8_t addr[16] = { 0 };

	if (inet_pton(AF_INET, text, addr) == 1)
		return asn_table_lookup(t, 4, addr);
	assert_int_equal(inet_pton(AF_INET6, text, addr), 1);
	return asn_table_lookup(t, 6, addr);
}

static const char nested[] = "# a comment, then a blank line\n"
			     "\n"
			     "10.0.0.0\t8\t100\n"
			     "10.1.0.0\t16\t101\n"
			     "10.1.2.0\t24\t102\n"
			     "10.1.2.128\t25\t103\n"
			     "10.0.0.0\t16\t104\n" /* starts where its container starts */
			     "10.255.255.0/24 105\n" /* ends where its container ends */
			     "192.0.2.0/24\t64500_64501\n" /* multi-origin: the first */
			     "198.51.100.0 24 64502,64503\n" /* AS set: the first */
			     "0.0.0.0/0 1\n" /* a default route under everything */
			     "255.255.255.255/32 4294967295\n"
			     "2001:db8::\t32\t200\n"
			     "2001:db8:1::\t48\t201\n"
			     "::/0 2\n";

static void test_nested_longest_match(void **state __attribute__((unused)))
{
	static const struct {
		const char *addr;
		uint32_t asn;
	} cases[] = {
		{ "9.255.255.255", 1 },
		{ "10.0.0.0", 104 },
		{ "10.0.255.255", 104 },
		{ "10.1.0.0", 101 }, /* back to the /8 after the /16 ... */
		{ "10.0.0.1", 104 },
		{ "10.2.0.0", 100 }, /* ... and after the /16 ends */
		{ "10.1.1.255", 101 },
		{ "10.1.2.0", 102 },
		{ "10.1.2.127", 102 },
		{ "10.1.2.128", 103 },
		{ "10.1.2.255", 103 },
		{ "10.1.3.0", 101 }, /* /25 and /24 end together */
		{ "10.1.255.255", 101 },
		{ "10.255.254.255", 100 },
		{ "10.255.255.0", 105 },
		{ "10.255.255.255", 105 },
		{ "11.0.0.0", 1 }, /* /24 and /8 end together */
		{ "192.0.2.77", 64500 },
		{ "198.51.100.1", 64502 },
		{ "255.255.255.254", 1 },
		{ "255.255.255.255", 4294967295u },
		{ "2001:db8::1", 200 },
		{ "2001:db8:1::1", 201 },
		{ "2001:db8:1:ffff:ffff:ffff:ffff:ffff", 201 },
		{ "2001:db8:2::", 200 },
		{ "2001:db9::", 2 },
		{ "::", 2 },
	};
	char err[512];
	struct asn_table *t = load_text(nested, 0, err, sizeof(err));

	assert_int_equal(asn_table_prefixes(t), 13);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t got = lookup(t, cases[i].addr);

		if (got != cases[i].asn)
			fail_msg("%s: AS%u, want AS%u", cases[i].addr, got, cases[i].asn);
	}
	asn_table_free(t);
}

/* Without default routes: unknown is 0, and the families never mix. */
static void test_unknown_and_families_apart(void **state __attribute__((unused)))
{
	char err[512];
	struct asn_table *t = load_text("10.0.0.0\t8\t100\n"
					"a00::\t8\t300\n",
					0, err, sizeof(err));
	uint8_t v4[16] = { 10, 0, 0, 1 }; /* same bytes as 0a00::... */

	assert_int_equal(lookup(t, "9.255.255.255"), 0);
	assert_int_equal(lookup(t, "11.0.0.0"), 0);
	assert_int_equal(asn_table_lookup(t, 4, v4), 100);
	assert_int_equal(asn_table_lookup(t, 6, v4), 300);
	assert_int_equal(lookup(t, "::ffff:10.0.0.1"), 0);
	assert_int_equal(asn_table_lookup(t, 5, v4), 0);
	assert_int_equal(asn_table_lookup(NULL, 4, v4), 0);
	asn_table_free(t);
}

/* Host bits are cleared; a prefix listed twice keeps the last origin. */
static void test_host_bits_and_duplicates(void **state __attribute__((unused)))
{
	char err[512];
	struct asn_table *t = load_text("10.1.2.3/16 7\n"
					"10.1.0.0\t16\t8\n"
					"10.1.128.0/17 9\n",
					0, err, sizeof(err));

	assert_int_equal(lookup(t, "10.1.0.0"), 8);
	assert_int_equal(lookup(t, "10.1.127.255"), 8);
	assert_int_equal(lookup(t, "10.1.128.0"), 9);
	assert_int_equal(lookup(t, "10.2.0.0"), 0);
	asn_table_free(t);
}

static void test_errors_name_file_and_line(void **state __attribute__((unused)))
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "10.0.0.0\t8\t1\n10.0.0.0\t8\n",
		  "pfx.txt line 2: expected \"PREFIX<TAB>LENGTH<TAB>ASN\" or "
		  "\"PREFIX/LENGTH ASN\", found 2 fields" },
		{ "10.0.0.0/8\t8\t1\n", "pfx.txt line 1: expected" },
		{ "\n\n10.0.0.256\t8\t1\n",
		  "pfx.txt line 3: \"10.0.0.256\" is not an IPv4 or IPv6 address" },
		{ "10.0.0.0\t33\t1\n",
		  "pfx.txt line 1: prefix length \"33\" is not a number from 0 to 32" },
		{ "2001:db8::/129 1\n",
		  "pfx.txt line 1: prefix length \"129\" is not a number from 0 to 128" },
		{ "10.0.0.0/-1 1\n", "prefix length \"-1\"" },
		{ "10.0.0.0\t8\tAS64500\n", "pfx.txt line 1: \"AS64500\" is not an AS number" },
		{ "10.0.0.0\t8\t4294967296\n", "\"4294967296\" is not an AS number" },
		{ "10.0.0.0\t8\t1_\n", "\"1_\" is not an AS number" },
		{ "10.0.0.0\t8\t1_2,3\n", "\"1_2,3\" is not an AS number" },
		{ "10.0.0.0\t8\t-1\n", "\"-1\" is not an AS number" },
		{ "10.0.0.0\t8\t1 2 3\n", "found 5 fields" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_text(cases[i].text, -EINVAL, err, sizeof(err));
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
		/* one line */
		assert_non_null(strchr(err, '\n'));
		assert_null(strchr(strchr(err, '\n') + 1, '\n'));
	}
}

static void test_missing_file(void **state __attribute__((unused)))
{
	struct asn_table *t = (void *)1;

	assert_int_equal(asn_table_load(&t, "/nonexistent/pfx2as.txt"), -EINVAL);
	assert_null(t);
}

static void test_annotate_record(void **state __attribute__((unused)))
{
	char err[512];
	struct asn_table *t =
		load_text("192.0.2.0/24 64500\n198.51.100.0/24 64501\n", 0, err, sizeof(err));
	struct flow_record r = {
		.key = { .ip_version = 4, .src = { 192, 0, 2, 9 }, .dst = { 198, 51, 100, 7 } },
	};

	asn_table_annotate(t, &r);
	assert_int_equal(r.src_as, 64500);
	assert_int_equal(r.dst_as, 64501);
	r.key.dst[0] = 203;
	asn_table_annotate(t, &r);
	assert_int_equal(r.dst_as, 0);
	asn_table_annotate(NULL, &r);
	assert_int_equal(r.src_as, 0);
	asn_table_free(t);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A routing-table-sized file: one million IPv4 prefixes (/16s with /24s
 * inside, a /20 around some) and a hundred thousand IPv6. Load time and
 * lookup rate are printed; the bounds are loose (shared, noisy machines)
 * but catch a quadratic load or a linear lookup.
 */
static void test_million_prefixes(void **state __attribute__((unused)))
{
	char path[] = "/tmp/test_asn_tableXXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct asn_table *t;
	double t0, load_s, lookup_s;
	uint32_t sum = 0;
	const int lookups = 2000000;

	assert_non_null(f);
	for (uint32_t i = 0; i < 1000000; i++) {
		uint32_t a = (i / 250) << 16 | (i % 250) << 8; /* x.y.z.0 */

		if (i % 250 == 0)
			fprintf(f, "%u.%u.0.0\t16\t%u\n", a >> 24, (a >> 16) & 255, i / 250 + 1);
		else
			fprintf(f, "%u.%u.%u.0\t24\t%u_%u\n", a >> 24, (a >> 16) & 255,
				(a >> 8) & 255, 100000 + i, 7);
	}
	for (uint32_t i = 0; i < 100000; i++)
		fprintf(f, "2001:%x:%x::\t48\t%u\n", i >> 16, i & 0xffff, 200000 + i);
	fclose(f);

	t0 = now_s();
	assert_int_equal(asn_table_load(&t, path), 0);
	load_s = now_s() - t0;
	unlink(path);
	assert_int_equal(asn_table_prefixes(t), 1100000);
	assert_int_equal(lookup(t, "0.0.0.1"), 1);
	assert_int_equal(lookup(t, "0.0.1.1"), 100001);
	assert_int_equal(lookup(t, "0.0.250.1"), 1); /* in the /16 only */
	assert_int_equal(lookup(t, "2001:0:5::1"), 200005);

	t0 = now_s();
	for (int i = 0; i < lookups; i++) {
		uint32_t x = (uint32_t)i * 2654435761u;
		uint8_t addr[16] = { x >> 24 & 0x3f, x >> 16, x >> 8, x };

		sum += asn_table_lookup(t, 4, addr);
	}
	lookup_s = now_s() - t0;
	printf("# asn_table: 1.1M prefixes loaded in %.2f s; %.0f ns per IPv4 "
	       "lookup (%.1f M lookups/s, checksum %u)\n",
	       load_s, lookup_s / lookups * 1e9, lookups / lookup_s / 1e6, sum);
	assert_true(load_s < 10.0);
	assert_true(lookup_s / lookups < 2e-6);
	asn_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_longest_match),
		cmocka_unit_test(test_unknown_and_families_apart),
		cmocka_unit_test(test_host_bits_and_duplicates),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_annotate_record),
		cmocka_unit_test(test_million_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
