/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The probe's clock for flow timestamps: a global that a BPF timer sets
 * to CLOCK_MONOTONIC every millisecond. Reading it is one load; even the
 * coarse clock helper costs ~20 ns a packet on machines whose every helper
 * call goes through retpolines, and NetFlow's timestamps are milliseconds.
 * The daemon starts the timer once after load (clock_start, run with
 * BPF_PROG_TEST_RUN); it lives as long as its map, which is pinned, so a
 * probe left counting by a stopped daemon keeps correct time, and a daemon
 * taking it over re-arms the same timer with its own callback. Until it runs,
 * the coarse clock is used.
 */
#ifndef CLOCK_BPF_H
#define CLOCK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define CLOCK_MONOTONIC 1
#define CLOCK_TICK_NS 1000000 /* 1 ms */
#define CLOCK_EBUSY 16 /* errno.h is not for BPF programs */

struct clock_state {
	struct bpf_timer timer;
};

/* One timer. Written by clock_start and the timer callback only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_state);
} clock_timer SEC(".maps");

/* ns, CLOCK_MONOTONIC, at most CLOCK_TICK_NS old; 0 until started. A
 * plain store and load: a torn or stale read only shifts a timestamp by a
 * tick, which NetFlow's ms resolution does not see. */
__u64 clock_now_ns = 0;

static int clock_tick(void *map, __u32 *key, struct clock_state *st)
{
	clock_now_ns = bpf_ktime_get_ns();
	bpf_timer_start(&st->timer, CLOCK_TICK_NS, 0);
	return 0;
}

/* Run once by the daemon after load; returns XDP_PASS when started. */
SEC("xdp")
int clock_start(struct xdp_md *ctx)
{
	struct clock_state *st;
	__u32 zero = 0;
	long err;

	st = bpf_map_lookup_elem(&clock_timer, &zero);
	if (!st)
		return XDP_ABORTED;
	clock_now_ns = bpf_ktime_get_ns();
	err = bpf_timer_init(&st->timer, &clock_timer, CLOCK_MONOTONIC);
	/* -EBUSY: a takeover, the timer of the pinned probe is still armed.
	 * Point it at this program's callback, so the old program it holds
	 * can go. */
	if ((err && err != -CLOCK_EBUSY) || bpf_timer_set_callback(&st->timer, clock_tick) != 0 ||
	    bpf_timer_start(&st->timer, CLOCK_TICK_NS, 0) != 0)
		return XDP_ABORTED;
	return XDP_PASS;
}

static __always_inline __u64 clock_read(void)
{
	__u64 now = clock_now_ns;

	return now ? now : bpf_ktime_get_coarse_ns();
}

#endif /* CLOCK_BPF_H */
