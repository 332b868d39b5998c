// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `flowprobe curve FILE.csv -o curve.svg`: reads the samples a probe wrote
 * with --curve-csv, estimates the knee again over them (the same estimator
 * the daemon runs), prints the verdict with its confidence, and draws the
 * picture. Needs no privileges and no kernel: a planner can run it on a
 * laptop with a CSV copied from the router.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "curve/curve_csv.h"
#include "curve/curve_options.h"
#include "curve/curve_plot.h"
#include "lib/time_format.h"
#include "curve/knee.h"
#include "lib/log.h"
#include "cli/commands.h"

static void curve_usage(FILE *out)
{
	fprintf(out,
		"Usage: flowprobe curve FILE.csv [-o OUT.svg] [-i IFACE] [--knee-window D]\n"
		"\n"
		"Estimate the overload point of a link from the utilisation samples a probe\n"
		"wrote with 'flowprobe run --curve-csv FILE.csv' (or replay), print the\n"
		"verdict, and draw utilisation against active flows as SVG: the samples\n"
		"coloured by time, the fitted line, the knee, the working area and the busy\n"
		"hour's 95th percentile of N.\n"
		"\n"
		"  -o, --output OUT.svg             the picture (default: FILE with .svg)\n"
		"  -i, --interface IFACE            the interface to look at, when the file\n"
		"                                   holds several (default: the first)\n"
		"      --knee-window DURATION       estimate over the samples of this window\n"
		"                                   before the last one (24h), as the probe does\n"
		"  -h, --help                       this text\n"
		"\n"
		"The knee is only called from at least %d samples, when a line bent at N*\n"
		"explains them clearly better than one straight line; the printed confidence\n"
		"says how many samples lie on each side and how close the fit is.\n"
		"\n"
		"Example: flowprobe curve uplink.csv -o uplink.svg\n"
		"Exit codes: 0 ok, 1 unreadable or malformed file, or picture not written,\n"
		"2 usage.\n",
		KNEE_MIN_SAMPLES);
}

static int by_time(const void *a, const void *b)
{
	const struct curve_row *x = a, *y = b;

	return (x->unix_ms > y->unix_ms) - (x->unix_ms < y->unix_ms);
}

/* Keeps the rows of one interface (the first one's when want is NULL),
 * in time order; lists the others on stderr so none goes unnoticed. */
static size_t select_interface(struct curve_rows *rows, const char *want)
{
	char name[IF_NAMESIZE], others[256] = "";
	size_t kept = 0;

	if (!rows->n)
		return 0;
	snprintf(name, sizeof(name), "%s", want ? want : rows->v[0].interface);
	for (size_t i = 0; i < rows->n; i++) {
		if (!strcmp(rows->v[i].interface, name)) {
			rows->v[kept++] = rows->v[i];
		} else if (!strstr(others, rows->v[i].interface) &&
			   strlen(others) + strlen(rows->v[i].interface) + 3 < sizeof(others)) {
			strcat(others, others[0] ? ", " : "");
			strcat(others, rows->v[i].interface);
		}
	}
	if (others[0])
		log_info("curve: the file also holds %s: choose with -i", others);
	rows->n = kept;
	qsort(rows->v, rows->n, sizeof(*rows->v), by_time);
	return kept;
}

