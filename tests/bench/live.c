// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * live: a packet generator in the kernel, for driving an XDP program on a
 * veth at full speed. BPF_PROG_TEST_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES) runs gen.bpf.c's gen_redirect `--frames`
 * times; each run rewrites the frame's source address (a walk over
 * `--flows` flows) and redirects it out of --ifname, so it arrives on the
 * peer (--peer), in the peer's XDP program, on this CPU. Whatever runs on
 * the peer (flowprobe, started by run_bench.py, or a baseline this tool
 * attaches with --attach) is driven as hard as one CPU can.
 *
 * Per run it prints one JSON line: frames sent, wall time, and from the
 * veths' own counters (ethtool statistics) how many frames the peer's XDP
 * program received and how many the transmit side dropped, so
 * "delivered" is known without trusting the program under test.
 *
 *   live --ifname IF --peer IF [--flows N] [--frames F] [--runs R]
 *        [--warmup F] [--ip-len L] [--proto udp|tcp|mix] [--attach PROG]
 *        [--slots S] [--objdir build/bench] [--cpu C] [--batch B]
 *        [--src-ip A.B.C.D]
 *
 * --src-ip with --flows 1: every frame from that one IPv4 source.
 * --proto mix: bench_mix's packets (bench_util.h: mostly TCP, IPv4 and
 * IPv6, small and full-size), the flows shared among them by weight.
 * --attach: empty_drop, empty_pass (baselines.bpf.o) or a program of
 * layouts.bpf.c (e.g. hash_ktime), attached in native mode to the peer for
 * the duration; --slots sizes that layout's tables for the flows.
 */
#include <getopt.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include "bench_util.h"

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

