// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The curve options, their defaults, ranges and help.
 */
#include <errno.h>
#include "curve/curve_options.h"
#include "curve/knee.h"
#include "lib/log.h"
#include "lib/parse_number.h"

#define MIN_SAMPLE_NS (10 * 1000000ull) /* 10 ms */
#define MAX_SAMPLE_NS (3600 * 1000000000ull) /* 1 h */
#define MIN_WINDOW_NS (60 * 1000000000ull) /* 1 min */
#define MAX_WINDOW_NS (366 * 86400 * 1000000000ull)

void curve_options_init(struct curve_options *o)
{
	*o = (struct curve_options){
		.sample_ns = CURVE_SAMPLE_NS_DEFAULT,
		.window_ms = KNEE_WINDOW_MS_DEFAULT,
	};
}

static int duration_option(const char *opt, const char *arg, uint64_t min, uint64_t max,
			   uint64_t *out)
{
	uint64_t ns;

	if (parse_duration_ns(arg, &ns) || ns < min || ns > max) {
		log_error("%s: '%s' is not a duration from %llu ms to %llu s "
			  "(e.g. 250ms, 1s, 24h)",
			  opt, arg, (unsigned long long)(min / 1000000),
			  (unsigned long long)(max / 1000000000));
		return -EINVAL;
	}
	*out = ns;
	return 0;
}

bool curve_options_parse(struct curve_options *o, int c, const char *arg, int *rc)
{
	uint64_t ns = o->window_ms * 1000000;

	switch (c) {
	case CURVE_OPT_SAMPLE:
		*rc = duration_option("--sample", arg, MIN_SAMPLE_NS, MAX_SAMPLE_NS, &o->sample_ns);
		o->asked = true;
		return true;
	case CURVE_OPT_CAPACITY:
		if (parse_rate_bps(arg, &o->capacity_bps)) {
			log_error("--capacity: '%s' is not a link rate in bits/s "
				  "(e.g. 100M, 1G, 20mbit)",
				  arg);
			*rc = -EINVAL;
		} else {
			*rc = 0;
		}
		return true;
	case CURVE_OPT_CSV:
		o->csv_path = arg;
		o->asked = true;
		*rc = 0;
		return true;
	case CURVE_OPT_WINDOW:
		*rc = duration_option("--knee-window", arg, MIN_WINDOW_NS, MAX_WINDOW_NS, &ns);
		o->window_ms = ns / 1000000;
		return true;
	default:
		return false;
	}
}

void curve_options_usage(FILE *out)
{
	fprintf(out,
		"\n"
		"Utilisation against active flows (docs/curve.md):\n"
		"      --capacity BPS               link capacity C in bits/s, k/M/G suffixes\n"
		"                                   (e.g. 100M). Default: the speed the kernel\n"
		"                                   reports for each interface; needed where it\n"
		"                                   reports none (veth, tun, replay).\n"
		"      --sample DURATION            bin length Δ of the samples: 250ms, 1s,\n"
		"                                   ... (1s). Every Δ per interface: ρ, N, r.\n"
		"      --curve-csv FILE             also write the samples to FILE as CSV\n"
		"      --knee-window DURATION       sliding window of the knee estimate (24h)\n"
		"With --json, samples are {\"type\":\"curve\"} lines and knee estimates\n"
		"{\"type\":\"knee\"} lines. A sample is reported once the inactive timeout has\n"
		"passed after its bin (a pause that short keeps a flow active). Draw the CSV\n"
		"with 'flowprobe curve FILE.csv -o curve.svg'.\n"
		"\n");
}
