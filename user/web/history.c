// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The in-memory history behind the dashboard: per-host time series in a
 * chained hash of preallocated hosts, rings of recent flows, events and
 * curve samples, all under one mutex (see history.h for why).
 */
#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "web/history.h"
#include "lib/json_output.h"
#include "lib/time_format.h"

#define DEFAULT_SPAN_MS (3600 * 1000ull)
#define ACTIVE_WINDOW_MS (120 * 1000ull) /* "now": the last 2 minutes */
#define PEER_BITS 256 /* linear-counting bitmap */
#define HISTORY_CURVE 3600 /* curve samples kept */
#define NO_HOST UINT32_MAX

enum proto_class {
	PC_TCP,
	PC_UDP,
	PC_ICMP,
	PC_OTHER,
	PC__MAX
};
static const char *const proto_names[PC__MAX] = { "tcp", "udp", "icmp", "other" };

struct bucket {
	uint64_t idx; /* time / bucket_ms; stale when not current */
	uint64_t packets, bytes;
	uint32_t flows, bt_flows, resets, forged;
	uint64_t peer_bits[PEER_BITS / 64];
};

struct port_count {
	uint16_t port;
	uint8_t proto;
	uint64_t flows;
};

struct peer_count {
	uint8_t ip_version;
	uint8_t addr[16];
	uint64_t flows, bytes;
};

struct host {
	uint32_t next; /* hash chain, or free list */
	bool used;
	uint8_t ip_version;
	uint8_t addr[16];
	uint64_t first_ms, last_ms;
	uint64_t resets, forged;
	uint64_t proto_flows[PC__MAX], proto_bytes[PC__MAX];
	struct bucket b[HISTORY_BUCKETS];
	struct port_count ports[HISTORY_TOP];
	struct peer_count peers[HISTORY_TOP];
	/* The live flows' counts (history_set_live), replaced each tick. */
	uint64_t live_flows, live_packets, live_bytes;
	uint64_t live_bits[PEER_BITS / 64];
};

struct event_line {
	char type[24];
	uint64_t time_ms;
	char *text;
};

struct curve_point {
	uint64_t time_ms;
	char iface[32];
	double utilisation, active_flows;
};

struct history {
	pthread_mutex_t lock;
	uint64_t span_ms, bucket_ms, now_ms;
	struct prefix_set local;
	unsigned int p2p_threshold;

	struct host *hosts;
	size_t max_hosts, n_hosts;
	uint32_t *heads, n_heads, free_list;
	uint64_t hosts_dropped;

	struct flow_record flows[HISTORY_FLOWS];
	size_t flow_next, n_flows;

	struct flow_record live[HISTORY_LIVE];
	size_t n_live;

	struct event_line *events;
	size_t max_events, event_next, n_events;

	struct curve_point curve[HISTORY_CURVE];
	size_t curve_next, n_curve;
	char *knee; /* the last "knee" line */

	struct p2p_host_report p2p[HISTORY_P2P];
	size_t n_p2p;

	uint64_t counters[CNT__MAX];
	struct daemon_stats ds;
	struct history_iface_gauge iface[HISTORY_IFACES];
	size_t n_collectors;
	struct history_collector collector[HISTORY_COLLECTORS];
	size_t n_ifaces;
};

static size_t heads_for(size_t max_hosts)
{
	size_t n = 1;

	while (n < max_hosts)
		n <<= 1;
	return n;
}

static void config_defaults(struct history_config *c)
{
	if (!c->span_ms)
		c->span_ms = DEFAULT_SPAN_MS;
	if (!c->max_hosts)
		c->max_hosts = HISTORY_DEFAULT_HOSTS;
	if (!c->max_events)
		c->max_events = HISTORY_DEFAULT_EVENTS;
}

size_t history_memory_bound(const struct history_config *cfg)
{
	struct history_config c = *cfg;

	config_defaults(&c);
	return sizeof(struct history) + c.max_hosts * sizeof(struct host) +
	       heads_for(c.max_hosts) * sizeof(uint32_t) +
	       c.max_events * (sizeof(struct event_line) + HISTORY_EVENT_MAX) + HISTORY_EVENT_MAX;
}

struct history *history_new(const struct history_config *cfg)
{
	struct history_config c = *cfg;
	struct history *h = calloc(1, sizeof(*h));

