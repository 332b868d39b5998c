// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `flowprobe stats`: the counters of running probes, read from the maps
 * they pin under /sys/fs/bpf/flowprobe/<iface>/. No IPC with the daemon:
 * bpffs already gives a consistent, permission-checked view, and the same
 * pins are where a restarted daemon will find its state.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/daemon_stats.h"
#include "flowprobe.h"
#include "lib/log.h"
#include "datapath/pin_paths.h"
#include "datapath/probe.h"
#include "cli/commands.h"

#define MAX_INSTANCES 64

#define COUNTER_NAME(id, name, help) [id] = name,
static const char *const counter_names[CNT__MAX] = { FLOWPROBE_COUNTERS(COUNTER_NAME) };
#define DAEMON_STAT_NAME(name, type, unit, help) [DS_##name] = #name,
static const char *const daemon_stat_names[DS__MAX] = { DAEMON_STATS(DAEMON_STAT_NAME) };

/* One running probe: a counters map, possibly pinned under several
 * interface directories (one probe may watch several interfaces). */
struct instance {
	__u32 map_id;
	char ifaces[1024];
	char dir[sizeof(((struct dirent *)0)->d_name)];
};

static __u32 map_id_of(int fd, __u32 *value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
		return 0;
	*value_size = info.value_size;
	return info.id;
}

/* A map's value size, 0 if unknown: a lookup writes that many bytes. */
static __u32 value_size_of(int fd)
{
	__u32 size = 0;

	map_id_of(fd, &size);
	return size;
}

static int find_instances(struct instance *inst, const char *only_iface)
{
	char dir[PIN_PATH_MAX];
	DIR *d;

	pin_paths_iface_dir(dir, "");
	d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < MAX_INSTANCES) {
		char path[PIN_PATH_MAX];
		__u32 id, vsize = 0;
		int fd, i;

		if (de->d_name[0] == '.')
			continue;
		if (only_iface && strcmp(de->d_name, only_iface) != 0)
			continue;
		pin_paths_file(path, de->d_name, "counters");
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		id = map_id_of(fd, &vsize);
		close(fd);
		/* Pinned by another flowprobe build (more or fewer counters):
		 * reading it would misname every number, or overrun. */
		if (vsize != sizeof(__u64) * CNT__MAX) {
			log_warn("skipping %s: pinned by another flowprobe version "
				 "(%u bytes of counters, this one reads %zu)",
				 path, vsize, sizeof(__u64) * CNT__MAX);
			continue;
		}
		for (i = 0; i < n && inst[i].map_id != id; i++)
			;
		if (i == n) {
			memset(&inst[n], 0, sizeof(inst[n]));
			inst[n].map_id = id;
			snprintf(inst[n].dir, sizeof(inst[n].dir), "%s", de->d_name);
			n++;
		}
		size_t len = strlen(inst[i].ifaces);
		snprintf(inst[i].ifaces + len, sizeof(inst[i].ifaces) - len, "%s%s", len ? "," : "",
			 de->d_name);
	}
	closedir(d);
	return n;
}

static int print_instance(const struct instance *in, int ncpus)
{
	__u64 counters[CNT__MAX];
	struct daemon_stats ds = {};
	char path[PIN_PATH_MAX];
	__u32 zero = 0;
	int fd, err;

	pin_paths_file(path, in->dir, "counters");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = probe_read_counters(fd, ncpus, counters);
	close(fd);
	if (err)
		return err;

	pin_paths_file(path, in->dir, "daemon_stats");
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (value_size_of(fd) == sizeof(ds))
			bpf_map_lookup_elem(fd, &zero, &ds);
		close(fd);
	}

	printf("interfaces %s\n", in->ifaces);
	for (int i = 0; i < CNT__MAX; i++)
		printf("%s %llu\n", counter_names[i], (unsigned long long)counters[i]);
	for (int i = 0; i < DS__MAX; i++)
		printf("%s %llu\n", daemon_stat_names[i], (unsigned long long)ds.v[i]);
	return 0;
}

static void stats_usage(FILE *out)
{
	fprintf(out,
		"Usage: flowprobe stats [-i IFACE]\n"
		"\n"
		"Print the counters of the flowprobe instances running in this network\n"
		"namespace (or the one on IFACE), one 'name value' line each: packets seen, packets counted\n"
		"into flows, every kind of parse failure, flows evicted early to the daemon\n"
		"and packets uncounted because a bucket and the eviction ring were full, and\n"
		"the daemon's export\n"
		"counters. Reads the maps pinned under\n"
		"/sys/fs/bpf/flowprobe/net:<this namespace's inode>/<iface>/.\n");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct instance inst[MAX_INSTANCES];
	const char *iface = NULL;
	int c, n, ncpus, rc = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			iface = optarg;
			break;
		case 'h':
			stats_usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'flowprobe stats --help'.\n");
			return EXIT_USAGE;
		}
	}
	log_setup_libbpf(false);
	if (pin_paths_init() != 0)
		return EXIT_RUNTIME;
	n = find_instances(inst, iface);
	if (n == 0) {
		if (geteuid() != 0)
			log_error("no running flowprobe found (reading %s needs root: "
				  "try sudo)",
				  pin_paths_shown_dir());
		else
			log_error("no running flowprobe found%s%s in this network "
				  "namespace (nothing pinned under %s)",
				  iface ? " on " : "", iface ? iface : "", pin_paths_shown_dir());
		return EXIT_RUNTIME;
	}
	ncpus = libbpf_num_possible_cpus();
	for (int i = 0; i < n; i++) {
		if (i)
			printf("\n");
		if (print_instance(&inst[i], ncpus) != 0)
			rc = EXIT_RUNTIME;
	}
	return rc;
}
