// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Collector addresses and their sockets. Sends never block: a slow or dead
 * collector costs a counted error, never a stalled drain loop (the kernel
 * tables fill while the daemon waits, and a full table means evictions a
 * blocking send would have caused for nothing). Packets leave at most at
 * the collector's rate (pacer.h); those ahead of their time, and those a
 * merely full socket refused, wait in a bounded queue; beyond it, packets
 * are dropped and counted.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "export/collector.h"
#include "lib/errors.h"
#include "lib/log.h"

/* TCP: the first wait before connecting again, and the longest. */
#define RECONNECT_FIRST_NS 1000000000ull
#define RECONNECT_MAX_NS 30000000000ull
/* At close, a queue gets the time it needs at the rate plus this. */
#define CLOSE_SLACK_NS 1000000000ull
/* Unpaced, a full socket is polled this often while draining. */
#define DRAIN_POLL_MS 10

int collector_parse(struct collector *c, const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	char host[256], *end;
	const char *colon, *port_str;
	unsigned long port;
	size_t host_len;
	int err;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	snprintf(c->spec, sizeof(c->spec), "%s", spec);
	if (strncmp(spec, "ipfix+tcp://", 12) == 0) {
		c->ipfix = c->tcp = true;
		spec += 12;
	} else if (strncmp(spec, "ipfix://", 8) == 0) {
		c->ipfix = true;
		spec += 8;
	} else if (strstr(spec, "://")) {
		log_error("collector '%s': unknown scheme; give HOST:PORT (NetFlow "
			  "v9) or ipfix://HOST:PORT",
			  spec);
		return -EINVAL;
	}

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':') {
			log_error("collector '%s': expected [IPv6-address]:PORT", spec);
			return -EINVAL;
		}
		host_len = close - spec - 1;
		memcpy(host, spec + 1, host_len < sizeof(host) ? host_len : 0);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || strchr(spec, ':') != colon) {
			log_error("collector '%s': expected HOST:PORT (write IPv6 "
				  "addresses as [2001:db8::1]:2055)",
				  spec);
			return -EINVAL;
		}
		host_len = colon - spec;
		memcpy(host, spec, host_len < sizeof(host) ? host_len : 0);
	}
	if (host_len == 0 || host_len >= sizeof(host)) {
		log_error("collector '%s': missing or too long host", spec);
		return -EINVAL;
	}
	host[host_len] = '\0';

	port_str = colon + 1;
	errno = 0;
	port = strtoul(port_str, &end, 10);
	if (!*port_str || *end || errno || port < 1 || port > 65535) {
		log_error("collector '%s': port '%s' is not a number from 1 to 65535", spec,
			  port_str);
		return -EINVAL;
	}

	err = getaddrinfo(host, port_str, &hints, &res);
	if (err) {
		log_error("collector '%s': cannot resolve '%s': %s (give an IP address, "
			  "or a name this host can resolve)",
			  spec, host, gai_strerror(err));
		return -EINVAL;
	}
	memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
	c->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int collector_parse_source(struct sockaddr_storage *out, socklen_t *out_len, const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[INET6_ADDRSTRLEN + 8];
	const char *port = "0", *colon = strrchr(spec, ':');
	unsigned long p = 0;
	char *end;
	int err;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || (close[1] && close[1] != ':') ||
		    (size_t)(close - spec - 1) >= sizeof(host)) {
			log_error("--source '%s': expected ADDRESS, ADDRESS:PORT or "
				  "[IPv6-address]:PORT",
				  spec);
			return -EINVAL;
		}
		memcpy(host, spec + 1, close - spec - 1);
		host[close - spec - 1] = '\0';
		if (close[1])
			port = close + 2;
	} else if (colon && strchr(spec, ':') == colon) {
		/* One colon: IPv4 address and port. */
		if ((size_t)(colon - spec) >= sizeof(host)) {
			log_error("--source '%s': address too long", spec);
			return -EINVAL;
		}
		memcpy(host, spec, colon - spec);
		host[colon - spec] = '\0';
		port = colon + 1;
	} else {
		snprintf(host, sizeof(host), "%s", spec); /* bare address */
	}
	errno = 0;
	p = strtoul(port, &end, 10);
	if (!*port || *end || errno || p > 65535) {
		log_error("--source '%s': port '%s' is not a number from 0 to 65535", spec, port);
		return -EINVAL;
	}
	err = getaddrinfo(host, port, &hints, &res);
	if (err) {
		log_error("--source '%s': '%s' is not an IP address: %s (give this "
			  "host's address, e.g. 192.0.2.1 or [2001:db8::1]:4739)",
			  spec, host, gai_strerror(err));
		return -EINVAL;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int tcp_connect(struct collector *c);

int collector_open(struct collector *c)
{
	int err;

	if (c->tcp) {
		pacer_init(&c->pacer, c->rate);
		c->backoff_ns = RECONNECT_FIRST_NS;
		return tcp_connect(c);
	}
	c->fd = socket(c->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		log_error("collector %s: cannot create a UDP socket: %s", c->spec, strerror(-err));
		return err_runtime(err);
	}
	/* Several collectors may send from one --source port. */
	if (c->source_len &&
	    setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) != 0)
		log_warn("collector %s: SO_REUSEADDR: %s", c->spec, strerror(errno));
	if (c->source_len && bind(c->fd, (struct sockaddr *)&c->source, c->source_len) != 0) {
		err = -errno;
		log_error("collector %s: cannot send from the --source address: %s "
			  "(is it an address of this host, of the collector's "
			  "family, and its port free?)",
			  c->spec, strerror(-err));
		close(c->fd);
		c->fd = -1;
		return err_runtime(err);
	}
	if (connect(c->fd, (struct sockaddr *)&c->addr, c->addr_len) != 0) {
		err = -errno;
		log_error("collector %s: %s (is there a route to it?)", c->spec, strerror(-err));
		close(c->fd);
		c->fd = -1;
		return err_runtime(err);
	}
	pacer_init(&c->pacer, c->rate);
	return 0;
}