	config_defaults(&c);
	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->span_ms = c.span_ms;
	h->bucket_ms = c.span_ms / HISTORY_BUCKETS ? c.span_ms / HISTORY_BUCKETS : 1;
	if (c.local)
		h->local = *c.local;
	else
		prefix_set_default(&h->local);
	h->p2p_threshold = c.p2p_threshold ? c.p2p_threshold : P2P_DEFAULT_THRESHOLD;
	h->max_hosts = c.max_hosts;
	h->n_heads = heads_for(c.max_hosts);
	h->max_events = c.max_events;
	h->hosts = calloc(h->max_hosts, sizeof(*h->hosts));
	h->heads = malloc(h->n_heads * sizeof(*h->heads));
	h->events = calloc(h->max_events, sizeof(*h->events));
	if (!h->hosts || !h->heads || !h->events) {
		history_free(h);
		return NULL;
	}
	for (uint32_t i = 0; i < h->n_heads; i++)
		h->heads[i] = NO_HOST;
	for (size_t i = 0; i < h->max_hosts; i++)
		h->hosts[i].next = i + 1 < h->max_hosts ? i + 1 : NO_HOST;
	h->free_list = 0;
	return h;
}

void history_free(struct history *h)
{
	if (!h)
		return;
	if (h->events)
		for (size_t i = 0; i < h->max_events; i++)
			free(h->events[i].text);
	free(h->events);
	free(h->knee);
	free(h->hosts);
	free(h->heads);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* --- hosts ------------------------------------------------------------- */

/* The peer bitmap's bit, from the peer's flow_addr_hash: linear counting
 * assumes collisions at random, so take the hash's best-mixed (top) bits,
 * not the low ones of an address (200 peers in one /24 never collide
 * there and would count as 389). */
static uint32_t peer_bit(uint64_t hash)
{
	_Static_assert(PEER_BITS == 256, "one byte of hash per bit index");
	return hash >> 56;
}

/* hash: flow_addr_hash of the host (lib/flow_record.h). */
static uint32_t *chain_of(struct history *h, uint64_t hash)
{
	return &h->heads[hash & (h->n_heads - 1)];
}

static struct host *host_find(struct history *h, uint8_t ipv, const uint8_t addr[16], uint64_t hash)
{
	for (uint32_t i = *chain_of(h, hash); i != NO_HOST; i = h->hosts[i].next)
		if (h->hosts[i].ip_version == ipv && !memcmp(h->hosts[i].addr, addr, 16))
			return &h->hosts[i];
	return NULL;
}

/* Hosts silent for the whole span make room: their history is empty. */
static void hosts_forget_stale(struct history *h)
{
	for (uint32_t c = 0; c < h->n_heads; c++) {
		uint32_t *link = &h->heads[c];

		while (*link != NO_HOST) {
			struct host *x = &h->hosts[*link];
			uint32_t self = *link;

			if (x->last_ms + h->span_ms >= h->now_ms) {
				link = &x->next;
				continue;
			}
			*link = x->next;
			x->used = false;
			x->next = h->free_list;
			h->free_list = self;
			h->n_hosts--;
		}
	}
}

static struct host *host_get(struct history *h, uint8_t ipv, const uint8_t addr[16], uint64_t hash,
			     uint64_t t_ms)
{
	struct host *x = host_find(h, ipv, addr, hash);
	uint32_t *chain, i;

	if (x)
		return x;
	if (h->free_list == NO_HOST)
		hosts_forget_stale(h);
	if (h->free_list == NO_HOST) {
		h->hosts_dropped++;
		return NULL;
	}
	i = h->free_list;
	x = &h->hosts[i];
	h->free_list = x->next;
	memset(x, 0, sizeof(*x));
	x->used = true;
	x->ip_version = ipv;
	memcpy(x->addr, addr, 16);
	x->first_ms = t_ms;
	chain = chain_of(h, hash);
	x->next = *chain;
	*chain = i;
	h->n_hosts++;
	return x;
}

static struct bucket *bucket_at(struct history *h, struct host *x, uint64_t t_ms)
{
	uint64_t idx = t_ms / h->bucket_ms;
	struct bucket *b = &x->b[idx % HISTORY_BUCKETS];

	if (b->idx != idx) {
		if (b->idx > idx) /* older than the span: nowhere to go */
			return NULL;
		memset(b, 0, sizeof(*b));
		b->idx = idx;
	}
	return b;
}

static enum proto_class proto_class(uint8_t proto)
{
	switch (proto) {
	case 6:
		return PC_TCP;
	case 17:
		return PC_UDP;
	case 1:
	case 58:
		return PC_ICMP;
	default:
		return PC_OTHER;
	}
}

/* Space-saving top-k: a newcomer replaces the smallest and inherits its
 * count, so heavy hitters stay and counts are upper bounds. */
static void count_port(struct host *x, uint8_t proto, uint16_t port)
{
	struct port_count *min = &x->ports[0];

	for (int i = 0; i < HISTORY_TOP; i++) {
		struct port_count *p = &x->ports[i];

		if (p->flows && p->proto == proto && p->port == port) {
			p->flows++;
			return;
		}
		if (p->flows < min->flows)
			min = p;
	}
	min->proto = proto;
	min->port = port;
	min->flows++;
}

static void count_peer(struct host *x, uint8_t ipv, const uint8_t addr[16], uint64_t bytes)
{
	struct peer_count *min = &x->peers[0];

	for (int i = 0; i < HISTORY_TOP; i++) {
		struct peer_count *p = &x->peers[i];

		if (p->flows && p->ip_version == ipv && !memcmp(p->addr, addr, 16)) {
			p->flows++;
			p->bytes += bytes;
			return;
		}
		if (p->flows < min->flows)
			min = p;
	}
	min->ip_version = ipv;
	memcpy(min->addr, addr, 16);
	min->flows++;
	min->bytes += bytes;
}

/* end: FLOW_END_SRC or FLOW_END_DST, a local one. */
static void add_flow_end(struct history *h, const struct flow_record *rec,
			 const struct flow_class *fc, int end, uint16_t service_port)
{
	const struct flow_key *k = &rec->key;
	const uint8_t *local = end == FLOW_END_SRC ? k->src : k->dst;
	const uint8_t *remote = end == FLOW_END_SRC ? k->dst : k->src;
	struct host *x = host_get(h, k->ip_version, local, fc->hash[end], rec->last_ms);
	struct bucket *b;
	uint32_t bit;

	if (!x)
		return;
	if (rec->last_ms > x->last_ms)
		x->last_ms = rec->last_ms;
	x->proto_flows[proto_class(k->proto)]++;
	x->proto_bytes[proto_class(k->proto)] += rec->bytes;
	count_port(x, k->proto, service_port);
	count_peer(x, k->ip_version, remote, rec->bytes);
	b = bucket_at(h, x, rec->last_ms);
	if (!b)
		return;
	b->flows++;
	b->packets += rec->packets;
	b->bytes += rec->bytes;
	if (fc->bittorrent)
		b->bt_flows++;
	bit = peer_bit(fc->hash[!end]);
	b->peer_bits[bit / 64] |= 1ull << (bit % 64);
}

void history_add_flow(struct history *h, const struct flow_record *rec, const struct flow_class *fc)
{
	const struct flow_key *k = &rec->key;
	/* The port that says what the host did: the remote one if the
	 * local host is the client (the lower port, as a rule of thumb). */
	uint16_t service = k->sport < k->dport ? k->sport : k->dport;

	pthread_mutex_lock(&h->lock);
	if (rec->last_ms > h->now_ms)
		h->now_ms = rec->last_ms;
	h->flows[h->flow_next] = *rec;
	h->flow_next = (h->flow_next + 1) % HISTORY_FLOWS;
	if (h->n_flows < HISTORY_FLOWS)
		h->n_flows++;
	if (fc->local & FLOW_LOCAL_SRC)
		add_flow_end(h, rec, fc, FLOW_END_SRC, service);
	if (fc->local & FLOW_LOCAL_DST)
		add_flow_end(h, rec, fc, FLOW_END_DST, service);
	pthread_mutex_unlock(&h->lock);
}

/* --- events ------------------------------------------------------------ */

static bool parse_addr(const char *s, uint8_t *ipv, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (!s)
		return false;
	if (inet_pton(AF_INET, s, addr) == 1) {
		*ipv = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*ipv = 6;
		return true;
	}
	return false;
}

/* A reset counts on each local end of its connection. */
static void count_reset(struct history *h, json_t *o, uint64_t now_ms)
{
	const char *ends[2] = { json_string_value(json_object_get(o, "src")),
				json_string_value(json_object_get(o, "dst")) };
	const char *verdict = json_string_value(json_object_get(o, "verdict"));
	bool forged = verdict && strcmp(verdict, "genuine") != 0;

	for (int i = 0; i < 2; i++) {
		uint8_t ipv, addr[16];
		struct host *x;
		struct bucket *b;

		if (!parse_addr(ends[i], &ipv, addr) || !prefix_set_match(&h->local, ipv, addr))
			continue;
		x = host_get(h, ipv, addr, flow_addr_hash(ipv, addr), now_ms);
		if (!x)
			continue;
		x->resets++;
		x->forged += forged;
		if (now_ms > x->last_ms)
			x->last_ms = now_ms;
		b = bucket_at(h, x, now_ms);
		if (b) {
			b->resets++;
			b->forged += forged;
		}
	}
}

static void add_curve_point(struct history *h, json_t *o, uint64_t now_ms)
{
	struct curve_point *p = &h->curve[h->curve_next];
	const char *iface = json_string_value(json_object_get(o, "interface"));

	p->time_ms = now_ms;
	snprintf(p->iface, sizeof(p->iface), "%s", iface ? iface : "");
	p->utilisation = json_number_value(json_object_get(o, "utilisation"));
	p->active_flows = json_number_value(json_object_get(o, "active_flows"));
	h->curve_next = (h->curve_next + 1) % HISTORY_CURVE;
	if (h->n_curve < HISTORY_CURVE)
		h->n_curve++;
	for (size_t i = 0; i < h->n_ifaces; i++) {
		if (strcmp(h->iface[i].name, p->iface))
			continue;
		h->iface[i].have = true;
		h->iface[i].utilisation = p->utilisation;
		h->iface[i].active_flows = p->active_flows;
	}
}

void history_add_event_line(struct history *h, const char *line, size_t len, uint64_t now_ms)
{
	json_t *o;
	const char *type;
	struct event_line *e;

	if (len >= HISTORY_EVENT_MAX || len == 0)
		return;
	/* Flows are most of the stream and have their own ring. */
	if (len > 15 && !memcmp(line, "{\"type\":\"flow\"", 14))
		return;
	o = json_loadb(line, len, 0, NULL);
	type = json_string_value(json_object_get(o, "type"));
	if (!type || !strcmp(type, "flow")) {
		json_decref(o);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (now_ms > h->now_ms)
		h->now_ms = now_ms;
	if (!strcmp(type, "reset"))
		count_reset(h, o, now_ms);
	if (!strcmp(type, "curve")) {
		add_curve_point(h, o, now_ms);
	} else if (!strcmp(type, "knee")) {
		free(h->knee);
		h->knee = strndup(line, len);
	} else {
		e = &h->events[h->event_next];
		free(e->text);
		e->text = strndup(line, len);
		e->time_ms = now_ms;
		snprintf(e->type, sizeof(e->type), "%s", type);
		h->event_next = (h->event_next + 1) % h->max_events;
		if (h->n_events < h->max_events)
			h->n_events++;
	}
	pthread_mutex_unlock(&h->lock);
	json_decref(o);
}

/* --- per-tick state ------------------------------------------------------ */

static void add_live_end(struct history *h, const struct flow_record *r, const uint8_t *local,
			 const uint8_t *remote)
{
	uint8_t ipv = r->key.ip_version;
	struct host *x = host_get(h, ipv, local, flow_addr_hash(ipv, local), r->last_ms);
	uint32_t bit;

	if (!x)
		return;
	x->live_flows++;
	x->live_packets += r->packets;
	x->live_bytes += r->bytes;
	if (r->last_ms > x->last_ms)
		x->last_ms = r->last_ms;
	bit = peer_bit(flow_addr_hash(ipv, remote));
	x->live_bits[bit / 64] |= 1ull << (bit % 64);
}

void history_set_live(struct history *h, const struct flow_record *r, size_t n, uint64_t now_ms)
{
	pthread_mutex_lock(&h->lock);
	if (now_ms > h->now_ms)
		h->now_ms = now_ms;
	for (size_t i = 0; i < h->max_hosts; i++) {
		struct host *x = &h->hosts[i];

		x->live_flows = x->live_packets = x->live_bytes = 0;
		memset(x->live_bits, 0, sizeof(x->live_bits));
	}
	h->n_live = n < HISTORY_LIVE ? n : HISTORY_LIVE;
	memcpy(h->live, r, h->n_live * sizeof(*r));
	for (size_t i = 0; i < h->n_live; i++) {
		const struct flow_key *k = &r[i].key;

		if (prefix_set_match(&h->local, k->ip_version, k->src))
			add_live_end(h, &r[i], k->src, k->dst);
		if (prefix_set_match(&h->local, k->ip_version, k->dst))
			add_live_end(h, &r[i], k->dst, k->src);
	}
	pthread_mutex_unlock(&h->lock);
}

void history_set_p2p(struct history *h, const struct p2p_host_report *r, size_t n)
{
	pthread_mutex_lock(&h->lock);
	h->n_p2p = n < HISTORY_P2P ? n : HISTORY_P2P;
	memcpy(h->p2p, r, h->n_p2p * sizeof(*r));
	pthread_mutex_unlock(&h->lock);
}

void history_set_counters(struct history *h, const __u64 counters[CNT__MAX],
			  const struct daemon_stats *ds, uint64_t now_ms)
{
	pthread_mutex_lock(&h->lock);
	memcpy(h->counters, counters, sizeof(h->counters));
	h->ds = *ds;
	if (now_ms > h->now_ms)
		h->now_ms = now_ms;
	pthread_mutex_unlock(&h->lock);
}

void history_set_iface(struct history *h, int ifindex, const char *name)
{
	pthread_mutex_lock(&h->lock);
	if (h->n_ifaces < HISTORY_IFACES) {
		struct history_iface_gauge *g = &h->iface[h->n_ifaces++];

		snprintf(g->name, sizeof(g->name), "%s", name);
		g->ifindex = ifindex;
	}
	pthread_mutex_unlock(&h->lock);
}

void history_set_iface_traffic(struct history *h, int ifindex, uint64_t packets, uint64_t bytes)
{
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->n_ifaces; i++) {
		if (h->iface[i].ifindex != ifindex)
			continue;
		h->iface[i].packets = packets;
		h->iface[i].bytes = bytes;
	}
	pthread_mutex_unlock(&h->lock);
}

void history_set_collectors(struct history *h, const struct history_collector *c, size_t n)
{
	pthread_mutex_lock(&h->lock);
	h->n_collectors = n < HISTORY_COLLECTORS ? n : HISTORY_COLLECTORS;
	memcpy(h->collector, c, h->n_collectors * sizeof(*c));
	pthread_mutex_unlock(&h->lock);
}

/* --- views (HTTP thread, under the lock) -------------------------------- */

static json_t *addr_json(uint8_t ipv, const uint8_t addr[16])
{
	char buf[64];

	json_format_addr(buf, sizeof(buf), addr, ipv);
	return json_string(buf);
}

static json_t *time_json(uint64_t ms)
{
	char buf[40];

	json_format_time(buf, sizeof(buf), ms);
	return json_string(buf);
}

static bool bucket_live(const struct history *h, const struct bucket *b, uint64_t since_ms)
{
	return b->idx && (b->idx + 1) * h->bucket_ms > since_ms &&
	       b->idx * h->bucket_ms <= h->now_ms;
}

/* Linear counting: m ln(m / zeros) distinct values behind a bitmap. */
static uint64_t peer_estimate(const uint64_t bits[PEER_BITS / 64])
{
	unsigned int ones = 0;

	for (int i = 0; i < PEER_BITS / 64; i++)
		ones += __builtin_popcountll(bits[i]);
	if (ones == PEER_BITS)
		ones = PEER_BITS - 1; /* saturated: a lower bound */
	return (uint64_t)llround(PEER_BITS * log((double)PEER_BITS / (PEER_BITS - ones)));
}

struct host_summary {
	const struct host *x;
	uint64_t flows, peers, bytes, packets, resets;
	uint64_t live_flows; /* of flows, not exported yet */
};

static struct host_summary summarise(const struct history *h, const struct host *x,
				     uint64_t since_ms)
{
	/* The live flows are "now", whatever the window. */
	struct host_summary s = { .x = x,
				  .flows = x->live_flows,
				  .bytes = x->live_bytes,
				  .packets = x->live_packets,
				  .live_flows = x->live_flows };
	uint64_t bits[PEER_BITS / 64];

	memcpy(bits, x->live_bits, sizeof(bits));

	for (int i = 0; i < HISTORY_BUCKETS; i++) {
		const struct bucket *b = &x->b[i];

		if (!bucket_live(h, b, since_ms))
			continue;
		s.flows += b->flows;
		s.bytes += b->bytes;
		s.packets += b->packets;
		s.resets += b->resets;
		for (int w = 0; w < PEER_BITS / 64; w++)
			bits[w] |= b->peer_bits[w];
	}
	s.peers = peer_estimate(bits);
	return s;
}

static const struct p2p_host_report *p2p_of(const struct history *h, uint8_t ipv,
					    const uint8_t addr[16])
{
	for (size_t i = 0; i < h->n_p2p; i++)
		if (h->p2p[i].ip_version == ipv && !memcmp(h->p2p[i].addr, addr, 16))
			return &h->p2p[i];
	return NULL;
}

static json_t *p2p_json(const struct p2p_host_report *r)
{
	json_t *reasons = json_array();

	for (unsigned int i = 0; i < r->n_reasons; i++)
		json_array_append_new(reasons, json_string(r->reasons[i]));
	return json_pack("{s:o, s:i, s:b, s:I, s:I, s:I, s:I, s:o, s:o}", "addr",
			 addr_json(r->ip_version, r->addr), "score", (int)r->score, "alarmed",
			 r->alarmed, "peers", (json_int_t)r->peers, "flows", (json_int_t)r->flows,
			 "bt_flows", (json_int_t)r->bt_flows, "bt_events", (json_int_t)r->bt_events,
			 "period_start", time_json(r->period_start_ms), "reasons", reasons);
}

static json_t *summary_json(const struct history *h, const struct host_summary *s)
{
	const struct p2p_host_report *p = p2p_of(h, s->x->ip_version, s->x->addr);

	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:o}", "addr",
			 addr_json(s->x->ip_version, s->x->addr), "flows", (json_int_t)s->flows,
			 "live_flows", (json_int_t)s->live_flows, "peers", (json_int_t)s->peers,
			 "bytes", (json_int_t)s->bytes, "packets", (json_int_t)s->packets, "resets",
			 (json_int_t)s->resets, "p2p_score", p ? (int)p->score : 0, "last",
			 time_json(s->x->last_ms));
}

