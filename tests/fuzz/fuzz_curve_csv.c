// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: `flowprobe curve` reading a samples CSV. On error the
 * reason must be a terminated string; on success every row is read.
 */
#include "curve/curve_csv.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct curve_rows rows = { 0 };
	char path[64], err[512];
	int fd;

	fuzz_quiet();
	fd = fuzz_file(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	memset(err, 'x', sizeof(err));
	if (curve_csv_read(path, &rows, err, sizeof(err)) != 0 && !memchr(err, '\0', sizeof(err)))
		abort();
	curve_rows_free(&rows);
	close(fd);
	return 0;
}
