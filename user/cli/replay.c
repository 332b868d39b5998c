// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `flowprobe replay`: push every packet of pcap/pcapng captures through the
 * same XDP program with BPF_PROG_TEST_RUN, the capture's timestamps as the
 * probe's clock, and drain, expire and export on capture time exactly as a
 * live probe would. So a capture gives the flows (and later the verdicts)
 * the link would have given, and every detector can be tested on captures.
 * With --each, every file is its own replay: the program is loaded (and
 * verified, most of a second) once, and each file runs in a child process
 * forked from the freshly loaded state, the maps restored to that state
 * before it (datapath/probe_reset.h): the daemon's side starts as fresh as
 * the kernel's, so each file's output is what a replay of it alone gives.
 */
#include <errno.h>
#include <sched.h>
#include <getopt.h>
#include <jansson.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath/capture.h"
#include "flowprobe.skel.h"
#include "cli/exit_codes.h"
#include "cli/export_options.h"
#include "lib/json_output.h"
#include "lib/log.h"
#include "lib/units.h"
#include "daemon/pipeline.h"
#include "datapath/probe_reset.h"
#include "cli/commands.h"

struct replay_state {
	struct export_options opt;
	struct pipeline pl;
	bool started;
	bool counters; /* --counters: one JSON line of them at the end */
	bool each; /* --each: every file its own replay */
	uint64_t clock_ns; /* probe clock: last packet's time, never back */
	uint64_t next_tick_ns;
	uint64_t tick_ns; /* a second, or the curve's bin if shorter */
	uint64_t packets; /* all files */
	uint64_t out_of_order; /* timestamps earlier than the clock */
	uint64_t too_short; /* frames under 14 bytes: cannot be run */
	/* progress */
	bool progress;
	struct timespec start, last_progress;
};

static void replay_usage(FILE *out)
{
	fprintf(out,
		"Usage: flowprobe replay FILE... [-c HOST:PORT]... [--json] [options]\n"
		"\n"
		"Run every packet of the captures (pcap or pcapng; Ethernet, Linux cooked v1\n"
		"and v2, raw IP, BSD loopback, PPP, Cisco HDLC, PPPoE, NFLOG, 802.11 bare,\n"
		"radiotap or PPI, FDDI) through the same XDP program a live probe uses,\n"
		"with the capture's timestamps as the clock, and export the flows exactly as a\n"
		"live probe would have: same timeouts, same NetFlow. Several files are one\n"
		"timeline, in the order given. Flows still open at the end are exported with\n"
		"flowEndReason 4 (forced). Without -c, flows go to stdout as JSON Lines.\n"
		"\n"
		"      --tap                        run the program in tap mode (same counts)\n"
		"      --counters                   at the end, the datapath's counters (parse\n"
		"                                   errors included) as one JSON line on stdout:\n"
		"                                   {\"type\":\"counters\",\"packets\":N,...}\n"
		"      --each                       every file is its own replay, exactly as if\n"
		"                                   replayed alone, the program loaded once (for\n"
		"                                   tools replaying many captures); each file's\n"
		"                                   output is framed by {\"type\":\"replay_file\",\n"
		"                                   \"file\":F} and {\"type\":\"replay_end\",\n"
		"                                   \"file\":F,\"exit\":N}; a bad file does not\n"
		"                                   stop the others (the exit code is then 1)\n");
	export_options_usage(out);
	fprintf(out, "A progress line is shown on stderr when it is a terminal. On a bad file the\n"
		     "error names the file and the packet number; the flows counted up to there\n"
		     "are still exported, and the exit code is 1.\n"
		     "\n"
		     "Example: flowprobe replay monday.pcap tuesday.pcapng -c 127.0.0.1:2055\n");
}