static int by_flows(const void *a, const void *b)
{
	const struct host_summary *x = a, *y = b;

	return (y->flows > x->flows) - (y->flows < x->flows);
}

static int by_peers(const void *a, const void *b)
{
	const struct host_summary *x = a, *y = b;

	return (y->peers > x->peers) - (y->peers < x->peers);
}

static int by_bytes(const void *a, const void *b)
{
	const struct host_summary *x = a, *y = b;

	return (y->bytes > x->bytes) - (y->bytes < x->bytes);
}

static uint64_t window_start(const struct history *h)
{
	uint64_t w = h->span_ms < ACTIVE_WINDOW_MS ? h->span_ms : ACTIVE_WINDOW_MS;

	return h->now_ms > w ? h->now_ms - w : 0;
}

static json_t *top_list(const struct history *h, struct host_summary *s, size_t n, size_t top,
			int (*cmp)(const void *, const void *))
{
	json_t *arr = json_array();

	qsort(s, n, sizeof(*s), cmp);
	for (size_t i = 0; i < n && i < top; i++)
		json_array_append_new(arr, summary_json(h, &s[i]));
	return arr;
}

json_t *history_hosts_json(struct history *h, size_t top)
{
	struct host_summary *s;
	json_t *out, *bt;
	size_t n = 0;
	uint64_t since;

	pthread_mutex_lock(&h->lock);
	s = calloc(h->n_hosts + 1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&h->lock);
		return NULL;
	}
	since = window_start(h);
	for (size_t i = 0; i < h->max_hosts; i++) {
		struct host_summary hs;

		if (!h->hosts[i].used)
			continue;
		hs = summarise(h, &h->hosts[i], since);
		if (hs.flows || hs.resets)
			s[n++] = hs;
	}
	bt = json_array();
	for (size_t i = 0; i < h->n_p2p; i++)
		if (h->p2p[i].score >= h->p2p_threshold || h->p2p[i].bt_flows)
			json_array_append_new(bt, p2p_json(&h->p2p[i]));
	out = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "now", time_json(h->now_ms), "window_s",
			(json_int_t)((h->now_ms - since) / 1000), "live_flows",
			(json_int_t)h->n_live, "hosts", (json_int_t)h->n_hosts, "active_hosts",
			(json_int_t)n, "p2p_threshold", (json_int_t)h->p2p_threshold);
	json_object_set_new(out, "by_flows", top_list(h, s, n, top, by_flows));
	json_object_set_new(out, "by_peers", top_list(h, s, n, top, by_peers));
	json_object_set_new(out, "by_bytes", top_list(h, s, n, top, by_bytes));
	json_object_set_new(out, "bittorrent", bt);
	pthread_mutex_unlock(&h->lock);
	free(s);
	return out;
}

