/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The log's line for full tables (user/flood_report.c): exact differences
 * of the datapath counters between two readings, nothing when nothing was
 * pushed out or lost, and the hint at the table options only when packets
 * went uncounted. The rate limit: the first line of an episode at once,
 * the next not before a period has passed, with everything in between
 * summed into it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "datapath/flood_report.h"
#include "lib/log.h"

static void test_format_nothing(void **state)
{
	__u64 a[CNT__MAX] = { 0 }, b[CNT__MAX] = { 0 };
	char line[512] = "";

	(void)state;
	b[CNT_PACKETS] = 1000;
	b[CNT_FLOW_PACKETS] = 1000;
	assert_false(flood_report_format(line, sizeof(line), a, b));
	assert_string_equal(line, "");
}

static void test_format_exact(void **state)
{
	__u64 a[CNT__MAX] = { 0 }, b[CNT__MAX] = { 0 };
	char line[512];

	(void)state;
	a[CNT_FLOWS_EVICTED] = 10;
	a[CNT_EVICTED_PACKETS] = 20;
	a[CNT_UNCOUNTED_PACKETS] = 5;
	b[CNT_FLOWS_EVICTED] = 13;
	b[CNT_EVICTED_PACKETS] = 27;
	b[CNT_EVICTED_BYTES] = 2700;
	b[CNT_UNCOUNTED_PACKETS] = 9;
	b[CNT_UNCOUNTED_BYTES] = 360;
	assert_true(flood_report_format(line, sizeof(line), a, b));
	assert_non_null(strstr(line, "3 flows pushed out of full buckets early "
				     "(7 packets, 2700 bytes"));
	assert_non_null(strstr(line, "4 packets, 360 bytes uncounted"));
	assert_non_null(strstr(line, "--max-flows, --evict-ring"));

	/* Evictions alone: no advice about sizes, nothing was lost. */
	b[CNT_UNCOUNTED_PACKETS] = 5;
	b[CNT_UNCOUNTED_BYTES] = 0;
	assert_true(flood_report_format(line, sizeof(line), a, b));
	assert_non_null(strstr(line, "0 packets, 0 bytes uncounted"));
	assert_null(strstr(line, "--evict-ring"));
}

/* Reads what the logger wrote to stderr during fn. */
static void capture(void (*fn)(void *), void *ctx, char *out, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fn(ctx);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, len - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

struct tick_args {
	struct flood_report *fr;
	__u64 *counters;
	uint64_t now_ns;
};

static void do_tick(void *p)
{
	struct tick_args *a = p;

	flood_report_tick(a->fr, a->counters, a->now_ns);
}

static void test_rate_limit(void **state)
{
	struct flood_report fr = { 0 };
	__u64 c[CNT__MAX] = { 0 };
	struct tick_args a = { &fr, c, 1000 };
	char out[4096];
	const uint64_t s = 1000000000ull;

	(void)state;
	/* The first reading is a baseline (a takeover's history). */
	c[CNT_UNCOUNTED_PACKETS] = 50;
	capture(do_tick, &a, out, sizeof(out));
	assert_string_equal(out, "");

	/* Quiet, then a flood: a line at once. */
	c[CNT_UNCOUNTED_PACKETS] = 60;
	a.now_ns = 2 * s;
	capture(do_tick, &a, out, sizeof(out));
	assert_non_null(strstr(out, "warning: flow table full"));
	assert_non_null(strstr(out, "10 packets, 0 bytes uncounted"));

	/* Within the period: nothing, however much happens. */
	c[CNT_UNCOUNTED_PACKETS] = 90;
	a.now_ns = 5 * s;
	capture(do_tick, &a, out, sizeof(out));
	assert_string_equal(out, "");

	/* A period later: the sum since the last line. */
	c[CNT_UNCOUNTED_PACKETS] = 100;
	a.now_ns = 12 * s + 1;
	capture(do_tick, &a, out, sizeof(out));
	assert_non_null(strstr(out, "40 packets, 0 bytes uncounted"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_nothing),
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_rate_limit),
	};

	return cmocka_run_group_tests_name("flood report", tests, NULL, NULL);
}
