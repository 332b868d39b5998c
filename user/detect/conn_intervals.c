/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-interval connection counters and the interference analysis
 * (conn_intervals.h; docs/intervals.md states the rules for users).
 *
 * Where a count goes: every count lands in the total row, in the row of
 * the local prefix of the connection's local endpoint (the longest of the
 * set's prefixes holding it), and, with an AS table, in the row of the
 * remote endpoint's origin AS. When both ends are local, the endpoint
 * that acted (sent the SYN, sent the RST) is the one counted; when
 * neither is, the count is in the total only ("transit").
 *
 * Failed opens need a memory of SYNs: a SYN with no SYN-ACK within
 * CONN_FAIL_NS fails, and so does one whose connection is reset before it
 * is established. The second is only known when reset_analysis reports
 * the connection, after its hold time, and a refused SYN both times out
 * and is reset; so each SYN is remembered for PENDING_LINGER_NS, long
 * after CONN_FAIL_NS, and marked once failed so it never fails twice.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "detect/asn_table.h"
#include "detect/conn_intervals.h"
#include "lib/time_format.h"
#include "lib/hash.h"

/* ---- decision rules (docs/intervals.md) --------------------------------- */

/* Reset comparisons: each group needs this many connections, and the
 * worse one this many interfered connections, before anything is said. */
#define IF_MIN_CONNECTIONS 20
#define IF_MIN_INTERFERED 5
/* ... and then differs when its rate is at least IF_MIN_RATIO times the
 * other's and IF_MIN_GAP (absolute) above it. */
#define IF_MIN_RATIO 2.0
#define IF_MIN_GAP 0.05
/* Direction: forged or suspect RSTs one way at least DIR_MIN_FORGED and
 * DIR_MIN_RATIO times those the other way. */
#define DIR_MIN_FORGED 5
#define DIR_MIN_RATIO 4
/* Rate limiting: flows at least RATE_MIN_MS long with RATE_MIN_BYTES are
 * transfers (shorter ones never reach their path's rate); RATE_MIN_FLOWS
 * of each kind; Glasnost's 20% thresholds. */
#define RATE_MIN_MS 5000
#define RATE_MIN_BYTES 65536
#define RATE_MIN_FLOWS 5
#define RATE_DIFFERENCE 0.20
#define RATE_NOISE 0.20
/* Throughput samples kept per (prefix, direction, kind): beyond, a
 * uniform reservoir sample, so memory is bounded and percentiles stay
 * unbiased. */
#define RATE_SAMPLES_MAX 4096

/* The well-known BitTorrent ports (BEP 3's 6881-6889). */
#define BT_PORT_LO 6881
#define BT_PORT_HI 6889

/* How long a SYN is remembered (see the top of the file). */
#define PENDING_LINGER_NS (120ULL * 1000000000ULL)
#define PENDING_MAX (1u << 20)

#define TCP_SYN 0x02

/* ---- counters ------------------------------------------------------------ */

enum counter_id {
	C_ACTIVE, /* SYNs from inside */
	C_PASSIVE, /* SYNs from outside to inside */
	C_TRANSIT, /* SYNs with neither end local (total row only) */
	C_FAILED,
	C_RESETS, /* connections reset after they were established */
	C_OPEN,
	C_FORGED, /* RSTs */
	C_SUSPECT, /* RSTs */
	C_BLOCKED, /* connections */
	C__MAX,
};

static const char *const counter_names[C__MAX] = {
	[C_ACTIVE] = "active_opens", [C_PASSIVE] = "passive_opens", [C_TRANSIT] = "transit_opens",
	[C_FAILED] = "failed",	     [C_RESETS] = "resets",	    [C_OPEN] = "open",
	[C_FORGED] = "forged",	     [C_SUSPECT] = "suspect",	    [C_BLOCKED] = "blocked",
};

/* One row's connection counts of an interval (the total, a prefix, an
 * AS); not the datapath's struct counters. */
struct conn_counts {
	uint64_t c[C__MAX];
};

struct as_row {
	uint32_t asn;
	bool used;
	struct conn_counts c;
};

/* A comparison group of the interference analysis. */
struct group {
	uint64_t syn_flows; /* TCP flow records with a SYN: two per
				   connection whose handshake was seen */
	uint64_t resets; /* RSTs decided */
	uint64_t forged; /* of which forged */
	uint64_t suspect; /* of which suspect */
	uint64_t interfered; /* connections whose worst RST was forged or
				   suspect */
	uint64_t blocked; /* connections */
};

