// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * micro: nanoseconds per packet under BPF_PROG_TEST_RUN with `repeat`, for
 * the real probe (loaded through probe_load, as the daemon loads it), the
 * empty XDP program, and the table layouts of layouts.bpf.c, on one CPU.
 *
 *  - hot: each packet of the mix (bench_util.h) run `repeat` times as is:
 *    after the first run its flow exists, so this is the hot path, "a
 *    packet of an existing flow", with everything in L1.
 *  - sweep: tables holding N flows (1k, 100k, 1M): gen.bpf.c's vary_tail
 *    rewrites the source address on every run and tail-calls the program
 *    under test, so successive packets walk N flows (N / 8 per packet kind
 *    of the mix) with the cache misses a table of that size costs. The
 *    rewrite and tail call are measured with the empty program in the slot
 *    and subtracted by the caller.
 *
 * Every figure is the median of --rounds runs, the programs interleaved
 * round by round so drift hits them alike. Prints one JSON object a line
 * for run_bench.py.
 *
 *   micro [--flows N,N,...] [--repeat R] [--rounds K] [--sweep-repeat R]
 *         [--sweep-rounds K] [--slots-factor F] [--min-slots S]
 *         [--objdir build/bench] [--cpu C]
 *
 * Tables get max(--min-slots, --slots-factor * N) slots per CPU, rounded
 * up to a power of two, as run_bench.py gives the daemon.
 */
#include <getopt.h>
#include <unistd.h>
#include "bench_util.h"
#include "flowprobe.skel.h"
#include "lib/log.h"
#include "datapath/probe.h"

#define MAX_SWEEP 8
#define N_PROGS 9
#define PROG_NORESETS 8 /* the probe loaded with --no-resets */

static const char *prog_names[N_PROGS] = {
	"empty",	"probe",      "hash_ktime",	  "sa_ktime",	    "sa_coarse",
	"sa_userclock", "sa_noclock", "direct_userclock", "probe_noresets",
};

/* What runs where, to keep `make bench` short: every layout on the hot
 * path of the first packet kind, the probe and the empty program on all;
 * the sweeps the probe, the baselines and the clock that would replace the
 * coarse one. */
static bool hot_runs(int tmpl, int prog)
{
	return tmpl == 0 || prog <= 1 || prog == PROG_NORESETS;
}

static bool sweep_runs(int prog)
{
	return prog <= 2 || !strcmp(prog_names[prog], "sa_userclock");
}

struct opts {
	unsigned long flows[MAX_SWEEP];
	int n_flows;
	unsigned long repeat, sweep_repeat;
	int rounds, sweep_rounds;
	unsigned long slots_factor, min_slots;
	const char *objdir;
	int cpu;
};

struct ctx {
	struct opts o;
	struct probe probe, probe_noresets;
	bool probe_loaded;
	struct bpf_object *base, *gen, *lay;
	struct ring_buffer *probe_ring, *lay_ring;
	uint64_t ring_records;
	int fds[N_PROGS];
	int vary_fd, slot_fd;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int count_record(void *c, void *data, size_t size)
{
	(void)data;
	(void)size;
	((struct ctx *)c)->ring_records++;
	return 0;
}

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t r = 1;

	while (r < v && r < (1u << 30))
		r <<= 1;
	return r;
}

static void unload_tables(struct ctx *c)
{
	uint32_t zero = 0;

	/* The tail-call slot holds a reference: empty it, or the old tables
	 * (up to a few GB) live on. */
	if (c->gen)
		bpf_map_delete_elem(c->slot_fd, &zero);
	ring_buffer__free(c->probe_ring);
	ring_buffer__free(c->lay_ring);
	c->probe_ring = c->lay_ring = NULL;
	if (c->probe_loaded) {
		probe_destroy(&c->probe);
		probe_destroy(&c->probe_noresets);
	}
	c->probe_loaded = false;
	bpf_object__close(c->lay);
	c->lay = NULL;
}