static json_t *flow_json(const struct flow_record *rec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *o = NULL;

	if (!f)
		return json_null();
	if (json_write_flow(f, rec) == 0 && fflush(f) == 0)
		o = json_loadb(buf, len, 0, NULL);
	fclose(f);
	free(buf);
	return o ? o : json_null();
}

static bool event_mentions(const char *text, const char *addr)
{
	char quoted[80];

	snprintf(quoted, sizeof(quoted), "\"%s\"", addr);
	return strstr(text, quoted) != NULL;
}

#define HOST_FLOWS_MAX 100
#define HOST_EVENTS_MAX 100

static json_t *host_series(const struct history *h, const struct host *x)
{
	json_t *series = json_array();
	uint64_t last = h->now_ms / h->bucket_ms;

	/* Oldest first, one point per bucket, zeros where nothing happened:
	 * a connection limit shows as a step, not as a gap. */
	for (uint64_t k = HISTORY_BUCKETS; k-- > 0;) {
		uint64_t idx = last >= k ? last - k : 0;
		const struct bucket *b = &x->b[idx % HISTORY_BUCKETS];
		bool live = b->idx == idx;
		uint64_t zero_bits[PEER_BITS / 64] = {};

		if (last < k)
			continue;
		json_array_append_new(series,
				      json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "t",
						(json_int_t)(idx * h->bucket_ms), "flows",
						(json_int_t)(live ? b->flows : 0), "peers",
						(json_int_t)(live ? peer_estimate(b->peer_bits) :
								    peer_estimate(zero_bits)),
						"packets", (json_int_t)(live ? b->packets : 0),
						"bytes", (json_int_t)(live ? b->bytes : 0),
						"bt_flows", (json_int_t)(live ? b->bt_flows : 0),
						"resets", (json_int_t)(live ? b->resets : 0)));
	}
	return series;
}

