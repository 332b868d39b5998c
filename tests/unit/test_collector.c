/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Collector sockets under faults, without a network: a Unix datagram
 * socket pair stands in for a collector's UDP socket, because a Unix
 * datagram socket whose peer does not read refuses with EAGAIN once the
 * peer's queue is full, which is what a slow collector does to a UDP
 * socket whose send buffer is full. Checks that sends never block, that
 * refused packets wait in a bounded queue and go out in order when the
 * collector catches up, that packets beyond the bound are dropped and
 * counted, and that a closed peer (a dead collector) costs counted errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "export/collector.h"
#include "lib/log.h"

/* A collector whose socket is one end of a fresh pair; *peer the other. */
static void open_pair(struct collector *c, int *peer)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	memset(c, 0, sizeof(*c));
	snprintf(c->spec, sizeof(c->spec), "test-pair");
	c->fd = sv[0];
	*peer = sv[1];
}

/* Sends numbered packets until the socket pushes back; returns how many
 * went straight out. */
static int fill_until_queued(struct collector *c, uint32_t *next)
{
	int sent = 0;

	for (;;) {
		uint8_t buf[200] = { 0 };

		memcpy(buf, next, sizeof(*next));
		assert_int_equal(collector_send(c, buf, sizeof(buf)), 0);
		(*next)++;
		if (c->queue_len)
			return sent;
		sent++;
		assert_true(sent < 100000);
	}
}

static void test_slow_collector_queue_bounded_in_order(void **state)
{
	struct collector c;
	uint32_t next = 0, expect = 0, got;
	uint8_t buf[200];
	int peer, straight, drops = 0;
	ssize_t n;

	(void)state;
	open_pair(&c, &peer);
	straight = fill_until_queued(&c, &next);
	assert_int_equal(c.queue_len, 1);
	/* Fill the queue to its bound: every send returns at once. */
	while (c.queue_len < COLLECTOR_QUEUE_MAX) {
		memcpy(buf, &next, sizeof(next));
		assert_int_equal(collector_send(&c, buf, sizeof(buf)), 0);
		next++;
	}
	/* Beyond the bound: dropped and counted, the queue does not grow. */
	for (int i = 0; i < 10; i++) {
		memcpy(buf, &next, sizeof(next));
		assert_int_equal(collector_send(&c, buf, sizeof(buf)), -ENOBUFS);
		drops++;
	}
	assert_int_equal(c.queue_len, COLLECTOR_QUEUE_MAX);
	assert_int_equal(c.queue_drops, drops);
	assert_int_equal(c.send_errors, 0);

	/* The collector catches up: read everything, flush, read again. The
	 * packets arrive in the order they were sent, none twice. */
	for (int round = 0; round < 1000 && c.queue_len; round++) {
		while ((n = recv(peer, buf, sizeof(buf), 0)) > 0) {
			memcpy(&got, buf, sizeof(got));
			assert_int_equal(got, expect);
			expect++;
		}
		collector_flush_queue(&c);
	}
	while ((n = recv(peer, buf, sizeof(buf), 0)) > 0) {
		memcpy(&got, buf, sizeof(got));
		assert_int_equal(got, expect);
		expect++;
	}
	assert_int_equal(c.queue_len, 0);
	assert_int_equal(expect, straight + COLLECTOR_QUEUE_MAX);
	assert_int_equal(c.packets_sent, expect);
	collector_close(&c);
	close(peer);
}

static void test_dead_collector_counts_errors(void **state)
{
	struct collector c;
	uint8_t buf[100] = { 0 };
	int peer;

	(void)state;
	open_pair(&c, &peer);
	close(peer); /* nobody listens any more */
	for (int i = 0; i < 5; i++)
		assert_true(collector_send(&c, buf, sizeof(buf)) < 0);
	assert_int_equal(c.send_errors, 5);
	assert_int_equal(c.queue_len, 0); /* refusals are not queued */
	collector_close(&c);
}

static void test_close_counts_what_still_waits(void **state)
{
	struct collector c;
	uint32_t next = 0;
	int peer;

	(void)state;
	open_pair(&c, &peer);
	fill_until_queued(&c, &next);
	assert_int_equal(c.queue_len, 1);
	collector_close(&c);
	assert_int_equal(c.queue_len, 0);
	assert_int_equal(c.queue_drops, 1);
	assert_int_equal(c.fd, -1);
	close(peer);
}

static void test_close_sends_what_waits_when_it_can(void **state)
{
	struct collector c;
	uint32_t next = 0, got = 0;
	uint8_t buf[200];
	int peer, straight;

	(void)state;
	open_pair(&c, &peer);
	straight = fill_until_queued(&c, &next);
	while (recv(peer, buf, sizeof(buf), 0) > 0)
		got++;
	assert_int_equal(got, straight);
	collector_close(&c); /* the collector has room again: nothing lost */
	assert_int_equal(c.queue_drops, 0);
	assert_int_equal(recv(peer, buf, sizeof(buf), 0), sizeof(buf));
	memcpy(&got, buf, sizeof(got));
	assert_int_equal(got, straight);
	close(peer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_collector_queue_bounded_in_order),
		cmocka_unit_test(test_dead_collector_counts_errors),
		cmocka_unit_test(test_close_counts_what_still_waits),
		cmocka_unit_test(test_close_sends_what_waits_when_it_can),
	};

	log_level = LOG_ERROR; /* the warnings are expected here */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
