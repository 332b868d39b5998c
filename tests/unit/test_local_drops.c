// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * local_udp_drops (export/local_drops.h) over /proc/net/udp tables written
 * here: the socket of the collector's address and port (or the wildcard)
 * is found and its drops summed, an IPv4 collector also behind an IPv6
 * socket on [::], and a collector with no socket here is -ENOENT.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "export/local_drops.h"

#define HEADER                                                                              \
	"   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  " \
	"timeout inode ref pointer drops\n"

static char udp[64], udp6[64];

static void write_table(const char *path, const char *lines)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(HEADER, f);
	fputs(lines, f);
	fclose(f);
}

static struct sockaddr_storage v4(const char *a, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, a, &s->sin_addr);
	return ss;
}

static int setup(void **state)
{
	(void)state;
	snprintf(udp, sizeof(udp), "/tmp/test_local_drops.%d.udp", getpid());
	snprintf(udp6, sizeof(udp6), "/tmp/test_local_drops.%d.udp6", getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(udp);
	unlink(udp6);
	return 0;
}

/* nfcapd on 127.0.0.1:2055 with 236 drops, another socket on 2056 with
 * drops that are not ours, one on 0.0.0.0:2055 in another address's
 * place (the wildcard: it takes 127.0.0.1 too). The address is the
 * kernel's %08X of the u32 as stored, so on this little-endian CPU
 * 127.0.0.1 reads 0100007F. */
static void test_ipv4(void **state)
{
	struct sockaddr_storage c = v4("127.0.0.1", 2055), far = v4("192.0.2.1", 2055);
	uint64_t drops = 99;
	uint32_t lo = htonl(0x7f000001);
	char lines[1024];

	(void)state;
	snprintf(lines, sizeof(lines),
		 "  1: %08X:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0 "
		 "       0 1 2 ffff 236\n"
		 "  2: %08X:0808 00000000:0000 07 00000000:00000000 00:00000000 00000000     0 "
		 "       0 3 2 ffff 1000\n"
		 "  3: 00000000:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0 "
		 "       0 4 2 ffff 4\n",
		 lo, lo);
	write_table(udp, lines);
	write_table(udp6, "");
	assert_int_equal(local_udp_drops(&c, udp, udp6, &drops), 0);
	assert_int_equal(drops, 240);
	/* the wildcard socket takes 192.0.2.1:2055 too, if that is ours:
	 * the table cannot tell, udp_address_is_local can */
	assert_int_equal(local_udp_drops(&far, udp, udp6, &drops), 0);
	assert_int_equal(drops, 4);
	write_table(udp, "");
	assert_int_equal(local_udp_drops(&c, udp, udp6, &drops), -ENOENT);
	assert_true(udp_address_is_local(&c));
	assert_false(udp_address_is_local(&far));
}

/* An IPv6 socket on [::]:2055 takes an IPv4 collector's packets too. */
static void test_ipv4_on_ipv6_wildcard(void **state)
{
	struct sockaddr_storage c = v4("127.0.0.1", 2055);
	uint64_t drops = 0;

	(void)state;
	write_table(udp, "");
	write_table(udp6, "  1: 00000000000000000000000000000000:0807 "
			  "00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 "
			  "00000000     0        0 5 2 ffff 17\n");
	assert_int_equal(local_udp_drops(&c, udp, udp6, &drops), 0);
	assert_int_equal(drops, 17);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_on_ipv6_wildcard, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
