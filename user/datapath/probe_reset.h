/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Puts a loaded probe's maps back to the state they had right after
 * probe_load: tables empty, counters zero, .bss as loaded, rings drained.
 * Why: loading the XDP program costs the verifier's whole walk (most of a
 * second); `flowprobe replay --each` loads it once and replays many
 * captures, each of which must see exactly what a fresh load would show.
 * Every map of the object is covered by its type; a map type this file
 * does not know makes probe_reset_new fail rather than let state leak
 * from one capture into the next.
 */
#ifndef PROBE_RESET_H
#define PROBE_RESET_H

#include "datapath/probe.h"

struct probe_reset;

/* Right after probe_load, before any packet: remembers what must be
 * restored. 0, -EOPNOTSUPP (a map type it cannot reset, logged) or
 * another negative errno. */
int probe_reset_new(struct probe *p, struct probe_reset **out);

/* Restores every map. 0 or a negative errno (logged). *stale_records
 * (if not NULL) gets how many ring records nobody had consumed: nonzero
 * only when the last user of the probe died mid-way. */
int probe_reset_run(struct probe_reset *r, unsigned long *stale_records);

void probe_reset_free(struct probe_reset *r);

#endif /* PROBE_RESET_H */
