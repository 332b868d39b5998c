/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The dashboard's views over a whole fleet (docs/fleet.md): what
 * `flowprobe dashboard --store clickhouse://...` serves, built from the
 * probes' rows in ClickHouse instead of one probe's memory, in the same
 * shapes as history.h's views (so web/app.js shows either), with every
 * host's routers, and an optional router filter (router=PROBE_ID).
 * Queries run on the HTTP threads, one at a time (a mutex), each bounded
 * by the HTTP client's timeouts.
 */
#ifndef FLEET_VIEW_H
#define FLEET_VIEW_H

#include <jansson.h>
#include "store/clickhouse_url.h"

struct fleet_view;

/* password: NULL for none. NULL on out of memory. */
struct fleet_view *fleet_view_new(const struct clickhouse_url *url, const char *password);
void fleet_view_free(struct fleet_view *v);

/* router: a probe id or NULL (all). NULL when ClickHouse cannot answer
 * (the reason in *why, static until the next call) or router is not a
 * probe id. */
json_t *fleet_hosts_json(struct fleet_view *v, const char *router, const char **why);
json_t *fleet_host_json(struct fleet_view *v, const char *addr, const char *router,
			const char **why);
json_t *fleet_events_json(struct fleet_view *v, const char *type, const char **why);
json_t *fleet_curve_json(struct fleet_view *v, const char *router, const char **why);
json_t *fleet_stats_json(struct fleet_view *v, const char **why);

#endif /* FLEET_VIEW_H */
