// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The drain-expire-export tick shared by live capture and replay, and the
 * bookkeeping of the daemon's own statistics along the way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <bpf/libbpf.h>
#include "flowprobe.skel.h"
#include "web/history.h"
#include "store/fleet.h"
#include "store/store.h"
#include "lib/errors.h"
#include "lib/json_output.h"
#include "lib/log.h"
#include "daemon/enrich.h"
#include "daemon/live_flows.h"
#include "daemon/pipeline.h"
#include "daemon/tcp_analysis.h"

/* A flow's 5-tuple, whichever interface or VLAN it came by. */
static struct flow_key tuple_of(const struct flow_key *key)
{
	struct flow_key t = *key;

	t.ifindex = 0;
	t.vlan = 0;
	return t;
}

static struct flow_key reverse_tuple_of(const struct flow_key *key)
{
	struct flow_key t = tuple_of(key);

	memcpy(t.src, key->dst, sizeof(t.src));
	memcpy(t.dst, key->src, sizeof(t.dst));
	t.sport = key->dport;
	t.dport = key->sport;
	return t;
}

/* The flow cache's export hook: apply marks, count, hand to the outputs. */
static void export_flow(void *ctx, const struct flow_key *key, const struct flow_value *val,
			enum flow_end_reason reason)
{
	struct pipeline *pl = ctx;
	struct flow_key tuple = tuple_of(key);
	struct flow_value marked;
	uint8_t app = flow_cache_get_app(pl->marks, &tuple, val->last_ns);

	pl->ds.v[DS_flows_exported]++;
	if (reason == END_FORCED)
		pl->ds.v[DS_flows_exported_forced]++;
	if (app && !val->app) {
		marked = *val;
		marked.app = app;
		val = &marked;
	}
	exporter_flow(&pl->exporter, key, val, reason);
}

static void on_event(void *ctx, const struct event *ev)
{
	struct pipeline *pl = ctx;
	struct flow_key tuple, reverse;

	if (ev->type != EVENT_BITTORRENT) {
		if (pl->tcp)
			tcp_analysis_event(pl->tcp, ev);
		return;
	}
	pl->ds.v[DS_bt_events]++;
	tuple = tuple_of(&ev->key);
	reverse = reverse_tuple_of(&ev->key);
	flow_cache_mark_app(pl->marks, &tuple, APP_BITTORRENT, ev->time_ns);
	flow_cache_mark_app(pl->marks, &reverse, APP_BITTORRENT, ev->time_ns);
	exporter_event(&pl->exporter, ev);
	p2p_hosts_add_event(pl->p2p, ev, exporter_wall_ms(&pl->exporter, ev->time_ns));
}

static void on_drained(void *ctx, const struct flow_key *key, const struct flow_value *val)
{
	struct pipeline *pl = ctx;

	for (int i = 0; i < pl->probe.n_ifaces; i++) {
		if (pl->probe.ifaces[i].ifindex != (int)key->ifindex)
			continue;
		pl->traffic[i].packets += val->packets;
		pl->traffic[i].bytes += val->bytes;
		break;
	}
	if (pl->curve)
		curve_observe(pl->curve, key, val);
	if (pl->live)
		live_flows_observe(pl->live, key, val);
}

/* The curve of each attached interface, or of the whole capture. */
static int curve_init(struct pipeline *pl, const struct export_options *opt, uint64_t gap_ns)
{
	struct curve_link links[MAX_IFACES];
	int n = pl->probe.n_ifaces;

	for (int i = 0; i < n; i++)
		links[i] = (struct curve_link){ pl->probe.ifaces[i].name,
						pl->probe.ifaces[i].ifindex };
	return curve_setup(&pl->curve, &opt->curve, links, n, gap_ns, pl->exporter.json);
}

/* After the exporters, the consumers: each takes the class that
 * annotate() gave this same record (the exporter calls both in turn). */
static void on_record(void *ctx, const struct flow_record *rec)
{
	struct pipeline *pl = ctx;

	p2p_hosts_add_flow(pl->p2p, rec, &pl->record_class);
	if (pl->live)
		live_flows_exported(pl->live, &rec->key);
	if (pl->history)
		history_add_flow(pl->history, rec, &pl->record_class);
	if (pl->store)
		store_add_flow(pl->store, rec, &pl->record_class);
	if (pl->fleet)
		fleet_add_flow(pl->fleet, rec, &pl->record_class);
	if (pl->tcp)
		tcp_analysis_flow(pl->tcp, rec, &pl->record_class);
}

/* Before the exporters: the enrich stage (ASes on the record, its class
 * for the consumers), then the connection's reset verdict. */
