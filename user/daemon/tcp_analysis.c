// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The daemon's TCP analysis, wired: events to verdicts to interval
 * counters, JSON Lines and log lines, and the verdict cache that puts a
 * connection's worst verdict on its exported flows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "detect/conn_intervals.h"
#include "datapath/conn_table.h"
#include "lib/json_output.h"
#include "lib/log.h"
#include "detect/reset_analysis.h"
#include "detect/reset_json.h"
#include "daemon/tcp_analysis.h"
#include "lib/hash.h"

/*
 * Decided verdicts by connection, for the flows still to be exported: a
 * direct-mapped cache (a collision replaces the older entry, counted), so
 * its memory is fixed whatever the traffic. An entry lives as long as a
 * flow of its connection can still be in the flow cache after the RST.
 */
#define VERDICT_CACHE_SLOTS 65536
#define VERDICT_KEEP_NS (600ULL * 1000000000ULL)

struct verdict_slot {
	struct conn_key key;
	uint64_t time_ns; /* probe clock of the latest RST decided */
	uint8_t verdict; /* enum flow_reset_verdict, 0: empty */
};

struct tcp_analysis {
	struct exporter *ex;
	struct reset_analysis *ra;
	struct conn_intervals *ci;
	struct conn_table *ct;
	struct verdict_slot *verdicts;
	/* A bit a slot, set once the slot holds a verdict: 8 KB that stays
	 * in cache, so the records of connections without a verdict (all
	 * but a few) skip the read of a slot in the 3.7 MB cache. */
	uint64_t *held;
	uint64_t now_ns; /* probe clock of the latest tick */
	bool log_intervals;
	struct tcp_analysis_stats st;
};

static uint32_t conn_key_hash(const struct conn_key *k)
{
	return (uint32_t)hash_bytes(k, sizeof(*k));
}

static uint32_t verdict_index(const struct conn_key *k)
{
	return conn_key_hash(k) & (VERDICT_CACHE_SLOTS - 1);
}

static bool verdict_held(const struct tcp_analysis *ta, uint32_t i)
{
	return ta->held[i / 64] & (1ULL << (i % 64));
}

/* reset_analysis numbers verdicts from 0 (genuine); a flow record from 1,
 * keeping 0 for "no reset". */
static uint8_t flow_verdict(enum reset_verdict v)
{
	return (uint8_t)v + 1;
}

static void remember_verdict(struct tcp_analysis *ta, const struct reset_report *r)
{
	struct conn_key k;
	struct verdict_slot *slot;
	uint32_t i;

	conn_key_of_flow(&k, &r->ev.key);
	i = verdict_index(&k);
	slot = &ta->verdicts[i];
	ta->held[i / 64] |= 1ULL << (i % 64);
	if (slot->verdict && memcmp(&slot->key, &k, sizeof(k)) != 0) {
		ta->st.verdicts_replaced++;
		slot->verdict = 0;
	}
	if (!slot->verdict)
		slot->key = k;
	if (flow_verdict(r->verdict) > slot->verdict)
		slot->verdict = flow_verdict(r->verdict);
	slot->time_ns = r->ev.time_ns;
}

static void json_line_error(struct tcp_analysis *ta)
{
	ta->ex->json_errors++;
}

static void on_reset(void *ctx, const struct reset_report *r)
{
	struct tcp_analysis *ta = ctx;

	ta->st.resets++;
	if (r->verdict == VERDICT_FORGED)
		ta->st.forged++;
	else if (r->verdict == VERDICT_SUSPECT)
		ta->st.suspect++;
	else
		ta->st.genuine++;
	remember_verdict(ta, r);
	conn_intervals_reset(ta->ci, r);
	if (ta->ex->json &&
	    json_write_reset(ta->ex->json, r, exporter_wall_ms(ta->ex, r->ev.time_ns)) != 0)
		json_line_error(ta);
}

static void signal_list(char *buf, size_t len, uint32_t signals)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int s = 1; s < RESET_SIGNAL__MAX && used < len; s++)
		if (signals & RESET_SIGNAL_BIT(s))
			used += snprintf(buf + used, len - used, "%s%s", used ? " " : "",
					 reset_signal_name(s));
}

