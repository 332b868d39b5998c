/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pipeline's enrich stage: each exported flow record is classified
 * once, before the exporters and the consumers see it. Which ends are
 * local (--local), the longest local prefix of each end, the origin ASes
 * (--asn-table: src_as and dst_as on the record, for NetFlow and JSON,
 * and the remote end's in the class), whether it is BitTorrent, and each
 * end's host hash. P2P hosts, the dashboard's history and the interval
 * counters take the class (struct flow_class, lib/flow_record.h) with the
 * record and ask the prefix set and the AS table nothing about it.
 */
#ifndef ENRICH_H
#define ENRICH_H

#include "detect/asn_table.h"
#include "detect/prefixes.h"
#include "lib/flow_record.h"

struct enrich_config {
	/* Not copied; NULL: no end is local. The consumers' prefix indexes
	 * (the interval counters' rows) are indexes into this same set. */
	const struct prefix_set *local;
	const struct asn_table *asn; /* NULL: no AS numbers */
};

/* Classifies rec into *out; with an AS table, also sets rec->src_as and
 * rec->dst_as (as asn_table_annotate does). */
void enrich_flow(const struct enrich_config *cfg, struct flow_record *rec, struct flow_class *out);

#endif /* ENRICH_H */
