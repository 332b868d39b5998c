// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * route: what the inline route lookup (bpf/route.bpf.h) costs, under
 * BPF_PROG_TEST_RUN, as ratios in one run: the probe loaded as the daemon
 * loads it inline, against the same probe with --no-routes.
 *
 * The lookup runs once per flow entering the flow table, so the case that
 * pays is a packet that creates a flow: gen.bpf.c's vary_tail makes every
 * run a flow the table has not seen (the tables are zeroed between runs).
 * Three walks:
 *  - new flows, one destination: sources vary, as the flows of many
 *    clients to one server; the route cache entry exists and stays the
 *    same: a FIB lookup and a cache lookup, no update;
 *  - new flows, a new destination each: every one also inserts into the
 *    route cache (an LRU hash), the worst case (a scan);
 *  - the hot path, an existing flow: no lookup at all; the ratio says
 *    the lookup costs the established flows nothing.
 *
 * It needs a kernel that routes: the program unshares a network namespace
 * of its own, with forwarding on, an ingress and an egress veth,
 * default routes via a gateway on the egress, and --fib-routes more
 * prefixes (a router with a full table has ~1M IPv4 routes; the FIB's
 * trie gets deeper), and hands the ingress ifindex to every test run.
 *
 *   route [--flows N] [--rounds K] [--fib-routes K] [--objdir DIR] [--cpu C]
 *
 * Prints one JSON object a line: ns per packet, medians of K rounds, the
 * empty program's cost (the walk's rewrite and tail call) subtracted.
 */
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>
#include "bench_util.h"
#include "flowprobe.skel.h"
#include "lib/log.h"
#include "datapath/probe.h"

#define MAX_ROUNDS 32
#define GEN_VARY_DST 1

struct opts {
	unsigned long flows, fib_routes;
	int rounds, cpu;
	const char *objdir;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "route: '%s' failed (%d)\n", cmd, rc);
	return rc;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	return fclose(f) || rc ? -1 : 0;
}

/* A namespace that routes: in0 -> (forwarding) -> out0 via 192.0.2.2 /
 * 2001:db8::2, plus n more /24 prefixes (198.18.0.0/15 and up, spread so
 * the trie branches) via the same gateway. */
static int make_router(unsigned long n)
{
	FILE *b;

	if (unshare(CLONE_NEWNET) != 0) {
		perror("route: unshare(CLONE_NEWNET)");
		return -1;
	}
	if (sh("ip link set lo up") || sh("ip link add in0 type veth peer name in1") ||
	    sh("ip link add out0 type veth peer name out1") || sh("ip link set in0 up") ||
	    sh("ip link set in1 up") || sh("ip link set out0 up") || sh("ip link set out1 up") ||
	    sh("ip addr add 192.0.2.1/24 dev out0") ||
	    sh("ip addr add 2001:db8::1/64 dev out0 nodad") ||
	    sh("ip route add default via 192.0.2.2 dev out0") ||
	    sh("ip -6 route add default via 2001:db8::2 dev out0"))
		return -1;
	if (write_file("/proc/sys/net/ipv4/ip_forward", "1") ||
	    write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1")) {
		perror("route: turning forwarding on");
		return -1;
	}
	if (!n)
		return 0;
	b = popen("ip -batch -", "w");
	if (!b)
		return -1;
	for (unsigned long i = 0; i < n; i++)
		fprintf(b, "route add %lu.%lu.%lu.0/24 via 192.0.2.2 dev out0\n", 11 + (i >> 16) % 200,
			(i >> 8) & 0xff, i & 0xff);
	return pclose(b) == 0 ? 0 : -1;
}

struct bench {
	struct opts o;
	struct bpf_object *gen, *base;
	int vary_fd, slot_fd, empty_fd, ifindex;
	struct probe probe[2]; /* 0: --no-routes, 1: routes */
};

static int load(struct bench *b, int i, uint32_t slots)
{
	struct probe_config cfg = { .max_flows = slots, .no_conns = true, .no_routes = i == 0 };

	memset(&b->probe[i], 0, sizeof(b->probe[i]));
	b->probe[i].daemon_stats_fd = -1;
	return probe_load(&b->probe[i], &cfg);
}

/* Empty tables: the next walk creates every flow again. */
static void zero_tables(struct probe *p)
{
	for (int g = 0; g < 2; g++)
		memset(p->gen[g], 0, p->gen_bytes);
}

