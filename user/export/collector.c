// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Collector addresses and their sockets. Sends never block: a slow or dead
 * collector costs a counted error, never a stalled drain loop (the kernel
 * tables fill while the daemon waits, and a full table means evictions a
 * blocking send would have caused for nothing). A socket that is merely
 * full gets a bounded queue; beyond it, packets are dropped and counted.
 */
#include <errno.h>
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

#define CLOSE_WAIT_STEPS 50
#define CLOSE_WAIT_STEP_MS 10 /* 0.5 s at most a collector */

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
				  "addresses as [2001:db8::1]:2055)", spec);
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
		log_error("collector '%s': port '%s' is not a number from 1 to 65535",
			  spec, port_str);
		return -EINVAL;
	}

	err = getaddrinfo(host, port_str, &hints, &res);
	if (err) {
		log_error("collector '%s': cannot resolve '%s': %s (give an IP address, "
			  "or a name this host can resolve)", spec, host,
			  gai_strerror(err));
		return -EINVAL;
	}
	memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
	c->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int collector_open(struct collector *c)
{
	int err;

	c->fd = socket(c->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		log_error("collector %s: cannot create a UDP socket: %s", c->spec,
			  strerror(-err));
		return err_runtime(err);
	}
	if (connect(c->fd, (struct sockaddr *)&c->addr, c->addr_len) != 0) {
		err = -errno;
		log_error("collector %s: %s (is there a route to it?)", c->spec,
			  strerror(-err));
		close(c->fd);
		c->fd = -1;
		return err_runtime(err);
	}
	return 0;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
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
		 "(export_errors in flowprobe stats)", c->spec, what, strerror(err),
		 (unsigned long long)losses);
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
		log_loss(c, ECONNREFUSED, "an earlier export packet was refused "
			 "(is the collector running?)");
		n = send(c->fd, buf, len, 0);
	}
	if (n == (ssize_t)len) {
		c->packets_sent++;
		return 0;
	}
	return n >= 0 ? EMSGSIZE : errno;
}

void collector_flush_queue(struct collector *c)
{
	while (c->queue_len && c->fd >= 0) {
		struct collector_packet *p = &c->queue[c->queue_head];
		int err = try_send(c, p->buf, p->len);

		if (err && is_backpressure(err))
			return; /* still full: keep the rest, in order */
		if (err) {
			/* Waited, then refused: lost after all. */
			c->send_errors++;
			log_loss(c, err, "queued export packet refused");
		}
		free(p->buf);
		p->buf = NULL;
		c->queue_head = (c->queue_head + 1) % COLLECTOR_QUEUE_MAX;
		c->queue_len--;
	}
}

static int enqueue(struct collector *c, const uint8_t *buf, size_t len)
{
	struct collector_packet *p;

	if (c->queue_len >= COLLECTOR_QUEUE_MAX) {
		c->queue_drops++;
		log_loss(c, ENOBUFS, "too slow: its queue of "
			 COLLECTOR_QUEUE_MAX_STR " export packets is full, dropping");
		return -ENOBUFS;
	}
	p = &c->queue[(c->queue_head + c->queue_len) % COLLECTOR_QUEUE_MAX];
	p->buf = malloc(len);
	if (!p->buf) {
		c->queue_drops++;
		return -ENOMEM;
	}
	memcpy(p->buf, buf, len);
	p->len = len;
	c->queue_len++;
	return 0;
}

int collector_send(struct collector *c, const uint8_t *buf, size_t len)
{
	int err;

	if (c->fd < 0)
		return -EBADF;
	collector_flush_queue(c);
	/* Behind a queue, a packet waits its turn: collectors see sequence
	 * numbers in order. */
	if (c->queue_len)
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
	/* At exit a slow collector gets a moment (bounded: exit must not
	 * hang on a collector that never reads) to take what waits. */
	for (int i = 0; i < CLOSE_WAIT_STEPS && c->queue_len && c->fd >= 0; i++) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

		poll(&pfd, 1, CLOSE_WAIT_STEP_MS);
		collector_flush_queue(c);
	}
	if (c->queue_len)
		log_warn("collector %s: %u export packets still queued at exit, "
			 "dropped", c->spec, c->queue_len);
	while (c->queue_len) {
		free(c->queue[c->queue_head].buf);
		c->queue[c->queue_head].buf = NULL;
		c->queue_head = (c->queue_head + 1) % COLLECTOR_QUEUE_MAX;
		c->queue_len--;
		c->queue_drops++;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
