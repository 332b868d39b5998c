// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A FILE * that splits what is written to it into lines and hands each
 * whole line to stdout, the --events file, the history and the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "daemon/event_log.h"
#include "lib/private_file.h"
#include "web/history.h"
#include "store/fleet.h"
#include "store/store.h"
#include "lib/log.h"

#define LINE_MAX_BYTES (1u << 20) /* longer lines are passed on in pieces */

struct event_log {
	bool to_stdout;
	char *path;
	FILE *file;
	struct history *history;
	struct store *store;
	struct fleet *fleet;
	FILE *stream;
	char *line;
	size_t len, cap;
	unsigned long long errors;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void emit(struct event_log *el, const char *line, size_t len)
{
	if (el->to_stdout) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
	}
	if (el->file) {
		fwrite(line, 1, len, el->file);
		if (fputc('\n', el->file) == EOF)
			el->errors++;
	}
	if (el->history || el->store || el->fleet) {
		uint64_t now = wall_ms();

		if (el->fleet)
			fleet_add_event_line(el->fleet, line, len, now);
		if (el->history)
			history_add_event_line(el->history, line, len, now);
		if (el->store)
			store_add_event_line(el->store, line, len, now);
	}
}

static ssize_t split_write(void *cookie, const char *buf, size_t size)
{
	struct event_log *el = cookie;

	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n' || el->len == LINE_MAX_BYTES) {
			emit(el, el->line, el->len);
			el->len = 0;
			if (buf[i] == '\n')
				continue;
		}
		if (el->len == el->cap) {
			size_t cap = el->cap ? el->cap * 2 : 4096;
			char *p = realloc(el->line, cap);

			if (!p)
				return i ? (ssize_t)i : -1;
			el->line = p;
			el->cap = cap;
		}
		el->line[el->len++] = buf[i];
	}
	/* Readers of stdout (a pipe, a test) see each object as it ends. */
	if (el->to_stdout)
		fflush(stdout);
	return size;
}

/* The writers flush after each batch: the file and stdout follow. */
static int split_flush_close(void *cookie)
{
	struct event_log *el = cookie;

	if (el->to_stdout)
		fflush(stdout);
	if (el->file && fflush(el->file) != 0)
		el->errors++;
	return 0;
}

static FILE *open_file(const char *path)
{
	FILE *f = private_file_append(path);

	if (!f && errno == ELOOP)
		log_error("--events %s: is a symbolic link; give the file itself "
			  "(customer addresses are never written through a link)",
			  path);
	else if (!f)
		log_error("--events %s: cannot open: %s (check the directory "
			  "exists and is writable)",
			  path, strerror(errno));
	return f;
}

struct event_log *event_log_open(bool to_stdout, const char *path, struct history *history)
{
	struct event_log *el = calloc(1, sizeof(*el));
	cookie_io_functions_t io = { .write = split_write };

	if (!el)
		return NULL;
	el->to_stdout = to_stdout;
	el->history = history;
	if (path) {
		el->path = strdup(path);
		el->file = open_file(path);
		if (!el->file) {
			event_log_close(el);
			return NULL;
		}
	}
	el->stream = fopencookie(el, "w", io);
	if (!el->stream) {
		event_log_close(el);
		return NULL;
	}
	/* Line buffered: each object reaches the split as soon as it ends. */
	setvbuf(el->stream, NULL, _IOLBF, 0);
	return el;
}

FILE *event_log_stream(struct event_log *el)
{
	return el->stream;
}

int event_log_reopen(struct event_log *el)
{
	if (!el->path)
		return 0;
	fflush(el->stream);
	if (el->file)
		fclose(el->file);
	el->file = open_file(el->path);
	if (!el->file)
		return -1;
	log_info("--events: reopened %s", el->path);
	return 0;
}

unsigned long long event_log_errors(const struct event_log *el)
{
	return el->errors;
}

void event_log_close(struct event_log *el)
{
	if (!el)
		return;
	if (el->stream) {
		fflush(el->stream);
		fclose(el->stream);
	}
	split_flush_close(el);
	if (el->file)
		fclose(el->file);
	free(el->path);
	free(el->line);
	free(el);
}

void event_log_set_store(struct event_log *el, struct store *store)
{
	el->store = store;
}

void event_log_set_fleet(struct event_log *el, struct fleet *fleet)
{
	el->fleet = fleet;
}
