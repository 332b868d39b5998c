/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SQL functions the store's statements use, registered on each
 * connection: minutes merge into hours and periods inside the database.
 *
 *   hll_merge(a, b)      registers of a and b merged (upserts)
 *   hll_merge_agg(x)     aggregate: all rows' registers merged
 *   hll_count(x)         the estimate of distinct peers behind x
 *   ports_merge(a, b)    two top-port texts merged (upserts)
 *   ports_merge_agg(x)   aggregate: all rows' top ports merged
 *
 * A blob or text the store did not write is an SQL error, not a guess.
 */
#ifndef STORE_SQL_FUNCTIONS_H
#define STORE_SQL_FUNCTIONS_H

#include <sqlite3.h>

/* SQLITE_OK or an SQLite error code. */
int store_sql_functions_register(sqlite3 *db);

#endif /* STORE_SQL_FUNCTIONS_H */