static int parse_options(struct replay_state *st, int argc, char **argv)
{
	static const struct option longopts[] = {
		EXPORT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ "counters", no_argument, NULL, 'K' },
		{ "each", no_argument, NULL, 'E' },
		{},
	};
	int c, err, rc = EXIT_OK;

	export_options_init(&st->opt);
	optind = 1;
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		if (export_options_parse(&st->opt, &st->pl.exporter, c, optarg, &err)) {
			rc = exit_code_of(err);
			continue;
		}
		switch (c) {
		case 'h':
			replay_usage(stdout);
			exit(EXIT_OK);
		case 'K':
			st->counters = true;
			break;
		case 'E':
			st->each = true;
			break;
		default:
			fprintf(stderr, "Try 'flowprobe replay --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind >= argc) {
		log_error("no capture file given (try 'flowprobe replay --help')");
		return EXIT_USAGE;
	}
	if (st->pl.exporter.n_collectors == 0)
		st->opt.json = true;
	return EXIT_OK;
}

#define COUNTER_NAME(id, name, help) [id] = name,
static const char *const counter_names[CNT__MAX] = { FLOWPROBE_COUNTERS(COUNTER_NAME) };

/* --counters: what the datapath counted over all files, parse failures
 * included, for tools that replay many captures (tests/corpus/). */
static void print_counters(const struct replay_state *st)
{
	printf("{\"type\":\"counters\"");
	for (int i = 0; i < CNT__MAX; i++)
		printf(",\"%s\":%llu", counter_names[i], (unsigned long long)st->pl.counters[i]);
	printf(",\"frames_too_short\":%llu,\"out_of_order\":%llu}\n",
	       (unsigned long long)st->too_short, (unsigned long long)st->out_of_order);
	fflush(stdout);
}

static double seconds_since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - a->tv_sec) + (now.tv_nsec - a->tv_nsec) / 1e9;
}

static void show_progress(struct replay_state *st, const char *file, struct capture *c, bool final)
{
	double elapsed = seconds_since(&st->start);

	if (!st->progress || elapsed < 2.0)
		return;
	if (!final && seconds_since(&st->last_progress) < 0.5)
		return;
	clock_gettime(CLOCK_MONOTONIC, &st->last_progress);
	fprintf(stderr, "\rreplay: %s: %llu packets, %3.0f%%, %.0f packets/s   %s", file,
		(unsigned long long)st->packets, c ? 100.0 * capture_progress(c) : 100.0,
		st->packets / elapsed, final ? "\n" : "");
}

/* Tick on capture time: once per second of capture that has packets (per
 * curve bin when that is shorter, so drains fall on its edges). */
static void advance_clock(struct replay_state *st, uint64_t ts_ns)
{
	uint64_t gap_ns = st->pl.exporter.max_flow_age_ms * 1000000ull;

	if (ts_ns < st->clock_ns) {
		st->out_of_order++;
		ts_ns = st->clock_ns;
	}
	/* A gap longer than any flow can stay open (captures days apart):
	 * end the old flows when a live probe would have, before the gap, not
	 * on its far side, where sysUptime-relative times (FIRST/
	 * LAST_SWITCHED) could not reach back to them past 2^32 ms. */
	if (st->started && gap_ns && ts_ns - st->clock_ns > gap_ns)
		pipeline_tick(&st->pl, st->clock_ns + gap_ns, (st->clock_ns + gap_ns) / 1000000, 0);
	st->clock_ns = ts_ns;
	if (!st->started) {
		exporter_start(&st->pl.exporter, export_options_source_id(&st->opt),
			       st->opt.max_payload, ts_ns / 1000000);
		st->started = true;
		pipeline_start(&st->pl, ts_ns);
		st->next_tick_ns = ts_ns - ts_ns % st->tick_ns + st->tick_ns;
	}
	if (ts_ns >= st->next_tick_ns) {
		pipeline_tick(&st->pl, ts_ns, ts_ns / 1000000, 0);
		st->next_tick_ns = ts_ns - ts_ns % st->tick_ns + st->tick_ns;
	}
}

