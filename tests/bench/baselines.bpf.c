// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmark's floors: XDP programs that do nothing but return. Every
 * figure of `make bench` is a ratio against one of these, measured in the
 * same run: XDP_DROP is the ceiling a tap-mode probe is compared with,
 * XDP_PASS the one an inline probe is compared with (and the program that
 * lets the peers, softflowd and pmacctd, see the traffic at all: a veth
 * only accepts redirected frames when its peer runs XDP).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int empty_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int empty_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
