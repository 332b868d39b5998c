// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libpcap reading and link-layer normalisation for replay. Cooked, raw-IP
 * and loopback captures get a synthetic Ethernet header carrying the right
 * ethertype, so the XDP program parses every capture the same way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pcap/pcap.h>
#include "datapath/capture.h"

#define ETH_HLEN 14

struct capture {
	pcap_t *pcap;
	int linktype;
	off_t size;
	uint64_t number;
	uint8_t frame[CAPTURE_MAX_FRAME];
};

static bool linktype_supported(int linktype)
{
	switch (linktype) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return true;
	}
	return false;
}

struct capture *capture_open(const char *file, char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c;
	struct stat sb;

	if (stat(file, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	if (S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: is a directory, not a capture file", file);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	c->size = sb.st_size;
	c->pcap = pcap_open_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO,
							  errbuf);
	if (!c->pcap) {
		snprintf(err, errlen, "%s: not a readable pcap or pcapng file: %s", file,
			 errbuf);
		free(c);
		return NULL;
	}
	c->linktype = pcap_datalink(c->pcap);
	if (!linktype_supported(c->linktype)) {
		const char *name = pcap_datalink_val_to_name(c->linktype);

		snprintf(err, errlen, "%s: link type %s (%d) is not supported; flowprobe "
			 "replays Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD "
			 "loopback captures", file, name ? name : "unknown", c->linktype);
		capture_close(c);
		return NULL;
	}
	return c;
}

/* Returns the frame length, or 0 for a packet too short to carry one. */
/* The frame, as Ethernet, and how many bytes longer the Ethernet form is
 * than the captured one (*grown: ETH_HLEN minus the link header dropped),
 * so that the wire length can be given in the same terms. */
static size_t to_ethernet(int linktype, const uint8_t *pkt, size_t caplen,
			  uint8_t *frame, long *grown)
{
	size_t skip = 0, len;
	uint16_t ethertype = 0;
	uint32_t af;

	*grown = 0;
	switch (linktype) {
	case DLT_EN10MB:
		len = caplen < CAPTURE_MAX_FRAME ? caplen : CAPTURE_MAX_FRAME;
		memcpy(frame, pkt, len);
		return len >= ETH_HLEN ? len : 0;
	case DLT_LINUX_SLL: /* 16 bytes, protocol in the last two */
		if (caplen < 16)
			return 0;
		ethertype = pkt[14] << 8 | pkt[15];
		skip = 16;
		break;
	case DLT_LINUX_SLL2: /* 20 bytes, protocol in the first two */
		if (caplen < 20)
			return 0;
		ethertype = pkt[0] << 8 | pkt[1];
		skip = 20;
		break;
	case DLT_NULL:
	case DLT_LOOP: /* 4-byte address family, in the writer's byte order */
		if (caplen < 4)
			return 0;
		memcpy(&af, pkt, 4);
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		/* AF_INET6 is 10 on Linux, 24/28/30 on the BSDs and macOS. */
		ethertype = af == 2 ? 0x0800 :
			    (af == 10 || af == 24 || af == 28 || af == 30) ? 0x86DD : 0;
		skip = 4;
		break;
	default: /* raw IP: the version nibble says which */
		if (caplen < 1)
			return 0;
		ethertype = (pkt[0] >> 4) == 6 ? 0x86DD : 0x0800;
		break;
	}
	len = caplen - skip;
	if (len > CAPTURE_MAX_FRAME - ETH_HLEN)
		len = CAPTURE_MAX_FRAME - ETH_HLEN;
	memset(frame, 0, 12);
	frame[12] = ethertype >> 8;
	frame[13] = ethertype & 0xff;
	memcpy(frame + ETH_HLEN, pkt + skip, len);
	*grown = (long)ETH_HLEN - (long)skip;
	return len + ETH_HLEN;
}

int capture_next(struct capture *c, struct capture_packet *pkt)
{
	struct pcap_pkthdr *hdr;
	const u_char *data;
	long grown, wire;
	int r = pcap_next_ex(c->pcap, &hdr, &data);

	if (r == PCAP_ERROR_BREAK)
		return 0;
	if (r != 1)
		return -1;
	c->number++;
	/* Nanosecond precision was asked for: tv_usec holds nanoseconds. */
	pkt->ts_ns = (uint64_t)hdr->ts.tv_sec * 1000000000ull + hdr->ts.tv_usec;
	pkt->caplen = hdr->caplen;
	pkt->number = c->number;
	pkt->frame = c->frame;
	pkt->len = to_ethernet(c->linktype, data, hdr->caplen, c->frame, &grown);
	/* A writer that put len below caplen is taken at its captured bytes. */
	wire = (hdr->len > hdr->caplen ? hdr->len : hdr->caplen) + grown;
	pkt->wire_len = pkt->len ? (size_t)wire : 0;
	return 1;
}

const char *capture_error(struct capture *c)
{
	return pcap_geterr(c->pcap);
}

double capture_progress(struct capture *c)
{
	long pos = ftell(pcap_file(c->pcap));

	return c->size > 0 && pos >= 0 ? (double)pos / c->size : 1.0;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	if (c->pcap)
		pcap_close(c->pcap);
	free(c);
}