enum group_id {
	G_BT, /* BitTorrent connections */
	G_BT_PORTS, /* any TCP with a port in 6881-6889 */
	G_BT_ELSEWHERE, /* BitTorrent with neither port in 6881-6889 */
	G_UP, /* RSTs sent by the local end */
	G_DOWN, /* RSTs sent toward the local end */
	G__MAX,
};

/* Non-BitTorrent TCP per port, for "other TCP on the same ports". */
struct port_counts {
	uint32_t syn_flows, resets, forged, suspect, interfered;
};

/* Throughputs (bit/s) of transfers, for one (row, direction, kind). */
struct samples {
	double *v;
	size_t n;
	size_t cap;
	uint64_t seen;
};

enum {
	DIR_DOWN,
	DIR_UP,
	DIR__MAX
};
enum {
	KIND_BT,
	KIND_OTHER,
	KIND__MAX
};

struct rate_row {
	struct samples s[DIR__MAX][KIND__MAX];
};

/* A SYN remembered: see the top of the file. */
struct pending {
	struct conn_key key;
	uint64_t syn_ns;
	struct pending *hnext; /* hash chain */
	struct pending *older, *newer; /* in SYN order */
	int32_t prefix; /* row, or -1 */
	uint32_t asn;
	bool has_asn;
	bool accepted;
	bool failed;
};

/* Where a connection's counts go. */
struct where {
	int prefix; /* index into the local set, -1 none */
	bool actor_local;
	bool other_local;
	bool has_asn;
	uint32_t asn; /* the remote end's origin AS */
};

struct conn_intervals {
	struct conn_intervals_config cfg;
	bool started;
	uint64_t start_ms, end_ms;

	struct conn_counts total;
	struct conn_counts *prefix_rows; /* cfg.local->n of them */
	size_t n_prefixes;

	struct as_row *as_rows; /* open addressing on asn */
	size_t as_cap, as_used;

	struct group groups[G__MAX];
	struct port_counts *ports; /* [65536] */
	/* Which ports have counts: an interval's end zeroes only those, not
	 * 1.3 MB (and, in a fresh process, page faults across all of it). */
	uint64_t port_used[65536 / 64];
	uint64_t bt_port_seen[65536 / 64];

	struct rate_row *rates; /* n_prefixes + 1: the last is total */
	uint64_t rng;

	struct pending **buckets;
	size_t n_buckets, n_pending;
	struct pending *oldest, *newest;
	uint64_t pending_dropped;
};

/* ---- helpers --------------------------------------------------------------- */

/* The longest prefix of the local set holding addr, or -1. */
static int prefix_index(const struct conn_intervals *ci, uint8_t ip_version, const uint8_t addr[16])
{
	return ci->cfg.local ? prefix_set_find(ci->cfg.local, ip_version, addr) : -1;
}

/* actor: the endpoint that acted (SYN or RST sender, flow source). */
static struct where locate(const struct conn_intervals *ci, uint8_t ip_version,
			   const uint8_t actor[16], const uint8_t other[16])
{
	int a = prefix_index(ci, ip_version, actor);
	int o = prefix_index(ci, ip_version, other);
	struct where w = { .prefix = a >= 0 ? a : o, .actor_local = a >= 0, .other_local = o >= 0 };

	if (ci->cfg.asn && (a >= 0) != (o >= 0)) {
		w.has_asn = true;
		w.asn = asn_table_lookup(ci->cfg.asn, ip_version, a >= 0 ? other : actor);
	}
	return w;
}

/*
 * The canonical connection key: lower address, then lower port, first,
 * as conn_key documents the datapath's order (reset_analysis.h's
 * conn_key_of_flow does the same; this file does not depend on it).
 */
static void conn_key_of(struct conn_key *k, const struct flow_key *f)
{
	int c = memcmp(f->src, f->dst, 16);
	bool src_first = c < 0 || (c == 0 && f->sport <= f->dport);

	memset(k, 0, sizeof(*k));
	k->ip_version = f->ip_version;
	memcpy(k->addr[0], src_first ? f->src : f->dst, 16);
	memcpy(k->addr[1], src_first ? f->dst : f->src, 16);
	k->port[0] = src_first ? f->sport : f->dport;
	k->port[1] = src_first ? f->dport : f->sport;
}

static struct as_row *as_row(struct conn_intervals *ci, uint32_t asn)
{
	size_t i;

