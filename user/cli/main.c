// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flowprobe's entry point: one binary, subcommands. Each subcommand lives in
 * its own file and owns its options and --help.
 */
#include <stdio.h>
#include <string.h>
#include "lib/build_info.h"
#include "lib/log.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
	fprintf(out, "flowprobe " FLOWPROBE_VERSION ": an XDP flow probe that exports NetFlow v9\n"
		     "\n"
		     "Usage: flowprobe COMMAND [options]\n"
		     "\n"
		     "Commands:\n"
		     "  run     attach to interfaces, count every packet into flows, export\n"
		     "          NetFlow v9 to collectors (flowprobe run --help)\n"
		     "  replay  run pcap/pcapng captures through the same datapath, export the\n"
		     "          flows as NetFlow or JSON (flowprobe replay --help)\n"
		     "  detach  export what a pinned probe counted and remove it (a 'run' stopped\n"
		     "          with SIGTERM leaves it counting; flowprobe detach --help)\n"
		     "  stats   print the counters of running probes (flowprobe stats --help)\n"
		     "  curve   the overload point of a link from its utilisation samples, and\n"
		     "          their picture as SVG (flowprobe curve --help)\n"
		     "  dashboard  the dashboard over every probe writing to one ClickHouse\n"
		     "          (run --store); no XDP, no root (flowprobe dashboard --help)\n"
		     "  help    this text\n"
		     "\n"
		     "Example, on an access router exporting to nfcapd on 192.0.2.10:\n"
		     "  sudo flowprobe run -i eth0,eth1 -c 192.0.2.10:2055\n"
		     "Flows of a capture as JSON Lines:\n"
		     "  sudo flowprobe replay capture.pcap --json\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "dashboard") == 0)
		return cmd_dashboard(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cmd_replay(argc - 1, argv + 1);
	if (strcmp(argv[1], "detach") == 0)
		return cmd_detach(argc - 1, argv + 1);
	if (strcmp(argv[1], "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);
	if (strcmp(argv[1], "curve") == 0)
		return cmd_curve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("flowprobe " FLOWPROBE_VERSION "\n");
		return EXIT_OK;
	}
	log_error("unknown command '%s' (try 'flowprobe help')", argv[1]);
	return EXIT_USAGE;
}
