// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * encap: what each encapsulation costs the datapath, as a ratio against a
 * plain IPv4 packet measured in the same run. Nanoseconds per packet
 * under BPF_PROG_TEST_RUN with `repeat` (the hot path: after the first run
 * the flow exists), for the probe loaded through probe_load as the daemon
 * loads it, with --tunnels inner (default) and --tunnels outer. Each
 * figure is the median of --rounds, the frames interleaved round by round
 * so drift hits them alike. Frames come from the datapath tests' packet
 * builder, so they are the frames the tests prove are counted right.
 *
 *   encap [--repeat R] [--rounds K] [--cpu C]
 *
 * Prints one line a frame: its name, ns/packet inner and outer, and the
 * ratios against the plain IPv4 frame; then one JSON object a line.
 */
#include <getopt.h>
#include <sched.h>
#include <unistd.h>
#include "bench_util.h"
#include "flowprobe.skel.h"
#include "lib/log.h"
#include "datapath/probe.h"
#include "../datapath/packet_builder.h"

#define MAX_ROUNDS 31

#define UDP(...)                                                                                 \
	{                                                                                        \
		.ip = 4, .proto = PB_UDP, .sport = 1000, .dport = 53, .payload = 64, __VA_ARGS__ \
	}
#define UDP6(...)                                                                                \
	{                                                                                        \
		.ip = 6, .proto = PB_UDP, .sport = 1000, .dport = 53, .payload = 64, __VA_ARGS__ \
	}

static const struct {
	const char *name;
	struct pb_spec spec;
} frames[] = {
	{ "plain IPv4 UDP", UDP() },
	{ "plain IPv4 TCP",
	  { .ip = 4,
	    .proto = PB_TCP,
	    .sport = 1000,
	    .dport = 80,
	    .tcp_flags = PB_ACK,
	    .payload = 64 } },
	{ "plain IPv6 UDP", UDP6() },
	{ "802.1Q + PPPoE", UDP(.n_vlans = 1, .tci = { 100 }, .encap = { .kind = PB_ENC_PPPOE }) },
	{ "MPLS, 2 labels", UDP(.encap = { .kind = PB_ENC_MPLS, .n_labels = 2, .label = 16 }) },
	{ "MPLS pseudowire", UDP(.encap = { .kind = PB_ENC_MPLS_PW, .label = 16 }) },
	{ "IPv4 in IPv4", UDP(.encap = { .kind = PB_ENC_IPIP }) },
	{ "IPv6 in IPv4", UDP6(.encap = { .kind = PB_ENC_IPIP }) },
	{ "GRE with key", UDP(.encap = { .kind = PB_ENC_GRE, .gre_flags = 0x2000 }) },
	{ "ERSPAN II", UDP(.encap = { .kind = PB_ENC_ERSPAN2 }) },
	{ "VXLAN", UDP(.encap = { .kind = PB_ENC_VXLAN }) },
	{ "Geneve", UDP(.encap = { .kind = PB_ENC_GENEVE }) },
	{ "GTP-U", UDP(.encap = { .kind = PB_ENC_GTPU }) },
	{ "GRE in UDP", UDP(.encap = { .kind = PB_ENC_GRE_UDP }) },
	{ "Teredo", UDP6(.encap = { .kind = PB_ENC_TEREDO }) },
};
#define N_FRAMES (sizeof(frames) / sizeof(frames[0]))

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int load(struct probe *p, bool outer)
{
	struct probe_config cfg = { .max_flows = 4096, .tunnels_outer = outer };

	memset(p, 0, sizeof(*p));
	p->daemon_stats_fd = -1;
	return probe_load(p, &cfg);
}

static int run(int fd, const struct pkt *f, unsigned long repeat, double *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = f->len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o) != 0)
		return -1;
	*ns = o.duration;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static double ns[2][N_FRAMES][MAX_ROUNDS];
	static struct pkt pk[N_FRAMES];
	unsigned long repeat = 1000000;
	struct probe probe[2];
	int rounds = 7, cpu = 0, c, fd[2];
	double med[2][N_FRAMES];
	cpu_set_t set;

	while ((c = getopt(argc, argv, "r:k:c:")) != -1) {
		if (c == 'r')
			repeat = strtoul(optarg, NULL, 10);
		else if (c == 'k')
			rounds = atoi(optarg);
		else if (c == 'c')
			cpu = atoi(optarg);
	}
	if (rounds < 1 || rounds > MAX_ROUNDS)
		rounds = 7;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	libbpf_set_print(libbpf_quiet);
	for (int m = 0; m < 2; m++) {
		if (load(&probe[m], m == 1) != 0) {
			fprintf(stderr, "encap: cannot load the probe (root?)\n");
			return 1;
		}
		fd[m] = probe_prog_fd(&probe[m]);
	}
	for (size_t i = 0; i < N_FRAMES; i++)
		pb_build(&pk[i], &frames[i].spec);
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < N_FRAMES; i++)
			for (int m = 0; m < 2; m++)
				if (run(fd[m], &pk[i], repeat, &ns[m][i][r]) != 0) {
					fprintf(stderr, "encap: test run failed\n");
					return 1;
				}
	for (int m = 0; m < 2; m++)
		for (size_t i = 0; i < N_FRAMES; i++) {
			qsort(ns[m][i], rounds, sizeof(double), cmp_double);
			med[m][i] = ns[m][i][rounds / 2];
		}
	printf("%-18s %5s %8s %8s %8s\n", "frame", "bytes", "inner", "outer", "inner/plain");
	for (size_t i = 0; i < N_FRAMES; i++)
		printf("%-18s %5zu %6.1fns %6.1fns %8.2f\n", frames[i].name, pk[i].len, med[0][i],
		       med[1][i], med[0][i] / med[0][0]);
	for (size_t i = 0; i < N_FRAMES; i++)
		printf("{\"frame\":\"%s\",\"inner_ns\":%.1f,\"outer_ns\":%.1f,"
		       "\"ratio_to_plain\":%.3f}\n",
		       frames[i].name, med[0][i], med[1][i], med[0][i] / med[0][0]);
	for (int m = 0; m < 2; m++)
		probe_destroy(&probe[m]);
	return 0;
}