/* Forged and suspect connections get a log line: what a person on call
 * reads first. Genuine ones are only in the JSON. */
static void log_connection(const struct conn_report *c)
{
	char src[64], dst[64], sig[64];
	const struct flow_key *k = &c->first_rst;

	if (c->verdict == VERDICT_GENUINE)
		return;
	json_format_addr(src, sizeof(src), k->src, k->ip_version);
	json_format_addr(dst, sizeof(dst), k->dst, k->ip_version);
	signal_list(sig, sizeof(sig), c->signals);
	log_warn("%s resets on %s port %u <-> %s port %u%s%s: %u of %u RSTs "
		 "forged, %u suspect; signals %s",
		 reset_verdict_name(c->verdict), src, k->sport, dst, k->dport,
		 c->bittorrent ? " (BitTorrent" : "",
		 c->bittorrent ? (c->blocked ? ", blocked)" : ")") : "", c->forged, c->resets,
		 c->suspect, sig);
}

static void on_connection(void *ctx, const struct conn_report *c)
{
	struct tcp_analysis *ta = ctx;

	if (c->blocked)
		ta->st.blocked++;
	conn_intervals_connection(ta->ci, c);
	log_connection(c);
	if (ta->ex->json && json_write_reset_connection(
				    ta->ex->json, c, exporter_wall_ms(ta->ex, c->last_rst_ns)) != 0)
		json_line_error(ta);
}

static json_int_t counter_of(json_t *interval, const char *name)
{
	return json_integer_value(json_object_get(json_object_get(interval, "total"), name));
}

static void on_interval(void *ctx, void *json_interval)
{
	struct tcp_analysis *ta = ctx;
	json_t *o = json_interval;
	json_t *why = json_object_get(json_object_get(o, "interference"), "verdict");

	ta->st.intervals++;
	log_msg(ta->log_intervals ? LOG_INFO : LOG_DEBUG,
		"interval: %lld opens (%lld in, %lld out), %lld failed, %lld "
		"resets of established connections, %lld open; %lld forged, "
		"%lld suspect resets, %lld blocked BitTorrent; interference: %s",
		(long long)(counter_of(o, "active_opens") + counter_of(o, "passive_opens") +
			    counter_of(o, "transit_opens")),
		(long long)counter_of(o, "passive_opens"), (long long)counter_of(o, "active_opens"),
		(long long)counter_of(o, "failed"), (long long)counter_of(o, "resets"),
		(long long)counter_of(o, "open"), (long long)counter_of(o, "forged"),
		(long long)counter_of(o, "suspect"), (long long)counter_of(o, "blocked"),
		json_is_string(why) ? json_string_value(why) : "n/a");
	if (!ta->ex->json)
		json_decref(o);
	else if (json_write_line(ta->ex->json, o) != 0)
		json_line_error(ta);
}

struct tcp_analysis *tcp_analysis_new(const struct export_options *opt, int conns_fd,
				      struct exporter *ex)
{
	struct tcp_analysis *ta = calloc(1, sizeof(*ta));
	struct reset_analysis_config rc = {
		.on_reset = on_reset,
		.on_connection = on_connection,
		.ctx = ta,
	};
	struct conn_intervals_config cc = {
		.interval_ms = (uint64_t)opt->interval * 1000,
		.local = &opt->local,
		.asn = opt->asn,
		.on_interval = on_interval,
		.ctx = ta,
	};

	if (!ta)
		goto oom;
	ta->ex = ex;
	if (conns_fd < 0)
		return ta; /* --no-resets: nothing on flows */
	ta->verdicts = calloc(VERDICT_CACHE_SLOTS, sizeof(*ta->verdicts));
	ta->held = calloc(VERDICT_CACHE_SLOTS / 64, sizeof(*ta->held));
	ta->ra = reset_analysis_new(&rc);
	ta->ci = conn_intervals_new(&cc);
	ta->ct = conn_table_new(conns_fd);
	if (!ta->verdicts || !ta->held || !ta->ra || !ta->ci || !ta->ct)
		goto oom;
	return ta;
oom:
	log_error("out of memory for the reset analysis");
	tcp_analysis_free(ta);
	return NULL;
}

