/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses share: the fuzzer's bytes as a file
 * (readers that take a path see exactly what a user's file would give
 * them, through the same fopen/libpcap code) or as a C string, and a
 * quiet log (error lines for bad input are the expected result, thousands
 * a second). Header-only: each harness is its own program.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lib/log.h"

/* Below LOG_ERROR: even error lines are not printed. */
static inline void fuzz_quiet(void)
{
	log_level = (enum log_level) - 1;
}

/* The bytes in an anonymous in-memory file; its /proc path in path.
 * Returns the fd (close it), or -1. */
static inline int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("fuzz-input", 0);

	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* The bytes as a NUL-terminated string (stopping at an embedded NUL, as
 * a command-line argument would). Free it. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif /* FUZZ_INPUT_H */
