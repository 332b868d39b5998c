// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stderr logging with a "flowprobe: <level>: " prefix, so a journal or a
 * terminal shows which lines are errors, and the libbpf print hook that
 * keeps the verifier's chatter out of sight unless -v asks for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "log.h"

enum log_level log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	fprintf(stderr, "flowprobe: %s: ", level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print_verbose(enum libbpf_print_level level,
				const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static int libbpf_print_quiet(enum libbpf_print_level level, const char *fmt,
			      va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

void log_setup_libbpf(bool verbose)
{
	libbpf_set_print(verbose ? libbpf_print_verbose : libbpf_print_quiet);
}
