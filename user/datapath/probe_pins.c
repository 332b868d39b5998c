// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pins that let the datapath outlive its daemon (see probe_pins.h).
 * Every interface directory holds the same maps, so `flowprobe stats -i X`
 * and a takeover find them from any of the probe's interfaces; each holds
 * its own link. A takeover is refused, with the reason, when the pins are
 * of another layout or another set of interfaces: reusing maps whose
 * layout differs would misread every count.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/build_info.h"
#include "flowprobe.skel.h"
#include "lib/daemon_stats.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "datapath/pin_paths.h"
#include "datapath/probe_pins.h"

#define PIN_INFO "info"
#define PIN_LINK "link"
#define PIN_DAEMON_STATS "daemon_stats"

/* bpffs refuses names with a dot ("flowprob.bss"): EPERM. */
static const char *pin_name_of(const struct bpf_map *m, char *buf, size_t len)
{
	snprintf(buf, len, "%s", bpf_map__name(m));
	for (char *c = buf; *c; c++)
		if (*c == '.')
			*c = '_';
	return buf;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t pins_layout_id(struct bpf_object *obj)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const uint32_t sizes[] = {
		PIN_LAYOUT_VERSION,
		sizeof(struct flow_key),
		sizeof(struct flow_value),
		sizeof(struct flow_bucket),
		FLOW_TABLE_WAYS,
		CNT__MAX,
		DS__MAX,
		sizeof(struct pin_info),
		/* what travels through the rings, whose maps have no
		 * value size to hash: the events and an evicted flow */
		sizeof(struct event),
		sizeof(struct tcp_event),
		sizeof(struct tcp_packet_facts),
		sizeof(struct bt_event_facts),
		sizeof(struct conn_side),
		sizeof(struct flow_entry),
	};
	struct bpf_map *m;

	h = fnv1a(h, sizes, sizeof(sizes));
	bpf_object__for_each_map (m, obj) {
		/* Sizes of tables are chosen at load (--max-flows): the pinned
		 * ones are kept whatever this run asks for. */
		uint32_t def[4] = { bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
				    bpf_map__map_flags(m) };
		const char *name = bpf_map__name(m);

		h = fnv1a(h, name, strlen(name) + 1);
		h = fnv1a(h, def, sizeof(def));
	}
	return h;
}

static int read_info(const char *ifname, struct pin_info *info)
{
	char path[PIN_PATH_MAX];
	__u32 zero = 0;
	int fd, err = 0;

	pin_paths_file(path, ifname, PIN_INFO);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, info) != 0)
		err = -errno;
	close(fd);
	return err;
}

static void format_ifaces(char *buf, size_t len, const struct pin_info *info)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < info->n_ifaces && i < MAX_IFACES && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? "," : "", info->ifname[i]);
}

/* The pinned probe covers exactly these interfaces, in any order. */
static bool same_ifaces(const struct probe *p, const struct pin_info *info)
{
	if (info->n_ifaces != (uint32_t)p->n_ifaces)
		return false;
	for (int i = 0; i < p->n_ifaces; i++) {
		bool in = false;

		for (uint32_t j = 0; j < info->n_ifaces && j < MAX_IFACES; j++)
			in |= info->ifindex[j] == p->ifaces[i].ifindex;
		if (!in)
			return false;
	}
	return true;
}

int pins_find(struct probe *p, bool *found)
{
	struct pin_info info, first = {};
	uint64_t layout = pins_layout_id(p->skel->obj);
	char names[MAX_IFACES * (IF_NAMESIZE + 1)];
	int with_pins = 0, err;

	*found = false;
	for (int i = 0; i < p->n_ifaces; i++) {
		const char *ifname = p->ifaces[i].name;

		err = read_info(ifname, &info);
		if (err == -ENOENT)
			continue;
		if (err) {
			log_error("cannot read the pinned probe of %s (%s/%s/" PIN_INFO
				  ": %s): remove it with 'flowprobe detach -i %s'",
				  ifname, pin_paths_shown_dir(), ifname, strerror(-err), ifname);
			return err_runtime(err);
		}
		if (info.magic != PIN_INFO_MAGIC || info.layout_id != layout) {
			log_error("%s carries a pinned flowprobe of another version (%.31s, "
				  "layout %016llx; this is " FLOWPROBE_VERSION ", layout "
				  "%016llx) whose tables this version cannot read: export "
				  "its counts with that version's 'flowprobe detach -i %s', "
				  "or drop them with 'rm -r %s/%s'",
				  ifname, info.magic == PIN_INFO_MAGIC ? info.version : "?",
				  (unsigned long long)info.layout_id, (unsigned long long)layout,
				  ifname, pin_paths_shown_dir(), ifname);
			return -EBUSY;
		}
		if (!same_ifaces(p, &info)) {
			format_ifaces(names, sizeof(names), &info);
			log_error("%s belongs to a pinned flowprobe on %s: run it on exactly "
				  "those interfaces (-i %s), or 'flowprobe detach -i %s' first",
				  ifname, names, names, names);
			return -EBUSY;
		}
		if (!with_pins++)
			first = info;
	}
	if (with_pins && with_pins != p->n_ifaces) {
		format_ifaces(names, sizeof(names), &first);
		log_error("the pinned flowprobe on %s lacks the pins of some of its "
			  "interfaces: 'flowprobe detach -i %s' exports and removes it",
			  names, names);
		return -EBUSY;
	}
	*found = with_pins > 0;
	return 0;
}