	if (ci->as_used * 2 >= ci->as_cap) {
		size_t cap = ci->as_cap ? ci->as_cap * 2 : 64;
		struct as_row *rows = calloc(cap, sizeof(*rows));

		if (!rows)
			return NULL; /* the AS row is lost, total and prefix stay */
		for (size_t j = 0; j < ci->as_cap; j++) {
			if (!ci->as_rows[j].used)
				continue;
			i = ci->as_rows[j].asn * 2654435761u & (cap - 1);
			while (rows[i].used)
				i = (i + 1) & (cap - 1);
			rows[i] = ci->as_rows[j];
		}
		free(ci->as_rows);
		ci->as_rows = rows;
		ci->as_cap = cap;
	}
	i = asn * 2654435761u & (ci->as_cap - 1);
	while (ci->as_rows[i].used && ci->as_rows[i].asn != asn)
		i = (i + 1) & (ci->as_cap - 1);
	if (!ci->as_rows[i].used) {
		ci->as_rows[i].used = true;
		ci->as_rows[i].asn = asn;
		ci->as_used++;
	}
	return &ci->as_rows[i];
}

static void bump(struct conn_intervals *ci, const struct where *w, enum counter_id id)
{
	ci->total.c[id]++;
	if (w->prefix >= 0)
		ci->prefix_rows[w->prefix].c[id]++;
	if (w->has_asn) {
		struct as_row *r = as_row(ci, w->asn);

		if (r)
			r->c.c[id]++;
	}
}

static bool bt_port(uint16_t port)
{
	return port >= BT_PORT_LO && port <= BT_PORT_HI;
}

/* The groups a connection on these ports falls in (besides direction). */
static void add_to_groups(struct conn_intervals *ci, bool bittorrent, uint16_t p0, uint16_t p1,
			  const struct group *d)
{
	struct group *g[3];
	int n = 0;

	if (bittorrent) {
		g[n++] = &ci->groups[G_BT];
		g[n++] = &ci->groups[bt_port(p0) || bt_port(p1) ? G_BT_PORTS : G_BT_ELSEWHERE];
	} else {
		if (bt_port(p0) || bt_port(p1))
			g[n++] = &ci->groups[G_BT_PORTS];
		for (int i = 0; i < (p0 == p1 ? 1 : 2); i++) {
			uint16_t p = i ? p1 : p0;
			struct port_counts *pc = &ci->ports[p];

			ci->port_used[p / 64] |= 1ULL << (p % 64);
			pc->syn_flows += d->syn_flows;
			pc->resets += d->resets;
			pc->forged += d->forged;
			pc->suspect += d->suspect;
			pc->interfered += d->interfered;
		}
	}
	for (int i = 0; i < n; i++) {
		g[i]->syn_flows += d->syn_flows;
		g[i]->resets += d->resets;
		g[i]->forged += d->forged;
		g[i]->suspect += d->suspect;
		g[i]->interfered += d->interfered;
		g[i]->blocked += d->blocked;
	}
	if (bittorrent) {
		ci->bt_port_seen[p0 / 64] |= 1ULL << (p0 % 64);
		ci->bt_port_seen[p1 / 64] |= 1ULL << (p1 % 64);
	}
}

/* ---- pending SYNs ---------------------------------------------------------- */

static uint64_t key_hash(const struct conn_key *k)
{
	return hash_bytes(k, sizeof(*k));
}

static struct pending **pending_slot(struct conn_intervals *ci, const struct conn_key *k)
{
	struct pending **pp = &ci->buckets[key_hash(k) & (ci->n_buckets - 1)];

	while (*pp && memcmp(&(*pp)->key, k, sizeof(*k)))
		pp = &(*pp)->hnext;
	return pp;
}

static void pending_unlink(struct conn_intervals *ci, struct pending *p)
{
	struct pending **pp = pending_slot(ci, &p->key);

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	if (p->older)
		p->older->newer = p->newer;
	else
		ci->oldest = p->newer;
	if (p->newer)
		p->newer->older = p->older;
	else
		ci->newest = p->older;
	ci->n_pending--;
	free(p);
}

static void pending_grow(struct conn_intervals *ci)
{
	size_t n = ci->n_buckets * 2;
	struct pending **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (struct pending *p = ci->oldest; p; p = p->newer) {
		struct pending **slot = &b[key_hash(&p->key) & (n - 1)];

		p->hnext = *slot;
		*slot = p;
	}
	free(ci->buckets);
	ci->buckets = b;
	ci->n_buckets = n;
}

static void fail_pending(struct conn_intervals *ci, struct pending *p)
{
	struct where w = { .prefix = p->prefix, .has_asn = p->has_asn, .asn = p->asn };

	p->failed = true;
	bump(ci, &w, C_FAILED);
}

/* Fails SYNs unanswered for CONN_FAIL_NS, forgets those past the linger. */
static void age_pending(struct conn_intervals *ci, uint64_t now_ns)
{
	struct pending *p = ci->oldest;

	while (p && now_ns >= p->syn_ns && now_ns - p->syn_ns >= CONN_FAIL_NS) {
		struct pending *next = p->newer;

		if (!p->accepted && !p->failed)
			fail_pending(ci, p);
		if (now_ns - p->syn_ns >= PENDING_LINGER_NS)
			pending_unlink(ci, p);
		p = next;
	}
}

