// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Someone else's XDP program: the refusal test attaches it to an interface
 * (ip link set dev IF xdp obj build/tools/xdp_pass_other.bpf.o sec xdp) and
 * checks that flowprobe will not replace it, names it, and leaves it alone.
 */
/* vmlinux.h rather than <linux/bpf.h>: with -target bpf clang does not
 * search the multiarch directory that holds <asm/types.h>. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int other_prog(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
