/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Utilisation and active flows per time bin, per interface: the samples
 * the knee of the utilisation curve is found from. Fed with what the drain
 * reads from the kernel (per flow and period: bytes and the times of the
 * first and last packet), it cuts the probe clock into bins of Δ and
 * reports, for each finished bin,
 *
 *   ρ = 8·bytes / (C·Δ)        utilisation of capacity C (bits/s)
 *   N = Σ overlap(flow's [first, last], bin) / Δ
 *                              time-averaged active flows
 *   flows with a packet in the bin, and r = ρ·C / N (bits/s per flow).
 *
 * A flow is active from its first packet to its last. A pause between two
 * of its packets shorter than the gap (the flow cache's inactive timeout:
 * the pause after which NetFlow starts a new record) keeps it active; a
 * longer pause leaves it inactive in between. A flow of one packet has
 * first == last: it adds nothing to N and one to flows_with_packets.
 *
 * Because a pause is only known to be bridged when the next packet comes,
 * a bin is reported once the drained clock has passed its end by the gap.
 * Pure: no clock, no I/O; tests drive it with made-up times.
 */
#ifndef SAMPLER_H
#define SAMPLER_H

#include <net/if.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "flowprobe.h"

#define SAMPLER_MAX_IFACES 16

struct sampler_iface {
	int ifindex; /* 0: every interface (replay) */
	char name[IF_NAMESIZE];
	uint64_t capacity_bps; /* C, bits per second, > 0 */
};

struct curve_sample {
	int iface; /* index in the config's ifaces */
	int ifindex;
	const char *name;
	uint64_t start_ns; /* bin start, probe clock */
	uint64_t duration_ns; /* Δ */
	double bytes; /* IP bytes in the bin */
	uint64_t capacity_bps;
	double utilisation; /* ρ, fraction of C */
	double active_flows; /* N, time-averaged */
	uint64_t flows_with_packets;
	double rate_per_flow_bps; /* r = ρC/N; 0 when N is 0 */
	/* The bin starts less than one gap after counting began: a flow that
	 * was already running is seen only from its next packet, so N may be
	 * short. Reported, but kept out of the knee estimate. */
	bool warmup;
};

typedef void (*sampler_cb)(void *ctx, const struct curve_sample *s);

struct sampler_config {
	uint64_t bin_ns; /* Δ */
	uint64_t gap_ns; /* a shorter pause keeps a flow active */
	const struct sampler_iface *ifaces;
	size_t n_ifaces; /* 1..SAMPLER_MAX_IFACES */
	sampler_cb on_sample;
	void *ctx;
};

struct sampler;

/* NULL on a bad config (errno EINVAL) or out of memory. */
struct sampler *sampler_new(const struct sampler_config *cfg);
void sampler_free(struct sampler *s);

/* The probe clock when counting began. A bin that starts before it is
 * partial and is never reported; neither is anything before it. */
void sampler_start(struct sampler *s, uint64_t now_ns);

/*
 * One drained entry: a flow's packets on one CPU in one drain period, the
 * key (its ifindex picks the interface), the period's first and last
 * packet times and its IP bytes. The same flow may come several times per
 * period (once per CPU), in any order.
 */
void sampler_observe(struct sampler *s, const struct flow_key *key, uint64_t first_ns,
		     uint64_t last_ns, uint64_t bytes);

/* Every packet before now_ns has been observed: reports the bins that can
 * no longer change (end + gap <= now) and forgets flows idle past the gap. */
void sampler_advance(struct sampler *s, uint64_t now_ns);

/* Counting has ended at now_ns: reports every bin that ended by then. The
 * bin cut short by the end is partial and not reported. */
void sampler_finish(struct sampler *s, uint64_t now_ns);

/* Observations that fell outside the bins still open (before the start,
 * or too late): should stay 0; a test and a debug line watch it. */
uint64_t sampler_dropped(const struct sampler *s);

#endif /* SAMPLER_H */
