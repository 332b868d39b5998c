// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The configuration file as option words: values in order before the
 * command line's, booleans, the command line replacing the file's
 * collectors, interfaces and prefixes, and each kind of mistake named
 * with its file and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli/config_file.h"

static const struct option longopts[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "collector", required_argument, NULL, 'c' },
	{ "local", required_argument, NULL, 0x101 },
	{ "local-file", required_argument, NULL, 0x102 },
	{ "tap", no_argument, NULL, 0x103 },
	{ "json", no_argument, NULL, 0x104 },
	{ "active-timeout", required_argument, NULL, 0x105 },
	{ "config", required_argument, NULL, 0x106 },
	{ "no-config", no_argument, NULL, 0x107 },
	{},
};

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	strcpy(path, "/tmp/flowprobe-conf-XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The words, joined by spaces, after argv[0]. */
static int build(const char *text, char **cli, int n, char *out, size_t len)
{
	char *argv[16] = { "flowprobe" };
	struct config_args a;
	int rc;

	write_file(text);
	for (int i = 0; i < n; i++)
		argv[i + 1] = cli[i];
	rc = config_args_build(&a, n + 1, argv, longopts, path);
	unlink(path);
	out[0] = '\0';
	if (rc)
		return rc;
	for (int i = 1; i < a.argc; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i > 1 ? " " : "", a.argv[i]);
	assert_null(a.argv[a.argc]);
	config_args_free(&a);
	return 0;
}

static void test_words(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(build("# a probe\n"
			       "interface = eth0,eth1\n"
			       "collector = 192.0.2.10:2055\n"
			       "collector = [2001:db8::5]:2055\n"
			       "tap = yes\n"
			       "json = no\n"
			       "[run]\n"
			       "active-timeout = 120\n",
			       (char *[]){ "--active-timeout", "30" }, 2, out, sizeof(out)),
			 0);
	assert_string_equal(out, "--interface eth0,eth1 --collector 192.0.2.10:2055 "
				 "--collector [2001:db8::5]:2055 --tap --active-timeout 120 "
				 "--active-timeout 30");
}

static void test_command_line_replaces_lists(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(
		build("interface = eth0\ncollector = 192.0.2.10:2055\n"
		      "local = 10.0.0.0/8\nlocal-file = /etc/x\n",
		      (char *[]){ "-c", "127.0.0.1:9995", "--local-file=/tmp/y", "-i", "lo" }, 5,
		      out, sizeof(out)),
		0);
	assert_string_equal(out, "-c 127.0.0.1:9995 --local-file=/tmp/y -i lo");
}

static void test_mistakes(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(build("tap = yes\ncolector = 1.2.3.4:5\n", NULL, 0, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(build("tap = maybe\n", NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(build("interface =\n", NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(build("[other]\ntap = yes\n", NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(build("config = /etc/other.conf\n", NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(build("just words\n", NULL, 0, out, sizeof(out)), -EINVAL);
}

static void test_which_file(void **state)
{
	char *argv[] = { "flowprobe", "--config", "/nonexistent/flowprobe.conf", NULL };
	char *argv2[] = { "flowprobe", "-i", "lo", NULL };
	char *argv3[] = { "flowprobe", "--no-config", NULL };
	struct config_args a;

	(void)state;
	/* Asked for and missing: an error. */
	assert_int_equal(config_args_build(&a, 3, argv, longopts, "/etc/x"), -EINVAL);
	/* The default, missing: no file, the command line alone. */
	assert_int_equal(config_args_build(&a, 3, argv2, longopts, "/nonexistent/default.conf"), 0);
	assert_int_equal(a.argc, 3);
	config_args_free(&a);
	/* --no-config: the default is not read even when it exists. */
	write_file("colector = broken\n");
	assert_int_equal(config_args_build(&a, 2, argv3, longopts, path), 0);
	assert_int_equal(a.argc, 2);
	config_args_free(&a);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_command_line_replaces_lists),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_which_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
