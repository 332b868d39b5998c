/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where a probe keeps what outlives its daemon: its bpffs pins and its
 * per-interface lock. A probe is named by its network namespace and its
 * interface, never by the interface alone: names and ifindexes repeat
 * across namespaces, and a probe must never take over, count into or
 * detach another namespace's probe.
 *
 *   pins:  <bpffs>/flowprobe/net:<netns inode>/<iface>/
 *   lock:  /run/flowprobe/net:<netns inode>/<iface>.lock
 *
 * (':' cannot appear in an interface name, so the namespace level can
 * never be mistaken for an interface.)
 *
 * <bpffs> is the host's bpffs however the daemon was started. `ip netns
 * exec NS` gives its process a private mount namespace, where /sys is
 * mounted anew without a bpffs: one mounted there vanishes with the
 * process, and pins in it would not outlive the daemon. So the daemon
 * looks at the /sys/fs/bpf of the nearest ancestor process in another
 * mount namespace (for `ip netns exec`, the shell or service manager that
 * ran it; /proc/PID/root), and pins there when that is a bpffs. The
 * directory is opened once (O_PATH) and reached through /proc/self/fd
 * afterwards, so the ancestor may exit and the daemon may give up its
 * capabilities without losing the way. When no such bpffs exists, the
 * pins cannot outlive the process and pin_paths_durable() says so: the
 * daemon then detaches on SIGTERM too, after exporting everything, and
 * says why.
 */
#ifndef FLOWPROBE_PIN_PATHS_H
#define FLOWPROBE_PIN_PATHS_H

#include <stdbool.h>
#include <stdint.h>

#define BPFFS_DEFAULT "/sys/fs/bpf"
#define LOCK_ROOT "/run/flowprobe"

/* Finds the bpffs and the namespace (once per process; later calls
 * return the first answer). Mounts a bpffs on /sys/fs/bpf when there is
 * none anywhere. Returns 0 or a negative errno, after a log line. */
int pin_paths_init(void);

/* This process's network namespace: the inode of /proc/self/ns/net. */
uint64_t pin_paths_netns(void);

/* The directory holding every probe of this namespace, as a person would
 * name it ("/sys/fs/bpf/flowprobe/net:4026531840"; through an ancestor:
 * "/proc/PID/root/sys/fs/bpf/..."), for messages. */
const char *pin_paths_shown_dir(void);

/* "<ns_dir>/<iface>" and "<ns_dir>/<iface>/<what>"; the buffers take
 * PIN_PATH_MAX bytes. */
#define PIN_PATH_MAX 512
void pin_paths_iface_dir(char buf[PIN_PATH_MAX], const char *ifname);
void pin_paths_file(char buf[PIN_PATH_MAX], const char *ifname, const char *what);

/* The lock file of an interface of this namespace (its directory created). */
void pin_paths_lock(char buf[PIN_PATH_MAX], const char *ifname);

/* The namespace's directory (and its parent) made before pinning; removed
 * again, where empty, after unpinning. */
void pin_paths_mkdirs(void);
void pin_paths_rmdirs(void);

/* False when the pins live in a bpffs that ends with this process. */
bool pin_paths_durable(void);

/* The decision itself, pure for the unit tests: what this process sees
 * at /sys/fs/bpf, what the nearest ancestor in another mount namespace
 * sees there ("outside"), and whether this process shares the mount
 * namespace of its ancestors (1), does not (0) or cannot tell (-1). */
struct bpffs_view {
	bool reachable; /* the path could be looked at */
	bool is_bpffs; /* and a bpffs is mounted there */
	uint64_t dev; /* its device: each bpffs mount is its own instance */
};

enum bpffs_choice {
	BPFFS_USE_OWN, /* /sys/fs/bpf as this process sees it */
	BPFFS_USE_OUTSIDE, /* the host's, through /proc/PID/root */
	BPFFS_MOUNT_OWN, /* none: mount one on /sys/fs/bpf */
};

enum bpffs_choice pin_paths_choose(struct bpffs_view own, struct bpffs_view outside,
				   int same_mount_ns, bool *durable);

#endif