uint64_t collector_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t monotonic_ms(void)
{
	return collector_monotonic_ns() / 1000000;
}

static unsigned int queue_bound(const struct collector *c)
{
	return c->queue_max ? c->queue_max : COLLECTOR_QUEUE_DEFAULT;
}

/* The socket is full for now: waiting helps, unlike a refusal. */
static bool is_backpressure(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* One line per failure kind, then at most one per COLLECTOR_LOG_EVERY_MS
 * with what was lost since: a dead collector must not flood the log. */
static void log_loss(struct collector *c, int err, const char *what)
{
	uint64_t now = monotonic_ms();
	uint64_t losses = c->send_errors + c->queue_drops + c->refused;

	if (err == c->last_errno && now - c->logged_ms < COLLECTOR_LOG_EVERY_MS)
		return;
	log_warn("collector %s: %s: %s; %llu export packets lost to it so far "
		 "(export_errors in flowprobe stats)",
		 c->spec, what, strerror(err), (unsigned long long)losses);
	c->last_errno = err;
	c->logged_ms = now;
	c->logged_losses = losses;
}

/* Returns the send's errno, 0 when the whole datagram went out. */
static int try_send(struct collector *c, const uint8_t *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, 0);

	/* ECONNREFUSED reports an ICMP port unreachable for an earlier
	 * datagram: that one was lost (counted), this one was not sent yet, so
	 * send it again. */
	if (n < 0 && errno == ECONNREFUSED) {
		c->refused++;
		log_loss(c, ECONNREFUSED,
			 "an earlier export packet was refused "
			 "(is the collector running?)");
		n = send(c->fd, buf, len, 0);
	}
	if (n == (ssize_t)len) {
		pacer_take(&c->pacer, collector_monotonic_ns());
		c->packets_sent++;
		return 0;
	}
	return n >= 0 ? EMSGSIZE : errno;
}

