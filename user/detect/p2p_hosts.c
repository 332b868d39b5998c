/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-host P2P behaviour and its alarms. The score adds up independent
 * signals so that no single ordinary habit passes the threshold alone:
 * a busy web client talks to few servers on well-known ports, a DNS
 * resolver talks to thousands of peers in tiny flows but always with port
 * 53 at one end, and only a peer-to-peer client combines many peers with
 * one high local port that meets high remote ports in both directions
 * (over TCP and UDP alike). A datapath recognition (handshake, DHT, uTP...)
 * is strong evidence by itself. The signals follow the flow-based P2P
 * heuristics of Karagiannis et al., "Transport Layer Identification of P2P
 * Traffic" (IMC 2004), and what flow tools such as Scrutinizer alarm on.
 *
 * Memory: hosts, their hash index and the listing's scratch space are
 * allocated once; a host's distinct peers are a 256-register HyperLogLog
 * (about 6% error), each tracked local port's a 128-bit linear-counting
 * bitmap, and its local ports a space-saving table of 8, which keeps any
 * port that carries more than an eighth of the host's high-port flows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <jansson.h>
#include "lib/json_output.h"
#include "lib/time_format.h"
#include "detect/p2p_hosts.h"

#define HLL_BITS 8
#define HLL_REGS (1u << HLL_BITS)
#define PORT_SLOTS 8
#define SLOT_BITS 128

/* "Little data": a connection attempt, a DHT ping, a keep-alive. */
#define SMALL_PACKETS 10
#define SMALL_BYTES 2048

/* Below this, a port is a service's (DNS, HTTPS...), not a peer's. */
#define HIGH_PORT 1024
#define BT_PORT_LO 6881
#define BT_PORT_HI 6889

enum {
	SLOT_TCP = 1,
	SLOT_UDP = 2
};
enum {
	DIR_OUT = 1,
	DIR_IN = 2
}; /* local end is the source / destination */

struct hll {
	uint8_t reg[HLL_REGS];
	/* Kept up to date by hll_add, so an estimate costs O(1), not a pass
	 * over the registers: the score is recomputed for every flow. Both
	 * are zero for empty registers, so a zeroed struct hll is valid. */
	double deficit; /* sum over registers of 1 - 2^-reg */
	unsigned int nonzero; /* registers that are not 0 */
};

/* One local high port of a host, in flows whose remote port is high too. */
struct port_slot {
	uint32_t flows; /* space-saving count; 0: free slot */
	uint32_t tcp_flows;
	uint32_t udp_flows;
	uint16_t port;
	uint8_t protos; /* SLOT_TCP | SLOT_UDP */
	uint8_t dirs; /* DIR_OUT | DIR_IN */
	uint64_t peers[SLOT_BITS / 64];
};

struct host {
	uint8_t ip_version;
	bool alarmed;
	uint8_t addr[16];
	uint32_t kinds;
	uint32_t flows;
	uint32_t small_flows;
	uint32_t bt_flows;
	uint32_t bt_port_flows; /* high ports, one of them 6881-6889 */
	uint32_t bt_events;
	uint32_t kind_events[P2P_KINDS];
	struct hll peers;
	struct port_slot ports[PORT_SLOTS];
};

struct rank {
	unsigned int score;
	uint32_t idx;
	uint64_t peers;
};

struct p2p_hosts {
	struct prefix_set local;
	uint64_t period_ms;
	unsigned int threshold;
	size_t max_hosts;
	p2p_alarm_fn on_alarm;
	p2p_period_fn on_period_end;
	void *ctx;
	char period_text[24]; /* "5 min", for reasons */

	bool have_period;
	uint64_t period_start;
	size_t n_hosts;
	struct host *hosts; /* max_hosts */
	/* Open addressing: the hash's high 32 bits above host index + 1, 0
	 * empty. The bits let a probe pass a slot of another host without
	 * reading that host (a cache miss in a table of megabytes). */
	uint64_t *index;
	size_t index_mask;
	struct rank *ranks; /* max_hosts, scratch for p2p_hosts_list */

