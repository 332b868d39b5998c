// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The export fan-out. The NetFlow encoder is pure; this file gives it
 * sockets and a clock, and turns the cache's (key, value, reason) into the
 * wall-clock flow_record every output shares.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "export/exporter.h"
#include "export/local_drops.h"
#include "lib/json_output.h"
#include "lib/log.h"

#define STATS_INTERVAL_MS 60000
#define WALL_STEP_NS 100000000ll /* 100 ms */

static int emit_to_collector(void *ctx, const uint8_t *pkt, size_t len)
{
	return collector_send(ctx, pkt, len);
}

/* Collector i's stream is NetFlow v9 or IPFIX (-c ipfix://...). */
static bool is_ipfix(const struct exporter *ex, int i)
{
	return ex->collectors[i].ipfix;
}

static size_t min_flows(const struct exporter *ex, int i)
{
	return is_ipfix(ex, i) ? ipfix_min_flows_per_packet(&ex->ipfix[i]) :
				 nf9_min_flows_per_packet(&ex->streams[i]);
}

int exporter_add_collector(struct exporter *ex, const char *spec)
{
	if (ex->n_collectors >= MAX_COLLECTORS) {
		log_error("too many collectors (at most %d)", MAX_COLLECTORS);
		return -EINVAL;
	}
	int rc = collector_parse(&ex->collectors[ex->n_collectors], spec);

	if (rc == 0)
		ex->n_collectors++;
	return rc;
}

/* What a new TCP session to collector i gets first: every template the
 * stream has sent so far. */
static int set_tcp_preamble(struct exporter *ex, int i, uint64_t now_wall_ms)
{
	uint8_t *msg = malloc(IPFIX_PAYLOAD_LIMIT);
	size_t len;
	int rc;

	if (!msg)
		return -ENOMEM;
	len = ipfix_template_message(&ex->ipfix[i], msg, now_wall_ms);
	rc = collector_set_preamble(&ex->collectors[i], msg, len);
	free(msg);
	return rc;
}

int exporter_start(struct exporter *ex, uint32_t source_id, uint32_t max_payload,
		   uint64_t now_wall_ms)
{
	struct nf9_config cfg = { .source_id = source_id,
				  .max_payload = max_payload,
				  .as_numbers = ex->as_numbers,
				  .reset_verdicts = ex->reset_verdicts,
				  .next_hops = ex->next_hops,
				  .refresh_ms = ex->template_refresh_ms };

	ex->clock.uptime_base_ms = now_wall_ms - ex->start_uptime_ms;
	ex->clock.now_ms = now_wall_ms;
	ex->stats_sent_ms = 0;
	struct ipfix_config icfg = { .domain_id = source_id,
				     .max_payload = max_payload,
				     .pen = ex->ipfix_pen,
				     .as_numbers = ex->as_numbers,
				     .reset_verdicts = ex->reset_verdicts,
				     .next_hops = ex->next_hops,
				     .refresh_ms = ex->template_refresh_ms };

	ex->streams = calloc(ex->n_collectors ? ex->n_collectors : 1, sizeof(*ex->streams));
	ex->ipfix = calloc(ex->n_collectors ? ex->n_collectors : 1, sizeof(*ex->ipfix));
	if (!ex->streams || !ex->ipfix)
		return -ENOMEM;
	for (int i = 0; i < ex->n_collectors; i++) {
		struct collector *c = &ex->collectors[i];
		int rc;

		c->rate = ex->export_rate;
		/* A collector on this host: its socket's drops can be read. */
		c->local = !c->tcp && udp_address_is_local(&c->addr) &&
			   local_udp_drops(&c->addr, NULL, NULL, &c->local_drops0) == 0;
		c->queue_max = ex->queue_max;
		if (ex->source_len && ex->source.ss_family != c->addr.ss_family) {
			log_error("collector %s: --source is an %s address, the "
				  "collector is not; give one of its family",
				  c->spec, ex->source.ss_family == AF_INET ? "IPv4" : "IPv6");
			return -EINVAL;
		}
		memcpy(&c->source, &ex->source, sizeof(c->source));
		c->source_len = ex->source_len;
		rc = collector_open(c);

		if (rc)
			return rc;
		if (is_ipfix(ex, i)) {
			struct ipfix_config tcfg = icfg;

			/* Over TCP templates go once per session (RFC 7011
			 * 8.1), not on a refresh schedule. */
			if (c->tcp)
				tcfg.refresh_packets = tcfg.refresh_ms = UINT32_MAX;
			if (ipfix_stream_init(&ex->ipfix[i], &tcfg, emit_to_collector, c) != 0) {
				log_error("IPFIX message size %u is not usable (at "
					  "most %u)",
					  max_payload, IPFIX_PAYLOAD_LIMIT);
				return -EINVAL;
			}
			if (c->tcp && (rc = set_tcp_preamble(ex, i, now_wall_ms)) != 0)
				return rc;
			ipfix_send_templates(&ex->ipfix[i], now_wall_ms);
			continue;
		}
		if (nf9_stream_init(&ex->streams[i], &cfg, emit_to_collector, &ex->collectors[i]) !=
		    0) {
			log_error("NetFlow payload size %u is not usable (at most %u)", max_payload,
				  NF9_PAYLOAD_LIMIT);
			return -EINVAL;
		}
		nf9_send_templates(&ex->streams[i], &ex->clock);
	}
	return 0;
}

