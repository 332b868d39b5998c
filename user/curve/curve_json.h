/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * JSON Lines of the utilisation curve: {"type":"curve"} per sample and
 * {"type":"knee"} per change of the verdict (and a final one). The
 * contract names time, active_flows, utilisation and rate_per_flow; the
 * rest are additions.
 */
#ifndef CURVE_JSON_H
#define CURVE_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "curve/knee.h"
#include "curve/sampler.h"

/* Returns 0, -ENOMEM or -EIO. */
int curve_json_sample(FILE *out, const struct curve_sample *s, uint64_t wall_ms);

/* A knee estimate for one interface at wall_ms (the last sample's time);
 * final marks the summary at shutdown or at the end of a replay. */
int curve_json_knee(FILE *out, const char *iface, int ifindex, uint64_t capacity_bps,
		    const struct knee_result *k, uint64_t wall_ms, bool final);

#endif /* CURVE_JSON_H */