/* Fresh, empty tables of `slots` per CPU for the probe and the layouts. */
static int load_tables(struct ctx *c, uint32_t slots, uint32_t hash_entries)
{
	struct probe_config cfg = { .max_flows = slots };
	int rc;

	unload_tables(c);
	memset(&c->probe, 0, sizeof(c->probe));
	c->probe.daemon_stats_fd = -1;
	rc = probe_load(&c->probe, &cfg);
	if (rc != 0)
		return -1;
	c->probe_loaded = true;
	c->fds[1] = probe_prog_fd(&c->probe);
	/* The same probe without the connection table: what reset detection
	 * costs. Small: only the hot path runs it. */
	memset(&c->probe_noresets, 0, sizeof(c->probe_noresets));
	c->probe_noresets.daemon_stats_fd = -1;
	cfg.no_conns = true;
	cfg.max_flows = 1024;
	if (probe_load(&c->probe_noresets, &cfg) != 0)
		return -1;
	c->fds[PROG_NORESETS] = probe_prog_fd(&c->probe_noresets);

	c->lay = bench_load_layouts(c->o.objdir, slots, hash_entries, NULL);
	if (!c->lay)
		return -1;
	for (int p = 2; p < PROG_NORESETS; p++)
		if ((c->fds[p] = bench_prog_fd(c->lay, prog_names[p])) < 0)
			return -1;
	c->probe_ring = ring_buffer__new(probe_evict_ring_fd(&c->probe), count_record, c, NULL);
	c->lay_ring = ring_buffer__new(bench_map_fd(c->lay, "lay_ring"), count_record, c, NULL);
	return c->probe_ring && c->lay_ring ? 0 : -1;
}

/* One BPF_PROG_TEST_RUN; the kernel's own per-run average, in ns. */
static int run(int fd, struct bench_frame *f, uint32_t repeat, double *ns)
{
	uint8_t out[BENCH_MAX_FRAME];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = f->len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o) != 0) {
		fprintf(stderr, "micro: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		return -1;
	}
	if (o.retval == XDP_ABORTED) {
		fprintf(stderr, "micro: program aborted (empty tail-call slot?)\n");
		return -1;
	}
	*ns = o.duration;
	return 0;
}

static void drain_rings(struct ctx *c)
{
	ring_buffer__consume(c->probe_ring);
	ring_buffer__consume(c->lay_ring);
}

static int hot(struct ctx *c)
{
	double ns[N_PROGS][64];

	for (int t = 0; t < BENCH_MIX_N; t++) {
		struct bench_frame f;

		bench_build(&f, &bench_mix[t], NULL, 0);
		for (int r = 0; r < c->o.rounds; r++) {
			for (int p = 0; p < N_PROGS; p++) {
				if (!hot_runs(t, p))
					continue;
				if (run(c->fds[p], &f, c->o.repeat, &ns[p][r]))
					return -1;
				drain_rings(c);
			}
		}
		for (int p = 0; p < N_PROGS; p++)
			if (hot_runs(t, p))
				printf("{\"micro\":\"hot\",\"tmpl\":\"%s\",\"prog\":\"%s\","
				       "\"ns\":%.2f}\n",
				       bench_mix[t].name, prog_names[p],
				       bench_median(ns[p], c->o.rounds));
	}
	fflush(stdout);
	return 0;
}

