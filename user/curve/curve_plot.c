// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The curve as SVG through PLplot: PLplot places the axes, ticks, labels
 * and the colour bar; this file only says what goes where in data units.
 * Utilisation is drawn in percent of capacity, N in flows.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <plplot.h>
#include "curve/curve_plot.h"

/* cmap0 slots this plot redefines. */
enum {
	COL_BG = 0,
	COL_INK = 1, /* axes, text, the fitted line */
	COL_WORK = 2, /* working-area shading */
	COL_KNEE = 3,
	COL_BUSY = 4,
};

static double max_of(const struct curve_row *rows, size_t n, bool rho)
{
	double m = 0;

	for (size_t i = 0; i < n; i++) {
		double v = rho ? rows[i].utilisation : rows[i].active_flows;

		if (v > m)
			m = v;
	}
	return m;
}

/* Time runs from dark blue (first sample) to orange (last). */
static void time_colours(void)
{
	PLFLT pos[] = { 0.0, 1.0 };
	PLFLT r[] = { 0.05, 0.95 };
	PLFLT g[] = { 0.20, 0.45 };
	PLFLT b[] = { 0.60, 0.05 };

	plscmap1n(256);
	plscmap1l(1, 2, pos, r, g, b, NULL);
}

static void colour_bar(const struct curve_row *rows, size_t n)
{
	double minutes = (rows[n - 1].unix_ms - rows[0].unix_ms) / 60000.0;
	PLFLT colorbar_w, colorbar_h;
	PLFLT values_row[2] = { 0, minutes > 0 ? minutes : 1 };
	const PLFLT *values[1] = { values_row };
	PLINT n_values[1] = { 2 };
	PLINT label_opts[1] = { PL_COLORBAR_LABEL_RIGHT };
	const char *labels[1] = { "minutes since the first sample" };
	const char *axis_opts[1] = { "bcvtm" };
	PLFLT ticks[1] = { 0 };
	PLINT sub_ticks[1] = { 0 };

	plcol0(COL_INK);
	plschr(0, 0.8);
	plcolorbar(&colorbar_w, &colorbar_h, PL_COLORBAR_GRADIENT | PL_COLORBAR_LABEL_RIGHT,
		   PL_POSITION_RIGHT, 0.03, 0.0, 0.03, 0.8, COL_BG, COL_INK, 1, 0, 0, COL_INK, 1, 1,
		   label_opts, labels, 1, axis_opts, ticks, sub_ticks, n_values,
		   (PLFLT_MATRIX)values);
	plschr(0, 1.0);
}

