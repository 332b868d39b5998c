// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The route cache reader (routes.h). The cache is mapped read-only and a
 * record's bucket copied out of it: a syscall per exported record cost
 * about a microsecond, as much as the rest of a record's export. The
 * datapath may be rewriting the way meanwhile; its check word, written
 * last, tells a torn copy from a whole one, and a torn way counts as no
 * entry. A probe whose cache cannot be mapped (pinned by an older build)
 * is read by syscall, as before.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "flowprobe_limits.h"
#include "route.h"
#include "flowprobe.skel.h"
#include "lib/log.h"
#include "datapath/routes.h"

void routes_init(struct routes *r, struct flowprobe_bpf *skel)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *m;

	memset(r, 0, sizeof(r[0]));
	r->fd = -1;
	/* The loaded program's settings: a pinned probe taken over keeps its
	 * own, its seed among them. */
	if (!skel || !skel->rodata->route_lookups)
		return;
	r->fd = bpf_map__fd(skel->maps.routes);
	r->seed = skel->rodata->hash_seed;
	r->buckets = bpf_map__max_entries(skel->maps.routes);
	r->map_bytes = (r->buckets * sizeof(struct route_bucket) + page - 1) / page * page;
	m = mmap(NULL, r->map_bytes, PROT_READ, MAP_SHARED, r->fd, 0);
	if (m != MAP_FAILED)
		r->map = m;
	else
		log_info("route cache read by syscall, a microsecond per exported record (%s; "
			 "a probe pinned by an older flowprobe: restart it without takeover to map it)",
			 strerror(errno));
}

void routes_free(struct routes *r)
{
	if (r->map)
		munmap((void *)r->map, r->map_bytes);
	r->map = NULL;
}

/* A copy of bucket idx, from the mapping or by syscall. */
static bool bucket_read(const struct routes *r, __u32 idx, struct route_bucket *b)
{
	if (!r->map)
		return bpf_map_lookup_elem(r->fd, &idx, b) == 0;
	if (idx >= r->buckets)
		return false;
	memcpy(b, &r->map[idx], sizeof(*b));
	return true;
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
	if (bucket_read(r, idx, &b)) {
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
