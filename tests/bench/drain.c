// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * drain: how fast the daemon moves flows from the kernel to a collector,
 * and what a flow costs in memory.
 *
 * The real probe is loaded through probe_load and wired to the daemon's
 * own pipeline (pipeline_init with the default options: drain, flow
 * cache, NetFlow v9 exporter, a UDP socket to a collector on 127.0.0.1
 * that this program reads back). Its tables are filled with --flows
 * distinct flows, half from each CPU, by gen.bpf.c's vary_tail
 * tail-calling the probe under BPF_PROG_TEST_RUN. Then:
 *
 *   drain   drainer_run: swap generations (an RCU grace period), scan the
 *           old one in place, merge every entry and the eviction ring into
 *           the flow cache
 *   empty   drainer_run_quiescent of the live generation right after, with
 *           no flow in it: what a drain costs beyond its flows and its
 *           grace period (the table's size)
 *   export  pipeline_tick at a time when every flow is idle: what the
 *           daemon's tick does next (another, empty, drain; expire every
 *           flow as the inactive timeout does; encode NetFlow v9; send)
 *
 * and the collector's socket is read to check every datagram arrived.
 * Median of --runs. Prints one JSON line for run_bench.py.
 *
 *   drain [--flows N] [--slots S] [--runs R] [--objdir build/bench]
 */
#include <getopt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bench_util.h"
#include "flowprobe.skel.h"
#include "lib/log.h"
#include "cli/export_options.h"
#include "daemon/pipeline.h"

#ifndef SO_RCVBUFFORCE
#define SO_RCVBUFFORCE 33
#endif

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* A local collector: a socket big enough to hold a million flows' export
 * (SO_RCVBUFFORCE: we are root), read after the tick. */
