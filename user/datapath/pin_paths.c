// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Where pins and locks live (see pin_paths.h): the host's bpffs, found
 * however the daemon was started, and a level per network namespace.
 */
#include <errno.h>
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

static struct {
	bool ready;
	int err;
	bool durable;
	uint64_t netns;
	char top_dir[PIN_PATH_MAX / 4];
	char ns_dir[PIN_PATH_MAX / 2];
	char lock_dir[PIN_PATH_MAX / 2];
} pp;

enum bpffs_choice pin_paths_choose(struct bpffs_view own, struct bpffs_view pid1,
				   int same_mount_ns, bool *durable)
{
	/* PID 1's bpffs is the host's: use it, through our own path when
	 * that is the same instance (the usual case, and a sandboxed
	 * service's), through /proc/1/root when ours is private or absent. */
	if (pid1.reachable && pid1.is_bpffs) {
		*durable = true;
		if (own.is_bpffs && own.dev == pid1.dev)
			return BPFFS_USE_OWN;
		return BPFFS_USE_PID1;
	}
	/* The host has none, or we cannot look: ours outlives us only if
	 * our mount namespace is the host's (or we cannot tell it is not). */
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

/* 1 same, 0 different, -1 cannot tell. */
static int same_mount_ns(void)
{
	uint64_t self, init;

	if (inode_of("/proc/self/ns/mnt", &self) || inode_of("/proc/1/ns/mnt", &init))
		return -1;
	return self == init;
}

static int mount_own(void)
{
	if (mkdir(BPFFS_DEFAULT, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (mount("bpf", BPFFS_DEFAULT, "bpf", 0, "mode=0700") != 0)
		return -errno;
	return 0;
}

int pin_paths_init(void)
{
	const char *root = BPFFS_DEFAULT;
	int r;

	if (pp.ready)
		return pp.err;
	pp.ready = true;
	r = inode_of("/proc/self/ns/net", &pp.netns);
	if (r) {
		log_error("cannot tell this process's network namespace "
			  "(/proc/self/ns/net: %s): is /proc mounted?", strerror(-r));
		return pp.err = r;
	}
	switch (pin_paths_choose(look_at(BPFFS_DEFAULT), look_at(BPFFS_OF_PID1),
				 same_mount_ns(), &pp.durable)) {
	case BPFFS_USE_PID1:
		root = BPFFS_OF_PID1;
		break;
	case BPFFS_MOUNT_OWN:
		r = mount_own();
		if (r) {
			log_error("no bpffs at " BPFFS_DEFAULT " and cannot mount "
				  "one: %s; mount it ('mount -t bpf bpf "
				  BPFFS_DEFAULT "') and start again", strerror(-r));
			return pp.err = r;
		}
		break;
	case BPFFS_USE_OWN:
		break;
	}
	snprintf(pp.top_dir, sizeof(pp.top_dir), "%s/" PIN_DIR_NAME, root);
	snprintf(pp.ns_dir, sizeof(pp.ns_dir), "%s/net:%llu", pp.top_dir,
		 (unsigned long long)pp.netns);
	snprintf(pp.lock_dir, sizeof(pp.lock_dir), LOCK_ROOT "/net:%llu",
		 (unsigned long long)pp.netns);
	return 0;
}

uint64_t pin_paths_netns(void)
{
	return pp.netns;
}

const char *pin_paths_ns_dir(void)
{
	return pp.ns_dir;
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
