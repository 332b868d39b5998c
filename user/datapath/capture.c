// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libpcap reading and link-layer normalisation for replay. Captures of
 * other link types get a synthetic Ethernet header carrying the ethertype
 * their own header names (never one guessed from the payload, except raw
 * IP, whose version nibble is the only name it has), so the XDP program
 * parses every capture the same way: Linux cooked (SLL, SLL2), raw IP,
 * BSD loopback, PPP (with or without HDLC-like framing), Cisco HDLC,
 * PPPoE without Ethernet (PPP_ETHER), NFLOG, 802.11 data frames with
 * LLC/SNAP (bare, radiotap or PPI). A packet whose header names no IP (an
 * 802.11 beacon, an encrypted frame, LCP) gets ethertype 0 and is counted
 * as non-IP by the datapath, never dropped here.
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

/* Link types libpcap may not name in older headers. */
#ifndef DLT_PPP_ETHER
#define DLT_PPP_ETHER 51
#endif
#ifndef DLT_NFLOG
#define DLT_NFLOG 239
#endif

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
	case DLT_PPP:
	case DLT_PPP_SERIAL:
	case DLT_PPP_ETHER:
	case DLT_C_HDLC:
	case DLT_NFLOG:
	case DLT_IEEE802_11:
	case DLT_IEEE802_11_RADIO:
	case DLT_PPI:
	case DLT_FDDI:
		return true;
	}
	return false;
}

/* PPP protocol numbers to ethertypes: IP, IPv6, MPLS; 0 for the rest
 * (LCP, IPCP, CHAP, compressed ...: not IP). */
static uint16_t ppp_ethertype(uint16_t proto)
{
	switch (proto) {
	case 0x0021:
		return 0x0800;
	case 0x0057:
		return 0x86DD;
	case 0x0281:
		return 0x8847;
	case 0x0283:
		return 0x8848;
	}
	return 0;
}

/* PPP (RFC 1661) as DLT_PPP and DLT_PPP_SERIAL carry it: the HDLC-like
 * address and control bytes 0xff 0x03 when present (RFC 1662), then the
 * protocol, one byte when its low bit says it is compressed. PPP_SERIAL
 * may hold Cisco HDLC frames instead (address 0x0f or 0x8f). */
static int ppp_header(const uint8_t *pkt, size_t caplen, size_t *skip, uint16_t *ethertype)
{
	size_t at = 0;

	if (caplen >= 4 && (pkt[0] == 0x0f || pkt[0] == 0x8f)) {
		*ethertype = pkt[2] << 8 | pkt[3];
		*skip = 4;
		return 0;
	}
	if (caplen >= 2 && pkt[0] == 0xff && pkt[1] == 0x03)
		at = 2;
	if (caplen < at + 1)
		return -1;
	if (pkt[at] & 1) {
		*ethertype = ppp_ethertype(pkt[at]);
		*skip = at + 1;
		return 0;
	}
	if (caplen < at + 2)
		return -1;
	*ethertype = ppp_ethertype(pkt[at] << 8 | pkt[at + 1]);
	*skip = at + 2;
	return 0;
}

/* NFLOG: family, version, resource id, then TLVs (length and type in host
 * byte order, each padded to 4 bytes); type 9 holds the packet, whose
 * family the first byte names. */
static int nflog_header(const uint8_t *pkt, size_t caplen, size_t *skip, uint16_t *ethertype)
{
	size_t at = 4;

	if (caplen < 4)
		return -1;
	while (at + 4 <= caplen) {
		uint16_t len, type;

		memcpy(&len, pkt + at, 2);
		memcpy(&type, pkt + at + 2, 2);
		if (len < 4)
			return -1;
		if (type == 9) {
			*skip = at + 4;
			*ethertype = pkt[0] == 2 ? 0x0800 : pkt[0] == 10 ? 0x86DD : 0;
			return 0;
		}
		at += (len + 3u) & ~3u;
	}
	return -1;
}

