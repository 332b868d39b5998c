// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Opening the database: pragmas, tables, functions.
 */
#include <errno.h>
#include <stdio.h>
#include "lib/log.h"
#include "store/schema.h"
#include "store/sql_functions.h"

/* Host columns: the same in minutes and hours. */
#define COUNT_COLUMNS                                                                 \
	"flows INTEGER NOT NULL DEFAULT 0, bt_flows INTEGER NOT NULL DEFAULT 0, "     \
	"resets INTEGER NOT NULL DEFAULT 0, forged INTEGER NOT NULL DEFAULT 0, "      \
	"packets_in INTEGER NOT NULL DEFAULT 0, "                                     \
	"packets_out INTEGER NOT NULL DEFAULT 0, "                                    \
	"bytes_in INTEGER NOT NULL DEFAULT 0, bytes_out INTEGER NOT NULL DEFAULT 0, " \
	"peers BLOB, ports TEXT"

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
	/* WITHOUT ROWID: the primary key is the table, no second b-tree. */
	"CREATE TABLE IF NOT EXISTS host_minutes(host TEXT NOT NULL, "
	"minute INTEGER NOT NULL, " COUNT_COLUMNS ", PRIMARY KEY(host, minute)) "
	"WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS host_hours(host TEXT NOT NULL, "
	"hour INTEGER NOT NULL, " COUNT_COLUMNS ", PRIMARY KEY(host, hour)) "
	"WITHOUT ROWID;"
	/* Retention and rollup delete by time across all hosts. */
	"CREATE INDEX IF NOT EXISTS host_minutes_minute ON host_minutes(minute);"
	"CREATE TABLE IF NOT EXISTS events(time_ms INTEGER NOT NULL, "
	"type TEXT NOT NULL, host TEXT, line TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS events_time ON events(time_ms);"
	"CREATE INDEX IF NOT EXISTS events_host ON events(host, time_ms);"
	"CREATE TABLE IF NOT EXISTS alarms(time_ms INTEGER NOT NULL, "
	"host TEXT NOT NULL, score INTEGER NOT NULL, peers INTEGER, "
	"line TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS alarms_host ON alarms(host, time_ms);"
	"CREATE TABLE IF NOT EXISTS curve(time_ms INTEGER NOT NULL, "
	"interface TEXT NOT NULL, utilisation REAL, active_flows REAL);"
	"CREATE INDEX IF NOT EXISTS curve_time ON curve(time_ms);"
	"INSERT OR IGNORE INTO meta VALUES('schema_version', 1);";

static int fail(sqlite3 *db, const char *path, const char *what, int err)
{
	log_error("history database %s: %s: %s (check the --state-dir's "
		  "permissions and free space, or move the file away)",
		  path, what, db ? sqlite3_errmsg(db) : "out of memory");
	sqlite3_close(db);
	return err;
}

int store_schema_open(const char *path, bool read_only, sqlite3 **out)
{
	int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return fail(db, path, "cannot open", rc == SQLITE_CANTOPEN ? -ENOENT : -EIO);
	/* A reader waits out a checkpoint rather than failing. */
	sqlite3_busy_timeout(db, 2000);
	if (!read_only) {
		/* WAL: readers never block the writer; NORMAL: a power cut
		 * may lose the last commits, never corrupts the file. */
		rc = sqlite3_exec(db,
				  "PRAGMA journal_mode=WAL;"
				  "PRAGMA synchronous=NORMAL;",
				  NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, schema_sql, NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			log_error("history database %s: cannot create the tables: %s "
				  "(check the --state-dir's permissions and free space)",
				  path, msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			sqlite3_close(db);
			return rc == SQLITE_READONLY || rc == SQLITE_PERM ? -EACCES : -EIO;
		}
	}
	if (store_sql_functions_register(db) != SQLITE_OK)
		return fail(db, path, "cannot register its functions", -ENOMEM);
	*out = db;
	return 0;
}