static void on_open(struct conn_intervals *ci, const struct event *ev)
{
	struct where w = locate(ci, ev->key.ip_version, ev->key.src, ev->key.dst);
	struct pending **slot, *p;
	struct conn_key k;

	if (w.actor_local)
		bump(ci, &w, C_ACTIVE);
	else if (w.other_local)
		bump(ci, &w, C_PASSIVE);
	else
		bump(ci, &w, C_TRANSIT);

	conn_key_of(&k, &ev->key);
	slot = pending_slot(ci, &k);
	if (*slot) {
		/* the 4-tuple reused: the old connection's SYN is done with */
		pending_unlink(ci, *slot);
		slot = pending_slot(ci, &k);
	}
	if (ci->n_pending >= PENDING_MAX) {
		pending_unlink(ci, ci->oldest);
		ci->pending_dropped++;
		slot = pending_slot(ci, &k);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		ci->pending_dropped++;
		return;
	}
	p->key = k;
	p->syn_ns = ev->time_ns;
	p->prefix = w.prefix;
	p->has_asn = w.has_asn;
	p->asn = w.asn;
	*slot = p;
	p->older = ci->newest;
	if (ci->newest)
		ci->newest->newer = p;
	else
		ci->oldest = p;
	ci->newest = p;
	if (++ci->n_pending > ci->n_buckets)
		pending_grow(ci);
}

static void on_accept(struct conn_intervals *ci, const struct event *ev)
{
	struct conn_key k;
	struct pending *p;

	conn_key_of(&k, &ev->key);
	p = *pending_slot(ci, &k);
	if (p)
		p->accepted = true; /* late (after failing) changes nothing */
}

/* ---- interval bookkeeping ------------------------------------------------ */

static void start_at(struct conn_intervals *ci, uint64_t wall_ms)
{
	ci->started = true;
	ci->start_ms = wall_ms;
	ci->end_ms = (wall_ms / ci->cfg.interval_ms + 1) * ci->cfg.interval_ms;
}

static void ensure_started(struct conn_intervals *ci, uint64_t wall_ms)
{
	if (!ci->started)
		start_at(ci, wall_ms);
}

static void clear_interval(struct conn_intervals *ci)
{
	memset(&ci->total, 0, sizeof(ci->total));
	memset(ci->prefix_rows, 0, ci->n_prefixes * sizeof(*ci->prefix_rows));
	if (ci->as_rows)
		memset(ci->as_rows, 0, ci->as_cap * sizeof(*ci->as_rows));
	ci->as_used = 0;
	memset(ci->groups, 0, sizeof(ci->groups));
	for (unsigned w = 0; w < 65536 / 64; w++) {
		for (uint64_t bits = ci->port_used[w]; bits; bits &= bits - 1)
			memset(&ci->ports[w * 64 + __builtin_ctzll(bits)], 0, sizeof(*ci->ports));
		ci->port_used[w] = 0;
	}
	memset(ci->bt_port_seen, 0, sizeof(ci->bt_port_seen));
	for (size_t r = 0; r <= ci->n_prefixes; r++)
		for (int d = 0; d < DIR__MAX; d++)
			for (int k = 0; k < KIND__MAX; k++) {
				ci->rates[r].s[d][k].n = 0;
				ci->rates[r].s[d][k].seen = 0;
			}
}

/* ---- JSON ------------------------------------------------------------------ */

/* a / b, or JSON null when b is not positive. */
static json_t *ratio_or_null(double a, double b, double scale)
{
	return b > 0 ? json_real(a / b * scale) : json_null();
}

static void put_counters(json_t *obj, const struct conn_counts *c)
{
	double opens = (double)c->c[C_ACTIVE] + c->c[C_PASSIVE] + c->c[C_TRANSIT];

	for (int i = 0; i < C__MAX; i++)
		json_object_set_new(obj, counter_names[i], json_integer(c->c[i]));
	/* succeeded opens: a failure of an open from an earlier interval can
	 * outnumber this one's opens, then there is no rate to give */
	json_object_set_new(obj, "rst_percent",
			    ratio_or_null(c->c[C_RESETS], opens - c->c[C_FAILED], 100));
	json_object_set_new(obj, "inbound_percent",
			    ratio_or_null(c->c[C_PASSIVE], (double)c->c[C_ACTIVE] + c->c[C_PASSIVE],
					  100));
}

