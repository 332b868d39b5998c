// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The route cache reader (routes.h). A lookup by syscall per exported
 * record, about a microsecond: what the exporters spend on a record
 * anyway, and no copy of the cache to keep in step with the kernel's.
 */
#include <string.h>
#include <bpf/bpf.h>
#include "route.h"
#include "flowprobe.skel.h"
#include "datapath/routes.h"

void routes_init(struct routes *r, struct flowprobe_bpf *skel)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	/* The loaded program's setting: a pinned probe taken over keeps its own. */
	if (skel && skel->rodata->route_lookups)
		r->fd = bpf_map__fd(skel->maps.routes);
}

void routes_annotate(struct routes *r, struct flow_record *rec)
{
	struct route_key k = { .ifindex = rec->key.ifindex, .ip_version = rec->key.ip_version };
	struct route_value v;

	if (r->fd < 0)
		return;
	memcpy(k.dst, rec->key.dst, sizeof(k.dst));
	if (bpf_map_lookup_elem(r->fd, &k, &v) != 0) {
		r->missing++;
		return;
	}
	if (v.status != 0) {
		r->unrouted++;
		return;
	}
	rec->out_ifindex = v.egress_ifindex;
	memcpy(rec->next_hop, v.next_hop, sizeof(rec->next_hop));
}
