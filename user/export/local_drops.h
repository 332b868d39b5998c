/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Export packets a collector on this host lost in its own receive buffer.
 * Over UDP the probe cannot know what a collector's host drops, except
 * when that host is this one, in this network namespace: the kernel
 * counts each UDP socket's drops in /proc/net/udp and /proc/net/udp6.
 * Counting them means a collector that cannot keep up (a default buffer
 * on a busy host) is no silent loss there; see docs/operations.md, "Paced
 * export".
 */
#ifndef LOCAL_DROPS_H
#define LOCAL_DROPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Sums the drops of the UDP sockets bound to addr's port and address (or
 * the wildcard) in this namespace, from the tables at udp_path and
 * udp6_path (NULL: /proc/net/udp, /proc/net/udp6). 0 and *drops set when
 * at least one such socket exists; -ENOENT when none does (the collector
 * is elsewhere); another negative errno when a table cannot be read. */
int local_udp_drops(const struct sockaddr_storage *addr, const char *udp_path,
		    const char *udp6_path, uint64_t *drops);

/* Whether addr is an address of this host, in this namespace (a socket
 * can be bound to it): a wildcard socket in the tables also matches
 * collectors elsewhere, so the exporter asks this first. */
bool udp_address_is_local(const struct sockaddr_storage *addr);

#endif /* LOCAL_DROPS_H */
