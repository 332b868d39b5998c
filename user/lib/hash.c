// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The seed of the daemon's hash (see hash.h), drawn once per process,
 * before main, so that no table is ever filled under another seed.
 */
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include "lib/hash.h"

uint64_t hash_seed_value;

/* GRND_NONBLOCK: a daemon started early at boot must not wait for the
 * entropy pool; then the clock and the pid stand in, which an attacker
 * on the wire does not see either. */
__attribute__((constructor)) static void hash_seed_init(void)
{
	uint64_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed)) {
		hash_seed_value = seed;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	hash_seed_value = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
			  ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&seed;
}
