// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The export pacer (see pacer.h): a generic cell rate algorithm, because it
 * needs one timestamp of state and no refill arithmetic.
 */
#include "export/pacer.h"

void pacer_init(struct pacer *p, uint32_t rate)
{
	uint64_t burst;

	*p = (struct pacer){ 0 };
	if (!rate)
		return;
	p->interval_ns = 1000000000ull / rate;
	if (!p->interval_ns)
		p->interval_ns = 1;
	burst = PACER_SLICE_NS / p->interval_ns;
	if (burst < 1)
		burst = 1;
	p->tolerance_ns = (burst - 1) * p->interval_ns;
}

bool pacer_ready(const struct pacer *p, uint64_t now_ns)
{
	return !p->interval_ns || now_ns + p->tolerance_ns >= p->tat_ns;
}

void pacer_take(struct pacer *p, uint64_t now_ns)
{
	if (!p->interval_ns)
		return;
	/* Idle time earns at most one burst, never more. */
	if (p->tat_ns < now_ns)
		p->tat_ns = now_ns;
	p->tat_ns += p->interval_ns;
}

uint64_t pacer_wake_ns(const struct pacer *p, uint64_t now_ns)
{
	if (!p->interval_ns)
		return 0;
	/* At tat the whole burst is available: one wake-up a burst rather
	 * than one a packet. */
	return p->tat_ns > now_ns ? p->tat_ns : now_ns;
}

uint32_t pacer_burst(const struct pacer *p)
{
	return p->interval_ns ? (uint32_t)(p->tolerance_ns / p->interval_ns + 1) : 0;
}
