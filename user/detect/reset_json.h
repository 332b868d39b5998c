/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * JSON Lines for reset verdicts (--json): one {"type":"reset"} object per
 * decided RST and one {"type":"reset_connection"} object per connection
 * summary, built with jansson like json_output.c. "type", "verdict",
 * "signals", "time", "src", "dst", "sport", "dport", "ttl", "ip_id" and
 * "seq" of a reset are the design's contract: never renamed.
 */
#ifndef RESET_JSON_H
#define RESET_JSON_H

#include <stdint.h>
#include <stdio.h>
#include "detect/reset_analysis.h"

/*
 * One {"type":"reset",...} line for a RST seen at wall_ms (ms since the
 * epoch): the contract's fields, then ack, window, tcp_flags, ip_version,
 * ifindex, vlan, established, bittorrent, rtt_ms (null when unknown) and
 * "facts", the history the signals were judged against:
 *   facts.sender: ttl_last, ttl_min, ttl_max, last_ip_id, ipid_run,
 *                 snd_max, last_tsval (null without timestamps), packets
 *   facts.peer:   max_ack, last_ip_id, ttl_last
 *   facts.tsval (the RST's, null without), facts.idle_s (seconds since
 *   the sender's last packet other than a RST, null when none was seen),
 *   facts.rst_count (RSTs it sent before this one), facts.df.
 * Returns 0, -ENOMEM or -EIO.
 */
int json_write_reset(FILE *out, const struct reset_report *r, uint64_t wall_ms);

/*
 * One {"type":"reset_connection",...} line: verdict (the worst), signals
 * (their union), resets, forged, suspect, blocked, bittorrent,
 * established, first and last (the first and last RST; wall_ms is the
 * wall time of the last one, the first is placed by the probe-clock
 * difference), and the endpoints as the first RST travelled: src, dst,
 * sport, dport, ip_version, ifindex, vlan. Returns 0, -ENOMEM or -EIO.
 */
int json_write_reset_connection(FILE *out, const struct conn_report *c, uint64_t wall_ms);

#endif /* RESET_JSON_H */
