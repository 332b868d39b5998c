/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prefix-to-AS table (`--asn-table FILE`): which autonomous system
 * originates an address, for the per-AS interval rows (grouping by remote
 * network as the Vuze ISP monitor grouped by ISP) and for SRC_AS/DST_AS in
 * the NetFlow records. Reads the text format of CAIDA's Routeviews
 * prefix2as files, "prefix<TAB>length<TAB>asn" (IPv4 and IPv6 alike),
 * and, for hand-written tables, "10.0.0.0/8 64500". Lookups are longest
 * prefix match, turned into one binary search by flattening the nested
 * prefixes into disjoint ranges at load time.
 */
#ifndef ASN_TABLE_H
#define ASN_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/flow_record.h"

struct asn_table;

/*
 * Loads path. Returns 0 with *out set, or -EINVAL after one log_error
 * line naming the file, the line number and what was wrong, or that the
 * file cannot be read (-ENOMEM when out of memory). Accepted lines, fields separated by
 * blanks or tabs:
 *   192.0.2.0	24	64500		prefix2as: address, length, origin
 *   192.0.2.0/24 64500			CIDR, origin
 * The origin is an AS number (asplain, 0..4294967295), a multi-origin
 * "64500_64501" (MOAS: the first is kept) or an AS set "64500,64501"
 * (the first is kept). Blank lines and lines starting with '#' are
 * skipped; host bits are cleared; for a prefix listed twice the last line
 * wins.
 */
int asn_table_load(struct asn_table **out, const char *path);

/* The same, from an open stream; name is what messages call it. */
int asn_table_load_stream(struct asn_table **out, FILE *in, const char *name);

void asn_table_free(struct asn_table *t);

/* Prefixes loaded (IPv4 + IPv6). */
size_t asn_table_prefixes(const struct asn_table *t);

/* The origin AS of addr (flow key layout, version 4 or 6); 0 unknown. */
uint32_t asn_table_lookup(const struct asn_table *t, uint8_t ip_version, const uint8_t addr[16]);

/* Fills rec->src_as and rec->dst_as (0 where unknown, or t NULL). */
void asn_table_annotate(const struct asn_table *t, struct flow_record *rec);

#endif /* ASN_TABLE_H */