int pins_open_map(const struct probe *p, const char *name)
{
	char path[PIN_PATH_MAX];
	int fd;

	pin_paths_file(path, p->ifaces[0].name, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int pins_reuse_maps(struct probe *p)
{
	struct bpf_map *m;

	bpf_object__for_each_map (m, p->skel->obj) {
		char name[64];
		int fd = pins_open_map(p, pin_name_of(m, name, sizeof(name))), err;

		if (fd < 0) {
			log_error("the pinned flowprobe on %s has no map '%s' (%s): "
				  "'flowprobe detach -i %s' removes it",
				  p->ifaces[0].name, bpf_map__name(m), strerror(-fd),
				  p->ifaces[0].name);
			return -EBUSY;
		}
		err = bpf_map__reuse_fd(m, fd);
		close(fd); /* reuse_fd keeps its own duplicate */
		if (err) {
			log_error("cannot reuse the pinned map '%s': %s", bpf_map__name(m),
				  strerror(-err));
			return err_runtime(err);
		}
	}
	return 0;
}

static int pin_fd(int fd, const char *ifname, const char *what)
{
	char path[PIN_PATH_MAX];

	pin_paths_file(path, ifname, what);
	unlink(path); /* a takeover re-pins what is already there */
	if (bpf_obj_pin(fd, path) != 0) {
		int err = -errno;

		log_error("cannot pin %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

static int write_info(struct probe *p, int *fd_out)
{
	struct pin_info info = {
		.magic = PIN_INFO_MAGIC,
		.layout_id = pins_layout_id(p->skel->obj),
		.n_ifaces = p->n_ifaces,
	};
	__u32 zero = 0;
	int fd;

	snprintf(info.version, sizeof(info.version), "%s", FLOWPROBE_VERSION);
	for (int i = 0; i < p->n_ifaces; i++) {
		info.ifindex[i] = p->ifaces[i].ifindex;
		memcpy(info.ifname[i], p->ifaces[i].name, IF_NAMESIZE);
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fp_pin_info", sizeof(__u32), sizeof(info), 1,
			    NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, &info, BPF_ANY) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

int pins_save(struct probe *p)
{
	char dir[PIN_PATH_MAX];
	struct bpf_map *m;
	int info_fd = -1, err;

	err = pin_paths_init();
	if (err)
		return err;
	pin_paths_mkdirs();
	err = write_info(p, &info_fd);
	if (err) {
		log_error("cannot create the pin info map: %s", strerror(-err));
		return err;
	}
	for (int i = 0; i < p->n_ifaces && !err; i++) {
		struct probe_iface *pi = &p->ifaces[i];

		pin_paths_iface_dir(dir, pi->name);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			err = -errno;
			log_error("cannot create %s: %s", dir, strerror(errno));
			break;
		}
		bpf_object__for_each_map (m, p->skel->obj) {
			char name[64];

			err = pin_fd(bpf_map__fd(m), pi->name, pin_name_of(m, name, sizeof(name)));
			if (err)
				break;
		}
		if (!err && p->daemon_stats_fd >= 0)
			err = pin_fd(p->daemon_stats_fd, pi->name, PIN_DAEMON_STATS);
		if (!err && pi->link_fd >= 0)
			err = pin_fd(pi->link_fd, pi->name, PIN_LINK);
		/* info last: a directory with info is complete. */
		if (!err)
			err = pin_fd(info_fd, pi->name, PIN_INFO);
		pi->pinned = true;
	}
	close(info_fd);
	return err;
}

int pins_open_link(const struct probe_iface *pi)
{
	char path[PIN_PATH_MAX];
	int fd;

	pin_paths_file(path, pi->name, PIN_LINK);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

void pins_remove(const struct probe_iface *pi)
{
	char dir[PIN_PATH_MAX], path[PIN_PATH_MAX + 256];
	struct dirent *de;
	DIR *d;

	pin_paths_iface_dir(dir, pi->name);
	d = opendir(dir);
	if (!d)
		return;
	/* info first: a half-removed directory is never taken for a probe. */
	pin_paths_file(path, pi->name, PIN_INFO);
	unlink(path);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}
