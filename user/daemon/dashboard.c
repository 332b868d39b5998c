// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The dashboard's options (--http, --no-http, --http-token-file,
 * --web-dir, --events, --history, --state-dir, --retention, --no-store)
 * and their setup around the pipeline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/build_info.h"
#include <sys/stat.h>
#include "daemon/dashboard.h"
#include "daemon/event_log.h"
#include "daemon/live_flows.h"
#include "cli/export_options.h"
#include "lib/log.h"
#include "lib/parse_number.h"
#include "store/fleet.h"
#include "store/schema.h"
#include "store/state_dir.h"
#include "store/store.h"

#define DEFAULT_HISTORY_S 3600

void dashboard_options_init(struct dashboard_options *o)
{
	*o = (struct dashboard_options){
		.history_s = DEFAULT_HISTORY_S,
		.retention_s = STORE_DEFAULT_RETENTION_S,
	};
}

/* "90", "90s", "15m", "1h", "7d"; [min_s, max_s]. */
static int parse_duration(const char *opt, const char *arg, unsigned long min_s,
			  unsigned long max_s, unsigned long *out)
{
	char buf[32];
	const char *given = arg;
	size_t n = strlen(arg);
	unsigned long mult = 1, v;

	if (n && n < sizeof(buf) && strchr("smhd", arg[n - 1])) {
		mult = arg[n - 1] == 'd' ? 86400 :
		       arg[n - 1] == 'h' ? 3600 :
		       arg[n - 1] == 'm' ? 60 :
					   1;
		memcpy(buf, arg, n - 1);
		buf[n - 1] = 0;
		arg = buf;
	}
	if (!*arg || strspn(arg, "0123456789") != strlen(arg)) {
		log_error("%s: '%s' is not a duration: seconds, or a number "
			  "with s, m, h or d (90s, 15m, 2h, 7d)",
			  opt, given);
		return -EINVAL;
	}
	if (parse_ulong_option(opt, arg, 1, max_s / mult, &v) != 0)
		return -EINVAL;
	if (v * mult < min_s) {
		log_error("%s: at least %lu seconds", opt, min_s);
		return -EINVAL;
	}
	*out = v * mult;
	return 0;
}

bool dashboard_options_parse(struct dashboard_options *o, int c, const char *arg, int *rc)
{
	*rc = 0;
	switch (c) {
	case DASHBOARD_OPT_HTTP:
		o->http = arg;
		o->no_http = false;
		return true;
	case DASHBOARD_OPT_NO_HTTP:
		o->no_http = true;
		return true;
	case DASHBOARD_OPT_TOKEN:
		o->token_file = arg;
		return true;
	case DASHBOARD_OPT_WEB_DIR:
		o->web_dir = arg;
		return true;
	case DASHBOARD_OPT_EVENTS:
		o->events = arg;
		return true;
	case DASHBOARD_OPT_HISTORY:
		/* At least a second per time bucket. */
		*rc = parse_duration("--history", arg, HISTORY_BUCKETS, 7 * 86400, &o->history_s);
		return true;
	case DASHBOARD_OPT_STATE_DIR:
		o->state_dir = arg;
		return true;
	case DASHBOARD_OPT_RETENTION:
		/* An hour at least: the rollup and the pages work in hours. */
		*rc = parse_duration("--retention", arg, 3600, 3650 * 86400ul, &o->retention_s);
		return true;
	case DASHBOARD_OPT_NO_STORE:
		o->no_store = true;
		return true;
	case DASHBOARD_OPT_STORE:
		o->store_url = arg;
		return true;
	case DASHBOARD_OPT_STORE_PASSWORD:
		o->store_password_file = arg;
		return true;
	default:
		return false;
	}
}

static const char *listen_addr(const struct dashboard_options *o)
{
	if (o->no_http)
		return NULL;
	return o->http;
}

static struct http_config http_config(const struct dashboard_options *o)
{
	return (struct http_config){ .listen = listen_addr(o),
				     .token_file = o->token_file,
				     .web_dir = o->web_dir };
}

int dashboard_options_check(const struct dashboard_options *o)
{
	struct http_config hc = http_config(o);
	struct stat st;

	/* Before anything is attached: a file given as the directory. */
	if (o->state_dir && !o->no_store && !stat(o->state_dir, &st) && !S_ISDIR(st.st_mode)) {
		log_error("--state-dir %s: not a directory (give a directory for "
			  "the history database)",
			  o->state_dir);
		return -EINVAL;
	}
	if (o->store_url) {
		struct fleet_config fc = { .url = o->store_url,
					   .password_file = o->store_password_file,
					   .probe_id = o->probe_id };

		if (fleet_check(&fc))
			return -EINVAL;
	} else if (o->store_password_file) {
		log_error("--store-password-file goes with --store "
			  "clickhouse://HOST:PORT/DB");
		return -EINVAL;
	}
	return hc.listen ? http_config_check(&hc) : 0;
}

