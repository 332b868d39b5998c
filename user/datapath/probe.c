// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loading, attaching and pinning the XDP datapath. The refusals here are
 * deliberate: flowprobe never replaces an XDP program it did not load (an
 * operator's firewall or load balancer may be that program), never runs
 * twice on one interface (two probes would split every flow's counts), and
 * says which of these it hit and what to do, with a distinct errno
 * (lib/errors.h): -EBUSY for a taken interface, -EPERM, -EACCES or -ENOTSUP
 * for missing privileges or kernel features, -EINVAL or -ENODEV for a bad
 * interface name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flowprobe.skel.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "datapath/probe.h"
#include "datapath/pin_paths.h"
#include "datapath/probe_pins.h"
#include "datapath/kernel_version.h"

#define DEFAULT_BTF_PATH "/sys/kernel/btf/vmlinux"

static bool has_effective_cap(const struct __user_cap_data_struct caps[2], int cap)
{
	return caps[cap / 32].effective & (1u << (cap % 32));
}

int probe_check_environment(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct caps[2] = {};
	const char *btf = getenv("FLOWPROBE_BTF_PATH");

	if (!btf)
		btf = DEFAULT_BTF_PATH;
	struct utsname uts;
	const char *release = getenv("FLOWPROBE_KERNEL_RELEASE"); /* tests */

	if (!release)
		release = uname(&uts) == 0 ? uts.release : "";
	if (!kernel_release_at_least(release, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR)) {
		log_error("Linux %s is too old: flowprobe needs Linux %d.%d or later "
			  "(its datapath uses %s)",
			  release, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR, KERNEL_MIN_FEATURE);
		return -ENOTSUP;
	}
	if (access(btf, R_OK) != 0) {
		log_error("kernel BTF not found at %s (%s): flowprobe needs a kernel "
			  "built with CONFIG_DEBUG_INFO_BTF=y",
			  btf, strerror(errno));
		return -ENOTSUP;
	}
	if (syscall(SYS_capget, &hdr, caps) != 0) {
		log_error("cannot read process capabilities: %s", strerror(errno));
		return -EPERM;
	}
	/* CAP_SYS_ADMIN covers everything; otherwise the three split ones. */
	if (has_effective_cap(caps, CAP_SYS_ADMIN))
		return 0;
	if (!has_effective_cap(caps, CAP_BPF) || !has_effective_cap(caps, CAP_NET_ADMIN) ||
	    !has_effective_cap(caps, CAP_PERFMON)) {
		log_error("insufficient privileges to load XDP programs: run as root "
			  "(sudo) or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON");
		return -EPERM;
	}
	return 0;
}

int probe_add_iface(struct probe *p, const char *name)
{
	struct probe_iface *pi;
	int ifindex;

	if (p->n_ifaces >= MAX_IFACES) {
		log_error("too many interfaces (at most %d per probe)", MAX_IFACES);
		return -EINVAL;
	}
	if (strlen(name) == 0 || strlen(name) >= IF_NAMESIZE) {
		log_error("interface name '%s' is not valid (1 to %d characters)", name,
			  IF_NAMESIZE - 1);
		return -EINVAL;
	}
	ifindex = if_nametoindex(name);
	if (!ifindex) {
		log_error("unknown interface '%s': no such network interface in this "
			  "network namespace (list them with 'ip link')",
			  name);
		return -ENODEV;
	}
	for (int i = 0; i < p->n_ifaces; i++) {
		if (p->ifaces[i].ifindex == ifindex) {
			log_error("interface '%s' given twice", name);
			return -EINVAL;
		}
	}
	pi = &p->ifaces[p->n_ifaces++];
	memset(pi, 0, sizeof(*pi));
	pi->lock_fd = -1;
	pi->link_fd = -1;
	snprintf(pi->name, sizeof(pi->name), "%s", name);
	pi->ifindex = ifindex;
	return 0;
}

__u32 probe_default_slots(int ncpus)
{
	__u32 share = MAX_FLOWS_TOTAL / (ncpus > 0 ? ncpus : 1);

	return share > MAX_FLOWS_MIN ? share : MAX_FLOWS_MIN;
}

static __u32 round_up_pow2(__u32 v)
{
	__u32 r = 1;

	while (r < v && r < (1u << 31))
		r <<= 1;
	return r;
}

/* Maps both generations into our address space: the drain reads and
 * zeroes them in place, without a syscall per entry. */
static int map_generations(struct probe *p)
{
	struct bpf_map *maps[2] = { p->skel->maps.flows_a, p->skel->maps.flows_b };

	p->gen_bytes = (size_t)FLOW_GEN_VALUES(p->ncpus, p->nbuckets) * sizeof(struct flow_bucket);
	for (int g = 0; g < 2; g++) {
		void *m = mmap(NULL, p->gen_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
			       bpf_map__fd(maps[g]), 0);

		if (m == MAP_FAILED)
			return -errno;
		p->gen[g] = m;
	}
	return 0;
}

/*
 * Starts the datapath's millisecond clock (bpf/clock.bpf.h): a BPF timer
 * armed by running clock_start once. Without it the datapath falls back to
 * the coarse clock helper: correct, slower.
 */
static void start_clock(struct probe *p)
{
	unsigned char frame[64] = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame),
		    .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.clock_start), &opts);
	if (err || opts.retval != XDP_PASS)
		log_warn("cannot start the datapath's millisecond clock (%s); using "
			 "the kernel's coarse clock, which costs more per packet",
			 err ? strerror(errno) : "timer refused");
}

