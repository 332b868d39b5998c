/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The configuration file of `flowprobe run` (/etc/flowprobe/flowprobe.conf
 * by default): every option of the command line, one "name = value" a
 * line, the name without its dashes, for example
 *
 *   interface  = eth0,eth1
 *   collector  = 192.0.2.10:2055
 *   local-file = /etc/flowprobe/customers.txt
 *   tap        = yes
 *
 * The file becomes option words placed before the command line's, so
 * getopt sees them first and the command line's later values win. For
 * options that add up (collector, local, local-file), the command line
 * giving one of them drops the file's: the command line replaces, never
 * merges silently. Parsing is libinih's (Debian's libinih).
 */
#ifndef CONFIG_FILE_H
#define CONFIG_FILE_H

#include <getopt.h>

struct config_args {
	int argc;
	char **argv; /* argv[0] is the program name; NULL-terminated */
};

/*
 * argv with the configuration file's words inserted after argv[0]. The
 * file is --config FILE's, or the default when it exists (--no-config:
 * none). longopts says which names exist and which take a value. Returns
 * 0, or -EINVAL after one line naming the file, the line and what to do.
 */
int config_args_build(struct config_args *out, int argc, char **argv, const struct option *longopts,
		      const char *default_path);

void config_args_free(struct config_args *a);

#endif /* CONFIG_FILE_H */
