// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * docs/metrics.md is what the code serves: the page is generated from the
 * same descriptions as /metrics, and this test fails when the committed
 * page differs from what the code generates now.
 *
 *   build/tests/test_metrics_doc --write    regenerates docs/metrics.md
 *
 * Run from the top of the tree (make test does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "web/metrics.h"

#define DOC "docs/metrics.md"

static char *generated(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(metrics_write_doc(f), 0);
	fclose(f);
	return buf;
}

static void test_page_matches_code(void **state)
{
	size_t len, have_len;
	char *want = generated(&len), *have = malloc(len + 2);
	FILE *f = fopen(DOC, "r");

	(void)state;
	if (!f)
		fail_msg(DOC " missing: run build/tests/test_metrics_doc --write");
	have_len = fread(have, 1, len + 1, f);
	fclose(f);
	if (have_len != len || memcmp(have, want, len))
		fail_msg(DOC " differs from the metrics the code serves: run "
			     "build/tests/test_metrics_doc --write and commit it");
	free(want);
	free(have);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_matches_code),
	};

	if (argc > 1 && !strcmp(argv[1], "--write")) {
		FILE *f = fopen(DOC, "w");

		return !f || metrics_write_doc(f) != 0 || fclose(f) != 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
