// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet store: row buffers, the sender thread, the merged alarms.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "lib/capabilities.h"
#include "lib/json_output.h"
#include "lib/log.h"
#include "store/clickhouse_http.h"
#include "store/clickhouse_schema.h"
#include "store/clickhouse_url.h"
#include "store/fleet.h"

#define LOG_EVERY_MS 60000ull
#define RETRY_MS 1000
#define MAX_JOBS 64
#define PEERS_ALARM 200 /* merged distinct peers worth the threshold */

enum {
	T_FLOWS,
	T_PEERS,
	T_REPORTS,
	T_EVENTS,
	T__MAX
};
static const char *const table_names[T__MAX] = {
	"flows",
	"host_peers",
	"p2p_reports",
	"events",
};

struct sbuf {
	char *p;
	size_t len, cap;
	uint64_t rows;
};

struct fleet {
	struct clickhouse_url url;
	char password[256];
	bool have_password;
	char probe_id[FLEET_PROBE_ID_MAX + 1];
	struct prefix_set local;
	uint64_t period_ms, grace_ms, max_buffer;
	unsigned int threshold;
	struct clickhouse_http *http; /* the sender's */

	/* Pipeline thread's. */
	struct sbuf filling[T__MAX];
	uint64_t dropped_filling;
	uint64_t next_period; /* start of the next period to judge */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sbuf pending[T__MAX]; /* the sender's while sending */
	uint64_t jobs[MAX_JOBS]; /* periods to judge */
	size_t n_jobs;
	bool stopping, schema_ok;
	struct fleet_stats stats;
	uint64_t last_log_ms, unlogged;
};

/* --- buffers --------------------------------------------------------------- */

static size_t buffered(const struct sbuf b[T__MAX])
{
	size_t n = 0;

	for (int t = 0; t < T__MAX; t++)
		n += b[t].len;
	return n;
}

static uint64_t rows_of(const struct sbuf b[T__MAX])
{
	uint64_t n = 0;

	for (int t = 0; t < T__MAX; t++)
		n += b[t].rows;
	return n;
}

/* pending_len: what the sender holds, read without the lock (a bound
 * only: a stale value errs by one tick's rows). */
static bool room(struct fleet *f, size_t more)
{
	return buffered(f->filling) + __atomic_load_n(&f->stats.buffered, __ATOMIC_RELAXED) +
		       more <=
	       f->max_buffer;
}

#define ROW_RESERVE 1024 /* a flow row is about 420 bytes */

