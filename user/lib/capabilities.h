/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Giving up capabilities once they are no longer needed. Loading and
 * attaching XDP programs and pinning them needs much of root; counting
 * afterwards needs little: CAP_BPF for the bpf() calls on maps the
 * daemon already holds (a kernel with unprivileged BPF disabled checks
 * it on every call), CAP_NET_ADMIN to detach the program on Ctrl-C. The
 * web server's threads need none at all.
 *
 * Capabilities belong to threads: each function changes the calling
 * thread only, and threads it creates afterwards inherit the result.
 */
#ifndef CAPABILITIES_H
#define CAPABILITIES_H

#include <stdint.h>
#include <linux/capability.h>

#define CAP_BIT(c) (1ull << (c))

/* Keeps only the capabilities in KEEP (a mask of CAP_BIT()s) in the
 * effective, permitted and bounding sets, and clears the inheritable
 * and ambient ones. 0 or a negative errno. */
int caps_keep_only(uint64_t keep);

/* The calling thread's effective set, as a mask. */
uint64_t caps_effective(void);

#endif
