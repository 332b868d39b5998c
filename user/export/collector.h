/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A NetFlow collector address given as HOST:PORT ([v6addr]:PORT for IPv6
 * literals), resolved once at start, and the connected UDP socket that
 * sends to it. One socket per collector for the probe's lifetime, so each
 * collector always sees the same source port.
 */
#ifndef COLLECTOR_H
#define COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "export/pacer.h"

/*
 * Export packets wait here, in order, when the pacer (--export-rate) says
 * not yet or the socket could not take them (EAGAIN, ENOBUFS: a slow
 * collector, a full socket buffer); they go out as the pacer allows.
 * Beyond the bound (--export-queue) they are dropped and counted: a
 * collector that never catches up costs at most that many packets of
 * memory, never a stalled drain loop. The default holds 8192 packets
 * (11 MB at 1400 bytes, allocated as packets wait): about 140,000 flows,
 * two seconds of the default rate, so that what expires in one drain
 * interval is paced, not dropped; the daemon expires no more flows than
 * the queues have room for (exporter_room_flows) and keeps the rest for the
 * next interval.
 */
#define COLLECTOR_QUEUE_DEFAULT 8192
#define COLLECTOR_QUEUE_LIMIT (1u << 20)
/*
 * Default --export-rate, packets a second to each collector. 4,000 packets
 * of 1400 bytes are 46 Mbit/s, under 5% of a 1 Gbit/s path, and in each
 * 5 ms slice 20 packets (about 46 KB of socket buffer, 2.3 KB a datagram)
 * arrive at once: a default 208 KB receive buffer holds four such slices,
 * so a collector may pause 20 ms and lose nothing. At about 17 IPv4 flows
 * a packet that is some 68,000 flows a second; 1,000,000 flows take 15 s.
 */
#define COLLECTOR_DEFAULT_RATE 4000
/* A collector that keeps failing is named in the log at most this often. */
#define COLLECTOR_LOG_EVERY_MS 60000

struct collector_packet {
	uint8_t *buf;
	size_t len;
	/* IPFIX over TCP: the sequence number the encoder gave it (one
	 * numbering across sessions), and whether it is a session's opening
	 * templates (numbered 0 in every session). */
	uint32_t stream_seq;
	bool preamble;
};

struct collector {
	char spec[300]; /* as the user wrote it */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;
	bool ipfix; /* ipfix://HOST:PORT: IPFIX, not NetFlow v9 */
	bool tcp; /* ipfix+tcp://: a TCP connection, kept up */
	bool connecting; /* TCP: connect() in progress */
	size_t head_off; /* TCP: bytes of the oldest waiting packet sent */
	uint64_t reconnect_ns; /* TCP, down: when to connect again */
	uint64_t backoff_ns; /* TCP: the wait after the next failure */
	uint64_t sessions; /* TCP: connections established */
	/* IPFIX over TCP: stream_seq of the first message this session
	 * carried after its templates, once known. */
	uint32_t session_base;
	bool session_base_set;
	uint8_t *preamble; /* TCP: sent first on every new connection */
	size_t preamble_len;
	bool closed; /* collector_close done */
	/* UDP to a socket in this namespace (local_drops.h): what it lost in
	 * its receive buffer since the start. */
	bool local;
	uint64_t local_drops0, local_drops;
	uint64_t send_errors; /* packets refused by the socket (dead collector) */
	uint64_t queue_drops; /* packets dropped: queue full, or left at close */
	uint64_t refused; /* earlier packets the collector's host refused
			       * (ICMP port unreachable: nothing listens) */
	uint64_t packets_sent;
	int last_errno; /* to log a failure once, not per packet */
	uint64_t logged_ms; /* monotonic ms of the last failure logged */
	uint64_t logged_losses; /* send_errors + queue_drops when logged */
	/* ring of waiting packets, allocated at the first that waits: head is
	 * the oldest */
	struct collector_packet *queue;
	unsigned int queue_max; /* bound; 0: COLLECTOR_QUEUE_DEFAULT */
	unsigned int queue_head, queue_len;
	uint32_t rate; /* packets/s; 0: not paced */
	struct pacer pacer;
	/* Where the socket sends from (--source), or family AF_UNSPEC. */
	struct sockaddr_storage source;
	socklen_t source_len;
};

/* Parses and resolves spec (HOST:PORT, ipfix://HOST:PORT for IPFIX over
 * UDP, ipfix+tcp://HOST:PORT over TCP); returns 0 or -EINVAL with a
 * message. */
int collector_parse(struct collector *c, const char *spec);

/* Parses --source ADDR[:PORT] (a numeric address; IPv6 bare or as
 * [addr]:PORT; port 0 or none: any). 0 or -EINVAL with a message. */
int collector_parse_source(struct sockaddr_storage *out, socklen_t *out_len, const char *spec);

/* Opens the UDP socket (bound to the source, if one is set), or starts
 * connecting over TCP (a collector that is down is retried, not fatal); returns 0 or a negative errno with a message
 * (never one of lib/errors.h's kinds: a failure while running). */
int collector_open(struct collector *c);

/*
 * Sends one datagram without blocking, after any that wait in the queue.
 * Returns 0 when it was sent or queued, or a negative errno when it was
 * dropped (queue full, or the collector refuses: ECONNREFUSED, ...).
 */
int collector_send(struct collector *c, const uint8_t *buf, size_t len);

/* A message (the templates) sent first whenever a TCP connection is made
 * again, so the new session can decode what follows. Copied. */
int collector_set_preamble(struct collector *c, const uint8_t *buf, size_t len);

/* Sends what waits in the queue, as far as the pacer and the socket let it. */
void collector_flush_queue(struct collector *c);

/* Packets that may still be queued before the bound. */
unsigned int collector_room(const struct collector *c);

/* CLOCK_MONOTONIC ns when waiting packets may leave again; 0 when none
 * wait, or when only the socket holds them back (unpaced). */
uint64_t collector_wake_ns(const struct collector *c);

/* Sends what waits, paced, until the queue is empty or deadline_ns
 * (CLOCK_MONOTONIC) passes; blocks. */
void collector_drain(struct collector *c, uint64_t deadline_ns);

/* Drains (bounded by the time the queue needs at the rate, plus a
 * second), counts what still waits as dropped, closes. */
void collector_close(struct collector *c);

uint64_t collector_monotonic_ns(void);

#endif /* COLLECTOR_H */