static bool grow(struct sbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 65536;
	char *p;

	if (b->len + need <= b->cap)
		return true;
	while (cap < b->len + need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

/* One row and its newline; formatted once, straight into the buffer. */
static __attribute__((format(printf, 3, 4))) void row(struct fleet *f, int t, const char *fmt, ...)
{
	struct sbuf *b = &f->filling[t];
	va_list ap;
	int n;

	if (!room(f, ROW_RESERVE) || !grow(b, ROW_RESERVE)) {
		f->dropped_filling++;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n + 2 > b->cap - b->len) { /* a long event */
		if (!room(f, n + 2) || !grow(b, n + 2)) {
			f->dropped_filling++;
			return;
		}
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	if (n < 0) {
		f->dropped_filling++;
		return;
	}
	b->len += n;
	b->p[b->len++] = '\n';
	b->rows++;
}

/* --- options ----------------------------------------------------------------- */

static bool probe_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n && n <= FLEET_PROBE_ID_MAX &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789_.-") == n;
}

static int read_password(const char *path, char *out, size_t len)
{
	FILE *fp = fopen(path, "r");

	if (!fp) {
		log_error("--store-password-file %s: %s (its first line is the "
			  "ClickHouse user's password)",
			  path, strerror(errno));
		return -EINVAL;
	}
	if (!fgets(out, len, fp))
		out[0] = 0;
	fclose(fp);
	out[strcspn(out, "\r\n")] = 0;
	if (!out[0]) {
		log_error("--store-password-file %s: the first line is empty", path);
		return -EINVAL;
	}
	return 0;
}

static void default_probe_id(char out[FLEET_PROBE_ID_MAX + 1])
{
	if (gethostname(out, FLEET_PROBE_ID_MAX + 1) || !probe_id_ok(out))
		strcpy(out, "probe");
	out[FLEET_PROBE_ID_MAX] = 0;
}

int fleet_check(const struct fleet_config *cfg)
{
	struct clickhouse_url u;
	char pw[256];

	if (clickhouse_url_parse(cfg->url, &u))
		return -EINVAL;
	if (cfg->password_file && read_password(cfg->password_file, pw, sizeof(pw)))
		return -EINVAL;
	if (cfg->probe_id && !probe_id_ok(cfg->probe_id)) {
		log_error("--probe-id '%s': 1 to %d letters, digits, '_', '.' or '-'",
			  cfg->probe_id, FLEET_PROBE_ID_MAX);
		return -EINVAL;
	}
	if (cfg->period_ms % 1000) {
		log_error("--store: the P2P period must be whole seconds");
		return -EINVAL;
	}
	return 0;
}

/* --- the sender ---------------------------------------------------------------- */

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* Under no lock: the sender's own state. */
static void failed(struct fleet *f, const char *what)
{
	uint64_t now = wall_ms();

	pthread_mutex_lock(&f->lock);
	f->stats.send_errors++;
	pthread_mutex_unlock(&f->lock);
	f->unlogged++;
	if (!f->last_log_ms || now >= f->last_log_ms + LOG_EVERY_MS) {
		log_warn("fleet store %s:%u/%s: %llu request(s) failed (%s: %s); "
			 "counting and export go on, rows wait in a bounded buffer "
			 "and are sent when the server answers",
			 f->url.host, f->url.port, f->url.db, (unsigned long long)f->unlogged, what,
			 clickhouse_http_why(f->http));
		f->last_log_ms = now;
		f->unlogged = 0;
	}
}

static int run_sql(struct fleet *f, const char *fmt, ...)
{
	char sql[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return clickhouse_http_run(f->http, sql, NULL, 0, NULL);
}

static int create_schema(struct fleet *f)
{
	size_t n;
	const char *const *ddl = clickhouse_schema(&n);

	for (size_t i = 0; i < n; i++)
		if (run_sql(f, ddl[i], f->url.db)) {
			failed(f, "creating the tables");
			return -EIO;
		}
	return 0;
}

/* One alarm per host for the period starting at p0 (ms): the peers every
 * probe saw, merged in ClickHouse; written by every probe, kept once
 * (ReplacingMergeTree on host and period: the latest, most complete). */
static int judge(struct fleet *f, uint64_t p0)
{
	uint64_t s0 = p0 / 1000, s1 = (p0 + f->period_ms) / 1000;
	const char *db = f->url.db;

	/* peers: merged; max_score: the highest of the probes' own P2P
	 * scores; score: that or what the merged peers alone are worth (as
	 * many as PEERS_ALARM reach the threshold); bt_flows: BitTorrent flow
	 * records of every probe (a flow two routers saw counts twice). */
	if (run_sql(f,
		    "INSERT INTO %1$s.alarms SELECT host, toDateTime(%2$llu), "
		    "toDateTime(%3$llu), peers, probes, score, max_score, bt_flows, "
		    "concat(toString(peers), ' distinct peers across ', "
		    "arrayStringConcat(arraySort(probes), ', '), ' (merged); ', "
		    "'highest P2P score of a probe ', toString(max_score), '; ', "
		    "toString(bt_flows), ' BitTorrent flow records'), '%4$s', %5$llu "
		    "FROM (SELECT host, peers, probes, max_score, bt_flows, "
		    "greatest(max_score, toUInt8(least(100, intDiv(peers * %6$u, %7$u)))) "
		    "AS score FROM (SELECT host, peers, probes, max_score FROM "
		    "(SELECT host, uniqMerge(peers) AS peers, "
		    "groupUniqArrayMerge(probes) AS probes FROM %1$s.host_peers_agg "
		    "WHERE period_start = toDateTime(%2$llu) GROUP BY host) "
		    "ANY LEFT JOIN (SELECT host, max(score) AS max_score "
		    "FROM %1$s.p2p_reports WHERE period_start = toDateTime(%2$llu) "
		    "GROUP BY host) USING host) "
		    "ANY LEFT JOIN (SELECT arrayJoin(arrayFilter(x -> x != '', "
		    "[if(src_local = 1, src, ''), if(dst_local = 1, dst, '')])) AS host, "
		    "count() AS bt_flows FROM %1$s.flows WHERE app = 'bittorrent' AND "
		    "last >= toDateTime(%2$llu) AND last < toDateTime(%3$llu) "
		    "GROUP BY host) USING host) WHERE score >= %6$u",
		    db, (unsigned long long)s0, (unsigned long long)s1, f->probe_id,
		    (unsigned long long)wall_ms(), f->threshold, PEERS_ALARM)) {
		failed(f, "writing the period's alarms");
		return -EIO;
	}
	return 0;
}

/* Sends what is pending, table by table; a table sent is cleared, so a
 * retry never sends it twice. Under no lock (the sender owns pending). */
static bool send_pending(struct fleet *f)
{
	char q[128];

	if (!f->schema_ok && create_schema(f))
		return false;
	f->schema_ok = true;
	for (int t = 0; t < T__MAX; t++) {
		struct sbuf *b = &f->pending[t];

		if (!b->len)
			continue;
		snprintf(q, sizeof(q), "INSERT INTO %s.%s FORMAT JSONEachRow", f->url.db,
			 table_names[t]);
		if (clickhouse_http_run(f->http, q, b->p, b->len, NULL)) {
			failed(f, table_names[t]);
			return false;
		}
		pthread_mutex_lock(&f->lock);
		f->stats.rows_sent += b->rows;
		f->stats.buffered -= b->len;
		pthread_mutex_unlock(&f->lock);
		b->len = 0;
		b->rows = 0;
	}
	return true;
}

static void *sender_main(void *arg)
{
	struct fleet *f = arg;

	if (caps_effective() && caps_keep_only(0))
		log_warn("fleet sender: cannot give up capabilities; sending with them");
	pthread_mutex_lock(&f->lock);
	for (;;) {
		bool sent, stopping;

		if (!buffered(f->pending) && !f->n_jobs && !f->stopping) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
			continue;
		}
		stopping = f->stopping;
		pthread_mutex_unlock(&f->lock);
		sent = send_pending(f);
		while (sent && f->n_jobs) {
			uint64_t p0 = f->jobs[0];

			if (judge(f, p0)) {
				sent = false;
				break;
			}
			pthread_mutex_lock(&f->lock);
			memmove(f->jobs, f->jobs + 1, --f->n_jobs * sizeof(f->jobs[0]));
			f->stats.alarms_judged++;
			pthread_mutex_unlock(&f->lock);
		}
		pthread_mutex_lock(&f->lock);
		if (stopping)
			break;
		if (!sent) { /* the server is away: try again in a second */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += RETRY_MS / 1000;
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int fleet_open(struct fleet **out, const struct fleet_config *cfg)
{
	struct fleet *f = calloc(1, sizeof(*f));
	int rc;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	rc = fleet_check(cfg);
	if (rc) {
		free(f);
		return rc;
	}
	clickhouse_url_parse(cfg->url, &f->url);
	if (cfg->password_file) {
		read_password(cfg->password_file, f->password, sizeof(f->password));
		f->have_password = true;
	}
	if (cfg->probe_id)
		snprintf(f->probe_id, sizeof(f->probe_id), "%s", cfg->probe_id);
	else
		default_probe_id(f->probe_id);
	if (cfg->local)
		f->local = *cfg->local;
	else
		prefix_set_default(&f->local);
	f->period_ms = cfg->period_ms ? cfg->period_ms : 300000;
	f->grace_ms = cfg->grace_ms;
	f->threshold = cfg->threshold;
	f->max_buffer = cfg->max_buffer ? cfg->max_buffer : FLEET_DEFAULT_BUFFER;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->http = clickhouse_http_new(&f->url, f->have_password ? f->password : NULL);
	if (!f->http) {
		free(f);
		return -ENOMEM;
	}
	rc = -pthread_create(&f->thread, NULL, sender_main, f);
	if (rc) {
		log_error("cannot start the fleet sender: %s", strerror(-rc));
		clickhouse_http_free(f->http);
		free(f);
		return rc;
	}
	log_info("fleet store: ClickHouse at %s:%u, database %s, as probe %s", f->url.host,
		 f->url.port, f->url.db, f->probe_id);
	*out = f;
	return 0;
}

/* --- the pipeline's side ------------------------------------------------------ */

void fleet_add_flow(struct fleet *f, const struct flow_record *rec, const struct flow_class *fc)
{
	const struct flow_key *k = &rec->key;
	char src[64], dst[64];
	uint64_t p0 = rec->last_ms / f->period_ms * f->period_ms;

	json_format_addr(src, sizeof(src), k->src, k->ip_version);
	json_format_addr(dst, sizeof(dst), k->dst, k->ip_version);
	row(f, T_FLOWS,
	    "{\"probe_id\":\"%s\",\"ip_version\":%u,\"src\":\"%s\",\"dst\":\"%s\","
	    "\"sport\":%u,\"dport\":%u,\"proto\":%u,\"packets\":%llu,\"bytes\":%llu,"
	    "\"first\":%llu,\"first_ms\":%u,\"last\":%llu,\"last_ms\":%u,"
	    "\"tcp_flags\":%u,\"ifindex\":%u,\"vlan\":%u,\"app\":\"%s\","
	    "\"end_reason\":\"%s\",\"tos\":%u,\"ttl_min\":%u,\"ttl_max\":%u,"
	    "\"src_as\":%u,\"dst_as\":%u,\"src_local\":%u,\"dst_local\":%u}",
	    f->probe_id, k->ip_version, src, dst, k->sport, k->dport, k->proto,
	    (unsigned long long)rec->packets, (unsigned long long)rec->bytes,
	    (unsigned long long)(rec->first_ms / 1000), (unsigned)(rec->first_ms % 1000),
	    (unsigned long long)(rec->last_ms / 1000), (unsigned)(rec->last_ms % 1000),
	    rec->tcp_flags, (unsigned)k->ifindex, (unsigned)k->vlan,
	    fc->bittorrent ? "bittorrent" : "", flow_end_reason_name(rec->end_reason), rec->tos,
	    rec->ttl_min, rec->ttl_max, rec->src_as, rec->dst_as, !!(fc->local & FLOW_LOCAL_SRC),
	    !!(fc->local & FLOW_LOCAL_DST));
	if (fc->local & FLOW_LOCAL_SRC)
		row(f, T_PEERS,
		    "{\"probe_id\":\"%s\",\"host\":\"%s\","
		    "\"period_start\":%llu,\"peer\":\"%s\"}",
		    f->probe_id, src, (unsigned long long)(p0 / 1000), dst);
	if (fc->local & FLOW_LOCAL_DST)
		row(f, T_PEERS,
		    "{\"probe_id\":\"%s\",\"host\":\"%s\","
		    "\"period_start\":%llu,\"peer\":\"%s\"}",
		    f->probe_id, dst, (unsigned long long)(p0 / 1000), src);
}

/* "2026-12-05T02:05:00.000Z" to ms; 0 if not. */
static uint64_t iso_ms(const char *s)
{
	struct tm tm = {};
	unsigned int ms = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3uZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (uint64_t)timegm(&tm) * 1000 + ms;
}

static void put_json_row(struct fleet *f, int t, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text)
		row(f, t, "%s", text);
	else
		f->dropped_filling++;
	free(text);
	json_decref(o);
}

void fleet_add_event_line(struct fleet *f, const char *line, size_t len, uint64_t now_ms)
{
	json_t *o = json_loadb(line, len, 0, NULL), *row_o;
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *host = json_string_value(json_object_get(o, "host"));
	char *text;

	if (!type || !strcmp(type, "flow")) { /* flows: fleet_add_flow */
		json_decref(o);
		return;
	}
	if (!host)
		host = json_string_value(json_object_get(o, "src"));
	text = strndup(line, len);
	if (!strcmp(type, "p2p_host") && host && text) {
		uint64_t p0 = iso_ms(json_string_value(json_object_get(o, "period_start")));

		put_json_row(f, T_REPORTS,
			     json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s}", "probe_id",
				       f->probe_id, "time", (json_int_t)(now_ms / 1000), "host",
				       host, "period_start", (json_int_t)(p0 / 1000), "score",
				       json_integer_value(json_object_get(o, "score")), "peers",
				       json_integer_value(json_object_get(o, "peers")), "bt_flows",
				       json_integer_value(json_object_get(o, "bt_flows")), "line",
				       text));
	}
	row_o = text ? json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}", "probe_id", f->probe_id, "time",
				 (json_int_t)(now_ms / 1000), "time_ms",
				 (json_int_t)(now_ms % 1000), "type", type, "host",
				 host ? host : "", "line", text) :
		       NULL;
	put_json_row(f, T_EVENTS, row_o);
	free(text);
	json_decref(o);
}

