// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: `flowprobe replay` reading a hostile pcap or pcapng
 * file (libpcap's parser, then our link-layer normalisation: cooked, raw
 * IP, VLAN, truncated frames). Every packet is read to the end, and its
 * frame must lie within what the reader said it holds.
 */
#include "datapath/capture.h"
#include "fuzz_input.h"

/* Where the frames' bytes go, so reading them is not optimised away. */
volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture_packet pkt;
	char path[64], err[256];
	struct capture *c;
	int fd;

	fuzz_quiet();
	fd = fuzz_file(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	c = capture_open(path, err, sizeof(err));
	if (c) {
		while (capture_next(c, &pkt) > 0) {
			if (pkt.len > CAPTURE_MAX_FRAME)
				abort();
			/* Touch every byte: ASan catches a frame pointer that
			 * runs past its buffer. */
			for (size_t i = 0; i < pkt.len; i++)
				fuzz_sink ^= pkt.frame[i];
		}
		capture_close(c);
	}
	close(fd);
	return 0;
}
