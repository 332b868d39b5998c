/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The BPF_PROG_TEST_RUN fixture shared by the datapath's unit tests
 * (test_datapath.c, test_bittorrent.c): load the skeleton as probe_load
 * does but with the sizes, seed and clock a test needs, reset it between
 * cases, run a frame, sum the per-CPU counters, find a flow in the mmapped
 * generations, read the eviction and event rings. Shared so that every
 * datapath test reads the kernel's state the same, independently checked
 * way. Header-only (static inline) because only tests/unit/test_*.c files
 * are compiled, each into its own program; include it after cmocka.h,
 * flowprobe.skel.h, probe.h and packet_builder.h.
 */
#ifndef DATAPATH_FIXTURE_H
#define DATAPATH_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int ncpus;
static unsigned int lo_ifindex; /* what BPF_PROG_TEST_RUN reports as ingress */

#define COUNTER_NAME(id, name, help) [id] = name,
static const char *const counter_names[CNT__MAX] = { FLOWPROBE_COUNTERS(COUNTER_NAME) };

/* ---- fixture: one loaded skeleton ------------------------------------- */

#define DEFAULT_BUCKETS 256 /* per CPU: small, so a reset is a quick memset */
#define TEST_HASH_SEED 0x5eed1234 /* fixed: every run places flows alike */
#define MAX_EVICTED 256
#define MAX_EVENTS 256

struct dp {
	struct flowprobe_bpf *skel;
	struct probe p; /* what the daemon's code sees: skel, generations, live */
	bool tap;
	int prog, counters, slot, frag;
	struct ring_buffer *evict_rb;
	struct flow_entry evicted[MAX_EVICTED]; /* read by consume_evicted */
	size_t n_evicted;
	int bt_peers; /* the known BitTorrent peers LRU */
	int bt_utp_pending; /* uTP headers awaiting their answer */
	int conns; /* the connection table */
	__u32 conn_buckets;
	struct ring_buffer *events_rb;
	struct event events[MAX_EVENTS]; /* read by consume_events */
	size_t n_events;
};

struct dp_opts {
	bool tap;
	bool replay_clock; /* time from skel->bss->replay_now_ns */
	__u32 buckets; /* per CPU, a power of two; 0: DEFAULT_BUCKETS */
	__u32 ring_bytes; /* 0: compiled-in EVICT_RING_BYTES */
	__u32 event_ring_bytes; /* 0: compiled-in EVENT_RING_BYTES */
	__u32 max_conns; /* a power of two; 0: DEFAULT_CONNS */
	bool tunnels_outer; /* --tunnels outer */
};

#define DEFAULT_CONNS 1024 /* small, so a reset is quick */

static inline int collect_evicted(void *ctx, void *data, size_t size)
{
	struct dp *dp = ctx;

	assert_int_equal(size, sizeof(struct flow_entry));
	if (dp->n_evicted < MAX_EVICTED)
		memcpy(&dp->evicted[dp->n_evicted], data, sizeof(struct flow_entry));
	dp->n_evicted++;
	return 0;
}

/* Reads the eviction ring into dp->evicted (from index 0). */
static inline size_t consume_evicted(struct dp *dp)
{
	dp->n_evicted = 0;
	ring_buffer__consume(dp->evict_rb);
	return dp->n_evicted;
}

static inline int collect_event(void *ctx, void *data, size_t size)
{
	struct dp *dp = ctx;

	assert_int_equal(size, sizeof(struct event));
	if (dp->n_events < MAX_EVENTS)
		memcpy(&dp->events[dp->n_events], data, sizeof(struct event));
	dp->n_events++;
	return 0;
}

/* Reads the event ring into dp->events (from index 0). */
static inline size_t consume_events(struct dp *dp)
{
	dp->n_events = 0;
	ring_buffer__consume(dp->events_rb);
	return dp->n_events;
}

/* Reads the event ring and keeps only the events of one type in
 * dp->events (from index 0); returns how many. */
static inline size_t consume_events_of_type(struct dp *dp, __u8 type)
{
	size_t n = 0, all = consume_events(dp);

	for (size_t i = 0; i < all && i < MAX_EVENTS; i++)
		if (dp->events[i].type == type)
			dp->events[n++] = dp->events[i];
	dp->n_events = n;
	return n;
}

