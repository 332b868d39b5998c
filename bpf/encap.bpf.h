/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Encapsulations the datapath looks through to count the flow inside:
 * on the link, PPPoE sessions and MPLS label stacks (with Ethernet
 * pseudowires); inside IP, tunnels (GRE and ERSPAN, IP-in-IP, VXLAN,
 * Geneve, GTP-U, Teredo). Cursor style, as parse.bpf.h: one always-inline
 * function a header, returning the ethertype of the inner IP packet or the
 * counter that says why not.
 *
 * link_decap and tunnel_decap wrap them in global functions, which the
 * verifier checks once on their own and whose results it cannot see
 * into: every label depth, option length and inner tag count would
 * otherwise be a distinct packet offset, and the rest of the program
 * would be verified again for each (it no longer fits the budget). Both
 * return a packed ENCAP_RESULT and write nothing; the caller rebuilds its
 * cursor from the offset. docs/architecture.md, "Encapsulations", has the
 * policy.
 */
#ifndef ENCAP_BPF_H
#define ENCAP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "flowprobe.h"
#include "parse.bpf.h"

/* PPPoE session header (RFC 2516) with the PPP protocol field after it. */
struct pppoe_ppp_hdr {
	__u8 ver_type; /* 0x11 */
	__u8 code; /* 0 in session frames */
	__be16 session;
	__be16 length;
	__be16 ppp_proto;
};

/*
 * A PPPoE session frame: returns the ethertype of the IP packet it carries,
 * or the counter of what it is instead. PPP control (LCP echo, IPCP, ...)
 * is a kind of non-IP, not an error. Protocol-field compression is not
 * used over PPPoE (RFC 2516 section 7), so the field is two bytes.
 */
static __always_inline int parse_pppoe(struct cursor *c, struct packet_info *pi)
{
	struct pppoe_ppp_hdr *h = c->pos;

	if ((void *)(h + 1) > c->end)
		return PARSE_ERR(CNT_ERR_PPPOE_TRUNCATED);
	if (h->ver_type != 0x11 || h->code != 0)
		return PARSE_ERR(CNT_ERR_PPPOE_BAD_HEADER);
	c->pos = h + 1;
	pi->encap |= ENCAP_PPPOE;
	if (h->ppp_proto == bpf_htons(PPP_IP))
		return ETH_P_IP;
	if (h->ppp_proto == bpf_htons(PPP_IPV6))
		return ETH_P_IPV6;
	return PARSE_ERR(CNT_PPP_CONTROL);
}

/*
 * An MPLS label stack (RFC 3032) down to the entry with the bottom-of-stack
 * bit, then what it carries, told by the first nibble as routers do: 4 is
 * IPv4, 6 IPv6, 0 the control word of an Ethernet pseudowire (RFC 4385;
 * returned as ETH_P_TEB: an Ethernet frame follows). A pseudowire without
 * a control word cannot be told from IP cheaply and is not recognised.
 */
static __always_inline int parse_mpls(struct cursor *c, struct packet_info *pi)
{
	bool bottom = false;
	__u8 *next;

#pragma unroll
	for (int i = 0; i < MAX_MPLS_LABELS; i++) {
		__be32 *entry = c->pos;
		__u32 v;

		if ((void *)(entry + 1) > c->end)
			return PARSE_ERR(CNT_ERR_MPLS_TRUNCATED);
		v = bpf_ntohl(*entry);
		if (i == 0)
			pi->mpls_label = v;
		c->pos = entry + 1;
		if (v & 0x100) {
			bottom = true;
			break;
		}
	}
	if (!bottom)
		return PARSE_ERR(CNT_ERR_MPLS_TOO_DEEP);
	pi->encap |= ENCAP_MPLS;
	next = c->pos;
	if ((void *)(next + 1) > c->end)
		return PARSE_ERR(CNT_ERR_MPLS_TRUNCATED);
	switch (*next >> 4) {
	case 4:
		return ETH_P_IP;
	case 6:
		return ETH_P_IPV6;
	case 0:
		c->pos += 4; /* the control word */
		pi->encap |= ENCAP_PSEUDOWIRE;
		return ETH_P_TEB;
	}
	return PARSE_ERR(CNT_MPLS_NON_IP);
}

/*
 * What the link carries beyond Ethernet and VLANs, down to IP: PPPoE
 * (discovery frames are their own kind of non-IP), MPLS, and the Ethernet
 * frame of a pseudowire. Returns ETH_P_IP, ETH_P_IPV6, another ethertype
 * (non-IP), or the counter of why not.
 */
