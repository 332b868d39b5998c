// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The drain-expire-export tick shared by live capture and replay, and the
 * bookkeeping of the daemon's own statistics along the way.
 */
#include <errno.h>
#include <string.h>
#include "log.h"
#include "pipeline.h"

/* The flow cache's export hook: count, then hand to every output. */
static void export_flow(void *ctx, const struct flow_key *key,
			const struct flow_value *val, enum flow_end_reason reason)
{
	struct pipeline *pl = ctx;

	pl->ds.v[DS_flows_exported]++;
	if (reason == END_FORCED)
		pl->ds.v[DS_flows_exported_forced]++;
	exporter_flow(&pl->exporter, key, val, reason);
}

int pipeline_init(struct pipeline *pl, const struct flow_cache_config *cfg)
{
	pl->cache = flow_cache_new(cfg, export_flow, pl);
	if (!pl->cache) {
		log_error("out of memory for the flow cache");
		return EXIT_RUNTIME;
	}
	pl->drainer = drainer_new(&pl->probe, pl->cache);
	if (!pl->drainer) {
		log_error("cannot set up the drain: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static void publish(struct pipeline *pl, bool force_stats)
{
	struct probe_stats ps = {
		.packets_seen = pl->counters[CNT_PACKETS],
		.bytes_seen = pl->counters[CNT_BYTES],
		.flows_exported = pl->ds.v[DS_flows_exported],
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
	probe_publish_daemon_stats(&pl->probe, &pl->ds);
}

static void drain(struct pipeline *pl)
{
	struct drain_result res;
	int err;

	err = pl->quiescent ? drainer_run_quiescent(pl->drainer, &res)
			    : drainer_run(pl->drainer, &res);
	if (err)
		pl->ds.v[DS_drain_errors]++;
	pl->ds.v[DS_drains]++;
	pl->ds.v[DS_drained_entries] += res.entries;
	pl->ds.v[DS_evicted_records] += res.evicted_records;
	probe_read_counters(probe_counters_fd(&pl->probe), pl->probe.ncpus, pl->counters);
}

void pipeline_tick(struct pipeline *pl, uint64_t now_ns, uint64_t wall_ms,
		   int64_t wall_offset_ns)
{
	exporter_set_clock(&pl->exporter, wall_ms, wall_offset_ns);
	drain(pl);
	flow_cache_expire(pl->cache, now_ns);
	publish(pl, false);
}

void pipeline_finish(struct pipeline *pl, uint64_t wall_ms, int64_t wall_offset_ns)
{
	exporter_set_clock(&pl->exporter, wall_ms, wall_offset_ns);
	/* Live: the swap waits for every program run that started before it,
	 * so afterwards neither table has a writer; the one that becomes live
	 * may still hold packets of runs that straddled the detach. */
	drain(pl);
	if (!pl->quiescent)
		pl->ds.v[DS_drained_entries] += drain_generation(pl->drainer,
								 pl->probe.live);
	probe_read_counters(probe_counters_fd(&pl->probe), pl->probe.ncpus, pl->counters);
	flow_cache_flush(pl->cache, END_FORCED);
	publish(pl, true);
}

void pipeline_destroy(struct pipeline *pl)
{
	exporter_stop(&pl->exporter);
	drainer_free(pl->drainer);
	pl->drainer = NULL;
	probe_destroy(&pl->probe);
	flow_cache_free(pl->cache);
	pl->cache = NULL;
}