static int lock_iface(struct probe_iface *pi);

/* Which generation the pinned live_table names: the kernel returns the
 * inner map's id. */
static int pinned_live_generation(struct probe *p)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), slot = 0, live_id = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.live_table), &slot, &live_id) != 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(bpf_map__fd(p->skel->maps.flows_a), &info, &len))
		return -errno;
	return live_id == info.id ? 0 : 1;
}

/*
 * Takes over a pinned probe: its maps are reused before load (so the new
 * program counts into the same tables, with the same hash seed and sizes,
 * which live in the reused .rodata), and the links are swapped to the new
 * program at attach.
 */
static int takeover_prepare(struct probe *p, const struct probe_config *cfg)
{
	bool found = false;
	int rc;

	if (cfg->replay_clock || p->n_ifaces == 0)
		return 0;
	rc = pin_paths_init();
	if (rc)
		return rc;
	for (int i = 0; i < p->n_ifaces; i++) {
		rc = lock_iface(&p->ifaces[i]);
		if (rc)
			return rc;
	}
	rc = pins_find(p, &found);
	if (rc)
		return rc;
	if (!found) {
		if (cfg->require_pins) {
			log_error("no pinned flowprobe on %s%s in this network "
				  "namespace (nothing under %s/%s): nothing to detach",
				  p->ifaces[0].name, p->n_ifaces > 1 ? " and the others" : "",
				  pin_paths_shown_dir(), p->ifaces[0].name);
			return -ENOENT;
		}
		return 0;
	}
	rc = pins_reuse_maps(p);
	if (rc)
		return rc;
	p->takeover = true;
	/* Until this daemon stops with a detach, the pins stay: a takeover
	 * that fails half way leaves the probe counting as it was. */
	p->keep_pinned = true;
	for (int i = 0; i < p->n_ifaces; i++)
		p->ifaces[i].pinned = true;
	return 0;
}

