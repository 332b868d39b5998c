/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The log's account of full tables: how many flows full buckets pushed out
 * early (counted, exported as their own records) and how many packets and
 * bytes found even the eviction ring full (uncounted), from the datapath's
 * counters. One warning line per period at most while it goes on, so a
 * flood cannot flood the log too, and the totals at the end.
 */
#ifndef FLOOD_REPORT_H
#define FLOOD_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "flowprobe.h"

#define FLOOD_REPORT_PERIOD_NS (10ull * 1000000000ull)

struct flood_report {
	__u64 logged[CNT__MAX]; /* counters at the last line */
	uint64_t last_log_ns; /* 0: quiet since the last line */
	bool started; /* logged[] holds a first reading */
};

/* Called each drain with the summed counters; logs when flows were pushed
 * out or packets went uncounted since the last line, at most once a period.
 * The first reading only sets the baseline (after a takeover the counters
 * carry the pinned probe's history). */
void flood_report_tick(struct flood_report *fr, const __u64 counters[CNT__MAX], uint64_t now_ns);

/* At stop: the line for what is not logged yet, whatever the period. */
void flood_report_finish(struct flood_report *fr, const __u64 counters[CNT__MAX]);

/* The line itself, for tests: what happened between two readings. Returns
 * false (and writes nothing) when nothing did. */
bool flood_report_format(char *buf, size_t len, const __u64 before[CNT__MAX],
			 const __u64 after[CNT__MAX]);

#endif /* FLOOD_REPORT_H */
