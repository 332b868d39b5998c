// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The store's two batches, its writer thread and the pipeline's side.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "lib/capabilities.h"
#include "lib/log.h"
#include "store/batch.h"
#include "store/query.h"
#include "store/schema.h"
#include "store/state_dir.h"
#include "store/store.h"
#include "store/writer.h"

#define MINUTE_MS 60000ull
#define UPKEEP_MS MINUTE_MS /* retention and rollup, at most this often */
#define LOG_EVERY_US (60 * 1000000ull)

struct store {
	char path[PATH_MAX];
	struct prefix_set local;
	struct store_writer *writer;
	struct store_reader *reader;
	struct store_batch *filling; /* pipeline thread's */
	uint64_t lost_filling; /* pipeline thread's, added at a tick */
	uint64_t last_handed_ms;
	uint64_t last_now_ms; /* the last tick's clock */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_batch *pending; /* the writer's while have_pending */
	bool have_pending, stopping;
	uint64_t pending_now_ms;
	struct store_stats stats;
};

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	uint64_t last_upkeep_ms = 0, last_log_us = 0, unlogged = 0;

	/* Writing a file it opened in a directory root owns needs no
	 * capability: this thread gives up all of them, as the web server's
	 * do (it was started before the daemon dropped its own). */
	if (caps_effective() && caps_keep_only(0))
		log_warn("history writer: cannot give up capabilities; writing "
			 "with them");

	for (;;) {
		struct store_batch *b;
		const char *why = NULL;
		uint64_t now_ms, t0, us, n;
		int rc;

		pthread_mutex_lock(&s->lock);
		while (!s->have_pending && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->have_pending) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		b = s->pending;
		now_ms = s->pending_now_ms;
		pthread_mutex_unlock(&s->lock);

		n = store_batch_size(b);
		t0 = monotonic_us();
		rc = n ? store_writer_commit(s->writer, b, &why) : 0;
		if (!rc && now_ms >= last_upkeep_ms + UPKEEP_MS) {
			rc = store_writer_upkeep(s->writer, now_ms, &why);
			last_upkeep_ms = now_ms;
			n = rc ? 0 : n; /* the batch is in; upkeep failed */
		}
		us = monotonic_us() - t0;
		store_batch_clear(b);

		pthread_mutex_lock(&s->lock);
		s->stats.commit_us_last = us;
		if (rc) {
			s->stats.write_errors++;
			s->stats.rows_lost += n;
		} else {
			s->stats.rows_written += n;
		}
		s->have_pending = false;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		if (rc) {
			unlogged++;
			/* One line a minute, not one per tick of a full disk. */
			if (!last_log_us || t0 >= last_log_us + LOG_EVERY_US) {
				log_warn("history database %s: %llu write(s) failed "
					 "(%s); counting and export go on, the "
					 "history has a gap (store_rows_lost). "
					 "Check free space under --state-dir",
					 s->path, (unsigned long long)unlogged, why ? why : "?");
				last_log_us = t0;
				unlogged = 0;
			}
		}
	}
	return NULL;
}