/* After loading over reused maps: the sizes are the pinned probe's. */
static int takeover_finish(struct probe *p, const struct probe_config *cfg)
{
	int live, fd;

	if (p->skel->rodata->nr_cpus != (__u32)p->ncpus) {
		log_error("the pinned probe was set up for %u CPUs, this machine has "
			  "%d: 'flowprobe detach' it and start again",
			  p->skel->rodata->nr_cpus, p->ncpus);
		return -ESTALE;
	}
	p->nbuckets = p->skel->rodata->bucket_mask + 1;
	/* The pinned program's settings live in its reused .rodata. */
	if (cfg->tap_mode != p->skel->rodata->tap_mode ||
	    cfg->no_conns == p->skel->rodata->track_connections ||
	    cfg->tunnels_outer != p->skel->rodata->count_tunnel_outer ||
	    (!cfg->tap_mode && cfg->no_routes == p->skel->rodata->route_lookups))
		log_warn("the pinned probe keeps its settings (%s%s%s%s): --tap, "
			 "--no-resets, --tunnels and --no-routes take effect after "
			 "'flowprobe detach'",
			 p->skel->rodata->tap_mode ? "tap" : "inline",
			 p->skel->rodata->track_connections ? ", tracking connections" :
							      ", no connection table",
			 p->skel->rodata->count_tunnel_outer ? ", tunnels outer" :
							       ", tunnels inner",
			 p->skel->rodata->route_lookups ? ", route lookups" : "");
	if (cfg->max_flows && round_up_pow2(cfg->max_flows) != p->nbuckets * FLOW_TABLE_WAYS)
		log_warn("--max-flows %u ignored: the pinned tables keep their %u "
			 "slots per CPU ('flowprobe detach' and start again to "
			 "resize)",
			 cfg->max_flows, p->nbuckets * FLOW_TABLE_WAYS);
	live = pinned_live_generation(p);
	if (live < 0) {
		log_error("cannot read which pinned flow table is live: %s", strerror(-live));
		return err_runtime(live);
	}
	p->live = live;
	fd = pins_open_map(p, "daemon_stats");
	if (fd >= 0)
		p->daemon_stats_fd = fd;
	log_info("took over the pinned probe on %s%s: its tables, rings and "
		 "connections carry on, nothing it counted meanwhile is lost",
		 p->ifaces[0].name, p->n_ifaces > 1 ? " and the others" : "");
	return 0;
}

int probe_load(struct probe *p, const struct probe_config *cfg)
{
	__u32 slots, conns, seed = 0;
	int err, rc;

	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		log_error("cannot count possible CPUs: %s", strerror(-p->ncpus));
		return err_runtime(p->ncpus);
	}
	p->daemon_stats_fd = -1;
	p->skel = flowprobe_bpf__open();
	if (!p->skel) {
		err = -errno;
		log_error("cannot open the BPF object: %s (run with -v for libbpf's "
			  "messages)",
			  strerror(-err));
		return err_runtime(err);
	}
	rc = takeover_prepare(p, cfg);
	if (rc)
		return rc;
	p->skel->rodata->tap_mode = cfg->tap_mode;
	p->skel->rodata->replay_clock = cfg->replay_clock;
	p->skel->rodata->track_connections = !cfg->no_conns;
	p->skel->rodata->count_tunnel_outer = cfg->tunnels_outer;
	/* Tap mode sees copies the host does not route, replay a capture
	 * routed elsewhere. */
	p->skel->rodata->route_lookups = !cfg->tap_mode && !cfg->replay_clock && !cfg->no_routes;

	/* Per CPU: a power of two of buckets, so the hash is masked, not
	 * divided. */
	slots = cfg->max_flows ? cfg->max_flows : probe_default_slots(p->ncpus);
	slots = round_up_pow2(slots);
	p->nbuckets = slots < FLOW_TABLE_WAYS ? 1 : slots / FLOW_TABLE_WAYS;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (__u32)(uintptr_t)p ^ (__u32)getpid();
	p->skel->rodata->nr_cpus = p->ncpus;
	p->skel->rodata->bucket_mask = p->nbuckets - 1;
	p->skel->rodata->hash_seed = seed;
	bpf_map__set_max_entries(p->skel->maps.flows_a, FLOW_GEN_VALUES(p->ncpus, p->nbuckets));
	bpf_map__set_max_entries(p->skel->maps.flows_b, FLOW_GEN_VALUES(p->ncpus, p->nbuckets));
	conns = round_up_pow2(cfg->max_conns ? cfg->max_conns : MAX_CONNS);
	conns = conns < CONN_WAYS ? 1 : conns / CONN_WAYS;
	p->skel->rodata->conn_bucket_mask = conns - 1;
	bpf_map__set_max_entries(p->skel->maps.conns, conns);
	/* Without lookups the route cache is one entry, never used. */
	if (!p->skel->rodata->route_lookups)
		bpf_map__set_max_entries(p->skel->maps.routes, 1);
	/* A ring buffer is a power of two of pages. */
	if (cfg->evict_ring_kb)
		bpf_map__set_max_entries(p->skel->maps.evict_ring,
					 round_up_pow2(cfg->evict_ring_kb) * 1024);

	err = flowprobe_bpf__load(p->skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			log_error("the kernel refused to load the XDP program (%s): run as "
				  "root, and check kernel.unprivileged_bpf_disabled and "
				  "lockdown",
				  strerror(-err));
		else
			log_error("cannot load the XDP program: %s (run with -v to see "
				  "the verifier's log)",
				  strerror(-err));
		return err == -EPERM || err == -EACCES ? err : err_runtime(err);
	}
	if (p->takeover) {
		rc = takeover_finish(p, cfg);
		if (rc)
			return rc;
	}
	err = map_generations(p);
	if (err) {
		log_error("cannot map the flow tables into memory: %s", strerror(-err));
		return err_runtime(err);
	}
	if (!cfg->replay_clock)
		start_clock(p);

	if (p->daemon_stats_fd < 0)
		p->daemon_stats_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fp_daemon_stats",
						    sizeof(__u32), sizeof(struct daemon_stats), 1,
						    NULL);
	if (p->daemon_stats_fd < 0)
		log_warn("cannot create the daemon statistics map (%s): 'flowprobe "
			 "stats' will show datapath counters only",
			 strerror(errno));
	return 0;
}

