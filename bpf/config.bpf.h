/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every load-time setting of the datapath: `const volatile` globals in
 * .rodata that the daemon sets through the skeleton between open and load
 * (probe_load in user/datapath/probe.c; the unit tests' datapath_fixture.h
 * and the benchmark set them too), so the verifier sees them as constants
 * and prunes what a setting turns off. Userspace sets them by these names;
 * a pinned probe's settings live on in its reused .rodata. The values
 * here are the defaults of a program loaded without setting them.
 */
#ifndef CONFIG_BPF_H
#define CONFIG_BPF_H

#include "vmlinux.h"
#include "flowprobe.h"

/* Seed of the flow and connection hashes: random, chosen at each fresh
 * start, so no one can aim packets at one bucket. */
/* The key of every single-entry map (counters, scratch space, the live
 * table's slot): one constant in .rodata rather than a zero on the stack
 * per lookup. The program's 512 bytes of stack are nearly all taken. */
static const __u32 KEY_ZERO = 0;

const volatile __u32 hash_seed = 0;

/* Possible CPUs: the flow table has one region per CPU. */
const volatile __u32 nr_cpus = 1;

/* Buckets per CPU region of the flow table, minus one (a power of two
 * minus one; from --max-flows). */
const volatile __u32 bucket_mask = 0;

/* Buckets of the connection table, minus one (a power of two minus one;
 * from --max-connections over CONN_WAYS). */
const volatile __u32 conn_bucket_mask = MAX_CONNS / CONN_WAYS - 1;

/* Tap mode: XDP_DROP every packet after counting it (the probe sees a
 * copy); otherwise XDP_PASS (inline). */
const volatile bool tap_mode = false;

/* Replay: the time of a packet is replay_now_ns, the capture timestamp
 * userspace writes before each BPF_PROG_TEST_RUN, not the probe's clock. */
const volatile bool replay_clock = false;

/* Keep the connection table (forged-reset detection, connection
 * counters): about 100 ns per TCP packet on the benchmark machine;
 * false with --no-resets. */
const volatile bool track_connections = true;

/* --tunnels outer: count a tunnel's packets as its outer flow (GRE,
 * IP-in-IP, VXLAN, Geneve, GTP-U, Teredo) instead of the flow inside.
 * PPPoE and MPLS are always looked through: there is no flow outside them. */
const volatile bool count_tunnel_outer = false;

/* Inline, live: look each new flow's route up for OUTPUT_SNMP and the
 * next hop (route.bpf.h). The daemon sets it false in tap mode, in replay
 * and with --no-routes. */
const volatile bool route_lookups = true;

#endif /* CONFIG_BPF_H */
