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
#include <string.h>
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

/* Parses list with stderr captured into err; returns the exit code. */
static int parse_capture(struct prefix_set *set, const char *list, char *err,
			 size_t len)
{
	FILE *tmp = tmpfile();
	int saved, rc;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	rc = prefix_set_parse(set, list, "--local");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, len - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

static void test_parse_and_match(void **state)
{
	struct prefix_set set;

	(void)state;
	assert_int_equal(prefix_set_parse(&set, "10.0.0.0/8,2001:db8::/32", "--local"),
			 0);
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
	assert_int_equal(prefix_set_parse(&set, "172.16.0.0/12,2001:db8:8000::/33", "x"),
			 0);
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
	assert_int_equal(prefix_set_parse(&set, "192.0.2.1,2001:db8::1, 10.1.2.3/8 ,"
					  "172.31.1.1/12,2001:db8:abcd::/36", "x"),
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
		const char *named;	/* what the message must quote */
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

		if (rc != -EINVAL || !strstr(err, bad[i].named) ||
		    !strstr(err, "--local") || strchr(err, '\n') != strrchr(err, '\n'))
			fail_msg("\"%s\": rc %d, message \"%s\"", bad[i].list, rc, err);
		/* A failed parse leaves the set as it was. */
		assert_memory_equal(&set, &before, sizeof(set));
	}
}

static void test_too_many(void **state)
{
	char list[PREFIX_SET_MAX * 16 + 32] = "", err[256];
	struct prefix_set set;
	size_t used = 0;

	(void)state;
	for (int i = 0; i <= PREFIX_SET_MAX; i++)
		used += snprintf(list + used, sizeof(list) - used, "%s10.%d.0.0/16",
				 i ? "," : "", i);
	assert_int_equal(parse_capture(&set, list, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	/* Exactly the maximum is fine. */
	*strrchr(list, ',') = '\0';
	assert_int_equal(prefix_set_parse(&set, list, "x"), 0);
	assert_int_equal(set.n, PREFIX_SET_MAX);
}

/* Same leading bytes, different versions: never the same host. */
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
	};

	return cmocka_run_group_tests_name("prefixes", tests, NULL, NULL);
}
