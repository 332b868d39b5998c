// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Compares a kernel release string with the minimum the datapath needs
 * (kernel_version.h). Pure, so the unit tests can feed it any release.
 */
#include <stdlib.h>
#include "datapath/kernel_version.h"

bool kernel_release_at_least(const char *release, unsigned major, unsigned minor)
{
	unsigned long maj, min;
	char *end;

	maj = strtoul(release, &end, 10);
	if (end == release || *end != '.')
		return false;
	release = end + 1;
	min = strtoul(release, &end, 10);
	if (end == release)
		return false;
	return maj > major || (maj == major && min >= minor);
}