static json_t *host_page(const struct history *h, const struct host *x, const char *addr)
{
	const struct p2p_host_report *p = p2p_of(h, x->ip_version, x->addr);
	struct host_summary now = summarise(h, x, window_start(h));
	struct host_summary all = summarise(h, x, 0);
	json_t *ports = json_array(), *peers = json_array(), *protos = json_object();
	json_t *flows = json_array(), *events = json_array(), *live = json_array(), *out;

	for (int i = 0; i < HISTORY_TOP; i++) {
		const struct port_count *pc = &x->ports[i];
		const struct peer_count *pe = &x->peers[i];

		if (pc->flows)
			json_array_append_new(ports, json_pack("{s:i, s:i, s:I}", "proto",
							       pc->proto, "port", pc->port, "flows",
							       (json_int_t)pc->flows));
		if (pe->flows)
			json_array_append_new(peers, json_pack("{s:o, s:I, s:I}", "addr",
							       addr_json(pe->ip_version, pe->addr),
							       "flows", (json_int_t)pe->flows,
							       "bytes", (json_int_t)pe->bytes));
	}
	for (int i = 0; i < PC__MAX; i++)
		if (x->proto_flows[i])
			json_object_set_new(protos, proto_names[i],
					    json_pack("{s:I, s:I}", "flows",
						      (json_int_t)x->proto_flows[i], "bytes",
						      (json_int_t)x->proto_bytes[i]));
	/* Newest first. */
	for (size_t k = 1; k <= h->n_flows && json_array_size(flows) < HOST_FLOWS_MAX; k++) {
		const struct flow_record *r =
			&h->flows[(h->flow_next + HISTORY_FLOWS - k) % HISTORY_FLOWS];

		if ((r->key.ip_version == x->ip_version) &&
		    (!memcmp(r->key.src, x->addr, 16) || !memcmp(r->key.dst, x->addr, 16)))
			json_array_append_new(flows, flow_json(r));
	}
	/* Busiest first, as the pipeline handed them. */
	for (size_t k = 0; k < h->n_live && json_array_size(live) < HOST_FLOWS_MAX; k++) {
		const struct flow_record *r = &h->live[k];

		if ((r->key.ip_version == x->ip_version) &&
		    (!memcmp(r->key.src, x->addr, 16) || !memcmp(r->key.dst, x->addr, 16)))
			json_array_append_new(live, flow_json(r));
	}
	for (size_t k = 1; k <= h->n_events && json_array_size(events) < HOST_EVENTS_MAX; k++) {
		const struct event_line *e =
			&h->events[(h->event_next + h->max_events - k) % h->max_events];

		if (e->text && event_mentions(e->text, addr))
			json_array_append_new(events, json_loads(e->text, 0, NULL));
	}
	out = json_pack("{s:b, s:o, s:o, s:o, s:I, s:I}", "known", true, "addr",
			addr_json(x->ip_version, x->addr), "first", time_json(x->first_ms), "last",
			time_json(x->last_ms), "resets", (json_int_t)x->resets, "forged_resets",
			(json_int_t)x->forged);
	json_object_set_new(out, "now", summary_json(h, &now));
	json_object_set_new(out, "history", summary_json(h, &all));
	json_object_set_new(out, "bucket_s", json_real(h->bucket_ms / 1000.0));
	json_object_set_new(out, "window_s",
			    json_integer((json_int_t)((h->now_ms - window_start(h)) / 1000)));
	json_object_set_new(out, "series", host_series(h, x));
	json_object_set_new(out, "ports", ports);
	json_object_set_new(out, "peers", peers);
	json_object_set_new(out, "protocols", protos);
	json_object_set_new(out, "live", live);
	json_object_set_new(out, "flows", flows);
	json_object_set_new(out, "events", events);
	json_object_set_new(out, "p2p", p ? p2p_json(p) : json_null());
	return out;
}

