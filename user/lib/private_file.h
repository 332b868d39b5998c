/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Files that hold customers' addresses (the --events log): created
 * readable by the owner and the group only (0640, the log group of a
 * Debian system), appended to, and never through a symbolic link, so a
 * link planted in a shared log directory cannot make a root daemon write
 * somewhere else.
 */
#ifndef PRIVATE_FILE_H
#define PRIVATE_FILE_H

#include <stdio.h>

#define PRIVATE_FILE_MODE 0640

/* A line-buffered stream appending to PATH, or NULL with errno set
 * (ELOOP: PATH is a symbolic link). */
FILE *private_file_append(const char *path);

#endif
