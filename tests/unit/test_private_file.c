// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Files of customer addresses: created 0640 whatever the umask allows
 * beyond it, appended to, and refused through a symbolic link (the
 * link's target left untouched).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "lib/private_file.h"

static char dir[] = "/tmp/flowprobe-private-XXXXXX";
static char file[256], link_path[256], target[256];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/events.jsonl", dir);
	snprintf(link_path, sizeof(link_path), "%s/link.jsonl", dir);
	snprintf(target, sizeof(target), "%s/target", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(file);
	unlink(link_path);
	unlink(target);
	return rmdir(dir);
}

static void test_mode_and_append(void **state)
{
	struct stat st;
	mode_t old = umask(0);
	FILE *f;

	(void)state;
	f = private_file_append(file);
	umask(old);
	assert_non_null(f);
	fputs("one\n", f);
	fclose(f);
	f = private_file_append(file);
	assert_non_null(f);
	fputs("two\n", f);
	fclose(f);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_size, 8);
}

static void test_refuses_symlink(void **state)
{
	struct stat st;
	FILE *f;

	(void)state;
	f = fopen(target, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(symlink(target, link_path), 0);
	errno = 0;
	assert_null(private_file_append(link_path));
	assert_int_equal(errno, ELOOP);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_and_append),
		cmocka_unit_test(test_refuses_symlink),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
