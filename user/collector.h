/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A NetFlow collector address given as HOST:PORT ([v6addr]:PORT for IPv6
 * literals), resolved once at start, and the connected UDP socket that
 * sends to it. One socket per collector for the probe's lifetime, so each
 * collector always sees the same source port.
 */
#ifndef COLLECTOR_H
#define COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct collector {
	char spec[300];	      /* as the user wrote it */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;
	uint64_t send_errors;
	int last_errno;	      /* to log a failure once, not per packet */
};

/* Parses and resolves spec; returns EXIT_OK or EXIT_USAGE with a message. */
int collector_parse(struct collector *c, const char *spec);

/* Opens the UDP socket; returns EXIT_OK or EXIT_RUNTIME with a message. */
int collector_open(struct collector *c);

/* Sends one datagram without blocking; returns 0 or a negative errno. */
int collector_send(struct collector *c, const uint8_t *buf, size_t len);

void collector_close(struct collector *c);

#endif /* COLLECTOR_H */