static __always_inline int parse_link(struct cursor *c, struct flow_key *key,
				      struct packet_info *pi, int proto)
{
	switch (proto) {
	case ETH_P_PPP_SES:
		return parse_pppoe(c, pi);
	case ETH_P_PPP_DISC:
		return PARSE_ERR(CNT_PPPOE_DISCOVERY);
	case ETH_P_MPLS_UC:
	case ETH_P_MPLS_MC:
		proto = parse_mpls(c, pi);
		if (proto == ETH_P_TEB)
			proto = parse_ethernet(c, key, pi, false);
		return proto;
	}
	return proto;
}

/* The inner frame of a tunnel that carries Ethernet (VXLAN, Geneve, GRE
 * TEB, ERSPAN): its ethertype must be IP; its tags are not the link's. */
static __always_inline int tunnel_inner_ethernet(struct cursor *c, struct packet_info *pi)
{
	int proto = parse_ethernet(c, NULL, pi, false);

	if (proto < 0)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	return proto;
}

/* The payload of a tunnel that carries bare IP, by its version nibble
 * (GTP-U, and what a version-agnostic header such as Teredo's leaves). */
static __always_inline int tunnel_inner_ip(struct cursor *c)
{
	__u8 *b = c->pos;

	if ((void *)(b + 1) > c->end)
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	switch (*b >> 4) {
	case 4:
		return ETH_P_IP;
	case 6:
		return ETH_P_IPV6;
	}
	return PARSE_ERR(CNT_TUNNEL_NOT_IP);
}

/* GRE (RFC 2784, 2890): checksum, key and sequence number words as the
 * flags say; version 1 (PPTP's enhanced GRE) carries PPP, not IP. ERSPAN
 * type I/II (0x88BE, an 8-byte header when the sequence bit is set) and
 * type III (0x22EB, 12 bytes and an optional 8-byte subheader) carry the
 * mirrored Ethernet frame. */
static __always_inline int parse_gre(struct cursor *c, struct packet_info *pi)
{
	__be16 *g = c->pos;
	__u16 flags, proto;
	__u32 len = 4;
	__u8 *erspan;

	if ((void *)(g + 2) > c->end)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	flags = bpf_ntohs(g[0]);
	proto = bpf_ntohs(g[1]);
	if (flags & 0x4007) /* routing present (RFC 1701), or version 1 */
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	if (flags & 0x8000)
		len += 4;
	if (flags & 0x2000)
		len += 4;
	if (flags & 0x1000)
		len += 4;
	if (c->pos + len > c->end)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	c->pos += len;
	pi->tunnel = TUN_GRE;
	switch (proto) {
	case ETH_P_IP:
	case ETH_P_IPV6:
		return proto;
	case ETH_P_TEB:
		return tunnel_inner_ethernet(c, pi);
	case ETH_P_ERSPAN:
		pi->tunnel = TUN_ERSPAN;
		if (flags & 0x1000)
			c->pos += 8; /* type II; type I has no header */
		return tunnel_inner_ethernet(c, pi);
	case ETH_P_ERSPAN3:
		pi->tunnel = TUN_ERSPAN;
		erspan = c->pos;
		if ((void *)(erspan + 12) > c->end)
			return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
		c->pos += erspan[11] & 1 ? 20 : 12;
		return tunnel_inner_ethernet(c, pi);
	}
	return PARSE_ERR(CNT_TUNNEL_NOT_IP);
}

/* GRE-in-UDP (RFC 8086): a GRE header right after UDP (port 4754, the
 * source port an ECMP hash), then IP. GRE's ERSPAN and Ethernet payloads
 * are not meant for it (RFC 8086 section 3.2); they are taken as in GRE. */
static __always_inline int parse_gre_udp(struct cursor *c, struct packet_info *pi)
{
	int proto = parse_gre(c, pi);

	if (proto > 0 && pi->tunnel == TUN_GRE)
		pi->tunnel = TUN_GRE_UDP;
	return proto;
}

/* VXLAN (RFC 7348): 8 bytes, the I flag set, an Ethernet frame. */
static __always_inline int parse_vxlan(struct cursor *c, struct packet_info *pi)
{
	__u8 *h = c->pos;

	if ((void *)(h + 8) > c->end)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	if (!(h[0] & 0x08))
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	c->pos = h + 8;
	pi->tunnel = TUN_VXLAN;
	return tunnel_inner_ethernet(c, pi);
}