void tcp_analysis_quiescent(struct tcp_analysis *ta, bool on)
{
	if (ta->ct)
		conn_table_quiescent(ta->ct, on);
}

void tcp_analysis_log_intervals(struct tcp_analysis *ta, bool on)
{
	ta->log_intervals = on;
}

void tcp_analysis_free(struct tcp_analysis *ta)
{
	if (!ta)
		return;
	reset_analysis_free(ta->ra);
	conn_intervals_free(ta->ci);
	conn_table_free(ta->ct);
	free(ta->verdicts);
	free(ta->held);
	free(ta);
}

void tcp_analysis_event(struct tcp_analysis *ta, const struct event *ev)
{
	if (!ta->ra)
		return;
	switch (ev->type) {
	case EVENT_TCP_OPEN:
	case EVENT_TCP_ACCEPT:
		conn_intervals_event(ta->ci, ev, exporter_wall_ms(ta->ex, ev->time_ns));
		reset_analysis_event(ta->ra, ev); /* ACCEPT matters to R11 */
		break;
	case EVENT_TCP_RESET:
	case EVENT_TCP_AFTER_RESET:
		reset_analysis_event(ta->ra, ev);
		break;
	default:
		break;
	}
}

void tcp_analysis_annotate(struct tcp_analysis *ta, struct flow_record *rec)
{
	struct verdict_slot *slot;
	struct conn_key k;
	uint32_t i;

	if (!ta->verdicts || rec->key.proto != 6)
		return;
	conn_key_of_flow(&k, &rec->key);
	i = verdict_index(&k);
	if (!verdict_held(ta, i))
		return;
	slot = &ta->verdicts[i];
	if (slot->verdict && memcmp(&slot->key, &k, sizeof(k)) == 0 &&
	    ta->now_ns - slot->time_ns <= VERDICT_KEEP_NS)
		rec->reset_verdict = slot->verdict;
}

void tcp_analysis_flow(struct tcp_analysis *ta, const struct flow_record *rec,
		       const struct flow_class *fc)
{
	if (ta->ci)
		conn_intervals_flow(ta->ci, rec, fc);
}

static void count_open(void *ctx, const struct conn_key *key, const struct conn_state *st)
{
	conn_intervals_open_connection(ctx, key, st);
}

static void read_table(struct tcp_analysis *ta, uint64_t now_ns, bool for_interval)
{
	struct conn_sweep sw;
	int err = conn_table_sweep(ta->ct, now_ns, for_interval ? count_open : NULL, ta->ci, &sw);

	if (err) {
		log_warn("cannot read the connection table: %s", strerror(-err));
		return;
	}
	ta->st.conn_slots = sw.slots;
	ta->st.conn_entries = sw.entries;
	ta->st.conns_open = sw.open;
}

void tcp_analysis_tick(struct tcp_analysis *ta, uint64_t now_ns, uint64_t wall_ms)
{
	if (!ta)
		return;
	ta->now_ns = now_ns;
	if (!ta->ra)
		return;
	reset_analysis_tick(ta->ra, now_ns);
	if (conn_intervals_due(ta->ci, wall_ms)) {
		read_table(ta, now_ns, true);
		conn_intervals_tick(ta->ci, wall_ms, now_ns);
	}
}

void tcp_analysis_finish(struct tcp_analysis *ta, uint64_t now_ns, uint64_t wall_ms)
{
	if (!ta)
		return;
	ta->now_ns = now_ns;
	if (!ta->ra)
		return;
	reset_analysis_finish(ta->ra, now_ns);
	if (conn_intervals_due(ta->ci, wall_ms)) {
		read_table(ta, now_ns, true);
		conn_intervals_tick(ta->ci, wall_ms, now_ns);
	}
	read_table(ta, now_ns, true);
	conn_intervals_finish(ta->ci, wall_ms);
}

const struct tcp_analysis_stats *tcp_analysis_stats(const struct tcp_analysis *ta)
{
	return &ta->st;
}
