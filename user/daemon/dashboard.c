// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The dashboard's options (--http, --no-http, --http-token-file,
 * --web-dir, --events, --history) and their setup around the pipeline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/build_info.h"
#include "daemon/dashboard.h"
#include "daemon/event_log.h"
#include "cli/export_options.h"
#include "lib/log.h"
#include "lib/parse_number.h"

#define DEFAULT_HISTORY_S 3600

void dashboard_options_init(struct dashboard_options *o)
{
	*o = (struct dashboard_options){
		.history_s = DEFAULT_HISTORY_S,
	};
}

/* "90", "90s", "15m", "1h" */
static int parse_duration(const char *arg, unsigned long *out)
{
	char buf[32];
	const char *given = arg;
	size_t n = strlen(arg);
	unsigned long mult = 1, v;

	if (n && n < sizeof(buf) && strchr("smh", arg[n - 1])) {
		mult = arg[n - 1] == 'h' ? 3600 : arg[n - 1] == 'm' ? 60 : 1;
		memcpy(buf, arg, n - 1);
		buf[n - 1] = 0;
		arg = buf;
	}
	if (!*arg || strspn(arg, "0123456789") != strlen(arg)) {
		log_error("--history: '%s' is not a duration: seconds, or a number "
			  "with s, m or h (90s, 15m, 2h)", given);
		return -EINVAL;
	}
	if (parse_ulong_option("--history", arg, 1, 7 * 86400 / mult, &v) != 0)
		return -EINVAL;
	if (v * mult < HISTORY_BUCKETS) {
		log_error("--history: at least %d seconds (one per time bucket)",
			  HISTORY_BUCKETS);
		return -EINVAL;
	}
	*out = v * mult;
	return 0;
}

bool dashboard_options_parse(struct dashboard_options *o, int c, const char *arg,
			     int *rc)
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
		*rc = parse_duration(arg, &o->history_s);
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
	return (struct http_config){ listen_addr(o), o->token_file, o->web_dir };
}

int dashboard_options_check(const struct dashboard_options *o)
{
	struct http_config hc = http_config(o);

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
"                                   reopens it (for logrotate)\n",
		HTTP_DEFAULT_ADDR, HISTORY_DEFAULT_HOSTS, HISTORY_FLOWS,
		HISTORY_DEFAULT_EVENTS, history_memory_bound(&hc) >> 20);
}

int dashboard_prepare(struct dashboard *d, const struct dashboard_options *o,
		      const struct export_options *ex, struct pipeline *pl)
{
	struct history_config hc = {
		.span_ms = o->history_s * 1000ull,
		.local = &ex->local,
		.p2p_threshold = ex->p2p_threshold,
	};

	memset(d, 0, sizeof(*d));
	d->listen = listen_addr(o);
	if (!d->listen && !o->events)
		return 0;		/* --json alone: stdout as before */
	if (d->listen) {
		d->history = history_new(&hc);
		if (!d->history) {
			log_error("out of memory for the dashboard's history "
				  "(shorten --history or use --no-http)");
			return -ENOMEM;
		}
	}
	d->events = event_log_open(ex->json, o->events, d->history);
	if (!d->events)
		return o->events ? -EINVAL : -ENOMEM;
	pl->exporter.json = event_log_stream(d->events);
	pl->history = d->history;
	return 0;
}

int dashboard_start(struct dashboard *d, const struct dashboard_options *o,
		    struct pipeline *pl)
{
	struct http_config hc = http_config(o);

	if (!d->history)
		return 0;
	for (int i = 0; i < pl->probe.n_ifaces; i++)
		history_set_iface(d->history, pl->probe.ifaces[i].ifindex,
				  pl->probe.ifaces[i].name);
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
	history_free(d->history);
	d->history = NULL;
}
