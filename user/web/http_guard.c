// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The request deadline of the web server (see http_guard.h).
 *
 * Threads: libmicrohttpd's thread calls the notify functions; the guard's
 * thread scans. One mutex guards the list. libmicrohttpd reports a
 * connection closed before it closes the socket, and that report waits
 * for the mutex, so the guard never shuts down a descriptor that has
 * already been closed and reused.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <sys/socket.h>
#include "lib/log.h"
#include "web/http_guard.h"

#define SCAN_INTERVAL_MS 250
#define CUT_LOG_INTERVAL_S 60

struct guarded {
	int fd;
	bool waiting; /* for a request line and headers */
	uint64_t since_ms; /* since when */
	struct guarded *prev, *next;
};

struct http_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stop;
	unsigned int deadline_ms;
	struct guarded head; /* circular list; head is not a connection */
	uint64_t cut, cut_logged;
	uint64_t last_log_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_cuts(struct http_guard *g, uint64_t now)
{
	if (g->cut == g->cut_logged || now - g->last_log_ms < CUT_LOG_INTERVAL_S * 1000)
		return;
	log_warn("web: cut %llu connection(s) that did not send a whole request "
		 "within %u s (slow or hostile clients)",
		 (unsigned long long)(g->cut - g->cut_logged), g->deadline_ms / 1000);
	g->cut_logged = g->cut;
	g->last_log_ms = now;
}

static void *guard_main(void *arg)
{
	struct http_guard *g = arg;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		uint64_t now = now_ms();
		struct timespec until;

		for (struct guarded *e = g->head.next; e != &g->head; e = e->next) {
			if (e->waiting && now - e->since_ms >= g->deadline_ms) {
				shutdown(e->fd, SHUT_RDWR);
				e->waiting = false; /* once */
				g->cut++;
			}
		}
		log_cuts(g, now);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += SCAN_INTERVAL_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int http_guard_start(struct http_guard **out, unsigned int deadline_s)
{
	struct http_guard *g = calloc(1, sizeof(*g));
	int err;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->deadline_ms = deadline_s * 1000;
	g->head.next = g->head.prev = &g->head;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, NULL);
	err = pthread_create(&g->thread, NULL, guard_main, g);
	if (err) {
		free(g);
		return -err;
	}
	*out = g;
	return 0;
}

void http_guard_stop(struct http_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	while (g->head.next != &g->head) {
		struct guarded *e = g->head.next;

		g->head.next = e->next;
		free(e);
	}
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->wake);
	free(g);
}

static struct guarded *entry_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void http_guard_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct http_guard *g = cls;
	struct guarded *e = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		e = calloc(1, sizeof(*e));
		if (!e || !ci) {
			free(e); /* unguarded: the idle timeout still applies */
			return;
		}
		e->fd = ci->connect_fd;
		e->waiting = true;
		e->since_ms = now_ms();
		pthread_mutex_lock(&g->lock);
		e->next = g->head.next;
		e->prev = &g->head;
		g->head.next->prev = e;
		g->head.next = e;
		pthread_mutex_unlock(&g->lock);
		*socket_context = e;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && e) {
		pthread_mutex_lock(&g->lock);
		e->prev->next = e->next;
		e->next->prev = e->prev;
		pthread_mutex_unlock(&g->lock);
		free(e);
		*socket_context = NULL;
	}
}

static void set_waiting(struct http_guard *g, struct MHD_Connection *c, bool waiting)
{
	struct guarded *e = entry_of(c);

	if (!e)
		return;
	pthread_mutex_lock(&g->lock);
	e->waiting = waiting;
	e->since_ms = now_ms();
	pthread_mutex_unlock(&g->lock);
}

void http_guard_on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			     enum MHD_RequestTerminationCode toe)
{
	(void)req_cls;
	(void)toe;
	set_waiting(cls, c, true);
}

void http_guard_request_arrived(struct http_guard *g, struct MHD_Connection *c)
{
	set_waiting(g, c, false);
}

uint64_t http_guard_cut(struct http_guard *g)
{
	uint64_t n;

	pthread_mutex_lock(&g->lock);
	n = g->cut;
	pthread_mutex_unlock(&g->lock);
	return n;
}
