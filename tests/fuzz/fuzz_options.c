// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the option values users type: rates ("100M",
 * "2.5G"), durations ("1s", "250ms"), whole numbers in a range. The first
 * byte picks the parser, the rest is the argument.
 */
#include "lib/log.h"
#include "lib/parse_number.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long ul = 0;
	uint64_t v = 0;
	char *s;

	if (size < 1)
		return 0;
	fuzz_quiet();
	s = fuzz_string(data + 1, size - 1);
	if (!s)
		return 0;
	switch (data[0] % 3) {
	case 0:
		parse_rate_bps(s, &v);
		break;
	case 1:
		parse_duration_ns(s, &v);
		break;
	default:
		if (parse_ulong_option("--fuzz", s, 10, 60000, &ul) == 0 && (ul < 10 || ul > 60000))
			abort();
		break;
	}
	free(s);
	return 0;
}
