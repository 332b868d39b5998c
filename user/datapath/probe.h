/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The loaded datapath: skeleton, the interfaces it is attached to, which
 * flow table generation is live, and the bpffs pins `flowprobe stats`
 * reads. Follows the libbpf-bootstrap order: open -> set rodata -> load ->
 * attach; every step returns 0 or a negative errno (lib/errors.h) and
 * logs one clear line.
 */
#ifndef PROBE_H
#define PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "flowprobe.h"
#include "lib/daemon_stats.h"

#define MAX_IFACES 16
#define PROBE_PROG_NAME "flowprobe_xdp"

enum xdp_mode {
	XDP_MODE_AUTO, /* native, falling back to generic with a warning */
	XDP_MODE_NATIVE,
	XDP_MODE_GENERIC,
};

struct probe_config {
	bool tap_mode;
	bool replay_clock;
	enum xdp_mode xdp_mode;
	unsigned int max_flows; /* slots per CPU per generation; 0: MAX_FLOWS */
	unsigned int max_conns; /* connection table entries; 0: MAX_CONNS */
	bool no_conns; /* no connection table: no reset analysis */
	bool tunnels_outer; /* count tunnels as their outer flow */
	bool no_routes; /* inline: no route lookups (--no-routes) */
	bool require_pins; /* detach: take over a pinned probe or fail */
	unsigned int evict_ring_kb; /* eviction ring size; 0: EVICT_RING_BYTES */
};

struct probe_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	unsigned int attach_flags; /* XDP_FLAGS_DRV_MODE or _SKB_MODE */
	bool attached;
	bool pinned;
	int lock_fd; /* flock on its lock (pin_paths_lock), or -1 */
	int link_fd; /* the XDP bpf_link, or -1 */
};

struct flowprobe_bpf;

struct probe {
	struct flowprobe_bpf *skel;
	struct probe_iface ifaces[MAX_IFACES];
	int n_ifaces;
	int live; /* 0: flows_a is live, 1: flows_b */
	int ncpus;
	__u32 nbuckets; /* per CPU region */
	struct flow_bucket *gen[2]; /* the two generations, mmapped (buckets,
				       then the touched bitmap) */
	size_t gen_bytes;
	int daemon_stats_fd; /* userspace-owned stats map, pinned */
	bool takeover; /* maps and links came from a pinned probe */
	bool keep_pinned; /* at destroy: leave the program counting */
};

/* Checks that need no BPF: BTF present, enough privilege. -ENOTSUP (old
 * kernel, no BTF) or -EPERM. */
int probe_check_environment(void);

/* Resolves an interface name; -ENODEV with a message if unknown, -EINVAL
 * if not a valid name, given twice or one too many. */
int probe_add_iface(struct probe *p, const char *name);

/* -EPERM or -EACCES: the kernel refused; -EBUSY: the interface or its
 * pins belong to another instance or version; -ENOENT: nothing pinned
 * where cfg->require_pins asked for it; -ESTALE: the pins are for another
 * number of CPUs; other errnos: a failure while loading. */
int probe_load(struct probe *p, const struct probe_config *cfg);
/* -EBUSY: an interface carries another XDP program or another instance;
 * -EPERM or -EACCES: not allowed; other errnos: the attach failed. */
int probe_attach_all(struct probe *p, enum xdp_mode mode);
void probe_detach_all(struct probe *p);
/* True while a program of ours is attached to some interface. */
bool probe_attached(const struct probe *p);
void probe_pin_all(struct probe *p);
void probe_unpin_all(struct probe *p);
void probe_destroy(struct probe *p);

int probe_counters_fd(struct probe *p);
int probe_evict_ring_fd(struct probe *p);
int probe_prog_fd(struct probe *p);

/* Slots per CPU when --max-flows is not given (see flowprobe_limits.h). */
__u32 probe_default_slots(int ncpus);

/* The FLOW_TOUCH_WORDS words of value v (< FLOW_TOUCH_VALUES(nbuckets)) of
 * one CPU's touched bitmap in generation gen (flowprobe.h): bit i of word
 * j marks group v * FLOW_TOUCH_GROUPS_PER_VALUE + j * 64 + i. */
__u64 *probe_touched_words(const struct probe *p, int gen, int cpu, __u32 v);

/* Calls fn on every group of buckets of generation gen whose touched bit
 * is set, CPU by CPU (n: the group's buckets, fewer for a table's last
 * group), and clears each bitmap word once its groups are visited, never
 * before: a bit stays true even if the caller dies half way. The groups
 * without a bit hold no flow, so a caller that leaves its groups zeroed
 * leaves the whole generation zero. Returns the sum of fn's results. */
typedef uint64_t (*probe_group_fn)(void *ctx, struct flow_bucket *b, size_t n);
uint64_t probe_visit_touched(const struct probe *p, int gen, probe_group_fn fn, void *ctx);

/* Flow table slots of one generation (all CPUs) and its kernel memory. */
size_t probe_flow_slots(const struct probe *p);

/* Makes the other generation live; returns (in *old_gen) the one that was
 * live, which no program writes any more once this returns. */
int probe_swap_tables(struct probe *p, int *old_gen);

/* Sums the per-CPU counters of the datapath. */
int probe_read_counters(int counters_fd, int ncpus, __u64 out[CNT__MAX]);

void probe_publish_daemon_stats(struct probe *p, const struct daemon_stats *ds);

#endif /* PROBE_H */
