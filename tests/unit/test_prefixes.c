/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prefix sets (`--local`): parsing of IPv4 and IPv6 lists, matching at
 * and around prefix boundaries, the default private ranges, rejection of
 * bad elements with a message that names them, and versions kept apart
 * (an IPv4 prefix never matches an IPv6 address with the same leading
 * bytes or an IPv4-mapped one, and the reverse).
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
#include "lib/log.h"
#include "detect/prefixes.h"

/* Matches a textual address (IPv4 or IPv6, in the flow key layout). */
static bool match(const struct prefix_set *set, const char *text)
{
	uint8_t addr[16] = { 0 };

	if (inet_pton(AF_INET, text, addr) == 1)
		return prefix_set_match(set, 4, addr);
	assert_int_equal(inet_pton(AF_INET6, text, addr), 1);
	return prefix_set_match(set, 6, addr);
}

/* stderr into a file between the two calls, then into err. */
static FILE *captured;
static int saved_stderr;

static void capture_begin(void)
{
	captured = tmpfile();
	assert_non_null(captured);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(captured), STDERR_FILENO) >= 0);
}

static void capture_end(char *err, size_t len)
{
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(captured);
	n = fread(err, 1, len - 1, captured);
	err[n] = '\0';
	fclose(captured);
}

/* Parses list with stderr captured into err; returns the result. */
static int parse_capture(struct prefix_set *set, const char *list, char *err, size_t len)
{
	int rc;

	capture_begin();
	rc = prefix_set_parse(set, list, "--local");
	capture_end(err, len);
	return rc;
}

static void test_parse_and_match(void **state)
{
	struct prefix_set set;

	(void)state;
	assert_int_equal(prefix_set_parse(&set, "10.0.0.0/8,2001:db8::/32", "--local"), 0);
	assert_int_equal(set.n, 2);
	assert_true(match(&set, "10.0.0.0"));
	assert_true(match(&set, "10.255.255.255"));
	assert_true(match(&set, "2001:db8::1"));
	assert_true(match(&set, "2001:db8:ffff:ffff::1"));
	assert_false(match(&set, "11.0.0.0"));
	assert_false(match(&set, "9.255.255.255"));
	assert_false(match(&set, "2001:db9::1"));
	assert_false(match(&set, "2001:db7:ffff::1"));
}

static void test_boundaries_not_on_bytes(void **state)
{
	struct prefix_set set;

	(void)state;
	assert_int_equal(prefix_set_parse(&set, "172.16.0.0/12,2001:db8:8000::/33", "x"), 0);
	assert_true(match(&set, "172.16.0.0"));
	assert_true(match(&set, "172.31.255.255"));
	assert_false(match(&set, "172.32.0.0"));
	assert_false(match(&set, "172.15.255.255"));
	assert_true(match(&set, "2001:db8:8000::1"));
	assert_true(match(&set, "2001:db8:ffff::1"));
	assert_false(match(&set, "2001:db8:7fff::1"));
}

static void test_bare_address_and_host_bits(void **state)
{
	struct prefix_set set;
	char text[128];

	(void)state;
	assert_int_equal(prefix_set_parse(&set,
					  "192.0.2.1,2001:db8::1, 10.1.2.3/8 ,"
					  "172.31.1.1/12,2001:db8:abcd::/36",
					  "x"),
			 0);
	assert_int_equal(set.p[0].len, 32);
	assert_int_equal(set.p[1].len, 128);
	assert_true(match(&set, "192.0.2.1"));
	assert_false(match(&set, "192.0.2.2"));
	assert_true(match(&set, "2001:db8::1"));
	assert_false(match(&set, "2001:db8::2"));
	/* Host bits cleared: 10.1.2.3/8 means 10.0.0.0/8. */
	assert_true(match(&set, "10.200.0.1"));
	prefix_set_format(&set, text, sizeof(text));
	assert_string_equal(text, "192.0.2.1/32,2001:db8::1/128,10.0.0.0/8,"
				  "172.16.0.0/12,2001:db8:a000::/36");
}

static void test_zero_length(void **state)
{
	struct prefix_set set;

	(void)state;
	assert_int_equal(prefix_set_parse(&set, "0.0.0.0/0", "x"), 0);
	assert_true(match(&set, "8.8.8.8"));
	assert_true(match(&set, "255.255.255.255"));
	assert_false(match(&set, "2001:db8::1"));
}

