// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The route cache reader (routes.h). A bucket read by syscall per
 * exported record, about a microsecond: what the exporters spend on a
 * record anyway, and no copy of the cache to keep in step with the
 * kernel's.
 */
#include <string.h>
#include <bpf/bpf.h>
#include "flowprobe_limits.h"
#include "route.h"
#include "flowprobe.skel.h"
#include "datapath/routes.h"

void routes_init(struct routes *r, struct flowprobe_bpf *skel)
{
	memset(r, 0, sizeof(r[0]));
	r->fd = -1;
	/* The loaded program's settings: a pinned probe taken over keeps its
	 * own, its seed among them. */
	if (skel && skel->rodata->route_lookups) {
		r->fd = bpf_map__fd(skel->maps.routes);
		r->seed = skel->rodata->hash_seed;
	}
}

void routes_annotate(struct routes *r, struct flow_record *rec)
{
	struct route_key k = { .ifindex = rec->key.ifindex, .ip_version = rec->key.ip_version };
	struct route_bucket b;
	__u32 idx;

	if (r->fd < 0)
		return;
	memcpy(k.dst, rec->key.dst, sizeof(k.dst));
	idx = route_bucket_of(&k, r->seed, ROUTE_CACHE_ENTRIES / ROUTE_WAYS);
	if (bpf_map_lookup_elem(r->fd, &idx, &b) == 0) {
		for (int i = 0; i < ROUTE_WAYS; i++) {
			const struct route_way *w = &b.way[i];

			if (w->check != route_check(w) || memcmp(&w->key, &k, sizeof(k)) != 0)
				continue;
			if (w->val.status != 0) {
				r->unrouted++;
				return;
			}
			rec->out_ifindex = w->val.egress_ifindex;
			memcpy(rec->next_hop, w->val.next_hop, sizeof(rec->next_hop));
			return;
		}
	}
	r->missing++;
}
