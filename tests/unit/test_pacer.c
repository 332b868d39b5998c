/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The export pacer on a fake clock: the rate is never exceeded over any
 * window, a burst is at most one slice's worth, idle time earns no more
 * than one burst, and the wake-up time is when a whole burst may leave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "export/pacer.h"

#define MS 1000000ull

/* Sends whenever allowed, checking each 1 ms step; returns packets sent
 * in [0, duration). */
static unsigned int send_greedily(struct pacer *p, uint64_t start, uint64_t duration, uint64_t step)
{
	unsigned int n = 0;

	for (uint64_t t = start; t < start + duration; t += step)
		while (pacer_ready(p, t)) {
			pacer_take(p, t);
			n++;
		}
	return n;
}

static void test_rate_is_a_bound(void **state)
{
	struct pacer p;
	unsigned int n;

	(void)state;
	pacer_init(&p, 4000);
	assert_int_equal(pacer_burst(&p), 20);
	/* One second of greedy sending: 4000, plus the first burst's head
	 * start of at most 20. */
	n = send_greedily(&p, 1000 * MS, 1000 * MS, 100000);
	assert_true(n >= 3990 && n <= 4020);
	/* Ten seconds: the average holds. */
	n = send_greedily(&p, 2000 * MS, 10000 * MS, 1 * MS);
	assert_true(n >= 39990 && n <= 40020);
}

static void test_burst_is_one_slice(void **state)
{
	struct pacer p;
	unsigned int n = 0;

	(void)state;
	pacer_init(&p, 4000);
	/* After a long idle period, at one instant: one burst, no more. */
	while (pacer_ready(&p, 5000 * MS)) {
		pacer_take(&p, 5000 * MS);
		n++;
	}
	assert_int_equal(n, 20);

	/* Waking at the wake time, a whole burst is available again. */
	uint64_t wake = pacer_wake_ns(&p, 5000 * MS);

	assert_int_equal(wake, 5000 * MS + 20 * 250000);
	assert_false(pacer_ready(&p, wake - 250000 * 20));
	n = 0;
	while (pacer_ready(&p, wake)) {
		pacer_take(&p, wake);
		n++;
	}
	assert_int_equal(n, 20);
}

static void test_unpaced(void **state)
{
	struct pacer p;

	(void)state;
	pacer_init(&p, 0);
	for (int i = 0; i < 100000; i++) {
		assert_true(pacer_ready(&p, 0));
		pacer_take(&p, 0);
	}
	assert_int_equal(pacer_wake_ns(&p, 0), 0);
	assert_int_equal(pacer_burst(&p), 0);
}

/* A slow rate: bursts of one, one packet an interval. */
static void test_slow_rate_bursts_of_one(void **state)
{
	struct pacer p;

	(void)state;
	pacer_init(&p, 10);
	assert_int_equal(pacer_burst(&p), 1);
	assert_true(pacer_ready(&p, 0));
	pacer_take(&p, 0);
	assert_false(pacer_ready(&p, 99 * MS));
	assert_true(pacer_ready(&p, 100 * MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_is_a_bound),
		cmocka_unit_test(test_burst_is_one_slice),
		cmocka_unit_test(test_unpaced),
		cmocka_unit_test(test_slow_rate_bursts_of_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