void dashboard_options_usage(FILE *out)
{
	struct history_config hc = { .span_ms = DEFAULT_HISTORY_S * 1000ull };

	fprintf(out,
		"Dashboard, JSON API, metrics, event log:\n"
		"      --http ADDR:PORT             serve the dashboard, /api/... and /metrics\n"
		"                                   (off unless asked; e.g. %s).\n"
		"                                   Read-only. An address that cannot be\n"
		"                                   listened on is a warning, not a stop. An\n"
		"                                   address other than loopback needs a token:\n"
		"      --http-token-file FILE       first line: the token (16+ characters) every\n"
		"                                   request must carry: 'Authorization: Bearer\n"
		"                                   TOKEN' (Prometheus: authorization), or in a\n"
		"                                   browser open /?token=TOKEN once (it becomes\n"
		"                                   a cookie)\n"
		"      --no-http                    no web server, even if the config file asks\n"
		"      --web-dir DIR                the dashboard's files (default: web/ next\n"
		"                                   to the binary, else " FLOWPROBE_WEB_DIR ")\n"
		"      --history DURATION           what the dashboard remembers (1h; e.g. 90s,\n"
		"                                   15m, 2h): per-host series in 60 buckets,\n"
		"                                   %d hosts, %d recent flows, %d events; at\n"
		"                                   most %zu MB whatever the duration\n"
		"      --events FILE                append every JSON Lines object (flows and\n"
		"                                   events, as --json prints) to FILE; SIGHUP\n"
		"                                   reopens it (for logrotate)\n"
		"      --state-dir DIR              where the dashboard's history survives\n"
		"                                   restarts: an SQLite file, DIR/%s\n"
		"                                   (default %s, created 0750).\n"
		"                                   On with the dashboard, or when given\n"
		"      --retention DURATION         how long it keeps (7d; e.g. 36h, 30d);\n"
		"                                   minutes become hours after two days\n"
		"      --no-store                   keep the dashboard's history in memory only\n"
		"      --store clickhouse://[USER@]HOST:PORT/DB\n"
		"                                   also send flows, peers, events and P2P\n"
		"                                   reports to a fleet's ClickHouse (HTTP port,\n"
		"                                   8123); one alarm per host and period on\n"
		"                                   the evidence of every probe\n"
		"      --store-password-file FILE   first line: the ClickHouse user's password\n"
		"      --probe-id NAME              this probe's name in the fleet (default:\n"
		"                                   the host name)\n",
		HTTP_DEFAULT_ADDR, HISTORY_DEFAULT_HOSTS, HISTORY_FLOWS, HISTORY_DEFAULT_EVENTS,
		history_memory_bound(&hc) >> 20, STORE_FILE, STATE_DIR_DEFAULT);
}

static int open_store(struct dashboard *d, const struct dashboard_options *o,
		      const struct export_options *ex)
{
	struct store_config sc = {
		.state_dir = o->state_dir,
		.retention_ms = o->retention_s * 1000ull,
		.local = &ex->local,
		.p2p_threshold = ex->p2p_threshold,
	};
	int rc = store_open(&d->store, &sc);

	if (rc && !o->state_dir) {
		/* Not asked for by name: the dashboard still works. */
		log_warn("the dashboard's history stays in memory only this run "
			 "(give a usable --state-dir, or --no-store to say so)");
		return 0;
	}
	return rc;
}

int dashboard_prepare(struct dashboard *d, const struct dashboard_options *o,
		      const struct export_options *ex, struct pipeline *pl)
{
	struct history_config hc = {
		.span_ms = o->history_s * 1000ull,
		.local = &ex->local,
		.p2p_threshold = ex->p2p_threshold,
	};

	bool want_store = !o->no_store && (listen_addr(o) || o->state_dir);
	int rc;

	memset(d, 0, sizeof(*d));
	d->listen = listen_addr(o);
	if (!d->listen && !o->events && !want_store && !o->store_url)
		return 0; /* --json alone: stdout as before */
	if (o->store_url) {
		struct fleet_config fc = {
			.url = o->store_url,
			.password_file = o->store_password_file,
			.probe_id = o->probe_id,
			.period_ms = ex->p2p_period * 1000ull,
			.threshold = ex->p2p_threshold,
			/* Every probe's records of a period are in by then. */
			.grace_ms = (ex->active_timeout + 10) * 1000ull,
			.local = &ex->local,
		};

		rc = fleet_open(&d->fleet, &fc);
		if (rc)
			return rc;
	}
	if (want_store) {
		rc = open_store(d, o, ex);
		if (rc)
			return rc;
	}
	if (d->listen) {
		d->history = history_new(&hc);
		d->live = live_flows_new(LIVE_FLOWS_DEFAULT, &ex->local);
		if (!d->history || !d->live) {
			log_error("out of memory for the dashboard's history "
				  "(shorten --history or use --no-http)");
			return -ENOMEM;
		}
	}
	d->events = event_log_open(ex->json, o->events, d->history);
	if (!d->events)
		return o->events ? -EINVAL : -ENOMEM;
	event_log_set_store(d->events, d->store);
	event_log_set_fleet(d->events, d->fleet);
	pl->exporter.json = event_log_stream(d->events);
	pl->history = d->history;
	pl->store = d->store;
	pl->live = d->live;
	pl->fleet = d->fleet;
	return 0;
}

int dashboard_start(struct dashboard *d, const struct dashboard_options *o, struct pipeline *pl)
{
	struct http_config hc = http_config(o);

	if (!d->history)
		return 0;
	for (int i = 0; i < pl->probe.n_ifaces; i++)
		history_set_iface(d->history, pl->probe.ifaces[i].ifindex,
				  pl->probe.ifaces[i].name);
	hc.store = d->store;
	return http_server_start(&d->http, &hc, d->history);
}

void dashboard_reopen(struct dashboard *d)
{
	if (d->events)
		event_log_reopen(d->events);
}

void dashboard_stop(struct dashboard *d, struct pipeline *pl)
{
	http_server_stop(d->http);
	d->http = NULL;
	pl->history = NULL;
	if (d->events) {
		pl->exporter.json = NULL;
		event_log_close(d->events);
		d->events = NULL;
	}
	pl->live = NULL;
	live_flows_free(d->live);
	d->live = NULL;
	/* After the last lines: the stores' final batches are in them. */
	pl->fleet = NULL;
	fleet_close(d->fleet);
	d->fleet = NULL;
	pl->store = NULL;
	store_close(d->store);
	d->store = NULL;
	history_free(d->history);
	d->history = NULL;
}
