// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stderr logging with a "flowprobe: <level>: " prefix, so a journal or a
 * terminal shows which lines are errors, and the libbpf print hook that
 * keeps the verifier's chatter out of sight unless -v asks for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "lib/log.h"

enum log_level log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

/* syslog priorities: err, warning, info, debug. */
static const int journal_priority[] = { 3, 4, 6, 7 };

/* systemd sets JOURNAL_STREAM to the "dev:ino" of the stream it connected
 * to stderr; when stderr is still that stream, a "<N>" prefix gives each
 * line its priority in the journal (sd-daemon(3)). */
static bool stderr_is_journal(void)
{
	static int cached = -1;
	const char *env;
	unsigned long long dev, ino;
	struct stat st;

	if (cached >= 0)
		return cached;
	env = getenv("JOURNAL_STREAM");
	cached = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
		 fstat(STDERR_FILENO, &st) == 0 && st.st_dev == (dev_t)dev &&
		 st.st_ino == (ino_t)ino;
	return cached;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	if (stderr_is_journal())
		fprintf(stderr, "<%d>", journal_priority[level]);
	fprintf(stderr, "flowprobe: %s: ", level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print_verbose(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static int libbpf_print_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
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
