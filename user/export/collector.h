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

/*
 * Export packets a collector's socket could not take at once (EAGAIN,
 * ENOBUFS: a slow collector, a full socket buffer) wait here, in order, and
 * go out at the next send or flush. Beyond this bound they are dropped and
 * counted: a collector that never catches up costs at most this many
 * packets of memory (64 x at most 8952 bytes: 573 KB), never a stalled
 * drain loop.
 */
#define COLLECTOR_QUEUE_MAX 64
#define COLLECTOR_QUEUE_MAX_STR "64"
/* A collector that keeps failing is named in the log at most this often. */
#define COLLECTOR_LOG_EVERY_MS 60000

struct collector_packet {
	uint8_t *buf;
	size_t len;
};

struct collector {
	char spec[300];	      /* as the user wrote it */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;
	uint64_t send_errors; /* packets refused by the socket (dead collector) */
	uint64_t queue_drops; /* packets dropped: queue full, or left at close */
	uint64_t refused;     /* earlier packets the collector's host refused
			       * (ICMP port unreachable: nothing listens) */
	uint64_t packets_sent;
	int last_errno;	      /* to log a failure once, not per packet */
	uint64_t logged_ms;   /* monotonic ms of the last failure logged */
	uint64_t logged_losses; /* send_errors + queue_drops when logged */
	/* ring of waiting packets: head is the oldest */
	struct collector_packet queue[COLLECTOR_QUEUE_MAX];
	unsigned int queue_head, queue_len;
};

/* Parses and resolves spec; returns 0 or -EINVAL with a message. */
int collector_parse(struct collector *c, const char *spec);

/* Opens the UDP socket; returns 0 or a negative errno with a message
 * (never one of lib/errors.h's kinds: a failure while running). */
int collector_open(struct collector *c);

/*
 * Sends one datagram without blocking, after any that wait in the queue.
 * Returns 0 when it was sent or queued, or a negative errno when it was
 * dropped (queue full, or the collector refuses: ECONNREFUSED, ...).
 */
int collector_send(struct collector *c, const uint8_t *buf, size_t len);

/* Sends what waits in the queue, as far as the socket takes it. */
void collector_flush_queue(struct collector *c);

/* Flushes once more, counts what still waits as dropped, closes. */
void collector_close(struct collector *c);

#endif /* COLLECTOR_H */
