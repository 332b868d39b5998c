/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The exit codes of every subcommand, and the one place a module's result
 * (0 or a negative errno, lib/errors.h) becomes one. Scripts and tests
 * rely on them to tell a typo from a busy interface.
 */
#ifndef EXIT_CODES_H
#define EXIT_CODES_H

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* something failed while running */
	EXIT_USAGE = 2, /* the command line is wrong: fix it */
	EXIT_NO_PRIVILEGE = 3, /* not root, or the kernel lacks a feature */
	EXIT_BUSY = 4, /* the interface already carries an XDP program */
};

/*
 * 0 (or any success value >= 0): EXIT_OK; -EINVAL, -ERANGE, -ENODEV:
 * EXIT_USAGE; -EPERM, -EACCES, -ENOTSUP: EXIT_NO_PRIVILEGE; -EBUSY,
 * -EEXIST: EXIT_BUSY; any other errno: EXIT_RUNTIME.
 */
enum exit_code exit_code_of(int err);

#endif /* EXIT_CODES_H */
