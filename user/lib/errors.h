/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The error convention of every module outside cli/: a function returns 0
 * (or a count, an fd) when it succeeds and a negative errno when it fails,
 * after logging the one line a person needs (what failed, why, what to
 * do). A few errnos also say what kind of failure it was, and modules
 * return them only with that meaning:
 *
 *   -EINVAL, -ERANGE, -ENODEV  what the caller gave is wrong: an option, a
 *                              file it names, an unknown interface
 *   -EPERM, -EACCES, -ENOTSUP  privileges or a kernel feature are missing
 *                              (-ENOTSUP: the kernel is too old, or has no
 *                              BTF)
 *   -EBUSY, -EEXIST            an interface is taken: another XDP program,
 *                              another instance, another probe's pins
 *
 * Any other errno: something failed while running. Only the subcommands
 * (cli/exit_codes.h) turn these kinds into exit codes.
 */
#ifndef ERRORS_H
#define ERRORS_H

#include <errno.h>

enum err_kind {
	ERR_KIND_NONE, /* 0 or positive: no error */
	ERR_KIND_RUNTIME,
	ERR_KIND_INPUT,
	ERR_KIND_ENVIRONMENT,
	ERR_KIND_BUSY,
};

static inline enum err_kind err_kind(int err)
{
	if (err >= 0)
		return ERR_KIND_NONE;
	switch (-err) {
	case EINVAL:
	case ERANGE:
	case ENODEV:
		return ERR_KIND_INPUT;
	case EPERM:
	case EACCES:
	case ENOTSUP:
		return ERR_KIND_ENVIRONMENT;
	case EBUSY:
	case EEXIST:
		return ERR_KIND_BUSY;
	default:
		return ERR_KIND_RUNTIME;
	}
}

/* A failure while running, whatever errno the system gave: one that would
 * read as another kind above (a verifier's -EINVAL, a driver's -ENOTSUP),
 * or no errno at all (0), becomes -EIO. Never 0. The log line keeps the
 * system's own errno. */
static inline int err_runtime(int err)
{
	return err_kind(err) == ERR_KIND_RUNTIME ? err : -EIO;
}

#endif /* ERRORS_H */