/* An 802.2 LLC header at pkt[at]: with SNAP and an ethertype
 * (organisation code 0, RFC 1042) it names that ethertype; any other LLC
 * frame (spanning tree, NetBIOS, IPX ...) carries no IP: named 0. */
static void llc_snap(const uint8_t *pkt, size_t caplen, size_t at, size_t *skip,
		     uint16_t *ethertype)
{
	static const uint8_t snap[6] = { 0xaa, 0xaa, 0x03, 0, 0, 0 };

	*ethertype = 0;
	*skip = caplen;
	if (caplen < at + 8 || memcmp(pkt + at, snap, 6) != 0)
		return;
	*ethertype = pkt[at + 6] << 8 | pkt[at + 7];
	*skip = at + 8;
}

/* FDDI: frame control, destination and source addresses, then LLC. */
static int fddi_header(const uint8_t *pkt, size_t caplen, size_t *skip, uint16_t *ethertype)
{
	if (caplen < 13)
		return -1;
	llc_snap(pkt, caplen, 13, skip, ethertype);
	return 0;
}

/* An 802.11 frame: data frames with an LLC/SNAP header carry an
 * ethertype; anything else (management, control, null data, protected
 * frames, A-MSDUs) is named 0. */
static int wlan_header(const uint8_t *pkt, size_t caplen, size_t *skip, uint16_t *ethertype)
{
	size_t hlen = 24;

	*ethertype = 0;
	*skip = caplen;
	if (caplen < 2)
		return -1;
	if (((pkt[0] >> 2) & 3) != 2 || (pkt[1] & 0x40) || (pkt[0] & 0x40))
		return 0; /* not data, protected, or no body (null data) */
	if ((pkt[1] & 3) == 3)
		hlen += 6; /* four addresses */
	if (pkt[0] & 0x80) {
		hlen += 2; /* QoS control */
		if (caplen > hlen && (pkt[hlen - 2] & 0x80))
			return 0; /* A-MSDU: subframes, not one packet */
		if (pkt[1] & 0x80)
			hlen += 4; /* HT control */
	}
	llc_snap(pkt, caplen, hlen, skip, ethertype);
	return 0;
}

/* Radiotap: version, pad, little-endian length, then the 802.11 frame. */
static int radiotap_header(const uint8_t *pkt, size_t caplen, size_t *skip, uint16_t *ethertype)
{
	size_t len;

	if (caplen < 4)
		return -1;
	len = pkt[2] | pkt[3] << 8;
	if (len < 4 || caplen < len)
		return -1;
	if (wlan_header(pkt + len, caplen - len, skip, ethertype))
		return -1;
	*skip += len;
	return 0;
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
	c->pcap = pcap_open_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!c->pcap) {
		snprintf(err, errlen, "%s: not a readable pcap or pcapng file: %s", file, errbuf);
		free(c);
		return NULL;
	}
	c->linktype = pcap_datalink(c->pcap);
	if (!linktype_supported(c->linktype)) {
		const char *name = pcap_datalink_val_to_name(c->linktype);

		snprintf(err, errlen,
			 "%s: link type %s (%d) is not supported; flowprobe "
			 "replays Ethernet, Linux cooked (SLL, SLL2), raw IP, BSD "
			 "loopback, PPP, Cisco HDLC, PPPoE (PPP_ETHER), NFLOG, 802.11 "
			 "(bare, radiotap, PPI), FDDI captures",
			 file, name ? name : "unknown", c->linktype);
		capture_close(c);
		return NULL;
	}
	return c;
}

/* The link header of a non-Ethernet packet: how many bytes it takes and
 * the ethertype it names. -1: too short to tell. */
