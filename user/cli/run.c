// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `flowprobe run`: attach to interfaces and export NetFlow until stopped.
 * One tick a second: swap and drain the kernel's flow tables into the flow
 * cache, expire what NetFlow's timeouts say is finished, export it.
 * SIGTERM (a service manager's stop or restart, an upgrade): drain, export
 * every flow the daemon holds as "forced", and exit leaving the program
 * attached and pinned, counting into its pinned tables for the next daemon,
 * which takes them over: no count is lost. SIGINT (Ctrl-C): detach first
 * (no new packets), drain both tables, export everything, unpin, exit.
 * `flowprobe detach` (detach.c) is a takeover followed at once by SIGINT's
 * path.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include "daemon/dashboard.h"
#include "datapath/pin_paths.h"
#include "cli/exit_codes.h"
#include "cli/config_file.h"
#include "cli/export_options.h"
#include "lib/build_info.h"
#include "lib/capabilities.h"
#include "lib/json_output.h"
#include "lib/log.h"
#include "lib/parse_number.h"
#include "lib/units.h"
#include "daemon/pipeline.h"
#include "cli/commands.h"

#define DEFAULT_DRAIN_INTERVAL_MS 1000

struct run_options {
	struct export_options ex;
	struct dashboard_options dash;
	enum xdp_mode xdp_mode;
	unsigned long drain_interval_ms;
	/* For tests of clock handling only (see run_usage): a file holding
	 * milliseconds to add to the wall clock, read every tick, so a test
	 * can step the clock as NTP would; and sysUptime at start. */
	const char *test_clock_file;
	unsigned long test_uptime_ms;
	unsigned long evict_ring_kb;
};

struct run_state {
	struct config_args args; /* the config file's words, then argv's */
	struct run_options opt;
	struct pipeline pl;
	struct dashboard dash;
	bool detach; /* `flowprobe detach`: take over, export, remove */
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stop_keeps; /* the stop was a SIGTERM */
static volatile sig_atomic_t reopen_requested;

static void on_hangup(int sig)
{
	(void)sig;
	reopen_requested = 1;
}

static void on_signal(int sig)
{
	stop_keeps = sig == SIGTERM;
	stop_requested = 1;
}

static void run_usage(FILE *out, bool detach)
{
	if (detach) {
		detach_usage(out);
		export_options_usage(out);
		return;
	}
	fprintf(out,
		"Usage: flowprobe run -i IFACE[,IFACE...] [-c HOST:PORT]... [options]\n"
		"\n"
		"Count every packet arriving on the interfaces into unidirectional flows with\n"
		"an XDP program, and export the flows as NetFlow v9 to each collector.\n"
		"\n"
		"Every option can also come from the configuration file, one 'name = value'\n"
		"a line with the long name and no dashes ('interface = eth0,eth1', 'tap =\n"
		"yes'); the command line wins, and replaces the file's collectors, interfaces\n"
		"and local prefixes when it gives any.\n"
		"      --config FILE                the configuration file (default: " FLOWPROBE_CONFIG
		",\n"
		"                                   read when it exists)\n"
		"      --no-config                  read no configuration file\n"
		"  -i, --interface IFACE[,IFACE...]  interfaces to watch (repeatable). XDP\n"
		"                                   sees arriving packets: give both sides of\n"
		"                                   a router to see both directions.\n"
		"      --tap                        mirror port or tap: drop packets after\n"
		"                                   counting them (default: inline, every packet\n"
		"                                   is passed on unchanged)\n"
		"      --xdp-mode native|generic    default: native, falling back to generic\n"
		"                                   with a warning when the driver lacks XDP\n"
		"      --drain-interval MS          how often the kernel tables are read (%d)\n"
		"      --evict-ring KB              ring for flows pushed out of full table\n"
		"                                   buckets between two reads (%d; a power of\n"
		"                                   two). When it fills too, new flows' packets\n"
		"                                   are counted only as uncounted (see\n"
		"                                   docs/operations.md, Reliability)\n",
		DEFAULT_DRAIN_INTERVAL_MS, EVICT_RING_BYTES / 1024);
	export_options_usage(out);
	dashboard_options_usage(out);
	fprintf(out,
		"For tests only: --test-clock FILE adds the signed whole number of ms in FILE\n"
		"(read every drain; missing or unreadable: 0) to the wall clock, to step it as\n"
		"NTP would; --test-uptime MS starts sysUptime at MS instead of 0 (up to\n"
		"4294967295), to come near its 2^32 ms wrap.\n"
		"\n"
		"Stopping: on SIGTERM (systemctl stop/restart, an upgrade) every flow the\n"
		"daemon holds is exported (flowEndReason 4) and the XDP program stays attached\n"
		"and pinned under /sys/fs/bpf/flowprobe/net:<network namespace inode>/IFACE/,\n"
		"still counting; the next 'flowprobe run' on the same interfaces in the same\n"
		"network namespace (started by 'ip netns exec' or not) takes it over and\n"
		"exports what it counted meanwhile. On SIGINT (Ctrl-C) the program is detached and unpinned\n"
		"after a last export. 'flowprobe detach -i IFACE' removes a pinned probe\n"
		"whose daemon is gone.\n"
		"\n"
		"Example: flowprobe run -i eth0,eth1 -c 192.0.2.10:2055 -c [2001:db8::5]:9995\n"
		"Exit codes: 0 ok, 1 runtime error, 2 usage, 3 privileges or kernel feature\n"
		"missing, 4 interface already carries an XDP program.\n");
}

/* 0 or a negative errno, as probe_add_iface. */
static int add_interfaces(struct probe *p, const char *list)
{
	char *copy = strdup(list), *save = NULL, *name;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (name = strtok_r(copy, ",", &save); name && !err; name = strtok_r(NULL, ",", &save))
		err = probe_add_iface(p, name);
	free(copy);
	return err;
}

enum {
	OPT_XDP_MODE = EXPORT_OPT__END,
	OPT_DRAIN,
	OPT_TEST_CLOCK,
	OPT_TEST_UPTIME,
	OPT_EVICT_RING,
	OPT_CONFIG,
	OPT_NO_CONFIG,
};

static int parse_options(struct run_state *st, int argc, char **argv)
{
	static const struct option longopts[] = {
		EXPORT_LONGOPTS,
		DASHBOARD_LONGOPTS,
		{ "interface", required_argument, NULL, 'i' },
		{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
		{ "drain-interval", required_argument, NULL, OPT_DRAIN },
		{ "test-clock", required_argument, NULL, OPT_TEST_CLOCK },
		{ "test-uptime", required_argument, NULL, OPT_TEST_UPTIME },
		{ "evict-ring", required_argument, NULL, OPT_EVICT_RING },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "no-config", no_argument, NULL, OPT_NO_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct run_options *o = &st->opt;
	int c, err, rc = EXIT_OK;

	/* The configuration file's options first, the command line's after:
	 * getopt keeps the last value, so the command line wins. The words
	 * live as long as the run: options keep pointers into them. */
	if (config_args_build(&st->args, argc, argv, longopts, FLOWPROBE_CONFIG))
		return EXIT_USAGE;
	argc = st->args.argc;
	argv = st->args.argv;
	export_options_init(&o->ex);
	dashboard_options_init(&o->dash);
	o->drain_interval_ms = DEFAULT_DRAIN_INTERVAL_MS;
	optind = 1;
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "i:c:vh", longopts, NULL)) != -1) {
		if (export_options_parse(&o->ex, &st->pl.exporter, c, optarg, &err) ||
		    dashboard_options_parse(&o->dash, c, optarg, &err)) {
			rc = exit_code_of(err);
			continue;
		}
		switch (c) {
		case 'i':
			rc = exit_code_of(add_interfaces(&st->pl.probe, optarg));
			break;
		case OPT_XDP_MODE:
			if (strcmp(optarg, "native") == 0) {
				o->xdp_mode = XDP_MODE_NATIVE;
			} else if (strcmp(optarg, "generic") == 0) {
				o->xdp_mode = XDP_MODE_GENERIC;
			} else {
				log_error("--xdp-mode: '%s' is not 'native' or 'generic'", optarg);
				rc = EXIT_USAGE;
			}
			break;
		case OPT_DRAIN:
			rc = exit_code_of(parse_ulong_option("--drain-interval", optarg, 10, 60000,
							     &o->drain_interval_ms));
			break;
		case OPT_TEST_CLOCK:
			o->test_clock_file = optarg;
			break;
		case OPT_TEST_UPTIME:
			rc = exit_code_of(parse_ulong_option("--test-uptime", optarg, 0, UINT32_MAX,
							     &o->test_uptime_ms));
			break;
		case OPT_EVICT_RING:
			rc = exit_code_of(parse_ulong_option("--evict-ring", optarg, 4, 1048576,
							     &o->evict_ring_kb));
			break;
		case OPT_CONFIG:
		case OPT_NO_CONFIG:
			break; /* read before: config_args_build */
		case 'h':
			run_usage(stdout, st->detach);
			exit(EXIT_OK);
		default:
			fprintf(stderr, "Try 'flowprobe %s --help'.\n",
				st->detach ? "detach" : "run");
			return EXIT_USAGE;
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'flowprobe run --help')", argv[optind]);
		return EXIT_USAGE;
	}
	if (st->pl.probe.n_ifaces == 0) {
		log_error("no interface given: use -i IFACE (try 'flowprobe run --help')");
		return EXIT_USAGE;
	}
	/* One name for the probe: in JSON lines, NetFlow and the fleet's rows. */
	o->dash.probe_id = o->ex.probe_id;
	rc = exit_code_of(dashboard_options_check(&o->dash));
	if (rc != EXIT_OK)
		return rc;
	if (o->ex.json)
		st->pl.exporter.json = stdout;
	if (st->pl.exporter.n_collectors == 0 && !o->ex.json && !o->dash.events)
		log_warn(st->detach ?
				 "no collector given (-c HOST:PORT): the pinned "
				 "probe's counts are dropped, not exported" :
				 "no collector given (-c HOST:PORT): flows are counted but not "
				 "exported");
	return EXIT_OK;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static const char *test_clock_file;

/* The injected wall-clock step of --test-clock, in ns; 0 without one. */
static int64_t test_clock_step_ns(void)
{
	long long ms = 0;
	FILE *f;

	if (!test_clock_file)
		return 0;
	f = fopen(test_clock_file, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lld", &ms) != 1)
		ms = 0;
	fclose(f);
	return ms * 1000000ll;
}

static uint64_t wall_clock_ns(void)
{
	return clock_ns(CLOCK_REALTIME) + test_clock_step_ns();
}

/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: one offset maps it to wall time. */
static void live_tick(struct pipeline *pl, bool finish)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);
	uint64_t wall = wall_clock_ns();
	int64_t offset = (int64_t)(wall - mono);

	if (finish)
		pipeline_finish(pl, wall / 1000000, offset);
	else
		pipeline_tick(pl, mono, wall / 1000000, offset);
}

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / NS_PER_SEC,
		.tv_nsec = deadline_ns % NS_PER_SEC,
	};

	/* Returns early on a signal, which is what stop needs. */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Sleeps until deadline_ns, waking to send paced export packets as they
 * fall due: between drains the export queue empties at the export rate. */