static void test_default_ranges(void **state)
{
	struct prefix_set set;
	char text[256];

	(void)state;
	prefix_set_default(&set);
	assert_int_equal(set.n, 5);
	assert_true(match(&set, "10.1.2.3"));
	assert_true(match(&set, "172.20.0.1"));
	assert_true(match(&set, "192.168.1.10"));
	assert_true(match(&set, "100.64.0.1"));
	assert_true(match(&set, "100.127.255.255"));
	assert_true(match(&set, "fd12:3456::1"));
	assert_true(match(&set, "fc00::1"));
	assert_false(match(&set, "100.128.0.0"));
	assert_false(match(&set, "100.63.255.255"));
	assert_false(match(&set, "8.8.8.8"));
	assert_false(match(&set, "172.32.0.1"));
	assert_false(match(&set, "fe80::1"));
	assert_false(match(&set, "2001:db8::1"));
	prefix_set_format(&set, text, sizeof(text));
	assert_string_equal(text, PREFIX_SET_DEFAULT);
}

static void test_bad_input(void **state)
{
	static const struct {
		const char *list;
		const char *named; /* what the message must quote */
	} bad[] = {
		{ "10.0.0.0/33", "\"10.0.0.0/33\"" },
		{ "10.0.0.0/", "\"10.0.0.0/\"" },
		{ "abc", "\"abc\"" },
		{ "10.0.0.0/8,,fc00::/7", "element 2" },
		{ "10.0.0.0/8,", "element 2" },
		{ "", "no prefix given" },
		{ " ", "no prefix given" },
		{ ",", "element 1" },
		{ "2001:db8::/129", "\"2001:db8::/129\"" },
		{ "10.0.0.0/-1", "\"10.0.0.0/-1\"" },
		{ "10.0.0.0/8x", "\"10.0.0.0/8x\"" },
		{ "10.0.0.0/8/8", "\"10.0.0.0/8/8\"" },
		{ "10.0.0/8", "\"10.0.0/8\"" },
		{ "fc00::/7,300.1.1.1", "\"300.1.1.1\"" },
		{ "10.0.0.0/0008", "\"10.0.0.0/0008\"" },
	};
	struct prefix_set set, before;
	char err[512];

	(void)state;
	prefix_set_default(&set);
	before = set;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_capture(&set, bad[i].list, err, sizeof(err));

		if (rc != -EINVAL || !strstr(err, bad[i].named) || !strstr(err, "--local") ||
		    strchr(err, '\n') != strrchr(err, '\n'))
			fail_msg("\"%s\": rc %d, message \"%s\"", bad[i].list, rc, err);
		/* A failed parse leaves the set as it was. */
		assert_memory_equal(&set, &before, sizeof(set));
	}
}

