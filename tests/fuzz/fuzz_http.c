// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: what the dashboard's web server takes from a
 * client or the command line. libmicrohttpd parses the HTTP itself; the
 * probe's own code sees the URL path (routing, /api/hosts/ADDRESS), the
 * "type" query argument of /api/events, and the --http address. The
 * first byte picks which; the history behind the API holds a few hosts,
 * flows and events so the views have something to walk. Every reply must
 * have a status the API documents and a body of the length it says.
 */
#include "fuzz_input.h"
#include "daemon/enrich.h"
#include "web/http_api.h"
#include "web/http_server.h"

static struct history *history;
volatile char fuzz_sink;

/* A small, fixed history: two local hosts, a few peers, two events. */
static struct history *make_history(void)
{
	static struct prefix_set local;
	struct history_config cfg = { .span_ms = 3600 * 1000,
				      .max_hosts = 64,
				      .max_events = 64,
				      .local = &local };
	static const char ev[] =
		"{\"type\":\"reset\",\"time\":\"2026-11-23T08:00:00.000Z\","
		"\"src\":\"10.0.1.2\",\"dst\":\"192.0.2.9\",\"verdict\":\"forged\"}";
	struct enrich_config ec = { .local = &local };
	struct flow_class fc;
	struct history *h;

	prefix_set_parse(&local, "10.0.1.0/24,fd00::/8", "--local");
	h = history_new(&cfg);
	if (!h)
		abort();
	for (int i = 0; i < 20; i++) {
		struct flow_record r = { 0 };

		r.key.ip_version = 4;
		r.key.proto = 6;
		r.key.src[0] = 10, r.key.src[2] = 1, r.key.src[3] = 1 + i % 2;
		r.key.dst[0] = 192, r.key.dst[2] = 2, r.key.dst[3] = i;
		r.key.sport = 40000 + i;
		r.key.dport = i % 3 ? 443 : 6881;
		r.packets = 1 + i;
		r.bytes = 100 * (i + 1);
		r.first_ms = 1795420800000ull + i * 1000;
		r.last_ms = r.first_ms + 500;
		enrich_flow(&ec, &r, &fc);
		history_add_flow(h, &r, &fc);
	}
	history_add_event_line(h, ev, sizeof(ev) - 1, 1795420800000ull);
	return h;
}

static void check_reply(const struct http_reply *rep)
{
	if (rep->body && rep->status != 200 && rep->status != 400 && rep->status != 404)
		abort();
	/* Read every byte: ASan reports a length past the body. */
	for (size_t i = 0; rep->body && i < rep->len; i++)
		fuzz_sink ^= rep->body[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_reply rep = { 0 };
	char *arg, path[600];

	if (size < 1)
		return 0;
	fuzz_quiet();
	if (!history)
		history = make_history();
	arg = fuzz_string(data + 1, size - 1);
	if (!arg)
		return 0;
	switch (data[0] % 4) {
	case 0: /* any path */
		if (http_api_handles(arg)) {
			http_api_get(history, arg, NULL, &rep);
			check_reply(&rep);
		}
		break;
	case 1: /* /api/hosts/ADDRESS */
		snprintf(path, sizeof(path), "/api/hosts/%s", arg);
		if (http_api_handles(path)) {
			http_api_get(history, path, NULL, &rep);
			check_reply(&rep);
		}
		break;
	case 2: /* /api/events?type=... */
		http_api_get(history, "/api/events", arg, &rep);
		check_reply(&rep);
		break;
	default: { /* --http ADDRESS:PORT */
		struct http_config cfg = { .listen = arg };

		http_config_check(&cfg);
		break;
	}
	}
	free(rep.body);
	free(arg);
	return 0;
}
