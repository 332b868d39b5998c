/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A host's busiest service ports in a period, kept as a small top-k that
 * merges: minutes into hours, hours into a before/after period. Stored as
 * text ("6/6881:120 17/53:4", protocol/port:flows, busiest first) so the
 * database stays readable with the sqlite3 shell.
 *
 * Space-saving: a newcomer replaces the smallest and inherits its count,
 * so the heavy hitters stay and counts are upper bounds (the dashboard's
 * in-memory top does the same).
 */
#ifndef TOP_PORTS_H
#define TOP_PORTS_H

#include <stddef.h>
#include <stdint.h>

#define TOP_PORTS 8
/* "255/65535:4294967295 " eight times, and the terminator. */
#define TOP_PORTS_TEXT_MAX (TOP_PORTS * 22 + 1)

struct port_top {
	struct {
		uint16_t port;
		uint8_t proto;
		uint32_t flows; /* 0: unused */
	} e[TOP_PORTS];
};

void top_ports_add(struct port_top *t, uint8_t proto, uint16_t port, uint32_t flows);
void top_ports_merge(struct port_top *into, const struct port_top *from);
/* Busiest first; "" when empty. */
void top_ports_format(const struct port_top *t, char out[TOP_PORTS_TEXT_MAX]);
/* Merges text as top_ports_format writes it: 0 or -EINVAL. */
int top_ports_merge_text(struct port_top *t, const char *text);

#endif /* TOP_PORTS_H */