static uint64_t connections_of(const struct group *g)
{
	return (g->syn_flows + 1) / 2;
}

static double rate_of(const struct group *g)
{
	uint64_t n = connections_of(g);
	double r = n ? (double)g->interfered / n : 0;

	return r > 1 ? 1 : r;
}

static json_t *group_json(const struct group *g, bool with_connections)
{
	json_t *o = json_object();

	if (with_connections) {
		json_object_set_new(o, "connections", json_integer(connections_of(g)));
		json_object_set_new(o, "interfered", json_integer(g->interfered));
		json_object_set_new(o, "blocked", json_integer(g->blocked));
		json_object_set_new(o, "rate",
				    connections_of(g) ? json_real(rate_of(g)) : json_null());
	}
	json_object_set_new(o, "resets", json_integer(g->resets));
	json_object_set_new(o, "forged", json_integer(g->forged));
	json_object_set_new(o, "suspect", json_integer(g->suspect));
	return o;
}

enum test_result {
	T_INSUFFICIENT,
	T_SAME,
	T_DIFFERS
};

static const char *test_name(enum test_result t)
{
	return t == T_DIFFERS ? "differs" : t == T_SAME ? "same" : "insufficient data";
}

/* Is `worse` interfered with more than `base`, by the rules above? */
static enum test_result compare_rates(const struct group *worse, const struct group *base)
{
	double rw, rb;

	if (connections_of(worse) < IF_MIN_CONNECTIONS || connections_of(base) < IF_MIN_CONNECTIONS)
		return T_INSUFFICIENT;
	rw = rate_of(worse);
	rb = rate_of(base);
	if (worse->interfered < IF_MIN_INTERFERED)
		return T_SAME; /* too few to call, though enough traffic */
	return rw >= IF_MIN_RATIO * rb && rw - rb >= IF_MIN_GAP ? T_DIFFERS : T_SAME;
}

static enum test_result compare_directions(const struct group *up, const struct group *down)
{
	uint64_t u = up->forged + up->suspect, d = down->forged + down->suspect;
	uint64_t hi = u > d ? u : d, lo = u > d ? d : u;

	if (hi < DIR_MIN_FORGED)
		return T_INSUFFICIENT;
	return hi >= DIR_MIN_RATIO * lo ? T_DIFFERS : T_SAME;
}

static json_t *interference_json(struct conn_intervals *ci)
{
	struct group same = { 0 };
	enum test_result proto, port, dir;
	const char *verdict;
	json_t *o = json_object(), *tests = json_object();

	for (unsigned p = 0; p < 65536; p++) {
		const struct port_counts *pc = &ci->ports[p];

		if (!(ci->bt_port_seen[p / 64] >> (p % 64) & 1))
			continue;
		same.syn_flows += pc->syn_flows;
		same.resets += pc->resets;
		same.forged += pc->forged;
		same.suspect += pc->suspect;
		same.interfered += pc->interfered;
	}
	proto = compare_rates(&ci->groups[G_BT], &same);
	port = compare_rates(&ci->groups[G_BT_PORTS], &ci->groups[G_BT_ELSEWHERE]);
	dir = compare_directions(&ci->groups[G_UP], &ci->groups[G_DOWN]);

	/*
	 * The narrowest explanation first: a port rule makes BitTorrent look
	 * worse than other traffic too (it mostly runs on its ports), but
	 * then BitTorrent elsewhere is spared. Direction is only named when
	 * neither the protocol nor the port explains the resets.
	 */
	if (port == T_DIFFERS)
		verdict = "port-based";
	else if (proto == T_DIFFERS)
		verdict = "protocol-based";
	else if (dir == T_DIFFERS)
		verdict = "direction-based";
	else if (proto == T_SAME || port == T_SAME || dir == T_SAME)
		verdict = "none";
	else
		verdict = "insufficient data";

	json_object_set_new(o, "verdict", json_string(verdict));
	json_object_set_new(tests, "protocol", json_string(test_name(proto)));
	json_object_set_new(tests, "port", json_string(test_name(port)));
	json_object_set_new(tests, "direction", json_string(test_name(dir)));
	json_object_set_new(o, "tests", tests);
	json_object_set_new(o, "bittorrent", group_json(&ci->groups[G_BT], true));
	json_object_set_new(o, "other_same_ports", group_json(&same, true));
	json_object_set_new(o, "bt_ports", group_json(&ci->groups[G_BT_PORTS], true));
	json_object_set_new(o, "other_ports", group_json(&ci->groups[G_BT_ELSEWHERE], true));
	json_object_set_new(o, "upstream", group_json(&ci->groups[G_UP], false));
	json_object_set_new(o, "downstream", group_json(&ci->groups[G_DOWN], false));
	return o;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, double q)
{
	/* ceil(q * n) without libm, and without 0.9 * 10 rounding up to 10 */
	size_t rank = q * n > 1e-9 ? (size_t)(q * n - 1e-9) + 1 : 1;

	return v[(rank > n ? n : rank) - 1];
}

