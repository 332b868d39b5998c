// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Opening files that hold customers' addresses (see private_file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "lib/private_file.h"

FILE *private_file_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
		      PRIVATE_FILE_MODE);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "a");
	if (!f) {
		int err = errno;

		close(fd);
		errno = err;
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}
