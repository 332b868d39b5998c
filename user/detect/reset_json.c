// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * JSON Lines for reset verdicts and connection summaries. A verdict is
 * only as useful as a person's ability to check it, so each reset line
 * carries the history its signals were judged against ("facts"), not
 * just the signal names. Field names are a published contract: add
 * fields freely, never rename these.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "lib/json_output.h"
#include "lib/time_format.h"
#include "detect/reset_json.h"

/* ["R1","R6",...] in signal order. */
static json_t *signal_list(uint32_t signals)
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	for (int s = 1; s < RESET_SIGNAL__MAX; s++) {
		if (!(signals & RESET_SIGNAL_BIT(s)))
			continue;
		if (json_array_append_new(list, json_string(reset_signal_name(s)))) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

static json_t *uint_or_null(bool known, uint64_t v)
{
	return known ? json_integer((json_int_t)v) : json_null();
}

/* What the sender and its peer had shown before the RST. */
static json_t *reset_facts(const struct reset_report *r)
{
	const struct tcp_event *t = &r->ev.tcp;
	bool seen = t->snd.flags & SIDE_SEEN;
	json_t *idle = seen && r->ev.time_ns >= t->snd.last_ns ?
			       json_real((double)(r->ev.time_ns - t->snd.last_ns) / 1e9) :
			       json_null();

	return json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:I, s:o, s:I},"
			 " s:{s:I, s:i, s:i}, s:o, s:o, s:i, s:b}",
			 "sender", "ttl_last", t->snd.ttl_last, "ttl_min", t->snd.ttl_min,
			 "ttl_max", t->snd.ttl_max, "last_ip_id", t->snd.last_ip_id, "ipid_run",
			 t->snd.ipid_run, "snd_max", (json_int_t)t->snd.snd_max, "last_tsval",
			 uint_or_null(t->snd.flags & SIDE_TS, t->snd.last_tsval), "packets",
			 (json_int_t)t->snd.packets, "peer", "max_ack", (json_int_t)t->rcv.max_ack,
			 "last_ip_id", t->rcv.last_ip_id, "ttl_last", t->rcv.ttl_last, "tsval",
			 uint_or_null(t->pkt.has_ts, t->pkt.tsval), "idle_s", idle, "rst_count",
			 t->snd.rst_count, "df", t->pkt.df != 0);
}

int json_write_reset(FILE *out, const struct reset_report *r, uint64_t wall_ms)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], time[40], flags[9];
	const struct event *ev = &r->ev;
	const struct tcp_packet_facts *pkt = &ev->tcp.pkt;

	json_format_addr(src, sizeof(src), ev->key.src, ev->key.ip_version);
	json_format_addr(dst, sizeof(dst), ev->key.dst, ev->key.ip_version);
	json_format_time(time, sizeof(time), wall_ms);
	json_format_tcp_flags(flags, sizeof(flags), pkt->tcp_flags);

	return json_write_line(
		out,
		json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:I,"
			  " s:I, s:i, s:s, s:i, s:i, s:i, s:b, s:b, s:o, s:o}",
			  "type", "reset", "verdict", reset_verdict_name(r->verdict), "signals",
			  signal_list(r->signals), "time", time, "src", src, "dst", dst, "sport",
			  ev->key.sport, "dport", ev->key.dport, "ttl", pkt->ttl, "ip_id",
			  pkt->ip_id, "seq", (json_int_t)pkt->seq, "ack", (json_int_t)pkt->ack,
			  "window", pkt->window, "tcp_flags", flags, "ip_version",
			  ev->key.ip_version, "ifindex", (int)ev->key.ifindex, "vlan", ev->key.vlan,
			  "established", r->established, "bittorrent", r->bittorrent, "rtt_ms",
			  r->rtt_ns ? json_real((double)r->rtt_ns / 1e6) : json_null(), "facts",
			  reset_facts(r)));
}

int json_write_reset_connection(FILE *out, const struct conn_report *c, uint64_t wall_ms)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], first[40], last[40];
	const struct flow_key *k = &c->first_rst;
	uint64_t span_ms =
		c->last_rst_ns > c->first_rst_ns ? (c->last_rst_ns - c->first_rst_ns) / 1000000 : 0;

	json_format_addr(src, sizeof(src), k->src, k->ip_version);
	json_format_addr(dst, sizeof(dst), k->dst, k->ip_version);
	json_format_time(first, sizeof(first), wall_ms >= span_ms ? wall_ms - span_ms : 0);
	json_format_time(last, sizeof(last), wall_ms);

	return json_write_line(
		out,
		json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:b, s:b, s:b, s:s, s:s,"
			  " s:s, s:s, s:i, s:i, s:i, s:i, s:i}",
			  "type", "reset_connection", "verdict", reset_verdict_name(c->verdict),
			  "signals", signal_list(c->signals), "resets", (json_int_t)c->resets,
			  "forged", (json_int_t)c->forged, "suspect", (json_int_t)c->suspect,
			  "blocked", c->blocked, "bittorrent", c->bittorrent, "established",
			  c->established, "first", first, "last", last, "src", src, "dst", dst,
			  "sport", k->sport, "dport", k->dport, "ip_version", k->ip_version,
			  "ifindex", (int)k->ifindex, "vlan", k->vlan));
}