/*
 * Glasnost took the maximum over repeated runs of each flow kind and
 * called a test too noisy when (max - median) / max of the runs exceeded
 * 20%. Passively there are no repeated runs of one path, only many flows
 * to many peers: the 90th percentile stands in for the maximum (one
 * lucky flow must not decide), and noise is (p90 - p50) / p90 of the
 * other flows, the same measure over the reference kind.
 */
static json_t *rate_entry(struct samples s[KIND__MAX], const char *prefix, const char *direction)
{
	struct samples *bt = &s[KIND_BT], *other = &s[KIND_OTHER];
	double bt90, o90, o50, diff, noise;
	json_t *e;

	if (bt->n < RATE_MIN_FLOWS || other->n < RATE_MIN_FLOWS)
		return NULL;
	qsort(bt->v, bt->n, sizeof(double), cmp_double);
	qsort(other->v, other->n, sizeof(double), cmp_double);
	bt90 = percentile(bt->v, bt->n, 0.9);
	o90 = percentile(other->v, other->n, 0.9);
	o50 = percentile(other->v, other->n, 0.5);
	if (o90 <= 0)
		return NULL;
	diff = (o90 - bt90) / o90;
	noise = (o90 - o50) / o90;
	e = json_object();
	json_object_set_new(e, "prefix", prefix ? json_string(prefix) : json_null());
	json_object_set_new(e, "direction", json_string(direction));
	json_object_set_new(e, "bittorrent_flows", json_integer(bt->seen));
	json_object_set_new(e, "other_flows", json_integer(other->seen));
	json_object_set_new(e, "bittorrent_bps", json_integer((json_int_t)(bt90 + 0.5)));
	json_object_set_new(e, "other_bps", json_integer((json_int_t)(o90 + 0.5)));
	json_object_set_new(e, "difference", json_real(diff));
	json_object_set_new(e, "noise", json_real(noise));
	json_object_set_new(e, "differentiated",
			    json_boolean(diff > RATE_DIFFERENCE && noise < RATE_NOISE));
	return e;
}

static json_t *rate_limiting_json(struct conn_intervals *ci)
{
	static const char *const dir_names[DIR__MAX] = { "downstream", "upstream" };
	json_t *arr = json_array();

	for (size_t r = 0; r <= ci->n_prefixes; r++) {
		char name[64];
		const char *prefix = NULL;

		if (r < ci->n_prefixes) {
			prefix_format(&ci->cfg.local->p[r], name, sizeof(name));
			prefix = name;
		}
		for (int d = 0; d < DIR__MAX; d++) {
			json_t *e = rate_entry(ci->rates[r].s[d], prefix, dir_names[d]);

			if (e)
				json_array_append_new(arr, e);
		}
	}
	return arr;
}

static int cmp_as_row(const void *a, const void *b)
{
	const struct as_row *x = a, *y = b;

	return x->asn < y->asn ? -1 : x->asn > y->asn;
}

static json_t *by_as_json(struct conn_intervals *ci)
{
	json_t *arr = json_array();
	struct as_row *rows;
	size_t n = 0;

	rows = malloc((ci->as_used ? ci->as_used : 1) * sizeof(*rows));
	if (!rows)
		return arr;
	for (size_t i = 0; i < ci->as_cap; i++)
		if (ci->as_rows[i].used)
			rows[n++] = ci->as_rows[i];
	qsort(rows, n, sizeof(*rows), cmp_as_row);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "asn", json_integer(rows[i].asn));
		put_counters(o, &rows[i].c);
		json_array_append_new(arr, o);
	}
	free(rows);
	return arr;
}

