/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a probe leaves in bpffs so that it outlives its daemon: every map of
 * the datapath, the XDP bpf_link of each interface, and an info map naming
 * the layout and the interfaces, under /sys/fs/bpf/flowprobe/<iface>/. A
 * restarted (or upgraded) daemon finds them, checks the layout is its own,
 * reuses the maps and swaps its program into the links: nothing the old
 * program counted is lost. `flowprobe detach` removes them.
 */
#ifndef PROBE_PINS_H
#define PROBE_PINS_H

#include <stdbool.h>
#include <stdint.h>
#include "datapath/probe.h"

/* Bump when a map's or an event's meaning changes without its size
 * changing: a pinned probe of another layout is refused rather than
 * misread. 2: the flow table generations end with their touched bitmap
 * (flowprobe.h); over version 1's tables the program would find no bitmap
 * and the drain would skip every flow. */
#define PIN_LAYOUT_VERSION 2

#define PIN_INFO_MAGIC 0x31626f7270776c66ull /* "flwprob1" */

/* The "info" pin: one entry of an array map the daemon writes. */
struct pin_info {
	uint64_t magic;
	uint64_t layout_id;
	uint32_t n_ifaces;
	uint32_t pad;
	int32_t ifindex[MAX_IFACES];
	char ifname[MAX_IFACES][IF_NAMESIZE];
	char version[32]; /* flowprobe version that created the pins */
};

/* A hash of everything two builds must agree on to share maps: each
 * map's name, type, key and value size and flags, the shared structs'
 * sizes (the events' and the evicted flow's too, which ring buffers do not
 * describe), PIN_LAYOUT_VERSION. obj is opened, not necessarily loaded. */
uint64_t pins_layout_id(struct bpf_object *obj);

/*
 * Looks for a pinned probe on p's interfaces. *found is false when none of
 * them has pins (a fresh start). 0 when there is none, or one this
 * build can take over (same layout, same interfaces); otherwise -EBUSY
 * (another version, other interfaces, pins missing) or another negative
 * errno (unreadable), with one line saying what differs and what to do.
 */
int pins_find(struct probe *p, bool *found);

/* Before load: points every map of the skeleton at its pinned twin.
 * -EBUSY when a map is missing from the pins. */
int pins_reuse_maps(struct probe *p);

/* After load and attach: pins maps, links and info for every interface.
 * Returns 0 or a negative errno (logged). */
int pins_save(struct probe *p);

/* The pinned link of an interface (an fd to close), or a negative errno. */
int pins_open_link(const struct probe_iface *pi);

/* An fd of the named pinned map of the first interface, or -errno. */
int pins_open_map(const struct probe *p, const char *name);

/* Removes everything under the interface's pin directory. */
void pins_remove(const struct probe_iface *pi);

#endif /* PROBE_PINS_H */
