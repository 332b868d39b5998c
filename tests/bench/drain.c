// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * drain: how fast the daemon moves flows from the kernel to a collector,
 * and what a flow costs in memory.
 *
 * The real probe is loaded through probe_load and wired to the daemon's
 * own pipeline (pipeline_init: drain, flow cache, NetFlow v9 exporter, a
 * UDP socket to a collector on 127.0.0.1 that this program reads back).
 * Its tables are filled with --flows distinct flows, half from each CPU,
 * by gen.bpf.c's vary_tail tail-calling the probe under
 * BPF_PROG_TEST_RUN. Then:
 *
 *   drain   drainer_run: swap generations (an RCU grace period), scan the
 *           old one in place, merge every entry and the eviction ring into
 *           the flow cache
 *   empty   drainer_run_quiescent of the live generation right after, with
 *           no flow in it: what a drain costs beyond its flows and its
 *           grace period (the table's size)
 *   export  pipeline_tick at a time when every flow is idle: what the
 *           daemon's tick does next (another, empty, drain; expire every
 *           flow as the inactive timeout does; encode NetFlow v9; send).
 *           The time inside send(2) is clocked apart (a wrapper below), so
 *           the tick splits into expire+encode and send.
 *
 * Export is unpaced (--export-rate 0) and the collector's queue holds the
 * whole export: the daemon's default pacing (4000 packets/s, a queue of
 * 8192) protects a collector with a default socket buffer and would make
 * this a measurement of the pacing (at most 49,140 flows a tick, the
 * queue's room at the worst-case 6 flows a packet), not of the code. The collector here does not need it: its
 * socket buffer is forced to 1 GB and it is read after the tick. Every
 * run then checks that the collector got every datagram sent (NetFlow
 * sequence numbers without a gap) and one data record per flow filled,
 * and the program fails if not.
 *
 * Before the --runs measured, --warmup cycles of the same (default 2,
 * one per generation) are run and checked but not counted: the first
 * drain of each generation faults in the pages of its mapping (200 MB
 * a generation at 1M flows) and the first export grows the daemon's flow
 * cache to 1M entries, costs a daemon pays once, not every drain.
 *
 *   drain [--flows N] [--slots S] [--runs R] [--warmup W] [--objdir build/bench]
 */
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

/* Time spent in send(2) and calls: the exporter's sockets are the only
 * callers in this program. Defined here, it takes the place of libc's for
 * the daemon's objects linked in; the syscall itself is the same. */
static uint64_t send_ns, send_calls;

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	uint64_t t0 = bench_now_ns();
	ssize_t n = syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
	int e = errno;

	send_ns += bench_now_ns() - t0;
	send_calls++;
	errno = e;
	return n;
}

/* A local collector: a socket big enough to hold a million flows' export
 * (about 60,000 datagrams of 1400 bytes, 2.3 KB each in the buffer;
 * SO_RCVBUFFORCE passes net.core.rmem_max: we are root), read after the
 * tick. */
static int open_sink(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = 1 << 30, got = 0;
	socklen_t gl = sizeof(got);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) ||
	    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) || got < sz ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		fprintf(stderr, "drain: the collector's socket (1 GB buffer, needs root): %s\n",
			strerror(errno));
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* What the collector got: datagrams, NetFlow v9 flow records (data sets
 * of a template with IN_PKTS, field 2; the options data of the probe's
 * statistics has none), the sequence numbers' span, and what it could not
 * read (a data set before its template, a datagram not NetFlow v9). */