static const char *xdp_mode_name(__u8 attach_mode)
{
	switch (attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offloaded";
	case XDP_ATTACHED_MULTI:
		return "several modes";
	}
	return "unknown mode";
}

/* The `ip link` keyword that removes a program attached in this mode. */
static const char *ip_link_xdp_keyword(__u8 attach_mode)
{
	switch (attach_mode) {
	case XDP_ATTACHED_SKB:
		return "xdpgeneric";
	case XDP_ATTACHED_HW:
		return "xdpoffload";
	}
	return "xdp";
}

static __u32 xdp_flags_of_mode(__u8 attach_mode)
{
	switch (attach_mode) {
	case XDP_ATTACHED_SKB:
		return XDP_FLAGS_SKB_MODE;
	case XDP_ATTACHED_HW:
		return XDP_FLAGS_HW_MODE;
	}
	return XDP_FLAGS_DRV_MODE;
}

/*
 * A flowprobe program whose daemon is gone (killed, crashed: netlink XDP
 * attachments outlive their process). We hold the interface's lock, so no
 * live instance owns it: remove it, saying what that costs.
 */
static int remove_orphan(const struct probe_iface *pi, int fd, __u32 id, __u8 attach_mode)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd);
	int err = bpf_xdp_detach(pi->ifindex, xdp_flags_of_mode(attach_mode), &opts);

	if (err) {
		log_error("%s carries flowprobe XDP program id %u left by an instance "
			  "that did not exit cleanly, and removing it failed: %s; remove "
			  "it with 'ip link set dev %s %s off'",
			  pi->name, id, strerror(-err), pi->name, ip_link_xdp_keyword(attach_mode));
		return -EBUSY;
	}
	log_warn("%s: replaced flowprobe XDP program id %u left by an instance that "
		 "did not exit cleanly; packets it counted after its last drain are "
		 "lost",
		 pi->name, id);
	return 0;
}