int store_open(struct store **out, const struct store_config *cfg)
{
	const char *dir = cfg->state_dir ? cfg->state_dir : STATE_DIR_DEFAULT;
	struct store_writer_config wc = {
		.retention_ms = cfg->retention_ms ? cfg->retention_ms :
						    STORE_DEFAULT_RETENTION_S * 1000ull,
		.rollup_after_ms = cfg->rollup_after_ms ? cfg->rollup_after_ms :
							  STORE_ROLLUP_AFTER_S * 1000ull,
		.p2p_threshold = cfg->p2p_threshold,
	};
	size_t rows = cfg->max_rows ? cfg->max_rows : STORE_DEFAULT_ROWS;
	size_t events = cfg->max_events ? cfg->max_events : STORE_DEFAULT_EVENTS;
	struct store *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (cfg->local)
		s->local = *cfg->local;
	else
		prefix_set_default(&s->local);
	rc = state_dir_prepare(dir);
	if (!rc)
		rc = state_dir_file(s->path, sizeof(s->path), dir, STORE_FILE);
	wc.path = s->path;
	if (!rc)
		rc = store_writer_open(&s->writer, &wc);
	if (rc)
		goto fail;
	s->filling = store_batch_new(rows, events);
	s->pending = store_batch_new(rows, events);
	s->reader = store_reader_new(s->path);
	if (!s->filling || !s->pending || !s->reader) {
		log_error("out of memory for the history database's batches");
		rc = -ENOMEM;
		goto fail;
	}
	rc = -pthread_create(&s->thread, NULL, writer_main, s);
	if (rc) {
		log_error("cannot start the history writer: %s", strerror(-rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	store_writer_close(s->writer);
	store_batch_free(s->filling);
	store_batch_free(s->pending);
	store_reader_free(s->reader);
	free(s);
	return rc;
}

static struct store_minute *minute_of(struct store *s, uint8_t ipv, const uint8_t addr[16],
				      uint64_t t_ms)
{
	struct store_minute *m = store_batch_minute(s->filling, ipv, addr, t_ms / MINUTE_MS);

	if (!m)
		s->lost_filling++;
	return m;
}

void store_add_flow(struct store *s, const struct flow_record *rec, const struct flow_class *fc)
{
	const struct flow_key *k = &rec->key;
	/* The port that says what the host did: the lower one, as the
	 * dashboard's in-memory top does. */
	uint16_t service = k->sport < k->dport ? k->sport : k->dport;

	for (int end = FLOW_END_SRC; end <= FLOW_END_DST; end++) {
		const uint8_t *local = end == FLOW_END_SRC ? k->src : k->dst;
		const uint8_t *remote = end == FLOW_END_SRC ? k->dst : k->src;
		struct store_minute *m;

		if (!(fc->local & (end == FLOW_END_SRC ? FLOW_LOCAL_SRC : FLOW_LOCAL_DST)))
			continue;
		m = minute_of(s, k->ip_version, local, rec->last_ms);
		if (!m)
			continue;
		m->flows++;
		m->bt_flows += fc->bittorrent;
		if (end == FLOW_END_SRC) {
			m->packets_out += rec->packets;
			m->bytes_out += rec->bytes;
		} else {
			m->packets_in += rec->packets;
			m->bytes_in += rec->bytes;
		}
		hll_add(&m->peers, hll_peer_hash(k->ip_version, remote));
		top_ports_add(&m->ports, k->proto, service, 1);
	}
}

static bool parse_addr(const char *str, uint8_t *ipv, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (str && inet_pton(AF_INET, str, addr) == 1)
		*ipv = 4;
	else if (str && inet_pton(AF_INET6, str, addr) == 1)
		*ipv = 6;
	else
		return false;
	return true;
}

/* A reset counts on each local end of its connection, as on the page. */
static void count_reset(struct store *s, const char *line, size_t len, uint64_t now_ms)
{
	json_t *o = json_loadb(line, len, 0, NULL);
	const char *verdict = json_string_value(json_object_get(o, "verdict"));
	bool forged = verdict && strcmp(verdict, "genuine") != 0;
	static const char *const ends[2] = { "src", "dst" };

	for (int i = 0; i < 2; i++) {
		uint8_t ipv, addr[16];
		struct store_minute *m;

		if (!parse_addr(json_string_value(json_object_get(o, ends[i])), &ipv, addr) ||
		    !prefix_set_match(&s->local, ipv, addr))
			continue;
		m = minute_of(s, ipv, addr, now_ms);
		if (m) {
			m->resets++;
			m->forged += forged;
		}
	}
	json_decref(o);
}

void store_add_event_line(struct store *s, const char *line, size_t len, uint64_t now_ms)
{
	static const char flow_prefix[] = "{\"type\":\"flow\"";
	static const char reset_prefix[] = "{\"type\":\"reset\"";

	if (!len ||
	    (len >= sizeof(flow_prefix) - 1 && !memcmp(line, flow_prefix, sizeof(flow_prefix) - 1)))
		return;
	if (len >= sizeof(reset_prefix) - 1 &&
	    !memcmp(line, reset_prefix, sizeof(reset_prefix) - 1))
		count_reset(s, line, len, now_ms);
	if (store_batch_add_event(s->filling, now_ms, line, len))
		s->lost_filling++;
}

void store_tick(struct store *s, uint64_t now_ms)
{
	s->last_now_ms = now_ms;
	pthread_mutex_lock(&s->lock);
	s->stats.records_dropped += s->lost_filling;
	s->lost_filling = 0;
	/* Nothing new: only wake the writer for its upkeep, once a minute. */
	if (!s->have_pending &&
	    (store_batch_size(s->filling) || now_ms >= s->last_handed_ms + UPKEEP_MS)) {
		struct store_batch *b = s->pending;

		s->pending = s->filling;
		s->filling = b;
		s->pending_now_ms = now_ms;
		s->have_pending = true;
		s->last_handed_ms = now_ms;
		pthread_cond_broadcast(&s->cond);
	}
	/* Busy: the filling batch keeps growing until the writer is back. */
	pthread_mutex_unlock(&s->lock);
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

void store_wait_idle(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->have_pending)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

struct store_reader *store_reader_of(struct store *s)
{
	return s ? s->reader : NULL;
}

const char *store_path(const struct store *s)
{
	return s->path;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	/* The last batch: wait for the writer, hand it over (on the last
	 * tick's clock: a test's or a replay's, not the machine's). */
	store_wait_idle(s);
	if (store_batch_size(s->filling))
		store_tick(s, s->last_now_ms);
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	store_writer_close(s->writer);
	store_reader_free(s->reader);
	store_batch_free(s->filling);
	store_batch_free(s->pending);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
