/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The oldest kernel the datapath loads on, and the check against a
 * release string ("6.18.0-1-amd64"). The limit is set by the newest
 * kernel feature the programs use: bpf_timer (Linux 5.15) drives the
 * flow table's coarse clock; everything else (BPF links for XDP, ring
 * buffers, mmapable arrays, spin locks in array values) is older.
 */
#ifndef FLOWPROBE_KERNEL_VERSION_H
#define FLOWPROBE_KERNEL_VERSION_H

#include <stdbool.h>

#define KERNEL_MIN_MAJOR 5
#define KERNEL_MIN_MINOR 15
#define KERNEL_MIN_FEATURE "bpf_timer"

/* True when RELEASE is at least MAJOR.MINOR; false when it is older or
 * does not start with "N.N". */
bool kernel_release_at_least(const char *release, unsigned major, unsigned minor);

#endif