	struct hll dropped; /* hosts not tracked: table full */
	uint64_t dropped_inputs;
	uint64_t ignored_flows;
	uint64_t alarms;
};

/* A reason under construction, with its weight for ordering. */
struct reason {
	unsigned int points;
	char text[P2P_REASON_LEN];
};

struct reasons {
	unsigned int n;
	struct reason r[P2P_MAX_REASONS];
};

/* --- estimators ---------------------------------------------------------- */

/* ln(x) for x > 0, without libm: x = m * 2^e, ln m = 2 atanh((m-1)/(m+1)). */
static double natural_log(double x)
{
	double t, t2, term, sum = 0;
	int e = 0;

	while (x >= 2.0) {
		x /= 2;
		e++;
	}
	while (x < 1.0) {
		x *= 2;
		e--;
	}
	t = (x - 1) / (x + 1);
	t2 = t * t;
	term = t;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= t2;
	}
	return 2 * sum + e * 0.69314718055994531;
}

/* murmur3's finaliser: every input bit moves every output bit. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t addr_hash(uint8_t ip_version, const uint8_t addr[16])
{
	uint64_t lo, hi;

	memcpy(&lo, addr, 8);
	memcpy(&hi, addr + 8, 8);
	return mix64(lo ^ mix64(hi ^ ip_version));
}

static void hll_add(struct hll *h, uint64_t hash)
{
	unsigned int idx = hash >> (64 - HLL_BITS);
	uint64_t w = hash << HLL_BITS;
	uint8_t rank = w ? __builtin_clzll(w) + 1 : 64 - HLL_BITS + 1;

	if (rank <= h->reg[idx])
		return;
	h->deficit += 1.0 / (double)(1ull << h->reg[idx]) - 1.0 / (double)(1ull << rank);
	h->nonzero += !h->reg[idx];
	h->reg[idx] = rank;
}

/* Flajolet et al. 2007, with linear counting while registers are empty. */
static uint64_t hll_estimate(const struct hll *h)
{
	const double m = HLL_REGS;
	unsigned int zeros = HLL_REGS - h->nonzero;
	double sum = m - h->deficit, e;

	e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * natural_log(m / zeros);
	return (uint64_t)(e + 0.5);
}

/*
 * Linear counting. Near full, the estimate is noise: a bitmap with fewer
 * than SLOT_MIN_ZEROS clear bits reads as SLOT_SATURATED, "over 400".
 */
#define SLOT_MIN_ZEROS 4
#define SLOT_SATURATED 400

static uint64_t bitmap_estimate(const uint64_t bits[SLOT_BITS / 64])
{
	const double m = SLOT_BITS;
	unsigned int zeros = SLOT_BITS;
	uint64_t e;

	for (unsigned int i = 0; i < SLOT_BITS / 64; i++)
		zeros -= __builtin_popcountll(bits[i]);
	if (zeros < SLOT_MIN_ZEROS)
		return SLOT_SATURATED + 1;
	e = (uint64_t)(m * natural_log(m / zeros) + 0.5);
	return e > SLOT_SATURATED ? SLOT_SATURATED : e;
}

/* --- the host table ------------------------------------------------------ */

#define INDEX_TAG(hash) ((hash) & ~(uint64_t)UINT32_MAX)

static struct host *host_find(struct p2p_hosts *ph, uint8_t ip_version, const uint8_t addr[16],
			      uint64_t hash, uint64_t **slot)
{
	for (size_t i = hash & ph->index_mask;; i = (i + 1) & ph->index_mask) {
		uint64_t v = ph->index[i];
		struct host *h;

		if (!v) {
			*slot = &ph->index[i];
			return NULL;
		}
		if (INDEX_TAG(v) != INDEX_TAG(hash))
			continue;
		h = &ph->hosts[(uint32_t)v - 1];
		if (h->ip_version == ip_version && !memcmp(h->addr, addr, 16))
			return h;
	}
}