static int enqueue(struct collector *c, const uint8_t *buf, size_t len);

/* Puts a packet at the head of the queue (the preamble of a new TCP
 * session); a full queue loses its newest packet, counted. */
static void push_front(struct collector *c, const uint8_t *buf, size_t len)
{
	unsigned int max = queue_bound(c);
	struct collector_packet *p;

	if (!c->queue_len) {
		if (enqueue(c, buf, len) == 0)
			c->queue[c->queue_head].preamble = true;
		return;
	}
	if (c->queue_len >= max) {
		p = &c->queue[(c->queue_head + c->queue_len - 1) % max];
		free(p->buf);
		p->buf = NULL;
		c->queue_len--;
		c->queue_drops++;
	}
	p = &c->queue[(c->queue_head + max - 1) % max];
	p->buf = malloc(len);
	if (!p->buf) {
		c->queue_drops++;
		return;
	}
	memcpy(p->buf, buf, len);
	p->len = len;
	p->preamble = true;
	c->queue_head = (c->queue_head + max - 1) % max;
	c->queue_len++;
}

int collector_set_preamble(struct collector *c, const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	free(c->preamble);
	c->preamble = copy;
	c->preamble_len = len;
	return 0;
}

/* The connection is lost (or never came): what waits stays queued, the
 * message half sent goes again whole, and a new connection is tried
 * after a wait that doubles up to RECONNECT_MAX_NS. */
static void tcp_down(struct collector *c, int err)
{
	log_loss(c, err,
		 c->connecting ? "cannot connect, will retry" : "connection lost, reconnecting");
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->connecting = false;
	c->head_off = 0;
	c->reconnect_ns = collector_monotonic_ns() + c->backoff_ns;
	c->backoff_ns = c->backoff_ns * 2 > RECONNECT_MAX_NS ? RECONNECT_MAX_NS : c->backoff_ns * 2;
}

static void tcp_established(struct collector *c)
{
	c->connecting = false;
	c->backoff_ns = RECONNECT_FIRST_NS;
	c->sessions++;
	c->session_base_set = false;
	/* A new session knows no templates: they go first. The first
	 * session's were queued by the exporter at start. */
	if (c->sessions > 1) {
		log_info("collector %s: connected again; templates go first", c->spec);
		if (c->preamble)
			push_front(c, c->preamble, c->preamble_len);
	}
}

static int tcp_connect(struct collector *c)
{
	int err;

	c->fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		log_error("collector %s: cannot create a TCP socket: %s", c->spec, strerror(-err));
		return err_runtime(err);
	}
	if (c->source_len && bind(c->fd, (struct sockaddr *)&c->source, c->source_len) != 0) {
		err = -errno;
		log_error("collector %s: cannot send from the --source address: %s", c->spec,
			  strerror(-err));
		close(c->fd);
		c->fd = -1;
		return err_runtime(err);
	}
	c->connecting = true;
	if (connect(c->fd, (struct sockaddr *)&c->addr, c->addr_len) == 0)
		tcp_established(c);
	else if (errno != EINPROGRESS)
		tcp_down(c, errno);
	return 0;
}

/* Connects again when due, finishes a connect in progress; true when the
 * connection is up. */
static bool tcp_ready(struct collector *c)
{
	if (c->fd < 0) {
		if (collector_monotonic_ns() < c->reconnect_ns || tcp_connect(c) != 0 || c->fd < 0)
			return false;
	}
	if (c->connecting) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		int err = 0;
		socklen_t len = sizeof(err);

		if (poll(&pfd, 1, 0) <= 0)
			return false;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err) {
			tcp_down(c, err);
			return false;
		}
		tcp_established(c);
	}
	/* A collector that closed its end (it stopped, restarted) would take
	 * the next message into the void before the reset arrives: see the
	 * FIN first and connect again. IPFIX collectors send nothing back. */
	struct pollfd pfd = { .fd = c->fd, .events = POLLRDHUP };

	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
		tcp_down(c, ECONNRESET);
		/* At once, this time: the next wake-up connects. */
		c->reconnect_ns = collector_monotonic_ns();
		return false;
	}
	return true;
}