static int set_slot(struct ctx *c, int prog_fd)
{
	uint32_t zero = 0;

	if (bpf_map_update_elem(c->slot_fd, &zero, &prog_fd, BPF_ANY)) {
		fprintf(stderr, "micro: cannot put a program in the tail-call slot: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int sweep(struct ctx *c, unsigned long nflows)
{
	uint32_t per_tmpl = nflows / BENCH_MIX_N ? nflows / BENCH_MIX_N : 1;
	uint32_t slots = pow2_at_least(nflows * c->o.slots_factor);
	uint32_t repeat = c->o.sweep_repeat;
	double ns[N_PROGS][64];
	__u64 cnt[CNT__MAX];
	uint64_t t0 = bench_now_ns();

	if (slots < c->o.min_slots)
		slots = pow2_at_least(c->o.min_slots);
	/* walk each kind's flows at least twice per run: steady state */
	if (repeat < 2 * per_tmpl)
		repeat = 2 * per_tmpl;
	if (load_tables(c, slots, nflows * 2 > 1024 ? nflows * 2 : 1024))
		return -1;
	c->ring_records = 0;
	for (int t = 0; t < BENCH_MIX_N; t++) {
		struct bench_frame f;

		bench_build(&f, &bench_mix[t], NULL, 0);
		/* create the flows: one walk per program */
		for (int p = 0; p < N_PROGS; p++) {
			if (!sweep_runs(p))
				continue;
			/* frame size is not in the flow key: each kind gets its
			 * own range of flow numbers, so the table holds nflows */
			if (set_slot(c, c->fds[p]) ||
			    bench_gen_set(c->gen, per_tmpl, 0, t * per_tmpl) ||
			    run(c->vary_fd, &f, per_tmpl, &ns[p][0]))
				return -1;
			drain_rings(c);
		}
		for (int r = 0; r < c->o.sweep_rounds; r++) {
			for (int p = 0; p < N_PROGS; p++) {
				if (!sweep_runs(p))
					continue;
				if (set_slot(c, c->fds[p]) ||
				    run(c->vary_fd, &f, repeat, &ns[p][r]))
					return -1;
				drain_rings(c);
			}
		}
		for (int p = 0; p < N_PROGS; p++)
			if (sweep_runs(p))
				printf("{\"micro\":\"sweep\",\"flows\":%lu,\"tmpl\":\"%s\","
				       "\"prog\":\"%s\",\"ns\":%.2f}\n",
				       nflows, bench_mix[t].name, prog_names[p],
				       bench_median(ns[p], c->o.sweep_rounds));
		fflush(stdout);
	}
	probe_read_counters(probe_counters_fd(&c->probe), c->probe.ncpus, cnt);
	printf("{\"micro\":\"sweep_stats\",\"flows\":%lu,\"slots_per_cpu\":%u,"
	       "\"packets\":%llu,\"flow_packets\":%llu,\"flows_created\":%llu,"
	       "\"flows_evicted\":%llu,\"uncounted_packets\":%llu,\"seconds\":%.1f}\n",
	       nflows, slots, (unsigned long long)cnt[CNT_PACKETS],
	       (unsigned long long)cnt[CNT_FLOW_PACKETS],
	       (unsigned long long)cnt[CNT_FLOWS_CREATED],
	       (unsigned long long)cnt[CNT_FLOWS_EVICTED],
	       (unsigned long long)cnt[CNT_UNCOUNTED_PACKETS], (bench_now_ns() - t0) / 1e9);
	fflush(stdout);
	return 0;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "flows", required_argument, NULL, 'f' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'k' },
		{ "slots-factor", required_argument, NULL, 's' },
		{ "min-slots", required_argument, NULL, 'm' },
		{ "sweep-repeat", required_argument, NULL, 'R' },
		{ "sweep-rounds", required_argument, NULL, 'K' },
		{ "objdir", required_argument, NULL, 'o' },
		{ "cpu", required_argument, NULL, 'c' },
		{},
	};
	int ch;

	o->flows[0] = 1000;
	o->flows[1] = 100000;
	o->flows[2] = 1000000;
	o->n_flows = 3;
	o->repeat = 1000000;
	o->rounds = 5;
	o->slots_factor = 4;
	o->min_slots = 262144; /* the daemon's default table */
	o->sweep_repeat = 300000;
	o->sweep_rounds = 3;
	o->objdir = "build/bench";
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'f': {
			char *s = optarg, *end;

			o->n_flows = 0;
			while (*s && o->n_flows < MAX_SWEEP) {
				o->flows[o->n_flows++] = strtoul(s, &end, 10);
				s = *end ? end + 1 : end;
			}
			break;
		}
		case 'r':
			o->repeat = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o->rounds = atoi(optarg);
			break;
		case 's':
			o->slots_factor = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			o->min_slots = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			o->sweep_repeat = strtoul(optarg, NULL, 10);
			break;
		case 'K':
			o->sweep_rounds = atoi(optarg);
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
	if (o->rounds < 1 || o->rounds > 64 || !o->repeat || !o->slots_factor ||
	    o->sweep_rounds < 1 || o->sweep_rounds > 64 || !o->sweep_repeat)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char path[512];
	int rc = 1;

	if (!c || parse_opts(&c->o, argc, argv)) {
		fprintf(stderr, "usage: micro [--flows N,N] [--repeat R] [--rounds K] "
				"[--sweep-repeat R] [--sweep-rounds K] [--slots-factor F] "
				"[--min-slots S] [--objdir DIR] [--cpu C]\n");
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	if (bench_pin_cpu(c->o.cpu))
		perror("micro: sched_setaffinity");

	snprintf(path, sizeof(path), "%s/baselines.bpf.o", c->o.objdir);
	c->base = bench_open(path);
	if (!c->base || bpf_object__load(c->base))
		goto out;
	c->fds[0] = bench_prog_fd(c->base, "empty_pass");
	snprintf(path, sizeof(path), "%s/gen.bpf.o", c->o.objdir);
	c->gen = bench_open(path);
	if (!c->gen || bpf_object__load(c->gen))
		goto out;
	c->vary_fd = bench_prog_fd(c->gen, "vary_tail");
	c->slot_fd = bench_map_fd(c->gen, "next_prog");

	/* Hot path: a table of the smallest sweep size. */
	if (load_tables(c, 4096, 1024) || hot(c))
		goto out;
	for (int i = 0; i < c->o.n_flows; i++)
		if (sweep(c, c->o.flows[i]))
			goto out;
	rc = 0;
out:
	unload_tables(c);
	bpf_object__close(c->gen);
	bpf_object__close(c->base);
	free(c);
	return rc;
}
