/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * BitTorrent recognition on a flow's first payload bytes (placeholder:
 * the signatures land in the next change).
 */
#ifndef BITTORRENT_BPF_H
#define BITTORRENT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "flowprobe.h"
#include "parse.bpf.h"

static __always_inline void bt_inspect(const struct cursor *payload,
				       const struct flow_key *key,
				       const struct packet_info *pi,
				       struct flow_entry *entry, __u64 now)
{
	(void)payload;
	(void)key;
	(void)pi;
	(void)entry;
	(void)now;
}

#endif /* BITTORRENT_BPF_H */
