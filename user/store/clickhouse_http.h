/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Talking to ClickHouse over its HTTP interface (libcurl): a statement,
 * or an INSERT whose rows (JSONEachRow) are the request body. Bounded in
 * time (connect 3 s, the whole request 15 s) so a slow server delays only
 * the fleet sender's thread. Not thread-safe: one sender uses one.
 */
#ifndef CLICKHOUSE_HTTP_H
#define CLICKHOUSE_HTTP_H

#include <stddef.h>
#include "store/clickhouse_url.h"

struct clickhouse_http;

/* password: NULL for none. NULL on out of memory. */
struct clickhouse_http *clickhouse_http_new(const struct clickhouse_url *url, const char *password);
void clickhouse_http_free(struct clickhouse_http *c);

/*
 * query: the statement (for an INSERT, up to FORMAT JSONEachRow), sent in
 * the URL; body: the rows, or NULL. On success 0 and, if out is not NULL,
 * the answer in *out (malloc'ed, NUL-terminated; the caller frees). On
 * failure -EIO (connection, timeout) or -EPROTO (the server said no) and
 * why(): one line for the log.
 */
int clickhouse_http_run(struct clickhouse_http *c, const char *query, const char *body,
			size_t body_len, char **out);
const char *clickhouse_http_why(const struct clickhouse_http *c);

#endif /* CLICKHOUSE_HTTP_H */