json_t *history_host_json(struct history *h, const char *addr)
{
	uint8_t ipv, a[16];
	char canon[64];
	struct host *x;
	json_t *out;

	if (!parse_addr(addr, &ipv, a))
		return NULL;
	json_format_addr(canon, sizeof(canon), a, ipv);
	pthread_mutex_lock(&h->lock);
	x = host_find(h, ipv, a, flow_addr_hash(ipv, a));
	out = x ? host_page(h, x, canon) :
		  json_pack("{s:b, s:s, s:b}", "known", false, "addr", canon, "local",
			    prefix_set_match(&h->local, ipv, a));
	pthread_mutex_unlock(&h->lock);
	return out;
}

json_t *history_events_json(struct history *h, const char *type, size_t max)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&h->lock);
	for (size_t k = 1; k <= h->n_events && json_array_size(arr) < max; k++) {
		const struct event_line *e =
			&h->events[(h->event_next + h->max_events - k) % h->max_events];

		if (e->text && (!type || !strcmp(type, e->type)))
			json_array_append_new(arr, json_loads(e->text, 0, NULL));
	}
	pthread_mutex_unlock(&h->lock);
	return json_pack("{s:o}", "events", arr);
}

json_t *history_curve_json(struct history *h)
{
	json_t *pts = json_array(), *out;

	pthread_mutex_lock(&h->lock);
	for (size_t k = h->n_curve; k > 0; k--) {
		const struct curve_point *p =
			&h->curve[(h->curve_next + HISTORY_CURVE - k) % HISTORY_CURVE];

		json_array_append_new(pts,
				      json_pack("{s:I, s:s, s:f, s:f}", "t", (json_int_t)p->time_ms,
						"interface", p->iface, "utilisation",
						p->utilisation, "active_flows", p->active_flows));
	}
	out = json_pack("{s:o, s:o}", "samples", pts, "knee",
			h->knee ? json_loads(h->knee, 0, NULL) : json_null());
	pthread_mutex_unlock(&h->lock);
	return out;
}