static int open_sink(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = 1 << 30;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static uint64_t sink_count(int fd)
{
	static uint8_t buf[65536];
	uint64_t n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/* Fills the live generation with n flows from `cpu`, numbered from base. */
static int fill(struct bpf_object *gen, int cpu, uint32_t n, uint32_t base)
{
	struct bench_frame f;
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = n);

	bench_build(&f, &bench_mix[0], NULL, 0);
	o.data_in = f.b;
	o.data_size_in = f.len;
	if (bench_pin_cpu(cpu) || bench_gen_set(gen, n, 0, base) ||
	    bpf_prog_test_run_opts(bench_prog_fd(gen, "vary_tail"), &o) != 0) {
		fprintf(stderr, "drain: filling from CPU %d: %s\n", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "flows", required_argument, NULL, 'f' },
		{ "slots", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "objdir", required_argument, NULL, 'o' },
		{},
	};
	unsigned long flows = 1000000, slots = 0;
	const char *objdir = "build/bench";
	double drain_s[16], export_s[16], swap_s[16], empty_s[16];
	uint64_t exported = 0, drained = 0, datagrams = 0, received = 0;
	struct pipeline *pl = calloc(1, sizeof(*pl));
	struct export_options eo;
	struct probe_config cfg = {};
	struct bpf_object *gen = NULL;
	int runs = 3, ch, sink = -1, port = 0, ncpus, rc = 1;
	char spec[64], path[512];
	__u32 zero = 0;
	int prog_fd;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'f':
			flows = strtoul(optarg, NULL, 10);
			break;
		case 's':
			slots = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'o':
			objdir = optarg;
			break;
		default:
			fprintf(stderr, "usage: drain [--flows N] [--slots S] [--runs R] "
					"[--objdir DIR]\n");
			return 2;
		}
	}
	if (!pl || runs < 1 || runs > 16 || flows < 2)
		return 2;
	libbpf_set_print(libbpf_quiet);
	ncpus = libbpf_num_possible_cpus();
	/* Two flows' worth of slots per flow a CPU holds: few evictions. */
	cfg.max_flows = slots ? slots : 2 * flows / ncpus;
	pl->probe.daemon_stats_fd = -1;
	export_options_init(&eo);
	if (probe_load(&pl->probe, &cfg) != 0 || pipeline_init(pl, &eo) != 0)
		goto out;
	sink = open_sink(&port);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	if (sink < 0 || exporter_add_collector(&pl->exporter, spec) != 0 ||
	    exporter_start(&pl->exporter, 1, 1400, 1700000000000ull) != 0) {
		fprintf(stderr, "drain: cannot set up the local collector\n");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/gen.bpf.o", objdir);
	gen = bench_open(path);
	if (!gen || bpf_object__load(gen))
		goto out;
	prog_fd = probe_prog_fd(&pl->probe);
	if (bpf_map_update_elem(bench_map_fd(gen, "next_prog"), &zero, &prog_fd, BPF_ANY)) {
		fprintf(stderr, "drain: tail-call slot: %s\n", strerror(errno));
		goto out;
	}

	for (int r = 0; r < runs; r++) {
		struct drain_result res, empty;
		uint64_t t0, t1, t2, before_pkts, before_flows;
		int old;

		/* The grace period alone: two swaps of empty generations
		 * would do, but one is enough and leaves the state as it was
		 * after a drain (the filled generation live). */
		t0 = bench_now_ns();
		if (probe_swap_tables(&pl->probe, &old)) {
			fprintf(stderr, "drain: swap failed\n");
			goto out;
		}
		swap_s[r] = (bench_now_ns() - t0) / 1e9;

		for (int c = 0; c < ncpus; c++)
			if (fill(gen, c, flows / ncpus, c * (flows / ncpus) + r * flows))
				goto out;
		bench_pin_cpu(0);
		sink_count(sink);
		before_pkts = exporter_packets_sent(&pl->exporter);
		before_flows = pl->ds.v[DS_flows_exported];

		t0 = bench_now_ns();
		if (drainer_run(pl->drainer, &res)) {
			fprintf(stderr, "drain: drainer_run failed\n");
			goto out;
		}
		t1 = bench_now_ns();
		/* No packet runs now: the quiescent drain is right. */
		drainer_run_quiescent(pl->drainer, &empty);
		empty_s[r] = (bench_now_ns() - t1) / 1e9;
		t1 = bench_now_ns();
		/* an hour on: every flow is idle */
		pipeline_tick(pl, bench_now_ns() + 3600000000000ull, 1700000000000ull + r * 1000,
			      0);
		t2 = bench_now_ns();

		drain_s[r] = (t1 - t0) / 1e9;
		export_s[r] = (t2 - t1) / 1e9;
		drained = res.entries + res.evicted_records;
		exported = pl->ds.v[DS_flows_exported] - before_flows;
		datagrams = exporter_packets_sent(&pl->exporter) - before_pkts;
		received = sink_count(sink);
		if (exported != flows / ncpus * ncpus || received != datagrams)
			fprintf(stderr,
				"drain: run %d: %llu flows filled, %llu drained, "
				"%llu exported, %llu of %llu datagrams received\n",
				r, (unsigned long long)(flows / ncpus * ncpus),
				(unsigned long long)drained, (unsigned long long)exported,
				(unsigned long long)received, (unsigned long long)datagrams);
	}
	{
		double d = bench_median(drain_s, runs), e = bench_median(export_s, runs);
		double s = bench_median(swap_s, runs), z = bench_median(empty_s, runs);

		printf("{\"drain\":true,\"flows\":%llu,\"drained_entries\":%llu,"
		       "\"exported\":%llu,\"datagrams\":%llu,\"received\":%llu,"
		       "\"drain_s\":%.4f,\"export_s\":%.4f,\"swap_s\":%.4f,"
		       "\"empty_drain_s\":%.6f,"
		       "\"flows_per_s\":%.0f,\"drain_flows_per_s\":%.0f,"
		       "\"export_flows_per_s\":%.0f,\"slots_per_cpu\":%llu,"
		       "\"kernel_bytes_per_slot\":%zu,\"generations\":2,"
		       "\"kernel_bytes\":%llu,\"user_bytes_per_flow\":%zu}\n",
		       (unsigned long long)(flows / ncpus * ncpus), (unsigned long long)drained,
		       (unsigned long long)exported, (unsigned long long)datagrams,
		       (unsigned long long)received, d, e, s, z, exported / (d + e), drained / d,
		       exported / e, (unsigned long long)(probe_flow_slots(&pl->probe) / ncpus),
		       sizeof(struct flow_entry), (unsigned long long)(2 * pl->probe.gen_bytes),
		       flow_cache_bytes_per_flow());
	}
	rc = 0;
out:
	if (gen)
		bpf_map_delete_elem(bench_map_fd(gen, "next_prog"), &zero);
	bpf_object__close(gen);
	pipeline_destroy(pl);
	if (sink >= 0)
		close(sink);
	free(pl);
	return rc;
}
