// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Dropping capabilities (see capabilities.h), with the raw capget and
 * capset calls: they act on the calling thread, which is what the web
 * server's start needs (glibc has no wrapper; libcap's would act on all
 * threads only with its psx helper linked in).
 */
#include <errno.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "lib/capabilities.h"

static int cap_sets(struct __user_cap_data_struct d[2], int set)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(set ? SYS_capset : SYS_capget, &h, d) ? -errno : 0;
}

uint64_t caps_effective(void)
{
	struct __user_cap_data_struct d[2] = { 0 };

	if (cap_sets(d, 0))
		return 0;
	return (uint64_t)d[1].effective << 32 | d[0].effective;
}

int caps_keep_only(uint64_t keep)
{
	struct __user_cap_data_struct d[2] = { 0 };
	int r;

	/* The bounding set first, while CAP_SETPCAP is still there. */
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		if ((keep & CAP_BIT(c)) || prctl(PR_CAPBSET_READ, c) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c) && errno != EPERM)
			return -errno;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	r = cap_sets(d, 0);
	if (r)
		return r;
	for (int i = 0; i < 2; i++) {
		uint32_t mask = keep >> (32 * i);

		d[i].effective &= mask;
		d[i].permitted &= mask;
		d[i].inheritable = 0;
	}
	return cap_sets(d, 1);
}
