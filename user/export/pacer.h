/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Export pacing: at most `rate` packets a second to one collector, in
 * bursts of at most `burst`. A collector's socket buffer (208 KB by default
 * on Linux, about 90 datagrams of 1400 bytes) is what absorbs a burst;
 * 3,000 packets sent at once overflow it, the same packets spread over a
 * second do not. Pure: time is passed in, so the schedule can be tested.
 *
 * A generic cell rate algorithm: tat is the "theoretical arrival time" of
 * the next packet; a packet may go when now >= tat - (burst - 1) * interval.
 */
#ifndef PACER_H
#define PACER_H

#include <stdbool.h>
#include <stdint.h>

/* Bursts last this long at most: the wake-up granularity of paced export. */
#define PACER_SLICE_NS 5000000ull

struct pacer {
	uint64_t interval_ns; /* 1e9 / rate; 0: not paced */
	uint64_t tolerance_ns; /* (burst - 1) * interval */
	uint64_t tat_ns;
};

/* rate packets/s, 0 for no pacing; the burst is PACER_SLICE_NS worth. */
void pacer_init(struct pacer *p, uint32_t rate);

/* May a packet leave at now_ns? */
bool pacer_ready(const struct pacer *p, uint64_t now_ns);

/* A packet left at now_ns. */
void pacer_take(struct pacer *p, uint64_t now_ns);

/* When a whole burst may leave again (0 when not paced): the time to wake
 * for packets that wait. */
uint64_t pacer_wake_ns(const struct pacer *p, uint64_t now_ns);

/* Packets per burst. */
uint32_t pacer_burst(const struct pacer *p);

#endif /* PACER_H */