static int run(struct bench *b, int fd, struct bench_frame *f, uint32_t repeat, double *ns)
{
	uint8_t out[BENCH_MAX_FRAME];
	uint32_t zero = 0;
	struct xdp_md ctx = { .data_end = f->len, .ingress_ifindex = b->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = f->len, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = repeat);

	if (bpf_map_update_elem(b->slot_fd, &zero, &fd, BPF_ANY) ||
	    bpf_prog_test_run_opts(b->vary_fd, &o) != 0) {
		fprintf(stderr, "route: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		return -1;
	}
	if (o.retval != XDP_PASS) {
		fprintf(stderr, "route: the program returned %u, not XDP_PASS\n", o.retval);
		return -1;
	}
	*ns = o.duration;
	return 0;
}

static void counters(struct probe *p, __u64 cnt[CNT__MAX])
{
	probe_read_counters(probe_counters_fd(p), p->ncpus, cnt);
}

/* One walk kind over one packet kind: ns/packet for empty, no-routes and
 * routes, medians over the rounds, the empty one subtracted from both. */
static int walk(struct bench *b, const char *what, const char *tmpl, uint32_t flags, bool hot)
{
	struct bench_frame f;
	double ns[3][MAX_ROUNDS];
	uint32_t n = hot ? 1 : b->o.flows, repeat = hot ? b->o.flows : b->o.flows;
	int fds[3] = { b->empty_fd, probe_prog_fd(&b->probe[0]), probe_prog_fd(&b->probe[1]) };
	double e, off, on;

	bench_build(&f, bench_tmpl_by_name(tmpl), NULL, 0);
	for (int r = 0; r < b->o.rounds; r++) {
		for (int i = 0; i < 3; i++) {
			if (i)
				zero_tables(&b->probe[i - 1]);
			/* a fresh range of flows each round, so the route
			 * cache meets new destinations too */
			if (bench_gen_set_flags(b->gen, n, 0, (uint32_t)r * n, flags))
				return -1;
			if (hot && i && run(b, fds[i], &f, 1, &ns[i][r]))
				return -1; /* the flow exists before the timing */
			if (run(b, fds[i], &f, repeat, &ns[i][r]))
				return -1;
		}
	}
	e = bench_median(ns[0], b->o.rounds);
	off = bench_median(ns[1], b->o.rounds) - e;
	on = bench_median(ns[2], b->o.rounds) - e;
	printf("{\"route\":\"%s\",\"tmpl\":\"%s\",\"fib_routes\":%lu,\"empty_ns\":%.2f,"
	       "\"no_routes_ns\":%.2f,\"routes_ns\":%.2f,\"delta_ns\":%.2f,\"ratio\":%.3f}\n",
	       what, tmpl, b->o.fib_routes, e, off, on, on - off, on / off);
	fflush(stdout);
	return 0;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "flows", required_argument, NULL, 'f' },  { "rounds", required_argument, NULL, 'k' },
		{ "fib-routes", required_argument, NULL, 'F' }, { "objdir", required_argument, NULL, 'o' },
		{ "cpu", required_argument, NULL, 'c' },    { NULL, 0, NULL, 0 },
	};
	int ch;

	o->flows = 50000;
	o->rounds = 5;
	o->objdir = "build/bench";
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->flows = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o->rounds = atoi(optarg);
			break;
		case 'F':
			o->fib_routes = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			o->objdir = optarg;
			break;
		case 'c':
			o->cpu = atoi(optarg);
			break;
		default:
			return -1;
		}
	}
	return o->flows < 1 || o->flows > (1ul << 22) || o->rounds < 1 || o->rounds > MAX_ROUNDS ?
		       -1 :
		       0;
}

int main(int argc, char **argv)
{
	static const char *const tmpls[] = { "v4-udp-64", "v6-tcp-74" };
	struct bench *b = calloc(1, sizeof(*b));
	uint32_t slots = 1;
	char path[512];
	__u64 cnt[CNT__MAX];
	int rc = 1;

	if (!b || parse_opts(&b->o, argc, argv)) {
		fprintf(stderr, "usage: route [--flows N] [--rounds K] [--fib-routes K] "
				"[--objdir DIR] [--cpu C]\n");
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	if (bench_pin_cpu(b->o.cpu))
		perror("route: sched_setaffinity");
	if (make_router(b->o.fib_routes))
		return 1;
	b->ifindex = if_nametoindex("in0");
	snprintf(path, sizeof(path), "%s/gen.bpf.o", b->o.objdir);
	b->gen = bench_open(path);
	snprintf(path, sizeof(path), "%s/baselines.bpf.o", b->o.objdir);
	b->base = bench_open(path);
	if (!b->gen || bpf_object__load(b->gen) || !b->base || bpf_object__load(b->base))
		goto out;
	b->vary_fd = bench_prog_fd(b->gen, "vary_tail");
	b->slot_fd = bench_map_fd(b->gen, "next_prog");
	b->empty_fd = bench_prog_fd(b->base, "empty_pass");
	/* room for one walk with few evictions: 4 slots a flow */
	while (slots < 4 * b->o.flows)
		slots <<= 1;
	if (load(b, 0, slots) || load(b, 1, slots))
		goto out;
	for (size_t t = 0; t < sizeof(tmpls) / sizeof(tmpls[0]); t++)
		if (walk(b, "new flows, one destination", tmpls[t], 0, false) ||
		    walk(b, "new flows, a new destination each", tmpls[t], GEN_VARY_DST, false) ||
		    walk(b, "hot path", tmpls[t], 0, true))
			goto out;
	/* The lookups must have been real ones, forwarded: else this measured
	 * an early exit (forwarding off, no route). */
	counters(&b->probe[1], cnt);
	printf("{\"route_counters\":{\"forwarded\":%llu,\"lookup_error\":%llu,"
	       "\"forwarding_disabled\":%llu,\"unreachable\":%llu,\"flows_created\":%llu}}\n",
	       (unsigned long long)cnt[CNT_ROUTE_FORWARDED],
	       (unsigned long long)cnt[CNT_ROUTE_LOOKUP_ERROR],
	       (unsigned long long)cnt[CNT_ROUTE_FORWARDING_DISABLED],
	       (unsigned long long)cnt[CNT_ROUTE_UNREACHABLE],
	       (unsigned long long)cnt[CNT_FLOWS_CREATED]);
	counters(&b->probe[0], cnt);
	rc = cnt[CNT_ROUTE_FORWARDED] == 0 ? 0 : 1; /* --no-routes looked nothing up */
out:
	for (int i = 0; i < 2; i++)
		if (b->probe[i].skel)
			probe_destroy(&b->probe[i]);
	bpf_object__close(b->gen);
	bpf_object__close(b->base);
	free(b);
	return rc;
}