void exporter_set_clock(struct exporter *ex, uint64_t now_wall_ms, int64_t wall_offset_ns)
{
	/* A wall-clock step (NTP, an operator) moves the offset between the
	 * probe clock and wall time. sysUptime counts time since start and
	 * must not jump with it: moving backwards would take it below the
	 * base, where every record would be dated at the base. So the base
	 * moves with the step. Below WALL_STEP_NS the change is slewing and
	 * read jitter, which is left alone (each base change resends
	 * templates). */
	if (!ex->base_offset_set) {
		ex->base_offset_ns = wall_offset_ns;
		ex->base_offset_set = true;
	} else if (llabs(wall_offset_ns - ex->base_offset_ns) >= WALL_STEP_NS) {
		int64_t step_ms = (wall_offset_ns - ex->base_offset_ns) / 1000000;

		log_info("wall clock stepped by %+lld ms: sysUptime carries on, "
			 "flows are dated by the new clock",
			 (long long)step_ms);
		ex->clock.uptime_base_ms += step_ms;
		ex->base_offset_ns += step_ms * 1000000;
	}
	ex->clock.now_ms = now_wall_ms;
	ex->wall_offset_ns = wall_offset_ns;
	/* Move sysUptime's base forward long before it wraps at 2^32 ms. */
	ex->clock.uptime_base_ms =
		nf9_next_uptime_base(ex->clock.uptime_base_ms, now_wall_ms, ex->max_flow_age_ms);
}

uint64_t exporter_wall_ms(const struct exporter *ex, uint64_t ns)
{
	int64_t wall = (int64_t)ns + ex->wall_offset_ns;

	return wall > 0 ? (uint64_t)wall / 1000000 : 0;
}

void exporter_flow(struct exporter *ex, const struct flow_key *key, const struct flow_value *val,
		   enum flow_end_reason reason)
{
	struct flow_record rec = {
		.key = *key,
		.packets = val->packets,
		.bytes = val->bytes,
		.first_ms = exporter_wall_ms(ex, val->first_ns),
		.last_ms = exporter_wall_ms(ex, val->last_ns),
		.tcp_flags = val->tcp_flags,
		.tos = val->tos,
		.ttl_min = val->ttl_min,
		.ttl_max = val->ttl_max,
		.app = val->app,
		.end_reason = reason,
		.direction = 0, /* ingress: XDP sees packets as they arrive */
		.flags = val->flags,
		.tunnel = val->tunnel,
		.encap = val->encap,
		.inner_vlan = val->inner_vlan,
		.mpls_label = val->mpls_label,
	};

