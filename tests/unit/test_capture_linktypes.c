// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Replay's link types beyond Ethernet: each capture of
 * tests/fuzz/corpus/capture/ (small files written for this test and as
 * fuzzer seeds) read through capture_next, every packet checked for the
 * ethertype its synthetic Ethernet header names, the first byte after it
 * (the IP version nibble, or the PPPoE header), and the wire length in
 * the same terms. A normalisation that took the wrong header length, or
 * guessed an ethertype the link header does not name, fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "datapath/capture.h"

#define DIR "tests/fuzz/corpus/capture/"
#define MAX_PKTS 4

struct want {
	uint16_t ethertype; /* 0: named nothing (non-IP) */
	uint8_t first; /* the byte after the Ethernet header */
	size_t len; /* frame length, 14 + payload */
};

static const struct {
	const char *file;
	int n;
	struct want pkt[MAX_PKTS];
} cases[] = {
	/* ff 03 0021, 0057 without address and control, 21 compressed, LCP */
	{ "ppp.pcap",
	  4,
	  { { 0x0800, 0x45, 42 }, { 0x86dd, 0x60, 62 }, { 0x0800, 0x45, 42 }, { 0, 0x01, 18 } } },
	{ "chdlc.pcap", 2, { { 0x0800, 0x45, 42 }, { 0x86dd, 0x60, 62 } } },
	/* PPPoE's header where Ethernet's would end: the datapath parses it */
	{ "ppp_ether.pcap", 1, { { 0x8864, 0x11, 50 } } },
	/* data to DS, QoS data from DS, a beacon */
	{ "wlan.pcap", 3, { { 0x0800, 0x45, 42 }, { 0x0800, 0x45, 42 }, { 0, 0, 14 } } },
	{ "radiotap.pcap", 2, { { 0x0800, 0x45, 42 }, { 0x0800, 0x45, 42 } } },
	/* PPI around 802.11, around Ethernet, around a link type not replayed */
	{ "ppi.pcap", 3, { { 0x0800, 0x45, 42 }, { 0x0800, 0x45, 42 }, { 0, 0, 14 } } },
	{ "nflog.pcap", 1, { { 0x0800, 0x45, 42 } } },
};

static void test_linktypes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture_packet pkt;
		char path[256], err[256];
		struct capture *c;
		int n = 0;

		snprintf(path, sizeof(path), DIR "%s", cases[i].file);
		c = capture_open(path, err, sizeof(err));
		if (!c)
			fail_msg("%s: %s", cases[i].file, err);
		while (capture_next(c, &pkt) > 0) {
			const struct want *w = &cases[i].pkt[n];

			if (n >= cases[i].n)
				fail_msg("%s: more than %d packets", cases[i].file, cases[i].n);
			print_message("# %s packet %d: ethertype %04x, %zu bytes\n", cases[i].file,
				      n + 1, pkt.frame[12] << 8 | pkt.frame[13], pkt.len);
			assert_int_equal(pkt.len, w->len);
			assert_int_equal(pkt.frame[12] << 8 | pkt.frame[13], w->ethertype);
			if (pkt.len > 14)
				assert_int_equal(pkt.frame[14], w->first);
			/* Captured whole: the wire length is the frame's. */
			assert_int_equal(pkt.wire_len, pkt.len);
			n++;
		}
		assert_int_equal(n, cases[i].n);
		capture_close(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linktypes),
	};

	return cmocka_run_group_tests_name("capture link types", tests, NULL, NULL);
}