/* The host's entry, created if there is room; NULL (and counted) if not. */
static struct host *host_get(struct p2p_hosts *ph, uint8_t ip_version, const uint8_t addr[16])
{
	uint64_t hash = addr_hash(ip_version, addr);
	uint64_t *slot;
	struct host *h = host_find(ph, ip_version, addr, hash, &slot);

	if (h)
		return h;
	if (ph->n_hosts == ph->max_hosts) {
		hll_add(&ph->dropped, hash);
		ph->dropped_inputs++;
		return NULL;
	}
	h = &ph->hosts[ph->n_hosts++];
	memset(h, 0, sizeof(*h));
	h->ip_version = ip_version;
	memcpy(h->addr, addr, 16);
	*slot = INDEX_TAG(hash) | (uint32_t)ph->n_hosts;
	return h;
}

/* --- periods ------------------------------------------------------------- */

static void close_period(struct p2p_hosts *ph)
{
	if (ph->on_period_end)
		ph->on_period_end(ph->ctx, ph);
	memset(ph->index, 0, (ph->index_mask + 1) * sizeof(*ph->index));
	memset(&ph->dropped, 0, sizeof(ph->dropped));
	ph->n_hosts = 0;
	ph->dropped_inputs = 0;
	ph->have_period = false;
}

/*
 * Input at ts goes to the current period, or opens the next. Late input
 * (a flow exported after its period closed) counts in the current one:
 * periods never reopen, so an alarm is never raised twice.
 */
static void advance(struct p2p_hosts *ph, uint64_t ts)
{
	if (ph->have_period && ts >= ph->period_start + ph->period_ms)
		close_period(ph);
	if (!ph->have_period) {
		ph->period_start = ts - ts % ph->period_ms;
		ph->have_period = true;
	}
}

void p2p_hosts_tick(struct p2p_hosts *ph, uint64_t now_ms)
{
	if (ph->have_period && now_ms >= ph->period_start + ph->period_ms)
		close_period(ph);
}

/* --- scoring ------------------------------------------------------------- */

/* 0 up to lo, max from hi, linear between. */
static unsigned int ramp(uint64_t v, uint64_t lo, uint64_t hi, unsigned int max)
{
	if (v <= lo)
		return 0;
	if (v >= hi)
		return max;
	return (unsigned int)(max * (v - lo) / (hi - lo));
}

__attribute__((format(printf, 3, 4))) static unsigned int
reason(struct reasons *rs, unsigned int points, const char *fmt, ...)
{
	va_list ap;

	if (!points || !rs || rs->n == P2P_MAX_REASONS)
		return points;
	rs->r[rs->n].points = points;
	va_start(ap, fmt);
	vsnprintf(rs->r[rs->n].text, sizeof(rs->r[0].text), fmt, ap);
	va_end(ap);
	rs->n++;
	return points;
}

/* " (handshake, dht)", or "" when no event said which kind. */
static void kinds_text(char *buf, size_t len, uint32_t kinds)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int k = 1; k < P2P_KINDS && used < len; k++) {
		int w;

		if (!(kinds & (1u << k)))
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : " (", p2p_kind_name(k));
		if (w < 0)
			return;
		used += (size_t)w;
	}
	if (used && used < len)
		snprintf(buf + used, len - used, ")");
}

/*
 * Recognition by the datapath: strong by itself (a few flows pass the
 * default threshold of 60), unless every detection was the encrypted
 * guess, which only supports what the behaviour says.
 */
static unsigned int score_recognition(const struct host *h, struct reasons *rs)
{
	uint32_t enc = h->kind_events[BT_ENCRYPTED];
	uint32_t plain = h->bt_events - enc;
	uint32_t n = h->bt_flows > plain ? h->bt_flows : plain;
	char kinds[64];

	if (!n && !enc)
		return 0;
	kinds_text(kinds, sizeof(kinds), h->kinds);
	if (h->kinds == 1u << BT_ENCRYPTED) {
		n = n > enc ? n : enc;
		return reason(rs, n >= 6 ? 30 : 20 + 2 * (n - 1),
			      "%u flows that look like encrypted BitTorrent", n);
	}
	if (h->bt_flows >= plain)
		return reason(rs, n >= 5 ? 70 : 50 + 5 * (n - 1),
			      "%u flows recognised as BitTorrent%s", n, kinds);
	return reason(rs, n >= 5 ? 70 : 50 + 5 * (n - 1), "%u BitTorrent detections%s", n, kinds);
}

