// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The web server's authorisation, case by case: each way a broken check
 * would let a request through (any Bearer token, a prefix of the token,
 * an empty one, a NUL smuggled in through %00, a token in an API URL)
 * must be refused, and the exact token accepted in each place it may
 * travel, with the scheme in any letter case (RFC 7235). And the Host
 * check that keeps DNS rebinding off the loopback listener.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "web/http_auth.h"

#define TOKEN "0123456789abcdef0123"
#define V(str)                         \
	{                              \
		(str), sizeof(str) - 1 \
	}
#define NONE            \
	{               \
		NULL, 0 \
	}

static const struct {
	const char *desc;
	struct http_credentials cr;
	bool allowed;
} cases[] = {
	{ "nothing", { NONE, NONE, NONE, false }, false },
	{ "Bearer with the token", { V("Bearer " TOKEN), NONE, NONE, false }, true },
	{ "bearer in lower case", { V("bearer " TOKEN), NONE, NONE, false }, true },
	{ "BEARER in upper case, two spaces", { V("BEARER  " TOKEN), NONE, NONE, false }, true },
	{ "Bearer with another token",
	  { V("Bearer 0123456789abcdef0124"), NONE, NONE, false },
	  false },
	{ "Bearer with a prefix of the token",
	  { V("Bearer 0123456789abcdef012"), NONE, NONE, false },
	  false },
	{ "Bearer with the token and more", { V("Bearer " TOKEN "0"), NONE, NONE, false }, false },
	{ "Bearer with nothing", { V("Bearer "), NONE, NONE, false }, false },
	{ "Bearer alone", { V("Bearer"), NONE, NONE, false }, false },
	{ "Basic scheme with the token", { V("Basic " TOKEN), NONE, NONE, false }, false },
	{ "the token without a scheme", { V(TOKEN), NONE, NONE, false }, false },
	{ "the cookie", { NONE, V(TOKEN), NONE, false }, true },
	{ "an empty cookie", { NONE, V(""), NONE, false }, false },
	{ "a cookie with a prefix", { NONE, V("0123456789"), NONE, false }, false },
	{ "?token= on the page", { NONE, NONE, V(TOKEN), true }, true },
	{ "?token= on an API path", { NONE, NONE, V(TOKEN), false }, false },
	{ "?token=TOKEN%00junk on the page",
	  { NONE, NONE, { TOKEN "\0junk", sizeof(TOKEN) + 4 }, true },
	  false },
	{ "?token= empty on the page", { NONE, NONE, V(""), true }, false },
};

static void test_tokens(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = http_auth_allows(TOKEN, &cases[i].cr);

		if (got != cases[i].allowed) {
			print_error("%s: %s, want %s\n", cases[i].desc, got ? "allowed" : "refused",
				    cases[i].allowed ? "allowed" : "refused");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_no_token_required(void **state)
{
	struct http_credentials none = { 0 };

	(void)state;
	assert_true(http_auth_allows("", &none));
}

static void test_hosts(void **state)
{
	(void)state;
	assert_true(http_host_is_loopback("127.0.0.1:8080", 8080));
	assert_true(http_host_is_loopback("localhost:8080", 8080));
	assert_true(http_host_is_loopback("LOCALHOST", 8080));
	assert_true(http_host_is_loopback("[::1]:8080", 8080));
	assert_true(http_host_is_loopback("127.0.0.1", 8080));
	assert_false(http_host_is_loopback("evil.example:8080", 8080));
	assert_false(http_host_is_loopback("127.0.0.1.evil.example:8080", 8080));
	assert_false(http_host_is_loopback("127.0.0.1:8081", 8080));
	assert_false(http_host_is_loopback(NULL, 8080));
	assert_false(http_host_is_loopback("", 8080));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_no_token_required),
		cmocka_unit_test(test_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
