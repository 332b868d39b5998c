// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The mergeable top-k of service ports and its text form.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/top_ports.h"

void top_ports_add(struct port_top *t, uint8_t proto, uint16_t port, uint32_t flows)
{
	int min = 0;

	for (int i = 0; i < TOP_PORTS; i++) {
		if (t->e[i].flows && t->e[i].proto == proto && t->e[i].port == port) {
			t->e[i].flows += flows;
			return;
		}
		if (t->e[i].flows < t->e[min].flows)
			min = i;
	}
	t->e[min].proto = proto;
	t->e[min].port = port;
	t->e[min].flows += flows;
}

void top_ports_merge(struct port_top *into, const struct port_top *from)
{
	for (int i = 0; i < TOP_PORTS; i++)
		if (from->e[i].flows)
			top_ports_add(into, from->e[i].proto, from->e[i].port, from->e[i].flows);
}

static int by_flows(const void *a, const void *b)
{
	const struct port_top *x = a, *y = b; /* first entries only */

	return (y->e[0].flows > x->e[0].flows) - (y->e[0].flows < x->e[0].flows);
}

void top_ports_format(const struct port_top *t, char out[TOP_PORTS_TEXT_MAX])
{
	struct port_top sorted[TOP_PORTS] = {};
	size_t n = 0;

	/* One entry per element so qsort can order them. */
	for (int i = 0; i < TOP_PORTS; i++)
		sorted[i].e[0] = t->e[i];
	qsort(sorted, TOP_PORTS, sizeof(sorted[0]), by_flows);
	out[0] = 0;
	for (int i = 0; i < TOP_PORTS && sorted[i].e[0].flows; i++)
		n += snprintf(out + n, TOP_PORTS_TEXT_MAX - n, "%s%u/%u:%u", n ? " " : "",
			      sorted[i].e[0].proto, sorted[i].e[0].port, sorted[i].e[0].flows);
}

int top_ports_merge_text(struct port_top *t, const char *text)
{
	const char *p = text;

	while (p && *p) {
		unsigned int proto, port, flows;
		int used = 0;

		if (sscanf(p, "%u/%u:%u%n", &proto, &port, &flows, &used) != 3 || proto > 255 ||
		    port > 65535)
			return -EINVAL;
		top_ports_add(t, proto, port, flows);
		p += used;
		while (*p == ' ')
			p++;
	}
	return 0;
}
