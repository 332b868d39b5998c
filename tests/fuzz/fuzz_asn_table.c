// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: `--asn-table` files (CAIDA prefix2as lines or
 * "prefix/len AS"). A table that loads is looked up for a few addresses.
 */
#include "detect/asn_table.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t addrs[][16] = {
		{ 192, 0, 2, 1 },
		{ 10, 1, 2, 3 },
		{ 0x20, 0x01, 0x0d, 0xb8 },
		{ 255, 255, 255, 255 },
	};
	struct asn_table *t = NULL;
	FILE *in;

	fuzz_quiet();
	in = fmemopen((void *)data, size ? size : 1, "r");
	if (!in)
		return 0;
	if (size == 0)
		fgetc(in); /* fmemopen needs a size: read the one byte away */
	if (asn_table_load_stream(&t, in, "fuzz") == 0 && t) {
		for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
			asn_table_lookup(t, 4, addrs[i]);
			asn_table_lookup(t, 6, addrs[i]);
		}
		asn_table_free(t);
	}
	fclose(in);
	return 0;
}