static inline void dp_free(struct dp *dp)
{
	if (!dp)
		return;
	ring_buffer__free(dp->evict_rb);
	ring_buffer__free(dp->events_rb);
	for (int g = 0; g < 2; g++)
		if (dp->p.gen[g])
			munmap(dp->p.gen[g], dp->p.gen_bytes);
	flowprobe_bpf__destroy(dp->skel);
	free(dp);
}

/* open -> set rodata and map sizes -> load -> mmap, as probe_load does,
 * but with the sizes, seed and clock a test needs. */
static inline struct dp *dp_load(const struct dp_opts *o)
{
	struct dp *dp = calloc(1, sizeof(*dp));
	__u32 buckets = o->buckets ? o->buckets : DEFAULT_BUCKETS;

	if (!dp)
		return NULL;
	dp->skel = flowprobe_bpf__open();
	if (!dp->skel)
		goto fail;
	dp->tap = o->tap;
	dp->skel->rodata->tap_mode = o->tap;
	dp->skel->rodata->replay_clock = o->replay_clock;
	dp->skel->rodata->nr_cpus = ncpus;
	dp->skel->rodata->bucket_mask = buckets - 1;
	dp->skel->rodata->hash_seed = TEST_HASH_SEED;
	dp->skel->rodata->count_tunnel_outer = o->tunnels_outer;
	/* as probe_load: lookups inline and live (the test runs are live) */
	dp->skel->rodata->route_lookups = !o->tap && !o->replay_clock;
	bpf_map__set_max_entries(dp->skel->maps.flows_a, FLOW_GEN_VALUES(ncpus, buckets));
	bpf_map__set_max_entries(dp->skel->maps.flows_b, FLOW_GEN_VALUES(ncpus, buckets));
	if (o->ring_bytes)
		bpf_map__set_max_entries(dp->skel->maps.evict_ring, o->ring_bytes);
	if (o->event_ring_bytes)
		bpf_map__set_max_entries(dp->skel->maps.events, o->event_ring_bytes);
	dp->conn_buckets = (o->max_conns ? o->max_conns : DEFAULT_CONNS) / CONN_WAYS;
	dp->skel->rodata->conn_bucket_mask = dp->conn_buckets - 1;
	bpf_map__set_max_entries(dp->skel->maps.conns, dp->conn_buckets);
	if (flowprobe_bpf__load(dp->skel)) {
		fprintf(stderr, "cannot load the datapath (run as root)\n");
		goto fail;
	}

	dp->p.skel = dp->skel;
	dp->p.ncpus = ncpus;
	dp->p.live = 0;
	dp->p.nbuckets = buckets;
	dp->p.daemon_stats_fd = -1;
	dp->p.gen_bytes = (size_t)FLOW_GEN_VALUES(ncpus, buckets) * sizeof(struct flow_bucket);
	for (int g = 0; g < 2; g++) {
		struct bpf_map *m = g ? dp->skel->maps.flows_b : dp->skel->maps.flows_a;
		void *mem = mmap(NULL, dp->p.gen_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
				 bpf_map__fd(m), 0);

		if (mem == MAP_FAILED)
			goto fail;
		dp->p.gen[g] = mem;
	}
	dp->prog = bpf_program__fd(dp->skel->progs.flowprobe_xdp);
	dp->counters = bpf_map__fd(dp->skel->maps.counters);
	dp->slot = bpf_map__fd(dp->skel->maps.live_table);
	dp->frag = bpf_map__fd(dp->skel->maps.frag_track);
	dp->evict_rb =
		ring_buffer__new(bpf_map__fd(dp->skel->maps.evict_ring), collect_evicted, dp, NULL);
	if (!dp->evict_rb)
		goto fail;
	dp->bt_peers = bpf_map__fd(dp->skel->maps.bt_peers);
	dp->bt_utp_pending = bpf_map__fd(dp->skel->maps.bt_utp_pending);
	dp->conns = bpf_map__fd(dp->skel->maps.conns);
	dp->events_rb =
		ring_buffer__new(bpf_map__fd(dp->skel->maps.events), collect_event, dp, NULL);
	if (!dp->events_rb)
		goto fail;
	return dp;
fail:
	dp_free(dp);
	return NULL;
}

