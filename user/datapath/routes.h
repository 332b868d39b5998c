/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The daemon's side of the route cache (include/route.h): at export, each
 * flow record of a probe running live inline gets the egress interface
 * and next hop the datapath found for its destination when the flow
 * entered the flow table. One bucket read per exported record.
 */
#ifndef ROUTES_H
#define ROUTES_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/flow_record.h"

struct route_bucket;

struct routes {
	int fd; /* the route cache, or -1: tap mode, replay, --no-routes */
	const struct route_bucket *map; /* the cache mapped read-only, or
					   NULL: read by syscall */
	size_t map_bytes;
	uint32_t buckets; /* the map's */
	uint32_t seed; /* of the bucket hash: the program's hash_seed */
	uint64_t missing; /* records exported with no cache entry */
	uint64_t unrouted; /* records whose lookup found no egress */
};

struct flowprobe_bpf;

/* The cache of a loaded probe, if it routes (live inline), mapped into
 * our memory (or, when the map cannot be mapped, read by syscall);
 * otherwise r->fd is -1 and routes_annotate does nothing. */
void routes_init(struct routes *r, struct flowprobe_bpf *skel);

/* Unmaps the cache; the probe keeps its map. */
void routes_free(struct routes *r);

/* Sets rec->out_ifindex and rec->next_hop from the cache (left 0 when the
 * cache has no entry or the lookup found no egress, each counted). */
void routes_annotate(struct routes *r, struct flow_record *rec);

#endif /* ROUTES_H */
