/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The embedded database's file and tables (docs/history.md describes
 * them): opened in WAL mode, so the HTTP thread reads while the writer
 * commits, and a crash loses at most the transaction being written,
 * never the file.
 *
 *   host_minutes  per local host and minute: flows, packets and bytes
 *                 in and out, BitTorrent flows, resets (forged), peers
 *                 (HyperLogLog blob), ports (top-k text)
 *   host_hours    the same per hour, for minutes older than two days
 *   events        every JSON Lines event but flows and curve samples
 *   alarms        P2P host reports at or above the threshold
 *   curve         utilisation samples per interface
 */
#ifndef STORE_SCHEMA_H
#define STORE_SCHEMA_H

#include <stdbool.h>
#include <sqlite3.h>

#define STORE_FILE "flowprobe.db"
#define STORE_SCHEMA_VERSION 1

/*
 * Opens (read_only: without creating) the database at path, with the
 * store's pragmas, tables (created if missing) and SQL functions.
 * 0, or -EIO/-EACCES/-ENOENT after one log line naming the file.
 */
int store_schema_open(const char *path, bool read_only, sqlite3 **out);

#endif /* STORE_SCHEMA_H */