	if (ex->annotate)
		ex->annotate(ex->on_record_ctx, &rec);
	for (int i = 0; i < ex->n_collectors; i++) {
		if (is_ipfix(ex, i)) {
			bool encap = ex->ipfix[i].encap_templates;

			ipfix_add_flow(&ex->ipfix[i], &rec, ex->clock.now_ms);
			/* the encapsulation templates switched on: a new
			 * session needs them too (ipfix.h) */
			if (!encap && ex->ipfix[i].encap_templates && ex->collectors[i].tcp &&
			    set_tcp_preamble(ex, i, ex->clock.now_ms) != 0)
				log_error("collector %s: out of memory for the templates of a "
					  "new TCP session: after a reconnection it cannot decode "
					  "encapsulated flows (restart the probe)",
					  ex->collectors[i].spec);
		} else
			nf9_add_flow(&ex->streams[i], &rec, &ex->clock);
	}
	if (ex->json && json_write_flow(ex->json, &rec) != 0)
		ex->json_errors++;
	if (ex->on_record)
		ex->on_record(ex->on_record_ctx, &rec);
	ex->flows_exported++;
}

void exporter_event(struct exporter *ex, const struct event *ev)
{
	if (ex->json && ev->type == EVENT_BITTORRENT &&
	    json_write_bt_event(ex->json, ev, exporter_wall_ms(ex, ev->time_ns)) != 0)
		ex->json_errors++;
}

void exporter_stats(struct exporter *ex, const struct probe_stats *st, bool force)
{
	if (!force && ex->stats_sent_ms && ex->clock.now_ms - ex->stats_sent_ms < STATS_INTERVAL_MS)
		return;
	for (int i = 0; i < ex->n_collectors; i++) {
		if (is_ipfix(ex, i))
			ipfix_add_stats(&ex->ipfix[i], st, ex->clock.now_ms);
		else
			nf9_add_stats(&ex->streams[i], st, &ex->clock);
	}
	ex->stats_sent_ms = ex->clock.now_ms;
}

void exporter_flush(struct exporter *ex)
{
	if (ex->json)
		fflush(ex->json);
	if (!ex->streams)
		return; /* never started: nothing queued */
	for (int i = 0; i < ex->n_collectors; i++) {
		if (is_ipfix(ex, i))
			ipfix_flush(&ex->ipfix[i], ex->clock.now_ms);
		else
			nf9_flush(&ex->streams[i], &ex->clock);
		/* A slow collector's queue drains a little every tick. */
		collector_flush_queue(&ex->collectors[i]);
	}
}

size_t exporter_room_flows(const struct exporter *ex)
{
	size_t room = SIZE_MAX;

	if (!ex->streams)
		return room;
	for (int i = 0; i < ex->n_collectors; i++) {
		unsigned int packets = collector_room(&ex->collectors[i]);
		size_t flows;

		/* Two packets spare: the one being filled, and the stats. */
		packets = packets > 2 ? packets - 2 : 0;
		flows = packets * min_flows(ex, i);
		if (flows < room)
			room = flows;
	}
	return room;
}

void exporter_pace(struct exporter *ex)
{
	for (int i = 0; i < ex->n_collectors && ex->streams; i++)
		collector_flush_queue(&ex->collectors[i]);
}

uint64_t exporter_wake_ns(const struct exporter *ex)
{
	uint64_t wake = 0;

	for (int i = 0; i < ex->n_collectors && ex->streams; i++) {
		uint64_t w = collector_wake_ns(&ex->collectors[i]);

		if (w && (!wake || w < wake))
			wake = w;
	}
	return wake;
}

int exporter_wait_room(struct exporter *ex, unsigned int min_packets, uint64_t deadline_ns)
{
	for (int i = 0; i < ex->n_collectors && ex->streams; i++) {
		struct collector *c = &ex->collectors[i];

		while (c->fd >= 0 && c->queue_len && collector_room(c) < min_packets) {
			uint64_t now = collector_monotonic_ns();
			/* Until a burst has left: wake once a slice, not a packet. */
			uint64_t until = now + PACER_SLICE_NS;

			if (now >= deadline_ns)
				return -ETIMEDOUT;
			collector_drain(c, until < deadline_ns ? until : deadline_ns);
		}
	}
	return 0;
}

