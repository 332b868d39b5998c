// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Where pins and locks live (see pin_paths.h): the host's bpffs, found
 * however the daemon was started, and a level per network namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include "datapath/pin_paths.h"
#include "lib/log.h"

#define PIN_DIR_NAME "flowprobe"
#define MAX_ANCESTORS 32

static struct {
	bool ready;
	int err;
	bool durable;
	uint64_t netns;
	int root_fd; /* O_PATH: the bpffs chosen */
	char top_dir[PIN_PATH_MAX / 4]; /* reached through root_fd */
	char ns_dir[PIN_PATH_MAX / 2];
	char shown_dir[PIN_PATH_MAX / 2]; /* for people */
	char lock_dir[PIN_PATH_MAX / 2];
} pp = { .root_fd = -1 };

enum bpffs_choice pin_paths_choose(struct bpffs_view own, struct bpffs_view outside,
				   int same_mount_ns, bool *durable)
{
	/* An ancestor elsewhere sees a bpffs: that is the host's. Use it
	 * through our own path when ours is the same instance (a sandboxed
	 * service's view), through the ancestor's when ours is private or
	 * absent (ip netns exec). */
	if (outside.reachable && outside.is_bpffs) {
		*durable = true;
		if (own.is_bpffs && own.dev == outside.dev)
			return BPFFS_USE_OWN;
		return BPFFS_USE_OUTSIDE;
	}
	/* None outside, or we cannot look: ours outlives us only if our
	 * mount namespace is our ancestors' (or we cannot tell it is not). */
	*durable = same_mount_ns != 0;
	return own.is_bpffs ? BPFFS_USE_OWN : BPFFS_MOUNT_OWN;
}

static struct bpffs_view look_at(const char *path)
{
	struct bpffs_view v = { 0 };
	struct statfs sfs;
	struct stat st;

	if (stat(path, &st) != 0)
		return v;
	v.reachable = true;
	v.dev = st.st_dev;
	v.is_bpffs = statfs(path, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC;
	return v;
}

static int inode_of(const char *path, uint64_t *ino)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

static int parent_of(int pid)
{
	char path[64], buf[512], *close_paren;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* "pid (comm) state ppid ...": comm may hold spaces and ')'. */
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')))
		sscanf(close_paren + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/*
 * The nearest ancestor in another mount namespace: what it sees at
 * /sys/fs/bpf (its path in *path), and whether we share our ancestors'
 * mount namespace (1), do not (0) or cannot tell (-1).
 */
static struct bpffs_view look_outside(char *path, size_t len, int *same_ns)
{
	struct bpffs_view none = { 0 };
	uint64_t self = 0, theirs = 0;
	int pid = getpid();
	char ns[64];

	*same_ns = -1;
	if (inode_of("/proc/self/ns/mnt", &self))
		return none;
	for (int i = 0; i < MAX_ANCESTORS && pid > 1; i++) {
		pid = parent_of(pid);
		snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", pid);
		if (pid <= 0 || inode_of(ns, &theirs))
			return none;
		if (theirs == self) {
			*same_ns = 1;
			continue;
		}
		*same_ns = 0;
		snprintf(path, len, "/proc/%d/root" BPFFS_DEFAULT, pid);
		return look_at(path);
	}
	return none;
}

static int mount_own(void)
{
	if (mkdir(BPFFS_DEFAULT, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (mount("bpf", BPFFS_DEFAULT, "bpf", 0, "mode=0700") != 0)
		return -errno;
	return 0;
}

static int choose_root(char *shown, size_t len)
{
	char outside[64] = "";
	int same_ns, r;
	struct bpffs_view out = look_outside(outside, sizeof(outside), &same_ns);

	snprintf(shown, len, BPFFS_DEFAULT);
	switch (pin_paths_choose(look_at(BPFFS_DEFAULT), out, same_ns, &pp.durable)) {
	case BPFFS_USE_OUTSIDE:
		snprintf(shown, len, "%s", outside);
		break;
	case BPFFS_MOUNT_OWN:
		r = mount_own();
		if (r) {
			log_error("no bpffs at " BPFFS_DEFAULT " and cannot mount "
				  "one: %s; mount it ('mount -t bpf bpf " BPFFS_DEFAULT
				  "') and start again",
				  strerror(-r));
			return r;
		}
		break;
	case BPFFS_USE_OWN:
		break;
	}
	pp.root_fd = open(shown, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pp.root_fd < 0) {
		r = -errno;
		log_error("cannot open the bpffs at %s: %s", shown, strerror(-r));
		return r;
	}
	return 0;
}

int pin_paths_init(void)
{
	char shown[64];
	int r;

	if (pp.ready)
		return pp.err;
	pp.ready = true;
	r = inode_of("/proc/self/ns/net", &pp.netns);
	if (r) {
		log_error("cannot tell this process's network namespace "
			  "(/proc/self/ns/net: %s): is /proc mounted?",
			  strerror(-r));
		return pp.err = r;
	}
	r = choose_root(shown, sizeof(shown));
	if (r)
		return pp.err = r;
	snprintf(pp.top_dir, sizeof(pp.top_dir), "/proc/self/fd/%d/" PIN_DIR_NAME, pp.root_fd);
	snprintf(pp.ns_dir, sizeof(pp.ns_dir), "%s/net:%llu", pp.top_dir,
		 (unsigned long long)pp.netns);
	snprintf(pp.shown_dir, sizeof(pp.shown_dir), "%s/" PIN_DIR_NAME "/net:%llu", shown,
		 (unsigned long long)pp.netns);
	snprintf(pp.lock_dir, sizeof(pp.lock_dir), LOCK_ROOT "/net:%llu",
		 (unsigned long long)pp.netns);
	if (!pp.durable)
		log_warn("the pins of this probe live in a bpffs of this process's "
			 "own mount namespace (%s): they end with it, so on SIGTERM "
			 "it exports everything and detaches; started by 'ip netns "
			 "exec', mount a bpffs on the host's " BPFFS_DEFAULT
			 " to keep the probe counting across restarts",
			 shown);
	return 0;
}

uint64_t pin_paths_netns(void)
{
	return pp.netns;
}

const char *pin_paths_shown_dir(void)
{
	return pp.shown_dir;
}

bool pin_paths_durable(void)
{
	return pp.durable;
}

void pin_paths_iface_dir(char buf[PIN_PATH_MAX], const char *ifname)
{
	snprintf(buf, PIN_PATH_MAX, "%s/%s", pp.ns_dir, ifname);
}

void pin_paths_file(char buf[PIN_PATH_MAX], const char *ifname, const char *what)
{
	snprintf(buf, PIN_PATH_MAX, "%s/%s/%s", pp.ns_dir, ifname, what);
}

void pin_paths_lock(char buf[PIN_PATH_MAX], const char *ifname)
{
	mkdir(LOCK_ROOT, 0755);
	mkdir(pp.lock_dir, 0755);
	snprintf(buf, PIN_PATH_MAX, "%s/%s.lock", pp.lock_dir, ifname);
}

void pin_paths_mkdirs(void)
{
	mkdir(pp.top_dir, 0700);
	mkdir(pp.ns_dir, 0700);
}

void pin_paths_rmdirs(void)
{
	/* Each only succeeds when no other probe pins there. */
	rmdir(pp.ns_dir);
	rmdir(pp.top_dir);
}
