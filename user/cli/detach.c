// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `flowprobe detach`: the end of a pinned probe's life. A `flowprobe run`
 * stopped with SIGTERM leaves its XDP program attached and counting into
 * pinned tables; this takes them over like a restarted daemon would,
 * detaches, drains both tables, exports every flow (so the counts since
 * the last export reach the collectors) and removes the pins. The work is
 * run's (run.c); this file holds what the command says about itself.
 */
#include "datapath/probe.h"
#include "cli/commands.h"

void detach_usage(FILE *out)
{
	fprintf(out,
		"Usage: flowprobe detach -i IFACE[,IFACE...] [-c HOST:PORT]... [options]\n"
		"\n"
		"Remove the flowprobe left attached and pinned on the interfaces of this\n"
		"network namespace (under /sys/fs/bpf/flowprobe/net:<namespace inode>/IFACE/)\n"
		"by a 'flowprobe run' stopped with SIGTERM: take\n"
		"over its tables, detach the XDP program, export every flow it counted\n"
		"since its daemon's last export to the collectors (-c, --json), unpin.\n"
		"Give the interfaces the probe ran on, all of them, and the collectors to\n"
		"send the last records to (usually the ones 'run' had).\n"
		"\n"
		"Exit codes: 0 ok, 1 nothing pinned there or a runtime error, 2 usage,\n"
		"3 privileges, 4 a flowprobe is running there or the pins are of another\n"
		"version.\n"
		"\n");
}
