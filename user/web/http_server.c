// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libmicrohttpd glue: address and token checks, the few static files of
 * the dashboard (a fixed list: no path from a URL ever reaches open()),
 * and the API views of http_api.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <microhttpd.h>
#include "lib/build_info.h"
#include "lib/capabilities.h"
#include "web/http_api.h"
#include "web/http_auth.h"
#include "web/http_guard.h"
#include "web/http_server.h"
#include "lib/log.h"

/* Debian's libjs-chart.js: JavaScript libraries live once per system,
 * under /usr/share/javascript, not in each application (Debian policy). */
#ifndef CHARTJS_PATH
#define CHARTJS_PATH "/usr/share/javascript/chart.js/chart.min.js"
#endif
#define TOKEN_MAX 256
/* Against clients that hold connections: a request line and headers
 * must arrive whole within REQUEST_DEADLINE_S (http_guard.c); an idle
 * connection is closed after IDLE_TIMEOUT_S; one address holds at most
 * PER_ADDRESS_LIMIT connections (a browser opens six), all addresses
 * CONNECTION_LIMIT; a request (line, headers, arguments) gets at most
 * REQUEST_MEMORY bytes, beyond which libmicrohttpd answers 431 or 414. */
#define REQUEST_DEADLINE_S 5
#define IDLE_TIMEOUT_S 15
#define PER_ADDRESS_LIMIT 16
#define CONNECTION_LIMIT 512
#define REQUEST_MEMORY (64u << 10)
#define STATIC_MAX (4u << 20)

struct http_server {
	struct MHD_Daemon *mhd;
	struct history *history;
	struct store *store; /* NULL: no stored history */
	struct fleet_view *fleet; /* NULL: one probe's views */
	struct http_guard *guard;
	bool loopback; /* listening on loopback: Host is checked */
	unsigned int port;
	char token[TOKEN_MAX]; /* empty: none required */
	char web_dir[PATH_MAX]; /* empty: no dashboard files */
};

/* URL -> files to try, in order, under the web directory (a path that
 * starts with '/' is the system's own copy). */
static const struct {
	const char *url, *type, *files[2];
} static_files[] = {
	{ "/", "text/html; charset=utf-8", { "index.html" } },
	{ "/index.html", "text/html; charset=utf-8", { "index.html" } },
	{ "/app.js", "text/javascript; charset=utf-8", { "app.js" } },
	{ "/style.css", "text/css; charset=utf-8", { "style.css" } },
	{ "/vendor/chart.js",
	  "text/javascript; charset=utf-8",
	  { "vendor/chart.min.js", CHARTJS_PATH } },
};

static int parse_listen(const char *s, struct sockaddr_storage *ss, bool *loopback)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	unsigned long port;
	char *end;
	size_t hl;

	if (!colon || colon == s)
		goto bad;
	hl = colon - s;
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			goto bad;
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, s, hl);
	host[hl] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		goto bad;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
		return 0;
	}
bad:
	return -1;
}

static int read_token(const char *path, char token[TOKEN_MAX])
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		log_error("--http-token-file %s: cannot open: %s", path, strerror(errno));
		return -EINVAL;
	}
	n = fread(token, 1, TOKEN_MAX - 1, f);
	fclose(f);
	token[n] = 0;
	token[strcspn(token, "\r\n")] = 0;
	if (strlen(token) < 16) {
		log_error("--http-token-file %s: the token (first line) must have at "
			  "least 16 characters, e.g. from 'openssl rand -hex 16'",
			  path);
		return -EINVAL;
	}
	return 0;
}

int http_config_check(const struct http_config *cfg)
{
	struct sockaddr_storage ss;
	bool loopback;
	char token[TOKEN_MAX];

	if (parse_listen(cfg->listen, &ss, &loopback) != 0) {
		log_error("--http '%s': not ADDRESS:PORT (e.g. 127.0.0.1:8080 or "
			  "[::1]:8080)",
			  cfg->listen);
		return -EINVAL;
	}
	if (!loopback && !cfg->token_file) {
		log_error("--http %s is not a loopback address: give "
			  "--http-token-file FILE so only holders of the token see "
			  "customers' traffic",
			  cfg->listen);
		return -EINVAL;
	}
	return cfg->token_file ? read_token(cfg->token_file, token) : 0;
}

static struct http_value value_of(struct MHD_Connection *c, enum MHD_ValueKind kind,
				  const char *key)
{
	struct http_value v = { NULL, 0 };

	if (MHD_lookup_connection_value_n(c, kind, key, strlen(key), &v.s, &v.len) != MHD_YES)
		v.s = NULL;
	return v;
}