json_t *history_stats_json(struct history *h)
{
	json_t *cnt = json_object(), *ds = json_object(), *out;

	pthread_mutex_lock(&h->lock);
#define COUNTER_JSON(id, name, help) \
	json_object_set_new(cnt, name, json_integer((json_int_t)h->counters[id]));
	FLOWPROBE_COUNTERS(COUNTER_JSON)
#undef COUNTER_JSON
#define DS_JSON(name, type, unit, help) \
	json_object_set_new(ds, #name, json_integer((json_int_t)h->ds.v[DS_##name]));
	DAEMON_STATS(DS_JSON)
#undef DS_JSON
	out = json_pack("{s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:f}", "now",
			time_json(h->now_ms), "datapath", cnt, "daemon", ds, "hosts",
			(json_int_t)h->n_hosts, "hosts_dropped", (json_int_t)h->hosts_dropped,
			"events_kept", (json_int_t)h->n_events, "history_s",
			(json_int_t)(h->span_ms / 1000), "table_slots",
			(json_int_t)h->ds.v[DS_table_slots], "table_fill",
			h->ds.v[DS_table_slots] ? (double)h->ds.v[DS_table_entries_last_drain] /
							  h->ds.v[DS_table_slots] :
						  0.0);
	pthread_mutex_unlock(&h->lock);
	return out;
}

void history_metrics(struct history *h, struct history_metrics *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->lock);
	memcpy(out->counters, h->counters, sizeof(out->counters));
	out->ds = h->ds;
	for (size_t i = 0; i < h->n_p2p; i++)
		out->bt_hosts += h->p2p[i].score >= h->p2p_threshold;
	out->hosts = h->n_hosts;
	out->hosts_dropped = h->hosts_dropped;
	out->events = h->n_events;
	out->n_ifaces = h->n_ifaces;
	memcpy(out->iface, h->iface, sizeof(out->iface));
	out->n_collectors = h->n_collectors;
	memcpy(out->collector, h->collector, sizeof(out->collector));
	pthread_mutex_unlock(&h->lock);
}