static inline int setup_with(void **state, struct dp_opts o)
{
	*state = dp_load(&o);
	return *state ? 0 : -1;
}

static inline int setup_inline(void **state)
{
	return setup_with(state, (struct dp_opts){ 0 });
}

static inline int setup_tap(void **state)
{
	return setup_with(state, (struct dp_opts){ .tap = true });
}

static inline int teardown_dp(void **state)
{
	dp_free(*state);
	return 0;
}

static inline void map_clear(int fd)
{
	char key[128];

	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		assert_int_equal(bpf_map_delete_elem(fd, key), 0);
}

/* Every bucket of the connection table zeroed (an array: nothing to
 * delete). */
static inline void conns_clear(struct dp *dp)
{
	struct conn_bucket zero;

	memset(&zero, 0, sizeof(zero));
	for (__u32 i = 0; i < dp->conn_buckets; i++)
		assert_int_equal(bpf_map_update_elem(dp->conns, &i, &zero, BPF_ANY), 0);
}

/* The state of one connection, found by scanning every bucket (the test
 * does not trust the datapath's hash to find it). 0, or -ENOENT; more
 * than one way holding the key fails the test. */
static inline int get_conn(const struct dp *dp, const struct conn_key *k, struct conn_state *st)
{
	struct conn_bucket b;
	int found = 0;

	memset(st, 0, sizeof(*st));
	for (__u32 i = 0; i < dp->conn_buckets; i++) {
		assert_int_equal(bpf_map_lookup_elem_flags(dp->conns, &i, &b, BPF_F_LOCK), 0);
		for (int w = 0; w < CONN_WAYS; w++)
			if (memcmp(&b.way[w].key, k, sizeof(*k)) == 0) {
				*st = b.way[w].st;
				found++;
			}
	}
	assert_true(found <= 1);
	return found ? 0 : -ENOENT;
}

/* Both generations empty, flows_a live, no fragment memory, no known
 * BitTorrent peers, no connections, counters and both rings empty, clock
 * at 0. */
static inline void dp_reset(struct dp *dp)
{
	size_t sz = (size_t)ncpus * sizeof(__u64) * CNT__MAX;
	void *zeros = calloc(1, sz);
	int a_fd = bpf_map__fd(dp->skel->maps.flows_a);
	__u32 zero = 0;

	assert_non_null(zeros);
	/* Only when needed: a map-in-map update waits for an RCU grace period. */
	if (dp->p.live != 0)
		assert_int_equal(bpf_map_update_elem(dp->slot, &zero, &a_fd, BPF_ANY), 0);
	dp->p.live = 0;
	memset(dp->p.gen[0], 0, dp->p.gen_bytes);
	memset(dp->p.gen[1], 0, dp->p.gen_bytes);
	map_clear(dp->frag);
	assert_int_equal(bpf_map_update_elem(dp->counters, &zero, zeros, BPF_ANY), 0);
	map_clear(dp->bt_peers);
	map_clear(dp->bt_utp_pending);
	conns_clear(dp);
	consume_evicted(dp);
	dp->n_evicted = 0;
	consume_events(dp);
	dp->n_events = 0;
	dp->skel->bss->replay_now_ns = 0;
	free(zeros);
}

static inline __u32 expected_rc(const struct dp *dp)
{
	return dp->tap ? XDP_DROP : XDP_PASS;
}

/* ---- helpers: run a frame, sum counters, read the flow table ---------- */

/* Returns 0 or the negative errno of BPF_PROG_TEST_RUN. */
static inline int run_frame(const struct dp *dp, const struct pkt *p, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .repeat = 1);
	int err;

	dp->skel->bss->replay_wire_bytes = p->len; /* replay: the whole frame */
	err = bpf_prog_test_run_opts(dp->prog, &o);

	*retval = o.retval;
	return err;
}