static void print_result(const struct curve_rows *rows, const struct knee_result *k)
{
	const struct curve_row *first = &rows->v[0], *last = &rows->v[rows->n - 1];
	char t0[40], t1[40], busy[40];
	double c = first->capacity_bps;

	json_format_time(t0, sizeof(t0), first->unix_ms);
	json_format_time(t1, sizeof(t1), last->unix_ms);
	printf("interface: %s, capacity %.6g Mbit/s, %zu samples from %s to %s\n", first->interface,
	       c / 1e6, rows->n, t0, t1);
	printf("verdict: %s\n", k->verdict);
	if (k->status == KNEE_TOO_FEW_SAMPLES)
		return;
	if (k->status == KNEE_FOUND)
		printf("knee: N* = %.2f flows, rho* = %.3f (%.1f%% of capacity), "
		       "r = %.4g Mbit/s per flow\n",
		       k->n_star, k->rho_star, 100 * k->rho_star, k->slope * c / 1e6);
	else
		printf("knee: none; one line fits, r = %.4g Mbit/s per flow\n", k->slope * c / 1e6);
	printf("confidence: %u samples in the window", k->samples);
	if (k->status == KNEE_FOUND)
		printf(", %u below the knee and %u above", k->below, k->above);
	printf("; residual RMS %.4f (one straight line: %.4f)\n", k->rms, k->rms_line);
	json_format_time(busy, sizeof(busy), k->busy_start_ms);
	printf("busy hour: from %s, %u samples, p95 of N = %.2f", busy, k->busy_samples, k->n_p95);
	if (k->status == KNEE_FOUND)
		printf(" = %.0f%% of N*", 100 * k->load);
	printf("\n");
}

int cmd_curve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interface", required_argument, NULL, 'i' },
		{ "knee-window", required_argument, NULL, CURVE_OPT_WINDOW },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct curve_options copt;
	struct curve_rows rows = { 0 };
	struct knee_result res;
	struct knee *k = NULL;
	const char *out = NULL, *iface = NULL, *csv;
	char *default_out = NULL, err[512];
	int c, opt_err, rc = EXIT_OK;

	curve_options_init(&copt);
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:i:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'i':
			iface = optarg;
			break;
		case CURVE_OPT_WINDOW:
			curve_options_parse(&copt, c, optarg, &opt_err);
			if (opt_err)
				return exit_code_of(opt_err);
			break;
		case 'h':
			curve_usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'flowprobe curve --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_error("give exactly one curve CSV file (try 'flowprobe curve --help')");
		return EXIT_USAGE;
	}
	csv = argv[optind];
	if (!out) {
		size_t len = strlen(csv);

		default_out = malloc(len + 5);
		if (!default_out)
			return EXIT_RUNTIME;
		strcpy(default_out, csv);
		if (len > 4 && !strcmp(default_out + len - 4, ".csv"))
			default_out[len - 4] = '\0';
		strcat(default_out, ".svg");
		out = default_out;
	}
	if (curve_csv_read(csv, &rows, err, sizeof(err)) != 0) {
		log_error("%s", err);
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (!select_interface(&rows, iface)) {
		log_error("%s holds no samples%s%s", csv, iface ? " of " : "", iface ? iface : "");
		rc = EXIT_RUNTIME;
		goto out;
	}
	k = knee_create(rows.n, copt.window_ms);
	if (!k) {
		rc = EXIT_RUNTIME;
		goto out;
	}
	for (size_t i = 0; i < rows.n; i++) {
		struct knee_sample s = {
			.t_ms = rows.v[i].unix_ms,
			.n = rows.v[i].active_flows,
			.rho = rows.v[i].utilisation,
		};

		if (rows.v[i].warmup)
			continue; /* N may be short there: not for the estimate */
		if (knee_add(k, &s) != 0) {
			log_error("%s: sample at %llu ms has a negative or non-finite "
				  "N or utilisation",
				  csv, (unsigned long long)s.t_ms);
			rc = EXIT_RUNTIME;
			goto out;
		}
	}
	knee_estimate(k, &res);
	print_result(&rows, &res);
	/* Only the window's samples: the picture shows what was fitted. */
	{
		size_t skip = rows.n - knee_count(k);

		if (curve_plot_svg(out, rows.v + skip, rows.n - skip, &res, err, sizeof(err)) !=
		    0) {
			log_error("picture: %s", err);
			rc = EXIT_RUNTIME;
			goto out;
		}
	}
	printf("picture: %s\n", out);
out:
	knee_destroy(k);
	curve_rows_free(&rows);
	free(default_out);
	return rc;
}
