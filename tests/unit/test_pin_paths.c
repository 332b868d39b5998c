// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Which bpffs a probe pins into (datapath/pin_paths.c), for each way a
 * daemon can be started: plainly on the host, as a sandboxed service,
 * under `ip netns exec` (a private bpffs of its own), on a host without
 * bpffs, and where /proc/1 cannot be looked at.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "datapath/pin_paths.h"

#define HOST                                                   \
	{                                                      \
		.reachable = true, .is_bpffs = true, .dev = 40 \
	}
#define PRIVATE                                                \
	{                                                      \
		.reachable = true, .is_bpffs = true, .dev = 77 \
	}
#define NO_BPFFS                                                \
	{                                                       \
		.reachable = true, .is_bpffs = false, .dev = 20 \
	}
#define UNREACHABLE \
	{           \
		0   \
	}

static const struct {
	const char *desc;
	struct bpffs_view own, outside;
	int same_mount_ns;
	enum bpffs_choice want;
	bool durable;
} cases[] = {
	{ "on the host", HOST, HOST, 1, BPFFS_USE_OWN, true },
	{ "a sandboxed service (own mount namespace, the host's bpffs)", HOST, HOST, 0,
	  BPFFS_USE_OWN, true },
	{ "a private bpffs; the host's through an ancestor's /proc/PID/root", PRIVATE, HOST, 0,
	  BPFFS_USE_OUTSIDE, true },
	{ "ip netns exec: no bpffs (a new /sys); the host has one", NO_BPFFS, HOST, 0,
	  BPFFS_USE_OUTSIDE, true },
	{ "the host has none: mount it", NO_BPFFS, NO_BPFFS, 1, BPFFS_MOUNT_OWN, true },
	{ "ip netns exec on a host without bpffs: pins die with the process", PRIVATE, NO_BPFFS, 0,
	  BPFFS_USE_OWN, false },
	{ "own namespace, nothing anywhere: a private mount dies with us", NO_BPFFS, NO_BPFFS, 0,
	  BPFFS_MOUNT_OWN, false },
	{ "ancestors hidden: trust our own", HOST, UNREACHABLE, -1, BPFFS_USE_OWN, true },
};

static void test_choices(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool durable = !cases[i].durable;
		enum bpffs_choice got = pin_paths_choose(cases[i].own, cases[i].outside,
							 cases[i].same_mount_ns, &durable);

		if (got != cases[i].want || durable != cases[i].durable) {
			print_error("%s: choice %d durable %d, want %d %d\n", cases[i].desc, got,
				    durable, cases[i].want, cases[i].durable);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