struct sink_tally {
	uint64_t datagrams, records, undecoded;
	uint32_t seq_first, seq_last;
	uint16_t reclen[65536]; /* template id -> record length; 0: not a flow template */
	bool known[65536]; /* a template or options template with this id came */
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void sink_templates(struct sink_tally *t, const uint8_t *p, const uint8_t *end)
{
	while (p + 4 <= end) {
		uint16_t id = be16(p), n = be16(p + 2), len = 0;
		bool flow = false;

		p += 4;
		for (uint16_t i = 0; i < n && p + 4 <= end; i++, p += 4) {
			flow |= be16(p) == 2;
			len += be16(p + 2);
		}
		t->reclen[id] = flow ? len : 0;
		t->known[id] = true;
	}
}

/* Options templates: scope and option field counts in bytes. Their data
 * (the probe's statistics, application names) are not flows. */
static void sink_options(struct sink_tally *t, const uint8_t *p, const uint8_t *end)
{
	while (p + 6 <= end) {
		uint16_t id = be16(p), bytes = be16(p + 2) + be16(p + 4);

		t->known[id] = true;
		t->reclen[id] = 0;
		p += 6 + bytes;
	}
}

static void sink_datagram(struct sink_tally *t, const uint8_t *b, size_t n)
{
	const uint8_t *p = b + 20, *end = b + n;
	uint32_t seq;

	t->datagrams++;
	if (n < 20 || be16(b) != 9) {
		t->undecoded++;
		return;
	}
	seq = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
	if (t->datagrams == 1)
		t->seq_first = seq;
	t->seq_last = seq;
	while (p + 4 <= end) {
		uint16_t id = be16(p), len = be16(p + 2);

		if (len < 4 || p + len > end) {
			t->undecoded++;
			return;
		}
		if (id == 0)
			sink_templates(t, p + 4, p + len);
		else if (id == 1)
			sink_options(t, p + 4, p + len);
		else if (id >= 256 && !t->known[id])
			t->undecoded++;
		else if (id >= 256 && t->reclen[id])
			t->records += (len - 4u) / t->reclen[id];
		p += len;
	}
}

/*
 * Reads the collector's socket until `expect` datagrams came or nothing
 * more arrives for a second (a datagram still on its way through the
 * loopback's backlog is waited for; one lost never comes).
 */
static void sink_read(int fd, struct sink_tally *t, uint64_t expect)
{
	static uint8_t buf[65536];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (t->datagrams < expect && poll(&pfd, 1, 1000) > 0) {
		ssize_t n;

		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			sink_datagram(t, buf, (size_t)n);
	}
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

/* Datagrams lost in this CPU's (every CPU's) loopback backlog so far:
 * /proc/net/softnet_stat's second column, summed. */
static uint64_t backlog_drops(void)
{
	FILE *f = fopen("/proc/net/softnet_stat", "r");
	unsigned int processed, dropped;
	uint64_t sum = 0;
	char line[512];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &processed, &dropped) == 2)
			sum += dropped;
	if (f)
		fclose(f);
	return sum;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "flows", required_argument, NULL, 'f' },
		{ "slots", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "objdir", required_argument, NULL, 'o' },
		{},
	};
	unsigned long flows = 1000000, slots = 0;
	const char *objdir = "build/bench";
	double drain_s[20], export_s[20], swap_s[20], empty_s[20], send_s[20], fps[20];
	uint64_t exported = 0, drained = 0, datagrams = 0, received = 0, records = 0;
	uint64_t filled, send_n = 0, lost_backlog = 0, lost_sink = 0;
	struct pipeline *pl = calloc(1, sizeof(*pl));
	struct sink_tally *tally = calloc(1, sizeof(*tally));
	struct export_options eo;
	struct probe_config cfg = {};
	struct bpf_object *gen = NULL;
	int runs = 3, warmup = 2, ch, sink = -1, port = 0, ncpus, rc = 1;
	char spec[64], path[512];
	__u32 zero = 0;
	cpu_set_t all_cpus;
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
		case 'w':
			warmup = atoi(optarg);
			break;
		case 'o':
			objdir = optarg;
			break;
		default:
			fprintf(stderr, "usage: drain [--flows N] [--slots S] [--runs R] "
					"[--warmup W] [--objdir DIR]\n");
			return 2;
		}
	}
	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus))
		return 1;
	if (!pl || !tally || runs < 1 || runs > 16 || warmup < 0 || warmup > 4 ||
	    flows < 2)
		return 2;
	libbpf_set_print(libbpf_quiet);
	ncpus = libbpf_num_possible_cpus();
	filled = flows / ncpus * ncpus;
	/* Two flows' worth of slots per flow a CPU holds: few evictions. */
	cfg.max_flows = slots ? slots : 2 * flows / ncpus;
	pl->probe.daemon_stats_fd = -1;
	export_options_init(&eo);
	/* Unpaced, and a queue the whole export fits (at least 4 flows a
	 * datagram; checked below): see the top of this file. */
	eo.export_rate = 0;
	eo.export_queue = flows / 4 + 64;
	if (probe_load(&pl->probe, &cfg) != 0 || pipeline_init(pl, &eo) != 0)
		goto out;
	sink = open_sink(&port);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	if (sink < 0 || exporter_add_collector(&pl->exporter, spec) != 0 ||
	    exporter_start(&pl->exporter, 1, 1400, 1700000000000ull) != 0) {
		fprintf(stderr, "drain: cannot set up the local collector\n");
		goto out;
	}
	if (exporter_room_flows(&pl->exporter) < filled) {
		fprintf(stderr, "drain: the export queue holds %zu flows, not %llu\n",
			exporter_room_flows(&pl->exporter), (unsigned long long)filled);
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

	for (int r = 0; r < warmup + runs; r++) {
		struct drain_result res, empty;
		uint64_t t0, t1, t2, before_pkts, before_flows, before_recs, before_dgrams;
		uint64_t before_send_ns, before_send_n, before_backlog;
		uint32_t seq0;
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
		/* Unpinned, as the daemon runs: pinned to one CPU, a run
		 * measured whoever else shares that CPU on a busy machine. */
		if (sched_setaffinity(0, sizeof(all_cpus), &all_cpus)) {
			fprintf(stderr, "drain: unpinning: %s\n", strerror(errno));
			goto out;
		}
		/* What came before (templates at start, the statistics) read. */
		sink_read(sink, tally, exporter_packets_sent(&pl->exporter));
		before_pkts = exporter_packets_sent(&pl->exporter);
		before_flows = pl->ds.v[DS_flows_exported];
		before_recs = tally->records;
		before_dgrams = tally->datagrams;
		seq0 = tally->seq_last;
		before_send_ns = send_ns;
		before_send_n = send_calls;
		before_backlog = backlog_drops();

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
		send_s[r] = (send_ns - before_send_ns) / 1e9;
		send_n = send_calls - before_send_n;
		fps[r] = filled / (drain_s[r] + export_s[r]);
		drained = res.entries + res.evicted_records;
		exported = pl->ds.v[DS_flows_exported] - before_flows;
		datagrams = exporter_packets_sent(&pl->exporter) - before_pkts;
		sink_read(sink, tally, tally->datagrams + datagrams);
		received = tally->datagrams - before_dgrams;
		records = tally->records - before_recs;
		lost_backlog = backlog_drops() - before_backlog;
		lost_sink = exporter_local_drops(&pl->exporter);
		/* Every flow filled drained, exported, sent, received: one
		 * datagram short, one record short, and the figures mean
		 * nothing, so the bench fails. */
		if (drained != filled || exported != filled || records != filled ||
		    received != datagrams || tally->seq_last - seq0 != received ||
		    tally->undecoded || exporter_queued(&pl->exporter) ||
		    exporter_errors(&pl->exporter) || exporter_queue_drops(&pl->exporter)) {
			fprintf(stderr,
				"drain: run %d: %llu flows filled, %llu drained, %llu exported, "
				"%llu records received; %llu of %llu datagrams received "
				"(sequence %u..%u), %llu undecoded, %llu still queued, "
				"%llu send errors, %llu queue drops; lost in the loopback "
				"backlog %llu, in the collector's socket %llu since the start: the export "
				"is not complete, so the figures are not a measurement\n",
				r, (unsigned long long)filled, (unsigned long long)drained,
				(unsigned long long)exported, (unsigned long long)records,
				(unsigned long long)received, (unsigned long long)datagrams,
				seq0, tally->seq_last, (unsigned long long)tally->undecoded,
				(unsigned long long)exporter_queued(&pl->exporter),
				(unsigned long long)exporter_errors(&pl->exporter),
				(unsigned long long)exporter_queue_drops(&pl->exporter),
				(unsigned long long)lost_backlog, (unsigned long long)lost_sink);
			goto out;
		}
	}
	/* Per cycle, warm-ups first, for the notes. Printed before the
	 * medians, which sort in place; the summary stays last. */
	printf("{\"drain_runs\":true,\"warmup\":%d,\"drain_s\":[", warmup);
	for (int r = 0; r < warmup + runs; r++)
		printf("%s%.4f", r ? "," : "", drain_s[r]);
	printf("],\"export_s\":[");
	for (int r = 0; r < warmup + runs; r++)
		printf("%s%.4f", r ? "," : "", export_s[r]);
	printf("],\"send_s\":[");
	for (int r = 0; r < warmup + runs; r++)
		printf("%s%.4f", r ? "," : "", send_s[r]);
	printf("]}\n");
	{
		double d = bench_median(drain_s + warmup, runs);
		double e = bench_median(export_s + warmup, runs);
		double s = bench_median(swap_s + warmup, runs);
		double z = bench_median(empty_s + warmup, runs);
		double snd = bench_median(send_s + warmup, runs);
		double f = bench_median(fps + warmup, runs);

		printf("{\"drain\":true,\"flows\":%llu,\"drained_entries\":%llu,"
		       "\"exported\":%llu,\"records_received\":%llu,"
		       "\"datagrams\":%llu,\"received\":%llu,\"send_calls\":%llu,"
		       "\"export_rate\":0,\"drain_s\":%.4f,\"export_s\":%.4f,\"send_s\":%.4f,"
		       "\"swap_s\":%.4f,\"empty_drain_s\":%.6f,"
		       "\"flows_per_s\":%.0f,\"drain_flows_per_s\":%.0f,"
		       "\"export_flows_per_s\":%.0f,\"slots_per_cpu\":%llu,"
		       "\"kernel_bytes_per_slot\":%zu,\"generations\":2,"
		       "\"kernel_bytes\":%llu,\"user_bytes_per_flow\":%zu}\n",
		       (unsigned long long)filled, (unsigned long long)drained,
		       (unsigned long long)exported, (unsigned long long)records,
		       (unsigned long long)datagrams, (unsigned long long)received,
		       (unsigned long long)send_n, d, e, snd, s, z, f, filled / d, filled / e,
		       (unsigned long long)(probe_flow_slots(&pl->probe) / ncpus),
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
	free(tally);
	free(pl);
	return rc;
}