static inline void sum_counters(const struct dp *dp, __u64 out[CNT__MAX])
{
	assert_int_equal(probe_read_counters(dp->counters, ncpus, out), 0);
}

/* Folds one CPU's entry into a sum; written independently of the daemon's
 * flow_value_merge so the two can not share a mistake. */
static inline void value_add(struct flow_value *sum, const struct flow_value *v)
{
	if (!sum->packets || v->first_ns < sum->first_ns) {
		sum->first_ns = v->first_ns;
		sum->tos = v->tos;
		sum->tunnel = v->tunnel;
		sum->encap = v->encap;
		sum->mpls_label = v->mpls_label;
		sum->inner_vlan = v->inner_vlan;
	}
	if (!sum->packets || v->ttl_min < sum->ttl_min)
		sum->ttl_min = v->ttl_min;
	if (v->ttl_max > sum->ttl_max)
		sum->ttl_max = v->ttl_max;
	if (v->last_ns > sum->last_ns)
		sum->last_ns = v->last_ns;
	sum->packets += v->packets;
	sum->bytes += v->bytes;
	sum->tcp_flags |= v->tcp_flags;
	sum->flags |= v->flags;
	sum->app |= v->app;
}

/* Iterates e over the occupied ways of a generation, all CPU regions (the
 * innermost loop runs once per occupied way; do not break out of it). */
#define FOR_EACH_ENTRY(dp, generation, e)                                                       \
	for (size_t b_ = 0; b_ < (size_t)ncpus * (dp)->p.nbuckets; b_++)                        \
		for (int w_ = 0; w_ < FLOW_TABLE_WAYS; w_++)                                    \
			for (const struct flow_entry *e = &(dp)->p.gen[generation][b_].way[w_]; \
			     e && e->val.packets; e = NULL)

/* A flow summed over the CPU regions of a generation; returns how many
 * entries hold it (0: none; more than one per CPU would be a bug). */
static inline int get_flow(const struct dp *dp, int gen, const struct flow_key *key,
			   struct flow_value *sum)
{
	int n = 0;

	memset(sum, 0, sizeof(*sum));
	FOR_EACH_ENTRY(dp, gen, e)
	{
		if (memcmp(&e->key, key, sizeof(*key)) == 0) {
			value_add(sum, &e->val);
			n++;
		}
	}
	return n;
}

static inline const char *fmt_key(const struct flow_key *k, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int af = k->ip_version == 6 ? AF_INET6 : AF_INET;

	inet_ntop(af, k->src, s, sizeof(s));
	inet_ntop(af, k->dst, d, sizeof(d));
	snprintf(buf, len, "if%u vlan %u v%u proto %u %s:%u > %s:%u", k->ifindex, k->vlan,
		 k->ip_version, k->proto, s, k->sport, d, k->dport);
	return buf;
}

/* ---- checks that report every mismatch of a case before failing ------- */

struct check {
	const char *ctx;
	int failures;
};

static inline void check_eq(struct check *c, const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	print_error("# %s: %s: got %" PRIu64 ", want %" PRIu64 "\n", c->ctx, what, got, want);
	c->failures++;
}

static inline void check_true(struct check *c, const char *what, bool ok)
{
	if (ok)
		return;
	print_error("# %s: %s does not hold\n", c->ctx, what);
	c->failures++;
}

/*
 * For main(): finds the CPU count and the loopback ifindex (what
 * BPF_PROG_TEST_RUN reports as ingress), quiets libbpf below warnings and
 * pins the process to CPU 0, so single-threaded cases all fill CPU 0's
 * region. Returns 0, or 1 after saying why.
 */
static inline int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static inline int fixture_init(void)
{
	cpu_set_t cpu0;

	libbpf_set_print(quiet_libbpf);
	ncpus = libbpf_num_possible_cpus();
	lo_ifindex = if_nametoindex("lo");
	if (ncpus <= 0 || !lo_ifindex) {
		fprintf(stderr, "cannot count CPUs or find the loopback interface\n");
		return 1;
	}
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0) != 0) {
		perror("sched_setaffinity(CPU 0)");
		return 1;
	}
	return 0;
}

#endif /* DATAPATH_FIXTURE_H */