/*
 * Distinct peers: a household's browsing reaches a few dozen to a hundred
 * or two addresses in 5 min; a swarm member, hundreds. Never enough alone.
 */
static unsigned int score_peers(const struct p2p_hosts *ph, const struct host *h,
				struct reasons *rs)
{
	uint64_t peers = hll_estimate(&h->peers);

	return reason(rs, ramp(peers, 100, 500, 25), "%llu distinct peers in %s",
		      (unsigned long long)peers, ph->period_text);
}

/* Many flows that carry almost nothing: attempts, pings, DHT queries. */
static unsigned int score_small(const struct host *h, struct reasons *rs)
{
	if (h->flows < 100)
		return 0;
	return reason(rs, ramp(100ull * h->small_flows / h->flows, 40, 80, 15),
		      "%u of %u flows carried little data", h->small_flows, h->flows);
}

/*
 * One high local port meeting many peers on high remote ports, as both
 * source and destination: a peer's listening port, which it also sends
 * from (uTP, DHT). Services sit below 1024 and clients change ports.
 */
static unsigned int score_ports(const struct host *h, struct reasons *rs)
{
	const struct port_slot *both = NULL, *mixed = NULL;
	uint64_t both_peers = 0, mixed_peers = 0;
	unsigned int points = 0;

	for (unsigned int i = 0; i < PORT_SLOTS; i++) {
		const struct port_slot *s = &h->ports[i];
		uint64_t peers;

		if (!s->flows)
			continue;
		peers = bitmap_estimate(s->peers);
		if (s->dirs == (DIR_OUT | DIR_IN) && peers > both_peers) {
			both = s;
			both_peers = peers;
		}
		if (s->tcp_flows >= 2 && s->udp_flows >= 2 && peers >= 10 && peers > mixed_peers) {
			mixed = s;
			mixed_peers = peers;
		}
	}
	if (both)
		points += reason(rs, ramp(both_peers, 10, 100, 25),
				 "port %u used with %s%llu peers in both directions", both->port,
				 both_peers > SLOT_SATURATED ? "over " : "",
				 (unsigned long long)(both_peers > SLOT_SATURATED ? SLOT_SATURATED :
										    both_peers));
	if (mixed)
		points += reason(rs, 20, "TCP and UDP on port %u", mixed->port);
	return points;
}

static unsigned int score_bt_ports(const struct host *h, struct reasons *rs)
{
	unsigned int points = h->bt_port_flows >= 50 ? 15 : h->bt_port_flows >= 5 ? 10 : 0;

	return reason(rs, points, "%u flows on BitTorrent ports %u-%u", h->bt_port_flows,
		      BT_PORT_LO, BT_PORT_HI);
}

static unsigned int host_score(const struct p2p_hosts *ph, const struct host *h, struct reasons *rs)
{
	unsigned int s = 0;

	s += score_recognition(h, rs);
	s += score_peers(ph, h, rs);
	s += score_small(h, rs);
	s += score_ports(h, rs);
	s += score_bt_ports(h, rs);
	return s > 100 ? 100 : s;
}