/*
 * IPFIX over TCP: each connection is a Transport Session, whose sequence
 * numbers count the data records sent in it (RFC 7011 3.1, 10.4.2). The
 * encoder numbers one stream across sessions; in a session a message is
 * numbered its stream number less that of the first message the session
 * carried after its templates (which are numbered 0). A message dropped
 * from a full queue still leaves its gap: loss the collector should see.
 * Numbered as it starts to leave, from the number kept aside, so a
 * message resent whole on the next connection is numbered for that one.
 */
static void ipfix_session_number(struct collector *c, struct collector_packet *p)
{
	uint32_t seq;

	if (!c->ipfix || p->preamble || p->len < 16)
		return;
	if (!c->session_base_set) {
		c->session_base = p->stream_seq;
		c->session_base_set = true;
	}
	seq = p->stream_seq - c->session_base;
	p->buf[8] = seq >> 24;
	p->buf[9] = seq >> 16;
	p->buf[10] = seq >> 8;
	p->buf[11] = seq;
}

/* Sends the oldest waiting packet over TCP, resuming a partial send.
 * 0 when all of it has gone, EAGAIN when the socket is full. */
static int tcp_send_head(struct collector *c)
{
	struct collector_packet *p = &c->queue[c->queue_head];
	ssize_t n;

	if (c->head_off == 0)
		ipfix_session_number(c, p);
	n = send(c->fd, p->buf + c->head_off, p->len - c->head_off, MSG_NOSIGNAL);

	if (n < 0) {
		if (is_backpressure(errno))
			return EAGAIN;
		tcp_down(c, errno);
		return EAGAIN; /* stays queued for the next connection */
	}
	c->head_off += n;
	if (c->head_off < p->len)
		return EAGAIN;
	c->head_off = 0;
	pacer_take(&c->pacer, collector_monotonic_ns());
	c->packets_sent++;
	return 0;
}

void collector_flush_queue(struct collector *c)
{
	if (c->tcp && c->queue_len && !tcp_ready(c))
		return;
	while (c->queue_len && c->fd >= 0) {
		struct collector_packet *p = &c->queue[c->queue_head];
		int err;

		if (!pacer_ready(&c->pacer, collector_monotonic_ns()))
			return; /* not yet: the rest leave at the next wake */
		err = c->tcp ? tcp_send_head(c) : try_send(c, p->buf, p->len);

		if (err && is_backpressure(err))
			return; /* still full: keep the rest, in order */
		if (err) {
			/* Waited, then refused: lost after all. */
			c->send_errors++;
			log_loss(c, err, "queued export packet refused");
		}
		free(p->buf);
		p->buf = NULL;
		c->queue_head = (c->queue_head + 1) % queue_bound(c);
		c->queue_len--;
	}
}

unsigned int collector_room(const struct collector *c)
{
	return queue_bound(c) - c->queue_len;
}

uint64_t collector_wake_ns(const struct collector *c)
{
	uint64_t now = collector_monotonic_ns(), wake;

	if (c->tcp && c->queue_len && c->fd < 0 && !c->closed)
		return c->reconnect_ns > now ? c->reconnect_ns : now + 1;
	if (c->tcp && c->queue_len && c->connecting)
		return now + DRAIN_POLL_MS * 1000000ull;
	if (!c->queue_len || c->fd < 0)
		return 0;
	wake = pacer_wake_ns(&c->pacer, now);
	/* Due already, yet waiting: the socket is full; look again soon
	 * rather than spin. */
	if (wake && wake <= now)
		wake = now + DRAIN_POLL_MS * 1000000ull;
	return wake;
}