void fleet_tick(struct fleet *f, uint64_t now_ms)
{
	pthread_mutex_lock(&f->lock);
	f->stats.rows_dropped += f->dropped_filling;
	f->dropped_filling = 0;
	if (!buffered(f->pending) && buffered(f->filling)) {
		for (int t = 0; t < T__MAX; t++) {
			struct sbuf b = f->pending[t];

			f->pending[t] = f->filling[t];
			f->filling[t] = b;
			f->filling[t].len = f->filling[t].rows = 0;
		}
		f->stats.buffered = buffered(f->pending);
		pthread_cond_broadcast(&f->cond);
	}
	/* A period is judged once every probe's records of it should be in:
	 * grace after its end (the longest a flow waits in a cache). */
	if (!f->next_period)
		f->next_period = now_ms / f->period_ms * f->period_ms;
	while (now_ms >= f->next_period + f->period_ms + f->grace_ms) {
		if (f->n_jobs < MAX_JOBS)
			f->jobs[f->n_jobs++] = f->next_period;
		f->next_period += f->period_ms;
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
}

void fleet_get_stats(struct fleet *f, struct fleet_stats *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->stats;
	out->buffered += buffered(f->filling);
	pthread_mutex_unlock(&f->lock);
}

void fleet_close(struct fleet *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	/* What the pipeline still holds joins what the sender holds. */
	for (int t = 0; t < T__MAX; t++) {
		struct sbuf *p = &f->pending[t], *b = &f->filling[t];

		if (!b->len)
			continue;
		if (p->len + b->len > p->cap) {
			char *n = realloc(p->p, p->len + b->len);

			if (!n) {
				f->stats.rows_dropped += b->rows;
				continue;
			}
			p->p = n;
			p->cap = p->len + b->len;
		}
		memcpy(p->p + p->len, b->p, b->len);
		p->len += b->len;
		p->rows += b->rows;
	}
	f->stats.rows_dropped += f->dropped_filling;
	f->stopping = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	if (rows_of(f->pending)) {
		log_warn("fleet store: %llu rows not sent at exit (the server did "
			 "not answer)",
			 (unsigned long long)rows_of(f->pending));
		f->stats.rows_dropped += rows_of(f->pending);
	}
	for (int t = 0; t < T__MAX; t++) {
		free(f->pending[t].p);
		free(f->filling[t].p);
	}
	clickhouse_http_free(f->http);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
