// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * store: what the embedded history (user/store/) costs the daemon, and
 * how big its file grows. No root, no kernel: the pipeline's consumers
 * are fed classified flow records as the exporter hands them over.
 *
 *   cpu    --rate flow records a second for --seconds of simulated time,
 *          --hosts customers with --peers peers each. The same records go
 *          first to the dashboard's in-memory history alone (the
 *          baseline the daemon already pays), then to the store with a
 *          tick every simulated second. Reported: CPU seconds of the
 *          pipeline thread per second of traffic for each (the store's
 *          ratio to the baseline), and the writer thread's CPU (the
 *          process's minus the pipeline thread's), and the rows a second
 *          the writer committed. Paced: one tick a second of real time.
 *   fleet  the pipeline thread's side of --store clickhouse://: the same
 *          records formatted as ClickHouse rows (flows and host_peers,
 *          JSONEachRow) for 3 simulated seconds into the buffer, no
 *          server (its sending is another thread's, and ClickHouse's own
 *          cost is the server's): CPU seconds per second of traffic.
 *   size   --minutes minutes with every host active in every minute
 *          (--per-minute flows each): the file's bytes per host-minute
 *          after a checkpoint, then rolled up into hours, and from those
 *          the file for a day of minutes and for the default retention
 *          (two days of minutes, five of hours).
 *
 * One JSON line at the end.
 *
 *   store [--hosts 4096] [--peers 32] [--rate 100000] [--seconds 30]
 *         [--minutes 30] [--per-minute 20] [--dir DIR]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon/enrich.h"
#include "store/fleet.h"
#include "store/schema.h"
#include "store/store.h"
#include "store/writer.h"
#include "web/history.h"

#define MIN_MS 60000ull
#define T0 (1764892800000ull) /* 2025-12-05 00:00 UTC, on an hour */

static unsigned int hosts = 4096, peers = 32, rate = 100000, seconds = 30;
static unsigned int minutes = 30, per_minute = 20;
static struct prefix_set local;

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double process_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A record of customer h (10.0.h/256.h%256) with one of its peers. */
static void make_flow(struct flow_record *r, unsigned int h, uint64_t t_ms)
{
	uint64_t x = next_rand();
	unsigned int p = x % peers;

	memset(r, 0, sizeof(*r));
	r->key.ip_version = 4;
	r->key.proto = x & 256 ? 6 : 17;
	r->key.src[0] = 10;
	r->key.src[2] = h / 256;
	r->key.src[3] = h % 256;
	r->key.dst[0] = 45;
	r->key.dst[1] = h % 200;
	r->key.dst[2] = p / 256;
	r->key.dst[3] = p % 256;
	r->key.sport = 32768 + (x >> 16) % 28000;
	r->key.dport = (x >> 40) % 4 ? 443 : 6881;
	r->packets = 1 + (x >> 20) % 40;
	r->bytes = r->packets * 700;
	r->first_ms = t_ms - 1000;
	r->last_ms = t_ms;
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, arg);
	return system(cmd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_size;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "hosts", required_argument, NULL, 'h' },
					      { "peers", required_argument, NULL, 'p' },
					      { "rate", required_argument, NULL, 'r' },
					      { "seconds", required_argument, NULL, 's' },
					      { "minutes", required_argument, NULL, 'm' },
					      { "per-minute", required_argument, NULL, 'f' },
					      { "dir", required_argument, NULL, 'd' },
					      {} };
	char dir[256] = "", path[400], cpu_dir[300], size_dir[300];
	struct enrich_config ec = { .local = &local };
	struct history_config hcfg = { .local = &local, .max_hosts = 8192 };
	struct store_config scfg = { .local = &local, .p2p_threshold = 50 };
	struct store_stats st;
	struct history *h;
	struct store *s;
	struct flow_class fc;
	struct flow_record r;
	double t0, base_cpu, store_cpu, proc0, writer_cpu;
	uint64_t rows_cpu, cpu_dropped, upserts;
	double fleet_cpu, fleet_bytes_per_flow;
	off_t min_bytes, hour_bytes;
	uint64_t host_minutes, host_hours;
	const char *why;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			hosts = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			peers = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rate = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seconds = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			minutes = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			per_minute = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		default:
			return 2;
		}
	}
	if (!hosts || hosts > 65536 || !peers || !rate || !seconds || !minutes) {
		fprintf(stderr, "store: bad arguments\n");
		return 2;
	}
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/flowprobe-bench-store.XXXXXX");
		if (!mkdtemp(dir))
			return 1;
	}
	prefix_set_parse(&local, "10.0.0.0/16", "--local");
	snprintf(cpu_dir, sizeof(cpu_dir), "%s/cpu", dir);
	snprintf(size_dir, sizeof(size_dir), "%s/size", dir);

	/* --- cpu: baseline, the in-memory history alone ------------------ */
	h = history_new(&hcfg);
	rng = 1;
	t0 = thread_cpu();
	for (uint64_t sec = 0; sec < seconds; sec++)
		for (unsigned int i = 0; i < rate; i++) {
			make_flow(&r, next_rand() % hosts, T0 + sec * 1000);
			enrich_flow(&ec, &r, &fc);
			history_add_flow(h, &r, &fc);
		}
	base_cpu = thread_cpu() - t0;
	history_free(h);

	/* --- cpu: the store (the same records, its tick every second) ---- */
	scfg.state_dir = cpu_dir;
	if (store_open(&s, &scfg))
		return 1;
	rng = 1;
	proc0 = process_cpu();
	store_cpu = 0;
	for (uint64_t sec = 0; sec < seconds; sec++) {
		struct timespec next;

		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec++;
		t0 = thread_cpu();
		for (unsigned int i = 0; i < rate; i++) {
			make_flow(&r, next_rand() % hosts, T0 + sec * 1000);
			enrich_flow(&ec, &r, &fc);
			store_add_flow(s, &r, &fc);
		}
		store_tick(s, T0 + sec * 1000 + 999);
		store_cpu += thread_cpu() - t0;
		/* Paced as the daemon's ticks are: one a second of real time,
		 * so the writer commits a tick's rows, not a minute's. */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	store_get_stats(s, &st);
	cpu_dropped = st.records_dropped + st.rows_lost;
	upserts = st.rows_written;
	store_close(s); /* waits for the writer's last batch */
	writer_cpu = process_cpu() - proc0 - store_cpu;
	s = NULL;
	{
		/* The rows the run committed, read back from its file. */
		sqlite3 *db;
		sqlite3_stmt *q;

		snprintf(path, sizeof(path), "%s/%s", cpu_dir, STORE_FILE);
		store_schema_open(path, true, &db);
		sqlite3_prepare_v2(db, "SELECT count(*), sum(flows) FROM host_minutes", -1, &q,
				   NULL);
		sqlite3_step(q);
		rows_cpu = sqlite3_column_int64(q, 0);
		if ((uint64_t)sqlite3_column_int64(q, 1) != (uint64_t)rate * seconds) {
			fprintf(stderr, "store: %lld flows in the file, %llu sent\n",
				sqlite3_column_int64(q, 1), (unsigned long long)rate * seconds);
			return 1;
		}
		sqlite3_finalize(q);
		sqlite3_close(db);
	}

	/* --- fleet: formatting rows for ClickHouse ------------------------ */
	{
		struct fleet_config fcfg = {
			.url = "clickhouse://127.0.0.1:1/bench",
			.period_ms = 300000,
			.threshold = 60,
			.local = &local,
			.max_buffer = 1ull << 30,
		};
		struct fleet *fl;
		struct fleet_stats fs;

		if (fleet_open(&fl, &fcfg))
			return 1;
		rng = 1;
		t0 = thread_cpu();
		for (uint64_t sec = 0; sec < 3; sec++)
			for (unsigned int i = 0; i < rate; i++) {
				make_flow(&r, next_rand() % hosts, T0 + sec * 1000);
				enrich_flow(&ec, &r, &fc);
				fleet_add_flow(fl, &r, &fc);
			}
		fleet_cpu = (thread_cpu() - t0) / 3;
		fleet_tick(fl, T0 + 3000);
		fleet_get_stats(fl, &fs);
		fleet_bytes_per_flow = (double)fs.buffered / (3.0 * rate);
		fleet_close(fl);
	}

	/* --- size: every host in every minute ---------------------------- */
	scfg.state_dir = size_dir;
	if (store_open(&s, &scfg))
		return 1;
	for (uint64_t m = 0; m < minutes; m++) {
		for (unsigned int hh = 0; hh < hosts; hh++)
			for (unsigned int f = 0; f < per_minute; f++) {
				make_flow(&r, hh, T0 + m * MIN_MS + 1000 + f);
				enrich_flow(&ec, &r, &fc);
				store_add_flow(s, &r, &fc);
			}
		store_tick(s, T0 + m * MIN_MS + 30000);
		store_wait_idle(s); /* a minute's rows, not more, a batch */
	}
	store_get_stats(s, &st);
	store_close(s);
	snprintf(path, sizeof(path), "%s/%s", size_dir, STORE_FILE);
	{
		sqlite3 *db;

		sqlite3_open(path, &db);
		sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	min_bytes = file_size(path);
	host_minutes = (uint64_t)hosts * minutes;
	{
		/* Roll every minute up (a clock three days on) and measure. */
		struct store_writer_config wc = {
			.path = path,
			.retention_ms = 7 * 86400000ull,
			.rollup_after_ms = 2 * 86400000ull,
		};
		struct store_writer *w;
		sqlite3 *db;

		if (store_writer_open(&w, &wc) ||
		    store_writer_upkeep(w, T0 + 3 * 86400000ull, &why))
			return 1;
		store_writer_close(w);
		sqlite3_open(path, &db);
		sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	hour_bytes = file_size(path);
	host_hours = (uint64_t)hosts * ((minutes + 59) / 60);
	{
		double per_min = (double)min_bytes / host_minutes;
		double per_hour = (double)hour_bytes / host_hours;
		double day_minutes = per_min * hosts * 1440;
		double steady = 2 * day_minutes + 5 * per_hour * hosts * 24;

		printf("{\"hosts\": %u, \"peers\": %u, \"rate\": %u, \"seconds\": %u, "
		       "\"baseline_cpu_per_s\": %.4f, \"store_cpu_per_s\": %.4f, "
		       "\"store_over_baseline\": %.2f, \"writer_cpu_per_s\": %.4f, "
		       "\"rows_per_s\": %.0f, \"rows_in_file\": %llu, \"size_minutes\": %u, "
		       "\"per_minute\": %u, \"bytes_per_host_minute\": %.1f, "
		       "\"bytes_per_host_hour\": %.1f, \"day_of_minutes_mb\": %.1f, "
		       "\"retention_7d_mb\": %.1f, \"size_dropped\": %llu, "
		       "\"cpu_dropped\": %llu, \"fleet_cpu_per_s\": %.4f, "
		       "\"fleet_over_baseline\": %.2f, "
		       "\"fleet_bytes_per_flow\": %.0f}\n",
		       hosts, peers, rate, seconds, base_cpu / seconds, store_cpu / seconds,
		       store_cpu / base_cpu, writer_cpu / seconds, (double)upserts / seconds,
		       (unsigned long long)rows_cpu, minutes, per_minute, per_min, per_hour,
		       day_minutes / 1e6, steady / 1e6,
		       (unsigned long long)(st.records_dropped + st.rows_lost),
		       (unsigned long long)cpu_dropped, fleet_cpu, fleet_cpu / (base_cpu / seconds),
		       fleet_bytes_per_flow);
	}
	sh("rm -rf '%s'", dir);
	return 0;
}