static void annotate(void *ctx, struct flow_record *rec)
{
	struct pipeline *pl = ctx;

	enrich_flow(&pl->enrich, rec, &pl->record_class);
	routes_annotate(&pl->routes, rec);
	if (pl->tcp)
		tcp_analysis_annotate(pl->tcp, rec);
}

static void on_alarm(void *ctx, const struct p2p_host_report *r)
{
	struct pipeline *pl = ctx;
	char line[512];

	pl->ds.v[DS_p2p_alarms]++;
	p2p_format_log(line, sizeof(line), r);
	log_warn("%s", line);
	if (pl->exporter.json && p2p_write_json(pl->exporter.json, r) != 0)
		pl->exporter.json_errors++;
}

int pipeline_init(struct pipeline *pl, const struct export_options *opt)
{
	struct flow_cache_config cfg = export_options_cache_config(opt);
	/* A mark outlives the gaps between its flow's records. */
	struct flow_cache_config marks_cfg = {
		.active_timeout_ns = UINT64_MAX,
		.inactive_timeout_ns = cfg.active_timeout_ns + cfg.inactive_timeout_ns,
		.max_flows = cfg.max_flows,
	};
	struct p2p_config p2p = {
		.period_ms = opt->p2p_period * 1000,
		.threshold = opt->p2p_threshold,
		.local = &opt->local,
		.on_alarm = on_alarm,
		.ctx = pl,
	};
	struct bpf_map *events;
	int rc;

	pl->cache = flow_cache_new(&cfg, export_flow, pl);
	pl->marks = flow_cache_new(&marks_cfg, export_flow, pl);
	pl->p2p = p2p_hosts_new(&p2p);
	if (!pl->cache || !pl->marks || !pl->p2p) {
		log_error("out of memory for the flow cache");
		return -ENOMEM;
	}
	pl->drainer = drainer_new(&pl->probe, pl->cache);
	if (!pl->drainer) {
		rc = -errno;
		log_error("cannot set up the drain: %s", strerror(-rc));
		return err_runtime(rc);
	}
	rc = curve_init(pl, opt, cfg.inactive_timeout_ns);
	if (rc)
		return rc;
	if (pl->live) {
		pl->live_buf = calloc(HISTORY_LIVE, sizeof(*pl->live_buf));
		if (!pl->live_buf)
			return -ENOMEM;
		pl->live_idle_ns = cfg.inactive_timeout_ns;
	}
	drainer_set_observer(pl->drainer, on_drained, pl);
	events = bpf_object__find_map_by_name(pl->probe.skel->obj, "events");
	if (events) {
		pl->events = events_reader_new(bpf_map__fd(events), on_event, pl);
		if (!pl->events) {
			rc = -errno;
			log_error("cannot read the event ring: %s", strerror(-rc));
			return err_runtime(rc);
		}
	}
	pl->tcp = tcp_analysis_new(
		opt, opt->no_resets ? -1 : bpf_map__fd(pl->probe.skel->maps.conns), &pl->exporter);
	if (!pl->tcp)
		return -ENOMEM;
	tcp_analysis_log_intervals(pl->tcp, !pl->quiescent);
	tcp_analysis_quiescent(pl->tcp, pl->quiescent);
	pl->enrich = (struct enrich_config){ .local = &opt->local, .asn = opt->asn };
	pl->exporter.annotate = annotate;
	pl->exporter.as_numbers = opt->asn != NULL;
	routes_init(&pl->routes, pl->probe.skel);
	pl->exporter.next_hops = pl->routes.fd >= 0;
	pl->exporter.reset_verdicts = opt->reset_template && !opt->no_resets;
	pl->exporter.on_record = on_record;
	pl->exporter.on_record_ctx = pl;
	pl->exporter.max_flow_age_ms = (opt->active_timeout + 10) * 1000;
	pl->exporter.export_rate = opt->export_rate;
	pl->exporter.queue_max = opt->export_queue;
	pl->ds.v[DS_export_rate] = opt->export_rate;
	pl->ds.v[DS_export_queue_limit] = opt->export_queue;
	pl->p2p_threshold = opt->p2p_threshold;
	return 0;
}