/* Refuses an interface that already carries an XDP program, saying whose. */
static int check_iface_free(const struct probe_iface *pi)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	__u32 id;
	int fd, err, rc;

	err = bpf_xdp_query(pi->ifindex, 0, &q);
	if (err) {
		log_warn("cannot query XDP state of %s: %s", pi->name, strerror(-err));
		return 0; /* the attach itself will refuse if busy */
	}
	id = q.prog_id ? q.prog_id : q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (!id)
		id = q.hw_prog_id;
	if (!id)
		return 0;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd >= 0)
		bpf_obj_get_info_by_fd(fd, &info, &info_len);
	if (fd >= 0 && strcmp(info.name, PROBE_PROG_NAME) == 0) {
		rc = remove_orphan(pi, fd, id, q.attach_mode);
		close(fd);
		return rc;
	}
	if (fd >= 0)
		close(fd);
	log_error("%s already carries XDP program '%s' (id %u, %s); flowprobe will not "
		  "replace it: if it is not needed, remove it with 'ip link set dev %s "
		  "%s off' and start flowprobe again",
		  pi->name, info.name[0] ? info.name : "?", id, xdp_mode_name(q.attach_mode),
		  pi->name, ip_link_xdp_keyword(q.attach_mode));
	return -EBUSY;
}

/*
 * One instance per interface: an exclusive lock on /run/flowprobe/IFACE.lock,
 * held for the daemon's life and released by the kernel however it ends, so
 * a crashed instance never blocks the next one.
 */
static int lock_iface(struct probe_iface *pi)
{
	char path[PIN_PATH_MAX], owner[32] = "";
	ssize_t n;
	int fd;

	pin_paths_lock(path, pi->name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int err = -errno;

		log_error("cannot open %s: %s", path, strerror(-err));
		return err == -EACCES ? err : err_runtime(err);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(fd, owner, sizeof(owner) - 1, 0);
		owner[n > 0 ? n : 0] = '\0';
		owner[strcspn(owner, "\n")] = '\0';
		log_error("flowprobe is already running on %s (pid %s, lock %s): stop "
			  "that instance first; 'flowprobe stats -i %s' shows its counters",
			  pi->name, owner[0] ? owner : "?", path, pi->name);
		close(fd);
		return -EBUSY;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", getpid());
	pi->lock_fd = fd;
	return 0;
}

/*
 * A bpf_link, not a netlink attachment: pinned in bpffs it keeps the
 * program attached after the daemon exits, and a new daemon swaps its own
 * program in with one atomic update, without a moment unattached.
 */
static int link_xdp(struct probe_iface *pi, int prog_fd, __u32 mode_flag)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode_flag);
	int fd = bpf_link_create(prog_fd, pi->ifindex, BPF_XDP, &opts);

	if (fd < 0)
		return -errno;
	pi->link_fd = fd;
	pi->attach_flags = mode_flag;
	return 0;
}

static int attach_one(struct probe *p, struct probe_iface *pi, enum xdp_mode mode)
{
	int prog_fd = bpf_program__fd(p->skel->progs.flowprobe_xdp);
	int err;

	if (mode != XDP_MODE_GENERIC) {
		err = link_xdp(pi, prog_fd, XDP_FLAGS_DRV_MODE);
		if (!err)
			goto attached;
		if (err == -EBUSY || err == -EEXIST)
			return check_iface_free(pi) ?: -EBUSY;
		if (mode == XDP_MODE_NATIVE) {
			log_error("cannot attach native XDP to %s: %s (the driver may not "
				  "support XDP; try --xdp-mode generic)",
				  pi->name, strerror(-err));
			return err == -EPERM ? err : err_runtime(err);
		}
		log_warn("native XDP not available on %s (%s): falling back to generic "
			 "XDP, which is slower",
			 pi->name, strerror(-err));
	}
	err = link_xdp(pi, prog_fd, XDP_FLAGS_SKB_MODE);
	if (err) {
		if (err == -EBUSY || err == -EEXIST)
			return check_iface_free(pi) ?: -EBUSY;
		log_error("cannot attach XDP to %s: %s", pi->name, strerror(-err));
		return err == -EPERM ? err : err_runtime(err);
	}
attached:
	pi->attached = true;
	log_info("attached to %s (ifindex %d, %s XDP)", pi->name, pi->ifindex,
		 pi->attach_flags == XDP_FLAGS_DRV_MODE ? "native" : "generic");
	return 0;
}

/* The pinned link still attached to this interface, or -1 (gone with its
 * interface: a veth deleted and created again). */
