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
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "export/collector.h"
#include "lib/log.h"

#define QUEUE 64 /* --export-queue of these collectors */

/* A collector whose socket is one end of a fresh pair; *peer the other.
 * Unpaced: the socket alone pushes back. */
static void open_pair(struct collector *c, int *peer)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	memset(c, 0, sizeof(*c));
	snprintf(c->spec, sizeof(c->spec), "test-pair");
	c->fd = sv[0];
	c->queue_max = QUEUE;
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
	while (c.queue_len < QUEUE) {
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
	assert_int_equal(c.queue_len, QUEUE);
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
	assert_int_equal(expect, straight + QUEUE);
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

/* Counts the datagrams waiting at the peer. */
static int receive_all(int peer)
{
	uint8_t buf[256];
	int n = 0;

	while (recv(peer, buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

/*
 * Paced: 1000 packets/s is a burst of 5 (5 ms), then one a millisecond.
 * Of 40 packets sent at once, the burst leaves at once and the rest wait,
 * in order; draining them cannot take less than 35 ms (the rate is a
 * bound, so only the lower limit is exact), and none is dropped.
 */
static void test_paced_collector_spreads_a_burst(void **state)
{
	struct collector c;
	uint8_t buf[100] = { 0 };
	uint64_t t0, took;
	int peer, got;

	(void)state;
	open_pair(&c, &peer);
	pacer_init(&c.pacer, 1000);
	assert_int_equal(pacer_burst(&c.pacer), 5);
	t0 = collector_monotonic_ns();
	for (uint32_t i = 0; i < 40; i++) {
		memcpy(buf, &i, sizeof(i));
		assert_int_equal(collector_send(&c, buf, sizeof(buf)), 0);
	}
	got = receive_all(peer);
	/* The burst, and at most a few more if this was slow. */
	assert_true(got >= 5 && got < 40);
	assert_int_equal(c.queue_len, 40 - got);
	assert_true(collector_wake_ns(&c) > 0);
	collector_drain(&c, t0 + 5000000000ull);
	took = collector_monotonic_ns() - t0;
	assert_int_equal(c.queue_len, 0);
	assert_int_equal(collector_wake_ns(&c), 0);
	got += receive_all(peer);
	assert_int_equal(got, 40);
	assert_true(took >= 34000000ull);
	assert_int_equal(c.queue_drops, 0);
	collector_close(&c);
	close(peer);
}

/* The room the daemon sizes expiry by: the bound less what waits. */
static void test_room_is_the_bound_less_what_waits(void **state)
{
	struct collector c;
	uint8_t buf[100] = { 0 };
	int peer;

	(void)state;
	open_pair(&c, &peer);
	pacer_init(&c.pacer, 1); /* one a second: everything after the first waits */
	assert_int_equal(collector_room(&c), QUEUE);
	for (int i = 0; i < 11; i++)
		assert_int_equal(collector_send(&c, buf, sizeof(buf)), 0);
	assert_int_equal(c.queue_len, 10);
	assert_int_equal(collector_room(&c), QUEUE - 10);
	collector_drain(&c, collector_monotonic_ns()); /* deadline now: returns */
	assert_int_equal(c.queue_len, 10);
	close(peer);
	collector_close(&c);
}

/* --source: the forms an operator writes, and what is refused. */
static void test_source_forms(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	(void)state;
	assert_int_equal(collector_parse_source(&ss, &len, "192.0.2.7"), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 0);
	assert_int_equal(collector_parse_source(&ss, &len, "192.0.2.7:4739"), 0);
	assert_int_equal(ntohs(s4->sin_port), 4739);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0xc0000207);
	assert_int_equal(collector_parse_source(&ss, &len, "2001:db8::2"), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(collector_parse_source(&ss, &len, "[2001:db8::2]:2055"), 0);
	assert_int_equal(ntohs(s6->sin6_port), 2055);
	assert_int_equal(collector_parse_source(&ss, &len, "[2001:db8::2]"), 0);
	assert_int_equal(collector_parse_source(&ss, &len, "router.example"), -EINVAL);
	assert_int_equal(collector_parse_source(&ss, &len, "192.0.2.7:70000"), -EINVAL);
	assert_int_equal(collector_parse_source(&ss, &len, "[2001:db8::2"), -EINVAL);
	assert_int_equal(collector_parse_source(&ss, &len, "192.0.2.7:"), -EINVAL);
}

/* -c: the protocol and transport each scheme selects. */
static void test_collector_schemes(void **state)
{
	struct collector c;

	(void)state;
	assert_int_equal(collector_parse(&c, "127.0.0.1:2055"), 0);
	assert_false(c.ipfix);
	assert_int_equal(collector_parse(&c, "ipfix://127.0.0.1:4739"), 0);
	assert_true(c.ipfix);
	assert_false(c.tcp);
	assert_int_equal(collector_parse(&c, "ipfix+tcp://[::1]:4739"), 0);
	assert_true(c.ipfix && c.tcp);
	assert_int_equal(c.addr.ss_family, AF_INET6);
	assert_int_equal(collector_parse(&c, "sflow://127.0.0.1:6343"), -EINVAL);
	assert_int_equal(collector_parse(&c, "ipfix://127.0.0.1"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_collector_queue_bounded_in_order),
		cmocka_unit_test(test_dead_collector_counts_errors),
		cmocka_unit_test(test_close_counts_what_still_waits),
		cmocka_unit_test(test_close_sends_what_waits_when_it_can),
		cmocka_unit_test(test_paced_collector_spreads_a_burst),
		cmocka_unit_test(test_room_is_the_bound_less_what_waits),
		cmocka_unit_test(test_source_forms),
		cmocka_unit_test(test_collector_schemes),
	};

	log_level = LOG_ERROR; /* the warnings are expected here */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
