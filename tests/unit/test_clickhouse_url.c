// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * --store clickhouse:// URLs: the forms that work (user, IPv6, default
 * user), and the mistakes a person makes, each refused (a password in the
 * URL, no port, no database, a database name that is not one, another
 * scheme); the fleet's options checked before anything starts (a probe
 * id with spaces, an empty password file); and the schema: every
 * statement names the database and uses no DateTime64 (18.16 has none).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "store/clickhouse_schema.h"
#include "store/clickhouse_url.h"
#include "store/fleet.h"

static void good_urls(void **state)
{
	struct clickhouse_url u;

	(void)state;
	assert_int_equal(clickhouse_url_parse("clickhouse://flowprobe@10.0.0.5:8123/flows", &u), 0);
	assert_string_equal(u.host, "10.0.0.5");
	assert_int_equal(u.port, 8123);
	assert_string_equal(u.db, "flows");
	assert_string_equal(u.user, "flowprobe");
	assert_int_equal(clickhouse_url_parse("clickhouse://ch.example.net:18123/fleet_1", &u), 0);
	assert_string_equal(u.user, "default");
	assert_string_equal(u.host, "ch.example.net");
	assert_int_equal(clickhouse_url_parse("clickhouse://[2001:db8::5]:8123/f", &u), 0);
	assert_string_equal(u.host, "2001:db8::5");
}

static void bad_urls(void **state)
{
	static const char *const bad[] = {
		"http://10.0.0.5:8123/flows",
		"clickhouse://10.0.0.5/flows",
		"clickhouse://10.0.0.5:8123",
		"clickhouse://10.0.0.5:8123/",
		"clickhouse://u:secret@10.0.0.5:8123/flows",
		"clickhouse://10.0.0.5:0/flows",
		"clickhouse://10.0.0.5:65536/flows",
		"clickhouse://10.0.0.5:81x3/flows",
		"clickhouse://:8123/flows",
		"clickhouse://10.0.0.5:8123/drop table",
		"clickhouse://10.0.0.5:8123/a;b",
		"clickhouse://h'x:8123/flows",
		"clickhouse://[2001:db8::5/f",
		"clickhouse://b@d@h:8123/f",
		"",
	};
	struct clickhouse_url u;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (clickhouse_url_parse(bad[i], &u) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
}

static void options_checked(void **state)
{
	char path[] = "/tmp/test_clickhouse_url.XXXXXX";
	int fd = mkstemp(path);
	struct fleet_config c = { .url = "clickhouse://h:8123/f", .password_file = path };

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fleet_check(&c), -EINVAL); /* empty file */
	assert_int_equal(write(fd, "pw\n", 3), 3);
	close(fd);
	assert_int_equal(fleet_check(&c), 0);
	c.probe_id = "router 1";
	assert_int_equal(fleet_check(&c), -EINVAL);
	c.probe_id = "router-1.pop_a";
	assert_int_equal(fleet_check(&c), 0);
	c.password_file = "/nonexistent/pw";
	assert_int_equal(fleet_check(&c), -EINVAL);
	unlink(path);
}

static void schema_for_old_and_new_servers(void **state)
{
	size_t n;
	const char *const *ddl = clickhouse_schema(&n);
	char buf[4096];

	(void)state;
	assert_true(n >= 7);
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), ddl[i], "fleetdb");
		assert_non_null(strstr(buf, "fleetdb"));
		assert_non_null(strstr(buf, "IF NOT EXISTS"));
		assert_null(strstr(buf, "DateTime64"));
		assert_null(strstr(buf, "LowCardinality")); /* 19.0 and later */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_urls),
		cmocka_unit_test(bad_urls),
		cmocka_unit_test(options_checked),
		cmocka_unit_test(schema_for_old_and_new_servers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
