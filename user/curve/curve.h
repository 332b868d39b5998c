/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The utilisation curve in the daemon: resolves each interface's capacity
 * (--capacity, else the link speed the kernel reports), feeds the drained
 * entries to the sampler, and sends every sample to the outputs (JSON
 * Lines, the CSV file) and to a knee estimator per interface, whose
 * verdict is logged when it changes and summed up at the end.
 */
#ifndef CURVE_H
#define CURVE_H

#include <stdint.h>
#include <stdio.h>
#include "curve/curve_options.h"
#include "flowprobe.h"

struct curve;

struct curve_link {
	const char *name;
	int ifindex;
};

/*
 * links: the watched interfaces; none (n 0) means a replay, one curve for
 * every packet, named "capture". gap_ns: the flow cache's inactive
 * timeout. json: where JSON Lines go, or NULL. Sets *out to NULL when
 * there is nothing to sample (no capacity anywhere and none asked for).
 * Returns 0, -EINVAL (samples asked for without a capacity) or another
 * negative errno (the CSV cannot be written, out of memory), logged.
 */
int curve_setup(struct curve **out, const struct curve_options *o, const struct curve_link *links,
		size_t n, uint64_t gap_ns, FILE *json);

/* The rest accept NULL and then do nothing. */
void curve_start(struct curve *c, uint64_t now_ns);
void curve_observe(struct curve *c, const struct flow_key *key, const struct flow_value *val);
/* After a drain at now_ns; wall = probe clock + wall_offset_ns. */
void curve_tick(struct curve *c, uint64_t now_ns, int64_t wall_offset_ns);
/* Counting ended at now_ns: the last samples, the knee summary. */
void curve_finish(struct curve *c, uint64_t now_ns, int64_t wall_offset_ns);
void curve_free(struct curve *c);

/* The bin length, to align the drains on bin edges (0 for NULL). */
uint64_t curve_bin_ns(const struct curve *c);

#endif /* CURVE_H */