/* Geneve (RFC 8926): 8 bytes and options, a protocol type as GRE's. */
static __always_inline int parse_geneve(struct cursor *c, struct packet_info *pi)
{
	__u8 *h = c->pos;
	__u16 proto;

	if ((void *)(h + 8) > c->end)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	if (h[0] >> 6) /* version 0 only */
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	proto = h[2] << 8 | h[3];
	c->pos = h + 8 + (h[0] & 0x3f) * 4;
	if (c->pos > c->end)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	pi->tunnel = TUN_GENEVE;
	if (proto == ETH_P_TEB)
		return tunnel_inner_ethernet(c, pi);
	if (proto == ETH_P_IP || proto == ETH_P_IPV6)
		return proto;
	return PARSE_ERR(CNT_TUNNEL_NOT_IP);
}

/* GTP-U (3GPP TS 29.281): version 1, G-PDU messages carry the user's IP
 * packet; echo, error indication and end marker carry none. The 4 bytes
 * of sequence number, N-PDU number and next extension type are there when
 * any of E, S, PN is set; extension headers are 4-byte units with their
 * next type in the last byte. */
static __always_inline int parse_gtpu(struct cursor *c, struct packet_info *pi)
{
	__u8 *h = c->pos;
	__u8 next;

	if ((void *)(h + 8) > c->end)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	if ((h[0] & 0xf0) != 0x30) /* version 1, protocol type GTP */
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	if (h[1] != 0xff)
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	c->pos = h + 8;
	if (h[0] & 0x07) {
		if ((void *)(h + 12) > c->end)
			return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
		next = (h[0] & 0x04) ? h[11] : 0;
		c->pos = h + 12;
#pragma unroll
		for (int i = 0; i < MAX_GTP_EXT_HDRS; i++) {
			__u8 *ext = c->pos;
			__u32 len;

			if (!next)
				break;
			if ((void *)(ext + 1) > c->end)
				return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
			len = ext[0] * 4;
			if (!len || c->pos + len > c->end)
				return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
			c->pos += len;
			next = *(__u8 *)(c->pos - 1);
		}
		if (next)
			return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	}
	pi->tunnel = TUN_GTPU;
	return tunnel_inner_ip(c);
}

/* Teredo (RFC 4380): IPv6 in UDP 3544, after an optional origin
 * indication (0x0000, 8 bytes) or authentication header (0x0001, then
 * client identifier and authentication value lengths, 13 bytes fixed).
 * Any UDP flow may use port 3544 (a DHT query starts "d1:", a 6 nibble),
 * and a wrong guess must stay an outer flow: the payload must be exactly
 * one IPv6 packet, its header whole and its payload length what the UDP
 * length leaves. */
static __always_inline int parse_teredo(struct cursor *c, struct packet_info *pi, __u32 udp_payload)
{
	__u8 *start = c->pos, *h = c->pos;
	__u32 left;

	if ((void *)(h + 2) > c->end)
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	if (h[0] == 0 && h[1] == 1) {
		if ((void *)(h + 4) > c->end)
			return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
		c->pos = h + 13 + h[2] + h[3];
		h = c->pos;
		if ((void *)(h + 2) > c->end)
			return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	}
	if (h[0] == 0 && h[1] == 0)
		c->pos = h + 8;
	h = c->pos;
	if ((void *)(h + 40) > c->end || (h[0] >> 4) != 6)
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	left = udp_payload - (__u32)((void *)h - (void *)start);
	if (udp_payload < (__u32)((void *)h - (void *)start) || left != 40u + (h[4] << 8 | h[5]))
		return PARSE_ERR(CNT_TUNNEL_NOT_IP);
	pi->tunnel = TUN_TEREDO;
	return ETH_P_IPV6;
}

/*
 * A tunnel inside the IP packet whose protocol is proto, the cursor at its
 * payload: returns the ethertype of the inner IP packet with the cursor on
 * it, 0 when the packet is no tunnel the parser knows (the cursor
 * unmoved), or the counter of why it cannot be taken off (the caller then
 * counts the outer flow). Sets pi->tunnel to the type.
 */
