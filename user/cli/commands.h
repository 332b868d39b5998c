/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The subcommands main() dispatches to; each returns an enum exit_code. */
#ifndef COMMANDS_H
#define COMMANDS_H

#include <stdio.h>
#include "cli/exit_codes.h"

int cmd_run(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_curve(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_dashboard(int argc, char **argv);

/* detach.c: what `flowprobe detach --help` says before the export options. */
void detach_usage(FILE *out);

#endif /* COMMANDS_H */