static void report(struct conn_intervals *ci, uint64_t end_ms)
{
	json_t *obj = json_object(), *total = json_object(), *prefixes = json_array();
	char t[40];
	uint64_t ms = end_ms - ci->start_ms;

	json_object_set_new(obj, "type", json_string("interval"));
	json_format_time(t, sizeof(t), ci->start_ms);
	json_object_set_new(obj, "start", json_string(t));
	json_format_time(t, sizeof(t), end_ms);
	json_object_set_new(obj, "end", json_string(t));
	json_object_set_new(obj, "seconds",
			    ms % 1000 ? json_real(ms / 1000.0) : json_integer(ms / 1000));
	put_counters(total, &ci->total);
	json_object_set_new(obj, "total", total);
	for (size_t i = 0; i < ci->n_prefixes; i++) {
		json_t *row = json_object();
		char name[64];

		prefix_format(&ci->cfg.local->p[i], name, sizeof(name));
		json_object_set_new(row, "prefix", json_string(name));
		put_counters(row, &ci->prefix_rows[i]);
		json_array_append_new(prefixes, row);
	}
	json_object_set_new(obj, "prefixes", prefixes);
	if (ci->cfg.asn)
		json_object_set_new(obj, "by_as", by_as_json(ci));
	json_object_set_new(obj, "interference", interference_json(ci));
	json_object_set_new(obj, "rate_limiting", rate_limiting_json(ci));
	if (ci->cfg.on_interval)
		ci->cfg.on_interval(ci->cfg.ctx, obj);
	else
		json_decref(obj);
}

/* ---- public ---------------------------------------------------------------- */

struct conn_intervals *conn_intervals_new(const struct conn_intervals_config *cfg)
{
	struct conn_intervals *ci = calloc(1, sizeof(*ci));

	if (!ci)
		return NULL;
	ci->cfg = *cfg;
	if (!ci->cfg.interval_ms)
		ci->cfg.interval_ms = CONN_INTERVAL_DEFAULT_S * 1000ULL;
	ci->n_prefixes = cfg->local ? cfg->local->n : 0;
	ci->prefix_rows = calloc(ci->n_prefixes ? ci->n_prefixes : 1, sizeof(*ci->prefix_rows));
	ci->rates = calloc(ci->n_prefixes + 1, sizeof(*ci->rates));
	ci->ports = calloc(65536, sizeof(*ci->ports));
	ci->n_buckets = 1024;
	ci->buckets = calloc(ci->n_buckets, sizeof(*ci->buckets));
	ci->rng = 0x9e3779b97f4a7c15ULL;
	if (!ci->prefix_rows || !ci->rates || !ci->ports || !ci->buckets) {
		conn_intervals_free(ci);
		return NULL;
	}
	return ci;
}

void conn_intervals_free(struct conn_intervals *ci)
{
	if (!ci)
		return;
	while (ci->oldest)
		pending_unlink(ci, ci->oldest);
	if (ci->rates)
		for (size_t r = 0; r <= ci->n_prefixes; r++)
			for (int d = 0; d < DIR__MAX; d++)
				for (int k = 0; k < KIND__MAX; k++)
					free(ci->rates[r].s[d][k].v);
	free(ci->rates);
	free(ci->prefix_rows);
	free(ci->as_rows);
	free(ci->ports);
	free(ci->buckets);
	free(ci);
}

void conn_intervals_event(struct conn_intervals *ci, const struct event *ev, uint64_t wall_ms)
{
	if (ev->type != EVENT_TCP_OPEN && ev->type != EVENT_TCP_ACCEPT)
		return;
	ensure_started(ci, wall_ms);
	age_pending(ci, ev->time_ns);
	if (ev->type == EVENT_TCP_OPEN)
		on_open(ci, ev);
	else
		on_accept(ci, ev);
}

void conn_intervals_reset(struct conn_intervals *ci, const struct reset_report *r)
{
	const struct flow_key *k = &r->ev.key;
	struct where w = locate(ci, k->ip_version, k->src, k->dst);
	struct group d = { .resets = 1 };

	if (r->verdict == VERDICT_FORGED) {
		bump(ci, &w, C_FORGED);
		d.forged = 1;
	} else if (r->verdict == VERDICT_SUSPECT) {
		bump(ci, &w, C_SUSPECT);
		d.suspect = 1;
	}
	add_to_groups(ci, r->bittorrent, k->sport, k->dport, &d);
	/* upstream: the local end sent it, outward */
	if (w.actor_local != w.other_local) {
		struct group *g = &ci->groups[w.actor_local ? G_UP : G_DOWN];

		g->resets++;
		g->forged += d.forged;
		g->suspect += d.suspect;
	}
}

void conn_intervals_connection(struct conn_intervals *ci, const struct conn_report *c)
{
	struct group d = { 0 };
	struct conn_key key = c->key;
	struct pending *p;
	struct where w;

	memset(key.pad, 0, sizeof(key.pad)); /* compared whole below */
	p = *pending_slot(ci, &key);

	if (p) {
		w = (struct where){ .prefix = p->prefix, .has_asn = p->has_asn, .asn = p->asn };
	} else {
		const struct flow_key *f = &c->first_rst;

		w = locate(ci, c->key.ip_version, f->src, f->dst);
	}
	if (c->established) {
		bump(ci, &w, C_RESETS);
	} else if (p && !p->failed) {
		/* reset before established: a failed open, counted once */
		fail_pending(ci, p);
	}
	if (c->blocked) {
		bump(ci, &w, C_BLOCKED);
		d.blocked = 1;
	}
	d.interfered = c->verdict == VERDICT_FORGED || c->verdict == VERDICT_SUSPECT;
	add_to_groups(ci, c->bittorrent, c->key.port[0], c->key.port[1], &d);
	if (p)
		pending_unlink(ci, p);
}