static void host_report(const struct p2p_hosts *ph, const struct host *h, struct p2p_host_report *r)
{
	struct reasons rs = { 0 };

	memset(r, 0, sizeof(*r));
	r->ip_version = h->ip_version;
	memcpy(r->addr, h->addr, 16);
	r->period_start_ms = ph->period_start;
	r->period_end_ms = ph->period_start + ph->period_ms;
	r->score = host_score(ph, h, &rs);
	r->alarmed = h->alarmed;
	r->peers = hll_estimate(&h->peers);
	r->flows = h->flows;
	r->small_flows = h->small_flows;
	r->bt_flows = h->bt_flows;
	r->bt_events = h->bt_events;
	for (unsigned int k = 0; k < P2P_KINDS; k++)
		r->kind_events[k] = h->kind_events[k];
	r->kinds = h->kinds;

	/* Strongest first: insertion sort keeps equal weights in order. */
	for (unsigned int i = 1; i < rs.n; i++) {
		struct reason cur = rs.r[i];
		unsigned int j = i;

		for (; j > 0 && rs.r[j - 1].points < cur.points; j--)
			rs.r[j] = rs.r[j - 1];
		rs.r[j] = cur;
	}
	r->n_reasons = rs.n;
	for (unsigned int i = 0; i < rs.n; i++)
		memcpy(r->reasons[i], rs.r[i].text, P2P_REASON_LEN);
}

static void check_alarm(struct p2p_hosts *ph, struct host *h)
{
	struct p2p_host_report r;

	if (h->alarmed || host_score(ph, h, NULL) < ph->threshold)
		return;
	h->alarmed = true;
	ph->alarms++;
	if (!ph->on_alarm)
		return;
	host_report(ph, h, &r);
	ph->on_alarm(ph->ctx, &r);
}

/* --- input --------------------------------------------------------------- */

/* One end of a flow, seen from the local host at that end. */
struct flow_end {
	const uint8_t *local;
	const uint8_t *remote;
	uint16_t lport;
	uint16_t rport;
	uint8_t dir;
};

static bool is_bt_port(uint16_t port)
{
	return port >= BT_PORT_LO && port <= BT_PORT_HI;
}

static void port_account(struct host *h, const struct flow_end *e, uint8_t proto,
			 uint64_t remote_hash)
{
	struct port_slot *s = NULL, *min = &h->ports[0];

	for (unsigned int i = 0; i < PORT_SLOTS && !s; i++) {
		if (h->ports[i].flows && h->ports[i].port == e->lport)
			s = &h->ports[i];
		else if (h->ports[i].flows < min->flows)
			min = &h->ports[i];
	}
	if (!s) {
		/* Space-saving: the newcomer inherits the smallest count. */
		uint32_t inherited = min->flows;

		s = min;
		memset(s, 0, sizeof(*s));
		s->port = e->lport;
		s->flows = inherited;
	}
	s->flows++;
	s->dirs |= e->dir;
	if (proto == IPPROTO_TCP) {
		s->protos |= SLOT_TCP;
		s->tcp_flows++;
	} else {
		s->protos |= SLOT_UDP;
		s->udp_flows++;
	}
	s->peers[(remote_hash >> 6) % (SLOT_BITS / 64)] |= 1ull << (remote_hash & 63);
}

static void account_flow(struct p2p_hosts *ph, const struct flow_record *rec,
			 const struct flow_class *fc, const struct flow_end *e)
{
	const struct flow_key *k = &rec->key;
	struct host *h = host_get(ph, k->ip_version, e->local);
	uint64_t remote_hash;

	if (!h)
		return;
	remote_hash = addr_hash(k->ip_version, e->remote);
	h->flows++;
	if (rec->packets <= SMALL_PACKETS || rec->bytes <= SMALL_BYTES)
		h->small_flows++;
	if (fc->bittorrent)
		h->bt_flows++;
	hll_add(&h->peers, remote_hash);
	if ((k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP) && e->lport >= HIGH_PORT &&
	    e->rport >= HIGH_PORT) {
		if (is_bt_port(e->lport) || is_bt_port(e->rport))
			h->bt_port_flows++;
		port_account(h, e, k->proto, remote_hash);
	}
	check_alarm(ph, h);
}

