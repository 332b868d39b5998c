/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the curve reads from people and files: link rates ("100M",
 * "20mbit"), durations ("250ms", "24h"), with their bad forms refused; and
 * the CSV the probe writes read back by `flowprobe curve` exactly, by
 * column name, with a malformed line named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "curve/curve_csv.h"
#include "lib/parse_number.h"

static void test_rates(void **state)
{
	static const struct {
		const char *s;
		uint64_t bps; /* 0: refused */
	} cases[] = {
		{ "100M", 100000000 },
		{ "1G", 1000000000 },
		{ "1.5G", 1500000000 },
		{ "20mbit", 20000000 },
		{ "64k", 64000 },
		{ "2500", 2500 },
		{ "10Gbps", 10000000000ull },
		{ "0", 0 },
		{ "", 0 },
		{ "-5M", 0 },
		{ "M", 0 },
		{ "100X", 0 },
		{ "1e3k", 1000000 },
		{ "nan", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t got = 0;
		int rc = parse_rate_bps(cases[i].s, &got);

		if (cases[i].bps) {
			assert_int_equal(rc, 0);
			assert_int_equal(got, cases[i].bps);
		} else {
			assert_int_equal(rc, -1);
		}
	}
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t ns; /* 0: refused */
	} cases[] = {
		{ "250ms", 250000000 },
		{ "1s", 1000000000 },
		{ "2", 2000000000 },
		{ "5m", 300000000000ull },
		{ "24h", 86400000000000ull },
		{ "1d", 86400000000000ull },
		{ "0.5", 500000000 },
		{ "0", 0 },
		{ "1x", 0 },
		{ "ms", 0 },
		{ "-1s", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t got = 0;
		int rc = parse_duration_ns(cases[i].s, &got);

		if (cases[i].ns) {
			assert_int_equal(rc, 0);
			assert_int_equal(got, cases[i].ns);
		} else {
			assert_int_equal(rc, -1);
		}
	}
}

static void test_csv_round_trip(void **state)
{
	char path[] = "/tmp/test_curve_io_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct curve_sample s = {
		.ifindex = 3,
		.name = "eth1",
		.duration_ns = 250000000,
		.bytes = 1234.5,
		.capacity_bps = 20000000,
		.utilisation = 0.1 + 0.2, /* not exact in binary: must survive */
		.active_flows = 7.125,
		.flows_with_packets = 8,
		.rate_per_flow_bps = 1.0 / 3,
	};
	struct curve_rows rows = { 0 };
	char err[256];

	(void)state;
	assert_non_null(f);
	assert_int_equal(curve_csv_write_header(f), 0);
	assert_int_equal(curve_csv_write(f, &s, 1795392000250ull), 0);
	s.name = "eth2";
	assert_int_equal(curve_csv_write(f, &s, 1795392000500ull), 0);
	fclose(f);
	assert_int_equal(curve_csv_read(path, &rows, err, sizeof(err)), 0);
	assert_int_equal(rows.n, 2);
	assert_int_equal(rows.v[0].unix_ms, 1795392000250ull);
	assert_string_equal(rows.v[0].interface, "eth1");
	assert_string_equal(rows.v[1].interface, "eth2");
	assert_int_equal(rows.v[0].capacity_bps, 20000000);
	assert_true(rows.v[0].utilisation == 0.1 + 0.2);
	assert_true(rows.v[0].active_flows == 7.125);
	curve_rows_free(&rows);

	/* Columns found by name, in any order; a bad number names its line. */
	f = fopen(path, "w");
	fputs("active_flows,utilisation,interface,capacity_bps,unix_ms\n"
	      "3,0.5,x,1000,42\n"
	      "3,half,x,1000,43\n",
	      f);
	fclose(f);
	assert_int_equal(curve_csv_read(path, &rows, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 3"));
	curve_rows_free(&rows);

	f = fopen(path, "w");
	fputs("time,unix_ms,interface\n", f);
	fclose(f);
	assert_int_equal(curve_csv_read(path, &rows, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "capacity_bps"));
	curve_rows_free(&rows);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_csv_round_trip),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