static void sleep_until_ns(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000ull, .tv_nsec = t % 1000000000ull };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void collector_drain(struct collector *c, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now;

		collector_flush_queue(c);
		if (!c->queue_len || (c->fd < 0 && !c->tcp))
			return;
		now = collector_monotonic_ns();
		if (now >= deadline_ns)
			return;
		if (c->tcp && (c->fd < 0 || c->connecting)) {
			uint64_t until = collector_wake_ns(c);

			sleep_until_ns(until < deadline_ns ? until : deadline_ns);
		} else if (!pacer_ready(&c->pacer, now)) {
			uint64_t until = pacer_wake_ns(&c->pacer, now);

			sleep_until_ns(until < deadline_ns ? until : deadline_ns);
		} else {
			/* The pacer allows, the socket is full: wait for room. */
			struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

			poll(&pfd, 1, DRAIN_POLL_MS);
		}
	}
}

static int enqueue(struct collector *c, const uint8_t *buf, size_t len)
{
	struct collector_packet *p;

	if (!c->queue) {
		c->queue = calloc(queue_bound(c), sizeof(*c->queue));
		if (!c->queue) {
			c->queue_drops++;
			return -ENOMEM;
		}
	}
	if (c->queue_len >= queue_bound(c)) {
		c->queue_drops++;
		log_loss(c, ENOBUFS,
			 "too slow: its queue of export packets "
			 "(--export-queue) is full, dropping");
		return -ENOBUFS;
	}
	p = &c->queue[(c->queue_head + c->queue_len) % queue_bound(c)];
	p->buf = malloc(len);
	if (!p->buf) {
		c->queue_drops++;
		return -ENOMEM;
	}
	memcpy(p->buf, buf, len);
	p->len = len;
	p->preamble = false;
	p->stream_seq = len >= 12 ? (uint32_t)buf[8] << 24 | buf[9] << 16 | buf[10] << 8 | buf[11] : 0;
	c->queue_len++;
	return 0;
}

int collector_send(struct collector *c, const uint8_t *buf, size_t len)
{
	int err;

	if (c->tcp) {
		/* Everything waits its turn in the queue, which resumes
		 * partial sends and outlives reconnections. */
		err = enqueue(c, buf, len);
		collector_flush_queue(c);
		return err;
	}
	if (c->fd < 0)
		return -EBADF;
	collector_flush_queue(c);
	/* Behind a queue, a packet waits its turn: collectors see sequence
	 * numbers in order. Ahead of its time, it waits for the pacer. */
	if (c->queue_len || !pacer_ready(&c->pacer, collector_monotonic_ns()))
		return enqueue(c, buf, len);
	err = try_send(c, buf, len);
	if (!err)
		return 0;
	if (is_backpressure(err))
		return enqueue(c, buf, len);
	c->send_errors++;
	log_loss(c, err, "send failed");
	return -err;
}

void collector_close(struct collector *c)
{
	/* At exit what waits gets the time it needs at the rate, plus a
	 * second for a slow collector (bounded: exit must not hang on a
	 * collector that never reads). */
	if (c->queue_len && (c->fd >= 0 || c->tcp)) {
		uint64_t need = c->pacer.interval_ns * c->queue_len;

		collector_drain(c, collector_monotonic_ns() + need + CLOSE_SLACK_NS);
	}
	if (c->queue_len)
		log_warn("collector %s: %u export packets still queued at exit, "
			 "dropped",
			 c->spec, c->queue_len);
	while (c->queue_len) {
		free(c->queue[c->queue_head].buf);
		c->queue[c->queue_head].buf = NULL;
		c->queue_head = (c->queue_head + 1) % queue_bound(c);
		c->queue_len--;
		c->queue_drops++;
	}
	free(c->queue);
	c->queue = NULL;
	free(c->preamble);
	c->preamble = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->closed = true;
}