struct opts {
	const char *ifname, *peer, *attach, *objdir, *proto, *src_ip;
	unsigned long flows, frames, warmup, slots;
	int runs, ip_len, cpu, batch;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Sum of the device's ethtool statistics whose name ends in `suffix`
 * (veth keeps them per queue: rx_queue_0_xdp_packets, ...). */
static int ethtool_sum(const char *ifname, const char *const *suffixes, int n, uint64_t *out)
{
	struct ethtool_sset_info *ssi = NULL;
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_stats *st = NULL;
	struct ifreq ifr = {};
	int fd, err = -1;
	uint32_t count;

	memset(out, 0, n * sizeof(*out));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ssi = calloc(1, sizeof(*ssi) + sizeof(uint32_t));
	ssi->cmd = ETHTOOL_GSSET_INFO;
	ssi->sset_mask = 1ull << ETH_SS_STATS;
	ifr.ifr_data = (void *)ssi;
	if (ioctl(fd, SIOCETHTOOL, &ifr) != 0 || !ssi->sset_mask)
		goto out;
	count = ssi->data[0];
	gs = calloc(1, sizeof(*gs) + count * ETH_GSTRING_LEN);
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_STATS;
	gs->len = count;
	ifr.ifr_data = (void *)gs;
	if (ioctl(fd, SIOCETHTOOL, &ifr) != 0)
		goto out;
	st = calloc(1, sizeof(*st) + count * sizeof(uint64_t));
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = count;
	ifr.ifr_data = (void *)st;
	if (ioctl(fd, SIOCETHTOOL, &ifr) != 0)
		goto out;
	for (uint32_t i = 0; i < count; i++) {
		char name[ETH_GSTRING_LEN + 1] = {};
		size_t l;

		memcpy(name, gs->data + i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
		l = strlen(name);
		for (int k = 0; k < n; k++) {
			size_t sl = strlen(suffixes[k]);

			if (l >= sl && strcmp(name + l - sl, suffixes[k]) == 0)
				out[k] += st->data[i];
		}
	}
	err = 0;
out:
	free(ssi);
	free(gs);
	free(st);
	close(fd);
	return err;
}

static int hwaddr(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	err = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (!err)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return err;
}

/* rx: what the peer's XDP program received; xmit/err: what our side handed
 * to the peer's ring, and what it dropped because that ring was full. */
static const char *const rx_stats[] = { "_xdp_packets" };
static const char *const tx_stats[] = { "_xdp_xmit", "_xdp_xmit_errors" };

/*
 * What one run sends: one frame walking all --flows flows, or (--proto
 * mix) bench_mix's frames, each walking its own share of the flows
 * (weighted as the mix is, disjoint ranges), sent in turn in chunks of
 * whole walks, so every flow of the mix stays in the tables while the
 * others are sent and the generator's cursor ends each chunk at its start.
 */
struct segment {
	struct bench_frame f;
	uint32_t nflows, base;
	unsigned long walks; /* whole walks a chunk sends */
};

static int send_frames(const struct opts *o, int gen_fd, struct bench_frame *f,
		       unsigned long frames)
{
	LIBBPF_OPTS(bpf_test_run_opts, ro, .data_in = f->b, .data_size_in = f->len,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = frames, .batch_size = o->batch);
	struct xdp_md ctx = { .data_end = f->len };

	ro.ctx_in = &ctx;
	ro.ctx_size_in = sizeof(ctx);
	if (bpf_prog_test_run_opts(gen_fd, &ro) != 0) {
		fprintf(stderr, "live: BPF_PROG_TEST_RUN (live frames): %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Sends at least `frames` (whole chunks for a mix); returns how many, or
 * 0 after an error. */
static unsigned long send_segments(const struct opts *o, struct bpf_object *gen, int gen_fd,
				   struct segment *seg, int nseg, unsigned long frames)
{
	unsigned long sent = 0;
	uint32_t ifindex = if_nametoindex(o->ifname);

	if (nseg == 1)
		return send_frames(o, gen_fd, &seg[0].f, frames) ? 0 : frames;
	while (sent < frames) {
		for (int i = 0; i < nseg; i++) {
			unsigned long n = seg[i].nflows * seg[i].walks;

			if (bench_gen_set(gen, seg[i].nflows, ifindex, seg[i].base) ||
			    send_frames(o, gen_fd, &seg[i].f, n))
				return 0;
			sent += n;
		}
	}
	return sent;
}

static int one_run(const struct opts *o, struct bpf_object *gen, int gen_fd, struct segment *seg,
		   int nseg, unsigned long frames, int idx)
{
	uint64_t rx0, rx1, tx0[2], tx1[2], t0, t1;
	unsigned long sent;

	if (ethtool_sum(o->peer, rx_stats, 1, &rx0) || ethtool_sum(o->ifname, tx_stats, 2, tx0)) {
		fprintf(stderr, "live: cannot read the veths' statistics\n");
		return -1;
	}
	t0 = bench_now_ns();
	sent = send_segments(o, gen, gen_fd, seg, nseg, frames);
	if (!sent)
		return -1;
	t1 = bench_now_ns();
	/* The peer's NAPI runs in softirq on this CPU, mostly before the
	 * syscall returns; give stragglers (ksoftirqd) a moment. */
	usleep(50000);
	ethtool_sum(o->peer, rx_stats, 1, &rx1);
	ethtool_sum(o->ifname, tx_stats, 2, tx1);
	printf("{\"run\":%d,\"sent\":%lu,\"ns\":%llu,\"delivered\":%llu,"
	       "\"xmit\":%llu,\"xmit_errors\":%llu,\"mpps\":%.4f}\n",
	       idx, sent, (unsigned long long)(t1 - t0), (unsigned long long)(rx1 - rx0),
	       (unsigned long long)(tx1[0] - tx0[0]), (unsigned long long)(tx1[1] - tx0[1]),
	       (double)(rx1 - rx0) * 1e3 / (double)(t1 - t0));
	fflush(stdout);
	return 0;
}

/* bench_mix as segments: each template's share of the flows (at least
 * one), and enough whole walks per chunk that a chunk is about 64k
 * frames: fewer syscalls than frames, however few the flows. */
static int mix_segments(const struct opts *o, const uint8_t mac[6], struct segment *seg)
{
	unsigned long walks = 65536 / (o->flows ? o->flows : 1) + 1;
	uint32_t base = 0;
	int w = 0;

	for (int i = 0; i < BENCH_MIX_N; i++)
		w += bench_mix[i].weight;
	for (int i = 0; i < BENCH_MIX_N; i++) {
		seg[i].nflows = o->flows * bench_mix[i].weight / w;
		if (!seg[i].nflows)
			seg[i].nflows = 1;
		seg[i].base = base;
		seg[i].walks = walks;
		base += seg[i].nflows;
		bench_build(&seg[i].f, &bench_mix[i], mac, 0);
	}
	return BENCH_MIX_N;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "peer", required_argument, NULL, 'p' },
		{ "flows", required_argument, NULL, 'f' },
		{ "frames", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "runs", required_argument, NULL, 'r' },
		{ "ip-len", required_argument, NULL, 'l' },
		{ "proto", required_argument, NULL, 't' },
		{ "attach", required_argument, NULL, 'a' },
		{ "slots", required_argument, NULL, 's' },
		{ "objdir", required_argument, NULL, 'o' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "src-ip", required_argument, NULL, 'S' },
		{},
	};
	int ch;

	o->flows = 1000;
	o->frames = 5000000;
	o->runs = 3;
	o->ip_len = 46;
	o->proto = "udp";
	o->objdir = "build/bench";
	o->batch = 64;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'i':
			o->ifname = optarg;
			break;
		case 'p':
			o->peer = optarg;
			break;
		case 'f':
			o->flows = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->frames = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o->warmup = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o->runs = atoi(optarg);
			break;
		case 'l':
			o->ip_len = atoi(optarg);
			break;
		case 't':
			o->proto = optarg;
			break;
		case 'a':
			o->attach = optarg;
			break;
		case 's':
			o->slots = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			o->objdir = optarg;
			break;
		case 'c':
			o->cpu = atoi(optarg);
			break;
		case 'b':
			o->batch = atoi(optarg);
			break;
		case 'S':
			o->src_ip = optarg;
			break;
		default:
			return -1;
		}
	}
	if (!o->ifname || !o->peer || o->ip_len < 28 || o->ip_len > 1500 ||
	    o->frames > UINT32_MAX || o->batch < 1 || o->batch > 256 ||
	    (strcmp(o->proto, "udp") && strcmp(o->proto, "tcp") && strcmp(o->proto, "mix")))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *gen = NULL, *att = NULL;
	struct bench_tmpl tmpl = { "live", 4, IPPROTO_UDP, 46, 1 };
	int gen_fd, peer_ifindex = 0, rc = 1;
	static struct segment seg[BENCH_MIX_N];
	int nseg = 1;
	struct opts o = {};
	bool attached = false;
	uint8_t mac[6];
	char path[512];

	if (parse_opts(&o, argc, argv)) {
		fprintf(stderr, "usage: live --ifname IF --peer IF [--flows N] [--frames F] "
				"[--runs R] [--warmup F] [--ip-len L] [--proto udp|tcp|mix] "
				"[--attach PROG] [--slots S] [--objdir DIR] [--cpu C] [--batch B] "
				"[--src-ip A.B.C.D]\n");
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	if (bench_pin_cpu(o.cpu))
		perror("live: sched_setaffinity");
	tmpl.ip_len = o.ip_len;
	tmpl.proto = strcmp(o.proto, "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	if (hwaddr(o.peer, mac)) {
		fprintf(stderr, "live: no interface %s here\n", o.peer);
		return 1;
	}
	if (strcmp(o.proto, "mix") == 0)
		nseg = mix_segments(&o, mac, seg);
	else
		bench_build(&seg[0].f, &tmpl, mac, 0);
	if (o.src_ip) {
		/* one fixed source (with --flows 1): filler traffic */
		struct iphdr *ip = (struct iphdr *)(seg[0].f.b + sizeof(struct ethhdr));

		if (inet_pton(AF_INET, o.src_ip, &ip->saddr) != 1)
			return 2;
		ip->check = 0;
		ip->check = bench_csum16(ip, sizeof(*ip));
	}

	snprintf(path, sizeof(path), "%s/gen.bpf.o", o.objdir);
	gen = bench_open(path);
	if (!gen || bpf_object__load(gen))
		goto out;
	gen_fd = bench_prog_fd(gen, "gen_redirect");
	if (bench_gen_set(gen, o.flows, if_nametoindex(o.ifname), 0)) {
		fprintf(stderr, "live: cannot configure the generator\n");
		goto out;
	}

	if (o.attach) {
		int fd;

		if (strncmp(o.attach, "empty_", 6) == 0) {
			snprintf(path, sizeof(path), "%s/baselines.bpf.o", o.objdir);
			att = bench_open(path);
			if (!att || bpf_object__load(att))
				goto out;
		} else {
			uint32_t slots = 4096;

			while (slots < o.slots)
				slots <<= 1;
			att = bench_load_layouts(o.objdir, slots, o.slots > 1024 ? o.slots : 1024,
						 o.attach);
			if (!att)
				goto out;
		}
		fd = bench_prog_fd(att, o.attach);
		peer_ifindex = if_nametoindex(o.peer);
		if (fd < 0 || bpf_xdp_attach(peer_ifindex, fd, XDP_FLAGS_DRV_MODE, NULL)) {
			fprintf(stderr, "live: cannot attach %s to %s: %s\n", o.attach, o.peer,
				strerror(errno));
			goto out;
		}
		attached = true;
	}

	if (o.warmup && one_run(&o, gen, gen_fd, seg, nseg, o.warmup, -1))
		goto out;
	for (int r = 0; r < o.runs; r++)
		if (one_run(&o, gen, gen_fd, seg, nseg, o.frames, r))
			goto out;
	if (att && strncmp(o.attach, "empty_", 6) != 0) {
		uint64_t c[4];

		bench_layout_counters(att, c);
		printf("{\"layout\":\"%s\",\"packets\":%llu,\"counted\":%llu,"
		       "\"evicted\":%llu,\"uncounted\":%llu}\n",
		       o.attach, (unsigned long long)c[0], (unsigned long long)c[1],
		       (unsigned long long)c[2], (unsigned long long)c[3]);
	}
	rc = 0;
out:
	if (attached)
		bpf_xdp_detach(peer_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	bpf_object__close(att);
	bpf_object__close(gen);
	return rc;
}
