/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The event ring: small fixed structs (struct event) from the datapath to
 * the daemon, for what deserves a line of its own (a BitTorrent flow
 * recognised, later a reset seen). The datapath reports facts; userspace
 * turns them into verdicts and alarms. An event that finds the ring full is
 * counted (CNT_EVENTS_LOST), never silently dropped.
 */
#ifndef EVENTS_BPF_H
#define EVENTS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "flowprobe.h"

/* Written here from any CPU; the ring's positions make that safe. Read by
 * the daemon each drain tick. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENT_RING_BYTES);
} events SEC(".maps");

/* A zeroed event with its header filled, or NULL (counted) if the ring is
 * full. Submit with event_submit(). */
static __always_inline struct event *event_reserve(__u8 type, __u8 kind, const struct flow_key *key,
						   __u64 now, __u64 *lost)
{
	struct event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		(*lost)++;
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->time_ns = now;
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	ev->type = type;
	ev->kind = kind;
	return ev;
}

static __always_inline void event_submit(struct event *ev)
{
	/* No wakeup: the daemon reads the ring on its drain tick. */
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
}

#endif /* EVENTS_BPF_H */