static void pace_until(struct pipeline *pl, uint64_t deadline_ns)
{
	while (!stop_requested) {
		uint64_t wake = exporter_wake_ns(&pl->exporter);

		if (!wake || wake >= deadline_ns) {
			sleep_until(deadline_ns);
			return;
		}
		sleep_until(wake);
		exporter_pace(&pl->exporter);
	}
}

static void print_ready(const struct run_state *st)
{
	fprintf(stderr, "flowprobe: running on ");
	for (int i = 0; i < st->pl.probe.n_ifaces; i++)
		fprintf(stderr, "%s%s", i ? "," : "", st->pl.probe.ifaces[i].name);
	fprintf(stderr,
		" (%s), exporting to %d collector%s; Ctrl-C detaches, "
		"SIGTERM stops leaving the probe counting (pinned)\n",
		st->opt.ex.tap ? "tap: packets dropped after counting" :
				 "inline: every packet passed",
		st->pl.exporter.n_collectors, st->pl.exporter.n_collectors == 1 ? "" : "s");
}

static int run_or_detach(int argc, char **argv, bool detach)
{
	struct run_state *st = calloc(1, sizeof(*st));
	struct sigaction sa = { .sa_handler = on_signal };
	struct probe_config pc = {};
	struct pipeline *pl;
	uint64_t next, interval_ns;
	bool watchdog;
	int rc;

	if (!st)
		return EXIT_RUNTIME;
	pl = &st->pl;
	st->detach = detach;
	pl->probe.daemon_stats_fd = -1;
	rc = parse_options(st, argc, argv);
	if (rc != EXIT_OK)
		goto cleanup;
	log_setup_libbpf(st->opt.ex.verbose);
	if (st->opt.ex.verbose)
		log_level = LOG_DEBUG;

	rc = exit_code_of(probe_check_environment());
	if (rc != EXIT_OK)
		goto cleanup;
	pc.tap_mode = st->opt.ex.tap;
	pc.max_flows = st->opt.ex.max_flows;
	pc.max_conns = st->opt.ex.max_conns;
	pc.no_conns = st->opt.ex.no_resets;
	pc.tunnels_outer = st->opt.ex.tunnels_outer;
	pc.no_routes = st->opt.ex.no_routes;
	pc.require_pins = detach;
	pc.evict_ring_kb = st->opt.evict_ring_kb;
	rc = exit_code_of(probe_load(&pl->probe, &pc));
	if (rc != EXIT_OK)
		goto cleanup;
	rc = exit_code_of(dashboard_prepare(&st->dash, &st->opt.dash, &st->opt.ex, pl));
	if (rc != EXIT_OK)
		goto cleanup;
	pl->ds.v[DS_took_over] = pl->probe.takeover;
	rc = exit_code_of(pipeline_init(pl, &st->opt.ex));
	if (rc != EXIT_OK)
		goto cleanup;
	test_clock_file = st->opt.test_clock_file;
	pl->exporter.start_uptime_ms = st->opt.test_uptime_ms;
	rc = exit_code_of(dashboard_start(&st->dash, &st->opt.dash, pl));
	if (rc != EXIT_OK)
		goto cleanup;
	json_output_set_probe_id(st->opt.ex.probe_id);
	rc = exit_code_of(exporter_start(&pl->exporter, export_options_source_id(&st->opt.ex),
					 st->opt.ex.max_payload, wall_clock_ns() / 1000000));
	if (rc != EXIT_OK)
		goto cleanup;

	/* Handlers before attaching: a signal from here on exports, not kills. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hangup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = exit_code_of(probe_attach_all(&pl->probe, st->opt.xdp_mode));
	if (rc != EXIT_OK)
		goto cleanup;
	probe_pin_all(&pl->probe);
	/* Attached and pinned: what is left needs CAP_BPF (bpf() on the maps
	 * held) and CAP_NET_ADMIN (detaching on Ctrl-C), nothing else. */
	rc = caps_keep_only(CAP_BIT(CAP_BPF) | CAP_BIT(CAP_NET_ADMIN));
	if (rc != 0)
		log_warn("cannot give up the capabilities no longer needed: %s", strerror(-rc));
	if (detach)
		stop_requested = 1;
	else
		print_ready(st);
	/* systemd (Type=notify): ready once attached and pinned. */
	sd_notifyf(0, "READY=1\nSTATUS=counting on %d interface%s", pl->probe.n_ifaces,
		   pl->probe.n_ifaces == 1 ? "" : "s");
	watchdog = sd_watchdog_enabled(0, NULL) > 0;

	/* Drains on the edges of the curve's bins (a whole number of drains
	 * per bin) put every drained entry in one bin: exact bytes. */
	interval_ns = st->opt.drain_interval_ms * 1000000ull;
	if (pipeline_sample_ns(pl) && pipeline_sample_ns(pl) < interval_ns)
		interval_ns = pipeline_sample_ns(pl);
	next = clock_ns(CLOCK_MONOTONIC);
	pipeline_start(pl, next);
	next -= next % interval_ns;
	while (!stop_requested) {
		next += interval_ns;
		pace_until(pl, next);
		if (stop_requested)
			break;
		if (reopen_requested) {
			reopen_requested = 0;
			dashboard_reopen(&st->dash);
		}
		live_tick(pl, false);
		/* Every drain: a loop stuck for WatchdogSec gets restarted. */
		if (watchdog)
			sd_notify(0, "WATCHDOG=1");
	}
	if (stop_keeps && !pin_paths_durable()) {
		log_warn("stopping on SIGTERM, but the pins of this probe end with "
			 "this process (see the warning at start): detaching after "
			 "exporting every open flow, so nothing is counted unseen");
		stop_keeps = 0;
	}
	sd_notify(0, "STOPPING=1");
	pl->probe.keep_pinned = stop_keeps;
	if (stop_keeps) {
		log_info("stopping on SIGTERM: exporting every open flow; the probe "
			 "stays attached and keeps counting for the next 'flowprobe "
			 "run' (remove it with 'flowprobe detach')");
	} else {
		log_info("stopping: detaching, exporting every open flow");
		/* Detach first, so the final drain sees every packet there
		 * will be. */
		probe_detach_all(&pl->probe);
	}
	live_tick(pl, true);
	pipeline_log_p2p_summary(pl);
	log_info("exported %llu flows in %llu NetFlow packets, %llu send errors; "
		 "%llu packets seen, %llu uncounted",
		 (unsigned long long)pl->ds.v[DS_flows_exported],
		 (unsigned long long)pl->ds.v[DS_export_packets],
		 (unsigned long long)pl->ds.v[DS_export_errors],
		 (unsigned long long)pl->counters[CNT_PACKETS],
		 (unsigned long long)pl->counters[CNT_UNCOUNTED_PACKETS]);
	rc = EXIT_OK;
cleanup:
	dashboard_stop(&st->dash, pl);
	pipeline_destroy(pl);
	config_args_free(&st->args);
	free(st);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	return run_or_detach(argc, argv, false);
}

int cmd_detach(int argc, char **argv)
{
	return run_or_detach(argc, argv, true);
}
