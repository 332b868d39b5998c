// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The enrich stage (enrich.h): one prefix lookup and one hash per end of
 * a record, one AS lookup per end with a table.
 */
#include <stdint.h>
#include "daemon/enrich.h"

_Static_assert(PREFIX_SET_MAX <= INT16_MAX, "a prefix index fits flow_class");

void enrich_flow(const struct enrich_config *cfg, struct flow_record *rec, struct flow_class *out)
{
	const struct flow_key *k = &rec->key;
	const uint8_t *end[2] = { k->src, k->dst };

	out->local = FLOW_LOCAL_NEITHER;
	out->bittorrent = rec->app == APP_BITTORRENT;
	out->remote_as = 0;
	for (int i = FLOW_END_SRC; i <= FLOW_END_DST; i++) {
		int p = cfg->local ? prefix_set_find(cfg->local, k->ip_version, end[i]) : -1;

		out->prefix[i] = (int16_t)p;
		if (p >= 0)
			out->local |= i == FLOW_END_SRC ? FLOW_LOCAL_SRC : FLOW_LOCAL_DST;
		out->hash[i] = flow_addr_hash(k->ip_version, end[i]);
	}
	if (!cfg->asn)
		return;
	asn_table_annotate(cfg->asn, rec);
	if (out->local == FLOW_LOCAL_SRC)
		out->remote_as = rec->dst_as;
	else if (out->local == FLOW_LOCAL_DST)
		out->remote_as = rec->src_as;
}
