/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Logging to stderr with levels, and the exit codes every subcommand uses.
 * Errors are one line: what failed, why, and what to do about it; scripts
 * and tests rely on the exit codes to tell a typo from a busy interface.
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,   /* something failed while running */
	EXIT_USAGE = 2,	    /* the command line is wrong: fix it */
	EXIT_NO_PRIVILEGE = 3, /* not root, or the kernel lacks a feature */
	EXIT_BUSY = 4,	    /* the interface already carries an XDP program */
};

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

extern enum log_level log_level;

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Route libbpf's own messages to stderr only when -v was given. */
void log_setup_libbpf(bool verbose);

#endif /* LOG_H */