static int run_packet(struct replay_state *st, const struct capture_packet *pkt)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt->frame, .data_size_in = pkt->len,
		    .repeat = 1);
	int err;

	st->pl.probe.skel->bss->replay_now_ns = st->clock_ns;
	/* Bytes are counted as the wire carried them, which a capture cut
	 * at its snap length (or at CAPTURE_MAX_FRAME) still records. */
	st->pl.probe.skel->bss->replay_wire_bytes = pkt->wire_len > UINT32_MAX ? UINT32_MAX :
										 pkt->wire_len;
	err = bpf_prog_test_run_opts(probe_prog_fd(&st->pl.probe), &opts);
	return err ? -errno : 0;
}

/* Replays one file. Returns EXIT_OK, or EXIT_RUNTIME after a clear error. */
static int replay_file(struct replay_state *st, const char *file)
{
	struct capture_packet pkt = { 0 };
	char err[512];
	struct capture *c;
	int r, rc = EXIT_OK;

	c = capture_open(file, err, sizeof(err));
	if (!c) {
		log_error("replay: %s", err);
		return EXIT_RUNTIME;
	}
	while ((r = capture_next(c, &pkt)) == 1) {
		st->packets++;
		advance_clock(st, pkt.ts_ns);
		if (pkt.len == 0) {
			st->too_short++;
			continue;
		}
		if (run_packet(st, &pkt) != 0) {
			log_error("replay: %s: packet %llu: the kernel refused to run it: "
				  "%s",
				  file, (unsigned long long)pkt.number, strerror(errno));
			rc = EXIT_RUNTIME;
			break;
		}
		if ((pkt.number & 0xffff) == 0)
			show_progress(st, file, c, false);
	}
	if (r < 0) {
		log_error("replay: %s: packet %llu: %s (the file is damaged or "
			  "truncated; flows up to there are exported)",
			  file, (unsigned long long)pkt.number + 1, capture_error(c));
		rc = EXIT_RUNTIME;
	}
	show_progress(st, file, NULL, true);
	capture_close(c);
	return rc;
}

/*
 * BPF_PROG_TEST_RUN runs the program on the CPU the caller is on, and the
 * datapath keeps flows per CPU: a replay the scheduler moved mid-capture
 * would split flows over two CPUs' regions (one flow created twice, a
 * BitTorrent handshake's packets seen apart). So replay stays on the CPU
 * it started on: the same capture gives the same counts every time. Not
 * being able to pin costs only that, so it is a warning.
 */
static void stay_on_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0) {
		log_warn("replay: cannot tell which CPU this is (%s); counts may differ "
			 "between runs if the process moves",
			 strerror(errno));
		return;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		log_warn("replay: cannot stay on CPU %d (%s); counts may differ between runs "
			 "if the process moves",
			 cpu, strerror(errno));
}

/* After probe_load: the files as one timeline, from pipeline_init to the
 * last export. Returns EXIT_OK or the first failure's code. */
static int replay_session(struct replay_state *st, char **files, int n)
{
	int rc, i;

	rc = exit_code_of(pipeline_init(&st->pl, &st->opt));
	if (rc != EXIT_OK)
		return rc;
	st->tick_ns = NS_PER_SEC;
	if (pipeline_sample_ns(&st->pl) && pipeline_sample_ns(&st->pl) < st->tick_ns)
		st->tick_ns = pipeline_sample_ns(&st->pl);

	for (i = 0; i < n && rc == EXIT_OK; i++)
		rc = replay_file(st, files[i]);

	/* Whatever happened, what was counted is exported. */
	if (st->started) {
		pipeline_finish(&st->pl, st->clock_ns / 1000000, 0);
		/* After an error, the error is what the user must see. */
		if (rc == EXIT_OK)
			pipeline_log_p2p_summary(&st->pl);
		if (st->counters)
			print_counters(st);
	}
	if (st->out_of_order)
		log_warn("replay: %llu packets had timestamps earlier than the packet "
			 "before; they were counted at the later time",
			 (unsigned long long)st->out_of_order);
	if (st->too_short)
		log_warn("replay: %llu frames were shorter than an Ethernet header and "
			 "were not counted",
			 (unsigned long long)st->too_short);
	log_debug("replay: %llu packets, %llu flows exported", (unsigned long long)st->packets,
		  (unsigned long long)st->pl.ds.v[DS_flows_exported]);
	return rc;
}

