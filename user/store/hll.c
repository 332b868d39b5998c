// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HyperLogLog registers: add, merge, estimate and the stored blob.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "store/hll.h"

#define RANK_MAX 15 /* 4 bits a register in the dense blob */

enum {
	FMT_SPARSE = 0,
	FMT_DENSE = 1
};

/* splitmix64's finaliser over the address words: fixed, well mixed. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

uint64_t hll_peer_hash(uint8_t ip_version, const uint8_t addr[16])
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return mix(mix(a ^ ip_version) ^ b);
}

void hll_add(struct hll *h, uint64_t hash)
{
	uint32_t idx = hash >> (64 - HLL_P);
	uint64_t rest = hash << HLL_P;
	uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : 64 - HLL_P + 1;

	if (rank > RANK_MAX)
		rank = RANK_MAX;
	if (rank > h->reg[idx])
		h->reg[idx] = rank;
}

void hll_merge(struct hll *into, const struct hll *from)
{
	for (uint32_t i = 0; i < HLL_REGS; i++)
		if (from->reg[i] > into->reg[i])
			into->reg[i] = from->reg[i];
}

bool hll_empty(const struct hll *h)
{
	for (uint32_t i = 0; i < HLL_REGS; i++)
		if (h->reg[i])
			return false;
	return true;
}

uint64_t hll_estimate(const struct hll *h)
{
	const double m = HLL_REGS, alpha = 0.7213 / (1 + 1.079 / m);
	double sum = 0, e;
	unsigned int zeros = 0;

	for (uint32_t i = 0; i < HLL_REGS; i++) {
		sum += ldexp(1.0, -h->reg[i]);
		zeros += !h->reg[i];
	}
	e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / zeros);
	return (uint64_t)llround(e);
}

size_t hll_encode(const struct hll *h, uint8_t out[HLL_BLOB_MAX])
{
	size_t n = 1;

	out[0] = FMT_SPARSE;
	for (uint32_t i = 0; i < HLL_REGS; i++) {
		if (!h->reg[i])
			continue;
		if (n + 2 > HLL_BLOB_MAX)
			goto dense;
		out[n++] = i;
		out[n++] = h->reg[i];
	}
	return n;
dense:
	out[0] = FMT_DENSE;
	for (uint32_t i = 0; i < HLL_REGS; i += 2)
		out[1 + i / 2] = h->reg[i] << 4 | h->reg[i + 1];
	return HLL_BLOB_MAX;
}

int hll_merge_blob(struct hll *h, const void *blob, size_t len)
{
	const uint8_t *b = blob;
	struct hll x = {};

	if (!len)
		return 0; /* NULL in the database: no peers */
	if (b[0] == FMT_SPARSE && len % 2 == 1) {
		for (size_t i = 1; i < len; i += 2) {
			if (b[i + 1] > RANK_MAX)
				return -EINVAL;
			x.reg[b[i]] = b[i + 1];
		}
	} else if (b[0] == FMT_DENSE && len == HLL_BLOB_MAX) {
		for (uint32_t i = 0; i < HLL_REGS; i += 2) {
			x.reg[i] = b[1 + i / 2] >> 4;
			x.reg[i + 1] = b[1 + i / 2] & 15;
		}
	} else {
		return -EINVAL;
	}
	hll_merge(h, &x);
	return 0;
}
