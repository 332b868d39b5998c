// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * udp_blast: send exactly COUNT UDP datagrams of one flow as fast as the
 * kernel takes them, for the "one million packets, all counted" test.
 *
 *   udp_blast DST_IP DST_PORT COUNT [PAYLOAD_BYTES] [SRC_PORT]
 *
 * IPv4 or IPv6, one connected blocking socket, sendmmsg() in batches. A
 * partial batch is resumed where it stopped. With IP_RECVERR/IPV6_RECVERR
 * set, a datagram the local qdisc dropped comes back as ENOBUFS instead of
 * being counted as sent, and is sent again; so is one refused because of
 * an earlier ICMP error (ECONNREFUSED and friends). Prints
 * "sent N packets in S seconds (R pps)" and exits non-zero if fewer than
 * COUNT datagrams left the socket.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define MAX_PAYLOAD 65507

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s DST_IP DST_PORT COUNT [PAYLOAD_BYTES] [SRC_PORT]\n"
		"  PAYLOAD_BYTES defaults to 18 (a 64-byte Ethernet frame over IPv4)\n",
		prog);
}

static int parse_u64(const char *s, const char *what, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "udp_blast: bad %s '%s' (0..%llu)\n", what, s,
			(unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Errors after which the same datagram is simply offered again. */
static int retryable(int err)
{
	return err == EINTR || err == ENOBUFS || err == EAGAIN || err == ECONNREFUSED ||
	       err == EHOSTUNREACH || err == ENETUNREACH;
}

int main(int argc, char **argv)
{
	static char payload[MAX_PAYLOAD];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct addrinfo hints, *ai = NULL;
	uint64_t port, count, size = 18, sport = 0, sent = 0, retries = 0;
	int fd, one = 1, rc, err;
	double t0, dt;

	if (argc < 4 || argc > 6) {
		usage(argv[0]);
		return 2;
	}
	if (parse_u64(argv[2], "DST_PORT", 65535, &port) ||
	    parse_u64(argv[3], "COUNT", UINT64_MAX, &count) ||
	    (argc > 4 && parse_u64(argv[4], "PAYLOAD_BYTES", MAX_PAYLOAD, &size)) ||
	    (argc > 5 && parse_u64(argv[5], "SRC_PORT", 65535, &sport)))
		return 2;
	if (port == 0 || count == 0) {
		fprintf(stderr, "udp_blast: DST_PORT and COUNT must be positive\n");
		return 2;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (rc) {
		fprintf(stderr, "udp_blast: bad DST_IP '%s': %s\n", argv[1], gai_strerror(rc));
		return 2;
	}

	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("udp_blast: socket");
		goto fail;
	}
	/* Report local drops (qdisc full) as ENOBUFS rather than success. */
	if (ai->ai_family == AF_INET6)
		rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	else
		rc = setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	if (rc) {
		perror("udp_blast: setsockopt RECVERR");
		goto fail;
	}
	if (sport) {
		struct sockaddr_storage ss;
		socklen_t len;

		memset(&ss, 0, sizeof(ss));
		if (ai->ai_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_addr = in6addr_any;
			s6->sin6_port = htons((uint16_t)sport);
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
			s4->sin_port = htons((uint16_t)sport);
			len = sizeof(*s4);
		}
		if (bind(fd, (struct sockaddr *)&ss, len)) {
			perror("udp_blast: bind SRC_PORT");
			goto fail;
		}
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		perror("udp_blast: connect");
		goto fail;
	}

	memset(payload, 'b', sizeof(payload));
	iov.iov_base = payload;
	iov.iov_len = size;
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now_s();
	while (sent < count) {
		unsigned int n = count - sent < BATCH ? (unsigned int)(count - sent) : BATCH;

		rc = sendmmsg(fd, msgs, n, 0);
		if (rc > 0) {
			sent += (uint64_t)rc;
			continue;
		}
		err = rc < 0 ? errno : EAGAIN;
		if (!retryable(err)) {
			fprintf(stderr, "udp_blast: sendmmsg after %llu packets: %s\n",
				(unsigned long long)sent, strerror(err));
			break;
		}
		if (++retries > 10000000) {
			fprintf(stderr, "udp_blast: giving up after %llu retries (%s)\n",
				(unsigned long long)retries, strerror(err));
			break;
		}
		if (err == ENOBUFS) {
			/* The qdisc is full: let the device drain it. */
			struct timespec pause = { 0, 50 * 1000 };

			nanosleep(&pause, NULL);
		}
	}
	dt = now_s() - t0;

	printf("sent %llu packets in %.3f seconds (%.0f pps)\n", (unsigned long long)sent, dt,
	       dt > 0 ? sent / dt : 0.0);
	if (retries)
		printf("retried %llu times (local drops or ICMP errors)\n",
		       (unsigned long long)retries);
	close(fd);
	freeaddrinfo(ai);
	if (sent != count) {
		fprintf(stderr, "udp_blast: only %llu of %llu packets sent\n",
			(unsigned long long)sent, (unsigned long long)count);
		return 1;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return 1;
}