static void utc(char *buf, size_t len, uint64_t ms)
{
	time_t secs = ms / 1000;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void title_of(char *buf, size_t len, const struct curve_row *rows, size_t n)
{
	char first[32], last[32];

	utc(first, sizeof(first), rows[0].unix_ms);
	utc(last, sizeof(last), rows[n - 1].unix_ms);
	snprintf(buf, len, "%s at %.6g Mbit/s: %zu samples, %s to %s UTC", rows[0].interface,
		 rows[0].capacity_bps / 1e6, n, first, last);
}

int curve_plot_svg(const char *path, const struct curve_row *rows, size_t n,
		   const struct knee_result *k, char *err, size_t errlen)
{
	double xmax, ymax;
	char title[160], text[160];
	FILE *probe;

	if (!n) {
		snprintf(err, errlen, "no samples to draw");
		return -1;
	}
	/* PLplot exits the process when it cannot open its output: find out
	 * first, and say so in our own words. */
	probe = fopen(path, "w");
	if (!probe) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	fclose(probe);

	xmax = max_of(rows, n, false);
	if (k->status == KNEE_FOUND && k->n_star > xmax)
		xmax = k->n_star;
	xmax = xmax > 0 ? xmax * 1.08 : 1;
	ymax = 100 * max_of(rows, n, true);
	if (k->status == KNEE_FOUND && 100 * k->rho_star > ymax)
		ymax = 100 * k->rho_star;
	ymax = ymax > 0 ? ymax * 1.12 : 1;

	plsdev("svg");
	plsfnam(path);
	plspage(0, 0, 1000, 700, 0, 0);
	plscol0(COL_BG, 255, 255, 255);
	plscol0(COL_INK, 0, 0, 0);
	plscol0a(COL_WORK, 120, 200, 120, 0.25);
	plscol0(COL_KNEE, 200, 0, 0);
	plscol0(COL_BUSY, 90, 90, 90);
	time_colours();
	plinit();
	pladv(0);
	plvpor(0.11, 0.80, 0.11, 0.86);
	plwind(0, xmax, 0, ymax);

	if (k->status == KNEE_FOUND) {
		PLFLT wx[] = { 0, k->n_star, k->n_star, 0 };
		PLFLT wy[] = { 0, 0, ymax, ymax };

		plcol0(COL_WORK);
		plfill(4, wx, wy);
		plcol0(COL_INK);
		plschr(0, 0.8);
		plptex(k->n_star * 0.03, ymax * 0.95, 1, 0, 0, "working area");
		plschr(0, 1.0);
	}

	plcol0(COL_INK);
	plbox("bcnst", 0, 0, "bcnstv", 0, 0);
	title_of(title, sizeof(title), rows, n);
	pllab("active flows N (time-averaged over each bin)", "utilisation #gr (% of capacity)",
	      "");
	plschr(0, 0.85);
	plmtex("t", 2.4, 0.5, 0.5, title);
	plmtex("t", 0.9, 0.5, 0.5, k->verdict);
	plschr(0, 1.0);

	/* The samples, coloured by time. */
	plssym(0, 0.6);
	for (size_t i = 0; i < n; i++) {
		double span = rows[n - 1].unix_ms - rows[0].unix_ms;
		PLFLT x = rows[i].active_flows, y = 100 * rows[i].utilisation;

		plcol1(span > 0 ? (rows[i].unix_ms - rows[0].unix_ms) / span : 0);
		plpoin(1, &x, &y, 17);
	}
	plssym(0, 1.0);

	/* The fit: one line through 0, bent at the knee when there is one. */
	plcol0(COL_INK);
	plwidth(2);
	if (k->status == KNEE_FOUND) {
		PLFLT fx[] = { 0, k->n_star, xmax };
		PLFLT fy[] = { 0, 100 * k->rho_star, 100 * k->rho_star };

		plline(3, fx, fy);
	} else if (k->status == KNEE_NO_KNEE) {
		PLFLT fx[] = { 0, xmax };
		PLFLT fy[] = { 0, 100 * k->slope * xmax };

		plline(2, fx, fy);
	}
	plwidth(1);

	if (k->status == KNEE_FOUND) {
		PLFLT kx = k->n_star, ky = 100 * k->rho_star;

		plcol0(COL_KNEE);
		plssym(0, 2.0);
		plpoin(1, &kx, &ky, 5);
		plssym(0, 1.0);
		snprintf(text, sizeof(text), "knee: N* = %.1f, #gr* = %.0f%%", k->n_star,
			 100 * k->rho_star);
		plptex(kx, ky * 0.9, 1, 0, 0.0, text);
	}
	if (k->status != KNEE_TOO_FEW_SAMPLES && k->n_p95 > 0) {
		PLFLT bx[] = { k->n_p95, k->n_p95 };
		PLFLT by[] = { 0, ymax };

		plcol0(COL_BUSY);
		pllsty(2);
		plline(2, bx, by);
		pllsty(1);
		plschr(0, 0.8);
		plptex(k->n_p95, ymax * 0.05, 0, 1, 0, " busy-hour p95 of N");
		plschr(0, 1.0);
	}
	colour_bar(rows, n);
	plend();
	return 0;
}