static void publish(struct pipeline *pl, bool force_stats)
{
	struct probe_stats ps = {
		.packets_seen = pl->counters[CNT_PACKETS],
		.bytes_seen = pl->counters[CNT_BYTES],
		.flows_evicted = pl->counters[CNT_FLOWS_EVICTED],
		.packets_uncounted = pl->counters[CNT_UNCOUNTED_PACKETS],
		.bytes_uncounted = pl->counters[CNT_UNCOUNTED_BYTES],
		.sampling_interval = 1,
		.sampling_algorithm = 1,
	};

	exporter_stats(&pl->exporter, &ps, force_stats);
	exporter_flush(&pl->exporter);
	pl->ds.v[DS_flows_in_cache] = flow_cache_count(pl->cache);
	pl->ds.v[DS_flows_lack_of_resources] = flow_cache_lack_of_resources(pl->cache);
	pl->ds.v[DS_export_packets] = exporter_packets_sent(&pl->exporter);
	pl->ds.v[DS_export_errors] = exporter_errors(&pl->exporter);
	pl->ds.v[DS_export_queued] = exporter_queued(&pl->exporter);
	pl->ds.v[DS_export_queue_drops] = exporter_queue_drops(&pl->exporter);
	pl->ds.v[DS_export_collector_drops] = exporter_local_drops(&pl->exporter);
	pl->ds.v[DS_route_records_missing] = pl->routes.missing;
	pl->ds.v[DS_route_records_unrouted] = pl->routes.unrouted;
	if (pl->tcp) {
		const struct tcp_analysis_stats *ts = tcp_analysis_stats(pl->tcp);

		pl->ds.v[DS_resets_decided] = ts->resets;
		pl->ds.v[DS_resets_forged] = ts->forged;
		pl->ds.v[DS_resets_suspect] = ts->suspect;
		pl->ds.v[DS_bt_blocked] = ts->blocked;
		pl->ds.v[DS_conn_slots] = ts->conn_slots;
		pl->ds.v[DS_conn_entries] = ts->conn_entries;
		pl->ds.v[DS_conns_open] = ts->conns_open;
		pl->ds.v[DS_intervals] = ts->intervals;
	}
	probe_publish_daemon_stats(&pl->probe, &pl->ds);
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static void drain(struct pipeline *pl)
{
	struct drain_result res;
	uint64_t t0, us;
	int err;

	/* Events first: a flow recognised now is marked before its export. */
	if (pl->events)
		events_reader_consume(pl->events);
	t0 = monotonic_us();
	err = pl->quiescent ? drainer_run_quiescent(pl->drainer, &res) :
			      drainer_run(pl->drainer, &res);
	/* How long a swap and read take: a soak watches it not grow. */
	us = monotonic_us() - t0;
	pl->ds.v[DS_drain_time_last] = us;
	if (us > pl->ds.v[DS_drain_time_max])
		pl->ds.v[DS_drain_time_max] = us;
	if (err)
		pl->ds.v[DS_drain_errors]++;
	pl->ds.v[DS_drains]++;
	pl->ds.v[DS_drained_entries] += res.entries;
	pl->ds.v[DS_table_entries_last_drain] = res.entries;
	pl->ds.v[DS_table_slots] = probe_flow_slots(&pl->probe);
	pl->ds.v[DS_evicted_records] += res.evicted_records;
	probe_read_counters(probe_counters_fd(&pl->probe), pl->probe.ncpus, pl->counters);
}

void pipeline_start(struct pipeline *pl, uint64_t now_ns)
{
	curve_start(pl->curve, now_ns);
}

uint64_t pipeline_sample_ns(const struct pipeline *pl)
{
	return curve_bin_ns(pl->curve);
}

static void feed_collectors(struct pipeline *pl)
{
	struct history_collector hc[HISTORY_COLLECTORS];
	int n = pl->exporter.n_collectors < HISTORY_COLLECTORS ? pl->exporter.n_collectors :
								 HISTORY_COLLECTORS;

	for (int i = 0; i < n; i++) {
		const struct collector *c = &pl->exporter.collectors[i];

		snprintf(hc[i].name, sizeof(hc[i].name), "%s", c->spec);
		hc[i].sent = c->packets_sent;
		hc[i].errors = c->send_errors + c->queue_drops;
		hc[i].queued = c->queue_len;
	}
	history_set_collectors(pl->history, hc, n);
}

static uint64_t wall_of(void *ctx, uint64_t probe_ns)
{
	return exporter_wall_ms(ctx, probe_ns);
}

/* Once a tick: the tick's rows to the embedded history's writer (one
 * transaction, on its thread) and to the fleet's sender, their counts into
 * the daemon's. */
static void feed_store(struct pipeline *pl, uint64_t wall_ms)
{
	struct store_stats st;

	if (pl->fleet) {
		struct fleet_stats fs;

		fleet_tick(pl->fleet, wall_ms);
		fleet_get_stats(pl->fleet, &fs);
		pl->ds.v[DS_fleet_rows] = fs.rows_sent;
		pl->ds.v[DS_fleet_rows_dropped] = fs.rows_dropped;
		pl->ds.v[DS_fleet_send_errors] = fs.send_errors;
		pl->ds.v[DS_fleet_buffered_bytes] = fs.buffered;
	}
	if (!pl->store)
		return;
	store_tick(pl->store, wall_ms);
	store_get_stats(pl->store, &st);
	pl->ds.v[DS_store_rows] = st.rows_written;
	pl->ds.v[DS_store_rows_lost] = st.rows_lost;
	pl->ds.v[DS_store_records_dropped] = st.records_dropped;
	pl->ds.v[DS_store_write_errors] = st.write_errors;
	pl->ds.v[DS_store_commit_time_last] = st.commit_us_last;
}

/* Once a tick, what the dashboard shows besides flows and events. */
static void feed_history(struct pipeline *pl, uint64_t wall_ms)
{
	struct p2p_host_report r[HISTORY_P2P];
	size_t n;

	feed_store(pl, wall_ms);
	if (!pl->history)
		return;
	if (pl->live) {
		pl->ds.v[DS_live_flows] = live_flows_count(pl->live);
		pl->ds.v[DS_live_flows_untracked] = live_flows_dropped(pl->live);
		n = live_flows_snapshot(pl->live, pl->live_buf, HISTORY_LIVE, wall_of,
					&pl->exporter);
		history_set_live(pl->history, pl->live_buf, n, wall_ms);
	}
	n = pipeline_p2p_hosts(pl, r, HISTORY_P2P);
	history_set_p2p(pl->history, r, n);
	history_set_counters(pl->history, pl->counters, &pl->ds, wall_ms);
	for (int i = 0; i < pl->probe.n_ifaces; i++)
		history_set_iface_traffic(pl->history, pl->probe.ifaces[i].ifindex,
					  pl->traffic[i].packets, pl->traffic[i].bytes);
	feed_collectors(pl);
}

/*
 * Expiry no faster than the collectors take it: at most what their queues
 * have room for now. Live, the rest stays in the cache for the next tick
 * (the drain loop must not stall: the kernel tables fill meanwhile). In
 * replay nothing runs concurrently, so the replay waits for room instead,
 * and its records are those a live probe would have made.
 */
static void expire_paced(struct pipeline *pl, uint64_t now_ns)
{
	for (;;) {
		size_t room = exporter_room_flows(&pl->exporter);
		size_t n = flow_cache_expire_some(pl->cache, now_ns, room);

		if (n < room)
			return;
		if (!pl->quiescent) {
			pl->ds.v[DS_export_deferred]++;
			return;
		}
		exporter_flush(&pl->exporter);
		exporter_wait_room(&pl->exporter, pl->exporter.queue_max / 2 + 1, UINT64_MAX);
	}
}

void pipeline_tick(struct pipeline *pl, uint64_t now_ns, uint64_t wall_ms, int64_t wall_offset_ns)
{
	exporter_set_clock(&pl->exporter, wall_ms, wall_offset_ns);
	drain(pl);
	curve_tick(pl->curve, now_ns, wall_offset_ns);
	/* Verdicts before expiry: a reset flow leaves the cache only after
	 * its verdict is decided (the end-of-flow grace outlasts the hold). */
	tcp_analysis_tick(pl->tcp, now_ns, wall_ms);
	flood_report_tick(&pl->flood, pl->counters, now_ns);
	expire_paced(pl, now_ns);
	flow_cache_expire(pl->marks, now_ns);
	if (pl->live)
		live_flows_expire(pl->live, now_ns, pl->live_idle_ns);
	p2p_hosts_tick(pl->p2p, wall_ms);
	publish(pl, false);
	feed_history(pl, wall_ms);
}

/* CPU seconds this process has used: what the shutdown export costs the
 * host beside its duration (a collector on the same host competes for
 * the same cores). */
static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* How long the shutdown export may take beyond its estimate. */
#define FLUSH_SLACK_S 10

/*
 * Every open flow, as forced, at the export rate: the daemon waits (the
 * queues would overflow otherwise), bounded by the time the packets need
 * at the rate plus FLUSH_SLACK_S; past that, the rest go into the queues
 * anyway and what does not fit is dropped and counted.
 */
static void flush_paced(struct pipeline *pl)
{
	struct exporter *ex = &pl->exporter;
	size_t flows = flow_cache_count(pl->cache);
	uint64_t est = exporter_seconds_for(ex, flows);
	uint64_t t0 = collector_monotonic_ns();
	double cpu0 = cpu_seconds();
	uint64_t deadline = t0 + (est + FLUSH_SLACK_S) * 1000000000ull;
	bool waited = false;

	if (est > 1)
		log_info("exporting %zu open flows at %u packets/s a collector: "
			 "at most %llu s (the daemon waits; --export-rate sets "
			 "the pace)",
			 flows, ex->export_rate, (unsigned long long)est);
	while (flow_cache_count(pl->cache)) {
		size_t room = exporter_room_flows(ex);

		if (room) {
			flow_cache_flush_some(pl->cache, END_FORCED, room);
			continue;
		}
		exporter_flush(ex);
		waited = true;
		if (exporter_wait_room(ex, ex->queue_max / 2 + 1, deadline) != 0) {
			log_warn("the shutdown export took longer than %llu s: "
				 "the %zu flows left go out unpaced",
				 (unsigned long long)(est + FLUSH_SLACK_S),
				 flow_cache_count(pl->cache));
			flow_cache_flush(pl->cache, END_FORCED);
			break;
		}
	}
	exporter_flush(ex);
	/* What the queues hold leaves paced too, before the sockets close. */
	exporter_wait_room(ex, UINT32_MAX, deadline);
	if (waited || est > 1)
		log_info("exported %zu open flows in %.1f s (%.2f s of CPU)", flows,
			 (collector_monotonic_ns() - t0) / 1e9, cpu_seconds() - cpu0);
}

void pipeline_finish(struct pipeline *pl, uint64_t wall_ms, int64_t wall_offset_ns)
{
	exporter_set_clock(&pl->exporter, wall_ms, wall_offset_ns);
	/* Live: the swap waits for every program run that started before it,
	 * so afterwards neither table has a writer; the one that becomes live
	 * may still hold packets of runs that straddled the detach. */
	drain(pl);
	/* Still attached (a stop that leaves the probe counting): the live
	 * table has a writer and stays for the next daemon to drain. */
	if (!pl->quiescent && !probe_attached(&pl->probe))
		pl->ds.v[DS_drained_entries] += drain_generation(pl->drainer, pl->probe.live);
	if (pl->events)
		events_reader_consume(pl->events);
	probe_read_counters(probe_counters_fd(&pl->probe), pl->probe.ncpus, pl->counters);
	curve_finish(pl->curve, wall_ms * 1000000 - wall_offset_ns, wall_offset_ns);
	tcp_analysis_finish(pl->tcp, wall_ms * 1000000 - wall_offset_ns, wall_ms);
	flood_report_finish(&pl->flood, pl->counters);
	flush_paced(pl);
	publish(pl, true);
	feed_history(pl, wall_ms);
}

size_t pipeline_p2p_hosts(struct pipeline *pl, struct p2p_host_report *out, size_t max)
{
	return pl->p2p ? p2p_hosts_list(pl->p2p, out, max) : 0;
}

#define SUMMARY_HOSTS 10

void pipeline_log_p2p_summary(struct pipeline *pl)
{
	struct p2p_host_report *r = calloc(SUMMARY_HOSTS, sizeof(*r));
	size_t n = r ? pipeline_p2p_hosts(pl, r, SUMMARY_HOSTS) : 0;
	char addr[64];

	if (n)
		log_info("P2P scores of the busiest local hosts this period "
			 "(alarm at %lu):",
			 pl->p2p_threshold);
	for (size_t i = 0; i < n; i++) {
		json_format_addr(addr, sizeof(addr), r[i].addr, r[i].ip_version);
		log_info("  %-39s score %3u  %llu peers, %llu flows, %llu BitTorrent%s%s", addr,
			 r[i].score, (unsigned long long)r[i].peers, (unsigned long long)r[i].flows,
			 (unsigned long long)r[i].bt_flows, r[i].n_reasons ? ": " : "",
			 r[i].n_reasons ? r[i].reasons[0] : "");
	}
	free(r);
}

void pipeline_destroy(struct pipeline *pl)
{
	tcp_analysis_free(pl->tcp);
	pl->tcp = NULL;
	exporter_stop(&pl->exporter);
	routes_free(&pl->routes); /* after the last export: it reads them */
	drainer_free(pl->drainer);
	pl->drainer = NULL;
	events_reader_free(pl->events);
	pl->events = NULL;
	p2p_hosts_free(pl->p2p);
	pl->p2p = NULL;
	curve_free(pl->curve);
	pl->curve = NULL;
	free(pl->live_buf);
	pl->live_buf = NULL;
	flow_cache_free(pl->marks);
	pl->marks = NULL;
	probe_destroy(&pl->probe);
	flow_cache_free(pl->cache);
	pl->cache = NULL;
}