static int live_pinned_link(const struct probe_iface *pi)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = pins_open_link(pi);

	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.type != BPF_LINK_TYPE_XDP ||
	    info.xdp.ifindex != (__u32)pi->ifindex) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Puts this program into the pinned link: from the next packet on, it
 * counts into the same tables the old one did. */
static int takeover_one(struct probe *p, struct probe_iface *pi, enum xdp_mode mode)
{
	int prog_fd = bpf_program__fd(p->skel->progs.flowprobe_xdp);
	int fd = live_pinned_link(pi);

	if (fd < 0) {
		log_warn("%s: the pinned probe's link is gone (the interface was "
			 "recreated?): attaching anew",
			 pi->name);
		return check_iface_free(pi) ?: attach_one(p, pi, mode);
	}
	if (bpf_link_update(fd, prog_fd, NULL) != 0) {
		int err = -errno;

		log_error("cannot swap the new program into %s's pinned link: %s", pi->name,
			  strerror(-err));
		close(fd);
		return err_runtime(err);
	}
	pi->link_fd = fd;
	pi->attached = true;
	log_info("%s: the pinned link now runs this program", pi->name);
	return 0;
}

int probe_attach_all(struct probe *p, enum xdp_mode mode)
{
	/* Every interface is checked before any is touched, so a refusal
	 * leaves nothing half done. */
	for (int i = 0; i < p->n_ifaces; i++) {
		int rc = p->ifaces[i].lock_fd >= 0 ? 0 : lock_iface(&p->ifaces[i]);

		if (rc == 0 && !p->takeover)
			rc = check_iface_free(&p->ifaces[i]);
		if (rc)
			return rc;
	}
	for (int i = 0; i < p->n_ifaces; i++) {
		int rc = p->takeover ? takeover_one(p, &p->ifaces[i], mode) :
				       attach_one(p, &p->ifaces[i], mode);

		if (rc) {
			if (!p->takeover)
				probe_detach_all(p);
			return rc;
		}
	}
	return 0;
}

void probe_detach_all(struct probe *p)
{
	for (int i = 0; i < p->n_ifaces; i++) {
		struct probe_iface *pi = &p->ifaces[i];
		int err;

		if (!pi->attached)
			continue;
		/* Detaches even while the link is still pinned. */
		err = bpf_link_detach(pi->link_fd) ? -errno : 0;
		if (err)
			log_warn("detaching from %s: %s", pi->name, strerror(-err));
		else
			log_info("detached from %s", pi->name);
		pi->attached = false;
	}
}

bool probe_attached(const struct probe *p)
{
	for (int i = 0; i < p->n_ifaces; i++)
		if (p->ifaces[i].attached)
			return true;
	return false;
}

void probe_pin_all(struct probe *p)
{
	if (pins_save(p) != 0)
		log_warn("the probe is not fully pinned: if this daemon stops, its "
			 "program stops counting with it");
}

void probe_unpin_all(struct probe *p)
{
	for (int i = 0; i < p->n_ifaces; i++) {
		/* Only our own: never pins this instance refused to take over. */
		if (!p->ifaces[i].pinned)
			continue;
		pins_remove(&p->ifaces[i]);
		p->ifaces[i].pinned = false;
	}
	pin_paths_rmdirs();
}

static void unlock_ifaces(struct probe *p)
{
	for (int i = 0; i < p->n_ifaces; i++) {
		if (p->ifaces[i].lock_fd > 0)
			close(p->ifaces[i].lock_fd);
		p->ifaces[i].lock_fd = -1;
	}
}

void probe_destroy(struct probe *p)
{
	/* Kept: the pinned link keeps the program counting into the pinned
	 * maps until the next daemon takes over or `flowprobe detach`. */
	if (!p->keep_pinned) {
		probe_detach_all(p);
		probe_unpin_all(p);
	}
	for (int i = 0; i < p->n_ifaces; i++) {
		if (p->ifaces[i].link_fd >= 0)
			close(p->ifaces[i].link_fd);
		p->ifaces[i].link_fd = -1;
	}
	unlock_ifaces(p);
	if (p->daemon_stats_fd >= 0)
		close(p->daemon_stats_fd);
	p->daemon_stats_fd = -1;
	for (int g = 0; g < 2; g++) {
		if (p->gen[g])
			munmap(p->gen[g], p->gen_bytes);
		p->gen[g] = NULL;
	}
	flowprobe_bpf__destroy(p->skel);
	p->skel = NULL;
}

