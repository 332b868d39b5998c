// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: `--local` prefix lists. A list that parses must
 * format back to a list that parses to the same set.
 */
#include "fuzz_input.h"
#include "detect/prefixes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prefix_set set, again;
	char *s = fuzz_string(data, size), buf[8192];

	fuzz_quiet();
	if (!s)
		return 0;
	memset(&set, 0, sizeof(set));
	if (prefix_set_parse(&set, s, "--local") == 0 && set.n) {
		prefix_set_format(&set, buf, sizeof(buf));
		memset(&again, 0, sizeof(again));
		if (strlen(buf) + 1 < sizeof(buf) && prefix_set_parse(&again, buf, "--local") != 0)
			abort();
	}
	free(s);
	return 0;
}
