// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The state directory: created private if missing, checked if present.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "lib/log.h"
#include "store/state_dir.h"

static int make_parents(const char *dir)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int state_dir_prepare(const char *dir)
{
	struct stat st;
	int rc;

	if (!stat(dir, &st)) {
		if (S_ISDIR(st.st_mode))
			return 0;
		log_error("--state-dir %s: not a directory (give a directory for "
			  "the history database)",
			  dir);
		return -EINVAL; /* the option is wrong: exit 2 */
	}
	rc = make_parents(dir);
	if (!rc && mkdir(dir, 0750) && errno != EEXIST)
		rc = -errno;
	if (!rc && chmod(dir, 0750)) /* whatever the umask said */
		rc = -errno;
	if (rc)
		log_error("--state-dir %s: cannot create it: %s (create it, or "
			  "give a writable --state-dir)",
			  dir, strerror(-rc));
	return rc;
}

int state_dir_file(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
		log_error("--state-dir %s: path too long", dir);
		return -ENAMETOOLONG;
	}
	return 0;
}