static bool authorised(struct http_server *s, struct MHD_Connection *c, const char *url)
{
	struct http_credentials cr = {
		.authorization = value_of(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		.cookie = value_of(c, MHD_COOKIE_KIND, HTTP_TOKEN_COOKIE),
		.query = value_of(c, MHD_GET_ARGUMENT_KIND, "token"),
		.is_page = !strcmp(url, "/"),
	};

	return http_auth_allows(s->token, &cr);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, int status, const char *type,
				  char *body, size_t len, bool no_store)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* The page's URL may carry the token once: never pass it on. */
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* Everything the page loads comes from this server: no CDN. */
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:");
	if (no_store)
		MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *msg)
{
	char *body = strdup(msg);

	return send_reply(c, status, "text/plain; charset=utf-8", body, body ? strlen(body) : 0,
			  true);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(STATIC_MAX);
	*len = buf ? fread(buf, 1, STATIC_MAX, f) : 0;
	fclose(f);
	return buf;
}

static enum MHD_Result serve_static(struct http_server *s, struct MHD_Connection *c,
				    const char *url)
{
	for (size_t i = 0; i < sizeof(static_files) / sizeof(static_files[0]); i++) {
		if (strcmp(url, static_files[i].url))
			continue;
		for (int k = 0; k < 2 && static_files[i].files[k] && s->web_dir[0]; k++) {
			char path[PATH_MAX + 64];
			size_t len;
			char *body;

			const char *file = static_files[i].files[k];

			if (file[0] == '/')
				snprintf(path, sizeof(path), "%s", file);
			else
				snprintf(path, sizeof(path), "%s/%s", s->web_dir, file);
			body = slurp(path, &len);
			if (body)
				return send_reply(c, 200, static_files[i].type, body, len, false);
		}
		return send_text(c, 404,
				 "dashboard files not found: install them "
				 "(make install) or give --web-dir; the API "
				 "(/api/hosts, /metrics) works without them\n");
	}
	return send_text(c, 404,
			 "not found: try / (dashboard), /api/hosts, "
			 "/api/events, /api/curve, /api/stats or /metrics\n");
}

/* "/?token=T" from a browser: the token goes into a cookie the page's
 * other requests carry (HttpOnly: no script reads it; SameSite=Strict: no
 * other site's page sends it), and the browser goes on to "/" so the
 * token leaves the address bar and the history. */
static enum MHD_Result set_token_cookie(struct http_server *s, struct MHD_Connection *c)
{
	char cookie[TOKEN_MAX + 96];
	struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	snprintf(cookie, sizeof(cookie),
		 HTTP_TOKEN_COOKIE "=%s; Path=/; HttpOnly; "
				   "SameSite=Strict",
		 s->token);
	MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct http_server *s = cls;
	struct http_reply rep;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	http_guard_request_arrived(s->guard, c);
	if (s->loopback &&
	    !http_host_is_loopback(
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST), s->port))
		return send_text(c, 403,
				 "this server answers only requests to "
				 "127.0.0.1, localhost or [::1] (Host header)\n");
	/* Nothing here changes state: no method but reading is served. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return send_text(c, 405, "read-only: only GET and HEAD\n");
	if (!authorised(s, c, url))
		return send_text(c, 401,
				 "token required: header 'Authorization: "
				 "Bearer TOKEN', or open /?token=TOKEN once in a "
				 "browser\n");
	if (s->token[0] && !strcmp(url, "/") &&
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"))
		return set_token_cookie(s, c);
	if (!http_api_handles(url))
		return serve_static(s, c, url);
	http_api_query(&(struct http_api_sources){ s->history, s->store, s->fleet }, url,
		       &(struct http_api_args){
			       .type = arg(c, "type"),
			       .from = arg(c, "from"),
			       .to = arg(c, "to"),
			       .host = arg(c, "host"),
			       .before = arg(c, "before"),
			       .after = arg(c, "after"),
			       .router = arg(c, "router"),
			       .now_ms = wall_ms(),
		       },
		       &rep);
	if (!rep.body)
		return send_text(c, 500, "out of memory\n");
	return send_reply(c, rep.status, rep.content_type, rep.body, rep.len, true);
}

static bool has_index(const char *dir)
{
	char path[PATH_MAX + 16];

	if ((size_t)snprintf(path, sizeof(path), "%s/index.html", dir) >= sizeof(path))
		return false;
	return access(path, R_OK) == 0;
}

/* --web-dir, else web/ next to the binary (the build tree), else the
 * installed copy. */