void p2p_hosts_add_flow(struct p2p_hosts *ph, const struct flow_record *rec,
			const struct flow_class *fc)
{
	const struct flow_key *k = &rec->key;

	advance(ph, rec->last_ms);
	if (fc->local == FLOW_LOCAL_NEITHER) {
		ph->ignored_flows++;
		return;
	}
	if (fc->local & FLOW_LOCAL_SRC) {
		struct flow_end e = { k->src, k->dst, k->sport, k->dport, DIR_OUT };

		account_flow(ph, rec, fc, &e);
	}
	if (fc->local & FLOW_LOCAL_DST) {
		struct flow_end e = { k->dst, k->src, k->dport, k->sport, DIR_IN };

		account_flow(ph, rec, fc, &e);
	}
}

static void account_event(struct p2p_hosts *ph, const struct event *ev, const uint8_t *local,
			  const uint8_t *remote)
{
	struct host *h = host_get(ph, ev->key.ip_version, local);

	if (!h)
		return;
	h->bt_events++;
	h->kind_events[ev->kind]++;
	h->kinds |= 1u << ev->kind;
	hll_add(&h->peers, addr_hash(ev->key.ip_version, remote));
	check_alarm(ph, h);
}

void p2p_hosts_add_event(struct p2p_hosts *ph, const struct event *ev, uint64_t wall_ms)
{
	const struct flow_key *k = &ev->key;

	if (ev->type != EVENT_BITTORRENT || ev->kind == BT_NONE || ev->kind >= P2P_KINDS)
		return;
	advance(ph, wall_ms);
	if (prefix_set_match(&ph->local, k->ip_version, k->src))
		account_event(ph, ev, k->src, k->dst);
	if (prefix_set_match(&ph->local, k->ip_version, k->dst))
		account_event(ph, ev, k->dst, k->src);
}

/* --- listing, stats ------------------------------------------------------ */

static int rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->peers != y->peers)
		return x->peers > y->peers ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

size_t p2p_hosts_list(struct p2p_hosts *ph, struct p2p_host_report *out, size_t max)
{
	size_t n = ph->n_hosts;

	for (size_t i = 0; i < n; i++) {
		ph->ranks[i].score = host_score(ph, &ph->hosts[i], NULL);
		ph->ranks[i].peers = hll_estimate(&ph->hosts[i].peers);
		ph->ranks[i].idx = (uint32_t)i;
	}
	qsort(ph->ranks, n, sizeof(*ph->ranks), rank_cmp);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		host_report(ph, &ph->hosts[ph->ranks[i].idx], &out[i]);
	return n;
}

void p2p_hosts_stats(const struct p2p_hosts *ph, struct p2p_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (ph->have_period) {
		st->period_start_ms = ph->period_start;
		st->period_end_ms = ph->period_start + ph->period_ms;
	}
	st->hosts = ph->n_hosts;
	st->dropped_hosts = hll_estimate(&ph->dropped);
	st->dropped_inputs = ph->dropped_inputs;
	st->ignored_flows = ph->ignored_flows;
	st->alarms = ph->alarms;
}

static size_t index_size(size_t max_hosts)
{
	size_t n = 16;

	/* At most half full, so probes stay short. */
	while (n < 2 * max_hosts)
		n *= 2;
	return n;
}

size_t p2p_hosts_memory(const struct p2p_hosts *ph)
{
	return sizeof(*ph) + ph->max_hosts * (sizeof(*ph->hosts) + sizeof(*ph->ranks)) +
	       (ph->index_mask + 1) * sizeof(*ph->index);
}

/* --- lifetime ------------------------------------------------------------ */

static void format_duration(char *buf, size_t len, uint64_t ms)
{
	if (ms % 60000 == 0)
		snprintf(buf, len, "%llu min", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llu s", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llu ms", (unsigned long long)ms);
}

struct p2p_hosts *p2p_hosts_new(const struct p2p_config *cfg)
{
	struct p2p_hosts *ph = calloc(1, sizeof(*ph));
	size_t isize;

