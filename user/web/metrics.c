// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Prometheus text format: "# HELP", "# TYPE", then samples. Names are
 * flowprobe_ plus the counter's own name (the one `flowprobe stats`
 * prints); monotonic ones end in _total, as Prometheus expects.
 */
#include "web/metrics.h"

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

static void one(FILE *out, const char *name, const char *type, const char *text,
		unsigned long long v)
{
	help(out, name, text);
	fprintf(out, "# TYPE %s %s\n%s %llu\n", name, type, name, v);
}

static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		fputc(*s, out);
	}
}

static void per_iface(FILE *out, const struct history_metrics *m, const char *name,
		      const char *text, bool utilisation)
{
	help(out, name, text);
	fprintf(out, "# TYPE %s gauge\n", name);
	for (size_t i = 0; i < m->n_ifaces; i++) {
		const struct history_iface_gauge *g = &m->iface[i];

		if (!g->have)
			continue;
		fprintf(out, "%s{interface=\"", name);
		label_value(out, g->name);
		fprintf(out, "\"} %.6g\n", utilisation ? g->utilisation : g->active_flows);
	}
}

int metrics_write(FILE *out, const struct history_metrics *m)
{
	char name[128];
	uint64_t decided = m->ds.v[DS_resets_decided];
	uint64_t forged = m->ds.v[DS_resets_forged], suspect = m->ds.v[DS_resets_suspect];
	uint64_t slots = m->ds.v[DS_table_slots];

#define COUNTER_METRIC(id, cname, text)                                  \
	snprintf(name, sizeof(name), "flowprobe_%s_total", cname);      \
	one(out, name, "counter", "datapath: " text, m->counters[id]);
	FLOWPROBE_COUNTERS(COUNTER_METRIC)
#undef COUNTER_METRIC
#define DS_METRIC(dname, type, text)                                     \
	snprintf(name, sizeof(name), "flowprobe_daemon_%s%s", #dname,    \
		 DAEMON_STAT_MONOTONIC(type) ? "_total" : "");          \
	one(out, name, #type, "daemon: " text, m->ds.v[DS_##dname]);
	DAEMON_STATS(DS_METRIC)
#undef DS_METRIC

	help(out, "flowprobe_resets_total", "TCP resets judged, by verdict");
	fprintf(out, "# TYPE flowprobe_resets_total counter\n"
		"flowprobe_resets_total{verdict=\"forged\"} %llu\n"
		"flowprobe_resets_total{verdict=\"suspect\"} %llu\n"
		"flowprobe_resets_total{verdict=\"genuine\"} %llu\n",
		(unsigned long long)forged, (unsigned long long)suspect,
		(unsigned long long)(decided >= forged + suspect ?
				     decided - forged - suspect : 0));
	help(out, "flowprobe_table_fill_ratio",
	     "flow table entries at the last drain over its slots");
	fprintf(out, "# TYPE flowprobe_table_fill_ratio gauge\n"
		"flowprobe_table_fill_ratio %.6g\n",
		slots ? (double)m->ds.v[DS_table_entries_last_drain] / slots : 0.0);
	one(out, "flowprobe_bittorrent_hosts", "gauge",
	    "local hosts whose P2P score reaches the alarm threshold this period",
	    m->bt_hosts);
	one(out, "flowprobe_history_hosts", "gauge",
	    "local hosts in the dashboard's history", m->hosts);
	one(out, "flowprobe_history_hosts_dropped_total", "counter",
	    "local hosts not kept: the history's host table was full",
	    m->hosts_dropped);
	per_iface(out, m, "flowprobe_utilisation",
		  "rho: link utilisation of the last curve sample (0..1)", true);
	per_iface(out, m, "flowprobe_active_flows",
		  "N: active flows of the last curve sample", false);
	return ferror(out) ? -1 : 0;
}