static void add_sample(struct conn_intervals *ci, struct samples *s, double bps)
{
	s->seen++;
	if (s->n < RATE_SAMPLES_MAX) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			double *v = realloc(s->v, cap * sizeof(*v));

			if (!v)
				return;
			s->v = v;
			s->cap = cap;
		}
		s->v[s->n++] = bps;
		return;
	}
	/* reservoir: keep this one with probability n / seen */
	ci->rng ^= ci->rng << 13;
	ci->rng ^= ci->rng >> 7;
	ci->rng ^= ci->rng << 17;
	if (ci->rng % s->seen < s->n)
		s->v[ci->rng % s->n] = bps;
}

void conn_intervals_flow(struct conn_intervals *ci, const struct flow_record *rec,
			 const struct flow_class *fc)
{
	const struct flow_key *k = &rec->key;
	bool bt = fc->bittorrent;
	uint64_t ms = rec->last_ms > rec->first_ms ? rec->last_ms - rec->first_ms : 0;

	if (k->proto == 6 && (rec->tcp_flags & TCP_SYN)) {
		struct group d = { .syn_flows = 1 };

		add_to_groups(ci, bt, k->sport, k->dport, &d);
	}
	if (ms >= RATE_MIN_MS && rec->bytes >= RATE_MIN_BYTES) {
		double bps = (double)rec->bytes * 8 * 1000 / ms;
		bool up = fc->local == FLOW_LOCAL_SRC;
		int prefix = fc->prefix[up ? FLOW_END_SRC : FLOW_END_DST];
		int dir = up ? DIR_UP : DIR_DOWN;

		/* rates are of customers' transfers: exactly one end local,
		 * in a prefix of this set (none without one) */
		if (fc->local != FLOW_LOCAL_SRC && fc->local != FLOW_LOCAL_DST)
			return;
		if (prefix < 0 || (size_t)prefix >= ci->n_prefixes)
			return;
		add_sample(ci, &ci->rates[ci->n_prefixes].s[dir][bt ? KIND_BT : KIND_OTHER], bps);
		add_sample(ci, &ci->rates[prefix].s[dir][bt ? KIND_BT : KIND_OTHER], bps);
	}
}

void conn_intervals_open_connection(struct conn_intervals *ci, const struct conn_key *key,
				    const struct conn_state *st)
{
	int actor = st->initiator < 2 ? st->initiator : 0;
	struct where w;

	if (!(st->flags & CONN_ESTABLISHED))
		return;
	if ((st->side[0].flags | st->side[1].flags) & SIDE_RST)
		return;
	if (st->side[0].flags & st->side[1].flags & SIDE_FIN)
		return;
	/* midstream connections have no initiator: side 0 stands in */
	w = locate(ci, key->ip_version, key->addr[actor], key->addr[!actor]);
	bump(ci, &w, C_OPEN);
}

bool conn_intervals_due(const struct conn_intervals *ci, uint64_t wall_ms)
{
	return ci->started && wall_ms >= ci->end_ms;
}

/* Reports every interval ended by wall_ms. */
static void end_due(struct conn_intervals *ci, uint64_t wall_ms)
{
	int reported = 0;

	while (wall_ms >= ci->end_ms) {
		report(ci, ci->end_ms);
		clear_interval(ci);
		if (++reported >= 1000) {
			/* a clock jump: no use in a thousand empty reports */
			start_at(ci, wall_ms);
			return;
		}
		ci->start_ms = ci->end_ms;
		ci->end_ms += ci->cfg.interval_ms;
	}
}

void conn_intervals_tick(struct conn_intervals *ci, uint64_t wall_ms, uint64_t probe_now_ns)
{
	age_pending(ci, probe_now_ns);
	ensure_started(ci, wall_ms);
	end_due(ci, wall_ms);
}

/* The interval in progress ends early, at wall_ms (shutdown, end of replay). */
void conn_intervals_finish(struct conn_intervals *ci, uint64_t wall_ms)
{
	ensure_started(ci, wall_ms);
	end_due(ci, wall_ms);
	report(ci, wall_ms > ci->start_ms ? wall_ms : ci->start_ms);
	clear_interval(ci);
	ci->start_ms = wall_ms;
}