static int link_header(int linktype, const uint8_t *pkt, size_t caplen, size_t *skip,
		       uint16_t *ethertype)
{
	uint32_t af;

	*skip = 0;
	*ethertype = 0;
	switch (linktype) {
	case DLT_LINUX_SLL: /* 16 bytes, protocol in the last two */
		if (caplen < 16)
			return -1;
		*ethertype = pkt[14] << 8 | pkt[15];
		*skip = 16;
		return 0;
	case DLT_LINUX_SLL2: /* 20 bytes, protocol in the first two */
		if (caplen < 20)
			return -1;
		*ethertype = pkt[0] << 8 | pkt[1];
		*skip = 20;
		return 0;
	case DLT_NULL:
	case DLT_LOOP: /* 4-byte address family, in the writer's byte order */
		if (caplen < 4)
			return -1;
		memcpy(&af, pkt, 4);
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		/* AF_INET6 is 10 on Linux, 24/28/30 on the BSDs and macOS. */
		*ethertype = af == 2					    ? 0x0800 :
			     (af == 10 || af == 24 || af == 28 || af == 30) ? 0x86DD :
									      0;
		*skip = 4;
		return 0;
	case DLT_PPP:
	case DLT_PPP_SERIAL:
		return ppp_header(pkt, caplen, skip, ethertype);
	case DLT_C_HDLC: /* address, control, then an ethertype */
		if (caplen < 4)
			return -1;
		*ethertype = pkt[2] << 8 | pkt[3];
		*skip = 4;
		return 0;
	case DLT_PPP_ETHER: /* a PPPoE header where Ethernet's would end */
		*ethertype = 0x8864;
		return 0;
	case DLT_NFLOG:
		return nflog_header(pkt, caplen, skip, ethertype);
	case DLT_IEEE802_11:
		return wlan_header(pkt, caplen, skip, ethertype);
	case DLT_FDDI:
		return fddi_header(pkt, caplen, skip, ethertype);
	case DLT_IEEE802_11_RADIO:
		return radiotap_header(pkt, caplen, skip, ethertype);
	case DLT_PPI: /* inside PPI, a link type not replayed */
		*skip = caplen;
		return 0;
	}
	/* raw IP: the version nibble says which */
	if (caplen < 1)
		return -1;
	*ethertype = (pkt[0] >> 4) == 6 ? 0x86DD : 0x0800;
	return 0;
}

/* Returns the frame length, or 0 for a packet too short to carry one. */
/* The frame, as Ethernet, and how many bytes longer the Ethernet form is
 * than the captured one (*grown: ETH_HLEN minus the link header dropped),
 * so that the wire length can be given in the same terms. */
static size_t to_ethernet(int linktype, const uint8_t *pkt, size_t caplen, uint8_t *frame,
			  long *grown)
{
	size_t skip = 0, len;
	uint16_t ethertype = 0;

	*grown = 0;
	/* PPI (Per-Packet Information): version, flags, a little-endian
	 * length and the link type of what follows. */
	if (linktype == DLT_PPI) {
		size_t hlen;

		if (caplen < 8)
			return 0;
		hlen = pkt[2] | pkt[3] << 8;
		if (hlen < 8 || caplen < hlen)
			return 0;
		linktype = pkt[4] | pkt[5] << 8 | pkt[6] << 16 | (uint32_t)pkt[7] << 24;
		pkt += hlen;
		caplen -= hlen;
		*grown = -(long)hlen;
		if (linktype == DLT_PPI || !linktype_supported(linktype))
			linktype = DLT_PPI; /* names nothing: ethertype 0 */
	}
	if (linktype == DLT_EN10MB) {
		len = caplen < CAPTURE_MAX_FRAME ? caplen : CAPTURE_MAX_FRAME;
		memcpy(frame, pkt, len);
		return len >= ETH_HLEN ? len : 0;
	}
	if (link_header(linktype, pkt, caplen, &skip, &ethertype))
		return 0;
	len = caplen - skip;
	if (len > CAPTURE_MAX_FRAME - ETH_HLEN)
		len = CAPTURE_MAX_FRAME - ETH_HLEN;
	memset(frame, 0, 12);
	frame[12] = ethertype >> 8;
	frame[13] = ethertype & 0xff;
	memcpy(frame + ETH_HLEN, pkt + skip, len);
	*grown += (long)ETH_HLEN - (long)skip;
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
