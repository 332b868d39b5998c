/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where the JSON Lines stream goes: stdout (--json), a file (--events
 * FILE, reopened on SIGHUP so logrotate can move it away) and the
 * dashboard's history, all at once. The exporter and the analyses keep
 * writing to one FILE *; this one splits it by lines behind that FILE
 * (fopencookie), so none of the writers needs to know about the others.
 */
#ifndef EVENT_LOG_H
#define EVENT_LOG_H

#include <stdbool.h>
#include <stdio.h>

struct history;
struct store;
struct fleet;

struct event_log;

/*
 * to_stdout: copy every line to stdout. path: append every line to this
 * file (NULL: none). history: hand every line to it (NULL: none).
 * NULL on failure, after one log line naming the file.
 */
struct event_log *event_log_open(bool to_stdout, const char *path, struct history *history);

/* Every line also goes to the embedded history (NULL: none). Lines are
 * written on the pipeline thread, the store's feeding side. */
void event_log_set_store(struct event_log *el, struct store *store);
/* And to the fleet's ClickHouse (NULL: none). */
void event_log_set_fleet(struct event_log *el, struct fleet *fleet);

/* The FILE * to hand to the writers (exporter.json). */
FILE *event_log_stream(struct event_log *el);

/* After SIGHUP: close and reopen the file by its name. 0 or -1 (logged;
 * lines go on to stdout and the history). */
int event_log_reopen(struct event_log *el);

/* Lines the file refused (disk full, ...). */
unsigned long long event_log_errors(const struct event_log *el);

void event_log_close(struct event_log *el);

#endif /* EVENT_LOG_H */