static void test_too_many(void **state)
{
	static char list[PREFIX_SET_MAX * 20 + 32];
	static struct prefix_set set;
	char err[256];
	size_t used = 0;

	(void)state;
	for (int i = 0; i <= PREFIX_SET_MAX; i++)
		used += snprintf(list + used, sizeof(list) - used, "%s10.%d.%d.0/24", i ? "," : "",
				 i >> 8, i & 255);
	assert_int_equal(parse_capture(&set, list, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	/* Exactly the maximum is fine. */
	*strrchr(list, ',') = '\0';
	assert_int_equal(prefix_set_parse(&set, list, "x"), 0);
	assert_int_equal(set.n, PREFIX_SET_MAX);
}

/* Same leading bytes, different versions: never the same host. */
/* The same answers as a plain scan of every prefix, longest wins. */
static int find_by_scan(const struct prefix_set *set, uint8_t v, const uint8_t a[16])
{
	int best = -1;

	for (size_t i = 0; i < set->n; i++) {
		const struct prefix *p = &set->p[i];
		unsigned int full = p->len / 8, rest = p->len % 8;

		if (p->ip_version != v || memcmp(p->addr, a, full) ||
		    (rest && ((a[full] ^ p->addr[full]) & (0xff << (8 - rest)))))
			continue;
		if (best < 0 || p->len > set->p[best].len)
			best = (int)i;
	}
	return best;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* 10,000 customer prefixes from a file (/24s, /22s, /16s, IPv6 /48s and
 * /56s, overlapping): every lookup agrees with a scan, and costs little. */
static void test_ten_thousand_from_file(void **state)
{
	static struct prefix_set set;
	char path[] = "/tmp/flowprobe-prefixes-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	uint64_t seed = 42, t0, t_index = 0, t_scan = 0;
	int disagree = 0, found = 0;
	const int lookups = 50000;
	volatile int sink = 0;

	(void)state;
	assert_non_null(f);
	fprintf(f, "# customers\n\n");
	for (int i = 0; i < 10000; i++) {
		switch (i % 5) {
		case 0:
			fprintf(f, "10.%d.%d.0/24\n", (i >> 8) & 255, i & 255);
			break;
		case 1:
			fprintf(f, "100.%d.%d.0/22  # a comment\n", (i >> 6) & 63, (i & 63) << 2);
			break;
		case 2:
			fprintf(f, "172.%d.0.0/16\n", 16 + i % 16);
			break;
		case 3:
			fprintf(f, "2001:db8:%x::/48\n", i);
			break;
		default:
			fprintf(f, "2001:db8:%x:%x00::/56\n", i % 97, i & 255);
			break;
		}
	}
	fclose(f);
	memset(&set, 0, sizeof(set));
	assert_int_equal(prefix_set_parse_file(&set, path, "--local-file"), 0);
	unlink(path);
	assert_int_equal(set.n, 10000);

	/* 0: timed lookups with the index; 1: timed scans; 2: both, compared. */
	for (int pass = 0; pass < 3; pass++) {
		seed = 42;
		t0 = now_ns();
		for (int i = 0; i < lookups; i++) {
			uint8_t a[16], v;
			const struct prefix *p;

			/* A host inside a listed prefix, or (odd draws) one moved
			 * away from it, which may or may not be inside another. */
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			p = &set.p[(seed >> 33) % set.n];
			memcpy(a, p->addr, 16);
			v = p->ip_version;
			a[v == 4 ? 3 : 15] ^= (uint8_t)(seed >> 8);
			if (seed & (1ull << 40))
				a[1] ^= (uint8_t)(seed >> 16) | 1;
			if (pass == 0) {
				int got = prefix_set_find(&set, v, a);

				found += got >= 0;
				sink += got;
			} else if (pass == 2) {
				int got = prefix_set_find(&set, v, a),
				    want = find_by_scan(&set, v, a);

				/* Equal prefixes listed twice may give either index. */
				if (got != want &&
				    (got < 0 || want < 0 || set.p[got].len != set.p[want].len))
					disagree++;
			} else {
				sink += find_by_scan(&set, v, a);
			}
		}
		if (pass == 0)
			t_index = now_ns() - t0;
		else if (pass == 1)
			t_scan = now_ns() - t0;
	}
	(void)sink;
	assert_int_equal(disagree, 0);
	assert_true(found > lookups / 10);
	print_message("# 10,000 prefixes: %.0f ns a lookup with the index, %.0f ns "
		      "scanning them all (%d of %d addresses matched)\n",
		      (double)t_index / lookups, (double)t_scan / lookups, found, lookups);
	/* Generous against noise; the scan is about 100 times slower. */
	assert_true(t_index * 10 < t_scan);
}

static void test_file_errors(void **state)
{
	static struct prefix_set set;
	char path[] = "/tmp/flowprobe-prefixes-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	fprintf(f, "10.0.0.0/8\n# fine\n10.1.0.0/33\n");
	fclose(f);
	prefix_set_default(&set);
	capture_begin();
	assert_int_equal(prefix_set_parse_file(&set, path, "--local-file"), -EINVAL);
	capture_end(err, sizeof(err));
	assert_non_null(strstr(err, ":3"));
	assert_non_null(strstr(err, "10.1.0.0/33"));
	/* Left as it was. */
	assert_true(prefix_set_match(&set, 4, (const uint8_t[16]){ 192, 168, 1, 1 }));
	assert_false(prefix_set_match(&set, 4, (const uint8_t[16]){ 8, 8, 8, 8 }));
	unlink(path);
	assert_int_equal(prefix_set_parse_file(&set, "/nonexistent/x", "--local-file"), -EINVAL);
}

static void test_versions_not_confused(void **state)
{
	struct prefix_set v4, v6, mapped;

	(void)state;
	assert_int_equal(prefix_set_parse(&v4, "10.0.0.0/8", "x"), 0);
	assert_int_equal(prefix_set_parse(&v6, "a00::/8", "x"), 0);
	assert_int_equal(prefix_set_parse(&mapped, "::ffff:10.0.0.0/104", "x"), 0);
	assert_int_equal(v6.p[0].ip_version, 6);
	assert_int_equal(mapped.p[0].ip_version, 6);

	/* IPv4 10.0.0.5 and IPv6 a00::1 share the first byte 0x0a. */
	assert_true(match(&v4, "10.0.0.5"));
	assert_false(match(&v4, "a00::1"));
	assert_false(match(&v4, "::ffff:10.0.0.5"));
	assert_true(match(&v6, "a00::1"));
	assert_false(match(&v6, "10.0.0.5"));
	/* A mapped prefix is an IPv6 prefix: it matches mapped addresses only. */
	assert_true(match(&mapped, "::ffff:10.0.0.5"));
	assert_false(match(&mapped, "10.0.0.5"));
	assert_false(match(&mapped, "::ffff:11.0.0.5"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_match),
		cmocka_unit_test(test_boundaries_not_on_bytes),
		cmocka_unit_test(test_bare_address_and_host_bits),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_default_ranges),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_versions_not_confused),
		cmocka_unit_test(test_ten_thousand_from_file),
		cmocka_unit_test(test_file_errors),
	};

	return cmocka_run_group_tests_name("prefixes", tests, NULL, NULL);
}
