/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * /metrics in the Prometheus text exposition format (version 0.0.4):
 * every datapath counter and every daemon statistic through their
 * X-macros, each with its help text, plus resets by verdict, BitTorrent
 * hosts, table fill, and ρ and N per interface from the curve's samples.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdio.h>
#include "web/history.h"

/* Writes the whole exposition to out; 0, or -1 when writing failed. */
int metrics_write(FILE *out, const struct history_metrics *m);

/* docs/metrics.md: every metric's name, type, labels and meaning, from
 * the same descriptions metrics_write uses. */
int metrics_write_doc(FILE *out);

#endif /* METRICS_H */