static __always_inline int parse_tunnel(struct cursor *c, int proto, struct packet_info *pi)
{
	__be16 *udp = c->pos;
	__u16 sport, dport, ulen;

	switch (proto) {
	case PROTO_IPIP:
		pi->tunnel = TUN_IPIP;
		return ETH_P_IP;
	case PROTO_IPV6:
		pi->tunnel = TUN_IPIP;
		return ETH_P_IPV6;
	case PROTO_GRE:
		return parse_gre(c, pi);
	case PROTO_UDP:
		if ((void *)(udp + 2) > c->end)
			return 0; /* no ports: parse_l4 counts it */
		sport = bpf_ntohs(udp[0]);
		dport = bpf_ntohs(udp[1]);
		c->pos = udp + 4; /* past the UDP header, checked by each */
		if (dport == UDP_PORT_VXLAN)
			return parse_vxlan(c, pi);
		if (dport == UDP_PORT_GENEVE)
			return parse_geneve(c, pi);
		if (dport == UDP_PORT_GTPU)
			return parse_gtpu(c, pi);
		if (dport == UDP_PORT_GRE_IN_UDP)
			return parse_gre_udp(c, pi);
		if (dport == UDP_PORT_TEREDO || sport == UDP_PORT_TEREDO) {
			if ((void *)(udp + 3) > c->end)
				return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
			ulen = bpf_ntohs(udp[2]);
			return parse_teredo(c, pi, ulen > 8 ? ulen - 8 : 0);
		}
		c->pos = udp;
		return 0;
	}
	return 0;
}

/*
 * Whether the IP payload at the cursor may be a tunnel: the hot path's only
 * cost of decapsulation, inline, so a plain TCP or UDP packet never pays
 * the call to tunnel_decap (a few ns a packet in the micro benchmark).
 */
static __always_inline bool tunnel_candidate(const struct cursor *c, int proto)
{
	__be16 *udp = c->pos;
	__u16 sport, dport;

	switch (proto) {
	case PROTO_IPIP:
	case PROTO_IPV6:
	case PROTO_GRE:
		return true;
	case PROTO_UDP:
		if ((void *)(udp + 2) > c->end)
			return false;
		sport = bpf_ntohs(udp[0]);
		dport = bpf_ntohs(udp[1]);
		return dport == UDP_PORT_VXLAN || dport == UDP_PORT_GENEVE ||
		       dport == UDP_PORT_GTPU || dport == UDP_PORT_GRE_IN_UDP ||
		       dport == UDP_PORT_TEREDO || sport == UDP_PORT_TEREDO;
	}
	return false;
}

/* The parser never looks further than this into a frame for an inner
 * packet (a power of two: offsets are masked with it). */
#define ENCAP_MAX_OFFSET 1024

/* link_decap's and tunnel_decap's result: the inner packet's offset, four
 * bits of what was found (tunnel_decap: enum flow_tunnel; link_decap: enum
 * flow_encap) and the inner ethertype, packed in a positive int. */
#define ENCAP_RESULT(off, what, proto) ((int)((off) << 20 | (what) << 16 | (proto)))
#define ENCAP_OFF(r) (((__u32)(r) >> 20) & (ENCAP_MAX_OFFSET - 1))
#define ENCAP_WHAT(r) (((__u32)(r) >> 16) & 0xf)
#define ENCAP_PROTO(r) ((__u32)(r)&0xffff)

/*
 * The link encapsulation at frame offset off, of ethertype proto (PPPoE
 * session or discovery, MPLS): ENCAP_RESULT of what it carries (an
 * ethertype: IP, or another one that is non-IP), or the negative counter
 * of why not. The top MPLS entry is the first four bytes at off.
 */
__noinline int link_decap(struct xdp_md *ctx, __u32 off, int proto)
{
	struct packet_info pi = {};
	struct flow_key key = {};
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u64 inner_off;
	int r;

	if (off >= ENCAP_MAX_OFFSET)
		return PARSE_ERR(CNT_NON_IP);
	c.pos += off;
	r = parse_link(&c, &key, &pi, proto);
	if (r <= 0)
		return r;
	inner_off = c.pos - (void *)(long)ctx->data;
	if (inner_off >= ENCAP_MAX_OFFSET)
		return PARSE_ERR(CNT_NON_IP);
	return ENCAP_RESULT((__u32)inner_off, pi.encap & 0xf, r);
}

/*
 * The tunnel at frame offset off inside an IP packet of protocol proto:
 * ENCAP_RESULT of its inner IP packet, 0 when it is no tunnel, or the
 * negative counter of why it cannot be taken off. Writes nothing: the
 * caller decides what the packet counts as.
 */
__noinline int tunnel_decap(struct xdp_md *ctx, __u32 off, int proto)
{
	struct packet_info pi = {};
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u64 inner_off;
	int r;

	if (off >= ENCAP_MAX_OFFSET)
		return 0;
	c.pos += off;
	r = parse_tunnel(&c, proto, &pi);
	if (r <= 0)
		return r;
	inner_off = c.pos - (void *)(long)ctx->data;
	if (inner_off >= ENCAP_MAX_OFFSET)
		return PARSE_ERR(CNT_TUNNEL_TRUNCATED);
	return ENCAP_RESULT((__u32)inner_off, pi.tunnel, r);
}

#endif /* ENCAP_BPF_H */