static void find_web_dir(struct http_server *s, const char *given)
{
	char exe[PATH_MAX], cand[PATH_MAX + 8];
	ssize_t n;

	if (given) {
		snprintf(s->web_dir, sizeof(s->web_dir), "%s", given);
		if (!has_index(given))
			log_warn("--web-dir %s has no index.html: the dashboard page "
				 "will be missing",
				 given);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		if ((size_t)snprintf(cand, sizeof(cand), "%s/web", dirname(exe)) <
			    sizeof(s->web_dir) &&
		    has_index(cand)) {
			memcpy(s->web_dir, cand, strlen(cand) + 1);
			return;
		}
	}
	if (has_index(FLOWPROBE_WEB_DIR)) {
		snprintf(s->web_dir, sizeof(s->web_dir), "%s", FLOWPROBE_WEB_DIR);
		return;
	}
	log_warn("dashboard files not found (" FLOWPROBE_WEB_DIR " or web/ next "
		 "to the binary): serving the API and /metrics only");
}

/* The listening socket, made here: binding a port below 1024 needs a
 * capability that the server's threads will not have. */
static int listen_on(const struct sockaddr_storage *ss)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						    sizeof(struct sockaddr_in);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct web_start {
	struct http_server *s;
	unsigned int flags;
	int listen_fd;
};

/* In a thread of its own that first gives up every capability: the
 * server's threads (libmicrohttpd's, the guard's) are created here and
 * inherit none, so a flaw in HTTP parsing finds no privilege to use. */
static void *start_web_threads(void *arg)
{
	struct web_start *w = arg;
	struct http_server *s = w->s;
	/* Nothing to give up (`flowprobe dashboard` as a user): no warning. */
	int r = caps_effective() ? caps_keep_only(0) : 0;

	if (r != 0)
		log_warn("web: cannot give up capabilities (%s); serving with them", strerror(-r));
	if (http_guard_start(&s->guard, REQUEST_DEADLINE_S) != 0)
		return NULL;
	s->mhd = MHD_start_daemon(w->flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
				  w->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned int)CONNECTION_LIMIT,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				  (unsigned int)PER_ADDRESS_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				  (size_t)REQUEST_MEMORY, MHD_OPTION_NOTIFY_CONNECTION,
				  http_guard_on_connection, s->guard, MHD_OPTION_NOTIFY_COMPLETED,
				  http_guard_on_completed, s->guard, MHD_OPTION_END);
	if (!s->mhd) {
		http_guard_stop(s->guard);
		s->guard = NULL;
	}
	return NULL;
}

static int start_unprivileged(struct http_server *s, unsigned int flags, int listen_fd)
{
	struct web_start w = { s, flags, listen_fd };
	pthread_t t;

	if (pthread_create(&t, NULL, start_web_threads, &w) != 0) {
		close(listen_fd);
		return -1;
	}
	pthread_join(t, NULL);
	if (!s->mhd) {
		close(listen_fd);
		return -1;
	}
	return 0;
}

int http_server_start(struct http_server **out, const struct http_config *cfg, struct history *h)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	bool loopback;
	/* epoll where there is one: the connection limit is above select's. */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
	int rc = http_config_check(cfg);

	*out = NULL;
	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->history = h;
	s->store = cfg->store;
	s->fleet = cfg->fleet;
	parse_listen(cfg->listen, &ss, &loopback);
	if (cfg->token_file)
		read_token(cfg->token_file, s->token);
	find_web_dir(s, cfg->web_dir);
	s->loopback = loopback;
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						   ((struct sockaddr_in *)&ss)->sin_port);
	rc = listen_on(&ss);
	if (rc < 0 || start_unprivileged(s, flags, rc) != 0) {
		/* The web page is optional; counting and export are not. */
		log_warn("--http %s: cannot listen (%s): no dashboard or /metrics; "
			 "counting and export go on. Free the port, or choose "
			 "another with --http ADDR:PORT",
			 cfg->listen, rc < 0 ? strerror(-rc) : "cannot start the server");
		free(s);
		return 0;
	}
	log_info("dashboard at http://%s/%s%s", cfg->listen,
		 s->token[0] ? " (token required: " : "", s->token[0] ? "not loopback)" : "");
	*out = s;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	http_guard_stop(s->guard);
	free(s);
}
