// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Collector addresses and their sockets. Sends never block: a slow or dead
 * collector costs a counted error, never a stalled drain loop (the kernel
 * tables fill while the daemon waits, and a full table means evictions a
 * blocking send would have caused for nothing).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "collector.h"
#include "log.h"

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
			return EXIT_USAGE;
		}
		host_len = close - spec - 1;
		memcpy(host, spec + 1, host_len < sizeof(host) ? host_len : 0);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || strchr(spec, ':') != colon) {
			log_error("collector '%s': expected HOST:PORT (write IPv6 "
				  "addresses as [2001:db8::1]:2055)", spec);
			return EXIT_USAGE;
		}
		host_len = colon - spec;
		memcpy(host, spec, host_len < sizeof(host) ? host_len : 0);
	}
	if (host_len == 0 || host_len >= sizeof(host)) {
		log_error("collector '%s': missing or too long host", spec);
		return EXIT_USAGE;
	}
	host[host_len] = '\0';

	port_str = colon + 1;
	errno = 0;
	port = strtoul(port_str, &end, 10);
	if (!*port_str || *end || errno || port < 1 || port > 65535) {
		log_error("collector '%s': port '%s' is not a number from 1 to 65535",
			  spec, port_str);
		return EXIT_USAGE;
	}

	err = getaddrinfo(host, port_str, &hints, &res);
	if (err) {
		log_error("collector '%s': cannot resolve '%s': %s (give an IP address, "
			  "or a name this host can resolve)", spec, host,
			  gai_strerror(err));
		return EXIT_USAGE;
	}
	memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
	c->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return EXIT_OK;
}

int collector_open(struct collector *c)
{
	c->fd = socket(c->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		log_error("collector %s: cannot create a UDP socket: %s", c->spec,
			  strerror(errno));
		return EXIT_RUNTIME;
	}
	if (connect(c->fd, (struct sockaddr *)&c->addr, c->addr_len) != 0) {
		log_error("collector %s: %s (is there a route to it?)", c->spec,
			  strerror(errno));
		close(c->fd);
		c->fd = -1;
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int collector_send(struct collector *c, const uint8_t *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, 0);

	/* ECONNREFUSED reports an ICMP error for an earlier datagram: this one
	 * was not sent either, so retry it once. */
	if (n < 0 && errno == ECONNREFUSED)
		n = send(c->fd, buf, len, 0);
	if (n == (ssize_t)len) {
		c->last_errno = 0;
		return 0;
	}
	c->send_errors++;
	if (n >= 0)
		errno = EMSGSIZE;
	if (errno != c->last_errno)
		log_warn("collector %s: send failed: %s (counted in export_errors)",
			 c->spec, strerror(errno));
	c->last_errno = errno;
	return -errno;
}

void collector_close(struct collector *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
