/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records for the unit tests of the daemon's consumers (history, store,
 * P2P hosts): an IPv4 address into a key's 16 bytes, and an ordinary TCP
 * flow record ending at a given time. One definition, so that the tests
 * feed their consumers the same shape of record the pipeline does.
 */
#ifndef FLOW_FIXTURE_H
#define FLOW_FIXTURE_H

#include <stdint.h>
#include <string.h>
#include "lib/flow_record.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* An IPv4 address as the datapath keys hold it: first 4 bytes, rest 0. */
static inline void put4(uint8_t a[16], uint32_t v)
{
	memset(a, 0, 16);
	a[0] = v >> 24;
	a[1] = v >> 16;
	a[2] = v >> 8;
	a[3] = v;
}

/* A TCP flow of 3 packets and `bytes` bytes, lasting 100 ms up to t. */
static inline struct flow_record tcp4_flow(uint32_t src, uint32_t dst, uint16_t sport,
					   uint16_t dport, uint64_t bytes, uint64_t t)
{
	struct flow_record r = {};

	r.key.ip_version = 4;
	r.key.proto = 6;
	put4(r.key.src, src);
	put4(r.key.dst, dst);
	r.key.sport = sport;
	r.key.dport = dport;
	r.packets = 3;
	r.bytes = bytes;
	r.first_ms = t - 100;
	r.last_ms = t;
	return r;
}

#endif /* FLOW_FIXTURE_H */