int probe_counters_fd(struct probe *p)
{
	return bpf_map__fd(p->skel->maps.counters);
}

int probe_evict_ring_fd(struct probe *p)
{
	return bpf_map__fd(p->skel->maps.evict_ring);
}

int probe_prog_fd(struct probe *p)
{
	return bpf_program__fd(p->skel->progs.flowprobe_xdp);
}

__u64 *probe_touched_words(const struct probe *p, int gen, int cpu, __u32 v)
{
	struct flow_bucket *tail = p->gen[gen] + (size_t)p->ncpus * p->nbuckets;

	return (__u64 *)(tail + (size_t)cpu * FLOW_TOUCH_VALUES(p->nbuckets) + v);
}

uint64_t probe_visit_touched(const struct probe *p, int gen, probe_group_fn fn, void *ctx)
{
	size_t groups = (p->nbuckets + FLOW_TOUCH_GROUP - 1) / FLOW_TOUCH_GROUP;
	uint64_t sum = 0;

	for (int cpu = 0; cpu < p->ncpus; cpu++) {
		struct flow_bucket *region = p->gen[gen] + (size_t)cpu * p->nbuckets;

		for (__u32 v = 0; v < FLOW_TOUCH_VALUES(p->nbuckets); v++) {
			__u64 *words = probe_touched_words(p, gen, cpu, v);

			for (int j = 0; j < FLOW_TOUCH_WORDS; j++) {
				for (__u64 bits = words[j]; bits; bits &= bits - 1) {
					size_t g = (size_t)v * FLOW_TOUCH_GROUPS_PER_VALUE +
						   (size_t)j * 64 + __builtin_ctzll(bits);
					size_t first = g * FLOW_TOUCH_GROUP;

					if (g >= groups)
						break; /* no such group: cannot be set */
					sum += fn(ctx, region + first,
						  p->nbuckets - first < FLOW_TOUCH_GROUP ?
							  p->nbuckets - first :
							  FLOW_TOUCH_GROUP);
				}
				words[j] = 0;
			}
		}
	}
	return sum;
}

size_t probe_flow_slots(const struct probe *p)
{
	return (size_t)p->ncpus * p->nbuckets * FLOW_TABLE_WAYS;
}

int probe_swap_tables(struct probe *p, int *old_gen)
{
	struct bpf_map *maps[2] = { p->skel->maps.flows_a, p->skel->maps.flows_b };
	int next = !p->live;
	int next_fd = bpf_map__fd(maps[next]);
	__u32 slot = 0;

	/* For map-in-map updates from a syscall the kernel waits for an RCU
	 * grace period before returning: no program still uses the old one. */
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.live_table), &slot, &next_fd, BPF_ANY) !=
	    0)
		return -errno;
	*old_gen = p->live;
	p->live = next;
	return 0;
}

int probe_read_counters(int counters_fd, int ncpus, __u64 out[CNT__MAX])
{
	__u64 *percpu;
	__u32 zero = 0;
	int err = 0;

	memset(out, 0, sizeof(__u64) * CNT__MAX);
	percpu = calloc(ncpus, sizeof(__u64) * CNT__MAX);
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(counters_fd, &zero, percpu) != 0) {
		err = -errno;
		goto out;
	}
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (int i = 0; i < CNT__MAX; i++)
			out[i] += percpu[cpu * CNT__MAX + i];
out:
	free(percpu);
	return err;
}

void probe_publish_daemon_stats(struct probe *p, const struct daemon_stats *ds)
{
	__u32 zero = 0;

	if (p->daemon_stats_fd >= 0)
		bpf_map_update_elem(p->daemon_stats_fd, &zero, ds, BPF_ANY);
}
