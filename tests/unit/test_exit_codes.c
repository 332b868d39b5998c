// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The one mapping from a module's result (0 or a negative errno,
 * lib/errors.h) to a subcommand's exit code (cli/exit_codes.h): each errno
 * that carries a kind, errnos that do not, success values; and
 * err_runtime, which keeps a system errno from reading as a kind.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "cli/exit_codes.h"
#include "lib/errors.h"

static const struct {
	int err;
	enum exit_code want;
} cases[] = {
	{ 0, EXIT_OK },
	{ 1, EXIT_OK }, /* a count or an fd: success */
	{ 42, EXIT_OK },
	/* what the caller gave is wrong */
	{ -EINVAL, EXIT_USAGE },
	{ -ERANGE, EXIT_USAGE },
	{ -ENODEV, EXIT_USAGE },
	/* privileges or a kernel feature missing */
	{ -EPERM, EXIT_NO_PRIVILEGE },
	{ -EACCES, EXIT_NO_PRIVILEGE },
	{ -ENOTSUP, EXIT_NO_PRIVILEGE },
	{ -EOPNOTSUPP, EXIT_NO_PRIVILEGE }, /* the same on Linux */
	/* an interface is taken */
	{ -EBUSY, EXIT_BUSY },
	{ -EEXIST, EXIT_BUSY },
	/* anything else failed while running */
	{ -ENOENT, EXIT_RUNTIME }, /* detach: nothing pinned */
	{ -ESTALE, EXIT_RUNTIME }, /* pins made for another CPU count */
	{ -ENOMEM, EXIT_RUNTIME },
	{ -EIO, EXIT_RUNTIME },
	{ -EADDRNOTAVAIL, EXIT_RUNTIME },
	{ -EADDRINUSE, EXIT_RUNTIME },
	{ -ENETUNREACH, EXIT_RUNTIME },
	{ -EAGAIN, EXIT_RUNTIME },
	{ -E2BIG, EXIT_RUNTIME },
	{ -4095, EXIT_RUNTIME }, /* no such errno */
	{ -1000000, EXIT_RUNTIME },
};

static void test_exit_code_of(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum exit_code got = exit_code_of(cases[i].err);

		if (got != cases[i].want)
			fail_msg("exit_code_of(%d): got %d, want %d", cases[i].err, got,
				 cases[i].want);
	}
}

/* err_runtime: errnos of no kind pass; kinds and 0 become -EIO, so a
 * verifier's -EINVAL or a driver's -EOPNOTSUPP exits 1, as before. */
static void test_err_runtime(void **state)
{
	static const struct {
		int err, want;
	} rt[] = {
		{ -ENOMEM, -ENOMEM }, { -ENOENT, -ENOENT },  { -EIO, -EIO },
		{ -EINVAL, -EIO },    { -ENODEV, -EIO },     { -EPERM, -EIO },
		{ -EACCES, -EIO },    { -EOPNOTSUPP, -EIO }, { -EBUSY, -EIO },
		{ -EEXIST, -EIO },    { 0, -EIO }, /* errno was not set: still a failure */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		int got = err_runtime(rt[i].err);

		if (got != rt[i].want)
			fail_msg("err_runtime(%d): got %d, want %d", rt[i].err, got, rt[i].want);
		if (exit_code_of(got) != EXIT_RUNTIME)
			fail_msg("err_runtime(%d) exits %d, not %d", rt[i].err, exit_code_of(got),
				 EXIT_RUNTIME);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code_of),
		cmocka_unit_test(test_err_runtime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
