// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Prometheus text format: "# HELP", "# TYPE", then samples. Names are
 * flowprobe_ plus the counter's own name (the one `flowprobe stats`
 * prints); monotonic ones end in _total, values are in base units with
 * the unit in the name (_seconds, _bytes, _ratio), as Prometheus' naming
 * rules ask. Every metric is described once, in the X-macros of
 * include/flowprobe.h and lib/daemon_stats.h or in the table below, and
 * the same description writes both /metrics and docs/metrics.md
 * (metrics_write_doc), so the page cannot drift from the code.
 */
#include <string.h>
#include "lib/build_info.h"
#include "web/metrics.h"

/* The metrics that are not one number of an X-macro. */
enum other_metric {
	M_RESETS,
	M_TABLE_FILL,
	M_BT_HOSTS,
	M_HOSTS,
	M_HOSTS_DROPPED,
	M_IFACE_PACKETS,
	M_IFACE_BYTES,
	M_UTILISATION,
	M_ACTIVE_FLOWS,
	M_COLLECTOR_SENT,
	M_COLLECTOR_ERRORS,
	M_COLLECTOR_QUEUED,
	M_BUILD_INFO,
	M__COUNT,
};

static const struct {
	const char *name, *type, *labels, *help;
} others[M__COUNT] = {
	[M_RESETS] = { "flowprobe_resets_total", "counter", "verdict",
		       "TCP resets judged, by verdict (forged, suspect, genuine)" },
	[M_TABLE_FILL] = { "flowprobe_table_fill_ratio", "gauge", "",
			   "flow table entries at the last drain over its slots" },
	[M_BT_HOSTS] = { "flowprobe_bittorrent_hosts", "gauge", "",
			 "local hosts whose P2P score reaches the alarm threshold this period" },
	[M_HOSTS] = { "flowprobe_history_hosts", "gauge", "",
		      "local hosts in the dashboard's history" },
	[M_HOSTS_DROPPED] = { "flowprobe_history_hosts_dropped_total", "counter", "",
			      "local hosts not kept: the history's host table was full" },
	[M_IFACE_PACKETS] = { "flowprobe_interface_packets_total", "counter", "interface",
			      "packets counted into flows, by the interface they arrived on" },
	[M_IFACE_BYTES] = { "flowprobe_interface_bytes_total", "counter", "interface",
			    "IP bytes counted into flows, by the interface they arrived on" },
	[M_UTILISATION] = { "flowprobe_utilisation_ratio", "gauge", "interface",
			    "rho: link utilisation of the last curve sample (0..1)" },
	[M_ACTIVE_FLOWS] = { "flowprobe_active_flows", "gauge", "interface",
			     "N: active flows of the last curve sample" },
	[M_COLLECTOR_SENT] = { "flowprobe_collector_packets_sent_total", "counter", "collector",
			       "export packets sent to the collector" },
	[M_COLLECTOR_ERRORS] = { "flowprobe_collector_errors_total", "counter", "collector",
				 "export packets lost: refused by the socket or dropped "
				 "from the collector's full queue" },
	[M_COLLECTOR_QUEUED] = { "flowprobe_collector_queued", "gauge", "collector",
				 "export packets waiting for a slow collector now" },
	[M_BUILD_INFO] = { "flowprobe_build_info", "gauge", "version",
			   "always 1; the version in its label" },
};

/* Help text may not hold a raw backslash or newline; ours hold neither,
 * but a future one might: escape as the format says. */
static void help(FILE *out, const char *name, const char *text)
{
	fprintf(out, "# HELP %s ", name);
	for (const char *c = text; *c; c++) {
		if (*c == '\\')
			fputs("\\\\", out);
		else if (*c == '\n')
			fputs("\\n", out);
		else
			fputc(*c, out);
	}
	fputc('\n', out);
}

static void header(FILE *out, enum other_metric m)
{
	help(out, others[m].name, others[m].help);
	fprintf(out, "# TYPE %s %s\n", others[m].name, others[m].type);
}

static void one(FILE *out, const char *name, const char *type, const char *text, double v)
{
	help(out, name, text);
	fprintf(out, "# TYPE %s %s\n%s %.15g\n", name, type, name, v);
}

static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void sample(FILE *out, enum other_metric m, const char *label, double v)
{
	fprintf(out, "%s{%s=\"", others[m].name, others[m].labels);
	label_value(out, label);
	fprintf(out, "\"} %.15g\n", v);
}

static void per_iface(FILE *out, const struct history_metrics *m, enum other_metric which)
{
	header(out, which);
	for (size_t i = 0; i < m->n_ifaces; i++) {
		const struct history_iface_gauge *g = &m->iface[i];

		switch (which) {
		case M_IFACE_PACKETS:
			sample(out, which, g->name, (double)g->packets);
			break;
		case M_IFACE_BYTES:
			sample(out, which, g->name, (double)g->bytes);
			break;
		case M_UTILISATION:
			if (g->have)
				sample(out, which, g->name, g->utilisation);
			break;
		default:
			if (g->have)
				sample(out, which, g->name, g->active_flows);
		}
	}
}