	if (!ph)
		return NULL;
	ph->period_ms = cfg->period_ms ? cfg->period_ms : P2P_DEFAULT_PERIOD_MS;
	ph->threshold = cfg->threshold ? cfg->threshold : P2P_DEFAULT_THRESHOLD;
	ph->max_hosts = cfg->max_hosts ? cfg->max_hosts : P2P_DEFAULT_MAX_HOSTS;
	if (ph->max_hosts > UINT32_MAX / 4)
		ph->max_hosts = UINT32_MAX / 4;
	if (cfg->local)
		ph->local = *cfg->local;
	else
		prefix_set_default(&ph->local);
	ph->on_alarm = cfg->on_alarm;
	ph->on_period_end = cfg->on_period_end;
	ph->ctx = cfg->ctx;
	format_duration(ph->period_text, sizeof(ph->period_text), ph->period_ms);

	isize = index_size(ph->max_hosts);
	ph->index_mask = isize - 1;
	/* calloc: pages a small network never uses are never touched. */
	ph->hosts = calloc(ph->max_hosts, sizeof(*ph->hosts));
	ph->ranks = calloc(ph->max_hosts, sizeof(*ph->ranks));
	ph->index = calloc(isize, sizeof(*ph->index));
	if (!ph->hosts || !ph->ranks || !ph->index) {
		p2p_hosts_free(ph);
		return NULL;
	}
	return ph;
}

void p2p_hosts_free(struct p2p_hosts *ph)
{
	if (!ph)
		return;
	free(ph->hosts);
	free(ph->ranks);
	free(ph->index);
	free(ph);
}

/* --- output -------------------------------------------------------------- */

const char *p2p_kind_name(unsigned int kind)
{
	/* One list of names, the JSON events': reasons and events agree. */
	return json_bt_kind_name(kind > 255 ? 0 : kind);
}

static json_t *kinds_array(uint32_t kinds)
{
	json_t *a = json_array();

	for (unsigned int k = 1; a && k < P2P_KINDS; k++)
		if (kinds & (1u << k))
			json_array_append_new(a, json_string(p2p_kind_name(k)));
	return a;
}

static json_t *reasons_array(const struct p2p_host_report *r)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < r->n_reasons; i++)
		json_array_append_new(a, json_string(r->reasons[i]));
	return a;
}

int p2p_write_json(FILE *out, const struct p2p_host_report *r)
{
	char host[INET6_ADDRSTRLEN], start[40], end[40];
	json_t *obj;

	json_format_addr(host, sizeof(host), r->addr, r->ip_version);
	json_format_time(start, sizeof(start), r->period_start_ms);
	json_format_time(end, sizeof(end), r->period_end_ms);
	/* "o" steals the arrays; a NULL one makes json_pack fail cleanly. */
	obj = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I,"
			" s:o, s:o}",
			"type", "p2p_host", "host", host, "period_start", start, "period_end", end,
			"score", (int)r->score, "peers", (json_int_t)r->peers, "flows",
			(json_int_t)r->flows, "small_flows", (json_int_t)r->small_flows, "bt_flows",
			(json_int_t)r->bt_flows, "bt_events", (json_int_t)r->bt_events, "kinds",
			kinds_array(r->kinds), "reasons", reasons_array(r));
	return json_write_line(out, obj);
}

void p2p_format_log(char *buf, size_t len, const struct p2p_host_report *r)
{
	char host[INET6_ADDRSTRLEN], start[40], dur[24];
	size_t used;
	int w;

	if (!len)
		return;
	json_format_addr(host, sizeof(host), r->addr, r->ip_version);
	json_format_time(start, sizeof(start), r->period_start_ms);
	format_duration(dur, sizeof(dur), r->period_end_ms - r->period_start_ms);
	w = snprintf(buf, len, "P2P host %s, score %u in the %s from %s", host, r->score, dur,
		     start);
	for (unsigned int i = 0; w >= 0 && i < r->n_reasons; i++) {
		used = (size_t)w;
		if (used >= len)
			return;
		w = snprintf(buf + used, len - used, "%s%s", i ? "; " : ": ", r->reasons[i]);
		w = w < 0 ? w : w + (int)used;
	}
}
