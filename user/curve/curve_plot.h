/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The picture of the utilisation curve, drawn with PLplot's SVG device:
 * the samples (N, ρ) as points coloured by time, the fitted line (bent at
 * the knee when there is one), the knee, the working area shaded, the
 * busy hour's 95th percentile of N, the verdict; axes with labels, units
 * and ticks laid out by PLplot.
 */
#ifndef CURVE_PLOT_H
#define CURVE_PLOT_H

#include <stddef.h>
#include <stdint.h>
#include "curve/curve_csv.h"
#include "curve/knee.h"

/*
 * Draws rows (one interface, in time order) with the estimate k into an
 * SVG file at path. Returns 0, or -1 with a one-line reason in err.
 */
int curve_plot_svg(const char *path, const struct curve_row *rows, size_t n,
		   const struct knee_result *k, char *err, size_t errlen);

#endif /* CURVE_PLOT_H */
