// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Full tables in the log (see flood_report.h). The numbers are differences
 * of the datapath's exact counters, so the line says precisely what went
 * to the eviction ring and what went uncounted, never an estimate.
 */
#include <stdio.h>
#include <string.h>
#include "datapath/flood_report.h"
#include "lib/log.h"

static uint64_t delta(const __u64 before[CNT__MAX], const __u64 after[CNT__MAX], enum counter c)
{
	return after[c] >= before[c] ? after[c] - before[c] : 0;
}

bool flood_report_format(char *buf, size_t len, const __u64 before[CNT__MAX],
			 const __u64 after[CNT__MAX])
{
	uint64_t flows = delta(before, after, CNT_FLOWS_EVICTED);
	uint64_t upk = delta(before, after, CNT_UNCOUNTED_PACKETS);

	if (!flows && !upk)
		return false;
	snprintf(buf, len,
		 "flow table full: %llu flows pushed out of full buckets early "
		 "(%llu packets, %llu bytes: counted, exported as their own "
		 "records); %llu packets, %llu bytes uncounted (bucket and eviction "
		 "ring full)%s",
		 (unsigned long long)flows,
		 (unsigned long long)delta(before, after, CNT_EVICTED_PACKETS),
		 (unsigned long long)delta(before, after, CNT_EVICTED_BYTES),
		 (unsigned long long)upk,
		 (unsigned long long)delta(before, after, CNT_UNCOUNTED_BYTES),
		 upk ? ": a flood of new flows, or tables too small for this "
		       "link (--max-flows, --evict-ring)" :
		       "");
	return true;
}

/* Evictions alone are the table doing its job (info); uncounted packets
 * are a loss of detail the operator must hear about (warning). */
static bool log_since(struct flood_report *fr, const __u64 counters[CNT__MAX])
{
	bool lost = counters[CNT_UNCOUNTED_PACKETS] > fr->logged[CNT_UNCOUNTED_PACKETS];
	char line[512];
	bool any = flood_report_format(line, sizeof(line), fr->logged, counters);

	if (any && lost)
		log_warn("%s", line);
	else if (any)
		log_info("%s", line);
	memcpy(fr->logged, counters, sizeof(fr->logged));
	return any;
}

void flood_report_tick(struct flood_report *fr, const __u64 counters[CNT__MAX], uint64_t now_ns)
{
	if (!fr->started) {
		memcpy(fr->logged, counters, sizeof(fr->logged));
		fr->started = true;
		return;
	}
	/* The first line of an episode at once, then one a period. */
	if (fr->last_log_ns && now_ns - fr->last_log_ns < FLOOD_REPORT_PERIOD_NS)
		return;
	fr->last_log_ns = log_since(fr, counters) ? now_ns : 0;
}

void flood_report_finish(struct flood_report *fr, const __u64 counters[CNT__MAX])
{
	if (fr->started)
		log_since(fr, counters);
}
