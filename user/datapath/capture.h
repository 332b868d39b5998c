/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading pcap and pcapng captures (libpcap) and handing out every packet
 * as an Ethernet frame, whatever the capture's link type, with its
 * timestamp in nanoseconds. Kept apart from the BPF code because libpcap's
 * headers and the kernel's BPF headers both define struct bpf_insn.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* The largest frame handed out. BPF_PROG_TEST_RUN takes about a page for a
 * program without XDP frags support, and captures taken on hosts with
 * TSO/GRO hold larger "packets"; the datapath only reads headers (bytes
 * are counted up to wire_len, the length the wire carried), so longer
 * frames are cut. */
#define CAPTURE_MAX_FRAME 3000

struct capture;

struct capture_packet {
	uint64_t ts_ns;
	const uint8_t *frame; /* Ethernet, possibly synthesised */
	size_t len; /* 0: too short to form a frame */
	size_t caplen; /* as captured */
	size_t wire_len; /* the frame's length on the wire, as Ethernet */
	uint64_t number; /* 1-based, within the file */
};

/* Opens a file; on failure returns NULL and a one-line reason in err. */
struct capture *capture_open(const char *file, char *err, size_t errlen);

/* 1: a packet; 0: end of file; -1: damaged file (see capture_error). */
int capture_next(struct capture *c, struct capture_packet *pkt);

const char *capture_error(struct capture *c);
/* How far into the file the reader is, 0..1, for progress lines. */
double capture_progress(struct capture *c);
void capture_close(struct capture *c);

#endif /* CAPTURE_H */