/* One file of --each in a child forked from the loaded, untouched state:
 * its exit code, or EXIT_RUNTIME if it died (the end line says how). */
static int replay_one_forked(struct replay_state *st, struct probe_reset *reset, char *file)
{
	unsigned long stale = 0;
	int status, rc, err;
	pid_t pid;

	err = probe_reset_run(reset, &stale);
	if (err)
		return exit_code_of(err);
	if (stale)
		log_warn("replay: %lu records of the previous file were never read; "
			 "discarded before %s",
			 stale, file);
	json_write_line(stdout, json_pack("{s:s, s:s}", "type", "replay_file", "file", file));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		log_error("replay: cannot fork for %s: %s", file, strerror(errno));
		return EXIT_RUNTIME;
	}
	if (pid == 0) {
		rc = replay_session(st, &file, 1);
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			log_error("replay: lost the child replaying %s: %s", file, strerror(errno));
			return EXIT_RUNTIME;
		}
	if (WIFEXITED(status)) {
		rc = WEXITSTATUS(status);
		json_write_line(stdout, json_pack("{s:s, s:s, s:i}", "type", "replay_end", "file",
						  file, "exit", rc));
	} else {
		rc = EXIT_RUNTIME;
		log_error("replay: %s: the replay died of signal %d", file, WTERMSIG(status));
		json_write_line(stdout,
				json_pack("{s:s, s:s, s:i, s:i}", "type", "replay_end", "file",
					  file, "exit", rc, "signal", WTERMSIG(status)));
	}
	fflush(stdout);
	return rc;
}

static int replay_each(struct replay_state *st, char **files, int n)
{
	struct probe_reset *reset;
	int rc = EXIT_OK, r, err;

	err = probe_reset_new(&st->pl.probe, &reset);
	if (err)
		return exit_code_of(err);
	for (int i = 0; i < n; i++) {
		r = replay_one_forked(st, reset, files[i]);
		if (r != EXIT_OK && rc == EXIT_OK)
			rc = r;
	}
	probe_reset_free(reset);
	return rc;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_state *st = calloc(1, sizeof(*st));
	struct probe_config pc = { .replay_clock = true };
	int rc;

	if (!st)
		return EXIT_RUNTIME;
	st->pl.probe.daemon_stats_fd = -1;
	st->pl.quiescent = true;
	rc = parse_options(st, argc, argv);
	json_output_set_probe_id(st->opt.probe_id);
	if (rc != EXIT_OK)
		goto cleanup;
	log_setup_libbpf(st->opt.verbose);
	if (st->opt.json)
		st->pl.exporter.json = stdout;
	st->progress = isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &st->start);

	rc = exit_code_of(probe_check_environment());
	if (rc != EXIT_OK)
		goto cleanup;
	pc.tap_mode = st->opt.tap;
	pc.max_flows = st->opt.max_flows;
	pc.max_conns = st->opt.max_conns;
	pc.no_conns = st->opt.no_resets;
	pc.tunnels_outer = st->opt.tunnels_outer;
	rc = exit_code_of(probe_load(&st->pl.probe, &pc));
	if (rc != EXIT_OK)
		goto cleanup;
	stay_on_this_cpu();
	if (st->each)
		rc = replay_each(st, argv + optind, argc - optind);
	else
		rc = replay_session(st, argv + optind, argc - optind);
cleanup:
	pipeline_destroy(&st->pl);
	free(st);
	return rc;
}
