/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `run`'s dashboard options and their wiring: the history, the HTTP
 * server and the --events file, set up around the pipeline so run.c only
 * calls four functions.
 */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include "web/history.h"
#include "web/http_server.h"
#include "daemon/pipeline.h"

struct dashboard_options {
	const char *http; /* --http ADDR:PORT; NULL: default or none */
	bool no_http;
	const char *token_file;
	const char *web_dir;
	const char *events; /* --events FILE */
	unsigned long history_s;
	const char *state_dir; /* --state-dir; NULL: the default */
	unsigned long retention_s; /* --retention */
	bool no_store; /* --no-store */
	const char *store_url; /* --store clickhouse://... */
	const char *store_password_file;
	const char *probe_id; /* the export options' --probe-id (the host name) */
};

enum {
	DASHBOARD_OPT_HTTP = 0x300,
	DASHBOARD_OPT_NO_HTTP,
	DASHBOARD_OPT_TOKEN,
	DASHBOARD_OPT_WEB_DIR,
	DASHBOARD_OPT_EVENTS,
	DASHBOARD_OPT_HISTORY,
	DASHBOARD_OPT_STATE_DIR,
	DASHBOARD_OPT_RETENTION,
	DASHBOARD_OPT_NO_STORE,
	DASHBOARD_OPT_STORE,
	DASHBOARD_OPT_STORE_PASSWORD,
};

#define DASHBOARD_LONGOPTS                                                                   \
	{ "http", required_argument, NULL, DASHBOARD_OPT_HTTP },                             \
		{ "no-http", no_argument, NULL, DASHBOARD_OPT_NO_HTTP },                     \
		{ "http-token-file", required_argument, NULL, DASHBOARD_OPT_TOKEN },         \
		{ "web-dir", required_argument, NULL, DASHBOARD_OPT_WEB_DIR },               \
		{ "events", required_argument, NULL, DASHBOARD_OPT_EVENTS },                 \
		{ "history", required_argument, NULL, DASHBOARD_OPT_HISTORY },               \
		{ "state-dir", required_argument, NULL, DASHBOARD_OPT_STATE_DIR },           \
		{ "retention", required_argument, NULL, DASHBOARD_OPT_RETENTION },           \
		{ "no-store", no_argument, NULL, DASHBOARD_OPT_NO_STORE },                   \
		{ "store", required_argument, NULL, DASHBOARD_OPT_STORE },                   \
	{                                                                                    \
		"store-password-file", required_argument, NULL, DASHBOARD_OPT_STORE_PASSWORD \
	}

void dashboard_options_init(struct dashboard_options *o);
/* Like export_options_parse: true if c was ours, *rc set (0 or -EINVAL). */
bool dashboard_options_parse(struct dashboard_options *o, int c, const char *arg, int *rc);
/* After parsing: the HTTP address and token are checked (0 or -EINVAL). */
int dashboard_options_check(const struct dashboard_options *o);
void dashboard_options_usage(FILE *out);

struct store;
struct live_flows;
struct fleet;

struct dashboard {
	struct fleet *fleet; /* --store clickhouse://, or NULL */
	struct history *history;
	struct store *store; /* the embedded history, or NULL */
	struct live_flows *live; /* with the history: flows shown live */
	struct http_server *http;
	struct event_log *events;
	const char *listen;
};

/* Before pipeline_init: the history, the embedded store (with the
 * dashboard, or when --state-dir is given; not with --no-store) and the
 * JSON Lines split, hooked into pl (pl->history, pl->store,
 * pl->exporter.json). 0, -EINVAL (the --events file cannot be opened),
 * the store's error when --state-dir was given (a default directory that
 * cannot be used is logged and the dashboard goes on from memory), or
 * -ENOMEM. */
int dashboard_prepare(struct dashboard *d, const struct dashboard_options *o,
		      const struct export_options *ex, struct pipeline *pl);
/* After pipeline_init: interface names, then the server starts. */
int dashboard_start(struct dashboard *d, const struct dashboard_options *o, struct pipeline *pl);
/* SIGHUP: the --events file is reopened. */
void dashboard_reopen(struct dashboard *d);
/* After pipeline_finish (the last lines are written), before destroy. */
void dashboard_stop(struct dashboard *d, struct pipeline *pl);

#endif /* DASHBOARD_H */
