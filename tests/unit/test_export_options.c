// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * From options to the configuration the flow cache runs with. The NetFlow
 * tests add records back together, so a timeout taken ten times too long
 * or too short passes them all; this one checks each conversion with
 * its unit, and the bounds each option refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <cmocka.h>
#include "cli/export_options.h"

#define SEC 1000000000ull

static const struct {
	int opt;
	const char *arg;
	uint64_t active_ns, inactive_ns; /* 0: the default */
	bool accepted;
} cases[] = {
	{ EXPORT_OPT_INACTIVE, "15", 0, 15 * SEC, true },
	{ EXPORT_OPT_INACTIVE, "1", 0, 1 * SEC, true },
	{ EXPORT_OPT_INACTIVE, "86400", 0, 86400 * SEC, true },
	{ EXPORT_OPT_ACTIVE, "60", 60 * SEC, 0, true },
	{ EXPORT_OPT_ACTIVE, "1800", 1800 * SEC, 0, true },
	{ EXPORT_OPT_INACTIVE, "0", 0, 0, false },
	{ EXPORT_OPT_INACTIVE, "86401", 0, 0, false },
	{ EXPORT_OPT_INACTIVE, "15s", 0, 0, false },
	{ EXPORT_OPT_ACTIVE, "-1", 0, 0, false },
	{ EXPORT_OPT_ACTIVE, "", 0, 0, false },
};

static void test_timeouts(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct export_options o, defaults;
		struct flow_cache_config cfg, def;
		int rc = -1;

		export_options_init(&o);
		export_options_init(&defaults);
		def = export_options_cache_config(&defaults);
		if (!export_options_parse(&o, NULL, cases[i].opt, cases[i].arg, &rc)) {
			print_error("option %d not taken\n", cases[i].opt);
			bad++;
			continue;
		}
		cfg = export_options_cache_config(&o);
		if ((rc == 0) != cases[i].accepted) {
			print_error("'%s': rc %d, want %s\n", cases[i].arg, rc,
				    cases[i].accepted ? "accepted" : "refused");
			bad++;
		} else if (cases[i].accepted &&
			   (cfg.active_timeout_ns != (cases[i].active_ns ? cases[i].active_ns :
									   def.active_timeout_ns) ||
			    cfg.inactive_timeout_ns != (cases[i].inactive_ns ?
								cases[i].inactive_ns :
								def.inactive_timeout_ns))) {
			print_error("'%s': active %llu ns, inactive %llu ns\n", cases[i].arg,
				    (unsigned long long)cfg.active_timeout_ns,
				    (unsigned long long)cfg.inactive_timeout_ns);
			bad++;
		}
		export_options_cleanup(&o);
		export_options_cleanup(&defaults);
	}
	assert_int_equal(bad, 0);
}

/* The defaults NetFlow users expect, and the end-of-flow grace that keeps
 * a reset's verdict (decided 5 s after the RST) on the flow's record. */
static void test_defaults(void **state)
{
	struct export_options o;
	struct flow_cache_config cfg;

	(void)state;
	export_options_init(&o);
	cfg = export_options_cache_config(&o);
	assert_int_equal(cfg.active_timeout_ns, 60 * SEC);
	assert_int_equal(cfg.inactive_timeout_ns, 15 * SEC);
	assert_int_equal(cfg.end_grace_ns, 6 * SEC);
	export_options_cleanup(&o);
}

/* The probe id: in every JSON line and, hashed, the NetFlow source id, so
 * probes of a fleet differ without anyone numbering them; --source-id
 * still wins. */
static void test_probe_id(void **state)
{
	struct export_options a, b;
	int rc;

	(void)state;
	export_options_init(&a);
	export_options_init(&b);
	assert_true(a.probe_id[0] != '\0'); /* the host name */
	assert_true(export_options_parse(&a, NULL, EXPORT_OPT_PROBE_ID, "bras-1", &rc));
	assert_int_equal(rc, 0);
	assert_true(export_options_parse(&b, NULL, EXPORT_OPT_PROBE_ID, "bras-2", &rc));
	assert_string_equal(a.probe_id, "bras-1");
	assert_true(export_options_source_id(&a) != export_options_source_id(&b));
	assert_true(export_options_source_id(&a) != 0);
	assert_true(export_options_parse(&a, NULL, EXPORT_OPT_SOURCE_ID, "7", &rc));
	assert_int_equal(export_options_source_id(&a), 7);
	assert_true(export_options_parse(&b, NULL, EXPORT_OPT_PROBE_ID, "two words", &rc));
	assert_int_equal(rc, -EINVAL);
	assert_true(export_options_parse(&b, NULL, EXPORT_OPT_PROBE_ID, "", &rc));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(b.probe_id, "bras-2");
	export_options_cleanup(&a);
	export_options_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_probe_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