static void per_collector(FILE *out, const struct history_metrics *m, enum other_metric which)
{
	header(out, which);
	for (size_t i = 0; i < m->n_collectors; i++) {
		const struct history_collector *c = &m->collector[i];

		sample(out, which, c->name,
		       (double)(which == M_COLLECTOR_SENT   ? c->sent :
				which == M_COLLECTOR_ERRORS ? c->errors :
							      c->queued));
	}
}

int metrics_write(FILE *out, const struct history_metrics *m)
{
	char name[128];
	uint64_t decided = m->ds.v[DS_resets_decided];
	uint64_t forged = m->ds.v[DS_resets_forged], suspect = m->ds.v[DS_resets_suspect];
	uint64_t slots = m->ds.v[DS_table_slots];

#define COUNTER_METRIC(id, cname, text)                            \
	snprintf(name, sizeof(name), "flowprobe_%s_total", cname); \
	one(out, name, "counter", "datapath: " text, (double)m->counters[id]);
	FLOWPROBE_COUNTERS(COUNTER_METRIC)
#undef COUNTER_METRIC
#define DS_METRIC(dname, type, unit, text)                                                        \
	snprintf(name, sizeof(name), "flowprobe_daemon_%s%s%s", #dname, DAEMON_STAT_SUFFIX(unit), \
		 DAEMON_STAT_MONOTONIC(type) ? "_total" : "");                                    \
	one(out, name, #type, "daemon: " text,                                                    \
	    (double)m->ds.v[DS_##dname] * DAEMON_STAT_SCALE(unit));
	DAEMON_STATS(DS_METRIC)
#undef DS_METRIC

	header(out, M_RESETS);
	sample(out, M_RESETS, "forged", (double)forged);
	sample(out, M_RESETS, "suspect", (double)suspect);
	sample(out, M_RESETS, "genuine",
	       (double)(decided >= forged + suspect ? decided - forged - suspect : 0));
	header(out, M_TABLE_FILL);
	fprintf(out, "%s %.6g\n", others[M_TABLE_FILL].name,
		slots ? (double)m->ds.v[DS_table_entries_last_drain] / slots : 0.0);
	one(out, others[M_BT_HOSTS].name, "gauge", others[M_BT_HOSTS].help, (double)m->bt_hosts);
	one(out, others[M_HOSTS].name, "gauge", others[M_HOSTS].help, (double)m->hosts);
	one(out, others[M_HOSTS_DROPPED].name, "counter", others[M_HOSTS_DROPPED].help,
	    (double)m->hosts_dropped);
	per_iface(out, m, M_IFACE_PACKETS);
	per_iface(out, m, M_IFACE_BYTES);
	per_iface(out, m, M_UTILISATION);
	per_iface(out, m, M_ACTIVE_FLOWS);
	per_collector(out, m, M_COLLECTOR_SENT);
	per_collector(out, m, M_COLLECTOR_ERRORS);
	per_collector(out, m, M_COLLECTOR_QUEUED);
	header(out, M_BUILD_INFO);
	sample(out, M_BUILD_INFO, FLOWPROBE_VERSION, 1);
	return ferror(out) ? -1 : 0;
}

static void doc_row(FILE *out, const char *name, const char *type, const char *labels,
		    const char *text)
{
	fprintf(out, "| `%s` | %s | %s | %s |\n", name, type, labels[0] ? labels : "", text);
}

int metrics_write_doc(FILE *out)
{
	char name[128];

	fputs("# Metrics\n\n"
	      "What `/metrics` serves (the Prometheus text format), generated from\n"
	      "the code's own descriptions (`user/web/metrics.c`; `make test`\n"
	      "fails when this page and the code differ: regenerate it with\n"
	      "`build/tests/test_metrics_doc --write`). Counters end in `_total`;\n"
	      "values are in base units (seconds, bytes, ratios 0..1).\n\n"
	      "| name | type | labels | what |\n|---|---|---|---|\n",
	      out);
#define COUNTER_DOC(id, cname, text)                               \
	snprintf(name, sizeof(name), "flowprobe_%s_total", cname); \
	doc_row(out, name, "counter", "", "datapath: " text);
	FLOWPROBE_COUNTERS(COUNTER_DOC)
#undef COUNTER_DOC
#define DS_DOC(dname, type, unit, text)                                                           \
	snprintf(name, sizeof(name), "flowprobe_daemon_%s%s%s", #dname, DAEMON_STAT_SUFFIX(unit), \
		 DAEMON_STAT_MONOTONIC(type) ? "_total" : "");                                    \
	doc_row(out, name, #type, "", "daemon: " text);
	DAEMON_STATS(DS_DOC)
#undef DS_DOC
	for (int i = 0; i < M__COUNT; i++)
		doc_row(out, others[i].name, others[i].type, others[i].labels, others[i].help);
	return ferror(out) ? -1 : 0;
}
