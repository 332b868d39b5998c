// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The minimum-kernel check: release strings as distributions write them,
 * on each side of the limit, and strings that are not releases at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "datapath/kernel_version.h"

static const struct {
	const char *release;
	bool ok;
} cases[] = {
	{ "6.18.0-1-amd64", true },
	{ "5.15.0-91-generic", true }, /* exactly the minimum */
	{ "5.15", true },
	{ "5.14.21-150400.24-default", false },
	{ "5.10.0-28-amd64", false }, /* bullseye: no bpf_timer */
	{ "4.19.0", false },
	{ "10.0.0", true }, /* minor below 15, major above */
	{ "5.100.0", true },
	{ "", false },
	{ "five.fifteen", false },
	{ "5", false },
	{ "5.", false },
};

static void test_releases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = kernel_release_at_least(cases[i].release, 5, 15);

		if (got != cases[i].ok)
			fail_msg("'%s': got %d, want %d", cases[i].release, got, cases[i].ok);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_releases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