uint64_t exporter_seconds_for(const struct exporter *ex, size_t n_flows)
{
	uint64_t worst = 0;

	for (int i = 0; i < ex->n_collectors && ex->streams; i++) {
		const struct collector *c = &ex->collectors[i];
		uint64_t packets = n_flows / min_flows(ex, i) + 1;
		uint64_t s;

		if (!c->rate)
			continue;
		s = (packets + c->queue_len + c->rate - 1) / c->rate;
		if (s > worst)
			worst = s;
	}
	return worst;
}

uint64_t exporter_queued(const struct exporter *ex)
{
	uint64_t n = 0;

	for (int i = 0; i < ex->n_collectors; i++)
		n += ex->collectors[i].queue_len;
	return n;
}

uint64_t exporter_queue_drops(const struct exporter *ex)
{
	uint64_t n = 0;

	for (int i = 0; i < ex->n_collectors; i++)
		n += ex->collectors[i].queue_drops;
	return n;
}

uint64_t exporter_local_drops(struct exporter *ex)
{
	uint64_t n = 0;

	for (int i = 0; i < ex->n_collectors; i++) {
		struct collector *c = &ex->collectors[i];
		uint64_t d;

		if (c->local && local_udp_drops(&c->addr, NULL, NULL, &d) == 0 &&
		    d >= c->local_drops0)
			c->local_drops = d - c->local_drops0;
		n += c->local_drops;
	}
	return n;
}

uint64_t exporter_packets_sent(const struct exporter *ex)
{
	uint64_t n = 0;

	for (int i = 0; i < ex->n_collectors && ex->streams; i++)
		n += is_ipfix(ex, i) ? ex->ipfix[i].packets_sent : ex->streams[i].packets_sent;
	return n;
}

uint64_t exporter_errors(const struct exporter *ex)
{
	uint64_t n = 0;

	/* Packets the sockets refused at once, plus those a collector's host
	 * refused after they left (ICMP: port unreachable). */
	for (int i = 0; i < ex->n_collectors && ex->streams; i++)
		n += (is_ipfix(ex, i) ? ex->ipfix[i].emit_errors : ex->streams[i].emit_errors) +
		     ex->collectors[i].refused;
	return n;
}

void exporter_stop(struct exporter *ex)
{
	if (!ex->streams)
		return;
	exporter_flush(ex);
	for (int i = 0; i < ex->n_collectors; i++) {
		struct collector *c = &ex->collectors[i];

		/* IPFIX over TCP: the templates withdrawn, after the last
		 * data, before the orderly close (RFC 7011 8.1); queued, so it
		 * leaves in order and the close waits for it. */
		if (c->tcp && c->ipfix) {
			uint8_t msg[IPFIX_WITHDRAWAL_LEN];
			size_t len = ipfix_withdrawal_message(&ex->ipfix[i], msg, ex->clock.now_ms);

			collector_send(c, msg, len);
		}
		collector_close(c);
		if (c->local)
			exporter_local_drops(ex); /* the last packets' fate too */
		if (c->local_drops)
			log_warn("collector %s, on this host, dropped %llu export packets "
				 "in its receive buffer: give it a bigger one (nfcapd -B "
				 "4194304) or its own cores, or lower --export-rate",
				 c->spec, (unsigned long long)c->local_drops);
		if (c->send_errors || c->queue_drops || c->refused)
			log_warn("collector %s: %llu export packets sent, %llu lost: "
				 "%llu refused, %llu dropped from its full queue",
				 c->spec, (unsigned long long)c->packets_sent,
				 (unsigned long long)(c->send_errors + c->refused + c->queue_drops),
				 (unsigned long long)(c->send_errors + c->refused),
				 (unsigned long long)c->queue_drops);
	}
	free(ex->streams);
	ex->streams = NULL;
	free(ex->ipfix);
	ex->ipfix = NULL;
}
