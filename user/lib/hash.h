/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The daemon's one hash for its tables' keys (flow keys, connection keys):
 * 64-bit multiply-xorshift over the key's 8-byte words and its tail. The
 * keys are built zero-padded (by the datapath, or by conn_key_of_flow), so
 * hashing the whole struct is well defined. Seeded once per process from
 * getrandom(2) (hash.c), as the datapath seeds its own: the flow cache
 * chains on 5-tuples an attacker chooses, and without the seed he could
 * aim them all at one chain. Not a cryptographic hash; the seed only
 * keeps the buckets from being predictable.
 */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Drawn before main by hash.c. A test that wants the same buckets run
 * after run may set it, before it fills any table: a table filled under
 * another seed no longer finds its keys. (No unit test needs to today:
 * none depends on the order of a hashed table.) */
extern uint64_t hash_seed_value;

static inline uint64_t hash_bytes(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0x9E3779B97F4A7C15ull ^ hash_seed_value, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	w = 0;
	memcpy(&w, p + i, len - i);
	h = (h ^ w) * 0x94D049BB133111EBull;
	return h ^ (h >> 29);
}

#endif /* HASH_H */
