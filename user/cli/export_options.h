/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Command-line options `run` and `replay` share: where flows go (-c,
 * --json), when they end (timeouts), how the kernel table and the NetFlow
 * packets are sized. One parser, one help text, so the two subcommands can
 * never drift apart.
 */
#ifndef EXPORT_OPTIONS_H
#define EXPORT_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include "curve/curve_options.h"
#include "export/exporter.h"
#include "export/flow_cache.h"
#include "detect/prefixes.h"

struct asn_table;

struct export_options {
	unsigned long active_timeout; /* seconds */
	unsigned long inactive_timeout; /* seconds */
	unsigned long source_id; /* --source-id; else from the probe id */
	bool source_id_given;
	char probe_id[64]; /* --probe-id; default: the host name */
	unsigned long max_payload; /* NetFlow payload bytes per packet */
	unsigned long max_flows; /* kernel slots per CPU; 0: default */
	unsigned long max_conns; /* connection table entries */
	struct prefix_set local; /* where the customers are */
	bool local_given; /* --local or --local-file seen */
	unsigned long p2p_period; /* seconds */
	unsigned long p2p_threshold; /* score 1..100 that raises an alarm */
	struct curve_options curve; /* utilisation against active flows */
	unsigned long interval; /* seconds per interval report */
	struct asn_table *asn; /* --asn-table, loaded; NULL: none */
	unsigned long export_rate; /* packets/s a collector; 0: unpaced */
	unsigned long export_queue; /* packets a collector may hold */
	bool reset_template; /* NetFlow templates 260/261 (default on) */
	bool json;
	bool tap;
	bool no_resets; /* --no-resets: no connection table */
	bool no_routes; /* --no-routes: inline, no route lookups */
	bool tunnels_outer; /* --tunnels outer: count tunnels as
					   their outer flow */
	bool verbose;
};

enum {
	EXPORT_OPT_JSON = 0x100,
	EXPORT_OPT_TAP,
	EXPORT_OPT_ACTIVE,
	EXPORT_OPT_INACTIVE,
	EXPORT_OPT_SOURCE_ID,
	EXPORT_OPT_PROBE_ID,
	EXPORT_OPT_MAX_PAYLOAD,
	EXPORT_OPT_MAX_FLOWS,
	EXPORT_OPT_LOCAL,
	EXPORT_OPT_LOCAL_FILE,
	EXPORT_OPT_P2P_PERIOD,
	EXPORT_OPT_P2P_THRESHOLD,
	EXPORT_OPT_MAX_CONNS,
	EXPORT_OPT_NO_RESETS,
	EXPORT_OPT_INTERVAL,
	EXPORT_OPT_ASN_TABLE,
	EXPORT_OPT_NO_RESET_TEMPLATE,
	EXPORT_OPT_TEMPLATE_REFRESH,
	EXPORT_OPT_EXPORT_RATE,
	EXPORT_OPT_EXPORT_QUEUE,
	EXPORT_OPT_SOURCE,
	EXPORT_OPT_IPFIX_PEN,
	EXPORT_OPT_TUNNELS,
	EXPORT_OPT_NO_ROUTES,
	EXPORT_OPT__END, /* subcommands number their own options from here */
};

/* The shared entries of a getopt_long option table. */
#define EXPORT_LONGOPTS                                                                       \
	{ "collector", required_argument, NULL, 'c' },                                        \
		{ "json", no_argument, NULL, EXPORT_OPT_JSON },                               \
		{ "tap", no_argument, NULL, EXPORT_OPT_TAP },                                 \
		{ "active-timeout", required_argument, NULL, EXPORT_OPT_ACTIVE },             \
		{ "inactive-timeout", required_argument, NULL, EXPORT_OPT_INACTIVE },         \
		{ "source-id", required_argument, NULL, EXPORT_OPT_SOURCE_ID },               \
		{ "probe-id", required_argument, NULL, EXPORT_OPT_PROBE_ID },                 \
		{ "max-payload", required_argument, NULL, EXPORT_OPT_MAX_PAYLOAD },           \
		{ "max-flows", required_argument, NULL, EXPORT_OPT_MAX_FLOWS },               \
		{ "local", required_argument, NULL, EXPORT_OPT_LOCAL },                       \
		{ "local-file", required_argument, NULL, EXPORT_OPT_LOCAL_FILE },             \
		{ "p2p-period", required_argument, NULL, EXPORT_OPT_P2P_PERIOD },             \
		{ "p2p-threshold", required_argument, NULL, EXPORT_OPT_P2P_THRESHOLD },       \
		{ "max-connections", required_argument, NULL, EXPORT_OPT_MAX_CONNS },         \
		{ "no-resets", no_argument, NULL, EXPORT_OPT_NO_RESETS },                     \
		{ "tunnels", required_argument, NULL, EXPORT_OPT_TUNNELS },                   \
		{ "no-routes", no_argument, NULL, EXPORT_OPT_NO_ROUTES },                     \
		{ "interval", required_argument, NULL, EXPORT_OPT_INTERVAL },                 \
		{ "asn-table", required_argument, NULL, EXPORT_OPT_ASN_TABLE },               \
		{ "no-reset-template", no_argument, NULL, EXPORT_OPT_NO_RESET_TEMPLATE },     \
		{ "template-refresh", required_argument, NULL, EXPORT_OPT_TEMPLATE_REFRESH }, \
		{ "export-rate", required_argument, NULL, EXPORT_OPT_EXPORT_RATE },           \
		{ "export-queue", required_argument, NULL, EXPORT_OPT_EXPORT_QUEUE },         \
		{ "source", required_argument, NULL, EXPORT_OPT_SOURCE },                     \
		{ "ipfix-pen", required_argument, NULL, EXPORT_OPT_IPFIX_PEN },               \
		{ "verbose", no_argument, NULL, 'v' }, CURVE_LONGOPTS

void export_options_init(struct export_options *o);

/* Frees what parsing loaded (the AS table). */
void export_options_cleanup(struct export_options *o);

/*
 * If c (a getopt_long result) is a shared option, applies it and returns
 * true, with *rc 0 or a negative errno (after a one-line error; -EINVAL
 * for a bad value, lib/errors.h): the subcommand makes it an exit code.
 */
bool export_options_parse(struct export_options *o, struct exporter *ex, int c, const char *arg,
			  int *rc);

/* The NetFlow source id (observation domain): --source-id, or a hash of
 * the probe id, so that probes of a fleet differ without configuring it. */
uint32_t export_options_source_id(const struct export_options *o);

/* Flow cache timeouts and bounds that follow from the options. */
struct flow_cache_config export_options_cache_config(const struct export_options *o);

/* Prints the help lines of the shared options. */
void export_options_usage(FILE *out);

#endif /* EXPORT_OPTIONS_H */
