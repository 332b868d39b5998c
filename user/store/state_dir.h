/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * --state-dir: where the embedded history lives (default
 * /var/lib/flowprobe, what systemd's StateDirectory=flowprobe makes).
 * Created 0750 if missing: the history names customers' addresses and
 * what they did, so it is not world-readable.
 */
#ifndef STORE_STATE_DIR_H
#define STORE_STATE_DIR_H

#include <stddef.h>

#define STATE_DIR_DEFAULT "/var/lib/flowprobe"

/* Creates dir (and its missing parents, 0755 like mkdir -p) as 0750 if
 * missing; 0, or a negative errno after one log line. */
int state_dir_prepare(const char *dir);

/* dir/name into buf: 0 or -ENAMETOOLONG (logged). */
int state_dir_file(char *buf, size_t len, const char *dir, const char *name);

#endif /* STORE_STATE_DIR_H */
