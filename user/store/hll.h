/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HyperLogLog registers for a host's distinct peers, in a form that
 * outlives the process: a minute's registers are stored as a blob, and
 * any set of minutes (an hour, a before/after period, several probes)
 * merges by taking each register's maximum, so "peers over the evening"
 * is an estimate of the union, not a sum of minutes that counts a
 * long-lived peer sixty times.
 *
 * The hash is fixed (hll_peer_hash), not the process's seeded hash_bytes:
 * registers written by yesterday's daemon must agree with today's about
 * which register a peer falls in, or a merge double-counts every peer.
 *
 * 2^HLL_P registers, standard error about 1.04 / sqrt(256) = 6.5 %; below
 * 2.5 * 256 distinct peers linear counting on the empty registers is used,
 * which is within a few percent for the tens of peers most hosts have.
 */
#ifndef HLL_H
#define HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLL_P 8
#define HLL_REGS (1u << HLL_P)
/* Longest encoding: a format byte and the dense registers, 4 bits each. */
#define HLL_BLOB_MAX (1 + HLL_REGS / 2)

struct hll {
	uint8_t reg[HLL_REGS];
};

/* The fixed hash of a peer: its IP version and 16-byte address. */
uint64_t hll_peer_hash(uint8_t ip_version, const uint8_t addr[16]);

void hll_add(struct hll *h, uint64_t hash);
void hll_merge(struct hll *into, const struct hll *from);
uint64_t hll_estimate(const struct hll *h);
bool hll_empty(const struct hll *h);

/*
 * The blob: format byte 0 then (index, rank) pairs for the non-zero
 * registers (sparse: a host with 5 peers costs 11 bytes), or format byte
 * 1 then all registers packed two to a byte (ranks are capped at 15,
 * which only matters beyond 2^15 * 256 distinct peers). Whichever is
 * shorter. Returns the length written (out holds HLL_BLOB_MAX).
 */
size_t hll_encode(const struct hll *h, uint8_t out[HLL_BLOB_MAX]);
/* Merges a blob into h: 0, or -EINVAL for a blob no encoder wrote. */
int hll_merge_blob(struct hll *h, const void *blob, size_t len);

#endif /* HLL_H */
